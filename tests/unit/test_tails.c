// SPDX-License-Identifier: MIT
/*
 * Tails held packed (lib/cache/tails.c), on their own and in a domain.
 *
 * The store: exact bytes back for every length and offset, records that
 * cross pages, partial prefixes, dropped tails freeing their packed
 * pages, a budget of a few pages (a tail is read back exactly or missed,
 * never wrong), and threads putting, reading and dropping at once.  Tail
 * contents are a function of (object, length, byte), so bytes of another
 * tail or a torn copy show up.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/pagecache.h"
#include "cache/tails.h"

#define PAGE PC_PAGE_SIZE

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The tail of object @obj: @len bytes. */
static void pattern(uint64_t obj, uint32_t len, uint8_t *buf)
{
	uint64_t seed = splitmix(obj * 0x100000001b3ULL + len);

	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(splitmix(seed + i / 8) >> (8 * (i % 8)));
}

/* The length of object @obj's tail in the tests below: 1 .. PAGE - 1. */
static uint32_t tail_len(uint64_t obj)
{
	uint64_t h = splitmix(obj ^ 0xabcdef);

	/* mostly small, some near a page: both sides of crossing a page */
	return (h & 3) ? 1 + (uint32_t)(h >> 8) % 1500 : PAGE - 1 - (uint32_t)(h >> 8) % 300;
}

static struct pc_cache *cache(uint64_t budget)
{
	struct pc_cache *c;

	ck_assert_int_eq(pc_create(&c, budget), 0);
	return c;
}

static struct tl_stats tstats(struct tl_store *t)
{
	struct tl_stats st;

	tl_get_stats(t, &st);
	return st;
}

static uint64_t data_pages(struct pc_cache *c)
{
	struct pc_stats st;

	pc_get_stats(c, &st);
	return st.pages[PC_CLASS_DATA];
}

/* Read @obj's tail whole and check it: 0, or the miss. */
static int check_tail(struct tl_store *t, uint64_t obj)
{
	uint8_t want[PAGE], got[PAGE];
	uint32_t len = tail_len(obj);
	int rc;

	memset(got, 0xee, sizeof(got));
	rc = tl_read(t, obj, 0, len, got);
	if (rc)
		return rc;
	pattern(obj, len, want);
	ck_assert_msg(!memcmp(want, got, len), "object %llu: other bytes", (unsigned long long)obj);
	ck_assert_msg(got[len] == 0xee, "object %llu: bytes past the tail written",
		      (unsigned long long)obj);
	return 0;
}

static void put_tail(struct tl_store *t, uint64_t obj)
{
	uint8_t buf[PAGE];
	uint32_t len = tail_len(obj);

	pattern(obj, len, buf);
	ck_assert_int_eq(tl_put(t, obj, buf, len), 0);
}

START_TEST(test_tails_exact_bytes)
{
	struct pc_cache *c = cache(64u << 20);
	struct tl_store *t;
	uint64_t bytes = 0;
	uint8_t want[PAGE], got[PAGE];
	struct tl_stats st;

	ck_assert_int_eq(tl_create(&t, c), 0);
	for (uint64_t obj = 1; obj <= 3000; obj++) {
		put_tail(t, obj);
		bytes += tail_len(obj);
	}
	st = tstats(t);
	ck_assert_uint_eq(st.tails, 3000);
	ck_assert_uint_eq(st.bytes, bytes);
	/* packed end to end: the full pages and the open ones hold exactly the bytes */
	ck_assert_uint_eq(st.pages * PAGE + st.unpaged, bytes);
	ck_assert_uint_eq(data_pages(c), st.pages);
	for (uint64_t obj = 1; obj <= 3000; obj++)
		ck_assert_int_eq(check_tail(t, obj), 0);
	/* every sub-range of a few tails, crossing pages or not */
	for (uint64_t obj = 1; obj <= 40; obj++) {
		uint32_t len = tail_len(obj);

		pattern(obj, len, want);
		for (uint32_t off = 0; off <= len; off += 1 + off / 3) {
			for (uint32_t n = 0; off + n <= len; n += 1 + n / 2) {
				ck_assert_int_eq(tl_read(t, obj, off, n, got), 0);
				ck_assert(!memcmp(want + off, got, n));
			}
		}
		ck_assert_int_eq(tl_read(t, obj, len, 1, got), -EINVAL);
		ck_assert_int_eq(tl_read(t, obj, 0, len + 1, got), -EINVAL);
	}
	/* never replaced once held; bad lengths refused; misses are misses */
	memset(want, 1, sizeof(want));
	ck_assert_int_eq(tl_put(t, 5, want, 10), 0);
	ck_assert_int_eq(check_tail(t, 5), 0);
	ck_assert_int_eq(tl_put(t, 9999, want, 0), -EINVAL);
	ck_assert_int_eq(tl_put(t, 9999, want, PAGE), -EINVAL);
	ck_assert_int_eq(tl_read(t, 9999, 0, 1, got), -ENOENT);
	ck_assert(!tl_contains(t, 9999));
	ck_assert(tl_contains(t, 1));
	st = tstats(t);
	ck_assert_uint_eq(st.tails, 3000);
	ck_assert_uint_eq(st.misses, 1);
	tl_destroy(t);
	ck_assert_uint_eq(data_pages(c), 0);
	pc_destroy(c);
}
END_TEST

START_TEST(test_tails_partial)
{
	struct pc_cache *c = cache(64u << 20);
	struct tl_store *t;
	uint8_t a[PAGE], got[PAGE];

	ck_assert_int_eq(tl_create(&t, c), 0);
	for (unsigned i = 0; i < PAGE; i++)
		a[i] = (uint8_t)(i * 7 + 3);
	ck_assert_uint_eq(tl_peek_partial(t, 7, got), 0);
	ck_assert_int_eq(tl_put_partial(t, 7, a, 100), 0);
	ck_assert_uint_eq(tl_peek_partial(t, 7, got), 100);
	ck_assert(!memcmp(a, got, 100));
	/* a partial tail is never data */
	ck_assert_int_eq(tl_read(t, 7, 0, 1, got), -ENOENT);
	ck_assert(!tl_contains(t, 7));
	/* a shorter prefix does not replace a longer one; a longer one does */
	ck_assert_int_eq(tl_put_partial(t, 7, a + 1, 50), 0);
	ck_assert_uint_eq(tl_peek_partial(t, 7, got), 100);
	ck_assert(!memcmp(a, got, 100));
	ck_assert_int_eq(tl_put_partial(t, 7, a, 300), 0);
	ck_assert_uint_eq(tl_peek_partial(t, 7, got), 300);
	ck_assert_uint_eq(tstats(t).unpaged, 300);
	/* completing it forgets the prefix */
	ck_assert_int_eq(tl_put(t, 7, a, 500), 0);
	ck_assert_uint_eq(tl_peek_partial(t, 7, got), 0);
	ck_assert_uint_eq(tstats(t).unpaged, 500);
	ck_assert_int_eq(tl_read(t, 7, 0, 500, got), 0);
	ck_assert(!memcmp(a, got, 500));
	/* no prefix for a tail held complete */
	ck_assert_int_eq(tl_put_partial(t, 7, a, 20), 0);
	ck_assert_uint_eq(tl_peek_partial(t, 7, got), 0);
	/* only a few are kept: the oldest go first, and dropping forgets them */
	for (uint64_t obj = 100; obj < 200; obj++)
		ck_assert_int_eq(tl_put_partial(t, obj, a, 1000), 0);
	ck_assert_uint_le(tstats(t).unpaged, 500 + 16 * 2 * 1000);
	ck_assert_uint_eq(tl_peek_partial(t, 199, got), 1000);
	tl_drop(t, 199);
	ck_assert_uint_eq(tl_peek_partial(t, 199, got), 0);
	tl_drop(t, 7);
	ck_assert_int_eq(tl_read(t, 7, 0, 1, got), -ENOENT);
	tl_destroy(t);
	pc_destroy(c);
}
END_TEST

/*
 * Dropped tails free their bytes: packed pages that lost enough of them
 * move what is left and go, so the pages held follow the live bytes.
 */
START_TEST(test_tails_drop_reclaims)
{
	struct pc_cache *c = cache(64u << 20);
	struct tl_store *t;
	struct tl_stats st;
	uint64_t live = 0;

	ck_assert_int_eq(tl_create(&t, c), 0);
	for (uint64_t obj = 1; obj <= 4000; obj++)
		put_tail(t, obj);
	/* drop three of four, scattered */
	for (uint64_t obj = 1; obj <= 4000; obj++) {
		if (obj % 4)
			tl_drop(t, obj);
		else
			live += tail_len(obj);
	}
	/* what drops leave queued is moved by later calls: puts, and drops of nothing */
	for (uint64_t obj = 5001; obj <= 5100; obj++) {
		put_tail(t, obj);
		live += tail_len(obj);
	}
	for (uint64_t obj = 10000; obj < 12000; obj++)
		tl_drop(t, obj);
	st = tstats(t);
	ck_assert_uint_eq(st.tails, 1000 + 100);
	ck_assert_uint_eq(st.bytes, live);
	/* dead bytes stay under a 32nd of each packed page, bar a few queued */
	ck_assert_uint_le(st.pages * PAGE, live + live / 31 + 16 * PAGE);
	for (uint64_t obj = 4; obj <= 4000; obj += 4)
		ck_assert_int_eq(check_tail(t, obj), 0);
	for (uint64_t obj = 5001; obj <= 5100; obj++)
		ck_assert_int_eq(check_tail(t, obj), 0);
	for (uint64_t obj = 1; obj <= 5100; obj++)
		tl_drop(t, obj);
	st = tstats(t);
	ck_assert_uint_eq(st.tails, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_eq(st.pages, 0);
	ck_assert_uint_eq(data_pages(c), 0);
	tl_destroy(t);
	pc_destroy(c);
}
END_TEST

/*
 * A budget of four pages: the cache evicts packed pages, whose tails then
 * miss; a tail read back is exact, and what the store indexes stays
 * bounded however many tails went through.
 */
START_TEST(test_tails_evict_budget)
{
	struct pc_cache *c = cache(4 * PAGE);
	struct tl_store *t;
	struct pc_stats ps;
	struct tl_stats st;
	unsigned hits = 0, misses = 0;

	ck_assert_int_eq(tl_create(&t, c), 0);
	for (uint64_t obj = 1; obj <= 20000; obj++) {
		put_tail(t, obj);
		if (obj > 30) {
			if (check_tail(t, obj - 30))
				misses++;
			else
				hits++;
		}
	}
	pc_get_stats(c, &ps);
	st = tstats(t);
	ck_assert_uint_gt(ps.evictions, 1000);
	ck_assert_uint_le(ps.pages[PC_CLASS_DATA], 4);
	ck_assert_uint_gt(hits, 0);
	ck_assert_uint_gt(misses, 0);
	ck_assert_uint_eq(st.hits, hits);
	ck_assert_uint_eq(st.misses, misses);
	/* evicted pages are forgotten: the index holds what about 4 pages hold, swept lazily */
	ck_assert_uint_le(st.pages, 2 * 64 + 4);
	ck_assert_uint_le(st.bytes, (2 * 64 + 8) * (uint64_t)PAGE);
	ck_assert_uint_le(st.unpaged, PAGE);
	for (uint64_t obj = 1; obj <= 20000; obj++) {
		int rc = check_tail(t, obj);

		ck_assert(rc == 0 || rc == -ENOENT);
	}
	tl_destroy(t);
	ck_assert_uint_eq(data_pages(c), 0);
	pc_destroy(c);
}
END_TEST

/*
 * Threads put, read and drop tails of overlapping objects at once under a
 * budget of 32 pages: every read gives the tail's exact bytes or a miss.
 */
#define NTHREADS 4

struct worker {
	struct tl_store *t;
	unsigned id;
	unsigned reads, wrong;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint8_t want[PAGE], got[PAGE];
	uint64_t x = w->id + 1;

	for (unsigned k = 0; k < 40000; k++) {
		uint64_t obj, r;
		uint32_t len;

		x = splitmix(x);
		obj = 1 + (x >> 20) % 3000;
		len = tail_len(obj);
		r = x & 15;
		if (r < 5) {
			pattern(obj, len, want);
			if (tl_put(w->t, obj, want, len))
				w->wrong++;
		} else if (r == 5) {
			tl_drop(w->t, obj);
		} else if (r == 6) {
			pattern(obj, len, want);
			tl_put_partial(w->t, obj, want, len / 2 + 1);
			if (tl_peek_partial(w->t, obj, got) > len / 2 + 1)
				w->wrong++;
		} else {
			uint32_t off = (uint32_t)(x >> 40) % len;

			if (!tl_read(w->t, obj, off, len - off, got)) {
				pattern(obj, len, want);
				w->reads++;
				if (memcmp(want + off, got, len - off))
					w->wrong++;
			}
		}
	}
	return NULL;
}

START_TEST(test_tails_threads)
{
	struct pc_cache *c = cache(32 * PAGE);
	struct tl_store *t;
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	unsigned reads = 0;

	ck_assert_int_eq(tl_create(&t, c), 0);
	for (unsigned i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .t = t, .id = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_uint_eq(w[i].wrong, 0);
		reads += w[i].reads;
	}
	ck_assert_uint_gt(reads, 1000);
	for (uint64_t obj = 1; obj <= 3000; obj++) {
		int rc = check_tail(t, obj);

		ck_assert(rc == 0 || rc == -ENOENT);
	}
	tl_destroy(t);
	ck_assert_uint_eq(data_pages(c), 0);
	pc_destroy(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tails");
	TCase *tc = tcase_create("store");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_tails_exact_bytes);
	tcase_add_test(tc, test_tails_partial);
	tcase_add_test(tc, test_tails_drop_reclaims);
	tcase_add_test(tc, test_tails_evict_budget);
	tcase_add_test(tc, test_tails_threads);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
