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

/* A shared object: one cached copy of a content, keyed by (fingerprint, size). */
struct shobj {
	struct shobj *hnext;
	uint8_t fp[64];
	uint8_t fplen;
	uint64_t size;
	uint64_t obj;
	uint64_t nmembers;
};

/* Same-size candidates not hashed yet (only one of their size so far). */
struct sizeent {
	struct sizeent *next;
	uint64_t size;
	uint64_t nplain; /* candidates keyed by their content alone */
	uint64_t nclaim; /* candidates with an on-disk fingerprint (VERIFY) */
	struct binding *pending;
};

struct eshare_domain {
	struct eshare_domain_opts opts;
	char *id;
	struct pc_cache *cache;
	pthread_mutex_t lock; /* guards images */
	struct eshare_image *images;
	uint64_t nimages;
	struct eshare_counters cnt;
	/* sharing (share.c), under share_lock */
	pthread_mutex_t share_lock;
	struct shobj **sh;
	size_t sh_cap, sh_n;
	uint64_t sh_members;
	struct sizeent **sz;
	size_t sz_cap;
};

enum { BIND_NEW, BIND_PENDING, BIND_SETTLING, BIND_PRIVATE, BIND_SHARED };

/* Which object a regular file of an image reads through (share.c). */
struct binding {
	uint64_t nid;
	eshare_image *img;
	struct ef_inode ei;
	atomic_uint_least64_t obj; /* what readers use now */
	uint64_t priv_obj;          /* its private object, 0 once dropped */
	struct shobj *sh;
	struct binding *cand_next;
	uint8_t state;
	bool counted;
	bool claim; /* counted in nclaim, not nplain */
	uint8_t fplen;
	uint8_t fp[64];
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
	pthread_rwlock_t bind_lock;
	struct binding **binds; /* open addressing by nid */
	size_t binds_cap, binds_n;
	struct eshare_counters cnt;
};

struct eshare_inode {
	atomic_uint refs;
	eshare_image *img;
	struct ef_inode ei;
};

/* image.c */
void eshare_image_ref(eshare_image *img);
void eshare_image_unref(eshare_image *img);
void eshare_log(eshare_domain *d, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* share.c */
/* The object regular file @ei of @img reads through now (decided on first use). */
int eshare_bind(eshare_image *img, struct ef_inode *ei, uint64_t *obj);
void eshare_unbind_all(eshare_image *img);
void eshare_share_stats(eshare_domain *d, uint64_t *objects, uint64_t *members);
void eshare_share_destroy(eshare_domain *d);
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
