/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The acquire fence of a buffer, as seen from one of its memories.
 *
 * GstZcFenceMeta lives on a buffer, but a CPU map is made on a memory and
 * knows nothing of the buffer. So the meta also leaves a duplicate of its
 * acquire fence on each (root) memory of its buffer, and the allocator's
 * map waits for it. This covers producers whose fence is not in the
 * dma-buf's reservation object (which the map waits for anyway).
 */
#pragma once

#include <gst/gst.h>

namespace zc {

/* Records a duplicate of @fence_fd (borrowed) as the acquire fence of the
 * root memory of @mem, replacing the previous one. */
void memory_set_acquire_fence (GstMemory *mem, int fence_fd);

/* A duplicate of the acquire fence recorded for the root memory of @mem,
 * or -1 when there is none. The caller closes it. */
int memory_dup_acquire_fence (GstMemory *mem);

} // namespace zc
