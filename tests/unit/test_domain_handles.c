// SPDX-License-Identifier: MIT
/*
 * An open handle keeps what its file reads through and checks it without a
 * lock on every read.  A handle opened, and read through the shared
 * object, before its file's member left that object (its image gave other
 * bytes than were proven) must read privately from then on: never the
 * shared object's pages, which hold the other member's proven bytes.
 *
 * Expected bytes: BIG's true bytes (dom_load_truth(), from the manifest)
 * and, for the changed page, those bytes with the change made by hand.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <erofs_share/erofs_share.h>

#include "helpers/domain.h"
#include "helpers/fixture_copies.h"

/* The page of BIG the attacker's image changes. */
#define BAD_PAGE 3u

/* Flip bit 5 of every 64th byte of page BAD_PAGE of BIG in @img (flat). */
static void change_page(uint8_t *img, size_t len, uint8_t *expect)
{
	uint8_t *at = memmem(img, len, dom_truth + BAD_PAGE * PAGE, PAGE);

	ck_assert_ptr_nonnull(at);
	memcpy(expect, dom_truth + BAD_PAGE * PAGE, PAGE);
	for (unsigned k = 0; k < PAGE; k += 64) {
		at[k] ^= 0x20;
		expect[k] ^= 0x20;
	}
}

static void held_handle(unsigned policy)
{
	uint8_t *copy, page[PAGE], changed[PAGE], buf[BIG_SIZE];
	size_t len;
	char *p = dom_fixture_path("digest-plain");
	eshare_domain *d = dom_new(policy, 64 << 10);
	eshare_image *victim, *attacker;
	eshare_inode *held;
	struct eshare_file_identity ih = ESHARE_FILE_IDENTITY_INIT, iv;

	dom_load_truth();
	copy = fc_slurp(p, &len);
	ck_assert_ptr_nonnull(copy);
	victim = dom_attach_path(d, "digest-plain");
	attacker = dom_attach_memory(d, copy, len, "attacker");
	dom_join_both(victim, attacker);

	/* a handle of the attacker's BIG that reads through the shared object */
	ck_assert_int_eq(eshare_lookup(&held, attacker, BIG), 0);
	ck_assert_int_eq(eshare_pread(held, page, PAGE, 0), PAGE);
	ck_assert(!memcmp(page, dom_truth, PAGE));
	ck_assert_int_eq(eshare_file_identity(held, 0, &ih), 0);
	ck_assert(ih.flags & ESHARE_IDENTITY_SHARED);
	iv = dom_identity(victim, BIG);
	ck_assert_uint_eq(ih.object, iv.object);

	/* the attacker's image changes; another handle's fill fails the proof */
	change_page(copy, len, changed);
	dom_evict(victim);
	ck_assert_int_eq(dom_read(attacker, BIG, page, PAGE, BAD_PAGE * PAGE), PAGE);
	ck_assert(!memcmp(page, changed, PAGE));
	ck_assert_uint_eq(dom_verify_failures(d), 1);

	/* the victim fills the shared object with the proven bytes again */
	ck_assert_int_eq(dom_read(victim, BIG, buf, BIG_SIZE, 0), BIG_SIZE);
	ck_assert(!memcmp(buf, dom_truth, BIG_SIZE));

	/* the held handle reads its own image now, every page of it */
	for (unsigned k = 0; k < BIG_PAGES; k++) {
		ck_assert_int_eq(eshare_pread(held, page, PAGE, (uint64_t)k * PAGE), PAGE);
		ck_assert_msg(!memcmp(page, k == BAD_PAGE ? changed : dom_truth + k * PAGE, PAGE),
			      "held handle, page %u (policy %u)", k, policy);
	}
	ih = (struct eshare_file_identity)ESHARE_FILE_IDENTITY_INIT;
	ck_assert_int_eq(eshare_file_identity(held, 0, &ih), 0);
	ck_assert(!(ih.flags & ESHARE_IDENTITY_SHARED));
	ck_assert_uint_ne(ih.object, dom_identity(victim, BIG).object);
	/* reading privately is no new failure */
	ck_assert_uint_eq(dom_verify_failures(d), 1);

	eshare_inode_put(held);
	eshare_image_detach(attacker);
	eshare_image_detach(victim);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(copy);
	free(p);
}

START_TEST(verify_held_handle_reads_privately)
{
	held_handle(ESHARE_SHARE_VERIFY);
}
END_TEST

START_TEST(compute_held_handle_reads_privately)
{
	held_handle(ESHARE_SHARE_COMPUTE);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("domain_handles");
	TCase *tc = tcase_create("handles");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, verify_held_handle_reads_privately);
	tcase_add_test(tc, compute_held_handle_reads_privately);
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
