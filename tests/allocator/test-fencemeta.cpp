/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GstZcFenceMeta lifetime and transform rules, and the fence helpers, with
 * pipe fds standing in for fences (no sync_file can be made on the host).
 */
#include "zc-check.h"

GST_START_TEST (test_meta_owns_fds)
{
  int before = zc_test_count_fds ();
  ZcTestPipeFence a, r1, r2;
  int afd = a.take (), rfd1 = r1.take (), rfd2 = r2.take ();

  GstBuffer *buf = gst_buffer_new_allocate (NULL, 64, NULL);
  GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta (buf);
  fail_unless (meta != NULL);
  fail_unless (gst_zc_buffer_get_fence_meta (buf) == meta);
  fail_unless_equals_int (gst_zc_fence_meta_get_acquire_fence (meta), -1);

  fail_unless (gst_zc_fence_meta_add_acquire_fence (meta, afd));
  fail_unless_equals_int (gst_zc_fence_meta_get_acquire_fence (meta), afd);
  gst_zc_fence_meta_add_release_fence (meta, rfd1);
  gst_zc_fence_meta_add_release_fence (meta, rfd2);
  fail_unless_equals_int (gst_zc_fence_meta_get_n_release_fences (meta), 2);
  fail_unless_equals_int (gst_zc_fence_meta_get_release_fence (meta, 0), rfd1);
  fail_unless_equals_int (gst_zc_fence_meta_get_release_fence (meta, 1), rfd2);
  fail_unless_equals_int (gst_zc_fence_meta_get_release_fence (meta, 2), -1);

  /* Freeing the buffer closes every fd the meta owns. */
  gst_buffer_unref (buf);
  fail_if (zc_test_fd_open (afd));
  fail_if (zc_test_fd_open (rfd1));
  fail_if (zc_test_fd_open (rfd2));
  /* Only the three write ends remain. */
  fail_unless_equals_int (zc_test_count_fds (), before + 3);
}
GST_END_TEST;

GST_START_TEST (test_take)
{
  ZcTestPipeFence a, r1, r2;
  int afd = a.take (), rfd1 = r1.take (), rfd2 = r2.take ();
  GstBuffer *buf = gst_buffer_new ();
  GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta (buf);
  gst_zc_fence_meta_add_acquire_fence (meta, afd);
  gst_zc_fence_meta_add_release_fence (meta, rfd1);
  gst_zc_fence_meta_add_release_fence (meta, rfd2);

  fail_unless_equals_int (gst_zc_fence_meta_take_acquire_fence (meta), afd);
  fail_unless_equals_int (gst_zc_fence_meta_get_acquire_fence (meta), -1);
  guint n = 0;
  gint *fds = gst_zc_fence_meta_take_release_fences (meta, &n);
  fail_unless_equals_int (n, 2);
  fail_unless_equals_int (fds[0], rfd1);
  fail_unless_equals_int (fds[1], rfd2);
  fail_unless_equals_int (gst_zc_fence_meta_get_n_release_fences (meta), 0);
  fail_unless (gst_zc_fence_meta_take_release_fences (meta, &n) == NULL);
  fail_unless_equals_int (n, 0);
  fail_unless_equals_int (gst_zc_fence_meta_take_merged_release_fence (meta),
      -1);

  /* Taken fds are the caller's: still open after the buffer is gone. */
  gst_buffer_unref (buf);
  fail_unless (zc_test_fd_open (afd));
  fail_unless (zc_test_fd_open (rfd1));
  close (afd);
  close (fds[0]);
  close (fds[1]);
  g_free (fds);
}
GST_END_TEST;

GST_START_TEST (test_acquire_merge_needs_sync_file)
{
  /* A second acquire fence is merged with SYNC_IOC_MERGE; pipes are no
   * sync_files, so the merge fails, the first fence stays and the second
   * is closed (the meta always takes ownership). */
  ZcTestPipeFence a, b;
  int afd = a.take (), bfd = b.take ();
  GstBuffer *buf = gst_buffer_new ();
  GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta (buf);
  fail_unless (gst_zc_fence_meta_add_acquire_fence (meta, afd));
  fail_if (gst_zc_fence_meta_add_acquire_fence (meta, bfd));
  fail_unless_equals_int (gst_zc_fence_meta_get_acquire_fence (meta), afd);
  fail_if (zc_test_fd_open (bfd));

  /* Merging several release fences fails the same way and keeps them. */
  ZcTestPipeFence r1, r2;
  gst_zc_fence_meta_add_release_fence (meta, r1.take ());
  gst_zc_fence_meta_add_release_fence (meta, r2.take ());
  fail_unless (gst_zc_fence_meta_take_merged_release_fence (meta) < -1);
  fail_unless_equals_int (gst_zc_fence_meta_get_n_release_fences (meta), 2);
  gst_buffer_unref (buf);
}
GST_END_TEST;

GST_START_TEST (test_transform_shallow_copy_keeps)
{
  int before = zc_test_count_fds ();
  {
    ZcTestPipeFence a, r;
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 128, NULL);
    GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta (buf);
    int afd = a.take ();
    gst_zc_fence_meta_add_acquire_fence (meta, afd);
    gst_zc_fence_meta_add_release_fence (meta, r.take ());

    /* Shallow copy shares the memory: the meta follows with its own fds. */
    GstBuffer *copy = gst_buffer_copy (buf);
    fail_unless (
        gst_buffer_peek_memory (copy, 0) == gst_buffer_peek_memory (buf, 0));
    GstZcFenceMeta *cm = gst_zc_buffer_get_fence_meta (copy);
    fail_unless (cm != NULL);
    int cfd = gst_zc_fence_meta_get_acquire_fence (cm);
    fail_unless (cfd >= 0);
    fail_unless (cfd != afd);
    fail_unless_equals_int (gst_zc_fence_meta_get_n_release_fences (cm), 1);

    /* A region copy shares (a sub-memory of) the same memory too. */
    GstBuffer *region = gst_buffer_copy_region (buf, GST_BUFFER_COPY_ALL, 16,
        32);
    fail_unless (gst_zc_buffer_get_fence_meta (region) != NULL);

    /* The copy's fence signals with the original's (it is the same pipe). */
    fail_unless_equals_int (gst_zc_sync_file_wait (cfd, 0), -ETIMEDOUT);
    a.signal ();
    fail_unless_equals_int (gst_zc_sync_file_wait (cfd, 0), 0);

    gst_buffer_unref (buf);
    fail_unless (zc_test_fd_open (cfd));
    gst_buffer_unref (copy);
    fail_if (zc_test_fd_open (cfd));
    gst_buffer_unref (region);
  }
  fail_unless_equals_int (zc_test_count_fds (), before);
}
GST_END_TEST;

GST_START_TEST (test_transform_deep_copy_drops)
{
  int before = zc_test_count_fds ();
  {
    ZcTestPipeFence a;
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 128, NULL);
    gst_zc_fence_meta_add_acquire_fence (gst_zc_buffer_add_fence_meta (buf),
        a.take ());
    GstBuffer *deep = gst_buffer_copy_deep (buf);
    fail_unless (
        gst_buffer_peek_memory (deep, 0) != gst_buffer_peek_memory (buf, 0));
    fail_unless (gst_zc_buffer_get_fence_meta (deep) == NULL);

    /* Metadata copied onto a buffer with its own memory: dropped too. */
    GstBuffer *other = gst_buffer_new_allocate (NULL, 128, NULL);
    gst_buffer_copy_into (other, buf, GST_BUFFER_COPY_METADATA, 0, -1);
    fail_unless (gst_zc_buffer_get_fence_meta (other) == NULL);

    gst_buffer_unref (deep);
    gst_buffer_unref (other);
    gst_buffer_unref (buf);
  }
  fail_unless_equals_int (zc_test_count_fds (), before);
}
GST_END_TEST;

GST_START_TEST (test_wait_and_status_plain_fd)
{
  ZcTestPipeFence f;
  GstZcSyncFileInfo info;
  /* Not a sync_file: no status, but waiting works on any pollable fd. */
  fail_if (gst_zc_sync_file_get_status (f.read_fd, &info));
  gint64 t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_zc_sync_file_wait (f.read_fd, 50 * GST_MSECOND),
      -ETIMEDOUT);
  fail_unless (g_get_monotonic_time () - t0 >= 45000);
  f.signal ();
  fail_unless_equals_int (gst_zc_sync_file_wait (f.read_fd, GST_SECOND), 0);
  fail_unless (gst_zc_sync_file_wait (-1, 0) < 0);

  int dup = gst_zc_sync_file_dup (f.read_fd);
  fail_unless (dup >= 0 && dup != f.read_fd);
  fail_unless (fcntl (dup, F_GETFD) & FD_CLOEXEC);
  close (dup);
  fail_unless (gst_zc_sync_file_merge (NULL, f.read_fd, f.read_fd) < 0);
  close (f.take ());
}
GST_END_TEST;

GST_START_TEST (test_wait_acquire)
{
  ZcTestPipeFence a;
  GstBuffer *buf = gst_buffer_new ();
  GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta (buf);
  fail_unless_equals_int (gst_zc_fence_meta_wait_acquire (meta, 0), 0);
  gst_zc_fence_meta_add_acquire_fence (meta, a.take ());
  fail_unless_equals_int (gst_zc_fence_meta_wait_acquire (meta,
                              10 * GST_MSECOND),
      -ETIMEDOUT);
  a.signal ();
  fail_unless_equals_int (gst_zc_fence_meta_wait_acquire (meta, GST_SECOND), 0);
  gst_buffer_unref (buf);
}
GST_END_TEST;

GST_START_TEST (test_dmabuf_helpers_reject_plain_fd)
{
  ZcTestPipeFence f;
  fail_unless (
      gst_zc_dmabuf_export_sync_file (f.read_fd, GST_ZC_FENCE_ACCESS_READ) < 0);
  fail_unless (gst_zc_dmabuf_import_sync_file (f.read_fd,
                   GST_ZC_FENCE_ACCESS_WRITE, f.read_fd) < 0);
  close (f.take ());
}
GST_END_TEST;

static Suite *
fencemeta_suite (void)
{
  Suite *s = suite_create ("zcfencemeta");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_meta_owns_fds);
  tcase_add_test (tc, test_take);
  tcase_add_test (tc, test_acquire_merge_needs_sync_file);
  tcase_add_test (tc, test_transform_shallow_copy_keeps);
  tcase_add_test (tc, test_transform_deep_copy_drops);
  tcase_add_test (tc, test_wait_and_status_plain_fd);
  tcase_add_test (tc, test_wait_acquire);
  tcase_add_test (tc, test_dmabuf_helpers_reject_plain_fd);
  return s;
}

GST_CHECK_MAIN (fencemeta);
