// SPDX-License-Identifier: MIT
/*
 * Multi-threaded stress runs of the page cache whose every byte is
 * checked: reads, puts of neighbours and partial pages, failing fills,
 * drops and statistics, with budgets from four pages to many shards.
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

static Suite *pagecache_stress_suite(void)
{
	Suite *s = suite_create("pagecache-stress");
	TCase *tc = tcase_create("stress");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_stress_range);
	tcase_add_test(tc, test_stress_tiny);
	tcase_add_test(tc, test_stress_sharded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pagecache_stress_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
