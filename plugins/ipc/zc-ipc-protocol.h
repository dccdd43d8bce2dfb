/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The zcipcsink <-> zcipcsrc wire protocol (docs/ipc.md): SOCK_SEQPACKET
 * messages, each a fixed 16-byte header and a fixed-size body per type,
 * with the message's fds (SCM_RIGHTS) counted in the header. Shared by both
 * elements and the protocol fuzzer test. Internal.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "zc-unique-fd.h"

namespace zc::ipc {

constexpr uint32_t MAGIC = 0x5a434950; /* "ZCIP" */
constexpr uint16_t PROTOCOL_VERSION = 1;

/* Limits every peer's messages are checked against. */
constexpr uint32_t MAX_FDS = 1;        /* fds in any one message */
constexpr uint32_t MAX_CAPS = 4096;    /* caps string, NUL included */
constexpr uint32_t MAX_PLANES = 4;     /* planes of one buffer */
constexpr uint32_t MAX_BUFFERS = 64;   /* buffers announced at once */
constexpr uint32_t MAX_MESSAGE = 8192; /* largest message of any type */

enum class Type : uint16_t {
  /* server -> client */
  CAPS = 1,   /* a new stream: caps; forgets every announced buffer */
  BUFFER = 2, /* a buffer: id and layout; 1 fd: its dma-buf */
  FRAME = 3,  /* a frame in a buffer; 0 or 1 fd: its acquire fence */
  EOS = 4,    /* end of stream */
  ERROR = 5,  /* the server failed; text */
  /* client -> server */
  RELEASE = 16, /* done with a frame; 0 or 1 fd: its release fence */
};

struct Header
{
  uint32_t magic;
  uint16_t version;
  uint16_t type;
  uint32_t size;  /* of the whole message, header included */
  uint32_t n_fds; /* fds sent with the message */
};
static_assert (sizeof (Header) == 16);

struct CapsMsg
{
  Header hdr;
  uint32_t generation; /* increases with every CAPS */
  uint32_t length;     /* of caps[], the NUL included */
  char caps[MAX_CAPS];
};

struct BufferMsg
{
  Header hdr;
  uint32_t generation;
  uint32_t id; /* unique for the server's lifetime */
  uint64_t size;
  uint32_t format; /* GstVideoFormat */
  uint32_t width, height;
  uint32_t n_planes;
  uint64_t offset[MAX_PLANES];
  int32_t stride[MAX_PLANES];
};
static_assert (sizeof (BufferMsg) == 96);

/* FrameMsg::flags */
constexpr uint32_t FRAME_DISCONT = 1 << 0;
constexpr uint32_t FRAME_HAS_FENCE = 1 << 1;

struct FrameMsg
{
  Header hdr;
  uint32_t id;
  uint32_t flags;   /* FRAME_* */
  int64_t pts_mono; /* CLOCK_MONOTONIC ns of the frame's PTS, -1: none */
  int64_t duration; /* ns, -1: none */
  uint64_t offset;  /* the producer's sequence number */
  uint64_t sent;    /* frames sent to this client so far */
  uint64_t dropped; /* frames dropped for this client so far */
};
static_assert (sizeof (FrameMsg) == 64);

struct ErrorMsg
{
  Header hdr;
  char text[256];
};

struct ReleaseMsg
{
  Header hdr;
  uint32_t id;
  uint32_t flags; /* RELEASE_HAS_FENCE */
};
constexpr uint32_t RELEASE_HAS_FENCE = 1 << 0;

/* Fills @hdr for a message of @type and @size bytes with @n_fds fds. */
void header_init (Header &hdr, Type type, uint32_t size, uint32_t n_fds);

/* The size a message of @type must have; 0 for an unknown type. */
uint32_t message_size (Type type);

/*
 * Sends one message (and @fds, borrowed) without blocking (MSG_DONTWAIT,
 * MSG_NOSIGNAL). 0, -EAGAIN when the socket is full, or -errno (-EPIPE,
 * -ECONNRESET: the peer is gone).
 */
int send_message (int sock, const void *msg, size_t size, const int *fds,
    size_t n_fds, bool dontwait = true);

/* One received message, its fds owned. */
struct Received
{
  alignas (8) unsigned char data[MAX_MESSAGE];
  size_t size = 0;
  std::vector<UniqueFd> fds;
  const Header &header () const
  {
    return *reinterpret_cast<const Header *> (data);
  }
};

/*
 * Receives one message without blocking (MSG_CMSG_CLOEXEC) and checks its
 * framing: not truncated, fds not truncated, magic, version, a known type
 * of exactly its size, the header's fd count equal to the fds received and
 * at most MAX_FDS. Received fds are owned by @out whatever happens, so a
 * bad message leaks none. 0, -EAGAIN (nothing to read), -EPIPE (the peer
 * closed), -EPROTO with @why set (a malformed message), or -errno.
 */
int receive_message (int sock, Received &out, const char **why);

} // namespace zc::ipc
