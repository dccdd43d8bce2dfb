// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The camera → encode + display pipeline end to end, in the test VM:
//
//   zcamsrc ! tee name=t
//     t. ! queue ! zcfence ! v4l2fwhtenc output-io-mode=dmabuf-import ! filesink
//     t. ! queue ! zckmssink            (XRGB8888; vkms 6.1 has no YUV planes)
//     t. ! queue ! zcfence ! fakesink   (NV12, standing in for the display)
//
// and checks: no CPU copy anywhere (copy counters, GST_PERFORMANCE lines),
// the encoder and the display imported zcam's own dma-bufs (bufinfo
// attachments, zcam's vmap counter), the encoded stream decodes back
// (v4l2fwhtdec) to frames whose sequence codes are those the encoder was
// given, with their PSNR against the zcam pattern reported, and the display
// shows the last frame pixel for pixel (vkms writeback).
//
// usage: vm-e2e FORMAT WIDTH HEIGHT FRAMES OUTDIR   (prints TAP)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <gst/allocators/allocators.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/zerocopy/zerocopy.h>

#include "kmstest.h"

using namespace zctest;

namespace {

int n_test = 0, n_failed = 0;

void
check (bool ok, const std::string &what)
{
  n_test++;
  if (!ok)
    n_failed++;
  printf ("%s %d - %s\n", ok ? "ok" : "not ok", n_test, what.c_str ());
  fflush (stdout);
}

std::string fmt (const char *f, ...) G_GNUC_PRINTF (1, 2);
std::string
fmt (const char *f, ...)
{
  va_list ap;
  va_start (ap, f);
  gchar *s = g_strdup_vprintf (f, ap);
  va_end (ap);
  std::string r (s);
  g_free (s);
  return r;
}

// ---- the zcam pattern (docs/zcam-uapi.md, "Frame pattern") ---------------

struct Pattern
{
  bool nv12;
  uint32_t width, height;

  uint32_t cells () const { return std::min (32u, width / 8); }
  // -1 outside the sequence code cells, else the bit's value.
  int code_bit (uint32_t x, uint32_t y, uint64_t s) const
  {
    if (!(y < 8 || y >= height - 8) || x / 8 >= cells ())
      return -1;
    return int ((s >> (x / 8)) & 1);
  }
  uint8_t luma (uint32_t x, uint32_t y, uint64_t s) const
  {
    int b = code_bit (x, y, s);
    return b < 0 ? uint8_t (x + 4 * s) : (b ? 235 : 16);
  }
  // BGRx bytes B, G, R.
  void bgr (uint32_t x, uint32_t y, uint64_t s, uint8_t out[3]) const
  {
    int b = code_bit (x, y, s);
    if (b >= 0) {
      out[0] = out[1] = out[2] = b ? 0xff : 0;
      return;
    }
    out[0] = uint8_t (s);
    out[1] = uint8_t (y + 2 * s);
    out[2] = uint8_t (x + 4 * s);
  }
};

// The sequence code read from the top band of a decoded frame (lossy, so
// the cell centre is thresholded).
uint64_t
read_code (const Pattern &p, GstVideoFrame *f)
{
  uint64_t s = 0;
  const uint8_t *base = static_cast<const uint8_t *> (
      GST_VIDEO_FRAME_PLANE_DATA (f, 0));
  int stride = GST_VIDEO_FRAME_PLANE_STRIDE (f, 0);
  for (uint32_t i = 0; i < p.cells (); i++) {
    uint32_t x = 8 * i + 4;
    const uint8_t *px = base + 4 * stride + (p.nv12 ? x : 4 * x);
    unsigned v = p.nv12 ? px[0] : (px[0] + px[1] + px[2]) / 3;
    if (v > 128)
      s |= uint64_t (1) << i;
  }
  return s;
}

// PSNR (dB) of a decoded frame against the pattern of frame `s`: luma for
// NV12, B, G and R for XRGB8888.
double
psnr (const Pattern &p, GstVideoFrame *f, uint64_t s)
{
  const uint8_t *base = static_cast<const uint8_t *> (
      GST_VIDEO_FRAME_PLANE_DATA (f, 0));
  int stride = GST_VIDEO_FRAME_PLANE_STRIDE (f, 0);
  double se = 0;
  uint64_t n = 0;
  for (uint32_t y = 0; y < p.height; y++) {
    const uint8_t *row = base + size_t (y) * stride;
    for (uint32_t x = 0; x < p.width; x++) {
      if (p.nv12) {
        double d = double (row[x]) - p.luma (x, y, s);
        se += d * d;
        n++;
      } else {
        uint8_t want[3];
        p.bgr (x, y, s, want);
        for (int c = 0; c < 3; c++) {
          double d = double (row[4 * x + c]) - want[c];
          se += d * d;
        }
        n += 3;
      }
    }
  }
  double mse = se / double (n);
  return mse == 0 ? 99.0 : 10 * std::log10 (255.0 * 255.0 / mse);
}

// ---- observations during the run -----------------------------------------

struct Observed
{
  std::mutex lock;
  std::vector<uint64_t> encoded; // offsets given to the encoder
  uint64_t last_displayed = 0;
  uint64_t displayed = 0;
  bool all_dmabuf = true; // every buffer a dma-buf with a fence meta
  std::vector<std::string> copy_lines; // GST_PERFORMANCE lines about copies
  std::vector<std::string> perf_lines; // every GST_PERFORMANCE line
};

Observed *obs;

GstPadProbeReturn
on_encoder_buffer (GstPad *, GstPadProbeInfo *info, gpointer)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  bool ok = gst_buffer_n_memory (buf) == 1 &&
      gst_is_dmabuf_memory (gst_buffer_peek_memory (buf, 0)) &&
      gst_zc_buffer_get_fence_meta (buf);
  std::lock_guard<std::mutex> l (obs->lock);
  obs->encoded.push_back (GST_BUFFER_OFFSET (buf));
  obs->all_dmabuf = obs->all_dmabuf && ok;
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn
on_display_buffer (GstPad *, GstPadProbeInfo *info, gpointer)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  bool ok = gst_is_dmabuf_memory (gst_buffer_peek_memory (buf, 0)) &&
      gst_zc_buffer_get_fence_meta (buf);
  std::lock_guard<std::mutex> l (obs->lock);
  obs->last_displayed = GST_BUFFER_OFFSET (buf);
  obs->displayed++;
  obs->all_dmabuf = obs->all_dmabuf && ok;
  return GST_PAD_PROBE_OK;
}

void
log_perf (GstDebugCategory *cat, GstDebugLevel level, const gchar *file,
    const gchar *, gint line, GObject *object, GstDebugMessage *message,
    gpointer)
{
  if (strcmp (gst_debug_category_get_name (cat), "GST_PERFORMANCE") != 0 ||
      level > GST_LEVEL_LOG)
    return;
  std::string text = gst_debug_message_get (message);
  std::string who = object && GST_IS_OBJECT (object) ?
      GST_OBJECT_NAME (object) :
      "";
  std::string full = fmt ("%s:%d %s: %s", file, line, who.c_str (),
      text.c_str ());
  std::string lower = g_ascii_strdown (text.c_str (), -1);
  std::lock_guard<std::mutex> l (obs->lock);
  obs->perf_lines.push_back (full);
  // Frame copies; not the caps copies core GStreamer logs, nor the
  // encoder's capture pool copying the compressed bitstream out of its
  // V4L2 buffers when it runs short of them (":src" pool).
  bool bitstream = who.find (":src") != std::string::npos;
  bool caps = strstr (file, "gstcaps.c") ||
      text.find ("GstCaps") != std::string::npos;
  if (lower.find ("cop") != std::string::npos && !caps && !bitstream)
    obs->copy_lines.push_back (full);
}

// ---- helpers --------------------------------------------------------------

std::string
read_text (const std::string &path)
{
  std::ifstream f (path);
  std::stringstream ss;
  ss << f.rdbuf ();
  return ss.str ();
}

uint64_t
zcam_stat (const char *name)
{
  std::istringstream in (read_text ("/sys/kernel/debug/zcam/zcam0/stats"));
  std::string line;
  std::string key = std::string (name) + ":";
  while (std::getline (in, line))
    if (line.rfind (key, 0) == 0)
      return std::stoull (line.substr (key.size ()));
  return 0;
}

// Attachments of zcam's dma-bufs in bufinfo: how many zcam buffers have at
// least one device attached (an importer such as the display).
unsigned
zcam_buffers_attached ()
{
  std::istringstream in (read_text ("/sys/kernel/debug/dma_buf/bufinfo"));
  std::string line;
  bool in_zcam = false;
  unsigned attached = 0;
  while (std::getline (in, line)) {
    // A buffer line: size flags mode count exp_name ino name...
    if (!line.empty () && isdigit ((unsigned char) line[0])) {
      in_zcam = line.find ("\tzcam\t") != std::string::npos;
      continue;
    }
    if (in_zcam && line.find ("Attached Devices:") != std::string::npos) {
      std::string next;
      if (std::getline (in, next) && next.find ("Total") == std::string::npos)
        attached++;
      in_zcam = false;
    }
  }
  return attached;
}

guint64
stat_u64 (GstElement *e, const char *field)
{
  GstStructure *s = nullptr;
  g_object_get (e, "stats", &s, nullptr);
  guint64 v = 0;
  if (s)
    gst_structure_get_uint64 (s, field, &v);
  if (s)
    gst_structure_free (s);
  return v;
}

std::string
stats_text (GstElement *e)
{
  GstStructure *s = nullptr;
  g_object_get (e, "stats", &s, nullptr);
  gchar *t = s ? gst_structure_to_string (s) : g_strdup ("(none)");
  std::string r (t);
  g_free (t);
  if (s)
    gst_structure_free (s);
  return r;
}

// Runs until EOS or an error; returns the error text, empty on EOS.
std::string
run_to_eos (GstElement *pipeline, int timeout_s)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  std::string err;
  GstMessage *m = gst_bus_timed_pop_filtered (bus,
      GstClockTime (timeout_s) * GST_SECOND,
      GstMessageType (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (!m) {
    err = "timed out";
  } else if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    GError *e = nullptr;
    gchar *dbg = nullptr;
    gst_message_parse_error (m, &e, &dbg);
    err = fmt ("%s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), e->message,
        dbg ? dbg : "");
    g_error_free (e);
    g_free (dbg);
  }
  if (m)
    gst_message_unref (m);
  gst_object_unref (bus);
  return err;
}

// The display check: the CRTC's output, read back through writeback, is the
// pattern of frame `seq` (centred when smaller than the mode) on black.
void
check_display (int fd, Output &out, const Pattern &p, uint64_t seq)
{
  drmModeCrtc *crtc = drmModeGetCrtc (fd, out.crtc_id);
  if (!crtc || !crtc->mode_valid) {
    check (false, "display: CRTC active");
    drmModeFreeCrtc (crtc);
    return;
  }
  uint32_t hd = crtc->mode.hdisplay, vd = crtc->mode.vdisplay;
  drmModeFreeCrtc (crtc);
  DumbBuffer wb;
  if (DumbBuffer::create (fd, hd, vd, wb) != 0) {
    check (false, "display: writeback buffer");
    return;
  }
  // vkms composes the writeback on the CPU: at 3840x2160 under TCG on the
  // debug kernel (KASAN) that took over the default 5 s once. The bound
  // grows with the output (10 s per 1920x1080); a lost writeback job still
  // ends in -ETIMEDOUT, only later.
  int timeout_ms = int (
      std::max<uint64_t> (5000, uint64_t (hd) * vd * 10000 / (1920 * 1080)));
  int r = capture (fd, out, wb, timeout_ms);
  check (r == 0,
      fmt ("display: writeback capture of the %ux%u output (%d)", hd, vd, r));
  if (r)
    return;
  uint32_t x0 = hd > p.width ? (hd - p.width) / 2 : 0;
  uint32_t y0 = vd > p.height ? (vd - p.height) / 2 : 0;
  // The buffer's offset is a lower bound of the period the frame was
  // captured in (docs/zcam-uapi.md): read the shown frame's code, then
  // compare every pixel with that frame's pattern.
  uint64_t shown = 0;
  for (uint32_t i = 0; i < p.cells (); i++)
    if (wb.row (y0 + 4)[x0 + 8 * i + 4] & 0xff)
      shown |= uint64_t (1) << i;
  check (shown >= seq,
      fmt ("display: frame %" G_GUINT64_FORMAT " shown for the last buffer "
           "(offset %" G_GUINT64_FORMAT ")",
          shown, seq));
  seq = shown;
  uint64_t bad = 0, first_bad = UINT64_MAX;
  for (uint32_t y = 0; y < vd; y++) {
    for (uint32_t x = 0; x < hd; x++) {
      uint32_t want = 0;
      if (x >= x0 && x < x0 + p.width && y >= y0 && y < y0 + p.height) {
        uint8_t c[3];
        p.bgr (x - x0, y - y0, seq, c);
        want = (uint32_t (c[2]) << 16) | (uint32_t (c[1]) << 8) | c[0];
      }
      if ((wb.row (y)[x] & 0xffffff) != want) {
        bad++;
        first_bad = std::min<uint64_t> (first_bad, uint64_t (y) * hd + x);
      }
    }
  }
  check (bad == 0,
      fmt ("display: %ux%u frame %" G_GUINT64_FORMAT " at (%u,%u) on a %ux%u "
           "output, %" G_GUINT64_FORMAT " of %u pixels differ",
          p.width, p.height, seq, x0, y0, hd, vd, bad, hd * vd));
}

} // namespace

// Decodes @stream (raw FWHT, @n_encoded frames) with v4l2fwhtdec and checks
// the frames: each carries a sequence code, in increasing order, at or after
// the offset of the buffer it was encoded from (@offsets, when known), and
// looks like the zcam pattern.
static void
check_decoded (const std::string &stream, const Pattern &pat,
    const std::string &format, size_t n_encoded,
    const std::vector<uint64_t> *offsets)
{
  // Decode the stream back. The stateful decoder wants one frame per
  // buffer: split the file at the FWHT frame headers (struct
  // fwht_cframe_hdr: two magic words, nine big-endian u32, the last the
  // payload size).
  std::string data = read_text (stream);
  std::vector<std::pair<size_t, size_t>> chunks;
  for (size_t off = 0; off + 44 <= data.size ();) {
    const uint8_t *h = reinterpret_cast<const uint8_t *> (data.data () + off);
    uint32_t size = (uint32_t (h[40]) << 24) | (uint32_t (h[41]) << 16) |
        (uint32_t (h[42]) << 8) | h[43];
    if (off + 44 + size > data.size ())
      break;
    chunks.emplace_back (off, 44 + size);
    off += 44 + size;
  }
  check (chunks.size () == n_encoded,
      fmt ("the stream holds %zu FWHT frames of %zu encoded", chunks.size (),
          n_encoded));
  std::string ddesc =
      fmt ("appsrc name=in format=time caps=video/x-fwht,width=%u,height=%u,"
           "framerate=15/1 ! v4l2fwhtdec ! video/x-raw,format=%s ! "
           "appsink name=sink sync=false",
          pat.width, pat.height, format.c_str ());
  GError *error = NULL;
  GstElement *dec = gst_parse_launch (ddesc.c_str (), &error);
  if (!dec) {
    printf ("Bail out! %s\n", error->message);
    exit (1);
  }
  GstElement *sink = gst_bin_get_by_name (GST_BIN (dec), "sink");
  GstElement *in = gst_bin_get_by_name (GST_BIN (dec), "in");
  std::vector<uint64_t> codes;
  double psnr_min = 1e9, psnr_sum = 0;
  uint64_t mask = pat.cells () >= 64 ? ~uint64_t (0) :
                                       (uint64_t (1) << pat.cells ()) - 1;
  bool codes_match = true;
  size_t skipped = 0;
  auto handle = [&] (GstSample *sample) {
    GstVideoInfo info;
    gst_video_info_from_caps (&info, gst_sample_get_caps (sample));
    GstVideoFrame frame;
    if (gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample),
            GST_MAP_READ)) {
      size_t i = codes.size ();
      uint64_t code = read_code (pat, &frame);
      codes.push_back (code);
      // The pattern of the period the device captured the frame in.
      double p = psnr (pat, &frame, code);
      printf ("# decoded frame %zu: code %" G_GUINT64_FORMAT ", PSNR %.2f dB\n",
          i, code, p);
      psnr_min = std::min (psnr_min, p);
      psnr_sum += p;
      gst_video_frame_unmap (&frame);
    }
    gst_sample_unref (sample);
  };
  // One frame at a time, each given the time to come out: what the
  // decoder loses at start-up should not depend on how fast frames came.
  gst_element_set_state (dec, GST_STATE_PLAYING);
  const GstClockTime step = (pat.width > 1920 ? 10 : 3) * GST_SECOND;
  for (size_t i = 0; i < chunks.size (); i++) {
    GstBuffer *b = gst_buffer_new_memdup (data.data () + chunks[i].first,
        chunks[i].second);
    GST_BUFFER_PTS (b) = gst_util_uint64_scale (i, GST_SECOND, 15);
    gst_app_src_push_buffer (GST_APP_SRC (in), b);
    if (GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
            step))
      handle (sample);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (in));
  gst_object_unref (in);
  while (GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
             300 * GST_SECOND))
    handle (sample);
  gst_element_set_state (dec, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (dec);
  // v4l2fwhtdec (1.22) on vicodec does not output the first frame of a
  // stream (it goes into the decoder's resolution-change sequence); the
  // delta frames up to the next key frame then decode against a missing
  // reference (a lower PSNR for XRGB8888). Every frame after it is there.
  // Decoded frame i is encoded frame i + skipped. Its offset is QBUF's
  // sequence, a lower bound of the period the device captured the frame in
  // (docs/zcam-uapi.md): equal in late mode, later in early mode when the
  // device ran late. Codes strictly increase.
  skipped = n_encoded > codes.size () ? n_encoded - codes.size () : 0;
  for (size_t i = 0; i < codes.size () && i + skipped < n_encoded; i++) {
    uint64_t offset = offsets ? (*offsets)[i + skipped] & mask : 0;
    if (codes[i] < offset || (i > 0 && codes[i] <= codes[i - 1])) {
      printf ("# decoded frame %zu: code %" G_GUINT64_FORMAT " for encoded "
              "offset %" G_GUINT64_FORMAT ": out of order\n",
          i, codes[i], offset);
      codes_match = false;
    }
  }
  check (skipped <= 1 && codes.size () + skipped == n_encoded,
      fmt ("decoded %zu frames of %zu encoded, %zu lost in the decoder's "
           "start-up",
          codes.size (), n_encoded, skipped));
  check (codes_match && !codes.empty (),
      "decoded frames carry the sequence codes of the frames encoded, in "
      "order (each at or after its buffer's offset), none missing after the "
      "first");
  double mean = codes.empty () ? 0 : psnr_sum / double (codes.size ());
  printf ("# PSNR against the zcam pattern: min %.2f dB, mean %.2f dB over %zu "
          "frames\n",
      psnr_min, mean, codes.size ());
  // FWHT is lossy; a frame that is not the pattern at all scores < 12 dB.
  check (!codes.empty () && psnr_min >= 20.0,
      fmt ("decoded frames match the pattern (PSNR min %.2f dB >= 20)",
          psnr_min));
}

int
main (int argc, char **argv)
{
  // --decode: only check a stream recorded elsewhere (the IPC test's
  // encoder client), whose buffer offsets are not known here.
  if (argc == 7 && std::string (argv[1]) == "--decode") {
    gst_init (&argc, &argv);
    const std::string format = argv[3];
    Pattern pat { format == "NV12", uint32_t (atoi (argv[4])),
      uint32_t (atoi (argv[5])) };
    check_decoded (argv[2], pat, format, size_t (atoll (argv[6])), nullptr);
    printf ("1..%d\n", n_test);
    return n_failed ? 1 : 0;
  }
  if (argc != 6) {
    fprintf (stderr,
        "usage: %s BGRx|NV12 WIDTH HEIGHT FRAMES OUTDIR\n"
        "       %s --decode FILE.fwht BGRx|NV12 WIDTH HEIGHT FRAMES\n",
        argv[0], argv[0]);
    return 2;
  }
  gst_init (&argc, &argv);
  const std::string format = argv[1];
  Pattern pat { format == "NV12", uint32_t (atoi (argv[2])),
    uint32_t (atoi (argv[3])) };
  const int frames = atoi (argv[4]);
  const std::string outdir = argv[5];
  g_mkdir_with_parents (outdir.c_str (), 0755);
  const std::string stream = fmt ("%s/e2e-%s-%ux%u.fwht", outdir.c_str (),
      format.c_str (), pat.width, pat.height);
  obs = new Observed ();

  gst_debug_set_threshold_for_name ("GST_PERFORMANCE", GST_LEVEL_LOG);
  gst_debug_add_log_function (log_perf, nullptr, nullptr);
  gst_debug_set_active (TRUE);

  DrmDevice drm = DrmDevice::open_driver ("vkms");
  Output out;
  if (!pat.nv12 &&
      (!drm.valid () || find_output (drm.fd (), out) != 0 ||
          !out.writeback_id)) {
    printf ("1..0 # SKIP no vkms with writeback\n");
    return 77;
  }
  bool fits = pat.width <= out.mode.hdisplay && pat.height <= out.mode.vdisplay;

  // The pipeline as a user writes it; the display branch depends on what
  // vkms 6.1 can scan out (XRGB8888 only).
  std::string display = pat.nv12 ?
      "t. ! queue ! zcfence name=fence2 ! fakesink name=display sync=false" :
      fmt ("t. ! queue ! zckmssink name=display sync=false%s",
          fits ? "" : " force-modeset=true");
  std::string desc = fmt (
      "zcamsrc name=src num-buffers=%d ! "
      "video/x-raw,format=%s,width=%u,height=%u,"
      "framerate=15/1 ! tee name=t "
      "t. ! queue ! zcfence name=fence ! video/x-raw ! v4l2fwhtenc name=enc "
      "output-io-mode=dmabuf-import ! filesink location=%s %s",
      frames, format.c_str (), pat.width, pat.height, stream.c_str (),
      display.c_str ());
  printf ("# %s\n", desc.c_str ());
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch (desc.c_str (), &error);
  if (!pipeline) {
    printf ("Bail out! %s\n", error->message);
    return 1;
  }
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  GstElement *fence = gst_bin_get_by_name (GST_BIN (pipeline), "fence");
  GstElement *enc = gst_bin_get_by_name (GST_BIN (pipeline), "enc");
  GstElement *disp = gst_bin_get_by_name (GST_BIN (pipeline), "display");
  if (!pat.nv12)
    g_object_set (disp, "fd", drm.fd (), nullptr);
  GstPad *pad = gst_element_get_static_pad (enc, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_encoder_buffer, nullptr,
      nullptr);
  gst_object_unref (pad);
  pad = gst_element_get_static_pad (disp, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_display_buffer, nullptr,
      nullptr);
  gst_object_unref (pad);

  uint64_t vmaps0 = zcam_stat ("vmaps");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  std::string err = run_to_eos (pipeline, 600);
  check (err.empty (),
      "pipeline ran to EOS" + (err.empty () ? "" : ": " + err));

  // While the pipeline still holds the buffers: who imported them.
  unsigned attached = zcam_buffers_attached ();
  uint64_t vmaps = zcam_stat ("vmaps") - vmaps0;
  printf ("# zcamsrc %s\n# zcfence %s\n", stats_text (src).c_str (),
      stats_text (fence).c_str ());
  if (!pat.nv12)
    printf ("# zckmssink %s\n", stats_text (disp).c_str ());
  size_t n_encoded;
  {
    std::lock_guard<std::mutex> l (obs->lock);
    n_encoded = obs->encoded.size ();
    check (obs->all_dmabuf,
        "every buffer either branch got is a zcam dma-buf with a fence meta");
    for (const auto &line : obs->perf_lines)
      printf ("# GST_PERFORMANCE %s\n", line.c_str ());
    check (obs->copy_lines.empty (),
        fmt ("no GST_PERFORMANCE copy lines (%zu)", obs->copy_lines.size ()));
  }
  check (n_encoded > 0 && stat_u64 (fence, "fence-errors") == 0 &&
          stat_u64 (fence, "fence-timeouts") == 0 &&
          stat_u64 (fence, "pushed") == n_encoded,
      fmt ("zcfence pushed every frame to the encoder (%zu)", n_encoded));
  check (vmaps >= n_encoded,
      fmt ("the encoder mapped zcam's buffers: %" G_GUINT64_FORMAT
           " vmaps for %zu frames",
          vmaps, n_encoded));
  if (!pat.nv12) {
    check (stat_u64 (disp, "copies") == 0 && stat_u64 (disp, "shown") > 0,
        fmt ("zckmssink showed %" G_GUINT64_FORMAT
             " frames, copied %" G_GUINT64_FORMAT,
            stat_u64 (disp, "shown"), stat_u64 (disp, "copies")));
    check (attached > 0,
        fmt ("the display attached zcam's dma-bufs (%u buffers)", attached));
    check_display (drm.fd (), out, pat, obs->last_displayed);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  for (GstElement *e : { src, fence, enc, disp })
    gst_object_unref (e);
  gst_object_unref (pipeline);

  check_decoded (stream, pat, format, n_encoded, &obs->encoded);
  printf ("1..%d\n", n_test);
  return n_failed ? 1 : 0;
}
