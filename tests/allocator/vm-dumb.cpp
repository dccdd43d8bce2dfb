/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * In the test VM: the DRM dumb backend on vgem and on vkms, its dma-bufs
 * named in bufinfo and gone once the pool is freed.
 */
#include "zc-test-vgem.h"

#include <cstring>

static void
check_driver (const char *driver)
{
  std::string card = zc_test_find_card (driver);
  fail_if (card.empty (), "%s is not loaded", driver);
  int before = zc_test_count_fds ();

  GstAllocator *a = gst_zc_allocator_new ("dumb", driver);
  fail_unless (a != NULL);
  GstZcAllocator *za = GST_ZC_ALLOCATOR (a);
  fail_unless_equals_string (gst_zc_allocator_get_backend (za), "dumb");
  fail_unless_equals_string (gst_zc_allocator_get_device (za), card.c_str ());
  fail_unless (gst_zc_allocator_is_dmabuf (za));
  fail_unless (gst_zc_allocator_get_device_fd (za) >= 0);

  /* A byte allocation: real dma-buf memory, named, CPU-accessible. */
  GstMemory *mem = gst_allocator_alloc (a, 100000, NULL);
  fail_unless (mem != NULL);
  fail_unless (gst_is_dmabuf_memory (mem));
  fail_unless_equals_int (mem->size, 100000);
  fail_unless (zc_test_count_named_dmabufs ("gstzc-dumb") >= 1);
  GstMapInfo map;
  fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
  for (gsize i = 0; i < map.size; i++)
    map.data[i] = guint8 (i * 7);
  gst_memory_unmap (mem, &map);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  for (gsize i = 0; i < map.size; i += 997)
    fail_unless_equals_int (map.data[i], guint8 (i * 7));
  gst_memory_unmap (mem, &map);

  /* Another device can import it (PRIME), and sees the same bytes: the
   * memory really is shared, not copied. */
  {
    ZcVgem vgem;
    guint32 h = vgem.import (gst_dmabuf_memory_get_fd (mem));
    fail_unless (h != 0);
    vgem.close_handle (h);
  }
  gst_memory_unref (mem);

  /* Frame layouts honour the driver's pitch and our alignment. */
  GstZcLayout l;
  fail_unless (gst_zc_allocator_negotiate_layout (za, GST_VIDEO_FORMAT_NV12,
      641, 481, 64, 16, &l));
  fail_unless (l.stride[0] >= 642 && l.stride[0] % 64 == 0);
  fail_unless_equals_int (l.stride[1], l.stride[0]);
  mem = gst_zc_allocator_alloc_layout (za, &l);
  fail_unless (mem != NULL);
  fail_unless_equals_uint64 (mem->size, l.size);
  gst_memory_unref (mem);

  /* A pool of BGRx frames recycles the same dma-bufs. */
  GstBufferPool *pool = gst_zc_buffer_pool_new (a);
  GstStructure *config = gst_buffer_pool_get_config (pool);
  GstCaps *caps = gst_caps_from_string (
      "video/x-raw,format=BGRx,width=640,height=480");
  gst_buffer_pool_config_set_params (config, caps, 0, 2, 3);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  gst_caps_unref (caps);
  fail_unless (gst_buffer_pool_set_config (pool, config));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  std::set<GstMemory *> first;
  for (int lap = 0; lap < 10; lap++) {
    GstBuffer *bufs[3];
    std::set<GstMemory *> seen;
    for (auto &b : bufs) {
      fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
          GST_FLOW_OK);
      GstMemory *m = gst_buffer_peek_memory (b, 0);
      fail_unless (gst_is_dmabuf_memory (m));
      seen.insert (m);
    }
    if (lap == 0)
      first = seen;
    fail_unless (seen == first);
    /* Write through the video meta's layout. */
    GstVideoInfo info;
    gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, 640, 480);
    GstVideoFrame frame;
    fail_unless (gst_video_frame_map (&frame, &info, bufs[0], GST_MAP_WRITE));
    memset (GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), lap, 640 * 4);
    gst_video_frame_unmap (&frame);
    for (auto &b : bufs)
      gst_buffer_unref (b);
  }
  fail_unless_equals_int (zc_test_count_named_dmabufs ("gstzc-dumb"), 3);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_object_unref (a);

  /* Everything released: no dma-buf of ours left, no fd. */
  fail_unless_equals_int (zc_test_count_named_dmabufs (), 0);
  fail_unless_equals_int (zc_test_count_fds (), before);
}

GST_START_TEST (test_dumb_vgem)
{
  check_driver ("vgem");
}
GST_END_TEST;

GST_START_TEST (test_dumb_vkms)
{
  check_driver ("vkms");
}
GST_END_TEST;

GST_START_TEST (test_dumb_by_path_and_auto)
{
  std::string card = zc_test_find_card ("vkms");
  GstAllocator *a = gst_zc_allocator_new ("dumb", card.c_str ());
  fail_unless (a != NULL);
  fail_unless_equals_string (gst_zc_allocator_get_device (GST_ZC_ALLOCATOR (a)),
      card.c_str ());
  gst_object_unref (a);

  /* Without a device, the first card that has dumb buffers. */
  a = gst_zc_allocator_new ("dumb", NULL);
  fail_unless (a != NULL);
  gst_object_unref (a);
  fail_unless (gst_zc_allocator_new ("dumb", "no-such-driver") == NULL);
}
GST_END_TEST;

static Suite *
vm_dumb_suite (void)
{
  Suite *s = suite_create ("vm-dumb");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_dumb_vgem);
  tcase_add_test (tc, test_dumb_vkms);
  tcase_add_test (tc, test_dumb_by_path_and_auto);
  return s;
}

int
main (int argc, char **argv)
{
  zc_test_require_vm ();
  gst_check_init (&argc, &argv);
  return gst_check_run_suite (vm_dumb_suite (), "vm-dumb", __FILE__);
}
