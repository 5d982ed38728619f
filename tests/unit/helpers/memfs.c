// SPDX-License-Identifier: MIT
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memfs.h"

static int memfs_read(void *ctx, unsigned dev, void *buf, size_t len, uint64_t off)
{
	struct memfs *m = ctx;

	if (dev >= m->ndev || off > m->len[dev] || len > m->len[dev] - off)
		return -EIO;
	memcpy(buf, m->data[dev] + off, len);
	return 0;
}

static void memfs_report(void *ctx, uint64_t nid, const char *why)
{
	struct memfs *m = ctx;

	m->reports++;
	snprintf(m->last_report, sizeof(m->last_report), "%s", why);
	if (m->print_reports || getenv("ESHARE_FORMAT_REPORTS"))
		printf("report: nid %llu: %s\n", (unsigned long long)nid, why);
}

static void memfs_count(void *ctx, uint64_t bytes)
{
	((struct memfs *)ctx)->decoded += bytes;
}

void memfs_load(struct memfs *m, const char *name)
{
	const struct fixture_info *f = fx_get(name);

	memset(m, 0, sizeof(*m));
	m->data[0] = fx_load_image(f, &m->len[0]);
	for (unsigned k = 0; k < f->ndevices; k++)
		m->data[k + 1] = fx_load(f->devices[k], &m->len[k + 1]);
	m->ndev = 1 + f->ndevices;
}

void memfs_adopt(struct memfs *m, uint8_t *data, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->data[0] = data;
	m->len[0] = len;
	m->ndev = 1;
}

void memfs_grow(struct memfs *m, size_t len)
{
	uint8_t *d = realloc(m->data[0], len);

	ck_assert_ptr_nonnull(d);
	if (len > m->len[0])
		memset(d + m->len[0], 0, len - m->len[0]);
	m->data[0] = d;
	m->len[0] = len;
}

void memfs_free(struct memfs *m)
{
	for (unsigned k = 0; k < FX_MAX_DEVICES; k++)
		free(m->data[k]);
	memset(m, 0, sizeof(*m));
}

struct ef_io memfs_io(struct memfs *m)
{
	return (struct ef_io){ .ctx = m, .read = memfs_read, .report = memfs_report,
			       .count_decompressed = memfs_count };
}

int memfs_open(struct memfs *m, struct ef_fs **fs)
{
	struct ef_io io = memfs_io(m);
	uint64_t sizes[FX_MAX_DEVICES];

	for (unsigned k = 0; k < m->ndev; k++)
		sizes[k] = m->len[k];
	return ef_fs_open(fs, &io, sizes, m->ndev);
}

struct ef_fs *memfs_fs(struct memfs *m)
{
	struct ef_fs *fs = NULL;
	int rc = memfs_open(m, &fs);

	ck_assert_msg(rc == 0, "ef_fs_open: %d", rc);
	return fs;
}

int memfs_resolve(struct ef_fs *fs, const char *path, struct ef_inode *out)
{
	struct ef_inode cur;
	int rc = ef_iget(fs, fs->root_nid, &cur);

	while (!rc && *path) {
		size_t n;
		uint64_t nid;

		while (*path == '/')
			path++;
		n = strcspn(path, "/");
		if (!n)
			break;
		rc = ef_lookup(fs, &cur, path, n, &nid);
		if (!rc)
			rc = ef_iget(fs, nid, &cur);
		path += n;
	}
	if (!rc)
		*out = cur;
	return rc;
}

int memfs_decode_file(struct ef_fs *fs, struct ef_inode *ino, uint8_t *out)
{
	struct ef_scratch s = { 0 };
	uint64_t pos = 0;
	int rc = 0;

	while (!rc && pos < ino->size) {
		struct ef_map m;
		uint8_t *tmp;

		rc = ef_map(fs, ino, pos, &m);
		if (rc)
			break;
		ck_assert(m.la <= pos && pos < m.la + m.llen && m.la + m.llen <= ino->size);
		tmp = malloc(m.llen);
		ck_assert_ptr_nonnull(tmp);
		if (m.flags & EF_MAP_MAPPED)
			rc = ef_decode_extent(fs, ino, &m, tmp, &s);
		else
			memset(tmp, 0, m.llen);
		if (!rc)
			memcpy(out + pos, tmp + (pos - m.la), m.la + m.llen - pos);
		free(tmp);
		pos = m.la + m.llen;
	}
	ef_scratch_free(&s);
	return rc;
}

uint64_t memfs_zheader_pos(const struct ef_inode *ino)
{
	return (ef_inode_datapos(ino) + 7) & ~7ull;
}

void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

#define SB(field) (EROFS_SUPER_OFFSET + offsetof(struct erofs_super_block, field))

void sb_fix_checksum(uint8_t *d, size_t len)
{
	unsigned bits;
	uint64_t blksz, clen;

	if (len < EROFS_SUPER_OFFSET + sizeof(struct erofs_super_block) ||
	    !(ef_le32(d + SB(feature_compat)) & EROFS_COMPAT_SB_CHKSUM))
		return;
	bits = d[SB(blkszbits)];
	if (bits > 30)
		return;
	blksz = 1ull << bits;
	clen = blksz > EROFS_SUPER_OFFSET ? blksz - EROFS_SUPER_OFFSET : blksz;
	if (EROFS_SUPER_OFFSET + clen > len)
		return;
	put_le32(d + SB(checksum), 0);
	put_le32(d + SB(checksum), ef_crc32c(~0u, d + EROFS_SUPER_OFFSET, (size_t)clen));
}
