// SPDX-License-Identifier: MIT
/*
 * The superblock (lib/format/super.c) against hostile bytes, through the
 * public API on memory backends: every bit of the superblock of ten
 * fixtures flipped one at a time, hand-made bad fields, bad checksums and
 * roots that are not directories.
 *
 * Errnos, as the kernel and FORMAT.md section 1 decide them: bad magic
 * -ESHARE_ENOTEROFS ("not an EROFS image"), blkszbits outside 9..16
 * -EFSCORRUPTED, checksum mismatch -EFSCORRUPTED (the kernel says
 * -EBADMSG; the library folds it into "bad image"), unknown incompatible
 * feature -EOPNOTSUPP, root not a directory -EFSCORRUPTED.
 *
 * Under ASan+UBSan each superblock-flip image flips a third of the bits
 * (the ten images together still flip every bit); ESHARE_TEST_FULL=1 all.
 * helpers/hostile.h tells how to rerun one case.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <erofs_share/erofs_share.h>

#include "helpers/hostile.h"

/* The checksum recomputation must reproduce what mkfs wrote. */
START_TEST(test_checksum_recompute)
{
	for (unsigned i = 0; i < nhfixtures; i++) {
		const struct hfix *f = &hfixtures[i];
		uint8_t *c = malloc(f->len);

		ck_assert_ptr_nonnull(c);
		memcpy(c, f->data, f->len);
		sb_fix_checksum(c, f->len);
		ck_assert_msg(!memcmp(c, f->data, f->len), "%s: checksum recomputed differently",
			      f->name);
		free(c);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Every bit                                                            */

/*
 * Every bit of the superblock region, one at a time, with the checksum
 * fixed (except for the checksum's own bits): known fields must give their
 * specific errno, the rest anything but a crash.
 */
static int sb_flip_expect(size_t off, unsigned bit, uint8_t newval, bool had_csum)
{
	size_t rel = off - EROFS_SUPER_OFFSET;

	if (rel < 4)
		return ERR_BAD_MAGIC;
	if (rel < 8 && had_csum)
		return ERR_BAD_CSUM;
	if (rel == offsetof(struct erofs_super_block, blkszbits) && (newval < 9 || newval > 16))
		return ERR_BAD_BLKSZ;
	if (rel >= offsetof(struct erofs_super_block, feature_incompat) &&
	    rel < offsetof(struct erofs_super_block, feature_incompat) + 4) {
		unsigned b = (unsigned)(rel - offsetof(struct erofs_super_block, feature_incompat)) *
			     8 + bit;

		if (!(EROFS_INCOMPAT_ALL & (1u << b)))
			return -EOPNOTSUPP;
	}
	return 0;
}

/* One image per superblock layout: block sizes, algorithm configurations,
 * an extra device, 48-bit, metabox, long prefixes, a packed inode. */
static const char *const sb_flip_images[] = {
	"plain-4k.erofs", "plain-512.erofs", "lz4hc-pcluster64k.erofs", "lzma.erofs",
	"multidev.erofs", "48bit.erofs", "metabox.erofs", "digest-lz4.erofs",
	"fragments.erofs", "xattr-filter.erofs",
};

START_TEST(test_sb_bits)
{
	const struct hfix *f = hfix_named(sb_flip_images[_i]);
	const uint8_t *dev = f->dev;
	bool had_csum = ef_le32(f->data + SB(feature_compat)) & EROFS_COMPAT_SB_CHKSUM;
	double t0 = now_seconds();
	unsigned attached = 0, cases = 0;
	eshare_domain *d;
	uint8_t *c;

	if (hfix_skipped(f))
		return;
	c = malloc(f->len);
	d = new_domain();
	ck_assert_ptr_nonnull(c);
	memcpy(c, f->data, f->len);
	for (size_t off = EROFS_SUPER_OFFSET; off < EROFS_SUPER_OFFSET + 144; off++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			size_t rel = off - EROFS_SUPER_OFFSET;
			int expect, rc;

			if ((rel * 8 + bit) % sample_stride != (unsigned)_i % sample_stride)
				continue;

			memcpy(c, f->data, 8192 < f->len ? 8192 : f->len);
			c[off] ^= (uint8_t)(1u << bit);
			if (rel < 4 || rel >= 8)
				sb_fix_checksum(c, f->len);
			expect = sb_flip_expect(off, bit, c[off], had_csum);
			set_case("%s superblock byte %zu (field offset %zu) bit %u flipped%s",
				 f->name, off, rel, bit,
				 rel >= 4 && rel < 8 ? "" : ", checksum fixed");
			rc = run_case(d, c, f->len, dev, f->dev_len, &short_walk, NULL);
			if (expect)
				ck_assert_msg(rc == expect, "%s: attach %d, expected %d", current_case,
					      rc, expect);
			attached += !rc;
			cases++;
		}
	}
	fprintf(stderr, "sb bits %s: %u cases, %u attached, %.1f s\n", f->name, cases, attached,
		now_seconds() - t0);
	free(c);
	close_domain(d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Hand-made damage on plain-4k.erofs                                   */

static void sb_patch_expect(void (*patch)(uint8_t *d), int expect, const char *what)
{
	struct patched x;
	int rc;

	uint64_t logged = __atomic_load_n(&log_lines, __ATOMIC_RELAXED);

	patched_begin(&x);
	patch(x.d);
	set_case("plain-4k.erofs: %s", what);
	rc = patched_attach(&x);
	ck_assert_msg(rc == expect, "%s: attach %d, expected %d", what, rc, expect);
	/* a corrupt image is reported to the domain's log, not only by errno */
	if (expect == -EFSCORRUPTED)
		ck_assert_msg(__atomic_load_n(&log_lines, __ATOMIC_RELAXED) > logged,
			      "%s: nothing logged", what);
	patched_end(&x);
}

static void patch_magic(uint8_t *d) { put_le32(d + SB(magic), 0xE0F5E1E3); }
static void patch_blkszbits_8(uint8_t *d) { d[SB(blkszbits)] = 8; }
static void patch_blkszbits_17(uint8_t *d) { d[SB(blkszbits)] = 17; }
static void patch_incompat_0x200(uint8_t *d)
{
	put_le32(d + SB(feature_incompat), ef_le32(d + SB(feature_incompat)) | 0x200);
}
static void patch_incompat_top(uint8_t *d)
{
	put_le32(d + SB(feature_incompat), ef_le32(d + SB(feature_incompat)) | 0x80000000u);
}
static void patch_dirblkbits(uint8_t *d) { d[SB(dirblkbits)] = 1; }
static void patch_extslots_huge(uint8_t *d) { d[SB(sb_extslots)] = 255; }
static void patch_packed_metabox_bit(uint8_t *d)
{
	put_le32(d + SB(feature_incompat), ef_le32(d + SB(feature_incompat)) |
					   EROFS_INCOMPAT_FRAGMENTS);
	put_le64(d + SB(packed_nid), EROFS_NID_METABOX_BIT | 5);
}
static void patch_metabox_no_ext(uint8_t *d)
{
	put_le32(d + SB(feature_incompat), ef_le32(d + SB(feature_incompat)) |
					   EROFS_INCOMPAT_METABOX);
}
static void patch_ishare_id(uint8_t *d)
{
	put_le32(d + SB(feature_compat), ef_le32(d + SB(feature_compat)) |
					 EROFS_COMPAT_ISHARE_XATTRS);
	d[SB(ishare_xattr_prefix_id)] = 3; /* no prefix table at all */
}
static void patch_unknown_alg(uint8_t *d)
{
	put_le32(d + SB(feature_incompat), ef_le32(d + SB(feature_incompat)) |
					   EROFS_INCOMPAT_COMPR_CFGS);
	put_le16(d + SB(u1), 0x10);
}
static void patch_devices_missing(uint8_t *d)
{
	put_le32(d + SB(feature_incompat), ef_le32(d + SB(feature_incompat)) |
					   EROFS_INCOMPAT_DEVICE_TABLE);
	put_le16(d + SB(extra_devices), 1);
	put_le16(d + SB(devt_slotoff), 16); /* byte 2048: some inode; tag is opaque */
}

START_TEST(test_bad_superblocks)
{
	sb_patch_expect(patch_magic, ERR_BAD_MAGIC, "bad magic");
	sb_patch_expect(patch_blkszbits_8, ERR_BAD_BLKSZ, "blkszbits 8");
	sb_patch_expect(patch_blkszbits_17, ERR_BAD_BLKSZ, "blkszbits 17");
	sb_patch_expect(patch_incompat_0x200, -EOPNOTSUPP, "incompat bit 0x200");
	sb_patch_expect(patch_incompat_top, -EOPNOTSUPP, "incompat bit 0x80000000");
	sb_patch_expect(patch_dirblkbits, -EOPNOTSUPP, "dirblkbits 1");
	sb_patch_expect(patch_extslots_huge, -EFSCORRUPTED, "sb_extslots 255");
	sb_patch_expect(patch_packed_metabox_bit, -EFSCORRUPTED, "packed nid with bit 63");
	sb_patch_expect(patch_metabox_no_ext, -EFSCORRUPTED, "metabox without sb extension");
	sb_patch_expect(patch_ishare_id, -EFSCORRUPTED, "ishare prefix id without prefixes");
	sb_patch_expect(patch_unknown_alg, -EOPNOTSUPP, "unknown compression algorithm bit");
	sb_patch_expect(patch_devices_missing, -ENXIO, "extra device not given");
}
END_TEST

START_TEST(test_bad_checksum)
{
	const struct hfix *f = hfix_named("plain-4k.erofs");
	eshare_domain *d = new_domain();
	uint8_t *c = malloc(f->len);
	eshare_image *img;
	int rc;

	ck_assert_ptr_nonnull(c);
	/* a byte of the checksummed area past the superblock, checksum kept */
	memcpy(c, f->data, f->len);
	c[4000] ^= 0x40;
	set_case("plain-4k.erofs: byte 4000 changed, checksum kept");
	rc = attach_mem(&img, d, c, f->len, NULL, 0);
	ck_assert_int_eq(rc, ERR_BAD_CSUM);
	/* the stored checksum itself wrong */
	memcpy(c, f->data, f->len);
	c[SB(checksum)] ^= 1;
	rc = attach_mem(&img, d, c, f->len, NULL, 0);
	ck_assert_int_eq(rc, ERR_BAD_CSUM);
	/* with the checksum feature off the same byte goes unnoticed here */
	memcpy(c, f->data, f->len);
	c[4000] ^= 0x40;
	put_le32(c + SB(feature_compat), ef_le32(c + SB(feature_compat)) & ~EROFS_COMPAT_SB_CHKSUM);
	rc = attach_mem(&img, d, c, f->len, NULL, 0);
	ck_assert_int_eq(rc, 0);
	eshare_image_detach(img);
	free(c);
	close_domain(d);
}
END_TEST

START_TEST(test_root_not_dir)
{
	struct patched x;
	struct pino file;
	uint64_t dpos;
	int rc;

	patched_begin(&x);
	p_path(&x.p, "files/tiny-13-100", &file, &dpos);
	ck_assert_uint_eq(file.mode & S_IFMT, S_IFREG);
	ck_assert_uint_le(file.nid, 0xFFFF);
	put_le16(x.d + SB(rootnid_2b), (uint16_t)file.nid);
	set_case("plain-4k.erofs: root nid %llu is a regular file", (unsigned long long)file.nid);
	rc = patched_attach(&x);
	ck_assert_int_eq(rc, -EFSCORRUPTED);
	/* a root nid past the end of the image */
	memcpy(x.d, hfix_named("plain-4k.erofs")->data, x.len);
	put_le16(x.d + SB(rootnid_2b), 0xFFFF);
	set_case("plain-4k.erofs: root nid 65535 (past the end)");
	rc = patched_attach(&x);
	ck_assert_msg(rc == -EFSCORRUPTED || rc == -EIO, "root past the end: %d", rc);
	patched_end(&x);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("format_super");
	TCase *tc;

	tc = tcase_create("handmade");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_checksum_recompute);
	tcase_add_test(tc, test_bad_superblocks);
	tcase_add_test(tc, test_bad_checksum);
	tcase_add_test(tc, test_root_not_dir);
	suite_add_tcase(s, tc);

	tc = tcase_create("bits");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_sb_bits, 0,
			    (int)(sizeof(sb_flip_images) / sizeof(sb_flip_images[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hostile_main("test_format_super", make_suite());
}
