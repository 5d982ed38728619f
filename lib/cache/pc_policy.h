/* SPDX-License-Identifier: MIT */
/*
 * lib/cache: the page cache's eviction policy, behind an interface, so
 * that another policy can be tried against the default one (bench/pc_bench
 * -P).  The library uses pc_create(), which picks S3-FIFO.
 *
 * A policy keeps the pages of one shard and is only called with that
 * shard's lock held.  It is told of every page that enters the table
 * (insert), of every read of one there (hit) and of every page that leaves
 * it (remove), and, while the shard is over its budget, names the page to
 * evict (victim), which then leaves through remove.  A policy owns four
 * fields of struct pc_page (pc_internal.h): qnext, qprev, queue and freq,
 * which page memory hands it zeroed; it may read the others, and the key
 * hash p->hash, but changes none of them.
 */
#ifndef PC_POLICY_H
#define PC_POLICY_H

#include <stdint.h>

#include "pagecache.h"

struct pc_page;

struct pc_policy_ops {
	const char *name;
	/* The state of a shard of @cap pages; NULL if out of memory. */
	void *(*create)(uint32_t cap);
	void (*destroy)(void *pol);
	void (*insert)(void *pol, struct pc_page *p);
	/* Called on every hit: keep it cheap. */
	void (*hit)(void *pol, struct pc_page *p);
	void (*remove)(void *pol, struct pc_page *p);
	/* The page to evict next (still held), or NULL if it holds none. */
	struct pc_page *(*victim)(void *pol);
};

/* S3-FIFO (the default): pc_s3fifo.c */
extern const struct pc_policy_ops pc_policy_s3fifo;
/* Least recently used, one list a shard: pc_lru.c */
extern const struct pc_policy_ops pc_policy_lru;

/* The policy called @name ("s3fifo", "lru"), or NULL. */
const struct pc_policy_ops *pc_policy_find(const char *name);

/* pc_create() with the eviction policy @policy. */
int pc_create_policy(struct pc_cache **out, uint64_t budget, const struct pc_policy_ops *policy);

#endif
