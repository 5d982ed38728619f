// SPDX-License-Identifier: MIT
/*
 * Inodes (lib/format/inode.c) against hostile bytes, through the public
 * API on memory backends: hand-made bad inodes of plain-4k.erofs, and
 * eshare_inode_open() of every number that is no inode's.
 *
 * Inodes follow FORMAT.md section 3 and the kernel: reserved i_format bits
 * and data layouts 5..7 -EOPNOTSUPP, a bad file type or i_size above
 * INT64_MAX -EFSCORRUPTED.  Under ASan+UBSan a third of the inode numbers
 * are opened; ESHARE_TEST_FULL=1 opens all.
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

/* Patch the inode of @path with @fn, attach, expect @expect from lookup. */
static void inode_patch_expect(const char *path, void (*fn)(uint8_t *raw, void *arg), void *arg,
			       int expect, const char *what)
{
	struct patched x;
	struct pino ino;
	uint64_t dpos;
	int rc;

	patched_begin(&x);
	p_path(&x.p, path, &ino, &dpos);
	fn(x.d + ino.pos, arg);
	set_case("plain-4k.erofs: %s: %s (inode at %llu)", path, what,
		 (unsigned long long)ino.pos);
	rc = patched_attach(&x);
	ck_assert_msg(rc == 0, "%s: attach %d", current_case, rc);
	rc = lookup_rc(&x, path, NULL);
	ck_assert_msg(rc == expect, "%s: lookup %d, expected %d", current_case, rc, expect);
	/* the directory holding it still lists (names come from the dirents) */
	patched_end(&x);
}

static void set_format_bits(uint8_t *raw, void *arg)
{
	uint16_t v = ef_le16(raw) | (uint16_t)(uintptr_t)arg;

	put_le16(raw, v);
}

static void set_layout(uint8_t *raw, void *arg)
{
	uint16_t v = ef_le16(raw);

	v &= (uint16_t)~(EROFS_I_DATALAYOUT_MASK << EROFS_I_DATALAYOUT_SHIFT);
	v |= (uint16_t)((uintptr_t)arg << EROFS_I_DATALAYOUT_SHIFT);
	put_le16(raw, v);
}

static void set_mode_type(uint8_t *raw, void *arg)
{
	uint16_t mode = ef_le16(raw + offsetof(struct erofs_inode_compact, i_mode));

	mode = (uint16_t)((mode & 07777) | (uintptr_t)arg);
	put_le16(raw + offsetof(struct erofs_inode_compact, i_mode), mode);
}

static void set_ext_size(uint8_t *raw, void *arg)
{
	ck_assert_uint_eq(ef_le16(raw) & EROFS_I_VERSION_MASK, 1);
	put_le64(raw + offsetof(struct erofs_inode_extended, i_size), *(uint64_t *)arg);
}

START_TEST(test_bad_inodes)
{
	static const char reg[] = "files/tiny-13-100";
	uint64_t huge = 1ull << 63, big = 1ull << 62;

	inode_patch_expect(reg, set_format_bits, (void *)(uintptr_t)0x20, -EOPNOTSUPP,
			   "i_format bit 5");
	inode_patch_expect(reg, set_format_bits, (void *)(uintptr_t)0x8000, -EOPNOTSUPP,
			   "i_format bit 15");
	for (uintptr_t l = 5; l <= 7; l++)
		inode_patch_expect(reg, set_layout, (void *)l, -EOPNOTSUPP, "datalayout 5..7");
	inode_patch_expect(reg, set_mode_type, (void *)(uintptr_t)0, -EFSCORRUPTED,
			   "file type 0");
	inode_patch_expect(reg, set_mode_type, (void *)(uintptr_t)0030000, -EFSCORRUPTED,
			   "file type 03");
	inode_patch_expect(reg, set_mode_type, (void *)(uintptr_t)0170000, -EFSCORRUPTED,
			   "file type 017");
	inode_patch_expect("times/base-plus-1", set_ext_size, &huge, -EFSCORRUPTED,
			   "extended i_size 2^63");
	/* the directory /files itself with a reserved bit: lookups below it fail */
	inode_patch_expect("files", set_format_bits, (void *)(uintptr_t)0x40, -EOPNOTSUPP,
			   "directory i_format bit 6");

	/*
	 * A 2^62-byte inline file: not corrupt by itself at open (the kernel
	 * opens it too), but its blocks lie past the device: reading must fail.
	 */
	{
		struct patched x;
		struct pino ino;
		eshare_inode *in;
		uint64_t dpos;
		char buf[64];
		ssize_t r;
		int rc;

		patched_begin(&x);
		p_path(&x.p, "times/base-plus-1", &ino, &dpos);
		set_ext_size(x.d + ino.pos, &big);
		set_case("plain-4k.erofs: times/base-plus-1 i_size 2^62");
		ck_assert_int_eq(patched_attach(&x), 0);
		rc = lookup_rc(&x, "times/base-plus-1", &in);
		if (rc == 0) {
			r = eshare_pread(in, buf, sizeof(buf), 0);
			ck_assert_msg(r == -EFSCORRUPTED || r == -EIO, "pread: %zd", r);
			r = eshare_pread(in, buf, sizeof(buf), big - 8);
			ck_assert_msg(r < 0, "pread at the end: %zd", r);
			eshare_inode_put(in);
		} else {
			ck_assert_int_eq(rc, -EFSCORRUPTED);
		}
		patched_end(&x);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* eshare_inode_open() of numbers that are no inode's                  */

/*
 * Every inode number up to the image's size in slots (most of them the
 * middle of an inode, an xattr area, a directory block or file data), the
 * first 4096 metabox numbers (bit 31), and numbers at and past the ends:
 * opening fails with -EINVAL, -EFSCORRUPTED, -EIO or -EOPNOTSUPP, or gives
 * an inode everything can be called on.
 */
static const char *const open_images[] = {
	"plain-4k.erofs", "lz4.erofs", "metabox.erofs", "48bit.erofs", "plain-512.erofs",
};

START_TEST(test_inode_open_garbage)
{
	const struct hfix *f = hfix_named(open_images[_i]);
	static const struct walk_stats tiny = { .max_entries = 40, .max_bytes = 256u << 10 };
	uint64_t seed = name_hash(f->name), specials[80];
	uint64_t maxslots = 40000 / sample_stride;
	uint64_t nslots = f->len / 32 < maxslots ? f->len / 32 : maxslots;
	unsigned nspecial = 0, opened = 0;
	double t0 = now_seconds();
	eshare_domain *d;
	eshare_image *img;
	int rc;

	if (hfix_skipped(f))
		return;
	d = new_domain();
	set_case("%s attach", f->name);
	rc = attach_mem(&img, d, f->data, f->len, NULL, 0);
	ck_assert_int_eq(rc, 0);
	specials[nspecial++] = UINT64_MAX;
	specials[nspecial++] = UINT64_MAX >> 1;
	specials[nspecial++] = 1ull << 63;
	specials[nspecial++] = (1ull << 63) | 1;
	specials[nspecial++] = 1ull << 31;
	specials[nspecial++] = (1ull << 32) - 1;
	specials[nspecial++] = 1ull << 32;
	specials[nspecial++] = f->len / 32 - 2;
	specials[nspecial++] = f->len / 32 - 1;
	specials[nspecial++] = f->len / 32;
	specials[nspecial++] = f->len / 32 + 1;
	while (nspecial < sizeof(specials) / sizeof(specials[0]))
		specials[nspecial++] = rng_next(&seed) >> (rng_next(&seed) % 64);
	for (uint64_t k = 0; k < nslots + 4096 + nspecial; k++) {
		/* every slot; metabox slots (bit 31 of the ino); the specials */
		uint64_t ino = k < nslots ? k : k < nslots + 4096 ? (1ull << 31) + k - nslots :
					      specials[k - nslots - 4096];
		struct walk_stats ws = tiny;
		eshare_inode *in;

		set_case("%s inode_open(%llu)", f->name, (unsigned long long)ino);
		alarm(CASE_ALARM_SECONDS);
		rc = eshare_inode_open(&in, img, ino);
		if (rc) {
			alarm(0);
			ck_assert_msg(rc == -EINVAL || rc == -EFSCORRUPTED || rc == -EIO ||
				      rc == -EOPNOTSUPP, "%s: %d", current_case, rc);
			continue;
		}
		opened++;
		eshare_test_walk_from(img, in, &ws);
		eshare_inode_put(in);
		alarm(0);
		check_walk(&ws);
	}
	eshare_image_detach(img);
	fprintf(stderr, "inode_open %s: %llu numbers, %u opened, %.1f s\n", f->name,
		(unsigned long long)(nslots + 4096 + nspecial), opened, now_seconds() - t0);
	close_domain(d);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("format_inode");
	TCase *tc;

	tc = tcase_create("handmade");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_bad_inodes);
	tcase_add_loop_test(tc, test_inode_open_garbage, 0,
			    (int)(sizeof(open_images) / sizeof(open_images[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hostile_main("test_format_inode", make_suite());
}
