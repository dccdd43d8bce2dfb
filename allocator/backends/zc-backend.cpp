/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The backend registry: open_backend() by name, and what every backend
 * shares. One backend per file beside this one.
 */
#include "zc-backend.h"
#include "zc-backend-private.h"
#include "zc-debug.h"
#include "zc-format.h"

#include <unistd.h>

#define GST_CAT_DEFAULT gst_zc_allocator_debug

namespace zc {

size_t
page_round (size_t size)
{
  static const size_t page = size_t (sysconf (_SC_PAGESIZE));
  return (size + page - 1) / page * page;
}

int
Backend::negotiate (const GstZcFormatInfo *fi, unsigned width, unsigned height,
    const unsigned align[GST_VIDEO_MAX_PLANES], unsigned height_align,
    GstZcLayout *out)
{
  return compute_layout (fi, width, height, 0, align, height_align, out) ?
      0 :
      -EINVAL;
}

std::unique_ptr<Backend>
open_backend (const std::string &name, const char *device, int *err)
{
  *err = -ENOENT;
  if (name == "zcam")
    return open_zcam (device, err);
  if (name == "dma-heap")
    return open_heap (device, err);
  if (name == "udmabuf")
    return open_udmabuf (device, err);
  if (name == "dumb")
    return open_dumb (device, err);
  if (name == "memfd")
    return open_memfd (err);
  *err = -EINVAL;
  return nullptr;
}

} // namespace zc
