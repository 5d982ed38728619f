// SPDX-License-Identifier: MIT
/*
 * Xattrs in lib/format/xattr.c, on fixture copies in memory:
 *
 * 1. Hand-made bad inline xattr areas of plain-4k.erofs through the public
 *    API: xattrs are read lazily, as in the kernel: the file opens,
 *    listxattr and getxattr give -EFSCORRUPTED.
 * 2. The format layer directly: name resolution and errnos as the 6.18
 *    kernel answered getxattr(2), long prefixes, the bloom filter (bits
 *    computed here with xxHash as FORMAT.md section 7 says), where the
 *    prefix table is read from, bad prefix records, values across 512-byte
 *    blocks.
 * 3. Crafted xattr areas: bad shared counts, entries past the end, unknown
 *    prefixes, bad shared ids, a bare header, random damage.
 *
 * Expected names and values come from the manifests (the kernel's view).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include <erofs_share/erofs_share.h>

#include "helpers/hostile.h"
#include "helpers/manifest.h"

/* ------------------------------------------------------------------ */
/* Bad xattr areas                                                      */

/* The first inode under xattr/ with inline entries (icount > 1). */
static void find_xattr_inode(const struct pimg *p, const char *path, struct pino *ino)
{
	uint64_t dpos;

	p_path(p, path, ino, &dpos);
	ck_assert_msg(ino->icount > 1, "%s has no inline xattrs", path);
}

static void xattr_expect(struct patched *x, const char *path, const char *name)
{
	eshare_inode *in;
	char buf[4096];
	ssize_t r;
	int rc;

	ck_assert_int_eq(patched_attach(x), 0);
	rc = lookup_rc(x, path, &in);
	/* xattrs are read lazily, as in the kernel: the file itself opens */
	ck_assert_msg(rc == 0, "%s: lookup %d", current_case, rc);
	r = eshare_listxattr(in, buf, sizeof(buf));
	ck_assert_msg(r == -EFSCORRUPTED, "%s: listxattr %zd", current_case, r);
	r = eshare_getxattr(in, name, buf, sizeof(buf));
	ck_assert_msg(r == -EFSCORRUPTED, "%s: getxattr %zd", current_case, r);
	eshare_inode_put(in);
}

START_TEST(test_bad_xattrs)
{
	static const char path[] = "xattr/data-with-xattr";
	struct patched x;
	struct pino ino;
	uint64_t h;

	/* h_shared_count larger than the area can hold */
	patched_begin(&x);
	find_xattr_inode(&x.p, path, &ino);
	h = ino.pos + ino.isize;
	x.d[h + offsetof(struct erofs_xattr_ibody_header, h_shared_count)] = 255;
	set_case("plain-4k.erofs: %s h_shared_count 255 in %u bytes", path, ino.xsize);
	xattr_expect(&x, path, "user.d");
	patched_end(&x);

	/* the first inline entry's value runs past the area */
	patched_begin(&x);
	find_xattr_inode(&x.p, path, &ino);
	h = ino.pos + ino.isize;
	{
		unsigned shared = x.d[h + 4];
		uint64_t e = h + 12 + 4ull * shared;

		ck_assert_uint_lt(12 + 4 * shared, ino.xsize);
		put_le16(x.d + e + offsetof(struct erofs_xattr_entry, e_value_size), 0xFFFF);
		set_case("plain-4k.erofs: %s first entry value size 65535", path);
	}
	xattr_expect(&x, path, "user.d");
	patched_end(&x);

	/* the first inline entry's name runs past the area */
	patched_begin(&x);
	find_xattr_inode(&x.p, path, &ino);
	h = ino.pos + ino.isize;
	{
		unsigned shared = x.d[h + 4];
		uint64_t e = h + 12 + 4ull * shared;

		x.d[e + offsetof(struct erofs_xattr_entry, e_name_len)] = 255;
		set_case("plain-4k.erofs: %s first entry name of 255 bytes", path);
	}
	xattr_expect(&x, path, "user.d");
	patched_end(&x);

	/* i_xattr_icount so large the area runs past the inode's block */
	patched_begin(&x);
	find_xattr_inode(&x.p, path, &ino);
	put_le16(x.d + ino.pos + offsetof(struct erofs_inode_compact, i_xattr_icount), 0xFFFF);
	set_case("plain-4k.erofs: %s i_xattr_icount 65535", path);
	ck_assert_int_eq(patched_attach(&x), 0);
	{
		eshare_inode *in;
		int rc = lookup_rc(&x, path, &in);

		/* the inline data tail now lies past the block: open or read fails */
		if (rc == 0) {
			char buf[64];
			ssize_t r = eshare_listxattr(in, buf, sizeof(buf));

			ck_assert_msg(r < 0, "listxattr %zd", r);
			r = eshare_pread(in, buf, sizeof(buf), 8192);
			/* (past the device's end: the library calls that -EIO) */
			ck_assert_msg(r == -EFSCORRUPTED || r == -EIO, "pread of the tail %zd", r);
			eshare_inode_put(in);
		} else {
			ck_assert_int_eq(rc, -EFSCORRUPTED);
		}
	}
	patched_end(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The format layer directly                                            */

struct fixture_fs {
	struct memfs mem;
	struct ef_fs *fs;
};

static void ffs_open(struct fixture_fs *f, const char *image)
{
	memfs_load(&f->mem, image);
	ck_assert_int_eq(memfs_open(&f->mem, &f->fs), 0);
}

static void ffs_close(struct fixture_fs *f)
{
	ef_fs_close(f->fs);
	memfs_free(&f->mem);
}

static void walk_ok(struct ef_fs *fs, const char *path, struct ef_inode *ino)
{
	int rc = memfs_resolve(fs, path, ino);

	ck_assert_msg(rc == 0, "walk %s: %d", path, rc);
}

START_TEST(test_no_fingerprint_without_ishare)
{
	struct fixture_fs f;
	struct ef_inode ino;
	uint8_t fp[64];

	ffs_open(&f, "plain-4k");
	ck_assert_int_eq(f.fs->ishare_prefix_id, -1);
	walk_ok(f.fs, "/big/text-0.bin", &ino);
	ck_assert_int_eq(ef_get_fingerprint(f.fs, &ino, fp, sizeof(fp)), -ENODATA);
	ffs_close(&f);
}
END_TEST

/* Name resolution and errno, as the kernel answered getxattr(2). */
START_TEST(test_errors)
{
	struct fixture_fs f;
	struct ef_inode ino;
	char big[300], buf[64];

	ffs_open(&f, "xattr-filter");
	walk_ok(f.fs, "/xattr/user-small", &ino);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "trusted.", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "", buf, sizeof(buf)), -ERANGE);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "system.foo", buf, sizeof(buf)), -EOPNOTSUPP);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "foo", buf, sizeof(buf)), -EOPNOTSUPP);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "system.posix_acl_accessX", buf, sizeof(buf)),
			 -EOPNOTSUPP);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "system.posix_acl_access", buf, sizeof(buf)),
			 -ENODATA);
	/* 255 bytes is the limit of a name, 256 is ERANGE */
	memset(big, 'a', sizeof(big));
	memcpy(big, "user.", 5);
	big[255] = 0;
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, big, buf, sizeof(buf)), -ENODATA);
	big[255] = 'a';
	big[256] = 0;
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, big, buf, sizeof(buf)), -ERANGE);
	/* an empty value: size 0 with or without a buffer */
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.empty", NULL, 0), 0);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.empty", buf, sizeof(buf)), 0);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.a", buf, 0), 1);
	ck_assert_int_eq(ef_listxattr(f.fs, &ino, buf, 1), -ERANGE);
	/* no xattrs at all */
	walk_ok(f.fs, "/files", &ino);
	ck_assert_uint_eq(ino.xattr_isize, 0);
	ck_assert_int_eq(ef_listxattr(f.fs, &ino, buf, sizeof(buf)), 0);
	ck_assert_int_eq(ef_listxattr(f.fs, &ino, NULL, 0), 0);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.a", buf, sizeof(buf)), -ENODATA);
	ck_assert_int_eq(f.mem.reports, 0);
	ffs_close(&f);
}
END_TEST

/* The long prefix of xattr-filter.erofs and the names built from it. */
START_TEST(test_long_prefix)
{
	struct fixture_fs f;
	struct ef_inode ino;
	char list[256];
	uint8_t area[512];
	bool found = false;

	ffs_open(&f, "xattr-filter");
	ck_assert_uint_eq(f.fs->xattr_prefix_count, 1);
	ck_assert_uint_eq(f.fs->prefixes[0].base_index, EROFS_XATTR_INDEX_TRUSTED);
	ck_assert_uint_eq(f.fs->prefixes[0].infix_len, 8);
	ck_assert(!memcmp(f.fs->prefixes[0].infix, "overlay.", 8));
	ck_assert(f.fs->xattr_filter);
	/* /xattr/trusted stores its trusted.overlay.* names with the prefix */
	walk_ok(f.fs, "/xattr/trusted", &ino);
	ck_assert_uint_le(ino.xattr_isize, sizeof(area));
	ck_assert_int_eq(ef_read_metadata(f.fs, ino.in_metabox, ino.iloc + ino.inode_isize, area,
				      ino.xattr_isize), 0);
	for (uint32_t pos = 12 + 4u * area[4]; pos + 4 <= ino.xattr_isize;
	     pos += (4u + area[pos] + ef_le16(area + pos + 2) + 3u) & ~3u)
		found |= area[pos + 1] == (EROFS_XATTR_LONG_PREFIX | 0);
	ck_assert(found);
	ck_assert_int_gt(ef_listxattr(f.fs, &ino, list, sizeof(list)), 0);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "trusted.overlay.opaque", list, sizeof(list)),
			 1);
	ck_assert_int_eq(list[0], 'y');
	/* a shorter or longer name must not match the prefix + suffix */
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "trusted.overlay.opaqu", NULL, 0), -ENODATA);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "trusted.overlay.opaquee", NULL, 0), -ENODATA);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "trusted.overlay.", NULL, 0), -ENODATA);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.overlay.opaque", NULL, 0), -ENODATA);
	ffs_close(&f);
}
END_TEST

/*
 * The bloom filter: every present name's bit must be clear (else lookups
 * would fail: the manifest test finds them all), and a set bit must make
 * getxattr answer ENODATA without looking, unless the superblock says the
 * filter is not to be trusted.
 */
START_TEST(test_filter)
{
	static const char *const paths[] = { "/xattr/user-small", "/xattr/mixed-ns",
					     "/xattr/trusted", "/acl/dir-acl",
					     "/xattr/security" };
	struct fixture_fs f;

	ffs_open(&f, "xattr-filter");
	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
		struct ef_inode ino;
		char list[1024];
		uint8_t hdr[12];
		ssize_t n;

		walk_ok(f.fs, paths[p], &ino);
		ck_assert_int_eq(ef_read_metadata(f.fs, false, ino.iloc + ino.inode_isize, hdr, 12), 0);
		ck_assert_uint_ne(ef_le32(hdr), 0);
		n = ef_listxattr(f.fs, &ino, list, sizeof(list));
		ck_assert_int_gt(n, 0);
		for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1) {
			const char *name = list + off, *rest;
			unsigned base;
			uint32_t bit;

			if (!strncmp(name, "user.", 5)) {
				base = 1, rest = name + 5;
			} else if (!strncmp(name, "trusted.", 8)) {
				base = 4, rest = name + 8;
			} else if (!strncmp(name, "security.", 9)) {
				base = 6, rest = name + 9;
			} else if (!strcmp(name, "system.posix_acl_access")) {
				base = 2, rest = "";
			} else {
				ck_assert_str_eq(name, "system.posix_acl_default");
				base = 3, rest = "";
			}
			bit = XXH32(rest, strlen(rest), EROFS_XATTR_FILTER_SEED + base) & 31;
			ck_assert_msg(!(ef_le32(hdr) & (1u << bit)), "%s: filter bit %u set",
				      name, bit);
		}
	}
	ffs_close(&f);

	/* all bits set: "nothing here" for any name */
	memfs_load(&f.mem, "xattr-filter");
	ck_assert_int_eq(memfs_open(&f.mem, &f.fs), 0);
	{
		struct ef_inode ino;
		uint8_t *hdr;

		walk_ok(f.fs, "/xattr/user-small", &ino);
		ck_assert(!ino.in_metabox);
		hdr = f.mem.data[0] + ino.iloc + ino.inode_isize;
		memset(hdr, 0xff, 4);
		ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.a", NULL, 0), -ENODATA);
		ck_assert_int_gt(ef_listxattr(f.fs, &ino, NULL, 0), 0);
		ef_fs_close(f.fs);

		/* the same inode once the superblock disowns the filter */
		f.mem.data[0][EROFS_SUPER_OFFSET + offsetof(struct erofs_super_block,
							     xattr_filter_reserved)] = 1;
		sb_fix_checksum(f.mem.data[0], f.mem.len[0]);
		ck_assert_int_eq(memfs_open(&f.mem, &f.fs), 0);
		ck_assert(!f.fs->xattr_filter);
		ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.a", NULL, 0), 1);
		ef_fs_close(f.fs);

		/* and with the compat bit cleared */
		f.mem.data[0][EROFS_SUPER_OFFSET + offsetof(struct erofs_super_block,
							     xattr_filter_reserved)] = 0;
		f.mem.data[0][EROFS_SUPER_OFFSET + 8] &= (uint8_t)~EROFS_COMPAT_XATTR_FILTER;
		sb_fix_checksum(f.mem.data[0], f.mem.len[0]);
		ck_assert_int_eq(memfs_open(&f.mem, &f.fs), 0);
		ck_assert(!f.fs->xattr_filter);
		ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.a", NULL, 0), 1);
		ef_fs_close(f.fs);
	}
	memfs_free(&f.mem);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Where the prefix table is read from                                  */

/* A valid one-record prefix table at @pos of @buf (@size bytes)? */
static bool record_at(const uint8_t *buf, size_t size, uint64_t pos)
{
	uint16_t len;

	if (pos + 2 > size)
		return false;
	len = ef_le16(buf + pos);
	return len >= 2 && len <= 256 && pos + 2 + len <= size;
}

static void expect_prefix(struct memfs *mem, uint64_t pos, bool plain, const uint8_t *rec)
{
	uint8_t *sb = mem->data[0] + EROFS_SUPER_OFFSET;
	struct ef_fs *fs;
	uint16_t len = ef_le16(rec);

	sb[offsetof(struct erofs_super_block, xattr_prefix_count)] = 1;
	for (int i = 0; i < 4; i++)
		sb[offsetof(struct erofs_super_block, xattr_prefix_start) + i] =
			(uint8_t)((pos / 4) >> (8 * i));
	sb[offsetof(struct erofs_super_block, feature_incompat)] |= EROFS_INCOMPAT_XATTR_PREFIXES;
	if (plain)
		sb[offsetof(struct erofs_super_block, feature_compat)] |=
			EROFS_COMPAT_PLAIN_XATTR_PFX;
	else
		sb[offsetof(struct erofs_super_block, feature_compat)] &=
			(uint8_t)~EROFS_COMPAT_PLAIN_XATTR_PFX;
	sb_fix_checksum(mem->data[0], mem->len[0]);
	ck_assert_int_eq(memfs_open(mem, &fs), 0);
	ck_assert_uint_eq(fs->xattr_prefix_count, 1);
	ck_assert_uint_eq(fs->prefixes[0].base_index, rec[2]);
	ck_assert_uint_eq(fs->prefixes[0].infix_len, len - 1u);
	ck_assert(!memcmp(fs->prefixes[0].infix, rec + 3, len - 1u));
	ef_fs_close(fs);
}

/*
 * Give an image without prefixes a one-record table in the packed inode
 * or the metabox stream: the record must come from that stream, and from
 * the primary device once PLAIN_XATTR_PFX is set.  The offsets are chosen
 * so that reading the wrong space gives other bytes or fails.
 */
static void check_prefix_location(const char *image, bool metabox)
{
	struct fixture_fs f;
	struct ef_inode *src;
	uint8_t *stream;
	size_t ssize;
	uint64_t ps, pd;

	ffs_open(&f, image);
	src = metabox ? f.fs->metabox : f.fs->packed;
	ck_assert_ptr_nonnull(src);
	ssize = src->size;
	stream = malloc(ssize);
	ck_assert_ptr_nonnull(stream);
	ck_assert_int_eq(ef_read_data_via_io(f.fs, src, stream, ssize, 0), 0);
	for (ps = 4096; ps < ssize; ps += 4)
		if (record_at(stream, ssize, ps) &&
		    (ps + 3 > f.mem.len[0] || memcmp(stream + ps, f.mem.data[0] + ps, 3)))
			break;
	ck_assert_msg(ps < ssize, "%s: no record in the stream", image);
	for (pd = 4096; pd < f.mem.len[0]; pd += 4)
		if (record_at(f.mem.data[0], f.mem.len[0], pd) &&
		    (pd + 3 > ssize || memcmp(stream + pd, f.mem.data[0] + pd, 3)))
			break;
	ck_assert_msg(pd < f.mem.len[0], "%s: no record on the device", image);
	ffs_close(&f);

	memfs_load(&f.mem, image);
	expect_prefix(&f.mem, ps, false, stream + ps);
	expect_prefix(&f.mem, pd, true, f.mem.data[0] + pd);
	memfs_free(&f.mem);
	free(stream);
}

START_TEST(test_prefix_in_packed)
{
	check_prefix_location("fragments", false);
}
END_TEST

START_TEST(test_prefix_in_metabox)
{
	check_prefix_location("metabox", true);
}
END_TEST

/* Bad prefix records: length 0, over 256, table past the end. */
START_TEST(test_prefix_corrupt)
{
	static const uint16_t bad_len[] = { 0, 257, 0xffff };
	struct memfs mem;
	struct ef_fs *fs;
	uint8_t *sb;
	uint32_t start;

	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		memfs_load(&mem, "xattr-filter");
		sb = mem.data[0] + EROFS_SUPER_OFFSET;
		start = ef_le32(sb + offsetof(struct erofs_super_block, xattr_prefix_start));
		mem.data[0][start * 4] = (uint8_t)bad_len[i];
		mem.data[0][start * 4 + 1] = (uint8_t)(bad_len[i] >> 8);
		/* the table shares the superblock's block */
		sb_fix_checksum(mem.data[0], mem.len[0]);
		ck_assert_int_eq(memfs_open(&mem, &fs), -EFSCORRUPTED);
		ck_assert_uint_gt(mem.reports, 0);
		memfs_free(&mem);
	}
	/* a table starting past the end of the image */
	memfs_load(&mem, "xattr-filter");
	sb = mem.data[0] + EROFS_SUPER_OFFSET;
	start = (uint32_t)(mem.len[0] / 4);
	for (int b = 0; b < 4; b++)
		sb[offsetof(struct erofs_super_block, xattr_prefix_start) + b] =
			(uint8_t)(start >> (8 * b));
	sb_fix_checksum(mem.data[0], mem.len[0]);
	{
		int rc = memfs_open(&mem, &fs);

		ck_assert_msg(rc == -EIO || rc == -EFSCORRUPTED, "rc %d", rc);
	}
	memfs_free(&mem);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Crafted xattr areas                                                  */

struct crafted {
	struct memfs mem;
	struct ef_fs *fs;
	struct ef_inode ino;
	uint8_t *area; /* in mem.data[0] */
	uint32_t first; /* offset of the first inline entry */
};

/* plain-4k: inodes and their xattrs are plain bytes of the primary device */
static void crafted_open(struct crafted *c, const char *path)
{
	memfs_load(&c->mem, "plain-4k");
	ck_assert_int_eq(memfs_open(&c->mem, &c->fs), 0);
	walk_ok(c->fs, path, &c->ino);
	ck_assert(!c->ino.in_metabox);
	ck_assert_uint_gt(c->ino.xattr_isize, 12);
	c->area = c->mem.data[0] + c->ino.iloc + c->ino.inode_isize;
	c->first = 12 + 4u * c->area[4];
	/* no filter: lookups must walk the entries */
	memset(c->area, 0, 4);
}

static void crafted_close(struct crafted *c)
{
	ef_fs_close(c->fs);
	memfs_free(&c->mem);
}

static unsigned count_names(const char *list, ssize_t n, const char *name)
{
	unsigned k = 0;

	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1)
		k += !strcmp(list + off, name);
	return k;
}

START_TEST(test_crafted_shared_count)
{
	struct crafted c;
	char buf[256];

	crafted_open(&c, "/xattr/user-small");
	ck_assert_uint_lt(c.ino.xattr_isize, 12 + 4 * 255);
	c.area[4] = 255;
	ck_assert_int_eq(ef_listxattr(c.fs, &c.ino, buf, sizeof(buf)), -EFSCORRUPTED);
	ck_assert_int_eq(ef_listxattr(c.fs, &c.ino, NULL, 0), -EFSCORRUPTED);
	ck_assert_int_eq(ef_getxattr(c.fs, &c.ino, "user.a", buf, sizeof(buf)), -EFSCORRUPTED);
	ck_assert_int_eq(ef_get_fingerprint(c.fs, &c.ino, buf, sizeof(buf)), -ENODATA);
	ck_assert_uint_gt(c.mem.reports, 0);
	crafted_close(&c);
}
END_TEST

START_TEST(test_crafted_entry_past_end)
{
	struct crafted c;
	char buf[256];
	uint32_t last = 0;

	crafted_open(&c, "/xattr/user-small");
	/* a value running past the area */
	c.area[c.first + 2] = 0xff;
	c.area[c.first + 3] = 0xff;
	ck_assert_int_eq(ef_listxattr(c.fs, &c.ino, buf, sizeof(buf)), -EFSCORRUPTED);
	ck_assert_int_eq(ef_getxattr(c.fs, &c.ino, "user.zzz", buf, sizeof(buf)),
			 -EFSCORRUPTED);
	crafted_close(&c);

	/* the last entry's name running past the area */
	crafted_open(&c, "/xattr/user-small");
	for (uint32_t pos = c.first; pos < c.ino.xattr_isize;
	     pos += (4u + c.area[pos] + ef_le16(c.area + pos + 2) + 3u) & ~3u)
		last = pos;
	c.area[last] = 255;
	ck_assert_int_eq(ef_listxattr(c.fs, &c.ino, NULL, 0), -EFSCORRUPTED);
	crafted_close(&c);
}
END_TEST

/* Entries whose prefix is unknown are skipped, never matched. */
START_TEST(test_crafted_bad_index)
{
	static const uint8_t bad[] = { 0x80 | 5, 0xff, 0, 5, 7, 0x7f };
	struct crafted c;
	char list[512];
	ssize_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[300];

		crafted_open(&c, "/xattr/user-small");
		ck_assert_uint_eq(c.area[c.first + 1], EROFS_XATTR_INDEX_USER);
		snprintf(name, sizeof(name), "user.%.*s", c.area[c.first],
			 (const char *)c.area + c.first + 4);
		n = ef_listxattr(c.fs, &c.ino, list, sizeof(list));
		ck_assert_int_gt(n, 0);
		ck_assert_uint_eq(count_names(list, n, name), 1);
		ck_assert_int_ge(ef_getxattr(c.fs, &c.ino, name, NULL, 0), 0);

		c.area[c.first + 1] = bad[i];
		n = ef_listxattr(c.fs, &c.ino, list, sizeof(list));
		ck_assert_int_gt(n, 0);
		ck_assert_uint_eq(count_names(list, n, name), 0);
		ck_assert_int_eq(ef_getxattr(c.fs, &c.ino, name, NULL, 0), -ENODATA);
		crafted_close(&c);
	}
}
END_TEST

START_TEST(test_crafted_shared_id)
{
	struct crafted c;
	char buf[256];
	ssize_t rc;

	crafted_open(&c, "/xattr/shared-01");
	ck_assert_uint_gt(c.area[4], 0);
	memset(c.area + 12, 0xff, 4);
	rc = ef_listxattr(c.fs, &c.ino, buf, sizeof(buf));
	ck_assert_msg(rc == -EIO || rc == -EFSCORRUPTED, "rc %zd", rc);
	rc = ef_getxattr(c.fs, &c.ino, "user.common", buf, sizeof(buf));
	ck_assert_msg(rc == -EIO || rc == -EFSCORRUPTED, "rc %zd", rc);
	/* the inline entry comes first and is still found */
	ck_assert_int_ge(ef_getxattr(c.fs, &c.ino, "user.own", buf, sizeof(buf)), 0);
	crafted_close(&c);
}
END_TEST

/* A bare 12-byte header: the kernel answers EOPNOTSUPP to every call. */
START_TEST(test_crafted_header_only)
{
	struct memfs mem;
	struct ef_fs *fs;
	struct ef_inode ino;
	uint8_t *slot;
	char buf[64];

	memfs_load(&mem, "plain-4k");
	ck_assert_int_eq(memfs_open(&mem, &fs), 0);
	walk_ok(fs, "/bound/text-4096", &ino);
	ck_assert_uint_eq(ino.xattr_isize, 0);
	ck_assert_uint_eq(ino.layout, EROFS_INODE_FLAT_PLAIN);
	ef_fs_close(fs);
	slot = mem.data[0] + ino.iloc;
	slot[offsetof(struct erofs_inode_compact, i_xattr_icount)] = 1;
	ck_assert_int_eq(memfs_open(&mem, &fs), 0);
	walk_ok(fs, "/bound/text-4096", &ino);
	ck_assert_uint_eq(ino.xattr_isize, 12);
	ck_assert_int_eq(ef_listxattr(fs, &ino, buf, sizeof(buf)), -EOPNOTSUPP);
	ck_assert_int_eq(ef_getxattr(fs, &ino, "user.x", buf, sizeof(buf)), -EOPNOTSUPP);
	ck_assert_int_eq(ef_get_fingerprint(fs, &ino, buf, sizeof(buf)), -ENODATA);
	ef_fs_close(fs);
	memfs_free(&mem);
}
END_TEST

/* Random damage to xattr areas: specific errors or success, no crash. */
START_TEST(test_crafted_fuzz)
{
	static const char *const paths[] = { "/xattr/user-small", "/xattr/shared-01",
					     "/xattr/many", "/xattr/long-name",
					     "/acl/dir-acl", "/xattr/huge" };
	unsigned seed = 12345;

	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
		struct crafted c;
		uint8_t *saved;

		crafted_open(&c, paths[p]);
		saved = malloc(c.ino.xattr_isize);
		ck_assert_ptr_nonnull(saved);
		memcpy(saved, c.area, c.ino.xattr_isize);
		for (int round = 0; round < 300; round++) {
			static char list[70000];
			static uint8_t val[70000];
			ssize_t n;
			int flips = 1 + (int)(rand_r(&seed) % 4);

			memcpy(c.area, saved, c.ino.xattr_isize);
			for (int k = 0; k < flips; k++) {
				uint32_t at = (uint32_t)rand_r(&seed) %
					      (c.ino.xattr_isize < 64 ? c.ino.xattr_isize : 64);

				c.area[at] = (uint8_t)rand_r(&seed);
			}
			n = ef_listxattr(c.fs, &c.ino, list, sizeof(list));
			ck_assert_msg(n >= 0 || n == -EFSCORRUPTED || n == -EIO, "list %zd", n);
			for (ssize_t off = 0; n > 0 && off < n;
			     off += (ssize_t)strlen(list + off) + 1) {
				ssize_t v = ef_getxattr(c.fs, &c.ino, list + off, val, sizeof(val));

				ck_assert_msg(v >= 0 || v == -EFSCORRUPTED || v == -EIO ||
					      v == -ERANGE || v == -ENODATA || v == -EINVAL ||
					      v == -EOPNOTSUPP,
					      "get %zd", v);
			}
			n = ef_get_fingerprint(c.fs, &c.ino, val, sizeof(val));
			ck_assert_msg(n == -ENODATA || n == -EFSCORRUPTED || n == -EIO, "fp %zd",
				      n);
		}
		free(saved);
		crafted_close(&c);
	}
}
END_TEST

/* Values crossing 512-byte blocks, read through the format layer. */
START_TEST(test_large_values_512)
{
	struct fixture_fs f;
	struct ef_inode ino;
	uint8_t *val = malloc(65536);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	struct manifest m;
	const struct manifest_xattr *want = NULL;

	ck_assert_ptr_nonnull(val);
	ck_assert_int_eq(manifest_load(&m, "plain-512"), 0);
	if (manifest_find(&m, "/xattr/huge"))
		want = &manifest_find(&m, "/xattr/huge")->xattrs[0];
	ck_assert_ptr_nonnull(want);
	ck_assert_uint_eq(want->vlen, 33000);
	ffs_open(&f, "plain-512");
	walk_ok(f.fs, "/xattr/huge", &ino);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.huge", NULL, 0), 33000);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.huge", val, 32999), -ERANGE);
	ck_assert_int_eq(ef_getxattr(f.fs, &ino, "user.huge", val, 65536), 33000);
	ck_assert_int_eq(EVP_Digest(val, 33000, md, &mdlen, EVP_sha256(), NULL), 1);
	ck_assert(!memcmp(md, want->value, 32));
	ffs_close(&f);
	manifest_free(&m);
	free(val);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("format_xattr");
	TCase *tc;

	tc = tcase_create("handmade");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_bad_xattrs);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_no_fingerprint_without_ishare);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_long_prefix);
	tcase_add_test(tc, test_filter);
	tcase_add_test(tc, test_prefix_in_packed);
	tcase_add_test(tc, test_prefix_in_metabox);
	tcase_add_test(tc, test_prefix_corrupt);
	tcase_add_test(tc, test_large_values_512);
	suite_add_tcase(s, tc);

	tc = tcase_create("crafted");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_crafted_shared_count);
	tcase_add_test(tc, test_crafted_entry_past_end);
	tcase_add_test(tc, test_crafted_bad_index);
	tcase_add_test(tc, test_crafted_shared_id);
	tcase_add_test(tc, test_crafted_header_only);
	tcase_add_test(tc, test_crafted_fuzz);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hostile_main("test_format_xattr", make_suite());
}
