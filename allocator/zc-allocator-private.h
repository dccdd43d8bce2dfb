/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: allocator internals shared with the buffer pool. Not
 * installed.
 */
#pragma once

#include <gst/zerocopy/gstzcallocator.h>

namespace zc {

/* gst_zc_allocator_negotiate_layout() with one alignment per plane
 * (GstVideoAlignment's stride_align[]). */
bool allocator_negotiate (GstZcAllocator *self, GstVideoFormat format,
    guint width, guint height, const guint align[GST_VIDEO_MAX_PLANES],
    guint height_align, GstZcLayout *layout);

} // namespace zc
