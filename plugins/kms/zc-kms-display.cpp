/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zckmssink's display thread: commits the next frame when the display is
 * free and its acquire fence is ready, and reads the page-flip events.
 */
#include "zc-kms-sink-private.h"

#include <gst/zerocopy/zerocopy.h>

#include <cerrno>

#include <poll.h>

#define GST_CAT_DEFAULT gst_zc_kms_sink_debug

namespace zc {

/* ---- display thread ---------------------------------------------------- */

/* Posts an element error from any thread and makes the next render fail. */
#define FAIL_LOCKED(self, st, code, text, debug) \
  G_STMT_START \
  { \
    (st)->failed = true; \
    GST_ELEMENT_ERROR (self, RESOURCE, code, text, debug); \
  } \
  G_STMT_END

/* The sink whose display thread this is. */
static thread_local GstZcKmsSink *tl_sink;

static void
page_flip_handler (int, unsigned, unsigned tv_sec, unsigned tv_usec,
    void *user_data)
{
  /* Called from drmHandleEvent() in the display thread, frame_lock held.
   * Events go to the DRM file, not to a thread: when sinks share one file
   * (fd property), a thread may read another sink's event; ignore it. */
  GstZcKmsSink *self = tl_sink;
  if (user_data != self) {
    GST_WARNING_OBJECT (self, "page-flip event of another user of the fd");
    return;
  }
  State *st = self->state;
  if (!st->in_flight)
    return;
  gint64 flip_us = gint64 (tv_sec) * G_USEC_PER_SEC + tv_usec;
  if (flip_us > st->in_flight->commit_us) {
    st->stats.latency_sum_us += flip_us - st->in_flight->commit_us;
    st->stats.latency_n++;
  }
  st->stats.shown++;
  /* The frame that was on screen is off it now: let it go (if it was not
   * handed back early with a release fence). */
  st->on_screen = std::move (st->in_flight);
}

/* Commits @f; frame_lock held. Returns 0 or -errno. */
static int
commit_frame_locked (GstZcKmsSink *self, Frame &f)
{
  State *st = self->state;
  const zc::Output &out = st->out;
  const zc::PlaneInfo *plane = out.find_plane (f.plane_id);
  const zc::PlaneInfo *primary = out.primary ();
  int fd = st->dev->fd ();
  zc::AtomicReq req;
  uint32_t blob = 0;
  uint32_t flags = DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT;

  if (st->modeset) {
    if (drmModeCreatePropertyBlob (fd, &out.mode, sizeof (out.mode), &blob))
      return -errno;
    req.add (out.crtc_id, out.crtc_mode_id_prop, blob);
    req.add (out.crtc_id, out.crtc_active_prop, 1);
    req.add (out.connector_id, out.conn_crtc_id_prop, out.crtc_id);
    flags |= DRM_MODE_ATOMIC_ALLOW_MODESET;
    /* Planes someone else left on this CRTC would cover our frame. */
    for (const auto &p : out.planes)
      if (p.id != plane->id && p.id != primary->id)
        zc::add_plane_off (req, p);
  }
  zc::add_plane (req, *plane, out.crtc_id, f.fb_id, f.src, f.dst);
  if (f.acquire_fd () >= 0 && plane->props.in_fence_fd)
    req.add (plane->id, plane->props.in_fence_fd, f.acquire_fd ());
  if (plane != primary) {
    /* Drivers like vkms need the primary plane to cover the CRTC: black. */
    Rect full { 0, 0, out.mode.hdisplay, out.mode.vdisplay };
    zc::add_plane (req, *primary, out.crtc_id, st->background->fb_id (), full,
        full);
  } else if (st->last_overlay) {
    if (const zc::PlaneInfo *old = out.find_plane (st->last_overlay))
      zc::add_plane_off (req, *old);
  }
  int32_t out_fence = -1;
  if (out.crtc_out_fence_prop)
    req.add (out.crtc_id, out.crtc_out_fence_prop,
        reinterpret_cast<uintptr_t> (&out_fence));

  int ret = req.ok () ? 0 : -EINVAL;
  if (ret == 0 && drmModeAtomicCommit (fd, req.get (), flags, self))
    ret = -errno;
  if (blob)
    drmModeDestroyPropertyBlob (fd, blob);
  if (ret < 0)
    return ret;
  st->modeset = false;
  st->last_overlay = plane != primary ? plane->id : 0;
  f.out_fence.reset (out_fence);
  f.commit_us = g_get_monotonic_time ();
  return 0;
}

/* After committing @f: the frame on screen gets @f's out-fence as release
 * fence and goes back upstream now when it can carry it (the fence is
 * handed over, not duplicated: nothing else needs it). */
static void
release_previous_locked (State *st, Frame &f)
{
  Frame *prev = st->on_screen.get ();
  if (!prev || !prev->buffer || !f.out_fence.valid ())
    return;
  GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (prev->buffer);
  if (!meta)
    return; /* kept until the flip away */
  gst_zc_fence_meta_add_release_fence (meta, f.out_fence.release ());
  st->on_screen.reset ();
}

/* A frame's acquire fence: 1 signalled (or none), 0 pending, or the error
 * it signalled with. The kernel is asked once, after poll() said the fence
 * is readable, and through the meta, which keeps the answer for everyone
 * (zcfence upstream may have asked already). */
static int
frame_status (Frame &f)
{
  if (!f.meta || f.status != 0)
    return f.meta ? f.status : 1;
  if (!f.readable)
    return 0;
  int s = gst_zc_fence_meta_get_acquire_status (f.meta);
  if (s == 0)
    f.readable = false; /* not signalled after all: poll again */
  f.status = s;
  return s;
}

void
post_timeout_summary (GstZcKmsSink *self,
    const zc::WarningLimiter::Summary &sum)
{
  GST_ELEMENT_WARNING_WITH_DETAILS (self, STREAM, FAILED,
      ("%" G_GUINT64_FORMAT " more frames were dropped because their acquire "
       "fence did not signal within fence-timeout in the last %u s; see "
       "the stats property.",
          sum.count, zc::summary_seconds (sum.span_us)),
      ("warnings are rate-limited: one summary every %u s at most",
          guint (zc::WARNING_INTERVAL_US / G_USEC_PER_SEC)),
      ("failed", G_TYPE_UINT64, sum.count, NULL));
}

/* Counts a frame dropped because its fence did not signal in time and
 * posts the rate-limited warning. */
static void
fence_timed_out_locked (GstZcKmsSink *self)
{
  State *st = self->state;
  st->stats.fence_timeouts++;
  /* Counted exactly above; the messages are rate-limited. */
  zc::WarningLimiter::Summary sum;
  switch (st->warnings.failed (g_get_monotonic_time (), &sum)) {
    case zc::WarningLimiter::Post::FIRST:
      GST_ELEMENT_WARNING (self, STREAM, FAILED,
          ("A frame's acquire fence did not signal within "
           "fence-timeout; the frame was dropped."),
          (NULL));
      break;
    case zc::WarningLimiter::Post::SUMMARY:
      post_timeout_summary (self, sum);
      break;
    case zc::WarningLimiter::Post::NONE:
      break;
  }
}

/* When the display is free, commits the newest pending frame whose fence
 * signalled; the older pending frames count as replaced. Frames whose
 * fence failed or timed out are dropped and counted. Returns the poll
 * timeout (ms) the thread should use, -1 for none. */
static int
advance_locked (GstZcKmsSink *self)
{
  State *st = self->state;
  if (st->in_flight || st->failed)
    return -1;
  gint64 now = g_get_monotonic_time ();
  gint64 wait_us = -1;
  ptrdiff_t ready = -1;
  for (auto it = st->pending.begin (); it != st->pending.end ();) {
    Frame &f = **it;
    int status = frame_status (f);
    if (status < 0) {
      GST_DEBUG_OBJECT (self, "acquire fence error %d: frame dropped", status);
      st->stats.fence_errors++;
      it = st->pending.erase (it);
      continue;
    }
    if (status == 0 && f.deadline_us <= now) {
      fence_timed_out_locked (self);
      it = st->pending.erase (it);
      continue;
    }
    if (status == 0) {
      gint64 left = f.deadline_us - now;
      wait_us = wait_us < 0 ? left : MIN (wait_us, left);
    } else {
      ready = it - st->pending.begin ();
    }
    ++it;
  }
  if (ready < 0)
    return wait_us < 0 ? -1 : int ((wait_us + 999) / 1000);
  /* Never shown: a newer frame is ready. */
  st->stats.replaced += guint64 (ready);
  st->pending.erase (st->pending.begin (), st->pending.begin () + ready);
  Frame &f = *st->pending.front ();
  int ret = commit_frame_locked (self, f);
  if (ret == -EBUSY)
    return 2; /* someone else's commit on the CRTC: retry */
  if (ret < 0) {
    const char *advice = "";
    if (ret == -EACCES || ret == -EPERM)
      advice = " Another program (a desktop session?) is the display's DRM "
               "master: stop it or run on a free virtual terminal.";
    else if (ret == -ENODEV || ret == -ENOENT)
      advice = " The display or its connector went away (unplugged?).";
    FAIL_LOCKED (self, st, FAILED,
        ("Could not show a frame on the display.%s", advice),
        ("atomic commit of plane %u: %s", f.plane_id, g_strerror (-ret)));
    st->pending.clear ();
    return -1;
  }
  st->in_flight = std::move (st->pending.front ());
  st->pending.pop_front ();
  release_previous_locked (st, *st->in_flight);
  return -1;
}

void
display_thread (GstZcKmsSink *self)
{
  State *st = self->state;
  tl_sink = self;
  drmEventContext ev = {};
  ev.version = 2;
  ev.page_flip_handler = page_flip_handler;

  std::unique_lock<std::mutex> lk (st->frame_lock);
  while (!st->stopping) {
    int timeout = advance_locked (self);
    st->idle_cond.notify_all ();
    /* The display's events, and the acquire fence of every pending
     * frame when no commit is in flight (any of them may become the one to
     * show). */
    pollfd pfd[2 + MAX_PENDING] = {
      { st->wake.fd (), POLLIN, 0 },
      { st->dev->fd (), POLLIN, 0 },
    };
    Frame *waiting[MAX_PENDING] = {};
    nfds_t n_fds = 2;
    if (timeout != 0 && !st->in_flight) {
      for (const FramePtr &f : st->pending) {
        if (n_fds == G_N_ELEMENTS (pfd))
          break;
        if (f->acquire_fd () < 0 || f->readable)
          continue;
        waiting[n_fds - 2] = f.get ();
        pfd[n_fds++] = { f->acquire_fd (), POLLIN, 0 };
      }
    }
    lk.unlock ();
    int n = poll (pfd, n_fds, timeout);
    lk.lock ();
    if (n <= 0)
      continue;
    /* show_frame may have replaced a frame meanwhile: mark only those
     * still pending. */
    for (nfds_t i = 2; i < n_fds; i++)
      for (const FramePtr &f : st->pending)
        if (pfd[i].revents && f.get () == waiting[i - 2])
          f->readable = true;
    if (pfd[0].revents & POLLIN)
      st->wake.clear ();
    if (pfd[1].revents & POLLIN)
      drmHandleEvent (st->dev->fd (), &ev);
    st->idle_cond.notify_all ();
  }
  st->idle_cond.notify_all ();
}

} // namespace zc
