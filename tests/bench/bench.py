#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Benchmarks of the zero-copy path against copying baselines.

  bench.py measure OUTDIR [--quick]   inside the test VM: runs every case
                                      through zcbench, writes OUTDIR/results.json
  bench.py report RESULTS.json        prints the tables, writes cpu.png beside it
  bench.py check RESULTS.json         counters of a --quick run: no copies and no
                                      per-frame buffer objects on the zero-copy path

Standard library only. tests/bench/run drives both; see docs/performance.md.
"""
import json
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

SIZES = [(640, 480), (1920, 1080), (3840, 2160)]
FORMATS = ["BGRx", "NV12"]
# (warm-up frames, measured frames) per size: the encoder runs in software
# under TCG (about 1 s per 4K frame), so big frames get short windows.
WINDOW = {(640, 480): (8, 60), (1920, 1080): (4, 20), (3840, 2160): (3, 10)}
# long enough that the frames in flight at the edges (queues, the encoder)
# do not swing the per-frame ioctl counts the check compares
QUICK_WINDOW = {(640, 480): (8, 24)}
TAIL = 30         # zcbench stops at the window's end; the source never gets there
ZCAM_FPS = 30     # capture rate for the CPU runs
ZCAM_MAX_FPS = 240
FULL_MAX_FPS = 60
# vivid's webcam input: the highest rate it offers per size (fps)
VIVID_MAX_FPS = {(640, 480): 25, (1920, 1080): 5, (3840, 2160): 2}
PATHS = ["zero-copy", "sysmem-copy", "vivid-default"]
REPEATS = 2
# Pipelines without the software encoder, each beside its copying baselines
# (BGRx only: vkms in 6.1 has no YUV planes, and the point is the display).
ENCFREE = {
    "fence": ("camera -> [zcfence] -> fakesink", ["zero-copy", "sysmem-copy"]),
    "display": ("camera -> display", PATHS),
    "tee": ("camera -> tee -> [zcfence] fakesink + display", PATHS),
}
# [zcfence]: on the zero-copy path only; a user without this project has none
QUICK_ENCFREE = ["display"]
# no encoder: longer windows, so per-thread CPU ticks (10 ms) mean something
ENCFREE_WINDOW = {(640, 480): (10, 60), (1920, 1080): (10, 30), (3840, 2160): (10, 20)}
# warm-up: every buffer of the source's pool imported by the sink before the window
QUICK_ENCFREE_WINDOW = {(640, 480): (10, 20)}
QUEUE = "queue max-size-buffers=2 max-size-bytes=0 max-size-time=0"


def frame_bytes(fmt, w, h):
    return w * h * 4 if fmt == "BGRx" else w * h * 3 // 2


def v4l2dev(name):
    r = subprocess.run([os.path.join(TOP, "tests/common/v4l2dev"), name],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def have_element(name):
    return subprocess.run(["gst-inspect-1.0", name], capture_output=True).returncode == 0


class Bench:
    def __init__(self, outdir, quick):
        self.outdir = outdir
        self.quick = quick
        self.zcbench = os.path.join(TOP, "build/bench/zcbench")
        self.enc = v4l2dev("stateful-encoder")
        self.vivid = v4l2dev("vivid-000-vid-cap")
        self.zcfence = have_element("zcfence")
        self.log = open(os.path.join(outdir, "bench.log"), "w")
        self.t_start = time.monotonic()

    def say(self, *a):
        print("[%4.0f s]" % (time.monotonic() - self.t_start), *a, file=sys.stderr, flush=True)

    def zcbench_run(self, launch, warm, frames, extra=(), timeout=600, wrap=()):
        cmd = list(wrap) + [self.zcbench, "--warm", str(warm), "--frames", str(frames),
                            "--timeout", str(timeout)] + list(extra) + [launch]
        self.log.write("$ " + " ".join(repr(c) if " " in c else c for c in cmd) + "\n")
        t0 = time.monotonic()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
            out, err, rc = r.stdout, r.stderr, r.returncode
        except subprocess.TimeoutExpired as e:
            out, err, rc = "", str(e), -1
        self.log.write(err[-4000:] + "\n" + out + "\n")
        self.log.flush()
        res = None
        for line in reversed(out.splitlines()):
            if line.startswith("{"):
                try:
                    res = json.loads(line)
                except ValueError:
                    pass
                break
        if res is None:
            res = {"ok": False, "error": "zcbench exit %d: %s" % (rc, err.strip()[-500:])}
        res["launch"] = launch
        res["run_s"] = round(time.monotonic() - t0, 2)
        return res

    # -- pipelines ------------------------------------------------------
    def caps(self, fmt, w, h, fps):
        return "video/x-raw,format=%s,width=%d,height=%d,framerate=%d/1" % (fmt, w, h, fps)

    def zc_source(self, fmt, w, h, n, fps, mode=None):
        # V4L2 cannot wait on fences: late mode, unless zcfence does the waiting.
        mode = mode or ("early" if self.zcfence else "late")
        return "zcamsrc name=src fence-mode=%s num-buffers=%d ! %s" % (
            mode, n, self.caps(fmt, w, h, fps))

    def display(self, fmt):
        # vkms in 6.1 has no YUV planes: NV12 frames go to the encoder only.
        return fmt == "BGRx"

    def pipeline(self, path, fmt, w, h, n, fps=ZCAM_FPS, sink_defaults=False):
        if path == "zero-copy":
            src = self.zc_source(fmt, w, h, n, fps)
            fence = "zcfence name=fence mode=wait ! " if self.zcfence else ""
            enc = fence + "v4l2fwhtenc name=enc output-io-mode=dmabuf-import"
            disp = "zckmssink name=kms" + ("" if sink_defaults else " sync=false")
        elif path == "sysmem-copy":
            src = self.zc_source(fmt, w, h, n, fps, mode="late")
            enc = "v4l2fwhtenc name=enc"
            disp = "kmssink name=kms driver-name=vkms sync=false"
        else:
            rate = min(fps, VIVID_MAX_FPS.get((w, h), 25))
            src = "v4l2src name=src device=%s num-buffers=%d ! %s" % (
                self.vivid, n, self.caps(fmt, w, h, rate))
            enc = "v4l2fwhtenc name=enc"
            disp = "kmssink name=kms driver-name=vkms sync=false"
        if self.display(fmt):
            # Short queues: a backlog filling or draining inside the window
            # would skew per-frame numbers (frames counted at the encoder's end).
            # Named queues name their streaming threads ("qe:src", "qk:src").
            return "%s ! tee name=t t. ! %s name=qe ! %s ! fakesink name=out sync=false " \
                   "t. ! %s name=qk ! %s" % (src, QUEUE, enc, QUEUE, disp)
        return "%s ! %s ! fakesink name=out sync=false" % (src, enc)

    def encfree_pipeline(self, path, kind, fmt, w, h, n, fps=ZCAM_FPS, sink_defaults=False):
        """Camera -> zcfence -> fakesink, camera -> display, and the tee of
        both, without the encoder. Returns (launch line, counting element)."""
        if path == "zero-copy":
            src = self.zc_source(fmt, w, h, n, fps)
            fence = "zcfence name=fence mode=wait ! " if self.zcfence else ""
            disp = "zckmssink name=kms" + ("" if sink_defaults else " sync=false")
        elif path == "sysmem-copy":
            # what a user gets without this project: no zcfence, plain sinks
            src = self.zc_source(fmt, w, h, n, fps, mode="late")
            fence = ""
            disp = "kmssink name=kms driver-name=vkms sync=false"
        else:
            rate = min(fps, VIVID_MAX_FPS.get((w, h), 25))
            src = "v4l2src name=src device=%s num-buffers=%d ! %s" % (
                self.vivid, n, self.caps(fmt, w, h, rate))
            fence = ""
            disp = "kmssink name=kms driver-name=vkms sync=false"
        if kind == "fence":
            return "%s ! %sfakesink name=out sync=false" % (src, fence), "out"
        if kind == "display":
            return "%s ! %s" % (src, disp), "kms"
        return "%s ! tee name=t t. ! %s name=qf ! %sfakesink name=out sync=false " \
               "t. ! %s name=qk ! %s" % (src, QUEUE, fence, QUEUE, disp), "out"

    def extra(self, path, fmt, latency=False):
        e = ["--src", "src", "--inspect", "enc,kms", "--encoder-dev", self.enc,
             "--threads"]
        if self.display(fmt):
            e += ["--kms", "kms"]
        if path == "sysmem-copy":
            e += ["--copy-after", "src"]
        if latency:
            e += ["--latency"]
        return e

    # -- measurements ---------------------------------------------------
    def copies(self, r, path, fmt, w, h):
        """Bytes the CPU copied per frame, by stage, from the counters: per
        frame that left the source in the window (the encoder's end of the
        pipeline, where the window is counted, lags by the frames in flight)."""
        n = r.get("src_frames") or r.get("window_frames") or 1
        fb = frame_bytes(fmt, w, h)
        out = {"copy_stage": r.get("copy_stage_bytes", 0) / n}
        q = r.get("encoder_output_qbuf", {})
        # The encoder's OUTPUT queue in MMAP mode gets frames that are not its
        # own memory: GStreamer copies each into the V4L2 buffer.
        out["encoder"] = q.get("mmap", 0) * fb / n
        ins = r.get("inspect", {}).get("kms")
        sink = r.get("sink_stats", {})
        if "copies" in sink:
            out["display"] = sink["copies"] * fb / max(1, r.get("frames_seen", 1))
        elif ins is not None and not ins.get("dmabuf"):
            out["display"] = fb    # kmssink copies what it cannot import
        else:
            out["display"] = 0
        out["total"] = sum(out.values())
        return out

    def cpu_case(self, path, fmt, w, h, kind="full", attribute=False):
        if kind == "full":
            warm, frames = (QUICK_WINDOW if self.quick else WINDOW)[(w, h)]
        else:
            warm, frames = (QUICK_ENCFREE_WINDOW if self.quick else ENCFREE_WINDOW)[(w, h)]
        if path == "vivid-default" and not self.vivid:
            return {"path": path, "format": fmt, "width": w, "height": h, "kind": kind,
                    "ok": False, "error": "no vivid capture device"}
        if kind == "full":
            launch = self.pipeline(path, fmt, w, h, warm + frames + TAIL)
            extra = self.extra(path, fmt)
        else:
            launch, count = self.encfree_pipeline(path, kind, fmt, w, h, warm + frames + TAIL)
            extra = ["--src", "src", "--threads", "--count", count]
            if kind != "fence":
                extra += ["--kms", "kms", "--inspect", "kms"]
            if path == "sysmem-copy":
                extra += ["--copy-after", "src"]
        if attribute:
            # tracer hooks cost CPU: these runs count, they do not time
            extra = [("--attribute" if e == "--threads" else e) for e in extra]
        r = self.zcbench_run(launch, warm, frames, extra)
        rec = {"path": path, "format": fmt, "width": w, "height": h, "raw": r, "kind": kind,
               "ok": bool(r.get("ok")), "error": r.get("error"),
               "display": self.display(fmt) and kind != "fence"}
        if r.get("window_frames"):
            n = r["window_frames"]
            user, sys_, enc = r["user_s"], r["sys_s"], r["encoder_ioctl_s"]
            rec.update({
                "frames": n,
                "user_ms": 1e3 * user / n, "sys_ms": 1e3 * sys_ / n,
                "total_ms": 1e3 * (user + sys_) / n,
                "encoder_ms": 1e3 * enc / n,
                "pipeline_ms": 1e3 * (user + sys_ - enc) / n,
                "fps": r["fps"],
                "copies": self.copies(r, path, fmt, w, h),
                "ioctls_per_frame": {k: v / n for k, v in sorted(r["ioctls"].items())},
                "framebuffers": r.get("framebuffers"), "dmabufs": r.get("dmabufs"),
                "zcam_delta": r.get("zcam_delta"),
                "ioctls_by": r.get("ioctls_by"), "threads": r.get("threads"),
            })
        return rec

    def strace_case(self, path, fmt, w, h):
        """Syscalls per frame: strace -c -f over two runs whose windows differ
        by D frames (zcbench stops at the window's end, so start-up and
        teardown cancel out)."""
        warm, frames = 6, 4
        extra_frames = 30 if not self.quick else 10
        counts = []
        for n in (frames, frames + extra_frames):
            f = os.path.join(self.outdir, "strace-%s-%s-%dx%d-%d.txt" % (path, fmt, w, h, n))
            launch = self.pipeline(path, fmt, w, h, warm + n + TAIL)
            # no encoder timing: it would add clock_gettime calls
            e = self.extra(path, fmt)
            i = e.index("--encoder-dev")
            del e[i:i + 2]
            e.remove("--threads")
            r = self.zcbench_run(launch, warm, n, e,
                                 wrap=["strace", "-f", "-c", "-o", f])
            if not r.get("ok"):
                return {"path": path, "format": fmt, "width": w, "height": h,
                        "ok": False, "error": r.get("error")}
            counts.append(parse_strace(f))
        a, b = counts
        per = {k: (b.get(k, 0) - a.get(k, 0)) / extra_frames for k in set(a) | set(b)}
        per = {k: round(v, 2) for k, v in sorted(per.items(), key=lambda kv: -kv[1])
               if abs(v) >= 0.05}
        total = per.pop("total", None)
        return {"path": path, "format": fmt, "width": w, "height": h, "ok": True,
                "frames": extra_frames, "syscalls_per_frame": total, "by_syscall": per}

    def latency_case(self, label, launch, warm, frames, count="out"):
        r = self.zcbench_run(launch, warm, frames,
                             ["--src", "src", "--kms", "kms", "--latency", "--count", count])
        lat = r.get("latency", {})
        ns = lat.get("ns", [])
        rec = {"case": label, "ok": bool(r.get("ok")) and bool(ns), "error": r.get("error"),
               "launch": launch, "commits": len(ns),
               "pushed": lat.get("pushed"), "pushed_fence_pending": lat.get("pushed_fence_pending"),
               "commits_without_fence": lat.get("commits_without_fence"),
               "sink_stats": r.get("sink_stats"), "src_stats": r.get("src_stats"),
               "basesink_stats": r.get("basesink_stats")}
        if ns:
            ms = sorted(x / 1e6 for x in ns)
            rec.update({"p50_ms": pct(ms, 50), "p90_ms": pct(ms, 90), "p99_ms": pct(ms, 99),
                        "min_ms": ms[0], "max_ms": ms[-1]})
        return rec

    def throughput_case(self, label, launch, warm, frames, timeout=300):
        r = self.zcbench_run(launch, warm, frames, [], timeout=timeout)
        return {"case": label, "ok": bool(r.get("ok")), "error": r.get("error"),
                "launch": launch, "fps": r.get("fps"), "frames": r.get("window_frames")}

    def best_of_rounds(self, cases, label):
        """Runs each (path, kind, fmt, w, h) case REPEATS times, interleaved,
        and keeps each one's cheapest round. Other work on the host slows the
        guest's vCPUs, and a TCG guest counts that as CPU time."""
        best = {}
        for rnd in range(1 if self.quick else REPEATS):
            for c in cases:
                path, kind, fmt, w, h = c
                rec = self.cpu_case(path, fmt, w, h, kind)
                self.say("%s %-13s %s %s %dx%d round %d: %s" % (
                    label, path, kind, fmt, w, h, rnd + 1, summary(rec)))
                old = best.get(c)
                rounds = (old or {}).get("rounds_total_ms", []) + \
                    ([round(rec["total_ms"], 2)] if rec.get("frames") else [])
                if old is None or (rec.get("frames") and (
                        not old.get("frames") or rec["total_ms"] < old["total_ms"])):
                    best[c] = rec
                best[c]["rounds_total_ms"] = rounds
        return [best[c] for c in cases]

    def run(self):
        t0 = time.monotonic()
        res = {"machine": machine(), "quick": self.quick, "zcfence": self.zcfence,
               "encoder_device": self.enc, "vivid_device": self.vivid,
               "cpu": [], "syscalls": [], "latency": [], "throughput": []}
        sizes = [(640, 480)] if self.quick else SIZES
        formats = ["BGRx"] if self.quick else FORMATS
        paths = ["zero-copy", "sysmem-copy"] if self.quick else PATHS
        # Without the encoder: what the source, zcfence and the display cost
        # as the frames grow, each beside its copying baselines.
        # (--quick: only the ioctl runs below, for the check)
        res["encfree"] = []
        kinds = QUICK_ENCFREE if self.quick else list(ENCFREE)
        for (w, h) in ([] if self.quick else sizes):
            cases = [(p, k, "BGRx", w, h) for k in kinds for p in ENCFREE[k][1]
                     if p in paths and (p != "vivid-default" or self.vivid)]
            res["encfree"].extend(self.best_of_rounds(cases, "encoder-free"))
            self.save(res)
        res["encfree_ratios"] = encfree_ratios(res["encfree"])
        self.save(res)

        # ioctls by element: one run each at 640x480 with the tracer hooks on
        # (per-frame ioctls do not change with the size, see the ioctl table)
        res["attribution"] = []
        for kind in ["full"] + kinds:
            for p in (paths if kind == "full" else ENCFREE[kind][1]):
                if p not in paths or (p == "vivid-default" and not self.vivid):
                    continue
                rec = self.cpu_case(p, "BGRx", 640, 480, kind, attribute=True)
                res["attribution"].append(rec)
                self.say("ioctls by element %s %s: %s" % (p, kind, summary(rec)))
        self.save(res)

        lat_sizes = [(640, 480)] if self.quick else [(640, 480), (1920, 1080)]
        for (w, h) in lat_sizes:
            warm, frames = (20, 60) if not self.quick else (5, 15)
            n = warm + frames + TAIL
            for mode in ("early", "late"):
                # sync=false, and the sink's defaults (sync=true, QoS on)
                for sync in (" sync=false", ""):
                    launch = "%s ! zckmssink name=kms%s" % (self.zc_source(
                        "BGRx", w, h, n, ZCAM_FPS, mode), sync)
                    rec = self.latency_case("display %s %s %dx%d" % (
                        mode, "sync=false" if sync else "sink defaults", w, h),
                        launch, warm, frames, count="kms")
                    res["latency"].append(rec)
                    self.say("latency %s: %s" % (rec["case"], rec.get("p50_ms") or rec.get("error")
                                                 or rec.get("sink_stats")))
            if not self.quick:
                wf, ff = WINDOW[(w, h)]
                launch = self.pipeline("zero-copy", "BGRx", w, h, wf + ff + TAIL)
                fmode = "early+zcfence" if self.zcfence else "late"
                rec = self.latency_case("encode+display %s sync=false %dx%d" % (
                    fmode, w, h), launch, wf, ff)
                res["latency"].append(rec)
                self.say("latency %s: %s" % (rec["case"], rec.get("p50_ms") or rec.get("error")))
                # the same tee, and the one without the encoder, as a user
                # types them: the sink's default properties
                launch = self.pipeline("zero-copy", "BGRx", w, h, wf + ff + TAIL,
                                       sink_defaults=True)
                rec = self.latency_case("encode+display %s sink defaults %dx%d" % (
                    fmode, w, h), launch, wf, ff, count="kms")
                res["latency"].append(rec)
                self.say("latency %s: %s" % (rec["case"], rec.get("p50_ms") or rec.get("error")))
                launch, _ = self.encfree_pipeline("zero-copy", "tee", "BGRx", w, h, n,
                                                  sink_defaults=True)
                rec = self.latency_case("zcfence+display tee %s sink defaults %dx%d" % (
                    fmode, w, h), launch, warm, frames, count="kms")
                res["latency"].append(rec)
                self.say("latency %s: %s" % (rec["case"], rec.get("p50_ms") or rec.get("error")))

        self.save(res)

        # The full pipelines (camera -> tee -> encoder + display) after the
        # encoder-free ones: a run cut short by the guest's timeout on a busy
        # host still has the shorter tables.
        for fmt in formats:
            for (w, h) in sizes:
                res["cpu"].extend(self.best_of_rounds(
                    [(p, "full", fmt, w, h) for p in paths], "cpu"))
        res["ratios"] = ratios(res["cpu"])
        self.save(res)

        # Per-frame syscalls do not depend on the frame size (the ioctl
        # counters above show that at every size); strace slows a TCG guest
        # a lot, so it runs at 640x480 only.
        strace_sizes = [(640, 480)]
        for (w, h) in strace_sizes:
            for path in paths:
                rec = self.strace_case(path, "BGRx", w, h)
                res["syscalls"].append(rec)
                self.say("strace %-13s %dx%d: %s" % (path, w, h, rec.get("syscalls_per_frame")
                                                       or rec.get("error")))

        self.save(res)
        for fmt in formats:
            for (w, h) in sizes:
                warm, frames = (10, 120) if (w, h) == (640, 480) else (5, 40)
                if self.quick:
                    warm, frames = 4, 20
                n = warm + frames + TAIL
                # late mode: a frame counts once captured, not when queued ahead
                src = self.zc_source(fmt, w, h, n, ZCAM_MAX_FPS, "late")
                def add(rec):
                    rec.update(format=fmt, width=w, height=h)
                    res["throughput"].append(rec)
                    self.say("fps %s %s %dx%d: %s" % (rec["case"], fmt, w, h,
                                                     rec.get("fps") or rec.get("error")))
                    self.save(res)
                add(self.throughput_case(
                    "zcamsrc ! fakesink", src + " ! fakesink name=out sync=false", warm, frames))
                if self.vivid:
                    rate = VIVID_MAX_FPS[(w, h)]
                    frames_v = max(6, min(frames, rate * 8))
                    launch = "v4l2src device=%s io-mode=dmabuf num-buffers=%d ! %s ! " \
                             "fakesink name=out sync=false" % (
                                 self.vivid, warm + frames_v + TAIL, self.caps(fmt, w, h, rate))
                    add(self.throughput_case(
                        "vivid v4l2src io-mode=dmabuf ! fakesink (max %d fps)" % rate,
                        launch, warm, frames_v))
                wf, ff = (QUICK_WINDOW if self.quick else WINDOW)[(w, h)]
                # The encoder sets the pace; a 240 fps 4K camera in early mode
                # only makes zcam's pattern writer starve the guest.
                launch = self.pipeline("zero-copy", fmt, w, h, wf + ff + TAIL, FULL_MAX_FPS)
                add(self.throughput_case(
                    "zero-copy camera (%d fps) -> encode%s" % (
                        FULL_MAX_FPS, " + display" if self.display(fmt) else ""),
                    launch, wf, ff))
        res["elapsed_s"] = round(time.monotonic() - t0, 1)
        res["complete"] = True
        self.save(res)
        self.say("wrote %s (%.0f s)" % (os.path.join(self.outdir, "results.json"),
                                       res["elapsed_s"]))
        return res

    def save(self, res):
        """Results so far: a run that dies late still leaves its numbers."""
        res.setdefault("complete", False)
        tmp = os.path.join(self.outdir, "results.json.tmp")
        with open(tmp, "w") as f:
            json.dump(res, f, indent=1, sort_keys=True)
        os.replace(tmp, os.path.join(self.outdir, "results.json"))


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def parse_strace(path):
    counts = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\S+)\s*$", line)
            if m:
                counts[m.group(3)] = int(m.group(1))
    return counts


def summary(rec):
    if not rec.get("frames"):
        return "FAILED: %s" % (rec.get("error") or "?")[:200]
    return "pipeline %.1f ms/frame (user %.1f sys %.1f, encoder %.1f), copied %.0f B/frame" % (
        rec["pipeline_ms"], rec["user_ms"], rec["sys_ms"], rec["encoder_ms"],
        rec["copies"]["total"])


def ratios(cpu):
    out = {}
    for fmt in FORMATS:
        for path in PATHS:
            by = {(r["width"], r["height"]): r for r in cpu
                  if r["format"] == fmt and r["path"] == path and r.get("frames")}
            vga, uhd = by.get((640, 480)), by.get((3840, 2160))
            if vga and uhd:
                out["%s %s" % (path, fmt)] = {
                    "pipeline": uhd["pipeline_ms"] / vga["pipeline_ms"],
                    "total": uhd["total_ms"] / vga["total_ms"],
                    "pixels": 27.0}
    return out


def encfree_ratios(rows):
    """CPU(3840x2160) / CPU(640x480) of the encoder-free pipelines: user + sys,
    each part, and each thread group."""
    out = {}
    for kind in ENCFREE:
        for path in PATHS:
            by = {(r["width"], r["height"]): r for r in rows
                  if r.get("kind") == kind and r["path"] == path and r.get("frames")}
            vga, uhd = by.get((640, 480)), by.get((3840, 2160))
            if not (vga and uhd):
                continue
            ga, gb = thread_groups(vga), thread_groups(uhd)
            out["%s %s" % (path, kind)] = {
                "kind": kind, "path": path, "pixels": 27.0,
                "total": uhd["total_ms"] / vga["total_ms"],
                "user": uhd["user_ms"] / vga["user_ms"] if vga["user_ms"] else None,
                "sys": uhd["sys_ms"] / vga["sys_ms"] if vga["sys_ms"] else None,
                "threads": {k: [ga[k]["cpu"], gb[k]["cpu"]] for k in gb if k in ga},
            }
    return out


# ioctls by element: the element whose code made the call (zcbench
# --attribute), except that a call on a device node belongs to the element
# that owns the node, whichever thread made it (a zcam buffer returned to its
# pool from the sink's thread is still the source's ZCAM_IOC_QBUF).
ROLE_OF_ELEMENT = {"src": "source", "copy": "source", "fence": "zcfence", "enc": "encoder",
                   "kms": "sink"}
ROLE_OF_FD = {"zcam": "source", "v4l2": "source", "drm": "sink", "encoder": "encoder"}
ROLES = ["source", "zcfence", "encoder", "sink", "other"]


def ioctl_roles(rec, by_caller=False):
    """Per-frame ioctls by role, and by role and request."""
    n = rec.get("frames") or 1
    tot = {r: 0.0 for r in ROLES}
    detail = {r: {} for r in ROLES}
    for el, kind, req, cnt in rec.get("ioctls_by") or []:
        role = ROLE_OF_ELEMENT.get(el, "other")
        if not by_caller:
            role = ROLE_OF_FD.get(kind, role)
        tot[role] += cnt / n
        name = req.replace("DRM_IOCTL_", "").replace("VIDIOC_", "V:")
        detail[role][name] = detail[role].get(name, 0) + cnt / n
    return tot, detail


def thread_groups(rec):
    """CPU ms per frame by thread: streaming threads by name ("src:src",
    "qk:src"), the main thread, threads started by a library other than
    GStreamer's core by that library ("libgstzerocopy.so thread": zckmssink's
    display thread), GStreamer's other threads by the element they were
    created for ("ELEMENT+"), the rest "other"."""
    n = rec.get("frames") or 1
    out = {}
    for t in rec.get("threads") or []:
        name, el, creator = t["name"], t["element"], t.get("creator") or ""
        if ":" in name and name.split(":")[0] == el:
            label = name
        elif t.get("main"):
            label = "main"
        elif creator and not creator.startswith("libgstreamer-"):
            label = creator.split(".so")[0] + ".so thread"
        elif el:
            label = el + "+"
        else:
            label = "other"
        g = out.setdefault(label, {"cpu": 0.0, "user": 0.0, "sys": 0.0})
        g["cpu"] += 1e3 * t["cpu_s"] / n
        g["user"] += 1e3 * t["user_s"] / n
        g["sys"] += 1e3 * t["sys_s"] / n
    return out


def machine():
    m = {"kernel": platform.release(), "arch": platform.machine()}
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        mm = re.search(r"model name\s*:\s*(.*)", info)
        m["cpu"] = mm.group(1) if mm else "?"
        m["cpus"] = info.count("processor\t:")
        m["hypervisor"] = " hypervisor" in info
    except OSError:
        pass
    try:
        m["gstreamer"] = subprocess.run(["gst-launch-1.0", "--version"], capture_output=True,
                                        text=True).stdout.splitlines()[1]
    except (OSError, IndexError):
        pass
    m["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return m


# ---------------------------------------------------------------------------
# report: tables and a PNG written with zlib

def encfree_report(res):
    out = []
    rows = res.get("encfree") or []
    if rows:
        out.append("Without the encoder: CPU per frame (ms, user + sys of the process) "
                   "and by thread")
        trows = []
        for r in rows:
            size = "%dx%d" % (r["width"], r["height"])
            label = ENCFREE[r["kind"]][0]
            if not r.get("frames"):
                trows.append([r["path"], label, size] + ["-"] * 5 +
                             ["FAILED: " + short_error(r.get("error"))])
                continue
            g = thread_groups(r)
            top = ", ".join("%s %s" % (k, fmt_ms(v["cpu"])) for k, v in
                            sorted(g.items(), key=lambda kv: -kv[1]["cpu"])[:4])
            trows.append([r["path"], label, size, fmt_ms(r["total_ms"]), fmt_ms(r["user_ms"]),
                          fmt_ms(r["sys_ms"]), "%.0f" % r["copies"]["total"],
                          "%.1f" % r["fps"], top])
        out.append(table(trows, ["path", "pipeline", "size", "CPU", "user", "sys",
                                 "copied B/frame", "fps", "threads (CPU ms/frame)"]))
        out.append("")
    rat = res.get("encfree_ratios") or {}
    if rat:
        out.append("Without the encoder: CPU(3840x2160) / CPU(640x480), 27x the pixels")
        trows = []
        for k, v in sorted(rat.items(), key=lambda kv: (list(ENCFREE).index(kv[1]["kind"]),
                                                        PATHS.index(kv[1]["path"]))):
            th = ", ".join("%s %.1f" % (t, b / a) for t, (a, b) in
                           sorted(v["threads"].items(), key=lambda kv: -kv[1][1])[:4] if a > 0)
            trows.append([v["path"], ENCFREE[v["kind"]][0], "%.2f" % v["total"],
                          "-" if v["user"] is None else "%.2f" % v["user"],
                          "-" if v["sys"] is None else "%.2f" % v["sys"], th])
        out.append(table(trows, ["path", "pipeline", "CPU", "user", "sys",
                                 "by thread (largest at 3840x2160 first)"]))
        out.append("")
    attributed = [r for r in res.get("attribution") or [] if r.get("frames")]
    if attributed:
        out.append("ioctls per frame by element (a device node's ioctls belong to its element; "
                   "sync_file and dma-buf ioctls to the caller)")
        trows = []
        for r in attributed:
            tot, _ = ioctl_roles(r)
            caller, _ = ioctl_roles(r, by_caller=True)
            label = ENCFREE[r["kind"]][0] if r.get("kind", "full") != "full" else \
                "camera -> tee -> encode + display"
            trows.append([r["path"], label, "%dx%d" % (r["width"], r["height"])] +
                         ["%.1f" % tot[k] for k in ROLES] +
                         ["%.1f" % sum(tot.values()), "%.1f" % (tot["source"] + tot["sink"]),
                          "%.1f" % (caller["source"] + caller["sink"])])
        out.append(table(trows, ["path", "pipeline", "size"] + ROLES +
                         ["total", "source+sink", "(by caller)"]))
        out.append("")
        out.append("ioctls per frame by element and request, 640x480 BGRx")
        trows = []
        for r in attributed:
            if (r["width"], r["height"]) != (640, 480) or r["path"] == "vivid-default":
                continue
            _, det = ioctl_roles(r)
            label = r.get("kind", "full")
            for role in ROLES:
                if det[role]:
                    trows.append([r["path"], label, role, ", ".join(
                        "%s %.1f" % kv for kv in sorted(det[role].items(),
                                                         key=lambda kv: -kv[1]) if kv[1] >= 0.05)])
        out.append(table(trows, ["path", "pipeline", "element", "requests"]))
        out.append("")
    return out


def short_error(e):
    """The first sentence of a GStreamer error, without its debug details."""
    return (e or "?").split(" (")[0][:50]


def sink_counts(r):
    """zckmssink's frames shown / replaced / lost to a failed fence, and the
    late frames GstBaseSink dropped before they reached it (QoS)."""
    st = r.get("sink_stats") or {}
    qos = (r.get("basesink_stats") or {}).get("dropped")
    s = "shown %s, replaced %s, QoS-dropped %s" % (
        fmt_n(st.get("shown")), fmt_n(st.get("replaced")), fmt_n(qos))
    if st.get("dropped"):
        s += ", fence-dropped %s" % fmt_n(st.get("dropped"))
    return s


def fmt_n(v):
    return "?" if v is None else "%d" % v


def fmt_ms(v):
    return "-" if v is None else ("%.1f" % v if v < 100 else "%.0f" % v)


def table(rows, headers):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = ["  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                       for i, (c, w) in enumerate(zip(r, widths))) for r in [headers] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report_text(res):
    out = []
    m = res.get("machine", {})
    out.append("Machine: %s, %s CPUs, kernel %s, %s%s" % (
        m.get("cpu"), m.get("cpus"), m.get("kernel"), m.get("gstreamer"),
        " (virtual machine)" if m.get("hypervisor") else ""))
    out.append("")
    out.append("CPU per frame (ms; pipeline = user + sys - encoder's own ioctl time)")
    rows = []
    for r in res["cpu"]:
        size = "%dx%d" % (r["width"], r["height"])
        if not r.get("frames"):
            rows.append([r["path"], r["format"], size] + ["-"] * 6 +
                        ["FAILED: " + short_error(r.get("error"))])
            continue
        rows.append([r["path"], r["format"], size, fmt_ms(r["pipeline_ms"]), fmt_ms(r["user_ms"]),
                     fmt_ms(r["sys_ms"]), fmt_ms(r["encoder_ms"]),
                     "%.0f" % r["copies"]["total"], "%.1f" % r["fps"],
                     "" if r.get("display") else "no display (vkms: no NV12)"])
    out.append(table(rows, ["path", "fmt", "size", "pipeline", "user", "sys", "encoder",
                            "copied B/frame", "fps", "note"]))
    out.append("")
    out.append("CPU(3840x2160) / CPU(640x480), 27x the pixels")
    rows = [[k, "%.2f" % v["pipeline"], "%.2f" % v["total"]]
            for k, v in sorted(res.get("ratios", {}).items())]
    out.append(table(rows, ["path", "pipeline", "with encoder"]))
    out.append("")
    out.append("Steady-state ioctls per frame (zcbench counters) and per-frame object creations")
    rows = []
    for r in res["cpu"]:
        if not r.get("frames"):
            continue
        io = r["ioctls_per_frame"]
        creations = sum(io.get(k, 0) for k in CREATIONS)
        fbs, dbs = r.get("framebuffers") or [0, 0], r.get("dmabufs") or [0, 0]
        top = ", ".join("%s %.1f" % (k.replace("DRM_IOCTL_", "").replace("VIDIOC_", "V:"), v)
                        for k, v in sorted(io.items(), key=lambda kv: -kv[1])[:5])
        rows.append([r["path"], r["format"], "%dx%d" % (r["width"], r["height"]),
                     "%.1f" % sum(io.values()), "%.2f" % creations,
                     "%+d" % (fbs[1] - fbs[0]), "%+d" % (dbs[1] - dbs[0]), top])
    out.append(table(rows, ["path", "fmt", "size", "ioctls", "imports+creations",
                            "FBs", "dma-bufs", "top ioctls"]))
    out.append("")
    out.extend(encfree_report(res))
    out.append("Syscalls per frame (strace -c -f, difference of two runs), BGRx")
    rows = []
    for r in res["syscalls"]:
        if not r.get("ok"):
            rows.append([r["path"], "%dx%d" % (r["width"], r["height"]), "-",
                         "FAILED: " + (r.get("error") or "?")[:60]])
            continue
        top = ", ".join("%s %.1f" % kv for kv in sorted(r["by_syscall"].items(),
                                                        key=lambda kv: -kv[1])[:7])
        rows.append([r["path"], "%dx%d" % (r["width"], r["height"]),
                     "%.1f" % (r["syscalls_per_frame"] or 0), top])
    out.append(table(rows, ["path", "size", "syscalls", "breakdown"]))
    out.append("")
    out.append("Capture-to-commit latency (kernel capture timestamp -> atomic commit), ms")
    rows = []
    for r in res["latency"]:
        if not r.get("ok"):
            st = r.get("sink_stats") or {}
            why = r.get("error") or "no commit in the window: " + sink_counts(r)
            rows.append([r["case"]] + ["-"] * 3 + [str(r.get("commits", 0)), "%s/%s" % (
                r.get("pushed_fence_pending"), r.get("pushed")), why[:70]])
            continue
        rows.append([r["case"], fmt_ms(r["p50_ms"]), fmt_ms(r["p90_ms"]), fmt_ms(r["p99_ms"]),
                     str(r["commits"]), "%s/%s" % (r["pushed_fence_pending"], r["pushed"]),
                     sink_counts(r)])
    out.append(table(rows, ["case", "p50", "p90", "p99", "commits",
                            "pushed before fence", "zckmssink since start"]))
    out.append("")
    out.append("Throughput (frames/s, wall clock in the guest)")
    rows = []
    for r in res["throughput"]:
        rows.append([r["case"], r["format"], "%dx%d" % (r["width"], r["height"]),
                     "%.1f" % r["fps"] if r.get("ok") and r.get("fps") else
                     "FAILED: " + short_error(r.get("error"))])
    out.append(table(rows, ["pipeline", "fmt", "size", "fps"]))
    return "\n".join(out)


FONT = {  # 5x7 glyphs, rows top to bottom, '#' set
    "0": "01110 10001 10011 10101 11001 10001 01110", "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111", "3": "11110 00001 00001 01110 00001 00001 11110",
    "4": "00010 00110 01010 10010 11111 00010 00010", "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110", "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110", "9": "01110 10001 10001 01111 00001 00010 01100",
    ".": "00000 00000 00000 00000 00000 01100 01100", "-": "00000 00000 00000 11111 00000 00000 00000",
    "/": "00001 00010 00010 00100 01000 01000 10000", "(": "00010 00100 01000 01000 01000 00100 00010",
    ")": "01000 00100 00010 00010 00010 00100 01000", " ": "00000 00000 00000 00000 00000 00000 00000",
    ",": "00000 00000 00000 00000 01100 00100 01000", "+": "00000 00100 00100 11111 00100 00100 00000",
    "=": "00000 00000 11111 00000 11111 00000 00000", ":": "00000 01100 01100 00000 01100 01100 00000",
    "A": "01110 10001 10001 11111 10001 10001 10001", "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110", "D": "11100 10010 10001 10001 10001 10010 11100",
    "E": "11111 10000 10000 11110 10000 10000 11111", "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111", "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110", "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001", "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001", "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110", "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101", "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110", "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110", "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010", "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 01010 00100 00100 00100 00100", "Z": "11111 00001 00010 00100 01000 10000 11111",
}


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def set(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(c)

    def rect(self, x0, y0, x1, y1, c):
        for y in range(min(y0, y1), max(y0, y1) + 1):
            for x in range(min(x0, x1), max(x0, x1) + 1):
                self.set(x, y, c)

    def line(self, x0, y0, x1, y1, c, width=2):
        n = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(n + 1):
            x = round(x0 + (x1 - x0) * i / n)
            y = round(y0 + (y1 - y0) * i / n)
            self.rect(x - width // 2, y - width // 2, x + width // 2, y + width // 2, c)

    def text(self, x, y, s, c=(0, 0, 0), scale=2):
        for ch in s.upper():
            g = FONT.get(ch, FONT[" "]).split()
            for ry, row in enumerate(g):
                for rx, bit in enumerate(row):
                    if bit == "1":
                        self.rect(x + rx * scale, y + ry * scale,
                                  x + rx * scale + scale - 1, y + ry * scale + scale - 1, c)
            x += 6 * scale

    def png(self, path):
        import struct
        import zlib
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3])
                       for y in range(self.h))

        def chunk(t, d):
            return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)))
            f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
            f.write(chunk(b"IEND", b""))


def plot(res, path):
    """CPU per frame (pipeline, without the encoder) against megapixels."""
    series = []
    colours = {"zero-copy": (0, 110, 200), "sysmem-copy": (210, 60, 40),
               "vivid-default": (60, 160, 60)}
    for r_fmt, dash in (("BGRx", False), ("NV12", True)):
        for p in PATHS:
            pts = sorted((r["width"] * r["height"] / 1e6, r["pipeline_ms"]) for r in res["cpu"]
                         if r["path"] == p and r["format"] == r_fmt and r.get("frames"))
            if pts:
                series.append(("%s %s" % (p, r_fmt), colours[p], dash, pts))
    W, H = 900, 560
    c = Canvas(W, H)
    x0, y0, x1, y1 = 90, 480, 860, 60
    ymax = max([y for s in series for _, y in s[3]] + [1]) * 1.1
    xmax = 9.0
    c.text(90, 16, "CPU PER FRAME (MS, WITHOUT ENCODER) VS MEGAPIXELS")
    c.line(x0, y0, x1, y0, (0, 0, 0), 1)
    c.line(x0, y0, x0, y1, (0, 0, 0), 1)
    for i in range(6):
        v = ymax * i / 5
        y = round(y0 + (y1 - y0) * i / 5)
        c.line(x0 - 4, y, x0, y, (0, 0, 0), 1)
        c.text(8, y - 7, ("%.1f" % v).rjust(6))
    for mp in (0.3, 2.1, 8.3):
        x = round(x0 + (x1 - x0) * mp / xmax)
        c.line(x, y0, x, y0 + 4, (0, 0, 0), 1)
        c.text(x - 18, y0 + 10, "%.1f" % mp)
    c.text(W // 2 - 60, y0 + 34, "MEGAPIXELS")
    for k, (name, col, dash, pts) in enumerate(series):
        xy = [(round(x0 + (x1 - x0) * x / xmax), round(y0 + (y1 - y0) * y / ymax)) for x, y in pts]
        for (ax, ay), (bx, by) in zip(xy, xy[1:]):
            if dash:
                n = max(abs(bx - ax), abs(by - ay)) // 12 + 1
                for i in range(n):
                    if i % 2 == 0:
                        c.line(ax + (bx - ax) * i // n, ay + (by - ay) * i // n,
                               ax + (bx - ax) * (i + 1) // n, ay + (by - ay) * (i + 1) // n, col)
            else:
                c.line(ax, ay, bx, by, col)
        for x, y in xy:
            c.rect(x - 4, y - 4, x + 4, y + 4, col)
        ly = 300 + k * 22
        c.line(x0 + 390, ly + 7, x0 + 430, ly + 7, col)
        c.text(x0 + 440, ly, name + (" (DASHED)" if dash else ""), col)
    c.png(path)


CREATIONS = ("DRM_IOCTL_PRIME_FD_TO_HANDLE", "DRM_IOCTL_MODE_ADDFB2", "DRM_IOCTL_MODE_ADDFB",
             "DRM_IOCTL_MODE_CREATE_DUMB", "ZCAM_IOC_CREATE_BUF", "VIDIOC_EXPBUF",
             "VIDIOC_CREATE_BUFS", "VIDIOC_REQBUFS")


def check(res):
    """Smoke checks for --quick: what the counters must show, not timings."""
    problems = []
    zc = [r for r in res["cpu"] + (res.get("encfree") or []) if r["path"] == "zero-copy"]
    cp = [r for r in res["cpu"] + (res.get("encfree") or []) if r["path"] == "sysmem-copy"]
    if not zc or not cp:
        problems.append("missing zero-copy or sysmem-copy results")
    for r in zc + cp:
        if not r.get("frames"):
            problems.append("%s %s %s %dx%d failed: %s" % (
                r["path"], r.get("kind", "full"), r["format"], r["width"], r["height"],
                r.get("error")))
    for r in zc:
        if not r.get("frames"):
            continue
        if r["copies"]["total"] != 0:
            problems.append("zero-copy path copied %s bytes/frame" % r["copies"])
        made = {k: v for k, v in r["ioctls_per_frame"].items() if k in CREATIONS and v}
        if made:
            problems.append("zero-copy path creates objects per frame: %s" % made)
        fbs = r.get("framebuffers") or [0, 0]
        if fbs[1] != fbs[0]:
            problems.append("framebuffer count changed in steady state: %s" % fbs)
    for r in cp:
        if r.get("frames") and r["copies"]["total"] <= 0:
            problems.append("the copying baseline copied nothing: the counters are blind")
    # ioctls per frame: the zero-copy path makes no more than the copying
    # path with the same elements around it (same pipeline shape and size),
    # each pair from the same kind of run (timed runs; tracer-hooked runs)
    for r in res.get("attribution") or []:
        if not r.get("frames"):
            problems.append("ioctls by element, %s %s failed: %s" % (
                r["path"], r.get("kind", "full"), r.get("error")))
    for rows in (res["cpu"] + (res.get("encfree") or []), res.get("attribution") or []):
        check_ioctls(rows, problems)
    for p in problems:
        print("bench check: " + p, file=sys.stderr)
    print("bench check: %s" % ("FAILED" if problems else "ok"))
    return 1 if problems else 0


def check_ioctls(rows, problems):
    for r in rows:
        if r["path"] != "zero-copy" or not r.get("frames"):
            continue
        kind = r.get("kind", "full")
        base = [c for c in rows if c["path"] == "sysmem-copy" and c.get("kind", "full") == kind
                and c["format"] == r["format"] and (c["width"], c["height"]) ==
                (r["width"], r["height"]) and c.get("frames")]
        if not base:
            problems.append("no sysmem-copy run to compare the %s ioctls with" % kind)
            continue
        zc_n = sum(r["ioctls_per_frame"].values())
        cp_n = sum(base[0]["ioctls_per_frame"].values())
        label = "camera -> tee -> encode + display" if kind == "full" else ENCFREE[kind][0]
        how = "by element" if r.get("ioctls_by") else "timed"
        print("bench check: ioctls per frame (%s run), %s %s %dx%d: zero-copy %.2f, "
              "sysmem-copy %.2f" % (how, label, r["format"], r["width"], r["height"], zc_n, cp_n))
        if zc_n > cp_n:
            problems.append("zero-copy path makes more ioctls per frame than sysmem-copy (%s, "
                            "%s run): %.2f > %.2f" % (label, how, zc_n, cp_n))


def main(argv):
    if len(argv) >= 3 and argv[1] == "measure":
        os.makedirs(argv[2], exist_ok=True)
        Bench(argv[2], "--quick" in argv).run()
        return 0
    if len(argv) == 3 and argv[1] == "report":
        with open(argv[2]) as f:
            res = json.load(f)
        print(report_text(res))
        png = os.path.join(os.path.dirname(argv[2]), "cpu.png")
        plot(res, png)
        print("\nplot: %s" % png)
        return 0
    if len(argv) == 3 and argv[1] == "check":
        with open(argv[2]) as f:
            return check(json.load(f))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
