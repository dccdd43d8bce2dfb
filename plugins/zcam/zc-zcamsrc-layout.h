/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcamsrc: what downstream needs of the frame layout, read from an
 * ALLOCATION query, and the GstVideoInfo of a layout the kernel chose.
 */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <zcam.h>

namespace zc {

struct LayoutNeeds
{
  guint pitch_align = 0;  /* bytes, power of two; 0: no requirement */
  guint height_align = 0; /* lines, power of two; 0: no requirement */
  guint64 min_size = 0;   /* bytes a consumer expects per frame */
};

/* The strictest requirements of every pool in @query: the sizes (a tee
 * forwards only the largest, dropping the pools) and, for pools offered
 * directly, their GstVideoAlignment for a frame of @info's size. */
LayoutNeeds layout_needs (GstQuery *query, const GstVideoInfo *info);

/* @plain (default layout) with the strides and offsets of @fmt; the size is
 * where the image ends (the dma-buf itself is rounded up to a page). */
GstVideoInfo
layout_info (const GstVideoInfo *plain, const struct zcam_format &fmt);

} // namespace zc
