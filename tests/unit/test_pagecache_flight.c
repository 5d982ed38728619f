// SPDX-License-Identifier: MIT
/*
 * Waiting per fill: a slow fill holds up the readers of its page and no
 * one else, and a failed fill hands its error to exactly its waiters.
 * No test here measures time: each one waits for an event (with a generous
 * bound that turns a hang into a failure).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "cache/pagecache.h"

#define PAGE PC_PAGE_SIZE
/* A bound on any wait here: reached only if the cache is broken. */
#define HANG_S 60

static void pattern(uint64_t obj, uint64_t index, unsigned char *page)
{
	for (unsigned i = 0; i < PAGE; i++)
		page[i] = (unsigned char)(obj * 31 + index * 7 + i);
}

static bool pattern_ok(uint64_t obj, uint64_t index, const unsigned char *page)
{
	unsigned char want[PAGE];

	pattern(obj, index, want);
	return !memcmp(want, page, PAGE);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A fill of page STALL that blocks until released; others fill at once. */
struct stall {
	struct pc_cache *c;
	uint64_t obj;
	uint64_t stall_index;
	atomic_bool entered;    /* the stalled fill has started */
	atomic_bool release;    /* let it finish */
	atomic_int result;      /* what it returns once released */
	atomic_int calls_stalled;
	uint64_t wait_misses;   /* (error test) block until this many misses */
};

static int stall_fill(void *user, uint64_t index, void *page)
{
	struct stall *s = user;

	if (index == s->stall_index) {
		double t0 = now();

		atomic_fetch_add(&s->calls_stalled, 1);
		atomic_store(&s->entered, true);
		for (;;) {
			struct pc_stats st;

			pc_get_stats(s->c, &st);
			if (atomic_load(&s->release) && st.misses >= s->wait_misses)
				break;
			if (now() - t0 > HANG_S)
				return -ETIMEDOUT;
			sched_yield();
		}
		if (atomic_load(&s->result))
			return atomic_load(&s->result);
	}
	pattern(s->obj, index, page);
	return 0;
}

struct reader {
	struct stall *s;
	uint64_t index;
	int rc;
	bool ok;
	atomic_bool done;
};

static void *read_one(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[PAGE];

	r->rc = pc_read(r->s->c, r->s->obj, r->index, 0, PAGE, buf, stall_fill, r->s, NULL);
	r->ok = !r->rc && pattern_ok(r->s->obj, r->index, buf);
	atomic_store(&r->done, true);
	return NULL;
}

static bool wait_flag(atomic_bool *flag)
{
	double t0 = now();

	while (!atomic_load(flag)) {
		if (now() - t0 > HANG_S)
			return false;
		sched_yield();
	}
	return true;
}

/*
 * While page 0's fill stalls, readers of the other pages of its shard
 * (pages 0..15 of an object share one), cached and not, all finish.
 */
START_TEST(test_stalled_fill_holds_no_one_else)
{
	struct stall s = { .stall_index = 0 };
	struct reader staller = { .s = &s, .index = 0 }, others[15];
	pthread_t t0, t[15];
	unsigned char buf[PAGE];

	ck_assert_int_eq(pc_create(&s.c, 4 << 20), 0);
	s.obj = pc_object_new(s.c, PC_CLASS_DATA);
	/* pages 8..15 cached beforehand: hits; 1..7 are misses */
	for (uint64_t i = 8; i < 16; i++)
		ck_assert_int_eq(pc_read(s.c, s.obj, i, 0, PAGE, buf, stall_fill, &s, NULL), 0);
	ck_assert_int_eq(pthread_create(&t0, NULL, read_one, &staller), 0);
	ck_assert(wait_flag(&s.entered));
	for (int i = 0; i < 15; i++) {
		others[i] = (struct reader){ .s = &s, .index = (uint64_t)i + 1 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, read_one, &others[i]), 0);
	}
	for (int i = 0; i < 15; i++) {
		ck_assert_msg(wait_flag(&others[i].done), "page %d waited for page 0's fill", i + 1);
		pthread_join(t[i], NULL);
		ck_assert_int_eq(others[i].rc, 0);
		ck_assert(others[i].ok);
	}
	/* the stalled fill is still running: nobody finished it */
	ck_assert(!atomic_load(&staller.done));
	atomic_store(&s.release, true);
	pthread_join(t0, NULL);
	ck_assert_int_eq(staller.rc, 0);
	ck_assert(staller.ok);
	ck_assert_int_eq(atomic_load(&s.calls_stalled), 1);
	pc_destroy(s.c);
}
END_TEST

/*
 * A fill that fails while readers wait for it: they all get its error,
 * the fill ran once, nothing was cached, and the next read fills again.
 */
START_TEST(test_failed_fill_reaches_its_waiters)
{
	enum { N = 6 };
	struct stall s = { .stall_index = 3 };
	struct reader r[N], other;
	pthread_t t[N], to;
	struct pc_stats st;
	unsigned char buf[PAGE];

	ck_assert_int_eq(pc_create(&s.c, 4 << 20), 0);
	s.obj = pc_object_new(s.c, PC_CLASS_DATA);
	atomic_store(&s.result, -EPROTO);
	/*
	 * The fill returns only after all N readers of page 3 and the reader
	 * of page 4 missed: N-1 of the first wait for it.
	 */
	s.wait_misses = N + 1;
	atomic_store(&s.release, true);
	for (int i = 0; i < N; i++) {
		r[i] = (struct reader){ .s = &s, .index = 3 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, read_one, &r[i]), 0);
	}
	ck_assert(wait_flag(&s.entered));
	/* a reader of another page of the shard is not disturbed meanwhile */
	other = (struct reader){ .s = &s, .index = 4 };
	ck_assert_int_eq(pthread_create(&to, NULL, read_one, &other), 0);
	pthread_join(to, NULL);
	ck_assert_int_eq(other.rc, 0);
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(r[i].rc, -EPROTO);
	}
	ck_assert_int_eq(atomic_load(&s.calls_stalled), 1);
	ck_assert(!pc_contains(s.c, s.obj, 3));
	pc_get_stats(s.c, &st);
	ck_assert_uint_eq(st.fills, 2); /* page 3 once, page 4 once */
	/* errors are not cached */
	atomic_store(&s.result, 0);
	s.wait_misses = 0;
	ck_assert_int_eq(pc_read(s.c, s.obj, 3, 0, PAGE, buf, stall_fill, &s, NULL), 0);
	ck_assert(pattern_ok(s.obj, 3, buf));
	ck_assert(pc_contains(s.c, s.obj, 3));
	pc_destroy(s.c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pagecache_flight");
	TCase *tc = tcase_create("flight");

	tcase_set_timeout(tc, 3 * HANG_S);
	tcase_add_test(tc, test_stalled_fill_holds_no_one_else);
	tcase_add_test(tc, test_failed_fill_reaches_its_waiters);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
