/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "zc-stats.h"

#include <string>

namespace zc {

const char *
stat_name (Stat stat)
{
  switch (stat) {
    case Stat::FRAMES:
      return "frames";
    case Stat::PUSHED:
      return "pushed";
    case Stat::SHOWN:
      return "shown";
    case Stat::REPLACED:
      return "replaced";
    case Stat::DROPPED:
      return "dropped";
    case Stat::COPIES:
      return "copies";
    case Stat::FENCE_ERRORS:
      return "fence-errors";
    case Stat::FENCE_TIMEOUTS:
      return "fence-timeouts";
    case Stat::WAITED:
      return "waited";
    case Stat::WAIT_MAX:
      return "wait-max";
    case Stat::IMPORTED:
      return "imported";
    case Stat::ATTACHED:
      return "attached";
    case Stat::LATENCY:
      return "latency";
    case Stat::FLIP_LATENCY:
      return "flip-latency";
    case Stat::CLIENTS:
      return "clients";
    case Stat::RELEASES:
      return "releases";
    case Stat::RELEASE_FENCES:
      return "release-fences";
    case Stat::DISCONNECTS:
      return "disconnects";
    case Stat::REJECTED:
      return "rejected";
  }
  return "unknown";
}

GstStructure *
stats_new (GstElement *element,
    std::initializer_list<std::pair<Stat, guint64>> fields)
{
  GstElementFactory *f = gst_element_get_factory (element);
  std::string name = f ? GST_OBJECT_NAME (f) : G_OBJECT_TYPE_NAME (element);
  return stats_new ((name + "-stats").c_str (), fields);
}

GstStructure *
stats_new (const char *name,
    std::initializer_list<std::pair<Stat, guint64>> fields)
{
  GstStructure *s = gst_structure_new_empty (name);
  for (const auto &[stat, value] : fields)
    gst_structure_set (s, stat_name (stat), G_TYPE_UINT64, value, NULL);
  return s;
}

GParamSpec *
stats_param_spec (const char *blurb)
{
  return g_param_spec_boxed ("stats", "Statistics", blurb, GST_TYPE_STRUCTURE,
      GParamFlags (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

} // namespace zc
