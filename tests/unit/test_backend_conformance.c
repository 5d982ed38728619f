// SPDX-License-Identifier: MIT
/*
 * The backend conformance suite (helpers/backend_conformance.h) on the
 * built-in backends that need no privilege: file, fd and memory; and on a
 * backend written here the way a user would, with <erofs_share/sys/backend.h>
 * alone: one that reads through a shared file offset (lseek + read), so it
 * is only correct when called one at a time, which it asks for with
 * ESHARE_BACKEND_F_SERIAL and checks.  The block-device and loop backends
 * run the same suite in test_blockdev and test_loop.
 *
 * Then eshare_backend_readv() over a vectored method that returns short
 * counts, stopping inside buffers.
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

/* ---- eshare_backend_readv over a preadv that returns little at a time ---- */

/*
 * The library copes with a vectored method that returns less than asked
 * inside the source (it asks again for the rest), although the rule is to
 * fill everything there is.  This one fills at most a few hundred bytes
 * per call, stopping in the middle of buffers, so that the library's
 * bookkeeping of partly filled buffers is what gets tested.
 */
struct dribble {
	const unsigned char *data;
	size_t len;
	atomic_uint calls, preads;
};

static ssize_t dribble_pread(void *h, void *buf, size_t len, uint64_t off)
{
	struct dribble *d = h;

	atomic_fetch_add(&d->preads, 1);
	if (off >= d->len)
		return 0;
	if (len > d->len - off)
		len = d->len - (size_t)off;
	memcpy(buf, d->data + off, len);
	return (ssize_t)len;
}

static ssize_t dribble_preadv(void *h, const struct eshare_iovec *iov, int iovcnt,
			      uint64_t off)
{
	struct dribble *d = h;
	unsigned call = atomic_fetch_add(&d->calls, 1);
	size_t budget = 1 + (call * 7919u) % 700, done = 0;

	for (int i = 0; i < iovcnt && budget && off < d->len; i++) {
		size_t n = iov[i].len < budget ? iov[i].len : budget;

		if (n > d->len - off)
			n = d->len - (size_t)off;
		memcpy(iov[i].base, d->data + off, n);
		off += n;
		done += n;
		budget -= n;
	}
	return (ssize_t)done;
}

static int dribble_get_size(void *h, uint64_t *out)
{
	*out = ((struct dribble *)h)->len;
	return 0;
}

START_TEST(readv_short_preadv)
{
	static const struct eshare_backend_ops ops = {
		.size = sizeof(ops),
		.name = "dribble",
		.pread = dribble_pread,
		.get_size = dribble_get_size,
		.preadv = dribble_preadv,
	};
	enum { LEN = 300000, ROUNDS = 400 };
	unsigned char *data = malloc(LEN), *buf = malloc(LEN + 1);
	struct dribble d = { .data = data, .len = LEN };
	struct eshare_iovec iov[8];
	eshare_backend *be = NULL;
	uint64_t seed = 7;

	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < LEN; i++)
		data[i] = (unsigned char)(i * 131 + (i >> 9));
	ck_assert_int_eq(eshare_backend_new(&be, &ops, &d), 0);
	for (int round = 0; round < ROUNDS; round++) {
		size_t len, off, at = 0;
		int n;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		len = (size_t)(seed >> 33) % 20000;
		off = (size_t)(seed >> 20) % (LEN - len + 1);
		n = 1 + (int)((seed >> 8) % 8);
		for (int i = 0; i < n; i++) {
			/* pieces of any size, some empty, the last one takes the rest */
			size_t piece = i == n - 1 ? len - at : (size_t)((seed >> (i * 5)) % (len - at + 1));

			iov[i] = (struct eshare_iovec){ buf + at, piece };
			at += piece;
		}
		memset(buf, 0, len + 1);
		ck_assert_int_eq(eshare_backend_readv(be, iov, n, off), 0);
		ck_assert_msg(!memcmp(buf, data + off, len), "round %d: %zu bytes at %zu in %d pieces",
			      round, len, off, n);
		ck_assert_uint_eq(buf[len], 0);
	}
	/* past the end: the bytes there, then -EIO */
	iov[0] = (struct eshare_iovec){ buf, 10 };
	iov[1] = (struct eshare_iovec){ buf + 10, 10 };
	ck_assert_int_eq(eshare_backend_readv(be, iov, 2, LEN - 15), -EIO);
	ck_assert_uint_gt(atomic_load(&d.calls), ROUNDS);
	/* the vectored method, when there is one, is the only one used */
	ck_assert_uint_eq(atomic_load(&d.preads), 0);
	eshare_backend_close(be);
	free(data);
	free(buf);
}
END_TEST

static Suite *conformance_suite(void)
{
	Suite *s = suite_create("backend_conformance");
	TCase *tc = tcase_create("readv");

	tcase_add_test(tc, readv_short_preadv);
	suite_add_tcase(s, tc);

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
