// SPDX-License-Identifier: MIT
/*
 * lib/cache/pc_s3fifo.c: S3-FIFO eviction (Yang et al., SOSP'23), one
 * instance a shard.
 *
 * A new page enters a small FIFO (a tenth of the shard).  Leaving it, a
 * page that was hit meanwhile moves to the main FIFO; one that was not is
 * evicted and its key remembered in a ghost table.  The main FIFO is a
 * CLOCK: a page at its tail with a non-zero frequency goes round again with
 * one less.  A one-pass scan therefore only churns the small FIFO and
 * leaves the hot pages in the main one alone; a page whose key is still in
 * the ghost table was evicted too early and goes straight to the main FIFO.
 */
#include <stdlib.h>

#include "pc_internal.h"

#define S3_MAX_GHOST_BITS 16
#define S3_FREQ_MAX 3		/* two frequency bits, as in S3-FIFO */

enum { S3_Q_NONE, S3_Q_SMALL, S3_Q_MAIN };

struct s3_ghost {
	uint64_t fp;	/* key hash | 1; 0 = empty */
	uint64_t stamp;	/* value of gclock when it was added */
};

struct s3fifo {
	struct pc_queue small, main;
	struct s3_ghost *ghost;
	uint64_t gmask;
	uint64_t gclock;	/* ghost insertions so far */
	uint32_t small_cap, ghost_cap;
};

/* ---- the ghost table: keys evicted from the small FIFO unhit ---- */

/*
 * A direct-mapped table of key hashes stamped with an insertion counter; an
 * entry counts while fewer than ghost_cap keys were added after it, which
 * makes it a FIFO of about the main queue's size.  A collision forgets the
 * older key: the ghost table is a hint, and losing one only means a page
 * enters the small FIFO once more.
 */
static inline struct s3_ghost *ghost_slot(struct s3fifo *q, uint64_t h)
{
	return &q->ghost[(h >> 24) & q->gmask];
}

static void ghost_add(struct s3fifo *q, uint64_t h)
{
	struct s3_ghost *g;

	/*
	 * The table is made at the shard's first eviction: a cache that never
	 * fills up (most of a short process's) never touches its memory.
	 * Without it, keys are forgotten, which is all a ghost table may do.
	 */
	if (!q->ghost) {
		q->ghost = calloc(q->gmask + 1, sizeof(*q->ghost));
		if (!q->ghost)
			return;
	}
	g = ghost_slot(q, h);

	g->fp = h | 1;
	g->stamp = ++q->gclock;
}

static bool ghost_take(struct s3fifo *q, uint64_t h)
{
	struct s3_ghost *g;

	/* nothing was ever evicted here (no table yet): skip a cold cache miss */
	if (!q->gclock)
		return false;
	g = ghost_slot(q, h);
	if (g->fp != (h | 1) || q->gclock - g->stamp >= q->ghost_cap)
		return false;
	g->fp = 0;
	return true;
}

/* ---- the policy ---- */

static void *s3_create(uint32_t cap)
{
	struct s3fifo *q = calloc(1, sizeof(*q));
	unsigned int gb;

	if (!q)
		return NULL;
	q->small_cap = cap / 10 ? cap / 10 : 1;
	q->ghost_cap = cap > q->small_cap ? cap - q->small_cap : 1;
	gb = pc_clamp_bits(pc_ceil_log2(q->ghost_cap), S3_MAX_GHOST_BITS);
	q->gmask = ((uint64_t)1 << gb) - 1;
	return q;
}

static void s3_destroy(void *pol)
{
	struct s3fifo *q = pol;

	if (q)
		free(q->ghost);
	free(q);
}

static void push(struct s3fifo *q, struct pc_page *p, int which)
{
	p->queue = (uint8_t)which;
	pc_queue_push(which == S3_Q_SMALL ? &q->small : &q->main, p);
}

static void s3_insert(void *pol, struct pc_page *p)
{
	struct s3fifo *q = pol;

	p->freq = 0;
	push(q, p, ghost_take(q, p->hash) ? S3_Q_MAIN : S3_Q_SMALL);
}

static void s3_hit(void *pol, struct pc_page *p)
{
	(void)pol;
	if (p->freq < S3_FREQ_MAX)
		p->freq++;
}

static void s3_remove(void *pol, struct pc_page *p)
{
	struct s3fifo *q = pol;

	pc_queue_remove(p->queue == S3_Q_SMALL ? &q->small : &q->main, p);
	p->queue = S3_Q_NONE;
}

static struct pc_page *s3_victim(void *pol)
{
	struct s3fifo *q = pol;
	struct pc_page *p;

	/* each pass moves a page or lowers a frequency: it ends */
	for (;;) {
		if (q->small.count && (q->small.count >= q->small_cap || !q->main.count)) {
			p = q->small.tail;
			if (p->freq) {
				/* hit while on probation: keep it */
				s3_remove(q, p);
				p->freq = 0;
				push(q, p, S3_Q_MAIN);
				continue;
			}
			ghost_add(q, p->hash);
			return p;
		}
		p = q->main.tail;
		if (!p)
			return NULL;
		if (p->freq) {
			p->freq--;
			s3_remove(q, p);
			push(q, p, S3_Q_MAIN);
			continue;
		}
		return p;
	}
}

const struct pc_policy_ops pc_policy_s3fifo = {
	.name = "s3fifo",
	.create = s3_create,
	.destroy = s3_destroy,
	.insert = s3_insert,
	.hit = s3_hit,
	.remove = s3_remove,
	.victim = s3_victim,
};
