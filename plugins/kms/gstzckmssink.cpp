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
 * the display replaces it (counted as replaced). Other input is copied into
 * the sink's own dumb buffers (counted as copies). A render-rectangle of
 * another size than the frame scales it on a plane that can; EOS is posted
 * once the last frame is on screen.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc ! video/x-raw,format=BGRx,width=640,height=480 ! zckmssink driver-name=vkms
 * ]|
 */
#include "gstzckmssink.h"
#include "zc-glib.h"
#include "zc-kms-device.h"
#include "zc-kms-placement.h"
#include "zc-stats.h"

#include <gst/allocators/allocators.h>
#include <gst/zerocopy/zerocopy.h>

#include <algorithm>
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

GST_DEBUG_CATEGORY (gst_zc_kms_sink_debug);
#define GST_CAT_DEFAULT gst_zc_kms_sink_debug
GST_DEBUG_CATEGORY_STATIC (CAT_PERFORMANCE);

using zc::Rect;
using zc::UniqueFd;

#include "zc-kms-sink-private.h"

using namespace zc;

static void
gst_zc_kms_sink_video_overlay_init (GstVideoOverlayInterface *iface);

/* The type's code is a list of statements: laid out by hand. */
/* clang-format off */
G_DEFINE_TYPE_WITH_CODE (GstZcKmsSink, gst_zc_kms_sink, GST_TYPE_VIDEO_SINK,
    GST_DEBUG_CATEGORY_INIT (gst_zc_kms_sink_debug, "zckmssink", 0,
        "atomic KMS sink");
    GST_DEBUG_CATEGORY_GET (CAT_PERFORMANCE, "GST_PERFORMANCE");
    G_IMPLEMENT_INTERFACE (GST_TYPE_VIDEO_OVERLAY,
        gst_zc_kms_sink_video_overlay_init));
/* clang-format on */
GST_ELEMENT_REGISTER_DEFINE (zckmssink, "zckmssink", GST_RANK_SECONDARY,
    GST_TYPE_ZC_KMS_SINK);

enum {
  PROP_0,
  PROP_DEVICE,
  PROP_DRIVER_NAME,
  PROP_FD,
  PROP_CONNECTOR_ID,
  PROP_CRTC_ID,
  PROP_PLANE_ID,
  PROP_FENCE_TIMEOUT,
  PROP_FORCE_MODESET,
  PROP_STATS,
  /* GstVideoOverlay's render-rectangle comes after ours. */
  PROP_LAST
};
static GParamSpec *g_properties[PROP_LAST];

static GstCaps *
caps_for_formats (const std::vector<uint32_t> *fourccs, unsigned prefer_w = 0,
    unsigned prefer_h = 0)
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
  /* The screen's size first (when known), so that a source that can do
   * any size fills the screen instead of being cropped or centred. */
  for (int any_size = prefer_w ? 0 : 1; any_size <= 1; any_size++) {
    for (int dmabuf = 1; dmabuf >= 0; dmabuf--) {
      GstStructure *s = any_size ?
          gst_structure_new ("video/x-raw", "width", GST_TYPE_INT_RANGE, 1,
              G_MAXINT, "height", GST_TYPE_INT_RANGE, 1, G_MAXINT, NULL) :
          gst_structure_new ("video/x-raw", "width", G_TYPE_INT, int (prefer_w),
              "height", G_TYPE_INT, int (prefer_h), NULL);
      gst_structure_set_value (s, "format", &list);
      gst_caps_append_structure_full (caps, s,
          dmabuf ?
              gst_caps_features_new (GST_CAPS_FEATURE_MEMORY_DMABUF, NULL) :
              NULL);
    }
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
    zc::ObjectLock lock (self);
    device = st->device;
    driver = st->driver_name;
    fd_prop = st->fd_prop;
    want_conn = st->connector_id;
    want_crtc = st->crtc_id;
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
            dev->driver ().c_str ()),
        ("DRM_CLIENT_CAP_ATOMIC: %s", g_strerror (errno)));
    return FALSE;
  }
  /* Atomic commits need DRM master; a fresh open is master when nobody
   * else is, else asking for it fails unless we are privileged. */
  if (!drmIsMaster (dev->fd ()) && drmSetMaster (dev->fd ()) != 0) {
    int err = errno;
    int holder = zc::master_fd_in_process (dev->fd ());
    if (holder >= 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, BUSY,
          ("This process already controls the display %s through another "
           "file descriptor (fd %d: another zckmssink, or the application's "
           "own DRM fd). Only one DRM master can commit: pass that fd in the "
           "fd property, or use one zckmssink per display.",
              st->dev_path.c_str (), holder),
          ("not DRM master: %s; fd %d of this process is master",
              g_strerror (err), holder));
      return FALSE;
    }
    GST_ELEMENT_ERROR (self, RESOURCE, BUSY,
        ("Another program (a desktop session?) controls the display %s: "
         "stop it, run on a free virtual terminal, or pass its DRM fd "
         "in the fd property.",
            st->dev_path.c_str ()),
        ("not DRM master: %s", g_strerror (err)));
    return FALSE;
  }
  zc::Output out;
  int ret = dev->find_output (want_conn, want_crtc, out, why);
  if (ret < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No usable display output on %s: %s.", st->dev_path.c_str (),
            why.c_str ()),
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

  zc::Wakeup wake;
  ret = wake.open ();
  if (ret < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL),
        ("eventfd: %s", g_strerror (-ret)));
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
    st->wake.signal ();
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
    if (!st->modeset &&
        (!req.ok () ||
            drmModeAtomicCommit (st->dev->fd (), req.get (),
                DRM_MODE_ATOMIC_ALLOW_MODESET, nullptr)))
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
    st->pending.clear ();
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
  st->wake.close ();
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
    caps = caps_for_formats (&formats, st->out.mode.hdisplay,
        st->out.mode.vdisplay);
  } else {
    caps = gst_pad_get_pad_template_caps (GST_BASE_SINK_PAD (bsink));
  }
  if (filter) {
    /* Our order first: it puts the screen's size first. */
    GstCaps *tmp = gst_caps_intersect_full (caps, filter,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = tmp;
  }
  return caps;
}

/* force-modeset: switches to the mode zc::fitting_mode() picks for the
 * frame, with a black background of that size; the next commit is a
 * modeset. */
static bool
set_fitting_mode (GstZcKmsSink *self, const GstVideoInfo *info)
{
  State *st = self->state;
  const unsigned w = GST_VIDEO_INFO_WIDTH (info),
                 h = GST_VIDEO_INFO_HEIGHT (info);
  const drmModeModeInfo *mode = zc::fitting_mode (st->out.modes, w, h);
  if (!mode) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("force-modeset: connector %u has no mode of %ux%u or larger.",
            st->out.connector_id, w, h),
        (NULL));
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
        ("Could not allocate a framebuffer."),
        ("dumb buffer %ux%u: %s", mode->hdisplay, mode->vdisplay,
            g_strerror (-ret)));
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
    zc::ObjectLock lock (self);
    rr = st->render_rect;
    forced_plane = st->plane_id;
    force_modeset = st->force_modeset;
  }
  if (force_modeset && !set_fitting_mode (self, &info))
    return FALSE;
  const unsigned w = GST_VIDEO_INFO_WIDTH (&info),
                 h = GST_VIDEO_INFO_HEIGHT (&info);
  const char *format = gst_video_format_to_string (
      GST_VIDEO_INFO_FORMAT (&info));

  /* Copy targets, also used to try the placement. */
  std::vector<std::shared_ptr<zc::DumbFb>> slots;
  for (unsigned i = 0; i < N_COPY_SLOTS; i++) {
    auto s = std::make_shared<zc::DumbFb> ();
    int ret = s->create (st->dev->fd (), &info, fourcc);
    if (ret < 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
          ("Could not allocate framebuffers for %ux%u %s.", w, h, format),
          ("dumb buffer: %s", g_strerror (-ret)));
      return FALSE;
    }
    slots.push_back (std::move (s));
  }

  zc::PlacementRequest req;
  req.width = w;
  req.height = h;
  req.fourcc = fourcc;
  req.format = format;
  req.test_fb = slots[0]->fb_id ();
  req.render_rect = rr;
  req.plane_id = forced_plane;
  zc::Placement pl;
  zc::PlacementError err;
  bool placed;
  {
    /* TEST_ONLY commits do not wait for a pending flip; the lock keeps the
     * display thread's commits out meanwhile. */
    std::lock_guard<std::mutex> g (st->frame_lock);
    zc::PlacementTarget target { st->dev->fd (), &st->out,
      st->background->fb_id () };
    placed = zc::place_frame (target, req, pl, err);
  }
  if (!placed) {
    /* A NULL format gives no debug text when there are no details. */
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("%s", err.text.c_str ()),
        (err.debug.empty () ? NULL : "%s", err.debug.c_str ()));
    return FALSE;
  }
  if ((rr.w <= 0 || rr.h <= 0) &&
      (w > st->out.mode.hdisplay || h > st->out.mode.vdisplay))
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("The %ux%u frame is larger than the %ux%u screen: only its centre "
         "(%ux%u) is shown. Use caps of the screen's size, force-modeset=true "
         "for a mode that holds the frame, or a render-rectangle on a plane "
         "that scales.",
            w, h, st->out.mode.hdisplay, st->out.mode.vdisplay, pl.src.w,
            pl.src.h),
        ("cropped to src %d,%d %ux%u", pl.src.x, pl.src.y, pl.src.w, pl.src.h));
  st->src = pl.src;
  st->dst = pl.dst;
  GST_INFO_OBJECT (self, "%ux%u %s: plane %u, src %d,%d %ux%u -> %d,%d %ux%u",
      w, h, format, pl.plane_id, pl.src.x, pl.src.y, pl.src.w, pl.src.h,
      pl.dst.x, pl.dst.y, pl.dst.w, pl.dst.h);
  st->vinfo = info;
  st->fourcc = fourcc;
  st->plane_id_used = pl.plane_id;
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
    gsize offset = vmeta ? vmeta->offset[i] :
                           GST_VIDEO_INFO_PLANE_OFFSET (info, i);
    gint stride = vmeta ? vmeta->stride[i] :
                          GST_VIDEO_INFO_PLANE_STRIDE (info, i);
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
    zc::ObjectLock lock (self);
    fence_timeout = st->fence_timeout;
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
  {
    std::lock_guard<std::mutex> g (st->frame_lock);
    st->stats.frames++;
  }

  auto f = std::make_unique<Frame> ();
  f->plane_id = st->plane_id_used;
  f->src = st->src;
  f->dst = st->dst;
  f->deadline_us = g_get_monotonic_time () + gint64 (fence_timeout / 1000);

  /* The display thread waits for the acquire fence (and drops the frame
   * if it fails); the meta keeps its fd and its status. */
  if (GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf))
    if (gst_zc_fence_meta_get_acquire_fence (meta) >= 0)
      f->meta = meta;

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
    if (f->meta) {
      int w = gst_zc_sync_file_wait (f->acquire_fd (), fence_timeout);
      if (w < 0 || gst_zc_fence_meta_get_acquire_status (f->meta) < 0) {
        std::lock_guard<std::mutex> g (st->frame_lock);
        if (w == -ETIMEDOUT)
          st->stats.fence_timeouts++;
        else
          st->stats.fence_errors++;
        return GST_FLOW_OK;
      }
      f->meta = nullptr;
    }
    ret = copy_buffer (self, buf, *f);
    if (ret < 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Could not copy a frame."),
          ("%s", g_strerror (-ret)));
      return GST_FLOW_ERROR;
    }
    /* Said once per stream where a user looking at GST_PERFORMANCE sees it,
     * then per frame at LOG level; the count is in stats "copies". */
    bool first;
    {
      std::lock_guard<std::mutex> g (st->frame_lock);
      first = st->stats.copies == 0;
    }
    const char *why = st->dmabuf_failed ? "the driver refused to import the "
                                          "dma-buf" :
                                          "the input is not dma-buf memory";
    if (first)
      GST_CAT_WARNING_OBJECT (CAT_PERFORMANCE, self,
          "copying %ux%u frames "
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
      st->stats.copies++;
    /* More than MAX_PENDING: the oldest frame known to be ready makes way
     * (a newer ready one would replace it anyway). Frames still waiting
     * for their fence stay: each is a capture in progress, and their
     * number is bounded by the producer's buffers. */
    if (st->pending.size () >= MAX_PENDING) {
      auto it = std::find_if (st->pending.begin (), st->pending.end (),
          [] (const FramePtr &p) { return !p->meta || p->status > 0; });
      if (it != st->pending.end ()) {
        st->stats.replaced++;
        st->pending.erase (it);
      }
    }
    st->pending.push_back (std::move (f));
  }
  st->wake.signal ();
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
    zc::ObjectLock lock (self);
    fence_timeout = st->fence_timeout;
  }
  auto deadline = std::chrono::steady_clock::now () +
      std::chrono::nanoseconds (MIN (fence_timeout, 3600 * GST_SECOND)) +
      std::chrono::seconds (1);
  std::unique_lock<std::mutex> lk (st->frame_lock);
  bool idle = st->idle_cond.wait_until (lk, deadline, [st] {
    return (st->pending.empty () && !st->in_flight) || st->unlocked ||
        st->failed || st->stopping;
  });
  if (!idle)
    GST_WARNING_OBJECT (self,
        "EOS: the last frame did not reach the screen "
        "in time");
}

static gboolean
gst_zc_kms_sink_event (GstBaseSink *bsink, GstEvent *event)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (bsink);
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    wait_until_idle (self);
  return GST_BASE_SINK_CLASS (gst_zc_kms_sink_parent_class)
      ->event (bsink, event);
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
    gst_buffer_pool_config_add_option (config,
        GST_BUFFER_POOL_OPTION_VIDEO_META);
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
  /* The display holds a frame on screen, one committed and the pending
   * ones. */
  gst_query_add_allocation_pool (query, pool, size, 2 + MAX_PENDING, 0);
  gst_query_add_allocation_param (query, st->allocator, NULL);
  if (pool)
    gst_object_unref (pool);
  return TRUE;
}

/* ---- GstVideoOverlay ------------------------------------------------------ */

/*
 * Where the frame goes on the screen, in screen pixels. A size other than
 * the frame's scales the frame on a plane that can scale (checked with a
 * test commit); when no plane can, negotiation fails with an error that
 * says so. Parts outside the screen are cropped. -1, -1 for the size (the
 * interface's reset), or any size <= 0, unsets it: the frame is centred,
 * unscaled. The rectangle is read when caps are set, so a change applies
 * from the next caps on.
 */
static void
gst_zc_kms_sink_set_render_rectangle (GstVideoOverlay *overlay, gint x, gint y,
    gint width, gint height)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (overlay);
  GST_DEBUG_OBJECT (self, "render rectangle %d,%d %dx%d", x, y, width, height);
  zc::ObjectLock lock (self);
  if (width <= 0 || height <= 0)
    self->state->render_rect = GstVideoRectangle ();
  else
    self->state->render_rect = GstVideoRectangle { x, y, width, height };
}

/* Nothing to redraw: the display keeps scanning out the framebuffer on
 * screen, and on KMS no other window can damage it. */
static void
gst_zc_kms_sink_expose (GstVideoOverlay *overlay)
{
  GST_DEBUG_OBJECT (overlay, "expose: the frame on screen stays there");
}

/* KMS has no windows: the sink drives a plane of the whole output, placed
 * by render-rectangle. A handle is accepted (applications set one on
 * every overlay sink) and ignored. */
static void
gst_zc_kms_sink_set_window_handle (GstVideoOverlay *overlay, guintptr handle)
{
  if (handle)
    GST_WARNING_OBJECT (overlay,
        "window handle %" G_GUINTPTR_FORMAT
        " ignored: KMS has no windows, use the render rectangle",
        handle);
}

static void
gst_zc_kms_sink_video_overlay_init (GstVideoOverlayInterface *iface)
{
  iface->set_render_rectangle = gst_zc_kms_sink_set_render_rectangle;
  iface->expose = gst_zc_kms_sink_expose;
  iface->set_window_handle = gst_zc_kms_sink_set_window_handle;
}

/* ---- GObject -------------------------------------------------------------- */

static void
gst_zc_kms_sink_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (object);
  State *st = self->state;
  /* render-rectangle goes through the interface, which takes the object
   * lock itself. */
  if (gst_video_overlay_set_property (object, PROP_LAST, prop_id, value))
    return;
  zc::ObjectLock lock (self);
  switch (prop_id) {
    case PROP_DEVICE:
      st->device = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_DRIVER_NAME:
      st->driver_name = g_value_get_string (value) ?
          g_value_get_string (value) :
          "";
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
}

static GstStructure *
make_stats (GstZcKmsSink *self)
{
  State *st = self->state;
  std::lock_guard<std::mutex> g (st->frame_lock);
  const Stats &s = st->stats;
  return zc::stats_new (GST_ELEMENT (self),
      {
          { zc::Stat::FRAMES, s.frames },
          { zc::Stat::SHOWN, s.shown },
          { zc::Stat::REPLACED, s.replaced },
          /* Lost frames are exactly those whose fence failed or timed out. */
          { zc::Stat::DROPPED, s.fence_errors + s.fence_timeouts },
          { zc::Stat::COPIES, s.copies },
          { zc::Stat::FENCE_ERRORS, s.fence_errors },
          { zc::Stat::FENCE_TIMEOUTS, s.fence_timeouts },
          { zc::Stat::FLIP_LATENCY,
              s.latency_n ? s.latency_sum_us * 1000 / s.latency_n :
                            guint64 (0) },
      });
}

static void
gst_zc_kms_sink_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstZcKmsSink *self = GST_ZC_KMS_SINK (object);
  State *st = self->state;
  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, make_stats (self));
    return;
  }
  zc::ObjectLock lock (self);
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

  const GParamFlags rw = GParamFlags (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
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
      "Connector id", "Connector to use (0: first connected)", 0, G_MAXUINT, 0,
      rw);
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
   * Counters since start, named as in every element of the plugin: frames
   * (buffers received; a preroll buffer rendered again counts once), shown
   * (frames that reached the screen), replaced (a newer frame took their
   * place before the display was free), dropped (lost because their
   * acquire fence signalled an error or timed out: fence-errors +
   * fence-timeouts), copies (frames copied because the input was not
   * importable), fence-errors, fence-timeouts, and flip-latency (mean
   * commit-to-flip time, ns).
   */
  g_properties[PROP_STATS] = zc::stats_param_spec ("Frame counters and "
                                                   "commit-to-flip latency");
  g_object_class_install_properties (gobject_class, PROP_LAST, g_properties);
  /*
   * render-rectangle (write-only) is GstVideoOverlay's, so that
   * applications can also use gst_video_overlay_set_render_rectangle():
   * see gst_zc_kms_sink_set_render_rectangle() for what it means here.
   */
  gst_video_overlay_install_properties (gobject_class, PROP_LAST);

  GstCaps *caps = caps_for_formats (nullptr);
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
  gst_caps_unref (caps);
  gst_element_class_set_static_metadata (element_class, "Zero-copy KMS sink",
      "Sink/Video",
      "Shows dma-buf video on a KMS display with atomic commits "
      "and explicit fences",
      ZC_ELEMENT_AUTHOR);

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_stop);
  basesink_class->get_caps = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_get_caps);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_set_caps);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_event);
  basesink_class->unlock = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_unlock);
  basesink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_unlock_stop);
  basesink_class->propose_allocation = GST_DEBUG_FUNCPTR (
      gst_zc_kms_sink_propose_allocation);
  videosink_class->show_frame = GST_DEBUG_FUNCPTR (gst_zc_kms_sink_show_frame);
}
