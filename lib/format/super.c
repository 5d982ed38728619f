// SPDX-License-Identifier: MIT
/*
 * Superblock: validation, checksum, compression configurations, the device
 * table, and loading of the packed and metabox inodes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

static uint32_t crc32c_table[256];
static int crc32c_ready;

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		crc32c_table[i] = c;
	}
	__atomic_store_n(&crc32c_ready, 1, __ATOMIC_RELEASE);
}

/* Reflected CRC-32C without the final inversion, as EROFS stores it. */
uint32_t ef_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (!__atomic_load_n(&crc32c_ready, __ATOMIC_ACQUIRE))
		crc32c_init(); /* idempotent: racing threads write the same table */
	while (len--)
		crc = crc32c_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
	return crc;
}

int ef_corrupt(const struct ef_fs *fs, uint64_t nid, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (fs && fs->io.report) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		fs->io.report(fs->io.ctx, nid, msg);
	}
	return -EFSCORRUPTED;
}

#define SB_NID (~0ull)

static int read_sb_bytes(struct ef_fs *fs, void *buf, size_t len, uint64_t off)
{
	if (off + len > fs->devices[0].size)
		return ef_corrupt(fs, SB_NID, "image of %llu bytes is too short for its superblock",
				  (unsigned long long)fs->devices[0].size);
	return fs->io.read(fs->io.ctx, 0, buf, len, off);
}

static int check_sb_checksum(struct ef_fs *fs, uint32_t stored)
{
	size_t len = fs->blksz > EROFS_SUPER_OFFSET ? fs->blksz - EROFS_SUPER_OFFSET : fs->blksz;
	uint8_t *buf = malloc(len);
	uint32_t crc;
	int rc;

	if (!buf)
		return -ENOMEM;
	rc = read_sb_bytes(fs, buf, len, EROFS_SUPER_OFFSET);
	if (!rc) {
		memset(buf + 4, 0, 4);
		crc = ef_crc32c(~0u, buf, len);
		if (crc != stored)
			rc = ef_corrupt(fs, SB_NID, "superblock checksum %08x, expected %08x",
					crc, stored);
	}
	free(buf);
	return rc;
}

/* Compression configuration records follow the superblock (COMPR_CFGS). */
static int load_compr_cfgs(struct ef_fs *fs)
{
	uint64_t off = EROFS_SUPER_OFFSET + fs->sb_size;
	uint8_t payload[64];

	for (unsigned alg = 0; alg < Z_EROFS_COMPRESSION_MAX; alg++) {
		uint8_t szb[2];
		uint16_t size;
		size_t need = alg == Z_EROFS_COMPRESSION_LZ4 || alg == Z_EROFS_COMPRESSION_LZMA ? 14 : 6;
		int rc;

		if (!(fs->available_compr_algs & (1u << alg)))
			continue;
		off = (off + 3) & ~3ull;
		rc = read_sb_bytes(fs, szb, 2, off);
		if (rc)
			return rc;
		size = ef_le16(szb);
		if (size < need || size > sizeof(payload))
			return ef_corrupt(fs, SB_NID, "bad size %u of %s configuration", size,
					  ef_alg_name(alg));
		rc = read_sb_bytes(fs, payload, size, off + 2);
		if (rc)
			return rc;
		off += 2 + size;
		switch (alg) {
		case Z_EROFS_COMPRESSION_LZ4:
			fs->cfg.lz4_max_distance = ef_le16(payload);
			fs->cfg.lz4_max_pclusterblks = ef_le16(payload + 2);
			if ((uint64_t)fs->cfg.lz4_max_pclusterblks << fs->blkszbits > EF_MAX_PLEN)
				return ef_corrupt(fs, SB_NID, "lz4 pcluster of %u blocks",
						  fs->cfg.lz4_max_pclusterblks);
			break;
		case Z_EROFS_COMPRESSION_LZMA:
			fs->cfg.lzma_dict_size = ef_le32(payload);
			if (ef_le16(payload + 4) != 0)
				return -EOPNOTSUPP;
			if (fs->cfg.lzma_dict_size > (8u << 20))
				return ef_corrupt(fs, SB_NID, "lzma dictionary of %u bytes",
						  fs->cfg.lzma_dict_size);
			break;
		case Z_EROFS_COMPRESSION_DEFLATE:
			fs->cfg.deflate_windowbits = payload[0];
			if (payload[0] > 15)
				return ef_corrupt(fs, SB_NID, "deflate window of 2^%u", payload[0]);
			break;
		case Z_EROFS_COMPRESSION_ZSTD:
			if (payload[0] != 0)
				return -EOPNOTSUPP;
			fs->cfg.zstd_windowlog = payload[1];
			if (payload[1] > 10)
				return ef_corrupt(fs, SB_NID, "zstd window log %u", payload[1] + 10u);
			break;
		}
	}
	return 0;
}

static int load_devices(struct ef_fs *fs, const uint64_t *dev_sizes, unsigned ndev_sizes,
			uint16_t extra, uint16_t slotoff)
{
	bool is48 = fs->feature_incompat & EROFS_INCOMPAT_48BIT;

	if (!(fs->feature_incompat & EROFS_INCOMPAT_DEVICE_TABLE))
		extra = 0;
	if (extra >= EF_MAX_DEVICES)
		return ef_corrupt(fs, SB_NID, "%u extra devices", extra);
	if (ndev_sizes < 1u + extra)
		return -ENXIO; /* the image needs devices the caller did not give */
	fs->ndevices = extra;
	for (unsigned i = 1; i <= extra; i++) {
		struct erofs_deviceslot slot;
		struct ef_device *dev = &fs->devices[i];
		int rc = read_sb_bytes(fs, &slot, sizeof(slot),
				       (uint64_t)slotoff * 128 + (uint64_t)(i - 1) * sizeof(slot));

		if (rc)
			return rc;
		dev->blocks = ef_le32(&slot.blocks_lo);
		dev->uniaddr = ef_le32(&slot.uniaddr_lo);
		if (is48) {
			dev->blocks |= (uint64_t)ef_le16(&slot.blocks_hi) << 32;
			dev->uniaddr |= (uint64_t)ef_le16(&slot.uniaddr_hi) << 32;
		}
		dev->size = dev_sizes[i];
		if (dev->blocks > (UINT64_MAX >> fs->blkszbits) ||
		    dev->uniaddr > (UINT64_MAX >> fs->blkszbits) - dev->blocks)
			return ef_corrupt(fs, SB_NID, "device %u of %llu blocks", i,
					  (unsigned long long)dev->blocks);
		if ((dev->blocks << fs->blkszbits) > dev->size)
			return -ENXIO; /* device smaller than the image says */
	}
	return 0;
}

static int load_inode(struct ef_fs *fs, uint64_t nid, struct ef_inode **out, unsigned kind)
{
	struct ef_inode *ino = calloc(1, sizeof(*ino));
	int rc;

	if (!ino)
		return -ENOMEM;
	rc = ef_iget(fs, nid, ino);
	if (!rc && (ino->mode & 0170000) != 0100000)
		rc = ef_corrupt(fs, nid, "%s inode is not a regular file",
				kind == EF_INTERNAL_PACKED ? "packed" : "metabox");
	if (rc) {
		free(ino);
		return rc;
	}
	ino->internal = (uint8_t)kind;
	*out = ino;
	return 0;
}

static int parse_sb(struct ef_fs *fs, const struct erofs_super_block *sb, const uint64_t *dev_sizes,
		    unsigned ndev_sizes)
{
	uint32_t incompat = ef_le32(&sb->feature_incompat);
	int rc;

	if (ef_le32(&sb->magic) != EROFS_SUPER_MAGIC)
		return -EMEDIUMTYPE; /* ESHARE_ENOTEROFS: not an EROFS image at all */
	fs->blkszbits = sb->blkszbits;
	if (fs->blkszbits < 9 || fs->blkszbits > 16)
		return ef_corrupt(fs, SB_NID, "block size 2^%u", fs->blkszbits);
	fs->blksz = 1u << fs->blkszbits;
	fs->sb_size = 128 + 16u * sb->sb_extslots;
	if (fs->sb_size > 4096 - EROFS_SUPER_OFFSET)
		return ef_corrupt(fs, SB_NID, "superblock of %u bytes", fs->sb_size);
	fs->feature_compat = ef_le32(&sb->feature_compat);
	fs->feature_incompat = incompat;
	fs->checksum = ef_le32(&sb->checksum);
	if (fs->feature_compat & EROFS_COMPAT_SB_CHKSUM) {
		rc = check_sb_checksum(fs, fs->checksum);
		if (rc)
			return rc;
	}
	if (incompat & ~EROFS_INCOMPAT_ALL) {
		ef_corrupt(fs, SB_NID, "unknown incompatible features %#x", incompat & ~EROFS_INCOMPAT_ALL);
		return -EOPNOTSUPP;
	}
	if (sb->dirblkbits) {
		ef_corrupt(fs, SB_NID, "directory block bits %u", sb->dirblkbits);
		return -EOPNOTSUPP;
	}
	fs->inos = ef_le64(&sb->inos);
	fs->epoch = (int64_t)ef_le64(&sb->epoch);
	fs->fixed_nsec = ef_le32(&sb->fixed_nsec);
	fs->build_time = ef_le32(&sb->build_time);
	fs->meta_blkaddr = ef_le32(&sb->meta_blkaddr);
	fs->xattr_blkaddr = ef_le32(&sb->xattr_blkaddr);
	memcpy(fs->uuid, sb->uuid, 16);
	memcpy(fs->volume_name, sb->volume_name, 16);
	fs->volume_name[16] = '\0';
	fs->blocks = ef_le32(&sb->blocks_lo);
	fs->root_nid = ef_le16(&sb->rootnid_2b);
	if ((incompat & EROFS_INCOMPAT_48BIT) && ef_le64(&sb->rootnid_8b)) {
		fs->root_nid = ef_le64(&sb->rootnid_8b);
		fs->blocks |= (uint64_t)ef_le16(&sb->rootnid_2b) << 32;
	}
	if (incompat & EROFS_INCOMPAT_COMPR_CFGS) {
		fs->available_compr_algs = ef_le16(&sb->u1);
		if (fs->available_compr_algs & ~((1u << Z_EROFS_COMPRESSION_MAX) - 1)) {
			ef_corrupt(fs, SB_NID, "unknown compression algorithms %#x",
				   fs->available_compr_algs);
			return -EOPNOTSUPP;
		}
		rc = load_compr_cfgs(fs);
		if (rc)
			return rc;
	} else {
		/*
		 * An LZ4-only image (0 = the default distance of 64 KiB).  As
		 * the kernel (z_erofs_parse_cfgs()), take LZ4 as available
		 * whatever 0padding and the distance say: mkfs.erofs --zD
		 * without -z writes neither, yet compresses directories and
		 * packs data in fragments.
		 */
		fs->cfg.lz4_max_distance = ef_le16(&sb->u1);
		fs->available_compr_algs = 1u << Z_EROFS_COMPRESSION_LZ4;
	}
	fs->xattr_filter = (fs->feature_compat & EROFS_COMPAT_XATTR_FILTER) &&
			   !sb->xattr_filter_reserved;
	/* as the kernel: the table is read whenever the count is non-zero */
	fs->xattr_prefix_count = sb->xattr_prefix_count;
	fs->xattr_prefix_start = ef_le32(&sb->xattr_prefix_start);
	fs->ishare_prefix_id = -1;
	if (fs->feature_compat & EROFS_COMPAT_ISHARE_XATTRS) {
		if (sb->ishare_xattr_prefix_id >= fs->xattr_prefix_count)
			return ef_corrupt(fs, SB_NID, "fingerprint prefix %u of %u",
					  sb->ishare_xattr_prefix_id, fs->xattr_prefix_count);
		fs->ishare_prefix_id = sb->ishare_xattr_prefix_id;
	}
	if (incompat & EROFS_INCOMPAT_FRAGMENTS)
		fs->packed_nid = ef_le64(&sb->packed_nid);
	if (fs->packed_nid & EROFS_NID_METABOX_BIT)
		return ef_corrupt(fs, SB_NID, "packed inode in the metabox");
	if (incompat & EROFS_INCOMPAT_METABOX) {
		if (fs->sb_size <= offsetof(struct erofs_super_block, metabox_nid))
			return ef_corrupt(fs, SB_NID, "metabox without superblock extension");
		fs->metabox_nid = ef_le64(&sb->metabox_nid);
		if (fs->metabox_nid & EROFS_NID_METABOX_BIT)
			return ef_corrupt(fs, SB_NID, "metabox inode inside itself");
	}
	return load_devices(fs, dev_sizes, ndev_sizes, ef_le16(&sb->extra_devices),
			    ef_le16(&sb->devt_slotoff));
}

int ef_fs_open(struct ef_fs **out, const struct ef_io *io, const uint64_t *dev_sizes,
	       unsigned ndev_sizes)
{
	struct erofs_super_block sb;
	struct ef_inode root;
	struct ef_fs *fs;
	int rc;

	if (!ndev_sizes || ndev_sizes > EF_MAX_DEVICES)
		return -EINVAL;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	static _Atomic uint64_t next_id = 1;

	fs->io = *io;
	fs->id = next_id++;
	fs->ishare_prefix_id = -1;
	/* published at once: the I/O callbacks may need it while we open */
	*out = fs;
	fs->devices = calloc(ndev_sizes, sizeof(*fs->devices));
	if (!fs->devices) {
		free(fs);
		return -ENOMEM;
	}
	fs->devices[0].size = dev_sizes[0];
	if (dev_sizes[0] < EROFS_SUPER_OFFSET + sizeof(sb)) {
		/*
		 * Too short for a superblock: a cut EROFS image if the magic
		 * is there, else not EROFS at all (ESHARE_ENOTEROFS).
		 */
		uint8_t magic[4];

		rc = -EMEDIUMTYPE;
		if (dev_sizes[0] >= EROFS_SUPER_OFFSET + sizeof(magic)) {
			rc = io->read(io->ctx, 0, magic, sizeof(magic), EROFS_SUPER_OFFSET);
			if (!rc)
				rc = ef_le32(magic) == EROFS_SUPER_MAGIC ? -EFSCORRUPTED :
									   -EMEDIUMTYPE;
		}
		goto fail;
	}
	rc = io->read(io->ctx, 0, &sb, sizeof(sb), EROFS_SUPER_OFFSET);
	if (rc)
		goto fail;
	rc = parse_sb(fs, &sb, dev_sizes, ndev_sizes);
	if (rc)
		goto fail;
	fs->devices[0].blocks = fs->blocks;
	if (fs->packed_nid) {
		rc = load_inode(fs, fs->packed_nid, &fs->packed, EF_INTERNAL_PACKED);
		if (rc)
			goto fail;
	}
	if (fs->metabox_nid) {
		rc = load_inode(fs, fs->metabox_nid, &fs->metabox, EF_INTERNAL_METABOX);
		if (rc)
			goto fail;
	}
	if (fs->xattr_prefix_count) {
		rc = ef_load_prefixes(fs);
		if (rc)
			goto fail;
	}
	rc = ef_iget(fs, fs->root_nid, &root);
	if (rc)
		goto fail;
	if ((root.mode & 0170000) != 0040000) {
		rc = ef_corrupt(fs, fs->root_nid, "root inode is not a directory");
		goto fail;
	}
	return 0;
fail:
	*out = NULL;
	ef_fs_close(fs);
	return rc;
}

void ef_fs_close(struct ef_fs *fs)
{
	if (!fs)
		return;
	if (fs->prefixes) {
		for (unsigned i = 0; i < fs->xattr_prefix_count; i++)
			free(fs->prefixes[i].infix);
		free(fs->prefixes);
	}
	free(fs->packed);
	free(fs->metabox);
	free(fs->devices);
	free(fs);
}

static const struct {
	bool incompat;
	uint32_t bit;
	const char *name;
} feature_names[] = {
	{ false, EROFS_COMPAT_SB_CHKSUM, "sb_csum" },
	{ false, EROFS_COMPAT_MTIME, "mtime" },
	{ false, EROFS_COMPAT_XATTR_FILTER, "xattr_filter" },
	{ false, EROFS_COMPAT_SHARED_EA_IN_METABOX, "shared_ea_in_metabox" },
	{ false, EROFS_COMPAT_PLAIN_XATTR_PFX, "plain_xattr_pfx" },
	{ false, EROFS_COMPAT_ISHARE_XATTRS, "ishare_xattrs" },
	{ true, EROFS_INCOMPAT_LZ4_0PADDING, "0padding" },
	{ true, EROFS_INCOMPAT_COMPR_CFGS, "compr_cfgs" },
	{ true, EROFS_INCOMPAT_CHUNKED_FILE, "chunked_file" },
	{ true, EROFS_INCOMPAT_DEVICE_TABLE, "device_table" },
	{ true, EROFS_INCOMPAT_ZTAILPACKING, "ztailpacking" },
	{ true, EROFS_INCOMPAT_FRAGMENTS, "fragments" },
	{ true, EROFS_INCOMPAT_XATTR_PREFIXES, "xattr_prefixes" },
	{ true, EROFS_INCOMPAT_48BIT, "48bit" },
	{ true, EROFS_INCOMPAT_METABOX, "metabox" },
};

size_t ef_feature_names(const struct ef_fs *fs, char *buf, size_t len)
{
	size_t n = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++) {
		uint32_t word = feature_names[i].incompat ? fs->feature_incompat : fs->feature_compat;
		int w;

		if (!(word & feature_names[i].bit))
			continue;
		w = snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0, "%s%s", n ? " " : "",
			     feature_names[i].name);
		n += (size_t)w;
	}
	return n;
}
