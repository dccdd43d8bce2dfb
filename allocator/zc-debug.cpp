/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "zc-debug.h"

GST_DEBUG_CATEGORY (gst_zc_allocator_debug);
GST_DEBUG_CATEGORY (gst_zc_buffer_pool_debug);
GST_DEBUG_CATEGORY (gst_zc_fence_meta_debug);
GST_DEBUG_CATEGORY (gst_zc_performance_debug);

namespace zc {

void
debug_init ()
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (gst_zc_allocator_debug, "zcallocator", 0,
        "gst-zerocopy dma-buf allocator");
    GST_DEBUG_CATEGORY_INIT (gst_zc_buffer_pool_debug, "zcbufferpool", 0,
        "gst-zerocopy video buffer pool");
    GST_DEBUG_CATEGORY_INIT (gst_zc_fence_meta_debug, "zcfencemeta", 0,
        "gst-zerocopy fences and fence meta");
    GST_DEBUG_CATEGORY_GET (gst_zc_performance_debug, "GST_PERFORMANCE");
    g_once_init_leave (&once, 1);
  }
}

} // namespace zc
