/* SPDX-License-Identifier: MIT */
/*
 * The read path: an inode's data through a page-cache object (pages filled
 * from the format layer on a miss, checked against a page proof when the
 * object has one), or straight from the format layer around the cache.
 * It knows the page cache, the format layer and page proofs; nothing of
 * domains, images or sharing: the caller says which object to read
 * through and what its fills must match.
 */
#ifndef ESHARE_READPATH_H
#define ESHARE_READPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/pagecache.h"
#include "cache/tails.h"
#include "format/format.h"
#include "proof.h"

/* How one read goes through the cache. */
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

/*
 * Read [off, off+len) of @ei (within its size) of @fs through @cache's
 * object @rd->obj, as @rd says; with @tails (or NULL), its tail through
 * that store, packed.  A fill that fails @rd->proof sets @rd->failed and
 * returns -ESHARE_EPROOF.
 */
int readpath_read(struct pc_cache *cache, struct tl_store *tails, struct ef_fs *fs,
		  struct ef_inode *ei, struct read_ctx *rd, void *buf, size_t len, uint64_t off);
/*
 * Read [off, off+len) of @ei (within its size) of @fs from the image,
 * caching no data: a compressed extent is decoded into a window of the
 * calling thread that the next reads of the same extent use again.
 */
int readpath_read_uncached(struct ef_fs *fs, struct ef_inode *ei, void *buf, size_t len,
			   uint64_t off);
/*
 * Read [off, off+len) of @ei (within its size) of @fs from the image,
 * around the cache, as a reader of @rd's object whose wait for another
 * member's fill failed: with a proof, every page the range touches is
 * checked against it as a fill's would be, and one that does not match
 * sets @rd->failed and returns -ESHARE_EPROOF, nothing copied past the
 * pages checked.  Bytes returned are the proven ones even when the file is
 * read under another member's name (a front end's alias of twins).
 */
int readpath_read_own(struct ef_fs *fs, struct ef_inode *ei, struct read_ctx *rd, void *buf,
		      size_t len, uint64_t off);

#endif
