/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: export macro for the public API of libgstzerocopy-1.0.
 */
#ifndef __GST_ZC_PRELUDE_H__
#define __GST_ZC_PRELUDE_H__

#include <gst/gst.h>

/**
 * GST_ZC_API:
 *
 * Marks a function or variable as part of the public ABI of
 * libgstzerocopy-1.0. The library is built with hidden visibility; only
 * symbols carrying this macro are exported.
 *
 * Since: 0.1
 */
#ifndef GST_ZC_API
#if defined(__GNUC__)
#define GST_ZC_API __attribute__ ((visibility ("default"))) extern
#else
#define GST_ZC_API extern
#endif
#endif

#endif /* __GST_ZC_PRELUDE_H__ */
