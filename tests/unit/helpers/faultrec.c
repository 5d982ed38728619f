// SPDX-License-Identifier: MIT
/* The record of a healthy pass and the checks against it (faultrec.h). */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/sha.h>

#include <erofs_share/erofs_share.h>

#include "helpers/faultrec.h"
#include "helpers/fixtures.h"
#include "helpers/manifest.h"

bool faults_verbose;
bool faults_lenient;

/* ------------------------------------------------------------------ */
/* The record of a healthy pass                                         */

void *fr_grow(void *v, size_t *cap, size_t n, size_t elem)
{
	void *p;

	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 64;
	p = realloc(v, *cap * elem);
	ck_assert_ptr_nonnull(p);
	return p;
}

void record_free(struct record *r)
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
	d->v = fr_grow(d->v, &d->cap, d->n, sizeof(*d->v));
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
	r->dirs = fr_grow(r->dirs, &r->cdirs, r->ndirs, sizeof(*r->dirs));
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

			r->links = fr_grow(r->links, &r->clinks, r->nlinks, sizeof(*r->links));
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

			r->files = fr_grow(r->files, &r->cfiles, r->nfiles, sizeof(*r->files));
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

void tally_bad(struct tally *t, const char *fmt, ...)
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
void tally_failed(struct tally *t, long rc, const char *op, const char *path)
{
	if (t->faulted && (rc == -EIO || (faults_lenient && rc == -ESHARE_EFSCORRUPTED)))
		t->eio++;
	else
		tally_bad(t, "%s %s: %ld (%s)", op, path, rc, eshare_strerror((int)rc));
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
		tally_bad(c->t, "readdir of dir ino %llu: entry %zu past the %zu recorded",
			  (unsigned long long)c->rd->ino, c->at, c->rd->n);
		return 1;
	}
	e = &c->rd->v[c->at++];
	if (namelen != e->len || memcmp(name, e->name, namelen) || ino != e->ino ||
	    type != e->type) {
		tally_bad(c->t, "readdir of dir ino %llu: entry %zu is '%.*s' ino %llu type %u, "
			  "recorded '%.*s' ino %llu type %u", (unsigned long long)c->rd->ino,
			  c->at - 1, (int)namelen, name, (unsigned long long)ino, type, (int)e->len,
			  e->name, (unsigned long long)e->ino, e->type);
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
			tally_failed(t, rc, "inode_open", where);
			continue;
		}
		rc = eshare_readdir(dir, &cookie, check_dent, &c);
		if (rc < 0)
			tally_failed(t, rc, "readdir", where);
		else if (rc == 0 && c.at != rd->n)
			tally_bad(t, "readdir of dir ino %llu ended after %zu of %zu entries",
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
			tally_failed(t, rc, "inode_open", where);
			continue;
		}
		n = eshare_readlink(ino, buf, sizeof(buf));
		if (n < 0)
			tally_failed(t, n, "readlink", where);
		else if ((size_t)n != l->len || memcmp(buf, l->target, l->len))
			tally_bad(t, "readlink of ino %llu: %zd bytes, not the %zu recorded",
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
			tally_failed(t, rc, "lookup", f->path);
		} else {
			rc = eshare_stat(ino, &st);
			if (rc)
				tally_failed(t, rc, "stat", f->path);
			else if (st.ino != f->ino)
				tally_bad(t, "lookup %s found ino %llu, not %llu", f->path,
					  (unsigned long long)st.ino, (unsigned long long)f->ino);
			eshare_inode_put(ino);
		}
	}
	rc = eshare_inode_open(&ino, img, f->ino);
	if (rc) {
		tally_failed(t, rc, "inode_open", f->path);
		return;
	}
	st = (struct eshare_stat)ESHARE_STAT_INIT;
	rc = eshare_stat(ino, &st);
	if (rc)
		tally_failed(t, rc, "stat", f->path);
	else if (st.file_size != f->size)
		tally_bad(t, "stat %s: size %llu, not %llu", f->path, (unsigned long long)st.file_size,
			  (unsigned long long)f->size);
	for (uint64_t off = 0; off < f->size; off += PIECE) {
		size_t want = f->size - off < PIECE ? (size_t)(f->size - off) : PIECE;
		ssize_t n = eshare_pread(ino, buf, want, off);

		if (n < 0) {
			tally_failed(t, n, "pread", f->path);
		} else if (n == 0 || (size_t)n > want) {
			tally_bad(t, "pread %s at %llu: %zd of %zu bytes", f->path,
				  (unsigned long long)off, n, want);
		} else if (memcmp(buf, f->data + off, (size_t)n)) {
			size_t k = 0;

			while (buf[k] == f->data[off + k])
				k++;
			tally_bad(t, "pread %s at %llu+%zu: WRONG BYTES from file offset %llu",
				  f->path, (unsigned long long)off, want,
				  (unsigned long long)(off + k));
		} else {
			t->ok++;
		}
	}
	eshare_inode_put(ino);
}

/* Everything the record holds, in record order from file @first on. */
void check_all(eshare_image *img, const struct record *r, size_t first, bool lookup,
		      struct tally *t)
{
	uint8_t *buf = malloc(PIECE);

	if (!buf) {
		tally_bad(t, "out of memory");
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

eshare_domain *fr_new_domain(struct tally *t, eshare_share_policy policy)
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
		tally_bad(t, "domain_create: %d", rc);
		return NULL;
	}
	return d;
}

/* Open every device of @r through a faulty backend (@cfg: one per device,
 * or NULL for healthy recorders). 0 or the error (nothing left open). */
int fr_open_devices(const struct record *r, eshare_backend **be, struct faulty **fh,
		    const struct faulty_config *cfg, struct tally *t)
{
	for (unsigned i = 0; i < r->ndevs; i++) {
		int rc = faulty_open_file(&be[i], &fh[i], r->paths[i], cfg ? &cfg[i] : NULL);

		if (rc) {
			tally_bad(t, "faulty_open_file %s: %d", r->paths[i], rc);
			while (i--)
				eshare_backend_close(be[i]);
			return rc;
		}
	}
	return 0;
}

int fr_attach(eshare_image **img, eshare_domain *d, const struct record *r,
	      eshare_backend **be)
{
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;

	o.name = r->name;
	o.devices = be + 1;
	o.ndevices = r->ndevs - 1;
	return eshare_image_attach(img, d, be[0], &o);
}

void fr_set_healthy(const struct record *r, struct faulty **fh, bool healthy)
{
	for (unsigned i = 0; i < r->ndevs; i++)
		faulty_set_healthy(fh[i], healthy);
}

uint64_t fr_faults_of(const struct record *r, struct faulty **fh)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < r->ndevs; i++)
		n += faulty_faults(fh[i]);
	return n;
}

/* Detach (the image closes its backends) and close the domain, which must
 * not be busy. */
void fr_teardown(eshare_domain *d, eshare_image *img, struct tally *t)
{
	int rc;

	eshare_image_detach(img);
	rc = eshare_domain_close(d);
	if (rc)
		tally_bad(t, "domain_close after detach: %d", rc);
}

void assert_tally(const struct tally *t)
{
	ck_assert_msg(!t->bad, "%llu wrong results; first: %s", (unsigned long long)t->bad,
		      t->first_bad);
}

/* ------------------------------------------------------------------ */
/* The record pass                                                      */

void record_image(struct record *r, const char *name)
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
	{
		const struct fixture_info *f = fx_get(name);

		r->ndevs = 1 + f->ndevices;
		ck_assert_uint_le(r->ndevs, MAX_DEVS);
		fx_image_path(r->paths[0], sizeof(r->paths[0]), f);
		for (unsigned k = 0; k < f->ndevices; k++)
			fx_device_path(r->paths[k + 1], sizeof(r->paths[0]), f, k);
	}
	d = fr_new_domain(&t, ESHARE_SHARE_OFF);
	assert_tally(&t);
	ck_assert_int_eq(fr_open_devices(r, be, fh, NULL, &t), 0);
	rc = fr_attach(&img, d, r, be);
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
	fr_teardown(d, img, &t);
	assert_tally(&t);
	ck_assert_int_eq(faulty_live_handles(), 0);
	record_check_manifest(r);
	if (faults_verbose)
		fprintf(stderr, "%s: %zu dirs, %zu symlinks, %zu files (%llu bytes); reads: "
			"%zu distinct (%zu offsets, %llu calls) + %zu (%zu offsets)\n",
			name, r->ndirs, r->nlinks, r->nfiles, (unsigned long long)r->file_bytes,
			r->dev[0].nreads, r->dev[0].noffs, (unsigned long long)r->dev[0].calls,
			r->ndevs > 1 ? r->dev[1].nreads : 0, r->ndevs > 1 ? r->dev[1].noffs : 0);
}

const char *fr_kind_name(enum faulty_kind k)
{
	return k == FAULTY_ERROR ? "EIO" : k == FAULTY_SHORT ? "short read" : "stall";
}

