/* SPDX-License-Identifier: MIT */
/* Inode handles: an inode of an image, holding a reference on the image. */
#ifndef ESHARE_INODE_H
#define ESHARE_INODE_H

#include <stdatomic.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

#include "format/format.h"

struct binding;

struct eshare_inode {
	atomic_uint refs;
	atomic_uint advice; /* ESHARE_ADVICE_* */
	eshare_image *img;
	_Atomic(struct binding *) bind; /* its binding once read (lives with img) */
	struct ef_inode ei;
};

/* A new handle (one reference) on inode @nid of @img. */
int eshare_inode_new(eshare_inode **out, eshare_image *img, uint64_t nid);

#endif
