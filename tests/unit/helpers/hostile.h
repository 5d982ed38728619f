/* SPDX-License-Identifier: MIT */
/*
 * What the hostile-input tests share (test_hostile.c, test_format_*.c,
 * test_walks.c):
 * the fixtures in memory, a record of the case running (printed if the
 * process dies), attaching possibly damaged bytes from memory and walking
 * them with helpers/walk.c, a tiny parser of flat images that is
 * independent of lib/format (to find what to damage), and plain-4k.erofs
 * patched by hand.
 *
 * A failing case is printed with its recipe, also when ASan, a signal or
 * the per-case alarm (a hang) kills the test.  ESHARE_HOSTILE_VERBOSE=1
 * prints every case as it starts (UBSan exits without a word);
 * ESHARE_HOSTILE_ONLY=<fixture>.erofs runs per-fixture loops for one only.
 */
#ifndef ESHARE_TEST_HOSTILE_H
#define ESHARE_TEST_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

#include "format/format.h"
#include "format/ondisk.h"
#include "helpers/fixtures.h"
#include "helpers/memfs.h"
#include "helpers/walk.h"

/* Superblock errnos, as the kernel and FORMAT.md section 1 decide them. */
#define ERR_BAD_MAGIC (-ESHARE_ENOTEROFS)
#define ERR_BAD_BLKSZ (-EFSCORRUPTED)
#define ERR_BAD_CSUM (-EFSCORRUPTED)

#define SB(field) (EROFS_SUPER_OFFSET + offsetof(struct erofs_super_block, field))

/* A case taking longer than this is a hang. */
#define CASE_ALARM_SECONDS 60
/* One case in SAMPLE_STRIDE runs under ASan+UBSan (helpers/scale.h). */
#define SAMPLE_STRIDE 3

/* A fixture in memory (with its extra device, if any). */
struct hfix {
	const struct fixture_info *info;
	char name[64]; /* "lz4.erofs" */
	uint8_t *data;
	size_t len;
	uint8_t *dev; /* NULL: no extra device */
	size_t dev_len;
};

extern struct hfix hfixtures[FX_MAX_FIXTURES];
extern unsigned nhfixtures;
/* 1, or SAMPLE_STRIDE under ASan+UBSan */
extern unsigned sample_stride;
extern char current_case[512];
/* lines logged by the domains of new_domain() */
extern uint64_t log_lines;

/*
 * Load every registered fixture, install the death reporters, set
 * sample_stride from the build; prints "@prog: scale" on stdout.
 */
void hostile_init(const char *prog);
void hostile_exit(void);
/* hostile_init(@prog), run @suite, hostile_exit(): a test's main(). */
struct Suite;
int hostile_main(const char *prog, struct Suite *suite);
/* The fixture named "NAME.erofs" (fails the test if missing). */
const struct hfix *hfix_named(const char *name);
/* ESHARE_HOSTILE_ONLY=NAME skips every other fixture. */
bool hfix_skipped(const struct hfix *f);

/* Name the case about to run. */
void set_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double now_seconds(void);
uint64_t rng_next(uint64_t *s);
uint64_t name_hash(const char *s);

/* A domain with a 4 MiB budget whose log lines are counted. */
eshare_domain *new_domain(void);
/* Close it: fails the test if an image or inode leaked. */
void close_domain(eshare_domain *d);
/* Attach @data (and @dev as the extra device when not NULL) from memory. */
int attach_mem(eshare_image **out, eshare_domain *d, const uint8_t *data, size_t len,
	       const uint8_t *dev, size_t dev_len);
/* The walk kept its promises and met only errnos a bad image may give. */
void check_walk(const struct walk_stats *ws);
/*
 * Attach and, if that works, walk within @limits (under the alarm).
 * Returns the attach result; *ws_out (if given) gets the walk's figures.
 */
int run_case(eshare_domain *d, const uint8_t *data, size_t len, const uint8_t *dev,
	     size_t dev_len, const struct walk_stats *limits, struct walk_stats *ws_out);

extern const struct walk_stats full_walk;
/* For the many cases whose damage is met early: a short, cheap walk. */
extern const struct walk_stats short_walk;
extern const struct walk_stats medium_walk;

/* A tiny parser of flat images, independent of lib/format. */
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

/* One dirent as the bytes hold it. */
struct pent {
	uint64_t pos;     /* image offset of the dirent */
	uint64_t cookie;  /* its readdir position: block * blksz + index * 12 */
	uint64_t nid;
	uint64_t namepos; /* image offset of its name */
	char name[256];
	size_t len;
};

struct plist {
	struct pent v[8192];
	size_t n;
};

void p_open(struct pimg *p, const uint8_t *d, size_t len);
void p_iget(const struct pimg *p, uint64_t nid, struct pino *ino);
/* Image offset of data byte @off of a flat (plain or inline) inode. */
uint64_t p_dataoff(const struct pimg *p, const struct pino *ino, uint64_t off);
/* Find @name in directory @dir; *dpos gets the image offset of its dirent. */
bool p_lookup(const struct pimg *p, const struct pino *dir, const char *name, uint64_t *nid,
	      uint64_t *dpos);
void p_path(const struct pimg *p, const char *path, struct pino *out, uint64_t *dpos);
/* Every dirent of directory @dir (a flat one), in block order. */
void p_list(const struct pimg *p, const struct pino *dir, struct plist *l);
/* Store @size as the i_size of @ino in the image bytes @d. */
void p_set_size(uint8_t *d, struct pino *ino, uint64_t size);

/* plain-4k.erofs copied into memory, to be patched by hand. */
struct patched {
	uint8_t *d;
	size_t len;
	struct pimg p;
	eshare_domain *dom;
	eshare_image *img;
};

void patched_begin(struct patched *x);
/* Attach the patched bytes (checksum fixed); returns the attach result. */
int patched_attach(struct patched *x);
/* Detach, then walk the same bytes again: nothing may crash. */
void patched_end(struct patched *x);
/* Open @path in the attached patched image; the error (or 0) of lookup. */
int lookup_rc(struct patched *x, const char *path, eshare_inode **out);

#endif
