// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the input is an EROFS image.  It is attached from
 * memory in a fresh domain with a small cache (so eviction runs too) and
 * walked with the bounded walk of tests/unit/helpers/walk.c, which calls
 * every read-side function of the public API.  Besides the sanitizers'
 * findings, an attach error outside the documented set, an errno a bad
 * image cannot explain, and a broken API promise abort, so that the
 * fuzzer keeps the input.  ESHARE_FUZZ_LAX=1 in the environment turns
 * those three off (only crashes, leaks and hangs count then).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "helpers/walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CACHE_BYTES (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int lax = -1;
	struct walk_stats st = WALK_FUZZ_LIMITS;
	char line[512];
	int arc, odd = 0;

	if (lax < 0)
		lax = getenv("ESHARE_FUZZ_LAX") != NULL;
	if (eshare_test_run_bytes(data, size, FUZZ_CACHE_BYTES, &st, &arc))
		return 0;
	if (lax)
		return 0;
	if (arc && !eshare_test_attach_errno_expected(arc)) {
		fprintf(stderr, "fuzz_image: attach returned %d\n", arc);
		abort();
	}
	if (st.violations || !eshare_test_walk_errors_expected(&st, &odd)) {
		eshare_test_walk_format(&st, line, sizeof(line));
		fprintf(stderr, "fuzz_image: %s%s%d\n", line,
			st.violations ? "" : "; unexpected errno ", st.violations ? 0 : odd);
		abort();
	}
	return 0;
}
