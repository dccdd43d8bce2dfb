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
 *
 * With --attribute every counted ioctl is also keyed by the element whose
 * code made it and by the kind of file it was made on (zcam device, DRM card,
 * sync_file, dma-buf, the encoder's or another V4L2 node). The element is
 *  - the innermost element whose pad function is running on the calling
 *    thread (GStreamer tracer hooks pad-push-pre/post, pad-push-event-pre/post,
 *    pad-query-pre/post, element-change-state-pre/post keep a per-thread
 *    stack), else
 *  - the element a streaming thread is named after ("src:src", "qk:src"), else
 *  - the element that was current on the thread that created this one
 *    (pthread_create is wrapped: an element's helper threads, such as a
 *    sink's display thread started in its state change, belong to it).
 * The copy made by --copy-after counts as element "copy". Tracer hooks make
 * GStreamer timestamp every hook point (a clock_gettime syscall each in the
 * TCG guest), so CPU is measured in runs without --attribute.
 * With --threads the per-thread CPU time (utime/stime from
 * /proc/self/task/TID/stat, and the thread's CPU clock) is sampled at both
 * edges, with each thread's element (from its name, or where it was created)
 * and the library that created it.
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
#include <sys/prctl.h>
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
#include <gst/base/gstbasesink.h>
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

/* Counters keyed by request, element id (bits 32-39) and fd kind (40-47). */
#define NREQ 4096
static struct {
  guint64 key;
  guint64 n;
} req_table[NREQ];

enum
{
  FK_UNKNOWN, FK_ENCODER, FK_OTHER, FK_ZCAM, FK_DRM, FK_SYNC_FILE, FK_DMABUF,
  FK_V4L2, FK_N
};
static const char *const fk_names[FK_N] = {
  "?", "encoder", "other", "zcam", "drm", "sync_file", "dma-buf", "v4l2"
};

#define NFD 4096
static unsigned char fd_kind[NFD];      /* FK_*, 0: not looked at yet */
static int attr_on;             /* --attribute */
static int threads_on;          /* --threads (or --attribute) */
static int current_element (void);
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
count_req (unsigned long req, guint elem, guint kind)
{
  guint64 key = (guint64) (guint32) req | (guint64) (elem & 0xff) << 32 |
      (guint64) (kind & 0xff) << 40;
  guint h = (guint) ((key * 2654435761u) % NREQ);
  for (guint i = 0; i < NREQ; i++) {
    guint j = (h + i) % NREQ;
    guint64 cur = __atomic_load_n (&req_table[j].key, __ATOMIC_ACQUIRE);
    if (cur == 0) {
      guint64 zero = 0;
      if (!__atomic_compare_exchange_n (&req_table[j].key, &zero, key, FALSE,
              __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        cur = zero;
      else
        cur = key;
    }
    if (cur == key) {
      __atomic_add_fetch (&req_table[j].n, 1, __ATOMIC_RELAXED);
      return;
    }
  }
}

/* What an fd is, from its /proc/self/fd link (cached until close()). */
static guint
fd_kind_of (int fd)
{
  if (fd < 0 || fd >= NFD)
    return FK_OTHER;
  if (fd_kind[fd] == FK_UNKNOWN) {
    char path[64], target[256];
    snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink (path, target, sizeof target - 1);
    if (n < 0)
      return FK_OTHER;
    target[n] = 0;
    guint k = FK_OTHER;
    if (enc_dev[0] && strcmp (target, enc_dev) == 0)
      k = FK_ENCODER;
    else if (g_str_has_prefix (target, "/dev/zcam"))
      k = FK_ZCAM;
    else if (g_str_has_prefix (target, "/dev/dri/"))
      k = FK_DRM;
    else if (g_str_has_prefix (target, "/dev/video"))
      k = FK_V4L2;
    else if (strstr (target, "sync_file"))
      k = FK_SYNC_FILE;
    else if (strstr (target, "dmabuf"))
      k = FK_DMABUF;
    fd_kind[fd] = k;
  }
  return fd_kind[fd];
}

static gboolean
is_encoder_fd (int fd)
{
  return fd_kind_of (fd) == FK_ENCODER;
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
    if (attr_on)
      count_req (req, current_element (), fd_kind_of (fd));
    else
      count_req (req, 0, 0);
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
/* attribution of ioctls and threads to elements */

#define NELEM 128
static struct {
  gpointer obj;
  char name[48];
} elems[NELEM] = { {NULL, ""}, {NULL, "copy"} };
#define ELEM_COPY 1
static int n_elems = 2;
static GMutex elem_lock;

/* Small id of an element (0: none), registered on first sight. */
static int
element_id (GstObject *o)
{
  if (!o)
    return 0;
  int n = __atomic_load_n (&n_elems, __ATOMIC_ACQUIRE);
  for (int i = 2; i < n; i++)
    if (elems[i].obj == o)
      return i;
  g_mutex_lock (&elem_lock);
  int id = 0;
  for (int i = 2; i < n_elems && !id; i++)
    if (elems[i].obj == o)
      id = i;
  if (!id && n_elems < NELEM) {
    id = n_elems;
    elems[id].obj = o;
    GST_OBJECT_LOCK (o);
    g_strlcpy (elems[id].name, GST_OBJECT_NAME (o) ? GST_OBJECT_NAME (o) : "?",
        sizeof elems[id].name);
    GST_OBJECT_UNLOCK (o);
    __atomic_store_n (&n_elems, id + 1, __ATOMIC_RELEASE);
  }
  g_mutex_unlock (&elem_lock);
  return id;
}

static int
element_by_name (const char *name, size_t len)
{
  int n = __atomic_load_n (&n_elems, __ATOMIC_ACQUIRE);
  for (int i = 2; i < n; i++)
    if (strlen (elems[i].name) == len && strncmp (elems[i].name, name, len) == 0)
      return i;
  return 0;
}

/* The element a thread name "ELEMENT:PAD" (GStreamer's streaming threads)
 * names, 0 if none. */
static int
element_of_thread_name (const char *comm)
{
  const char *colon = strchr (comm, ':');
  return colon ? element_by_name (comm, colon - comm) : 0;
}

#define DEPTH 64
static __thread int tl_stack[DEPTH];
static __thread int tl_depth;
static __thread int tl_base;    /* inherited from the creating thread */
static __thread int tl_named;   /* element from the thread's name */
static __thread int tl_named_gen = -1;
static int name_gen;            /* bumped at the window's start */

static int
current_element (void)
{
  if (tl_depth > 0)
    return tl_stack[MIN (tl_depth, DEPTH) - 1];
  int gen = __atomic_load_n (&name_gen, __ATOMIC_RELAXED);
  if (tl_named_gen != gen) {
    char comm[17] = "";
    prctl (PR_GET_NAME, comm, 0, 0, 0);
    tl_named = element_of_thread_name (comm);
    tl_named_gen = gen;
  }
  return tl_named ? tl_named : tl_base;
}

static void
push_element (int id)
{
  if (tl_depth < DEPTH)
    tl_stack[tl_depth] = id;
  tl_depth++;
}

static void
pop_element (void)
{
  if (tl_depth > 0)
    tl_depth--;
}

/* The element that receives what goes out of (or comes into) a pad. */
static int
peer_element (GstPad *pad)
{
  GstPad *peer = pad ? GST_PAD_PEER (pad) : NULL;
  return peer ? element_id (GST_OBJECT_PARENT (peer)) : current_element ();
}

static void
hook_push_pre (GObject *t, GstClockTime ts, GstPad *pad, gpointer data)
{
  (void) t;
  (void) ts;
  (void) data;
  push_element (peer_element (pad));
}

static void
hook_pop (GObject *t)
{
  (void) t;
  pop_element ();
}

static void
hook_query_pre (GObject *t, GstClockTime ts, GstPad *pad, GstQuery *q)
{
  (void) t;
  (void) ts;
  (void) q;
  push_element (element_id (GST_OBJECT_PARENT (pad)));
}

static void
hook_state_pre (GObject *t, GstClockTime ts, GstElement *e, int transition)
{
  (void) t;
  (void) ts;
  (void) transition;
  push_element (element_id (GST_OBJECT (e)));
}

typedef struct {
  GstTracer parent;
} ZcbTracer;
typedef struct {
  GstTracerClass parent_class;
} ZcbTracerClass;
static GType zcb_tracer_get_type (void);
G_DEFINE_TYPE (ZcbTracer, zcb_tracer, GST_TYPE_TRACER);

static void
zcb_tracer_class_init (ZcbTracerClass *klass)
{
  (void) klass;
}

static void
zcb_tracer_init (ZcbTracer *self)
{
  GstTracer *t = GST_TRACER (self);
  gst_tracing_register_hook (t, "pad-push-pre", G_CALLBACK (hook_push_pre));
  gst_tracing_register_hook (t, "pad-push-post", G_CALLBACK (hook_pop));
  gst_tracing_register_hook (t, "pad-push-list-pre",
      G_CALLBACK (hook_push_pre));
  gst_tracing_register_hook (t, "pad-push-list-post", G_CALLBACK (hook_pop));
  gst_tracing_register_hook (t, "pad-push-event-pre",
      G_CALLBACK (hook_push_pre));
  gst_tracing_register_hook (t, "pad-push-event-post", G_CALLBACK (hook_pop));
  gst_tracing_register_hook (t, "pad-query-pre", G_CALLBACK (hook_query_pre));
  gst_tracing_register_hook (t, "pad-query-post", G_CALLBACK (hook_pop));
  gst_tracing_register_hook (t, "element-change-state-pre",
      G_CALLBACK (hook_state_pre));
  gst_tracing_register_hook (t, "element-change-state-post",
      G_CALLBACK (hook_pop));
}

/* Threads, the element current where they were created, and the library
 * that created them (the first caller outside zcbench, the C/C++ runtime and
 * GLib): without the tracer, that tells a sink's display thread from the
 * main thread. */
#define NTHREAD 256
static struct {
  pid_t tid;
  int base;
  char creator[48];
} thread_base[NTHREAD];
static int n_thread_base;

typedef struct {
  void *(*fn) (void *);
  void *arg;
  int base;
  char creator[48];
} ThreadStart;

static void
creator_library (char *out, size_t len)
{
  void *frames[24];
  int n = backtrace (frames, 24);
  out[0] = 0;
  for (int i = 1; i < n; i++) {
    Dl_info info;
    if (!dladdr (frames[i], &info) || !info.dli_fname)
      continue;
    const char *base = strrchr (info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    if (g_str_has_prefix (base, "libc.") || g_str_has_prefix (base, "libstdc++") ||
        g_str_has_prefix (base, "libglib-") || g_str_has_prefix (base, "libgthread") ||
        g_str_has_prefix (base, "libpthread") || strstr (base, "zcbench"))
      continue;
    g_strlcpy (out, base, len);
    return;
  }
}

static void *
thread_start (void *p)
{
  ThreadStart st = *(ThreadStart *) p;
  free (p);
  tl_base = st.base;
  int i = __atomic_fetch_add (&n_thread_base, 1, __ATOMIC_RELAXED);
  if (i < NTHREAD) {
    thread_base[i].base = st.base;
    g_strlcpy (thread_base[i].creator, st.creator, sizeof st.creator);
    __atomic_store_n (&thread_base[i].tid, gettid (), __ATOMIC_RELEASE);
  }
  return st.fn (st.arg);
}

int
pthread_create (pthread_t *thr, const pthread_attr_t *attr,
    void *(*fn) (void *), void *arg)
{
  static int (*real_create) (pthread_t *, const pthread_attr_t *,
      void *(*)(void *), void *);
  if (!real_create)
    real_create = dlsym (RTLD_NEXT, "pthread_create");
  ThreadStart *st = threads_on ? malloc (sizeof *st) : NULL;
  if (!st)
    return real_create (thr, attr, fn, arg);
  st->fn = fn;
  st->arg = arg;
  st->base = current_element ();
  creator_library (st->creator, sizeof st->creator);
  int ret = real_create (thr, attr, thread_start, st);
  if (ret != 0)
    free (st);
  return ret;
}

static int
base_of_thread (pid_t tid, const char **creator)
{
  int n = MIN (__atomic_load_n (&n_thread_base, __ATOMIC_ACQUIRE), NTHREAD);
  *creator = "";
  for (int i = n - 1; i >= 0; i--)
    if (__atomic_load_n (&thread_base[i].tid, __ATOMIC_ACQUIRE) == tid) {
      *creator = thread_base[i].creator;
      return thread_base[i].base;
    }
  return 0;
}

/* Per-thread CPU at one edge of the window. */
#define NTASK 128
typedef struct {
  pid_t tid;
  char comm[17];
  guint64 utime, stime;         /* clock ticks */
  guint64 cpu_ns;               /* the thread's CPU clock */
} TaskSample;

static int
sample_tasks (TaskSample *out)
{
  int n = 0;
  GDir *d = g_dir_open ("/proc/self/task", 0, NULL);
  if (!d)
    return 0;
  const gchar *e;
  while ((e = g_dir_read_name (d)) && n < NTASK) {
    TaskSample *t = &out[n];
    t->tid = atoi (e);
    gchar *p = g_strdup_printf ("/proc/self/task/%s/stat", e);
    gchar *text = NULL;
    gboolean ok = g_file_get_contents (p, &text, NULL, NULL);
    g_free (p);
    if (!ok)
      continue;
    /* "tid (comm) state ..." : comm may hold spaces and parentheses */
    char *open = strchr (text, '('), *close_p = strrchr (text, ')');
    if (open && close_p && close_p > open) {
      size_t len = MIN ((size_t) (close_p - open - 1), sizeof t->comm - 1);
      memcpy (t->comm, open + 1, len);
      t->comm[len] = 0;
      /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt
       * cminflt majflt cmajflt utime(14) stime(15) */
      unsigned long long ut = 0, st = 0;
      if (sscanf (close_p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
              "%llu %llu", &ut, &st) == 2) {
        t->utime = ut;
        t->stime = st;
        clockid_t c = (clockid_t) ((~(unsigned int) t->tid) << 3) | 4 | 2;
        t->cpu_ns = clock_ns (c);
        n++;
      }
    }
    g_free (text);
  }
  g_dir_close (d);
  return n;
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
  TaskSample tasks[NTASK];
  int n_tasks;
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

/* The process's counters are read last at the start of the window and first
 * at its end, so reading debugfs and /proc stays outside of it. */
static void
take_sample (Sample *s, gboolean start)
{
  if (!start) {
    getrusage (RUSAGE_SELF, &s->ru);
    s->mono = mono_ns ();
    s->enc_ns = enc_ns_now ();
    s->copied_bytes = __atomic_load_n (&copied_bytes, __ATOMIC_RELAXED);
  }
  s->n_tasks = threads_on ? sample_tasks (s->tasks) : 0;
  s->zcam_stats = read_file ("/sys/kernel/debug/zcam/zcam0/stats");
  kernel_counts (s);
  if (start) {
    s->copied_bytes = __atomic_load_n (&copied_bytes, __ATOMIC_RELAXED);
    s->enc_ns = enc_ns_now ();
    s->mono = mono_ns ();
    getrusage (RUSAGE_SELF, &s->ru);
  }
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
static gboolean opt_latency = FALSE, opt_attribute = FALSE, opt_threads = FALSE;

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
    take_sample (&s0, TRUE);
    have_s0 = TRUE;
    /* threads read their names again: tasks started since are named */
    __atomic_add_fetch (&name_gen, 1, __ATOMIC_RELAXED);
    __atomic_store_n (&counting, 1, __ATOMIC_RELEASE);
  } else if (n == (guint) (opt_warm + opt_frames)) {
    __atomic_store_n (&counting, 0, __ATOMIC_RELEASE);
    take_sample (&s1, FALSE);
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
  push_element (ELEM_COPY);     /* its mapping ioctls are the copy's */
  if (gst_video_frame_map (&sf, &copy_info, in, GST_MAP_READ)) {
    if (gst_video_frame_map (&df, &copy_info, out, GST_MAP_WRITE)) {
      ok = gst_video_frame_copy (&df, &sf);
      gst_video_frame_unmap (&df);
    }
    gst_video_frame_unmap (&sf);
  }
  pop_element ();
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

/* GstBaseSink's own "stats" (rendered, dropped: late buffers the base class
 * dropped, QoS), which a sink's own "stats" property may hide. */
static void
base_sink_stats (GString *out, const gchar *key, const gchar *name)
{
  GstElement *el = name ? gst_bin_get_by_name (GST_BIN (pipeline), name) : NULL;
  if (!el)
    return;
  if (GST_IS_BASE_SINK (el)) {
    GObjectClass *bc = g_type_class_peek (GST_TYPE_BASE_SINK);
    GParamSpec *ps = g_object_class_find_property (bc, "stats");
    if (ps && ps->owner_type == GST_TYPE_BASE_SINK) {
      GValue v = G_VALUE_INIT;
      g_value_init (&v, ps->value_type);
      bc->get_property (G_OBJECT (el), ps->param_id, &v, ps);
      g_string_append_printf (out, ", \"%s\": ", key);
      json_structure (out, g_value_get_boxed (&v));
      g_value_unset (&v);
    }
  }
  gst_object_unref (el);
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
req_name (GString *out, unsigned long req)
{
  for (guint k = 0; k < G_N_ELEMENTS (known_reqs); k++)
    if ((guint32) known_reqs[k].req == (guint32) req) {
      g_string_append_printf (out, "\"%s\"", known_reqs[k].name);
      return;
    }
  g_string_append_printf (out, "\"0x%lx\"", req);
}

/* {"REQ": n} summed over elements and fd kinds */
static void
json_ioctls (GString *out)
{
  GHashTable *sum = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (guint i = 0; i < NREQ; i++)
    if (req_table[i].key) {
      gpointer k = GUINT_TO_POINTER ((guint32) req_table[i].key);
      guint64 *v = g_hash_table_lookup (sum, k);
      if (!v) {
        v = g_new0 (guint64, 1);
        g_hash_table_insert (sum, k, v);
      }
      *v += req_table[i].n;
    }
  g_string_append_c (out, '{');
  GHashTableIter it;
  gpointer k, v;
  gboolean first = TRUE;
  g_hash_table_iter_init (&it, sum);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    g_string_append (out, first ? "" : ", ");
    req_name (out, GPOINTER_TO_UINT (k));
    g_string_append_printf (out, ": %" G_GUINT64_FORMAT, *(guint64 *) v);
    g_free (v);
    first = FALSE;
  }
  g_string_append_c (out, '}');
  g_hash_table_destroy (sum);
}

/* [[element, fd kind, request, n], ...] */
static void
json_ioctls_by (GString *out)
{
  g_string_append_c (out, '[');
  gboolean first = TRUE;
  for (guint i = 0; i < NREQ; i++) {
    guint64 key = req_table[i].key;
    if (!key)
      continue;
    guint el = (key >> 32) & 0xff, kind = (key >> 40) & 0xff;
    g_string_append (out, first ? "[" : ", [");
    json_str (out, el < NELEM ? elems[el].name : "?");
    g_string_append_printf (out, ", \"%s\", ", kind < FK_N ? fk_names[kind] :
        "?");
    req_name (out, (guint32) key);
    g_string_append_printf (out, ", %" G_GUINT64_FORMAT "]", req_table[i].n);
    first = FALSE;
  }
  g_string_append_c (out, ']');
}

/* Per-thread CPU inside the window: [{tid, name, element, user_s, ...}] */
static void
json_threads (GString *out)
{
  double tick = sysconf (_SC_CLK_TCK);
  g_string_append_c (out, '[');
  for (int i = 0; i < s1.n_tasks; i++) {
    const TaskSample *b = &s1.tasks[i], *a = NULL;
    for (int j = 0; j < s0.n_tasks; j++)
      if (s0.tasks[j].tid == b->tid)
        a = &s0.tasks[j];
    const char *creator;
    int base = base_of_thread (b->tid, &creator);
    int el = element_of_thread_name (b->comm);
    if (!el)
      el = base;
    g_string_append_printf (out, "%s{\"tid\": %d, \"main\": %s, \"name\": ",
        i ? ", " : "", (int) b->tid, b->tid == getpid () ? "true" : "false");
    json_str (out, b->comm);
    g_string_append (out, ", \"element\": ");
    json_str (out, elems[el].name);
    g_string_append (out, ", \"creator\": ");
    json_str (out, creator);
    g_string_append_printf (out, ", \"user_s\": %.3f, \"sys_s\": %.3f, "
        "\"cpu_s\": %.6f, \"new\": %s}",
        (b->utime - (a ? a->utime : 0)) / tick,
        (b->stime - (a ? a->stime : 0)) / tick,
        (b->cpu_ns - (a ? a->cpu_ns : 0)) / 1e9, a ? "false" : "true");
  }
  g_string_append_c (out, ']');
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
    {"attribute", 0, 0, G_OPTION_ARG_NONE, &opt_attribute,
        "key ioctls by element and fd kind (GStreamer tracer hooks: they "
          "cost CPU); implies --threads", NULL},
    {"threads", 0, 0, G_OPTION_ARG_NONE, &opt_threads,
        "CPU time per thread", NULL},
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
  threads_on = opt_threads || opt_attribute;
  if (opt_attribute) {
    attr_on = 1;
    /* lives as long as the process: the tracing framework holds it */
    g_object_new (zcb_tracer_get_type (), NULL);
  }
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
  /* every element known by name: threads are named after them */
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    element_id (GST_OBJECT (g_value_get_object (&item)));
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
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
  base_sink_stats (out, "basesink_stats", opt_kms);
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
    if (attr_on) {
      g_string_append (out, ", \"ioctls_by\": ");
      json_ioctls_by (out);
    }
    if (threads_on) {
      g_string_append_printf (out, ", \"threads\": ");
      json_threads (out);
    }
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
