/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pool does not own a free list: its owner (zcamsrc, zcipcsrc) decides
 * which buffer goes out next (the one the kernel filled, the one the IPC
 * server named), so acquire returns the buffer that
 * gst_zc_hand_out_pool_hand_out() names. Going through the pool's acquire
 * keeps GstBufferPool's accounting right, so a returning buffer ends up in
 * release_buffer(), which gives it back to the owner with its fence meta and
 * its release fences intact. After detach (the owner stopped) returning
 * buffers are freed; the pool lives as long as a buffer is out.
 */
#include "gstzchandoutpool.h"
#include "zc-glib.h"

#include <mutex>

GST_DEBUG_CATEGORY_STATIC (gst_zc_hand_out_pool_debug);
#define GST_CAT_DEFAULT gst_zc_hand_out_pool_debug

struct _GstZcHandOutPool
{
  GstBufferPool parent;

  /* Protects the fields below; taken before the owner's own lock. */
  GMutex lock;
  GstZcHandOutPoolReturnFunc func;
  gpointer user_data;
  GstBuffer *next;
};

G_DEFINE_TYPE_WITH_CODE (GstZcHandOutPool, gst_zc_hand_out_pool,
    GST_TYPE_BUFFER_POOL,
    GST_DEBUG_CATEGORY_INIT (gst_zc_hand_out_pool_debug, "zchandoutpool", 0,
        "hand-out buffer pool"));

namespace {

GstFlowReturn
pool_acquire (GstBufferPool *pool, GstBuffer **buffer,
    GstBufferPoolAcquireParams *)
{
  GstZcHandOutPool *self = GST_ZC_HAND_OUT_POOL (pool);
  zc::MutexLock lock (&self->lock);
  if (!self->next)
    return GST_FLOW_ERROR;
  *buffer = self->next;
  self->next = nullptr;
  return GST_FLOW_OK;
}

void
pool_reset (GstBufferPool *, GstBuffer *buffer)
{
  /* Unlike the default, keep the metas: the video meta is set once per
   * stream and the fence meta carries the release fences back. */
  GST_BUFFER_FLAGS (buffer) = 0;
  GST_BUFFER_PTS (buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DTS (buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_OFFSET (buffer) = GST_BUFFER_OFFSET_NONE;
  GST_BUFFER_OFFSET_END (buffer) = GST_BUFFER_OFFSET_NONE;
}

void
pool_release (GstBufferPool *pool, GstBuffer *buffer)
{
  GstZcHandOutPool *self = GST_ZC_HAND_OUT_POOL (pool);
  zc::MutexLock lock (&self->lock);
  if (self->func) {
    self->func (self->user_data, buffer);
    return;
  }
  GST_DEBUG_OBJECT (self, "buffer %p returned after the stream ended", buffer);
  gst_buffer_unref (buffer);
}

} // namespace

static void
gst_zc_hand_out_pool_finalize (GObject *object)
{
  GstZcHandOutPool *self = GST_ZC_HAND_OUT_POOL (object);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (gst_zc_hand_out_pool_parent_class)->finalize (object);
}

static void
gst_zc_hand_out_pool_class_init (GstZcHandOutPoolClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS (klass);

  gobject_class->finalize = gst_zc_hand_out_pool_finalize;
  pool_class->acquire_buffer = pool_acquire;
  pool_class->reset_buffer = pool_reset;
  pool_class->release_buffer = pool_release;
}

static void
gst_zc_hand_out_pool_init (GstZcHandOutPool *self)
{
  g_mutex_init (&self->lock);
}

GstBufferPool *
gst_zc_hand_out_pool_new (GstZcHandOutPoolReturnFunc func, gpointer user_data)
{
  GstZcHandOutPool *self = GST_ZC_HAND_OUT_POOL (
      g_object_new (GST_TYPE_ZC_HAND_OUT_POOL, NULL));
  gst_object_ref_sink (self);
  self->func = func;
  self->user_data = user_data;

  /* The base class wants a configuration before it can be activated; it
   * allocates nothing since min-buffers is 0 and alloc is never used. */
  GstStructure *config = gst_buffer_pool_get_config (GST_BUFFER_POOL (self));
  gst_buffer_pool_config_set_params (config, NULL, 1, 0, 0);
  gst_buffer_pool_set_config (GST_BUFFER_POOL (self), config);
  gst_buffer_pool_set_active (GST_BUFFER_POOL (self), TRUE);
  return GST_BUFFER_POOL (self);
}

/* Hands @buffer (transfer full) out through the pool; NULL when inactive. */
GstBuffer *
gst_zc_hand_out_pool_hand_out (GstZcHandOutPool *self, GstBuffer *buffer)
{
  {
    zc::MutexLock lock (&self->lock);
    self->next = buffer;
  }
  GstBuffer *out = nullptr;
  GstFlowReturn ret = gst_buffer_pool_acquire_buffer (GST_BUFFER_POOL (self),
      &out, NULL);
  if (ret != GST_FLOW_OK) {
    zc::MutexLock lock (&self->lock);
    self->next = nullptr;
    gst_buffer_unref (buffer);
    return nullptr;
  }
  return out;
}

/* After this, returning buffers are freed instead of reported. */
void
gst_zc_hand_out_pool_detach (GstZcHandOutPool *self)
{
  {
    zc::MutexLock lock (&self->lock);
    self->func = nullptr;
    self->user_data = nullptr;
  }
  gst_buffer_pool_set_active (GST_BUFFER_POOL (self), FALSE);
}
