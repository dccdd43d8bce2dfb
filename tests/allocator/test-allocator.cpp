/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GstZcAllocator on the host: backend selection and the memfd backend.
 */
#include "zc-check.h"

#include <cstring>

GST_START_TEST (test_backend_list)
{
  const gchar *const *names = gst_zc_allocator_list_backends ();
  const char *expect[] = { "zcam", "dma-heap", "udmabuf", "dumb", "memfd" };
  for (guint i = 0; i < G_N_ELEMENTS (expect); i++)
    fail_unless_equals_string (names[i], expect[i]);
  fail_unless (names[G_N_ELEMENTS (expect)] == NULL);
}
GST_END_TEST;

GST_START_TEST (test_unknown_and_unavailable)
{
  fail_unless (gst_zc_allocator_new ("no-such-backend", NULL) == NULL);
  fail_unless (gst_zc_allocator_new ("dumb", "/nonexistent/card0") == NULL);
  fail_unless (gst_zc_allocator_new ("zcam", "/nonexistent/zcam0") == NULL);
  fail_unless (gst_zc_allocator_new ("dma-heap", "no-such-heap") == NULL);
  if (!g_file_test ("/dev/dri", G_FILE_TEST_EXISTS))
    fail_unless (gst_zc_allocator_new ("dumb", NULL) == NULL);
  if (!g_file_test ("/dev/zcam0", G_FILE_TEST_EXISTS))
    fail_unless (gst_zc_allocator_new ("zcam", NULL) == NULL);
}
GST_END_TEST;

GST_START_TEST (test_auto_picks_something)
{
  GstAllocator *a = gst_zc_allocator_new ("auto", NULL);
  fail_unless (a != NULL);
  fail_unless (GST_IS_DMABUF_ALLOCATOR (a));
  const gchar *name = gst_zc_allocator_get_backend (GST_ZC_ALLOCATOR (a));
  fail_unless (g_strv_contains (gst_zc_allocator_list_backends (), name));
  GST_INFO ("auto chose %s", name);
  GstMemory *mem = gst_allocator_alloc (a, 1000, NULL);
  fail_unless (mem != NULL);
  fail_unless_equals_int (mem->size, 1000);
  gst_memory_unref (mem);
  gst_object_unref (a);
}
GST_END_TEST;

GST_START_TEST (test_memfd)
{
  int before = zc_test_count_fds ();
  GstAllocator *a = gst_zc_allocator_new ("memfd", NULL);
  fail_unless (a != NULL);
  GstZcAllocator *za = GST_ZC_ALLOCATOR (a);
  fail_unless_equals_string (gst_zc_allocator_get_backend (za), "memfd");
  fail_if (gst_zc_allocator_is_dmabuf (za));
  fail_unless_equals_int (gst_zc_allocator_get_device_fd (za), -1);
  gchar *prop = NULL;
  g_object_get (a, "backend", &prop, NULL);
  fail_unless_equals_string (prop, "memfd");
  g_free (prop);

  /* The memory says it is no dma-buf. */
  GstMemory *mem = gst_allocator_alloc (a, 3 * 4096 + 5, NULL);
  fail_unless (mem != NULL);
  fail_unless (gst_is_fd_memory (mem));
  fail_if (gst_is_dmabuf_memory (mem));
  fail_unless_equals_int (mem->size, 3 * 4096 + 5);
  fail_unless (mem->maxsize >= mem->size);

  GstMapInfo map;
  fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
  memset (map.data, 0x5a, map.size);
  gst_memory_unmap (mem, &map);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  fail_unless_equals_int (map.data[0], 0x5a);
  fail_unless_equals_int (map.data[map.size - 1], 0x5a);
  gst_memory_unmap (mem, &map);
  gst_memory_unref (mem);

  /* Prefix and padding are honoured through the memory offset. */
  GstAllocationParams params;
  gst_allocation_params_init (&params);
  params.prefix = 64;
  params.padding = 32;
  mem = gst_allocator_alloc (a, 1000, &params);
  fail_unless (mem != NULL);
  fail_unless_equals_int (mem->offset, 64);
  fail_unless_equals_int (mem->size, 1000);
  fail_unless (mem->maxsize >= 1096);
  gst_memory_unref (mem);

  gst_object_unref (a);
  fail_unless_equals_int (zc_test_count_fds (), before);
}
GST_END_TEST;

GST_START_TEST (test_memfd_video)
{
  GstAllocator *a = gst_zc_allocator_new ("memfd", NULL);
  GstZcAllocator *za = GST_ZC_ALLOCATOR (a);

  GstZcLayout layout;
  fail_unless (gst_zc_allocator_negotiate_layout (za, GST_VIDEO_FORMAT_NV12,
      641, 481, 64, 16, &layout));
  GstZcLayout expect;
  fail_unless (gst_zc_format_compute_layout (GST_VIDEO_FORMAT_NV12, 641, 481,
      64, 16, &expect));
  fail_unless (
      memcmp (layout.stride, expect.stride, sizeof (expect.stride)) == 0);
  fail_unless (
      memcmp (layout.offset, expect.offset, sizeof (expect.offset)) == 0);
  fail_unless_equals_uint64 (layout.size, expect.size);

  GstVideoInfo in, out;
  gst_video_info_set_format (&in, GST_VIDEO_FORMAT_I420, 33, 17);
  GstMemory *mem = gst_zc_allocator_alloc_video (za, &in, 32, 2, &out);
  fail_unless (mem != NULL);
  fail_unless_equals_int (GST_VIDEO_INFO_PLANE_STRIDE (&out, 0), 64);
  fail_unless_equals_int (GST_VIDEO_INFO_PLANE_STRIDE (&out, 1), 32);
  fail_unless_equals_int (GST_VIDEO_INFO_PLANE_OFFSET (&out, 1), 64 * 18);
  fail_unless_equals_uint64 (mem->size, GST_VIDEO_INFO_SIZE (&out));
  gst_memory_unref (mem);

  /* Formats outside the table are refused, not guessed. */
  gst_video_info_set_format (&in, GST_VIDEO_FORMAT_v210, 64, 64);
  fail_unless (gst_zc_allocator_alloc_video (za, &in, 1, 1, NULL) == NULL);
  gst_object_unref (a);
}
GST_END_TEST;

GST_START_TEST (test_map_timeout_property)
{
  GstAllocator *a = gst_zc_allocator_new ("memfd", NULL);
  GstZcAllocator *za = GST_ZC_ALLOCATOR (a);
  fail_unless_equals_uint64 (gst_zc_allocator_get_map_timeout (za),
      GST_ZC_ALLOCATOR_MAP_TIMEOUT_DEFAULT);
  g_object_set (a, "map-timeout", (guint64) (20 * GST_MSECOND), NULL);
  fail_unless_equals_uint64 (gst_zc_allocator_get_map_timeout (za),
      20 * GST_MSECOND);
  gst_zc_allocator_set_map_timeout (za, GST_SECOND);
  guint64 v = 0;
  g_object_get (a, "map-timeout", &v, NULL);
  fail_unless_equals_uint64 (v, GST_SECOND);
  gst_object_unref (a);
}
GST_END_TEST;

GST_START_TEST (test_no_fd_leak)
{
  int before = zc_test_count_fds ();
  for (int round = 0; round < 3; round++) {
    GstAllocator *a = gst_zc_allocator_new ("memfd", NULL);
    GstMemory *mems[16];
    for (auto &m : mems)
      m = gst_allocator_alloc (a, 8192, NULL);
    fail_unless_equals_int (zc_test_count_fds (), before + 16);
    for (auto &m : mems)
      gst_memory_unref (m);
    /* Failing allocations leak nothing either. */
    GstVideoInfo in;
    gst_video_info_set_format (&in, GST_VIDEO_FORMAT_v210, 64, 64);
    fail_unless (gst_zc_allocator_alloc_video (GST_ZC_ALLOCATOR (a), &in, 3, 1,
                     NULL) == NULL);
    gst_object_unref (a);
    fail_unless (gst_zc_allocator_new ("dumb", "/nonexistent") == NULL);
  }
  fail_unless_equals_int (zc_test_count_fds (), before);
}
GST_END_TEST;

static Suite *
allocator_suite (void)
{
  Suite *s = suite_create ("zcallocator");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_backend_list);
  tcase_add_test (tc, test_unknown_and_unavailable);
  tcase_add_test (tc, test_auto_picks_something);
  tcase_add_test (tc, test_memfd);
  tcase_add_test (tc, test_memfd_video);
  tcase_add_test (tc, test_map_timeout_property);
  tcase_add_test (tc, test_no_fd_leak);
  return s;
}

GST_CHECK_MAIN (allocator);
