/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: internal C++ helpers for file descriptors and dma-buf CPU
 * access. Not installed.
 */
#pragma once

#include <cerrno>
#include <cstdint>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include "zc-unique-fd.h"

namespace zc {

/* Closes an fd whose ownership was handed over as a plain int. */
inline void
close_owned (int fd) noexcept
{
  UniqueFd owned (fd);
}

/* CLOCK_MONOTONIC in ns (the clock of fence and zcam timestamps). */
int64_t monotonic_ns () noexcept;

/* ioctl() retried on EINTR/EAGAIN; returns 0 or -errno. */
int xioctl (int fd, unsigned long request, void *arg) noexcept;

/*
 * poll() one fd for @events with a timeout in ns (< 0: no limit), retrying
 * on EINTR with the remaining time. Returns 0 when ready, -ETIMEDOUT, or
 * -errno.
 */
int poll_fd (int fd, short events, int64_t timeout_ns) noexcept;

/*
 * A DMA_BUF_IOCTL_SYNC bracket: begin() issues SYNC_START for the given
 * access, the destructor issues SYNC_END unless keep() handed the open
 * bracket over to someone else (a GstMemory map that ends in unmap).
 */
class CpuAccess
{
public:
  CpuAccess (int dmabuf_fd, bool read, bool write) noexcept;
  ~CpuAccess ();
  CpuAccess (const CpuAccess &) = delete;
  CpuAccess &operator= (const CpuAccess &) = delete;

  /* 0 or -errno. */
  int begin () noexcept;
  /* Leave the bracket open; a later end_cpu_access() closes it. */
  void keep () noexcept { active_ = false; }

  static int end_cpu_access (int dmabuf_fd, bool read, bool write) noexcept;

private:
  int fd_;
  uint64_t flags_;
  bool active_ = false;
};

/* Names a dma-buf for /sys/kernel/debug/dma_buf/bufinfo; 0 or -errno. */
int dmabuf_set_name (int dmabuf_fd, const char *name) noexcept;

/* Size of the object behind an fd (lseek SEEK_END), or -errno. */
int64_t fd_size (int fd) noexcept;

} // namespace zc
