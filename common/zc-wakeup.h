/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: zc::Wakeup, an eventfd that ends a poll() from another
 * thread. Every thread here that sleeps in poll() (the pool's fence
 * watcher, zcamsrc's streaming loop, zcfence's fence wait, zckmssink's
 * display thread) polls one of these beside the fds it waits for, so that
 * a flush, an unlock or new work wakes it at once and nothing sleeps on a
 * timer. Internal, not installed.
 */
#pragma once

#include "zc-unique-fd.h"

namespace zc {

class Wakeup
{
public:
  /* Creates the eventfd (non-blocking, close-on-exec); 0 or -errno. */
  int open () noexcept;
  void close () noexcept { fd_.reset (); }
  bool valid () const noexcept { return fd_.valid (); }
  explicit operator bool () const noexcept { return valid (); }

  /* The fd to poll for POLLIN; -1 before open(). */
  int fd () const noexcept { return fd_.get (); }

  /* Makes fd() readable until clear(). Safe from any thread; a no-op
   * before open(). 0 or -errno. */
  int signal () const noexcept;

  /* Consumes every pending signal; returns whether there was one. */
  bool clear () const noexcept;

private:
  UniqueFd fd_;
};

} // namespace zc
