#!/bin/sh
# Harness self-tests (harness suite, on the host): tests/vm/run must carry the
# guest command's exit status out, and must fail a run whose guest kernel log
# shows a warning even when the command succeeded.
#   usage: harness.sh SOURCE_ROOT CASE
set -u
top=$1
run="$top/tests/vm/run"
fail() { echo "FAIL: $*"; exit 1; }
case "$2" in
exit-status)
	"$run" --quiet -- sh -c 'exit 3'
	rc=$?
	[ "$rc" = 3 ] || fail "guest 'exit 3' gave $rc"
	"$run" --quiet -- true
	rc=$?
	[ "$rc" = 0 ] || fail "guest 'true' gave $rc (a clean run must pass)"
	echo "exit status carried out: 3 and 0"
	;;
kmsg-warning)
	out=$("$run" --quiet -- sh -c 'echo "WARNING: CPU: 0 PID: 1 at x" >/dev/kmsg' 2>&1)
	rc=$?
	echo "$out"
	[ "$rc" != 0 ] || fail "a kernel WARNING in the guest did not fail the run"
	echo "$out" | grep -q 'kernel log shows a problem' || fail "no message about the splat"
	grep -q 'WARNING: CPU: 0 PID: 1 at x' "$top/build/vm/dmesg.log" ||
		fail "build/vm/dmesg.log does not hold the guest kernel log"
	# The same text printed by the command itself is not a kernel splat.
	"$run" --quiet -- sh -c 'echo "WARNING: CPU: 0 PID: 1 at x"'
	rc=$?
	[ "$rc" = 0 ] || fail "command output that looks like a splat failed the run ($rc)"
	echo "splat detected (status $rc for the clean control run)"
	;;
*)
	fail "unknown case '$2'"
	;;
esac
