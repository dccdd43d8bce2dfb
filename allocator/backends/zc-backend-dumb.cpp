/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DRM dumb buffers exported through PRIME: works on any KMS driver and on
 * vgem. Dumb buffers are created on the primary node (render nodes do not
 * allow DRM_IOCTL_MODE_CREATE_DUMB); no DRM master is needed.
 */
#include "zc-backend-private.h"
#include "zc-debug.h"
#include "zc-format.h"
#include "zc-drm-dumb.h"

#define GST_CAT_DEFAULT gst_zc_allocator_debug

#ifdef HAVE_LIBDRM

#include <drm.h>
#include <drm_mode.h>
#include <fcntl.h>

#include <vector>

namespace zc {

namespace {

class DumbBackend : public Backend
{
public:
  DumbBackend (UniqueFd drm, std::string path) : drm_ (std::move (drm))
  {
    device_ = std::move (path);
  }
  const char *name () const override { return "dumb"; }
  int device_fd () const override { return drm_.get (); }

  int allocate (size_t size, UniqueFd &out) override
  {
    /* A 4 KiB-pitch "image" tall enough for @size bytes. */
    const guint64 pitch = 4096;
    return create_and_export (1024, guint32 ((size + pitch - 1) / pitch), 32,
        size, out);
  }

  int negotiate (const GstZcFormatInfo *fi, unsigned width, unsigned height,
      const unsigned align[GST_VIDEO_MAX_PLANES], unsigned height_align,
      GstZcLayout *out) override
  {
    /* Ask the driver which pitch it gives plane 0 of this frame, then lay
     * the planes out with at least that pitch: scanout drivers have pitch
     * constraints of their own that importers will check. */
    guint32 bpp = fi->block_bytes[0] * 8 / fi->block_width[0];
    guint32 w = (width + fi->block_width[0] - 1) / fi->block_width[0] *
        fi->block_width[0];
    DumbBuffer probe;
    int ret = probe.create (drm_.get (), w, height, bpp);
    if (ret < 0)
      return ret;
    guint32 pitch = probe.pitch ();
    if (!compute_layout (fi, width, height, pitch, align, height_align, out))
      return -EINVAL;
    return 0;
  }

  int allocate_layout (const GstZcLayout &layout, UniqueFd &out) override
  {
    /* One byte per "pixel" so that the driver's pitch is our stride (or
     * larger, in which case the buffer is only bigger than needed). */
    guint32 pitch = layout.stride[0];
    return create_and_export (pitch,
        guint32 ((layout.size + pitch - 1) / pitch), 8, layout.size, out);
  }

private:
  int create_and_export (guint32 w, guint32 h, guint32 bpp, size_t need,
      UniqueFd &out)
  {
    DumbBuffer b;
    int ret = b.create (drm_.get (), w, MAX (h, 1u), bpp);
    if (ret < 0)
      return ret;
    if (b.size () < need)
      return -ENOMEM;
    /* The dma-buf keeps the object alive after the handle is gone. */
    ret = b.export_dmabuf ();
    if (ret < 0)
      return ret;
    out = UniqueFd (ret);
    return 0;
  }

  UniqueFd drm_;
};

std::string
driver_name (int fd)
{
  char name[64] = {};
  struct drm_version v = {};
  v.name_len = sizeof (name) - 1;
  v.name = name;
  if (xioctl (fd, DRM_IOCTL_VERSION, &v) < 0)
    return {};
  return name;
}

/* Opens @path and checks that it can make a dumb buffer. */
int
try_card (const std::string &path, const char *want_driver,
    std::unique_ptr<Backend> &out)
{
  UniqueFd fd (open (path.c_str (), O_RDWR | O_CLOEXEC));
  if (!fd)
    return -errno;
  std::string driver = driver_name (fd.get ());
  if (want_driver && driver != want_driver)
    return -ENODEV;

  /* DRM_CAP_DUMB_BUFFER is only answered by KMS drivers, and vgem has
   * dumb buffers without KMS: make a small one instead. */
  DumbBuffer probe;
  int ret = probe.create (fd.get (), 64, 64, 32);
  if (ret < 0) {
    GST_DEBUG ("dumb: %s (%s) has no dumb buffers: %s", path.c_str (),
        driver.c_str (), g_strerror (-ret));
    return ret;
  }
  probe.reset ();
  /* Opening a card nobody controls makes this fd DRM master, and it would
   * stay so for the allocator's life: a display element (zckmssink, kmssink)
   * opened later could then not commit. Dumb buffers need no master. */
  if (xioctl (fd.get (), DRM_IOCTL_DROP_MASTER, nullptr) == 0)
    GST_DEBUG ("dumb: dropped the DRM master %s gave us", path.c_str ());
  GST_DEBUG ("dumb: using %s (%s)", path.c_str (), driver.c_str ());
  out = std::make_unique<DumbBackend> (std::move (fd), path);
  return 0;
}

} // namespace

std::unique_ptr<Backend>
open_dumb (const char *device, int *err)
{
  std::unique_ptr<Backend> backend;
  /* A path is used as is; anything else names the driver to look for
   * ("vgem", "vkms"). */
  if (device && device[0] == '/') {
    *err = try_card (device, nullptr, backend);
    return backend;
  }
  *err = -ENOENT;
  for (int i = 0; i < 64; i++) {
    std::string path = "/dev/dri/card" + std::to_string (i);
    int ret = try_card (path, device, backend);
    if (ret == 0) {
      *err = 0;
      return backend;
    }
    if (ret != -ENOENT)
      *err = ret;
  }
  GST_DEBUG ("dumb: no usable DRM card%s%s", device ? " with driver " : "",
      device ? device : "");
  return nullptr;
}

} // namespace zc

#else /* !HAVE_LIBDRM */

namespace zc {

std::unique_ptr<Backend>
open_dumb (const char *, int *err)
{
  GST_DEBUG ("dumb: built without libdrm headers");
  *err = -ENOTSUP;
  return nullptr;
}

} // namespace zc

#endif
