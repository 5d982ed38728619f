// SPDX-License-Identifier: MIT
/*
 * The loop backend against the real loop driver: every fixture read through
 * a device it attached, devices listed by losetup while open and gone after
 * close, distinct devices for concurrent opens, nothing left behind by a
 * process killed with SIGKILL, and an existing /dev/loopN used as it is.
 *
 * Fixtures are copied into a private directory first, so that a device can
 * be recognised in `losetup -a` by its backing path even while other tests
 * attach the same fixtures; the unchecked teardown (which runs in the parent
 * process, after a failed test too) detaches anything still bound to a copy.
 *
 * Then the backend conformance suite (helpers/backend_conformance.h) runs
 * on the loop backend, through the page cache and with direct I/O.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <erofs_share/backend.h>
#include "backend_impl.h"
#include "helpers/backend_conformance.h"
#include "helpers/fixture_copies.h"




/* ---- helpers ---- */

/* Does `losetup -a` list @dev with backing file @backing? */
static bool listed(const char *dev, const char *backing)
{
	char line[1024], pat[PATH_MAX + 4];
	size_t dl = strlen(dev);
	FILE *p = popen("losetup -a", "r");
	bool found = false;

	ck_assert_ptr_nonnull(p);
	snprintf(pat, sizeof(pat), "(%s)", backing);
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, dev, dl) && line[dl] == ':' && strstr(line, pat))
			found = true;
	/* Not its status: losetup may complain about a device that another
	 * process detached while it was listing; ours are checked while we
	 * hold them, so a broken losetup still fails the positive checks. */
	pclose(p);
	return found;
}

/* Any device at all bound to a file of our directory? */
static int count_ours(void)
{
	char line[1024], pat[PATH_MAX + 4];
	FILE *p = popen("losetup -a", "r");
	int n = 0;

	ck_assert_ptr_nonnull(p);
	snprintf(pat, sizeof(pat), "(%s/", fc_dir);
	while (fgets(line, sizeof(line), p))
		n += strstr(line, pat) != NULL;
	pclose(p);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Poll until @dev no longer holds @backing; true if it let go in time. */
static bool wait_gone(const char *dev, const char *backing, int ms)
{
	for (int t = 0; t < ms; t += 50) {
		if (!listed(dev, backing))
			return true;
		sleep_ms(50);
	}
	return !listed(dev, backing);
}

static int sysfs_flag(const char *dev, const char *attr)
{
	char path[256], *v, *base = strrchr(dev, '/');
	size_t len;
	int ret;

	snprintf(path, sizeof(path), "/sys/block/%s/%s", base + 1, attr);
	v = (char *)fc_slurp(path, &len);
	if (!v)
		return -1;
	v[len] = 0;
	ret = atoi(v);
	free(v);
	return ret;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random ranges, many of them unaligned, read and compared with @ref. */
static long check_random_reads(eshare_backend *be, const unsigned char *ref, size_t len,
			       uint64_t seed, int count)
{
	unsigned char *buf = malloc(70000);
	long bad = 0;

	for (int i = 0; i < count; i++) {
		uint64_t off = rnd(&seed) % len;
		size_t n = 1 + rnd(&seed) % 65536;
		/* An odd address, so O_DIRECT must bounce even when the
		 * offset and length happen to be aligned. */
		unsigned char *dst = buf + 1 + (i & 1) * 511;

		if (n > len - off)
			n = len - off;
		if (eshare_backend_read(be, dst, n, off) || memcmp(dst, ref + off, n))
			bad++;
	}
	free(buf);
	return bad;
}

static void check_whole(eshare_backend *be, const unsigned char *ref, size_t len)
{
	unsigned char *buf = malloc(len);
	uint64_t size;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(eshare_backend_size(be, &size), 0);
	/* The loop driver sizes a device in 512-byte sectors, rounding down;
	 * every fixture is a multiple of 512. */
	ck_assert_uint_eq(len % 512, 0);
	ck_assert_uint_eq(size, len);
	ck_assert_int_eq(eshare_backend_read(be, buf, len, 0), 0);
	ck_assert_msg(!memcmp(buf, ref, len), "bytes differ");
	/* Nothing beyond the end. */
	ck_assert_int_eq(eshare_backend_read(be, buf, 1, len), -EIO);
	ck_assert_int_eq(be->ops.pread(be->handle, buf, 100, len - 10), 10);
	ck_assert_int_eq(memcmp(buf, ref + len - 10, 10), 0);
	free(buf);
}

static void copies_setup(void)
{
	fc_setup("loop", "test_loop", false);
}

static bool is_loop_path(const char *p)
{
	size_t n = strlen("/dev/loop");

	if (!p || strncmp(p, "/dev/loop", n) || !p[n])
		return false;
	return strspn(p + n, "0123456789") == strlen(p + n);
}

/* ---- tests ---- */

static void fixtures_through_loop(uint32_t flags)
{
	struct eshare_blockdev_opts opts = ESHARE_BLOCKDEV_OPTS_INIT;

	opts.flags = flags;
	for (int i = 0; i < fc_n; i++) {
		eshare_backend *be;
		size_t len;
		unsigned char *ref = fc_slurp(fc_copy[i], &len);
		char *dev;

		ck_assert_ptr_nonnull(ref);
		ck_assert_int_eq(eshare_backend_open_loop(&be, fc_copy[i], &opts), 0);
		ck_assert_str_eq(eshare_backend_name(be), "loop");
		ck_assert_msg(is_loop_path(eshare_backend_device_path(be)), "device path %s",
			      eshare_backend_device_path(be));
		dev = strdup(eshare_backend_device_path(be));
		ck_assert_msg(listed(dev, fc_copy[i]), "%s not listed for %s", dev, fc_copy[i]);
		ck_assert_int_eq(sysfs_flag(dev, "ro"), 1);
		ck_assert_int_eq(sysfs_flag(dev, "loop/autoclear"), 1);
		ck_assert_int_eq(sysfs_flag(dev, "loop/dio"), flags ? 1 : 0);
		ck_assert_uint_ge(be->ops.block_size(be->handle), 512);
		check_whole(be, ref, len);
		ck_assert_int_eq(check_random_reads(be, ref, len, 0x9e3779b97f4a7c15ull + i, 60),
				 0);
		eshare_backend_close(be);
		ck_assert_msg(wait_gone(dev, fc_copy[i], 5000), "%s still bound after close", dev);
		free(dev);
		free(ref);
	}
	ck_assert_int_eq(count_ours(), 0);
}

START_TEST(test_loop_fixtures)
{
	fixtures_through_loop(0);
}
END_TEST

START_TEST(test_loop_fixtures_direct)
{
	fixtures_through_loop(ESHARE_BLOCKDEV_DIRECT);
}
END_TEST

START_TEST(test_loop_legacy)
{
	const char *file = fc_named("lz4.erofs");
	eshare_backend *be;
	size_t len;
	unsigned char *ref = fc_slurp(file, &len);
	char *dev;

	ck_assert_int_eq(eshare_loop_open_legacy(&be, file, NULL), 0);
	dev = strdup(eshare_backend_device_path(be));
	ck_assert(is_loop_path(dev));
	ck_assert(listed(dev, file));
	ck_assert_int_eq(sysfs_flag(dev, "ro"), 1);
	ck_assert_int_eq(sysfs_flag(dev, "loop/autoclear"), 1);
	check_whole(be, ref, len);
	eshare_backend_close(be);
	ck_assert(wait_gone(dev, file, 5000));
	free(dev);
	free(ref);
}
END_TEST

#define NTHREADS 4

struct opener {
	pthread_barrier_t *bar;
	const char *file;
	eshare_backend *be;
	int rc;
};

static void *open_thread(void *arg)
{
	struct opener *o = arg;

	pthread_barrier_wait(o->bar);
	o->rc = eshare_backend_open_loop(&o->be, o->file, NULL);
	return NULL;
}

START_TEST(test_loop_concurrent_opens)
{
	pthread_barrier_t bar;
	struct opener o[NTHREADS];
	pthread_t t[NTHREADS];

	/* Several rounds: the threads all ask LOOP_CTL_GET_FREE at once and
	 * are handed the same device, so all but one must retry. */
	for (int round = 0; round < 5; round++) {
		pthread_barrier_init(&bar, NULL, NTHREADS);
		for (int i = 0; i < NTHREADS; i++) {
			o[i] = (struct opener){ &bar, fc_copy[(i + round) % fc_n], NULL, -1 };
			ck_assert_int_eq(pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
		}
		for (int i = 0; i < NTHREADS; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&bar);
		for (int i = 0; i < NTHREADS; i++) {
			size_t len;
			unsigned char *ref = fc_slurp(o[i].file, &len);

			ck_assert_int_eq(o[i].rc, 0);
			ck_assert(listed(eshare_backend_device_path(o[i].be), o[i].file));
			for (int j = 0; j < i; j++)
				ck_assert_str_ne(eshare_backend_device_path(o[i].be),
						 eshare_backend_device_path(o[j].be));
			ck_assert_int_eq(check_random_reads(o[i].be, ref, len, 7 + i, 20), 0);
			free(ref);
		}
		for (int i = 0; i < NTHREADS; i++) {
			char *dev = strdup(eshare_backend_device_path(o[i].be));

			eshare_backend_close(o[i].be);
			ck_assert(wait_gone(dev, o[i].file, 5000));
			free(dev);
		}
	}
	ck_assert_int_eq(count_ours(), 0);
}
END_TEST

START_TEST(test_loop_sigkill)
{
	const char *file = fc_named("zstd.erofs");
	char dev[64] = "";
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		eshare_backend *be;
		const char *p;

		close(pfd[0]);
		if (eshare_backend_open_loop(&be, file, NULL))
			_exit(1);
		p = eshare_backend_device_path(be);
		if (write(pfd[1], p, strlen(p)) < 0)
			_exit(1);
		close(pfd[1]);
		for (;;)
			pause();
	}
	close(pfd[1]);
	n = read(pfd[0], dev, sizeof(dev) - 1);
	close(pfd[0]);
	ck_assert_int_gt(n, 0);
	dev[n] = 0;
	ck_assert(is_loop_path(dev));
	ck_assert(listed(dev, file));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_msg(wait_gone(dev, file, 5000), "%s leaked by a killed process", dev);
	ck_assert_int_eq(count_ours(), 0);
}
END_TEST

START_TEST(test_loop_existing)
{
	const char *file = fc_named("plain-4k.erofs");
	char cmd[PATH_MAX + 64], *dev;
	eshare_backend *be;
	size_t len;
	unsigned char *ref = fc_slurp(file, &len);
	int rc;

	snprintf(cmd, sizeof(cmd), "losetup -r -f --show '%s'", file);
	dev = fc_cmd_line(cmd);
	ck_assert(is_loop_path(dev));
	ck_assert(listed(dev, file));
	for (int direct = 0; direct < 2; direct++) {
		struct eshare_blockdev_opts opts = ESHARE_BLOCKDEV_OPTS_INIT;

		opts.flags = direct ? ESHARE_BLOCKDEV_DIRECT : 0;
		ck_assert_int_eq(eshare_backend_open_loop(&be, dev, &opts), 0);
		ck_assert_str_eq(eshare_backend_device_path(be), dev);
		ck_assert_str_eq(eshare_backend_name(be), "loop");
		check_whole(be, ref, len);
		ck_assert_int_eq(check_random_reads(be, ref, len, 99, 100), 0);
		eshare_backend_close(be);
		/* Ours to read, not ours to detach (losetup set no autoclear,
		 * but check for a while in case something detached it). */
		sleep_ms(300);
		ck_assert_msg(listed(dev, file), "%s was detached", dev);
	}
	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert(wait_gone(dev, file, 5000));
	/* Now unbound: it reads as nothing, so it is refused.  Someone else
	 * may grab the free device in between; then it is bound to their
	 * file and opens. */
	rc = eshare_backend_open_loop(&be, dev, NULL);
	if (!rc)
		eshare_backend_close(be);
	else
		ck_assert_int_eq(rc, -ENXIO);
	free(dev);
	free(ref);
}
END_TEST

struct reader {
	eshare_backend *be;
	const unsigned char *ref;
	size_t len;
	uint64_t seed;
	long bad;
};

static void *read_thread(void *arg)
{
	struct reader *r = arg;

	r->bad = check_random_reads(r->be, r->ref, r->len, r->seed, 400);
	return NULL;
}

START_TEST(test_loop_parallel_reads)
{
	const char *file = fc_named("plain-512.erofs");
	size_t len;
	unsigned char *ref = fc_slurp(file, &len);

	for (int direct = 0; direct < 2; direct++) {
		struct eshare_blockdev_opts opts = ESHARE_BLOCKDEV_OPTS_INIT;
		struct reader r[NTHREADS];
		pthread_t t[NTHREADS];
		eshare_backend *be;
		char *dev;

		opts.flags = direct ? ESHARE_BLOCKDEV_DIRECT : 0;
		ck_assert_int_eq(eshare_backend_open_loop(&be, file, &opts), 0);
		dev = strdup(eshare_backend_device_path(be));
		for (int i = 0; i < NTHREADS; i++) {
			r[i] = (struct reader){ be, ref, len, 1234567 + i * 77, -1 };
			ck_assert_int_eq(pthread_create(&t[i], NULL, read_thread, &r[i]), 0);
		}
		for (int i = 0; i < NTHREADS; i++) {
			pthread_join(t[i], NULL);
			ck_assert_int_eq(r[i].bad, 0);
		}
		eshare_backend_close(be);
		ck_assert(wait_gone(dev, file, 5000));
		free(dev);
	}
	free(ref);
}
END_TEST

START_TEST(test_loop_errors)
{
	struct eshare_blockdev_opts opts = ESHARE_BLOCKDEV_OPTS_INIT;
	struct {
		struct eshare_blockdev_opts o;
		uint32_t extra;
	} big = { { sizeof(big), 0 }, 1 };
	eshare_backend *be = NULL;
	char missing[PATH_MAX];

	snprintf(missing, sizeof(missing), "%s/none.erofs", fc_dir);
	ck_assert_int_eq(eshare_backend_open_loop(&be, missing, NULL), -ENOENT);
	ck_assert_int_eq(eshare_backend_open_loop(&be, fc_dir, NULL), -EISDIR);
	ck_assert_int_eq(eshare_backend_open_loop(&be, "/dev/null", NULL), -EINVAL);
	ck_assert_int_eq(eshare_backend_open_loop(NULL, fc_copy[0], NULL), -EINVAL);
	ck_assert_int_eq(eshare_backend_open_loop(&be, NULL, NULL), -EINVAL);
	opts.flags = 0x80;
	ck_assert_int_eq(eshare_backend_open_loop(&be, fc_copy[0], &opts), -EINVAL);
	ck_assert_int_eq(eshare_backend_open_loop(&be, fc_copy[0], &big.o), -E2BIG);
	opts.size = 2;
	opts.flags = 0;
	ck_assert_int_eq(eshare_backend_open_loop(&be, fc_copy[0], &opts), -EINVAL);
	ck_assert_ptr_null(be);
	/* A larger struct with a zero tail is fine. */
	big.extra = 0;
	ck_assert_int_eq(eshare_backend_open_loop(&be, fc_copy[0], &big.o), 0);
	eshare_backend_close(be);
	ck_assert_int_eq(eshare_backend_open(&be, "loop", fc_copy[1]), 0);
	ck_assert_str_eq(eshare_backend_name(be), "loop");
	ck_assert(is_loop_path(eshare_backend_device_path(be)));
	eshare_backend_close(be);
	for (int t = 0; t < 100 && count_ours(); t++)
		sleep_ms(50);
	ck_assert_int_eq(count_ours(), 0);
}
END_TEST

/* The conformance suite's opener: @user non-NULL asks for direct I/O. */
static int open_loop_target(eshare_backend **out, const char *path, void *user)
{
	struct eshare_blockdev_opts opts = ESHARE_BLOCKDEV_OPTS_INIT;

	opts.flags = user ? ESHARE_BLOCKDEV_DIRECT : 0;
	return eshare_backend_open_loop(out, path, &opts);
}

static void add_conformance(Suite *s, const char *name, void *direct)
{
	TCase *tc = backend_conformance_add(s, &(struct bc_target){
		.name = name, .open = open_loop_target, .user = direct,
		.size_unit = 512, .dir = fc_dir,
		.fixture_setup = copies_setup, .fixture_teardown = fc_teardown });

	tcase_add_checked_fixture(tc, fc_detach_leftovers, NULL);
	tcase_set_timeout(tc, 300);
}

static Suite *loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");

	tcase_add_unchecked_fixture(tc, copies_setup, fc_teardown);
	tcase_add_checked_fixture(tc, fc_detach_leftovers, NULL);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_loop_fixtures);
	tcase_add_test(tc, test_loop_fixtures_direct);
	tcase_add_test(tc, test_loop_legacy);
	tcase_add_test(tc, test_loop_concurrent_opens);
	tcase_add_test(tc, test_loop_sigkill);
	tcase_add_test(tc, test_loop_existing);
	tcase_add_test(tc, test_loop_parallel_reads);
	tcase_add_test(tc, test_loop_errors);
	suite_add_tcase(s, tc);
	add_conformance(s, "loop", NULL);
	add_conformance(s, "loop-direct", s);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		printf("test_loop: skipped, needs root to configure loop devices\n");
		return 77;
	}
	if (access("/dev/loop-control", F_OK)) {
		printf("test_loop: skipped, no /dev/loop-control\n");
		return 77;
	}
	if (system("losetup --version >/dev/null 2>&1")) {
		printf("test_loop: skipped, no losetup(8)\n");
		return 77;
	}
	sr = srunner_create(loop_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
