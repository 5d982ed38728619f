/* SPDX-License-Identifier: MIT */
/*
 * lib/cache: what the page cache's modules share (not for the rest of the
 * library, which sees pagecache.h alone).
 *
 *   pagecache.c  the API: creation, objects, reads and writes, statistics
 *   pc_mem.c     page memory: chunks, the cache-wide pool, a shard's spares
 *   pc_table.c   a shard's table of pages, the pages of each object, the
 *                live objects, inserting and unlinking, single flight
 *   pc_policy.h  the eviction policy interface; pc_s3fifo.c, pc_lru.c
 *
 * Everything below that is not atomic is only touched under the lock of
 * the shard its page belongs to (see pagecache.c for the whole design).
 */
#ifndef PC_INTERNAL_H
#define PC_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pagecache.h"
#include "pc_policy.h"

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
#define PC_OBJ_STRIPES 16u
#define PC_CACHELINE 64
#define PC_RUN_SHIFT 4		/* 16 consecutive pages share a shard */
#define PC_RUN (1u << PC_RUN_SHIFT)
#define PC_SPARE_MAX 16u	/* spare pages a shard keeps, at most (twice that briefly) */

enum pc_state {
	PC_FREE,	/* a spare: in a shard's or the pool's free list */
	PC_FILLING,	/* on the flight list, data being written by the filler */
	PC_FAILED,	/* the fill failed with ->err; never in the table */
	PC_PARTIAL,	/* the first ->valid bytes are known */
	PC_COMPLETE,	/* readable; zeros past ->valid */
};

/* A reader waiting for a fill: on its own stack, linked to the page. */
struct pc_waiter {
	pthread_cond_t cv;
	struct pc_waiter *next;
	bool woken;
};

struct pc_objent;
struct pc_shard;

/* A page header; its data lives in a chunk (pc_mem.c). */
struct pc_page {
	/* what a hit reads and writes, in its first cache line */
	alignas(PC_CACHELINE) uint64_t obj, index;
	atomic_uint refs;
	uint32_t valid;
	uint8_t state, cls;
	uint8_t queue, freq;		/* the policy's: which list, how hot */
	int err;
	unsigned char *data;		/* PC_PAGE_SIZE bytes, fixed for the header's life */
	struct pc_page *qnext, *qprev;	/* the policy's list links, zeroed by page_get() */
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

struct pc_counters {
	_Atomic uint64_t hits, misses, fills, evictions;
	_Atomic uint64_t pages[PC_NCLASSES];
};

struct pc_shard {
	alignas(PC_CACHELINE) pthread_mutex_t lock;
	struct pc_slot *slots;
	struct pc_objent **objs;
	struct pc_objent *last_oe;	/* the last object found: puts come in runs */
	void *pol;			/* the eviction policy's state */
	struct pc_page *flights;	/* pages being filled */
	struct pc_page *spare;		/* free pages kept for the next fill or put */
	uint64_t smask, omask, omask_max;
	uint32_t nslots;		/* slots in use */
	uint32_t nobjs;			/* entries in objs[] */
	uint32_t npages, cap;
	uint32_t nspare, spare_max;
	struct pc_counters st;
};

/* An allocation of page memory: data and the headers that point into it. */
struct pc_chunk {
	struct pc_chunk *next;
	void *map;
	size_t map_len;
	struct pc_page *hdrs;
	bool hdrs_malloced;	/* else in a slab */
};

/* A huge page of page headers, carved for the chunks of the largest size. */
struct pc_hdrslab {
	struct pc_hdrslab *next;
	void *map;
	size_t map_len;
};

struct pc_pool {
	alignas(PC_CACHELINE) pthread_mutex_t lock;
	struct pc_page *free;		/* pages the shards gave back */
	struct pc_chunk *chunks;
	struct pc_hdrslab *slabs;
	unsigned char *slab_carve;	/* the newest slab's headers not handed out yet */
	size_t slab_left;		/* bytes */
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
	const struct pc_policy_ops *policy;
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
 * bits pick the table slot, bits 24.. a policy's ghost slot, so the two
 * stay independent.  Range reads hash the object once for all their pages.
 */
static inline uint64_t page_hash(uint64_t mo, uint64_t index)
{
	return mix64(mo + index);
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

/* A FIFO or LRU list of pages for a policy, through qnext/qprev: head = newest. */
struct pc_queue {
	struct pc_page *head, *tail;
	uint32_t count;
};

static inline void pc_queue_push(struct pc_queue *q, struct pc_page *p)
{
	p->qprev = NULL;
	p->qnext = q->head;
	if (q->head)
		q->head->qprev = p;
	else
		q->tail = p;
	q->head = p;
	q->count++;
}

static inline void pc_queue_remove(struct pc_queue *q, struct pc_page *p)
{
	if (p->qprev)
		p->qprev->qnext = p->qnext;
	else
		q->head = p->qnext;
	if (p->qnext)
		p->qnext->qprev = p->qprev;
	else
		q->tail = p->qprev;
	q->count--;
	p->qnext = p->qprev = NULL;
}

unsigned int pc_ceil_log2(uint64_t n);
unsigned int pc_clamp_bits(unsigned int b, unsigned int max);

/* pc_mem.c: page memory */
void pc_pool_free(struct pc_pool *pl);
/* Page memory kept from destroyed caches for the next ones (tests, stats). */
uint64_t pc_mem_reserve_bytes(void);
/*
 * Whether @s has a spare page, taking some from the pool if it has them
 * without growing (the shard lock is held).  If not, drop the shard lock,
 * call pc_spares_grow() (0 or -ENOMEM; it takes the lock to add them) and
 * look again: the pool never maps and faults in a chunk, which may take
 * milliseconds, with a shard locked.
 */
bool pc_spares_take(struct pc_cache *c, struct pc_shard *s);
int pc_spares_grow(struct pc_cache *c, struct pc_shard *s);
/*
 * A page for key (@obj, @index, @h), one reference held; NULL if out of
 * memory or if pc_spares_take() would have said no.
 */
struct pc_page *pc_page_get(struct pc_cache *c, struct pc_shard *s, uint64_t obj,
			    uint64_t index, uint64_t h);
/* @p has no reference left: keep it as a spare, or give spares back to the pool. */
void pc_page_free(struct pc_cache *c, struct pc_shard *s, struct pc_page *p);
/* Drop a reference without the shard lock held. */
void pc_page_unpin(struct pc_cache *c, struct pc_page *p);

/* pc_table.c: a shard's pages, live objects, single flight */
int pc_shard_init(struct pc_cache *c, struct pc_shard *s, uint32_t cap);
void pc_shard_free(struct pc_cache *c, struct pc_shard *s);
/* The page of key (@obj, @index, hash @h) in the table of @s, or NULL. */
static inline struct pc_page *pc_ht_find(const struct pc_shard *s, uint64_t h, uint64_t obj,
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
/* A page of the table was read: tell the policy (the shard lock is held). */
static inline void pc_shard_hit(struct pc_cache *c, struct pc_shard *s, struct pc_page *p)
{
	c->policy->hit(s->pol, p);
}
int pc_shard_insert(struct pc_cache *c, struct pc_shard *s, struct pc_page *p,
		    struct pc_page *cur);
void pc_shard_drop_object(struct pc_cache *c, struct pc_shard *s, uint64_t obj);
int pc_objtab_init(struct pc_cache *c);
void pc_objtab_free(struct pc_cache *c);
int pc_objtab_add(struct pc_cache *c, uint64_t id, unsigned int cls);
uint64_t pc_objtab_remove(struct pc_cache *c, uint64_t id);
bool pc_objtab_live(struct pc_cache *c, uint64_t id);
struct pc_page *pc_flight_find(struct pc_shard *s, uint64_t h, uint64_t obj, uint64_t index);
int pc_flight_wait(struct pc_cache *c, struct pc_shard *s, struct pc_page *p);
void pc_flight_start(struct pc_shard *s, struct pc_page *p);
void pc_flight_end(struct pc_cache *c, struct pc_shard *s, struct pc_page *p, int rc);

#endif
