/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vgem's fence ioctls, from the kernel's include/uapi/drm/vgem_drm.h, which
 * libdrm does not ship. The one copy in the tree: the tests and the
 * fence helper of libgstzerocopy-check-1.0 include it. Internal, not
 * installed.
 */
#ifndef ZC_VGEM_UAPI_H
#define ZC_VGEM_UAPI_H

#include <drm.h>

struct zc_vgem_fence_attach
{
  __u32 handle;
  __u32 flags;
  __u32 out_fence;
  __u32 pad;
};

struct zc_vgem_fence_signal
{
  __u32 fence;
  __u32 flags;
};

#define ZC_VGEM_FENCE_WRITE 0x1
#define ZC_IOCTL_VGEM_FENCE_ATTACH \
  DRM_IOWR (DRM_COMMAND_BASE + 0x1, struct zc_vgem_fence_attach)
#define ZC_IOCTL_VGEM_FENCE_SIGNAL \
  DRM_IOW (DRM_COMMAND_BASE + 0x2, struct zc_vgem_fence_signal)

#endif /* ZC_VGEM_UAPI_H */
