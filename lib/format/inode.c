// SPDX-License-Identifier: MIT
/*
 * Inodes: compact (32 B) and extended (64 B) forms, in the inode area of
 * the primary device or, for nids with bit 63, in the metabox stream.
 */
#include <string.h>
#include <sys/stat.h>

#include "format.h"

uint64_t ef_nid_to_ino(const struct ef_fs *fs, uint64_t nid)
{
	if (!(fs->feature_incompat & EROFS_INCOMPAT_METABOX))
		return nid;
	/* fold bit 63 into bit 31 as the kernel does */
	return ((nid << 1) & 0xFFFFFFFF00000000ull) | (nid & 0x7FFFFFFFull) |
	       ((nid & EROFS_NID_METABOX_BIT) ? 0x80000000ull : 0);
}

int ef_ino_to_nid(const struct ef_fs *fs, uint64_t ino, uint64_t *nid)
{
	if (!(fs->feature_incompat & EROFS_INCOMPAT_METABOX)) {
		*nid = ino;
		return 0;
	}
	if (ino & (1ull << 63))
		return -EINVAL;
	*nid = ((ino & 0xFFFFFFFF00000000ull) >> 1) | (ino & 0x7FFFFFFFull) |
	       ((ino & 0x80000000ull) ? EROFS_NID_METABOX_BIT : 0);
	return 0;
}

bool ef_inode_is_compressed(const struct ef_inode *ino)
{
	return ino->layout == EROFS_INODE_COMPRESSED_FULL ||
	       ino->layout == EROFS_INODE_COMPRESSED_COMPACT;
}

uint64_t ef_inode_datapos(const struct ef_inode *ino)
{
	return ino->iloc + ino->inode_isize + ino->xattr_isize;
}

uint64_t ef_inode_blocks(const struct ef_fs *fs, const struct ef_inode *ino)
{
	if (ef_inode_is_compressed(ino))
		return ino->zblocks << (fs->blkszbits - 9);
	return ((ino->size + fs->blksz - 1) >> fs->blkszbits) << (fs->blkszbits - 9);
}

static bool valid_type(uint16_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return true;
	}
	return false;
}

static int parse_layout(struct ef_fs *fs, struct ef_inode *ino, uint32_t i_u, uint64_t hi)
{
	bool is48 = fs->feature_incompat & EROFS_INCOMPAT_48BIT;

	switch (ino->mode & S_IFMT) {
	case S_IFCHR: case S_IFBLK:
		ino->rdev = i_u;
		return 0;
	case S_IFIFO: case S_IFSOCK:
		return 0;
	}
	switch (ino->layout) {
	case EROFS_INODE_FLAT_PLAIN:
	case EROFS_INODE_FLAT_INLINE:
		ino->startblk = i_u | (is48 ? hi << 32 : 0);
		if (ino->startblk == (is48 ? EROFS_NULL_ADDR_48 : EROFS_NULL_ADDR_32) ||
		    (!is48 && i_u == EROFS_NULL_ADDR_32))
			ino->startblk = EROFS_NULL_ADDR_48;
		break;
	case EROFS_INODE_COMPRESSED_FULL:
	case EROFS_INODE_COMPRESSED_COMPACT:
		ino->zblocks = i_u | (is48 ? hi << 32 : 0);
		if (!fs->available_compr_algs)
			return ef_corrupt(fs, ino->nid, "compressed inode in a plain filesystem");
		break;
	case EROFS_INODE_CHUNK_BASED:
		ino->chunkformat = (uint16_t)i_u;
		if (ino->chunkformat & ~EROFS_CHUNK_FORMAT_ALL) {
			ef_corrupt(fs, ino->nid, "chunk format %#x", ino->chunkformat);
			return -EOPNOTSUPP;
		}
		ino->chunkbits = fs->blkszbits + (ino->chunkformat & EROFS_CHUNK_FORMAT_BLKBITS_MASK);
		if (ino->chunkbits > 48)
			return ef_corrupt(fs, ino->nid, "chunk size 2^%u", ino->chunkbits);
		break;
	}
	return 0;
}

/* The inline tail of a FLAT_INLINE inode must not cross a block boundary. */
static int check_inline(struct ef_fs *fs, struct ef_inode *ino)
{
	uint64_t nblocks, tail, pos;

	if (ino->layout != EROFS_INODE_FLAT_INLINE)
		return 0;
	switch (ino->mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK:
		break;
	default:
		return 0;
	}
	if (!ino->size)
		return 0;
	nblocks = (ino->size + fs->blksz - 1) >> fs->blkszbits;
	tail = ino->size - ((nblocks - 1) << fs->blkszbits);
	pos = ef_inode_datapos(ino);
	if ((pos & (fs->blksz - 1)) + tail > fs->blksz)
		return ef_corrupt(fs, ino->nid, "inline data of %llu bytes crosses a block",
				  (unsigned long long)tail);
	if (nblocks > 1 && ino->startblk == EROFS_NULL_ADDR_48)
		return ef_corrupt(fs, ino->nid, "inline file without its blocks");
	return 0;
}

static bool inode_fits(const struct ef_fs *fs, const struct ef_inode *ino, size_t len)
{
	uint64_t end = ino->in_metabox ? (fs->metabox ? fs->metabox->size : 0) : fs->devices[0].size;

	return ino->iloc <= end && len <= end - ino->iloc;
}

int ef_iget(struct ef_fs *fs, uint64_t nid, struct ef_inode *out)
{
	union {
		struct erofs_inode_compact c;
		struct erofs_inode_extended e;
	} di;
	struct ef_inode ino;
	uint64_t slot = nid & ~EROFS_NID_METABOX_BIT;
	uint64_t hi;
	uint32_t i_u;
	uint16_t fmt;
	int rc;

	memset(&ino, 0, sizeof(ino));
	ino.nid = nid;
	ino.in_metabox = nid & EROFS_NID_METABOX_BIT;
	if (ino.in_metabox) {
		if (!fs->metabox)
			return ef_corrupt(fs, nid, "metabox nid without a metabox");
		if (slot > (UINT64_MAX >> EROFS_ISLOTBITS))
			return ef_corrupt(fs, nid, "nid out of range");
		ino.iloc = slot << EROFS_ISLOTBITS;
	} else {
		uint64_t base = fs->meta_blkaddr << fs->blkszbits;

		if (slot > ((UINT64_MAX - base) >> EROFS_ISLOTBITS))
			return ef_corrupt(fs, nid, "nid out of range");
		ino.iloc = base + (slot << EROFS_ISLOTBITS);
	}
	/* past the image's end is the image's fault; a failed read is the device's */
	if (!inode_fits(fs, &ino, sizeof(di.c)))
		return ef_corrupt(fs, nid, "inode past the image's end");
	rc = ef_read_metadata(fs, ino.in_metabox, ino.iloc, &di.c, sizeof(di.c));
	if (rc)
		return rc;
	fmt = ef_le16(&di.c.i_format);
	if (fmt & ~EROFS_I_ALL) {
		ef_corrupt(fs, nid, "unknown inode format bits %#x", fmt);
		return -EOPNOTSUPP;
	}
	ino.format = fmt;
	ino.layout = (fmt >> EROFS_I_DATALAYOUT_SHIFT) & EROFS_I_DATALAYOUT_MASK;
	if (ino.layout >= EROFS_INODE_DATALAYOUT_MAX) {
		ef_corrupt(fs, nid, "unknown data layout %u", ino.layout);
		return -EOPNOTSUPP;
	}
	ino.mode = ef_le16(&di.c.i_mode);
	if (!valid_type(ino.mode))
		return ef_corrupt(fs, nid, "bad file type in mode %#o", ino.mode);
	ino.xattr_icount = ef_le16(&di.c.i_xattr_icount);
	ino.xattr_isize = ino.xattr_icount ? 12u + 4u * (ino.xattr_icount - 1u) : 0;
	ino.extended = fmt & EROFS_I_VERSION_MASK;
	if (S_ISDIR(ino.mode))
		ino.dot_omitted = fmt & EROFS_I_DOT_OMITTED_BIT;
	if (ino.extended) {
		if (!inode_fits(fs, &ino, sizeof(di.e)))
			return ef_corrupt(fs, nid, "inode past the image's end");
		rc = ef_read_metadata(fs, ino.in_metabox, ino.iloc, &di.e, sizeof(di.e));
		if (rc)
			return rc;
		ino.inode_isize = sizeof(di.e);
		ino.size = ef_le64(&di.e.i_size);
		if (ino.size > (uint64_t)INT64_MAX)
			return ef_corrupt(fs, nid, "negative size");
		i_u = ef_le32(&di.e.i_u);
		hi = ef_le16(&di.e.i_nb);
		ino.uid = ef_le32(&di.e.i_uid);
		ino.gid = ef_le32(&di.e.i_gid);
		ino.mtime = (int64_t)ef_le64(&di.e.i_mtime);
		ino.mtime_nsec = ef_le32(&di.e.i_mtime_nsec);
		ino.nlink = ef_le32(&di.e.i_nlink);
	} else {
		ino.inode_isize = sizeof(di.c);
		ino.size = ef_le32(&di.c.i_size);
		i_u = ef_le32(&di.c.i_u);
		ino.uid = ef_le16(&di.c.i_uid);
		ino.gid = ef_le16(&di.c.i_gid);
		ino.mtime = fs->epoch + (int64_t)ef_le32(&di.c.i_mtime);
		ino.mtime_nsec = fs->fixed_nsec;
		if (!S_ISDIR(ino.mode) && (fmt & EROFS_I_NLINK_1_BIT)) {
			ino.nlink = 1;
			hi = ef_le16(&di.c.i_nb);
		} else {
			ino.nlink = ef_le16(&di.c.i_nb);
			hi = 0;
		}
	}
	rc = parse_layout(fs, &ino, i_u, hi);
	if (rc)
		return rc;
	rc = check_inline(fs, &ino);
	if (rc)
		return rc;
	ino.ino = ef_nid_to_ino(fs, nid);
	if (ef_inode_is_compressed(&ino) &&
	    (S_ISREG(ino.mode) || S_ISDIR(ino.mode) || S_ISLNK(ino.mode))) {
		rc = ef_zinfo_init(fs, &ino);
		if (rc)
			return rc;
	}
	*out = ino;
	return 0;
}
