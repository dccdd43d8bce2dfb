/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tiny kselftest-style harness: a table of cases, one TAP line per case,
 * CHECK() fails the current case with the failed expression, and every fd
 * or mapping a case registers is released after it, so a failing case does
 * not leak buffers into the next one.
 */
#ifndef ZCAM_TEST_HARNESS_H
#define ZCAM_TEST_HARNESS_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ZT_PASS 0
#define ZT_FAIL 1
#define ZT_SKIP 77

struct zt_case {
	const char *name;
	int (*fn)(void);
};

static char zt_skip_reason[512];

static void zt_note(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			zt_note("%s:%d: check failed: %s (errno %d: %s)",    \
				__FILE__, __LINE__, #cond, errno,            \
				strerror(errno));                            \
			return ZT_FAIL;                                      \
		}                                                            \
	} while (0)

/* The call must fail with exactly this errno. */
#define CHECK_ERR(call, err)                                                 \
	do {                                                                 \
		errno = 0;                                                   \
		long zt_r_ = (long)(call);                                   \
		if (zt_r_ != -1 || errno != (err)) {                         \
			zt_note("%s:%d: %s returned %ld errno %d (%s), "     \
				"expected -1 errno %d (%s)", __FILE__,       \
				__LINE__, #call, zt_r_, errno,               \
				strerror(errno), (err), strerror(err));      \
			return ZT_FAIL;                                      \
		}                                                            \
	} while (0)

#define SKIP(...)                                                            \
	do {                                                                 \
		snprintf(zt_skip_reason, sizeof(zt_skip_reason), __VA_ARGS__); \
		return ZT_SKIP;                                              \
	} while (0)

/* Resources of the running case, released after it. */
#define ZT_MAX_FDS 256
#define ZT_MAX_MAPS 64
static int zt_fds[ZT_MAX_FDS];
static int zt_nfds;
static struct {
	void *addr;
	size_t len;
} zt_maps[ZT_MAX_MAPS];
static int zt_nmaps;

static int zt_track(int fd)
{
	if (fd >= 0 && zt_nfds < ZT_MAX_FDS)
		zt_fds[zt_nfds++] = fd;
	return fd;
}

/* Closes a tracked fd now (e.g. to test what outlives it). */
static int zt_close(int fd)
{
	for (int i = 0; i < zt_nfds; i++) {
		if (zt_fds[i] == fd) {
			zt_fds[i] = zt_fds[--zt_nfds];
			break;
		}
	}
	return close(fd);
}

static void *zt_mmap(size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	if (p != MAP_FAILED && zt_nmaps < ZT_MAX_MAPS) {
		zt_maps[zt_nmaps].addr = p;
		zt_maps[zt_nmaps].len = len;
		zt_nmaps++;
	}
	return p;
}

static void zt_release_all(void)
{
	while (zt_nmaps > 0) {
		zt_nmaps--;
		munmap(zt_maps[zt_nmaps].addr, zt_maps[zt_nmaps].len);
	}
	while (zt_nfds > 0)
		close(zt_fds[--zt_nfds]);
}

/*
 * Runs the cases and prints TAP; @after_each restores global state
 * (debugfs knobs, module parameters). Returns the process exit status.
 */
static int zt_run(const struct zt_case *cases, int n, void (*after_each)(void))
{
	int failed = 0;

	printf("TAP version 13\n1..%d\n", n);
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		int r;

		zt_skip_reason[0] = 0;
		r = cases[i].fn();
		zt_release_all();
		if (after_each)
			after_each();
		if (r == ZT_PASS) {
			printf("ok %d - %s\n", i + 1, cases[i].name);
		} else if (r == ZT_SKIP) {
			printf("ok %d - %s # SKIP %s\n", i + 1, cases[i].name,
			       zt_skip_reason);
		} else {
			printf("not ok %d - %s\n", i + 1, cases[i].name);
			failed++;
		}
		fflush(stdout);
	}
	printf("# %d of %d failed\n", failed, n);
	return failed ? 1 : 0;
}

#endif /* ZCAM_TEST_HARNESS_H */
