/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Backends without a device of their own: DMA heaps, udmabuf and memfd.
 * The device backends live in zc-backend-zcam.cpp and zc-backend-dumb.cpp.
 */
#include "zc-backend.h"
#include "zc-backend-private.h"
#include "zc-debug.h"
#include "zc-format.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

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
      0 : -EINVAL;
}

namespace {

/* A memfd of @size bytes; @sealing for udmabuf, which needs F_SEAL_SHRINK. */
int
make_memfd (const char *name, size_t size, bool sealing, UniqueFd &out)
{
  UniqueFd fd (memfd_create (name, MFD_CLOEXEC | (sealing ? MFD_ALLOW_SEALING : 0)));
  if (!fd)
    return -errno;
  if (ftruncate (fd.get (), off_t (size)) < 0)
    return -errno;
  if (sealing && fcntl (fd.get (), F_ADD_SEALS, F_SEAL_SHRINK) < 0)
    return -errno;
  out = std::move (fd);
  return 0;
}

class HeapBackend : public Backend
{
public:
  explicit HeapBackend (UniqueFd heap, std::string path) : heap_ (std::move (heap))
  {
    device_ = std::move (path);
  }
  const char *name () const override { return "dma-heap"; }

  int allocate (size_t size, UniqueFd &out) override
  {
    struct dma_heap_allocation_data data = {};
    data.len = page_round (size);
    data.fd_flags = O_RDWR | O_CLOEXEC;
    int ret = xioctl (heap_.get (), DMA_HEAP_IOCTL_ALLOC, &data);
    if (ret < 0)
      return ret;
    out = UniqueFd (int (data.fd));
    return 0;
  }

private:
  UniqueFd heap_;
};

std::unique_ptr<Backend>
open_heap (const char *device, int *err)
{
  std::vector<std::string> candidates;
  if (device && device[0] == '/') {
    candidates.push_back (device);
  } else if (device) {
    candidates.push_back (std::string ("/dev/dma_heap/") + device);
  } else {
    /* The system heap first: it is what a device without IOMMU
     * restrictions imports; then whatever else exists (CMA). */
    candidates.push_back ("/dev/dma_heap/system");
    if (DIR *dir = opendir ("/dev/dma_heap")) {
      while (struct dirent *e = readdir (dir))
        if (e->d_name[0] != '.' && std::string (e->d_name) != "system")
          candidates.push_back (std::string ("/dev/dma_heap/") + e->d_name);
      closedir (dir);
    }
  }
  *err = -ENOENT;
  for (const auto &path : candidates) {
    UniqueFd fd (open (path.c_str (), O_RDWR | O_CLOEXEC));
    if (!fd) {
      *err = -errno;
      GST_DEBUG ("dma-heap %s: %s", path.c_str (), g_strerror (errno));
      continue;
    }
    return std::make_unique<HeapBackend> (std::move (fd), path);
  }
  return nullptr;
}

class UdmabufBackend : public Backend
{
public:
  explicit UdmabufBackend (UniqueFd dev, std::string path) : dev_ (std::move (dev))
  {
    device_ = std::move (path);
  }
  const char *name () const override { return "udmabuf"; }

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
  if (name == "memfd") {
    *err = 0;
    return std::make_unique<MemfdBackend> ();
  }
  *err = -EINVAL;
  return nullptr;
}

} // namespace zc
