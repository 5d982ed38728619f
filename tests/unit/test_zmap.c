// SPDX-License-Identifier: MIT
/*
 * Compressed files: lib/format/zmap.c (mapping) and decompress.c (decoding).
 *
 * 1. Every compressed fixture is walked through the public API (root,
 *    readdir, lookup_at, pread) and each regular file's sha256 is compared
 *    with the manifest, which was read off the Linux kernel; each file is
 *    also read again, in a fresh domain so that the page cache is cold, in
 *    odd-sized chunks at odd offsets from the end backwards.
 * 2. For the fixtures erofs-utils 1.5 dump.erofs understands, the extents
 *    of every compressed file (la, llen, pa, plen) are compared with what
 *    `dump.erofs -e --nid=N` prints (skipped if dump.erofs is missing).
 * 3. Hand-made damage to the indexes, map headers and pclusters of real
 *    fixtures: each kind must give its errno, never a crash.
 * 4. The decoders alone, on streams made here by the real compressors:
 *    full, partial (prefix) and wrong-size decodes, corrupt streams,
 *    shifted and interlaced plain pclusters.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <erofs_share/erofs_share.h>

#include "format/format.h"
#include "format/ondisk.h"

/*
 * The ESHARE_HAVE_* macros are private to the library's own objects; the
 * codec tests are compiled where the headers exist and run only for the
 * algorithms this build decodes (ef_alg_supported()).
 */
#if __has_include(<lz4.h>)
#include <lz4.h>
#define T_LZ4 1
#endif
#if __has_include(<lzma.h>)
#include <lzma.h>
#define T_LZMA 1
#endif
#if __has_include(<libdeflate.h>)
#include <libdeflate.h>
#define T_DEFLATE 1
#endif
#if __has_include(<zstd.h>)
#include <zstd.h>
#define T_ZSTD 1
#endif

static const char *const zfixtures[] = {
	"lz4", "lz4hc-pcluster64k", "lzma", "deflate", "zstd", "ztailpacking", "fragments",
	"all-fragments", "dedupe", "48bit", "metabox", "metazone", "dirs-compressed",
	"xattr-filter", "inode-compact", "inode-extended", "digest-lz4", "shared-a", "shared-b",
};
#define NZFIXTURES (sizeof(zfixtures) / sizeof(zfixtures[0]))

/*
 * Those erofs-utils 1.5 dump.erofs can map: it knows no newer feature, and
 * refuses to map DEFLATE and Zstd extents ("unknown compression format").
 */
static const char *const dump_fixtures[] = {
	"lz4", "lz4hc-pcluster64k", "lzma", "ztailpacking", "metazone", "inode-compact",
	"inode-extended",
};
#define NDUMP (sizeof(dump_fixtures) / sizeof(dump_fixtures[0]))

static void fixture_path(char *buf, size_t len, const char *name, const char *suffix)
{
	snprintf(buf, len, "%s/%s.erofs%s", ESHARE_FIXTURES, name, suffix);
}

static uint8_t *load_file(const char *path, size_t *len)
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
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned mdlen = 0;

	ck_assert_int_eq(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

/* ------------------------------------------------------------------ */
/* 1. contents through the public API                                   */

struct fentry {
	char *path; /* raw bytes, NUL-terminated (names hold no NUL) */
	char sha[65];
	uint64_t size;
	uint64_t nid;
	uint8_t layout;
	uint8_t *data;
};

struct flist {
	struct fentry *v;
	size_t n, cap;
};

static void flist_add(struct flist *l, const char *path, const char *sha, uint64_t size)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		ck_assert_ptr_nonnull(l->v);
	}
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	l->v[l->n].path = strdup(path);
	snprintf(l->v[l->n].sha, sizeof(l->v[l->n].sha), "%s", sha);
	l->v[l->n].size = size;
	l->n++;
}

static void flist_free(struct flist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].data);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int fentry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fentry *)a)->path, ((const struct fentry *)b)->path);
}

/* Undo the manifest's escapes: \\ \t \n \r \xNN. */
static void unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case '\\': *o++ = '\\'; s++; break;
		case 't': *o++ = '\t'; s++; break;
		case 'n': *o++ = '\n'; s++; break;
		case 'r': *o++ = '\r'; s++; break;
		case 'x': {
			unsigned v;

			ck_assert_int_eq(sscanf(s + 1, "%2x", &v), 1);
			*o++ = (char)v;
			s += 3;
			break;
		}
		default:
			ck_abort_msg("bad escape in manifest");
		}
	}
	*o = '\0';
}

/* The manifest's regular files: path and sha256. */
static void load_manifest(const char *name, struct flist *l)
{
	char path[512], *line = NULL;
	size_t cap = 0;
	FILE *f;

	fixture_path(path, sizeof(path), name, ".manifest");
	f = fopen(path, "r");
	ck_assert_msg(f, "cannot open %s", path);
	while (getline(&line, &cap, f) > 0) {
		char *col[14], *p = line;
		unsigned n = 0;

		if (line[0] == '#')
			continue;
		line[strcspn(line, "\n")] = '\0';
		while (n < 14 && p) {
			col[n++] = p;
			p = strchr(p, '\t');
			if (p)
				*p++ = '\0';
		}
		ck_assert_uint_eq(n, 14);
		if (strcmp(col[1], "reg"))
			continue;
		unescape(col[0]);
		flist_add(l, col[0], col[11], strtoull(col[5], NULL, 10));
	}
	free(line);
	fclose(f);
	qsort(l->v, l->n, sizeof(*l->v), fentry_cmp);
}

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

/* Depth-first walk: every regular file is read whole and hashed. */
static void walk_dir(eshare_inode *dir, char *path, size_t plen, unsigned depth,
		     struct flist *got)
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
		if (S_ISDIR(st.mode)) {
			walk_dir(child, path, clen, depth + 1, got);
		} else if (S_ISREG(st.mode)) {
			uint8_t *data = read_whole(child, st.file_size);
			struct fentry *e;

			flist_add(got, path, "", st.file_size);
			e = &got->v[got->n - 1];
			sha256_hex(data, st.file_size, e->sha);
			e->nid = st.nid;
			e->layout = st.layout;
			e->data = data;
		}
		eshare_inode_put(child);
		free(nm.v[i]);
	}
	path[plen] = '\0';
	free(nm.v);
	free(nm.len);
}

static eshare_image *open_image(eshare_domain **d, const char *name)
{
	char path[512];
	eshare_image *img;

	fixture_path(path, sizeof(path), name, "");
	ck_assert_int_eq(eshare_domain_create(d, NULL), 0);
	ck_assert_int_eq(eshare_image_open_path(&img, *d, path, NULL), 0);
	return img;
}

static void close_image(eshare_domain *d, eshare_image *img)
{
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}

/* Read @e again in a cold cache: odd chunks at odd offsets, from the end. */
static void reread_odd(eshare_image *img, const struct fentry *e)
{
	static const size_t chunks[] = { 4099, 1, 777, 65537, 13, 4093 };
	uint8_t *buf = malloc(65537);
	eshare_inode *ino;
	uint64_t end = e->size;
	unsigned k = 0;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(eshare_lookup(&ino, img, e->path), 0);
	while (end) {
		size_t n = chunks[k++ % 6];
		uint64_t off = end > n ? end - n : 0;
		ssize_t got;

		n = (size_t)(end - off);
		got = eshare_pread(ino, buf, n, off);
		ck_assert_msg(got == (ssize_t)n, "%s: pread %zu at %llu gave %zd", e->path, n,
			      (unsigned long long)off, got);
		ck_assert_msg(!memcmp(buf, e->data + off, n), "%s: bytes at %llu differ", e->path,
			      (unsigned long long)off);
		end = off;
	}
	/* and one read across the whole file at an odd start */
	if (e->size > 3) {
		uint8_t *all = malloc(e->size);

		ck_assert_ptr_nonnull(all);
		ck_assert_int_eq(eshare_pread(ino, all, e->size - 3, 3), (ssize_t)(e->size - 3));
		ck_assert(!memcmp(all, e->data + 3, e->size - 3));
		free(all);
	}
	eshare_inode_put(ino);
	free(buf);
}

START_TEST(test_fixture_contents)
{
	const char *name = zfixtures[_i];
	struct flist want = { 0 }, got = { 0 };
	eshare_domain *d;
	eshare_image *img;
	eshare_inode *root;
	char *path = malloc(8192);
	size_t compressed = 0;

	ck_assert_ptr_nonnull(path);
	load_manifest(name, &want);
	ck_assert_uint_gt(want.n, 0);

	img = open_image(&d, name);
	ck_assert_int_eq(eshare_root(&root, img), 0);
	path[0] = '\0';
	walk_dir(root, path, 0, 0, &got);
	eshare_inode_put(root);
	close_image(d, img);

	qsort(got.v, got.n, sizeof(*got.v), fentry_cmp);
	ck_assert_msg(got.n == want.n, "%s: %zu regular files, manifest has %zu", name, got.n,
		      want.n);
	for (size_t i = 0; i < got.n; i++) {
		ck_assert_str_eq(got.v[i].path, want.v[i].path);
		ck_assert_msg(got.v[i].size == want.v[i].size, "%s:%s size", name, got.v[i].path);
		ck_assert_msg(!strcmp(got.v[i].sha, want.v[i].sha), "%s:%s sha256 %s, kernel %s",
			      name, got.v[i].path, got.v[i].sha, want.v[i].sha);
		if (got.v[i].layout == EROFS_INODE_COMPRESSED_FULL ||
		    got.v[i].layout == EROFS_INODE_COMPRESSED_COMPACT)
			compressed++;
	}
	/* Every fixture here has compressed files (all of them under big/). */
	ck_assert_msg(compressed >= 20, "%s: only %zu compressed files", name, compressed);

	img = open_image(&d, name);
	for (size_t i = 0; i < got.n; i++)
		if (got.v[i].size)
			reread_odd(img, &got.v[i]);
	close_image(d, img);

	flist_free(&want);
	flist_free(&got);
	free(path);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The format layer on a memory copy of an image                        */

struct memimg {
	uint8_t *data;
	size_t len;
	unsigned reports;
	uint64_t decoded;
	char last_report[256];
};

static int mem_read(void *ctx, unsigned dev, void *buf, size_t len, uint64_t off)
{
	struct memimg *m = ctx;

	if (dev || off > m->len || len > m->len - off)
		return -EIO;
	memcpy(buf, m->data + off, len);
	return 0;
}

static void mem_report(void *ctx, uint64_t nid, const char *why)
{
	struct memimg *m = ctx;

	(void)nid;
	m->reports++;
	snprintf(m->last_report, sizeof(m->last_report), "%s", why);
}

static void mem_count(void *ctx, uint64_t bytes)
{
	((struct memimg *)ctx)->decoded += bytes;
}

static struct ef_fs *mem_open(struct memimg *m)
{
	struct ef_io io = { .ctx = m, .read = mem_read, .report = mem_report,
			    .count_decompressed = mem_count };
	uint64_t size = m->len;
	struct ef_fs *fs;

	ck_assert_int_eq(ef_fs_open(&fs, &io, &size, 1), 0);
	return fs;
}

static void mem_load(struct memimg *m, const char *name)
{
	char path[512];

	memset(m, 0, sizeof(*m));
	fixture_path(path, sizeof(path), name, "");
	m->data = load_file(path, &m->len);
}

/* Resolve an absolute path with ef_lookup(). */
static int resolve(struct ef_fs *fs, const char *path, struct ef_inode *out)
{
	struct ef_inode cur;
	int rc = ef_iget(fs, fs->root_nid, &cur);

	while (!rc && *path) {
		size_t n;
		uint64_t nid;

		while (*path == '/')
			path++;
		n = strcspn(path, "/");
		if (!n)
			break;
		rc = ef_lookup(fs, &cur, path, n, &nid);
		if (!rc)
			rc = ef_iget(fs, nid, &cur);
		path += n;
	}
	if (!rc)
		*out = cur;
	return rc;
}

static uint64_t header_pos(const struct ef_inode *ino)
{
	return (ef_inode_datapos(ino) + 7) & ~7ull;
}

/* Decode the whole of @ino through ef_map()/ef_decode_extent(). */
static int decode_file(struct ef_fs *fs, struct ef_inode *ino, uint8_t *out)
{
	struct ef_scratch s = { 0 };
	uint64_t pos = 0;
	int rc = 0;

	while (!rc && pos < ino->size) {
		struct ef_map m;
		uint8_t *tmp;

		rc = ef_map(fs, ino, pos, &m);
		if (rc)
			break;
		ck_assert(m.la <= pos && pos < m.la + m.llen && m.la + m.llen <= ino->size);
		tmp = malloc(m.llen);
		ck_assert_ptr_nonnull(tmp);
		if (m.flags & EF_MAP_MAPPED)
			rc = ef_decode_extent(fs, ino, &m, tmp, &s);
		else
			memset(tmp, 0, m.llen);
		if (!rc)
			memcpy(out + pos, tmp + (pos - m.la), m.la + m.llen - pos);
		free(tmp);
		pos = m.la + m.llen;
	}
	ef_scratch_free(&s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* 2. extents against dump.erofs                                        */

static bool have_dump(void)
{
	return !system("dump.erofs -V >/dev/null 2>&1");
}

START_TEST(test_extents_vs_dump)
{
	const char *name = dump_fixtures[_i];
	struct flist files = { 0 };
	eshare_domain *d;
	eshare_image *img;
	eshare_inode *root;
	struct memimg mi;
	struct ef_fs *fs;
	char *path = malloc(8192), imgpath[512];
	unsigned checked = 0, extents = 0;
	uint64_t last_nid = ~0ull;

	if (!have_dump()) {
		fprintf(stderr, "dump.erofs not installed: extents not compared\n");
		free(path);
		return;
	}
	img = open_image(&d, name);
	ck_assert_int_eq(eshare_root(&root, img), 0);
	path[0] = '\0';
	walk_dir(root, path, 0, 0, &files);
	eshare_inode_put(root);
	close_image(d, img);

	fixture_path(imgpath, sizeof(imgpath), name, "");
	mem_load(&mi, name);
	fs = mem_open(&mi);
	/* by nid, so hard links are compared once */
	for (size_t i = 0; i < files.n; i++) {
		const struct fentry *e = &files.v[i];
		struct ef_inode ino;
		char cmd[700], line[512];
		uint64_t pos = 0;
		unsigned k = 0;
		FILE *p;

		if ((e->layout != EROFS_INODE_COMPRESSED_FULL &&
		     e->layout != EROFS_INODE_COMPRESSED_COMPACT) || e->nid == last_nid)
			continue;
		last_nid = e->nid;
		ck_assert_int_eq(ef_iget(fs, e->nid, &ino), 0);
		snprintf(cmd, sizeof(cmd), "dump.erofs -e --nid=%llu '%s' 2>&1",
			 (unsigned long long)e->nid, imgpath);
		p = popen(cmd, "r");
		ck_assert_ptr_nonnull(p);
		while (fgets(line, sizeof(line), p)) {
			unsigned long long la, lend, llen, pa, pend, plen;
			struct ef_map m;

			if (sscanf(line, " %*u: %llu.. %llu | %llu : %llu.. %llu | %llu", &la,
				   &lend, &llen, &pa, &pend, &plen) != 6)
				continue;
			ck_assert_msg(pos < ino.size, "%s nid %llu: dump has more extents", name,
				      (unsigned long long)e->nid);
			ck_assert_int_eq(ef_map(fs, &ino, pos, &m), 0);
			ck_assert_msg(m.la == la && m.llen == llen && m.pa == pa && m.plen == plen,
				      "%s nid %llu extent %u: ours %llu+%llu @%llu+%llu, "
				      "dump %llu+%llu @%llu+%llu", name,
				      (unsigned long long)e->nid, k, (unsigned long long)m.la,
				      (unsigned long long)m.llen, (unsigned long long)m.pa,
				      (unsigned long long)m.plen, la, llen, pa, plen);
			ck_assert(m.flags & EF_MAP_MAPPED);
			pos = m.la + m.llen;
			k++;
		}
		ck_assert_int_eq(pclose(p), 0);
		ck_assert_msg(k > 0 && pos == ino.size,
			      "%s nid %llu: %u extents cover %llu of %llu", name,
			      (unsigned long long)e->nid, k, (unsigned long long)pos,
			      (unsigned long long)ino.size);
		checked++;
		extents += k;
	}
	ck_assert_uint_ge(checked, 20);
	ck_assert_uint_ge(extents, checked);
	ef_fs_close(fs);
	free(mi.data);
	flist_free(&files);
	free(path);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 3. damaged images                                                    */

/* Where entry @lcn of a compact index lives (FORMAT.md section 4). */
struct cpos {
	uint64_t packpos;
	unsigned packsz, vcnt, i, lobits, encodebits;
};

static struct cpos compact_pos(const struct ef_fs *fs, const struct ef_inode *ino, uint64_t lcn)
{
	const uint64_t ebase = header_pos(ino) + 8;
	const uint64_t total = (ino->size + fs->blksz - 1) >> fs->blkszbits;
	uint64_t n4i = ((32 - ebase % 32) / 4) & 7, n2 = 0, pos = ebase, rel = lcn;
	unsigned shift = 2;
	struct cpos c;

	if ((ino->z.advise & Z_EROFS_ADVISE_COMPACTED_2B) && n4i < total)
		n2 = (total - n4i) & ~15ull;
	if (rel >= n4i) {
		pos += n4i * 4;
		rel -= n4i;
		if (rel < n2) {
			shift = 1;
		} else {
			pos += n2 * 2;
			rel -= n2;
		}
	}
	pos += rel << shift;
	c.vcnt = shift == 2 ? 2 : 16;
	c.packsz = c.vcnt << shift;
	c.packpos = pos & ~(uint64_t)(c.packsz - 1);
	c.i = (unsigned)((pos - c.packpos) >> shift);
	c.lobits = ino->z.lclusterbits > 12 ? ino->z.lclusterbits : 12;
	c.encodebits = (c.packsz * 8 - 32) / c.vcnt;
	return c;
}

static void compact_get(const struct memimg *m, const struct cpos *c, unsigned i, unsigned *lo,
			unsigned *type)
{
	unsigned bit = c->encodebits * i;
	uint32_t v = ef_le32(m->data + c->packpos + bit / 8) >> (bit & 7);

	*lo = v & ((1u << c->lobits) - 1);
	*type = (v >> c->lobits) & 3;
}

static void compact_set(struct memimg *m, const struct cpos *c, unsigned i, unsigned lo,
			unsigned type)
{
	unsigned bit = c->encodebits * i, nbits = c->lobits + 2;
	uint32_t v = (type << c->lobits) | lo;

	for (unsigned b = 0; b < nbits; b++) {
		uint8_t *byte = m->data + c->packpos + (bit + b) / 8;
		unsigned sh = (bit + b) & 7;

		*byte = (uint8_t)((*byte & ~(1u << sh)) | (((v >> b) & 1u) << sh));
	}
}

/* A fresh copy of fixture @name, its fs, and the inode at @path. */
struct damage {
	struct memimg m;
	struct ef_fs *fs;
	struct ef_inode ino;
};

static void damage_open(struct damage *dm, const char *name, const char *path)
{
	mem_load(&dm->m, name);
	dm->fs = mem_open(&dm->m);
	ck_assert_int_eq(resolve(dm->fs, path, &dm->ino), 0);
	ck_assert(ef_inode_is_compressed(&dm->ino));
}

/* Reopen after the bytes changed: iget's result is returned. */
static int damage_reload(struct damage *dm, const char *path)
{
	ef_fs_close(dm->fs);
	dm->fs = mem_open(&dm->m);
	return resolve(dm->fs, path, &dm->ino);
}

static void damage_close(struct damage *dm)
{
	ef_fs_close(dm->fs);
	free(dm->m.data);
}

static int map_at(struct damage *dm, uint64_t pos)
{
	struct ef_map m;

	return ef_map(dm->fs, &dm->ino, pos, &m);
}

static int decode_at(struct damage *dm, uint64_t pos)
{
	struct ef_scratch s = { 0 };
	struct ef_map m;
	uint8_t *out;
	int rc = ef_map(dm->fs, &dm->ino, pos, &m);

	if (rc)
		return rc;
	out = malloc(m.llen);
	ck_assert_ptr_nonnull(out);
	rc = ef_decode_extent(dm->fs, &dm->ino, &m, out, &s);
	free(out);
	ef_scratch_free(&s);
	return rc;
}

#define TEXT0 "/big/text-0.bin"

/*
 * lz4.erofs /big/text-0.bin (98304 bytes, compact 2B indexes, dump.erofs):
 * extents [0, 22386) @61440, [22386, 46041) @65536, ... so lcn 0 is a HEAD,
 * lcns 1-4 NONHEADs, lcn 5 a HEAD with clusterofs 1906.
 */
START_TEST(test_damage_lookback)
{
	struct damage dm;
	struct cpos c;
	unsigned lo, type, lcn;

	damage_open(&dm, "lz4", TEXT0);
	ck_assert_uint_eq(dm.ino.layout, EROFS_INODE_COMPRESSED_COMPACT);
	ck_assert_int_eq(map_at(&dm, 3 * 4096), 0);
	/* a NONHEAD that is not the last of its pack stores delta0 itself */
	for (lcn = 2; lcn <= 4; lcn++) {
		c = compact_pos(dm.fs, &dm.ino, lcn);
		if (c.i + 1 != c.vcnt)
			break;
	}
	ck_assert_uint_le(lcn, 4);
	compact_get(&dm.m, &c, c.i, &lo, &type);
	ck_assert_uint_eq(type, 2);
	ck_assert_uint_eq(lo, lcn); /* its head is lcn 0 */

	compact_set(&dm.m, &c, c.i, lcn + 7, 2); /* back past lcn 0 */
	ck_assert_int_eq(map_at(&dm, lcn * 4096ull + 5), -EFSCORRUPTED);
	compact_set(&dm.m, &c, c.i, 0, 2); /* no progress */
	ck_assert_int_eq(map_at(&dm, lcn * 4096ull + 5), -EFSCORRUPTED);
	compact_set(&dm.m, &c, c.i, 0x800 | 1, 2); /* CBLKCNT, no big pcluster */
	ck_assert_int_eq(map_at(&dm, lcn * 4096ull + 5), -EFSCORRUPTED);
	ck_assert_uint_gt(dm.m.reports, 0);
	compact_set(&dm.m, &c, c.i, lcn, 2);
	ck_assert_int_eq(map_at(&dm, lcn * 4096ull + 5), 0);

	/* lcluster 0 cannot start after its own clusterofs */
	c = compact_pos(dm.fs, &dm.ino, 0);
	compact_get(&dm.m, &c, c.i, &lo, &type);
	ck_assert_uint_eq(type, 1);
	ck_assert_uint_eq(lo, 0);
	compact_set(&dm.m, &c, c.i, 100, 1);
	ck_assert_int_eq(map_at(&dm, 10), -EFSCORRUPTED);
	ck_assert_int_eq(map_at(&dm, 100), 0);
	damage_close(&dm);
}
END_TEST

/*
 * lz4hc-pcluster64k.erofs /big/text-0.bin: one extent of 98304 bytes in a
 * 3-block pcluster (dump.erofs), so lcn 1 carries CBLKCNT 3.
 */
START_TEST(test_damage_cblkcnt)
{
	struct damage dm;
	struct cpos c;
	struct ef_map m;
	unsigned lo, type;

	damage_open(&dm, "lz4hc-pcluster64k", TEXT0);
	ck_assert_int_eq(ef_map(dm.fs, &dm.ino, 50000, &m), 0);
	ck_assert_uint_eq(m.plen, 12288);
	ck_assert_uint_eq(m.llen, 98304);
	c = compact_pos(dm.fs, &dm.ino, 1);
	compact_get(&dm.m, &c, c.i, &lo, &type);
	ck_assert_uint_eq(type, 2);
	ck_assert_uint_eq(lo, 0x800 | 3);

	compact_set(&dm.m, &c, c.i, 0x800 | 0x7ff, 2); /* 2047 blocks: 8 MiB > 1 MiB */
	ck_assert_int_eq(map_at(&dm, 0), -EOPNOTSUPP);
	compact_set(&dm.m, &c, c.i, 0x800, 2); /* zero blocks */
	ck_assert_int_eq(map_at(&dm, 0), -EFSCORRUPTED);
	compact_set(&dm.m, &c, c.i, 1, 2); /* NONHEAD after a big head without CBLKCNT */
	ck_assert_int_eq(map_at(&dm, 0), -EFSCORRUPTED);
	compact_set(&dm.m, &c, c.i, 0x800 | 3, 2);
	ck_assert_int_eq(decode_at(&dm, 0), 0);

	/* compact indexes need BIG_PCLUSTER_1 == BIG_PCLUSTER_2 */
	{
		uint64_t h = header_pos(&dm.ino);
		uint16_t adv = ef_le16(dm.m.data + h + 4);

		ck_assert(adv & Z_EROFS_ADVISE_BIG_PCLUSTER_1);
		adv &= (uint16_t)~Z_EROFS_ADVISE_BIG_PCLUSTER_2;
		dm.m.data[h + 4] = (uint8_t)adv;
		dm.m.data[h + 5] = (uint8_t)(adv >> 8);
		ck_assert_int_eq(damage_reload(&dm, TEXT0), -EFSCORRUPTED);
	}
	damage_close(&dm);
}
END_TEST

START_TEST(test_damage_header)
{
	struct damage dm;
	uint64_t h;
	uint8_t save[8];

	damage_open(&dm, "lz4", TEXT0);
	h = header_pos(&dm.ino);
	memcpy(save, dm.m.data + h, 8);
	/* lz4.erofs has no COMPR_CFGS: big pclusters are not allowed */
	ck_assert(!(dm.fs->feature_incompat & EROFS_INCOMPAT_COMPR_CFGS));
	dm.m.data[h + 4] |= Z_EROFS_ADVISE_BIG_PCLUSTER_1 | Z_EROFS_ADVISE_BIG_PCLUSTER_2;
	ck_assert_int_eq(damage_reload(&dm, TEXT0), -EFSCORRUPTED);
	memcpy(dm.m.data + h, save, 8);
	/* algorithm nibble 5: unknown */
	dm.m.data[h + 6] = 0x05;
	ck_assert_int_eq(damage_reload(&dm, TEXT0), -EOPNOTSUPP);
	dm.m.data[h + 6] = 0x50;
	ck_assert_int_eq(damage_reload(&dm, TEXT0), -EOPNOTSUPP);
	memcpy(dm.m.data + h, save, 8);
	/* whole-file fragment without the fragments feature */
	dm.m.data[h + 7] |= 0x80;
	ck_assert_int_eq(damage_reload(&dm, TEXT0), -EFSCORRUPTED);
	memcpy(dm.m.data + h, save, 8);
	ck_assert_int_eq(damage_reload(&dm, TEXT0), 0);
	damage_close(&dm);

	/* lzma.erofs enables only LZMA: a zstd head is corrupt */
	damage_open(&dm, "lzma", TEXT0);
	h = header_pos(&dm.ino);
	ck_assert_uint_eq(dm.m.data[h + 6] & 15, Z_EROFS_COMPRESSION_LZMA);
	dm.m.data[h + 6] = (uint8_t)((dm.m.data[h + 6] & 0xf0) | Z_EROFS_COMPRESSION_ZSTD);
	ck_assert_int_eq(damage_reload(&dm, TEXT0), 0);
	ck_assert_int_eq(map_at(&dm, 0), -EFSCORRUPTED);
	damage_close(&dm);
}
END_TEST

/* Overwrite the first bytes of the stream of the extent at 0 with @fill. */
static void break_stream(struct damage *dm, uint8_t fill, size_t n, bool whole)
{
	struct ef_map m;
	size_t skip = 0;

	ck_assert_int_eq(ef_map(dm->fs, &dm->ino, 0, &m), 0);
	ck_assert(!(m.flags & EF_MAP_META));
	ck_assert_uint_le(m.pa + m.plen, dm->m.len);
	if (whole) {
		memset(dm->m.data + m.pa, fill, m.plen);
		return;
	}
	while (skip < m.plen && !dm->m.data[m.pa + skip])
		skip++;
	ck_assert_uint_lt(skip + n, m.plen);
	memset(dm->m.data + m.pa + skip, fill, n);
}

START_TEST(test_damage_streams)
{
	static const struct {
		const char *name;
		uint8_t fill;
		size_t n;
	} cases[] = {
		/* lz4: tokens 0xff ask for literal runs beyond the input */
		{ "lz4", 0xff, 64 },
		/* lzma: properties byte ~0x01 = 0xfe, out of range */
		{ "lzma", 0x01, 1 },
		/* deflate: BTYPE 11 is reserved */
		{ "deflate", 0x07, 1 },
		/* zstd: not the frame magic */
		{ "zstd", 0x11, 4 },
	};
	struct damage dm;

	for (unsigned i = 0; i < 4; i++) {
		damage_open(&dm, cases[i].name, TEXT0);
		ck_assert_int_eq(decode_at(&dm, 0), 0);
		break_stream(&dm, cases[i].fill, cases[i].n, false);
		ck_assert_msg(decode_at(&dm, 0) == -EFSCORRUPTED, "%s", cases[i].name);
		/* an all-zero pcluster has no stream at all */
		break_stream(&dm, 0, 0, true);
		ck_assert_msg(decode_at(&dm, 0) == -EFSCORRUPTED, "%s zeros", cases[i].name);
		damage_close(&dm);
	}
	/* a stream that is cut short (its start turned into padding) */
	damage_open(&dm, "lz4", TEXT0);
	break_stream(&dm, 0, 200, false);
	ck_assert_int_eq(decode_at(&dm, 0), -EFSCORRUPTED);
	damage_close(&dm);
}
END_TEST

START_TEST(test_damage_tails)
{
	struct damage dm;
	struct ef_map m;
	uint64_t h;

	/* ztailpacking: dump.erofs says the tail is 2919 bytes at 73832 */
	damage_open(&dm, "ztailpacking", TEXT0);
	ck_assert_int_eq(ef_map(dm.fs, &dm.ino, 98303, &m), 0);
	ck_assert(m.flags & EF_MAP_META);
	ck_assert_uint_eq(m.pa, 73832);
	ck_assert_uint_eq(m.plen, 2919);
	ck_assert_int_eq(decode_at(&dm, 98303), 0);
	h = header_pos(&dm.ino);
	ck_assert_uint_eq(ef_le16(dm.m.data + h + 2), 2919);
	dm.m.data[h + 2] = 4000 & 0xff; /* 104 + 4000 crosses the block */
	dm.m.data[h + 3] = 4000 >> 8;
	ck_assert_int_eq(damage_reload(&dm, TEXT0), -EFSCORRUPTED);
	damage_close(&dm);

	/* fragments: the tail's offset past the packed inode's end */
	damage_open(&dm, "fragments", TEXT0);
	ck_assert(dm.ino.z.advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER);
	ck_assert_int_eq(ef_map(dm.fs, &dm.ino, 98303, &m), 0);
	ck_assert(m.flags & EF_MAP_FRAGMENT);
	ck_assert_int_eq(decode_at(&dm, 98303), 0);
	h = header_pos(&dm.ino);
	memset(dm.m.data + h, 0xf0, 4);
	ck_assert_int_eq(damage_reload(&dm, TEXT0), 0);
	ck_assert_int_eq(decode_at(&dm, 98303), -EFSCORRUPTED);
	damage_close(&dm);

	/* all-fragments: whole files; none may live in the packed inode itself */
	damage_open(&dm, "all-fragments", TEXT0);
	ck_assert(dm.ino.z.whole_fragment);
	ck_assert_int_eq(ef_map(dm.fs, &dm.ino, 0, &m), 0);
	ck_assert_uint_eq(m.la, 0);
	ck_assert_uint_eq(m.llen, 98304);
	ck_assert(m.flags & EF_MAP_FRAGMENT);
	{
		struct ef_inode self = dm.ino;
		struct ef_scratch s = { 0 };
		uint8_t b[16];

		self.nid = dm.fs->packed_nid;
		ck_assert_int_eq(ef_map(dm.fs, &self, 0, &m), -EFSCORRUPTED);
		ck_assert_int_eq(ef_map(dm.fs, &dm.ino, 0, &m), 0);
		m.llen = sizeof(b);
		ck_assert_int_eq(ef_decode_extent(dm.fs, &self, &m, b, &s), -EFSCORRUPTED);
		ef_scratch_free(&s);
	}
	damage_close(&dm);
}
END_TEST

/*
 * 48bit.erofs /big/text-0.bin: FULL layout with EXTENTS advise, recsz 4
 * (FORMAT.md section 13): a le64 base then one le32 plen per 4 KiB.
 */
START_TEST(test_damage_extents)
{
	struct damage dm;
	struct ef_map m;
	uint64_t rec;
	uint32_t plen;

	damage_open(&dm, "48bit", TEXT0);
	ck_assert_uint_eq(dm.ino.layout, EROFS_INODE_COMPRESSED_FULL);
	ck_assert_uint_eq(dm.ino.z.recsz, 4);
	rec = ((header_pos(&dm.ino) + 8 + 3) & ~3ull) + 8;
	plen = ef_le32(dm.m.data + rec);
	ck_assert_uint_eq(plen >> 28, 1 + Z_EROFS_COMPRESSION_ZSTD);
	ck_assert_int_eq(ef_map(dm.fs, &dm.ino, 0, &m), 0);
	ck_assert_uint_eq(m.la, 0);
	ck_assert_uint_eq(m.llen, 4096);
	ck_assert_uint_eq(m.plen, plen & ((1u << 21) - 1));
	ck_assert_int_eq(decode_at(&dm, 0), 0);

	/* format 15: algorithm 14 does not exist */
	dm.m.data[rec + 3] = 0xf0;
	ck_assert_int_eq(map_at(&dm, 0), -EOPNOTSUPP);
	/* LZ4 is not enabled in this image */
	dm.m.data[rec + 3] = 0x10;
	ck_assert_int_eq(map_at(&dm, 0), -EFSCORRUPTED);
	/* a 2 MiB - 1 pcluster */
	dm.m.data[rec] = 0xff;
	dm.m.data[rec + 1] = 0xff;
	dm.m.data[rec + 2] = 0x1f;
	dm.m.data[rec + 3] = 0x40;
	ck_assert_int_eq(map_at(&dm, 0), -EOPNOTSUPP);
	/* uncompressed, but shorter than the extent */
	dm.m.data[rec] = 100;
	dm.m.data[rec + 1] = 0;
	dm.m.data[rec + 2] = 0;
	dm.m.data[rec + 3] = 0;
	ck_assert_int_eq(map_at(&dm, 0), -EFSCORRUPTED);
	/* masked length 0: a hole */
	dm.m.data[rec] = 0;
	ck_assert_int_eq(ef_map(dm.fs, &dm.ino, 5, &m), 0);
	ck_assert(!(m.flags & EF_MAP_MAPPED));
	ck_assert_uint_eq(m.la, 0);
	ck_assert_uint_eq(m.llen, 4096);
	damage_close(&dm);
}
END_TEST

/* Dedupe shares pclusters: some extents use only a prefix of theirs. */
START_TEST(test_dedupe_partial)
{
	struct memimg mi;
	struct ef_fs *fs;
	struct flist files = { 0 };
	eshare_domain *d;
	eshare_image *img;
	eshare_inode *root;
	char *path = malloc(8192);
	unsigned partial = 0, full_layout = 0;

	img = open_image(&d, "dedupe");
	ck_assert_int_eq(eshare_root(&root, img), 0);
	path[0] = '\0';
	walk_dir(root, path, 0, 0, &files);
	eshare_inode_put(root);
	close_image(d, img);

	mem_load(&mi, "dedupe");
	fs = mem_open(&mi);
	for (size_t i = 0; i < files.n; i++) {
		struct ef_inode ino;
		uint8_t *buf;
		uint64_t pos = 0;

		if (files.v[i].layout != EROFS_INODE_COMPRESSED_FULL &&
		    files.v[i].layout != EROFS_INODE_COMPRESSED_COMPACT)
			continue;
		ck_assert_int_eq(ef_iget(fs, files.v[i].nid, &ino), 0);
		full_layout += ino.layout == EROFS_INODE_COMPRESSED_FULL;
		while (pos < ino.size) {
			struct ef_map m;

			ck_assert_int_eq(ef_map(fs, &ino, pos, &m), 0);
			partial += !!(m.flags & EF_MAP_PARTIAL);
			pos = m.la + m.llen;
		}
		/* the format layer alone, no cache, gives the same bytes */
		buf = malloc(ino.size);
		ck_assert_ptr_nonnull(buf);
		ck_assert_int_eq(decode_file(fs, &ino, buf), 0);
		ck_assert(!memcmp(buf, files.v[i].data, ino.size));
		free(buf);
	}
	ck_assert_uint_gt(partial, 0);
	ck_assert_uint_gt(full_layout, 0);
	ck_assert_uint_gt(mi.decoded, 0);
	ef_fs_close(fs);
	free(mi.data);
	flist_free(&files);
	free(path);
}
END_TEST

/*
 * Seeded random damage to the map header, the indexes and the pclusters of
 * the compressed files under /big: whatever the bytes, mapping and decoding
 * the whole file must end with success or a bad-image errno (under ASan in
 * the sanitizer build: no out-of-bounds access, no leak, no hang).
 */
static const char *const fuzz_fixtures[] = {
	"lz4", "lz4hc-pcluster64k", "lzma", "deflate", "zstd", "ztailpacking", "fragments",
	"dedupe", "48bit",
};
static const char *const fuzz_paths[] = {
	"/big/mixed-1.bin", "/big/rand-2.bin", "/big/rand-then-text", "/big/repetitive.txt",
	"/big/text-0.bin", "/big/text-then-rand",
};
#define FUZZ_SEEDS 600u

static bool bad_image_errno(int rc)
{
	return !rc || rc == -EFSCORRUPTED || rc == -EIO || rc == -EOPNOTSUPP;
}

START_TEST(test_fuzz_zdata)
{
	const char *name = fuzz_fixtures[_i];
	struct memimg mi;
	struct ef_fs *fs;
	uint64_t cases = 0, failed = 0, ok = 0;

	mem_load(&mi, name);
	fs = mem_open(&mi);
	for (unsigned f = 0; f < sizeof(fuzz_paths) / sizeof(fuzz_paths[0]); f++) {
		struct ef_inode ino;
		struct ef_map first;
		uint64_t nid, h, span, nlcl;
		uint8_t *out;
		uint32_t x = 2654435761u * (f + 1) + _i;

		ck_assert_int_eq(resolve(fs, fuzz_paths[f], &ino), 0);
		if (!ef_inode_is_compressed(&ino) || ino.z.whole_fragment)
			continue;
		nid = ino.nid;
		h = header_pos(&ino);
		/* the header and a generous bound on the index array after it */
		nlcl = (ino.size >> fs->blkszbits) + 2;
		span = 8 + 16 + 8 * nlcl + 64;
		if (h + span > mi.len)
			span = mi.len - h;
		ck_assert_int_eq(ef_map(fs, &ino, 0, &first), 0);
		out = malloc(ino.size);
		ck_assert_ptr_nonnull(out);
		for (unsigned seed = 0; seed < FUZZ_SEEDS; seed++) {
			uint64_t at[4];
			uint8_t old[4];
			unsigned n;
			int rc;

			x = x * 1103515245u + 12345u;
			n = 1 + (x >> 16) % 4;
			for (unsigned k = 0; k < n; k++) {
				x = x * 1103515245u + 12345u;
				/* every 4th case hits the first pcluster instead */
				if ((seed & 3) == 3 && (first.flags & EF_MAP_MAPPED) &&
				    !(first.flags & (EF_MAP_FRAGMENT | EF_MAP_META)) &&
				    first.pa + first.plen <= mi.len)
					at[k] = first.pa + (x >> 8) % first.plen;
				else
					at[k] = h + (x >> 8) % span;
				old[k] = mi.data[at[k]];
				x = x * 1103515245u + 12345u;
				mi.data[at[k]] ^= (uint8_t)(1u + (x >> 16) % 255);
			}
			rc = ef_iget(fs, nid, &ino);
			if (!rc)
				rc = decode_file(fs, &ino, out);
			ok += !rc;
			if (!bad_image_errno(rc)) {
				failed++;
				fprintf(stderr, "%s %s seed %u: %d\n", name, fuzz_paths[f], seed,
					rc);
			}
			cases++;
			while (n--)
				mi.data[at[n]] = old[n];
		}
		/* a file that claims to be far bigger than its indexes */
		ck_assert_int_eq(ef_iget(fs, nid, &ino), 0);
		{
			const uint64_t big = ino.extended ? (1ull << 40) + 77 : 0xfffffff1ull;
			const size_t w = ino.extended ? 8 : 4;
			uint8_t save[8];

			memcpy(save, mi.data + ino.iloc + 8, w);
			for (size_t k = 0; k < w; k++)
				mi.data[ino.iloc + 8 + k] = (uint8_t)(big >> (8 * k));
			if (!ef_iget(fs, nid, &ino)) {
				const uint64_t probe[] = { 0, 70000, big / 2, big - 1 };

				for (unsigned k = 0; k < 4; k++) {
					struct ef_map m;
					int rc = ef_map(fs, &ino, probe[k], &m);

					ck_assert_msg(bad_image_errno(rc), "%s size: %d", name, rc);
					cases++;
				}
			}
			memcpy(mi.data + ino.iloc + 8, save, w);
		}
		free(out);
	}
	fprintf(stderr, "fuzz %s: %llu cases, %llu decoded, %u corruption reports\n", name,
		(unsigned long long)cases, (unsigned long long)ok, mi.reports);
	ck_assert_uint_gt(cases, 0);
	ck_assert_uint_eq(failed, 0);
	ef_fs_close(fs);
	free(mi.data);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 4. decoders on streams made here                                     */

#define SYN_N 49157u /* decoded size: odd, > 12 blocks */
#define SYN_PA 8192u

struct syn {
	struct memimg m;
	struct ef_device dev;
	struct ef_fs fs;
	struct ef_inode ino;
	uint8_t *src;
};

static void syn_text(uint8_t *p, size_t n)
{
	static const char *const words[] = { "erofs ", "page ", "cache ", "shared ", "the ",
					     "of ", "compressed ", "block ", "\n", "extent " };
	uint32_t x = 12345;
	size_t o = 0;

	while (o < n) {
		const char *w;
		size_t l;

		x = x * 1103515245u + 12345u;
		w = words[(x >> 16) % 10];
		l = strlen(w);
		if (l > n - o)
			l = n - o;
		memcpy(p + o, w, l);
		o += l;
	}
}

static void syn_init(struct syn *s, bool zeropad)
{
	memset(s, 0, sizeof(*s));
	s->m.len = 4u << 20;
	s->m.data = calloc(1, s->m.len);
	s->src = malloc(SYN_N);
	ck_assert(s->m.data && s->src);
	syn_text(s->src, SYN_N);
	s->dev.size = s->m.len;
	s->fs.io = (struct ef_io){ .ctx = &s->m, .read = mem_read, .report = mem_report,
				   .count_decompressed = mem_count };
	s->fs.blkszbits = 12;
	s->fs.blksz = 4096;
	s->fs.feature_incompat = EROFS_INCOMPAT_COMPR_CFGS;
	if (zeropad)
		s->fs.feature_incompat |= EROFS_INCOMPAT_LZ4_0PADDING;
	s->fs.available_compr_algs = 0xf;
	s->fs.cfg.lzma_dict_size = 1u << 20;
	s->fs.devices = &s->dev;
	s->ino.nid = 42;
	s->ino.size = SYN_N;
	s->ino.layout = EROFS_INODE_COMPRESSED_FULL;
}

static void syn_free(struct syn *s)
{
	free(s->m.data);
	free(s->src);
}

/* Place @c (@clen bytes) right-aligned in a block-aligned pcluster at SYN_PA. */
static uint64_t syn_place(struct syn *s, const void *c, size_t clen, bool right)
{
	uint64_t plen = (clen + 4095) & ~4095ull;

	memset(s->m.data + SYN_PA, 0, plen);
	memcpy(s->m.data + SYN_PA + (right ? plen - clen : 0), c, clen);
	return plen;
}

static int syn_decode(struct syn *s, unsigned alg, uint64_t plen, uint64_t llen, unsigned flags,
		      uint8_t *out, struct ef_scratch *sc)
{
	struct ef_map m = { .la = 0, .llen = llen, .pa = SYN_PA, .plen = plen,
			    .flags = EF_MAP_MAPPED | EF_MAP_ENCODED | flags, .alg = alg };

	return ef_decode_extent(&s->fs, &s->ino, &m, out, sc);
}

/* Full, prefix, short, long and broken decodes of one compressed stream. */
static void check_codec(struct syn *s, unsigned alg, uint8_t *c, size_t clen)
{
	struct ef_scratch sc = { 0 };
	uint8_t *out = malloc(SYN_N + 1);
	uint64_t plen = syn_place(s, c, clen, true);
	const uint64_t prefix = SYN_N / 3 + 7;
	size_t first = plen - clen;

	ck_assert_ptr_nonnull(out);
	s->m.decoded = 0;
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N, EF_MAP_FULL, out, &sc), 0);
	ck_assert(!memcmp(out, s->src, SYN_N));
	ck_assert_uint_eq(s->m.decoded, SYN_N);
	/* again, with the decoder state reused */
	memset(out, 0, SYN_N);
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N, EF_MAP_FULL, out, &sc), 0);
	ck_assert(!memcmp(out, s->src, SYN_N));
	/* a partially referenced pcluster: only a prefix is this extent's */
	memset(out, 0, SYN_N);
	ck_assert_int_eq(syn_decode(s, alg, plen, prefix, EF_MAP_PARTIAL, out, &sc), 0);
	ck_assert(!memcmp(out, s->src, prefix));
	/* exact output: one byte short or long is a lie */
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N - 1, EF_MAP_FULL, out, &sc),
			 -EFSCORRUPTED);
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N + 1, EF_MAP_FULL, out, &sc),
			 -EFSCORRUPTED);
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N + 1, EF_MAP_PARTIAL, out, &sc),
			 -EFSCORRUPTED);
	/* the stream cut short: its first half becomes padding */
	memset(s->m.data + SYN_PA + first, 0, clen / 2);
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N, EF_MAP_FULL, out, &sc), -EFSCORRUPTED);
	ck_assert_int_eq(syn_decode(s, alg, plen, prefix, EF_MAP_PARTIAL, out, &sc),
			 -EFSCORRUPTED);
	/* nothing but zeros */
	memset(s->m.data + SYN_PA, 0, plen);
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N, EF_MAP_FULL, out, &sc), -EFSCORRUPTED);
	ef_scratch_free(&sc);
	ef_scratch_free(&sc); /* twice is harmless */
	free(out);
}

START_TEST(test_codec_lz4)
{
#ifdef T_LZ4
	if (!ef_alg_supported(Z_EROFS_COMPRESSION_LZ4))
		return;
	struct syn s;
	int cap = LZ4_compressBound(SYN_N), clen;
	uint8_t *c = malloc((size_t)cap), *out = malloc(SYN_N);
	struct ef_scratch sc = { 0 };
	uint64_t plen;

	syn_init(&s, true);
	clen = LZ4_compress_default((const char *)s.src, (char *)c, SYN_N, cap);
	ck_assert_int_gt(clen, 0);
	check_codec(&s, Z_EROFS_COMPRESSION_LZ4, c, (size_t)clen);

	/* legacy images: no 0padding, the stream starts at byte 0 */
	s.fs.feature_incompat = EROFS_INCOMPAT_COMPR_CFGS;
	plen = syn_place(&s, c, (size_t)clen, false);
	ck_assert_int_eq(syn_decode(&s, Z_EROFS_COMPRESSION_LZ4, plen, SYN_N, EF_MAP_FULL, out,
				    &sc), 0);
	ck_assert(!memcmp(out, s.src, SYN_N));
	/*
	 * (The true end of a legacy stream is unknown: the zeros after it
	 * parse as more LZ4 sequences, so a longer llen is not detectable.)
	 */
	ck_assert_int_eq(syn_decode(&s, Z_EROFS_COMPRESSION_LZ4, plen, 3000, EF_MAP_FULL, out,
				    &sc), 0);
	ck_assert(!memcmp(out, s.src, 3000));
	ef_scratch_free(&sc);
	syn_free(&s);
	free(c);
	free(out);
#endif
}
END_TEST

START_TEST(test_codec_lzma)
{
#ifdef T_LZMA
	if (!ef_alg_supported(Z_EROFS_COMPRESSION_LZMA))
		return;
	struct syn s;
	lzma_stream strm = LZMA_STREAM_INIT;
	lzma_options_lzma opt;
	size_t cap = SYN_N + 4096;
	uint8_t *c = malloc(cap);

	syn_init(&s, true);
	ck_assert(!lzma_lzma_preset(&opt, 6));
	opt.dict_size = 1u << 16;
	ck_assert_int_eq(lzma_microlzma_encoder(&strm, &opt), LZMA_OK);
	strm.next_in = s.src;
	strm.avail_in = SYN_N;
	strm.next_out = c;
	strm.avail_out = cap;
	ck_assert_int_eq(lzma_code(&strm, LZMA_FINISH), LZMA_STREAM_END);
	ck_assert_uint_eq(strm.total_in, SYN_N);
	check_codec(&s, Z_EROFS_COMPRESSION_LZMA, c, strm.total_out);
	lzma_end(&strm);
	syn_free(&s);
	free(c);
#endif
}
END_TEST

START_TEST(test_codec_deflate)
{
#ifdef T_DEFLATE
	if (!ef_alg_supported(Z_EROFS_COMPRESSION_DEFLATE))
		return;
	struct syn s;
	struct libdeflate_compressor *comp = libdeflate_alloc_compressor(6);
	size_t cap = SYN_N + 4096, clen;
	uint8_t *c = malloc(cap);

	syn_init(&s, true);
	clen = libdeflate_deflate_compress(comp, s.src, SYN_N, c, cap);
	ck_assert_uint_gt(clen, 0);
	check_codec(&s, Z_EROFS_COMPRESSION_DEFLATE, c, clen);
	libdeflate_free_compressor(comp);
	syn_free(&s);
	free(c);
#endif
}
END_TEST

START_TEST(test_codec_zstd)
{
#ifdef T_ZSTD
	if (!ef_alg_supported(Z_EROFS_COMPRESSION_ZSTD))
		return;
	struct syn s;
	size_t cap = ZSTD_compressBound(SYN_N), clen;
	uint8_t *c = malloc(cap);

	syn_init(&s, true);
	clen = ZSTD_compress(c, cap, s.src, SYN_N, 3);
	ck_assert(!ZSTD_isError(clen));
	check_codec(&s, Z_EROFS_COMPRESSION_ZSTD, c, clen);
	syn_free(&s);
	free(c);
#endif
}
END_TEST

START_TEST(test_codec_plain)
{
	struct syn s;
	struct ef_scratch sc = { 0 };
	uint8_t out[8192];
	struct ef_map m = { .la = 1000, .llen = 3096, .pa = SYN_PA, .plen = 4096,
			    .flags = EF_MAP_MAPPED | EF_MAP_ENCODED | EF_MAP_FULL,
			    .alg = EF_ALG_SHIFTED };

	syn_init(&s, true);
	/* shifted: pcluster byte k is file byte la + k */
	memcpy(s.m.data + SYN_PA, s.src + 1000, 4096);
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), 0);
	ck_assert(!memcmp(out, s.src + 1000, 3096));
	m.llen = 4097;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), -EFSCORRUPTED);

	/* interlaced: file byte la + k at block offset (la + k) mod 4096 */
	for (unsigned k = 0; k < 4096; k++)
		s.m.data[SYN_PA + (1000 + k) % 4096] = s.src[1000 + k];
	m.alg = EF_ALG_INTERLACED;
	m.llen = 4096;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), 0);
	ck_assert(!memcmp(out, s.src + 1000, 4096));
	m.llen = 3000;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), 0);
	ck_assert(!memcmp(out, s.src + 1000, 3000));
	/* an interlaced pcluster is one block at most */
	m.plen = 8192;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), -EFSCORRUPTED);

	/* a fragment with no packed inode */
	m.flags = EF_MAP_MAPPED | EF_MAP_ENCODED | EF_MAP_FRAGMENT;
	m.alg = EF_ALG_NONE;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), -EFSCORRUPTED);
	/* a hole is the caller's business */
	m.flags = 0;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), -EINVAL);
	/* unknown algorithm */
	m.flags = EF_MAP_MAPPED | EF_MAP_ENCODED | EF_MAP_FULL;
	m.plen = 4096;
	m.alg = 9;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), -EOPNOTSUPP);

	ck_assert_str_eq(ef_alg_name(Z_EROFS_COMPRESSION_LZMA), "lzma");
	ck_assert_str_eq(ef_alg_name(EF_ALG_INTERLACED), "interlaced");
	ck_assert(ef_alg_supported(EF_ALG_SHIFTED));
	ck_assert(!ef_alg_supported(9));
	ef_scratch_free(&sc);
	syn_free(&s);
}
END_TEST

static Suite *zmap_suite(void)
{
	Suite *s = suite_create("zmap");
	TCase *tc = tcase_create("fixtures");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_fixture_contents, 0, (int)NZFIXTURES);
	tcase_add_loop_test(tc, test_extents_vs_dump, 0, (int)NDUMP);
	tcase_add_test(tc, test_dedupe_partial);
	suite_add_tcase(s, tc);

	tc = tcase_create("damage");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_damage_lookback);
	tcase_add_test(tc, test_damage_cblkcnt);
	tcase_add_test(tc, test_damage_header);
	tcase_add_test(tc, test_damage_streams);
	tcase_add_test(tc, test_damage_tails);
	tcase_add_test(tc, test_damage_extents);
	tcase_add_loop_test(tc, test_fuzz_zdata, 0,
			    (int)(sizeof(fuzz_fixtures) / sizeof(fuzz_fixtures[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("codecs");
	tcase_add_test(tc, test_codec_lz4);
	tcase_add_test(tc, test_codec_lzma);
	tcase_add_test(tc, test_codec_deflate);
	tcase_add_test(tc, test_codec_zstd);
	tcase_add_test(tc, test_codec_plain);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(zmap_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
