// SPDX-License-Identifier: MIT
/*
 * Directories: blocks of 12-byte dirents followed by their names, sorted
 * by unsigned byte order across blocks.  Readdir cookies are the byte
 * position of a dirent (block * blksz + index * 12), as the kernel's f_pos;
 * a directory without "." gets one synthesized at position i_size.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format.h"

struct dblock {
	uint8_t *buf;
	uint32_t maxsize; /* bytes of this block that belong to the directory */
	uint32_t n;       /* dirents */
};

static int read_dblock(struct ef_fs *fs, struct ef_inode *dir, uint64_t j, struct dblock *b)
{
	uint64_t start = j << fs->blkszbits;
	uint16_t nameoff0;
	int rc;

	b->maxsize = dir->size - start < fs->blksz ? (uint32_t)(dir->size - start) : fs->blksz;
	rc = ef_read(fs, dir, b->buf, b->maxsize, start);
	if (rc)
		return rc;
	if (b->maxsize < sizeof(struct erofs_dirent))
		return ef_corrupt(fs, dir->nid, "directory block %llu of %u bytes",
				  (unsigned long long)j, b->maxsize);
	nameoff0 = ef_le16(b->buf + 8);
	if (nameoff0 < sizeof(struct erofs_dirent) || nameoff0 >= b->maxsize ||
	    nameoff0 % sizeof(struct erofs_dirent))
		return ef_corrupt(fs, dir->nid, "directory block %llu: first name at %u",
				  (unsigned long long)j, nameoff0);
	b->n = nameoff0 / sizeof(struct erofs_dirent);
	return 0;
}

/* Name of dirent i of a block, checked. */
static int dirent_name(struct ef_fs *fs, struct ef_inode *dir, const struct dblock *b, uint32_t i,
		       const char **name, size_t *len)
{
	const uint8_t *de = b->buf + i * sizeof(struct erofs_dirent);
	uint32_t off = ef_le16(de + 8), end;

	if (off < b->n * sizeof(struct erofs_dirent) || off >= b->maxsize)
		return ef_corrupt(fs, dir->nid, "dirent %u: name at %u", i, off);
	if (i + 1 < b->n) {
		end = ef_le16(de + sizeof(struct erofs_dirent) + 8);
		if (end < off || end > b->maxsize)
			return ef_corrupt(fs, dir->nid, "dirent %u: name ends at %u", i, end);
	} else {
		const uint8_t *z = memchr(b->buf + off, 0, b->maxsize - off);

		end = z ? (uint32_t)(z - b->buf) : b->maxsize;
	}
	if (end == off || end - off > EROFS_NAME_LEN)
		return ef_corrupt(fs, dir->nid, "dirent %u: name of %u bytes", i, end - off);
	*name = (const char *)b->buf + off;
	*len = end - off;
	return 0;
}

static uint64_t dirent_nid(const struct dblock *b, uint32_t i)
{
	return ef_le64(b->buf + i * sizeof(struct erofs_dirent));
}

static unsigned dirent_type(const struct dblock *b, uint32_t i)
{
	unsigned t = b->buf[i * sizeof(struct erofs_dirent) + 10];

	return t < EROFS_FT_MAX ? t : EROFS_FT_UNKNOWN;
}

static int alloc_block(struct ef_fs *fs, struct dblock *b)
{
	b->buf = malloc(fs->blksz);
	return b->buf ? 0 : -ENOMEM;
}

int ef_readdir(struct ef_fs *fs, struct ef_inode *dir, uint64_t *cookie, ef_dirent_fn fn,
	       void *user)
{
	uint64_t pos = *cookie;
	uint64_t nblocks;
	struct dblock b = { 0 };
	int rc = 0;

	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	nblocks = (dir->size + fs->blksz - 1) >> fs->blkszbits;
	if (pos > dir->size) {
		if (dir->dot_omitted && pos == dir->size + 1)
			return 0;
		return -EINVAL;
	}
	rc = alloc_block(fs, &b);
	if (rc)
		return rc;
	while (pos < dir->size) {
		uint64_t j = pos >> fs->blkszbits;
		uint32_t i = (uint32_t)(pos & (fs->blksz - 1));

		if (i % sizeof(struct erofs_dirent)) {
			rc = -EINVAL;
			goto out;
		}
		i /= sizeof(struct erofs_dirent);
		rc = read_dblock(fs, dir, j, &b);
		if (rc)
			goto out;
		if (i >= b.n) {
			rc = i == 0 ? 0 : -EINVAL;
			goto out;
		}
		for (; i < b.n; i++) {
			const char *name = NULL;
			size_t len = 0;
			uint64_t next = i + 1 < b.n ? (j << fs->blkszbits) +
						(i + 1) * sizeof(struct erofs_dirent) :
						(j + 1 < nblocks ? (j + 1) << fs->blkszbits : dir->size);

			rc = dirent_name(fs, dir, &b, i, &name, &len);
			if (rc)
				goto out;
			rc = fn(user, name, len, dirent_nid(&b, i), dirent_type(&b, i), next);
			*cookie = next;
			if (rc)
				goto out;
		}
		pos = *cookie;
	}
	if (dir->dot_omitted && pos == dir->size) {
		rc = fn(user, ".", 1, dir->nid, EROFS_FT_DIR, dir->size + 1);
		*cookie = dir->size + 1;
	}
out:
	free(b.buf);
	return rc;
}

static int namecmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Binary search within one block: 0 found (nid set), 1 not in this block. */
static int find_in_block(struct ef_fs *fs, struct ef_inode *dir, const struct dblock *b,
			 const char *name, size_t len, uint64_t *nid, int *side)
{
	int64_t lo = 0, hi = (int64_t)b->n - 1;
	int rc;

	*side = 0;
	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;
		const char *dn = NULL;
		size_t dl = 0;
		int c;

		rc = dirent_name(fs, dir, b, (uint32_t)mid, &dn, &dl);
		if (rc)
			return rc;
		c = namecmp(name, len, dn, dl);
		if (!c) {
			*nid = dirent_nid(b, (uint32_t)mid);
			return 0;
		}
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	/* which side of this block the name would lie on */
	if (hi < 0)
		*side = -1;
	else if (lo >= (int64_t)b->n)
		*side = 1;
	return 1;
}

int ef_lookup(struct ef_fs *fs, struct ef_inode *dir, const char *name, size_t len, uint64_t *nid)
{
	int64_t head = 0, back;
	struct dblock b = { 0 };
	int rc;

	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (len > EROFS_NAME_LEN)
		return -ENAMETOOLONG;
	if (!len)
		return -ENOENT;
	if (dir->dot_omitted && len == 1 && name[0] == '.') {
		*nid = dir->nid;
		return 0;
	}
	back = (int64_t)((dir->size + fs->blksz - 1) >> fs->blkszbits) - 1;
	rc = alloc_block(fs, &b);
	if (rc)
		return rc;
	rc = -ENOENT;
	while (head <= back) {
		int64_t mid = head + (back - head) / 2;
		int side, r;

		r = read_dblock(fs, dir, (uint64_t)mid, &b);
		if (r) {
			rc = r;
			break;
		}
		r = find_in_block(fs, dir, &b, name, len, nid, &side);
		if (r <= 0) {
			rc = r;
			break;
		}
		if (side < 0)
			back = mid - 1;
		else if (side > 0)
			head = mid + 1;
		else
			break; /* between two names of this block: absent */
	}
	free(b.buf);
	return rc;
}
