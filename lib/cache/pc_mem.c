// SPDX-License-Identifier: MIT
/*
 * lib/cache/pc_mem.c: the page cache's page memory.
 *
 * Page data and headers come from chunks (up to 2 MiB, aligned and
 * madvise()d for a transparent huge page: one fault instead of 512) that a
 * cache-wide pool carves and never returns before pc_destroy().  Each shard
 * keeps a few spare pages; it takes them from the pool in batches and gives
 * the surplus back, so a full shard recycles the page it evicts for the
 * next one it stores, with no malloc() and no fault.  The pool grows in
 * chunks up to the budget plus the shards' spares; past that (pages filled
 * or evicted while pinned are outside the budget) it grows only by what is
 * asked, and everything it grew by is used again afterwards.
 *
 * A spare page is poisoned for ASan, so a read of a freed page is caught;
 * a page handed out is never on a free list, and a page goes back to one
 * only when its last reference is dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pc_internal.h"

#define PC_CHUNK_MIN 16u	/* pages in the pool's first chunk */
#define PC_CHUNK_MAX 512u	/* 2 MiB: one transparent huge page */
#define PC_HUGE_SIZE ((size_t)PC_CHUNK_MAX * PC_PAGE_SIZE)
#define PC_RESERVE_MAX 128u	/* huge chunks kept across caches: 256 MiB */

/*
 * The largest chunks of destroyed caches, kept for the next cache of the
 * process: a program that makes one domain after another would otherwise
 * have the kernel zero every page of each anew (a third of the CPU time of
 * reading a whole image into a new domain went to clear_page).  They are
 * madvise()d MADV_FREE: the kernel may take them back under memory
 * pressure, and until it does, reusing them costs no fault.  Their bytes
 * are stale, never read: a page is written whole before it can be read.
 */
static struct {
	pthread_mutex_t lock;
	void *maps[PC_RESERVE_MAX];
	unsigned int n;
} reserve = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *reserve_take(void)
{
	void *m = NULL;

	pthread_mutex_lock(&reserve.lock);
	if (reserve.n)
		m = reserve.maps[--reserve.n];
	pthread_mutex_unlock(&reserve.lock);
	return m;
}

static bool reserve_put(void *map)
{
	bool kept = false;

#ifdef MADV_FREE
	madvise(map, PC_HUGE_SIZE, MADV_FREE);
#endif
	PC_POISON(map, PC_HUGE_SIZE);
	pthread_mutex_lock(&reserve.lock);
	if (reserve.n < PC_RESERVE_MAX) {
		reserve.maps[reserve.n++] = map;
		kept = true;
	}
	pthread_mutex_unlock(&reserve.lock);
	return kept;
}

uint64_t pc_mem_reserve_bytes(void)
{
	uint64_t n;

	pthread_mutex_lock(&reserve.lock);
	n = reserve.n;
	pthread_mutex_unlock(&reserve.lock);
	return n * PC_HUGE_SIZE;
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
static void *chunk_map(uint32_t n, size_t *len, bool populate)
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
#ifdef MADV_POPULATE_WRITE
	/*
	 * Every page of a chunk is about to be used: fault them all in with
	 * one call rather than one fault each, which matters where the huge
	 * page is refused (512 faults) and for the smaller first chunks.
	 * Only a hint: what it does not populate faults in on first use.
	 */
	if (populate)
		madvise(a, sz, MADV_POPULATE_WRITE);
#endif
	*len = sz;
	return a;
}

/*
 * Headers for a chunk of @n pages.  Those of the largest chunks come from
 * slabs of a huge page each (16384 headers: 64 MiB of data), so that a big
 * cache does not fault in its headers a 4 KiB page at a time (a fresh
 * process reading a 200 MB image took 1,500 such faults); the smaller first
 * chunks, all a small cache has, use malloc().  The pool lock is held.
 */
static struct pc_page *hdrs_alloc(struct pc_pool *pl, uint32_t n, bool *malloced)
{
	size_t need = (size_t)n * sizeof(struct pc_page);
	struct pc_hdrslab *sl;
	struct pc_page *h;

	*malloced = n < PC_CHUNK_MAX;
	if (*malloced)
		return aligned_alloc(PC_CACHELINE, need);
	if (pl->slab_left < need) {
		sl = malloc(sizeof(*sl));
		if (!sl)
			return NULL;
		sl->map = chunk_map(PC_CHUNK_MAX, &sl->map_len, false);
		if (!sl->map || sl->map_len < need) {
			if (sl->map)
				munmap(sl->map, sl->map_len);
			free(sl);
			return NULL;
		}
		sl->next = pl->slabs;
		pl->slabs = sl;
		pl->slab_carve = sl->map;
		pl->slab_left = sl->map_len;
	}
	h = (struct pc_page *)pl->slab_carve;
	pl->slab_carve += need;
	pl->slab_left -= need;
	return h;
}

/* Move @k pages of the chunk being carved onto *@list. */
static void carve(struct pc_pool *pl, uint32_t k, struct pc_page **list)
{
	struct pc_page *p;
	uint32_t i;

	/*
	 * List them in address order: a run of an object stored in one go
	 * then lies in ascending memory, which the CPU's prefetchers follow
	 * when it is read back.
	 */
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
}

/*
 * Add a chunk of at least @want pages to the pool: the chunks double from
 * PC_CHUNK_MIN to PC_CHUNK_MAX pages while the pool stays within its limit.
 * The pool lock is held, and dropped while the chunk is mapped and faulted
 * in (milliseconds for a huge page the host must provide): other threads
 * meanwhile take pages that are free, or grow the pool too.
 */
static int pool_grow(struct pc_pool *pl, uint32_t want)
{
	uint64_t n = pl->nalloc > PC_CHUNK_MIN ? pl->nalloc : PC_CHUNK_MIN;
	struct pc_chunk *ch;
	void *map = NULL;
	size_t map_len = 0;

	if (n > PC_CHUNK_MAX)
		n = PC_CHUNK_MAX;
	if (pl->nalloc + n > pl->limit)
		n = pl->limit > pl->nalloc ? pl->limit - pl->nalloc : 0;
	if (n < want)
		n = want;
	pl->nalloc += n;	/* counted now, so that a grower meanwhile sees it */
	pthread_mutex_unlock(&pl->lock);
	if (n == PC_CHUNK_MAX && (map = reserve_take()) != NULL) {
		map_len = PC_HUGE_SIZE;
#ifdef MADV_POPULATE_WRITE
		/* pages the kernel took back while kept: fault them in again at once */
		madvise(map, PC_HUGE_SIZE, MADV_POPULATE_WRITE);
#endif
	} else {
		map = chunk_map((uint32_t)n, &map_len, true);
	}
	ch = malloc(sizeof(*ch));
	pthread_mutex_lock(&pl->lock);
	if (ch && map)
		ch->hdrs = hdrs_alloc(pl, (uint32_t)n, &ch->hdrs_malloced);
	if (!ch || !map || !ch->hdrs) {
		pl->nalloc -= n;
		if (map)
			chunk_unmap(map, map_len);
		free(ch);
		return -ENOMEM;
	}
	ch->map = map;
	ch->map_len = map_len;
	PC_POISON(ch->map, ch->map_len);
	ch->next = pl->chunks;
	pl->chunks = ch;
	/* another grower's chunk, not all carved: its pages become free ones */
	if (pl->carve_left)
		carve(pl, pl->carve_left, &pl->free);
	pl->carve_data = ch->map;
	pl->carve_hdr = ch->hdrs;
	pl->carve_left = (uint32_t)n;
	return 0;
}

/*
 * Move up to @want pages onto *@list: at least one unless out of memory,
 * or, if not @grow, unless the pool has no page left without growing.
 */
static uint32_t pool_take(struct pc_pool *pl, uint32_t want, struct pc_page **list, bool grow)
{
	uint32_t got = 0, k;
	struct pc_page *p;

	pthread_mutex_lock(&pl->lock);
	for (;;) {
		while (got < want && pl->free) {
			p = pl->free;
			pl->free = p->next;
			p->next = *list;
			*list = p;
			got++;
		}
		if (got < want && pl->carve_left) {
			k = want - got < pl->carve_left ? want - got : pl->carve_left;
			carve(pl, k, list);
			got += k;
		}
		/* on failure we make do with what we got */
		if (got || !grow || pool_grow(pl, want - got))
			break;
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

void pc_pool_free(struct pc_pool *pl)
{
	struct pc_chunk *ch, *next;
	struct pc_hdrslab *sl, *snext;

	for (ch = pl->chunks; ch; ch = next) {
		next = ch->next;
		if (ch->map_len != PC_HUGE_SIZE || !reserve_put(ch->map))
			chunk_unmap(ch->map, ch->map_len);
		if (ch->hdrs_malloced)
			free(ch->hdrs);
		free(ch);
	}
	for (sl = pl->slabs; sl; sl = snext) {
		snext = sl->next;
		munmap(sl->map, sl->map_len);
		free(sl);
	}
	pthread_mutex_destroy(&pl->lock);
}

/* ---- pages of a shard: the shard lock is held ---- */

bool pc_spares_take(struct pc_cache *c, struct pc_shard *s)
{
	if (!s->spare)
		s->nspare += pool_take(&c->pool, s->spare_max, &s->spare, false);
	return s->spare != NULL;
}

int pc_spares_grow(struct pc_cache *c, struct pc_shard *s)
{
	struct pc_page *list = NULL, *last;
	uint32_t got = pool_take(&c->pool, s->spare_max, &list, true);

	if (!got)
		return -ENOMEM;
	for (last = list; last->next; last = last->next)
		;
	pthread_mutex_lock(&s->lock);
	last->next = s->spare;
	s->spare = list;
	s->nspare += got;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

struct pc_page *pc_page_get(struct pc_cache *c, struct pc_shard *s, uint64_t obj,
			    uint64_t index, uint64_t h)
{
	struct pc_page *p;

	pc_spares_take(c, s);
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
	p->queue = 0;
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

void pc_page_free(struct pc_cache *c, struct pc_shard *s, struct pc_page *p)
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

void pc_page_unpin(struct pc_cache *c, struct pc_page *p)
{
	if (page_release(p)) {
		struct pc_shard *s = p->shard;

		pthread_mutex_lock(&s->lock);
		pc_page_free(c, s, p);
		pthread_mutex_unlock(&s->lock);
	}
}
