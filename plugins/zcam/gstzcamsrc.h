/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcamsrc: live source for zcam capture devices. Pushes the device's
 * dma-bufs with a GstZcFenceMeta acquire fence per frame.
 */
#pragma once

#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_ZCAM_SRC (gst_zcam_src_get_type ())
G_DECLARE_FINAL_TYPE (GstZcamSrc, gst_zcam_src, GST, ZCAM_SRC, GstPushSrc)

/**
 * GstZcamSrcFenceMode:
 * @GST_ZCAM_SRC_FENCE_MODE_EARLY: push each buffer as soon as it is queued to
 *   the kernel; the acquire fence says when the frame is complete.
 * @GST_ZCAM_SRC_FENCE_MODE_LATE: push each buffer after its frame completed
 *   (for consumers that cannot wait on fences).
 */
typedef enum {
  GST_ZCAM_SRC_FENCE_MODE_EARLY,
  GST_ZCAM_SRC_FENCE_MODE_LATE,
} GstZcamSrcFenceMode;

#define GST_TYPE_ZCAM_SRC_FENCE_MODE (gst_zcam_src_fence_mode_get_type ())
GType gst_zcam_src_fence_mode_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (zcamsrc);

G_END_DECLS

struct zcam_caps;

namespace zc {
/* The caps zcamsrc offers for a device with capabilities @c (transfer
 * full); shared with the device provider. */
GstCaps *zcamsrc_device_caps (const struct zcam_caps &c);
} // namespace zc
