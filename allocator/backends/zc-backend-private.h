/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: constructors of the device backends. Not installed.
 */
#pragma once

#include "zc-backend.h"

namespace zc {

/* Rounds up to the page size. */
size_t page_round (size_t size);

/* A memfd of @size bytes; @sealing for udmabuf, which needs F_SEAL_SHRINK. */
int make_memfd (const char *name, size_t size, bool sealing, UniqueFd &out);

std::unique_ptr<Backend> open_zcam (const char *device, int *err);
std::unique_ptr<Backend> open_heap (const char *device, int *err);
std::unique_ptr<Backend> open_udmabuf (const char *device, int *err);
std::unique_ptr<Backend> open_memfd (int *err);
/* Returns nullptr with -ENOTSUP when built without libdrm. */
std::unique_ptr<Backend> open_dumb (const char *device, int *err);

} // namespace zc
