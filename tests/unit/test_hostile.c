// SPDX-License-Identifier: MIT
/*
 * Hostile input: every fixture image cut short, with bits flipped, and
 * with hand-made damage to its superblock, inodes, directories and xattrs,
 * read through the public API with the bounded walk of helpers/walk.c.
 * Whatever the damage, attaching must fail with a negative errno or the
 * walk must finish without a crash and without breaking an API promise;
 * damage of a known kind must give its specific errno at the call that
 * meets it.  Everything runs on memory backends: nothing is written.
 *
 * Superblock errnos, as lib/format/super.c decides them (checked here):
 * bad magic -ESHARE_ENOTEROFS ("not an EROFS image"), blkszbits outside 9..16
 * -EFSCORRUPTED, checksum mismatch -EFSCORRUPTED (the kernel says
 * -EBADMSG; the library folds it into "bad image"), unknown incompatible
 * feature -EOPNOTSUPP, root not a directory -EFSCORRUPTED.  Inodes follow
 * FORMAT.md section 3 and the kernel: reserved i_format bits and data
 * layouts 5..7 -EOPNOTSUPP, a bad file type or i_size above INT64_MAX
 * -EFSCORRUPTED.
 *
 * A failing mutation is printed with its recipe (fixture, seed, offsets),
 * also when ASan, a signal or the per-case alarm (a hang) kills the test,
 * so it can be rebuilt.  UBSan exits without telling anyone: rerun with
 * ESHARE_HOSTILE_VERBOSE=1 to print every case as it starts, and with
 * ESHARE_HOSTILE_ONLY=<fixture>.erofs to run the per-fixture loops for one
 * fixture only.
 *
 * Under ASan+UBSan (helpers/scale.h) the large loops run a deterministic
 * sample: each superblock-flip image a third of the bits (the ten images
 * together still flip every bit), every third block-boundary cut, a third
 * of the bit-flip seeds and inode numbers.  ESHARE_TEST_FULL=1 runs all.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <erofs_share/erofs_share.h>

#include "format/format.h"
#include "format/ondisk.h"
#include "helpers/scale.h"
#include "helpers/walk.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

#define ERR_BAD_MAGIC (-ESHARE_ENOTEROFS)
#define ERR_BAD_BLKSZ (-EFSCORRUPTED)
#define ERR_BAD_CSUM (-EFSCORRUPTED)

/* 1, or 3 when sampling (one case in SAMPLE_STRIDE runs) */
static unsigned sample_stride = 1;
#define SAMPLE_STRIDE 3

/* A case taking longer than this is a hang. */
#define CASE_ALARM_SECONDS 60
#define MAX_FIXTURES 64

struct fixture {
	char name[64];
	uint8_t *data;
	size_t len;
};

static struct fixture fixtures[MAX_FIXTURES];
static unsigned nfixtures;
static uint8_t *blob;
static size_t blob_len;

/* ------------------------------------------------------------------ */
/* What is running now, printed if the process dies                     */

static char current_case[512];

static void say_current_case(void)
{
	static const char pre[] = "\n*** test_hostile died in case: ";
	ssize_t rc;

	rc = write(2, pre, sizeof(pre) - 1);
	rc = write(2, current_case, strnlen(current_case, sizeof(current_case)));
	rc = write(2, "\n", 1);
	(void)rc;
}

static void on_fatal_signal(int sig)
{
	if (sig == SIGALRM) {
		static const char msg[] = "\n*** hang: case ran over its alarm";
		ssize_t rc = write(2, msg, sizeof(msg) - 1);

		(void)rc;
	}
	say_current_case();
	signal(sig, SIG_DFL);
	raise(sig == SIGALRM ? SIGABRT : sig);
}

static int verbose = -1;

/* Name the case about to run; ESHARE_HOSTILE_VERBOSE=1 prints each one. */
static void set_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_case(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(current_case, sizeof(current_case), fmt, ap);
	va_end(ap);
	if (verbose < 0)
		verbose = getenv("ESHARE_HOSTILE_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "case: %s\n", current_case);
}

static void install_death_reporters(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigaction(SIGALRM, &sa, NULL);
#if defined(__SANITIZE_ADDRESS__)
	/* ASan owns SEGV and friends; it calls this before exiting. */
	__sanitizer_set_death_callback(say_current_case);
#else
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGABRT, &sa, NULL);
#endif
}

/* ------------------------------------------------------------------ */
/* Small tools                                                          */

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ESHARE_HOSTILE_ONLY=NAME limits the per-fixture tests to one fixture. */
static bool fixture_skipped(const struct fixture *f)
{
	const char *only = getenv("ESHARE_HOSTILE_ONLY");

	return only && strcmp(only, f->name);
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

static uint8_t *load_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || st.st_size <= 0) {
		close(fd);
		return NULL;
	}
	p = malloc((size_t)st.st_size);
	if (p && pread(fd, p, (size_t)st.st_size, 0) != st.st_size) {
		free(p);
		p = NULL;
	}
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(((const struct fixture *)a)->name, ((const struct fixture *)b)->name);
}

static void load_fixtures(void)
{
	DIR *dir = opendir(ESHARE_FIXTURES);
	struct dirent *de;
	char path[4096];

	if (!dir)
		return;
	while ((de = readdir(dir)) && nfixtures < MAX_FIXTURES) {
		size_t n = strlen(de->d_name);
		struct fixture *f = &fixtures[nfixtures];

		if (n < 7 || n >= sizeof(f->name) || strcmp(de->d_name + n - 6, ".erofs"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", ESHARE_FIXTURES, de->d_name);
		f->data = load_file(path, &f->len);
		if (!f->data)
			continue;
		memcpy(f->name, de->d_name, n + 1);
		nfixtures++;
	}
	closedir(dir);
	qsort(fixtures, nfixtures, sizeof(fixtures[0]), cmp_names);
	snprintf(path, sizeof(path), "%s/multidev.blob", ESHARE_FIXTURES);
	blob = load_file(path, &blob_len);
}

static const struct fixture *fixture_named(const char *name)
{
	for (unsigned i = 0; i < nfixtures; i++)
		if (!strcmp(fixtures[i].name, name))
			return &fixtures[i];
	ck_abort_msg("fixture %s missing", name);
	return NULL;
}

static bool needs_blob(const struct fixture *f)
{
	return !strcmp(f->name, "multidev.erofs");
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

#define SB(field) (EROFS_SUPER_OFFSET + offsetof(struct erofs_super_block, field))

/*
 * Recompute the superblock checksum (FORMAT.md section 1: crc32c seeded
 * ~0, no final xor, over [1024, 1024 + len) with the checksum zeroed;
 * len = blksz - 1024, or blksz when that is not above 1024), using the
 * block size the (possibly damaged) superblock now claims, so that a
 * flipped bit gets past the checksum and reaches the parser.
 */
static void fix_checksum(uint8_t *d, size_t len)
{
	unsigned bits;
	uint64_t blksz, clen;

	if (len < EROFS_SUPER_OFFSET + sizeof(struct erofs_super_block) ||
	    !(ef_le32(d + SB(feature_compat)) & EROFS_COMPAT_SB_CHKSUM))
		return;
	bits = d[SB(blkszbits)];
	if (bits > 30)
		return;
	blksz = 1ull << bits;
	clen = blksz > EROFS_SUPER_OFFSET ? blksz - EROFS_SUPER_OFFSET : blksz;
	if (EROFS_SUPER_OFFSET + clen > len)
		return;
	put_le32(d + SB(checksum), 0);
	put_le32(d + SB(checksum), ef_crc32c(~0u, d + EROFS_SUPER_OFFSET, (size_t)clen));
}

/* ------------------------------------------------------------------ */
/* Attaching and walking one (possibly damaged) image                   */

static uint64_t log_lines;

static void count_log(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	(void)msg;
	__atomic_add_fetch(&log_lines, 1, __ATOMIC_RELAXED);
}

static eshare_domain *new_domain(void)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_domain *d;
	int rc;

	/* A small budget makes eviction happen during the walks too. */
	o.cache_bytes = 4u << 20;
	o.log = count_log;
	rc = eshare_domain_create(&d, &o);
	ck_assert_int_eq(rc, 0);
	return d;
}

static void close_domain(eshare_domain *d)
{
	int rc = eshare_domain_close(d);

	ck_assert_msg(rc == 0, "domain close: %d (an image or inode leaked?) after %s", rc,
		      current_case);
}

/* Attach @data (and @dev as the extra device when not NULL). */
static int attach(eshare_image **out, eshare_domain *d, const uint8_t *data, size_t len,
		  const uint8_t *dev, size_t dev_len)
{
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;
	eshare_backend *be, *extra = NULL;
	int rc;

	rc = eshare_backend_memory(&be, data, len, NULL, NULL);
	ck_assert_int_eq(rc, 0);
	if (dev) {
		rc = eshare_backend_memory(&extra, dev, dev_len, NULL, NULL);
		ck_assert_int_eq(rc, 0);
		o.devices = &extra;
		o.ndevices = 1;
	}
	rc = eshare_image_attach(out, d, be, &o);
	if (rc) {
		eshare_backend_close(be);
		eshare_backend_close(extra);
	}
	return rc;
}

static void check_walk(const struct walk_stats *ws)
{
	char line[512];
	int odd = 0;

	eshare_test_walk_format(ws, line, sizeof(line));
	ck_assert_msg(ws->violations == 0, "%s: API promise broken: %s", current_case,
		      ws->first_violation);
	ck_assert_msg(eshare_test_walk_errors_expected(ws, &odd), "%s: unexpected errno %d: %s",
		      current_case, odd, line);
}

/*
 * Attach and, if that works, walk within @limits.  Returns the attach
 * result; *ws (if given) gets the walk's figures.
 */
static int run_case(eshare_domain *d, const uint8_t *data, size_t len, const uint8_t *dev,
		    size_t dev_len, const struct walk_stats *limits, struct walk_stats *ws_out)
{
	struct walk_stats ws = *limits;
	eshare_image *img;
	int rc;

	alarm(CASE_ALARM_SECONDS);
	rc = attach(&img, d, data, len, dev, dev_len);
	if (rc) {
		alarm(0);
		ck_assert_msg(eshare_test_attach_errno_expected(rc), "%s: attach returned %d",
			      current_case, rc);
		return rc;
	}
	eshare_test_walk(img, &ws);
	eshare_image_detach(img);
	alarm(0);
	check_walk(&ws);
	if (ws_out)
		*ws_out = ws;
	return 0;
}

static const struct walk_stats full_walk = { 0 };
/* For the many cases whose damage is met early: a short, cheap walk. */
static const struct walk_stats short_walk = {
	.max_entries = 400, .max_bytes = 1u << 20, .skip_extra = true,
};
static const struct walk_stats medium_walk = {
	.max_entries = 3000, .max_bytes = 4u << 20, .skip_extra = true,
};

/* ------------------------------------------------------------------ */
/* The intact fixtures: the walk sees what the kernel saw               */

struct manifest_sums {
	uint64_t paths, regs, dirs, symlinks, specials, reg_bytes, link_bytes;
};

static void read_manifest(const char *image, struct manifest_sums *m)
{
	char path[4096], *line = NULL;
	size_t cap = 0;
	FILE *f;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "%s/%s.manifest", ESHARE_FIXTURES, image);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "no manifest for %s", image);
	while (getline(&line, &cap, f) > 0) {
		char *col[14], *save = NULL, *p = line;
		int n = 0;

		if (line[0] == '#')
			continue;
		line[strcspn(line, "\n")] = '\0';
		while (n < 14 && (col[n] = strtok_r(p, "\t", &save)))
			p = NULL, n++;
		ck_assert_int_ge(n, 11);
		m->paths++;
		if (!strcmp(col[1], "reg")) {
			m->regs++;
			m->reg_bytes += strtoull(col[5], NULL, 10);
		} else if (!strcmp(col[1], "dir")) {
			m->dirs++;
		} else if (!strcmp(col[1], "lnk")) {
			m->symlinks++;
			m->link_bytes += strtoull(col[5], NULL, 10);
		} else {
			m->specials++;
		}
	}
	free(line);
	fclose(f);
}

START_TEST(test_fixture_walk_clean)
{
	const struct fixture *f = &fixtures[_i];
	struct manifest_sums m;
	struct walk_stats ws;
	eshare_domain *d;
	char line[512];
	int rc;

	if (fixture_skipped(f))
		return;
	d = new_domain();
	set_case("%s intact", f->name);
	read_manifest(f->name, &m);
	rc = run_case(d, f->data, f->len, needs_blob(f) ? blob : NULL, blob_len, &full_walk, &ws);
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

/* The checksum recomputation must reproduce what mkfs wrote. */
START_TEST(test_checksum_recompute)
{
	for (unsigned i = 0; i < nfixtures; i++) {
		const struct fixture *f = &fixtures[i];
		uint8_t *c = malloc(f->len);

		ck_assert_ptr_nonnull(c);
		memcpy(c, f->data, f->len);
		fix_checksum(c, f->len);
		ck_assert_msg(!memcmp(c, f->data, f->len), "%s: checksum recomputed differently",
			      f->name);
		free(c);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* (a) truncations                                                      */

static unsigned fixture_blkszbits(const struct fixture *f)
{
	return f->data[SB(blkszbits)];
}

START_TEST(test_truncate)
{
	static const size_t fixed[] = { 0, 1, 2, 4, 1023, 1024, 1025, 1027, 1028, 1032, 1036,
					1040, 1100, 1151, 1152, 1153, 1167, 1168, 1169, 1200,
					1536, 2047, 2048, 3000, 4095 };
	const struct fixture *f = &fixtures[_i];
	const uint8_t *dev = needs_blob(f) ? blob : NULL;
	uint32_t blksz = 1u << fixture_blkszbits(f);
	uint64_t seed = name_hash(f->name) ^ 0x7472756eull;
	/* 512-byte images have thousands of boundaries: walk those shortly */
	const struct walk_stats *bw = &short_walk;
	double t0 = now_seconds();
	unsigned attached = 0, cases = 0;
	eshare_domain *d;

	if (fixture_skipped(f))
		return;
	d = new_domain();
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		int rc;

		set_case("%s cut to %zu bytes", f->name, fixed[i]);
		rc = run_case(d, f->data, fixed[i], dev, blob_len, &short_walk, NULL);
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
		attached += !run_case(d, f->data, cut, dev, blob_len, bw, NULL);
		cases++;
	}
	for (int i = 0; i < 12; i++) {
		size_t cut = (size_t)(rng_next(&seed) % f->len);

		set_case("%s cut to %zu bytes (random)", f->name, cut);
		attached += !run_case(d, f->data, cut, dev, blob_len, &full_walk, NULL);
		cases++;
	}
	set_case("%s cut to %zu bytes (last byte)", f->name, f->len - 1);
	attached += !run_case(d, f->data, f->len - 1, dev, blob_len, &full_walk, NULL);
	cases++;
	if (dev) {
		/* the extra device cut short: chunks on it must fail cleanly */
		for (size_t cut = 0; cut < blob_len; cut += blob_len / 24 + 1) {
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
	const struct fixture *f = &fixtures[_i];
	const uint8_t *dev = needs_blob(f) ? blob : NULL;
	uint32_t blksz = 1u << fixture_blkszbits(f);
	uint64_t meta = (uint64_t)ef_le32(f->data + SB(meta_blkaddr)) * blksz;
	double t0 = now_seconds();
	unsigned attached = 0;
	eshare_domain *d;
	uint8_t *c;

	if (fixture_skipped(f))
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
		fix_checksum(c, f->len);
		set_case("%s seed %u flips (offset:bit)%s, checksum fixed", f->name, s, recipe);
		attached += !run_case(d, c, f->len, dev, blob_len, &full_walk, NULL);
	}
	fprintf(stderr, "bitflip %s: %u seeds, %u attached, %.1f s\n", f->name,
		(FLIP_SEEDS - _i % sample_stride + sample_stride - 1) / sample_stride,
		attached, now_seconds() - t0);
	free(c);
	close_domain(d);
}
END_TEST

/*
 * Every bit of the superblock region, one at a time, with the checksum
 * fixed (except for the checksum's own bits): known fields must give their
 * specific errno, the rest anything but a crash.
 */
static int sb_flip_expect(size_t off, unsigned bit, uint8_t newval, bool had_csum)
{
	size_t rel = off - EROFS_SUPER_OFFSET;

	if (rel < 4)
		return ERR_BAD_MAGIC;
	if (rel < 8 && had_csum)
		return ERR_BAD_CSUM;
	if (rel == offsetof(struct erofs_super_block, blkszbits) && (newval < 9 || newval > 16))
		return ERR_BAD_BLKSZ;
	if (rel >= offsetof(struct erofs_super_block, feature_incompat) &&
	    rel < offsetof(struct erofs_super_block, feature_incompat) + 4) {
		unsigned b = (unsigned)(rel - offsetof(struct erofs_super_block, feature_incompat)) *
			     8 + bit;

		if (!(EROFS_INCOMPAT_ALL & (1u << b)))
			return -EOPNOTSUPP;
	}
	return 0;
}

static const char *const sb_flip_images[] = {
	"plain-4k.erofs", "plain-512.erofs", "lz4hc-pcluster64k.erofs", "lzma.erofs",
	"multidev.erofs", "48bit.erofs", "metabox.erofs", "digest-lz4.erofs",
	"fragments.erofs", "xattr-filter.erofs",
};

START_TEST(test_sb_bits)
{
	const struct fixture *f = fixture_named(sb_flip_images[_i]);
	const uint8_t *dev = needs_blob(f) ? blob : NULL;
	bool had_csum = ef_le32(f->data + SB(feature_compat)) & EROFS_COMPAT_SB_CHKSUM;
	double t0 = now_seconds();
	unsigned attached = 0, cases = 0;
	eshare_domain *d;
	uint8_t *c;

	if (fixture_skipped(f))
		return;
	c = malloc(f->len);
	d = new_domain();
	ck_assert_ptr_nonnull(c);
	memcpy(c, f->data, f->len);
	for (size_t off = EROFS_SUPER_OFFSET; off < EROFS_SUPER_OFFSET + 144; off++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			size_t rel = off - EROFS_SUPER_OFFSET;
			int expect, rc;

			if ((rel * 8 + bit) % sample_stride != (unsigned)_i % sample_stride)
				continue;

			memcpy(c, f->data, 8192 < f->len ? 8192 : f->len);
			c[off] ^= (uint8_t)(1u << bit);
			if (rel < 4 || rel >= 8)
				fix_checksum(c, f->len);
			expect = sb_flip_expect(off, bit, c[off], had_csum);
			set_case("%s superblock byte %zu (field offset %zu) bit %u flipped%s",
				 f->name, off, rel, bit,
				 rel >= 4 && rel < 8 ? "" : ", checksum fixed");
			rc = run_case(d, c, f->len, dev, blob_len, &short_walk, NULL);
			if (expect)
				ck_assert_msg(rc == expect, "%s: attach %d, expected %d", current_case,
					      rc, expect);
			attached += !rc;
			cases++;
		}
	}
	fprintf(stderr, "sb bits %s: %u cases, %u attached, %.1f s\n", f->name, cases, attached,
		now_seconds() - t0);
	free(c);
	close_domain(d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* A tiny independent parser of flat images, to find what to damage     */

struct pimg {
	const uint8_t *d;
	size_t len;
	uint32_t blksz;
	uint64_t meta;
	uint64_t root;
};

struct pino {
	uint64_t nid, pos; /* pos: image offset of the inode */
	uint16_t fmt, mode, icount;
	bool ext;
	unsigned layout, isize, xsize;
	uint64_t size;
	uint32_t u;
};

static void p_open(struct pimg *p, const uint8_t *d, size_t len)
{
	p->d = d;
	p->len = len;
	ck_assert_uint_eq(ef_le32(d + SB(magic)), EROFS_SUPER_MAGIC);
	p->blksz = 1u << d[SB(blkszbits)];
	p->meta = (uint64_t)ef_le32(d + SB(meta_blkaddr)) * p->blksz;
	p->root = ef_le16(d + SB(rootnid_2b));
}

static void p_iget(const struct pimg *p, uint64_t nid, struct pino *ino)
{
	const uint8_t *raw;

	memset(ino, 0, sizeof(*ino));
	ino->nid = nid;
	ino->pos = p->meta + nid * EROFS_SLOTSIZE;
	ck_assert_uint_le(ino->pos + 64, p->len);
	raw = p->d + ino->pos;
	ino->fmt = ef_le16(raw + offsetof(struct erofs_inode_compact, i_format));
	ino->icount = ef_le16(raw + offsetof(struct erofs_inode_compact, i_xattr_icount));
	ino->mode = ef_le16(raw + offsetof(struct erofs_inode_compact, i_mode));
	ino->ext = ino->fmt & EROFS_I_VERSION_MASK;
	ino->layout = (ino->fmt >> EROFS_I_DATALAYOUT_SHIFT) & EROFS_I_DATALAYOUT_MASK;
	if (ino->ext) {
		ino->isize = 64;
		ino->size = ef_le64(raw + offsetof(struct erofs_inode_extended, i_size));
		ino->u = ef_le32(raw + offsetof(struct erofs_inode_extended, i_u));
	} else {
		ino->isize = 32;
		ino->size = ef_le32(raw + offsetof(struct erofs_inode_compact, i_size));
		ino->u = ef_le32(raw + offsetof(struct erofs_inode_compact, i_u));
	}
	ino->xsize = ino->icount ? 12 + 4u * (ino->icount - 1) : 0;
}

/* Image offset of data byte @off of a flat (plain or inline) inode. */
static uint64_t p_dataoff(const struct pimg *p, const struct pino *ino, uint64_t off)
{
	uint64_t nblocks = (ino->size + p->blksz - 1) / p->blksz;
	uint64_t blk = off / p->blksz;

	ck_assert_msg(ino->layout == EROFS_INODE_FLAT_PLAIN || ino->layout == EROFS_INODE_FLAT_INLINE,
		      "nid %llu: layout %u", (unsigned long long)ino->nid, ino->layout);
	if (ino->layout == EROFS_INODE_FLAT_INLINE && blk == nblocks - 1)
		return ino->pos + ino->isize + ino->xsize + off % p->blksz;
	return (uint64_t)ino->u * p->blksz + off;
}

/* Find @name in directory @dir; *dpos gets the image offset of its dirent. */
static bool p_lookup(const struct pimg *p, const struct pino *dir, const char *name,
		     uint64_t *nid, uint64_t *dpos)
{
	size_t nlen = strlen(name);

	for (uint64_t b = 0; b < dir->size; b += p->blksz) {
		uint64_t base = p_dataoff(p, dir, b);
		uint64_t maxsize = dir->size - b < p->blksz ? dir->size - b : p->blksz;
		const uint8_t *blk = p->d + base;
		unsigned n = ef_le16(blk + 8) / 12;

		for (unsigned i = 0; i < n; i++) {
			unsigned off = ef_le16(blk + 12 * i + 8);
			unsigned end = i + 1 < n ? ef_le16(blk + 12 * (i + 1) + 8) :
						   (unsigned)strnlen((const char *)blk + off,
								     maxsize - off) + off;

			if (end - off == nlen && !memcmp(blk + off, name, nlen)) {
				*nid = ef_le64(blk + 12 * i);
				*dpos = base + 12 * i;
				return true;
			}
		}
	}
	return false;
}

static void p_path(const struct pimg *p, const char *path, struct pino *out, uint64_t *dpos)
{
	char buf[512], *save = NULL, *comp;
	struct pino cur;

	p_iget(p, p->root, &cur);
	*dpos = 0;
	snprintf(buf, sizeof(buf), "%s", path);
	for (comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		uint64_t nid;

		ck_assert_msg(p_lookup(p, &cur, comp, &nid, dpos), "parser: %s not found", path);
		p_iget(p, nid, &cur);
	}
	*out = cur;
}

/* ------------------------------------------------------------------ */
/* (c) hand-made damage on plain-4k.erofs                               */

struct patched {
	uint8_t *d;
	size_t len;
	struct pimg p;
	eshare_domain *dom;
	eshare_image *img;
};

static void patched_begin(struct patched *x)
{
	const struct fixture *f = fixture_named("plain-4k.erofs");

	x->len = f->len;
	x->d = malloc(f->len);
	ck_assert_ptr_nonnull(x->d);
	memcpy(x->d, f->data, f->len);
	p_open(&x->p, x->d, x->len);
	x->dom = new_domain();
	x->img = NULL;
}

/* Attach the patched bytes (checksum fixed); returns the attach result. */
static int patched_attach(struct patched *x)
{
	fix_checksum(x->d, x->len);
	return attach(&x->img, x->dom, x->d, x->len, NULL, 0);
}

/* Detach, then walk the same bytes again: nothing may crash. */
static void patched_end(struct patched *x)
{
	if (x->img)
		eshare_image_detach(x->img);
	x->img = NULL;
	run_case(x->dom, x->d, x->len, NULL, 0, &full_walk, NULL);
	close_domain(x->dom);
	free(x->d);
}

static void sb_patch_expect(void (*patch)(uint8_t *d), int expect, const char *what)
{
	struct patched x;
	int rc;

	uint64_t logged = __atomic_load_n(&log_lines, __ATOMIC_RELAXED);

	patched_begin(&x);
	patch(x.d);
	set_case("plain-4k.erofs: %s", what);
	rc = patched_attach(&x);
	ck_assert_msg(rc == expect, "%s: attach %d, expected %d", what, rc, expect);
	/* a corrupt image is reported to the domain's log, not only by errno */
	if (expect == -EFSCORRUPTED)
		ck_assert_msg(__atomic_load_n(&log_lines, __ATOMIC_RELAXED) > logged,
			      "%s: nothing logged", what);
	patched_end(&x);
}

static void patch_magic(uint8_t *d) { put_le32(d + SB(magic), 0xE0F5E1E3); }
static void patch_blkszbits_8(uint8_t *d) { d[SB(blkszbits)] = 8; }
static void patch_blkszbits_17(uint8_t *d) { d[SB(blkszbits)] = 17; }
static void patch_incompat_0x200(uint8_t *d)
{
	put_le32(d + SB(feature_incompat), ef_le32(d + SB(feature_incompat)) | 0x200);
}
static void patch_incompat_top(uint8_t *d)
{
	put_le32(d + SB(feature_incompat), ef_le32(d + SB(feature_incompat)) | 0x80000000u);
}
static void patch_dirblkbits(uint8_t *d) { d[SB(dirblkbits)] = 1; }
static void patch_extslots_huge(uint8_t *d) { d[SB(sb_extslots)] = 255; }
static void patch_packed_metabox_bit(uint8_t *d)
{
	put_le32(d + SB(feature_incompat), ef_le32(d + SB(feature_incompat)) |
					   EROFS_INCOMPAT_FRAGMENTS);
	put_le64(d + SB(packed_nid), EROFS_NID_METABOX_BIT | 5);
}
static void patch_metabox_no_ext(uint8_t *d)
{
	put_le32(d + SB(feature_incompat), ef_le32(d + SB(feature_incompat)) |
					   EROFS_INCOMPAT_METABOX);
}
static void patch_ishare_id(uint8_t *d)
{
	put_le32(d + SB(feature_compat), ef_le32(d + SB(feature_compat)) |
					 EROFS_COMPAT_ISHARE_XATTRS);
	d[SB(ishare_xattr_prefix_id)] = 3; /* no prefix table at all */
}
static void patch_unknown_alg(uint8_t *d)
{
	put_le32(d + SB(feature_incompat), ef_le32(d + SB(feature_incompat)) |
					   EROFS_INCOMPAT_COMPR_CFGS);
	put_le16(d + SB(u1), 0x10);
}
static void patch_devices_missing(uint8_t *d)
{
	put_le32(d + SB(feature_incompat), ef_le32(d + SB(feature_incompat)) |
					   EROFS_INCOMPAT_DEVICE_TABLE);
	put_le16(d + SB(extra_devices), 1);
	put_le16(d + SB(devt_slotoff), 16); /* byte 2048: some inode; tag is opaque */
}

START_TEST(test_bad_superblocks)
{
	sb_patch_expect(patch_magic, ERR_BAD_MAGIC, "bad magic");
	sb_patch_expect(patch_blkszbits_8, ERR_BAD_BLKSZ, "blkszbits 8");
	sb_patch_expect(patch_blkszbits_17, ERR_BAD_BLKSZ, "blkszbits 17");
	sb_patch_expect(patch_incompat_0x200, -EOPNOTSUPP, "incompat bit 0x200");
	sb_patch_expect(patch_incompat_top, -EOPNOTSUPP, "incompat bit 0x80000000");
	sb_patch_expect(patch_dirblkbits, -EOPNOTSUPP, "dirblkbits 1");
	sb_patch_expect(patch_extslots_huge, -EFSCORRUPTED, "sb_extslots 255");
	sb_patch_expect(patch_packed_metabox_bit, -EFSCORRUPTED, "packed nid with bit 63");
	sb_patch_expect(patch_metabox_no_ext, -EFSCORRUPTED, "metabox without sb extension");
	sb_patch_expect(patch_ishare_id, -EFSCORRUPTED, "ishare prefix id without prefixes");
	sb_patch_expect(patch_unknown_alg, -EOPNOTSUPP, "unknown compression algorithm bit");
	sb_patch_expect(patch_devices_missing, -ENXIO, "extra device not given");
}
END_TEST

START_TEST(test_bad_checksum)
{
	const struct fixture *f = fixture_named("plain-4k.erofs");
	eshare_domain *d = new_domain();
	uint8_t *c = malloc(f->len);
	eshare_image *img;
	int rc;

	ck_assert_ptr_nonnull(c);
	/* a byte of the checksummed area past the superblock, checksum kept */
	memcpy(c, f->data, f->len);
	c[4000] ^= 0x40;
	set_case("plain-4k.erofs: byte 4000 changed, checksum kept");
	rc = attach(&img, d, c, f->len, NULL, 0);
	ck_assert_int_eq(rc, ERR_BAD_CSUM);
	/* the stored checksum itself wrong */
	memcpy(c, f->data, f->len);
	c[SB(checksum)] ^= 1;
	rc = attach(&img, d, c, f->len, NULL, 0);
	ck_assert_int_eq(rc, ERR_BAD_CSUM);
	/* with the checksum feature off the same byte goes unnoticed here */
	memcpy(c, f->data, f->len);
	c[4000] ^= 0x40;
	put_le32(c + SB(feature_compat), ef_le32(c + SB(feature_compat)) & ~EROFS_COMPAT_SB_CHKSUM);
	rc = attach(&img, d, c, f->len, NULL, 0);
	ck_assert_int_eq(rc, 0);
	eshare_image_detach(img);
	free(c);
	close_domain(d);
}
END_TEST

START_TEST(test_root_not_dir)
{
	struct patched x;
	struct pino file;
	uint64_t dpos;
	int rc;

	patched_begin(&x);
	p_path(&x.p, "files/tiny-13-100", &file, &dpos);
	ck_assert_uint_eq(file.mode & S_IFMT, S_IFREG);
	ck_assert_uint_le(file.nid, 0xFFFF);
	put_le16(x.d + SB(rootnid_2b), (uint16_t)file.nid);
	set_case("plain-4k.erofs: root nid %llu is a regular file", (unsigned long long)file.nid);
	rc = patched_attach(&x);
	ck_assert_int_eq(rc, -EFSCORRUPTED);
	/* a root nid past the end of the image */
	memcpy(x.d, fixture_named("plain-4k.erofs")->data, x.len);
	put_le16(x.d + SB(rootnid_2b), 0xFFFF);
	set_case("plain-4k.erofs: root nid 65535 (past the end)");
	rc = patched_attach(&x);
	ck_assert_msg(rc == -EFSCORRUPTED || rc == -EIO, "root past the end: %d", rc);
	patched_end(&x);
}
END_TEST

/* Open @path in the attached patched image; the error (or 0) of lookup. */
static int lookup_rc(struct patched *x, const char *path, eshare_inode **out)
{
	eshare_inode *ino = NULL;
	int rc = eshare_lookup(&ino, x->img, path);

	if (out)
		*out = rc ? NULL : ino;
	else if (!rc)
		eshare_inode_put(ino);
	return rc;
}

/* Patch the inode of @path with @fn, attach, expect @expect from lookup. */
static void inode_patch_expect(const char *path, void (*fn)(uint8_t *raw, void *arg), void *arg,
			       int expect, const char *what)
{
	struct patched x;
	struct pino ino;
	uint64_t dpos;
	int rc;

	patched_begin(&x);
	p_path(&x.p, path, &ino, &dpos);
	fn(x.d + ino.pos, arg);
	set_case("plain-4k.erofs: %s: %s (inode at %llu)", path, what,
		 (unsigned long long)ino.pos);
	rc = patched_attach(&x);
	ck_assert_msg(rc == 0, "%s: attach %d", current_case, rc);
	rc = lookup_rc(&x, path, NULL);
	ck_assert_msg(rc == expect, "%s: lookup %d, expected %d", current_case, rc, expect);
	/* the directory holding it still lists (names come from the dirents) */
	patched_end(&x);
}

static void set_format_bits(uint8_t *raw, void *arg)
{
	uint16_t v = ef_le16(raw) | (uint16_t)(uintptr_t)arg;

	put_le16(raw, v);
}

static void set_layout(uint8_t *raw, void *arg)
{
	uint16_t v = ef_le16(raw);

	v &= (uint16_t)~(EROFS_I_DATALAYOUT_MASK << EROFS_I_DATALAYOUT_SHIFT);
	v |= (uint16_t)((uintptr_t)arg << EROFS_I_DATALAYOUT_SHIFT);
	put_le16(raw, v);
}

static void set_mode_type(uint8_t *raw, void *arg)
{
	uint16_t mode = ef_le16(raw + offsetof(struct erofs_inode_compact, i_mode));

	mode = (uint16_t)((mode & 07777) | (uintptr_t)arg);
	put_le16(raw + offsetof(struct erofs_inode_compact, i_mode), mode);
}

static void set_ext_size(uint8_t *raw, void *arg)
{
	ck_assert_uint_eq(ef_le16(raw) & EROFS_I_VERSION_MASK, 1);
	put_le64(raw + offsetof(struct erofs_inode_extended, i_size), *(uint64_t *)arg);
}

START_TEST(test_bad_inodes)
{
	static const char reg[] = "files/tiny-13-100";
	uint64_t huge = 1ull << 63, big = 1ull << 62;

	inode_patch_expect(reg, set_format_bits, (void *)(uintptr_t)0x20, -EOPNOTSUPP,
			   "i_format bit 5");
	inode_patch_expect(reg, set_format_bits, (void *)(uintptr_t)0x8000, -EOPNOTSUPP,
			   "i_format bit 15");
	for (uintptr_t l = 5; l <= 7; l++)
		inode_patch_expect(reg, set_layout, (void *)l, -EOPNOTSUPP, "datalayout 5..7");
	inode_patch_expect(reg, set_mode_type, (void *)(uintptr_t)0, -EFSCORRUPTED,
			   "file type 0");
	inode_patch_expect(reg, set_mode_type, (void *)(uintptr_t)0030000, -EFSCORRUPTED,
			   "file type 03");
	inode_patch_expect(reg, set_mode_type, (void *)(uintptr_t)0170000, -EFSCORRUPTED,
			   "file type 017");
	inode_patch_expect("times/base-plus-1", set_ext_size, &huge, -EFSCORRUPTED,
			   "extended i_size 2^63");
	/* the directory /files itself with a reserved bit: lookups below it fail */
	inode_patch_expect("files", set_format_bits, (void *)(uintptr_t)0x40, -EOPNOTSUPP,
			   "directory i_format bit 6");

	/*
	 * A 2^62-byte inline file: not corrupt by itself at open (the kernel
	 * opens it too), but its blocks lie past the device: reading must fail.
	 */
	{
		struct patched x;
		struct pino ino;
		eshare_inode *in;
		uint64_t dpos;
		char buf[64];
		ssize_t r;
		int rc;

		patched_begin(&x);
		p_path(&x.p, "times/base-plus-1", &ino, &dpos);
		set_ext_size(x.d + ino.pos, &big);
		set_case("plain-4k.erofs: times/base-plus-1 i_size 2^62");
		ck_assert_int_eq(patched_attach(&x), 0);
		rc = lookup_rc(&x, "times/base-plus-1", &in);
		if (rc == 0) {
			r = eshare_pread(in, buf, sizeof(buf), 0);
			ck_assert_msg(r == -EFSCORRUPTED || r == -EIO, "pread: %zd", r);
			r = eshare_pread(in, buf, sizeof(buf), big - 8);
			ck_assert_msg(r < 0, "pread at the end: %zd", r);
			eshare_inode_put(in);
		} else {
			ck_assert_int_eq(rc, -EFSCORRUPTED);
		}
		patched_end(&x);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Bad dirents in /files (one inline block)                             */

struct dirent_patch {
	const char *what;
	unsigned entry; /* which dirent's nameoff; ~0u: the last one */
	int value;      /* >= 0: the new nameoff; -2: the previous one's; -3: that minus 1 */
};

static int readdir_count(void *user, const char *name, size_t namelen, uint64_t ino,
			 unsigned type, uint64_t next)
{
	(*(unsigned *)user)++;
	return 0;
}

START_TEST(test_bad_dirents)
{
	const struct dirent_patch patches[] = {
		{ "first nameoff 8 (< 12)", 0, 8 },
		{ "first nameoff 0", 0, 0 },
		{ "first nameoff 13 (not a multiple of 12)", 0, 13 },
		{ "first nameoff past the block", 0, 4100 },
		{ "first nameoff past i_size", 0, 700 },
		{ "name of length 0", 3, -2 },
		{ "nameoff decreasing", 3, -3 },
		{ "nameoff past the directory", 5, 0xFFF0 },
		{ "last nameoff past i_size", ~0u, 1000 },
	};

	for (size_t k = 0; k < sizeof(patches) / sizeof(patches[0]); k++) {
		const struct dirent_patch *dp = &patches[k];
		struct patched x;
		struct pino dir;
		uint64_t dpos, base;
		eshare_inode *in;
		unsigned n, e, count = 0;
		uint64_t cookie = 0;
		uint8_t *no;
		int rc;

		patched_begin(&x);
		p_path(&x.p, "files", &dir, &dpos);
		ck_assert_uint_lt(dir.size, x.p.blksz);
		base = p_dataoff(&x.p, &dir, 0);
		n = ef_le16(x.d + base + 8) / 12;
		ck_assert_uint_gt(n, 6);
		e = dp->entry == ~0u ? n - 1 : dp->entry;
		no = x.d + base + 12 * e + 8;
		if (dp->value == -2)
			put_le16(no, ef_le16(no - 12)); /* the previous name: length 0 */
		else if (dp->value == -3)
			put_le16(no, (uint16_t)(ef_le16(no - 12) - 1)); /* length -1 */
		else
			put_le16(no, (uint16_t)dp->value);
		set_case("plain-4k.erofs: /files dirent %u: %s", e, dp->what);
		ck_assert_int_eq(patched_attach(&x), 0);
		rc = lookup_rc(&x, "files", &in);
		ck_assert_msg(rc == 0, "%s: lookup of the directory: %d", current_case, rc);
		rc = eshare_readdir(in, &cookie, readdir_count, &count);
		ck_assert_msg(rc == -EFSCORRUPTED, "%s: readdir %d after %u entries", current_case,
			      rc, count);
		eshare_inode_put(in);
		patched_end(&x);
	}
}
END_TEST

/*
 * Directory graphs that are not trees: /files/empty-0 made a directory
 * entry for the root (a cycle through the root) and /files/empty-1 one for
 * /files itself (a self loop).  The image is otherwise sound, so lookups
 * through the loop work at any depth; the walk must notice the cycles and
 * stop, and nothing may recurse without bound.
 */
START_TEST(test_dir_cycles)
{
	struct patched x;
	struct pino files;
	struct walk_stats ws = { 0 };
	uint64_t d0, d1, nid;
	eshare_inode *in;
	char path[4096];
	size_t n = 0;
	int rc;

	patched_begin(&x);
	p_path(&x.p, "files", &files, &d0);
	ck_assert(p_lookup(&x.p, &files, "empty-0", &nid, &d0));
	ck_assert(p_lookup(&x.p, &files, "empty-1", &nid, &d1));
	put_le64(x.d + d0, x.p.root);
	x.d[d0 + offsetof(struct erofs_dirent, file_type)] = EROFS_FT_DIR;
	put_le64(x.d + d1, files.nid);
	x.d[d1 + offsetof(struct erofs_dirent, file_type)] = EROFS_FT_DIR;
	set_case("plain-4k.erofs: /files/empty-0 -> root, /files/empty-1 -> /files");
	ck_assert_int_eq(patched_attach(&x), 0);
	/* 200 trips round the loop in one path */
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "/files/empty-0");
	rc = eshare_lookup(&in, x.img, path);
	ck_assert_int_eq(rc, 0);
	eshare_inode_put(in);
	rc = lookup_rc(&x, "/files/empty-1/empty-1/empty-1/empty-0/files", NULL);
	ck_assert_int_eq(rc, 0);
	rc = eshare_test_walk(x.img, &ws);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(ws.cycles >= 2, "cycles %llu", (unsigned long long)ws.cycles);
	ck_assert_uint_eq(ws.violations, 0);
	patched_end(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Bad xattr areas                                                      */

/* The first inode under xattr/ with inline entries (icount > 1). */
static void find_xattr_inode(const struct pimg *p, const char *path, struct pino *ino)
{
	uint64_t dpos;

	p_path(p, path, ino, &dpos);
	ck_assert_msg(ino->icount > 1, "%s has no inline xattrs", path);
}

static void xattr_expect(struct patched *x, const char *path, const char *name)
{
	eshare_inode *in;
	char buf[4096];
	ssize_t r;
	int rc;

	ck_assert_int_eq(patched_attach(x), 0);
	rc = lookup_rc(x, path, &in);
	/* xattrs are read lazily, as in the kernel: the file itself opens */
	ck_assert_msg(rc == 0, "%s: lookup %d", current_case, rc);
	r = eshare_listxattr(in, buf, sizeof(buf));
	ck_assert_msg(r == -EFSCORRUPTED, "%s: listxattr %zd", current_case, r);
	r = eshare_getxattr(in, name, buf, sizeof(buf));
	ck_assert_msg(r == -EFSCORRUPTED, "%s: getxattr %zd", current_case, r);
	eshare_inode_put(in);
}

START_TEST(test_bad_xattrs)
{
	static const char path[] = "xattr/data-with-xattr";
	struct patched x;
	struct pino ino;
	uint64_t h;

	/* h_shared_count larger than the area can hold */
	patched_begin(&x);
	find_xattr_inode(&x.p, path, &ino);
	h = ino.pos + ino.isize;
	x.d[h + offsetof(struct erofs_xattr_ibody_header, h_shared_count)] = 255;
	set_case("plain-4k.erofs: %s h_shared_count 255 in %u bytes", path, ino.xsize);
	xattr_expect(&x, path, "user.d");
	patched_end(&x);

	/* the first inline entry's value runs past the area */
	patched_begin(&x);
	find_xattr_inode(&x.p, path, &ino);
	h = ino.pos + ino.isize;
	{
		unsigned shared = x.d[h + 4];
		uint64_t e = h + 12 + 4ull * shared;

		ck_assert_uint_lt(12 + 4 * shared, ino.xsize);
		put_le16(x.d + e + offsetof(struct erofs_xattr_entry, e_value_size), 0xFFFF);
		set_case("plain-4k.erofs: %s first entry value size 65535", path);
	}
	xattr_expect(&x, path, "user.d");
	patched_end(&x);

	/* the first inline entry's name runs past the area */
	patched_begin(&x);
	find_xattr_inode(&x.p, path, &ino);
	h = ino.pos + ino.isize;
	{
		unsigned shared = x.d[h + 4];
		uint64_t e = h + 12 + 4ull * shared;

		x.d[e + offsetof(struct erofs_xattr_entry, e_name_len)] = 255;
		set_case("plain-4k.erofs: %s first entry name of 255 bytes", path);
	}
	xattr_expect(&x, path, "user.d");
	patched_end(&x);

	/* i_xattr_icount so large the area runs past the inode's block */
	patched_begin(&x);
	find_xattr_inode(&x.p, path, &ino);
	put_le16(x.d + ino.pos + offsetof(struct erofs_inode_compact, i_xattr_icount), 0xFFFF);
	set_case("plain-4k.erofs: %s i_xattr_icount 65535", path);
	ck_assert_int_eq(patched_attach(&x), 0);
	{
		eshare_inode *in;
		int rc = lookup_rc(&x, path, &in);

		/* the inline data tail now lies past the block: open or read fails */
		if (rc == 0) {
			char buf[64];
			ssize_t r = eshare_listxattr(in, buf, sizeof(buf));

			ck_assert_msg(r < 0, "listxattr %zd", r);
			r = eshare_pread(in, buf, sizeof(buf), 8192);
			/* (past the device's end: the library calls that -EIO) */
			ck_assert_msg(r == -EFSCORRUPTED || r == -EIO, "pread of the tail %zd", r);
			eshare_inode_put(in);
		} else {
			ck_assert_int_eq(rc, -EFSCORRUPTED);
		}
	}
	patched_end(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* eshare_inode_open() of numbers that are no inode's                  */

/*
 * Every inode number up to the image's size in slots (most of them the
 * middle of an inode, an xattr area, a directory block or file data), the
 * first 4096 metabox numbers (bit 31), and numbers at and past the ends:
 * opening fails with -EINVAL, -EFSCORRUPTED, -EIO or -EOPNOTSUPP, or gives
 * an inode everything can be called on.
 */
static const char *const open_images[] = {
	"plain-4k.erofs", "lz4.erofs", "metabox.erofs", "48bit.erofs", "plain-512.erofs",
};

START_TEST(test_inode_open_garbage)
{
	const struct fixture *f = fixture_named(open_images[_i]);
	static const struct walk_stats tiny = { .max_entries = 40, .max_bytes = 256u << 10 };
	uint64_t seed = name_hash(f->name), specials[80];
	uint64_t maxslots = 40000 / sample_stride;
	uint64_t nslots = f->len / 32 < maxslots ? f->len / 32 : maxslots;
	unsigned nspecial = 0, opened = 0;
	double t0 = now_seconds();
	eshare_domain *d;
	eshare_image *img;
	int rc;

	if (fixture_skipped(f))
		return;
	d = new_domain();
	set_case("%s attach", f->name);
	rc = attach(&img, d, f->data, f->len, NULL, 0);
	ck_assert_int_eq(rc, 0);
	specials[nspecial++] = UINT64_MAX;
	specials[nspecial++] = UINT64_MAX >> 1;
	specials[nspecial++] = 1ull << 63;
	specials[nspecial++] = (1ull << 63) | 1;
	specials[nspecial++] = 1ull << 31;
	specials[nspecial++] = (1ull << 32) - 1;
	specials[nspecial++] = 1ull << 32;
	specials[nspecial++] = f->len / 32 - 2;
	specials[nspecial++] = f->len / 32 - 1;
	specials[nspecial++] = f->len / 32;
	specials[nspecial++] = f->len / 32 + 1;
	while (nspecial < sizeof(specials) / sizeof(specials[0]))
		specials[nspecial++] = rng_next(&seed) >> (rng_next(&seed) % 64);
	for (uint64_t k = 0; k < nslots + 4096 + nspecial; k++) {
		/* every slot; metabox slots (bit 31 of the ino); the specials */
		uint64_t ino = k < nslots ? k : k < nslots + 4096 ? (1ull << 31) + k - nslots :
					      specials[k - nslots - 4096];
		struct walk_stats ws = tiny;
		eshare_inode *in;

		set_case("%s inode_open(%llu)", f->name, (unsigned long long)ino);
		alarm(CASE_ALARM_SECONDS);
		rc = eshare_inode_open(&in, img, ino);
		if (rc) {
			alarm(0);
			ck_assert_msg(rc == -EINVAL || rc == -EFSCORRUPTED || rc == -EIO ||
				      rc == -EOPNOTSUPP, "%s: %d", current_case, rc);
			continue;
		}
		opened++;
		eshare_test_walk_from(img, in, &ws);
		eshare_inode_put(in);
		alarm(0);
		check_walk(&ws);
	}
	eshare_image_detach(img);
	fprintf(stderr, "inode_open %s: %llu numbers, %u opened, %.1f s\n", f->name,
		(unsigned long long)(nslots + 4096 + nspecial), opened, now_seconds() - t0);
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
		data = load_file(path, &len);
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

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc;

	tc = tcase_create("intact");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_checksum_recompute);
	tcase_add_loop_test(tc, test_fixture_walk_clean, 0, (int)nfixtures);
	suite_add_tcase(s, tc);

	tc = tcase_create("handmade");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_bad_superblocks);
	tcase_add_test(tc, test_bad_checksum);
	tcase_add_test(tc, test_root_not_dir);
	tcase_add_test(tc, test_bad_inodes);
	tcase_add_test(tc, test_bad_dirents);
	tcase_add_test(tc, test_dir_cycles);
	tcase_add_test(tc, test_bad_xattrs);
	tcase_add_test(tc, test_regressions);
	tcase_add_loop_test(tc, test_inode_open_garbage, 0,
			    (int)(sizeof(open_images) / sizeof(open_images[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("truncate");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_truncate, 0, (int)nfixtures);
	suite_add_tcase(s, tc);

	tc = tcase_create("bitflip");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_bitflip_meta, 0, (int)nfixtures);
	tcase_add_loop_test(tc, test_sb_bits, 0,
			    (int)(sizeof(sb_flip_images) / sizeof(sb_flip_images[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	load_fixtures();
	if (nfixtures < 20 || !blob) {
		fprintf(stderr, "fixtures missing in %s (%u found)\n", ESHARE_FIXTURES, nfixtures);
		return 1;
	}
	install_death_reporters();
	if (test_scale() == TEST_SCALE_SAMPLE)
		sample_stride = SAMPLE_STRIDE;
	printf("test_hostile: %s\n", test_scale_name(test_scale()));
	fflush(stdout);
	sr = srunner_create(hostile_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (unsigned i = 0; i < nfixtures; i++)
		free(fixtures[i].data);
	free(blob);
	return failed ? 1 : 0;
}
