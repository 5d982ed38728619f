// SPDX-License-Identifier: MIT
/*
 * The read path: pages of an inode's data object come from the page cache;
 * a miss maps the page's range and fills it.  Flat extents are read
 * straight into pages, with some read-ahead of the same extent.  A
 * compressed extent is decoded once, and every page it produces is kept:
 * pages it covers whole are stored complete, the page where it ends is
 * stored partial (its valid prefix), to be completed by the next extent's
 * decode instead of decoding this one again.
 *
 * A shared object under VERIFY or COMPUTE carries a proof: a MAC of each
 * page of the content its first member hashed to the fingerprint.
 * Every page a fill produces for it is checked against the proof before
 * any reader can see it; a page that fails is never cached, and the fill
 * reports that the reading member's image no longer gives the proven bytes
 * (share.c then takes the member out).  Pages held partial are never read
 * by anyone but a fill, and the page they complete is checked whole.
 *
 * Tails.  Given a tail store, the last page of a file whose size is not
 * a multiple of the page size (its tail) is held there, packed, instead
 * of as a page: a read of it looks there first, and a miss fills the page
 * as any other (proof included) and puts its valid bytes there; of the
 * readers that miss it at once one fills, the others wait.  Every
 * put of that page (read-ahead, pages an extent produced, partial
 * prefixes) goes there too, so it never takes a page of the cache.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "readpath.h"

/* Flat read-ahead: pages of the same extent read in one backend call. */
#define READAHEAD_PAGES 32u

struct fill_ctx {
	struct pc_cache *cache;
	struct tl_store *tails; /* NULL: tails are pages like any other */
	struct ef_fs *fs;
	struct ef_inode *ei;
	uint64_t obj;
	struct read_ctx *rd;
};

/* The valid length of page @index of @ei: what its MAC covers. */
static uint32_t page_len(const struct ef_inode *ei, uint64_t index)
{
	uint64_t ps = index << PC_PAGE_SHIFT;

	if (ps >= ei->size)
		return 0;
	return ei->size - ps < PC_PAGE_SIZE ? (uint32_t)(ei->size - ps) : PC_PAGE_SIZE;
}

/* The valid bytes of @ei's tail: of its last page when it is not whole; else 0. */
static uint32_t tail_len(const struct ef_inode *ei)
{
	return (uint32_t)(ei->size & (PC_PAGE_SIZE - 1));
}

/* Whether page @index of the object goes to the tail store. */
static bool is_tail(const struct fill_ctx *f, uint64_t index)
{
	return f->tails && tail_len(f->ei) && index == f->ei->size >> PC_PAGE_SHIFT;
}

/* Store page @index: the tail packed, other pages in the cache. */
static void store_page(struct fill_ctx *f, uint64_t index, const void *data, uint32_t valid,
		       bool complete)
{
	if (!is_tail(f, index))
		pc_put(f->cache, f->obj, index, data, valid, complete);
	else if (complete)
		tl_put(f->tails, f->obj, data, valid);
	else if (valid)
		tl_put_partial(f->tails, f->obj, data, valid);
}

static uint32_t peek_partial(struct fill_ctx *f, uint64_t index, void *buf)
{
	if (is_tail(f, index))
		return tl_peek_partial(f->tails, f->obj, buf);
	return pc_peek_partial(f->cache, f->obj, index, buf);
}

static bool page_held(struct fill_ctx *f, uint64_t index)
{
	if (is_tail(f, index))
		return tl_contains(f->tails, f->obj);
	return pc_contains(f->cache, f->obj, index);
}

/*
 * Store a page this fill decoded from the reading member's own image: a
 * proven object takes it only if it matches its proof; one that does not
 * marks the member failed.
 */
static void put_own(struct fill_ctx *f, uint64_t index, const void *data, uint32_t valid,
		    bool complete)
{
	const struct page_proof *pp = f->rd->proof;

	if (pp && complete && !page_proof_check(pp, index, data, valid)) {
		f->rd->failed = true;
		return;
	}
	store_page(f, index, data, valid, complete);
}

/* Flat (or hole) extent: fill @page at @pos, and read ahead in the extent. */
static int fill_flat(struct fill_ctx *f, const struct ef_map *m, uint64_t index, uint8_t *page,
		     uint64_t pos, uint64_t end)
{
	struct ef_fs *fs = f->fs;
	uint64_t stop = m->la + m->llen < end ? m->la + m->llen : end;
	uint64_t pstart = index << PC_PAGE_SHIFT;
	uint64_t ra_end, extent_end = m->la + m->llen;
	struct ef_scratch *s;
	uint8_t *buf;
	size_t n;
	int rc;

	if (!(m->flags & EF_MAP_MAPPED)) {
		memset(page + (pos - pstart), 0, stop - pos);
		return 0;
	}
	if (m->flags & EF_MAP_META)
		return ef_read_metadata(fs, f->ei->in_metabox, m->pa + (pos - m->la),
				    page + (pos - pstart), stop - pos);
	/* read ahead whole pages of this extent that follow, if not cached */
	ra_end = stop;
	if (stop == end && pos == pstart && extent_end > end) {
		uint64_t limit = extent_end < f->ei->size ? extent_end : f->ei->size;
		unsigned k;

		for (k = 1; k < READAHEAD_PAGES; k++) {
			uint64_t q = index + k;

			if ((q << PC_PAGE_SHIFT) >= limit || page_held(f, q))
				break;
		}
		ra_end = (index + k) << PC_PAGE_SHIFT;
		if (ra_end > limit)
			ra_end = limit;
	}
	if (ra_end == stop)
		return ef_read_device_raw(fs, m->dev, m->pa + (pos - m->la), page + (pos - pstart),
				    stop - pos);
	n = (size_t)(ra_end - pos);
	s = ef_scratch_get();
	if (!s || ef_scratch_reserve(&s->out, &s->out_cap, n)) {
		if (s)
			ef_scratch_put(s);
		return ef_read_device_raw(fs, m->dev, m->pa + (pos - m->la), page + (pos - pstart),
				    stop - pos);
	}
	buf = s->out;
	rc = ef_read_device_raw(fs, m->dev, m->pa + (pos - m->la), buf, n);
	if (!rc) {
		memcpy(page, buf, PC_PAGE_SIZE);
		for (uint64_t off = PC_PAGE_SIZE; off < n; off += PC_PAGE_SIZE) {
			uint32_t valid = n - off < PC_PAGE_SIZE ? (uint32_t)(n - off) : PC_PAGE_SIZE;
			bool last = pos + off + valid >= f->ei->size;

			if (valid < PC_PAGE_SIZE && !last)
				break;
			put_own(f, index + (off >> PC_PAGE_SHIFT), buf + off, valid, true);
		}
	}
	ef_scratch_put(s);
	return rc;
}

/*
 * Give the pages other than @index that a decoded extent covers to the
 * cache: those it covers from their start, and the one it starts inside
 * when that page's earlier bytes are held partial.
 */
static void keep_pages(struct fill_ctx *f, const struct ef_map *m, const uint8_t *data,
		       uint64_t index)
{
	uint64_t size = f->ei->size;
	uint64_t first = m->la >> PC_PAGE_SHIFT;
	uint64_t last = (m->la + m->llen - 1) >> PC_PAGE_SHIFT;
	uint8_t tmp[PC_PAGE_SIZE];

	for (uint64_t q = first; q <= last; q++) {
		uint64_t qs = q << PC_PAGE_SHIFT;
		uint64_t qe = qs + PC_PAGE_SIZE < size ? qs + PC_PAGE_SIZE : size;
		uint64_t e = m->la + m->llen < qe ? m->la + m->llen : qe;

		/*
		 * pc_put itself skips pages held complete.  A join pass never
		 * stores a page below the one it fills: the hash has read those
		 * already, and the object must keep only bytes it hashed (a
		 * second decode of an evicted page may give other ones).
		 */
		if (q == index || (f->rd->join_pass && q < index))
			continue;
		if (qs >= m->la) {
			put_own(f, q, data + (qs - m->la), (uint32_t)(e - qs), e == qe);
			continue;
		}
		/*
		 * The extent starts inside page q: join the prefix held partial.
		 * That prefix may come from another member's fill, so a page that
		 * fails its proof here blames no one: it is just not kept.
		 */
		if (peek_partial(f, q, tmp) >= m->la - qs) {
			memcpy(tmp + (m->la - qs), data, e - m->la);
			if (e == qe && f->rd->proof &&
			    !page_proof_check(f->rd->proof, q, tmp, (uint32_t)(e - qs)))
				continue;
			store_page(f, q, tmp, (uint32_t)(e - qs), e == qe);
		}
	}
}

static int fill_page_once(struct fill_ctx *f, uint64_t index, void *pagebuf, bool skip_partial,
			  bool *used_partial)
{
	struct ef_fs *fs = f->fs;
	uint8_t *page = pagebuf;
	uint64_t pstart = index << PC_PAGE_SHIFT;
	uint64_t end = pstart + PC_PAGE_SIZE < f->ei->size ? pstart + PC_PAGE_SIZE : f->ei->size;
	uint64_t pos = pstart;
	int rc = 0;

	if (pstart >= f->ei->size) {
		memset(page, 0, PC_PAGE_SIZE);
		return 0;
	}
	*used_partial = false;
	if (ef_inode_is_compressed(f->ei) && !skip_partial) {
		uint32_t n = peek_partial(f, index, page);

		pos += n;
		*used_partial = n != 0;
	}
	while (pos < end) {
		struct ef_map m;
		struct ef_scratch *s;
		uint8_t *out;
		uint64_t stop;

		rc = ef_map(fs, f->ei, pos, &m);
		if (rc)
			return rc;
		if (pos < m.la || pos - m.la >= m.llen)
			return ef_corrupt(fs, f->ei->nid, "extent does not hold offset %llu",
					  (unsigned long long)pos);
		stop = m.la + m.llen < end ? m.la + m.llen : end;
		if (!(m.flags & EF_MAP_MAPPED) || !(m.flags & (EF_MAP_ENCODED | EF_MAP_FRAGMENT))) {
			rc = fill_flat(f, &m, index, page, pos, end);
			if (rc)
				return rc;
			pos = stop;
			continue;
		}
		if (m.llen > EF_MAX_LLEN)
			return ef_corrupt(fs, f->ei->nid, "extent of %llu bytes",
					  (unsigned long long)m.llen);
		s = ef_scratch_get();
		if (!s)
			return -ENOMEM;
		/* the thread's reusable output buffer: no allocation per extent */
		rc = ef_scratch_reserve(&s->out, &s->out_cap, m.llen);
		if (!rc)
			rc = ef_decode_extent(fs, f->ei, &m, s->out, s);
		if (!rc) {
			out = s->out;
			memcpy(page + (pos - pstart), out + (pos - m.la), stop - pos);
			keep_pages(f, &m, out, index);
		}
		ef_scratch_put(s);
		if (rc)
			return rc;
		pos = stop;
	}
	if (end - pstart < PC_PAGE_SIZE)
		memset(page + (end - pstart), 0, PC_PAGE_SIZE - (end - pstart));
	return 0;
}

/* Copy page @index of the hash pass's private object, if held complete. */
static bool copy_held(struct fill_ctx *f, uint64_t index, uint8_t *page)
{
	uint32_t n = tail_len(f->ei);

	if (!is_tail(f, index))
		return pc_peek_complete(f->cache, f->rd->copy_from, index, page);
	if (tl_peek(f->tails, f->rd->copy_from, 0, n, page))
		return false;
	memset(page + n, 0, PC_PAGE_SIZE - n);
	return true;
}

static int fill_page(void *user, uint64_t index, void *pagebuf)
{
	struct fill_ctx *f = user;
	const struct page_proof *pp = f->rd->proof;
	bool used_partial = false;
	int rc;

	/* the hash pass copies what its file's private object holds already */
	if (f->rd->copy_from && copy_held(f, index, pagebuf))
		return 0;
	if (f->rd->cache_only)
		return -EAGAIN;
	rc = fill_page_once(f, index, pagebuf, false, &used_partial);
	if (rc || !pp || f->rd->failed) {
		rc = rc ? rc : f->rd->failed ? -ESHARE_EPROOF : 0;
		f->rd->fill_failed = rc != 0;
		return rc;
	}
	if (page_proof_check(pp, index, pagebuf, page_len(f->ei, index)))
		return 0;
	if (used_partial) {
		/* the prefix held partial may be another member's: decode it all */
		rc = fill_page_once(f, index, pagebuf, true, &used_partial);
		if (rc) {
			f->rd->fill_failed = true;
			return rc;
		}
		if (!f->rd->failed && page_proof_check(pp, index, pagebuf, page_len(f->ei, index)))
			return 0;
	}
	f->rd->failed = true;
	f->rd->fill_failed = true;
	return -ESHARE_EPROOF;
}

/*
 * Read @len bytes at @off of the tail: from the store, or filled as its
 * page (checked against the proof as any page) and then stored.
 */
static int read_tail(struct fill_ctx *f, uint32_t off, uint32_t len, uint8_t *dst)
{
	uint8_t page[PC_PAGE_SIZE];
	struct tl_flight *flight;
	int rc;

	/* single flight: of the readers that miss it at once, one fills it */
	rc = tl_read_or_fill(f->tails, f->obj, off, len, dst, &flight);
	if (rc != -ENOENT)
		return rc;
	rc = fill_page(f, f->ei->size >> PC_PAGE_SHIFT, page);
	if (!rc)
		tl_put(f->tails, f->obj, page, tail_len(f->ei));
	tl_fill_done(f->tails, f->obj, flight);
	if (rc)
		return rc < 0 ? rc : -EIO;
	memcpy(dst, page + off, len);
	return 0;
}

int readpath_read(struct pc_cache *cache, struct tl_store *tails, struct ef_fs *fs,
		  struct ef_inode *ei, struct read_ctx *rd, void *buf, size_t len, uint64_t off)
{
	struct fill_ctx f = { cache, tails, fs, ei, rd->obj, rd };
	uint64_t tstart = ei->size - tail_len(ei);
	size_t head;
	int rc;

	if (!tails || !tail_len(ei) || off + len <= tstart)
		return pc_read_range(cache, rd->obj, off, len, buf, fill_page, &f);
	head = off < tstart ? (size_t)(tstart - off) : 0;
	if (head) {
		rc = pc_read_range(cache, rd->obj, off, head, buf, fill_page, &f);
		if (rc)
			return rc;
	}
	return read_tail(&f, (uint32_t)(off + head - tstart), (uint32_t)(len - head),
			 (uint8_t *)buf + head);
}

/*
 * Reads that will not be repeated (ESHARE_ADVICE_NOREUSE) leave the data
 * cache alone: flat extents are read straight into the caller's buffer,
 * and a compressed extent is decoded into a window of the calling thread
 * that the next reads of the same extent use again.  The window is known
 * by (filesystem id, nid, extent): filesystem ids are never reused, so a
 * window cannot outlive its image and be taken for another's.
 */
struct noreuse_window {
	uint8_t *buf;
	size_t cap;
	uint64_t fs_id, nid, la, llen; /* what buf holds; llen 0: nothing */
};

static pthread_once_t window_once = PTHREAD_ONCE_INIT;
static pthread_key_t window_key;
static bool window_ready;

static void window_free(void *p)
{
	struct noreuse_window *w = p;

	free(w->buf);
	free(w);
}

static void window_init(void)
{
	window_ready = !pthread_key_create(&window_key, window_free);
}

static struct noreuse_window *window_get(void)
{
	struct noreuse_window *w;

	pthread_once(&window_once, window_init);
	if (!window_ready)
		return NULL;
	w = pthread_getspecific(window_key);
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (w && pthread_setspecific(window_key, w)) {
			free(w);
			w = NULL;
		}
	}
	return w;
}

/* The decoded bytes of compressed extent @m of @ei, from the window or decoded into it. */
static int window_extent(struct ef_fs *fs, struct ef_inode *ei, const struct ef_map *m,
			 const uint8_t **data)
{
	struct noreuse_window *w = window_get();
	struct ef_scratch *s;
	int rc;

	if (!w)
		return -ENOMEM;
	if (w->llen && w->fs_id == fs->id && w->nid == ei->nid && w->la == m->la &&
	    w->llen == m->llen) {
		*data = w->buf;
		return 0;
	}
	w->llen = 0;
	rc = ef_scratch_reserve(&w->buf, &w->cap, m->llen);
	if (rc)
		return rc;
	s = ef_scratch_get();
	if (!s)
		return -ENOMEM;
	rc = ef_decode_extent(fs, ei, m, w->buf, s);
	ef_scratch_put(s);
	if (rc)
		return rc;
	*w = (struct noreuse_window){ w->buf, w->cap, fs->id, ei->nid, m->la, m->llen };
	*data = w->buf;
	return 0;
}

int readpath_read_uncached(struct ef_fs *fs, struct ef_inode *ei, void *buf, size_t len,
			   uint64_t off)
{
	uint8_t *d = buf;

	while (len) {
		struct ef_map m;
		const uint8_t *data;
		uint64_t stop;
		size_t n;
		int rc;

		rc = ef_map(fs, ei, off, &m);
		if (rc)
			return rc;
		if (off < m.la || off - m.la >= m.llen)
			return ef_corrupt(fs, ei->nid, "extent does not hold offset %llu",
					  (unsigned long long)off);
		stop = m.la + m.llen < off + len ? m.la + m.llen : off + len;
		n = (size_t)(stop - off);
		if (!(m.flags & EF_MAP_MAPPED)) {
			memset(d, 0, n);
		} else if (!(m.flags & (EF_MAP_ENCODED | EF_MAP_FRAGMENT))) {
			/* raw bytes: inline in the metadata, or in a data block */
			if (m.flags & EF_MAP_META)
				rc = ef_read_metadata(fs, ei->in_metabox, m.pa + (off - m.la), d, n);
			else
				rc = ef_read_device_raw(fs, m.dev, m.pa + (off - m.la), d, n);
		} else if (m.llen > EF_MAX_LLEN) {
			rc = ef_corrupt(fs, ei->nid, "extent of %llu bytes",
					(unsigned long long)m.llen);
		} else {
			rc = window_extent(fs, ei, &m, &data);
			if (!rc)
				memcpy(d, data + (off - m.la), n);
		}
		if (rc)
			return rc;
		d += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Pages read and checked at once by readpath_read_own(). */
#define OWN_CHUNK (16u * PC_PAGE_SIZE)

int readpath_read_own(struct ef_fs *fs, struct ef_inode *ei, struct read_ctx *rd, void *buf,
		      size_t len, uint64_t off)
{
	const struct page_proof *pp = rd->proof;
	uint8_t *d = buf, *tmp;
	uint64_t pos, end;
	int rc = 0;

	if (!pp)
		return readpath_read_uncached(fs, ei, buf, len, off);
	tmp = malloc(OWN_CHUNK);
	if (!tmp)
		return -ENOMEM;
	/* whole pages, each checked as a fill's would be, then the asked part copied */
	pos = off & ~(uint64_t)(PC_PAGE_SIZE - 1);
	end = off + len;
	while (pos < end) {
		/* up to OWN_CHUNK, to the end of the page holding the last byte asked */
		uint64_t cend = pos + OWN_CHUNK, from = pos > off ? pos : off, to;

		if (cend > end)
			cend = ((end - 1) | (PC_PAGE_SIZE - 1)) + 1;
		if (cend > ei->size)
			cend = ei->size;
		to = cend < end ? cend : end;
		rc = readpath_read_uncached(fs, ei, tmp, (size_t)(cend - pos), pos);
		for (uint64_t p = pos; !rc && p < cend; p += PC_PAGE_SIZE) {
			uint64_t index = p >> PC_PAGE_SHIFT;

			if (!page_proof_check(pp, index, tmp + (p - pos), page_len(ei, index))) {
				rd->failed = true;
				rc = -ESHARE_EPROOF;
			}
		}
		if (rc)
			break;
		memcpy(d + (from - off), tmp + (from - pos), (size_t)(to - from));
		pos = cend;
	}
	free(tmp);
	return rc;
}
