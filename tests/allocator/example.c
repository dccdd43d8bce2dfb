/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Using libgstzerocopy-1.0 from an application: a pool of NV12 frames in
 * dma-buf memory, one frame written by the CPU, handed over with fences.
 *
 *   cc example.c $(pkg-config --cflags --libs gstzerocopy-1.0)
 */
#include <gst/zerocopy/zerocopy.h>

#include <string.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);

  /* "auto": zcam, DMA heap, udmabuf, DRM dumb buffer, memfd, in order. */
  GstAllocator *alloc = gst_zc_allocator_new ("auto", NULL);
  if (!alloc)
    return 1;
  GstZcAllocator *zalloc = GST_ZC_ALLOCATOR (alloc);
  g_print ("backend %s (%s)\n", gst_zc_allocator_get_backend (zalloc),
      gst_zc_allocator_is_dmabuf (zalloc) ? "dma-buf" : "not a dma-buf");

  /* A pool of 1 to 4 frames; strides aligned to 64 bytes and planes padded
   * to 16 lines, the layout described by a GstVideoMeta on each buffer. */
  GstCaps *caps = gst_caps_from_string ("video/x-raw,format=NV12,"
      "width=320,height=240");
  GstBufferPool *pool = gst_zc_buffer_pool_new (alloc);
  GstStructure *config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, 0, 1, 4);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  gst_zc_buffer_pool_config_set_layout_align (config, 64, 16);
  if (!gst_buffer_pool_set_config (pool, config) ||
      !gst_buffer_pool_set_active (pool, TRUE))
    return 1;

  GstZcLayout layout;
  gst_zc_buffer_pool_get_layout (GST_ZC_BUFFER_POOL (pool), &layout);
  g_print ("NV12 320x240: strides %u/%u, chroma at %" G_GSIZE_FORMAT
      ", %" G_GSIZE_FORMAT " bytes\n", layout.stride[0], layout.stride[1],
      layout.offset[1], layout.size);

  /* Producer: fill a frame. Maps wait (bounded) for the dma-buf's fences
   * and are bracketed with DMA_BUF_IOCTL_SYNC. */
  GstBuffer *buf;
  if (gst_buffer_pool_acquire_buffer (pool, &buf, NULL) != GST_FLOW_OK)
    return 1;
  GstMemory *first_memory = gst_buffer_peek_memory (buf, 0);
  GstVideoInfo info;
  gst_video_info_from_caps (&info, caps);
  GstVideoFrame frame;
  if (!gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE))
    return 1;
  for (guint y = 0; y < 240; y++)
    memset ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
        y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), 0x80, 320);
  gst_video_frame_unmap (&frame);

  /* The fence meta travels with the buffer. A hardware producer sets its
   * out-fence as the acquire fence; here the dma-buf's own implicit fences
   * (none are pending) serve, when the memory is a dma-buf. */
  GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta (buf);
  GstMemory *mem = gst_buffer_peek_memory (buf, 0);
  if (gst_is_dmabuf_memory (mem)) {
    gint fence = gst_zc_dmabuf_export_sync_file (gst_dmabuf_memory_get_fd (mem),
        GST_ZC_FENCE_ACCESS_READ);
    if (fence >= 0)
      gst_zc_fence_meta_add_acquire_fence (meta, fence);
  }

  /* Consumer: wait for the acquire fence (bounded) before reading... */
  if (gst_zc_fence_meta_wait_acquire (meta, GST_SECOND) != 0)
    return 1;
  GstZcSyncFileInfo status;
  gint acquire = gst_zc_fence_meta_get_acquire_fence (meta);
  if (acquire >= 0 && gst_zc_sync_file_get_status (acquire, &status))
    g_print ("acquire fence status %d\n", status.status);
  /* ...and a consumer that keeps reading after it let go of the buffer
   * would add its release fence here:
   *   gst_zc_fence_meta_add_release_fence (meta, its_out_fence_fd);     */
  gst_buffer_unref (buf);

  /* The same memory comes back: importers' caches keep hitting. */
  if (gst_buffer_pool_acquire_buffer (pool, &buf, NULL) != GST_FLOW_OK)
    return 1;
  g_print ("recycled the same memory: %s\n",
      gst_buffer_peek_memory (buf, 0) == first_memory ? "yes" : "no");
  gst_buffer_unref (buf);

  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_object_unref (alloc);
  gst_caps_unref (caps);
  return 0;
}
