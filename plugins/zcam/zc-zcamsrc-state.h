/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcamsrc: the stream state (zc::ZcamSrcState), a class of its own so that
 * the element's GObject functions stay thin. It owns the device, the
 * stream's buffers (slots) and the decisions of the streaming loop: which
 * buffer to queue, when to push, what a completion event means.
 */
#pragma once

#include <atomic>

#include "gstzcamsrc.h"
#include "zc-ratelimit.h"
#include "zc-unique-fd.h"
#include "zc-wakeup.h"
#include "zc-zcam-device.h"

#include <gst/video/video.h>

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#define DEFAULT_FENCE_MODE GST_ZCAM_SRC_FENCE_MODE_EARLY
#define DEFAULT_NUM_BUFFERS_POOL 4

namespace zc {

/* One of the stream's buffers. */
struct Slot
{
  /* Our reference while the buffer is here (not downstream). */
  GstBuffer *buffer = nullptr;
  int dmabuf_fd = -1;       /* owned by the buffer's memory */
  bool in_kernel = false;   /* queued, completion event not read yet */
  bool downstream = false;  /* handed out, not returned yet */
  bool ready = false;       /* in `ready`: waiting for its push */
  UniqueFd release_fence;   /* merged release fences of the last lap */
  UniqueFd acquire_fence;   /* out-fence of the current capture */
  guint32 index = 0;        /* the device's buffer index (QBUF) */
  guint64 sequence = 0;     /* QBUF's, then the completion event's */
  guint64 timestamp_ns = 0; /* completion time (late mode) */
};

struct Props
{
  std::string device;
  GstZcamSrcFenceMode fence_mode = DEFAULT_FENCE_MODE;
  guint num_buffers_pool = DEFAULT_NUM_BUFFERS_POOL;
};

struct Stats
{
  guint64 frames = 0;
  guint64 dropped = 0; /* sequence gaps: frames the device lost */
  guint64 fence_errors = 0;
  guint64 latency = 0; /* minimum latency answered (ns) */
};

/* What the streaming loop does next. */
enum class Step {
  PUSH,
  WAIT,
  FLUSHING,
  ERROR
};

/* A frame whose fence signalled an error, to be posted as a warning. */
struct Warning
{
  guint64 sequence;
  gint error;
};

/*
 * Threads: the streaming thread (create, allocation), the application's
 * (state changes, properties, unlock) and whichever thread drops the last
 * reference of a buffer (buffer_returned, through the pool).
 *
 * Lock order: the pool's lock, then ZcamSrcState::lock, then the element's
 * GST_OBJECT_LOCK. The streaming thread never holds lock while calling
 * into the pool.
 */
class ZcamSrcState
{
public:
  explicit ZcamSrcState (GstZcamSrc *element) : self_ (element) {}
  ZcamSrcState (const ZcamSrcState &) = delete;
  ZcamSrcState &operator= (const ZcamSrcState &) = delete;

  /* Under GST_OBJECT_LOCK. */
  Props props;
  Stats stats;

  /* Streaming thread and state changes only. */
  zc::ZcamDevice dev;
  GstAllocator *allocator = nullptr;
  GstBufferPool *pool = nullptr;
  GstVideoInfo info;              /* with the kernel's strides and offsets */
  GstVideoInfo plain_info;        /* default layout, for copies */
  struct zcam_format format = {}; /* as the kernel set it */
  bool negotiated = false;
  bool dmabuf_caps = false;
  bool copy = false;
  /* Downstream copies: said once per stream (zc-downstream-copy.h). */
  std::atomic<bool> copy_warned { false };
  GstZcamSrcFenceMode mode = DEFAULT_FENCE_MODE;
  guint fps_n = 0, fps_d = 1;
  GstClockTime period = GST_CLOCK_TIME_NONE;
  bool streaming = false;
  guint64 t0_ns = 0; /* monotonic time of STREAMON */
  bool have_last_seq = false;
  guint64 last_completed_seq = 0; /* highest sequence of an event */
  guint64 last_pushed_seq = 0;
  bool pushed_any = false;
  GstClockTime last_pts = GST_CLOCK_TIME_NONE;
  WarningLimiter warnings;   /* failed frames: what reaches the bus */
  Warning last_failure = {}; /* the latest, for a summary's details */
  Wakeup wake;               /* a buffer came back, or unlock */

  /* Protects the fields below. */
  std::mutex lock;
  std::vector<Slot> slots;
  /* Slots to push, in order: late mode the completed ones, early mode
   * the queued ones (pushed while the device captures them). */
  std::deque<size_t> ready;
  /* Early mode: how much later than QBUF's prediction (the end of the
   * frame's period) the last frames completed (ns), for the PTS of frames
   * pushed before they complete; completion_offset() is the least of them:
   * the readout time, without the occasional frame the device ran late
   * for. */
  static constexpr size_t N_LATENESS = 8;
  gint64 lateness_ns[N_LATENESS] = {};
  size_t n_lateness = 0;
  gint64 completion_offset () const;
  bool flushing = false;

  /* Creates @count buffers of the negotiated format and the pool that
   * recycles them; posts the error and returns false on failure. */
  bool create_slots (guint count);
  /* Early mode: a completion event, for the PTS correction. */
  void note_completion (guint64 qseq, guint64 ts_ns);
  /* Ends the stream: STREAMOFF, buffers freed (those downstream when they
   * come back), old completion events dropped. */
  void stop_streaming ();
  /* Decides the next step with lock held; *out = slot to push. */
  Step next_step (std::vector<Warning> &warnings, size_t *out, int *err);
  /* Wakes the streaming loop (lock held or not). */
  void wake_up () { wake.signal (); }

private:
  void free_slots ();
  int queue_slot (size_t i);
  int drain_events (std::vector<Warning> &warnings);
  static void buffer_returned (gpointer user_data, GstBuffer *buffer);

  GstZcamSrc *const self_; /* the element, for messages and stats */
};

} // namespace zc
