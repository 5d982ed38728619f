/* SPDX-License-Identifier: MIT */
/*
 * The format layer (lib/format) opened on images held in memory: fixture
 * copies that a test may damage, grow or build by hand.  Nothing is
 * written anywhere but memory.  Also the little-endian stores and the
 * superblock checksum that damaging an image needs.
 */
#ifndef ESHARE_TEST_MEMFS_H
#define ESHARE_TEST_MEMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/format.h"
#include "helpers/fixtures.h"

struct memfs {
	uint8_t *data[FX_MAX_DEVICES]; /* [0] the image, then its extra devices */
	size_t len[FX_MAX_DEVICES];
	unsigned ndev;
	unsigned reports;     /* corruption reports of the format layer */
	uint64_t decoded;     /* bytes decompressed */
	char last_report[256];
	bool print_reports;   /* print each report (also: ESHARE_FORMAT_REPORTS=1) */
};

/* A private copy of fixture @name and its extra devices. */
void memfs_load(struct memfs *m, const char *name);
/* Take @data (malloc'd, @len bytes) as a one-device image. */
void memfs_adopt(struct memfs *m, uint8_t *data, size_t len);
/* Grow device 0 to @len bytes, zero-filled. */
void memfs_grow(struct memfs *m, size_t len);
void memfs_free(struct memfs *m);
/* The ef_io reading @m (for a struct ef_fs set up by hand). */
struct ef_io memfs_io(struct memfs *m);
/* ef_fs_open() on @m's current bytes: 0 or its error. */
int memfs_open(struct memfs *m, struct ef_fs **fs);
/* The same, failing the test on error. */
struct ef_fs *memfs_fs(struct memfs *m);
/* Resolve absolute @path with ef_lookup()/ef_iget(). */
int memfs_resolve(struct ef_fs *fs, const char *path, struct ef_inode *out);
/*
 * Decode the whole of @ino (i_size bytes into @out) through ef_map() and
 * ef_decode_extent() alone, no cache: 0 or the first error.
 */
int memfs_decode_file(struct ef_fs *fs, struct ef_inode *ino, uint8_t *out);
/* Where the map header of compressed @ino lies (FORMAT.md section 4). */
uint64_t memfs_zheader_pos(const struct ef_inode *ino);

void put_le16(uint8_t *p, uint16_t v);
void put_le32(uint8_t *p, uint32_t v);
void put_le64(uint8_t *p, uint64_t v);
/*
 * Recompute the superblock checksum (FORMAT.md section 1: crc32c seeded
 * ~0, no final xor, over [1024, 1024 + len) with the checksum zeroed;
 * len = blksz - 1024, or blksz when that is not above 1024), using the
 * block size the (possibly damaged) superblock claims, so that a changed
 * byte gets past the checksum and reaches the parser.  Nothing is done
 * when the image has no checksum or is too short for it.
 */
void sb_fix_checksum(uint8_t *d, size_t len);

#endif
