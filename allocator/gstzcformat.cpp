/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstzcformat
 * @title: Formats and layouts
 * @short_description: GstVideoFormat ↔ DRM fourcc table, linear frame layouts
 *
 * The one table of pixel formats the project knows, with the DRM fourcc of
 * each (note that DRM names packed formats by a little-endian 32-bit word:
 * DRM XRGB8888 is the byte order B, G, R, X, which GStreamer calls BGRx),
 * and the function that lays a frame out in memory under a stride and
 * height alignment. Every element uses these so that all agree on strides.
 */
#include "zc-format.h"

#include <gst/zerocopy/gstzcformat.h>

namespace {

constexpr guint32
fourcc (char a, char b, char c, char d)
{
  return guint32 (guint8 (a)) | (guint32 (guint8 (b)) << 8) |
      (guint32 (guint8 (c)) << 16) | (guint32 (guint8 (d)) << 24);
}

/* Single-plane packed format with @bpp bytes per pixel. */
constexpr GstZcFormatInfo
packed (GstVideoFormat f, guint32 cc, gboolean zcam, guint bpp)
{
  return GstZcFormatInfo { f, cc, zcam, 1, { 1 }, { bpp }, { 1 }, {} };
}

/* 4:2:2 packed YUV: one 4-byte block per two pixels. */
constexpr GstZcFormatInfo
yuv422_packed (GstVideoFormat f, guint32 cc, gboolean zcam)
{
  return GstZcFormatInfo { f, cc, zcam, 1, { 2 }, { 4 }, { 1 }, {} };
}

/* Luma plane plus one interleaved chroma plane; @cb bytes per sample. */
constexpr GstZcFormatInfo
semi_planar (GstVideoFormat f, guint32 cc, gboolean zcam, guint hsub,
    guint vsub, guint cb)
{
  return GstZcFormatInfo { f, cc, zcam, 2, { 1, hsub }, { cb, 2 * cb },
    { 1, vsub }, {} };
}

/* Three planes, one byte per sample. */
constexpr GstZcFormatInfo
planar (GstVideoFormat f, guint32 cc, guint hsub, guint vsub)
{
  return GstZcFormatInfo { f, cc, FALSE, 3, { 1, hsub, hsub }, { 1, 1, 1 },
    { 1, vsub, vsub }, {} };
}

const GstZcFormatInfo formats[] = {
  packed (GST_VIDEO_FORMAT_BGRx, fourcc ('X', 'R', '2', '4'), TRUE, 4),
  packed (GST_VIDEO_FORMAT_BGRA, fourcc ('A', 'R', '2', '4'), FALSE, 4),
  packed (GST_VIDEO_FORMAT_RGBx, fourcc ('X', 'B', '2', '4'), FALSE, 4),
  packed (GST_VIDEO_FORMAT_RGBA, fourcc ('A', 'B', '2', '4'), FALSE, 4),
  packed (GST_VIDEO_FORMAT_xBGR, fourcc ('R', 'X', '2', '4'), FALSE, 4),
  packed (GST_VIDEO_FORMAT_xRGB, fourcc ('B', 'X', '2', '4'), FALSE, 4),
  packed (GST_VIDEO_FORMAT_ABGR, fourcc ('R', 'A', '2', '4'), FALSE, 4),
  packed (GST_VIDEO_FORMAT_ARGB, fourcc ('B', 'A', '2', '4'), FALSE, 4),
  packed (GST_VIDEO_FORMAT_BGR, fourcc ('R', 'G', '2', '4'), FALSE, 3),
  packed (GST_VIDEO_FORMAT_RGB, fourcc ('B', 'G', '2', '4'), FALSE, 3),
  packed (GST_VIDEO_FORMAT_RGB16, fourcc ('R', 'G', '1', '6'), FALSE, 2),
  packed (GST_VIDEO_FORMAT_BGR16, fourcc ('B', 'G', '1', '6'), FALSE, 2),
  semi_planar (GST_VIDEO_FORMAT_NV12, fourcc ('N', 'V', '1', '2'), TRUE, 2, 2,
      1),
  semi_planar (GST_VIDEO_FORMAT_NV21, fourcc ('N', 'V', '2', '1'), FALSE, 2, 2,
      1),
  semi_planar (GST_VIDEO_FORMAT_NV16, fourcc ('N', 'V', '1', '6'), FALSE, 2, 1,
      1),
  semi_planar (GST_VIDEO_FORMAT_NV61, fourcc ('N', 'V', '6', '1'), FALSE, 2, 1,
      1),
  semi_planar (GST_VIDEO_FORMAT_NV24, fourcc ('N', 'V', '2', '4'), FALSE, 1, 1,
      1),
  semi_planar (GST_VIDEO_FORMAT_P010_10LE, fourcc ('P', '0', '1', '0'), FALSE,
      2, 2, 2),
  yuv422_packed (GST_VIDEO_FORMAT_YUY2, fourcc ('Y', 'U', 'Y', 'V'), TRUE),
  yuv422_packed (GST_VIDEO_FORMAT_YVYU, fourcc ('Y', 'V', 'Y', 'U'), FALSE),
  yuv422_packed (GST_VIDEO_FORMAT_UYVY, fourcc ('U', 'Y', 'V', 'Y'), FALSE),
  yuv422_packed (GST_VIDEO_FORMAT_VYUY, fourcc ('V', 'Y', 'U', 'Y'), FALSE),
  planar (GST_VIDEO_FORMAT_I420, fourcc ('Y', 'U', '1', '2'), 2, 2),
  planar (GST_VIDEO_FORMAT_YV12, fourcc ('Y', 'V', '1', '2'), 2, 2),
  planar (GST_VIDEO_FORMAT_Y42B, fourcc ('Y', 'U', '1', '6'), 2, 1),
  planar (GST_VIDEO_FORMAT_Y444, fourcc ('Y', 'U', '2', '4'), 1, 1),
  packed (GST_VIDEO_FORMAT_GRAY8, fourcc ('R', '8', ' ', ' '), FALSE, 1),
  packed (GST_VIDEO_FORMAT_GRAY16_LE, fourcc ('R', '1', '6', ' '), FALSE, 2),
};

bool
is_pow2 (guint v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

guint64
round_up (guint64 v, guint64 a)
{
  return (v + a - 1) / a * a;
}

} // namespace

namespace zc {

bool
compute_layout (const GstZcFormatInfo *fi, guint width, guint height,
    guint min_stride0, const guint plane_align[GST_VIDEO_MAX_PLANES],
    guint height_align, GstZcLayout *out)
{
  if (!fi || width == 0 || height == 0 || width > 65536 || height > 65536)
    return false;
  if (height_align == 0)
    height_align = 1;
  if (!is_pow2 (height_align) || height_align > 4096)
    return false;

  guint64 bytes[GST_VIDEO_MAX_PLANES];
  guint align[GST_VIDEO_MAX_PLANES];
  for (guint i = 0; i < fi->n_planes; i++) {
    align[i] = plane_align[i] ? plane_align[i] : 1;
    if (!is_pow2 (align[i]) || align[i] > 65536)
      return false;
    bytes[i] = (width + fi->block_width[i] - 1) / fi->block_width[i] *
        fi->block_bytes[i];
  }

  /*
   * stride[i] = stride[0] * num[i] / den[i]: planes keep the bytes-per-pixel
   * ratio of plane 0. Find the smallest plane-0 stride (a multiple of its
   * alignment) for which every plane's stride is whole, wide enough and
   * aligned. A handful of steps at most for real alignments.
   */
  guint64 stride0 = round_up (MAX (bytes[0], guint64 (min_stride0)), align[0]);
  guint64 stride[GST_VIDEO_MAX_PLANES] = { 0 };
  bool found = false;
  for (guint step = 0; step < 65536 && !found; step++, stride0 += align[0]) {
    found = true;
    for (guint i = 0; i < fi->n_planes; i++) {
      guint64 num = guint64 (fi->block_bytes[i]) * fi->block_width[0];
      guint64 den = guint64 (fi->block_width[i]) * fi->block_bytes[0];
      if ((stride0 * num) % den != 0) {
        found = false;
        break;
      }
      stride[i] = stride0 * num / den;
      if (stride[i] < bytes[i] || stride[i] % align[i] != 0) {
        found = false;
        break;
      }
    }
  }
  if (!found || stride[0] > G_MAXINT)
    return false;

  GstZcLayout l = {};
  l.format = fi->format;
  l.fourcc = fi->fourcc;
  l.width = width;
  l.height = height;
  l.stride_align = align[0];
  l.height_align = height_align;
  l.n_planes = fi->n_planes;
  guint64 offset = 0;
  for (guint i = 0; i < fi->n_planes; i++) {
    guint64 lines = round_up ((height + fi->vsub[i] - 1) / fi->vsub[i],
        height_align);
    l.stride[i] = guint (stride[i]);
    l.offset[i] = offset;
    l.plane_size[i] = stride[i] * lines;
    offset += l.plane_size[i];
  }
  if (offset > (G_GUINT64_CONSTANT (1) << 40))
    return false;
  l.size = offset;
  *out = l;
  return true;
}

} // namespace zc

/**
 * gst_zc_format_get_n_formats:
 *
 * Returns: the number of entries of the format table; entries are read one
 *   at a time with gst_zc_format_get_info_by_index().
 *
 * Since: 0.1
 */
guint
gst_zc_format_get_n_formats (void)
{
  return G_N_ELEMENTS (formats);
}

/**
 * gst_zc_format_get_info_by_index:
 * @index: 0 to gst_zc_format_get_n_formats() - 1
 *
 * Entries are handed out one at a time (never as an array) so that
 * #GstZcFormatInfo can grow without breaking the ABI.
 *
 * Returns: (transfer none) (nullable): entry @index of the format table, or
 *   %NULL when @index is out of range.
 *
 * Since: 0.1
 */
const GstZcFormatInfo *
gst_zc_format_get_info_by_index (guint index)
{
  if (index >= G_N_ELEMENTS (formats))
    return NULL;
  return &formats[index];
}

/**
 * gst_zc_format_get_info:
 * @format: a #GstVideoFormat
 *
 * Returns: (transfer none) (nullable): the table entry of @format, or %NULL
 *   when the project does not handle it.
 *
 * Since: 0.1
 */
const GstZcFormatInfo *
gst_zc_format_get_info (GstVideoFormat format)
{
  for (const auto &f : formats)
    if (f.format == format)
      return &f;
  return NULL;
}

/**
 * gst_zc_format_get_info_by_fourcc:
 * @fourcc: a DRM fourcc
 *
 * Returns: (transfer none) (nullable): the table entry of @fourcc, or %NULL.
 *
 * Since: 0.1
 */
const GstZcFormatInfo *
gst_zc_format_get_info_by_fourcc (guint32 fourcc)
{
  for (const auto &f : formats)
    if (f.fourcc == fourcc)
      return &f;
  return NULL;
}

/**
 * gst_zc_format_to_drm_fourcc:
 * @format: a #GstVideoFormat
 *
 * Returns: the DRM fourcc of @format, or 0 when it has none in the table.
 *
 * Since: 0.1
 */
guint32
gst_zc_format_to_drm_fourcc (GstVideoFormat format)
{
  const GstZcFormatInfo *fi = gst_zc_format_get_info (format);
  return fi ? fi->fourcc : 0;
}

/**
 * gst_zc_format_from_drm_fourcc:
 * @fourcc: a DRM fourcc
 *
 * Returns: the #GstVideoFormat of @fourcc, or %GST_VIDEO_FORMAT_UNKNOWN.
 *
 * Since: 0.1
 */
GstVideoFormat
gst_zc_format_from_drm_fourcc (guint32 fourcc)
{
  const GstZcFormatInfo *fi = gst_zc_format_get_info_by_fourcc (fourcc);
  return fi ? fi->format : GST_VIDEO_FORMAT_UNKNOWN;
}

/**
 * gst_zc_format_compute_layout:
 * @format: a #GstVideoFormat from the table
 * @width: frame width in pixels (odd sizes are fine)
 * @height: frame height in pixels
 * @stride_align: alignment of every plane's stride in bytes, a power of two
 *   (0 or 1: none)
 * @height_align: each plane's line count is padded to a multiple of this,
 *   a power of two (0 or 1: none)
 * @layout: (out caller-allocates): the layout
 *
 * Lays out one frame in a single linear buffer, planes one after the other,
 * the way the zcam device and DRM dumb buffers do.
 *
 * Returns: %TRUE on success, %FALSE for an unknown format, a zero or too
 *   large size, or an alignment that is not a power of two.
 *
 * Since: 0.1
 */
gboolean
gst_zc_format_compute_layout (GstVideoFormat format, guint width, guint height,
    guint stride_align, guint height_align, GstZcLayout *layout)
{
  g_return_val_if_fail (layout != NULL, FALSE);
  const guint align[GST_VIDEO_MAX_PLANES] = { stride_align, stride_align,
    stride_align, stride_align };
  return zc::compute_layout (gst_zc_format_get_info (format), width, height, 0,
      align, height_align, layout);
}

/**
 * gst_zc_layout_to_video_info:
 * @layout: a #GstZcLayout
 * @info: (out caller-allocates): a #GstVideoInfo
 *
 * Fills @info for the layout's format and size, with the layout's strides,
 * offsets and total size.
 *
 * Returns: %TRUE on success.
 *
 * Since: 0.1
 */
gboolean
gst_zc_layout_to_video_info (const GstZcLayout *layout, GstVideoInfo *info)
{
  g_return_val_if_fail (layout != NULL && info != NULL, FALSE);
  if (!gst_video_info_set_format (info, layout->format, layout->width,
          layout->height))
    return FALSE;
  if (GST_VIDEO_INFO_N_PLANES (info) != layout->n_planes)
    return FALSE;
  for (guint i = 0; i < layout->n_planes; i++) {
    GST_VIDEO_INFO_PLANE_STRIDE (info, i) = layout->stride[i];
    GST_VIDEO_INFO_PLANE_OFFSET (info, i) = layout->offset[i];
  }
  GST_VIDEO_INFO_SIZE (info) = layout->size;
  return TRUE;
}
