#!/bin/sh
# Harness self-tests (harness suite, on the host): tests/vm/run must carry the
# guest command's exit status out, pass any argv to the guest unchanged, and
# fail a run whose guest kernel log shows a warning even when the command
# succeeded. On the debug kernel, in one boot: a KASAN report and a real leak
# (a module that leaks on purpose) each fail the run through their gate, and
# nothing else is reported. A guest that stops printing is ended by the
# console-silence watchdog with its CPU state (hang).
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
argv)
	# Every byte of every argument must reach the guest: spaces, quotes,
	# newlines (a trailing one too), globs, $, backquotes, backslashes,
	# UTF-8, an empty argument, an option-like one.
	mkdir -p "$top/build/vm"
	out=$(mktemp "$top/build/vm/argv.XXXXXX") || fail "cannot create a file in build/vm"
	trap 'rm -f "$out" "$out.want"' EXIT
	nl='
'
	set -- "a b" "it's" "x''y" "l1${nl}l2${nl}." "trailing$nl$nl" \
		'$HOME `id` $(id) \n \\' 'ünïcødé ✓ 日本' '' '*' '"dq"' '-n' ' lead' 'tab	x' "'"
	printf '%s\0' "$@" >"$out.want"
	"$run" --quiet -- sh -c 'for a; do printf "%s\0" "$a"; done >"$0"' "$out" "$@"
	rc=$?
	[ "$rc" = 0 ] || fail "guest printf gave $rc"
	cmp "$out.want" "$out" || { od -c "$out" | head -20; fail "the guest saw other arguments"; }
	# A script holding newlines runs as several commands.
	"$run" --quiet -- sh -c 'exec >"$0"
echo a
echo b' "$out" || fail "sh -c with newlines failed"
	[ "$(cat "$out")" = "a${nl}b" ] || fail "sh -c 'echo a<newline>echo b' printed '$(cat "$out")'"
	echo "$# arguments passed exactly; a newline in sh -c works"
	;;
hang)
	# A guest that stops printing is taken as hung after --silence seconds:
	# the run ends (124) well before --timeout, with the vCPUs' registers in
	# build/vm/hang.log and the guest kernel's own report of where every CPU
	# was (the watchdog's NMI makes it panic with their backtraces).
	t0=$(date +%s)
	out=$("$run" --quiet --silence 60 --timeout 900 -- sh -c 'echo quiet now; sleep 800' 2>&1)
	rc=$?
	t=$(($(date +%s) - t0))
	echo "$out"
	[ "$rc" = 124 ] || fail "a silent guest gave status $rc, not 124"
	[ "$t" -lt 600 ] || fail "the silent guest was ended after ${t}s, not by the watchdog"
	echo "$out" | grep -q 'the guest hung' || fail "no message about the hang"
	log=$top/build/vm/hang.log
	[ -e "$log" ] || fail "no build/vm/hang.log"
	grep -q '^RIP=' "$log" || { cat "$log"; fail "build/vm/hang.log has no vCPU registers"; }
	[ "$(grep -c '^RIP=' "$log")" -ge 4 ] || fail "hang.log: not both vCPUs, twice"
	grep -q 'NMI' "$top/build/vm/console.log" || fail "the guest did not report the NMI"
	grep -q 'Kernel panic' "$top/build/vm/console.log" ||
		fail "the guest kernel did not panic on the watchdog's NMI"
	grep -q 'Call Trace' "$top/build/vm/console.log" || fail "no backtrace in the console log"
	# A guest that prints goes on (the default 600 s is far above this).
	"$run" --quiet --silence 60 -- sh -c 'i=0; while [ $i -lt 18 ]; do echo $i; sleep 5; i=$((i + 1)); done' ||
		fail "a guest printing every 5 s for 90 s was stopped with --silence 60"
	echo "silent guest ended after ${t}s with its CPU state and backtraces; a printing one ran"
	;;
debug-gates)
	# One boot of the debug kernel for both gates (a debug boot costs
	# minutes under TCG): a KASAN line in the kernel log and a module that
	# leaks memory on purpose must each fail the run, and each must be
	# reported; nothing else may be, so the debug kernel's boot and
	# kmemleak's early reports do not fail runs.
	kdir=$("$top/tests/vm/prepare" --kernel debug) || fail "no debug kernel"
	mod=$top/build/vm/leaktest
	mkdir -p "$mod"
	for f in "$top"/tests/vm/selftest/leaktest/*; do ln -sf "$f" "$mod/"; done
	make -s -C "$kdir/obj" M="$mod" modules >"$mod/build.log" 2>&1 ||
		{ cat "$mod/build.log"; fail "cannot build the leak module"; }
	kasan='BUG: KASAN: slab-use-after-free in zc_selftest+0x0/0x10'
	out=$("$run" --kernel debug --quiet -- sh -c 'insmod "$0" &&
		echo 4 >/sys/module/zcam_leaktest/parameters/leak &&
		echo "$1" >/dev/kmsg' "$mod/zcam_leaktest.ko" "$kasan" 2>&1)
	rc=$?
	echo "$out"
	[ "$rc" = 1 ] || fail "a KASAN report and a leaking module gave status $rc, not 1"
	grep -q 'zcdebug' "$top/build/vm/dmesg.log" || fail "the guest did not boot the debug kernel"
	# The splat gate: the injected line and nothing else.
	splat=$(echo "$out" | sed -n '/kernel log shows a problem/,/full log in/p' | sed '1d;$d')
	[ -n "$splat" ] || fail "no message about the KASAN line"
	echo "$splat" | grep -q "$kasan" || fail "the splat message does not show the KASAN line"
	[ "$(echo "$splat" | wc -l)" = 1 ] || fail "the gate reported more than the KASAN line"
	# The kmemleak gate: the module's leaks, both kinds of frames (named,
	# from core text; bare addresses, from freed init text), and only
	# 256-byte objects, so no leak of the boot or the harness counts.
	echo "$out" | grep -q 'kmemleak reports leaks' || fail "no message about the leak"
	[ -e "$top/build/vm/kmemleak.log" ] || fail "the debug run saved no build/vm/kmemleak.log"
	grep -q 'zcam_leaktest' "$top/build/vm/kmemleak.log" ||
		fail "build/vm/kmemleak.log does not name the leaking module"
	grep -qE '\] 0x[0-9a-f]+$' "$top/build/vm/kmemleak.log" ||
		fail "build/vm/kmemleak.log has no leak from freed module text"
	leaks=$("$top/tests/vm/kmemleak-gate" "$top/build/vm/kmemleak.log" 2>/dev/null | grep '^unreferenced object')
	n=$(echo "$leaks" | grep -c .)
	others=$(echo "$leaks" | grep -v -c '(size 256)')
	[ "$others" = 0 ] || { echo "$leaks"; fail "the gate reported $others leak(s) not of the module"; }
	echo "debug kernel: the KASAN line and $n leaked objects of zcam_leaktest.ko fail the run, nothing else is reported"
	;;
*)
	fail "unknown case '$2'"
	;;
esac
