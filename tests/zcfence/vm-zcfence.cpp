/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcfence in the test VM: real fences from vgem (signalled by the test) and
 * zcam (delays and errors by fault injection), each mode checked on what
 * the next element receives.
 */
#include "zc-test-vgem.h"

#include <gst/check/gstharness.h>
#include <gst/zerocopy/check/gstzctestfence.h>

namespace {

GstAllocator *vgem_alloc;

/* A buffer over a new vgem dumb dma-buf, with @acquire (owned) as the
 * acquire fence of a fence meta when >= 0. */
GstBuffer *
dmabuf_buffer (int acquire, guint64 offset)
{
  GstBuffer *buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, gst_allocator_alloc (vgem_alloc, 4096, NULL));
  GST_BUFFER_OFFSET (buf) = offset;
  if (acquire >= 0)
    fail_unless (
        gst_zc_fence_meta_add_acquire_fence (gst_zc_buffer_add_fence_meta (buf),
            acquire));
  return buf;
}

GstHarness *
fence_harness (const char *mode, guint64 timeout_ns)
{
  GstHarness *h = gst_harness_new ("zcfence");
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=BGRx,width=32,height=32");
  g_object_set (h->element, "timeout", timeout_ns, NULL);
  gst_util_set_object_arg (G_OBJECT (h->element), "mode", mode);
  /* The mode is read on READY -> PAUSED: cycle once. */
  gst_element_set_state (h->element, GST_STATE_READY);
  gst_element_set_state (h->element, GST_STATE_PLAYING);
  return h;
}

guint64
stat_u64 (GstElement *e, const char *field)
{
  return zc_test_stat (e, field);
}

std::string
stat_str (GstElement *e, const char *field)
{
  GstStructure *s = NULL;
  g_object_get (e, "stats", &s, NULL);
  std::string v = gst_structure_get_string (s, field);
  gst_structure_free (s);
  return v;
}

/* The next buffer downstream, or NULL when none came within @ms. */
GstBuffer *
pull_within (GstHarness *h, int ms)
{
  gint64 end = g_get_monotonic_time () + gint64 (ms) * 1000;
  while (g_get_monotonic_time () < end) {
    if (GstBuffer *b = gst_harness_try_pull (h))
      return b;
    g_usleep (5000);
  }
  return NULL;
}

int
fence_status (int fd)
{
  GstZcSyncFileInfo info;
  fail_unless (gst_zc_sync_file_get_status (fd, &info));
  return info.status;
}

} // namespace

/* mode=wait: buffers come out only once their fence signalled, in order, and
 * pushing them in did not wait for the fences. */
GST_START_TEST (test_wait_order)
{
  ZcVgem vgem;
  ZcVgemFence f1 (vgem, vgem_alloc), f2 (vgem, vgem_alloc),
      f3 (vgem, vgem_alloc);
  GstHarness *h = fence_harness ("wait", 30 * GST_SECOND);
  /* Three pushes with three pending fences return: max-buffers is 3. */
  fail_unless_equals_int (gst_harness_push (h,
                              dmabuf_buffer (f1.sync_file (), 1)),
      GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h,
                              dmabuf_buffer (f2.sync_file (), 2)),
      GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h,
                              dmabuf_buffer (f3.sync_file (), 3)),
      GST_FLOW_OK);
  fail_unless (pull_within (h, 300) == NULL, "a buffer left before its fence");

  f2.signal (); /* the second is ready, the first is not: nothing yet */
  fail_unless (pull_within (h, 300) == NULL, "order not kept");

  f1.signal ();
  for (guint64 want = 1; want <= 2; want++) {
    GstBuffer *b = pull_within (h, 10000);
    fail_unless (b != NULL);
    fail_unless_equals_int (GST_BUFFER_OFFSET (b), want);
    GstZcFenceMeta *m = gst_zc_buffer_get_fence_meta (b);
    fail_unless_equals_int (fence_status (
                                gst_zc_fence_meta_get_acquire_fence (m)),
        1);
    gst_buffer_unref (b);
  }
  fail_unless (pull_within (h, 200) == NULL);
  f3.signal ();
  GstBuffer *b = pull_within (h, 10000);
  fail_unless (b != NULL);
  fail_unless_equals_int (GST_BUFFER_OFFSET (b), 3);
  gst_buffer_unref (b);

  fail_unless_equals_string (stat_str (h->element, "mode").c_str (), "wait");
  fail_unless_equals_uint64 (stat_u64 (h->element, "pushed"), 3);
  fail_unless (stat_u64 (h->element, "waited") >= 1);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* sw_sync fences (the debug kernel has them; Debian's kernel does not):
 * fences the test alone signals, never the kernel by itself (vgem's signal
 * after 10 s), one of them with an error. mode=wait keeps the order, drops
 * the frame whose fence failed (counted, a warning with the fence's status),
 * and waits for a late fence as long as its timeout allows. */
GST_START_TEST (test_wait_sw_sync)
{
  GError *err = NULL;
  GstZcTestFence *f[3] = {};
  for (auto &x : f) {
    x = gst_zc_test_fence_new ("sw_sync", &err);
    if (!x) {
      const char *k = g_getenv ("ZC_VM_KERNEL");
      fail_if (k && strcmp (k, "debug") == 0,
          "no sw_sync on the debug "
          "kernel: %s",
          err->message);
      g_print ("NOT RUN: test_wait_sw_sync: %s\n", err->message);
      g_clear_error (&err);
      for (auto &y : f)
        if (&y != &x && y)
          gst_zc_test_fence_free (y);
      return;
    }
  }
  GstHarness *h = fence_harness ("wait", 60 * GST_SECOND);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  for (guint i = 0; i < 3; i++)
    fail_unless_equals_int (gst_harness_push (h,
                                dmabuf_buffer (gst_zc_test_fence_dup_fd (f[i]),
                                    i + 1)),
        GST_FLOW_OK);
  fail_unless (pull_within (h, 300) == NULL, "a buffer left before its fence");
  fail_unless (gst_zc_test_fence_signal (f[1], TRUE, NULL));
  fail_unless (pull_within (h, 300) == NULL, "order not kept");
  fail_unless (gst_zc_test_fence_signal (f[0], FALSE, NULL));
  GstBuffer *b = pull_within (h, 10000);
  fail_unless (b != NULL);
  fail_unless_equals_int (GST_BUFFER_OFFSET (b), 1);
  gst_buffer_unref (b);
  /* The second was dropped; the third still waits. */
  fail_unless (pull_within (h, 300) == NULL,
      "a buffer passed a failed or "
      "pending fence");
  fail_unless_equals_uint64 (stat_u64 (h->element, "fence-errors"), 1);
  GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (m != NULL, "no warning for the failed fence");
  const GstStructure *d = NULL;
  gst_message_parse_warning_details (m, &d);
  gint status = 0;
  fail_unless (d && gst_structure_get_int (d, "fence-error", &status));
  fail_unless_equals_int (status, -ENOENT); /* sw_sync's error */
  gst_message_unref (m);
  fail_unless (gst_zc_test_fence_signal (f[2], FALSE, NULL));
  b = pull_within (h, 10000);
  fail_unless (b != NULL);
  fail_unless_equals_int (GST_BUFFER_OFFSET (b), 3);
  gst_buffer_unref (b);
  fail_unless_equals_uint64 (stat_u64 (h->element, "pushed"), 2);
  fail_unless_equals_uint64 (stat_u64 (h->element, "fence-timeouts"), 0);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  for (auto &x : f)
    gst_zc_test_fence_free (x);
}
GST_END_TEST;

/* A fence that does not signal in time: the frame is dropped with a warning,
 * counted, and the next one goes through. */
GST_START_TEST (test_wait_timeout)
{
  ZcVgem vgem;
  ZcVgemFence never (vgem, vgem_alloc);
  GstHarness *h = fence_harness ("wait", 200 * GST_MSECOND);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  fail_unless_equals_int (gst_harness_push (h,
                              dmabuf_buffer (never.sync_file (), 1)),
      GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, dmabuf_buffer (-1, 2)),
      GST_FLOW_OK);
  GstBuffer *b = pull_within (h, 10000);
  fail_unless (b != NULL);
  fail_unless_equals_int (GST_BUFFER_OFFSET (b), 2);
  gst_buffer_unref (b);
  fail_unless_equals_uint64 (stat_u64 (h->element, "fence-timeouts"), 1);
  fail_unless_equals_uint64 (stat_u64 (h->element, "pushed"), 1);
  GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (m != NULL, "no warning message");
  gst_message_unref (m);
  fail_unless_equals_int (fence_status (never.sync_file ()), 0);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* Stopping the element ends a wait at once: the fence is still pending
 * afterwards and nothing counted as a timeout. */
GST_START_TEST (test_wait_flush)
{
  ZcVgem vgem;
  ZcVgemFence never (vgem, vgem_alloc);
  GstHarness *h = fence_harness ("wait", 60 * GST_SECOND);
  fail_unless_equals_int (gst_harness_push (h,
                              dmabuf_buffer (never.sync_file (), 1)),
      GST_FLOW_OK);
  fail_unless (pull_within (h, 200) == NULL);
  GstElement *e = GST_ELEMENT (gst_object_ref (h->element));
  gst_element_set_state (e, GST_STATE_NULL);
  fail_unless_equals_int (fence_status (never.sync_file ()), 0);
  gst_object_unref (e);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* mode=implicit: the acquire fence (of another buffer entirely) ends up in
 * the pushed buffer's reservation object, so an implicit-sync reader waits. */
GST_START_TEST (test_implicit)
{
  ZcVgem vgem;
  ZcVgemFence f (vgem, vgem_alloc);
  GstHarness *h = fence_harness ("implicit", GST_SECOND);
  GstBuffer *in = dmabuf_buffer (f.sync_file (), 1);
  int fd = gst_dmabuf_memory_get_fd (gst_buffer_peek_memory (in, 0));
  /* Control: the buffer itself has no implicit fence yet. */
  int before = gst_zc_dmabuf_export_sync_file (fd, GST_ZC_FENCE_ACCESS_READ);
  fail_unless (before >= 0);
  fail_unless_equals_int (fence_status (before), 1);
  close (before);

  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  GstBuffer *b = pull_within (h, 10000);
  fail_unless (b != NULL, "implicit mode held the buffer back");
  int after = gst_zc_dmabuf_export_sync_file (fd, GST_ZC_FENCE_ACCESS_READ);
  fail_unless (after >= 0);
  fail_unless_equals_int (fence_status (after), 0);
  f.signal ();
  fail_unless_equals_int (gst_zc_sync_file_wait (after, 5 * GST_SECOND), 0);
  close (after);
  gst_buffer_unref (b);
  fail_unless_equals_uint64 (stat_u64 (h->element, "imported"), 1);
  fail_unless_equals_string (stat_str (h->element, "mode").c_str (),
      "implicit");
  gst_harness_teardown (h);
}
GST_END_TEST;

/* mode=attach: a buffer without a meta but with an implicit write fence
 * leaves with that fence as its acquire fence. */
GST_START_TEST (test_attach)
{
  ZcVgem vgem;
  GstHarness *h = fence_harness ("attach", GST_SECOND);
  GstBuffer *in = dmabuf_buffer (-1, 1);
  int fd = gst_dmabuf_memory_get_fd (gst_buffer_peek_memory (in, 0));
  guint32 handle = vgem.import (fd);
  guint32 fence = vgem.attach (handle, true);
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  GstBuffer *b = pull_within (h, 10000);
  fail_unless (b != NULL);
  GstZcFenceMeta *m = gst_zc_buffer_get_fence_meta (b);
  fail_unless (m != NULL, "no fence meta attached");
  int acquire = gst_zc_fence_meta_get_acquire_fence (m);
  fail_unless (acquire >= 0);
  fail_unless_equals_int (fence_status (acquire), 0);
  vgem.signal (fence);
  fail_unless_equals_int (gst_zc_sync_file_wait (acquire, 5 * GST_SECOND), 0);
  fail_unless_equals_int (fence_status (acquire), 1);
  gst_buffer_unref (b);
  vgem.close_handle (handle);
  fail_unless_equals_uint64 (stat_u64 (h->element, "attached"), 1);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* zcam's fault-injection knob (docs/zcam-uapi.md). */
void
zcam_knob (const char *knob, int value)
{
  std::ofstream f (std::string ("/sys/kernel/debug/zcam/zcam0/") + knob);
  fail_unless (f.good (), "cannot open zcam's %s", knob);
  f << value << "\n";
}

/* Warnings about failed frames on the bus, by element, checked against the
 * rate limit of docs/elements.md: the first is a full warning with
 * `sequence`, `fence-error` and `pushed` details, each later one a summary
 * whose `failed` says how many frames it stands for. */
struct FailureWarnings
{
  guint messages = 0;
  guint64 covered = 0; /* frames the messages account for */
  guint64 first_sequence = G_MAXUINT64;

  void add (GstMessage *m)
  {
    const GstStructure *d = NULL;
    gst_message_parse_warning_details (m, &d);
    fail_unless (d != NULL, "a warning without details");
    guint64 failed = 0;
    if (messages == 0) {
      gint err;
      gboolean pushed;
      fail_unless (gst_structure_get (d, "sequence", G_TYPE_UINT64,
                       &first_sequence, "fence-error", G_TYPE_INT, &err,
                       "pushed", G_TYPE_BOOLEAN, &pushed, NULL),
          "first warning: details");
      fail_unless (!gst_structure_has_field (d, "failed"));
      covered++;
    } else {
      fail_unless (gst_structure_get_uint64 (d, "failed", &failed),
          "summary without a count");
      fail_unless (failed >= 1);
      covered += failed;
    }
    messages++;
  }
};

/* zcam fences: fail_fences makes three frames' fences signal -EIO; in wait
 * mode exactly those are dropped (counted) and the stream reaches EOS. The
 * three fail within one warning interval (5 s; they are consecutive frames
 * at 60 fps): the first is a warning of its own, the other two are one
 * summary, posted before the EOS. */
GST_START_TEST (test_zcam_errors)
{
  if (!g_file_test ("/dev/zcam0", G_FILE_TEST_EXISTS))
    fail ("zcam.ko is not loaded");
  GstElement *p = gst_parse_launch (
      "zcamsrc num-buffers=24 ! "
      "video/x-raw,format=BGRx,width=64,height=32,framerate=60/1 ! "
      "zcfence name=f mode=wait ! fakesink",
      NULL);
  fail_unless (p != NULL);
  GstElement *f = gst_bin_get_by_name (GST_BIN (p), "f");
  gst_element_set_state (p, GST_STATE_PLAYING);
  {
    std::ofstream knob ("/sys/kernel/debug/zcam/zcam0/fail_fences");
    knob << "3\n";
  }
  GstBus *bus = gst_element_get_bus (p);
  FailureWarnings warnings;
  bool eos = false;
  while (!eos) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GstMessageType (
            GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING));
    fail_unless (m != NULL, "no EOS");
    fail_if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR, "pipeline error");
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_WARNING &&
        GST_MESSAGE_SRC (m) == GST_OBJECT (f))
      warnings.add (m);
    eos = GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS;
    gst_message_unref (m);
  }
  fail_unless_equals_uint64 (stat_u64 (f, "fence-errors"), 3);
  fail_unless_equals_int (warnings.messages, 2);
  fail_unless_equals_uint64 (warnings.covered, 3);
  fail_unless_equals_uint64 (stat_u64 (f, "pushed"),
      stat_u64 (f, "frames") - 3);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (f);
  gst_object_unref (p);
}
GST_END_TEST;

/* About ten seconds of frames whose fences all fail: the bus carries at
 * most 1 + seconds / 5 + 1 warnings per element (the first, one summary per
 * interval, one at the end), and together they account for exactly the
 * frames stats counts. An upper bound from the rule, with the seconds this
 * run took: nothing here depends on how fast the machine is. */
GST_START_TEST (test_warnings_rate_limited)
{
  if (!g_file_test ("/dev/zcam0", G_FILE_TEST_EXISTS))
    fail ("zcam.ko is not loaded");
  const guint64 n = 300; /* 10 s at 30 fps */
  std::string desc = "zcamsrc name=src num-buffers=" + std::to_string (n) +
      " ! video/x-raw,format=BGRx,width=64,height=32,framerate=30/1 ! "
      "zcfence name=f mode=wait ! fakesink";
  GstElement *p = gst_parse_launch (desc.c_str (), NULL);
  fail_unless (p != NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstElement *f = gst_bin_get_by_name (GST_BIN (p), "f");
  zcam_knob ("fail_fences", 100000);
  const gint64 start = g_get_monotonic_time ();
  gst_element_set_state (p, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (p);
  FailureWarnings from_src, from_f;
  auto take = [&] (GstMessage *m) {
    if (GST_MESSAGE_TYPE (m) != GST_MESSAGE_WARNING)
      return;
    if (GST_MESSAGE_SRC (m) == GST_OBJECT (src))
      from_src.add (m);
    else if (GST_MESSAGE_SRC (m) == GST_OBJECT (f))
      from_f.add (m);
  };
  bool eos = false;
  while (!eos) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
        GstMessageType (
            GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING));
    fail_unless (m != NULL, "no EOS within 120 s");
    fail_if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR, "pipeline error");
    take (m);
    eos = GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS;
    gst_message_unref (m);
  }
  zcam_knob ("fail_fences", 0);
  /* zcamsrc posts its last summary when it stops; READY keeps the bus. */
  gst_element_set_state (p, GST_STATE_READY);
  while (GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING)) {
    take (m);
    gst_message_unref (m);
  }
  const gint64 seconds = (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  const guint bound = guint (1 + seconds / 5 + 1);
  GST_INFO ("%" G_GINT64_FORMAT " s: zcamsrc %u warnings for %" G_GUINT64_FORMAT
            " frames, zcfence %u for %" G_GUINT64_FORMAT,
      seconds, from_src.messages, from_src.covered, from_f.messages,
      from_f.covered);
  fail_unless_equals_uint64 (stat_u64 (f, "fence-errors"), n);
  fail_unless_equals_uint64 (from_f.covered, n);
  fail_unless (from_f.messages <= bound,
      "zcfence: %u warnings in %" G_GINT64_FORMAT " s", from_f.messages,
      seconds);
  fail_unless (stat_u64 (src, "fence-errors") >= 1);
  fail_unless_equals_uint64 (from_src.covered, stat_u64 (src, "fence-errors"));
  fail_unless (from_src.messages <= bound,
      "zcamsrc: %u warnings in %" G_GINT64_FORMAT " s", from_src.messages,
      seconds);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (f);
  gst_object_unref (src);
  gst_object_unref (p);
}
GST_END_TEST;

/* Every frame's fence fails, from the first one, in a tee whose display
 * branch has a prerolling sink (zckmssink, sync=true by default). The
 * zcfence branch's sink only ever sees GAP events in place of the dropped
 * frames; it must preroll on them, or the live pipeline never reaches
 * PLAYING: zckmssink then waits in preroll with a buffer, its queue holds
 * the others, zcamsrc has none left to capture into and nothing moves.
 * The stream must instead run to EOS with every frame counted. */
GST_START_TEST (test_tee_all_fences_fail)
{
  if (!g_file_test ("/dev/zcam0", G_FILE_TEST_EXISTS))
    fail ("zcam.ko is not loaded");
  const guint64 n = 60;
  std::string desc = "zcamsrc name=src num-buffers=" + std::to_string (n) +
      " ! video/x-raw,format=BGRx,width=640,height=480,framerate=30/1 ! "
      "tee name=t  t. ! queue ! zcfence name=f mode=wait ! fakesink name=fs "
      "t. ! queue ! zckmssink name=k driver-name=vkms";
  GstElement *p = gst_parse_launch (desc.c_str (), NULL);
  fail_unless (p != NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstElement *f = gst_bin_get_by_name (GST_BIN (p), "f");
  GstElement *k = gst_bin_get_by_name (GST_BIN (p), "k");
  /* Far more than the stream has: every frame fails, the first one too. */
  zcam_knob ("fail_fences", 100000);
  gst_element_set_state (p, GST_STATE_PLAYING);

  GstBus *bus = gst_element_get_bus (p);
  /* A guard against the wedge, not a timing target. */
  const gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  bool eos = false, error = false;
  while (!eos && !error) {
    gint64 left = deadline - g_get_monotonic_time ();
    if (left <= 0)
      break;
    GstMessage *m = gst_bus_timed_pop_filtered (bus, left * GST_USECOND,
        GstMessageType (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (!m)
      break;
    eos = GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS;
    error = GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR;
    gst_message_unref (m);
  }
  zcam_knob ("fail_fences", 0);
  guint64 f_frames = stat_u64 (f, "frames"),
          f_errors = stat_u64 (f, "fence-errors");
  GST_INFO ("zcfence: %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT
            " fence errors; zckmssink: %" G_GUINT64_FORMAT " fence errors",
      f_frames, f_errors, stat_u64 (k, "fence-errors"));
  fail_if (error, "pipeline error");
  fail_unless (eos,
      "no EOS within 120 s: the pipeline is wedged after %" G_GUINT64_FORMAT
      " frames",
      f_frames);
  /* Every frame went out and failed: none passed zcfence, none was shown. */
  fail_unless_equals_uint64 (stat_u64 (src, "frames"), n);
  fail_unless_equals_uint64 (f_frames, n);
  fail_unless_equals_uint64 (f_errors, n);
  fail_unless_equals_uint64 (stat_u64 (f, "dropped"), n);
  fail_unless_equals_uint64 (stat_u64 (f, "pushed"), 0);
  fail_unless_equals_uint64 (stat_u64 (k, "shown"), 0);
  fail_unless (stat_u64 (k, "fence-errors") >= 1);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (k);
  gst_object_unref (f);
  gst_object_unref (src);
  gst_object_unref (p);
}
GST_END_TEST;

/* mode=auto picks from the element downstream, through a queue, a
 * capsfilter and a bin: V4L2 -> wait, KMS -> implicit, fakesink -> wait. */
GST_START_TEST (test_auto)
{
  struct
  {
    const char *desc;
    const char *mode;
    const char *chosen;
  } cases[] = {
    { "zcamsrc num-buffers=5 ! video/x-raw,format=NV12,width=640,height=480 ! "
      "zcfence name=f ! queue ! video/x-raw ! v4l2fwhtenc "
      "output-io-mode=dmabuf-import ! fakesink",
        "wait", "v4l2fwhtenc" },
    { "zcamsrc num-buffers=5 ! video/x-raw,format=BGRx,width=640,height=480 ! "
      "zcfence name=f ! bin.( queue ! zckmssink driver-name=vkms )",
        "implicit", "zckmssink" },
    { "zcamsrc num-buffers=5 ! zcfence name=f ! fakesink", "wait", "fakesink" },
  };
  for (const auto &c : cases) {
    GstElement *p = gst_parse_launch (c.desc, NULL);
    fail_unless (p != NULL, "%s", c.desc);
    GstElement *f = gst_bin_get_by_name (GST_BIN (p), "f");
    gst_element_set_state (p, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus (p);
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
        GstMessageType (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    fail_unless (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS, "%s", c.desc);
    gst_message_unref (m);
    fail_unless_equals_string (stat_str (f, "mode").c_str (), c.mode);
    fail_unless (stat_str (f, "chosen-for").find (c.chosen) !=
            std::string::npos,
        "chose for %s", stat_str (f, "chosen-for").c_str ());
    if (std::string (c.mode) == "implicit")
      fail_unless_equals_uint64 (stat_u64 (f, "imported"),
          stat_u64 (f, "frames"));
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (bus);
    gst_object_unref (f);
    gst_object_unref (p);
  }
}
GST_END_TEST;

static void
setup (void)
{
  vgem_alloc = zc_test_vgem_allocator ();
}

static void
teardown (void)
{
  gst_object_unref (vgem_alloc);
  vgem_alloc = NULL;
}

static Suite *
zcfence_suite (void)
{
  Suite *s = suite_create ("zcfence");
  TCase *tc = tcase_create ("vm");
  tcase_set_timeout (tc, 240);
  tcase_add_checked_fixture (tc, setup, teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_wait_order);
  tcase_add_test (tc, test_wait_timeout);
  tcase_add_test (tc, test_wait_sw_sync);
  tcase_add_test (tc, test_wait_flush);
  tcase_add_test (tc, test_implicit);
  tcase_add_test (tc, test_attach);
  tcase_add_test (tc, test_zcam_errors);
  tcase_add_test (tc, test_tee_all_fences_fail);
  tcase_add_test (tc, test_warnings_rate_limited);
  tcase_add_test (tc, test_auto);
  return s;
}

int
main (int argc, char **argv)
{
  gst_check_init (&argc, &argv);
  zc_test_require_vm ();
  return gst_check_run_suite (zcfence_suite (), "zcfence", __FILE__);
}
