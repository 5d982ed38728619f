/* SPDX-License-Identifier: MIT */
/*
 * Every private header of the library core, for white-box tests only: no
 * library source includes this file.  Library code includes the header of
 * each module it uses (domain.h, image.h, inode.h, share.h, readpath.h,
 * proof.h, log.h, counters.h, util/abi.h).
 */
#ifndef ESHARE_INTERNAL_H
#define ESHARE_INTERNAL_H

#include "counters.h"
#include "domain.h"
#include "image.h"
#include "inode.h"
#include "log.h"
#include "proof.h"
#include "readpath.h"
#include "share.h"
#include "util/abi.h"

#endif
