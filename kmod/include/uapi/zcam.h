/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * zcam: a capture device whose frame memory is exported as dma-bufs, with
 * one dma_fence per captured frame.
 *
 * This header is the whole contract between the zcam kernel module and
 * userspace. docs/zcam-uapi.md describes the model, the frame pattern and
 * the error codes in prose.
 *
 * All structures are fixed-width and padded to 8 bytes. Every field named
 * "reserved" must be zero on input; the kernel rejects non-zero reserved
 * fields and unknown flags with -EINVAL so that they can be given a meaning
 * later without breaking old binaries.
 */
#ifndef _UAPI_ZCAM_H
#define _UAPI_ZCAM_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped on incompatible changes; returned by ZCAM_IOC_QUERYCAP. */
#define ZCAM_API_VERSION 1

/* Maximum number of formats reported by ZCAM_IOC_QUERYCAP. */
#define ZCAM_MAX_FORMATS 16
/* Maximum number of planes of a format. */
#define ZCAM_MAX_PLANES 4

/**
 * struct zcam_caps - device capabilities (ZCAM_IOC_QUERYCAP, read-only)
 * @version: ZCAM_API_VERSION of the running module.
 * @num_formats: number of valid entries in @formats.
 * @formats: supported pixel formats as DRM fourccs (drm_fourcc.h), linear.
 * @min_width: smallest supported width in pixels.
 * @min_height: smallest supported height in pixels.
 * @max_width: largest supported width in pixels.
 * @max_height: largest supported height in pixels.
 * @min_fps: lowest frame rate in frames per second.
 * @max_fps: highest frame rate in frames per second.
 * @pitch_align: default pitch alignment in bytes (a power of two).
 * @max_buffers: most buffers that can exist at once on one open file.
 * @reserved: zero.
 */
struct zcam_caps {
	__u32 version;
	__u32 num_formats;
	__u32 formats[ZCAM_MAX_FORMATS];
	__u32 min_width;
	__u32 min_height;
	__u32 max_width;
	__u32 max_height;
	__u32 min_fps;
	__u32 max_fps;
	__u32 pitch_align;
	__u32 max_buffers;
	__u32 reserved[8];
};

/* zcam_format.flags: validate and fill in the layout, change nothing. */
#define ZCAM_FMT_TRY 0x1U

/**
 * struct zcam_format - frame format and memory layout (ZCAM_IOC_S_FMT, G_FMT)
 * @width: in: frame width in pixels.
 * @height: in: frame height in pixels; even for subsampled formats.
 * @fourcc: in: DRM fourcc, one of zcam_caps.formats.
 * @flags: in: ZCAM_FMT_* flags.
 * @pitch_align: in: pitch alignment in bytes, a power of two from 1 to 4096;
 *	0 selects zcam_caps.pitch_align. The kernel never uses a smaller
 *	alignment than the default. out: the alignment used.
 * @height_align: in: number of lines each plane is padded to (a power of two
 *	up to 64, 0 or 1 for none). Consumers such as codecs that work on
 *	blocks need the padding rows to exist in memory. The frame is padded
 *	to ALIGN(height, height_align) lines; a vertically subsampled plane
 *	(NV12 chroma) has half as many. out: the alignment used (at least 1).
 * @num_planes: out: planes of the format.
 * @reserved0: zero.
 * @pitches: out: bytes per line of each plane.
 * @offsets: out: byte offset of each plane from the start of the buffer.
 * @size: out: bytes per buffer (a multiple of PAGE_SIZE).
 * @reserved: zero.
 *
 * S_FMT is refused with -EBUSY while buffers of the open file exist or the
 * stream is on (ZCAM_FMT_TRY is always allowed). G_FMT returns the current
 * format (XRGB8888 640x480 after open) with the same layout fields.
 * Every plane's pitch is ALIGN(width * bytes per pixel, pitch_align); NV12's
 * chroma plane has the luma pitch and starts right after the padded luma
 * plane; @size is the sum, rounded up to a page.
 */
struct zcam_format {
	__u32 width;
	__u32 height;
	__u32 fourcc;
	__u32 flags;
	__u32 pitch_align;
	__u32 height_align;
	__u32 num_planes;
	__u32 reserved0;
	__u32 pitches[ZCAM_MAX_PLANES];
	__u32 offsets[ZCAM_MAX_PLANES];
	__u64 size;
	__u32 reserved[8];
};

/* zcam_create_buffer.flags: the dma-buf fd gets O_CLOEXEC. */
#define ZCAM_BUF_CLOEXEC 0x1U

/**
 * struct zcam_create_buffer - allocate one frame buffer (ZCAM_IOC_CREATE_BUF)
 * @flags: in: ZCAM_BUF_* flags.
 * @fd: out: dma-buf file descriptor (read-write) for the new buffer.
 * @index: out: buffer index, unique among the open file's live buffers.
 * @reserved0: zero.
 * @size: out: size of the buffer in bytes (zcam_format.size).
 * @reserved: zero.
 *
 * The memory is zeroed. The buffer lives until every reference to the
 * dma-buf is gone; it stays usable after the device file is closed.
 */
struct zcam_create_buffer {
	__u32 flags;
	__s32 fd;
	__u32 index;
	__u32 reserved0;
	__u64 size;
	__u32 reserved[6];
};

/* zcam_queue.flags: in_fence_fd holds a sync_file to wait on before writing. */
#define ZCAM_QUEUE_IN_FENCE 0x1U
/* zcam_queue.flags: return the frame's fence as a sync_file in out_fence_fd. */
#define ZCAM_QUEUE_OUT_FENCE 0x2U
/* zcam_queue.flags: the out_fence_fd gets O_CLOEXEC. */
#define ZCAM_QUEUE_FENCE_CLOEXEC 0x4U

/**
 * struct zcam_queue - queue a buffer for capture (ZCAM_IOC_QBUF)
 * @buf_fd: in: dma-buf fd of a buffer created on this open file.
 * @in_fence_fd: in: sync_file fd when ZCAM_QUEUE_IN_FENCE is set (ignored
 *	otherwise). The kernel takes its own reference; the caller still owns
 *	the fd. An error the in-fence signals with does not fail the frame.
 * @flags: in: ZCAM_QUEUE_* flags.
 * @out_fence_fd: out: sync_file of the frame's fence when
 *	ZCAM_QUEUE_OUT_FENCE is set, else -1.
 * @index: out: index of the queued buffer.
 * @reserved0: zero.
 * @sequence: out: the first frame period the frame can be captured in, and
 *	the seqno of its dma_fence; strictly increasing on a stream. The
 *	completion event carries the frame's actual sequence, which is
 *	higher when the engine could not capture it in that period.
 * @reserved: zero.
 *
 * Buffers are captured in queue order. Before writing, the kernel waits
 * (bounded by the in_fence_timeout_ms module parameter) for the in-fence
 * and for every fence in the buffer's reservation object; on timeout the
 * frame fails with -ETIMEDOUT. The frame's fence is added to the buffer's
 * reservation object with DMA_RESV_USAGE_WRITE at queue time. A frame
 * queued while the stream is off fails with -ETIMEDOUT after the
 * start_timeout_ms module parameter unless STREAMON comes first, so every
 * fence signals in bounded time.
 * A buffer that is already queued gives -EBUSY; a dma-buf that is not one
 * of this open file's buffers gives -EINVAL.
 *
 * A stream begins with the first QBUF or STREAMON after open or STREAMOFF:
 * it gets a new fence context and its sequence numbers start at 0. Buffers
 * may be queued before STREAMON. The sequence counts frame periods: period k
 * ends k + 1 periods after STREAMON, and a frame gets the index of the last
 * period ended when its readout starts. A period that is not captured (no
 * buffer queued, engine busy or late, fence waits, fault injection) is lost:
 * the next frame's sequence skips it and the skipped numbers are counted as
 * drops.
 */
struct zcam_queue {
	__s32 buf_fd;
	__s32 in_fence_fd;
	__u32 flags;
	__s32 out_fence_fd;
	__u32 index;
	__u32 reserved0;
	__u64 sequence;
	__u32 reserved[4];
};

/**
 * struct zcam_stream - start capturing (ZCAM_IOC_STREAMON)
 * @fps_num: frame rate numerator.
 * @fps_den: frame rate denominator (non-zero); the rate must lie between
 *	zcam_caps.min_fps and zcam_caps.max_fps.
 * @flags: zero.
 * @reserved: zero.
 *
 * STREAMON gives -EBUSY when the stream is already on. STREAMOFF (and
 * closing the file) signals the fence of every frame not yet captured with
 * -ECANCELED, in queue order, and ends the stream; it succeeds when the
 * stream is off too.
 */
struct zcam_stream {
	__u32 fps_num;
	__u32 fps_den;
	__u32 flags;
	__u32 reserved[5];
};

/* zcam_event.type */
#define ZCAM_EVENT_FRAME 1

/* zcam_event.flags: the frame failed; its fence signalled with @error. */
#define ZCAM_EVENT_ERROR 0x1U

/**
 * struct zcam_event - completion record, read() from the device file
 * @type: ZCAM_EVENT_FRAME.
 * @index: buffer index.
 * @sequence: frame sequence number: the frame period it was captured in
 *	(at least the sequence ZCAM_IOC_QBUF returned); a gap means frame
 *	periods were lost.
 * @timestamp_ns: CLOCK_MONOTONIC time the frame was completed, in ns; the
 *	same time is the fence's signal timestamp.
 * @flags: ZCAM_EVENT_* flags.
 * @error: 0, or the negative errno the fence signalled with (-ECANCELED
 *	on STREAMOFF/close, -ETIMEDOUT when a wait timed out, -EIO for an
 *	injected fault).
 * @reserved: zero.
 *
 * read() returns whole events only (a short buffer gives -EINVAL), blocks
 * unless O_NONBLOCK, and poll() reports EPOLLIN while events are pending.
 * Each open file keeps the latest 128 unread events; older ones are dropped.
 */
struct zcam_event {
	__u32 type;
	__u32 index;
	__u64 sequence;
	__u64 timestamp_ns;
	__u32 flags;
	__s32 error;
	__u32 reserved[2];
};

#define ZCAM_IOC_MAGIC 'z'

#define ZCAM_IOC_QUERYCAP	_IOR(ZCAM_IOC_MAGIC, 0x00, struct zcam_caps)
#define ZCAM_IOC_G_FMT		_IOR(ZCAM_IOC_MAGIC, 0x01, struct zcam_format)
#define ZCAM_IOC_S_FMT		_IOWR(ZCAM_IOC_MAGIC, 0x02, struct zcam_format)
#define ZCAM_IOC_CREATE_BUF	_IOWR(ZCAM_IOC_MAGIC, 0x03, struct zcam_create_buffer)
#define ZCAM_IOC_QBUF		_IOWR(ZCAM_IOC_MAGIC, 0x04, struct zcam_queue)
#define ZCAM_IOC_STREAMON	_IOW(ZCAM_IOC_MAGIC, 0x05, struct zcam_stream)
#define ZCAM_IOC_STREAMOFF	_IO(ZCAM_IOC_MAGIC, 0x06)

/*
 * Frame pattern (what the capture engine writes; see docs/zcam-uapi.md).
 *
 * For frame sequence s, pixel (x, y), with all arithmetic modulo 256:
 *   XRGB8888: X = 0xff, R = x + 4s, G = y + 2s, B = s
 *   NV12:     Y = x + 4s; chroma sample (cx, cy) covering luma (2cx, 2cy):
 *             U = 2cy + 2s, V = s
 *   YUYV:     Y = x + 4s for each pixel; U (for the pixel pair starting at
 *             even x) = y + 2s, V = s
 * Sequence code: the low bits of s, least significant first, are drawn as
 * cells of 8x8 pixels. Cell i covers x = 8i .. 8i+7 of the first 8 lines
 * ("top band") and again of the last 8 lines ("bottom band"); there are
 * min(32, width / 8) cells. A set bit is white, a clear bit black:
 *   XRGB8888: 0xffffffff / 0xff000000
 *   NV12, YUYV: Y = 235 / 16, and the chroma of those pixels is 128.
 * Padding bytes beyond the visible width and height are left zero.
 * A frame whose bottom band disagrees with its top band was torn.
 */
#define ZCAM_PATTERN_CELL 8
#define ZCAM_PATTERN_MAX_BITS 32

#endif /* _UAPI_ZCAM_H */
