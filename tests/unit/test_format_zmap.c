// SPDX-License-Identifier: MIT
/*
 * The compressed-file mapping of lib/format/zmap.c, on the format layer
 * alone over fixture copies in memory:
 *
 * 1. For the fixtures erofs-utils 1.5 dump.erofs understands, the extents
 *    of every compressed file (la, llen, pa, plen) are compared with what
 *    `dump.erofs -e --nid=N` prints (skipped if dump.erofs is missing).
 * 2. Dedupe: extents that use only a prefix of a shared pcluster decode to
 *    the bytes the public API read (those were checked against the kernel).
 * 3. Hand-made damage to the indexes, map headers, tails, encoded extents
 *    and pclusters of real fixtures: each kind must give its errno.  Where
 *    damage goes is derived by hand from the on-disk layout and checked
 *    against dump.erofs, not computed the way zmap.c computes it.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <erofs_share/erofs_share.h>

#include "format/format.h"
#include "format/ondisk.h"
#include "helpers/fixtures.h"
#include "helpers/memfs.h"
#include "helpers/readall.h"

/* ------------------------------------------------------------------ */
/* 1. extents against dump.erofs                                        */

static bool have_dump(void)
{
	return !system("dump.erofs -V >/dev/null 2>&1");
}

START_TEST(test_extents_vs_dump)
{
	const struct fixture_info *fi = fx_nth((unsigned)_i, FX_DUMP15, 0);
	const char *name = fi->name;
	struct rfiles files;
	eshare_domain *d;
	eshare_image *img;
	struct memfs mi;
	struct ef_fs *fs;
	char imgpath[512];
	unsigned checked = 0, extents = 0;
	uint64_t last_nid = ~0ull;

	if (!have_dump()) {
		fprintf(stderr, "dump.erofs not installed: extents not compared\n");
		return;
	}
	img = fx_attach(&d, name);
	rfiles_read(img, &files, false);
	fx_detach(d, img);

	fx_image_path(imgpath, sizeof(imgpath), fi);
	memfs_load(&mi, name);
	fs = memfs_fs(&mi);
	/* by nid, so hard links are compared once */
	for (size_t i = 0; i < files.n; i++) {
		const struct rfile *e = &files.v[i];
		struct ef_inode ino;
		char cmd[700], line[512];
		uint64_t pos = 0;
		unsigned k = 0;
		FILE *p;

		if (!rfile_compressed(e) || e->nid == last_nid)
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
	memfs_free(&mi);
	rfiles_free(&files);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 3. damaged images                                                    */

/*
 * Entries of the compact indexes damaged below, at positions derived by
 * hand (FORMAT.md sections 2-4), not the way zmap.c computes them:
 *
 * `dump.erofs --path=/big/text-0.bin` on lz4.erofs and on
 * lz4hc-pcluster64k.erofs says: NID 331, inode size 32, xattr size 0,
 * layout 3 (compact), size 98304; `dump.erofs -s`: inode metadata start
 * block 0, 4 KiB blocks.  So the inode is at 0 * 4096 + 331 * 32 = 10592,
 * the map header at round_up(10592 + 32 + 0, 8) = 10624 and the index
 * starts at ebase = 10632.  10632 mod 32 = 8, so the first
 * ((32 - 8) / 4) & 7 = 6 entries (lcn 0-5) are in 4B packs of 2 entries
 * and 8 bytes from ebase on: lcn k sits at 10632 + 4k, in the pack at
 * round_down(10632 + 4k, 8), as its entry k mod 2.  Entry i of a 4B pack
 * is the 16-bit field at pack + 2i: lo in bits 0-11, type in 12-13.
 *
 * The values there agree with `dump.erofs -e`: lz4.erofs has extents
 * [0, 22386) @61440 and [22386, 46041) @65536, so lcn 0 is a HEAD with
 * clusterofs 0 (type 1, lo 0), lcns 1-4 NONHEADs (type 2) and lcn 2,
 * the first entry of its pack, stores delta0 = 2 (distance back to lcn
 * 0); lz4hc-pcluster64k.erofs has one extent of 98304 bytes in a
 * 12288-byte pcluster, so lcn 1 is the first NONHEAD and stores CBLKCNT
 * (bit 11) | 3 blocks.
 */
struct cpos {
	uint64_t packpos; /* image offset of the pack */
	unsigned i;       /* entry in the pack */
};

#define TEXT0_LCN0 ((struct cpos){ 10632, 0 })
#define TEXT0_LCN1 ((struct cpos){ 10632, 1 })
#define TEXT0_LCN2 ((struct cpos){ 10640, 0 })

static void compact_get(const struct memfs *m, struct cpos c, unsigned *lo, unsigned *type)
{
	unsigned v = ef_le16(m->data[0] + c.packpos + 2 * c.i);

	*lo = v & 0xfff;
	*type = (v >> 12) & 3;
}

static void compact_set(struct memfs *m, struct cpos c, unsigned lo, unsigned type)
{
	put_le16(m->data[0] + c.packpos + 2 * c.i, (uint16_t)((type << 12) | lo));
}

/* A fresh copy of fixture @name, its fs, and the inode at @path. */
struct damage {
	struct memfs m;
	struct ef_fs *fs;
	struct ef_inode ino;
};

static void damage_open(struct damage *dm, const char *name, const char *path)
{
	memfs_load(&dm->m, name);
	dm->fs = memfs_fs(&dm->m);
	ck_assert_int_eq(memfs_resolve(dm->fs, path, &dm->ino), 0);
	ck_assert(ef_inode_is_compressed(&dm->ino));
}

/* Reopen after the bytes changed: iget's result is returned. */
static int damage_reload(struct damage *dm, const char *path)
{
	ef_fs_close(dm->fs);
	dm->fs = memfs_fs(&dm->m);
	return memfs_resolve(dm->fs, path, &dm->ino);
}

static void damage_close(struct damage *dm)
{
	ef_fs_close(dm->fs);
	memfs_free(&dm->m);
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
 * lcns 1-4 NONHEADs, lcn 5 a HEAD with clusterofs 1906 (positions above).
 */
START_TEST(test_damage_lookback)
{
	struct damage dm;
	struct cpos c;
	unsigned lo, type, lcn;

	damage_open(&dm, "lz4", TEXT0);
	ck_assert_uint_eq(dm.ino.layout, EROFS_INODE_COMPRESSED_COMPACT);
	ck_assert_uint_eq(dm.ino.nid, 331);
	ck_assert_uint_eq(memfs_zheader_pos(&dm.ino), 10624);
	ck_assert_int_eq(map_at(&dm, 3 * 4096), 0);
	/* lcn 1, the last entry of its pack, stores delta1: lcns 1-4 are NONHEADs */
	compact_get(&dm.m, TEXT0_LCN1, &lo, &type);
	ck_assert_uint_eq(type, 2);
	ck_assert_uint_eq(lo, 4);
	/* lcn 2, the first entry of its pack, stores delta0 itself */
	c = TEXT0_LCN2;
	lcn = 2;
	compact_get(&dm.m, c, &lo, &type);
	ck_assert_uint_eq(type, 2);
	ck_assert_uint_eq(lo, lcn); /* its head is lcn 0 */

	compact_set(&dm.m, c, lcn + 7, 2); /* back past lcn 0 */
	ck_assert_int_eq(map_at(&dm, lcn * 4096ull + 5), -EFSCORRUPTED);
	compact_set(&dm.m, c, 0, 2); /* no progress */
	ck_assert_int_eq(map_at(&dm, lcn * 4096ull + 5), -EFSCORRUPTED);
	compact_set(&dm.m, c, 0x800 | 1, 2); /* CBLKCNT, no big pcluster */
	ck_assert_int_eq(map_at(&dm, lcn * 4096ull + 5), -EFSCORRUPTED);
	ck_assert_uint_gt(dm.m.reports, 0);
	compact_set(&dm.m, c, lcn, 2);
	ck_assert_int_eq(map_at(&dm, lcn * 4096ull + 5), 0);

	/* lcluster 0 cannot start after its own clusterofs */
	c = TEXT0_LCN0;
	compact_get(&dm.m, c, &lo, &type);
	ck_assert_uint_eq(type, 1);
	ck_assert_uint_eq(lo, 0);
	compact_set(&dm.m, c, 100, 1);
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
	ck_assert_uint_eq(dm.ino.nid, 331);
	ck_assert_uint_eq(memfs_zheader_pos(&dm.ino), 10624);
	ck_assert_int_eq(ef_map(dm.fs, &dm.ino, 50000, &m), 0);
	ck_assert_uint_eq(m.plen, 12288);
	ck_assert_uint_eq(m.llen, 98304);
	c = TEXT0_LCN1;
	compact_get(&dm.m, c, &lo, &type);
	ck_assert_uint_eq(type, 2);
	ck_assert_uint_eq(lo, 0x800 | 3);

	compact_set(&dm.m, c, 0x800 | 0x7ff, 2); /* 2047 blocks: 8 MiB > 1 MiB */
	ck_assert_int_eq(map_at(&dm, 0), -EOPNOTSUPP);
	compact_set(&dm.m, c, 0x800, 2); /* zero blocks */
	ck_assert_int_eq(map_at(&dm, 0), -EFSCORRUPTED);
	compact_set(&dm.m, c, 1, 2); /* NONHEAD after a big head without CBLKCNT */
	ck_assert_int_eq(map_at(&dm, 0), -EFSCORRUPTED);
	compact_set(&dm.m, c, 0x800 | 3, 2);
	ck_assert_int_eq(decode_at(&dm, 0), 0);

	/* compact indexes need BIG_PCLUSTER_1 == BIG_PCLUSTER_2 */
	{
		uint64_t h = memfs_zheader_pos(&dm.ino);
		uint16_t adv = ef_le16(dm.m.data[0] + h + 4);

		ck_assert(adv & Z_EROFS_ADVISE_BIG_PCLUSTER_1);
		adv &= (uint16_t)~Z_EROFS_ADVISE_BIG_PCLUSTER_2;
		dm.m.data[0][h + 4] = (uint8_t)adv;
		dm.m.data[0][h + 5] = (uint8_t)(adv >> 8);
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
	h = memfs_zheader_pos(&dm.ino);
	memcpy(save, dm.m.data[0] + h, 8);
	/* lz4.erofs has no COMPR_CFGS: big pclusters are not allowed */
	ck_assert(!(dm.fs->feature_incompat & EROFS_INCOMPAT_COMPR_CFGS));
	dm.m.data[0][h + 4] |= Z_EROFS_ADVISE_BIG_PCLUSTER_1 | Z_EROFS_ADVISE_BIG_PCLUSTER_2;
	ck_assert_int_eq(damage_reload(&dm, TEXT0), -EFSCORRUPTED);
	memcpy(dm.m.data[0] + h, save, 8);
	/* algorithm nibble 5: unknown */
	dm.m.data[0][h + 6] = 0x05;
	ck_assert_int_eq(damage_reload(&dm, TEXT0), -EOPNOTSUPP);
	dm.m.data[0][h + 6] = 0x50;
	ck_assert_int_eq(damage_reload(&dm, TEXT0), -EOPNOTSUPP);
	memcpy(dm.m.data[0] + h, save, 8);
	/* whole-file fragment without the fragments feature */
	dm.m.data[0][h + 7] |= 0x80;
	ck_assert_int_eq(damage_reload(&dm, TEXT0), -EFSCORRUPTED);
	memcpy(dm.m.data[0] + h, save, 8);
	ck_assert_int_eq(damage_reload(&dm, TEXT0), 0);
	damage_close(&dm);

	/* lzma.erofs enables only LZMA: a zstd head is corrupt */
	damage_open(&dm, "lzma", TEXT0);
	h = memfs_zheader_pos(&dm.ino);
	ck_assert_uint_eq(dm.m.data[0][h + 6] & 15, Z_EROFS_COMPRESSION_LZMA);
	dm.m.data[0][h + 6] = (uint8_t)((dm.m.data[0][h + 6] & 0xf0) | Z_EROFS_COMPRESSION_ZSTD);
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
	ck_assert_uint_le(m.pa + m.plen, dm->m.len[0]);
	if (whole) {
		memset(dm->m.data[0] + m.pa, fill, m.plen);
		return;
	}
	while (skip < m.plen && !dm->m.data[0][m.pa + skip])
		skip++;
	ck_assert_uint_lt(skip + n, m.plen);
	memset(dm->m.data[0] + m.pa + skip, fill, n);
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
	h = memfs_zheader_pos(&dm.ino);
	ck_assert_uint_eq(ef_le16(dm.m.data[0] + h + 2), 2919);
	dm.m.data[0][h + 2] = 4000 & 0xff; /* 104 + 4000 crosses the block */
	dm.m.data[0][h + 3] = 4000 >> 8;
	ck_assert_int_eq(damage_reload(&dm, TEXT0), -EFSCORRUPTED);
	damage_close(&dm);

	/* fragments: the tail's offset past the packed inode's end */
	damage_open(&dm, "fragments", TEXT0);
	ck_assert(dm.ino.z.advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER);
	ck_assert_int_eq(ef_map(dm.fs, &dm.ino, 98303, &m), 0);
	ck_assert(m.flags & EF_MAP_FRAGMENT);
	ck_assert_int_eq(decode_at(&dm, 98303), 0);
	h = memfs_zheader_pos(&dm.ino);
	memset(dm.m.data[0] + h, 0xf0, 4);
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
	rec = ((memfs_zheader_pos(&dm.ino) + 8 + 3) & ~3ull) + 8;
	plen = ef_le32(dm.m.data[0] + rec);
	ck_assert_uint_eq(plen >> 28, 1 + Z_EROFS_COMPRESSION_ZSTD);
	ck_assert_int_eq(ef_map(dm.fs, &dm.ino, 0, &m), 0);
	ck_assert_uint_eq(m.la, 0);
	ck_assert_uint_eq(m.llen, 4096);
	ck_assert_uint_eq(m.plen, plen & ((1u << 21) - 1));
	ck_assert_int_eq(decode_at(&dm, 0), 0);

	/* format 15: algorithm 14 does not exist */
	dm.m.data[0][rec + 3] = 0xf0;
	ck_assert_int_eq(map_at(&dm, 0), -EOPNOTSUPP);
	/* LZ4 is not enabled in this image */
	dm.m.data[0][rec + 3] = 0x10;
	ck_assert_int_eq(map_at(&dm, 0), -EFSCORRUPTED);
	/* a 2 MiB - 1 pcluster */
	dm.m.data[0][rec] = 0xff;
	dm.m.data[0][rec + 1] = 0xff;
	dm.m.data[0][rec + 2] = 0x1f;
	dm.m.data[0][rec + 3] = 0x40;
	ck_assert_int_eq(map_at(&dm, 0), -EOPNOTSUPP);
	/* uncompressed, but shorter than the extent */
	dm.m.data[0][rec] = 100;
	dm.m.data[0][rec + 1] = 0;
	dm.m.data[0][rec + 2] = 0;
	dm.m.data[0][rec + 3] = 0;
	ck_assert_int_eq(map_at(&dm, 0), -EFSCORRUPTED);
	/* masked length 0: a hole */
	dm.m.data[0][rec] = 0;
	ck_assert_int_eq(ef_map(dm.fs, &dm.ino, 5, &m), 0);
	ck_assert(!(m.flags & EF_MAP_MAPPED));
	ck_assert_uint_eq(m.la, 0);
	ck_assert_uint_eq(m.llen, 4096);
	damage_close(&dm);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 2. dedupe                                                            */

/* Dedupe shares pclusters: some extents use only a prefix of theirs. */
START_TEST(test_dedupe_partial)
{
	struct memfs mi;
	struct ef_fs *fs;
	struct rfiles files;
	eshare_domain *d;
	eshare_image *img;
	unsigned partial = 0, full_layout = 0;

	img = fx_attach(&d, "dedupe");
	rfiles_read(img, &files, true);
	fx_detach(d, img);

	memfs_load(&mi, "dedupe");
	fs = memfs_fs(&mi);
	for (size_t i = 0; i < files.n; i++) {
		struct ef_inode ino;
		uint8_t *buf;
		uint64_t pos = 0;

		if (!rfile_compressed(&files.v[i]))
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
		ck_assert_int_eq(memfs_decode_file(fs, &ino, buf), 0);
		ck_assert(!memcmp(buf, files.v[i].data, ino.size));
		free(buf);
	}
	ck_assert_uint_gt(partial, 0);
	ck_assert_uint_gt(full_layout, 0);
	ck_assert_uint_gt(mi.decoded, 0);
	ef_fs_close(fs);
	memfs_free(&mi);
	rfiles_free(&files);
}
END_TEST

static Suite *format_zmap_suite(void)
{
	Suite *s = suite_create("format_zmap");
	TCase *tc = tcase_create("fixtures");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_extents_vs_dump, 0, (int)fx_select(NULL, 0, FX_DUMP15, 0));
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
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(format_zmap_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
