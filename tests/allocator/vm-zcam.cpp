/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * In the test VM with zcam.ko loaded: the zcam backend, a capture through
 * pool buffers whose CPU maps wait for the frame's fence, fence error
 * status, and all dma-bufs released with the pool.
 */
#include "zc-check.h"

#include <zcam.h>

#include <sys/ioctl.h>

static int
qbuf (int dev, GstBuffer *buf, guint64 *seq)
{
  struct zcam_queue q = {};
  q.buf_fd = gst_dmabuf_memory_get_fd (gst_buffer_peek_memory (buf, 0));
  q.flags = ZCAM_QUEUE_OUT_FENCE | ZCAM_QUEUE_FENCE_CLOEXEC;
  fail_unless (ioctl (dev, ZCAM_IOC_QBUF, &q) == 0, "QBUF: %s",
      g_strerror (errno));
  if (seq)
    *seq = q.sequence;
  return q.out_fence_fd;
}

static void
streamon (int dev, guint fps)
{
  struct zcam_stream s = {};
  s.fps_num = fps;
  s.fps_den = 1;
  fail_unless (ioctl (dev, ZCAM_IOC_STREAMON, &s) == 0, "STREAMON: %s",
      g_strerror (errno));
}

GST_START_TEST (test_zcam_backend)
{
  GstAllocator *a = gst_zc_allocator_new ("zcam", NULL);
  fail_unless (a != NULL);
  GstZcAllocator *za = GST_ZC_ALLOCATOR (a);
  fail_unless_equals_string (gst_zc_allocator_get_backend (za), "zcam");
  fail_unless_equals_string (gst_zc_allocator_get_device (za), "/dev/zcam0");
  fail_unless (gst_zc_allocator_get_device_fd (za) >= 0);

  /* The device lays out frames; strides at least what was asked for. */
  GstZcLayout l;
  fail_unless (gst_zc_allocator_negotiate_layout (za, GST_VIDEO_FORMAT_NV12,
      640, 480, 256, 16, &l));
  fail_unless_equals_int (l.n_planes, 2);
  fail_unless (l.stride[0] >= 640 && l.stride[0] % 256 == 0);
  fail_unless (l.offset[1] >= gsize (l.stride[0]) * 480);
  GstMemory *mem = gst_zc_allocator_alloc_layout (za, &l);
  fail_unless (mem != NULL);
  fail_unless (gst_is_dmabuf_memory (mem));
  fail_unless_equals_uint64 (mem->size, l.size);
  fail_unless (zc_test_count_named_dmabufs ("gstzc-zcam") >= 1);

  /* Another layout while that buffer lives: a second open of the device. */
  GstMemory *other = gst_allocator_alloc (a, 10000, NULL);
  fail_unless (other != NULL);
  fail_unless (other->size == 10000);
  gst_memory_unref (other);
  gst_memory_unref (mem);

  /* Formats the device does not capture are refused. */
  fail_if (gst_zc_allocator_negotiate_layout (za, GST_VIDEO_FORMAT_I420, 640,
      480, 1, 1, &l));
  gst_object_unref (a);

  /* zcam comes first in "auto". */
  a = gst_zc_allocator_new ("auto", NULL);
  fail_unless_equals_string (gst_zc_allocator_get_backend (
                                 GST_ZC_ALLOCATOR (a)),
      "zcam");
  gst_object_unref (a);
  fail_unless_equals_int (zc_test_count_named_dmabufs (), 0);
}
GST_END_TEST;

GST_START_TEST (test_zcam_capture_map_waits)
{
  int before = zc_test_count_fds ();
  GstAllocator *a = gst_zc_allocator_new ("zcam", NULL);
  GstBufferPool *pool = zc_test_make_pool (a,
      "video/x-raw,format=BGRx,width=320,height=240", 4, 4);
  int dev = gst_zc_allocator_get_device_fd (GST_ZC_ALLOCATOR (a));

  GstBuffer *bufs[4];
  guint64 seqs[4];
  for (int i = 0; i < 4; i++) {
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &bufs[i],
                                NULL),
        GST_FLOW_OK);
    int fence = qbuf (dev, bufs[i], &seqs[i]);
    gst_zc_fence_meta_add_acquire_fence (gst_zc_buffer_add_fence_meta (bufs[i]),
        fence);
  }
  streamon (dev, 30);

  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, 320, 240);
  guint prev_seq = 0;
  for (int i = 0; i < 4; i++) {
    /* Mapped right away: the map waits for the frame (its fence is in the
     * dma-buf's reservation object), it does not read a half frame. */
    GstVideoFrame frame;
    fail_unless (gst_video_frame_map (&frame, &info, bufs[i], GST_MAP_READ));
    GstZcSyncFileInfo st;
    GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (bufs[i]);
    fail_unless (
        gst_zc_sync_file_get_status (gst_zc_fence_meta_get_acquire_fence (meta),
            &st));
    fail_unless_equals_int (st.status, 1);
    fail_unless (st.timestamp_ns > 0);
    const guint8 *px = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
        50 * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0) + 100 * 4;
    /* XRGB8888 pattern: B = s, G = y + 2s, R = x + 4s, X = 0xff, where s is
     * the period the frame was captured in: QBUF's sequence, or later when
     * the device ran late (docs/zcam-uapi.md); frames in queue order. */
    guint s = px[0];
    fail_unless (s >= guint (seqs[i]),
        "frame %d: sequence %u, QBUF said %" G_GUINT64_FORMAT, i, s, seqs[i]);
    fail_unless (i == 0 || s > prev_seq, "frame %d: sequence %u after %u", i, s,
        prev_seq);
    prev_seq = s;
    fail_unless_equals_int (px[1], guint8 (50 + 2 * s));
    fail_unless_equals_int (px[2], guint8 (100 + 4 * s));
    fail_unless_equals_int (px[3], 0xff);
    gst_video_frame_unmap (&frame);
  }
  fail_unless (ioctl (dev, ZCAM_IOC_STREAMOFF) == 0);
  for (auto b : bufs)
    gst_buffer_unref (b);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_object_unref (a);
  fail_unless_equals_int (zc_test_count_named_dmabufs (), 0);
  fail_unless_equals_int (zc_test_count_fds (), before);
}
GST_END_TEST;

GST_START_TEST (test_zcam_fence_error_and_map_timeout)
{
  GstAllocator *a = gst_zc_allocator_new ("zcam", NULL);
  GstZcAllocator *za = GST_ZC_ALLOCATOR (a);
  GstBufferPool *pool = zc_test_make_pool (a,
      "video/x-raw,format=NV12,width=320,height=240", 1, 1);
  int dev = gst_zc_allocator_get_device_fd (za);
  GstBuffer *b;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
      GST_FLOW_OK);

  /* Queued, not streaming: the frame's fence is pending. A CPU map gives
   * up after the map timeout instead of hanging. */
  int fence = qbuf (dev, b, NULL);
  gst_zc_allocator_set_map_timeout (za, 100 * GST_MSECOND);
  GstMapInfo map;
  gint64 t0 = g_get_monotonic_time ();
  fail_if (gst_buffer_map (b, &map, GST_MAP_READ));
  fail_unless (g_get_monotonic_time () - t0 >= 90000);
  fail_unless_equals_int (gst_zc_sync_file_wait (fence, 10 * GST_MSECOND),
      -ETIMEDOUT);

  /* STREAMOFF cancels it: signalled, with -ECANCELED. */
  fail_unless (ioctl (dev, ZCAM_IOC_STREAMOFF) == 0);
  fail_unless_equals_int (gst_zc_sync_file_wait (fence, GST_SECOND), 0);
  GstZcSyncFileInfo st;
  fail_unless (gst_zc_sync_file_get_status (fence, &st));
  fail_unless_equals_int (st.status, -ECANCELED);
  close (fence);
  fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
  gst_buffer_unmap (b, &map);

  gst_buffer_unref (b);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_object_unref (a);
  fail_unless_equals_int (zc_test_count_named_dmabufs (), 0);
}
GST_END_TEST;

static Suite *
vm_zcam_suite (void)
{
  Suite *s = suite_create ("vm-zcam");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_zcam_backend);
  tcase_add_test (tc, test_zcam_capture_map_waits);
  tcase_add_test (tc, test_zcam_fence_error_and_map_timeout);
  return s;
}

int
main (int argc, char **argv)
{
  /* The one legitimate skip: zcam.ko is not loaded (not built yet, or the
   * VM was started with --no-zcam). */
  if (!g_file_test ("/dev/zcam0", G_FILE_TEST_EXISTS)) {
    g_print ("/dev/zcam0 does not exist: zcam.ko not loaded, skipping\n");
    return 77;
  }
  gst_check_init (&argc, &argv);
  return gst_check_run_suite (vm_zcam_suite (), "vm-zcam", __FILE__);
}
