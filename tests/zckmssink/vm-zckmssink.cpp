// SPDX-License-Identifier: LGPL-2.1-or-later
//
// zckmssink on vkms: what the CRTC composed is read back through the
// writeback connector (tools/kmstest) and compared with the source.
// The sink gets the test's DRM fd (fd property) so that the test, as the
// same DRM master, can route the writeback connector between frames.
// Source frames are dumb buffers of a second vkms fd, exported as dma-bufs
// (a separate fd keeps the sink's GEM handles apart from the test's).
// Standard headers first: gstcheck.h defines a fail() macro.
#include <atomic>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <thread>
#include <sys/ioctl.h>
#include <unistd.h>
#include <utility>

#include <gst/allocators/allocators.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/zerocopy/check/gstzctestfence.h>
#include <gst/zerocopy/zerocopy.h>

#include "kmstest.h"
#include "zc-drm-dumb.h"

using namespace zctest;

namespace {

struct Env
{
  DrmDevice master; // given to the sink; used for capture
  DrmDevice src;    // where the source frames live
  Output out;
  DumbBuffer wb;
};

Env *env;

uint32_t
pattern (uint32_t x, uint32_t y, uint32_t seed)
{
  return (((x * 7 + y * 3 + seed) & 0xff) << 16) | (((x + y * 5) & 0xff) << 8) |
      ((x ^ y ^ seed) & 0xff);
}

void
fill (DumbBuffer &b, uint32_t seed)
{
  for (uint32_t y = 0; y < b.height; y++)
    for (uint32_t x = 0; x < b.width; x++)
      b.row (y)[x] = pattern (x, y, seed);
}

// A GstBuffer over a dma-buf export of `b`, with its real stride.
GstBuffer *
dmabuf_buffer (DumbBuffer &b)
{
  static GstAllocator *alloc = gst_dmabuf_allocator_new ();
  int fd = b.export_dmabuf ();
  fail_unless (fd >= 0);
  GstBuffer *buf = gst_buffer_new ();
  gst_buffer_append_memory (buf,
      gst_dmabuf_allocator_alloc (alloc, fd, b.size));
  gsize offset[4] = { 0 };
  gint stride[4] = { gint (b.pitch) };
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_FORMAT_BGRx, b.width, b.height, 1, offset, stride);
  return buf;
}

GstHarness *
make_sink (guint w, guint h)
{
  GstElement *sink = gst_element_factory_make ("zckmssink", nullptr);
  fail_unless (sink != nullptr);
  g_object_set (sink, "fd", env->master.fd (), "sync", FALSE, nullptr);
  GstHarness *h_ = gst_harness_new_with_element (sink, "sink", nullptr);
  gst_object_unref (sink);
  gchar *caps = g_strdup_printf (
      "video/x-raw,format=BGRx,width=%u,height=%u,framerate=30/1", w, h);
  gst_harness_set_src_caps_str (h_, caps);
  g_free (caps);
  return h_;
}

guint64
element_stat (GstElement *sink, const char *name)
{
  GstStructure *s = nullptr;
  g_object_get (sink, "stats", &s, nullptr);
  guint64 v = 0;
  fail_unless (gst_structure_get_uint64 (s, name, &v));
  gst_structure_free (s);
  return v;
}

guint64
sink_stat (GstHarness *h, const char *name)
{
  return element_stat (h->element, name);
}

// A launch line with a "zckmssink name=s" on the test's DRM master, played
// until EOS (an error fails the test with its text); NULL state on scope exit.
// `prepare`, when given, sees the sink before the pipeline starts.
struct SinkPipeline
{
  GstElement *pipe = nullptr;
  GstElement *sink = nullptr;

  explicit SinkPipeline (const char *desc, int timeout_s = 20,
      void (*prepare) (GstElement *sink) = nullptr)
  {
    GError *err = nullptr;
    pipe = gst_parse_launch (desc, &err);
    fail_unless (pipe != nullptr && err == nullptr);
    sink = gst_bin_get_by_name (GST_BIN (pipe), "s");
    fail_unless (sink != nullptr);
    g_object_set (sink, "fd", env->master.fd (), nullptr);
    if (prepare)
      prepare (sink);
    fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) !=
        GST_STATE_CHANGE_FAILURE);
    GstBus *bus = gst_element_get_bus (pipe);
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, timeout_s * GST_SECOND,
        GstMessageType (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    gst_object_unref (bus);
    fail_unless (msg != nullptr);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *e = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_error (msg, &e, &dbg);
      g_printerr ("error: %s (%s)\n", e->message, dbg);
      fail ("pipeline error");
    }
    gst_message_unref (msg);
  }
  ~SinkPipeline ()
  {
    gst_element_set_state (pipe, GST_STATE_NULL);
    gst_object_unref (sink);
    gst_object_unref (pipe);
  }
  SinkPipeline (const SinkPipeline &) = delete;
  SinkPipeline &operator= (const SinkPipeline &) = delete;
  guint64 stat (const char *name) const { return element_stat (sink, name); }
};

// Waits (bounded) until the counter reaches `want`.
bool
wait_stat (GstHarness *h, const char *name, guint64 want, int timeout_ms = 5000)
{
  for (int i = 0; i < timeout_ms / 10; i++) {
    if (sink_stat (h, name) >= want)
      return true;
    g_usleep (10000);
  }
  return sink_stat (h, name) >= want;
}

// Waits for `n` vblanks of the output's CRTC: a display-paced pause for
// checks that something did NOT happen (a frame that must not be shown yet).
void
wait_vblanks (unsigned n)
{
  drmVBlank vbl {};
  vbl.request.type = drmVBlankSeqType (DRM_VBLANK_RELATIVE |
      ((env->out.crtc_index << DRM_VBLANK_HIGH_CRTC_SHIFT) &
          DRM_VBLANK_HIGH_CRTC_MASK));
  vbl.request.sequence = n;
  fail_unless_equals_int (drmWaitVBlank (env->master.fd (), &vbl), 0);
}

// Compares the capture with a w x h pattern(seed) placed at (x0, y0); the
// rest must be black.
void
check_pattern (uint32_t w, uint32_t h, uint32_t seed, uint32_t x0, uint32_t y0)
{
  fail_unless_equals_int (capture (env->master.fd (), env->out, env->wb), 0);
  unsigned bad = 0;
  for (uint32_t y = 0; y < env->wb.height; y++) {
    for (uint32_t x = 0; x < env->wb.width; x++) {
      uint32_t want = 0;
      if (x >= x0 && y >= y0 && x < x0 + w && y < y0 + h)
        want = pattern (x - x0, y - y0, seed);
      uint32_t got = env->wb.row (y)[x] & 0xffffff;
      if (got != want && bad++ < 5)
        g_printerr ("pixel %u,%u: got %06x want %06x\n", x, y, got, want);
    }
  }
  fail_unless_equals_int (bad, 0);
}

// Compares the capture with `src` (filled with fill(seed)) placed at (x0, y0).
void
check_capture (const DumbBuffer *src, uint32_t seed, uint32_t x0, uint32_t y0)
{
  check_pattern (src ? src->width : 0, src ? src->height : 0, seed, x0, y0);
}

int
count_lines (const std::string &path, const std::string &prefix)
{
  std::ifstream f (path);
  std::string line;
  int n = 0;
  while (std::getline (f, line))
    if (line.rfind (prefix, 0) == 0)
      n++;
  return n;
}

std::string
vkms_debugfs ()
{
  for (int i = 0; i < 16; i++) {
    std::string dir = "/sys/kernel/debug/dri/" + std::to_string (i);
    std::ifstream f (dir + "/name");
    std::string name;
    if (std::getline (f, name) && name.find ("vkms") != std::string::npos)
      return dir;
  }
  return {};
}

} // namespace

GST_START_TEST (test_fullscreen_dmabuf)
{
  const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
  DumbBuffer frame;
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), W, H, frame), 0);
  fill (frame, 1);
  GstHarness *h = make_sink (W, H);
  fail_unless_equals_int (gst_harness_push (h, dmabuf_buffer (frame)),
      GST_FLOW_OK);
  fail_unless (wait_stat (h, "shown", 1));
  fail_unless_equals_uint64 (sink_stat (h, "copies"), 0);
  check_capture (&frame, 1, 0, 0);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_centred_640x480)
{
  DumbBuffer frame;
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), 640, 480, frame),
      0);
  fill (frame, 2);
  GstHarness *h = make_sink (640, 480);
  fail_unless_equals_int (gst_harness_push (h, dmabuf_buffer (frame)),
      GST_FLOW_OK);
  fail_unless (wait_stat (h, "shown", 1));
  fail_unless_equals_uint64 (sink_stat (h, "copies"), 0);
  check_capture (&frame, 2, (env->out.mode.hdisplay - 640) / 2,
      (env->out.mode.vdisplay - 480) / 2);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_copy_path)
{
  // System memory with GStreamer's default stride: not importable.
  DumbBuffer ref; // only a pixel reference for check_capture
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), 320, 240, ref),
      0);
  fill (ref, 3);
  GstBuffer *buf = gst_buffer_new_allocate (nullptr, 320 * 240 * 4, nullptr);
  GstMapInfo map;
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (uint32_t y = 0; y < 240; y++)
    memcpy (map.data + y * 320 * 4, ref.row (y), 320 * 4);
  gst_buffer_unmap (buf, &map);

  GstHarness *h = make_sink (320, 240);
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  fail_unless (wait_stat (h, "shown", 1));
  fail_unless_equals_uint64 (sink_stat (h, "copies"), 1);
  check_capture (&ref, 3, (env->out.mode.hdisplay - 320) / 2,
      (env->out.mode.vdisplay - 240) / 2);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_release_fence)
{
  const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
  DumbBuffer fa, fb;
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), W, H, fa), 0);
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), W, H, fb), 0);
  fill (fa, 4);
  fill (fb, 5);
  GstBuffer *a = dmabuf_buffer (fa), *b = dmabuf_buffer (fb);
  GstZcFenceMeta *ma = gst_zc_buffer_add_fence_meta (a);
  GstZcFenceMeta *mb = gst_zc_buffer_add_fence_meta (b);
  GstHarness *h = make_sink (W, H);

  fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (a)),
      GST_FLOW_OK);
  fail_unless (wait_stat (h, "shown", 1));
  // On screen: the sink holds it and gave it no release fence yet.
  fail_unless (GST_MINI_OBJECT_REFCOUNT_VALUE (a) > 1);
  fail_unless_equals_int (gst_zc_fence_meta_get_n_release_fences (ma), 0);

  fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (b)),
      GST_FLOW_OK);
  fail_unless (wait_stat (h, "shown", 2));
  // A came back with the commit's out-fence, which has signalled now
  // that B is on screen; B is held.
  fail_unless_equals_int (gst_zc_fence_meta_get_n_release_fences (ma), 1);
  GstZcSyncFileInfo info;
  fail_unless (
      gst_zc_sync_file_get_status (gst_zc_fence_meta_get_release_fence (ma, 0),
          &info));
  fail_unless_equals_int (info.status, 1);
  fail_unless_equals_int (GST_MINI_OBJECT_REFCOUNT_VALUE (a), 1);
  fail_unless (GST_MINI_OBJECT_REFCOUNT_VALUE (b) > 1);
  fail_unless_equals_int (gst_zc_fence_meta_get_n_release_fences (mb), 0);
  check_capture (&fb, 5, 0, 0);
  gst_harness_teardown (h);
  gst_buffer_unref (a);
  gst_buffer_unref (b);
}
GST_END_TEST;

// force-modeset: a 640x480 frame switches the output to 640x480 and fills it.
GST_START_TEST (test_force_modeset)
{
  DumbBuffer frame, wb;
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), 640, 480, frame),
      0);
  fail_unless_equals_int (DumbBuffer::create (env->master.fd (), 640, 480, wb),
      0);
  fill (frame, 11);
  GstElement *sink = gst_element_factory_make ("zckmssink", nullptr);
  g_object_set (sink, "fd", env->master.fd (), "sync", FALSE, "force-modeset",
      TRUE, nullptr);
  GstHarness *h = gst_harness_new_with_element (sink, "sink", nullptr);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=BGRx,width=640,height=480");
  fail_unless_equals_int (gst_harness_push (h, dmabuf_buffer (frame)),
      GST_FLOW_OK);
  fail_unless (wait_stat (h, "shown", 1));
  fail_unless_equals_int (capture (env->master.fd (), env->out, wb), 0);
  unsigned bad = 0;
  for (uint32_t y = 0; y < 480; y++)
    for (uint32_t x = 0; x < 640; x++)
      bad += (wb.row (y)[x] & 0xffffff) != pattern (x, y, 11);
  fail_unless_equals_int (bad, 0);
  gst_harness_teardown (h);
}
GST_END_TEST;

// A file that is not DRM master: a clear error at start, not a commit failure.
GST_START_TEST (test_not_master)
{
  GstElement *sink = gst_element_factory_make ("zckmssink", nullptr);
  g_object_set (sink, "fd", env->src.fd (), nullptr);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (sink, bus);
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != nullptr);
  GError *e = nullptr;
  gst_message_parse_error (msg, &e, nullptr);
  fail_unless (
      g_error_matches (e, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_BUSY));
  fail_unless (strstr (e->message, "controls the display") != nullptr);
  g_error_free (e);
  gst_message_unref (msg);
  gst_element_set_state (sink, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (sink);
}
GST_END_TEST;

// A fence only the test signals (GstZcTestFence, libgstzerocopy-check):
// sw_sync where the kernel has it, which never signals by itself and can fail
// with an error; else vgem, which signals by itself 10 s after it was made.
// The debug kernel's guest asks for sw_sync (GST_ZC_TEST_FENCE_SOURCE).
struct PendingFence
{
  GstZcTestFence *fence = nullptr;

  PendingFence ()
  {
    GError *err = nullptr;
    fence = gst_zc_test_fence_new (nullptr, &err);
    fail_unless (fence != nullptr, "no test fence: %s",
        err ? err->message : "?");
  }
  ~PendingFence () { gst_zc_test_fence_free (fence); }
  PendingFence (const PendingFence &) = delete;
  PendingFence &operator= (const PendingFence &) = delete;

  // A new sync_file fd of the fence; the caller owns it.
  int sync_file ()
  {
    int fd = gst_zc_test_fence_dup_fd (fence);
    fail_unless (fd >= 0, "dup: %s", g_strerror (-fd));
    return fd;
  }
  void signal (bool with_error = false)
  {
    GError *err = nullptr;
    fail_unless (gst_zc_test_fence_signal (fence, with_error, &err),
        "signal: %s", err ? err->message : "?");
  }
};

// Shows frame `good`, then pushes `bad` with a fence that is signalled
// only after the sink's fence-timeout: the frame is dropped with a warning.
GST_START_TEST (test_fence_timeout)
{
  const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
  DumbBuffer good, bad;
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), W, H, good), 0);
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), W, H, bad), 0);
  fill (good, 6);
  fill (bad, 7);

  GstElement *sink = gst_element_factory_make ("zckmssink", nullptr);
  g_object_set (sink, "fd", env->master.fd (), "sync", FALSE, "fence-timeout",
      300 * GST_MSECOND, nullptr);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (sink, bus);
  GstHarness *h = gst_harness_new_with_element (sink, "sink", nullptr);
  gst_object_unref (sink);
  gchar *caps = g_strdup_printf ("video/x-raw,format=BGRx,width=%u,height=%u",
      W, H);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);

  fail_unless_equals_int (gst_harness_push (h, dmabuf_buffer (good)),
      GST_FLOW_OK);
  fail_unless (wait_stat (h, "shown", 1));

  PendingFence pending;
  GstBuffer *buf = dmabuf_buffer (bad);
  GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta (buf);
  fail_unless (
      gst_zc_fence_meta_add_acquire_fence (meta, pending.sync_file ()));
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  // The streaming thread did not wait for the fence: it was back before
  // the fence-timeout ran out (a sink waiting in render would have counted
  // the timeout before returning).
  fail_unless_equals_uint64 (sink_stat (h, "fence-timeouts"), 0);

  fail_unless (wait_stat (h, "fence-timeouts", 1, 5000));
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != nullptr);
  gst_message_unref (msg);
  pending.signal ();
  fail_unless_equals_uint64 (sink_stat (h, "shown"), 1);
  fail_unless_equals_uint64 (sink_stat (h, "fence-errors"), 0);
  check_capture (&good, 6, 0, 0);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}
GST_END_TEST;

GST_START_TEST (test_teardown_releases_all)
{
  std::string dbg = vkms_debugfs ();
  fail_if (dbg.empty (), "no vkms in /sys/kernel/debug/dri");
  const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
  DumbBuffer frame;
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), W, H, frame), 0);
  fill (frame, 8);
  GstBuffer *buf = dmabuf_buffer (frame);
  const int fbs = count_lines (dbg + "/framebuffer", "framebuffer[");
  const int bufs = count_lines ("/sys/kernel/debug/dma_buf/bufinfo", "");

  for (int round = 0; round < 2; round++) {
    GstHarness *h = make_sink (W, H);
    fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (buf)),
        GST_FLOW_OK);
    GstBuffer *sys = gst_buffer_new_allocate (nullptr, W * H * 4, nullptr);
    gst_buffer_memset (sys, 0, 0x40, W * H * 4);
    fail_unless_equals_int (gst_harness_push (h, sys), GST_FLOW_OK);
    fail_unless (wait_stat (h, "shown", 1));
    fail_unless (count_lines (dbg + "/framebuffer", "framebuffer[") > fbs);
    gst_harness_teardown (h);
    // The buffer is still alive here (held by the test): the sink's
    // framebuffer for it must be gone all the same.
    fail_unless_equals_int (count_lines (dbg + "/framebuffer", "framebuffer["),
        fbs);
    fail_unless_equals_int (count_lines ("/sys/kernel/debug/dma_buf/bufinfo",
                                ""),
        bufs);
  }
  gst_buffer_unref (buf);
}
GST_END_TEST;

// videotestsrc writes into the pool the sink proposes: no copies.
GST_START_TEST (test_proposed_pool)
{
  SinkPipeline p ("videotestsrc num-buffers=4 pattern=white ! "
                  "video/x-raw,format=BGRx,width=640,height=480 ! zckmssink "
                  "name=s sync=false");
  guint64 shown = p.stat ("shown");
  fail_unless (shown >= 1);
  fail_unless_equals_uint64 (p.stat ("copies"), 0);

  // White 640x480 centred on black. The sink posts EOS only once its last
  // frame is on screen, so no commit of its own can land during the
  // capture (which would lose vkms's writeback job, see kmstest.h).
  int r = capture (env->master.fd (), env->out, env->wb);
  if (r)
    g_printerr ("capture: %s; shown %" G_GUINT64_FORMAT "\n", g_strerror (-r),
        shown);
  fail_unless_equals_int (r, 0);
  const uint32_t x0 = (env->out.mode.hdisplay - 640) / 2;
  const uint32_t y0 = (env->out.mode.vdisplay - 480) / 2;
  fail_unless_equals_int (env->wb.row (y0)[x0] & 0xffffff, 0xffffff);
  fail_unless_equals_int (env->wb.row (y0 + 479)[x0 + 639] & 0xffffff,
      0xffffff);
  fail_unless_equals_int (env->wb.row (y0 - 1)[x0] & 0xffffff, 0);
  fail_unless_equals_int (env->wb.row (y0)[x0 - 1] & 0xffffff, 0);
}
GST_END_TEST;

// A frame whose acquire fence signals later: push returns at once, the old
// frame stays on screen until the fence signals, then the new one shows.
GST_START_TEST (test_fence_delayed)
{
  const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
  DumbBuffer frame_a, frame_b;
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), W, H, frame_a),
      0);
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), W, H, frame_b),
      0);
  fill (frame_a, 9);
  fill (frame_b, 10);
  GstHarness *h = make_sink (W, H);
  g_object_set (h->element, "fence-timeout", 10 * GST_SECOND, nullptr);
  fail_unless_equals_int (gst_harness_push (h, dmabuf_buffer (frame_a)),
      GST_FLOW_OK);
  fail_unless (wait_stat (h, "shown", 1));

  PendingFence pending;
  GstBuffer *buf = dmabuf_buffer (frame_b);
  GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta (buf);
  fail_unless (
      gst_zc_fence_meta_add_acquire_fence (meta, pending.sync_file ()));
  int fence_copy = gst_zc_sync_file_dup (
      gst_zc_fence_meta_get_acquire_fence (meta));
  fail_unless (fence_copy >= 0);
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  // Push returned while the fence was pending (only the test signals it;
  // a sink waiting in render would still be stuck here).
  GstZcSyncFileInfo fi {};
  fail_unless (gst_zc_sync_file_get_status (fence_copy, &fi));
  fail_unless_equals_int (fi.status, 0);
  close (fence_copy);

  // A sink that ignored the fence would flip at the next vblank.
  wait_vblanks (3);
  fail_unless_equals_uint64 (sink_stat (h, "shown"), 1);
  check_capture (&frame_a, 9, 0, 0);

  pending.signal ();
  // Once shown counts it, the flip is done and nothing else is pending.
  fail_unless (wait_stat (h, "shown", 2));
  check_capture (&frame_b, 10, 0, 0);
  fail_unless_equals_uint64 (sink_stat (h, "fence-timeouts"), 0);
  gst_harness_teardown (h);
}
GST_END_TEST;

// EOS pushed from its own thread; records what the sink showed when the
// push of EOS returned.
struct EosPush
{
  GstHarness *h;
  std::atomic<bool> returned { false };
  guint64 shown_at_return = 0;
  std::thread thread;

  explicit EosPush (GstHarness *harness) : h (harness)
  {
    thread = std::thread ([this] {
      gst_harness_push_event (h, gst_event_new_eos ());
      shown_at_return = sink_stat (h, "shown");
      returned = true;
    });
  }
  void join () { thread.join (); }
};

// The harness with frame A on screen and frame B waiting for a fence that
// only the test signals.
static GstHarness *
sink_with_pending_frame (PendingFence &pending, DumbBuffer &fa, DumbBuffer &fb)
{
  const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), W, H, fa), 0);
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), W, H, fb), 0);
  fill (fa, 15);
  fill (fb, 16);
  GstHarness *h = make_sink (W, H);
  g_object_set (h->element, "fence-timeout", 30 * GST_SECOND, nullptr);
  fail_unless_equals_int (gst_harness_push (h, dmabuf_buffer (fa)),
      GST_FLOW_OK);
  fail_unless (wait_stat (h, "shown", 1));
  GstBuffer *buf = dmabuf_buffer (fb);
  GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta (buf);
  fail_unless (
      gst_zc_fence_meta_add_acquire_fence (meta, pending.sync_file ()));
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  return h;
}

// A frame whose acquire fence fails (sw_sync signals it with an error while
// it waits): it is never shown, counts as a fence error, and the stream goes
// on with the next frame. vgem fences cannot fail: not run without sw_sync.
GST_START_TEST (test_fence_error_pending)
{
  PendingFence pending;
  if (!gst_zc_test_fence_can_signal_error (pending.fence)) {
    g_print ("NOT RUN: test_fence_error_pending: %s fences cannot fail "
             "(sw_sync, on the debug kernel, can)\n",
        gst_zc_test_fence_get_source (pending.fence));
    return;
  }
  DumbBuffer fa, fb, fc;
  GstHarness *h = sink_with_pending_frame (pending, fa, fb);
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (),
                              env->out.mode.hdisplay, env->out.mode.vdisplay,
                              fc),
      0);
  fill (fc, 19);
  wait_vblanks (2);
  fail_unless_equals_uint64 (sink_stat (h, "shown"), 1);
  pending.signal (true);
  fail_unless (wait_stat (h, "fence-errors", 1, 5000));
  wait_vblanks (2);
  fail_unless_equals_uint64 (sink_stat (h, "shown"), 1);
  check_capture (&fa, 15, 0, 0);
  fail_unless_equals_int (gst_harness_push (h, dmabuf_buffer (fc)),
      GST_FLOW_OK);
  fail_unless (wait_stat (h, "shown", 2));
  check_capture (&fc, 19, 0, 0);
  fail_unless_equals_uint64 (sink_stat (h, "fence-errors"), 1);
  fail_unless_equals_uint64 (sink_stat (h, "fence-timeouts"), 0);
  fail_unless_equals_uint64 (sink_stat (h, "replaced"), 0);
  gst_harness_teardown (h);
}
GST_END_TEST;

// EOS goes on only once the last frame is on screen.
GST_START_TEST (test_eos_after_last_flip)
{
  DumbBuffer fa, fb;
  PendingFence pending;
  GstHarness *h = sink_with_pending_frame (pending, fa, fb);
  EosPush eos (h);
  wait_vblanks (3);
  fail_if (eos.returned.load (),
      "EOS passed while the last frame waited for its fence");
  pending.signal ();
  eos.join ();
  fail_unless_equals_uint64 (eos.shown_at_return, 2);
  check_capture (&fb, 16, 0, 0);
  gst_harness_teardown (h);
}
GST_END_TEST;

// A state change ends the EOS wait at once (basesink's unlock), without the
// pending frame's fence.
GST_START_TEST (test_eos_wait_unlocked)
{
  DumbBuffer fa, fb;
  PendingFence pending;
  GstHarness *h = sink_with_pending_frame (pending, fa, fb);
  EosPush eos (h);
  wait_vblanks (1);
  gst_element_set_state (h->element, GST_STATE_READY);
  eos.join ();
  // The wait ended on the state change, not on the fence: the frame was
  // not shown and the fence is still pending.
  fail_unless_equals_uint64 (eos.shown_at_return, 1);
  GstZcSyncFileInfo fi {};
  fail_unless (
      gst_zc_sync_file_get_status (gst_zc_test_fence_get_fd (pending.fence),
          &fi));
  fail_unless_equals_int (fi.status, 0);
  pending.signal ();
  gst_harness_teardown (h);
}
GST_END_TEST;

// vivid captures straight into the sink's dumb buffers (dmabuf-import).
// Not on the debug kernel: there 6.1's own locking gives a lockdep report
// (dma_buf_vmap() takes dmabuf->lock, then vkms's drm_gem_shmem_vmap() takes
// shmem->vmap_lock; vkms takes them the other way round), and lockdep stops
// checking after its first report (docs/testing.md).
GST_START_TEST (test_vivid_import)
{
  const char *kernel = g_getenv ("ZC_VM_KERNEL");
  if (kernel && strcmp (kernel, "debug") == 0) {
    g_print ("NOT RUN: test_vivid_import on the debug kernel: 6.1's "
             "dma_buf_vmap/drm_gem_shmem_vmap lockdep report "
             "(docs/testing.md)\n");
    return;
  }
  FILE *p = popen (SRC_ROOT "/tests/common/v4l2dev vivid-000-vid-cap", "r");
  char dev[64] = "";
  fail_unless (p && fgets (dev, sizeof (dev), p));
  pclose (p);
  dev[strcspn (dev, "\n")] = 0;
  gchar *desc = g_strdup_printf ("v4l2src device=%s io-mode=dmabuf-import "
                                 "num-buffers=3 ! "
                                 "video/x-raw,format=BGRx,width=640,height=480 "
                                 "! zckmssink name=s sync=false",
      dev);
  SinkPipeline pl (desc, 30);
  g_free (desc);
  fail_unless (pl.stat ("shown") >= 1);
  fail_unless_equals_uint64 (pl.stat ("copies"), 0);
}
GST_END_TEST;

static bool
write_file (const char *path, const char *value)
{
  FILE *f = fopen (path, "w");
  if (!f)
    return false;
  bool ok = fputs (value, f) >= 0;
  return fclose (f) == 0 && ok;
}

// The zcam fault-injection knobs this file uses; restored after the run too
// (a failing test exits its forked child before restoring them).
const char *const ZCAM_FAIL_FENCES = "/sys/kernel/debug/zcam/zcam0/fail_fences";
const char *const ZCAM_FENCE_DELAY =
    "/sys/kernel/debug/zcam/zcam0/fence_delay_ms";

static bool
have_zcam ()
{
  GstPluginFeature *zcamsrc = gst_registry_lookup_feature (gst_registry_get (),
      "zcamsrc");
  if (zcamsrc)
    gst_object_unref (zcamsrc);
  return zcamsrc && access (ZCAM_FENCE_DELAY, W_OK) == 0;
}

// What the zcamsrc src pad saw: the buffer, a copy of its acquire fence,
// and the fence's status when the push of that buffer had returned (the EOS
// that follows it in the same streaming thread is pushed only then).
struct EarlyPush
{
  GMutex lock;
  GCond cond;
  GstBuffer *buffer = nullptr;
  int fence = -1;
  int status_at_return = -100;
  gint64 return_ns = 0; // CLOCK_MONOTONIC, like sync_file timestamps
  bool returned = false;
};

static GstPadProbeReturn
early_push_probe (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *ep = static_cast<EarlyPush *> (data);
  if (GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
      (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) && buf) {
    g_mutex_lock (&ep->lock);
    if (!ep->buffer) {
      ep->buffer = gst_buffer_ref (buf);
      GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf);
      int acquire = meta ? gst_zc_fence_meta_get_acquire_fence (meta) : -1;
      ep->fence = acquire >= 0 ? gst_zc_sync_file_dup (acquire) : -1;
    }
    g_mutex_unlock (&ep->lock);
    return GST_PAD_PROBE_OK;
  }
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (ev && GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
    g_mutex_lock (&ep->lock);
    GstZcSyncFileInfo fi {};
    if (ep->fence >= 0 && gst_zc_sync_file_get_status (ep->fence, &fi))
      ep->status_at_return = fi.status;
    ep->return_ns = g_get_monotonic_time () * 1000;
    ep->returned = true;
    g_cond_broadcast (&ep->cond);
    g_mutex_unlock (&ep->lock);
  }
  return GST_PAD_PROBE_OK;
}

// zcamsrc fence-mode=early with zcam's fence_delay_ms: the buffer reaches the
// sink long before its fence signals. The sink's render returns at once (the
// fence is still pending when the push has returned), the display keeps the
// old picture until the fence signalled, then shows the zcam frame.
GST_START_TEST (test_fence_delay_zcam)
{
  if (!have_zcam ())
    fail ("zcam.ko and zcamsrc are needed for this test");
  const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;

  // A known picture on screen before the sink's first commit.
  DumbBuffer grey;
  fail_unless_equals_int (DumbBuffer::create (env->master.fd (), W, H, grey),
      0);
  for (uint32_t y = 0; y < H; y++)
    for (uint32_t x = 0; x < W; x++)
      grey.row (y)[x] = 0x404040;
  fail_unless_equals_int (show (env->master.fd (), env->out, grey), 0);

  // Long enough for a capture to finish while the fence is pending.
  fail_unless (write_file (ZCAM_FENCE_DELAY, "1500"));
  gchar *desc = g_strdup_printf (
      "zcamsrc name=src fence-mode=early num-buffers=1 ! "
      "video/x-raw(memory:DMABuf),format=BGRx,width=%u,height=%u,framerate=30/"
      "1 ! "
      "zckmssink name=s sync=false fence-timeout=10000000000",
      W, H);
  GstElement *pipe = gst_parse_launch (desc, nullptr);
  g_free (desc);
  fail_unless (pipe != nullptr);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "s");
  g_object_set (sink, "fd", env->master.fd (), nullptr);
  EarlyPush ep;
  g_mutex_init (&ep.lock);
  g_cond_init (&ep.cond);
  GstPad *pad = gst_element_get_static_pad (src, "src");
  gst_pad_add_probe (pad,
      GstPadProbeType (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      early_push_probe, &ep, nullptr);
  gst_object_unref (pad);
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);

  g_mutex_lock (&ep.lock);
  gint64 end = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while (!ep.returned && g_cond_wait_until (&ep.cond, &ep.lock, end)) {
  }
  g_mutex_unlock (&ep.lock);
  fail_unless (ep.returned, "zcamsrc did not push its buffer");
  fail_unless (ep.fence >= 0, "the zcam buffer has no acquire fence");
  // The streaming thread was back before the fence signalled.
  fail_unless_equals_int (ep.status_at_return, 0);

  // Not shown yet: the screen still has the grey picture.
  unsigned bad = 0;
  fail_unless_equals_int (capture (env->master.fd (), env->out, env->wb), 0);
  for (uint32_t y = 0; y < H; y += 7)
    for (uint32_t x = 0; x < W; x += 7)
      bad += (env->wb.row (y)[x] & 0xffffff) != 0x404040;
  GstZcSyncFileInfo fi {};
  fail_unless (gst_zc_sync_file_get_status (ep.fence, &fi));
  fail_unless_equals_int (fi.status, 0); // else the check above proves nothing
  fail_unless_equals_int (bad, 0);
  fail_unless_equals_uint64 (element_stat (sink, "shown"), 0);

  // EOS comes once the frame is on screen (or dropped).
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 15 * GST_SECOND,
      GstMessageType (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  gst_object_unref (bus);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  write_file (ZCAM_FENCE_DELAY, "0");
  fail_unless (gst_zc_sync_file_get_status (ep.fence, &fi));
  fail_unless_equals_int (fi.status, 1);
  fail_unless (ep.return_ns < gint64 (fi.timestamp_ns));
  fail_unless_equals_uint64 (element_stat (sink, "shown"), 1);
  fail_unless_equals_uint64 (element_stat (sink, "fence-timeouts"), 0);
  fail_unless_equals_uint64 (element_stat (sink, "copies"), 0);

  // Now the zcam frame, pixel for pixel.
  fail_unless_equals_int (capture (env->master.fd (), env->out, env->wb), 0);
  GstPad *sinkpad = gst_element_get_static_pad (sink, "sink");
  GstCaps *caps = gst_pad_get_current_caps (sinkpad);
  gst_object_unref (sinkpad);
  GstVideoInfo info;
  fail_unless (caps && gst_video_info_from_caps (&info, caps));
  gst_caps_unref (caps);
  GstVideoFrame vf;
  fail_unless (gst_video_frame_map (&vf, &info, ep.buffer, GST_MAP_READ));
  bad = 0;
  for (uint32_t y = 0; y < H; y++) {
    auto *row = reinterpret_cast<const uint32_t *> (
        static_cast<const uint8_t *> (GST_VIDEO_FRAME_PLANE_DATA (&vf, 0)) +
        size_t (y) * GST_VIDEO_FRAME_PLANE_STRIDE (&vf, 0));
    for (uint32_t x = 0; x < W; x++)
      if ((env->wb.row (y)[x] & 0xffffff) != (row[x] & 0xffffff) && bad++ < 5)
        g_printerr ("pixel %u,%u: got %06x want %06x\n", x, y,
            env->wb.row (y)[x] & 0xffffff, row[x] & 0xffffff);
  }
  gst_video_frame_unmap (&vf);
  fail_unless_equals_int (bad, 0);

  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_buffer_unref (ep.buffer);
  close (ep.fence);
  g_mutex_clear (&ep.lock);
  g_cond_clear (&ep.cond);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipe);
}
GST_END_TEST;

static GstFlowReturn
pool_acquire (GstBufferPool *pool, GstBuffer **buf, int flags)
{
  GstBufferPoolAcquireParams p {};
  p.flags = GstBufferPoolAcquireFlags (flags);
  *buf = nullptr;
  return gst_buffer_pool_acquire_buffer (pool, buf, &p);
}

// Release fences keep the frame on screen out of the producer's hands: two
// buffers of a GstZcBufferPool (dumb buffers on vkms) go through the sink.
// B's flip is held back by an implicit fence in B's dma-buf (the kernel's
// commit waits for it), so the window between B's commit, which hands A
// back with B's out-fence, and the flip that takes A off the screen stays
// open until the test closes it.
GST_START_TEST (test_pool_reuse_order)
{
  const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
  char *node = drmGetDeviceNameFromFd2 (env->src.fd ());
  fail_unless (node != nullptr);
  GstAllocator *alloc = gst_zc_allocator_new ("dumb", node);
  free (node);
  fail_unless (alloc != nullptr);
  GstBufferPool *pool = gst_zc_buffer_pool_new (alloc);
  gchar *caps_str =
      g_strdup_printf ("video/x-raw,format=BGRx,width=%u,height=%u", W, H);
  GstCaps *caps = gst_caps_from_string (caps_str);
  g_free (caps_str);
  GstVideoInfo info;
  fail_unless (gst_video_info_from_caps (&info, caps));
  GstStructure *config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, info.size, 2, 2);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  fail_unless (gst_buffer_pool_set_config (pool, config));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  gst_caps_unref (caps);

  GstBuffer *a, *b, *x;
  fail_unless_equals_int (pool_acquire (pool, &a, 0), GST_FLOW_OK);
  fail_unless_equals_int (pool_acquire (pool, &b, 0), GST_FLOW_OK);
  GstMemory *mem_a = gst_buffer_peek_memory (a, 0),
            *mem_b = gst_buffer_peek_memory (b, 0);
  for (auto [buf, seed] : { std::pair { a, 12u }, std::pair { b, 13u } }) {
    GstVideoFrame vf;
    fail_unless (gst_video_frame_map (&vf, &info, buf, GST_MAP_WRITE));
    for (uint32_t y = 0; y < H; y++) {
      auto *row = reinterpret_cast<uint32_t *> (
          static_cast<uint8_t *> (GST_VIDEO_FRAME_PLANE_DATA (&vf, 0)) +
          size_t (y) * GST_VIDEO_FRAME_PLANE_STRIDE (&vf, 0));
      for (uint32_t xx = 0; xx < W; xx++)
        row[xx] = pattern (xx, y, seed);
    }
    gst_video_frame_unmap (&vf);
    // A producer's fence meta (no acquire fence: the frame is ready).
    gst_zc_buffer_add_fence_meta (buf);
  }

  GstHarness *h = make_sink (W, H);
  fail_unless_equals_int (gst_harness_push (h, a), GST_FLOW_OK);
  fail_unless (wait_stat (h, "shown", 1));
  // A is on screen and B with the test: nothing to hand out.
  fail_unless_equals_int (pool_acquire (pool, &x,
                              GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT),
      GST_FLOW_EOS);

  // Hold B's flip: a pending fence as a write fence of B's dma-buf.
  PendingFence fence;
  int pending = fence.sync_file ();
  fail_unless_equals_int (gst_zc_dmabuf_import_sync_file (gst_dmabuf_memory_get_fd (
                                                              mem_b),
                              GST_ZC_FENCE_ACCESS_WRITE, pending),
      0);
  close (pending);
  fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);

  // The sink committed B and gave A back with B's out-fence.
  for (int i = 0; i < 500 &&
       gst_zc_buffer_pool_get_n_fenced (GST_ZC_BUFFER_POOL (pool)) < 1;
       i++)
    g_usleep (10000);
  fail_unless_equals_int (gst_zc_buffer_pool_get_n_fenced (
                              GST_ZC_BUFFER_POOL (pool)),
      1);
  fail_unless_equals_uint64 (sink_stat (h, "shown"), 1);
  // A is still on screen: the pool does not hand it out...
  fail_unless_equals_int (pool_acquire (pool, &x,
                              GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT),
      GST_FLOW_EOS);
  // ...except to a producer that takes its release fence along, which is
  // B's out-fence: pending until the flip.
  fail_unless_equals_int (pool_acquire (pool, &x,
                              GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT |
                                  GST_ZC_BUFFER_POOL_ACQUIRE_FLAG_WITH_FENCES),
      GST_FLOW_OK);
  fail_unless (gst_buffer_peek_memory (x, 0) == mem_a);
  GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (x);
  fail_unless (meta != nullptr);
  fail_unless_equals_int (gst_zc_fence_meta_get_n_release_fences (meta), 1);
  int release = gst_zc_sync_file_dup (
      gst_zc_fence_meta_get_release_fence (meta, 0));
  fail_unless (release >= 0);
  GstZcSyncFileInfo fi {};
  fail_unless (gst_zc_sync_file_get_status (release, &fi));
  fail_unless_equals_int (fi.status, 0);
  gst_buffer_unref (x); // back to the pool, with its release fence
  fail_unless_equals_int (gst_zc_buffer_pool_get_n_fenced (
                              GST_ZC_BUFFER_POOL (pool)),
      1);

  // Let B flip: A comes back out of the pool only after that.
  fence.signal ();
  fail_unless_equals_int (pool_acquire (pool, &x, 0), GST_FLOW_OK);
  fail_unless (gst_buffer_peek_memory (x, 0) == mem_a);
  fail_unless (gst_zc_sync_file_get_status (release, &fi));
  fail_unless_equals_int (fi.status, 1);
  close (release);
  fail_unless (wait_stat (h, "shown", 2));
  // B is on screen now, A with the test.
  GstBuffer *y = nullptr;
  fail_unless_equals_int (pool_acquire (pool, &y,
                              GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT),
      GST_FLOW_EOS);
  check_pattern (W, H, 13, 0, 0);
  gst_buffer_unref (x);
  gst_harness_teardown (h);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_object_unref (alloc);
}
GST_END_TEST;

// zcam frames whose fences signal -EIO (fault injection): none is shown,
// each one that reached the display thread counts as a fence error.
GST_START_TEST (test_fence_error_zcam)
{
  const char *knob = ZCAM_FAIL_FENCES;
  if (!have_zcam ())
    fail ("zcam.ko and zcamsrc are needed for this test");
  fail_unless (write_file (knob, "1000"));
  SinkPipeline p ("zcamsrc num-buffers=4 ! "
                  "video/x-raw(memory:DMABuf),format=BGRx,width=320,"
                  "height=240,framerate=30/1 ! zckmssink name=s sync=false "
                  "fence-timeout=2000000000");
  // The last frame may still be waiting for its fence on the display thread.
  guint64 shown = 1, errors = 0, replaced = 0;
  for (int i = 0; i < 100; i++) {
    shown = p.stat ("shown");
    errors = p.stat ("fence-errors");
    replaced = p.stat ("replaced");
    if (errors + replaced >= 4)
      break;
    g_usleep (20000);
  }
  write_file (knob, "0");
  g_printerr ("fence errors %" G_GUINT64_FORMAT ", replaced %" G_GUINT64_FORMAT
              "\n",
      errors, replaced);
  fail_unless_equals_uint64 (shown, 0);
  fail_unless (errors >= 1);
  fail_unless_equals_uint64 (errors + replaced, 4);
  // All four are accounted for now: the lost ones are the failed fences.
  fail_unless_equals_uint64 (p.stat ("dropped"),
      errors + p.stat ("fence-timeouts"));
}
GST_END_TEST;

// GST_PERFORMANCE lines logged on behalf of one sink.
struct PerfLog
{
  GObject *sink = nullptr;
  std::atomic<int> warnings { 0 }, others { 0 };
  std::string first;
  GMutex lock;
};

static void
perf_log (GstDebugCategory *cat, GstDebugLevel level, const gchar *,
    const gchar *, gint, GObject *object, GstDebugMessage *message,
    gpointer data)
{
  auto *pl = static_cast<PerfLog *> (data);
  if (!pl->sink || object != pl->sink ||
      strcmp (gst_debug_category_get_name (cat), "GST_PERFORMANCE"))
    return;
  if (level == GST_LEVEL_WARNING) {
    g_mutex_lock (&pl->lock);
    if (pl->warnings++ == 0)
      pl->first = gst_debug_message_get (message);
    g_mutex_unlock (&pl->lock);
  } else {
    pl->others++;
  }
}

// The copy path says so once per stream under GST_PERFORMANCE (WARNING,
// later copies at LOG); the zero-copy path logs nothing there.
GST_START_TEST (test_performance_log)
{
  // This forked child only: keep the LOG lines out of the test's stderr.
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_set_active (TRUE);
  gst_debug_set_threshold_for_name ("GST_PERFORMANCE", GST_LEVEL_LOG);
  PerfLog copy_log, zc_log;
  g_mutex_init (&copy_log.lock);
  g_mutex_init (&zc_log.lock);
  gst_debug_add_log_function (perf_log, &copy_log, nullptr);
  gst_debug_add_log_function (perf_log, &zc_log, nullptr);

  GstHarness *h = make_sink (320, 240);
  copy_log.sink = G_OBJECT (h->element);
  for (int i = 0; i < 2; i++) {
    GstBuffer *sys = gst_buffer_new_allocate (nullptr, 320 * 240 * 4, nullptr);
    gst_buffer_memset (sys, 0, 0x20 * (i + 1), 320 * 240 * 4);
    fail_unless_equals_int (gst_harness_push (h, sys), GST_FLOW_OK);
    fail_unless (wait_stat (h, "shown", i + 1));
  }
  fail_unless_equals_uint64 (sink_stat (h, "copies"), 2);
  gst_harness_teardown (h);
  fail_unless_equals_int (copy_log.warnings.load (), 1);
  fail_unless (copy_log.first.find ("not dma-buf") != std::string::npos,
      "unexpected text: %s", copy_log.first.c_str ());
  fail_unless (copy_log.others.load () >= 1); // the second copy, at LOG

  const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
  DumbBuffer frame;
  fail_unless_equals_int (DumbBuffer::create (env->src.fd (), W, H, frame), 0);
  fill (frame, 14);
  h = make_sink (W, H);
  zc_log.sink = G_OBJECT (h->element);
  fail_unless_equals_int (gst_harness_push (h, dmabuf_buffer (frame)),
      GST_FLOW_OK);
  fail_unless (wait_stat (h, "shown", 1));
  fail_unless_equals_uint64 (sink_stat (h, "copies"), 0);
  gst_harness_teardown (h);
  fail_unless_equals_int (zc_log.warnings.load (), 0);
  fail_unless_equals_int (zc_log.others.load (), 0);

  gst_debug_remove_log_function_by_data (&copy_log);
  gst_debug_remove_log_function_by_data (&zc_log);
}
GST_END_TEST;

// Captures the screen: a white w x h frame at (x0, y0), black in a 10-pixel
// border around it.
static void
check_white_at (uint32_t x0, uint32_t y0, uint32_t w, uint32_t h)
{
  fail_unless_equals_int (capture (env->master.fd (), env->out, env->wb), 0);
  unsigned bad = 0;
  for (uint32_t y = y0 - 10; y < y0 + h + 10; y++)
    for (uint32_t x = x0 - 10; x < x0 + w + 10; x++) {
      bool in = x >= x0 && x < x0 + w && y >= y0 && y < y0 + h;
      bad += (env->wb.row (y)[x] & 0xffffff) != (in ? 0xffffffu : 0u);
    }
  fail_unless_equals_int (bad, 0);
}

// render-rectangle of the frame's size: positioned, unscaled.
GST_START_TEST (test_render_rectangle)
{
  SinkPipeline p (
      "videotestsrc num-buffers=1 pattern=white ! "
      "video/x-raw,format=BGRx,width=320,height=240 ! "
      "zckmssink name=s sync=false render-rectangle=\"<100,50,320,240>\"");
  fail_unless_equals_uint64 (p.stat ("shown"), 1);
  check_white_at (100, 50, 320, 240);
}
GST_END_TEST;

// The same through the GstVideoOverlay API applications use (no property):
// positioned, unscaled, elsewhere on the screen.
GST_START_TEST (test_render_rectangle_overlay_api)
{
  SinkPipeline p ("videotestsrc num-buffers=1 pattern=white ! "
                  "video/x-raw,format=BGRx,width=320,height=240 ! "
                  "zckmssink name=s sync=false",
      20, [] (GstElement *sink) {
        fail_unless (GST_IS_VIDEO_OVERLAY (sink));
        gst_video_overlay_set_render_rectangle (GST_VIDEO_OVERLAY (sink), 200,
            120, 320, 240);
      });
  fail_unless_equals_uint64 (p.stat ("shown"), 1);
  check_white_at (200, 120, 320, 240);
}
GST_END_TEST;

// A render-rectangle of another size asks for scaling; vkms's planes cannot
// scale: negotiation fails with an error that says so.
GST_START_TEST (test_scaling_refused)
{
  GstElement *pipe = gst_parse_launch (
      "videotestsrc num-buffers=1 ! "
      "video/x-raw,format=BGRx,width=320,height=240 ! "
      "zckmssink name=s sync=false render-rectangle=\"<0,0,640,480>\"",
      nullptr);
  fail_unless (pipe != nullptr);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "s");
  g_object_set (sink, "fd", env->master.fd (), nullptr);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND,
      GstMessageType (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (sink));
  GError *e = nullptr;
  gchar *dbg = nullptr;
  gst_message_parse_error (msg, &e, &dbg);
  g_printerr ("scaling error: %s (%s)\n", e->message, dbg);
  fail_unless (g_error_matches (e, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION));
  fail_unless (strstr (e->message, "cannot scale") != nullptr);
  fail_unless (
      strstr (e->message, "320x240") && strstr (e->message, "640x480"));
  g_error_free (e);
  g_free (dbg);
  gst_message_unref (msg);
  fail_unless_equals_uint64 (element_stat (sink, "shown"), 0);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (pipe);
}
GST_END_TEST;

// zcamsrc in early mode pushes every frame before its fence signals; with
// sync=false they reach the sink faster than the fences signal. A frame
// waiting for its fence must not be replaced by a newer one that waits even
// longer, or nothing is ever shown (it was: 1 of 60 shown, the last one,
// and 0 of 79 in a longer stream).
GST_START_TEST (test_early_frames_not_starved)
{
  SinkPipeline
      p ("zcamsrc fence-mode=early num-buffers=60 ! "
         "video/x-raw,format=BGRx,width=640,height=480,framerate=30/1 ! "
         "zckmssink name=s sync=false",
          120);
  guint64 shown = p.stat ("shown"), replaced = p.stat ("replaced");
  g_print ("early frames, sync=false: shown %" G_GUINT64_FORMAT
           ", replaced %" G_GUINT64_FORMAT "\n",
      shown, replaced);
  // Before the fix only the last frame came through (at EOS): 1 of 60.
  fail_unless (shown >= 5, "%" G_GUINT64_FORMAT " frames shown", shown);
  fail_unless_equals_uint64 (shown + replaced + p.stat ("fence-errors") +
          p.stat ("fence-timeouts"),
      60);
  fail_unless_equals_uint64 (p.stat ("frames"), 60);
}
GST_END_TEST;

static Suite *
zckmssink_suite ()
{
  Suite *s = suite_create ("zckmssink");
  TCase *tc = tcase_create ("vkms");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_fullscreen_dmabuf);
  tcase_add_test (tc, test_centred_640x480);
  tcase_add_test (tc, test_force_modeset);
  tcase_add_test (tc, test_not_master);
  tcase_add_test (tc, test_copy_path);
  tcase_add_test (tc, test_release_fence);
  tcase_add_test (tc, test_fence_timeout);
  tcase_add_test (tc, test_fence_delayed);
  tcase_add_test (tc, test_fence_error_pending);
  tcase_add_test (tc, test_eos_after_last_flip);
  tcase_add_test (tc, test_eos_wait_unlocked);
  tcase_add_test (tc, test_teardown_releases_all);
  tcase_add_test (tc, test_proposed_pool);
  tcase_add_test (tc, test_fence_error_zcam);
  tcase_add_test (tc, test_vivid_import);
  tcase_add_test (tc, test_fence_delay_zcam);
  tcase_add_test (tc, test_pool_reuse_order);
  tcase_add_test (tc, test_performance_log);
  tcase_add_test (tc, test_render_rectangle);
  tcase_add_test (tc, test_render_rectangle_overlay_api);
  tcase_add_test (tc, test_scaling_refused);
  tcase_add_test (tc, test_early_frames_not_starved);
  suite_add_tcase (s, tc);
  return s;
}

int
main (int argc, char **argv)
{
  gst_check_init (&argc, &argv);
  Env e;
  e.master = DrmDevice::open_driver ("vkms");
  e.src = DrmDevice::open_driver ("vkms");
  if (!e.master.valid () || !e.src.valid ()) {
    g_printerr ("SKIP: no vkms device\n");
    return 77;
  }
  if (find_output (e.master.fd (), e.out) < 0 || !e.out.writeback_id) {
    g_printerr ("SKIP: vkms without a writeback connector\n");
    return 77;
  }
  if (DumbBuffer::create (e.master.fd (), e.out.mode.hdisplay,
          e.out.mode.vdisplay, e.wb) < 0) {
    g_printerr ("cannot allocate the writeback buffer\n");
    return 1;
  }
  env = &e;
  Suite *s = zckmssink_suite ();
  SRunner *sr = srunner_create (s);
  // Each test forks; the children inherit the DRM files (and master).
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  // A test that failed half-way left its fault injection on.
  if (access (ZCAM_FENCE_DELAY, W_OK) == 0) {
    write_file (ZCAM_FENCE_DELAY, "0");
    write_file (ZCAM_FAIL_FENCES, "0");
  }
  srunner_free (sr);
  return failed ? 1 : 0;
}
