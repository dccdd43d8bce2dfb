/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: allocation backends of GstZcAllocator. Not installed.
 */
#pragma once

#include "zc-fd.h"

#include <gst/zerocopy/gstzcformat.h>

#include <cstddef>
#include <memory>
#include <string>

namespace zc {

/*
 * One way of getting frame memory from the kernel. Methods return 0 or a
 * negative errno and are safe to call from several threads.
 */
class Backend
{
public:
  virtual ~Backend () = default;

  /* Backend name as accepted by gst_zc_allocator_new(). */
  virtual const char *name () const = 0;
  /* Device or heap path actually in use ("" when none). */
  const std::string &device () const { return device_; }
  /* Whether allocate() returns dma-bufs (all but memfd). */
  virtual bool is_dmabuf () const { return true; }
  /* The device fd (zcam, DRM), or -1. */
  virtual int device_fd () const { return -1; }
  /*
   * Whether CPU access must be bracketed for reading and writing whatever
   * the map asks for: an exporter that keeps the direction of the first
   * DMA_BUF_IOCTL_SYNC for all later ones (udmabuf) wants the same
   * direction every time.
   */
  virtual bool sync_read_write () const { return false; }

  /* At least @size bytes of linear memory. */
  virtual int allocate (size_t size, UniqueFd &out) = 0;

  /*
   * The layout allocate_layout() will produce for a frame: computed by
   * zc::compute_layout() unless the device imposes its own pitches.
   */
  virtual int negotiate (const GstZcFormatInfo *fi, unsigned width,
      unsigned height, const unsigned align[GST_VIDEO_MAX_PLANES],
      unsigned height_align, GstZcLayout *out);

  /* A buffer for one frame in a layout returned by negotiate(). */
  virtual int allocate_layout (const GstZcLayout &layout, UniqueFd &out)
  {
    return allocate (layout.size, out);
  }

protected:
  std::string device_;
};

/*
 * Opens the backend called @name ("zcam", "dma-heap", "udmabuf", "dumb",
 * "memfd") on @device (nullptr: find one). Returns nullptr with *err set
 * to a negative errno when it is not available here.
 */
std::unique_ptr<Backend>
open_backend (const std::string &name, const char *device, int *err);

} // namespace zc
