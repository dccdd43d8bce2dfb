/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zc-camera-app: the camera -> encode + display pipeline built in code, the
 * way a media application builds it, with the elements' counters shown
 * while it runs (what such an application puts in its UI).
 *
 *   zcamsrc ! capsfilter ! tee name=t
 *     t. ! queue ! zcfence ! v4l2fwhtenc output-io-mode=dmabuf-import ! filesink
 *     t. ! queue ! zckmssink
 *
 * What it shows:
 * - gst_element_factory_make() and gst_element_link_many() instead of a
 *   launch line, and a clear message when an element is missing;
 * - zcfence in front of the V4L2 encoder (V4L2 has no fences: zcfence
 *   waits, bounded, for each frame's acquire fence before the encoder
 *   imports the dma-buf), zckmssink taking the fence itself;
 * - the read-only `stats` property of zcamsrc, zcfence and zckmssink, read
 *   twice a second from the main loop (a GstStructure; fields in
 *   docs/elements.md), plus a pad probe counting encoded frames;
 * - bus handling: errors end the run with the element's message, warnings
 *   (a frame whose fence failed) are printed and the run goes on; EOS ends
 *   it; a watchdog bounds the whole run.
 *
 * Prints a "stats" line every 500 ms and a "final" line at the end; exit
 * status 0 after EOS.
 *
 *   cc zc-camera-app.c $(pkg-config --cflags --libs gstreamer-1.0)
 *   ./zc-camera-app --frames 60 --output camera.fwht
 */
#include <gst/gst.h>

#include <stdio.h>

typedef struct
{
  GMainLoop *loop;
  GstElement *pipeline, *camera, *fence, *display;
  guint encoded;
  gboolean eos;
  gint exit_code;
} App;

/* One guint64 field of an element's stats (0 when absent). */
static guint64
stat (GstElement *element, const gchar *field)
{
  GstStructure *s = NULL;
  guint64 v = 0;
  g_object_get (element, "stats", &s, NULL);
  if (s) {
    gst_structure_get_uint64 (s, field, &v);
    gst_structure_free (s);
  }
  return v;
}

static void
print_stats (App *app, const gchar *what)
{
  printf ("%s: captured %" G_GUINT64_FORMAT " (lost %" G_GUINT64_FORMAT
      "), encoder fed %" G_GUINT64_FORMAT " (dropped %" G_GUINT64_FORMAT
      "), encoded %u, display got %" G_GUINT64_FORMAT " shown %"
      G_GUINT64_FORMAT " replaced %" G_GUINT64_FORMAT " dropped %"
      G_GUINT64_FORMAT " copies %" G_GUINT64_FORMAT "\n", what,
      stat (app->camera, "frames"), stat (app->camera, "dropped"),
      stat (app->fence, "pushed"), stat (app->fence, "dropped"),
      g_atomic_int_get (&app->encoded), stat (app->display, "frames"),
      stat (app->display, "shown"), stat (app->display, "replaced"),
      stat (app->display, "dropped"), stat (app->display, "copies"));
  fflush (stdout);
}

static gboolean
on_tick (gpointer data)
{
  print_stats (data, "stats");
  return G_SOURCE_CONTINUE;
}

static gboolean
on_watchdog (gpointer data)
{
  App *app = data;
  fprintf (stderr, "zc-camera-app: no EOS within the time limit\n");
  app->exit_code = 1;
  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  App *app = data;
  GError *err = NULL;
  gchar *dbg = NULL;
  (void) bus;
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &err, &dbg);
      fprintf (stderr, "zc-camera-app: error from %s: %s\n(%s)\n",
          GST_OBJECT_NAME (msg->src), err->message, dbg ? dbg : "");
      app->exit_code = 1;
      g_main_loop_quit (app->loop);
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &err, &dbg);
      printf ("warning from %s: %s\n", GST_OBJECT_NAME (msg->src),
          err->message);
      break;
    case GST_MESSAGE_EOS:
      app->eos = TRUE;
      g_main_loop_quit (app->loop);
      break;
    default:
      break;
  }
  g_clear_error (&err);
  g_free (dbg);
  return TRUE;
}

static GstPadProbeReturn
count_encoded (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  App *app = data;
  (void) pad;
  (void) info;
  g_atomic_int_inc (&app->encoded);
  return GST_PAD_PROBE_OK;
}

static GstElement *
make (const gchar *factory, const gchar *name)
{
  GstElement *e = gst_element_factory_make (factory, name);
  if (!e)
    fprintf (stderr, "zc-camera-app: no element \"%s\" (GST_PLUGIN_PATH must "
        "reach the zerocopy plugin; v4l2fwhtenc needs vicodec)\n", factory);
  return e;
}

int
main (int argc, char **argv)
{
  gint frames = 60, width = 640, height = 480, limit = 120;
  gchar *format = NULL, *output = NULL, *encoder_name = NULL;
  GOptionEntry entries[] = {
    { "frames", 'n', 0, G_OPTION_ARG_INT, &frames, "frames to capture", "N" },
    { "width", 0, 0, G_OPTION_ARG_INT, &width, "frame width", "W" },
    { "height", 0, 0, G_OPTION_ARG_INT, &height, "frame height", "H" },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, "BGRx (default) or NV12",
        "F" },
    { "encoder", 0, 0, G_OPTION_ARG_STRING, &encoder_name,
        "V4L2 encoder element (default v4l2fwhtenc)", "NAME" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
        "encoded stream (default: discarded)", "FILE" },
    { "time-limit", 0, 0, G_OPTION_ARG_INT, &limit,
        "seconds before giving up", "S" },
    { NULL },
  };
  GError *error = NULL;
  GOptionContext *ctx = g_option_context_new ("- camera to encoder and display");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "zc-camera-app: %s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);

  App app = { 0 };
  app.loop = g_main_loop_new (NULL, FALSE);
  app.pipeline = gst_pipeline_new ("camera-app");
  app.camera = make ("zcamsrc", "camera");
  GstElement *caps = make ("capsfilter", NULL);
  GstElement *tee = make ("tee", NULL);
  GstElement *q1 = make ("queue", NULL);
  app.fence = make ("zcfence", "fence");
  GstElement *enc = make (encoder_name ? encoder_name : "v4l2fwhtenc", "enc");
  GstElement *file = make (output ? "filesink" : "fakesink", NULL);
  GstElement *q2 = make ("queue", NULL);
  app.display = make ("zckmssink", "display");
  if (!app.camera || !caps || !tee || !q1 || !app.fence || !enc || !file ||
      !q2 || !app.display)
    return 1;

  g_object_set (app.camera, "num-buffers", frames, NULL);
  GstCaps *c = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING,
      format ? format : "BGRx", "width", G_TYPE_INT, width, "height",
      G_TYPE_INT, height, NULL);
  g_object_set (caps, "caps", c, NULL);
  gst_caps_unref (c);
  /* The encoder imports zcam's dma-bufs instead of copying into its own. */
  gst_util_set_object_arg (G_OBJECT (enc), "output-io-mode", "dmabuf-import");
  if (output)
    g_object_set (file, "location", output, NULL);
  g_object_set (file, "sync", FALSE, NULL);

  gst_bin_add_many (GST_BIN (app.pipeline), app.camera, caps, tee, q1,
      app.fence, enc, file, q2, app.display, NULL);
  if (!gst_element_link_many (app.camera, caps, tee, NULL) ||
      !gst_element_link_many (tee, q1, app.fence, enc, file, NULL) ||
      !gst_element_link_many (tee, q2, app.display, NULL)) {
    fprintf (stderr, "zc-camera-app: cannot link the pipeline\n");
    return 1;
  }
  GstPad *encsrc = gst_element_get_static_pad (enc, "src");
  gst_pad_add_probe (encsrc, GST_PAD_PROBE_TYPE_BUFFER, count_encoded, &app,
      NULL);
  gst_object_unref (encsrc);

  GstBus *bus = gst_element_get_bus (app.pipeline);
  gst_bus_add_watch (bus, on_message, &app);
  gst_object_unref (bus);
  g_timeout_add (500, on_tick, &app);
  g_timeout_add_seconds (limit, on_watchdog, &app);

  if (gst_element_set_state (app.pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    fprintf (stderr, "zc-camera-app: the pipeline does not start (is zcam.ko "
        "loaded and a display connected? GST_DEBUG=2 says more)\n");
    return 1;
  }
  g_main_loop_run (app.loop);
  print_stats (&app, "final");
  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  gst_object_unref (app.pipeline);
  g_main_loop_unref (app.loop);
  g_free (format);
  g_free (output);
  g_free (encoder_name);
  if (!app.eos && app.exit_code == 0)
    app.exit_code = 1;
  return app.exit_code;
}
