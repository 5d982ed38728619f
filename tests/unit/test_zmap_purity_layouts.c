// SPDX-License-Identifier: MIT
/*
 * A compressed file's bytes are a pure function of the image, whatever the
 * order of the reads (test_zmap_purity.c says how that is checked), for
 * the layouts made here from fixtures or with a real tool:
 *
 * 1. 48-bit encoded extents rewritten as 16-byte records that overlap, go
 *    backwards or start past the end of the file.
 * 2. Full (legacy) lcluster indexes, from an image that Debian's
 *    mkfs.erofs makes with -Elegacy-compress in a size-capped tmpfs
 *    (skipped without it): a NONHEAD whose lookahead jumps over the next
 *    head.
 * 3. An LZ4-only image without compr_cfgs, without 0padding and with a
 *    max distance of 0 (what mkfs.erofs --zD without -z writes), made from
 *    all-fragments.erofs, is read as the kernel reads it: the kernel mounts
 *    it (loop device, size-capped tmpfs; skipped with a reason when not
 *    root) and every regular file is compared byte for byte.
 *
 * ESHARE_PURITY_SEEDS=DIR writes the crafted images to DIR.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <erofs_share/erofs_share.h>

#include "format/format.h"
#include "format/ondisk.h"
#include "helpers/fixtures.h"
#include "helpers/memfs.h"
#include "helpers/purity.h"

#define TEXT0 "/big/text-0.bin"
enum { T_NONHEAD = 2 };

/*
 * 48bit.erofs /big/text-0.bin uses 4-byte encoded-extent records (one per
 * lcluster, after a le64 base).  Copy the inode to a new block at the end
 * of the image with its extents as 16-byte records {plen, pstart_lo,
 * pstart_hi, lstart_lo} and point the directory entry at it.  Returns the
 * position of record 0; *nrec = the number of records.
 */
static uint64_t make_ext16(struct memfs *im, unsigned *nrec)
{
	struct ef_fs *fs = memfs_fs(im);
	struct ef_inode ino, dir;
	const uint64_t blksz = fs->blksz;
	uint64_t oldhp, base, newpos, newnid, hp, rp, pa;
	unsigned isz, n, L;
	bool patched = false;

	ck_assert_int_eq(memfs_resolve(fs, TEXT0, &ino), 0);
	ck_assert_uint_eq(ino.z.recsz, 4);
	L = ino.z.lclusterbits;
	n = (unsigned)((ino.size + (1ull << L) - 1) >> L);
	oldhp = memfs_zheader_pos(&ino);
	base = ef_le64(im->data[0] + oldhp + 8);
	isz = ino.inode_isize + ino.xattr_isize;

	newpos = (im->len[0] + blksz - 1) & ~(blksz - 1);
	memfs_grow(im, newpos + blksz * 2);
	memcpy(im->data[0] + newpos, im->data[0] + ino.iloc, isz);
	hp = (newpos + isz + 7) & ~7ull;
	memcpy(im->data[0] + hp, im->data[0] + oldhp, 8);
	/* advise bits 1-2: record size 4 << 2 = 16; bytes 0-3 and 6-7: the count */
	put_le16(im->data[0] + hp + 4, (uint16_t)((ef_le16(im->data[0] + oldhp + 4) & ~6u) | (2u << 1)));
	put_le32(im->data[0] + hp, n);
	put_le16(im->data[0] + hp + 6, 0);
	rp = (hp + 8 + 15) & ~15ull;
	ck_assert_uint_le(rp + 16ull * n, im->len[0]);
	pa = base;
	for (unsigned k = 0; k < n; k++) {
		uint32_t plen = ef_le32(im->data[0] + oldhp + 16 + 4ull * k);
		uint8_t *r = im->data[0] + rp + 16ull * k;

		put_le32(r, plen);
		put_le32(r + 4, (uint32_t)pa);
		put_le32(r + 8, (uint32_t)(pa >> 32));
		put_le32(r + 12, k << L);
		pa += plen & ((1u << 21) - 1);
	}
	ck_assert_uint_eq((newpos - fs->meta_blkaddr * blksz) % 32, 0);
	newnid = (newpos - fs->meta_blkaddr * blksz) / 32;

	/* the directory entry of text-0.bin in /big */
	ck_assert_int_eq(memfs_resolve(fs, "/big", &dir), 0);
	for (uint64_t off = 0; off < dir.size; off += blksz) {
		struct ef_map m;
		uint64_t at, len = dir.size - off < blksz ? dir.size - off : blksz;
		unsigned cnt;

		ck_assert_int_eq(ef_map(fs, &dir, off, &m), 0);
		ck_assert(m.flags & EF_MAP_MAPPED);
		at = m.pa + (off - m.la);
		cnt = ef_le16(im->data[0] + at + 8) / 12;
		for (unsigned i = 0; i < cnt && 12ull * i < len; i++) {
			if (ef_le64(im->data[0] + at + 12ull * i) == ino.nid) {
				put_le64(im->data[0] + at + 12ull * i, newnid);
				patched = true;
			}
		}
	}
	ck_assert(patched);
	ef_fs_close(fs);
	sb_fix_checksum(im->data[0], im->len[0]);
	*nrec = n;
	return rp;
}

START_TEST(test_ext16_overlap)
{
	struct memfs im, orig, ref;
	struct ef_fs *fs;
	struct ef_inode a, b;
	unsigned n;
	uint64_t rp;
	uint8_t *x, *y;
	struct eshare_stat st = ESHARE_STAT_INIT;
	eshare_domain *d;
	eshare_image *img;
	eshare_inode *f;

	memfs_load(&orig, "48bit");
	memfs_load(&ref, "48bit");
	rp = make_ext16(&orig, &n);
	ck_assert_uint_ge(n, 4);

	/* the rewritten inode reads as the original one */
	fs = memfs_fs(&orig);
	ck_assert_int_eq(memfs_resolve(fs, TEXT0, &a), 0);
	ck_assert_uint_eq(a.z.recsz, 16);
	ck_assert_uint_eq(a.z.extents, n);
	ef_fs_close(fs);
	fs = memfs_fs(&ref);
	ck_assert_int_eq(memfs_resolve(fs, TEXT0, &b), 0);
	ck_assert_uint_eq(a.size, b.size);
	ef_fs_close(fs);
	x = malloc(a.size);
	y = malloc(a.size);
	ck_assert(x && y);
	ck_assert_int_eq(purity_attach(&d, &img, &orig), 0);
	ck_assert_int_eq(eshare_lookup(&f, img, TEXT0), 0);
	ck_assert_int_eq(eshare_stat(f, &st), 0);
	ck_assert_uint_eq(st.ino, a.ino);
	ck_assert_int_eq(eshare_pread(f, x, a.size, 0), (ssize_t)a.size);
	eshare_inode_put(f);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	ck_assert_int_eq(purity_attach(&d, &img, &ref), 0);
	ck_assert_int_eq(eshare_lookup(&f, img, TEXT0), 0);
	ck_assert_int_eq(eshare_pread(f, y, a.size, 0), (ssize_t)a.size);
	eshare_inode_put(f);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	ck_assert(!memcmp(x, y, a.size));
	free(x);
	free(y);
	ck_assert_uint_eq(check_crafted(&orig, TEXT0, NULL), 0);

	memfs_adopt(&im, malloc(orig.len[0]), orig.len[0]);
	ck_assert_ptr_nonnull(im.data[0]);

	/* record 2 starts where record 1 does: they overlap */
	memcpy(im.data[0], orig.data[0], im.len[0]);
	put_le32(im.data[0] + rp + 32 + 12, ef_le32(im.data[0] + rp + 16 + 12));
	ck_assert_uint_gt(check_crafted(&im, TEXT0, "zmap-ext16-overlap.bin"), 0);

	/* record 2 starts inside record 0: out of order */
	memcpy(im.data[0], orig.data[0], im.len[0]);
	put_le32(im.data[0] + rp + 32 + 12, 100);
	ck_assert_uint_gt(check_crafted(&im, TEXT0, "zmap-ext16-backwards.bin"), 0);

	/* the last record starts past the end of the file */
	memcpy(im.data[0], orig.data[0], im.len[0]);
	put_le32(im.data[0] + rp + 16ull * (n - 1) + 12, (uint32_t)a.size + 1);
	ck_assert_uint_gt(check_crafted(&im, TEXT0, "zmap-ext16-past-eof.bin"), 0);

	memfs_free(&im);
	memfs_free(&orig);
	memfs_free(&ref);
}
END_TEST

/*
 * Full (legacy) lcluster indexes: an image made by Debian's mkfs.erofs
 * (1.5) with -Elegacy-compress in a size-capped tmpfs.  A NONHEAD's
 * delta[1] made to jump over the next head.
 */
START_TEST(test_full_lookahead_skips_head)
{
	char cmd[1024];
	struct memfs im;
	struct ef_fs *fs;
	struct ef_inode ino;
	uint64_t idx;
	unsigned n, k, L;
	uint8_t *data;
	size_t len;
	FILE *f;

	if (run_cmd("command -v mkfs.erofs >/dev/null 2>&1") != 0) {
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
	if (run_cmd(cmd) != 0) {
		tmpfs_down();
		ck_abort_msg("mkfs.erofs -Elegacy-compress failed: %s", cmd);
	}
	snprintf(cmd, sizeof(cmd), "%s/img", tmpfs_dir);
	data = test_load_file(cmd, &len);
	tmpfs_down();
	ck_assert_ptr_nonnull(data);
	memfs_adopt(&im, data, len);

	fs = memfs_fs(&im);
	ck_assert_int_eq(memfs_resolve(fs, "/text", &ino), 0);
	ck_assert_uint_eq(ino.layout, EROFS_INODE_COMPRESSED_FULL);
	L = ino.z.lclusterbits;
	n = (unsigned)((ino.size + (1ull << L) - 1) >> L);
	idx = memfs_zheader_pos(&ino) + 16;
	/* a NONHEAD whose delta[1] reaches a head with an lcluster after it */
	for (k = 1; k + 2 < n; k++) {
		const uint8_t *di = im.data[0] + idx + 8ull * k;
		unsigned d1 = ef_le16(di + 6);

		if ((ef_le16(di) & 3) == T_NONHEAD && d1 && k + d1 + 1 < n &&
		    (ef_le16(im.data[0] + idx + 8ull * (k + d1)) & 3) != T_NONHEAD)
			break;
	}
	ck_assert_msg(k + 2 < n, "no NONHEAD before a head in the full index");
	ef_fs_close(fs);
	ck_assert_uint_eq(check_crafted(&im, "/text", NULL), 0);
	put_le16(im.data[0] + idx + 8ull * k + 6, (uint16_t)(ef_le16(im.data[0] + idx + 8ull * k + 6) + 1));
	ck_assert_uint_gt(check_crafted(&im, "/text", "zmap-full-lookahead-skips-head.bin"), 0);
	memfs_free(&im);
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
static void make_lz4_plain_sb(struct memfs *im)
{
	struct ef_fs *fs = memfs_fs(im);
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
	start = (im->len[0] + blksz - 1) & ~(blksz - 1);
	memfs_grow(im, start + ((size + blksz - 1) & ~(blksz - 1)));
	ck_assert_int_eq(ef_read_data_uncached(fs, pk, im->data[0] + start, size, 0), 0);
	ef_fs_close(fs);

	/* the packed inode: flat plain at @start */
	fmt = ef_le16(im->data[0] + iloc);
	fmt &= (uint16_t)~(EROFS_I_DATALAYOUT_MASK << EROFS_I_DATALAYOUT_SHIFT);
	fmt |= (uint16_t)(EROFS_INODE_FLAT_PLAIN << EROFS_I_DATALAYOUT_SHIFT);
	put_le16(im->data[0] + iloc, fmt);
	put_le32(im->data[0] + iloc + 16, (uint32_t)(start / blksz));

	sb = im->data[0] + EROFS_SUPER_OFFSET;
	put_le32(sb + offsetof(struct erofs_super_block, feature_incompat),
		 ef_le32(sb + offsetof(struct erofs_super_block, feature_incompat)) &
			 ~EROFS_INCOMPAT_LZ4_0PADDING);
	put_le16(sb + offsetof(struct erofs_super_block, u1), 0);
	put_le32(sb + offsetof(struct erofs_super_block, blocks_lo), (uint32_t)(im->len[0] / blksz));
	sb_fix_checksum(im->data[0], im->len[0]);
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

		ck_assert_int_eq(memfs_resolve(kc->fs, rel, &ino), 0);
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
	struct memfs im;
	struct ef_fs *fs;
	eshare_domain *d;
	eshare_image *img;
	char path[128], mnt[128], cmd[512];
	struct kcmp k = { 0 };
	int rc;

	memfs_load(&im, "all-fragments");
	make_lz4_plain_sb(&im);

	/* the library reads it */
	rc = memfs_open(&im, &fs);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(fs->available_compr_algs, 1u << Z_EROFS_COMPRESSION_LZ4);
	ck_assert(!(fs->feature_incompat & EROFS_INCOMPAT_LZ4_0PADDING));
	ck_assert_int_eq(ef_le16(im.data[0] + EROFS_SUPER_OFFSET + offsetof(struct erofs_super_block, u1)),
			 0);
	ck_assert_uint_eq(fs->packed->layout, EROFS_INODE_FLAT_PLAIN);
	ck_assert_int_eq(purity_attach(&d, &img, &im), 0);

	/* ... as the kernel does */
	if (!tmpfs_up("kernel comparison", "4m")) {
		eshare_image_detach(img);
		eshare_domain_close(d);
		ef_fs_close(fs);
		memfs_free(&im);
		return;
	}
	snprintf(path, sizeof(path), "%s/img", tmpfs_dir);
	snprintf(mnt, sizeof(mnt), "%s/mnt", tmpfs_dir);
	{
		FILE *f = fopen(path, "wb");

		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(im.data[0], 1, im.len[0], f), im.len[0]);
		ck_assert_int_eq(fclose(f), 0);
	}
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	if (run_cmd("losetup -f >/dev/null 2>&1") != 0 ||
	    run_cmd("grep -qw erofs /proc/filesystems || modprobe erofs >/dev/null 2>&1") != 0) {
		printf("SKIP kernel comparison: no free loop device or no erofs in the kernel\n");
		tmpfs_down();
		eshare_image_detach(img);
		eshare_domain_close(d);
		ef_fs_close(fs);
		memfs_free(&im);
		return;
	}
	snprintf(cmd, sizeof(cmd), "mount -t erofs -o ro,loop %s %s", path, mnt);
	rc = run_cmd(cmd);
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
	ck_assert_int_eq(run_cmd(cmd), 0);
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
	memfs_free(&im);
}
END_TEST

static Suite *layouts_suite(void)
{
	Suite *s = suite_create("zmap_purity_layouts");
	TCase *tc = tcase_create("layouts");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_ext16_overlap);
	tcase_add_test(tc, test_full_lookahead_skips_head);
	tcase_add_test(tc, test_lz4_without_cfgs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(layouts_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
