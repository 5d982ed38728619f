// SPDX-License-Identifier: MIT
/*
 * lib/cache/pagecache.c: the page cache behind every read (its API).
 *
 * Layout.  Pages live in hash tables split into shards; each shard has its
 * own mutex, its own share of the budget and its own eviction policy
 * state, so threads that read different pages rarely meet on a lock.  The
 * shard of a page is picked by (object, index / 16): a run of 16
 * consecutive pages of an object shares one shard, and a range read takes
 * one lock for up to 16 pages instead of one a page.
 *
 * The modules: page memory (pc_mem.c), a shard's table, objects and single
 * flight (pc_table.c), the eviction policy (pc_policy.h: S3-FIFO in
 * pc_s3fifo.c, the default; LRU in pc_lru.c, to compare against).
 *
 * Lifetime.  p->refs counts one reference for the table and one per pin.  A
 * reader pins under the shard lock and copies after dropping it; unpinning
 * needs no lock, so the count is atomic.  Eviction only unlinks a page and
 * drops the table's reference: an evicted pinned page goes back to the
 * spares of its shard when its last unpinner takes the lock to put it
 * there.  Everything else about a page (queue links, frequency bits) is
 * only touched under the shard lock and is plain memory.
 *
 * Statistics.  Counters are per shard and only written under the shard
 * lock, so a relaxed load and store updates them (no locked instruction on
 * the hit path); pc_get_stats() sums relaxed loads without taking a shard
 * lock (only the pool's, for the memory it holds).
 *
 * Lock order: a shard lock, then the pool lock or an object stripe lock,
 * or the lock of the chunks kept across caches (pc_mem.c; nothing is
 * taken under it); no two shard locks are ever held at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pc_internal.h"

/*
 * The shard of a run of PC_RUN pages: a hash of its own (the constant keeps
 * it apart from page_hash() of the same object), top bits.
 */
static inline struct pc_shard *shard_of(struct pc_cache *c, uint64_t mo, uint64_t index)
{
	uint64_t h = mix64((mo ^ 0x9e3779b97f4a7c15ULL) + (index >> PC_RUN_SHIFT));

	return &c->shards[(h >> 58) & (c->nshards - 1)];
}

/* ---- creation and teardown ---- */

const struct pc_policy_ops *pc_policy_find(const char *name)
{
	static const struct pc_policy_ops *const all[] = { &pc_policy_s3fifo, &pc_policy_lru };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(all[i]->name, name))
			return all[i];
	return NULL;
}

void pc_destroy(struct pc_cache *c)
{
	unsigned int i;

	if (!c)
		return;
	for (i = 0; i < c->ninit; i++)
		pc_shard_free(c, &c->shards[i]);
	free(c->shards);
	pc_pool_free(&c->pool);
	pc_objtab_free(c);
	free(c);
}

int pc_create_policy(struct pc_cache **out, uint64_t budget, const struct pc_policy_ops *policy)
{
	uint64_t total = budget / PC_PAGE_SIZE;
	struct pc_cache *c;
	unsigned int i, n = 1;

	*out = NULL;
	if (!policy)
		return -EINVAL;
	if (total < PC_MIN_PAGES)
		total = PC_MIN_PAGES;
	if (total > PC_MAX_PAGES)
		total = PC_MAX_PAGES;
	/* more shards only while each keeps enough pages for its policy to work */
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
	if (pc_objtab_init(c)) {
		pthread_mutex_destroy(&c->pool.lock);
		free(c);
		return -ENOMEM;
	}
	atomic_init(&c->next_id, 1);
	c->policy = policy;
	c->nshards = n;
	c->budget = total * PC_PAGE_SIZE;
	c->pool.limit = total;
	c->shards = aligned_alloc(PC_CACHELINE, n * sizeof(*c->shards));
	if (!c->shards)
		goto err;
	for (i = 0; i < n; i++) {
		uint32_t cap = (uint32_t)(total / n + (i < total % n));

		if (pc_shard_init(c, &c->shards[i], cap))
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

int pc_create(struct pc_cache **out, uint64_t budget)
{
	return pc_create_policy(out, budget, &pc_policy_s3fifo);
}

/* ---- objects ---- */

uint64_t pc_object_new(struct pc_cache *c, unsigned cls)
{
	uint64_t id = atomic_fetch_add_explicit(&c->next_id, 1, memory_order_relaxed);

	/*
	 * Out of memory the id is still valid; it is just never live, so its
	 * pages are read through the fill and not cached.
	 */
	pc_objtab_add(c, id, cls < PC_NCLASSES ? cls : PC_CLASS_DATA);
	return id;
}

void pc_object_drop(struct pc_cache *c, uint64_t obj)
{
	uint64_t shards = pc_objtab_remove(c, obj);
	unsigned int i;

	/*
	 * From here on no shard accepts a new page of obj; remove the old
	 * ones.  A shard that took a page of it asked the live table first
	 * and left its bit in @shards: the others are skipped, so that
	 * dropping a small file takes one or two shard locks, not 64.
	 * Nothing of an id that was not live is cached anywhere.
	 */
	for (i = 0; i < c->nshards; i++)
		if (shards & ((uint64_t)1 << i))
			pc_shard_drop_object(c, &c->shards[i], obj);
}

bool pc_object_live(struct pc_cache *c, uint64_t obj)
{
	return pc_objtab_live(c, obj);
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
static uint32_t pin_run(struct pc_cache *c, struct pc_shard *s, uint64_t obj, uint64_t mo,
			uint64_t index, uint32_t n, struct pc_page **pages)
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
			p = pc_ht_find(s, h[i], obj, index + i);
		if (!p || p->state != PC_COMPLETE)
			break;
		pc_shard_hit(c, s, p);
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

		got = pin_run(c, shard_of(c, mo, index), obj, mo, index, n, pages);
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
			pc_page_unpin(c, pages[i]);
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
	struct pc_page *p;
	int rc;

	if (hit)
		*hit = false;
	if (off > PC_PAGE_SIZE || len > PC_PAGE_SIZE - off || (len && !dst) || !fill)
		return -EINVAL;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		p = pc_ht_find(s, h, obj, index);
		if (p && p->state == PC_COMPLETE) {
			pc_shard_hit(c, s, p);
			page_pin(p);
			stat_add(&s->st.hits, 1);
			pthread_mutex_unlock(&s->lock);
			if (len)
				copy_out(dst, p->data + off, len);
			pc_page_unpin(c, p);
			if (hit)
				*hit = true;
			return 0;
		}
		/* a page for the fill at hand, or grow the pool unlocked and look again */
		if (pc_spares_take(c, s))
			break;
		pthread_mutex_unlock(&s->lock);
		rc = pc_spares_grow(c, s);
		pthread_mutex_lock(&s->lock);
		if (rc)
			break;		/* a waiter needs no page; a filler fails below */
	}
	stat_add(&s->st.misses, 1);

	p = pc_flight_find(s, h, obj, index);
	if (p) {
		/* another thread fills it: wait for that fill, share its result */
		rc = pc_flight_wait(c, s, p);
		pthread_mutex_unlock(&s->lock);
		if (rc)
			return rc;
		if (len)
			copy_out(dst, p->data + off, len);
		pc_page_unpin(c, p);
		return 0;
	}

	/* We fill.  The page goes on the flight list, not in the table. */
	p = pc_page_get(c, s, obj, index, h);
	if (!p) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	pc_flight_start(s, p);
	pthread_mutex_unlock(&s->lock);

	rc = fill(user, index, p->data);
	if (rc > 0)
		rc = -EIO;

	pthread_mutex_lock(&s->lock);
	pc_flight_end(c, s, p, rc);
	pthread_mutex_unlock(&s->lock);

	if (!rc && len)
		copy_out(dst, p->data + off, len);
	pc_page_unpin(c, p);
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
	for (;;) {
		cur = pc_ht_find(s, h, obj, index);
		if (cur && (cur->state == PC_COMPLETE || (!complete && cur->valid >= valid))) {
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
		if (pc_spares_take(c, s))
			break;
		pthread_mutex_unlock(&s->lock);
		rc = pc_spares_grow(c, s);
		pthread_mutex_lock(&s->lock);
		if (rc)
			break;
	}
	p = pc_page_get(c, s, obj, index, h);
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
	cur = pc_ht_find(s, h, obj, index);
	if (cur && (cur->state == PC_COMPLETE || (!complete && cur->valid >= valid)))
		rc = 0;
	else
		rc = pc_shard_insert(c, s, p, cur);
	/* our reference became the table's, or nobody wants the page */
	if (rc <= 0)
		pc_page_free(c, s, p);
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
	p = pc_ht_find(s, h, obj, index);
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
	p = pc_ht_find(s, h, obj, index);
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
	p = pc_ht_find(s, h, obj, index);
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
