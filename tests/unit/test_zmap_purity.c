// SPDX-License-Identifier: MIT
/*
 * A compressed file's bytes are a pure function of the image, whatever the
 * order of the reads.
 *
 * The read path keeps every page of an extent it decoded, so ef_map() must
 * be interval-consistent: for the extent m it returns for an offset x,
 * every offset y in [m.la, m.la + m.llen) must map to the very same extent
 * (la, llen, pa, plen, flags, algorithm); an index that says otherwise is
 * -EFSCORRUPTED.
 *
 * 1. Every compressed inode of every compressed fixture: the extent of
 *    every extent start, checked at every lcluster of it and at its last
 *    byte.
 * 2. Indexes made to contradict themselves, from real fixtures, in memory:
 *    a NONHEAD whose lookahead jumps over the next head (compact 2B packs
 *    of lz4.erofs; full indexes of an image that Debian's mkfs.erofs makes
 *    with -Elegacy-compress in a size-capped tmpfs, skipped without it), a
 *    lookback landing in the extent before or before the file, a head in
 *    the middle of an extent, a head after a fragment tail, and 48-bit
 *    encoded extents rewritten as 16-byte records that overlap or go
 *    backwards.  Every map of every lcluster gives an interval-consistent
 *    extent or -EFSCORRUPTED, and reading the file forwards, backwards and
 *    in random orders through eshare_pread() on a domain with a 64 KiB
 *    cache gives, page by page, the same bytes or the same error every
 *    time.  ESHARE_PURITY_SEEDS=DIR writes these images to DIR (one of
 *    each kind is a fuzz seed: tests/fuzz/regressions/zmap-*.bin).
 * 3. An LZ4-only image without compr_cfgs, without 0padding and with a
 *    max distance of 0 (what mkfs.erofs --zD without -z writes), made from
 *    all-fragments.erofs, is read as the kernel reads it: the kernel mounts
 *    it (loop device, size-capped tmpfs; skipped with a reason when not
 *    root) and every regular file is compared byte for byte.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <erofs_share/backend.h>
#include <erofs_share/erofs_share.h>

#include "format/format.h"
#include "format/ondisk.h"

#define PAGE 4096u

static const char *const zfixtures[] = {
	"lz4", "lz4hc-pcluster64k", "lzma", "deflate", "zstd", "ztailpacking", "fragments",
	"all-fragments", "dedupe", "48bit", "metabox", "metazone", "dirs-compressed",
	"xattr-filter", "inode-compact", "inode-extended", "digest-lz4", "shared-a", "shared-b",
};
#define NZFIXTURES (sizeof(zfixtures) / sizeof(zfixtures[0]))

/* ------------------------------------------------------------------ */
/* Images in memory and the format layer on them                        */

struct img {
	uint8_t *d;
	size_t n;
};

static void img_load(struct img *im, const char *name)
{
	char path[512];
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s.erofs", ESHARE_FIXTURES, name);
	f = fopen(path, "rb");
	ck_assert_msg(f, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_gt(n, 0);
	rewind(f);
	im->n = (size_t)n;
	im->d = malloc(im->n);
	ck_assert_ptr_nonnull(im->d);
	ck_assert_uint_eq(fread(im->d, 1, im->n, f), im->n);
	fclose(f);
}

static void img_grow(struct img *im, size_t n)
{
	uint8_t *d = realloc(im->d, n);

	ck_assert_ptr_nonnull(d);
	memset(d + im->n, 0, n - im->n);
	im->d = d;
	im->n = n;
}

static int mem_read(void *ctx, unsigned dev, void *buf, size_t len, uint64_t off)
{
	const struct img *im = ctx;

	if (dev || off > im->n || len > im->n - off)
		return -EIO;
	memcpy(buf, im->d + off, len);
	return 0;
}

static void mem_report(void *ctx, uint64_t nid, const char *why)
{
	(void)ctx;
	if (getenv("ESHARE_PURITY_VERBOSE"))
		printf("report: nid %llu: %s\n", (unsigned long long)nid, why);
}

static int img_open(struct img *im, struct ef_fs **fs)
{
	struct ef_io io = { .ctx = im, .read = mem_read, .report = mem_report };
	uint64_t size = im->n;

	return ef_fs_open(fs, &io, &size, 1);
}

static struct ef_fs *img_fs(struct img *im)
{
	struct ef_fs *fs;

	ck_assert_int_eq(img_open(im, &fs), 0);
	return fs;
}

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

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t header_pos(const struct ef_inode *ino)
{
	return (ef_inode_datapos(ino) + 7) & ~7ull;
}

/* Recompute the superblock checksum (it covers the rest of block 0). */
static void sb_fix_checksum(struct img *im)
{
	const unsigned blksz = 1u << im->d[EROFS_SUPER_OFFSET + 12];
	const size_t len = blksz > EROFS_SUPER_OFFSET ? blksz - EROFS_SUPER_OFFSET : blksz;
	uint8_t *sb = im->d + EROFS_SUPER_OFFSET;

	if (!(ef_le32(sb + 8) & EROFS_COMPAT_SB_CHKSUM))
		return;
	put32(sb + 4, 0);
	put32(sb + 4, ef_crc32c(~0u, sb, len));
}

/* ------------------------------------------------------------------ */
/* Interval consistency of ef_map()                                     */

static bool same_map(const struct ef_map *a, const struct ef_map *b)
{
	return a->la == b->la && a->llen == b->llen && a->pa == b->pa && a->plen == b->plen &&
	       a->flags == b->flags && a->alg == b->alg && a->dev == b->dev;
}

struct icheck {
	unsigned extents, corrupt, maps;
};

/* Every lcluster of the extent @m holds, and its last byte, map to @m. */
static void check_extent(struct ef_fs *fs, struct ef_inode *ino, unsigned L, const struct ef_map *m,
			 uint64_t from, struct icheck *c)
{
	const uint64_t end = m->la + m->llen;
	uint64_t y = m->la;

	ck_assert_msg(m->la <= from && from < end && end <= ino->size,
		      "nid %llu: extent [%llu, +%llu) for %llu", (unsigned long long)ino->nid,
		      (unsigned long long)m->la, (unsigned long long)m->llen,
		      (unsigned long long)from);
	for (;;) {
		struct ef_map n;
		int rc = ef_map(fs, ino, y, &n);

		c->maps++;
		ck_assert_msg(!rc && same_map(m, &n),
			      "nid %llu: %llu maps to [%llu, +%llu) pa %llu plen %llu flags %#x alg %u,"
			      " but %llu in it gives %d [%llu, +%llu) pa %llu plen %llu flags %#x alg %u",
			      (unsigned long long)ino->nid, (unsigned long long)from,
			      (unsigned long long)m->la, (unsigned long long)m->llen,
			      (unsigned long long)m->pa, (unsigned long long)m->plen, m->flags, m->alg,
			      (unsigned long long)y, rc, (unsigned long long)n.la,
			      (unsigned long long)n.llen, (unsigned long long)n.pa,
			      (unsigned long long)n.plen, n.flags, n.alg);
		if (y == end - 1)
			break;
		y = ((y >> L) + 1) << L;
		if (y > end - 1)
			y = end - 1;
	}
}

static unsigned map_bits(const struct ef_fs *fs, const struct ef_inode *ino)
{
	return ef_inode_is_compressed(ino) && !ino->z.whole_fragment ? ino->z.lclusterbits
								      : fs->blkszbits;
}

/*
 * @every: map the first and last byte of every lcluster, each on its own
 * (else only the extent starts, whose extents cover every lcluster).
 * Errors other than -EFSCORRUPTED fail, and -EFSCORRUPTED only if @bad.
 */
static void check_intervals(struct ef_fs *fs, struct ef_inode *ino, bool every, bool bad,
			    struct icheck *c)
{
	const unsigned L = map_bits(fs, ino);
	const uint64_t lsz = 1ull << L;
	uint64_t x = 0;

	while (x < ino->size) {
		uint64_t probe[2] = { x, (x | (lsz - 1)) < ino->size ? x | (lsz - 1) : ino->size - 1 };
		uint64_t next = (x | (lsz - 1)) + 1;

		for (unsigned k = 0; k < (every ? 2u : 1u); k++) {
			struct ef_map m;
			int rc = ef_map(fs, ino, probe[k], &m);

			c->maps++;
			if (rc) {
				ck_assert_msg(bad && rc == -EFSCORRUPTED, "nid %llu: map of %llu: %d",
					      (unsigned long long)ino->nid,
					      (unsigned long long)probe[k], rc);
				c->corrupt++;
				continue;
			}
			check_extent(fs, ino, L, &m, probe[k], c);
			c->extents++;
			if (!every && m.la + m.llen > next)
				next = m.la + m.llen;
		}
		x = next;
	}
}

/* ------------------------------------------------------------------ */
/* Reads through the public API in several orders                       */

struct pageout {
	int rc;          /* 0 or the error */
	uint8_t *bytes;  /* npages * PAGE */
};

static void silent(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	(void)msg;
}

static int attach_mem(eshare_domain **d, eshare_image **img, const struct img *im)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_backend *be;
	int rc;

	o.cache_bytes = 64u << 10;
	o.log = silent;
	ck_assert_int_eq(eshare_domain_create(d, &o), 0);
	ck_assert_int_eq(eshare_backend_memory(&be, im->d, im->n, NULL, NULL), 0);
	rc = eshare_image_attach(img, *d, be, NULL);
	if (rc)
		eshare_backend_close(be);
	return rc;
}

/* Read the pages of inode @ino in @order (a new domain); one pass, or two. */
static void read_in_order(const struct img *im, uint64_t ino, uint64_t size, const unsigned *order,
			  unsigned n, unsigned passes, int *rcs, uint8_t *bytes)
{
	eshare_domain *d;
	eshare_image *img;
	eshare_inode *f;

	ck_assert_int_eq(attach_mem(&d, &img, im), 0);
	ck_assert_int_eq(eshare_inode_open(&f, img, ino), 0);
	for (unsigned pass = 0; pass < passes; pass++) {
		for (unsigned k = 0; k < n; k++) {
			const unsigned p = pass ? k : order[k];
			const uint64_t off = (uint64_t)p * PAGE;
			const size_t want = size - off < PAGE ? (size_t)(size - off) : PAGE;
			ssize_t got = eshare_pread(f, bytes + off, want, off);
			int rc = got < 0 ? (int)got : (size_t)got == want ? 0 : 1;

			if (pass) {
				/* a second pass, in order, after the first one's evictions */
				ck_assert_msg(rc == rcs[p], "page %u: %d then %d", p, rcs[p], rc);
			}
			rcs[p] = rc;
		}
	}
	eshare_inode_put(f);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}

/*
 * Forwards, backwards, two random orders (the second one followed by a
 * forward pass in the same domain): every page gives the same bytes or the
 * same error each time.  Returns how many pages failed.
 */
static unsigned check_read_orders(const struct img *im, uint64_t ino, uint64_t size)
{
	const unsigned n = (unsigned)((size + PAGE - 1) / PAGE);
	unsigned *order = malloc(n * sizeof(*order));
	int *rcs[4], fails = 0;
	uint8_t *bytes[4];
	uint32_t seed = 12345;

	ck_assert_ptr_nonnull(order);
	for (unsigned v = 0; v < 4; v++) {
		rcs[v] = calloc(n, sizeof(int));
		bytes[v] = calloc(n, PAGE);
		ck_assert(rcs[v] && bytes[v]);
		for (unsigned k = 0; k < n; k++)
			order[k] = v == 1 ? n - 1 - k : k;
		if (v >= 2) {
			for (unsigned k = n; k > 1; k--) {
				unsigned j, t;

				seed = seed * 1103515245u + 12345u;
				j = (seed >> 8) % k;
				t = order[k - 1];
				order[k - 1] = order[j];
				order[j] = t;
			}
		}
		read_in_order(im, ino, size, order, n, v == 3 ? 2 : 1, rcs[v], bytes[v]);
	}
	for (unsigned p = 0; p < n; p++) {
		const size_t len = size - (uint64_t)p * PAGE < PAGE ? size - (uint64_t)p * PAGE : PAGE;

		for (unsigned v = 1; v < 4; v++) {
			ck_assert_msg(rcs[v][p] == rcs[0][p], "page %u: read %d in order 0, %d in order %u",
				      p, rcs[0][p], rcs[v][p], v);
			if (!rcs[0][p])
				ck_assert_msg(!memcmp(bytes[0] + (size_t)p * PAGE,
						      bytes[v] + (size_t)p * PAGE, len),
					      "page %u: order %u read other bytes", p, v);
		}
		fails += rcs[0][p] != 0;
	}
	for (unsigned v = 0; v < 4; v++) {
		free(rcs[v]);
		free(bytes[v]);
	}
	free(order);
	return (unsigned)fails;
}

/* Write @im to $ESHARE_PURITY_SEEDS/@name when asked to. */
static void maybe_save(const struct img *im, const char *name)
{
	const char *dir = getenv("ESHARE_PURITY_SEEDS");
	char path[512];
	FILE *f;

	if (!name || !dir || !*dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	ck_assert_msg(f, "cannot write %s", path);
	ck_assert_uint_eq(fwrite(im->d, 1, im->n, f), im->n);
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * The whole check of a crafted image: every map of every lcluster of
 * @path, then the read orders.  Returns the maps that were corrupt.
 */
static unsigned check_crafted(struct img *im, const char *path, const char *seed)
{
	struct ef_fs *fs;
	struct ef_inode ino;
	struct icheck c = { 0 };
	unsigned fails;

	/* the damage, if in block 0, must reach the index, not the checksum */
	sb_fix_checksum(im);
	fs = img_fs(im);
	ck_assert_int_eq(resolve(fs, path, &ino), 0);
	check_intervals(fs, &ino, true, true, &c);
	fails = check_read_orders(im, ino.ino, ino.size);
	/* the extents that do not map cannot be read either */
	if (c.corrupt)
		ck_assert_uint_gt(fails, 0);
	ef_fs_close(fs);
	maybe_save(im, seed);
	return c.corrupt;
}

/* ------------------------------------------------------------------ */
/* 1. every fixture                                                     */

struct walkctx {
	struct ef_fs *fs;
	unsigned depth, inodes;
	struct icheck c;
};

static void walk_nid(struct walkctx *w, uint64_t nid);

static int walk_dirent(void *user, const char *name, size_t namelen, uint64_t nid, unsigned ftype,
		       uint64_t next)
{
	struct walkctx *w = user;

	(void)next;
	if ((namelen == 1 && name[0] == '.') || (namelen == 2 && !memcmp(name, "..", 2)))
		return 0;
	if (ftype == EROFS_FT_DIR || ftype == EROFS_FT_REG_FILE)
		walk_nid(w, nid);
	return 0;
}

static void walk_nid(struct walkctx *w, uint64_t nid)
{
	struct ef_inode ino;

	ck_assert_int_eq(ef_iget(w->fs, nid, &ino), 0);
	if (ef_inode_is_compressed(&ino) && ino.size) {
		check_intervals(w->fs, &ino, false, false, &w->c);
		w->inodes++;
	}
	if (S_ISDIR(ino.mode) && w->depth < 32) {
		uint64_t cookie = 0;

		w->depth++;
		ck_assert_int_eq(ef_readdir(w->fs, &ino, &cookie, walk_dirent, w), 0);
		w->depth--;
	}
}

START_TEST(test_fixture_intervals)
{
	const char *name = zfixtures[_i];
	struct walkctx w = { 0 };
	struct img im;

	img_load(&im, name);
	w.fs = img_fs(&im);
	walk_nid(&w, w.fs->root_nid);
	if (w.fs->packed && ef_inode_is_compressed(w.fs->packed) && w.fs->packed->size) {
		check_intervals(w.fs, w.fs->packed, false, false, &w.c);
		w.inodes++;
	}
	ck_assert_msg(w.inodes > 0, "%s: no compressed inode", name);
	ck_assert_uint_eq(w.c.corrupt, 0);
	printf("intervals %s: %u compressed inodes, %u extents, %u maps\n", name, w.inodes,
	       w.c.extents, w.c.maps);
	ef_fs_close(w.fs);
	free(im.d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 2. crafted indexes                                                   */

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
	struct cpos c = { 0 };

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

static void compact_get(const struct img *im, const struct cpos *c, unsigned *lo, unsigned *type)
{
	unsigned bit = c->encodebits * c->i;
	uint32_t v = ef_le32(im->d + c->packpos + bit / 8) >> (bit & 7);

	*lo = v & ((1u << c->lobits) - 1);
	*type = (v >> c->lobits) & 3;
}

static void compact_set(struct img *im, const struct cpos *c, unsigned lo, unsigned type)
{
	unsigned bit = c->encodebits * c->i, nbits = c->lobits + 2;
	uint32_t v = (type << c->lobits) | lo;

	for (unsigned b = 0; b < nbits; b++) {
		uint8_t *byte = im->d + c->packpos + (bit + b) / 8;
		unsigned sh = (bit + b) & 7;

		*byte = (uint8_t)((*byte & ~(1u << sh)) | (((v >> b) & 1u) << sh));
	}
}

enum { T_PLAIN = 0, T_HEAD1 = 1, T_NONHEAD = 2 };
#define CBLKCNT 0x800u

/* The lcluster types of a compact inode, read off the index itself. */
static unsigned *compact_types(const struct img *im, const struct ef_fs *fs,
			       const struct ef_inode *ino, unsigned *nl, unsigned **los)
{
	const unsigned n = (unsigned)((ino->size + (1ull << ino->z.lclusterbits) - 1) >>
				      ino->z.lclusterbits);
	unsigned *t = malloc(n * sizeof(*t)), *l = malloc(n * sizeof(*l));

	ck_assert(t && l);
	for (unsigned k = 0; k < n; k++) {
		struct cpos c = compact_pos(fs, ino, k);

		compact_get(im, &c, &l[k], &t[k]);
	}
	*nl = n;
	*los = l;
	return t;
}

#define TEXT0 "/big/text-0.bin"

/*
 * lz4.erofs /big/text-0.bin: compact 2B packs; the last entry of a pack
 * stores the lookahead of the NONHEAD run that reaches it.  Make such a
 * lookahead jump one lcluster past the next head.
 */
START_TEST(test_compact_lookahead_skips_head)
{
	struct img im;
	struct ef_fs *fs;
	struct ef_inode ino;
	unsigned nl, *types, *los, k, found = 0;
	struct cpos c = { 0 };

	img_load(&im, "lz4");
	fs = img_fs(&im);
	ck_assert_int_eq(resolve(fs, TEXT0, &ino), 0);
	ck_assert_uint_eq(ino.layout, EROFS_INODE_COMPRESSED_COMPACT);
	types = compact_types(&im, fs, &ino, &nl, &los);
	for (k = 1; k + 2 < nl; k++) {
		c = compact_pos(fs, &ino, k);
		if (c.i + 1 != c.vcnt || types[k] != T_NONHEAD || (los[k] & CBLKCNT))
			continue;
		/* its lookahead must reach a head with an lcluster after it */
		if (k + los[k] + 1 < nl && types[k + los[k]] != T_NONHEAD)
			break;
	}
	ck_assert_msg(k + 2 < nl, "no pack-end NONHEAD before a head in %s", TEXT0);
	ef_fs_close(fs);

	/* the image as it is: every extent is consistent */
	ck_assert_uint_eq(check_crafted(&im, TEXT0, NULL), 0);

	compact_set(&im, &c, los[k] + 1, T_NONHEAD);
	found = check_crafted(&im, TEXT0, "zmap-compact-lookahead-skips-head.bin");
	ck_assert_uint_gt(found, 0);
	free(types);
	free(los);
	free(im.d);
}
END_TEST

/*
 * lz4.erofs /big/text-0.bin, other contradictions of a compact index:
 * a NONHEAD's lookback lands inside the extent before its own, or before
 * the file, and a NONHEAD turned into a head in the middle of an extent.
 */
START_TEST(test_compact_lookback)
{
	struct img im, orig;
	struct ef_fs *fs;
	struct ef_inode ino;
	unsigned nl, *types, *los, k, h = 0, prevh = 0;
	struct cpos c = { 0 };
	bool done_back = false;

	img_load(&orig, "lz4");
	fs = img_fs(&orig);
	ck_assert_int_eq(resolve(fs, TEXT0, &ino), 0);
	types = compact_types(&orig, fs, &ino, &nl, &los);
	/* a NONHEAD k that is not the last of its pack, in the 2nd extent or later */
	for (k = 1; k < nl; k++) {
		if (types[k] != T_NONHEAD) {
			prevh = h;
			h = k;
			continue;
		}
		c = compact_pos(fs, &ino, k);
		if (h && c.i + 1 != c.vcnt && !(los[k] & CBLKCNT) && los[k] == k - h)
			break;
	}
	ck_assert_msg(k < nl && h > prevh, "no suitable NONHEAD in %s", TEXT0);
	ef_fs_close(fs);

	im.n = orig.n;
	im.d = malloc(im.n);
	ck_assert_ptr_nonnull(im.d);

	/* lookback into the previous extent: lands on its head */
	memcpy(im.d, orig.d, im.n);
	compact_set(&im, &c, k - prevh, T_NONHEAD);
	ck_assert_uint_gt(check_crafted(&im, TEXT0, "zmap-compact-lookback-previous.bin"), 0);

	/* lookback past lcluster 0 */
	memcpy(im.d, orig.d, im.n);
	compact_set(&im, &c, k + 3, T_NONHEAD);
	ck_assert_uint_gt(check_crafted(&im, TEXT0, "zmap-compact-lookback-before-file.bin"), 0);
	done_back = true;

	/* a head in the middle of the extent (clusterofs 0) */
	memcpy(im.d, orig.d, im.n);
	compact_set(&im, &c, 0, T_HEAD1);
	check_crafted(&im, TEXT0, "zmap-compact-head-inside-extent.bin");

	ck_assert(done_back);
	free(types);
	free(los);
	free(im.d);
	free(orig.d);
}
END_TEST

/*
 * fragments.erofs: a file whose tail extent is a fragment in the packed
 * inode, with NONHEADs after its head.  Turn the last of those into a
 * head: the fragment extent can no longer run to the end of the file.
 */
START_TEST(test_fragment_tail_head)
{
	struct img im;
	struct ef_fs *fs;
	struct ef_inode ino;
	unsigned nl, *types, *los;
	const char *path = NULL;
	static const char *const cand[] = {
		"/big/text-0.bin", "/big/mixed-1.bin", "/big/repetitive.txt", "/big/rand-2.bin",
		"/big/rand-then-text", "/big/text-then-rand",
	};

	img_load(&im, "fragments");
	fs = img_fs(&im);
	for (unsigned i = 0; i < sizeof(cand) / sizeof(cand[0]) && !path; i++) {
		if (resolve(fs, cand[i], &ino) || !ef_inode_is_compressed(&ino) ||
		    ino.z.whole_fragment || !(ino.z.advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) ||
		    ino.layout != EROFS_INODE_COMPRESSED_COMPACT)
			continue;
		types = compact_types(&im, fs, &ino, &nl, &los);
		/* the tail head, then a NONHEAD after it */
		if (ino.z.tailextent_headlcn + 1 < nl &&
		    types[ino.z.tailextent_headlcn + 1] == T_NONHEAD &&
		    types[ino.z.tailextent_headlcn] != T_NONHEAD && ino.z.tailextent_headlcn) {
			struct cpos c = compact_pos(fs, &ino, nl - 1);

			if (types[nl - 1] == T_NONHEAD && nl - 1 > ino.z.tailextent_headlcn + 1) {
				path = cand[i];
				ef_fs_close(fs);
				ck_assert_uint_eq(check_crafted(&im, path, NULL), 0);
				compact_set(&im, &c, 0, T_HEAD1);
				ck_assert_uint_gt(
					check_crafted(&im, path, "zmap-fragment-tail-head.bin"), 0);
				fs = NULL;
			}
		}
		free(types);
		free(los);
	}
	if (fs)
		ef_fs_close(fs);
	ck_assert_msg(path, "no file with a multi-lcluster fragment tail in fragments.erofs");
	free(im.d);
}
END_TEST

/*
 * 48bit.erofs /big/text-0.bin uses 4-byte encoded-extent records (one per
 * lcluster, after a le64 base).  Copy the inode to a new block at the end
 * of the image with its extents as 16-byte records {plen, pstart_lo,
 * pstart_hi, lstart_lo} and point the directory entry at it.  Returns the
 * position of record 0; *nrec = the number of records.
 */
static uint64_t make_ext16(struct img *im, unsigned *nrec)
{
	struct ef_fs *fs = img_fs(im);
	struct ef_inode ino, dir;
	const uint64_t blksz = fs->blksz;
	uint64_t oldhp, base, newpos, newnid, hp, rp, pa;
	unsigned isz, n, L;
	bool patched = false;

	ck_assert_int_eq(resolve(fs, TEXT0, &ino), 0);
	ck_assert_uint_eq(ino.z.recsz, 4);
	L = ino.z.lclusterbits;
	n = (unsigned)((ino.size + (1ull << L) - 1) >> L);
	oldhp = header_pos(&ino);
	base = ef_le64(im->d + oldhp + 8);
	isz = ino.inode_isize + ino.xattr_isize;

	newpos = (im->n + blksz - 1) & ~(blksz - 1);
	img_grow(im, newpos + blksz * 2);
	memcpy(im->d + newpos, im->d + ino.iloc, isz);
	hp = (newpos + isz + 7) & ~7ull;
	memcpy(im->d + hp, im->d + oldhp, 8);
	/* advise bits 1-2: record size 4 << 2 = 16; bytes 0-3 and 6-7: the count */
	put16(im->d + hp + 4, (uint16_t)((ef_le16(im->d + oldhp + 4) & ~6u) | (2u << 1)));
	put32(im->d + hp, n);
	put16(im->d + hp + 6, 0);
	rp = (hp + 8 + 15) & ~15ull;
	ck_assert_uint_le(rp + 16ull * n, im->n);
	pa = base;
	for (unsigned k = 0; k < n; k++) {
		uint32_t plen = ef_le32(im->d + oldhp + 16 + 4ull * k);
		uint8_t *r = im->d + rp + 16ull * k;

		put32(r, plen);
		put32(r + 4, (uint32_t)pa);
		put32(r + 8, (uint32_t)(pa >> 32));
		put32(r + 12, k << L);
		pa += plen & ((1u << 21) - 1);
	}
	ck_assert_uint_eq((newpos - fs->meta_blkaddr * blksz) % 32, 0);
	newnid = (newpos - fs->meta_blkaddr * blksz) / 32;

	/* the directory entry of text-0.bin in /big */
	ck_assert_int_eq(resolve(fs, "/big", &dir), 0);
	for (uint64_t off = 0; off < dir.size; off += blksz) {
		struct ef_map m;
		uint64_t at, len = dir.size - off < blksz ? dir.size - off : blksz;
		unsigned cnt;

		ck_assert_int_eq(ef_map(fs, &dir, off, &m), 0);
		ck_assert(m.flags & EF_MAP_MAPPED);
		at = m.pa + (off - m.la);
		cnt = ef_le16(im->d + at + 8) / 12;
		for (unsigned i = 0; i < cnt && 12ull * i < len; i++) {
			if (ef_le64(im->d + at + 12ull * i) == ino.nid) {
				put64(im->d + at + 12ull * i, newnid);
				patched = true;
			}
		}
	}
	ck_assert(patched);
	ef_fs_close(fs);
	sb_fix_checksum(im);
	*nrec = n;
	return rp;
}

START_TEST(test_ext16_overlap)
{
	struct img im, orig, ref;
	struct ef_fs *fs;
	struct ef_inode a, b;
	unsigned n;
	uint64_t rp;
	uint8_t *x, *y;
	struct eshare_stat st = ESHARE_STAT_INIT;
	eshare_domain *d;
	eshare_image *img;
	eshare_inode *f;

	img_load(&orig, "48bit");
	img_load(&ref, "48bit");
	rp = make_ext16(&orig, &n);
	ck_assert_uint_ge(n, 4);

	/* the rewritten inode reads as the original one */
	fs = img_fs(&orig);
	ck_assert_int_eq(resolve(fs, TEXT0, &a), 0);
	ck_assert_uint_eq(a.z.recsz, 16);
	ck_assert_uint_eq(a.z.extents, n);
	ef_fs_close(fs);
	fs = img_fs(&ref);
	ck_assert_int_eq(resolve(fs, TEXT0, &b), 0);
	ck_assert_uint_eq(a.size, b.size);
	ef_fs_close(fs);
	x = malloc(a.size);
	y = malloc(a.size);
	ck_assert(x && y);
	ck_assert_int_eq(attach_mem(&d, &img, &orig), 0);
	ck_assert_int_eq(eshare_lookup(&f, img, TEXT0), 0);
	ck_assert_int_eq(eshare_stat(f, &st), 0);
	ck_assert_uint_eq(st.ino, a.ino);
	ck_assert_int_eq(eshare_pread(f, x, a.size, 0), (ssize_t)a.size);
	eshare_inode_put(f);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	ck_assert_int_eq(attach_mem(&d, &img, &ref), 0);
	ck_assert_int_eq(eshare_lookup(&f, img, TEXT0), 0);
	ck_assert_int_eq(eshare_pread(f, y, a.size, 0), (ssize_t)a.size);
	eshare_inode_put(f);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	ck_assert(!memcmp(x, y, a.size));
	free(x);
	free(y);
	ck_assert_uint_eq(check_crafted(&orig, TEXT0, NULL), 0);

	im.n = orig.n;
	im.d = malloc(im.n);
	ck_assert_ptr_nonnull(im.d);

	/* record 2 starts where record 1 does: they overlap */
	memcpy(im.d, orig.d, im.n);
	put32(im.d + rp + 32 + 12, ef_le32(im.d + rp + 16 + 12));
	ck_assert_uint_gt(check_crafted(&im, TEXT0, "zmap-ext16-overlap.bin"), 0);

	/* record 2 starts inside record 0: out of order */
	memcpy(im.d, orig.d, im.n);
	put32(im.d + rp + 32 + 12, 100);
	ck_assert_uint_gt(check_crafted(&im, TEXT0, "zmap-ext16-backwards.bin"), 0);

	/* the last record starts past the end of the file */
	memcpy(im.d, orig.d, im.n);
	put32(im.d + rp + 16ull * (n - 1) + 12, (uint32_t)a.size + 1);
	ck_assert_uint_gt(check_crafted(&im, TEXT0, "zmap-ext16-past-eof.bin"), 0);

	free(im.d);
	free(orig.d);
	free(ref.d);
}
END_TEST

/*
 * Full (legacy) lcluster indexes: an image made by Debian's mkfs.erofs
 * (1.5) with -Elegacy-compress in a size-capped tmpfs.  A NONHEAD's
 * delta[1] made to jump over the next head.
 */
static int run(const char *cmd)
{
	int rc = system(cmd);

	return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

static char tmpfs_dir[64];

static bool tmpfs_up(const char *tag, const char *size)
{
	char opts[64];

	if (geteuid() != 0) {
		printf("SKIP %s: not root, no size-capped tmpfs\n", tag);
		return false;
	}
	snprintf(tmpfs_dir, sizeof(tmpfs_dir), "/tmp/eshare-purity-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpfs_dir));
	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	if (mount("tmpfs", tmpfs_dir, "tmpfs", 0, opts)) {
		printf("SKIP %s: cannot mount a tmpfs: %s\n", tag, strerror(errno));
		rmdir(tmpfs_dir);
		return false;
	}
	return true;
}

static void tmpfs_down(void)
{
	ck_assert_int_eq(umount2(tmpfs_dir, MNT_DETACH), 0);
	rmdir(tmpfs_dir);
}

START_TEST(test_full_lookahead_skips_head)
{
	char cmd[1024];
	struct img im;
	struct ef_fs *fs;
	struct ef_inode ino;
	uint64_t idx;
	unsigned n, k, L;
	FILE *f;
	long len;

	if (run("command -v mkfs.erofs >/dev/null 2>&1") != 0) {
		printf("SKIP full indexes: mkfs.erofs is not installed\n");
		return;
	}
	if (!tmpfs_up("full indexes", "8m"))
		return;
	/* text compresses into extents of several lclusters each */
	snprintf(cmd, sizeof(cmd), "%s/t", tmpfs_dir);
	ck_assert_int_eq(mkdir(cmd, 0700), 0);
	snprintf(cmd, sizeof(cmd), "%s/t/text", tmpfs_dir);
	f = fopen(cmd, "w");
	ck_assert_ptr_nonnull(f);
	for (unsigned i = 0; i < 3000; i++)
		fprintf(f, "line %u of some text for the compressor, %x\n", i, i * i);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "mkfs.erofs --quiet -zlz4 -Elegacy-compress %s/img %s/t >/dev/null 2>&1",
		 tmpfs_dir, tmpfs_dir);
	if (run(cmd) != 0) {
		tmpfs_down();
		ck_abort_msg("mkfs.erofs -Elegacy-compress failed: %s", cmd);
	}
	snprintf(cmd, sizeof(cmd), "%s/img", tmpfs_dir);
	f = fopen(cmd, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	rewind(f);
	im.n = (size_t)len;
	im.d = malloc(im.n);
	ck_assert_ptr_nonnull(im.d);
	ck_assert_uint_eq(fread(im.d, 1, im.n, f), im.n);
	fclose(f);
	tmpfs_down();

	fs = img_fs(&im);
	ck_assert_int_eq(resolve(fs, "/text", &ino), 0);
	ck_assert_uint_eq(ino.layout, EROFS_INODE_COMPRESSED_FULL);
	L = ino.z.lclusterbits;
	n = (unsigned)((ino.size + (1ull << L) - 1) >> L);
	idx = header_pos(&ino) + 16;
	/* a NONHEAD whose delta[1] reaches a head with an lcluster after it */
	for (k = 1; k + 2 < n; k++) {
		const uint8_t *di = im.d + idx + 8ull * k;
		unsigned d1 = ef_le16(di + 6);

		if ((ef_le16(di) & 3) == T_NONHEAD && d1 && k + d1 + 1 < n &&
		    (ef_le16(im.d + idx + 8ull * (k + d1)) & 3) != T_NONHEAD)
			break;
	}
	ck_assert_msg(k + 2 < n, "no NONHEAD before a head in the full index");
	ef_fs_close(fs);
	ck_assert_uint_eq(check_crafted(&im, "/text", NULL), 0);
	put16(im.d + idx + 8ull * k + 6, (uint16_t)(ef_le16(im.d + idx + 8ull * k + 6) + 1));
	ck_assert_uint_gt(check_crafted(&im, "/text", "zmap-full-lookahead-skips-head.bin"), 0);
	free(im.d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 3. LZ4 without compr_cfgs, 0padding or a max distance                */

/*
 * all-fragments.erofs keeps almost every file whole in the packed inode,
 * which is itself LZ4-compressed with 0padding.  Store the packed inode's
 * data flat in new blocks at the end of the image, then clear 0padding and
 * the max distance: no LZ4 pcluster is left that 0padding changes, and the
 * image has the shape mkfs.erofs --zD without -z gives.
 */
static void make_lz4_plain_sb(struct img *im)
{
	struct ef_fs *fs = img_fs(im);
	struct ef_inode *pk = fs->packed;
	const uint64_t blksz = fs->blksz;
	uint64_t start, iloc, size;
	uint8_t *sb;
	uint16_t fmt;

	ck_assert_ptr_nonnull(pk);
	ck_assert(!pk->in_metabox);
	ck_assert(!(fs->feature_incompat & (EROFS_INCOMPAT_COMPR_CFGS | EROFS_INCOMPAT_48BIT)));
	iloc = pk->iloc;
	size = pk->size;
	start = (im->n + blksz - 1) & ~(blksz - 1);
	img_grow(im, start + ((size + blksz - 1) & ~(blksz - 1)));
	ck_assert_int_eq(ef_read_data_uncached(fs, pk, im->d + start, size, 0), 0);
	ef_fs_close(fs);

	/* the packed inode: flat plain at @start */
	fmt = ef_le16(im->d + iloc);
	fmt &= (uint16_t)~(EROFS_I_DATALAYOUT_MASK << EROFS_I_DATALAYOUT_SHIFT);
	fmt |= (uint16_t)(EROFS_INODE_FLAT_PLAIN << EROFS_I_DATALAYOUT_SHIFT);
	put16(im->d + iloc, fmt);
	put32(im->d + iloc + 16, (uint32_t)(start / blksz));

	sb = im->d + EROFS_SUPER_OFFSET;
	put32(sb + offsetof(struct erofs_super_block, feature_incompat),
	      ef_le32(sb + offsetof(struct erofs_super_block, feature_incompat)) &
		      ~EROFS_INCOMPAT_LZ4_0PADDING);
	put16(sb + offsetof(struct erofs_super_block, u1), 0);
	put32(sb + offsetof(struct erofs_super_block, blocks_lo), (uint32_t)(im->n / blksz));
	sb_fix_checksum(im);
}

struct kcmp {
	const char *root;
	eshare_image *img;
	unsigned files, compressed;
	int diffs;
	struct ef_fs *fs;
};

static struct kcmp *kc;

static int kcmp_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	const char *rel = path + strlen(kc->root);
	eshare_inode *f;
	uint8_t *k, *l;
	int fd;
	ssize_t got;

	(void)ftw;
	if (type != FTW_F || !S_ISREG(sb->st_mode))
		return 0;
	k = malloc((size_t)sb->st_size + 1);
	l = malloc((size_t)sb->st_size + 1);
	ck_assert(k && l);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	got = 0;
	while (got < sb->st_size) {
		ssize_t r = read(fd, k + got, (size_t)(sb->st_size - got));

		ck_assert_int_gt(r, 0);
		got += r;
	}
	close(fd);
	ck_assert_msg(!eshare_lookup(&f, kc->img, *rel ? rel : "/"), "library: no %s", rel);
	ck_assert_int_eq(eshare_pread(f, l, (size_t)sb->st_size, 0), (ssize_t)sb->st_size);
	if (memcmp(k, l, (size_t)sb->st_size)) {
		printf("differs from the kernel: %s\n", rel);
		kc->diffs++;
	}
	{
		struct ef_inode ino;

		ck_assert_int_eq(resolve(kc->fs, rel, &ino), 0);
		kc->compressed += ef_inode_is_compressed(&ino);
	}
	eshare_inode_put(f);
	kc->files++;
	free(k);
	free(l);
	return 0;
}

START_TEST(test_lz4_without_cfgs)
{
	struct img im;
	struct ef_fs *fs;
	eshare_domain *d;
	eshare_image *img;
	char path[128], mnt[128], cmd[512];
	struct kcmp k = { 0 };
	int rc;

	img_load(&im, "all-fragments");
	make_lz4_plain_sb(&im);

	/* the library reads it */
	rc = img_open(&im, &fs);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(fs->available_compr_algs, 1u << Z_EROFS_COMPRESSION_LZ4);
	ck_assert(!(fs->feature_incompat & EROFS_INCOMPAT_LZ4_0PADDING));
	ck_assert_int_eq(ef_le16(im.d + EROFS_SUPER_OFFSET + offsetof(struct erofs_super_block, u1)),
			 0);
	ck_assert_uint_eq(fs->packed->layout, EROFS_INODE_FLAT_PLAIN);
	ck_assert_int_eq(attach_mem(&d, &img, &im), 0);

	/* ... as the kernel does */
	if (!tmpfs_up("kernel comparison", "4m")) {
		eshare_image_detach(img);
		eshare_domain_close(d);
		ef_fs_close(fs);
		free(im.d);
		return;
	}
	snprintf(path, sizeof(path), "%s/img", tmpfs_dir);
	snprintf(mnt, sizeof(mnt), "%s/mnt", tmpfs_dir);
	{
		FILE *f = fopen(path, "wb");

		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(im.d, 1, im.n, f), im.n);
		ck_assert_int_eq(fclose(f), 0);
	}
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	if (run("losetup -f >/dev/null 2>&1") != 0 ||
	    run("grep -qw erofs /proc/filesystems || modprobe erofs >/dev/null 2>&1") != 0) {
		printf("SKIP kernel comparison: no free loop device or no erofs in the kernel\n");
		tmpfs_down();
		eshare_image_detach(img);
		eshare_domain_close(d);
		ef_fs_close(fs);
		free(im.d);
		return;
	}
	snprintf(cmd, sizeof(cmd), "mount -t erofs -o ro,loop %s %s", path, mnt);
	rc = run(cmd);
	if (rc) {
		tmpfs_down();
		ck_abort_msg("the kernel refuses the image (mount: %d)", rc);
	}
	k.root = mnt;
	k.img = img;
	k.fs = fs;
	kc = &k;
	rc = nftw(mnt, kcmp_one, 16, FTW_PHYS);
	snprintf(cmd, sizeof(cmd), "umount %s", mnt);
	ck_assert_int_eq(run(cmd), 0);
	tmpfs_down();
	ck_assert_int_eq(rc, 0);
	printf("lz4 without cfgs: %u files (%u compressed) read as the kernel does, %d differ\n",
	       k.files, k.compressed, k.diffs);
	ck_assert_int_eq(k.diffs, 0);
	ck_assert_uint_gt(k.compressed, 1000);

	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	ef_fs_close(fs);
	maybe_save(&im, "zmap-lz4-no-cfgs-no-0padding.bin");
	free(im.d);
}
END_TEST

static Suite *purity_suite(void)
{
	Suite *s = suite_create("zmap_purity");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_fixture_intervals, 0, NZFIXTURES);
	tcase_add_test(tc, test_compact_lookahead_skips_head);
	tcase_add_test(tc, test_compact_lookback);
	tcase_add_test(tc, test_fragment_tail_head);
	tcase_add_test(tc, test_ext16_overlap);
	tcase_add_test(tc, test_full_lookahead_skips_head);
	tcase_add_test(tc, test_lz4_without_cfgs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(purity_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
