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
	/* "file" (NULL), "blockdev", "loop", "blockdev-direct" or "loop-direct" */
	const char *backend;
	const char *name;		/* the image's name in log messages (NULL: @path) */
	const char *const *devices;	/* extra devices, device-table order */
	unsigned ndevices;
	/*
	 * Give the extra devices only to an image that needs them (its attach
	 * without them fails with -ENXIO), so one list of devices can serve
	 * the one multi-device image among several.
	 */
	bool devices_if_needed;
	/*
	 * May be NULL: with devices_if_needed, called with true before the
	 * first attach (the one without the devices) and with false after it.
	 * That attach is a probe: a caller may mute the library's log for it.
	 */
	void (*probe)(void *user, bool probing);
	void *probe_user;
};

/*
 * Open @path into @d.  On failure @msg (of @msglen bytes) says what failed
 * ("cannot open with the file backend: ...", "device X: ...", "not an
 * EROFS image: ...") without the path, and the negative errno is returned.
 */
int esc_image_open(eshare_image **out, eshare_domain *d, const char *path,
		   const struct esc_open_opts *o, char *msg, size_t msglen);

/* Is @kind a backend esc_image_open() opens ("file", "blockdev", "loop", or
 * "blockdev-direct" and "loop-direct": the same reading with O_DIRECT)? */
bool esc_backend_known(const char *kind);

/* ---- directories and the tree walker --------------------------------- */

/* One directory entry as eshare_readdir() gives it. */
struct esc_dirent {
	char name[256];			/* NUL-terminated copy (names are 1..255 bytes) */
	size_t namelen;
	uint64_t ino;
	unsigned type;
	uint64_t next;			/* the readdir cookie after this entry */
};

/*
 * A directory read a few entries at a time: memory stays the same whatever
 * the directory's size.  "." and ".." are left out: a walker takes a
 * directory's parent from the walk, never from the image.
 */
#define ESC_DIR_BATCH 32
struct esc_dirstream {
	eshare_inode *dir;		/* borrowed */
	uint64_t cookie;		/* where the next batch starts */
	struct esc_dirent v[ESC_DIR_BATCH];
	unsigned n, pos;
	int end;			/* after v: 1 more, 0 the end, <0 readdir's error */
};
/* Start reading @dir at @cookie (0: the beginning). */
void esc_dirstream_open(struct esc_dirstream *ds, eshare_inode *dir, uint64_t cookie);
/*
 * 1 with *e set (valid until the next call), 0 at the end, <0 readdir's
 * error (-EIO for a name of no or more than 255 bytes).
 */
int esc_dirstream_next(struct esc_dirstream *ds, const struct esc_dirent **e);

/*
 * Directory nesting the walker accepts.  A crafted image can describe an
 * arbitrarily deep (or cyclic) tree; a real one deeper than this cannot even
 * be addressed by path on Linux (each level costs at least 2 bytes of a
 * 4096-byte PATH_MAX).
 */
#define ESC_WALK_MAX_DEPTH 2048

/* One entry as the walker shows it; everything is valid during the call only. */
struct esc_entry {
	const char *path;		/* "/" or "/a/b", NUL-terminated */
	size_t pathlen;
	const char *name;		/* the last component ("" for the root) */
	size_t namelen;
	eshare_inode *ino;		/* borrowed: eshare_inode_get() to keep it */
	const struct eshare_stat *st;
	unsigned depth;			/* 0 for the start */
};

/* Returned by a visit callback: do not enter this directory. */
#define ESC_WALK_SKIP 1
/*
 * Returned by a visit or post callback: end the walk.  The directories
 * already entered still get their post call; esc_walk() returns 0.
 */
#define ESC_WALK_STOP 2

/*
 * Flags of a walk.  ESC_WALK_PATH_ORDER visits entries in the byte order of
 * their full paths (a subdirectory is entered after the siblings whose names
 * extend its name with a byte below '/', as "a-b" comes before "a/x"),
 * which needs no sort of the whole tree.  ESC_WALK_DIRS_ONCE enters each
 * directory inode once: one met again under another path (a directory hard
 * link, which Linux never makes) is an error; memory then grows with the
 * number of directories.
 */
#define ESC_WALK_PATH_ORDER 0x1u
#define ESC_WALK_DIRS_ONCE 0x2u

struct esc_walk_ops {
	/*
	 * Every entry, a directory before its contents.  Returns 0,
	 * ESC_WALK_SKIP, ESC_WALK_STOP, or <0 to end the walk at once (no
	 * more calls at all; esc_walk() returns it).
	 */
	int (*visit)(void *user, const struct esc_entry *e);
	/*
	 * May be NULL: every directory entered, after its contents.  Returns
	 * 0, ESC_WALK_STOP or <0 as @visit.
	 */
	int (*post)(void *user, const struct esc_entry *e);
	/*
	 * What the walk itself met at @path: @what is "lookup", "stat" (the
	 * entry is then not visited), "readdir" (the rest of that directory
	 * is not read; it still gets its post call) or a fault of the tree
	 * ("directory cycle (an ancestor's inode again)" and
	 * ESHARE_EFSCORRUPTED, "directory already seen under another path (a
	 * directory hard link)" and ESHARE_EFSCORRUPTED, "directories nested
	 * too deeply" and -ELOOP: the directory is then neither visited nor
	 * entered).  Return 0 to go on with the rest of the tree, <0 to end
	 * the walk at once.  NULL ends it at the first error.
	 */
	int (*error)(void *user, const char *path, size_t pathlen, const char *what, int err);
	void *user;
	unsigned flags;			/* ESC_WALK_* */
};

/*
 * Walk the tree under @start (whose path is @path) depth first, with an
 * explicit stack: a crafted image may nest directories deeper than a C stack
 * survives, or loop back on itself (an ancestor's inode again is an error).
 * One batch of entries is held for the whole walk and a directory is read
 * again from its cookie when the walk comes back to it, so memory follows
 * the depth, not the size of the tree.  Returns 0, the error that ended the
 * walk (-ENOMEM among them), or a callback's negative value.
 */
int esc_walk(eshare_inode *start, const char *path, const struct esc_walk_ops *ops);

#endif
