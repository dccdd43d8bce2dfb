/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-zerocopy: constructors of the device backends. Not installed.
 */
#pragma once

#include "zc-backend.h"

namespace zc {

/* Rounds up to the page size. */
size_t page_round (size_t size);

std::unique_ptr<Backend> open_zcam (const char *device, int *err);
/* Returns nullptr with -ENOTSUP when built without libdrm. */
std::unique_ptr<Backend> open_dumb (const char *device, int *err);

} // namespace zc
