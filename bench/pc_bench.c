// SPDX-License-Identifier: MIT
/*
 * pc_bench: the page cache alone (lib/cache/pagecache.c), against memcpy.
 *
 *   pc_bench [-p PAGES] [-o OBJ_PAGES] [-r REPEAT] [-t THREADS] [-T TESTS] [-P POLICIES] [-q]
 *
 * PAGES pages (default 16384, 64 MiB) in objects of OBJ_PAGES pages each
 * (default 256, 1 MiB: a file) are timed in these tests, each against a
 * memcpy baseline run in the same process, alternating with it, so that
 * the ratio holds on a noisy machine where absolute times do not:
 *
 *   hot-64k / hot-1m  every page already cached (budget 2x PAGES): read
 *          every object whole through pc_read_range() in 64 KiB or 1 MiB
 *          ranges into a buffer of that size.  Baseline: memcpy of the
 *          same ranges from one buffer of PAGES pages holding the same
 *          bytes.  The pages are stored object by object, in order.
 *   hot-shuf-64k  as hot-64k, but the pages were stored in a random
 *          order, so that consecutive pages of an object do not lie next to
 *          each other in memory (as when fills of many files interleave).
 *   hot-same-64k  as hot-64k, but every thread reads every object in the
 *          same order, so the threads meet on the same shards (only
 *          reported with more than one thread).
 *   cold   pc_put() of PAGES fresh pages (complete) into a new cache of
 *          budget 2x PAGES, from a 1 MiB source buffer, one object at a
 *          time as a decoded extent would.  Baseline: malloc(4096) per
 *          page plus memcpy from the same source, the pages kept until
 *          the timing stops.  The cache is created before and destroyed
 *          after the timing; the baseline's pages are freed after it.
 *          Every cold run, of the cache or of the baseline, runs in a
 *          child process of its own (see time_cold_child()).
 *   cold-evict  pc_put() of PAGES fresh pages into a cache of PAGES/4
 *          pages that is already full: the steady state of a cold scan
 *          through a cache too small for it (every put evicts).
 *          Baseline: a ring of PAGES/4 malloc'd pages, faulted in before
 *          the timing; each new page frees the oldest, mallocs and copies
 *          (memory that is reused, as evicted pages are).
 *   zipf   reads of 64 KiB (a run of 16 pages) through pc_read_range()
 *          into a cache of PAGES/4 pages, the run picked from all of
 *          PAGES/16 by a Zipf law (exponent 0.9, ranks shuffled over the
 *          objects), 16 x PAGES/16 reads a pass; a miss fills its page
 *          with a memcpy from the source.  One untimed pass first, then
 *          a timed one, whose page hit ratio is reported.  Baseline: the
 *          memcpy of the same ranges from the source.
 *   scan   as zipf, but every other read is of a hot set of an eighth of
 *          the runs (uniformly), and the others walk through the other
 *          runs in order, round and round: a one-pass scan much larger
 *          than the cache competing with a hot set that fits in it.
 *
 * With -t N (default: 1 then 2) the objects are split between N threads
 * (object k to thread k % N) for both the cache and its baseline; the
 * time is the wall time from a barrier to the last thread's end.  Each
 * figure is the median of REPEAT (default 9) runs.  Before a hot test,
 * untimed, every byte the cache returns is compared with the source.
 *
 * -T runs only the tests whose names are listed (comma-separated).
 * -P runs every test with each eviction policy listed (comma-separated:
 * s3fifo, the library's, and lru; default s3fifo), one after the other.
 *
 * Output: one line a test "TEST threads=N cache_ms=X memcpy_ms=Y ratio=Z
 * policy=P", ratio = cache / memcpy, then for zipf and scan "hit_ratio=H"
 * (the median of the timed passes).  -q prints nothing but those lines.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/pagecache.h"
#include "cache/pc_policy.h"

#define PAGE PC_PAGE_SIZE
#define MAX_THREADS 8
#define RUN 16		/* pages a zipf or scan read: a run of one shard */

struct bench {
	const char *tests;	/* NULL: all */
	const struct pc_policy_ops *policy;
	uint64_t pages, obj_pages, nobj;
	unsigned int threads, repeat;
	unsigned char *src;	/* pages * PAGE bytes: what every object holds */
	struct pc_cache *c;
	uint64_t *obj;		/* cache ids of the objects */
	uint64_t *trace;	/* zipf, scan: the runs read, in order */
	uint64_t ntrace;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "pc_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* A hot read never misses: a fill is a bug here. */
static int no_fill(void *user, uint64_t index, void *page)
{
	(void)user;
	(void)index;
	(void)page;
	return -EPROTO;
}

/* ---- one timed phase, run by THREADS threads ---- */

enum job {
	J_HOT, J_HOT_SAME, J_MEMCPY_HOT, J_MEMCPY_HOT_SAME, J_COLD, J_MALLOC_COLD, J_MALLOC_RING,
	J_TRACE, J_MEMCPY_TRACE
};

/* A miss of the zipf and scan tests: the page from the source. */
struct src_fill {
	const unsigned char *obj_src;
};

static int fill_src(void *user, uint64_t index, void *page)
{
	const struct src_fill *f = user;

	memcpy(page, f->obj_src + index * PAGE, PAGE);
	return 0;
}

struct worker {
	struct bench *b;
	pthread_barrier_t *bar;
	pthread_t th;
	unsigned int id;
	enum job job;
	size_t range;
	unsigned char *buf;	/* range bytes */
	void **pages;		/* J_MALLOC_COLD: the pages it kept; _RING: its ring */
	uint64_t npages;	/* _RING: the ring's size */
	double end;
	int rc;
};

/* Objects of thread @w: k % threads == id, or all of them for the _SAME jobs. */
static bool mine(const struct worker *w, uint64_t k)
{
	if (w->job == J_HOT_SAME || w->job == J_MEMCPY_HOT_SAME)
		return true;
	return k % w->b->threads == w->id;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	const uint64_t osize = b->obj_pages * PAGE;
	uint64_t k, off, i;

	pthread_barrier_wait(w->bar);
	if (w->job == J_TRACE || w->job == J_MEMCPY_TRACE) {
		const uint64_t runs = b->obj_pages / RUN;

		for (i = w->id; i < b->ntrace && !w->rc; i += b->threads) {
			struct src_fill f;

			k = b->trace[i] / runs;
			off = b->trace[i] % runs * RUN * PAGE;
			f.obj_src = b->src + k * osize;
			if (w->job == J_TRACE)
				w->rc = pc_read_range(b->c, b->obj[k], off, RUN * PAGE, w->buf,
						      fill_src, &f);
			else
				memcpy(w->buf, f.obj_src + off, RUN * PAGE);
		}
		w->end = now();
		return NULL;
	}
	for (k = 0; k < b->nobj && !w->rc; k++) {
		const unsigned char *s = b->src + k * osize;

		if (!mine(w, k))
			continue;
		switch (w->job) {
		case J_HOT:
		case J_HOT_SAME:
			for (off = 0; off < osize && !w->rc; off += w->range)
				w->rc = pc_read_range(b->c, b->obj[k], off, w->range, w->buf,
						      no_fill, NULL);
			break;
		case J_MEMCPY_HOT:
		case J_MEMCPY_HOT_SAME:
			for (off = 0; off < osize; off += w->range)
				memcpy(w->buf, s + off, w->range);
			break;
		case J_COLD:
			/* a decoded extent's pages come from one reused buffer */
			for (i = 0; i < b->obj_pages && !w->rc; i++)
				w->rc = pc_put(b->c, b->obj[k], i, b->src + i * PAGE, PAGE, true);
			break;
		case J_MALLOC_COLD:
			for (i = 0; i < b->obj_pages; i++) {
				void *p = malloc(PAGE);

				if (!p) {
					w->rc = -ENOMEM;
					break;
				}
				memcpy(p, b->src + i * PAGE, PAGE);
				w->pages[w->npages++] = p;
			}
			break;
		case J_MALLOC_RING:
			/* the oldest page makes room for the new one, as an eviction does */
			for (i = 0; i < b->obj_pages; i++) {
				uint64_t slot = (k * b->obj_pages + i) % w->npages;
				void *p;

				free(w->pages[slot]);
				p = malloc(PAGE);
				w->pages[slot] = p;
				if (!p) {
					w->rc = -ENOMEM;
					break;
				}
				memcpy(p, b->src + i * PAGE, PAGE);
			}
			break;
		case J_TRACE:
		case J_MEMCPY_TRACE:
			break;	/* above */
		}
	}
	w->end = now();
	return NULL;
}

/* Run @job on every thread; the wall time from the barrier to the last end. */
static double run(struct bench *b, enum job job, size_t range, unsigned char **bufs,
		  void ***kept)
{
	struct worker w[MAX_THREADS];
	pthread_barrier_t bar;
	double start, end = 0;
	unsigned int t;

	pthread_barrier_init(&bar, NULL, b->threads + 1);
	for (t = 0; t < b->threads; t++) {
		w[t] = (struct worker){ .b = b, .bar = &bar, .id = t, .job = job, .range = range };
		w[t].buf = bufs ? bufs[t] : NULL;
		w[t].pages = kept ? kept[t] : NULL;
		if (job == J_MALLOC_RING)
			w[t].npages = b->pages / 4 / b->threads;
		if (pthread_create(&w[t].th, NULL, worker_main, &w[t]))
			die("pthread_create", EAGAIN);
	}
	start = now();
	pthread_barrier_wait(&bar);
	for (t = 0; t < b->threads; t++) {
		pthread_join(w[t].th, NULL);
		if (w[t].rc)
			die("timed phase", w[t].rc);
		if (w[t].end > end)
			end = w[t].end;
	}
	pthread_barrier_destroy(&bar);
	/* the barrier's release is within microseconds of start */
	return (end - start) * 1e3;
}

/* ---- setup ---- */

static void new_cache(struct bench *b, uint64_t budget_pages)
{
	uint64_t k;
	int rc = pc_create_policy(&b->c, budget_pages * PAGE, b->policy);

	if (rc)
		die("pc_create_policy", rc);
	for (k = 0; k < b->nobj; k++)
		b->obj[k] = pc_object_new(b->c, PC_CLASS_DATA);
}

/* Store every page, object by object in order, or (@shuffle) in a random order. */
static void fill_cache(struct bench *b, bool shuffle)
{
	uint64_t *order = malloc(b->pages * sizeof(*order)), i, rng = 0x2545f4914f6cdd1dULL;
	int rc;

	if (!order)
		die("malloc", ENOMEM);
	for (i = 0; i < b->pages; i++)
		order[i] = i;
	for (i = b->pages - 1; shuffle && i > 0; i--) {
		uint64_t j, t;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		j = rng % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < b->pages; i++) {
		uint64_t k = order[i] / b->obj_pages, pg = order[i] % b->obj_pages;

		rc = pc_put(b->c, b->obj[k], pg, b->src + order[i] * PAGE, PAGE, true);
		if (rc)
			die("pc_put", rc);
	}
	free(order);
}

/* Untimed: every byte of every object reads back as the source holds it. */
static void check_cache(struct bench *b, size_t range, unsigned char *buf)
{
	const uint64_t osize = b->obj_pages * PAGE;
	uint64_t k, off;
	struct pc_stats st;
	int rc;

	for (k = 0; k < b->nobj; k++)
		for (off = 0; off < osize; off += range) {
			/* also an unaligned range across page ends */
			size_t len = off + range < osize ? range : osize - off;
			uint64_t o = off + (off && len > 100 ? 100 : 0);

			len -= o - off;
			rc = pc_read_range(b->c, b->obj[k], o, len, buf, no_fill, NULL);
			if (rc)
				die("check read", rc);
			if (memcmp(buf, b->src + k * osize + o, len)) {
				fprintf(stderr, "pc_bench: object %llu at %llu: wrong bytes\n",
					(unsigned long long)k, (unsigned long long)o);
				exit(1);
			}
		}
	pc_get_stats(b->c, &st);
	if (st.misses || st.evictions) {
		fprintf(stderr, "pc_bench: %llu misses, %llu evictions in a hot cache\n",
			(unsigned long long)st.misses, (unsigned long long)st.evictions);
		exit(1);
	}
}

/* @hr: hit ratios of the repetitions, or NULL */
static void report(const char *test, struct bench *b, double *tc, double *tm, double *hr)
{
	double c = median(tc, b->repeat), m = median(tm, b->repeat);

	printf("%-14s threads=%u cache_ms=%.2f memcpy_ms=%.2f ratio=%.2f policy=%s", test,
	       b->threads, c, m, c / m, b->policy->name);
	if (hr)
		printf(" hit_ratio=%.3f", median(hr, b->repeat));
	printf("\n");
	fflush(stdout);
}

static void bench_hot(struct bench *b, size_t range, bool same, bool shuffle, const char *name)
{
	unsigned char *bufs[MAX_THREADS];
	double tc[64], tm[64];
	unsigned int t, r;

	for (t = 0; t < b->threads; t++) {
		bufs[t] = aligned_alloc(64, range);
		if (!bufs[t])
			die("malloc", ENOMEM);
		memset(bufs[t], 0, range);
	}
	new_cache(b, 2 * b->pages);
	fill_cache(b, shuffle);
	check_cache(b, range, bufs[0]);
	/* one warm-up round of each, untimed */
	run(b, same ? J_HOT_SAME : J_HOT, range, bufs, NULL);
	run(b, same ? J_MEMCPY_HOT_SAME : J_MEMCPY_HOT, range, bufs, NULL);
	for (r = 0; r < b->repeat; r++) {
		/* alternate which goes first, so neither always follows the other */
		if (r % 2) {
			tm[r] = run(b, same ? J_MEMCPY_HOT_SAME : J_MEMCPY_HOT, range, bufs, NULL);
			tc[r] = run(b, same ? J_HOT_SAME : J_HOT, range, bufs, NULL);
		} else {
			tc[r] = run(b, same ? J_HOT_SAME : J_HOT, range, bufs, NULL);
			tm[r] = run(b, same ? J_MEMCPY_HOT_SAME : J_MEMCPY_HOT, range, bufs, NULL);
		}
	}
	pc_destroy(b->c);
	b->c = NULL;
	for (t = 0; t < b->threads; t++)
		free(bufs[t]);
	report(name, b, tc, tm, NULL);
}

static double time_malloc_cold(struct bench *b)
{
	void **kept[MAX_THREADS];
	unsigned int t;
	uint64_t i;
	double ms;

	for (t = 0; t < b->threads; t++) {
		kept[t] = calloc(b->pages, sizeof(void *));
		if (!kept[t])
			die("malloc", ENOMEM);
	}
	ms = run(b, J_MALLOC_COLD, 0, NULL, kept);
	for (t = 0; t < b->threads; t++) {
		for (i = 0; i < b->pages && kept[t][i]; i++)
			free(kept[t][i]);
		free(kept[t]);
	}
	return ms;
}

/* The baseline of cold-evict: a ring of PAGES/4 pages, faulted in before. */
static double time_malloc_ring(struct bench *b)
{
	const uint64_t n = b->pages / 4 / b->threads;
	void **ring[MAX_THREADS];
	unsigned int t;
	uint64_t i;
	double ms;

	for (t = 0; t < b->threads; t++) {
		ring[t] = calloc(n, sizeof(void *));
		if (!ring[t])
			die("malloc", ENOMEM);
		for (i = 0; i < n; i++) {
			ring[t][i] = malloc(PAGE);
			if (!ring[t][i])
				die("malloc", ENOMEM);
			memset(ring[t][i], 1, PAGE);
		}
	}
	ms = run(b, J_MALLOC_RING, 0, NULL, ring);
	for (t = 0; t < b->threads; t++) {
		for (i = 0; i < n; i++)
			free(ring[t][i]);
		free(ring[t]);
	}
	return ms;
}

static double time_cache_cold(struct bench *b, bool evict)
{
	double ms;

	if (evict) {
		struct bench pre = *b;

		/* fill it with other objects first, untimed */
		new_cache(b, b->pages / 4);
		pre.c = b->c;
		pre.obj = calloc(b->nobj, sizeof(uint64_t));
		if (!pre.obj)
			die("malloc", ENOMEM);
		for (uint64_t k = 0; k < b->nobj; k++)
			pre.obj[k] = pc_object_new(b->c, PC_CLASS_DATA);
		fill_cache(&pre, false);
		free(pre.obj);
	} else {
		new_cache(b, 2 * b->pages);
	}
	ms = run(b, J_COLD, 0, NULL, NULL);
	pc_destroy(b->c);
	b->c = NULL;
	return ms;
}

/*
 * Time one cold run in a child process forked for it: the heap of each run
 * starts as the parent left it (holding only the source), so neither the
 * cache nor the baseline pays for the free chunks the other left behind
 * (glibc's bins, once fragmented by thousands of 4 KiB frees, make a later
 * malloc several times slower), and every page is fresh memory for both.
 */
static double time_cold_child(struct bench *b, int what)
{
	int fd[2], status;
	double ms = -1;
	pid_t pid;

	fflush(stdout);
	if (pipe(fd))
		die("pipe", errno);
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (!pid) {
		close(fd[0]);
		if (what == 3)
			ms = time_malloc_ring(b);
		else
			ms = what ? time_cache_cold(b, what == 2) : time_malloc_cold(b);
		if (write(fd[1], &ms, sizeof(ms)) != sizeof(ms))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &ms, sizeof(ms)) != sizeof(ms))
		ms = -1;
	close(fd[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) || ms < 0) {
		fprintf(stderr, "pc_bench: a cold run failed\n");
		exit(1);
	}
	return ms;
}

static void bench_cold(struct bench *b, bool evict)
{
	double tc[64], tm[64];
	int what = evict ? 2 : 1, base = evict ? 3 : 0;
	unsigned int r;

	for (r = 0; r < b->repeat; r++) {
		if (r % 2) {
			tm[r] = time_cold_child(b, base);
			tc[r] = time_cold_child(b, what);
		} else {
			tc[r] = time_cold_child(b, what);
			tm[r] = time_cold_child(b, base);
		}
	}
	report(evict ? "cold-evict" : "cold", b, tc, tm, NULL);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The runs the zipf (@scan false) or scan test reads, in order. */
static void make_trace(struct bench *b, bool scan)
{
	const uint64_t nruns = b->pages / RUN, nhot = nruns / 8;
	uint64_t *perm = malloc(nruns * sizeof(*perm)), rng = 0x9e3779b97f4a7c15ULL, i, j, t;
	double *cdf = malloc(nruns * sizeof(*cdf)), sum = 0;

	b->ntrace = 16 * nruns;
	b->trace = malloc(b->ntrace * sizeof(*b->trace));
	if (!perm || !cdf || !b->trace)
		die("malloc", ENOMEM);
	/* rank r (0 = hottest) is run perm[r]: hot runs lie anywhere */
	for (i = 0; i < nruns; i++)
		perm[i] = i;
	for (i = nruns - 1; i > 0; i--) {
		j = xorshift(&rng) % (i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < nruns; i++) {
		sum += 1.0 / pow((double)(i + 1), 0.9);
		cdf[i] = sum;
	}
	for (i = 0; i < b->ntrace; i++) {
		if (scan) {
			/* the hot set is perm[0..nhot), the scan walks the rest */
			if (i % 2)
				b->trace[i] = perm[xorshift(&rng) % nhot];
			else
				b->trace[i] = perm[nhot + i / 2 % (nruns - nhot)];
			continue;
		}
		double u = (double)(xorshift(&rng) >> 11) / 9007199254740992.0 * sum;
		uint64_t lo = 0, hi = nruns - 1;

		while (lo < hi) {
			uint64_t mid = (lo + hi) / 2;

			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		b->trace[i] = perm[lo];
	}
	free(perm);
	free(cdf);
}

static void bench_trace(struct bench *b, bool scan)
{
	const size_t range = RUN * PAGE;
	unsigned char *bufs[MAX_THREADS];
	double tc[64], tm[64], hr[64];
	struct pc_stats s0, s1;
	unsigned int t, r;

	for (t = 0; t < b->threads; t++) {
		bufs[t] = aligned_alloc(64, range);
		if (!bufs[t])
			die("malloc", ENOMEM);
		memset(bufs[t], 0, range);
	}
	make_trace(b, scan);
	run(b, J_MEMCPY_TRACE, range, bufs, NULL);
	for (r = 0; r < b->repeat; r++) {
		new_cache(b, b->pages / 4);
		run(b, J_TRACE, range, bufs, NULL);	/* warm up, untimed */
		pc_get_stats(b->c, &s0);
		if (r % 2) {
			tm[r] = run(b, J_MEMCPY_TRACE, range, bufs, NULL);
			tc[r] = run(b, J_TRACE, range, bufs, NULL);
		} else {
			tc[r] = run(b, J_TRACE, range, bufs, NULL);
			tm[r] = run(b, J_MEMCPY_TRACE, range, bufs, NULL);
		}
		pc_get_stats(b->c, &s1);
		hr[r] = (double)(s1.hits - s0.hits) /
			(double)(s1.hits - s0.hits + s1.misses - s0.misses);
		pc_destroy(b->c);
		b->c = NULL;
	}
	free(b->trace);
	b->trace = NULL;
	for (t = 0; t < b->threads; t++)
		free(bufs[t]);
	report(scan ? "scan" : "zipf", b, tc, tm, hr);
}

/* Whether test @name was asked for. */
static bool want(const struct bench *b, const char *name)
{
	size_t n = strlen(name);
	const char *t;

	if (!b->tests)
		return true;
	for (t = b->tests; (t = strstr(t, name)) != NULL; t += n)
		if ((t == b->tests || t[-1] == ',') && (t[n] == ',' || !t[n]))
			return true;
	return false;
}

static void usage(void)
{
	fprintf(stderr, "usage: pc_bench [-p PAGES] [-o OBJ_PAGES] [-r REPEAT] [-t THREADS] "
		"[-T TESTS] [-P POLICIES] [-q]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench b = { .pages = 16384, .obj_pages = 256, .repeat = 9 };
	const struct pc_policy_ops *plist[8] = { &pc_policy_s3fifo };
	unsigned int tlist[2] = { 1, 2 }, nt = 2, np = 1, i;
	char *tok, *save;
	bool quiet = false;
	uint64_t k;
	int opt;

	while ((opt = getopt(argc, argv, "p:o:r:t:T:P:q")) != -1) {
		switch (opt) {
		case 'p':
			b.pages = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			b.obj_pages = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			b.repeat = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 't':
			tlist[0] = (unsigned int)strtoul(optarg, NULL, 0);
			nt = 1;
			break;
		case 'T':
			b.tests = optarg;
			break;
		case 'P':
			for (np = 0, tok = strtok_r(optarg, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				if (np == 8 || !(plist[np] = pc_policy_find(tok))) {
					fprintf(stderr, "pc_bench: no policy %s\n", tok);
					usage();
				}
				np++;
			}
			if (!np)
				usage();
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage();
		}
	}
	/* whole 1 MiB ranges in every object, and at least one object a thread */
	if (b.obj_pages < 256 || b.obj_pages % 256 || b.pages < b.obj_pages * 2 ||
	    b.pages % b.obj_pages || !b.repeat || b.repeat > 64 || !tlist[0] ||
	    tlist[0] > MAX_THREADS)
		usage();
	b.nobj = b.pages / b.obj_pages;
	b.src = aligned_alloc(4096, b.pages * PAGE);
	b.obj = calloc(b.nobj, sizeof(*b.obj));
	if (!b.src || !b.obj)
		die("malloc", ENOMEM);
	/* content: every 8 bytes differ, so a wrong page or offset shows */
	for (k = 0; k < b.pages * PAGE / 8; k++) {
		uint64_t v = k * 0x9e3779b97f4a7c15ULL;

		memcpy(b.src + k * 8, &v, 8);
	}
	if (!quiet)
		printf("pc_bench: %llu pages (%llu MiB) in objects of %llu pages, median of %u\n",
		       (unsigned long long)b.pages, (unsigned long long)(b.pages * PAGE >> 20),
		       (unsigned long long)b.obj_pages, b.repeat);
	for (i = 0; i < nt * np; i++) {
		b.threads = tlist[i / np];
		b.policy = plist[i % np];
		if (want(&b, "hot-64k"))
			bench_hot(&b, 64 << 10, false, false, "hot-64k");
		if (want(&b, "hot-1m"))
			bench_hot(&b, 1 << 20, false, false, "hot-1m");
		if (want(&b, "hot-shuf-64k"))
			bench_hot(&b, 64 << 10, false, true, "hot-shuf-64k");
		if (b.threads > 1 && want(&b, "hot-same-64k"))
			bench_hot(&b, 64 << 10, true, false, "hot-same-64k");
		if (want(&b, "cold"))
			bench_cold(&b, false);
		if (want(&b, "cold-evict"))
			bench_cold(&b, true);
		if (want(&b, "zipf"))
			bench_trace(&b, false);
		if (want(&b, "scan"))
			bench_trace(&b, true);
	}
	free(b.obj);
	free(b.src);
	return 0;
}
