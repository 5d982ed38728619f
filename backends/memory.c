// SPDX-License-Identifier: MIT
/*
 * The memory backend: reads a buffer the caller keeps valid.  The smallest
 * complete backend, and the one to copy: a handle struct, the two required
 * methods (pread clamped at the end of the source, get_size), a close that
 * releases the handle, and a const methods table handed to
 * eshare_backend_new(), which copies it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <erofs_share/sys/backend.h>

struct mem_handle {
	const unsigned char *buf;
	size_t len;
	void (*release)(void *);
	void *release_user;
};

/* Concurrent calls are safe: nothing in the handle changes. */
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
		free(m);	/* the handle is still ours: release is not called */
	return rc;
}
