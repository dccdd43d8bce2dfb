#!/bin/sh
# zcamsrc ! v4l2fwhtenc (VM suite): vicodec's encoder imports the zcam
# dma-bufs (output-io-mode=dmabuf-import) and writes one well-formed FWHT
# frame per captured frame. V4L2 cannot wait on fences, hence fence-mode=late.
# The caps are plain video/x-raw: v4l2 elements in GStreamer 1.22 do not
# advertise the memory:DMABuf feature, yet import dma-buf memory; the
# encoder's allocation query has GstVideoMeta, so zcamsrc does not copy.
#   usage: interop-fwht.sh SOURCE_ROOT  (GST_PLUGIN_PATH must hold the plugin)
set -eu
top=$1
[ -e /dev/zcam0 ] || { echo "no /dev/zcam0: run inside the test VM" >&2; exit 77; }
gst-inspect-1.0 v4l2fwhtenc >/dev/null 2>&1 || {
	echo "no v4l2fwhtenc (vicodec not loaded?)" >&2; exit 77; }
frames=20 w=640 h=480
out=$(mktemp /tmp/zcamsrc-fwht.XXXXXX)
trap 'rm -f "$out"' EXIT
stats=/sys/kernel/debug/zcam/zcam0/stats
vmaps() { sed -n 's/^vmaps: *//p' "$stats"; }
before=$(vmaps)
gst-launch-1.0 -q --no-position zcamsrc fence-mode=late num-buffers=$frames \
	! "video/x-raw,format=NV12,width=$w,height=$h,framerate=30/1" \
	! v4l2fwhtenc output-io-mode=dmabuf-import \
	! filesink location="$out"
python3 "$top/tests/common/fwhtinfo.py" "$out" --frames $frames --width $w --height $h
# vicodec (vb2-vmalloc) reads an imported dma-buf through vmap: the frames
# came from zcam's own buffers, not from a copy.
after=$(vmaps)
[ "$after" -gt "$before" ] || {
	echo "interop-fwht: no vmap of a zcam buffer ($before -> $after): not imported" >&2
	exit 1; }
echo "interop-fwht: $frames frames ${w}x$h, zcam vmaps $before -> $after"
