/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: the rate limit of the elements' per-frame warnings (a
 * failed fence, a late one). A camera whose fences all fail would
 * otherwise post one warning per frame (~50 a second were measured), which
 * floods the bus and the application's log while saying nothing new.
 *
 * The rule (docs/elements.md, "Warnings about failed frames"): the first
 * failed frame of a stream is posted as a full warning; after that, at most
 * one summary every WARNING_INTERVAL_US, saying how many frames failed since
 * the last warning; at the end of the stream (EOS, stop) one last summary
 * for frames not reported yet. The counters in `stats` stay exact: this
 * only decides what goes on the bus.
 *
 * Monotonic time, passed in by the caller (g_get_monotonic_time()). Not
 * thread-safe: the caller holds the lock that protects it. Internal.
 */
#pragma once

#include <glib.h>

namespace zc {

/* Fixed, documented: not a property (one rule for every element). */
constexpr gint64 WARNING_INTERVAL_US = 5 * G_USEC_PER_SEC;

class WarningLimiter
{
public:
  enum class Post {
    NONE,    /* counted; a later summary reports it */
    FIRST,   /* post the full warning for this frame */
    SUMMARY, /* post a summary for `count` frames over `span_us` */
  };
  struct Summary
  {
    guint64 count = 0;  /* frames since the last warning */
    gint64 span_us = 0; /* time since the last warning */
  };

  /* One more failed frame at @now_us: what to post. */
  Post failed (gint64 now_us, Summary *summary)
  {
    if (!posted_) {
      posted_ = true;
      last_us_ = now_us;
      return Post::FIRST;
    }
    pending_++;
    if (now_us - last_us_ < WARNING_INTERVAL_US)
      return Post::NONE;
    take (now_us, summary);
    return Post::SUMMARY;
  }

  /* At the end of a stream: TRUE, with the summary to post, when frames
   * failed since the last warning. */
  bool flush (gint64 now_us, Summary *summary)
  {
    if (!pending_)
      return false;
    take (now_us, summary);
    return true;
  }

  /* A new stream. */
  void reset () { *this = WarningLimiter (); }

private:
  void take (gint64 now_us, Summary *summary)
  {
    summary->count = pending_;
    summary->span_us = now_us - last_us_;
    pending_ = 0;
    last_us_ = now_us;
  }

  bool posted_ = false;
  gint64 last_us_ = 0;
  guint64 pending_ = 0;
};

/* Whole seconds of @span_us for a summary's text, at least 1. */
static inline guint
summary_seconds (gint64 span_us)
{
  return guint (MAX ((span_us + G_USEC_PER_SEC / 2) / G_USEC_PER_SEC, 1));
}

} // namespace zc
