// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The IPC protocol's one receive path (zc::ipc::receive_message) on a
// socketpair, on the host: good messages of each type pass, and each kind
// of malformed one is refused with its fds closed.
#include <cstdio>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zc-ipc-protocol.h"

namespace ipc = zc::ipc;
using zc::UniqueFd;

namespace {

int n_test = 0, n_failed = 0;

void
check (bool ok, const char *what)
{
  n_test++;
  n_failed += !ok;
  printf ("%s %d - %s\n", ok ? "ok" : "not ok", n_test, what);
}

bool
fd_open (int fd)
{
  return fcntl (fd, F_GETFD) != -1;
}

// Sends @size bytes of @msg with @n_fds fds (raw sendmsg, any count).
void
send_raw (int sock, const void *msg, size_t size, const int *fds, int n_fds)
{
  struct iovec iov = { const_cast<void *> (msg), size };
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas (struct cmsghdr) char control[CMSG_SPACE (32 * sizeof (int))] = {};
  if (n_fds) {
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE (n_fds * sizeof (int));
    struct cmsghdr *c = CMSG_FIRSTHDR (&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN (n_fds * sizeof (int));
    memcpy (CMSG_DATA (c), fds, n_fds * sizeof (int));
  }
  if (sendmsg (sock, &mh, MSG_NOSIGNAL) < 0)
    perror ("sendmsg");
}

} // namespace

int
main ()
{
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    printf ("1..0 # SKIP no SOCK_SEQPACKET socketpair\n");
    return 77;
  }
  UniqueFd a (sv[0]), b (sv[1]);
  auto rx = std::make_unique<ipc::Received> ();
  const char *why = nullptr;

  check (ipc::receive_message (b.get (), *rx, &why) == -EAGAIN,
      "nothing to read: -EAGAIN");

  ipc::ReleaseMsg rel {};
  ipc::header_init (rel.hdr, ipc::Type::RELEASE, sizeof (rel), 0);
  rel.id = 7;
  check (ipc::send_message (a.get (), &rel, sizeof (rel), nullptr, 0) == 0 &&
          ipc::receive_message (b.get (), *rx, &why) == 0 &&
          rx->size == sizeof (rel) && rx->fds.empty (),
      "a release without a fence passes");

  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return 1;
  UniqueFd pr (p[0]), pw (p[1]);
  ipc::header_init (rel.hdr, ipc::Type::RELEASE, sizeof (rel), 1);
  rel.flags = ipc::RELEASE_HAS_FENCE;
  int fd = pr.get ();
  check (ipc::send_message (a.get (), &rel, sizeof (rel), &fd, 1) == 0 &&
          ipc::receive_message (b.get (), *rx, &why) == 0 &&
          rx->fds.size () == 1 && rx->fds[0].get () != fd,
      "a release with one fd passes, the fd received as a new one");
  int got = rx->fds[0].get ();
  rx->fds.clear ();
  check (!fd_open (got), "the received fd is closed with the message");

  struct Bad
  {
    const char *what;
    void (*mutate) (ipc::ReleaseMsg &, size_t &, int &);
  };
  const Bad bad[] = {
    { "bad magic",
        [] (ipc::ReleaseMsg &m, size_t &, int &) { m.hdr.magic = 0; } },
    { "bad version",
        [] (ipc::ReleaseMsg &m, size_t &, int &) { m.hdr.version = 2; } },
    { "unknown type",
        [] (ipc::ReleaseMsg &m, size_t &, int &) { m.hdr.type = 99; } },
    { "size field wrong",
        [] (ipc::ReleaseMsg &m, size_t &, int &) { m.hdr.size += 4; } },
    { "short message",
        [] (ipc::ReleaseMsg &, size_t &size, int &) { size = 10; } },
    { "size of another type",
        [] (ipc::ReleaseMsg &m, size_t &, int &) {
          m.hdr.type = uint16_t (ipc::Type::EOS);
        } },
    { "fd count in the header without fds",
        [] (ipc::ReleaseMsg &m, size_t &, int &) { m.hdr.n_fds = 1; } },
    { "fds the header does not count",
        [] (ipc::ReleaseMsg &, size_t &, int &n) { n = 1; } },
    { "too many fds",
        [] (ipc::ReleaseMsg &m, size_t &, int &n) {
          n = 20;
          m.hdr.n_fds = 20;
        } },
  };
  for (const Bad &t : bad) {
    ipc::ReleaseMsg m {};
    ipc::header_init (m.hdr, ipc::Type::RELEASE, sizeof (m), 0);
    size_t size = sizeof (m);
    int n_fds = 0;
    t.mutate (m, size, n_fds);
    int fds[32];
    for (int i = 0; i < n_fds; i++)
      fds[i] = fcntl (pr.get (), F_DUPFD_CLOEXEC, 0);
    send_raw (a.get (), &m, size, fds, n_fds);
    for (int i = 0; i < n_fds; i++)
      close (fds[i]);
    why = nullptr;
    int r = ipc::receive_message (b.get (), *rx, &why);
    std::vector<int> received;
    for (auto &f : rx->fds)
      received.push_back (f.get ());
    rx->fds.clear ();
    bool closed = true;
    for (int f : received)
      closed = closed && !fd_open (f);
    char what[160];
    snprintf (what, sizeof (what), "%s: refused (%s), its %zu fds closed",
        t.what, why ? why : "-", received.size ());
    check (r == -EPROTO && why && closed, what);
  }

  char big[ipc::MAX_MESSAGE + 100] = {};
  send_raw (a.get (), big, sizeof (big), nullptr, 0);
  check (ipc::receive_message (b.get (), *rx, &why) == -EPROTO,
      "a message larger than any of the protocol is refused");

  a.reset ();
  check (ipc::receive_message (b.get (), *rx, &why) == -EPIPE,
      "the peer closing: -EPIPE");
  printf ("1..%d\n", n_test);
  return n_failed ? 1 : 0;
}
