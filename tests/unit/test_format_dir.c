// SPDX-License-Identifier: MIT
/*
 * Directories (lib/format/dir.c) against hostile bytes, through the public
 * API on memory backends: bad dirents of /files in plain-4k.erofs, and
 * directory graphs that are not trees.  A bad dirent block gives
 * -EFSCORRUPTED from readdir (FORMAT.md section 5, as the kernel).
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
/* Bad dirents in /files (one inline block)                             */

struct dirent_patch {
	const char *what;
	unsigned entry; /* which dirent's nameoff; ~0u: the last one */
	int value;      /* >= 0: the new nameoff; -2: the previous one's; -3: that minus 1 */
};

static int readdir_count(void *user, const char *name, size_t namelen, uint64_t ino,
			 unsigned type, uint64_t next)
{
	(*(unsigned *)user)++;
	return 0;
}

START_TEST(test_bad_dirents)
{
	const struct dirent_patch patches[] = {
		{ "first nameoff 8 (< 12)", 0, 8 },
		{ "first nameoff 0", 0, 0 },
		{ "first nameoff 13 (not a multiple of 12)", 0, 13 },
		{ "first nameoff past the block", 0, 4100 },
		{ "first nameoff past i_size", 0, 700 },
		{ "name of length 0", 3, -2 },
		{ "nameoff decreasing", 3, -3 },
		{ "nameoff past the directory", 5, 0xFFF0 },
		{ "last nameoff past i_size", ~0u, 1000 },
	};

	for (size_t k = 0; k < sizeof(patches) / sizeof(patches[0]); k++) {
		const struct dirent_patch *dp = &patches[k];
		struct patched x;
		struct pino dir;
		uint64_t dpos, base;
		eshare_inode *in;
		unsigned n, e, count = 0;
		uint64_t cookie = 0;
		uint8_t *no;
		int rc;

		patched_begin(&x);
		p_path(&x.p, "files", &dir, &dpos);
		ck_assert_uint_lt(dir.size, x.p.blksz);
		base = p_dataoff(&x.p, &dir, 0);
		n = ef_le16(x.d + base + 8) / 12;
		ck_assert_uint_gt(n, 6);
		e = dp->entry == ~0u ? n - 1 : dp->entry;
		no = x.d + base + 12 * e + 8;
		if (dp->value == -2)
			put_le16(no, ef_le16(no - 12)); /* the previous name: length 0 */
		else if (dp->value == -3)
			put_le16(no, (uint16_t)(ef_le16(no - 12) - 1)); /* length -1 */
		else
			put_le16(no, (uint16_t)dp->value);
		set_case("plain-4k.erofs: /files dirent %u: %s", e, dp->what);
		ck_assert_int_eq(patched_attach(&x), 0);
		rc = lookup_rc(&x, "files", &in);
		ck_assert_msg(rc == 0, "%s: lookup of the directory: %d", current_case, rc);
		rc = eshare_readdir(in, &cookie, readdir_count, &count);
		ck_assert_msg(rc == -EFSCORRUPTED, "%s: readdir %d after %u entries", current_case,
			      rc, count);
		eshare_inode_put(in);
		patched_end(&x);
	}
}
END_TEST

/*
 * Directory graphs that are not trees: /files/empty-0 made a directory
 * entry for the root (a cycle through the root) and /files/empty-1 one for
 * /files itself (a self loop).  The image is otherwise sound, so lookups
 * through the loop work at any depth; the walk must notice the cycles and
 * stop, and nothing may recurse without bound.
 */
START_TEST(test_dir_cycles)
{
	struct patched x;
	struct pino files;
	struct walk_stats ws = { 0 };
	uint64_t d0, d1, nid;
	eshare_inode *in;
	char path[4096];
	size_t n = 0;
	int rc;

	patched_begin(&x);
	p_path(&x.p, "files", &files, &d0);
	ck_assert(p_lookup(&x.p, &files, "empty-0", &nid, &d0));
	ck_assert(p_lookup(&x.p, &files, "empty-1", &nid, &d1));
	put_le64(x.d + d0, x.p.root);
	x.d[d0 + offsetof(struct erofs_dirent, file_type)] = EROFS_FT_DIR;
	put_le64(x.d + d1, files.nid);
	x.d[d1 + offsetof(struct erofs_dirent, file_type)] = EROFS_FT_DIR;
	set_case("plain-4k.erofs: /files/empty-0 -> root, /files/empty-1 -> /files");
	ck_assert_int_eq(patched_attach(&x), 0);
	/* 200 trips round the loop in one path */
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "/files/empty-0");
	rc = eshare_lookup(&in, x.img, path);
	ck_assert_int_eq(rc, 0);
	eshare_inode_put(in);
	rc = lookup_rc(&x, "/files/empty-1/empty-1/empty-1/empty-0/files", NULL);
	ck_assert_int_eq(rc, 0);
	rc = eshare_test_walk(x.img, &ws);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(ws.cycles >= 2, "cycles %llu", (unsigned long long)ws.cycles);
	ck_assert_uint_eq(ws.violations, 0);
	patched_end(&x);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("format_dir");
	TCase *tc;

	tc = tcase_create("handmade");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_bad_dirents);
	tcase_add_test(tc, test_dir_cycles);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hostile_main("test_format_dir", make_suite());
}
