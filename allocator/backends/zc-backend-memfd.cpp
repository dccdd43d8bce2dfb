/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memfd: plain shared memory, not a dma-buf; the last resort, and what
 * udmabuf wraps.
 */
#include "zc-backend-private.h"
#include "zc-debug.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_zc_allocator_debug

namespace zc {

namespace {

class MemfdBackend : public Backend
{
public:
  const char *name () const override { return "memfd"; }
  bool is_dmabuf () const override { return false; }

  int allocate (size_t size, UniqueFd &out) override
  {
    return make_memfd ("gstzc-memfd", page_round (size), false, out);
  }
};

} // namespace

std::unique_ptr<Backend>
open_memfd (int *err)
{
  *err = 0;
  return std::make_unique<MemfdBackend> ();
}

int
make_memfd (const char *name, size_t size, bool sealing, UniqueFd &out)
{
  UniqueFd fd (
      memfd_create (name, MFD_CLOEXEC | (sealing ? MFD_ALLOW_SEALING : 0)));
  if (!fd)
    return -errno;
  if (ftruncate (fd.get (), off_t (size)) < 0)
    return -errno;
  if (sealing && fcntl (fd.get (), F_ADD_SEALS, F_SEAL_SHRINK) < 0)
    return -errno;
  out = std::move (fd);
  return 0;
}

} // namespace zc
