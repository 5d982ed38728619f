/* SPDX-License-Identifier: MIT */
/**
 * @file api.h
 * ESHARE_API: what marks a function the library exports (every function
 * declared in the public headers).  Defined here once, for
 * <erofs_share/erofs_share.h> and <erofs_share/backend.h>; a build may
 * define it first (for instance empty, to link the library statically).
 */
#ifndef ESHARE_API_H
#define ESHARE_API_H

#ifndef ESHARE_API
#define ESHARE_API __attribute__((visibility("default")))
#endif

#endif
