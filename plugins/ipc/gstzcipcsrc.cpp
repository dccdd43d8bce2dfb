/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-zcipcsrc
 * @title: zcipcsrc
 *
 * The client of `zcipcsink`: connects to its Unix socket
 * (#GstZcIpcSrc:socket-path, retrying until #GstZcIpcSrc:timeout while the
 * server is not up yet), wraps each dma-buf the server announces once in a
 * #GstMemory of its own buffer (so the import caches of elements
 * downstream hit after the first lap), and pushes every frame the server
 * sends as that buffer, `video/x-raw(memory:DMABuf)`, with a
 * #GstZcFenceMeta holding the frame's acquire fence. When downstream drops
 * the buffer, its release fences (merged) go back to the server, or none
 * when nothing downstream left one (released on the CPU).
 *
 * A live source: the server's timestamps (CLOCK_MONOTONIC on the wire) are
 * turned into running time of this pipeline. New caps from the server
 * renegotiate; the server's EOS ends the stream; a server that goes away
 * or sends a malformed message is an error.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 zcipcsrc socket-path=/tmp/camera.sock ! zckmssink
 * ]|
 */
#include "gstzcipcsrc.h"

#include <gst/allocators/allocators.h>
#include <gst/video/video.h>
#include <gst/zerocopy/zerocopy.h>

#include "gstzchandoutpool.h"
#include "zc-fd.h"
#include "zc-glib.h"
#include "zc-ipc-protocol.h"
#include "zc-stats.h"
#include "zc-unique-fd.h"
#include "zc-wakeup.h"

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

GST_DEBUG_CATEGORY_STATIC (gst_zc_ipc_src_debug);
#define GST_CAT_DEFAULT gst_zc_ipc_src_debug

using zc::UniqueFd;
namespace ipc = zc::ipc;

namespace {

constexpr guint64 DEFAULT_TIMEOUT = 10 * GST_SECOND;
/* Between two connection attempts (a sleep on the wake-up eventfd). */
constexpr gint64 RETRY_NS = 50 * GST_MSECOND;
/* A release waits at most this long for room in the socket. */
constexpr int RELEASE_SEND_TIMEOUT_MS = 1000;

struct Slot
{
  GstBuffer *buffer = nullptr; /* ours while not downstream */
  bool out = false;            /* downstream */
  bool stale = false;          /* of earlier caps: freed when it returns */
};

struct Props
{
  std::string socket_path = "/tmp/zcipc.sock";
  guint64 timeout = DEFAULT_TIMEOUT;
};

/*
 * Lock order: the pool's lock (held when a buffer returns), then `lock`;
 * GST_OBJECT_LOCK only for the properties, never with `lock`.
 */
struct State
{
  Props props; /* under GST_OBJECT_LOCK */
  Props run;
  zc::Wakeup wakeup;
  GstAllocator *dmabuf = nullptr;
  GstBufferPool *pool = nullptr;

  std::mutex lock; /* the fields below */
  UniqueFd sock;
  bool flushing = false;
  std::map<guint32, Slot> slots;
  std::map<GstBuffer *, guint32> ids;
  guint32 generation = 0;
  bool have_caps = false;
  GstVideoFormat format = GST_VIDEO_FORMAT_UNKNOWN; /* of the caps */
  GstCaps *caps = nullptr;                          /* the server's */
  std::unique_ptr<ipc::Received> msg = std::make_unique<ipc::Received> ();
  /* stats */
  guint64 frames = 0, pushed = 0, releases = 0, release_fences = 0;
  guint64 server_dropped = 0, server_sent = 0;
};

} // namespace

struct _GstZcIpcSrc
{
  GstPushSrc parent;
  State *state;
};

G_DEFINE_TYPE_WITH_CODE (GstZcIpcSrc, gst_zc_ipc_src, GST_TYPE_PUSH_SRC,
    GST_DEBUG_CATEGORY_INIT (gst_zc_ipc_src_debug, "zcipcsrc", 0,
        "zero-copy IPC source"));
GST_ELEMENT_REGISTER_DEFINE (zcipcsrc, "zcipcsrc", GST_RANK_NONE,
    GST_TYPE_ZC_IPC_SRC);

enum {
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_TIMEOUT,
  PROP_STATS,
  N_PROPS
};
static GParamSpec *g_properties[N_PROPS];

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE_WITH_FEATURES (
        GST_CAPS_FEATURE_MEMORY_DMABUF,
        GST_VIDEO_FORMATS_ALL) ";" GST_VIDEO_CAPS_MAKE (GST_VIDEO_FORMATS_ALL)));

namespace {

/* A buffer came back from downstream (any thread; the pool's lock held):
 * its release fences go to the server. */
void
buffer_returned (gpointer user_data, GstBuffer *buffer)
{
  GstZcIpcSrc *self = GST_ZC_IPC_SRC (user_data);
  State *st = self->state;
  GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buffer);
  UniqueFd fence;
  if (meta) {
    zc::close_owned (gst_zc_fence_meta_take_acquire_fence (meta));
    gint fd = gst_zc_fence_meta_take_merged_release_fence (meta);
    if (fd >= 0)
      fence.reset (fd);
  }
  std::lock_guard<std::mutex> l (st->lock);
  auto id = st->ids.find (buffer);
  if (id == st->ids.end ()) {
    gst_buffer_unref (buffer);
    return;
  }
  Slot &slot = st->slots.at (id->second);
  slot.out = false;
  if (st->sock) {
    ipc::ReleaseMsg rel {};
    ipc::header_init (rel.hdr, ipc::Type::RELEASE, sizeof (rel), fence ? 1 : 0);
    rel.id = id->second;
    rel.flags = fence ? ipc::RELEASE_HAS_FENCE : 0;
    int fd = fence.get ();
    int ret = ipc::send_message (st->sock.get (), &rel, sizeof (rel), &fd,
        fence ? 1 : 0);
    if (ret == -EAGAIN &&
        zc::poll_fd (st->sock.get (), POLLOUT,
            gint64 (RELEASE_SEND_TIMEOUT_MS) * GST_MSECOND) == 0)
      ret = ipc::send_message (st->sock.get (), &rel, sizeof (rel), &fd,
          fence ? 1 : 0);
    if (ret == 0) {
      st->releases++;
      if (fence)
        st->release_fences++;
    } else {
      GST_DEBUG_OBJECT (self, "release of buffer %u not sent: %s", id->second,
          g_strerror (-ret));
    }
  }
  if (slot.stale || !st->sock) {
    st->slots.erase (id->second);
    st->ids.erase (id);
    gst_buffer_unref (buffer);
  }
}

/* Connects, retrying until the timeout; FALSE with an element error, or
 * on a flush (then @flushing is set). */
gboolean
connect_server (GstZcIpcSrc *self, bool *flushing)
{
  State *st = self->state;
  const std::string &path = st->run.socket_path;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty () || path.size () >= sizeof (addr.sun_path)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("socket-path \"%s\" is %s; give a path of 1 to %zu characters",
            path.c_str (), path.empty () ? "empty" : "too long",
            sizeof (addr.sun_path) - 1),
        (NULL));
    return FALSE;
  }
  memcpy (addr.sun_path, path.c_str (), path.size () + 1);
  gint64 deadline = zc::monotonic_ns () + gint64 (st->run.timeout);
  int err = 0;
  for (;;) {
    UniqueFd fd (socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (fd &&
        connect (fd.get (), (struct sockaddr *) &addr, sizeof (addr)) == 0) {
      std::lock_guard<std::mutex> l (st->lock);
      st->sock = std::move (fd);
      GST_INFO_OBJECT (self, "connected to %s", path.c_str ());
      return TRUE;
    }
    err = errno;
    gint64 left = deadline - zc::monotonic_ns ();
    if (left <= 0 || (err != ENOENT && err != ECONNREFUSED && err != EAGAIN))
      break;
    /* Not up yet: sleep on the wake-up, so a flush ends the wait. */
    if (zc::poll_fd (st->wakeup.fd (), POLLIN, std::min (left, RETRY_NS)) ==
        0) {
      std::lock_guard<std::mutex> l (st->lock);
      if (st->flushing) {
        *flushing = true;
        return FALSE;
      }
      st->wakeup.clear ();
    }
  }
  GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
      ("Could not connect to the zcipcsink at \"%s\" within %.1f s: %s; is "
       "the server running, and is socket-path right?",
          path.c_str (), double (st->run.timeout) / GST_SECOND,
          g_strerror (err)),
      ("connect: %s", g_strerror (err)));
  return FALSE;
}

/* Our running time of a CLOCK_MONOTONIC time. */
GstClockTime
to_running_time (GstZcIpcSrc *self, gint64 mono)
{
  if (mono < 0)
    return GST_CLOCK_TIME_NONE;
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  if (!clock)
    return GST_CLOCK_TIME_NONE;
  gint64 offset = zc::monotonic_ns () - gint64 (gst_clock_get_time (clock));
  gst_object_unref (clock);
  gint64 rt = mono - offset -
      gint64 (gst_element_get_base_time (GST_ELEMENT (self)));
  return rt < 0 ? 0 : GstClockTime (rt);
}

void
protocol_error (GstZcIpcSrc *self, const char *why)
{
  GST_ELEMENT_ERROR (self, STREAM, DECODE,
      ("The zcipcsink at \"%s\" sent a malformed message: %s",
          self->state->run.socket_path.c_str (), why),
      (NULL));
}

/* Wraps an announced buffer (under the lock); FALSE: malformed. */
bool
add_buffer (GstZcIpcSrc *self, const ipc::BufferMsg &m, UniqueFd fd,
    const char **why)
{
  State *st = self->state;
  if (m.generation != st->generation || !st->have_caps) {
    *why = "buffer of another generation than the caps";
    return false;
  }
  if (st->slots.count (m.id) || st->slots.size () >= ipc::MAX_BUFFERS) {
    *why = "buffer id announced twice, or too many buffers";
    return false;
  }
  gint64 size = zc::fd_size (fd.get ());
  if (m.n_planes < 1 || m.n_planes > ipc::MAX_PLANES || m.size == 0 ||
      size < 0 || guint64 (size) < m.size || m.format != guint32 (st->format) ||
      !m.width || !m.height) {
    *why = "buffer layout out of range (planes, size, or a format other "
           "than the caps')";
    return false;
  }
  for (guint i = 0; i < m.n_planes; i++) {
    if (m.offset[i] >= m.size || m.stride[i] <= 0) {
      *why = "plane offset or stride out of range";
      return false;
    }
  }
  GstMemory *mem = gst_dmabuf_allocator_alloc (st->dmabuf, fd.release (),
      m.size);
  GstBuffer *buffer = gst_buffer_new ();
  gst_buffer_append_memory (buffer, mem);
  gsize offset[GST_VIDEO_MAX_PLANES] = {};
  gint stride[GST_VIDEO_MAX_PLANES] = {};
  for (guint i = 0; i < m.n_planes; i++) {
    offset[i] = m.offset[i];
    stride[i] = m.stride[i];
  }
  gst_buffer_add_video_meta_full (buffer, GST_VIDEO_FRAME_FLAG_NONE,
      GstVideoFormat (m.format), m.width, m.height, m.n_planes, offset, stride);
  gst_zc_buffer_add_fence_meta (buffer);
  st->slots[m.id].buffer = buffer;
  st->ids[buffer] = m.id;
  GST_DEBUG_OBJECT (self, "buffer %u: %" G_GUINT64_FORMAT " bytes", m.id,
      m.size);
  return true;
}

/* New caps (under the lock): forgets every buffer; those downstream holds
 * are freed when they come back. Returns the caps (transfer full), or NULL
 * when malformed. */
GstCaps *
new_caps (GstZcIpcSrc *self, const ipc::CapsMsg &m, const char **why)
{
  State *st = self->state;
  if (m.length < 2 || m.length > ipc::MAX_CAPS || m.caps[m.length - 1] ||
      strlen (m.caps) != m.length - 1) {
    *why = "caps string length";
    return nullptr;
  }
  GstCaps *caps = gst_caps_from_string (m.caps);
  GstVideoInfo info;
  if (!caps || !gst_caps_is_fixed (caps) ||
      !gst_video_info_from_caps (&info, caps)) {
    if (caps)
      gst_caps_unref (caps);
    *why = "caps are not fixed video caps";
    return nullptr;
  }
  for (auto it = st->slots.begin (); it != st->slots.end ();) {
    if (it->second.out) {
      it->second.stale = true;
      ++it;
    } else {
      st->ids.erase (it->second.buffer);
      gst_buffer_unref (it->second.buffer);
      it = st->slots.erase (it);
    }
  }
  st->generation = m.generation;
  st->have_caps = true;
  st->format = GST_VIDEO_INFO_FORMAT (&info);
  gst_caps_replace (&st->caps, caps);
  return caps;
}

} // namespace

static gboolean
gst_zc_ipc_src_start (GstBaseSrc *src)
{
  GstZcIpcSrc *self = GST_ZC_IPC_SRC (src);
  State *st = self->state;
  {
    zc::ObjectLock l (self);
    st->run = st->props;
  }
  if (st->wakeup.open () < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL),
        ("eventfd: %s", g_strerror (errno)));
    return FALSE;
  }
  std::lock_guard<std::mutex> l (st->lock);
  st->flushing = false;
  st->have_caps = false;
  st->frames = st->pushed = st->releases = st->release_fences = 0;
  st->server_dropped = st->server_sent = 0;
  st->dmabuf = gst_dmabuf_allocator_new ();
  st->pool = gst_zc_hand_out_pool_new (buffer_returned, self);
  return TRUE;
}

static gboolean
gst_zc_ipc_src_stop (GstBaseSrc *src)
{
  GstZcIpcSrc *self = GST_ZC_IPC_SRC (src);
  State *st = self->state;
  GstBufferPool *pool;
  {
    std::lock_guard<std::mutex> l (st->lock);
    pool = std::exchange (st->pool, nullptr);
  }
  /* Buffers still downstream are freed when they return. */
  if (pool) {
    gst_zc_hand_out_pool_detach (GST_ZC_HAND_OUT_POOL (pool));
    gst_object_unref (pool);
  }
  {
    std::lock_guard<std::mutex> l (st->lock);
    st->sock.reset ();
    for (auto it = st->slots.begin (); it != st->slots.end ();) {
      if (!it->second.out) {
        st->ids.erase (it->second.buffer);
        gst_buffer_unref (it->second.buffer);
        it = st->slots.erase (it);
      } else {
        ++it;
      }
    }
    /* Those still out are not ours any more: detach forgot them. */
    st->slots.clear ();
    st->ids.clear ();
    gst_clear_caps (&st->caps);
    if (st->dmabuf)
      gst_object_unref (std::exchange (st->dmabuf, nullptr));
  }
  st->wakeup.close ();
  return TRUE;
}

static gboolean
gst_zc_ipc_src_unlock (GstBaseSrc *src)
{
  GstZcIpcSrc *self = GST_ZC_IPC_SRC (src);
  {
    std::lock_guard<std::mutex> l (self->state->lock);
    self->state->flushing = true;
  }
  self->state->wakeup.signal ();
  return TRUE;
}

static gboolean
gst_zc_ipc_src_unlock_stop (GstBaseSrc *src)
{
  GstZcIpcSrc *self = GST_ZC_IPC_SRC (src);
  std::lock_guard<std::mutex> l (self->state->lock);
  self->state->flushing = false;
  self->state->wakeup.clear ();
  return TRUE;
}

static gboolean
gst_zc_ipc_src_query (GstBaseSrc *src, GstQuery *query)
{
  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    /* A frame's timestamp is its capture time in the server: it arrives
     * about one frame period later. */
    GstClockTime lat = 33 * GST_MSECOND;
    GstCaps *caps = gst_pad_get_current_caps (GST_BASE_SRC_PAD (src));
    GstVideoInfo info;
    if (caps && gst_video_info_from_caps (&info, caps) && info.fps_n > 0)
      lat = gst_util_uint64_scale (GST_SECOND, info.fps_d, info.fps_n);
    if (caps)
      gst_caps_unref (caps);
    gst_query_set_latency (query, TRUE, lat, GST_CLOCK_TIME_NONE);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS (gst_zc_ipc_src_parent_class)->query (src, query);
}

namespace {

/* The server's caps, offered with the DMABuf caps feature and without it:
 * the memory is dma-buf either way, and GStreamer 1.22's V4L2 elements
 * import dma-bufs only through plain video/x-raw caps. NULL before the
 * server's CAPS message. */
GstCaps *
offered_caps (State *st)
{
  std::lock_guard<std::mutex> l (st->lock);
  if (!st->caps)
    return nullptr;
  GstCaps *dmabuf = gst_caps_copy (st->caps);
  gst_caps_set_features (dmabuf, 0,
      gst_caps_features_new (GST_CAPS_FEATURE_MEMORY_DMABUF, NULL));
  GstCaps *plain = gst_caps_copy (st->caps);
  gst_caps_set_features (plain, 0, gst_caps_features_new_empty ());
  return gst_caps_merge (dmabuf, plain);
}

} // namespace

/* Until the server's CAPS message arrives (in create) there is nothing to
 * negotiate; after it, the variant of its caps downstream takes first. */
static gboolean
gst_zc_ipc_src_negotiate (GstBaseSrc *src)
{
  GstZcIpcSrc *self = GST_ZC_IPC_SRC (src);
  GstCaps *caps = offered_caps (self->state);
  if (!caps)
    return TRUE;
  GstCaps *peer = gst_pad_peer_query_caps (GST_BASE_SRC_PAD (src), caps);
  gst_caps_unref (caps);
  if (gst_caps_is_empty (peer)) {
    gst_caps_unref (peer);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Downstream accepts none of the server's caps"), (NULL));
    return FALSE;
  }
  peer = gst_caps_fixate (peer);
  gboolean ok = gst_base_src_set_caps (src, peer);
  gst_caps_unref (peer);
  return ok;
}

static GstCaps *
gst_zc_ipc_src_get_caps (GstBaseSrc *src, GstCaps *filter)
{
  GstZcIpcSrc *self = GST_ZC_IPC_SRC (src);
  GstCaps *caps = offered_caps (self->state);
  if (!caps)
    caps = gst_pad_get_pad_template_caps (GST_BASE_SRC_PAD (src));
  if (filter) {
    GstCaps *i = gst_caps_intersect_full (filter, caps,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = i;
  }
  return caps;
}

static GstFlowReturn
gst_zc_ipc_src_create (GstPushSrc *psrc, GstBuffer **outbuf)
{
  GstZcIpcSrc *self = GST_ZC_IPC_SRC (psrc);
  State *st = self->state;
  bool connected;
  {
    std::lock_guard<std::mutex> l (st->lock);
    if (st->flushing)
      return GST_FLOW_FLUSHING;
    connected = bool (st->sock);
  }
  if (!connected) {
    bool flushing = false;
    if (!connect_server (self, &flushing))
      return flushing ? GST_FLOW_FLUSHING : GST_FLOW_ERROR;
  }
  const std::string &path = st->run.socket_path;
  for (;;) {
    int sock;
    {
      std::lock_guard<std::mutex> l (st->lock);
      if (st->flushing)
        return GST_FLOW_FLUSHING;
      sock = st->sock.get ();
    }
    struct pollfd pfd[2] = { { sock, POLLIN, 0 },
      { st->wakeup.fd (), POLLIN, 0 } };
    int timeout_ms = int (st->run.timeout / GST_MSECOND);
    int n = poll (pfd, 2, timeout_ms);
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, READ,
          ("No frame from the zcipcsink at \"%s\" for %.1f s; raise timeout "
           "if the server pauses",
              path.c_str (), double (st->run.timeout) / GST_SECOND),
          (NULL));
      return GST_FLOW_ERROR;
    }
    if (pfd[1].revents)
      continue; /* a flush, checked above */
    GstCaps *caps = nullptr;
    GstFlowReturn ret = GST_FLOW_OK;
    bool got_frame = false;
    {
      std::lock_guard<std::mutex> l (st->lock);
      ipc::Received &msg = *st->msg;
      const char *why = nullptr;
      int r = ipc::receive_message (sock, msg, &why);
      if (r == -EAGAIN)
        continue;
      if (r == -EPROTO) {
        protocol_error (self, why);
        return GST_FLOW_ERROR;
      }
      if (r < 0) {
        GST_ELEMENT_ERROR (self, RESOURCE, READ,
            ("The zcipcsink at \"%s\" went away before the end of the stream",
                path.c_str ()),
            ("recvmsg: %s", g_strerror (-r)));
        return GST_FLOW_ERROR;
      }
      switch (static_cast<ipc::Type> (msg.header ().type)) {
        case ipc::Type::CAPS:
          caps = new_caps (self,
              *reinterpret_cast<const ipc::CapsMsg *> (msg.data), &why);
          if (!caps) {
            protocol_error (self, why);
            return GST_FLOW_ERROR;
          }
          break;
        case ipc::Type::BUFFER:
          if (!add_buffer (self,
                  *reinterpret_cast<const ipc::BufferMsg *> (msg.data),
                  std::move (msg.fds[0]), &why)) {
            protocol_error (self, why);
            return GST_FLOW_ERROR;
          }
          break;
        case ipc::Type::FRAME: {
          const auto &fm = *reinterpret_cast<const ipc::FrameMsg *> (msg.data);
          bool has_fence = fm.flags & ipc::FRAME_HAS_FENCE;
          auto it = st->slots.find (fm.id);
          if (msg.fds.size () != (has_fence ? 1u : 0u) ||
              it == st->slots.end () || it->second.out || it->second.stale) {
            protocol_error (self,
                "frame in an unknown or busy buffer, or "
                "its fence count is wrong");
            return GST_FLOW_ERROR;
          }
          GstBuffer *buf = it->second.buffer;
          GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf);
          if (has_fence)
            gst_zc_fence_meta_add_acquire_fence (meta, msg.fds[0].release ());
          GST_BUFFER_PTS (buf) = to_running_time (self, fm.pts_mono);
          GST_BUFFER_DURATION (buf) = fm.duration < 0 ?
              GST_CLOCK_TIME_NONE :
              GstClockTime (fm.duration);
          GST_BUFFER_OFFSET (buf) = fm.offset;
          if (fm.flags & ipc::FRAME_DISCONT)
            GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
          it->second.out = true;
          st->frames++;
          st->server_sent = fm.sent + 1;
          st->server_dropped = fm.dropped;
          got_frame = true;
          GST_LOG_OBJECT (self,
              "frame in buffer %u, offset %" G_GUINT64_FORMAT
              ", pts %" GST_TIME_FORMAT " (captured %" G_GINT64_FORMAT
              " ns ago)",
              fm.id, fm.offset, GST_TIME_ARGS (GST_BUFFER_PTS (buf)),
              zc::monotonic_ns () - fm.pts_mono);
          *outbuf = buf;
          break;
        }
        case ipc::Type::EOS:
          GST_INFO_OBJECT (self, "EOS from the server");
          ret = GST_FLOW_EOS;
          break;
        case ipc::Type::ERROR: {
          auto &em = *reinterpret_cast<const ipc::ErrorMsg *> (msg.data);
          std::string text (em.text, strnlen (em.text, sizeof (em.text)));
          GST_ELEMENT_ERROR (self, STREAM, FAILED,
              ("The zcipcsink at \"%s\" failed: %s", path.c_str (),
                  text.c_str ()),
              (NULL));
          ret = GST_FLOW_ERROR;
          break;
        }
        case ipc::Type::RELEASE:
          protocol_error (self, "a release from the server");
          return GST_FLOW_ERROR;
      }
      msg.fds.clear ();
    }
    if (ret != GST_FLOW_OK)
      return ret;
    if (caps) {
      gst_caps_unref (caps);
      if (!gst_zc_ipc_src_negotiate (GST_BASE_SRC (self)))
        return GST_FLOW_NOT_NEGOTIATED;
      continue;
    }
    if (got_frame) {
      GstBufferPool *pool;
      {
        std::lock_guard<std::mutex> l (st->lock);
        pool = st->pool ? GST_BUFFER_POOL (gst_object_ref (st->pool)) : nullptr;
      }
      if (!pool)
        return GST_FLOW_FLUSHING;
      *outbuf = gst_zc_hand_out_pool_hand_out (GST_ZC_HAND_OUT_POOL (pool),
          *outbuf);
      gst_object_unref (pool);
      if (!*outbuf)
        return GST_FLOW_FLUSHING;
      std::lock_guard<std::mutex> l (st->lock);
      st->pushed++;
      return GST_FLOW_OK;
    }
  }
}

static GstStructure *
make_stats (GstZcIpcSrc *self)
{
  State *st = self->state;
  std::lock_guard<std::mutex> l (st->lock);
  return zc::stats_new (GST_ELEMENT (self),
      { { zc::Stat::FRAMES, st->frames }, { zc::Stat::PUSHED, st->pushed },
          { zc::Stat::DROPPED, st->server_dropped },
          { zc::Stat::RELEASES, st->releases },
          { zc::Stat::RELEASE_FENCES, st->release_fences },
          { zc::Stat::COPIES, 0 } });
}

static void
gst_zc_ipc_src_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstZcIpcSrc *self = GST_ZC_IPC_SRC (object);
  Props &p = self->state->props;
  zc::ObjectLock l (self);
  switch (prop_id) {
    case PROP_SOCKET_PATH: {
      const gchar *s = g_value_get_string (value);
      p.socket_path = s ? s : "";
      break;
    }
    case PROP_TIMEOUT:
      p.timeout = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_zc_ipc_src_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstZcIpcSrc *self = GST_ZC_IPC_SRC (object);
  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, make_stats (self));
    return;
  }
  Props &p = self->state->props;
  zc::ObjectLock l (self);
  switch (prop_id) {
    case PROP_SOCKET_PATH:
      g_value_set_string (value, p.socket_path.c_str ());
      break;
    case PROP_TIMEOUT:
      g_value_set_uint64 (value, p.timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_zc_ipc_src_finalize (GObject *object)
{
  GstZcIpcSrc *self = GST_ZC_IPC_SRC (object);
  delete self->state;
  G_OBJECT_CLASS (gst_zc_ipc_src_parent_class)->finalize (object);
}

static void
gst_zc_ipc_src_init (GstZcIpcSrc *self)
{
  self->state = new State ();
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
}

static void
gst_zc_ipc_src_class_init (GstZcIpcSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *base_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *push_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = gst_zc_ipc_src_set_property;
  gobject_class->get_property = gst_zc_ipc_src_get_property;
  gobject_class->finalize = gst_zc_ipc_src_finalize;

  const GParamFlags rw = GParamFlags (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  /**
   * GstZcIpcSrc:socket-path:
   *
   * The zcipcsink's Unix socket.
   */
  g_properties[PROP_SOCKET_PATH] = g_param_spec_string ("socket-path",
      "Socket path", "Unix socket of the zcipcsink to connect to",
      "/tmp/zcipc.sock", rw);
  /**
   * GstZcIpcSrc:timeout:
   *
   * How long (ns) to keep trying to connect while the server is not up,
   * and the longest wait for a message from it once connected; either is
   * an error after that.
   */
  g_properties[PROP_TIMEOUT] = g_param_spec_uint64 ("timeout", "Timeout",
      "Longest wait for the server (connecting, then between messages; ns)",
      GST_MSECOND, G_MAXUINT64, DEFAULT_TIMEOUT, rw);
  /**
   * GstZcIpcSrc:stats:
   *
   * Common fields (docs/elements.md): `frames` (received), `pushed`,
   * `dropped` (frames the server dropped for this client, as it last
   * reported), `releases` (frames given back), `release-fences` (releases
   * with a fence), `copies` (always 0).
   */
  g_properties[PROP_STATS] = zc::stats_param_spec (
      "Frames received, releases sent, frames the server dropped for us");
  g_object_class_install_properties (gobject_class, N_PROPS, g_properties);

  base_class->start = GST_DEBUG_FUNCPTR (gst_zc_ipc_src_start);
  base_class->stop = GST_DEBUG_FUNCPTR (gst_zc_ipc_src_stop);
  base_class->unlock = GST_DEBUG_FUNCPTR (gst_zc_ipc_src_unlock);
  base_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_zc_ipc_src_unlock_stop);
  base_class->query = GST_DEBUG_FUNCPTR (gst_zc_ipc_src_query);
  base_class->negotiate = GST_DEBUG_FUNCPTR (gst_zc_ipc_src_negotiate);
  base_class->get_caps = GST_DEBUG_FUNCPTR (gst_zc_ipc_src_get_caps);
  push_class->create = GST_DEBUG_FUNCPTR (gst_zc_ipc_src_create);

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Zero-copy IPC source",
      "Source/Video",
      "Receives dma-buf frames and their fences from a zcipcsink in another "
      "process",
      ZC_ELEMENT_AUTHOR);
}
