/* SPDX-License-Identifier: MIT */
/**
 * @file backend.h
 * Where an image's bytes come from.
 *
 * A backend is a readable, fixed-size byte source: a regular file, a block
 * device, a loop device, a memory buffer, or one the caller writes by
 * filling a struct eshare_backend_ops and calling eshare_backend_new(),
 * both in <erofs_share/sys/backend.h> (the backend SDK, which
 * <erofs_share/erofs_share.h> does not include).
 *
 * Threading: every function here may be called from any thread; one
 * backend may be read from several threads at once.
 */
#ifndef ESHARE_BACKEND_H
#define ESHARE_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <erofs_share/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opened byte source. Opaque; released by eshare_backend_close(). */
typedef struct eshare_backend eshare_backend;

/**
 * Open a regular file (or anything pread(2) works on) read-only.
 * @return 0; -ENOENT, -EACCES, ... from open(2); -ENOMEM.
 */
ESHARE_API int eshare_backend_open_file(eshare_backend **out, const char *path);

/**
 * Read from a file descriptor the caller owns and keeps open until the
 * backend is closed. The fd is not closed by the library.
 * @return 0; -EBADF if fd is not open for reading; -ENOMEM.
 */
ESHARE_API int eshare_backend_from_fd(eshare_backend **out, int fd);

/**
 * Read from a memory buffer that stays valid and unchanged until the
 * backend is closed; then @p release (if not NULL) is called with
 * @p release_user.
 * @return 0; -EINVAL if buf is NULL and len is not 0; -ENOMEM.
 */
ESHARE_API int eshare_backend_memory(eshare_backend **out, const void *buf, size_t len,
				     void (*release)(void *release_user), void *release_user);

/** Options of the block-device and loop backends. */
struct eshare_blockdev_opts {
	/** sizeof(struct eshare_blockdev_opts). */
	uint32_t size;
	/** ESHARE_BLOCKDEV_* bits. */
	uint32_t flags;
};
/** Read with O_DIRECT through aligned bounce buffers. */
#define ESHARE_BLOCKDEV_DIRECT 0x1u
#define ESHARE_BLOCKDEV_OPTS_INIT { sizeof(struct eshare_blockdev_opts), 0 }

/**
 * Open a block device read-only; its size comes from BLKGETSIZE64 and its
 * logical block size from BLKSSZGET.  @p opts may be NULL.
 * @return 0; -ENOTBLK if @p path is not a block device; -EINVAL for bad
 *         options; -E2BIG for an options struct with a non-zero unknown
 *         tail; errors of open(2); -ENOMEM.
 */
ESHARE_API int eshare_backend_open_blockdev(eshare_backend **out, const char *path,
					    const struct eshare_blockdev_opts *opts);

/**
 * Attach a regular file to a free loop device (read-only, autoclear) and
 * read through it; the device is detached when the backend is closed, or by
 * the kernel if the process dies.  Given an existing /dev/loopN, use it as
 * it is and leave it attached.  @p opts may be NULL (ESHARE_BLOCKDEV_DIRECT
 * asks the loop device for direct I/O).
 * A block device that is not a loop device is attached like a file.
 * @return 0; -ENODEV if loop devices are not available; -EPERM without the
 *         privilege to configure one; -EBUSY if every free device was taken
 *         by other processes first (64 tries); -ENXIO for an existing loop
 *         device with nothing bound; -EISDIR for a directory; -EINVAL for
 *         a path that is neither a regular file nor a block device, or bad
 *         options; -E2BIG as above; errors of open(2); -ENOMEM.
 */
ESHARE_API int eshare_backend_open_loop(eshare_backend **out, const char *path,
					const struct eshare_blockdev_opts *opts);

/**
 * Open a built-in backend by name: "file", "blockdev" or "loop".
 * @return 0; -EINVAL for an unknown name; else as the named opener.
 */
ESHARE_API int eshare_backend_open(eshare_backend **out, const char *kind, const char *path);

/** The device a loop backend holds ("/dev/loop3"), else NULL. Borrowed. */
ESHARE_API const char *eshare_backend_device_path(const eshare_backend *be);

/** The backend's name (ops->name). Borrowed. */
ESHARE_API const char *eshare_backend_name(const eshare_backend *be);

/** Size of the source. @return 0 or -errno from get_size. */
ESHARE_API int eshare_backend_size(eshare_backend *be, uint64_t *out);

/**
 * Read exactly @p len bytes at @p off (retrying short reads).
 * @return 0; -EIO if the source ends before off+len; else the backend's
 *         error.
 */
ESHARE_API int eshare_backend_read(eshare_backend *be, void *buf, size_t len, uint64_t off);

/** Close a backend not handed to an image. NULL is a no-op. */
ESHARE_API void eshare_backend_close(eshare_backend *be);

#ifdef __cplusplus
}
#endif
#endif
