/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Framing of the IPC protocol: the one place that sends and receives its
 * messages, so every received message, from either side, passes the same
 * checks before any field of it is read.
 */
#include "zc-ipc-protocol.h"

#include <cerrno>
#include <cstring>

#include <sys/socket.h>

namespace zc::ipc {

void
header_init (Header &hdr, Type type, uint32_t size, uint32_t n_fds)
{
  hdr.magic = MAGIC;
  hdr.version = PROTOCOL_VERSION;
  hdr.type = static_cast<uint16_t> (type);
  hdr.size = size;
  hdr.n_fds = n_fds;
}

uint32_t
message_size (Type type)
{
  switch (type) {
    case Type::CAPS:
      return sizeof (CapsMsg);
    case Type::BUFFER:
      return sizeof (BufferMsg);
    case Type::FRAME:
      return sizeof (FrameMsg);
    case Type::EOS:
      return sizeof (Header);
    case Type::ERROR:
      return sizeof (ErrorMsg);
    case Type::RELEASE:
      return sizeof (ReleaseMsg);
  }
  return 0;
}

/* The fds a message of @type carries: [min, max]. */
static void
fd_range (Type type, uint32_t &min, uint32_t &max)
{
  min = max = 0;
  if (type == Type::BUFFER)
    min = max = 1;
  else if (type == Type::FRAME || type == Type::RELEASE)
    max = 1;
}

int
send_message (int sock, const void *msg, size_t size, const int *fds,
    size_t n_fds, bool dontwait)
{
  struct iovec iov = { const_cast<void *> (msg), size };
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas (struct cmsghdr) char control[CMSG_SPACE (MAX_FDS * sizeof (int))];
  if (n_fds > MAX_FDS)
    return -EINVAL;
  if (n_fds) {
    memset (control, 0, sizeof (control));
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE (n_fds * sizeof (int));
    struct cmsghdr *c = CMSG_FIRSTHDR (&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN (n_fds * sizeof (int));
    memcpy (CMSG_DATA (c), fds, n_fds * sizeof (int));
  }
  int flags = MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0);
  for (;;) {
    ssize_t n = sendmsg (sock, &mh, flags);
    if (n >= 0)
      return size_t (n) == size ? 0 : -EMSGSIZE;
    if (errno == EINTR)
      continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

int
receive_message (int sock, Received &out, const char **why)
{
  out.fds.clear ();
  out.size = 0;
  struct iovec iov = { out.data, sizeof (out.data) };
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  /* Room for more fds than any message may carry, so that a peer sending
   * too many is seen (and its fds closed) rather than truncated away. */
  alignas (struct cmsghdr) char control[CMSG_SPACE (16 * sizeof (int))];
  mh.msg_control = control;
  mh.msg_controllen = sizeof (control);
  ssize_t n;
  do
    n = recvmsg (sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  /* Take every fd first: whatever is wrong below, they are closed. */
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&mh); c; c = CMSG_NXTHDR (&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t count = (c->cmsg_len - CMSG_LEN (0)) / sizeof (int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy (&fd, CMSG_DATA (c) + i * sizeof (int), sizeof (int));
      out.fds.emplace_back (fd);
    }
  }
  if (n == 0)
    return -EPIPE;
  out.size = size_t (n);
  if (mh.msg_flags & MSG_CTRUNC) {
    *why = "file descriptors truncated (too many sent)";
    return -EPROTO;
  }
  if (mh.msg_flags & MSG_TRUNC) {
    *why = "message larger than any message of the protocol";
    return -EPROTO;
  }
  if (out.size < sizeof (Header)) {
    *why = "message shorter than the header";
    return -EPROTO;
  }
  const Header &h = out.header ();
  if (h.magic != MAGIC) {
    *why = "bad magic";
    return -EPROTO;
  }
  if (h.version != PROTOCOL_VERSION) {
    *why = "unsupported protocol version";
    return -EPROTO;
  }
  uint32_t want = message_size (static_cast<Type> (h.type));
  if (!want) {
    *why = "unknown message type";
    return -EPROTO;
  }
  if (h.size != out.size || h.size != want) {
    *why = "message size does not match its type";
    return -EPROTO;
  }
  uint32_t min_fds, max_fds;
  fd_range (static_cast<Type> (h.type), min_fds, max_fds);
  if (h.n_fds != out.fds.size () || h.n_fds < min_fds || h.n_fds > max_fds) {
    *why = "fd count does not match the header or the message type";
    return -EPROTO;
  }
  return 0;
}

} // namespace zc::ipc
