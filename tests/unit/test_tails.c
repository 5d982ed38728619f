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
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <erofs_share/erofs_share.h>

#include "cache/pagecache.h"
#include "cache/tails.h"
#include "helpers/fixture_copies.h"
#include "helpers/fixtures.h"
#include "helpers/manifest.h"
#include "helpers/scale.h"

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

/* A cache whose objects 1 .. @nobj exist (the store takes tails of live objects only). */
static struct pc_cache *cache(uint64_t budget, uint64_t nobj)
{
	struct pc_cache *c;

	ck_assert_int_eq(pc_create(&c, budget), 0);
	for (uint64_t k = 1; k <= nobj; k++)
		ck_assert_uint_eq(pc_object_new(c, PC_CLASS_DATA), k);
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
	struct pc_cache *c = cache(64u << 20, 3001);
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
	/* an object the cache dropped takes no tail (a fill that ended late) */
	pc_object_drop(c, 3001);
	ck_assert_int_eq(tl_put(t, 3001, want, 10), 0);
	ck_assert_int_eq(tl_put_partial(t, 3001, want, 10), 0);
	ck_assert(!tl_contains(t, 3001));
	ck_assert_uint_eq(tl_peek_partial(t, 3001, got), 0);
	tl_destroy(t);
	ck_assert_uint_eq(data_pages(c), 0);
	pc_destroy(c);
}
END_TEST

START_TEST(test_tails_partial)
{
	struct pc_cache *c = cache(64u << 20, 200);
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
	struct pc_cache *c = cache(64u << 20, 5100);
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
 * Lazy drops (an image detached): only pages left nearly empty are moved,
 * so dropping every tail leaves nothing, and a page whose records all go
 * is freed with nothing moved; dropping three of four leaves the live
 * bytes exact, and a later put moves the sparse pages as any drop would.
 */
START_TEST(test_tails_drop_lazy)
{
	struct pc_cache *c = cache(64u << 20, 8000);
	struct tl_store *t;
	struct tl_stats st;
	uint64_t live = 0;

	ck_assert_int_eq(tl_create(&t, c), 0);
	for (uint64_t obj = 1; obj <= 4000; obj++)
		put_tail(t, obj);
	for (uint64_t obj = 1; obj <= 4000; obj++)
		tl_drop_lazy(t, obj);
	st = tstats(t);
	ck_assert_uint_eq(st.tails, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_eq(st.pages, 0);
	ck_assert_uint_eq(data_pages(c), 0);

	for (uint64_t obj = 4001; obj <= 8000; obj++)
		put_tail(t, obj);
	for (uint64_t obj = 4001; obj <= 8000; obj++) {
		if (obj % 4)
			tl_drop_lazy(t, obj);
		else
			live += tail_len(obj);
	}
	st = tstats(t);
	ck_assert_uint_eq(st.tails, 1000);
	ck_assert_uint_eq(st.bytes, live);
	for (uint64_t obj = 4004; obj <= 8000; obj += 4)
		ck_assert_int_eq(check_tail(t, obj), 0);
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
	struct pc_cache *c = cache(4 * PAGE, 20000);
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
	struct pc_cache *c = cache(32 * PAGE, 3000);
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


/*
 * Single flight: of threads that miss one tail at once, one fills it and
 * the others get its bytes; when that fill fails (it puts nothing), the
 * next waiter fills in its turn.
 */
struct flier {
	struct tl_store *t;
	bool fail_first;
	atomic_uint *fillers;
	unsigned wrong;
};

static void *flier_run(void *arg)
{
	struct flier *w = arg;
	uint8_t want[PAGE], got[PAGE];
	uint32_t len = tail_len(77);
	struct tl_flight *fl;
	int rc;

	pattern(77, len, want);
	while ((rc = tl_read_or_fill(w->t, 77, 0, len, got, &fl)) == -ENOENT) {
		unsigned n = atomic_fetch_add(w->fillers, 1);
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL); /* the others come and wait meanwhile */
		if (!(w->fail_first && n == 0))
			tl_put(w->t, 77, want, len);
		tl_fill_done(w->t, 77, fl);
	}
	if (rc || memcmp(want, got, len))
		w->wrong++;
	return NULL;
}

START_TEST(test_tails_threads_single_flight)
{
	for (int fail_first = 0; fail_first < 2; fail_first++) {
		struct pc_cache *c = cache(64u << 20, 100);
		struct tl_store *t;
		struct flier w[NTHREADS];
		pthread_t th[NTHREADS];
		atomic_uint fillers = 0;

		ck_assert_int_eq(tl_create(&t, c), 0);
		for (unsigned i = 0; i < NTHREADS; i++) {
			w[i] = (struct flier){ t, fail_first, &fillers, 0 };
			ck_assert_int_eq(pthread_create(&th[i], NULL, flier_run, &w[i]), 0);
		}
		for (unsigned i = 0; i < NTHREADS; i++) {
			pthread_join(th[i], NULL);
			ck_assert_uint_eq(w[i].wrong, 0);
		}
		/* one fill, or two when the first failed: a thread that comes
		 * later finds the tail put, or the fill under way */
		ck_assert_uint_eq(atomic_load(&fillers), 1u + (unsigned)fail_first);
		ck_assert_uint_eq(tstats(t).fills, atomic_load(&fillers));
		tl_destroy(t);
		pc_destroy(c);
	}
}
END_TEST

/* ---- in a domain: files' tails against the kernel's manifests ---- */

static int log_proof;

static void count_log(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	if (strstr(msg, "other bytes than were proven"))
		__atomic_fetch_add(&log_proof, 1, __ATOMIC_RELAXED);
}

static eshare_domain *domain(unsigned policy, uint64_t budget)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_domain *d;

	o.policy = policy;
	o.cache_bytes = budget;
	o.log = count_log;
	ck_assert_int_eq(eshare_domain_create(&d, &o), 0);
	return d;
}

static eshare_image *attach(eshare_domain *d, const struct fixture_info *f)
{
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;
	eshare_backend *devs[FX_MAX_DEVICES];
	eshare_image *img;
	char path[4096];
	int rc;

	for (unsigned k = 0; k < f->ndevices; k++) {
		fx_device_path(path, sizeof(path), f, k);
		ck_assert_int_eq(eshare_backend_open_file(&devs[k], path), 0);
	}
	o.devices = devs;
	o.ndevices = f->ndevices;
	fx_image_path(path, sizeof(path), f);
	rc = eshare_image_open_path(&img, d, path, &o);
	ck_assert_msg(rc == 0, "attach %s: %s", f->name, eshare_strerror(rc));
	return img;
}

static struct eshare_stats dstats(eshare_domain *d)
{
	struct eshare_stats s = ESHARE_STATS_INIT;

	ck_assert_int_eq(eshare_domain_stats(d, &s), 0);
	return s;
}

/* Distinct contents seen, by (sha256, size): the limit of sharing. */
struct contents {
	struct content {
		uint8_t sha[32];
		uint64_t size;
	} *v;
	size_t n, cap;
	uint64_t bytes; /* sum of their sizes */
};

static void contents_add(struct contents *c, const uint8_t sha[32], uint64_t size)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].size == size && !memcmp(c->v[i].sha, sha, 32))
			return;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		ck_assert_ptr_nonnull(c->v);
	}
	memcpy(c->v[c->n].sha, sha, 32);
	c->v[c->n++].size = size;
	c->bytes += size;
}

/*
 * Read every regular file of @m through @img whole, in reads of odd sizes
 * that end inside the tail as often as not, and check each against the
 * manifest's sha256; record the contents' sha256 of the bytes read.
 */
static void read_all(eshare_image *img, const struct manifest *m, struct contents *seen)
{
	static uint8_t buf[8 << 20];

	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->e[i];
		eshare_inode *ino;
		uint8_t md[32];
		ssize_t n;

		if (strcmp(e->type, "reg") || !e->size)
			continue;
		ck_assert_uint_le(e->size, sizeof(buf));
		ck_assert_int_eq(eshare_lookup(&ino, img, e->path), 0);
		for (uint64_t off = 0; off < e->size; off += (uint64_t)n) {
			n = eshare_pread(ino, buf + off, 5000 + (size_t)(off % 7), off);
			ck_assert_msg(n > 0, "%s at %llu: %zd", e->path, (unsigned long long)off, n);
		}
		ck_assert_int_eq(eshare_pread(ino, buf, 1, e->size), 0);
		eshare_inode_put(ino);
		SHA256(buf, e->size, md);
		ck_assert_msg(!memcmp(md, e->sha256, 32), "%s: other bytes than the kernel's", e->path);
		if (seen)
			contents_add(seen, md, e->size);
	}
}

/* Bytes of file data the cache holds: whole pages, plus tails' own bytes. */
static uint64_t held_bytes(const struct eshare_stats *s)
{
	return (s->cached_data_pages - s->cached_tail_pages) * PAGE + s->cached_tail_bytes;
}

/* Memory holding it: every data page (packed ones too), and tails not yet paged. */
static uint64_t used_bytes(const struct eshare_stats *s)
{
	return s->cached_data_bytes + s->tail_unpaged_bytes;
}

/*
 * Every fixture, read whole twice under COMPUTE: the second pass is served
 * from the cache (no miss, no backend read), every byte is the kernel's,
 * and the cache holds exactly the distinct contents' bytes, each tail
 * packed instead of taking a page.
 */
START_TEST(test_tails_fixtures)
{
	const struct fixture_info *f = &fixture_registry[_i];
	struct contents seen = { 0 };
	struct eshare_stats s1, s2;
	struct manifest m;
	eshare_domain *d = domain(ESHARE_SHARE_COMPUTE, 0);
	eshare_image *img = attach(d, f);

	ck_assert_int_eq(manifest_load(&m, f->name), 0);
	read_all(img, &m, &seen);
	s1 = dstats(d);
	read_all(img, &m, NULL);
	s2 = dstats(d);
	fprintf(stderr,
		"%s: unique %llu, held %llu, memory %llu (%llu tails, %llu bytes in %llu pages)\n",
		f->name, (unsigned long long)seen.bytes, (unsigned long long)held_bytes(&s2),
		(unsigned long long)used_bytes(&s2), (unsigned long long)s2.cached_tails,
		(unsigned long long)s2.cached_tail_bytes, (unsigned long long)s2.cached_tail_pages);
	ck_assert_uint_eq(s2.misses, s1.misses);
	ck_assert_uint_eq(s2.backend_bytes_read, s1.backend_bytes_read);
	ck_assert_uint_eq(s2.decompressed_bytes, s1.decompressed_bytes);
	ck_assert_uint_gt(s2.hits, s1.hits);
	ck_assert_uint_eq(held_bytes(&s2), seen.bytes);
	ck_assert_uint_ge(used_bytes(&s2), seen.bytes);
	/* dead bytes of dropped private tails: under a 32nd of a packed page */
	ck_assert_uint_le(used_bytes(&s2), seen.bytes + s2.cached_tail_pages * PAGE / 32 + PAGE);
	manifest_free(&m);
	free(seen.v);
	eshare_image_detach(img);
	s2 = dstats(d);
	ck_assert_uint_eq(s2.cached_data_pages, 0);
	ck_assert_uint_eq(s2.cached_tails, 0);
	ck_assert_uint_eq(s2.tail_unpaged_bytes, 0);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

/*
 * Two images with contents in common: under each sharing policy the cache
 * holds the distinct contents' bytes, within 1% in memory.
 */
static const unsigned ab_policies[] = { ESHARE_SHARE_TRUST, ESHARE_SHARE_VERIFY,
					ESHARE_SHARE_COMPUTE };

START_TEST(test_tails_shared_ab)
{
	unsigned policy = ab_policies[_i];
	struct contents seen = { 0 };
	struct manifest ma, mb;
	struct eshare_stats s1, s2;
	eshare_domain *d = domain(policy, 0);
	eshare_image *ia = attach(d, fx_get("shared-a")), *ib = attach(d, fx_get("shared-b"));

	ck_assert_int_eq(manifest_load(&ma, "shared-a"), 0);
	ck_assert_int_eq(manifest_load(&mb, "shared-b"), 0);
	read_all(ia, &ma, &seen);
	read_all(ib, &mb, &seen);
	s1 = dstats(d);
	read_all(ia, &ma, NULL);
	read_all(ib, &mb, NULL);
	s2 = dstats(d);
	fprintf(stderr, "shared-a+b policy %u: unique %llu, held %llu, memory %llu, %llu tails\n",
		policy, (unsigned long long)seen.bytes, (unsigned long long)held_bytes(&s2),
		(unsigned long long)used_bytes(&s2), (unsigned long long)s2.cached_tails);
	ck_assert_uint_gt(s2.shared_objects, 50);
	ck_assert_uint_eq(s2.misses, s1.misses);
	ck_assert_uint_eq(held_bytes(&s2), seen.bytes);
	ck_assert_uint_ge(used_bytes(&s2), seen.bytes);
	ck_assert_uint_le(used_bytes(&s2), seen.bytes + seen.bytes / 100);
	ck_assert_uint_eq(s2.verify_failures, 0);
	manifest_free(&ma);
	manifest_free(&mb);
	free(seen.v);
	eshare_image_detach(ia);
	eshare_image_detach(ib);
	s2 = dstats(d);
	ck_assert_uint_eq(s2.cached_data_pages, 0);
	ck_assert_uint_eq(s2.cached_tails, 0);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

/*
 * A budget of 64 KiB: packed tails are evicted with the pages, stay inside
 * the budget, and every byte read is still the kernel's.
 */
START_TEST(test_tails_small_budget)
{
	struct manifest ma, mb;
	struct eshare_stats s;
	eshare_domain *d = domain(ESHARE_SHARE_VERIFY, 64 << 10);
	eshare_image *ia = attach(d, fx_get("shared-a")), *ib = attach(d, fx_get("shared-b"));

	ck_assert_int_eq(manifest_load(&ma, "shared-a"), 0);
	ck_assert_int_eq(manifest_load(&mb, "shared-b"), 0);
	for (int round = 0; round < 2; round++) {
		read_all(ia, &ma, NULL);
		read_all(ib, &mb, NULL);
	}
	s = dstats(d);
	ck_assert_uint_gt(s.evictions, 100);
	ck_assert_uint_le(s.cached_data_bytes + s.cached_meta_bytes, 64 << 10);
	ck_assert_uint_le(s.cached_tail_pages, s.cached_data_pages);
	/* outside the budget: one open page and two prefixes at most */
	ck_assert_uint_le(s.tail_unpaged_bytes, 3 * PAGE);
	manifest_free(&ma);
	manifest_free(&mb);
	eshare_image_detach(ia);
	eshare_image_detach(ib);
	s = dstats(d);
	ck_assert_uint_eq(s.cached_data_pages + s.cached_meta_pages, 0);
	ck_assert_uint_eq(s.cached_tails, 0);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

/*
 * Four threads read the tails (and small files whole) of two images that
 * share contents, in different orders, under a budget that keeps evicting:
 * every byte is the one a domain sharing nothing read and the manifest
 * proved.
 */
struct tfile {
	const char *path;
	uint64_t size;
	uint8_t *bytes;
	eshare_image *img;
};

struct treader {
	struct tfile *files;
	size_t nfiles;
	unsigned id;
	unsigned wrong, reads;
};

static void *treader_run(void *arg)
{
	struct treader *r = arg;
	uint8_t buf[2 * PAGE];

	for (unsigned round = 0; round < 6; round++) {
		for (size_t k = 0; k < r->nfiles; k++) {
			size_t i = (k * (2 * r->id + 1) + r->id * 7) % r->nfiles;
			struct tfile *f = &r->files[i];
			uint64_t tail = f->size % PAGE ? f->size % PAGE : PAGE;
			uint64_t off = f->size - tail - (f->size > tail && (k & 1) ? 100 : 0);
			eshare_inode *ino;
			ssize_t n;

			if (eshare_lookup(&ino, f->img, f->path)) {
				r->wrong++;
				continue;
			}
			n = eshare_pread(ino, buf, sizeof(buf), off);
			eshare_inode_put(ino);
			r->reads++;
			if (n != (ssize_t)(f->size - off) || memcmp(buf, f->bytes + off, (size_t)n))
				r->wrong++;
		}
	}
	return NULL;
}

/* Every regular file of fixture @name, bytes read through a domain sharing nothing. */
static size_t load_files(struct tfile *out, size_t cap, const char *name, struct manifest *m)
{
	eshare_domain *d = domain(ESHARE_SHARE_OFF, 0);
	eshare_image *img = attach(d, fx_get(name));
	size_t n = 0;

	ck_assert_int_eq(manifest_load(m, name), 0);
	for (size_t i = 0; i < m->n && n < cap; i++) {
		const struct manifest_entry *e = &m->e[i];
		eshare_inode *ino;
		uint8_t md[32];

		if (strcmp(e->type, "reg") || !e->size || e->size > (1 << 20))
			continue;
		out[n].path = e->path;
		out[n].size = e->size;
		out[n].bytes = malloc(e->size);
		ck_assert_ptr_nonnull(out[n].bytes);
		ck_assert_int_eq(eshare_lookup(&ino, img, e->path), 0);
		ck_assert_int_eq(eshare_pread(ino, out[n].bytes, e->size, 0), (ssize_t)e->size);
		eshare_inode_put(ino);
		SHA256(out[n].bytes, e->size, md);
		ck_assert(!memcmp(md, e->sha256, 32));
		n++;
	}
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	return n;
}

START_TEST(test_tails_threads_domain)
{
	static struct tfile files[8192];
	struct manifest ma, mb;
	struct treader r[NTHREADS];
	pthread_t th[NTHREADS];
	eshare_domain *d;
	eshare_image *ia, *ib;
	size_t na, nb;
	struct eshare_stats s;

	na = load_files(files, 4096, "shared-a", &ma);
	nb = load_files(files + na, 4096, "shared-b", &mb);
	d = domain(ESHARE_SHARE_VERIFY, 256 << 10);
	ia = attach(d, fx_get("shared-a"));
	ib = attach(d, fx_get("shared-b"));
	for (size_t i = 0; i < na + nb; i++)
		files[i].img = i < na ? ia : ib;
	for (unsigned i = 0; i < NTHREADS; i++) {
		r[i] = (struct treader){ .files = files, .nfiles = na + nb, .id = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, treader_run, &r[i]), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_uint_eq(r[i].wrong, 0);
		ck_assert_uint_gt(r[i].reads, 0);
	}
	s = dstats(d);
	ck_assert_uint_gt(s.cached_tails, 0);
	ck_assert_uint_gt(s.evictions, 0);
	ck_assert_uint_eq(s.verify_failures, 0);
	eshare_image_detach(ia);
	eshare_image_detach(ib);
	s = dstats(d);
	ck_assert_uint_eq(s.cached_tails, 0);
	ck_assert_uint_eq(s.cached_data_pages, 0);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	for (size_t i = 0; i < na + nb; i++)
		free(files[i].bytes);
	manifest_free(&ma);
	manifest_free(&mb);
}
END_TEST

/*
 * A shared file's tail is proven like any page: the attacker's image is
 * honest while the file is hashed, then its tail bytes change in memory.
 * Its refill of the evicted tail is its own alone; the victim reads the
 * proven bytes, and the attacker leaves the shared object.
 */
START_TEST(test_tails_proof)
{
	const struct fixture_info *f = fx_get("digest-plain");
	struct tfile files[4096];
	struct manifest m;
	size_t n = load_files(files, 4096, "digest-plain", &m), victim_file = n;
	uint8_t *copy, buf[PAGE], *at = NULL;
	size_t len;
	char path[4096];
	eshare_domain *d;
	eshare_image *victim, *attacker;
	eshare_backend *be;
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;
	struct eshare_stats s;

	fx_image_path(path, sizeof(path), f);
	copy = fc_slurp(path, &len);
	ck_assert_ptr_nonnull(copy);
	/* a file over a page whose tail (64 bytes or more) is found once in the image */
	for (size_t i = 0; i < n && victim_file == n; i++) {
		uint64_t tl = files[i].size % PAGE;
		const uint8_t *t = files[i].bytes + files[i].size - tl;
		uint8_t *hit;

		if (files[i].size < PAGE || tl < 64)
			continue;
		hit = memmem(copy, len, t, tl);
		if (hit && !memmem(hit + 1, len - (size_t)(hit + 1 - copy), t, tl)) {
			victim_file = i;
			at = hit;
		}
	}
	ck_assert_uint_lt(victim_file, n);
	__atomic_store_n(&log_proof, 0, __ATOMIC_RELAXED);
	d = domain(ESHARE_SHARE_VERIFY, 64 << 10);
	victim = attach(d, f);
	ck_assert_int_eq(eshare_backend_memory(&be, copy, len, NULL, NULL), 0);
	o.name = "attacker";
	ck_assert_int_eq(eshare_image_attach(&attacker, d, be, &o), 0);
	{
		struct tfile *t = &files[victim_file];
		uint64_t toff = t->size - t->size % PAGE;
		eshare_inode *vi, *ai;
		struct eshare_file_identity a = ESHARE_FILE_IDENTITY_INIT, b = a;
		static uint8_t whole[1 << 20];

		ck_assert_int_eq(eshare_lookup(&vi, victim, t->path), 0);
		ck_assert_int_eq(eshare_lookup(&ai, attacker, t->path), 0);
		ck_assert_int_eq(eshare_pread(vi, whole, t->size, 0), (ssize_t)t->size);
		ck_assert_int_eq(eshare_pread(ai, whole, t->size, 0), (ssize_t)t->size);
		ck_assert(!memcmp(whole, t->bytes, t->size));
		ck_assert_int_eq(eshare_file_identity(vi, 0, &a), 0);
		ck_assert_int_eq(eshare_file_identity(ai, 0, &b), 0);
		ck_assert(a.flags & ESHARE_IDENTITY_SHARED);
		ck_assert_uint_eq(a.object, b.object);
		/* change the attacker's tail, then push the cached one out */
		for (size_t k = 0; k < t->size % PAGE; k += 16)
			at[k] ^= 0x20;
		for (int round = 0; round < 2; round++) {
			for (size_t i = 0; i < n; i++) {
				eshare_inode *x;

				if (i == victim_file)
					continue;
				ck_assert_int_eq(eshare_lookup(&x, victim, files[i].path), 0);
				ck_assert_int_eq(eshare_pread(x, whole, files[i].size, 0),
						 (ssize_t)files[i].size);
				eshare_inode_put(x);
			}
		}
		/* the attacker refills the tail first, from its changed image */
		ck_assert_int_eq(eshare_pread(ai, buf, t->size - toff, toff),
				 (ssize_t)(t->size - toff));
		ck_assert_msg(memcmp(buf, t->bytes + toff, t->size - toff),
			      "the attacker should read its own (changed) tail");
		for (int round = 0; round < 3; round++) {
			memset(buf, 0, sizeof(buf));
			ck_assert_int_eq(eshare_pread(vi, buf, PAGE, toff), (ssize_t)(t->size - toff));
			ck_assert_msg(!memcmp(buf, t->bytes + toff, t->size - toff),
				      "the victim read other tail bytes");
			ck_assert_int_eq(eshare_pread(ai, buf, PAGE, toff), (ssize_t)(t->size - toff));
		}
		ck_assert_int_eq(eshare_pread(vi, whole, t->size, 0), (ssize_t)t->size);
		ck_assert(!memcmp(whole, t->bytes, t->size));
		s = dstats(d);
		ck_assert_uint_eq(s.verify_failures, 1);
		ck_assert_int_eq(__atomic_load_n(&log_proof, __ATOMIC_RELAXED), 1);
		a = (struct eshare_file_identity)ESHARE_FILE_IDENTITY_INIT;
		b = a;
		ck_assert_int_eq(eshare_file_identity(vi, 0, &a), 0);
		ck_assert_int_eq(eshare_file_identity(ai, 0, &b), 0);
		ck_assert(a.flags & ESHARE_IDENTITY_SHARED);
		ck_assert(!(b.flags & ESHARE_IDENTITY_SHARED));
		eshare_inode_put(vi);
		eshare_inode_put(ai);
	}
	eshare_image_detach(attacker);
	eshare_image_detach(victim);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	for (size_t i = 0; i < n; i++)
		free(files[i].bytes);
	manifest_free(&m);
	free(copy);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tails");
	TCase *tc = tcase_create("store");
	/* TSan: the threaded cases only (the others run in the other builds) */
	bool all = test_scale() != TEST_SCALE_THREADS;
	SRunner *sr;
	int failed;

	fprintf(stderr, "test_tails: %s\n", test_scale_name(test_scale()));
	tcase_set_timeout(tc, 300);
	if (all) {
		tcase_add_test(tc, test_tails_exact_bytes);
		tcase_add_test(tc, test_tails_partial);
		tcase_add_test(tc, test_tails_drop_reclaims);
		tcase_add_test(tc, test_tails_drop_lazy);
		tcase_add_test(tc, test_tails_evict_budget);
	}
	tcase_add_test(tc, test_tails_threads);
	tcase_add_test(tc, test_tails_threads_single_flight);
	suite_add_tcase(s, tc);
	tc = tcase_create("domain");
	tcase_set_timeout(tc, 300);
	if (all) {
		tcase_add_loop_test(tc, test_tails_fixtures, 0, (int)fixture_count);
		tcase_add_loop_test(tc, test_tails_shared_ab, 0,
				    sizeof(ab_policies) / sizeof(ab_policies[0]));
		tcase_add_test(tc, test_tails_small_budget);
		tcase_add_test(tc, test_tails_proof);
	}
	tcase_add_test(tc, test_tails_threads_domain);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
