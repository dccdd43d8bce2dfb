/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "zc-fd.h"

#include <ctime>

#include <linux/dma-buf.h>
#include <poll.h>
#include <sys/ioctl.h>

namespace zc {

int
xioctl (int fd, unsigned long request, void *arg) noexcept
{
  int ret;
  do {
    ret = ::ioctl (fd, request, arg);
  } while (ret == -1 && (errno == EINTR || errno == EAGAIN));
  return ret == -1 ? -errno : 0;
}

int64_t
monotonic_ns () noexcept
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return int64_t (ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int
poll_fd (int fd, short events, int64_t timeout_ns) noexcept
{
  if (fd < 0)
    return -EBADF;

  const int64_t deadline = timeout_ns < 0 ? -1 : monotonic_ns () + timeout_ns;
  for (;;) {
    struct pollfd pfd = { fd, events, 0 };
    struct timespec ts, *tsp = nullptr;
    if (deadline >= 0) {
      int64_t left = deadline - monotonic_ns ();
      if (left < 0)
        left = 0;
      ts.tv_sec = left / 1000000000;
      ts.tv_nsec = left % 1000000000;
      tsp = &ts;
    }
    int ret = ::ppoll (&pfd, 1, tsp, nullptr);
    if (ret < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      return -errno;
    }
    if (ret == 0)
      return -ETIMEDOUT;
    if (pfd.revents & POLLNVAL)
      return -EBADF;
    /* POLLERR/POLLHUP also end the wait: nothing more will happen. */
    return 0;
  }
}

CpuAccess::CpuAccess (int dmabuf_fd, bool read, bool write) noexcept
    : fd_ (dmabuf_fd),
      flags_ ((read ? DMA_BUF_SYNC_READ : 0) | (write ? DMA_BUF_SYNC_WRITE : 0))
{
  if (!flags_)
    flags_ = DMA_BUF_SYNC_READ;
}

CpuAccess::~CpuAccess ()
{
  if (active_) {
    struct dma_buf_sync sync = { flags_ | DMA_BUF_SYNC_END };
    xioctl (fd_, DMA_BUF_IOCTL_SYNC, &sync);
  }
}

int
CpuAccess::begin () noexcept
{
  struct dma_buf_sync sync = { flags_ | DMA_BUF_SYNC_START };
  int ret = xioctl (fd_, DMA_BUF_IOCTL_SYNC, &sync);
  active_ = ret == 0;
  return ret;
}

int
CpuAccess::end_cpu_access (int dmabuf_fd, bool read, bool write) noexcept
{
  uint64_t flags = (read ? DMA_BUF_SYNC_READ : 0) |
      (write ? DMA_BUF_SYNC_WRITE : 0);
  if (!flags)
    flags = DMA_BUF_SYNC_READ;
  struct dma_buf_sync sync = { flags | DMA_BUF_SYNC_END };
  return xioctl (dmabuf_fd, DMA_BUF_IOCTL_SYNC, &sync);
}

int
dmabuf_set_name (int dmabuf_fd, const char *name) noexcept
{
  /* The ioctl takes the pointer itself as its argument. */
  int ret = ::ioctl (dmabuf_fd, DMA_BUF_SET_NAME, name);
  return ret == -1 ? -errno : 0;
}

int64_t
fd_size (int fd) noexcept
{
  off_t size = ::lseek (fd, 0, SEEK_END);
  if (size < 0)
    return -errno;
  ::lseek (fd, 0, SEEK_SET);
  return size;
}

} // namespace zc
