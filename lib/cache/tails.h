/* SPDX-License-Identifier: MIT */
/*
 * lib/cache/tails: the last partial page of an object, held packed.
 *
 * An object whose size is not a multiple of PC_PAGE_SIZE ends in a page
 * of fewer valid bytes (its *tail*); a small object is nothing but one.
 * Held as a page of the page cache, each takes a whole page.  This store
 * keeps a tail as a record of exactly its bytes, packed end to end with
 * others' into pages that are themselves page-cache pages (each of an
 * object of its own, class PC_CLASS_DATA): they count in the cache's
 * byte budget, are evicted as any page is (hit tails stay), and a reader
 * copies from a pinned page, so an eviction under a reader never hands
 * it freed memory.
 *
 * A record may cross from one packed page into the next.  Packing goes
 * on in one open page per shard, private memory until it is full and
 * handed to the cache; those and the partial prefixes below are held
 * outside the budget, bounded to a few pages per shard (tl_stats.unpaged).
 * A packed page that lost a 32nd of its bytes to dropped records has
 * its live records copied to the open page and is dropped, so dropped
 * tails free their bytes; one the cache evicted is forgotten when a
 * read misses it or a sweep finds it gone.
 *
 * A tail may also be held *partial*: its first bytes, for a fill that
 * completes it (compressed data ending inside the page).  A partial tail
 * is never read as data; a few of them are kept per shard, the oldest
 * forgotten first.
 *
 * The store knows nothing of proofs: the caller puts only bytes that are
 * the object's (a fill that failed puts nothing).  A tail is never
 * replaced once held, as the page cache never replaces a complete page.
 * Objects are the page cache's (pc_object_new()); a put for one that is
 * not live is refused.  Drop an object from the cache first, then from
 * the store: a fill that ends after the drop leaves nothing behind, as in
 * the cache.
 *
 * Thread safety: every function may be called concurrently, except
 * tl_destroy(), after every other call.  Lock order: a store shard, then
 * the page cache's locks; no page-cache fill runs under a store lock.
 */
#ifndef PC_TAILS_H
#define PC_TAILS_H

#include <stdbool.h>
#include <stdint.h>

#include "cache/pagecache.h"

struct tl_store;
struct tl_flight;

struct tl_stats {
	uint64_t tails;      /* complete tails indexed */
	uint64_t bytes;      /* their bytes */
	uint64_t pages;      /* packed pages handed to the cache (in its data pages) */
	uint64_t unpaged;    /* bytes held outside the budget: open pages, partial prefixes */
	uint64_t hits;       /* tl_read() calls served */
	uint64_t misses;     /* tl_read() calls not served */
	uint64_t fills;      /* fills tl_read_or_fill() handed out */
	/* what the store's own reads of packed pages added to the cache's counters */
	uint64_t pc_hits, pc_misses, pc_fills;
};

/* A store whose packed pages live in @c (which must outlive it). 0 or -ENOMEM. */
int tl_create(struct tl_store **out, struct pc_cache *c);
void tl_destroy(struct tl_store *t);

/*
 * Copy @len bytes at @off of the tail of @obj into @dst.  Returns 0, or
 * -ENOENT when the tail is not held complete (a miss), -EINVAL when the
 * range passes the tail's end.
 */
int tl_read(struct tl_store *t, uint64_t obj, uint32_t off, uint32_t len, void *dst);
/*
 * tl_read() with single flight.  On a miss, of the threads that miss one
 * tail at once one gets -ENOENT and *@flight: it fills the tail, puts it
 * and then must call tl_fill_done() whatever the fill gave; the others
 * wait for that and read again (or, if the fill failed, one of them
 * fills in its turn).  *@flight may be NULL on -ENOENT (no memory to
 * announce the fill): tl_fill_done() takes NULL.  A wait is a miss, as
 * in the page cache; only the filler counts a fill.
 */
int tl_read_or_fill(struct tl_store *t, uint64_t obj, uint32_t off, uint32_t len, void *dst,
		    struct tl_flight **flight);
void tl_fill_done(struct tl_store *t, uint64_t obj, struct tl_flight *flight);
/* tl_read() that counts neither a hit nor a miss (a copy, not a read). */
int tl_peek(struct tl_store *t, uint64_t obj, uint32_t off, uint32_t len, void *dst);

/*
 * Hold the tail of @obj: its @len bytes (0 < len < PC_PAGE_SIZE).
 * Nothing is changed if it is held complete already, or if @obj is not a
 * live object of the cache.  Returns 0, -EINVAL or -ENOMEM.
 */
int tl_put(struct tl_store *t, uint64_t obj, const void *data, uint32_t len);

/*
 * Hold the first @len bytes of @obj's tail, for a fill to complete; not
 * if its tail is held complete, or a longer prefix is.  0 or -EINVAL.
 */
int tl_put_partial(struct tl_store *t, uint64_t obj, const void *data, uint32_t len);

/* Copy a partial tail of @obj into @buf (PC_PAGE_SIZE of room): its length, or 0. */
uint32_t tl_peek_partial(struct tl_store *t, uint64_t obj, void *buf);

/* Whether @obj's tail is held complete (its packed pages may be gone). */
bool tl_contains(struct tl_store *t, uint64_t obj);

/*
 * Forget the tail of @obj, complete or partial, and free its bytes; pages
 * left sparse are compacted (a bounded amount per call).
 */
void tl_drop(struct tl_store *t, uint64_t obj);
/*
 * The same for one of many tails going at once (an image detached): only
 * pages left nearly empty are compacted now, since most of the others
 * will empty with nothing moved as the rest of the run goes.
 */
void tl_drop_lazy(struct tl_store *t, uint64_t obj);

void tl_get_stats(struct tl_store *t, struct tl_stats *st);

#endif
