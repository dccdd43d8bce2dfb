/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zc-harness-test: a GstHarness test of an element against fenced buffers,
 * with real kernel fences from libgstzerocopy-check-1.0 (GstZcTestFence).
 * The element under test is zcfence in `wait` mode; an element of your own
 * that takes GstZcFenceMeta is tested the same way.
 *
 * What it shows:
 * - making a pending kernel fence (sw_sync or vgem, whatever the kernel
 *   has) and putting it on a buffer as its acquire fence;
 * - checking, without timing, that the element pushes the buffer only once
 *   the fence signalled: a probe on its source pad reads the fence's status
 *   at the moment of the push;
 * - a fence that signals with an error: the frame is dropped and a GAP
 *   event takes its place. vgem cannot make such a fence; then this one
 *   case says so and passes, the others still run;
 * - skipping (exit code 77) when the kernel has no fence source at all.
 *
 *   cc zc-harness-test.c $(pkg-config --cflags --libs \
 *       gstzerocopy-check-1.0 gstreamer-check-1.0)
 *   GST_PLUGIN_PATH=build/plugins ./zc-harness-test
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/zerocopy/check/gstzctestfence.h>

#include <unistd.h>

#define CAPS "video/x-raw,format=BGRx,width=64,height=48,framerate=30/1"

/* A new test fence; the suite only runs when one can be made (main). */
static GstZcTestFence *
new_fence (void)
{
  GError *error = NULL;
  GstZcTestFence *fence = gst_zc_test_fence_new (NULL, &error);
  fail_unless (fence != NULL, "no test fence: %s", error ? error->message : "");
  return fence;
}

static gint
fence_status (gint fd)
{
  GstZcSyncFileInfo info;
  fail_unless (gst_zc_sync_file_get_status (fd, &info));
  return info.status;
}

/* A system-memory frame whose acquire fence is @fence. */
static GstBuffer *
fenced_buffer (GstZcTestFence *fence)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 64 * 48 * 4, NULL);
  GST_BUFFER_PTS (buf) = 0;
  GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
  fail_unless (gst_zc_test_fence_attach_to_buffer (fence, buf));
  return buf;
}

/* Records the status of each pushed buffer's acquire fence at push time. */
static GstPadProbeReturn
record_status (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstZcFenceMeta *meta =
      gst_zc_buffer_get_fence_meta (GST_PAD_PROBE_INFO_BUFFER (info));
  (void) pad;
  g_atomic_int_set ((gint *) data,
      meta ? fence_status (gst_zc_fence_meta_get_acquire_fence (meta)) : 99);
  return GST_PAD_PROBE_OK;
}

/* A field of the zcfence's stats (gst_harness_new_parse() puts it in a bin). */
static guint64
stat (GstHarness *h, const gchar *field)
{
  GstElement *element = gst_harness_find_element (h, "zcfence");
  GstStructure *s = NULL;
  guint64 v = G_MAXUINT64;
  g_object_get (element, "stats", &s, NULL);
  gst_object_unref (element);
  fail_unless (s && gst_structure_get_uint64 (s, field, &v));
  gst_structure_free (s);
  return v;
}

/* The helper itself: pending, signalled, not twice. */
GST_START_TEST (test_fence_signals)
{
  GstZcTestFence *fence = new_fence ();
  g_print ("fence source: %s\n", gst_zc_test_fence_get_source (fence));
  gint fd = gst_zc_test_fence_dup_fd (fence);
  fail_unless (fd >= 0);
  fail_unless_equals_int (fence_status (fd), 0);
  fail_unless_equals_int (gst_zc_sync_file_wait (fd, 0), -ETIMEDOUT);
  fail_unless (gst_zc_test_fence_signal (fence, FALSE, NULL));
  fail_unless_equals_int (fence_status (fd), 1);
  fail_unless_equals_int (gst_zc_sync_file_wait (fd, GST_SECOND), 0);
  GError *error = NULL;
  fail_if (gst_zc_test_fence_signal (fence, FALSE, &error));
  fail_unless (error != NULL);
  g_clear_error (&error);
  close (fd);
  gst_zc_test_fence_free (fence);
}
GST_END_TEST;

/* zcfence mode=wait pushes a buffer only after its fence signalled. */
GST_START_TEST (test_wait_until_signalled)
{
  GstHarness *h = gst_harness_new_parse ("zcfence mode=wait");
  gst_harness_set_src_caps_str (h, CAPS);
  gint status_at_push = -100;
  GstPad *srcpad = gst_element_get_static_pad (h->element, "src");
  gst_pad_add_probe (srcpad, GST_PAD_PROBE_TYPE_BUFFER, record_status,
      &status_at_push, NULL);
  gst_object_unref (srcpad);

  GstZcTestFence *fence = new_fence ();
  GstBuffer *in = fenced_buffer (fence);
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (in)),
      GST_FLOW_OK);
  fail_unless (gst_zc_test_fence_signal (fence, FALSE, NULL));
  /* gst_harness_pull() waits (bounded, 60 s) for the buffer. */
  GstBuffer *out = gst_harness_pull (h);
  fail_unless (out == in);
  fail_unless_equals_int (g_atomic_int_get (&status_at_push), 1);
  fail_unless (gst_zc_buffer_get_fence_meta (out) != NULL);
  /* Counted before the push (the "pushed" counter only after it returns,
   * so reading that one here would race with zcfence's thread). */
  fail_unless_equals_uint64 (stat (h, "fence-errors"), 0);
  fail_unless_equals_uint64 (stat (h, "fence-timeouts"), 0);
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_zc_test_fence_free (fence);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* A fence that fails drops the frame; a GAP event takes its place. */
GST_START_TEST (test_error_drops_frame)
{
  GstZcTestFence *fence = new_fence ();
  if (!gst_zc_test_fence_can_signal_error (fence)) {
    g_print ("test_error_drops_frame: not run: a %s fence cannot signal "
        "with an error (a kernel with CONFIG_SW_SYNC can)\n",
        gst_zc_test_fence_get_source (fence));
    gst_zc_test_fence_free (fence);
    return;
  }
  GstHarness *h = gst_harness_new_parse ("zcfence mode=wait");
  gst_harness_set_src_caps_str (h, CAPS);
  fail_unless_equals_int (gst_harness_push (h, fenced_buffer (fence)),
      GST_FLOW_OK);
  fail_unless (gst_zc_test_fence_signal (fence, TRUE, NULL));
  fail_unless_equals_int (fence_status (gst_zc_test_fence_get_fd (fence)),
      -ENOENT);

  /* stream-start, caps, segment, then the GAP (each pull is bounded). */
  GstEvent *ev;
  while ((ev = gst_harness_pull_event (h)) &&
      GST_EVENT_TYPE (ev) != GST_EVENT_GAP)
    gst_event_unref (ev);
  fail_unless (ev != NULL, "no GAP event for the dropped frame");
  gst_event_unref (ev);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  /* Counted before the GAP was pushed. */
  fail_unless_equals_uint64 (stat (h, "fence-errors"), 1);
  gst_zc_test_fence_free (fence);
  gst_harness_teardown (h);
}
GST_END_TEST;

static Suite *
harness_suite (void)
{
  Suite *s = suite_create ("zc-harness-test");
  TCase *tc = tcase_create ("fences");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_fence_signals);
  tcase_add_test (tc, test_wait_until_signalled);
  tcase_add_test (tc, test_error_drops_frame);
  return s;
}

int
main (int argc, char **argv)
{
  gst_check_init (&argc, &argv);
  /* No fence source in this kernel: skip, saying what is missing. */
  GError *error = NULL;
  GstZcTestFence *probe = gst_zc_test_fence_new (NULL, &error);
  if (!probe) {
    g_print ("skipping: %s\n", error->message);
    g_clear_error (&error);
    return 77;
  }
  gst_zc_test_fence_free (probe);
  return gst_check_run_suite (harness_suite (), "zc-harness-test", __FILE__);
}
