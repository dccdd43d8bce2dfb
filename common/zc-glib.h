/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: scoped guards for GLib and GStreamer locks, the one home
 * for them in the library and the elements. Internal, not installed.
 */
#pragma once

#include <gst/gst.h>

namespace zc {

/* Holds a GMutex for its scope. */
class MutexLock
{
public:
  explicit MutexLock (GMutex *m) noexcept : m_ (m) { g_mutex_lock (m_); }
  ~MutexLock () { g_mutex_unlock (m_); }
  MutexLock (const MutexLock &) = delete;
  MutexLock &operator= (const MutexLock &) = delete;

private:
  GMutex *m_;
};

/* Holds GST_OBJECT_LOCK of an object for its scope. */
class ObjectLock
{
public:
  explicit ObjectLock (gpointer obj) noexcept : obj_ (GST_OBJECT (obj))
  {
    GST_OBJECT_LOCK (obj_);
  }
  ~ObjectLock () { GST_OBJECT_UNLOCK (obj_); }
  ObjectLock (const ObjectLock &) = delete;
  ObjectLock &operator= (const ObjectLock &) = delete;

private:
  GstObject *obj_;
};

} // namespace zc
