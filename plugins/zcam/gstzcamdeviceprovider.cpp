/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device provider for zcam capture devices. It probes: zcam devices exist
 * from module load to unload (the `devices` parameter), so there is nothing
 * to monitor between two probes. Each /dev/zcamN is opened once for
 * ZCAM_IOC_QUERYCAP and closed again; its caps are exactly the ones zcamsrc
 * offers for it.
 *
 * GstZcamDevice lives in this file pair too: it is the provider's product
 * and has no use on its own (as GstV4l2Device in gst-plugins-good).
 *
 * ## Example
 * |[
 * gst-device-monitor-1.0 Video/Source
 * ]|
 */
#include "gstzcamdeviceprovider.h"

#include "gstzcamsrc.h"
#include "zc-zcam-device.h"

#include <string>

GST_DEBUG_CATEGORY_STATIC (gst_zcam_device_provider_debug);
#define GST_CAT_DEFAULT gst_zcam_device_provider_debug

/* ---- GstZcamDevice ---- */

struct _GstZcamDevice
{
  GstDevice parent;
  gchar *path; /* device node; set once at creation */
};

G_DEFINE_TYPE (GstZcamDevice, gst_zcam_device, GST_TYPE_DEVICE);

static GstElement *
gst_zcam_device_create_element (GstDevice *device, const gchar *name)
{
  GstZcamDevice *self = GST_ZCAM_DEVICE (device);
  GstElement *elem = gst_element_factory_make ("zcamsrc", name);
  if (elem)
    g_object_set (elem, "device", self->path, NULL);
  return elem;
}

static gboolean
gst_zcam_device_reconfigure_element (GstDevice *device, GstElement *element)
{
  GstZcamDevice *self = GST_ZCAM_DEVICE (device);
  if (g_strcmp0 (G_OBJECT_TYPE_NAME (element), "GstZcamSrc") != 0)
    return FALSE;
  g_object_set (element, "device", self->path, NULL);
  return TRUE;
}

static void
gst_zcam_device_finalize (GObject *object)
{
  g_free (GST_ZCAM_DEVICE (object)->path);
  G_OBJECT_CLASS (gst_zcam_device_parent_class)->finalize (object);
}

static void
gst_zcam_device_class_init (GstZcamDeviceClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstDeviceClass *device_class = GST_DEVICE_CLASS (klass);
  gobject_class->finalize = gst_zcam_device_finalize;
  device_class->create_element = gst_zcam_device_create_element;
  device_class->reconfigure_element = gst_zcam_device_reconfigure_element;
}

static void
gst_zcam_device_init (GstZcamDevice *)
{}

/* ---- GstZcamDeviceProvider ---- */

struct _GstZcamDeviceProvider
{
  GstDeviceProvider parent;
};

G_DEFINE_TYPE_WITH_CODE (GstZcamDeviceProvider, gst_zcam_device_provider,
    GST_TYPE_DEVICE_PROVIDER,
    GST_DEBUG_CATEGORY_INIT (gst_zcam_device_provider_debug,
        "zcamdeviceprovider", 0, "zcam device provider"));
GST_DEVICE_PROVIDER_REGISTER_DEFINE (zcamdeviceprovider, "zcamdeviceprovider",
    GST_RANK_PRIMARY, GST_TYPE_ZCAM_DEVICE_PROVIDER);

static GstDevice *
device_for_node (const std::string &path)
{
  zc::ZcamDevice dev;
  int ret = dev.open (path);
  if (ret < 0) {
    /* Busy, no permission or another uapi version: not usable here. */
    GST_INFO ("skipping %s: %s", path.c_str (), g_strerror (-ret));
    return nullptr;
  }
  GstCaps *caps = zc::zcamsrc_device_caps (dev.caps ());
  dev.close ();
  if (gst_caps_is_empty (caps)) {
    GST_INFO ("skipping %s: no format GStreamer knows", path.c_str ());
    gst_caps_unref (caps);
    return nullptr;
  }

  std::string node = path.substr (path.rfind ('/') + 1);
  std::string display = "zcam capture device (" + node + ")";
  GstStructure *props = gst_structure_new ("zcam-proplist", "device.path",
      G_TYPE_STRING, path.c_str (), "device.api", G_TYPE_STRING, "zcam",
      "device.bus", G_TYPE_STRING, "virtual", "zcam.api-version", G_TYPE_UINT,
      dev.caps ().version, "zcam.max-buffers", G_TYPE_UINT,
      dev.caps ().max_buffers, NULL);
  GstZcamDevice *device = GST_ZCAM_DEVICE (g_object_new (GST_TYPE_ZCAM_DEVICE,
      "display-name", display.c_str (), "device-class", "Video/Source", "caps",
      caps, "properties", props, NULL));
  device->path = g_strdup (path.c_str ());
  gst_caps_unref (caps);
  gst_structure_free (props);
  return GST_DEVICE (device);
}

static GList *
gst_zcam_device_provider_probe (GstDeviceProvider *)
{
  GList *devices = NULL;
  for (const std::string &path : zc::zcam_list_devices ()) {
    GstDevice *device = device_for_node (path);
    if (device)
      devices = g_list_append (devices, device);
  }
  return devices;
}

static void
gst_zcam_device_provider_class_init (GstZcamDeviceProviderClass *klass)
{
  GstDeviceProviderClass *dp_class = GST_DEVICE_PROVIDER_CLASS (klass);
  dp_class->probe = gst_zcam_device_provider_probe;
  gst_device_provider_class_set_static_metadata (dp_class,
      "zcam device provider", "Source/Video",
      "Lists zcam capture devices (/dev/zcamN)", ZC_ELEMENT_AUTHOR);
}

static void
gst_zcam_device_provider_init (GstZcamDeviceProvider *)
{}
