// SPDX-License-Identifier: MIT
/*
 * Hostile input: every fixture image cut short and with bits flipped,
 * and the fuzzer's regression inputs, read through the public API with the
 * bounded walk of helpers/walk.c (hand-made damage to each on-disk
 * structure: test_format_super/inode/dir/xattr.c).
 * Whatever the damage, attaching must fail with a negative errno or the
 * walk must finish without a crash and without breaking an API promise;
 * damage of a known kind must give its specific errno at the call that
 * meets it.  Everything runs on memory backends: nothing is written.
 *
 * A failing mutation is printed with its recipe (fixture, seed, offsets),
 * also when ASan, a signal or the per-case alarm (a hang) kills the test,
 * so it can be rebuilt.  UBSan exits without telling anyone: rerun with
 * ESHARE_HOSTILE_VERBOSE=1 to print every case as it starts, and with
 * ESHARE_HOSTILE_ONLY=<fixture>.erofs to run the per-fixture loops for one
 * fixture only.
 *
 * Under ASan+UBSan (helpers/scale.h) the large loops run a deterministic
 * sample: every third block-boundary cut, a third of the bit-flip seeds.
 * ESHARE_TEST_FULL=1 runs all.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <erofs_share/erofs_share.h>

#include "helpers/hostile.h"
#include "helpers/manifest.h"

/* ------------------------------------------------------------------ */
/* The intact fixtures: the walk sees what the kernel saw               */

START_TEST(test_fixture_walk_clean)
{
	const struct hfix *f = &hfixtures[_i];
	struct manifest man;
	struct manifest_counts m;
	struct walk_stats ws;
	eshare_domain *d;
	char line[512];
	int rc;

	if (hfix_skipped(f))
		return;
	d = new_domain();
	set_case("%s intact", f->name);
	ck_assert_int_eq(manifest_load(&man, f->info->name), 0);
	manifest_count(&man, &m);
	manifest_free(&man);
	rc = run_case(d, f->data, f->len, f->dev, f->dev_len, &full_walk, &ws);
	ck_assert_msg(rc == 0, "%s: attach %d", f->name, rc);
	eshare_test_walk_format(&ws, line, sizeof(line));
	ck_assert_msg(ws.errors == 0, "%s: %s", f->name, line);
	ck_assert_msg(!ws.entry_limit_hit && !ws.byte_limit_hit && !ws.cycles && !ws.depth_cuts,
		      "%s: a limit was hit: %s", f->name, line);
	/* The manifest lists the root too; the walk counts names below it. */
	ck_assert_msg(ws.entries == m.paths - 1, "%s: %s; manifest %llu paths", f->name, line,
		      (unsigned long long)m.paths);
	ck_assert_uint_eq(ws.dirs, m.dirs);
	ck_assert_uint_eq(ws.regs, m.regs);
	ck_assert_uint_eq(ws.symlinks, m.symlinks);
	ck_assert_uint_eq(ws.specials, m.specials);
	ck_assert_uint_eq(ws.file_bytes, m.reg_bytes);
	ck_assert_uint_eq(ws.link_bytes, m.link_bytes);
	ck_assert_uint_eq(ws.xattr_odd_names, 0);
	close_domain(d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* (a) truncations                                                      */

static unsigned fixture_blkszbits(const struct hfix *f)
{
	return f->data[SB(blkszbits)];
}

START_TEST(test_truncate)
{
	static const size_t fixed[] = { 0, 1, 2, 4, 1023, 1024, 1025, 1027, 1028, 1032, 1036,
					1040, 1100, 1151, 1152, 1153, 1167, 1168, 1169, 1200,
					1536, 2047, 2048, 3000, 4095 };
	const struct hfix *f = &hfixtures[_i];
	const uint8_t *dev = f->dev;
	uint32_t blksz = 1u << fixture_blkszbits(f);
	uint64_t seed = name_hash(f->name) ^ 0x7472756eull;
	/* 512-byte images have thousands of boundaries: walk those shortly */
	const struct walk_stats *bw = &short_walk;
	double t0 = now_seconds();
	unsigned attached = 0, cases = 0;
	eshare_domain *d;

	if (hfix_skipped(f))
		return;
	d = new_domain();
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		int rc;

		set_case("%s cut to %zu bytes", f->name, fixed[i]);
		rc = run_case(d, f->data, fixed[i], dev, f->dev_len, &short_walk, NULL);
		/* no room for the magic: not EROFS; the magic but no whole
		 * superblock: a cut EROFS image */
		if (fixed[i] < EROFS_SUPER_OFFSET + 4)
			ck_assert_msg(rc == ERR_BAD_MAGIC, "%s: %d", current_case, rc);
		else if (fixed[i] < EROFS_SUPER_OFFSET + sizeof(struct erofs_super_block))
			ck_assert_msg(rc == -EFSCORRUPTED, "%s: %d", current_case, rc);
		attached += !rc;
		cases++;
	}
	for (size_t cut = blksz * (1 + _i % sample_stride); cut < f->len;
	     cut += (size_t)blksz * sample_stride) {
		set_case("%s cut to %zu bytes (block boundary)", f->name, cut);
		attached += !run_case(d, f->data, cut, dev, f->dev_len, bw, NULL);
		cases++;
	}
	for (int i = 0; i < 12; i++) {
		size_t cut = (size_t)(rng_next(&seed) % f->len);

		set_case("%s cut to %zu bytes (random)", f->name, cut);
		attached += !run_case(d, f->data, cut, dev, f->dev_len, &full_walk, NULL);
		cases++;
	}
	set_case("%s cut to %zu bytes (last byte)", f->name, f->len - 1);
	attached += !run_case(d, f->data, f->len - 1, dev, f->dev_len, &full_walk, NULL);
	cases++;
	if (dev) {
		/* the extra device cut short: chunks on it must fail cleanly */
		for (size_t cut = 0; cut < f->dev_len; cut += f->dev_len / 24 + 1) {
			set_case("%s with its blob cut to %zu bytes", f->name, cut);
			attached += !run_case(d, f->data, f->len, dev, cut, &medium_walk, NULL);
			cases++;
		}
	}
	fprintf(stderr, "truncate %s: %u cases, %u attached, %.1f s\n", f->name, cases, attached,
		now_seconds() - t0);
	close_domain(d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* (b) bit flips                                                        */

#define FLIP_SEEDS 20

START_TEST(test_bitflip_meta)
{
	const struct hfix *f = &hfixtures[_i];
	const uint8_t *dev = f->dev;
	uint32_t blksz = 1u << fixture_blkszbits(f);
	uint64_t meta = (uint64_t)ef_le32(f->data + SB(meta_blkaddr)) * blksz;
	double t0 = now_seconds();
	unsigned attached = 0;
	eshare_domain *d;
	uint8_t *c;

	if (hfix_skipped(f))
		return;
	c = malloc(f->len);
	d = new_domain();
	ck_assert_ptr_nonnull(c);
	for (unsigned s = _i % sample_stride; s < FLIP_SEEDS; s += sample_stride) {
		uint64_t seed = name_hash(f->name) + s * 0x1000193ull;
		unsigned nflips = 1 + (unsigned)(rng_next(&seed) % 8);
		char recipe[256];
		size_t rl = 0;

		memcpy(c, f->data, f->len);
		for (unsigned k = 0; k < nflips; k++) {
			uint64_t r = rng_next(&seed), pos;
			unsigned bit = (unsigned)(r >> 61);

			/* half in the first 64 KiB, a quarter in the inode area, a quarter anywhere */
			switch (r & 3) {
			case 0: case 1:
				pos = (r >> 2) % (f->len < 65536 ? f->len : 65536);
				break;
			case 2:
				pos = meta + (r >> 2) % (256u << 10);
				if (pos >= f->len)
					pos = (r >> 2) % f->len;
				break;
			default:
				pos = (r >> 2) % f->len;
			}
			c[pos] ^= (uint8_t)(1u << bit);
			rl += (size_t)snprintf(recipe + rl, sizeof(recipe) - rl, " %llu:%u",
					       (unsigned long long)pos, bit);
			if (rl >= sizeof(recipe))
				rl = sizeof(recipe) - 1;
		}
		sb_fix_checksum(c, f->len);
		set_case("%s seed %u flips (offset:bit)%s, checksum fixed", f->name, s, recipe);
		attached += !run_case(d, c, f->len, dev, f->dev_len, &full_walk, NULL);
	}
	fprintf(stderr, "bitflip %s: %u seeds, %u attached, %.1f s\n", f->name,
		(FLIP_SEEDS - _i % sample_stride + sample_stride - 1) / sample_stride,
		attached, now_seconds() - t0);
	free(c);
	close_domain(d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Crashing inputs found by the fuzzer, kept as regression files         */

START_TEST(test_regressions)
{
	char dirpath[4096], path[8192];
	struct dirent *de;
	unsigned n = 0;
	DIR *dir;

	snprintf(dirpath, sizeof(dirpath), "%s/../fuzz/regressions", ESHARE_FIXTURES);
	dir = opendir(dirpath);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct walk_stats ws = WALK_FUZZ_LIMITS;
		size_t len;
		uint8_t *data;
		int arc;

		if (de->d_name[0] == '.' || strstr(de->d_name, ".md"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
		data = test_load_file(path, &len);
		if (!data)
			continue;
		set_case("regression %s", de->d_name);
		alarm(CASE_ALARM_SECONDS);
		/* exactly what the fuzzer does with an input */
		eshare_test_run_bytes(data, len, 4u << 20, &ws, &arc);
		alarm(0);
		ck_assert_msg(arc == 0 || eshare_test_attach_errno_expected(arc), "%s: attach %d",
			      current_case, arc);
		check_walk(&ws);
		free(data);
		n++;
	}
	closedir(dir);
	fprintf(stderr, "regressions: %u inputs\n", n);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc;

	tc = tcase_create("intact");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_fixture_walk_clean, 0, (int)nhfixtures);
	tcase_add_test(tc, test_regressions);
	suite_add_tcase(s, tc);

	tc = tcase_create("truncate");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_truncate, 0, (int)nhfixtures);
	suite_add_tcase(s, tc);

	tc = tcase_create("bitflip");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_bitflip_meta, 0, (int)nhfixtures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hostile_main("test_hostile", make_suite());
}
