// SPDX-License-Identifier: GPL-2.0
/*
 * zcam: the capture engine, frame fences and completion events.
 *
 * Timing model. While a stream is on, frame period k (counted from STREAMON)
 * ends at t0 + (k + 1) * period, and an hrtimer ticks at each end to kick the
 * stream's work item. The frame of period k is read out when its period has
 * ended: the engine takes the oldest queued frame, waits (bounded by
 * in_fence_timeout_ms) for its in-fence and for every foreign fence in the
 * buffer's reservation object, and then gives it the sequence of the last
 * period that has ended at that moment, writes the pattern of that sequence
 * through the kernel mapping and signals the frame's fence with the
 * completion time. A period the engine could not use for whatever reason (no
 * buffer queued, still busy with the previous frame, waiting for a fence,
 * not scheduled in time) is lost: the next completed frame's sequence skips
 * it, and every sequence number skipped is counted as a drop. So the
 * sequence always follows the clock: seq == seq_base + periods since
 * STREAMON - 1 at the start of the readout.
 *
 * QBUF returns a lower bound: the first period the frame can be captured in
 * (the current period while streaming, plus injected drops). It is also the
 * fence's seqno, which must be known when the fence is created; the engine
 * never captures a frame in a period before it.
 *
 * Fences always signal in bounded time: a frame queued while the stream is
 * off fails with -ETIMEDOUT after start_timeout_ms unless STREAMON comes
 * first, the waits before a capture are bounded, and STREAMOFF and close
 * cancel everything pending.
 *
 * The signalling paths (engine, expiry, cancellation) are annotated with
 * dma_fence_begin_signalling(): from the moment a frame leaves the queue its
 * fence is committed to signal, so in between nothing allocates memory or
 * takes a lock that is held while waiting for a fence or allocating memory.
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

/*
 * Signals the frame's fence (with @err if non-zero) and reports the frame.
 * Only spinlocks: callable in a fence signalling critical section.
 */
static void zcam_frame_signal(struct zcam_ctx *ctx, struct zcam_frame *frame,
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
}

/* Drops the frame's references, after its fence has signalled. */
static void zcam_frame_free(struct zcam_frame *frame)
{
	if (frame->in_fence)
		dma_fence_put(frame->in_fence);
	dma_fence_put(frame->fence);
	dma_buf_put(frame->buf->dmabuf);
	kfree(frame);
}

/* Frame periods that have ended since STREAMON (@qlock or ctx->lock held). */
static u64 zcam_periods_ended(struct zcam_ctx *ctx)
{
	s64 dt = ktime_to_ns(ktime_sub(ktime_get(), ctx->t0));

	if (dt <= 0)
		return 0;
	return div64_u64(dt, ktime_to_ns(ctx->period));
}

/*
 * Gives @frame its sequence: the last frame period that has ended when
 * @captured (the engine reads the frame out now), else the next unused one;
 * never less than QBUF promised. Sequence numbers skipped are drops.
 */
static void zcam_frame_claim(struct zcam_ctx *ctx, struct zcam_frame *frame,
			     bool captured)
{
	u64 seq = max(ctx->next_period, frame->qseq);
	u64 ended;

	lockdep_assert_held(&ctx->qlock);
	if (captured) {
		ended = zcam_periods_ended(ctx);
		if (ended)
			seq = max(seq, ctx->seq_base + ended - 1);
	}
	if (seq > ctx->next_period)
		atomic64_add(seq - ctx->next_period, &ctx->zdev->drops);
	ctx->next_period = seq + 1;
	frame->sequence = seq;
}

/* Fails every frame on @list with @err, in list order, and frees them. */
static void zcam_frames_fail(struct zcam_ctx *ctx, struct list_head *list,
			     int err)
{
	struct zcam_frame *frame, *tmp;
	bool cookie;

	cookie = dma_fence_begin_signalling();
	list_for_each_entry(frame, list, node) {
		spin_lock(&ctx->qlock);
		zcam_frame_claim(ctx, frame, false);
		spin_unlock(&ctx->qlock);
		zcam_frame_signal(ctx, frame, err);
	}
	dma_fence_end_signalling(cookie);

	list_for_each_entry_safe(frame, tmp, list, node) {
		list_del(&frame->node);
		zcam_frame_free(frame);
	}
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
 * The unlocked iterator neither allocates nor takes the reservation lock,
 * so this is safe in the signalling section; it holds a reference on the
 * fence it returns, not the RCU lock, while we wait.
 */
static int zcam_wait_resv(struct zcam_ctx *ctx, struct zcam_frame *frame,
			  unsigned long deadline)
{
	struct dma_resv_iter cursor;
	struct dma_fence *fence;
	int ret = 0;

	dma_resv_iter_begin(&cursor, frame->buf->dmabuf->resv, DMA_RESV_USAGE_READ);
	dma_resv_for_each_fence_unlocked(&cursor, fence) {
		if (fence->context == frame->fence->context)
			continue;
		ret = zcam_wait_fence(ctx, fence, deadline);
		if (ret)
			break;
	}
	dma_resv_iter_end(&cursor);
	return ret;
}

static void zcam_capture(struct zcam_ctx *ctx, struct zcam_frame *frame)
{
	struct zcam_device *zdev = ctx->zdev;
	struct zcam_buffer *buf = frame->buf;
	unsigned int timeout = clamp_t(u32, READ_ONCE(zcam_in_fence_timeout_ms), 1, 60000);
	unsigned long deadline = jiffies + msecs_to_jiffies(timeout);
	unsigned int delay;
	bool cookie;
	int err = 0;

	/*
	 * The frame has left the queue: its fence signals below whatever
	 * happens. The waits are bounded waits for other fences; the cache
	 * maintenance takes buf->lock, which nobody holds while waiting for
	 * a fence or allocating memory.
	 */
	cookie = dma_fence_begin_signalling();
	if (frame->in_fence)
		err = zcam_wait_fence(ctx, frame->in_fence, deadline);
	if (!err)
		err = zcam_wait_resv(ctx, frame, deadline);

	/* The readout starts now: the frame gets the current period. */
	spin_lock(&ctx->qlock);
	zcam_frame_claim(ctx, frame, true);
	spin_unlock(&ctx->qlock);

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
	zcam_frame_signal(ctx, frame, err);
	dma_fence_end_signalling(cookie);
	zcam_frame_free(frame);
}

/*
 * One readout per run, kicked by the timer at the end of each period. Runs
 * that come while the previous readout is still going are merged by the
 * workqueue; the periods they stood for are lost and show up as a sequence
 * gap (zcam_frame_claim()).
 */
static void zcam_engine_work(struct work_struct *work)
{
	struct zcam_ctx *ctx = container_of(work, struct zcam_ctx, work);
	struct zcam_frame *frame;
	u64 ended, seq;

	spin_lock(&ctx->qlock);
	frame = list_first_entry_or_null(&ctx->queue, struct zcam_frame, node);
	/* No buffer queued: this period is lost. */
	if (!ctx->running || !frame)
		goto unlock;
	ended = zcam_periods_ended(ctx);
	if (!ended)
		goto unlock;
	seq = ctx->seq_base + ended - 1;
	/*
	 * A period already used, or one before the frame's first (injected
	 * drops): wait for the next tick.
	 */
	if (seq < ctx->next_period || seq < frame->qseq)
		goto unlock;
	list_del(&frame->node);
	spin_unlock(&ctx->qlock);

	zcam_capture(ctx, frame);
	return;

unlock:
	spin_unlock(&ctx->qlock);
}

/*
 * Frames queued while the stream is off fail with -ETIMEDOUT once their
 * deadline passes: userspace cannot keep a published fence unsignalled by
 * never calling STREAMON.
 */
static void zcam_expire_work(struct work_struct *work)
{
	struct zcam_ctx *ctx = container_of(to_delayed_work(work), struct zcam_ctx,
					    expire);
	struct zcam_frame *frame, *tmp;
	unsigned long next = 0;
	bool more = false;
	LIST_HEAD(expired);

	spin_lock(&ctx->qlock);
	if (!ctx->running) {
		list_for_each_entry_safe(frame, tmp, &ctx->queue, node) {
			if (time_before(jiffies, frame->deadline)) {
				next = frame->deadline;
				more = true;
				break;
			}
			list_move_tail(&frame->node, &expired);
		}
	}
	spin_unlock(&ctx->qlock);

	zcam_frames_fail(ctx, &expired, -ETIMEDOUT);
	if (more)
		queue_delayed_work(zcam_wq, &ctx->expire,
				   max_t(long, (long)(next - jiffies), 1));
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
	INIT_DELAYED_WORK(&ctx->expire, zcam_expire_work);
	hrtimer_init(&ctx->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	ctx->timer.function = zcam_timer_fn;
}

/* A stream starts at its first QBUF or STREAMON: new fence context. */
static void zcam_stream_begin(struct zcam_ctx *ctx)
{
	if (ctx->fence_context)
		return;
	ctx->fence_context = dma_fence_context_alloc(1);
	ctx->next_qseq = 0;
	ctx->seq_base = 0;
	spin_lock(&ctx->qlock);
	ctx->next_period = 0;
	spin_unlock(&ctx->qlock);
}

/*
 * STREAMOFF and close: stop the timer, cancel the frame in progress and
 * every queued frame (fence error -ECANCELED, in queue order), and end the
 * stream; the next one gets a new fence context and starts at sequence 0.
 */
void zcam_stream_stop(struct zcam_ctx *ctx)
{
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
	/* Frames that already expired signal before the cancelled ones. */
	cancel_delayed_work_sync(&ctx->expire);

	zcam_frames_fail(ctx, &cancel, -ECANCELED);

	WRITE_ONCE(ctx->stopping, false);
	ctx->streaming = false;
	ctx->fence_context = 0;
	ctx->next_qseq = 0;
	ctx->seq_base = 0;
	spin_lock(&ctx->qlock);
	ctx->next_period = 0;
	spin_unlock(&ctx->qlock);
}

long zcam_ioctl_streamon(struct zcam_ctx *ctx, void __user *arg)
{
	struct zcam_stream s;
	ktime_t period;
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
	period = ns_to_ktime(div_u64((u64)s.fps_den * NSEC_PER_SEC, s.fps_num));

	mutex_lock(&ctx->lock);
	if (ctx->streaming) {
		ret = -EBUSY;
		goto out;
	}
	/* Queued frames are captured now; expiry must not race the engine. */
	cancel_delayed_work_sync(&ctx->expire);
	zcam_stream_begin(ctx);
	ctx->streaming = true;
	spin_lock(&ctx->qlock);
	ctx->period = period;
	/* Frames that expired before STREAMON used their sequence numbers. */
	ctx->seq_base = ctx->next_period;
	ctx->t0 = ktime_get();
	ctx->running = true;
	spin_unlock(&ctx->qlock);
	hrtimer_start(&ctx->timer, period, HRTIMER_MODE_REL);
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
	struct zcam_frame *frame, *f;
	struct zcam_buffer *buf;
	struct dma_buf *dmabuf;
	struct zcam_fence *zf;
	unsigned long timeout;
	struct zcam_queue q;
	int drops;
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
	/*
	 * The first period the frame can be captured in: not before the
	 * current one while streaming (it is read out when the period ends),
	 * one period after each frame still queued before it, and after the
	 * periods an injected drop loses. Exact while the engine keeps up,
	 * never too high (the engine would idle for it).
	 */
	spin_lock(&ctx->qlock);
	seq = ctx->next_period;
	if (ctx->streaming)
		seq = max(seq, ctx->seq_base + zcam_periods_ended(ctx));
	list_for_each_entry(f, &ctx->queue, node)
		seq++;
	seq = max(seq, ctx->next_qseq);
	spin_unlock(&ctx->qlock);
	/* Bounded, so that the frame still completes in bounded time. */
	drops = clamp(atomic_xchg(&zdev->drop_frames, 0), 0, ZCAM_MAX_FPS);
	seq += drops;

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
	ctx->next_qseq = seq + 1;
	frame->buf = buf;
	frame->fence = &zf->base;
	frame->in_fence = in_fence;
	frame->qseq = seq;
	frame->sequence = seq;
	/* One jiffy more: the current one may be almost over. */
	timeout = msecs_to_jiffies(clamp_t(u32, READ_ONCE(zcam_start_timeout_ms),
					   1, 60000)) + 1;
	frame->deadline = jiffies + timeout;
	spin_lock(&ctx->qlock);
	list_add_tail(&frame->node, &ctx->queue);
	spin_unlock(&ctx->qlock);
	/* Without STREAMON the fence still signals: it expires. */
	if (!ctx->streaming)
		queue_delayed_work(zcam_wq, &ctx->expire, timeout);
	mutex_unlock(&ctx->lock);
	return 0;

err_sync_file:
	if (sync_file)
		fput(sync_file->file);
err_fence:
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
