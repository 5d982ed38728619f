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

/* A fill of a proven page that did not match its proof (never returned by the API). */
#define ESHARE_EPROOF EKEYREJECTED
#define PAGE_MAC_LEN 16
#define PAGE_MAC_KEY_LEN 16

/*
 * What proves each page of a shared content: a MAC of its valid bytes
 * under the domain's secret key (GMAC, AES-128), taken in the same pass
 * that hashed the whole content to its fingerprint.  Without the key, which
 * never leaves the process, no image can make other bytes match a page's
 * MAC but by chance (below 2^-120 a try, and a failed try expels it).
 * Immutable once published.
 */
struct page_key {
	uint64_t id; /* unique in the process, never 0 */
	uint8_t bytes[PAGE_MAC_KEY_LEN];
};

struct page_proof {
	uint64_t npages;
	const struct page_key *key; /* the domain's */
	uint8_t (*mac)[PAGE_MAC_LEN];
};

/* A shared object: one cached copy of a content, keyed by (fingerprint, size). */
struct shobj {
	struct shobj *hnext;
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
	struct page_key proof_key; /* random, for page proofs */
	/* sharing (share.c), under share_lock */
	pthread_mutex_t share_lock;
	struct shobj **sh;
	size_t sh_cap, sh_n;
	uint64_t sh_members;
	struct sizeent **sz;
	size_t sz_cap;
};

/*
 * NEW: not decided; PENDING: private, hashed once a match may appear;
 * SETTLING: being hashed; DEFERRED: worth hashing, but only its own reader
 * will (its pages were not cached when another image's reader could have);
 * PRIVATE: for good; SHARED: a member of b->sh.
 */
enum { BIND_NEW, BIND_PENDING, BIND_SETTLING, BIND_DEFERRED, BIND_PRIVATE, BIND_SHARED };

/* Which object a regular file of an image reads through (share.c). */
struct binding {
	uint64_t nid;
	eshare_image *img;
	struct ef_inode ei;
	atomic_uint_least64_t obj; /* what readers use now */
	uint64_t priv_obj;          /* its private object, 0 once dropped */
	struct shobj *sh; /* the shared object it joined (kept after leaving it) */
	struct binding *cand_next;
	uint8_t state;
	bool counted;
	bool claim; /* counted in nclaim, not nplain */
	bool left;  /* a fill from its image failed the proof: reads privately */
	bool ondisk; /* fp[] came from the image */
	bool proven; /* sum[] holds the SHA-256 of its own bytes */
	uint8_t fplen;
	uint8_t fp[64];
	uint8_t sum[32];
};

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

struct eshare_inode {
	atomic_uint refs;
	atomic_uint advice; /* ESHARE_ADVICE_* */
	eshare_image *img;
	struct ef_inode ei;
};

/* image.c */
void eshare_image_ref(eshare_image *img);
void eshare_image_unref(eshare_image *img);
void eshare_log(eshare_domain *d, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* How one read goes through the cache (file.c). */
struct read_ctx {
	uint64_t obj;                   /* the object read through */
	const struct page_proof *proof; /* what its fills must match, or NULL */
	uint64_t copy_from;             /* hash pass: complete pages to copy, or 0 */
	bool join_pass;                 /* obj keeps only pages this read hashed */
	bool cache_only;                /* fail with -EAGAIN rather than read the image */
	bool shared;                    /* obj is a shared object */
	bool failed;                    /* out: this image's bytes failed the proof */
	bool fill_failed;               /* out: a fill this read ran returned an error */
};

/* share.c */
/*
 * The object regular file @ei of @img reads through now (decided on first
 * use), in rd->obj and rd->proof; *@bp its binding (alive with the image).
 */
int eshare_bind(eshare_image *img, struct ef_inode *ei, struct read_ctx *rd, struct binding **bp);
/* A fill of @obj from @b's image failed its proof: @b leaves it, reported. */
void eshare_share_leave(eshare_image *img, struct binding *b, uint64_t obj);
void eshare_unbind_all(eshare_image *img);
void eshare_share_stats(eshare_domain *d, uint64_t *objects, uint64_t *members);
void eshare_share_destroy(eshare_domain *d);
int eshare_inode_new(eshare_inode **out, eshare_image *img, uint64_t nid);

/* file.c */
/* Read [off, off+len) of @ei (within its size) as @rd says. */
int eshare_cached_read(eshare_image *img, struct ef_inode *ei, struct read_ctx *rd, void *buf,
		       size_t len, uint64_t off);
/* Read [off, off+len) of @ei (within its size) from the image, caching no data. */
int eshare_uncached_read(eshare_image *img, struct ef_inode *ei, void *buf, size_t len,
			 uint64_t off);
/* The MAC of page @index's @len bytes under @key. 0 or -ENOMEM. */
int eshare_page_mac(const struct page_key *key, uint64_t index, const void *data, uint32_t len,
		    uint8_t out[PAGE_MAC_LEN]);

/* util */
int eshare_copy_struct(void *dst, size_t ksize, const void *src, size_t usize);

static inline void counter_add(atomic_uint_least64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

#endif
