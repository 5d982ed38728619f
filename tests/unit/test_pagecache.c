// SPDX-License-Identifier: MIT
/*
 * Unit tests of the page cache's API (lib/cache/pagecache.c): counts,
 * partial pages, dropping objects, errors and range reads across shards.
 * Page memory: test_pagecache_mem.c; the shard tables and single flight:
 * test_pagecache_table.c; eviction policies: test_pagecache_policy.c;
 * threads: test_pagecache_stress.c and test_pagecache_flight.c.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/pagecache.h"
#include "helpers/pc_testlib.h"

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
	ck_assert(pc_object_live(c, a.obj));
	ck_assert(pc_object_live(c, b.obj));
	ck_assert(!pc_object_live(c, 0));
	ck_assert(!pc_object_live(c, b.obj + 1));

	pc_object_drop(c, a.obj);
	ck_assert(!pc_object_live(c, a.obj));
	ck_assert(pc_object_live(c, b.obj));
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
	ck_assert(!pc_object_live(c, d.obj));

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

static Suite *pagecache_suite(void)
{
	Suite *s = suite_create("pagecache");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hit_miss_fill);
	tcase_add_test(tc, test_partial);
	tcase_add_test(tc, test_object_drop);
	tcase_add_test(tc, test_error_not_cached);
	tcase_add_test(tc, test_range_read);
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
