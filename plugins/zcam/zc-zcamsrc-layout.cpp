/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcamsrc: layout requirements from allocation queries.
 *
 * Zero-copy breaks when a consumer imports a buffer whose layout it cannot
 * describe to its hardware: a V4L2 encoder whose driver pads the height to
 * whole macroblocks (vicodec: NV12 1920x1080 is 1920x1088, sizeimage
 * 3133440) refuses a buffer of 3110400 bytes whose chroma starts at line
 * 1080. Behind a tee only the largest pool size survives the allocation
 * query (GStreamer 1.22 drops the pools and any meta parameters), so the
 * size is the requirement that reaches the source in practice.
 */
#include "zc-zcamsrc-layout.h"

#include <algorithm>

namespace zc {

static guint
pow2_at_least (guint v)
{
  guint p = 1;
  while (p < v && p < (1u << 30))
    p <<= 1;
  return p;
}

LayoutNeeds
layout_needs (GstQuery *query, const GstVideoInfo *info)
{
  LayoutNeeds needs;
  for (guint i = 0; i < gst_query_get_n_allocation_pools (query); i++) {
    GstBufferPool *pool = NULL;
    guint size = 0;
    gst_query_parse_nth_allocation_pool (query, i, &pool, &size, NULL, NULL);
    needs.min_size = std::max<guint64> (needs.min_size, size);
    if (!pool)
      continue;
    GstStructure *config = gst_buffer_pool_get_config (pool);
    GstVideoAlignment align;
    gst_video_alignment_reset (&align);
    if (gst_buffer_pool_config_has_option (config,
            GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT) &&
        gst_buffer_pool_config_get_video_alignment (config, &align)) {
      guint h = GST_VIDEO_INFO_HEIGHT (info);
      guint padded = h + align.padding_top + align.padding_bottom;
      if (padded > h) {
        /* The smallest power of two that rounds @h up to @padded or more. */
        guint a = 1;
        while (a < 64 && GST_ROUND_UP_N (h, a) < padded)
          a <<= 1;
        needs.height_align = std::max (needs.height_align, a);
      }
      /* stride_align is a mask (alignment - 1). */
      needs.pitch_align = std::max (needs.pitch_align,
          pow2_at_least (align.stride_align[0] + 1));
    }
    gst_structure_free (config);
    gst_object_unref (pool);
  }
  if (needs.pitch_align == 1)
    needs.pitch_align = 0;
  return needs;
}

GstVideoInfo
layout_info (const GstVideoInfo *plain, const struct zcam_format &fmt)
{
  GstVideoInfo info = *plain;
  guint n = std::min<guint> (fmt.num_planes, GST_VIDEO_MAX_PLANES);
  for (guint i = 0; i < n; i++) {
    GST_VIDEO_INFO_PLANE_STRIDE (&info, i) = fmt.pitches[i];
    GST_VIDEO_INFO_PLANE_OFFSET (&info, i) = fmt.offsets[i];
  }
  /* The buffer's size is where the image ends, not the page-rounded dma-buf
   * size (that stays the memory's maxsize): V4L2 importers such as vicodec
   * on 6.1 reject a bytesused larger than their sizeimage. Padding lines
   * below the image belong to it: a consumer that padded the height counts
   * them in its sizeimage. */
  guint lines = fmt.height;
  if (fmt.height_align > 1)
    lines = GST_ROUND_UP_N (fmt.height, fmt.height_align);
  gsize end = 0;
  for (guint i = 0; i < GST_VIDEO_INFO_N_PLANES (&info); i++) {
    gint comp[GST_VIDEO_MAX_COMPONENTS];
    gst_video_format_info_component (info.finfo, i, comp);
    guint plane_lines = GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT (info.finfo, comp[0],
        lines);
    end = std::max<gsize> (end,
        GST_VIDEO_INFO_PLANE_OFFSET (&info, i) +
            gsize (GST_VIDEO_INFO_PLANE_STRIDE (&info, i)) * plane_lines);
  }
  info.size = std::min<gsize> (end, fmt.size);
  return info;
}

} // namespace zc
