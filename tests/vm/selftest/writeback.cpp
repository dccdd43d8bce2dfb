// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Harness self-test: a frame shown on vkms is read back through the writeback
// connector and must match the source pixel for pixel. Different frames are
// shown in turn so that a writeback that returned stale or untouched memory
// fails; the last one is shown on the display connector and captured the way
// the display tests capture what a sink shows.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "kmstest.h"

using namespace zctest;

namespace {

// Distinct in every pixel and different for each `seed`.
uint32_t
pattern (uint32_t x, uint32_t y, uint32_t seed)
{
  uint32_t r = (x + seed * 7) & 0xff, g = (y + seed * 13) & 0xff,
           b = (x ^ y ^ seed) & 0xff;
  return (r << 16) | (g << 8) | b;
}

unsigned
count_mismatches (const DumbBuffer &wb, uint32_t seed)
{
  unsigned bad = 0;
  for (uint32_t y = 0; y < wb.height; y++) {
    for (uint32_t x = 0; x < wb.width; x++) {
      uint32_t got = wb.row (y)[x] & 0xffffff, want = pattern (x, y, seed);
      if (got != want && bad++ < 5)
        printf ("# (%u,%u): got %06x want %06x\n", x, y, got, want);
    }
  }
  return bad;
}

void
fill (DumbBuffer &b, uint32_t seed)
{
  for (uint32_t y = 0; y < b.height; y++)
    for (uint32_t x = 0; x < b.width; x++)
      b.row (y)[x] = pattern (x, y, seed);
}

// A mode-sized source frame for `seed` and a writeback target filled with a
// value the composer never writes, so an untouched target fails the check.
int
make_frame (int fd, const Output &out, uint32_t seed, DumbBuffer &src,
    DumbBuffer &wb)
{
  const uint32_t w = out.mode.hdisplay, h = out.mode.vdisplay;
  int r = DumbBuffer::create (fd, w, h, src);
  if (r == 0)
    r = DumbBuffer::create (fd, w, h, wb);
  if (r) {
    printf ("# dumb buffer: %s\n", strerror (-r));
    return r;
  }
  fill (src, seed);
  memset (wb.map, 0x5a, wb.size);
  return 0;
}

// Shows `src` on the display connector (no writeback), then captures it with
// capture(), which must also route the display connector back.
int
check_capture (int fd, const Output &out, uint32_t seed)
{
  DumbBuffer src, wb;
  int r = make_frame (fd, out, seed, src, wb);
  if (r)
    return r;

  r = show (fd, out, src);
  if (r) {
    printf ("# show on the display connector: %s\n", strerror (-r));
    return r;
  }
  r = capture (fd, out, wb);
  if (r) {
    printf ("# capture: %s\n", strerror (-r));
    return r;
  }
  unsigned bad = count_mismatches (wb, seed);
  auto routed = property_value (fd, out.connector_id, DRM_MODE_OBJECT_CONNECTOR,
      "CRTC_ID");
  printf ("# capture of frame %u: %u pixels differ; display connector on CRTC "
          "%llu\n",
      seed, bad, routed ? (unsigned long long) *routed : 0ull);
  return bad || !routed || *routed != out.crtc_id ? -EIO : 0;
}

int
check_frame (int fd, const Output &out, uint32_t seed)
{
  DumbBuffer src, wb;
  int r = make_frame (fd, out, seed, src, wb);
  if (r)
    return r;

  r = show_and_capture (fd, out, src, wb);
  if (r) {
    printf ("# commit with writeback: %s\n", strerror (-r));
    return r;
  }
  unsigned bad = count_mismatches (wb, seed);
  printf ("# frame %u: %ux%u, %u of %u pixels differ\n", seed, wb.width,
      wb.height, bad, wb.width * wb.height);
  return bad ? -EIO : 0;
}

} // namespace

int
main ()
{
  printf ("1..4\n");
  DrmDevice dev = DrmDevice::open_driver ("vkms");
  if (!dev.valid ()) {
    printf ("not ok 1 - open vkms (is vkms loaded?)\n");
    return 1;
  }
  Output out;
  int r = find_output (dev.fd (), out);
  bool have = r == 0 && out.writeback_id != 0;
  printf ("%s 1 - vkms output with writeback connector (%s)\n",
      have ? "ok" : "not ok",
      r ? strerror (-r) :
          (out.writeback_id ? "found" : "no writeback connector"));
  if (!have)
    return 1;
  int fails = 0;
  for (uint32_t seed = 1; seed <= 2; seed++) {
    r = check_frame (dev.fd (), out, seed);
    printf ("%s %u - frame %u read back through writeback matches\n",
        r ? "not ok" : "ok", seed + 1, seed);
    fails += r != 0;
  }
  r = check_capture (dev.fd (), out, 3);
  printf ("%s 4 - capture() of the displayed frame matches and restores "
          "routing\n",
      r ? "not ok" : "ok");
  fails += r != 0;
  return fails ? 1 : 0;
}
