// SPDX-License-Identifier: GPL-2.0
/*
 * zcam: the capture engine, frame fences and completion events.
 *
 * While a stream is on, an hrtimer ticks at the frame rate and kicks the
 * stream's work item. Each tick takes the oldest queued frame, waits (bounded
 * by in_fence_timeout_ms) for its in-fence and for every foreign fence in the
 * buffer's reservation object, writes the test pattern through the kernel
 * mapping, and signals the frame's fence with the completion time. A tick that
 * finds nothing queued is a dropped frame: the sensor moved on, so the next
 * frame queued carries a sequence number one higher (a gap). Ticks that come
 * while the engine is still busy with a frame are merged into one.
 */
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sync_file.h>
#include <linux/uaccess.h>

#include "zcam_drv.h"

struct zcam_fence {
	/* First member: dma_fence_free() frees the whole structure. */
	struct dma_fence base;
	/* Lives as long as the fence, which may outlive the stream. */
	spinlock_t lock;
	struct zcam_device *zdev;
};

static struct zcam_fence *to_zcam_fence(struct dma_fence *fence)
{
	return container_of(fence, struct zcam_fence, base);
}

static const char *zcam_fence_get_driver_name(struct dma_fence *fence)
{
	return "zcam";
}

static const char *zcam_fence_get_timeline_name(struct dma_fence *fence)
{
	return to_zcam_fence(fence)->zdev->name;
}

static void zcam_fence_release(struct dma_fence *fence)
{
	atomic_dec(&to_zcam_fence(fence)->zdev->live_fences);
	dma_fence_free(fence);
	/*
	 * Every fence pins the module: its ops and timeline name live here.
	 * Kept as the last call so that it compiles to a tail call and no
	 * instruction of the module runs after the reference is gone.
	 */
	module_put(THIS_MODULE);
}

static const struct dma_fence_ops zcam_fence_ops = {
	.use_64bit_seqno = true,
	.get_driver_name = zcam_fence_get_driver_name,
	.get_timeline_name = zcam_fence_get_timeline_name,
	.release = zcam_fence_release,
};

static void zcam_fence_init(struct zcam_fence *zf, struct zcam_ctx *ctx, u64 seq)
{
	/* We run in an ioctl of an open zcam file: the module is pinned. */
	__module_get(THIS_MODULE);
	spin_lock_init(&zf->lock);
	zf->zdev = ctx->zdev;
	atomic_inc(&ctx->zdev->live_fences);
	dma_fence_init(&zf->base, &zcam_fence_ops, &zf->lock, ctx->fence_context, seq);
}

bool zcam_events_pending(struct zcam_ctx *ctx)
{
	return READ_ONCE(ctx->ev_count) != 0;
}

bool zcam_event_pop(struct zcam_ctx *ctx, struct zcam_event *ev)
{
	bool ret = false;

	spin_lock(&ctx->ev_lock);
	if (ctx->ev_count) {
		*ev = ctx->events[ctx->ev_head];
		ctx->ev_head = (ctx->ev_head + 1) % ZCAM_EVENT_DEPTH;
		WRITE_ONCE(ctx->ev_count, ctx->ev_count - 1);
		ret = true;
	}
	spin_unlock(&ctx->ev_lock);
	return ret;
}

static void zcam_event_push(struct zcam_ctx *ctx, const struct zcam_event *ev)
{
	spin_lock(&ctx->ev_lock);
	if (ctx->ev_count == ZCAM_EVENT_DEPTH) {
		/* Nobody reads: forget the oldest, keep the newest. */
		ctx->ev_head = (ctx->ev_head + 1) % ZCAM_EVENT_DEPTH;
		WRITE_ONCE(ctx->ev_count, ctx->ev_count - 1);
		atomic64_inc(&ctx->zdev->event_overflows);
	}
	ctx->events[(ctx->ev_head + ctx->ev_count) % ZCAM_EVENT_DEPTH] = *ev;
	WRITE_ONCE(ctx->ev_count, ctx->ev_count + 1);
	spin_unlock(&ctx->ev_lock);
	wake_up_interruptible(&ctx->ev_wait);
}

/* Signals the frame's fence (with @err if non-zero) and reports the frame. */
static void zcam_frame_complete(struct zcam_ctx *ctx, struct zcam_frame *frame,
				int err)
{
	struct zcam_device *zdev = ctx->zdev;
	ktime_t now = ktime_get();
	struct zcam_event ev = {
		.type = ZCAM_EVENT_FRAME,
		.index = frame->buf->index,
		.sequence = frame->sequence,
		.timestamp_ns = ktime_to_ns(now),
		.flags = err ? ZCAM_EVENT_ERROR : 0,
		.error = err,
	};

	/* The buffer may be queued again as soon as its fence signals. */
	clear_bit(ZCAM_BUFFER_QUEUED, &frame->buf->flags);
	/* Order the clear before the signal (and event) a waiter sees. */
	smp_mb__after_atomic();
	if (err) {
		dma_fence_set_error(frame->fence, err);
		atomic64_inc(&zdev->fence_errors);
	} else {
		atomic64_inc(&zdev->frames);
	}
	dma_fence_signal_timestamp(frame->fence, now);
	zcam_event_push(ctx, &ev);

	if (frame->in_fence)
		dma_fence_put(frame->in_fence);
	dma_fence_put(frame->fence);
	dma_buf_put(frame->buf->dmabuf);
	kfree(frame);
}

struct zcam_waiter {
	struct dma_fence_cb cb;
	wait_queue_head_t *wq;
};

static void zcam_waiter_wake(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	wake_up_all(container_of(cb, struct zcam_waiter, cb)->wq);
}

/*
 * Waits until @fence signals, the stream stops (-ECANCELED) or @deadline
 * (jiffies) passes (-ETIMEDOUT). An error the fence signalled with is not
 * ours: the buffer is free either way.
 */
static int zcam_wait_fence(struct zcam_ctx *ctx, struct dma_fence *fence,
			   unsigned long deadline)
{
	struct zcam_waiter w = { .wq = &ctx->engine_wait };
	long left = (long)(deadline - jiffies);

	if (dma_fence_add_callback(fence, &w.cb, zcam_waiter_wake))
		return 0;
	wait_event_timeout(ctx->engine_wait,
			   dma_fence_is_signaled(fence) || READ_ONCE(ctx->stopping),
			   max(left, 0L));
	/* Afterwards the callback is neither queued nor running. */
	dma_fence_remove_callback(fence, &w.cb);
	if (dma_fence_is_signaled(fence))
		return 0;
	return READ_ONCE(ctx->stopping) ? -ECANCELED : -ETIMEDOUT;
}

/*
 * Implicit sync: wait for every reader and writer of the buffer except this
 * stream's own fences (the frame's fence is already in the object, and
 * earlier frames of the stream have signalled before this one starts).
 */
static int zcam_wait_resv(struct zcam_ctx *ctx, struct zcam_frame *frame,
			  unsigned long deadline)
{
	struct dma_fence **fences;
	unsigned int i, n;
	int ret;

	ret = dma_resv_get_fences(frame->buf->dmabuf->resv, DMA_RESV_USAGE_READ,
				  &n, &fences);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		if (!ret && fences[i]->context != frame->fence->context)
			ret = zcam_wait_fence(ctx, fences[i], deadline);
		dma_fence_put(fences[i]);
	}
	kfree(fences);
	return ret;
}

static void zcam_capture(struct zcam_ctx *ctx, struct zcam_frame *frame)
{
	struct zcam_device *zdev = ctx->zdev;
	struct zcam_buffer *buf = frame->buf;
	unsigned int timeout = clamp_t(u32, READ_ONCE(zcam_in_fence_timeout_ms), 1, 60000);
	unsigned long deadline = jiffies + msecs_to_jiffies(timeout);
	unsigned int delay;
	int err = 0;

	if (frame->in_fence)
		err = zcam_wait_fence(ctx, frame->in_fence, deadline);
	if (!err)
		err = zcam_wait_resv(ctx, frame, deadline);
	if (!err) {
		zcam_buffer_cpu_write_begin(buf);
		zcam_pattern_fill(buf->vaddr, &buf->fmt, frame->sequence);
		zcam_buffer_cpu_write_end(buf);

		/* Fault injection: a device error, or a slow completion. */
		if (atomic_dec_if_positive(&zdev->fail_fences) >= 0)
			err = -EIO;
		delay = READ_ONCE(zdev->fence_delay_ms);
		if (delay && wait_event_timeout(ctx->engine_wait, READ_ONCE(ctx->stopping),
						msecs_to_jiffies(min(delay, 60000U))))
			err = -ECANCELED;
	}
	zcam_frame_complete(ctx, frame, err);
}

static void zcam_engine_work(struct work_struct *work)
{
	struct zcam_ctx *ctx = container_of(work, struct zcam_ctx, work);
	struct zcam_frame *frame;

	spin_lock(&ctx->qlock);
	if (!ctx->running) {
		spin_unlock(&ctx->qlock);
		return;
	}
	frame = list_first_entry_or_null(&ctx->queue, struct zcam_frame, node);
	if (!frame) {
		/* No buffer for this frame: it is lost. */
		atomic_inc(&ctx->underruns);
		atomic64_inc(&ctx->zdev->drops);
		spin_unlock(&ctx->qlock);
		return;
	}
	if (frame->skip) {
		/* An injected drop: this frame period passes unused. */
		frame->skip--;
		spin_unlock(&ctx->qlock);
		return;
	}
	list_del(&frame->node);
	spin_unlock(&ctx->qlock);

	zcam_capture(ctx, frame);
}

static enum hrtimer_restart zcam_timer_fn(struct hrtimer *timer)
{
	struct zcam_ctx *ctx = container_of(timer, struct zcam_ctx, timer);

	queue_work(zcam_wq, &ctx->work);
	hrtimer_forward_now(timer, ctx->period);
	return HRTIMER_RESTART;
}

void zcam_engine_init(struct zcam_ctx *ctx)
{
	spin_lock_init(&ctx->qlock);
	INIT_LIST_HEAD(&ctx->queue);
	init_waitqueue_head(&ctx->engine_wait);
	INIT_WORK(&ctx->work, zcam_engine_work);
	hrtimer_init(&ctx->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	ctx->timer.function = zcam_timer_fn;
}

/* A stream starts at its first QBUF or STREAMON: new fence context. */
static void zcam_stream_begin(struct zcam_ctx *ctx)
{
	if (ctx->fence_context)
		return;
	ctx->fence_context = dma_fence_context_alloc(1);
	ctx->next_seq = 0;
	atomic_set(&ctx->underruns, 0);
}

/*
 * STREAMOFF and close: stop the timer, cancel the frame in progress and
 * every queued frame (fence error -ECANCELED, in queue order), and end the
 * stream; the next one gets a new fence context and starts at sequence 0.
 */
void zcam_stream_stop(struct zcam_ctx *ctx)
{
	struct zcam_frame *frame, *tmp;
	LIST_HEAD(cancel);

	lockdep_assert_held(&ctx->lock);

	spin_lock(&ctx->qlock);
	ctx->running = false;
	WRITE_ONCE(ctx->stopping, true);
	list_splice_init(&ctx->queue, &cancel);
	spin_unlock(&ctx->qlock);

	hrtimer_cancel(&ctx->timer);
	/* Cut short the fence waits of the frame in progress... */
	wake_up_all(&ctx->engine_wait);
	/* ...and let it finish: it completes with -ECANCELED. */
	cancel_work_sync(&ctx->work);

	list_for_each_entry_safe(frame, tmp, &cancel, node) {
		list_del(&frame->node);
		zcam_frame_complete(ctx, frame, -ECANCELED);
	}

	WRITE_ONCE(ctx->stopping, false);
	ctx->streaming = false;
	ctx->fence_context = 0;
	ctx->next_seq = 0;
	atomic_set(&ctx->underruns, 0);
}

long zcam_ioctl_streamon(struct zcam_ctx *ctx, void __user *arg)
{
	struct zcam_stream s;
	size_t i;
	long ret = 0;

	if (copy_from_user(&s, arg, sizeof(s)))
		return -EFAULT;
	if (s.flags)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(s.reserved); i++)
		if (s.reserved[i])
			return -EINVAL;
	if (!s.fps_num || !s.fps_den ||
	    (u64)s.fps_num < (u64)ZCAM_MIN_FPS * s.fps_den ||
	    (u64)s.fps_num > (u64)ZCAM_MAX_FPS * s.fps_den)
		return -EINVAL;

	mutex_lock(&ctx->lock);
	if (ctx->streaming) {
		ret = -EBUSY;
		goto out;
	}
	zcam_stream_begin(ctx);
	ctx->period = ns_to_ktime(div_u64((u64)s.fps_den * NSEC_PER_SEC, s.fps_num));
	ctx->streaming = true;
	spin_lock(&ctx->qlock);
	ctx->running = true;
	spin_unlock(&ctx->qlock);
	hrtimer_start(&ctx->timer, ctx->period, HRTIMER_MODE_REL);
out:
	mutex_unlock(&ctx->lock);
	return ret;
}

/* Takes a reference on the fence of sync_file @fd. */
static struct dma_fence *zcam_get_in_fence(int fd)
{
	struct dma_fence *fence;
	struct file *file;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	fput(file);
	fence = sync_file_get_fence(fd);
	return fence ? fence : ERR_PTR(-EINVAL);
}

long zcam_ioctl_qbuf(struct zcam_ctx *ctx, void __user *arg)
{
	const u32 known = ZCAM_QUEUE_IN_FENCE | ZCAM_QUEUE_OUT_FENCE |
			  ZCAM_QUEUE_FENCE_CLOEXEC;
	struct zcam_device *zdev = ctx->zdev;
	struct sync_file *sync_file = NULL;
	struct dma_fence *in_fence = NULL;
	struct zcam_frame *frame;
	struct zcam_buffer *buf;
	struct dma_buf *dmabuf;
	struct zcam_fence *zf;
	int underruns, drops;
	struct zcam_queue q;
	int out_fd = -1;
	size_t i;
	u64 seq;
	long ret;

	if (copy_from_user(&q, arg, sizeof(q)))
		return -EFAULT;
	if (q.flags & ~known || q.reserved0)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(q.reserved); i++)
		if (q.reserved[i])
			return -EINVAL;

	/* Check everything the caller handed in before creating anything. */
	dmabuf = dma_buf_get(q.buf_fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	buf = dmabuf->priv;
	if (!zcam_is_zcam_dmabuf(dmabuf) || buf->ctx != ctx) {
		ret = -EINVAL;
		goto err_dmabuf;
	}
	if (q.flags & ZCAM_QUEUE_IN_FENCE) {
		in_fence = zcam_get_in_fence(q.in_fence_fd);
		if (IS_ERR(in_fence)) {
			ret = PTR_ERR(in_fence);
			in_fence = NULL;
			goto err_dmabuf;
		}
	}

	ret = -ENOMEM;
	frame = kzalloc(sizeof(*frame), GFP_KERNEL);
	if (!frame)
		goto err_in_fence;
	zf = kzalloc(sizeof(*zf), GFP_KERNEL);
	if (!zf)
		goto err_frame;
	if (q.flags & ZCAM_QUEUE_OUT_FENCE) {
		out_fd = get_unused_fd_flags(q.flags & ZCAM_QUEUE_FENCE_CLOEXEC ?
					     O_CLOEXEC : 0);
		if (out_fd < 0) {
			ret = out_fd;
			goto err_zf;
		}
	}

	mutex_lock(&ctx->lock);
	if (test_and_set_bit(ZCAM_BUFFER_QUEUED, &buf->flags)) {
		ret = -EBUSY;
		goto err_unlock;
	}
	zcam_stream_begin(ctx);
	/* Frames lost since the last QBUF show up as a sequence gap. */
	underruns = atomic_xchg(&ctx->underruns, 0);
	drops = max(atomic_xchg(&zdev->drop_frames, 0), 0);
	seq = ctx->next_seq + underruns + drops;

	/* From here on the fence owns a module reference: put, not kfree. */
	zcam_fence_init(zf, ctx, seq);
	if (out_fd >= 0) {
		sync_file = sync_file_create(&zf->base);
		if (!sync_file) {
			ret = -ENOMEM;
			goto err_fence;
		}
	}

	q.out_fence_fd = out_fd;
	q.index = buf->index;
	q.sequence = seq;
	if (copy_to_user(arg, &q, sizeof(q))) {
		ret = -EFAULT;
		goto err_sync_file;
	}

	dma_resv_lock(dmabuf->resv, NULL);
	ret = dma_resv_reserve_fences(dmabuf->resv, 1);
	if (!ret)
		dma_resv_add_fence(dmabuf->resv, &zf->base, DMA_RESV_USAGE_WRITE);
	dma_resv_unlock(dmabuf->resv);
	if (ret)
		goto err_sync_file;

	/* Nothing fails from here on. */
	if (sync_file)
		fd_install(out_fd, sync_file->file);
	ctx->next_seq = seq + 1;
	atomic64_add(drops, &zdev->drops);
	frame->buf = buf;
	frame->fence = &zf->base;
	frame->in_fence = in_fence;
	frame->sequence = seq;
	frame->skip = drops;
	spin_lock(&ctx->qlock);
	list_add_tail(&frame->node, &ctx->queue);
	spin_unlock(&ctx->qlock);
	mutex_unlock(&ctx->lock);
	return 0;

err_sync_file:
	if (sync_file)
		fput(sync_file->file);
err_fence:
	atomic_add(underruns, &ctx->underruns);
	atomic_add(drops, &zdev->drop_frames);
	/* Never published, so nobody waits on it; its release op frees it. */
	dma_fence_put(&zf->base);
	zf = NULL;
	clear_bit(ZCAM_BUFFER_QUEUED, &buf->flags);
err_unlock:
	mutex_unlock(&ctx->lock);
	if (out_fd >= 0)
		put_unused_fd(out_fd);
err_zf:
	kfree(zf);
err_frame:
	kfree(frame);
err_in_fence:
	if (in_fence)
		dma_fence_put(in_fence);
err_dmabuf:
	dma_buf_put(dmabuf);
	return ret;
}
