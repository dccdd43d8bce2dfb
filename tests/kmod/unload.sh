#!/bin/sh
# Proves that the tests before it leaked nothing: no zcam dma-buf is left in
# debugfs, no buffer or fence is counted live, the module's reference count is
# zero and rmmod succeeds. Then loads the module again, so that tests running
# later still find /dev/zcam0. Runs as root in the test VM; prints TAP.
#   usage: unload.sh PATH/TO/zcam.ko
# ZC_ZCAM_KO (set by tests/vm/guest) overrides the path: on the debug kernel
# the module is build/kmod-debug/zcam.ko.
set -u
ko=${ZC_ZCAM_KO:-${1:?usage: unload.sh PATH/TO/zcam.ko}}
dbg=/sys/kernel/debug

if [ ! -d /sys/module/zcam ]; then
	echo "1..0 # SKIP zcam is not loaded"
	exit 77
fi
if [ ! -r "$dbg/dma_buf/bufinfo" ]; then
	echo "1..0 # SKIP no debugfs at $dbg"
	exit 77
fi

n=0
failed=0
check() {
	name=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		failed=$((failed + 1))
	fi
}

# One line per dma-buf: size flags mode count exp_name ino name.
no_zcam_buffers() {
	left=$(awk -F '\t' '$5 == "zcam"' "$dbg/dma_buf/bufinfo")
	[ -z "$left" ] && return 0
	echo "# zcam buffers still alive:"
	echo "$left" | sed 's/^/#   /'
	return 1
}

counters_zero() {
	rc=0
	for stats in "$dbg"/zcam/zcam*/stats; do
		for key in live_buffers live_fences; do
			val=$(sed -n "s/^$key: //p" "$stats")
			if [ "$val" != 0 ]; then
				echo "# $stats: $key is '$val'"
				rc=1
			fi
		done
	done
	return $rc
}

refcnt_zero() {
	val=$(cat /sys/module/zcam/refcnt)
	[ "$val" = 0 ] || { echo "# /sys/module/zcam/refcnt is $val"; return 1; }
}

unloads() {
	rmmod zcam || return 1
	[ ! -e /sys/module/zcam ] && [ ! -e /dev/zcam0 ] && [ ! -e "$dbg/zcam" ]
}

reloads() {
	insmod "$ko" || return 1
	i=0
	while [ ! -c /dev/zcam0 ] && [ $i -lt 20 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -c /dev/zcam0 ] && [ -r "$dbg/zcam/zcam0/stats" ]
}

echo "TAP version 13"
echo "1..5"
check "no zcam dma-buf in bufinfo" no_zcam_buffers
check "no live buffers or fences" counters_zero
check "module reference count is zero" refcnt_zero
check "rmmod zcam succeeds" unloads
check "insmod $(basename "$ko") brings back /dev/zcam0" reloads
[ "$failed" = 0 ]
