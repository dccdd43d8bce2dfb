/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcipcsrc: receives the frames a zcipcsink in another process serves
 * (dma-bufs and acquire fences) and gives their release fences back.
 */
#pragma once

#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_ZC_IPC_SRC (gst_zc_ipc_src_get_type ())
G_DECLARE_FINAL_TYPE (GstZcIpcSrc, gst_zc_ipc_src, GST, ZC_IPC_SRC, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE (zcipcsrc);

G_END_DECLS
