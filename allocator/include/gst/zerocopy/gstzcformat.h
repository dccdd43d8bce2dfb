/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: pixel format table and linear frame layouts.
 */
#ifndef __GST_ZC_FORMAT_H__
#define __GST_ZC_FORMAT_H__

#include <gst/zerocopy/zerocopy-prelude.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/**
 * GstZcFormatInfo:
 * @format: the GStreamer video format.
 * @fourcc: the DRM fourcc (drm_fourcc.h) describing the same memory layout.
 * @zcam: %TRUE when the zcam uapi defines a frame pattern for the format
 *   (whether a given device supports it is in its zcam_caps).
 * @n_planes: number of memory planes.
 * @block_width: per plane, pixels covered by one block (2 for YUYV and for
 *   the chroma planes of 4:2:x formats, else 1).
 * @block_bytes: per plane, bytes per block.
 * @vsub: per plane, vertical subsampling (2 for the chroma of 4:2:0).
 *
 * One entry of the format table. A plane line of a frame @width pixels wide
 * needs `ceil(width / block_width) * block_bytes` bytes, and a plane has
 * `ceil(height / vsub)` lines.
 *
 * Since: 0.1
 */
typedef struct
{
  GstVideoFormat format;
  guint32 fourcc;
  gboolean zcam;
  guint n_planes;
  guint block_width[GST_VIDEO_MAX_PLANES];
  guint block_bytes[GST_VIDEO_MAX_PLANES];
  guint vsub[GST_VIDEO_MAX_PLANES];

  /*< private >*/
  gpointer _gst_reserved[GST_PADDING];
} GstZcFormatInfo;

/**
 * GstZcLayout:
 * @format: video format.
 * @fourcc: DRM fourcc of @format.
 * @width: frame width in pixels.
 * @height: frame height in pixels.
 * @stride_align: the stride alignment that was asked for (bytes, power of 2).
 * @height_align: the line padding that was asked for (lines, power of 2).
 * @n_planes: number of planes.
 * @stride: bytes per line of each plane.
 * @offset: byte offset of each plane from the start of the buffer.
 * @plane_size: bytes of each plane (stride times padded lines).
 * @size: bytes of the whole frame.
 *
 * The linear memory layout of one frame, in a single buffer with planes one
 * after the other. Strides of the planes after the first follow the first
 * one in the ratio of their bytes per pixel, as DRM and V4L2 single-buffer
 * formats do (I420 chroma stride is half the luma stride, NV12's is equal).
 *
 * Since: 0.1
 */
typedef struct
{
  GstVideoFormat format;
  guint32 fourcc;
  guint width;
  guint height;
  guint stride_align;
  guint height_align;
  guint n_planes;
  guint stride[GST_VIDEO_MAX_PLANES];
  gsize offset[GST_VIDEO_MAX_PLANES];
  gsize plane_size[GST_VIDEO_MAX_PLANES];
  gsize size;

  /*< private >*/
  gpointer _gst_reserved[GST_PADDING];
} GstZcLayout;

GST_ZC_API
const GstZcFormatInfo *gst_zc_format_get_info (GstVideoFormat format);

GST_ZC_API
const GstZcFormatInfo *gst_zc_format_get_info_by_fourcc (guint32 fourcc);

GST_ZC_API
guint gst_zc_format_get_n_formats (void);

GST_ZC_API
const GstZcFormatInfo *gst_zc_format_get_info_by_index (guint index);

GST_ZC_API
guint32 gst_zc_format_to_drm_fourcc (GstVideoFormat format);

GST_ZC_API
GstVideoFormat gst_zc_format_from_drm_fourcc (guint32 fourcc);

GST_ZC_API
gboolean gst_zc_format_compute_layout (GstVideoFormat format, guint width,
    guint height, guint stride_align, guint height_align, GstZcLayout *layout);

GST_ZC_API
gboolean
gst_zc_layout_to_video_info (const GstZcLayout *layout, GstVideoInfo *info);

G_END_DECLS

#endif /* __GST_ZC_FORMAT_H__ */
