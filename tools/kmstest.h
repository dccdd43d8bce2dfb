// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Small libdrm helpers for the tests that check what a KMS device composed:
// find a card by driver name, dumb buffers mapped for the CPU, atomic
// property look-up, and a capture of the CRTC's output through a writeback
// connector (vkms has one when loaded with enable_writeback=1).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <xf86drm.h>
#include <xf86drmMode.h>

#include "zc-drm-dumb.h"

namespace zctest {

// An open DRM node, closed on destruction.
class DrmDevice
{
public:
  // Opens the first /dev/dri/cardN whose driver is `driver` (any driver
  // when empty). Returns an invalid device when there is none.
  static DrmDevice open_driver (const std::string &driver);
  // Takes ownership of an fd that is already open.
  explicit DrmDevice (int fd = -1) : fd_ (fd) {}
  DrmDevice (DrmDevice &&o) noexcept : fd_ (o.fd_) { o.fd_ = -1; }
  DrmDevice &operator= (DrmDevice &&o) noexcept;
  DrmDevice (const DrmDevice &) = delete;
  DrmDevice &operator= (const DrmDevice &) = delete;
  ~DrmDevice ();

  int fd () const { return fd_; }
  bool valid () const { return fd_ >= 0; }
  std::string driver () const;

private:
  int fd_;
};

// A dumb buffer with a framebuffer and a CPU mapping.
struct DumbBuffer
{
  int fd = -1; // DRM fd it belongs to (not owned)
  uint32_t handle = 0;
  uint32_t fb_id = 0;
  uint32_t width = 0, height = 0, pitch = 0;
  uint64_t size = 0;
  uint8_t *map = nullptr;

  DumbBuffer () = default;
  DumbBuffer (DumbBuffer &&o) noexcept { *this = std::move (o); }
  DumbBuffer &operator= (DumbBuffer &&o) noexcept;
  DumbBuffer (const DumbBuffer &) = delete;
  DumbBuffer &operator= (const DumbBuffer &) = delete;
  ~DumbBuffer ();

  // Creates an XRGB8888 (32 bpp) dumb buffer with an FB; errno-style
  // negative value on failure.
  static int
  create (int drm_fd, uint32_t width, uint32_t height, DumbBuffer &out);
  uint32_t *row (uint32_t y)
  {
    return reinterpret_cast<uint32_t *> (map + size_t (y) * pitch);
  }
  const uint32_t *row (uint32_t y) const
  {
    return reinterpret_cast<const uint32_t *> (map + size_t (y) * pitch);
  }
  // Exports the buffer as a dma-buf fd (PRIME), -errno on failure.
  int export_dmabuf () const { return bo.export_dmabuf (); }

private:
  zc::DumbBuffer bo; // the buffer object; the fields above mirror it
};

// Returns the id of the property `name` of a KMS object, 0 when absent.
uint32_t find_property (int fd, uint32_t object_id, uint32_t object_type,
    const char *name);
// Current value of a property, or nullopt when absent.
std::optional<uint64_t> property_value (int fd, uint32_t object_id,
    uint32_t object_type, const char *name);

// The pieces of a simple display path: a connected connector, its CRTC and
// mode, the CRTC's primary plane, and (when present) a writeback connector.
struct Output
{
  uint32_t connector_id = 0;
  uint32_t crtc_id = 0;
  uint32_t crtc_index = 0;
  uint32_t primary_plane_id = 0;
  uint32_t writeback_id = 0;
  drmModeModeInfo mode {};
};

// Enables atomic and writeback client caps and finds an output.
// Returns -errno on failure.
int find_output (int fd, Output &out);

// Planes usable on the CRTC of `out` of the given DRM_PLANE_TYPE_*.
std::vector<uint32_t> find_planes (int fd, const Output &out, uint64_t type);

// Adds a property by name to an atomic request; false if the property is unknown.
bool atomic_add (int fd, drmModeAtomicReq *req, uint32_t obj, uint32_t obj_type,
    const char *name, uint64_t value);

// Shows `fb` full screen on the primary plane, with the display connector
// (not the writeback connector) on the CRTC. Returns 0 or -errno.
int show (int fd, const Output &out, const DumbBuffer &fb);

// Lights up the CRTC of `out` with `fb` full screen on the primary plane and,
// in the same commit, captures the composed result into `wb` through the
// writeback connector; waits (bounded) for the writeback to finish. The
// display connector stays off the CRTC afterwards (see kmstest.cpp).
// Returns 0 or -errno (-ETIMEDOUT when the writeback fence did not signal).
int show_and_capture (int fd, const Output &out, const DumbBuffer &fb,
    DumbBuffer &wb, int timeout_ms = 5000);

// Captures what the CRTC of `out` currently shows into `wb`: the writeback
// connector replaces the display connector for one frame, then the display
// connector is put back. The CRTC must be active.
//
// Nobody else may commit on the CRTC until capture() returns. The capture
// commit is a modeset, so its flip event comes at once (vblank is off
// during the modeset) while vkms composes the writeback only at the first
// vblank after it, from the CRTC state current then: a non-blocking commit
// that lands in between (another client's page flip, which the flip event
// no longer holds back) replaces that state and the writeback job is lost;
// its fence never signals and capture() returns -ETIMEDOUT. The lost job
// stays queued ahead of later ones, so every later capture of that boot
// times out too (measured on 6.1: three captures each followed at once by
// a non-blocking page flip all timed out, and so did two plain captures
// after them, while three plain captures before them had passed). Capture when
// the display client is idle (e.g. zckmssink after EOS, or after its
// "shown" counter covered every frame pushed).
int capture (int fd, const Output &out, DumbBuffer &wb, int timeout_ms = 5000);

// Waits for a sync_file fd to signal; 0, -ETIMEDOUT or -errno.
int wait_fence (int fence_fd, int timeout_ms);

} // namespace zctest
