// SPDX-License-Identifier: MIT
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/sha.h>

#include <erofs_share/backend.h>

#include "format/ondisk.h"
#include "helpers/fixtures.h"
#include "helpers/readall.h"

struct names {
	char **v;
	size_t *len;
	size_t n, cap;
};

static int collect(void *user, const char *name, size_t namelen, uint64_t ino, unsigned type,
		   uint64_t next)
{
	struct names *nm = user;

	(void)ino;
	(void)type;
	(void)next;
	if ((namelen == 1 && name[0] == '.') || (namelen == 2 && !memcmp(name, "..", 2)))
		return 0;
	if (nm->n == nm->cap) {
		nm->cap = nm->cap ? nm->cap * 2 : 64;
		nm->v = realloc(nm->v, nm->cap * sizeof(*nm->v));
		nm->len = realloc(nm->len, nm->cap * sizeof(*nm->len));
		ck_assert(nm->v && nm->len);
	}
	nm->v[nm->n] = malloc(namelen + 1);
	ck_assert_ptr_nonnull(nm->v[nm->n]);
	memcpy(nm->v[nm->n], name, namelen);
	nm->v[nm->n][namelen] = '\0';
	nm->len[nm->n++] = namelen;
	return 0;
}

static uint8_t *read_whole(eshare_inode *ino, uint64_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	uint64_t off = 0;

	ck_assert_ptr_nonnull(buf);
	while (off < size) {
		ssize_t n = eshare_pread(ino, buf + off, size - off, off);

		ck_assert_msg(n > 0, "pread at %llu: %zd", (unsigned long long)off, n);
		off += (uint64_t)n;
	}
	ck_assert_int_eq(eshare_pread(ino, buf, 1, size), 0);
	return buf;
}

static void add(struct rfiles *l, const char *path, const struct eshare_stat *st, uint8_t *data,
		bool keep)
{
	struct rfile *f;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		ck_assert_ptr_nonnull(l->v);
	}
	f = &l->v[l->n++];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	ck_assert_ptr_nonnull(f->path);
	f->size = st->file_size;
	f->nid = st->nid;
	f->layout = st->layout;
	SHA256(data, st->file_size, f->sha256);
	if (keep)
		f->data = data;
	else
		free(data);
}

/* Depth-first walk: every regular file is read whole and hashed. */
static void walk_dir(eshare_inode *dir, char *path, size_t plen, unsigned depth,
		     struct rfiles *got, bool keep)
{
	struct names nm = { 0 };
	uint64_t cookie = 0;

	ck_assert_uint_lt(depth, 64);
	ck_assert_int_eq(eshare_readdir(dir, &cookie, collect, &nm), 0);
	for (size_t i = 0; i < nm.n; i++) {
		struct eshare_stat st = ESHARE_STAT_INIT;
		eshare_inode *child;
		size_t clen = plen + 1 + nm.len[i];

		ck_assert_uint_lt(clen, 8192);
		path[plen] = '/';
		memcpy(path + plen + 1, nm.v[i], nm.len[i] + 1);
		ck_assert_int_eq(eshare_lookup_at(&child, dir, nm.v[i], nm.len[i]), 0);
		ck_assert_int_eq(eshare_stat(child, &st), 0);
		if (S_ISDIR(st.mode))
			walk_dir(child, path, clen, depth + 1, got, keep);
		else if (S_ISREG(st.mode))
			add(got, path, &st, read_whole(child, st.file_size), keep);
		eshare_inode_put(child);
		free(nm.v[i]);
	}
	path[plen] = '\0';
	free(nm.v);
	free(nm.len);
}

static int rfile_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rfile *)a)->path, ((const struct rfile *)b)->path);
}

void rfiles_read(eshare_image *img, struct rfiles *out, bool keep)
{
	char *path = malloc(8192);
	eshare_inode *root;

	ck_assert_ptr_nonnull(path);
	memset(out, 0, sizeof(*out));
	ck_assert_int_eq(eshare_root(&root, img), 0);
	path[0] = '\0';
	walk_dir(root, path, 0, 0, out, keep);
	eshare_inode_put(root);
	free(path);
	qsort(out->v, out->n, sizeof(*out->v), rfile_cmp);
}

void rfiles_free(struct rfiles *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].data);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

bool rfile_compressed(const struct rfile *f)
{
	return f->layout == EROFS_INODE_COMPRESSED_FULL ||
	       f->layout == EROFS_INODE_COMPRESSED_COMPACT;
}

eshare_image *fx_attach(eshare_domain **d, const char *name)
{
	const struct fixture_info *f = fx_get(name);
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;
	eshare_backend *devs[FX_MAX_DEVICES];
	eshare_image *img;
	char path[4096];
	int rc;

	for (unsigned k = 0; k < f->ndevices; k++) {
		fx_device_path(path, sizeof(path), f, k);
		ck_assert_int_eq(eshare_backend_open_file(&devs[k], path), 0);
	}
	o.devices = f->ndevices ? devs : NULL;
	o.ndevices = f->ndevices;
	fx_image_path(path, sizeof(path), f);
	ck_assert_int_eq(eshare_domain_create(d, NULL), 0);
	rc = eshare_image_open_path(&img, *d, path, &o);
	ck_assert_msg(rc == 0, "attach %s: %s", name, eshare_strerror(rc));
	return img;
}

void fx_detach(eshare_domain *d, eshare_image *img)
{
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
