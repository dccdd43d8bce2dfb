/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: internal layout computation. Not installed.
 */
#pragma once

#include <gst/zerocopy/gstzcformat.h>

namespace zc {

/*
 * Like gst_zc_format_compute_layout() with a minimum plane-0 stride (a
 * driver's pitch) and one stride alignment per plane (GstVideoAlignment).
 */
bool compute_layout (const GstZcFormatInfo *fi, guint width, guint height,
    guint min_stride0, const guint plane_align[GST_VIDEO_MAX_PLANES],
    guint height_align, GstZcLayout *out);

} // namespace zc
