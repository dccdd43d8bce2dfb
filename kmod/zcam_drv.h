/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zcam: internal declarations shared by the module's source files.
 *
 * Object model and lifetimes:
 *
 *  zcam_device  one per /dev/zcamN; lives from module load to unload.
 *  zcam_ctx     one per open file: format, buffer indices, stream, events.
 *               Reference counted: the open file holds one reference and
 *               every buffer created on it holds one, so a dma-buf that
 *               outlives the file can still release its index.
 *  zcam_buffer  the memory behind one dma-buf; freed by the dma-buf's
 *               release op. Holds a reference on its ctx.
 *  zcam_fence   one per queued frame; may outlive everything above except
 *               the module, which it pins (see zcam_engine.c).
 *  zcam_frame   the engine's record of one queued buffer; holds references
 *               on the dma-buf, the frame fence and the in-fence.
 */
#ifndef _ZCAM_DRV_H
#define _ZCAM_DRV_H

#include <linux/atomic.h>
#include <linux/dma-buf.h>
#include <linux/dma-fence.h>
#include <linux/hrtimer.h>
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "uapi/zcam.h"

#define ZCAM_MIN_SIZE		16
#define ZCAM_MAX_SIZE		4096
#define ZCAM_MIN_FPS		1
#define ZCAM_MAX_FPS		240
#define ZCAM_PITCH_ALIGN	64
#define ZCAM_MAX_PITCH_ALIGN	4096
#define ZCAM_MAX_HEIGHT_ALIGN	64
/* Completion events kept per open file; older unread ones are dropped. */
#define ZCAM_EVENT_DEPTH	128

/* Module parameters (zcam_drv.c). */
extern unsigned int zcam_max_buffers;
extern unsigned int zcam_in_fence_timeout_ms;
extern unsigned int zcam_start_timeout_ms;

/* The engine and expiry work of every stream runs here (zcam_drv.c). */
extern struct workqueue_struct *zcam_wq;

struct zcam_device {
	struct miscdevice misc;
	char name[16];
	struct dentry *debugfs;

	/* Statistics, shown in debugfs "stats". */
	atomic64_t frames;
	atomic64_t drops;
	atomic64_t fence_errors;
	atomic64_t event_overflows;
	atomic64_t vmaps;
	atomic_t live_buffers;
	atomic_t live_fences;

	/* Fault injection, written through debugfs. */
	atomic_t fail_fences;
	atomic_t drop_frames;
	u32 fence_delay_ms;
};

struct zcam_ctx {
	struct kref ref;
	struct zcam_device *zdev;

	/*
	 * Serialises the ioctls of this file and protects @fmt, @streaming,
	 * @fence_context and @next_qseq; @t0, @period and @seq_base are
	 * written under it and under @qlock (STREAMON), read under either.
	 * Never taken by dma-buf or fence callbacks or by the stream's work
	 * items, so dropping a dma-buf reference or flushing the work under
	 * it is safe.
	 */
	struct mutex lock;
	struct zcam_format fmt;
	bool streaming;
	u64 fence_context;
	/* Lower bound for the sequence of the next QBUF (its fence seqno). */
	u64 next_qseq;
	/* STREAMON time; frame period k ends at @t0 + (k + 1) * @period. */
	ktime_t t0;
	ktime_t period;
	/* Sequence of the first frame period after STREAMON. */
	u64 seq_base;

	/* Buffer indices; ida has its own lock, buffers free them on release. */
	struct ida buf_ida;
	atomic_t num_buffers;

	/*
	 * Frames the engine has not started yet; protects @queue, @running
	 * and @next_period.
	 */
	spinlock_t qlock;
	struct list_head queue;
	bool running;
	/*
	 * Sequence of the first frame period no completed frame has used:
	 * the next completed frame has this sequence unless periods were
	 * lost, and then the difference is counted in zcam_device.drops.
	 */
	u64 next_period;
	/* Set while STREAMOFF or close tear the stream down. */
	bool stopping;
	struct hrtimer timer;
	struct work_struct work;
	/* Fails frames queued while the stream is off once they expire. */
	struct delayed_work expire;
	/* Woken by fence callbacks and by STREAMOFF. */
	wait_queue_head_t engine_wait;

	/* Completion events; protects @events, @ev_head, @ev_count. */
	spinlock_t ev_lock;
	struct zcam_event *events;
	unsigned int ev_head;
	unsigned int ev_count;
	wait_queue_head_t ev_wait;
};

/* zcam_buffer.flags bits */
#define ZCAM_BUFFER_QUEUED	0

struct zcam_buffer {
	struct zcam_ctx *ctx;
	struct zcam_device *zdev;
	struct dma_buf *dmabuf;
	struct page **pages;
	pgoff_t num_pages;
	/* Kernel mapping of all pages, used by the engine and by vmap. */
	void *vaddr;
	/* Layout the buffer was created with (the ctx format at the time). */
	struct zcam_format fmt;
	u32 index;
	unsigned long flags;

	/* Protects @attachments and @vmap_count. */
	struct mutex lock;
	struct list_head attachments;
	unsigned int vmap_count;
};

struct zcam_frame {
	struct list_head node;
	struct zcam_buffer *buf;
	struct dma_fence *fence;
	struct dma_fence *in_fence;
	/* QBUF's sequence: the fence seqno, the earliest period to use. */
	u64 qseq;
	/* The frame period the frame was captured in (set by the engine). */
	u64 sequence;
	/* Queued while the stream was off: fails at this time (jiffies). */
	unsigned long deadline;
};

/* zcam_drv.c */
void zcam_ctx_put(struct zcam_ctx *ctx);
int zcam_format_fill(struct zcam_format *fmt);

/* zcam_buf.c */
bool zcam_is_zcam_dmabuf(const struct dma_buf *dmabuf);
long zcam_ioctl_create_buf(struct zcam_ctx *ctx, void __user *arg);
void zcam_buffer_cpu_write_begin(struct zcam_buffer *buf);
void zcam_buffer_cpu_write_end(struct zcam_buffer *buf);

/* zcam_engine.c */
void zcam_engine_init(struct zcam_ctx *ctx);
long zcam_ioctl_qbuf(struct zcam_ctx *ctx, void __user *arg);
long zcam_ioctl_streamon(struct zcam_ctx *ctx, void __user *arg);
void zcam_stream_stop(struct zcam_ctx *ctx);
bool zcam_events_pending(struct zcam_ctx *ctx);
bool zcam_event_pop(struct zcam_ctx *ctx, struct zcam_event *ev);

/* zcam_pattern.c */
void zcam_pattern_fill(void *vaddr, const struct zcam_format *fmt, u64 sequence);

/* zcam_debugfs.c */
void zcam_debugfs_init(void);
void zcam_debugfs_add(struct zcam_device *zdev);
void zcam_debugfs_exit(void);

#endif /* _ZCAM_DRV_H */
