/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The zerocopy plugin: registers the elements, nothing else.
 */
#include <gst/gst.h>

#include "gstzcamdeviceprovider.h"
#include "gstzcamsrc.h"
#include "gstzcfence.h"
#ifdef HAVE_ZCKMSSINK
#include "gstzckmssink.h"
#endif

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;
  ret |= GST_ELEMENT_REGISTER (zcamsrc, plugin);
  ret |= GST_DEVICE_PROVIDER_REGISTER (zcamdeviceprovider, plugin);
  ret |= GST_ELEMENT_REGISTER (zcfence, plugin);
#ifdef HAVE_ZCKMSSINK
  ret |= GST_ELEMENT_REGISTER (zckmssink, plugin);
#endif
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, zerocopy,
    "Zero-copy dma-buf capture and display with fences", plugin_init, VERSION,
    "LGPL", PACKAGE_NAME, PACKAGE_ORIGIN)
