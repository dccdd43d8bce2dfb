/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: GstZcAllocator, a dma-buf allocator with several backends.
 */
#ifndef __GST_ZC_ALLOCATOR_H__
#define __GST_ZC_ALLOCATOR_H__

#include <gst/zerocopy/zerocopy-prelude.h>
#include <gst/zerocopy/gstzcformat.h>
#include <gst/allocators/allocators.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/**
 * GST_TYPE_ZC_ALLOCATOR:
 *
 * The #GType of #GstZcAllocator.
 *
 * Since: 0.1
 */
#define GST_TYPE_ZC_ALLOCATOR (gst_zc_allocator_get_type ())

GST_ZC_API
G_DECLARE_FINAL_TYPE (GstZcAllocator, gst_zc_allocator, GST, ZC_ALLOCATOR,
    GstDmaBufAllocator)

/**
 * GST_ZC_ALLOCATOR_MAP_TIMEOUT_DEFAULT:
 *
 * How long (ns) a CPU map waits by default for the fences of a dma-buf.
 *
 * Since: 0.1
 */
#define GST_ZC_ALLOCATOR_MAP_TIMEOUT_DEFAULT (1 * GST_SECOND)

GST_ZC_API
GstAllocator *gst_zc_allocator_new (const gchar *backend, const gchar *device);

GST_ZC_API
const gchar *const *gst_zc_allocator_list_backends (void);

GST_ZC_API
const gchar *gst_zc_allocator_get_backend (GstZcAllocator *allocator);

GST_ZC_API
const gchar *gst_zc_allocator_get_device (GstZcAllocator *allocator);

GST_ZC_API
gint gst_zc_allocator_get_device_fd (GstZcAllocator *allocator);

GST_ZC_API
gboolean gst_zc_allocator_is_dmabuf (GstZcAllocator *allocator);

GST_ZC_API
void gst_zc_allocator_set_map_timeout (GstZcAllocator *allocator,
    GstClockTime timeout);

GST_ZC_API
GstClockTime gst_zc_allocator_get_map_timeout (GstZcAllocator *allocator);

GST_ZC_API
gboolean gst_zc_allocator_negotiate_layout (GstZcAllocator *allocator,
    GstVideoFormat format, guint width, guint height, guint stride_align,
    guint height_align, GstZcLayout *layout);

GST_ZC_API
GstMemory *gst_zc_allocator_alloc_layout (GstZcAllocator *allocator,
    const GstZcLayout *layout);

GST_ZC_API
GstMemory *gst_zc_allocator_alloc_video (GstZcAllocator *allocator,
    const GstVideoInfo *info, guint stride_align, guint height_align,
    GstVideoInfo *out_info);

G_END_DECLS

#endif /* __GST_ZC_ALLOCATOR_H__ */
