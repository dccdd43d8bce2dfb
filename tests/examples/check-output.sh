#!/bin/sh
# Runs an example and checks what it printed.
# Usage: check-output.sh [--expect REGEX]... [--fwht FILE FRAMES-REGEX-FIELD] -- COMMAND...
# Each REGEX (grep -E) must match a line of the command's standard output;
# the command must exit 0. With --fwht FILE, the encoded stream FILE is
# walked (tests/common/fwhtinfo.py) and must hold as many frames as the
# example's "final:" line says it encoded.
set -eu
here=$(dirname "$0")
expects=
fwht=
while [ $# -gt 0 ]; do
	case $1 in
	--expect) expects="$expects
$2"; shift 2 ;;
	--fwht) fwht=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "check-output.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
"$@" >"$out" || status=$?
cat "$out"
if [ "$status" != 0 ]; then
	echo "FAIL: $1 exited with $status"
	exit 1
fi
fail=0
printf '%s\n' "$expects" | while IFS= read -r re; do
	[ -n "$re" ] || continue
	if grep -Eq -- "$re" "$out"; then
		echo "ok: /$re/"
	else
		echo "FAIL: no line matches /$re/"
		exit 1
	fi
done || fail=1
if [ -n "$fwht" ]; then
	encoded=$(sed -n 's/^final:.* encoded \([0-9]*\),.*/\1/p' "$out")
	[ -n "$encoded" ] || { echo "FAIL: no encoded count"; exit 1; }
	/usr/bin/python3 "$here/../common/fwhtinfo.py" --frames "$encoded" "$fwht" || fail=1
fi
exit $fail
