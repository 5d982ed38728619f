// SPDX-License-Identifier: MIT
/*
 * Unit tests of the page cache's page memory (lib/cache/pc_mem.c): it is
 * allocated once and reused through evictions and drops.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/pc_internal.h"
#include "helpers/pc_testlib.h"

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
 * A destroyed cache's 2 MiB chunks serve the next cache.  The pool's chunks
 * grow 16, 16, 32, ..., 256, then 512 pages each from 512 pages held on:
 * every chunk past the first 512 pages is a full one.
 */
START_TEST(test_reuse_across_caches)
{
	const uint64_t npg = 2048, huge = 512 * PAGE;
	struct pc_cache *c;
	struct fctx f = { 0 };
	uint64_t i, before, full, round;
	bool hit;

	for (round = 0; round < 2; round++) {
		before = pc_mem_reserve_bytes();
		ck_assert_uint_eq(before, round ? full * huge : 0);
		/* room to spare in every shard: nothing is evicted */
		ck_assert_int_eq(pc_create(&c, 16 * npg * PAGE), 0);
		f.c = c;
		f.obj = pc_object_new(c, PC_CLASS_DATA);
		for (i = 0; i < npg; i++)
			ck_assert_int_eq(read_page(c, &f, i, &hit), 0);
		full = (stats(c).mem_bytes - 512 * PAGE) / huge;
		ck_assert_uint_ge(full, 3);
		ck_assert_uint_eq(stats(c).mem_bytes, 512 * PAGE + full * huge);
		/* the second cache took back every chunk the first one left */
		ck_assert_uint_eq(pc_mem_reserve_bytes(), before - (round ? full * huge : 0));
		/* every page read again is the right one: stale bytes never show */
		for (i = 0; i < npg; i++) {
			ck_assert_int_eq(read_page(c, &f, i, &hit), 0);
			ck_assert(hit);
		}
		pc_destroy(c);
		ck_assert_uint_eq(pc_mem_reserve_bytes(), full * huge);
	}
}
END_TEST

static Suite *pagecache_mem_suite(void)
{
	Suite *s = suite_create("pagecache-mem");
	TCase *tc = tcase_create("mem");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_slab_reuse);
	tcase_add_test(tc, test_reuse_across_caches);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pagecache_mem_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
