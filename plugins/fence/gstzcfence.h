/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcfence: adapts a buffer's GstZcFenceMeta to what the next element can
 * use (a CPU wait, implicit fences in the dma-buf, or a meta made from them).
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstZcFenceMode:
 * @GST_ZC_FENCE_MODE_AUTO: choose from the downstream element
 * @GST_ZC_FENCE_MODE_WAIT: wait for the acquire fence before pushing
 * @GST_ZC_FENCE_MODE_IMPLICIT: put the acquire fence into the dma-bufs'
 *   reservation objects and push at once
 * @GST_ZC_FENCE_MODE_ATTACH: make an acquire fence meta from the dma-bufs'
 *   implicit fences
 */
typedef enum {
  GST_ZC_FENCE_MODE_AUTO,
  GST_ZC_FENCE_MODE_WAIT,
  GST_ZC_FENCE_MODE_IMPLICIT,
  GST_ZC_FENCE_MODE_ATTACH,
} GstZcFenceMode;

#define GST_TYPE_ZC_FENCE_MODE (gst_zc_fence_mode_get_type ())
GType gst_zc_fence_mode_get_type (void);

#define GST_TYPE_ZC_FENCE (gst_zc_fence_get_type ())
G_DECLARE_FINAL_TYPE (GstZcFence, gst_zc_fence, GST, ZC_FENCE, GstElement)

GST_ELEMENT_REGISTER_DECLARE (zcfence);

G_END_DECLS
