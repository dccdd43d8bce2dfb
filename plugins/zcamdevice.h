/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcamsrc: a thin C++ wrapper around one open /dev/zcamN file (the zcam
 * uapi in kmod/include/uapi/zcam.h). Every call returns 0 or -errno.
 */
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <zcam.h>

typedef struct _GstCaps GstCaps;

#include "zc-unique-fd.h"

namespace zcamsrc {

using UniqueFd = zc::UniqueFd;

/* The zcam device nodes present, sorted by number (/dev/zcam0 first). */
std::vector<std::string> list_devices ();

/* The caps zcamsrc offers for a device with capabilities @c (transfer
 * full); defined in gstzcamsrc.cpp, shared with the device provider. */
GstCaps *device_caps (const struct zcam_caps &c);

class Device
{
public:
  /* Opens @path read-write, non-blocking, and queries its capabilities. */
  int open (const std::string &path);
  void close () { fd_.reset (); }
  bool is_open () const { return fd_.valid (); }
  int fd () const { return fd_.get (); }
  const struct zcam_caps &caps () const { return caps_; }

  int set_format (struct zcam_format &fmt);
  /* Returns a new dma-buf fd in @fd. */
  int create_buffer (UniqueFd &fd, uint64_t &size);
  /* @in_fence may be -1; the out-fence is returned in @out_fence. */
  int queue (int buf_fd, int in_fence, UniqueFd &out_fence,
      uint64_t &sequence, uint32_t &index);
  int stream_on (uint32_t fps_n, uint32_t fps_d);
  int stream_off ();
  /* One completion event; -EAGAIN when none is pending. */
  int read_event (struct zcam_event &ev);

private:
  UniqueFd fd_;
  struct zcam_caps caps_ = {};
};

} // namespace zcamsrc
