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
 * 2. Compact indexes made to contradict themselves, from real fixtures, in
 *    memory: a NONHEAD whose lookahead jumps over the next head (compact
 *    2B packs of lz4.erofs), a lookback landing in the extent before or
 *    before the file, a head in the middle of an extent, a head after a
 *    fragment tail.  Every map of every lcluster gives an interval-consistent
 *    extent or -EFSCORRUPTED, and reading the file forwards, backwards and
 *    in random orders through eshare_pread() on a domain with a 64 KiB
 *    cache gives, page by page, the same bytes or the same error every
 *    time.  ESHARE_PURITY_SEEDS=DIR writes these images to DIR (one of
 *    each kind is a fuzz seed: tests/fuzz/regressions/zmap-*.bin).
 *
 * Full indexes, 16-byte encoded extents and LZ4 without compr_cfgs:
 * test_zmap_purity_layouts.c.  ESHARE_PURITY_SEEDS=DIR writes the crafted
 * images to DIR (one of each kind is a fuzz seed:
 * tests/fuzz/regressions/zmap-*.bin); ESHARE_FORMAT_REPORTS=1 prints every
 * corruption the format layer reports.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <erofs_share/erofs_share.h>

#include "format/format.h"
#include "format/ondisk.h"
#include "helpers/fixtures.h"
#include "helpers/memfs.h"
#include "helpers/purity.h"

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
	const char *name = fx_nth((unsigned)_i, FX_COMPRESSED, 0)->name;
	struct walkctx w = { 0 };
	struct memfs im;

	memfs_load(&im, name);
	w.fs = memfs_fs(&im);
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
	memfs_free(&im);
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
	const uint64_t ebase = memfs_zheader_pos(ino) + 8;
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

static void compact_get(const struct memfs *im, const struct cpos *c, unsigned *lo, unsigned *type)
{
	unsigned bit = c->encodebits * c->i;
	uint32_t v = ef_le32(im->data[0] + c->packpos + bit / 8) >> (bit & 7);

	*lo = v & ((1u << c->lobits) - 1);
	*type = (v >> c->lobits) & 3;
}

static void compact_set(struct memfs *im, const struct cpos *c, unsigned lo, unsigned type)
{
	unsigned bit = c->encodebits * c->i, nbits = c->lobits + 2;
	uint32_t v = (type << c->lobits) | lo;

	for (unsigned b = 0; b < nbits; b++) {
		uint8_t *byte = im->data[0] + c->packpos + (bit + b) / 8;
		unsigned sh = (bit + b) & 7;

		*byte = (uint8_t)((*byte & ~(1u << sh)) | (((v >> b) & 1u) << sh));
	}
}

enum { T_PLAIN = 0, T_HEAD1 = 1, T_NONHEAD = 2 };
#define CBLKCNT 0x800u

/* The lcluster types of a compact inode, read off the index itself. */
static unsigned *compact_types(const struct memfs *im, const struct ef_fs *fs,
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
	struct memfs im;
	struct ef_fs *fs;
	struct ef_inode ino;
	unsigned nl, *types, *los, k, found = 0;
	struct cpos c = { 0 };

	memfs_load(&im, "lz4");
	fs = memfs_fs(&im);
	ck_assert_int_eq(memfs_resolve(fs, TEXT0, &ino), 0);
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
	memfs_free(&im);
}
END_TEST

/*
 * lz4.erofs /big/text-0.bin, other contradictions of a compact index:
 * a NONHEAD's lookback lands inside the extent before its own, or before
 * the file, and a NONHEAD turned into a head in the middle of an extent.
 */
START_TEST(test_compact_lookback)
{
	struct memfs im, orig;
	struct ef_fs *fs;
	struct ef_inode ino;
	unsigned nl, *types, *los, k, h = 0, prevh = 0;
	struct cpos c = { 0 };
	bool done_back = false;

	memfs_load(&orig, "lz4");
	fs = memfs_fs(&orig);
	ck_assert_int_eq(memfs_resolve(fs, TEXT0, &ino), 0);
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

	memfs_adopt(&im, malloc(orig.len[0]), orig.len[0]);
	ck_assert_ptr_nonnull(im.data[0]);

	/* lookback into the previous extent: lands on its head */
	memcpy(im.data[0], orig.data[0], im.len[0]);
	compact_set(&im, &c, k - prevh, T_NONHEAD);
	ck_assert_uint_gt(check_crafted(&im, TEXT0, "zmap-compact-lookback-previous.bin"), 0);

	/* lookback past lcluster 0 */
	memcpy(im.data[0], orig.data[0], im.len[0]);
	compact_set(&im, &c, k + 3, T_NONHEAD);
	ck_assert_uint_gt(check_crafted(&im, TEXT0, "zmap-compact-lookback-before-file.bin"), 0);
	done_back = true;

	/* a head in the middle of the extent (clusterofs 0) */
	memcpy(im.data[0], orig.data[0], im.len[0]);
	compact_set(&im, &c, 0, T_HEAD1);
	check_crafted(&im, TEXT0, "zmap-compact-head-inside-extent.bin");

	ck_assert(done_back);
	free(types);
	free(los);
	memfs_free(&im);
	memfs_free(&orig);
}
END_TEST

/*
 * fragments.erofs: a file whose tail extent is a fragment in the packed
 * inode, with NONHEADs after its head.  Turn the last of those into a
 * head: the fragment extent can no longer run to the end of the file.
 */
START_TEST(test_fragment_tail_head)
{
	struct memfs im;
	struct ef_fs *fs;
	struct ef_inode ino;
	unsigned nl, *types, *los;
	const char *path = NULL;
	static const char *const cand[] = {
		"/big/text-0.bin", "/big/mixed-1.bin", "/big/repetitive.txt", "/big/rand-2.bin",
		"/big/rand-then-text", "/big/text-then-rand",
	};

	memfs_load(&im, "fragments");
	fs = memfs_fs(&im);
	for (unsigned i = 0; i < sizeof(cand) / sizeof(cand[0]) && !path; i++) {
		if (memfs_resolve(fs, cand[i], &ino) || !ef_inode_is_compressed(&ino) ||
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
	memfs_free(&im);
}
END_TEST

static Suite *purity_suite(void)
{
	Suite *s = suite_create("zmap_purity");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_fixture_intervals, 0,
			    (int)fx_select(NULL, 0, FX_COMPRESSED, 0));
	tcase_add_test(tc, test_compact_lookahead_skips_head);
	tcase_add_test(tc, test_compact_lookback);
	tcase_add_test(tc, test_fragment_tail_head);
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
