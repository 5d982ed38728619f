/* SPDX-License-Identifier: MIT */
/*
 * How much of its case matrix a long test runs.  Each build runs what it
 * finds bugs with: a release build runs everything (wrong answers and
 * crashes), an ASan+UBSan build a deterministic sample (memory errors show
 * on the first bad access, they need no repetition), a TSan build only the
 * cases that run threads, on a sample.  ESHARE_TEST_FULL=1 in the
 * environment runs everything in any build.
 */
#ifndef ESHARE_TEST_SCALE_H
#define ESHARE_TEST_SCALE_H

#include <stdlib.h>
#include <string.h>

enum test_scale {
	TEST_SCALE_FULL,    /* every case */
	TEST_SCALE_SAMPLE,  /* ASan+UBSan: a sample of every kind of case */
	TEST_SCALE_THREADS, /* TSan: the threaded cases, on a sample */
};

#if defined(__SANITIZE_THREAD__)
#define ESHARE_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ESHARE_TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ESHARE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ESHARE_TEST_ASAN 1
#endif
#endif

/* ESHARE_TEST_FULL=1: every case, and the longest settings of each. */
static inline int test_full_requested(void)
{
	const char *full = getenv("ESHARE_TEST_FULL");

	return full && *full && strcmp(full, "0");
}

static inline enum test_scale test_scale(void)
{
	if (test_full_requested())
		return TEST_SCALE_FULL;
#if defined(ESHARE_TEST_TSAN)
	return TEST_SCALE_THREADS;
#elif defined(ESHARE_TEST_ASAN)
	return TEST_SCALE_SAMPLE;
#else
	return TEST_SCALE_FULL;
#endif
}

static inline const char *test_scale_name(enum test_scale s)
{
	return s == TEST_SCALE_FULL ? "full" : s == TEST_SCALE_SAMPLE ? "sample (ASan)" :
								     "threaded cases, sampled (TSan)";
}

#endif
