#!/bin/sh
# zcipcsink / zcipcsrc across processes, in the test VM (suite 'vm'). One
# scenario per run, each process a zc-run pipeline (it prints the elements'
# stats at EOS); prints TAP.
#   three  camera process (zcamsrc ! zcipcsink), client 1 (zcipcsrc ! zcfence
#          ! v4l2fwhtenc ! filesink), client 2 (zcipcsrc ! zckmssink): no
#          copy, no GST_PERFORMANCE copy line, both clients hold zcam's
#          dma-bufs (their /proc/PID/fdinfo) and the importers attached them
#          (bufinfo), the stream is well-formed FWHT with a frame per frame
#          client 1 got and decodes to the camera's sequence codes in
#          order, the display showed frames and sent release fences
#          back, nothing left at the end. Frames dropped for client 1 (the
#          encoder is slower than the camera under TCG) are reported.
#   kill   client 1 (zcipcsrc ! zcfence ! fakesink) streams while client 2
#          (zcipcsrc ! zckmssink) is killed with SIGKILL and restarted 20
#          times: nothing dropped for client 1, the server's fds back to
#          their count, no dma-buf or framebuffer left, zcam unloads.
#   slow   a client that sleeps on every frame (identity sleep-time) next to
#          a fast one: the camera and the sink take every frame, nothing is
#          dropped for the fast client, frames are dropped for the slow one.
#   fuzz   tests/ipc/ipc-fuzz sends 10,000 malformed messages while a good
#          client runs: every hostile client disconnected, no server fd
#          leaked, nothing dropped for the good client.
#   usage: vm-ipc.sh SCENARIO SOURCE_ROOT BUILD_ROOT
set -u
scenario=$1 top=$2 build=$3
[ -e /dev/zcam0 ] || { echo "1..0 # SKIP no /dev/zcam0: run inside the test VM"; exit 77; }
export GST_PLUGIN_PATH="$build/plugins" GST_DEBUG_NO_COLOR=1
# Every process ends by itself; --timeout only keeps a broken run from
# hanging the suite.
run="$build/tools/zc-run --timeout 400"
# ZC_IPC_KEEP=DIR keeps the processes' output there.
if [ -n "${ZC_IPC_KEEP:-}" ]; then
	tmp=$ZC_IPC_KEEP; rm -rf "$tmp"; mkdir -p "$tmp"
else
	tmp=$(mktemp -d /tmp/vm-ipc.XXXXXX)
fi
sock=/tmp/vm-ipc-$$.sock
pids=
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	[ -n "${ZC_IPC_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
n=0 failed=0
check() { # NAME COMMAND...
	name=$1; shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $name"; else echo "not ok $n - $name"; failed=$((failed + 1)); fi
}
# stat FILE ELEMENT KEY: a value from zc-run's "stats ELEMENT k=v ..." line.
stat() {
	awk -v e="$2" -v k="$3" '$1 == "zc-run:" && $2 == "stats" && $3 == e {
		for (i = 4; i <= NF; i++) if (index($i, k "=") == 1) {
			v = substr($i, length(k) + 2); sub(/^\(guint64\)/, "", v); print v; exit } }' "$1"
}
eq() { [ "${1:-x}" = "$2" ]; }
gt() { [ "${1:-0}" -gt "$2" ]; }
# zcam dma-bufs PID holds (fdinfo names the exporter).
zcam_fds() { grep -l '^exp_name:.*zcam' /proc/"$1"/fdinfo/* 2>/dev/null | wc -l; }
nfds() { ls /proc/"$1"/fd | wc -l; }
# until_true TRIES COMMAND...: retries every 0.2 s (a bounded wait for a
# state, not a timing assertion); gives up at once when COMMAND returns 2.
until_true() {
	t=$1; shift
	while [ "$t" -gt 0 ]; do
		"$@"; r=$?
		[ $r = 0 ] && return 0
		[ $r = 2 ] && return 1
		t=$((t - 1)); sleep 0.2
	done
	return 1
}
# Waits (bounded, 0.5 s steps, 30 s at most) until PID's fd count has
# stayed the same for 2 s, and echoes it: a server that has just started
# streaming still opens fds (its threads, the buffers' dma-bufs sent to a
# client once), so a baseline taken earlier is too low.
settled_fds() {
	prev=-1 same=0 t=60 cur=0
	while [ $t -gt 0 ]; do
		cur=$(nfds "$1")
		if [ "$cur" = "$prev" ]; then
			same=$((same + 1))
			[ $same -ge 4 ] && break
		else
			same=0
		fi
		prev=$cur; t=$((t - 1)); sleep 0.5
	done
	echo "$cur"
}
# PID holds a zcam dma-buf; 2 when PID is gone.
has_zcam_fds() { kill -0 "$1" 2>/dev/null || return 2; [ "$(zcam_fds "$1")" -gt 0 ]; }
dead() { ! kill -0 "$1" 2>/dev/null; }
fbs() { cat /sys/kernel/debug/dri/*/framebuffer 2>/dev/null | grep -c '^framebuffer\['; }
zcam_bufs() { grep -c '	zcam	' /sys/kernel/debug/dma_buf/bufinfo; }

caps="video/x-raw(memory:DMABuf),format=BGRx,width=640,height=480"
server() { # FRAMES [MAX_HELD [FPS]]
	GST_DEBUG=GST_PERFORMANCE:6${ZC_IPC_DEBUG:+,$ZC_IPC_DEBUG} $run zcamsrc fence-mode=late num-buffers="$1" \
		! "$caps,framerate=${3:-15}/1" \
		! zcipcsink socket-path="$sock" max-held="${2:-6}" >"$tmp/server.out" 2>"$tmp/server.err" &
	spid=$!; pids="$pids $spid"
}
encoder() { # OUT
	GST_DEBUG=GST_PERFORMANCE:6${ZC_IPC_DEBUG:+,$ZC_IPC_DEBUG} $run zcipcsrc socket-path="$sock" timeout=60000000000 ! zcfence \
		! v4l2fwhtenc output-io-mode=dmabuf-import ! filesink location="$tmp/c1.fwht" \
		>"$1" 2>"$1.err" &
	c1=$!; pids="$pids $c1"
}
display() { # OUT [ZC-RUN OPTIONS]
	out=$1; shift
	GST_DEBUG=GST_PERFORMANCE:6${ZC_IPC_DEBUG:+,$ZC_IPC_DEBUG} $run "$@" zcipcsrc socket-path="$sock" timeout=60000000000 ! zckmssink sync=false \
		>"$out" 2>"$out.err" &
	c2=$!; pids="$pids $c2"
}
no_copies() { # LOG...
	for f in "$@"; do python3 "$top/tests/common/perflog.py" "$f" >/dev/null || return 1; done
}

case $scenario in
three)
	fbs0=$(fbs)
	encoder "$tmp/c1.out"; display "$tmp/c2.out" --png "$tmp/display.png"
	server 150
	check "client 1 holds zcam's dma-bufs" until_true 300 has_zcam_fds "$c1"
	check "client 2 holds zcam's dma-bufs" until_true 300 has_zcam_fds "$c2"
	attached=$(awk '/^[0-9]/ { z = ($5 == "zcam") } z && /Attached Devices:/ { getline; if ($0 !~ /Total/) a++ } END { print a + 0 }' /sys/kernel/debug/dma_buf/bufinfo)
	echo "# zcam buffers with an importer attached: $attached; client 1 $(zcam_fds "$c1") fds, client 2 $(zcam_fds "$c2") fds"
	check "zcam's buffers attached by the importers (bufinfo)" gt "$attached" 0
	wait "$spid"; rs=$?; wait "$c1"; r1=$?; wait "$c2"; r2=$?
	cat "$tmp/server.out" "$tmp/c1.out" "$tmp/c2.out" | grep '^zc-run' | sed 's/^/# /'
	check "the three processes ran to EOS" eq "$rs$r1$r2" 000
	got=$(stat "$tmp/c1.out" zcipcsrc0 pushed)
	check "client 1 got frames" gt "$got" 0
	echo "# client 1 (encoder) got $got frames, $(stat "$tmp/c1.out" zcipcsrc0 dropped) dropped for it (it held max-held)"
	python3 "$top/tests/common/fwhtinfo.py" "$tmp/c1.fwht" --frames "$got" --width 640 --height 480 \
		>"$tmp/fwht.out" 2>&1; rf=$?
	sed 's/^/# /' "$tmp/fwht.out"
	check "client 1 encoded every frame it got ($got)" eq "$rf" 0
	# Decoded back (v4l2fwhtdec, the e2e test's decoder): every frame
	# carries a camera sequence code, in increasing order, and looks like
	# the zcam pattern.
	"$build/tests/e2e/vm-e2e" --decode "$tmp/c1.fwht" BGRx 640 480 "$got" \
		>"$tmp/decode.out" 2>&1; rd=$?
	grep -v '^# decoded frame' "$tmp/decode.out" | sed 's/^/#   /'
	check "client 1's stream decodes to the camera's frames, codes in order" eq "$rd" 0
	check "client 1 sent release fences back" gt "$(stat "$tmp/c1.out" zcipcsrc0 releases)" 0
	check "client 2 showed frames" gt "$(stat "$tmp/c2.out" zckmssink0 shown)" 0
	# What the display showed at the end, read back through vkms's
	# writeback connector (zc-run --png) and checked against the zcam
	# pattern by the demo report's check.
	check "client 2's display shows a whole camera frame (writeback)" python3 - "$top" "$tmp/display.png" <<-'PY'
		import importlib.util, sys
		spec = importlib.util.spec_from_file_location("report", sys.argv[1] + "/pipelines/demo-report.py")
		report = importlib.util.module_from_spec(spec); spec.loader.exec_module(report)
		d = report.check_display(sys.argv[2], 640, 480)
		print("# display:", d)
		sys.exit(0 if d["sequence_top"] > 0 and not d["torn"] and d["pixels_matching"] == d["pixels_checked"] else 1)
	PY
	check "client 2 sent the display's release fences back" gt "$(stat "$tmp/c2.out" zcipcsrc0 release-fences)" 0
	check "copies = 0 everywhere" eq "$(stat "$tmp/server.out" zcipcsink0 copies)$(stat "$tmp/c1.out" zcipcsrc0 copies)$(stat "$tmp/c2.out" zcipcsrc0 copies)$(stat "$tmp/c2.out" zckmssink0 copies)" 0000
	check "no GST_PERFORMANCE copy line" no_copies "$tmp/server.err" "$tmp/c1.out.err" "$tmp/c2.out.err"
	check "no dma-buf of zcam left" eq "$(zcam_bufs)" 0
	check "no framebuffer left" eq "$(fbs)" "$fbs0"
	;;
kill)
	fbs0=$(fbs)
	# Client 1 keeps up with the camera even under TCG (the encoder does
	# not always), so any frame dropped for it would be the kills' doing.
	GST_DEBUG=GST_PERFORMANCE:6 $run zcipcsrc socket-path="$sock" timeout=60000000000 ! zcfence \
		! fakesink sync=false >"$tmp/c1.out" 2>"$tmp/c1.out.err" &
	c1=$!; pids="$pids $c1"
	# A client process starting up under TCG takes the guest's CPUs for a
	# while: 10 frames a second and 10 frames held at most leave client 1 a
	# second of slack before a frame would be dropped for it.
	server 100000 10 10
	check "client 1 streams" until_true 300 has_zcam_fds "$c1"
	display "$tmp/c2.out"
	check "client 2 streams" until_true 300 has_zcam_fds "$c2"
	srvfds=$(settled_fds "$spid")
	ok=0
	for i in $(seq 20); do
		kill -9 "$c2"; wait "$c2" 2>/dev/null
		display "$tmp/c2.out"
		until_true 300 has_zcam_fds "$c2" && ok=$((ok + 1))
	done
	check "client 2 killed and restarted 20 times, streaming again each time" eq "$ok" 20
	until_true 50 eq "$(nfds "$spid")" "$srvfds"
	check "the server's fds back to their count ($srvfds, now $(nfds "$spid"))" eq "$(nfds "$spid")" "$srvfds"
	kill -9 "$c2"; wait "$c2" 2>/dev/null
	kill -INT "$spid"; wait "$spid"; rs=$?
	wait "$c1"; r1=$?
	cat "$tmp/server.out" "$tmp/c1.out" | grep '^zc-run' | sed 's/^/# /'
	check "server and client 1 ended cleanly" eq "$rs$r1" 00
	check "the server saw every client 2 go" gt "$(stat "$tmp/server.out" zcipcsink0 disconnects)" 19
	check "nothing dropped for client 1" eq "$(stat "$tmp/c1.out" zcipcsrc0 dropped)" 0
	# Frames the camera took before client 1's connection was accepted are
	# sent to nobody; from then on every frame went to it (dropped 0 above)
	# and reached its sink. At the end client 1 is the only client, so the
	# server's pushed is what it sent to client 1.
	check "client 1 got every frame sent to it (no gap)" \
		eq "$(stat "$tmp/c1.out" fakesink0 rendered)" "$(stat "$tmp/server.out" zcipcsink0 pushed)"
	check "no dma-buf of zcam left" eq "$(zcam_bufs)" 0
	check "no framebuffer left" eq "$(fbs)" "$fbs0"
	sh "$top/tests/kmod/unload.sh" "$build/kmod/zcam.ko" >"$tmp/unload.out" 2>&1; ru=$?
	sed 's/^/# unload: /' "$tmp/unload.out"
	check "zcam unloads (and is loaded again)" eq "$ru" 0
	;;
slow)
	$run zcipcsrc socket-path="$sock" timeout=60000000000 ! identity sleep-time=500000 ! fakesink sync=false \
		>"$tmp/slow.out" 2>&1 &
	cs=$!; pids="$pids $cs"
	$run zcipcsrc socket-path="$sock" timeout=60000000000 ! zcfence ! fakesink sync=false >"$tmp/fast.out" 2>&1 &
	cf=$!; pids="$pids $cf"
	server 120
	wait "$spid"; rs=$?; wait "$cs"; r1=$?; wait "$cf"; r2=$?
	cat "$tmp/server.out" "$tmp/slow.out" "$tmp/fast.out" | grep '^zc-run' | sed 's/^/# /'
	check "the three processes ran to EOS" eq "$rs$r1$r2" 000
	# zcam counts the periods its engine missed (a loaded TCG guest misses
	# some whoever holds buffers): reported, not asserted.
	echo "# the camera missed $(stat "$tmp/server.out" zcamsrc0 dropped) periods"
	check "the camera captured every frame" eq "$(stat "$tmp/server.out" zcamsrc0 frames)" 120
	check "the sink took every frame" eq "$(stat "$tmp/server.out" zcipcsink0 frames)" 120
	check "the fast client got more frames than the slow one" \
		gt "$(stat "$tmp/fast.out" zcipcsrc0 pushed)" "$(stat "$tmp/slow.out" zcipcsrc0 pushed)"
	check "nothing dropped for the fast client" eq "$(stat "$tmp/fast.out" zcipcsrc0 dropped)" 0
	check "frames dropped for the slow client" gt "$(stat "$tmp/slow.out" zcipcsrc0 dropped)" 0
	;;
fuzz)
	$run zcipcsrc socket-path="$sock" timeout=60000000000 ! zcfence ! fakesink sync=false >"$tmp/good.out" 2>&1 &
	cg=$!; pids="$pids $cg"
	server 100000
	check "the good client streams" until_true 300 has_zcam_fds "$cg"
	settled_fds "$spid" >/dev/null
	"$build/tests/ipc/ipc-fuzz" "$sock" "$spid" 10000 | tee "$tmp/fuzz.out" | sed 's/^/# /'
	check "10,000 malformed messages: every hostile client disconnected, no fd leaked" \
		grep -q '^ok' "$tmp/fuzz.out"
	check "the server still serves the good client" kill -0 "$cg"
	kill -INT "$spid"; wait "$spid"; rs=$?; wait "$cg"; rg=$?
	cat "$tmp/server.out" "$tmp/good.out" | grep '^zc-run' | sed 's/^/# /'
	check "server and good client ended cleanly" eq "$rs$rg" 00
	check "nothing dropped for the good client" eq "$(stat "$tmp/good.out" zcipcsrc0 dropped)" 0
	check "the server rejected the hostile clients" gt "$(stat "$tmp/server.out" zcipcsink0 rejected)" 5000
	;;
*) echo "unknown scenario $scenario" >&2; exit 2 ;;
esac
echo "1..$n"
[ $failed = 0 ]
