// SPDX-License-Identifier: MIT
/*
 * The fixture registry (helpers/fixtures.c) against tests/fixtures/: every
 * image is registered and every entry's files exist; each trait that shows
 * in the superblock is checked against the image's bytes, read here by hand
 * (FORMAT.md section 1); every manifest parses and lists the number of
 * paths treecmp.py counted on the kernel mount (tests/fixtures/README.md).
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/ondisk.h"
#include "helpers/fixtures.h"
#include "helpers/manifest.h"

#define SB(field) (EROFS_SUPER_OFFSET + offsetof(struct erofs_super_block, field))

START_TEST(test_directory_matches_registry)
{
	DIR *dir = opendir(ESHARE_FIXTURES);
	struct dirent *de;
	unsigned images = 0;

	ck_assert_ptr_nonnull(dir);
	while ((de = readdir(dir))) {
		size_t n = strlen(de->d_name);

		if (n < 7 || strcmp(de->d_name + n - 6, ".erofs"))
			continue;
		ck_assert_msg(fx_find(de->d_name) != NULL,
			      "%s is not in the registry (tests/unit/helpers/fixtures.c)",
			      de->d_name);
		images++;
	}
	closedir(dir);
	ck_assert_uint_eq(images, fixture_count);
	for (unsigned i = 0; i < fixture_count; i++) {
		const struct fixture_info *f = &fixture_registry[i];
		char path[4096];

		if (i)
			ck_assert_msg(strcmp(fixture_registry[i - 1].name, f->name) < 0,
				      "registry not sorted at %s", f->name);
		fx_image_path(path, sizeof(path), f);
		ck_assert_msg(!access(path, R_OK), "%s missing", path);
		strcat(path, ".manifest");
		ck_assert_msg(!access(path, R_OK), "%s missing", path);
		for (unsigned k = 0; k < f->ndevices; k++) {
			fx_device_path(path, sizeof(path), f, k);
			ck_assert_msg(!access(path, R_OK), "%s missing", path);
		}
		ck_assert_msg(!(f->traits & FX_COMPRESSED) == !f->codec, "%s: codec", f->name);
		ck_assert_msg(!(f->traits & FX_COMPRESSED) == !f->algs, "%s: algs", f->name);
		ck_assert_msg(!(f->traits & FX_MULTIDEV) == !f->ndevices, "%s: devices", f->name);
	}
	ck_assert_ptr_eq(fx_find("lz4.erofs"), fx_find("lz4"));
	ck_assert_ptr_null(fx_find("lz4.erof"));
	ck_assert_ptr_null(fx_find("no-such"));
}
END_TEST

/* The superblock of image @_i against its traits. */
START_TEST(test_traits_match_superblock)
{
	const struct fixture_info *f = &fixture_registry[_i];
	size_t len;
	uint8_t *d = fx_load_image(f, &len);
	uint32_t compat = ef_le32(d + SB(feature_compat));
	uint32_t incompat = ef_le32(d + SB(feature_incompat));
	unsigned algs;
	bool t;

	ck_assert_uint_ge(len, 4096);
	ck_assert_uint_eq(ef_le32(d + SB(magic)), EROFS_SUPER_MAGIC);
	/* every compressed image of mkfs 1.9.3 has 0padding (LZ4_0PADDING) */
	t = f->traits & FX_COMPRESSED;
	ck_assert_msg(t == !!(incompat & EROFS_INCOMPAT_LZ4_0PADDING), "%s: compressed", f->name);
	/* u1 is the algorithm bitmap with COMPR_CFGS, else LZ4's max distance */
	algs = incompat & EROFS_INCOMPAT_COMPR_CFGS ? ef_le16(d + SB(u1)) : t ? FX_ALG_LZ4 : 0;
	ck_assert_msg(algs == f->algs, "%s: algorithms %#x on disk, %#x registered", f->name, algs,
		      f->algs);
	t = f->traits & FX_CHUNKED;
	ck_assert_msg(t == !!(incompat & EROFS_INCOMPAT_CHUNKED_FILE), "%s: chunked", f->name);
	t = f->traits & FX_MULTIDEV;
	ck_assert_msg(t == !!(incompat & EROFS_INCOMPAT_DEVICE_TABLE), "%s: device table",
		      f->name);
	ck_assert_uint_eq(ef_le16(d + SB(extra_devices)), f->ndevices);
	t = f->traits & FX_ZTAILPACKING;
	ck_assert_msg(t == !!(incompat & EROFS_INCOMPAT_ZTAILPACKING), "%s: ztailpacking",
		      f->name);
	/* FRAGMENTS and DEDUPE share a bit; a packed inode needs it too */
	t = f->traits & (FX_FRAGMENTS | FX_DEDUPE | FX_PACKED_INODE);
	ck_assert_msg(t == !!(incompat & EROFS_INCOMPAT_FRAGMENTS), "%s: fragments/dedupe",
		      f->name);
	t = f->traits & FX_PACKED_INODE;
	ck_assert_msg(t == !!ef_le64(d + SB(packed_nid)), "%s: packed inode", f->name);
	t = f->traits & FX_48BIT;
	ck_assert_msg(t == !!(incompat & EROFS_INCOMPAT_48BIT), "%s: 48bit", f->name);
	t = f->traits & FX_METABOX;
	ck_assert_msg(t == !!(incompat & EROFS_INCOMPAT_METABOX), "%s: metabox", f->name);
	t = f->traits & FX_XATTR_PREFIXES;
	ck_assert_msg(t == !!(incompat & EROFS_INCOMPAT_XATTR_PREFIXES), "%s: prefixes", f->name);
	t = f->traits & FX_DIGEST;
	ck_assert_msg(t == !!(compat & EROFS_COMPAT_ISHARE_XATTRS), "%s: digest", f->name);
	t = f->traits & FX_BLK512;
	ck_assert_msg(t == (d[SB(blkszbits)] == 9), "%s: block size", f->name);
	free(d);
}
END_TEST

/* Every manifest parses; path counts as treecmp.py listed them. */
START_TEST(test_manifests_parse)
{
	const struct fixture_info *f = &fixture_registry[_i];
	struct manifest m;
	struct manifest_counts c;
	const struct manifest_entry *e;

	ck_assert_int_eq(manifest_load(&m, f->name), 0);
	manifest_count(&m, &c);
	ck_assert_uint_eq(c.paths, f->traits & FX_COMMON_TREE ? 5268 : 5307);
	ck_assert_str_eq(m.e[0].path, "/");
	ck_assert_str_eq(m.e[0].type, "dir");
	/* one line of each kind, as the README describes the tree */
	e = manifest_find(&m, "/nodes/whiteout-dir/whiteout");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->type, "chr");
	ck_assert_uint_eq(e->rdev_major, 0);
	ck_assert_uint_eq(e->rdev_minor, 0);
	e = manifest_find(&m, "/big/text-0.bin");
	ck_assert_ptr_nonnull(e);
	ck_assert(e->has_sha256);
	ck_assert_uint_eq(e->size, 98304);
	for (size_t i = 1; i < m.n; i++)
		ck_assert_msg(strcmp(m.e[i - 1].path, m.e[i].path) < 0, "%s: order at %s", f->name,
			      m.e[i].path);
	manifest_free(&m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fixtures");
	TCase *tc = tcase_create("registry");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_directory_matches_registry);
	tcase_add_loop_test(tc, test_traits_match_superblock, 0, (int)fixture_count);
	tcase_add_loop_test(tc, test_manifests_parse, 0, (int)fixture_count);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
