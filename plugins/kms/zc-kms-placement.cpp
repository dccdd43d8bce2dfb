/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "zc-kms-placement.h"

#include <cerrno>
#include <cstring>

namespace zc {

/* Clips @dst to the screen and crops @src in proportion (@src may be
 * scaled to @dst). */
static bool
clip_to_screen (Rect &src, Rect &dst, unsigned sw, unsigned sh)
{
  int x0 = MAX (dst.x, 0), y0 = MAX (dst.y, 0);
  int x1 = MIN (dst.x + int (dst.w), int (sw));
  int y1 = MIN (dst.y + int (dst.h), int (sh));
  if (x1 <= x0 || y1 <= y0)
    return false;
  /* Source pixels per screen pixel is src.w / dst.w (1 unscaled). */
  auto map = [] (int d, unsigned s_len, unsigned d_len) {
    return int ((int64_t (d) * s_len + d_len / 2) / d_len);
  };
  Rect s = src;
  s.x = src.x + map (x0 - dst.x, src.w, dst.w);
  s.y = src.y + map (y0 - dst.y, src.h, dst.h);
  s.w = MAX (1, map (x1 - dst.x, src.w, dst.w) - (s.x - src.x));
  s.h = MAX (1, map (y1 - dst.y, src.h, dst.h) - (s.y - src.y));
  src = s;
  dst = Rect { x0, y0, unsigned (x1 - x0), unsigned (y1 - y0) };
  return true;
}

/* Tries @src of @fb_id at @dst on @plane with a TEST_ONLY commit that also
 * sets the mode (the first real commit is a modeset); 0 or -errno. */
static int
test_placement (const PlacementTarget &t, const PlaneInfo &plane,
    uint32_t fb_id, const Rect &src, const Rect &dst)
{
  const Output &out = *t.out;
  AtomicReq req;
  uint32_t blob = 0;
  if (drmModeCreatePropertyBlob (t.fd, &out.mode, sizeof (out.mode), &blob))
    return -errno;
  req.add (out.crtc_id, out.crtc_mode_id_prop, blob);
  req.add (out.crtc_id, out.crtc_active_prop, 1);
  req.add (out.connector_id, out.conn_crtc_id_prop, out.crtc_id);
  add_plane (req, plane, out.crtc_id, fb_id, src, dst);
  const PlaneInfo *primary = out.primary ();
  if (&plane != primary) {
    Rect full { 0, 0, out.mode.hdisplay, out.mode.vdisplay };
    add_plane (req, *primary, out.crtc_id, t.background_fb, full, full);
  }
  int ret = req.ok () ? 0 : -EINVAL;
  if (ret == 0 &&
      drmModeAtomicCommit (t.fd, req.get (),
          DRM_MODE_ATOMIC_TEST_ONLY | DRM_MODE_ATOMIC_ALLOW_MODESET, nullptr))
    ret = -errno;
  drmModeDestroyPropertyBlob (t.fd, blob);
  return ret;
}

/* The planes to try, in order: the primary plane, then overlays (vkms's
 * primary plane must cover the whole CRTC); or only the forced one.
 * Empty, with @why said, when the forced plane is not on the CRTC. */
static std::vector<const PlaneInfo *>
candidate_planes (const Output &out, uint32_t forced, std::string &why)
{
  std::vector<const PlaneInfo *> order;
  if (forced) {
    if (const PlaneInfo *p = out.find_plane (forced))
      order.push_back (p);
    else {
      std::string planes;
      for (const auto &p : out.planes)
        planes += (planes.empty () ? "" : ", ") + std::to_string (p.id) +
            (p.type == DRM_PLANE_TYPE_PRIMARY ? " (primary)" : " (overlay)");
      why = "plane-id " + std::to_string (forced) + " is not a plane of CRTC " +
          std::to_string (out.crtc_id) + "; its planes are " + planes;
    }
  } else {
    order.push_back (out.primary ());
    for (const auto &p : out.planes)
      if (p.type == DRM_PLANE_TYPE_OVERLAY)
        order.push_back (&p);
  }
  return order;
}

bool
place_frame (const PlacementTarget &t, const PlacementRequest &req,
    Placement &placement, PlacementError &err)
{
  const Output &out = *t.out;
  const unsigned sw = out.mode.hdisplay, sh = out.mode.vdisplay;
  const unsigned w = req.width, h = req.height;
  const GstVideoRectangle &rr = req.render_rect;
  Rect src { 0, 0, w, h }, dst;
  if (rr.w > 0 && rr.h > 0) {
    /* A size other than the frame's asks the plane to scale. */
    dst = Rect { rr.x, rr.y, unsigned (rr.w), unsigned (rr.h) };
  } else {
    /* Centred; a frame larger than the mode shows its centre. */
    dst = Rect { (int (sw) - int (w)) / 2, (int (sh) - int (h)) / 2, w, h };
  }
  const bool scaled = dst.w != w || dst.h != h;
  /* The same frame at the same place without scaling: a plane that takes
   * this but not the scaled placement cannot scale. */
  Rect usrc { 0, 0, w, h }, udst { dst.x, dst.y, w, h };
  const bool unscaled_visible = clip_to_screen (usrc, udst, sw, sh);
  if (!clip_to_screen (src, dst, sw, sh)) {
    err.text = "The render rectangle lies outside the " + std::to_string (sw) +
        "x" + std::to_string (sh) + " screen.";
    return false;
  }

  std::string tried;
  uint32_t chosen = 0;
  unsigned n_cannot_scale = 0;
  for (const PlaneInfo *p : candidate_planes (out, req.plane_id, tried)) {
    std::string why;
    if (!p->supports (req.fourcc)) {
      why = "format not supported";
    } else {
      int ret = test_placement (t, *p, req.test_fb, src, dst);
      if (ret == 0) {
        chosen = p->id;
        break;
      }
      if (scaled && unscaled_visible &&
          test_placement (t, *p, req.test_fb, usrc, udst) == 0) {
        why = "cannot scale";
        n_cannot_scale++;
      } else {
        why = std::string ("rejects this placement (") + g_strerror (-ret) +
            ")";
      }
    }
    tried += std::string (tried.empty () ? "" : "; ") +
        (p->type == DRM_PLANE_TYPE_PRIMARY ? "primary " : "") + "plane " +
        std::to_string (p->id) + " " + why;
  }
  if (!chosen && n_cannot_scale) {
    g_autofree gchar *text =
        g_strdup_printf ("No display plane can scale "
                         "the %ux%u %s frame to %ux%u (render-rectangle): %s.",
            w, h, req.format, unsigned (rr.w), unsigned (rr.h), tried.c_str ());
    g_autofree gchar *debug = g_strdup_printf ("src %d,%d %ux%u -> dst %d,%d "
                                               "%ux%u",
        src.x, src.y, src.w, src.h, dst.x, dst.y, dst.w, dst.h);
    err = PlacementError { text, debug };
    return false;
  }
  if (!chosen && req.plane_id && !out.find_plane (req.plane_id)) {
    err = PlacementError { tried + ".", tried };
    return false;
  }
  if (!chosen) {
    g_autofree gchar *text = g_strdup_printf ("No display plane can show a "
                                              "%ux%u %s frame at %d,%d.",
        src.w, src.h, req.format, dst.x, dst.y);
    err = PlacementError { text, tried };
    return false;
  }
  placement = Placement { chosen, src, dst };
  return true;
}

const drmModeModeInfo *
fitting_mode (const std::vector<drmModeModeInfo> &modes, unsigned w, unsigned h)
{
  const drmModeModeInfo *mode = nullptr;
  for (const auto &m : modes)
    if (m.hdisplay == w && m.vdisplay == h &&
        (!mode || (m.type & DRM_MODE_TYPE_PREFERRED)))
      mode = &m;
  if (mode)
    return mode;
  /* No mode of the frame's size: the smallest one that holds the frame
   * (e.g. 4096x2160 for 3840x2160); the frame is centred on it. */
  for (const auto &m : modes)
    if (m.hdisplay >= w && m.vdisplay >= h &&
        (!mode ||
            guint64 (m.hdisplay) * m.vdisplay <
                guint64 (mode->hdisplay) * mode->vdisplay))
      mode = &m;
  return mode;
}

} // namespace zc
