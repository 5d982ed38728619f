/* SPDX-License-Identifier: MIT */
/*
 * What the front ends share, over the public libsharecache API only:
 * parsing sharing policies and sizes, opening an image with its backend and
 * extra devices, and a tree walker that streams entries to a callback.
 */
#ifndef ESHARE_EXAMPLES_COMMON_H
#define ESHARE_EXAMPLES_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

/* Number of sharing policies (ESHARE_SHARE_OFF .. ESHARE_SHARE_COMPUTE). */
#define ESC_NPOLICIES 4u

/* "off", "trust", "verify", "compute"; "?" for anything else. */
const char *esc_policy_name(uint32_t policy);
/* One policy by name.  Returns 0 or -EINVAL. */
int esc_parse_policy(uint32_t *out, const char *s);
/*
 * A comma-separated list of distinct policies ("off,compute"), in the order
 * given, at most ESC_NPOLICIES.  Returns 0 or -EINVAL (unknown, repeated or
 * empty element).
 */
int esc_parse_policies(uint32_t out[ESC_NPOLICIES], unsigned *n, const char *s);

/*
 * A byte count: decimal digits with an optional binary suffix K, M, G or T
 * (also KiB, MiB, GiB, TiB).  Returns 0 or -EINVAL (no digits, junk,
 * overflow).  Zero is returned as such: callers that refuse it say so.
 */
int esc_parse_size(uint64_t *out, const char *s);
/* A positive decimal integer no larger than @max.  Returns 0 or -EINVAL. */
int esc_parse_uint(uint64_t *out, const char *s, uint64_t max);

/* How an image is opened: a built-in backend and the extra devices. */
struct esc_open_opts {
	const char *backend;		/* "file" (NULL), "blockdev" or "loop" */
	const char *const *devices;	/* extra devices, device-table order */
	unsigned ndevices;
	/*
	 * Give the extra devices only to an image that needs them (its attach
	 * without them fails with -ENXIO), so one list of devices can serve
	 * the one multi-device image among several.
	 */
	bool devices_if_needed;
};

/*
 * Open @path into @d.  On failure @msg (of @msglen bytes) says what failed
 * ("cannot open with the file backend: ...", "device X: ...", "not an
 * EROFS image: ...") without the path, and the negative errno is returned.
 */
int esc_image_open(eshare_image **out, eshare_domain *d, const char *path,
		   const struct esc_open_opts *o, char *msg, size_t msglen);

/* Directory nesting the walker accepts (deeper is reported as -ELOOP). */
#define ESC_WALK_MAX_DEPTH 2048

/* One entry as the walker shows it; everything is valid during the call only. */
struct esc_entry {
	const char *path;		/* "/" or "/a/b", NUL-terminated */
	size_t pathlen;
	const char *name;		/* the last component ("" for the start) */
	size_t namelen;
	eshare_inode *ino;		/* borrowed: eshare_inode_get() to keep it */
	const struct eshare_stat *st;
	unsigned depth;
};

/* Returned by a visit callback: do not enter this directory. */
#define ESC_WALK_SKIP 1

struct esc_walk_ops {
	/* Every entry, a directory before its contents.  0, ESC_WALK_SKIP or <0 to stop. */
	int (*visit)(void *user, const struct esc_entry *e);
	/*
	 * An entry that could not be listed, opened or stat'ed: @what says
	 * which.  Return 0 to go on with the rest of the tree, <0 to stop.
	 * NULL stops at the first error.
	 */
	int (*error)(void *user, const char *path, size_t pathlen, const char *what, int err);
	void *user;
};

/*
 * Walk the tree under @start (whose path is @path) depth first, with an
 * explicit stack: a crafted image may nest directories deeper than a C stack
 * survives, or loop back on itself (an ancestor's inode again is reported
 * as -ELOOP).  One directory's entries are held at a time per level, so
 * memory follows the depth, not the size of the tree.  Returns 0, the
 * first error that stopped the walk, or a callback's negative value.
 */
int esc_walk(eshare_inode *start, const char *path, const struct esc_walk_ops *ops);

#endif
