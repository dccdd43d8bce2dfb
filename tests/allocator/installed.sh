#!/bin/sh
# Installs the build into a scratch directory and builds and runs the
# docs/allocator.md example with nothing but the installed header, library
# and gstzerocopy-1.0.pc. Usage: installed.sh BUILD_DIR EXAMPLE.c DOC.md
set -eu
build=$1
example=$2
doc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The documentation shows this very program: its first C block must be it.
awk '/^```c$/ { on = 1; next } on && /^```$/ { exit } on' "$doc" >"$tmp/doc-example.c"
if ! cmp -s "$tmp/doc-example.c" "$example"; then
	echo "the example in $doc differs from $example:"
	diff -u "$example" "$tmp/doc-example.c" || true
	exit 1
fi

meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/root" >"$tmp/install.log" 2>&1 || {
	cat "$tmp/install.log"; exit 1; }

pc=$(find "$tmp/root" -name gstzerocopy-1.0.pc | head -n 1)
[ -n "$pc" ] || { echo "gstzerocopy-1.0.pc was not installed"; exit 1; }
header=$(find "$tmp/root" -path '*/gstreamer-1.0/gst/zerocopy/zerocopy.h' | head -n 1)
[ -n "$header" ] || { echo "gst/zerocopy/zerocopy.h was not installed"; exit 1; }

# The .pc names the final prefix; point it into the scratch root. Only our
# file is rewritten: the GStreamer packages it requires come from the system.
prefix=$(sed -n 's/^prefix=//p' "$pc")
mkdir "$tmp/pc"
sed "s|^prefix=.*|prefix=$tmp/root$prefix|" "$pc" >"$tmp/pc/gstzerocopy-1.0.pc"
export PKG_CONFIG_PATH="$tmp/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

flags=$(pkg-config --cflags --libs gstzerocopy-1.0)
echo "pkg-config: $flags"
case "$flags" in
	*"$tmp/root"*) ;;
	*) echo "pkg-config flags do not point into the installed tree"; exit 1 ;;
esac
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -Wall -Wextra -Werror -o "$tmp/example" "$example" $flags

libdir=$(dirname "$(find "$tmp/root" -name 'libgstzerocopy-1.0.so' | head -n 1)")
LD_LIBRARY_PATH="$libdir" "$tmp/example"
# It must have run against the installed library, not another copy.
LD_LIBRARY_PATH="$libdir" ldd "$tmp/example" | grep -q "$tmp/root" || {
	echo "example did not link the installed library"; exit 1; }
echo "ok: example built and ran against the installed library"
