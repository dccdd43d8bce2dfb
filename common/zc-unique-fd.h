/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: zc::UniqueFd, header-only so that the library and the
 * plugin's elements share one definition. Not installed.
 */
#pragma once

#include <cerrno>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace zc {

/*
 * Owns one file descriptor. Move-only; closes on destruction. Every fd the
 * library creates lives in one of these until it is handed over with
 * release(), so no error path can leak one.
 */
class UniqueFd
{
public:
  UniqueFd () noexcept = default;
  explicit UniqueFd (int fd) noexcept : fd_ (fd) {}
  UniqueFd (UniqueFd &&other) noexcept : fd_ (other.release ()) {}
  UniqueFd &operator= (UniqueFd &&other) noexcept
  {
    reset (other.release ());
    return *this;
  }
  UniqueFd (const UniqueFd &) = delete;
  UniqueFd &operator= (const UniqueFd &) = delete;
  ~UniqueFd () { reset (); }

  int get () const noexcept { return fd_; }
  bool valid () const noexcept { return fd_ >= 0; }
  explicit operator bool () const noexcept { return valid (); }

  /* Gives up ownership; the caller must close the returned fd. */
  [[nodiscard]] int release () noexcept { return std::exchange (fd_, -1); }

  void reset (int fd = -1) noexcept
  {
    int old = std::exchange (fd_, fd);
    if (old >= 0)
      ::close (old);
  }

  /* A close-on-exec duplicate, or an invalid UniqueFd with errno set. */
  UniqueFd dup () const noexcept
  {
    if (fd_ < 0) {
      errno = EBADF;
      return UniqueFd ();
    }
    return UniqueFd (::fcntl (fd_, F_DUPFD_CLOEXEC, 0));
  }

private:
  int fd_ = -1;
};

} // namespace zc
