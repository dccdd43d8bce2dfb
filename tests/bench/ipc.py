#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Camera -> display in one process against camera -> IPC -> display in two
(zcipcsink / zcipcsrc), measured in the same VM run, alternating.

  ipc.py BUILD_DIR OUT.json    inside the test VM (tests/bench/ipc-run)

For each run: the CPU time (user + system, from wait4) of every process of
the pipeline per frame the display showed, and zc-run's capture-to-display
latency of the frames shown (acquire fence signal to the page flip that
showed the frame; docs/performance.md). 640x480 BGRx, 30 fps camera,
zcamsrc fence-mode=late (what the IPC elements are run with), sync=false
on the display so that both measure the path, not the clock. Standard
library only.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

FRAMES = 150
REPEATS = 2
CAPS = "video/x-raw(memory:DMABuf),format=BGRx,width=640,height=480,framerate=30/1"


def spawn(zc_run, args, out):
    return subprocess.Popen([zc_run] + args, stdout=out, stderr=subprocess.STDOUT)


def reap(proc):
    """(exit status, CPU seconds) of a child."""
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, ru.ru_utime + ru.ru_stime


def display_result(json_path):
    with open(json_path) as f:
        d = json.load(f)
    disp = d["stats"].get("display", {})
    return int(disp.get("shown", 0)), d.get("latency_ms")


def one_process(zc_run, tmp, i):
    j = os.path.join(tmp, "one-%d.json" % i)
    with open(os.path.join(tmp, "one-%d.log" % i), "w") as log:
        p = spawn(zc_run, ["--latency", "--json", j,
                           "zcamsrc", "fence-mode=late", "num-buffers=%d" % FRAMES, "!", CAPS, "!",
                           "zckmssink", "name=display", "sync=false"], log)
        rc, cpu = reap(p)
    if rc != 0:
        raise SystemExit("one-process pipeline failed (see %s)" % log.name)
    frames, lat = display_result(j)
    return {"cpu_s": cpu, "frames": frames, "latency_ms": lat, "processes": 1}


def two_processes(zc_run, tmp, i):
    sock = os.path.join(tmp, "cam-%d.sock" % i)
    j = os.path.join(tmp, "ipc-%d.json" % i)
    with open(os.path.join(tmp, "client-%d.log" % i), "w") as clog, \
            open(os.path.join(tmp, "server-%d.log" % i), "w") as slog:
        # The client waits for the server (its timeout property), so it can
        # start first and see the first frame.
        client = spawn(zc_run, ["--latency", "--json", j,
                                "zcipcsrc", "socket-path=" + sock, "timeout=60000000000", "!",
                                "zckmssink", "name=display", "sync=false"], clog)
        time.sleep(1)
        server = spawn(zc_run, ["zcamsrc", "fence-mode=late", "num-buffers=%d" % FRAMES, "!", CAPS,
                                "!", "zcipcsink", "socket-path=" + sock], slog)
        src, scpu = reap(server)
        crc, ccpu = reap(client)
    if src != 0 or crc != 0:
        raise SystemExit("IPC pipeline failed (see %s, %s)" % (slog.name, clog.name))
    frames, lat = display_result(j)
    return {"cpu_s": scpu + ccpu, "server_cpu_s": scpu, "client_cpu_s": ccpu,
            "frames": frames, "latency_ms": lat, "processes": 2}


def main():
    build, out = sys.argv[1], sys.argv[2]
    zc_run = os.path.join(build, "tools/zc-run")
    runs = {"one-process": [], "ipc": []}
    with tempfile.TemporaryDirectory(prefix="bench-ipc.") as tmp:
        for i in range(REPEATS):
            runs["one-process"].append(one_process(zc_run, tmp, i))
            runs["ipc"].append(two_processes(zc_run, tmp, i))
    rows = {}
    for name, rs in runs.items():
        frames = sum(r["frames"] for r in rs)
        cpu = sum(r["cpu_s"] for r in rs)
        p50 = [r["latency_ms"]["p50"] for r in rs if r["latency_ms"]]
        p90 = [r["latency_ms"]["p90"] for r in rs if r["latency_ms"]]
        rows[name] = {"frames": frames, "cpu_ms_per_frame": 1000.0 * cpu / max(frames, 1),
                      "latency_p50_ms": sorted(p50)[len(p50) // 2] if p50 else None,
                      "latency_p90_ms": sorted(p90)[len(p90) // 2] if p90 else None,
                      "runs": rs}
    one, ipc = rows["one-process"], rows["ipc"]
    rows["ratio_cpu"] = ipc["cpu_ms_per_frame"] / one["cpu_ms_per_frame"]
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
    def fmt(v):
        return "%.1f" % v if v is not None else "-"
    lines = ["| pipeline | frames shown | CPU per frame (ms) | latency p50 (ms) | latency p90 (ms) |",
             "|---|---|---|---|---|"]
    for name in ("one-process", "ipc"):
        r = rows[name]
        lines.append("| %s | %d | %.2f | %s | %s |" % (name, r["frames"], r["cpu_ms_per_frame"],
                                                     fmt(r["latency_p50_ms"]), fmt(r["latency_p90_ms"])))
    lines.append("")
    lines.append("CPU ratio ipc / one-process: %.2f" % rows["ratio_cpu"])
    text = "\n".join(lines) + "\n"
    with open(os.path.splitext(out)[0] + ".md", "w") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
