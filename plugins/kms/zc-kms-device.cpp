/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "zc-kms-device.h"

#include <cerrno>
#include <cstring>

#include <drm_fourcc.h>
#include <fcntl.h>
#include <sys/stat.h>

GST_DEBUG_CATEGORY_EXTERN (gst_zc_kms_sink_debug);
#define GST_CAT_DEFAULT gst_zc_kms_sink_debug

namespace zc {

namespace {

template <typename T, void (*F) (T *)> struct Deleter
{
  void operator() (T *p) const { F (p); }
};
using Resources =
    std::unique_ptr<drmModeRes, Deleter<drmModeRes, drmModeFreeResources>>;
using Connector = std::unique_ptr<drmModeConnector,
    Deleter<drmModeConnector, drmModeFreeConnector>>;
using Encoder =
    std::unique_ptr<drmModeEncoder, Deleter<drmModeEncoder, drmModeFreeEncoder>>;
using PlaneRes = std::unique_ptr<drmModePlaneRes,
    Deleter<drmModePlaneRes, drmModeFreePlaneResources>>;
using Plane =
    std::unique_ptr<drmModePlane, Deleter<drmModePlane, drmModeFreePlane>>;
using Props = std::unique_ptr<drmModeObjectProperties,
    Deleter<drmModeObjectProperties, drmModeFreeObjectProperties>>;
using Prop = std::unique_ptr<drmModePropertyRes,
    Deleter<drmModePropertyRes, drmModeFreeProperty>>;

int
neg_errno ()
{
  return errno ? -errno : -EIO;
}

/* Property ids (and current values) of one KMS object by name. */
std::map<std::string, std::pair<uint32_t, uint64_t>>
object_props (int fd, uint32_t id, uint32_t type)
{
  std::map<std::string, std::pair<uint32_t, uint64_t>> out;
  Props props (drmModeObjectGetProperties (fd, id, type));
  if (!props)
    return out;
  for (uint32_t i = 0; i < props->count_props; i++) {
    Prop p (drmModeGetProperty (fd, props->props[i]));
    if (p)
      out[p->name] = { p->prop_id, props->prop_values[i] };
  }
  return out;
}

uint32_t
prop_id (const std::map<std::string, std::pair<uint32_t, uint64_t>> &m,
    const char *name)
{
  auto it = m.find (name);
  return it == m.end () ? 0 : it->second.first;
}

bool
has_connected_connector (int fd)
{
  Resources res (drmModeGetResources (fd));
  if (!res)
    return false;
  for (int i = 0; i < res->count_connectors; i++) {
    Connector c (drmModeGetConnector (fd, res->connectors[i]));
    if (c && c->connection == DRM_MODE_CONNECTED && c->count_modes > 0)
      return true;
  }
  return false;
}

/* "35 (Virtual-1, connected), 37 (Writeback-1, writeback)" */
std::string
list_connectors (int fd, const drmModeRes &res)
{
  std::string out;
  for (int i = 0; i < res.count_connectors; i++) {
    Connector c (drmModeGetConnector (fd, res.connectors[i]));
    if (!c)
      continue;
    const char *type = drmModeGetConnectorTypeName (c->connector_type);
    const char *state = c->connector_type == DRM_MODE_CONNECTOR_WRITEBACK ?
        "writeback, not a display" :
        c->connection == DRM_MODE_CONNECTED ? "connected" :
                                              "not connected";
    out += (out.empty () ? "" : ", ") + std::to_string (c->connector_id) +
        " (" + (type ? type : "unknown") + "-" +
        std::to_string (c->connector_type_id) + ", " + state + ")";
  }
  return out.empty () ? "none" : out;
}

std::string
list_ids (const uint32_t *ids, int n)
{
  std::string out;
  for (int i = 0; i < n; i++)
    out += (out.empty () ? "" : ", ") + std::to_string (ids[i]);
  return out.empty () ? "none" : out;
}

} // namespace

int
master_fd_in_process (int fd)
{
  struct stat want;
  if (fstat (fd, &want) < 0 || !S_ISCHR (want.st_mode))
    return -1;
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, nullptr);
  if (!dir)
    return -1;
  while (const char *name = g_dir_read_name (dir)) {
    int other = atoi (name);
    struct stat st;
    if (other == fd || fstat (other, &st) < 0 || !S_ISCHR (st.st_mode) ||
        st.st_rdev != want.st_rdev)
      continue;
    if (drmIsMaster (other))
      return other;
  }
  return -1;
}

bool
PlaneInfo::supports (uint32_t fourcc) const
{
  for (uint32_t f : formats)
    if (f == fourcc)
      return true;
  return false;
}

const PlaneInfo *
Output::primary () const
{
  for (const auto &p : planes)
    if (p.type == DRM_PLANE_TYPE_PRIMARY)
      return &p;
  return nullptr;
}

const PlaneInfo *
Output::find_plane (uint32_t id) const
{
  for (const auto &p : planes)
    if (p.id == id)
      return &p;
  return nullptr;
}

bool
FbKey::operator== (const FbKey &o) const
{
  if (width != o.width || height != o.height || fourcc != o.fourcc ||
      n_planes != o.n_planes || modifier != o.modifier ||
      has_modifier != o.has_modifier)
    return false;
  for (uint32_t i = 0; i < n_planes; i++)
    if (fds[i] != o.fds[i] || pitches[i] != o.pitches[i] ||
        offsets[i] != o.offsets[i])
      return false;
  return true;
}

UniqueFd
open_card (const char *path, const char *driver, std::string &why)
{
  if (path && path[0]) {
    UniqueFd fd (open (path, O_RDWR | O_CLOEXEC));
    if (!fd.valid ())
      why = std::string ("cannot open ") + path + ": " + g_strerror (errno) +
          (errno == EACCES ? " (is the user in the \"video\" group?)" : "");
    return fd;
  }
  for (int i = 0; i < 16; i++) {
    std::string p = "/dev/dri/card" + std::to_string (i);
    UniqueFd fd (open (p.c_str (), O_RDWR | O_CLOEXEC));
    if (!fd.valid ())
      continue;
    drmVersionPtr v = drmGetVersion (fd.get ());
    std::string name = v ? std::string (v->name, v->name_len) : "";
    drmFreeVersion (v);
    if (driver && driver[0] ? name == driver :
                              has_connected_connector (fd.get ()))
      return fd;
  }
  why = driver && driver[0] ?
      std::string ("no DRM card with driver ") + driver :
      "no DRM card with a connected connector";
  return UniqueFd ();
}

KmsDevice::KmsDevice (UniqueFd fd) : fd_ (std::move (fd))
{
  /* One qdata key per device: two sinks may cache the same memory. */
  static std::atomic<unsigned> counter;
  std::string name = "zckmssink-fb-" + std::to_string (counter++);
  quark_ = g_quark_from_string (name.c_str ());
}

KmsDevice::~KmsDevice ()
{
  shutdown ();
}

std::string
KmsDevice::driver () const
{
  drmVersionPtr v = drmGetVersion (fd_.get ());
  std::string name = v ? std::string (v->name, v->name_len) : "";
  drmFreeVersion (v);
  return name;
}

int
KmsDevice::enable_atomic ()
{
  if (drmSetClientCap (fd_.get (), DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) ||
      drmSetClientCap (fd_.get (), DRM_CLIENT_CAP_ATOMIC, 1))
    return neg_errno ();
  return 0;
}

int
KmsDevice::find_output (uint32_t want_conn, uint32_t want_crtc, Output &out,
    std::string &why)
{
  int fd = fd_.get ();
  Resources res (drmModeGetResources (fd));
  if (!res) {
    why = std::string ("drmModeGetResources: ") + g_strerror (errno);
    return neg_errno ();
  }
  Output o;
  for (int i = 0; i < res->count_connectors && !o.connector_id; i++) {
    Connector c (drmModeGetConnector (fd, res->connectors[i]));
    if (!c || c->connector_type == DRM_MODE_CONNECTOR_WRITEBACK)
      continue;
    if (want_conn ?
            c->connector_id != want_conn :
            (c->connection != DRM_MODE_CONNECTED || c->count_modes == 0))
      continue;
    if (c->count_modes == 0) {
      why = "connector " + std::to_string (c->connector_id) + " has no modes";
      return -ENODEV;
    }
    o.mode = c->modes[0];
    o.modes.assign (c->modes, c->modes + c->count_modes);
    for (int m = 0; m < c->count_modes; m++)
      if (c->modes[m].type & DRM_MODE_TYPE_PREFERRED) {
        o.mode = c->modes[m];
        break;
      }
    for (int e = 0; e < c->count_encoders && !o.crtc_id; e++) {
      Encoder enc (drmModeGetEncoder (fd, c->encoders[e]));
      if (!enc)
        continue;
      for (int k = 0; k < res->count_crtcs; k++) {
        if (!(enc->possible_crtcs & (1u << k)))
          continue;
        if (want_crtc && res->crtcs[k] != want_crtc)
          continue;
        o.crtc_id = res->crtcs[k];
        o.crtc_index = k;
        break;
      }
    }
    if (o.crtc_id)
      o.connector_id = c->connector_id;
  }
  if (!o.connector_id) {
    bool conn_exists = false, crtc_exists = false;
    for (int i = 0; i < res->count_connectors; i++)
      conn_exists |= res->connectors[i] == want_conn;
    for (int k = 0; k < res->count_crtcs; k++)
      crtc_exists |= res->crtcs[k] == want_crtc;
    if (want_conn && !conn_exists)
      why = "connector-id " + std::to_string (want_conn) +
          " does not exist; the connectors are " + list_connectors (fd, *res);
    else if (want_crtc && !crtc_exists)
      why = "crtc-id " + std::to_string (want_crtc) +
          " does not exist; the CRTCs are " +
          list_ids (res->crtcs, res->count_crtcs);
    else if (want_conn)
      why = "connector " + std::to_string (want_conn) + " has no usable CRTC" +
          (want_crtc ? " (crtc-id " + std::to_string (want_crtc) + " forced)" :
                       std::string ()) +
          "; the connectors are " + list_connectors (fd, *res);
    else
      why = std::string ("no connected connector with a usable CRTC") +
          (want_crtc ? " (crtc-id " + std::to_string (want_crtc) + " forced)" :
                       "") +
          "; the connectors are " + list_connectors (fd, *res);
    return -ENODEV;
  }

  auto cp = object_props (fd, o.connector_id, DRM_MODE_OBJECT_CONNECTOR);
  o.conn_crtc_id_prop = prop_id (cp, "CRTC_ID");
  auto rp = object_props (fd, o.crtc_id, DRM_MODE_OBJECT_CRTC);
  o.crtc_mode_id_prop = prop_id (rp, "MODE_ID");
  o.crtc_active_prop = prop_id (rp, "ACTIVE");
  o.crtc_out_fence_prop = prop_id (rp, "OUT_FENCE_PTR");

  PlaneRes pres (drmModeGetPlaneResources (fd));
  for (uint32_t i = 0; pres && i < pres->count_planes; i++) {
    Plane p (drmModeGetPlane (fd, pres->planes[i]));
    if (!p || !(p->possible_crtcs & (1u << o.crtc_index)))
      continue;
    auto pp = object_props (fd, p->plane_id, DRM_MODE_OBJECT_PLANE);
    PlaneInfo info;
    info.id = p->plane_id;
    auto t = pp.find ("type");
    info.type = t == pp.end () ? DRM_PLANE_TYPE_OVERLAY : t->second.second;
    info.formats.assign (p->formats, p->formats + p->count_formats);
    PlaneProps &q = info.props;
    q.fb_id = prop_id (pp, "FB_ID");
    q.crtc_id = prop_id (pp, "CRTC_ID");
    q.in_fence_fd = prop_id (pp, "IN_FENCE_FD");
    q.src_x = prop_id (pp, "SRC_X");
    q.src_y = prop_id (pp, "SRC_Y");
    q.src_w = prop_id (pp, "SRC_W");
    q.src_h = prop_id (pp, "SRC_H");
    q.crtc_x = prop_id (pp, "CRTC_X");
    q.crtc_y = prop_id (pp, "CRTC_Y");
    q.crtc_w = prop_id (pp, "CRTC_W");
    q.crtc_h = prop_id (pp, "CRTC_H");
    if (info.type != DRM_PLANE_TYPE_CURSOR)
      o.planes.push_back (std::move (info));
  }
  if (!o.primary ()) {
    why = "CRTC " + std::to_string (o.crtc_id) + " has no primary plane";
    return -ENODEV;
  }
  out = std::move (o);
  return 0;
}

void
KmsDevice::unref_handle_locked (uint32_t handle)
{
  if (!handle)
    return;
  auto it = handle_refs_.find (handle);
  if (it == handle_refs_.end () || --it->second > 0)
    return;
  handle_refs_.erase (it);
  drmCloseBufferHandle (fd_.get (), handle);
}

int
KmsDevice::import_locked (const FbKey &key, FbEntry &e)
{
  int fd = fd_.get ();
  if (fd < 0)
    return -ENODEV;
  uint32_t handles[4] = {}, pitches[4] = {}, offsets[4] = {};
  uint64_t modifiers[4] = {};
  int ret = 0;
  for (uint32_t i = 0; i < key.n_planes; i++) {
    if (drmPrimeFDToHandle (fd, key.fds[i], &e.handles[i])) {
      ret = neg_errno ();
      GST_DEBUG ("PRIME import of fd %d: %s", key.fds[i], g_strerror (-ret));
      break;
    }
    /* Importing one dma-buf twice gives the same handle: count users. */
    handle_refs_[e.handles[i]]++;
    handles[i] = e.handles[i];
    pitches[i] = key.pitches[i];
    offsets[i] = key.offsets[i];
    modifiers[i] = key.modifier;
  }
  if (ret == 0) {
    if (drmModeAddFB2WithModifiers (fd, key.width, key.height, key.fourcc,
            handles, pitches, offsets, key.has_modifier ? modifiers : nullptr,
            &e.fb_id, key.has_modifier ? DRM_MODE_FB_MODIFIERS : 0)) {
      ret = neg_errno ();
      GST_DEBUG ("AddFB2 %ux%u %.4s: %s", key.width, key.height,
          (const char *) &key.fourcc, g_strerror (-ret));
    }
  }
  if (ret < 0) {
    for (uint32_t i = 0; i < key.n_planes; i++)
      unref_handle_locked (std::exchange (e.handles[i], 0));
    return ret;
  }
  e.key = key;
  return 0;
}

void
KmsDevice::remove_entry_locked (FbEntry *e)
{
  if (e->fb_id && fd_.valid ())
    drmModeRmFB (fd_.get (), e->fb_id);
  e->fb_id = 0;
  for (uint32_t i = 0; i < e->key.n_planes; i++)
    unref_handle_locked (std::exchange (e->handles[i], 0));
}

void
KmsDevice::entry_destroy (gpointer data)
{
  FbEntry *e = static_cast<FbEntry *> (data);
  {
    std::lock_guard<std::mutex> g (e->dev->lock_);
    if (e->dev->entries_.erase (e))
      e->dev->remove_entry_locked (e);
  }
  delete e;
}

int
KmsDevice::get_fb (GstMemory *mem, const FbKey &key, uint32_t *fb_id)
{
  std::lock_guard<std::mutex> g (lock_);
  auto *e = static_cast<FbEntry *> (
      gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (mem), quark_));
  if (e && entries_.count (e) && e->key == key) {
    *fb_id = e->fb_id;
    return 0;
  }
  auto ne = std::make_unique<FbEntry> ();
  ne->dev = shared_from_this ();
  int ret = import_locked (key, *ne);
  if (ret < 0)
    return ret;
  *fb_id = ne->fb_id;
  FbEntry *raw = ne.release ();
  entries_.insert (raw);
  /* Replacing the qdata destroys a stale entry (it takes our lock: drop it). */
  lock_.unlock ();
  gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (mem), quark_, raw,
      entry_destroy);
  lock_.lock ();
  return 0;
}

size_t
KmsDevice::n_cached ()
{
  std::lock_guard<std::mutex> g (lock_);
  return entries_.size ();
}

void
KmsDevice::shutdown ()
{
  std::lock_guard<std::mutex> g (lock_);
  for (FbEntry *e : entries_)
    remove_entry_locked (e);
  entries_.clear ();
  for (auto &h : handle_refs_)
    drmCloseBufferHandle (fd_.get (), h.first);
  handle_refs_.clear ();
  fd_.reset ();
}

DumbFb::~DumbFb ()
{
  if (fb_id_)
    drmModeRmFB (buf_.drm_fd (), fb_id_);
}

int
DumbFb::create (int fd, const GstVideoInfo *in, uint32_t fourcc)
{
  /* Lay the planes out one after the other with 64-byte aligned strides. */
  GstVideoInfo info = *in;
  GstVideoAlignment align;
  gst_video_alignment_reset (&align);
  for (guint i = 0; i < GST_VIDEO_MAX_PLANES; i++)
    align.stride_align[i] = 63;
  if (!gst_video_info_align (&info, &align))
    return -EINVAL;
  info_ = info;
  /* One byte per "pixel", the first plane's stride wide and as many rows
   * as all planes need: the driver allocates bytes, we lay them out. */
  guint64 size = GST_VIDEO_INFO_SIZE (&info);
  const uint32_t stride = GST_VIDEO_INFO_PLANE_STRIDE (&info, 0);
  int ret = buf_.create (fd, stride, (size + stride - 1) / stride, 8);
  if (ret < 0)
    return ret;
  /* A driver may round the pitch up; then our strides are wrong. */
  if (buf_.pitch () != stride || buf_.size () < size)
    return -EINVAL;

  uint32_t handles[4] = {}, pitches[4] = {}, offsets[4] = {};
  for (guint i = 0; i < GST_VIDEO_INFO_N_PLANES (&info); i++) {
    handles[i] = buf_.handle ();
    pitches[i] = GST_VIDEO_INFO_PLANE_STRIDE (&info, i);
    offsets[i] = GST_VIDEO_INFO_PLANE_OFFSET (&info, i);
  }
  if (drmModeAddFB2 (fd, GST_VIDEO_INFO_WIDTH (&info),
          GST_VIDEO_INFO_HEIGHT (&info), fourcc, handles, pitches, offsets,
          &fb_id_, 0))
    return neg_errno ();
  return buf_.map ();
}

void
add_plane (AtomicReq &req, const PlaneInfo &plane, uint32_t crtc_id,
    uint32_t fb_id, const Rect &src, const Rect &dst)
{
  const PlaneProps &p = plane.props;
  req.add (plane.id, p.fb_id, fb_id);
  req.add (plane.id, p.crtc_id, crtc_id);
  req.add (plane.id, p.src_x, uint64_t (src.x) << 16);
  req.add (plane.id, p.src_y, uint64_t (src.y) << 16);
  req.add (plane.id, p.src_w, uint64_t (src.w) << 16);
  req.add (plane.id, p.src_h, uint64_t (src.h) << 16);
  req.add (plane.id, p.crtc_x, uint64_t (int64_t (dst.x)));
  req.add (plane.id, p.crtc_y, uint64_t (int64_t (dst.y)));
  req.add (plane.id, p.crtc_w, dst.w);
  req.add (plane.id, p.crtc_h, dst.h);
}

void
add_plane_off (AtomicReq &req, const PlaneInfo &plane)
{
  req.add (plane.id, plane.props.fb_id, 0);
  req.add (plane.id, plane.props.crtc_id, 0);
}

} // namespace zc
