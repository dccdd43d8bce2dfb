// SPDX-License-Identifier: LGPL-2.1-or-later
//
// zc-producer: an application that renders frames itself and shows them
// without a copy.
//
//   [GstZcBufferPool (DRM dumb buffers)] -> appsrc ! zckmssink
//
// What it shows:
// - a GstZcBufferPool on the display's own card (the "dumb" backend;
//   "dma-heap" works the same where the kernel has heaps), with a
//   GstVideoMeta carrying the real pitch;
// - the release fence contract from the producer's side: zckmssink gives
//   each buffer it put on screen the display's out-fence as a release
//   fence; the producer acquires with
//   GST_ZC_BUFFER_POOL_ACQUIRE_FLAG_WITH_FENCES, so a buffer the display
//   still scans out comes back at once with those fences, and the producer
//   waits for them (bounded) before it writes a pixel. It never writes a
//   buffer that is still on screen; it counts how often it had to wait;
// - frames rendered by the CPU straight into the dma-buf through
//   gst_video_frame_map() (no staging copy), pushed with timestamps;
// - the sink's `stats` at the end: every frame pushed ends shown or
//   replaced by a newer one; the sink does not sync to the clock: with two
//   buffers the display's flips pace the producer;
// - --drm-fd: the display fd handed over by whoever owns the display (a
//   launcher, logind's TakeDevice, a parent process), given to zckmssink's
//   `fd` property; --hold keeps the last frame on screen after EOS until a
//   line arrives on standard input (the VM test reads the screen back
//   through vkms's writeback connector meanwhile).
//
// Frame k is XRGB8888 with, at pixel (x, y), R = x + 4k, G = y + 2k,
// B = k (all mod 256).
//
//   c++ -std=c++20 zc-producer.cpp
//       $(pkg-config --cflags --libs gstzerocopy-1.0 gstreamer-app-1.0)
#include <gst/app/gstappsrc.h>
#include <gst/zerocopy/zerocopy.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <poll.h>
#include <unistd.h>

namespace {

struct Options
{
  gint frames = 30;
  gint width = 640, height = 480;
  gint drm_fd = -1;
  gchar *card = nullptr;
  gboolean hold = FALSE;
};

// Frame k's pattern (see the comment at the top).
void
render (GstVideoFrame *frame, guint k)
{
  guint8 *base = static_cast<guint8 *> (GST_VIDEO_FRAME_PLANE_DATA (frame, 0));
  gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  for (gint y = 0; y < GST_VIDEO_FRAME_HEIGHT (frame); y++) {
    auto *row = reinterpret_cast<guint32 *> (base + gsize (y) * stride);
    for (gint x = 0; x < GST_VIDEO_FRAME_WIDTH (frame); x++)
      row[x] = 0xff000000u | (((x + 4 * k) & 0xff) << 16) |
          (((y + 2 * k) & 0xff) << 8) | (k & 0xff);
  }
}

// Waits (bounded) for every release fence of @buf and drops them. Returns
// false when one did not signal in time: writing would tear the screen.
bool
wait_release_fences (GstBuffer *buf, guint *waited)
{
  GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf);
  if (!meta)
    return true;
  guint n = gst_zc_fence_meta_get_n_release_fences (meta);
  bool pending = false;
  for (guint i = 0; i < n; i++) {
    gint fd = gst_zc_fence_meta_get_release_fence (meta, i);
    GstZcSyncFileInfo info;
    if (gst_zc_sync_file_get_status (fd, &info) && info.status == 0)
      pending = true;
    if (gst_zc_sync_file_wait (fd, GST_SECOND) != 0)
      return false;
  }
  if (pending)
    (*waited)++;
  // Signalled: the fds are ours to close now.
  guint n_fds = 0;
  gint *fds = gst_zc_fence_meta_take_release_fences (meta, &n_fds);
  for (guint i = 0; i < n_fds; i++)
    close (fds[i]);
  g_free (fds);
  return true;
}

guint64
stat (GstElement *element, const char *field)
{
  GstStructure *s = nullptr;
  guint64 v = 0;
  g_object_get (element, "stats", &s, nullptr);
  if (s) {
    gst_structure_get_uint64 (s, field, &v);
    gst_structure_free (s);
  }
  return v;
}

// Blocks until a line (or EOF) arrives on stdin, at most 60 s.
void
wait_for_stdin ()
{
  struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
  if (poll (&p, 1, 60000) > 0) {
    char c[64];
    (void) !read (STDIN_FILENO, c, sizeof (c));
  }
}

} // namespace

int
main (int argc, char **argv)
{
  Options o;
  GOptionEntry entries[] = {
    { "frames", 'n', 0, G_OPTION_ARG_INT, &o.frames, "frames to show", "N" },
    { "width", 0, 0, G_OPTION_ARG_INT, &o.width, "frame width", "W" },
    { "height", 0, 0, G_OPTION_ARG_INT, &o.height, "frame height", "H" },
    { "drm-fd", 0, 0, G_OPTION_ARG_INT, &o.drm_fd,
        "DRM master fd for zckmssink (default: it opens the card)", "FD" },
    { "card", 0, 0, G_OPTION_ARG_STRING, &o.card,
        "card or driver for the dumb buffers (default vkms)", "CARD" },
    { "hold", 0, 0, G_OPTION_ARG_NONE, &o.hold,
        "after EOS keep the last frame shown until a line on stdin", nullptr },
    { nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr },
  };
  g_autoptr (GError) error = nullptr;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- render and show");
  g_option_context_add_main_entries (ctx, entries, nullptr);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "zc-producer: %s\n", error->message);
    return 2;
  }
  std::unique_ptr<gchar, decltype (&g_free)> card (o.card, g_free);

  // The pool: buffers on the display's card, so the sink imports them.
  g_autoptr (GstAllocator)
      alloc = gst_zc_allocator_new ("dumb", card ? card.get () : "vkms");
  if (!alloc) {
    fprintf (stderr,
        "zc-producer: no DRM dumb buffers on \"%s\" (is the "
        "display driver loaded? --card names another)\n",
        card ? card.get () : "vkms");
    return 1;
  }
  g_autoptr (GstCaps) caps = gst_caps_new_simple ("video/x-raw", "format",
      G_TYPE_STRING, "BGRx", "width", G_TYPE_INT, o.width, "height", G_TYPE_INT,
      o.height, "framerate", GST_TYPE_FRACTION, 30, 1, nullptr);
  g_autoptr (GstBufferPool) pool = gst_zc_buffer_pool_new (alloc);
  GstStructure *config = gst_buffer_pool_get_config (pool);
  // Double buffering: one on screen, one being drawn. The one the display
  // let go of last often comes back with its release fence still pending.
  gst_buffer_pool_config_set_params (config, caps, 0, 2, 2);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  if (!gst_buffer_pool_set_config (pool, config) ||
      !gst_buffer_pool_set_active (pool, TRUE)) {
    fprintf (stderr, "zc-producer: the pool rejected %dx%d BGRx\n", o.width,
        o.height);
    return 1;
  }

  g_autoptr (GstElement)
      pipeline = gst_parse_launch ("appsrc name=src format=time block=true "
                                   "max-buffers=1 ! "
                                   "zckmssink name=sink",
          &error);
  if (!pipeline) {
    fprintf (stderr, "zc-producer: %s\n", error->message);
    return 1;
  }
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_autoptr (GstElement)
      sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (src, "caps", caps, nullptr);
  // The display paces the producer (two buffers, each free again only after
  // the next flip), not the pipeline clock: no frame is late, none dropped.
  g_object_set (sink, "sync", FALSE, nullptr);
  if (o.drm_fd >= 0)
    g_object_set (sink, "fd", o.drm_fd, nullptr);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    fprintf (stderr,
        "zc-producer: the pipeline does not start (GST_DEBUG=2 "
        "says why)\n");
    return 1;
  }

  GstVideoInfo info;
  gst_video_info_from_caps (&info, caps);
  guint waited = 0, max_fenced = 0;
  gint rendered = 0;
  for (gint k = 0; k < o.frames; k++) {
    GstBufferPoolAcquireParams params = {};
    params.flags = GST_ZC_BUFFER_POOL_ACQUIRE_FLAG_WITH_FENCES;
    GstBuffer *buf = nullptr;
    if (gst_buffer_pool_acquire_buffer (pool, &buf, &params) != GST_FLOW_OK) {
      fprintf (stderr, "zc-producer: no buffer from the pool\n");
      break;
    }
    max_fenced = MAX (max_fenced,
        gst_zc_buffer_pool_get_n_fenced (GST_ZC_BUFFER_POOL (pool)));
    if (!wait_release_fences (buf, &waited)) {
      fprintf (stderr,
          "zc-producer: the display kept frame memory for more "
          "than 1 s; not drawing into it\n");
      gst_buffer_unref (buf);
      break;
    }
    GstVideoFrame frame;
    if (!gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE)) {
      gst_buffer_unref (buf);
      break;
    }
    render (&frame, guint (k));
    gst_video_frame_unmap (&frame);
    GST_BUFFER_PTS (buf) = gst_util_uint64_scale (k, GST_SECOND, 30);
    GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
    if (gst_app_src_push_buffer (GST_APP_SRC (src), buf) != GST_FLOW_OK)
      break;
    rendered++;
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));

  // zckmssink posts EOS after the last flip.
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GstMessageType (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  gboolean eos = msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
  if (msg && !eos) {
    g_autoptr (GError) err = nullptr;
    gst_message_parse_error (msg, &err, nullptr);
    fprintf (stderr, "zc-producer: %s\n", err->message);
  }

  printf ("rendered %d of %d, eos %s, waited-for-display %u, pool-fenced-max "
          "%u, display frames %" G_GUINT64_FORMAT " shown %" G_GUINT64_FORMAT
          " replaced %" G_GUINT64_FORMAT " dropped %" G_GUINT64_FORMAT
          " copies %" G_GUINT64_FORMAT "\n",
      rendered, o.frames, eos ? "yes" : "no", waited, max_fenced,
      stat (sink, "frames"), stat (sink, "shown"), stat (sink, "replaced"),
      stat (sink, "dropped"), stat (sink, "copies"));
  if (o.hold && eos) {
    printf ("holding frame %d\n", rendered - 1);
    fflush (stdout);
    wait_for_stdin ();
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_buffer_pool_set_active (pool, FALSE);
  return rendered == o.frames && eos ? 0 : 1;
}
