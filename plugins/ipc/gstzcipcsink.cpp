/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-zcipcsink
 * @title: zcipcsink
 *
 * Shares the frames it receives with other processes, without copying
 * them: it serves a Unix socket (#GstZcIpcSink:socket-path) that any number
 * of `zcipcsrc` elements connect to. Each client gets the caps and every
 * buffer's dma-buf once (with its video meta layout), then per frame a
 * small message with the buffer id, the timestamps and the acquire fence
 * as a sync_file. When a client is done with a frame it sends the frame's
 * release fence back; once every client that got the frame has released
 * it, the fences are merged and attached to the buffer as its release
 * fence (#GstZcFenceMeta), so a producer such as `zcamsrc` hands them to
 * its device as in-fences.
 *
 * The streaming thread never waits for a client: sends do not block, and
 * a client whose socket is full, or that holds #GstZcIpcSink:max-held
 * frames already, gets the frame dropped (counted per client in
 * #GstZcIpcSink:stats). A client that goes away (or is killed) releases
 * everything it held at once; a client that sends a malformed message is
 * disconnected and logged. The protocol is described in docs/ipc.md.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 zcamsrc ! video/x-raw,format=BGRx,width=640,height=480 ! zcipcsink socket-path=/tmp/camera.sock
 * ]|
 */
#include "gstzcipcsink.h"

#include <gst/allocators/allocators.h>
#include <gst/video/video.h>
#include <gst/zerocopy/zerocopy.h>

#include "zc-fd.h"
#include "zc-glib.h"
#include "zc-ipc-protocol.h"
#include "zc-stats.h"
#include "zc-unique-fd.h"
#include "zc-wakeup.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

GST_DEBUG_CATEGORY_STATIC (gst_zc_ipc_sink_debug);
#define GST_CAT_DEFAULT gst_zc_ipc_sink_debug

using zc::UniqueFd;
namespace ipc = zc::ipc;

namespace {

constexpr guint DEFAULT_SOCKET_MODE = 0660;
constexpr guint DEFAULT_MAX_CLIENTS = 16;
constexpr guint DEFAULT_MAX_HELD = 3;
constexpr guint64 DEFAULT_RELEASE_TIMEOUT = GST_SECOND;
/* Control messages (caps, EOS) wait this long for room in a client's
 * socket; a client that cannot take them by then is disconnected. */
constexpr int CONTROL_SEND_TIMEOUT_MS = 200;
/* Messages read from one client per poll round, so one flooding client
 * cannot starve the others. */
constexpr int MAX_READS_PER_ROUND = 32;

/* One buffer of upstream, identified by its (only) memory. */
struct Slot
{
  guint32 id = 0;
  GstMemory *mem = nullptr;     /* our ref: the identity of the buffer */
  int dmabuf_fd = -1;           /* owned by mem */
  GstBuffer *buffer = nullptr;  /* our ref while a client holds it */
  guint64 held_by = 0;          /* a bit per client */
  std::vector<UniqueFd> fences; /* release fences of this lap */
  bool stale = false;           /* of an earlier caps; freed at release */
  ipc::BufferMsg msg {};
};

struct Client
{
  UniqueFd sock;
  guint bit = 0;
  guint64 serial = 0; /* for the log and the stats */
  std::set<guint32> announced;
  guint held = 0;
  bool dead = false; /* to be disconnected by the server thread */
  guint64 pushed = 0, dropped = 0, releases = 0, release_fences = 0;
};

/* A buffer without a fence meta, kept until its release fence signals. */
struct Pending
{
  GstBuffer *buffer;
  UniqueFd fence;
  gint64 deadline_ns;
};

struct Props
{
  std::string socket_path;
  guint socket_mode = DEFAULT_SOCKET_MODE;
  guint max_clients = DEFAULT_MAX_CLIENTS;
  guint max_held = DEFAULT_MAX_HELD;
  guint64 release_timeout = DEFAULT_RELEASE_TIMEOUT;
};

/*
 * The server. Lock order: GST_OBJECT_LOCK (properties) is never held with
 * `lock`. `lock` protects everything below it; upstream buffers are
 * unreffed only after it is dropped (returning one runs the producer's
 * pool). Only the server thread closes client sockets and touches
 * `pending`, so the fds it polls stay valid while it polls them.
 */
struct State
{
  Props props; /* under GST_OBJECT_LOCK */
  Props run;   /* copy taken at start */
  std::thread thread;
  zc::Wakeup wakeup;
  UniqueFd listen;
  std::string bound_path; /* the socket file we created */

  std::mutex lock;
  bool stop = false;
  GstCaps *caps = nullptr;
  guint32 generation = 0;
  guint32 next_id = 1;
  std::map<guint32, Slot> slots;
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<Pending> pending;
  guint64 next_serial = 1;
  /* stats */
  guint64 frames = 0, releases = 0, release_fences = 0, disconnects = 0,
          rejected = 0, release_timeouts = 0;
};

} // namespace

struct _GstZcIpcSink
{
  GstBaseSink parent;
  State *state;
};

G_DEFINE_TYPE_WITH_CODE (GstZcIpcSink, gst_zc_ipc_sink, GST_TYPE_BASE_SINK,
    GST_DEBUG_CATEGORY_INIT (gst_zc_ipc_sink_debug, "zcipcsink", 0,
        "zero-copy IPC sink"));
GST_ELEMENT_REGISTER_DEFINE (zcipcsink, "zcipcsink", GST_RANK_NONE,
    GST_TYPE_ZC_IPC_SINK);

enum {
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_SOCKET_MODE,
  PROP_MAX_CLIENTS,
  PROP_MAX_HELD,
  PROP_RELEASE_TIMEOUT,
  PROP_STATS,
  N_PROPS
};
static GParamSpec *g_properties[N_PROPS];

/* Plain video/x-raw too: producers of dma-buf memory that do not use the
 * caps feature (GStreamer 1.22's V4L2 elements); render() checks the
 * memory. */
static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE_WITH_FEATURES (
        GST_CAPS_FEATURE_MEMORY_DMABUF,
        GST_VIDEO_FORMATS_ALL) ";" GST_VIDEO_CAPS_MAKE (GST_VIDEO_FORMATS_ALL)));

namespace {

/* Sends a control message, waiting (bounded) for room. */
int
send_control (Client &c, const void *msg, size_t size)
{
  int ret = ipc::send_message (c.sock.get (), msg, size, nullptr, 0);
  if (ret == -EAGAIN) {
    ret = zc::poll_fd (c.sock.get (), POLLOUT,
        gint64 (CONTROL_SEND_TIMEOUT_MS) * GST_MSECOND);
    if (ret == 0)
      ret = ipc::send_message (c.sock.get (), msg, size, nullptr, 0);
  }
  return ret;
}

void
send_caps (GstZcIpcSink *self, Client &c)
{
  State *st = self->state;
  auto msg = std::make_unique<ipc::CapsMsg> ();
  memset (msg.get (), 0, sizeof (*msg));
  ipc::header_init (msg->hdr, ipc::Type::CAPS, sizeof (*msg), 0);
  msg->generation = st->generation;
  gchar *str = gst_caps_to_string (st->caps);
  g_strlcpy (msg->caps, str, sizeof (msg->caps));
  msg->length = strlen (msg->caps) + 1;
  g_free (str);
  c.announced.clear ();
  if (send_control (c, msg.get (), sizeof (*msg)) < 0) {
    GST_WARNING_OBJECT (self,
        "client %" G_GUINT64_FORMAT " does not take "
        "the caps: disconnecting it",
        c.serial);
    c.dead = true;
  }
}

/* Hands a buffer no client holds any more back to upstream with the merged
 * release fences of the clients; adds it to @unref (unreffed unlocked) or
 * to the pending list. Called with the lock held. */
void
finish_slot (GstZcIpcSink *self, Slot &slot, std::vector<GstBuffer *> &unref)
{
  State *st = self->state;
  GstBuffer *buffer = std::exchange (slot.buffer, nullptr);
  UniqueFd merged;
  for (auto &f : slot.fences) {
    if (!merged) {
      merged = std::move (f);
      continue;
    }
    UniqueFd m (gst_zc_sync_file_merge ("zcipcsink", merged.get (), f.get ()));
    if (m)
      merged = std::move (m);
    else /* keep the CPU from reusing it early: wait for this one too */
      gst_zc_sync_file_wait (f.get (), gint64 (st->run.release_timeout));
  }
  slot.fences.clear ();
  if (buffer) {
    GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buffer);
    if (meta && merged)
      gst_zc_fence_meta_add_release_fence (meta, merged.release ());
    if (merged) {
      st->pending.push_back ({ buffer, std::move (merged),
          zc::monotonic_ns () + gint64 (st->run.release_timeout) });
    } else {
      unref.push_back (buffer);
    }
  }
  if (slot.stale) {
    gst_memory_unref (slot.mem);
    st->slots.erase (slot.id);
  }
}

/* Drops client @c (under the lock): everything it held is released. */
void
disconnect (GstZcIpcSink *self, Client &c, std::vector<GstBuffer *> &unref)
{
  State *st = self->state;
  GST_INFO_OBJECT (self,
      "client %" G_GUINT64_FORMAT " gone: it held %u "
      "frames, got %" G_GUINT64_FORMAT ", dropped %" G_GUINT64_FORMAT,
      c.serial, c.held, c.pushed, c.dropped);
  guint64 bit = guint64 (1) << c.bit;
  std::vector<guint32> done;
  for (auto &[id, slot] : st->slots) {
    if (!(slot.held_by & bit))
      continue;
    slot.held_by &= ~bit;
    if (!slot.held_by)
      done.push_back (id);
  }
  for (guint32 id : done)
    finish_slot (self, st->slots.at (id), unref);
  st->disconnects++;
  c.sock.reset ();
}

void
reject (GstZcIpcSink *self, Client &c, const char *why)
{
  GST_WARNING_OBJECT (self,
      "client %" G_GUINT64_FORMAT ": %s; "
      "disconnecting it",
      c.serial, why);
  self->state->rejected++;
  c.dead = true;
}

/* One message from a client (under the lock). */
void
handle_message (GstZcIpcSink *self, Client &c, ipc::Received &msg,
    std::vector<GstBuffer *> &unref)
{
  State *st = self->state;
  if (static_cast<ipc::Type> (msg.header ().type) != ipc::Type::RELEASE) {
    reject (self, c, "message type a client may not send");
    return;
  }
  ipc::ReleaseMsg rel;
  memcpy (&rel, msg.data, sizeof (rel));
  bool has_fence = rel.flags & ipc::RELEASE_HAS_FENCE;
  if ((rel.flags & ~ipc::RELEASE_HAS_FENCE) ||
      msg.fds.size () != (has_fence ? 1u : 0u)) {
    reject (self, c, "release flags do not match its fds");
    return;
  }
  auto it = st->slots.find (rel.id);
  guint64 bit = guint64 (1) << c.bit;
  if (it == st->slots.end () || !(it->second.held_by & bit)) {
    reject (self, c, "release of a buffer it does not hold");
    return;
  }
  if (has_fence) {
    GstZcSyncFileInfo info;
    if (!gst_zc_sync_file_get_status (msg.fds[0].get (), &info)) {
      reject (self, c, "release fence is not a sync_file");
      return;
    }
  }
  Slot &slot = it->second;
  if (has_fence) {
    slot.fences.push_back (std::move (msg.fds[0]));
    c.release_fences++;
    st->release_fences++;
  }
  slot.held_by &= ~bit;
  c.held--;
  c.releases++;
  st->releases++;
  if (!slot.held_by)
    finish_slot (self, slot, unref);
}

void
accept_clients (GstZcIpcSink *self)
{
  State *st = self->state;
  for (;;) {
    UniqueFd fd (accept4 (st->listen.get (), nullptr, nullptr,
        SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        GST_WARNING_OBJECT (self, "accept: %s", g_strerror (errno));
      return;
    }
    guint64 used = 0;
    for (auto &c : st->clients)
      used |= guint64 (1) << c->bit;
    guint bit = 0;
    while (bit < st->run.max_clients && (used & (guint64 (1) << bit)))
      bit++;
    if (bit >= st->run.max_clients) {
      GST_WARNING_OBJECT (self,
          "refusing a client: %u clients connected "
          "(max-clients)",
          st->run.max_clients);
      continue;
    }
    auto c = std::make_unique<Client> ();
    c->sock = std::move (fd);
    c->bit = bit;
    c->serial = st->next_serial++;
    GST_INFO_OBJECT (self, "client %" G_GUINT64_FORMAT " connected", c->serial);
    if (st->caps)
      send_caps (self, *c);
    st->clients.push_back (std::move (c));
  }
}

void
server_loop (GstZcIpcSink *self)
{
  State *st = self->state;
  std::vector<struct pollfd> pfds;
  std::vector<Client *> polled;
  auto msg = std::make_unique<ipc::Received> ();
  for (;;) {
    std::vector<GstBuffer *> unref;
    int timeout_ms = -1;
    {
      std::lock_guard<std::mutex> l (st->lock);
      if (st->stop)
        break;
      pfds.clear ();
      polled.clear ();
      pfds.push_back ({ st->wakeup.fd (), POLLIN, 0 });
      pfds.push_back ({ st->listen.get (), POLLIN, 0 });
      for (auto &c : st->clients) {
        pfds.push_back ({ c->sock.get (), POLLIN, 0 });
        polled.push_back (c.get ());
      }
      gint64 now = zc::monotonic_ns ();
      for (auto &p : st->pending) {
        pfds.push_back ({ p.fence.get (), POLLIN, 0 });
        gint64 left = std::max<gint64> (0, p.deadline_ns - now);
        int ms = int ((left + 999999) / 1000000);
        timeout_ms = timeout_ms < 0 ? ms : std::min (timeout_ms, ms);
      }
    }
    /* Sleeps on the clients, new connections, the pending fences and the
     * wake-up; the timeout is that of the oldest pending release. */
    int n = poll (pfds.data (), pfds.size (), timeout_ms);
    if (n < 0 && errno != EINTR) {
      GST_ERROR_OBJECT (self, "poll: %s", g_strerror (errno));
      break;
    }
    {
      std::lock_guard<std::mutex> l (st->lock);
      if (st->stop)
        break;
      st->wakeup.clear ();
      for (size_t i = 0; n > 0 && i < polled.size (); i++) {
        Client &c = *polled[i];
        short rev = pfds[2 + i].revents;
        if (!rev || c.dead)
          continue;
        for (int r = 0; r < MAX_READS_PER_ROUND && !c.dead; r++) {
          const char *why = nullptr;
          int ret = ipc::receive_message (c.sock.get (), *msg, &why);
          if (ret == -EAGAIN)
            break;
          if (ret == -EPROTO) {
            reject (self, c, why);
          } else if (ret < 0) {
            GST_DEBUG_OBJECT (self, "client %" G_GUINT64_FORMAT ": %s",
                c.serial, g_strerror (-ret));
            c.dead = true;
          } else {
            handle_message (self, c, *msg, unref);
          }
          msg->fds.clear ();
        }
        if ((rev & (POLLHUP | POLLERR)) && !(rev & POLLIN))
          c.dead = true;
      }
      /* Releases whose fences signalled or timed out. */
      size_t base = 2 + polled.size ();
      gint64 now = zc::monotonic_ns ();
      std::vector<Pending> keep;
      for (size_t i = 0; i < st->pending.size (); i++) {
        Pending &p = st->pending[i];
        bool signalled = i < pfds.size () - base && pfds[base + i].revents;
        if (!signalled && now < p.deadline_ns) {
          keep.push_back (std::move (p));
          continue;
        }
        if (!signalled) {
          st->release_timeouts++;
          GST_WARNING_OBJECT (self,
              "a release fence did not signal within "
              "release-timeout; returning the buffer anyway");
        }
        unref.push_back (p.buffer);
      }
      st->pending = std::move (keep);
      if (pfds[1].revents & POLLIN)
        accept_clients (self);
      for (auto it = st->clients.begin (); it != st->clients.end ();) {
        if ((*it)->dead) {
          disconnect (self, **it, unref);
          it = st->clients.erase (it);
        } else {
          ++it;
        }
      }
    }
    for (GstBuffer *b : unref)
      gst_buffer_unref (b);
  }
}

/* Creates, binds and listens on the socket; FALSE with an element error. */
gboolean
open_socket (GstZcIpcSink *self)
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
  /* A socket file left by a server that died is stale when nobody
   * accepts on it; a live one is another server's. */
  struct stat sb;
  if (lstat (path.c_str (), &sb) == 0) {
    if (!S_ISSOCK (sb.st_mode)) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
          ("socket-path \"%s\" exists and is not a socket; remove it or "
           "choose another path",
              path.c_str ()),
          (NULL));
      return FALSE;
    }
    UniqueFd probe (socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (probe &&
        connect (probe.get (), (struct sockaddr *) &addr, sizeof (addr)) == 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, BUSY,
          ("socket-path \"%s\" is served by another process; stop it or "
           "choose another path",
              path.c_str ()),
          (NULL));
      return FALSE;
    }
    GST_INFO_OBJECT (self, "removing the stale socket %s", path.c_str ());
    unlink (path.c_str ());
  }
  st->listen.reset (
      socket (AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!st->listen ||
      bind (st->listen.get (), (struct sockaddr *) &addr, sizeof (addr)) < 0) {
    int err = errno;
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot create the socket \"%s\": %s; check socket-path and the "
         "directory's permissions",
            path.c_str (), g_strerror (err)),
        ("socket/bind: %s", g_strerror (err)));
    st->listen.reset ();
    return FALSE;
  }
  st->bound_path = path;
  if (chmod (path.c_str (), st->run.socket_mode) < 0 ||
      listen (st->listen.get (), 16) < 0) {
    int err = errno;
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot serve the socket \"%s\" (mode %o): %s", path.c_str (),
            st->run.socket_mode, g_strerror (err)),
        (NULL));
    return FALSE;
  }
  return TRUE;
}

/* The layout announced for a buffer: its video meta, else the caps'. */
void
fill_buffer_msg (State *st, GstBuffer *buffer, GstMemory *mem, Slot &slot)
{
  ipc::BufferMsg &m = slot.msg;
  memset (&m, 0, sizeof (m));
  ipc::header_init (m.hdr, ipc::Type::BUFFER, sizeof (m), 1);
  m.generation = st->generation;
  m.id = slot.id;
  gsize offset = 0, maxsize = 0;
  gst_memory_get_sizes (mem, &offset, &maxsize);
  gint64 fd_size = zc::fd_size (slot.dmabuf_fd);
  m.size = fd_size > 0 ? guint64 (fd_size) : maxsize;
  GstVideoInfo info;
  gst_video_info_from_caps (&info, st->caps);
  GstVideoMeta *vmeta = gst_buffer_get_video_meta (buffer);
  m.format = vmeta ? vmeta->format : GST_VIDEO_INFO_FORMAT (&info);
  m.width = vmeta ? vmeta->width : GST_VIDEO_INFO_WIDTH (&info);
  m.height = vmeta ? vmeta->height : GST_VIDEO_INFO_HEIGHT (&info);
  m.n_planes = vmeta ? vmeta->n_planes : GST_VIDEO_INFO_N_PLANES (&info);
  for (guint i = 0; i < m.n_planes && i < ipc::MAX_PLANES; i++) {
    m.offset[i] = offset + (vmeta ? vmeta->offset[i] : info.offset[i]);
    m.stride[i] = vmeta ? vmeta->stride[i] : info.stride[i];
  }
}

} // namespace

static gboolean
gst_zc_ipc_sink_start (GstBaseSink *sink)
{
  GstZcIpcSink *self = GST_ZC_IPC_SINK (sink);
  State *st = self->state;
  {
    zc::ObjectLock l (self);
    st->run = st->props;
  }
  st->stop = false;
  st->frames = st->releases = st->release_fences = st->disconnects = 0;
  st->rejected = st->release_timeouts = 0;
  if (st->wakeup.open () < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL),
        ("eventfd: %s", g_strerror (errno)));
    return FALSE;
  }
  if (!open_socket (self)) {
    if (!st->bound_path.empty ())
      unlink (st->bound_path.c_str ());
    st->bound_path.clear ();
    st->listen.reset ();
    return FALSE;
  }
  st->thread = std::thread (server_loop, self);
  return TRUE;
}

static gboolean
gst_zc_ipc_sink_stop (GstBaseSink *sink)
{
  GstZcIpcSink *self = GST_ZC_IPC_SINK (sink);
  State *st = self->state;
  {
    std::lock_guard<std::mutex> l (st->lock);
    st->stop = true;
  }
  st->wakeup.signal ();
  if (st->thread.joinable ())
    st->thread.join ();
  std::vector<GstBuffer *> unref;
  {
    std::lock_guard<std::mutex> l (st->lock);
    for (auto &c : st->clients)
      disconnect (self, *c, unref);
    st->clients.clear ();
    for (auto &p : st->pending)
      unref.push_back (p.buffer);
    st->pending.clear ();
    for (auto &[id, slot] : st->slots)
      gst_memory_unref (slot.mem);
    st->slots.clear ();
    gst_clear_caps (&st->caps);
  }
  for (GstBuffer *b : unref)
    gst_buffer_unref (b);
  if (!st->bound_path.empty ())
    unlink (st->bound_path.c_str ());
  st->bound_path.clear ();
  st->listen.reset ();
  st->wakeup.close ();
  return TRUE;
}

static gboolean
gst_zc_ipc_sink_set_caps (GstBaseSink *sink, GstCaps *caps)
{
  GstZcIpcSink *self = GST_ZC_IPC_SINK (sink);
  State *st = self->state;
  GstVideoInfo info;
  if (!gst_video_info_from_caps (&info, caps))
    return FALSE;
  std::lock_guard<std::mutex> l (st->lock);
  if (st->caps && gst_caps_is_equal (st->caps, caps))
    return TRUE;
  gst_caps_replace (&st->caps, caps);
  st->generation++;
  /* Buffers of the old caps are forgotten; those a client still holds
   * stay until it releases them. */
  for (auto it = st->slots.begin (); it != st->slots.end ();) {
    if (it->second.held_by) {
      it->second.stale = true;
      ++it;
    } else {
      gst_memory_unref (it->second.mem);
      it = st->slots.erase (it);
    }
  }
  for (auto &c : st->clients)
    if (!c->dead)
      send_caps (self, *c);
  st->wakeup.signal ();
  GST_INFO_OBJECT (self, "caps %" GST_PTR_FORMAT ", generation %u", caps,
      st->generation);
  return TRUE;
}

static gboolean
gst_zc_ipc_sink_propose_allocation (GstBaseSink *sink, GstQuery *query)
{
  GstZcIpcSink *self = GST_ZC_IPC_SINK (sink);
  guint max_held;
  {
    zc::ObjectLock l (self);
    max_held = self->state->props.max_held;
  }
  /* Enough buffers for three clients holding max-held frames each while
   * the producer fills one and one is on its way. */
  gst_query_add_allocation_pool (query, NULL, 0, 3 * max_held + 2, 0);
  gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  gst_query_add_allocation_meta (query, GST_ZC_FENCE_META_API_TYPE, NULL);
  return TRUE;
}

static GstFlowReturn
gst_zc_ipc_sink_render (GstBaseSink *sink, GstBuffer *buffer)
{
  GstZcIpcSink *self = GST_ZC_IPC_SINK (sink);
  State *st = self->state;
  GstMemory *mem = gst_buffer_n_memory (buffer) == 1 ?
      gst_buffer_peek_memory (buffer, 0) :
      nullptr;
  if (!mem || !gst_is_dmabuf_memory (mem)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("zcipcsink shares dma-buf frames of one memory only; this buffer "
         "has %u memories%s. Put it behind a dma-buf producer (zcamsrc, "
         "v4l2src io-mode=dmabuf)",
            gst_buffer_n_memory (buffer), mem ? " not in dma-buf memory" : ""),
        (NULL));
    return GST_FLOW_ERROR;
  }

  /* PTS as CLOCK_MONOTONIC, the clock every process shares. */
  gint64 pts_mono = -1;
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  if (clock && GST_CLOCK_TIME_IS_VALID (pts)) {
    GstClockTime rt = gst_segment_to_running_time (&sink->segment,
        GST_FORMAT_TIME, pts);
    if (GST_CLOCK_TIME_IS_VALID (rt)) {
      gint64 offset = zc::monotonic_ns () - gint64 (gst_clock_get_time (clock));
      pts_mono = gint64 (rt + gst_element_get_base_time (GST_ELEMENT (self))) +
          offset;
    }
  }
  if (clock)
    gst_object_unref (clock);
  GstZcFenceMeta *fmeta = gst_zc_buffer_get_fence_meta (buffer);
  int fence = fmeta ? gst_zc_fence_meta_get_acquire_fence (fmeta) : -1;

  std::lock_guard<std::mutex> l (st->lock);
  st->frames++;
  if (!st->caps) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL), ("buffer before caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  Slot *slot = nullptr;
  for (auto &[id, s] : st->slots)
    if (s.mem == mem && !s.stale)
      slot = &s;
  if (!slot) {
    if (st->slots.size () >= ipc::MAX_BUFFERS) {
      GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
          ("More than %u distinct buffers without renegotiation; zcipcsink "
           "needs a producer that recycles its buffers (a buffer pool)",
              ipc::MAX_BUFFERS),
          (NULL));
      return GST_FLOW_ERROR;
    }
    guint32 id = st->next_id++;
    Slot &s = st->slots[id];
    s.id = id;
    s.mem = gst_memory_ref (mem);
    s.dmabuf_fd = gst_dmabuf_memory_get_fd (mem);
    fill_buffer_msg (st, buffer, mem, s);
    slot = &s;
  }

  ipc::FrameMsg fm {};
  ipc::header_init (fm.hdr, ipc::Type::FRAME, sizeof (fm), fence >= 0);
  fm.id = slot->id;
  fm.flags = (fence >= 0 ? ipc::FRAME_HAS_FENCE : 0) |
      (GST_BUFFER_IS_DISCONT (buffer) ? ipc::FRAME_DISCONT : 0);
  fm.pts_mono = pts_mono;
  fm.duration = GST_BUFFER_DURATION_IS_VALID (buffer) ?
      gint64 (GST_BUFFER_DURATION (buffer)) :
      -1;
  fm.offset = GST_BUFFER_OFFSET (buffer);
  bool woke = false;
  for (auto &cp : st->clients) {
    Client &c = *cp;
    guint64 bit = guint64 (1) << c.bit;
    if (c.dead)
      continue;
    if (c.held >= st->run.max_held || (slot->held_by & bit)) {
      c.dropped++;
      continue;
    }
    int ret = 0;
    if (!c.announced.count (slot->id)) {
      ret = ipc::send_message (c.sock.get (), &slot->msg, sizeof (slot->msg),
          &slot->dmabuf_fd, 1);
      if (ret == 0)
        c.announced.insert (slot->id);
    }
    if (ret == 0) {
      fm.sent = c.pushed;
      fm.dropped = c.dropped;
      ret = ipc::send_message (c.sock.get (), &fm, sizeof (fm), &fence,
          fence >= 0 ? 1 : 0);
    }
    if (ret == -EAGAIN) {
      c.dropped++;
    } else if (ret < 0) {
      GST_DEBUG_OBJECT (self, "client %" G_GUINT64_FORMAT ": %s", c.serial,
          g_strerror (-ret));
      c.dead = true;
      woke = true;
    } else {
      slot->held_by |= bit;
      c.held++;
      c.pushed++;
    }
  }
  if (slot->held_by && !slot->buffer)
    slot->buffer = gst_buffer_ref (buffer);
  if (woke)
    st->wakeup.signal ();
  return GST_FLOW_OK;
}

static gboolean
gst_zc_ipc_sink_event (GstBaseSink *sink, GstEvent *event)
{
  GstZcIpcSink *self = GST_ZC_IPC_SINK (sink);
  State *st = self->state;
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    ipc::Header h;
    ipc::header_init (h, ipc::Type::EOS, sizeof (h), 0);
    std::lock_guard<std::mutex> l (st->lock);
    for (auto &c : st->clients)
      if (!c->dead && send_control (*c, &h, sizeof (h)) < 0)
        c->dead = true;
    st->wakeup.signal ();
  }
  return GST_BASE_SINK_CLASS (gst_zc_ipc_sink_parent_class)->event (sink, event);
}

static GstStructure *
make_stats (GstZcIpcSink *self)
{
  State *st = self->state;
  std::lock_guard<std::mutex> l (st->lock);
  guint64 pushed = 0, dropped = 0;
  GValue list = G_VALUE_INIT;
  gst_value_array_init (&list, st->clients.size ());
  for (auto &c : st->clients) {
    pushed += c->pushed;
    dropped += c->dropped;
    GValue v = G_VALUE_INIT;
    g_value_init (&v, GST_TYPE_STRUCTURE);
    GstStructure *cs = zc::stats_new ("client",
        { { zc::Stat::PUSHED, c->pushed }, { zc::Stat::DROPPED, c->dropped },
            { zc::Stat::RELEASES, c->releases },
            { zc::Stat::RELEASE_FENCES, c->release_fences } });
    gst_structure_set (cs, "id", G_TYPE_UINT64, c->serial, "held", G_TYPE_UINT,
        c->held, NULL);
    g_value_take_boxed (&v, cs);
    gst_value_array_append_and_take_value (&list, &v);
  }
  GstStructure *s = zc::stats_new (GST_ELEMENT (self),
      { { zc::Stat::FRAMES, st->frames },
          { zc::Stat::CLIENTS, st->clients.size () },
          { zc::Stat::PUSHED, pushed }, { zc::Stat::DROPPED, dropped },
          { zc::Stat::RELEASES, st->releases },
          { zc::Stat::RELEASE_FENCES, st->release_fences },
          { zc::Stat::DISCONNECTS, st->disconnects },
          { zc::Stat::REJECTED, st->rejected }, { zc::Stat::COPIES, 0 },
          { zc::Stat::FENCE_TIMEOUTS, st->release_timeouts } });
  gst_structure_take_value (s, "per-client", &list);
  return s;
}

static void
gst_zc_ipc_sink_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstZcIpcSink *self = GST_ZC_IPC_SINK (object);
  Props &p = self->state->props;
  zc::ObjectLock l (self);
  switch (prop_id) {
    case PROP_SOCKET_PATH: {
      const gchar *s = g_value_get_string (value);
      p.socket_path = s ? s : "";
      break;
    }
    case PROP_SOCKET_MODE:
      p.socket_mode = g_value_get_uint (value);
      break;
    case PROP_MAX_CLIENTS:
      p.max_clients = g_value_get_uint (value);
      break;
    case PROP_MAX_HELD:
      p.max_held = g_value_get_uint (value);
      break;
    case PROP_RELEASE_TIMEOUT:
      p.release_timeout = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_zc_ipc_sink_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstZcIpcSink *self = GST_ZC_IPC_SINK (object);
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
    case PROP_SOCKET_MODE:
      g_value_set_uint (value, p.socket_mode);
      break;
    case PROP_MAX_CLIENTS:
      g_value_set_uint (value, p.max_clients);
      break;
    case PROP_MAX_HELD:
      g_value_set_uint (value, p.max_held);
      break;
    case PROP_RELEASE_TIMEOUT:
      g_value_set_uint64 (value, p.release_timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_zc_ipc_sink_finalize (GObject *object)
{
  GstZcIpcSink *self = GST_ZC_IPC_SINK (object);
  delete self->state;
  G_OBJECT_CLASS (gst_zc_ipc_sink_parent_class)->finalize (object);
}

static void
gst_zc_ipc_sink_init (GstZcIpcSink *self)
{
  self->state = new State ();
  self->state->props.socket_path = "/tmp/zcipc.sock";
  /* Frames go to the clients as soon as they arrive; the clients sync. */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}

static void
gst_zc_ipc_sink_class_init (GstZcIpcSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = gst_zc_ipc_sink_set_property;
  gobject_class->get_property = gst_zc_ipc_sink_get_property;
  gobject_class->finalize = gst_zc_ipc_sink_finalize;

  const GParamFlags rw = GParamFlags (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  /**
   * GstZcIpcSink:socket-path:
   *
   * The Unix socket the clients connect to. A socket file left by a server
   * that died is removed; one another server still serves is an error.
   */
  g_properties[PROP_SOCKET_PATH] = g_param_spec_string ("socket-path",
      "Socket path", "Unix socket to serve the frames on", "/tmp/zcipc.sock",
      rw);
  /**
   * GstZcIpcSink:socket-mode:
   *
   * Permissions of the socket file (who may connect), e.g. 0660: the
   * owner and the group.
   */
  g_properties[PROP_SOCKET_MODE] = g_param_spec_uint ("socket-mode",
      "Socket mode", "Permissions of the socket file", 0, 0777,
      DEFAULT_SOCKET_MODE, rw);
  /**
   * GstZcIpcSink:max-clients:
   *
   * Clients served at once; more connections are refused (logged).
   */
  g_properties[PROP_MAX_CLIENTS] = g_param_spec_uint ("max-clients",
      "Max clients", "Clients served at once", 1, 64, DEFAULT_MAX_CLIENTS, rw);
  /**
   * GstZcIpcSink:max-held:
   *
   * Frames a client may hold at once; while it holds this many, new frames
   * are dropped for it (and only for it). The producer needs buffers for
   * every client's held frames plus the ones in flight: the allocation
   * query asks for 3 * max-held + 2.
   */
  g_properties[PROP_MAX_HELD] = g_param_spec_uint ("max-held", "Max held",
      "Frames one client may hold at once", 1, 16, DEFAULT_MAX_HELD, rw);
  /**
   * GstZcIpcSink:release-timeout:
   *
   * How long (ns) a buffer without a fence meta is kept for its clients'
   * release fences before it goes back upstream anyway (with a warning in
   * the log). Buffers with a fence meta carry the fences upstream instead.
   */
  g_properties[PROP_RELEASE_TIMEOUT] = g_param_spec_uint64 ("release-timeout",
      "Release timeout", "Longest wait for release fences (ns)", 0, G_MAXUINT64,
      DEFAULT_RELEASE_TIMEOUT, rw);
  /**
   * GstZcIpcSink:stats:
   *
   * Common fields (docs/elements.md): `frames` (received), `clients`
   * (connected now), `pushed` / `dropped` (frames sent to / dropped for the
   * connected clients), `releases`, `release-fences` (releases with a
   * fence), `disconnects`, `rejected` (clients thrown out for a malformed
   * message), `copies` (always 0), `fence-timeouts` (release fences that
   * did not signal in release-timeout); and `per-client`, an array of
   * `client` structures (`id`, `pushed`, `dropped`, `releases`,
   * `release-fences`, `held`).
   */
  g_properties[PROP_STATS] = zc::stats_param_spec (
      "Clients, frames sent and dropped per client, releases");
  g_object_class_install_properties (gobject_class, N_PROPS, g_properties);

  sink_class->start = GST_DEBUG_FUNCPTR (gst_zc_ipc_sink_start);
  sink_class->stop = GST_DEBUG_FUNCPTR (gst_zc_ipc_sink_stop);
  sink_class->set_caps = GST_DEBUG_FUNCPTR (gst_zc_ipc_sink_set_caps);
  sink_class->propose_allocation = GST_DEBUG_FUNCPTR (
      gst_zc_ipc_sink_propose_allocation);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_zc_ipc_sink_render);
  sink_class->event = GST_DEBUG_FUNCPTR (gst_zc_ipc_sink_event);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "Zero-copy IPC sink",
      "Sink/Video",
      "Serves dma-buf frames and their fences to other processes over a "
      "Unix socket",
      ZC_ELEMENT_AUTHOR);
}
