/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zcam devices: the device lays the frame out itself (S_FMT returns pitches
 * and offsets) and CREATE_BUF returns one dma-buf per frame.
 *
 * One open file has one format. Buffers of a layout all come from the same
 * open file (so that a producer can queue them there); when another layout
 * is asked for while buffers of the old one exist (S_FMT -EBUSY), the
 * device is opened again. Buffers outlive the file they came from.
 */
#include "zc-backend-private.h"
#include "zc-debug.h"
#include "zc-format.h"

#include "zc-zcam-device.h"

#include <algorithm>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#define GST_CAT_DEFAULT gst_zc_allocator_debug

namespace zc {

namespace {

/* Opens @path as a zcam device, saying why not at DEBUG (WARNING for a
 * device that speaks another uapi version). */
int
open_device (const std::string &path, bool quiet_enoent, ZcamDevice &out)
{
  int ret = out.open (path);
  if (ret == -EPROTO)
    GST_WARNING ("zcam: %s speaks uapi version %u, we need %u", path.c_str (),
        out.caps ().version, ZCAM_API_VERSION);
  else if (ret < 0 && !(ret == -ENOENT && quiet_enoent))
    GST_DEBUG ("zcam: %s: %s", path.c_str (), g_strerror (-ret));
  return ret;
}

class ZcamBackend : public Backend
{
public:
  explicit ZcamBackend (ZcamDevice dev)
      : dev_ (std::move (dev)), caps_ (dev_.caps ())
  {
    device_ = dev_.path ();
  }
  const char *name () const override { return "zcam"; }
  int device_fd () const override
  {
    std::lock_guard<std::mutex> lock (mutex_);
    return dev_.fd ();
  }

  int allocate (size_t size, UniqueFd &out) override
  {
    /* Plain byte allocations become XRGB8888 frames of 1024 pixels per
     * line, as many lines as needed. */
    const GstZcFormatInfo *fi = gst_zc_format_get_info (GST_VIDEO_FORMAT_BGRx);
    guint32 w = std::clamp (1024u, caps_.min_width, caps_.max_width);
    guint64 lines = (size + guint64 (w) * 4 - 1) / (guint64 (w) * 4);
    guint32 h = guint32 (std::max<guint64> (lines, caps_.min_height));
    if (h > caps_.max_height)
      return -E2BIG;
    const unsigned align[GST_VIDEO_MAX_PLANES] = { 1, 1, 1, 1 };
    GstZcLayout layout;
    int ret = negotiate (fi, w, h, align, 1, &layout);
    if (ret < 0)
      return ret;
    return allocate_layout (layout, out);
  }

  int negotiate (const GstZcFormatInfo *fi, unsigned width, unsigned height,
      const unsigned align[GST_VIDEO_MAX_PLANES], unsigned height_align,
      GstZcLayout *out) override
  {
    if (!dev_.supports (fi->fourcc)) {
      GST_DEBUG ("zcam: %s does not capture %" GST_FOURCC_FORMAT,
          device_.c_str (), GST_FOURCC_ARGS (fi->fourcc));
      return -ENOTSUP;
    }
    unsigned pitch_align = 1;
    for (unsigned i = 0; i < fi->n_planes; i++)
      pitch_align = std::max (pitch_align, align[i] ? align[i] : 1);
    struct zcam_format fmt = request (fi, width, height, pitch_align,
        height_align);
    fmt.flags = ZCAM_FMT_TRY;

    std::lock_guard<std::mutex> lock (mutex_);
    int ret = dev_.set_format (fmt);
    if (ret < 0) {
      GST_DEBUG ("zcam: TRY %ux%u %" GST_FOURCC_FORMAT ": %s", width, height,
          GST_FOURCC_ARGS (fi->fourcc), g_strerror (-ret));
      return ret;
    }
    return to_layout (fi, fmt, pitch_align, height_align, out);
  }

  int allocate_layout (const GstZcLayout &layout, UniqueFd &out) override
  {
    const GstZcFormatInfo *fi = gst_zc_format_get_info (layout.format);
    if (!fi)
      return -EINVAL;
    std::lock_guard<std::mutex> lock (mutex_);

    if (!current_ || current_->fourcc != layout.fourcc ||
        current_->width != layout.width || current_->height != layout.height ||
        current_->stride_align != layout.stride_align ||
        current_->height_align != layout.height_align) {
      int ret = set_format_locked (fi, layout);
      if (ret < 0)
        return ret;
    }
    /* The device decides pitches: a layout from another negotiation (or
     * another device) must match them exactly. */
    for (unsigned i = 0; i < layout.n_planes; i++)
      if (current_->stride[i] != layout.stride[i] ||
          current_->offset[i] != layout.offset[i] ||
          current_->size != layout.size)
        return -EINVAL;

    uint64_t size = 0;
    int ret = dev_.create_buffer (out, size);
    if (ret < 0)
      return ret;
    if (size < layout.size) {
      out.reset ();
      return -EIO;
    }
    return 0;
  }

private:
  static struct zcam_format request (const GstZcFormatInfo *fi, unsigned width,
      unsigned height, unsigned pitch_align, unsigned height_align)
  {
    struct zcam_format fmt = {};
    fmt.width = width;
    fmt.height = height;
    fmt.fourcc = fi->fourcc;
    /* zcam takes 1..4096; 1 means "the device default" to us as well,
     * since the device never goes below its default. */
    fmt.pitch_align = pitch_align > 1 ? pitch_align : 0;
    fmt.height_align = height_align > 1 ? height_align : 0;
    return fmt;
  }

  static int
  to_layout (const GstZcFormatInfo *fi, const struct zcam_format &fmt,
      unsigned pitch_align, unsigned height_align, GstZcLayout *out)
  {
    if (fmt.num_planes != fi->n_planes || fmt.num_planes > ZCAM_MAX_PLANES)
      return -EPROTO;
    GstZcLayout l = {};
    l.format = fi->format;
    l.fourcc = fi->fourcc;
    l.width = fmt.width;
    l.height = fmt.height;
    l.stride_align = pitch_align;
    l.height_align = height_align ? height_align : 1;
    l.n_planes = fmt.num_planes;
    for (unsigned i = 0; i < fmt.num_planes; i++) {
      l.stride[i] = fmt.pitches[i];
      l.offset[i] = fmt.offsets[i];
      l.plane_size[i] = (i + 1 < fmt.num_planes ? fmt.offsets[i + 1] :
                                                  fmt.size) -
          fmt.offsets[i];
    }
    l.size = fmt.size;
    *out = l;
    return 0;
  }

  /* Sets the format on the open file, or on a new one when the current
   * one still has buffers of another layout. Called with mutex_ held. */
  int set_format_locked (const GstZcFormatInfo *fi, const GstZcLayout &layout)
  {
    struct zcam_format fmt = request (fi, layout.width, layout.height,
        layout.stride_align, layout.height_align);
    int ret = dev_.set_format (fmt);
    if (ret == -EBUSY) {
      GST_DEBUG ("zcam: %s busy with another format, opening it again",
          device_.c_str ());
      ZcamDevice fresh;
      ret = open_device (device_, false, fresh);
      if (ret < 0)
        return ret;
      fmt = request (fi, layout.width, layout.height, layout.stride_align,
          layout.height_align);
      ret = fresh.set_format (fmt);
      if (ret < 0)
        return ret;
      dev_ = std::move (fresh);
    } else if (ret < 0) {
      return ret;
    }
    GstZcLayout l;
    ret = to_layout (fi, fmt, layout.stride_align, layout.height_align, &l);
    if (ret < 0)
      return ret;
    current_ = l;
    return 0;
  }

  mutable std::mutex mutex_;
  ZcamDevice dev_;                     /* protected by mutex_ */
  std::optional<GstZcLayout> current_; /* format set on dev_; mutex_ */
  const struct zcam_caps caps_;
};

} // namespace

std::unique_ptr<Backend>
open_zcam (const char *device, int *err)
{
  std::vector<std::string> candidates;
  if (device)
    candidates.push_back (device);
  else
    for (int i = 0; i < 8; i++)
      candidates.push_back ("/dev/zcam" + std::to_string (i));

  *err = -ENOENT;
  for (const auto &path : candidates) {
    ZcamDevice dev;
    int ret = open_device (path, !device, dev);
    if (ret < 0) {
      *err = ret;
      continue;
    }
    *err = 0;
    return std::make_unique<ZcamBackend> (std::move (dev));
  }
  return nullptr;
}

} // namespace zc
