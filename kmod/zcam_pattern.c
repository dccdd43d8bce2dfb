// SPDX-License-Identifier: GPL-2.0
/*
 * zcam: the test pattern. The layout is normative and documented at the end
 * of uapi/zcam.h and in docs/zcam-uapi.md: tests recompute it byte by byte.
 * Only the visible width and height are written; padding stays zero.
 *
 * A large frame takes the CPU for a long time (4K under emulation: about
 * 165 ms), so every line ends with cond_resched(): the engine's worker
 * yields to whoever else needs the CPU.
 */
#include <linux/kernel.h>
#include <linux/sched.h>
#include <linux/types.h>
#include <drm/drm_fourcc.h>

#include "zcam_drv.h"

#define ZCAM_CODE_ONE_Y		235
#define ZCAM_CODE_ZERO_Y	16
#define ZCAM_CODE_CHROMA	128

static unsigned int zcam_code_cells(u32 width)
{
	return min_t(u32, ZCAM_PATTERN_MAX_BITS, width / ZCAM_PATTERN_CELL);
}

/* Luma or XRGB line @y lies in the top or bottom band of the code. */
static bool zcam_in_band(u32 y, u32 height)
{
	return y < ZCAM_PATTERN_CELL || y >= height - ZCAM_PATTERN_CELL;
}

static bool zcam_code_bit(u32 x, u64 seq)
{
	return (seq >> (x / ZCAM_PATTERN_CELL)) & 1;
}

static void zcam_fill_xrgb8888(u8 *base, const struct zcam_format *fmt, u64 seq)
{
	u32 code_end = zcam_code_cells(fmt->width) * ZCAM_PATTERN_CELL;
	u32 s = (u32)seq;
	u32 x, y;

	for (y = 0; y < fmt->height; y++) {
		__le32 *line = (__le32 *)(base + (size_t)y * fmt->pitches[0]);
		u32 gb = (((y + 2 * s) & 0xff) << 8) | (s & 0xff);
		bool band = zcam_in_band(y, fmt->height);

		for (x = 0; x < fmt->width; x++) {
			u32 px = 0xff000000 | (((x + 4 * s) & 0xff) << 16) | gb;

			if (band && x < code_end)
				px = zcam_code_bit(x, seq) ? 0xffffffff : 0xff000000;
			line[x] = cpu_to_le32(px);
		}
		cond_resched();
	}
}

static void zcam_fill_nv12(u8 *base, const struct zcam_format *fmt, u64 seq)
{
	u32 code_end = zcam_code_cells(fmt->width) * ZCAM_PATTERN_CELL;
	u32 s = (u32)seq;
	u32 x, y;

	for (y = 0; y < fmt->height; y++) {
		u8 *line = base + fmt->offsets[0] + (size_t)y * fmt->pitches[0];
		bool band = zcam_in_band(y, fmt->height);

		for (x = 0; x < fmt->width; x++) {
			if (band && x < code_end)
				line[x] = zcam_code_bit(x, seq) ? ZCAM_CODE_ONE_Y :
								  ZCAM_CODE_ZERO_Y;
			else
				line[x] = x + 4 * s;
		}
		cond_resched();
	}
	/* Chroma line cy covers luma lines 2cy and 2cy + 1. */
	for (y = 0; y < fmt->height / 2; y++) {
		u8 *line = base + fmt->offsets[1] + (size_t)y * fmt->pitches[1];
		bool band = zcam_in_band(2 * y, fmt->height);

		for (x = 0; x < fmt->width; x += 2) {
			if (band && x < code_end) {
				line[x] = ZCAM_CODE_CHROMA;
				line[x + 1] = ZCAM_CODE_CHROMA;
			} else {
				line[x] = 2 * y + 2 * s;
				line[x + 1] = s;
			}
		}
		cond_resched();
	}
}

static void zcam_fill_yuyv(u8 *base, const struct zcam_format *fmt, u64 seq)
{
	u32 code_end = zcam_code_cells(fmt->width) * ZCAM_PATTERN_CELL;
	u32 s = (u32)seq;
	u32 x, y;

	for (y = 0; y < fmt->height; y++) {
		u8 *line = base + (size_t)y * fmt->pitches[0];
		bool band = zcam_in_band(y, fmt->height);

		/* Y0 U Y1 V for the pixel pair starting at even x. */
		for (x = 0; x < fmt->width; x += 2) {
			u8 *p = line + 2 * x;

			if (band && x < code_end) {
				u8 luma = zcam_code_bit(x, seq) ? ZCAM_CODE_ONE_Y :
								  ZCAM_CODE_ZERO_Y;

				p[0] = luma;
				p[1] = ZCAM_CODE_CHROMA;
				p[2] = luma;
				p[3] = ZCAM_CODE_CHROMA;
			} else {
				p[0] = x + 4 * s;
				p[1] = y + 2 * s;
				p[2] = x + 1 + 4 * s;
				p[3] = s;
			}
		}
		cond_resched();
	}
}

void zcam_pattern_fill(void *vaddr, const struct zcam_format *fmt, u64 sequence)
{
	switch (fmt->fourcc) {
	case DRM_FORMAT_XRGB8888:
		zcam_fill_xrgb8888(vaddr, fmt, sequence);
		break;
	case DRM_FORMAT_NV12:
		zcam_fill_nv12(vaddr, fmt, sequence);
		break;
	case DRM_FORMAT_YUYV:
		zcam_fill_yuyv(vaddr, fmt, sequence);
		break;
	}
}
