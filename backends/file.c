// SPDX-License-Identifier: MIT
/*
 * The file backend: reads a regular file (or anything pread(2) works on)
 * through a descriptor.  The model for a backend over a kernel handle: the
 * optional vectored read (preadv(2)), a preferred I/O size taken from the
 * file system, and a source that is watched for changes, so that a file
 * rewritten under an attached image fails reads with -ESTALE instead of
 * handing out bytes of another image.  fd.c wraps a caller's descriptor
 * with the same code.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backend_impl.h"

/* preadv() below hands our buffers to the kernel as they are. */
_Static_assert(sizeof(struct eshare_iovec) == sizeof(struct iovec) &&
		       offsetof(struct eshare_iovec, base) == offsetof(struct iovec, iov_base) &&
		       offsetof(struct eshare_iovec, len) == offsetof(struct iovec, iov_len),
	       "struct eshare_iovec is laid out as struct iovec");

struct fd_handle {
	int fd;
	bool owned;
	bool regular; /* a regular file: watched for changes */
	struct stat at_open;
};

static bool ts_equal(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * Whether a regular file is still what it was when the backend was made.
 * A rewrite in place changes its ctime (and usually size or mtime); the
 * kernel gives a fine-grained ctime to a change that follows an fstat(),
 * so even a quick rewrite shows.  A file replaced by rename() is not seen:
 * the descriptor still reads the old one, which is what is wanted.
 */
static bool file_unchanged(const struct fd_handle *f)
{
	struct stat st;

	if (fstat(f->fd, &st))
		return false;
	return st.st_ino == f->at_open.st_ino && st.st_dev == f->at_open.st_dev &&
	       st.st_size == f->at_open.st_size &&
	       ts_equal(&st.st_mtim, &f->at_open.st_mtim) &&
	       ts_equal(&st.st_ctim, &f->at_open.st_ctim);
}

static ssize_t file_pread(void *h, void *buf, size_t len, uint64_t off)
{
	struct fd_handle *f = h;
	ssize_t n;

	/* No file reaches 2^63: clamp so that off + len fits an off_t. */
	if (off >= (uint64_t)INT64_MAX)
		return 0;
	if (len > (uint64_t)INT64_MAX - off)
		len = (size_t)((uint64_t)INT64_MAX - off);
	do {
		n = pread(f->fd, buf, len, (off_t)off);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* checked after the read, so bytes of a change made meanwhile are refused */
	if (f->regular && !file_unchanged(f))
		return -ESTALE;
	return n;
}

static ssize_t file_preadv(void *h, const struct eshare_iovec *iov, int iovcnt, uint64_t off)
{
	struct fd_handle *f = h;
	uint64_t total = 0;
	ssize_t n;

	if (off >= (uint64_t)INT64_MAX)
		return 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].len;
	/* as in file_pread: the kernel refuses a range past 2^63 - 1 */
	if (total > (uint64_t)INT64_MAX - off)
		return file_pread(h, iov[0].base, iov[0].len, off);
	do {
		n = preadv(f->fd, (const struct iovec *)iov, iovcnt, (off_t)off);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* as in file_pread */
	if (f->regular && !file_unchanged(f))
		return -ESTALE;
	return n;
}

static int file_get_size(void *h, uint64_t *out)
{
	struct fd_handle *f = h;
	struct stat st;
	off_t end;

	if (fstat(f->fd, &st))
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*out = (uint64_t)st.st_size;
		return 0;
	}
	end = lseek(f->fd, 0, SEEK_END);
	if (end < 0)
		return -errno;
	*out = (uint64_t)end;
	return 0;
}

static void file_close(void *h)
{
	struct fd_handle *f = h;

	if (f->owned)
		close(f->fd);
	free(f);
}

int eshare_file_wrap(eshare_backend **out, int fd, bool owned)
{
	struct eshare_backend_ops ops = {
		.size = sizeof(ops),
		.name = "file",
		.pread = file_pread,
		.get_size = file_get_size,
		.close = file_close,
		.preadv = file_preadv,
	};
	struct fd_handle *f = malloc(sizeof(*f));
	blksize_t bs;
	int rc;

	if (!f)
		return -ENOMEM;
	f->fd = fd;
	f->owned = owned;
	if (fstat(fd, &f->at_open)) {
		rc = -errno;
		free(f);
		return rc;
	}
	f->regular = S_ISREG(f->at_open.st_mode);
	/* The file system's preferred transfer size, when it is a usable one. */
	bs = f->at_open.st_blksize;
	if (bs > 0 && bs <= (blksize_t)ESHARE_BACKEND_IO_SIZE_MAX && !(bs & (bs - 1)))
		ops.io_size = (uint32_t)bs;
	rc = eshare_backend_new(out, &ops, f);
	if (rc)
		free(f);
	return rc;
}

int eshare_backend_open_file(eshare_backend **out, const char *path)
{
	int fd, rc;

	if (!out || !path)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = eshare_file_wrap(out, fd, true);
	if (rc)
		close(fd);
	return rc;
}
