// SPDX-License-Identifier: MIT
/*
 * Xattr areas (lib/format/xattr.c) against hostile bytes, through the
 * public API on memory backends: hand-made bad inline xattr areas of
 * plain-4k.erofs.  Xattrs are read lazily, as in the kernel: the file
 * opens, listxattr and getxattr give -EFSCORRUPTED.
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

/* ------------------------------------------------------------------ */
/* Bad xattr areas                                                      */

/* The first inode under xattr/ with inline entries (icount > 1). */
static void find_xattr_inode(const struct pimg *p, const char *path, struct pino *ino)
{
	uint64_t dpos;

	p_path(p, path, ino, &dpos);
	ck_assert_msg(ino->icount > 1, "%s has no inline xattrs", path);
}

static void xattr_expect(struct patched *x, const char *path, const char *name)
{
	eshare_inode *in;
	char buf[4096];
	ssize_t r;
	int rc;

	ck_assert_int_eq(patched_attach(x), 0);
	rc = lookup_rc(x, path, &in);
	/* xattrs are read lazily, as in the kernel: the file itself opens */
	ck_assert_msg(rc == 0, "%s: lookup %d", current_case, rc);
	r = eshare_listxattr(in, buf, sizeof(buf));
	ck_assert_msg(r == -EFSCORRUPTED, "%s: listxattr %zd", current_case, r);
	r = eshare_getxattr(in, name, buf, sizeof(buf));
	ck_assert_msg(r == -EFSCORRUPTED, "%s: getxattr %zd", current_case, r);
	eshare_inode_put(in);
}

START_TEST(test_bad_xattrs)
{
	static const char path[] = "xattr/data-with-xattr";
	struct patched x;
	struct pino ino;
	uint64_t h;

	/* h_shared_count larger than the area can hold */
	patched_begin(&x);
	find_xattr_inode(&x.p, path, &ino);
	h = ino.pos + ino.isize;
	x.d[h + offsetof(struct erofs_xattr_ibody_header, h_shared_count)] = 255;
	set_case("plain-4k.erofs: %s h_shared_count 255 in %u bytes", path, ino.xsize);
	xattr_expect(&x, path, "user.d");
	patched_end(&x);

	/* the first inline entry's value runs past the area */
	patched_begin(&x);
	find_xattr_inode(&x.p, path, &ino);
	h = ino.pos + ino.isize;
	{
		unsigned shared = x.d[h + 4];
		uint64_t e = h + 12 + 4ull * shared;

		ck_assert_uint_lt(12 + 4 * shared, ino.xsize);
		put_le16(x.d + e + offsetof(struct erofs_xattr_entry, e_value_size), 0xFFFF);
		set_case("plain-4k.erofs: %s first entry value size 65535", path);
	}
	xattr_expect(&x, path, "user.d");
	patched_end(&x);

	/* the first inline entry's name runs past the area */
	patched_begin(&x);
	find_xattr_inode(&x.p, path, &ino);
	h = ino.pos + ino.isize;
	{
		unsigned shared = x.d[h + 4];
		uint64_t e = h + 12 + 4ull * shared;

		x.d[e + offsetof(struct erofs_xattr_entry, e_name_len)] = 255;
		set_case("plain-4k.erofs: %s first entry name of 255 bytes", path);
	}
	xattr_expect(&x, path, "user.d");
	patched_end(&x);

	/* i_xattr_icount so large the area runs past the inode's block */
	patched_begin(&x);
	find_xattr_inode(&x.p, path, &ino);
	put_le16(x.d + ino.pos + offsetof(struct erofs_inode_compact, i_xattr_icount), 0xFFFF);
	set_case("plain-4k.erofs: %s i_xattr_icount 65535", path);
	ck_assert_int_eq(patched_attach(&x), 0);
	{
		eshare_inode *in;
		int rc = lookup_rc(&x, path, &in);

		/* the inline data tail now lies past the block: open or read fails */
		if (rc == 0) {
			char buf[64];
			ssize_t r = eshare_listxattr(in, buf, sizeof(buf));

			ck_assert_msg(r < 0, "listxattr %zd", r);
			r = eshare_pread(in, buf, sizeof(buf), 8192);
			/* (past the device's end: the library calls that -EIO) */
			ck_assert_msg(r == -EFSCORRUPTED || r == -EIO, "pread of the tail %zd", r);
			eshare_inode_put(in);
		} else {
			ck_assert_int_eq(rc, -EFSCORRUPTED);
		}
	}
	patched_end(&x);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("format_xattr");
	TCase *tc;

	tc = tcase_create("handmade");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_bad_xattrs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	hostile_init("test_format_xattr");
	sr = srunner_create(make_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	hostile_exit();
	return failed ? 1 : 0;
}
