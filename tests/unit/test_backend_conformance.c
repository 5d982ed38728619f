// SPDX-License-Identifier: MIT
/*
 * The backend conformance suite (helpers/backend_conformance.h) on the
 * built-in backends that need no privilege: file, fd and memory; and on a
 * backend written here the way a user would, with <erofs_share/sys/backend.h>
 * alone: one that reads through a shared file offset (lseek + read), so it
 * is only correct when called one at a time, which it asks for with
 * ESHARE_BACKEND_F_SERIAL and checks.  The block-device and loop backends
 * run the same suite in test_blockdev and test_loop.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <erofs_share/erofs_share.h>
#include <erofs_share/sys/backend.h>
#include "helpers/backend_conformance.h"
#include "helpers/fixture_copies.h"

/* ---- file ---- */

static int open_file(eshare_backend **out, const char *path, void *user)
{
	return eshare_backend_open_file(out, path);
}

/* A rewrite of the file under the backend: its reads give -ESTALE. */
static int fault_file(eshare_backend *be, const char *path, void *user)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(truncate(path, st.st_size / 2), 0);
	return -ESTALE;
}

/* ---- fd ---- */

static int fd_of_test = -1;

static int open_fd(eshare_backend **out, const char *path, void *user)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	ck_assert_int_ge(fd, 0);
	rc = eshare_backend_from_fd(out, fd);
	if (rc)
		close(fd);
	else
		fd_of_test = fd;
	return rc;
}

/* The caller's descriptor now refers to something unreadable. */
static int fault_fd(eshare_backend *be, const char *path, void *user)
{
	int wr = open("/dev/null", O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(wr, 0);
	ck_assert_int_eq(dup2(wr, fd_of_test), fd_of_test);
	close(wr);
	return -EBADF;
}

/* The backend never closes the caller's descriptor: still open here. */
static void cleanup_fd(void *user)
{
	ck_assert_int_ge(fd_of_test, 0);
	ck_assert_int_eq(close(fd_of_test), 0);
	fd_of_test = -1;
}

/* ---- memory ---- */

static int open_memory(eshare_backend **out, const char *path, void *user)
{
	size_t len;
	unsigned char *buf = fc_slurp(path, &len);
	int rc;

	ck_assert_ptr_nonnull(buf);
	rc = eshare_backend_memory(out, buf, len, free, buf);
	if (rc)
		free(buf);
	return rc;
}

/* ---- a serial backend, as a user writes one ---- */

struct cursor {
	int fd;
	atomic_int inside; /* calls running now: never above 1 */
};

static ssize_t cursor_pread(void *h, void *buf, size_t len, uint64_t off)
{
	struct cursor *c = h;
	ssize_t n = -EDEADLK;

	if (atomic_fetch_add(&c->inside, 1) == 0) {
		if (off >= (uint64_t)INT64_MAX) {
			n = 0;
		} else if (lseek(c->fd, (off_t)off, SEEK_SET) < 0) {
			n = -errno;
		} else {
			if (len > (uint64_t)INT64_MAX - off)
				len = (size_t)((uint64_t)INT64_MAX - off);
			n = read(c->fd, buf, len);
			if (n < 0)
				n = -errno;
		}
	}
	atomic_fetch_sub(&c->inside, 1);
	return n;
}

static int cursor_get_size(void *h, uint64_t *out)
{
	struct stat st;

	if (fstat(((struct cursor *)h)->fd, &st))
		return -errno;
	*out = (uint64_t)st.st_size;
	return 0;
}

static void cursor_close(void *h)
{
	struct cursor *c = h;

	close(c->fd);
	free(c);
}

static const struct eshare_backend_ops cursor_ops = {
	.size = sizeof(struct eshare_backend_ops),
	.flags = ESHARE_BACKEND_F_SERIAL,
	.name = "cursor",
	.pread = cursor_pread,
	.get_size = cursor_get_size,
	.close = cursor_close,
};

static int open_cursor(eshare_backend **out, const char *path, void *user)
{
	struct cursor *c = malloc(sizeof(*c));
	int rc;

	ck_assert_ptr_nonnull(c);
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(c->fd, 0);
	atomic_init(&c->inside, 0);
	rc = eshare_backend_new(out, &cursor_ops, c);
	if (rc) {
		close(c->fd);
		free(c);
	}
	return rc;
}

static Suite *conformance_suite(void)
{
	Suite *s = suite_create("backend_conformance");

	backend_conformance_add(s, &(struct bc_target){ .name = "file", .open = open_file,
							.fault = fault_file });
	backend_conformance_add(s, &(struct bc_target){ .name = "fd", .open = open_fd,
							.fault = fault_fd, .cleanup = cleanup_fd });
	backend_conformance_add(s, &(struct bc_target){ .name = "memory", .open = open_memory });
	backend_conformance_add(s, &(struct bc_target){ .name = "cursor", .open = open_cursor });
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conformance_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
