/* SPDX-License-Identifier: MIT */
/**
 * @file sys/backend.h
 * Writing a backend: the methods table and what the library does with it.
 *
 * A program that only opens images needs <erofs_share/erofs_share.h>; one
 * that supplies its own byte source (a network store, an archive member,
 * an encrypted container) includes this header as well, which the
 * umbrella header does not.  docs/backends.md walks through writing one;
 * backends/memory.c is the smallest complete model.
 *
 * Versions.  The table starts with its own size, like every public struct:
 * a caller built against an older header passes a smaller size, and the
 * methods and fields it did not know are read as zero (absent).  Each
 * member below says which size introduced it:
 *   ESHARE_BACKEND_OPS_SIZE_V1: size, flags (then reserved, must be 0),
 *                               name, pread, get_size, close, block_size;
 *   ESHARE_BACKEND_OPS_SIZE_V2: the ESHARE_BACKEND_F_* flag bits, io_size,
 *                               reserved, preadv.
 * Use sizeof(struct eshare_backend_ops) to get everything this header
 * knows.  A library older than the header rejects a larger table whose
 * unknown tail is not zero with -E2BIG, and flag bits it does not know with
 * -EINVAL: nothing is silently ignored.
 *
 * Threading: the library may call pread() and preadv() of one backend from
 * several threads at once, with different buffers and offsets, unless the
 * backend sets ESHARE_BACKEND_F_SERIAL; get_size() and block_size() may
 * run alongside them.  close() is called exactly once, after every other
 * call has returned.
 */
#ifndef ESHARE_SYS_BACKEND_H
#define ESHARE_SYS_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <erofs_share/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * One buffer of a vectored read.  Same layout as struct iovec on Linux, so
 * an implementation may pass an array of these to preadv(2) as it is.
 */
struct eshare_iovec {
	void *base;
	size_t len;
};

/**
 * Reads may block for a long time: the source is remote (a network round
 * trip, an object store) or otherwise slow to answer.  The library should
 * not hold a lock of its own across such a read, and should prefer fewer,
 * larger reads (see io_size).  Since ESHARE_BACKEND_OPS_SIZE_V2.
 */
#define ESHARE_BACKEND_F_REMOTE 0x1u
/**
 * pread() and preadv() must not run concurrently on the handle: the
 * library calls them one at a time (eshare_backend_read() takes a lock of
 * the backend around each call).  For sources that keep a cursor or a
 * single connection.  Since ESHARE_BACKEND_OPS_SIZE_V2.
 */
#define ESHARE_BACKEND_F_SERIAL 0x2u
/** Every flag bit this header defines; any other bit gives -EINVAL. */
#define ESHARE_BACKEND_F_ALL (ESHARE_BACKEND_F_REMOTE | ESHARE_BACKEND_F_SERIAL)

/** Largest io_size accepted: 1 GiB. */
#define ESHARE_BACKEND_IO_SIZE_MAX (1u << 30)

/**
 * The methods of a backend.  Copied at eshare_backend_new(); members are
 * only ever appended.  Unless said otherwise a method gets the @p handle
 * given to eshare_backend_new().
 */
struct eshare_backend_ops {
	/** sizeof(struct eshare_backend_ops) as the caller knows it. V1. */
	uint32_t size;
	/**
	 * ESHARE_BACKEND_F_* bits; any other bit set gives -EINVAL.  V1 had
	 * the field, reserved as 0; the bits came with V2.
	 */
	uint32_t flags;
	/** Short name for messages ("file", "memory", or the caller's own). V1. */
	const char *name;
	/**
	 * Read up to @p len bytes at @p off into @p buf.  Required.  V1.
	 * @return the number of bytes read, which is less than @p len only at
	 *         the end of the source (0 at or past it, for any @p off up
	 *         to UINT64_MAX); or a negative errno (-EIO ...).  The
	 *         library asks again after a short count and takes 0 inside
	 *         the source as -EIO, but a backend should not rely on that:
	 *         the conformance suite holds it to the rule.
	 * @note may run concurrently on one handle (see ESHARE_BACKEND_F_SERIAL).
	 */
	ssize_t (*pread)(void *handle, void *buf, size_t len, uint64_t off);
	/** Size of the source in bytes. Required. V1. @return 0 or -errno. */
	int (*get_size)(void *handle, uint64_t *out);
	/** Release the handle. Called exactly once. May be NULL. V1. */
	void (*close)(void *handle);
	/** Preferred I/O alignment in bytes (a power of two), or 0. May be NULL. V1. */
	uint32_t (*block_size)(void *handle);

	/* ---- ESHARE_BACKEND_OPS_SIZE_V2 ---- */

	/**
	 * Preferred size of one read in bytes: a power of two up to
	 * ESHARE_BACKEND_IO_SIZE_MAX, or 0 for no preference (anything else
	 * gives -EINVAL).  Reads of this size, aligned to it, cost least: a
	 * remote backend's request size, a disk's optimal I/O size.  V2.
	 */
	uint32_t io_size;
	/** Must be 0. V2. */
	uint32_t reserved;
	/**
	 * Read into @p iovcnt buffers (1 to 1024), filling them in order,
	 * starting at @p off.  Optional (NULL: the library calls pread() for
	 * each buffer); return values as pread(), counted over all buffers.
	 * V2.
	 */
	ssize_t (*preadv)(void *handle, const struct eshare_iovec *iov, int iovcnt, uint64_t off);
};

/** The size of a V1 table (before io_size). */
#define ESHARE_BACKEND_OPS_SIZE_V1 (offsetof(struct eshare_backend_ops, io_size))
/** The size of a V2 table (up to and with preadv). */
#define ESHARE_BACKEND_OPS_SIZE_V2 \
	(offsetof(struct eshare_backend_ops, preadv) + sizeof(void (*)(void)))

/** Most buffers one vectored read takes. */
#define ESHARE_BACKEND_IOV_MAX 1024

/**
 * Wrap a caller's implementation. @p ops is copied; @p handle is passed to
 * every method and handed to ops->close() when the backend is closed.
 * @return 0;
 *         -EINVAL if ops, ops->pread or ops->get_size is missing, size is
 *         less than 4, a flag bit is unknown, io_size is not 0 or a power
 *         of two up to ESHARE_BACKEND_IO_SIZE_MAX, or reserved is not 0;
 *         -E2BIG if ops is larger than this library knows and its unknown
 *         tail is not zero;
 *         -ENOMEM.
 * On failure ops->close is NOT called: the handle stays the caller's.
 */
ESHARE_API int eshare_backend_new(eshare_backend **out, const struct eshare_backend_ops *ops,
				  void *handle);

/** The backend's ESHARE_BACKEND_F_* bits; 0 for NULL. */
ESHARE_API uint32_t eshare_backend_flags(const eshare_backend *be);

/** The backend's preferred read size (ops->io_size), 0 for none or NULL. */
ESHARE_API uint32_t eshare_backend_io_size(const eshare_backend *be);

/**
 * Fill @p iovcnt buffers (1 to ESHARE_BACKEND_IOV_MAX) with the bytes
 * from @p off on, through ops->preadv when the backend has it, else
 * buffer by buffer through ops->pread (short reads retried in both cases).
 * @return 0; -EINVAL for bad arguments; -EIO if the source ends before the
 *         last buffer is full; -ENOMEM; else the backend's error.
 */
ESHARE_API int eshare_backend_readv(eshare_backend *be, const struct eshare_iovec *iov,
				    int iovcnt, uint64_t off);

#ifdef __cplusplus
}
#endif
#endif
