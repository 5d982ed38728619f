// SPDX-License-Identifier: MIT
/*
 * Unit tests of lib/cache/pagecache.c: counts, partial pages, budget and
 * eviction, scan resistance, dropping objects, errors, single flight, range
 * reads across shards, reuse of page memory, the shard tables under growth
 * and removal, and multi-threaded stress runs whose every byte is checked.  Page contents are
 * a function of (object, index, byte), so a page returned for the wrong key
 * or a torn copy shows up.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/pagecache.h"

#define PAGE PC_PAGE_SIZE

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The content of page @index of object @obj. */
static void pattern(uint64_t obj, uint64_t index, unsigned char *buf)
{
	uint64_t seed = splitmix(splitmix(obj) ^ (index * 0x100000001b3ULL));
	uint32_t i;

	for (i = 0; i < PAGE; i += 8) {
		uint64_t v = splitmix(seed + i);

		memcpy(buf + i, &v, 8);
	}
}

static bool range_ok(uint64_t obj, uint64_t index, uint32_t off, uint32_t len, const void *got)
{
	unsigned char want[PAGE];

	pattern(obj, index, want);
	return memcmp(want + off, got, len) == 0;
}

static void sleep_ms(unsigned int ms)
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

static int fill_pattern(void *user, uint64_t index, void *page)
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
static int fill_complete_partial(void *user, uint64_t index, void *page)
{
	struct fctx *f = user;
	unsigned char buf[PAGE];

	atomic_fetch_add(&f->calls, 1);
	f->peeked = pc_peek_partial(f->c, f->obj, index, buf);
	f->peek_ok = range_ok(f->obj, index, 0, f->peeked, buf);
	pattern(f->obj, index, page);
	return 0;
}

static int calls(struct fctx *f)
{
	return atomic_load(&f->calls);
}

static struct pc_stats stats(struct pc_cache *c)
{
	struct pc_stats st;

	pc_get_stats(c, &st);
	return st;
}

static int read_page(struct pc_cache *c, struct fctx *f, uint64_t index, bool *hit)
{
	unsigned char buf[PAGE];
	int rc = pc_read(c, f->obj, index, 0, PAGE, buf, fill_pattern, f, hit);

	if (!rc)
		ck_assert_msg(range_ok(f->obj, index, 0, PAGE, buf), "page %llu content",
			      (unsigned long long)index);
	return rc;
}

START_TEST(test_hit_miss_fill)
{
	struct pc_cache *c;
	struct fctx f = { 0 }, m = { 0 };
	unsigned char buf[PAGE];
	struct pc_stats st;
	bool hit = true;

	ck_assert_int_eq(pc_create(&c, 1 << 20), 0);
	f.c = m.c = c;
	f.obj = pc_object_new(c, PC_CLASS_DATA);
	m.obj = pc_object_new(c, PC_CLASS_META);
	ck_assert_uint_ne(f.obj, m.obj);

	ck_assert_int_eq(pc_read(c, f.obj, 0, 0, PAGE, buf, fill_pattern, &f, &hit), 0);
	ck_assert(!hit);
	ck_assert(range_ok(f.obj, 0, 0, PAGE, buf));
	ck_assert(pc_contains(c, f.obj, 0));
	ck_assert(!pc_contains(c, f.obj, 1));
	ck_assert(!pc_contains(c, m.obj, 0));

	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(pc_read(c, f.obj, 0, 100, 50, buf, fill_pattern, &f, &hit), 0);
	ck_assert(hit);
	ck_assert(range_ok(f.obj, 0, 100, 50, buf));
	ck_assert_int_eq(pc_read(c, f.obj, 0, PAGE - 1, 1, buf, fill_pattern, &f, NULL), 0);
	ck_assert(range_ok(f.obj, 0, PAGE - 1, 1, buf));
	ck_assert_int_eq(pc_read(c, f.obj, 0, PAGE, 0, NULL, fill_pattern, &f, &hit), 0);
	ck_assert(hit);
	ck_assert_int_eq(calls(&f), 1);

	ck_assert_int_eq(read_page(c, &m, 3, &hit), 0);
	ck_assert(!hit);
	ck_assert_int_eq(read_page(c, &m, 3, &hit), 0);
	ck_assert(hit);

	st = stats(c);
	ck_assert_uint_eq(st.hits, 4);
	ck_assert_uint_eq(st.misses, 2);
	ck_assert_uint_eq(st.fills, 2);
	ck_assert_uint_eq(st.evictions, 0);
	ck_assert_uint_eq(st.pages[PC_CLASS_DATA], 1);
	ck_assert_uint_eq(st.pages[PC_CLASS_META], 1);
	ck_assert_uint_eq(st.bytes[PC_CLASS_DATA], PAGE);
	ck_assert_uint_eq(st.bytes[PC_CLASS_META], PAGE);
	ck_assert_uint_eq(st.budget, 1 << 20);

	/* bad arguments change nothing */
	ck_assert_int_eq(pc_read(c, f.obj, 0, PAGE - 10, 11, buf, fill_pattern, &f, NULL),
			 -EINVAL);
	ck_assert_int_eq(pc_read(c, f.obj, 0, PAGE + 1, 0, buf, fill_pattern, &f, NULL), -EINVAL);
	ck_assert_int_eq(pc_read(c, f.obj, 1, 0, 1, buf, NULL, &f, NULL), -EINVAL);
	ck_assert_int_eq(pc_put(c, f.obj, 1, buf, PAGE + 1, true), -EINVAL);
	st = stats(c);
	ck_assert_uint_eq(st.hits + st.misses, 6);
	pc_destroy(c);

	/* the budget has a floor of a few pages and is counted in whole pages */
	ck_assert_int_eq(pc_create(&c, 0), 0);
	ck_assert_uint_eq(stats(c).budget, 4 * PAGE);
	pc_destroy(c);
	ck_assert_int_eq(pc_create(&c, 10 * PAGE + 100), 0);
	ck_assert_uint_eq(stats(c).budget, 10 * PAGE);
	pc_destroy(c);
	pc_destroy(NULL);
}
END_TEST

START_TEST(test_partial)
{
	struct pc_cache *c;
	struct fctx f = { 0 };
	unsigned char pat[PAGE], buf[PAGE], junk[PAGE];
	bool hit;

	ck_assert_int_eq(pc_create(&c, 1 << 20), 0);
	f.c = c;
	f.obj = pc_object_new(c, PC_CLASS_DATA);
	pattern(f.obj, 5, pat);
	memset(junk, 0xa5, sizeof(junk));

	/* partial: held and counted, but never a hit */
	ck_assert_int_eq(pc_put(c, f.obj, 5, pat, 1000, false), 0);
	ck_assert(!pc_contains(c, f.obj, 5));
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 1);
	memset(buf, 0, sizeof(buf));
	ck_assert_uint_eq(pc_peek_partial(c, f.obj, 5, buf), 1000);
	ck_assert(memcmp(buf, pat, 1000) == 0);
	ck_assert_uint_eq(pc_peek_partial(c, f.obj, 6, buf), 0);

	/* a shorter partial does not replace a longer one; a longer one does */
	ck_assert_int_eq(pc_put(c, f.obj, 5, pat, 500, false), 0);
	ck_assert_uint_eq(pc_peek_partial(c, f.obj, 5, buf), 1000);
	ck_assert_int_eq(pc_put(c, f.obj, 5, pat, 2000, false), 0);
	ck_assert_uint_eq(pc_peek_partial(c, f.obj, 5, buf), 2000);
	ck_assert(memcmp(buf, pat, 2000) == 0);
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 1);

	/* a read misses, and its fill reads the prefix back and completes it */
	ck_assert_int_eq(pc_read(c, f.obj, 5, 0, PAGE, buf, fill_complete_partial, &f, &hit), 0);
	ck_assert(!hit);
	ck_assert_int_eq(calls(&f), 1);
	ck_assert_uint_eq(f.peeked, 2000);
	ck_assert(f.peek_ok);
	ck_assert(memcmp(buf, pat, PAGE) == 0);
	ck_assert(pc_contains(c, f.obj, 5));
	ck_assert_uint_eq(pc_peek_partial(c, f.obj, 5, buf), 0);
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 1);

	/* a complete page is never replaced, by a partial or a complete one */
	ck_assert_int_eq(pc_put(c, f.obj, 5, junk, 3000, false), 0);
	ck_assert_int_eq(pc_put(c, f.obj, 5, junk, PAGE, true), 0);
	ck_assert_int_eq(pc_put(c, f.obj, 5, junk, 10, true), 0);
	ck_assert_int_eq(pc_read(c, f.obj, 5, 0, PAGE, buf, fill_complete_partial, &f, &hit), 0);
	ck_assert(hit);
	ck_assert(memcmp(buf, pat, PAGE) == 0);
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 1);

	/* a short complete page (end of object) reads as zeros past valid */
	ck_assert_int_eq(pc_put(c, f.obj, 9, junk, 100, true), 0);
	ck_assert(pc_contains(c, f.obj, 9));
	ck_assert_uint_eq(pc_peek_partial(c, f.obj, 9, buf), 0);
	memset(buf, 0x11, sizeof(buf));
	ck_assert_int_eq(pc_read(c, f.obj, 9, 0, PAGE, buf, fill_pattern, &f, &hit), 0);
	ck_assert(hit);
	ck_assert(memcmp(buf, junk, 100) == 0);
	for (uint32_t i = 100; i < PAGE; i++)
		ck_assert_uint_eq(buf[i], 0);
	ck_assert_int_eq(pc_put(c, f.obj, 10, NULL, 0, true), 0);
	ck_assert(pc_contains(c, f.obj, 10));

	/* a "partial" page with every byte valid is complete; an empty one is nothing */
	pattern(f.obj, 11, pat);
	ck_assert_int_eq(pc_put(c, f.obj, 11, pat, PAGE, false), 0);
	ck_assert(pc_contains(c, f.obj, 11));
	ck_assert_int_eq(pc_put(c, f.obj, 12, pat, 0, false), 0);
	ck_assert_uint_eq(pc_peek_partial(c, f.obj, 12, buf), 0);
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 4);
	ck_assert_int_eq(calls(&f), 1);
	pc_destroy(c);
}
END_TEST

START_TEST(test_tiny_budget)
{
	struct pc_cache *c;
	struct fctx f = { 0 };
	struct pc_stats st;
	uint64_t i, reads = 0;
	bool hit;

	/* one page asked: the floor of four pages applies, in a single shard */
	ck_assert_int_eq(pc_create(&c, PAGE), 0);
	f.c = c;
	f.obj = pc_object_new(c, PC_CLASS_DATA);
	ck_assert_uint_eq(stats(c).budget, 4 * PAGE);

	/* pages 0-3 fill the cache; a hit on each marks them hot */
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(read_page(c, &f, i, &hit), 0);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(read_page(c, &f, i, &hit), 0);
		ck_assert(hit);
	}
	ck_assert_uint_eq(stats(c).evictions, 0);

	/*
	 * A new page does not fit: the hot pages move to the main queue and
	 * the new page, unhit, is evicted at once, while its filler still
	 * copies from it.  New pages never displace the hot ones.
	 */
	for (i = 4; i < 7; i++) {
		ck_assert_int_eq(read_page(c, &f, i, &hit), 0);
		ck_assert(!hit);
		ck_assert(!pc_contains(c, f.obj, i));
		ck_assert_uint_eq(stats(c).evictions, i - 3);
	}
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(read_page(c, &f, i, &hit), 0);
		ck_assert(hit);
		ck_assert(pc_contains(c, f.obj, i));
	}
	/*
	 * Missed again while its key is in the ghost table, a page enters the
	 * main queue, whose CLOCK first spends the hits of the hot pages
	 * (page 5 goes again), then evicts the oldest of them (0 goes, 6 stays).
	 */
	ck_assert_int_eq(read_page(c, &f, 5, &hit), 0);
	ck_assert(!hit);
	ck_assert(!pc_contains(c, f.obj, 5));
	ck_assert_uint_eq(stats(c).evictions, 4);
	ck_assert_int_eq(read_page(c, &f, 6, &hit), 0);
	ck_assert(!hit);
	ck_assert(pc_contains(c, f.obj, 6));
	ck_assert(!pc_contains(c, f.obj, 0));
	for (i = 1; i < 4; i++)
		ck_assert(pc_contains(c, f.obj, i));
	ck_assert_uint_eq(stats(c).evictions, 5);
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 4);

	/* many pages through four: all correct, never over budget */
	for (i = 0; i < 3000; i++) {
		uint64_t idx = i < 1000 ? i : splitmix(i) % 700;

		ck_assert_int_eq(read_page(c, &f, idx, NULL), 0);
		reads++;
		st = stats(c);
		ck_assert_uint_le(st.pages[PC_CLASS_DATA], 4);
	}
	st = stats(c);
	ck_assert_uint_gt(st.evictions, 2000);
	ck_assert_uint_eq(st.misses, st.fills);
	ck_assert_uint_eq(st.hits + st.misses, reads + 17);
	ck_assert_uint_eq(st.fills, (uint64_t)calls(&f));
	ck_assert_uint_eq(st.fills - st.evictions, st.pages[PC_CLASS_DATA]);
	pc_destroy(c);
}
END_TEST

START_TEST(test_scan_resistance)
{
	struct pc_cache *c;
	struct fctx hot = { 0 }, scan = { 0 };
	const uint64_t budget = 256, nhot = 48, nscan = 4 * budget;
	uint64_t i, round, hits = 0;
	bool hit;

	ck_assert_int_eq(pc_create(&c, budget * PAGE), 0);
	hot.c = scan.c = c;
	hot.obj = pc_object_new(c, PC_CLASS_DATA);
	scan.obj = pc_object_new(c, PC_CLASS_DATA);

	/* the hot set is read three times */
	for (round = 0; round < 3; round++)
		for (i = 0; i < nhot; i++)
			ck_assert_int_eq(read_page(c, &hot, i, NULL), 0);

	/* a one-pass scan of four times the budget... */
	for (i = 0; i < nscan; i++)
		ck_assert_int_eq(read_page(c, &scan, i, NULL), 0);
	ck_assert_uint_gt(stats(c).evictions, nscan - budget);
	ck_assert_uint_le(stats(c).pages[PC_CLASS_DATA], budget);

	/* ...leaves it cached, where plain LRU would keep none of it */
	for (i = 0; i < nhot; i++) {
		ck_assert_int_eq(read_page(c, &hot, i, &hit), 0);
		hits += hit;
	}
	fprintf(stderr, "scan resistance: %llu of %llu hot pages survived a scan of %llu\n",
		(unsigned long long)hits, (unsigned long long)nhot, (unsigned long long)nscan);
	ck_assert_uint_ge(hits * 10, nhot * 9);

	/* a second scan, with the hot set read between chunks of it */
	hits = 0;
	for (i = 0; i < nscan; i++) {
		ck_assert_int_eq(read_page(c, &scan, nscan + i, NULL), 0);
		if (i % 128 == 127) {
			for (uint64_t k = 0; k < nhot; k++) {
				ck_assert_int_eq(read_page(c, &hot, k, &hit), 0);
				hits += hit;
			}
		}
	}
	ck_assert_uint_ge(hits * 10, nhot * (nscan / 128) * 9);
	pc_destroy(c);
}
END_TEST

START_TEST(test_object_drop)
{
	struct pc_cache *c;
	struct fctx a = { 0 }, b = { 0 }, d = { 0 };
	unsigned char pat[PAGE], buf[PAGE];
	struct pc_stats st;
	uint64_t i;
	bool hit;

	ck_assert_int_eq(pc_create(&c, 1 << 20), 0);
	a.c = b.c = d.c = c;
	a.obj = pc_object_new(c, PC_CLASS_DATA);
	b.obj = pc_object_new(c, PC_CLASS_META);
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(read_page(c, &a, i, NULL), 0);
	pattern(a.obj, 20, pat);
	ck_assert_int_eq(pc_put(c, a.obj, 20, pat, 700, false), 0);
	pattern(a.obj, 21, pat);
	ck_assert_int_eq(pc_put(c, a.obj, 21, pat, PAGE, true), 0);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(read_page(c, &b, i, NULL), 0);
	st = stats(c);
	ck_assert_uint_eq(st.pages[PC_CLASS_DATA], 22);
	ck_assert_uint_eq(st.pages[PC_CLASS_META], 10);

	pc_object_drop(c, a.obj);
	st = stats(c);
	ck_assert_uint_eq(st.pages[PC_CLASS_DATA], 0);
	ck_assert_uint_eq(st.pages[PC_CLASS_META], 10);
	ck_assert_uint_eq(st.evictions, 0);
	for (i = 0; i < 22; i++)
		ck_assert(!pc_contains(c, a.obj, i));
	ck_assert_uint_eq(pc_peek_partial(c, a.obj, 20, buf), 0);
	for (i = 0; i < 10; i++)
		ck_assert(pc_contains(c, b.obj, i));

	/* later puts are ignored */
	ck_assert_int_eq(pc_put(c, a.obj, 30, pat, PAGE, true), 0);
	ck_assert_int_eq(pc_put(c, a.obj, 31, pat, 10, false), 0);
	ck_assert(!pc_contains(c, a.obj, 30));
	ck_assert_uint_eq(pc_peek_partial(c, a.obj, 31, buf), 0);
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 0);

	/* reads still work through the fill, uncached */
	ck_assert_int_eq(read_page(c, &a, 0, &hit), 0);
	ck_assert(!hit);
	ck_assert_int_eq(read_page(c, &a, 0, &hit), 0);
	ck_assert(!hit);
	ck_assert_int_eq(calls(&a), 22);
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 0);

	/* a drop while the object's fill runs: the reader gets its data, uncached */
	d.obj = pc_object_new(c, PC_CLASS_DATA);
	d.drop_in_fill = true;
	ck_assert_int_eq(read_page(c, &d, 7, &hit), 0);
	ck_assert(!pc_contains(c, d.obj, 7));

	/* dropping twice, or an id never handed out, is harmless */
	pc_object_drop(c, a.obj);
	pc_object_drop(c, 123456789);
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_META], 10);
	pc_destroy(c);
}
END_TEST

START_TEST(test_error_not_cached)
{
	struct pc_cache *c;
	struct fctx f = { 0 };
	bool hit = true;

	ck_assert_int_eq(pc_create(&c, 1 << 20), 0);
	f.c = c;
	f.obj = pc_object_new(c, PC_CLASS_DATA);
	f.fail_first = -EIO;
	f.fail_count = 1;
	ck_assert_int_eq(read_page(c, &f, 3, &hit), -EIO);
	ck_assert(!hit);
	ck_assert(!pc_contains(c, f.obj, 3));
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 0);
	ck_assert_int_eq(read_page(c, &f, 3, &hit), 0);
	ck_assert(!hit);
	ck_assert_int_eq(read_page(c, &f, 3, &hit), 0);
	ck_assert(hit);
	ck_assert_int_eq(calls(&f), 2);
	ck_assert_uint_eq(stats(c).fills, 2);

	/* a fill returning a positive number is a failure too */
	f.fail_first = 5;
	f.fail_count = 3;
	ck_assert_int_eq(read_page(c, &f, 4, &hit), -EIO);
	ck_assert(!pc_contains(c, f.obj, 4));
	pc_destroy(c);
}
END_TEST

/* Pages 0-1 missing, 3-20 and 25 complete, 22 partial, the rest missing. */
START_TEST(test_range_read)
{
	struct pc_cache *c;
	struct fctx f = { 0 };
	unsigned char *want = malloc(48 * PAGE), *buf = malloc(48 * PAGE);
	struct pc_stats st0, st;
	uint64_t i, off, len, mask = 0;
	static const uint64_t lens[] = { 1, 3, 4, PAGE - 1, PAGE, PAGE + 7, 17 * PAGE + 5 };

	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(buf);
	/* 16 shards of 64 pages: the object's three runs of 16 pages never evict */
	ck_assert_int_eq(pc_create(&c, 4 << 20), 0);
	f.c = c;
	f.obj = pc_object_new(c, PC_CLASS_DATA);
	for (i = 0; i < 48; i++)
		pattern(f.obj, i, want + i * PAGE);
	for (i = 3; i <= 20; i++)
		ck_assert_int_eq(pc_put(c, f.obj, i, want + i * PAGE, PAGE, true), 0);
	ck_assert_int_eq(pc_put(c, f.obj, 22, want + 22 * PAGE, 1000, false), 0);
	ck_assert_int_eq(pc_put(c, f.obj, 25, want + 25 * PAGE, PAGE, true), 0);

	/* from inside page 2 to inside page 33: across two run ends */
	st0 = stats(c);
	off = 2 * PAGE + 100;
	len = 31 * PAGE + 50;
	memset(buf, 0, 48 * PAGE);
	ck_assert_int_eq(pc_read_range(c, f.obj, off, len, buf, fill_pattern, &f), 0);
	ck_assert(memcmp(buf, want + off, len) == 0);
	st = stats(c);
	/* one hit or one miss a page, as page-by-page reads count them */
	ck_assert_uint_eq(st.hits - st0.hits, 19);
	ck_assert_uint_eq(st.misses - st0.misses, 13);
	ck_assert_uint_eq(st.fills - st0.fills, 13);
	ck_assert_int_eq(calls(&f), 13);
	mask |= (uint64_t)1 << 2;
	for (i = 21; i <= 33; i++)
		if (i != 25)
			mask |= (uint64_t)1 << i;
	ck_assert_uint_eq(atomic_load(&f.filled), mask);
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 32);

	/* now all hits */
	st0 = stats(c);
	memset(buf, 0, 48 * PAGE);
	ck_assert_int_eq(pc_read_range(c, f.obj, off, len, buf, fill_pattern, &f), 0);
	ck_assert(memcmp(buf, want + off, len) == 0);
	st = stats(c);
	ck_assert_uint_eq(st.hits - st0.hits, 32);
	ck_assert_uint_eq(st.misses, st0.misses);

	/* every offset around a run's end, with lengths around page sizes */
	for (off = 16 * PAGE - 5; off < 16 * PAGE + 5; off++) {
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			len = lens[i];
			memset(buf, 0xee, len);
			ck_assert_int_eq(pc_read_range(c, f.obj, off, len, buf, fill_pattern, &f),
					 0);
			ck_assert_msg(memcmp(buf, want + off, len) == 0, "off %llu len %llu",
				      (unsigned long long)off, (unsigned long long)len);
		}
	}
	ck_assert_int_eq(calls(&f), 13);

	/* bad arguments */
	ck_assert_int_eq(pc_read_range(c, f.obj, 0, 0, NULL, NULL, NULL), 0);
	ck_assert_int_eq(pc_read_range(c, f.obj, 0, 1, buf, NULL, NULL), -EINVAL);
	ck_assert_int_eq(pc_read_range(c, f.obj, 0, 1, NULL, fill_pattern, &f), -EINVAL);
	ck_assert_int_eq(pc_read_range(c, f.obj, UINT64_MAX - 10, 20, buf, fill_pattern, &f),
			 -EINVAL);
	ck_assert_int_eq(calls(&f), 13);

	/* a failing fill ends the read at its page, which stays uncached */
	f.fail_first = -EIO;
	f.fail_count = calls(&f) + 1;
	ck_assert_int_eq(pc_read_range(c, f.obj, 30 * PAGE, 10 * PAGE, buf, fill_pattern, &f),
			 -EIO);
	ck_assert_int_eq(calls(&f), 14);
	ck_assert(!pc_contains(c, f.obj, 34));
	ck_assert(!pc_contains(c, f.obj, 35));
	ck_assert_int_eq(pc_read_range(c, f.obj, 30 * PAGE, 10 * PAGE, buf, fill_pattern, &f),
			 0);
	ck_assert(memcmp(buf, want + 30 * PAGE, 10 * PAGE) == 0);
	ck_assert_int_eq(calls(&f), 20);

	/* a dropped object reads through the fill, page after page */
	pc_object_drop(c, f.obj);
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 0);
	ck_assert_int_eq(pc_read_range(c, f.obj, 100, 3 * PAGE, buf, fill_pattern, &f), 0);
	ck_assert(memcmp(buf, want + 100, 3 * PAGE) == 0);
	ck_assert_int_eq(calls(&f), 24);
	pc_destroy(c);
	free(want);
	free(buf);
}
END_TEST

/* Page memory is allocated once and reused: evictions and drops free none. */
START_TEST(test_slab_reuse)
{
	struct pc_cache *c;
	struct fctx f = { 0 }, g = { 0 };
	uint64_t i, mem;
	const uint64_t budget = 256;
	bool hit;

	/* the floor of four pages: a few spares beyond it at most */
	ck_assert_int_eq(pc_create(&c, 4 * PAGE), 0);
	f.c = c;
	f.obj = pc_object_new(c, PC_CLASS_DATA);
	ck_assert_uint_eq(stats(c).mem_bytes, 0);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(read_page(c, &f, i, NULL), 0);
	mem = stats(c).mem_bytes;
	ck_assert_uint_ge(mem, 4 * PAGE);
	ck_assert_uint_le(mem, 8 * PAGE);
	for (i = 0; i < 3000; i++) {
		unsigned char pat[PAGE];
		uint64_t idx = splitmix(i) % 500;

		if (i % 3) {
			ck_assert_int_eq(read_page(c, &f, idx, NULL), 0);
		} else {
			pattern(f.obj, idx, pat);
			ck_assert_int_eq(pc_put(c, f.obj, idx, pat, (uint32_t)(i % PAGE), false),
					 0);
		}
	}
	ck_assert_uint_gt(stats(c).evictions, 2000);
	ck_assert_uint_eq(stats(c).mem_bytes, mem);
	ck_assert_uint_le(stats(c).pages[PC_CLASS_DATA], 4);
	pc_destroy(c);

	/* eight shards: a scan of 16 times the budget through them */
	ck_assert_int_eq(pc_create(&c, budget * PAGE), 0);
	f.c = g.c = c;
	f.obj = pc_object_new(c, PC_CLASS_DATA);
	g.obj = pc_object_new(c, PC_CLASS_META);
	for (i = 0; i < 16 * budget; i++)
		ck_assert_int_eq(read_page(c, &f, i, NULL), 0);
	mem = stats(c).mem_bytes;
	/* the budget and each shard's spares, at most an eighth of its share */
	ck_assert_uint_ge(mem, budget * PAGE);
	ck_assert_uint_le(mem, (budget + budget / 8) * PAGE);
	/* dropped pages become spares for the next object: nothing new is allocated */
	pc_object_drop(c, f.obj);
	ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 0);
	for (i = 0; i < 4 * budget; i++)
		ck_assert_int_eq(read_page(c, &g, i, NULL), 0);
	/* the last run of 16 pages read is cached */
	for (i = 4 * budget - 16; i < 4 * budget; i++) {
		ck_assert_int_eq(read_page(c, &g, i, &hit), 0);
		ck_assert(hit);
	}
	ck_assert_uint_eq(stats(c).mem_bytes, mem);
	ck_assert_uint_le(stats(c).pages[PC_CLASS_META], budget);
	pc_destroy(c);

	/*
	 * The pages of one run of 16 live in one shard; dropped, most of them
	 * go back to the pool, where the shards of another object's runs find
	 * them: nothing new is allocated.
	 */
	ck_assert_int_eq(pc_create(&c, budget * PAGE), 0);
	f.obj = pc_object_new(c, PC_CLASS_DATA);
	g.obj = pc_object_new(c, PC_CLASS_DATA);
	for (i = 0; i < 16; i++) {
		unsigned char pat[PAGE];

		pattern(f.obj, i, pat);
		ck_assert_int_eq(pc_put(c, f.obj, i, pat, PAGE, true), 0);
	}
	mem = stats(c).mem_bytes;
	ck_assert_uint_eq(mem, 16 * PAGE);
	pc_object_drop(c, f.obj);
	for (i = 0; i < 5; i++) {
		unsigned char pat[PAGE];

		pattern(g.obj, i * 16, pat);
		ck_assert_int_eq(pc_put(c, g.obj, i * 16, pat, PAGE, true), 0);
		ck_assert(pc_contains(c, g.obj, i * 16));
	}
	ck_assert_uint_eq(stats(c).mem_bytes, mem);
	pc_destroy(c);
}
END_TEST

/*
 * Many pages in 64 shards: their tables grow from a few slots, then lose
 * every other object's pages (entries removed from the middle of probe
 * runs) and must still find every page that is left.
 */
START_TEST(test_table_churn)
{
	enum { NOBJ = 64, NPG = 200 };
	struct pc_cache *c;
	struct fctx f[NOBJ], fail = { .fail_first = -EPROTO, .fail_count = 1 << 30 };
	unsigned char pat[PAGE], buf[PAGE];
	uint64_t i, k;

	/* 128 MiB: 64 shards of 512 pages, room for everything */
	ck_assert_int_eq(pc_create(&c, 128 << 20), 0);
	for (k = 0; k < NOBJ; k++)
		f[k] = (struct fctx){ .c = c, .obj = pc_object_new(c, (unsigned int)k % 2) };
	for (i = 0; i < NPG; i++) {
		for (k = 0; k < NOBJ; k++) {
			pattern(f[k].obj, i, pat);
			ck_assert_int_eq(pc_put(c, f[k].obj, i, pat, PAGE, true), 0);
		}
	}
	ck_assert_uint_eq(stats(c).pages[0] + stats(c).pages[1], NOBJ * NPG);
	ck_assert_uint_eq(stats(c).evictions, 0);
	for (k = 0; k < NOBJ; k += 2)
		pc_object_drop(c, f[k].obj);
	for (k = 0; k < NOBJ; k++) {
		for (i = 0; i < NPG; i++) {
			fail.obj = f[k].obj;
			if (k % 2 == 0) {
				ck_assert(!pc_contains(c, f[k].obj, i));
				continue;
			}
			/* a hit, or the failing fill shows the page was lost */
			ck_assert_int_eq(pc_read(c, f[k].obj, i, 0, PAGE, buf, fill_pattern, &fail,
						 NULL), 0);
			ck_assert(range_ok(f[k].obj, i, 0, PAGE, buf));
		}
	}
	ck_assert_int_eq(calls(&fail), 0);
	ck_assert_uint_eq(stats(c).pages[1], NOBJ / 2 * NPG);
	ck_assert_uint_eq(stats(c).pages[0], 0);

	/* refill the holes with new objects, partial pages among them */
	for (k = 0; k < NOBJ; k += 2) {
		f[k].obj = pc_object_new(c, PC_CLASS_DATA);
		for (i = 0; i < NPG; i++) {
			pattern(f[k].obj, i, pat);
			ck_assert_int_eq(pc_put(c, f[k].obj, i, pat, i % 5 ? PAGE : 77, false), 0);
		}
	}
	for (k = 0; k < NOBJ; k++) {
		for (i = 0; i < NPG; i++) {
			if (k % 2 == 0 && i % 5 == 0) {
				ck_assert_uint_eq(pc_peek_partial(c, f[k].obj, i, buf), 77);
				ck_assert(range_ok(f[k].obj, i, 0, 77, buf));
			} else {
				ck_assert(pc_contains(c, f[k].obj, i));
			}
		}
	}
	ck_assert_uint_eq(stats(c).pages[0] + stats(c).pages[1], NOBJ * NPG);
	pc_destroy(c);
}
END_TEST

/* ---- threads ---- */

struct flight_arg {
	struct pc_cache *c;
	struct fctx *f;
	pthread_barrier_t *bar;
	uint64_t index;
	int rc;
	bool ok;
};

static void *flight_thread(void *arg)
{
	struct flight_arg *a = arg;
	unsigned char buf[PAGE];

	pthread_barrier_wait(a->bar);
	a->rc = pc_read(a->c, a->f->obj, a->index, 0, PAGE, buf, fill_pattern, a->f, NULL);
	a->ok = !a->rc && range_ok(a->f->obj, a->index, 0, PAGE, buf);
	return NULL;
}

static void run_flight(struct pc_cache *c, struct fctx *f, uint64_t index, struct flight_arg *a,
		       int n)
{
	pthread_barrier_t bar;
	pthread_t th[8];
	int i;

	ck_assert_int_le(n, 8);
	pthread_barrier_init(&bar, NULL, (unsigned int)n);
	for (i = 0; i < n; i++) {
		a[i] = (struct flight_arg){ .c = c, .f = f, .bar = &bar, .index = index };
		ck_assert_int_eq(pthread_create(&th[i], NULL, flight_thread, &a[i]), 0);
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
}

START_TEST(test_single_flight)
{
	struct pc_cache *c;
	struct fctx f = { 0 };
	struct flight_arg a[8];
	struct pc_stats st;
	int i;

	ck_assert_int_eq(pc_create(&c, 1 << 20), 0);
	f.c = c;
	f.obj = pc_object_new(c, PC_CLASS_DATA);
	f.wait_misses = 8;
	run_flight(c, &f, 42, a, 8);
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(a[i].rc, 0);
		ck_assert(a[i].ok);
	}
	ck_assert_int_eq(calls(&f), 1);
	st = stats(c);
	ck_assert_uint_eq(st.fills, 1);
	ck_assert_uint_eq(st.hits + st.misses, 8);
	ck_assert_uint_ge(st.misses, 2);
	ck_assert(pc_contains(c, f.obj, 42));
	pc_destroy(c);
}
END_TEST

START_TEST(test_single_flight_evicted_at_once)
{
	struct pc_cache *c;
	struct fctx f = { 0 };
	struct flight_arg a[8];
	uint64_t i;
	bool hit;

	/* four hot pages in a four-page cache: the filled page goes at once */
	ck_assert_int_eq(pc_create(&c, 4 * PAGE), 0);
	f.c = c;
	f.obj = pc_object_new(c, PC_CLASS_DATA);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(read_page(c, &f, i % 4, NULL), 0);
	atomic_store(&f.calls, 0);
	f.wait_misses = stats(c).misses + 8;
	run_flight(c, &f, 9, a, 8);
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(a[i].rc, 0);
		ck_assert(a[i].ok);
	}
	ck_assert_int_eq(calls(&f), 1);
	ck_assert(!pc_contains(c, f.obj, 9));
	ck_assert_uint_eq(stats(c).evictions, 1);
	f.wait_misses = 0;
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(read_page(c, &f, i, &hit), 0);
		ck_assert(hit);
	}
	pc_destroy(c);
}
END_TEST

START_TEST(test_error_shared_by_waiters)
{
	struct pc_cache *c;
	struct fctx f = { 0 };
	struct flight_arg a[8];
	int i, failed = 0;

	ck_assert_int_eq(pc_create(&c, 1 << 20), 0);
	f.c = c;
	f.obj = pc_object_new(c, PC_CLASS_DATA);
	f.wait_misses = 8;
	f.fail_first = -EIO;
	f.fail_count = 1;
	run_flight(c, &f, 7, a, 8);
	for (i = 0; i < 8; i++) {
		if (a[i].rc == -EIO) {
			failed++;
			continue;
		}
		ck_assert_int_eq(a[i].rc, 0);
		ck_assert(a[i].ok);
	}
	/* the filler and the seven readers that waited for it got its error */
	ck_assert_int_eq(failed, 8);
	ck_assert_int_eq(calls(&f), 1);
	ck_assert(!pc_contains(c, f.obj, 7));
	pc_destroy(c);
}
END_TEST

/* A fill that stores its neighbours and reads other pages. */
static int fill_reentrant(void *user, uint64_t index, void *page)
{
	struct fctx *f = user;
	unsigned char buf[PAGE];
	struct fctx other = { .c = f->c, .obj = f->obj + 1000000 };
	uint64_t k;

	atomic_fetch_add(&f->calls, 1);
	/* its own page: would wait for itself */
	if (pc_read(f->c, f->obj, index, 0, 1, buf, fill_pattern, f, NULL) != -EDEADLK)
		return -EPROTO;
	/* another object's page: a nested fill */
	if (pc_read(f->c, other.obj, index, 0, PAGE, buf, fill_pattern, &other, NULL) ||
	    !range_ok(other.obj, index, 0, PAGE, buf))
		return -EPROTO;
	for (k = 1; k <= 3; k++) {
		pattern(f->obj, index + k, buf);
		if (pc_put(f->c, f->obj, index + k, buf, PAGE, true))
			return -EPROTO;
	}
	pattern(f->obj, index + 4, buf);
	if (pc_put(f->c, f->obj, index + 4, buf, 123, false))
		return -EPROTO;
	pattern(f->obj, index, page);
	return 0;
}

START_TEST(test_fill_reentrancy)
{
	struct pc_cache *c;
	struct fctx f = { 0 };
	unsigned char buf[PAGE];
	uint64_t k;
	bool hit;

	ck_assert_int_eq(pc_create(&c, 1 << 20), 0);
	f.c = c;
	f.obj = pc_object_new(c, PC_CLASS_DATA);
	ck_assert_int_eq(pc_read(c, f.obj, 10, 0, PAGE, buf, fill_reentrant, &f, &hit), 0);
	ck_assert(!hit);
	ck_assert(range_ok(f.obj, 10, 0, PAGE, buf));
	for (k = 10; k <= 13; k++) {
		ck_assert(pc_contains(c, f.obj, k));
		ck_assert_int_eq(read_page(c, &f, k, &hit), 0);
		ck_assert(hit);
	}
	ck_assert_uint_eq(pc_peek_partial(c, f.obj, 14, buf), 123);
	ck_assert(range_ok(f.obj, 14, 0, 123, buf));
	ck_assert_int_eq(calls(&f), 1);
	pc_destroy(c);
}
END_TEST

/* ---- stress ---- */

#define NSLOTS 16
#define NTHREADS 8

struct stress {
	struct pc_cache *c;
	_Atomic uint64_t slot[NSLOTS];
	uint64_t npages;	/* pages an object */
	unsigned int ops;
	atomic_bool stop;
	atomic_ulong bad, reads, errors, fills;
	atomic_ulong failed_fills;	/* their errors reach the fills' waiters too */
};

struct sfill {
	struct stress *st;
	uint64_t obj;
	uint64_t rng;
	bool failed;		/* this thread's fill returned an error */
};

static uint64_t rnd(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return splitmix(*s);
}

static int stress_fill(void *user, uint64_t index, void *page)
{
	struct sfill *sf = user;
	unsigned char buf[PAGE];
	uint64_t r = rnd(&sf->rng);

	atomic_fetch_add(&sf->st->fills, 1);
	if (r % 50 == 0) {
		sf->failed = true;
		atomic_fetch_add(&sf->st->failed_fills, 1);
		return -EIO;
	}
	pattern(sf->obj, index, page);
	/* like a decoded pcluster: the next pages, the last one maybe partial */
	if ((r >> 8) % 4 == 0) {
		pattern(sf->obj, index + 1, buf);
		pc_put(sf->st->c, sf->obj, index + 1, buf, PAGE, true);
		pattern(sf->obj, index + 2, buf);
		pc_put(sf->st->c, sf->obj, index + 2, buf, (uint32_t)((r >> 16) % PAGE), false);
	}
	if ((r >> 32) % 16 == 0)
		sched_yield();
	return 0;
}

static void *stress_thread(void *arg)
{
	struct stress *st = arg;
	static atomic_uint seq;
	uint64_t rng = 0x1234 + atomic_fetch_add(&seq, 1) * 0x10001ULL;
	unsigned char buf[PAGE];
	unsigned int n;

	for (n = 0; n < st->ops; n++) {
		uint64_t r = rnd(&rng);
		uint64_t obj = atomic_load(&st->slot[r % NSLOTS]);
		/* half the reads go to a small hot range */
		uint64_t index = (r >> 8) % 2 ? (r >> 16) % 8 : (r >> 16) % st->npages;
		unsigned int op = (unsigned int)((r >> 40) % 100);

		if (op < 85) {
			uint32_t off = (uint32_t)(rnd(&rng) % PAGE);
			uint32_t len = (uint32_t)(rnd(&rng) % (PAGE - off + 1));
			struct sfill sf = { .st = st, .obj = obj, .rng = rnd(&rng) };
			int rc = pc_read(st->c, obj, index, off, len, buf, stress_fill, &sf, NULL);

			atomic_fetch_add(&st->reads, 1);
			if (rc == -EIO && (sf.failed || atomic_load(&st->failed_fills)))
				atomic_fetch_add(&st->errors, 1);
			else if (rc || !range_ok(obj, index, off, len, buf))
				atomic_fetch_add(&st->bad, 1);
		} else if (op < 92) {
			uint32_t v = pc_peek_partial(st->c, obj, index, buf);

			if (v >= PAGE || !range_ok(obj, index, 0, v, buf))
				atomic_fetch_add(&st->bad, 1);
		} else if (op < 97) {
			uint32_t v = (uint32_t)(rnd(&rng) % (PAGE + 1));

			pattern(obj, index, buf);
			if (pc_put(st->c, obj, index, buf, v, false))
				atomic_fetch_add(&st->bad, 1);
		} else if (op < 99) {
			pc_contains(st->c, obj, index);
		} else {
			/* replace the object: readers of the old id keep going */
			uint64_t nobj = pc_object_new(st->c, (r >> 50) % 2);
			uint64_t old = atomic_exchange(&st->slot[r % NSLOTS], nobj);

			pc_object_drop(st->c, old);
		}
	}
	return NULL;
}

static void *stats_thread(void *arg)
{
	struct stress *st = arg;
	struct pc_stats s;

	while (!atomic_load(&st->stop)) {
		pc_get_stats(st->c, &s);
		sched_yield();
	}
	return NULL;
}

static void run_stress(uint64_t budget_pages, uint64_t npages, unsigned int ops)
{
	struct stress *st = calloc(1, sizeof(*st));
	pthread_t th[NTHREADS], stat_th;
	struct pc_stats s;
	int i;

	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(pc_create(&st->c, budget_pages * PAGE), 0);
	st->npages = npages;
	st->ops = ops;
	for (i = 0; i < NSLOTS; i++)
		atomic_init(&st->slot[i], pc_object_new(st->c, (unsigned int)i % 2));
	ck_assert_int_eq(pthread_create(&stat_th, NULL, stats_thread, st), 0);
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, stress_thread, st), 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&st->stop, true);
	pthread_join(stat_th, NULL);

	pc_get_stats(st->c, &s);
	fprintf(stderr,
		"stress %llu pages: %lu reads, %llu hits, %llu misses, %llu fills, %llu evictions, "
		"%lu injected errors, %llu+%llu pages held\n",
		(unsigned long long)budget_pages, atomic_load(&st->reads),
		(unsigned long long)s.hits, (unsigned long long)s.misses,
		(unsigned long long)s.fills, (unsigned long long)s.evictions,
		atomic_load(&st->errors), (unsigned long long)s.pages[0],
		(unsigned long long)s.pages[1]);
	ck_assert_uint_eq(atomic_load(&st->bad), 0);
	ck_assert_uint_eq(s.hits + s.misses, atomic_load(&st->reads));
	ck_assert_uint_eq(s.fills, atomic_load(&st->fills));
	ck_assert_uint_gt(s.hits, 0);
	ck_assert_uint_gt(s.evictions, 0);
	ck_assert_uint_gt(atomic_load(&st->errors), 0);
	ck_assert_uint_le(s.pages[0] + s.pages[1], s.budget / PAGE);
	/*
	 * Page memory: the budget, an eighth more in spares, and what was
	 * outside the budget at once (each thread's fill page and the page it
	 * puts meanwhile), taken from the pool in batches of up to 16.
	 */
	ck_assert_uint_le(s.mem_bytes, s.budget + s.budget / 8 + NTHREADS * 2 * 16 * PAGE);
	ck_assert_uint_eq(s.bytes[0] + s.bytes[1], (s.pages[0] + s.pages[1]) * PAGE);
	pc_destroy(st->c);
	free(st);
}

/*
 * Range reads across run ends, while fills fail, put neighbours and
 * partial pages, and objects are replaced; a tiny budget evicts pages that
 * readers have pinned.
 */
static void *range_thread(void *arg)
{
	struct stress *st = arg;
	static atomic_uint seq;
	uint64_t rng = 0x777 + atomic_fetch_add(&seq, 1) * 0x10001ULL;
	const size_t max = 40 * PAGE;
	unsigned char *buf = malloc(max), *want = malloc(max + 2 * PAGE);
	unsigned int n;

	if (!buf || !want) {
		atomic_fetch_add(&st->bad, 1);
		goto out;
	}
	for (n = 0; n < st->ops; n++) {
		uint64_t r = rnd(&rng);
		uint64_t obj = atomic_load(&st->slot[r % NSLOTS]);
		uint64_t off = rnd(&rng) % (st->npages * PAGE), first, i;
		size_t len = rnd(&rng) % (r % 4 ? 3 * PAGE : max) + 1;
		struct sfill sf = { .st = st, .obj = obj, .rng = rnd(&rng) };
		int rc;

		if ((r >> 40) % 100 == 0) {
			uint64_t nobj = pc_object_new(st->c, (r >> 50) % 2);
			uint64_t old = atomic_exchange(&st->slot[r % NSLOTS], nobj);

			pc_object_drop(st->c, old);
			continue;
		}
		rc = pc_read_range(st->c, obj, off, len, buf, stress_fill, &sf);
		atomic_fetch_add(&st->reads, 1);
		if (rc == -EIO && (sf.failed || atomic_load(&st->failed_fills))) {
			atomic_fetch_add(&st->errors, 1);
			continue;
		}
		first = off / PAGE;
		for (i = 0; i <= (off + len - 1) / PAGE - first; i++)
			pattern(obj, first + i, want + i * PAGE);
		if (rc || memcmp(buf, want + off % PAGE, len))
			atomic_fetch_add(&st->bad, 1);
	}
out:
	free(buf);
	free(want);
	return NULL;
}

START_TEST(test_stress_range)
{
	struct stress *st = calloc(1, sizeof(*st));
	pthread_t th[4];
	struct pc_stats s;
	int i;

	ck_assert_ptr_nonnull(st);
	/* two shards of 32 pages; objects of 96 pages */
	ck_assert_int_eq(pc_create(&st->c, 64 * PAGE), 0);
	st->npages = 96;
	st->ops = 3000;
	for (i = 0; i < NSLOTS; i++)
		atomic_init(&st->slot[i], pc_object_new(st->c, (unsigned int)i % 2));
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, range_thread, st), 0);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	pc_get_stats(st->c, &s);
	fprintf(stderr,
		"range stress: %lu range reads, %llu hits, %llu misses, %llu evictions, "
		"%lu injected errors, %llu KiB page memory\n",
		atomic_load(&st->reads), (unsigned long long)s.hits,
		(unsigned long long)s.misses, (unsigned long long)s.evictions,
		atomic_load(&st->errors), (unsigned long long)(s.mem_bytes >> 10));
	ck_assert_uint_eq(atomic_load(&st->bad), 0);
	ck_assert_uint_gt(s.hits, 0);
	ck_assert_uint_gt(s.evictions, 0);
	ck_assert_uint_gt(atomic_load(&st->errors), 0);
	ck_assert_uint_eq(s.fills, atomic_load(&st->fills));
	ck_assert_uint_le(s.pages[0] + s.pages[1], 64);
	pc_destroy(st->c);
	free(st);
}
END_TEST

START_TEST(test_stress_tiny)
{
	run_stress(16, 64, 20000);
}
END_TEST

START_TEST(test_stress_sharded)
{
	run_stress(512, 256, 20000);
}
END_TEST

static Suite *pagecache_suite(void)
{
	Suite *s = suite_create("pagecache");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hit_miss_fill);
	tcase_add_test(tc, test_partial);
	tcase_add_test(tc, test_tiny_budget);
	tcase_add_test(tc, test_scan_resistance);
	tcase_add_test(tc, test_object_drop);
	tcase_add_test(tc, test_error_not_cached);
	tcase_add_test(tc, test_single_flight);
	tcase_add_test(tc, test_single_flight_evicted_at_once);
	tcase_add_test(tc, test_error_shared_by_waiters);
	tcase_add_test(tc, test_fill_reentrancy);
	tcase_add_test(tc, test_range_read);
	tcase_add_test(tc, test_slab_reuse);
	tcase_add_test(tc, test_table_churn);
	tcase_add_test(tc, test_stress_range);
	tcase_add_test(tc, test_stress_tiny);
	tcase_add_test(tc, test_stress_sharded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pagecache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
