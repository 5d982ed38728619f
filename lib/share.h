/* SPDX-License-Identifier: MIT */
/*
 * Sharing: which page-cache object a regular file of an image reads
 * through (its binding): a private object, or membership of the domain's
 * shared object for its content.  The domain holds the tables (domain.h);
 * an image holds its bindings (image.h) and releases them when freed.
 */
#ifndef ESHARE_SHARE_H
#define ESHARE_SHARE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

#include "format/format.h"
#include "proof.h"
#include "readpath.h"

/* A shared object: one cached copy of a content, keyed by (fingerprint, size). */
struct shared_obj {
	struct shared_obj *hash_next;
	uint8_t fp[64];
	uint8_t fplen;
	bool linked; /* in the domain's table */
	uint64_t size;
	uint64_t obj;
	uint64_t nmembers; /* members reading through it now */
	uint64_t nrefs;    /* bindings that point at it: members and those that left */
	struct page_proof proof; /* npages 0: fills are trusted (TRUST) */
};

/* Same-size candidates not hashed yet (only one of their size so far). */
struct size_candidates {
	struct size_candidates *next;
	uint64_t size;
	uint64_t n_unclaimed; /* candidates keyed by their content alone */
	uint64_t n_claimed;   /* candidates with an on-disk fingerprint (VERIFY) */
	struct binding *pending; /* PENDING ones, linked by list_next */
};

/*
 * NEW: not decided; PENDING: private, hashed once a match may appear;
 * SETTLING: being hashed; DEFERRED: worth hashing, but only its own reader
 * will (its pages were not cached when another image's reader could have);
 * PRIVATE: for good; SHARED: a member of b->shared.
 */
enum { BIND_NEW, BIND_PENDING, BIND_SETTLING, BIND_DEFERRED, BIND_PRIVATE, BIND_SHARED };

/*
 * Which object a regular file of an image reads through.  What a reader
 * needs (obj, state) changes only under the image's bind_lock, inside a
 * view_seq window (odd while it changes), so that an open inode that has
 * its binding already reads them without a lock (eshare_share_view()).
 * shared is set once, before state first says SHARED.
 */
struct binding {
	uint64_t nid;
	eshare_image *img;
	uint64_t size; /* its file's size: the inode is read again when needed */
	atomic_uint view_seq; /* even: obj and state stable */
	atomic_uint_least64_t obj; /* what readers use now */
	uint64_t private_obj; /* its private object, 0 once dropped */
	struct shared_obj *shared; /* the one it joined (kept after leaving it) */
	struct binding *list_next; /* in a size's pending list or a hash queue */
	atomic_uchar state;
	bool size_counted; /* counted in its size's candidates */
	bool claimed; /* counted in n_claimed, not n_unclaimed */
	bool left;  /* a fill from its image failed the proof: reads privately */
	bool ondisk; /* fp[] came from the image */
	bool proven; /* sha256[] holds the SHA-256 of its own bytes */
	uint8_t fplen;
	uint8_t fp[64];
	uint8_t sha256[32];
};

/*
 * The object regular file @ei of @img reads through now (decided on first
 * use), in rd->obj and rd->proof; *@bp its binding (alive with the image).
 */
int eshare_share_bind(eshare_image *img, struct ef_inode *ei, struct read_ctx *rd,
		      struct binding **bp);
/*
 * The same for a binding @b that eshare_share_bind() returned, without a
 * lock: false if it is not settled or is changing (then ask
 * eshare_share_bind()).  A change made before this call (a member leaving
 * its shared object) is always seen.
 */
bool eshare_share_view(struct binding *b, struct read_ctx *rd);
/* A fill of @obj from @b's image failed its proof: @b leaves it, reported. */
void eshare_share_leave(eshare_image *img, struct binding *b, uint64_t obj);
/* @img is being freed: its bindings leave their shared objects and are freed. */
void eshare_share_release_image(eshare_image *img);
/* How many shared objects @d has, and how many members they have in all. */
void eshare_share_stats(eshare_domain *d, uint64_t *objects, uint64_t *members);
/* Free @d's sharing tables (no image left). */
void eshare_share_destroy(eshare_domain *d);

#endif
