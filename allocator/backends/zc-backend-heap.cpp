/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DMA heaps (/dev/dma_heap/NAME): DMA_HEAP_IOCTL_ALLOC returns a dma-buf.
 */
#include "zc-backend-private.h"
#include "zc-debug.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/dma-heap.h>

#include <vector>

#define GST_CAT_DEFAULT gst_zc_allocator_debug

namespace zc {

namespace {

class HeapBackend : public Backend
{
public:
  explicit HeapBackend (UniqueFd heap, std::string path)
      : heap_ (std::move (heap))
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

} // namespace

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

} // namespace zc
