/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstzcsyncfile
 * @title: sync_file helpers
 * @short_description: sync_file helpers and dma-buf implicit fences
 *
 * Fences are sync_file file descriptors (drivers/dma-buf/sync_file.c). A
 * sync_file polls readable once all its fences have signalled, which is
 * what gst_zc_sync_file_wait() waits for, always with a bound.
 */
#include "zc-debug.h"
#include "zc-fd.h"

#include <gst/zerocopy/gstzcsyncfile.h>

#include <cstring>
#include <vector>

#include <linux/dma-buf.h>
#include <linux/sync_file.h>
#include <poll.h>

/* linux-libc-dev older than 5.20 lacks these; the ABI is fixed. */
#ifndef DMA_BUF_IOCTL_EXPORT_SYNC_FILE
struct dma_buf_export_sync_file
{
  __u32 flags;
  __s32 fd;
};
struct dma_buf_import_sync_file
{
  __u32 flags;
  __s32 fd;
};
#define DMA_BUF_IOCTL_EXPORT_SYNC_FILE \
  _IOWR (DMA_BUF_BASE, 2, struct dma_buf_export_sync_file)
#define DMA_BUF_IOCTL_IMPORT_SYNC_FILE \
  _IOW (DMA_BUF_BASE, 3, struct dma_buf_import_sync_file)
#endif

#define GST_CAT_DEFAULT gst_zc_fence_meta_debug

/**
 * gst_zc_sync_file_wait:
 * @fence_fd: a sync_file fd (any pollable fd works: it counts as signalled
 *   once readable)
 * @timeout_ns: longest wait in nanoseconds; negative waits without limit
 *   (avoid that outside tests: the fence contract wants every CPU wait
 *   bounded)
 *
 * Waits until the fence signals. A fence that signalled with an error also
 * ends the wait; ask gst_zc_sync_file_get_status() whether it did.
 *
 * Returns: 0 once signalled, -ETIMEDOUT when the time ran out, another
 *   negative errno when @fence_fd cannot be polled.
 *
 * Since: 0.1
 */
gint
gst_zc_sync_file_wait (gint fence_fd, gint64 timeout_ns)
{
  zc::debug_init ();
  int ret = zc::poll_fd (fence_fd, POLLIN, timeout_ns);
  if (ret == -ETIMEDOUT)
    GST_DEBUG ("fence %d did not signal within %" GST_TIME_FORMAT, fence_fd,
        GST_TIME_ARGS (timeout_ns));
  else if (ret < 0)
    GST_WARNING ("cannot wait for fence %d: %s", fence_fd, g_strerror (-ret));
  return ret;
}

/* SYNC_IOC_FILE_INFO as @fi asks (no per-fence details when its
 * num_fences is 0); false with errno set when @fence_fd is no sync_file. */
static bool
file_info (gint fence_fd, struct sync_file_info *fi)
{
  int ret = zc::xioctl (fence_fd, SYNC_IOC_FILE_INFO, fi);
  if (ret < 0) {
    GST_DEBUG ("fd %d is no sync_file: %s", fence_fd, g_strerror (-ret));
    errno = -ret;
    return false;
  }
  return true;
}

/**
 * gst_zc_sync_file_query_status:
 * @fence_fd: a sync_file fd
 * @status: (out): 1 when signalled, 0 while pending, or the negative errno
 *   the fence signalled with
 *
 * Asks the kernel for the fence's status with one SYNC_IOC_FILE_INFO that
 * requests no per-fence details: the cheap question for a path that asks
 * once per frame. For a sync_file merged from several fences an error on
 * one of them shows here once all have signalled;
 * gst_zc_sync_file_get_status() also sees it while others are pending, and
 * gives the signal time.
 *
 * Returns: %TRUE when @status was set, %FALSE when @fence_fd is not a
 *   sync_file (errno is set).
 *
 * Since: 0.1
 */
gboolean
gst_zc_sync_file_query_status (gint fence_fd, gint *status)
{
  g_return_val_if_fail (status != NULL, FALSE);
  zc::debug_init ();
  struct sync_file_info fi = {};
  if (!file_info (fence_fd, &fi))
    return FALSE;
  *status = fi.status;
  return TRUE;
}

/**
 * gst_zc_sync_file_get_status:
 * @fence_fd: a sync_file fd
 * @info: (out caller-allocates): where to store the status
 *
 * Queries a sync_file with SYNC_IOC_FILE_INFO: whether it signalled, with
 * an error or not, and when.
 *
 * Returns: %TRUE when @info was filled, %FALSE when @fence_fd is not a
 *   sync_file (errno is set).
 *
 * Since: 0.1
 */
gboolean
gst_zc_sync_file_get_status (gint fence_fd, GstZcSyncFileInfo *info)
{
  g_return_val_if_fail (info != NULL, FALSE);
  zc::debug_init ();
  memset (info, 0, sizeof (*info));

  struct sync_file_info fi = {};
  if (!file_info (fence_fd, &fi))
    return FALSE;

  std::vector<struct sync_fence_info> fences (fi.num_fences);
  if (fi.num_fences) {
    fi.sync_fence_info = reinterpret_cast<guintptr> (fences.data ());
    if (!file_info (fence_fd, &fi))
      return FALSE;
  }

  info->status = fi.status;
  info->num_fences = fi.num_fences;
  g_strlcpy (info->name, fi.name, sizeof (info->name));
  if (fi.status == 1) {
    for (const auto &f : fences)
      info->timestamp_ns = MAX (info->timestamp_ns, f.timestamp_ns);
  } else if (fi.status == 0) {
    /* An error on one fence is final even while others are pending. */
    for (const auto &f : fences)
      if (f.status < 0)
        info->status = f.status;
  }
  return TRUE;
}

/**
 * gst_zc_sync_file_merge:
 * @name: (nullable): name of the new sync_file
 * @fence_fd1: a sync_file fd
 * @fence_fd2: a sync_file fd
 *
 * Merges two sync_files with SYNC_IOC_MERGE into a new one that signals
 * when both have. The inputs stay owned by the caller.
 *
 * Returns: the new sync_file fd, which the caller owns (and closes), or a
 *   negative errno.
 *
 * Since: 0.1
 */
gint
gst_zc_sync_file_merge (const gchar *name, gint fence_fd1, gint fence_fd2)
{
  zc::debug_init ();
  struct sync_merge_data data = {};
  g_strlcpy (data.name, name ? name : "gstzc-merged", sizeof (data.name));
  data.fd2 = fence_fd2;
  int ret = zc::xioctl (fence_fd1, SYNC_IOC_MERGE, &data);
  if (ret < 0) {
    GST_WARNING ("cannot merge fences %d and %d: %s", fence_fd1, fence_fd2,
        g_strerror (-ret));
    return ret;
  }
  return data.fence;
}

/**
 * gst_zc_sync_file_dup:
 * @fence_fd: a fence fd
 *
 * Returns: a close-on-exec duplicate of @fence_fd, which the caller owns
 *   (and closes), or a negative errno.
 *
 * Since: 0.1
 */
gint
gst_zc_sync_file_dup (gint fence_fd)
{
  int fd = fcntl (fence_fd, F_DUPFD_CLOEXEC, 0);
  return fd < 0 ? -errno : fd;
}

static guint32
access_flags (GstZcFenceAccess access)
{
  guint32 flags = 0;
  if (access & GST_ZC_FENCE_ACCESS_READ)
    flags |= DMA_BUF_SYNC_READ;
  if (access & GST_ZC_FENCE_ACCESS_WRITE)
    flags |= DMA_BUF_SYNC_WRITE;
  return flags;
}

/**
 * gst_zc_dmabuf_export_sync_file:
 * @dmabuf_fd: a dma-buf fd
 * @access: %GST_ZC_FENCE_ACCESS_READ for the fences a reader must wait for
 *   (writers), %GST_ZC_FENCE_ACCESS_WRITE for all fences
 *
 * Snapshots the implicit fences of a dma-buf's reservation object as a
 * sync_file (DMA_BUF_IOCTL_EXPORT_SYNC_FILE, Linux 6.0+).
 *
 * Returns: a sync_file fd, which the caller owns (and closes), or a
 *   negative errno.
 *
 * Since: 0.1
 */
gint
gst_zc_dmabuf_export_sync_file (gint dmabuf_fd, GstZcFenceAccess access)
{
  zc::debug_init ();
  struct dma_buf_export_sync_file arg = {};
  arg.flags = access_flags (access);
  arg.fd = -1;
  int ret = zc::xioctl (dmabuf_fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &arg);
  if (ret < 0) {
    GST_WARNING ("cannot export fences of dma-buf %d: %s", dmabuf_fd,
        g_strerror (-ret));
    return ret;
  }
  return arg.fd;
}

/**
 * gst_zc_dmabuf_import_sync_file:
 * @dmabuf_fd: a dma-buf fd
 * @access: %GST_ZC_FENCE_ACCESS_WRITE to add the fence as a writer (what
 *   an acquire fence is), %GST_ZC_FENCE_ACCESS_READ as a reader
 * @fence_fd: a sync_file fd; stays owned by the caller
 *
 * Adds a sync_file's fences to the dma-buf's reservation object
 * (DMA_BUF_IOCTL_IMPORT_SYNC_FILE, Linux 6.0+), so that implicitly
 * synchronised importers and CPU maps wait for it.
 *
 * Returns: 0 or a negative errno.
 *
 * Since: 0.1
 */
gint
gst_zc_dmabuf_import_sync_file (gint dmabuf_fd, GstZcFenceAccess access,
    gint fence_fd)
{
  zc::debug_init ();
  struct dma_buf_import_sync_file arg = {};
  arg.flags = access_flags (access);
  arg.fd = fence_fd;
  int ret = zc::xioctl (dmabuf_fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &arg);
  if (ret < 0)
    GST_WARNING ("cannot import fence %d into dma-buf %d: %s", fence_fd,
        dmabuf_fd, g_strerror (-ret));
  return ret;
}
