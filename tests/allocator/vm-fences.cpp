/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * In the test VM: real sync_files from vgem fences. Wait and timeout,
 * status and timestamp, merge, export/import through dma-bufs, CPU maps
 * that wait for the acquire fence, pool buffers held back by release
 * fences (a sw_sync fence where the kernel has sw_sync).
 */
#include "zc-test-vgem.h"

#include <gst/zerocopy/check/gstzctestfence.h>

GST_START_TEST (test_wait_status_timestamp)
{
  ZcVgem vgem;
  GstAllocator *a = zc_test_vgem_allocator ();
  {
    ZcVgemFence f (vgem, a);
    int sf = f.sync_file ();
    GstZcSyncFileInfo info;
    fail_unless (gst_zc_sync_file_get_status (sf, &info));
    fail_unless_equals_int (info.status, 0);
    fail_unless_equals_int (info.num_fences, 1);
    fail_unless_equals_uint64 (info.timestamp_ns, 0);

    gint64 t0 = g_get_monotonic_time ();
    fail_unless_equals_int (gst_zc_sync_file_wait (sf, 50 * GST_MSECOND),
        -ETIMEDOUT);
    fail_unless (g_get_monotonic_time () - t0 >= 45000);

    guint64 before = zc_test_monotonic_ns ();
    f.signal ();
    fail_unless_equals_int (gst_zc_sync_file_wait (sf, GST_SECOND), 0);
    fail_unless (gst_zc_sync_file_get_status (sf, &info));
    fail_unless_equals_int (info.status, 1);
    /* Signal time, CLOCK_MONOTONIC, between the ioctl and now. */
    fail_unless (info.timestamp_ns >= before);
    fail_unless (info.timestamp_ns <= zc_test_monotonic_ns ());
    close (sf);
  }
  gst_object_unref (a);
}
GST_END_TEST;

GST_START_TEST (test_merge)
{
  ZcVgem vgem;
  GstAllocator *a = zc_test_vgem_allocator ();
  {
    ZcVgemFence f1 (vgem, a), f2 (vgem, a);
    int s1 = f1.sync_file (), s2 = f2.sync_file ();
    int m = gst_zc_sync_file_merge ("test", s1, s2);
    fail_unless (m >= 0);
    GstZcSyncFileInfo info;
    fail_unless (gst_zc_sync_file_get_status (m, &info));
    fail_unless_equals_int (info.num_fences, 2);
    fail_unless_equals_string (info.name, "test");
    fail_unless_equals_int (info.status, 0);

    f1.signal ();
    fail_unless_equals_int (gst_zc_sync_file_wait (s1, GST_SECOND), 0);
    fail_unless_equals_int (gst_zc_sync_file_wait (m, 20 * GST_MSECOND),
        -ETIMEDOUT);
    f2.signal ();
    fail_unless_equals_int (gst_zc_sync_file_wait (m, GST_SECOND), 0);
    fail_unless (gst_zc_sync_file_get_status (m, &info));
    fail_unless_equals_int (info.status, 1);
    close (s1);
    close (s2);
    close (m);
  }
  gst_object_unref (a);
}
GST_END_TEST;

GST_START_TEST (test_meta_merges_real_fences)
{
  int before = zc_test_count_fds ();
  ZcVgem vgem;
  GstAllocator *a = zc_test_vgem_allocator ();
  {
    ZcVgemFence f1 (vgem, a), f2 (vgem, a), r1 (vgem, a), r2 (vgem, a);
    GstBuffer *buf = gst_buffer_new ();
    GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta (buf);
    /* Two acquire fences become one that needs both. */
    fail_unless (gst_zc_fence_meta_add_acquire_fence (meta, f1.sync_file ()));
    fail_unless (gst_zc_fence_meta_add_acquire_fence (meta, f2.sync_file ()));
    GstZcSyncFileInfo info;
    fail_unless (
        gst_zc_sync_file_get_status (gst_zc_fence_meta_get_acquire_fence (meta),
            &info));
    fail_unless_equals_int (info.num_fences, 2);
    f1.signal ();
    fail_unless_equals_int (gst_zc_fence_meta_wait_acquire (meta,
                                20 * GST_MSECOND),
        -ETIMEDOUT);
    f2.signal ();
    fail_unless_equals_int (gst_zc_fence_meta_wait_acquire (meta, GST_SECOND),
        0);

    /* Release fences merged into the one in-fence a producer passes on. */
    gst_zc_fence_meta_add_release_fence (meta, r1.sync_file ());
    gst_zc_fence_meta_add_release_fence (meta, r2.sync_file ());
    int in = gst_zc_fence_meta_take_merged_release_fence (meta);
    fail_unless (in >= 0);
    fail_unless_equals_int (gst_zc_fence_meta_get_n_release_fences (meta), 0);
    fail_unless (gst_zc_sync_file_get_status (in, &info));
    fail_unless_equals_int (info.num_fences, 2);
    fail_unless_equals_int (info.status, 0);
    r1.signal ();
    r2.signal ();
    fail_unless_equals_int (gst_zc_sync_file_wait (in, GST_SECOND), 0);
    close (in);
    gst_buffer_unref (buf);
  }
  gst_object_unref (a);
  fail_unless_equals_int (zc_test_count_fds (), before + 1); /* vgem */
}
GST_END_TEST;

GST_START_TEST (test_export_import_round_trip)
{
  ZcVgem vgem;
  GstAllocator *a = zc_test_vgem_allocator ();
  {
    ZcVgemFence f (vgem, a);
    int sf = f.sync_file ();

    /* Buffer B gets A's fence as a write fence: implicit-sync readers of B
     * (and dma-buf poll) now wait for it. */
    GstMemory *b = gst_allocator_alloc (a, 4096, NULL);
    int bfd = gst_dmabuf_memory_get_fd (b);
    struct pollfd pfd = { bfd, POLLIN, 0 };
    fail_unless_equals_int (poll (&pfd, 1, 0), 1); /* idle: readable */
    fail_unless_equals_int (gst_zc_dmabuf_import_sync_file (bfd,
                                GST_ZC_FENCE_ACCESS_WRITE, sf),
        0);
    fail_unless_equals_int (poll (&pfd, 1, 0), 0); /* now busy */

    int back = gst_zc_dmabuf_export_sync_file (bfd, GST_ZC_FENCE_ACCESS_READ);
    fail_unless (back >= 0);
    GstZcSyncFileInfo info;
    fail_unless (gst_zc_sync_file_get_status (back, &info));
    fail_unless_equals_int (info.status, 0);
    fail_unless_equals_int (gst_zc_sync_file_wait (back, 20 * GST_MSECOND),
        -ETIMEDOUT);

    f.signal ();
    fail_unless_equals_int (gst_zc_sync_file_wait (back, GST_SECOND), 0);
    fail_unless (gst_zc_sync_file_get_status (back, &info));
    fail_unless_equals_int (info.status, 1);
    fail_unless_equals_int (poll (&pfd, 1, 1000), 1);

    /* A read fence is exported for writers (WRITE access) only. */
    guint32 h = vgem.import (bfd);
    guint32 rf = vgem.attach (h, false);
    int for_read = gst_zc_dmabuf_export_sync_file (bfd,
        GST_ZC_FENCE_ACCESS_READ);
    int for_write = gst_zc_dmabuf_export_sync_file (bfd,
        GST_ZC_FENCE_ACCESS_WRITE);
    fail_unless_equals_int (gst_zc_sync_file_wait (for_read, 0), 0);
    fail_unless_equals_int (gst_zc_sync_file_wait (for_write, 0), -ETIMEDOUT);
    vgem.signal (rf);
    fail_unless_equals_int (gst_zc_sync_file_wait (for_write, GST_SECOND), 0);
    vgem.close_handle (h);
    close (for_read);
    close (for_write);
    close (back);
    close (sf);
    gst_memory_unref (b);
  }
  gst_object_unref (a);
}
GST_END_TEST;

/* Maps @mem for reading while @fence is signalled 300 ms later: the map must
 * have waited for it. */
static void
check_map_waits (GstMemory *mem, ZcVgem &vgem, guint32 fence)
{
  std::thread producer ([&] {
    g_usleep (300000);
    vgem.signal (fence);
  });
  GstMapInfo map;
  gint64 t0 = g_get_monotonic_time ();
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  gint64 waited = g_get_monotonic_time () - t0;
  gst_memory_unmap (mem, &map);
  producer.join ();
  GST_INFO ("map waited %" G_GINT64_FORMAT " us", waited);
  fail_unless (waited >= 250000, "map returned after %" G_GINT64_FORMAT " us",
      waited);
}

/* With a 100 ms map timeout and @fence pending, a read map fails in bounded
 * time instead of hanging, and works once @fence signalled. */
static void
check_map_times_out (GstAllocator *a, GstMemory *mem, ZcVgem &vgem,
    guint32 fence)
{
  gst_zc_allocator_set_map_timeout (GST_ZC_ALLOCATOR (a), 100 * GST_MSECOND);
  GstMapInfo map;
  gint64 t0 = g_get_monotonic_time ();
  fail_if (gst_memory_map (mem, &map, GST_MAP_READ));
  gint64 waited = g_get_monotonic_time () - t0;
  fail_unless (waited >= 90000 && waited < 1000000);
  vgem.signal (fence);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  gst_memory_unmap (mem, &map);
}

GST_START_TEST (test_map_waits_for_acquire_fence)
{
  ZcVgem vgem;
  GstAllocator *a = zc_test_vgem_allocator ();
  gst_zc_allocator_set_map_timeout (GST_ZC_ALLOCATOR (a), 2 * GST_SECOND);
  GstMemory *mem = gst_allocator_alloc (a, 65536, NULL);
  guint32 h = vgem.import (gst_dmabuf_memory_get_fd (mem));

  /* The producer's write fence is pending: a read map waits for it. */
  check_map_waits (mem, vgem, vgem.attach (h, true));

  /* Bounded: with a fence that does not signal in time the map fails. */
  check_map_times_out (a, mem, vgem, vgem.attach (h, true));

  /* A pending reader does not hold up another read map, but a write map
   * waits for it. */
  GstMapInfo map;
  guint32 fence = vgem.attach (h, false);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  gst_memory_unmap (mem, &map);
  fail_if (gst_memory_map (mem, &map, GST_MAP_WRITE));
  vgem.signal (fence);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
  gst_memory_unmap (mem, &map);

  vgem.close_handle (h);
  gst_memory_unref (mem);
  gst_object_unref (a);
}
GST_END_TEST;

/* The acquire fence is only in the buffer's GstZcFenceMeta (it belongs to
 * another dma-buf, not to this one's reservation object): a CPU map of the
 * buffer's memory still waits for it, bounded by the map timeout. */
GST_START_TEST (test_map_waits_for_meta_acquire_fence)
{
  ZcVgem vgem;
  GstAllocator *a = zc_test_vgem_allocator ();
  gst_zc_allocator_set_map_timeout (GST_ZC_ALLOCATOR (a), 2 * GST_SECOND);
  GstMemory *other = gst_allocator_alloc (a, 4096, NULL);
  guint32 h = vgem.import (gst_dmabuf_memory_get_fd (other));
  GstBuffer *buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, gst_allocator_alloc (a, 65536, NULL));
  GstMemory *mem = gst_buffer_peek_memory (buf, 0);

  guint32 fence = vgem.attach (h, true);
  gint sync = gst_zc_dmabuf_export_sync_file (gst_dmabuf_memory_get_fd (other),
      GST_ZC_FENCE_ACCESS_READ);
  fail_unless (sync >= 0);
  GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta (buf);
  fail_unless (gst_zc_fence_meta_add_acquire_fence (meta, sync));

  check_map_waits (mem, vgem, fence);

  /* A new pending acquire fence that does not signal in time: the map
   * fails after the timeout instead of hanging, and works once it did. */
  fence = vgem.attach (h, true);
  sync = gst_zc_dmabuf_export_sync_file (gst_dmabuf_memory_get_fd (other),
      GST_ZC_FENCE_ACCESS_READ);
  fail_unless (sync >= 0);
  /* Replace, not merge: the first fence has signalled. */
  gint old = gst_zc_fence_meta_take_acquire_fence (meta);
  fail_unless (old >= 0);
  close (old);
  fail_unless (gst_zc_fence_meta_add_acquire_fence (meta, sync));
  check_map_times_out (a, mem, vgem, fence);

  vgem.close_handle (h);
  gst_buffer_unref (buf);
  gst_memory_unref (other);
  gst_object_unref (a);
}
GST_END_TEST;

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

GST_START_TEST (test_pool_release_fence)
{
  int before = zc_test_count_fds ();
  GstAllocator *a = zc_test_vgem_allocator ();
  GstBufferPool *pool = gst_zc_buffer_pool_new (a);
  GstStructure *config = gst_buffer_pool_get_config (pool);
  GstCaps *caps = gst_caps_from_string (
      "video/x-raw,format=NV12,width=320,height=240");
  gst_buffer_pool_config_set_params (config, caps, 0, 1, 1);
  gst_caps_unref (caps);
  fail_unless (gst_buffer_pool_set_config (pool, config));
  gst_buffer_pool_set_active (pool, TRUE);

  GstBufferPoolAcquireParams dontwait = { GST_FORMAT_UNDEFINED, 0, 0,
    GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT, { NULL } };
  {
    /* e.g. a KMS out-fence: sw_sync where the kernel has it (it signals
     * only when told; the debug kernel's guest asks for it), else vgem. */
    g_autoptr (GError) err = NULL;
    g_autoptr (GstZcTestFence) display = gst_zc_test_fence_new (NULL, &err);
    fail_unless (display != NULL, "no test fence: %s", err ? err->message : "");
    g_print ("release fence from %s\n", gst_zc_test_fence_get_source (display));
    GstBuffer *b;
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
        GST_FLOW_OK);
    GstMemory *mem = gst_buffer_peek_memory (b, 0);
    /* The pool's one buffer (max 1). */
    fail_unless_equals_int (zc_test_count_named_dmabufs ("gstzc-dumb"), 1);
    gst_zc_fence_meta_add_release_fence (gst_zc_buffer_add_fence_meta (b),
        gst_zc_test_fence_dup_fd (display));
    gst_buffer_unref (b);

    /* Not reused while the consumer still reads it. */
    fail_unless_equals_int (gst_zc_buffer_pool_get_n_fenced (
                                GST_ZC_BUFFER_POOL (pool)),
        1);
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b,
                                &dontwait),
        GST_FLOW_EOS);
    g_usleep (100000);
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b,
                                &dontwait),
        GST_FLOW_EOS);

    /* A producer that can wait in hardware may take it with the fence. */
    GstBufferPoolAcquireParams with = dontwait;
    with.flags = (GstBufferPoolAcquireFlags) (with.flags |
        GST_ZC_BUFFER_POOL_ACQUIRE_FLAG_WITH_FENCES);
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, &with),
        GST_FLOW_OK);
    fail_unless (gst_buffer_peek_memory (b, 0) == mem);
    GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (b);
    int in = gst_zc_fence_meta_take_merged_release_fence (meta);
    GstZcSyncFileInfo info;
    fail_unless (gst_zc_sync_file_get_status (in, &info));
    fail_unless_equals_int (info.status, 0);
    close (in);
    /* Returned again with a pending fence; it signals later. */
    gst_zc_fence_meta_add_release_fence (meta,
        gst_zc_test_fence_dup_fd (display));
    gst_buffer_unref (b);
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b,
                                &dontwait),
        GST_FLOW_EOS);
    fail_unless (gst_zc_test_fence_signal (display, FALSE, NULL));
    fail_unless (wait_unfenced (pool, G_USEC_PER_SEC));
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b,
                                &dontwait),
        GST_FLOW_OK);
    fail_unless (gst_buffer_peek_memory (b, 0) == mem);
    gst_buffer_unref (b);
  }
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_object_unref (a);
  fail_unless_equals_int (zc_test_count_named_dmabufs (), 0);
  fail_unless_equals_int (zc_test_count_fds (), before);
}
GST_END_TEST;

static Suite *
vm_fences_suite (void)
{
  Suite *s = suite_create ("vm-fences");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_wait_status_timestamp);
  tcase_add_test (tc, test_merge);
  tcase_add_test (tc, test_meta_merges_real_fences);
  tcase_add_test (tc, test_export_import_round_trip);
  tcase_add_test (tc, test_map_waits_for_acquire_fence);
  tcase_add_test (tc, test_map_waits_for_meta_acquire_fence);
  tcase_add_test (tc, test_pool_release_fence);
  return s;
}

int
main (int argc, char **argv)
{
  zc_test_require_vm ();
  gst_check_init (&argc, &argv);
  return gst_check_run_suite (vm_fences_suite (), "vm-fences", __FILE__);
}
