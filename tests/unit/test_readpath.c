// SPDX-License-Identifier: MIT
/*
 * The read path decodes each pcluster once: reading files sequentially in
 * 4 KiB steps decompresses exactly the sum of their compressed extents'
 * lengths (every page an extent produces is kept, and a page an extent
 * ends inside is completed by the next extent instead of decoding this one
 * again).  Also: reads at every alignment agree with whole-file reads.
 */
#include <check.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/fixtures.h"
#include "helpers/manifest.h"
#include "domain.h"
#include "image.h"
#include "inode.h"
#include "readpath.h"
#include "share.h"

/*
 * The compressed fixtures whose decoded bytes are all file data: no packed
 * inode (fragments, compressed directories) and no metabox, whose
 * decompressed metadata would count too; no dedupe, whose shared
 * pclusters decode for more than one file.
 */
#define IMAGES_ALL FX_COMPRESSED
#define IMAGES_NONE (FX_PACKED_INODE | FX_FRAGMENTS | FX_DEDUPE | FX_METABOX)

/* Decoded bytes of @ino's codec extents, each counted once. */
static uint64_t codec_bytes(eshare_inode *ino)
{
	struct ef_fs *fs = ino->img->fs;
	struct ef_inode *ei = &ino->ei;
	uint64_t pos = 0, sum = 0;

	while (pos < ei->size) {
		struct ef_map m;

		ck_assert_int_eq(ef_map(fs, ei, pos, &m), 0);
		ck_assert_uint_le(m.la, pos);
		ck_assert_uint_gt(m.la + m.llen, pos);
		if ((m.flags & EF_MAP_MAPPED) && (m.flags & EF_MAP_ENCODED) &&
		    !(m.flags & EF_MAP_FRAGMENT) && m.alg < Z_EROFS_COMPRESSION_MAX)
			sum += m.llen;
		pos = m.la + m.llen;
	}
	return sum;
}

START_TEST(test_decode_once)
{
	const char *name = fx_nth((unsigned)_i, IMAGES_ALL, IMAGES_NONE)->name;
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	struct eshare_stats s = ESHARE_STATS_INIT;
	struct manifest m;
	eshare_domain *d;
	eshare_image *img;
	char path[4096];
	uint64_t expected = 0, files = 0;
	static uint8_t buf[4096], whole[1 << 20];
	unsigned char seen[65536] = { 0 };

	o.policy = ESHARE_SHARE_OFF;
	ck_assert_int_eq(eshare_domain_create(&d, &o), 0);
	snprintf(path, sizeof(path), "%s/%s.erofs", ESHARE_FIXTURES, name);
	ck_assert_int_eq(eshare_image_open_path(&img, d, path, NULL), 0);
	ck_assert_int_eq(manifest_load(&m, name), 0);
	for (size_t i = 0; i < m.n; i++) {
		const struct manifest_entry *e = &m.e[i];
		eshare_inode *ino;
		uint64_t off = 0;
		uint8_t md[32];
		SHA256_CTX c;

		if (strcmp(e->type, "reg") || !e->size)
			continue;
		if (e->hardlink) {
			if (seen[e->hardlink])
				continue;
			seen[e->hardlink] = 1;
		}
		ck_assert_int_eq(eshare_lookup(&ino, img, e->path), 0);
		expected += codec_bytes(ino);
		SHA256_Init(&c);
		while (off < e->size) {
			ssize_t n = eshare_pread(ino, buf, sizeof(buf), off);

			ck_assert_int_gt(n, 0);
			SHA256_Update(&c, buf, (size_t)n);
			off += (uint64_t)n;
		}
		SHA256_Final(md, &c);
		ck_assert_msg(!memcmp(md, e->sha256, 32), "%s: wrong bytes", e->path);
		/* once cached, reads at other alignments agree */
		if (e->size <= sizeof(whole) / 2 && e->size > 3) {
			uint8_t *shifted = whole + sizeof(whole) / 2;

			ck_assert_int_eq(eshare_pread(ino, whole, e->size, 0), (ssize_t)e->size);
			SHA256(whole, e->size, md);
			ck_assert(!memcmp(md, e->sha256, 32));
			ck_assert_int_eq(eshare_pread(ino, shifted, e->size - 3, 3),
					 (ssize_t)(e->size - 3));
			ck_assert(!memcmp(shifted, whole + 3, e->size - 3));
		}
		eshare_inode_put(ino);
		files++;
	}
	ck_assert_int_eq(eshare_domain_stats(d, &s), 0);
	fprintf(stderr, "%s: %llu files, %llu bytes decoded, %llu expected\n", name,
		(unsigned long long)files, (unsigned long long)s.decompressed_bytes,
		(unsigned long long)expected);
	ck_assert_uint_gt(expected, 0);
	ck_assert_uint_eq(s.decompressed_bytes, expected);
	manifest_free(&m);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("readpath");
	TCase *tc = tcase_create("decode_once");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_decode_once, 0, (int)fx_select(NULL, 0, IMAGES_ALL, IMAGES_NONE));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
