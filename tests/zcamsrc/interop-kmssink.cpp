// SPDX-License-Identifier: LGPL-2.1-or-later
//
// zcamsrc ! kmssink (upstream) on vkms at the display size (VM suite): the
// pipeline runs num-buffers frames to EOS without an error, kmssink renders
// every one, and vkms composes them straight from zcam's dma-bufs (PRIME
// import; zcam counts the vmaps vkms does), not from copies into kmssink's
// own dumb buffers.
#include <gst/gst.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#define STATS "/sys/kernel/debug/zcam/zcam0/stats"

static long long
zcam_stat (const char *name)
{
  FILE *f = fopen (STATS, "r");
  if (!f)
    return -1;
  char key[64];
  long long v, found = -1;
  while (fscanf (f, "%63[^:]: %lld\n", key, &v) == 2)
    if (strcmp (key, name) == 0)
      found = v;
  fclose (f);
  return found;
}

int
main (int argc, char **argv)
{
  if (access ("/dev/zcam0", R_OK | W_OK) != 0) {
    g_printerr ("no /dev/zcam0: run inside the test VM (tests/vm/run)\n");
    return 77;
  }
  gst_init (&argc, &argv);
  GstElementFactory *kms = gst_element_factory_find ("kmssink");
  if (!kms) {
    g_printerr ("no kmssink (gstreamer1.0-plugins-bad)\n");
    return 77;
  }
  gst_object_unref (kms);

  const guint frames = 20;
  long long vmaps_before = zcam_stat ("vmaps");
  // vkms (6.1) shows 1024x768 and its primary plane cannot scale: the frame
  // has the display's size. BGRx is XRGB8888 for both.
  std::string desc = "zcamsrc num-buffers=" + std::to_string (frames) +
      " ! video/x-raw,format=BGRx,width=1024,height=768,framerate=10/1"
      " ! kmssink name=sink driver-name=vkms force-modesetting=true sync=false";
  GError *err = NULL;
  GstElement *pipe = gst_parse_launch (desc.c_str (), &err);
  if (!pipe) {
    g_printerr ("%s: %s\n", desc.c_str (), err->message);
    return 1;
  }
  int rc = 0;
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
      GstMessageType (
          GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_WARNING));
  if (!msg) {
    g_printerr ("FAIL: no EOS within 120 s\n");
    rc = 1;
  } else if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_EOS) {
    gchar *dbg = NULL;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      gst_message_parse_error (msg, &err, &dbg);
    else
      gst_message_parse_warning (msg, &err, &dbg);
    g_printerr ("FAIL: %s from %s: %s (%s)\n", GST_MESSAGE_TYPE_NAME (msg),
        GST_OBJECT_NAME (msg->src), err->message, dbg ? dbg : "");
    g_clear_error (&err);
    g_free (dbg);
    rc = 1;
  }
  if (msg)
    gst_message_unref (msg);

  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GstStructure *stats = NULL;
  g_object_get (sink, "stats", &stats, NULL);
  guint64 rendered = 0, dropped = 0;
  gst_structure_get_uint64 (stats, "rendered", &rendered);
  gst_structure_get_uint64 (stats, "dropped", &dropped);
  gst_structure_free (stats);
  gst_object_unref (sink);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);

  long long vmaps_after = zcam_stat ("vmaps");
  g_print ("kmssink rendered %" G_GUINT64_FORMAT ", dropped %" G_GUINT64_FORMAT
           " of %u frames; zcam vmaps %lld -> %lld\n",
      rendered, dropped, frames, vmaps_before, vmaps_after);
  if (rendered != frames) {
    g_printerr ("FAIL: kmssink rendered %" G_GUINT64_FORMAT " of %u frames\n",
        rendered, frames);
    rc = 1;
  }
  if (vmaps_before < 0 || vmaps_after <= vmaps_before) {
    g_printerr ("FAIL: vkms never mapped a zcam buffer: kmssink did not "
                "import the dma-bufs\n");
    rc = 1;
  }
  return rc;
}
