/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: GstZcTestFence, real kernel fences that a test signals, for
 * GstHarness tests of elements that handle fenced buffers
 * (libgstzerocopy-check-1.0).
 */
#ifndef __GST_ZC_TEST_FENCE_H__
#define __GST_ZC_TEST_FENCE_H__

#include <gst/zerocopy/zerocopy.h>

G_BEGIN_DECLS

/**
 * GstZcTestFence:
 *
 * One pending kernel fence (a `dma_fence` behind a sync_file fd) that the
 * test signals when it wants, with or without an error. Opaque; made with
 * gst_zc_test_fence_new(), freed with gst_zc_test_fence_free().
 *
 * Since: 0.1
 */
typedef struct _GstZcTestFence GstZcTestFence;

GST_ZC_API
GstZcTestFence *gst_zc_test_fence_new (const gchar *source, GError **error);

GST_ZC_API
void gst_zc_test_fence_free (GstZcTestFence *fence);

GST_ZC_API
const gchar *gst_zc_test_fence_get_source (GstZcTestFence *fence);

GST_ZC_API
gint gst_zc_test_fence_get_fd (GstZcTestFence *fence);

GST_ZC_API
gint gst_zc_test_fence_dup_fd (GstZcTestFence *fence);

GST_ZC_API
gboolean gst_zc_test_fence_can_signal_error (GstZcTestFence *fence);

GST_ZC_API
gboolean gst_zc_test_fence_signal (GstZcTestFence *fence, gboolean with_error,
    GError **error);

GST_ZC_API
gboolean
gst_zc_test_fence_attach_to_buffer (GstZcTestFence *fence, GstBuffer *buffer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstZcTestFence, gst_zc_test_fence_free)

G_END_DECLS

#endif /* __GST_ZC_TEST_FENCE_H__ */
