// SPDX-License-Identifier: MIT
/*
 * The block-device backend against real block devices: every fixture is
 * attached to a loop device with losetup(8) and read back through the
 * backend, through the page cache and with O_DIRECT, whole and in unaligned
 * pieces, from one thread and from several.  Then whole images are read
 * through the file, blockdev and loop backends and must agree file by file
 * (and with the kernel's manifest).
 *
 * Fixtures are copied into a private directory first, so a device is known
 * to be ours by its backing path in `losetup -a`; the unchecked teardown
 * (run in the parent process, after a failed test too) detaches anything
 * still bound to a copy.
 *
 * The backend conformance suite (helpers/backend_conformance.h) runs on the
 * blockdev backend too, over devices attached with losetup(8), through the
 * page cache and with O_DIRECT.
 *
 * Under TSan (helpers/scale.h) the single-threaded loops over every fixture
 * take every eighth one: the threaded reads are what that build is for.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <erofs_share/backend.h>
#include <erofs_share/erofs_share.h>
#include "backend_impl.h"
#include "helpers/backend_conformance.h"
#include "helpers/fixture_copies.h"
#include "helpers/scale.h"

#define NTHREADS 4

/* Whether the single-threaded loops take fixture @i (all but under TSan). */
static bool fixture_sampled(int i)
{
	return test_scale() != TEST_SCALE_THREADS || i % 8 == 0;
}


/* ---- helpers ---- */

/* Attach @file read-only to a free loop device; its path. */
static char *losetup_attach(const char *file, const char *extra)
{
	char cmd[PATH_MAX + 64];
	char *dev;

	snprintf(cmd, sizeof(cmd), "losetup -r -f --show %s '%s'", extra, file);
	dev = fc_cmd_line(cmd);
	ck_assert_msg(dev && !strncmp(dev, "/dev/loop", 9), "losetup gave %s", dev);
	return dev;
}

static void losetup_detach(char *dev)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	ck_assert_int_eq(system(cmd), 0);
	free(dev);
}

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

/* Autoclear is asynchronous to our close: poll for a few seconds. */
static int wait_none_ours(void)
{
	for (int t = 0; t < 100 && count_ours(); t++)
		sleep_ms(50);
	return count_ours();
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random ranges, most unaligned, read and compared with @ref. */
static long check_random_reads(eshare_backend *be, const unsigned char *ref, size_t len,
			       uint64_t seed, int count)
{
	unsigned char *buf = malloc(140000);
	long bad = 0;

	for (int i = 0; i < count; i++) {
		uint64_t off = rnd(&seed) % len;
		/* Up to 128 KiB + a bit: larger than one bounce buffer. */
		size_t n = 1 + rnd(&seed) % 135000;
		unsigned char *dst = buf + 1 + (i & 1) * 511;

		if (n > len - off)
			n = len - off;
		if (eshare_backend_read(be, dst, n, off) || memcmp(dst, ref + off, n))
			bad++;
	}
	free(buf);
	return bad;
}

/* Reads at the edges of logical blocks: one byte either side and across. */
static void check_edges(eshare_backend *be, const unsigned char *ref, size_t len, uint32_t lbs)
{
	unsigned char buf[3 * 65536 + 8];
	uint64_t offs[] = { 0, 1, lbs - 1, lbs, lbs + 1, 2 * lbs - 1, len - lbs - 1, len - lbs,
			    len - 2, len - 1 };

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		for (size_t n = 1; n <= 2 * lbs + 1 && offs[i] + n <= len; n += lbs / 2 + 1) {
			ck_assert_int_eq(eshare_backend_read(be, buf + 3, n, offs[i]), 0);
			ck_assert_msg(!memcmp(buf + 3, ref + offs[i], n), "off %llu len %zu",
				      (unsigned long long)offs[i], n);
		}
	}
}

static void check_whole(eshare_backend *be, const unsigned char *ref, size_t len)
{
	unsigned char *buf = malloc(len + 4096), *al;
	uint64_t size;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(eshare_backend_size(be, &size), 0);
	/* The loop driver sizes a device in 512-byte sectors, rounding down;
	 * every fixture is a multiple of 512. */
	ck_assert_uint_eq(len % 512, 0);
	ck_assert_uint_eq(size, len);
	/* Once at an odd address, once aligned (the no-bounce path). */
	ck_assert_int_eq(eshare_backend_read(be, buf + 1, len, 0), 0);
	ck_assert_msg(!memcmp(buf + 1, ref, len), "bytes differ");
	al = (unsigned char *)(((uintptr_t)buf + 4095) & ~(uintptr_t)4095);
	memset(al, 0, len);
	ck_assert_int_eq(eshare_backend_read(be, al, len, 0), 0);
	ck_assert_msg(!memcmp(al, ref, len), "bytes differ (aligned)");
	/* Past the end: a short read from the method, -EIO from read. */
	ck_assert_int_eq(eshare_backend_read(be, buf, 1, len), -EIO);
	ck_assert_int_eq(be->ops.pread(be->handle, buf, 100, len - 10), 10);
	ck_assert_int_eq(memcmp(buf, ref + len - 10, 10), 0);
	ck_assert_int_eq(be->ops.pread(be->handle, buf, 100, len), 0);
	ck_assert_int_eq(be->ops.pread(be->handle, buf, 100, UINT64_MAX - 5), 0);
	free(buf);
}

static void copies_setup(void)
{
	fc_setup("bdev", "test_blockdev", true);
}

static bool is_image(const char *path)
{
	size_t n = strlen(path);

	return n > 6 && !strcmp(path + n - 6, ".erofs");
}

static eshare_backend *open_bdev(const char *dev, bool direct)
{
	struct eshare_blockdev_opts opts = ESHARE_BLOCKDEV_OPTS_INIT;
	eshare_backend *be = NULL;

	opts.flags = direct ? ESHARE_BLOCKDEV_DIRECT : 0;
	ck_assert_int_eq(eshare_backend_open_blockdev(&be, dev, &opts), 0);
	return be;
}

/* ---- raw backend tests ---- */

START_TEST(test_blockdev_fixtures)
{
	for (int i = 0; i < fc_n; i++) {
		size_t len;
		unsigned char *ref;
		char *dev;

		if (!fixture_sampled(i))
			continue;
		ref = fc_slurp(fc_copy[i], &len);
		dev = losetup_attach(fc_copy[i], "");

		for (int direct = 0; direct < 2; direct++) {
			eshare_backend *be = open_bdev(dev, direct);

			ck_assert_str_eq(eshare_backend_name(be), "blockdev");
			ck_assert_ptr_null(eshare_backend_device_path(be));
			/* A loop device's default logical block size. */
			ck_assert_uint_eq(be->ops.block_size(be->handle), 512);
			check_whole(be, ref, len);
			check_edges(be, ref, len, 512);
			ck_assert_int_eq(check_random_reads(be, ref, len, 0xabcdef12345ull + i, 40),
					 0);
			eshare_backend_close(be);
		}
		losetup_detach(dev);
		free(ref);
	}
	ck_assert_int_eq(wait_none_ours(), 0);
}
END_TEST

/* A 4 KiB logical block: O_DIRECT now needs 4 KiB alignment everywhere. */
START_TEST(test_blockdev_4k_sectors)
{
	const char *file = fc_named("plain-4k.erofs");
	size_t len;
	unsigned char *ref = fc_slurp(file, &len);
	char *dev = losetup_attach(file, "-b 4096");

	for (int direct = 0; direct < 2; direct++) {
		eshare_backend *be = open_bdev(dev, direct);

		ck_assert_uint_eq(be->ops.block_size(be->handle), 4096);
		check_whole(be, ref, len);
		check_edges(be, ref, len, 4096);
		ck_assert_int_eq(check_random_reads(be, ref, len, 42, 300), 0);
		eshare_backend_close(be);
	}
	losetup_detach(dev);
	free(ref);
}
END_TEST

START_TEST(test_blockdev_errors)
{
	struct eshare_blockdev_opts opts = ESHARE_BLOCKDEV_OPTS_INIT;
	struct {
		struct eshare_blockdev_opts o;
		uint32_t extra;
	} big = { { sizeof(big), 0 }, 1 };
	eshare_backend *be = NULL;
	char missing[PATH_MAX], *dev;

	snprintf(missing, sizeof(missing), "%s/none", fc_dir);
	ck_assert_int_eq(eshare_backend_open_blockdev(&be, fc_copy[0], NULL), -ENOTBLK);
	opts.flags = ESHARE_BLOCKDEV_DIRECT;
	ck_assert_int_eq(eshare_backend_open_blockdev(&be, fc_copy[0], &opts), -ENOTBLK);
	ck_assert_int_eq(eshare_backend_open_blockdev(&be, fc_dir, NULL), -ENOTBLK);
	ck_assert_int_eq(eshare_backend_open_blockdev(&be, "/dev/null", NULL), -ENOTBLK);
	ck_assert_int_eq(eshare_backend_open_blockdev(&be, missing, NULL), -ENOENT);
	ck_assert_int_eq(eshare_backend_open_blockdev(NULL, fc_copy[0], NULL), -EINVAL);
	ck_assert_int_eq(eshare_backend_open_blockdev(&be, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(be);

	dev = losetup_attach(fc_copy[0], "");
	opts.flags = 0x2;
	ck_assert_int_eq(eshare_backend_open_blockdev(&be, dev, &opts), -EINVAL);
	opts.flags = 0;
	opts.size = 3;
	ck_assert_int_eq(eshare_backend_open_blockdev(&be, dev, &opts), -EINVAL);
	ck_assert_int_eq(eshare_backend_open_blockdev(&be, dev, &big.o), -E2BIG);
	ck_assert_ptr_null(be);
	big.extra = 0;
	ck_assert_int_eq(eshare_backend_open_blockdev(&be, dev, &big.o), 0);
	eshare_backend_close(be);
	ck_assert_int_eq(eshare_backend_open_blockdev(&be, dev, NULL), 0);
	eshare_backend_close(be);
	losetup_detach(dev);
}
END_TEST

START_TEST(test_backend_open_kinds)
{
	const char *file = fc_named("lz4.erofs");
	size_t len;
	unsigned char *ref = fc_slurp(file, &len);
	eshare_backend *be;
	char *dev;

	ck_assert_int_eq(eshare_backend_open(&be, "file", file), 0);
	ck_assert_str_eq(eshare_backend_name(be), "file");
	check_whole(be, ref, len);
	eshare_backend_close(be);

	dev = losetup_attach(file, "");
	ck_assert_int_eq(eshare_backend_open(&be, "blockdev", dev), 0);
	ck_assert_str_eq(eshare_backend_name(be), "blockdev");
	check_whole(be, ref, len);
	eshare_backend_close(be);
	losetup_detach(dev);

	ck_assert_int_eq(eshare_backend_open(&be, "loop", file), 0);
	ck_assert_str_eq(eshare_backend_name(be), "loop");
	ck_assert_ptr_nonnull(eshare_backend_device_path(be));
	check_whole(be, ref, len);
	eshare_backend_close(be);

	be = NULL;
	ck_assert_int_eq(eshare_backend_open(&be, "blockdev", file), -ENOTBLK);
	ck_assert_int_eq(eshare_backend_open(&be, "nbd", file), -EINVAL);
	ck_assert_int_eq(eshare_backend_open(&be, "", file), -EINVAL);
	ck_assert_int_eq(eshare_backend_open(&be, NULL, file), -EINVAL);
	ck_assert_int_eq(eshare_backend_open(&be, "file", NULL), -EINVAL);
	ck_assert_int_eq(eshare_backend_open(NULL, "file", file), -EINVAL);
	ck_assert_ptr_null(be);
	free(ref);
	ck_assert_int_eq(wait_none_ours(), 0);
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

	r->bad = check_random_reads(r->be, r->ref, r->len, r->seed, 300);
	return NULL;
}

static void parallel_reads(eshare_backend *be, const unsigned char *ref, size_t len)
{
	struct reader r[NTHREADS];
	pthread_t t[NTHREADS];

	for (int i = 0; i < NTHREADS; i++) {
		r[i] = (struct reader){ be, ref, len, 777 + i * 1001, -1 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, read_thread, &r[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(r[i].bad, 0);
	}
}

START_TEST(test_parallel_reads)
{
	const char *file = fc_named("chunk-4k.erofs");
	struct eshare_blockdev_opts opts = ESHARE_BLOCKDEV_OPTS_INIT;
	size_t len;
	unsigned char *ref = fc_slurp(file, &len);
	const char *sectors[] = { "", "-b 4096" };
	eshare_backend *be;

	for (int s = 0; s < 2; s++) {
		char *dev = losetup_attach(file, sectors[s]);

		for (int direct = 0; direct < 2; direct++) {
			be = open_bdev(dev, direct);
			parallel_reads(be, ref, len);
			eshare_backend_close(be);
		}
		losetup_detach(dev);
	}
	for (int direct = 0; direct < 2; direct++) {
		opts.flags = direct ? ESHARE_BLOCKDEV_DIRECT : 0;
		ck_assert_int_eq(eshare_backend_open_loop(&be, file, &opts), 0);
		parallel_reads(be, ref, len);
		eshare_backend_close(be);
	}
	free(ref);
	ck_assert_int_eq(wait_none_ours(), 0);
}
END_TEST

/* ---- whole images through each backend ---- */

enum { VIA_FILE, VIA_BLOCKDEV, VIA_LOOP, NVIA };

struct trio {
	eshare_image *img[NVIA];
	char **sums;		/* hex sha256 of every regular file */
	size_t nsums, cap;
	uint64_t bytes;
};

struct ent {
	char *name;
	unsigned type;
};

struct ents {
	struct ent *v;
	size_t n, cap;
};

static int collect(void *user, const char *name, size_t namelen, uint64_t ino, unsigned type,
		   uint64_t next)
{
	struct ents *e = user;

	if ((namelen == 1 && name[0] == '.') || (namelen == 2 && !memcmp(name, "..", 2)))
		return 0;
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 64;
		e->v = realloc(e->v, e->cap * sizeof(*e->v));
		ck_assert_ptr_nonnull(e->v);
	}
	e->v[e->n].name = strndup(name, namelen);
	e->v[e->n].type = type;
	e->n++;
	return 0;
}

static unsigned char *read_all(eshare_image *img, const char *path, uint64_t *size)
{
	struct eshare_stat st = ESHARE_STAT_INIT;
	eshare_inode *ino;
	unsigned char *buf;
	uint64_t done = 0;

	ck_assert_int_eq(eshare_lookup(&ino, img, path), 0);
	ck_assert_int_eq(eshare_stat(ino, &st), 0);
	buf = malloc(st.file_size + 1);
	ck_assert_ptr_nonnull(buf);
	while (done < st.file_size) {
		/* Odd chunk sizes so reads straddle blocks and clusters. */
		size_t want = st.file_size - done < 50001 ? st.file_size - done : 50001;
		ssize_t n = eshare_pread(ino, buf + done, want, done);

		ck_assert_msg(n > 0, "%s: pread at %llu: %zd", path, (unsigned long long)done, n);
		done += (uint64_t)n;
	}
	ck_assert_int_eq(eshare_pread(ino, buf, 1, st.file_size), 0);
	eshare_inode_put(ino);
	*size = st.file_size;
	return buf;
}

static void compare_file(struct trio *t, const char *path)
{
	unsigned char *data[NVIA], md[32];
	uint64_t size[NVIA];
	char hex[65];

	for (int k = 0; k < NVIA; k++) {
		data[k] = read_all(t->img[k], path, &size[k]);
		if (k) {
			ck_assert_uint_eq(size[k], size[0]);
			ck_assert_msg(!memcmp(data[k], data[0], size[0]), "%s differs (via %d)",
				      path, k);
		}
	}
	ck_assert_int_eq(EVP_Digest(data[0], size[0], md, NULL, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (t->nsums == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 1024;
		t->sums = realloc(t->sums, t->cap * sizeof(*t->sums));
		ck_assert_ptr_nonnull(t->sums);
	}
	t->sums[t->nsums++] = strdup(hex);
	t->bytes += size[0];
	for (int k = 0; k < NVIA; k++)
		free(data[k]);
}

static void walk(struct trio *t, eshare_inode *dir, const char *path)
{
	struct ents e = { 0 };
	uint64_t cookie = 0;

	ck_assert_int_eq(eshare_readdir(dir, &cookie, collect, &e), 0);
	for (size_t i = 0; i < e.n; i++) {
		size_t plen = strlen(path) + strlen(e.v[i].name) + 2;
		char *sub = malloc(plen);

		snprintf(sub, plen, "%s/%s", strcmp(path, "/") ? path : "", e.v[i].name);
		if (e.v[i].type == ESHARE_DT_DIR) {
			eshare_inode *d;

			ck_assert_int_eq(eshare_lookup_at(&d, dir, e.v[i].name,
							  strlen(e.v[i].name)), 0);
			walk(t, d, sub);
			eshare_inode_put(d);
		} else if (e.v[i].type == ESHARE_DT_REG) {
			compare_file(t, sub);
		}
		free(sub);
		free(e.v[i].name);
	}
	free(e.v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sha256 column of every "reg" line of the kernel's manifest. */
static char **manifest_sums(const char *image, size_t *n)
{
	char path[PATH_MAX], *line = NULL;
	const char *base = strrchr(image, '/') + 1;
	size_t cap = 0, cnt = 0, lcap = 0;
	char **v = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.manifest", ESHARE_FIXTURES, base);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (getline(&line, &lcap, f) > 0) {
		char *col[14], *save = NULL, *p = line;
		int c = 0;

		if (line[0] == '#')
			continue;
		line[strcspn(line, "\n")] = 0;
		for (char *tok; c < 14 && (tok = strtok_r(p, "\t", &save)); p = NULL)
			col[c++] = tok;
		ck_assert_int_eq(c, 14);
		if (strcmp(col[1], "reg"))
			continue;
		if (cnt == cap) {
			cap = cap ? 2 * cap : 1024;
			v = realloc(v, cap * sizeof(*v));
			ck_assert_ptr_nonnull(v);
		}
		v[cnt++] = strdup(col[11]);
	}
	free(line);
	fclose(f);
	*n = cnt;
	return v;
}

static void image_through_backends(const char *image, int idx)
{
	struct eshare_domain_opts dopts = ESHARE_DOMAIN_OPTS_INIT;
	bool multi = strstr(image, "/multidev.erofs") != NULL;
	const char *blob = multi ? fc_named("multidev.blob") : NULL;
	struct eshare_blockdev_opts bopts = ESHARE_BLOCKDEV_OPTS_INIT;
	char *dev = losetup_attach(image, ""), *blobdev = NULL;
	struct trio t = { 0 };
	eshare_domain *d;
	eshare_inode *root;
	char **want;
	size_t nwant;

	/* Alternate the read mode so both paths run under a real image. */
	bopts.flags = (idx & 1) ? ESHARE_BLOCKDEV_DIRECT : 0;
	ck_assert_int_eq(eshare_domain_create(&d, &dopts), 0);
	if (multi)
		blobdev = losetup_attach(blob, "");
	for (int k = 0; k < NVIA; k++) {
		struct eshare_image_opts iopts = ESHARE_IMAGE_OPTS_INIT;
		eshare_backend *prim = NULL, *extra = NULL;
		int rc;

		switch (k) {
		case VIA_FILE:
			ck_assert_int_eq(eshare_backend_open_file(&prim, image), 0);
			if (multi)
				ck_assert_int_eq(eshare_backend_open_file(&extra, blob), 0);
			break;
		case VIA_BLOCKDEV:
			ck_assert_int_eq(eshare_backend_open_blockdev(&prim, dev, &bopts), 0);
			if (multi)
				ck_assert_int_eq(eshare_backend_open_blockdev(&extra, blobdev,
									      &bopts), 0);
			break;
		default:
			ck_assert_int_eq(eshare_backend_open_loop(&prim, image, &bopts), 0);
			if (multi)
				ck_assert_int_eq(eshare_backend_open_loop(&extra, blob, &bopts), 0);
			break;
		}
		if (multi) {
			iopts.devices = &extra;
			iopts.ndevices = 1;
		}
		rc = eshare_image_attach(&t.img[k], d, prim, &iopts);
		ck_assert_msg(rc == 0, "%s via %d: attach: %d", image, k, rc);
	}
	ck_assert_int_eq(eshare_root(&root, t.img[VIA_FILE]), 0);
	walk(&t, root, "/");
	eshare_inode_put(root);
	for (int k = 0; k < NVIA; k++)
		eshare_image_detach(t.img[k]);
	ck_assert_int_eq(eshare_domain_close(d), 0);

	/* The same contents as the kernel showed, as a multiset. */
	want = manifest_sums(image, &nwant);
	ck_assert_uint_eq(t.nsums, nwant);
	qsort(t.sums, t.nsums, sizeof(*t.sums), cmp_str);
	qsort(want, nwant, sizeof(*want), cmp_str);
	for (size_t i = 0; i < nwant; i++) {
		ck_assert_str_eq(t.sums[i], want[i]);
		free(t.sums[i]);
		free(want[i]);
	}
	free(t.sums);
	free(want);
	ck_assert_uint_gt(t.bytes, 0);
	losetup_detach(dev);
	if (blobdev)
		losetup_detach(blobdev);
}

START_TEST(test_images_through_backends)
{
	int images = 0, taken = 0;

	for (int i = 0; i < fc_n; i++) {
		if (!is_image(fc_copy[i]))
			continue;
		if (fixture_sampled(images) || strstr(fc_copy[i], "multidev"))
			image_through_backends(fc_copy[i], taken++);
		images++;
	}
	ck_assert_int_gt(images, 20);
	ck_assert_int_gt(taken, 0);
	ck_assert_int_eq(wait_none_ours(), 0);
}
END_TEST

/* The device the conformance suite's backend reads; detached after it. */
static char *conformance_dev;

/* The conformance suite's opener: @user non-NULL asks for O_DIRECT. */
static int open_bdev_target(eshare_backend **out, const char *path, void *user)
{
	struct eshare_blockdev_opts opts = ESHARE_BLOCKDEV_OPTS_INIT;
	char *dev = losetup_attach(path, "");
	int rc;

	opts.flags = user ? ESHARE_BLOCKDEV_DIRECT : 0;
	rc = eshare_backend_open_blockdev(out, dev, &opts);
	if (rc) {
		losetup_detach(dev);
		return rc;
	}
	ck_assert_ptr_null(conformance_dev);
	conformance_dev = dev;
	return 0;
}

static void cleanup_bdev_target(void *user)
{
	ck_assert_ptr_nonnull(conformance_dev);
	losetup_detach(conformance_dev);
	conformance_dev = NULL;
}

static void add_conformance(Suite *s, const char *name, void *direct)
{
	TCase *tc = backend_conformance_add(s, &(struct bc_target){
		.name = name, .open = open_bdev_target, .cleanup = cleanup_bdev_target,
		.user = direct, .size_unit = 512, .dir = fc_dir,
		.fixture_setup = copies_setup, .fixture_teardown = fc_teardown });

	tcase_add_checked_fixture(tc, fc_detach_leftovers, NULL);
	tcase_set_timeout(tc, 300);
}

static Suite *blockdev_suite(void)
{
	Suite *s = suite_create("blockdev");
	TCase *tc = tcase_create("blockdev");
	TCase *ti = tcase_create("images");

	tcase_add_unchecked_fixture(tc, copies_setup, fc_teardown);
	tcase_add_checked_fixture(tc, fc_detach_leftovers, NULL);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_blockdev_fixtures);
	tcase_add_test(tc, test_blockdev_4k_sectors);
	tcase_add_test(tc, test_blockdev_errors);
	tcase_add_test(tc, test_backend_open_kinds);
	tcase_add_test(tc, test_parallel_reads);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(ti, copies_setup, fc_teardown);
	tcase_add_checked_fixture(ti, fc_detach_leftovers, NULL);
	tcase_set_timeout(ti, 900);
	tcase_add_test(ti, test_images_through_backends);
	suite_add_tcase(s, ti);
	add_conformance(s, "blockdev", NULL);
	add_conformance(s, "blockdev-direct", s);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		printf("test_blockdev: skipped, needs root to attach loop devices\n");
		return 77;
	}
	if (access("/dev/loop-control", F_OK)) {
		printf("test_blockdev: skipped, no /dev/loop-control\n");
		return 77;
	}
	if (system("losetup --version >/dev/null 2>&1")) {
		printf("test_blockdev: skipped, no losetup(8)\n");
		return 77;
	}
	sr = srunner_create(blockdev_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
