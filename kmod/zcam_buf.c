// SPDX-License-Identifier: GPL-2.0
/*
 * zcam: frame buffers and their dma_buf_ops.
 *
 * A buffer is an array of order-0 pages the module allocates zeroed and owns
 * until the dma-buf is released. They are mapped once into the kernel (the
 * capture engine writes through that mapping and vmap hands it out); each
 * importer gets its own sg_table, DMA-mapped against its own device.
 */
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "zcam_drv.h"

/*
 * One per dma_buf_attach(): the importer's device and its own sg_table.
 * @sync is a copy of @sgt made while it is mapped, for our own CPU-access
 * syncs: the table handed to the importer belongs to the importer while
 * mapped (CONFIG_DMABUF_DEBUG mangles its page links to catch importers
 * that touch pages), so the exporter must not walk it.
 */
struct zcam_attachment {
	struct device *dev;
	struct sg_table sgt;
	struct sg_table sync;
	struct list_head node;
	enum dma_data_direction dir;
	bool mapped;
};

static int zcam_dmabuf_attach(struct dma_buf *dmabuf,
			      struct dma_buf_attachment *attach)
{
	struct zcam_buffer *buf = dmabuf->priv;
	struct zcam_attachment *a;
	int ret;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	/* Respect the importer's segment size limit. */
	ret = sg_alloc_table_from_pages_segment(&a->sgt, buf->pages, buf->num_pages,
						0, buf->num_pages << PAGE_SHIFT,
						dma_get_max_seg_size(attach->dev),
						GFP_KERNEL);
	if (ret) {
		kfree(a);
		return ret;
	}
	a->dev = attach->dev;
	INIT_LIST_HEAD(&a->node);
	attach->priv = a;

	mutex_lock(&buf->lock);
	list_add(&a->node, &buf->attachments);
	mutex_unlock(&buf->lock);
	return 0;
}

static void zcam_dmabuf_detach(struct dma_buf *dmabuf,
			       struct dma_buf_attachment *attach)
{
	struct zcam_buffer *buf = dmabuf->priv;
	struct zcam_attachment *a = attach->priv;

	mutex_lock(&buf->lock);
	list_del(&a->node);
	mutex_unlock(&buf->lock);
	sg_free_table(&a->sgt);
	kfree(a);
}

/*
 * Allocates @copy with the pages of @a->sgt, before mapping and without
 * buf->lock: the capture engine takes that lock while it signals fences,
 * so nothing under it may allocate (lockdep's dma_fence_map annotation).
 * @a->sgt's pages never change after attach.
 */
static int zcam_attachment_copy_pages(struct zcam_attachment *a,
				      struct sg_table *copy)
{
	struct scatterlist *s, *d;
	unsigned int i;
	int ret;

	ret = sg_alloc_table(copy, a->sgt.orig_nents, GFP_KERNEL);
	if (ret)
		return ret;
	d = copy->sgl;
	for_each_sgtable_sg(&a->sgt, s, i) {
		sg_set_page(d, sg_page(s), s->length, s->offset);
		d = sg_next(d);
	}
	return 0;
}

/* Copies the DMA addresses of the just mapped @a->sgt into @a->sync. */
static void zcam_attachment_copy_dma(struct zcam_attachment *a)
{
	struct scatterlist *s, *d = a->sync.sgl;
	unsigned int i;

	for_each_sgtable_sg(&a->sgt, s, i) {
		sg_dma_address(d) = sg_dma_address(s);
		sg_dma_len(d) = sg_dma_len(s);
		d = sg_next(d);
	}
	a->sync.nents = a->sgt.nents;
}

static struct sg_table *zcam_dmabuf_map(struct dma_buf_attachment *attach,
					enum dma_data_direction dir)
{
	struct zcam_buffer *buf = attach->dmabuf->priv;
	struct zcam_attachment *a = attach->priv;
	struct sg_table sync;
	int ret;

	ret = zcam_attachment_copy_pages(a, &sync);
	if (ret)
		return ERR_PTR(ret);
	mutex_lock(&buf->lock);
	if (a->mapped) {
		/* One mapping per attachment, as the core expects. */
		ret = -EBUSY;
		goto out;
	}
	ret = dma_map_sgtable(a->dev, &a->sgt, dir, 0);
	if (ret)
		goto out;
	a->sync = sync;
	zcam_attachment_copy_dma(a);
	a->mapped = true;
	a->dir = dir;
out:
	mutex_unlock(&buf->lock);
	if (ret) {
		sg_free_table(&sync);
		return ERR_PTR(ret);
	}
	return &a->sgt;
}

static void zcam_dmabuf_unmap(struct dma_buf_attachment *attach,
			      struct sg_table *sgt, enum dma_data_direction dir)
{
	struct zcam_buffer *buf = attach->dmabuf->priv;
	struct zcam_attachment *a = attach->priv;
	struct sg_table sync;

	mutex_lock(&buf->lock);
	a->mapped = false;
	dma_unmap_sgtable(a->dev, sgt, dir, 0);
	sync = a->sync;
	memset(&a->sync, 0, sizeof(a->sync));
	mutex_unlock(&buf->lock);
	sg_free_table(&sync);
}

/*
 * CPU access brackets. Each mapped attachment is synced with the direction
 * it was mapped with (the DMA API requires that); @dir only tells which
 * half is needed: before the CPU reads, device writes must become visible
 * (sync for cpu); after the CPU wrote, its writes must reach the devices
 * (sync for device). The kernel alias in @vaddr gets the same treatment for
 * caches that can alias.
 */
static void zcam_buffer_sync_for_cpu(struct zcam_buffer *buf,
				     enum dma_data_direction dir)
{
	struct zcam_attachment *a;

	if (dir == DMA_TO_DEVICE)
		return;
	mutex_lock(&buf->lock);
	invalidate_kernel_vmap_range(buf->vaddr, buf->num_pages << PAGE_SHIFT);
	list_for_each_entry(a, &buf->attachments, node)
		if (a->mapped)
			dma_sync_sgtable_for_cpu(a->dev, &a->sync, a->dir);
	mutex_unlock(&buf->lock);
}

static void zcam_buffer_sync_for_device(struct zcam_buffer *buf,
					enum dma_data_direction dir)
{
	struct zcam_attachment *a;

	if (dir == DMA_FROM_DEVICE)
		return;
	mutex_lock(&buf->lock);
	flush_kernel_vmap_range(buf->vaddr, buf->num_pages << PAGE_SHIFT);
	list_for_each_entry(a, &buf->attachments, node)
		if (a->mapped)
			dma_sync_sgtable_for_device(a->dev, &a->sync, a->dir);
	mutex_unlock(&buf->lock);
}

static int zcam_dmabuf_begin_cpu_access(struct dma_buf *dmabuf,
					enum dma_data_direction dir)
{
	zcam_buffer_sync_for_cpu(dmabuf->priv, dir);
	return 0;
}

static int zcam_dmabuf_end_cpu_access(struct dma_buf *dmabuf,
				      enum dma_data_direction dir)
{
	zcam_buffer_sync_for_device(dmabuf->priv, dir);
	return 0;
}

/* The engine writes a frame through buf->vaddr between these two calls. */
void zcam_buffer_cpu_write_begin(struct zcam_buffer *buf)
{
	zcam_buffer_sync_for_cpu(buf, DMA_BIDIRECTIONAL);
}

void zcam_buffer_cpu_write_end(struct zcam_buffer *buf)
{
	zcam_buffer_sync_for_device(buf, DMA_TO_DEVICE);
}

static vm_fault_t zcam_vm_fault(struct vm_fault *vmf)
{
	struct zcam_buffer *buf = vmf->vma->vm_private_data;
	struct page *page;

	/* vmf->pgoff already includes the mapping's vm_pgoff. */
	if (vmf->pgoff >= buf->num_pages)
		return VM_FAULT_SIGBUS;
	page = buf->pages[vmf->pgoff];
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct zcam_vm_ops = {
	.fault = zcam_vm_fault,
};

static int zcam_dmabuf_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	/*
	 * A private mapping would give the process copies of the frames
	 * instead of the frames: refuse it. The core already checked that
	 * vm_pgoff + length lies inside the buffer.
	 */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	vma->vm_ops = &zcam_vm_ops;
	vma->vm_private_data = dmabuf->priv;
	return 0;
}

static int zcam_dmabuf_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct zcam_buffer *buf = dmabuf->priv;

	mutex_lock(&buf->lock);
	buf->vmap_count++;
	mutex_unlock(&buf->lock);
	atomic64_inc(&buf->zdev->vmaps);
	iosys_map_set_vaddr(map, buf->vaddr);
	return 0;
}

static void zcam_dmabuf_vunmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct zcam_buffer *buf = dmabuf->priv;

	mutex_lock(&buf->lock);
	if (!WARN_ON(buf->vmap_count == 0))
		buf->vmap_count--;
	mutex_unlock(&buf->lock);
}

static void zcam_buffer_free_pages(struct zcam_buffer *buf, pgoff_t n)
{
	while (n--)
		__free_page(buf->pages[n]);
	kvfree(buf->pages);
}

static void zcam_dmabuf_release(struct dma_buf *dmabuf)
{
	struct zcam_buffer *buf = dmabuf->priv;
	struct zcam_ctx *ctx = buf->ctx;

	vunmap(buf->vaddr);
	zcam_buffer_free_pages(buf, buf->num_pages);
	mutex_destroy(&buf->lock);

	/* The index becomes free for the next CREATE_BUF on this file. */
	ida_free(&ctx->buf_ida, buf->index);
	atomic_dec(&ctx->num_buffers);
	atomic_dec(&buf->zdev->live_buffers);
	kfree(buf);
	zcam_ctx_put(ctx);
}

static const struct dma_buf_ops zcam_dmabuf_ops = {
	.attach = zcam_dmabuf_attach,
	.detach = zcam_dmabuf_detach,
	.map_dma_buf = zcam_dmabuf_map,
	.unmap_dma_buf = zcam_dmabuf_unmap,
	.release = zcam_dmabuf_release,
	.begin_cpu_access = zcam_dmabuf_begin_cpu_access,
	.end_cpu_access = zcam_dmabuf_end_cpu_access,
	.mmap = zcam_dmabuf_mmap,
	.vmap = zcam_dmabuf_vmap,
	.vunmap = zcam_dmabuf_vunmap,
};

bool zcam_is_zcam_dmabuf(const struct dma_buf *dmabuf)
{
	return dmabuf->ops == &zcam_dmabuf_ops;
}

/*
 * Allocates the pages and the kernel mapping of a buffer. Returns NULL
 * without side effects when memory is short or the caller was killed.
 */
static struct zcam_buffer *zcam_buffer_alloc(const struct zcam_format *fmt)
{
	/* Movable memory charged to the caller's cgroup; fail, don't OOM. */
	const gfp_t gfp = GFP_HIGHUSER | __GFP_ZERO | __GFP_ACCOUNT |
			  __GFP_NOWARN | __GFP_RETRY_MAYFAIL;
	struct zcam_buffer *buf;
	pgoff_t i;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return NULL;
	buf->num_pages = fmt->size >> PAGE_SHIFT;
	buf->pages = kvmalloc_array(buf->num_pages, sizeof(*buf->pages),
				    GFP_KERNEL);
	if (!buf->pages)
		goto err_buf;
	for (i = 0; i < buf->num_pages; i++) {
		if (fatal_signal_pending(current))
			goto err_pages;
		buf->pages[i] = alloc_page(gfp);
		if (!buf->pages[i])
			goto err_pages;
	}
	buf->vaddr = vmap(buf->pages, buf->num_pages, VM_MAP, PAGE_KERNEL);
	if (!buf->vaddr)
		goto err_pages;

	buf->fmt = *fmt;
	mutex_init(&buf->lock);
	INIT_LIST_HEAD(&buf->attachments);
	return buf;

err_pages:
	zcam_buffer_free_pages(buf, i);
err_buf:
	kfree(buf);
	return NULL;
}

long zcam_ioctl_create_buf(struct zcam_ctx *ctx, void __user *arg)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct zcam_create_buffer req;
	struct zcam_buffer *buf;
	struct dma_buf *dmabuf;
	unsigned int max;
	size_t i;
	int index, fd;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags & ~ZCAM_BUF_CLOEXEC || req.reserved0)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(req.reserved); i++)
		if (req.reserved[i])
			return -EINVAL;

	mutex_lock(&ctx->lock);
	max = clamp_t(u32, READ_ONCE(zcam_max_buffers), 1, 1024);
	index = ida_alloc_max(&ctx->buf_ida, max - 1, GFP_KERNEL);
	if (index < 0) {
		ret = index;
		goto err_unlock;
	}
	buf = zcam_buffer_alloc(&ctx->fmt);
	if (!buf) {
		ret = -ENOMEM;
		goto err_ida;
	}
	buf->index = index;

	exp_info.ops = &zcam_dmabuf_ops;
	exp_info.size = buf->num_pages << PAGE_SHIFT;
	exp_info.flags = O_RDWR;
	exp_info.priv = buf;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto err_buf;
	}
	/* From here on the dma-buf's release op frees @buf and the index. */
	buf->dmabuf = dmabuf;
	buf->ctx = ctx;
	buf->zdev = ctx->zdev;
	kref_get(&ctx->ref);
	atomic_inc(&ctx->num_buffers);
	atomic_inc(&ctx->zdev->live_buffers);

	fd = get_unused_fd_flags(req.flags & ZCAM_BUF_CLOEXEC ? O_CLOEXEC : 0);
	if (fd < 0) {
		ret = fd;
		goto err_dmabuf;
	}
	req.fd = fd;
	req.index = index;
	req.size = exp_info.size;
	if (copy_to_user(arg, &req, sizeof(req))) {
		put_unused_fd(fd);
		ret = -EFAULT;
		goto err_dmabuf;
	}
	/* The fd takes over the reference dma_buf_export() returned. */
	fd_install(fd, dmabuf->file);
	mutex_unlock(&ctx->lock);
	return 0;

err_dmabuf:
	dma_buf_put(dmabuf);
	mutex_unlock(&ctx->lock);
	return ret;
err_buf:
	vunmap(buf->vaddr);
	zcam_buffer_free_pages(buf, buf->num_pages);
	mutex_destroy(&buf->lock);
	kfree(buf);
err_ida:
	ida_free(&ctx->buf_ida, index);
err_unlock:
	mutex_unlock(&ctx->lock);
	return ret;
}
