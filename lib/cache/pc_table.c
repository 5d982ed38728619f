// SPDX-License-Identifier: MIT
/*
 * lib/cache/pc_table.c: what a shard holds, and single flight.
 *
 * Table.  Inside a shard, an open-addressing table of (key hash, page)
 * pairs finds a page: a hit reads one table slot and then the page header
 * it must pin anyway, and a miss usually reads just the slot.  A shard also
 * keeps, per object, the list of its pages in that shard, so dropping an
 * object costs one lookup per shard plus its pages instead of a walk over
 * the whole table.  Which page leaves when the shard is over its budget is
 * the eviction policy's choice (pc_policy.h).
 *
 * Objects.  A table of live ids (striped by id, one mutex a stripe) says
 * whether an object exists, gives its class and notes the shards that
 * took pages of it.  pc_object_drop() removes the id first and then
 * empties those shards, so a page inserted after the drop reached its shard
 * finds the id gone and is discarded, and a page inserted before that is
 * removed by the drop.
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
 * waiter returns the filler's error; the next call fills again.  A page
 * being filled is never in the table: nobody can read it before its fill
 * returned.
 *
 * Every function here but the object table's is called with the shard
 * lock held, unless it says otherwise.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pc_internal.h"

unsigned int pc_ceil_log2(uint64_t n)
{
	unsigned int b = 0;

	while (b < 63 && ((uint64_t)1 << b) < n)
		b++;
	return b;
}

unsigned int pc_clamp_bits(unsigned int b, unsigned int max)
{
	return b < PC_MIN_BITS ? PC_MIN_BITS : b > max ? max : b;
}

/* ---- the hash table of a shard: linear probing, at most half full ---- */

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

struct pc_page *pc_flight_find(struct pc_shard *s, uint64_t h, uint64_t obj, uint64_t index)
{
	struct pc_page *p;

	for (p = s->flights; p; p = p->next)
		if (p->hash == h && p->obj == obj && p->index == index)
			return p;
	return NULL;
}

/* ---- live objects ---- */

static struct pc_objstripe *stripe_of(struct pc_cache *c, uint64_t id, uint64_t *hm)
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

int pc_objtab_init(struct pc_cache *c)
{
	unsigned int i;

	for (i = 0; i < PC_OBJ_STRIPES; i++) {
		if (pthread_mutex_init(&c->objs[i].lock, NULL)) {
			while (i--)
				pthread_mutex_destroy(&c->objs[i].lock);
			return -ENOMEM;
		}
	}
	return 0;
}

void pc_objtab_free(struct pc_cache *c)
{
	unsigned int i;
	size_t k;

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
}

/* Make @id live with class @cls.  No shard lock is needed.  0 or -ENOMEM. */
int pc_objtab_add(struct pc_cache *c, uint64_t id, unsigned int cls)
{
	uint64_t hm;
	struct pc_objstripe *st = stripe_of(c, id, &hm);
	struct pc_obj *o = malloc(sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->id = id;
	o->shards = 0;
	o->cls = cls;
	pthread_mutex_lock(&st->lock);
	if ((!st->b || st->n > st->mask) && objtab_grow(st)) {
		pthread_mutex_unlock(&st->lock);
		free(o);
		return -ENOMEM;
	}
	o->next = st->b[(hm >> 4) & st->mask];
	st->b[(hm >> 4) & st->mask] = o;
	st->n++;
	pthread_mutex_unlock(&st->lock);
	return 0;
}

/*
 * Make @id dead: no shard takes a page of it any more.  Returns the shards
 * that may hold its pages (bit i: shard i); 0 if it was not live.  No shard
 * lock is needed.
 */
uint64_t pc_objtab_remove(struct pc_cache *c, uint64_t id)
{
	uint64_t hm, shards = 0;
	struct pc_objstripe *st = stripe_of(c, id, &hm);
	struct pc_obj **pp, *o = NULL;

	pthread_mutex_lock(&st->lock);
	for (pp = st->b ? &st->b[(hm >> 4) & st->mask] : NULL; pp && *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			o = *pp;
			*pp = o->next;
			st->n--;
			shards = o->shards;
			break;
		}
	}
	pthread_mutex_unlock(&st->lock);
	free(o);
	return shards;
}

/* Whether @id is live.  No shard lock is needed. */
bool pc_objtab_live(struct pc_cache *c, uint64_t id)
{
	uint64_t hm;
	struct pc_objstripe *st = stripe_of(c, id, &hm);
	struct pc_obj *o = NULL;

	pthread_mutex_lock(&st->lock);
	if (st->b)
		for (o = st->b[(hm >> 4) & st->mask]; o && o->id != id; o = o->next)
			;
	pthread_mutex_unlock(&st->lock);
	return o != NULL;
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

/* Double the object table, up to omask_max; out of memory the chains grow. */
static void objent_grow(struct pc_shard *s)
{
	uint64_t n = (s->omask + 1) * 2, i;
	struct pc_objent **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return;
	for (i = 0; i <= s->omask; i++) {
		struct pc_objent *oe = s->objs[i], *next;

		for (; oe; oe = next) {
			next = oe->next;
			oe->next = nb[mix64(oe->obj) & (n - 1)];
			nb[mix64(oe->obj) & (n - 1)] = oe;
		}
	}
	free(s->objs);
	s->objs = nb;
	s->omask = n - 1;
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
	s->nobjs--;
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
	c->policy->remove(s->pol, p);
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
		pc_page_free(c, s, p);
}

/* Evict the policy's victims until the shard fits its budget again. */
static void shard_evict(struct pc_cache *c, struct pc_shard *s)
{
	struct pc_page *p;

	while (s->npages > s->cap && (p = c->policy->victim(s->pol)) != NULL) {
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
int pc_shard_insert(struct pc_cache *c, struct pc_shard *s, struct pc_page *p,
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
		/* chains of two on average at most, as long as it may grow */
		if (++s->nobjs > 2 * (s->omask + 1) && s->omask < s->omask_max)
			objent_grow(s);
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
	c->policy->insert(s->pol, p);
	s->npages++;
	stat_add(&s->st.pages[p->cls], 1);
	shard_evict(c, s);
	return 1;
}


/* Unlink every page of @obj from @s.  Takes the shard lock. */
void pc_shard_drop_object(struct pc_cache *c, struct pc_shard *s, uint64_t obj)
{
	struct pc_objent *oe;

	pthread_mutex_lock(&s->lock);
	/* the last page unlinked frees oe, so look it up each time */
	while ((oe = objent_find(s, obj)) != NULL)
		shard_unlink(c, s, oe->pages, true);
	pthread_mutex_unlock(&s->lock);
}

/* ---- single flight ---- */

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

/* @p (fresh from pc_page_get()) is being filled by this thread. */
void pc_flight_start(struct pc_shard *s, struct pc_page *p)
{
	p->filler = pthread_self();
	p->next = s->flights;
	s->flights = p;
}

/*
 * Wait for the fill of @p (from pc_flight_find()) to end; the lock is
 * dropped while asleep.  Returns 0 with @p complete and pinned (the caller
 * copies after unlocking, then unpins), or the fill's error, -EDEADLK (the
 * caller fills @p itself) or -ENOMEM, with nothing pinned.
 */
int pc_flight_wait(struct pc_cache *c, struct pc_shard *s, struct pc_page *p)
{
	struct pc_waiter w = { .woken = false };
	int rc;

	/* a fill that reads its own page would wait for itself */
	if (pthread_equal(p->filler, pthread_self()))
		return -EDEADLK;
	if (pthread_cond_init(&w.cv, NULL))
		return -ENOMEM;
	page_pin(p);
	w.next = p->waiters;
	p->waiters = &w;
	do
		pthread_cond_wait(&w.cv, &s->lock);
	while (!w.woken);
	/* the filler signalled under the lock we hold: w is no longer used */
	pthread_cond_destroy(&w.cv);
	if (p->state == PC_COMPLETE)
		return 0;
	/* failed: its waiters share the error, which is not cached */
	rc = p->err;
	if (page_release(p))
		pc_page_free(c, s, p);
	return rc;
}

/*
 * The fill of @p (ours, one reference held) returned @rc: publish the page
 * in the table if it succeeded (unless a complete copy got there first or
 * the object was dropped), and wake its waiters either way.  The caller
 * still holds its reference.
 */
void pc_flight_end(struct pc_cache *c, struct pc_shard *s, struct pc_page *p, int rc)
{
	struct pc_page *cur;

	flight_remove(s, p);
	stat_add(&s->st.fills, 1);
	if (!rc) {
		p->valid = PC_PAGE_SIZE;
		p->state = PC_COMPLETE;
		cur = pc_ht_find(s, p->hash, p->obj, p->index);
		/*
		 * A pc_put() may have stored it meanwhile; keep that one.  If
		 * the insert fails (object dropped, no memory) the page is
		 * simply not cached: the waiters still copy from it.
		 */
		if (!cur || cur->state != PC_COMPLETE) {
			page_pin(p);		/* the table's reference, if it takes it */
			if (pc_shard_insert(c, s, p, cur) <= 0)
				page_release(p);	/* ours is still held: never the last */
		}
	} else {
		p->err = rc;
		p->state = PC_FAILED;
	}
	for (struct pc_waiter *w = p->waiters, *next; w; w = next) {
		next = w->next;
		w->woken = true;
		pthread_cond_signal(&w->cv);
	}
	p->waiters = NULL;
}

/* ---- creation and teardown ---- */

void pc_shard_free(struct pc_cache *c, struct pc_shard *s)
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
	c->policy->destroy(s->pol);
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

int pc_shard_init(struct pc_cache *c, struct pc_shard *s, uint32_t cap)
{
	/* at most a page an object, usually fewer */
	unsigned int ob = pc_clamp_bits(pc_ceil_log2(cap / 2 + 1), 18);

	memset(s, 0, sizeof(*s));
	s->cap = cap;
	s->spare_max = cap / 16 < 1 ? 1 : cap / 16 > PC_SPARE_MAX ? PC_SPARE_MAX : cap / 16;
	/*
	 * The tables grow with the pages and objects they hold: an idle big
	 * cache stays small, and a fresh process faults in only what it uses.
	 */
	s->smask = ((uint64_t)1 << PC_TABLE_MIN_BITS) - 1;
	s->omask_max = ((uint64_t)1 << ob) - 1;
	s->omask = s->omask_max < 15 ? s->omask_max : 15;
	s->slots = calloc(s->smask + 1, sizeof(*s->slots));
	s->objs = calloc(s->omask + 1, sizeof(*s->objs));
	s->pol = c->policy->create(cap);
	if (!s->slots || !s->objs || !s->pol)
		goto err;
	if (shard_mutex_init(&s->lock))
		goto err;
	return 0;
err:
	free(s->slots);
	free(s->objs);
	if (s->pol)
		c->policy->destroy(s->pol);
	return -ENOMEM;
}
