// SPDX-License-Identifier: MIT
/*
 * Unit tests of the page cache's eviction policies (lib/cache/pc_policy.h):
 * each policy alone on page headers, its order of victims worked out by
 * hand; then S3-FIFO (the default) and LRU in a cache, where S3-FIFO keeps
 * a hot set through a one-pass scan and LRU does not.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/pc_internal.h"
#include "helpers/pc_testlib.h"

static const struct pc_policy_ops *const policies[] = { &pc_policy_s3fifo, &pc_policy_lru };

START_TEST(test_policy_find)
{
	struct pc_cache *c = (struct pc_cache *)1;

	ck_assert_ptr_eq(pc_policy_find("s3fifo"), &pc_policy_s3fifo);
	ck_assert_ptr_eq(pc_policy_find("lru"), &pc_policy_lru);
	ck_assert_ptr_null(pc_policy_find("S3FIFO"));
	ck_assert_ptr_null(pc_policy_find(""));
	ck_assert_int_eq(pc_create_policy(&c, 1 << 20, NULL), -EINVAL);
	ck_assert_ptr_null(c);
}
END_TEST

/* Page headers alone, as a shard hands them to its policy. */
static void fake_pages(struct pc_page *pg, unsigned int n)
{
	memset(pg, 0, n * sizeof(*pg));
	for (unsigned int i = 0; i < n; i++) {
		pg[i].index = i;
		/* bits 24.. pick a ghost slot: no two of these share one */
		pg[i].hash = ((uint64_t)(i + 1) << 24) | (i + 1);
	}
}

START_TEST(test_lru_order)
{
	const struct pc_policy_ops *ops = &pc_policy_lru;
	struct pc_page pg[4];
	void *q = ops->create(3);

	ck_assert_ptr_nonnull(q);
	fake_pages(pg, 4);
	ck_assert_ptr_null(ops->victim(q));
	ops->insert(q, &pg[0]);
	ops->insert(q, &pg[1]);
	ops->insert(q, &pg[2]);
	/* the least recently used is the oldest insert, until it is read */
	ck_assert_ptr_eq(ops->victim(q), &pg[0]);
	ops->hit(q, &pg[0]);
	ck_assert_ptr_eq(ops->victim(q), &pg[1]);
	ops->hit(q, &pg[1]);
	ops->hit(q, &pg[1]);	/* at the head already: stays there */
	/* used order now 2, 0, 1 */
	ck_assert_ptr_eq(ops->victim(q), &pg[2]);
	ops->remove(q, &pg[2]);
	ck_assert_ptr_eq(ops->victim(q), &pg[0]);
	ops->insert(q, &pg[3]);
	ops->remove(q, &pg[0]);
	ck_assert_ptr_eq(ops->victim(q), &pg[1]);
	ops->remove(q, &pg[1]);
	ck_assert_ptr_eq(ops->victim(q), &pg[3]);
	ops->remove(q, &pg[3]);
	ck_assert_ptr_null(ops->victim(q));
	ops->destroy(q);
}
END_TEST

START_TEST(test_s3fifo_order)
{
	const struct pc_policy_ops *ops = &pc_policy_s3fifo;
	struct pc_page pg[4];
	/* ten pages: a small FIFO of one, a ghost table of nine keys */
	void *q = ops->create(10);

	ck_assert_ptr_nonnull(q);
	fake_pages(pg, 4);
	ck_assert_ptr_null(ops->victim(q));
	ops->insert(q, &pg[0]);
	ops->insert(q, &pg[1]);
	ops->insert(q, &pg[2]);
	ops->hit(q, &pg[1]);
	/* the small FIFO is over its size: its oldest page, unhit, goes */
	ck_assert_ptr_eq(ops->victim(q), &pg[0]);
	ops->remove(q, &pg[0]);
	/* 1 was hit: it moves to the main FIFO and 2 goes instead */
	ck_assert_ptr_eq(ops->victim(q), &pg[2]);
	ops->remove(q, &pg[2]);
	/* 0 comes back while its key is a ghost: straight into the main FIFO */
	ops->insert(q, &pg[0]);
	/* a new page enters the small FIFO; 3 alone there is not over its size */
	ops->insert(q, &pg[3]);
	ck_assert_ptr_eq(ops->victim(q), &pg[3]);
	ops->remove(q, &pg[3]);
	/* the main FIFO: 1 came first; a hit buys it one more round */
	ops->hit(q, &pg[1]);
	ck_assert_ptr_eq(ops->victim(q), &pg[0]);
	ops->remove(q, &pg[0]);
	ck_assert_ptr_eq(ops->victim(q), &pg[1]);
	ops->remove(q, &pg[1]);
	ck_assert_ptr_null(ops->victim(q));
	/*
	 * 2 and 3 left the small FIFO unhit: ghosts.  2 comes back into the
	 * main FIFO; 1 (evicted from the main one, no ghost) into the small
	 * one, which goes first while it is at its size.
	 */
	ops->insert(q, &pg[2]);
	ops->insert(q, &pg[1]);
	ck_assert_ptr_eq(ops->victim(q), &pg[1]);
	ops->remove(q, &pg[1]);
	ops->insert(q, &pg[3]);
	ck_assert_ptr_eq(ops->victim(q), &pg[2]);
	ops->remove(q, &pg[2]);
	ck_assert_ptr_eq(ops->victim(q), &pg[3]);
	ops->remove(q, &pg[3]);
	/* a ghost counts once: 2 now enters the small FIFO, and 1 (a ghost) the main one */
	ops->insert(q, &pg[2]);
	ops->insert(q, &pg[1]);
	ck_assert_ptr_eq(ops->victim(q), &pg[2]);
	ops->remove(q, &pg[2]);
	ck_assert_ptr_eq(ops->victim(q), &pg[1]);
	ops->remove(q, &pg[1]);
	ck_assert_ptr_null(ops->victim(q));
	ops->destroy(q);
}
END_TEST

/* S3-FIFO (the default) in four pages, step by step. */
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

/*
 * A hot set read three times, then a one-pass scan of four times the
 * budget: S3-FIFO keeps the hot set, LRU keeps none of it (every shard of
 * the four sees far more scan pages than it holds, all used after the hot
 * ones).
 */
START_TEST(test_scan_resistance)
{
	const struct pc_policy_ops *ops = policies[_i];
	const bool lru = ops == &pc_policy_lru;
	struct pc_cache *c;
	struct fctx hot = { 0 }, scan = { 0 };
	const uint64_t budget = 256, nhot = 48, nscan = 4 * budget;
	uint64_t i, round, hits = 0;
	bool hit;

	ck_assert_int_eq(pc_create_policy(&c, budget * PAGE, ops), 0);
	hot.c = scan.c = c;
	hot.obj = pc_object_new(c, PC_CLASS_DATA);
	scan.obj = pc_object_new(c, PC_CLASS_DATA);

	for (round = 0; round < 3; round++)
		for (i = 0; i < nhot; i++)
			ck_assert_int_eq(read_page(c, &hot, i, NULL), 0);
	ck_assert_uint_eq(stats(c).hits, 2 * nhot);

	for (i = 0; i < nscan; i++)
		ck_assert_int_eq(read_page(c, &scan, i, NULL), 0);
	ck_assert_uint_gt(stats(c).evictions, nscan - budget);
	ck_assert_uint_le(stats(c).pages[PC_CLASS_DATA], budget);

	for (i = 0; i < nhot; i++) {
		ck_assert_int_eq(read_page(c, &hot, i, &hit), 0);
		hits += hit;
	}
	fprintf(stderr, "scan resistance (%s): %llu of %llu hot pages survived a scan of %llu\n",
		ops->name, (unsigned long long)hits, (unsigned long long)nhot,
		(unsigned long long)nscan);
	if (lru)
		ck_assert_uint_eq(hits, 0);
	else
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
	/*
	 * LRU misses the whole hot set the first time (the first scan took
	 * it), then keeps it: 128 scan pages between two readings of it are
	 * about 32 a shard, fewer than the 64 - 12 it has room for.
	 */
	if (lru)
		ck_assert_uint_eq(hits, nhot * (nscan / 128 - 1));
	else
		ck_assert_uint_ge(hits * 10, nhot * (nscan / 128) * 9);
	pc_destroy(c);
}
END_TEST

/* Any policy: content, budget and counts hold under a random mix. */
START_TEST(test_policy_invariants)
{
	const struct pc_policy_ops *ops = policies[_i];
	struct pc_cache *c;
	struct fctx f = { 0 };
	unsigned char pat[PAGE];
	struct pc_stats st;
	uint64_t i, reads = 0, budget;

	for (budget = 4; budget <= 512; budget *= 8) {
		ck_assert_int_eq(pc_create_policy(&c, budget * PAGE, ops), 0);
		f.c = c;
		f.obj = pc_object_new(c, PC_CLASS_DATA);
		atomic_store(&f.calls, 0);
		reads = 0;
		for (i = 0; i < 4000; i++) {
			uint64_t idx = splitmix(i ^ budget) % (budget * 3);

			if (i % 5) {
				ck_assert_int_eq(read_page(c, &f, idx, NULL), 0);
				reads++;
			} else {
				pattern(f.obj, idx, pat);
				ck_assert_int_eq(pc_put(c, f.obj, idx, pat, PAGE, true), 0);
			}
			if (i % 997 == 0)
				pc_object_drop(c, splitmix(i) % 2 ? f.obj + 1 : 12345);
			ck_assert_uint_le(stats(c).pages[PC_CLASS_DATA], budget);
		}
		st = stats(c);
		ck_assert_uint_eq(st.hits + st.misses, reads);
		ck_assert_uint_eq(st.misses, st.fills);
		ck_assert_uint_eq(st.fills, (uint64_t)calls(&f));
		ck_assert_uint_gt(st.hits, 0);
		ck_assert_uint_gt(st.evictions, 0);
		pc_object_drop(c, f.obj);
		ck_assert_uint_eq(stats(c).pages[PC_CLASS_DATA], 0);
		pc_destroy(c);
	}
}
END_TEST

static Suite *pagecache_policy_suite(void)
{
	Suite *s = suite_create("pagecache-policy");
	TCase *tc = tcase_create("policy");
	const int n = (int)(sizeof(policies) / sizeof(policies[0]));

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_policy_find);
	tcase_add_test(tc, test_lru_order);
	tcase_add_test(tc, test_s3fifo_order);
	tcase_add_test(tc, test_tiny_budget);
	tcase_add_loop_test(tc, test_scan_resistance, 0, n);
	tcase_add_loop_test(tc, test_policy_invariants, 0, n);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pagecache_policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
