#!/bin/sh
# The zcam device provider (VM suite): gst-device-monitor-1.0 lists zcam0 as
# a Video/Source with the device's caps, and the element the device creates
# (gst_device_create_element, printed by the monitor as a launch line) is a
# zcamsrc for /dev/zcam0.
set -eu
[ -e /dev/zcam0 ] || { echo "no /dev/zcam0: run inside the test VM" >&2; exit 77; }
command -v gst-device-monitor-1.0 >/dev/null || {
	echo "no gst-device-monitor-1.0 (gstreamer1.0-plugins-base-apps)" >&2; exit 77; }
log=$(mktemp /tmp/zcam-monitor.XXXXXX)
trap 'rm -f "$log"' EXIT
gst-device-monitor-1.0 Video/Source >"$log" 2>&1
fail() { echo "device-monitor: $*" >&2; cat "$log" >&2; exit 1; }
# The device's block: from its name line to the next "Device found" or EOF.
block=$(sed -n '/name *: zcam capture device (zcam0)/,/^Device found/p' "$log")
[ -n "$block" ] || fail "zcam0 not listed"
echo "$block" | grep -q 'class *: Video/Source' || fail "zcam0 is not Video/Source"
echo "$block" | grep -q 'video/x-raw(memory:DMABuf)' || fail "no dma-buf caps"
echo "$block" | grep -q 'NV12' || fail "NV12 missing from the caps"
echo "$block" | grep -q 'device.path = /dev/zcam0' || fail "no device.path"
echo "$block" | grep -q 'gst-launch-1.0 zcamsrc device=/dev/zcam0 ' ||
	fail "the device does not create zcamsrc device=/dev/zcam0"
echo "device-monitor: zcam0 listed, creates zcamsrc device=/dev/zcam0"
