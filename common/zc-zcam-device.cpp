/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "zc-zcam-device.h"
#include "zc-fd.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>

namespace zc {

std::vector<std::string>
zcam_list_devices ()
{
  std::vector<std::pair<long, std::string>> found;
  DIR *dir = opendir ("/dev");
  if (!dir)
    return {};
  while (struct dirent *de = readdir (dir)) {
    if (strncmp (de->d_name, "zcam", 4) != 0)
      continue;
    char *end = nullptr;
    long n = strtol (de->d_name + 4, &end, 10);
    if (end == de->d_name + 4 || *end != '\0')
      continue;
    found.emplace_back (n, std::string ("/dev/") + de->d_name);
  }
  closedir (dir);
  std::sort (found.begin (), found.end ());
  std::vector<std::string> out;
  for (auto &f : found)
    out.push_back (std::move (f.second));
  return out;
}

int
ZcamDevice::open (const std::string &path)
{
  UniqueFd fd (::open (path.c_str (), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd)
    return -errno;
  struct zcam_caps caps = {};
  int ret = xioctl (fd.get (), ZCAM_IOC_QUERYCAP, &caps);
  if (ret < 0)
    return ret;
  if (caps.version != ZCAM_API_VERSION)
    return -EPROTO;
  caps_ = caps;
  fd_ = std::move (fd);
  if (&path != &path_)
    path_ = path;
  return 0;
}

bool
ZcamDevice::supports (uint32_t fourcc) const
{
  for (uint32_t i = 0; i < caps_.num_formats && i < ZCAM_MAX_FORMATS; i++)
    if (caps_.formats[i] == fourcc)
      return true;
  return false;
}

int
ZcamDevice::set_format (struct zcam_format &fmt)
{
  return xioctl (fd_.get (), ZCAM_IOC_S_FMT, &fmt);
}

int
ZcamDevice::create_buffer (UniqueFd &fd, uint64_t &size)
{
  struct zcam_create_buffer cb = {};
  cb.flags = ZCAM_BUF_CLOEXEC;
  int ret = xioctl (fd_.get (), ZCAM_IOC_CREATE_BUF, &cb);
  if (ret < 0)
    return ret;
  fd.reset (cb.fd);
  size = cb.size;
  return 0;
}

int
ZcamDevice::queue (int buf_fd, int in_fence, UniqueFd &out_fence,
    uint64_t &sequence, uint32_t &index)
{
  struct zcam_queue q = {};
  q.buf_fd = buf_fd;
  q.in_fence_fd = in_fence;
  q.flags = ZCAM_QUEUE_OUT_FENCE | ZCAM_QUEUE_FENCE_CLOEXEC;
  if (in_fence >= 0)
    q.flags |= ZCAM_QUEUE_IN_FENCE;
  int ret = xioctl (fd_.get (), ZCAM_IOC_QBUF, &q);
  if (ret < 0)
    return ret;
  out_fence.reset (q.out_fence_fd);
  sequence = q.sequence;
  index = q.index;
  return 0;
}

int
ZcamDevice::stream_on (uint32_t fps_n, uint32_t fps_d)
{
  struct zcam_stream s = {};
  s.fps_num = fps_n;
  s.fps_den = fps_d;
  return xioctl (fd_.get (), ZCAM_IOC_STREAMON, &s);
}

int
ZcamDevice::stream_off ()
{
  return xioctl (fd_.get (), ZCAM_IOC_STREAMOFF, nullptr);
}

int
ZcamDevice::read_event (struct zcam_event &ev)
{
  ssize_t n;
  do {
    n = ::read (fd_.get (), &ev, sizeof (ev));
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return -errno;
  if (n != sizeof (ev))
    return -EIO;
  return 0;
}

} // namespace zc
