/* SPDX-License-Identifier: MIT */
/*
 * Reads the fixtures' manifests (tests/fixtures/README.md, "Manifest
 * format"), which were read off kernel mounts: paths unescaped, with type,
 * size, content sha256 and hard-link group.
 */
#ifndef ESHARE_TEST_MANIFEST_H
#define ESHARE_TEST_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

struct manifest_entry {
	char *path;         /* unescaped, "/" for the root */
	char type[8];       /* reg dir lnk chr blk fifo sock */
	uint64_t size;      /* 0 for directories */
	uint8_t sha256[32]; /* regular files */
	unsigned hardlink;  /* group number, 0 = single name */
};

struct manifest {
	struct manifest_entry *e;
	size_t n;
};

/* Load tests/fixtures/NAME.erofs.manifest. 0 or -errno. */
int manifest_load(struct manifest *m, const char *name);
void manifest_free(struct manifest *m);
/* Sum over distinct contents of regular files (size > 0) of sizes, exact
 * and rounded up to 4 KiB pages; over several manifests at once. */
void manifest_unique_bytes(const struct manifest *const *ms, size_t count, uint64_t *exact,
			   uint64_t *pages);

#endif
