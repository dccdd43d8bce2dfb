/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zckmssink's plane placement: where a frame goes on the screen (centred,
 * or the render rectangle, clipped to the screen) and on which plane. The
 * driver is the only judge of what a plane can do (position, scaling,
 * format): every candidate is tried with a TEST_ONLY commit, and when none
 * takes the frame the error names each plane and what it answered.
 */
#pragma once

#include <gst/video/video.h>

#include <cstdint>
#include <string>
#include <vector>

#include "zc-kms-device.h"

namespace zc {

/* What the sink asks for. */
struct PlacementRequest
{
  uint32_t width = 0, height = 0; /* the frame */
  uint32_t fourcc = 0;
  const char *format = ""; /* its name, for messages */
  /* A framebuffer of the frame's size and format to try planes with. */
  uint32_t test_fb = 0;
  /* Where to put the frame; a width or height <= 0 means unset: centred,
   * unscaled. Another size than the frame's asks for scaling. */
  GstVideoRectangle render_rect {};
  uint32_t plane_id = 0; /* plane-id; 0: choose */
};

/* The screen the frame goes to. */
struct PlacementTarget
{
  int fd = -1;
  const Output *out = nullptr; /* mode in use, usable planes */
  /* Black framebuffer of the mode's size for the primary plane while the
   * frame is on an overlay (vkms composes nothing without one). */
  uint32_t background_fb = 0;
};

/* The answer: src of the frame at dst on the screen, on plane_id. */
struct Placement
{
  uint32_t plane_id = 0;
  Rect src, dst;
};

/* Why no plane takes the frame: for the user, and details (may be empty).
 * Every such failure is a negotiation error. */
struct PlacementError
{
  std::string text, debug;
};

/*
 * Places the frame of @req on @target: the primary plane first, then the
 * overlays (or only @req.plane_id). The caller keeps the display's own
 * commits out meanwhile (TEST_ONLY commits do not wait for a pending
 * flip). Returns false with @err filled when the rectangle is off the
 * screen or no plane accepts the placement.
 */
bool place_frame (const PlacementTarget &target, const PlacementRequest &req,
    Placement &placement, PlacementError &err);

/*
 * force-modeset's mode for a @w x @h frame: the connector's mode of that
 * size (the preferred one, else the first listed), else the smallest mode
 * that holds the frame; nullptr when none does.
 */
const drmModeModeInfo *fitting_mode (const std::vector<drmModeModeInfo> &modes,
    unsigned w, unsigned h);

} // namespace zc
