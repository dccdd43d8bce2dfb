/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: does downstream copy the frames we push? Read from its
 * answer to the allocation query: an element that proposes a buffer pool
 * of its own (a V4L2 encoder not in output-io-mode=dmabuf-import, a CPU
 * filter's system-memory pool) copies every buffer that does not come from
 * that pool, ours included. Pools of elements known to import dma-bufs
 * (zckmssink's GstZcBufferPool, kmssink's) are not such a sign. Internal.
 */
#pragma once

#include <gst/gst.h>

#include <atomic>

namespace zc {

/* Once per stream (@warned) and once per query (the first element upstream
 * that sees the sign warns, the ones further up stay quiet): when
 * downstream's answer to the allocation query @query, or the element linked
 * to @srcpad, says it copies, posts a bus warning from @self and logs the
 * same under @perf (GST_PERFORMANCE) at WARNING level, naming the element
 * and the fix. */
void warn_if_downstream_copies (GstElement *self, GstQuery *query,
    GstPad *srcpad, GstDebugCategory *perf, std::atomic<bool> &warned);

} // namespace zc
