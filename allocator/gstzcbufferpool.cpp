/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstzcbufferpool
 * @title: GstZcBufferPool
 * @short_description: video buffers in dma-buf memory, recycled with fences
 *
 * A #GstBufferPool for raw video whose buffers hold one #GstMemory each,
 * from a #GstZcAllocator, laid out by gst_zc_allocator_negotiate_layout().
 * The pool keeps the same #GstMemory in the same #GstBuffer for its whole
 * life, so that importers that cache per memory (KMS framebuffers,
 * EGLImages, V4L2 buffer indices) hit after the first lap. A buffer that
 * comes back with other memory is discarded, not repaired.
 *
 * Config: the usual params (caps, min, max; the size is set by the pool),
 * %GST_BUFFER_POOL_OPTION_VIDEO_META (buffers get a #GstVideoMeta with the
 * real strides; without it consumers assume GStreamer's default strides),
 * %GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT (stride alignment per plane and
 * padding), gst_zc_buffer_pool_config_set_layout_align() and
 * gst_zc_buffer_pool_config_set_release_timeout().
 *
 * Release fences: when a buffer returns with release fences in its
 * #GstZcFenceMeta, it is kept aside until they signal. A thread of the pool
 * polls them, so the releasing thread never waits. A caller that can hand
 * the fences to hardware acquires with
 * %GST_ZC_BUFFER_POOL_ACQUIRE_FLAG_WITH_FENCES and may get such a buffer
 * right away, with its fences as release fences of a #GstZcFenceMeta.
 * Fences that do not signal within the release timeout make the pool free
 * that buffer (with a warning) rather than keep it forever.
 *
 * Exhaustion: with %GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT an empty pool
 * returns %GST_FLOW_EOS at once; a blocking acquire waits for a release,
 * logging a warning with the counts every second it waits, and returns
 * %GST_FLOW_FLUSHING when the pool is set flushing or inactive.
 */
#include "zc-allocator-private.h"
#include "zc-debug.h"
#include "zc-fd.h"
#include "zc-wakeup.h"

#include <gst/zerocopy/gstzcbufferpool.h>
#include <gst/zerocopy/gstzcfencemeta.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <poll.h>

#define GST_CAT_DEFAULT gst_zc_buffer_pool_debug

namespace {

using FenceList = std::vector<zc::UniqueFd>;

/* A returned buffer waiting for its release fences. */
struct Fenced
{
  GstBuffer *buffer;
  FenceList fences;
  gint64 deadline_us;
};

struct State
{
  /* Set in set_config (pool inactive, no buffers out); read-only while the
   * pool is active. */
  GstZcAllocator *allocator = nullptr;
  GstVideoInfo info {};
  GstZcLayout layout {};
  bool have_layout = false;
  bool video_meta = false;
  guint max_buffers = 0;
  GstClockTime release_timeout = GST_ZC_BUFFER_POOL_RELEASE_TIMEOUT_DEFAULT;

  /* Everything below is protected by lock. Lock order: the pool's
   * GST_BUFFER_POOL_LOCK, then lock. The parent class's release_buffer is
   * called with lock held (it only pushes to a lock-free queue or frees). */
  std::mutex lock;
  std::condition_variable cond;
  guint64 generation = 0; /* bumped whenever a buffer may be free */
  bool flushing = false;
  std::deque<Fenced> fenced;
  guint out = 0; /* buffers handed out, for messages */
  std::thread watcher;
  bool watcher_quit = false;
  zc::Wakeup wake; /* interrupts the watcher's poll */
};

GQuark
memory_quark ()
{
  static GQuark q = g_quark_from_static_string ("GstZcBufferPool.memory");
  return q;
}

GQuark
fences_quark ()
{
  static GQuark q = g_quark_from_static_string ("GstZcBufferPool.fences");
  return q;
}

const gchar *config_stride_align = "gst-zc-stride-align";
const gchar *config_height_align = "gst-zc-height-align";
const gchar *config_release_timeout = "gst-zc-release-timeout";

bool
fence_signalled (const zc::UniqueFd &fd)
{
  return zc::poll_fd (fd.get (), POLLIN, 0) != -ETIMEDOUT;
}

} // namespace

struct _GstZcBufferPool
{
  GstBufferPool parent;
  State *state;
};

G_DEFINE_TYPE_WITH_CODE (GstZcBufferPool, gst_zc_buffer_pool,
    GST_TYPE_BUFFER_POOL, zc::debug_init ());

#define PARENT_CLASS GST_BUFFER_POOL_CLASS (gst_zc_buffer_pool_parent_class)

namespace {

void
notify_locked (State &st)
{
  st.generation++;
  st.cond.notify_all ();
}

void
wake_watcher (State &st)
{
  if (int ret = st.wake.signal ())
    GST_LOG ("wake-up: %s", g_strerror (-ret));
}

/* Hands a fenced buffer back to the parent's free queue (or frees it when
 * its memory was tagged). Called with st.lock held. */
void
give_back_locked (GstBufferPool *pool, State &st, GstBuffer *buffer)
{
  PARENT_CLASS->release_buffer (pool, buffer);
  notify_locked (st);
}

void
watcher_main (GstBufferPool *pool, State *st)
{
  std::unique_lock<std::mutex> lock (st->lock);
  while (!st->watcher_quit) {
    std::vector<struct pollfd> pfds;
    pfds.push_back ({ st->wake.fd (), POLLIN, 0 });
    gint64 deadline = G_MAXINT64;
    for (const auto &f : st->fenced) {
      for (const auto &fd : f.fences)
        pfds.push_back ({ fd.get (), POLLIN, 0 });
      deadline = MIN (deadline, f.deadline_us);
    }
    int timeout_ms = -1;
    if (deadline != G_MAXINT64)
      timeout_ms = int (
          CLAMP ((deadline - g_get_monotonic_time () + 999) / 1000, 0, 60000));

    /* The poll only tells that something may have happened: entries and
     * fds can change while unlocked, so they are re-checked below. */
    lock.unlock ();
    if (poll (pfds.data (), pfds.size (), timeout_ms) < 0 && errno != EINTR)
      GST_WARNING_OBJECT (pool, "poll: %s", g_strerror (errno));
    if (pfds[0].revents & POLLIN)
      st->wake.clear ();
    lock.lock ();

    const gint64 now = g_get_monotonic_time ();
    for (auto it = st->fenced.begin (); it != st->fenced.end ();) {
      std::erase_if (it->fences, fence_signalled);
      if (it->fences.empty ()) {
        GST_LOG_OBJECT (pool, "release fences of %p signalled", it->buffer);
        give_back_locked (pool, *st, it->buffer);
        it = st->fenced.erase (it);
      } else if (now >= it->deadline_us) {
        GST_WARNING_OBJECT (pool,
            "buffer %p: %zu release fence(s) did not "
            "signal within %" GST_TIME_FORMAT "; freeing the buffer",
            it->buffer, it->fences.size (),
            GST_TIME_ARGS (st->release_timeout));
        GST_BUFFER_FLAG_SET (it->buffer, GST_BUFFER_FLAG_TAG_MEMORY);
        give_back_locked (pool, *st, it->buffer);
        it = st->fenced.erase (it);
      } else {
        ++it;
      }
    }
  }
}

gboolean
gst_zc_buffer_pool_set_config (GstBufferPool *pool, GstStructure *config)
{
  GstZcBufferPool *self = GST_ZC_BUFFER_POOL (pool);
  State &st = *self->state;

  GstCaps *caps;
  guint size, min, max;
  if (!gst_buffer_pool_config_get_params (config, &caps, &size, &min, &max) ||
      !caps) {
    GST_WARNING_OBJECT (pool, "config without caps");
    return FALSE;
  }
  GstVideoInfo info;
  if (!gst_video_info_from_caps (&info, caps)) {
    GST_WARNING_OBJECT (pool, "caps %" GST_PTR_FORMAT " are not raw video",
        caps);
    return FALSE;
  }

  GstAllocator *alloc = NULL;
  GstAllocationParams params;
  if (gst_buffer_pool_config_get_allocator (config, &alloc, &params) && alloc &&
      GST_IS_ZC_ALLOCATOR (alloc) && alloc != GST_ALLOCATOR (st.allocator)) {
    gst_object_replace ((GstObject **) &st.allocator, GST_OBJECT (alloc));
  } else if (!st.allocator) {
    st.allocator = GST_ZC_ALLOCATOR (gst_zc_allocator_new (NULL, NULL));
    if (!st.allocator)
      return FALSE;
  }

  st.video_meta = gst_buffer_pool_config_has_option (config,
      GST_BUFFER_POOL_OPTION_VIDEO_META);

  guint align[GST_VIDEO_MAX_PLANES] = { 1, 1, 1, 1 };
  guint width = GST_VIDEO_INFO_WIDTH (&info);
  guint height = GST_VIDEO_INFO_HEIGHT (&info);
  guint left = 0, top = 0;
  GstVideoAlignment valign;
  gst_video_alignment_reset (&valign);
  if (gst_buffer_pool_config_has_option (config,
          GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT) &&
      gst_buffer_pool_config_get_video_alignment (config, &valign)) {
    for (guint i = 0; i < GST_VIDEO_MAX_PLANES; i++)
      align[i] = valign.stride_align[i] + 1;
    left = valign.padding_left;
    top = valign.padding_top;
    width += valign.padding_left + valign.padding_right;
    height += valign.padding_top + valign.padding_bottom;
  }
  guint stride_align = 1, height_align = 1;
  gst_zc_buffer_pool_config_get_layout_align (config, &stride_align,
      &height_align);
  for (guint i = 0; i < GST_VIDEO_MAX_PLANES; i++)
    align[i] = MAX (align[i], stride_align);

  GstZcLayout layout;
  if (!zc::allocator_negotiate (st.allocator, GST_VIDEO_INFO_FORMAT (&info),
          width, height, align, height_align, &layout))
    return FALSE;

  /* Padding on the left and top moves each plane's first visible pixel. */
  const GstZcFormatInfo *fi = gst_zc_format_get_info (layout.format);
  for (guint i = 0; i < layout.n_planes; i++) {
    if (left % fi->block_width[i] || top % fi->vsub[i]) {
      GST_WARNING_OBJECT (pool,
          "padding %u,%u does not fit the subsampling "
          "of %s",
          left, top, gst_video_format_to_string (layout.format));
      return FALSE;
    }
    GST_VIDEO_INFO_PLANE_STRIDE (&info, i) = layout.stride[i];
    GST_VIDEO_INFO_PLANE_OFFSET (&info, i) = layout.offset[i] +
        gsize (top / fi->vsub[i]) * layout.stride[i] +
        gsize (left / fi->block_width[i]) * fi->block_bytes[i];
  }
  GST_VIDEO_INFO_SIZE (&info) = layout.size;

  if (!st.video_meta) {
    GstVideoInfo plain;
    gst_video_info_from_caps (&plain, caps);
    for (guint i = 0; i < layout.n_planes; i++)
      if (GST_VIDEO_INFO_PLANE_STRIDE (&plain, i) !=
              GST_VIDEO_INFO_PLANE_STRIDE (&info, i) ||
          GST_VIDEO_INFO_PLANE_OFFSET (&plain, i) !=
              GST_VIDEO_INFO_PLANE_OFFSET (&info, i)) {
        GST_WARNING_OBJECT (pool,
            "the %s layout differs from GStreamer's "
            "default and the config has no VIDEO_META option: consumers "
            "will read the frame wrongly",
            gst_zc_allocator_get_backend (st.allocator));
        break;
      }
  }

  st.info = info;
  st.layout = layout;
  st.have_layout = true;
  st.max_buffers = max;
  if (!gst_structure_get_uint64 (config, config_release_timeout,
          &st.release_timeout))
    st.release_timeout = GST_ZC_BUFFER_POOL_RELEASE_TIMEOUT_DEFAULT;

  GST_DEBUG_OBJECT (pool,
      "%s %ux%u on %s: strides %u/%u/%u, size %" G_GSIZE_FORMAT
      ", min %u max %u%s",
      gst_video_format_to_string (layout.format), GST_VIDEO_INFO_WIDTH (&info),
      GST_VIDEO_INFO_HEIGHT (&info),
      gst_zc_allocator_get_backend (st.allocator), layout.stride[0],
      layout.stride[1], layout.stride[2], layout.size, min, max,
      st.video_meta ? ", video meta" : "");

  gst_buffer_pool_config_set_params (config, caps, guint (layout.size), min,
      max);
  gst_buffer_pool_config_set_allocator (config, GST_ALLOCATOR (st.allocator),
      &params);
  return PARENT_CLASS->set_config (pool, config);
}

const gchar **
gst_zc_buffer_pool_get_options (GstBufferPool *)
{
  static const gchar *options[] = { GST_BUFFER_POOL_OPTION_VIDEO_META,
    GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT, NULL };
  return options;
}

GstFlowReturn
gst_zc_buffer_pool_alloc_buffer (GstBufferPool *pool, GstBuffer **buffer,
    GstBufferPoolAcquireParams *)
{
  State &st = *GST_ZC_BUFFER_POOL (pool)->state;
  if (!st.have_layout)
    return GST_FLOW_NOT_NEGOTIATED;

  GstMemory *mem = gst_zc_allocator_alloc_layout (st.allocator, &st.layout);
  if (!mem) {
    GST_ERROR_OBJECT (pool,
        "cannot allocate a %s frame of %" G_GSIZE_FORMAT " bytes from %s",
        gst_video_format_to_string (st.layout.format), st.layout.size,
        gst_zc_allocator_get_backend (st.allocator));
    return GST_FLOW_ERROR;
  }
  GstBuffer *buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, mem);
  /* Not a reference: the buffer holds the memory. Only compared. */
  gst_mini_object_set_qdata (GST_MINI_OBJECT (buf), memory_quark (), mem, NULL);

  if (st.video_meta) {
    const GstVideoInfo *info = &st.info;
    gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
        GST_VIDEO_INFO_FORMAT (info), GST_VIDEO_INFO_WIDTH (info),
        GST_VIDEO_INFO_HEIGHT (info), GST_VIDEO_INFO_N_PLANES (info),
        const_cast<gsize *> (info->offset), const_cast<gint *> (info->stride));
  }
  GST_LOG_OBJECT (pool, "allocated buffer %p memory %p", buf, mem);
  *buffer = buf;
  return GST_FLOW_OK;
}

GstFlowReturn
gst_zc_buffer_pool_acquire_buffer (GstBufferPool *pool, GstBuffer **buffer,
    GstBufferPoolAcquireParams *params)
{
  State &st = *GST_ZC_BUFFER_POOL (pool)->state;
  const auto flags = params ? params->flags : GST_BUFFER_POOL_ACQUIRE_FLAG_NONE;

  /* The parent is only ever asked without waiting: waiting happens here,
   * where fenced buffers and flushing are also seen. */
  GstBufferPoolAcquireParams p = {};
  if (params)
    p = *params;
  p.flags = (GstBufferPoolAcquireFlags) (p.flags |
      GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT);

  const auto start = std::chrono::steady_clock::now ();
  for (;;) {
    guint64 gen;
    {
      std::lock_guard<std::mutex> lock (st.lock);
      gen = st.generation;
    }
    GstFlowReturn ret = PARENT_CLASS->acquire_buffer (pool, buffer, &p);
    if (ret == GST_FLOW_OK) {
      std::lock_guard<std::mutex> lock (st.lock);
      st.out++;
      return ret;
    }
    if (ret != GST_FLOW_EOS)
      return ret;

    std::unique_lock<std::mutex> lock (st.lock);
    if ((flags & GST_ZC_BUFFER_POOL_ACQUIRE_FLAG_WITH_FENCES) &&
        !st.fenced.empty ()) {
      Fenced f = std::move (st.fenced.front ());
      st.fenced.pop_front ();
      st.out++;
      lock.unlock ();
      wake_watcher (st);
      GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta (f.buffer);
      for (auto &fd : f.fences)
        gst_zc_fence_meta_add_release_fence (meta, fd.release ());
      GST_LOG_OBJECT (pool, "handing out %p with its release fences", f.buffer);
      *buffer = f.buffer;
      return GST_FLOW_OK;
    }
    if (flags & GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT) {
      GST_DEBUG_OBJECT (pool,
          "no free buffer: %u out, %zu waiting for "
          "release fences, max %u",
          st.out, st.fenced.size (), st.max_buffers);
      return GST_FLOW_EOS;
    }
    while (st.generation == gen && !st.flushing) {
      if (st.cond.wait_for (lock, std::chrono::seconds (1)) ==
          std::cv_status::timeout) {
        auto waited = std::chrono::duration_cast<std::chrono::seconds> (
            std::chrono::steady_clock::now () - start)
                          .count ();
        GST_WARNING_OBJECT (pool,
            "pool exhausted: waited %llds for a "
            "buffer; %u out, %zu waiting for release fences, max %u",
            (long long) waited, st.out, st.fenced.size (), st.max_buffers);
      }
    }
    if (st.flushing)
      return GST_FLOW_FLUSHING;
  }
}

void
gst_zc_buffer_pool_reset_buffer (GstBufferPool *pool, GstBuffer *buffer)
{
  State &st = *GST_ZC_BUFFER_POOL (pool)->state;

  /* Take the release fences before the parent drops the (unpooled) meta. */
  if (GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buffer)) {
    guint n = 0;
    g_autofree gint *fds = gst_zc_fence_meta_take_release_fences (meta, &n);
    if (n) {
      auto *list = static_cast<FenceList *> (
          gst_mini_object_steal_qdata (GST_MINI_OBJECT (buffer),
              fences_quark ()));
      if (!list)
        list = new FenceList;
      for (guint i = 0; i < n; i++)
        list->emplace_back (fds[i]);
      gst_mini_object_set_qdata (GST_MINI_OBJECT (buffer), fences_quark (),
          list, [] (gpointer p) { delete static_cast<FenceList *> (p); });
    }
  }

  GstMemory *orig = static_cast<GstMemory *> (
      gst_mini_object_get_qdata (GST_MINI_OBJECT (buffer), memory_quark ()));
  if (gst_buffer_n_memory (buffer) != 1 ||
      gst_buffer_peek_memory (buffer, 0) != orig) {
    GST_DEBUG_OBJECT (pool,
        "buffer %p came back with other memory; "
        "discarding it",
        buffer);
    GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_TAG_MEMORY);
  } else if (orig->offset != 0 || orig->size != st.layout.size) {
    /* Undo a resize without replacing the memory. */
    gst_memory_resize (orig, -gssize (orig->offset), st.layout.size);
  }
  PARENT_CLASS->reset_buffer (pool, buffer);
}

void
gst_zc_buffer_pool_release_buffer (GstBufferPool *pool, GstBuffer *buffer)
{
  GstZcBufferPool *self = GST_ZC_BUFFER_POOL (pool);
  State &st = *self->state;

  std::unique_ptr<FenceList> fences (static_cast<FenceList *> (
      gst_mini_object_steal_qdata (GST_MINI_OBJECT (buffer), fences_quark ())));
  if (fences)
    std::erase_if (*fences, fence_signalled);

  std::lock_guard<std::mutex> lock (st.lock);
  if (st.out)
    st.out--;
  if (!fences || fences->empty () ||
      GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_TAG_MEMORY)) {
    give_back_locked (pool, st, buffer);
    return;
  }

  GST_LOG_OBJECT (pool, "buffer %p waits for %zu release fence(s)", buffer,
      fences->size ());
  gint64 timeout_us = st.release_timeout == GST_CLOCK_TIME_NONE ?
      G_MAXINT64 / 2 :
      gint64 (st.release_timeout / 1000);
  st.fenced.push_back (
      { buffer, std::move (*fences), g_get_monotonic_time () + timeout_us });
  if (!st.wake) {
    if (int ret = st.wake.open ())
      GST_WARNING_OBJECT (pool,
          "no wake-up fd (%s): the fence watcher "
          "notices returned buffers only at its next fence",
          g_strerror (-ret));
  }
  if (!st.watcher.joinable ())
    st.watcher = std::thread (watcher_main, pool, &st);
  wake_watcher (st);
}

void
gst_zc_buffer_pool_flush_start (GstBufferPool *pool)
{
  State &st = *GST_ZC_BUFFER_POOL (pool)->state;
  std::lock_guard<std::mutex> lock (st.lock);
  st.flushing = true;
  notify_locked (st);
}

void
gst_zc_buffer_pool_flush_stop (GstBufferPool *pool)
{
  State &st = *GST_ZC_BUFFER_POOL (pool)->state;
  std::lock_guard<std::mutex> lock (st.lock);
  st.flushing = false;
}

gboolean
gst_zc_buffer_pool_stop (GstBufferPool *pool)
{
  State &st = *GST_ZC_BUFFER_POOL (pool)->state;
  {
    /* Buffers still waiting for fences are freed with the others; the
     * dma-bufs stay alive for as long as their importers hold them. */
    std::lock_guard<std::mutex> lock (st.lock);
    for (auto &f : st.fenced)
      give_back_locked (pool, st, f.buffer);
    st.fenced.clear ();
  }
  wake_watcher (st);
  return PARENT_CLASS->stop (pool);
}

} // namespace

static void
gst_zc_buffer_pool_init (GstZcBufferPool *self)
{
  self->state = new State;
}

static void
gst_zc_buffer_pool_finalize (GObject *object)
{
  GstZcBufferPool *self = GST_ZC_BUFFER_POOL (object);
  State &st = *self->state;
  {
    std::lock_guard<std::mutex> lock (st.lock);
    st.watcher_quit = true;
  }
  wake_watcher (st);
  if (st.watcher.joinable ())
    st.watcher.join ();

  /* The parent deactivates the pool, which calls our stop(). */
  G_OBJECT_CLASS (gst_zc_buffer_pool_parent_class)->finalize (object);

  gst_clear_object (&st.allocator);
  delete self->state;
  self->state = nullptr;
}

static void
gst_zc_buffer_pool_class_init (GstZcBufferPoolClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS (klass);

  gobject_class->finalize = gst_zc_buffer_pool_finalize;
  pool_class->get_options = gst_zc_buffer_pool_get_options;
  pool_class->set_config = gst_zc_buffer_pool_set_config;
  pool_class->alloc_buffer = gst_zc_buffer_pool_alloc_buffer;
  pool_class->acquire_buffer = gst_zc_buffer_pool_acquire_buffer;
  pool_class->reset_buffer = gst_zc_buffer_pool_reset_buffer;
  pool_class->release_buffer = gst_zc_buffer_pool_release_buffer;
  pool_class->flush_start = gst_zc_buffer_pool_flush_start;
  pool_class->flush_stop = gst_zc_buffer_pool_flush_stop;
  pool_class->stop = gst_zc_buffer_pool_stop;
}

/**
 * gst_zc_buffer_pool_new:
 * @allocator: (nullable) (transfer none): a #GstZcAllocator, or %NULL to
 *   open one with the "auto" backend at the first configuration (a
 *   #GstZcAllocator set in the config also replaces it)
 *
 * Returns: (transfer full): a new #GstZcBufferPool.
 *
 * Since: 0.1
 */
GstBufferPool *
gst_zc_buffer_pool_new (GstAllocator *allocator)
{
  g_return_val_if_fail (allocator == NULL || GST_IS_ZC_ALLOCATOR (allocator),
      NULL);
  GstZcBufferPool *self = GST_ZC_BUFFER_POOL (
      g_object_new (GST_TYPE_ZC_BUFFER_POOL, NULL));
  gst_object_ref_sink (self);
  if (allocator)
    self->state->allocator = GST_ZC_ALLOCATOR (gst_object_ref (allocator));
  return GST_BUFFER_POOL (self);
}

/**
 * gst_zc_buffer_pool_get_allocator:
 * @pool: a #GstZcBufferPool
 *
 * Returns: (transfer full) (nullable): the allocator in use, or %NULL
 *   before the first configuration of a pool created without one.
 *
 * Since: 0.1
 */
GstZcAllocator *
gst_zc_buffer_pool_get_allocator (GstZcBufferPool *pool)
{
  g_return_val_if_fail (GST_IS_ZC_BUFFER_POOL (pool), NULL);
  GstZcAllocator *a = pool->state->allocator;
  return a ? GST_ZC_ALLOCATOR (gst_object_ref (a)) : NULL;
}

/**
 * gst_zc_buffer_pool_get_layout:
 * @pool: a configured #GstZcBufferPool
 * @layout: (out caller-allocates): the layout of the pool's frames
 *
 * The layout the buffers' memory has, before any left/top padding of a
 * #GstVideoAlignment is applied (the #GstVideoMeta has the final offsets).
 *
 * Returns: %TRUE when the pool is configured.
 *
 * Since: 0.1
 */
gboolean
gst_zc_buffer_pool_get_layout (GstZcBufferPool *pool, GstZcLayout *layout)
{
  g_return_val_if_fail (GST_IS_ZC_BUFFER_POOL (pool), FALSE);
  g_return_val_if_fail (layout != NULL, FALSE);
  if (!pool->state->have_layout)
    return FALSE;
  *layout = pool->state->layout;
  return TRUE;
}

/**
 * gst_zc_buffer_pool_get_n_fenced:
 * @pool: a #GstZcBufferPool
 *
 * Returns: how many returned buffers wait for their release fences.
 *
 * Since: 0.1
 */
guint
gst_zc_buffer_pool_get_n_fenced (GstZcBufferPool *pool)
{
  g_return_val_if_fail (GST_IS_ZC_BUFFER_POOL (pool), 0);
  std::lock_guard<std::mutex> lock (pool->state->lock);
  return guint (pool->state->fenced.size ());
}

/**
 * gst_zc_buffer_pool_config_set_layout_align:
 * @config: a buffer pool config
 * @stride_align: stride alignment in bytes, a power of two (0 or 1: none)
 * @height_align: line padding of each plane, a power of two (0 or 1: none)
 *
 * Asks for strides and plane heights aligned for a consumer (codecs that
 * work on macroblocks need the padding rows to exist in memory).
 *
 * Since: 0.1
 */
void
gst_zc_buffer_pool_config_set_layout_align (GstStructure *config,
    guint stride_align, guint height_align)
{
  g_return_if_fail (config != NULL);
  gst_structure_set (config, config_stride_align, G_TYPE_UINT,
      MAX (stride_align, 1u), config_height_align, G_TYPE_UINT,
      MAX (height_align, 1u), NULL);
}

/**
 * gst_zc_buffer_pool_config_get_layout_align:
 * @config: a buffer pool config
 * @stride_align: (out) (optional): stride alignment, 1 when unset
 * @height_align: (out) (optional): height alignment, 1 when unset
 *
 * Returns: %TRUE when the config has a layout alignment.
 *
 * Since: 0.1
 */
gboolean
gst_zc_buffer_pool_config_get_layout_align (GstStructure *config,
    guint *stride_align, guint *height_align)
{
  g_return_val_if_fail (config != NULL, FALSE);
  guint s = 1, h = 1;
  gboolean have = gst_structure_get_uint (config, config_stride_align, &s);
  have |= gst_structure_get_uint (config, config_height_align, &h);
  if (stride_align)
    *stride_align = MAX (s, 1u);
  if (height_align)
    *height_align = MAX (h, 1u);
  return have;
}

/**
 * gst_zc_buffer_pool_config_set_release_timeout:
 * @config: a buffer pool config
 * @timeout: longest wait for a returned buffer's release fences (ns), or
 *   %GST_CLOCK_TIME_NONE
 *
 * After the timeout the pool frees the buffer instead of reusing it.
 *
 * Since: 0.1
 */
void
gst_zc_buffer_pool_config_set_release_timeout (GstStructure *config,
    GstClockTime timeout)
{
  g_return_if_fail (config != NULL);
  gst_structure_set (config, config_release_timeout, G_TYPE_UINT64, timeout,
      NULL);
}
