#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes report.txt and report.json for pipelines/demo from what the run
left in the demo directory: stats.json (zc-run: element stats, latency),
camera.fwht (checked frame by frame with tests/common/fwhtinfo.py),
gst-performance.log (GST_DEBUG=GST_PERFORMANCE:6), display.png (writeback
read-back: which frame the display showed, torn or not, pixels against
zcam's pattern) and zcam's debugfs stats before and after.
Exit status 1 when the run failed or a check did not hold."""
import argparse
import importlib.util
import json
import os
import struct
import sys
import zlib

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_common(name):
    path = os.path.join(TOP, "tests", "common", name + ".py")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def read_png(path):
    """Returns (width, height, rows of (r, g, b) bytes) of an 8-bit RGB PNG
    (what zc-run writes: filter type 0 on every row)."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    off, idat, w = 8, b"", None
    while off < len(data):
        n, kind = struct.unpack_from(">I4s", data, off)
        body = data[off + 8:off + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack_from(">IIBB", body)
            if (depth, ctype) != (8, 2):
                raise ValueError("not 8-bit RGB")
        elif kind == b"IDAT":
            idat += body
        off += 12 + n
    raw = zlib.decompress(idat)
    stride = 1 + 3 * w
    rows = []
    for y in range(h):
        line = raw[y * stride:(y + 1) * stride]
        if line[0] != 0:
            raise ValueError("unsupported PNG filter")
        rows.append(line[1:])
    return w, h, rows


def check_display(path, fw, fh):
    """Finds the camera frame (centred on the screen), reads its sequence
    code (docs/zcam-uapi.md "Frame pattern") from the top and bottom bands
    and compares sampled pixels with the XRGB8888 pattern."""
    sw, sh, rows = read_png(path)
    x0, y0 = (sw - fw) // 2, (sh - fh) // 2

    def px(x, y):
        r = rows[y0 + y]
        return r[3 * (x0 + x)], r[3 * (x0 + x) + 1], r[3 * (x0 + x) + 2]

    cells = min(32, fw // 8)

    def code(y):
        bits = 0
        for i in range(cells):
            if px(8 * i + 4, y) == (255, 255, 255):
                bits |= 1 << i
        return bits

    top, bottom = code(4), code(fh - 4)
    s = top
    match = total = 0
    for y in range(12, fh - 12, max(1, (fh - 24) // 20)):
        for x in range(0, fw, max(1, fw // 20)):
            total += 1
            if px(x, y) == ((x + 4 * s) & 255, (y + 2 * s) & 255, s & 255):
                match += 1
    return {"screen": f"{sw}x{sh}", "frame_at": [x0, y0], "sequence_top": top,
            "sequence_bottom": bottom, "torn": top != bottom,
            "pixels_checked": total, "pixels_matching": match}


def zcam_stats(path):
    out = {}
    if os.path.exists(path):
        for line in open(path):
            k, _, v = line.partition(":")
            if v.strip().lstrip("-").isdigit():
                out[k.strip()] = int(v)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dir")
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--frames", type=int, required=True)
    ap.add_argument("--sync", default="true", help="zckmssink's sync property in the run")
    a = ap.parse_args()
    d = a.dir
    problems = []
    rep = {"size": f"{a.width}x{a.height}", "format": "BGRx (XRGB8888)", "sink_sync": a.sync,
           "frames_requested": a.frames}

    stats_path = os.path.join(d, "stats.json")
    if not os.path.exists(stats_path):
        print(f"demo-report: no {stats_path}: the pipeline did not run "
              f"(see {os.path.join(d, 'run.log')})")
        return 1
    st = json.load(open(stats_path))
    if not st.get("ok"):
        problems.append("the pipeline reported an error (run.log)")
    el = st.get("stats", {})
    src = next((v for k, v in el.items() if k.startswith("zcamsrc")), {})
    sink = next((v for k, v in el.items() if k.startswith("zckmssink")), {})
    fence = {k: v for k, v in el.items() if k.startswith("zcfence")}
    rep["captured"] = src.get("frames")
    rep["camera_drops"] = src.get("dropped")
    rep["sink_received"] = st.get("sink_received")
    rep["displayed"] = sink.get("shown")
    rep["display_dropped"] = sink.get("replaced")
    # Frames the sink's base class dropped as too late for their
    # presentation time (QoS); zckmssink never saw those.
    rep["display_late"] = next((v for k, v in st.get("late_dropped", {}).items()
                                if k.startswith("zckmssink")), 0)
    rep["fence_errors"] = {"zcamsrc": src.get("fence-errors"),
                           "zckmssink": sink.get("fence-errors"),
                           "zckmssink_timeouts": sink.get("fence-timeouts")}
    if fence:
        rep["zcfence"] = fence
    accounted = sum(x or 0 for x in (sink.get("shown"), sink.get("replaced"), rep["display_late"],
                                     sink.get("fence-errors"), sink.get("fence-timeouts")))
    rep["display_unaccounted"] = (rep["sink_received"] or 0) - accounted
    rep["commit_to_flip_ms"] = round(sink.get("flip-latency", 0) / 1e6, 2)
    rep["latency_ms"] = st.get("latency_ms")

    # Encoded stream.
    fw = load_common("fwhtinfo")
    fwht = os.path.join(d, "camera.fwht")
    try:
        fr = list(fw.frames(open(fwht, "rb").read()))
        rep["encoded"] = len(fr)
        rep["encoded_bytes"] = os.path.getsize(fwht)
        if any(f["width"] != a.width or f["height"] != a.height for f in fr):
            problems.append("encoded frames of another size")
    except (OSError, ValueError) as e:
        rep["encoded"] = 0
        problems.append(f"camera.fwht: {e}")
    if rep["encoded"] != rep["captured"]:
        problems.append(f"{rep['encoded']} frames encoded, {rep['captured']} captured")

    # Copies: the sink's counter and GST_PERFORMANCE frame-copy lines
    # (tests/common/perflog.py: caps and bitstream copies are not frames).
    frame_copies, bitstream_copies = [], 0
    log = os.path.join(d, "gst-performance.log")
    if os.path.exists(log):
        with open(log, errors="replace") as f:
            frame_copies, bitstream_copies = load_common("perflog").classify(f)
    else:
        problems.append("no gst-performance.log")
    rep["cpu_frame_copies"] = {"zckmssink_copied": sink.get("copies"),
                               "gst_performance_frame_copy_lines": len(frame_copies)}
    rep["encoder_bitstream_copies"] = bitstream_copies
    if sink.get("copies") != 0 or frame_copies:
        problems.append("frames were copied: " + "; ".join(frame_copies[:3]))

    before = zcam_stats(os.path.join(d, "zcam-before.txt"))
    after = zcam_stats(os.path.join(d, "zcam-after.txt"))
    if before and after:
        rep["zcam_vmaps"] = after.get("vmaps", 0) - before.get("vmaps", 0)
        rep["zcam_live_buffers_after"] = after.get("live_buffers")

    png = os.path.join(d, "display.png")
    if os.path.exists(png):
        try:
            disp = check_display(png, a.width, a.height)
            rep["display_png"] = disp
            if disp["torn"]:
                problems.append("the displayed frame is torn")
            if disp["pixels_matching"] != disp["pixels_checked"]:
                problems.append("displayed pixels differ from zcam's pattern")
        except (OSError, ValueError, IndexError) as e:
            problems.append(f"display.png: {e}")
    else:
        rep["display_png"] = None

    rep["problems"] = problems
    json.dump(rep, open(os.path.join(d, "report.json"), "w"), indent=2)

    lat = rep["latency_ms"]
    disp = rep["display_png"]
    lines = [
        "gst-zerocopy demo: zcamsrc ! tee ! {zcfence ! v4l2fwhtenc | zckmssink}",
        f"  {rep['size']} {rep['format']}, {a.frames} frames requested, zckmssink sync={a.sync}",
        f"frames captured (zcamsrc):        {rep['captured']}"
        f"  (the device lost {rep['camera_drops']} more while the pipeline was busy)",
        f"frames encoded (camera.fwht):     {rep['encoded']}"
        f"  ({rep.get('encoded_bytes', 0)} bytes)",
        f"frames displayed (zckmssink):     {rep['displayed']} of {rep['sink_received']}"
        f" received; {rep['display_dropped']} replaced before the display was free, "
        f"{rep['display_late']} too late for their time (QoS)",
        *([f"  (these counts add up to {accounted}, not to the {rep['sink_received']} "
           "frames the sink received)"] if rep["display_unaccounted"] else []),
        f"fence errors:                     zcamsrc {src.get('fence-errors')}, zckmssink "
        f"{sink.get('fence-errors')} (+{sink.get('fence-timeouts')} timeouts)",
        *[f"zcfence ({k}, mode={v.get('mode')}): {v.get('pushed')} of {v.get('frames')} frames "
          f"pushed, {v.get('waited')} waited for on the CPU (longest "
          f"{(v.get('wait-max') or 0) / 1e6:.1f} ms), {v.get('fence-errors')} fence errors, "
          f"{v.get('fence-timeouts')} timeouts" for k, v in fence.items()],
        f"CPU frame copies:                 {sink.get('copies')} in zckmssink, "
        f"{len(frame_copies)} GST_PERFORMANCE frame-copy lines",
        f"  (v4l2fwhtenc copied its compressed output {bitstream_copies} times: "
        "bitstream, not frames)",
    ]
    if "zcam_vmaps" in rep:
        lines.append(f"zcam buffers mapped by importers: {rep['zcam_vmaps']} vmaps "
                     "(vicodec and vkms read zcam's own memory)")
    if lat:
        lines.append(f"capture-to-display latency (ms):  p50 {lat['p50']:.1f}  p90 "
                     f"{lat['p90']:.1f}  p99 {lat['p99']:.1f}  min {lat['min']:.1f}  "
                     f"max {lat['max']:.1f}  ({lat['frames']} frames)")
    else:
        lines.append("capture-to-display latency:       not measured")
    lines.append(f"  (acquire fence signalled -> page flip that showed the frame; "
                 f"commit-to-flip mean {rep['commit_to_flip_ms']} ms)")
    if disp:
        lines.append(f"display read back (display.png):  frame #{disp['sequence_top']} at "
                     f"{disp['frame_at'][0]},{disp['frame_at'][1]} on a {disp['screen']} "
                     f"screen, {'TORN' if disp['torn'] else 'not torn'}, "
                     f"{disp['pixels_matching']}/{disp['pixels_checked']} sampled pixels "
                     "match zcam's pattern")
    else:
        lines.append("display read back:                none (no writeback connector)")
    lines.append("result: " + ("OK" if not problems else "PROBLEMS: " + "; ".join(problems)))
    text = "\n".join(lines) + "\n"
    open(os.path.join(d, "report.txt"), "w").write(text)
    sys.stdout.write(text)
    print(f"\nfiles in {d}:")
    for name in ("display.png", "camera.fwht", "report.txt", "report.json", "run.log",
                 "gst-performance.log"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            print(f"  {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
