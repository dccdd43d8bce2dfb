#!/bin/sh
# Host test: the kernel module's sources and its uapi header are clean under
# the 6.1 kernel's `checkpatch.pl --strict`. The script comes from Debian's
# linux-source-6.1 and is unpacked once into the VM cache directory.
#   usage: checkpatch.sh SOURCE_ROOT
set -eu
top=$1
cache=${ZC_VM_CACHE:-/var/cache/gst-zerocopy}/checkpatch
tarball=/usr/src/linux-source-6.1.tar.xz
if [ ! -e "$cache/scripts/checkpatch.pl" ]; then
	[ -e "$tarball" ] || { echo "missing $tarball (tests/setup-deps installs it)"; exit 1; }
	mkdir -p "$cache.tmp"
	tar -xJf "$tarball" -C "$cache.tmp" --strip-components=1 \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
	rm -rf "$cache"
	mv "$cache.tmp" "$cache"
fi
files=$(cd "$top" && ls kmod/*.c kmod/*.h kmod/include/uapi/*.h 2>/dev/null)
[ -n "$files" ] || { echo "no kernel sources found under $top/kmod"; exit 1; }
cd "$top"
# shellcheck disable=SC2086
perl "$cache/scripts/checkpatch.pl" --strict --no-tree --terse --show-types -f $files
echo "checkpatch --strict clean:" $files
