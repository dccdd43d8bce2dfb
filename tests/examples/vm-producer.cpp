// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Runs examples/zc-producer on vkms and checks it end to end: it hands the
// producer its DRM master fd (--drm-fd), waits until the producer holds its
// last frame on screen after EOS (--hold), reads the screen back through
// vkms's writeback connector and compares every pixel of the frame with
// the producer's pattern; then checks the producer's own summary (all
// frames rendered, none dropped or copied, every frame shown or replaced).
// Usage: vm-producer PRODUCER FRAMES
#include "kmstest.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace zctest;

namespace {

constexpr uint32_t W = 640, H = 480;

int failures = 0;

void
check (bool ok, const std::string &what)
{
  printf ("%s: %s\n", ok ? "ok" : "FAIL", what.c_str ());
  if (!ok)
    failures++;
}

// zc-producer's frame k at (x, y) (see the comment at its top).
uint32_t
pattern (uint32_t x, uint32_t y, uint32_t k)
{
  return (((x + 4 * k) & 0xff) << 16) | (((y + 2 * k) & 0xff) << 8) |
      (k & 0xff);
}

} // namespace

int
main (int argc, char **argv)
{
  if (argc != 3) {
    fprintf (stderr, "usage: vm-producer PRODUCER FRAMES\n");
    return 2;
  }
  DrmDevice dev = DrmDevice::open_driver ("vkms");
  if (!dev.valid ()) {
    printf ("FAIL: vkms is not loaded\n");
    return 1;
  }
  Output out;
  if (find_output (dev.fd (), out) < 0 || !out.writeback_id) {
    printf ("FAIL: no vkms output with a writeback connector\n");
    return 1;
  }

  int to_child[2], from_child[2];
  if (pipe (to_child) || pipe (from_child))
    return 1;
  pid_t pid = fork ();
  if (pid == 0) {
    dup2 (to_child[0], STDIN_FILENO);
    dup2 (from_child[1], STDOUT_FILENO);
    // The DRM fd survives exec: the producer uses this master.
    fcntl (dev.fd (), F_SETFD, 0);
    std::string fd = std::to_string (dev.fd ());
    execl (argv[1], argv[1], "--frames", argv[2], "--drm-fd", fd.c_str (),
        "--hold", (char *) nullptr);
    _exit (127);
  }
  close (to_child[0]);
  close (from_child[1]);
  FILE *child_out = fdopen (from_child[0], "r");

  // Read its output until it holds the last frame (or ends).
  char line[512];
  std::string summary;
  int held = -1;
  while (fgets (line, sizeof (line), child_out)) {
    fputs (line, stdout);
    if (strncmp (line, "rendered ", 9) == 0)
      summary = line;
    if (sscanf (line, "holding frame %d", &held) == 1)
      break;
  }
  check (held >= 0, "the producer holds its last frame after EOS");

  if (held >= 0) {
    DumbBuffer wb;
    int ret = DumbBuffer::create (dev.fd (), out.mode.hdisplay,
        out.mode.vdisplay, wb);
    check (ret == 0, "writeback buffer");
    if (ret == 0) {
      ret = capture (dev.fd (), out, wb);
      check (ret == 0, "writeback capture: " + std::string (strerror (-ret)));
    }
    if (ret == 0) {
      uint32_t x0 = (out.mode.hdisplay - W) / 2,
               y0 = (out.mode.vdisplay - H) / 2;
      uint64_t bad = 0;
      for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++)
          if ((wb.row (y0 + y)[x0 + x] & 0xffffff) !=
              pattern (x, y, uint32_t (held)))
            bad++;
      char what[160];
      snprintf (what, sizeof (what),
          "screen shows frame %d pixel for pixel at (%u, %u): %" PRIu64
          " of %u pixels differ",
          held, x0, y0, bad, W * H);
      check (bad == 0, what);
    }
  }

  // Let it go and collect its status.
  (void) !write (to_child[1], "\n", 1);
  close (to_child[1]);
  while (fgets (line, sizeof (line), child_out))
    fputs (line, stdout);
  fclose (child_out);
  int status = 0;
  waitpid (pid, &status, 0);
  check (WIFEXITED (status) && WEXITSTATUS (status) == 0,
      "the producer exits with 0");

  int frames = atoi (argv[2]), rendered = -1;
  unsigned long long got = 0, shown = 0, replaced = 0, dropped = 1, copies = 1;
  unsigned waited = 0, fenced = 0;
  char eos[8] = "";
  int n = sscanf (summary.c_str (),
      "rendered %d of %*d, eos %7[a-z], waited-for-display %u, "
      "pool-fenced-max %u, display frames %llu shown %llu replaced %llu "
      "dropped %llu copies %llu",
      &rendered, eos, &waited, &fenced, &got, &shown, &replaced, &dropped,
      &copies);
  check (n == 9, "the producer's summary line");
  check (rendered == frames && strcmp (eos, "yes") == 0,
      "every frame rendered, then EOS");
  check (got == uint64_t (frames) && shown + replaced == got,
      "zckmssink received every frame; each was shown or replaced");
  check (shown >= 1 && dropped == 0 && copies == 0,
      "frames reached the screen, none dropped, none copied");
  printf ("# the producer waited for the display %u times (pool held up to "
          "%u fenced buffers)\n",
      waited, fenced);
  printf ("%s\n", failures ? "FAILED" : "PASSED");
  return failures ? 1 : 0;
}
