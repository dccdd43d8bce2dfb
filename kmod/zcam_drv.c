// SPDX-License-Identifier: GPL-2.0
/*
 * zcam: a virtual capture device that exports its frame memory as dma-bufs
 * and signals one dma_fence per captured frame.
 *
 * This file holds the module glue: parameters, the /dev/zcamN misc devices,
 * the per-open context, the format ioctls and the event read()/poll().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <drm/drm_fourcc.h>

#include "zcam_drv.h"

static unsigned int devices = 1;
module_param(devices, uint, 0444);
MODULE_PARM_DESC(devices, "Number of /dev/zcamN devices to create (1-16, default 1)");

unsigned int zcam_max_buffers = 32;
module_param_named(max_buffers, zcam_max_buffers, uint, 0644);
MODULE_PARM_DESC(max_buffers,
		 "Most buffers that may exist at once per open file (1-1024, default 32)");

unsigned int zcam_in_fence_timeout_ms = 1000;
module_param_named(in_fence_timeout_ms, zcam_in_fence_timeout_ms, uint, 0644);
MODULE_PARM_DESC(in_fence_timeout_ms,
		 "Longest wait for a frame's in-fence and reservation fences before the frame fails with -ETIMEDOUT (1-60000 ms, default 1000)");

unsigned int zcam_start_timeout_ms = 2000;
module_param_named(start_timeout_ms, zcam_start_timeout_ms, uint, 0644);
MODULE_PARM_DESC(start_timeout_ms,
		 "Longest time a buffer queued while the stream is off waits for STREAMON before its frame fails with -ETIMEDOUT (1-60000 ms, default 2000)");

#define ZCAM_MAX_DEVICES 16

struct workqueue_struct *zcam_wq;
static struct zcam_device *zcam_devices;
static unsigned int zcam_num_devices;

static const u32 zcam_formats[] = {
	DRM_FORMAT_XRGB8888,
	DRM_FORMAT_NV12,
	DRM_FORMAT_YUYV,
};

/*
 * Fills in the layout of @fmt from its width, height, fourcc and alignment
 * requests, or returns -EINVAL. Writes back the alignments actually used.
 */
int zcam_format_fill(struct zcam_format *fmt)
{
	u32 pitch_align = fmt->pitch_align;
	u32 height_align = fmt->height_align;
	bool subsampled = fmt->fourcc != DRM_FORMAT_XRGB8888;
	u32 bytes_pp, lines, i;
	u64 size;

	if (fmt->fourcc != DRM_FORMAT_XRGB8888 && fmt->fourcc != DRM_FORMAT_NV12 &&
	    fmt->fourcc != DRM_FORMAT_YUYV)
		return -EINVAL;
	if (fmt->width < ZCAM_MIN_SIZE || fmt->width > ZCAM_MAX_SIZE ||
	    fmt->height < ZCAM_MIN_SIZE || fmt->height > ZCAM_MAX_SIZE)
		return -EINVAL;
	if (subsampled && ((fmt->width | fmt->height) & 1))
		return -EINVAL;
	if (pitch_align == 0)
		pitch_align = ZCAM_PITCH_ALIGN;
	if (!is_power_of_2(pitch_align) || pitch_align > ZCAM_MAX_PITCH_ALIGN)
		return -EINVAL;
	pitch_align = max_t(u32, pitch_align, ZCAM_PITCH_ALIGN);
	if (height_align == 0)
		height_align = 1;
	if (!is_power_of_2(height_align) || height_align > ZCAM_MAX_HEIGHT_ALIGN)
		return -EINVAL;

	bytes_pp = fmt->fourcc == DRM_FORMAT_XRGB8888 ? 4 :
		   fmt->fourcc == DRM_FORMAT_YUYV ? 2 : 1;
	lines = ALIGN(fmt->height, height_align);

	fmt->pitch_align = pitch_align;
	fmt->height_align = height_align;
	for (i = 0; i < ZCAM_MAX_PLANES; i++) {
		fmt->pitches[i] = 0;
		fmt->offsets[i] = 0;
	}
	fmt->pitches[0] = ALIGN(fmt->width * bytes_pp, pitch_align);
	size = (u64)fmt->pitches[0] * lines;
	fmt->num_planes = 1;
	if (fmt->fourcc == DRM_FORMAT_NV12) {
		/* Interleaved CbCr: half the lines, same bytes per line. */
		fmt->num_planes = 2;
		fmt->pitches[1] = fmt->pitches[0];
		fmt->offsets[1] = size;
		size += (u64)fmt->pitches[1] * (lines / 2);
	}
	size = PAGE_ALIGN(size);
	/* Not reachable with the limits above; kept for future limits. */
	if (size > U32_MAX)
		return -EINVAL;
	fmt->size = size;
	return 0;
}

static bool zcam_reserved_zero(const u32 *words, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (words[i])
			return false;
	return true;
}

static long zcam_ioctl_querycap(struct zcam_ctx *ctx, void __user *arg)
{
	struct zcam_caps caps = {
		.version = ZCAM_API_VERSION,
		.num_formats = ARRAY_SIZE(zcam_formats),
		.min_width = ZCAM_MIN_SIZE,
		.min_height = ZCAM_MIN_SIZE,
		.max_width = ZCAM_MAX_SIZE,
		.max_height = ZCAM_MAX_SIZE,
		.min_fps = ZCAM_MIN_FPS,
		.max_fps = ZCAM_MAX_FPS,
		.pitch_align = ZCAM_PITCH_ALIGN,
		.max_buffers = clamp_t(u32, READ_ONCE(zcam_max_buffers), 1, 1024),
	};

	memcpy(caps.formats, zcam_formats, sizeof(zcam_formats));
	if (copy_to_user(arg, &caps, sizeof(caps)))
		return -EFAULT;
	return 0;
}

static long zcam_ioctl_g_fmt(struct zcam_ctx *ctx, void __user *arg)
{
	struct zcam_format fmt;

	mutex_lock(&ctx->lock);
	fmt = ctx->fmt;
	mutex_unlock(&ctx->lock);
	if (copy_to_user(arg, &fmt, sizeof(fmt)))
		return -EFAULT;
	return 0;
}

static long zcam_ioctl_s_fmt(struct zcam_ctx *ctx, void __user *arg)
{
	struct zcam_format fmt;
	bool try;
	long ret;

	if (copy_from_user(&fmt, arg, sizeof(fmt)))
		return -EFAULT;
	if (fmt.flags & ~ZCAM_FMT_TRY || fmt.reserved0 ||
	    !zcam_reserved_zero(fmt.reserved, ARRAY_SIZE(fmt.reserved)))
		return -EINVAL;
	try = fmt.flags & ZCAM_FMT_TRY;
	ret = zcam_format_fill(&fmt);
	if (ret)
		return ret;

	mutex_lock(&ctx->lock);
	if (!try && (ctx->streaming || atomic_read(&ctx->num_buffers))) {
		ret = -EBUSY;
		goto out;
	}
	if (copy_to_user(arg, &fmt, sizeof(fmt))) {
		ret = -EFAULT;
		goto out;
	}
	if (!try) {
		ctx->fmt = fmt;
		ctx->fmt.flags = 0;
	}
out:
	mutex_unlock(&ctx->lock);
	return ret;
}

static long zcam_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct zcam_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	switch (cmd) {
	case ZCAM_IOC_QUERYCAP:
		return zcam_ioctl_querycap(ctx, uarg);
	case ZCAM_IOC_G_FMT:
		return zcam_ioctl_g_fmt(ctx, uarg);
	case ZCAM_IOC_S_FMT:
		return zcam_ioctl_s_fmt(ctx, uarg);
	case ZCAM_IOC_CREATE_BUF:
		return zcam_ioctl_create_buf(ctx, uarg);
	case ZCAM_IOC_QBUF:
		return zcam_ioctl_qbuf(ctx, uarg);
	case ZCAM_IOC_STREAMON:
		return zcam_ioctl_streamon(ctx, uarg);
	case ZCAM_IOC_STREAMOFF:
		mutex_lock(&ctx->lock);
		zcam_stream_stop(ctx);
		mutex_unlock(&ctx->lock);
		ret = 0;
		break;
	default:
		ret = -ENOTTY;
		break;
	}
	return ret;
}

static int zcam_open(struct inode *inode, struct file *file)
{
	struct zcam_device *zdev = container_of(file->private_data,
						struct zcam_device, misc);
	struct zcam_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->events = kcalloc(ZCAM_EVENT_DEPTH, sizeof(*ctx->events), GFP_KERNEL);
	if (!ctx->events) {
		kfree(ctx);
		return -ENOMEM;
	}
	kref_init(&ctx->ref);
	ctx->zdev = zdev;
	mutex_init(&ctx->lock);
	ida_init(&ctx->buf_ida);
	spin_lock_init(&ctx->ev_lock);
	init_waitqueue_head(&ctx->ev_wait);
	zcam_engine_init(ctx);

	ctx->fmt.width = 640;
	ctx->fmt.height = 480;
	ctx->fmt.fourcc = DRM_FORMAT_XRGB8888;
	zcam_format_fill(&ctx->fmt);

	file->private_data = ctx;
	return nonseekable_open(inode, file);
}

static void zcam_ctx_free(struct kref *ref)
{
	struct zcam_ctx *ctx = container_of(ref, struct zcam_ctx, ref);

	ida_destroy(&ctx->buf_ida);
	mutex_destroy(&ctx->lock);
	kfree(ctx->events);
	kfree(ctx);
}

void zcam_ctx_put(struct zcam_ctx *ctx)
{
	kref_put(&ctx->ref, zcam_ctx_free);
}

static int zcam_release(struct inode *inode, struct file *file)
{
	struct zcam_ctx *ctx = file->private_data;

	/* Cancels every pending frame: nothing waits on a closed device. */
	mutex_lock(&ctx->lock);
	zcam_stream_stop(ctx);
	mutex_unlock(&ctx->lock);
	zcam_ctx_put(ctx);
	return 0;
}

static ssize_t zcam_read(struct file *file, char __user *ubuf, size_t count,
			 loff_t *ppos)
{
	struct zcam_ctx *ctx = file->private_data;
	struct zcam_event ev;
	ssize_t done = 0;
	int ret;

	if (count < sizeof(ev))
		return -EINVAL;
	if (!zcam_events_pending(ctx)) {
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(ctx->ev_wait,
					       zcam_events_pending(ctx));
		if (ret)
			return ret;
	}
	while (count - done >= sizeof(ev) && zcam_event_pop(ctx, &ev)) {
		if (copy_to_user(ubuf + done, &ev, sizeof(ev)))
			return done ? done : -EFAULT;
		done += sizeof(ev);
	}
	return done;
}

static __poll_t zcam_poll(struct file *file, poll_table *wait)
{
	struct zcam_ctx *ctx = file->private_data;

	poll_wait(file, &ctx->ev_wait, wait);
	return zcam_events_pending(ctx) ? EPOLLIN | EPOLLRDNORM : 0;
}

static const struct file_operations zcam_fops = {
	.owner = THIS_MODULE,
	.open = zcam_open,
	.release = zcam_release,
	.read = zcam_read,
	.poll = zcam_poll,
	.unlocked_ioctl = zcam_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = no_llseek,
};

static void zcam_unregister(unsigned int n)
{
	while (n--)
		misc_deregister(&zcam_devices[n].misc);
}

static int __init zcam_init(void)
{
	unsigned int i;
	int ret;

	if (devices < 1 || devices > ZCAM_MAX_DEVICES) {
		pr_err("devices=%u out of range 1-%u\n", devices, ZCAM_MAX_DEVICES);
		return -EINVAL;
	}

	/*
	 * Normal priority: the engine writes frames with the CPU and must
	 * share it fairly (it yields between lines and drops the frames it
	 * cannot make). WQ_MEM_RECLAIM: fences signal from here, and memory
	 * reclaim may wait for fences, so the work must not depend on
	 * creating a worker under memory pressure.
	 */
	zcam_wq = alloc_workqueue("zcam", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!zcam_wq)
		return -ENOMEM;
	zcam_devices = kcalloc(devices, sizeof(*zcam_devices), GFP_KERNEL);
	if (!zcam_devices) {
		ret = -ENOMEM;
		goto err_wq;
	}
	zcam_debugfs_init();

	for (i = 0; i < devices; i++) {
		struct zcam_device *zdev = &zcam_devices[i];

		snprintf(zdev->name, sizeof(zdev->name), "zcam%u", i);
		zdev->misc.minor = MISC_DYNAMIC_MINOR;
		zdev->misc.name = zdev->name;
		zdev->misc.fops = &zcam_fops;
		ret = misc_register(&zdev->misc);
		if (ret) {
			pr_err("cannot register %s: %d\n", zdev->name, ret);
			goto err_devices;
		}
		zcam_debugfs_add(zdev);
	}
	zcam_num_devices = devices;
	return 0;

err_devices:
	zcam_unregister(i);
	zcam_debugfs_exit();
	kfree(zcam_devices);
err_wq:
	destroy_workqueue(zcam_wq);
	return ret;
}

static void __exit zcam_exit(void)
{
	/*
	 * Every open file, dma-buf and fence holds a module reference, so
	 * nothing of ours is alive here.
	 */
	zcam_unregister(zcam_num_devices);
	zcam_debugfs_exit();
	kfree(zcam_devices);
	destroy_workqueue(zcam_wq);
}

module_init(zcam_init);
module_exit(zcam_exit);

MODULE_DESCRIPTION("Virtual capture device exporting frames as dma-bufs with per-frame fences");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DMA_BUF);
