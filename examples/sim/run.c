// SPDX-License-Identifier: MIT
/*
 * erofs-share-sim runs: every host is one domain with its own budget, its
 * images attached once (containers of one image share its mount, as a
 * runtime's containers share one mounted image); the containers start
 * staggered on a pool of threads and read through the library; the readers
 * sample their domain's cached bytes after every read (the peak), a sampler
 * thread every 2 ms (memory over time) and draws progress.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define SAMPLE_NS 2000000L		/* the sampler's period: 2 ms */
#define PROGRESS_EVERY 50		/* samples between progress redraws */

struct host_rt {
	eshare_domain *d;
	eshare_image **imgs;		/* by image number; NULL when unused here */
	_Atomic uint64_t peak;
	_Atomic uint64_t cpu_ns;
	_Atomic uint64_t reads, errors;
	_Atomic int64_t first_ns, last_ns;	/* container starts and ends, from t0 */
};

struct run {
	struct sim *s;
	struct host_rt *h;
	double t0;
	_Atomic unsigned next;		/* the next container to start */
	_Atomic int done;
	_Atomic int err;
	struct sim_series *series;
	const char *what;		/* "policy compute, budget 64 MiB" */
};

static int64_t ns_since(double t0)
{
	return (int64_t)((sim_now() - t0) * 1e9);
}

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void atomic_max(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t cur = atomic_load(a);

	while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

static uint64_t cached_now(eshare_domain *d)
{
	struct eshare_stats st = ESHARE_STATS_INIT;

	return eshare_domain_stats(d, &st) ? 0 : st.cached_data_bytes;
}

static int read_op(eshare_inode *ino, const struct sim_file *f, const struct sim_op *o, char *buf,
		   uint64_t *got_total)
{
	uint64_t off = o->off, end = o->len ? o->off + o->len : f->size;

	if (end > f->size)
		end = f->size;
	while (off < end) {
		size_t want = end - off < SIM_READ_SIZE ? (size_t)(end - off) : SIM_READ_SIZE;
		ssize_t got = eshare_pread(ino, buf, want, off);

		if (got < 0)
			return (int)got;
		if (got == 0 || (size_t)got > want)
			return -EIO;	/* the file's own size says there is more */
		off += (uint64_t)got;
		*got_total += (uint64_t)got;
	}
	return 0;
}

static void run_container(struct run *r, const struct sim_container *c, char *buf)
{
	struct sim *s = r->s;
	struct host_rt *h = &r->h[c->host];
	const struct sim_image *im = &s->img[c->image];
	double cpu0 = thread_cpu();
	int64_t start = ns_since(r->t0), end, cur;
	size_t k;

	cur = atomic_load(&h->first_ns);
	while ((cur < 0 || start < cur) && !atomic_compare_exchange_weak(&h->first_ns, &cur, start))
		;
	for (k = 0; k < c->nops && !atomic_load(&r->err); k++) {
		const struct sim_op *o = &c->ops[k];
		const struct sim_file *f = &im->files[o->file];
		uint64_t got = 0;
		eshare_inode *ino;
		int ret;

		/* A container opens the file, reads, and closes it. */
		ret = eshare_inode_open(&ino, h->imgs[c->image], f->ino);
		if (!ret) {
			ret = read_op(ino, f, o, buf, &got);
			eshare_inode_put(ino);
		}
		atomic_fetch_add(&h->reads, 1);
		atomic_fetch_add(&s->progress_done, got);
		/*
		 * The peak comes from samples at fixed points of the work (after
		 * every read), so one thread gives the same peak every time; the
		 * sampler's timed samples draw the curve only.
		 */
		atomic_max(&h->peak, cached_now(h->d));
		if (ret) {
			int zero = 0;

			atomic_fetch_add(&h->errors, 1);
			fprintf(stderr, "%s: %s: %s: read: %s (%s)\n", s->prog, im->path, f->path,
				eshare_strerror(ret), r->what);
			atomic_compare_exchange_strong(&r->err, &zero, ret);
		}
	}
	atomic_fetch_add(&h->cpu_ns, (uint64_t)((thread_cpu() - cpu0) * 1e9));
	atomic_max(&h->peak, cached_now(h->d));
	end = ns_since(r->t0);
	cur = atomic_load(&h->last_ns);
	while (end > cur && !atomic_compare_exchange_weak(&h->last_ns, &cur, end))
		;
}

static void *worker(void *arg)
{
	struct run *r = arg;
	struct sim *s = r->s;
	char *buf = sim_malloc(SIM_READ_SIZE);

	for (;;) {
		unsigned i = atomic_fetch_add(&r->next, 1);
		double due;

		if (i >= s->nct || atomic_load(&r->err))
			break;
		/* Containers start staggered: the i-th not before i * stagger. */
		due = r->t0 + (double)i * s->stagger_ms / 1000.0;
		while (sim_now() < due) {
			double left = due - sim_now();
			struct timespec ts = { 0, left > 0 ? (long)(left * 1e9) : 0 };

			if (left > 0)
				nanosleep(&ts, NULL);
		}
		run_container(r, &s->ct[i], buf);
	}
	free(buf);
	return NULL;
}

static void series_add(struct sim_series *ser, double t, uint64_t v)
{
	if (ser->n == ser->cap) {
		ser->cap = ser->cap ? ser->cap * 2 : 1024;
		ser->t = sim_realloc(ser->t, ser->cap * sizeof(*ser->t));
		ser->bytes = sim_realloc(ser->bytes, ser->cap * sizeof(*ser->bytes));
	}
	ser->t[ser->n] = t;
	ser->bytes[ser->n++] = v;
}

static void progress_draw(struct sim *s, const char *what, bool last)
{
	uint64_t done = atomic_load(&s->progress_done), total = s->progress_total;
	double f = total ? (double)done / (double)total : 1.0;
	char bar[41];
	int i, n;

	if (f > 1)
		f = 1;
	n = (int)(f * 40);
	for (i = 0; i < 40; i++)
		bar[i] = i < n ? '#' : '.';
	bar[40] = '\0';
	fprintf(stderr, "\r[%s] %3d%%  %-40.40s", bar, (int)(f * 100), what);
	if (last)
		fprintf(stderr, "\r%*s\r", 90, "");
	fflush(stderr);
}

/* Sample every host's cached bytes; the fleet's sum goes into the series. */
static void sample(struct run *r)
{
	struct sim *s = r->s;
	uint64_t sum = 0, v;
	unsigned h;

	for (h = 0; h < s->hosts; h++) {
		v = cached_now(r->h[h].d);
		sum += v;
	}
	series_add(r->series, sim_now() - r->t0, sum);
}

static void *sampler(void *arg)
{
	struct run *r = arg;
	unsigned n = 0;

	while (!atomic_load(&r->done)) {
		struct timespec ts = { 0, SAMPLE_NS };

		sample(r);
		if (r->s->progress && ++n % PROGRESS_EVERY == 0)
			progress_draw(r->s, r->what, false);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static struct sim_result *new_result(struct sim *s)
{
	if (s->nres == s->capres) {
		s->capres = s->capres ? s->capres * 2 : 16;
		s->res = sim_realloc(s->res, s->capres * sizeof(*s->res));
	}
	memset(&s->res[s->nres], 0, sizeof(s->res[0]));
	return &s->res[s->nres++];
}

static void log_cb(void *user, int level, const char *msg)
{
	struct sim *s = user;

	if (level <= ESHARE_LOG_WARNING && !atomic_load(&s->mute_log))
		fprintf(stderr, "%s: %s\n", s->prog, msg);
}

int sim_run(struct sim *s, uint32_t policy, uint64_t budget)
{
	struct run r = { .s = s };
	struct sim_result fleet = { .policy = policy, .budget = budget, .host = -1 };
	pthread_t *tids = NULL, samp;
	unsigned h, i, started = 0;
	char what[96], b[32];
	int ret = 0;

	if (budget)
		sim_fmt_mib(b, sizeof(b), budget);
	else
		snprintf(b, sizeof(b), "unlimited");
	snprintf(what, sizeof(what), "policy %s, budget %s", esc_policy_name(policy), b);
	r.what = what;
	s->series = sim_realloc(s->series, (s->nseries + 1) * sizeof(*s->series));
	r.series = &s->series[s->nseries++];
	memset(r.series, 0, sizeof(*r.series));
	r.series->policy = policy;
	r.series->budget = budget;
	r.h = sim_calloc(s->hosts, sizeof(*r.h));
	for (h = 0; h < s->hosts; h++) {
		struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
		char id[32];

		snprintf(id, sizeof(id), "host%u", h);
		o.id = id;
		o.policy = policy;
		o.cache_bytes = budget ? budget : s->host_unlimited[h];
		o.log = log_cb;
		o.log_user = s;
		atomic_init(&r.h[h].first_ns, -1);
		atomic_init(&r.h[h].last_ns, 0);
		r.h[h].imgs = sim_calloc(s->nimg, sizeof(*r.h[h].imgs));
		ret = eshare_domain_create(&r.h[h].d, &o);
		if (ret) {
			fprintf(stderr, "%s: cannot create a domain: %s\n", s->prog,
				eshare_strerror(ret));
			goto out;
		}
		for (i = 0; i < s->nct; i++) {
			unsigned m = s->ct[i].image;

			if (s->ct[i].host != h || r.h[h].imgs[m])
				continue;
			ret = sim_attach(s, &r.h[h].imgs[m], r.h[h].d, &s->img[m]);
			if (ret)
				goto out;
		}
	}

	atomic_init(&r.next, 0);
	atomic_init(&r.done, 0);
	atomic_init(&r.err, 0);
	r.t0 = sim_now();
	series_add(r.series, 0, 0);
	ret = pthread_create(&samp, NULL, sampler, &r);
	if (ret) {
		fprintf(stderr, "%s: cannot start the sampler: %s\n", s->prog, strerror(ret));
		ret = -ret;
		goto out;
	}
	tids = sim_malloc(s->threads * sizeof(*tids));
	for (i = 1; i < s->threads; i++)
		if (!pthread_create(&tids[started], NULL, worker, &r))
			started++;
	worker(&r);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	atomic_store(&r.done, 1);
	pthread_join(samp, NULL);
	sample(&r);
	if (s->progress)
		progress_draw(s, what, false);
	ret = atomic_load(&r.err);

	for (h = 0; h < s->hosts; h++) {
		struct eshare_stats st = ESHARE_STATS_INIT;
		struct sim_result *x;
		int64_t first = atomic_load(&r.h[h].first_ns);

		ret = ret ? ret : eshare_domain_stats(r.h[h].d, &st);
		if (ret)
			break;
		x = new_result(s);
		x->policy = policy;
		x->budget = budget;
		x->host = (int)h;
		x->final_cache_bytes = st.cached_data_bytes;
		x->final_meta_bytes = st.cached_meta_bytes;
		x->peak_cache_bytes = atomic_load(&r.h[h].peak);
		if (x->peak_cache_bytes < x->final_cache_bytes)
			x->peak_cache_bytes = x->final_cache_bytes;
		x->logical_bytes = st.logical_bytes;
		x->hits = st.hits;
		x->misses = st.misses;
		x->evictions = st.evictions;
		x->shared_objects = st.shared_objects;
		x->shared_members = st.shared_members;
		x->backend_bytes = st.backend_bytes_read;
		x->decompressed_bytes = st.decompressed_bytes;
		x->hashed_bytes = st.hashed_bytes;
		x->verify_failures = st.verify_failures;
		x->hit_ratio = st.hits + st.misses ? (double)st.hits / (double)(st.hits + st.misses)
						   : 0.0;
		x->wall_s = first < 0 ? 0 : (double)(atomic_load(&r.h[h].last_ns) - first) / 1e9;
		x->cpu_s = (double)atomic_load(&r.h[h].cpu_ns) / 1e9;
		x->reads = atomic_load(&r.h[h].reads);
		x->errors = atomic_load(&r.h[h].errors);
#define SUM(f) fleet.f += x->f
		SUM(peak_cache_bytes);
		SUM(final_cache_bytes);
		SUM(final_meta_bytes);
		SUM(logical_bytes);
		SUM(hits);
		SUM(misses);
		SUM(evictions);
		SUM(shared_objects);
		SUM(shared_members);
		SUM(backend_bytes);
		SUM(decompressed_bytes);
		SUM(hashed_bytes);
		SUM(verify_failures);
		SUM(cpu_s);
		SUM(reads);
		SUM(errors);
#undef SUM
		if (x->wall_s > fleet.wall_s)
			fleet.wall_s = x->wall_s;
	}
	if (!ret && s->hosts > 1) {
		/*
		 * The fleet's peak is the sum of the hosts' peaks: what the
		 * hosts must provision together, each for its own worst moment.
		 */
		fleet.hit_ratio = fleet.hits + fleet.misses
					  ? (double)fleet.hits / (double)(fleet.hits + fleet.misses)
					  : 0.0;
		*new_result(s) = fleet;
	}
out:
	free(tids);
	for (h = 0; h < s->hosts; h++) {
		for (i = 0; r.h[h].imgs && i < s->nimg; i++)
			eshare_image_detach(r.h[h].imgs[i]);
		free(r.h[h].imgs);
		if (r.h[h].d && eshare_domain_close(r.h[h].d) && !ret)
			ret = -EBUSY;
	}
	free(r.h);
	return ret;
}
