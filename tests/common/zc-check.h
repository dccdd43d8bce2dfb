/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The check header of the gst-check tests (library and elements): fds,
 * fences that tests control, bufinfo, DRM cards, element stats.
 */
#pragma once

/* C++ headers first: gstcheck.h defines macros (fail, ...) they use. */
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <gst/check/gstcheck.h>
#include <gst/zerocopy/zerocopy.h>

/* Open file descriptors of this process. */
static inline int
zc_test_count_fds (void)
{
  int n = 0;
  DIR *d = opendir ("/proc/self/fd");
  if (!d)
    return -1;
  while (struct dirent *e = readdir (d))
    if (e->d_name[0] != '.')
      n++;
  closedir (d);
  return n - 1; /* the DIR's own fd */
}

/* Whether @fd is an open descriptor. */
static inline bool
zc_test_fd_open (int fd)
{
  return fcntl (fd, F_GETFD) != -1;
}

/* A pipe whose read end stands in for a fence: it "signals" (polls
 * readable) once a byte is written to the write end. */
struct ZcTestPipeFence
{
  int read_fd = -1;
  int write_fd = -1;

  ZcTestPipeFence ()
  {
    int fds[2];
    fail_unless (pipe2 (fds, O_CLOEXEC) == 0);
    read_fd = fds[0];
    write_fd = fds[1];
  }
  ~ZcTestPipeFence ()
  {
    if (write_fd >= 0)
      close (write_fd);
  }
  /* Hands the read end over (e.g. to a fence meta). */
  int take () { return std::exchange (read_fd, -1); }
  void signal () { fail_unless (write (write_fd, "x", 1) == 1); }
};

/* Lines of /sys/kernel/debug/dma_buf/bufinfo naming a dma-buf of ours. */
static inline int
zc_test_count_named_dmabufs (const char *prefix = "gstzc-")
{
  std::ifstream f ("/sys/kernel/debug/dma_buf/bufinfo");
  if (!f)
    return -1;
  std::string line;
  int n = 0;
  while (std::getline (f, line))
    if (line.find (prefix) != std::string::npos)
      n++;
  return n;
}

/* Path of the DRM primary node of @driver, or "" when none is loaded. The
 * driver name comes from DRM_IOCTL_VERSION (vgem and vkms are platform
 * devices without a DRIVER= line in sysfs). */
static inline std::string
zc_test_find_card (const char *driver)
{
  struct
  {
    int major, minor, patch;
    size_t name_len;
    char *name;
    size_t date_len;
    char *date;
    size_t desc_len;
    char *desc;
  } v;
  /* DRM_IOCTL_VERSION = _IOWR('d', 0x00, struct drm_version) */
  const unsigned long ioctl_version = _IOWR ('d', 0x00, decltype (v));
  for (int i = 0; i < 16; i++) {
    std::string path = "/dev/dri/card" + std::to_string (i);
    int fd = open (path.c_str (), O_RDWR | O_CLOEXEC);
    if (fd < 0)
      continue;
    char name[64] = {};
    memset (&v, 0, sizeof (v));
    v.name_len = sizeof (name) - 1;
    v.name = name;
    int ret = ioctl (fd, ioctl_version, &v);
    close (fd);
    if (ret == 0 && std::string (name) == driver)
      return path;
  }
  return "";
}

/* A guint64 field of @element's `stats` structure; fails when absent. */
static inline guint64
zc_test_stat (GstElement *element, const char *field)
{
  GstStructure *s = NULL;
  g_object_get (element, "stats", &s, NULL);
  guint64 v = 0;
  fail_unless (s && gst_structure_get_uint64 (s, field, &v), "no stat %s",
      field);
  gst_structure_free (s);
  return v;
}

/* An active GstZcBufferPool on @a for @caps_str with video meta, holding
 * @min to @max buffers. */
static inline GstBufferPool *
zc_test_make_pool (GstAllocator *a, const char *caps_str, guint min, guint max)
{
  GstBufferPool *pool = gst_zc_buffer_pool_new (a);
  GstStructure *config = gst_buffer_pool_get_config (pool);
  GstCaps *caps = gst_caps_from_string (caps_str);
  gst_buffer_pool_config_set_params (config, caps, 0, min, max);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  gst_caps_unref (caps);
  fail_unless (gst_buffer_pool_set_config (pool, config));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  return pool;
}
