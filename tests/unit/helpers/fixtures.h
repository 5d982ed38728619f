/* SPDX-License-Identifier: MIT */
/*
 * The fixture registry: one entry per image in tests/fixtures/, with the
 * extra devices it needs and what it exercises (tests/fixtures/README.md
 * says how each was made).  Tests pick their images here by trait instead
 * of keeping their own lists; test_fixtures.c checks that the registry and
 * the directory agree and that every trait matches the image's superblock.
 *
 * Also the one file loader and the fixture paths.
 */
#ifndef ESHARE_TEST_FIXTURES_H
#define ESHARE_TEST_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FX_MAX_DEVICES 2 /* the image itself and one extra device */
#define FX_MAX_FIXTURES 64

/* What an image exercises (all images: mkfs.erofs 1.9.3, see the README). */
enum fx_trait {
	FX_COMPRESSED = 1u << 0,      /* compressed files (-z) */
	FX_BIG_PCLUSTER = 1u << 1,    /* pclusters over one block (-C) */
	FX_ZTAILPACKING = 1u << 2,    /* compressed tails inline */
	FX_FRAGMENTS = 1u << 3,       /* file tails in the packed inode */
	FX_ALL_FRAGMENTS = 1u << 4,   /* whole files in the packed inode */
	FX_DEDUPE = 1u << 5,          /* shared pclusters, partial extents */
	FX_PACKED_INODE = 1u << 6,    /* has a packed inode */
	FX_CHUNKED = 1u << 7,         /* chunk-based files */
	FX_MULTIDEV = 1u << 8,        /* data on an extra device */
	FX_48BIT = 1u << 9,           /* 48-bit layout, encoded extents */
	FX_METABOX = 1u << 10,        /* inodes in the metabox */
	FX_METAZONE = 1u << 11,       /* --MZ metadata zone */
	FX_DIRS_COMPRESSED = 1u << 12,/* --zD */
	FX_XATTR_PREFIXES = 1u << 13, /* long xattr name prefixes */
	FX_DIGEST = 1u << 14,         /* erofs.fingerprint.v1 sha256 xattrs */
	FX_COMPACT_ONLY = 1u << 15,   /* only 32-byte inodes */
	FX_EXTENDED_ONLY = 1u << 16,  /* only 64-byte inodes */
	FX_BLK512 = 1u << 17,         /* 512-byte blocks */
	FX_COMMON_TREE = 1u << 18,    /* the t-small-1 tree (5268 paths) */
	FX_DUMP15 = 1u << 19,         /* erofs-utils 1.5 dump.erofs maps its extents */
	FX_TIMES_CUT = 1u << 20,      /* kernel shows other mtimes than the source */
};

/* Compression algorithms, bit n = Z_EROFS_COMPRESSION n (LZ4HC is LZ4). */
#define FX_ALG_LZ4 (1u << 0)
#define FX_ALG_LZMA (1u << 1)
#define FX_ALG_DEFLATE (1u << 2)
#define FX_ALG_ZSTD (1u << 3)

struct fixture_info {
	const char *name;  /* tests/fixtures/NAME.erofs and NAME.erofs.manifest */
	const char *codec; /* mkfs -z option, NULL if uncompressed */
	unsigned algs;     /* FX_ALG_* on disk */
	unsigned traits;   /* enum fx_trait */
	/* extra devices, in device-table order: file names in tests/fixtures */
	const char *devices[FX_MAX_DEVICES - 1];
	unsigned ndevices;
};

extern const struct fixture_info fixture_registry[];
extern const unsigned fixture_count;

/* The entry of @name ("lz4" or "lz4.erofs"), or NULL. */
const struct fixture_info *fx_find(const char *name);
/* Like fx_find(), but a missing entry fails the test. */
const struct fixture_info *fx_get(const char *name);
/*
 * Up to @cap entries having every trait of @all and none of @none, in
 * registry order (sorted by name); returns how many there are in total.
 */
unsigned fx_select(const struct fixture_info **out, unsigned cap, unsigned all, unsigned none);
/* The @k-th entry fx_select() would give (the test fails if there is none). */
const struct fixture_info *fx_nth(unsigned k, unsigned all, unsigned none);

/* ESHARE_FIXTURES "/" @file, into @buf. */
void fx_path(char *buf, size_t len, const char *file);
/* The image file of @f, and of its extra device @k (0-based). */
void fx_image_path(char *buf, size_t len, const struct fixture_info *f);
void fx_device_path(char *buf, size_t len, const struct fixture_info *f, unsigned k);

/*
 * The one file loader: the whole file at @path into a malloc'd buffer
 * (one spare NUL byte after the end); NULL with errno set on error.
 */
uint8_t *test_load_file(const char *path, size_t *len);
/*
 * Fixture file @file (e.g. "lz4.erofs", "multidev.blob"); fails the test if
 * missing.  Like every function here that can fail a test, only inside a
 * test: Check refuses ck_assert outside one.
 */
uint8_t *fx_load(const char *file, size_t *len);
/* The image of @f in memory (fails the test if missing). */
uint8_t *fx_load_image(const struct fixture_info *f, size_t *len);

#endif
