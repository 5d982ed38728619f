// SPDX-License-Identifier: MIT
/*
 * lib/cache/pagecache.c: the page cache behind every read.
 *
 * Layout.  Pages live in hash tables split into shards; each shard has its
 * own mutex, its own share of the budget and its own eviction queues, so
 * threads that read different pages rarely meet on a lock.  The shard of a
 * page is picked by (object, index / 16): a run of 16 consecutive pages of
 * an object shares one shard, and a range read takes one lock for up to 16
 * pages instead of one a page.  Inside a shard, an open-addressing table of
 * (key hash, page) pairs finds a page: a hit reads one table slot and then
 * the page header it must pin anyway, and a miss usually reads just the
 * slot.  A shard also keeps, per object, the list of its pages in that
 * shard, so dropping an object costs one lookup per shard plus its pages
 * instead of a walk over the whole table.
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
 * Memory.  Page data and headers come from chunks (up to 2 MiB, aligned and
 * madvise()d for a transparent huge page: one fault instead of 512) that a
 * cache-wide pool carves and never returns before pc_destroy().  Each shard
 * keeps a few spare pages; it takes them from the pool in batches and gives
 * the surplus back, so a full shard recycles the page it evicts for the
 * next one it stores, with no malloc() and no fault.  The pool grows in
 * chunks up to the budget plus the shards' spares; past that (pages filled
 * or evicted while pinned are outside the budget) it grows only by what is
 * asked, and everything it grew by is used again afterwards.
 *
 * Lifetime.  p->refs counts one reference for the table and one per pin.  A
 * reader pins under the shard lock and copies after dropping it; unpinning
 * needs no lock, so the count is atomic.  Eviction only unlinks a page and
 * drops the table's reference: an evicted pinned page goes back to the
 * spares of its shard when its last unpinner takes the lock to put it
 * there.  Everything else about a page (queue links, frequency bits) is
 * only touched under the shard lock and is plain memory.
 *
 * Single flight.  A miss takes its page first, then registers it on the
 * shard's flight list and fills it with no lock held, so a fill may call
 * pc_put() or pc_read() of other pages.  Concurrent missers of the same key
 * pin that page and sleep on a condition variable of their own, linked to
 * the page: the filler wakes exactly its waiters, so a slow fill (a remote
 * backend) holds up nobody but the readers of its page.  On success the
 * page goes into the table (unless a complete copy got there first or the
 * object was dropped) and every waiter copies from it, even if it was
 * evicted at once: nobody looks the page up again, so a budget of one page
 * cannot livelock.  On failure the page never enters the table and every
 * waiter returns the filler's error; the next call fills again.
 *
 * Objects.  A table of live ids (striped by id, one mutex a stripe) says
 * whether an object exists, gives its class and notes the shards that
 * took pages of it.  pc_object_drop() removes the id first and then
 * empties those shards, so a page inserted after the drop reached its shard
 * finds the id gone and is discarded, and a page inserted before that is
 * removed by the drop.
 *
 * Statistics.  Counters are per shard and only written under the shard
 * lock, so a relaxed load and store updates them (no locked instruction on
 * the hit path); pc_get_stats() sums relaxed loads without taking a shard
 * lock (only the pool's, for the memory it holds).
 *
 * Lock order: a shard lock, then the pool lock or an object stripe lock;
 * no two shard locks are ever held at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cache/pagecache.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* a spare page's bytes are off limits: ASan then catches a use after evict */
#define PC_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define PC_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define PC_POISON(p, n) ((void)(p), (void)(n))
#define PC_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define PC_MIN_PAGES 4u		/* the budget never goes below this */
#define PC_MAX_SHARDS 64u
#define PC_SHARD_MIN_PAGES 32u	/* split further only while every shard keeps this many */
#define PC_MAX_PAGES ((uint64_t)PC_MAX_SHARDS << 30)	/* keeps a shard's count in 32 bits */
#define PC_MIN_BITS 2
#define PC_TABLE_MIN_BITS 6	/* a shard's table starts this small and doubles */
#define PC_MAX_GHOST_BITS 16
#define PC_FREQ_MAX 3		/* two frequency bits, as in S3-FIFO */
#define PC_OBJ_STRIPES 16u
#define PC_CACHELINE 64
#define PC_RUN_SHIFT 4		/* 16 consecutive pages share a shard */
#define PC_RUN (1u << PC_RUN_SHIFT)
#define PC_CHUNK_MIN 16u	/* pages in the pool's first chunk */
#define PC_CHUNK_MAX 512u	/* 2 MiB: one transparent huge page */
#define PC_HUGE_SIZE ((size_t)PC_CHUNK_MAX * PC_PAGE_SIZE)
#define PC_SPARE_MAX 16u	/* spare pages a shard keeps, at most (twice that briefly) */

enum pc_state {
	PC_FREE,	/* a spare: in a shard's or the pool's free list */
	PC_FILLING,	/* on the flight list, data being written by the filler */
	PC_FAILED,	/* the fill failed with ->err; never in the table */
	PC_PARTIAL,	/* the first ->valid bytes are known */
	PC_COMPLETE,	/* readable; zeros past ->valid */
};

enum pc_queue_id { PC_Q_NONE, PC_Q_SMALL, PC_Q_MAIN };

/* A reader waiting for a fill: on its own stack, linked to the page. */
struct pc_waiter {
	pthread_cond_t cv;
	struct pc_waiter *next;
	bool woken;
};

struct pc_objent;
struct pc_shard;

/* A page header; its data lives in a chunk (see above). */
struct pc_page {
	/* what a hit reads and writes, in its first cache line */
	alignas(PC_CACHELINE) uint64_t obj, index;
	atomic_uint refs;
	uint32_t valid;
	uint8_t state, queue, freq, cls;
	int err;
	unsigned char *data;		/* PC_PAGE_SIZE bytes, fixed for the header's life */
	struct pc_page *qnext, *qprev;	/* FIFO links, head = newest */
	/* the rest: inserts, evictions, fills, drops */
	struct pc_page *next;		/* flight list; free lists */
	struct pc_page *onext, **opprev; /* pages of one object in one shard */
	struct pc_objent *oent;
	struct pc_shard *shard;		/* whose spares it goes back to */
	uint64_t hash;
	pthread_t filler;		/* while PC_FILLING: who fills it */
	struct pc_waiter *waiters;	/* while PC_FILLING: who waits for it */
};

/* The pages one object has in one shard. */
struct pc_objent {
	struct pc_objent *next;
	struct pc_page *pages;
	uint64_t obj;
	unsigned int cls;
};

/* A slot of a shard's table: empty while page is NULL. */
struct pc_slot {
	uint64_t hash;
	struct pc_page *page;
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
	struct pc_slot *slots;
	struct pc_objent **objs;
	struct pc_objent *last_oe;	/* the last object found: puts come in runs */
	struct pc_ghost *ghost;
	struct pc_page *flights;	/* pages being filled */
	struct pc_page *spare;		/* free pages kept for the next fill or put */
	struct pc_queue small, main;
	uint64_t smask, omask, gmask;
	uint64_t gclock;		/* ghost insertions so far */
	uint32_t nslots;		/* slots in use */
	uint32_t npages, cap, small_cap, ghost_cap;
	uint32_t nspare, spare_max;
	struct pc_counters st;
};

/* An allocation of page memory: data and the headers that point into it. */
struct pc_chunk {
	struct pc_chunk *next;
	void *map;
	size_t map_len;
	struct pc_page *hdrs;
};

struct pc_pool {
	alignas(PC_CACHELINE) pthread_mutex_t lock;
	struct pc_page *free;		/* pages the shards gave back */
	struct pc_chunk *chunks;
	unsigned char *carve_data;	/* the newest chunk's pages not handed out yet */
	struct pc_page *carve_hdr;
	uint32_t carve_left;
	uint64_t nalloc;		/* pages in all chunks */
	uint64_t limit;			/* the budget plus every shard's spares */
};

struct pc_obj {
	struct pc_obj *next;
	uint64_t id;
	uint64_t shards;	/* bit i: shard i may hold pages of it */
	unsigned int cls;
};

struct pc_objstripe {
	alignas(PC_CACHELINE) pthread_mutex_t lock;
	struct pc_obj **b;
	size_t mask, n;
};

struct pc_cache {
	struct pc_objstripe objs[PC_OBJ_STRIPES];
	struct pc_pool pool;
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
 * The key hash of page @index of an object whose mix64() is @mo: its low
 * bits pick the table slot, bits 24.. the ghost slot, so the two stay
 * independent.  Range reads hash the object once for all their pages.
 */
static inline uint64_t page_hash(uint64_t mo, uint64_t index)
{
	return mix64(mo + index);
}

/*
 * The shard of a run of PC_RUN pages: a hash of its own (the constant keeps
 * it apart from page_hash() of the same object), top bits.
 */
static inline struct pc_shard *shard_of(struct pc_cache *c, uint64_t mo, uint64_t index)
{
	uint64_t h = mix64((mo ^ 0x9e3779b97f4a7c15ULL) + (index >> PC_RUN_SHIFT));

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

/* ---- the pool of page memory ---- */

static void chunk_unmap(void *map, size_t len)
{
	PC_UNPOISON(map, len);
	munmap(map, len);
}

/*
 * Map @n pages.  A chunk of PC_CHUNK_MAX pages is aligned to its size and
 * asks for a transparent huge page: one fault instead of 512, which is most
 * of what filling fresh memory costs (a new process read a whole image in
 * 0.57x the time it took with small pages, median of 12).  The price, in a
 * VM that hands freed memory back to its host (free page reporting, as on
 * the VMs this was measured on): a fresh huge page may be memory the host
 * must fault in again, and then such a first fill took 1.2 to 3.4x as long
 * as with small pages, in 7 runs of 24 (BENCHMARKS.md, "Page cache").
 */
static void *chunk_map(uint32_t n, size_t *len)
{
	size_t sz = (size_t)n * PC_PAGE_SIZE, extra = 0;
	unsigned char *m, *a;

	if (n == PC_CHUNK_MAX)
		extra = PC_HUGE_SIZE - PC_PAGE_SIZE;
	m = mmap(NULL, sz + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	a = m;
	if (extra) {
		a = (unsigned char *)(((uintptr_t)m + PC_HUGE_SIZE - 1) & ~(PC_HUGE_SIZE - 1));
		if (a > m)
			munmap(m, (size_t)(a - m));
		if (a + sz < m + sz + extra)
			munmap(a + sz, (size_t)(m + sz + extra - (a + sz)));
#ifdef MADV_HUGEPAGE
		madvise(a, sz, MADV_HUGEPAGE);	/* a hint: without it, small pages */
#endif
	}
	*len = sz;
	return a;
}

/*
 * Add a chunk of at least @want pages to the pool: the chunks double from
 * PC_CHUNK_MIN to PC_CHUNK_MAX pages while the pool stays within its limit.
 * The pool lock is held.
 */
static int pool_grow(struct pc_pool *pl, uint32_t want)
{
	uint64_t n = pl->nalloc > PC_CHUNK_MIN ? pl->nalloc : PC_CHUNK_MIN;
	struct pc_chunk *ch;

	if (n > PC_CHUNK_MAX)
		n = PC_CHUNK_MAX;
	if (pl->nalloc + n > pl->limit)
		n = pl->limit > pl->nalloc ? pl->limit - pl->nalloc : 0;
	if (n < want)
		n = want;
	ch = malloc(sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->hdrs = aligned_alloc(PC_CACHELINE, n * sizeof(struct pc_page));
	ch->map = chunk_map((uint32_t)n, &ch->map_len);
	if (!ch->hdrs || !ch->map) {
		free(ch->hdrs);
		free(ch);
		return -ENOMEM;
	}
	PC_POISON(ch->map, ch->map_len);
	ch->next = pl->chunks;
	pl->chunks = ch;
	pl->carve_data = ch->map;
	pl->carve_hdr = ch->hdrs;
	pl->carve_left = (uint32_t)n;
	pl->nalloc += n;
	return 0;
}

/* Move up to @want pages (at least one unless out of memory) onto *@list. */
static uint32_t pool_take(struct pc_pool *pl, uint32_t want, struct pc_page **list)
{
	uint32_t got = 0;
	struct pc_page *p;

	pthread_mutex_lock(&pl->lock);
	while (got < want && pl->free) {
		p = pl->free;
		pl->free = p->next;
		p->next = *list;
		*list = p;
		got++;
	}
	if (got < want && !pl->carve_left)
		pool_grow(pl, want - got);	/* on failure we make do with what we got */
	if (got < want && pl->carve_left) {
		/*
		 * Carve k pages and list them in address order: a run of an
		 * object stored in one go then lies in ascending memory, which
		 * the CPU's prefetchers follow when it is read back.
		 */
		uint32_t k = want - got < pl->carve_left ? want - got : pl->carve_left, i;

		for (i = k; i--;) {
			p = pl->carve_hdr + i;
			p->data = pl->carve_data + (size_t)i * PC_PAGE_SIZE;
			p->state = PC_FREE;
			p->next = *list;
			*list = p;
		}
		pl->carve_hdr += k;
		pl->carve_data += (size_t)k * PC_PAGE_SIZE;
		pl->carve_left -= k;
		got += k;
	}
	pthread_mutex_unlock(&pl->lock);
	return got;
}

static void pool_give(struct pc_pool *pl, struct pc_page *first, struct pc_page *last)
{
	pthread_mutex_lock(&pl->lock);
	last->next = pl->free;
	pl->free = first;
	pthread_mutex_unlock(&pl->lock);
}

static void pool_free(struct pc_pool *pl)
{
	struct pc_chunk *ch, *next;

	for (ch = pl->chunks; ch; ch = next) {
		next = ch->next;
		chunk_unmap(ch->map, ch->map_len);
		free(ch->hdrs);
		free(ch);
	}
	pthread_mutex_destroy(&pl->lock);
}

/* ---- pages of a shard: the shard lock is held ---- */

/* A page for key (@obj, @index, @h), one reference held; NULL if out of memory. */
static struct pc_page *page_get(struct pc_cache *c, struct pc_shard *s, uint64_t obj,
				uint64_t index, uint64_t h)
{
	struct pc_page *p;

	if (!s->spare)
		s->nspare += pool_take(&c->pool, s->spare_max, &s->spare);
	p = s->spare;
	if (!p)
		return NULL;
	s->spare = p->next;
	s->nspare--;
	PC_UNPOISON(p->data, PC_PAGE_SIZE);
	p->obj = obj;
	p->index = index;
	atomic_init(&p->refs, 1);
	p->valid = 0;
	p->state = PC_FILLING;
	p->queue = PC_Q_NONE;
	p->freq = 0;
	p->cls = PC_CLASS_DATA;
	p->err = 0;
	p->waiters = NULL;
	p->qnext = p->qprev = NULL;
	p->next = NULL;
	p->onext = NULL;
	p->opprev = NULL;
	p->oent = NULL;
	p->shard = s;
	p->hash = h;
	return p;
}

/* @p has no reference left: keep it as a spare, or give spares back to the pool. */
static void page_free(struct pc_cache *c, struct pc_shard *s, struct pc_page *p)
{
	PC_POISON(p->data, PC_PAGE_SIZE);
	p->state = PC_FREE;
	p->next = s->spare;
	s->spare = p;
	if (++s->nspare > 2 * s->spare_max) {
		/* keep the newest, likelier still in the CPU cache; give the rest */
		struct pc_page *keep = s->spare, *first, *last;
		uint32_t i;

		for (i = 1; i < s->spare_max; i++)
			keep = keep->next;
		first = last = keep->next;
		while (last->next)
			last = last->next;
		keep->next = NULL;
		pool_give(&c->pool, first, last);
		s->nspare = s->spare_max;
	}
}

/* Drop a reference without the shard lock held. */
static void page_unpin(struct pc_cache *c, struct pc_page *p)
{
	if (page_release(p)) {
		struct pc_shard *s = p->shard;

		pthread_mutex_lock(&s->lock);
		page_free(c, s, p);
		pthread_mutex_unlock(&s->lock);
	}
}

/* ---- the hash table of a shard: linear probing, at most half full ---- */

static inline struct pc_page *ht_find(const struct pc_shard *s, uint64_t h, uint64_t obj,
				      uint64_t index)
{
	uint64_t i = h & s->smask;

	for (;; i = (i + 1) & s->smask) {
		const struct pc_slot *sl = &s->slots[i];

		if (!sl->page)
			return NULL;
		if (sl->hash == h && sl->page->obj == obj && sl->page->index == index)
			return sl->page;
	}
}

/* The slot holding @p, which is in the table. */
static uint64_t ht_slot_of(const struct pc_shard *s, const struct pc_page *p)
{
	uint64_t i = p->hash & s->smask;

	while (s->slots[i].page != p)
		i = (i + 1) & s->smask;
	return i;
}

static void ht_place(struct pc_slot *slots, uint64_t mask, uint64_t h, struct pc_page *p)
{
	uint64_t i = h & mask;

	while (slots[i].page)
		i = (i + 1) & mask;
	slots[i].hash = h;
	slots[i].page = p;
}

/* Double the table; -ENOMEM leaves it as it was. */
static int ht_grow(struct pc_shard *s)
{
	uint64_t n = (s->smask + 1) * 2, i;
	struct pc_slot *ns = calloc(n, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (i = 0; i <= s->smask; i++)
		if (s->slots[i].page)
			ht_place(ns, n - 1, s->slots[i].hash, s->slots[i].page);
	free(s->slots);
	s->slots = ns;
	s->smask = n - 1;
	return 0;
}

/*
 * Room for one more entry: the table doubles past half full; if it cannot,
 * it fills on up to seven eighths, a longer probe but still a correct one.
 */
static bool ht_room(struct pc_shard *s)
{
	uint64_t size = s->smask + 1;

	if (s->nslots + 1 <= size / 2)
		return true;
	return !ht_grow(s) || s->nslots + 1 <= size / 8 * 7;
}

static void ht_insert(struct pc_shard *s, struct pc_page *p)
{
	ht_place(s->slots, s->smask, p->hash, p);
	s->nslots++;
}

/*
 * Remove @p, then close the gap (backward shift): each entry further along
 * the probe run moves into the gap unless its home slot lies between the
 * gap and itself, so that every entry stays reachable from its home slot
 * with no tombstones.
 */
static void ht_remove(struct pc_shard *s, struct pc_page *p)
{
	uint64_t i = ht_slot_of(s, p), j = i, home;

	for (;;) {
		j = (j + 1) & s->smask;
		if (!s->slots[j].page)
			break;
		home = s->slots[j].hash & s->smask;
		/* the entry at j may stay if its home is cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		s->slots[i] = s->slots[j];
		i = j;
	}
	s->slots[i].page = NULL;
	s->nslots--;
}

static struct pc_page *flight_find(struct pc_shard *s, uint64_t h, uint64_t obj, uint64_t index)
{
	struct pc_page *p;

	for (p = s->flights; p; p = p->next)
		if (p->hash == h && p->obj == obj && p->index == index)
			return p;
	return NULL;
}

static void flight_remove(struct pc_shard *s, struct pc_page *p)
{
	struct pc_page **pp;

	for (pp = &s->flights; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			p->next = NULL;
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
	struct pc_ghost *g;

	/* nothing was ever evicted here: skip a cache miss on a cold table */
	if (!s->gclock)
		return false;
	g = ghost_slot(s, h);
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

/*
 * The class of a live object, or -1 if it was dropped (or never created);
 * notes that shard @shard is about to hold pages of it.
 */
static int objtab_class(struct pc_cache *c, uint64_t id, unsigned int shard)
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
				o->shards |= (uint64_t)1 << shard;
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
	struct pc_objent *oe = s->last_oe;

	if (oe && oe->obj == obj)
		return oe;
	for (oe = s->objs[mix64(obj) & s->omask]; oe; oe = oe->next) {
		if (oe->obj == obj) {
			s->last_oe = oe;
			return oe;
		}
	}
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
	if (s->last_oe == oe)
		s->last_oe = NULL;
	free(oe);
}

/*
 * Take @p out of the table and drop the table's reference; if it was the
 * last, the page becomes a spare.  @in_table false: its slot was handed to
 * another page already.
 */
static void shard_unlink(struct pc_cache *c, struct pc_shard *s, struct pc_page *p,
			 bool in_table)
{
	struct pc_objent *oe = p->oent;

	if (in_table)
		ht_remove(s, p);
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
	if (page_release(p))
		page_free(c, s, p);
}

/* Evict until the shard fits its budget again. */
static void shard_evict(struct pc_cache *c, struct pc_shard *s)
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
		shard_unlink(c, s, p, true);
		stat_add(&s->st.evictions, 1);
	}
}

/*
 * Insert @p (PC_PARTIAL or PC_COMPLETE) in place of @cur (a partial page of
 * the same key, or NULL); one reference the caller holds on @p becomes the
 * table's.  Returns 1 if inserted, 0 if the object is gone, -ENOMEM; on 0
 * or -ENOMEM the reference is still the caller's.  The shard lock is held.
 */
static int shard_insert(struct pc_cache *c, struct pc_shard *s, struct pc_page *p,
			struct pc_page *cur)
{
	struct pc_objent *oe = objent_find(s, p->obj);

	if (!cur && !ht_room(s))
		return -ENOMEM;
	if (!oe) {
		/*
		 * No page of the object in this shard: ask the live table.
		 * With pages here the object is live, or its drop has not
		 * reached this shard yet and will remove this page too.
		 */
		int cls = objtab_class(c, p->obj, (unsigned int)(s - c->shards));

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
		s->last_oe = oe;
	}
	p->cls = (uint8_t)oe->cls;
	p->oent = oe;
	p->onext = oe->pages;
	if (oe->pages)
		oe->pages->opprev = &p->onext;
	p->opprev = &oe->pages;
	oe->pages = p;
	/* after linking p, so that oe keeps a page and is not freed */
	if (cur) {
		/* same key, same hash: p takes over cur's slot */
		s->slots[ht_slot_of(s, cur)].page = p;
		shard_unlink(c, s, cur, false);
	} else {
		ht_insert(s, p);
	}
	p->freq = 0;
	q_push(s, p, ghost_take(s, p->hash) ? PC_Q_MAIN : PC_Q_SMALL);
	s->npages++;
	stat_add(&s->st.pages[p->cls], 1);
	shard_evict(c, s);
	return 1;
}

/* ---- creation and teardown ---- */

static void shard_free(struct pc_shard *s)
{
	uint64_t i;

	/* every page is in the table or a spare: their memory goes with the pool */
	for (i = 0; i <= s->omask; i++) {
		struct pc_objent *oe = s->objs[i], *next;

		for (; oe; oe = next) {
			next = oe->next;
			free(oe);
		}
	}
	free(s->slots);
	free(s->objs);
	free(s->ghost);
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
	/* at most a page an object, usually fewer */
	unsigned int ob = clamp_bits(ceil_log2(cap / 2 + 1), 18);
	unsigned int gb;

	memset(s, 0, sizeof(*s));
	s->cap = cap;
	s->small_cap = cap / 10 ? cap / 10 : 1;
	s->ghost_cap = cap > s->small_cap ? cap - s->small_cap : 1;
	s->spare_max = cap / 16 < 1 ? 1 : cap / 16 > PC_SPARE_MAX ? PC_SPARE_MAX : cap / 16;
	gb = clamp_bits(ceil_log2(s->ghost_cap), PC_MAX_GHOST_BITS);
	/* the table grows with the pages it holds: an idle big cache stays small */
	s->smask = ((uint64_t)1 << PC_TABLE_MIN_BITS) - 1;
	s->omask = ((uint64_t)1 << ob) - 1;
	s->gmask = ((uint64_t)1 << gb) - 1;
	s->slots = calloc(s->smask + 1, sizeof(*s->slots));
	s->objs = calloc(s->omask + 1, sizeof(*s->objs));
	s->ghost = calloc(s->gmask + 1, sizeof(*s->ghost));
	if (!s->slots || !s->objs || !s->ghost)
		goto err;
	if (shard_mutex_init(&s->lock))
		goto err;
	return 0;
err:
	free(s->slots);
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
	pool_free(&c->pool);
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
	if (pthread_mutex_init(&c->pool.lock, NULL)) {
		free(c);
		return -ENOMEM;
	}
	for (i = 0; i < PC_OBJ_STRIPES; i++) {
		if (pthread_mutex_init(&c->objs[i].lock, NULL)) {
			while (i--)
				pthread_mutex_destroy(&c->objs[i].lock);
			pthread_mutex_destroy(&c->pool.lock);
			free(c);
			return -ENOMEM;
		}
	}
	atomic_init(&c->next_id, 1);
	c->nshards = n;
	c->budget = total * PC_PAGE_SIZE;
	c->pool.limit = total;
	c->shards = aligned_alloc(PC_CACHELINE, n * sizeof(*c->shards));
	if (!c->shards)
		goto err;
	for (i = 0; i < n; i++) {
		uint32_t cap = (uint32_t)(total / n + (i < total % n));

		if (shard_init(&c->shards[i], cap))
			goto err;
		c->ninit++;
		c->pool.limit += 2 * c->shards[i].spare_max;
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
	o->shards = 0;
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
	uint64_t shards = 0;
	unsigned int i;

	pthread_mutex_lock(&st->lock);
	for (pp = st->b ? &st->b[(hm >> 4) & st->mask] : NULL; pp && *pp; pp = &(*pp)->next) {
		if ((*pp)->id == obj) {
			o = *pp;
			*pp = o->next;
			st->n--;
			shards = o->shards;
			break;
		}
	}
	pthread_mutex_unlock(&st->lock);
	free(o);

	/*
	 * From here on no shard accepts a new page of obj; remove the old
	 * ones.  A shard that took a page of it asked the live table first
	 * and left its bit in @shards: the others are skipped, so that
	 * dropping a small file takes one or two shard locks, not 64.
	 * Nothing of an id that was not live is cached anywhere.
	 */
	for (i = 0; i < c->nshards; i++) {
		struct pc_shard *s = &c->shards[i];
		struct pc_objent *oe;

		if (!(shards & ((uint64_t)1 << i)))
			continue;
		pthread_mutex_lock(&s->lock);
		/* the last page unlinked frees oe, so look it up each time */
		while ((oe = objent_find(s, obj)) != NULL)
			shard_unlink(c, s, oe->pages, true);
		pthread_mutex_unlock(&s->lock);
	}
}

/* ---- reads and writes ---- */

/*
 * memcpy() of up to a page.  GCC knows @n <= PC_PAGE_SIZE here and then
 * expands memcpy() inline as "rep movsq", which is about half as fast as
 * libc's vector copy on these sizes; hiding the bound keeps the call.
 */
static inline void copy_out(void *dst, const void *src, size_t n)
{
	__asm__("" : "+r"(n));
	memcpy(dst, src, n);
}

/*
 * Pin the pages @index.. (at most @n, all in shard @s) that are cached
 * complete, stopping at the first that is not; one lock for all of them.
 * Counts a hit for each.  Returns how many it pinned into @pages.
 */
static uint32_t pin_run(struct pc_shard *s, uint64_t obj, uint64_t mo, uint64_t index,
			uint32_t n, struct pc_page **pages)
{
	uint64_t h[PC_RUN];
	uint32_t i;

	for (i = 0; i < n; i++)
		h[i] = page_hash(mo, index + i);
	pthread_mutex_lock(&s->lock);
	/*
	 * The slots, then the headers, are random cache lines: ask for all
	 * of them before using any, so that their misses overlap.
	 */
	for (i = 0; i < n; i++)
		__builtin_prefetch(&s->slots[h[i] & s->smask]);
	for (i = 0; i < n; i++) {
		const struct pc_slot *sl = &s->slots[h[i] & s->smask];

		pages[i] = sl->hash == h[i] ? sl->page : NULL;
		if (pages[i])
			__builtin_prefetch(pages[i], 1);
	}
	for (i = 0; i < n; i++) {
		struct pc_page *p = pages[i];

		/* the first slot was only a guess: look it up properly */
		if (!p || p->obj != obj || p->index != index + i)
			p = ht_find(s, h[i], obj, index + i);
		if (!p || p->state != PC_COMPLETE)
			break;
		if (p->freq < PC_FREQ_MAX)
			p->freq++;
		page_pin(p);
		pages[i] = p;
	}
	if (i)
		stat_add(&s->st.hits, i);
	pthread_mutex_unlock(&s->lock);
	return i;
}

/* Prefetch the bytes of a page from @from on, @len of them at most. */
static inline void prefetch_bytes(const unsigned char *data, uint32_t from, size_t len)
{
	size_t end = len < PC_PAGE_SIZE - from ? from + len : PC_PAGE_SIZE, q;

	for (q = from & ~(size_t)(PC_CACHELINE - 1); q < end; q += PC_CACHELINE)
		__builtin_prefetch(data + q);
}

int pc_read_range(struct pc_cache *c, uint64_t obj, uint64_t off, size_t len, void *dst,
		  pc_fill_fn fill, void *user)
{
	struct pc_page *pages[PC_RUN];
	uint64_t mo = mix64(obj);
	uint8_t *d = dst;

	if (len && (!dst || !fill || off + (len - 1) < off))
		return -EINVAL;
	while (len) {
		uint64_t index = off >> PC_PAGE_SHIFT;
		uint64_t last = (off + len - 1) >> PC_PAGE_SHIFT;
		uint64_t run_end = index | (PC_RUN - 1);
		uint32_t n = (uint32_t)((last < run_end ? last : run_end) - index + 1), got, i;
		uint32_t in = (uint32_t)(off & (PC_PAGE_SIZE - 1));
		size_t piece;
		int rc;

		got = pin_run(shard_of(c, mo, index), obj, mo, index, n, pages);
		/*
		 * The pages lie anywhere in memory and the CPU's prefetchers
		 * stop at each one's end, so every page would begin with a
		 * stall: ask for the first page now, and for each next one
		 * while copying the one before.
		 */
		if (got)
			prefetch_bytes(pages[0]->data, in, len);
		for (i = 0; i < got; i++) {
			piece = PC_PAGE_SIZE - in < len ? PC_PAGE_SIZE - in : len;
			if (i + 1 < got)
				prefetch_bytes(pages[i + 1]->data, 0, len - piece);
			copy_out(d, pages[i]->data + in, piece);
			page_unpin(c, pages[i]);
			d += piece;
			off += piece;
			len -= piece;
			in = 0;
		}
		if (got == n)
			continue;
		/* the page after the hits is missing or partial: fill it */
		piece = PC_PAGE_SIZE - in < len ? PC_PAGE_SIZE - in : len;
		rc = pc_read(c, obj, index + got, in, (uint32_t)piece, d, fill, user, NULL);
		if (rc)
			return rc;
		d += piece;
		off += piece;
		len -= piece;
	}
	return 0;
}

int pc_read(struct pc_cache *c, uint64_t obj, uint64_t index, uint32_t off, uint32_t len,
	    void *dst, pc_fill_fn fill, void *user, bool *hit)
{
	uint64_t mo = mix64(obj), h = page_hash(mo, index);
	struct pc_shard *s = shard_of(c, mo, index);
	struct pc_page *p, *mine;
	int rc;

	if (hit)
		*hit = false;
	if (off > PC_PAGE_SIZE || len > PC_PAGE_SIZE - off || (len && !dst) || !fill)
		return -EINVAL;

	pthread_mutex_lock(&s->lock);
	p = ht_find(s, h, obj, index);
	if (p && p->state == PC_COMPLETE) {
		if (p->freq < PC_FREQ_MAX)
			p->freq++;
		page_pin(p);
		stat_add(&s->st.hits, 1);
		pthread_mutex_unlock(&s->lock);
		if (len)
			copy_out(dst, p->data + off, len);
		page_unpin(c, p);
		if (hit)
			*hit = true;
		return 0;
	}
	stat_add(&s->st.misses, 1);

	p = flight_find(s, h, obj, index);
	if (p) {
		struct pc_waiter w = { .woken = false };

		/* a fill that reads its own page would wait for itself */
		if (pthread_equal(p->filler, pthread_self())) {
			pthread_mutex_unlock(&s->lock);
			return -EDEADLK;
		}
		if (pthread_cond_init(&w.cv, NULL)) {
			pthread_mutex_unlock(&s->lock);
			return -ENOMEM;
		}
		page_pin(p);
		w.next = p->waiters;
		p->waiters = &w;
		do
			pthread_cond_wait(&w.cv, &s->lock);
		while (!w.woken);
		if (p->state == PC_COMPLETE) {
			pthread_mutex_unlock(&s->lock);
			pthread_cond_destroy(&w.cv);
			if (len)
				copy_out(dst, p->data + off, len);
			page_unpin(c, p);
			return 0;
		}
		/* failed: its waiters share the error, which is not cached */
		rc = p->err;
		if (page_release(p))
			page_free(c, s, p);
		pthread_mutex_unlock(&s->lock);
		pthread_cond_destroy(&w.cv);
		return rc;
	}

	/* We fill.  The page goes on the flight list, not in the table. */
	mine = page_get(c, s, obj, index, h);
	if (!mine) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	mine->filler = pthread_self();
	mine->next = s->flights;
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
		if (!p || p->state != PC_COMPLETE) {
			page_pin(mine);		/* the table's reference, if it takes it */
			if (shard_insert(c, s, mine, p) <= 0)
				page_release(mine);	/* ours is still held: never the last */
		}
	} else {
		mine->err = rc;
		mine->state = PC_FAILED;
	}
	for (struct pc_waiter *w = mine->waiters, *next; w; w = next) {
		next = w->next;
		w->woken = true;
		pthread_cond_signal(&w->cv);
	}
	mine->waiters = NULL;
	pthread_mutex_unlock(&s->lock);

	if (!rc && len)
		copy_out(dst, mine->data + off, len);
	page_unpin(c, mine);
	return rc;
}

int pc_put(struct pc_cache *c, uint64_t obj, uint64_t index, const void *data, uint32_t valid,
	   bool complete)
{
	uint64_t mo = mix64(obj), h = page_hash(mo, index);
	struct pc_shard *s = shard_of(c, mo, index);
	struct pc_page *p, *cur;
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
	if (cur && (cur->state == PC_COMPLETE || (!complete && cur->valid >= valid))) {
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	p = page_get(c, s, obj, index, h);
	pthread_mutex_unlock(&s->lock);
	if (!p)
		return -ENOMEM;

	/* the page is ours alone until inserted: copy (and fault it in) unlocked */
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
		rc = shard_insert(c, s, p, cur);
	/* our reference became the table's, or nobody wants the page */
	if (rc <= 0)
		page_free(c, s, p);
	pthread_mutex_unlock(&s->lock);
	return rc < 0 ? rc : 0;
}

uint32_t pc_peek_partial(struct pc_cache *c, uint64_t obj, uint64_t index, void *buf)
{
	uint64_t mo = mix64(obj), h = page_hash(mo, index);
	struct pc_shard *s = shard_of(c, mo, index);
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

bool pc_peek_complete(struct pc_cache *c, uint64_t obj, uint64_t index, void *buf)
{
	uint64_t mo = mix64(obj), h = page_hash(mo, index);
	struct pc_shard *s = shard_of(c, mo, index);
	struct pc_page *p;
	bool found;

	pthread_mutex_lock(&s->lock);
	p = ht_find(s, h, obj, index);
	found = p && p->state == PC_COMPLETE;
	if (found)
		memcpy(buf, p->data, PC_PAGE_SIZE);
	pthread_mutex_unlock(&s->lock);
	return found;
}

bool pc_contains(struct pc_cache *c, uint64_t obj, uint64_t index)
{
	uint64_t mo = mix64(obj), h = page_hash(mo, index);
	struct pc_shard *s = shard_of(c, mo, index);
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
	pthread_mutex_lock(&c->pool.lock);
	st->mem_bytes = c->pool.nalloc * PC_PAGE_SIZE;
	pthread_mutex_unlock(&c->pool.lock);
}
