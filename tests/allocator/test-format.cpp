/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The format table and gst_zc_format_compute_layout(), for every format,
 * odd sizes and several alignments.
 */
#include "zc-check.h"

static constexpr guint32
fourcc (const char s[5])
{
  return guint32 (guint8 (s[0])) | (guint32 (guint8 (s[1])) << 8) |
      (guint32 (guint8 (s[2])) << 16) | (guint32 (guint8 (s[3])) << 24);
}

GST_START_TEST (test_table_matches_gstreamer)
{
  guint n = gst_zc_format_get_n_formats ();
  fail_unless (n >= 20);
  fail_unless (gst_zc_format_get_info_by_index (n) == NULL);
  for (guint i = 0; i < n; i++) {
    const GstZcFormatInfo *fi = gst_zc_format_get_info_by_index (i);
    const GstVideoFormatInfo *vi = gst_video_format_get_info (fi->format);
    fail_unless (vi != NULL);
    /* Same plane count as GStreamer, round trip through the fourcc. */
    fail_unless_equals_int (fi->n_planes, GST_VIDEO_FORMAT_INFO_N_PLANES (vi));
    fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fi->fourcc),
        fi->format);
    fail_unless_equals_int (gst_zc_format_to_drm_fourcc (fi->format),
        fi->fourcc);
    fail_unless (gst_zc_format_get_info_by_fourcc (fi->fourcc) == fi);
    /* Unique entries. */
    for (guint j = 0; j < i; j++) {
      fail_if (gst_zc_format_get_info_by_index (j)->format == fi->format);
      fail_if (gst_zc_format_get_info_by_index (j)->fourcc == fi->fourcc);
    }
    /* Bytes per pixel of each plane agree with GStreamer's pixel strides. */
    for (guint p = 0; p < fi->n_planes; p++) {
      guint comps[GST_VIDEO_MAX_COMPONENTS];
      gst_video_format_info_component (vi, p, (gint *) comps);
      gint pstride = GST_VIDEO_FORMAT_INFO_PSTRIDE (vi, comps[0]);
      if (fi->format == GST_VIDEO_FORMAT_YUY2 ||
          fi->format == GST_VIDEO_FORMAT_UYVY ||
          fi->format == GST_VIDEO_FORMAT_YVYU ||
          fi->format == GST_VIDEO_FORMAT_VYUY) {
        fail_unless_equals_int (fi->block_bytes[p], 2 * pstride);
      } else {
        fail_unless_equals_int (fi->block_bytes[p], pstride);
      }
      fail_unless_equals_int (fi->vsub[p],
          1 << GST_VIDEO_FORMAT_INFO_H_SUB (vi, comps[0]));
    }
  }
}
GST_END_TEST;

GST_START_TEST (test_known_fourccs)
{
  /* DRM names the 32-bit little-endian word: XRGB8888 is B,G,R,X bytes. */
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("XR24")),
      GST_VIDEO_FORMAT_BGRx);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("AR24")),
      GST_VIDEO_FORMAT_BGRA);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("XB24")),
      GST_VIDEO_FORMAT_RGBx);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("AB24")),
      GST_VIDEO_FORMAT_RGBA);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("RG16")),
      GST_VIDEO_FORMAT_RGB16);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("NV12")),
      GST_VIDEO_FORMAT_NV12);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("NV21")),
      GST_VIDEO_FORMAT_NV21);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("NV16")),
      GST_VIDEO_FORMAT_NV16);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("YUYV")),
      GST_VIDEO_FORMAT_YUY2);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("UYVY")),
      GST_VIDEO_FORMAT_UYVY);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("YU12")),
      GST_VIDEO_FORMAT_I420);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("YV12")),
      GST_VIDEO_FORMAT_YV12);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("P010")),
      GST_VIDEO_FORMAT_P010_10LE);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (fourcc ("R8  ")),
      GST_VIDEO_FORMAT_GRAY8);
  fail_unless_equals_int (gst_zc_format_from_drm_fourcc (0x12345678),
      GST_VIDEO_FORMAT_UNKNOWN);
  fail_unless (gst_zc_format_get_info (GST_VIDEO_FORMAT_v210) == NULL);
  /* The formats the zcam uapi defines a pattern for. */
  fail_unless (gst_zc_format_get_info (GST_VIDEO_FORMAT_BGRx)->zcam);
  fail_unless (gst_zc_format_get_info (GST_VIDEO_FORMAT_NV12)->zcam);
  fail_unless (gst_zc_format_get_info (GST_VIDEO_FORMAT_YUY2)->zcam);
  fail_if (gst_zc_format_get_info (GST_VIDEO_FORMAT_I420)->zcam);
}
GST_END_TEST;

/* Checks one layout against the format's needs, and that GStreamer can map
 * a frame with it through a video meta and touch every plane's last byte. */
static void
check_layout (const GstZcFormatInfo *fi, guint w, guint h, guint sa, guint ha)
{
  GstZcLayout l;
  fail_unless (gst_zc_format_compute_layout (fi->format, w, h, sa, ha, &l),
      "%s %ux%u align %u/%u", gst_video_format_to_string (fi->format), w, h, sa,
      ha);
  fail_unless_equals_int (l.n_planes, fi->n_planes);
  fail_unless_equals_int (l.width, w);
  fail_unless_equals_int (l.height, h);
  gsize end = 0;
  for (guint p = 0; p < l.n_planes; p++) {
    guint need = (w + fi->block_width[p] - 1) / fi->block_width[p] *
        fi->block_bytes[p];
    guint lines = (h + fi->vsub[p] - 1) / fi->vsub[p];
    fail_unless (l.stride[p] >= need);
    fail_unless_equals_int (l.stride[p] % MAX (sa, 1u), 0);
    fail_unless (l.plane_size[p] >= gsize (l.stride[p]) * lines);
    fail_unless_equals_int (l.plane_size[p] / l.stride[p] % MAX (ha, 1u), 0);
    fail_unless_equals_uint64 (l.offset[p], end); /* contiguous, in order */
    end += l.plane_size[p];
    /* Chroma strides keep plane 0's ratio (DRM/V4L2 convention). */
    if (p > 0)
      fail_unless_equals_uint64 (guint64 (l.stride[p]) * fi->block_width[p] *
              fi->block_bytes[0],
          guint64 (l.stride[0]) * fi->block_bytes[p] * fi->block_width[0]);
  }
  fail_unless_equals_uint64 (l.size, end);

  GstVideoInfo info;
  fail_unless (gst_zc_layout_to_video_info (&l, &info));
  fail_unless_equals_uint64 (GST_VIDEO_INFO_SIZE (&info), l.size);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, l.size, NULL);
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE, fi->format, w,
      h, l.n_planes, info.offset, info.stride);
  GstVideoFrame frame;
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  for (guint p = 0; p < l.n_planes; p++) {
    guint8 *data = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    guint lines = (h + fi->vsub[p] - 1) / fi->vsub[p];
    guint need = (w + fi->block_width[p] - 1) / fi->block_width[p] *
        fi->block_bytes[p];
    data[gsize (lines - 1) * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p) + need -
        1] = 0xab;
  }
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
}

GST_START_TEST (test_layouts_all_formats)
{
  const guint sizes[][2] = { { 1, 1 }, { 2, 2 }, { 3, 5 }, { 33, 17 },
    { 640, 480 }, { 1919, 1081 }, { 1920, 1080 }, { 4096, 2160 } };
  const guint aligns[] = { 0, 1, 4, 16, 64, 256 };
  const guint haligns[] = { 0, 1, 2, 16, 64 };
  for (guint i = 0; i < gst_zc_format_get_n_formats (); i++)
    for (const auto &s : sizes)
      for (guint sa : aligns)
        for (guint ha : haligns)
          check_layout (gst_zc_format_get_info_by_index (i), s[0], s[1], sa,
              ha);
}
GST_END_TEST;

GST_START_TEST (test_layout_values)
{
  GstZcLayout l;
  /* NV12 1920x1080, 256-byte strides, 16-line padding: the luma plane has
   * 1088 lines, the chroma plane 544, both with a 2048-byte stride. */
  fail_unless (gst_zc_format_compute_layout (GST_VIDEO_FORMAT_NV12, 1920, 1080,
      256, 16, &l));
  fail_unless_equals_int (l.stride[0], 2048);
  fail_unless_equals_int (l.stride[1], 2048);
  fail_unless_equals_uint64 (l.offset[1], 2048 * 1088);
  fail_unless_equals_uint64 (l.size, 2048 * 1088 + 2048 * 544);

  /* I420 33x17 unaligned: luma stride 34 so that chroma (17 samples) is
   * exactly half; 9 chroma lines. */
  fail_unless (
      gst_zc_format_compute_layout (GST_VIDEO_FORMAT_I420, 33, 17, 1, 1, &l));
  fail_unless_equals_int (l.stride[0], 34);
  fail_unless_equals_int (l.stride[1], 17);
  fail_unless_equals_int (l.stride[2], 17);
  fail_unless_equals_uint64 (l.offset[1], 34 * 17);
  fail_unless_equals_uint64 (l.offset[2], 34 * 17 + 17 * 9);

  /* YUYV with an odd width still needs whole 4-byte macropixels. */
  fail_unless (
      gst_zc_format_compute_layout (GST_VIDEO_FORMAT_YUY2, 33, 2, 1, 1, &l));
  fail_unless_equals_int (l.stride[0], 68);

  /* BGRx 640x480 with 64-byte alignment: 2560 already aligned. */
  fail_unless (gst_zc_format_compute_layout (GST_VIDEO_FORMAT_BGRx, 640, 480,
      64, 1, &l));
  fail_unless_equals_int (l.stride[0], 2560);
  fail_unless_equals_uint64 (l.size, 2560 * 480);
}
GST_END_TEST;

GST_START_TEST (test_layout_rejects)
{
  GstZcLayout l;
  fail_if (
      gst_zc_format_compute_layout (GST_VIDEO_FORMAT_NV12, 0, 480, 1, 1, &l));
  fail_if (
      gst_zc_format_compute_layout (GST_VIDEO_FORMAT_NV12, 640, 0, 1, 1, &l));
  fail_if (
      gst_zc_format_compute_layout (GST_VIDEO_FORMAT_NV12, 640, 480, 3, 1, &l));
  fail_if (
      gst_zc_format_compute_layout (GST_VIDEO_FORMAT_NV12, 640, 480, 1, 6, &l));
  fail_if (
      gst_zc_format_compute_layout (GST_VIDEO_FORMAT_v210, 640, 480, 1, 1, &l));
  fail_if (gst_zc_format_compute_layout (GST_VIDEO_FORMAT_BGRx, 100000, 4, 1, 1,
      &l));
}
GST_END_TEST;

static Suite *
format_suite (void)
{
  Suite *s = suite_create ("zcformat");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_table_matches_gstreamer);
  tcase_add_test (tc, test_known_fourccs);
  tcase_add_test (tc, test_layouts_all_formats);
  tcase_add_test (tc, test_layout_values);
  tcase_add_test (tc, test_layout_rejects);
  return s;
}

GST_CHECK_MAIN (format);
