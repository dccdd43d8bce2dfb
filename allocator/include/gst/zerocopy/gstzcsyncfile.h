/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: sync_file fence helpers and dma-buf implicit fences.
 */
#ifndef __GST_ZC_SYNC_FILE_H__
#define __GST_ZC_SYNC_FILE_H__

#include <gst/zerocopy/zerocopy-prelude.h>

G_BEGIN_DECLS

/**
 * GstZcFenceAccess:
 * @GST_ZC_FENCE_ACCESS_READ: the fences of writers (what a reader waits for).
 * @GST_ZC_FENCE_ACCESS_WRITE: the fences of readers and writers (what a
 *   writer waits for).
 *
 * Which implicit fences of a dma-buf to export, or as what kind of access
 * to add an imported fence (DMA_BUF_SYNC_READ / DMA_BUF_SYNC_WRITE).
 *
 * Since: 0.1
 */
typedef enum {
  GST_ZC_FENCE_ACCESS_READ = (1 << 0),
  GST_ZC_FENCE_ACCESS_WRITE = (1 << 1),
} GstZcFenceAccess;

/**
 * GstZcSyncFileInfo:
 * @status: 1 when every fence signalled, 0 while one is still active,
 *   negative errno when one signalled with an error.
 * @timestamp_ns: for a signalled sync_file, the latest signal time of its
 *   fences (CLOCK_MONOTONIC, ns); 0 otherwise.
 * @num_fences: number of fences in the sync_file.
 * @name: the sync_file's name.
 *
 * What SYNC_IOC_FILE_INFO tells about a sync_file.
 *
 * Since: 0.1
 */
typedef struct
{
  gint status;
  guint64 timestamp_ns;
  guint num_fences;
  gchar name[32];

  /*< private >*/
  gpointer _gst_reserved[GST_PADDING];
} GstZcSyncFileInfo;

GST_ZC_API
gint gst_zc_sync_file_wait (gint fence_fd, gint64 timeout_ns);

GST_ZC_API
gboolean gst_zc_sync_file_query_status (gint fence_fd, gint *status);

GST_ZC_API
gboolean gst_zc_sync_file_get_status (gint fence_fd, GstZcSyncFileInfo *info);

GST_ZC_API
gint gst_zc_sync_file_merge (const gchar *name, gint fence_fd1, gint fence_fd2);

GST_ZC_API
gint gst_zc_sync_file_dup (gint fence_fd);

GST_ZC_API
gint gst_zc_dmabuf_export_sync_file (gint dmabuf_fd, GstZcFenceAccess access);

GST_ZC_API
gint gst_zc_dmabuf_import_sync_file (gint dmabuf_fd, GstZcFenceAccess access,
    gint fence_fd);

G_END_DECLS

#endif /* __GST_ZC_SYNC_FILE_H__ */
