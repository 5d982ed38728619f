/* SPDX-License-Identifier: MIT */
/*
 * Byte counters kept per domain and per image (the page cache counts its
 * own hits and misses).
 *
 * Every read adds to its image's and its domain's counters, from whichever
 * thread reads: one shared cache line per counter set would bounce between
 * the CPUs of readers of different files.  So each set is split into
 * cache-line slots, one picked by the CPU the adding thread runs on;
 * threads on different CPUs mostly add to different lines.  An add is
 * still an atomic read-modify-write (two threads may share a slot, or a
 * thread may move to another CPU mid-add), so nothing is lost: a counter's
 * value is the exact sum of its slots, read with relaxed loads and no lock.
 * A struct holding counters must be allocated with its alignment
 * (aligned_alloc), or UBSan rightly complains.
 */
#ifndef ESHARE_COUNTERS_H
#define ESHARE_COUNTERS_H

#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

enum counter_id {
	CNT_LOGICAL,      /* bytes returned by reads */
	CNT_BACKEND,      /* bytes read from the backends */
	CNT_DECOMPRESSED, /* bytes the decoders produced */
	CNT_HASHED,       /* bytes hashed for sharing */
	CNT_VERIFY_FAIL,  /* contents that did not match their fingerprint */
	CNT_NR
};

#define COUNTER_SLOTS 16u /* a power of two */
#define COUNTER_ALIGN 64  /* a cache line */

struct counter_slot {
	alignas(COUNTER_ALIGN) atomic_uint_least64_t v[CNT_NR];
};

struct eshare_counters {
	struct counter_slot slot[COUNTER_SLOTS];
};

/* The slot of the calling thread: its CPU's (rseq makes this a load). */
static inline unsigned counter_slot_index(void)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? 0 : (unsigned)cpu & (COUNTER_SLOTS - 1);
}

static inline void counter_add(struct eshare_counters *c, enum counter_id id, uint64_t v)
{
	atomic_fetch_add_explicit(&c->slot[counter_slot_index()].v[id], v, memory_order_relaxed);
}

/* Add @v to a counter of both @a and @b (an image's and its domain's). */
static inline void counter_add2(struct eshare_counters *a, struct eshare_counters *b,
				enum counter_id id, uint64_t v)
{
	unsigned s = counter_slot_index();

	atomic_fetch_add_explicit(&a->slot[s].v[id], v, memory_order_relaxed);
	atomic_fetch_add_explicit(&b->slot[s].v[id], v, memory_order_relaxed);
}

static inline uint64_t counter_load(const struct eshare_counters *c, enum counter_id id)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < COUNTER_SLOTS; i++)
		sum += atomic_load_explicit(&c->slot[i].v[id], memory_order_relaxed);
	return sum;
}

/* Copy @c into the counter fields of @s. */
static inline void counters_to_stats(struct eshare_stats *s, const struct eshare_counters *c)
{
	s->logical_bytes = counter_load(c, CNT_LOGICAL);
	s->backend_bytes_read = counter_load(c, CNT_BACKEND);
	s->decompressed_bytes = counter_load(c, CNT_DECOMPRESSED);
	s->hashed_bytes = counter_load(c, CNT_HASHED);
	s->verify_failures = counter_load(c, CNT_VERIFY_FAIL);
}

#endif
