// SPDX-License-Identifier: MIT
/*
 * Unit tests of a page cache shard's table and of single flight
 * (lib/cache/pc_table.c): tables that grow and lose entries mid-run, one
 * fill for all concurrent missers, its error shared by its waiters, fills
 * that read and store other pages.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/pagecache.h"
#include "helpers/pc_testlib.h"

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

static Suite *pagecache_table_suite(void)
{
	Suite *s = suite_create("pagecache-table");
	TCase *tc = tcase_create("table");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_table_churn);
	tcase_add_test(tc, test_single_flight);
	tcase_add_test(tc, test_single_flight_evicted_at_once);
	tcase_add_test(tc, test_error_shared_by_waiters);
	tcase_add_test(tc, test_fill_reentrancy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pagecache_table_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
