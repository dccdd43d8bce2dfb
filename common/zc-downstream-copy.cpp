/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "zc-downstream-copy.h"

#include <string>

namespace zc {

static bool
type_is (GObject *obj, const char *type_name)
{
  GType t = g_type_from_name (type_name);
  return t && g_type_is_a (G_OBJECT_TYPE (obj), t);
}

/* A V4L2 element (it has output-io-mode) that does not import dma-bufs
 * copies them into its own buffers. A tee asks its branches without
 * needing a pool, so V4L2 proposes none there: look at the element. */
static std::string
v4l2_peer_copies (GstPad *srcpad)
{
  g_autoptr (GstPad) peer = srcpad ? gst_pad_get_peer (srcpad) : NULL;
  g_autoptr (GstElement) el = peer ? gst_pad_get_parent_element (peer) : NULL;
  if (!el)
    return {};
  GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (el),
      "output-io-mode");
  if (!ps || !G_IS_PARAM_SPEC_ENUM (ps))
    return {};
  gint mode = 0;
  g_object_get (el, "output-io-mode", &mode, NULL);
  GEnumValue *v = g_enum_get_value (G_PARAM_SPEC_ENUM (ps)->enum_class, mode);
  if (!v || g_str_equal (v->value_nick, "dmabuf-import"))
    return {};
  return std::string ("downstream element ") + GST_ELEMENT_NAME (el) +
      " has output-io-mode=" + v->value_nick +
      " and copies every frame into its own buffers: set "
      "output-io-mode=dmabuf-import on it to import the frames";
}

/* Empty when nothing says downstream copies; else a sentence naming the
 * element or pool and the fix. */
static std::string
downstream_copies (GstQuery *query, GstPad *srcpad)
{
  std::string v4l2 = v4l2_peer_copies (srcpad);
  if (!v4l2.empty ())
    return v4l2;
  if (gst_query_get_n_allocation_pools (query) == 0)
    return {};
  GstBufferPool *pool = NULL;
  gst_query_parse_nth_allocation_pool (query, 0, &pool, NULL, NULL, NULL);
  if (!pool)
    return {};
  std::string out;
  /* Pools whose element imports foreign dma-bufs without a copy. */
  if (!type_is (G_OBJECT (pool), "GstZcBufferPool") &&
      !type_is (G_OBJECT (pool), "GstKMSBufferPool")) {
    /* V4L2 names its pools "<element>:pool<n>:<sink|src>". */
    g_autofree gchar *name = gst_object_get_name (GST_OBJECT (pool));
    std::string pool_name = name ? name : "";
    std::string owner = pool_name.substr (0, pool_name.find (':'));
    out = "downstream";
    if (!owner.empty () && owner != pool_name)
      out += " element " + owner;
    out += std::string (" proposes its own buffer pool (") +
        G_OBJECT_TYPE_NAME (pool) + " " + pool_name +
        ") and copies every dma-buf that does not come from it";
    if (type_is (G_OBJECT (pool), "GstV4l2BufferPool"))
      out += ": set output-io-mode=dmabuf-import on it to import the frames";
    else
      out += ": use an element that imports dma-bufs, or accept the copy";
  }
  gst_object_unref (pool);
  return out;
}

static bool
claim_copy_warning (GstQuery *query)
{
  static GQuark quark = g_quark_from_static_string ("zc-copy-warned");
  GstMiniObject *obj = GST_MINI_OBJECT (query);
  if (gst_mini_object_get_qdata (obj, quark))
    return false;
  gst_mini_object_set_qdata (obj, quark, GINT_TO_POINTER (1), NULL);
  return true;
}

void
warn_if_downstream_copies (GstElement *self, GstQuery *query, GstPad *srcpad,
    GstDebugCategory *perf, std::atomic<bool> &warned)
{
  std::string copies = downstream_copies (query, srcpad);
  if (copies.empty () || !claim_copy_warning (query) || warned.exchange (true))
    return;
  GST_CAT_WARNING_OBJECT (perf, self, "%s", copies.c_str ());
  GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
      ("Frames will be copied by the CPU: %s.", copies.c_str ()), (NULL));
}

} // namespace zc
