// SPDX-License-Identifier: MIT
/*
 * The fixture registry (fixtures.h).  Traits follow the mkfs.erofs options
 * of tests/fixtures/README.md; test_fixtures.c checks each against the
 * image's superblock.  Keep the entries sorted by name.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixtures.h"

#define C FX_COMPRESSED
#define T FX_COMMON_TREE
#define FX(n, t) { .name = n, .traits = (t) }
#define FXZ(n, z, a, t) { .name = n, .codec = z, .algs = (a), .traits = C | (t) }

const struct fixture_info fixture_registry[] = {
	FXZ("48bit", "zstd", FX_ALG_ZSTD, T | FX_48BIT | FX_TIMES_CUT),
	FXZ("all-fragments", "lz4hc", FX_ALG_LZ4,
	    T | FX_FRAGMENTS | FX_ALL_FRAGMENTS | FX_PACKED_INODE),
	FX("chunk-4k", T | FX_CHUNKED),
	FXZ("dedupe", "lz4hc", FX_ALG_LZ4, T | FX_DEDUPE),
	FXZ("deflate", "deflate", FX_ALG_DEFLATE, T),
	FXZ("digest-lz4", "lz4", FX_ALG_LZ4, T | FX_DIGEST | FX_XATTR_PREFIXES),
	FX("digest-plain", T | FX_DIGEST | FX_XATTR_PREFIXES),
	FXZ("dirs-compressed", "lz4", FX_ALG_LZ4, T | FX_DIRS_COMPRESSED | FX_PACKED_INODE),
	FXZ("fragments", "lz4hc", FX_ALG_LZ4, T | FX_FRAGMENTS | FX_PACKED_INODE),
	FXZ("inode-compact", "lz4", FX_ALG_LZ4, T | FX_COMPACT_ONLY | FX_TIMES_CUT | FX_DUMP15),
	FXZ("inode-extended", "lz4", FX_ALG_LZ4, T | FX_EXTENDED_ONLY | FX_DUMP15),
	FXZ("lz4", "lz4", FX_ALG_LZ4, T | FX_DUMP15),
	FXZ("lz4hc-pcluster64k", "lz4hc,level=12", FX_ALG_LZ4, T | FX_BIG_PCLUSTER | FX_DUMP15),
	FXZ("lzma", "lzma", FX_ALG_LZMA, T | FX_DUMP15),
	FXZ("metabox", "lz4", FX_ALG_LZ4, T | FX_METABOX | FX_48BIT | FX_TIMES_CUT),
	FXZ("metazone", "lz4", FX_ALG_LZ4, T | FX_METAZONE | FX_DUMP15),
	{ .name = "multidev", .traits = T | FX_CHUNKED | FX_MULTIDEV,
	  .devices = { "multidev.blob" }, .ndevices = 1 },
	FX("plain-4k", T),
	FX("plain-512", T | FX_BLK512),
	FXZ("shared-a", "lz4hc", FX_ALG_LZ4, FX_DIGEST | FX_XATTR_PREFIXES),
	FXZ("shared-b", "lz4hc", FX_ALG_LZ4, FX_DIGEST | FX_XATTR_PREFIXES),
	FXZ("xattr-filter", "lz4", FX_ALG_LZ4, T | FX_XATTR_PREFIXES),
	FXZ("zstd", "zstd", FX_ALG_ZSTD, T),
	FXZ("ztailpacking", "lz4hc", FX_ALG_LZ4, T | FX_ZTAILPACKING | FX_DUMP15),
};
const unsigned fixture_count = sizeof(fixture_registry) / sizeof(fixture_registry[0]);

const struct fixture_info *fx_find(const char *name)
{
	size_t n = strlen(name);

	if (n > 6 && !strcmp(name + n - 6, ".erofs"))
		n -= 6;
	for (unsigned i = 0; i < fixture_count; i++)
		if (strlen(fixture_registry[i].name) == n &&
		    !strncmp(fixture_registry[i].name, name, n))
			return &fixture_registry[i];
	return NULL;
}

const struct fixture_info *fx_get(const char *name)
{
	const struct fixture_info *f = fx_find(name);

	ck_assert_msg(f != NULL, "fixture %s is not in the registry (helpers/fixtures.c)", name);
	return f;
}

unsigned fx_select(const struct fixture_info **out, unsigned cap, unsigned all, unsigned none)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fixture_count; i++) {
		const struct fixture_info *f = &fixture_registry[i];

		if ((f->traits & all) != all || (f->traits & none))
			continue;
		if (n < cap)
			out[n] = f;
		n++;
	}
	return n;
}

const struct fixture_info *fx_nth(unsigned k, unsigned all, unsigned none)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fixture_count; i++) {
		const struct fixture_info *f = &fixture_registry[i];

		if ((f->traits & all) != all || (f->traits & none))
			continue;
		if (n++ == k)
			return f;
	}
	ck_abort_msg("no fixture %u with traits %#x and not %#x", k, all, none);
	return NULL;
}

void fx_path(char *buf, size_t len, const char *file)
{
	snprintf(buf, len, "%s/%s", ESHARE_FIXTURES, file);
}

void fx_image_path(char *buf, size_t len, const struct fixture_info *f)
{
	snprintf(buf, len, "%s/%s.erofs", ESHARE_FIXTURES, f->name);
}

void fx_device_path(char *buf, size_t len, const struct fixture_info *f, unsigned k)
{
	ck_assert_uint_lt(k, f->ndevices);
	fx_path(buf, len, f->devices[k]);
}

uint8_t *test_load_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *p;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || st.st_size < 0) {
		close(fd);
		return NULL;
	}
	p = malloc((size_t)st.st_size + 1);
	while (p && got < (size_t)st.st_size) {
		ssize_t n = pread(fd, p + got, (size_t)st.st_size - got, (off_t)got);

		if (n <= 0) {
			free(p);
			p = NULL;
			errno = n ? errno : EIO;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (p) {
		p[got] = 0;
		*len = got;
	}
	return p;
}

uint8_t *fx_load(const char *file, size_t *len)
{
	char path[4096];
	uint8_t *p;

	fx_path(path, sizeof(path), file);
	p = test_load_file(path, len);
	ck_assert_msg(p != NULL, "cannot read %s", path);
	return p;
}

uint8_t *fx_load_image(const struct fixture_info *f, size_t *len)
{
	char file[256];

	snprintf(file, sizeof(file), "%s.erofs", f->name);
	return fx_load(file, len);
}
