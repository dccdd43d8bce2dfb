#!/bin/sh
# zcamsrc ! fakesink (VM suite): the source runs to EOS after num-buffers,
# every buffer reaches the sink with its fence meta, and the offsets (the
# frames' sequence numbers) increase.
#   usage: interop-fakesink.sh  (GST_PLUGIN_PATH must hold the plugin)
set -eu
[ -e /dev/zcam0 ] || { echo "no /dev/zcam0: run inside the test VM" >&2; exit 77; }
frames=30
log=$(mktemp /tmp/zcamsrc-fakesink.XXXXXX)
trap 'rm -f "$log"' EXIT

# -v prints fakesink's last-message for every buffer it receives.
gst-launch-1.0 -v --no-position zcamsrc num-buffers=$frames \
	! 'video/x-raw(memory:DMABuf),format=BGRx,width=320,height=240,framerate=60/1' \
	! fakesink silent=false >"$log" 2>&1 || { cat "$log" >&2; exit 1; }

fail() { echo "interop-fakesink: $*" >&2; grep -v 'last-message' "$log" >&2; exit 1; }
grep -q 'Got EOS from element "pipeline0"' "$log" || fail "no EOS"
chains=$(grep -c 'last-message = chain' "$log") || true
[ "$chains" = "$frames" ] || fail "$chains buffers reached fakesink, expected $frames"
metas=$(grep 'last-message = chain' "$log" | grep -c 'GstZcFenceMeta') || true
[ "$metas" = "$frames" ] || fail "$metas of $frames buffers carry GstZcFenceMeta"
# Sequence numbers strictly increase (gaps are allowed: dropped frames).
grep 'last-message = chain' "$log" | sed -n 's/.* offset: \([0-9]*\),.*/\1/p' |
	awk 'NR > 1 && $1 <= prev { bad = 1 } { prev = $1; n++ }
	     END { exit (bad || n != '"$frames"') }' || fail "offsets not increasing"
if grep -q -E 'ERROR|WARNING' "$log"; then fail "errors or warnings on the bus"; fi
echo "interop-fakesink: $frames buffers, offsets increasing, fence meta on each"
