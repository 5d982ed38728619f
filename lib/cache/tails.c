// SPDX-License-Identifier: MIT
/*
 * lib/cache/tails.c: tails packed into page-cache pages (see tails.h).
 *
 * Layout.  Objects are spread over shards by id; a shard has its mutex,
 * a chained table of records by object id, the open page it packs into,
 * the list of its packed pages and a few partial prefixes.  A record is
 * one or two segments (a tail may cross from one page into the next); a
 * page lists the segments it holds, so that dropping the page (the cache
 * evicted it) or moving its records (too many dead bytes) finds them.
 *
 * Reads.  Segments in the open page are copied under the shard lock;
 * segments in packed pages with pc_read() after it is dropped, which pins
 * the page while copying.  A packed page the cache no longer has makes
 * that read fail (its fill refuses): the read is a miss, and the page's
 * records are forgotten.  Those counts are the cache's, on pages of the
 * store's own objects; tl_stats reports them so that a caller can tell
 * the store's reads from its own.
 *
 * Space.  A packed page counts its live bytes; one with more than
 * TL_DEAD_MAX of them dead waits on the clean lists, one list per eighth
 * of a page of live bytes.  When the dead bytes of a shard's packed pages
 * pass 1/TL_DEAD_SHARE of them, the emptiest waiting pages have their live
 * records copied to the open page (from the cache, or forgotten if it
 * evicted the page) and are dropped: moving few bytes frees a page.  A
 * drop that is one of a run (tl_drop_lazy(): an image detached) moves only
 * pages left nearly empty, since a page whose records all go in the run is
 * freed with nothing moved.  At most TL_CLEAN_STEP pages are moved per
 * call, so a call's work stays bounded.  Pages the cache evicted unseen are found by
 * a sweep when a shard's packed pages double.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cache/tails.h"

#define TL_MAX_SHARDS 16u
#define TL_SHARD_BUDGET_PAGES 256u /* a shard per 256 pages of budget, at least one */
#define TL_PARTIALS 2u             /* partial prefixes per shard */
#define TL_DEAD_MAX (PC_PAGE_SIZE / 32)
#define TL_DEAD_SHARE 64u
#define TL_BUCKETS 8u
#define TL_CLEAN_STEP 8u
#define TL_SWEEP_MIN 64u
#define TL_TABLE_MIN 64u

struct tl_page;
struct tl_rec;

/* Bytes [off, off + len) of a page, holding part (or all) of a record. */
struct tl_seg {
	struct tl_page *page;
	struct tl_seg *pnext, **pprev; /* the page's segments */
	struct tl_rec *rec;
	uint16_t off, len;
};

struct tl_rec {
	struct tl_rec *hnext;
	uint64_t obj;
	uint32_t len;
	uint32_t nseg;
	struct tl_seg seg[2];
};

struct tl_page {
	struct tl_page *next, *prev; /* the shard's packed pages */
	struct tl_page *cnext, *cprev; /* its clean list */
	struct tl_seg *segs;
	uint64_t pcobj; /* its page-cache object once packed; 0 while open */
	uint32_t live;  /* bytes of its segments */
	uint8_t bucket; /* which clean list, while queued */
	bool queued;    /* on a clean list */
	bool dying;     /* being dropped: no queueing */
};

struct tl_partial {
	uint64_t obj; /* 0: free slot */
	uint32_t len;
	uint8_t *data;
};

struct tl_shard {
	pthread_mutex_t lock;
	struct tl_rec **tab;
	size_t cap, n;
	struct tl_page *open; /* the page being packed */
	uint8_t *open_buf;    /* its bytes */
	uint32_t open_used;
	struct tl_page packed; /* list head */
	uint64_t npacked, sweep_at;
	uint64_t packed_live; /* live bytes of the packed pages */
	bool sweeping; /* pages are not freed but queued meanwhile */
	struct tl_page *clean[TL_BUCKETS]; /* by live bytes, emptiest first */
	uint8_t *scratch[2]; /* pages for moving records */
	struct tl_partial partial[TL_PARTIALS];
	unsigned partial_next;
	uint64_t bytes, partial_bytes;
	struct tl_flight *flights; /* tails being filled (tl_read_or_fill) */
	atomic_uint_least64_t hits, misses, fills, pc_hits, pc_misses, pc_fills;
};

/* A tail one thread fills while others wait for it. */
struct tl_flight {
	struct tl_flight *next;
	uint64_t obj;
	pthread_cond_t cv;
	unsigned waiters;
	bool done;
};

struct tl_store {
	struct pc_cache *c;
	unsigned nshards;
	struct tl_shard sh[];
};

static uint64_t tl_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static struct tl_shard *shard_of(struct tl_store *t, uint64_t obj)
{
	return &t->sh[tl_mix(obj) & (t->nshards - 1)];
}

static void cnt_add(atomic_uint_least64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* ---- the index ---- */

static struct tl_rec **rec_slot(struct tl_shard *s, uint64_t obj)
{
	struct tl_rec **pp = &s->tab[tl_mix(obj ^ 0x5bd1e995u) & (s->cap - 1)];

	while (*pp && (*pp)->obj != obj)
		pp = &(*pp)->hnext;
	return pp;
}

static struct tl_rec *rec_find(struct tl_shard *s, uint64_t obj)
{
	return *rec_slot(s, obj);
}

static int tab_grow(struct tl_shard *s)
{
	size_t cap = s->cap * 2;
	struct tl_rec **t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		for (struct tl_rec *r = s->tab[i], *n; r; r = n) {
			struct tl_rec **pp = &t[tl_mix(r->obj ^ 0x5bd1e995u) & (cap - 1)];

			n = r->hnext;
			r->hnext = *pp;
			*pp = r;
		}
	}
	free(s->tab);
	s->tab = t;
	s->cap = cap;
	return 0;
}

/* ---- pages ---- */

static void seg_link(struct tl_seg *g, struct tl_page *p)
{
	g->page = p;
	g->pnext = p->segs;
	if (p->segs)
		p->segs->pprev = &g->pnext;
	g->pprev = &p->segs;
	p->segs = g;
	p->live += g->len;
}

static void clean_unlink(struct tl_shard *s, struct tl_page *p)
{
	if (p->cprev)
		p->cprev->cnext = p->cnext;
	else
		s->clean[p->bucket] = p->cnext;
	if (p->cnext)
		p->cnext->cprev = p->cprev;
	p->cnext = p->cprev = NULL;
	p->queued = false;
}

/* Put @p on the clean list of its live bytes (it may be on another). */
static void clean_link(struct tl_shard *s, struct tl_page *p)
{
	uint8_t b = (uint8_t)(p->live / (PC_PAGE_SIZE / TL_BUCKETS));

	if (p->queued && p->bucket == b)
		return;
	if (p->queued)
		clean_unlink(s, p);
	p->bucket = b;
	p->cprev = NULL;
	p->cnext = s->clean[b];
	if (p->cnext)
		p->cnext->cprev = p;
	s->clean[b] = p;
	p->queued = true;
}

static void page_free(struct tl_store *t, struct tl_shard *s, struct tl_page *p)
{
	if (p->queued)
		clean_unlink(s, p);
	s->packed_live -= p->live;
	p->prev->next = p->next;
	p->next->prev = p->prev;
	s->npacked--;
	pc_object_drop(t->c, p->pcobj);
	free(p);
}

/* A packed page lost @g: free it when empty, queue it when too sparse. */
static void page_lost(struct tl_store *t, struct tl_shard *s, struct tl_page *p)
{
	if (p == s->open && !p->live) {
		s->open_used = 0; /* nothing left in it: pack from its start again */
		return;
	}
	if (!p->pcobj || p->dying)
		return;
	if (!p->live && !s->sweeping) {
		page_free(t, s, p);
		return;
	}
	if (PC_PAGE_SIZE - p->live > TL_DEAD_MAX)
		clean_link(s, p);
}

/* Unlink and free @r (it must be in the index). */
static void rec_remove(struct tl_store *t, struct tl_shard *s, struct tl_rec *r)
{
	struct tl_rec **pp = rec_slot(s, r->obj);

	*pp = r->hnext;
	s->n--;
	s->bytes -= r->len;
	for (uint32_t i = 0; i < r->nseg; i++) {
		struct tl_seg *g = &r->seg[i];

		*g->pprev = g->pnext;
		if (g->pnext)
			g->pnext->pprev = g->pprev;
		g->page->live -= g->len;
		if (g->page->pcobj)
			s->packed_live -= g->len;
	}
	for (uint32_t i = 0; i < r->nseg; i++)
		page_lost(t, s, r->seg[i].page);
	free(r);
}

/* Forget every record with bytes in packed page @p, and @p itself. */
static void page_kill(struct tl_store *t, struct tl_shard *s, struct tl_page *p)
{
	p->dying = true;
	while (p->segs)
		rec_remove(t, s, p->segs->rec);
	page_free(t, s, p);
}

static struct tl_page *page_new(void)
{
	return calloc(1, sizeof(struct tl_page));
}

/*
 * Hand the full open page to the cache and open @next.  -ENOMEM if the
 * cache would not take it: its records are forgotten.
 */
static int open_seal(struct tl_store *t, struct tl_shard *s, struct tl_page *next)
{
	struct tl_page *p = s->open;

	s->open = next;
	s->open_used = 0;
	if (!p->live) {
		free(p);
		return 0;
	}
	p->pcobj = pc_object_new(t->c, PC_CLASS_DATA);
	p->next = &s->packed;
	p->prev = s->packed.prev;
	s->packed.prev->next = p;
	s->packed.prev = p;
	s->npacked++;
	s->packed_live += p->live;
	if (pc_put(t->c, p->pcobj, 0, s->open_buf, PC_PAGE_SIZE, true)) {
		page_kill(t, s, p);
		return -ENOMEM;
	}
	page_lost(t, s, p); /* queued if sparse already */
	return 0;
}

/* Pack @len bytes (0 < len < PC_PAGE_SIZE) as the tail of @obj. */
static int rec_add(struct tl_store *t, struct tl_shard *s, uint64_t obj, const uint8_t *data,
		   uint32_t len)
{
	uint32_t room = PC_PAGE_SIZE - s->open_used;
	uint32_t n = len < room ? len : room;
	struct tl_page *next = NULL;
	struct tl_rec *r, **pp;

	if (s->n + 1 > s->cap && tab_grow(s))
		return -ENOMEM;
	if (len >= room && !(next = page_new()))
		return -ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r) {
		free(next);
		return -ENOMEM;
	}
	r->obj = obj;
	r->len = len;
	pp = rec_slot(s, obj);
	r->hnext = *pp;
	*pp = r;
	s->n++;
	s->bytes += len;
	/* the first segment fills the open page's room, or is the whole tail */
	memcpy(s->open_buf + s->open_used, data, n);
	r->seg[0] = (struct tl_seg){ .rec = r, .off = (uint16_t)s->open_used, .len = (uint16_t)n };
	r->nseg = 1;
	seg_link(&r->seg[0], s->open);
	s->open_used += n;
	if (next && open_seal(t, s, next))
		return -ENOMEM; /* r went with the page */
	if (n < len) {
		memcpy(s->open_buf, data + n, len - n);
		r->seg[1] = (struct tl_seg){ .rec = r, .off = 0, .len = (uint16_t)(len - n) };
		r->nseg = 2;
		seg_link(&r->seg[1], s->open);
		s->open_used = len - n;
	}
	return 0;
}

static int fill_gone(void *user, uint64_t index, void *page)
{
	struct tl_shard *s = user;

	(void)index;
	(void)page;
	cnt_add(&s->pc_fills, 1);
	return -ENOENT;
}

/*
 * Copy record @r's bytes into @dst from packed page copies: @pbuf holds
 * the page @pp.  0, or -ENOENT if another packed page is gone.
 */
static int rec_copy(struct tl_store *t, struct tl_shard *s, const struct tl_rec *r,
		    const struct tl_page *pp, const uint8_t *pbuf, uint8_t *other, uint8_t *dst)
{
	uint32_t done = 0;

	for (uint32_t i = 0; i < r->nseg; i++) {
		const struct tl_seg *g = &r->seg[i];

		if (g->page == pp) {
			memcpy(dst + done, pbuf + g->off, g->len);
		} else if (!g->page->pcobj) {
			memcpy(dst + done, s->open_buf + g->off, g->len);
		} else {
			if (!pc_peek_complete(t->c, g->page->pcobj, 0, other))
				return -ENOENT;
			memcpy(dst + done, other + g->off, g->len);
		}
		done += g->len;
	}
	return 0;
}

/* Move the live records of packed page @p to the open page, and drop it. */
static void page_clean(struct tl_store *t, struct tl_shard *s, struct tl_page *p)
{
	uint8_t *pbuf = s->scratch[0], *other = s->scratch[1];
	uint8_t rec[PC_PAGE_SIZE];

	if (!p->live || !pc_peek_complete(t->c, p->pcobj, 0, pbuf)) {
		page_kill(t, s, p);
		return;
	}
	p->dying = true;
	while (p->segs) {
		struct tl_rec *r = p->segs->rec;
		uint64_t obj = r->obj;
		uint32_t len = r->len;
		int rc = rec_copy(t, s, r, p, pbuf, other, rec);

		rec_remove(t, s, r);
		if (!rc)
			rec_add(t, s, obj, rec, len); /* on -ENOMEM the tail is just gone */
	}
	page_free(t, s, p);
}

/* The emptiest page waiting to be moved with live bytes under @nb eighths, or NULL. */
static struct tl_page *clean_first(struct tl_shard *s, unsigned nb)
{
	for (unsigned b = 0; b < nb; b++)
		if (s->clean[b])
			return s->clean[b];
	return NULL;
}

/* Whether the dead bytes of the shard's packed pages are worth moving pages for. */
static bool too_sparse(const struct tl_shard *s)
{
	uint64_t dead = s->npacked * PC_PAGE_SIZE - s->packed_live;

	return dead > TL_DEAD_MAX && dead > s->npacked * PC_PAGE_SIZE / TL_DEAD_SHARE;
}

/*
 * Bounded housekeeping after a change: move queued pages whose live bytes
 * are under @nb eighths of a page, sweep evicted ones.
 */
static void shard_tidy(struct tl_store *t, struct tl_shard *s, unsigned nb)
{
	struct tl_page *p;

	for (unsigned k = 0; k < TL_CLEAN_STEP && too_sparse(s) && (p = clean_first(s, nb)); k++) {
		clean_unlink(s, p);
		page_clean(t, s, p);
	}
	if (s->npacked >= s->sweep_at) {
		s->sweeping = true;
		for (struct tl_page *q = s->packed.next, *n; q != &s->packed; q = n) {
			n = q->next;
			if (!pc_contains(t->c, q->pcobj, 0))
				page_kill(t, s, q);
		}
		s->sweeping = false;
		s->sweep_at = s->npacked * 2 > TL_SWEEP_MIN ? s->npacked * 2 : TL_SWEEP_MIN;
	}
}

/* ---- the interface ---- */

int tl_create(struct tl_store **out, struct pc_cache *c)
{
	struct pc_stats pst;
	struct tl_store *t;
	unsigned n = 1;
	bool ok = true;

	pc_get_stats(c, &pst);
	while (n < TL_MAX_SHARDS &&
	       pst.budget / PC_PAGE_SIZE >= (uint64_t)2 * n * TL_SHARD_BUDGET_PAGES)
		n *= 2;
	t = calloc(1, sizeof(*t) + n * sizeof(t->sh[0]));
	if (!t)
		return -ENOMEM;
	t->c = c;
	for (unsigned i = 0; i < n; i++) {
		struct tl_shard *s = &t->sh[i];

		if (pthread_mutex_init(&s->lock, NULL))
			break;
		t->nshards = i + 1;
		s->packed.next = s->packed.prev = &s->packed;
		s->sweep_at = TL_SWEEP_MIN;
		s->cap = TL_TABLE_MIN;
		s->tab = calloc(s->cap, sizeof(*s->tab));
		s->open = page_new();
		s->open_buf = malloc(PC_PAGE_SIZE);
		s->scratch[0] = malloc(PC_PAGE_SIZE);
		s->scratch[1] = malloc(PC_PAGE_SIZE);
		if (!s->tab || !s->open || !s->open_buf || !s->scratch[0] || !s->scratch[1]) {
			t->nshards = i + 1;
			ok = false;
			break;
		}
	}
	if (!ok || t->nshards != n) {
		tl_destroy(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void tl_destroy(struct tl_store *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->nshards; i++) {
		struct tl_shard *s = &t->sh[i];

		for (size_t k = 0; s->tab && k < s->cap; k++) {
			for (struct tl_rec *r = s->tab[k], *n; r; r = n) {
				n = r->hnext;
				free(r);
			}
		}
		for (struct tl_page *p = s->packed.next, *n; p != &s->packed; p = n) {
			n = p->next;
			pc_object_drop(t->c, p->pcobj);
			free(p);
		}
		for (unsigned k = 0; k < TL_PARTIALS; k++)
			free(s->partial[k].data);
		free(s->tab);
		free(s->open);
		free(s->open_buf);
		free(s->scratch[0]);
		free(s->scratch[1]);
		pthread_mutex_destroy(&s->lock);
	}
	free(t);
}

/* A packed segment to copy once the shard lock is dropped. */
struct tl_copy {
	uint64_t pcobj;
	uint32_t off, len;
	uint8_t *dst;
};

static int tl_copy(struct tl_store *t, uint64_t obj, uint32_t off, uint32_t len, void *dst,
		   bool count)
{
	struct tl_shard *s = shard_of(t, obj);
	struct tl_copy cp[2];
	unsigned ncp = 0;
	struct tl_rec *r;
	uint32_t pos = 0;

	pthread_mutex_lock(&s->lock);
	r = rec_find(s, obj);
	if (!r) {
		pthread_mutex_unlock(&s->lock);
		if (count)
			cnt_add(&s->misses, 1);
		return -ENOENT;
	}
	if (off > r->len || len > r->len - off) {
		pthread_mutex_unlock(&s->lock);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < r->nseg; pos += r->seg[i].len, i++) {
		const struct tl_seg *g = &r->seg[i];
		uint32_t a = off > pos ? off : pos;
		uint32_t b = off + len < pos + g->len ? off + len : pos + g->len;

		if (a >= b)
			continue;
		if (!g->page->pcobj)
			memcpy((uint8_t *)dst + (a - off), s->open_buf + g->off + (a - pos), b - a);
		else
			cp[ncp++] = (struct tl_copy){ g->page->pcobj, g->off + (a - pos), b - a,
						      (uint8_t *)dst + (a - off) };
	}
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < ncp; i++) {
		bool hit = false;

		if (!pc_read(t->c, cp[i].pcobj, 0, cp[i].off, cp[i].len, cp[i].dst, fill_gone, s,
			     &hit)) {
			cnt_add(&s->pc_hits, 1);
			continue;
		}
		cnt_add(&s->pc_misses, 1);
		/* the cache let the page go: so are its records */
		pthread_mutex_lock(&s->lock);
		r = rec_find(s, obj);
		for (uint32_t k = 0; r && k < r->nseg; k++) {
			if (r->seg[k].page->pcobj == cp[i].pcobj) {
				page_kill(t, s, r->seg[k].page);
				break;
			}
		}
		shard_tidy(t, s, TL_BUCKETS);
		pthread_mutex_unlock(&s->lock);
		if (count)
			cnt_add(&s->misses, 1);
		return -ENOENT;
	}
	if (count)
		cnt_add(&s->hits, 1);
	return 0;
}

int tl_read(struct tl_store *t, uint64_t obj, uint32_t off, uint32_t len, void *dst)
{
	return tl_copy(t, obj, off, len, dst, true);
}

int tl_peek(struct tl_store *t, uint64_t obj, uint32_t off, uint32_t len, void *dst)
{
	return tl_copy(t, obj, off, len, dst, false);
}

static struct tl_flight *flight_find(struct tl_shard *s, uint64_t obj)
{
	struct tl_flight *fl = s->flights;

	while (fl && fl->obj != obj)
		fl = fl->next;
	return fl;
}

int tl_read_or_fill(struct tl_store *t, uint64_t obj, uint32_t off, uint32_t len, void *dst,
		    struct tl_flight **flight)
{
	struct tl_shard *s = shard_of(t, obj);
	bool missed = false;
	int rc;

	*flight = NULL;
	for (;;) {
		struct tl_flight *fl;

		rc = tl_copy(t, obj, off, len, dst, false);
		if (rc != -ENOENT)
			break;
		missed = true;
		pthread_mutex_lock(&s->lock);
		if (rec_find(s, obj)) {
			/* put meanwhile (or its packed page just went): read again */
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		fl = flight_find(s, obj);
		if (!fl) {
			/* this thread fills it; without memory for a flight, unseen */
			fl = calloc(1, sizeof(*fl));
			if (fl && !pthread_cond_init(&fl->cv, NULL)) {
				fl->obj = obj;
				fl->next = s->flights;
				s->flights = fl;
				*flight = fl;
			} else {
				free(fl);
			}
			pthread_mutex_unlock(&s->lock);
			cnt_add(&s->fills, 1);
			break;
		}
		fl->waiters++;
		while (!fl->done)
			pthread_cond_wait(&fl->cv, &s->lock);
		if (!--fl->waiters) {
			pthread_cond_destroy(&fl->cv);
			free(fl);
		}
		pthread_mutex_unlock(&s->lock);
		/* filled, or the filler failed: read again, or fill in its turn */
	}
	if (!rc || rc == -ENOENT)
		cnt_add(missed ? &s->misses : &s->hits, 1);
	return rc;
}

void tl_fill_done(struct tl_store *t, uint64_t obj, struct tl_flight *fl)
{
	struct tl_shard *s = shard_of(t, obj);

	if (!fl)
		return;
	pthread_mutex_lock(&s->lock);
	for (struct tl_flight **pp = &s->flights; *pp; pp = &(*pp)->next) {
		if (*pp == fl) {
			*pp = fl->next;
			break;
		}
	}
	fl->done = true;
	if (fl->waiters) {
		pthread_cond_broadcast(&fl->cv);
	} else {
		pthread_cond_destroy(&fl->cv);
		free(fl);
	}
	pthread_mutex_unlock(&s->lock);
}

static void partial_forget(struct tl_shard *s, uint64_t obj)
{
	for (unsigned k = 0; k < TL_PARTIALS; k++) {
		struct tl_partial *q = &s->partial[k];

		if (q->obj == obj) {
			s->partial_bytes -= q->len;
			free(q->data);
			*q = (struct tl_partial){ 0 };
		}
	}
}

/*
 * Whether a put for @obj is refused: it is not a live object of the cache.
 * Asked under the shard lock, which tl_drop() takes after the cache
 * dropped the object: a fill that ends after the drop leaves nothing.
 */
static bool dropped(struct tl_store *t, uint64_t obj)
{
	return !pc_object_live(t->c, obj);
}

int tl_put(struct tl_store *t, uint64_t obj, const void *data, uint32_t len)
{
	struct tl_shard *s = shard_of(t, obj);
	int rc = 0;

	if (!len || len >= PC_PAGE_SIZE || !data || !obj)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	partial_forget(s, obj);
	if (!rec_find(s, obj) && !dropped(t, obj))
		rc = rec_add(t, s, obj, data, len);
	shard_tidy(t, s, TL_BUCKETS);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int tl_put_partial(struct tl_store *t, uint64_t obj, const void *data, uint32_t len)
{
	struct tl_shard *s = shard_of(t, obj);
	struct tl_partial *q = NULL;
	uint8_t *copy;

	if (!len || len >= PC_PAGE_SIZE || !data || !obj)
		return -EINVAL;
	copy = malloc(len);
	if (!copy)
		return 0; /* not kept: the fill decodes it again */
	memcpy(copy, data, len);
	pthread_mutex_lock(&s->lock);
	if (rec_find(s, obj) || dropped(t, obj)) {
		pthread_mutex_unlock(&s->lock);
		free(copy);
		return 0;
	}
	for (unsigned k = 0; k < TL_PARTIALS; k++)
		if (s->partial[k].obj == obj)
			q = &s->partial[k];
	if (q && q->len >= len) {
		pthread_mutex_unlock(&s->lock);
		free(copy);
		return 0;
	}
	if (!q) {
		q = &s->partial[s->partial_next];
		s->partial_next = (s->partial_next + 1) % TL_PARTIALS;
	}
	s->partial_bytes -= q->len;
	free(q->data);
	*q = (struct tl_partial){ obj, len, copy };
	s->partial_bytes += len;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

uint32_t tl_peek_partial(struct tl_store *t, uint64_t obj, void *buf)
{
	struct tl_shard *s = shard_of(t, obj);
	uint32_t len = 0;

	pthread_mutex_lock(&s->lock);
	for (unsigned k = 0; k < TL_PARTIALS; k++) {
		if (s->partial[k].obj == obj) {
			len = s->partial[k].len;
			memcpy(buf, s->partial[k].data, len);
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return len;
}

bool tl_contains(struct tl_store *t, uint64_t obj)
{
	struct tl_shard *s = shard_of(t, obj);
	bool held;

	pthread_mutex_lock(&s->lock);
	held = rec_find(s, obj) != NULL;
	pthread_mutex_unlock(&s->lock);
	return held;
}

/* Forget @obj's tail, then tidy pages under @nb eighths full. */
static void drop(struct tl_store *t, uint64_t obj, unsigned nb)
{
	struct tl_shard *s = shard_of(t, obj);
	struct tl_rec *r;

	pthread_mutex_lock(&s->lock);
	partial_forget(s, obj);
	r = rec_find(s, obj);
	if (r)
		rec_remove(t, s, r);
	shard_tidy(t, s, nb);
	pthread_mutex_unlock(&s->lock);
}

void tl_drop(struct tl_store *t, uint64_t obj)
{
	drop(t, obj, TL_BUCKETS);
}

void tl_drop_lazy(struct tl_store *t, uint64_t obj)
{
	drop(t, obj, 1);
}

static uint64_t ld(const atomic_uint_least64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void tl_get_stats(struct tl_store *t, struct tl_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < t->nshards; i++) {
		struct tl_shard *s = &t->sh[i];

		pthread_mutex_lock(&s->lock);
		st->tails += s->n;
		st->bytes += s->bytes;
		st->pages += s->npacked;
		st->unpaged += s->open_used + s->partial_bytes;
		pthread_mutex_unlock(&s->lock);
		st->hits += ld(&s->hits);
		st->misses += ld(&s->misses);
		st->fills += ld(&s->fills);
		st->pc_hits += ld(&s->pc_hits);
		st->pc_misses += ld(&s->pc_misses);
		st->pc_fills += ld(&s->pc_fills);
	}
}
