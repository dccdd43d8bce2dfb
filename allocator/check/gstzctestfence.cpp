/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstzctestfence
 * @title: GstZcTestFence
 * @short_description: kernel fences a test signals, for GstHarness tests
 *
 * A #GstZcTestFence is a real `dma_fence` behind a sync_file fd, pending
 * until the test calls gst_zc_test_fence_signal(). Put it on a buffer as
 * the acquire fence (gst_zc_test_fence_attach_to_buffer()), push the buffer
 * into the element under test with a #GstHarness, and check what the
 * element does before and after the fence signals, or when it signals with
 * an error.
 *
 * The fence comes from what the running kernel offers ("sources"):
 *
 * - `sw_sync`: the kernel's software timeline
 *   (`/sys/kernel/debug/sync/sw_sync`: CONFIG_SW_SYNC, debugfs mounted,
 *   root). Signals with or without an error; an error fence's status is
 *   always -ENOENT (the kernel's choice: sw_sync signals the pending
 *   fences of a timeline with -ENOENT when the timeline is closed).
 * - `vgem`: a fence vgem attaches to one of its buffers
 *   (DRM_IOCTL_VGEM_FENCE_ATTACH), exported as a sync_file with
 *   DMA_BUF_IOCTL_EXPORT_SYNC_FILE (Linux 6.0+). Signals only without an
 *   error (vgem has no way to set one), and vgem signals it by itself 10 s
 *   after it was made if the test did not.
 *
 * Debian's stock kernel has vgem but not sw_sync.
 *
 * This is libgstzerocopy-check-1.0 (`pkg-config gstzerocopy-check-1.0`), a
 * library for tests only: applications do not link it.
 */
#include <gst/zerocopy/check/gstzctestfence.h>

#include "zc-fd.h"
#include "zc-unique-fd.h"

#include <cerrno>
#include <cstring>
#include <string>

#include <gio/gio.h>
#include <sys/ioctl.h>

#ifdef HAVE_LIBDRM
#include "zc-drm-dumb.h"
#include "zc-vgem-uapi.h"
#endif

namespace {

/* sw_sync's uapi (drivers/dma-buf/sw_sync.c); no installed header has it. */
struct zc_sw_sync_create_fence_data
{
  guint32 value;
  char name[32];
  gint32 fence;
};
#define ZC_SW_SYNC_IOC_CREATE_FENCE \
  _IOWR ('W', 0, struct zc_sw_sync_create_fence_data)
#define ZC_SW_SYNC_IOC_INC _IOW ('W', 1, guint32)
constexpr const char *SW_SYNC_PATH = "/sys/kernel/debug/sync/sw_sync";

} // namespace

struct _GstZcTestFence
{
  std::string source;
  zc::UniqueFd sync_file;
  bool signalled = false;
  /* sw_sync: the timeline (one per fence; closing it fails the fence). */
  zc::UniqueFd timeline;
#ifdef HAVE_LIBDRM
  /* vgem: the card, the buffer the fence is attached to, the fence's id. */
  zc::UniqueFd vgem;
  zc::DumbBuffer bo;
  guint32 vgem_fence = 0;
#endif
};

static gboolean
new_sw_sync (GstZcTestFence *f, GError **error)
{
  zc::UniqueFd timeline (open (SW_SYNC_PATH, O_RDWR | O_CLOEXEC));
  if (!timeline) {
    int err = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
        "sw_sync: cannot open %s: %s (needs a kernel with CONFIG_SW_SYNC, "
        "debugfs mounted on /sys/kernel/debug and root)",
        SW_SYNC_PATH, g_strerror (err));
    return FALSE;
  }
  zc_sw_sync_create_fence_data data = {};
  data.value = 1;
  g_strlcpy (data.name, "gstzc-test", sizeof (data.name));
  int ret = zc::xioctl (timeline.get (), ZC_SW_SYNC_IOC_CREATE_FENCE, &data);
  if (ret < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
        "sw_sync: SW_SYNC_IOC_CREATE_FENCE: %s", g_strerror (-ret));
    return FALSE;
  }
  f->sync_file.reset (data.fence);
  f->timeline = std::move (timeline);
  return TRUE;
}

#ifdef HAVE_LIBDRM
/* The first /dev/dri/cardN whose driver is vgem (DRM_IOCTL_VERSION). */
static zc::UniqueFd
open_vgem (void)
{
  for (int i = 0; i < 16; i++) {
    g_autofree gchar *path = g_strdup_printf ("/dev/dri/card%d", i);
    zc::UniqueFd fd (open (path, O_RDWR | O_CLOEXEC));
    if (!fd)
      continue;
    char name[16] = {};
    struct drm_version v = {};
    v.name_len = sizeof (name) - 1;
    v.name = name;
    if (zc::xioctl (fd.get (), DRM_IOCTL_VERSION, &v) == 0 &&
        strcmp (name, "vgem") == 0)
      return fd;
  }
  return zc::UniqueFd ();
}

static gboolean
new_vgem (GstZcTestFence *f, GError **error)
{
  zc::UniqueFd card = open_vgem ();
  if (!card) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "vgem: no /dev/dri/cardN is driven by vgem (modprobe vgem, and run "
        "as a user who may open it)");
    return FALSE;
  }
  int ret = f->bo.create (card.get (), 64, 1, 32);
  if (ret < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
        "vgem: cannot create a buffer: %s", g_strerror (-ret));
    return FALSE;
  }
  struct zc_vgem_fence_attach attach = {};
  attach.handle = f->bo.handle ();
  attach.flags = ZC_VGEM_FENCE_WRITE;
  ret = zc::xioctl (card.get (), ZC_IOCTL_VGEM_FENCE_ATTACH, &attach);
  if (ret < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
        "vgem: DRM_IOCTL_VGEM_FENCE_ATTACH: %s", g_strerror (-ret));
    return FALSE;
  }
  f->vgem_fence = attach.out_fence;
  f->vgem = std::move (card);
  /* The fence is in the buffer's reservation object as a writer's fence;
   * a reader's sync_file of the dma-buf is that fence alone. */
  zc::UniqueFd dmabuf (f->bo.export_dmabuf ());
  int fence = dmabuf ?
      gst_zc_dmabuf_export_sync_file (dmabuf.get (), GST_ZC_FENCE_ACCESS_READ) :
      -errno;
  if (fence < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-fence),
        "vgem: cannot export the fence as a sync_file "
        "(DMA_BUF_IOCTL_EXPORT_SYNC_FILE needs Linux 6.0): %s",
        g_strerror (-fence));
    return FALSE;
  }
  f->sync_file.reset (fence);
  return TRUE;
}
#endif

static void
signal_vgem (GstZcTestFence *f)
{
#ifdef HAVE_LIBDRM
  struct zc_vgem_fence_signal s = {};
  s.fence = f->vgem_fence;
  /* -ETIMEDOUT: vgem already signalled it (10 s after attaching). */
  zc::xioctl (f->vgem.get (), ZC_IOCTL_VGEM_FENCE_SIGNAL, &s);
#else
  (void) f;
#endif
}

/**
 * gst_zc_test_fence_new:
 * @source: (nullable): "sw_sync", "vgem", or %NULL / "auto" for the first
 *   of those that works. The environment variable
 *   `GST_ZC_TEST_FENCE_SOURCE` replaces "auto" when it is set.
 * @error: where to say why no fence could be made
 *
 * Makes one pending fence. When the kernel offers no source, returns %NULL
 * with @error in the %G_IO_ERROR domain saying what is missing; a test then
 * skips (exit code 77 under Meson) rather than fails.
 *
 * Returns: (transfer full) (nullable): the fence, or %NULL with @error set.
 *
 * Since: 0.1
 */
GstZcTestFence *
gst_zc_test_fence_new (const gchar *source, GError **error)
{
  const gchar *env = g_getenv ("GST_ZC_TEST_FENCE_SOURCE");
  if ((!source || strcmp (source, "auto") == 0) && env && *env)
    source = env;
  bool any = !source || strcmp (source, "auto") == 0;
  bool sw_sync = any || strcmp (source, "sw_sync") == 0;
  bool vgem = any || strcmp (source, "vgem") == 0;
  if (!sw_sync && !vgem) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "unknown fence source \"%s\": use \"sw_sync\", \"vgem\" or \"auto\"",
        source);
    return NULL;
  }

  GstZcTestFence *f = new GstZcTestFence;
  g_autoptr (GError) sw_sync_error = NULL;
  if (sw_sync && new_sw_sync (f, &sw_sync_error)) {
    f->source = "sw_sync";
    return f;
  }
  if (!vgem) {
    g_propagate_error (error, g_steal_pointer (&sw_sync_error));
    delete f;
    return NULL;
  }
#ifdef HAVE_LIBDRM
  g_autoptr (GError) vgem_error = NULL;
  if (new_vgem (f, &vgem_error)) {
    f->source = "vgem";
    return f;
  }
#else
  g_autoptr (GError)
      vgem_error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
          "vgem: libgstzerocopy-check-1.0 was built without the DRM headers");
#endif
  delete f;
  if (!sw_sync) {
    g_propagate_error (error, g_steal_pointer (&vgem_error));
    return NULL;
  }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
      "no fence source in this kernel: %s; %s", sw_sync_error->message,
      vgem_error->message);
  return NULL;
}

/**
 * gst_zc_test_fence_free:
 * @fence: (transfer full): a #GstZcTestFence
 *
 * Signals the fence (without an error) if the test did not, so that nothing
 * waits on it, then frees it. Copies of its fd made with
 * gst_zc_test_fence_dup_fd() stay valid (and signalled).
 *
 * Since: 0.1
 */
void
gst_zc_test_fence_free (GstZcTestFence *fence)
{
  if (!fence)
    return;
  if (!fence->signalled)
    gst_zc_test_fence_signal (fence, FALSE, NULL);
  delete fence;
}

/**
 * gst_zc_test_fence_get_source:
 * @fence: a #GstZcTestFence
 *
 * Returns: (transfer none): "sw_sync" or "vgem".
 *
 * Since: 0.1
 */
const gchar *
gst_zc_test_fence_get_source (GstZcTestFence *fence)
{
  g_return_val_if_fail (fence != NULL, NULL);
  return fence->source.c_str ();
}

/**
 * gst_zc_test_fence_get_fd:
 * @fence: a #GstZcTestFence
 *
 * Returns: the sync_file fd, owned by @fence (do not close it).
 *
 * Since: 0.1
 */
gint
gst_zc_test_fence_get_fd (GstZcTestFence *fence)
{
  g_return_val_if_fail (fence != NULL, -1);
  return fence->sync_file.get ();
}

/**
 * gst_zc_test_fence_dup_fd:
 * @fence: a #GstZcTestFence
 *
 * Returns: a new sync_file fd of the same fence, which the caller owns
 *   (hand it to gst_zc_fence_meta_add_acquire_fence() or close it), or a
 *   negative errno.
 *
 * Since: 0.1
 */
gint
gst_zc_test_fence_dup_fd (GstZcTestFence *fence)
{
  g_return_val_if_fail (fence != NULL, -EINVAL);
  return gst_zc_sync_file_dup (fence->sync_file.get ());
}

/**
 * gst_zc_test_fence_can_signal_error:
 * @fence: a #GstZcTestFence
 *
 * Returns: whether gst_zc_test_fence_signal() can signal this fence with
 *   an error (%TRUE for sw_sync, %FALSE for vgem).
 *
 * Since: 0.1
 */
gboolean
gst_zc_test_fence_can_signal_error (GstZcTestFence *fence)
{
  g_return_val_if_fail (fence != NULL, FALSE);
  return fence->source == "sw_sync";
}

/**
 * gst_zc_test_fence_signal:
 * @fence: a #GstZcTestFence
 * @with_error: signal the fence with an error (the frame is corrupt; its
 *   sync_file status becomes -ENOENT)
 * @error: where to say why it could not be done
 *
 * Signals the fence. Waiters wake up; gst_zc_sync_file_get_status() on its
 * fd then reports 1, or -ENOENT when @with_error.
 *
 * Returns: %TRUE when the fence signalled. %FALSE with %G_IO_ERROR_NOT_SUPPORTED
 *   when @with_error was asked of a source that cannot do it (vgem; see
 *   gst_zc_test_fence_can_signal_error(): the fence stays pending), with
 *   %G_IO_ERROR_FAILED when it was signalled already.
 *
 * Since: 0.1
 */
gboolean
gst_zc_test_fence_signal (GstZcTestFence *fence, gboolean with_error,
    GError **error)
{
  g_return_val_if_fail (fence != NULL, FALSE);
  if (fence->signalled) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "the %s fence was signalled already", fence->source.c_str ());
    return FALSE;
  }
  if (fence->source == "sw_sync") {
    if (with_error) {
      /* sw_sync fails a timeline's pending fences with -ENOENT when the
       * timeline is closed; there is no ioctl to set an error. */
      fence->timeline.reset ();
    } else {
      guint32 inc = 1;
      int ret = zc::xioctl (fence->timeline.get (), ZC_SW_SYNC_IOC_INC, &inc);
      if (ret < 0) {
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
            "sw_sync: SW_SYNC_IOC_INC: %s", g_strerror (-ret));
        return FALSE;
      }
    }
  } else {
    if (with_error) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
          "a vgem fence cannot signal with an error (vgem has no ioctl for "
          "it); the sw_sync source can (CONFIG_SW_SYNC)");
      return FALSE;
    }
    signal_vgem (fence);
  }
  fence->signalled = true;
  return TRUE;
}

/**
 * gst_zc_test_fence_attach_to_buffer:
 * @fence: a #GstZcTestFence
 * @buffer: a #GstBuffer; writable unless it has a #GstZcFenceMeta already
 *
 * Adds a duplicate of the fence's fd to @buffer as its acquire fence (in a
 * #GstZcFenceMeta, added when there is none; merged with an acquire fence
 * already there).
 *
 * Returns: %TRUE on success.
 *
 * Since: 0.1
 */
gboolean
gst_zc_test_fence_attach_to_buffer (GstZcTestFence *fence, GstBuffer *buffer)
{
  g_return_val_if_fail (fence != NULL, FALSE);
  g_return_val_if_fail (GST_IS_BUFFER (buffer), FALSE);
  GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buffer);
  if (!meta) {
    g_return_val_if_fail (gst_buffer_is_writable (buffer), FALSE);
    meta = gst_zc_buffer_add_fence_meta (buffer);
  }
  int fd = gst_zc_test_fence_dup_fd (fence);
  if (fd < 0)
    return FALSE;
  return gst_zc_fence_meta_add_acquire_fence (meta, fd);
}
