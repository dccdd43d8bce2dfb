/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcipcsink: serves the frames it receives (dma-bufs and their acquire
 * fences) to other processes over a Unix socket; their release fences come
 * back to the producer.
 */
#pragma once

#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_ZC_IPC_SINK (gst_zc_ipc_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstZcIpcSink, gst_zc_ipc_sink, GST, ZC_IPC_SINK,
    GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (zcipcsink);

G_END_DECLS
