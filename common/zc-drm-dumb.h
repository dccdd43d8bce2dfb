/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: zc::DumbBuffer, one DRM dumb buffer (DRM_IOCTL_MODE_*_DUMB)
 * on a DRM fd it does not own: created, optionally mapped and exported
 * through PRIME, destroyed with the object. Used by the allocator's dumb
 * backend, zckmssink's copy buffers and the KMS test tools. Needs only the
 * DRM uapi headers libdrm installs. Internal, not installed.
 */
#pragma once

#include <cstdint>

#include "zc-unique-fd.h"

namespace zc {

class DumbBuffer
{
public:
  DumbBuffer () = default;
  DumbBuffer (DumbBuffer &&other) noexcept { *this = std::move (other); }
  DumbBuffer &operator= (DumbBuffer &&other) noexcept;
  DumbBuffer (const DumbBuffer &) = delete;
  DumbBuffer &operator= (const DumbBuffer &) = delete;
  ~DumbBuffer () { reset (); }

  /*
   * Creates a @width x @height buffer of @bpp bits per pixel on @drm_fd
   * (which must outlive it); 0 or -errno. The driver picks pitch and size.
   */
  int create (int drm_fd, uint32_t width, uint32_t height, uint32_t bpp);
  /* Maps the whole buffer read-write; 0 or -errno. */
  int map ();
  /* A new close-on-exec read-write dma-buf of the buffer, or -errno. */
  int export_dmabuf () const;
  /* Unmaps and destroys the buffer (a dma-buf exported from it lives on). */
  void reset () noexcept;

  int drm_fd () const { return fd_; }
  uint32_t handle () const { return handle_; }
  uint32_t pitch () const { return pitch_; }
  uint64_t size () const { return size_; }
  uint8_t *data () const { return map_; }

private:
  int fd_ = -1;
  uint32_t handle_ = 0;
  uint32_t pitch_ = 0;
  uint64_t size_ = 0;
  uint8_t *map_ = nullptr;
};

} // namespace zc
