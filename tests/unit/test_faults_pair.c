// SPDX-License-Identifier: MIT
/*
 * I/O faults in one image never hurt another: shared-a and shared-b in one
 * domain, whose files of equal content share one cached copy, one of them
 * read through the faulty backend of helpers/faulty.c.  The healthy one
 * must not see a single error; the faulty one gives -EIO or the right
 * answer (the record of a healthy pass, checked against the kernel's
 * manifest: helpers/faultrec.c); once healed, both give every right answer.
 *
 * Every policy in a release build; VERIFY and TRUST under TSan, VERIFY
 * under ASan+UBSan (helpers/scale.h); ESHARE_TEST_FULL=1 runs all.
 * ESHARE_FAULTS_VERBOSE=1 prints figures, ESHARE_FAULTS_LOG=1 the
 * domains' reports.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <erofs_share/erofs_share.h>

#include "helpers/faultrec.h"
#include "helpers/faulty.h"
#include "helpers/scale.h"

static enum test_scale scale;

/*
 * shared-a and shared-b in one domain, whose files of equal content share
 * one cached copy; one image's backends fault at random.  A fill comes
 * from the reading member's own image, so the healthy image must give
 * every right answer and no error at all, and the faulty one errors or
 * right answers; then, healed, both everything.
 */
static void pair_case(const struct record *rec, unsigned bad_side, eshare_share_policy policy,
		      enum faulty_kind kind, unsigned seed)
{
	struct faulty_config cfg[2][MAX_DEVS];
	eshare_backend *be[2][MAX_DEVS];
	struct faulty *fh[2][MAX_DEVS];
	struct tally t[2] = { 0 }, again[2] = { 0 };
	eshare_image *img[2];
	eshare_domain *d;
	struct eshare_stats st = ESHARE_STATS_INIT;
	char what[128];
	uint64_t faults;

	snprintf(what, sizeof(what), "%s faulty (random %s, seed %u) next to %s, policy %d",
		 rec[bad_side].name, fr_kind_name(kind), seed, rec[!bad_side].name, (int)policy);
	memset(cfg, 0, sizeof(cfg));
	for (unsigned dev = 0; dev < rec[bad_side].ndevs; dev++) {
		cfg[bad_side][dev].kind = kind;
		cfg[bad_side][dev].probability = RANDOM_PROBABILITY;
		cfg[bad_side][dev].seed = seed + dev;
	}
	for (unsigned i = 0; i < 2; i++) {
		t[i].what = again[i].what = what;
		t[i].faulted = i == bad_side;
	}
	d = fr_new_domain(&t[0], policy);
	assert_tally(&t[0]);
	for (unsigned i = 0; i < 2; i++) {
		int rc;

		ck_assert_int_eq(fr_open_devices(&rec[i], be[i], fh[i], cfg[i], &t[i]), 0);
		/* attach healthy: the point is the reads of shared files */
		fr_set_healthy(&rec[i], fh[i], true);
		rc = fr_attach(&img[i], d, &rec[i], be[i]);
		ck_assert_msg(rc == 0, "%s: attach %s: %d", what, rec[i].name, rc);
		fr_set_healthy(&rec[i], fh[i], false);
	}
	/* interleaved, so that either image may be the first to read a file */
	check_all(img[bad_side], &rec[bad_side], 0, false, &t[bad_side]);
	check_all(img[!bad_side], &rec[!bad_side], rec[!bad_side].nfiles / 2, false,
		  &t[!bad_side]);
	check_all(img[bad_side], &rec[bad_side], rec[bad_side].nfiles / 2, false, &t[bad_side]);
	faults = fr_faults_of(&rec[bad_side], fh[bad_side]);
	ck_assert_msg(faults > 0, "%s: never faulted", what);
	ck_assert_uint_eq(fr_faults_of(&rec[!bad_side], fh[!bad_side]), 0);
	fr_set_healthy(&rec[bad_side], fh[bad_side], true);
	for (unsigned i = 0; i < 2; i++)
		check_all(img[i], &rec[i], 0, false, &again[i]);
	ck_assert_int_eq(eshare_domain_stats(d, &st), 0);
	for (unsigned i = 0; i < 2; i++) {
		eshare_image_detach(img[i]);
	}
	ck_assert_int_eq(eshare_domain_close(d), 0);
	ck_assert_int_eq(faulty_live_handles(), 0);
	for (unsigned i = 0; i < 2; i++) {
		assert_tally(&t[i]);
		assert_tally(&again[i]);
	}
	if (faults_verbose)
		fprintf(stderr, "%s: %llu faults, %llu errors; %llu shared objects\n", what,
			(unsigned long long)faults, (unsigned long long)t[bad_side].eio,
			(unsigned long long)st.shared_objects);
}

START_TEST(test_shared_pair)
{
	static const eshare_share_policy policies[] = { ESHARE_SHARE_VERIFY, ESHARE_SHARE_TRUST,
							ESHARE_SHARE_COMPUTE };
	/* a sample: VERIFY only under ASan, VERIFY and TRUST under TSan */
	size_t npolicies = scale == TEST_SCALE_FULL ? 3 : scale == TEST_SCALE_THREADS ? 2 : 1;
	struct record rec[2];

	record_image(&rec[0], "shared-a");
	record_image(&rec[1], "shared-b");
	for (size_t p = 0; p < npolicies; p++) {
		for (unsigned side = 0; side < 2; side++) {
			pair_case(rec, side, policies[p], FAULTY_ERROR, 100 + (unsigned)p);
			pair_case(rec, side, policies[p], FAULTY_SHORT, 200 + (unsigned)p);
		}
	}
	record_free(&rec[0]);
	record_free(&rec[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("faults_pair");
	TCase *tc = tcase_create("shared");
	SRunner *sr;
	int failed;

	scale = test_scale();
	faults_verbose = getenv("ESHARE_FAULTS_VERBOSE") != NULL;
	faults_lenient = getenv("ESHARE_FAULTS_LENIENT") != NULL;
	printf("test_faults_pair: %s\n", test_scale_name(scale));
	fflush(stdout);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_shared_pair);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
