/* SPDX-License-Identifier: MIT */
/*
 * What the page cache's unit tests (tests/unit/test_pagecache*.c) share:
 * page contents that are a function of (object, index, byte), so a page
 * returned for the wrong key or a torn copy shows up, and a fill that
 * writes them.
 */
#ifndef PC_TESTLIB_H
#define PC_TESTLIB_H

#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cache/pagecache.h"

#define PAGE PC_PAGE_SIZE

static inline uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The content of page @index of object @obj. */
static inline void pattern(uint64_t obj, uint64_t index, unsigned char *buf)
{
	uint64_t seed = splitmix(splitmix(obj) ^ (index * 0x100000001b3ULL));
	uint32_t i;

	for (i = 0; i < PAGE; i += 8) {
		uint64_t v = splitmix(seed + i);

		memcpy(buf + i, &v, 8);
	}
}

static inline bool range_ok(uint64_t obj, uint64_t index, uint32_t off, uint32_t len,
			    const void *got)
{
	unsigned char want[PAGE];

	pattern(obj, index, want);
	return memcmp(want + off, got, len) == 0;
}

static inline void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A fill context for single-threaded tests. */
struct fctx {
	struct pc_cache *c;
	uint64_t obj;
	atomic_int calls;
	int fail_first;		/* return this error from the first n calls */
	int fail_count;
	unsigned int sleep_ms;
	uint32_t peeked;	/* what pc_peek_partial() gave inside the fill */
	bool peek_ok;
	bool drop_in_fill;
	_Atomic uint64_t filled;	/* bit i: page i (< 64) was filled */
	uint64_t wait_misses;	/* a fill returns once the cache counted this many misses */
};

static inline int fill_pattern(void *user, uint64_t index, void *page)
{
	struct fctx *f = user;
	int n = atomic_fetch_add(&f->calls, 1);

	if (f->sleep_ms)
		sleep_ms(f->sleep_ms);
	/* hold the fill until every reader of the test missed (and waits) */
	for (unsigned waited = 0; f->wait_misses && waited < 60000; waited++) {
		struct pc_stats st;

		pc_get_stats(f->c, &st);
		if (st.misses >= f->wait_misses)
			break;
		sleep_ms(1);
	}
	if (n < f->fail_count)
		return f->fail_first;
	if (f->drop_in_fill)
		pc_object_drop(f->c, f->obj);
	if (index < 64)
		atomic_fetch_or(&f->filled, (uint64_t)1 << index);
	pattern(f->obj, index, page);
	return 0;
}

/* Completes a partial page: reads its prefix back, then the rest. */
static inline int fill_complete_partial(void *user, uint64_t index, void *page)
{
	struct fctx *f = user;
	unsigned char buf[PAGE];

	atomic_fetch_add(&f->calls, 1);
	f->peeked = pc_peek_partial(f->c, f->obj, index, buf);
	f->peek_ok = range_ok(f->obj, index, 0, f->peeked, buf);
	pattern(f->obj, index, page);
	return 0;
}

static inline int calls(struct fctx *f)
{
	return atomic_load(&f->calls);
}

static inline struct pc_stats stats(struct pc_cache *c)
{
	struct pc_stats st;

	pc_get_stats(c, &st);
	return st;
}

static inline int read_page(struct pc_cache *c, struct fctx *f, uint64_t index, bool *hit)
{
	unsigned char buf[PAGE];
	int rc = pc_read(c, f->obj, index, 0, PAGE, buf, fill_pattern, f, hit);

	if (!rc)
		ck_assert_msg(range_ok(f->obj, index, 0, PAGE, buf), "page %llu content",
			      (unsigned long long)index);
	return rc;
}

#endif
