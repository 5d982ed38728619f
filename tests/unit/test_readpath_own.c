// SPDX-License-Identifier: MIT
/*
 * readpath_read_own(): a shared object's reader that read around the cache
 * (its wait for another member's fill failed) still gets only the proven
 * bytes.  Every regular file of three fixtures (flat, LZ4, Zstd) is read
 * whole with a proof made from its own bytes, whose sha256 is first
 * checked against the kernel's manifest: it reads whole, at odd offsets
 * and lengths, and equals the kernel's.  Then one page's MAC is taken over
 * other bytes (what an image that changed after it was proven gives): every
 * read that touches that page fails with ESHARE_EPROOF and marks the
 * reader failed, and reads of other pages still succeed.
 */
#include <check.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/domain.h"
#include "helpers/manifest.h"
#include "image.h"
#include "inode.h"
#include "readpath.h"

static const char *const names[] = { "plain-4k", "lz4", "zstd" };

static const struct page_key key = { .id = 77, .bytes = "a page MAC key.." };

static void sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 32;

	ck_assert_int_eq(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
}

/* The proof of @size bytes at @data; page @bad (if not UINT64_MAX) MACs other bytes. */
static struct page_proof make_proof(const uint8_t *data, uint64_t size, uint64_t bad)
{
	struct page_proof pp = { .npages = (size + 4095) / 4096, .key = &key };

	pp.mac = calloc(pp.npages ? pp.npages : 1, PAGE_MAC_LEN);
	ck_assert_ptr_nonnull(pp.mac);
	for (uint64_t i = 0; i < pp.npages; i++) {
		uint32_t len = size - i * 4096 < 4096 ? (uint32_t)(size - i * 4096) : 4096;
		uint8_t page[4096];

		memcpy(page, data + i * 4096, len);
		if (i == bad)
			page[len / 2] ^= 0x01;
		ck_assert_int_eq(eshare_page_mac(&key, i, page, len, pp.mac[i]), 0);
	}
	return pp;
}

static void check_file(eshare_image *img, const struct manifest_entry *e)
{
	eshare_inode *ino;
	uint8_t *truth, *got, sum[32];
	struct page_proof pp;
	uint64_t size = e->size, bad;

	ck_assert_int_eq(eshare_lookup(&ino, img, e->path), 0);
	truth = malloc(size + 1);
	got = malloc(size + 1);
	ck_assert_ptr_nonnull(truth);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(readpath_read_uncached(img->fs, &ino->ei, truth, size, 0), 0);
	sha256(truth, size, sum);
	ck_assert_msg(!memcmp(sum, e->sha256, 32), "%s: not the kernel's bytes", e->path);

	/* the right proof: whole, then at odd offsets and lengths */
	pp = make_proof(truth, size, UINT64_MAX);
	{
		struct read_ctx rd = { .proof = &pp, .shared = true };

		memset(got, 0xee, size + 1);
		ck_assert_int_eq(readpath_read_own(img->fs, &ino->ei, &rd, got, size, 0), 0);
		ck_assert(!memcmp(got, truth, size));
		ck_assert_uint_eq(got[size], 0xee);
		for (uint64_t off = 1; off < size; off += 4093) {
			size_t len = (size_t)(size - off < 70001 ? size - off : 70001);

			memset(got, 0xee, size + 1);
			ck_assert_int_eq(readpath_read_own(img->fs, &ino->ei, &rd, got, len, off),
					 0);
			ck_assert_msg(!memcmp(got, truth + off, len), "%s at %llu", e->path,
				      (unsigned long long)off);
			ck_assert_uint_eq(got[len], 0xee);
		}
		ck_assert(!rd.failed);
	}
	free(pp.mac);

	/* one page proven with other bytes: a read touching it fails, others do not */
	bad = pp.npages / 2;
	pp = make_proof(truth, size, bad);
	for (uint64_t i = 0; i < pp.npages; i++) {
		struct read_ctx rd = { .proof = &pp, .shared = true };
		uint64_t off = i * 4096 + (i * 977) % 4096;
		size_t len = off < size ? (size_t)(size - off < 9000 ? size - off : 9000) : 0;
		bool touches = off < size && off >> 12 <= bad && (off + len - 1) >> 12 >= bad;
		int rc;

		if (!len)
			continue;
		rc = readpath_read_own(img->fs, &ino->ei, &rd, got, len, off);
		if (touches) {
			ck_assert_msg(rc == -ESHARE_EPROOF, "%s page %llu: %d", e->path,
				      (unsigned long long)i, rc);
			ck_assert(rd.failed);
		} else {
			ck_assert_int_eq(rc, 0);
			ck_assert(!rd.failed);
			ck_assert(!memcmp(got, truth + off, len));
		}
	}
	free(pp.mac);
	free(truth);
	free(got);
	eshare_inode_put(ino);
}

START_TEST(test_read_own_checks_every_page)
{
	const char *name = names[_i];
	eshare_domain *d = dom_new(ESHARE_SHARE_OFF, 8u << 20);
	eshare_image *img = dom_attach_path(d, name);
	struct manifest m;
	unsigned nfiles = 0;

	ck_assert_int_eq(manifest_load(&m, name), 0);
	for (size_t i = 0; i < m.n; i++) {
		if (strcmp(m.e[i].type, "reg") || !m.e[i].size)
			continue;
		check_file(img, &m.e[i]);
		nfiles++;
	}
	ck_assert_uint_gt(nfiles, 10);
	manifest_free(&m);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

/* No proof: the bytes of the image, as an uncached read gives them. */
START_TEST(test_read_own_without_proof)
{
	eshare_domain *d = dom_new(ESHARE_SHARE_OFF, 8u << 20);
	eshare_image *img = dom_attach_path(d, "lz4");
	const struct manifest_entry *e;
	struct read_ctx rd = { 0 };
	eshare_inode *ino;
	struct manifest m;
	uint8_t *got, sum[32];

	ck_assert_int_eq(manifest_load(&m, "lz4"), 0);
	e = manifest_find(&m, "/big/text-0.bin");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(eshare_lookup(&ino, img, e->path), 0);
	got = malloc(e->size);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(readpath_read_own(img->fs, &ino->ei, &rd, got, e->size, 0), 0);
	sha256(got, e->size, sum);
	ck_assert(!memcmp(sum, e->sha256, 32));
	free(got);
	eshare_inode_put(ino);
	manifest_free(&m);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("readpath_own");
	TCase *tc = tcase_create("readpath_own");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_read_own_checks_every_page, 0,
			    (int)(sizeof(names) / sizeof(names[0])));
	tcase_add_test(tc, test_read_own_without_proof);
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
