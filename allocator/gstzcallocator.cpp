/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstzcallocator
 * @title: GstZcAllocator
 * @short_description: dma-buf allocator with zcam, DMA heap, udmabuf, DRM
 *   dumb and memfd backends
 *
 * A #GstDmaBufAllocator whose memory comes from one of several kernel
 * sources, chosen by name or, for "auto", the first available of:
 *
 * - "zcam": a zcam capture device (`/dev/zcamN`); the device lays frames out.
 * - "dma-heap": a DMA heap (`/dev/dma_heap/system` first).
 * - "udmabuf": memfd pages turned into a dma-buf by `/dev/udmabuf`.
 * - "dumb": a DRM dumb buffer exported through PRIME (vgem, vkms, any KMS
 *   card); the device may be a path or a driver name such as "vgem".
 * - "memfd": plain shared memory; not a dma-buf (gst_is_dmabuf_memory()
 *   says %FALSE), logged under GST_PERFORMANCE. The last resort.
 *
 * Every dma-buf is named "gstzc-<backend>" (DMA_BUF_SET_NAME) so that
 * `/sys/kernel/debug/dma_buf/bufinfo` shows whose it is.
 *
 * CPU maps of dma-buf memory first wait, bounded by #GstZcAllocator:map-timeout,
 * for the dma-buf's implicit fences (the producer's write fence for a read
 * map, all fences for a write map; this is where zcam and
 * gst_zc_dmabuf_import_sync_file() put acquire fences), then bracket the
 * access with DMA_BUF_IOCTL_SYNC. A map whose fences do not signal in time
 * fails instead of hanging.
 */
#include "zc-acquire.h"
#include "zc-allocator-private.h"
#include "zc-backend.h"
#include "zc-debug.h"
#include "zc-format.h"

#include <gst/zerocopy/gstzcallocator.h>
#include <gst/zerocopy/gstzcsyncfile.h>

#include <atomic>
#include <string>

#include <poll.h>

#define GST_CAT_DEFAULT gst_zc_allocator_debug

namespace {

/* C++ state of the allocator: GObject instances are zero-filled memory
 * that never runs constructors, so it lives behind a pointer. */
struct State
{
  std::unique_ptr<zc::Backend> backend; /* set once in _new(), then const */
  std::string dmabuf_name;
  GstAllocator *fd_allocator = nullptr; /* wraps memfds (not dma-bufs) */
  GstMemoryMapFunction parent_map = nullptr;
  GstMemoryUnmapFunction parent_unmap = nullptr;
  std::atomic<guint64> map_timeout { GST_ZC_ALLOCATOR_MAP_TIMEOUT_DEFAULT };
  std::atomic<bool> told_not_dmabuf { false };
};

const gchar *const backend_names[] = { "zcam", "dma-heap", "udmabuf", "dumb",
  "memfd", NULL };

enum {
  PROP_0,
  PROP_BACKEND,
  PROP_DEVICE,
  PROP_MAP_TIMEOUT,
  N_PROPS
};
GParamSpec *properties[N_PROPS];

} // namespace

struct _GstZcAllocator
{
  GstDmaBufAllocator parent;
  State *state;
};

G_DEFINE_TYPE_WITH_CODE (GstZcAllocator, gst_zc_allocator,
    GST_TYPE_DMABUF_ALLOCATOR, zc::debug_init ());

namespace {

State &
state_of (GstMemory *mem)
{
  return *GST_ZC_ALLOCATOR (mem->allocator)->state;
}

gpointer
zc_mem_map_full (GstMemory *mem, GstMapInfo *info, gsize maxsize)
{
  State &st = state_of (mem);
  const bool read = info->flags & GST_MAP_READ;
  const bool write = info->flags & GST_MAP_WRITE;
  const int fd = gst_fd_memory_get_fd (mem);

  /*
   * dma-buf poll(): POLLIN is ready once the write fences of the
   * reservation object signalled, POLLOUT once all did. SYNC_START would
   * wait for the same fences without a time limit; this wait is bounded.
   */
  const guint64 timeout = st.map_timeout.load ();
  const gint64 limit = timeout == GST_CLOCK_TIME_NONE ? -1 : gint64 (timeout);

  /* An acquire fence that only the buffer's GstZcFenceMeta knows of. */
  int ret = 0;
  if (zc::UniqueFd acquire (zc::memory_dup_acquire_fence (mem)); acquire)
    ret = gst_zc_sync_file_wait (acquire.get (), limit);
  if (ret == 0)
    ret = zc::poll_fd (fd, write ? POLLOUT : POLLIN, limit);
  if (ret == -ETIMEDOUT) {
    GST_WARNING_OBJECT (mem->allocator,
        "map of memory %p (dma-buf %d): its "
        "fences did not signal within %" GST_TIME_FORMAT,
        mem, fd, GST_TIME_ARGS (timeout));
    return NULL;
  }

  const bool both = st.backend->sync_read_write ();
  zc::CpuAccess access (fd, read || both, write || both);
  ret = access.begin ();
  if (ret < 0)
    GST_WARNING_OBJECT (mem->allocator, "DMA_BUF_IOCTL_SYNC start on %d: %s",
        fd, g_strerror (-ret));

  gpointer data = st.parent_map (mem, maxsize, info->flags);
  if (!data)
    return NULL;  /* ~CpuAccess ends the bracket */
  access.keep (); /* zc_mem_unmap_full() ends it */
  return data;
}

void
zc_mem_unmap_full (GstMemory *mem, GstMapInfo *info)
{
  State &st = state_of (mem);
  st.parent_unmap (mem);
  const bool both = st.backend->sync_read_write ();
  zc::CpuAccess::end_cpu_access (gst_fd_memory_get_fd (mem),
      both || (info->flags & GST_MAP_READ),
      both || (info->flags & GST_MAP_WRITE));
}

GstMemory *
wrap_fd (GstZcAllocator *self, zc::UniqueFd fd, gsize size)
{
  State &st = *self->state;
  gint64 real = zc::fd_size (fd.get ());
  gsize maxsize = real > 0 && gsize (real) > size ? gsize (real) : size;

  GstMemory *mem;
  if (st.backend->is_dmabuf ()) {
    int ret = zc::dmabuf_set_name (fd.get (), st.dmabuf_name.c_str ());
    if (ret < 0)
      GST_DEBUG_OBJECT (self, "cannot name dma-buf: %s", g_strerror (-ret));
    mem = gst_fd_allocator_alloc (GST_ALLOCATOR (self), fd.release (), maxsize,
        GST_FD_MEMORY_FLAG_NONE);
  } else {
    if (!st.told_not_dmabuf.exchange (true))
      GST_CAT_INFO_OBJECT (gst_zc_performance_debug, self,
          "backend %s gives "
          "memory that is not a dma-buf: devices cannot import it, every "
          "hand-over to hardware will copy",
          st.backend->name ());
    mem = gst_fd_allocator_alloc (st.fd_allocator, fd.release (), maxsize,
        GST_FD_MEMORY_FLAG_NONE);
  }
  if (mem && maxsize != size)
    gst_memory_resize (mem, 0, size);
  return mem;
}

GstMemory *
zc_alloc (GstAllocator *allocator, gsize size, GstAllocationParams *params)
{
  GstZcAllocator *self = GST_ZC_ALLOCATOR (allocator);
  const gsize prefix = params ? params->prefix : 0;
  const gsize padding = params ? params->padding : 0;
  const gsize total = prefix + size + padding;

  zc::UniqueFd fd;
  int ret = self->state->backend->allocate (total, fd);
  if (ret < 0) {
    GST_WARNING_OBJECT (self,
        "%s: cannot allocate %" G_GSIZE_FORMAT " bytes: %s",
        self->state->backend->name (), total, g_strerror (-ret));
    return NULL;
  }
  GstMemory *mem = wrap_fd (self, std::move (fd), total);
  if (mem && (prefix || padding))
    gst_memory_resize (mem, prefix, size);
  return mem;
}

} // namespace

static void
gst_zc_allocator_init (GstZcAllocator *self)
{
  GstAllocator *alloc = GST_ALLOCATOR (self);
  self->state = new State;
  self->state->fd_allocator = gst_fd_allocator_new ();

  /* Wrap the fd memory map functions the parents installed. */
  self->state->parent_map = alloc->mem_map;
  self->state->parent_unmap = alloc->mem_unmap;
  alloc->mem_map_full = zc_mem_map_full;
  alloc->mem_unmap_full = zc_mem_unmap_full;

  /* Unlike the plain dma-buf allocator this one can allocate: anyone may
   * use it through gst_allocator_alloc(). */
  GST_OBJECT_FLAG_UNSET (self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
}

static void
gst_zc_allocator_finalize (GObject *object)
{
  GstZcAllocator *self = GST_ZC_ALLOCATOR (object);
  gst_clear_object (&self->state->fd_allocator);
  delete self->state;
  G_OBJECT_CLASS (gst_zc_allocator_parent_class)->finalize (object);
}

static void
gst_zc_allocator_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstZcAllocator *self = GST_ZC_ALLOCATOR (object);
  switch (prop_id) {
    case PROP_BACKEND:
      g_value_set_string (value, gst_zc_allocator_get_backend (self));
      break;
    case PROP_DEVICE:
      g_value_set_string (value, gst_zc_allocator_get_device (self));
      break;
    case PROP_MAP_TIMEOUT:
      g_value_set_uint64 (value, self->state->map_timeout.load ());
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_zc_allocator_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstZcAllocator *self = GST_ZC_ALLOCATOR (object);
  switch (prop_id) {
    case PROP_MAP_TIMEOUT:
      self->state->map_timeout = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_zc_allocator_class_init (GstZcAllocatorClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstAllocatorClass *allocator_class = GST_ALLOCATOR_CLASS (klass);

  gobject_class->finalize = gst_zc_allocator_finalize;
  gobject_class->get_property = gst_zc_allocator_get_property;
  gobject_class->set_property = gst_zc_allocator_set_property;
  allocator_class->alloc = zc_alloc;

  /**
   * GstZcAllocator:backend:
   *
   * The backend in use ("zcam", "dma-heap", "udmabuf", "dumb", "memfd").
   *
   * Since: 0.1
   */
  properties[PROP_BACKEND] = g_param_spec_string ("backend", "Backend",
      "Backend the memory comes from", NULL,
      (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstZcAllocator:device:
   *
   * The device or heap in use, empty for memfd.
   *
   * Since: 0.1
   */
  properties[PROP_DEVICE] = g_param_spec_string ("device", "Device",
      "Device or heap the memory comes from", NULL,
      (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstZcAllocator:map-timeout:
   *
   * How long a CPU map waits for the dma-buf's fences before it fails, in
   * nanoseconds. %GST_CLOCK_TIME_NONE waits without limit.
   *
   * Since: 0.1
   */
  properties[PROP_MAP_TIMEOUT] = g_param_spec_uint64 ("map-timeout",
      "Map timeout", "Longest wait of a CPU map for fences (ns)", 0,
      G_MAXUINT64, GST_ZC_ALLOCATOR_MAP_TIMEOUT_DEFAULT,
      (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (gobject_class, N_PROPS, properties);
}

/**
 * gst_zc_allocator_list_backends:
 *
 * Returns: (transfer none) (array zero-terminated=1): the backend names in
 *   the order "auto" tries them.
 *
 * Since: 0.1
 */
const gchar *const *
gst_zc_allocator_list_backends (void)
{
  return backend_names;
}

/**
 * gst_zc_allocator_new:
 * @backend: (nullable): a backend name from gst_zc_allocator_list_backends(),
 *   or "auto" (the same as %NULL or "")
 * @device: (nullable): device path or name for the backend (a zcam node, a
 *   heap name or path, a DRM card path or driver name); %NULL or "" finds one
 *
 * Opens an allocator. With "auto", the backends are tried in the order of
 * gst_zc_allocator_list_backends() and unavailable ones are skipped (with a
 * debug line); @device, when given, is offered to each of them. When "auto"
 * finds no dma-buf backend and falls back to memfd, a warning names why
 * each backend was unavailable. The "dumb" backend never keeps DRM master,
 * so a display element opened later can still commit.
 *
 * Returns: (transfer full) (nullable): a new #GstZcAllocator, or %NULL when
 *   the backend (or, for "auto", every backend) is unavailable.
 *
 * Since: 0.1
 */
GstAllocator *
gst_zc_allocator_new (const gchar *backend, const gchar *device)
{
  zc::debug_init ();
  /* "" is what an unset string property or a config file gives: the same
   * as NULL, not a device path. */
  if (device && !device[0])
    device = NULL;
  std::string want = backend && backend[0] ? backend : "auto";

  std::unique_ptr<zc::Backend> b;
  std::string why_not;
  for (const gchar *const *n = backend_names; *n && !b; n++) {
    if (want != "auto" && want != *n)
      continue;
    int err = 0;
    b = zc::open_backend (*n, device, &err);
    if (!b) {
      GST_DEBUG ("backend %s%s%s unavailable: %s", *n, device ? " on " : "",
          device ? device : "", g_strerror (-err));
      why_not += std::string (why_not.empty () ? "" : ", ") + *n + ": " +
          g_strerror (-err);
    }
  }
  if (b && want == "auto" && !b->is_dmabuf ())
    GST_WARNING ("no dma-buf backend available%s%s (%s): falling back to "
                 "memfd, which devices cannot import (frames will be copied)",
        device ? " on " : "", device ? device : "", why_not.c_str ());
  if (!b) {
    GST_WARNING ("no allocator backend \"%s\"%s%s available", want.c_str (),
        device ? " on " : "", device ? device : "");
    return NULL;
  }

  GstZcAllocator *self = GST_ZC_ALLOCATOR (
      g_object_new (GST_TYPE_ZC_ALLOCATOR, NULL));
  gst_object_ref_sink (self);
  self->state->dmabuf_name = std::string ("gstzc-") + b->name ();
  self->state->backend = std::move (b);
  GST_INFO_OBJECT (self, "backend %s, device \"%s\"",
      self->state->backend->name (), self->state->backend->device ().c_str ());
  return GST_ALLOCATOR (self);
}

/**
 * gst_zc_allocator_get_backend:
 * @allocator: a #GstZcAllocator
 *
 * Returns: (transfer none): the name of the backend in use.
 *
 * Since: 0.1
 */
const gchar *
gst_zc_allocator_get_backend (GstZcAllocator *allocator)
{
  g_return_val_if_fail (GST_IS_ZC_ALLOCATOR (allocator), NULL);
  return allocator->state->backend ? allocator->state->backend->name () : NULL;
}

/**
 * gst_zc_allocator_get_device:
 * @allocator: a #GstZcAllocator
 *
 * Returns: (transfer none): the device or heap path in use ("" for memfd).
 *
 * Since: 0.1
 */
const gchar *
gst_zc_allocator_get_device (GstZcAllocator *allocator)
{
  g_return_val_if_fail (GST_IS_ZC_ALLOCATOR (allocator), NULL);
  return allocator->state->backend ?
      allocator->state->backend->device ().c_str () :
      NULL;
}

/**
 * gst_zc_allocator_get_device_fd:
 * @allocator: a #GstZcAllocator
 *
 * The open device of the "zcam" and "dumb" backends. For zcam it is the
 * file the buffers of the most recent layout were created on, where a
 * producer queues them (ZCAM_IOC_QBUF).
 *
 * Returns: the device fd, owned by the allocator (do not close it), or -1
 *   for other backends.
 *
 * Since: 0.1
 */
gint
gst_zc_allocator_get_device_fd (GstZcAllocator *allocator)
{
  g_return_val_if_fail (GST_IS_ZC_ALLOCATOR (allocator), -1);
  return allocator->state->backend ? allocator->state->backend->device_fd () :
                                     -1;
}

/**
 * gst_zc_allocator_is_dmabuf:
 * @allocator: a #GstZcAllocator
 *
 * Returns: %TRUE when the memory is dma-buf memory (all backends but memfd).
 *
 * Since: 0.1
 */
gboolean
gst_zc_allocator_is_dmabuf (GstZcAllocator *allocator)
{
  g_return_val_if_fail (GST_IS_ZC_ALLOCATOR (allocator), FALSE);
  return allocator->state->backend && allocator->state->backend->is_dmabuf ();
}

/**
 * gst_zc_allocator_set_map_timeout:
 * @allocator: a #GstZcAllocator
 * @timeout: longest wait in ns, or %GST_CLOCK_TIME_NONE
 *
 * Sets #GstZcAllocator:map-timeout.
 *
 * Since: 0.1
 */
void
gst_zc_allocator_set_map_timeout (GstZcAllocator *allocator,
    GstClockTime timeout)
{
  g_return_if_fail (GST_IS_ZC_ALLOCATOR (allocator));
  allocator->state->map_timeout = timeout;
}

/**
 * gst_zc_allocator_get_map_timeout:
 * @allocator: a #GstZcAllocator
 *
 * Returns: #GstZcAllocator:map-timeout.
 *
 * Since: 0.1
 */
GstClockTime
gst_zc_allocator_get_map_timeout (GstZcAllocator *allocator)
{
  g_return_val_if_fail (GST_IS_ZC_ALLOCATOR (allocator), 0);
  return allocator->state->map_timeout.load ();
}

namespace zc {

bool
allocator_negotiate (GstZcAllocator *self, GstVideoFormat format, guint width,
    guint height, const guint align[GST_VIDEO_MAX_PLANES], guint height_align,
    GstZcLayout *layout)
{
  const GstZcFormatInfo *fi = gst_zc_format_get_info (format);
  if (!fi) {
    GST_WARNING_OBJECT (self, "format %s is not in the format table",
        gst_video_format_to_string (format));
    return false;
  }
  int ret = self->state->backend->negotiate (fi, width, height, align,
      height_align, layout);
  if (ret < 0) {
    GST_WARNING_OBJECT (self, "%s: no layout for %s %ux%u: %s",
        self->state->backend->name (), gst_video_format_to_string (format),
        width, height, g_strerror (-ret));
    return false;
  }
  return true;
}

} // namespace zc

/**
 * gst_zc_allocator_negotiate_layout:
 * @allocator: a #GstZcAllocator
 * @format: video format (from the format table)
 * @width: frame width
 * @height: frame height
 * @stride_align: stride alignment in bytes, a power of two (0: none)
 * @height_align: line padding of each plane, a power of two (0: none)
 * @layout: (out caller-allocates): the layout
 *
 * Tells the layout gst_zc_allocator_alloc_layout() will use for such a
 * frame. Most backends compute it with gst_zc_format_compute_layout(); a
 * DRM card may impose a larger pitch, and a zcam device lays the frame out
 * itself (strides are never smaller than asked for).
 *
 * Returns: %TRUE on success.
 *
 * Since: 0.1
 */
gboolean
gst_zc_allocator_negotiate_layout (GstZcAllocator *allocator,
    GstVideoFormat format, guint width, guint height, guint stride_align,
    guint height_align, GstZcLayout *layout)
{
  g_return_val_if_fail (GST_IS_ZC_ALLOCATOR (allocator), FALSE);
  g_return_val_if_fail (layout != NULL, FALSE);
  const guint align[GST_VIDEO_MAX_PLANES] = { stride_align, stride_align,
    stride_align, stride_align };
  return zc::allocator_negotiate (allocator, format, width, height, align,
      height_align, layout);
}

/**
 * gst_zc_allocator_alloc_layout:
 * @allocator: a #GstZcAllocator
 * @layout: a layout from gst_zc_allocator_negotiate_layout() on this
 *   allocator
 *
 * Allocates memory for one frame in @layout; the memory's size is
 * @layout->size.
 *
 * Returns: (transfer full) (nullable): the memory, or %NULL on failure.
 *
 * Since: 0.1
 */
GstMemory *
gst_zc_allocator_alloc_layout (GstZcAllocator *allocator,
    const GstZcLayout *layout)
{
  g_return_val_if_fail (GST_IS_ZC_ALLOCATOR (allocator), NULL);
  g_return_val_if_fail (layout != NULL && layout->size > 0, NULL);

  zc::UniqueFd fd;
  int ret = allocator->state->backend->allocate_layout (*layout, fd);
  if (ret < 0) {
    GST_WARNING_OBJECT (allocator, "%s: cannot allocate a %s %ux%u frame: %s",
        allocator->state->backend->name (),
        gst_video_format_to_string (layout->format), layout->width,
        layout->height, g_strerror (-ret));
    return NULL;
  }
  return wrap_fd (allocator, std::move (fd), layout->size);
}

/**
 * gst_zc_allocator_alloc_video:
 * @allocator: a #GstZcAllocator
 * @info: format and size of the frame
 * @stride_align: stride alignment in bytes, a power of two (0: none)
 * @height_align: line padding of each plane, a power of two (0: none)
 * @out_info: (out caller-allocates) (optional): @info with the strides,
 *   offsets and size of the memory
 *
 * Negotiates a layout and allocates one frame in it.
 *
 * Returns: (transfer full) (nullable): the memory, or %NULL on failure.
 *
 * Since: 0.1
 */
GstMemory *
gst_zc_allocator_alloc_video (GstZcAllocator *allocator,
    const GstVideoInfo *info, guint stride_align, guint height_align,
    GstVideoInfo *out_info)
{
  g_return_val_if_fail (GST_IS_ZC_ALLOCATOR (allocator), NULL);
  g_return_val_if_fail (info != NULL, NULL);

  GstZcLayout layout;
  if (!gst_zc_allocator_negotiate_layout (allocator,
          GST_VIDEO_INFO_FORMAT (info), GST_VIDEO_INFO_WIDTH (info),
          GST_VIDEO_INFO_HEIGHT (info), stride_align, height_align, &layout))
    return NULL;
  GstMemory *mem = gst_zc_allocator_alloc_layout (allocator, &layout);
  if (mem && out_info) {
    *out_info = *info;
    for (guint i = 0; i < layout.n_planes; i++) {
      GST_VIDEO_INFO_PLANE_STRIDE (out_info, i) = layout.stride[i];
      GST_VIDEO_INFO_PLANE_OFFSET (out_info, i) = layout.offset[i];
    }
    GST_VIDEO_INFO_SIZE (out_info) = layout.size;
  }
  return mem;
}
