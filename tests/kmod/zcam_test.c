// SPDX-License-Identifier: GPL-2.0
/*
 * zcam_test: checks the zcam uapi (kmod/include/uapi/zcam.h) against the
 * loaded module, one TAP line per case. Runs as root in the test VM with
 * zcam, vgem and vkms loaded; it changes zcam's debugfs knobs and module
 * parameters (and restores them), so nothing else may use /dev/zcam0 at the
 * same time.
 *
 *   usage: zcam_test [/dev/zcamN]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>

#include <drm_fourcc.h>
#include <linux/dma-buf.h>
#include <linux/magic.h>
#include <linux/sync_file.h>
#include <linux/videodev2.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "harness.h"
#include "zcam_debugfs.h"
#include "zc-vgem-uapi.h"
#include "zcam.h"

static const char *dev_path = "/dev/zcam0";
static char dbg_dir[256];

/* ---- small helpers ---------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static int dbg_write(const char *knob, long val)
{
	char path[300], buf[32];

	snprintf(path, sizeof(path), "%s/%s", dbg_dir, knob);
	snprintf(buf, sizeof(buf), "%ld\n", val);
	return write_file(path, buf);
}

/* Reads "name: value" from the device's debugfs stats; -1 if missing. */
static long long stat_get(const char *name)
{
	return zt_debugfs_stat(dbg_dir, name);
}

static int param_write(const char *name, unsigned int val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "/sys/module/zcam/parameters/%s", name);
	snprintf(buf, sizeof(buf), "%u\n", val);
	return write_file(path, buf);
}

static int zopen(void)
{
	return zt_track(open(dev_path, O_RDWR | O_CLOEXEC));
}

static int set_fmt(int fd, uint32_t w, uint32_t h, uint32_t fourcc,
		   uint32_t pitch_align, uint32_t height_align,
		   struct zcam_format *out)
{
	struct zcam_format f = {
		.width = w, .height = h, .fourcc = fourcc,
		.pitch_align = pitch_align, .height_align = height_align,
	};
	int r = ioctl(fd, ZCAM_IOC_S_FMT, &f);

	if (out)
		*out = f;
	return r;
}

/* Creates a buffer, returns its (tracked) dma-buf fd or -1. */
static int create_buf(int fd, uint32_t *index)
{
	struct zcam_create_buffer c = { .flags = ZCAM_BUF_CLOEXEC };

	if (ioctl(fd, ZCAM_IOC_CREATE_BUF, &c))
		return -1;
	if (index)
		*index = c.index;
	return zt_track(c.fd);
}

/* Queues @buf; the out-fence (if asked for) is tracked. */
static int qbuf(int fd, int buf, int in_fence, uint32_t flags,
		struct zcam_queue *out)
{
	struct zcam_queue q = {
		.buf_fd = buf, .in_fence_fd = in_fence, .flags = flags,
	};
	int r = ioctl(fd, ZCAM_IOC_QBUF, &q);

	if (!r && (flags & ZCAM_QUEUE_OUT_FENCE))
		zt_track(q.out_fence_fd);
	if (out)
		*out = q;
	return r;
}

static int streamon(int fd, uint32_t num, uint32_t den)
{
	struct zcam_stream s = { .fps_num = num, .fps_den = den };

	return ioctl(fd, ZCAM_IOC_STREAMON, &s);
}

/* Waits up to @ms for one completion event. */
static int next_event(int fd, struct zcam_event *ev, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return read(fd, ev, sizeof(*ev)) == sizeof(*ev) ? 0 : -1;
}

/* Waits up to @ms for a sync_file to signal; 0 when it did. */
static int fence_wait(int fence, int ms)
{
	struct pollfd p = { .fd = fence, .events = POLLIN };

	return poll(&p, 1, ms) == 1 ? 0 : -1;
}

struct fence_state {
	int status;		/* 1 signalled, 0 busy, < 0 error */
	uint32_t num_fences;
	uint64_t timestamp_ns;	/* of the first fence */
	char name[32];		/* sync_file name: identifies a single fence */
	char driver[32];
	char timeline[32];
};

static int fence_info(int fence, struct fence_state *st)
{
	struct sync_file_info info = { 0 };
	struct sync_fence_info fi[4] = { 0 };

	if (ioctl(fence, SYNC_IOC_FILE_INFO, &info))
		return -1;
	if (info.num_fences < 1 || info.num_fences > 4)
		return -1;
	info.sync_fence_info = (uintptr_t)fi;
	if (ioctl(fence, SYNC_IOC_FILE_INFO, &info))
		return -1;
	st->status = info.status;
	st->num_fences = info.num_fences;
	st->timestamp_ns = fi[0].timestamp_ns;
	memcpy(st->name, info.name, sizeof(st->name));
	memcpy(st->driver, fi[0].driver_name, sizeof(st->driver));
	memcpy(st->timeline, fi[0].obj_name, sizeof(st->timeline));
	st->name[31] = st->driver[31] = st->timeline[31] = 0;
	return 0;
}

static int cpu_sync(int buf, uint64_t flags)
{
	struct dma_buf_sync s = { .flags = flags };

	return ioctl(buf, DMA_BUF_IOCTL_SYNC, &s);
}

static int export_sync_file(int buf, uint32_t flags)
{
	struct dma_buf_export_sync_file e = { .flags = flags, .fd = -1 };

	if (ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e))
		return -1;
	return zt_track(e.fd);
}

/* Opens the first /dev/dri/cardN driven by @driver (tracked), or -1. */
static int open_drm(const char *driver)
{
	for (int i = 0; i < 16; i++) {
		char path[32];
		drmVersionPtr v;
		int fd;

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		v = drmGetVersion(fd);
		if (v && !strcmp(v->name, driver)) {
			drmFreeVersion(v);
			return zt_track(fd);
		}
		if (v)
			drmFreeVersion(v);
		close(fd);
	}
	return -1;
}

/* Counts the zcam dma-bufs listed in debugfs bufinfo; -1 if unreadable. */
static int bufinfo_count(void)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "re");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* One line per buffer: size flags mode count exp_name ino name */
		char *save, *field = strtok_r(line, "\t\n", &save);
		int i = 0;

		if (!field || line[0] < '0' || line[0] > '9')
			continue;
		while (field && i < 4) {
			field = strtok_r(NULL, "\t\n", &save);
			i++;
		}
		if (field && !strcmp(field, "zcam"))
			n++;
	}
	fclose(f);
	return n;
}

/* ---- the pattern, recomputed from the uapi header's definition --------- */

static void pattern_expect(uint8_t *exp, const struct zcam_format *f, uint64_t s64)
{
	uint32_t s = (uint32_t)s64;
	uint32_t w = f->width, h = f->height;
	uint32_t cells = w / 8 < 32 ? w / 8 : 32;

	memset(exp, 0, f->size);
#define IN_CODE(x, y) (((y) < 8 || (y) >= h - 8) && (x) < 8 * cells)
#define BIT_AT(x) ((s64 >> ((x) / 8)) & 1)
	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++) {
			if (f->fourcc == DRM_FORMAT_XRGB8888) {
				uint8_t *p = exp + y * f->pitches[0] + 4 * x;

				if (IN_CODE(x, y)) {
					uint8_t v = BIT_AT(x) ? 0xff : 0x00;

					p[0] = v, p[1] = v, p[2] = v, p[3] = 0xff;
				} else {
					p[0] = s;		/* B */
					p[1] = y + 2 * s;	/* G */
					p[2] = x + 4 * s;	/* R */
					p[3] = 0xff;		/* X */
				}
			} else if (f->fourcc == DRM_FORMAT_NV12) {
				uint8_t *luma = exp + f->offsets[0] + y * f->pitches[0];

				luma[x] = IN_CODE(x, y) ? (BIT_AT(x) ? 235 : 16) : x + 4 * s;
				if (!(x & 1) && !(y & 1)) {
					uint8_t *c = exp + f->offsets[1] +
						     (y / 2) * f->pitches[1] + x;

					c[0] = IN_CODE(x, y) ? 128 : y + 2 * s;
					c[1] = IN_CODE(x, y) ? 128 : s;
				}
			} else { /* YUYV */
				uint8_t *p = exp + y * f->pitches[0] + 2 * x;

				p[0] = IN_CODE(x, y) ? (BIT_AT(x) ? 235 : 16) : x + 4 * s;
				p[1] = IN_CODE(x & ~1u, y) ? 128 : (x & 1) ? s : y + 2 * s;
			}
		}
	}
#undef IN_CODE
#undef BIT_AT
}

/* Compares a mapped frame with the pattern of @seq; 0 when identical. */
static int pattern_check(const uint8_t *map, const struct zcam_format *f, uint64_t seq)
{
	uint8_t *exp = malloc(f->size);
	int ret = 0;

	if (!exp)
		return -1;
	pattern_expect(exp, f, seq);
	if (memcmp(map, exp, f->size)) {
		size_t i = 0;

		while (map[i] == exp[i])
			i++;
		zt_note("frame %" PRIu64 ": byte %zu is 0x%02x, expected 0x%02x",
			seq, i, map[i], exp[i]);
		ret = -1;
	}
	free(exp);
	return ret;
}

/* ---- cases: device and format ----------------------------------------- */

static int t_querycap(void)
{
	struct zcam_caps c;
	int fd = zopen();

	CHECK(fd >= 0);
	memset(&c, 0xff, sizeof(c));
	CHECK(ioctl(fd, ZCAM_IOC_QUERYCAP, &c) == 0);
	CHECK(c.version == ZCAM_API_VERSION && c.num_formats == 3);
	CHECK(c.formats[0] == DRM_FORMAT_XRGB8888 && c.formats[1] == DRM_FORMAT_NV12 &&
	      c.formats[2] == DRM_FORMAT_YUYV && c.formats[3] == 0);
	CHECK(c.min_width == 16 && c.min_height == 16 && c.max_width == 4096 &&
	      c.max_height == 4096 && c.min_fps == 1 && c.max_fps == 240);
	CHECK(c.pitch_align == 64 && c.max_buffers == 32);
	for (int i = 0; i < 8; i++)
		CHECK(c.reserved[i] == 0);
	return ZT_PASS;
}

static int t_unknown_ioctl(void)
{
	int fd = zopen();
	uint32_t word = 0;

	CHECK(fd >= 0);
	CHECK_ERR(ioctl(fd, _IO(ZCAM_IOC_MAGIC, 0x7f)), ENOTTY);
	/* A known number with the wrong size is a different ioctl. */
	CHECK_ERR(ioctl(fd, _IOWR(ZCAM_IOC_MAGIC, 0x02, uint32_t), &word), ENOTTY);
	return ZT_PASS;
}

static int t_default_format(void)
{
	struct zcam_format f;
	int fd = zopen();

	CHECK(fd >= 0);
	CHECK(ioctl(fd, ZCAM_IOC_G_FMT, &f) == 0);
	CHECK(f.width == 640 && f.height == 480 && f.fourcc == DRM_FORMAT_XRGB8888);
	CHECK(f.num_planes == 1 && f.pitches[0] == 2560 && f.offsets[0] == 0);
	CHECK(f.size == 2560 * 480 && f.pitch_align == 64);
	return ZT_PASS;
}

static int t_format_layouts(void)
{
	struct zcam_format f, g;
	int fd = zopen();

	CHECK(fd >= 0);
	/* NV12 1920x1080 padded to 16 lines: 1088 luma + 544 chroma lines. */
	CHECK(set_fmt(fd, 1920, 1080, DRM_FORMAT_NV12, 0, 16, &f) == 0);
	CHECK(f.num_planes == 2 && f.pitches[0] == 1920 && f.pitches[1] == 1920);
	CHECK(f.offsets[0] == 0 && f.offsets[1] == 1920 * 1088);
	CHECK(f.size == 3133440 && f.height_align == 16);
	CHECK(ioctl(fd, ZCAM_IOC_G_FMT, &g) == 0 && !memcmp(&f, &g, sizeof(f)));
	/* Pitch alignment never below the default, height padding of YUYV. */
	CHECK(set_fmt(fd, 100, 50, DRM_FORMAT_YUYV, 16, 4, &f) == 0);
	CHECK(f.pitches[0] == 256 && f.pitch_align == 64 && f.size == 16384);
	CHECK(set_fmt(fd, 100, 51, DRM_FORMAT_XRGB8888, 1024, 0, &f) == 0);
	CHECK(f.pitches[0] == 1024 && f.size == 53248);
	CHECK(set_fmt(fd, 4096, 4096, DRM_FORMAT_XRGB8888, 0, 0, &f) == 0);
	CHECK(f.size == 64ull << 20);
	return ZT_PASS;
}

static int t_format_try(void)
{
	struct zcam_format f = { .width = 32, .height = 32, .fourcc = DRM_FORMAT_NV12,
				 .flags = ZCAM_FMT_TRY };
	struct zcam_format g;
	int fd = zopen();

	CHECK(fd >= 0);
	CHECK(ioctl(fd, ZCAM_IOC_S_FMT, &f) == 0 && f.num_planes == 2);
	CHECK(ioctl(fd, ZCAM_IOC_G_FMT, &g) == 0 && g.fourcc == DRM_FORMAT_XRGB8888);
	return ZT_PASS;
}

/* One bad format per case: every one must give EINVAL. */
struct bad_fmt {
	const char *name;
	struct zcam_format f;
};

#define BAD(n, w, h, fcc, ...) \
	{ n, { .width = (w), .height = (h), .fourcc = (fcc), __VA_ARGS__ } }
static const struct bad_fmt bad_fmts[] = {
	BAD("fmt-reserved", 64, 64, DRM_FORMAT_XRGB8888, .reserved = { [7] = 1 }),
	BAD("fmt-reserved0", 64, 64, DRM_FORMAT_XRGB8888, .reserved0 = 1),
	BAD("fmt-unknown-flag", 64, 64, DRM_FORMAT_XRGB8888, .flags = 0x2),
	BAD("fmt-unsupported-fourcc", 64, 64, DRM_FORMAT_RGB565),
	BAD("fmt-zero-fourcc", 64, 64, 0),
	BAD("fmt-zero-width", 0, 64, DRM_FORMAT_XRGB8888),
	BAD("fmt-zero-height", 64, 0, DRM_FORMAT_XRGB8888),
	BAD("fmt-too-small", 15, 16, DRM_FORMAT_XRGB8888),
	BAD("fmt-too-wide", 4097, 16, DRM_FORMAT_XRGB8888),
	BAD("fmt-too-tall", 16, 4097, DRM_FORMAT_XRGB8888),
	BAD("fmt-overflow", 0x80000000u, 0x80000000u, DRM_FORMAT_XRGB8888),
	BAD("fmt-nv12-odd-width", 33, 32, DRM_FORMAT_NV12),
	BAD("fmt-nv12-odd-height", 32, 33, DRM_FORMAT_NV12),
	BAD("fmt-yuyv-odd-width", 33, 32, DRM_FORMAT_YUYV),
	BAD("fmt-yuyv-odd-height", 32, 33, DRM_FORMAT_YUYV),
	BAD("fmt-pitch-align-not-pow2", 64, 64, DRM_FORMAT_XRGB8888, .pitch_align = 96),
	BAD("fmt-pitch-align-too-big", 64, 64, DRM_FORMAT_XRGB8888, .pitch_align = 8192),
	BAD("fmt-height-align-not-pow2", 64, 64, DRM_FORMAT_XRGB8888, .height_align = 3),
	BAD("fmt-height-align-too-big", 64, 64, DRM_FORMAT_XRGB8888, .height_align = 128),
};
#undef BAD

static int bad_fmt_index;

static int t_bad_format(void)
{
	struct zcam_format f = bad_fmts[bad_fmt_index++].f;
	struct zcam_format g;
	int fd = zopen();

	CHECK(fd >= 0);
	CHECK_ERR(ioctl(fd, ZCAM_IOC_S_FMT, &f), EINVAL);
	f.flags |= ZCAM_FMT_TRY;
	CHECK_ERR(ioctl(fd, ZCAM_IOC_S_FMT, &f), EINVAL);
	CHECK(ioctl(fd, ZCAM_IOC_G_FMT, &g) == 0 && g.width == 640);
	return ZT_PASS;
}

static int t_format_busy(void)
{
	int fd = zopen(), buf;

	CHECK(fd >= 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	CHECK_ERR(set_fmt(fd, 64, 64, DRM_FORMAT_NV12, 0, 0, NULL), EBUSY);
	/* Once the last reference to the buffer is gone, S_FMT works again. */
	zt_close(buf);
	CHECK(set_fmt(fd, 64, 64, DRM_FORMAT_NV12, 0, 0, NULL) == 0);
	CHECK(streamon(fd, 30, 1) == 0);
	CHECK_ERR(set_fmt(fd, 64, 64, DRM_FORMAT_YUYV, 0, 0, NULL), EBUSY);
	return ZT_PASS;
}

/* ---- cases: buffers --------------------------------------------------- */

static int t_create_bad(void)
{
	struct zcam_create_buffer c = { .flags = 0x2 };
	long long before = stat_get("live_buffers");
	int fd = zopen();

	CHECK(fd >= 0);
	CHECK_ERR(ioctl(fd, ZCAM_IOC_CREATE_BUF, &c), EINVAL);
	c = (struct zcam_create_buffer){ .reserved0 = 1 };
	CHECK_ERR(ioctl(fd, ZCAM_IOC_CREATE_BUF, &c), EINVAL);
	c = (struct zcam_create_buffer){ .reserved[5] = 1 };
	CHECK_ERR(ioctl(fd, ZCAM_IOC_CREATE_BUF, &c), EINVAL);
	CHECK(stat_get("live_buffers") == before);
	return ZT_PASS;
}

static int t_create_cloexec(void)
{
	struct zcam_create_buffer c = { 0 };
	int fd = zopen();

	CHECK(fd >= 0);
	CHECK(ioctl(fd, ZCAM_IOC_CREATE_BUF, &c) == 0);
	zt_track(c.fd);
	CHECK(!(fcntl(c.fd, F_GETFD) & FD_CLOEXEC));
	CHECK((fcntl(c.fd, F_GETFL) & O_ACCMODE) == O_RDWR);
	c = (struct zcam_create_buffer){ .flags = ZCAM_BUF_CLOEXEC };
	CHECK(ioctl(fd, ZCAM_IOC_CREATE_BUF, &c) == 0);
	zt_track(c.fd);
	CHECK(fcntl(c.fd, F_GETFD) & FD_CLOEXEC);
	CHECK(c.index == 1 && c.size == 2560 * 480);
	return ZT_PASS;
}

static int t_too_many_buffers(void)
{
	int fd = zopen(), bufs[32], extra, listed = bufinfo_count();
	long long before = stat_get("live_buffers");
	uint32_t index;

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 16, 16, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	for (int i = 0; i < 32; i++) {
		bufs[i] = create_buf(fd, &index);
		CHECK(bufs[i] >= 0 && index == (uint32_t)i);
	}
	CHECK(stat_get("live_buffers") == before + 32);
	CHECK_ERR(create_buf(fd, NULL), ENOSPC);
	CHECK(stat_get("live_buffers") == before + 32 && bufinfo_count() == listed + 32);
	/* Freeing one buffer frees its index for the next one. */
	zt_close(bufs[7]);
	extra = create_buf(fd, &index);
	CHECK(extra >= 0 && index == 7);
	return ZT_PASS;
}

/*
 * Runs CREATE_BUF for a 64 MiB buffer inside a memory cgroup limited to
 * 16 MiB: the pages are charged to the caller, so this is a real ENOMEM.
 */
static int t_create_enomem(void)
{
	const char *cg = "/sys/fs/cgroup";
	char dir[128], path[160], pid[32];
	struct statfs sfs;
	bool mounted = false;
	int fd = zopen(), buf, err, ok;
	long long before = stat_get("live_buffers");

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 4096, 4096, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	if (statfs(cg, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		if (mount("none", cg, "cgroup2", 0, NULL))
			SKIP("cannot mount cgroup2 at %s: %s", cg, strerror(errno));
		mounted = true;
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", cg);
	write_file(path, "+memory");
	snprintf(dir, sizeof(dir), "%s/zcam-test-%d", cg, getpid());
	if (mkdir(dir, 0755)) {
		err = errno;
		if (mounted)
			umount(cg);
		SKIP("cannot create %s: %s", dir, strerror(err));
	}
	snprintf(path, sizeof(path), "%s/memory.max", dir);
	ok = write_file(path, "16M") == 0;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	ok = ok && write_file(path, pid) == 0;

	errno = 0;
	buf = ok ? create_buf(fd, NULL) : -1;
	err = errno;

	/* Back to the root group, whatever happened. */
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	write_file(path, pid);
	rmdir(dir);
	if (mounted)
		umount(cg);
	if (!ok)
		SKIP("no memory controller");
	CHECK(buf == -1 && err == ENOMEM);
	CHECK(stat_get("live_buffers") == before);
	/* Nothing was lost: the same request works outside the limit. */
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0 && stat_get("live_buffers") == before + 1);
	return ZT_PASS;
}

static int t_mmap(void)
{
	struct zcam_format f;
	int fd = zopen(), buf;
	uint8_t *all, *part;
	size_t page = sysconf(_SC_PAGESIZE);

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 64, 64, DRM_FORMAT_XRGB8888, 0, 0, &f) == 0);
	CHECK(f.size == 4 * page);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	all = zt_mmap(f.size, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	CHECK(all != MAP_FAILED);
	for (size_t i = 0; i < f.size; i++)
		CHECK(all[i] == 0);
	/* Private mappings, and mappings past the end, are refused. */
	CHECK(mmap(NULL, f.size, PROT_READ, MAP_PRIVATE, buf, 0) == MAP_FAILED);
	CHECK(mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, buf, 3 * page) == MAP_FAILED);
	/* A partial mapping at an offset sees the same pages. */
	part = zt_mmap(2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 2 * page);
	CHECK(part != MAP_FAILED);
	CHECK(cpu_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE) == 0);
	for (size_t i = 0; i < f.size; i++)
		all[i] = (uint8_t)(i * 7 + i / page);
	CHECK(cpu_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE) == 0);
	CHECK(cpu_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ) == 0);
	CHECK(!memcmp(part, all + 2 * page, 2 * page));
	part[5] = 0xa5;
	CHECK(all[2 * page + 5] == 0xa5);
	CHECK(cpu_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ) == 0);
	CHECK_ERR(cpu_sync(buf, 0x100), EINVAL);
	return ZT_PASS;
}

static int t_set_name(void)
{
	char path[64], line[256];
	bool exp_ok = false, name_ok = false;
	int fd = zopen(), buf;
	FILE *f;

	CHECK(fd >= 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	CHECK(ioctl(buf, DMA_BUF_SET_NAME_B, "zcam-test-frame") == 0);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", buf);
	f = fopen(path, "re");
	CHECK(f);
	while (fgets(line, sizeof(line), f)) {
		exp_ok |= !strcmp(line, "exp_name:\tzcam\n");
		name_ok |= !strcmp(line, "name:\tzcam-test-frame\n");
	}
	fclose(f);
	CHECK(exp_ok && name_ok);
	return ZT_PASS;
}

/* ---- cases: queueing -------------------------------------------------- */

static int t_qbuf_bad(void)
{
	struct zcam_queue q;
	int fd = zopen(), other = zopen(), buf, obuf, p[2];

	CHECK(fd >= 0 && other >= 0);
	buf = create_buf(fd, NULL);
	obuf = create_buf(other, NULL);
	CHECK(buf >= 0 && obuf >= 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	zt_track(p[0]);
	zt_track(p[1]);

	q = (struct zcam_queue){ .buf_fd = buf, .reserved0 = 1 };
	CHECK_ERR(ioctl(fd, ZCAM_IOC_QBUF, &q), EINVAL);
	q = (struct zcam_queue){ .buf_fd = buf, .reserved[3] = 1 };
	CHECK_ERR(ioctl(fd, ZCAM_IOC_QBUF, &q), EINVAL);
	CHECK_ERR(qbuf(fd, buf, -1, 0x8, NULL), EINVAL);
	CHECK_ERR(qbuf(fd, -1, -1, 0, NULL), EBADF);
	CHECK_ERR(qbuf(fd, 999, -1, 0, NULL), EBADF);
	/* Not a dma-buf, and another open file's dma-buf. */
	CHECK_ERR(qbuf(fd, p[0], -1, 0, NULL), EINVAL);
	CHECK_ERR(qbuf(fd, obuf, -1, 0, NULL), EINVAL);
	/* Bad in-fences. */
	CHECK_ERR(qbuf(fd, buf, -1, ZCAM_QUEUE_IN_FENCE, NULL), EBADF);
	CHECK_ERR(qbuf(fd, buf, p[0], ZCAM_QUEUE_IN_FENCE, NULL), EINVAL);
	CHECK_ERR(qbuf(fd, buf, buf, ZCAM_QUEUE_IN_FENCE, NULL), EINVAL);
	/* None of the failures queued anything: now it works, then EBUSY. */
	CHECK(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0 && q.sequence == 0);
	CHECK_ERR(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE, NULL), EBUSY);
	return ZT_PASS;
}

static int t_qbuf_foreign_dmabuf(void)
{
	struct drm_mode_create_dumb d = { .width = 64, .height = 64, .bpp = 32 };
	int fd = zopen(), vgem = open_drm("vgem"), prime;

	CHECK(fd >= 0);
	if (vgem < 0)
		SKIP("no vgem device");
	CHECK(drmIoctl(vgem, DRM_IOCTL_MODE_CREATE_DUMB, &d) == 0);
	CHECK(drmPrimeHandleToFD(vgem, d.handle, DRM_CLOEXEC | DRM_RDWR, &prime) == 0);
	zt_track(prime);
	CHECK_ERR(qbuf(fd, prime, -1, 0, NULL), EINVAL);
	return ZT_PASS;
}

static int t_streamon_bad(void)
{
	struct zcam_stream s = { .fps_num = 30, .fps_den = 1, .reserved[4] = 1 };
	int fd = zopen();

	CHECK(fd >= 0);
	CHECK_ERR(ioctl(fd, ZCAM_IOC_STREAMON, &s), EINVAL);
	s = (struct zcam_stream){ .fps_num = 30, .fps_den = 1, .flags = 1 };
	CHECK_ERR(ioctl(fd, ZCAM_IOC_STREAMON, &s), EINVAL);
	CHECK_ERR(streamon(fd, 0, 1), EINVAL);
	CHECK_ERR(streamon(fd, 30, 0), EINVAL);
	CHECK_ERR(streamon(fd, 241, 1), EINVAL);
	CHECK_ERR(streamon(fd, 1, 2), EINVAL);
	CHECK(streamon(fd, 30000, 1001) == 0);
	CHECK_ERR(streamon(fd, 30, 1), EBUSY);
	CHECK(ioctl(fd, ZCAM_IOC_STREAMOFF) == 0);
	CHECK(ioctl(fd, ZCAM_IOC_STREAMOFF) == 0);
	CHECK(streamon(fd, 240, 1) == 0);
	return ZT_PASS;
}

static int t_read_bad(void)
{
	struct zcam_event ev[2];
	int fd = zopen();

	CHECK(fd >= 0);
	CHECK_ERR(read(fd, ev, sizeof(ev[0]) - 1), EINVAL);
	CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
	CHECK_ERR(read(fd, ev, sizeof(ev)), EAGAIN);
	return ZT_PASS;
}

/*
 * Reads the events left after STREAMOFF (the cancelled frames) and adds
 * their sequence gaps to *@gaps; *@next is the sequence the next frame has
 * without a gap. Returns the number of events or -1.
 */
static int drain_gaps(int fd, uint64_t *next, long long *gaps)
{
	struct zcam_event ev;
	int n = 0;

	while (next_event(fd, &ev, 0) == 0) {
		if (ev.sequence < *next)
			return -1;
		*gaps += ev.sequence - *next;
		*next = ev.sequence + 1;
		n++;
	}
	return n;
}

/*
 * Streams @frames frames through @nbufs buffers, checking every frame's
 * pixels against the pattern of its sequence number, that the sequence is
 * never below what QBUF promised, the timestamps, and that every sequence
 * gap is counted as a drop (gaps are expected when the engine runs late).
 */
static int stream_and_check(uint32_t w, uint32_t h, uint32_t fourcc, uint32_t pa,
			    uint32_t ha, unsigned int fps, int frames)
{
	enum { NBUFS = 4 };
	struct zcam_format f;
	int fd = zopen(), bufs[NBUFS];
	uint8_t *maps[NBUFS];
	uint64_t min_seq[NBUFS], next = 0, last_ts = 0;
	long long drops = stat_get("drops"), gaps = 0;
	int late = 0;

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, w, h, fourcc, pa, ha, &f) == 0);
	for (int i = 0; i < NBUFS; i++) {
		struct zcam_queue q;
		uint32_t index;

		bufs[i] = create_buf(fd, &index);
		CHECK(bufs[i] >= 0 && index == (uint32_t)i);
		maps[i] = zt_mmap(f.size, PROT_READ, MAP_SHARED, bufs[i], 0);
		CHECK(maps[i] != MAP_FAILED);
		CHECK(qbuf(fd, bufs[i], -1, 0, &q) == 0);
		CHECK(q.index == (uint32_t)i && q.sequence == (uint64_t)i &&
		      q.out_fence_fd == -1);
		min_seq[i] = q.sequence;
	}
	CHECK(streamon(fd, fps, 1) == 0);
	for (int n = 0; n < frames; n++) {
		struct zcam_event ev;
		struct zcam_queue q;

		CHECK(next_event(fd, &ev, 5000) == 0);
		CHECK(ev.type == ZCAM_EVENT_FRAME && ev.flags == 0 && ev.error == 0);
		CHECK(ev.index < NBUFS && ev.sequence >= min_seq[ev.index]);
		CHECK(ev.sequence >= next && (n == 0 || ev.timestamp_ns > last_ts));
		CHECK(ev.timestamp_ns <= now_ns());
		if (ev.sequence != min_seq[ev.index])
			late++;
		gaps += ev.sequence - next;
		next = ev.sequence + 1;
		last_ts = ev.timestamp_ns;

		CHECK(cpu_sync(bufs[ev.index], DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ) == 0);
		CHECK(pattern_check(maps[ev.index], &f, ev.sequence) == 0);
		CHECK(cpu_sync(bufs[ev.index], DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ) == 0);

		CHECK(qbuf(fd, bufs[ev.index], -1, 0, &q) == 0);
		CHECK(q.index == ev.index && q.sequence > ev.sequence);
		min_seq[ev.index] = q.sequence;
	}
	CHECK(ioctl(fd, ZCAM_IOC_STREAMOFF) == 0);
	CHECK(drain_gaps(fd, &next, &gaps) >= 0);
	zt_note("%d frames %ux%u at %u fps, last sequence %" PRIu64 ", %lld gaps, "
		"%d frames later than QBUF's sequence", frames, w, h, fps, next - 1,
		gaps, late);
	/* Every frame period lost is a drop, and only those. */
	CHECK(stat_get("drops") - drops == gaps);
	return ZT_PASS;
}

static int t_pattern_xrgb8888(void)
{
	return stream_and_check(64, 32, DRM_FORMAT_XRGB8888, 0, 0, 240, 300);
}

static int t_pattern_nv12(void)
{
	/* Odd sizes for padding: 8 padding lines, 16 padding bytes per line. */
	return stream_and_check(48, 18, DRM_FORMAT_NV12, 0, 8, 120, 40);
}

static int t_pattern_yuyv(void)
{
	/* Fewer than 32 cells, wider pitch than needed. */
	return stream_and_check(40, 18, DRM_FORMAT_YUYV, 128, 0, 120, 40);
}

static int t_pattern_wide(void)
{
	/* 32 code cells and a 32-bit sequence code over 8 lines of 300. */
	return stream_and_check(320, 300, DRM_FORMAT_XRGB8888, 0, 0, 60, 10);
}

static int t_out_fence(void)
{
	struct fence_state a, b;
	struct zcam_queue q;
	struct zcam_event ev;
	uint64_t t0;
	int fd = zopen(), buf;

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 64, 64, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	t0 = now_ns();
	CHECK(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE | ZCAM_QUEUE_FENCE_CLOEXEC, &q) == 0);
	CHECK(q.out_fence_fd >= 0 && (fcntl(q.out_fence_fd, F_GETFD) & FD_CLOEXEC));
	CHECK(fence_info(q.out_fence_fd, &a) == 0);
	CHECK(a.status == 0 && a.num_fences == 1);
	CHECK(!strcmp(a.driver, "zcam") && !strncmp(a.timeline, "zcam", 4));
	/* Not streaming yet: nothing happens. */
	CHECK(fence_wait(q.out_fence_fd, 100) == -1);
	CHECK(streamon(fd, 2, 1) == 0);
	CHECK(fence_wait(q.out_fence_fd, 100) == -1);
	CHECK(fence_info(q.out_fence_fd, &a) == 0 && a.status == 0);
	CHECK(fence_wait(q.out_fence_fd, 5000) == 0);
	CHECK(fence_info(q.out_fence_fd, &b) == 0);
	CHECK(b.status == 1 && b.timestamp_ns > t0 && b.timestamp_ns <= now_ns());
	/* The event carries the fence's signal time. */
	CHECK(next_event(fd, &ev, 1000) == 0);
	CHECK(ev.sequence >= q.sequence && ev.timestamp_ns == b.timestamp_ns);
	/* Without ZCAM_QUEUE_OUT_FENCE there is no fd; no CLOEXEC: inheritable. */
	CHECK(qbuf(fd, buf, -1, 0, &q) == 0 && q.out_fence_fd == -1);
	CHECK(next_event(fd, &ev, 5000) == 0);
	CHECK(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0);
	CHECK(!(fcntl(q.out_fence_fd, F_GETFD) & FD_CLOEXEC));
	return ZT_PASS;
}

static int t_export_sync_file(void)
{
	struct fence_state out, exp, done;
	struct zcam_queue q;
	int fd = zopen(), buf, ex;

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 64, 64, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	CHECK(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0);
	/* A reader's view of the buffer: the frame's WRITE fence. */
	ex = export_sync_file(buf, DMA_BUF_SYNC_READ);
	CHECK(ex >= 0);
	CHECK(fence_info(q.out_fence_fd, &out) == 0 && fence_info(ex, &exp) == 0);
	CHECK(exp.num_fences == 1 && exp.status == 0);
	CHECK(!strcmp(out.name, exp.name));
	CHECK(streamon(fd, 30, 1) == 0);
	CHECK(fence_wait(ex, 5000) == 0);
	CHECK(fence_info(q.out_fence_fd, &out) == 0 && fence_info(ex, &done) == 0);
	CHECK(out.status == 1 && done.status == 1 && out.timestamp_ns == done.timestamp_ns);
	return ZT_PASS;
}

static int t_cpu_sync_waits(void)
{
	struct zcam_event ev;
	struct fence_state st;
	struct zcam_format f;
	struct zcam_queue q;
	int fd = zopen(), buf;
	uint8_t *map;

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 64, 64, DRM_FORMAT_XRGB8888, 0, 0, &f) == 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	map = zt_mmap(f.size, PROT_READ, MAP_SHARED, buf, 0);
	CHECK(map != MAP_FAILED);
	CHECK(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0);
	CHECK(streamon(fd, 10, 1) == 0);
	/* Implicit sync: the CPU read waits for the frame's fence. */
	CHECK(cpu_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ) == 0);
	CHECK(fence_info(q.out_fence_fd, &st) == 0 && st.status == 1);
	CHECK(next_event(fd, &ev, 5000) == 0 && ev.sequence >= q.sequence);
	CHECK(pattern_check(map, &f, ev.sequence) == 0);
	CHECK(cpu_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ) == 0);
	return ZT_PASS;
}

static int t_events_poll(void)
{
	struct pollfd p;
	struct zcam_event ev[4];
	int fd = zopen(), bufs[2], fences[2];

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 16, 16, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	for (int i = 0; i < 2; i++) {
		struct zcam_queue q;

		bufs[i] = create_buf(fd, NULL);
		CHECK(bufs[i] >= 0);
		CHECK(qbuf(fd, bufs[i], -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0);
		fences[i] = q.out_fence_fd;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	CHECK(poll(&p, 1, 0) == 0);
	CHECK(streamon(fd, 100, 1) == 0);
	CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN));
	CHECK(fence_wait(fences[0], 5000) == 0 && fence_wait(fences[1], 5000) == 0);
	/* One read returns every pending event, whole. */
	CHECK(read(fd, ev, sizeof(ev)) == 2 * sizeof(ev[0]));
	CHECK(ev[0].index == 0 && ev[1].index == 1 && ev[0].sequence < ev[1].sequence);
	CHECK(poll(&p, 1, 0) == 0);
	return ZT_PASS;
}

/* ---- cases: cancellation and fault injection --------------------------- */

static int queue_three(int fd, int bufs[3], int fences[3])
{
	CHECK(set_fmt(fd, 32, 32, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	for (int i = 0; i < 3; i++) {
		struct zcam_queue q;

		bufs[i] = create_buf(fd, NULL);
		CHECK(bufs[i] >= 0);
		CHECK(qbuf(fd, bufs[i], -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0);
		fences[i] = q.out_fence_fd;
	}
	return ZT_PASS;
}

static int t_streamoff_cancels(void)
{
	struct fence_state st;
	struct zcam_event ev;
	struct zcam_queue q;
	int fd = zopen(), bufs[3], fences[3];
	long long errors = stat_get("fence_errors");

	CHECK(fd >= 0);
	CHECK(queue_three(fd, bufs, fences) == ZT_PASS);
	/* 1 fps: the first tick is a second away. */
	CHECK(streamon(fd, 1, 1) == 0);
	CHECK(ioctl(fd, ZCAM_IOC_STREAMOFF) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK(fence_info(fences[i], &st) == 0 && st.status == -ECANCELED);
		CHECK(next_event(fd, &ev, 0) == 0);
		CHECK(ev.index == (uint32_t)i && ev.flags == ZCAM_EVENT_ERROR &&
		      ev.error == -ECANCELED);
	}
	CHECK(stat_get("fence_errors") == errors + 3);
	/* A new stream starts over at sequence 0 and works. */
	CHECK(qbuf(fd, bufs[0], -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0 && q.sequence == 0);
	CHECK(streamon(fd, 60, 1) == 0);
	CHECK(fence_wait(q.out_fence_fd, 5000) == 0);
	CHECK(fence_info(q.out_fence_fd, &st) == 0 && st.status == 1);
	return ZT_PASS;
}

static int t_close_cancels(void)
{
	struct fence_state st;
	int fd = zopen(), bufs[3], fences[3];
	uint8_t *map;

	CHECK(fd >= 0);
	CHECK(queue_three(fd, bufs, fences) == ZT_PASS);
	CHECK(streamon(fd, 1, 1) == 0);
	CHECK(zt_close(fd) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(fence_info(fences[i], &st) == 0 && st.status == -ECANCELED);
	/* The buffers are still fine. */
	map = zt_mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, bufs[2], 0);
	CHECK(map != MAP_FAILED && map[100] == 0);
	return ZT_PASS;
}

static int t_close_while_waiting(void)
{
	struct zc_vgem_fence_attach a = { .flags = ZC_VGEM_FENCE_WRITE };
	struct zc_vgem_fence_signal sig = { 0 };
	struct fence_state st;
	struct zcam_queue q;
	uint32_t handle;
	int fd = zopen(), vgem = open_drm("vgem"), buf;
	uint64_t t0;

	CHECK(fd >= 0);
	if (vgem < 0)
		SKIP("no vgem device");
	CHECK(set_fmt(fd, 32, 32, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	CHECK(drmPrimeFDToHandle(vgem, buf, &handle) == 0);
	a.handle = handle;
	CHECK(drmIoctl(vgem, ZC_IOCTL_VGEM_FENCE_ATTACH, &a) == 0);
	CHECK(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0);
	CHECK(streamon(fd, 100, 1) == 0);
	sleep_ms(100);
	/* The engine is blocked in the fence wait; close must not be. */
	t0 = now_ns();
	CHECK(zt_close(fd) == 0);
	CHECK(now_ns() - t0 < 500000000ull);
	CHECK(fence_info(q.out_fence_fd, &st) == 0 && st.status == -ECANCELED);
	sig.fence = a.out_fence;
	CHECK(drmIoctl(vgem, ZC_IOCTL_VGEM_FENCE_SIGNAL, &sig) == 0);
	return ZT_PASS;
}

static int t_fail_fences(void)
{
	struct fence_state st;
	struct zcam_event ev;
	struct zcam_queue q[3];
	int fd = zopen(), bufs[3];
	long long errors = stat_get("fence_errors");

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 32, 32, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	CHECK(dbg_write("fail_fences", 2) == 0);
	for (int i = 0; i < 3; i++) {
		bufs[i] = create_buf(fd, NULL);
		CHECK(bufs[i] >= 0);
		CHECK(qbuf(fd, bufs[i], -1, ZCAM_QUEUE_OUT_FENCE, &q[i]) == 0);
	}
	CHECK(streamon(fd, 60, 1) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK(next_event(fd, &ev, 5000) == 0);
		CHECK(ev.index == q[i].index && ev.sequence >= q[i].sequence);
		CHECK(fence_info(q[i].out_fence_fd, &st) == 0);
		if (i < 2)
			CHECK(ev.error == -EIO && ev.flags == ZCAM_EVENT_ERROR &&
			      st.status == -EIO);
		else
			CHECK(ev.error == 0 && ev.flags == 0 && st.status == 1);
	}
	CHECK(stat_get("fence_errors") == errors + 2);
	return ZT_PASS;
}

static int t_drop_frames(void)
{
	struct zcam_event ev;
	struct zcam_queue q0, q1;
	int fd = zopen(), b0, b1;
	long long drops = stat_get("drops");
	uint64_t next = 0;
	long long gaps = 0;

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 32, 32, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	b0 = create_buf(fd, NULL);
	b1 = create_buf(fd, NULL);
	CHECK(b0 >= 0 && b1 >= 0);
	CHECK(qbuf(fd, b0, -1, 0, &q0) == 0 && q0.sequence == 0);
	CHECK(dbg_write("drop_frames", 3) == 0);
	CHECK(qbuf(fd, b1, -1, 0, &q1) == 0);
	/* The three lost frames are the gap before the next one queued. */
	CHECK(q1.sequence == 4);
	CHECK(streamon(fd, 120, 1) == 0);
	CHECK(next_event(fd, &ev, 5000) == 0 && ev.sequence == 0 && !ev.error);
	next = 1;
	/* The engine idles those periods: never captured before 4. */
	CHECK(next_event(fd, &ev, 5000) == 0 && ev.sequence >= 4 && !ev.error);
	gaps = ev.sequence - next;
	next = ev.sequence + 1;
	CHECK(ioctl(fd, ZCAM_IOC_STREAMOFF) == 0);
	CHECK(drain_gaps(fd, &next, &gaps) == 0);
	/* Counted when the gap shows, at the capture. */
	CHECK(gaps >= 3 && stat_get("drops") - drops == gaps);
	return ZT_PASS;
}

static int t_underrun_gap(void)
{
	struct zcam_event ev;
	struct zcam_queue q;
	int fd = zopen(), buf;
	long long drops = stat_get("drops"), gaps;

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 16, 16, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	CHECK(qbuf(fd, buf, -1, 0, &q) == 0 && q.sequence == 0);
	CHECK(streamon(fd, 100, 1) == 0);
	CHECK(next_event(fd, &ev, 5000) == 0);
	gaps = ev.sequence;
	/* Nothing queued for a while: the camera kept going without us. */
	sleep_ms(200);
	CHECK(qbuf(fd, buf, -1, 0, &q) == 0);
	zt_note("sequence after 200 ms without buffers: QBUF %" PRIu64, (uint64_t)q.sequence);
	CHECK(q.sequence > ev.sequence + 1);
	{
		uint64_t prev = ev.sequence;

		CHECK(next_event(fd, &ev, 5000) == 0 && ev.sequence >= q.sequence);
		gaps += ev.sequence - prev - 1;
	}
	CHECK(ioctl(fd, ZCAM_IOC_STREAMOFF) == 0);
	/* The periods without a buffer are the drops. */
	CHECK(stat_get("drops") - drops == gaps);
	return ZT_PASS;
}

/*
 * Measures how late 1 ms sleeps wake while the engine works, as a figure for
 * the log only: a timing target is not a pass/fail criterion on a shared,
 * emulated machine.
 */
struct sleeper {
	volatile bool stop;
	unsigned long sleeps, late_100ms;
	uint64_t max_late_ns;
};

static void *sleeper_fn(void *arg)
{
	struct sleeper *sl = arg;

	while (!sl->stop) {
		uint64_t t = now_ns(), late;

		sleep_ms(1);
		late = now_ns() - t;
		late = late > 1000000 ? late - 1000000 : 0;
		sl->sleeps++;
		if (late > 100000000ull)
			sl->late_100ms++;
		if (late > sl->max_late_ns)
			sl->max_late_ns = late;
	}
	return NULL;
}

/*
 * A 4K frame at 240 fps: the engine cannot keep up (under emulation one
 * frame takes far longer than a period), so most periods are lost. The
 * sequence must still follow the clock: a frame read out after its
 * predecessor completed and completed at its timestamp has a sequence
 * between the periods ended at those two times (t0 from before/after
 * STREAMON). No wall-clock bound: only the driver's own timestamps.
 */
static int t_sequence_follows_clock(void)
{
	enum { NBUFS = 3, FRAMES = 24, FPS = 240 };
	const uint64_t period = 1000000000ull / FPS;
	struct zcam_event evs[FRAMES];
	struct sleeper sl = { 0 };
	pthread_t thread;
	int fd = zopen(), bufs[NBUFS], n = 0, outside = 0;
	long long drops = stat_get("drops"), gaps = 0;
	uint64_t t_before, t_after, next = 0, prev_ts;
	bool thread_ok;

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 3840, 2160, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	for (int i = 0; i < NBUFS; i++) {
		struct zcam_queue q;

		bufs[i] = create_buf(fd, NULL);
		CHECK(bufs[i] >= 0);
		CHECK(qbuf(fd, bufs[i], -1, 0, &q) == 0);
	}
	thread_ok = pthread_create(&thread, NULL, sleeper_fn, &sl) == 0;
	t_before = now_ns();
	CHECK(streamon(fd, FPS, 1) == 0);
	t_after = now_ns();
	for (n = 0; n < FRAMES; n++) {
		struct zcam_queue q;

		if (next_event(fd, &evs[n], 30000))
			break;
		if (evs[n].error || qbuf(fd, bufs[evs[n].index], -1, 0, &q))
			break;
	}
	sl.stop = true;
	if (thread_ok)
		pthread_join(thread, NULL);
	CHECK(ioctl(fd, ZCAM_IOC_STREAMOFF) == 0);
	CHECK(n == FRAMES);

	prev_ts = t_after;
	for (int i = 0; i < n; i++) {
		uint64_t lo = (prev_ts - t_after) / period, hi = (evs[i].timestamp_ns - t_before) / period;

		/* Read out at or after prev_ts, before its own timestamp. */
		if (evs[i].sequence + 2 < lo || evs[i].sequence + 1 > hi ||
		    evs[i].sequence < next) {
			zt_note("frame %d: sequence %" PRIu64 " outside periods %" PRIu64
				" .. %" PRIu64, i, (uint64_t)evs[i].sequence, lo, hi);
			outside++;
		}
		if (evs[i].sequence >= next)
			gaps += evs[i].sequence - next;
		next = evs[i].sequence + 1;
		prev_ts = evs[i].timestamp_ns;
	}
	CHECK(drain_gaps(fd, &next, &gaps) >= 0);
	zt_note("4K at %d fps: %d frames in %.2f s, sequence %" PRIu64 " .. %" PRIu64
		" (%" PRIu64 " periods between first and last timestamp), %lld drops",
		FPS, n, (evs[n - 1].timestamp_ns - t_before) / 1e9,
		(uint64_t)evs[0].sequence, (uint64_t)evs[n - 1].sequence,
		(evs[n - 1].timestamp_ns - evs[0].timestamp_ns) / period,
		stat_get("drops") - drops);
	if (thread_ok)
		zt_note("1 ms sleeps meanwhile: %lu, %lu woke > 100 ms late, worst %.1f ms late",
			sl.sleeps, sl.late_100ms, sl.max_late_ns / 1e6);
	/*
	 * last - first matches the periods between their timestamps, within
	 * +-2 plus the duration of one frame: the sequence is taken when the
	 * readout starts, the timestamp when it ends (bounded by the time
	 * from STREAMON to the first, and from the one before the last to
	 * the last completion).
	 */
	{
		uint64_t span = (evs[n - 1].timestamp_ns - evs[0].timestamp_ns) / period;
		uint64_t seqs = evs[n - 1].sequence - evs[0].sequence;
		uint64_t w0 = evs[0].timestamp_ns - t_before;
		uint64_t w1 = evs[n - 1].timestamp_ns - evs[n - 2].timestamp_ns;
		uint64_t slack = (w0 > w1 ? w0 : w1) / period + 2;

		zt_note("last - first sequence %" PRIu64 ", periods %" PRIu64
			", allowed difference %" PRIu64, seqs, span, slack);

		CHECK(seqs + slack >= span && seqs <= span + slack);
	}
	CHECK(outside == 0);
	CHECK(stat_get("drops") - drops == gaps);
	return ZT_PASS;
}

/*
 * A buffer queued without STREAMON: its published fences (sync_file and
 * the implicit one in the dma-buf) signal -ETIMEDOUT after
 * start_timeout_ms instead of staying busy until close. The poll timeout
 * is far above the bound; only the order of events is asserted.
 */
static int t_fence_expires_without_streamon(void)
{
	struct fence_state st, ex_st;
	struct zcam_event ev;
	struct zcam_queue q;
	int fd = zopen(), buf, ex;
	uint64_t t0;

	CHECK(fd >= 0);
	CHECK(param_write("start_timeout_ms", 300) == 0);
	CHECK(set_fmt(fd, 32, 32, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	t0 = now_ns();
	CHECK(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0);
	ex = export_sync_file(buf, DMA_BUF_SYNC_READ);
	CHECK(ex >= 0);
	CHECK(fence_wait(q.out_fence_fd, 30000) == 0);
	CHECK(fence_info(q.out_fence_fd, &st) == 0 && st.status == -ETIMEDOUT);
	CHECK(st.timestamp_ns >= t0 + 300000000ull);
	/* The implicit fence is the same fence. */
	CHECK(fence_wait(ex, 30000) == 0);
	CHECK(fence_info(ex, &ex_st) == 0 && ex_st.status == -ETIMEDOUT);
	CHECK(cpu_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ) == 0);
	CHECK(cpu_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ) == 0);
	CHECK(next_event(fd, &ev, 30000) == 0);
	CHECK(ev.flags == ZCAM_EVENT_ERROR && ev.error == -ETIMEDOUT &&
	      ev.sequence == q.sequence && ev.timestamp_ns == st.timestamp_ns);
	/* The buffer is free again, and a later STREAMON captures it. */
	CHECK(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0);
	CHECK(q.sequence == ev.sequence + 1);
	CHECK(streamon(fd, 60, 1) == 0);
	CHECK(fence_wait(q.out_fence_fd, 30000) == 0);
	CHECK(fence_info(q.out_fence_fd, &st) == 0 && st.status == 1);
	CHECK(next_event(fd, &ev, 30000) == 0 && !ev.error && ev.sequence >= q.sequence);
	return ZT_PASS;
}

static int t_fence_delay(void)
{
	struct fence_state st;
	struct zcam_queue q;
	int fd = zopen(), buf;
	uint64_t t0;

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 16, 16, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	CHECK(dbg_write("fence_delay_ms", 300) == 0);
	CHECK(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0);
	t0 = now_ns();
	CHECK(streamon(fd, 200, 1) == 0);
	CHECK(fence_wait(q.out_fence_fd, 5000) == 0);
	CHECK(fence_info(q.out_fence_fd, &st) == 0 && st.status == 1);
	CHECK(st.timestamp_ns - t0 >= 300000000ull);
	return ZT_PASS;
}

/* ---- cases: other drivers ---------------------------------------------- */

/* vgem holds a WRITE fence on the buffer; capture waits until it signals. */
static int vgem_fence_case(bool explicit_in_fence)
{
	struct zc_vgem_fence_attach a = { .flags = ZC_VGEM_FENCE_WRITE };
	struct zc_vgem_fence_signal sig = { 0 };
	struct fence_state st;
	struct zcam_format f;
	struct zcam_queue q;
	uint32_t handle, flags = ZCAM_QUEUE_OUT_FENCE;
	struct zcam_event ev;
	int fd = zopen(), vgem = open_drm("vgem"), buf, in = -1;
	uint64_t t_signal;
	uint8_t *map;

	CHECK(fd >= 0);
	if (vgem < 0)
		SKIP("no vgem device");
	CHECK(set_fmt(fd, 32, 32, DRM_FORMAT_XRGB8888, 0, 0, &f) == 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	map = zt_mmap(f.size, PROT_READ, MAP_SHARED, buf, 0);
	CHECK(map != MAP_FAILED);
	CHECK(drmPrimeFDToHandle(vgem, buf, &handle) == 0);
	a.handle = handle;
	CHECK(drmIoctl(vgem, ZC_IOCTL_VGEM_FENCE_ATTACH, &a) == 0);
	if (explicit_in_fence) {
		/* What a consumer hands back as its release fence. */
		in = export_sync_file(buf, DMA_BUF_SYNC_WRITE);
		CHECK(in >= 0);
		CHECK(fence_info(in, &st) == 0 && st.status == 0 && !strcmp(st.driver, "vgem"));
		flags |= ZCAM_QUEUE_IN_FENCE;
	}
	CHECK(qbuf(fd, buf, in, flags, &q) == 0);
	CHECK(streamon(fd, 60, 1) == 0);
	sleep_ms(300);
	CHECK(fence_info(q.out_fence_fd, &st) == 0 && st.status == 0);
	CHECK(map[0] == 0);
	t_signal = now_ns();
	sig.fence = a.out_fence;
	CHECK(drmIoctl(vgem, ZC_IOCTL_VGEM_FENCE_SIGNAL, &sig) == 0);
	CHECK(fence_wait(q.out_fence_fd, 5000) == 0);
	CHECK(fence_info(q.out_fence_fd, &st) == 0 && st.status == 1);
	CHECK(st.timestamp_ns >= t_signal);
	/* Read out once the fence let it: a later period than QBUF's. */
	CHECK(next_event(fd, &ev, 5000) == 0 && ev.sequence >= q.sequence);
	CHECK(cpu_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ) == 0);
	CHECK(pattern_check(map, &f, ev.sequence) == 0);
	CHECK(cpu_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ) == 0);
	return ZT_PASS;
}

static int t_vgem_implicit_fence(void)
{
	return vgem_fence_case(false);
}

static int t_vgem_in_fence(void)
{
	return vgem_fence_case(true);
}

static int t_in_fence_timeout(void)
{
	struct zc_vgem_fence_attach a = { .flags = ZC_VGEM_FENCE_WRITE };
	struct zc_vgem_fence_signal sig = { 0 };
	struct fence_state st;
	struct zcam_event ev;
	struct zcam_queue q;
	uint32_t handle;
	int fd = zopen(), vgem = open_drm("vgem"), buf, in;
	uint64_t t0;

	CHECK(fd >= 0);
	if (vgem < 0)
		SKIP("no vgem device");
	CHECK(param_write("in_fence_timeout_ms", 200) == 0);
	CHECK(set_fmt(fd, 32, 32, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	CHECK(drmPrimeFDToHandle(vgem, buf, &handle) == 0);
	a.handle = handle;
	CHECK(drmIoctl(vgem, ZC_IOCTL_VGEM_FENCE_ATTACH, &a) == 0);
	in = export_sync_file(buf, DMA_BUF_SYNC_WRITE);
	CHECK(in >= 0);
	CHECK(qbuf(fd, buf, in, ZCAM_QUEUE_IN_FENCE | ZCAM_QUEUE_OUT_FENCE, &q) == 0);
	t0 = now_ns();
	CHECK(streamon(fd, 100, 1) == 0);
	CHECK(next_event(fd, &ev, 5000) == 0);
	CHECK(ev.error == -ETIMEDOUT && ev.flags == ZCAM_EVENT_ERROR);
	CHECK(ev.timestamp_ns - t0 >= 200000000ull);
	CHECK(fence_info(q.out_fence_fd, &st) == 0 && st.status == -ETIMEDOUT);
	sig.fence = a.out_fence;
	CHECK(drmIoctl(vgem, ZC_IOCTL_VGEM_FENCE_SIGNAL, &sig) == 0);
	return ZT_PASS;
}

static int t_vgem_import(void)
{
	struct drm_gem_close gc = { 0 };
	uint32_t h1, h2;
	int fd = zopen(), vgem = open_drm("vgem"), buf, back;

	CHECK(fd >= 0);
	if (vgem < 0)
		SKIP("no vgem device");
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	CHECK(drmPrimeFDToHandle(vgem, buf, &h1) == 0);
	CHECK(drmPrimeFDToHandle(vgem, buf, &h2) == 0 && h1 == h2);
	/* Exporting the import again gives back the same dma-buf. */
	CHECK(drmPrimeHandleToFD(vgem, h1, DRM_CLOEXEC, &back) == 0);
	zt_track(back);
	{
		struct stat s1, s2;

		CHECK(fstat(buf, &s1) == 0 && fstat(back, &s2) == 0 && s1.st_ino == s2.st_ino);
	}
	gc.handle = h1;
	CHECK(drmIoctl(vgem, DRM_IOCTL_GEM_CLOSE, &gc) == 0);
	return ZT_PASS;
}

static int t_vkms_import(void)
{
	uint32_t handle, fb, handles[4] = { 0 }, pitches[4] = { 0 }, offsets[4] = { 0 };
	struct zcam_format f;
	drmModeResPtr res;
	drmModeConnectorPtr conn = NULL;
	drmModeModeInfo mode;
	int fd = zopen(), vkms = open_drm("vkms"), buf, ret;
	long long vmaps = stat_get("vmaps");
	uint32_t crtc;

	CHECK(fd >= 0);
	if (vkms < 0)
		SKIP("no vkms device");
	res = drmModeGetResources(vkms);
	CHECK(res && res->count_crtcs > 0);
	crtc = res->crtcs[0];
	for (int i = 0; i < res->count_connectors && !conn; i++) {
		conn = drmModeGetConnector(vkms, res->connectors[i]);
		if (conn && (conn->connection != DRM_MODE_CONNECTED || !conn->count_modes)) {
			drmModeFreeConnector(conn);
			conn = NULL;
		}
	}
	drmModeFreeResources(res);
	CHECK(conn);
	/* The smallest mode keeps the composition cheap under emulation. */
	mode = conn->modes[0];
	for (int i = 1; i < conn->count_modes; i++)
		if (conn->modes[i].hdisplay * conn->modes[i].vdisplay <
		    mode.hdisplay * mode.vdisplay)
			mode = conn->modes[i];

	CHECK(set_fmt(fd, mode.hdisplay, mode.vdisplay, DRM_FORMAT_XRGB8888, 0, 0, &f) == 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	CHECK(drmPrimeFDToHandle(vkms, buf, &handle) == 0);
	handles[0] = handle;
	pitches[0] = f.pitches[0];
	CHECK(drmModeAddFB2(vkms, f.width, f.height, DRM_FORMAT_XRGB8888, handles,
			    pitches, offsets, &fb, 0) == 0);
	/* Scanning out makes vkms compose from the buffer through vmap. */
	ret = drmModeSetCrtc(vkms, crtc, fb, 0, 0, &conn->connector_id, 1, &mode);
	if (ret == 0) {
		sleep_ms(200);
		drmModeSetCrtc(vkms, crtc, 0, 0, 0, NULL, 0, NULL);
	}
	drmModeFreeConnector(conn);
	CHECK(drmModeRmFB(vkms, fb) == 0);
	CHECK(ret == 0);
	CHECK(stat_get("vmaps") > vmaps);
	return ZT_PASS;
}

/* Opens the V4L2 device whose video_device name is @name (tracked), or -1. */
static int open_video(const char *name)
{
	for (int i = 0; i < 64; i++) {
		char path[64], buf[64] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/sys/class/video4linux/video%d/name", i);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
		buf[strcspn(buf, "\n")] = 0;
		if (!strcmp(buf, name)) {
			snprintf(path, sizeof(path), "/dev/video%d", i);
			return zt_track(open(path, O_RDWR | O_CLOEXEC));
		}
	}
	return -1;
}

/*
 * A captured NV12 frame goes into vicodec's encoder through V4L2 DMABUF
 * import (vb2-vmalloc: dma_buf_vmap), as a hardware encoder would read it.
 */
static int t_vicodec_import(void)
{
	struct v4l2_format vf = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT };
	struct v4l2_requestbuffers rb;
	struct v4l2_buffer vb;
	struct zcam_format f;
	struct zcam_queue q;
	struct pollfd p;
	int fd = zopen(), enc = open_video("stateful-encoder"), buf, type;
	long long vmaps = stat_get("vmaps");

	CHECK(fd >= 0);
	if (enc < 0)
		SKIP("no vicodec stateful encoder");
	/* vicodec has a minimum size; take the one it chooses. */
	vf.fmt.pix.width = 64;
	vf.fmt.pix.height = 64;
	vf.fmt.pix.pixelformat = V4L2_PIX_FMT_NV12;
	CHECK(ioctl(enc, VIDIOC_S_FMT, &vf) == 0);
	zt_note("vicodec input: %ux%u bytesperline %u sizeimage %u", vf.fmt.pix.width,
		vf.fmt.pix.height, vf.fmt.pix.bytesperline, vf.fmt.pix.sizeimage);
	CHECK(vf.fmt.pix.pixelformat == V4L2_PIX_FMT_NV12);
	CHECK(set_fmt(fd, vf.fmt.pix.width, vf.fmt.pix.height, DRM_FORMAT_NV12, 0, 0, &f) == 0);
	CHECK(vf.fmt.pix.bytesperline == f.pitches[0] && vf.fmt.pix.sizeimage <= f.size);

	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	CHECK(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0);
	CHECK(streamon(fd, 60, 1) == 0);
	/* V4L2 has no fences: wait on the CPU, as zcfence mode=wait does. */
	CHECK(fence_wait(q.out_fence_fd, 5000) == 0);

	rb = (struct v4l2_requestbuffers){ .count = 1, .type = V4L2_BUF_TYPE_VIDEO_OUTPUT,
					   .memory = V4L2_MEMORY_DMABUF };
	CHECK(ioctl(enc, VIDIOC_REQBUFS, &rb) == 0 && rb.count >= 1);
	rb = (struct v4l2_requestbuffers){ .count = 1, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					   .memory = V4L2_MEMORY_MMAP };
	CHECK(ioctl(enc, VIDIOC_REQBUFS, &rb) == 0 && rb.count >= 1);

	vb = (struct v4l2_buffer){ .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				   .memory = V4L2_MEMORY_MMAP, .index = 0 };
	CHECK(ioctl(enc, VIDIOC_QBUF, &vb) == 0);
	vb = (struct v4l2_buffer){ .type = V4L2_BUF_TYPE_VIDEO_OUTPUT,
				   .memory = V4L2_MEMORY_DMABUF, .index = 0,
				   .bytesused = vf.fmt.pix.sizeimage, .length = f.size,
				   .field = V4L2_FIELD_NONE };
	vb.m.fd = buf;
	CHECK(ioctl(enc, VIDIOC_QBUF, &vb) == 0);
	type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	CHECK(ioctl(enc, VIDIOC_STREAMON, &type) == 0);
	type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	CHECK(ioctl(enc, VIDIOC_STREAMON, &type) == 0);

	p = (struct pollfd){ .fd = enc, .events = POLLIN | POLLOUT };
	CHECK(poll(&p, 1, 5000) == 1);
	vb = (struct v4l2_buffer){ .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				   .memory = V4L2_MEMORY_MMAP };
	CHECK(ioctl(enc, VIDIOC_DQBUF, &vb) == 0 && !(vb.flags & V4L2_BUF_FLAG_ERROR));
	zt_note("vicodec encoded the frame into %u bytes", vb.bytesused);
	CHECK(vb.bytesused > 0);
	vb = (struct v4l2_buffer){ .type = V4L2_BUF_TYPE_VIDEO_OUTPUT,
				   .memory = V4L2_MEMORY_DMABUF };
	CHECK(ioctl(enc, VIDIOC_DQBUF, &vb) == 0 && vb.index == 0);
	CHECK(stat_get("vmaps") > vmaps);
	return ZT_PASS;
}

/* ---- cases: lifetime ---------------------------------------------------- */

static int t_buffers_outlive_device(void)
{
	struct zcam_event ev;
	struct fence_state st;
	struct zcam_format f;
	struct zcam_queue q;
	uint32_t handle;
	int fd = zopen(), vgem = open_drm("vgem"), buf, ex;
	long long bufs = stat_get("live_buffers");
	uint8_t *map;

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 48, 32, DRM_FORMAT_XRGB8888, 0, 0, &f) == 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	CHECK(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0);
	CHECK(streamon(fd, 60, 1) == 0);
	CHECK(fence_wait(q.out_fence_fd, 5000) == 0);
	CHECK(next_event(fd, &ev, 5000) == 0 && ev.sequence >= q.sequence);
	CHECK(zt_close(fd) == 0);

	/* Everything a consumer does with the dma-buf still works. */
	map = zt_mmap(f.size, PROT_READ, MAP_SHARED, buf, 0);
	CHECK(map != MAP_FAILED);
	CHECK(cpu_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ) == 0);
	CHECK(pattern_check(map, &f, ev.sequence) == 0);
	CHECK(cpu_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ) == 0);
	ex = export_sync_file(buf, DMA_BUF_SYNC_READ);
	CHECK(ex >= 0 && fence_info(ex, &st) == 0 && st.status == 1);
	CHECK(fence_info(q.out_fence_fd, &st) == 0 && st.status == 1 &&
	      !strcmp(st.driver, "zcam"));
	if (vgem >= 0)
		CHECK(drmPrimeFDToHandle(vgem, buf, &handle) == 0);
	CHECK(stat_get("live_buffers") == bufs + 1 && stat_get("live_fences") >= 1);
	return ZT_PASS;
}

/* The module is pinned by every dma-buf and fence, even without a device fd. */
static int t_unload_refused(void)
{
	struct zcam_queue q;
	long long bufs = stat_get("live_buffers"), fences = stat_get("live_fences");
	int fd = zopen(), buf;

	CHECK(fd >= 0);
	CHECK(set_fmt(fd, 16, 16, DRM_FORMAT_XRGB8888, 0, 0, NULL) == 0);
	buf = create_buf(fd, NULL);
	CHECK(buf >= 0);
	CHECK(qbuf(fd, buf, -1, ZCAM_QUEUE_OUT_FENCE, &q) == 0);
	CHECK(streamon(fd, 100, 1) == 0);
	CHECK(fence_wait(q.out_fence_fd, 5000) == 0);
	CHECK(zt_close(fd) == 0);
	CHECK_ERR(syscall(SYS_delete_module, "zcam", O_NONBLOCK), EWOULDBLOCK);
	/* Only the out-fence is left now. */
	CHECK(zt_close(buf) == 0);
	CHECK(stat_get("live_buffers") == bufs && stat_get("live_fences") == fences + 1);
	CHECK_ERR(syscall(SYS_delete_module, "zcam", O_NONBLOCK), EWOULDBLOCK);
	return ZT_PASS;
}

static int t_no_leaks(void)
{
	/* Every case released its fds: nothing of ours may be left. */
	CHECK(stat_get("live_buffers") == 0);
	CHECK(stat_get("live_fences") == 0);
	CHECK(bufinfo_count() == 0);
	return ZT_PASS;
}

static void restore_knobs(void)
{
	dbg_write("fail_fences", 0);
	dbg_write("drop_frames", 0);
	dbg_write("fence_delay_ms", 0);
	param_write("in_fence_timeout_ms", 1000);
	param_write("start_timeout_ms", 2000);
}

#define CASE(fn) { #fn + 2, fn }

int main(int argc, char **argv)
{
	static const struct zt_case fixed_head[] = {
		CASE(t_querycap),
		CASE(t_unknown_ioctl),
		CASE(t_default_format),
		CASE(t_format_layouts),
		CASE(t_format_try),
	};
	static const struct zt_case fixed_tail[] = {
		CASE(t_format_busy),
		CASE(t_create_bad),
		CASE(t_create_cloexec),
		CASE(t_too_many_buffers),
		CASE(t_create_enomem),
		CASE(t_mmap),
		CASE(t_set_name),
		CASE(t_qbuf_bad),
		CASE(t_qbuf_foreign_dmabuf),
		CASE(t_streamon_bad),
		CASE(t_read_bad),
		CASE(t_pattern_xrgb8888),
		CASE(t_pattern_nv12),
		CASE(t_pattern_yuyv),
		CASE(t_pattern_wide),
		CASE(t_out_fence),
		CASE(t_export_sync_file),
		CASE(t_cpu_sync_waits),
		CASE(t_events_poll),
		CASE(t_streamoff_cancels),
		CASE(t_close_cancels),
		CASE(t_close_while_waiting),
		CASE(t_fail_fences),
		CASE(t_drop_frames),
		CASE(t_underrun_gap),
		CASE(t_sequence_follows_clock),
		CASE(t_fence_expires_without_streamon),
		CASE(t_fence_delay),
		CASE(t_vgem_implicit_fence),
		CASE(t_vgem_in_fence),
		CASE(t_in_fence_timeout),
		CASE(t_vgem_import),
		CASE(t_vkms_import),
		CASE(t_vicodec_import),
		CASE(t_buffers_outlive_device),
		CASE(t_unload_refused),
		CASE(t_no_leaks),
	};
	enum { NHEAD = sizeof(fixed_head) / sizeof(fixed_head[0]),
	       NBAD = sizeof(bad_fmts) / sizeof(bad_fmts[0]),
	       NTAIL = sizeof(fixed_tail) / sizeof(fixed_tail[0]) };
	struct zt_case cases[NHEAD + NBAD + NTAIL];
	const char *base;
	int n = 0;

	if (argc > 1)
		dev_path = argv[1];
	base = strrchr(dev_path, '/');
	snprintf(dbg_dir, sizeof(dbg_dir), "/sys/kernel/debug/zcam/%s",
		 base ? base + 1 : dev_path);
	if (access(dev_path, R_OK | W_OK)) {
		printf("1..0 # SKIP %s: %s\n", dev_path, strerror(errno));
		return 77;
	}
	if (access(dbg_dir, R_OK)) {
		printf("1..0 # SKIP no debugfs at %s\n", dbg_dir);
		return 77;
	}

	for (int i = 0; i < NHEAD; i++)
		cases[n++] = fixed_head[i];
	for (int i = 0; i < NBAD; i++)
		cases[n++] = (struct zt_case){ bad_fmts[i].name, t_bad_format };
	for (int i = 0; i < NTAIL; i++)
		cases[n++] = fixed_tail[i];
	restore_knobs();
	return zt_run(cases, n, restore_knobs);
}
