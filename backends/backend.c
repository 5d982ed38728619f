// SPDX-License-Identifier: MIT
/*
 * The generic backend object every backend is wrapped in: what
 * eshare_backend_new() checks in a caller's methods table, and the calls
 * the library reads through (exact reads, vectored reads, the serial lock
 * of ESHARE_BACKEND_F_SERIAL).  The built-in backends are in their own
 * files, one each: memory.c is the smallest model to copy.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "backend_impl.h"

int eshare_backend_new(eshare_backend **out, const struct eshare_backend_ops *ops, void *handle)
{
	struct eshare_backend_ops o;
	eshare_backend *be;
	int rc;

	if (!out || !ops)
		return -EINVAL;
	/* A table shorter than ours reads as zero past its end: a V1
	 * caller's io_size, reserved and preadv are 0 and NULL. */
	rc = eshare_copy_struct(&o, sizeof(o), ops, ops->size);
	if (rc)
		return rc;
	if (!o.pread || !o.get_size || (o.flags & ~ESHARE_BACKEND_F_ALL) || o.reserved)
		return -EINVAL;
	if (o.io_size > ESHARE_BACKEND_IO_SIZE_MAX || (o.io_size & (o.io_size - 1)))
		return -EINVAL;
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	if (pthread_mutex_init(&be->serial, NULL)) {
		free(be);
		return -ENOMEM;
	}
	be->ops = o;
	be->ops.size = sizeof(o);
	be->handle = handle;
	*out = be;
	return 0;
}

uint32_t eshare_backend_flags(const eshare_backend *be)
{
	return be ? be->ops.flags : 0;
}

uint32_t eshare_backend_io_size(const eshare_backend *be)
{
	return be ? be->ops.io_size : 0;
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

ssize_t eshare_backend_call_pread(eshare_backend *be, void *buf, size_t len, uint64_t off)
{
	bool serial = be->ops.flags & ESHARE_BACKEND_F_SERIAL;
	ssize_t n;

	if (serial)
		pthread_mutex_lock(&be->serial);
	n = be->ops.pread(be->handle, buf, len, off);
	if (serial)
		pthread_mutex_unlock(&be->serial);
	return n;
}

static ssize_t call_preadv(eshare_backend *be, const struct eshare_iovec *iov, int cnt,
			   uint64_t off)
{
	bool serial = be->ops.flags & ESHARE_BACKEND_F_SERIAL;
	ssize_t n;

	if (serial)
		pthread_mutex_lock(&be->serial);
	n = be->ops.preadv(be->handle, iov, cnt, off);
	if (serial)
		pthread_mutex_unlock(&be->serial);
	return n;
}

int eshare_backend_read(eshare_backend *be, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;

	if (!be || (!buf && len))
		return -EINVAL;
	while (len) {
		ssize_t n = eshare_backend_call_pread(be, p, len, off);

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

int eshare_backend_readv(eshare_backend *be, const struct eshare_iovec *iov, int iovcnt,
			 uint64_t off)
{
	struct eshare_iovec small[16], *rest = small;
	size_t total = 0;
	int first = 0, rc = 0;

	if (!be || !iov || iovcnt < 1 || iovcnt > ESHARE_BACKEND_IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (!iov[i].base && iov[i].len)
			return -EINVAL;
		if (iov[i].len > SIZE_MAX - total || total + iov[i].len > (size_t)SSIZE_MAX)
			return -EINVAL;
		total += iov[i].len;
	}
	if (!be->ops.preadv) {
		for (int i = 0; i < iovcnt; i++) {
			int err = eshare_backend_read(be, iov[i].base, iov[i].len, off);

			if (err)
				return err;
			off += iov[i].len;
		}
		return 0;
	}
	/* Our own copy, advanced past what each short read filled; on the
	 * stack unless it is long. */
	if (iovcnt > (int)(sizeof(small) / sizeof(small[0]))) {
		rest = malloc((size_t)iovcnt * sizeof(*rest));
		if (!rest)
			return -ENOMEM;
	}
	memcpy(rest, iov, (size_t)iovcnt * sizeof(*iov));
	while (total) {
		ssize_t n;
		size_t done;

		while (!rest[first].len)
			first++;
		n = call_preadv(be, rest + first, iovcnt - first, off);
		if (n <= 0 || (size_t)n > total) {
			rc = n == 0 || n == -EINTR || n > 0 ? -EIO : (int)n;
			break;
		}
		total -= (size_t)n;
		off += (uint64_t)n;
		for (done = (size_t)n; done;) {
			size_t take = rest[first].len < done ? rest[first].len : done;

			rest[first].base = (unsigned char *)rest[first].base + take;
			rest[first].len -= take;
			done -= take;
			if (!rest[first].len && first + 1 < iovcnt)
				first++;
		}
	}
	if (rest != small)
		free(rest);
	return rc;
}

void eshare_backend_close(eshare_backend *be)
{
	if (!be)
		return;
	if (be->ops.close)
		be->ops.close(be->handle);
	pthread_mutex_destroy(&be->serial);
	free(be->device_path);
	free(be);
}
