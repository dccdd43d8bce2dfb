/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zckmssink internals shared by the element (gstzckmssink.cpp) and its
 * display thread (zc-kms-display.cpp): the frames on their way to the
 * screen, the counters, and the element's state.
 */
#pragma once

#include "gstzckmssink.h"
#include "zc-kms-device.h"
#include "zc-ratelimit.h"
#include "zc-wakeup.h"

#include <gst/zerocopy/zerocopy.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

GST_DEBUG_CATEGORY_EXTERN (gst_zc_kms_sink_debug);

namespace zc {

constexpr guint64 DEFAULT_FENCE_TIMEOUT = GST_SECOND;
/* Ready frames kept waiting to be committed; frames that still wait for
 * their acquire fence are not limited by it (zcamsrc's early mode pushes
 * each frame while it is being captured, a few periods ahead). */
constexpr size_t MAX_PENDING = 3;
/* Frames the sink can hold at once: on screen, committed, the pending ones
 * and the one being copied. */
constexpr unsigned N_COPY_SLOTS = 2 + MAX_PENDING + 1;

/* One frame on its way to the display. Destroyed with the state's frame
 * lock held (it may drop the last ref of a copy slot). */
struct Frame
{
  GstBuffer *buffer = nullptr;      /* ref, or nullptr for copied frames */
  std::shared_ptr<zc::DumbFb> slot; /* copied frames */
  uint32_t fb_id = 0;
  uint32_t plane_id = 0;
  Rect src, dst;
  /* The buffer's fence meta when the frame waits for its acquire fence
   * (valid while `buffer` is held; the fd stays the meta's). */
  GstZcFenceMeta *meta = nullptr;
  bool readable = false; /* poll() said the acquire fence signalled */
  int status = 0;        /* 1 or the fence's error once known */
  UniqueFd out_fence;
  gint64 deadline_us = 0; /* fence-timeout for the acquire fence */
  gint64 commit_us = 0;

  int acquire_fd () const
  {
    return meta ? gst_zc_fence_meta_get_acquire_fence (meta) : -1;
  }

  ~Frame ()
  {
    if (buffer)
      gst_buffer_unref (buffer);
  }
};
using FramePtr = std::unique_ptr<Frame>;

/* The counters behind the stats property (zc::Stat names in brackets).
 * Every frame counted in `frames` ends up in exactly one of shown,
 * replaced, fence_errors or fence_timeouts, unless it is still pending or
 * the stream stopped or failed first; `dropped` is not kept here, it is
 * fence_errors + fence_timeouts. */
struct Stats
{
  guint64 frames = 0;   /* [frames] distinct buffers show_frame got */
  guint64 shown = 0;    /* [shown] reached the screen (page flip) */
  guint64 replaced = 0; /* [replaced] a newer frame took its place */
  guint64 copies = 0;   /* [copies] copied into a dumb buffer */
  guint64 fence_errors = 0, fence_timeouts = 0;
  guint64 latency_sum_us = 0, latency_n = 0; /* [flip-latency] */
};

struct State
{
  /* Properties; protected by the object lock. */
  std::string device, driver_name;
  int fd_prop = -1;
  guint connector_id = 0, crtc_id = 0, plane_id = 0;
  GstVideoRectangle render_rect {};
  bool force_modeset = false;
  guint64 fence_timeout = DEFAULT_FENCE_TIMEOUT;

  /* Set in start(), cleared in stop(); constant while streaming. */
  std::shared_ptr<zc::KmsDevice> dev;
  zc::Output out;
  std::string dev_path;
  std::shared_ptr<zc::DumbFb> background;
  /* Backgrounds of earlier modes: may still be on screen until the next
   * commit, so they are freed only at stop. */
  std::vector<std::shared_ptr<zc::DumbFb>> retired;
  GstAllocator *allocator = nullptr; /* for the proposed pool */

  /* Streaming thread only (set_caps, show_frame). */
  GstVideoInfo vinfo {};
  uint32_t fourcc = 0;
  uint32_t plane_id_used = 0;
  Rect src, dst;
  std::vector<std::shared_ptr<zc::DumbFb>> slots;
  bool dmabuf_failed = false;
  GstBuffer *last_buffer = nullptr; /* shown last; preroll shows it twice */

  /* Display thread and its mailbox. frame_lock protects the frames, the
   * stats, the flags and the commit sequence; it is taken after the
   * object lock, never before. */
  std::mutex frame_lock;
  /* pending: frames not committed yet, oldest first; each may wait for
   * its acquire fence. The newest whose fence signalled
   * is committed when the display is free and the older ones count as
   * replaced; a frame still waiting is only replaced by a newer one that is
   * ready, so frames pushed before their fences (zcamsrc's early mode)
   * are shown in turn as they complete instead of replacing each other. */
  std::deque<FramePtr> pending;
  FramePtr in_flight, on_screen;
  Stats stats;
  zc::WarningLimiter warnings; /* fence timeouts: what reaches the bus */
  bool stopping = false, modeset = true, failed = false;
  uint32_t last_overlay = 0;
  /* Signalled by the display thread after each round (a commit, a flip,
   * a dropped frame), for EOS, which waits until no frame is pending;
   * `unlocked` (basesink's unlock) ends that wait early. */
  std::condition_variable idle_cond;
  bool unlocked = false;
  std::thread thread;
  /* Wakes the display thread up: a new frame, or stop. */
  Wakeup wake;
};

} // namespace zc

struct _GstZcKmsSink
{
  GstVideoSink parent;
  zc::State *state;
};

namespace zc {

/* Display thread main loop (zc-kms-display.cpp). */
void display_thread (GstZcKmsSink *self);
/* Posts the summary of fence timeouts held back (zc-kms-display.cpp). */
void post_timeout_summary (GstZcKmsSink *self,
    const zc::WarningLimiter::Summary &sum);

} // namespace zc
