#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Walks a raw FWHT stream (what v4l2fwhtenc / vicodec produce) frame by
frame and checks it: every frame header carries the FWHT magic numbers and
the expected size, and the payload sizes add up to the file."""
import argparse
import struct
import sys

MAGIC1, MAGIC2 = 0x4F4F4F4F, 0xFFFFFFFF
# struct fwht_cframe_hdr: u32 magic1, magic2 (CPU order), then 9 big-endian u32
HDR_MAGIC = struct.Struct("<II")
HDR_FIELDS = struct.Struct(">IIIIIIIII")
HDR_SIZE = HDR_MAGIC.size + HDR_FIELDS.size


def frames(data):
    off = 0
    while off < len(data):
        if len(data) - off < HDR_SIZE:
            raise ValueError(f"truncated header at byte {off}")
        m1, m2 = HDR_MAGIC.unpack_from(data, off)
        ver, w, h, flags, _cs, _xfer, _ycbcr, _quant, size = HDR_FIELDS.unpack_from(
            data, off + HDR_MAGIC.size)
        if (m1, m2) != (MAGIC1, MAGIC2):
            raise ValueError(f"bad magic at byte {off}: {m1:#x} {m2:#x}")
        off += HDR_SIZE + size
        if off > len(data):
            raise ValueError("truncated payload")
        yield {"version": ver, "width": w, "height": h, "flags": flags, "size": size}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("file")
    ap.add_argument("--frames", type=int, help="expected frame count")
    ap.add_argument("--width", type=int)
    ap.add_argument("--height", type=int)
    a = ap.parse_args()
    data = open(a.file, "rb").read()
    try:
        fr = list(frames(data))
    except ValueError as e:
        print(f"fwhtinfo: {a.file}: {e}")
        return 1
    print(f"fwhtinfo: {a.file}: {len(data)} bytes, {len(fr)} frames")
    errors = []
    if not fr:
        errors.append("no frames")
    if a.frames is not None and len(fr) != a.frames:
        errors.append(f"{len(fr)} frames, expected {a.frames}")
    for i, f in enumerate(fr):
        if a.width and f["width"] != a.width or a.height and f["height"] != a.height:
            errors.append(f"frame {i} is {f['width']}x{f['height']}")
            break
        if f["size"] == 0:
            errors.append(f"frame {i} has an empty payload")
            break
    for e in errors:
        print(f"fwhtinfo: {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
