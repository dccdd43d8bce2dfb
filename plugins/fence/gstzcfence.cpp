/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-zcfence
 * @title: zcfence
 *
 * A passthrough element that turns the acquire fence a buffer carries in
 * its #GstZcFenceMeta into something the next element understands:
 *
 * - `mode=wait`: the buffer is pushed once its acquire fence signalled
 *   (at most #GstZcFence:timeout later). The waiting happens on the
 *   element's own streaming thread, so upstream only blocks when
 *   #GstZcFence:max-buffers frames are waiting; order is kept. For V4L2
 *   devices and software, which know nothing of fences. A buffer without
 *   the meta waits for the implicit fences of its dma-bufs instead.
 * - `mode=implicit`: the acquire fence is imported into each dma-buf's
 *   reservation object (DMA_BUF_IOCTL_IMPORT_SYNC_FILE) and the buffer goes
 *   on at once; drivers that honour implicit sync (KMS, VA-API, GL) wait in
 *   the kernel or on the GPU.
 * - `mode=attach`: for producers that know nothing of fences: the dma-bufs'
 *   implicit (writer) fences are exported as the acquire fence of a new
 *   #GstZcFenceMeta, so fence-aware elements downstream can use them.
 * - `mode=auto`: one of the above, chosen from the element found
 *   downstream (through queues, capsfilters and bins): V4L2 elements get
 *   `wait`, KMS, VA-API, GL and Wayland sinks `implicit`, anything else
 *   `wait`. The choice is logged and shown in #GstZcFence:stats.
 *
 * A fence that signals with an error, or does not signal within the
 * timeout, drops the frame: #GstZcFence:stats counts it, a GAP event takes
 * its place downstream (so a sink that gets only dropped frames still
 * prerolls) and a warning message says so, rate-limited (the first, then
 * at most one summary every 5 s, see docs/elements.md). The pipeline goes
 * on.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 zcamsrc ! zcfence ! video/x-raw,width=640,height=480 ! v4l2fwhtenc output-io-mode=dmabuf-import ! filesink location=out.fwht
 * ]|
 */
#include "gstzcfence.h"

#include <gst/allocators/allocators.h>
#include <gst/video/video.h>
#include <gst/zerocopy/zerocopy.h>

#include "zc-downstream-copy.h"
#include "zc-ratelimit.h"
#include "zc-stats.h"
#include "zc-unique-fd.h"
#include "zc-wakeup.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>

#include <poll.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_zc_fence_debug);
#define GST_CAT_DEFAULT gst_zc_fence_debug
GST_DEBUG_CATEGORY_STATIC (CAT_PERFORMANCE);

using zc::UniqueFd;

namespace {

constexpr GstZcFenceMode DEFAULT_MODE = GST_ZC_FENCE_MODE_AUTO;
constexpr guint64 DEFAULT_TIMEOUT = GST_SECOND;
constexpr guint DEFAULT_MAX_BUFFERS = 3;

struct Stats
{
  guint64 frames = 0;         /* buffers received */
  guint64 pushed = 0;         /* buffers pushed on */
  guint64 waited = 0;         /* acquire fence still busy when examined */
  guint64 wait_max = 0;       /* longest CPU wait (ns) */
  guint64 fence_errors = 0;   /* dropped: fence signalled an error */
  guint64 fence_timeouts = 0; /* dropped: fence did not signal in time */
  guint64 imported = 0;       /* fences imported into dma-bufs */
  guint64 attached = 0;       /* metas made from implicit fences */
};

struct State
{
  /* Properties and stats: under GST_OBJECT_LOCK. */
  GstZcFenceMode mode = DEFAULT_MODE;
  guint64 timeout = DEFAULT_TIMEOUT;
  guint max_buffers = DEFAULT_MAX_BUFFERS;
  Stats stats;
  zc::WarningLimiter warnings; /* what of the drops reaches the bus */
  GstZcFenceMode active = GST_ZC_FENCE_MODE_AUTO; /* resolved mode */
  std::string chosen_for;                         /* who auto chose for */

  /* The queue between the chain function and the source pad's task. Lock
   * order: GST_OBJECT_LOCK is never held while taking this one. */
  std::mutex lock;
  std::condition_variable cond;
  std::deque<GstMiniObject *> queue; /* buffers and serialized events */
  guint queued_buffers = 0;
  bool flushing = true;
  GstFlowReturn last_ret = GST_FLOW_OK;

  /* Readable while flushing: ends a fence wait early. */
  zc::Wakeup wake;

  /* Streaming-thread only. */
  bool import_unsupported = false;
  /* Downstream copies: said once per stream (queries come from any
   * thread). */
  std::atomic<bool> copy_warned { false };
};

} // namespace

struct _GstZcFence
{
  GstElement parent;
  GstPad *sinkpad;
  GstPad *srcpad;
  State *state;
};

G_DEFINE_TYPE_WITH_CODE (GstZcFence, gst_zc_fence, GST_TYPE_ELEMENT,
                         GST_DEBUG_CATEGORY_INIT (gst_zc_fence_debug, "zcfence",
                             0, "fence adapter");
                         GST_DEBUG_CATEGORY_GET (CAT_PERFORMANCE,
                             "GST_PERFORMANCE"));
GST_ELEMENT_REGISTER_DEFINE (zcfence, "zcfence", GST_RANK_NONE,
    GST_TYPE_ZC_FENCE);

enum {
  PROP_0,
  PROP_MODE,
  PROP_TIMEOUT,
  PROP_MAX_BUFFERS,
  PROP_STATS,
  N_PROPS
};
static GParamSpec *g_properties[N_PROPS];

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

GType
gst_zc_fence_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_ZC_FENCE_MODE_AUTO, "Choose from the downstream element", "auto" },
    { GST_ZC_FENCE_MODE_WAIT, "Wait for the acquire fence, then push", "wait" },
    { GST_ZC_FENCE_MODE_IMPLICIT,
        "Import the acquire fence into the dma-bufs and push", "implicit" },
    { GST_ZC_FENCE_MODE_ATTACH,
        "Attach the dma-bufs' implicit fences as the acquire fence", "attach" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstZcFenceMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static const gchar *
mode_nick (GstZcFenceMode mode)
{
  GEnumClass *klass = G_ENUM_CLASS (g_type_class_peek (GST_TYPE_ZC_FENCE_MODE));
  GEnumValue *v = klass ? g_enum_get_value (klass, mode) : NULL;
  return v ? v->value_nick : "?";
}

/* ---- choosing a mode ------------------------------------------------------ */

/* Elements that pass buffers through untouched: auto looks past them. */
static bool
is_transparent (const gchar *factory)
{
  static const gchar *const names[] = { "queue", "queue2", "capsfilter",
    "identity", "valve", "zcfence", NULL };
  return g_strv_contains (names, factory);
}

/* The documented auto table (docs/elements.md): by factory name. */
static GstZcFenceMode
mode_for_factory (const gchar *factory)
{
  if (g_str_has_prefix (factory, "v4l2"))
    return GST_ZC_FENCE_MODE_WAIT;
  static const gchar *const implicit_prefixes[] = { "kmssink", "zckmssink",
    "va", "gl", "waylandsink", NULL };
  for (const gchar *const *p = implicit_prefixes; *p; p++)
    if (g_str_has_prefix (factory, *p))
      return GST_ZC_FENCE_MODE_IMPLICIT;
  return GST_ZC_FENCE_MODE_WAIT;
}

/* The element a buffer pushed on @srcpad reaches first, looking through
 * transparent elements and bin boundaries (ghost pads). Returns a new
 * reference or NULL. */
static GstElement *
find_consumer (GstPad *srcpad)
{
  GstPad *pad = gst_pad_get_peer (srcpad);
  for (int hops = 0; pad && hops < 32; hops++) {
    GstObject *parent = gst_pad_get_parent (pad);
    if (GST_IS_GHOST_PAD (pad)) {
      /* Into a bin: follow the ghost pad's target. */
      GstPad *target = gst_ghost_pad_get_target (GST_GHOST_PAD (pad));
      gst_object_unref (pad);
      if (parent)
        gst_object_unref (parent);
      pad = target;
      continue;
    }
    if (parent && GST_IS_GHOST_PAD (parent)) {
      /* Out of a bin: the internal pad of a source ghost pad. */
      gst_object_unref (pad);
      pad = gst_pad_get_peer (GST_PAD (parent));
      gst_object_unref (parent);
      continue;
    }
    gst_object_unref (pad);
    pad = NULL;
    if (!parent || !GST_IS_ELEMENT (parent)) {
      if (parent)
        gst_object_unref (parent);
      return NULL;
    }
    GstElement *element = GST_ELEMENT (parent);
    GstElementFactory *f = gst_element_get_factory (element);
    const gchar *name = f ? GST_OBJECT_NAME (f) : "";
    if (!is_transparent (name))
      return element;
    GstPad *next = gst_element_get_static_pad (element, "src");
    gst_object_unref (element);
    if (!next)
      return NULL;
    pad = gst_pad_get_peer (next);
    gst_object_unref (next);
  }
  if (pad)
    gst_object_unref (pad);
  return NULL;
}

static void
resolve_mode (GstZcFence *self)
{
  State *st = self->state;
  GST_OBJECT_LOCK (self);
  GstZcFenceMode mode = st->mode;
  GST_OBJECT_UNLOCK (self);

  std::string why = "property";
  if (mode == GST_ZC_FENCE_MODE_AUTO) {
    GstElement *consumer = find_consumer (self->srcpad);
    if (consumer) {
      GstElementFactory *f = gst_element_get_factory (consumer);
      const gchar *name = f ? GST_OBJECT_NAME (f) : "";
      mode = mode_for_factory (name);
      why = std::string (GST_OBJECT_NAME (consumer)) + " (" + name + ")";
      gst_object_unref (consumer);
    } else {
      mode = GST_ZC_FENCE_MODE_WAIT;
      why = "no element found downstream";
    }
    GST_INFO_OBJECT (self, "mode=auto chose %s for %s", mode_nick (mode),
        why.c_str ());
  }
  GST_OBJECT_LOCK (self);
  st->active = mode;
  st->chosen_for = why;
  GST_OBJECT_UNLOCK (self);
}

/* ---- fences --------------------------------------------------------------- */

/* The implicit fences of the buffer's dma-bufs (writers' fences: what a
 * reader waits for), merged into one sync_file. Invalid when the buffer
 * has no dma-buf memory or the kernel cannot export. */
static UniqueFd
export_implicit (GstZcFence *self, GstBuffer *buf)
{
  UniqueFd merged;
  for (guint i = 0; i < gst_buffer_n_memory (buf); i++) {
    GstMemory *mem = gst_buffer_peek_memory (buf, i);
    if (!gst_is_dmabuf_memory (mem))
      continue;
    UniqueFd f (gst_zc_dmabuf_export_sync_file (gst_dmabuf_memory_get_fd (mem),
        GST_ZC_FENCE_ACCESS_READ));
    if (!f) {
      GST_DEBUG_OBJECT (self,
          "cannot export the implicit fences of memory "
          "%u",
          i);
      continue;
    }
    if (!merged) {
      merged = std::move (f);
    } else {
      UniqueFd m (gst_zc_sync_file_merge ("zcfence", merged.get (), f.get ()));
      if (m)
        merged = std::move (m);
    }
  }
  return merged;
}

/* The summary warning of frames whose warnings were held back. */
static void
post_summary (GstZcFence *self, const zc::WarningLimiter::Summary &sum)
{
  GST_ELEMENT_WARNING_WITH_DETAILS (self, STREAM, FAILED,
      ("%" G_GUINT64_FORMAT " more frames were dropped for failed or late "
       "fences in the last %u s; see the stats property.",
          sum.count, zc::summary_seconds (sum.span_us)),
      ("warnings are rate-limited: one summary every %u s at most",
          guint (zc::WARNING_INTERVAL_US / G_USEC_PER_SEC)),
      ("failed", G_TYPE_UINT64, sum.count, NULL));
}

/* Posts the summary of frames not reported yet (end of stream). */
static void
flush_warnings (GstZcFence *self)
{
  zc::WarningLimiter::Summary sum;
  GST_OBJECT_LOCK (self);
  bool post = self->state->warnings.flush (g_get_monotonic_time (), &sum);
  GST_OBJECT_UNLOCK (self);
  if (post)
    post_summary (self, sum);
}

static void
count_drop (GstZcFence *self, GstBuffer *buf, int status, bool timeout)
{
  State *st = self->state;
  zc::WarningLimiter::Summary sum;
  GST_OBJECT_LOCK (self);
  if (timeout)
    st->stats.fence_timeouts++;
  else
    st->stats.fence_errors++;
  guint64 timeout_ns = st->timeout;
  /* Counted exactly above; only the messages are rate-limited. */
  auto post = st->warnings.failed (g_get_monotonic_time (), &sum);
  GST_OBJECT_UNLOCK (self);
  if (post == zc::WarningLimiter::Post::SUMMARY) {
    post_summary (self, sum);
    return;
  }
  if (post != zc::WarningLimiter::Post::FIRST)
    return;
  /* The details are those of zcamsrc's warning (sequence = offset). */
  const gint error = timeout ? -ETIMEDOUT : status;
  if (timeout && timeout_ns == 0)
    GST_ELEMENT_WARNING_WITH_DETAILS (self, STREAM, FAILED,
        ("Dropped a frame whose fence had not signalled yet: with timeout=0 "
         "zcfence does not wait and passes only complete frames (use "
         "zcamsrc fence-mode=late, or a timeout, to pass every frame)."),
        ("buffer offset %" G_GUINT64_FORMAT, GST_BUFFER_OFFSET (buf)),
        ("sequence", G_TYPE_UINT64, GST_BUFFER_OFFSET (buf), "fence-error",
            G_TYPE_INT, error, "pushed", G_TYPE_BOOLEAN, FALSE, NULL));
  else if (timeout)
    GST_ELEMENT_WARNING_WITH_DETAILS (self, STREAM, FAILED,
        ("Dropped a frame whose fence did not signal within %" GST_TIME_FORMAT
         ".",
            GST_TIME_ARGS (timeout_ns)),
        ("buffer offset %" G_GUINT64_FORMAT, GST_BUFFER_OFFSET (buf)),
        ("sequence", G_TYPE_UINT64, GST_BUFFER_OFFSET (buf), "fence-error",
            G_TYPE_INT, error, "pushed", G_TYPE_BOOLEAN, FALSE, NULL));
  else
    GST_ELEMENT_WARNING_WITH_DETAILS (self, STREAM, FAILED,
        ("Dropped a frame whose fence signalled an error."),
        ("buffer offset %" G_GUINT64_FORMAT ": %s", GST_BUFFER_OFFSET (buf),
            g_strerror (-status)),
        ("sequence", G_TYPE_UINT64, GST_BUFFER_OFFSET (buf), "fence-error",
            G_TYPE_INT, error, "pushed", G_TYPE_BOOLEAN, FALSE, NULL));
}

enum class WaitResult {
  READY,
  ERROR,
  TIMEOUT,
  FLUSHING
};

/* The status of @fence (1, 0 pending, or a negative error), through
 * @meta when the fence is its acquire fence: the meta keeps a final
 * answer, so the elements after us do not ask the kernel again. */
static int
fence_status (GstZcFenceMeta *meta, int fence)
{
  if (meta)
    return gst_zc_fence_meta_get_acquire_status (meta);
  int status;
  return gst_zc_sync_file_query_status (fence, &status) ? status : 0;
}

/* Waits (bounded, interruptible by flushing) for @fence; @meta is the
 * buffer's fence meta when @fence is its acquire fence, else NULL. The
 * kernel is asked for the status once the fence polled readable (or right
 * away with timeout=0): one SYNC_IOC_FILE_INFO per frame at most. */
static WaitResult
wait_fence (GstZcFence *self, GstZcFenceMeta *meta, int fence, int *status)
{
  State *st = self->state;
  GST_OBJECT_LOCK (self);
  guint64 timeout = st->timeout;
  GST_OBJECT_UNLOCK (self);

  auto result = [status] (int s) {
    *status = s;
    return s < 0 ? WaitResult::ERROR : WaitResult::READY;
  };
  *status = 0;
  /* timeout=0: never wait, only complete frames pass. */
  if (timeout == 0) {
    int s = fence_status (meta, fence);
    return s == 0 ? WaitResult::TIMEOUT : result (s);
  }

  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + gint64 (timeout / 1000);
  WaitResult res = WaitResult::TIMEOUT;
  /* The first poll only looks (timeout 0): a frame that finds its fence
   * pending counts as waited. */
  bool first = true;
  for (;;) {
    gint64 left_us = deadline - g_get_monotonic_time ();
    if (left_us <= 0 && !first)
      break;
    struct pollfd fds[2] = { { fence, POLLIN, 0 },
      { st->wake.fd (), POLLIN, 0 } };
    int ms = first ? 0 :
                     int (std::min<gint64> ((left_us + 999) / 1000, G_MAXINT));
    int n = poll (fds, 2, ms);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      *status = -errno;
      res = WaitResult::ERROR;
      break;
    }
    if (fds[1].revents) {
      res = WaitResult::FLUSHING;
      break;
    }
    if (fds[0].revents) {
      /* Signalled; an error or a fd that is no sync_file? */
      int s = fence_status (meta, fence);
      res = result (s == 0 ? 1 : s);
      break;
    }
    if (first) {
      first = false;
      GST_OBJECT_LOCK (self);
      st->stats.waited++;
      GST_OBJECT_UNLOCK (self);
    }
  }
  if (!first) {
    guint64 waited = guint64 (g_get_monotonic_time () - start) * 1000;
    GST_OBJECT_LOCK (self);
    st->stats.wait_max = std::max (st->stats.wait_max, waited);
    GST_OBJECT_UNLOCK (self);
  }
  return res;
}

/* The GAP event that stands in for a dropped @buf, or NULL when the buffer
 * has no timestamp to put in it. Without it a sink behind us that sees
 * only dropped frames never prerolls, and a live pipeline reaches PLAYING
 * only once every sink prerolled: the other branch of a tee then waits in
 * preroll holding the source's buffers, and the whole pipeline stalls. */
static GstEvent *
gap_for (GstBuffer *buf)
{
  GstClockTime ts = GST_BUFFER_PTS_IS_VALID (buf) ? GST_BUFFER_PTS (buf) :
                                                    GST_BUFFER_DTS (buf);
  if (!GST_CLOCK_TIME_IS_VALID (ts))
    return NULL;
  GstEvent *gap = gst_event_new_gap (ts, GST_BUFFER_DURATION (buf));
  /* Data was there and is lost, not a stream with nothing to say. */
  gst_event_set_gap_flags (gap, GST_GAP_FLAG_MISSING_DATA);
  return gap;
}

/* mode=wait, on the source pad's thread: READY (push it), ERROR or TIMEOUT
 * (dropped, counted, warned about) or FLUSHING. */
static WaitResult
wait_acquire (GstZcFence *self, GstBuffer *buf)
{
  GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf);
  int fence = meta ? gst_zc_fence_meta_get_acquire_fence (meta) : -1;
  UniqueFd implicit;
  if (fence < 0 && !meta) {
    implicit = export_implicit (self, buf);
    fence = implicit.get ();
  }
  if (fence < 0)
    return WaitResult::READY;
  int status;
  WaitResult res = wait_fence (self, implicit ? nullptr : meta, fence, &status);
  if (res == WaitResult::ERROR)
    count_drop (self, buf, status, false);
  else if (res == WaitResult::TIMEOUT)
    count_drop (self, buf, 0, true);
  return res;
}

/* mode=implicit, in the chain function. FALSE: the buffer was dropped. */
static bool
import_acquire (GstZcFence *self, GstBuffer *buf)
{
  State *st = self->state;
  GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf);
  int fence = meta ? gst_zc_fence_meta_get_acquire_fence (meta) : -1;
  if (fence < 0)
    return true;

  int status = gst_zc_fence_meta_get_acquire_status (meta);
  if (status < 0) {
    count_drop (self, buf, status, false);
    return false;
  }
  guint imported = 0;
  for (guint i = 0; i < gst_buffer_n_memory (buf); i++) {
    GstMemory *mem = gst_buffer_peek_memory (buf, i);
    if (!gst_is_dmabuf_memory (mem))
      continue;
    int ret = st->import_unsupported ?
        -ENOTTY :
        gst_zc_dmabuf_import_sync_file (gst_dmabuf_memory_get_fd (mem),
            GST_ZC_FENCE_ACCESS_WRITE, fence);
    if (ret < 0) {
      if (!st->import_unsupported)
        GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
            ("Cannot add fences to dma-bufs; waiting on the CPU instead."),
            ("DMA_BUF_IOCTL_IMPORT_SYNC_FILE: %s (needs Linux 6.0)",
                g_strerror (-ret)));
      st->import_unsupported = true;
      /* Without the import the consumer would read too early: wait here. */
      int status;
      WaitResult r = wait_fence (self, meta, fence, &status);
      if (r == WaitResult::ERROR || r == WaitResult::TIMEOUT)
        count_drop (self, buf, status, r == WaitResult::TIMEOUT);
      return r == WaitResult::READY;
    }
    imported++;
  }
  GST_OBJECT_LOCK (self);
  st->stats.imported += imported;
  GST_OBJECT_UNLOCK (self);
  return true;
}

/* mode=attach, in the chain function. */
static GstBuffer *
attach_acquire (GstZcFence *self, GstBuffer *buf)
{
  State *st = self->state;
  GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf);
  if (meta && gst_zc_fence_meta_get_acquire_fence (meta) >= 0)
    return buf; /* the producer already says when it is done */
  UniqueFd fence = export_implicit (self, buf);
  if (!fence)
    return buf;
  buf = gst_buffer_make_writable (buf);
  meta = gst_zc_buffer_get_fence_meta (buf);
  if (!meta)
    meta = gst_zc_buffer_add_fence_meta (buf);
  if (gst_zc_fence_meta_add_acquire_fence (meta, fence.get ()))
    (void) fence.release ();
  GST_OBJECT_LOCK (self);
  st->stats.attached++;
  GST_OBJECT_UNLOCK (self);
  return buf;
}

/* ---- the queue ------------------------------------------------------------ */

static void
clear_queue (State *st)
{
  for (GstMiniObject *obj : st->queue)
    gst_mini_object_unref (obj);
  st->queue.clear ();
  st->queued_buffers = 0;
}

static void
set_flushing (GstZcFence *self, bool flushing)
{
  State *st = self->state;
  std::lock_guard<std::mutex> lock (st->lock);
  st->flushing = flushing;
  if (flushing) {
    clear_queue (st);
    if (int ret = st->wake.signal ())
      GST_WARNING_OBJECT (self, "wake-up: %s", g_strerror (-ret));
  } else {
    st->last_ret = GST_FLOW_OK;
    st->wake.clear ();
  }
  st->cond.notify_all ();
}

static void
src_loop (gpointer user_data)
{
  GstZcFence *self = GST_ZC_FENCE (user_data);
  State *st = self->state;
  GstMiniObject *obj;
  {
    std::unique_lock<std::mutex> lock (st->lock);
    st->cond.wait (lock, [st] { return st->flushing || !st->queue.empty (); });
    if (st->flushing) {
      lock.unlock ();
      gst_pad_pause_task (self->srcpad);
      return;
    }
    obj = st->queue.front ();
    st->queue.pop_front ();
    if (GST_IS_BUFFER (obj))
      st->queued_buffers--;
    st->cond.notify_all ();
  }

  GstFlowReturn ret = GST_FLOW_OK;
  if (GST_IS_EVENT (obj)) {
    GstEvent *event = GST_EVENT (obj);
    bool eos = GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    /* Before the EOS: the application hears of every failure by then. */
    if (eos)
      flush_warnings (self);
    gst_pad_push_event (self->srcpad, event);
    if (eos)
      ret = GST_FLOW_EOS;
  } else {
    GstBuffer *buf = GST_BUFFER (obj);
    GST_OBJECT_LOCK (self);
    bool wait = self->state->active == GST_ZC_FENCE_MODE_WAIT;
    GST_OBJECT_UNLOCK (self);
    WaitResult res = wait ? wait_acquire (self, buf) : WaitResult::READY;
    if (res != WaitResult::READY) {
      /* A dropped frame is announced downstream; the buffer goes back to
       * its pool right away. */
      GstEvent *gap = res == WaitResult::FLUSHING ? NULL : gap_for (buf);
      gst_buffer_unref (buf);
      if (gap)
        gst_pad_push_event (self->srcpad, gap);
    } else {
      ret = gst_pad_push (self->srcpad, buf);
      if (ret == GST_FLOW_OK) {
        GST_OBJECT_LOCK (self);
        st->stats.pushed++;
        GST_OBJECT_UNLOCK (self);
      }
    }
  }
  if (ret == GST_FLOW_OK)
    return;

  {
    std::lock_guard<std::mutex> lock (st->lock);
    st->last_ret = ret;
    st->cond.notify_all ();
  }
  if (ret == GST_FLOW_EOS || ret == GST_FLOW_FLUSHING) {
    GST_DEBUG_OBJECT (self, "pausing: %s", gst_flow_get_name (ret));
  } else {
    /* Like a queue: a fatal downstream error ends the stream. */
    GST_ELEMENT_FLOW_ERROR (self, ret);
    gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  }
  gst_pad_pause_task (self->srcpad);
}

/* Queues @obj for the source pad's thread, waiting for room when it is a
 * buffer and max-buffers are queued. */
static GstFlowReturn
enqueue (GstZcFence *self, GstMiniObject *obj)
{
  State *st = self->state;
  GST_OBJECT_LOCK (self);
  guint max = st->max_buffers;
  GST_OBJECT_UNLOCK (self);
  bool is_buffer = GST_IS_BUFFER (obj);
  std::unique_lock<std::mutex> lock (st->lock);
  if (is_buffer)
    st->cond.wait (lock, [st, max] {
      return st->flushing || st->last_ret != GST_FLOW_OK ||
          st->queued_buffers < max;
    });
  if (st->flushing || (is_buffer && st->last_ret != GST_FLOW_OK)) {
    GstFlowReturn ret = st->flushing ? GST_FLOW_FLUSHING : st->last_ret;
    lock.unlock ();
    gst_mini_object_unref (obj);
    return ret;
  }
  st->queue.push_back (obj);
  if (is_buffer)
    st->queued_buffers++;
  st->cond.notify_all ();
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_zc_fence_chain (GstPad *, GstObject *parent, GstBuffer *buf)
{
  GstZcFence *self = GST_ZC_FENCE (parent);
  State *st = self->state;

  GST_OBJECT_LOCK (self);
  bool unresolved = st->active == GST_ZC_FENCE_MODE_AUTO;
  GST_OBJECT_UNLOCK (self);
  if (unresolved)
    resolve_mode (self);

  GST_OBJECT_LOCK (self);
  GstZcFenceMode mode = st->active;
  st->stats.frames++;
  GST_OBJECT_UNLOCK (self);

  if (mode == GST_ZC_FENCE_MODE_IMPLICIT && !import_acquire (self, buf)) {
    /* Announced downstream in its place among the queued buffers. */
    GstEvent *gap = gap_for (buf);
    gst_buffer_unref (buf);
    return gap ? enqueue (self, GST_MINI_OBJECT (gap)) : GST_FLOW_OK;
  }
  if (mode == GST_ZC_FENCE_MODE_ATTACH)
    buf = attach_acquire (self, buf);
  return enqueue (self, GST_MINI_OBJECT (buf));
}

static gboolean
gst_zc_fence_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstZcFence *self = GST_ZC_FENCE (parent);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START: {
      gboolean ret = gst_pad_push_event (self->srcpad, event);
      set_flushing (self, true);
      gst_pad_pause_task (self->srcpad);
      return ret;
    }
    case GST_EVENT_FLUSH_STOP: {
      gboolean ret = gst_pad_push_event (self->srcpad, event);
      set_flushing (self, false);
      gst_pad_start_task (self->srcpad, src_loop, self, NULL);
      return ret;
    }
    default:
      break;
  }
  if (!(guint (GST_EVENT_TYPE (event)) & guint (GST_EVENT_TYPE_SERIALIZED)))
    return gst_pad_event_default (pad, parent, event);
  /* Serialized events keep their place among the buffers. */
  return enqueue (self, GST_MINI_OBJECT (event)) == GST_FLOW_OK;
}

static gboolean
gst_zc_fence_sink_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstZcFence *self = GST_ZC_FENCE (parent);
  State *st = self->state;
  if (guint (GST_QUERY_TYPE (query)) & guint (GST_QUERY_TYPE_SERIALIZED)) {
    /* Answer after what is queued has gone downstream (the caps event the
     * allocation query depends on, for one). */
    std::unique_lock<std::mutex> lock (st->lock);
    st->cond.wait (lock, [st] {
      return st->flushing || st->last_ret != GST_FLOW_OK || st->queue.empty ();
    });
    if (st->flushing)
      return FALSE;
  }
  gboolean ret = gst_pad_query_default (pad, parent, query);
  if (GST_QUERY_TYPE (query) == GST_QUERY_ALLOCATION && ret) {
    /* zcfence stands right before the consumer, also behind a tee (which
     * hides downstream pools from zcamsrc): say here that it will copy. */
    zc::warn_if_downstream_copies (GST_ELEMENT (self), query, self->srcpad,
        CAT_PERFORMANCE, st->copy_warned);
  }
  if (GST_QUERY_TYPE (query) == GST_QUERY_ALLOCATION) {
    /* A sink without an opinion (fakesink) fails the query, and a tee then
     * forwards nothing of the other branches' requirements: answer for it.
     * Frames are described by their GstVideoMeta; whoever reads them maps
     * them with it (gst_video_frame_map). */
    if (!ret) {
      GST_DEBUG_OBJECT (self,
          "downstream did not answer the allocation "
          "query; answering with the video and fence metas");
      gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
    }
    if (!gst_query_find_allocation_meta (query, GST_ZC_FENCE_META_API_TYPE,
            NULL))
      gst_query_add_allocation_meta (query, GST_ZC_FENCE_META_API_TYPE, NULL);
    ret = TRUE;
  }
  return ret;
}

static gboolean
gst_zc_fence_sink_activate_mode (GstPad *, GstObject *parent, GstPadMode mode,
    gboolean active)
{
  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  if (!active)
    set_flushing (GST_ZC_FENCE (parent), true);
  return TRUE;
}

static gboolean
gst_zc_fence_src_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode,
    gboolean active)
{
  GstZcFence *self = GST_ZC_FENCE (parent);
  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  if (active) {
    set_flushing (self, false);
    return gst_pad_start_task (pad, src_loop, self, NULL);
  }
  set_flushing (self, true);
  return gst_pad_stop_task (pad);
}

static GstStateChangeReturn
gst_zc_fence_change_state (GstElement *element, GstStateChange transition)
{
  GstZcFence *self = GST_ZC_FENCE (element);
  State *st = self->state;
  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY: {
      zc::Wakeup wake;
      if (int err = wake.open ()) {
        GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
            ("Could not create an eventfd."), ("%s", g_strerror (-err)));
        return GST_STATE_CHANGE_FAILURE;
      }
      std::lock_guard<std::mutex> lock (st->lock);
      st->wake = std::move (wake);
      break;
    }
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      GST_OBJECT_LOCK (self);
      st->stats = Stats ();
      st->warnings.reset ();
      st->active = GST_ZC_FENCE_MODE_AUTO;
      st->chosen_for.clear ();
      st->import_unsupported = false;
      st->copy_warned = false;
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      break;
  }
  GstStateChangeReturn ret = GST_ELEMENT_CLASS (gst_zc_fence_parent_class)
                                 ->change_state (element, transition);
  /* A stream stopped without EOS: report what was held back. */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    flush_warnings (self);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL) {
    std::lock_guard<std::mutex> lock (st->lock);
    st->wake.close ();
  }
  return ret;
}

/* ---- GObject -------------------------------------------------------------- */

static void
gst_zc_fence_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstZcFence *self = GST_ZC_FENCE (object);
  State *st = self->state;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODE:
      st->mode = GstZcFenceMode (g_value_get_enum (value));
      break;
    case PROP_TIMEOUT:
      st->timeout = g_value_get_uint64 (value);
      break;
    case PROP_MAX_BUFFERS:
      st->max_buffers = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
  if (prop_id == PROP_MAX_BUFFERS) {
    std::lock_guard<std::mutex> lock (st->lock);
    st->cond.notify_all ();
  }
}

static void
gst_zc_fence_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstZcFence *self = GST_ZC_FENCE (object);
  State *st = self->state;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODE:
      g_value_set_enum (value, st->mode);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint64 (value, st->timeout);
      break;
    case PROP_MAX_BUFFERS:
      g_value_set_uint (value, st->max_buffers);
      break;
    case PROP_STATS: {
      const Stats &s = st->stats;
      GstStructure *stats = zc::stats_new (GST_ELEMENT (self),
          { { zc::Stat::FRAMES, s.frames }, { zc::Stat::PUSHED, s.pushed },
              { zc::Stat::DROPPED, s.fence_errors + s.fence_timeouts },
              { zc::Stat::FENCE_ERRORS, s.fence_errors },
              { zc::Stat::FENCE_TIMEOUTS, s.fence_timeouts },
              { zc::Stat::WAITED, s.waited },
              { zc::Stat::WAIT_MAX, s.wait_max },
              { zc::Stat::IMPORTED, s.imported },
              { zc::Stat::ATTACHED, s.attached } });
      gst_structure_set (stats, "mode", G_TYPE_STRING,
          st->active == GST_ZC_FENCE_MODE_AUTO ? "none" :
                                                 mode_nick (st->active),
          "chosen-for", G_TYPE_STRING, st->chosen_for.c_str (), NULL);
      g_value_take_boxed (value, stats);
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zc_fence_finalize (GObject *object)
{
  GstZcFence *self = GST_ZC_FENCE (object);
  clear_queue (self->state);
  delete self->state;
  G_OBJECT_CLASS (gst_zc_fence_parent_class)->finalize (object);
}

static void
gst_zc_fence_init (GstZcFence *self)
{
  self->state = new State ();
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_zc_fence_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_zc_fence_sink_event));
  gst_pad_set_query_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_zc_fence_sink_query));
  gst_pad_set_activatemode_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_zc_fence_sink_activate_mode));
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_zc_fence_src_activate_mode));
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}

static void
gst_zc_fence_class_init (GstZcFenceClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_zc_fence_set_property;
  gobject_class->get_property = gst_zc_fence_get_property;
  gobject_class->finalize = gst_zc_fence_finalize;

  const GParamFlags rw = GParamFlags (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * GstZcFence:mode:
   *
   * How the acquire fence is handed on; `auto` chooses from the element
   * downstream when the first buffer arrives (see the element
   * documentation). Read when the element goes to PAUSED.
   */
  g_properties[PROP_MODE] = g_param_spec_enum ("mode", "Mode",
      "How the acquire fence is handed to the next element",
      GST_TYPE_ZC_FENCE_MODE, DEFAULT_MODE,
      GParamFlags (rw | GST_PARAM_MUTABLE_READY));
  /**
   * GstZcFence:timeout:
   *
   * Longest wait for an acquire fence (ns); a frame whose fence has not
   * signalled by then is dropped with a warning message (counted in
   * `fence-timeouts`). 0 means "do not wait": only frames whose fence has
   * already signalled when they arrive are pushed, the others are dropped
   * (behind zcamsrc's early mode that is nearly every frame; use
   * fence-mode=late there).
   */
  g_properties[PROP_TIMEOUT] = g_param_spec_uint64 ("timeout", "Timeout",
      "Longest wait for a frame's acquire fence (ns)", 0, G_MAXUINT64,
      DEFAULT_TIMEOUT, GParamFlags (rw | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstZcFence:max-buffers:
   *
   * Frames held waiting for their fences before upstream blocks.
   */
  g_properties[PROP_MAX_BUFFERS] = g_param_spec_uint ("max-buffers",
      "Max buffers", "Frames queued at most while waiting for fences", 1, 64,
      DEFAULT_MAX_BUFFERS, GParamFlags (rw | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstZcFence:stats:
   *
   * The common fields of docs/elements.md: `frames` (received), `pushed`,
   * `dropped` (= `fence-errors` + `fence-timeouts`), `waited` (fences
   * still busy when looked at), `wait-max` (ns), `imported` (fences added
   * to dma-bufs), `attached` (metas made from implicit fences); and
   * `mode` (the one in use, `none` before the first buffer), `chosen-for`
   * (the downstream element auto chose for, or `property`).
   */
  g_properties[PROP_STATS] = zc::stats_param_spec (
      "Counters since the element went to PAUSED");
  g_object_class_install_properties (gobject_class, N_PROPS, g_properties);

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_zc_fence_change_state);
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Fence adapter",
      "Filter/Video",
      "Hands a buffer's acquire fence to the next element as a "
      "CPU wait, an implicit dma-buf fence, or a fence meta",
      ZC_ELEMENT_AUTHOR);
  gst_type_mark_as_plugin_api (GST_TYPE_ZC_FENCE_MODE, GstPluginAPIFlags (0));
}
