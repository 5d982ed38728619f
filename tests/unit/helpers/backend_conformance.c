// SPDX-License-Identifier: MIT
/* The backend conformance suite (backend_conformance.h). */
#include "backend_conformance.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <erofs_share/erofs_share.h>
#include <erofs_share/sys/backend.h>
#include "backend_impl.h"
#include "helpers/faulty.h"
#include "helpers/scale.h"

#define BC_MAX 16
/* An odd size a little over 1 MiB: no read size divides it. */
#define BC_SIZE ((uint64_t)1048576 + 12345)
#define BC_THREADS 4
/* A fixture an image can be attached from, and a file of it (its manifest). */
#define BC_FIXTURE ESHARE_FIXTURES "/plain-4k.erofs"
#define BC_FILE "/files/hardlink-to-hard-a"
#define BC_FILE_SIZE 5000
/* Bytes after each read buffer that no read may touch. */
#define CANARY 64

static struct bc_target targets[BC_MAX];
static char tc_names[BC_MAX][64];
static int ntargets;

struct bc_run {
	const struct bc_target *t;
	int idx;
	char path[PATH_MAX];
	unsigned char *ref;	/* the file's bytes, read with pread(2) */
	uint64_t size;
	eshare_backend *be;
};

static uint64_t next_rand(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char *run_dir(const struct bc_target *t)
{
	const char *tmp = getenv("TMPDIR");

	if (t->dir && *t->dir)
		return t->dir;
	return tmp && *tmp ? tmp : "/tmp";
}

static void write_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		ck_assert_msg(n > 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* The whole file read back with pread(2): the reference. */
static unsigned char *read_back(const char *path, uint64_t *size)
{
	struct stat st;
	unsigned char *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(p);
	for (off_t done = 0; done < st.st_size;) {
		ssize_t n = pread(fd, p + done, (size_t)(st.st_size - done), done);

		ck_assert_msg(n > 0, "pread %s: %s", path, n ? strerror(errno) : "short");
		done += n;
	}
	close(fd);
	*size = (uint64_t)st.st_size;
	return p;
}

/*
 * Each target's files go to its own directory, named after the process
 * that runs the suite: a failed check ends a test's process at once, and
 * the suite's teardown (run by that process after the test case) removes
 * what the test left.
 */
static pid_t runner;

static void work_dir(char *buf, size_t size, int i)
{
	snprintf(buf, size, "%s/bc-%ld-%d", run_dir(&targets[i]), (long)runner, i);
}

static void remove_work_dirs(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 300];

	for (int i = 0; i < ntargets; i++) {
		DIR *d;
		struct dirent *e;

		work_dir(dir, sizeof(dir), i);
		d = opendir(dir);
		if (!d)
			continue;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
		rmdir(dir);
	}
}

/* A new file in the target's directory holding @len bytes of @src (or
 * pseudo-random bytes when NULL). */
static void make_file(struct bc_run *r, const unsigned char *src, size_t len)
{
	char dir[PATH_MAX / 2];
	int fd;

	work_dir(dir, sizeof(dir), r->idx);
	ck_assert_msg(!mkdir(dir, 0700) || errno == EEXIST, "mkdir %s: %s", dir, strerror(errno));
	snprintf(r->path, sizeof(r->path), "%s/%s-XXXXXX", dir, r->t->name);
	fd = mkstemp(r->path);
	ck_assert_msg(fd >= 0, "mkstemp %s: %s", r->path, strerror(errno));
	if (src) {
		write_all(fd, src, len);
	} else {
		unsigned char *buf = malloc(len);
		uint64_t seed = 0x5eed0000u + len;

		ck_assert_ptr_nonnull(buf);
		for (size_t i = 0; i < len; i += 8) {
			uint64_t v = next_rand(&seed);

			memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
		}
		write_all(fd, buf, len);
		free(buf);
	}
	ck_assert_int_eq(close(fd), 0);
	r->ref = read_back(r->path, &r->size);
	ck_assert_uint_eq(r->size, len);
}

static struct bc_run begin(int i)
{
	struct bc_run r = { .t = &targets[i], .idx = i };
	uint64_t size = BC_SIZE;
	int rc;

	if (r.t->size_unit)
		size -= size % r.t->size_unit;
	make_file(&r, NULL, (size_t)size);
	rc = r.t->open(&r.be, r.path, r.t->user);
	ck_assert_msg(rc == 0, "%s: open %s: %d (%s)", r.t->name, r.path, rc, strerror(-rc));
	ck_assert_ptr_nonnull(r.be);
	return r;
}

static void end(struct bc_run *r)
{
	eshare_backend_close(r->be);
	r->be = NULL;
	if (r->t->cleanup)
		r->t->cleanup(r->t->user);
	unlink(r->path);
	free(r->ref);
	r->ref = NULL;
}

/* ---- one range, three ways ---- */

/* What a read of [off, off + len) must give: the bytes it may return. */
static size_t expect_avail(const struct bc_run *r, uint64_t off, size_t len)
{
	if (off >= r->size)
		return 0;
	return len < r->size - off ? len : (size_t)(r->size - off);
}

static bool untouched(const unsigned char *p, size_t n, unsigned char fill)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != fill)
			return false;
	return true;
}

/*
 * Check [off, off + len) through the method, eshare_backend_read() and
 * eshare_backend_readv() (cut in up to 3 pieces by @seed).  Returns NULL
 * or what went wrong (a static string: the caller reports it).  Safe to
 * call from several threads.
 */
static const char *check_range(const struct bc_run *r, uint64_t off, size_t len, uint64_t seed)
{
	size_t avail = expect_avail(r, off, len);
	bool whole = len == 0 || (off < r->size && len <= r->size - off);
	unsigned char *buf = malloc(len + CANARY);
	const char *bad = NULL;
	struct eshare_iovec iov[3];
	size_t cut1, cut2;
	ssize_t n;
	int rc;

	if (!buf)
		return "out of memory";
	/* the method: everything there is up to len, nothing past the buffer */
	memset(buf, 0xa5, len + CANARY);
	n = eshare_backend_call_pread(r->be, buf, len, off);
	if (n < 0 || (size_t)n != avail)
		bad = "the method returned a wrong count";
	else if (memcmp(buf, r->ref + (avail ? off : 0), avail))
		bad = "the method returned wrong bytes";
	else if (!untouched(buf + len, CANARY, 0xa5))
		bad = "the method wrote past the buffer";
	if (bad)
		goto out;
	/* eshare_backend_read: all of it, or -EIO */
	memset(buf, 0x5a, len + CANARY);
	rc = eshare_backend_read(r->be, buf, len, off);
	if (whole ? rc != 0 : rc != -EIO)
		bad = whole ? "eshare_backend_read failed inside the source" :
			      "eshare_backend_read past the end did not give -EIO";
	else if (whole && len && memcmp(buf, r->ref + off, len))
		bad = "eshare_backend_read returned wrong bytes";
	else if (!untouched(buf + len, CANARY, 0x5a))
		bad = "eshare_backend_read wrote past the buffer";
	if (bad)
		goto out;
	/* eshare_backend_readv, in three pieces (some may be empty) */
	cut1 = len ? (size_t)(next_rand(&seed) % (len + 1)) : 0;
	cut2 = cut1 + (len - cut1 ? (size_t)(next_rand(&seed) % (len - cut1 + 1)) : 0);
	iov[0] = (struct eshare_iovec){ buf, cut1 };
	iov[1] = (struct eshare_iovec){ buf + cut1, cut2 - cut1 };
	iov[2] = (struct eshare_iovec){ buf + cut2, len - cut2 };
	memset(buf, 0x3c, len + CANARY);
	rc = eshare_backend_readv(r->be, iov, 3, off);
	if (whole ? rc != 0 : rc != -EIO)
		bad = whole ? "eshare_backend_readv failed inside the source" :
			      "eshare_backend_readv past the end did not give -EIO";
	else if (whole && len && memcmp(buf, r->ref + off, len))
		bad = "eshare_backend_readv returned wrong bytes";
	else if (!untouched(buf + len, CANARY, 0x3c))
		bad = "eshare_backend_readv wrote past the buffer";
out:
	free(buf);
	return bad;
}

#define CHECK_RANGE(r, off, len, seed)                                                     \
	do {                                                                               \
		uint64_t o_ = (off);                                                       \
		size_t l_ = (len);                                                         \
		const char *why_ = check_range((r), o_, l_, (seed));                       \
		ck_assert_msg(!why_, "%s: read of %zu bytes at %llu (size %llu): %s",      \
			      (r)->t->name, l_, (unsigned long long)o_,                     \
			      (unsigned long long)(r)->size, why_);                         \
	} while (0)

/* ---- the tests ---- */

START_TEST(bc_size)
{
	struct bc_run r = begin(_i);
	uint64_t size = 0;
	uint32_t bs;

	ck_assert_int_eq(eshare_backend_size(r.be, &size), 0);
	ck_assert_uint_eq(size, r.size);
	/* the method itself, twice: the size does not drift */
	size = 0;
	ck_assert_int_eq(r.be->ops.get_size(r.be->handle, &size), 0);
	ck_assert_uint_eq(size, r.size);
	ck_assert_int_eq(eshare_backend_size(r.be, &size), 0);
	ck_assert_uint_eq(size, r.size);
	/* what the backend says of itself is within the rules */
	ck_assert_ptr_nonnull(eshare_backend_name(r.be));
	ck_assert_uint_gt(strlen(eshare_backend_name(r.be)), 0);
	ck_assert_uint_eq(eshare_backend_flags(r.be) & ~ESHARE_BACKEND_F_ALL, 0);
	bs = eshare_backend_io_size(r.be);
	ck_assert_msg(!(bs & (bs - 1)) && bs <= ESHARE_BACKEND_IO_SIZE_MAX, "io_size %u", bs);
	if (r.be->ops.block_size) {
		bs = r.be->ops.block_size(r.be->handle);
		ck_assert_msg(!(bs & (bs - 1)), "block_size %u", bs);
	}
	end(&r);
}
END_TEST

START_TEST(bc_boundaries)
{
	struct bc_run r = begin(_i);
	const uint64_t s = r.size;
	const struct {
		uint64_t off;
		size_t len;
	} cases[] = {
		{ 0, 0 }, { 0, 1 }, { 0, 4096 }, { 0, (size_t)s }, { 1, (size_t)s - 1 },
		{ 511, 2 }, { 512, 512 }, { 4095, 2 }, { 4097, 65536 }, { 65535, 131074 },
		{ s - 1, 1 }, { s - 4096 - 7, 4096 + 7 }, { s - 100, 100 },
		/* across the end */
		{ 1, (size_t)s }, { 0, (size_t)s + 1 }, { s - 1, 2 }, { s - 100, 300 },
		{ s - 4096 - 7, 8192 },
		/* at and past the end, and length 0 there */
		{ s, 0 }, { s, 1 }, { s, 4096 }, { s + 1, 0 }, { s + 1, 1 }, { s + 4096, 100 },
		{ (uint64_t)INT64_MAX, 10 }, { (uint64_t)INT64_MAX + 1, 10 },
		{ UINT64_MAX - 5, 10 }, { UINT64_MAX, 1 }, { UINT64_MAX, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_RANGE(&r, cases[i].off, cases[i].len, i);
	end(&r);
}
END_TEST

static unsigned random_rounds(void)
{
	return test_scale() == TEST_SCALE_FULL ? 3000 : 300;
}

/* A range that mostly lies inside the source, sometimes across or past
 * its end; lengths of every scale up to 256 KiB. */
static void random_range(const struct bc_run *r, uint64_t *seed, uint64_t *off, size_t *len)
{
	static const size_t max_len[] = { 16, 600, 8192, 70000, 262144 };

	*len = (size_t)(next_rand(seed) % (max_len[next_rand(seed) % 5] + 1));
	*off = next_rand(seed) % (r->size + 8192);
	if (next_rand(seed) % 8 == 0)	/* near a block edge */
		*off = (*off & ~(uint64_t)4095) - (next_rand(seed) % 3) + 1;
}

START_TEST(bc_random)
{
	struct bc_run r = begin(_i);
	uint64_t seed = 42;

	for (unsigned i = 0; i < random_rounds(); i++) {
		uint64_t off;
		size_t len;

		random_range(&r, &seed, &off, &len);
		CHECK_RANGE(&r, off, len, seed);
	}
	end(&r);
}
END_TEST

START_TEST(bc_errors)
{
	struct bc_run r = begin(_i);
	static struct eshare_iovec many[ESHARE_BACKEND_IOV_MAX + 1];
	unsigned char buf[ESHARE_BACKEND_IOV_MAX + 1];
	struct eshare_iovec iov[2] = { { buf, 1 }, { NULL, 1 } };
	struct faulty_config cfg = { .kind = FAULTY_ERROR, .nth = 1 };
	eshare_backend *fb = NULL;
	uint64_t size;
	int rc;

	/* bad arguments */
	ck_assert_int_eq(r.t->open(NULL, r.path, r.t->user), -EINVAL);
	ck_assert_int_eq(eshare_backend_read(NULL, buf, 1, 0), -EINVAL);
	ck_assert_int_eq(eshare_backend_read(r.be, NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(eshare_backend_size(NULL, &size), -EINVAL);
	ck_assert_int_eq(eshare_backend_size(r.be, NULL), -EINVAL);
	ck_assert_int_eq(eshare_backend_readv(NULL, iov, 1, 0), -EINVAL);
	ck_assert_int_eq(eshare_backend_readv(r.be, NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(eshare_backend_readv(r.be, iov, 0, 0), -EINVAL);
	ck_assert_int_eq(eshare_backend_readv(r.be, iov, -1, 0), -EINVAL);
	ck_assert_int_eq(eshare_backend_readv(r.be, iov, 2, 0), -EINVAL);
	for (int i = 0; i <= ESHARE_BACKEND_IOV_MAX; i++)
		many[i] = (struct eshare_iovec){ buf + i, 1 };
	ck_assert_int_eq(eshare_backend_readv(r.be, many, ESHARE_BACKEND_IOV_MAX + 1, 0),
			 -EINVAL);
	/* the most buffers one call takes, one byte each */
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(eshare_backend_readv(r.be, many, ESHARE_BACKEND_IOV_MAX, 7), 0);
	ck_assert_mem_eq(buf, r.ref + 7, ESHARE_BACKEND_IOV_MAX);
	/* a source that ends early is -EIO, not a short success */
	ck_assert_int_eq(eshare_backend_read(r.be, buf, 1, r.size), -EIO);
	ck_assert_int_eq(eshare_backend_read(r.be, buf, 2, r.size - 1), -EIO);
	ck_assert_int_eq(eshare_backend_read(r.be, buf, 1, UINT64_MAX), -EIO);
	ck_assert_int_eq(eshare_backend_readv(r.be, many, 2, r.size - 1), -EIO);
	/* the backend still reads right after all that */
	CHECK_RANGE(&r, 3, 4000, 1);

	/*
	 * A source that fails once (a fault-injecting wrapper around the
	 * backend, which takes it): -EIO for that read, the right bytes for
	 * the next, through every path.
	 */
	ck_assert_int_eq(faulty_wrap(&fb, NULL, r.be, &cfg), 0);
	r.be = fb;
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(eshare_backend_read(fb, buf, 1000, 5), -EIO);
	ck_assert_int_eq(eshare_backend_read(fb, buf, 1000, 5), 0);
	ck_assert_mem_eq(buf, r.ref + 5, 1000);
	cfg.nth = 2;
	ck_assert_int_eq(faulty_wrap(&fb, NULL, r.be, &cfg), 0);
	r.be = fb;
	iov[1] = (struct eshare_iovec){ buf + 1, 999 };
	ck_assert_int_eq(eshare_backend_readv(fb, iov, 2, 5), -EIO);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(eshare_backend_readv(fb, iov, 2, 5), 0);
	ck_assert_mem_eq(buf, r.ref + 5, 1000);
	eshare_backend_close(r.be);
	r.be = NULL;
	if (r.t->cleanup)
		r.t->cleanup(r.t->user);

	/* A source the target makes fail: its error comes through unchanged. */
	if (r.t->fault) {
		ck_assert_int_eq(r.t->open(&r.be, r.path, r.t->user), 0);
		CHECK_RANGE(&r, 0, 100, 2);
		rc = r.t->fault(r.be, r.path, r.t->user);
		ck_assert_int_lt(rc, 0);
		ck_assert_int_eq(eshare_backend_call_pread(r.be, buf, 100, 0), rc);
		ck_assert_int_eq(eshare_backend_read(r.be, buf, 100, 0), rc);
		ck_assert_int_eq(eshare_backend_readv(r.be, iov, 1, 0), rc);
		ck_assert_int_eq(eshare_backend_read(r.be, buf, 1, r.size - 1), rc);
		end(&r);
		return;
	}
	/* end() without a backend: the cleanup above was its part */
	unlink(r.path);
	free(r.ref);
}
END_TEST

struct reader {
	const struct bc_run *r;
	uint64_t seed;
	unsigned rounds;
	/* the first failure, if any */
	const char *why;
	uint64_t off;
	size_t len;
	unsigned done;
};

static void *reader_main(void *arg)
{
	struct reader *t = arg;

	for (unsigned i = 0; i < t->rounds && !t->why; i++) {
		uint64_t off;
		size_t len;

		random_range(t->r, &t->seed, &off, &len);
		t->why = check_range(t->r, off, len, t->seed);
		t->off = off;
		t->len = len;
		t->done++;
	}
	return NULL;
}

START_TEST(bc_threads)
{
	struct bc_run r = begin(_i);
	struct reader t[BC_THREADS];
	pthread_t tid[BC_THREADS];
	unsigned rounds = test_scale() == TEST_SCALE_FULL ? 1500 : 200;

	for (int i = 0; i < BC_THREADS; i++) {
		t[i] = (struct reader){ .r = &r, .seed = 1000u + (uint64_t)i, .rounds = rounds };
		ck_assert_int_eq(pthread_create(&tid[i], NULL, reader_main, &t[i]), 0);
	}
	for (int i = 0; i < BC_THREADS; i++)
		ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
	for (int i = 0; i < BC_THREADS; i++) {
		ck_assert_msg(!t[i].why, "%s: thread %d, read of %zu bytes at %llu: %s",
			      r.t->name, i, t[i].len, (unsigned long long)t[i].off, t[i].why);
		ck_assert_uint_eq(t[i].done, rounds);
	}
	end(&r);
}
END_TEST

/* The close method of one backend, wrapped to count its calls. */
static void (*orig_close)(void *);
static void *orig_handle;
static atomic_int closes;
static atomic_int wrong_handle;

static void counting_close(void *h)
{
	atomic_fetch_add(&closes, 1);
	if (h != orig_handle)
		atomic_fetch_add(&wrong_handle, 1);
	if (orig_close)
		orig_close(h);
}

static void count_closes(eshare_backend *be)
{
	orig_close = be->ops.close;
	orig_handle = be->handle;
	atomic_store(&closes, 0);
	atomic_store(&wrong_handle, 0);
	be->ops.close = counting_close;
}

START_TEST(bc_close_once)
{
	struct bc_run r = begin(_i);
	struct bc_run img = { .t = r.t, .idx = r.idx };
	eshare_domain *d = NULL;
	eshare_image *im = NULL;
	eshare_inode *ino = NULL;
	uint64_t fsize;
	unsigned char *fix, buf[BC_FILE_SIZE + 10];
	int rc;

	/* closed by its caller */
	count_closes(r.be);
	eshare_backend_close(r.be);
	r.be = NULL;
	ck_assert_int_eq(atomic_load(&closes), 1);
	ck_assert_int_eq(atomic_load(&wrong_handle), 0);
	if (r.t->cleanup)
		r.t->cleanup(r.t->user);

	/* refused by an image (not EROFS): still the caller's, closed once */
	rc = r.t->open(&r.be, r.path, r.t->user);
	ck_assert_int_eq(rc, 0);
	count_closes(r.be);
	ck_assert_int_eq(eshare_domain_create(&d, NULL), 0);
	ck_assert_int_lt(eshare_image_attach(&im, d, r.be, NULL), 0);
	ck_assert_int_eq(atomic_load(&closes), 0);
	end(&r);
	ck_assert_int_eq(atomic_load(&closes), 1);

	/* taken by an image: closed once, by the image */
	fix = read_back(BC_FIXTURE, &fsize);
	make_file(&img, fix, (size_t)fsize);
	free(fix);
	ck_assert_int_eq(img.t->open(&img.be, img.path, img.t->user), 0);
	count_closes(img.be);
	ck_assert_int_eq(eshare_image_attach(&im, d, img.be, NULL), 0);
	img.be = NULL;
	ck_assert_int_eq(eshare_lookup(&ino, im, BC_FILE), 0);
	ck_assert_int_eq(eshare_pread(ino, buf, sizeof(buf), 0), BC_FILE_SIZE);
	eshare_inode_put(ino);
	ck_assert_int_eq(atomic_load(&closes), 0);
	eshare_image_detach(im);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	ck_assert_int_eq(atomic_load(&closes), 1);
	ck_assert_int_eq(atomic_load(&wrong_handle), 0);
	end(&img);
	ck_assert_int_eq(atomic_load(&closes), 1);
}
END_TEST

TCase *backend_conformance_add(Suite *s, const struct bc_target *t)
{
	int i = ntargets;
	TCase *tc;

	/* not inside a test yet: no ck_assert here */
	if (i >= BC_MAX || !t->name || !t->open) {
		fprintf(stderr, "backend_conformance_add: %s\n",
			i >= BC_MAX ? "too many targets" : "a target needs a name and open");
		abort();
	}
	targets[i] = *t;
	ntargets++;
	runner = getpid();
	snprintf(tc_names[i], sizeof(tc_names[i]), "conformance:%s", t->name);
	tc = tcase_create(tc_names[i]);
	/* Check tears down in the reverse order: ours before the target's. */
	if (t->fixture_setup || t->fixture_teardown)
		tcase_add_unchecked_fixture(tc, t->fixture_setup, t->fixture_teardown);
	tcase_add_unchecked_fixture(tc, NULL, remove_work_dirs);
	tcase_add_loop_test(tc, bc_size, i, i + 1);
	tcase_add_loop_test(tc, bc_boundaries, i, i + 1);
	tcase_add_loop_test(tc, bc_random, i, i + 1);
	tcase_add_loop_test(tc, bc_errors, i, i + 1);
	tcase_add_loop_test(tc, bc_threads, i, i + 1);
	tcase_add_loop_test(tc, bc_close_once, i, i + 1);
	suite_add_tcase(s, tc);
	return tc;
}
