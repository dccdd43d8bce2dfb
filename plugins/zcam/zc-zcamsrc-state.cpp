/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcamsrc's stream state: buffers, queueing, completion events. See
 * zc-zcamsrc-state.h for the lock order.
 */
#include "zc-zcamsrc-state.h"

#include "gstzchandoutpool.h"
#include "zc-fd.h"
#include "zc-glib.h"

#include <gst/allocators/allocators.h>
#include <gst/zerocopy/zerocopy.h>

#include <algorithm>

GST_DEBUG_CATEGORY_EXTERN (gst_zcam_src_debug);
#define GST_CAT_DEFAULT gst_zcam_src_debug

namespace zc {

/* Called by the pool when downstream dropped a buffer. */
void
ZcamSrcState::buffer_returned (gpointer user_data, GstBuffer *buffer)
{
  auto *st = static_cast<ZcamSrcState *> (user_data);
  GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buffer);
  UniqueFd release;
  if (meta) {
    /* The acquire fence belongs to the lap that just ended. */
    UniqueFd old (gst_zc_fence_meta_take_acquire_fence (meta));
    gint fd = gst_zc_fence_meta_take_merged_release_fence (meta);
    if (fd >= 0) {
      release.reset (fd);
    } else if (fd < -1) {
      /* Merging failed (fd limit?): wait for each, bounded, and move on. */
      guint n = 0;
      gint *fds = gst_zc_fence_meta_take_release_fences (meta, &n);
      for (guint i = 0; i < n; i++) {
        UniqueFd f (fds[i]);
        gst_zc_sync_file_wait (f.get (), GST_SECOND);
      }
      g_free (fds);
    }
  }

  std::lock_guard<std::mutex> lock (st->lock);
  for (Slot &s : st->slots) {
    if (s.buffer == buffer && s.downstream) {
      s.downstream = false;
      s.release_fence = std::move (release);
      st->wake_up ();
      return;
    }
  }
  /* Not one of ours (cannot happen): free it. */
  gst_buffer_unref (buffer);
}

void
ZcamSrcState::free_slots ()
{
  if (pool) {
    gst_zc_hand_out_pool_detach (GST_ZC_HAND_OUT_POOL (pool));
    gst_clear_object (&pool);
  }
  std::lock_guard<std::mutex> guard (lock);
  for (Slot &s : slots) {
    /* Buffers still downstream are freed by the pool when they return. */
    if (!s.downstream && s.buffer)
      gst_buffer_unref (s.buffer);
  }
  slots.clear ();
  ready.clear ();
}

void
ZcamSrcState::stop_streaming ()
{
  if (streaming || !slots.empty ()) {
    /* Cancels every queued frame; their fences signal -ECANCELED. */
    int ret = dev.is_open () ? dev.stream_off () : 0;
    if (ret < 0)
      GST_WARNING_OBJECT (self_, "STREAMOFF: %s", g_strerror (-ret));
  }
  streaming = false;
  free_slots ();
  /* Drop the completion events of the old stream. */
  struct zcam_event ev;
  while (dev.is_open () && dev.read_event (ev) == 0) {
  }
  have_last_seq = false;
  pushed_any = false;
  n_lateness = 0;
}

bool
ZcamSrcState::create_slots (guint count)
{
  std::vector<Slot> fresh (count);
  for (guint i = 0; i < count; i++) {
    UniqueFd fd;
    guint64 size = 0;
    int ret = dev.create_buffer (fd, size);
    if (ret < 0) {
      for (Slot &s : fresh)
        if (s.buffer)
          gst_buffer_unref (s.buffer);
      GST_ELEMENT_ERROR (self_, RESOURCE, NO_SPACE_LEFT,
          ("Could not create %u capture buffers on %s.", count,
              dev.path ().c_str ()),
          ("CREATE_BUF %u: %s", i, g_strerror (-ret)));
      return false;
    }
    /* The memory owns the fd: a buffer that outlives the stream (held
     * downstream past NULL) keeps its dma-buf valid. */
    int raw = fd.release ();
    GstMemory *mem = gst_fd_allocator_alloc (allocator, raw, size,
        GST_FD_MEMORY_FLAG_NONE);
    GstBuffer *buf = gst_buffer_new ();
    gst_buffer_append_memory (buf, mem);
    gst_buffer_set_size (buf, GST_VIDEO_INFO_SIZE (&info));
    GstVideoMeta *vmeta = gst_buffer_add_video_meta_full (buf,
        GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT (&info),
        GST_VIDEO_INFO_WIDTH (&info), GST_VIDEO_INFO_HEIGHT (&info),
        GST_VIDEO_INFO_N_PLANES (&info), info.offset, info.stride);
    vmeta->meta.flags = GstMetaFlags (vmeta->meta.flags | GST_META_FLAG_POOLED);
    GstZcFenceMeta *fmeta = gst_zc_buffer_add_fence_meta (buf);
    fmeta->meta.flags = GstMetaFlags (fmeta->meta.flags | GST_META_FLAG_POOLED);
    fresh[i].buffer = buf;
    fresh[i].dmabuf_fd = raw;
  }

  pool = gst_zc_hand_out_pool_new (buffer_returned, this);
  std::lock_guard<std::mutex> guard (lock);
  slots = std::move (fresh);
  ready.clear ();
  return true;
}

/* Queues slot @i (lock held). 0 or -errno. */
int
ZcamSrcState::queue_slot (size_t i)
{
  Slot &s = slots[i];
  UniqueFd out;
  guint64 seq = 0;
  guint32 index = 0;
  int ret = dev.queue (s.dmabuf_fd, s.release_fence.get (), out, seq, index);
  if (ret < 0)
    return ret;
  s.release_fence.reset ();
  s.acquire_fence = std::move (out);
  s.in_kernel = true;
  s.index = index;
  s.sequence = seq;
  return 0;
}

/* Early mode: a frame predicted (QBUF) for period @qseq completed at
 * @ts_ns. QBUF's prediction is the end of that period; the frame completes
 * later by the readout time, and by any periods the device lost for it
 * (lock held). */
void
ZcamSrcState::note_completion (guint64 qseq, guint64 ts_ns)
{
  gint64 predicted = gint64 (t0_ns + (qseq + 1) * period);
  lateness_ns[n_lateness++ % N_LATENESS] = std::max<gint64> (0,
      gint64 (ts_ns) - predicted);
}

gint64
ZcamSrcState::completion_offset () const
{
  size_t n = std::min (n_lateness, N_LATENESS);
  return n ? *std::min_element (lateness_ns, lateness_ns + n) : 0;
}

/* Reads all pending completion events (lock held). */
int
ZcamSrcState::drain_events (std::vector<Warning> &warnings)
{
  struct zcam_event ev;
  int ret;
  while ((ret = dev.read_event (ev)) == 0) {
    if (ev.type != ZCAM_EVENT_FRAME)
      continue;
    /* A buffer is queued at most once at a time, so its index names the
     * frame; the event's sequence is the period the frame was captured in,
     * which can be later than QBUF's when the device ran late. */
    auto it = std::find_if (slots.begin (), slots.end (),
        [&] (const Slot &s) { return s.in_kernel && s.index == ev.index; });
    if (it == slots.end ()) {
      GST_DEBUG_OBJECT (self_,
          "event for unknown buffer %u (frame %" G_GUINT64_FORMAT ")", ev.index,
          (guint64) ev.sequence);
      continue;
    }
    /* Every period the device did not capture is a gap in the sequence. */
    if (have_last_seq && ev.sequence > last_completed_seq + 1) {
      guint64 lost = ev.sequence - last_completed_seq - 1;
      ObjectLock guard (self_);
      stats.dropped += lost;
      GST_DEBUG_OBJECT (self_,
          "device lost %" G_GUINT64_FORMAT " frames "
          "before %" G_GUINT64_FORMAT,
          lost, (guint64) ev.sequence);
    }
    if (!have_last_seq || ev.sequence > last_completed_seq)
      last_completed_seq = ev.sequence;
    have_last_seq = true;
    it->in_kernel = false;
    it->timestamp_ns = ev.timestamp_ns;
    /* Early mode pushes the buffer with QBUF's sequence (its offset), the
     * prediction its PTS comes from; late mode with the captured one. */
    const bool early = mode == GST_ZCAM_SRC_FENCE_MODE_EARLY && !copy;
    const guint64 pushed_seq = early ? it->sequence : ev.sequence;
    if (early && !(ev.flags & ZCAM_EVENT_ERROR))
      note_completion (it->sequence, ev.timestamp_ns);
    if (!early)
      it->sequence = ev.sequence;
    if (ev.flags & ZCAM_EVENT_ERROR) {
      {
        ObjectLock guard (self_);
        stats.fence_errors++;
      }
      warnings.push_back ({ pushed_seq, ev.error });
      /* Late mode: the frame is dropped, the buffer goes back in. Early
       * mode pushes it anyway (if it is not pushed yet): its acquire fence
       * carries the error. */
      if (!early)
        it->acquire_fence.reset ();
      continue;
    }
    if (!early) {
      it->ready = true;
      ready.push_back (it - slots.begin ());
    }
  }
  return ret == -EAGAIN ? 0 : ret;
}

Step
ZcamSrcState::next_step (std::vector<Warning> &warnings, size_t *out, int *err)
{
  if (flushing)
    return Step::FLUSHING;
  int ret = drain_events (warnings);
  if (ret < 0) {
    *err = ret;
    return Step::ERROR;
  }
  const bool early = mode == GST_ZCAM_SRC_FENCE_MODE_EARLY && !copy;

  /* Queue every buffer that is back and idle, so that the device always
   * has buffers for the coming periods; early mode pushes them in queue
   * order, each while it is captured (a sink holding one until its PTS
   * does not leave the device without buffers). */
  for (size_t i = 0; i < slots.size (); i++) {
    Slot &s = slots[i];
    if (s.downstream || s.in_kernel || s.ready || !s.buffer)
      continue;
    ret = queue_slot (i);
    if (ret < 0) {
      *err = ret;
      return Step::ERROR;
    }
    if (!streaming) {
      ret = dev.stream_on (fps_n, fps_d);
      if (ret < 0) {
        *err = ret;
        return Step::ERROR;
      }
      streaming = true;
      t0_ns = guint64 (monotonic_ns ());
    }
    if (early) {
      s.ready = true;
      ready.push_back (i);
    }
  }
  if (!ready.empty ()) {
    *out = ready.front ();
    ready.pop_front ();
    slots[*out].ready = false;
    return Step::PUSH;
  }
  return Step::WAIT;
}

} // namespace zc
