/* SPDX-License-Identifier: MIT */
/*
 * Byte counters kept per domain and per image (the page cache counts its
 * own hits and misses).  Updated with relaxed atomics, read without locks.
 */
#ifndef ESHARE_COUNTERS_H
#define ESHARE_COUNTERS_H

#include <stdatomic.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

struct eshare_counters {
	atomic_uint_least64_t logical_bytes;
	atomic_uint_least64_t backend_bytes_read;
	atomic_uint_least64_t decompressed_bytes;
	atomic_uint_least64_t hashed_bytes;
	atomic_uint_least64_t verify_failures;
};

static inline void counter_add(atomic_uint_least64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static inline uint64_t counter_load(const atomic_uint_least64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Copy @c into the counter fields of @s. */
static inline void counters_to_stats(struct eshare_stats *s, const struct eshare_counters *c)
{
	s->logical_bytes = counter_load(&c->logical_bytes);
	s->backend_bytes_read = counter_load(&c->backend_bytes_read);
	s->decompressed_bytes = counter_load(&c->decompressed_bytes);
	s->hashed_bytes = counter_load(&c->hashed_bytes);
	s->verify_failures = counter_load(&c->verify_failures);
}

#endif
