/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a user typing the obvious pipelines sees (suite 'vm'): the defaults
 * stay zero-copy or warn once with the fix, and each mistake is answered
 * with an error that names the value and the limit or the holder.
 * Every case runs a pipeline as gst-launch-1.0 would and reads the bus.
 */
/* zc-check.h first: it orders the C++ headers before gstcheck.h, whose
 * fail() macros clash with <ios>. */
#include "zc-check.h"

#include <string>
#include <vector>

#include <gst/zerocopy/zerocopy.h>
#include <xf86drm.h>

namespace {

struct Outcome
{
  bool eos = false;
  std::string error;                 /* first error's message, or empty */
  std::vector<std::string> warnings; /* every warning's message */
  std::vector<std::string> warned_by;
  std::string caps; /* caps on the element named "s" */
};

/* Runs @desc to EOS or error (bounded). */
Outcome
run (const char *desc)
{
  Outcome out;
  GError *perr = NULL;
  GstElement *pipe = gst_parse_launch (desc, &perr);
  fail_unless (pipe != NULL, "%s: %s", desc, perr ? perr->message : "?");
  GstBus *bus = gst_element_get_bus (pipe);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_SECOND,
        GstMessageType (
            GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_WARNING));
    if (!msg)
      continue;
    bool done = false;
    GError *err = NULL;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
      gst_message_parse_warning (msg, &err, NULL);
      out.warnings.push_back (err->message);
      out.warned_by.push_back (GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)));
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, &err, NULL);
      out.error = err->message;
      done = true;
    } else {
      out.eos = true;
      done = true;
    }
    g_clear_error (&err);
    gst_message_unref (msg);
    if (done)
      break;
  }
  if (GstElement *s = gst_bin_get_by_name (GST_BIN (pipe), "s")) {
    GstPad *pad = gst_element_get_static_pad (s, "sink");
    if (GstCaps *c = gst_pad_get_current_caps (pad)) {
      gchar *str = gst_caps_to_string (c);
      out.caps = str;
      g_free (str);
      gst_caps_unref (c);
    }
    gst_object_unref (pad);
    gst_object_unref (s);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);
  return out;
}

bool
has (const std::string &text, const char *part)
{
  return text.find (part) != std::string::npos;
}

unsigned
count_copy_warnings (const Outcome &o, const char *by = nullptr)
{
  unsigned n = 0;
  for (size_t i = 0; i < o.warnings.size (); i++)
    if (has (o.warnings[i], "copied by the CPU") &&
        (!by || o.warned_by[i] == by))
      n++;
  return n;
}

} // namespace

/* ---- defaults that stay zero-copy, or say that they do not ---- */

GST_START_TEST (test_v4l2_default_io_mode_warns_once)
{
  Outcome o = run ("zcamsrc name=c num-buffers=20 ! v4l2fwhtenc name=enc ! "
                   "fakesink");
  fail_unless (o.eos, "%s", o.error.c_str ());
  fail_unless_equals_int (count_copy_warnings (o), 1);
  fail_unless_equals_int (count_copy_warnings (o, "c"), 1);
  for (const auto &w : o.warnings)
    if (has (w, "copied by the CPU")) {
      fail_unless (has (w, "enc"), "%s", w.c_str ());
      fail_unless (has (w, "output-io-mode=dmabuf-import"), "%s", w.c_str ());
    }
}
GST_END_TEST;

/* Behind a tee zcamsrc cannot see the encoder; zcfence in front of it
 * warns, and only it. */
GST_START_TEST (test_v4l2_behind_tee_warned_by_zcfence)
{
  Outcome o = run ("zcamsrc name=c num-buffers=20 ! tee ! queue ! "
                   "zcfence name=f ! v4l2fwhtenc name=enc ! fakesink");
  fail_unless (o.eos, "%s", o.error.c_str ());
  fail_unless_equals_int (count_copy_warnings (o), 1);
  fail_unless_equals_int (count_copy_warnings (o, "f"), 1);
}
GST_END_TEST;

GST_START_TEST (test_zero_copy_paths_do_not_warn)
{
  const char *paths[] = {
    "zcamsrc num-buffers=20 ! zcfence ! "
    "v4l2fwhtenc output-io-mode=dmabuf-import ! fakesink",
    "zcamsrc num-buffers=20 ! tee ! queue ! zcfence ! "
    "v4l2fwhtenc output-io-mode=dmabuf-import ! fakesink",
    "zcamsrc num-buffers=20 ! zckmssink",
    "zcamsrc num-buffers=20 ! fakesink",
  };
  for (const char *p : paths) {
    Outcome o = run (p);
    fail_unless (o.eos, "%s: %s", p, o.error.c_str ());
    fail_unless_equals_int (o.warnings.size (), 0);
  }
}
GST_END_TEST;

/* zcamsrc ! zckmssink fills the screen (vkms: 1024x768), all defaults. */
GST_START_TEST (test_display_gets_the_screen_size)
{
  Outcome o = run ("zcamsrc num-buffers=20 ! zckmssink name=s");
  fail_unless (o.eos, "%s", o.error.c_str ());
  fail_unless (has (o.caps, "width=(int)1024") &&
          has (o.caps, "height=(int)768"),
      "%s", o.caps.c_str ());
  fail_unless_equals_int (o.warnings.size (), 0);
}
GST_END_TEST;

GST_START_TEST (test_frame_larger_than_screen_warns)
{
  Outcome o = run ("zcamsrc num-buffers=10 ! "
                   "video/x-raw,width=1920,height=1080 ! zckmssink name=s");
  fail_unless (o.eos, "%s", o.error.c_str ());
  fail_unless_equals_int (o.warnings.size (), 1);
  fail_unless (has (o.warnings[0], "1920x1080") &&
          has (o.warnings[0], "1024x768") &&
          has (o.warnings[0], "force-modeset"),
      "%s", o.warnings[0].c_str ());
}
GST_END_TEST;

/* ---- errors that say what is wrong ---- */

GST_START_TEST (test_caps_beyond_the_camera)
{
  Outcome o = run ("zcamsrc ! video/x-raw,width=8000,height=8000 ! fakesink");
  fail_unless (has (o.error, "/dev/zcam0") && has (o.error, "8000") &&
          has (o.error, "4096x4096"),
      "%s", o.error.c_str ());
  o = run ("zcamsrc ! video/x-raw,framerate=1000/1 ! fakesink");
  fail_unless (has (o.error, "1000/1") && has (o.error, "240 fps"), "%s",
      o.error.c_str ());
}
GST_END_TEST;

GST_START_TEST (test_missing_kms_ids_are_named)
{
  Outcome o = run ("zcamsrc ! zckmssink connector-id=999");
  fail_unless (has (o.error, "connector-id 999 does not exist") &&
          has (o.error, "Virtual-1"),
      "%s", o.error.c_str ());
  o = run ("zcamsrc ! zckmssink crtc-id=999");
  fail_unless (has (o.error, "crtc-id 999 does not exist; the CRTCs are "),
      "%s", o.error.c_str ());
  o = run ("zcamsrc ! zckmssink plane-id=999");
  fail_unless (has (o.error, "plane-id 999 is not a plane of CRTC") &&
          has (o.error, "(primary)"),
      "%s", o.error.c_str ());
}
GST_END_TEST;

GST_START_TEST (test_two_sinks_one_display)
{
  Outcome o = run ("zcamsrc ! tee name=t t. ! queue ! zckmssink "
                   "t. ! queue ! zckmssink");
  fail_unless (has (o.error, "This process already controls the display"), "%s",
      o.error.c_str ());
}
GST_END_TEST;

/* timeout=0: no waiting; behind early mode (fences pending at push) the
 * frames are dropped with a warning that explains, behind late mode
 * (fences signalled) every frame passes. */
GST_START_TEST (test_zcfence_timeout_zero)
{
  Outcome o = run ("zcamsrc num-buffers=10 ! zcfence timeout=0 ! fakesink");
  fail_unless (o.eos, "%s", o.error.c_str ());
  fail_unless (!o.warnings.empty ());
  fail_unless (has (o.warnings[0], "timeout=0"), "%s", o.warnings[0].c_str ());

  GstElement *pipe = gst_parse_launch ("zcamsrc num-buffers=10 fence-mode=late "
                                       "! zcfence name=f timeout=0 ! fakesink",
      NULL);
  GstElement *f = gst_bin_get_by_name (GST_BIN (pipe), "f");
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GstMessageType (GST_MESSAGE_ERROR | GST_MESSAGE_EOS));
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  fail_unless_equals_uint64 (zc_test_stat (f, "pushed"), 10);
  fail_unless_equals_uint64 (zc_test_stat (f, "dropped"), 0);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (f);
  gst_object_unref (pipe);
}
GST_END_TEST;

/* ---- library sharp edges ---- */

/* An application's dumb allocator opened before the pipeline used to keep
 * DRM master and lock zckmssink out. */
GST_START_TEST (test_dumb_allocator_leaves_the_display_free)
{
  GstAllocator *alloc = gst_zc_allocator_new ("dumb", "vkms");
  fail_unless (alloc != NULL);
  int fd = gst_zc_allocator_get_device_fd (GST_ZC_ALLOCATOR (alloc));
  fail_unless (fd >= 0);
  fail_if (drmIsMaster (fd));
  Outcome o = run ("zcamsrc num-buffers=10 ! zckmssink");
  fail_unless (o.eos, "%s", o.error.c_str ());
  gst_object_unref (alloc);
}
GST_END_TEST;

GST_START_TEST (test_empty_device_means_auto)
{
  GstAllocator *a = gst_zc_allocator_new ("auto", "");
  fail_unless (a != NULL);
  /* zcam is loaded: auto finds it, "" is not taken for a path. */
  fail_unless_equals_string (gst_zc_allocator_get_backend (
                                 GST_ZC_ALLOCATOR (a)),
      "zcam");
  gst_object_unref (a);
  a = gst_zc_allocator_new ("", NULL);
  fail_unless (a != NULL);
  gst_object_unref (a);
}
GST_END_TEST;

static Suite *
usability_suite (void)
{
  Suite *s = suite_create ("usability");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_v4l2_default_io_mode_warns_once);
  tcase_add_test (tc, test_v4l2_behind_tee_warned_by_zcfence);
  tcase_add_test (tc, test_zero_copy_paths_do_not_warn);
  tcase_add_test (tc, test_display_gets_the_screen_size);
  tcase_add_test (tc, test_frame_larger_than_screen_warns);
  tcase_add_test (tc, test_caps_beyond_the_camera);
  tcase_add_test (tc, test_missing_kms_ids_are_named);
  tcase_add_test (tc, test_two_sinks_one_display);
  tcase_add_test (tc, test_zcfence_timeout_zero);
  tcase_add_test (tc, test_dumb_allocator_leaves_the_display_free);
  tcase_add_test (tc, test_empty_device_means_auto);
  return s;
}

GST_CHECK_MAIN (usability);
