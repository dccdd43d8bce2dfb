/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: GstZcBufferPool, recycling video buffers in dma-buf memory.
 */
#ifndef __GST_ZC_BUFFER_POOL_H__
#define __GST_ZC_BUFFER_POOL_H__

#include <gst/zerocopy/zerocopy-prelude.h>
#include <gst/zerocopy/gstzcformat.h>
#include <gst/zerocopy/gstzcallocator.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/**
 * GST_TYPE_ZC_BUFFER_POOL:
 *
 * The #GType of #GstZcBufferPool.
 *
 * Since: 0.1
 */
#define GST_TYPE_ZC_BUFFER_POOL (gst_zc_buffer_pool_get_type ())

GST_ZC_API
G_DECLARE_FINAL_TYPE (GstZcBufferPool, gst_zc_buffer_pool, GST, ZC_BUFFER_POOL,
    GstBufferPool)

/**
 * GST_ZC_BUFFER_POOL_ACQUIRE_FLAG_WITH_FENCES:
 *
 * Acquire flag: when no buffer is free, hand out a buffer whose release
 * fences have not signalled yet, with those fences as release fences in a
 * #GstZcFenceMeta, instead of waiting. For producers that pass them to
 * hardware as in-fences.
 *
 * Since: 0.1
 */
#define GST_ZC_BUFFER_POOL_ACQUIRE_FLAG_WITH_FENCES \
  ((GstBufferPoolAcquireFlags) (GST_BUFFER_POOL_ACQUIRE_FLAG_LAST << 0))

/**
 * GST_ZC_BUFFER_POOL_RELEASE_TIMEOUT_DEFAULT:
 *
 * How long (ns) a returned buffer may wait for its release fences before
 * the pool gives up on it and frees it.
 *
 * Since: 0.1
 */
#define GST_ZC_BUFFER_POOL_RELEASE_TIMEOUT_DEFAULT (5 * GST_SECOND)

GST_ZC_API
GstBufferPool *gst_zc_buffer_pool_new (GstAllocator *allocator);

GST_ZC_API
GstZcAllocator *gst_zc_buffer_pool_get_allocator (GstZcBufferPool *pool);

GST_ZC_API
gboolean
gst_zc_buffer_pool_get_layout (GstZcBufferPool *pool, GstZcLayout *layout);

GST_ZC_API
guint gst_zc_buffer_pool_get_n_fenced (GstZcBufferPool *pool);

GST_ZC_API
void gst_zc_buffer_pool_config_set_layout_align (GstStructure *config,
    guint stride_align, guint height_align);

GST_ZC_API
gboolean gst_zc_buffer_pool_config_get_layout_align (GstStructure *config,
    guint *stride_align, guint *height_align);

GST_ZC_API
void gst_zc_buffer_pool_config_set_release_timeout (GstStructure *config,
    GstClockTime timeout);

G_END_DECLS

#endif /* __GST_ZC_BUFFER_POOL_H__ */
