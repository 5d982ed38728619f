// SPDX-License-Identifier: MIT
/*
 * I/O faults never hurt: every fixture image is read through the faulty
 * backend of helpers/faulty.c, which fails, shortens or stalls chosen
 * backend reads.  Whatever fails, every call must return either a
 * negative errno (-EIO) or exactly the right answer: file bytes equal to
 * what a healthy read gave (itself checked against the kernel's manifest),
 * directory entries equal to the healthy listing, lookups finding the
 * right inode.  Once the backend is healthy again, the same image in the
 * same domain must give every right answer: no error and no damaged page
 * may stay cached.  Nothing may leak (LeakSanitizer in the ASan build; the
 * faulty handles and the domain are also counted here).
 *
 * For each image a record pass (healthy) lists every directory, symlink
 * and regular file with its bytes, and every distinct backend read the
 * image needs.  Then, each in a fresh domain with a small cache:
 *   - reads covering one recorded offset fail with -EIO (a deterministic
 *     sample of the offsets, always with the superblock read, the first
 *     and the last);
 *   - reads covering it come back short (the rest of the buffer holding
 *     inverted bytes, so using them would show);
 *   - random faults (5%, several seeds), and the nth call failing;
 *   - 4 threads read concurrently through stalls, and through random
 *     errors;
 * random faults and threads also run under the sharing policies (files of
 * equal content then share one cached copy, and VERIFY and COMPUTE hash
 * them).  (shared-a next to shared-b in one domain, one of them faulty:
 * test_faults_pair.c.)  The record pass and the checks: helpers/faultrec.c.
 *
 * How much runs depends on the build (helpers/scale.h): a release build
 * runs all of the above on every fixture; an ASan+UBSan build every fixture
 * with fewer offsets, seeds and nth calls, one threaded case; a TSan build
 * only the threaded cases, on a sample of fixtures covering every decoder
 * and layout.  ESHARE_TEST_FULL=1
 * runs everything in any build, faulting every distinct read offset of
 * each device (up to 300) instead of a sample of 16.
 *
 * ESHARE_FAULTS_POSITIONS=N samples N offsets per device and kind (default
 * below, at most 300); ESHARE_FAULTS_JOBS=N runs N fault cases at once;
 * ESHARE_FAULTS_ONLY=NAME runs only one fixture;
 * ESHARE_FAULTS_VERBOSE=1 prints figures per fixture; ESHARE_FAULTS_LOG=1
 * prints the domains' reports; ESHARE_FAULTS_LENIENT=1 takes
 * -EFSCORRUPTED for -EIO while faulty (to look past that wrong errno for
 * worse problems).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/sha.h>

#include <erofs_share/erofs_share.h>

#include "helpers/faultrec.h"
#include "helpers/faulty.h"
#include "helpers/fixtures.h"
#include "helpers/scale.h"

#define DEFAULT_POSITIONS 16u
/* Under ASan+UBSan: fewer offsets and seeds (TEST_SCALE_SAMPLE). */
#define SAMPLE_POSITIONS 4u
#define SAMPLE_SEEDS 2u
#define MAX_POSITIONS 300u
#define RANDOM_SEEDS 4u
#define THREADS 4u
/* Fault cases run on this many threads at once (each in its own domain). */
#define DEFAULT_WORKERS 2u
#define MAX_WORKERS 16u

/* ------------------------------------------------------------------ */
/* Fixtures                                                             */

static const char *fixture_names[FX_MAX_FIXTURES];
static unsigned nfixtures;
static unsigned positions = DEFAULT_POSITIONS;
static enum test_scale scale;
/*
 * The fixtures of a TSan run: every decoder (LZ4, LZ4HC big pclusters,
 * MicroLZMA, DEFLATE, Zstd), fragments and dedupe, an extra device, the
 * metabox, chunks and 512-byte blocks.
 */
static const char *const threads_sample[] = {
	"plain-512", "lz4hc-pcluster64k", "lzma", "deflate", "zstd", "fragments",
	"dedupe", "multidev", "metabox", "chunk-4k",
};
static unsigned workers = DEFAULT_WORKERS;

/* The registry's fixtures, or ESHARE_FAULTS_ONLY's, or the TSan sample. */
static void list_fixtures(void)
{
	const char *only = getenv("ESHARE_FAULTS_ONLY");

	for (unsigned i = 0; i < fixture_count && nfixtures < FX_MAX_FIXTURES; i++) {
		const char *name = fixture_registry[i].name;

		if (only && strcmp(only, name))
			continue;
		if (!only && scale == TEST_SCALE_THREADS) {
			const size_t nsample = sizeof(threads_sample) / sizeof(threads_sample[0]);
			bool in = false;

			for (size_t k = 0; k < nsample; k++)
				in |= !strcmp(threads_sample[k], name);
			if (!in)
				continue;
		}
		fixture_names[nfixtures++] = name;
	}
}

/* ------------------------------------------------------------------ */
/* Fault cases, run by worker threads                                   */

struct job {
	char what[128];
	const char *group; /* for the figures */
	struct faulty_config cfg[MAX_DEVS];
	uint64_t offset;     /* what cfg[].offsets points to */
	bool must_fault;     /* the faulted read is one the image needs */
	eshare_share_policy policy;
	/* results */
	struct tally faulty, healthy;
	uint64_t faults;
};

/*
 * A fresh domain; attach through the faulty backends (may fail: must be
 * -EIO, then attach again healthy in the same domain); check everything
 * while faulty; make the backends healthy; check everything again in the
 * same image; tear down.
 */
static void run_job(const struct record *r, struct job *j)
{
	eshare_backend *be[MAX_DEVS];
	struct faulty *fh[MAX_DEVS];
	eshare_domain *d;
	eshare_image *img = NULL;
	int rc;

	j->faulty.faulted = true;
	j->faulty.what = j->healthy.what = j->what;
	d = fr_new_domain(&j->faulty, j->policy);
	if (!d)
		return;
	if (fr_open_devices(r, be, fh, j->cfg, &j->faulty)) {
		eshare_domain_close(d);
		return;
	}
	rc = fr_attach(&img, d, r, be);
	if (rc) {
		/* the backends are still ours: the same ones, healthy now */
		if (rc == -EIO || (faults_lenient && rc == -ESHARE_EFSCORRUPTED))
			j->faulty.eio++;
		else
			tally_bad(&j->faulty, "attach: %d (%s)", rc, eshare_strerror(rc));
		fr_set_healthy(r, fh, true);
		rc = fr_attach(&img, d, r, be);
		if (rc) {
			tally_bad(&j->healthy, "attach: %d", rc);
			j->faults = fr_faults_of(r, fh);
			for (unsigned i = 0; i < r->ndevs; i++)
				eshare_backend_close(be[i]);
			eshare_domain_close(d);
			return;
		}
	} else {
		check_all(img, r, 0, true, &j->faulty);
		fr_set_healthy(r, fh, true);
	}
	j->faults = fr_faults_of(r, fh);
	check_all(img, r, 0, true, &j->healthy);
	fr_teardown(d, img, &j->healthy);
}

struct job_queue {
	const struct record *r;
	struct job *jobs;
	size_t n;
	atomic_size_t next;
};

static void *job_worker(void *arg)
{
	struct job_queue *q = arg;
	size_t i;

	while ((i = atomic_fetch_add(&q->next, 1)) < q->n)
		run_job(q->r, &q->jobs[i]);
	return NULL;
}

/* Run @n jobs on @workers threads; then assert every result in order. */
static void run_jobs(const struct record *r, struct job *jobs, size_t n)
{
	struct job_queue q = { .r = r, .jobs = jobs, .n = n };
	pthread_t tid[MAX_WORKERS];
	unsigned w = workers < n ? workers : (unsigned)n;
	const char *group = NULL;
	uint64_t runs = 0, faults = 0, eio = 0, ok = 0;

	atomic_init(&q.next, 0);
	for (unsigned i = 0; i < w; i++)
		ck_assert_int_eq(pthread_create(&tid[i], NULL, job_worker, &q), 0);
	for (unsigned i = 0; i < w; i++)
		ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
	ck_assert_int_eq(faulty_live_handles(), 0);
	for (size_t i = 0; i <= n; i++) {
		if (faults_verbose && group && (i == n || jobs[i].group != group))
			fprintf(stderr, "%s: %s: %llu runs, %llu faults injected, %llu errors and "
				"%llu right answers while faulty\n", r->name, group,
				(unsigned long long)runs, (unsigned long long)faults,
				(unsigned long long)eio, (unsigned long long)ok);
		if (i == n)
			break;
		if (jobs[i].group != group) {
			group = jobs[i].group;
			runs = faults = eio = ok = 0;
		}
		ck_assert_msg(!jobs[i].faulty.bad, "%llu wrong results; first: %s",
			      (unsigned long long)jobs[i].faulty.bad, jobs[i].faulty.first_bad);
		ck_assert_msg(!jobs[i].healthy.bad,
			      "%llu wrong results after the faults; first: %s",
			      (unsigned long long)jobs[i].healthy.bad, jobs[i].healthy.first_bad);
		ck_assert_msg(!jobs[i].must_fault || jobs[i].faults, "%s: never faulted",
			      jobs[i].what);
		runs++;
		faults += jobs[i].faults;
		eio += jobs[i].faulty.eio;
		ok += jobs[i].faulty.ok;
	}
}

/*
 * A deterministic sample of about @k of the @n sorted offsets: the first,
 * the last, @must (the superblock read), and evenly spaced others.
 */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static size_t sample(const uint64_t *offs, size_t n, size_t k, uint64_t must, uint64_t *out)
{
	size_t m = 0, j = 0;

	if (n <= k) {
		memcpy(out, offs, n * sizeof(*offs));
		return n;
	}
	out[m++] = must;
	for (size_t i = 0; i < k; i++)
		out[m++] = offs[i * (n - 1) / (k - 1)];
	qsort(out, m, sizeof(*out), cmp_u64);
	for (size_t i = 0; i < m; i++)
		if (!j || out[j - 1] != out[i])
			out[j++] = out[i];
	return j;
}

/* The offset of the first read that covers the superblock (byte 1024 of
 * device 0). */
static uint64_t superblock_read(const struct record *r)
{
	const struct rdev *dv = &r->dev[0];

	for (size_t i = 0; i < dv->nreads; i++)
		if (dv->reads[i].off <= 1024 && 1024 - dv->reads[i].off < dv->reads[i].len)
			return dv->reads[i].off;
	ck_abort_msg("%s: no read covered the superblock", r->name);
	return 0;
}

static struct job *add_job(struct job **jobs, size_t *n, size_t *cap, const char *group)
{
	struct job *j;

	*jobs = fr_grow(*jobs, cap, *n, sizeof(**jobs));
	j = &(*jobs)[(*n)++];
	memset(j, 0, sizeof(*j));
	j->group = group;
	return j;
}

/* Jobs failing (@kind) the reads covering each sampled offset of each device. */
static void add_offset_jobs(const struct record *r, enum faulty_kind kind, struct job **jobs,
			    size_t *n, size_t *cap)
{
	uint64_t *pick = malloc((MAX_POSITIONS + 2) * sizeof(*pick));

	ck_assert_ptr_nonnull(pick);
	for (unsigned dev = 0; dev < r->ndevs; dev++) {
		const struct rdev *dv = &r->dev[dev];
		uint64_t must = dev == 0 ? superblock_read(r) : dv->offs[0];
		size_t k = dev == 0 ? positions : (positions + 1) / 2;
		size_t m = sample(dv->offs, dv->noffs, k < 2 ? 2 : k, must, pick);
		bool has_sb = false;

		for (size_t i = 0; i < m; i++)
			has_sb |= pick[i] == must;
		ck_assert(has_sb && pick[0] == dv->offs[0] &&
			  pick[m - 1] == dv->offs[dv->noffs - 1]);
		for (size_t i = 0; i < m; i++) {
			struct job *j = add_job(jobs, n, cap, fr_kind_name(kind));

			j->offset = pick[i];
			j->cfg[dev].kind = kind;
			j->cfg[dev].noffsets = 1;
			j->must_fault = true;
			snprintf(j->what, sizeof(j->what), "%s: %s at device %u offset %llu",
				 r->name, fr_kind_name(kind), dev, (unsigned long long)pick[i]);
		}
	}
	free(pick);
}

/*
 * Random errors and short reads on every device, under each sharing policy
 * in turn (identical files of one image then share one cached copy, and
 * VERIFY and COMPUTE hash files: faults meet those paths too); the nth
 * call failing.
 */
static void add_random_jobs(const struct record *r, struct job **jobs, size_t *n, size_t *cap)
{
	const uint64_t calls = r->dev[0].calls;
	/* the first call (the superblock), early ones, the middle, the last */
	const uint64_t all_nths[] = { 1, 2, 3, 5, calls / 3, calls / 2, calls };
	const uint64_t few_nths[] = { 1, calls / 2, calls };
	const bool few = scale == TEST_SCALE_SAMPLE;
	const uint64_t *nths = few ? few_nths : all_nths;
	const size_t nnths = few ? sizeof(few_nths) / sizeof(few_nths[0]) :
				   sizeof(all_nths) / sizeof(all_nths[0]);
	const unsigned seeds = few ? SAMPLE_SEEDS : RANDOM_SEEDS;

	static const eshare_share_policy policies[] = { ESHARE_SHARE_OFF, ESHARE_SHARE_VERIFY,
							ESHARE_SHARE_COMPUTE, ESHARE_SHARE_TRUST };

	for (unsigned s = 1; s <= seeds; s++) {
		for (int kind = FAULTY_ERROR; kind <= FAULTY_SHORT; kind++) {
			struct job *j = add_job(jobs, n, cap, "random");

			/* every policy, even with SAMPLE_SEEDS */
			j->policy = policies[((s - 1) * 2 + (unsigned)(kind - FAULTY_ERROR)) % 4];
			for (unsigned dev = 0; dev < r->ndevs; dev++) {
				j->cfg[dev].kind = (enum faulty_kind)kind;
				j->cfg[dev].probability = RANDOM_PROBABILITY;
				j->cfg[dev].seed = s * 1000003u + dev;
			}
			j->must_fault = true;
			snprintf(j->what, sizeof(j->what),
				 "%s: random %s, p=%.2f, seed %u, policy %d", r->name,
				 fr_kind_name((enum faulty_kind)kind), RANDOM_PROBABILITY, s,
				 (int)j->policy);
		}
	}
	for (size_t i = 0; i < nnths; i++) {
		struct job *j;

		if (!nths[i] || (i && nths[i] <= nths[i - 1]))
			continue;
		j = add_job(jobs, n, cap, "nth call");
		j->cfg[0].kind = FAULTY_ERROR;
		j->cfg[0].nth = nths[i];
		j->must_fault = true;
		snprintf(j->what, sizeof(j->what), "%s: EIO at call %llu of ~%llu", r->name,
			 (unsigned long long)nths[i], (unsigned long long)calls);
	}
}

/* ------------------------------------------------------------------ */
/* Concurrent readers                                                   */

struct reader {
	pthread_t tid;
	eshare_image *img;
	const struct record *r;
	size_t first;
	struct tally t;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;

	check_all(rd->img, rd->r, rd->first, false, &rd->t);
	return NULL;
}

/* THREADS readers at once over one image, each starting at another file. */
static void fr_read_concurrently(eshare_image *img, const struct record *r, bool faulted,
				 const char *what, uint64_t *eio)
{
	struct reader rd[THREADS];

	for (unsigned i = 0; i < THREADS; i++) {
		memset(&rd[i], 0, sizeof(rd[i]));
		rd[i].img = img;
		rd[i].r = r;
		rd[i].first = r->nfiles * i / THREADS;
		rd[i].t.faulted = faulted;
		rd[i].t.what = what;
		ck_assert_int_eq(pthread_create(&rd[i].tid, NULL, reader_main, &rd[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_join(rd[i].tid, NULL), 0);
	for (unsigned i = 0; i < THREADS; i++) {
		ck_assert_msg(!rd[i].t.bad, "thread %u: %llu wrong results; first: %s", i,
			      (unsigned long long)rd[i].t.bad, rd[i].t.first_bad);
		*eio += rd[i].t.eio;
	}
}

/*
 * THREADS readers through random faults of @kind (stalls must change
 * nothing; errors may fail calls), then all again healthy in the same
 * image.
 */
static void threads_case(const struct record *r, enum faulty_kind kind, double p, unsigned seed,
			 eshare_share_policy policy)
{
	struct faulty_config cfg[MAX_DEVS];
	struct tally t = { 0 };
	eshare_backend *be[MAX_DEVS];
	struct faulty *fh[MAX_DEVS];
	eshare_domain *d;
	eshare_image *img;
	char what[128];
	uint64_t eio = 0, faults;
	int rc;

	memset(cfg, 0, sizeof(cfg));
	for (unsigned dev = 0; dev < r->ndevs; dev++) {
		cfg[dev].kind = kind;
		cfg[dev].probability = p;
		cfg[dev].seed = seed + dev;
		cfg[dev].stall_us = 2000;
	}
	snprintf(what, sizeof(what), "%s: %u threads, random %s p=%.2f seed %u, policy %d", r->name,
		 THREADS, fr_kind_name(kind), p, seed, (int)policy);
	t.what = what;
	d = fr_new_domain(&t, policy);
	assert_tally(&t);
	ck_assert_int_eq(fr_open_devices(r, be, fh, cfg, &t), 0);
	/* attach healthy: the point here is concurrent reads under faults */
	fr_set_healthy(r, fh, true);
	rc = fr_attach(&img, d, r, be);
	ck_assert_msg(rc == 0, "%s: attach %d", what, rc);
	fr_set_healthy(r, fh, false);
	fr_read_concurrently(img, r, kind != FAULTY_STALL, what, &eio);
	fr_set_healthy(r, fh, true);
	faults = fr_faults_of(r, fh);
	ck_assert_msg(faults > 0, "%s: never faulted", what);
	if (kind == FAULTY_STALL)
		ck_assert_uint_eq(eio, 0);
	/* healthy again: every thread gets every right answer */
	fr_read_concurrently(img, r, false, what, &eio);
	fr_teardown(d, img, &t);
	assert_tally(&t);
	ck_assert_int_eq(faulty_live_handles(), 0);
	if (faults_verbose)
		fprintf(stderr, "%s: %llu faults, %llu errors\n", what, (unsigned long long)faults,
			(unsigned long long)eio);
}


/* ------------------------------------------------------------------ */
/* The faulty backend itself                                            */

START_TEST(test_backend_contract)
{
	static const uint8_t src[10000] = { [0] = 1, [4095] = 2, [4096] = 3, [9999] = 4 };
	uint8_t buf[10000];
	struct faulty_config cfg = { .kind = FAULTY_ERROR };
	uint64_t at = 5000;
	struct faulty_read *reads;
	eshare_backend *inner, *be;
	struct faulty *fh;
	size_t n;

	ck_assert_int_eq(eshare_backend_memory(&inner, src, sizeof(src), NULL, NULL), 0);
	/* bad configs leave the inner backend the caller's */
	cfg.probability = 2;
	ck_assert_int_eq(faulty_wrap(&be, &fh, inner, &cfg), -EINVAL);
	cfg.probability = 0;
	cfg.offsets = &at;
	cfg.noffsets = 1;
	ck_assert_int_eq(faulty_wrap(&be, &fh, inner, &cfg), 0);
	ck_assert_str_eq(eshare_backend_name(be), "faulty");
	ck_assert_int_eq(faulty_live_handles(), 1);

	/* reads that miss 5000 pass, reads that cover it fail */
	ck_assert_int_eq(eshare_backend_read(be, buf, 5000, 0), 0);
	ck_assert_int_eq(memcmp(buf, src, 5000), 0);
	ck_assert_int_eq(eshare_backend_read(be, buf, 1, 5000), -EIO);
	ck_assert_int_eq(eshare_backend_read(be, buf, 100, 4950), -EIO);
	ck_assert_int_eq(eshare_backend_read(be, buf, 4999, 5001), 0);
	ck_assert_int_eq(memcmp(buf, src + 5001, 4999), 0);
	/* the end of the source is the source's: short there, never faulted */
	ck_assert_int_eq(eshare_backend_read(be, buf, 2, 9999), -EIO);
	ck_assert_uint_eq(faulty_faults(fh), 2);
	faulty_set_healthy(fh, true);
	ck_assert_int_eq(eshare_backend_read(be, buf, 100, 4950), 0);
	ck_assert_int_eq(memcmp(buf, src + 4950, 100), 0);
	ck_assert_uint_eq(faulty_faults(fh), 2);
	ck_assert_uint_eq(faulty_calls(fh), 7);

	/* distinct (off, len) pairs, sorted: (0,5000) (4950,100) (5000,1)
	 * (5001,4999) (9999,2) and the retry (10000,1) of the short read */
	ck_assert_int_eq(faulty_reads(fh, &reads, &n), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert(reads[0].off == 0 && reads[0].len == 5000);
	ck_assert(reads[1].off == 4950 && reads[1].len == 100);
	ck_assert(reads[2].off == 5000 && reads[2].len == 1);
	ck_assert(reads[5].off == 10000 && reads[5].len == 1);
	free(reads);
	faulty_forget_reads(fh);
	ck_assert_int_eq(faulty_reads(fh, &reads, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(reads);
	eshare_backend_close(be);
	ck_assert_int_eq(faulty_live_handles(), 0);

	/* short reads, through the raw method: the bytes before the faulted
	 * one, or half when the read starts at it; the rest left inverted */
	cfg.kind = FAULTY_SHORT;
	ck_assert_int_eq(eshare_backend_memory(&inner, src, sizeof(src), NULL, NULL), 0);
	ck_assert_int_eq(faulty_wrap(&be, &fh, inner, &cfg), 0);
	memset(buf, 0, sizeof(buf));
	/* retried by eshare_backend_read: 4000..4999, then 5000.. halves */
	ck_assert_int_eq(eshare_backend_read(be, buf, 2000, 4000), 0);
	ck_assert_int_eq(memcmp(buf, src + 4000, 2000), 0);
	ck_assert_uint_eq(faulty_faults(fh), 2);
	/* a 1-byte read of the faulted byte gets nothing: the library's end */
	ck_assert_int_eq(eshare_backend_read(be, buf, 1, 5000), -EIO);
	eshare_backend_close(be);

	/* nth call, and a random draw that is reproducible by seed */
	memset(&cfg, 0, sizeof(cfg));
	cfg.kind = FAULTY_ERROR;
	cfg.nth = 3;
	ck_assert_int_eq(eshare_backend_memory(&inner, src, sizeof(src), NULL, NULL), 0);
	ck_assert_int_eq(faulty_wrap(&be, &fh, inner, &cfg), 0);
	ck_assert_int_eq(eshare_backend_read(be, buf, 64, 0), 0);
	ck_assert_int_eq(eshare_backend_read(be, buf, 64, 0), 0);
	ck_assert_int_eq(eshare_backend_read(be, buf, 64, 0), -EIO);
	/* the buffer of a failed read holds wrong bytes, as a trap */
	ck_assert_int_ne(memcmp(buf, src, 64), 0);
	ck_assert_int_eq(eshare_backend_read(be, buf, 64, 0), 0);
	ck_assert_int_eq(memcmp(buf, src, 64), 0);
	eshare_backend_close(be);
	{
		unsigned fails[2] = { 0, 0 };
		bool same = true;
		bool first[2][400];

		for (int run = 0; run < 2; run++) {
			memset(&cfg, 0, sizeof(cfg));
			cfg.kind = FAULTY_ERROR;
			cfg.probability = 0.25;
			cfg.seed = 42;
			ck_assert_int_eq(eshare_backend_memory(&inner, src, sizeof(src), NULL,
							       NULL), 0);
			ck_assert_int_eq(faulty_wrap(&be, &fh, inner, &cfg), 0);
			for (int i = 0; i < 400; i++) {
				first[run][i] = eshare_backend_read(be, buf, 16, 0) != 0;
				fails[run] += first[run][i];
			}
			eshare_backend_close(be);
		}
		for (int i = 0; i < 400; i++)
			same &= first[0][i] == first[1][i];
		ck_assert(same);
		ck_assert_uint_gt(fails[0], 60);
		ck_assert_uint_lt(fails[0], 140);
	}
	ck_assert_int_eq(faulty_live_handles(), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Per fixture                                                          */

START_TEST(test_fixture)
{
	struct job *jobs = NULL;
	size_t n = 0, cap = 0;
	struct record r;

	record_image(&r, fixture_names[_i]);
	/* (a TSan run keeps to the threaded cases) */
	if (scale != TEST_SCALE_THREADS) {
		add_offset_jobs(&r, FAULTY_ERROR, &jobs, &n, &cap);
		add_offset_jobs(&r, FAULTY_SHORT, &jobs, &n, &cap);
		add_random_jobs(&r, &jobs, &n, &cap);
		/* the jobs do not move any more: point them at their offsets */
		for (size_t i = 0; i < n; i++)
			for (unsigned dev = 0; dev < MAX_DEVS; dev++)
				if (jobs[i].cfg[dev].noffsets)
					jobs[i].cfg[dev].offsets = &jobs[i].offset;
		run_jobs(&r, jobs, n);
		free(jobs);
	}
	if (scale != TEST_SCALE_SAMPLE) {
		threads_case(&r, FAULTY_STALL, 0.05, 7, ESHARE_SHARE_OFF);
		threads_case(&r, FAULTY_STALL, 0.05, 9, ESHARE_SHARE_COMPUTE);
	}
	threads_case(&r, FAULTY_ERROR, 0.05, 11, ESHARE_SHARE_VERIFY);
	record_free(&r);
}
END_TEST

static Suite *faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("backend");

	tcase_add_test(tc, test_backend_contract);
	suite_add_tcase(s, tc);

	tc = tcase_create("fixtures");
	tcase_set_timeout(tc, 900);
	tcase_add_loop_test(tc, test_fixture, 0, (int)nfixtures);
	suite_add_tcase(s, tc);

	return s;
}

static unsigned env_uint(const char *name, unsigned dflt, unsigned lo, unsigned hi)
{
	const char *v = getenv(name);
	unsigned long x;

	if (!v || !*v)
		return dflt;
	x = strtoul(v, NULL, 10);
	return x < lo ? lo : x > hi ? hi : (unsigned)x;
}

int main(void)
{
	const char *only;
	SRunner *sr;
	int failed;

	scale = test_scale();
	/* ESHARE_TEST_FULL=1: every read offset an image needs, up to 300 */
	positions = env_uint("ESHARE_FAULTS_POSITIONS",
			     test_full_requested() ? MAX_POSITIONS :
			     scale == TEST_SCALE_SAMPLE ? SAMPLE_POSITIONS : DEFAULT_POSITIONS, 2,
			     MAX_POSITIONS);
	workers = env_uint("ESHARE_FAULTS_JOBS", DEFAULT_WORKERS, 1, MAX_WORKERS);
	faults_verbose = getenv("ESHARE_FAULTS_VERBOSE") != NULL;
	faults_lenient = getenv("ESHARE_FAULTS_LENIENT") != NULL;
	list_fixtures();
	only = getenv("ESHARE_FAULTS_ONLY");
	if (only ? !nfixtures :
		   nfixtures < (scale == TEST_SCALE_THREADS ?
				sizeof(threads_sample) / sizeof(threads_sample[0]) :
				fixture_count)) {
		fprintf(stderr, "fixtures missing in %s (%u found)\n", ESHARE_FIXTURES, nfixtures);
		return 1;
	}
	printf("test_faults: %s: %u fixtures, %u offsets per device and kind\n",
	       test_scale_name(scale), nfixtures, positions);
	fflush(stdout);
	sr = srunner_create(faults_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
