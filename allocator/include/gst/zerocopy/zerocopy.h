/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: umbrella header of libgstzerocopy-1.0.
 */
#ifndef __GST_ZEROCOPY_H__
#define __GST_ZEROCOPY_H__

#include <gst/zerocopy/zerocopy-prelude.h>
#include <gst/zerocopy/gstzcformat.h>
#include <gst/zerocopy/gstzcsyncfile.h>
#include <gst/zerocopy/gstzcfencemeta.h>
#include <gst/zerocopy/gstzcallocator.h>
#include <gst/zerocopy/gstzcbufferpool.h>

#endif /* __GST_ZEROCOPY_H__ */
