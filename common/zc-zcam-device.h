/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: zc::ZcamDevice, one open /dev/zcamN file (the uapi in
 * kmod/include/uapi/zcam.h), used by zcamsrc and by the allocator's zcam
 * backend. Every call returns 0 or -errno. Internal, not installed.
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <zcam.h>

#include "zc-unique-fd.h"

namespace zc {

/* The zcam device nodes present, sorted by number (/dev/zcam0 first). */
std::vector<std::string> zcam_list_devices ();

class ZcamDevice
{
public:
  /*
   * Opens @path read-write, non-blocking (read() of events never blocks),
   * and checks that it speaks our uapi version (QUERYCAP): -EPROTO when
   * it speaks another one. On failure the device stays as it was.
   */
  int open (const std::string &path);
  /*
   * Replaces the open file by a fresh one of the same device: a file keeps
   * its format while buffers of it exist, a new file starts over. Buffers
   * outlive the file they came from.
   */
  int reopen () { return open (path_); }
  void close () { fd_.reset (); }
  bool is_open () const { return fd_.valid (); }
  int fd () const { return fd_.get (); }
  const std::string &path () const { return path_; }
  const struct zcam_caps &caps () const { return caps_; }
  /* Whether the device captures @fourcc. */
  bool supports (uint32_t fourcc) const;

  /* S_FMT (or TRY with ZCAM_FMT_TRY in fmt.flags); fills in the layout. */
  int set_format (struct zcam_format &fmt);
  /* Returns a new close-on-exec dma-buf fd in @fd and its size. */
  int create_buffer (UniqueFd &fd, uint64_t &size);
  /* @in_fence may be -1; the out-fence is returned in @out_fence. */
  int queue (int buf_fd, int in_fence, UniqueFd &out_fence, uint64_t &sequence,
      uint32_t &index);
  int stream_on (uint32_t fps_n, uint32_t fps_d);
  int stream_off ();
  /* One completion event; -EAGAIN when none is pending. */
  int read_event (struct zcam_event &ev);

private:
  UniqueFd fd_;
  std::string path_;
  struct zcam_caps caps_ = {};
};

} // namespace zc
