/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zc-consumer: an application that reads camera frames without copying
 * them.
 *
 *   zcamsrc ! video/x-raw,format=BGRx,width=320,height=240 ! appsink
 *
 * What it shows:
 * - the acquire fence of each frame, read from its GstZcFenceMeta: zcamsrc
 *   pushes a frame before the camera has finished writing it (its "early"
 *   fence mode), so the fence may still be pending when the sample arrives;
 * - a bounded wait on that fence (gst_zc_fence_meta_wait_acquire()) and its
 *   status (a negative status marks a corrupt frame, skipped and counted);
 * - a CPU map through the library (gst_video_frame_map() on GstZcAllocator
 *   memory waits for the dma-buf's fences and brackets the access with
 *   DMA_BUF_IOCTL_SYNC), no copy of the frame;
 * - a check of the frame's contents: zcam draws the frame's sequence number
 *   as a row of black and white 8x8 cells at the top and again at the
 *   bottom of each frame (kmod/include/uapi/zcam.h, "Frame pattern");
 *   this file carries its own ten-line decoder of that code so that it
 *   reads on its own. The buffer's offset is the period the frame was
 *   queued for; pushed early, a frame the camera could only capture in a
 *   later period (a slow consumer held the other buffers) carries that
 *   later number: the code is at least the offset, and strictly increases;
 * - with --keep, a consumer that goes on using a frame after it let go of
 *   the buffer (the way a GPU still samples a texture): it hands a release
 *   fence back in the meta, and the camera does not overwrite the memory
 *   before that fence signals. Here vgem stands in for the GPU (its fence
 *   ioctls are the only way to make a GPU-like fence without a GPU); a real
 *   application exports the fence from its GPU API (EGL native fence sync,
 *   Vulkan sync_fd) instead.
 *
 * Prints one summary line and exits with 0 when every frame arrived, its
 * fence signalled without an error and its sequence code matched.
 *
 *   cc zc-consumer.c $(pkg-config --cflags --libs gstzerocopy-1.0 \
 *       gstreamer-app-1.0)
 */
#include <gst/app/gstappsink.h>
#include <gst/zerocopy/zerocopy.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* vgem's uapi comes from the source tree; a build without it has no --keep. */
#if __has_include("zc-vgem-uapi.h") && __has_include(<drm.h>)
#include "zc-vgem-uapi.h"
#define HAVE_VGEM 1
#endif

/* The sequence code of a zcam XRGB8888 frame, read at the centres of the
 * cells of the band starting at line @y0: bit i is cell i, white is 1. */
static guint32
read_code (const GstVideoFrame *frame, guint y0)
{
  const guint8 *line = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 0) +
      (gsize) (y0 + 4) * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  guint cells = MIN (32, GST_VIDEO_FRAME_WIDTH (frame) / 8);
  guint32 code = 0;
  for (guint i = 0; i < cells; i++)
    if (line[4 * (8 * i + 4) + 1] > 128) /* G of the cell's centre pixel */
      code |= 1u << i;
  return code;
}

#ifdef HAVE_VGEM
/* A stand-in for a GPU job that reads @dmabuf_fd: vgem imports the buffer
 * and attaches a fence to it that "the job" signals when done. Returns the
 * job's fence as a sync_file (the release fence), or -1. */
typedef struct
{
  int vgem;
  guint32 handle, fence;
} GpuJob;

static int
gpu_job_start (int vgem, int dmabuf_fd, GpuJob *job)
{
  struct drm_prime_handle prime = { .fd = dmabuf_fd };
  if (ioctl (vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &prime) != 0)
    return -1;
  /* A reader's fence (flags 0): the camera, a writer, waits for it. */
  struct zc_vgem_fence_attach attach = { .handle = prime.handle };
  if (ioctl (vgem, ZC_IOCTL_VGEM_FENCE_ATTACH, &attach) != 0)
    return -1;
  *job = (GpuJob) { vgem, prime.handle, attach.out_fence };
  /* All fences of the buffer, so ours too: what a writer must wait for. */
  return gst_zc_dmabuf_export_sync_file (dmabuf_fd, GST_ZC_FENCE_ACCESS_WRITE);
}

static void
gpu_job_finish (GpuJob *job)
{
  struct zc_vgem_fence_signal s = { .fence = job->fence };
  ioctl (job->vgem, ZC_IOCTL_VGEM_FENCE_SIGNAL, &s);
  struct drm_gem_close c = { .handle = job->handle };
  ioctl (job->vgem, DRM_IOCTL_GEM_CLOSE, &c);
}

/* The first DRM card driven by vgem, or -1. */
static int
open_vgem (void)
{
  for (int i = 0; i < 16; i++) {
    char path[32], name[16] = "";
    snprintf (path, sizeof (path), "/dev/dri/card%d", i);
    int fd = open (path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
      continue;
    struct drm_version v = { .name_len = sizeof (name) - 1, .name = name };
    if (ioctl (fd, DRM_IOCTL_VERSION, &v) == 0 && strcmp (name, "vgem") == 0)
      return fd;
    close (fd);
  }
  return -1;
}
#endif

int
main (int argc, char **argv)
{
  guint n_frames = 30;
  gboolean keep = FALSE;
  const gchar *device = NULL;
  GOptionEntry entries[] = {
    { "frames", 'n', 0, G_OPTION_ARG_INT, &n_frames, "frames to read", "N" },
    { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "zcam device", "PATH" },
    { "keep", 'k', 0, G_OPTION_ARG_NONE, &keep,
        "keep using each frame after the next one arrived (release fences)",
        NULL },
    { NULL },
  };
  GError *error = NULL;
  GOptionContext *ctx = g_option_context_new ("- read zcam frames");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "zc-consumer: %s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);

  int vgem = -1;
  if (keep) {
#ifdef HAVE_VGEM
    vgem = open_vgem ();
#endif
    if (vgem < 0) {
      fprintf (stderr, "zc-consumer: --keep needs vgem (modprobe vgem) as "
          "the GPU stand-in\n");
      return 2;
    }
  }

  gchar *desc = g_strdup_printf ("zcamsrc name=src num-buffers=%u %s%s ! "
      "video/x-raw,format=BGRx,width=320,height=240 ! "
      "appsink name=sink max-buffers=2 sync=false", n_frames,
      device ? "device=" : "", device ? device : "");
  GstElement *pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (!pipeline) {
    fprintf (stderr, "zc-consumer: %s\n", error->message);
    return 1;
  }
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (pipeline),
          "sink"));
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    fprintf (stderr, "zc-consumer: the pipeline does not start (is zcam.ko "
        "loaded? GST_DEBUG=2 says more)\n");
    return 1;
  }

  guint frames = 0, pending = 0, code_ok = 0, torn = 0, bad_fence = 0,
      timeouts = 0, gaps = 0, released = 0;
  guint64 last_seq = G_MAXUINT64, last_code = G_MAXUINT64;
  guint code_later = 0;
#ifdef HAVE_VGEM
  GpuJob running = { -1, 0, 0 };
  gboolean have_job = FALSE;
#endif
  for (;;) {
    /* Bounded: a stalled pipeline ends the loop instead of hanging it. */
    GstSample *sample = gst_app_sink_try_pull_sample (sink, 5 * GST_SECOND);
    if (!sample)
      break;
    GstBuffer *buf = gst_sample_get_buffer (sample);
    guint64 seq = GST_BUFFER_OFFSET (buf);
    frames++;
    if (last_seq != G_MAXUINT64 && seq != last_seq + 1)
      gaps++;
    last_seq = seq;

    GstZcFenceMeta *meta = gst_zc_buffer_get_fence_meta (buf);
    gint acquire = meta ? gst_zc_fence_meta_get_acquire_fence (meta) : -1;
    GstZcSyncFileInfo info;
    if (acquire >= 0 && gst_zc_sync_file_get_status (acquire, &info) &&
        info.status == 0)
      pending++; /* pushed before the camera finished it */
    /* Wait for the camera (1 s at most), then ask how the frame ended. */
    if (meta && gst_zc_fence_meta_wait_acquire (meta, GST_SECOND) != 0) {
      timeouts++;
      gst_sample_unref (sample);
      continue;
    }
    if (acquire >= 0 && gst_zc_sync_file_get_status (acquire, &info) &&
        info.status < 0) {
      bad_fence++; /* corrupt frame: skip it */
      gst_sample_unref (sample);
      continue;
    }

    GstVideoInfo vinfo;
    GstVideoFrame frame;
    gst_video_info_from_caps (&vinfo, gst_sample_get_caps (sample));
    if (gst_video_frame_map (&frame, &vinfo, buf, GST_MAP_READ)) {
      guint32 top = read_code (&frame, 0);
      guint32 bottom = read_code (&frame, GST_VIDEO_FRAME_HEIGHT (&frame) - 8);
      guint32 mask = GST_VIDEO_FRAME_WIDTH (&frame) >= 256 ? G_MAXUINT32 :
          (1u << (GST_VIDEO_FRAME_WIDTH (&frame) / 8)) - 1;
      if (top != bottom) {
        torn++;
      } else if (top >= (guint32) (seq & mask) &&
          (last_code == G_MAXUINT64 || top > last_code)) {
        code_ok++;
        if (top != (guint32) (seq & mask))
          code_later++;
      }
      last_code = top;
      gst_video_frame_unmap (&frame);
    }

#ifdef HAVE_VGEM
    GstZcFenceMeta *release_meta = gst_zc_buffer_get_fence_meta (buf);
    if (keep && release_meta) {
      /* "The GPU" goes on reading this frame after we let go of the
       * buffer: its job's fence becomes a release fence (allowed on a
       * buffer we do not own exclusively: the meta has a lock), and the
       * camera does not write the memory again before it signals. The job
       * of the previous frame ends now, when this one arrived. */
      GpuJob job;
      int release = gpu_job_start (vgem,
          gst_dmabuf_memory_get_fd (gst_buffer_peek_memory (buf, 0)), &job);
      if (release >= 0) {
        gst_zc_fence_meta_add_release_fence (release_meta, release);
        released++;
      }
      gst_sample_unref (sample);
      if (have_job)
        gpu_job_finish (&running);
      have_job = release >= 0;
      running = job;
      continue;
    }
#endif
    gst_sample_unref (sample);
  }
#ifdef HAVE_VGEM
  if (have_job)
    gpu_job_finish (&running);
#endif

  gboolean eos = gst_app_sink_is_eos (sink);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  if (vgem >= 0)
    close (vgem);

  printf ("frames %u of %u, eos %s, pushed-before-complete %u, code-ok %u "
      "(captured later than queued %u), torn %u, fence-errors %u, "
      "fence-timeouts %u, sequence-gaps %u, release-fences %u\n", frames,
      n_frames, eos ? "yes" : "no", pending, code_ok, code_later, torn,
      bad_fence, timeouts, gaps, released);
  return frames == n_frames && eos && code_ok == frames ? 0 : 1;
}
