// SPDX-License-Identifier: MIT
/*
 * The read path: pages of an inode's data object come from the page cache;
 * a miss maps the page's range and fills it.  Flat extents are read
 * straight into pages, with some read-ahead of the same extent.  A
 * compressed extent is decoded once, and every page it produces is kept:
 * pages it covers whole are stored complete, the page where it ends is
 * stored partial (its valid prefix), to be completed by the next extent's
 * decode instead of decoding this one again.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

/* Flat read-ahead: pages of the same extent read in one backend call. */
#define READAHEAD_PAGES 32u

struct fill_ctx {
	eshare_image *img;
	struct ef_inode *ei;
	uint64_t obj;
};

static struct pc_cache *img_cache(eshare_image *img)
{
	return img->domain->cache;
}

/* Flat (or hole) extent: fill @page at @pos, and read ahead in the extent. */
static int fill_flat(struct fill_ctx *f, const struct ef_map *m, uint64_t index, uint8_t *page,
		     uint64_t pos, uint64_t end)
{
	struct ef_fs *fs = f->img->fs;
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
		return ef_meta_read(fs, f->ei->in_metabox, m->pa + (pos - m->la),
				    page + (pos - pstart), stop - pos);
	/* read ahead whole pages of this extent that follow, if not cached */
	ra_end = stop;
	if (stop == end && pos == pstart && extent_end > end) {
		uint64_t limit = extent_end < f->ei->size ? extent_end : f->ei->size;
		unsigned k;

		for (k = 1; k < READAHEAD_PAGES; k++) {
			uint64_t q = index + k;

			if ((q << PC_PAGE_SHIFT) >= limit ||
			    pc_contains(img_cache(f->img), f->obj, q))
				break;
		}
		ra_end = (index + k) << PC_PAGE_SHIFT;
		if (ra_end > limit)
			ra_end = limit;
	}
	if (ra_end == stop)
		return ef_read_phys(fs, m->dev, m->pa + (pos - m->la), page + (pos - pstart),
				    stop - pos);
	n = (size_t)(ra_end - pos);
	s = ef_scratch_get();
	if (!s || ef_scratch_reserve(&s->out, &s->out_cap, n)) {
		if (s)
			ef_scratch_put(s);
		return ef_read_phys(fs, m->dev, m->pa + (pos - m->la), page + (pos - pstart),
				    stop - pos);
	}
	buf = s->out;
	rc = ef_read_phys(fs, m->dev, m->pa + (pos - m->la), buf, n);
	if (!rc) {
		memcpy(page, buf, PC_PAGE_SIZE);
		for (uint64_t off = PC_PAGE_SIZE; off < n; off += PC_PAGE_SIZE) {
			uint32_t valid = n - off < PC_PAGE_SIZE ? (uint32_t)(n - off) : PC_PAGE_SIZE;
			bool last = pos + off + valid >= f->ei->size;

			if (valid < PC_PAGE_SIZE && !last)
				break;
			pc_put(img_cache(f->img), f->obj, index + (off >> PC_PAGE_SHIFT), buf + off,
			       valid, true);
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
	struct pc_cache *c = img_cache(f->img);
	uint64_t size = f->ei->size;
	uint64_t first = m->la >> PC_PAGE_SHIFT;
	uint64_t last = (m->la + m->llen - 1) >> PC_PAGE_SHIFT;
	uint8_t tmp[PC_PAGE_SIZE];

	for (uint64_t q = first; q <= last; q++) {
		uint64_t qs = q << PC_PAGE_SHIFT;
		uint64_t qe = qs + PC_PAGE_SIZE < size ? qs + PC_PAGE_SIZE : size;
		uint64_t e = m->la + m->llen < qe ? m->la + m->llen : qe;

		/* pc_put itself skips pages held complete */
		if (q == index)
			continue;
		if (qs >= m->la) {
			pc_put(c, f->obj, q, data + (qs - m->la), (uint32_t)(e - qs), e == qe);
			continue;
		}
		/* the extent starts inside page q: join the prefix held partial */
		if (pc_peek_partial(c, f->obj, q, tmp) >= m->la - qs) {
			memcpy(tmp + (m->la - qs), data, e - m->la);
			pc_put(c, f->obj, q, tmp, (uint32_t)(e - qs), e == qe);
		}
	}
}

static int fill_page(void *user, uint64_t index, void *pagebuf)
{
	struct fill_ctx *f = user;
	struct ef_fs *fs = f->img->fs;
	uint8_t *page = pagebuf;
	uint64_t pstart = index << PC_PAGE_SHIFT;
	uint64_t end = pstart + PC_PAGE_SIZE < f->ei->size ? pstart + PC_PAGE_SIZE : f->ei->size;
	uint64_t pos = pstart;
	int rc = 0;

	if (pstart >= f->ei->size) {
		memset(page, 0, PC_PAGE_SIZE);
		return 0;
	}
	if (ef_inode_is_compressed(f->ei))
		pos += pc_peek_partial(img_cache(f->img), f->obj, index, page);
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

int eshare_cached_read(eshare_image *img, struct ef_inode *ei, uint64_t obj, void *buf,
		       size_t len, uint64_t off)
{
	struct fill_ctx f = { img, ei, obj };

	return pc_read_range(img_cache(img), obj, off, len, buf, fill_page, &f);
}

ssize_t eshare_pread(eshare_inode *ino, void *buf, size_t len, uint64_t off)
{
	eshare_image *img;
	uint64_t obj;
	int rc;

	if (!ino || (!buf && len))
		return -EINVAL;
	if (S_ISDIR(ino->ei.mode))
		return -EISDIR;
	if (!S_ISREG(ino->ei.mode))
		return -EINVAL;
	img = ino->img;
	if (off >= ino->ei.size || !len)
		return 0;
	if (len > ino->ei.size - off)
		len = (size_t)(ino->ei.size - off);
	if (len > (size_t)SSIZE_MAX)
		len = (size_t)SSIZE_MAX & ~(size_t)(PC_PAGE_SIZE - 1);
	rc = eshare_bind(img, &ino->ei, &obj);
	if (rc)
		return rc;
	rc = eshare_cached_read(img, &ino->ei, obj, buf, len, off);
	if (rc)
		return rc;
	counter_add(&img->cnt.logical_bytes, len);
	counter_add(&img->domain->cnt.logical_bytes, len);
	return (ssize_t)len;
}
