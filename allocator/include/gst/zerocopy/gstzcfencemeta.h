/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: GstZcFenceMeta, the acquire and release fences of a buffer.
 */
#ifndef __GST_ZC_FENCE_META_H__
#define __GST_ZC_FENCE_META_H__

#include <gst/zerocopy/zerocopy-prelude.h>

G_BEGIN_DECLS

/**
 * GST_ZC_FENCE_META_API_TYPE:
 *
 * The #GType of the #GstZcFenceMeta API.
 *
 * Since: 0.1
 */
#define GST_ZC_FENCE_META_API_TYPE (gst_zc_fence_meta_api_get_type ())

/**
 * GST_ZC_FENCE_META_INFO:
 *
 * The #GstMetaInfo of #GstZcFenceMeta.
 *
 * Since: 0.1
 */
#define GST_ZC_FENCE_META_INFO (gst_zc_fence_meta_get_info ())

/**
 * GstZcFenceMeta:
 * @meta: parent #GstMeta.
 *
 * Fences of a buffer: at most one acquire fence (the contents are valid
 * once it signals) and any number of release fences (the producer may
 * overwrite the memory once they all signal). All are sync_file file
 * descriptors owned by the meta and closed when it is freed.
 *
 * The fields are private; use the functions. Release fences may be added
 * by any holder of the buffer, also when the buffer is not writable (a sink
 * sharing it with a tee): the release list is protected by a lock.
 *
 * The meta survives copies that share the memory (queue, tee, a
 * gst_buffer_copy() without deep copy; the fds are duplicated) and is
 * dropped when the memory is new (deep copies, transforms).
 *
 * Since: 0.1
 */
typedef struct
{
  GstMeta meta;

  /*< private >*/
  GMutex lock;
  gint acquire_fence;
  GArray *release_fences;
  /* The buffer the meta is attached to (no reference: the meta dies with
   * it), for the acquire fence it leaves on the buffer's memories. */
  GstBuffer *buffer;
  /* The acquire fence's status once it is final (1, or the error it
   * signalled with; 0 while unknown): a signalled fence never changes, so
   * consumers along the path ask the kernel once between them. */
  gint acquire_status;
  gpointer _gst_reserved[GST_PADDING - 1];
} GstZcFenceMeta;

GST_ZC_API
GType gst_zc_fence_meta_api_get_type (void);

GST_ZC_API
const GstMetaInfo *gst_zc_fence_meta_get_info (void);

GST_ZC_API
GstZcFenceMeta *gst_zc_buffer_add_fence_meta (GstBuffer *buffer);

GST_ZC_API
GstZcFenceMeta *gst_zc_buffer_get_fence_meta (GstBuffer *buffer);

GST_ZC_API
gboolean
gst_zc_fence_meta_add_acquire_fence (GstZcFenceMeta *meta, gint fence_fd);

GST_ZC_API
gint gst_zc_fence_meta_get_acquire_fence (GstZcFenceMeta *meta);

GST_ZC_API
gint gst_zc_fence_meta_take_acquire_fence (GstZcFenceMeta *meta);

GST_ZC_API
gint gst_zc_fence_meta_get_acquire_status (GstZcFenceMeta *meta);

GST_ZC_API
gint gst_zc_fence_meta_wait_acquire (GstZcFenceMeta *meta, gint64 timeout_ns);

GST_ZC_API
void gst_zc_fence_meta_add_release_fence (GstZcFenceMeta *meta, gint fence_fd);

GST_ZC_API
guint gst_zc_fence_meta_get_n_release_fences (GstZcFenceMeta *meta);

GST_ZC_API
gint gst_zc_fence_meta_get_release_fence (GstZcFenceMeta *meta, guint idx);

GST_ZC_API
gint *
gst_zc_fence_meta_take_release_fences (GstZcFenceMeta *meta, guint *n_fences);

GST_ZC_API
gint gst_zc_fence_meta_take_merged_release_fence (GstZcFenceMeta *meta);

G_END_DECLS

#endif /* __GST_ZC_FENCE_META_H__ */
