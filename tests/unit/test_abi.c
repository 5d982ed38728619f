// SPDX-License-Identifier: MIT
/*
 * The public ABI, frozen: sizeof and offsetof of every public struct as
 * released (x86-64 / LP64 values), and the size-field rules exercised
 * through the API: an input struct shorter than ours is zero-extended (its
 * missing fields are never read), a longer one is accepted only with a zero
 * tail (else -E2BIG, and nothing is created), and an output struct gets
 * min(its size, ours) bytes while the rest of the caller's memory stays
 * untouched.
 *
 * A failure in the layout tests means a released struct changed shape:
 * append new fields at the end instead (and pin them here).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <erofs_share/erofs_share.h>
#include <erofs_share/sys/backend.h>

#define FIXTURE ESHARE_FIXTURES "/plain-4k.erofs"
/* A file of plain-4k.erofs and what the kernel read from it (its manifest). */
#define FILE_PATH "/files/hardlink-to-hard-a"
#define FILE_SIZE 5000

/* ---- layout ---- */

struct field {
	const char *name;
	size_t off, size;
};

#define F(type, member, o, s) \
	{ #member, offsetof(struct type, member), sizeof(((struct type *)0)->member) }, \
	{ #member " (pinned)", o, s }

/*
 * Each table lists, for every member, the offset and size the compiler
 * computes now next to the pinned values; check_fields() compares the
 * pairs so that a failure names the member.
 */
static void check_fields(const char *type, size_t size, size_t pinned, const struct field *f,
			 size_t n)
{
	ck_assert_msg(size == pinned, "sizeof(struct %s) is %zu, released as %zu", type, size,
		      pinned);
	for (size_t i = 0; i + 1 < n; i += 2)
		ck_assert_msg(f[i].off == f[i + 1].off && f[i].size == f[i + 1].size,
			      "struct %s member %s: offset %zu size %zu, released as offset %zu "
			      "size %zu",
			      type, f[i].name, f[i].off, f[i].size, f[i + 1].off, f[i + 1].size);
}

#define CHECK(type, pinned, ...)                                                          \
	do {                                                                               \
		static const struct field fields_[] = { __VA_ARGS__ };                    \
		check_fields(#type, sizeof(struct type), pinned, fields_,                  \
			     sizeof(fields_) / sizeof(fields_[0]));                        \
	} while (0)

START_TEST(layout_lp64)
{
	if (sizeof(void *) != 8 || sizeof(long) != 8) {
		/* The pins are the LP64 values; other ABIs get their own. */
		fprintf(stderr, "test_abi: not LP64, layout pins not checked\n");
		return;
	}
	CHECK(eshare_domain_opts, 48,
	      F(eshare_domain_opts, size, 0, 4),
	      F(eshare_domain_opts, flags, 4, 4),
	      F(eshare_domain_opts, cache_bytes, 8, 8),
	      F(eshare_domain_opts, policy, 16, 4),
	      F(eshare_domain_opts, reserved, 20, 4),
	      F(eshare_domain_opts, id, 24, 8),
	      F(eshare_domain_opts, log, 32, 8),
	      F(eshare_domain_opts, log_user, 40, 8));
	CHECK(eshare_image_opts, 32,
	      F(eshare_image_opts, size, 0, 4),
	      F(eshare_image_opts, flags, 4, 4),
	      F(eshare_image_opts, name, 8, 8),
	      F(eshare_image_opts, devices, 16, 8),
	      F(eshare_image_opts, ndevices, 24, 4),
	      F(eshare_image_opts, reserved, 28, 4));
	CHECK(eshare_stats, 168,
	      F(eshare_stats, size, 0, 4),
	      F(eshare_stats, reserved, 4, 4),
	      F(eshare_stats, logical_bytes, 8, 8),
	      F(eshare_stats, cached_data_pages, 16, 8),
	      F(eshare_stats, cached_data_bytes, 24, 8),
	      F(eshare_stats, cached_meta_pages, 32, 8),
	      F(eshare_stats, cached_meta_bytes, 40, 8),
	      F(eshare_stats, shared_objects, 48, 8),
	      F(eshare_stats, shared_members, 56, 8),
	      F(eshare_stats, hits, 64, 8),
	      F(eshare_stats, misses, 72, 8),
	      F(eshare_stats, fills, 80, 8),
	      F(eshare_stats, evictions, 88, 8),
	      F(eshare_stats, backend_bytes_read, 96, 8),
	      F(eshare_stats, decompressed_bytes, 104, 8),
	      F(eshare_stats, hashed_bytes, 112, 8),
	      F(eshare_stats, verify_failures, 120, 8),
	      F(eshare_stats, images, 128, 8),
	      F(eshare_stats, cached_tails, 136, 8),
	      F(eshare_stats, cached_tail_bytes, 144, 8),
	      F(eshare_stats, cached_tail_pages, 152, 8),
	      F(eshare_stats, tail_unpaged_bytes, 160, 8));
	CHECK(eshare_stat, 80,
	      F(eshare_stat, size, 0, 4),
	      F(eshare_stat, mode, 4, 4),
	      F(eshare_stat, ino, 8, 8),
	      F(eshare_stat, nlink, 16, 4),
	      F(eshare_stat, uid, 20, 4),
	      F(eshare_stat, gid, 24, 4),
	      F(eshare_stat, rdev_major, 28, 4),
	      F(eshare_stat, rdev_minor, 32, 4),
	      F(eshare_stat, blksize, 36, 4),
	      F(eshare_stat, file_size, 40, 8),
	      F(eshare_stat, blocks, 48, 8),
	      F(eshare_stat, mtime_sec, 56, 8),
	      F(eshare_stat, mtime_nsec, 64, 4),
	      F(eshare_stat, layout, 68, 1),
	      F(eshare_stat, reserved, 69, 3),
	      F(eshare_stat, nid, 72, 8));
	CHECK(eshare_image_info, 104,
	      F(eshare_image_info, size, 0, 4),
	      F(eshare_image_info, block_size, 4, 4),
	      F(eshare_image_info, feature_compat, 8, 4),
	      F(eshare_image_info, feature_incompat, 12, 4),
	      F(eshare_image_info, blocks, 16, 8),
	      F(eshare_image_info, inodes, 24, 8),
	      F(eshare_image_info, root_ino, 32, 8),
	      F(eshare_image_info, build_time, 40, 8),
	      F(eshare_image_info, build_time_nsec, 48, 4),
	      F(eshare_image_info, extra_devices, 52, 2),
	      F(eshare_image_info, compr_algs, 54, 2),
	      F(eshare_image_info, uuid, 56, 16),
	      F(eshare_image_info, volume_name, 72, 17),
	      F(eshare_image_info, reserved, 89, 7),
	      F(eshare_image_info, checksum, 96, 4),
	      F(eshare_image_info, ishare_prefix_id, 100, 4));
	CHECK(eshare_backend_ops, 64,
	      F(eshare_backend_ops, size, 0, 4),
	      F(eshare_backend_ops, flags, 4, 4),
	      F(eshare_backend_ops, name, 8, 8),
	      F(eshare_backend_ops, pread, 16, 8),
	      F(eshare_backend_ops, get_size, 24, 8),
	      F(eshare_backend_ops, close, 32, 8),
	      F(eshare_backend_ops, block_size, 40, 8),
	      F(eshare_backend_ops, io_size, 48, 4),
	      F(eshare_backend_ops, reserved, 52, 4),
	      F(eshare_backend_ops, preadv, 56, 8));
	/* The first table released was 48 bytes; V2 is the 64 above. */
	ck_assert_uint_eq(ESHARE_BACKEND_OPS_SIZE_V1, 48);
	ck_assert_uint_eq(ESHARE_BACKEND_OPS_SIZE_V2, 64);
	CHECK(eshare_iovec, 16,
	      F(eshare_iovec, base, 0, 8),
	      F(eshare_iovec, len, 8, 8));
	CHECK(eshare_blockdev_opts, 8,
	      F(eshare_blockdev_opts, size, 0, 4),
	      F(eshare_blockdev_opts, flags, 4, 4));
}
END_TEST

/* The values callers compile into their programs. */
START_TEST(constants)
{
	ck_assert_int_eq(ESHARE_EFSCORRUPTED, 117);
	ck_assert_int_eq(ESHARE_ENOTEROFS, 124);
	/* zero, what ESHARE_DOMAIN_OPTS_INIT leaves, is VERIFY */
	ck_assert_int_eq(ESHARE_SHARE_VERIFY, 0);
	ck_assert_int_eq(ESHARE_SHARE_DEFAULT, 0);
	ck_assert_int_eq(ESHARE_SHARE_OFF, 1);
	ck_assert_int_eq(ESHARE_SHARE_TRUST, 2);
	ck_assert_int_eq(ESHARE_SHARE_COMPUTE, 3);
	ck_assert_int_eq(ESHARE_LOG_ERR, 3);
	ck_assert_int_eq(ESHARE_LOG_WARNING, 4);
	ck_assert_int_eq(ESHARE_LOG_INFO, 6);
	ck_assert_int_eq(ESHARE_LOG_DEBUG, 7);
	ck_assert_int_eq(ESHARE_DT_UNKNOWN, 0);
	ck_assert_int_eq(ESHARE_DT_FIFO, 1);
	ck_assert_int_eq(ESHARE_DT_CHR, 2);
	ck_assert_int_eq(ESHARE_DT_DIR, 4);
	ck_assert_int_eq(ESHARE_DT_BLK, 6);
	ck_assert_int_eq(ESHARE_DT_REG, 8);
	ck_assert_int_eq(ESHARE_DT_LNK, 10);
	ck_assert_int_eq(ESHARE_DT_SOCK, 12);
	ck_assert_uint_eq(ESHARE_BLOCKDEV_DIRECT, 1);
	ck_assert_uint_eq(ESHARE_BACKEND_F_REMOTE, 1);
	ck_assert_uint_eq(ESHARE_BACKEND_F_SERIAL, 2);
	ck_assert_uint_eq(ESHARE_BACKEND_F_ALL, 3);
	ck_assert_uint_eq(ESHARE_BACKEND_IO_SIZE_MAX, 1u << 30);
	ck_assert_int_eq(ESHARE_BACKEND_IOV_MAX, 1024);
	/* The library actually linked and the headers agree on the version. */
	ck_assert_uint_eq(eshare_version_number(), ESHARE_VERSION_NUMBER);
	ck_assert_str_eq(eshare_version(), ESHARE_VERSION_STRING);
	ck_assert_uint_eq(ESHARE_VERSION_NUMBER, ESHARE_VERSION_MAJOR * 10000 +
			  ESHARE_VERSION_MINOR * 100 + ESHARE_VERSION_PATCH);
	ck_assert(ESHARE_VERSION_AT_LEAST(ESHARE_VERSION_MAJOR, ESHARE_VERSION_MINOR,
					  ESHARE_VERSION_PATCH));
	ck_assert(!ESHARE_VERSION_AT_LEAST(ESHARE_VERSION_MAJOR, ESHARE_VERSION_MINOR,
					   ESHARE_VERSION_PATCH + 1));
}
END_TEST

/* ---- input structs: domain options ---- */

/* Room for a caller that knows a bigger struct than the library. */
#define TAIL 24

union big_domain_opts {
	struct eshare_domain_opts o;
	unsigned char b[sizeof(struct eshare_domain_opts) + TAIL];
};

START_TEST(domain_opts_default)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_domain *d = NULL;

	ck_assert_int_eq(eshare_domain_create(&d, NULL), 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	d = NULL;
	ck_assert_int_eq(eshare_domain_create(&d, &o), 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

START_TEST(domain_opts_shorter)
{
	union big_domain_opts u;
	eshare_domain *d = NULL;

	/*
	 * An old caller that knows only size, flags and cache_bytes: what
	 * follows in its memory is garbage (a policy and reserved field that
	 * would be rejected, a log pointer that would crash if called), and
	 * the library must not look at it.
	 */
	memset(&u, 0xa5, sizeof(u));
	u.o.size = offsetof(struct eshare_domain_opts, policy);
	u.o.flags = 0;
	u.o.cache_bytes = 1 << 20;
	ck_assert_int_eq(eshare_domain_create(&d, &u.o), 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(eshare_domain_close(d), 0);

	/* A field inside the given size is read: a bad policy is refused. */
	memset(&u, 0xa5, sizeof(u));
	u.o.size = offsetof(struct eshare_domain_opts, id);
	u.o.flags = 0;
	u.o.cache_bytes = 0;
	u.o.policy = 99;
	u.o.reserved = 0;
	d = NULL;
	ck_assert_int_eq(eshare_domain_create(&d, &u.o), -EINVAL);
	ck_assert_ptr_null(d);
	u.o.policy = ESHARE_SHARE_VERIFY;
	ck_assert_int_eq(eshare_domain_create(&d, &u.o), 0);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

START_TEST(domain_opts_longer_zero_tail)
{
	union big_domain_opts u;
	eshare_domain *d = NULL;

	memset(&u, 0, sizeof(u));
	u.o.size = sizeof(u);
	u.o.policy = ESHARE_SHARE_TRUST;
	ck_assert_int_eq(eshare_domain_create(&d, &u.o), 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

START_TEST(domain_opts_longer_nonzero_tail)
{
	/* Each byte of the unknown tail counts, the first and the last. */
	static const size_t where[] = { 0, 7, TAIL - 1 };
	eshare_domain *d = (eshare_domain *)&d; /* must stay untouched */

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		union big_domain_opts u;

		memset(&u, 0, sizeof(u));
		u.o.size = sizeof(u);
		u.b[sizeof(struct eshare_domain_opts) + where[i]] = 1;
		ck_assert_int_eq(eshare_domain_create(&d, &u.o), -E2BIG);
		ck_assert_ptr_eq(d, (eshare_domain *)&d);
	}
}
END_TEST

START_TEST(domain_opts_reserved)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_domain *d = NULL;

	o.flags = 1;
	ck_assert_int_eq(eshare_domain_create(&d, &o), -EINVAL);
	o.flags = 0;
	o.reserved = 1;
	ck_assert_int_eq(eshare_domain_create(&d, &o), -EINVAL);
	o.reserved = 0;
	o.policy = ESHARE_SHARE_COMPUTE + 1;
	ck_assert_int_eq(eshare_domain_create(&d, &o), -EINVAL);
	ck_assert_ptr_null(d);
}
END_TEST

/* ---- input structs: backend ops ---- */

struct mem {
	unsigned char *data;
	size_t len;
	int closes;
	int block_size_calls;
};

static ssize_t mem_pread(void *h, void *buf, size_t len, uint64_t off)
{
	struct mem *m = h;

	if (off >= m->len)
		return 0;
	if (len > m->len - off)
		len = m->len - (size_t)off;
	memcpy(buf, m->data + off, len);
	return (ssize_t)len;
}

static int mem_get_size(void *h, uint64_t *out)
{
	*out = ((struct mem *)h)->len;
	return 0;
}

static void mem_close(void *h)
{
	((struct mem *)h)->closes++;
}

static uint32_t mem_block_size(void *h)
{
	((struct mem *)h)->block_size_calls++;
	return 4096;
}

static struct mem load_fixture(void)
{
	struct mem m = { 0 };
	struct stat st;
	int fd = open(FIXTURE, O_RDONLY | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open %s: %s", FIXTURE, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	m.len = (size_t)st.st_size;
	m.data = malloc(m.len);
	ck_assert_ptr_nonnull(m.data);
	for (size_t done = 0; done < m.len;) {
		ssize_t n = pread(fd, m.data + done, m.len - done, (off_t)done);

		ck_assert_int_gt(n, 0);
		done += (size_t)n;
	}
	close(fd);
	return m;
}

union big_ops {
	struct eshare_backend_ops o;
	unsigned char b[sizeof(struct eshare_backend_ops) + TAIL];
};

static void full_ops(union big_ops *u, size_t size)
{
	memset(u, 0, sizeof(*u));
	u->o.size = (uint32_t)size;
	u->o.name = "abi-test";
	u->o.pread = mem_pread;
	u->o.get_size = mem_get_size;
	u->o.close = mem_close;
	u->o.block_size = mem_block_size;
}

/* Attach an image over @be and read a file through it: proves the copied
 * ops are the ones used. Consumes @be. */
static void read_through(eshare_backend *be)
{
	eshare_domain *d = NULL;
	eshare_image *img = NULL;
	eshare_inode *ino = NULL;
	char buf[FILE_SIZE + 10];

	ck_assert_int_eq(eshare_domain_create(&d, NULL), 0);
	ck_assert_int_eq(eshare_image_attach(&img, d, be, NULL), 0);
	ck_assert_int_eq(eshare_lookup(&ino, img, FILE_PATH), 0);
	ck_assert_int_eq(eshare_pread(ino, buf, sizeof(buf), 0), FILE_SIZE);
	eshare_inode_put(ino);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}

START_TEST(backend_ops_shorter)
{
	struct mem m = load_fixture();
	union big_ops u;
	eshare_backend *be = NULL;
	uint64_t size = 0;

	/*
	 * A caller that predates block_size: that slot of its memory holds
	 * garbage that would crash if called.
	 */
	full_ops(&u, offsetof(struct eshare_backend_ops, block_size));
	memset(&u.o.block_size, 0xa5, sizeof(u.o.block_size));
	ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), 0);
	ck_assert_ptr_nonnull(be);
	/* The caller's struct may go away right after the call. */
	memset(&u, 0xa5, sizeof(u));
	ck_assert_int_eq(eshare_backend_size(be, &size), 0);
	ck_assert_uint_eq(size, m.len);
	read_through(be);
	ck_assert_int_eq(m.closes, 1);

	/* One that predates close as well: nothing is called at close. */
	m.closes = 0;
	full_ops(&u, offsetof(struct eshare_backend_ops, close));
	memset(&u.o.close, 0xa5, sizeof(u.o.close) + sizeof(u.o.block_size));
	be = NULL;
	ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), 0);
	read_through(be);
	ck_assert_int_eq(m.closes, 0);
	ck_assert_int_eq(m.block_size_calls, 0);

	/* Cut before get_size, a required method: it is missing. */
	full_ops(&u, offsetof(struct eshare_backend_ops, get_size));
	be = NULL;
	ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), -EINVAL);
	ck_assert_ptr_null(be);
	ck_assert_int_eq(m.closes, 0);
	free(m.data);
}
END_TEST

START_TEST(backend_ops_longer_zero_tail)
{
	struct mem m = load_fixture();
	union big_ops u;
	eshare_backend *be = NULL;

	full_ops(&u, sizeof(u));
	ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), 0);
	ck_assert_ptr_nonnull(be);
	ck_assert_str_eq(eshare_backend_name(be), "abi-test");
	read_through(be);
	ck_assert_int_eq(m.closes, 1);
	free(m.data);
}
END_TEST

START_TEST(backend_ops_longer_nonzero_tail)
{
	static const size_t where[] = { 0, 5, TAIL - 1 };
	struct mem m = { 0 };
	eshare_backend *be = (eshare_backend *)&be;

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		union big_ops u;

		full_ops(&u, sizeof(u));
		u.b[sizeof(struct eshare_backend_ops) + where[i]] = 0x80;
		ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), -E2BIG);
		ck_assert_ptr_eq(be, (eshare_backend *)&be);
	}
	/* On failure the handle stays the caller's: close is not called. */
	ck_assert_int_eq(m.closes, 0);
}
END_TEST

START_TEST(backend_ops_bad)
{
	struct mem m = { 0 };
	union big_ops u;
	eshare_backend *be = NULL;

	full_ops(&u, 0);
	ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), -EINVAL);
	/* flag bits no header defines, at any table size that has flags */
	for (uint32_t bit = ESHARE_BACKEND_F_ALL + 1; bit; bit <<= 1) {
		if (bit & ESHARE_BACKEND_F_ALL)
			continue;
		full_ops(&u, sizeof(u.o));
		u.o.flags = bit | ESHARE_BACKEND_F_REMOTE;
		ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), -EINVAL);
		full_ops(&u, ESHARE_BACKEND_OPS_SIZE_V1);
		u.o.flags = bit;
		ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), -EINVAL);
	}
	/* io_size: 0 or a power of two up to 1 GiB */
	static const uint32_t bad_io[] = { 3, 4097, 12288, (1u << 30) + 1, 1u << 31, UINT32_MAX };
	for (size_t i = 0; i < sizeof(bad_io) / sizeof(bad_io[0]); i++) {
		full_ops(&u, sizeof(u.o));
		u.o.io_size = bad_io[i];
		ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), -EINVAL);
	}
	full_ops(&u, sizeof(u.o));
	u.o.reserved = 1;
	ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), -EINVAL);
	full_ops(&u, sizeof(u.o));
	u.o.pread = NULL;
	ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), -EINVAL);
	ck_assert_int_eq(eshare_backend_new(&be, NULL, &m), -EINVAL);
	ck_assert_ptr_null(be);
	ck_assert_int_eq(m.closes, 0);
}
END_TEST

/* Known flag bits and io_size are accepted and read back. */
START_TEST(backend_ops_v2_fields)
{
	static const uint32_t io[] = { 0, 1, 512, 65536, 1u << 30 };
	struct mem m = { 0 };
	union big_ops u;

	for (size_t i = 0; i < sizeof(io) / sizeof(io[0]); i++) {
		for (uint32_t fl = 0; fl <= ESHARE_BACKEND_F_ALL; fl++) {
			eshare_backend *be = NULL;

			full_ops(&u, sizeof(u.o));
			u.o.flags = fl;
			u.o.io_size = io[i];
			ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), 0);
			ck_assert_uint_eq(eshare_backend_flags(be), fl);
			ck_assert_uint_eq(eshare_backend_io_size(be), io[i]);
			eshare_backend_close(be);
		}
	}
	ck_assert_int_eq(m.closes, 4 * 5);
	ck_assert_uint_eq(eshare_backend_flags(NULL), 0);
	ck_assert_uint_eq(eshare_backend_io_size(NULL), 0);
}
END_TEST

/*
 * A caller built against the first header passes the 48-byte table; what
 * lies after it in its memory is garbage that must not be read as io_size,
 * reserved or a preadv method.
 */
START_TEST(backend_ops_v1_caller)
{
	struct mem m = load_fixture();
	union big_ops u;
	eshare_backend *be = NULL;

	full_ops(&u, ESHARE_BACKEND_OPS_SIZE_V1);
	memset(u.b + ESHARE_BACKEND_OPS_SIZE_V1, 0xa5,
	       sizeof(u.b) - ESHARE_BACKEND_OPS_SIZE_V1);
	ck_assert_int_eq(eshare_backend_new(&be, &u.o, &m), 0);
	memset(&u, 0xa5, sizeof(u));
	ck_assert_uint_eq(eshare_backend_flags(be), 0);
	ck_assert_uint_eq(eshare_backend_io_size(be), 0);
	/* a vectored read falls back to pread: the garbage preadv is never called */
	{
		unsigned char a[1000], b[3000];
		struct eshare_iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };

		ck_assert_int_eq(eshare_backend_readv(be, iov, 2, 100), 0);
		ck_assert_mem_eq(a, m.data + 100, sizeof(a));
		ck_assert_mem_eq(b, m.data + 1100, sizeof(b));
	}
	read_through(be);
	ck_assert_int_eq(m.closes, 1);
	free(m.data);
}
END_TEST

/* ---- input structs: image options ---- */

union big_image_opts {
	struct eshare_image_opts o;
	unsigned char b[sizeof(struct eshare_image_opts) + TAIL];
};

static int open_with(union big_image_opts *u)
{
	eshare_domain *d = NULL;
	eshare_image *img = (eshare_image *)&img;
	int rc;

	ck_assert_int_eq(eshare_domain_create(&d, NULL), 0);
	rc = eshare_image_open_path(&img, d, FIXTURE, &u->o);
	if (rc == 0) {
		ck_assert_ptr_ne(img, (eshare_image *)&img);
		eshare_image_detach(img);
	} else {
		ck_assert_ptr_eq(img, (eshare_image *)&img);
	}
	ck_assert_int_eq(eshare_domain_close(d), 0);
	return rc;
}

START_TEST(image_opts_sizes)
{
	union big_image_opts u;

	/* Shorter: devices and ndevices are garbage that must not be read. */
	memset(&u, 0xa5, sizeof(u));
	u.o.size = offsetof(struct eshare_image_opts, devices);
	u.o.flags = 0;
	u.o.name = "short";
	ck_assert_int_eq(open_with(&u), 0);

	memset(&u, 0, sizeof(u));
	u.o.size = sizeof(u);
	ck_assert_int_eq(open_with(&u), 0);

	u.b[sizeof(u) - 1] = 1;
	ck_assert_int_eq(open_with(&u), -E2BIG);
	memset(&u, 0, sizeof(u));
	u.o.size = sizeof(u);
	u.b[sizeof(struct eshare_image_opts)] = 1;
	ck_assert_int_eq(open_with(&u), -E2BIG);
}
END_TEST

/* ---- input structs: block-device options (through the loop backend) ---- */

union big_blockdev_opts {
	struct eshare_blockdev_opts o;
	unsigned char b[sizeof(struct eshare_blockdev_opts) + TAIL];
};

static int loop_with(const union big_blockdev_opts *u)
{
	eshare_backend *be = (eshare_backend *)&be;
	uint64_t size = 0;
	int rc = eshare_backend_open_loop(&be, FIXTURE, &u->o);

	if (rc == 0) {
		ck_assert_ptr_ne(be, (eshare_backend *)&be);
		ck_assert_int_eq(eshare_backend_size(be, &size), 0);
		ck_assert_uint_ge(size, 4096);
		eshare_backend_close(be);
	} else {
		ck_assert_ptr_eq(be, (eshare_backend *)&be);
	}
	return rc;
}

START_TEST(blockdev_opts_sizes)
{
	union big_blockdev_opts u;

	if (geteuid() != 0 || access("/dev/loop-control", F_OK)) {
		fprintf(stderr, "test_abi: no root or no loop devices: blockdev options "
			"not tested\n");
		return;
	}
	/* Only the size field: flags beyond it are garbage, not read. */
	memset(&u, 0xff, sizeof(u));
	u.o.size = sizeof(uint32_t);
	ck_assert_int_eq(loop_with(&u), 0);

	memset(&u, 0, sizeof(u));
	u.o.size = sizeof(u);
	ck_assert_int_eq(loop_with(&u), 0);
	u.b[sizeof(u) - 1] = 1;
	ck_assert_int_eq(loop_with(&u), -E2BIG);
	memset(&u, 0, sizeof(u));
	u.o.size = sizeof(u);
	u.b[sizeof(struct eshare_blockdev_opts)] = 1;
	ck_assert_int_eq(loop_with(&u), -E2BIG);

	/* Unknown flag bits are refused. */
	memset(&u, 0, sizeof(u));
	u.o.size = sizeof(u.o);
	u.o.flags = 0x80000000u;
	ck_assert_int_eq(loop_with(&u), -EINVAL);
}
END_TEST

/* ---- output structs ---- */

#define CANARY 0x5a

struct out_case {
	eshare_domain *d;
	eshare_image *img;
	eshare_inode *ino;
};

static void out_setup(struct out_case *c)
{
	ck_assert_int_eq(eshare_domain_create(&c->d, NULL), 0);
	ck_assert_int_eq(eshare_image_open_path(&c->img, c->d, FIXTURE, NULL), 0);
	ck_assert_int_eq(eshare_lookup(&c->ino, c->img, FILE_PATH), 0);
}

static void out_teardown(struct out_case *c)
{
	eshare_inode_put(c->ino);
	eshare_image_detach(c->img);
	ck_assert_int_eq(eshare_domain_close(c->d), 0);
}

static int call_out(struct out_case *c, int which, void *buf)
{
	switch (which) {
	case 0:
		return eshare_domain_stats(c->d, buf);
	case 1:
		return eshare_image_stats(c->img, buf);
	case 2:
		return eshare_image_info(c->img, buf);
	default:
		return eshare_stat(c->ino, buf);
	}
}

static const char *const out_names[] = {
	"eshare_domain_stats", "eshare_image_stats", "eshare_image_info", "eshare_stat",
};

/*
 * For each output call: a caller's struct of @size bytes (inside a bigger
 * canary-filled buffer) gets exactly min(size, ours) bytes written, which
 * equal the first bytes of a full-size answer, and its size field is kept.
 */
START_TEST(output_sizes)
{
	static const size_t ours[] = {
		sizeof(struct eshare_stats), sizeof(struct eshare_stats),
		sizeof(struct eshare_image_info), sizeof(struct eshare_stat),
	};
	int which = _i;
	struct out_case c = { 0 };
	unsigned char full[256], buf[256 + 64];
	size_t sizes[] = { 8, 12, 16, 40, ours[which] - 1, ours[which], ours[which] + 8, 256 };
	uint32_t sz;

	out_setup(&c);
	memset(full, 0, sizeof(full));
	sz = (uint32_t)ours[which];
	memcpy(full, &sz, sizeof(sz));
	ck_assert_int_eq(call_out(&c, which, full), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], written = n < ours[which] ? n : ours[which];
		uint32_t got;

		memset(buf, CANARY, sizeof(buf));
		sz = (uint32_t)n;
		memcpy(buf, &sz, sizeof(sz));
		ck_assert_msg(call_out(&c, which, buf) == 0, "%s size %zu failed",
			      out_names[which], n);
		memcpy(&got, buf, sizeof(got));
		ck_assert_msg(got == n, "%s size %zu: size field became %u", out_names[which], n,
			      got);
		/* Counters move between calls (stats): compare the fixed ones. */
		if (which >= 2)
			ck_assert_msg(memcmp(buf + 4, full + 4, written - 4) == 0,
				      "%s size %zu: first %zu bytes differ from a full answer",
				      out_names[which], n, written);
		for (size_t k = written; k < sizeof(buf); k++)
			ck_assert_msg(buf[k] == CANARY,
				      "%s size %zu: byte %zu (past the %zu it may write) changed",
				      out_names[which], n, k, written);
	}
	/* Smaller than the size field and reserved word: refused, untouched. */
	for (uint32_t n = 0; n < 8; n++) {
		memset(buf, CANARY, sizeof(buf));
		memcpy(buf, &n, sizeof(n));
		ck_assert_msg(call_out(&c, which, buf) == -EINVAL, "%s size %u not refused",
			      out_names[which], n);
		for (size_t k = 4; k < sizeof(buf); k++)
			ck_assert_msg(buf[k] == CANARY, "%s size %u: byte %zu changed",
				      out_names[which], n, k);
	}
	out_teardown(&c);
}
END_TEST

/* What a full-size eshare_stat and eshare_image_info say, checked against
 * the kernel's view of the fixture (its manifest) and its superblock. */
START_TEST(output_values)
{
	struct out_case c = { 0 };
	struct eshare_stat st = ESHARE_STAT_INIT;
	struct eshare_image_info info = ESHARE_IMAGE_INFO_INIT;

	out_setup(&c);
	ck_assert_int_eq(eshare_stat(c.ino, &st), 0);
	ck_assert_uint_eq(st.size, sizeof(st));
	ck_assert_uint_eq(st.file_size, FILE_SIZE);
	ck_assert_uint_eq(st.mode, 0100640);
	ck_assert_uint_eq(st.uid, 1000);
	ck_assert_uint_eq(st.gid, 1000);
	ck_assert_int_eq(st.mtime_sec, 1700000000);
	ck_assert_uint_eq(st.nlink, 3);
	ck_assert_int_eq(eshare_image_info(c.img, &info), 0);
	ck_assert_uint_eq(info.size, sizeof(info));
	ck_assert_uint_eq(info.block_size, 4096);
	ck_assert_int_eq(info.build_time, 1700000000);
	/* -U56b413d2-ac87-5851-854b-67b031536444 */
	ck_assert_uint_eq(info.uuid[0], 0x56);
	ck_assert_uint_eq(info.uuid[15], 0x44);
	out_teardown(&c);
}
END_TEST

static Suite *abi_suite(void)
{
	Suite *s = suite_create("abi");
	TCase *tc = tcase_create("layout");

	tcase_add_test(tc, layout_lp64);
	tcase_add_test(tc, constants);
	suite_add_tcase(s, tc);

	tc = tcase_create("inputs");
	tcase_add_test(tc, domain_opts_default);
	tcase_add_test(tc, domain_opts_shorter);
	tcase_add_test(tc, domain_opts_longer_zero_tail);
	tcase_add_test(tc, domain_opts_longer_nonzero_tail);
	tcase_add_test(tc, domain_opts_reserved);
	tcase_add_test(tc, backend_ops_shorter);
	tcase_add_test(tc, backend_ops_longer_zero_tail);
	tcase_add_test(tc, backend_ops_longer_nonzero_tail);
	tcase_add_test(tc, backend_ops_bad);
	tcase_add_test(tc, backend_ops_v2_fields);
	tcase_add_test(tc, backend_ops_v1_caller);
	tcase_add_test(tc, image_opts_sizes);
	tcase_add_test(tc, blockdev_opts_sizes);
	suite_add_tcase(s, tc);

	tc = tcase_create("outputs");
	tcase_add_loop_test(tc, output_sizes, 0, 4);
	tcase_add_test(tc, output_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(abi_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
