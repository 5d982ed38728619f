/* SPDX-License-Identifier: MIT */
/*
 * A bounded "walk and read everything" over the public API, for tests and
 * the fuzzer.  It visits every entry reachable from the root depth-first
 * and calls every read-side function on it (lookup, stat, readlink,
 * listxattr, getxattr, pread at regular and odd offsets), counting errors
 * instead of stopping at them.  Limits on depth, entries and bytes keep a
 * crafted image (cycles, huge files, huge directories) from making it run
 * for long.  It also checks the API's promises on what comes back (byte
 * counts within the buffer, errors that are negative errnos, ...) and
 * counts each broken one as a contract violation.
 */
#ifndef ESHARE_TEST_WALK_H
#define ESHARE_TEST_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

#define WALK_DEFAULT_MAX_DEPTH 64u
#define WALK_DEFAULT_MAX_ENTRIES 200000ull
#define WALK_DEFAULT_MAX_BYTES (256ull << 20)
/* Errnos counted one by one in walk_stats.errno_count[]. */
#define WALK_ERRNO_SLOTS 160

struct walk_stats {
	/* Inputs (0 = the WALK_DEFAULT_* value). */
	unsigned max_depth;
	uint64_t max_entries;
	uint64_t max_bytes;
	/* Do the odd-offset reads and the piecewise readdir (default on). */
	bool skip_extra;

	/* Outputs. */
	uint64_t entries;  /* names seen by readdir, "." and ".." excluded */
	uint64_t opened;   /* inodes opened */
	uint64_t dirs, regs, symlinks, specials;
	uint64_t file_bytes;  /* bytes of sequential reads of regular files */
	uint64_t extra_bytes; /* bytes of the odd-offset reads */
	uint64_t xattr_names, xattr_bytes;
	uint64_t xattr_odd_names; /* empty pieces of names holding a NUL */
	uint64_t link_bytes;
	unsigned max_depth_seen;
	uint64_t cycles;     /* directories found already on the path */
	uint64_t relinked;   /* directories entered once already by another path */
	uint64_t depth_cuts; /* directories not entered: depth limit */
	bool entry_limit_hit, byte_limit_hit;

	uint64_t errors;   /* negative returns */
	int first_error;   /* the first of them, 0 if none */
	char first_error_where[96];
	/* errno_count[e]: errors -e seen; errno_other: e out of range. */
	uint64_t errno_count[WALK_ERRNO_SLOTS];
	uint64_t errno_other;

	/* Returns the API promises cannot happen. */
	uint64_t violations;
	char first_violation[160];
};

/*
 * Walk @img from its root.  @st's inputs are read, its outputs reset first.
 * @return 0 if nothing failed, else the first error (also st->first_error).
 * Whatever an image holds, it returns: never asserts, never aborts.
 */
int eshare_test_walk(eshare_image *img, struct walk_stats *st);

/*
 * The same from one open inode @start (of @img) instead of the root:
 * everything on it, and below it if it is a directory.
 */
int eshare_test_walk_from(eshare_image *img, eshare_inode *start, struct walk_stats *st);

/*
 * Whether every error the walk met is one a bad image may cause
 * (-EFSCORRUPTED, -EIO, -EOPNOTSUPP, -ENOMEM, and the lookup/xattr errors a
 * damaged directory or xattr area leads to); if not, the first odd errno is
 * stored into *odd.
 */
bool eshare_test_walk_errors_expected(const struct walk_stats *st, int *odd);

/* The limits the fuzzer walks its inputs with (and the regression test). */
#define WALK_FUZZ_LIMITS { .max_entries = 50000, .max_bytes = 64ull << 20 }

/*
 * What the fuzzer does with one input, for it and for replaying its finds:
 * attach @data as a memory image in a new domain whose cache holds
 * @cache_bytes; if the image asks for extra devices (-ENXIO), try again
 * giving it the input itself as 1, 2, 3 and 4 of them; walk it within
 * @st's limits; detach; close the domain.  *attach_rc gets the last attach
 * result.  A domain that will not close counts as a violation.
 * @return 0, or -ENOMEM if the domain could not be made.
 */
int eshare_test_run_bytes(const uint8_t *data, size_t len, uint64_t cache_bytes,
			  struct walk_stats *st, int *attach_rc);

/* Whether an attach error is one of those eshare_image_attach() documents. */
bool eshare_test_attach_errno_expected(int rc);

/* One line of figures for messages: "entries=.. regs=.. bytes=.. errors=..". */
void eshare_test_walk_format(const struct walk_stats *st, char *buf, size_t len);

#endif
