/* SPDX-License-Identifier: MIT */
/*
 * The one reader of the fixtures' manifests (tests/fixtures/README.md,
 * "Manifest format"), which were read off kernel mounts: every column,
 * paths, targets and xattr names unescaped, xattr values decoded.
 */
#ifndef ESHARE_TEST_MANIFEST_H
#define ESHARE_TEST_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

struct manifest_xattr {
	char *name;         /* unescaped */
	size_t vlen;        /* value length */
	bool hashed;        /* value longer than 64 bytes: only its sha256 */
	uint8_t value[64];  /* the value, or its sha256 when hashed */
};

struct manifest_entry {
	char *path;         /* unescaped, "/" for the root */
	char type[8];       /* reg dir lnk chr blk fifo sock */
	uint32_t mode;      /* permission bits (07777) */
	uint32_t uid, gid;
	uint64_t size;      /* 0 for directories; target length for symlinks */
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t nlink;
	uint32_t rdev_major, rdev_minor;
	char *target;       /* symlinks, unescaped; NULL otherwise */
	bool has_sha256;
	uint8_t sha256[32]; /* regular files */
	unsigned nxattrs;
	struct manifest_xattr *xattrs; /* in the manifest's order (sorted by name) */
	unsigned hardlink;  /* group number, 0 = single name */
};

struct manifest {
	struct manifest_entry *e;
	size_t n;
};

/* Load tests/fixtures/NAME.erofs.manifest. 0 or -errno (-EINVAL: bad line). */
int manifest_load(struct manifest *m, const char *name);
void manifest_free(struct manifest *m);
/* The entry of @path, or NULL. */
const struct manifest_entry *manifest_find(const struct manifest *m, const char *path);
/* Counts over a manifest: paths, and of each type (the root is a dir). */
struct manifest_counts {
	uint64_t paths, regs, dirs, symlinks, specials, reg_bytes, link_bytes;
};
void manifest_count(const struct manifest *m, struct manifest_counts *c);
/* Sum over distinct contents of regular files (size > 0) of sizes, exact
 * and rounded up to 4 KiB pages; over several manifests at once. */
void manifest_unique_bytes(const struct manifest *const *ms, size_t count, uint64_t *exact,
			   uint64_t *pages);

#endif
