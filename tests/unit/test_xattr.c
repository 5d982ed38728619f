// SPDX-License-Identifier: MIT
/*
 * Tests of lib/format/xattr.c.
 *
 * Expected names and values come from the fixtures' manifests, which were
 * read off the kernel's mount.  The listing order and the errno of the
 * corner cases were checked against the 6.18 kernel by mounting the
 * fixtures (and a crafted copy for xattr_isize 12): listxattr gives the
 * inline entries before the shared ones and lists a duplicated entry
 * twice; the same order on all 24 images.
 *
 * The crafted cases patch a fixture's bytes in memory and run the format
 * layer on them directly, so nothing of the layers above is involved.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include <erofs_share/backend.h>
#include <erofs_share/erofs_share.h>

#include "format/format.h"

#define MAX_FIXTURES 64

static char *fixtures[MAX_FIXTURES];
static int nfixtures;

/* ------------------------------------------------------------------ */
/* Files and manifests                                                  */

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	ck_assert_msg(f, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static char *fixture_path(const char *name)
{
	char *p;

	ck_assert_int_gt(asprintf(&p, "%s/%s", ESHARE_FIXTURES, name), 0);
	return p;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Undo the manifest's escaping in place; returns the new length. */
static size_t unescape(char *s)
{
	char *o = s;
	const char *i = s;

	while (*i) {
		if (*i != '\\') {
			*o++ = *i++;
			continue;
		}
		switch (i[1]) {
		case '\\': *o++ = '\\'; i += 2; break;
		case 't': *o++ = '\t'; i += 2; break;
		case 'n': *o++ = '\n'; i += 2; break;
		case 'r': *o++ = '\r'; i += 2; break;
		case 'x':
			ck_assert(hexval(i[2]) >= 0 && hexval(i[3]) >= 0);
			*o++ = (char)(hexval(i[2]) << 4 | hexval(i[3]));
			i += 4;
			break;
		default:
			ck_abort_msg("bad escape in manifest: %s", i);
		}
	}
	*o = 0;
	return (size_t)(o - s);
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex);

	ck_assert_uint_eq(n % 2, 0);
	ck_assert_uint_le(n / 2, cap);
	for (size_t i = 0; i < n / 2; i++) {
		ck_assert(hexval(hex[2 * i]) >= 0 && hexval(hex[2 * i + 1]) >= 0);
		out[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	}
	return n / 2;
}

struct xa_expect {
	char *name;
	size_t vlen;
	bool hashed; /* value given as sha256 */
	uint8_t value[64]; /* raw value, or the sha256 */
};

struct mline {
	char *path;
	char *type;
	uint64_t size;
	char *sha;
	unsigned nxattrs;
	struct xa_expect *xattrs;
};

struct manifest {
	char *text;
	struct mline *lines;
	size_t n;
};

static void parse_xattrs(struct mline *l, char *field)
{
	unsigned n = 1;

	l->nxattrs = 0;
	l->xattrs = NULL;
	if (!strcmp(field, "-"))
		return;
	for (char *p = field; *p; p++)
		n += *p == ';';
	l->xattrs = calloc(n, sizeof(*l->xattrs));
	ck_assert_ptr_nonnull(l->xattrs);
	for (char *save = NULL, *tok = strtok_r(field, ";", &save); tok;
	     tok = strtok_r(NULL, ";", &save)) {
		struct xa_expect *x = &l->xattrs[l->nxattrs++];
		char *eq = strchr(tok, '=');

		ck_assert_ptr_nonnull(eq);
		*eq = 0;
		unescape(tok);
		x->name = tok;
		if (!strncmp(eq + 1, "hex:", 4)) {
			x->vlen = unhex(eq + 5, x->value, sizeof(x->value));
		} else {
			char *colon;

			ck_assert_msg(!strncmp(eq + 1, "len:", 4), "value %s", eq + 1);
			x->vlen = strtoul(eq + 5, &colon, 10);
			ck_assert(!strncmp(colon, ":sha256:", 8));
			ck_assert_uint_eq(unhex(colon + 8, x->value, sizeof(x->value)), 32);
			x->hashed = true;
		}
	}
}

static void manifest_load(struct manifest *m, const char *image)
{
	char *path, *save = NULL;
	size_t len, cap = 8192;

	ck_assert_int_gt(asprintf(&path, "%s/%s.erofs.manifest", ESHARE_FIXTURES, image), 0);
	m->text = (char *)slurp(path, &len);
	free(path);
	m->n = 0;
	m->lines = malloc(cap * sizeof(*m->lines));
	ck_assert_ptr_nonnull(m->lines);
	for (char *line = strtok_r(m->text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[14];
		int nf = 0;
		struct mline *l;

		if (line[0] == '#')
			continue;
		for (char *p = line; nf < 14; nf++) {
			f[nf] = p;
			p = strchr(p, '\t');
			if (!p) {
				nf++;
				break;
			}
			*p++ = 0;
		}
		ck_assert_int_eq(nf, 14);
		if (m->n == cap) {
			cap *= 2;
			m->lines = realloc(m->lines, cap * sizeof(*m->lines));
			ck_assert_ptr_nonnull(m->lines);
		}
		l = &m->lines[m->n++];
		unescape(f[0]);
		l->path = f[0];
		l->type = f[1];
		l->size = strcmp(f[5], "-") ? strtoull(f[5], NULL, 10) : 0;
		l->sha = f[11];
		parse_xattrs(l, f[12]);
	}
	ck_assert_uint_gt(m->n, 100);
}

static void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->lines[i].xattrs);
	free(m->lines);
	free(m->text);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static void find_fixtures(void)
{
	DIR *d = opendir(ESHARE_FIXTURES);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) && nfixtures < MAX_FIXTURES) {
		size_t n = strlen(de->d_name);

		if (has_suffix(de->d_name, ".erofs"))
			fixtures[nfixtures++] = strndup(de->d_name, n - strlen(".erofs"));
	}
	closedir(d);
}

/* ------------------------------------------------------------------ */
/* The format layer over an image in memory                             */

struct memimg {
	uint8_t *data[2];
	size_t size[2];
	unsigned ndev;
	unsigned reports;
};

static int mem_read(void *ctx, unsigned dev, void *buf, size_t len, uint64_t off)
{
	struct memimg *m = ctx;

	if (dev >= m->ndev || off > m->size[dev] || len > m->size[dev] - off)
		return -EIO;
	memcpy(buf, m->data[dev] + off, len);
	return 0;
}

static void mem_report(void *ctx, uint64_t nid, const char *why)
{
	struct memimg *m = ctx;

	m->reports++;
}

static void memimg_load(struct memimg *m, const char *image)
{
	char *name, *path;

	memset(m, 0, sizeof(*m));
	ck_assert_int_gt(asprintf(&name, "%s.erofs", image), 0);
	path = fixture_path(name);
	m->data[0] = slurp(path, &m->size[0]);
	m->ndev = 1;
	free(path);
	free(name);
	if (!strcmp(image, "multidev")) {
		path = fixture_path("multidev.blob");
		m->data[1] = slurp(path, &m->size[1]);
		m->ndev = 2;
		free(path);
	}
}

static void memimg_free(struct memimg *m)
{
	free(m->data[0]);
	free(m->data[1]);
}

static int memimg_open(struct memimg *m, struct ef_fs **fs)
{
	struct ef_io io = { .ctx = m, .read = mem_read, .report = mem_report };
	uint64_t sizes[2] = { m->size[0], m->size[1] };

	return ef_fs_open(fs, &io, sizes, m->ndev);
}

/* Walk an absolute path with the format layer's lookups. */
static int ef_walk(struct ef_fs *fs, const char *path, struct ef_inode *out)
{
	int rc = ef_iget(fs, fs->root_nid, out);

	while (!rc && *path) {
		const char *end;
		uint64_t nid;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		end = strchr(path, '/');
		if (!end)
			end = path + strlen(path);
		rc = ef_lookup(fs, out, path, (size_t)(end - path), &nid);
		if (!rc)
			rc = ef_iget(fs, nid, out);
		path = end;
	}
	return rc;
}

/* Rewrite the superblock checksum after patching its block. */
static void fix_sb_csum(struct memimg *m)
{
	uint8_t *sb = m->data[0] + EROFS_SUPER_OFFSET;
	uint32_t blksz = 1u << sb[offsetof(struct erofs_super_block, blkszbits)];
	size_t len = blksz > EROFS_SUPER_OFFSET ? blksz - EROFS_SUPER_OFFSET : blksz;
	uint32_t crc;

	memset(sb + 4, 0, 4);
	crc = ef_crc32c(~0u, sb, len);
	for (int i = 0; i < 4; i++)
		sb[4 + i] = (uint8_t)(crc >> (8 * i));
}

/* ------------------------------------------------------------------ */
/* Expected listing order                                               */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The kernel lists inline entries before shared ones, so these inodes
 * (one inline xattr, two shared) and the directory holding a whiteout
 * (mkfs adds trusted.overlay.origin that the source already has) differ
 * from the manifest's sorted, de-duplicated names.  Seen on all 24 images.
 */
static const struct {
	const char *path;
	const char *names[3];
} kernel_order[] = {
	{ "/nodes/whiteout-dir", { "trusted.overlay.origin", "trusted.overlay.origin" } },
	{ "/xattr/shared-01", { "user.own", "trusted.overlay.common", "user.common" } },
	{ "/xattr/shared-03", { "user.own", "trusted.overlay.common", "user.common" } },
	{ "/xattr/shared-05", { "user.own", "trusted.overlay.common", "user.common" } },
	{ "/xattr/shared-07", { "user.own", "trusted.overlay.common", "user.common" } },
	{ "/xattr/shared-09", { "user.own", "trusted.overlay.common", "user.common" } },
	{ "/xattr/shared-11", { "user.own", "trusted.overlay.common", "user.common" } },
};

/* Names as the kernel lists them for manifest line @l, into @out. */
static unsigned expected_order(const struct mline *l, const char **out, unsigned cap)
{
	unsigned n = 0;

	for (size_t k = 0; k < sizeof(kernel_order) / sizeof(kernel_order[0]); k++) {
		if (strcmp(kernel_order[k].path, l->path))
			continue;
		for (unsigned j = 0; j < 3 && kernel_order[k].names[j]; j++)
			out[n++] = kernel_order[k].names[j];
		return n;
	}
	ck_assert_uint_le(l->nxattrs, cap);
	for (unsigned j = 0; j < l->nxattrs; j++)
		out[n++] = l->xattrs[j].name;
	qsort(out, n, sizeof(*out), cmp_str);
	return n;
}

static void check_value(const char *what, const struct xa_expect *x, const uint8_t *v,
			size_t len)
{
	ck_assert_msg(len == x->vlen, "%s: %s is %zu bytes, want %zu", what, x->name, len,
		      x->vlen);
	if (x->hashed) {
		uint8_t md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;

		ck_assert_int_eq(EVP_Digest(v, len, md, &mdlen, EVP_sha256(), NULL), 1);
		ck_assert_uint_eq(mdlen, 32);
		ck_assert_msg(!memcmp(md, x->value, 32), "%s: %s sha256 differs", what, x->name);
	} else {
		ck_assert_msg(!len || !memcmp(v, x->value, len), "%s: %s differs", what, x->name);
	}
}

/* ------------------------------------------------------------------ */
/* Every fixture, through the public API, against its manifest          */

static void open_image(const char *image, eshare_domain **d, eshare_image **img)
{
	struct eshare_domain_opts dopts = ESHARE_DOMAIN_OPTS_INIT;
	struct eshare_image_opts iopts = ESHARE_IMAGE_OPTS_INIT;
	eshare_backend *blob = NULL;
	char *name, *path;

	ck_assert_int_eq(eshare_domain_create(d, &dopts), 0);
	if (!strcmp(image, "multidev")) {
		path = fixture_path("multidev.blob");
		ck_assert_int_eq(eshare_backend_open_file(&blob, path), 0);
		free(path);
		iopts.devices = &blob;
		iopts.ndevices = 1;
	}
	ck_assert_int_gt(asprintf(&name, "%s.erofs", image), 0);
	path = fixture_path(name);
	ck_assert_int_eq(eshare_image_open_path(img, *d, path, &iopts), 0);
	free(path);
	free(name);
}

START_TEST(test_manifest_xattrs)
{
	const char *image = fixtures[_i];
	struct manifest m;
	eshare_domain *d;
	eshare_image *img;
	char *list = NULL;
	size_t listcap = 0, checked = 0;
	uint8_t *val = NULL;
	size_t valcap = 0;

	manifest_load(&m, image);
	open_image(image, &d, &img);
	for (size_t i = 0; i < m.n; i++) {
		const struct mline *l = &m.lines[i];
		const char *want[128];
		unsigned nwant = expected_order(l, want, 128);
		eshare_inode *ino;
		ssize_t n, got;
		unsigned k = 0;

		ck_assert_msg(eshare_lookup(&ino, img, l->path) == 0, "%s: lookup %s", image,
			      l->path);
		n = eshare_listxattr(ino, NULL, 0);
		ck_assert_msg(n >= 0, "%s: listxattr %s: %zd", image, l->path, n);
		if ((size_t)n + 1 > listcap) {
			listcap = (size_t)n + 1;
			list = realloc(list, listcap);
			ck_assert_ptr_nonnull(list);
		}
		got = eshare_listxattr(ino, list, (size_t)n);
		ck_assert_int_eq(got, n);
		if (n)
			ck_assert_int_eq(eshare_listxattr(ino, list, (size_t)n - 1), -ERANGE);
		/* exactly the kernel's names, in its order */
		for (ssize_t off = 0; off < n; k++) {
			const char *name = list + off;
			size_t nl = strnlen(name, (size_t)(n - off));

			ck_assert_msg(nl < (size_t)(n - off), "unterminated name");
			ck_assert_msg(k < nwant && !strcmp(name, want[k]), "%s: %s lists %s at %u",
				      image, l->path, name, k);
			off += (ssize_t)nl + 1;
		}
		ck_assert_msg(k == nwant, "%s: %s lists %u names, want %u", image, l->path, k,
			      nwant);
		for (unsigned j = 0; j < l->nxattrs; j++) {
			const struct xa_expect *x = &l->xattrs[j];

			n = eshare_getxattr(ino, x->name, NULL, 0);
			ck_assert_msg(n == (ssize_t)x->vlen, "%s: %s %s size %zd", image, l->path,
				      x->name, n);
			if ((size_t)n + 1 > valcap) {
				valcap = (size_t)n + 1;
				val = realloc(val, valcap);
				ck_assert_ptr_nonnull(val);
			}
			ck_assert_int_eq(eshare_getxattr(ino, x->name, val, valcap), n);
			check_value(l->path, x, val, (size_t)n);
			/* (a length of 0 would ask for the size) */
			if (n > 1)
				ck_assert_int_eq(eshare_getxattr(ino, x->name, val, (size_t)n - 1),
						 -ERANGE);
			checked++;
		}
		ck_assert_int_eq(eshare_getxattr(ino, "user.not-there", val, valcap), -ENODATA);
		ck_assert_int_eq(eshare_getxattr(ino, "trusted.overlay.nope", NULL, 0), -ENODATA);
		eshare_inode_put(ino);
	}
	/* all 24 fixtures carry the xattr/ and acl/ trees */
	ck_assert_uint_gt(checked, 150);
	free(list);
	free(val);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	manifest_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The format layer directly                                            */

struct fixture_fs {
	struct memimg mem;
	struct ef_fs *fs;
};

static void ffs_open(struct fixture_fs *f, const char *image)
{
	memimg_load(&f->mem, image);
	ck_assert_int_eq(memimg_open(&f->mem, &f->fs), 0);
}

static void ffs_close(struct fixture_fs *f)
{
	ef_fs_close(f->fs);
	memimg_free(&f->mem);
}

static void walk_ok(struct ef_fs *fs, const char *path, struct ef_inode *ino)
{
	int rc = ef_walk(fs, path, ino);

	ck_assert_msg(rc == 0, "walk %s: %d", path, rc);
}

static const char *const digest_images[] = { "digest-lz4", "digest-plain", "shared-a",
					     "shared-b" };

START_TEST(test_fingerprint)
{
	const char *image = digest_images[_i];
	const struct ef_prefix *pf;
	struct fixture_fs f;
	struct manifest m;
	unsigned with = 0, without = 0;

	ffs_open(&f, image);
	manifest_load(&m, image);
	ck_assert_int_eq(f.fs->ishare_prefix_id, 0);
	ck_assert_uint_eq(f.fs->xattr_prefix_count, 1);
	pf = &f.fs->prefixes[0];
	ck_assert_uint_eq(pf->base_index, 0);
	ck_assert_uint_eq(pf->infix_len, 20);
	ck_assert(!memcmp(pf->infix, "erofs.fingerprint.v1", 20));
	for (size_t i = 0; i < m.n; i++) {
		const struct mline *l = &m.lines[i];
		struct ef_inode ino;
		uint8_t fp[64], want[39];
		char list[8192];
		ssize_t n;

		walk_ok(f.fs, l->path, &ino);
		n = ef_get_fingerprint(f.fs, &ino, fp, sizeof(fp));
		if (strcmp(l->type, "reg") || !l->size) {
			ck_assert_msg(n == -ENODATA, "%s: %s has a fingerprint (%zd)", image,
				      l->path, n);
			without++;
			continue;
		}
		memcpy(want, "sha256:", 7);
		ck_assert_uint_eq(unhex(l->sha, want + 7, 32), 32);
		ck_assert_msg(n == 39, "%s: %s fingerprint %zd", image, l->path, n);
		ck_assert_msg(!memcmp(fp, want, 39), "%s: %s fingerprint differs", image,
			      l->path);
		ck_assert_int_eq(ef_get_fingerprint(f.fs, &ino, NULL, 0), 39);
		ck_assert_int_eq(ef_get_fingerprint(f.fs, &ino, fp, 38), -ERANGE);
		/* hidden: neither listed nor reachable by its name */
		n = ef_listxattr(f.fs, &ino, list, sizeof(list));
		ck_assert_int_ge(n, 0);
		for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1)
			ck_assert(!strstr(list + off, "fingerprint"));
		ck_assert_int_eq(ef_getxattr(f.fs, &ino, "erofs.fingerprint.v1", fp, sizeof(fp)),
				 -EOPNOTSUPP);
		with++;
	}
	ck_assert_uint_gt(with, 100);
	ck_assert_uint_gt(without, 100);
	manifest_free(&m);
	ffs_close(&f);
}
END_TEST

START_TEST(test_no_fingerprint_without_ishare)
{
	struct fixture_fs f;
	struct ef_inode ino;
	uint8_t fp[64];

	ffs_open(&f, "plain-4k");
	ck_assert_int_eq(f.fs->ishare_prefix_id, -1);
	walk_ok(f.fs, "/big/text-0.bin", &ino);
	ck_assert_int_eq(ef_get_fingerprint(f.fs, &ino, fp, sizeof(fp)), -ENODATA);
	ffs_close(&f);
}
END_TEST

/* Name resolution and errno, as the kernel answered getxattr(2). */
START_TEST(test_errors)
{
	struct fixture_fs f;
	struct ef_inode ino;
	char big[300], buf[64];

	ffs_open(&f, "xattr-filter");
	walk_ok(f.fs, "/xattr/user-small", &ino);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "trusted.", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "", buf, sizeof(buf)), -ERANGE);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "system.foo", buf, sizeof(buf)), -EOPNOTSUPP);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "foo", buf, sizeof(buf)), -EOPNOTSUPP);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "system.posix_acl_accessX", buf, sizeof(buf)),
			 -EOPNOTSUPP);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "system.posix_acl_access", buf, sizeof(buf)),
			 -ENODATA);
	/* 255 bytes is the limit of a name, 256 is ERANGE */
	memset(big, 'a', sizeof(big));
	memcpy(big, "user.", 5);
	big[255] = 0;
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, big, buf, sizeof(buf)), -ENODATA);
	big[255] = 'a';
	big[256] = 0;
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, big, buf, sizeof(buf)), -ERANGE);
	/* an empty value: size 0 with or without a buffer */
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.empty", NULL, 0), 0);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.empty", buf, sizeof(buf)), 0);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.a", buf, 0), 1);
	ck_assert_int_eq(ef_listxattr(f.fs, &ino, buf, 1), -ERANGE);
	/* no xattrs at all */
	walk_ok(f.fs, "/files", &ino);
	ck_assert_uint_eq(ino.xattr_isize, 0);
	ck_assert_int_eq(ef_listxattr(f.fs, &ino, buf, sizeof(buf)), 0);
	ck_assert_int_eq(ef_listxattr(f.fs, &ino, NULL, 0), 0);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.a", buf, sizeof(buf)), -ENODATA);
	ck_assert_int_eq(f.mem.reports, 0);
	ffs_close(&f);
}
END_TEST

/* The long prefix of xattr-filter.erofs and the names built from it. */
START_TEST(test_long_prefix)
{
	struct fixture_fs f;
	struct ef_inode ino;
	char list[256];
	uint8_t area[512];
	bool found = false;

	ffs_open(&f, "xattr-filter");
	ck_assert_uint_eq(f.fs->xattr_prefix_count, 1);
	ck_assert_uint_eq(f.fs->prefixes[0].base_index, EROFS_XATTR_INDEX_TRUSTED);
	ck_assert_uint_eq(f.fs->prefixes[0].infix_len, 8);
	ck_assert(!memcmp(f.fs->prefixes[0].infix, "overlay.", 8));
	ck_assert(f.fs->xattr_filter);
	/* /xattr/trusted stores its trusted.overlay.* names with the prefix */
	walk_ok(f.fs, "/xattr/trusted", &ino);
	ck_assert_uint_le(ino.xattr_isize, sizeof(area));
	ck_assert_int_eq(ef_read_metadata(f.fs, ino.in_metabox, ino.iloc + ino.inode_isize, area,
				      ino.xattr_isize), 0);
	for (uint32_t pos = 12 + 4u * area[4]; pos + 4 <= ino.xattr_isize;
	     pos += (4u + area[pos] + ef_le16(area + pos + 2) + 3u) & ~3u)
		found |= area[pos + 1] == (EROFS_XATTR_LONG_PREFIX | 0);
	ck_assert(found);
	ck_assert_int_gt(ef_listxattr(f.fs, &ino, list, sizeof(list)), 0);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "trusted.overlay.opaque", list, sizeof(list)),
			 1);
	ck_assert_int_eq(list[0], 'y');
	/* a shorter or longer name must not match the prefix + suffix */
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "trusted.overlay.opaqu", NULL, 0), -ENODATA);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "trusted.overlay.opaquee", NULL, 0), -ENODATA);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "trusted.overlay.", NULL, 0), -ENODATA);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.overlay.opaque", NULL, 0), -ENODATA);
	ffs_close(&f);
}
END_TEST

/*
 * The bloom filter: every present name's bit must be clear (else lookups
 * would fail: the manifest test finds them all), and a set bit must make
 * getxattr answer ENODATA without looking, unless the superblock says the
 * filter is not to be trusted.
 */
START_TEST(test_filter)
{
	static const char *const paths[] = { "/xattr/user-small", "/xattr/mixed-ns",
					     "/xattr/trusted", "/acl/dir-acl",
					     "/xattr/security" };
	struct fixture_fs f;

	ffs_open(&f, "xattr-filter");
	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
		struct ef_inode ino;
		char list[1024];
		uint8_t hdr[12];
		ssize_t n;

		walk_ok(f.fs, paths[p], &ino);
		ck_assert_int_eq(ef_read_metadata(f.fs, false, ino.iloc + ino.inode_isize, hdr, 12), 0);
		ck_assert_uint_ne(ef_le32(hdr), 0);
		n = ef_listxattr(f.fs, &ino, list, sizeof(list));
		ck_assert_int_gt(n, 0);
		for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1) {
			const char *name = list + off, *rest;
			unsigned base;
			uint32_t bit;

			if (!strncmp(name, "user.", 5)) {
				base = 1, rest = name + 5;
			} else if (!strncmp(name, "trusted.", 8)) {
				base = 4, rest = name + 8;
			} else if (!strncmp(name, "security.", 9)) {
				base = 6, rest = name + 9;
			} else if (!strcmp(name, "system.posix_acl_access")) {
				base = 2, rest = "";
			} else {
				ck_assert_str_eq(name, "system.posix_acl_default");
				base = 3, rest = "";
			}
			bit = XXH32(rest, strlen(rest), EROFS_XATTR_FILTER_SEED + base) & 31;
			ck_assert_msg(!(ef_le32(hdr) & (1u << bit)), "%s: filter bit %u set",
				      name, bit);
		}
	}
	ffs_close(&f);

	/* all bits set: "nothing here" for any name */
	memimg_load(&f.mem, "xattr-filter");
	ck_assert_int_eq(memimg_open(&f.mem, &f.fs), 0);
	{
		struct ef_inode ino;
		uint8_t *hdr;

		walk_ok(f.fs, "/xattr/user-small", &ino);
		ck_assert(!ino.in_metabox);
		hdr = f.mem.data[0] + ino.iloc + ino.inode_isize;
		memset(hdr, 0xff, 4);
		ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.a", NULL, 0), -ENODATA);
		ck_assert_int_gt(ef_listxattr(f.fs, &ino, NULL, 0), 0);
		ef_fs_close(f.fs);

		/* the same inode once the superblock disowns the filter */
		f.mem.data[0][EROFS_SUPER_OFFSET + offsetof(struct erofs_super_block,
							     xattr_filter_reserved)] = 1;
		fix_sb_csum(&f.mem);
		ck_assert_int_eq(memimg_open(&f.mem, &f.fs), 0);
		ck_assert(!f.fs->xattr_filter);
		ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.a", NULL, 0), 1);
		ef_fs_close(f.fs);

		/* and with the compat bit cleared */
		f.mem.data[0][EROFS_SUPER_OFFSET + offsetof(struct erofs_super_block,
							     xattr_filter_reserved)] = 0;
		f.mem.data[0][EROFS_SUPER_OFFSET + 8] &= (uint8_t)~EROFS_COMPAT_XATTR_FILTER;
		fix_sb_csum(&f.mem);
		ck_assert_int_eq(memimg_open(&f.mem, &f.fs), 0);
		ck_assert(!f.fs->xattr_filter);
		ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.a", NULL, 0), 1);
		ef_fs_close(f.fs);
	}
	memimg_free(&f.mem);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Where the prefix table is read from                                  */

/* A valid one-record prefix table at @pos of @buf (@size bytes)? */
static bool record_at(const uint8_t *buf, size_t size, uint64_t pos)
{
	uint16_t len;

	if (pos + 2 > size)
		return false;
	len = ef_le16(buf + pos);
	return len >= 2 && len <= 256 && pos + 2 + len <= size;
}

static void expect_prefix(struct memimg *mem, uint64_t pos, bool plain, const uint8_t *rec)
{
	uint8_t *sb = mem->data[0] + EROFS_SUPER_OFFSET;
	struct ef_fs *fs;
	uint16_t len = ef_le16(rec);

	sb[offsetof(struct erofs_super_block, xattr_prefix_count)] = 1;
	for (int i = 0; i < 4; i++)
		sb[offsetof(struct erofs_super_block, xattr_prefix_start) + i] =
			(uint8_t)((pos / 4) >> (8 * i));
	sb[offsetof(struct erofs_super_block, feature_incompat)] |= EROFS_INCOMPAT_XATTR_PREFIXES;
	if (plain)
		sb[offsetof(struct erofs_super_block, feature_compat)] |=
			EROFS_COMPAT_PLAIN_XATTR_PFX;
	else
		sb[offsetof(struct erofs_super_block, feature_compat)] &=
			(uint8_t)~EROFS_COMPAT_PLAIN_XATTR_PFX;
	fix_sb_csum(mem);
	ck_assert_int_eq(memimg_open(mem, &fs), 0);
	ck_assert_uint_eq(fs->xattr_prefix_count, 1);
	ck_assert_uint_eq(fs->prefixes[0].base_index, rec[2]);
	ck_assert_uint_eq(fs->prefixes[0].infix_len, len - 1u);
	ck_assert(!memcmp(fs->prefixes[0].infix, rec + 3, len - 1u));
	ef_fs_close(fs);
}

/*
 * Give an image without prefixes a one-record table in the packed inode
 * or the metabox stream: the record must come from that stream, and from
 * the primary device once PLAIN_XATTR_PFX is set.  The offsets are chosen
 * so that reading the wrong space gives other bytes or fails.
 */
static void check_prefix_location(const char *image, bool metabox)
{
	struct fixture_fs f;
	struct ef_inode *src;
	uint8_t *stream;
	size_t ssize;
	uint64_t ps, pd;

	ffs_open(&f, image);
	src = metabox ? f.fs->metabox : f.fs->packed;
	ck_assert_ptr_nonnull(src);
	ssize = src->size;
	stream = malloc(ssize);
	ck_assert_ptr_nonnull(stream);
	ck_assert_int_eq(ef_read_data_via_io(f.fs, src, stream, ssize, 0), 0);
	for (ps = 4096; ps < ssize; ps += 4)
		if (record_at(stream, ssize, ps) &&
		    (ps + 3 > f.mem.size[0] || memcmp(stream + ps, f.mem.data[0] + ps, 3)))
			break;
	ck_assert_msg(ps < ssize, "%s: no record in the stream", image);
	for (pd = 4096; pd < f.mem.size[0]; pd += 4)
		if (record_at(f.mem.data[0], f.mem.size[0], pd) &&
		    (pd + 3 > ssize || memcmp(stream + pd, f.mem.data[0] + pd, 3)))
			break;
	ck_assert_msg(pd < f.mem.size[0], "%s: no record on the device", image);
	ffs_close(&f);

	memimg_load(&f.mem, image);
	expect_prefix(&f.mem, ps, false, stream + ps);
	expect_prefix(&f.mem, pd, true, f.mem.data[0] + pd);
	memimg_free(&f.mem);
	free(stream);
}

START_TEST(test_prefix_in_packed)
{
	check_prefix_location("fragments", false);
}
END_TEST

START_TEST(test_prefix_in_metabox)
{
	check_prefix_location("metabox", true);
}
END_TEST

/* Bad prefix records: length 0, over 256, table past the end. */
START_TEST(test_prefix_corrupt)
{
	static const uint16_t bad_len[] = { 0, 257, 0xffff };
	struct memimg mem;
	struct ef_fs *fs;
	uint8_t *sb;
	uint32_t start;

	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		memimg_load(&mem, "xattr-filter");
		sb = mem.data[0] + EROFS_SUPER_OFFSET;
		start = ef_le32(sb + offsetof(struct erofs_super_block, xattr_prefix_start));
		mem.data[0][start * 4] = (uint8_t)bad_len[i];
		mem.data[0][start * 4 + 1] = (uint8_t)(bad_len[i] >> 8);
		/* the table shares the superblock's block */
		fix_sb_csum(&mem);
		ck_assert_int_eq(memimg_open(&mem, &fs), -EFSCORRUPTED);
		ck_assert_uint_gt(mem.reports, 0);
		memimg_free(&mem);
	}
	/* a table starting past the end of the image */
	memimg_load(&mem, "xattr-filter");
	sb = mem.data[0] + EROFS_SUPER_OFFSET;
	start = (uint32_t)(mem.size[0] / 4);
	for (int b = 0; b < 4; b++)
		sb[offsetof(struct erofs_super_block, xattr_prefix_start) + b] =
			(uint8_t)(start >> (8 * b));
	fix_sb_csum(&mem);
	{
		int rc = memimg_open(&mem, &fs);

		ck_assert_msg(rc == -EIO || rc == -EFSCORRUPTED, "rc %d", rc);
	}
	memimg_free(&mem);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Crafted xattr areas                                                  */

struct crafted {
	struct memimg mem;
	struct ef_fs *fs;
	struct ef_inode ino;
	uint8_t *area; /* in mem.data[0] */
	uint32_t first; /* offset of the first inline entry */
};

/* plain-4k: inodes and their xattrs are plain bytes of the primary device */
static void crafted_open(struct crafted *c, const char *path)
{
	memimg_load(&c->mem, "plain-4k");
	ck_assert_int_eq(memimg_open(&c->mem, &c->fs), 0);
	walk_ok(c->fs, path, &c->ino);
	ck_assert(!c->ino.in_metabox);
	ck_assert_uint_gt(c->ino.xattr_isize, 12);
	c->area = c->mem.data[0] + c->ino.iloc + c->ino.inode_isize;
	c->first = 12 + 4u * c->area[4];
	/* no filter: lookups must walk the entries */
	memset(c->area, 0, 4);
}

static void crafted_close(struct crafted *c)
{
	ef_fs_close(c->fs);
	memimg_free(&c->mem);
}

static unsigned count_names(const char *list, ssize_t n, const char *name)
{
	unsigned k = 0;

	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1)
		k += !strcmp(list + off, name);
	return k;
}

START_TEST(test_crafted_shared_count)
{
	struct crafted c;
	char buf[256];

	crafted_open(&c, "/xattr/user-small");
	ck_assert_uint_lt(c.ino.xattr_isize, 12 + 4 * 255);
	c.area[4] = 255;
	ck_assert_int_eq(ef_listxattr(c.fs, &c.ino, buf, sizeof(buf)), -EFSCORRUPTED);
	ck_assert_int_eq(ef_listxattr(c.fs, &c.ino, NULL, 0), -EFSCORRUPTED);
	ck_assert_int_eq(ef_getxattr(c.fs, &c.ino, "user.a", buf, sizeof(buf)), -EFSCORRUPTED);
	ck_assert_int_eq(ef_get_fingerprint(c.fs, &c.ino, buf, sizeof(buf)), -ENODATA);
	ck_assert_uint_gt(c.mem.reports, 0);
	crafted_close(&c);
}
END_TEST

START_TEST(test_crafted_entry_past_end)
{
	struct crafted c;
	char buf[256];
	uint32_t last = 0;

	crafted_open(&c, "/xattr/user-small");
	/* a value running past the area */
	c.area[c.first + 2] = 0xff;
	c.area[c.first + 3] = 0xff;
	ck_assert_int_eq(ef_listxattr(c.fs, &c.ino, buf, sizeof(buf)), -EFSCORRUPTED);
	ck_assert_int_eq(ef_getxattr(c.fs, &c.ino, "user.zzz", buf, sizeof(buf)),
			 -EFSCORRUPTED);
	crafted_close(&c);

	/* the last entry's name running past the area */
	crafted_open(&c, "/xattr/user-small");
	for (uint32_t pos = c.first; pos < c.ino.xattr_isize;
	     pos += (4u + c.area[pos] + ef_le16(c.area + pos + 2) + 3u) & ~3u)
		last = pos;
	c.area[last] = 255;
	ck_assert_int_eq(ef_listxattr(c.fs, &c.ino, NULL, 0), -EFSCORRUPTED);
	crafted_close(&c);
}
END_TEST

/* Entries whose prefix is unknown are skipped, never matched. */
START_TEST(test_crafted_bad_index)
{
	static const uint8_t bad[] = { 0x80 | 5, 0xff, 0, 5, 7, 0x7f };
	struct crafted c;
	char list[512];
	ssize_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[300];

		crafted_open(&c, "/xattr/user-small");
		ck_assert_uint_eq(c.area[c.first + 1], EROFS_XATTR_INDEX_USER);
		snprintf(name, sizeof(name), "user.%.*s", c.area[c.first],
			 (const char *)c.area + c.first + 4);
		n = ef_listxattr(c.fs, &c.ino, list, sizeof(list));
		ck_assert_int_gt(n, 0);
		ck_assert_uint_eq(count_names(list, n, name), 1);
		ck_assert_int_ge(ef_getxattr(c.fs, &c.ino, name, NULL, 0), 0);

		c.area[c.first + 1] = bad[i];
		n = ef_listxattr(c.fs, &c.ino, list, sizeof(list));
		ck_assert_int_gt(n, 0);
		ck_assert_uint_eq(count_names(list, n, name), 0);
		ck_assert_int_eq(ef_getxattr(c.fs, &c.ino, name, NULL, 0), -ENODATA);
		crafted_close(&c);
	}
}
END_TEST

START_TEST(test_crafted_shared_id)
{
	struct crafted c;
	char buf[256];
	ssize_t rc;

	crafted_open(&c, "/xattr/shared-01");
	ck_assert_uint_gt(c.area[4], 0);
	memset(c.area + 12, 0xff, 4);
	rc = ef_listxattr(c.fs, &c.ino, buf, sizeof(buf));
	ck_assert_msg(rc == -EIO || rc == -EFSCORRUPTED, "rc %zd", rc);
	rc = ef_getxattr(c.fs, &c.ino, "user.common", buf, sizeof(buf));
	ck_assert_msg(rc == -EIO || rc == -EFSCORRUPTED, "rc %zd", rc);
	/* the inline entry comes first and is still found */
	ck_assert_int_ge(ef_getxattr(c.fs, &c.ino, "user.own", buf, sizeof(buf)), 0);
	crafted_close(&c);
}
END_TEST

/* A bare 12-byte header: the kernel answers EOPNOTSUPP to every call. */
START_TEST(test_crafted_header_only)
{
	struct memimg mem;
	struct ef_fs *fs;
	struct ef_inode ino;
	uint8_t *slot;
	char buf[64];

	memimg_load(&mem, "plain-4k");
	ck_assert_int_eq(memimg_open(&mem, &fs), 0);
	walk_ok(fs, "/bound/text-4096", &ino);
	ck_assert_uint_eq(ino.xattr_isize, 0);
	ck_assert_uint_eq(ino.layout, EROFS_INODE_FLAT_PLAIN);
	ef_fs_close(fs);
	slot = mem.data[0] + ino.iloc;
	slot[offsetof(struct erofs_inode_compact, i_xattr_icount)] = 1;
	ck_assert_int_eq(memimg_open(&mem, &fs), 0);
	walk_ok(fs, "/bound/text-4096", &ino);
	ck_assert_uint_eq(ino.xattr_isize, 12);
	ck_assert_int_eq(ef_listxattr(fs, &ino, buf, sizeof(buf)), -EOPNOTSUPP);
	ck_assert_int_eq(ef_getxattr(fs, &ino, "user.x", buf, sizeof(buf)), -EOPNOTSUPP);
	ck_assert_int_eq(ef_get_fingerprint(fs, &ino, buf, sizeof(buf)), -ENODATA);
	ef_fs_close(fs);
	memimg_free(&mem);
}
END_TEST

/* Random damage to xattr areas: specific errors or success, no crash. */
START_TEST(test_crafted_fuzz)
{
	static const char *const paths[] = { "/xattr/user-small", "/xattr/shared-01",
					     "/xattr/many", "/xattr/long-name",
					     "/acl/dir-acl", "/xattr/huge" };
	unsigned seed = 12345;

	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
		struct crafted c;
		uint8_t *saved;

		crafted_open(&c, paths[p]);
		saved = malloc(c.ino.xattr_isize);
		ck_assert_ptr_nonnull(saved);
		memcpy(saved, c.area, c.ino.xattr_isize);
		for (int round = 0; round < 300; round++) {
			static char list[70000];
			static uint8_t val[70000];
			ssize_t n;
			int flips = 1 + (int)(rand_r(&seed) % 4);

			memcpy(c.area, saved, c.ino.xattr_isize);
			for (int k = 0; k < flips; k++) {
				uint32_t at = (uint32_t)rand_r(&seed) %
					      (c.ino.xattr_isize < 64 ? c.ino.xattr_isize : 64);

				c.area[at] = (uint8_t)rand_r(&seed);
			}
			n = ef_listxattr(c.fs, &c.ino, list, sizeof(list));
			ck_assert_msg(n >= 0 || n == -EFSCORRUPTED || n == -EIO, "list %zd", n);
			for (ssize_t off = 0; n > 0 && off < n;
			     off += (ssize_t)strlen(list + off) + 1) {
				ssize_t v = ef_getxattr(c.fs, &c.ino, list + off, val, sizeof(val));

				ck_assert_msg(v >= 0 || v == -EFSCORRUPTED || v == -EIO ||
					      v == -ERANGE || v == -ENODATA || v == -EINVAL ||
					      v == -EOPNOTSUPP,
					      "get %zd", v);
			}
			n = ef_get_fingerprint(c.fs, &c.ino, val, sizeof(val));
			ck_assert_msg(n == -ENODATA || n == -EFSCORRUPTED || n == -EIO, "fp %zd",
				      n);
		}
		free(saved);
		crafted_close(&c);
	}
}
END_TEST

/* Values crossing 512-byte blocks, read through the format layer. */
START_TEST(test_large_values_512)
{
	struct fixture_fs f;
	struct ef_inode ino;
	uint8_t *val = malloc(65536);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	struct manifest m;
	const struct xa_expect *want = NULL;

	ck_assert_ptr_nonnull(val);
	manifest_load(&m, "plain-512");
	for (size_t i = 0; i < m.n; i++)
		if (!strcmp(m.lines[i].path, "/xattr/huge"))
			want = &m.lines[i].xattrs[0];
	ck_assert_ptr_nonnull(want);
	ck_assert_uint_eq(want->vlen, 33000);
	ffs_open(&f, "plain-512");
	walk_ok(f.fs, "/xattr/huge", &ino);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.huge", NULL, 0), 33000);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.huge", val, 32999), -ERANGE);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.huge", val, 65536), 33000);
	ck_assert_int_eq(EVP_Digest(val, 33000, md, &mdlen, EVP_sha256(), NULL), 1);
	ck_assert(!memcmp(md, want->value, 32));
	ffs_close(&f);
	manifest_free(&m);
	free(val);
}
END_TEST

static Suite *xattr_suite(void)
{
	Suite *s = suite_create("xattr");
	TCase *tc = tcase_create("manifest");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_manifest_xattrs, 0, nfixtures);
	tcase_add_loop_test(tc, test_fingerprint, 0,
			    (int)(sizeof(digest_images) / sizeof(digest_images[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_no_fingerprint_without_ishare);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_long_prefix);
	tcase_add_test(tc, test_filter);
	tcase_add_test(tc, test_prefix_in_packed);
	tcase_add_test(tc, test_prefix_in_metabox);
	tcase_add_test(tc, test_prefix_corrupt);
	tcase_add_test(tc, test_large_values_512);
	suite_add_tcase(s, tc);

	tc = tcase_create("crafted");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_crafted_shared_count);
	tcase_add_test(tc, test_crafted_entry_past_end);
	tcase_add_test(tc, test_crafted_bad_index);
	tcase_add_test(tc, test_crafted_shared_id);
	tcase_add_test(tc, test_crafted_header_only);
	tcase_add_test(tc, test_crafted_fuzz);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	find_fixtures();
	if (!nfixtures) {
		printf("no fixtures in %s\n", ESHARE_FIXTURES);
		return 1;
	}
	sr = srunner_create(xattr_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (int i = 0; i < nfixtures; i++)
		free(fixtures[i]);
	return failed ? 1 : 0;
}
