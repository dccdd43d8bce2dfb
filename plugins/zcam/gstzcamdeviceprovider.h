/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The zcam device provider: lists /dev/zcamN devices for GstDeviceMonitor
 * (class "Video/Source"); each device creates a zcamsrc for its node.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_ZCAM_DEVICE_PROVIDER (gst_zcam_device_provider_get_type ())
G_DECLARE_FINAL_TYPE (GstZcamDeviceProvider, gst_zcam_device_provider, GST,
    ZCAM_DEVICE_PROVIDER, GstDeviceProvider)

#define GST_TYPE_ZCAM_DEVICE (gst_zcam_device_get_type ())
G_DECLARE_FINAL_TYPE (GstZcamDevice, gst_zcam_device, GST, ZCAM_DEVICE,
    GstDevice)

GST_DEVICE_PROVIDER_REGISTER_DECLARE (zcamdeviceprovider);

G_END_DECLS
