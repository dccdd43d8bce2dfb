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

#include <string>

namespace zc {

/* Empty when nothing in @query (answered by downstream) or in the element
 * linked to @srcpad (when given) says it copies; else a sentence naming the
 * element or pool and the fix. */
std::string downstream_copies (GstQuery *query, GstPad *srcpad = nullptr);

/* True once per query: the first element upstream that sees the sign
 * warns, the ones further up (zcamsrc behind zcfence) stay quiet. */
bool claim_copy_warning (GstQuery *query);

} // namespace zc
