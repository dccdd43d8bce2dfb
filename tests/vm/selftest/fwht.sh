#!/bin/sh
# Harness self-test (VM suite): vivid's capture dma-bufs are imported by
# vicodec's FWHT encoder, and the result is a well-formed FWHT stream with one
# frame per captured frame at the captured size.
#   usage: fwht.sh SOURCE_ROOT
set -eu
top=$1
frames=30
dev=$("$top/tests/common/v4l2dev" vivid-000-vid-cap)
out=$(mktemp /tmp/fwht.XXXXXX)
trap 'rm -f "$out"' EXIT
for size in 640x480 1280x720; do
	w=${size%x*} h=${size#*x}
	gst-launch-1.0 -q --no-position v4l2src device="$dev" io-mode=dmabuf num-buffers=$frames \
		! "video/x-raw,format=NV12,width=$w,height=$h" \
		! v4l2fwhtenc output-io-mode=dmabuf-import \
		! filesink location="$out"
	python3 "$top/tests/common/fwhtinfo.py" "$out" --frames $frames --width "$w" --height "$h"
done
