/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-zcamsrc
 * @title: zcamsrc
 *
 * Captures from a zcam device (/dev/zcamN). The frame memory is the
 * device's own dma-bufs, created once per stream and recycled; every buffer
 * carries a #GstVideoMeta with the kernel's pitches and offsets and a
 * #GstZcFenceMeta whose acquire fence signals when the frame is complete.
 *
 * With fence-mode=early (the default) a buffer is pushed as soon as it is
 * queued to the kernel, before the frame is written: consumers that can
 * let hardware wait on the fence (KMS, GPU) start their work earlier. With
 * fence-mode=late a buffer is pushed when the kernel reports the frame
 * complete. Release fences that downstream adds to a buffer are handed to
 * the kernel as the in-fence of the next capture into that buffer.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 zcamsrc ! 'video/x-raw(memory:DMABuf),width=640,height=480' ! fakesink
 * gst-launch-1.0 zcamsrc fence-mode=late ! v4l2fwhtenc output-io-mode=dmabuf-import ! fakesink
 * ]|
 */
#include "gstzcamsrc.h"

#include "gstzchandoutpool.h"
#include "zc-downstream-copy.h"
#include "zc-fd.h"
#include "zc-glib.h"
#include "zc-ratelimit.h"
#include "zc-stats.h"
#include "zc-zcamsrc-layout.h"
#include "zc-zcamsrc-state.h"

#include <gst/allocators/allocators.h>
#include <gst/video/video.h>
#include <gst/zerocopy/zerocopy.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <poll.h>
#include <time.h>

GST_DEBUG_CATEGORY (gst_zcam_src_debug);
#define GST_CAT_DEFAULT gst_zcam_src_debug
GST_DEBUG_CATEGORY_STATIC (CAT_PERFORMANCE);

using zc::UniqueFd;
using zc::Slot;
using zc::Step;
using zc::Warning;
using State = zc::ZcamSrcState;

/* Longest wait for a completion while frames are queued, at least. */
#define MIN_EVENT_TIMEOUT (2 * GST_SECOND)

enum {
  PROP_0,
  PROP_DEVICE,
  PROP_FENCE_MODE,
  PROP_NUM_BUFFERS_POOL,
  PROP_STATS,
  N_PROPERTIES
};

static GParamSpec *g_properties[N_PROPERTIES];

struct _GstZcamSrc
{
  GstPushSrc parent;
  State *state;
};

#define gst_zcam_src_parent_class parent_class
/* The type's code is a list of statements: laid out by hand. */
/* clang-format off */
G_DEFINE_TYPE_WITH_CODE (GstZcamSrc, gst_zcam_src, GST_TYPE_PUSH_SRC,
    GST_DEBUG_CATEGORY_INIT (gst_zcam_src_debug, "zcamsrc", 0,
        "zcam capture source");
    GST_DEBUG_CATEGORY_GET (CAT_PERFORMANCE, "GST_PERFORMANCE"));
/* clang-format on */
GST_ELEMENT_REGISTER_DEFINE (zcamsrc, "zcamsrc", GST_RANK_SECONDARY,
    GST_TYPE_ZCAM_SRC);

GType
gst_zcam_src_fence_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_ZCAM_SRC_FENCE_MODE_EARLY, "Push when queued, with an acquire fence",
        "early" },
    { GST_ZCAM_SRC_FENCE_MODE_LATE, "Push when the frame is complete", "late" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstZcamSrcFenceMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ---- caps ---- */

static GstCaps *
caps_for_formats (const std::vector<GstVideoFormat> &formats, gint min_w,
    gint max_w, gint min_h, gint max_h, gint min_fps, gint max_fps)
{
  GValue list = G_VALUE_INIT;
  g_value_init (&list, GST_TYPE_LIST);
  for (GstVideoFormat f : formats) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, gst_video_format_to_string (f));
    gst_value_list_append_and_take_value (&list, &v);
  }
  GstStructure *s = gst_structure_new ("video/x-raw", "width",
      GST_TYPE_INT_RANGE, min_w, max_w, "height", GST_TYPE_INT_RANGE, min_h,
      max_h, "framerate", GST_TYPE_FRACTION_RANGE, min_fps, 1, max_fps, 1,
      NULL);
  if (formats.size () == 1)
    gst_structure_set_value (s, "format", gst_value_list_get_value (&list, 0));
  else
    gst_structure_set_value (s, "format", &list);
  g_value_unset (&list);

  /* dma-buf first: it is what the element is for. */
  GstCaps *caps = gst_caps_new_empty ();
  gst_caps_append_structure_full (caps, gst_structure_copy (s),
      gst_caps_features_new (GST_CAPS_FEATURE_MEMORY_DMABUF, NULL));
  gst_caps_append_structure (caps, s);
  return caps;
}

static GstCaps *
template_caps ()
{
  std::vector<GstVideoFormat> formats;
  for (guint i = 0; i < gst_zc_format_get_n_formats (); i++) {
    const GstZcFormatInfo *fi = gst_zc_format_get_info_by_index (i);
    if (fi->zcam)
      formats.push_back (fi->format);
  }
  return caps_for_formats (formats, 1, G_MAXINT, 1, G_MAXINT, 0, G_MAXINT);
}

GstCaps *
zc::zcamsrc_device_caps (const struct zcam_caps &c)
{
  std::vector<GstVideoFormat> formats;
  for (guint i = 0; i < std::min<guint> (c.num_formats, ZCAM_MAX_FORMATS);
       i++) {
    GstVideoFormat f = gst_zc_format_from_drm_fourcc (c.formats[i]);
    if (f != GST_VIDEO_FORMAT_UNKNOWN)
      formats.push_back (f);
    else
      GST_DEBUG ("device fourcc %" GST_FOURCC_FORMAT " has no GStreamer format",
          GST_FOURCC_ARGS (c.formats[i]));
  }
  if (formats.empty ())
    return gst_caps_new_empty ();
  return caps_for_formats (formats, c.min_width, c.max_width, c.min_height,
      c.max_height, c.min_fps, c.max_fps);
}

/* ---- helpers ---- */

static GstClockTime
monotonic_to_running (GstZcamSrc *self, guint64 ts_ns)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  if (!clock)
    return GST_CLOCK_TIME_NONE;
  GstClockTime now = gst_clock_get_time (clock);
  gst_object_unref (clock);
  GstClockTime base = gst_element_get_base_time (GST_ELEMENT (self));
  guint64 mono = guint64 (zc::monotonic_ns ());
  /* Same as ts - base when the pipeline clock is the monotonic system
   * clock; also right for any other clock that runs at the same rate. */
  gint64 running = gint64 (now) - gint64 (base) -
      (gint64 (mono) - gint64 (ts_ns));
  return running < 0 ? 0 : GstClockTime (running);
}

/* ---- warnings about failed frames ---- */

/* Early mode pushed the frame before it failed: the consumer sees the
 * error status of its acquire fence. Late mode never pushes it. The details
 * let an application match the warning to the buffer (offset = sequence). */
static bool
failed_frames_pushed (State *st)
{
  return st->mode == GST_ZCAM_SRC_FENCE_MODE_EARLY && !st->copy;
}

/* The summary of the frames that failed since the last warning; its
 * details are those of the last of them, plus how many there were. */
static void
post_summary (GstZcamSrc *self, const zc::WarningLimiter::Summary &sum)
{
  State *st = self->state;
  const Warning &w = st->last_failure;
  GST_ELEMENT_WARNING_WITH_DETAILS (self, STREAM, DECODE,
      ("%" G_GUINT64_FORMAT " more frames were not captured correctly in the "
       "last %u s (the last one: frame %" G_GUINT64_FORMAT "); see the "
       "stats property.",
          sum.count, zc::summary_seconds (sum.span_us), w.sequence),
      ("warnings are rate-limited: one summary every %u s at most",
          guint (zc::WARNING_INTERVAL_US / G_USEC_PER_SEC)),
      ("sequence", G_TYPE_UINT64, w.sequence, "fence-error", G_TYPE_INT,
          w.error, "pushed", G_TYPE_BOOLEAN, failed_frames_pushed (st),
          "failed", G_TYPE_UINT64, sum.count, NULL));
}

/* A frame whose fence signalled an error (counted in stats already): the
 * first one of the stream is a warning of its own, later ones go into a
 * summary at most every WARNING_INTERVAL_US (common/zc-ratelimit.h). */
static void
warn_failed_frame (GstZcamSrc *self, const Warning &w)
{
  State *st = self->state;
  st->last_failure = w;
  zc::WarningLimiter::Summary sum;
  switch (st->warnings.failed (g_get_monotonic_time (), &sum)) {
    case zc::WarningLimiter::Post::FIRST:
      GST_ELEMENT_WARNING_WITH_DETAILS (self, STREAM, DECODE,
          ("Frame %" G_GUINT64_FORMAT " was not captured correctly%s.",
              w.sequence,
              failed_frames_pushed (st) ?
                  "; its acquire fence carries the error" :
                  " and is dropped"),
          ("the frame's fence signalled %s", g_strerror (-w.error)),
          ("sequence", G_TYPE_UINT64, w.sequence, "fence-error", G_TYPE_INT,
              w.error, "pushed", G_TYPE_BOOLEAN, failed_frames_pushed (st),
              NULL));
      break;
    case zc::WarningLimiter::Post::SUMMARY:
      post_summary (self, sum);
      break;
    case zc::WarningLimiter::Post::NONE:
      break;
  }
}

/* ---- GObject ---- */

static void
gst_zcam_src_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstZcamSrc *self = GST_ZCAM_SRC (object);
  GST_OBJECT_LOCK (self);
  zc::Props &p = self->state->props;
  switch (prop_id) {
    case PROP_DEVICE:
      p.device = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_FENCE_MODE:
      p.fence_mode = GstZcamSrcFenceMode (g_value_get_enum (value));
      break;
    case PROP_NUM_BUFFERS_POOL:
      p.num_buffers_pool = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zcam_src_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstZcamSrc *self = GST_ZCAM_SRC (object);
  GST_OBJECT_LOCK (self);
  const zc::Props &p = self->state->props;
  const zc::Stats &s = self->state->stats;
  switch (prop_id) {
    case PROP_DEVICE:
      g_value_set_string (value, p.device.empty () ? NULL : p.device.c_str ());
      break;
    case PROP_FENCE_MODE:
      g_value_set_enum (value, p.fence_mode);
      break;
    case PROP_NUM_BUFFERS_POOL:
      g_value_set_uint (value, p.num_buffers_pool);
      break;
    case PROP_STATS:
      g_value_take_boxed (value,
          zc::stats_new (GST_ELEMENT (self),
              { { zc::Stat::FRAMES, s.frames },
                  { zc::Stat::DROPPED, s.dropped },
                  { zc::Stat::FENCE_ERRORS, s.fence_errors },
                  { zc::Stat::LATENCY, s.latency } }));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zcam_src_finalize (GObject *object)
{
  GstZcamSrc *self = GST_ZCAM_SRC (object);
  delete self->state;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---- device open/close (NULL <-> READY) ---- */

static gboolean
open_device (GstZcamSrc *self)
{
  State *st = self->state;
  std::string path;
  {
    GST_OBJECT_LOCK (self);
    path = st->props.device;
    GST_OBJECT_UNLOCK (self);
  }
  if (path.empty ()) {
    auto devs = zc::zcam_list_devices ();
    if (devs.empty ()) {
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("No zcam capture device found (is zcam.ko loaded?)."),
          ("no /dev/zcam* node"));
      return FALSE;
    }
    path = devs.front ();
  }
  int ret = st->dev.open (path);
  if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("Device %s does not exist (is zcam.ko loaded?).", path.c_str ()),
        ("open: %s", g_strerror (-ret)));
    return FALSE;
  } else if (ret == -EBUSY) {
    GST_ELEMENT_ERROR (self, RESOURCE, BUSY,
        ("Device %s is busy; close the application using it.", path.c_str ()),
        ("open: %s", g_strerror (-ret)));
    return FALSE;
  } else if (ret == -EACCES || ret == -EPERM) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE,
        ("No permission to open %s; add the user to the device's group.",
            path.c_str ()),
        ("open: %s", g_strerror (-ret)));
    return FALSE;
  } else if (ret == -EPROTO) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Device %s speaks another zcam uapi version; rebuild the plugin "
         "against the installed module.",
            path.c_str ()),
        ("we need version %d", ZCAM_API_VERSION));
    return FALSE;
  } else if (ret < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE,
        ("Could not open %s as a zcam device.", path.c_str ()),
        ("open/QUERYCAP: %s", g_strerror (-ret)));
    return FALSE;
  }

  /* CPU maps through this allocator wait (bounded) for the frame's fence,
   * so a CPU consumer of an early-pushed buffer never reads a half frame.
   * It opens the device once more only for its own bookkeeping. */
  st->allocator = gst_zc_allocator_new ("zcam", path.c_str ());
  if (!st->allocator) {
    GST_WARNING_OBJECT (self,
        "no zc allocator; CPU maps will not wait for "
        "fences");
    st->allocator = gst_dmabuf_allocator_new ();
  }
  GST_INFO_OBJECT (self, "opened %s: %u formats, %ux%u..%ux%u, %u..%u fps",
      path.c_str (), st->dev.caps ().num_formats, st->dev.caps ().min_width,
      st->dev.caps ().min_height, st->dev.caps ().max_width,
      st->dev.caps ().max_height, st->dev.caps ().min_fps,
      st->dev.caps ().max_fps);
  return TRUE;
}

static void
close_device (GstZcamSrc *self)
{
  State *st = self->state;
  st->dev.close ();
  gst_clear_object (&st->allocator);
}

static GstStateChangeReturn
gst_zcam_src_change_state (GstElement *element, GstStateChange transition)
{
  GstZcamSrc *self = GST_ZCAM_SRC (element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !open_device (self))
    return GST_STATE_CHANGE_FAILURE;

  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    close_device (self);
  return ret;
}

/* ---- GstBaseSrc ---- */

static gboolean
gst_zcam_src_start (GstBaseSrc *src)
{
  GstZcamSrc *self = GST_ZCAM_SRC (src);
  State *st = self->state;
  if (int ret = st->wake.open ()) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL),
        ("eventfd: %s", g_strerror (-ret)));
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  st->stats = zc::Stats ();
  st->mode = st->props.fence_mode;
  GST_OBJECT_UNLOCK (self);
  st->warnings.reset ();
  st->negotiated = false;
  st->flushing = false;
  return TRUE;
}

static gboolean
gst_zcam_src_stop (GstBaseSrc *src)
{
  GstZcamSrc *self = GST_ZCAM_SRC (src);
  State *st = self->state;
  self->state->stop_streaming ();
  /* The streaming thread is gone: report the failures held back. */
  zc::WarningLimiter::Summary sum;
  if (st->warnings.flush (g_get_monotonic_time (), &sum))
    post_summary (self, sum);
  st->negotiated = false;
  st->copy_warned = false;
  st->wake.close ();
  return TRUE;
}

static GstCaps *
gst_zcam_src_get_caps (GstBaseSrc *src, GstCaps *filter)
{
  GstZcamSrc *self = GST_ZCAM_SRC (src);
  GstCaps *caps = self->state->dev.is_open () ?
      zc::zcamsrc_device_caps (self->state->dev.caps ()) :
      gst_pad_get_pad_template_caps (GST_BASE_SRC_PAD (src));
  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, caps,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = tmp;
  }
  return caps;
}

/* Negotiation failed because downstream wants what the device cannot do
 * (e.g. a capsfilter of 8000x8000 or 1000 fps): say so with the device's
 * limits instead of leaving only "not-negotiated". */
static gboolean
gst_zcam_src_negotiate (GstBaseSrc *src)
{
  if (GST_BASE_SRC_CLASS (parent_class)->negotiate (src))
    return TRUE;
  GstZcamSrc *self = GST_ZCAM_SRC (src);
  State *st = self->state;
  if (!st->dev.is_open ())
    return FALSE;
  g_autoptr (GstCaps) ours = zc::zcamsrc_device_caps (st->dev.caps ());
  g_autoptr (GstCaps)
      peer = gst_pad_peer_query_caps (GST_BASE_SRC_PAD (src), NULL);
  if (!peer || gst_caps_can_intersect (ours, peer))
    return FALSE; /* something else failed; it says so itself */
  const struct zcam_caps &c = st->dev.caps ();
  std::string formats;
  for (guint i = 0; i < std::min<guint> (c.num_formats, ZCAM_MAX_FORMATS);
       i++) {
    GstVideoFormat f = gst_zc_format_from_drm_fourcc (c.formats[i]);
    if (f != GST_VIDEO_FORMAT_UNKNOWN)
      formats += std::string (formats.empty () ? "" : ", ") +
          gst_video_format_to_string (f);
  }
  g_autofree gchar *want = gst_caps_to_string (peer);
  GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
      ("Device %s cannot capture what downstream accepts. It captures %s at "
       "%ux%u to %ux%u pixels and %u to %u fps; downstream accepts %s.",
          st->dev.path ().c_str (), formats.c_str (), c.min_width, c.min_height,
          c.max_width, c.max_height, c.min_fps, c.max_fps, want),
      ("device caps: %" GST_PTR_FORMAT, ours));
  return FALSE;
}

static GstCaps *
gst_zcam_src_fixate (GstBaseSrc *src, GstCaps *caps)
{
  caps = gst_caps_make_writable (caps);
  /* Keep only the preferred structure, then pick the size closest to
   * 1920x1080 (the largest the range allows up to that) at 30 fps. */
  caps = gst_caps_truncate (caps);
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gst_structure_fixate_field_nearest_int (s, "width", 1920);
  gst_structure_fixate_field_nearest_int (s, "height", 1080);
  gst_structure_fixate_field_nearest_fraction (s, "framerate", 30, 1);
  return GST_BASE_SRC_CLASS (parent_class)->fixate (src, caps);
}

static gboolean
gst_zcam_src_set_caps (GstBaseSrc *src, GstCaps *caps)
{
  GstZcamSrc *self = GST_ZCAM_SRC (src);
  State *st = self->state;
  GstVideoInfo info;
  if (!gst_video_info_from_caps (&info, caps))
    return FALSE;

  if (!st->slots.empty ()) {
    /* The device keeps its layout while buffers of it exist: start over. */
    GST_INFO_OBJECT (self, "renegotiating: ending the current stream");
    self->state->stop_streaming ();
    if (st->dev.reopen () < 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE,
          ("Could not reopen %s.", st->dev.path ().c_str ()), (NULL));
      return FALSE;
    }
  }

  guint32 fourcc = gst_zc_format_to_drm_fourcc (GST_VIDEO_INFO_FORMAT (&info));
  struct zcam_format fmt = {};
  fmt.width = GST_VIDEO_INFO_WIDTH (&info);
  fmt.height = GST_VIDEO_INFO_HEIGHT (&info);
  fmt.fourcc = fourcc;
  int ret = fourcc ? st->dev.set_format (fmt) : -EINVAL;
  if (ret < 0 || GST_VIDEO_INFO_FPS_N (&info) <= 0) {
    gchar *str = gst_caps_to_string (caps);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Device %s cannot capture %s.", st->dev.path ().c_str (), str),
        ("S_FMT %s %ux%u: %s",
            gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info)),
            fmt.width, fmt.height,
            ret < 0 ? g_strerror (-ret) : "variable frame rate"));
    g_free (str);
    return FALSE;
  }

  st->plain_info = info;
  st->info = zc::layout_info (&st->plain_info, fmt);
  st->format = fmt;
  st->fps_n = GST_VIDEO_INFO_FPS_N (&info);
  st->fps_d = GST_VIDEO_INFO_FPS_D (&info);
  st->period = gst_util_uint64_scale_int (GST_SECOND, st->fps_d, st->fps_n);
  GstCapsFeatures *f = gst_caps_get_features (caps, 0);
  st->dmabuf_caps = f &&
      gst_caps_features_contains (f, GST_CAPS_FEATURE_MEMORY_DMABUF);
  st->negotiated = true;
  GST_INFO_OBJECT (self,
      "format %" GST_FOURCC_FORMAT " %ux%u, pitch %u, "
      "size %" G_GUINT64_FORMAT ", %u/%u fps%s",
      GST_FOURCC_ARGS (fourcc), fmt.width, fmt.height, fmt.pitches[0],
      (guint64) fmt.size, st->fps_n, st->fps_d,
      st->dmabuf_caps ? ", dma-buf caps" : "");
  return TRUE;
}

static bool
same_layout (const GstVideoInfo *a, const GstVideoInfo *b)
{
  for (guint i = 0; i < GST_VIDEO_INFO_N_PLANES (a); i++)
    if (a->stride[i] != b->stride[i] || a->offset[i] != b->offset[i])
      return false;
  return true;
}

/* Re-sets the format with the strictest alignment downstream asks for (see
 * zcamsrc-layout.cpp): the smallest height padding whose frame is as large
 * as the largest buffer a consumer expects. Only before buffers exist. */
static bool
adapt_layout (GstZcamSrc *self, GstQuery *query)
{
  State *st = self->state;
  zc::LayoutNeeds needs = zc::layout_needs (query, &st->plain_info);
  GST_DEBUG_OBJECT (self,
      "downstream needs: pitch alignment %u, height "
      "alignment %u, %" G_GUINT64_FORMAT " bytes per frame",
      needs.pitch_align, needs.height_align, needs.min_size);
  struct zcam_format fmt = st->format;
  guint height_align = std::max (needs.height_align, 1u);
  GstVideoInfo info;
  for (;;) {
    fmt = st->format;
    fmt.flags = ZCAM_FMT_TRY;
    fmt.pitch_align = needs.pitch_align;
    fmt.height_align = height_align;
    int ret = st->dev.set_format (fmt);
    if (ret < 0) {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("Device %s cannot lay out frames as downstream asks.",
              st->dev.path ().c_str ()),
          ("pitch alignment %u, height alignment %u: %s", needs.pitch_align,
              height_align, g_strerror (-ret)));
      return false;
    }
    info = zc::layout_info (&st->plain_info, fmt);
    if (GST_VIDEO_INFO_SIZE (&info) >= needs.min_size || height_align >= 64)
      break;
    height_align *= 2;
  }
  if (GST_VIDEO_INFO_SIZE (&info) < needs.min_size)
    GST_CAT_WARNING_OBJECT (CAT_PERFORMANCE, self,
        "downstream expects %" G_GUINT64_FORMAT
        " bytes per frame, more than the %" G_GSIZE_FORMAT
        " of any layout zcam offers: a consumer may copy",
        needs.min_size, GST_VIDEO_INFO_SIZE (&info));
  if (fmt.pitches[0] == st->format.pitches[0] &&
      fmt.offsets[1] == st->format.offsets[1] &&
      GST_VIDEO_INFO_SIZE (&info) == GST_VIDEO_INFO_SIZE (&st->info))
    return true;

  fmt.flags = 0;
  int ret = st->dev.set_format (fmt);
  if (ret < 0) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Device %s cannot lay out frames as downstream asks.",
            st->dev.path ().c_str ()),
        ("S_FMT: %s", g_strerror (-ret)));
    return false;
  }
  GST_INFO_OBJECT (self,
      "layout for downstream (pitch alignment %u, "
      "frame size %" G_GUINT64_FORMAT "): pitch %u, height alignment %u, "
      "chroma offset %u, frame %" G_GSIZE_FORMAT " bytes",
      needs.pitch_align, needs.min_size, fmt.pitches[0], fmt.height_align,
      fmt.offsets[1], GST_VIDEO_INFO_SIZE (&info));
  st->format = fmt;
  st->info = info;
  return true;
}

static gboolean
gst_zcam_src_decide_allocation (GstBaseSrc *src, GstQuery *query)
{
  GstZcamSrc *self = GST_ZCAM_SRC (src);
  State *st = self->state;

  guint want;
  GST_OBJECT_LOCK (self);
  want = st->props.num_buffers_pool;
  GST_OBJECT_UNLOCK (self);

  guint min = 0, max = 0;
  GstBufferPool *down_pool = NULL;
  if (gst_query_get_n_allocation_pools (query) > 0)
    gst_query_parse_nth_allocation_pool (query, 0, &down_pool, NULL, &min,
        &max);
  guint count = std::max (want, min);
  if (max)
    count = std::min (count, max);
  count = std::clamp<guint> (count, 2,
      std::max (2u, st->dev.caps ().max_buffers));

  if (st->slots.empty () && !adapt_layout (self, query))
    return FALSE;

  bool video_meta = gst_query_find_allocation_meta (query,
      GST_VIDEO_META_API_TYPE, NULL);
  st->copy = !st->dmabuf_caps && !video_meta &&
      !same_layout (&st->info, &st->plain_info);

  zc::warn_if_downstream_copies (GST_ELEMENT (self), query,
      GST_BASE_SRC_PAD (src), CAT_PERFORMANCE, st->copy_warned);

  while (gst_query_get_n_allocation_pools (query) > 0)
    gst_query_remove_nth_allocation_pool (query, 0);

  if (st->copy) {
    /* Downstream maps frames with the default layout and cannot be told the
     * kernel's pitches: the frames go through a system-memory pool. */
    GST_CAT_WARNING_OBJECT (CAT_PERFORMANCE, self,
        "copying every frame: "
        "downstream accepts neither dma-buf memory nor GstVideoMeta, and the "
        "device's layout (pitch %d) differs from the default one (pitch %d)",
        st->info.stride[0], st->plain_info.stride[0]);
    GstBufferPool *pool = gst_video_buffer_pool_new ();
    GstStructure *config = gst_buffer_pool_get_config (pool);
    GstCaps *caps = gst_video_info_to_caps (&st->plain_info);
    gst_buffer_pool_config_set_params (config, caps,
        GST_VIDEO_INFO_SIZE (&st->plain_info), 2, 0);
    gst_caps_unref (caps);
    gst_buffer_pool_set_config (pool, config);
    gst_query_add_allocation_pool (query, pool,
        GST_VIDEO_INFO_SIZE (&st->plain_info), 2, 0);
    gst_object_unref (pool);
  }
  if (down_pool)
    gst_object_unref (down_pool);

  /* Buffers live for the whole stream; only a new format makes new ones. */
  if (st->slots.empty ()) {
    if (!st->create_slots (count))
      return FALSE;
    GST_INFO_OBJECT (self,
        "%u buffers (asked %u, downstream min %u max %u), "
        "%s mode%s",
        count, want, min, max,
        st->mode == GST_ZCAM_SRC_FENCE_MODE_EARLY ? "early" : "late",
        st->copy ? ", copying" : "");
    GST_OBJECT_LOCK (self);
    st->stats.latency = st->period;
    GST_OBJECT_UNLOCK (self);
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_latency (GST_OBJECT (self)));
  }
  return TRUE;
}

static gboolean
gst_zcam_src_query (GstBaseSrc *src, GstQuery *query)
{
  GstZcamSrc *self = GST_ZCAM_SRC (src);
  State *st = self->state;
  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    if (!st->negotiated)
      return FALSE;
    /* A frame is at least one frame time old when complete; with every
     * buffer queued the last one waits that many frame times. */
    guint n;
    {
      std::lock_guard<std::mutex> lock (st->lock);
      n = std::max<size_t> (st->slots.size (), 1);
    }
    gst_query_set_latency (query, TRUE, st->period, st->period * n);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS (parent_class)->query (src, query);
}

static gboolean
gst_zcam_src_unlock (GstBaseSrc *src)
{
  State *st = GST_ZCAM_SRC (src)->state;
  std::lock_guard<std::mutex> lock (st->lock);
  st->flushing = true;
  st->wake_up ();
  return TRUE;
}

static gboolean
gst_zcam_src_unlock_stop (GstBaseSrc *src)
{
  State *st = GST_ZCAM_SRC (src)->state;
  std::lock_guard<std::mutex> lock (st->lock);
  st->flushing = false;
  st->wake.clear ();
  return TRUE;
}

static GstFlowReturn
gst_zcam_src_create (GstPushSrc *psrc, GstBuffer **outbuf)
{
  GstZcamSrc *self = GST_ZCAM_SRC (psrc);
  State *st = self->state;
  if (!st->negotiated || st->slots.empty ())
    return GST_FLOW_NOT_NEGOTIATED;

  const GstClockTime timeout = std::max<GstClockTime> (MIN_EVENT_TIMEOUT,
      10 * st->period);
  for (;;) {
    std::vector<Warning> warnings;
    size_t idx = 0;
    int err = 0;
    Step step;
    bool kernel_busy;
    GstBuffer *buffer = nullptr;
    UniqueFd acquire;
    guint64 seq = 0, ts = 0;
    gint64 completion_offset = 0;
    bool complete = false;
    {
      std::lock_guard<std::mutex> lock (st->lock);
      step = st->next_step (warnings, &idx, &err);
      kernel_busy = std::any_of (st->slots.begin (), st->slots.end (),
          [] (const Slot &s) { return s.in_kernel; });
      if (step == Step::PUSH) {
        Slot &s = st->slots[idx];
        s.downstream = true;
        buffer = s.buffer;
        acquire = std::move (s.acquire_fence);
        seq = s.sequence;
        ts = s.timestamp_ns;
        complete = !s.in_kernel;
        completion_offset = st->completion_offset ();
      }
    }

    for (const Warning &w : warnings)
      warn_failed_frame (self, w);

    if (step == Step::FLUSHING)
      return GST_FLOW_FLUSHING;
    if (step == Step::ERROR) {
      GST_ELEMENT_ERROR (self, RESOURCE, READ,
          ("Capture from %s failed.", st->dev.path ().c_str ()),
          ("%s", g_strerror (-err)));
      return GST_FLOW_ERROR;
    }
    if (step == Step::WAIT) {
      struct pollfd pfd[2] = {
        { st->dev.fd (), POLLIN, 0 },
        { st->wake.fd (), POLLIN, 0 },
      };
      int ms = kernel_busy ? int (timeout / GST_MSECOND) : -1;
      int n;
      do {
        n = poll (pfd, 2, ms);
      } while (n < 0 && errno == EINTR);
      if (n == 0) {
        GST_ELEMENT_ERROR (self, RESOURCE, READ,
            ("Device %s stopped delivering frames.", st->dev.path ().c_str ()),
            ("no completion within %" GST_TIME_FORMAT,
                GST_TIME_ARGS (timeout)));
        return GST_FLOW_ERROR;
      }
      if (pfd[1].revents)
        st->wake.clear ();
      continue;
    }

    /* Step::PUSH */
    GstBuffer *out =
        gst_zc_hand_out_pool_hand_out (GST_ZC_HAND_OUT_POOL (st->pool), buffer);
    if (!out) {
      std::lock_guard<std::mutex> lock (st->lock);
      st->slots[idx].buffer = nullptr;
      st->slots[idx].downstream = false;
      return GST_FLOW_FLUSHING;
    }
    const bool early = st->mode == GST_ZCAM_SRC_FENCE_MODE_EARLY && !st->copy;
    /* The PTS is the time the frame's fence signals (zcam completes it),
     * as CLOCK_MONOTONIC running time. Late mode, and early mode for a
     * frame that completed before its turn to be pushed: that time. Early
     * mode otherwise pushes before the capture completes: the expected
     * completion time, the end of the period QBUF predicted (one frame
     * period per sequence number after STREAMON; the device's timer runs on
     * CLOCK_MONOTONIC from there) plus the readout time the recent
     * completions showed. A frame the device runs late for completes later
     * than that; the next predictions follow (QBUF predicts from the
     * clock), so the PTS never drifts. */
    guint64 mono = early && !complete ?
        st->t0_ns + (seq + 1) * st->period + guint64 (completion_offset) :
        ts;
    GstClockTime pts = monotonic_to_running (self, mono);
    if (GST_CLOCK_TIME_IS_VALID (pts) && st->pushed_any &&
        GST_CLOCK_TIME_IS_VALID (st->last_pts) && pts < st->last_pts)
      pts = st->last_pts;
    st->last_pts = pts;
    GST_BUFFER_PTS (out) = pts;
    GST_BUFFER_DTS (out) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION (out) = st->period;
    GST_BUFFER_OFFSET (out) = seq;
    GST_BUFFER_OFFSET_END (out) = seq + 1;
    if (!st->pushed_any || seq != st->last_pushed_seq + 1)
      GST_BUFFER_FLAG_SET (out, GST_BUFFER_FLAG_DISCONT);
    st->pushed_any = true;
    st->last_pushed_seq = seq;
    if (acquire) {
      GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (out);
      if (meta)
        gst_zc_fence_meta_add_acquire_fence (meta, acquire.release ());
    }
    GST_OBJECT_LOCK (self);
    st->stats.frames++;
    GST_OBJECT_UNLOCK (self);

    if (st->copy) {
      GstBuffer *copy = nullptr;
      GstBufferPool *pool = gst_base_src_get_buffer_pool (GST_BASE_SRC (self));
      GstFlowReturn fret = pool ?
          gst_buffer_pool_acquire_buffer (pool, &copy, NULL) :
          GST_FLOW_ERROR;
      if (pool)
        gst_object_unref (pool);
      if (fret != GST_FLOW_OK) {
        gst_buffer_unref (out);
        return fret;
      }
      GstVideoFrame sf, df;
      bool ok = false;
      if (gst_video_frame_map (&sf, &st->info, out, GST_MAP_READ)) {
        if (gst_video_frame_map (&df, &st->plain_info, copy, GST_MAP_WRITE)) {
          ok = gst_video_frame_copy (&df, &sf);
          gst_video_frame_unmap (&df);
        }
        gst_video_frame_unmap (&sf);
      }
      gst_buffer_copy_into (copy, out,
          GstBufferCopyFlags (
              GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_TIMESTAMPS),
          0, -1);
      gst_buffer_unref (out);
      if (!ok) {
        gst_buffer_unref (copy);
        GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Could not copy a frame."),
            (NULL));
        return GST_FLOW_ERROR;
      }
      out = copy;
    }
    *outbuf = out;
    return GST_FLOW_OK;
  }
}

/* ---- class ---- */

static void
gst_zcam_src_class_init (GstZcamSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = gst_zcam_src_set_property;
  gobject_class->get_property = gst_zcam_src_get_property;
  gobject_class->finalize = gst_zcam_src_finalize;

  /**
   * GstZcamSrc:device:
   *
   * The zcam device node; by default the first /dev/zcamN.
   */
  g_properties[PROP_DEVICE] = g_param_spec_string ("device", "Device",
      "zcam device node (default: the first /dev/zcamN)", NULL,
      GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  /**
   * GstZcamSrc:fence-mode:
   *
   * When a buffer is pushed: right after it is queued to the kernel, with an
   * acquire fence (early), or after the frame completed (late).
   */
  g_properties[PROP_FENCE_MODE] = g_param_spec_enum ("fence-mode", "Fence mode",
      "Push buffers when queued (early) or when complete (late)",
      GST_TYPE_ZCAM_SRC_FENCE_MODE, DEFAULT_FENCE_MODE,
      GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  /**
   * GstZcamSrc:num-buffers-pool:
   *
   * How many dma-bufs to create per stream. Raised to the allocation query's
   * minimum and lowered to its maximum, and to the device's limit.
   */
  g_properties[PROP_NUM_BUFFERS_POOL] = g_param_spec_uint ("num-buffers-pool",
      "Number of buffers", "Capture buffers per stream", 2, 64,
      DEFAULT_NUM_BUFFERS_POOL,
      GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  /**
   * GstZcamSrc:stats:
   *
   * Counters of the current stream (the common fields of docs/elements.md):
   * frames (pushed), dropped (frames the device lost: sequence gaps),
   * fence-errors (frames whose fence signalled an error) and latency (ns,
   * the minimum latency answered in LATENCY queries).
   */
  g_properties[PROP_STATS] = zc::stats_param_spec (
      "Frames, drops, fence errors and latency of the stream");
  g_object_class_install_properties (gobject_class, N_PROPERTIES, g_properties);

  GstCaps *caps = template_caps ();
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref (caps);
  gst_element_class_set_static_metadata (element_class, "zcam source",
      "Source/Video/Hardware",
      "Captures from a zcam device into dma-bufs "
      "with per-frame fences",
      ZC_ELEMENT_AUTHOR);

  element_class->change_state = gst_zcam_src_change_state;
  basesrc_class->start = gst_zcam_src_start;
  basesrc_class->stop = gst_zcam_src_stop;
  basesrc_class->get_caps = gst_zcam_src_get_caps;
  basesrc_class->fixate = gst_zcam_src_fixate;
  basesrc_class->negotiate = gst_zcam_src_negotiate;
  basesrc_class->set_caps = gst_zcam_src_set_caps;
  basesrc_class->decide_allocation = gst_zcam_src_decide_allocation;
  basesrc_class->query = gst_zcam_src_query;
  basesrc_class->unlock = gst_zcam_src_unlock;
  basesrc_class->unlock_stop = gst_zcam_src_unlock_stop;
  pushsrc_class->create = gst_zcam_src_create;

  gst_type_mark_as_plugin_api (GST_TYPE_ZCAM_SRC_FENCE_MODE,
      GstPluginAPIFlags (0));
}

static void
gst_zcam_src_init (GstZcamSrc *self)
{
  self->state = new State (self);
  gst_video_info_init (&self->state->info);
  gst_video_info_init (&self->state->plain_info);
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
}
