#!/bin/sh
# Installs the build into a scratch directory and, with nothing but what
# was installed (headers, libraries, .pc files, the GstZc typelib):
# - builds and runs the docs/allocator.md example;
# - builds every C/C++ example of examples/ with pkg-config alone (they need
#   zcam, vkms or a fence source to run, which only the test VM has; the
#   GstHarness example runs here and skips with 77 when the kernel has no
#   fence source);
# - imports GstZc in Python through GI_TYPELIB_PATH and uses the fence meta.
# Usage: installed.sh BUILD_DIR EXAMPLE.c DOC.md SOURCE_ROOT INTROSPECTION
set -eu
build=$1
example=$2
doc=$3
src=$4
introspection=$5
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

# The .pc files name the final prefix; point them into the scratch root.
# Only ours are rewritten: the GStreamer packages they require come from the
# system.
prefix=$(sed -n 's/^prefix=//p' "$pc")
mkdir "$tmp/pc"
for f in "$(dirname "$pc")"/gstzerocopy*.pc; do
	sed "s|^prefix=.*|prefix=$tmp/root$prefix|" "$f" >"$tmp/pc/$(basename "$f")"
done
[ -f "$tmp/pc/gstzerocopy-check-1.0.pc" ] || {
	echo "gstzerocopy-check-1.0.pc was not installed"; exit 1; }
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

# The examples, each built as its header comment says.
cflags="-Wall -Wextra -Werror"
for c in zc-consumer zc-camera-app; do
	# shellcheck disable=SC2046,SC2086
	${CC:-cc} -std=gnu11 $cflags -o "$tmp/$c" "$src/examples/$c.c" \
		$(pkg-config --cflags --libs gstzerocopy-1.0 gstreamer-app-1.0)
	echo "ok: examples/$c.c built with pkg-config"
done
# shellcheck disable=SC2046,SC2086
${CXX:-c++} -std=c++20 $cflags -o "$tmp/zc-producer" "$src/examples/zc-producer.cpp" \
	$(pkg-config --cflags --libs gstzerocopy-1.0 gstreamer-app-1.0)
echo "ok: examples/zc-producer.cpp built with pkg-config"
# shellcheck disable=SC2046,SC2086
${CC:-cc} -std=gnu11 $cflags -o "$tmp/zc-harness-test" "$src/examples/zc-harness-test.c" \
	$(pkg-config --cflags --libs gstzerocopy-check-1.0 gstreamer-check-1.0)
LD_LIBRARY_PATH="$libdir" ldd "$tmp/zc-harness-test" | grep -q "$tmp/root.*libgstzerocopy-check-1.0" || {
	echo "zc-harness-test did not link the installed check library"; exit 1; }
status=0
GST_PLUGIN_PATH="$build/plugins" LD_LIBRARY_PATH="$libdir" "$tmp/zc-harness-test" || status=$?
case $status in
	0) echo "ok: examples/zc-harness-test.c built and passed" ;;
	77) echo "ok: examples/zc-harness-test.c built; it skipped (no fence source in this kernel)" ;;
	*) echo "zc-harness-test failed ($status)"; exit 1 ;;
esac

# Python through the installed typelib.
if [ "$introspection" != true ]; then
	# CI installs the scanner (tests/setup-deps): missing there is a failure.
	if [ "${CI:-}" = true ]; then
		echo "built without introspection under CI: is g-ir-scanner installed?"
		exit 1
	fi
	echo "note: built without introspection (no g-ir-scanner): GstZc typelib not checked"
	exit 0
fi
typelib=$(find "$tmp/root" -name GstZc-1.0.typelib | head -n 1)
[ -n "$typelib" ] || { echo "GstZc-1.0.typelib was not installed"; exit 1; }
[ -n "$(find "$tmp/root" -name GstZc-1.0.gir)" ] || { echo "GstZc-1.0.gir was not installed"; exit 1; }
GI_TYPELIB_PATH=$(dirname "$typelib") LD_LIBRARY_PATH="$libdir" /usr/bin/python3 - "$tmp/root" <<'PY'
import os, sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstZc", "1.0")
from gi.repository import GIRepository, Gst, GstZc  # noqa: E402

root = sys.argv[1]
path = GIRepository.Repository.get_default().get_typelib_path("GstZc")
assert path.startswith(root), f"GstZc typelib from {path}, not the installed one"
Gst.init(None)
alloc = GstZc.Allocator.new("auto", None)
pool = GstZc.BufferPool.new(alloc)
config = pool.get_config()
Gst.BufferPool.config_set_params(
    config, Gst.Caps.from_string("video/x-raw,format=NV12,width=64,height=48"), 0, 1, 2)
assert pool.set_config(config) and pool.set_active(True)
ret, buf = pool.acquire_buffer(None)
assert ret == Gst.FlowReturn.OK
assert GstZc.buffer_get_fence_meta(buf) is None
meta = GstZc.buffer_add_fence_meta(buf)
# A pipe's read end stands in for a fence: it "signals" once readable.
r, w = os.pipe()
assert meta.add_acquire_fence(r)  # the meta owns r now
assert GstZc.buffer_get_fence_meta(buf).get_acquire_fence() >= 0
assert meta.wait_acquire(0) != 0  # pending
os.write(w, b"x")
assert meta.wait_acquire(Gst.SECOND) == 0
os.close(w)
pool.set_active(False)
print(f"ok: GstZc from {path}: {alloc.get_backend()} pool, fence meta waited on")
PY
