/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GstZcBufferPool on the host (memfd backend; pipes stand in for release
 * fences): recycling identity, video meta and alignment, min/max,
 * exhaustion, flushing, release fences, no fd leaks.
 */
#include "zc-check.h"

static GstBufferPool *
make_pool (const char *caps_str, guint min, guint max, bool video_meta = true,
    GstStructure **config_out = nullptr)
{
  GstAllocator *alloc = gst_zc_allocator_new ("memfd", NULL);
  fail_unless (alloc != NULL);
  GstBufferPool *pool = gst_zc_buffer_pool_new (alloc);
  gst_object_unref (alloc);
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstStructure *config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, 0, min, max);
  if (video_meta)
    gst_buffer_pool_config_add_option (config,
        GST_BUFFER_POOL_OPTION_VIDEO_META);
  gst_caps_unref (caps);
  if (config_out) {
    *config_out = config;
    return pool;
  }
  fail_unless (gst_buffer_pool_set_config (pool, config));
  return pool;
}

static const char *nv12 = "video/x-raw,format=NV12,width=320,height=240";

static GstBufferPoolAcquireParams dontwait = { GST_FORMAT_UNDEFINED, 0, 0,
  GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT, { NULL } };

GST_START_TEST (test_recycles_same_memory)
{
  GstBufferPool *pool = make_pool (nv12, 3, 3);
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));

  std::set<GstMemory *> first;
  std::set<GstBuffer *> first_bufs;
  for (int lap = 0; lap < 20; lap++) {
    GstBuffer *bufs[3];
    std::set<GstMemory *> seen;
    for (auto &b : bufs) {
      fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
          GST_FLOW_OK);
      fail_unless_equals_int (gst_buffer_n_memory (b), 1);
      seen.insert (gst_buffer_peek_memory (b, 0));
      if (lap == 0)
        first_bufs.insert (b);
      else
        fail_unless (first_bufs.count (b));
      /* Whatever a user does to the buffer's flags, metas and size is
       * undone, not the memory. */
      GST_BUFFER_PTS (b) = lap;
      gst_buffer_resize (b, 0, 100);
    }
    if (lap == 0)
      first = seen;
    fail_unless (seen == first, "lap %d got other memory", lap);
    for (auto &b : bufs)
      gst_buffer_unref (b);
  }
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
}
GST_END_TEST;

GST_START_TEST (test_replaced_memory_discarded)
{
  GstBufferPool *pool = make_pool (nv12, 1, 1);
  gst_buffer_pool_set_active (pool, TRUE);
  GstBuffer *b;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
      GST_FLOW_OK);
  GstMemory *orig = gst_buffer_peek_memory (b, 0);
  gsize size = gst_buffer_get_size (b);
  gst_buffer_replace_all_memory (b, gst_allocator_alloc (NULL, size, NULL));
  gst_buffer_unref (b);

  /* The foreign memory is not recycled: a fresh pool buffer comes out. */
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, &dontwait),
      GST_FLOW_OK);
  fail_unless (gst_is_fd_memory (gst_buffer_peek_memory (b, 0)));
  GST_INFO ("old memory %p, new %p", orig, gst_buffer_peek_memory (b, 0));
  gst_buffer_unref (b);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
}
GST_END_TEST;

GST_START_TEST (test_video_meta_and_alignment)
{
  GstStructure *config;
  GstBufferPool *pool =
      make_pool ("video/x-raw,format=NV12,width=100,height=50", 1, 2, true,
          &config);
  gst_buffer_pool_config_add_option (config,
      GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT);
  GstVideoAlignment align;
  gst_video_alignment_reset (&align);
  align.padding_left = 4;
  align.padding_top = 2;
  align.padding_right = 12;
  align.padding_bottom = 6;
  for (auto &s : align.stride_align)
    s = 63;
  gst_buffer_pool_config_set_video_alignment (config, &align);
  gst_zc_buffer_pool_config_set_layout_align (config, 1, 16);
  fail_unless (gst_buffer_pool_set_config (pool, config));

  /* The pool sets the size from the layout. */
  config = gst_buffer_pool_get_config (pool);
  guint size;
  fail_unless (
      gst_buffer_pool_config_get_params (config, NULL, &size, NULL, NULL));
  gst_structure_free (config);

  GstZcLayout l;
  fail_unless (gst_zc_buffer_pool_get_layout (GST_ZC_BUFFER_POOL (pool), &l));
  /* 116x58 padded frame, 64-byte strides, 16-line plane padding. */
  fail_unless_equals_int (l.width, 116);
  fail_unless_equals_int (l.height, 58);
  fail_unless_equals_int (l.stride[0], 128);
  fail_unless_equals_int (l.stride[1], 128);
  fail_unless_equals_uint64 (l.offset[1], 128 * 64);
  fail_unless_equals_uint64 (l.size, 128 * 64 + 128 * 32);
  fail_unless_equals_int (size, l.size);

  gst_buffer_pool_set_active (pool, TRUE);
  GstBuffer *b;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
      GST_FLOW_OK);
  GstVideoMeta *vm = gst_buffer_get_video_meta (b);
  fail_unless (vm != NULL);
  fail_unless_equals_int (vm->width, 100);
  fail_unless_equals_int (vm->height, 50);
  fail_unless_equals_int (vm->n_planes, 2);
  fail_unless_equals_int (vm->stride[0], 128);
  fail_unless_equals_int (vm->stride[1], 128);
  /* Left/top padding moves the first visible pixel of each plane. */
  fail_unless_equals_uint64 (vm->offset[0], 2 * 128 + 4);
  fail_unless_equals_uint64 (vm->offset[1], 128 * 64 + 1 * 128 + 4);

  /* The meta survives recycling (it is a pooled meta). */
  GstVideoFrame frame;
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, 100, 50);
  fail_unless (gst_video_frame_map (&frame, &info, b, GST_MAP_WRITE));
  fail_unless_equals_int (GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), 128);
  ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 1))[24 * 128 + 99] = 1;
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (b);
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
      GST_FLOW_OK);
  fail_unless (gst_buffer_get_video_meta (b) != NULL);
  gst_buffer_unref (b);

  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
}
GST_END_TEST;

GST_START_TEST (test_no_video_meta)
{
  GstBufferPool *pool = make_pool ("video/x-raw,format=BGRx,width=64,height=8",
      1, 1, false);
  gst_buffer_pool_set_active (pool, TRUE);
  GstBuffer *b;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
      GST_FLOW_OK);
  fail_unless (gst_buffer_get_video_meta (b) == NULL);
  fail_unless_equals_int (gst_buffer_get_size (b), 64 * 4 * 8);
  gst_buffer_unref (b);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
}
GST_END_TEST;

GST_START_TEST (test_min_preallocates_max_limits)
{
  int outer = zc_test_count_fds ();
  GstBufferPool *pool = make_pool (nv12, 3, 4);
  /* (GstBufferPool itself holds a control socket pair.) */
  int before = zc_test_count_fds ();
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  /* min buffers exist (one memfd each) as soon as the pool is active. */
  fail_unless_equals_int (zc_test_count_fds (), before + 3);

  GstBuffer *bufs[4];
  for (auto &b : bufs)
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b,
                                &dontwait),
        GST_FLOW_OK);
  fail_unless_equals_int (zc_test_count_fds (), before + 4);

  /* Exhausted: DONTWAIT says so at once with EOS, as GstBufferPool does. */
  GstBuffer *extra = NULL;
  gint64 t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &extra,
                              &dontwait),
      GST_FLOW_EOS);
  fail_unless (g_get_monotonic_time () - t0 < G_USEC_PER_SEC / 10);
  fail_unless (extra == NULL);

  for (auto &b : bufs)
    gst_buffer_unref (b);
  gst_buffer_pool_set_active (pool, FALSE);
  fail_unless_equals_int (zc_test_count_fds (), before);
  gst_object_unref (pool);
  fail_unless_equals_int (zc_test_count_fds (), outer);
}
GST_END_TEST;

GST_START_TEST (test_blocking_acquire_woken_by_release)
{
  GstBufferPool *pool = make_pool (nv12, 1, 1);
  gst_buffer_pool_set_active (pool, TRUE);
  GstBuffer *held;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &held, NULL),
      GST_FLOW_OK);
  GstMemory *mem = gst_buffer_peek_memory (held, 0);

  std::thread releaser ([held] {
    g_usleep (100000);
    gst_buffer_unref (held);
  });
  GstBuffer *b = NULL;
  gint64 t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
      GST_FLOW_OK);
  fail_unless (g_get_monotonic_time () - t0 >= 90000);
  fail_unless (gst_buffer_peek_memory (b, 0) == mem);
  releaser.join ();
  gst_buffer_unref (b);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
}
GST_END_TEST;

GST_START_TEST (test_flushing)
{
  GstBufferPool *pool = make_pool (nv12, 1, 1);
  gst_buffer_pool_set_active (pool, TRUE);
  GstBuffer *held;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &held, NULL),
      GST_FLOW_OK);

  /* A blocked acquire returns FLUSHING when the pool starts flushing. */
  GstFlowReturn ret = GST_FLOW_OK;
  std::thread waiter ([&] {
    GstBuffer *b = NULL;
    ret = gst_buffer_pool_acquire_buffer (pool, &b, NULL);
  });
  g_usleep (100000);
  gst_buffer_pool_set_flushing (pool, TRUE);
  waiter.join ();
  fail_unless_equals_int (ret, GST_FLOW_FLUSHING);
  GstBuffer *b = NULL;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, &dontwait),
      GST_FLOW_FLUSHING);

  gst_buffer_pool_set_flushing (pool, FALSE);
  gst_buffer_unref (held);
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, &dontwait),
      GST_FLOW_OK);
  gst_buffer_unref (b);

  /* Deactivating also wakes waiters. */
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &held, NULL),
      GST_FLOW_OK);
  std::thread waiter2 ([&] {
    GstBuffer *b2 = NULL;
    ret = gst_buffer_pool_acquire_buffer (pool, &b2, NULL);
  });
  g_usleep (100000);
  gst_buffer_pool_set_active (pool, FALSE);
  waiter2.join ();
  fail_unless_equals_int (ret, GST_FLOW_FLUSHING);
  gst_buffer_unref (held);
  gst_object_unref (pool);
}
GST_END_TEST;

static void
add_release_fence (GstBuffer *b, int fd)
{
  GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (b);
  if (!meta)
    meta = gst_zc_buffer_add_fence_meta (b);
  gst_zc_fence_meta_add_release_fence (meta, fd);
}

static bool
wait_unfenced (GstBufferPool *pool, gint64 timeout_us)
{
  gint64 end = g_get_monotonic_time () + timeout_us;
  while (gst_zc_buffer_pool_get_n_fenced (GST_ZC_BUFFER_POOL (pool)) > 0) {
    if (g_get_monotonic_time () > end)
      return false;
    g_usleep (1000);
  }
  return true;
}

GST_START_TEST (test_release_fence_delays_reuse)
{
  GstBufferPool *pool = make_pool (nv12, 1, 1);
  gst_buffer_pool_set_active (pool, TRUE);
  GstBuffer *b;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
      GST_FLOW_OK);
  GstMemory *mem = gst_buffer_peek_memory (b, 0);

  ZcTestPipeFence fence;
  int fence_fd = fence.take ();
  add_release_fence (b, fence_fd);

  /* Releasing does not wait for the fence. */
  gint64 t0 = g_get_monotonic_time ();
  gst_buffer_unref (b);
  fail_unless (g_get_monotonic_time () - t0 < 50000);
  fail_unless_equals_int (gst_zc_buffer_pool_get_n_fenced (
                              GST_ZC_BUFFER_POOL (pool)),
      1);

  /* Not handed out while the fence is pending. */
  b = NULL;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, &dontwait),
      GST_FLOW_EOS);
  g_usleep (50000);
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, &dontwait),
      GST_FLOW_EOS);

  /* A blocked acquire gets it once the fence signals. */
  std::thread signaller ([&fence] {
    g_usleep (100000);
    fence.signal ();
  });
  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
      GST_FLOW_OK);
  fail_unless (g_get_monotonic_time () - t0 >= 90000);
  signaller.join ();
  fail_unless (gst_buffer_peek_memory (b, 0) == mem);
  /* The pool closed the fence it took. */
  fail_if (zc_test_fd_open (fence_fd));
  fail_unless (gst_zc_buffer_get_fence_meta (b) == NULL);
  gst_buffer_unref (b);

  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
}
GST_END_TEST;

GST_START_TEST (test_acquire_with_fences)
{
  GstBufferPool *pool = make_pool (nv12, 1, 1);
  gst_buffer_pool_set_active (pool, TRUE);
  GstBuffer *b;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
      GST_FLOW_OK);
  GstMemory *mem = gst_buffer_peek_memory (b, 0);
  ZcTestPipeFence f1, f2;
  add_release_fence (b, f1.take ());
  add_release_fence (b, f2.take ());
  gst_buffer_unref (b);

  /* A producer that can pass fences to hardware gets the buffer now,
   * with the pending fences. */
  GstBufferPoolAcquireParams p = dontwait;
  p.flags = (GstBufferPoolAcquireFlags) (p.flags |
      GST_ZC_BUFFER_POOL_ACQUIRE_FLAG_WITH_FENCES);
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, &p),
      GST_FLOW_OK);
  fail_unless (gst_buffer_peek_memory (b, 0) == mem);
  GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (b);
  fail_unless (meta != NULL);
  fail_unless_equals_int (gst_zc_fence_meta_get_n_release_fences (meta), 2);
  fail_unless_equals_int (gst_zc_buffer_pool_get_n_fenced (
                              GST_ZC_BUFFER_POOL (pool)),
      0);

  /* Signalled fences that come back are not waited for. */
  f1.signal ();
  f2.signal ();
  gst_buffer_unref (b);
  fail_unless (wait_unfenced (pool, G_USEC_PER_SEC));
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, &dontwait),
      GST_FLOW_OK);
  gst_buffer_unref (b);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
}
GST_END_TEST;

GST_START_TEST (test_release_timeout_frees)
{
  int before = zc_test_count_fds ();
  GstStructure *config;
  GstBufferPool *pool = make_pool (nv12, 1, 1, true, &config);
  gst_zc_buffer_pool_config_set_release_timeout (config, 100 * GST_MSECOND);
  fail_unless (gst_buffer_pool_set_config (pool, config));
  gst_buffer_pool_set_active (pool, TRUE);

  GstBuffer *b;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
      GST_FLOW_OK);
  ZcTestPipeFence never;
  int fd = never.take ();
  add_release_fence (b, fd);
  gst_buffer_unref (b);
  fail_unless_equals_int (gst_zc_buffer_pool_get_n_fenced (
                              GST_ZC_BUFFER_POOL (pool)),
      1);

  /* Given up after the timeout: the buffer is freed, a new one made. */
  fail_unless (wait_unfenced (pool, 2 * G_USEC_PER_SEC));
  fail_if (zc_test_fd_open (fd));
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, &dontwait),
      GST_FLOW_OK);
  gst_buffer_unref (b);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  /* Only the fence pipe's write end is left. */
  fail_unless_equals_int (zc_test_count_fds (), before + 1);
}
GST_END_TEST;

GST_START_TEST (test_fenced_buffers_freed_on_stop)
{
  int before = zc_test_count_fds ();
  {
    ZcTestPipeFence never;
    GstBufferPool *pool = make_pool (nv12, 2, 2);
    gst_buffer_pool_set_active (pool, TRUE);
    GstBuffer *b;
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
        GST_FLOW_OK);
    add_release_fence (b, never.take ());
    gst_buffer_unref (b);
    fail_unless_equals_int (gst_zc_buffer_pool_get_n_fenced (
                                GST_ZC_BUFFER_POOL (pool)),
        1);
    /* Freeing the pool frees fenced buffers and closes their fences. */
    gst_object_unref (pool);
  }
  fail_unless_equals_int (zc_test_count_fds (), before);
}
GST_END_TEST;

GST_START_TEST (test_no_fd_leak)
{
  int before = zc_test_count_fds ();
  for (int round = 0; round < 3; round++) {
    GstBufferPool *pool = make_pool (nv12, 2, 6);
    gst_buffer_pool_set_active (pool, TRUE);
    GstBuffer *bufs[6];
    for (auto &b : bufs)
      fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
          GST_FLOW_OK);
    for (auto &b : bufs)
      gst_buffer_unref (b);
    gst_buffer_pool_set_active (pool, FALSE);
    gst_object_unref (pool);
  }
  fail_unless_equals_int (zc_test_count_fds (), before);
}
GST_END_TEST;

GST_START_TEST (test_buffers_outlive_pool)
{
  /* A buffer kept after the pool is deactivated and dropped stays valid. */
  GstBufferPool *pool = make_pool (nv12, 1, 1);
  gst_buffer_pool_set_active (pool, TRUE);
  GstBuffer *b;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
      GST_FLOW_OK);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  GstMapInfo map;
  fail_unless (gst_buffer_map (b, &map, GST_MAP_WRITE));
  map.data[0] = 1;
  gst_buffer_unmap (b, &map);
  gst_buffer_unref (b);
}
GST_END_TEST;

static Suite *
bufferpool_suite (void)
{
  Suite *s = suite_create ("zcbufferpool");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_recycles_same_memory);
  tcase_add_test (tc, test_replaced_memory_discarded);
  tcase_add_test (tc, test_video_meta_and_alignment);
  tcase_add_test (tc, test_no_video_meta);
  tcase_add_test (tc, test_min_preallocates_max_limits);
  tcase_add_test (tc, test_blocking_acquire_woken_by_release);
  tcase_add_test (tc, test_flushing);
  tcase_add_test (tc, test_release_fence_delays_reuse);
  tcase_add_test (tc, test_acquire_with_fences);
  tcase_add_test (tc, test_release_timeout_frees);
  tcase_add_test (tc, test_fenced_buffers_freed_on_stop);
  tcase_add_test (tc, test_no_fd_leak);
  tcase_add_test (tc, test_buffers_outlive_pool);
  return s;
}

GST_CHECK_MAIN (bufferpool);
