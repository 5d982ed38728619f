/* SPDX-License-Identifier: MIT */
/*
 * The glue between the public API, the format layer and the page cache:
 * domains, images, inode handles and the read path.
 */
#ifndef ESHARE_INTERNAL_H
#define ESHARE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <erofs_share/erofs_share.h>

#include "cache/pagecache.h"
#include "format/format.h"

#define ESHARE_DEFAULT_CACHE (256ull << 20)

/* Counters kept outside the page cache (the cache counts hits and misses). */
struct eshare_counters {
	atomic_uint_least64_t logical_bytes;
	atomic_uint_least64_t backend_bytes_read;
	atomic_uint_least64_t decompressed_bytes;
	atomic_uint_least64_t hashed_bytes;
	atomic_uint_least64_t verify_failures;
};

struct eshare_domain {
	struct eshare_domain_opts opts;
	char *id;
	struct pc_cache *cache;
	pthread_mutex_t lock; /* guards images */
	struct eshare_image *images;
	uint64_t nimages;
	struct eshare_counters cnt;
};

/* nid -> page-cache object of that inode's data, kept for the image's life. */
struct obj_entry {
	uint64_t nid;
	uint64_t obj;
};

struct eshare_image {
	eshare_domain *domain;
	struct eshare_image *next, *prev; /* in domain->images */
	atomic_uint refs; /* 1 while attached + 1 per open inode */
	atomic_bool detached;
	char *name;
	eshare_backend **devs; /* [0] primary */
	unsigned ndevs;
	struct ef_fs *fs;
	uint64_t meta_obj;
	uint64_t internal_obj[2]; /* packed, metabox */
	pthread_mutex_t obj_lock;
	struct obj_entry *objs; /* open-addressing table, nid 0 slots use used flag */
	bool *objs_used;
	size_t objs_cap, objs_n;
	struct eshare_counters cnt;
};

struct eshare_inode {
	atomic_uint refs;
	eshare_image *img;
	struct ef_inode ei;
	atomic_uint_least64_t obj; /* data object (regular files), 0 until first read */
};

/* image.c */
void eshare_image_ref(eshare_image *img);
void eshare_image_unref(eshare_image *img);
void eshare_log(eshare_domain *d, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The data object of an inode of @img (created on first use). */
int eshare_image_data_obj(eshare_image *img, uint64_t nid, uint64_t *obj);
int eshare_inode_new(eshare_inode **out, eshare_image *img, uint64_t nid);

/* file.c */
/* Read [off, off+len) of @ei (within its size) through the cache object @obj. */
int eshare_cached_read(eshare_image *img, struct ef_inode *ei, uint64_t obj, void *buf,
		       size_t len, uint64_t off);

/* util */
int eshare_copy_struct(void *dst, size_t ksize, const void *src, size_t usize);

static inline void counter_add(atomic_uint_least64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

#endif
