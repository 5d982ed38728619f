/* SPDX-License-Identifier: MIT */
/*
 * lib/cache: a page cache of opaque objects.  It knows nothing of EROFS:
 * an object is a number, a page is PC_PAGE_SIZE bytes at an index of an
 * object.  A byte budget bounds every page it holds; eviction keeps hot
 * pages and lets one-pass scans through.  Misses are single-flight: of the
 * threads that miss one page at once, one fills it and the others wait.
 *
 * A page may be stored *partial*: only its first `valid` bytes are known
 * (a compressed extent ended inside it).  A partial page is never a hit;
 * a fill may read it back with pc_peek_partial() and complete it.  A page
 * stored *complete* with valid < PC_PAGE_SIZE is the last page of an object
 * and reads as zeros past `valid`.
 *
 * Thread safety: every function may be called concurrently, except
 * pc_destroy(), which must come after every other call has returned.  No
 * lock is held while a fill runs.
 *
 * Eviction is S3-FIFO per shard: pages enter a small FIFO and reach the main
 * one only if hit meanwhile, so one-pass scans do not flush hot pages.
 *
 * Memory: page data comes from chunks allocated as pages are first needed
 * and reused after eviction, never freed before pc_destroy().  They hold
 * at most the budget, a few spare pages per shard, and (in batches of up
 * to 16 pages) the most pages that were ever outside the budget at once
 * (see pc_create()).  pc_destroy() keeps up to 256 MiB of them for the
 * next cache of the process, as memory the kernel may reclaim (MADV_FREE).
 */
#ifndef PC_PAGECACHE_H
#define PC_PAGECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PC_PAGE_SHIFT 12
#define PC_PAGE_SIZE (1u << PC_PAGE_SHIFT)

/* Statistics classes of objects. */
enum { PC_CLASS_DATA = 0, PC_CLASS_META = 1, PC_NCLASSES = 2 };

struct pc_cache;

struct pc_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t fills;     /* fill callbacks run */
	uint64_t evictions; /* pages evicted for the budget */
	uint64_t pages[PC_NCLASSES]; /* pages held now, complete or partial */
	uint64_t bytes[PC_NCLASSES]; /* pages[] * PC_PAGE_SIZE */
	uint64_t budget;    /* the budget in force (see pc_create()) */
	uint64_t mem_bytes; /* page memory allocated, in use or spare */
};

/*
 * @budget in bytes, rounded down to whole pages, at least 4 pages.  A page
 * evicted while a reader copies from it lives on outside the budget until
 * the copy ends; pages being filled are outside it too.  The cache is
 * split into up to 64 shards of at least 32 pages each, each with its
 * share of the budget; 16 consecutive pages of an object (index / 16)
 * share a shard.  Returns 0 or -ENOMEM.
 */
int pc_create(struct pc_cache **out, uint64_t budget);
/* All objects must have been dropped or not; pages are freed either way. */
void pc_destroy(struct pc_cache *c);

/*
 * A new object id (never reused) of class @cls (PC_CLASS_*; anything else
 * counts as data).  Never fails: if memory is short the object is simply
 * never cached, and its reads all go through the fill.
 */
uint64_t pc_object_new(struct pc_cache *c, unsigned cls);
/*
 * Drop every page of @obj.  Pages a fill puts for @obj later are
 * discarded.  Waiters of an in-flight fill of @obj are not disturbed: they
 * get the filled page, which is not cached.  Unknown ids are ignored.
 */
void pc_object_drop(struct pc_cache *c, uint64_t obj);
/*
 * Whether @obj was made by pc_object_new() and not dropped since (an
 * object that met no memory for its entry never was live).  Pages put for
 * an object that is not live are discarded.
 */
bool pc_object_live(struct pc_cache *c, uint64_t obj);

/*
 * Fills page @index of the object: write all PC_PAGE_SIZE bytes of it to
 * @page (zeros past the object's end) and return 0, or return -errno.  It
 * may also pc_put() other pages of the same object that it produced, and
 * pc_read() other pages (a read of its own page returns -EDEADLK; fills
 * of two threads that wait for each other's pages are not detected).
 * A positive return is taken as -EIO.
 */
typedef int (*pc_fill_fn)(void *user, uint64_t index, void *page);

/*
 * Copy @len bytes at @off (off + len <= PC_PAGE_SIZE) of page @index of
 * @obj into @dst.  A hit copies while the page is pinned; a miss runs
 * @fill once for all concurrent missers (single flight): they wait for
 * that one fill alone, and share its result.  Errors are never cached: a
 * later call fills again.
 * Returns 0 or the fill's error.  *@hit (if not NULL) tells which it was.
 * Also -EINVAL (bad range, no @fill), -ENOMEM, and -EDEADLK for a fill
 * that reads its own page.  Hits and misses count once per call.
 */
int pc_read(struct pc_cache *c, uint64_t obj, uint64_t index, uint32_t off, uint32_t len,
	    void *dst, pc_fill_fn fill, void *user, bool *hit);

/*
 * pc_read() over a byte range of @obj that may span pages, as one call per
 * page would do it (a hit or a miss counted a page), only faster: cached
 * pages that share a shard are pinned under one lock.  -EINVAL also if the
 * range wraps past the end of the 64-bit offsets.
 */
int pc_read_range(struct pc_cache *c, uint64_t obj, uint64_t off, size_t len, void *dst,
		  pc_fill_fn fill, void *user);

/*
 * Store page @index of @obj: @valid bytes of @data; @complete as above.
 * Replaces a partial page; never replaces a complete one, and a partial
 * page is not replaced by a shorter partial one.  A partial page with
 * valid == PC_PAGE_SIZE is stored complete; one with valid == 0 is not
 * stored.  Silently ignored for a dropped object.  Returns 0, -EINVAL
 * (valid > PC_PAGE_SIZE) or -ENOMEM.
 */
int pc_put(struct pc_cache *c, uint64_t obj, uint64_t index, const void *data, uint32_t valid,
	   bool complete);

/*
 * If page @index of @obj is held partial, copy its valid prefix into @buf
 * (PC_PAGE_SIZE bytes of room) and return its length; return 0 if absent
 * or complete.
 */
uint32_t pc_peek_partial(struct pc_cache *c, uint64_t obj, uint64_t index, void *buf);

/*
 * If page @index of @obj is held complete, copy it (PC_PAGE_SIZE bytes,
 * zeros past its valid ones) into @buf and return true; false if absent
 * or partial.  Counts neither a hit nor a miss.
 */
bool pc_peek_complete(struct pc_cache *c, uint64_t obj, uint64_t index, void *buf);

/* Whether page @index of @obj is held complete (for tests and stats). */
bool pc_contains(struct pc_cache *c, uint64_t obj, uint64_t index);

void pc_get_stats(struct pc_cache *c, struct pc_stats *st);

#endif
