// SPDX-License-Identifier: MIT
/* The shared part of the hostile-input tests (hostile.h). */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers/hostile.h"
#include "helpers/scale.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

struct hfix hfixtures[FX_MAX_FIXTURES];
unsigned nhfixtures;
unsigned sample_stride = 1;

/* ------------------------------------------------------------------ */
/* What is running now, printed if the process dies                     */

char current_case[512];

static void say_current_case(void)
{
	static const char pre[] = "\n*** the test died in case: ";
	ssize_t rc;

	rc = write(2, pre, sizeof(pre) - 1);
	rc = write(2, current_case, strnlen(current_case, sizeof(current_case)));
	rc = write(2, "\n", 1);
	(void)rc;
}

static void on_fatal_signal(int sig)
{
	if (sig == SIGALRM) {
		static const char msg[] = "\n*** hang: case ran over its alarm";
		ssize_t rc = write(2, msg, sizeof(msg) - 1);

		(void)rc;
	}
	say_current_case();
	signal(sig, SIG_DFL);
	raise(sig == SIGALRM ? SIGABRT : sig);
}

static int verbose = -1;

/* Name the case about to run; ESHARE_HOSTILE_VERBOSE=1 prints each one. */
void set_case(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(current_case, sizeof(current_case), fmt, ap);
	va_end(ap);
	if (verbose < 0)
		verbose = getenv("ESHARE_HOSTILE_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "case: %s\n", current_case);
}

static void install_death_reporters(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigaction(SIGALRM, &sa, NULL);
#if defined(__SANITIZE_ADDRESS__)
	/* ASan owns SEGV and friends; it calls this before exiting. */
	__sanitizer_set_death_callback(say_current_case);
#else
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGABRT, &sa, NULL);
#endif
}

/* ------------------------------------------------------------------ */
/* Small tools                                                          */

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

bool hfix_skipped(const struct hfix *f)
{
	const char *only = getenv("ESHARE_HOSTILE_ONLY");

	return only && strcmp(only, f->name);
}

uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

/* (outside any test: no ck_assert here, Check would refuse it) */
static void load_fixtures(void)
{
	char path[4096];

	for (unsigned i = 0; i < fixture_count && i < FX_MAX_FIXTURES; i++) {
		const struct fixture_info *fi = &fixture_registry[i];
		struct hfix *f = &hfixtures[nhfixtures++];

		f->info = fi;
		snprintf(f->name, sizeof(f->name), "%s.erofs", fi->name);
		fx_image_path(path, sizeof(path), fi);
		f->data = test_load_file(path, &f->len);
		/* the images here have one extra device at most */
		if (f->data && fi->ndevices) {
			fx_path(path, sizeof(path), fi->devices[0]);
			f->dev = test_load_file(path, &f->dev_len);
		}
		if (!f->data || (fi->ndevices && !f->dev)) {
			fprintf(stderr, "cannot read %s\n", path);
			exit(1);
		}
	}
}

const struct hfix *hfix_named(const char *name)
{
	for (unsigned i = 0; i < nhfixtures; i++)
		if (!strcmp(hfixtures[i].name, name))
			return &hfixtures[i];
	ck_abort_msg("fixture %s missing", name);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Attaching and walking one (possibly damaged) image                   */

uint64_t log_lines;

static void count_log(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	(void)msg;
	__atomic_add_fetch(&log_lines, 1, __ATOMIC_RELAXED);
}

eshare_domain *new_domain(void)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_domain *d;
	int rc;

	/* A small budget makes eviction happen during the walks too. */
	o.cache_bytes = 4u << 20;
	o.log = count_log;
	rc = eshare_domain_create(&d, &o);
	ck_assert_int_eq(rc, 0);
	return d;
}

void close_domain(eshare_domain *d)
{
	int rc = eshare_domain_close(d);

	ck_assert_msg(rc == 0, "domain close: %d (an image or inode leaked?) after %s", rc,
		      current_case);
}

int attach_mem(eshare_image **out, eshare_domain *d, const uint8_t *data, size_t len,
	       const uint8_t *dev, size_t dev_len)
{
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;
	eshare_backend *be, *extra = NULL;
	int rc;

	rc = eshare_backend_memory(&be, data, len, NULL, NULL);
	ck_assert_int_eq(rc, 0);
	if (dev) {
		rc = eshare_backend_memory(&extra, dev, dev_len, NULL, NULL);
		ck_assert_int_eq(rc, 0);
		o.devices = &extra;
		o.ndevices = 1;
	}
	rc = eshare_image_attach(out, d, be, &o);
	if (rc) {
		eshare_backend_close(be);
		eshare_backend_close(extra);
	}
	return rc;
}

void check_walk(const struct walk_stats *ws)
{
	char line[512];
	int odd = 0;

	eshare_test_walk_format(ws, line, sizeof(line));
	ck_assert_msg(ws->violations == 0, "%s: API promise broken: %s", current_case,
		      ws->first_violation);
	ck_assert_msg(eshare_test_walk_errors_expected(ws, &odd), "%s: unexpected errno %d: %s",
		      current_case, odd, line);
}

int run_case(eshare_domain *d, const uint8_t *data, size_t len, const uint8_t *dev,
	     size_t dev_len, const struct walk_stats *limits, struct walk_stats *ws_out)
{
	struct walk_stats ws = *limits;
	eshare_image *img;
	int rc;

	alarm(CASE_ALARM_SECONDS);
	rc = attach_mem(&img, d, data, len, dev, dev_len);
	if (rc) {
		alarm(0);
		ck_assert_msg(eshare_test_attach_errno_expected(rc), "%s: attach returned %d",
			      current_case, rc);
		return rc;
	}
	eshare_test_walk(img, &ws);
	eshare_image_detach(img);
	alarm(0);
	check_walk(&ws);
	if (ws_out)
		*ws_out = ws;
	return 0;
}

const struct walk_stats full_walk = { 0 };
const struct walk_stats short_walk = {
	.max_entries = 400, .max_bytes = 1u << 20, .skip_extra = true,
};
const struct walk_stats medium_walk = {
	.max_entries = 3000, .max_bytes = 4u << 20, .skip_extra = true,
};

/* ------------------------------------------------------------------ */
/* A tiny parser of flat images, independent of lib/format              */

void p_open(struct pimg *p, const uint8_t *d, size_t len)
{
	p->d = d;
	p->len = len;
	ck_assert_uint_eq(ef_le32(d + SB(magic)), EROFS_SUPER_MAGIC);
	p->blksz = 1u << d[SB(blkszbits)];
	p->meta = (uint64_t)ef_le32(d + SB(meta_blkaddr)) * p->blksz;
	p->root = ef_le16(d + SB(rootnid_2b));
}

void p_iget(const struct pimg *p, uint64_t nid, struct pino *ino)
{
	const uint8_t *raw;

	memset(ino, 0, sizeof(*ino));
	ino->nid = nid;
	ino->pos = p->meta + nid * EROFS_SLOTSIZE;
	ck_assert_uint_le(ino->pos + 64, p->len);
	raw = p->d + ino->pos;
	ino->fmt = ef_le16(raw + offsetof(struct erofs_inode_compact, i_format));
	ino->icount = ef_le16(raw + offsetof(struct erofs_inode_compact, i_xattr_icount));
	ino->mode = ef_le16(raw + offsetof(struct erofs_inode_compact, i_mode));
	ino->ext = ino->fmt & EROFS_I_VERSION_MASK;
	ino->layout = (ino->fmt >> EROFS_I_DATALAYOUT_SHIFT) & EROFS_I_DATALAYOUT_MASK;
	if (ino->ext) {
		ino->isize = 64;
		ino->size = ef_le64(raw + offsetof(struct erofs_inode_extended, i_size));
		ino->u = ef_le32(raw + offsetof(struct erofs_inode_extended, i_u));
	} else {
		ino->isize = 32;
		ino->size = ef_le32(raw + offsetof(struct erofs_inode_compact, i_size));
		ino->u = ef_le32(raw + offsetof(struct erofs_inode_compact, i_u));
	}
	ino->xsize = ino->icount ? 12 + 4u * (ino->icount - 1) : 0;
}

uint64_t p_dataoff(const struct pimg *p, const struct pino *ino, uint64_t off)
{
	uint64_t nblocks = (ino->size + p->blksz - 1) / p->blksz;
	uint64_t blk = off / p->blksz;

	ck_assert_msg(ino->layout == EROFS_INODE_FLAT_PLAIN || ino->layout == EROFS_INODE_FLAT_INLINE,
		      "nid %llu: layout %u", (unsigned long long)ino->nid, ino->layout);
	if (ino->layout == EROFS_INODE_FLAT_INLINE && blk == nblocks - 1)
		return ino->pos + ino->isize + ino->xsize + off % p->blksz;
	return (uint64_t)ino->u * p->blksz + off;
}

bool p_lookup(const struct pimg *p, const struct pino *dir, const char *name, uint64_t *nid,
	      uint64_t *dpos)
{
	size_t nlen = strlen(name);

	for (uint64_t b = 0; b < dir->size; b += p->blksz) {
		uint64_t base = p_dataoff(p, dir, b);
		uint64_t maxsize = dir->size - b < p->blksz ? dir->size - b : p->blksz;
		const uint8_t *blk = p->d + base;
		unsigned n = ef_le16(blk + 8) / 12;

		for (unsigned i = 0; i < n; i++) {
			unsigned off = ef_le16(blk + 12 * i + 8);
			unsigned end = i + 1 < n ? ef_le16(blk + 12 * (i + 1) + 8) :
						   (unsigned)strnlen((const char *)blk + off,
								     maxsize - off) + off;

			if (end - off == nlen && !memcmp(blk + off, name, nlen)) {
				*nid = ef_le64(blk + 12 * i);
				*dpos = base + 12 * i;
				return true;
			}
		}
	}
	return false;
}

void p_path(const struct pimg *p, const char *path, struct pino *out, uint64_t *dpos)
{
	char buf[512], *save = NULL, *comp;
	struct pino cur;

	p_iget(p, p->root, &cur);
	*dpos = 0;
	snprintf(buf, sizeof(buf), "%s", path);
	for (comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		uint64_t nid;

		ck_assert_msg(p_lookup(p, &cur, comp, &nid, dpos), "parser: %s not found", path);
		p_iget(p, nid, &cur);
	}
	*out = cur;
}

void p_list(const struct pimg *p, const struct pino *dir, struct plist *l)
{
	l->n = 0;
	for (uint64_t b = 0; b < dir->size; b += p->blksz) {
		uint64_t base = p_dataoff(p, dir, b);
		uint64_t maxsize = dir->size - b < p->blksz ? dir->size - b : p->blksz;
		const uint8_t *blk = p->d + base;
		unsigned n = ef_le16(blk + 8) / 12;

		for (unsigned i = 0; i < n; i++) {
			unsigned off = ef_le16(blk + 12 * i + 8);
			unsigned end = i + 1 < n ? ef_le16(blk + 12 * (i + 1) + 8) :
				       off + (unsigned)strnlen((const char *)blk + off, maxsize - off);
			struct pent *e = &l->v[l->n++];

			ck_assert_uint_lt(l->n, sizeof(l->v) / sizeof(l->v[0]));
			e->pos = base + 12 * i;
			e->cookie = b + 12 * i;
			e->nid = ef_le64(blk + 12 * i);
			e->namepos = base + off;
			e->len = end - off;
			memcpy(e->name, blk + off, e->len);
			e->name[e->len] = '\0';
		}
	}
}

void p_set_size(uint8_t *d, struct pino *ino, uint64_t size)
{
	if (ino->ext)
		put_le64(d + ino->pos + offsetof(struct erofs_inode_extended, i_size), size);
	else
		put_le32(d + ino->pos + offsetof(struct erofs_inode_compact, i_size),
			 (uint32_t)size);
	ino->size = size;
}

/* ------------------------------------------------------------------ */
/* plain-4k.erofs patched by hand                                       */

void patched_begin(struct patched *x)
{
	const struct hfix *f = hfix_named("plain-4k.erofs");

	x->len = f->len;
	x->d = malloc(f->len);
	ck_assert_ptr_nonnull(x->d);
	memcpy(x->d, f->data, f->len);
	p_open(&x->p, x->d, x->len);
	x->dom = new_domain();
	x->img = NULL;
}

int patched_attach(struct patched *x)
{
	sb_fix_checksum(x->d, x->len);
	return attach_mem(&x->img, x->dom, x->d, x->len, NULL, 0);
}

void patched_end(struct patched *x)
{
	if (x->img)
		eshare_image_detach(x->img);
	x->img = NULL;
	run_case(x->dom, x->d, x->len, NULL, 0, &full_walk, NULL);
	close_domain(x->dom);
	free(x->d);
}

int lookup_rc(struct patched *x, const char *path, eshare_inode **out)
{
	eshare_inode *ino = NULL;
	int rc = eshare_lookup(&ino, x->img, path);

	if (out)
		*out = rc ? NULL : ino;
	else if (!rc)
		eshare_inode_put(ino);
	return rc;
}

void hostile_init(const char *prog)
{
	load_fixtures();
	install_death_reporters();
	if (test_scale() == TEST_SCALE_SAMPLE)
		sample_stride = SAMPLE_STRIDE;
	printf("%s: %s\n", prog, test_scale_name(test_scale()));
	fflush(stdout);
}

void hostile_exit(void)
{
	for (unsigned i = 0; i < nhfixtures; i++) {
		free(hfixtures[i].data);
		free(hfixtures[i].dev);
	}
	nhfixtures = 0;
}

int hostile_main(const char *prog, Suite *suite)
{
	SRunner *sr;
	int failed;

	hostile_init(prog);
	sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	hostile_exit();
	return failed ? 1 : 0;
}
