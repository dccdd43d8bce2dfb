/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * In the test VM: the "dma-heap" (system heap) and "udmabuf" backends on a
 * kernel that has them (the debug kernel; Debian's 6.1 has neither, and
 * there the test skips). Allocation, CPU maps with DMA_BUF_IOCTL_SYNC and
 * implicit fences, import into vgem, display by zckmssink on vkms
 * (writeback-checked), import by vicodec's encoder, pool recycling, and the
 * order in which "auto" probes the backends.
 *
 * 6.1's udmabuf has no vmap (drivers/dma-buf/udmabuf.c), and vkms and
 * vicodec (videobuf2-vmalloc) map imported dma-bufs with dma_buf_vmap():
 * they cannot import udmabuf memory there, so only the heap is shown and
 * encoded.
 */
#include <atomic>

#include "kmstest.h"

#include "zc-test-vgem.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <linux/dma-buf.h>
#include <linux/videodev2.h>
#include <sys/mman.h>

#include <gst/check/gstharness.h>
#include <gst/video/video.h>

using zctest::DrmDevice;
using zctest::DumbBuffer;
using zctest::Output;

namespace {

struct Kind
{
  const char *backend;
  const char *node;     /* the device the backend opens by default */
  const char *exporter; /* the exporter name bufinfo shows */
};

const Kind heap = { "dma-heap", "/dev/dma_heap/system", "system" };
const Kind udmabuf = { "udmabuf", "/dev/udmabuf", "udmabuf" };

bool
debug_kernel ()
{
  const char *k = g_getenv ("ZC_VM_KERNEL");
  return k && strcmp (k, "debug") == 0;
}

/* Lines of bufinfo that name a dma-buf @name exported by @exporter. */
int
count_exported (const char *exporter, const char *name)
{
  std::ifstream f ("/sys/kernel/debug/dma_buf/bufinfo");
  std::string line, exp = std::string ("\t") + exporter + "\t";
  int n = 0;
  while (std::getline (f, line))
    if (line.find (exp) != std::string::npos &&
        line.find (name) != std::string::npos)
      n++;
  return n;
}

guint8
byte_at (gsize i, guint seed)
{
  return guint8 (i * 7 + seed + (i >> 12));
}

void
check_alloc_map (const Kind &k)
{
  int before = zc_test_count_fds ();
  GstAllocator *a = gst_zc_allocator_new (k.backend, NULL);
  fail_unless (a != NULL, "no %s backend although %s exists", k.backend,
      k.node);
  GstZcAllocator *za = GST_ZC_ALLOCATOR (a);
  fail_unless_equals_string (gst_zc_allocator_get_backend (za), k.backend);
  fail_unless_equals_string (gst_zc_allocator_get_device (za), k.node);
  fail_unless (gst_zc_allocator_is_dmabuf (za));

  std::string name = std::string ("gstzc-") + k.backend;
  GstMemory *mem = gst_allocator_alloc (a, 100000, NULL);
  fail_unless (mem != NULL);
  fail_unless (gst_is_dmabuf_memory (mem));
  fail_unless_equals_int (mem->size, 100000);
  /* The kernel's own exporter, named by us. */
  fail_unless_equals_int (count_exported (k.exporter, name.c_str ()), 1);

  GstMapInfo map;
  fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
  for (gsize i = 0; i < map.size; i++)
    map.data[i] = byte_at (i, 1);
  gst_memory_unmap (mem, &map);

  /* A mapping of our own of the dma-buf, bracketed by DMA_BUF_IOCTL_SYNC,
   * sees what the allocator's map wrote: the same pages. */
  int fd = gst_dmabuf_memory_get_fd (mem);
  gsize len = 100000;
  auto *p = static_cast<guint8 *> (
      mmap (NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  fail_unless (p != MAP_FAILED, "mmap: %s", g_strerror (errno));
  struct dma_buf_sync sync = {};
  sync.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW;
  fail_unless_equals_int (ioctl (fd, DMA_BUF_IOCTL_SYNC, &sync), 0);
  for (gsize i = 0; i < len; i += 61)
    fail_unless_equals_int (p[i], byte_at (i, 1));
  for (gsize i = 0; i < len; i++)
    p[i] = byte_at (i, 2);
  sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
  fail_unless_equals_int (ioctl (fd, DMA_BUF_IOCTL_SYNC, &sync), 0);
  munmap (p, len);

  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  for (gsize i = 0; i < map.size; i += 61)
    fail_unless_equals_int (map.data[i], byte_at (i, 2));
  gst_memory_unmap (mem, &map);
  gst_memory_unref (mem);

  /* Frame layouts: the library's own alignment. */
  GstZcLayout l;
  fail_unless (gst_zc_allocator_negotiate_layout (za, GST_VIDEO_FORMAT_NV12,
      641, 481, 64, 16, &l));
  fail_unless (l.stride[0] >= 641 && l.stride[0] % 64 == 0);
  mem = gst_zc_allocator_alloc_layout (za, &l);
  fail_unless (mem != NULL);
  fail_unless (mem->size >= l.size);
  gst_memory_unref (mem);
  gst_object_unref (a);

  fail_unless_equals_int (zc_test_count_named_dmabufs (), 0);
  fail_unless_equals_int (zc_test_count_fds (), before);
}

/* Another driver imports the dma-buf (PRIME into vgem) and shares its
 * reservation object: a fence vgem attaches is what our CPU maps wait for. */
void
check_vgem_import (const Kind &k)
{
  GstAllocator *a = gst_zc_allocator_new (k.backend, NULL);
  fail_unless (a != NULL);
  /* 200 ms: long enough for a map to wait, short enough for the test. */
  g_object_set (a, "map-timeout", guint64 (200 * GST_MSECOND), NULL);
  GstMemory *mem = gst_allocator_alloc (a, 65536, NULL);
  fail_unless (mem != NULL);
  int fd = gst_dmabuf_memory_get_fd (mem);
  {
    ZcVgem vgem;
    guint32 h = vgem.import (fd);
    fail_unless (h != 0);
    guint32 fence = vgem.attach (h, true);

    int sf = gst_zc_dmabuf_export_sync_file (fd, GST_ZC_FENCE_ACCESS_READ);
    fail_unless (sf >= 0, "export sync_file: %s", g_strerror (-sf));
    struct pollfd pfd = { sf, POLLIN, 0 };
    fail_unless_equals_int (poll (&pfd, 1, 0), 0);
    /* The write fence holds CPU maps back (bounded by map-timeout). */
    GstMapInfo map;
    fail_if (gst_memory_map (mem, &map, GST_MAP_READ),
        "a read map went past vgem's unsignalled write fence");

    vgem.signal (fence);
    fail_unless_equals_int (poll (&pfd, 1, 5000), 1);
    close (sf);
    /* vgem lets go of the import (it unmaps its attachment) before the CPU
     * map: on the debug kernel, 6.1's system heap syncs every mapped
     * attachment's sg table for the CPU, and CONFIG_DMABUF_DEBUG scrambles
     * the page links of a table while the importer has it mapped, so that
     * sync dereferences garbage (docs/testing.md). */
    vgem.close_handle (h);
  }
  GstMapInfo map;
  fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
  memset (map.data, 0x5a, map.size);
  gst_memory_unmap (mem, &map);
  gst_memory_unref (mem);
  gst_object_unref (a);
  fail_unless_equals_int (zc_test_count_named_dmabufs (), 0);
}

void
check_pool (const Kind &k)
{
  int before = zc_test_count_fds ();
  GstAllocator *a = gst_zc_allocator_new (k.backend, NULL);
  fail_unless (a != NULL);
  GstBufferPool *pool = zc_test_make_pool (a,
      "video/x-raw,format=BGRx,width=640,height=480", 2, 3);
  std::string name = std::string ("gstzc-") + k.backend;
  std::set<GstMemory *> first;
  for (int lap = 0; lap < 10; lap++) {
    GstBuffer *bufs[3];
    std::set<GstMemory *> seen;
    for (auto &b : bufs) {
      fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
          GST_FLOW_OK);
      GstMemory *m = gst_buffer_peek_memory (b, 0);
      fail_unless (gst_is_dmabuf_memory (m));
      seen.insert (m);
    }
    if (lap == 0)
      first = seen;
    fail_unless (seen == first, "lap %d got other memory", lap);
    GstVideoInfo info;
    gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, 640, 480);
    GstVideoFrame frame;
    fail_unless (
        gst_video_frame_map (&frame, &info, bufs[lap % 3], GST_MAP_WRITE));
    memset (GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), lap, 640 * 4);
    gst_video_frame_unmap (&frame);
    for (auto &b : bufs)
      gst_buffer_unref (b);
  }
  fail_unless_equals_int (count_exported (k.exporter, name.c_str ()), 3);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_object_unref (a);
  fail_unless_equals_int (zc_test_count_named_dmabufs (), 0);
  fail_unless_equals_int (zc_test_count_fds (), before);
}

/* Whether this kernel has @k; on the debug kernel it must. */
bool
have (const Kind &k)
{
  if (access (k.node, R_OK | W_OK) == 0)
    return true;
  fail_if (debug_kernel (), "%s is missing on the debug kernel", k.node);
  g_print ("NOT RUN: %s: this kernel has no %s\n", k.backend, k.node);
  return false;
}

guint32
pixel (guint x, guint y)
{
  return ((x * 3 + y) & 0xff) << 16 | ((x ^ y) & 0xff) << 8 | ((y * 5) & 0xff);
}

guint64
sink_stat (GstElement *sink, const char *name)
{
  GstStructure *s = nullptr;
  g_object_get (sink, "stats", &s, nullptr);
  guint64 v = 0;
  fail_unless (gst_structure_get_uint64 (s, name, &v));
  gst_structure_free (s);
  return v;
}

} // namespace

GST_START_TEST (test_heap_alloc_map)
{
  if (have (heap))
    check_alloc_map (heap);
}
GST_END_TEST;

GST_START_TEST (test_udmabuf_alloc_map)
{
  if (have (udmabuf))
    check_alloc_map (udmabuf);
}
GST_END_TEST;

GST_START_TEST (test_heap_vgem_import)
{
  if (have (heap))
    check_vgem_import (heap);
}
GST_END_TEST;

GST_START_TEST (test_udmabuf_vgem_import)
{
  if (have (udmabuf))
    check_vgem_import (udmabuf);
}
GST_END_TEST;

GST_START_TEST (test_heap_pool)
{
  if (have (heap))
    check_pool (heap);
}
GST_END_TEST;

GST_START_TEST (test_udmabuf_pool)
{
  if (have (udmabuf))
    check_pool (udmabuf);
}
GST_END_TEST;

GST_START_TEST (test_by_name)
{
  if (!have (heap) || !have (udmabuf))
    return;
  for (const char *dev : { "system", "/dev/dma_heap/system" }) {
    GstAllocator *a = gst_zc_allocator_new ("dma-heap", dev);
    fail_unless (a != NULL, "dma-heap on %s", dev);
    fail_unless_equals_string (gst_zc_allocator_get_device (
                                   GST_ZC_ALLOCATOR (a)),
        "/dev/dma_heap/system");
    gst_object_unref (a);
  }
  fail_unless (gst_zc_allocator_new ("dma-heap", "no-such-heap") == NULL);
  fail_unless (gst_zc_allocator_new ("udmabuf", "/dev/no-such-node") == NULL);
}
GST_END_TEST;

/* A system-heap frame shown full screen by zckmssink on vkms, read back
 * through the writeback connector. */
GST_START_TEST (test_heap_kmssink)
{
  if (!have (heap))
    return;
  DrmDevice master = DrmDevice::open_driver ("vkms");
  fail_unless (master.valid (), "no vkms");
  Output out;
  fail_unless_equals_int (zctest::find_output (master.fd (), out), 0);
  fail_unless (out.writeback_id != 0, "vkms without writeback");
  const guint W = out.mode.hdisplay, H = out.mode.vdisplay;
  DumbBuffer wb;
  fail_unless_equals_int (DumbBuffer::create (master.fd (), W, H, wb), 0);

  GstAllocator *a = gst_zc_allocator_new ("dma-heap", NULL);
  fail_unless (a != NULL);
  gchar *caps = g_strdup_printf (
      "video/x-raw,format=BGRx,width=%u,height=%u,framerate=30/1", W, H);
  GstBufferPool *pool = zc_test_make_pool (a, caps, 1, 2);
  GstBuffer *buf = NULL;
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &buf, NULL),
      GST_FLOW_OK);
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, W, H);
  GstVideoFrame frame;
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  for (guint y = 0; y < H; y++) {
    auto *row = reinterpret_cast<guint32 *> (
        static_cast<guint8 *> (GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)) +
        gsize (y) * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0));
    for (guint x = 0; x < W; x++)
      row[x] = pixel (x, y);
  }
  gst_video_frame_unmap (&frame);

  GstElement *sink = gst_element_factory_make ("zckmssink", nullptr);
  fail_unless (sink != nullptr);
  g_object_set (sink, "fd", master.fd (), "sync", FALSE, nullptr);
  GstHarness *h = gst_harness_new_with_element (sink, "sink", nullptr);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  for (int i = 0; i < 500 && sink_stat (sink, "shown") < 1; i++)
    g_usleep (10000);
  fail_unless (sink_stat (sink, "shown") >= 1, "the frame was not shown");
  fail_unless_equals_uint64 (sink_stat (sink, "copies"), 0);

  fail_unless_equals_int (zctest::capture (master.fd (), out, wb), 0);
  unsigned bad = 0;
  for (guint y = 0; y < H; y++)
    for (guint x = 0; x < W; x++) {
      guint32 got = wb.row (y)[x] & 0xffffff;
      if (got != pixel (x, y) && bad++ < 5)
        g_printerr ("pixel %u,%u: got %06x want %06x\n", x, y, got,
            pixel (x, y));
    }
  fail_unless_equals_int (bad, 0);
  gst_harness_teardown (h);
  gst_object_unref (sink);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_object_unref (a);
  fail_unless_equals_int (zc_test_count_named_dmabufs (), 0);
}
GST_END_TEST;

namespace {

/* The /dev/videoN of the V4L2 device called @name, or "". */
std::string
video_node (const char *name)
{
  for (int i = 0; i < 64; i++) {
    std::ifstream f (
        "/sys/class/video4linux/video" + std::to_string (i) + "/name");
    std::string n;
    if (std::getline (f, n) && n == name)
      return "/dev/video" + std::to_string (i);
  }
  return "";
}

int
xioctl_v4l2 (int fd, unsigned long req, void *arg)
{
  int ret;
  do
    ret = ioctl (fd, req, arg);
  while (ret < 0 && errno == EINTR);
  return ret;
}

} // namespace

/* vicodec's encoder reads system-heap frames through V4L2 DMABUF import
 * (videobuf2-vmalloc maps them with dma_buf_vmap()), as a hardware encoder
 * would: one FWHT frame of the right size per frame queued. V4L2 DMABUF
 * memory leaves the driver no way to copy. (GStreamer 1.22's v4l2fwhtenc,
 * fed these buffers by a GstHarness, copies them into its own instead:
 * without an allocation query it does not take buffers it did not
 * describe.) */
GST_START_TEST (test_heap_vicodec)
{
  if (!have (heap))
    return;
  std::string node = video_node ("stateful-encoder");
  fail_if (node.empty (), "no vicodec stateful encoder");
  int enc = open (node.c_str (), O_RDWR | O_CLOEXEC);
  fail_unless (enc >= 0, "%s: %s", node.c_str (), g_strerror (errno));

  const guint W = 640, H = 480, N = 4;
  struct v4l2_format vf = {};
  vf.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
  vf.fmt.pix.width = W;
  vf.fmt.pix.height = H;
  vf.fmt.pix.pixelformat = V4L2_PIX_FMT_NV12;
  fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_S_FMT, &vf), 0);
  fail_unless_equals_int (vf.fmt.pix.width, W);
  fail_unless_equals_int (vf.fmt.pix.height, H);
  fail_unless_equals_int (vf.fmt.pix.pixelformat, V4L2_PIX_FMT_NV12);

  /* Frames from a pool of the heap allocator, in the driver's layout. */
  GstAllocator *a = gst_zc_allocator_new ("dma-heap", NULL);
  fail_unless (a != NULL);
  GstBufferPool *pool = zc_test_make_pool (a,
      "video/x-raw,format=NV12,width=640,height=480", N, N);
  GstBuffer *bufs[N];
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, W, H);
  for (guint i = 0; i < N; i++) {
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &bufs[i],
                                NULL),
        GST_FLOW_OK);
    GstVideoMeta *vm = gst_buffer_get_video_meta (bufs[i]);
    fail_unless (vm != NULL);
    fail_unless_equals_int (vm->stride[0], vf.fmt.pix.bytesperline);
    fail_unless_equals_uint64 (vm->offset[1],
        guint64 (vf.fmt.pix.bytesperline) * H);
    GstVideoFrame frame;
    fail_unless (gst_video_frame_map (&frame, &info, bufs[i], GST_MAP_WRITE));
    for (guint y = 0; y < H; y++)
      memset (static_cast<guint8 *> (GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)) +
              gsize (y) * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0),
          int ((y + i * 16) & 0xff), W);
    for (guint y = 0; y < H / 2; y++)
      memset (static_cast<guint8 *> (GST_VIDEO_FRAME_PLANE_DATA (&frame, 1)) +
              gsize (y) * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 1),
          128, W);
    gst_video_frame_unmap (&frame);
  }

  struct v4l2_requestbuffers rb = {};
  rb.count = N;
  rb.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
  rb.memory = V4L2_MEMORY_DMABUF;
  fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_REQBUFS, &rb), 0);
  fail_unless (rb.count >= N);
  rb = {};
  rb.count = N;
  rb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  rb.memory = V4L2_MEMORY_MMAP;
  fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_REQBUFS, &rb), 0);
  fail_unless (rb.count >= 1);
  const guint ncap = rb.count;
  std::vector<std::pair<void *, size_t>> caps_maps;
  for (guint i = 0; i < ncap; i++) {
    struct v4l2_buffer vb = {};
    vb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    vb.memory = V4L2_MEMORY_MMAP;
    vb.index = i;
    fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_QUERYBUF, &vb), 0);
    void *m = mmap (NULL, vb.length, PROT_READ, MAP_SHARED, enc, vb.m.offset);
    fail_unless (m != MAP_FAILED);
    caps_maps.emplace_back (m, size_t (vb.length));
    fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_QBUF, &vb), 0);
  }
  for (guint i = 0; i < N; i++) {
    GstMemory *mem = gst_buffer_peek_memory (bufs[i], 0);
    struct v4l2_buffer vb = {};
    vb.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
    vb.memory = V4L2_MEMORY_DMABUF;
    vb.index = i;
    vb.m.fd = gst_dmabuf_memory_get_fd (mem);
    vb.length = guint (gst_memory_get_sizes (mem, NULL, NULL));
    vb.bytesused = vf.fmt.pix.sizeimage;
    vb.field = V4L2_FIELD_NONE;
    fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_QBUF, &vb), 0);
  }
  int type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
  fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_STREAMON, &type), 0);
  type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_STREAMON, &type), 0);

  for (guint i = 0; i < N; i++) {
    struct pollfd p = { enc, POLLIN, 0 };
    fail_unless_equals_int (poll (&p, 1, 10000), 1);
    struct v4l2_buffer vb = {};
    vb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    vb.memory = V4L2_MEMORY_MMAP;
    fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_DQBUF, &vb), 0);
    fail_if (vb.flags & V4L2_BUF_FLAG_ERROR, "frame %u: encoder error", i);
    fail_unless (vb.bytesused >= 44, "frame %u: %u bytes", i, vb.bytesused);
    const auto *d = static_cast<const guint8 *> (caps_maps[vb.index].first);
    guint32 m[2], wh[3];
    memcpy (m, d, 8);
    memcpy (wh, d + 8, 12);
    fail_unless (m[0] == 0x4f4f4f4f && m[1] == 0xffffffff,
        "frame %u: no FWHT magic", i);
    fail_unless_equals_int (GUINT32_FROM_BE (wh[1]), W);
    fail_unless_equals_int (GUINT32_FROM_BE (wh[2]), H);
    if (i + 1 < N)
      fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_QBUF, &vb), 0);
  }
  /* Every heap frame comes back from the encoder. */
  for (guint i = 0; i < N; i++) {
    struct v4l2_buffer vb = {};
    vb.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
    vb.memory = V4L2_MEMORY_DMABUF;
    struct pollfd p = { enc, POLLOUT, 0 };
    fail_unless_equals_int (poll (&p, 1, 10000), 1);
    fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_DQBUF, &vb), 0);
  }
  type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
  fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_STREAMOFF, &type), 0);
  type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  fail_unless_equals_int (xioctl_v4l2 (enc, VIDIOC_STREAMOFF, &type), 0);
  for (auto &cm : caps_maps)
    munmap (cm.first, cm.second);
  close (enc);
  for (auto &b : bufs)
    gst_buffer_unref (b);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_object_unref (a);
  fail_unless_equals_int (zc_test_count_named_dmabufs (), 0);
}
GST_END_TEST;

namespace {

/* Makes @path unusable in this mount namespace: a bind mount of itself with
 * nodev, so opening a device node there fails with EACCES. */
bool
hide (const char *path)
{
  return mount (path, path, NULL, MS_BIND, NULL) == 0 &&
      mount (NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_NODEV, NULL) == 0;
}

} // namespace

/* "auto" takes the first backend available in the order zcam, dma-heap,
 * udmabuf, dumb, memfd: hiding them one by one (in a mount namespace of a
 * child process) gives each in turn. */
GST_START_TEST (test_auto_order)
{
  if (!have (heap) || !have (udmabuf))
    return;
  fail_unless (access ("/dev/zcam0", F_OK) == 0, "no /dev/zcam0");
  int fds[2];
  fail_unless (pipe (fds) == 0);
  pid_t pid = fork ();
  fail_unless (pid >= 0);
  if (pid == 0) {
    close (fds[0]);
    FILE *o = fdopen (fds[1], "w");
    if (unshare (CLONE_NEWNS) != 0 ||
        mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
      fprintf (o, "namespace: %s\n", g_strerror (errno));
      _exit (1);
    }
    std::vector<std::string> zcams;
    for (int i = 0; i < 8; i++) {
      std::string p = "/dev/zcam" + std::to_string (i);
      if (access (p.c_str (), F_OK) == 0)
        zcams.push_back (p);
    }
    for (int stage = 0; stage < 5; stage++) {
      bool ok = true;
      if (stage == 1)
        for (const auto &p : zcams)
          ok = ok && hide (p.c_str ());
      else if (stage == 2)
        ok = hide ("/dev/dma_heap");
      else if (stage == 3)
        ok = hide ("/dev/udmabuf");
      else if (stage == 4)
        ok = hide ("/dev/dri");
      if (!ok) {
        fprintf (o, "hide (stage %d): %s\n", stage, g_strerror (errno));
        _exit (1);
      }
      GstAllocator *a = gst_zc_allocator_new (NULL, NULL);
      if (!a) {
        fprintf (o, "none\n");
        continue;
      }
      GstZcAllocator *za = GST_ZC_ALLOCATOR (a);
      std::string dev = gst_zc_allocator_get_device (za);
      if (dev.rfind ("/dev/dri/card", 0) == 0)
        dev = "/dev/dri/card";
      fprintf (o, "%s %s\n", gst_zc_allocator_get_backend (za), dev.c_str ());
      gst_object_unref (a);
    }
    fclose (o);
    _exit (0);
  }
  close (fds[1]);
  std::string got;
  char chunk[256];
  ssize_t n;
  while ((n = read (fds[0], chunk, sizeof (chunk))) > 0)
    got.append (chunk, size_t (n));
  close (fds[0]);
  int status = 0;
  fail_unless_equals_int (waitpid (pid, &status, 0), pid);
  fail_unless (WIFEXITED (status) && WEXITSTATUS (status) == 0, "child: %s",
      got.c_str ());
  fail_unless_equals_string (got.c_str (),
      "zcam /dev/zcam0\n"
      "dma-heap /dev/dma_heap/system\n"
      "udmabuf /dev/udmabuf\n"
      "dumb /dev/dri/card\n"
      "memfd \n");
}
GST_END_TEST;

static Suite *
vm_heap_suite (void)
{
  Suite *s = suite_create ("vm-heap");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_heap_alloc_map);
  tcase_add_test (tc, test_udmabuf_alloc_map);
  tcase_add_test (tc, test_heap_vgem_import);
  tcase_add_test (tc, test_udmabuf_vgem_import);
  tcase_add_test (tc, test_heap_pool);
  tcase_add_test (tc, test_udmabuf_pool);
  tcase_add_test (tc, test_by_name);
  tcase_add_test (tc, test_heap_kmssink);
  tcase_add_test (tc, test_heap_vicodec);
  tcase_add_test (tc, test_auto_order);
  return s;
}

int
main (int argc, char **argv)
{
  zc_test_require_vm ();
  gst_check_init (&argc, &argv);
  /* Exit 77 only where the kernel has neither: Debian's 6.1. */
  if (access (heap.node, F_OK) != 0 && access (udmabuf.node, F_OK) != 0 &&
      !debug_kernel ()) {
    g_print ("SKIP: this kernel has no DMA heap and no udmabuf "
             "(CONFIG_DMABUF_HEAPS_SYSTEM, CONFIG_UDMABUF; the debug kernel "
             "has both)\n");
    return 77;
  }
  return gst_check_run_suite (vm_heap_suite (), "vm-heap", __FILE__);
}
