// SPDX-License-Identifier: GPL-2.0
/*
 * zcam: statistics and fault injection in debugfs, one directory per device:
 *
 *   /sys/kernel/debug/zcam/zcamN/stats           read: counters, "name: value"
 *   /sys/kernel/debug/zcam/zcamN/fail_fences     next N frames fail with -EIO
 *   /sys/kernel/debug/zcam/zcamN/fence_delay_ms  signal every frame X ms late
 *   /sys/kernel/debug/zcam/zcamN/drop_frames     lose the next N frames
 *
 * The knobs act on the device, whichever open file streams on it.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "zcam_drv.h"

static struct dentry *zcam_debugfs_root;

static int zcam_stats_show(struct seq_file *m, void *unused)
{
	struct zcam_device *zdev = m->private;

	seq_printf(m, "frames: %lld\n", atomic64_read(&zdev->frames));
	seq_printf(m, "drops: %lld\n", atomic64_read(&zdev->drops));
	seq_printf(m, "fence_errors: %lld\n", atomic64_read(&zdev->fence_errors));
	seq_printf(m, "event_overflows: %lld\n",
		   atomic64_read(&zdev->event_overflows));
	seq_printf(m, "vmaps: %lld\n", atomic64_read(&zdev->vmaps));
	seq_printf(m, "live_buffers: %d\n", atomic_read(&zdev->live_buffers));
	seq_printf(m, "live_fences: %d\n", atomic_read(&zdev->live_fences));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(zcam_stats);

void zcam_debugfs_init(void)
{
	zcam_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
}

void zcam_debugfs_add(struct zcam_device *zdev)
{
	struct dentry *dir = debugfs_create_dir(zdev->name, zcam_debugfs_root);

	zdev->debugfs = dir;
	debugfs_create_file("stats", 0444, dir, zdev, &zcam_stats_fops);
	debugfs_create_atomic_t("fail_fences", 0644, dir, &zdev->fail_fences);
	debugfs_create_atomic_t("drop_frames", 0644, dir, &zdev->drop_frames);
	debugfs_create_u32("fence_delay_ms", 0644, dir, &zdev->fence_delay_ms);
}

void zcam_debugfs_exit(void)
{
	debugfs_remove_recursive(zcam_debugfs_root);
}
