/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "zc-drm-dumb.h"
#include "zc-fd.h"

#include <cerrno>
#include <utility>

#include <drm.h>
#include <drm_mode.h>
#include <sys/mman.h>

namespace zc {

DumbBuffer &
DumbBuffer::operator= (DumbBuffer &&other) noexcept
{
  if (this != &other) {
    reset ();
    fd_ = std::exchange (other.fd_, -1);
    handle_ = std::exchange (other.handle_, 0);
    pitch_ = std::exchange (other.pitch_, 0);
    size_ = std::exchange (other.size_, 0);
    map_ = std::exchange (other.map_, nullptr);
  }
  return *this;
}

int
DumbBuffer::create (int drm_fd, uint32_t width, uint32_t height, uint32_t bpp)
{
  reset ();
  struct drm_mode_create_dumb c = {};
  c.width = width;
  c.height = height;
  c.bpp = bpp;
  int ret = xioctl (drm_fd, DRM_IOCTL_MODE_CREATE_DUMB, &c);
  if (ret < 0)
    return ret;
  fd_ = drm_fd;
  handle_ = c.handle;
  pitch_ = c.pitch;
  size_ = c.size;
  return 0;
}

int
DumbBuffer::map ()
{
  if (map_)
    return 0;
  struct drm_mode_map_dumb m = {};
  m.handle = handle_;
  int ret = xioctl (fd_, DRM_IOCTL_MODE_MAP_DUMB, &m);
  if (ret < 0)
    return ret;
  void *p = ::mmap (nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_,
      off_t (m.offset));
  if (p == MAP_FAILED)
    return -errno;
  map_ = static_cast<uint8_t *> (p);
  return 0;
}

int
DumbBuffer::export_dmabuf () const
{
  struct drm_prime_handle prime = {};
  prime.handle = handle_;
  prime.flags = DRM_CLOEXEC | DRM_RDWR;
  prime.fd = -1;
  int ret = xioctl (fd_, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime);
  return ret < 0 ? ret : prime.fd;
}

void
DumbBuffer::reset () noexcept
{
  if (map_)
    ::munmap (map_, size_);
  if (handle_) {
    struct drm_mode_destroy_dumb d = {};
    d.handle = handle_;
    xioctl (fd_, DRM_IOCTL_MODE_DESTROY_DUMB, &d);
  }
  fd_ = -1;
  handle_ = 0;
  pitch_ = 0;
  size_ = 0;
  map_ = nullptr;
}

} // namespace zc
