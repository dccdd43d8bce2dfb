/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zckmssink: atomic KMS display sink that imports dma-bufs and hands the
 * buffers' fences to the display.
 */
#pragma once

#include <gst/video/gstvideosink.h>

G_BEGIN_DECLS

#define GST_TYPE_ZC_KMS_SINK (gst_zc_kms_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstZcKmsSink, gst_zc_kms_sink, GST, ZC_KMS_SINK,
    GstVideoSink)

GST_ELEMENT_REGISTER_DECLARE (zckmssink);

G_END_DECLS
