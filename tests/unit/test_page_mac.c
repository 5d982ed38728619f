// SPDX-License-Identifier: MIT
/*
 * The page proofs' MAC is GMAC (AES-128-GCM over the page as authenticated
 * data, nothing encrypted), with the page index as the IV's first 8 bytes.
 * Checked against the GCM specification's Test Case 1 (zero key, zero IV,
 * nothing authenticated), and for the properties the proofs rely on.
 */
#include <check.h>
#include <string.h>

#include "proof.h"

START_TEST(test_gcm_spec_case_1)
{
	/* McGrew and Viega, "The Galois/Counter Mode of Operation", Test Case 1 */
	static const uint8_t want[16] = { 0x58, 0xe2, 0xfc, 0xce, 0xfa, 0x7e, 0x30, 0x61,
					  0x36, 0x7f, 0x1d, 0x57, 0xa4, 0xe7, 0x45, 0x5a };
	struct page_key k = { .id = 1 };
	uint8_t mac[PAGE_MAC_LEN];

	ck_assert_int_eq(eshare_page_mac(&k, 0, "", 0, mac), 0);
	ck_assert(!memcmp(mac, want, sizeof(want)));
}
END_TEST

START_TEST(test_mac_binds_bytes_index_key)
{
	struct page_key k1 = { .id = 7 }, k2 = { .id = 8 };
	uint8_t page[4096], a[PAGE_MAC_LEN], b[PAGE_MAC_LEN];

	for (unsigned i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 13 + 1);
	memset(k1.bytes, 0x11, sizeof(k1.bytes));
	memset(k2.bytes, 0x22, sizeof(k2.bytes));
	ck_assert_int_eq(eshare_page_mac(&k1, 5, page, sizeof(page), a), 0);
	/* the same again (the thread's context keeps the key) */
	ck_assert_int_eq(eshare_page_mac(&k1, 5, page, sizeof(page), b), 0);
	ck_assert(!memcmp(a, b, sizeof(a)));
	/* another key, then back: the context follows the key's id */
	ck_assert_int_eq(eshare_page_mac(&k2, 5, page, sizeof(page), b), 0);
	ck_assert(memcmp(a, b, sizeof(a)));
	ck_assert_int_eq(eshare_page_mac(&k1, 5, page, sizeof(page), b), 0);
	ck_assert(!memcmp(a, b, sizeof(a)));
	/* another page index, one bit of the bytes, one byte less */
	ck_assert_int_eq(eshare_page_mac(&k1, 6, page, sizeof(page), b), 0);
	ck_assert(memcmp(a, b, sizeof(a)));
	page[4095] ^= 1;
	ck_assert_int_eq(eshare_page_mac(&k1, 5, page, sizeof(page), b), 0);
	ck_assert(memcmp(a, b, sizeof(a)));
	page[4095] ^= 1;
	ck_assert_int_eq(eshare_page_mac(&k1, 5, page, sizeof(page) - 1, b), 0);
	ck_assert(memcmp(a, b, sizeof(a)));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("page_mac");
	TCase *tc = tcase_create("mac");

	tcase_add_test(tc, test_gcm_spec_case_1);
	tcase_add_test(tc, test_mac_binds_bytes_index_key);
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
