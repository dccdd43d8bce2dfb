/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "zc-wakeup.h"

#include <cerrno>
#include <cstdint>

#include <sys/eventfd.h>
#include <unistd.h>

namespace zc {

int
Wakeup::open () noexcept
{
  UniqueFd fd (::eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd)
    return -errno;
  fd_ = std::move (fd);
  return 0;
}

int
Wakeup::signal () const noexcept
{
  if (!fd_)
    return 0;
  const uint64_t one = 1;
  /* EAGAIN only when the counter is saturated: it is readable anyway. */
  if (::write (fd_.get (), &one, sizeof (one)) < 0 && errno != EAGAIN)
    return -errno;
  return 0;
}

bool
Wakeup::clear () const noexcept
{
  if (!fd_)
    return false;
  uint64_t v;
  /* One read resets an eventfd's counter to 0. */
  return ::read (fd_.get (), &v, sizeof (v)) == sizeof (v);
}

} // namespace zc
