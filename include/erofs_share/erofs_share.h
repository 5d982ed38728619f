/* SPDX-License-Identifier: MIT */
/**
 * @file erofs_share.h
 * libsharecache: read EROFS images in a domain whose identical files share
 * one page cache.
 *
 * Conventions (every function):
 * - Returns 0 (or a byte count) on success, a negative errno on failure.
 *   ESHARE_EFSCORRUPTED (-EUCLEAN) means the image is bad;
 *   ESHARE_ENOTEROFS (-EMEDIUMTYPE) that the source is not EROFS at all;
 *   -EOPNOTSUPP an on-disk feature or compression algorithm this build does
 *   not read; -EINVAL a bad argument or option.
 * - Out-parameters come first and are written only on success.
 * - Option structs start with their size; NULL means defaults.  Inputs are
 *   copied during the call.
 * - Threading: every function may be called from any thread, concurrently,
 *   on the same or different handles, except that a handle must not be
 *   released while another thread still uses it.
 * - Lifetime: an inode holds its image, an image its domain.  Detaching an
 *   image with inodes still open defers its teardown to the last
 *   eshare_inode_put().  eshare_domain_close() refuses (-EBUSY) while
 *   images are attached.
 */
#ifndef ESHARE_EROFS_SHARE_H
#define ESHARE_EROFS_SHARE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <erofs_share/api.h>
#include <erofs_share/backend.h>
#include <erofs_share/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The errno of a corrupt image (the kernel's EFSCORRUPTED). */
#define ESHARE_EFSCORRUPTED 117 /* EUCLEAN on Linux */
/**
 * The errno of a source that is not an EROFS image at all: no EROFS magic
 * where the superblock goes, or too short to hold one.
 */
#define ESHARE_ENOTEROFS 124 /* EMEDIUMTYPE on Linux */

typedef struct eshare_domain eshare_domain;
typedef struct eshare_image eshare_image;
typedef struct eshare_inode eshare_inode;

/* ------------------------------------------------------------------ */
/* Versions and errors                                                  */

/** ESHARE_VERSION_NUMBER of the library actually loaded (no parameter). */
ESHARE_API unsigned eshare_version_number(void);
/** "MAJOR.MINOR.PATCH" of the library actually loaded (no parameter). */
ESHARE_API const char *eshare_version(void);
/**
 * A constant description of an errno, including the library's meaning of
 * ESHARE_EFSCORRUPTED. Never NULL; thread-safe.
 * @param err an errno, negative (as the library returns it) or positive;
 *            an unknown one gives "unknown error".
 */
ESHARE_API const char *eshare_strerror(int err);

/* ------------------------------------------------------------------ */
/* Domains                                                              */

/**
 * How files of identical content share one cached copy.  Zero is VERIFY,
 * the default: options left zeroed (ESHARE_DOMAIN_OPTS_INIT) share safely.
 */
typedef enum eshare_share_policy {
	/** A file joins only after its own bytes hashed to its fingerprint. */
	ESHARE_SHARE_VERIFY = 0,
	/** Nothing is shared: every file caches its own pages. */
	ESHARE_SHARE_OFF = 1,
	/**
	 * On-disk fingerprints are believed (the kernel's inode_share): only
	 * for a domain whose images are all trusted alike.
	 */
	ESHARE_SHARE_TRUST = 2,
	/** Every fingerprint is computed; on-disk ones are verified. */
	ESHARE_SHARE_COMPUTE = 3,
	/** The default policy, what a zeroed field means: VERIFY. */
	ESHARE_SHARE_DEFAULT = ESHARE_SHARE_VERIFY,
} eshare_share_policy;

/** Syslog-like levels given to the log callback. */
#define ESHARE_LOG_ERR 3
#define ESHARE_LOG_WARNING 4
#define ESHARE_LOG_INFO 6
#define ESHARE_LOG_DEBUG 7

/**
 * Receives the domain's reports (corruption found in an image, verify
 * failures). May be called from any thread, concurrently; @p msg is valid
 * during the call only.
 */
typedef void (*eshare_log_fn)(void *user, int level, const char *msg);

struct eshare_domain_opts {
	/** sizeof(struct eshare_domain_opts). */
	uint32_t size;
	/** Reserved, must be 0. */
	uint32_t flags;
	/** Page-cache budget in bytes; 0 = 256 MiB. */
	uint64_t cache_bytes;
	/** An eshare_share_policy; 0 = ESHARE_SHARE_VERIFY (the default). */
	uint32_t policy;
	/** Reserved, must be 0. */
	uint32_t reserved;
	/** Optional name, used in messages only (copied). */
	const char *id;
	/** Log callback, NULL for silence. */
	eshare_log_fn log;
	void *log_user;
};
#define ESHARE_DOMAIN_OPTS_INIT { .size = sizeof(struct eshare_domain_opts) }

/**
 * Create a domain.
 * @param out  receives the new domain (on success only); not NULL.
 * @param opts options (copied during the call); NULL = defaults.
 * @return 0; -EINVAL for a NULL @p out, a bad policy or non-zero reserved fields;
 *         -E2BIG for a larger options struct with a non-zero unknown tail;
 *         -ENOMEM.
 */
ESHARE_API int eshare_domain_create(eshare_domain **out, const struct eshare_domain_opts *opts);

/**
 * Destroy a domain. NULL is a no-op.
 * @param d the domain; no other thread may use it during or after the call
 *          (unless it returns -EBUSY).
 * @return 0; -EBUSY while images are attached (nothing is changed).
 */
ESHARE_API int eshare_domain_close(eshare_domain *d);

/** Counters of a domain or an image. Read without stopping readers. */
struct eshare_stats {
	/** sizeof(struct eshare_stats) as the caller knows it. */
	uint32_t size;
	uint32_t reserved;
	/** Bytes returned by eshare_pread(). */
	uint64_t logical_bytes;
	/** Cached pages holding regular files' contents, and their bytes. */
	uint64_t cached_data_pages;
	uint64_t cached_data_bytes;
	/** Cached pages holding metadata, and their bytes. */
	uint64_t cached_meta_pages;
	uint64_t cached_meta_bytes;
	/** Shared objects alive, and the (image, inode) members backing them. */
	uint64_t shared_objects;
	uint64_t shared_members;
	uint64_t hits;
	uint64_t misses;
	/** Fills run (one fill may cache several pages). */
	uint64_t fills;
	uint64_t evictions;
	uint64_t backend_bytes_read;
	uint64_t decompressed_bytes;
	uint64_t hashed_bytes;
	uint64_t verify_failures;
	/** Images attached (domain) or 1 (image). */
	uint64_t images;
	/**
	 * Tails: the last page of a file whose size is not a multiple of
	 * 4 KiB (a small file is nothing but one), held packed instead of as
	 * a page.  cached_tails of them are held, of cached_tail_bytes bytes
	 * in all, in cached_tail_pages pages (counted in cached_data_pages
	 * and cached_data_bytes).  Whole pages' bytes plus cached_tail_bytes
	 * is the data the cache holds.  Domain only; 0 in image counters.
	 */
	uint64_t cached_tails;
	uint64_t cached_tail_bytes;
	uint64_t cached_tail_pages;
	/**
	 * Tail bytes held outside the budget while they wait to fill a page
	 * (a few pages at most); cached_data_bytes plus these is the memory
	 * file data takes.
	 */
	uint64_t tail_unpaged_bytes;
};
#define ESHARE_STATS_INIT { .size = sizeof(struct eshare_stats) }

/**
 * Copy the domain's counters. st->size must be set; min(st->size, ours)
 * bytes are written.
 * @param d  the domain.
 * @param st receives the counters; its size field is the caller's
 *           sizeof(struct eshare_stats) and is left as it is.
 * @return 0; -EINVAL if @p d or @p st is NULL or st->size is smaller than 8.
 */
ESHARE_API int eshare_domain_stats(eshare_domain *d, struct eshare_stats *st);

/* ------------------------------------------------------------------ */
/* Images                                                               */

struct eshare_image_opts {
	/** sizeof(struct eshare_image_opts). */
	uint32_t size;
	/** Reserved, must be 0. */
	uint32_t flags;
	/** Name used in messages (copied); NULL = the backend's name. */
	const char *name;
	/** Extra devices of a multi-device image, in device-table order. */
	eshare_backend *const *devices;
	uint32_t ndevices;
	uint32_t reserved;
};
#define ESHARE_IMAGE_OPTS_INIT { .size = sizeof(struct eshare_image_opts) }

/**
 * Open an EROFS image from @p primary (plus opts->devices) into @p d.
 * On success the image owns every backend given and closes them when it
 * goes away; on failure they stay the caller's.
 * @param out     receives the attached image (on success only).
 * @param d       the domain it joins: its cache and sharing.
 * @param primary the backend of the image's primary device.
 * @param opts    options (copied during the call); NULL = defaults.
 * @return 0;
 *         ESHARE_EFSCORRUPTED (negated) for a bad superblock or root,
 *         including a superblock checksum mismatch (the kernel says
 *         -EBADMSG there);
 *         -EOPNOTSUPP for an unknown incompatible feature or algorithm;
 *         -ENXIO if a device the image needs is missing or too small;
 *         -ESHARE_ENOTEROFS for a source that is not EROFS at all (no
 *         magic, or too short to hold one);
 *         -EINVAL for a NULL @p out, @p d or @p primary, or bad options;
 *         -EIO when metadata lies past the end of the device, or the
 *         backend failed; -ENOMEM.
 */
ESHARE_API int eshare_image_attach(eshare_image **out, eshare_domain *d, eshare_backend *primary,
				   const struct eshare_image_opts *opts);

/**
 * eshare_image_attach() of a file opened by path (extra devices, if any,
 * still come from opts).
 * @param out  receives the attached image (on success only).
 * @param d    the domain it joins.
 * @param path the image file, opened read-only; also the image's name in
 *             messages unless opts->name gives one.
 * @param opts options as for eshare_image_attach(); NULL = defaults.
 * @return as eshare_image_attach(); -ENOENT, -EACCES... from open(2).
 */
ESHARE_API int eshare_image_open_path(eshare_image **out, eshare_domain *d, const char *path,
				      const struct eshare_image_opts *opts);

/**
 * Detach an image from its domain. NULL is a no-op; a second detach of the
 * same image too. Files still open keep the image readable; it goes away
 * with the last of them.
 * @param img the image; not to be used after the call except through
 *            inodes still open.
 */
ESHARE_API void eshare_image_detach(eshare_image *img);

/** What the superblock says. */
struct eshare_image_info {
	uint32_t size;
	uint32_t block_size;
	uint32_t feature_compat;
	uint32_t feature_incompat;
	uint64_t blocks;
	uint64_t inodes;
	uint64_t root_ino;
	int64_t build_time;
	uint32_t build_time_nsec;
	uint16_t extra_devices;
	/** Bit n set: algorithm n (0 LZ4, 1 LZMA, 2 DEFLATE, 3 ZSTD) may be used. */
	uint16_t compr_algs;
	uint8_t uuid[16];
	/** NUL-terminated volume label. */
	char volume_name[17];
	uint8_t reserved[7];
	/** Superblock checksum (when feature_compat has bit 0x1). */
	uint32_t checksum;
	/** Long xattr prefix id of the content fingerprint, or -1. */
	int32_t ishare_prefix_id;
};
#define ESHARE_IMAGE_INFO_INIT { .size = sizeof(struct eshare_image_info) }

/**
 * What the superblock of @p img says.  min(info->size, ours) bytes are
 * written.
 * @param img  the image.
 * @param info receives it; its size field is the caller's
 *             sizeof(struct eshare_image_info) and is left as it is.
 * @return 0; -EINVAL if @p img or @p info is NULL or info->size is smaller
 *         than 8.
 */
ESHARE_API int eshare_image_info(eshare_image *img, struct eshare_image_info *info);

/**
 * Names of the feature bits set in the image, separated by spaces, into
 * @p buf (NUL-terminated, truncated to @p len).
 * @param img the image; NULL gives 0.
 * @param buf receives the names; may be NULL when @p len is 0.
 * @param len bytes @p buf holds, the terminating NUL included.
 * @return the length of the full string (without its NUL).
 */
ESHARE_API size_t eshare_image_features(eshare_image *img, char *buf, size_t len);

/**
 * Counters of one image (per-image share of the domain's), copied as
 * eshare_domain_stats() does.
 * @param img the image.
 * @param st  receives the counters; st->size must be set.
 * @return 0; -EINVAL if @p img or @p st is NULL or st->size is smaller
 *         than 8.
 */
ESHARE_API int eshare_image_stats(eshare_image *img, struct eshare_stats *st);

/* ------------------------------------------------------------------ */
/* Inodes                                                               */

/**
 * The image's root directory.
 * @param out receives a new handle (one reference; eshare_inode_put()).
 * @param img the image.
 * @return 0; -EINVAL for a NULL argument; -EIO; ESHARE_EFSCORRUPTED;
 *         -ENOMEM.
 */
ESHARE_API int eshare_root(eshare_inode **out, eshare_image *img);

/**
 * Look up an absolute or root-relative path ("/a/b", "a/b"); "." and ".."
 * components are resolved by the walk itself, as the kernel's path walk
 * does ("." stays, ".." goes back one directory, the root's ".." is the
 * root), never by the image's own entries; symlinks are not followed.
 * @param out  receives a new handle (one reference; eshare_inode_put()).
 * @param img  the image.
 * @param path NUL-terminated; "" and "/" are the root.
 * @return 0; -EINVAL for a NULL argument; -ENOENT; -ENOTDIR if a non-final component is not a directory;
 *         -ENAMETOOLONG for a component over 255 bytes; -EIO;
 *         ESHARE_EFSCORRUPTED; -ENOMEM.
 */
ESHARE_API int eshare_lookup(eshare_inode **out, eshare_image *img, const char *path);

/**
 * Look up one name (not NUL-terminated, @p namelen bytes) in @p dir, with
 * the kernel's binary search (on a damaged directory holding a name twice
 * it finds the entry the kernel finds).  "." is @p dir itself; ".." is
 * what the image's entry says (as the kernel's NFS-export get_parent).
 * @param out     receives a new handle (one reference; eshare_inode_put()).
 * @param dir     the directory to look in.
 * @param name    the name's bytes; may be NULL when @p namelen is 0.
 * @param namelen the name's length in bytes.
 * @return as eshare_lookup(); -ENOTDIR if @p dir is not a directory;
 *         -EINVAL for a name holding '/'.
 */
ESHARE_API int eshare_lookup_at(eshare_inode **out, eshare_inode *dir, const char *name,
				size_t namelen);

/**
 * Open an inode by the number eshare_stat() or readdir reported.
 * @param out receives a new handle (one reference; eshare_inode_put()).
 * @param img the image the number is of.
 * @param ino the inode number.
 * @return 0; -EINVAL for a NULL argument or a number that cannot be an inode of this image;
 *         ESHARE_EFSCORRUPTED if the slot does not hold a valid inode.
 */
ESHARE_API int eshare_inode_open(eshare_inode **out, eshare_image *img, uint64_t ino);

/**
 * Take one more reference.
 * @param ino the handle; NULL is a no-op.
 * @return @p ino.
 */
ESHARE_API eshare_inode *eshare_inode_get(eshare_inode *ino);
/**
 * Drop a reference; the last one frees the handle (and, after
 * eshare_image_detach(), may free its image).
 * @param ino the handle; NULL is a no-op.
 */
ESHARE_API void eshare_inode_put(eshare_inode *ino);

/**
 * The image an inode belongs to (borrowed: valid while @p ino is).
 * @param ino the handle; NULL gives NULL.
 */
ESHARE_API eshare_image *eshare_inode_image(eshare_inode *ino);

/** File types, as in dirent d_type. */
#define ESHARE_DT_UNKNOWN 0
#define ESHARE_DT_FIFO 1
#define ESHARE_DT_CHR 2
#define ESHARE_DT_DIR 4
#define ESHARE_DT_BLK 6
#define ESHARE_DT_REG 8
#define ESHARE_DT_LNK 10
#define ESHARE_DT_SOCK 12

struct eshare_stat {
	uint32_t size;
	/** File type and permission bits, as st_mode. */
	uint32_t mode;
	/** Stable inode number (what the kernel reports). */
	uint64_t ino;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint32_t rdev_major;
	uint32_t rdev_minor;
	uint32_t blksize;
	uint64_t file_size;
	/** 512-byte units, as the kernel reports. */
	uint64_t blocks;
	/** mtime; atime and ctime equal it on EROFS. */
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	/** EROFS data layout (0..4). */
	uint8_t layout;
	uint8_t reserved[3];
	/** The on-disk nid. */
	uint64_t nid;
};
#define ESHARE_STAT_INIT { .size = sizeof(struct eshare_stat) }

/**
 * The inode's attributes, as lstat(2) on a kernel mount gives them.
 * min(st->size, ours) bytes are written.
 * @param ino the inode.
 * @param st  receives them; its size field is the caller's
 *            sizeof(struct eshare_stat) and is left as it is.
 * @return 0; -EINVAL if @p ino or @p st is NULL or st->size is smaller
 *         than 8.
 */
ESHARE_API int eshare_stat(eshare_inode *ino, struct eshare_stat *st);

/**
 * Read @p len bytes at @p off of a regular file (holes read as zeros).
 * The read is full: it returns exactly min(@p len, file size - @p off)
 * bytes, so fewer than asked only at the end of the file, or a negative
 * errno and then no count at all (never a short read on error).  A
 * @p len above SSIZE_MAX reads SSIZE_MAX rounded down to 4 KiB.
 * Under VERIFY and COMPUTE every byte of a shared file is one its content
 * was proven to hold when the file joined (see the README's "Sharing").
 * @param ino the file.
 * @param buf receives the bytes; may be NULL when @p len is 0.  On error
 *            its contents are unspecified.
 * @param len bytes wanted.
 * @param off byte offset in the file.
 * @return bytes read (0 at or past the end, or for @p len 0); -EISDIR for
 *         a directory; -EINVAL for a NULL @p ino, a NULL @p buf with a
 *         non-zero @p len, or other non-regular files; -EOPNOTSUPP for an algorithm
 *         not built in; -EIO; ESHARE_EFSCORRUPTED; -ESTALE when the image
 *         file changed after it was attached (file backend) and the bytes
 *         are not cached; -ENOMEM.
 */
ESHARE_API ssize_t eshare_pread(eshare_inode *ino, void *buf, size_t len, uint64_t off);

/** eshare_inode_advise(): reads of this handle are as any other (the default). */
#define ESHARE_ADVICE_NORMAL 0u
/**
 * eshare_inode_advise(): this handle reads each byte once (an extraction,
 * a scan, a hash): its data is not cached.  Flat extents go straight into
 * the caller's buffer; a compressed extent is decoded into a small window
 * of the calling thread, which the next reads of the same extent use.  A
 * file that reads through a shared object is read through the cache all
 * the same: what another image may read again is worth keeping.
 */
#define ESHARE_ADVICE_NOREUSE 1u

/**
 * Tell how this handle will be read, as posix_fadvise(2) does for an open
 * file: @p advice is ESHARE_ADVICE_NORMAL or ESHARE_ADVICE_NOREUSE.  It
 * holds for this handle alone (another eshare_lookup() of the same file
 * gives a handle of its own), from the next eshare_pread() on.
 * @param ino    the handle.
 * @param advice ESHARE_ADVICE_NORMAL or ESHARE_ADVICE_NOREUSE.
 * @return 0; -EINVAL for a NULL @p ino or an unknown advice.
 */
ESHARE_API int eshare_inode_advise(eshare_inode *ino, unsigned advice);

/** What the domain knows of a regular file's content (eshare_file_identity()). */
struct eshare_file_identity {
	/** sizeof(struct eshare_file_identity) as the caller knows it. */
	uint32_t size;
	/** ESHARE_IDENTITY_* bits. */
	uint32_t flags;
	/**
	 * The cached object the file reads through now.  Two regular files of
	 * one domain read through one object exactly when their values are
	 * equal; ids are never reused within a domain.  It changes only when
	 * the file joins a shared object or leaves one.
	 */
	uint64_t object;
	/** The file's size in bytes. */
	uint64_t file_size;
	/**
	 * The content fingerprint, "sha256:" and 64 lowercase hex digits,
	 * NUL-terminated; empty when the domain has none (not computed yet, or
	 * an on-disk value of another form).
	 */
	char fingerprint[72];
};
#define ESHARE_FILE_IDENTITY_INIT { .size = sizeof(struct eshare_file_identity) }

/** The file reads through a shared object (its object may have other members). */
#define ESHARE_IDENTITY_SHARED 0x1u
/**
 * The fingerprint is proven: the library hashed the file's own bytes to it
 * (VERIFY, COMPUTE, or a computed fingerprint under any policy).  Under
 * TRUST a shared file's on-disk fingerprint is believed, not proven.
 */
#define ESHARE_IDENTITY_PROVEN 0x2u
/** The fingerprint came from the image (the ishare xattr). */
#define ESHARE_IDENTITY_ONDISK 0x4u

/** eshare_file_identity() flag: hash the file now if its fingerprint is unknown. */
#define ESHARE_IDENTITY_COMPUTE 0x1u

/**
 * Tell what the domain knows of regular file @p ino's content, deciding its
 * sharing now if no read has yet (as the first eshare_pread() would: it may
 * hash the file and same-size files of the domain).  With @p flags
 * ESHARE_IDENTITY_COMPUTE, a file whose fingerprint is not known yet is
 * hashed (read whole) so that id->fingerprint is filled in, under any
 * policy; without it nothing is hashed beyond what the policy needs.
 * id->size must be set; min(id->size, ours) bytes are written, on success
 * only.
 * @param ino   the regular file.
 * @param flags 0 or ESHARE_IDENTITY_COMPUTE.
 * @param id    receives what is known; its size field is the caller's
 *              sizeof(struct eshare_file_identity) and is left as it is.
 * @return 0; -EINVAL for a NULL argument, a non-regular file, unknown @p flags or an
 *         id->size below 8; -EIO, ESHARE_EFSCORRUPTED (reading the file to
 *         hash it); -ENOMEM.
 */
ESHARE_API int eshare_file_identity(eshare_inode *ino, unsigned flags,
				    struct eshare_file_identity *id);

/**
 * Called for each directory entry; @p name is not NUL-terminated and valid
 * during the call only.  @p next is the cookie that resumes after this
 * entry.  Return 0 to go on, anything else to stop (readdir returns it).
 * @param user    eshare_readdir()'s @p user.
 * @param name    the entry's name, @p namelen bytes.
 * @param namelen its length.
 * @param ino     the entry's inode number (for eshare_inode_open()).
 * @param type    an ESHARE_DT_* value, from the entry.
 * @param next    the cookie that resumes after this entry.
 */
typedef int (*eshare_dirent_fn)(void *user, const char *name, size_t namelen, uint64_t ino,
				unsigned type, uint64_t next);

/**
 * List a directory in on-disk order ("." and ".." included), starting at
 * *cookie (0 = the beginning) and updating it as entries are delivered.
 * A name holding '/' (the kernel's getdents refuses it) or not strictly
 * after the name before it (names are sorted; fsck.erofs checks it) is
 * ESHARE_EFSCORRUPTED, after the entries before it were delivered.
 * @param dir    the directory.
 * @param cookie where to start, updated past each entry delivered.
 * @param fn     called for each entry, on the calling thread.
 * @param user   given to @p fn.
 * @return 0 at the end; -EINVAL for a NULL @p dir, @p cookie or @p fn; the callback's non-zero value if it stopped;
 *         -ENOTDIR; -EINVAL for a cookie that no entry has; -EIO;
 *         ESHARE_EFSCORRUPTED; -ENOMEM.
 */
ESHARE_API int eshare_readdir(eshare_inode *dir, uint64_t *cookie, eshare_dirent_fn fn, void *user);

/**
 * Copy a symlink's target (not NUL-terminated) into @p buf, as readlink(2)
 * on a kernel mount gives it: at most 4095 bytes (the kernel reads one page
 * of a long symlink), cut at the first NUL byte.  The size eshare_stat()
 * reports is the inode's, which may be larger.
 * @param ino the symlink.
 * @param buf receives the target; may be NULL when @p len is 0.
 * @param len bytes @p buf holds.
 * @return the target's full length (may exceed @p len: then the copy is
 *         truncated); -EINVAL if not a symlink; -EIO; ESHARE_EFSCORRUPTED;
 *         -ENOMEM.
 */
ESHARE_API ssize_t eshare_readlink(eshare_inode *ino, char *buf, size_t len);

/**
 * List xattr names, each NUL-terminated, as listxattr(2). Hidden names
 * (long prefixes with no namespace, such as the content fingerprint) are
 * left out.  @p len 0 asks for the size.
 * @param ino the inode.
 * @param buf receives the names; may be NULL when @p len is 0.
 * @param len bytes @p buf holds.
 * @return bytes needed/written; -ERANGE if @p len is too small;
 *         -EOPNOTSUPP for an xattr area that is a bare header (as the
 *         kernel); -EIO; ESHARE_EFSCORRUPTED.
 */
ESHARE_API ssize_t eshare_listxattr(eshare_inode *ino, char *buf, size_t len);

/**
 * Get one xattr's value, as getxattr(2). @p len 0 asks for the size.
 * A user.* name on an inode neither a regular file nor a directory is
 * -ENODATA, as the VFS has it (listxattr still lists it).
 * @param ino  the inode.
 * @param name the full name with its namespace ("user.x"), NUL-terminated.
 * @param buf  receives the value; may be NULL when @p len is 0.
 * @param len  bytes @p buf holds.
 * @return value size; -ENODATA if absent; -ERANGE if @p len is too small
 *         or the name is empty or longer than 255 bytes; -EOPNOTSUPP for a
 *         name in no namespace EROFS stores (or a bare-header xattr area);
 *         -EINVAL for a namespace prefix with nothing after it; -EIO;
 *         ESHARE_EFSCORRUPTED.
 */
ESHARE_API ssize_t eshare_getxattr(eshare_inode *ino, const char *name, void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
