/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: the one way elements build their read-only `stats`
 * property, so that every element reports the same field names with the
 * same meaning (the table in docs/elements.md). A field is named by a
 * zc::Stat, never by a string literal in the element. Internal.
 */
#pragma once

#include <gst/gst.h>

#include <initializer_list>
#include <utility>

namespace zc {

/* Counters are guint64, times are guint64 nanoseconds. */
enum class Stat {
  FRAMES,         /* "frames": buffers the element produced (a source) or
                      received (a filter, a sink) */
  PUSHED,         /* "pushed": buffers passed downstream */
  SHOWN,          /* "shown": frames that reached the screen */
  REPLACED,       /* "replaced": frames a newer one replaced before they
                      could be shown (a display shows the newest) */
  DROPPED,        /* "dropped": frames lost: not captured by the device,
                      or not passed on because their fence failed */
  COPIES,         /* "copies": frames the CPU copied (fallback paths) */
  FENCE_ERRORS,   /* "fence-errors": frames whose acquire fence signalled
                      an error */
  FENCE_TIMEOUTS, /* "fence-timeouts": frames whose fence did not signal
                      within the element's timeout */
  WAITED,         /* "waited": fences still busy when the element looked */
  WAIT_MAX,       /* "wait-max": longest CPU wait for a fence (ns) */
  IMPORTED,       /* "imported": fences added to dma-bufs' reservations */
  ATTACHED,       /* "attached": fence metas made from implicit fences */
  LATENCY,        /* "latency": the minimum latency the element answers
                      in LATENCY queries (ns) */
  FLIP_LATENCY,   /* "flip-latency": mean time from commit to flip (ns) */
  CLIENTS,        /* "clients": peers connected now (an IPC server) */
  RELEASES,       /* "releases": frames given back to the producer (IPC) */
  RELEASE_FENCES, /* "release-fences": releases that carried a fence */
  DISCONNECTS,    /* "disconnects": peers that went away or were thrown
                      out */
  REJECTED,       /* "rejected": peers disconnected for a malformed
                      message */
};

/* The field name of @stat. */
const char *stat_name (Stat stat);

/*
 * A new "<element>-stats" structure (the element's factory name) holding
 * @fields in order. The caller may add element-specific string fields.
 */
GstStructure *stats_new (GstElement *element,
    std::initializer_list<std::pair<Stat, guint64>> fields);

/* The same for a structure of another name (per-peer entries). */
GstStructure *stats_new (const char *name,
    std::initializer_list<std::pair<Stat, guint64>> fields);

/* The GParamSpec of every element's `stats` property. */
GParamSpec *stats_param_spec (const char *blurb);

} // namespace zc
