// SPDX-License-Identifier: LGPL-2.1-or-later
//
// zckmssink on vkms: what the CRTC composed is read back through the
// writeback connector (tests/common/kmstest) and compared with the source.
// The sink gets the test's DRM fd (fd property) so that the test, as the
// same DRM master, can route the writeback connector between frames.
// Source frames are dumb buffers of a second vkms fd, exported as dma-bufs
// (a separate fd keeps the sink's GEM handles apart from the test's).
// Standard headers first: gstcheck.h defines a fail() macro.
#include <fcntl.h>
#include <fstream>
#include <string>
#include <sys/ioctl.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/zerocopy/zerocopy.h>

#include "kmstest.h"

using namespace zctest;

namespace {

// vgem uapi (include/uapi/drm/vgem_drm.h; libdrm does not ship it).
struct vgem_fence_attach {
	uint32_t handle, flags, out_fence, pad;
};
struct vgem_fence_signal {
	uint32_t fence, flags;
};
#define ZC_IOCTL_VGEM_FENCE_ATTACH DRM_IOWR(DRM_COMMAND_BASE + 0x1, struct vgem_fence_attach)
#define ZC_IOCTL_VGEM_FENCE_SIGNAL DRM_IOW(DRM_COMMAND_BASE + 0x2, struct vgem_fence_signal)

struct Env {
	DrmDevice master; // given to the sink; used for capture
	DrmDevice src;    // where the source frames live
	Output out;
	DumbBuffer wb;
};

Env *env;

uint32_t pattern(uint32_t x, uint32_t y, uint32_t seed)
{
	return (((x * 7 + y * 3 + seed) & 0xff) << 16) | (((x + y * 5) & 0xff) << 8) |
	       ((x ^ y ^ seed) & 0xff);
}

void fill(DumbBuffer &b, uint32_t seed)
{
	for (uint32_t y = 0; y < b.height; y++)
		for (uint32_t x = 0; x < b.width; x++)
			b.row(y)[x] = pattern(x, y, seed);
}

// A GstBuffer over a dma-buf export of `b`, with its real stride.
GstBuffer *dmabuf_buffer(DumbBuffer &b)
{
	static GstAllocator *alloc = gst_dmabuf_allocator_new();
	int fd = b.export_dmabuf();
	fail_unless(fd >= 0);
	GstBuffer *buf = gst_buffer_new();
	gst_buffer_append_memory(buf, gst_dmabuf_allocator_alloc(alloc, fd, b.size));
	gsize offset[4] = { 0 };
	gint stride[4] = { gint(b.pitch) };
	gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_FORMAT_BGRx,
				       b.width, b.height, 1, offset, stride);
	return buf;
}

GstHarness *make_sink(guint w, guint h)
{
	GstElement *sink = gst_element_factory_make("zckmssink", nullptr);
	fail_unless(sink != nullptr);
	g_object_set(sink, "fd", env->master.fd(), "sync", FALSE, nullptr);
	GstHarness *h_ = gst_harness_new_with_element(sink, "sink", nullptr);
	gst_object_unref(sink);
	gchar *caps = g_strdup_printf("video/x-raw,format=BGRx,width=%u,height=%u,framerate=30/1",
				      w, h);
	gst_harness_set_src_caps_str(h_, caps);
	g_free(caps);
	return h_;
}

guint64 element_stat(GstElement *sink, const char *name)
{
	GstStructure *s = nullptr;
	g_object_get(sink, "stats", &s, nullptr);
	guint64 v = 0;
	fail_unless(gst_structure_get_uint64(s, name, &v));
	gst_structure_free(s);
	return v;
}

guint64 sink_stat(GstHarness *h, const char *name)
{
	return element_stat(h->element, name);
}

// A launch line with a "zckmssink name=s" on the test's DRM master, played
// until EOS (an error fails the test with its text); NULL state on scope exit.
struct SinkPipeline {
	GstElement *pipe = nullptr;
	GstElement *sink = nullptr;

	explicit SinkPipeline(const char *desc, int timeout_s = 20)
	{
		GError *err = nullptr;
		pipe = gst_parse_launch(desc, &err);
		fail_unless(pipe != nullptr && err == nullptr);
		sink = gst_bin_get_by_name(GST_BIN(pipe), "s");
		fail_unless(sink != nullptr);
		g_object_set(sink, "fd", env->master.fd(), nullptr);
		fail_unless(gst_element_set_state(pipe, GST_STATE_PLAYING) !=
			    GST_STATE_CHANGE_FAILURE);
		GstBus *bus = gst_element_get_bus(pipe);
		GstMessage *msg = gst_bus_timed_pop_filtered(
			bus, timeout_s * GST_SECOND,
			GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
		gst_object_unref(bus);
		fail_unless(msg != nullptr);
		if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
			GError *e = nullptr;
			gchar *dbg = nullptr;
			gst_message_parse_error(msg, &e, &dbg);
			g_printerr("error: %s (%s)\n", e->message, dbg);
			fail("pipeline error");
		}
		gst_message_unref(msg);
	}
	~SinkPipeline()
	{
		gst_element_set_state(pipe, GST_STATE_NULL);
		gst_object_unref(sink);
		gst_object_unref(pipe);
	}
	SinkPipeline(const SinkPipeline &) = delete;
	SinkPipeline &operator=(const SinkPipeline &) = delete;
	guint64 stat(const char *name) const { return element_stat(sink, name); }
};

// Waits (bounded) until the counter reaches `want`.
bool wait_stat(GstHarness *h, const char *name, guint64 want, int timeout_ms = 5000)
{
	for (int i = 0; i < timeout_ms / 10; i++) {
		if (sink_stat(h, name) >= want)
			return true;
		g_usleep(10000);
	}
	return sink_stat(h, name) >= want;
}

// Compares the capture with `src` placed at (x0, y0); the rest must be black.
void check_capture(const DumbBuffer *src, uint32_t seed, uint32_t x0, uint32_t y0)
{
	fail_unless_equals_int(capture(env->master.fd(), env->out, env->wb), 0);
	unsigned bad = 0;
	for (uint32_t y = 0; y < env->wb.height; y++) {
		for (uint32_t x = 0; x < env->wb.width; x++) {
			uint32_t want = 0;
			if (src && x >= x0 && y >= y0 && x < x0 + src->width && y < y0 + src->height)
				want = pattern(x - x0, y - y0, seed);
			uint32_t got = env->wb.row(y)[x] & 0xffffff;
			if (got != want && bad++ < 5)
				g_printerr("pixel %u,%u: got %06x want %06x\n", x, y, got, want);
		}
	}
	fail_unless_equals_int(bad, 0);
}

int count_lines(const std::string &path, const std::string &prefix)
{
	std::ifstream f(path);
	std::string line;
	int n = 0;
	while (std::getline(f, line))
		if (line.rfind(prefix, 0) == 0)
			n++;
	return n;
}

std::string vkms_debugfs()
{
	for (int i = 0; i < 16; i++) {
		std::string dir = "/sys/kernel/debug/dri/" + std::to_string(i);
		std::ifstream f(dir + "/name");
		std::string name;
		if (std::getline(f, name) && name.find("vkms") != std::string::npos)
			return dir;
	}
	return {};
}

} // namespace

GST_START_TEST(test_fullscreen_dmabuf)
{
	const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
	DumbBuffer frame;
	fail_unless_equals_int(DumbBuffer::create(env->src.fd(), W, H, frame), 0);
	fill(frame, 1);
	GstHarness *h = make_sink(W, H);
	fail_unless_equals_int(gst_harness_push(h, dmabuf_buffer(frame)), GST_FLOW_OK);
	fail_unless(wait_stat(h, "shown", 1));
	fail_unless_equals_uint64(sink_stat(h, "copied"), 0);
	check_capture(&frame, 1, 0, 0);
	gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_centred_640x480)
{
	DumbBuffer frame;
	fail_unless_equals_int(DumbBuffer::create(env->src.fd(), 640, 480, frame), 0);
	fill(frame, 2);
	GstHarness *h = make_sink(640, 480);
	fail_unless_equals_int(gst_harness_push(h, dmabuf_buffer(frame)), GST_FLOW_OK);
	fail_unless(wait_stat(h, "shown", 1));
	fail_unless_equals_uint64(sink_stat(h, "copied"), 0);
	check_capture(&frame, 2, (env->out.mode.hdisplay - 640) / 2,
		      (env->out.mode.vdisplay - 480) / 2);
	gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_copy_path)
{
	// System memory with GStreamer's default stride: not importable.
	DumbBuffer ref; // only a pixel reference for check_capture
	fail_unless_equals_int(DumbBuffer::create(env->src.fd(), 320, 240, ref), 0);
	fill(ref, 3);
	GstBuffer *buf = gst_buffer_new_allocate(nullptr, 320 * 240 * 4, nullptr);
	GstMapInfo map;
	fail_unless(gst_buffer_map(buf, &map, GST_MAP_WRITE));
	for (uint32_t y = 0; y < 240; y++)
		memcpy(map.data + y * 320 * 4, ref.row(y), 320 * 4);
	gst_buffer_unmap(buf, &map);

	GstHarness *h = make_sink(320, 240);
	fail_unless_equals_int(gst_harness_push(h, buf), GST_FLOW_OK);
	fail_unless(wait_stat(h, "shown", 1));
	fail_unless_equals_uint64(sink_stat(h, "copied"), 1);
	check_capture(&ref, 3, (env->out.mode.hdisplay - 320) / 2,
		      (env->out.mode.vdisplay - 240) / 2);
	gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_release_fence)
{
	const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
	DumbBuffer fa, fb;
	fail_unless_equals_int(DumbBuffer::create(env->src.fd(), W, H, fa), 0);
	fail_unless_equals_int(DumbBuffer::create(env->src.fd(), W, H, fb), 0);
	fill(fa, 4);
	fill(fb, 5);
	GstBuffer *a = dmabuf_buffer(fa), *b = dmabuf_buffer(fb);
	GstZcFenceMeta *ma = gst_zc_buffer_add_fence_meta(a);
	GstZcFenceMeta *mb = gst_zc_buffer_add_fence_meta(b);
	GstHarness *h = make_sink(W, H);

	fail_unless_equals_int(gst_harness_push(h, gst_buffer_ref(a)), GST_FLOW_OK);
	fail_unless(wait_stat(h, "shown", 1));
	// On screen: the sink holds it and gave it no release fence yet.
	fail_unless(GST_MINI_OBJECT_REFCOUNT_VALUE(a) > 1);
	fail_unless_equals_int(gst_zc_fence_meta_get_n_release_fences(ma), 0);

	fail_unless_equals_int(gst_harness_push(h, gst_buffer_ref(b)), GST_FLOW_OK);
	fail_unless(wait_stat(h, "shown", 2));
	// A came back with the commit's out-fence, which has signalled now
	// that B is on screen; B is held.
	fail_unless_equals_int(gst_zc_fence_meta_get_n_release_fences(ma), 1);
	GstZcFenceInfo info;
	fail_unless(gst_zc_fence_get_status(gst_zc_fence_meta_get_release_fence(ma, 0), &info));
	fail_unless_equals_int(info.status, 1);
	fail_unless_equals_int(GST_MINI_OBJECT_REFCOUNT_VALUE(a), 1);
	fail_unless(GST_MINI_OBJECT_REFCOUNT_VALUE(b) > 1);
	fail_unless_equals_int(gst_zc_fence_meta_get_n_release_fences(mb), 0);
	check_capture(&fb, 5, 0, 0);
	gst_harness_teardown(h);
	gst_buffer_unref(a);
	gst_buffer_unref(b);
}
GST_END_TEST;

// force-modeset: a 640x480 frame switches the output to 640x480 and fills it.
GST_START_TEST(test_force_modeset)
{
	DumbBuffer frame, wb;
	fail_unless_equals_int(DumbBuffer::create(env->src.fd(), 640, 480, frame), 0);
	fail_unless_equals_int(DumbBuffer::create(env->master.fd(), 640, 480, wb), 0);
	fill(frame, 11);
	GstElement *sink = gst_element_factory_make("zckmssink", nullptr);
	g_object_set(sink, "fd", env->master.fd(), "sync", FALSE, "force-modeset", TRUE, nullptr);
	GstHarness *h = gst_harness_new_with_element(sink, "sink", nullptr);
	gst_object_unref(sink);
	gst_harness_set_src_caps_str(h, "video/x-raw,format=BGRx,width=640,height=480");
	fail_unless_equals_int(gst_harness_push(h, dmabuf_buffer(frame)), GST_FLOW_OK);
	fail_unless(wait_stat(h, "shown", 1));
	fail_unless_equals_int(capture(env->master.fd(), env->out, wb), 0);
	unsigned bad = 0;
	for (uint32_t y = 0; y < 480; y++)
		for (uint32_t x = 0; x < 640; x++)
			bad += (wb.row(y)[x] & 0xffffff) != pattern(x, y, 11);
	fail_unless_equals_int(bad, 0);
	gst_harness_teardown(h);
}
GST_END_TEST;

// A file that is not DRM master: a clear error at start, not a commit failure.
GST_START_TEST(test_not_master)
{
	GstElement *sink = gst_element_factory_make("zckmssink", nullptr);
	g_object_set(sink, "fd", env->src.fd(), nullptr);
	GstBus *bus = gst_bus_new();
	gst_element_set_bus(sink, bus);
	fail_unless_equals_int(gst_element_set_state(sink, GST_STATE_PAUSED),
			       GST_STATE_CHANGE_FAILURE);
	GstMessage *msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
	fail_unless(msg != nullptr);
	GError *e = nullptr;
	gst_message_parse_error(msg, &e, nullptr);
	fail_unless(g_error_matches(e, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_BUSY));
	fail_unless(strstr(e->message, "controls the display") != nullptr);
	g_error_free(e);
	gst_message_unref(msg);
	gst_element_set_state(sink, GST_STATE_NULL);
	gst_object_unref(bus);
	gst_object_unref(sink);
}
GST_END_TEST;

// A pending vgem fence as a sync_file: attach to a vgem object, export the
// dma-buf's implicit write fence. *fence_id lets the test signal it.
static int vgem_pending_fence(DrmDevice &vgem, uint32_t *fence_id)
{
	// vgem has dumb buffers but no KMS (no framebuffers).
	drm_mode_create_dumb c{};
	c.width = 64;
	c.height = 64;
	c.bpp = 32;
	fail_unless_equals_int(drmIoctl(vgem.fd(), DRM_IOCTL_MODE_CREATE_DUMB, &c), 0);
	vgem_fence_attach att{};
	att.handle = c.handle;
	att.flags = 0x1; // VGEM_FENCE_WRITE
	fail_unless_equals_int(drmIoctl(vgem.fd(), ZC_IOCTL_VGEM_FENCE_ATTACH, &att), 0);
	*fence_id = att.out_fence;
	int dmabuf = -1;
	fail_unless_equals_int(drmPrimeHandleToFD(vgem.fd(), c.handle, DRM_CLOEXEC, &dmabuf), 0);
	int sync = gst_zc_dmabuf_export_sync_file(dmabuf, GST_ZC_FENCE_ACCESS_READ);
	close(dmabuf);
	fail_unless(sync >= 0);
	return sync;
}

// Shows frame `good`, then pushes `bad` with a vgem fence that is signalled
// only after the sink's fence-timeout: the frame is dropped with a warning.
GST_START_TEST(test_fence_timeout)
{
	DrmDevice vgem = DrmDevice::open_driver("vgem");
	fail_unless(vgem.valid());
	const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
	DumbBuffer good, bad;
	fail_unless_equals_int(DumbBuffer::create(env->src.fd(), W, H, good), 0);
	fail_unless_equals_int(DumbBuffer::create(env->src.fd(), W, H, bad), 0);
	fill(good, 6);
	fill(bad, 7);

	GstElement *sink = gst_element_factory_make("zckmssink", nullptr);
	g_object_set(sink, "fd", env->master.fd(), "sync", FALSE, "fence-timeout",
		     300 * GST_MSECOND, nullptr);
	GstBus *bus = gst_bus_new();
	gst_element_set_bus(sink, bus);
	GstHarness *h = gst_harness_new_with_element(sink, "sink", nullptr);
	gst_object_unref(sink);
	gchar *caps = g_strdup_printf("video/x-raw,format=BGRx,width=%u,height=%u", W, H);
	gst_harness_set_src_caps_str(h, caps);
	g_free(caps);

	fail_unless_equals_int(gst_harness_push(h, dmabuf_buffer(good)), GST_FLOW_OK);
	fail_unless(wait_stat(h, "shown", 1));

	uint32_t fence_id = 0;
	GstBuffer *buf = dmabuf_buffer(bad);
	GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta(buf);
	fail_unless(gst_zc_fence_meta_add_acquire_fence(meta, vgem_pending_fence(vgem, &fence_id)));
	gint64 t0 = g_get_monotonic_time();
	fail_unless_equals_int(gst_harness_push(h, buf), GST_FLOW_OK);
	// The streaming thread did not wait for the fence.
	fail_unless(g_get_monotonic_time() - t0 < 200000);

	fail_unless(wait_stat(h, "fence-timeouts", 1, 5000));
	GstMessage *msg = gst_bus_pop_filtered(bus, GST_MESSAGE_WARNING);
	fail_unless(msg != nullptr);
	gst_message_unref(msg);
	vgem_fence_signal sig{ fence_id, 0 };
	fail_unless_equals_int(drmIoctl(vgem.fd(), ZC_IOCTL_VGEM_FENCE_SIGNAL, &sig), 0);
	fail_unless_equals_uint64(sink_stat(h, "shown"), 1);
	fail_unless_equals_uint64(sink_stat(h, "fence-errors"), 0);
	check_capture(&good, 6, 0, 0);
	gst_harness_teardown(h);
	gst_object_unref(bus);
}
GST_END_TEST;

GST_START_TEST(test_teardown_releases_all)
{
	std::string dbg = vkms_debugfs();
	fail_if(dbg.empty(), "no vkms in /sys/kernel/debug/dri");
	const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
	DumbBuffer frame;
	fail_unless_equals_int(DumbBuffer::create(env->src.fd(), W, H, frame), 0);
	fill(frame, 8);
	GstBuffer *buf = dmabuf_buffer(frame);
	const int fbs = count_lines(dbg + "/framebuffer", "framebuffer[");
	const int bufs = count_lines("/sys/kernel/debug/dma_buf/bufinfo", "");

	for (int round = 0; round < 2; round++) {
		GstHarness *h = make_sink(W, H);
		fail_unless_equals_int(gst_harness_push(h, gst_buffer_ref(buf)), GST_FLOW_OK);
		GstBuffer *sys = gst_buffer_new_allocate(nullptr, W * H * 4, nullptr);
		gst_buffer_memset(sys, 0, 0x40, W * H * 4);
		fail_unless_equals_int(gst_harness_push(h, sys), GST_FLOW_OK);
		fail_unless(wait_stat(h, "shown", 1));
		fail_unless(count_lines(dbg + "/framebuffer", "framebuffer[") > fbs);
		gst_harness_teardown(h);
		// The buffer is still alive here (held by the test): the sink's
		// framebuffer for it must be gone all the same.
		fail_unless_equals_int(count_lines(dbg + "/framebuffer", "framebuffer["), fbs);
		fail_unless_equals_int(count_lines("/sys/kernel/debug/dma_buf/bufinfo", ""), bufs);
	}
	gst_buffer_unref(buf);
}
GST_END_TEST;

// videotestsrc writes into the pool the sink proposes: no copies.
GST_START_TEST(test_proposed_pool)
{
	SinkPipeline p("videotestsrc num-buffers=4 pattern=white ! "
		       "video/x-raw,format=BGRx,width=640,height=480 ! zckmssink name=s sync=false");
	guint64 shown = p.stat("shown");
	fail_unless(shown >= 1);
	fail_unless_equals_uint64(p.stat("copied"), 0);

	// White 640x480 centred on black, once the last flip is done.
	g_usleep(500000);
	int r = capture(env->master.fd(), env->out, env->wb);
	if (r)
		g_printerr("capture: %s; shown %" G_GUINT64_FORMAT "\n", g_strerror(-r), shown);
	fail_unless_equals_int(r, 0);
	const uint32_t x0 = (env->out.mode.hdisplay - 640) / 2;
	const uint32_t y0 = (env->out.mode.vdisplay - 480) / 2;
	fail_unless_equals_int(env->wb.row(y0)[x0] & 0xffffff, 0xffffff);
	fail_unless_equals_int(env->wb.row(y0 + 479)[x0 + 639] & 0xffffff, 0xffffff);
	fail_unless_equals_int(env->wb.row(y0 - 1)[x0] & 0xffffff, 0);
	fail_unless_equals_int(env->wb.row(y0)[x0 - 1] & 0xffffff, 0);
}
GST_END_TEST;

// A frame whose acquire fence signals later: push returns at once, the old
// frame stays on screen until the fence signals, then the new one shows.
GST_START_TEST(test_fence_delayed)
{
	DrmDevice vgem = DrmDevice::open_driver("vgem");
	fail_unless(vgem.valid());
	const uint32_t W = env->out.mode.hdisplay, H = env->out.mode.vdisplay;
	DumbBuffer frame_a, frame_b;
	fail_unless_equals_int(DumbBuffer::create(env->src.fd(), W, H, frame_a), 0);
	fail_unless_equals_int(DumbBuffer::create(env->src.fd(), W, H, frame_b), 0);
	fill(frame_a, 9);
	fill(frame_b, 10);
	GstHarness *h = make_sink(W, H);
	g_object_set(h->element, "fence-timeout", 10 * GST_SECOND, nullptr);
	fail_unless_equals_int(gst_harness_push(h, dmabuf_buffer(frame_a)), GST_FLOW_OK);
	fail_unless(wait_stat(h, "shown", 1));

	uint32_t fence_id = 0;
	GstBuffer *buf = dmabuf_buffer(frame_b);
	GstZcFenceMeta *meta = gst_zc_buffer_add_fence_meta(buf);
	fail_unless(gst_zc_fence_meta_add_acquire_fence(meta, vgem_pending_fence(vgem, &fence_id)));
	gint64 t0 = g_get_monotonic_time();
	fail_unless_equals_int(gst_harness_push(h, buf), GST_FLOW_OK);
	fail_unless(g_get_monotonic_time() - t0 < 200000);

	g_usleep(300000);
	fail_unless_equals_uint64(sink_stat(h, "shown"), 1);
	check_capture(&frame_a, 9, 0, 0);

	vgem_fence_signal sig{ fence_id, 0 };
	fail_unless_equals_int(drmIoctl(vgem.fd(), ZC_IOCTL_VGEM_FENCE_SIGNAL, &sig), 0);
	fail_unless(wait_stat(h, "shown", 2));
	g_usleep(100000);
	check_capture(&frame_b, 10, 0, 0);
	fail_unless_equals_uint64(sink_stat(h, "fence-timeouts"), 0);
	gst_harness_teardown(h);
}
GST_END_TEST;

// vivid captures straight into the sink's dumb buffers (dmabuf-import).
GST_START_TEST(test_vivid_import)
{
	FILE *p = popen(SRC_ROOT "/tests/common/v4l2dev vivid-000-vid-cap", "r");
	char dev[64] = "";
	fail_unless(p && fgets(dev, sizeof(dev), p));
	pclose(p);
	dev[strcspn(dev, "\n")] = 0;
	gchar *desc = g_strdup_printf(
		"v4l2src device=%s io-mode=dmabuf-import num-buffers=3 ! "
		"video/x-raw,format=BGRx,width=640,height=480 ! zckmssink name=s sync=false", dev);
	SinkPipeline pl(desc, 30);
	g_free(desc);
	fail_unless(pl.stat("shown") >= 1);
	fail_unless_equals_uint64(pl.stat("copied"), 0);
}
GST_END_TEST;

static bool write_file(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	bool ok = fputs(value, f) >= 0;
	return fclose(f) == 0 && ok;
}

// zcam frames whose fences signal -EIO (fault injection): none is shown,
// each one that reached the display thread counts as a fence error.
GST_START_TEST(test_fence_error_zcam)
{
	const char *knob = "/sys/kernel/debug/zcam/zcam0/fail_fences";
	GstPluginFeature *zcamsrc = gst_registry_lookup_feature(gst_registry_get(), "zcamsrc");
	if (zcamsrc)
		gst_object_unref(zcamsrc);
	if (access(knob, W_OK) != 0 || !zcamsrc) {
		g_printerr("zcam or zcamsrc missing: fence error case not run\n");
		fail("zcam.ko and zcamsrc are needed for this test");
	}
	fail_unless(write_file(knob, "1000"));
	SinkPipeline p("zcamsrc num-buffers=4 ! video/x-raw(memory:DMABuf),format=BGRx,width=320,"
		       "height=240,framerate=30/1 ! zckmssink name=s sync=false "
		       "fence-timeout=2000000000");
	// The last frame may still be waiting for its fence on the display thread.
	guint64 shown = 1, errors = 0, dropped = 0;
	for (int i = 0; i < 100; i++) {
		shown = p.stat("shown");
		errors = p.stat("fence-errors");
		dropped = p.stat("dropped");
		if (errors + dropped >= 4)
			break;
		g_usleep(20000);
	}
	write_file(knob, "0");
	g_printerr("fence errors %" G_GUINT64_FORMAT ", dropped %" G_GUINT64_FORMAT "\n",
		   errors, dropped);
	fail_unless_equals_uint64(shown, 0);
	fail_unless(errors >= 1);
	fail_unless_equals_uint64(errors + dropped, 4);
}
GST_END_TEST;

static Suite *zckmssink_suite()
{
	Suite *s = suite_create("zckmssink");
	TCase *tc = tcase_create("vkms");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fullscreen_dmabuf);
	tcase_add_test(tc, test_centred_640x480);
	tcase_add_test(tc, test_force_modeset);
	tcase_add_test(tc, test_not_master);
	tcase_add_test(tc, test_copy_path);
	tcase_add_test(tc, test_release_fence);
	tcase_add_test(tc, test_fence_timeout);
	tcase_add_test(tc, test_fence_delayed);
	tcase_add_test(tc, test_teardown_releases_all);
	tcase_add_test(tc, test_proposed_pool);
	tcase_add_test(tc, test_fence_error_zcam);
	tcase_add_test(tc, test_vivid_import);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	gst_check_init(&argc, &argv);
	Env e;
	e.master = DrmDevice::open_driver("vkms");
	e.src = DrmDevice::open_driver("vkms");
	if (!e.master.valid() || !e.src.valid()) {
		g_printerr("SKIP: no vkms device\n");
		return 77;
	}
	if (find_output(e.master.fd(), e.out) < 0 || !e.out.writeback_id) {
		g_printerr("SKIP: vkms without a writeback connector\n");
		return 77;
	}
	if (DumbBuffer::create(e.master.fd(), e.out.mode.hdisplay, e.out.mode.vdisplay, e.wb) < 0) {
		g_printerr("cannot allocate the writeback buffer\n");
		return 1;
	}
	env = &e;
	Suite *s = zckmssink_suite();
	SRunner *sr = srunner_create(s);
	// Each test forks; the children inherit the DRM files (and master).
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
