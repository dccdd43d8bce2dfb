/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zckmssink helpers: the DRM device (fd, output and plane choice, atomic
 * property ids), framebuffers imported from dma-bufs and cached on their
 * GstMemory, and dumb buffers the sink owns (copy path, background).
 */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <cstdint>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "zc-drm-dumb.h"
#include "zc-unique-fd.h"

namespace zc {

struct Rect
{
  int x = 0, y = 0;
  unsigned w = 0, h = 0;
};

/* Atomic property ids of the objects the sink drives. */
struct PlaneProps
{
  uint32_t fb_id = 0, crtc_id = 0, in_fence_fd = 0;
  uint32_t src_x = 0, src_y = 0, src_w = 0, src_h = 0;
  uint32_t crtc_x = 0, crtc_y = 0, crtc_w = 0, crtc_h = 0;
};

struct PlaneInfo
{
  uint32_t id = 0;
  uint64_t type = 0; /* DRM_PLANE_TYPE_* */
  std::vector<uint32_t> formats;
  PlaneProps props;

  bool supports (uint32_t fourcc) const;
};

/* The display path the sink drives. */
struct Output
{
  uint32_t connector_id = 0;
  uint32_t crtc_id = 0;
  unsigned crtc_index = 0;
  drmModeModeInfo mode {};            /* the mode in use */
  std::vector<drmModeModeInfo> modes; /* all modes of the connector */
  uint32_t conn_crtc_id_prop = 0;
  uint32_t crtc_mode_id_prop = 0, crtc_active_prop = 0, crtc_out_fence_prop = 0;
  std::vector<PlaneInfo> planes; /* usable on the CRTC */

  const PlaneInfo *primary () const;
  const PlaneInfo *find_plane (uint32_t id) const;
};

/* What a cached framebuffer was made from; a mismatch makes a new one. */
struct FbKey
{
  uint32_t width = 0, height = 0, fourcc = 0;
  uint32_t n_planes = 0;
  int fds[4] = { -1, -1, -1, -1 };
  uint32_t pitches[4] = {}, offsets[4] = {};
  uint64_t modifier = 0;
  bool has_modifier = false;

  bool operator== (const FbKey &o) const;
};

class KmsDevice;

/* A framebuffer imported from dma-bufs; owned by a GstMemory's qdata. */
struct FbEntry
{
  std::shared_ptr<KmsDevice> dev;
  FbKey key;
  uint32_t fb_id = 0;
  uint32_t handles[4] = {};
};

/*
 * An open DRM device, shared (std::shared_ptr) with the framebuffer cache
 * entries that live on GstMemory qdata and may outlive the sink's stream.
 * shutdown() removes every framebuffer and GEM handle the sink made and
 * closes the fd; entries destroyed afterwards only free themselves.
 *
 * Lock order: the sink's state lock, then KmsDevice::lock_.
 */
class KmsDevice : public std::enable_shared_from_this<KmsDevice>
{
public:
  explicit KmsDevice (UniqueFd fd);
  ~KmsDevice ();

  int fd () const { return fd_.get (); }
  std::string driver () const;

  /* Atomic + universal planes; -errno when the driver has no atomic. */
  int enable_atomic ();
  /* Picks connector, CRTC and planes; 0 forces nothing. -errno. */
  int find_output (uint32_t connector_id, uint32_t crtc_id, Output &out,
      std::string &why);

  /*
   * The framebuffer for @key, imported (PRIME) and cached on @mem; the
   * cache entry is removed with @mem. Returns 0 and *fb_id, or -errno.
   */
  int get_fb (GstMemory *mem, const FbKey &key, uint32_t *fb_id);

  /* Removes every framebuffer and handle and closes the fd. */
  void shutdown ();

  /* Number of cached imported framebuffers (for tests and stats). */
  size_t n_cached ();

private:
  static void entry_destroy (gpointer data);
  void remove_entry_locked (FbEntry *e);
  int import_locked (const FbKey &key, FbEntry &e);
  void unref_handle_locked (uint32_t handle);

  std::mutex lock_;
  UniqueFd fd_;
  GQuark quark_;
  std::set<FbEntry *> entries_;
  std::map<uint32_t, int> handle_refs_; /* GEM handles are per-fd, shared */
};

/* A dumb buffer made by the sink, mapped, with a framebuffer. */
class DumbFb
{
public:
  DumbFb () = default;
  ~DumbFb ();
  DumbFb (const DumbFb &) = delete;
  DumbFb &operator= (const DumbFb &) = delete;

  /* Single allocation holding every plane of @info; -errno. */
  int create (int fd, const GstVideoInfo *info, uint32_t fourcc);

  uint32_t fb_id () const { return fb_id_; }
  uint8_t *map () const { return buf_.data (); }
  const GstVideoInfo *info () const { return &info_; }

private:
  /* Destroyed after the framebuffer that scans it out (members go after
   * the destructor's body). */
  DumbBuffer buf_;
  uint32_t fb_id_ = 0;
  GstVideoInfo info_ {};
};

/* Builds an atomic request; ok() is false once a property was missing. */
class AtomicReq
{
public:
  AtomicReq () : req_ (drmModeAtomicAlloc ()) {}
  ~AtomicReq () { drmModeAtomicFree (req_); }
  AtomicReq (const AtomicReq &) = delete;
  AtomicReq &operator= (const AtomicReq &) = delete;

  void add (uint32_t obj, uint32_t prop, uint64_t value)
  {
    if (!req_ || !prop || drmModeAtomicAddProperty (req_, obj, prop, value) < 0)
      ok_ = false;
  }
  bool ok () const { return req_ && ok_; }
  drmModeAtomicReq *get () const { return req_; }

private:
  drmModeAtomicReq *req_;
  bool ok_ = true;
};

/* Adds the properties placing @fb of @src on @plane at @dst. */
void add_plane (AtomicReq &req, const PlaneInfo &plane, uint32_t crtc_id,
    uint32_t fb_id, const Rect &src, const Rect &dst);
void add_plane_off (AtomicReq &req, const PlaneInfo &plane);

/* Opens the card with @driver (nullptr: first card with a connected connector). */
UniqueFd open_card (const char *path, const char *driver, std::string &why);

/* Another fd of this process open on @fd's DRM device that is DRM master
 * (another zckmssink, or the application's own), or -1. */
int master_fd_in_process (int fd);

} // namespace zc
