#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""zc-consumer.py: zc-consumer in Python, through GObject introspection.

    zcamsrc ! video/x-raw,format=BGRx,width=320,height=240 ! appsink

What it shows: the GstZc typelib (GstZc-1.0.typelib, found through
GI_TYPELIB_PATH) from Python; each frame's acquire fence read from its
GstZcFenceMeta (GstZc.buffer_get_fence_meta(), the getter that makes the
meta reachable from a Gst.Buffer), whether it was still pending when the
sample arrived, a bounded wait on it (FenceMeta.wait_acquire()) and its
status (GstZc.sync_file_get_status(): 1 signalled, < 0 a corrupt frame);
then the frame's sequence code, which zcam draws as black and white 8x8
cells at the top and the bottom of each frame (kmod/include/uapi/zcam.h,
"Frame pattern"), checked against the buffer's offset: the period the
frame was queued for, so a lower bound (a frame pushed early that the
camera could only capture later, because this slow consumer held the other
buffers, carries the later number); codes strictly increase.

It reads only the two lines it needs with Gst.Buffer.extract_dup(): the
read maps the memory through the library (so it waits for the dma-buf's
fences, bracketed by DMA_BUF_IOCTL_SYNC) and copies those bytes, about
2.5 KB a frame. Gst.Buffer.map() without python3-gst-1.0's overrides would
copy the whole frame into a bytes object.

Prints one summary line; exit status 0 when every frame arrived with a
good fence and a matching code.

    GI_TYPELIB_PATH=build/allocator LD_LIBRARY_PATH=build/allocator \\
        GST_PLUGIN_PATH=build/plugins examples/zc-consumer.py --frames 30
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
gi.require_version("GstVideo", "1.0")
gi.require_version("GstZc", "1.0")
from gi.repository import Gst, GstApp, GstVideo, GstZc  # noqa: E402

WIDTH, HEIGHT = 320, 240


def read_code(line):
    """The sequence code in one line of a code band (BGRx): bit i is the
    G byte of the centre pixel of cell i, white = 1."""
    code = 0
    for i in range(min(32, WIDTH // 8)):
        if line[4 * (8 * i + 4) + 1] > 128:
            code |= 1 << i
    return code


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()

    Gst.init(None)
    desc = (f"zcamsrc num-buffers={args.frames} "
            + (f"device={args.device} " if args.device else "")
            + f"! video/x-raw,format=BGRx,width={WIDTH},height={HEIGHT} "
            "! appsink name=sink max-buffers=2 sync=false")
    pipeline = Gst.parse_launch(desc)
    sink = pipeline.get_by_name("sink")
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        print("zc-consumer.py: the pipeline does not start (is zcam.ko loaded?)",
              file=sys.stderr)
        return 1

    n = {"frames": 0, "pending": 0, "code-ok": 0, "torn": 0,
         "fence-errors": 0, "fence-timeouts": 0, "no-meta": 0, "later": 0}
    last_code = None
    while True:
        # Bounded: a stalled pipeline ends the loop instead of hanging.
        sample = sink.try_pull_sample(5 * Gst.SECOND)
        if sample is None:
            break
        buf = sample.get_buffer()
        n["frames"] += 1
        meta = GstZc.buffer_get_fence_meta(buf)
        if meta is None:
            n["no-meta"] += 1
            continue
        fence = meta.get_acquire_fence()  # owned by the meta: not closed here
        if fence >= 0:
            ok, info = GstZc.sync_file_get_status(fence)
            if ok and info.status == 0:
                n["pending"] += 1  # pushed before the camera finished it
        if meta.wait_acquire(Gst.SECOND) != 0:
            n["fence-timeouts"] += 1
            continue
        if fence >= 0:
            ok, info = GstZc.sync_file_get_status(fence)
            if ok and info.status < 0:
                n["fence-errors"] += 1  # corrupt frame: skip it
                continue
        vmeta = GstVideo.buffer_get_video_meta(buf)
        stride = vmeta.stride[0]
        top = read_code(buf.extract_dup(vmeta.offset[0] + 4 * stride, stride))
        bottom = read_code(buf.extract_dup(
            vmeta.offset[0] + (HEIGHT - 4) * stride, stride))
        queued = buf.offset & 0xFFFFFFFF
        if top != bottom:
            n["torn"] += 1
        elif top >= queued and (last_code is None or top > last_code):
            n["code-ok"] += 1
            if top != queued:
                n["later"] += 1
        last_code = top

    eos = sink.is_eos()
    pipeline.set_state(Gst.State.NULL)
    print(f"frames {n['frames']} of {args.frames}, eos {'yes' if eos else 'no'}, "
          f"pushed-before-complete {n['pending']}, code-ok {n['code-ok']} "
          f"(captured later than queued {n['later']}), "
          f"torn {n['torn']}, fence-errors {n['fence-errors']}, "
          f"fence-timeouts {n['fence-timeouts']}, no-meta {n['no-meta']}")
    good = n["frames"] == args.frames and eos and n["code-ok"] == n["frames"]
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
