#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reads a GStreamer debug log (GST_DEBUG=GST_PERFORMANCE:6) and lists the
GST_PERFORMANCE lines that report a copy of a frame. Not frames: caps
copies (bookkeeping), and a V4L2 encoder's capture side (its src pad's pool)
copying the compressed bitstream out of its own buffers (GStreamer 1.22's
v4l2videoenc does so when it runs short of them); the latter are counted.
As a program: prints the frame-copy lines, exit status 1 when there are any."""
import re
import sys

COPY = re.compile(r"cop(y|ie|ying)", re.I)
BITSTREAM = re.compile(r"enc\d*:pool\d*:src>")


def classify(lines):
    """Returns (frame-copy lines, number of bitstream copies)."""
    frames, bitstream = [], 0
    for line in lines:
        if "GST_PERFORMANCE" not in line or not COPY.search(line):
            continue
        if "_gst_caps_copy" in line or "copy GstCaps" in line:
            continue
        if BITSTREAM.search(line):
            bitstream += 1
            continue
        frames.append(line.strip())
    return frames, bitstream


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} LOG", file=sys.stderr)
        return 2
    with open(sys.argv[1], errors="replace") as f:
        frames, _ = classify(f)
    for line in frames:
        print(line)
    return 1 if frames else 0


if __name__ == "__main__":
    sys.exit(main())
