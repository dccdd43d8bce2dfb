/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vgem as a fence source for the VM tests: import a dma-buf, attach a
 * fence to its reservation object, signal it from userspace.
 */
#pragma once

#include "zc-check.h"

#include "zc-vgem-uapi.h"

#include <sys/ioctl.h>

/* Exits with 77 outside the test VM (no DRM at all); inside it, a missing
 * vgem is a failure. */
static inline void
zc_test_require_vm (void)
{
  if (!g_file_test ("/dev/dri", G_FILE_TEST_IS_DIR)) {
    g_print ("no /dev/dri: not in the test VM, skipping\n");
    exit (77);
  }
}

struct ZcVgem
{
  int fd = -1;
  std::string path;

  ZcVgem ()
  {
    path = zc_test_find_card ("vgem");
    fail_if (path.empty (), "vgem is not loaded");
    fd = open (path.c_str (), O_RDWR | O_CLOEXEC);
    fail_unless (fd >= 0);
  }
  ~ZcVgem () { close (fd); }

  guint32 import (int dmabuf_fd)
  {
    struct drm_prime_handle p = {};
    p.fd = dmabuf_fd;
    fail_unless (ioctl (fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p) == 0,
        "PRIME import: %s", g_strerror (errno));
    return p.handle;
  }

  void close_handle (guint32 handle)
  {
    struct drm_gem_close c = {};
    c.handle = handle;
    ioctl (fd, DRM_IOCTL_GEM_CLOSE, &c);
  }

  /* Adds an unsignalled fence to the buffer's reservation object (WRITE
   * usage when @write, else READ); returns its id for signal(). */
  guint32 attach (guint32 handle, bool write)
  {
    struct zc_vgem_fence_attach a = {};
    a.handle = handle;
    a.flags = write ? ZC_VGEM_FENCE_WRITE : 0;
    fail_unless (ioctl (fd, ZC_IOCTL_VGEM_FENCE_ATTACH, &a) == 0,
        "VGEM_FENCE_ATTACH: %s", g_strerror (errno));
    return a.out_fence;
  }

  void signal (guint32 fence)
  {
    struct zc_vgem_fence_signal s = {};
    s.fence = fence;
    fail_unless (ioctl (fd, ZC_IOCTL_VGEM_FENCE_SIGNAL, &s) == 0,
        "VGEM_FENCE_SIGNAL: %s", g_strerror (errno));
  }
};

/* A dma-buf from the dumb backend on vgem with one pending vgem fence,
 * exported as a sync_file: a real, unsignalled fence. */
struct ZcVgemFence
{
  ZcVgem &vgem;
  GstMemory *mem = nullptr;
  guint32 handle = 0;
  guint32 fence = 0;
  bool signalled = false;

  ZcVgemFence (ZcVgem &v, GstAllocator *alloc) : vgem (v)
  {
    mem = gst_allocator_alloc (alloc, 4096, NULL);
    fail_unless (mem != NULL);
    handle = vgem.import (gst_dmabuf_memory_get_fd (mem));
    fence = vgem.attach (handle, true);
  }
  ~ZcVgemFence ()
  {
    if (!signalled)
      signal ();
    vgem.close_handle (handle);
    gst_memory_unref (mem);
  }
  /* A new sync_file fd for the fence (the caller owns it). */
  int sync_file ()
  {
    int fd = gst_zc_dmabuf_export_sync_file (gst_dmabuf_memory_get_fd (mem),
        GST_ZC_FENCE_ACCESS_READ);
    fail_unless (fd >= 0, "export sync_file: %s", g_strerror (-fd));
    return fd;
  }
  void signal ()
  {
    vgem.signal (fence);
    signalled = true;
  }
};

static inline GstAllocator *
zc_test_vgem_allocator (void)
{
  GstAllocator *a = gst_zc_allocator_new ("dumb", "vgem");
  fail_unless (a != NULL, "no dumb allocator on vgem");
  return a;
}

static inline guint64
zc_test_monotonic_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return guint64 (ts.tv_sec) * 1000000000ull + guint64 (ts.tv_nsec);
}
