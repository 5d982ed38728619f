// SPDX-License-Identifier: MIT
/*
 * Compressed files end to end: lib/format/zmap.c (mapping) and
 * decompress.c (decoding) under the library.
 *
 * 1. Every compressed fixture is walked through the public API (root,
 *    readdir, lookup_at, pread) and each regular file's sha256 is compared
 *    with the manifest, which was read off the Linux kernel; each file is
 *    also read again, in a fresh domain so that the page cache is cold, in
 *    odd-sized chunks at odd offsets from the end backwards.
 * 2. Seeded random damage to the map headers, indexes and pclusters:
 *    mapping and decoding must end in success or a bad-image errno.
 *
 * The format layer alone: test_format_zmap.c (extents against dump.erofs,
 * hand-made damage) and test_format_codecs.c (the decoders).
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
#include "helpers/manifest.h"
#include "helpers/memfs.h"
#include "helpers/readall.h"

/* ------------------------------------------------------------------ */
/* 1. contents through the public API                                   */

/* Read @e again in a cold cache: odd chunks at odd offsets, from the end. */
static void reread_odd(eshare_image *img, const struct rfile *e)
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
	const char *name = fx_nth((unsigned)_i, FX_COMPRESSED, 0)->name;
	struct manifest want;
	struct rfiles got;
	eshare_domain *d;
	eshare_image *img;
	size_t compressed = 0, k = 0;

	ck_assert_int_eq(manifest_load(&want, name), 0);
	img = fx_attach(&d, name);
	rfiles_read(img, &got, true);
	fx_detach(d, img);

	for (size_t i = 0; i < want.n; i++) {
		const struct manifest_entry *e = &want.e[i];
		const struct rfile *f = &got.v[k];

		if (strcmp(e->type, "reg"))
			continue;
		ck_assert_msg(k < got.n, "%s: %s not found", name, e->path);
		ck_assert_str_eq(f->path, e->path);
		ck_assert_msg(f->size == e->size, "%s:%s size", name, f->path);
		ck_assert_msg(!memcmp(f->sha256, e->sha256, 32), "%s:%s: not the kernel's bytes",
			      name, f->path);
		compressed += rfile_compressed(f);
		k++;
	}
	ck_assert_msg(k == got.n, "%s: %zu regular files, manifest has %zu", name, got.n, k);
	/* Every fixture here has compressed files (all of them under big/). */
	ck_assert_msg(compressed >= 20, "%s: only %zu compressed files", name, compressed);

	img = fx_attach(&d, name);
	for (size_t i = 0; i < got.n; i++)
		if (got.v[i].size)
			reread_odd(img, &got.v[i]);
	fx_detach(d, img);

	manifest_free(&want);
	rfiles_free(&got);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 2. random damage                                                     */

/*
 * Seeded random damage to the map header, the indexes and the pclusters of
 * the compressed files under /big: whatever the bytes, mapping and decoding
 * the whole file must end with success or a bad-image errno (under ASan in
 * the sanitizer build: no out-of-bounds access, no leak, no hang).
 */
/* One per decoder and per index layout: big pclusters, inline tails,
 * fragments, dedupe, encoded extents. */
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
	struct memfs mi;
	struct ef_fs *fs;
	uint64_t cases = 0, failed = 0, ok = 0;

	memfs_load(&mi, name);
	fs = memfs_fs(&mi);
	for (unsigned f = 0; f < sizeof(fuzz_paths) / sizeof(fuzz_paths[0]); f++) {
		struct ef_inode ino;
		struct ef_map first;
		uint64_t nid, h, span, nlcl;
		uint8_t *out;
		uint32_t x = 2654435761u * (f + 1) + _i;

		ck_assert_int_eq(memfs_resolve(fs, fuzz_paths[f], &ino), 0);
		if (!ef_inode_is_compressed(&ino) || ino.z.whole_fragment)
			continue;
		nid = ino.nid;
		h = memfs_zheader_pos(&ino);
		/* the header and a generous bound on the index array after it */
		nlcl = (ino.size >> fs->blkszbits) + 2;
		span = 8 + 16 + 8 * nlcl + 64;
		if (h + span > mi.len[0])
			span = mi.len[0] - h;
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
				    first.pa + first.plen <= mi.len[0])
					at[k] = first.pa + (x >> 8) % first.plen;
				else
					at[k] = h + (x >> 8) % span;
				old[k] = mi.data[0][at[k]];
				x = x * 1103515245u + 12345u;
				mi.data[0][at[k]] ^= (uint8_t)(1u + (x >> 16) % 255);
			}
			rc = ef_iget(fs, nid, &ino);
			if (!rc)
				rc = memfs_decode_file(fs, &ino, out);
			ok += !rc;
			if (!bad_image_errno(rc)) {
				failed++;
				fprintf(stderr, "%s %s seed %u: %d\n", name, fuzz_paths[f], seed,
					rc);
			}
			cases++;
			while (n--)
				mi.data[0][at[n]] = old[n];
		}
		/* a file that claims to be far bigger than its indexes */
		ck_assert_int_eq(ef_iget(fs, nid, &ino), 0);
		{
			const uint64_t big = ino.extended ? (1ull << 40) + 77 : 0xfffffff1ull;
			const size_t w = ino.extended ? 8 : 4;
			uint8_t save[8];

			memcpy(save, mi.data[0] + ino.iloc + 8, w);
			for (size_t k = 0; k < w; k++)
				mi.data[0][ino.iloc + 8 + k] = (uint8_t)(big >> (8 * k));
			if (!ef_iget(fs, nid, &ino)) {
				const uint64_t probe[] = { 0, 70000, big / 2, big - 1 };

				for (unsigned k = 0; k < 4; k++) {
					struct ef_map m;
					int rc = ef_map(fs, &ino, probe[k], &m);

					ck_assert_msg(bad_image_errno(rc), "%s size: %d", name, rc);
					cases++;
				}
			}
			memcpy(mi.data[0] + ino.iloc + 8, save, w);
		}
		free(out);
	}
	fprintf(stderr, "fuzz %s: %llu cases, %llu decoded, %u corruption reports\n", name,
		(unsigned long long)cases, (unsigned long long)ok, mi.reports);
	ck_assert_uint_gt(cases, 0);
	ck_assert_uint_eq(failed, 0);
	ef_fs_close(fs);
	memfs_free(&mi);
}
END_TEST

static Suite *zmap_suite(void)
{
	Suite *s = suite_create("zmap");
	TCase *tc = tcase_create("fixtures");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_fixture_contents, 0,
			    (int)fx_select(NULL, 0, FX_COMPRESSED, 0));
	suite_add_tcase(s, tc);

	tc = tcase_create("fuzz");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_fuzz_zdata, 0,
			    (int)(sizeof(fuzz_fixtures) / sizeof(fuzz_fixtures[0])));
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
