/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: debug categories of the library. Not installed.
 */
#pragma once

#include <gst/gst.h>

GST_DEBUG_CATEGORY_EXTERN (gst_zc_allocator_debug);
GST_DEBUG_CATEGORY_EXTERN (gst_zc_buffer_pool_debug);
GST_DEBUG_CATEGORY_EXTERN (gst_zc_fence_meta_debug);
GST_DEBUG_CATEGORY_EXTERN (gst_zc_performance_debug);

namespace zc {
/* Registers the categories once; safe to call from any entry point. */
void debug_init ();
} // namespace zc
