/* SPDX-License-Identifier: MIT */
/*
 * Images: an EROFS filesystem opened from its backends into a domain.  An
 * image owns its file bindings (share.c), released when it is freed.
 */
#ifndef ESHARE_IMAGE_H
#define ESHARE_IMAGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

#include "counters.h"
#include "format/format.h"

struct binding;

struct eshare_image {
	eshare_domain *domain;
	struct eshare_image *next, *prev; /* in domain->images */
	atomic_uint refs; /* 1 while attached + 1 per open inode */
	atomic_bool detached;
	atomic_bool stale_reported; /* a backend said its file changed */
	char *name;
	eshare_backend **devs; /* [0] primary */
	unsigned ndevs;
	struct ef_fs *fs;
	uint64_t meta_obj;
	uint64_t packed_obj;  /* the packed inode's data (tails, fragments) */
	uint64_t metabox_obj; /* the metabox inode's data (metadata) */
	pthread_rwlock_t bind_lock;
	struct binding **binds; /* open addressing by nid */
	size_t binds_cap, binds_n;
	struct eshare_counters cnt;
};

/* One more reference on @img (it must hold one already). */
void eshare_image_ref(eshare_image *img);
/* A reference on @img unless it is being freed; whether it took one. */
bool eshare_image_tryref(eshare_image *img);
/* Drop a reference; the last one frees the image and its bindings. */
void eshare_image_unref(eshare_image *img);

#endif
