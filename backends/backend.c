// SPDX-License-Identifier: MIT
/*
 * The backend object and the two simplest built-ins: a file (by path or by
 * the caller's fd) and a memory buffer.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend_impl.h"

int eshare_copy_struct(void *dst, size_t ksize, const void *src, size_t usize)
{
	if (usize < sizeof(uint32_t))
		return -EINVAL;
	if (usize > ksize) {
		const unsigned char *tail = (const unsigned char *)src + ksize;
		for (size_t i = 0; i < usize - ksize; i++)
			if (tail[i])
				return -E2BIG;
		usize = ksize;
	}
	memset(dst, 0, ksize);
	memcpy(dst, src, usize);
	/* every public struct starts with its size: ours, from now on */
	*(uint32_t *)dst = (uint32_t)ksize;
	return 0;
}

int eshare_backend_new(eshare_backend **out, const struct eshare_backend_ops *ops, void *handle)
{
	struct eshare_backend_ops o;
	eshare_backend *be;
	int rc;

	if (!out || !ops)
		return -EINVAL;
	rc = eshare_copy_struct(&o, sizeof(o), ops, ops->size);
	if (rc)
		return rc;
	if (!o.pread || !o.get_size || o.flags)
		return -EINVAL;
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	be->ops = o;
	be->ops.size = sizeof(o);
	be->handle = handle;
	*out = be;
	return 0;
}

int eshare_backend_set_device_path(eshare_backend *be, const char *path)
{
	char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	free(be->device_path);
	be->device_path = p;
	return 0;
}

const char *eshare_backend_device_path(const eshare_backend *be)
{
	return be ? be->device_path : NULL;
}

const char *eshare_backend_name(const eshare_backend *be)
{
	return be && be->ops.name ? be->ops.name : "backend";
}

int eshare_backend_size(eshare_backend *be, uint64_t *out)
{
	uint64_t sz;
	int rc;

	if (!be || !out)
		return -EINVAL;
	rc = be->ops.get_size(be->handle, &sz);
	if (rc)
		return rc < 0 ? rc : -EIO;
	*out = sz;
	return 0;
}

int eshare_backend_read(eshare_backend *be, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = be->ops.pread(be->handle, p, len, off);

		if (n < 0)
			return n == -EINTR ? -EIO : (int)n;
		if (n == 0 || (size_t)n > len)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

void eshare_backend_close(eshare_backend *be)
{
	if (!be)
		return;
	if (be->ops.close)
		be->ops.close(be->handle);
	free(be->device_path);
	free(be);
}

/* ---- file ---- */

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

	if (off > (uint64_t)INT64_MAX)
		return 0;
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

static const struct eshare_backend_ops file_ops = {
	.size = sizeof(struct eshare_backend_ops),
	.name = "file",
	.pread = file_pread,
	.get_size = file_get_size,
	.close = file_close,
};

static int file_wrap(eshare_backend **out, int fd, bool owned)
{
	struct fd_handle *f = malloc(sizeof(*f));
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
	rc = eshare_backend_new(out, &file_ops, f);
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
	rc = file_wrap(out, fd, true);
	if (rc)
		close(fd);
	return rc;
}

int eshare_backend_from_fd(eshare_backend **out, int fd)
{
	int fl;

	if (!out)
		return -EINVAL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	return file_wrap(out, fd, false);
}

/* ---- memory ---- */

struct mem_handle {
	const unsigned char *buf;
	size_t len;
	void (*release)(void *);
	void *release_user;
};

static ssize_t mem_pread(void *h, void *buf, size_t len, uint64_t off)
{
	struct mem_handle *m = h;

	if (off >= m->len)
		return 0;
	if (len > m->len - off)
		len = m->len - (size_t)off;
	memcpy(buf, m->buf + off, len);
	return (ssize_t)len;
}

static int mem_get_size(void *h, uint64_t *out)
{
	*out = ((struct mem_handle *)h)->len;
	return 0;
}

static void mem_close(void *h)
{
	struct mem_handle *m = h;

	if (m->release)
		m->release(m->release_user);
	free(m);
}

static const struct eshare_backend_ops mem_ops = {
	.size = sizeof(struct eshare_backend_ops),
	.name = "memory",
	.pread = mem_pread,
	.get_size = mem_get_size,
	.close = mem_close,
};

int eshare_backend_memory(eshare_backend **out, const void *buf, size_t len,
			  void (*release)(void *), void *release_user)
{
	struct mem_handle *m;
	int rc;

	if (!out || (!buf && len))
		return -EINVAL;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	*m = (struct mem_handle){ buf, len, release, release_user };
	rc = eshare_backend_new(out, &mem_ops, m);
	if (rc)
		free(m);
	return rc;
}
