/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The buffer pool that hands a source's fixed set of buffers out (zcamsrc's,
 * zcipcsrc's) and reports each one back when downstream drops its last
 * reference. Internal.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_ZC_HAND_OUT_POOL (gst_zc_hand_out_pool_get_type ())
G_DECLARE_FINAL_TYPE (GstZcHandOutPool, gst_zc_hand_out_pool, GST,
    ZC_HAND_OUT_POOL, GstBufferPool)

/* Called (with the pool's lock held) with the returned buffer; takes it. */
typedef void (
    *GstZcHandOutPoolReturnFunc) (gpointer user_data, GstBuffer *buffer);

GstBufferPool *
gst_zc_hand_out_pool_new (GstZcHandOutPoolReturnFunc func, gpointer user_data);

GstBuffer *
gst_zc_hand_out_pool_hand_out (GstZcHandOutPool *pool, GstBuffer *buffer);

void gst_zc_hand_out_pool_detach (GstZcHandOutPool *pool);

G_END_DECLS
