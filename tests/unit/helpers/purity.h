/* SPDX-License-Identifier: MIT */
/*
 * What test_zmap_purity*.c share: the interval consistency of ef_map(),
 * reading a file's pages in several orders through the public API, the
 * whole check of a crafted image, and a size-capped tmpfs for the images
 * the tests make with real tools.
 */
#ifndef ESHARE_TEST_PURITY_H
#define ESHARE_TEST_PURITY_H

#include <stdbool.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

#include "format/format.h"
#include "helpers/memfs.h"

#define PAGE 4096u

struct icheck {
	unsigned extents, corrupt, maps;
};

/*
 * @every: map the first and last byte of every lcluster, each on its own
 * (else only the extent starts, whose extents cover every lcluster).
 * Errors other than -EFSCORRUPTED fail, and -EFSCORRUPTED only if @bad.
 */
void check_intervals(struct ef_fs *fs, struct ef_inode *ino, bool every, bool bad,
		     struct icheck *c);
/* A domain with a 64 KiB cache and @im attached from memory. */
int purity_attach(eshare_domain **d, eshare_image **img, const struct memfs *im);
/*
 * Forwards, backwards, two random orders (the second one followed by a
 * forward pass in the same domain): every page gives the same bytes or the
 * same error each time.  Returns how many pages failed.
 */
unsigned check_read_orders(const struct memfs *im, uint64_t ino, uint64_t size);
/* Write @im to $ESHARE_PURITY_SEEDS/@name when asked to. */
void maybe_save(const struct memfs *im, const char *name);
/*
 * The whole check of a crafted image: every map of every lcluster of
 * @path, then the read orders.  Returns the maps that were corrupt.
 */
unsigned check_crafted(struct memfs *im, const char *path, const char *seed);

/* system(@cmd): its exit status, -1 if it did not exit. */
int run_cmd(const char *cmd);
/* A size-capped tmpfs at tmpfs_dir (false, with a SKIP line, if not root). */
extern char tmpfs_dir[64];
bool tmpfs_up(const char *tag, const char *size);
void tmpfs_down(void);

#endif
