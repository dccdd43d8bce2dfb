/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-zckmssink
 * @title: zckmssink
 *
 * Shows video on a KMS display with atomic commits only. dma-buf input is
 * imported (PRIME) and its framebuffer cached on the #GstMemory; the
 * buffer's acquire fence (#GstZcFenceMeta) is the plane's IN_FENCE_FD and
 * the commit's out-fence becomes a release fence of the buffer that was on
 * screen before. Commits are non-blocking and paced by page-flip events on
 * a display thread; a frame that arrives while one is still waiting for
 * the display replaces it (counted as dropped). Other input is copied into
 * the sink's own dumb buffers (counted as copied). A render-rectangle of
 * another size than the frame scales it on a plane that can; EOS is posted
 * once the last frame is on screen.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc ! video/x-raw,format=BGRx,width=640,height=480 ! zckmssink driver-name=vkms
 * ]|
 */
#include "gstzckmssink.h"
#include "zc-kms-device.h"

#include <gst/allocators/allocators.h>
#include <gst/zerocopy/zerocopy.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include <drm_fourcc.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>

GST_DEBUG_CATEGORY (gst_zc_kms_sink_debug);
#define GST_CAT_DEFAULT gst_zc_kms_sink_debug
GST_DEBUG_CATEGORY_STATIC (CAT_PERFORMANCE);

using zc::Rect;
using zc::UniqueFd;

#include "zc-kms-sink-private.h"

using namespace zc;



G_DEFINE_TYPE_WITH_CODE (GstZcKmsSink, gst_zc_kms_sink, GST_TYPE_VIDEO_SINK,
    GST_DEBUG_CATEGORY_INIT (gst_zc_kms_sink_debug, "zckmssink", 0,
        "atomic KMS sink");
    GST_DEBUG_CATEGORY_GET (CAT_PERFORMANCE, "GST_PERFORMANCE"));
GST_ELEMENT_REGISTER_DEFINE (zckmssink, "zckmssink", GST_RANK_NONE,
    GST_TYPE_ZC_KMS_SINK);

enum
{
  PROP_0,
  PROP_DEVICE,
  PROP_DRIVER_NAME,
  PROP_FD,
  PROP_CONNECTOR_ID,
  PROP_CRTC_ID,
  PROP_PLANE_ID,
  PROP_RENDER_RECTANGLE,
  PROP_FENCE_TIMEOUT,
  PROP_FORCE_MODESET,
  PROP_STATS,
  N_PROPS
};
static GParamSpec *g_properties[N_PROPS];

static GstCaps *
caps_for_formats (const std::vector<uint32_t> *fourccs)
{
  GstCaps *caps = gst_caps_new_empty ();
  GValue list = G_VALUE_INIT;
  g_value_init (&list, GST_TYPE_LIST);
  for (guint i = 0; i < gst_zc_format_get_n_formats (); i++) {
    const GstZcFormatInfo *fi = gst_zc_format_get_info_by_index (i);
    bool ok = !fourccs;
    for (size_t k = 0; fourccs && k < fourccs->size () && !ok; k++)
      ok = (*fourccs)[k] == fi->fourcc;
    if (!ok)
      continue;
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, gst_video_format_to_string (fi->format));
    gst_value_list_append_and_take_value (&list, &v);
  }
  for (int dmabuf = 1; dmabuf >= 0; dmabuf--) {
    GstStructure *s = gst_structure_new ("video/x-raw",
        "width", GST_TYPE_INT_RANGE, 1, G_MAXINT,
        "height", GST_TYPE_INT_RANGE, 1, G_MAXINT, NULL);
    gst_structure_set_value (s, "format", &list);
    gst_caps_append_structure_full (caps, s, dmabuf ?
        gst_caps_features_new (GST_CAPS_FEATURE_MEMORY_DMABUF, NULL) : NULL);
  }
  g_value_unset (&list);
  return caps;
}


/* ---- start / stop --------------------------------------------------------- */

static gboolean
gst_zc_kms_sink_start (GstBaseSink *bsink)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (bsink);
  State *st = self->state;
  std::string device, driver;
  int fd_prop;
  guint want_conn, want_crtc;
  {
    GST_OBJECT_LOCK (self);
    device = st->device;
    driver = st->driver_name;
    fd_prop = st->fd_prop;
    want_conn = st->connector_id;
    want_crtc = st->crtc_id;
    GST_OBJECT_UNLOCK (self);
  }

  std::string why;
  UniqueFd fd;
  if (fd_prop >= 0) {
    fd.reset (fcntl (fd_prop, F_DUPFD_CLOEXEC, 0));
    if (!fd.valid ())
      why = std::string ("fd ") + std::to_string (fd_prop) + ": " +
          g_strerror (errno);
  } else {
    fd = zc::open_card (device.c_str (), driver.c_str (), why);
  }
  if (!fd.valid ()) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE,
        ("Could not open a KMS display device."), ("%s", why.c_str ()));
    return FALSE;
  }
  char *node = drmGetDeviceNameFromFd2 (fd.get ());
  st->dev_path = node ? node : device;
  free (node);

  /* The display thread reads events only after poll() said so, but another
   * reader of a shared file may take them first: never block in read(). */
  int fl = fcntl (fd.get (), F_GETFL);
  if (fl >= 0 && !(fl & O_NONBLOCK))
    fcntl (fd.get (), F_SETFL, fl | O_NONBLOCK);

  auto dev = std::make_shared<zc::KmsDevice> (std::move (fd));
  if (dev->enable_atomic () < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("The display driver \"%s\" has no atomic modesetting; zckmssink "
            "needs it (use kmssink for legacy drivers).",
            dev->driver ().c_str ()), ("DRM_CLIENT_CAP_ATOMIC: %s",
            g_strerror (errno)));
    return FALSE;
  }
  /* Atomic commits need DRM master; a fresh open is master when nobody
   * else is, else asking for it fails unless we are privileged. */
  if (!drmIsMaster (dev->fd ()) && drmSetMaster (dev->fd ()) != 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, BUSY,
        ("Another program (a desktop session?) controls the display %s: "
            "stop it, run on a free virtual terminal, or pass its DRM fd "
            "in the fd property.", st->dev_path.c_str ()),
        ("not DRM master: %s", g_strerror (errno)));
    return FALSE;
  }
  zc::Output out;
  int ret = dev->find_output (want_conn, want_crtc, out, why);
  if (ret < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No usable display output on %s.", st->dev_path.c_str ()),
        ("%s", why.c_str ()));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "%s (%s): connector %u, CRTC %u, mode %s",
      st->dev_path.c_str (), dev->driver ().c_str (), out.connector_id,
      out.crtc_id, out.mode.name);

  GstVideoInfo bg;
  gst_video_info_set_format (&bg, GST_VIDEO_FORMAT_BGRx, out.mode.hdisplay,
      out.mode.vdisplay);
  auto background = std::make_shared<zc::DumbFb> ();
  ret = background->create (dev->fd (), &bg, DRM_FORMAT_XRGB8888);
  if (ret < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Could not allocate a framebuffer on %s.", st->dev_path.c_str ()),
        ("dumb buffer %ux%u: %s", out.mode.hdisplay, out.mode.vdisplay,
            g_strerror (-ret)));
    return FALSE;
  }
  memset (background->map (), 0, GST_VIDEO_INFO_SIZE (background->info ()));

  UniqueFd wake (eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid ()) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL),
        ("eventfd: %s", g_strerror (errno)));
    return FALSE;
  }

  /* The proposed pool allocates dumb buffers on the same device through
   * its own node; their dma-bufs import back into our fd. */
  st->allocator = gst_zc_allocator_new ("dumb", st->dev_path.c_str ());
  if (!st->allocator)
    GST_INFO_OBJECT (self, "no dumb allocator on %s: no pool proposed",
        st->dev_path.c_str ());

  st->dev = std::move (dev);
  st->out = std::move (out);
  st->background = std::move (background);
  st->wake = std::move (wake);
  st->plane_id_used = 0;
  st->dmabuf_failed = false;
  {
    std::lock_guard<std::mutex> g (st->frame_lock);
    st->stats = Stats ();
    st->warnings.reset ();
    st->stopping = false;
    st->failed = false;
    st->unlocked = false;
    st->modeset = true;
    st->last_overlay = 0;
  }
  st->thread = std::thread (display_thread, self);
  return TRUE;
}

static gboolean
gst_zc_kms_sink_stop (GstBaseSink *bsink)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (bsink);
  State *st = self->state;
  if (st->thread.joinable ()) {
    {
      std::lock_guard<std::mutex> g (st->frame_lock);
      st->stopping = true;
    }
    wake_thread (st);
    st->thread.join ();
  }
  if (st->dev && st->dev->fd () >= 0) {
    /* Switch the output off (a blocking commit, so it also waits for a
     * flip still pending) before the framebuffers go. */
    std::lock_guard<std::mutex> g (st->frame_lock);
    zc::AtomicReq req;
    for (const auto &p : st->out.planes)
      if (p.type == DRM_PLANE_TYPE_PRIMARY || p.id == st->last_overlay)
        zc::add_plane_off (req, p);
    req.add (st->out.connector_id, st->out.conn_crtc_id_prop, 0);
    req.add (st->out.crtc_id, st->out.crtc_mode_id_prop, 0);
    req.add (st->out.crtc_id, st->out.crtc_active_prop, 0);
    if (!st->modeset && (!req.ok () || drmModeAtomicCommit (st->dev->fd (),
                req.get (), DRM_MODE_ATOMIC_ALLOW_MODESET, nullptr)))
      GST_WARNING_OBJECT (self, "switching the output off: %s",
          g_strerror (errno));
    /* The flip of our last commit is done now: read its event, so that a
     * later user of a shared fd does not take it for its own. */
    drmEventContext ev = {};
    ev.version = 2;
    pollfd pfd = { st->dev->fd (), POLLIN, 0 };
    while (poll (&pfd, 1, 0) > 0 && (pfd.revents & POLLIN) &&
        drmHandleEvent (st->dev->fd (), &ev) == 0) {
    }
  }
  zc::WarningLimiter::Summary sum;
  bool summary;
  {
    std::lock_guard<std::mutex> g (st->frame_lock);
    st->next.reset ();
    st->later.reset ();
    st->in_flight.reset ();
    st->on_screen.reset ();
    summary = st->warnings.flush (g_get_monotonic_time (), &sum);
  }
  /* The display thread is gone: report the timeouts held back. */
  if (summary)
    post_timeout_summary (self, sum);
  gst_clear_buffer (&st->last_buffer);
  st->slots.clear ();
  st->background.reset ();
  st->retired.clear ();
  if (st->dev)
    st->dev->shutdown ();
  st->dev.reset ();
  st->wake.reset ();
  gst_clear_object (&st->allocator);
  return TRUE;
}

/* ---- caps and placement ------------------------------------------------- */

static GstCaps *
gst_zc_kms_sink_get_caps (GstBaseSink *bsink, GstCaps *filter)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (bsink);
  State *st = self->state;
  GstCaps *caps;
  if (st->dev) {
    std::vector<uint32_t> formats;
    for (const auto &p : st->out.planes)
      formats.insert (formats.end (), p.formats.begin (), p.formats.end ());
    caps = caps_for_formats (&formats);
  } else {
    caps = gst_pad_get_pad_template_caps (GST_BASE_SINK_PAD (bsink));
  }
  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, caps,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = tmp;
  }
  return caps;
}

/* Clips @dst to the screen and crops @src in proportion (@src may be
 * scaled to @dst). */
static bool
clip_to_screen (Rect &src, Rect &dst, unsigned sw, unsigned sh)
{
  int x0 = MAX (dst.x, 0), y0 = MAX (dst.y, 0);
  int x1 = MIN (dst.x + int (dst.w), int (sw));
  int y1 = MIN (dst.y + int (dst.h), int (sh));
  if (x1 <= x0 || y1 <= y0)
    return false;
  /* Source pixels per screen pixel is src.w / dst.w (1 unscaled). */
  auto map = [](int d, unsigned s_len, unsigned d_len) {
    return int ((int64_t (d) * s_len + d_len / 2) / d_len);
  };
  Rect s = src;
  s.x = src.x + map (x0 - dst.x, src.w, dst.w);
  s.y = src.y + map (y0 - dst.y, src.h, dst.h);
  s.w = MAX (1, map (x1 - dst.x, src.w, dst.w) - (s.x - src.x));
  s.h = MAX (1, map (y1 - dst.y, src.h, dst.h) - (s.y - src.y));
  src = s;
  dst = Rect { x0, y0, unsigned (x1 - x0), unsigned (y1 - y0) };
  return true;
}

/* Tries @src of @fb_id at @dst on @plane with a TEST_ONLY commit. */
static int
test_placement (State *st, const zc::PlaneInfo &plane, uint32_t fb_id,
    const Rect &src, const Rect &dst)
{
  const zc::Output &out = st->out;
  int fd = st->dev->fd ();
  zc::AtomicReq req;
  uint32_t blob = 0;
  if (drmModeCreatePropertyBlob (fd, &out.mode, sizeof (out.mode), &blob))
    return -errno;
  req.add (out.crtc_id, out.crtc_mode_id_prop, blob);
  req.add (out.crtc_id, out.crtc_active_prop, 1);
  req.add (out.connector_id, out.conn_crtc_id_prop, out.crtc_id);
  zc::add_plane (req, plane, out.crtc_id, fb_id, src, dst);
  const zc::PlaneInfo *primary = out.primary ();
  if (&plane != primary) {
    Rect full { 0, 0, out.mode.hdisplay, out.mode.vdisplay };
    zc::add_plane (req, *primary, out.crtc_id, st->background->fb_id (),
        full, full);
  }
  int ret = req.ok () ? 0 : -EINVAL;
  if (ret == 0 && drmModeAtomicCommit (fd, req.get (),
          DRM_MODE_ATOMIC_TEST_ONLY | DRM_MODE_ATOMIC_ALLOW_MODESET, nullptr))
    ret = -errno;
  drmModeDestroyPropertyBlob (fd, blob);
  return ret;
}

/* force-modeset: switches to the connector's mode of the frame's size (the
 * preferred one, else the first listed) with a black background of that
 * size; the next commit is a modeset. */
static bool
set_fitting_mode (GstZcKmsSink *self, const GstVideoInfo *info)
{
  State *st = self->state;
  const unsigned w = GST_VIDEO_INFO_WIDTH (info), h = GST_VIDEO_INFO_HEIGHT (info);
  const drmModeModeInfo *mode = nullptr;
  for (const auto &m : st->out.modes)
    if (m.hdisplay == w && m.vdisplay == h &&
        (!mode || (m.type & DRM_MODE_TYPE_PREFERRED)))
      mode = &m;
  /* No mode of the frame's size: the smallest one that holds the frame
   * (e.g. 4096x2160 for 3840x2160); the frame is centred on it. */
  for (const auto &m : st->out.modes)
    if (!mode && m.hdisplay >= w && m.vdisplay >= h) {
      const drmModeModeInfo *best = &m;
      for (const auto &n : st->out.modes)
        if (n.hdisplay >= w && n.vdisplay >= h &&
            guint64 (n.hdisplay) * n.vdisplay <
            guint64 (best->hdisplay) * best->vdisplay)
          best = &n;
      mode = best;
    }
  if (!mode) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("force-modeset: connector %u has no mode of %ux%u or larger.",
            st->out.connector_id, w, h), (NULL));
    return false;
  }
  if (mode->hdisplay == st->out.mode.hdisplay &&
      mode->vdisplay == st->out.mode.vdisplay &&
      mode->clock == st->out.mode.clock)
    return true;
  GstVideoInfo bg;
  gst_video_info_set_format (&bg, GST_VIDEO_FORMAT_BGRx, mode->hdisplay,
      mode->vdisplay);
  auto background = std::make_shared<zc::DumbFb> ();
  int ret = background->create (st->dev->fd (), &bg, DRM_FORMAT_XRGB8888);
  if (ret < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Could not allocate a framebuffer."), ("dumb buffer %ux%u: %s",
            mode->hdisplay, mode->vdisplay, g_strerror (-ret)));
    return false;
  }
  memset (background->map (), 0, GST_VIDEO_INFO_SIZE (background->info ()));
  GST_INFO_OBJECT (self, "force-modeset: mode %s", mode->name);
  std::lock_guard<std::mutex> g (st->frame_lock);
  st->out.mode = *mode;
  st->retired.push_back (std::move (st->background));
  st->background = std::move (background);
  st->modeset = true;
  return true;
}

static gboolean
gst_zc_kms_sink_set_caps (GstBaseSink *bsink, GstCaps *caps)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (bsink);
  State *st = self->state;
  GstVideoInfo info;
  if (!gst_video_info_from_caps (&info, caps))
    return FALSE;
  uint32_t fourcc = gst_zc_format_to_drm_fourcc (GST_VIDEO_INFO_FORMAT (&info));
  if (!fourcc)
    return FALSE;
  GstVideoRectangle rr;
  guint forced_plane;
  bool force_modeset;
  {
    GST_OBJECT_LOCK (self);
    rr = st->render_rect;
    forced_plane = st->plane_id;
    force_modeset = st->force_modeset;
    GST_OBJECT_UNLOCK (self);
  }
  if (force_modeset && !set_fitting_mode (self, &info))
    return FALSE;
  const unsigned sw = st->out.mode.hdisplay, sh = st->out.mode.vdisplay;
  const unsigned w = GST_VIDEO_INFO_WIDTH (&info), h = GST_VIDEO_INFO_HEIGHT (&info);
  Rect src { 0, 0, w, h }, dst;
  if (rr.w > 0 && rr.h > 0) {
    /* A size other than the frame's asks the plane to scale. */
    dst = Rect { rr.x, rr.y, unsigned (rr.w), unsigned (rr.h) };
  } else {
    /* Centred; a frame larger than the mode shows its centre. */
    dst = Rect { (int (sw) - int (w)) / 2, (int (sh) - int (h)) / 2, w, h };
  }
  const bool scaled = dst.w != w || dst.h != h;
  /* The same frame at the same place without scaling: a plane that takes
   * this but not the scaled placement cannot scale. */
  Rect usrc { 0, 0, w, h }, udst { dst.x, dst.y, w, h };
  const bool unscaled_visible = clip_to_screen (usrc, udst, sw, sh);
  if (!clip_to_screen (src, dst, sw, sh)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("The render rectangle lies outside the %ux%u screen.", sw, sh), (NULL));
    return FALSE;
  }

  /* Copy targets, also used to try the placement. */
  std::vector<std::shared_ptr<zc::DumbFb>> slots;
  for (unsigned i = 0; i < N_COPY_SLOTS; i++) {
    auto s = std::make_shared<zc::DumbFb> ();
    int ret = s->create (st->dev->fd (), &info, fourcc);
    if (ret < 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
          ("Could not allocate framebuffers for %ux%u %s.", w, h,
              gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info))),
          ("dumb buffer: %s", g_strerror (-ret)));
      return FALSE;
    }
    slots.push_back (std::move (s));
  }

  /* The first plane that accepts the placement: the primary plane, then
   * overlays (vkms's primary plane must cover the whole CRTC). */
  std::string tried;
  uint32_t chosen = 0;
  std::vector<const zc::PlaneInfo *> order;
  if (forced_plane) {
    if (const zc::PlaneInfo *p = st->out.find_plane (forced_plane))
      order.push_back (p);
    else
      tried = "plane " + std::to_string (forced_plane) + " is not usable on CRTC " +
          std::to_string (st->out.crtc_id);
  } else {
    order.push_back (st->out.primary ());
    for (const auto &p : st->out.planes)
      if (p.type == DRM_PLANE_TYPE_OVERLAY)
        order.push_back (&p);
  }
  unsigned n_cannot_scale = 0;
  {
    /* TEST_ONLY commits do not wait for a pending flip; the lock keeps the
     * display thread's commits out meanwhile. */
    std::lock_guard<std::mutex> g (st->frame_lock);
    for (const zc::PlaneInfo *p : order) {
      std::string why;
      if (!p->supports (fourcc)) {
        why = "format not supported";
      } else {
        int ret = test_placement (st, *p, slots[0]->fb_id (), src, dst);
        if (ret == 0) {
          chosen = p->id;
          break;
        }
        if (scaled && unscaled_visible &&
            test_placement (st, *p, slots[0]->fb_id (), usrc, udst) == 0) {
          why = "cannot scale";
          n_cannot_scale++;
        } else {
          why = std::string ("rejects this placement (") + g_strerror (-ret) +
              ")";
        }
      }
      tried += std::string (tried.empty () ? "" : "; ") +
          (p->type == DRM_PLANE_TYPE_PRIMARY ? "primary " : "") + "plane " +
          std::to_string (p->id) + " " + why;
    }
  }
  if (!chosen && n_cannot_scale) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("No display plane can scale the %ux%u %s frame to %ux%u "
            "(render-rectangle): %s.", w, h,
            gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info)),
            unsigned (rr.w), unsigned (rr.h), tried.c_str ()),
        ("src %d,%d %ux%u -> dst %d,%d %ux%u", src.x, src.y, src.w, src.h,
            dst.x, dst.y, dst.w, dst.h));
    return FALSE;
  }
  if (!chosen) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("No display plane can show a %ux%u %s frame at %d,%d.", src.w, src.h,
            gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info)), dst.x,
            dst.y), ("%s", tried.c_str ()));
    return FALSE;
  }
  st->src = src;
  st->dst = dst;
  GST_INFO_OBJECT (self, "%ux%u %s: plane %u, src %d,%d %ux%u -> %d,%d %ux%u",
      w, h, gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info)), chosen,
      src.x, src.y, src.w, src.h, dst.x, dst.y, dst.w, dst.h);
  st->vinfo = info;
  st->fourcc = fourcc;
  st->plane_id_used = chosen;
  st->slots = std::move (slots);
  return TRUE;
}

/* ---- rendering ------------------------------------------------------------ */

/* The framebuffer of a buffer whose planes are all dma-bufs, or -errno. */
static int
import_buffer (State *st, GstBuffer *buf, uint32_t *fb_id)
{
  const GstVideoInfo *info = &st->vinfo;
  GstVideoMeta *vmeta = gst_buffer_get_video_meta (buf);
  zc::FbKey key;
  key.width = GST_VIDEO_INFO_WIDTH (info);
  key.height = GST_VIDEO_INFO_HEIGHT (info);
  key.fourcc = st->fourcc;
  key.n_planes = GST_VIDEO_INFO_N_PLANES (info);
  GstMemory *first = nullptr;
  for (guint i = 0; i < key.n_planes; i++) {
    gsize offset = vmeta ? vmeta->offset[i] : GST_VIDEO_INFO_PLANE_OFFSET (info, i);
    gint stride = vmeta ? vmeta->stride[i] : GST_VIDEO_INFO_PLANE_STRIDE (info, i);
    guint idx, len;
    gsize skip;
    if (!gst_buffer_find_memory (buf, offset, 1, &idx, &len, &skip))
      return -EINVAL;
    GstMemory *mem = gst_buffer_peek_memory (buf, idx);
    if (!gst_is_dmabuf_memory (mem) || stride <= 0)
      return -ENOTSUP;
    key.fds[i] = gst_dmabuf_memory_get_fd (mem);
    key.pitches[i] = stride;
    key.offsets[i] = mem->offset + skip;
    if (!first)
      first = mem;
  }
  return st->dev->get_fb (first, key, fb_id);
}

/* Copies @buf into a free slot of our own; -errno. */
static int
copy_buffer (GstZcKmsSink *self, GstBuffer *buf, Frame &f)
{
  State *st = self->state;
  std::shared_ptr<zc::DumbFb> slot;
  {
    std::lock_guard<std::mutex> g (st->frame_lock);
    /* Held only by us: not on screen, committed or queued. */
    for (auto &s : st->slots)
      if (s.use_count () == 1) {
        slot = s;
        break;
      }
  }
  if (!slot)
    return -EBUSY;
  GstVideoFrame in, outf;
  if (!gst_video_frame_map (&in, &st->vinfo, buf, GST_MAP_READ))
    return -EIO;
  GstBuffer *wrap = gst_buffer_new_wrapped_full (GstMemoryFlags (0),
      slot->map (), GST_VIDEO_INFO_SIZE (slot->info ()), 0,
      GST_VIDEO_INFO_SIZE (slot->info ()), nullptr, nullptr);
  bool ok = gst_video_frame_map (&outf, slot->info (), wrap, GST_MAP_WRITE);
  if (ok) {
    ok = gst_video_frame_copy (&outf, &in);
    gst_video_frame_unmap (&outf);
  }
  gst_video_frame_unmap (&in);
  gst_buffer_unref (wrap);
  if (!ok)
    return -EIO;
  f.fb_id = slot->fb_id ();
  f.slot = std::move (slot);
  return 0;
}

static GstFlowReturn
gst_zc_kms_sink_show_frame (GstVideoSink *vsink, GstBuffer *buf)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (vsink);
  State *st = self->state;
  guint64 fence_timeout;
  {
    GST_OBJECT_LOCK (self);
    fence_timeout = st->fence_timeout;
    GST_OBJECT_UNLOCK (self);
  }
  {
    std::lock_guard<std::mutex> g (st->frame_lock);
    if (st->failed)
      return GST_FLOW_ERROR;
  }
  if (!st->plane_id_used)
    return GST_FLOW_NOT_NEGOTIATED;
  /* Prerolling shows a buffer, then PLAYING renders it again. */
  if (buf == st->last_buffer)
    return GST_FLOW_OK;
  gst_buffer_replace (&st->last_buffer, buf);

  auto f = std::make_unique<Frame> ();
  f->plane_id = st->plane_id_used;
  f->src = st->src;
  f->dst = st->dst;
  f->deadline_us = g_get_monotonic_time () + gint64 (fence_timeout / 1000);

  if (GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf)) {
    int acquire = gst_zc_fence_meta_get_acquire_fence (meta);
    GstZcSyncFileInfo fi;
    if (acquire >= 0 && gst_zc_sync_file_get_status (acquire, &fi) && fi.status < 0) {
      GST_DEBUG_OBJECT (self, "acquire fence error %d: frame dropped", fi.status);
      std::lock_guard<std::mutex> g (st->frame_lock);
      st->stats.fence_errors++;
      return GST_FLOW_OK;
    }
    if (acquire >= 0)
      f->acquire.reset (gst_zc_sync_file_dup (acquire));
  }

  int ret = st->dmabuf_failed ? -ENOTSUP : import_buffer (st, buf, &f->fb_id);
  if (ret == 0) {
    f->buffer = gst_buffer_ref (buf);
  } else {
    if (ret != -ENOTSUP && !st->dmabuf_failed) {
      GST_WARNING_OBJECT (self, "dma-buf import failed (%s): copying frames",
          g_strerror (-ret));
      st->dmabuf_failed = true;
    }
    /* The CPU reads the frame: it must be complete (bounded wait). */
    if (f->acquire.valid ()) {
      int w = gst_zc_sync_file_wait (f->acquire.get (), fence_timeout);
      GstZcSyncFileInfo fi;
      if (w < 0 || (gst_zc_sync_file_get_status (f->acquire.get (), &fi) &&
              fi.status < 0)) {
        std::lock_guard<std::mutex> g (st->frame_lock);
        if (w == -ETIMEDOUT)
          st->stats.fence_timeouts++;
        else
          st->stats.fence_errors++;
        return GST_FLOW_OK;
      }
      f->acquire.reset ();
    }
    ret = copy_buffer (self, buf, *f);
    if (ret < 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Could not copy a frame."),
          ("%s", g_strerror (-ret)));
      return GST_FLOW_ERROR;
    }
    /* Said once per stream where a user looking at GST_PERFORMANCE sees it,
     * then per frame at LOG level; the count is in stats "copied". */
    bool first;
    {
      std::lock_guard<std::mutex> g (st->frame_lock);
      first = st->stats.copied == 0;
    }
    const char *why = st->dmabuf_failed ? "the driver refused to import the "
        "dma-buf" : "the input is not dma-buf memory";
    if (first)
      GST_CAT_WARNING_OBJECT (CAT_PERFORMANCE, self, "copying %ux%u frames "
          "into the sink's own dumb buffers: %s",
          GST_VIDEO_INFO_WIDTH (&st->vinfo), GST_VIDEO_INFO_HEIGHT (&st->vinfo),
          why);
    else
      GST_CAT_LOG_OBJECT (CAT_PERFORMANCE, self, "copied a %ux%u frame: %s",
          GST_VIDEO_INFO_WIDTH (&st->vinfo), GST_VIDEO_INFO_HEIGHT (&st->vinfo),
          why);
  }

  {
    std::lock_guard<std::mutex> g (st->frame_lock);
    if (!f->buffer)
      st->stats.copied++;
    if (!st->next) {
      st->next = std::move (f);
    } else {
      if (st->later)
        st->stats.dropped++;    /* never shown: replaced by a newer frame */
      st->later = std::move (f);
    }
  }
  wake_thread (st);
  return GST_FLOW_OK;
}

/* ---- EOS ------------------------------------------------------------------- */

/* EOS is posted once the last frame is on screen (or was dropped): an
 * application that stops at EOS then sees what it sent. The wait happens
 * only here, on the streaming thread that has no frames left to push; it is
 * bounded by fence-timeout (a frame may wait that long for its fence) plus
 * a second for the flip, and ends early when basesink unlocks (flush,
 * state change). */
static void
wait_until_idle (GstZcKmsSink *self)
{
  State *st = self->state;
  guint64 fence_timeout;
  {
    GST_OBJECT_LOCK (self);
    fence_timeout = st->fence_timeout;
    GST_OBJECT_UNLOCK (self);
  }
  auto deadline = std::chrono::steady_clock::now () +
      std::chrono::nanoseconds (MIN (fence_timeout, 3600 * GST_SECOND)) +
      std::chrono::seconds (1);
  std::unique_lock<std::mutex> lk (st->frame_lock);
  bool idle = st->idle_cond.wait_until (lk, deadline, [st] {
        return (!st->next && !st->later && !st->in_flight) || st->unlocked || st->failed ||
            st->stopping;
      });
  if (!idle)
    GST_WARNING_OBJECT (self, "EOS: the last frame did not reach the screen "
        "in time");
}

static gboolean
gst_zc_kms_sink_event (GstBaseSink *bsink, GstEvent *event)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (bsink);
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    wait_until_idle (self);
  return GST_BASE_SINK_CLASS (gst_zc_kms_sink_parent_class)->event (bsink,
      event);
}

static gboolean
gst_zc_kms_sink_unlock (GstBaseSink *bsink)
{
  State *st = GST_ZC_KMS_SINK (bsink)->state;
  std::lock_guard<std::mutex> g (st->frame_lock);
  st->unlocked = true;
  st->idle_cond.notify_all ();
  return TRUE;
}

static gboolean
gst_zc_kms_sink_unlock_stop (GstBaseSink *bsink)
{
  State *st = GST_ZC_KMS_SINK (bsink)->state;
  std::lock_guard<std::mutex> g (st->frame_lock);
  st->unlocked = false;
  return TRUE;
}

/* ---- allocation ------------------------------------------------------------ */

static gboolean
gst_zc_kms_sink_propose_allocation (GstBaseSink *bsink, GstQuery *query)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (bsink);
  State *st = self->state;
  GstCaps *caps;
  gboolean need_pool;
  gst_query_parse_allocation (query, &caps, &need_pool);
  gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  gst_query_add_allocation_meta (query, GST_ZC_FENCE_META_API_TYPE, NULL);

  GstVideoInfo info;
  if (!caps || !gst_video_info_from_caps (&info, caps) || !st->allocator)
    return TRUE;
  GstBufferPool *pool = NULL;
  guint size = GST_VIDEO_INFO_SIZE (&info);
  if (need_pool) {
    pool = gst_zc_buffer_pool_new (st->allocator);
    GstStructure *config = gst_buffer_pool_get_config (pool);
    gst_buffer_pool_config_set_params (config, caps, size, 4, 0);
    gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
    if (!gst_buffer_pool_set_config (pool, config)) {
      GST_WARNING_OBJECT (self, "dumb buffer pool rejected %" GST_PTR_FORMAT,
          caps);
      gst_object_unref (pool);
      return TRUE;
    }
    config = gst_buffer_pool_get_config (pool);
    gst_buffer_pool_config_get_params (config, NULL, &size, NULL, NULL);
    gst_structure_free (config);
  }
  /* The display holds up to four frames (on screen, committed, next,
   * later). */
  gst_query_add_allocation_pool (query, pool, size, 4, 0);
  gst_query_add_allocation_param (query, st->allocator, NULL);
  if (pool)
    gst_object_unref (pool);
  return TRUE;
}

/* ---- GObject -------------------------------------------------------------- */

static void
gst_zc_kms_sink_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (object);
  State *st = self->state;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_DEVICE:
      st->device = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_DRIVER_NAME:
      st->driver_name = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_FD:
      st->fd_prop = g_value_get_int (value);
      break;
    case PROP_CONNECTOR_ID:
      st->connector_id = g_value_get_uint (value);
      break;
    case PROP_CRTC_ID:
      st->crtc_id = g_value_get_uint (value);
      break;
    case PROP_PLANE_ID:
      st->plane_id = g_value_get_uint (value);
      break;
    case PROP_RENDER_RECTANGLE:{
      const GValue *v[4];
      if (gst_value_array_get_size (value) == 4) {
        for (guint i = 0; i < 4; i++)
          v[i] = gst_value_array_get_value (value, i);
        st->render_rect.x = g_value_get_int (v[0]);
        st->render_rect.y = g_value_get_int (v[1]);
        st->render_rect.w = g_value_get_int (v[2]);
        st->render_rect.h = g_value_get_int (v[3]);
      } else {
        st->render_rect = GstVideoRectangle ();
      }
      break;
    }
    case PROP_FENCE_TIMEOUT:
      st->fence_timeout = g_value_get_uint64 (value);
      break;
    case PROP_FORCE_MODESET:
      st->force_modeset = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static GstStructure *
make_stats (State *st)
{
  std::lock_guard<std::mutex> g (st->frame_lock);
  const Stats &s = st->stats;
  return gst_structure_new ("zckmssink-stats",
      "shown", G_TYPE_UINT64, s.shown,
      "dropped", G_TYPE_UINT64, s.dropped,
      "copied", G_TYPE_UINT64, s.copied,
      "fence-errors", G_TYPE_UINT64, s.fence_errors,
      "fence-timeouts", G_TYPE_UINT64, s.fence_timeouts,
      "latency", G_TYPE_UINT64, s.latency_n ?
      s.latency_sum_us * 1000 / s.latency_n : guint64 (0), NULL);
}

static void
gst_zc_kms_sink_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (object);
  State *st = self->state;
  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, make_stats (st));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_DEVICE:
      g_value_set_string (value, st->device.c_str ());
      break;
    case PROP_DRIVER_NAME:
      g_value_set_string (value, st->driver_name.c_str ());
      break;
    case PROP_FD:
      g_value_set_int (value, st->fd_prop);
      break;
    case PROP_CONNECTOR_ID:
      g_value_set_uint (value, st->connector_id);
      break;
    case PROP_CRTC_ID:
      g_value_set_uint (value, st->crtc_id);
      break;
    case PROP_PLANE_ID:
      g_value_set_uint (value, st->plane_id);
      break;
    case PROP_RENDER_RECTANGLE:{
      const int r[4] = { st->render_rect.x, st->render_rect.y,
        st->render_rect.w, st->render_rect.h };
      for (int i = 0; i < 4; i++) {
        GValue v = G_VALUE_INIT;
        g_value_init (&v, G_TYPE_INT);
        g_value_set_int (&v, r[i]);
        gst_value_array_append_and_take_value (value, &v);
      }
      break;
    }
    case PROP_FENCE_TIMEOUT:
      g_value_set_uint64 (value, st->fence_timeout);
      break;
    case PROP_FORCE_MODESET:
      g_value_set_boolean (value, st->force_modeset);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zc_kms_sink_finalize (GObject *object)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (object);
  delete self->state;
  G_OBJECT_CLASS (gst_zc_kms_sink_parent_class)->finalize (object);
}

static void
gst_zc_kms_sink_init (GstZcKmsSink *self)
{
  self->state = new State ();
}

static void
gst_zc_kms_sink_class_init (GstZcKmsSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);
  GstVideoSinkClass *videosink_class = GST_VIDEO_SINK_CLASS (klass);

  gobject_class->set_property = gst_zc_kms_sink_set_property;
  gobject_class->get_property = gst_zc_kms_sink_get_property;
  gobject_class->finalize = gst_zc_kms_sink_finalize;

  const GParamFlags rw = GParamFlags (G_PARAM_READWRITE |
      G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  /**
   * GstZcKmsSink:device:
   *
   * DRM card node to open (/dev/dri/cardN). Empty: see #GstZcKmsSink:driver-name.
   */
  g_properties[PROP_DEVICE] = g_param_spec_string ("device", "Device",
      "DRM card node to open", NULL, rw);
  /**
   * GstZcKmsSink:driver-name:
   *
   * Opens the first card whose driver has this name (e.g. "vkms"). When both
   * this and #GstZcKmsSink:device are empty, the first card with a
   * connected connector is used.
   */
  g_properties[PROP_DRIVER_NAME] = g_param_spec_string ("driver-name",
      "Driver name", "DRM driver of the card to open", NULL, rw);
  /**
   * GstZcKmsSink:fd:
   *
   * An open DRM fd to use instead of opening a card (duplicated; the
   * application keeps its own). Shares DRM master with the application.
   */
  g_properties[PROP_FD] = g_param_spec_int ("fd", "File descriptor",
      "An open DRM fd to use (-1: open a card)", -1, G_MAXINT, -1, rw);
  /**
   * GstZcKmsSink:connector-id:
   *
   * Connector to drive; 0 picks the first connected one.
   */
  g_properties[PROP_CONNECTOR_ID] = g_param_spec_uint ("connector-id",
      "Connector id", "Connector to use (0: first connected)", 0, G_MAXUINT,
      0, rw);
  /**
   * GstZcKmsSink:crtc-id:
   *
   * CRTC to use; 0 picks the first one the connector can drive.
   */
  g_properties[PROP_CRTC_ID] = g_param_spec_uint ("crtc-id", "CRTC id",
      "CRTC to use (0: automatic)", 0, G_MAXUINT, 0, rw);
  /**
   * GstZcKmsSink:plane-id:
   *
   * Plane to show the video on; 0 tries the primary plane, then the overlay
   * planes, with a test commit of the placement.
   */
  g_properties[PROP_PLANE_ID] = g_param_spec_uint ("plane-id", "Plane id",
      "Plane to use (0: automatic)", 0, G_MAXUINT, 0, rw);
  /**
   * GstZcKmsSink:render-rectangle:
   *
   * Where the frame goes on the screen, <x, y, width, height>. A size other
   * than the frame's scales the frame on a plane that can scale (checked
   * with a test commit); when no plane can, negotiation fails with an error
   * that says so. Parts outside the screen are cropped. Unset: centred,
   * unscaled.
   */
  g_properties[PROP_RENDER_RECTANGLE] =
      gst_param_spec_array ("render-rectangle", "Render rectangle",
      "<x, y, width, height> on the screen (unset: centred)",
      g_param_spec_int ("rect-value", "Rectangle value", "x, y, width or height",
          G_MININT, G_MAXINT, 0,
          GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)), rw);
  /**
   * GstZcKmsSink:fence-timeout:
   *
   * How long (ns) a frame may wait for its acquire fence; then it is
   * dropped with a warning message and the pipeline goes on.
   */
  g_properties[PROP_FENCE_TIMEOUT] = g_param_spec_uint64 ("fence-timeout",
      "Fence timeout", "Longest wait for a frame's acquire fence (ns)", 0,
      G_MAXUINT64, DEFAULT_FENCE_TIMEOUT,
      GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstZcKmsSink:force-modeset:
   *
   * Switch the output to the connector's mode of the frame's size, so that
   * the frame fills the screen on the primary plane; when the connector has
   * no such mode, to the smallest mode that holds the frame, with the frame
   * centred. No mode large enough is a negotiation error.
   */
  g_properties[PROP_FORCE_MODESET] = g_param_spec_boolean ("force-modeset",
      "Force modeset", "Use the mode of the frame's size", FALSE, rw);
  /**
   * GstZcKmsSink:stats:
   *
   * Counters since start: shown (frames that reached the screen), dropped
   * (replaced by a newer frame before the display was free), copied (not
   * importable input), fence-errors, fence-timeouts, and latency (mean
   * commit-to-flip time, ns).
   */
  g_properties[PROP_STATS] = g_param_spec_boxed ("stats", "Statistics",
      "Frame counters and latency", GST_TYPE_STRUCTURE,
      GParamFlags (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (gobject_class, N_PROPS, g_properties);

  GstCaps *caps = caps_for_formats (nullptr);
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
  gst_caps_unref (caps);
  gst_element_class_set_static_metadata (element_class, "Zero-copy KMS sink",
      "Sink/Video", "Shows dma-buf video on a KMS display with atomic commits "
      "and explicit fences", "gst-zerocopy");

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_stop);
  basesink_class->get_caps = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_get_caps);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_set_caps);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_event);
  basesink_class->unlock = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_unlock);
  basesink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_unlock_stop);
  basesink_class->propose_allocation =
      GST_DEBUG_FUNCPTR (gst_zc_kms_sink_propose_allocation);
  videosink_class->show_frame = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_show_frame);
}
