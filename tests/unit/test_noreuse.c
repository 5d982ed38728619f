// SPDX-License-Identifier: MIT
/*
 * ESHARE_ADVICE_NOREUSE: every regular file of the fixtures reads, through
 * the uncached path, to the content the kernel showed (the manifests'
 * sha256), caches no data, and decodes each extent once when read in
 * small sequential steps (as many decoded bytes as the cached path).
 */
#include <check.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <erofs_share/erofs_share.h>

#include "helpers/domain.h"
#include "helpers/fixtures.h"
#include "helpers/manifest.h"

/* Every fixture of the common tree (shared-a and shared-b:
 * test_noreuse_keeps_shared_objects). */
#define FIX_ALL FX_COMMON_TREE
#define FIX_NONE 0u
#define CACHE_BYTES (64u << 20)

static struct eshare_stats stats(eshare_domain *d)
{
	struct eshare_stats st = ESHARE_STATS_INIT;

	ck_assert_int_eq(eshare_domain_stats(d, &st), 0);
	return st;
}

/*
 * Read every regular file in @step-byte preads; check each sha256.  Of a
 * hard-link group only the first name is read: an inode read twice is
 * decoded twice when nothing is cached, which is the point.
 */
static void read_all(eshare_image *img, const struct manifest *m, bool noreuse, size_t step,
		     const char *name)
{
	uint8_t *buf = malloc(step);
	bool *seen = calloc(m->n + 1, sizeof(*seen));

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(seen);
	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->e[i];
		eshare_inode *ino;
		EVP_MD_CTX *sh;
		uint8_t sum[32];
		uint64_t off = 0;
		ssize_t n;

		if (strcmp(e->type, "reg"))
			continue;
		if (e->hardlink && e->hardlink <= m->n) {
			if (seen[e->hardlink])
				continue;
			seen[e->hardlink] = true;
		}
		sh = EVP_MD_CTX_new();
		ck_assert_int_eq(eshare_lookup(&ino, img, e->path), 0);
		if (noreuse)
			ck_assert_int_eq(eshare_inode_advise(ino, ESHARE_ADVICE_NOREUSE), 0);
		ck_assert_ptr_nonnull(sh);
		ck_assert_int_eq(EVP_DigestInit_ex(sh, EVP_sha256(), NULL), 1);
		while ((n = eshare_pread(ino, buf, step, off)) > 0) {
			EVP_DigestUpdate(sh, buf, (size_t)n);
			off += (uint64_t)n;
		}
		ck_assert_msg(n == 0, "%s:%s: %s", name, e->path, eshare_strerror((int)n));
		ck_assert_int_eq(EVP_DigestFinal_ex(sh, sum, NULL), 1);
		EVP_MD_CTX_free(sh);
		ck_assert_uint_eq(off, e->size);
		ck_assert_msg(!memcmp(sum, e->sha256, 32), "%s:%s differs from the kernel's", name,
			      e->path);
		eshare_inode_put(ino);
	}
	free(seen);
	free(buf);
}

START_TEST(test_noreuse_reads_what_the_kernel_shows)
{
	const char *name = fx_nth((unsigned)_i, FIX_ALL, FIX_NONE)->name;
	struct manifest m;
	uint64_t cached_decoded, uncached_decoded;
	eshare_domain *d;
	eshare_image *img;

	ck_assert_int_eq(manifest_load(&m, name), 0);
	/* the cached path, for the decoded bytes to compare with */
	d = dom_new(ESHARE_SHARE_OFF, CACHE_BYTES);
	img = dom_attach_path(d, name);
	read_all(img, &m, false, 4096, name);
	cached_decoded = stats(d).decompressed_bytes;
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);

	d = dom_new(ESHARE_SHARE_OFF, CACHE_BYTES);
	img = dom_attach_path(d, name);
	read_all(img, &m, true, 4096, name);
	uncached_decoded = stats(d).decompressed_bytes;
	ck_assert_uint_eq(stats(d).cached_data_bytes, 0);
	ck_assert_msg(uncached_decoded == cached_decoded,
		      "%s: %llu bytes decoded uncached, %llu cached", name,
		      (unsigned long long)uncached_decoded, (unsigned long long)cached_decoded);
	/* steps that straddle pages and extents */
	read_all(img, &m, true, 5000, name);
	ck_assert_uint_eq(stats(d).cached_data_bytes, 0);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	manifest_free(&m);
}
END_TEST

/* Files that read through a shared object stay cached. */
START_TEST(test_noreuse_keeps_shared_objects)
{
	struct manifest ma, mb;
	eshare_domain *d = dom_new(ESHARE_SHARE_VERIFY, CACHE_BYTES);
	eshare_image *a = dom_attach_path(d, "shared-a");
	eshare_image *b = dom_attach_path(d, "shared-b");
	eshare_inode *ino;
	struct eshare_stats st;

	ck_assert_int_eq(manifest_load(&ma, "shared-a"), 0);
	ck_assert_int_eq(manifest_load(&mb, "shared-b"), 0);
	read_all(a, &ma, false, 4096, "shared-a");
	read_all(b, &mb, true, 4096, "shared-b");
	st = stats(d);
	ck_assert_uint_gt(st.shared_objects, 0);
	ck_assert_uint_gt(st.cached_data_bytes, 0);
	ck_assert_int_eq(eshare_root(&ino, a), 0);
	ck_assert_int_eq(eshare_inode_advise(ino, 2), -EINVAL);
	ck_assert_int_eq(eshare_inode_advise(NULL, ESHARE_ADVICE_NORMAL), -EINVAL);
	eshare_inode_put(ino);
	eshare_image_detach(b);
	eshare_image_detach(a);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	manifest_free(&ma);
	manifest_free(&mb);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("noreuse");
	TCase *tc = tcase_create("noreuse");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_noreuse_reads_what_the_kernel_shows, 0, (int)fx_select(NULL, 0, FIX_ALL, FIX_NONE));
	tcase_add_test(tc, test_noreuse_keeps_shared_objects);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
