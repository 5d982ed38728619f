/* SPDX-License-Identifier: MIT */
/*
 * Domains: the trust boundary.  A domain owns the page cache its images
 * share, the key of its page proofs and the sharing tables (share.c), and
 * counts its images.
 */
#ifndef ESHARE_DOMAIN_H
#define ESHARE_DOMAIN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

#include "cache/pagecache.h"
#include "cache/tails.h"
#include "counters.h"
#include "proof.h"

#define ESHARE_DEFAULT_CACHE (256ull << 20)

struct shared_obj;
struct size_candidates;

struct eshare_domain {
	struct eshare_domain_opts opts;
	char *id;
	struct pc_cache *cache;
	struct tl_store *tails; /* files' tails, packed into pages of the cache */
	pthread_mutex_t lock; /* guards images, nimages */
	struct eshare_image *images;
	uint64_t nimages;
	struct eshare_counters cnt;
	struct page_key proof_key; /* random, for page proofs */
	/* sharing (share.c), under share_lock */
	pthread_mutex_t share_lock;
	struct shared_obj **shared_objs; /* by (fingerprint, size); chained */
	size_t shared_cap, shared_count;
	uint64_t shared_members;         /* bindings reading through them */
	struct size_candidates **size_cands; /* by size; chained */
	size_t size_cap;
};

/* Drop a data object of @d: its pages and its tail. */
void domain_drop_object(eshare_domain *d, uint64_t obj);
/* The same for one of many objects going at once (tl_drop_lazy()). */
void domain_drop_object_lazy(eshare_domain *d, uint64_t obj);

/* Put attached image @img on @d's list (one more image alive). */
void domain_add_image(eshare_domain *d, eshare_image *img);
/* Take detached image @img off @d's list; it stays alive until freed. */
void domain_unlink_image(eshare_domain *d, eshare_image *img);
/* An image of @d (linked or not) was freed: one fewer alive. */
void domain_image_freed(eshare_domain *d);

#endif
