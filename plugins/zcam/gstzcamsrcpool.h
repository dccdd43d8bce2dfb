/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcamsrc: the buffer pool that hands zcamsrc's fixed set of buffers out and
 * reports each one back when downstream drops its last reference.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_ZCAM_SRC_POOL (gst_zcam_src_pool_get_type ())
G_DECLARE_FINAL_TYPE (GstZcamSrcPool, gst_zcam_src_pool, GST, ZCAM_SRC_POOL,
    GstBufferPool)

/* Called (with the pool's lock held) with the returned buffer; takes it. */
typedef void (
    *GstZcamSrcPoolReturnFunc) (gpointer user_data, GstBuffer *buffer);

GstBufferPool *
gst_zcam_src_pool_new (GstZcamSrcPoolReturnFunc func, gpointer user_data);

GstBuffer *gst_zcam_src_pool_hand_out (GstZcamSrcPool *pool, GstBuffer *buffer);

void gst_zcam_src_pool_detach (GstZcamSrcPool *pool);

G_END_DECLS
