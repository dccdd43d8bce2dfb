/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * udmabuf: a sealed memfd turned into a dma-buf by /dev/udmabuf.
 */
#include "zc-backend-private.h"
#include "zc-debug.h"

#include <fcntl.h>
#include <linux/udmabuf.h>
#include <sys/ioctl.h>

#define GST_CAT_DEFAULT gst_zc_allocator_debug

namespace zc {

namespace {

class UdmabufBackend : public Backend
{
public:
  explicit UdmabufBackend (UniqueFd dev, std::string path)
      : dev_ (std::move (dev))
  {
    device_ = std::move (path);
  }
  const char *name () const override { return "udmabuf"; }
  /* udmabuf (6.1) maps its pages for the CPU once, in the direction of the
   * first DMA_BUF_IOCTL_SYNC, and syncs that mapping in the direction of
   * each later one: a read after a write is a sync against the mapping's
   * direction, which CONFIG_DMA_API_DEBUG reports as a kernel warning.
   * Always read-write: one direction, valid for every access. */
  bool sync_read_write () const override { return true; }

  int allocate (size_t size, UniqueFd &out) override
  {
    size = page_round (size);
    UniqueFd memfd;
    int ret = make_memfd ("gstzc-udmabuf", size, true, memfd);
    if (ret < 0)
      return ret;
    struct udmabuf_create create = {};
    create.memfd = guint32 (memfd.get ());
    create.flags = UDMABUF_FLAGS_CLOEXEC;
    create.offset = 0;
    create.size = size;
    /* UDMABUF_CREATE returns the dma-buf fd; the memfd can go, the
     * dma-buf holds its pages. */
    int fd = ioctl (dev_.get (), UDMABUF_CREATE, &create);
    if (fd < 0)
      return -errno;
    out = UniqueFd (fd);
    return 0;
  }

private:
  UniqueFd dev_;
};

} // namespace

std::unique_ptr<Backend>
open_udmabuf (const char *device, int *err)
{
  const char *path = device ? device : "/dev/udmabuf";
  UniqueFd fd (open (path, O_RDWR | O_CLOEXEC));
  if (!fd) {
    *err = -errno;
    GST_DEBUG ("udmabuf %s: %s", path, g_strerror (errno));
    return nullptr;
  }
  return std::make_unique<UdmabufBackend> (std::move (fd), path);
}

} // namespace zc
