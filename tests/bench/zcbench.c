/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcbench: runs one GStreamer pipeline and measures it in steady state.
 *
 *   zcbench [options] 'LAUNCH LINE'
 *
 * Frames are counted on the sink pad of the element named by --count
 * (default "out"). The window starts when --warm frames have passed there and
 * ends --frames frames later, and the pipeline is stopped then (the source
 * should be able to produce more than warm + frames). At both ends the
 * process's getrusage(RUSAGE_SELF), the monotonic clock, the ioctl counters
 * and the kernel's debugfs counters are sampled; the JSON printed on stdout
 * holds the differences.
 *
 * This program defines ioctl() and close() itself (linked with
 * --export-dynamic, so they interpose libc's for the plugins loaded later):
 *  - ioctls are counted by request inside the window;
 *  - with --encoder-dev, the thread CPU time spent inside V4L2 ioctls on that
 *    device is summed: vicodec encodes in software inside VIDIOC_QBUF, so
 *    this is the encoder's own cost, charged to whichever thread queued;
 *  - with --latency, every DRM atomic commit that carries an IN_FENCE_FD is
 *    timed against that fence's signal timestamp (the capture completion
 *    time zcam stamps on it): capture-to-commit latency.
 * With --copy-after NAME every buffer leaving NAME is replaced by a copy in
 * plain system memory (default layout, no metas), the way a source without
 * dma-buf support hands frames over; the bytes copied are counted.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <drm.h>
#include <drm_mode.h>
#include <linux/dma-buf.h>
#include <linux/sync_file.h>
#include <linux/videodev2.h>

#include <gst/gst.h>
#include <gst/allocators/allocators.h>
#include <gst/video/video.h>
#include <gst/zerocopy/zerocopy.h>

#include "zcam.h"

/* ---------------------------------------------------------------------- */
/* ioctl interposition */

static int (*real_ioctl) (int, unsigned long, ...);
static int (*real_close) (int);

static int counting;            /* inside the window */
static int enc_attr;            /* --encoder-dev given */
static int latency_on;          /* --latency */
static char enc_dev[256];

#define NREQ 512
static struct {
  unsigned long req;
  guint64 n;
} req_table[NREQ];

#define NFD 4096
static unsigned char fd_kind[NFD];      /* 0 unknown, 1 encoder, 2 other */
static guint64 enc_ns;          /* thread CPU ns inside finished encoder ioctls */
/* Encoder ioctls in progress, so that a sample counts the part of a long
 * ioctl (a 4K frame encodes for seconds under TCG) on its side of the
 * window's edge. */
#define NSLOT 32
static struct {
  gboolean busy;
  clockid_t clock;
  guint64 start;
} enc_slots[NSLOT];
static GMutex enc_lock;
static guint64 enc_out_mmap_q;  /* encoder OUTPUT QBUFs with MMAP memory */
static guint64 enc_out_dmabuf_q;        /* ... with DMABUF memory */

static void
count_req (unsigned long req)
{
  guint h = (guint) ((req * 2654435761u) % NREQ);
  for (guint i = 0; i < NREQ; i++) {
    guint j = (h + i) % NREQ;
    unsigned long cur = __atomic_load_n (&req_table[j].req, __ATOMIC_ACQUIRE);
    if (cur == 0) {
      unsigned long zero = 0;
      if (!__atomic_compare_exchange_n (&req_table[j].req, &zero, req, FALSE,
              __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        cur = zero;
      else
        cur = req;
    }
    if (cur == req) {
      __atomic_add_fetch (&req_table[j].n, 1, __ATOMIC_RELAXED);
      return;
    }
  }
}

static gboolean
is_encoder_fd (int fd)
{
  if (fd < 0 || fd >= NFD)
    return FALSE;
  if (fd_kind[fd] == 0) {
    char path[64], target[256];
    snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink (path, target, sizeof target - 1);
    if (n < 0)
      return FALSE;
    target[n] = 0;
    fd_kind[fd] = strcmp (target, enc_dev) == 0 ? 1 : 2;
  }
  return fd_kind[fd] == 1;
}

static guint64
thread_cpu_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (guint64) ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static guint64
clock_ns (clockid_t c)
{
  struct timespec ts;
  if (clock_gettime (c, &ts) < 0)
    return 0;
  return (guint64) ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Encoder CPU so far: finished ioctls plus the running part of open ones. */
static guint64
enc_ns_now (void)
{
  g_mutex_lock (&enc_lock);
  guint64 t = enc_ns;
  for (guint i = 0; i < NSLOT; i++)
    if (enc_slots[i].busy) {
      guint64 now = clock_ns (enc_slots[i].clock);
      if (now > enc_slots[i].start)
        t += now - enc_slots[i].start;
    }
  g_mutex_unlock (&enc_lock);
  return t;
}

static guint64
mono_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void note_commit (int fd, struct drm_mode_atomic *a);
static unsigned long trace_req;
static int trace_left = 3;

int
ioctl (int fd, unsigned long req, ...)
{
  va_list ap;
  va_start (ap, req);
  void *arg = va_arg (ap, void *);
  va_end (ap);
  if (!real_ioctl)
    real_ioctl = dlsym (RTLD_NEXT, "ioctl");

  if (__atomic_load_n (&counting, __ATOMIC_RELAXED)) {
    count_req (req);
    if (trace_req && req == trace_req && trace_left > 0) {
      /* ZCBENCH_BACKTRACE=0xREQ: who issues this ioctl in steady state */
      void *frames[32];
      int n = backtrace (frames, 32);
      trace_left--;
      fprintf (stderr, "zcbench: ioctl 0x%lx from:\n", req);
      backtrace_symbols_fd (frames, n, 2);
    }
  }
  if (latency_on && req == DRM_IOCTL_MODE_ATOMIC && arg)
    note_commit (fd, arg);

  gboolean enc = enc_attr && _IOC_TYPE (req) == 'V' && is_encoder_fd (fd);
  if (!enc)
    return real_ioctl (fd, req, arg);

  if (req == VIDIOC_QBUF && arg && __atomic_load_n (&counting,
          __ATOMIC_RELAXED)) {
    const struct v4l2_buffer *b = arg;
    if (b->type == V4L2_BUF_TYPE_VIDEO_OUTPUT ||
        b->type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE) {
      if (b->memory == V4L2_MEMORY_MMAP)
        __atomic_add_fetch (&enc_out_mmap_q, 1, __ATOMIC_RELAXED);
      else if (b->memory == V4L2_MEMORY_DMABUF)
        __atomic_add_fetch (&enc_out_dmabuf_q, 1, __ATOMIC_RELAXED);
    }
  }
  clockid_t clock;
  if (pthread_getcpuclockid (pthread_self (), &clock) != 0)
    clock = CLOCK_THREAD_CPUTIME_ID;
  guint slot = NSLOT;
  g_mutex_lock (&enc_lock);
  for (guint i = 0; i < NSLOT && slot == NSLOT; i++)
    if (!enc_slots[i].busy) {
      slot = i;
      enc_slots[i].busy = TRUE;
      enc_slots[i].clock = clock;
      enc_slots[i].start = thread_cpu_ns ();
    }
  g_mutex_unlock (&enc_lock);
  guint64 t0 = slot == NSLOT ? thread_cpu_ns () : 0;
  int ret = real_ioctl (fd, req, arg);
  int saved = errno;
  g_mutex_lock (&enc_lock);
  guint64 t1 = thread_cpu_ns ();
  if (slot != NSLOT) {
    t0 = enc_slots[slot].start;
    enc_slots[slot].busy = FALSE;
  }
  enc_ns += t1 - t0;
  g_mutex_unlock (&enc_lock);
  errno = saved;
  return ret;
}

int
close (int fd)
{
  if (!real_close)
    real_close = dlsym (RTLD_NEXT, "close");
  if (fd >= 0 && fd < NFD)
    fd_kind[fd] = 0;
  return real_close (fd);
}

/* ---------------------------------------------------------------------- */
/* capture-to-commit latency */

#define NPROP 256
static guint32 in_fence_prop[NPROP];    /* property ids known to be IN_FENCE_FD */
static guint32 other_prop[NPROP];
static GMutex lat_lock;
static GArray *lat_ns;          /* guint64, inside the window */
static guint64 commits_no_fence, commits_fence_pending;

static gboolean
prop_is_in_fence (int fd, guint32 id)
{
  guint slot = id % NPROP;
  if (in_fence_prop[slot] == id)
    return TRUE;
  if (other_prop[slot] == id)
    return FALSE;
  struct drm_mode_get_property gp = {.prop_id = id };
  if (real_ioctl (fd, DRM_IOCTL_MODE_GETPROPERTY, &gp) < 0)
    return FALSE;
  gboolean yes = strcmp (gp.name, "IN_FENCE_FD") == 0;
  if (yes)
    in_fence_prop[slot] = id;
  else
    other_prop[slot] = id;
  return yes;
}

/* Signal timestamp of a sync_file (latest of its fences), 0 if pending. */
static guint64
fence_signal_ns (int fence)
{
  struct sync_file_info info = { 0 };
  if (real_ioctl (fence, SYNC_IOC_FILE_INFO, &info) < 0 || info.status != 1 ||
      info.num_fences == 0 || info.num_fences > 16)
    return 0;
  struct sync_fence_info fi[16];
  memset (fi, 0, sizeof fi);
  guint n = info.num_fences;
  memset (&info, 0, sizeof info);
  info.num_fences = n;
  info.sync_fence_info = (guint64) (uintptr_t) fi;
  if (real_ioctl (fence, SYNC_IOC_FILE_INFO, &info) < 0)
    return 0;
  guint64 ts = 0;
  for (guint i = 0; i < n; i++)
    ts = MAX (ts, fi[i].timestamp_ns);
  return ts;
}

static void
note_commit (int fd, struct drm_mode_atomic *a)
{
  if (!__atomic_load_n (&counting, __ATOMIC_RELAXED) ||
      (a->flags & DRM_MODE_ATOMIC_TEST_ONLY))
    return;
  const guint32 *nprops = (const guint32 *) (uintptr_t) a->count_props_ptr;
  const guint32 *props = (const guint32 *) (uintptr_t) a->props_ptr;
  const guint64 *vals = (const guint64 *) (uintptr_t) a->prop_values_ptr;
  guint k = 0;
  gboolean found = FALSE;
  guint64 now = mono_ns ();
  for (guint o = 0; o < a->count_objs; o++) {
    for (guint p = 0; p < nprops[o]; p++, k++) {
      if ((gint64) vals[k] < 0 || !prop_is_in_fence (fd, props[k]))
        continue;
      found = TRUE;
      guint64 ts = fence_signal_ns ((int) vals[k]);
      g_mutex_lock (&lat_lock);
      if (ts == 0 || ts > now)
        commits_fence_pending++;
      else {
        guint64 d = now - ts;
        g_array_append_val (lat_ns, d);
      }
      g_mutex_unlock (&lat_lock);
    }
  }
  if (!found) {
    g_mutex_lock (&lat_lock);
    commits_no_fence++;
    g_mutex_unlock (&lat_lock);
  }
}

/* ---------------------------------------------------------------------- */
/* samples */

typedef struct {
  struct rusage ru;
  guint64 mono;
  guint64 enc_ns;
  gchar *zcam_stats;
  gint fbs;
  gint dmabufs;
  guint64 copied_bytes;
} Sample;

static gchar *
read_file (const gchar *path)
{
  gchar *s = NULL;
  if (!g_file_get_contents (path, &s, NULL, NULL))
    return g_strdup ("");
  return s;
}

static gint
count_lines_with (const gchar *text, const gchar *what)
{
  gint n = 0;
  for (const gchar *p = text; (p = strstr (p, what)); p += strlen (what))
    n++;
  return n;
}

/* Framebuffers of every DRM device and dma-bufs alive, from debugfs. */
static void
kernel_counts (Sample *s)
{
  s->fbs = 0;
  GDir *d = g_dir_open ("/sys/kernel/debug/dri", 0, NULL);
  if (d) {
    const gchar *e;
    while ((e = g_dir_read_name (d))) {
      if (!g_ascii_isdigit (e[0]) || atoi (e) >= 64)  /* skip render nodes */
        continue;
      gchar *p = g_strdup_printf ("/sys/kernel/debug/dri/%s/framebuffer", e);
      gchar *t = read_file (p);
      s->fbs += count_lines_with (t, "framebuffer[");
      g_free (t);
      g_free (p);
    }
    g_dir_close (d);
  }
  gchar *t = read_file ("/sys/kernel/debug/dma_buf/bufinfo");
  /* One line per buffer: "size flags mode count exp_name ino name". */
  s->dmabufs = 0;
  gchar **lines = g_strsplit (t, "\n", -1);
  for (gchar **l = lines; *l; l++) {
    guint64 size;
    gchar flags[32];
    if (sscanf (*l, "%" G_GUINT64_FORMAT " %31s", &size, flags) == 2 &&
        g_str_has_prefix (flags, "0"))
      s->dmabufs++;
  }
  g_strfreev (lines);
  g_free (t);
}

static guint64 copied_bytes;    /* by the --copy-after stage */

static void
take_sample (Sample *s)
{
  getrusage (RUSAGE_SELF, &s->ru);
  s->mono = mono_ns ();
  s->enc_ns = enc_ns_now ();
  s->copied_bytes = __atomic_load_n (&copied_bytes, __ATOMIC_RELAXED);
  s->zcam_stats = read_file ("/sys/kernel/debug/zcam/zcam0/stats");
  kernel_counts (s);
}

static double
tv_s (struct timeval a, struct timeval b)
{
  return (b.tv_sec - a.tv_sec) + (b.tv_usec - a.tv_usec) / 1e6;
}

/* ---------------------------------------------------------------------- */
/* options and state */

static gint opt_warm = 5, opt_frames = 20, opt_timeout = 600;
static gchar *opt_count = NULL, *opt_copy_after = NULL, *opt_src = NULL,
    *opt_kms = NULL, *opt_encoder_dev = NULL, *opt_inspect = NULL;
static gboolean opt_latency = FALSE;

static GMainLoop *loop;
static GstElement *pipeline;
static guint frames_seen;
static Sample s0, s1;
static gboolean have_s0, have_s1;
static GString *errors;

/* first buffer seen by --inspect pads: memory type, video meta */
static GString *inspect_json;
static GMutex inspect_lock;

static guint64 pushed_total, pushed_pending, pushed_no_fence;
static guint64 src_frames;      /* buffers leaving --src inside the window */

static GstPadProbeReturn
src_count_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  (void) pad;
  (void) info;
  (void) user;
  if (__atomic_load_n (&counting, __ATOMIC_RELAXED))
    __atomic_add_fetch (&src_frames, 1, __ATOMIC_RELAXED);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
count_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  (void) info;
  (void) user;
  guint n = __atomic_add_fetch (&frames_seen, 1, __ATOMIC_RELAXED);
  if (n == (guint) opt_warm) {
    take_sample (&s0);
    have_s0 = TRUE;
    __atomic_store_n (&counting, 1, __ATOMIC_RELEASE);
  } else if (n == (guint) (opt_warm + opt_frames)) {
    __atomic_store_n (&counting, 0, __ATOMIC_RELEASE);
    take_sample (&s1);
    have_s1 = TRUE;
    /* Stop right after the window: no drain, so the tail of the stream
     * (source finished, encoder emptying its queues) never counts. */
    GstElement *el = gst_pad_get_parent_element (pad);
    if (el) {
      gst_element_post_message (el, gst_message_new_application (GST_OBJECT
              (el), gst_structure_new_empty ("zcbench-window-done")));
      gst_object_unref (el);
    }
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
inspect_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  (void) user;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMemory *mem = gst_buffer_peek_memory (buf, 0);
  GstElement *el = gst_pad_get_parent_element (pad);
  g_mutex_lock (&inspect_lock);
  g_string_append_printf (inspect_json,
      "%s\"%s\": {\"dmabuf\": %s, \"allocator\": \"%s\", \"video_meta\": %s, "
      "\"fence_meta\": %s}", inspect_json->len > 1 ? ", " : "",
      el ? GST_ELEMENT_NAME (el) : "?",
      gst_is_dmabuf_memory (mem) ? "true" : "false",
      mem->allocator ? mem->allocator->mem_type : "?",
      gst_buffer_get_video_meta (buf) ? "true" : "false",
      gst_zc_buffer_get_fence_meta (buf) ? "true" : "false");
  g_mutex_unlock (&inspect_lock);
  if (el)
    gst_object_unref (el);
  return GST_PAD_PROBE_REMOVE;
}

/* Counts buffers pushed by the source while their acquire fence is pending. */
static GstPadProbeReturn
fence_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  (void) pad;
  (void) user;
  if (!__atomic_load_n (&counting, __ATOMIC_RELAXED))
    return GST_PAD_PROBE_OK;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstZcFenceMeta *m = gst_zc_buffer_get_fence_meta (buf);
  gint fd = m ? gst_zc_fence_meta_get_acquire_fence (m) : -1;
  pushed_total++;
  if (fd < 0) {
    pushed_no_fence++;
    return GST_PAD_PROBE_OK;
  }
  struct pollfd p = {.fd = fd,.events = POLLIN };
  if (poll (&p, 1, 0) == 0)
    pushed_pending++;
  return GST_PAD_PROBE_OK;
}

/* --copy-after: system-memory copy with the default layout, no metas */
static GstBufferPool *copy_pool;
static GstVideoInfo copy_info;

static GstPadProbeReturn
copy_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  (void) user;
  GstBuffer *in = GST_PAD_PROBE_INFO_BUFFER (info);
  if (!copy_pool) {
    GstCaps *caps = gst_pad_get_current_caps (pad);
    if (!caps || !gst_video_info_from_caps (&copy_info, caps)) {
      if (caps)
        gst_caps_unref (caps);
      return GST_PAD_PROBE_OK;
    }
    copy_pool = gst_video_buffer_pool_new ();
    GstStructure *cfg = gst_buffer_pool_get_config (copy_pool);
    gst_buffer_pool_config_set_params (cfg, caps, copy_info.size, 4, 0);
    gst_buffer_pool_set_config (copy_pool, cfg);
    gst_buffer_pool_set_active (copy_pool, TRUE);
    gst_caps_unref (caps);
  }
  GstBuffer *out = NULL;
  if (gst_buffer_pool_acquire_buffer (copy_pool, &out, NULL) != GST_FLOW_OK)
    return GST_PAD_PROBE_OK;
  GstVideoFrame sf, df;
  gboolean ok = FALSE;
  if (gst_video_frame_map (&sf, &copy_info, in, GST_MAP_READ)) {
    if (gst_video_frame_map (&df, &copy_info, out, GST_MAP_WRITE)) {
      ok = gst_video_frame_copy (&df, &sf);
      gst_video_frame_unmap (&df);
    }
    gst_video_frame_unmap (&sf);
  }
  if (!ok) {
    gst_buffer_unref (out);
    return GST_PAD_PROBE_OK;
  }
  gst_buffer_copy_into (out, in, GST_BUFFER_COPY_FLAGS |
      GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  __atomic_add_fetch (&copied_bytes, copy_info.size, __ATOMIC_RELAXED);
  gst_buffer_unref (in);
  GST_PAD_PROBE_INFO_DATA (info) = out;
  return GST_PAD_PROBE_OK;
}

static gboolean
on_bus (GstBus *bus, GstMessage *msg, gpointer user)
{
  (void) bus;
  (void) user;
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_EOS:
    case GST_MESSAGE_APPLICATION:
      g_main_loop_quit (loop);
      break;
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;
      gchar *dbg = NULL;
      gst_message_parse_error (msg, &err, &dbg);
      g_string_append_printf (errors, "%s%s: %s (%s)", errors->len ? "; " : "",
          GST_OBJECT_NAME (msg->src), err->message, dbg ? dbg : "");
      g_error_free (err);
      g_free (dbg);
      g_main_loop_quit (loop);
      break;
    }
    default:
      break;
  }
  return TRUE;
}

static gboolean
on_timeout (gpointer user)
{
  (void) user;
  g_string_append_printf (errors, "%stimeout after %d s",
      errors->len ? "; " : "", opt_timeout);
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static GstPad *
element_pad (const gchar *name, const gchar *padname)
{
  GstElement *el = gst_bin_get_by_name (GST_BIN (pipeline), name);
  if (!el)
    return NULL;
  GstPad *pad = gst_element_get_static_pad (el, padname);
  gst_object_unref (el);
  return pad;
}

static void
json_str (GString *out, const gchar *s)
{
  g_string_append_c (out, '"');
  for (const gchar *p = s; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf (out, "\\%c", *p);
    else if ((guchar) * p < 0x20)
      g_string_append_printf (out, "\\u%04x", *p);
    else
      g_string_append_c (out, *p);
  }
  g_string_append_c (out, '"');
}

/* GstStructure fields of numeric types as a JSON object. */
static void
json_structure (GString *out, const GstStructure *s)
{
  g_string_append_c (out, '{');
  gint n = s ? gst_structure_n_fields (s) : 0;
  for (gint i = 0; i < n; i++) {
    const gchar *f = gst_structure_nth_field_name (s, i);
    const GValue *v = gst_structure_get_value (s, f);
    GValue d = G_VALUE_INIT;
    g_value_init (&d, G_TYPE_DOUBLE);
    if (i)
      g_string_append (out, ", ");
    json_str (out, f);
    if (g_value_transform (v, &d))
      g_string_append_printf (out, ": %.17g", g_value_get_double (&d));
    else
      g_string_append (out, ": null");
    g_value_unset (&d);
  }
  g_string_append_c (out, '}');
}

static void
element_stats (GString *out, const gchar *key, const gchar *name)
{
  GstElement *el = name ? gst_bin_get_by_name (GST_BIN (pipeline), name) : NULL;
  if (!el)
    return;
  GstStructure *s = NULL;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (el), "stats"))
    g_object_get (el, "stats", &s, NULL);
  g_string_append_printf (out, ", \"%s\": ", key);
  json_structure (out, s);
  if (s)
    gst_structure_free (s);
  gst_object_unref (el);
}

/* zcam debugfs "name: value" lines, end minus start */
static void
json_zcam_delta (GString *out, const gchar *a, const gchar *b)
{
  g_string_append_c (out, '{');
  gchar **la = g_strsplit (a, "\n", -1), **lb = g_strsplit (b, "\n", -1);
  gboolean first = TRUE;
  for (gchar **l = lb; *l; l++) {
    gchar name[64];
    gint64 vb, va = 0;
    if (sscanf (*l, "%63[^:]: %" G_GINT64_FORMAT, name, &vb) != 2)
      continue;
    for (gchar **m = la; *m; m++) {
      gchar n2[64];
      gint64 v;
      if (sscanf (*m, "%63[^:]: %" G_GINT64_FORMAT, n2, &v) == 2 &&
          strcmp (n2, name) == 0)
        va = v;
    }
    g_string_append_printf (out, "%s\"%s\": %" G_GINT64_FORMAT,
        first ? "" : ", ", name, vb - va);
    first = FALSE;
  }
  g_strfreev (la);
  g_strfreev (lb);
  g_string_append_c (out, '}');
}

static const struct {
  unsigned long req;
  const char *name;
} known_reqs[] = {
#define R(x) { x, #x }
  R (VIDIOC_QBUF), R (VIDIOC_DQBUF), R (VIDIOC_QUERYBUF), R (VIDIOC_EXPBUF),
  R (VIDIOC_REQBUFS), R (VIDIOC_CREATE_BUFS), R (VIDIOC_PREPARE_BUF),
  R (VIDIOC_STREAMON), R (VIDIOC_STREAMOFF), R (VIDIOC_G_FMT),
  R (VIDIOC_S_FMT), R (VIDIOC_TRY_FMT), R (VIDIOC_G_CTRL), R (VIDIOC_S_CTRL),
  R (VIDIOC_DQEVENT), R (VIDIOC_G_SELECTION), R (VIDIOC_ENCODER_CMD),
  R (VIDIOC_QUERYCAP), R (VIDIOC_G_PARM), R (VIDIOC_S_PARM),
  R (DRM_IOCTL_MODE_ATOMIC), R (DRM_IOCTL_MODE_ADDFB2), R (DRM_IOCTL_MODE_RMFB),
  R (DRM_IOCTL_MODE_ADDFB), R (DRM_IOCTL_PRIME_FD_TO_HANDLE),
  R (DRM_IOCTL_PRIME_HANDLE_TO_FD), R (DRM_IOCTL_GEM_CLOSE),
  R (DRM_IOCTL_MODE_CREATE_DUMB), R (DRM_IOCTL_MODE_MAP_DUMB),
  R (DRM_IOCTL_MODE_DESTROY_DUMB), R (DRM_IOCTL_MODE_SETPLANE),
  R (DRM_IOCTL_MODE_PAGE_FLIP), R (DRM_IOCTL_WAIT_VBLANK),
  R (DRM_IOCTL_MODE_GETPROPERTY), R (DRM_IOCTL_MODE_OBJ_GETPROPERTIES),
  R (DRM_IOCTL_MODE_GETPLANE), R (DRM_IOCTL_MODE_GETCRTC),
  R (DRM_IOCTL_MODE_SETCRTC), R (DRM_IOCTL_MODE_CREATEPROPBLOB),
  R (DRM_IOCTL_MODE_DESTROYPROPBLOB), R (DRM_IOCTL_SYNCOBJ_CREATE),
  R (SYNC_IOC_MERGE), R (SYNC_IOC_FILE_INFO),
  R (DMA_BUF_IOCTL_SYNC), R (DMA_BUF_IOCTL_EXPORT_SYNC_FILE),
  R (DMA_BUF_IOCTL_IMPORT_SYNC_FILE),
  R (ZCAM_IOC_QUERYCAP), R (ZCAM_IOC_G_FMT), R (ZCAM_IOC_S_FMT),
  R (ZCAM_IOC_CREATE_BUF), R (ZCAM_IOC_QBUF), R (ZCAM_IOC_STREAMON),
  R (ZCAM_IOC_STREAMOFF),
#undef R
};

static void
json_ioctls (GString *out)
{
  g_string_append_c (out, '{');
  gboolean first = TRUE;
  for (guint i = 0; i < NREQ; i++) {
    if (!req_table[i].req)
      continue;
    const char *name = NULL;
    for (guint k = 0; k < G_N_ELEMENTS (known_reqs); k++)
      if (known_reqs[k].req == req_table[i].req)
        name = known_reqs[k].name;
    if (name)
      g_string_append_printf (out, "%s\"%s\": %" G_GUINT64_FORMAT,
          first ? "" : ", ", name, req_table[i].n);
    else
      g_string_append_printf (out, "%s\"0x%lx\": %" G_GUINT64_FORMAT,
          first ? "" : ", ", req_table[i].req, req_table[i].n);
    first = FALSE;
  }
  g_string_append_c (out, '}');
}

static gint
cmp_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    {"warm", 0, 0, G_OPTION_ARG_INT, &opt_warm, "frames before the window", "N"},
    {"frames", 0, 0, G_OPTION_ARG_INT, &opt_frames, "frames in the window", "N"},
    {"count", 0, 0, G_OPTION_ARG_STRING, &opt_count,
        "element whose sink pad counts frames (default out)", "NAME"},
    {"copy-after", 0, 0, G_OPTION_ARG_STRING, &opt_copy_after,
        "copy every buffer leaving NAME into system memory", "NAME"},
    {"src", 0, 0, G_OPTION_ARG_STRING, &opt_src, "zcamsrc to read stats from",
        "NAME"},
    {"kms", 0, 0, G_OPTION_ARG_STRING, &opt_kms, "display sink to read stats from",
        "NAME"},
    {"encoder-dev", 0, 0, G_OPTION_ARG_STRING, &opt_encoder_dev,
        "encoder's /dev/videoN: time the ioctls on it", "PATH"},
    {"inspect", 0, 0, G_OPTION_ARG_STRING, &opt_inspect,
        "comma-separated elements whose first input buffer is described", "LIST"},
    {"latency", 0, 0, G_OPTION_ARG_NONE, &opt_latency,
        "capture-to-commit latency and pending-fence pushes", NULL},
    {"timeout", 0, 0, G_OPTION_ARG_INT, &opt_timeout, "give up after S seconds",
        "S"},
    {NULL, 0, 0, 0, NULL, NULL, NULL}
  };
  if (!real_ioctl)
    real_ioctl = dlsym (RTLD_NEXT, "ioctl");
  if (g_getenv ("ZCBENCH_BACKTRACE"))
    trace_req = strtoul (g_getenv ("ZCBENCH_BACKTRACE"), NULL, 0);
  GError *err = NULL;
  GOptionContext *ctx = g_option_context_new ("LAUNCH-LINE");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err) || argc != 2) {
    g_printerr ("zcbench: %s\n", err ? err->message : "one launch line needed");
    return 2;
  }
  g_option_context_free (ctx);
  if (opt_encoder_dev) {
    g_strlcpy (enc_dev, opt_encoder_dev, sizeof enc_dev);
    enc_attr = 1;
  }
  latency_on = opt_latency;
  lat_ns = g_array_new (FALSE, FALSE, sizeof (guint64));
  errors = g_string_new ("");
  inspect_json = g_string_new ("{");

  pipeline = gst_parse_launch (argv[1], &err);
  if (!pipeline) {
    g_print ("{\"ok\": false, \"error\": ");
    GString *e = g_string_new ("");
    json_str (e, err ? err->message : "parse error");
    g_print ("%s}\n", e->str);
    return 1;
  }
  GstPad *cp = element_pad (opt_count ? opt_count : "out", "sink");
  if (!cp) {
    g_printerr ("zcbench: no element '%s' with a sink pad\n",
        opt_count ? opt_count : "out");
    return 2;
  }
  gst_pad_add_probe (cp, GST_PAD_PROBE_TYPE_BUFFER, count_probe, NULL, NULL);
  gst_object_unref (cp);
  if (opt_copy_after) {
    GstPad *p = element_pad (opt_copy_after, "src");
    if (!p) {
      g_printerr ("zcbench: no element '%s'\n", opt_copy_after);
      return 2;
    }
    gst_pad_add_probe (p, GST_PAD_PROBE_TYPE_BUFFER, copy_probe, NULL, NULL);
    gst_object_unref (p);
  }
  if (opt_src) {
    GstPad *p = element_pad (opt_src, "src");
    if (p) {
      gst_pad_add_probe (p, GST_PAD_PROBE_TYPE_BUFFER, src_count_probe, NULL,
          NULL);
      gst_object_unref (p);
    }
  }
  if (opt_latency && opt_src) {
    GstPad *p = element_pad (opt_src, "src");
    if (p) {
      gst_pad_add_probe (p, GST_PAD_PROBE_TYPE_BUFFER, fence_probe, NULL, NULL);
      gst_object_unref (p);
    }
  }
  if (opt_inspect) {
    gchar **names = g_strsplit (opt_inspect, ",", -1);
    for (gchar **n = names; *n; n++) {
      GstPad *p = element_pad (*n, "sink");
      if (p) {
        gst_pad_add_probe (p, GST_PAD_PROBE_TYPE_BUFFER, inspect_probe, NULL,
            NULL);
        gst_object_unref (p);
      }
    }
    g_strfreev (names);
  }

  loop = g_main_loop_new (NULL, FALSE);
  GstBus *bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_bus, NULL);
  gst_object_unref (bus);
  g_timeout_add_seconds (opt_timeout, on_timeout, NULL);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    g_string_append (errors, "could not start the pipeline; ");
  g_main_loop_run (loop);

  /* Stats while the elements still hold them, before NULL resets them. */
  GString *out = g_string_new ("{");
  gboolean ok = have_s0 && have_s1 && errors->len == 0;
  g_string_append_printf (out, "\"ok\": %s, \"frames_seen\": %u",
      ok ? "true" : "false", frames_seen);
  if (errors->len) {
    g_string_append (out, ", \"error\": ");
    json_str (out, errors->str);
  }
  element_stats (out, "src_stats", opt_src);
  element_stats (out, "sink_stats", opt_kms);
  if (have_s0 && have_s1) {
    guint n = opt_frames;
    double user = tv_s (s0.ru.ru_utime, s1.ru.ru_utime);
    double sys = tv_s (s0.ru.ru_stime, s1.ru.ru_stime);
    double wall = (s1.mono - s0.mono) / 1e9;
    g_string_append_printf (out, ", \"window_frames\": %u, \"wall_s\": %.6f, "
        "\"user_s\": %.6f, \"sys_s\": %.6f, \"encoder_ioctl_s\": %.6f, "
        "\"fps\": %.3f, \"src_frames\": %" G_GUINT64_FORMAT
        ", \"copy_stage_bytes\": %" G_GUINT64_FORMAT
        ", \"encoder_output_qbuf\": {\"mmap\": %" G_GUINT64_FORMAT
        ", \"dmabuf\": %" G_GUINT64_FORMAT "}"
        ", \"voluntary_cs\": %ld, \"involuntary_cs\": %ld, \"minor_faults\": %ld"
        ", \"framebuffers\": [%d, %d], \"dmabufs\": [%d, %d]",
        n, wall, user, sys, (s1.enc_ns - s0.enc_ns) / 1e9, n / wall,
        src_frames, s1.copied_bytes - s0.copied_bytes, enc_out_mmap_q, enc_out_dmabuf_q,
        s1.ru.ru_nvcsw - s0.ru.ru_nvcsw, s1.ru.ru_nivcsw - s0.ru.ru_nivcsw,
        s1.ru.ru_minflt - s0.ru.ru_minflt, s0.fbs, s1.fbs, s0.dmabufs,
        s1.dmabufs);
    g_string_append (out, ", \"zcam_delta\": ");
    json_zcam_delta (out, s0.zcam_stats, s1.zcam_stats);
    g_string_append (out, ", \"ioctls\": ");
    json_ioctls (out);
  }
  g_string_append_printf (out, ", \"inspect\": %s}", inspect_json->str);
  if (opt_latency) {
    g_mutex_lock (&lat_lock);
    g_array_sort (lat_ns, cmp_u64);
    g_string_append_printf (out, ", \"latency\": {\"commits\": %u, "
        "\"commits_without_fence\": %" G_GUINT64_FORMAT
        ", \"commits_fence_pending\": %" G_GUINT64_FORMAT
        ", \"pushed\": %" G_GUINT64_FORMAT ", \"pushed_fence_pending\": %"
        G_GUINT64_FORMAT ", \"pushed_without_fence\": %" G_GUINT64_FORMAT
        ", \"ns\": [", lat_ns->len, commits_no_fence, commits_fence_pending,
        pushed_total, pushed_pending, pushed_no_fence);
    for (guint i = 0; i < lat_ns->len; i++)
      g_string_append_printf (out, "%s%" G_GUINT64_FORMAT, i ? ", " : "",
          g_array_index (lat_ns, guint64, i));
    g_string_append (out, "]}");
    g_mutex_unlock (&lat_lock);
  }
  g_string_append (out, "}");

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  if (copy_pool) {
    gst_buffer_pool_set_active (copy_pool, FALSE);
    gst_object_unref (copy_pool);
  }
  g_print ("%s\n", out->str);
  return ok ? 0 : 1;
}
