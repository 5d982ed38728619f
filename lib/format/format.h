/* SPDX-License-Identifier: MIT */
/*
 * lib/format: the EROFS on-disk format, read-only and stateless beyond one
 * image.  It turns (image, inode, logical range) into physical extents and
 * decodes them; it knows nothing of domains or caching.  All raw I/O goes
 * through struct ef_io, so the layer above can put a cache under it.
 *
 * Every function returns 0 or a negative errno; -EFSCORRUPTED marks a bad
 * image.  Nothing here trusts a size read from disk before checking it.
 */
#ifndef EF_FORMAT_H
#define EF_FORMAT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ondisk.h"

#ifndef EUCLEAN
#define EUCLEAN 117
#endif
#define EFSCORRUPTED EUCLEAN

#define EF_MAX_DEVICES 256u
/* Largest decoded extent and pcluster this reader accepts. */
#define EF_MAX_LLEN (12u << 20)
#define EF_MAX_PLEN (1u << 20)

struct ef_fs;
struct ef_inode;

/* Raw I/O supplied by the caller of ef_fs_open(). */
struct ef_io {
	void *ctx;
	/*
	 * Exactly @len bytes at device-relative @off of device @dev (0 =
	 * primary).  Returns 0, -EIO when the device is too short, or the
	 * backend's error.
	 */
	int (*read)(void *ctx, unsigned dev, void *buf, size_t len, uint64_t off);
	/* Metadata bytes of the primary device; may be cached. NULL = read. */
	int (*read_meta)(void *ctx, void *buf, size_t len, uint64_t off);
	/*
	 * Data of the packed and metabox inodes, which are read very often in
	 * small pieces; may be cached.  NULL = ef_read_data_uncached().
	 */
	int (*read_internal)(void *ctx, struct ef_inode *ino, void *buf, size_t len, uint64_t off);
	/* Told of each corruption found (nid ~0 for the superblock). */
	void (*report)(void *ctx, uint64_t nid, const char *why);
	/* Counts bytes produced by decompression. May be NULL. */
	void (*count_decompressed)(void *ctx, uint64_t bytes);
};

struct ef_device {
	uint64_t blocks;
	uint64_t uniaddr; /* first block in the unified address space, 0 = none */
	uint64_t size;    /* bytes the backend holds */
};

struct ef_prefix {
	uint8_t base_index;
	uint16_t infix_len;
	uint8_t *infix;
};

struct ef_compr_cfg {
	uint32_t lz4_max_distance;
	uint32_t lz4_max_pclusterblks;
	uint32_t lzma_dict_size;
	uint8_t deflate_windowbits;
	uint8_t zstd_windowlog;
};

struct ef_fs {
	struct ef_io io;
	uint64_t id; /* unique for the process's lifetime (never reused) */
	uint8_t blkszbits;
	uint32_t blksz;
	uint32_t sb_size;
	uint32_t feature_compat;
	uint32_t feature_incompat;
	uint32_t checksum;
	uint64_t root_nid;
	uint64_t packed_nid;  /* 0 = none */
	uint64_t metabox_nid; /* 0 = none */
	uint64_t meta_blkaddr;
	uint64_t xattr_blkaddr;
	uint64_t inos;
	uint64_t blocks;
	int64_t epoch;
	uint32_t fixed_nsec;
	uint32_t build_time;
	uint8_t uuid[16];
	char volume_name[17];
	uint16_t available_compr_algs; /* bit n = algorithm n */
	struct ef_compr_cfg cfg;
	bool xattr_filter;    /* bloom filters may be trusted */
	int ishare_prefix_id; /* -1 = none */
	unsigned xattr_prefix_count;
	uint32_t xattr_prefix_start; /* byte offset = value * 4 */
	struct ef_prefix *prefixes;
	unsigned ndevices; /* extra devices */
	struct ef_device *devices; /* [0] primary, [1..ndevices] extra */
	struct ef_inode *packed;   /* loaded at open when present */
	struct ef_inode *metabox;
};

/* Per-inode state of compressed files; zmap.c owns its meaning. */
struct ef_zinfo {
	uint16_t advise;
	uint8_t algorithmtype[2];
	uint8_t lclusterbits;
	bool whole_fragment;
	uint64_t fragmentoff;
	uint16_t idata_size;
	uint64_t extents;     /* record count, encoded extents with recsz >= 16 */
	uint8_t recsz;        /* 0 = lcluster indexes */
	uint64_t tailextent_headlcn;
	uint64_t idata_pos;   /* position of the inline pcluster (meta space) */
	bool tail_known;
};

struct ef_inode {
	uint64_t nid;
	uint64_t ino; /* what the kernel reports */
	uint64_t iloc; /* byte position of the inode in its meta space */
	bool in_metabox;
	uint8_t layout;
	bool extended;
	bool dot_omitted;
	uint16_t format;
	uint16_t mode;
	uint32_t nlink;
	uint32_t uid, gid;
	uint32_t rdev;
	uint64_t size;
	int64_t mtime;
	uint32_t mtime_nsec;
	uint32_t inode_isize;
	uint32_t xattr_isize;
	uint16_t xattr_icount;
	uint64_t startblk;  /* flat layouts; EROFS_NULL_ADDR_48 when none */
	uint64_t zblocks;   /* compressed layouts: compressed block count */
	uint16_t chunkformat;
	uint8_t chunkbits;
	uint8_t internal; /* EF_INTERNAL_* for the packed and metabox inodes */
	struct ef_zinfo z;
};

enum { EF_INTERNAL_NONE, EF_INTERNAL_PACKED, EF_INTERNAL_METABOX };

/* What one logical extent maps to. */
enum {
	EF_MAP_MAPPED = 0x01,   /* else a hole: zeros */
	EF_MAP_META = 0x02,     /* pa is a position in the inode's meta space */
	EF_MAP_ENCODED = 0x04,  /* compressed or shifted/interlaced: decode */
	EF_MAP_FULL = 0x08,     /* llen is the whole decoded length of the pcluster */
	EF_MAP_FRAGMENT = 0x10, /* bytes are in the packed inode at pa + (pos - la) */
	EF_MAP_PARTIAL = 0x20,  /* the pcluster decodes to more than this extent */
};
enum {
	EF_ALG_SHIFTED = Z_EROFS_COMPRESSION_MAX,
	EF_ALG_INTERLACED,
	EF_ALG_NONE, /* flat data */
};

struct ef_map {
	uint64_t la, llen; /* logical extent */
	uint64_t pa, plen; /* physical bytes (unified space unless dev != 0) */
	unsigned dev;      /* 0 = unified address space; N = device N, relative */
	unsigned flags;
	unsigned alg;      /* Z_EROFS_COMPRESSION_* or EF_ALG_* */
};

/* super.c: *out is set as soon as the fs exists (the I/O callbacks may use
 * it during the open) and reset to NULL on failure. */
int ef_fs_open(struct ef_fs **out, const struct ef_io *io, const uint64_t *dev_sizes,
	       unsigned ndev_sizes);
void ef_fs_close(struct ef_fs *fs);
size_t ef_feature_names(const struct ef_fs *fs, char *buf, size_t len);
uint32_t ef_crc32c(uint32_t crc, const void *data, size_t len);
/* Report a corruption and return -EFSCORRUPTED. */
int ef_corrupt(const struct ef_fs *fs, uint64_t nid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * io.c: bounded raw reads.  ef_read_metadata(): metadata bytes at position
 * @pos of a meta space (the primary device through io.read_meta, or the
 * metabox inode's data through ef_read_data_via_io()).
 * ef_read_device_raw(): raw bytes at physical address @pa (unified address
 * space when @dev is 0, else relative to device @dev) through io.read.
 */
int ef_read_metadata(const struct ef_fs *fs, bool in_metabox, uint64_t pos, void *buf, size_t len);
int ef_read_device_raw(const struct ef_fs *fs, unsigned dev, uint64_t pa, void *buf, size_t len);
/* Whether [pa, pa+len) of device @dev lies on the primary device. */
bool ef_phys_is_primary(const struct ef_fs *fs, unsigned dev, uint64_t pa, size_t len);

/* inode.c */
int ef_iget(struct ef_fs *fs, uint64_t nid, struct ef_inode *out);
uint64_t ef_nid_to_ino(const struct ef_fs *fs, uint64_t nid);
int ef_ino_to_nid(const struct ef_fs *fs, uint64_t ino, uint64_t *nid);
bool ef_inode_is_compressed(const struct ef_inode *ino);
uint64_t ef_inode_blocks(const struct ef_fs *fs, const struct ef_inode *ino);
/* Position (in the inode's meta space) of what follows inode + xattrs. */
uint64_t ef_inode_datapos(const struct ef_inode *ino);

/* map.c: flat, inline and chunk layouts; compressed ones go to ef_zmap() */
int ef_map(struct ef_fs *fs, struct ef_inode *ino, uint64_t pos, struct ef_map *map);
/*
 * An inode's data, mapped and decoded here with no cache: @len bytes at
 * @off of any inode.  Holes read as zeros; reading past i_size is
 * -EFSCORRUPTED.
 */
int ef_read_data_uncached(struct ef_fs *fs, struct ef_inode *ino, void *buf, size_t len,
			  uint64_t off);
/*
 * An inode's data through the I/O boundary: io.read_internal (which may
 * cache) for the packed and metabox inodes, ef_read_data_uncached() for
 * any other.
 */
int ef_read_data_via_io(struct ef_fs *fs, struct ef_inode *ino, void *buf, size_t len,
			uint64_t off);

/* zmap.c: compressed layouts */
int ef_zinfo_init(struct ef_fs *fs, struct ef_inode *ino);
int ef_zmap(struct ef_fs *fs, struct ef_inode *ino, uint64_t pos, struct ef_map *map);

/* decompress.c */
/*
 * Produce the decoded bytes of extent @map (as ef_map() gave it) into
 * @out, which holds @map->llen bytes: reads the raw pcluster itself
 * (fragments from the packed inode, inline pclusters from meta space).
 * @scratch is a per-thread buffer that may be grown (realloc) to hold the
 * input and any over-long decode.
 */
struct ef_scratch {
	uint8_t *in;
	size_t in_cap;
	uint8_t *tmp;
	size_t tmp_cap;
	void *codec[Z_EROFS_COMPRESSION_MAX]; /* reusable decoder states */
	/* the caller's output buffer (decoders never touch it) */
	uint8_t *out;
	size_t out_cap;
	/* raw read-ahead of sequential pclusters (decompress.c) */
	uint8_t *win;
	uint64_t win_fs, win_start, win_len; /* what the window holds */
	uint64_t seq_fs, seq_next;           /* where this thread's last read ended */
};
int ef_decode_extent(struct ef_fs *fs, struct ef_inode *ino, const struct ef_map *map,
		     void *out, struct ef_scratch *scratch);
void ef_scratch_free(struct ef_scratch *scratch);
/* map.c: a per-thread scratch (a small stack, for nested decodes); NULL
 * when nested too deeply or out of memory.  Put back in LIFO order. */
struct ef_scratch *ef_scratch_get(void);
void ef_scratch_put(struct ef_scratch *scratch);
/* Grow *buf (capacity *cap) to at least @need bytes: 0 or -ENOMEM. */
int ef_scratch_reserve(uint8_t **buf, size_t *cap, size_t need);
/* Whether this build decodes algorithm @alg, and its name. */
bool ef_alg_supported(unsigned alg);
const char *ef_alg_name(unsigned alg);

/* dir.c */
typedef int (*ef_dirent_fn)(void *user, const char *name, size_t namelen, uint64_t nid,
			    unsigned ftype, uint64_t next);
int ef_readdir(struct ef_fs *fs, struct ef_inode *dir, uint64_t *cookie, ef_dirent_fn fn,
	       void *user);
int ef_lookup(struct ef_fs *fs, struct ef_inode *dir, const char *name, size_t namelen,
	      uint64_t *nid);

/* xattr.c */
ssize_t ef_listxattr(struct ef_fs *fs, struct ef_inode *ino, char *buf, size_t len);
ssize_t ef_getxattr(struct ef_fs *fs, struct ef_inode *ino, const char *name, void *buf,
		    size_t len);
/* The ishare fingerprint xattr's value (up to @len bytes); -ENODATA if none. */
ssize_t ef_get_fingerprint(struct ef_fs *fs, struct ef_inode *ino, void *buf, size_t len);
int ef_load_prefixes(struct ef_fs *fs);

/* symlink: the kernel's readlink(2) never gives more than PAGE_SIZE - 1 bytes */
#define EF_SYMLINK_MAX 4095u
ssize_t ef_readlink(struct ef_fs *fs, struct ef_inode *ino, char *buf, size_t len);

#endif
