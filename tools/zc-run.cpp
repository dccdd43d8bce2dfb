// SPDX-License-Identifier: LGPL-2.1-or-later
//
// zc-run: runs a gst-launch-1.0 style pipeline description to EOS and says
// what the project's elements counted, which gst-launch-1.0 cannot (their
// `stats` properties are read-only and never notified). Used by the scripts
// in pipelines/ and by pipelines/demo.
//
//   - At EOS it prints one line per element that has a `stats` property:
//       zc-run: stats NAME key=value key=value ...
//     and, with --json FILE, writes the same as JSON.
//   - --png FILE: the pipeline's zckmssink gets a DRM fd opened here (the
//     sink's `fd` property, so both share one DRM master); at EOS the CRTC's
//     output is read back through the writeback connector (vkms) and written
//     as an RGB PNG: exactly what the display composed.
//   - Frames a sink dropped because they came late (QoS messages) are
//     printed as "zc-run: late NAME dropped=N" (JSON: late_dropped).
//   - --latency: capture-to-display latency of the frames zckmssink showed;
//     see LatencyProbe below for how it is measured.
//   - --pts: each zcamsrc buffer's PTS against its capture completion time.
//
//   - SIGINT / SIGTERM send EOS (like gst-launch-1.0 -e), so a pipeline
//     with a live source ends with its stats printed.
//
// Exit status: 0 at EOS, 1 on an error message or a failed capture, 2 on a
// usage error.
#include <gst/gst.h>
#include <gst/zerocopy/zerocopy.h>

#include "kmstest.h"

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <thread>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include <atomic>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace {

// A move-only owned fd (sync_file) for the latency records.
class OwnedFd
{
public:
  explicit OwnedFd (int fd = -1) : fd_ (fd) {}
  OwnedFd (OwnedFd &&o) noexcept : fd_ (o.fd_) { o.fd_ = -1; }
  OwnedFd &operator= (OwnedFd &&o) noexcept
  {
    std::swap (fd_, o.fd_);
    return *this;
  }
  OwnedFd (const OwnedFd &) = delete;
  OwnedFd &operator= (const OwnedFd &) = delete;
  ~OwnedFd ()
  {
    if (fd_ >= 0)
      close (fd_);
  }
  int get () const { return fd_; }

private:
  int fd_;
};

const char usage_text[] =
    "usage: zc-run [options] PIPELINE-DESCRIPTION...\n"
    "\n"
    "Runs the pipeline (gst-launch-1.0 syntax) to EOS, then prints the stats "
    "of\n"
    "every element that has a 'stats' property (zcamsrc, zckmssink, zcfence).\n"
    "\n"
    "options:\n"
    "  --png FILE      read the display back through the KMS writeback "
    "connector at\n"
    "                  EOS and write it to FILE (needs a zckmssink without "
    "fd/device;\n"
    "                  a card without writeback connector only gets a "
    "warning)\n"
    "  --json FILE     write stats (and latency) as JSON to FILE\n"
    "  --latency       measure capture-to-display latency of the frames "
    "zckmssink\n"
    "                  showed (holds each displayed buffer until the sink "
    "attached\n"
    "                  its release fence)\n"
    "  --pts           compare each zcamsrc buffer's PTS with the time zcam "
    "completed\n"
    "                  the frame (its fence's signal time): min, max, drift\n"
    "  --timeout SEC   send EOS after SEC seconds if the pipeline has not "
    "ended\n"
    "  -h, --help      this text\n";

// ---- PNG -----------------------------------------------------------------

void
put_be32 (std::vector<uint8_t> &v, uint32_t x)
{
  for (int s = 24; s >= 0; s -= 8)
    v.push_back (uint8_t (x >> s));
}

void
put_chunk (std::vector<uint8_t> &png, const char type[4],
    const std::vector<uint8_t> &data)
{
  put_be32 (png, uint32_t (data.size ()));
  size_t start = png.size ();
  png.insert (png.end (), type, type + 4);
  png.insert (png.end (), data.begin (), data.end ());
  uLong crc = crc32 (0, png.data () + start, uInt (png.size () - start));
  put_be32 (png, uint32_t (crc));
}

// Writes an XRGB8888 dumb buffer as an 8-bit RGB PNG. Returns 0 or -errno.
int
write_png (const zctest::DumbBuffer &b, const char *path)
{
  // Raw scanlines: filter byte 0 (none), then R, G, B per pixel.
  std::vector<uint8_t> raw;
  raw.reserve (size_t (b.height) * (1 + 3 * b.width));
  for (uint32_t y = 0; y < b.height; y++) {
    raw.push_back (0);
    const uint32_t *row = b.row (y);
    for (uint32_t x = 0; x < b.width; x++) {
      raw.push_back (uint8_t (row[x] >> 16));
      raw.push_back (uint8_t (row[x] >> 8));
      raw.push_back (uint8_t (row[x]));
    }
  }
  uLongf zlen = compressBound (uLong (raw.size ()));
  std::vector<uint8_t> z (zlen);
  if (compress2 (z.data (), &zlen, raw.data (), uLong (raw.size ()), 6) != Z_OK)
    return -ENOMEM;
  z.resize (zlen);

  std::vector<uint8_t> ihdr;
  put_be32 (ihdr, b.width);
  put_be32 (ihdr, b.height);
  ihdr.insert (ihdr.end (),
      { 8, 2, 0, 0, 0 }); // 8 bit, RGB, deflate, no interlace

  static const uint8_t sig[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  std::vector<uint8_t> png (sig, sig + sizeof sig);
  put_chunk (png, "IHDR", ihdr);
  put_chunk (png, "IDAT", z);
  put_chunk (png, "IEND", {});

  FILE *f = fopen (path, "wb");
  if (!f)
    return -errno;
  bool ok = fwrite (png.data (), 1, png.size (), f) == png.size ();
  ok = fclose (f) == 0 && ok;
  return ok ? 0 : -EIO;
}

// ---- latency -------------------------------------------------------------

// Capture-to-display latency without help from the sink.
//
// zckmssink commits frames in the order it receives them, each with its
// acquire fence as IN_FENCE_FD, and gives the out-fence of the commit to
// the frame that was on screen before, as a release fence in its
// GstZcFenceMeta. A frame that was never on screen (replaced while waiting,
// dropped as late, failed fence) gets none. So when two frames the sink
// received one after the other, A then B, both got a release fence, the
// commit that took A off the screen is B's, and A's release fence signalled
// at the page flip that showed B. The acquire fence of B signalled when
// zcam completed it. Both times are CLOCK_MONOTONIC (SYNC_IOC_FILE_INFO):
//   latency(B) = signal(release fence of A) - signal(acquire fence of B).
//
// To see the release fence, the probe on the sink pad keeps a reference to
// each buffer until the sink has attached one (the fence is then duplicated
// and the buffer let go) or, for frames that are never shown, for at most
// kHoldMs. A thread looks when a buffer arrives (the sink attaches the
// release fence as it commits a later frame) and at the oldest frame's
// deadline. A shown buffer is thus held until the next arrival after the
// sink let go of it (about one frame period), a frame the sink does not
// show up to kHoldMs: give the source a few spare buffers (zcamsrc
// num-buffers-pool).
class LatencyProbe
{
public:
  static constexpr gint64 kHoldMs = 300;

  LatencyProbe () = default;
  ~LatencyProbe () { stop (); }

  void start ()
  {
    // Woken by each buffer that arrives (the sink attaches a frame's
    // release fence when it commits a later one, so an arrival is when
    // there may be one to collect) and by the hold deadline of the oldest
    // frame still waiting; otherwise it sleeps.
    thread_ = std::thread ([this] {
      std::unique_lock<std::mutex> lk (lock_);
      while (!stopping_) {
        collect_locked (false);
        if (held_.empty ()) {
          cond_.wait (lk);
        } else {
          gint64 due_us = held_.front ().since_us + kHoldMs * 1000;
          gint64 left_us = due_us - g_get_monotonic_time ();
          if (left_us > 0)
            cond_.wait_for (lk, std::chrono::microseconds (left_us));
        }
      }
    });
  }

  // Lets go of every buffer; called at EOS once the sink is idle.
  void stop ()
  {
    {
      std::lock_guard<std::mutex> lk (lock_);
      stopping_ = true;
      cond_.notify_all ();
    }
    if (thread_.joinable ())
      thread_.join ();
    std::lock_guard<std::mutex> lk (lock_);
    collect_locked (true);
  }

  void on_buffer (GstBuffer *buf)
  {
    std::lock_guard<std::mutex> lk (lock_);
    received_++;
    GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf);
    if (!meta || stopping_) {
      no_meta_ += meta ? 0 : 1;
      return;
    }
    Held h;
    h.buffer = gst_buffer_ref (buf);
    h.order = received_;
    h.since_us = g_get_monotonic_time ();
    int acq = gst_zc_fence_meta_get_acquire_fence (meta);
    h.acquire = acq >= 0 ? gst_zc_sync_file_dup (acq) : -1;
    held_.push_back (h);
    cond_.notify_one ();
  }

  // Latencies in ns, in the order the frames arrived.
  std::vector<gint64> latencies () const
  {
    std::vector<gint64> out;
    for (size_t i = 1; i < shown_.size (); i++) {
      const Shown &a = shown_[i - 1], &b = shown_[i];
      if (b.order != a.order + 1)
        continue;
      guint64 flip = signal_time (a.release), cap = signal_time (b.acquire);
      if (flip && cap && flip >= cap)
        out.push_back (gint64 (flip - cap));
    }
    return out;
  }

  guint64 received () const { return received_; }
  guint64 no_meta () const { return no_meta_; }

private:
  struct Held
  {
    GstBuffer *buffer = nullptr;
    guint64 order = 0;
    gint64 since_us = 0;
    int acquire = -1;
  };
  // A frame that was on screen: its fences, kept until the end.
  struct Shown
  {
    guint64 order;
    OwnedFd acquire;
    OwnedFd release;
  };

  static guint64 signal_time (const OwnedFd &fd)
  {
    GstZcSyncFileInfo info;
    if (fd.get () < 0 || !gst_zc_sync_file_get_status (fd.get (), &info) ||
        info.status != 1)
      return 0;
    return info.timestamp_ns;
  }

  // Lets go of the buffers whose fate is known (or held too long); all of
  // them when @all.
  void collect_locked (bool all)
  {
    gint64 now = g_get_monotonic_time ();
    for (auto it = held_.begin (); it != held_.end ();) {
      GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (it->buffer);
      guint n = gst_zc_fence_meta_get_n_release_fences (meta);
      if (n == 0 && !all && now - it->since_us < kHoldMs * 1000) {
        ++it;
        continue;
      }
      if (n > 0) {
        // The display's out-fence; with more than one consumer adding
        // fences, the merge signals with the last of them.
        int rel = gst_zc_sync_file_dup (
            gst_zc_fence_meta_get_release_fence (meta, 0));
        for (guint i = 1; i < n && rel >= 0; i++) {
          int m = gst_zc_sync_file_merge ("zc-run", rel,
              gst_zc_fence_meta_get_release_fence (meta, i));
          close (rel);
          rel = m;
        }
        shown_.push_back ({ it->order, OwnedFd (it->acquire), OwnedFd (rel) });
      } else if (it->acquire >= 0) {
        close (it->acquire);
      }
      gst_buffer_unref (it->buffer);
      it = held_.erase (it);
    }
    std::sort (shown_.begin (), shown_.end (),
        [] (const Shown &a, const Shown &b) { return a.order < b.order; });
  }

  std::mutex lock_;
  std::condition_variable cond_;
  std::thread thread_;
  bool stopping_ = false;
  std::deque<Held> held_;
  std::vector<Shown> shown_;
  guint64 received_ = 0;
  guint64 no_meta_ = 0;
};

GstPadProbeReturn
latency_probe_cb (GstPad *, GstPadProbeInfo *info, gpointer user_data)
{
  auto *probe = static_cast<LatencyProbe *> (user_data);
  if (GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info))
    probe->on_buffer (buf);
  return GST_PAD_PROBE_OK;
}

// ---- PTS against the capture clock ---------------------------------------

// --pts: for every buffer leaving the zcamsrc, its PTS as a clock time
// (running time + base time; the pipeline clock is the monotonic system
// clock) and its acquire fence, whose signal timestamp is the time zcam
// completed the frame (CLOCK_MONOTONIC). Read at the end, when every fence
// has signalled: PTS minus completion time, per frame in push order.
class PtsProbe
{
public:
  void on_buffer (GstElement *element, GstBuffer *buf)
  {
    GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf);
    int acq = meta ? gst_zc_fence_meta_get_acquire_fence (meta) : -1;
    if (acq < 0 || !GST_BUFFER_PTS_IS_VALID (buf))
      return;
    GstClockTime base = gst_element_get_base_time (element);
    std::lock_guard<std::mutex> lk (lock_);
    frames_.push_back (
        { gint64 (GST_BUFFER_PTS (buf) + base), gst_zc_sync_file_dup (acq) });
  }

  // PTS - completion (ns) of the frames whose fence signalled without error.
  std::vector<gint64> differences ()
  {
    std::lock_guard<std::mutex> lk (lock_);
    std::vector<gint64> out;
    for (auto &f : frames_) {
      GstZcSyncFileInfo info;
      if (f.fence >= 0 && gst_zc_sync_file_wait (f.fence, GST_SECOND) == 0 &&
          gst_zc_sync_file_get_status (f.fence, &info) && info.status == 1)
        out.push_back (f.pts_clock - gint64 (info.timestamp_ns));
      if (f.fence >= 0)
        close (f.fence);
      f.fence = -1;
    }
    return out;
  }

private:
  struct Frame
  {
    gint64 pts_clock;
    int fence;
  };
  std::mutex lock_;
  std::vector<Frame> frames_;
};

GstPadProbeReturn
pts_probe_cb (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  auto *probe = static_cast<PtsProbe *> (user_data);
  if (GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info)) {
    GstElement *e = gst_pad_get_parent_element (pad);
    probe->on_buffer (e, buf);
    gst_object_unref (e);
  }
  return GST_PAD_PROBE_OK;
}

double
percentile (std::vector<gint64> v, double p)
{
  std::sort (v.begin (), v.end ());
  size_t i = size_t (p / 100.0 * double (v.size () - 1) + 0.5);
  return double (v[std::min (i, v.size () - 1)]) / 1e6;
}

GstPadProbeReturn
count_probe_cb (GstPad *, GstPadProbeInfo *, gpointer user_data)
{
  g_atomic_int_inc (static_cast<gint *> (user_data));
  return GST_PAD_PROBE_OK;
}

// ---- stats ---------------------------------------------------------------

std::string
json_escape (const char *s)
{
  std::string out;
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      out += '\\';
    if (guchar (*s) < 0x20) {
      char b[8];
      snprintf (b, sizeof b, "\\u%04x", *s);
      out += b;
      continue;
    }
    out += *s;
  }
  return out;
}

// "key=value ..." for the console and {"key": value, ...} for JSON.
void
describe_stats (const GstStructure *s, std::string &line, std::string &json)
{
  json = "{";
  for (int i = 0; i < gst_structure_n_fields (s); i++) {
    const char *name = gst_structure_nth_field_name (s, i);
    const GValue *v = gst_structure_get_value (s, name);
    g_autofree char *str = gst_value_serialize (v);
    line += std::string (" ") + name + "=" + (str ? str : "?");
    json += std::string (i ? ", " : "") + "\"" + json_escape (name) + "\": ";
    GType t = G_VALUE_TYPE (v);
    bool number = t == G_TYPE_INT || t == G_TYPE_UINT || t == G_TYPE_INT64 ||
        t == G_TYPE_UINT64 || t == G_TYPE_DOUBLE;
    if (t == G_TYPE_BOOLEAN)
      json += g_value_get_boolean (v) ? "true" : "false";
    else if (number && str)
      json += str;
    else
      json += "\"" + json_escape (str ? str : "") + "\"";
  }
  json += "}";
}

std::vector<GstElement *>
all_elements (GstElement *pipeline)
{
  std::vector<GstElement *> out;
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline));
  GValue item = G_VALUE_INIT;
  bool done = false;
  while (!done) {
    switch (gst_iterator_next (it, &item)) {
      case GST_ITERATOR_OK:
        out.push_back (GST_ELEMENT (g_value_get_object (&item)));
        g_value_reset (&item);
        break;
      case GST_ITERATOR_RESYNC:
        out.clear ();
        gst_iterator_resync (it);
        break;
      default:
        done = true;
        break;
    }
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  // The iterator goes from the sinks up; sources first reads better.
  std::reverse (out.begin (), out.end ());
  return out;
}

bool
is_factory (GstElement *e, const char *name)
{
  GstElementFactory *f = gst_element_get_factory (e);
  return f && strcmp (GST_OBJECT_NAME (f), name) == 0;
}

struct Options
{
  const char *png = nullptr;
  const char *json = nullptr;
  bool latency = false;
  bool pts = false;
  double timeout = 0;
};

// Buffers each element dropped for lateness (QoS messages: basesink drops
// frames that arrive after their presentation time), by element name.
using QosDrops = std::vector<std::pair<std::string, guint64>>;

void
note_qos (QosDrops &qos, GstMessage *msg)
{
  GstFormat fmt;
  guint64 processed = 0, dropped = 0;
  gst_message_parse_qos_stats (msg, &fmt, &processed, &dropped);
  if (fmt != GST_FORMAT_BUFFERS)
    return;
  std::string name = GST_OBJECT_NAME (GST_MESSAGE_SRC (msg));
  for (auto &q : qos)
    if (q.first == name) {
      q.second = std::max (q.second, dropped);
      return;
    }
  qos.emplace_back (name, dropped);
}

// SIGINT and SIGTERM are blocked in every thread and taken by one that
// sleeps in sigwait(): it sends EOS to the pipeline (or exits before there
// is one).
std::atomic<GstElement *> g_pipeline { nullptr };

void
start_signal_thread ()
{
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &set, nullptr);
  std::thread ([set] () {
    for (;;) {
      int sig = 0;
      if (sigwait (&set, &sig) != 0)
        continue;
      GstElement *p = g_pipeline.load ();
      if (!p)
        _exit (128 + sig);
      g_print ("zc-run: signal %d: sending EOS\n", sig);
      gst_element_send_event (p, gst_event_new_eos ());
    }
  }).detach ();
}

// Runs the pipeline until EOS or an error; true at EOS.
bool
run_to_eos (GstElement *pipeline, double timeout, QosDrops &qos)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  gint64 deadline = timeout > 0 ?
      g_get_monotonic_time () + gint64 (timeout * G_USEC_PER_SEC) :
      0;
  bool eos_sent = false, ok = false, done = false;
  while (!done) {
    GstClockTime wait = GST_CLOCK_TIME_NONE;
    if (deadline) {
      gint64 left = deadline - g_get_monotonic_time ();
      wait = left > 0 ? GstClockTime (left) * GST_USECOND : 0;
    }
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, wait,
        GstMessageType (GST_MESSAGE_EOS | GST_MESSAGE_ERROR |
            GST_MESSAGE_WARNING | GST_MESSAGE_QOS));
    if (!msg) {
      if (eos_sent) {
        g_printerr ("zc-run: no EOS 10 s after sending it\n");
        break;
      }
      g_print ("zc-run: %.1f s passed: sending EOS\n", timeout);
      gst_element_send_event (pipeline, gst_event_new_eos ());
      eos_sent = true;
      deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
      continue;
    }
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_EOS:
        ok = done = true;
        break;
      case GST_MESSAGE_QOS:
        note_qos (qos, msg);
        break;
      case GST_MESSAGE_ERROR:
      case GST_MESSAGE_WARNING: {
        GError *err = nullptr;
        g_autofree char *dbg = nullptr;
        bool error = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR;
        if (error)
          gst_message_parse_error (msg, &err, &dbg);
        else
          gst_message_parse_warning (msg, &err, &dbg);
        g_printerr ("zc-run: %s from %s: %s\n%s\n", error ? "ERROR" : "WARNING",
            GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message,
            dbg ? dbg : "");
        g_error_free (err);
        done = error;
        break;
      }
      default:
        break;
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  return ok;
}

// Waits (bounded) until @sink has accounted for every frame it received:
// shown, replaced or failed. The last frame may still be in flight at EOS.
void
wait_sink_idle (GstElement *sink, guint64 received)
{
  for (int i = 0; i < 100; i++) {
    GstStructure *s = nullptr;
    g_object_get (sink, "stats", &s, NULL);
    guint64 shown = 0, replaced = 0, errs = 0, timeouts = 0;
    gst_structure_get_uint64 (s, "shown", &shown);
    gst_structure_get_uint64 (s, "replaced", &replaced);
    gst_structure_get_uint64 (s, "fence-errors", &errs);
    gst_structure_get_uint64 (s, "fence-timeouts", &timeouts);
    gst_structure_free (s);
    if (shown + replaced + errs + timeouts >= received)
      return;
    g_usleep (20000);
  }
}

} // namespace

int
main (int argc, char **argv)
{
  Options opt;
  int i = 1;
  for (; i < argc; i++) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      fputs (usage_text, stdout);
      return 0;
    } else if (a == "--png" && i + 1 < argc) {
      opt.png = argv[++i];
    } else if (a == "--json" && i + 1 < argc) {
      opt.json = argv[++i];
    } else if (a == "--timeout" && i + 1 < argc) {
      opt.timeout = g_ascii_strtod (argv[++i], nullptr);
    } else if (a == "--latency") {
      opt.latency = true;
    } else if (a == "--pts") {
      opt.pts = true;
    } else if (a == "--") {
      i++;
      break;
    } else if (a.rfind ("--", 0) == 0) {
      fprintf (stderr, "zc-run: unknown option %s\n%s", a.c_str (), usage_text);
      return 2;
    } else {
      break;
    }
  }
  if (i >= argc) {
    fputs (usage_text, stderr);
    return 2;
  }
  start_signal_thread ();
  gst_init (nullptr, nullptr);

  GError *err = nullptr;
  GstElement *pipeline =
      gst_parse_launchv (const_cast<const char **> (argv + i), &err);
  if (!pipeline) {
    fprintf (stderr, "zc-run: bad pipeline: %s\n", err ? err->message : "?");
    return 2;
  }
  if (err) {
    fprintf (stderr, "zc-run: %s\n", err->message);
    g_clear_error (&err);
  }
  if (!GST_IS_PIPELINE (pipeline)) {
    // A single element: gst_parse_launchv() returns it bare.
    GstElement *p = gst_pipeline_new (nullptr);
    gst_bin_add (GST_BIN (p), pipeline);
    pipeline = p;
  }

  std::vector<GstElement *> elements = all_elements (pipeline);
  GstElement *sink = nullptr;
  for (GstElement *e : elements)
    if (is_factory (e, "zckmssink") && !sink)
      sink = e;
  if ((opt.png || opt.latency) && !sink) {
    fprintf (stderr,
        "zc-run: --png and --latency need a zckmssink in the pipeline\n");
    return 2;
  }

  // The display read-back shares the sink's DRM file (and master).
  zctest::DrmDevice drm;
  if (opt.png) {
    g_autofree char *device = nullptr, *driver = nullptr;
    int fd = -1;
    g_object_get (sink, "device", &device, "driver-name", &driver, "fd", &fd,
        NULL);
    if (fd >= 0 || (device && *device)) {
      fprintf (stderr,
          "zc-run: --png opens the card itself: use driver-name, not "
          "fd/device\n");
      return 2;
    }
    if (driver && *driver) {
      drm = zctest::DrmDevice::open_driver (driver);
    } else {
      // Like the sink: the first card with a connected display.
      for (int n = 0; n < 16 && !drm.valid (); n++) {
        std::string node = "/dev/dri/card" + std::to_string (n);
        zctest::DrmDevice d (open (node.c_str (), O_RDWR | O_CLOEXEC));
        zctest::Output o;
        if (d.valid () && zctest::find_output (d.fd (), o) == 0)
          drm = std::move (d);
      }
    }
    if (!drm.valid ()) {
      fprintf (stderr, "zc-run: no DRM card%s%s\n", driver ? " of driver " : "",
          driver ? driver : "");
      return 1;
    }
    g_object_set (sink, "fd", drm.fd (), NULL);
  }

  PtsProbe pts_probe;
  if (opt.pts) {
    GstElement *cam = nullptr;
    for (GstElement *e : elements)
      if (is_factory (e, "zcamsrc") && !cam)
        cam = e;
    if (!cam) {
      fprintf (stderr, "zc-run: --pts needs a zcamsrc in the pipeline\n");
      return 2;
    }
    GstPad *pad = gst_element_get_static_pad (cam, "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, pts_probe_cb, &pts_probe,
        nullptr);
    gst_object_unref (pad);
  }

  LatencyProbe probe;
  gint sink_buffers = 0;
  if (sink) {
    GstPad *pad = gst_element_get_static_pad (sink, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_probe_cb,
        &sink_buffers, nullptr);
    if (opt.latency) {
      gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, latency_probe_cb,
          &probe, nullptr);
      probe.start ();
    }
    gst_object_unref (pad);
  }

  int rc = 0;
  QosDrops qos;
  g_pipeline = pipeline;
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    // The error message on the bus says why.
    GstBus *bus = gst_element_get_bus (pipeline);
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_SECOND,
        GST_MESSAGE_ERROR);
    if (msg) {
      GError *e = nullptr;
      g_autofree char *dbg = nullptr;
      gst_message_parse_error (msg, &e, &dbg);
      g_printerr ("zc-run: ERROR from %s: %s\n%s\n",
          GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), e->message, dbg ? dbg : "");
      g_error_free (e);
      gst_message_unref (msg);
    }
    gst_object_unref (bus);
    g_printerr ("zc-run: the pipeline did not start\n");
    rc = 1;
  } else if (!run_to_eos (pipeline, opt.timeout, qos)) {
    rc = 1;
  }

  if (rc == 0 && sink)
    wait_sink_idle (sink, guint64 (g_atomic_int_get (&sink_buffers)));

  if (rc == 0 && opt.png) {
    zctest::Output out;
    zctest::DumbBuffer wb;
    int r = zctest::find_output (drm.fd (), out);
    if (r == 0 && !out.writeback_id)
      r = -ENODEV;
    if (r == 0)
      r = zctest::DumbBuffer::create (drm.fd (), out.mode.hdisplay,
          out.mode.vdisplay, wb);
    if (r == 0)
      r = zctest::capture (drm.fd (), out, wb);
    if (r == 0)
      r = write_png (wb, opt.png);
    if (r == 0) {
      g_print ("zc-run: display read back (%ux%u) into %s\n", wb.width,
          wb.height, opt.png);
    } else if (r == -ENODEV) {
      // Most real displays have no writeback connector: not an error.
      fprintf (stderr, "zc-run: no writeback connector on this card: no %s\n",
          opt.png);
    } else {
      fprintf (stderr, "zc-run: display read-back failed: %s\n", strerror (-r));
      rc = 1;
    }
  }

  // Stats are read before NULL: the elements reset them when they start.
  std::string json = "{\n  \"ok\": " +
      std::string (rc == 0 ? "true" : "false") + ",\n  \"stats\": {";
  bool first = true;
  for (GstElement *e : elements) {
    if (!g_object_class_find_property (G_OBJECT_GET_CLASS (e), "stats"))
      continue;
    GstStructure *s = nullptr;
    g_object_get (e, "stats", &s, NULL);
    if (!s)
      continue;
    std::string line, obj;
    describe_stats (s, line, obj);
    gst_structure_free (s);
    g_print ("zc-run: stats %s%s\n", GST_OBJECT_NAME (e), line.c_str ());
    json += std::string (first ? "\n" : ",\n") + "    \"" +
        json_escape (GST_OBJECT_NAME (e)) + "\": " + obj;
    first = false;
  }
  json += "\n  },\n  \"late_dropped\": {";
  first = true;
  for (const auto &q : qos) {
    g_print ("zc-run: late %s dropped=%" G_GUINT64_FORMAT " (QoS)\n",
        q.first.c_str (), q.second);
    json += std::string (first ? "" : ", ") + "\"" +
        json_escape (q.first.c_str ()) + "\": " + std::to_string (q.second);
    first = false;
  }
  json += "}";

  if (opt.latency) {
    probe.stop ();
    std::vector<gint64> lat = probe.latencies ();
    char buf[512];
    if (lat.empty ()) {
      g_print ("zc-run: latency: no frame pairs to measure (%" G_GUINT64_FORMAT
               " frames at the sink, %" G_GUINT64_FORMAT
               " without fence meta)\n",
          probe.received (), probe.no_meta ());
      snprintf (buf, sizeof buf, ",\n  \"latency_ms\": null");
    } else {
      double p50 = percentile (lat, 50), p90 = percentile (lat, 90),
             p99 = percentile (lat, 99), mx = percentile (lat, 100),
             mn = percentile (lat, 0);
      g_print ("zc-run: latency capture-to-display (ms, %zu frames): min %.1f "
               "p50 %.1f p90 %.1f p99 %.1f max %.1f\n",
          lat.size (), mn, p50, p90, p99, mx);
      snprintf (buf, sizeof buf,
          ",\n  \"latency_ms\": {\"frames\": %zu, \"min\": %.2f, "
          "\"p50\": %.2f, \"p90\": %.2f, \"p99\": %.2f, \"max\": %.2f}",
          lat.size (), mn, p50, p90, p99, mx);
    }
    json += buf;
    snprintf (buf, sizeof buf, ",\n  \"sink_received\": %" G_GUINT64_FORMAT,
        probe.received ());
    json += buf;
  }
  if (opt.pts) {
    std::vector<gint64> d = pts_probe.differences ();
    char buf[512];
    if (d.empty ()) {
      g_print ("zc-run: pts: no frames with a signalled fence\n");
      snprintf (buf, sizeof buf, ",\n  \"pts_minus_capture_ms\": null");
    } else {
      // Drift: the median of the last quarter against the first quarter's.
      size_t q = std::max<size_t> (d.size () / 4, 1);
      double first_q = percentile ({ d.begin (), d.begin () + q }, 50);
      double last_q = percentile ({ d.end () - q, d.end () }, 50);
      double mn = percentile (d, 0), med = percentile (d, 50),
             mx = percentile (d, 100);
      g_print ("zc-run: pts minus capture (ms, %zu frames): min %.1f median "
               "%.1f max %.1f first-quarter-median %.1f "
               "last-quarter-median %.1f\n",
          d.size (), mn, med, mx, first_q, last_q);
      snprintf (buf, sizeof buf,
          ",\n  \"pts_minus_capture_ms\": {\"frames\": %zu, \"min\": %.2f, "
          "\"median\": %.2f, \"max\": %.2f, \"first_quarter_median\": "
          "%.2f, \"last_quarter_median\": %.2f}",
          d.size (), mn, med, mx, first_q, last_q);
    }
    json += buf;
  }
  json += "\n}\n";

  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_pipeline = nullptr;
  gst_object_unref (pipeline);

  if (opt.json) {
    FILE *f = fopen (opt.json, "w");
    if (!f || fputs (json.c_str (), f) < 0 || fclose (f) != 0) {
      fprintf (stderr, "zc-run: cannot write %s\n", opt.json);
      rc = 1;
    }
  }
  return rc;
}
