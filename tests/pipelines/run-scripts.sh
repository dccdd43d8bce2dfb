#!/bin/sh
# Runs every script in pipelines/ that says "Verified: in the test VM" (VM
# suite) with a short frame count and checks what it produced:
#   - zcamsrc's frame count, zcfence (mode=wait) pushing every frame,
#     zckmssink's shown > 0 and copies = 0 (zc-run
#     prints the stats at EOS),
#   - encoded files are well-formed FWHT with one frame per captured frame
#     (tests/common/fwhtinfo.py),
#   - no GST_PERFORMANCE line about a frame copy (GST_DEBUG=GST_PERFORMANCE:6),
#   - zcam's vmaps counter grows when an importer (vicodec, vkms) reads its
#     buffers, i.e. they were imported, not copied.
# The real-hardware scripts only have their --help checked. A script that
# claims VM verification but is not checked here fails the test.
#   usage: run-scripts.sh SOURCE_ROOT BUILD_ROOT
set -u
top=$1 build=$2
[ -e /dev/zcam0 ] || { echo "no /dev/zcam0: run inside the test VM" >&2; exit 77; }
[ -x "$build/tools/zc-run" ] || { echo "zc-run not built" >&2; exit 1; }
export ZC_BUILD="$build"
tmp=$(mktemp -d /tmp/pipelines-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0 checked=
frames=30

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# stat OUT ELEMENT KEY: a value from zc-run's "stats ELEMENT k=v ..." line.
stat() {
	awk -v e="$2" -v k="$3" '$1 == "zc-run:" && $2 == "stats" && $3 == e {
		for (i = 4; i <= NF; i++) if (index($i, k "=") == 1) {
			print substr($i, length(k) + 2); exit } }' "$1"
}
vmaps() { sed -n 's/^vmaps: *//p' /sys/kernel/debug/zcam/zcam0/stats; }

# run NAME ARGS...: runs pipelines/NAME; output in $tmp/NAME.out/.err.
run() {
	name=$1; shift
	checked="$checked $name"
	echo "--- $name $*"
	GST_DEBUG=GST_PERFORMANCE:6 GST_DEBUG_NO_COLOR=1 \
		"$top/pipelines/$name" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	cat "$tmp/$name.out"
	if [ $rc != 0 ]; then
		fail "$name exited with $rc"
		tail -n 30 "$tmp/$name.err" >&2
		return 1
	fi
	# Frame copies only (tests/common/perflog.py says what is not one).
	if ! python3 "$top/tests/common/perflog.py" "$tmp/$name.err" >"$tmp/copies"; then
		fail "$name: GST_PERFORMANCE reports a copy"
		head -n 5 "$tmp/copies" >&2
	fi
	return 0
}

check_src() { # OUT EXPECTED_FRAMES
	n=$(stat "$1" zcamsrc0 frames)
	[ "$n" = "$2" ] || fail "$(basename "$1"): zcamsrc frames=$n, expected $2"
}
check_sink() { # OUT
	shown=$(stat "$1" zckmssink0 shown) copies=$(stat "$1" zckmssink0 copies)
	[ "${shown:-0}" -gt 0 ] || fail "$(basename "$1"): zckmssink shown=$shown"
	[ "$copies" = 0 ] || fail "$(basename "$1"): zckmssink copies=$copies, expected 0"
}
check_fence() { # OUT EXPECTED_FRAMES: zcfence let every frame through
	n=$(stat "$1" zcfence0 pushed) mode=$(stat "$1" zcfence0 mode)
	[ "$n" = "$2" ] || fail "$(basename "$1"): zcfence pushed=$n, expected $2"
	[ "$mode" = wait ] || fail "$(basename "$1"): zcfence mode=$mode, expected wait"
}
check_fwht() { # FILE FRAMES W H
	python3 "$top/tests/common/fwhtinfo.py" "$1" --frames "$2" --width "$3" --height "$4" ||
		fail "$(basename "$1") is not $2 FWHT frames of $3x$4"
}

before=$(vmaps)
if run camera-display FRAMES=$frames; then
	check_src "$tmp/camera-display.out" $frames
	check_sink "$tmp/camera-display.out"
fi
after=$(vmaps)
[ "$after" -gt "$before" ] || fail "camera-display: vkms did not map a zcam buffer"

before=$after
if run camera-encode-file FRAMES=$frames WIDTH=640 HEIGHT=480 OUT="$tmp/file.fwht"; then
	check_src "$tmp/camera-encode-file.out" $frames
	check_fence "$tmp/camera-encode-file.out" $frames
	check_fwht "$tmp/file.fwht" $frames 640 480
fi
after=$(vmaps)
[ "$after" -gt "$before" ] || fail "camera-encode-file: vicodec did not map a zcam buffer"

if run camera-encode-display FRAMES=$frames OUT="$tmp/tee.fwht"; then
	check_src "$tmp/camera-encode-display.out" $frames
	check_fence "$tmp/camera-encode-display.out" $frames
	check_sink "$tmp/camera-encode-display.out"
	check_fwht "$tmp/tee.fwht" $frames 640 480
fi

# The camera serves whoever is connected and does not wait for clients: 90
# frames (3 s) give the recorder, whose encoder takes a while to open under
# TCG, time to connect (30 frames ended before it did on a loaded host).
# WAIT: on the debug kernel, three GStreamer processes starting at once took
# over the script's default minute before the camera served.
if run camera-ipc FRAMES=90 WAIT=300 OUT="$tmp/ipc.fwht" SOCKET="$tmp/ipc.sock"; then
	check_src "$tmp/camera-ipc.out" 90
	check_sink "$tmp/camera-ipc.out"
	for e in zcipcsink0 recorder display; do
		c=$(stat "$tmp/camera-ipc.out" $e copies)
		[ "$c" = 0 ] || fail "camera-ipc: $e copies=$c, expected 0"
	done
	got=$(stat "$tmp/camera-ipc.out" recorder pushed)
	[ "${got:-0}" -gt 0 ] || fail "camera-ipc: the recorder got no frame"
	check_fwht "$tmp/ipc.fwht" "${got:-0}" 640 480
fi

# vivid importing vkms buffers: not on the debug kernel, where 6.1's own
# dma_buf_vmap/drm_gem_shmem_vmap locking gives a lockdep report
# (docs/testing.md).
if [ "${ZC_VM_KERNEL:-}" = debug ]; then
	checked="$checked v4l2src-import"
	echo "NOT RUN: v4l2src-import on the debug kernel: 6.1's dma_buf_vmap/drm_gem_shmem_vmap lockdep report (docs/testing.md)"
elif run v4l2src-import FRAMES=$frames; then
	check_sink "$tmp/v4l2src-import.out"
fi

# Every script: --help works and the header says what it shows, needs and
# where it was verified; the VM-verified ones must have run above.
for f in "$top"/pipelines/*; do
	{ [ -x "$f" ] && [ -f "$f" ]; } || continue
	name=$(basename "$f")
	case "$name" in zc-run*|*.*) continue ;; esac
	"$f" --help >"$tmp/help" 2>&1 || fail "$name --help failed"
	for key in Shows: Needs: Verified:; do
		grep -q "^$key" "$tmp/help" || fail "$name: no '$key' in its header"
	done
	if grep -q '^Verified: in the test VM' "$tmp/help"; then
		case " $checked " in *" $name "*) ;; *) fail "$name claims VM verification but is not run here" ;; esac
	fi
done

echo "pipelines: checked$checked; $failures failure(s)"
[ $failures = 0 ]
