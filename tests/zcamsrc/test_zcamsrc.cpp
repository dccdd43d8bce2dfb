// SPDX-License-Identifier: LGPL-2.1-or-later
//
// zcamsrc against the zcam device in the test VM: caps from the device,
// frames checked in pixels (the sequence code of the zcam pattern), early
// and late fence modes, fault injection, errors, state cycles and leaks.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "zc-check.h"

#include <gst/allocators/allocators.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#define DEBUGFS "/sys/kernel/debug/zcam/zcam0/"

static void
debugfs_write (const char *knob, int value)
{
  std::string path = std::string (DEBUGFS) + knob;
  FILE *f = fopen (path.c_str (), "w");
  fail_unless (f != NULL, "cannot open %s", path.c_str ());
  fprintf (f, "%d\n", value);
  fclose (f);
}

// A counter from zcam's debugfs stats ("name: value" lines), or -1.
static long long
zcam_stat (const char *name)
{
  FILE *f = fopen (DEBUGFS "stats", "r");
  fail_unless (f != NULL, "cannot open " DEBUGFS "stats");
  char line[128];
  long long value = -1;
  size_t len = strlen (name);
  while (fgets (line, sizeof (line), f)) {
    if (strncmp (line, name, len) == 0 && line[len] == ':')
      value = strtoll (line + len + 1, NULL, 10);
  }
  fclose (f);
  return value;
}

static GstHarness *
make_harness (const char *props, const char *caps)
{
  std::string desc = std::string ("zcamsrc ") + props;
  GstHarness *h = gst_harness_new_parse (desc.c_str ());
  gst_harness_use_systemclock (h);
  gst_harness_set_sink_caps_str (h, caps);
  gst_harness_play (h);
  return h;
}

static guint64
stat_u64 (GstHarness *h, const char *field)
{
  GstElement *src = gst_harness_find_element (h, "zcamsrc");
  fail_unless (src != NULL);
  guint64 v = zc_test_stat (src, field);
  gst_object_unref (src);
  return v;
}

// Checks the BGRx (XRGB8888) pattern of frame @seq in an image at @base:
// sequence code in the top and bottom band, and a pixel outside the bands.
static void
check_bgrx_pixels (const guint8 *base, guint w, guint h, guint stride,
    guint64 seq)
{
  const guint cells = MIN (32u, w / 8);
  guint32 top = 0, bottom = 0;
  for (guint i = 0; i < cells; i++) {
    const guint8 *t = base + 4 * stride + (8 * i + 4) * 4;
    const guint8 *b = base + (h - 4) * stride + (8 * i + 4) * 4;
    if (t[0] == 0xff)
      top |= 1u << i;
    if (b[0] == 0xff)
      bottom |= 1u << i;
  }
  guint32 mask = cells == 32 ? 0xffffffffu : ((1u << cells) - 1);
  fail_unless_equals_int (top, bottom); // torn frame otherwise
  fail_unless_equals_int (top, guint32 (seq) & mask);
  // A pixel below the top band: B = s, G = y + 2s, R = x + 4s.
  const guint x = w * 3 / 4, y = MIN (h / 2, 100u);
  const guint8 *p = base + y * stride + x * 4;
  fail_unless_equals_int (p[0], guint8 (seq));
  fail_unless_equals_int (p[1], guint8 (y + 2 * seq));
  fail_unless_equals_int (p[2], guint8 (x + 4 * seq));
}

// The sequence a BGRx frame of a zcamsrc buffer carries, from its top band,
// as the 64-bit sequence nearest above @at_least with those low bits.
static guint64
captured_sequence (GstBuffer *buf, guint64 at_least)
{
  GstVideoMeta *vm = gst_buffer_get_video_meta (buf);
  fail_unless (vm != NULL && vm->width >= 256);
  GstMapInfo map;
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  guint32 code = 0;
  for (guint i = 0; i < 32; i++)
    if (map.data[vm->offset[0] + 4 * vm->stride[0] + (8 * i + 4) * 4] == 0xff)
      code |= 1u << i;
  gst_buffer_unmap (buf, &map);
  guint64 seq = (at_least & ~guint64 (0xffffffffu)) | code;
  return seq < at_least ? seq + (guint64 (1) << 32) : seq;
}

// The same for a zcamsrc buffer: the layout comes from its video meta.
static void
check_bgrx_frame (GstBuffer *buf, guint64 seq)
{
  GstVideoMeta *vm = gst_buffer_get_video_meta (buf);
  fail_unless (vm != NULL);
  fail_unless (vm->stride[0] % 64 == 0, "kernel pitch expected 64-aligned");
  GstMapInfo map;
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  check_bgrx_pixels (map.data + vm->offset[0], vm->width, vm->height,
      vm->stride[0], seq);
  gst_buffer_unmap (buf, &map);
}

GST_START_TEST (test_caps_from_device)
{
  GstElement *src = gst_element_factory_make ("zcamsrc", NULL);
  fail_unless (src != NULL);
  fail_unless_equals_int (gst_element_set_state (src, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);
  GstPad *pad = gst_element_get_static_pad (src, "src");
  GstCaps *caps = gst_pad_query_caps (pad, NULL);
  GST_INFO ("device caps %" GST_PTR_FORMAT, caps);
  fail_unless (gst_caps_get_size (caps) >= 2);
  GstCaps *want = gst_caps_from_string (
      "video/x-raw(memory:DMABuf),"
      "format=BGRx,width=320,height=240,framerate=30/1");
  fail_unless (gst_caps_can_intersect (caps, want));
  gst_caps_unref (want);
  want = gst_caps_from_string ("video/x-raw,format=NV12,width=640,height=480,"
                               "framerate=60/1");
  fail_unless (gst_caps_can_intersect (caps, want));
  gst_caps_unref (want);
  // Sizes beyond the device's limit are not offered.
  want = gst_caps_from_string ("video/x-raw,width=100000");
  fail_if (gst_caps_can_intersect (caps, want));
  gst_caps_unref (want);
  gst_caps_unref (caps);
  gst_object_unref (pad);
  gst_element_set_state (src, GST_STATE_NULL);
  gst_object_unref (src);
}
GST_END_TEST;

// The seqno of the zcam fence in a sync_file, from its name
// "zcam-zcam<N><context>-<seqno>" (docs/zcam-uapi.md), or -1.
static gint64
fence_seqno (const GstZcSyncFileInfo &info)
{
  const char *dash = strrchr (info.name, '-');
  if (info.num_fences != 1 || !dash || !g_str_has_prefix (info.name, "zcam-"))
    return -1;
  return g_ascii_strtoll (dash + 1, NULL, 10);
}

static void
run_frames (const char *mode, guint n)
{
  std::string props = std::string ("fence-mode=") + mode;
  const bool early = g_str_equal (mode, "early");
  GstHarness *h = make_harness (props.c_str (),
      "video/x-raw(memory:DMABuf),format=BGRx,width=320,height=240,"
      "framerate=120/1");
  guint64 last = 0, last_captured = 0;
  GstClockTime last_pts = 0;
  for (guint i = 0; i < n; i++) {
    GstBuffer *buf = gst_harness_pull (h);
    fail_unless (buf != NULL);
    GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf);
    fail_unless (meta != NULL);
    fail_unless_equals_int (gst_zc_fence_meta_wait_acquire (meta, GST_SECOND),
        0);
    guint64 seq = GST_BUFFER_OFFSET (buf);
    GstZcSyncFileInfo info;
    fail_unless (
        gst_zc_sync_file_get_status (gst_zc_fence_meta_get_acquire_fence (meta),
            &info));
    fail_unless_equals_int (info.status, 1);
    // The fence's seqno is QBUF's sequence, the first frame period the
    // frame could be captured in. Late mode pushes the sequence the frame
    // was captured in (higher when zcam ran late: docs/zcam-uapi.md);
    // early mode pushes before the capture, with QBUF's.
    if (early) {
      fail_unless_equals_int64 (fence_seqno (info), gint64 (seq));
    } else {
      fail_unless (
          fence_seqno (info) >= 0 && guint64 (fence_seqno (info)) <= seq);
    }
    // The pixels carry the captured sequence.
    const guint64 captured = early ? captured_sequence (buf, seq) : seq;
    if (i > 0) {
      fail_unless (captured > last_captured);
      fail_unless (seq > last,
          "sequence %" G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT, seq, last);
      fail_unless (GST_BUFFER_PTS (buf) >= last_pts);
      fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (buf,
                                  GST_BUFFER_FLAG_DISCONT),
          seq != last + 1);
    }
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (buf), GST_SECOND / 120);
    check_bgrx_frame (buf, captured);
    last = seq;
    last_captured = captured;
    last_pts = GST_BUFFER_PTS (buf);
    gst_buffer_unref (buf);
  }
  fail_unless (stat_u64 (h, "frames") >= n);
  gst_harness_teardown (h);
}

GST_START_TEST (test_frames_early)
{
  run_frames ("early", 300);
}
GST_END_TEST;

GST_START_TEST (test_frames_late)
{
  run_frames ("late", 300);
}
GST_END_TEST;

// At 10 fps an early push happens long before the frame is written, a late
// push never does.
static guint
count_unsignalled (const char *mode, guint n)
{
  std::string props = std::string ("fence-mode=") + mode;
  GstHarness *h = make_harness (props.c_str (),
      "video/x-raw(memory:DMABuf),format=BGRx,width=64,height=48,"
      "framerate=10/1");
  guint unsignalled = 0;
  for (guint i = 0; i < n; i++) {
    GstBuffer *buf = gst_harness_pull (h);
    fail_unless (buf != NULL);
    GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf);
    fail_unless (meta != NULL);
    GstZcSyncFileInfo info;
    fail_unless (
        gst_zc_sync_file_get_status (gst_zc_fence_meta_get_acquire_fence (meta),
            &info));
    if (info.status == 0)
      unsignalled++;
    fail_unless_equals_int (gst_zc_fence_meta_wait_acquire (meta, GST_SECOND),
        0);
    gst_buffer_unref (buf);
  }
  gst_harness_teardown (h);
  return unsignalled;
}

GST_START_TEST (test_early_pushes_before_completion)
{
  guint early = count_unsignalled ("early", 12);
  guint late = count_unsignalled ("late", 12);
  GST_INFO ("unsignalled at push: early %u/12, late %u/12", early, late);
  fail_unless (early >= 9, "early mode: only %u of 12 unsignalled", early);
  fail_unless_equals_int (late, 0);
}
GST_END_TEST;

// Injected fence errors are counted and do not stop the stream; injected
// drops show up as sequence gaps with DISCONT. Early mode pushed the failed
// frames before they were captured: the consumer sees the error status on
// the acquire fence of exactly those buffers. Late mode never pushes them.
// Warnings are rate-limited (docs/elements.md): the first failed frame is a
// warning with its sequence in the details, the two others fail within the
// same 5 s interval (consecutive frames at 60 fps) and are one summary,
// posted when the element stops, whose details name the last of them and
// count both.
static void
run_faults (const char *mode)
{
  const bool early = g_str_equal (mode, "early");
  std::string props = std::string ("fence-mode=") + mode;
  GstHarness *h = make_harness (props.c_str (),
      "video/x-raw(memory:DMABuf),format=BGRx,width=64,height=48,"
      "framerate=60/1");
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  // fail_fences acts on the next frames the engine *captures*, also frames
  // queued before the write. In early mode a buffer is pulled long before
  // its capture, so wait for these frames: the ones that fail are then
  // still ahead of the test in the harness queue.
  for (guint i = 0; i < 5; i++) {
    GstBuffer *buf = gst_harness_pull (h);
    fail_unless (buf != NULL);
    fail_unless_equals_int (gst_zc_fence_meta_wait_acquire (
                                gst_zc_buffer_get_fence_meta (buf), GST_SECOND),
        0);
    gst_buffer_unref (buf);
  }
  debugfs_write ("fail_fences", 3);
  debugfs_write ("drop_frames", 4);
  guint discont = 0;
  std::set<guint64> errored, pulled;
  for (guint i = 0; i < 40; i++) {
    GstBuffer *buf = gst_harness_pull (h);
    fail_unless (buf != NULL, "stream stopped after fault injection");
    if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT))
      discont++;
    GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf);
    fail_unless (meta != NULL);
    fail_unless_equals_int (gst_zc_fence_meta_wait_acquire (meta, GST_SECOND),
        0);
    GstZcSyncFileInfo info;
    fail_unless (
        gst_zc_sync_file_get_status (gst_zc_fence_meta_get_acquire_fence (meta),
            &info));
    const guint64 seq = GST_BUFFER_OFFSET (buf);
    GST_INFO ("%s: frame %" G_GUINT64_FORMAT " fence %s status %d", mode, seq,
        info.name, info.status);
    // The acquire fence is the out-fence of this very capture: its seqno
    // is QBUF's sequence, which late mode replaces by the captured one.
    if (early) {
      fail_unless_equals_int64 (fence_seqno (info), gint64 (seq));
    } else {
      fail_unless (
          fence_seqno (info) >= 0 && guint64 (fence_seqno (info)) <= seq);
    }
    fail_unless (info.status == 1 || info.status == -EIO,
        "frame %" G_GUINT64_FORMAT ": status %d", seq, info.status);
    if (info.status < 0)
      errored.insert (seq);
    pulled.insert (seq);
    gst_buffer_unref (buf);
  }
  fail_unless (discont >= 1);
  fail_unless (stat_u64 (h, "dropped") >= 4);
  fail_unless_equals_uint64 (stat_u64 (h, "fence-errors"), 3);

  // Stopping posts the summary of the failures held back.
  gst_element_set_state (h->element, GST_STATE_READY);
  std::set<guint64> warned;
  std::vector<guint64> counts; // frames each warning stands for
  GstMessage *msg;
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING))) {
    const GstStructure *details = NULL;
    gst_message_parse_warning_details (msg, &details);
    fail_unless (details != NULL);
    guint64 seq;
    gint err;
    gboolean pushed;
    fail_unless (gst_structure_get (details, "sequence", G_TYPE_UINT64, &seq,
        "fence-error", G_TYPE_INT, &err, "pushed", G_TYPE_BOOLEAN, &pushed,
        NULL));
    fail_unless_equals_int (err, -EIO);
    fail_unless_equals_int (pushed, early);
    guint64 failed = 1;
    if (!counts.empty ())
      fail_unless (gst_structure_get_uint64 (details, "failed", &failed),
          "a later warning is a summary with a count");
    else
      fail_if (gst_structure_has_field (details, "failed"));
    counts.push_back (failed);
    warned.insert (seq);
    gst_message_unref (msg);
  }
  // 1 warning + 1 summary for 2 more frames: all 3 accounted for.
  fail_unless_equals_int (counts.size (), 2);
  fail_unless_equals_uint64 (counts[0] + counts[1], 3);
  fail_unless_equals_int (warned.size (), 2);
  if (early) {
    // Each failed frame reached the consumer, with the error on its fence;
    // the warnings name the first and the last of them.
    fail_unless_equals_int (errored.size (), 3);
    fail_unless (warned.count (*errored.begin ()) &&
            warned.count (*errored.rbegin ()),
        "warnings name other frames");
  } else {
    fail_unless_equals_int (errored.size (), 0);
    for (guint64 seq : warned)
      fail_if (pulled.count (seq),
          "failed frame %" G_GUINT64_FORMAT " was pushed", seq);
    // And the stream went on past them.
    fail_unless (*pulled.rbegin () > *warned.rbegin ());
  }
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_START_TEST (test_faults_early)
{
  run_faults ("early");
}
GST_END_TEST;

GST_START_TEST (test_faults_late)
{
  run_faults ("late");
}
GST_END_TEST;

// Catches zcamsrc's GST_PERFORMANCE warning about copying.
static gint perf_copy_messages;

static void
perf_log (GstDebugCategory *cat, GstDebugLevel, const gchar *, const gchar *,
    gint, GObject *, GstDebugMessage *msg, gpointer)
{
  if (g_str_equal (gst_debug_category_get_name (cat), "GST_PERFORMANCE") &&
      strstr (gst_debug_message_get (msg), "copying every frame"))
    g_atomic_int_inc (&perf_copy_messages);
}

// Plain video/x-raw, downstream without GstVideoMeta (the harness proposes
// no metas) and a width whose pitch the kernel aligns differently (100
// pixels: 400 bytes, zcam pads to 448): zcamsrc copies into system memory
// with the default layout, says so under GST_PERFORMANCE, and the pixels are
// still the frame's.
GST_START_TEST (test_copy_fallback)
{
  g_atomic_int_set (&perf_copy_messages, 0);
  gst_debug_set_threshold_for_name ("GST_PERFORMANCE", GST_LEVEL_WARNING);
  gst_debug_add_log_function (perf_log, NULL, NULL);
  GstHarness *h = make_harness ("",
      "video/x-raw,format=BGRx,width=100,height=48,framerate=60/1");
  guint64 last = 0;
  for (guint i = 0; i < 20; i++) {
    GstBuffer *buf = gst_harness_pull (h);
    fail_unless (buf != NULL);
    // Default layout, system memory, no metas describing another layout.
    fail_unless (gst_buffer_get_video_meta (buf) == NULL);
    fail_unless (gst_buffer_get_size (buf) == 400 * 48);
    fail_if (gst_is_dmabuf_memory (gst_buffer_peek_memory (buf, 0)));
    guint64 seq = GST_BUFFER_OFFSET (buf);
    if (i > 0)
      fail_unless (seq > last);
    last = seq;
    GstMapInfo map;
    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    check_bgrx_pixels (map.data, 100, 48, 400, seq);
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
  }
  gst_harness_teardown (h);
  gst_debug_remove_log_function (perf_log);
  fail_unless (g_atomic_int_get (&perf_copy_messages) >= 1,
      "no GST_PERFORMANCE message about copying");
}
GST_END_TEST;

GST_START_TEST (test_bad_device)
{
  GstElement *pipe = gst_parse_launch ("zcamsrc device=/dev/zcam-nonexistent "
                                       "! fakesink",
      NULL);
  fail_unless (pipe != NULL);
  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  GError *err = NULL;
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (
      g_error_matches (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND));
  fail_unless (strstr (err->message, "zcam.ko") != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
}
GST_END_TEST;

GST_START_TEST (test_unsupported_caps)
{
  // RGB16 is not a zcam format: negotiation fails with not-negotiated.
  GstElement *pipe = gst_parse_launch ("zcamsrc ! video/x-raw,format=RGB16 "
                                       "! fakesink",
      NULL);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND,
      GstMessageType (GST_MESSAGE_ERROR | GST_MESSAGE_EOS));
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
  GError *err = NULL;
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (err->domain == GST_STREAM_ERROR || err->domain == GST_CORE_ERROR,
      "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
}
GST_END_TEST;

// PLAYING -> NULL -> PLAYING restarts; num-buffers gives EOS; no fd, dma-buf
// or fence of zcam is left behind.
GST_START_TEST (test_state_cycles_and_leaks)
{
  int fds_before = zc_test_count_fds ();
  long long bufs_before = zcam_stat ("live_buffers");
  long long fences_before = zcam_stat ("live_fences");
  fail_unless (bufs_before >= 0 && fences_before >= 0);
  for (int round = 0; round < 3; round++) {
    GstElement *pipe = gst_parse_launch (
        "zcamsrc num-buffers=20 ! "
        "video/x-raw(memory:DMABuf),width=64,height=48,framerate=120/1 ! "
        "fakesink",
        NULL);
    fail_unless (pipe != NULL);
    gst_element_set_state (pipe, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus (pipe);
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
        GstMessageType (GST_MESSAGE_ERROR | GST_MESSAGE_EOS));
    fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
    gst_message_unref (msg);
    // And once more without EOS: stop in the middle of the stream.
    gst_element_set_state (pipe, GST_STATE_NULL);
    gst_element_set_state (pipe, GST_STATE_PLAYING);
    msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
        GstMessageType (GST_MESSAGE_ERROR | GST_MESSAGE_EOS));
    fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
    gst_message_unref (msg);
    gst_element_set_state (pipe, GST_STATE_NULL);
    gst_object_unref (bus);
    gst_object_unref (pipe);
  }
  fail_unless_equals_int (zc_test_count_fds (), fds_before);
  // Fences are freed once the last sync_file and the dma-bufs drop them.
  for (int i = 0; i < 100 && zcam_stat ("live_fences") != fences_before; i++)
    g_usleep (10000);
  fail_unless_equals_int64 (zcam_stat ("live_buffers"), bufs_before);
  fail_unless_equals_int64 (zcam_stat ("live_fences"), fences_before);
}
GST_END_TEST;

// A buffer kept past NULL stays valid and is freed when dropped.
GST_START_TEST (test_buffer_outlives_element)
{
  int fds_before = zc_test_count_fds ();
  GstHarness *h = make_harness ("fence-mode=late",
      "video/x-raw(memory:DMABuf),format=BGRx,width=320,height=240,"
      "framerate=60/1");
  GstBuffer *buf = gst_harness_pull (h);
  guint64 seq = GST_BUFFER_OFFSET (buf);
  gst_harness_teardown (h);
  check_bgrx_frame (buf, seq);
  gst_buffer_unref (buf);
  fail_unless_equals_int (zc_test_count_fds (), fds_before);
}
GST_END_TEST;

static Suite *
zcamsrc_suite (void)
{
  Suite *s = suite_create ("zcamsrc");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_caps_from_device);
  tcase_add_test (tc, test_frames_early);
  tcase_add_test (tc, test_frames_late);
  tcase_add_test (tc, test_early_pushes_before_completion);
  tcase_add_test (tc, test_faults_early);
  tcase_add_test (tc, test_faults_late);
  tcase_add_test (tc, test_copy_fallback);
  tcase_add_test (tc, test_bad_device);
  tcase_add_test (tc, test_unsupported_caps);
  tcase_add_test (tc, test_state_cycles_and_leaks);
  tcase_add_test (tc, test_buffer_outlives_element);
  return s;
}

int
main (int argc, char **argv)
{
  if (access ("/dev/zcam0", R_OK | W_OK) != 0) {
    g_printerr ("no /dev/zcam0: run inside the test VM (tests/vm/run)\n");
    return 77;
  }
  gst_check_init (&argc, &argv);
  return gst_check_run_suite (zcamsrc_suite (), "zcamsrc", __FILE__);
}
