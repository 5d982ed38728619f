// SPDX-License-Identifier: MIT
/*
 * Directories: blocks of 12-byte dirents followed by their names, sorted
 * by unsigned byte order across blocks.  Readdir cookies are the byte
 * position of a dirent (block * blksz + index * 12), as the kernel's f_pos;
 * a directory without "." gets one synthesized at position i_size.
 *
 * Readdir refuses, as corruption, a name holding '/' (the kernel's VFS
 * filldir does, so getdents fails there) and a name not strictly after the
 * one before it (fsck.erofs does; lookups, the kernel's too, rely on that
 * order, and a directory whose block map repeats a block would otherwise
 * list the same names again and again).  Lookup is the kernel's binary
 * search step for step, so that on a damaged directory (a name twice, out of
 * order) it finds the entry the kernel finds.
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
	rc = ef_read_data_via_io(fs, dir, b->buf, b->maxsize, start);
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

static int namecmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* The name before the dirent at @pos, to check the order of the ones after. */
static int prev_name(struct ef_fs *fs, struct ef_inode *dir, uint64_t pos, struct dblock *b,
		     char *prev, size_t *prevlen)
{
	uint64_t j = pos >> fs->blkszbits;
	uint32_t i = (uint32_t)(pos & (fs->blksz - 1)) / sizeof(struct erofs_dirent);
	const char *name;
	int rc;

	*prevlen = 0;
	if (!pos)
		return 0;
	if ((pos & (fs->blksz - 1)) % sizeof(struct erofs_dirent))
		return -EINVAL;
	if (!i) {
		/* the last name of the block before */
		rc = read_dblock(fs, dir, j - 1, b);
		if (rc)
			return rc;
		i = b->n;
	} else {
		rc = read_dblock(fs, dir, j, b);
		if (rc)
			return rc;
		if (i > b->n)
			return -EINVAL;
	}
	rc = dirent_name(fs, dir, b, i - 1, &name, prevlen);
	if (!rc)
		memcpy(prev, name, *prevlen);
	return rc;
}

int ef_readdir(struct ef_fs *fs, struct ef_inode *dir, uint64_t *cookie, ef_dirent_fn fn,
	       void *user)
{
	uint64_t pos = *cookie;
	uint64_t nblocks;
	struct dblock b = { 0 };
	char prev[EROFS_NAME_LEN];
	size_t prevlen = 0;
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
	if (pos < dir->size) {
		rc = prev_name(fs, dir, pos, &b, prev, &prevlen);
		if (rc)
			goto out;
	}
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
			if (memchr(name, '/', len)) {
				rc = ef_corrupt(fs, dir->nid, "block %llu dirent %u: a name holding '/'",
						(unsigned long long)j, i);
				goto out;
			}
			if (prevlen && namecmp(prev, prevlen, name, len) >= 0) {
				rc = ef_corrupt(fs, dir->nid,
						"block %llu dirent %u: name out of order (%s)",
						(unsigned long long)j, i,
						namecmp(prev, prevlen, name, len) ? "before the previous" :
										     "the previous again");
				goto out;
			}
			memcpy(prev, name, len);
			prevlen = len;
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

/*
 * The kernel's erofs_dirnamecmp(): compare @name with a dirent's name from
 * byte *matched on (the prefix already known equal), the dirent's name
 * ending at @dlen or at a NUL byte.  Returns <0, 0, >0 as @name sorts before,
 * equals or sorts after it; *matched gets the length of the common prefix.
 */
static int dirnamecmp(const char *name, size_t len, const char *dn, size_t dlen,
		      size_t *matched)
{
	size_t i = *matched;

	while (i < dlen && dn[i]) {
		unsigned char c = i < len ? (unsigned char)name[i] : 0;

		if (c != (unsigned char)dn[i]) {
			*matched = i;
			return c > (unsigned char)dn[i] ? 1 : -1;
		}
		i++;
	}
	*matched = i;
	return i >= len ? 0 : 1;
}

/*
 * The kernel's lookup (fs/erofs/namei.c): a binary search over the blocks
 * by their first name, keeping as candidate the last block whose first name
 * is not after @name, then a binary search over the candidate's other
 * dirents.  Both narrow with the common prefix already matched, as the
 * kernel does, so that on a directory out of order (or holding a name
 * twice) the same dirent is found.
 */
int ef_lookup(struct ef_fs *fs, struct ef_inode *dir, const char *name, size_t len, uint64_t *nid)
{
	int64_t head = 0, back, cand = -1, last = -1;
	size_t startprfx = 0, endprfx = 0;
	struct dblock b = { 0 };
	int rc;

	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (len > EROFS_NAME_LEN)
		return -ENAMETOOLONG;
	if (!len || memchr(name, '\0', len))
		return -ENOENT;
	if (dir->dot_omitted && len == 1 && name[0] == '.') {
		*nid = dir->nid;
		return 0;
	}
	back = (int64_t)((dir->size + fs->blksz - 1) >> fs->blkszbits) - 1;
	rc = alloc_block(fs, &b);
	if (rc)
		return rc;
	while (head <= back) {
		int64_t mid = head + (back - head) / 2;
		size_t matched = startprfx < endprfx ? startprfx : endprfx, dl = 0;
		const char *dn = NULL;
		int diff;

		rc = read_dblock(fs, dir, (uint64_t)mid, &b);
		if (!rc)
			rc = dirent_name(fs, dir, &b, 0, &dn, &dl);
		if (rc)
			goto out;
		last = mid;
		diff = dirnamecmp(name, len, dn, dl, &matched);
		if (diff < 0) {
			back = mid - 1;
			endprfx = matched;
			continue;
		}
		if (!diff) {
			*nid = dirent_nid(&b, 0);
			goto out;
		}
		cand = mid;
		head = mid + 1;
		startprfx = matched;
	}
	rc = -ENOENT;
	if (cand < 0)
		goto out;
	if (cand != last) {
		/* the last block read was not the candidate */
		rc = read_dblock(fs, dir, (uint64_t)cand, &b);
		if (rc)
			goto out;
	}
	rc = -ENOENT;
	head = 1;
	back = (int64_t)b.n - 1;
	startprfx = endprfx = 0;
	while (head <= back) {
		int64_t mid = head + (back - head) / 2;
		size_t matched = startprfx < endprfx ? startprfx : endprfx, dl = 0;
		const char *dn = NULL;
		int diff, r;

		r = dirent_name(fs, dir, &b, (uint32_t)mid, &dn, &dl);
		if (r) {
			rc = r;
			break;
		}
		diff = dirnamecmp(name, len, dn, dl, &matched);
		if (!diff) {
			*nid = dirent_nid(&b, (uint32_t)mid);
			rc = 0;
			break;
		}
		if (diff > 0) {
			head = mid + 1;
			startprfx = matched;
		} else {
			back = mid - 1;
			endprfx = matched;
		}
	}
out:
	free(b.buf);
	return rc;
}
