// SPDX-License-Identifier: GPL-2.0
/*
 * zcam_fuzz: random and semi-valid calls into the zcam uapi from several
 * threads: every ZCAM_IOC_* with random and boundary fields (reserved fields
 * set, unknown flags, bad fds: other drivers' fds, a vgem dma-buf, a pipe as
 * in-fence), random ioctl numbers, mmap with random offsets and sizes on the
 * device and on dma-bufs, read and poll on the device, CPU sync and fence
 * export on dma-bufs. Threads share one pool of fds and close or replace
 * entries at random, so calls race with each other and with closes.
 *
 * Bounded in calls and time; seedable (the seed is printed first). After
 * the run every fd is closed and the test checks that no zcam dma-buf and no
 * live buffer or fence is left. Runs in the test VM as root, before
 * unload.sh, which then proves that the module still unloads. Prints TAP.
 *
 *   usage: zcam_fuzz [--calls N] [--seconds S] [--seed X] [--threads T] [/dev/zcamN]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <linux/dma-buf.h>
#include <linux/sync_file.h>
#include <xf86drm.h>

#include "zcam.h"
#include "zcam_debugfs.h"

#define POOL 48
#define MAX_THREADS 16

static const char *dev_path = "/dev/zcam0";
static char dbg_dir[256];
static uint64_t max_calls = 100000;
static unsigned int max_seconds = 60;
static unsigned int nthreads = 4;
static uint64_t seed;

static atomic_uint_fast64_t calls_done;
static uint64_t deadline_ns;

/* fds any thread may use; -1 for a free slot. Updated under pool_lock. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static int pool[POOL];
/* fds of other drivers, kept open for the whole run. */
static int foreign[8];
static int nforeign;

static __thread sigjmp_buf fault_jmp;
static __thread volatile sig_atomic_t fault_armed;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static uint32_t pick(uint64_t *s, uint32_t n)
{
	return n ? (uint32_t)(rnd(s) % n) : 0;
}

/* Interesting 32-bit values, or random ones. */
static uint32_t val32(uint64_t *s)
{
	static const uint32_t edge[] = {
		0, 1, 2, 7, 8, 15, 16, 17, 63, 64, 65, 240, 241, 4095, 4096, 4097,
		0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe,
	};

	if (pick(s, 3))
		return edge[pick(s, sizeof(edge) / sizeof(edge[0]))];
	return (uint32_t)rnd(s);
}

static int pool_get(uint64_t *s)
{
	int fd;

	pthread_mutex_lock(&pool_lock);
	fd = pool[pick(s, POOL)];
	pthread_mutex_unlock(&pool_lock);
	return fd;
}

/* Any fd: ours, another driver's, a closed or invalid number. */
static int any_fd(uint64_t *s)
{
	switch (pick(s, 8)) {
	case 0:
		return nforeign ? foreign[pick(s, nforeign)] : -1;
	case 1: {
		/* Not stdin, stdout or stderr. */
		int fd = (int)val32(s);

		return fd >= 0 && fd < 3 ? -1 : fd;
	}
	default:
		return pool_get(s);
	}
}

/* Puts @fd into the pool, closing the entry it replaces. */
static void pool_put(uint64_t *s, int fd)
{
	int old;

	if (fd < 0)
		return;
	pthread_mutex_lock(&pool_lock);
	{
		int i = pick(s, POOL);

		old = pool[i];
		pool[i] = fd;
	}
	pthread_mutex_unlock(&pool_lock);
	if (old >= 0)
		close(old);
}

static void pool_close_one(uint64_t *s)
{
	int i = pick(s, POOL), old;

	pthread_mutex_lock(&pool_lock);
	old = pool[i];
	pool[i] = -1;
	pthread_mutex_unlock(&pool_lock);
	if (old >= 0)
		close(old);
}

static void fault_handler(int sig)
{
	if (fault_armed)
		siglongjmp(fault_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A format: mostly small and valid, sometimes random (then mostly TRY). */
static void fuzz_fmt(uint64_t *s, struct zcam_format *f)
{
	static const uint32_t fourccs[] = {
		DRM_FORMAT_XRGB8888, DRM_FORMAT_NV12, DRM_FORMAT_YUYV, 0,
		DRM_FORMAT_ARGB8888,
	};

	memset(f, 0, sizeof(*f));
	f->width = 16 + 2 * pick(s, 60);
	f->height = 16 + 2 * pick(s, 60);
	f->fourcc = fourccs[pick(s, 3)];
	if (!pick(s, 4)) {
		f->width = val32(s);
		f->height = val32(s);
		f->fourcc = fourccs[pick(s, 5)];
		f->flags = pick(s, 8) ? ZCAM_FMT_TRY : val32(s);
	}
	/* Buffers in a random format stay small: the guest's memory is too. */
	if (!(f->flags & ZCAM_FMT_TRY)) {
		f->width %= 600;
		f->height %= 600;
	}
	if (!pick(s, 8))
		f->pitch_align = val32(s);
	if (!pick(s, 8))
		f->height_align = val32(s);
	if (!pick(s, 16))
		f->reserved0 = val32(s);
	if (!pick(s, 16))
		f->reserved[pick(s, 8)] = val32(s);
}

static void op_ioctl(uint64_t *s)
{
	int fd = pick(s, 4) ? pool_get(s) : any_fd(s);
	union {
		struct zcam_caps caps;
		struct zcam_format fmt;
		struct zcam_create_buffer cb;
		struct zcam_queue q;
		struct zcam_stream st;
		uint8_t raw[512];
	} u;
	unsigned int i;

	memset(&u, 0, sizeof(u));
	switch (pick(s, 10)) {
	case 0:
		ioctl(fd, ZCAM_IOC_QUERYCAP, &u.caps);
		break;
	case 1:
		ioctl(fd, ZCAM_IOC_G_FMT, &u.fmt);
		break;
	case 2:
		fuzz_fmt(s, &u.fmt);
		ioctl(fd, ZCAM_IOC_S_FMT, &u.fmt);
		break;
	case 3:
		u.cb.flags = pick(s, 4) ? pick(s, 2) : val32(s);
		if (!pick(s, 8))
			u.cb.reserved[pick(s, 6)] = val32(s);
		if (!pick(s, 16))
			u.cb.reserved0 = 1;
		if (ioctl(fd, ZCAM_IOC_CREATE_BUF, &u.cb) == 0)
			pool_put(s, u.cb.fd);
		break;
	case 4:
	case 5:
		u.q.buf_fd = any_fd(s);
		u.q.in_fence_fd = any_fd(s);
		u.q.flags = pick(s, 4) ? pick(s, 8) : val32(s);
		if (!pick(s, 8))
			u.q.reserved[pick(s, 4)] = val32(s);
		if (!pick(s, 16))
			u.q.reserved0 = val32(s);
		if (ioctl(fd, ZCAM_IOC_QBUF, &u.q) == 0 && (u.q.flags & ZCAM_QUEUE_OUT_FENCE))
			pool_put(s, u.q.out_fence_fd);
		break;
	case 6:
		u.st.fps_num = pick(s, 2) ? 1 + pick(s, 240) : val32(s);
		u.st.fps_den = pick(s, 2) ? 1 : val32(s);
		if (!pick(s, 8))
			u.st.flags = val32(s);
		if (!pick(s, 8))
			u.st.reserved[pick(s, 5)] = val32(s);
		ioctl(fd, ZCAM_IOC_STREAMON, &u.st);
		break;
	case 7:
		ioctl(fd, ZCAM_IOC_STREAMOFF);
		break;
	case 8:
		/*
		 * Random command numbers, sizes and directions, random bytes,
		 * only on our own fds: other drivers' ioctls are not ours to
		 * fuzz.
		 */
		fd = pool_get(s);
		for (i = 0; i < sizeof(u.raw); i++)
			u.raw[i] = (uint8_t)rnd(s);
		ioctl(fd, _IOC(pick(s, 4), pick(s, 2) ? ZCAM_IOC_MAGIC : pick(s, 256),
			       pick(s, 16), pick(s, 512)), u.raw);
		break;
	default:
		/* Known commands with random contents, and bad pointers. */
		for (i = 0; i < sizeof(u.raw); i++)
			u.raw[i] = (uint8_t)rnd(s);
		{
			static const unsigned long cmds[] = {
				ZCAM_IOC_S_FMT, ZCAM_IOC_CREATE_BUF, ZCAM_IOC_QBUF,
				ZCAM_IOC_STREAMON, ZCAM_IOC_QUERYCAP, ZCAM_IOC_G_FMT,
			};
			unsigned long cmd = cmds[pick(s, 6)];

			if (!pick(s, 4))
				ioctl(fd, cmd, (void *)(uintptr_t)val32(s));
			else if (ioctl(fd, cmd, u.raw) == 0 && cmd == ZCAM_IOC_CREATE_BUF)
				pool_put(s, u.cb.fd);
			else if (cmd == ZCAM_IOC_QBUF && u.q.flags & ZCAM_QUEUE_OUT_FENCE &&
				 u.q.out_fence_fd >= 0)
				/* Succeeded with random flags: keep the fence. */
				pool_put(s, u.q.out_fence_fd);
		}
		break;
	}
}

static void op_mmap(uint64_t *s)
{
	int fd = any_fd(s);
	size_t len = pick(s, 2) ? 4096 * (1 + pick(s, 8)) : val32(s);
	off_t off = pick(s, 2) ? 4096 * (off_t)pick(s, 8) : (off_t)val32(s);
	int prot = pick(s, 2) ? PROT_READ : PROT_READ | PROT_WRITE;
	int flags = pick(s, 4) ? MAP_SHARED : MAP_PRIVATE;
	volatile uint8_t *p;

	p = mmap(NULL, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		return;
	/* Fault a page in; a SIGBUS past the buffer's end is fine. */
	fault_armed = 1;
	if (!sigsetjmp(fault_jmp, 1)) {
		(void)p[pick(s, len < 65536 ? (uint32_t)len : 65536)];
		if (prot & PROT_WRITE)
			p[0] = 1;
	}
	fault_armed = 0;
	munmap((void *)p, len);
}

static void op_read_poll(uint64_t *s)
{
	int fd = pool_get(s);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t buf[256];

	switch (pick(s, 3)) {
	case 0:
		poll(&p, 1, 0);
		break;
	case 1:
		/* Device fds are non-blocking, so this never hangs. */
		if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN) &&
		    (fcntl(fd, F_GETFL) & O_NONBLOCK))
			if (read(fd, buf, pick(s, sizeof(buf))) < 0)
				p.revents = 0; /* errors are expected */
		break;
	default:
		{
			struct sync_file_info info = { 0 };

			ioctl(fd, SYNC_IOC_FILE_INFO, &info);
		}
		break;
	}
}

static void op_dmabuf(uint64_t *s)
{
	int fd = pool_get(s);

	switch (pick(s, 3)) {
	case 0: {
		/* Waits for the buffer's fences: bounded, they all expire. */
		struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START |
					     (pick(s, 2) ? DMA_BUF_SYNC_READ : DMA_BUF_SYNC_RW) };

		if (!pick(s, 8))
			sync.flags = val32(s);
		if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) == 0) {
			sync.flags = (sync.flags & ~DMA_BUF_SYNC_START) | DMA_BUF_SYNC_END;
			ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
		}
		break;
	}
	case 1: {
		struct dma_buf_export_sync_file ex = {
			.flags = pick(s, 2) ? DMA_BUF_SYNC_READ : DMA_BUF_SYNC_WRITE,
			.fd = -1,
		};

		if (ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex) == 0)
			pool_put(s, ex.fd);
		break;
	}
	default: {
		struct dma_buf_import_sync_file im = {
			.flags = pick(s, 2) ? DMA_BUF_SYNC_READ : DMA_BUF_SYNC_WRITE,
			.fd = any_fd(s),
		};

		ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im);
		break;
	}
	}
}

static int open_dev(uint64_t *s)
{
	int fd = open(dev_path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	struct zcam_format f;

	if (fd < 0)
		return -1;
	/* Most files get a small format so that buffers stay cheap. */
	if (pick(s, 4)) {
		memset(&f, 0, sizeof(f));
		f.width = 16 + 16 * pick(s, 8);
		f.height = 16 + 16 * pick(s, 8);
		f.fourcc = DRM_FORMAT_XRGB8888;
		ioctl(fd, ZCAM_IOC_S_FMT, &f);
	}
	return fd;
}

static void *worker(void *arg)
{
	uint64_t s = seed ^ (0x9e3779b97f4a7c15ull * (uintptr_t)arg) ^ 1;

	while (atomic_fetch_add(&calls_done, 1) < max_calls && now_ns() < deadline_ns) {
		switch (pick(&s, 16)) {
		case 0:
			pool_put(&s, open_dev(&s));
			break;
		case 1:
			pool_close_one(&s);
			break;
		case 2:
			op_mmap(&s);
			break;
		case 3:
		case 4:
			op_read_poll(&s);
			break;
		case 5:
		case 6:
			op_dmabuf(&s);
			break;
		default:
			op_ioctl(&s);
			break;
		}
	}
	return NULL;
}

static long long stat_get(const char *name)
{
	return zt_debugfs_stat(dbg_dir, name);
}

static int zcam_dmabufs(void)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "re");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *tab = line;

		/* size flags mode count exp_name ...: the fifth field. */
		for (int i = 0; i < 4 && tab; i++) {
			tab = strchr(tab, '\t');
			if (tab)
				tab++;
		}
		if (tab && !strncmp(tab, "zcam\t", 5))
			n++;
	}
	fclose(f);
	return n;
}

static void open_foreign(void)
{
	int p[2];
	char path[64];

	for (int i = 0; i < 4 && nforeign < 6; i++) {
		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		int fd = open(path, O_RDWR | O_CLOEXEC);

		if (fd < 0)
			continue;
		foreign[nforeign++] = fd;
		/* A dumb buffer exported as a dma-buf (vgem, vkms). */
		{
			struct drm_mode_create_dumb cd = { .width = 64, .height = 64, .bpp = 32 };
			int dmabuf;

			if (!drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &cd) &&
			    !drmPrimeHandleToFD(fd, cd.handle, DRM_CLOEXEC | DRM_RDWR, &dmabuf))
				foreign[nforeign++] = dmabuf;
		}
	}
	if (pipe2(p, O_CLOEXEC) == 0) {
		foreign[nforeign++] = p[0];
		foreign[nforeign++] = p[1];
	}
}

int main(int argc, char **argv)
{
	pthread_t threads[MAX_THREADS];
	struct sigaction sa = { .sa_handler = fault_handler };
	uint64_t start;
	int failed = 0, n, left;
	const char *base;

	seed = now_ns() ^ ((uint64_t)getpid() << 32);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--calls") && i + 1 < argc)
			max_calls = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			max_seconds = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nthreads = strtoul(argv[++i], NULL, 0);
		else if (argv[i][0] != '-')
			dev_path = argv[i];
		else {
			fprintf(stderr, "usage: %s [--calls N] [--seconds S] [--seed X] "
				"[--threads T] [/dev/zcamN]\n", argv[0]);
			return 2;
		}
	}
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > MAX_THREADS)
		nthreads = MAX_THREADS;
	base = strrchr(dev_path, '/');
	snprintf(dbg_dir, sizeof(dbg_dir), "/sys/kernel/debug/zcam/%s",
		 base ? base + 1 : dev_path);

	printf("TAP version 13\n");
	if (access(dev_path, R_OK | W_OK) || access(dbg_dir, R_OK)) {
		printf("1..0 # SKIP %s or %s not available\n", dev_path, dbg_dir);
		return 77;
	}
	printf("# seed %" PRIu64 " (rerun with --seed %" PRIu64 "), %" PRIu64
	       " calls, %u s, %u threads\n", seed, seed, max_calls, max_seconds, nthreads);
	printf("1..3\n");
	fflush(stdout);

	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < POOL; i++)
		pool[i] = -1;
	open_foreign();
	{
		uint64_t s = seed;

		for (int i = 0; i < 4; i++)
			pool_put(&s, open_dev(&s));
	}

	start = now_ns();
	deadline_ns = start + (uint64_t)max_seconds * 1000000000ull;
	for (unsigned int i = 0; i < nthreads; i++)
		pthread_create(&threads[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	for (unsigned int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	n = atomic_load(&calls_done);
	if ((uint64_t)n > max_calls)
		n = max_calls;
	printf("# %d calls in %.1f s\n", n, (now_ns() - start) / 1e9);
	printf("ok 1 - %d calls without a crash\n", n);

	for (int i = 0; i < POOL; i++)
		if (pool[i] >= 0)
			close(pool[i]);
	for (int i = 0; i < nforeign; i++)
		close(foreign[i]);

	/* Releases are synchronous for our closes; allow a moment anyway. */
	for (left = 100; left > 0; left--) {
		if (zcam_dmabufs() == 0 && stat_get("live_buffers") == 0 &&
		    stat_get("live_fences") == 0)
			break;
		usleep(100000);
	}
	if (zcam_dmabufs() == 0) {
		printf("ok 2 - no zcam dma-buf left\n");
	} else {
		printf("not ok 2 - %d zcam dma-bufs left\n", zcam_dmabufs());
		failed++;
	}
	if (stat_get("live_buffers") == 0 && stat_get("live_fences") == 0) {
		printf("ok 3 - live counters back to 0\n");
	} else {
		printf("not ok 3 - live_buffers %lld live_fences %lld\n",
		       stat_get("live_buffers"), stat_get("live_fences"));
		failed++;
	}
	return failed ? 1 : 0;
}
