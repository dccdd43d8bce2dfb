/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "zc-acquire.h"

#include <fcntl.h>

#include <mutex>

#include "zc-fd.h"

namespace zc {

namespace {

/* One per memory, created on first use and freed with the memory, so a map
 * can read it while a producer replaces the fence: the fd changes under
 * the slot's own lock, the slot itself never does. */
struct AcquireSlot
{
  std::mutex lock;
  UniqueFd fence;
};

GQuark
slot_quark ()
{
  static GQuark q = g_quark_from_static_string ("GstZcAcquireFence");
  return q;
}

GstMemory *
root_of (GstMemory *mem)
{
  while (mem->parent)
    mem = mem->parent;
  return mem;
}

AcquireSlot *
slot_of (GstMemory *mem, bool create)
{
  static std::mutex create_lock;
  auto *obj = GST_MINI_OBJECT (root_of (mem));
  auto *slot = static_cast<AcquireSlot *> (
      gst_mini_object_get_qdata (obj, slot_quark ()));
  if (slot || !create)
    return slot;
  std::lock_guard<std::mutex> guard (create_lock);
  slot = static_cast<AcquireSlot *> (
      gst_mini_object_get_qdata (obj, slot_quark ()));
  if (!slot) {
    slot = new AcquireSlot;
    gst_mini_object_set_qdata (obj, slot_quark (), slot,
        [] (gpointer p) { delete static_cast<AcquireSlot *> (p); });
  }
  return slot;
}

} // namespace

void
memory_set_acquire_fence (GstMemory *mem, int fence_fd)
{
  UniqueFd dup (fence_fd >= 0 ? fcntl (fence_fd, F_DUPFD_CLOEXEC, 3) : -1);
  if (fence_fd >= 0 && !dup)
    return; /* out of fds: the map then waits on the dma-buf only */
  AcquireSlot *slot = slot_of (mem, true);
  std::lock_guard<std::mutex> guard (slot->lock);
  slot->fence = std::move (dup);
}

int
memory_dup_acquire_fence (GstMemory *mem)
{
  AcquireSlot *slot = slot_of (mem, false);
  if (!slot)
    return -1;
  std::lock_guard<std::mutex> guard (slot->lock);
  if (!slot->fence)
    return -1;
  return fcntl (slot->fence.get (), F_DUPFD_CLOEXEC, 3);
}

} // namespace zc
