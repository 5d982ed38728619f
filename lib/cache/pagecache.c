// SPDX-License-Identifier: MIT
/*
 * lib/cache/pagecache.c: the page cache behind every read.
 *
 * Layout.  Pages live in a hash table split into shards by the hash of
 * (object, index); each shard has its own mutex, its own share of the
 * budget and its own eviction queues, so threads that read different pages
 * rarely meet on a lock.  A shard also keeps, per object, the list of its
 * pages in that shard, so dropping an object costs one lookup per shard plus
 * its pages instead of a walk over the whole table.
 *
 * Eviction is S3-FIFO (Yang et al., SOSP'23): a new page enters a small
 * FIFO (a tenth of the shard).  Leaving it, a page that was hit meanwhile
 * moves to the main FIFO; one that was not is freed and its key remembered
 * in a ghost table.  The main FIFO is a CLOCK: a page at its tail with a
 * non-zero frequency goes round again with one less.  A one-pass scan
 * therefore only churns the small FIFO and leaves the hot pages in the main
 * one alone; a page whose key is still in the ghost table was evicted too
 * early and goes straight to the main FIFO.
 *
 * Lifetime.  p->refs counts one reference for the table and one per pin.  A
 * reader pins under the shard lock and copies after dropping it; unpinning
 * needs no lock, so the count is atomic.  Eviction only unlinks a page and
 * drops the table's reference: an evicted pinned page is freed by its last
 * unpinner.  Everything else about a page (queue links, frequency bits) is
 * only touched under the shard lock and is plain memory.
 *
 * Single flight.  A miss allocates its page first, then registers it on the
 * shard's flight list and fills it with no lock held, so a fill may call
 * pc_put() or pc_read() of other pages.  Concurrent missers of the same key
 * pin that page and sleep on the shard's condition variable.  On success
 * the page goes into the table (unless a complete copy got there first or
 * the object was dropped) and every waiter copies from it, even if it was
 * evicted at once: nobody looks the page up again, so a budget of one page
 * cannot livelock.  On failure the page never enters the table; the waiters
 * start over and one of them becomes the next filler.
 *
 * Objects.  A table of live ids (striped by id, one mutex a stripe) says
 * whether an object exists and gives its class.  pc_object_drop() removes
 * the id first and then empties every shard, so a page inserted after the
 * drop reached its shard finds the id gone and is discarded, and a page
 * inserted before that is removed by the drop.
 *
 * Statistics.  Counters are per shard and only written under the shard
 * lock, so a relaxed load and store updates them (no locked instruction on
 * the hit path); pc_get_stats() sums relaxed loads without taking a lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cache/pagecache.h"

#define PC_MIN_PAGES 4u		/* the budget never goes below this */
#define PC_MAX_SHARDS 64u
#define PC_SHARD_MIN_PAGES 32u	/* split further only while every shard keeps this many */
#define PC_MAX_PAGES ((uint64_t)PC_MAX_SHARDS << 30)	/* keeps a shard's count in 32 bits */
#define PC_MIN_BITS 2
#define PC_MAX_BUCKET_BITS 18	/* longer chains beyond 1 GiB a shard, bounded metadata */
#define PC_MAX_GHOST_BITS 16
#define PC_FREQ_MAX 3		/* two frequency bits, as in S3-FIFO */
#define PC_OBJ_STRIPES 16u
#define PC_CACHELINE 64

enum pc_state {
	PC_FILLING,	/* on the flight list, data being written by the filler */
	PC_FAILED,	/* the fill failed with ->err; never in the table */
	PC_PARTIAL,	/* the first ->valid bytes are known */
	PC_COMPLETE,	/* readable; zeros past ->valid */
};

enum pc_queue_id { PC_Q_NONE, PC_Q_SMALL, PC_Q_MAIN };

struct pc_objent;

struct pc_page {
	struct pc_page *hnext;		/* hash chain; flight list; reap list */
	struct pc_page **hpprev;
	struct pc_page *qnext, *qprev;	/* FIFO links, head = newest */
	struct pc_page *onext, **opprev; /* pages of one object in one shard */
	struct pc_objent *oent;
	uint64_t obj, index, hash;
	pthread_t filler;		/* while PC_FILLING: who fills it */
	atomic_uint refs;
	uint32_t valid;
	int err;
	uint8_t state, queue, freq, cls;
	unsigned char data[PC_PAGE_SIZE];
};

/* The pages one object has in one shard. */
struct pc_objent {
	struct pc_objent *next;
	struct pc_page *pages;
	uint64_t obj;
	unsigned int cls;
};

struct pc_queue {
	struct pc_page *head, *tail;
	uint32_t count;
};

struct pc_ghost {
	uint64_t fp;	/* key hash | 1; 0 = empty */
	uint64_t stamp;	/* value of gclock when it was added */
};

struct pc_counters {
	_Atomic uint64_t hits, misses, fills, evictions;
	_Atomic uint64_t pages[PC_NCLASSES];
};

struct pc_shard {
	alignas(PC_CACHELINE) pthread_mutex_t lock;
	pthread_cond_t done;		/* a fill of this shard ended */
	struct pc_page **buckets;
	struct pc_objent **objs;
	struct pc_ghost *ghost;
	struct pc_page *flights;	/* pages being filled */
	struct pc_queue small, main;
	uint64_t bmask, omask, gmask;
	uint64_t gclock;		/* ghost insertions so far */
	uint32_t npages, cap, small_cap, ghost_cap, nwaiters;
	struct pc_counters st;
};

struct pc_obj {
	struct pc_obj *next;
	uint64_t id;
	unsigned int cls;
};

struct pc_objstripe {
	alignas(PC_CACHELINE) pthread_mutex_t lock;
	struct pc_obj **b;
	size_t mask, n;
};

struct pc_cache {
	struct pc_objstripe objs[PC_OBJ_STRIPES];
	struct pc_shard *shards;
	unsigned int nshards, ninit;
	uint64_t budget;
	alignas(PC_CACHELINE) _Atomic uint64_t next_id;
};

/* murmur3's finaliser: cheap and mixes every input bit into every output bit */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/*
 * Bits of the key hash: the top 6 pick the shard, the low ones the bucket,
 * bits 24.. the ghost slot, so the three stay independent.
 */
static inline uint64_t key_hash(uint64_t obj, uint64_t index)
{
	return mix64(mix64(obj) + index);
}

static inline struct pc_shard *shard_of(struct pc_cache *c, uint64_t h)
{
	return &c->shards[(h >> 58) & (c->nshards - 1)];
}

/* Only the lock holder writes a shard counter: no read-modify-write needed. */
static inline void stat_add(_Atomic uint64_t *ctr, uint64_t n)
{
	atomic_store_explicit(ctr, atomic_load_explicit(ctr, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void page_pin(struct pc_page *p)
{
	/* under the shard lock, and the page holds a reference already */
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

/* Drop a reference; true if it was the last (then the caller frees). */
static inline bool page_release(struct pc_page *p)
{
	return atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1;
}

static inline void page_unpin(struct pc_page *p)
{
	if (page_release(p))
		free(p);
}

static struct pc_page *page_alloc(uint64_t obj, uint64_t index, uint64_t h)
{
	struct pc_page *p = malloc(sizeof(*p));

	if (!p)
		return NULL;
	p->hnext = NULL;
	p->hpprev = NULL;
	p->qnext = p->qprev = NULL;
	p->onext = NULL;
	p->opprev = NULL;
	p->oent = NULL;
	p->obj = obj;
	p->index = index;
	p->hash = h;
	atomic_init(&p->refs, 1);
	p->valid = 0;
	p->err = 0;
	p->state = PC_FILLING;
	p->queue = PC_Q_NONE;
	p->freq = 0;
	p->cls = PC_CLASS_DATA;
	return p;
}

static void reap_free(struct pc_page *list)
{
	while (list) {
		struct pc_page *next = list->hnext;

		free(list);
		list = next;
	}
}

static unsigned int ceil_log2(uint64_t n)
{
	unsigned int b = 0;

	while (b < 63 && ((uint64_t)1 << b) < n)
		b++;
	return b;
}

static unsigned int clamp_bits(unsigned int b, unsigned int max)
{
	return b < PC_MIN_BITS ? PC_MIN_BITS : b > max ? max : b;
}

/* ---- the hash table of a shard ---- */

static struct pc_page *ht_find(struct pc_shard *s, uint64_t h, uint64_t obj, uint64_t index)
{
	struct pc_page *p;

	for (p = s->buckets[h & s->bmask]; p; p = p->hnext)
		if (p->hash == h && p->obj == obj && p->index == index)
			return p;
	return NULL;
}

static void ht_insert(struct pc_shard *s, struct pc_page *p)
{
	struct pc_page **b = &s->buckets[p->hash & s->bmask];

	p->hnext = *b;
	if (*b)
		(*b)->hpprev = &p->hnext;
	p->hpprev = b;
	*b = p;
}

static void ht_remove(struct pc_page *p)
{
	*p->hpprev = p->hnext;
	if (p->hnext)
		p->hnext->hpprev = p->hpprev;
	p->hnext = NULL;
	p->hpprev = NULL;
}

static struct pc_page *flight_find(struct pc_shard *s, uint64_t h, uint64_t obj, uint64_t index)
{
	struct pc_page *p;

	for (p = s->flights; p; p = p->hnext)
		if (p->hash == h && p->obj == obj && p->index == index)
			return p;
	return NULL;
}

static void flight_remove(struct pc_shard *s, struct pc_page *p)
{
	struct pc_page **pp;

	for (pp = &s->flights; *pp; pp = &(*pp)->hnext) {
		if (*pp == p) {
			*pp = p->hnext;
			p->hnext = NULL;
			return;
		}
	}
}

/* ---- FIFO queues ---- */

static struct pc_queue *queue_of(struct pc_shard *s, struct pc_page *p)
{
	return p->queue == PC_Q_SMALL ? &s->small : &s->main;
}

static void q_push(struct pc_shard *s, struct pc_page *p, enum pc_queue_id id)
{
	struct pc_queue *q = id == PC_Q_SMALL ? &s->small : &s->main;

	p->queue = id;
	p->qprev = NULL;
	p->qnext = q->head;
	if (q->head)
		q->head->qprev = p;
	else
		q->tail = p;
	q->head = p;
	q->count++;
}

static void q_remove(struct pc_shard *s, struct pc_page *p)
{
	struct pc_queue *q = queue_of(s, p);

	if (p->qprev)
		p->qprev->qnext = p->qnext;
	else
		q->head = p->qnext;
	if (p->qnext)
		p->qnext->qprev = p->qprev;
	else
		q->tail = p->qprev;
	q->count--;
	p->queue = PC_Q_NONE;
	p->qnext = p->qprev = NULL;
}

/* ---- the ghost table: keys evicted from the small FIFO unhit ---- */

/*
 * A direct-mapped table of key hashes stamped with an insertion counter; an
 * entry counts while fewer than ghost_cap keys were added after it, which
 * makes it a FIFO of about the main queue's size.  A collision forgets the
 * older key: the ghost table is a hint, and losing one only means a page
 * enters the small FIFO once more.
 */
static inline struct pc_ghost *ghost_slot(struct pc_shard *s, uint64_t h)
{
	return &s->ghost[(h >> 24) & s->gmask];
}

static void ghost_add(struct pc_shard *s, uint64_t h)
{
	struct pc_ghost *g = ghost_slot(s, h);

	g->fp = h | 1;
	g->stamp = ++s->gclock;
}

static bool ghost_take(struct pc_shard *s, uint64_t h)
{
	struct pc_ghost *g = ghost_slot(s, h);

	if (g->fp != (h | 1) || s->gclock - g->stamp >= s->ghost_cap)
		return false;
	g->fp = 0;
	return true;
}

/* ---- live objects ---- */

static inline struct pc_objstripe *stripe_of(struct pc_cache *c, uint64_t id, uint64_t *hm)
{
	*hm = mix64(id);
	return &c->objs[*hm & (PC_OBJ_STRIPES - 1)];
}

static int objtab_grow(struct pc_objstripe *st)
{
	size_t n = st->b ? (st->mask + 1) * 2 : 16, i;
	struct pc_obj **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (i = 0; st->b && i <= st->mask; i++) {
		struct pc_obj *o = st->b[i], *next;

		for (; o; o = next) {
			size_t k = (mix64(o->id) >> 4) & (n - 1);

			next = o->next;
			o->next = nb[k];
			nb[k] = o;
		}
	}
	free(st->b);
	st->b = nb;
	st->mask = n - 1;
	return 0;
}

/* The class of a live object, or -1 if it was dropped (or never created). */
static int objtab_class(struct pc_cache *c, uint64_t id)
{
	uint64_t hm;
	struct pc_objstripe *st = stripe_of(c, id, &hm);
	struct pc_obj *o;
	int cls = -1;

	pthread_mutex_lock(&st->lock);
	if (st->b) {
		for (o = st->b[(hm >> 4) & st->mask]; o; o = o->next) {
			if (o->id == id) {
				cls = (int)o->cls;
				break;
			}
		}
	}
	pthread_mutex_unlock(&st->lock);
	return cls;
}

/* ---- linking pages into a shard ---- */

static struct pc_objent *objent_find(struct pc_shard *s, uint64_t obj)
{
	struct pc_objent *oe;

	for (oe = s->objs[mix64(obj) & s->omask]; oe; oe = oe->next)
		if (oe->obj == obj)
			return oe;
	return NULL;
}

static void objent_free(struct pc_shard *s, struct pc_objent *oe)
{
	struct pc_objent **pp;

	for (pp = &s->objs[mix64(oe->obj) & s->omask]; *pp; pp = &(*pp)->next) {
		if (*pp == oe) {
			*pp = oe->next;
			break;
		}
	}
	free(oe);
}

/* Take @p out of the table; it goes on @reap if that was its last reference. */
static void shard_unlink(struct pc_shard *s, struct pc_page *p, struct pc_page **reap)
{
	struct pc_objent *oe = p->oent;

	ht_remove(p);
	q_remove(s, p);
	*p->opprev = p->onext;
	if (p->onext)
		p->onext->opprev = p->opprev;
	p->onext = NULL;
	p->opprev = NULL;
	p->oent = NULL;
	if (!oe->pages)
		objent_free(s, oe);
	s->npages--;
	stat_add(&s->st.pages[p->cls], (uint64_t)-1);
	if (page_release(p)) {
		p->hnext = *reap;
		*reap = p;
	}
}

/* Evict until the shard fits its budget again. */
static void shard_evict(struct pc_shard *s, struct pc_page **reap)
{
	struct pc_page *p;

	while (s->npages > s->cap) {
		if (s->small.count && (s->small.count >= s->small_cap || !s->main.count)) {
			p = s->small.tail;
			if (p->freq) {
				/* hit while on probation: keep it */
				q_remove(s, p);
				p->freq = 0;
				q_push(s, p, PC_Q_MAIN);
				continue;
			}
			ghost_add(s, p->hash);
		} else {
			p = s->main.tail;
			if (p->freq) {
				p->freq--;
				q_remove(s, p);
				q_push(s, p, PC_Q_MAIN);
				continue;
			}
		}
		shard_unlink(s, p, reap);
		stat_add(&s->st.evictions, 1);
	}
}

/*
 * Insert @p (PC_PARTIAL or PC_COMPLETE) in place of @cur (a partial page of
 * the same key, or NULL).  Returns 1 if inserted, 0 if the object is gone,
 * -ENOMEM.  The shard lock is held; pages to free go on @reap.
 */
static int shard_insert(struct pc_cache *c, struct pc_shard *s, struct pc_page *p,
			struct pc_page *cur, struct pc_page **reap)
{
	struct pc_objent *oe = objent_find(s, p->obj);

	if (!oe) {
		/*
		 * No page of the object in this shard: ask the live table.
		 * With pages here the object is live, or its drop has not
		 * reached this shard yet and will remove this page too.
		 */
		int cls = objtab_class(c, p->obj);

		if (cls < 0)
			return 0;
		oe = malloc(sizeof(*oe));
		if (!oe)
			return -ENOMEM;
		oe->obj = p->obj;
		oe->cls = (unsigned int)cls;
		oe->pages = NULL;
		oe->next = s->objs[mix64(p->obj) & s->omask];
		s->objs[mix64(p->obj) & s->omask] = oe;
	}
	p->cls = (uint8_t)oe->cls;
	p->oent = oe;
	p->onext = oe->pages;
	if (oe->pages)
		oe->pages->opprev = &p->onext;
	p->opprev = &oe->pages;
	oe->pages = p;
	/* after linking p, so that oe keeps a page and is not freed */
	if (cur)
		shard_unlink(s, cur, reap);
	ht_insert(s, p);
	page_pin(p);			/* the table's reference */
	p->freq = 0;
	q_push(s, p, ghost_take(s, p->hash) ? PC_Q_MAIN : PC_Q_SMALL);
	s->npages++;
	stat_add(&s->st.pages[p->cls], 1);
	shard_evict(s, reap);
	return 1;
}

/* ---- creation and teardown ---- */

static void shard_free(struct pc_shard *s)
{
	uint64_t i;

	for (i = 0; i <= s->bmask; i++) {
		struct pc_page *p = s->buckets[i], *next;

		for (; p; p = next) {
			next = p->hnext;
			free(p);
		}
	}
	for (i = 0; i <= s->omask; i++) {
		struct pc_objent *oe = s->objs[i], *next;

		for (; oe; oe = next) {
			next = oe->next;
			free(oe);
		}
	}
	free(s->buckets);
	free(s->objs);
	free(s->ghost);
	pthread_cond_destroy(&s->done);
	pthread_mutex_destroy(&s->lock);
}

/*
 * Shard locks are held for a lookup and a few pointer updates: spinning a
 * little before sleeping (glibc's adaptive mutex) beats a futex round trip.
 */
static int shard_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;
	int rc;

	if (pthread_mutexattr_init(&attr))
		return -ENOMEM;
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
	rc = pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
	return rc ? -ENOMEM : 0;
}

static int shard_init(struct pc_shard *s, uint32_t cap)
{
	/* a bucket a page; at most a page an object, usually fewer */
	unsigned int bb = clamp_bits(ceil_log2(cap), PC_MAX_BUCKET_BITS);
	unsigned int ob = clamp_bits(ceil_log2(cap / 2 + 1), PC_MAX_BUCKET_BITS);
	unsigned int gb;

	memset(s, 0, sizeof(*s));
	s->cap = cap;
	s->small_cap = cap / 10 ? cap / 10 : 1;
	s->ghost_cap = cap > s->small_cap ? cap - s->small_cap : 1;
	gb = clamp_bits(ceil_log2(s->ghost_cap), PC_MAX_GHOST_BITS);
	s->bmask = ((uint64_t)1 << bb) - 1;
	s->omask = ((uint64_t)1 << ob) - 1;
	s->gmask = ((uint64_t)1 << gb) - 1;
	s->buckets = calloc(s->bmask + 1, sizeof(*s->buckets));
	s->objs = calloc(s->omask + 1, sizeof(*s->objs));
	s->ghost = calloc(s->gmask + 1, sizeof(*s->ghost));
	if (!s->buckets || !s->objs || !s->ghost)
		goto err;
	if (shard_mutex_init(&s->lock))
		goto err;
	if (pthread_cond_init(&s->done, NULL)) {
		pthread_mutex_destroy(&s->lock);
		goto err;
	}
	return 0;
err:
	free(s->buckets);
	free(s->objs);
	free(s->ghost);
	return -ENOMEM;
}

void pc_destroy(struct pc_cache *c)
{
	unsigned int i;
	size_t k;

	if (!c)
		return;
	for (i = 0; i < c->ninit; i++)
		shard_free(&c->shards[i]);
	free(c->shards);
	for (i = 0; i < PC_OBJ_STRIPES; i++) {
		struct pc_objstripe *st = &c->objs[i];

		for (k = 0; st->b && k <= st->mask; k++) {
			struct pc_obj *o = st->b[k], *next;

			for (; o; o = next) {
				next = o->next;
				free(o);
			}
		}
		free(st->b);
		pthread_mutex_destroy(&st->lock);
	}
	free(c);
}

int pc_create(struct pc_cache **out, uint64_t budget)
{
	uint64_t total = budget / PC_PAGE_SIZE;
	struct pc_cache *c;
	unsigned int i, n = 1;

	*out = NULL;
	if (total < PC_MIN_PAGES)
		total = PC_MIN_PAGES;
	if (total > PC_MAX_PAGES)
		total = PC_MAX_PAGES;
	/* more shards only while each keeps enough pages for S3-FIFO to work */
	while (n < PC_MAX_SHARDS && total / (2 * n) >= PC_SHARD_MIN_PAGES)
		n *= 2;

	c = aligned_alloc(PC_CACHELINE, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	for (i = 0; i < PC_OBJ_STRIPES; i++) {
		if (pthread_mutex_init(&c->objs[i].lock, NULL)) {
			while (i--)
				pthread_mutex_destroy(&c->objs[i].lock);
			free(c);
			return -ENOMEM;
		}
	}
	atomic_init(&c->next_id, 1);
	c->nshards = n;
	c->budget = total * PC_PAGE_SIZE;
	c->shards = aligned_alloc(PC_CACHELINE, n * sizeof(*c->shards));
	if (!c->shards)
		goto err;
	for (i = 0; i < n; i++) {
		uint32_t cap = (uint32_t)(total / n + (i < total % n));

		if (shard_init(&c->shards[i], cap))
			goto err;
		c->ninit++;
	}
	*out = c;
	return 0;
err:
	pc_destroy(c);
	return -ENOMEM;
}

/* ---- objects ---- */

uint64_t pc_object_new(struct pc_cache *c, unsigned cls)
{
	uint64_t id = atomic_fetch_add_explicit(&c->next_id, 1, memory_order_relaxed), hm;
	struct pc_objstripe *st = stripe_of(c, id, &hm);
	struct pc_obj *o = malloc(sizeof(*o));

	/*
	 * Out of memory the id is still valid; it is just never live, so its
	 * pages are read through the fill and not cached.
	 */
	if (!o)
		return id;
	o->id = id;
	o->cls = cls < PC_NCLASSES ? cls : PC_CLASS_DATA;
	pthread_mutex_lock(&st->lock);
	if ((!st->b || st->n > st->mask) && objtab_grow(st)) {
		pthread_mutex_unlock(&st->lock);
		free(o);
		return id;
	}
	o->next = st->b[(hm >> 4) & st->mask];
	st->b[(hm >> 4) & st->mask] = o;
	st->n++;
	pthread_mutex_unlock(&st->lock);
	return id;
}

void pc_object_drop(struct pc_cache *c, uint64_t obj)
{
	uint64_t hm;
	struct pc_objstripe *st = stripe_of(c, obj, &hm);
	struct pc_obj **pp, *o = NULL;
	unsigned int i;

	pthread_mutex_lock(&st->lock);
	for (pp = st->b ? &st->b[(hm >> 4) & st->mask] : NULL; pp && *pp; pp = &(*pp)->next) {
		if ((*pp)->id == obj) {
			o = *pp;
			*pp = o->next;
			st->n--;
			break;
		}
	}
	pthread_mutex_unlock(&st->lock);
	free(o);

	/* From here on no shard accepts a new page of obj; remove the old ones. */
	for (i = 0; i < c->nshards; i++) {
		struct pc_shard *s = &c->shards[i];
		struct pc_page *reap = NULL;
		struct pc_objent *oe;

		pthread_mutex_lock(&s->lock);
		/* the last page unlinked frees oe, so look it up each time */
		while ((oe = objent_find(s, obj)) != NULL)
			shard_unlink(s, oe->pages, &reap);
		pthread_mutex_unlock(&s->lock);
		reap_free(reap);
	}
}

/* ---- reads and writes ---- */

int pc_read_range(struct pc_cache *c, uint64_t obj, uint64_t off, size_t len, void *dst,
		  pc_fill_fn fill, void *user)
{
	uint8_t *p = dst;

	while (len) {
		uint32_t in = (uint32_t)(off & (PC_PAGE_SIZE - 1));
		size_t n = PC_PAGE_SIZE - in < len ? PC_PAGE_SIZE - in : len;
		int rc = pc_read(c, obj, off >> PC_PAGE_SHIFT, in, (uint32_t)n, p, fill, user,
				 NULL);

		if (rc)
			return rc;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int pc_read(struct pc_cache *c, uint64_t obj, uint64_t index, uint32_t off, uint32_t len,
	    void *dst, pc_fill_fn fill, void *user, bool *hit)
{
	uint64_t h = key_hash(obj, index);
	struct pc_shard *s = shard_of(c, h);
	struct pc_page *p, *mine = NULL, *reap = NULL;
	bool missed = false;
	int rc;

	if (hit)
		*hit = false;
	if (off > PC_PAGE_SIZE || len > PC_PAGE_SIZE - off || (len && !dst) || !fill)
		return -EINVAL;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		p = ht_find(s, h, obj, index);
		if (p && p->state == PC_COMPLETE) {
			if (p->freq < PC_FREQ_MAX)
				p->freq++;
			page_pin(p);
			if (!missed)
				stat_add(&s->st.hits, 1);
			pthread_mutex_unlock(&s->lock);
			free(mine);
			if (len)
				memcpy(dst, p->data + off, len);
			page_unpin(p);
			if (hit)
				*hit = !missed;
			return 0;
		}
		if (!missed) {
			stat_add(&s->st.misses, 1);
			missed = true;
		}

		p = flight_find(s, h, obj, index);
		if (p) {
			/* a fill that reads its own page would wait for itself */
			if (pthread_equal(p->filler, pthread_self())) {
				pthread_mutex_unlock(&s->lock);
				free(mine);
				return -EDEADLK;
			}
			page_pin(p);
			s->nwaiters++;
			while (p->state == PC_FILLING)
				pthread_cond_wait(&s->done, &s->lock);
			s->nwaiters--;
			if (p->state == PC_COMPLETE) {
				pthread_mutex_unlock(&s->lock);
				free(mine);
				if (len)
					memcpy(dst, p->data + off, len);
				page_unpin(p);
				return 0;
			}
			/* failed: errors are not cached, so look again */
			if (page_release(p))
				free(p);
			continue;
		}

		if (mine)
			break;
		/* allocate outside the lock, then look again */
		pthread_mutex_unlock(&s->lock);
		mine = page_alloc(obj, index, h);
		if (!mine)
			return -ENOMEM;
		pthread_mutex_lock(&s->lock);
	}

	/* We fill.  The page is on the flight list, not in the table. */
	mine->filler = pthread_self();
	mine->hnext = s->flights;
	s->flights = mine;
	pthread_mutex_unlock(&s->lock);

	rc = fill(user, index, mine->data);
	if (rc > 0)
		rc = -EIO;

	pthread_mutex_lock(&s->lock);
	flight_remove(s, mine);
	stat_add(&s->st.fills, 1);
	if (!rc) {
		mine->valid = PC_PAGE_SIZE;
		mine->state = PC_COMPLETE;
		p = ht_find(s, h, obj, index);
		/*
		 * A pc_put() may have stored it meanwhile; keep that one.  If
		 * the insert fails (object dropped, no memory) the page is
		 * simply not cached: the waiters still copy from it.
		 */
		if (!p || p->state != PC_COMPLETE)
			shard_insert(c, s, mine, p, &reap);
	} else {
		mine->err = rc;
		mine->state = PC_FAILED;
	}
	if (s->nwaiters)
		pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
	reap_free(reap);

	if (!rc && len)
		memcpy(dst, mine->data + off, len);
	page_unpin(mine);
	return rc;
}

int pc_put(struct pc_cache *c, uint64_t obj, uint64_t index, const void *data, uint32_t valid,
	   bool complete)
{
	uint64_t h = key_hash(obj, index);
	struct pc_shard *s = shard_of(c, h);
	struct pc_page *p, *cur, *reap = NULL;
	int rc;

	if (valid > PC_PAGE_SIZE || (valid && !data))
		return -EINVAL;
	if (valid == PC_PAGE_SIZE)
		complete = true;	/* every byte is known */
	else if (!complete && !valid)
		return 0;		/* nothing is known */

	/* Fills often put pages that are cached already: skip the copy. */
	pthread_mutex_lock(&s->lock);
	cur = ht_find(s, h, obj, index);
	rc = cur && (cur->state == PC_COMPLETE || (!complete && cur->valid >= valid));
	pthread_mutex_unlock(&s->lock);
	if (rc)
		return 0;

	p = page_alloc(obj, index, h);
	if (!p)
		return -ENOMEM;
	if (valid)
		memcpy(p->data, data, valid);
	if (complete)
		memset(p->data + valid, 0, PC_PAGE_SIZE - valid);
	p->valid = valid;
	p->state = complete ? PC_COMPLETE : PC_PARTIAL;

	pthread_mutex_lock(&s->lock);
	cur = ht_find(s, h, obj, index);
	if (cur && (cur->state == PC_COMPLETE || (!complete && cur->valid >= valid)))
		rc = 0;
	else
		rc = shard_insert(c, s, p, cur, &reap);
	pthread_mutex_unlock(&s->lock);
	reap_free(reap);
	page_unpin(p);		/* frees it unless the table holds it */
	return rc < 0 ? rc : 0;
}

uint32_t pc_peek_partial(struct pc_cache *c, uint64_t obj, uint64_t index, void *buf)
{
	uint64_t h = key_hash(obj, index);
	struct pc_shard *s = shard_of(c, h);
	struct pc_page *p;
	uint32_t n = 0;

	pthread_mutex_lock(&s->lock);
	p = ht_find(s, h, obj, index);
	if (p && p->state == PC_PARTIAL) {
		n = p->valid;
		memcpy(buf, p->data, n);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

bool pc_contains(struct pc_cache *c, uint64_t obj, uint64_t index)
{
	uint64_t h = key_hash(obj, index);
	struct pc_shard *s = shard_of(c, h);
	struct pc_page *p;
	bool ret;

	pthread_mutex_lock(&s->lock);
	p = ht_find(s, h, obj, index);
	ret = p && p->state == PC_COMPLETE;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void pc_get_stats(struct pc_cache *c, struct pc_stats *st)
{
	unsigned int i, k;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < c->nshards; i++) {
		struct pc_counters *ctr = &c->shards[i].st;

		st->hits += atomic_load_explicit(&ctr->hits, memory_order_relaxed);
		st->misses += atomic_load_explicit(&ctr->misses, memory_order_relaxed);
		st->fills += atomic_load_explicit(&ctr->fills, memory_order_relaxed);
		st->evictions += atomic_load_explicit(&ctr->evictions, memory_order_relaxed);
		for (k = 0; k < PC_NCLASSES; k++)
			st->pages[k] += atomic_load_explicit(&ctr->pages[k],
							     memory_order_relaxed);
	}
	for (k = 0; k < PC_NCLASSES; k++)
		st->bytes[k] = st->pages[k] * PC_PAGE_SIZE;
	st->budget = c->budget;
}
