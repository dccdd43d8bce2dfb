// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A hostile zcipcsrc: connects to a zcipcsink and sends malformed messages
// (random bytes, bad magic, version, type, sizes, fd counts, fds that are
// no sync_file, too many fds, releases of buffers it does not hold, server
// messages), each on a fresh connection. Checks that the server
// disconnects it for every one of them, and that the server's open fds are
// back to their count at the start (nothing leaked, nothing of its own
// closed: it keeps serving the good client, which the test checks).
//
// usage: ipc-fuzz SOCKET SERVER_PID MESSAGES   (exit 0 when all held)
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "zc-fd.h"
#include "zc-ipc-protocol.h"

namespace ipc = zc::ipc;
using zc::UniqueFd;

namespace {

int
count_fds (int pid)
{
  std::string dir = "/proc/" + std::to_string (pid) + "/fd";
  DIR *d = opendir (dir.c_str ());
  if (!d)
    return -1;
  int n = 0;
  while (struct dirent *e = readdir (d))
    if (e->d_name[0] != '.')
      n++;
  closedir (d);
  return n;
}

UniqueFd
connect_to (const char *path)
{
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  snprintf (addr.sun_path, sizeof (addr.sun_path), "%s", path);
  for (int i = 0; i < 200; i++) {
    UniqueFd fd (socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (connect (fd.get (), (struct sockaddr *) &addr, sizeof (addr)) == 0)
      return fd;
    poll (nullptr, 0, 50);
  }
  return UniqueFd ();
}

// Waits (bounded) for the server to close the connection, reading what it
// sends meanwhile (its fds are closed by Received).
bool
server_closed (int sock)
{
  auto msg = std::make_unique<ipc::Received> ();
  for (;;) {
    if (zc::poll_fd (sock, POLLIN, 5 * int64_t (1000000000)) < 0)
      return false;
    const char *why;
    int r = ipc::receive_message (sock, *msg, &why);
    if (r == -EPIPE || r == -ECONNRESET)
      return true;
    if (r < 0 && r != -EAGAIN && r != -EPROTO)
      return true;
  }
}

} // namespace

int
main (int argc, char **argv)
{
  if (argc != 4) {
    fprintf (stderr, "usage: %s SOCKET SERVER_PID MESSAGES\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  int pid = atoi (argv[2]);
  long total = atol (argv[3]);
  std::mt19937 rng (1234);
  int fds0 = count_fds (pid);
  long kept = 0, sent = 0;
  std::vector<unsigned char> buf (ipc::MAX_MESSAGE + 1024);
  for (long i = 0; i < total; i++) {
    UniqueFd sock = connect_to (path);
    if (!sock) {
      printf ("cannot connect to %s after %ld messages\n", path, i);
      return 1;
    }
    // Something the server does not expect from a client, one per case.
    ipc::ReleaseMsg rel {};
    ipc::header_init (rel.hdr, ipc::Type::RELEASE, sizeof (rel), 0);
    rel.id = rng ();
    const void *data = &rel;
    size_t size = sizeof (rel);
    std::vector<UniqueFd> owned;
    int kind = int (i % 12);
    switch (kind) {
      case 0: // random bytes of a random length (some beyond any message)
        size = 1 + rng () % buf.size ();
        for (size_t j = 0; j < size; j++)
          buf[j] = uint8_t (rng ());
        data = buf.data ();
        break;
      case 1:
        rel.hdr.magic ^= 1u << (rng () % 32);
        break;
      case 2:
        rel.hdr.version = uint16_t (2 + rng () % 1000);
        break;
      case 3:
        rel.hdr.type = uint16_t (100 + rng () % 1000);
        break;
      case 4: // size field or real size wrong
        if (rng () % 2)
          rel.hdr.size += 1 + rng () % 100;
        else
          size = sizeof (ipc::Header) + rng () % 4;
        break;
      case 5: // says it carries a fence, carries none
        rel.hdr.n_fds = 1;
        rel.flags = ipc::RELEASE_HAS_FENCE;
        break;
      case 6: { // a fence that is no sync_file (a pipe, /dev/null)
        int p[2];
        if (pipe2 (p, O_CLOEXEC) == 0) {
          owned.emplace_back (p[0]);
          owned.emplace_back (p[1]);
        }
        rel.hdr.n_fds = 1;
        rel.flags = ipc::RELEASE_HAS_FENCE;
        break;
      }
      case 7: // a release of a buffer it was never given
        break;
      case 8: { // too many fds
        for (int k = 0; k < 3 + int (rng () % 10); k++)
          owned.emplace_back (open ("/dev/null", O_RDONLY | O_CLOEXEC));
        rel.hdr.n_fds = uint32_t (owned.size ());
        break;
      }
      case 9: // a server message
        rel.hdr.type = uint16_t (ipc::Type::FRAME);
        break;
      case 10: // unknown flag bits
        rel.flags = 1u << (1 + rng () % 31);
        break;
      case 11: // a short header
        size = 1 + rng () % (sizeof (ipc::Header) - 1);
        break;
    }
    std::vector<int> fds;
    for (auto &f : owned)
      fds.push_back (f.get ());
    size_t n_fds = kind == 6 ? 1 : fds.size ();
    // Straight sendmsg for the fd counts send_message refuses.
    struct iovec iov = { const_cast<void *> (data), size };
    struct msghdr mh = {};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas (struct cmsghdr) char control[CMSG_SPACE (16 * sizeof (int))] = {};
    if (n_fds) {
      mh.msg_control = control;
      mh.msg_controllen = CMSG_SPACE (n_fds * sizeof (int));
      struct cmsghdr *c = CMSG_FIRSTHDR (&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (n_fds * sizeof (int));
      memcpy (CMSG_DATA (c), fds.data (), n_fds * sizeof (int));
    }
    if (sendmsg (sock.get (), &mh, MSG_NOSIGNAL) < 0) {
      // EMSGSIZE for random lengths beyond the socket's limit: nothing
      // reached the server; it still must not mind the close.
      if (errno != EMSGSIZE) {
        printf ("not ok: send of message %ld (case %d): %s\n", i, kind,
            strerror (errno));
        return 1;
      }
    } else {
      sent++;
    }
    if (!server_closed (sock.get ())) {
      kept++;
      printf ("not ok: the server kept a client after message %ld (case "
              "%d)\n",
          i, kind);
    }
  }
  // The server handles the last close asynchronously: wait (bounded) for
  // its fd count to settle.
  int fds1 = -1;
  for (int t = 0; t < 100; t++) {
    fds1 = count_fds (pid);
    if (fds1 <= fds0)
      break;
    poll (nullptr, 0, 50);
  }
  printf ("# %ld messages (%ld sent, the rest too large for the socket), "
          "%ld clients kept; server fds %d before, %d after\n",
      total, sent, kept, fds0, fds1);
  bool ok = kept == 0 && fds0 > 0 && fds1 == fds0 && sent >= total * 9 / 10;
  printf ("%s - server disconnected every hostile client, no fd leaked\n",
      ok ? "ok" : "not ok");
  return ok ? 0 : 1;
}
