// SPDX-License-Identifier: LGPL-2.1-or-later
#include "kmstest.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <drm_fourcc.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

namespace zctest {

namespace {

struct ResourcesDeleter
{
  void operator() (drmModeRes *r) const { drmModeFreeResources (r); }
};
struct ConnectorDeleter
{
  void operator() (drmModeConnector *c) const { drmModeFreeConnector (c); }
};
struct PropsDeleter
{
  void operator() (drmModeObjectProperties *p) const
  {
    drmModeFreeObjectProperties (p);
  }
};
struct PropDeleter
{
  void operator() (drmModePropertyRes *p) const { drmModeFreeProperty (p); }
};
struct PlaneResDeleter
{
  void operator() (drmModePlaneRes *p) const { drmModeFreePlaneResources (p); }
};
struct PlaneDeleter
{
  void operator() (drmModePlane *p) const { drmModeFreePlane (p); }
};
struct AtomicDeleter
{
  void operator() (drmModeAtomicReq *r) const { drmModeAtomicFree (r); }
};
struct EncoderDeleter
{
  void operator() (drmModeEncoder *e) const { drmModeFreeEncoder (e); }
};

using Resources = std::unique_ptr<drmModeRes, ResourcesDeleter>;
using Connector = std::unique_ptr<drmModeConnector, ConnectorDeleter>;
using Props = std::unique_ptr<drmModeObjectProperties, PropsDeleter>;
using Prop = std::unique_ptr<drmModePropertyRes, PropDeleter>;
using PlaneRes = std::unique_ptr<drmModePlaneRes, PlaneResDeleter>;
using Plane = std::unique_ptr<drmModePlane, PlaneDeleter>;
using Atomic = std::unique_ptr<drmModeAtomicReq, AtomicDeleter>;
using Encoder = std::unique_ptr<drmModeEncoder, EncoderDeleter>;

int
neg_errno (int fallback = EIO)
{
  return errno ? -errno : -fallback;
}

} // namespace

DrmDevice
DrmDevice::open_driver (const std::string &driver)
{
  for (int i = 0; i < 16; i++) {
    std::string path = "/dev/dri/card" + std::to_string (i);
    int fd = ::open (path.c_str (), O_RDWR | O_CLOEXEC);
    if (fd < 0)
      continue;
    DrmDevice dev (fd);
    if (driver.empty () || dev.driver () == driver)
      return dev;
  }
  return DrmDevice ();
}

DrmDevice &
DrmDevice::operator= (DrmDevice &&o) noexcept
{
  if (this != &o) {
    if (fd_ >= 0)
      ::close (fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

DrmDevice::~DrmDevice ()
{
  if (fd_ >= 0)
    ::close (fd_);
}

std::string
DrmDevice::driver () const
{
  drmVersionPtr v = drmGetVersion (fd_);
  if (!v)
    return {};
  std::string name (v->name, v->name_len);
  drmFreeVersion (v);
  return name;
}

DumbBuffer &
DumbBuffer::operator= (DumbBuffer &&o) noexcept
{
  if (this != &o) {
    this->~DumbBuffer ();
    bo = std::move (o.bo);
    fd = o.fd;
    handle = o.handle;
    fb_id = std::exchange (o.fb_id, 0);
    width = o.width;
    height = o.height;
    pitch = o.pitch;
    size = o.size;
    map = std::exchange (o.map, nullptr);
    o.handle = 0;
  }
  return *this;
}

DumbBuffer::~DumbBuffer ()
{
  if (fb_id)
    drmModeRmFB (fd, fb_id);
  bo.reset ();
  map = nullptr;
  fb_id = 0;
  handle = 0;
}

int
DumbBuffer::create (int drm_fd, uint32_t w, uint32_t h, DumbBuffer &out)
{
  DumbBuffer b;
  int ret = b.bo.create (drm_fd, w, h, 32);
  if (ret < 0)
    return ret;
  b.fd = drm_fd;
  b.handle = b.bo.handle ();
  b.pitch = b.bo.pitch ();
  b.size = b.bo.size ();
  b.width = w;
  b.height = h;

  uint32_t handles[4] = { b.handle };
  uint32_t pitches[4] = { b.pitch };
  uint32_t offsets[4] = {};
  if (drmModeAddFB2 (drm_fd, w, h, DRM_FORMAT_XRGB8888, handles, pitches,
          offsets, &b.fb_id, 0))
    return neg_errno ();
  ret = b.bo.map ();
  if (ret < 0)
    return ret;
  b.map = b.bo.data ();
  out = std::move (b);
  return 0;
}

namespace {

// Looks a property of a KMS object up by name: its id and current value.
bool
lookup_property (int fd, uint32_t object_id, uint32_t object_type,
    const char *name, uint32_t *id, uint64_t *value)
{
  Props props (drmModeObjectGetProperties (fd, object_id, object_type));
  if (!props)
    return false;
  for (uint32_t i = 0; i < props->count_props; i++) {
    Prop p (drmModeGetProperty (fd, props->props[i]));
    if (p && strcmp (p->name, name) == 0) {
      *id = p->prop_id;
      *value = props->prop_values[i];
      return true;
    }
  }
  return false;
}

} // namespace

uint32_t
find_property (int fd, uint32_t object_id, uint32_t object_type,
    const char *name)
{
  uint32_t id = 0;
  uint64_t value;
  return lookup_property (fd, object_id, object_type, name, &id, &value) ? id :
                                                                           0;
}

std::optional<uint64_t>
property_value (int fd, uint32_t object_id, uint32_t object_type,
    const char *name)
{
  uint32_t id;
  uint64_t value = 0;
  if (!lookup_property (fd, object_id, object_type, name, &id, &value))
    return std::nullopt;
  return value;
}

bool
atomic_add (int fd, drmModeAtomicReq *req, uint32_t obj, uint32_t obj_type,
    const char *name, uint64_t value)
{
  uint32_t prop = find_property (fd, obj, obj_type, name);
  if (!prop)
    return false;
  return drmModeAtomicAddProperty (req, obj, prop, value) >= 0;
}

int
find_output (int fd, Output &out)
{
  if (drmSetClientCap (fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) ||
      drmSetClientCap (fd, DRM_CLIENT_CAP_ATOMIC, 1))
    return neg_errno (ENOTSUP);
  // Without this cap the kernel hides writeback connectors; not fatal.
  drmSetClientCap (fd, DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, 1);

  Resources res (drmModeGetResources (fd));
  if (!res)
    return neg_errno ();

  Output o;
  for (int i = 0; i < res->count_connectors; i++) {
    Connector c (drmModeGetConnector (fd, res->connectors[i]));
    if (!c)
      continue;
    if (c->connector_type == DRM_MODE_CONNECTOR_WRITEBACK) {
      if (!o.writeback_id)
        o.writeback_id = c->connector_id;
      continue;
    }
    if (o.connector_id || c->connection != DRM_MODE_CONNECTED ||
        c->count_modes == 0)
      continue;
    // The preferred mode, else the first one.
    o.mode = c->modes[0];
    for (int m = 0; m < c->count_modes; m++) {
      if (c->modes[m].type & DRM_MODE_TYPE_PREFERRED) {
        o.mode = c->modes[m];
        break;
      }
    }
    // Any CRTC that one of its encoders can drive.
    for (int e = 0; e < c->count_encoders && !o.crtc_id; e++) {
      Encoder enc (drmModeGetEncoder (fd, c->encoders[e]));
      if (!enc)
        continue;
      for (int k = 0; k < res->count_crtcs; k++) {
        if (enc->possible_crtcs & (1u << k)) {
          o.crtc_id = res->crtcs[k];
          o.crtc_index = k;
          break;
        }
      }
    }
    if (o.crtc_id)
      o.connector_id = c->connector_id;
  }
  if (!o.connector_id)
    return -ENODEV;

  std::vector<uint32_t> primaries = find_planes (fd, o, DRM_PLANE_TYPE_PRIMARY);
  if (primaries.empty ())
    return -ENODEV;
  o.primary_plane_id = primaries.front ();
  out = o;
  return 0;
}

std::vector<uint32_t>
find_planes (int fd, const Output &out, uint64_t type)
{
  std::vector<uint32_t> ids;
  PlaneRes pres (drmModeGetPlaneResources (fd));
  if (!pres)
    return ids;
  for (uint32_t i = 0; i < pres->count_planes; i++) {
    Plane p (drmModeGetPlane (fd, pres->planes[i]));
    if (!p || !(p->possible_crtcs & (1u << out.crtc_index)))
      continue;
    auto t = property_value (fd, p->plane_id, DRM_MODE_OBJECT_PLANE, "type");
    if (t && *t == type)
      ids.push_back (p->plane_id);
  }
  return ids;
}

int
wait_fence (int fence_fd, int timeout_ms)
{
  pollfd pfd { fence_fd, POLLIN, 0 };
  int r;
  do {
    r = poll (&pfd, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r < 0)
    return -errno;
  if (r == 0)
    return -ETIMEDOUT;
  return 0;
}

namespace {

// Adds the writeback job for `wb` to `req`; the fence fd lands in *fence.
//
// Linux 6.1's atomic helper refuses two encoders on one CRTC unless each
// lists the other in possible_clones, and vkms sets none, so the display
// connector is taken off the CRTC while the writeback connector is on it.
// That is a modeset (DRM_MODE_ATOMIC_ALLOW_MODESET); planes are untouched.
bool
add_writeback (int fd, drmModeAtomicReq *req, const Output &out,
    const DumbBuffer &wb, int32_t *fence)
{
  return atomic_add (fd, req, out.connector_id, DRM_MODE_OBJECT_CONNECTOR,
             "CRTC_ID", 0) &&
      atomic_add (fd, req, out.writeback_id, DRM_MODE_OBJECT_CONNECTOR,
          "CRTC_ID", out.crtc_id) &&
      atomic_add (fd, req, out.writeback_id, DRM_MODE_OBJECT_CONNECTOR,
          "WRITEBACK_FB_ID", wb.fb_id) &&
      atomic_add (fd, req, out.writeback_id, DRM_MODE_OBJECT_CONNECTOR,
          "WRITEBACK_OUT_FENCE_PTR", reinterpret_cast<uintptr_t> (fence));
}

int
commit_and_wait (int fd, drmModeAtomicReq *req, uint32_t flags, int32_t *fence,
    int timeout_ms)
{
  if (drmModeAtomicCommit (fd, req, flags, nullptr))
    return neg_errno ();
  if (*fence < 0)
    return -EIO;
  int r = wait_fence (*fence, timeout_ms);
  ::close (*fence);
  *fence = -1;
  return r;
}

} // namespace

namespace {

// Adds the mode, ACTIVE and `fb` full screen on the primary plane; *blob
// receives the mode blob, which the caller destroys after the commit.
bool
add_fullscreen (int fd, drmModeAtomicReq *req, const Output &out,
    const DumbBuffer &fb, uint32_t *blob)
{
  if (drmModeCreatePropertyBlob (fd, &out.mode, sizeof (out.mode), blob))
    return false;
  const uint32_t w = out.mode.hdisplay, h = out.mode.vdisplay;
  bool ok = atomic_add (fd, req, out.crtc_id, DRM_MODE_OBJECT_CRTC, "MODE_ID",
                *blob) &&
      atomic_add (fd, req, out.crtc_id, DRM_MODE_OBJECT_CRTC, "ACTIVE", 1);
  const struct
  {
    const char *name;
    uint64_t value;
  } plane_props[] = {
    { "FB_ID", fb.fb_id },
    { "CRTC_ID", out.crtc_id },
    { "SRC_X", 0 },
    { "SRC_Y", 0 },
    { "SRC_W", uint64_t (w) << 16 },
    { "SRC_H", uint64_t (h) << 16 },
    { "CRTC_X", 0 },
    { "CRTC_Y", 0 },
    { "CRTC_W", w },
    { "CRTC_H", h },
  };
  for (const auto &p : plane_props)
    ok = ok &&
        atomic_add (fd, req, out.primary_plane_id, DRM_MODE_OBJECT_PLANE,
            p.name, p.value);
  return ok;
}

} // namespace

int
show (int fd, const Output &out, const DumbBuffer &fb)
{
  Atomic req (drmModeAtomicAlloc ());
  uint32_t blob = 0;
  bool ok = add_fullscreen (fd, req.get (), out, fb, &blob) &&
      (!out.writeback_id ||
          atomic_add (fd, req.get (), out.writeback_id,
              DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID", 0)) &&
      atomic_add (fd, req.get (), out.connector_id, DRM_MODE_OBJECT_CONNECTOR,
          "CRTC_ID", out.crtc_id);
  int r = ok ? drmModeAtomicCommit (fd, req.get (),
                   DRM_MODE_ATOMIC_ALLOW_MODESET, nullptr) :
               -EINVAL;
  if (r)
    r = neg_errno (EINVAL);
  if (blob)
    drmModeDestroyPropertyBlob (fd, blob);
  return r;
}

int
show_and_capture (int fd, const Output &out, const DumbBuffer &fb,
    DumbBuffer &wb, int timeout_ms)
{
  if (!out.writeback_id)
    return -ENODEV;
  Atomic req (drmModeAtomicAlloc ());
  uint32_t blob = 0;
  int32_t fence = -1;
  bool ok = add_fullscreen (fd, req.get (), out, fb, &blob) &&
      add_writeback (fd, req.get (), out, wb, &fence);
  int r = ok ? commit_and_wait (fd, req.get (), DRM_MODE_ATOMIC_ALLOW_MODESET,
                   &fence, timeout_ms) :
               -EINVAL;
  if (blob)
    drmModeDestroyPropertyBlob (fd, blob);
  return r;
}

int
capture (int fd, const Output &out, DumbBuffer &wb, int timeout_ms)
{
  if (!out.writeback_id)
    return -ENODEV;
  Atomic req (drmModeAtomicAlloc ());
  int32_t fence = -1;
  if (!add_writeback (fd, req.get (), out, wb, &fence))
    return -EINVAL;
  int r = commit_and_wait (fd, req.get (), DRM_MODE_ATOMIC_ALLOW_MODESET,
      &fence, timeout_ms);
  if (r == -ETIMEDOUT)
    fprintf (stderr,
        "kmstest capture: the writeback fence did not signal; did another "
        "commit land on the CRTC right after the capture? (see kmstest.h)\n");

  // Put the display connector back where it was.
  Atomic restore (drmModeAtomicAlloc ());
  bool ok = atomic_add (fd, restore.get (), out.writeback_id,
                DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID", 0) &&
      atomic_add (fd, restore.get (), out.connector_id,
          DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID", out.crtc_id);
  if (!ok ||
      drmModeAtomicCommit (fd, restore.get (), DRM_MODE_ATOMIC_ALLOW_MODESET,
          nullptr))
    return r ? r : neg_errno ();
  return r;
}

} // namespace zctest
