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
 * them).  And shared-a next to shared-b in one domain, one of them
 * faulty: the healthy one must not see a single error.
 *
 * How much runs depends on the build (helpers/scale.h): a release build
 * runs all of the above on every fixture; an ASan+UBSan build every fixture
 * with fewer offsets, seeds and nth calls, one threaded case and one policy
 * for the pair; a TSan build only the threaded cases and the pair, on a
 * sample of fixtures covering every decoder and layout.  ESHARE_TEST_FULL=1
 * runs everything in any build, faulting every distinct read offset of
 * each device (up to 300) instead of a sample of 16.
 *
 * ESHARE_FAULTS_POSITIONS=N samples N offsets per device and kind (default
 * below, at most 300); ESHARE_FAULTS_JOBS=N runs N fault cases at once;
 * ESHARE_FAULTS_ONLY=NAME runs only one fixture (or "shared-pair");
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

#include "helpers/faulty.h"
#include "helpers/manifest.h"
#include "helpers/scale.h"

/* Small enough that a walk evicts, so pages are read from the backend again. */
#define CACHE_BYTES (256u << 10)
/* Pieces of an odd size, so that reads start inside pages. */
#define PIECE 24577u
#define DEFAULT_POSITIONS 16u
/* Under ASan+UBSan: fewer offsets and seeds (TEST_SCALE_SAMPLE). */
#define SAMPLE_POSITIONS 4u
#define SAMPLE_SEEDS 2u
#define MAX_POSITIONS 300u
#define RANDOM_SEEDS 4u
#define RANDOM_PROBABILITY 0.05
#define THREADS 4u
#define MAX_FIXTURES 64u
#define MAX_DEVS 2u
#define MAX_DEPTH 64u
/* Fault cases run on this many threads at once (each in its own domain). */
#define DEFAULT_WORKERS 2u
#define MAX_WORKERS 16u

/* ------------------------------------------------------------------ */
/* Fixtures                                                             */

static char fixture_names[MAX_FIXTURES][64]; /* without ".erofs" */
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
static bool verbose;
/* ESHARE_FAULTS_LENIENT=1: take -EFSCORRUPTED for -EIO (to look past a
 * known wrong errno for worse problems). */
static bool lenient;

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void list_fixtures(void)
{
	const char *only = getenv("ESHARE_FAULTS_ONLY");
	DIR *dir = opendir(ESHARE_FIXTURES);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir)) && nfixtures < MAX_FIXTURES) {
		size_t n = strlen(de->d_name);

		if (n < 7 || n - 6 >= sizeof(fixture_names[0]) ||
		    strcmp(de->d_name + n - 6, ".erofs"))
			continue;
		if (only && (strlen(only) != n - 6 || strncmp(only, de->d_name, n - 6)))
			continue;
		if (!only && scale == TEST_SCALE_THREADS) {
			bool in = false;

			for (size_t k = 0; k < sizeof(threads_sample) / sizeof(threads_sample[0]); k++)
				in |= strlen(threads_sample[k]) == n - 6 &&
				      !strncmp(threads_sample[k], de->d_name, n - 6);
			if (!in)
				continue;
		}
		memcpy(fixture_names[nfixtures], de->d_name, n - 6);
		fixture_names[nfixtures][n - 6] = '\0';
		nfixtures++;
	}
	closedir(dir);
	qsort(fixture_names, nfixtures, sizeof(fixture_names[0]), cmp_name);
}

/* The extra devices an image needs: only multidev has one. */
static unsigned fixture_devices(const char *name, char paths[MAX_DEVS][4096])
{
	snprintf(paths[0], 4096, "%s/%s.erofs", ESHARE_FIXTURES, name);
	if (!strcmp(name, "multidev")) {
		snprintf(paths[1], 4096, "%s/multidev.blob", ESHARE_FIXTURES);
		return 2;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* The record of a healthy pass                                         */

struct rdent {
	char *name;
	size_t len;
	uint64_t ino;
	unsigned type;
};

struct rdir {
	uint64_t ino;
	struct rdent *v;
	size_t n, cap;
};

struct rlink {
	uint64_t ino;
	char *target;
	size_t len;
};

struct rfile {
	char *path;
	size_t pathlen;
	uint64_t ino;
	uint64_t size;
	uint8_t sha[32];
	uint8_t *data;
};

struct rdev {
	struct faulty_read *reads;
	size_t nreads;
	uint64_t *offs; /* distinct offsets of the reads, sorted */
	size_t noffs;
	uint64_t calls;
};

struct record {
	const char *name;
	unsigned ndevs;
	char paths[MAX_DEVS][4096];
	struct rdir *dirs;
	size_t ndirs, cdirs;
	struct rlink *links;
	size_t nlinks, clinks;
	struct rfile *files;
	size_t nfiles, cfiles;
	struct rdev dev[MAX_DEVS];
	uint64_t file_bytes;
};

static void *grow(void *v, size_t *cap, size_t n, size_t elem)
{
	void *p;

	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 64;
	p = realloc(v, *cap * elem);
	ck_assert_ptr_nonnull(p);
	return p;
}

static void record_free(struct record *r)
{
	for (size_t i = 0; i < r->ndirs; i++) {
		for (size_t k = 0; k < r->dirs[i].n; k++)
			free(r->dirs[i].v[k].name);
		free(r->dirs[i].v);
	}
	free(r->dirs);
	for (size_t i = 0; i < r->nlinks; i++)
		free(r->links[i].target);
	free(r->links);
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i].path);
		free(r->files[i].data);
	}
	free(r->files);
	for (unsigned d = 0; d < r->ndevs; d++) {
		free(r->dev[d].reads);
		free(r->dev[d].offs);
	}
	memset(r, 0, sizeof(*r));
}

static int collect_dent(void *user, const char *name, size_t namelen, uint64_t ino,
			unsigned type, uint64_t next)
{
	struct rdir *d = user;
	struct rdent *e;

	(void)next;
	d->v = grow(d->v, &d->cap, d->n, sizeof(*d->v));
	e = &d->v[d->n++];
	e->name = malloc(namelen ? namelen : 1);
	ck_assert_ptr_nonnull(e->name);
	memcpy(e->name, name, namelen);
	e->len = namelen;
	e->ino = ino;
	e->type = type;
	return 0;
}

static uint8_t *read_whole(eshare_inode *ino, uint64_t size, const char *path)
{
	uint8_t *data = malloc(size ? size : 1);

	ck_assert_ptr_nonnull(data);
	for (uint64_t off = 0; off < size;) {
		size_t want = size - off < PIECE ? (size_t)(size - off) : PIECE;
		ssize_t r = eshare_pread(ino, data + off, want, off);

		ck_assert_msg(r == (ssize_t)want, "healthy pread %s at %llu: %zd of %zu", path,
			      (unsigned long long)off, r, want);
		off += want;
	}
	return data;
}

/* Depth-first over the directory @dir (path @path of @pathlen bytes). */
static void record_dir(struct record *r, eshare_inode *dir, char *path, size_t pathlen,
		       unsigned depth)
{
	struct eshare_stat st = ESHARE_STAT_INIT;
	struct rdir *rd;
	uint64_t cookie = 0;
	size_t idx;
	int rc;

	ck_assert_uint_lt(depth, MAX_DEPTH);
	ck_assert_int_eq(eshare_stat(dir, &st), 0);
	r->dirs = grow(r->dirs, &r->cdirs, r->ndirs, sizeof(*r->dirs));
	idx = r->ndirs++;
	rd = &r->dirs[idx];
	memset(rd, 0, sizeof(*rd));
	rd->ino = st.ino;
	rc = eshare_readdir(dir, &cookie, collect_dent, rd);
	ck_assert_msg(rc == 0, "healthy readdir %.*s: %d", (int)pathlen, path, rc);

	for (size_t i = 0; i < r->dirs[idx].n; i++) {
		/* r->dirs may move as subdirectories are added: index it afresh */
		struct rdent e = r->dirs[idx].v[i];
		struct eshare_stat cs = ESHARE_STAT_INIT;
		eshare_inode *child;

		if ((e.len == 1 && e.name[0] == '.') || (e.len == 2 && !memcmp(e.name, "..", 2)))
			continue;
		ck_assert_uint_lt(pathlen + 1 + e.len, 4096);
		path[pathlen] = '/';
		memcpy(path + pathlen + 1, e.name, e.len);
		rc = eshare_lookup_at(&child, dir, e.name, e.len);
		ck_assert_msg(rc == 0, "healthy lookup_at %.*s: %d", (int)(pathlen + 1 + e.len),
			      path, rc);
		ck_assert_int_eq(eshare_stat(child, &cs), 0);
		ck_assert_uint_eq(cs.ino, e.ino);
		switch (cs.mode & S_IFMT) {
		case S_IFDIR:
			record_dir(r, child, path, pathlen + 1 + e.len, depth + 1);
			break;
		case S_IFLNK: {
			struct rlink *l;
			ssize_t n;

			r->links = grow(r->links, &r->clinks, r->nlinks, sizeof(*r->links));
			l = &r->links[r->nlinks++];
			l->ino = cs.ino;
			l->target = malloc(cs.file_size + 1);
			ck_assert_ptr_nonnull(l->target);
			n = eshare_readlink(child, l->target, cs.file_size + 1);
			ck_assert_int_eq(n, (ssize_t)cs.file_size);
			l->len = (size_t)n;
			break;
		}
		case S_IFREG: {
			struct rfile *f;

			r->files = grow(r->files, &r->cfiles, r->nfiles, sizeof(*r->files));
			f = &r->files[r->nfiles++];
			f->pathlen = pathlen + 1 + e.len;
			f->path = malloc(f->pathlen + 1);
			ck_assert_ptr_nonnull(f->path);
			memcpy(f->path, path, f->pathlen);
			f->path[f->pathlen] = '\0';
			f->ino = cs.ino;
			f->size = cs.file_size;
			f->data = read_whole(child, cs.file_size, f->path);
			SHA256(f->data, (size_t)f->size, f->sha);
			r->file_bytes += f->size;
			break;
		}
		default:
			break;
		}
		eshare_inode_put(child);
	}
}

static int cmp_file_path(const void *a, const void *b)
{
	const struct rfile *x = a, *y = b;
	size_t n = x->pathlen < y->pathlen ? x->pathlen : y->pathlen;
	int c = memcmp(x->path, y->path, n);

	if (c)
		return c;
	return x->pathlen < y->pathlen ? -1 : x->pathlen > y->pathlen;
}

/* Every regular file of the manifest, with its size and sha256; the
 * counts of directories and symlinks. */
static void record_check_manifest(struct record *r)
{
	struct manifest m;
	size_t regs = 0, dirs = 0, links = 0;

	ck_assert_int_eq(manifest_load(&m, r->name), 0);
	qsort(r->files, r->nfiles, sizeof(*r->files), cmp_file_path);
	for (size_t i = 0; i < m.n; i++) {
		const struct manifest_entry *e = &m.e[i];
		struct rfile key = { .path = e->path, .pathlen = strlen(e->path) };
		struct rfile *f;

		if (!strcmp(e->type, "dir"))
			dirs++;
		if (!strcmp(e->type, "lnk"))
			links++;
		if (strcmp(e->type, "reg"))
			continue;
		regs++;
		f = bsearch(&key, r->files, r->nfiles, sizeof(*r->files), cmp_file_path);
		ck_assert_msg(f, "%s: %s is not in the walk", r->name, e->path);
		ck_assert_msg(f->size == e->size, "%s: %s: size %llu, manifest %llu", r->name,
			      e->path, (unsigned long long)f->size, (unsigned long long)e->size);
		ck_assert_msg(!memcmp(f->sha, e->sha256, 32),
			      "%s: %s: sha256 differs from the manifest", r->name, e->path);
	}
	ck_assert_uint_eq(regs, r->nfiles);
	ck_assert_uint_eq(dirs, r->ndirs);
	ck_assert_uint_eq(links, r->nlinks);
	ck_assert_uint_gt(regs, 100);
	manifest_free(&m);
}


/* ------------------------------------------------------------------ */
/* Checking an image against the record                                 */

/* What one pass over an image met; a worker fills it, the caller asserts. */
struct tally {
	bool faulted; /* errors allowed (else every call must succeed) */
	const char *what; /* the fault, for messages */
	uint64_t ok, eio;
	uint64_t bad;
	char first_bad[512];
};

static void bad(struct tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(struct tally *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->bad++)
		return;
	n = snprintf(t->first_bad, sizeof(t->first_bad), "[%s, %s] ", t->what,
		     t->faulted ? "faulty" : "healthy again");
	if (n < 0 || (size_t)n >= sizeof(t->first_bad))
		return;
	va_start(ap, fmt);
	vsnprintf(t->first_bad + n, sizeof(t->first_bad) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* A negative return: fine while faulty if it is -EIO, wrong otherwise. */
static void failed(struct tally *t, long rc, const char *op, const char *path)
{
	if (t->faulted && (rc == -EIO || (lenient && rc == -ESHARE_EFSCORRUPTED)))
		t->eio++;
	else
		bad(t, "%s %s: %ld (%s)", op, path, rc, eshare_strerror((int)rc));
}

struct dent_check {
	const struct rdir *rd;
	size_t at;
	struct tally *t;
};

static int check_dent(void *user, const char *name, size_t namelen, uint64_t ino, unsigned type,
		      uint64_t next)
{
	struct dent_check *c = user;
	const struct rdent *e;

	(void)next;
	if (c->at >= c->rd->n) {
		bad(c->t, "readdir of dir ino %llu: entry %zu past the %zu recorded",
		    (unsigned long long)c->rd->ino, c->at, c->rd->n);
		return 1;
	}
	e = &c->rd->v[c->at++];
	if (namelen != e->len || memcmp(name, e->name, namelen) || ino != e->ino ||
	    type != e->type) {
		bad(c->t, "readdir of dir ino %llu: entry %zu is '%.*s' ino %llu type %u, "
		    "recorded '%.*s' ino %llu type %u", (unsigned long long)c->rd->ino, c->at - 1,
		    (int)namelen, name, (unsigned long long)ino, type, (int)e->len, e->name,
		    (unsigned long long)e->ino, e->type);
		return 1;
	}
	return 0;
}

static void check_dirs(eshare_image *img, const struct record *r, struct tally *t)
{
	for (size_t i = 0; i < r->ndirs; i++) {
		const struct rdir *rd = &r->dirs[i];
		struct dent_check c = { rd, 0, t };
		uint64_t cookie = 0;
		eshare_inode *dir;
		char where[32];
		int rc;

		snprintf(where, sizeof(where), "of dir ino %llu", (unsigned long long)rd->ino);
		rc = eshare_inode_open(&dir, img, rd->ino);
		if (rc) {
			failed(t, rc, "inode_open", where);
			continue;
		}
		rc = eshare_readdir(dir, &cookie, check_dent, &c);
		if (rc < 0)
			failed(t, rc, "readdir", where);
		else if (rc == 0 && c.at != rd->n)
			bad(t, "readdir of dir ino %llu ended after %zu of %zu entries",
			    (unsigned long long)rd->ino, c.at, rd->n);
		else if (rc == 0)
			t->ok++;
		eshare_inode_put(dir);
	}
}

static void check_links(eshare_image *img, const struct record *r, struct tally *t)
{
	char buf[8192];

	for (size_t i = 0; i < r->nlinks; i++) {
		const struct rlink *l = &r->links[i];
		eshare_inode *ino;
		char where[32];
		ssize_t n;
		int rc;

		snprintf(where, sizeof(where), "of symlink ino %llu", (unsigned long long)l->ino);
		rc = eshare_inode_open(&ino, img, l->ino);
		if (rc) {
			failed(t, rc, "inode_open", where);
			continue;
		}
		n = eshare_readlink(ino, buf, sizeof(buf));
		if (n < 0)
			failed(t, n, "readlink", where);
		else if ((size_t)n != l->len || memcmp(buf, l->target, l->len))
			bad(t, "readlink of ino %llu: %zd bytes, not the %zu recorded",
			    (unsigned long long)l->ino, n, l->len);
		else
			t->ok++;
		eshare_inode_put(ino);
	}
}

/* One regular file: by path, then by number, then its bytes piece by piece. */
static void check_file(eshare_image *img, const struct rfile *f, uint8_t *buf, bool lookup,
		       struct tally *t)
{
	struct eshare_stat st = ESHARE_STAT_INIT;
	eshare_inode *ino;
	int rc;

	if (lookup) {
		rc = eshare_lookup(&ino, img, f->path);
		if (rc) {
			failed(t, rc, "lookup", f->path);
		} else {
			rc = eshare_stat(ino, &st);
			if (rc)
				failed(t, rc, "stat", f->path);
			else if (st.ino != f->ino)
				bad(t, "lookup %s found ino %llu, not %llu", f->path,
				    (unsigned long long)st.ino, (unsigned long long)f->ino);
			eshare_inode_put(ino);
		}
	}
	rc = eshare_inode_open(&ino, img, f->ino);
	if (rc) {
		failed(t, rc, "inode_open", f->path);
		return;
	}
	st = (struct eshare_stat)ESHARE_STAT_INIT;
	rc = eshare_stat(ino, &st);
	if (rc)
		failed(t, rc, "stat", f->path);
	else if (st.file_size != f->size)
		bad(t, "stat %s: size %llu, not %llu", f->path, (unsigned long long)st.file_size,
		    (unsigned long long)f->size);
	for (uint64_t off = 0; off < f->size; off += PIECE) {
		size_t want = f->size - off < PIECE ? (size_t)(f->size - off) : PIECE;
		ssize_t n = eshare_pread(ino, buf, want, off);

		if (n < 0) {
			failed(t, n, "pread", f->path);
		} else if (n == 0 || (size_t)n > want) {
			bad(t, "pread %s at %llu: %zd of %zu bytes", f->path,
			    (unsigned long long)off, n, want);
		} else if (memcmp(buf, f->data + off, (size_t)n)) {
			size_t k = 0;

			while (buf[k] == f->data[off + k])
				k++;
			bad(t, "pread %s at %llu+%zu: WRONG BYTES from file offset %llu",
			    f->path, (unsigned long long)off, want,
			    (unsigned long long)(off + k));
		} else {
			t->ok++;
		}
	}
	eshare_inode_put(ino);
}

/* Everything the record holds, in record order from file @first on. */
static void check_all(eshare_image *img, const struct record *r, size_t first, bool lookup,
		      struct tally *t)
{
	uint8_t *buf = malloc(PIECE);

	if (!buf) {
		bad(t, "out of memory");
		return;
	}
	check_dirs(img, r, t);
	check_links(img, r, t);
	for (size_t i = 0; i < r->nfiles; i++)
		check_file(img, &r->files[(first + i) % r->nfiles], buf, lookup, t);
	free(buf);
}

/* ------------------------------------------------------------------ */
/* Domains and devices (safe in worker threads: they report, not assert) */

/* The domain's reports, printed with ESHARE_FAULTS_LOG=1 (to tell where a
 * wrong errno was made). */
static void print_log(void *user, int level, const char *msg)
{
	(void)user;
	fprintf(stderr, "  log %d: %s\n", level, msg);
}

static eshare_domain *new_domain(struct tally *t, eshare_share_policy policy)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_domain *d;
	int rc;

	o.cache_bytes = CACHE_BYTES;
	o.policy = policy;
	if (getenv("ESHARE_FAULTS_LOG"))
		o.log = print_log;
	rc = eshare_domain_create(&d, &o);
	if (rc) {
		bad(t, "domain_create: %d", rc);
		return NULL;
	}
	return d;
}

/* Open every device of @r through a faulty backend (@cfg: one per device,
 * or NULL for healthy recorders). 0 or the error (nothing left open). */
static int open_devices(const struct record *r, eshare_backend **be, struct faulty **fh,
			const struct faulty_config *cfg, struct tally *t)
{
	for (unsigned i = 0; i < r->ndevs; i++) {
		int rc = faulty_open_file(&be[i], &fh[i], r->paths[i], cfg ? &cfg[i] : NULL);

		if (rc) {
			bad(t, "faulty_open_file %s: %d", r->paths[i], rc);
			while (i--)
				eshare_backend_close(be[i]);
			return rc;
		}
	}
	return 0;
}

static int attach(eshare_image **img, eshare_domain *d, const struct record *r,
		  eshare_backend **be)
{
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;

	o.name = r->name;
	o.devices = be + 1;
	o.ndevices = r->ndevs - 1;
	return eshare_image_attach(img, d, be[0], &o);
}

static void set_healthy(const struct record *r, struct faulty **fh, bool healthy)
{
	for (unsigned i = 0; i < r->ndevs; i++)
		faulty_set_healthy(fh[i], healthy);
}

static uint64_t faults_of(const struct record *r, struct faulty **fh)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < r->ndevs; i++)
		n += faulty_faults(fh[i]);
	return n;
}

/* Detach (the image closes its backends) and close the domain, which must
 * not be busy. */
static void teardown(eshare_domain *d, eshare_image *img, struct tally *t)
{
	int rc;

	eshare_image_detach(img);
	rc = eshare_domain_close(d);
	if (rc)
		bad(t, "domain_close after detach: %d", rc);
}

static void assert_tally(const struct tally *t)
{
	ck_assert_msg(!t->bad, "%llu wrong results; first: %s", (unsigned long long)t->bad,
		      t->first_bad);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------------ */
/* The record pass                                                      */

static void record_image(struct record *r, const char *name)
{
	struct tally t = { .what = "record pass" };
	eshare_backend *be[MAX_DEVS];
	struct faulty *fh[MAX_DEVS];
	eshare_domain *d;
	eshare_image *img;
	eshare_inode *root;
	char path[4096];
	int rc;

	memset(r, 0, sizeof(*r));
	r->name = name;
	r->ndevs = fixture_devices(name, r->paths);
	d = new_domain(&t, ESHARE_SHARE_OFF);
	assert_tally(&t);
	ck_assert_int_eq(open_devices(r, be, fh, NULL, &t), 0);
	rc = attach(&img, d, r, be);
	ck_assert_msg(rc == 0, "%s: healthy attach: %d", name, rc);
	ck_assert_int_eq(eshare_root(&root, img), 0);
	record_dir(r, root, path, 0, 0);
	eshare_inode_put(root);
	for (unsigned i = 0; i < r->ndevs; i++) {
		struct rdev *dv = &r->dev[i];

		ck_assert_int_eq(faulty_reads(fh[i], &dv->reads, &dv->nreads), 0);
		ck_assert_uint_gt(dv->nreads, 0);
		dv->calls = faulty_calls(fh[i]);
		dv->offs = malloc(dv->nreads * sizeof(*dv->offs));
		ck_assert_ptr_nonnull(dv->offs);
		for (size_t k = 0; k < dv->nreads; k++)
			if (!dv->noffs || dv->offs[dv->noffs - 1] != dv->reads[k].off)
				dv->offs[dv->noffs++] = dv->reads[k].off;
		/* healthy: nothing may have been faulted */
		ck_assert_uint_eq(faulty_faults(fh[i]), 0);
	}
	teardown(d, img, &t);
	assert_tally(&t);
	ck_assert_int_eq(faulty_live_handles(), 0);
	record_check_manifest(r);
	if (verbose)
		fprintf(stderr, "%s: %zu dirs, %zu symlinks, %zu files (%llu bytes); reads: "
			"%zu distinct (%zu offsets, %llu calls) + %zu (%zu offsets)\n",
			name, r->ndirs, r->nlinks, r->nfiles, (unsigned long long)r->file_bytes,
			r->dev[0].nreads, r->dev[0].noffs, (unsigned long long)r->dev[0].calls,
			r->ndevs > 1 ? r->dev[1].nreads : 0, r->ndevs > 1 ? r->dev[1].noffs : 0);
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
	d = new_domain(&j->faulty, j->policy);
	if (!d)
		return;
	if (open_devices(r, be, fh, j->cfg, &j->faulty)) {
		eshare_domain_close(d);
		return;
	}
	rc = attach(&img, d, r, be);
	if (rc) {
		/* the backends are still ours: the same ones, healthy now */
		if (rc == -EIO || (lenient && rc == -ESHARE_EFSCORRUPTED))
			j->faulty.eio++;
		else
			bad(&j->faulty, "attach: %d (%s)", rc, eshare_strerror(rc));
		set_healthy(r, fh, true);
		rc = attach(&img, d, r, be);
		if (rc) {
			bad(&j->healthy, "attach: %d", rc);
			j->faults = faults_of(r, fh);
			for (unsigned i = 0; i < r->ndevs; i++)
				eshare_backend_close(be[i]);
			eshare_domain_close(d);
			return;
		}
	} else {
		check_all(img, r, 0, true, &j->faulty);
		set_healthy(r, fh, true);
	}
	j->faults = faults_of(r, fh);
	check_all(img, r, 0, true, &j->healthy);
	teardown(d, img, &j->healthy);
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
		if (verbose && group && (i == n || jobs[i].group != group))
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

static const char *kind_name(enum faulty_kind k)
{
	return k == FAULTY_ERROR ? "EIO" : k == FAULTY_SHORT ? "short read" : "stall";
}

static struct job *add_job(struct job **jobs, size_t *n, size_t *cap, const char *group)
{
	struct job *j;

	*jobs = grow(*jobs, cap, *n, sizeof(**jobs));
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
			struct job *j = add_job(jobs, n, cap, kind_name(kind));

			j->offset = pick[i];
			j->cfg[dev].kind = kind;
			j->cfg[dev].noffsets = 1;
			j->must_fault = true;
			snprintf(j->what, sizeof(j->what), "%s: %s at device %u offset %llu",
				 r->name, kind_name(kind), dev, (unsigned long long)pick[i]);
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
				 kind_name((enum faulty_kind)kind), RANDOM_PROBABILITY, s,
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
static void read_concurrently(eshare_image *img, const struct record *r, bool faulted,
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
		 THREADS, kind_name(kind), p, seed, (int)policy);
	t.what = what;
	d = new_domain(&t, policy);
	assert_tally(&t);
	ck_assert_int_eq(open_devices(r, be, fh, cfg, &t), 0);
	/* attach healthy: the point here is concurrent reads under faults */
	set_healthy(r, fh, true);
	rc = attach(&img, d, r, be);
	ck_assert_msg(rc == 0, "%s: attach %d", what, rc);
	set_healthy(r, fh, false);
	read_concurrently(img, r, kind != FAULTY_STALL, what, &eio);
	set_healthy(r, fh, true);
	faults = faults_of(r, fh);
	ck_assert_msg(faults > 0, "%s: never faulted", what);
	if (kind == FAULTY_STALL)
		ck_assert_uint_eq(eio, 0);
	/* healthy again: every thread gets every right answer */
	read_concurrently(img, r, false, what, &eio);
	teardown(d, img, &t);
	assert_tally(&t);
	ck_assert_int_eq(faulty_live_handles(), 0);
	if (verbose)
		fprintf(stderr, "%s: %llu faults, %llu errors\n", what, (unsigned long long)faults,
			(unsigned long long)eio);
}


/* ------------------------------------------------------------------ */
/* Two images sharing files                                             */

/*
 * shared-a and shared-b in one domain, whose files of equal content share
 * one cached copy; one image's backends fault at random.  A fill comes
 * from the reading member's own image, so the healthy image must give
 * every right answer and no error at all, and the faulty one errors or
 * right answers; then, healed, both everything.
 */
static void pair_case(const struct record *rec, unsigned bad_side, eshare_share_policy policy,
		      enum faulty_kind kind, unsigned seed)
{
	struct faulty_config cfg[2][MAX_DEVS];
	eshare_backend *be[2][MAX_DEVS];
	struct faulty *fh[2][MAX_DEVS];
	struct tally t[2] = { 0 }, again[2] = { 0 };
	eshare_image *img[2];
	eshare_domain *d;
	struct eshare_stats st = ESHARE_STATS_INIT;
	char what[128];
	uint64_t faults;

	snprintf(what, sizeof(what), "%s faulty (random %s, seed %u) next to %s, policy %d",
		 rec[bad_side].name, kind_name(kind), seed, rec[!bad_side].name, (int)policy);
	memset(cfg, 0, sizeof(cfg));
	for (unsigned dev = 0; dev < rec[bad_side].ndevs; dev++) {
		cfg[bad_side][dev].kind = kind;
		cfg[bad_side][dev].probability = RANDOM_PROBABILITY;
		cfg[bad_side][dev].seed = seed + dev;
	}
	for (unsigned i = 0; i < 2; i++) {
		t[i].what = again[i].what = what;
		t[i].faulted = i == bad_side;
	}
	d = new_domain(&t[0], policy);
	assert_tally(&t[0]);
	for (unsigned i = 0; i < 2; i++) {
		int rc;

		ck_assert_int_eq(open_devices(&rec[i], be[i], fh[i], cfg[i], &t[i]), 0);
		/* attach healthy: the point is the reads of shared files */
		set_healthy(&rec[i], fh[i], true);
		rc = attach(&img[i], d, &rec[i], be[i]);
		ck_assert_msg(rc == 0, "%s: attach %s: %d", what, rec[i].name, rc);
		set_healthy(&rec[i], fh[i], false);
	}
	/* interleaved, so that either image may be the first to read a file */
	check_all(img[bad_side], &rec[bad_side], 0, false, &t[bad_side]);
	check_all(img[!bad_side], &rec[!bad_side], rec[!bad_side].nfiles / 2, false,
		  &t[!bad_side]);
	check_all(img[bad_side], &rec[bad_side], rec[bad_side].nfiles / 2, false, &t[bad_side]);
	faults = faults_of(&rec[bad_side], fh[bad_side]);
	ck_assert_msg(faults > 0, "%s: never faulted", what);
	ck_assert_uint_eq(faults_of(&rec[!bad_side], fh[!bad_side]), 0);
	set_healthy(&rec[bad_side], fh[bad_side], true);
	for (unsigned i = 0; i < 2; i++)
		check_all(img[i], &rec[i], 0, false, &again[i]);
	ck_assert_int_eq(eshare_domain_stats(d, &st), 0);
	for (unsigned i = 0; i < 2; i++) {
		eshare_image_detach(img[i]);
	}
	ck_assert_int_eq(eshare_domain_close(d), 0);
	ck_assert_int_eq(faulty_live_handles(), 0);
	for (unsigned i = 0; i < 2; i++) {
		assert_tally(&t[i]);
		assert_tally(&again[i]);
	}
	if (verbose)
		fprintf(stderr, "%s: %llu faults, %llu errors; %llu shared objects\n", what,
			(unsigned long long)faults, (unsigned long long)t[bad_side].eio,
			(unsigned long long)st.shared_objects);
}

START_TEST(test_shared_pair)
{
	static const eshare_share_policy policies[] = { ESHARE_SHARE_VERIFY, ESHARE_SHARE_TRUST,
							ESHARE_SHARE_COMPUTE };
	/* a sample: VERIFY only under ASan, VERIFY and TRUST under TSan */
	size_t npolicies = scale == TEST_SCALE_FULL ? 3 : scale == TEST_SCALE_THREADS ? 2 : 1;
	struct record rec[2];

	record_image(&rec[0], "shared-a");
	record_image(&rec[1], "shared-b");
	for (size_t p = 0; p < npolicies; p++) {
		for (unsigned side = 0; side < 2; side++) {
			pair_case(rec, side, policies[p], FAULTY_ERROR, 100 + (unsigned)p);
			pair_case(rec, side, policies[p], FAULTY_SHORT, 200 + (unsigned)p);
		}
	}
	record_free(&rec[0]);
	record_free(&rec[1]);
}
END_TEST

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
	const char *only;

	tcase_add_test(tc, test_backend_contract);
	suite_add_tcase(s, tc);

	tc = tcase_create("fixtures");
	tcase_set_timeout(tc, 900);
	tcase_add_loop_test(tc, test_fixture, 0, (int)nfixtures);
	suite_add_tcase(s, tc);

	/* (ESHARE_FAULTS_ONLY=shared-pair runs this alone) */
	only = getenv("ESHARE_FAULTS_ONLY");
	if (!only || !strcmp(only, "shared-pair")) {
		tc = tcase_create("shared");
		tcase_set_timeout(tc, 900);
		tcase_add_test(tc, test_shared_pair);
		suite_add_tcase(s, tc);
	}
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
	verbose = getenv("ESHARE_FAULTS_VERBOSE") != NULL;
	lenient = getenv("ESHARE_FAULTS_LENIENT") != NULL;
	list_fixtures();
	only = getenv("ESHARE_FAULTS_ONLY");
	if (only ? !nfixtures && strcmp(only, "shared-pair") :
		   nfixtures < (scale == TEST_SCALE_THREADS ?
				sizeof(threads_sample) / sizeof(threads_sample[0]) : 20)) {
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
