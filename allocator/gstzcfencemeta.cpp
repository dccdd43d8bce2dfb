/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstzcfencemeta
 * @title: GstZcFenceMeta
 * @short_description: acquire and release fences of a buffer
 *
 * The producer attaches the meta with the buffer's acquire fence; every
 * consumer that still reads the memory after it let go of the buffer adds
 * a release fence. When the buffer returns to a #GstZcBufferPool the pool
 * takes the release fences and does not hand the memory out again before
 * they signal.
 */
#include "zc-debug.h"
#include "zc-acquire.h"
#include "zc-fd.h"
#include "zc-glib.h"

#include <gst/zerocopy/gstzcsyncfile.h>
#include <gst/zerocopy/gstzcfencemeta.h>

#include <set>

#define GST_CAT_DEFAULT gst_zc_fence_meta_debug

namespace {

gboolean
fence_meta_init (GstMeta *meta, gpointer, GstBuffer *buffer)
{
  auto *m = reinterpret_cast<GstZcFenceMeta *> (meta);
  g_mutex_init (&m->lock);
  m->buffer = buffer;
  m->acquire_fence = -1;
  m->release_fences = g_array_new (FALSE, FALSE, sizeof (gint));
  return TRUE;
}

void
fence_meta_free (GstMeta *meta, GstBuffer *)
{
  auto *m = reinterpret_cast<GstZcFenceMeta *> (meta);
  zc::UniqueFd acquire (m->acquire_fence);
  for (guint i = 0; i < m->release_fences->len; i++)
    zc::close_owned (g_array_index (m->release_fences, gint, i));
  g_array_free (m->release_fences, TRUE);
  g_mutex_clear (&m->lock);
}

GstMemory *
root_memory (GstMemory *mem)
{
  while (mem->parent)
    mem = mem->parent;
  return mem;
}

/* Whether every memory of @dest is (a share of) a memory of @src. */
bool
shares_memory (GstBuffer *dest, GstBuffer *src)
{
  guint n = gst_buffer_n_memory (dest);
  if (n == 0)
    return false;
  std::set<GstMemory *> roots;
  for (guint i = 0; i < gst_buffer_n_memory (src); i++)
    roots.insert (root_memory (gst_buffer_peek_memory (src, i)));
  for (guint i = 0; i < n; i++)
    if (!roots.count (root_memory (gst_buffer_peek_memory (dest, i))))
      return false;
  return true;
}

gboolean
fence_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *src,
    GQuark type, gpointer)
{
  auto *m = reinterpret_cast<GstZcFenceMeta *> (meta);

  /* Fences describe the memory: they only follow a copy that shares it. */
  if (!GST_META_TRANSFORM_IS_COPY (type) || !shares_memory (dest, src)) {
    GST_LOG ("dropping fence meta on %" GST_PTR_FORMAT ": new memory", dest);
    return TRUE;
  }

  GstZcFenceMeta *d = gst_zc_buffer_get_fence_meta (dest);
  if (!d)
    d = gst_zc_buffer_add_fence_meta (dest);
  if (!d)
    return FALSE;

  zc::MutexLock lock (&m->lock);
  if (m->acquire_fence >= 0) {
    gint fd = gst_zc_sync_file_dup (m->acquire_fence);
    if (fd < 0 || !gst_zc_fence_meta_add_acquire_fence (d, fd))
      return FALSE;
  }
  for (guint i = 0; i < m->release_fences->len; i++) {
    gint fd = gst_zc_sync_file_dup (g_array_index (m->release_fences, gint, i));
    if (fd < 0)
      return FALSE;
    gst_zc_fence_meta_add_release_fence (d, fd);
  }
  return TRUE;
}

} // namespace

/**
 * gst_zc_fence_meta_api_get_type:
 *
 * Returns: the #GType of the #GstZcFenceMeta API.
 *
 * Since: 0.1
 */
GType
gst_zc_fence_meta_api_get_type (void)
{
  static GType type = 0;
  /* No "memory" tag: GstBuffer would then drop the meta on every region
   * copy, also where the memory is shared. The transform function decides
   * by looking at the memory instead. */
  static const gchar *tags[] = { NULL };
  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstZcFenceMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

/**
 * gst_zc_fence_meta_get_info:
 *
 * Returns: (transfer none): the #GstMetaInfo of #GstZcFenceMeta.
 *
 * Since: 0.1
 */
const GstMetaInfo *
gst_zc_fence_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;
  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    zc::debug_init ();
    const GstMetaInfo *mi = gst_meta_register (GST_ZC_FENCE_META_API_TYPE,
        "GstZcFenceMeta", sizeof (GstZcFenceMeta), fence_meta_init,
        fence_meta_free, fence_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) mi);
  }
  return info;
}

/**
 * gst_zc_buffer_add_fence_meta:
 * @buffer: a writable #GstBuffer
 *
 * Attaches an empty fence meta.
 *
 * Returns: (transfer none): the new meta.
 *
 * Since: 0.1
 */
GstZcFenceMeta *
gst_zc_buffer_add_fence_meta (GstBuffer *buffer)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  return reinterpret_cast<GstZcFenceMeta *> (
      gst_buffer_add_meta (buffer, GST_ZC_FENCE_META_INFO, NULL));
}

/**
 * gst_zc_buffer_get_fence_meta:
 * @buffer: a #GstBuffer
 *
 * Returns: (transfer none) (nullable): the fence meta of @buffer, or %NULL.
 *
 * Since: 0.1
 */
GstZcFenceMeta *
gst_zc_buffer_get_fence_meta (GstBuffer *buffer)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  return reinterpret_cast<GstZcFenceMeta *> (
      gst_buffer_get_meta (buffer, GST_ZC_FENCE_META_API_TYPE));
}

/**
 * gst_zc_fence_meta_add_acquire_fence:
 * @meta: a #GstZcFenceMeta
 * @fence_fd: a sync_file fd; the meta takes ownership of it
 *
 * Sets the acquire fence. When the meta already has one, the two are merged
 * (SYNC_IOC_MERGE) so that there is still one fence that signals when both
 * have. The meta takes @fence_fd in every case.
 *
 * Returns: %TRUE on success; %FALSE when the merge failed (then the
 *   previous acquire fence stays and @fence_fd is closed).
 *
 * Since: 0.1
 */
gboolean
gst_zc_fence_meta_add_acquire_fence (GstZcFenceMeta *meta, gint fence_fd)
{
  zc::UniqueFd fd (fence_fd);
  g_return_val_if_fail (meta != NULL, FALSE);
  g_return_val_if_fail (fence_fd >= 0, FALSE);

  zc::MutexLock lock (&meta->lock);
  meta->acquire_status = 0; /* a new fence: not known yet */
  if (meta->acquire_fence < 0) {
    meta->acquire_fence = fd.release ();
  } else {
    gint merged = gst_zc_sync_file_merge ("gstzc-acquire", meta->acquire_fence,
        fd.get ());
    if (merged < 0)
      return FALSE;
    zc::UniqueFd old (std::exchange (meta->acquire_fence, merged));
  }
  /* CPU maps of the buffer's memories wait for it too (zc-acquire.h). */
  if (auto *buffer = meta->buffer) {
    for (guint i = 0; i < gst_buffer_n_memory (buffer); i++)
      zc::memory_set_acquire_fence (gst_buffer_peek_memory (buffer, i),
          meta->acquire_fence);
  }
  return TRUE;
}

/**
 * gst_zc_fence_meta_get_acquire_fence:
 * @meta: a #GstZcFenceMeta
 *
 * Returns: the acquire fence fd, owned by the meta (do not close it; dup
 *   it to keep it past the buffer), or -1.
 *
 * Since: 0.1
 */
gint
gst_zc_fence_meta_get_acquire_fence (GstZcFenceMeta *meta)
{
  g_return_val_if_fail (meta != NULL, -1);
  zc::MutexLock lock (&meta->lock);
  return meta->acquire_fence;
}

/**
 * gst_zc_fence_meta_take_acquire_fence:
 * @meta: a #GstZcFenceMeta
 *
 * Removes the acquire fence from the meta.
 *
 * Returns: the acquire fence fd, which the caller now owns (and closes),
 *   or -1 when there is none.
 *
 * Since: 0.1
 */
gint
gst_zc_fence_meta_take_acquire_fence (GstZcFenceMeta *meta)
{
  g_return_val_if_fail (meta != NULL, -1);
  zc::MutexLock lock (&meta->lock);
  meta->acquire_status = 0;
  return std::exchange (meta->acquire_fence, -1);
}

/**
 * gst_zc_fence_meta_get_acquire_status:
 * @meta: a #GstZcFenceMeta
 *
 * The acquire fence's status, asked of the kernel (one SYNC_IOC_FILE_INFO,
 * gst_zc_sync_file_query_status()) only until it is final: once the fence
 * has signalled the answer is kept in the meta, so the elements along a
 * path (a fence bridge, then a display) ask once between them. A consumer
 * that waits for the fence in poll() asks after the fd polled readable.
 *
 * Returns: 1 when the fence signalled (or there is none), 0 while it is
 *   pending, or the negative errno it signalled with (-EBADF when the
 *   acquire fence is not a sync_file).
 *
 * Since: 0.1
 */
gint
gst_zc_fence_meta_get_acquire_status (GstZcFenceMeta *meta)
{
  g_return_val_if_fail (meta != NULL, -EINVAL);
  zc::MutexLock lock (&meta->lock);
  if (meta->acquire_fence < 0)
    return 1;
  if (meta->acquire_status != 0)
    return meta->acquire_status;
  gint status;
  if (!gst_zc_sync_file_query_status (meta->acquire_fence, &status))
    status = -EBADF;
  meta->acquire_status = status;
  return status;
}

/**
 * gst_zc_fence_meta_wait_acquire:
 * @meta: a #GstZcFenceMeta
 * @timeout_ns: longest wait in nanoseconds
 *
 * Waits for the acquire fence, if there is one; for consumers that cannot
 * let hardware wait (V4L2).
 *
 * Returns: 0 when there is no acquire fence or it signalled, -ETIMEDOUT,
 *   or another negative errno.
 *
 * Since: 0.1
 */
gint
gst_zc_fence_meta_wait_acquire (GstZcFenceMeta *meta, gint64 timeout_ns)
{
  g_return_val_if_fail (meta != NULL, -EINVAL);
  /* Wait on a duplicate so that the lock is not held during the wait. */
  zc::UniqueFd fd;
  {
    zc::MutexLock lock (&meta->lock);
    if (meta->acquire_fence < 0 || meta->acquire_status != 0)
      return 0;
    fd = zc::UniqueFd (gst_zc_sync_file_dup (meta->acquire_fence));
  }
  if (!fd)
    return -EBADF;
  return gst_zc_sync_file_wait (fd.get (), timeout_ns);
}

/**
 * gst_zc_fence_meta_add_release_fence:
 * @meta: a #GstZcFenceMeta
 * @fence_fd: a sync_file fd; the meta takes ownership of it
 *
 * Adds a release fence: the memory must not be overwritten before it
 * signals. Allowed on a buffer that is not writable.
 *
 * Since: 0.1
 */
void
gst_zc_fence_meta_add_release_fence (GstZcFenceMeta *meta, gint fence_fd)
{
  zc::UniqueFd fd (fence_fd);
  g_return_if_fail (meta != NULL);
  g_return_if_fail (fence_fd >= 0);
  zc::MutexLock lock (&meta->lock);
  gint raw = fd.release ();
  g_array_append_val (meta->release_fences, raw);
}

/**
 * gst_zc_fence_meta_get_n_release_fences:
 * @meta: a #GstZcFenceMeta
 *
 * Returns: the number of release fences.
 *
 * Since: 0.1
 */
guint
gst_zc_fence_meta_get_n_release_fences (GstZcFenceMeta *meta)
{
  g_return_val_if_fail (meta != NULL, 0);
  zc::MutexLock lock (&meta->lock);
  return meta->release_fences->len;
}

/**
 * gst_zc_fence_meta_get_release_fence:
 * @meta: a #GstZcFenceMeta
 * @idx: index, below gst_zc_fence_meta_get_n_release_fences()
 *
 * Returns: the release fence fd, owned by the meta (do not close it), or
 *   -1.
 *
 * Since: 0.1
 */
gint
gst_zc_fence_meta_get_release_fence (GstZcFenceMeta *meta, guint idx)
{
  g_return_val_if_fail (meta != NULL, -1);
  zc::MutexLock lock (&meta->lock);
  if (idx >= meta->release_fences->len)
    return -1;
  return g_array_index (meta->release_fences, gint, idx);
}

/**
 * gst_zc_fence_meta_take_release_fences:
 * @meta: a #GstZcFenceMeta
 * @n_fences: (out): number of fds returned
 *
 * Removes all release fences from the meta.
 *
 * Returns: (transfer full) (array length=n_fences) (nullable): the fds, to
 *   be closed by the caller, in a g_free()-able array; %NULL when none.
 *
 * Since: 0.1
 */
gint *
gst_zc_fence_meta_take_release_fences (GstZcFenceMeta *meta, guint *n_fences)
{
  g_return_val_if_fail (meta != NULL && n_fences != NULL, NULL);
  zc::MutexLock lock (&meta->lock);
  *n_fences = meta->release_fences->len;
  if (*n_fences == 0)
    return NULL;
  gint *fds = (gint *) g_memdup2 (meta->release_fences->data,
      sizeof (gint) * *n_fences);
  g_array_set_size (meta->release_fences, 0);
  return fds;
}

/**
 * gst_zc_fence_meta_take_merged_release_fence:
 * @meta: a #GstZcFenceMeta
 *
 * Removes all release fences and returns one sync_file that signals when
 * they all have: the in-fence a producer hands to hardware.
 *
 * Returns: a sync_file fd which the caller owns, -1 when there are no release
 *   fences, or a negative errno when merging failed (the fences then stay
 *   in the meta).
 *
 * Since: 0.1
 */
gint
gst_zc_fence_meta_take_merged_release_fence (GstZcFenceMeta *meta)
{
  g_return_val_if_fail (meta != NULL, -EINVAL);
  zc::MutexLock lock (&meta->lock);
  GArray *a = meta->release_fences;
  if (a->len == 0)
    return -1;

  zc::UniqueFd merged (gst_zc_sync_file_dup (g_array_index (a, gint, 0)));
  if (!merged)
    return -EBADF;
  for (guint i = 1; i < a->len; i++) {
    gint fd = gst_zc_sync_file_merge ("gstzc-release", merged.get (),
        g_array_index (a, gint, i));
    if (fd < 0)
      return fd;
    merged.reset (fd);
  }
  for (guint i = 0; i < a->len; i++)
    zc::close_owned (g_array_index (a, gint, i));
  g_array_set_size (a, 0);
  return merged.release ();
}
