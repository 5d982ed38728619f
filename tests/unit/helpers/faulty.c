// SPDX-License-Identifier: MIT
/*
 * The fault-injecting backend of faulty.h.  Only <erofs_share/backend.h>
 * is used: the wrapped source is read with eshare_backend_read() and the
 * wrapper is made with eshare_backend_new(), exactly as a user's backend
 * would be.
 */
#include "faulty.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAULTY_DEFAULT_STALL_US 3000u
/* The recorder's hash set starts with this many slots (a power of two). */
#define FAULTY_SET_MIN 256u

struct faulty {
	eshare_backend *inner;
	uint64_t size; /* of @inner, read once at wrap time */
	char name[32];

	enum faulty_kind kind;
	uint64_t *offsets; /* sorted, distinct */
	size_t noffsets;
	uint64_t nth;
	/* probability as a threshold on 53-bit draws: fault if draw < this */
	uint64_t threshold;
	uint64_t seed;
	int error;
	unsigned stall_us;

	atomic_bool healthy;
	atomic_uint_fast64_t calls;
	atomic_uint_fast64_t faults;

	/* The recorder: an open-addressing set of (off, len + 1); len + 1 so
	 * that an all-zero slot means empty (a 0-byte read is never asked). */
	pthread_mutex_t lock;
	struct faulty_read *set;
	size_t set_cap;  /* slots, a power of two */
	size_t set_used; /* distinct pairs held */
};

static atomic_long live_handles;

long faulty_live_handles(void)
{
	return atomic_load(&live_handles);
}

/* splitmix64: a good 64-bit mix of (seed, call number), no state to share. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static size_t slot_of(const struct faulty_read *r, size_t cap)
{
	return (size_t)(mix64(r->off ^ mix64(r->len)) & (cap - 1));
}

/* Insert into a set known to have room. Caller holds the lock. */
static void set_insert(struct faulty_read *set, size_t cap, size_t *used,
		       const struct faulty_read *r)
{
	size_t i = slot_of(r, cap);

	while (set[i].len) {
		if (set[i].off == r->off && set[i].len == r->len)
			return;
		i = (i + 1) & (cap - 1);
	}
	set[i] = *r;
	(*used)++;
}

/*
 * Note one read.  A failed allocation loses the record (the set keeps at
 * most half its slots full, so a full set is never reached); a test that
 * depends on the record sees the pair missing rather than a crash.
 */
static void record(struct faulty *f, uint64_t off, size_t len)
{
	struct faulty_read r = { off, (uint64_t)len + 1 };

	pthread_mutex_lock(&f->lock);
	if ((f->set_used + 1) * 2 > f->set_cap) {
		size_t cap = f->set_cap ? f->set_cap * 2 : FAULTY_SET_MIN;
		struct faulty_read *set = calloc(cap, sizeof(*set));
		size_t used = 0;

		if (!set)
			goto out;
		for (size_t i = 0; i < f->set_cap; i++)
			if (f->set[i].len)
				set_insert(set, cap, &used, &f->set[i]);
		free(f->set);
		f->set = set;
		f->set_cap = cap;
		f->set_used = used;
	}
	set_insert(f->set, f->set_cap, &f->set_used, &r);
out:
	pthread_mutex_unlock(&f->lock);
}

/* The first faulted offset inside [off, off + len), or UINT64_MAX. */
static uint64_t first_covered(const struct faulty *f, uint64_t off, size_t len)
{
	size_t lo = 0, hi = f->noffsets;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->offsets[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < f->noffsets && f->offsets[lo] - off < len)
		return f->offsets[lo];
	return UINT64_MAX;
}

static void invert(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)~p[i];
}

static void stall(unsigned us)
{
	struct timespec ts = { us / 1000000u, (long)(us % 1000000u) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static ssize_t faulty_pread(void *handle, void *buf, size_t len, uint64_t off)
{
	struct faulty *f = handle;
	uint64_t call = atomic_fetch_add(&f->calls, 1) + 1;
	uint64_t draw = mix64(f->seed ^ mix64(call));
	uint64_t at = UINT64_MAX;
	bool trigger = false;
	size_t n, avail;
	int rc;

	if (len)
		record(f, off, len);
	/* what lies past the source's end is the source's business */
	if (off >= f->size || !len)
		return 0;
	n = len < f->size - off ? len : (size_t)(f->size - off);

	if (f->kind != FAULTY_NONE && !atomic_load(&f->healthy)) {
		if (f->noffsets) {
			at = first_covered(f, off, n);
			trigger = at != UINT64_MAX;
		}
		if (f->nth && call == f->nth)
			trigger = true;
		if (f->threshold && (draw >> 11) < f->threshold)
			trigger = true;
	}
	if (trigger && f->kind == FAULTY_STALL) {
		atomic_fetch_add(&f->faults, 1);
		stall(f->stall_us);
		trigger = false;
	}
	rc = eshare_backend_read(f->inner, buf, n, off);
	if (rc)
		return rc;
	if (!trigger)
		return (ssize_t)n;

	atomic_fetch_add(&f->faults, 1);
	if (f->kind == FAULTY_ERROR) {
		invert(buf, n);
		return f->error;
	}
	/* FAULTY_SHORT: claim @n of the @avail bytes read */
	avail = n;
	if (at != UINT64_MAX && at > off)
		n = (size_t)(at - off);
	else if (at != UINT64_MAX || avail < 2)
		n = avail / 2;
	else
		n = 1 + (size_t)((draw >> 20) % (avail - 1));
	invert((uint8_t *)buf + n, avail - n);
	return (ssize_t)n;
}

static int faulty_get_size(void *handle, uint64_t *out)
{
	struct faulty *f = handle;

	*out = f->size;
	return 0;
}

static uint32_t faulty_block_size(void *handle)
{
	(void)handle;
	return 0;
}

static void faulty_free(struct faulty *f)
{
	pthread_mutex_destroy(&f->lock);
	free(f->set);
	free(f->offsets);
	free(f);
}

static void faulty_close(void *handle)
{
	struct faulty *f = handle;

	eshare_backend_close(f->inner);
	faulty_free(f);
	atomic_fetch_sub(&live_handles, 1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int faulty_wrap(eshare_backend **out, struct faulty **handle, eshare_backend *inner,
		const struct faulty_config *cfg)
{
	static const struct faulty_config healthy = { .kind = FAULTY_NONE };
	struct eshare_backend_ops ops = { .size = sizeof(ops) };
	struct faulty *f;
	int rc;

	if (!out || !inner)
		return -EINVAL;
	if (!cfg)
		cfg = &healthy;
	if (cfg->kind < FAULTY_NONE || cfg->kind > FAULTY_STALL ||
	    !(cfg->probability >= 0 && cfg->probability <= 1) || (cfg->noffsets && !cfg->offsets) ||
	    cfg->error > 0 || cfg->error < -4095)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	rc = eshare_backend_size(inner, &f->size);
	if (rc)
		goto fail;
	if (cfg->noffsets) {
		size_t k = 0;

		f->offsets = malloc(cfg->noffsets * sizeof(*f->offsets));
		if (!f->offsets) {
			rc = -ENOMEM;
			goto fail;
		}
		memcpy(f->offsets, cfg->offsets, cfg->noffsets * sizeof(*f->offsets));
		qsort(f->offsets, cfg->noffsets, sizeof(*f->offsets), cmp_u64);
		for (size_t i = 0; i < cfg->noffsets; i++)
			if (!k || f->offsets[k - 1] != f->offsets[i])
				f->offsets[k++] = f->offsets[i];
		f->noffsets = k;
	}
	f->inner = inner;
	f->kind = cfg->kind;
	f->nth = cfg->nth;
	/* a 53-bit draw d faults when d < p * 2^53 */
	f->threshold = (uint64_t)(cfg->probability * 9007199254740992.0);
	if (cfg->probability > 0 && !f->threshold)
		f->threshold = 1;
	f->seed = cfg->seed;
	f->error = cfg->error ? cfg->error : -EIO;
	f->stall_us = cfg->stall_us ? cfg->stall_us : FAULTY_DEFAULT_STALL_US;
	strncpy(f->name, cfg->name ? cfg->name : "faulty", sizeof(f->name) - 1);
	atomic_init(&f->healthy, false);
	atomic_init(&f->calls, 0);
	atomic_init(&f->faults, 0);

	/* ops is copied by eshare_backend_new; only the name must outlive it */
	ops.name = f->name;
	ops.pread = faulty_pread;
	ops.get_size = faulty_get_size;
	ops.close = faulty_close;
	ops.block_size = faulty_block_size;
	rc = eshare_backend_new(out, &ops, f);
	if (rc)
		goto fail;
	atomic_fetch_add(&live_handles, 1);
	if (handle)
		*handle = f;
	return 0;
fail:
	faulty_free(f);
	return rc;
}

int faulty_open_file(eshare_backend **out, struct faulty **handle, const char *path,
		     const struct faulty_config *cfg)
{
	eshare_backend *inner;
	int rc;

	if (!out || !path)
		return -EINVAL;
	rc = eshare_backend_open_file(&inner, path);
	if (rc)
		return rc;
	rc = faulty_wrap(out, handle, inner, cfg);
	if (rc)
		eshare_backend_close(inner);
	return rc;
}

void faulty_set_healthy(struct faulty *f, bool healthy)
{
	atomic_store(&f->healthy, healthy);
}

uint64_t faulty_calls(const struct faulty *f)
{
	return atomic_load(&((struct faulty *)f)->calls);
}

uint64_t faulty_faults(const struct faulty *f)
{
	return atomic_load(&((struct faulty *)f)->faults);
}

static int cmp_read(const void *a, const void *b)
{
	const struct faulty_read *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->len < y->len ? -1 : x->len > y->len;
}

int faulty_reads(struct faulty *f, struct faulty_read **out, size_t *n)
{
	struct faulty_read *v = NULL;
	size_t k = 0;

	pthread_mutex_lock(&f->lock);
	if (f->set_used) {
		v = malloc(f->set_used * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&f->lock);
			return -ENOMEM;
		}
		for (size_t i = 0; i < f->set_cap; i++) {
			if (!f->set[i].len)
				continue;
			v[k].off = f->set[i].off;
			v[k].len = f->set[i].len - 1;
			k++;
		}
	}
	pthread_mutex_unlock(&f->lock);
	if (k)
		qsort(v, k, sizeof(*v), cmp_read);
	*out = v;
	*n = k;
	return 0;
}

void faulty_forget_reads(struct faulty *f)
{
	pthread_mutex_lock(&f->lock);
	free(f->set);
	f->set = NULL;
	f->set_cap = 0;
	f->set_used = 0;
	pthread_mutex_unlock(&f->lock);
}
