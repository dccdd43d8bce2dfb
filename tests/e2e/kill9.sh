#!/bin/sh
# kill -9 of the camera -> encode + display pipeline at 50 moments spread over
# its life (start-up, negotiation, streaming), in the test VM (suite 'vm').
# After each kill the process's fds go away with it; at the end no zcam
# dma-buf is left (bufinfo), the display's framebuffers are back to where they
# were, zcam's live counters are zero and the module unloads
# (tests/kmod/unload.sh, which loads it again). Prints TAP.
#   usage: kill9.sh SOURCE_ROOT BUILD_ROOT
set -u
top=$1 build=$2
[ -e /dev/zcam0 ] || { echo "1..0 # SKIP no /dev/zcam0: run inside the test VM"; exit 77; }
export GST_PLUGIN_PATH="$build/plugins"
n=0 failed=0
check() { # NAME COMMAND...
	name=$1; shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $name"; else echo "not ok $n - $name"; failed=$((failed + 1)); fi
}
fbs() { cat /sys/kernel/debug/dri/*/framebuffer 2>/dev/null | grep -c '^framebuffer\['; }
zcam_bufs() { grep -c '	zcam	' /sys/kernel/debug/dma_buf/bufinfo; }
# Bounded wait (0.2 s steps) for COMMAND to hold: file releases of a killed
# process may finish just after wait returns.
settles() {
	t=50
	while [ $t -gt 0 ]; do "$@" && return 0; t=$((t - 1)); sleep 0.2; done
	return 1
}
no_zcam_bufs() { [ "$(zcam_bufs)" = 0 ]; }
fbs_back() { [ "$(fbs)" -le "$fbs0" ]; }

fbs0=$(fbs)
kills=0 early_exit=0
i=0
while [ $i -lt 50 ]; do
	# Moments from 0.1 s to 3 s, spread by a fixed-seed generator so that a
	# failure can be replayed.
	delay=$(awk -v i=$i 'BEGIN { srand(i + 1); printf "%.2f", 0.1 + 2.9 * rand() }')
	gst-launch-1.0 -q zcamsrc ! video/x-raw,format=BGRx,width=640,height=480 \
		! tee name=t t. ! queue ! zcfence ! v4l2fwhtenc output-io-mode=dmabuf-import \
		! fakesink t. ! queue ! zckmssink >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); else early_exit=$((early_exit + 1)); fi
	wait "$pid" 2>/dev/null
	i=$((i + 1))
done
echo "# $kills pipelines killed, $early_exit had ended before their kill"
check "50 pipelines killed mid-run" [ "$kills" = 50 ]
check "no zcam dma-buf left (bufinfo)" settles no_zcam_bufs
check "display framebuffers back to $fbs0" settles fbs_back
out=$(mktemp /tmp/kill9.XXXXXX)
"$top/tests/kmod/unload.sh" "$build/kmod/zcam.ko" >"$out" 2>&1; ru=$?
sed 's/^/#   /' "$out"; rm -f "$out"
check "zcam's counters are zero, it unloads and loads again (unload.sh)" [ "$ru" = 0 ]
echo "1..$n"
[ "$failed" = 0 ]
