/* SPDX-License-Identifier: MIT */
/*
 * The EROFS on-disk format, as structures pinned by static assertions.
 * Every integer is little-endian; use the le*() readers on these fields.
 */
#ifndef EF_ONDISK_H
#define EF_ONDISK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define EROFS_SUPER_MAGIC 0xE0F5E1E2u
#define EROFS_SUPER_OFFSET 1024u
#define EROFS_ISLOTBITS 5
#define EROFS_SLOTSIZE 32u
#define EROFS_NULL_ADDR_32 0xFFFFFFFFull
#define EROFS_NULL_ADDR_48 0xFFFFFFFFFFFFull
#define EROFS_NAME_LEN 255u
#define EROFS_NID_METABOX_BIT (1ull << 63)

#define EROFS_COMPAT_SB_CHKSUM 0x01u
#define EROFS_COMPAT_MTIME 0x02u
#define EROFS_COMPAT_XATTR_FILTER 0x04u
#define EROFS_COMPAT_SHARED_EA_IN_METABOX 0x08u
#define EROFS_COMPAT_PLAIN_XATTR_PFX 0x10u
#define EROFS_COMPAT_ISHARE_XATTRS 0x20u

#define EROFS_INCOMPAT_LZ4_0PADDING 0x001u
#define EROFS_INCOMPAT_COMPR_CFGS 0x002u
#define EROFS_INCOMPAT_BIG_PCLUSTER 0x002u
#define EROFS_INCOMPAT_CHUNKED_FILE 0x004u
#define EROFS_INCOMPAT_DEVICE_TABLE 0x008u
#define EROFS_INCOMPAT_COMPR_HEAD2 0x008u
#define EROFS_INCOMPAT_ZTAILPACKING 0x010u
#define EROFS_INCOMPAT_FRAGMENTS 0x020u
#define EROFS_INCOMPAT_DEDUPE 0x020u
#define EROFS_INCOMPAT_XATTR_PREFIXES 0x040u
#define EROFS_INCOMPAT_48BIT 0x080u
#define EROFS_INCOMPAT_METABOX 0x100u
#define EROFS_INCOMPAT_ALL 0x1FFu

struct erofs_super_block {
	uint32_t magic;
	uint32_t checksum;
	uint32_t feature_compat;
	uint8_t blkszbits;
	uint8_t sb_extslots;
	uint16_t rootnid_2b; /* also blocks_hi with 48BIT */
	uint64_t inos;
	uint64_t epoch;
	uint32_t fixed_nsec;
	uint32_t blocks_lo;
	uint32_t meta_blkaddr;
	uint32_t xattr_blkaddr;
	uint8_t uuid[16];
	uint8_t volume_name[16];
	uint32_t feature_incompat;
	uint16_t u1; /* available_compr_algs or lz4_max_distance */
	uint16_t extra_devices;
	uint16_t devt_slotoff;
	uint8_t dirblkbits;
	uint8_t xattr_prefix_count;
	uint32_t xattr_prefix_start;
	uint64_t packed_nid;
	uint8_t xattr_filter_reserved;
	uint8_t ishare_xattr_prefix_id;
	uint8_t reserved[2];
	uint32_t build_time;
	uint64_t rootnid_8b;
	uint64_t reserved2;
	uint64_t metabox_nid;
	uint64_t reserved3;
} __attribute__((packed));
_Static_assert(sizeof(struct erofs_super_block) == 144, "superblock size");
_Static_assert(offsetof(struct erofs_super_block, ishare_xattr_prefix_id) == 105, "ishare id");
_Static_assert(offsetof(struct erofs_super_block, metabox_nid) == 128, "metabox nid");

/* i_format */
#define EROFS_I_VERSION_MASK 0x1u
#define EROFS_I_DATALAYOUT_SHIFT 1
#define EROFS_I_DATALAYOUT_MASK 0x7u
#define EROFS_I_NLINK_1_BIT 0x10u
#define EROFS_I_DOT_OMITTED_BIT 0x10u
#define EROFS_I_ALL 0x1Fu

enum {
	EROFS_INODE_FLAT_PLAIN = 0,
	EROFS_INODE_COMPRESSED_FULL = 1,
	EROFS_INODE_FLAT_INLINE = 2,
	EROFS_INODE_COMPRESSED_COMPACT = 3,
	EROFS_INODE_CHUNK_BASED = 4,
	EROFS_INODE_DATALAYOUT_MAX
};

struct erofs_inode_compact {
	uint16_t i_format;
	uint16_t i_xattr_icount;
	uint16_t i_mode;
	uint16_t i_nb;
	uint32_t i_size;
	uint32_t i_mtime;
	uint32_t i_u;
	uint32_t i_ino;
	uint16_t i_uid;
	uint16_t i_gid;
	uint32_t i_reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct erofs_inode_compact) == 32, "compact inode");

struct erofs_inode_extended {
	uint16_t i_format;
	uint16_t i_xattr_icount;
	uint16_t i_mode;
	uint16_t i_nb;
	uint64_t i_size;
	uint32_t i_u;
	uint32_t i_ino;
	uint32_t i_uid;
	uint32_t i_gid;
	uint64_t i_mtime;
	uint32_t i_mtime_nsec;
	uint32_t i_nlink;
	uint8_t i_reserved2[16];
} __attribute__((packed));
_Static_assert(sizeof(struct erofs_inode_extended) == 64, "extended inode");

/* chunk format (i_u low 16 bits of a CHUNK_BASED inode) */
#define EROFS_CHUNK_FORMAT_BLKBITS_MASK 0x1Fu
#define EROFS_CHUNK_FORMAT_INDEXES 0x20u
#define EROFS_CHUNK_FORMAT_48BIT 0x40u
#define EROFS_CHUNK_FORMAT_ALL 0x7Fu

struct erofs_inode_chunk_index {
	uint16_t startblk_hi;
	uint16_t device_id;
	uint32_t startblk_lo;
} __attribute__((packed));
_Static_assert(sizeof(struct erofs_inode_chunk_index) == 8, "chunk index");

struct erofs_deviceslot {
	uint8_t tag[64];
	uint32_t blocks_lo;
	uint32_t uniaddr_lo;
	uint16_t blocks_hi;
	uint16_t uniaddr_hi;
	uint8_t reserved[52];
} __attribute__((packed));
_Static_assert(sizeof(struct erofs_deviceslot) == 128, "device slot");

struct erofs_dirent {
	uint64_t nid;
	uint16_t nameoff;
	uint8_t file_type;
	uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct erofs_dirent) == 12, "dirent");

enum {
	EROFS_FT_UNKNOWN, EROFS_FT_REG_FILE, EROFS_FT_DIR, EROFS_FT_CHRDEV,
	EROFS_FT_BLKDEV, EROFS_FT_FIFO, EROFS_FT_SOCK, EROFS_FT_SYMLINK, EROFS_FT_MAX
};

struct erofs_xattr_ibody_header {
	uint32_t h_name_filter;
	uint8_t h_shared_count;
	uint8_t h_reserved2[7];
} __attribute__((packed));
_Static_assert(sizeof(struct erofs_xattr_ibody_header) == 12, "xattr header");

struct erofs_xattr_entry {
	uint8_t e_name_len;
	uint8_t e_name_index;
	uint16_t e_value_size;
} __attribute__((packed));
_Static_assert(sizeof(struct erofs_xattr_entry) == 4, "xattr entry");

#define EROFS_XATTR_LONG_PREFIX 0x80u
#define EROFS_XATTR_LONG_PREFIX_MASK 0x7Fu
#define EROFS_XATTR_FILTER_BITS 32u
#define EROFS_XATTR_FILTER_SEED 0x25BBE08Fu

enum {
	EROFS_XATTR_INDEX_USER = 1,
	EROFS_XATTR_INDEX_POSIX_ACL_ACCESS = 2,
	EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT = 3,
	EROFS_XATTR_INDEX_TRUSTED = 4,
	EROFS_XATTR_INDEX_LUSTRE = 5,
	EROFS_XATTR_INDEX_SECURITY = 6,
};

/* compression map header (8 bytes) */
struct z_erofs_map_header {
	uint32_t h_fragmentoff; /* or h_reserved1 + h_idata_size, or h_extents_lo */
	uint16_t h_advise;
	uint8_t h_algorithmtype;
	uint8_t h_clusterbits;
} __attribute__((packed));
_Static_assert(sizeof(struct z_erofs_map_header) == 8, "map header");

#define Z_EROFS_ADVISE_COMPACTED_2B 0x0001u
#define Z_EROFS_ADVISE_EXTENTS 0x0001u
#define Z_EROFS_ADVISE_BIG_PCLUSTER_1 0x0002u
#define Z_EROFS_ADVISE_BIG_PCLUSTER_2 0x0004u
#define Z_EROFS_ADVISE_INLINE_PCLUSTER 0x0008u
#define Z_EROFS_ADVISE_INTERLACED_PCLUSTER 0x0010u
#define Z_EROFS_ADVISE_FRAGMENT_PCLUSTER 0x0020u
#define Z_EROFS_FRAGMENT_INODE_BIT 7

enum {
	Z_EROFS_COMPRESSION_LZ4 = 0,
	Z_EROFS_COMPRESSION_LZMA = 1,
	Z_EROFS_COMPRESSION_DEFLATE = 2,
	Z_EROFS_COMPRESSION_ZSTD = 3,
	Z_EROFS_COMPRESSION_MAX
};

/* little-endian readers of unaligned bytes */
static inline uint16_t ef_le16(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] | (b[1] << 8));
}
static inline uint32_t ef_le32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
	       ((uint32_t)b[3] << 24);
}
static inline uint64_t ef_le64(const void *p)
{
	return (uint64_t)ef_le32(p) | ((uint64_t)ef_le32((const uint8_t *)p + 4) << 32);
}

#endif
