// SPDX-License-Identifier: MIT
/*
 * Paths, directories and symlinks on damaged copies of plain-4k.erofs,
 * made in memory, against what the kernel does (each rule below was checked
 * on a kernel 6.18 mount of a crafted image; tests/oracle/test_hostile_cli.sh
 * checks them there again):
 *
 * - "." and ".." of a path are the path walk's, not the image's entries;
 *   the root's ".." is the root.
 * - readdir refuses a name holding '/' (the VFS's filldir fails getdents
 *   with EIO; the library says EFSCORRUPTED, as for any corrupt structure)
 *   and a name not strictly after the one before (within and across blocks,
 *   as fsck.erofs; the kernel lists such a directory); the entries before it
 *   are delivered.
 * - lookup of a name the directory holds twice finds the dirent the
 *   kernel's binary search finds.
 * - readlink gives at most 4095 bytes, cut at a NUL; stat keeps i_size.
 * - a user.* xattr on a symlink is listed but reading it is ENODATA.
 *
 * Expected values come from the image bytes, read with the small parser
 * here, never from the library.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <erofs_share/erofs_share.h>

#include "format/format.h"
#include "format/ondisk.h"
#include "helpers/fixtures.h"

#define SB(field) (EROFS_SUPER_OFFSET + offsetof(struct erofs_super_block, field))

static uint8_t *fixture;
static size_t fixture_len;

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* ------------------------------------------------------------------ */
/* A small parser of flat images                                        */

struct img {
	uint8_t *d;
	size_t len;
	uint32_t blksz;
	uint64_t meta, root;
	eshare_domain *dom;
	eshare_image *ei;
};

struct pino {
	uint64_t nid, pos;
	uint16_t mode, icount;
	bool ext;
	unsigned layout, isize, xsize;
	uint64_t size;
	uint32_t u;
};

/* One dirent as the bytes hold it. */
struct pent {
	uint64_t pos;		/* image offset of the dirent */
	uint64_t cookie;	/* its readdir position: block * blksz + index * 12 */
	uint64_t nid;
	uint64_t namepos;
	char name[256];
	size_t len;
};

struct plist {
	struct pent v[8192];
	size_t n;
};

static void img_open(struct img *m)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;

	m->len = fixture_len;
	m->d = malloc(m->len);
	ck_assert_ptr_nonnull(m->d);
	memcpy(m->d, fixture, m->len);
	/* Patched bytes would fail the checksum: drop the feature. */
	put_le32(m->d + SB(feature_compat),
		 ef_le32(m->d + SB(feature_compat)) & ~EROFS_COMPAT_SB_CHKSUM);
	m->blksz = 1u << m->d[SB(blkszbits)];
	m->meta = (uint64_t)ef_le32(m->d + SB(meta_blkaddr)) * m->blksz;
	m->root = ef_le16(m->d + SB(rootnid_2b));
	ck_assert_int_eq(eshare_domain_create(&m->dom, &o), 0);
	m->ei = NULL;
}

static void img_attach(struct img *m)
{
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;
	eshare_backend *be;

	ck_assert_int_eq(eshare_backend_memory(&be, m->d, m->len, NULL, NULL), 0);
	ck_assert_int_eq(eshare_image_attach(&m->ei, m->dom, be, &o), 0);
}

static void img_close(struct img *m)
{
	if (m->ei)
		eshare_image_detach(m->ei);
	ck_assert_int_eq(eshare_domain_close(m->dom), 0);
	free(m->d);
}

static void p_iget(const struct img *m, uint64_t nid, struct pino *ino)
{
	const uint8_t *raw;
	uint16_t fmt;

	memset(ino, 0, sizeof(*ino));
	ino->nid = nid;
	ino->pos = m->meta + nid * EROFS_SLOTSIZE;
	ck_assert_uint_le(ino->pos + 64, m->len);
	raw = m->d + ino->pos;
	fmt = ef_le16(raw);
	ino->icount = ef_le16(raw + 2);
	ino->mode = ef_le16(raw + 4);
	ino->ext = fmt & EROFS_I_VERSION_MASK;
	ino->layout = (fmt >> EROFS_I_DATALAYOUT_SHIFT) & EROFS_I_DATALAYOUT_MASK;
	ino->isize = ino->ext ? 64 : 32;
	ino->size = ino->ext ? ef_le64(raw + 8) : ef_le32(raw + 8);
	ino->u = ef_le32(raw + 16);
	ino->xsize = ino->icount ? 12 + 4u * (ino->icount - 1) : 0;
}

static void p_set_size(struct img *m, struct pino *ino, uint64_t size)
{
	if (ino->ext)
		put_le64(m->d + ino->pos + 8, size);
	else
		put_le32(m->d + ino->pos + 8, (uint32_t)size);
	ino->size = size;
}

static uint64_t p_dataoff(const struct img *m, const struct pino *ino, uint64_t off)
{
	uint64_t nblocks = (ino->size + m->blksz - 1) / m->blksz;

	ck_assert(ino->layout == EROFS_INODE_FLAT_PLAIN || ino->layout == EROFS_INODE_FLAT_INLINE);
	if (ino->layout == EROFS_INODE_FLAT_INLINE && off / m->blksz == nblocks - 1)
		return ino->pos + ino->isize + ino->xsize + off % m->blksz;
	return (uint64_t)ino->u * m->blksz + off;
}

static void p_list(const struct img *m, const struct pino *dir, struct plist *l)
{
	l->n = 0;
	for (uint64_t b = 0; b < dir->size; b += m->blksz) {
		uint64_t base = p_dataoff(m, dir, b);
		uint64_t maxsize = dir->size - b < m->blksz ? dir->size - b : m->blksz;
		const uint8_t *blk = m->d + base;
		unsigned n = ef_le16(blk + 8) / 12;

		for (unsigned i = 0; i < n; i++) {
			unsigned off = ef_le16(blk + 12 * i + 8);
			unsigned end = i + 1 < n ? ef_le16(blk + 12 * (i + 1) + 8) :
				       off + (unsigned)strnlen((const char *)blk + off, maxsize - off);
			struct pent *e = &l->v[l->n++];

			ck_assert_uint_lt(l->n, sizeof(l->v) / sizeof(l->v[0]));
			e->pos = base + 12 * i;
			e->cookie = b + 12 * i;
			e->nid = ef_le64(blk + 12 * i);
			e->namepos = base + off;
			e->len = end - off;
			memcpy(e->name, blk + off, e->len);
			e->name[e->len] = '\0';
		}
	}
}

static void p_path(const struct img *m, const char *path, struct pino *out)
{
	char buf[512], *save = NULL, *comp;
	struct plist *l = malloc(sizeof(*l));
	struct pino cur;

	ck_assert_ptr_nonnull(l);
	p_iget(m, m->root, &cur);
	snprintf(buf, sizeof(buf), "%s", path);
	for (comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		size_t i;

		p_list(m, &cur, l);
		for (i = 0; i < l->n; i++)
			if (l->v[i].len == strlen(comp) && !memcmp(l->v[i].name, comp, l->v[i].len))
				break;
		ck_assert_msg(i < l->n, "parser: %s not found", path);
		p_iget(m, l->v[i].nid, &cur);
	}
	free(l);
	*out = cur;
}

/* The library's ino of @path (or the errno). */
static int lib_ino(struct img *m, const char *path, uint64_t *ino)
{
	struct eshare_stat st = ESHARE_STAT_INIT;
	eshare_inode *in;
	int rc = eshare_lookup(&in, m->ei, path);

	if (rc)
		return rc;
	rc = eshare_stat(in, &st);
	eshare_inode_put(in);
	*ino = st.ino;
	return rc;
}

/* The kernel's inode number of @nid: the nid itself in an image without a metabox. */
static uint64_t nid_ino(struct img *m, uint64_t nid)
{
	(void)m;
	return nid;
}

/* ------------------------------------------------------------------ */
/* readdir helpers                                                      */

struct count {
	unsigned n;
	char last[256];
};

static int count_fn(void *user, const char *name, size_t namelen, uint64_t ino, unsigned type,
		    uint64_t next)
{
	struct count *c = user;

	(void)ino;
	(void)type;
	(void)next;
	c->n++;
	memcpy(c->last, name, namelen);
	c->last[namelen] = '\0';
	return 0;
}

/* readdir of @path from @cookie: the result, *n the entries delivered. */
static int readdir_from(struct img *m, const char *path, uint64_t cookie, unsigned *n)
{
	struct count c = { 0 };
	eshare_inode *dir;
	int rc;

	ck_assert_int_eq(eshare_lookup(&dir, m->ei, path), 0);
	rc = eshare_readdir(dir, &cookie, count_fn, &c);
	eshare_inode_put(dir);
	*n = c.n;
	return rc;
}

/* ------------------------------------------------------------------ */

START_TEST(test_dot_and_dotdot_from_the_walk)
{
	struct plist *l = malloc(sizeof(*l));
	struct pino root, files, xattr, tiny;
	uint64_t ino;
	eshare_inode *fi, *in;
	struct eshare_stat st = ESHARE_STAT_INIT;
	struct img m;

	ck_assert_ptr_nonnull(l);
	img_open(&m);
	p_iget(&m, m.root, &root);
	p_path(&m, "/files", &files);
	p_path(&m, "/xattr", &xattr);
	p_path(&m, "/files/tiny-13-100", &tiny);
	/* /files's own "." and ".." now name /xattr */
	p_list(&m, &files, l);
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, ".") || !strcmp(l->v[i].name, ".."))
			put_le64(m.d + l->v[i].pos, xattr.nid);
	img_attach(&m);

	ck_assert_int_eq(lib_ino(&m, "/files/..", &ino), 0);
	ck_assert_uint_eq(ino, nid_ino(&m, root.nid));
	ck_assert_int_eq(lib_ino(&m, "/files/../files/tiny-13-100", &ino), 0);
	ck_assert_uint_eq(ino, nid_ino(&m, tiny.nid));
	ck_assert_int_eq(lib_ino(&m, "/files/./tiny-13-100", &ino), 0);
	ck_assert_uint_eq(ino, nid_ino(&m, tiny.nid));
	ck_assert_int_eq(lib_ino(&m, "files/././.", &ino), 0);
	ck_assert_uint_eq(ino, nid_ino(&m, files.nid));
	/* the root's ".." is the root */
	ck_assert_int_eq(lib_ino(&m, "/..", &ino), 0);
	ck_assert_uint_eq(ino, nid_ino(&m, root.nid));
	ck_assert_int_eq(lib_ino(&m, "/../../files/../xattr", &ino), 0);
	ck_assert_uint_eq(ino, nid_ino(&m, xattr.nid));
	/* "." or ".." after a non-directory: ENOTDIR, as the path walk */
	ck_assert_int_eq(lib_ino(&m, "/files/tiny-13-100/..", &ino), -ENOTDIR);
	ck_assert_int_eq(lib_ino(&m, "/files/tiny-13-100/.", &ino), -ENOTDIR);
	/* the xattr directory has no tiny-13-100: the image's "." is not used */
	ck_assert_int_eq(lib_ino(&m, "/xattr/tiny-13-100", &ino), -ENOENT);

	/* lookup_at: "." is the directory; ".." is the image's word (get_parent) */
	ck_assert_int_eq(eshare_lookup(&fi, m.ei, "/files"), 0);
	ck_assert_int_eq(eshare_lookup_at(&in, fi, ".", 1), 0);
	ck_assert_ptr_eq(in, fi);
	eshare_inode_put(in);
	ck_assert_int_eq(eshare_lookup_at(&in, fi, "..", 2), 0);
	ck_assert_int_eq(eshare_stat(in, &st), 0);
	ck_assert_uint_eq(st.ino, nid_ino(&m, xattr.nid));
	eshare_inode_put(in);
	eshare_inode_put(fi);
	free(l);
	img_close(&m);
}
END_TEST

START_TEST(test_slash_in_a_name)
{
	struct plist *l = malloc(sizeof(*l));
	struct pino files;
	eshare_inode *fi, *in;
	unsigned n;
	uint64_t ino;
	struct img m;
	struct pent *last, *prev;

	ck_assert_ptr_nonnull(l);
	img_open(&m);
	p_path(&m, "/files", &files);
	p_list(&m, &files, l);
	ck_assert_uint_ge(l->n, 10);
	/* The last name's last byte becomes '/': the order stays strict. */
	last = &l->v[l->n - 1];
	prev = &l->v[l->n - 2];
	m.d[last->namepos + last->len - 1] = '/';
	last->name[last->len - 1] = '/';
	ck_assert_int_lt(strcmp(prev->name, last->name), 0);
	img_attach(&m);

	ck_assert_int_eq(readdir_from(&m, "/files", 0, &n), -EFSCORRUPTED);
	ck_assert_uint_eq(n, l->n - 1);
	/* resuming at that entry fails at once */
	ck_assert_int_eq(readdir_from(&m, "/files", last->cookie, &n), -EFSCORRUPTED);
	ck_assert_uint_eq(n, 0);
	/* the other names still look up, as on the kernel */
	ck_assert_int_eq(lib_ino(&m, "/files/tiny-00-1", &ino), 0);
	ck_assert_int_eq(lib_ino(&m, "/files/empty-0", &ino), 0);
	/* a name holding '/' is no name */
	ck_assert_int_eq(eshare_lookup(&fi, m.ei, "/files"), 0);
	ck_assert_int_eq(eshare_lookup_at(&in, fi, last->name, last->len), -EINVAL);
	eshare_inode_put(fi);
	free(l);
	img_close(&m);
}
END_TEST

/* Two neighbours of the same length swapped: the second is out of order. */
START_TEST(test_names_out_of_order)
{
	struct plist *l = malloc(sizeof(*l));
	struct pino files;
	char tmp[256];
	unsigned n;
	size_t k;
	struct img m;

	ck_assert_ptr_nonnull(l);
	img_open(&m);
	p_path(&m, "/files", &files);
	p_list(&m, &files, l);
	for (k = 2; k + 1 < l->n; k++)
		if (l->v[k].len == l->v[k + 1].len)
			break;
	ck_assert_uint_lt(k + 1, l->n);
	memcpy(tmp, m.d + l->v[k].namepos, l->v[k].len);
	memcpy(m.d + l->v[k].namepos, m.d + l->v[k + 1].namepos, l->v[k].len);
	memcpy(m.d + l->v[k + 1].namepos, tmp, l->v[k].len);
	img_attach(&m);
	ck_assert_int_eq(readdir_from(&m, "/files", 0, &n), -EFSCORRUPTED);
	ck_assert_uint_eq(n, k + 1);
	/* a resumed readdir checks against the entry before its cookie */
	ck_assert_int_eq(readdir_from(&m, "/files", l->v[k + 1].cookie, &n), -EFSCORRUPTED);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(readdir_from(&m, "/files", l->v[k + 2].cookie, &n), 0);
	ck_assert_uint_eq(n, l->n - k - 2);
	free(l);
	img_close(&m);
}
END_TEST

/* The first name of a block sorting before the last name of the block before. */
START_TEST(test_names_out_of_order_across_blocks)
{
	struct plist *l = malloc(sizeof(*l));
	struct pino bigdir;
	unsigned n;
	size_t k;
	struct img m;

	ck_assert_ptr_nonnull(l);
	img_open(&m);
	p_path(&m, "/bigdir", &bigdir);
	ck_assert_uint_gt(bigdir.size, 2 * m.blksz);
	p_list(&m, &bigdir, l);
	for (k = 0; k < l->n && l->v[k].cookie < m.blksz; k++)
		;
	ck_assert_uint_lt(k + 1, l->n);
	ck_assert_uint_eq(l->v[k].cookie, m.blksz);
	/* byte 1 sorts before every name of the directory: still first in its block */
	m.d[l->v[k].namepos] = 1;
	img_attach(&m);
	ck_assert_int_eq(readdir_from(&m, "/bigdir", 0, &n), -EFSCORRUPTED);
	ck_assert_uint_eq(n, k);
	ck_assert_int_eq(readdir_from(&m, "/bigdir", m.blksz, &n), -EFSCORRUPTED);
	ck_assert_uint_eq(n, 0);
	/* from its second dirent on, the directory is in order again */
	ck_assert_int_eq(readdir_from(&m, "/bigdir", m.blksz + 12, &n), 0);
	ck_assert_uint_eq(n, l->n - k - 1);
	free(l);
	img_close(&m);
}
END_TEST

/*
 * A one-block directory of n dirents holding a name twice, at k - 1 and k,
 * where k = 1 + (n - 2) / 2 is the kernel's first probe inside the block
 * (find_target_dirent(): head 1, back n - 1): the kernel finds dirent k; a
 * scan from the start would find k - 1.
 */
START_TEST(test_name_twice_found_as_the_kernel)
{
	struct plist *l = malloc(sizeof(*l));
	struct pino files;
	char path[300];
	uint64_t ino;
	unsigned n;
	size_t k;
	struct img m;

	ck_assert_ptr_nonnull(l);
	img_open(&m);
	p_path(&m, "/files", &files);
	ck_assert_uint_le(files.size, m.blksz);
	p_list(&m, &files, l);
	k = 1 + (l->n - 2) / 2;
	ck_assert_uint_eq(l->v[k - 1].len, l->v[k].len);
	ck_assert_uint_ne(l->v[k - 1].nid, l->v[k].nid);
	memcpy(m.d + l->v[k - 1].namepos, l->v[k].name, l->v[k].len);
	img_attach(&m);
	snprintf(path, sizeof(path), "/files/%s", l->v[k].name);
	ck_assert_int_eq(lib_ino(&m, path, &ino), 0);
	ck_assert_uint_eq(ino, nid_ino(&m, l->v[k].nid));
	/* listing it is corruption: the name comes again */
	ck_assert_int_eq(readdir_from(&m, "/files", 0, &n), -EFSCORRUPTED);
	ck_assert_uint_eq(n, k);
	free(l);
	img_close(&m);
}
END_TEST

/* /big/text-0.bin (98304 bytes of text, flat) made a symlink of various sizes. */
START_TEST(test_readlink_as_the_kernel)
{
	static const uint64_t sizes[] = { 10, 4094, 4095, 4096, 5000, 70000 };
	char *buf = malloc(8192);

	ck_assert_ptr_nonnull(buf);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]) + 1; s++) {
		struct eshare_stat st = ESHARE_STAT_INIT;
		bool with_nul = s == sizeof(sizes) / sizeof(sizes[0]);
		uint64_t size = with_nul ? 5000 : sizes[s];
		size_t want = size < 4095 ? (size_t)size : 4095;
		struct pino t;
		const uint8_t *data;
		eshare_inode *in;
		ssize_t r;
		struct img m;

		img_open(&m);
		p_path(&m, "/big/text-0.bin", &t);
		ck_assert_uint_ge(t.size, 8192);
		ck_assert_uint_eq(t.layout, EROFS_INODE_FLAT_PLAIN);
		put_le16(m.d + t.pos + 4, (uint16_t)(S_IFLNK | 0777));
		p_set_size(&m, &t, size);
		data = m.d + p_dataoff(&m, &t, 0);
		if (with_nul) {
			/* a NUL at byte 100 ends the target there */
			m.d[p_dataoff(&m, &t, 100)] = 0;
			want = 100;
		}
		ck_assert_ptr_null(memchr(data, 0, want));
		img_attach(&m);
		ck_assert_int_eq(eshare_lookup(&in, m.ei, "/big/text-0.bin"), 0);
		ck_assert_int_eq(eshare_stat(in, &st), 0);
		ck_assert_uint_eq(st.file_size, size);
		r = eshare_readlink(in, buf, 8192);
		ck_assert_int_eq(r, (ssize_t)want);
		ck_assert(!memcmp(buf, data, want));
		/* the length is the same when asked with no room */
		ck_assert_int_eq(eshare_readlink(in, NULL, 0), (ssize_t)want);
		r = eshare_readlink(in, buf, 7);
		ck_assert_int_eq(r, (ssize_t)want);
		eshare_inode_put(in);
		img_close(&m);
	}
	free(buf);
}
END_TEST

/* xattr/data-with-xattr (a regular file with user.* xattrs) made a symlink. */
START_TEST(test_user_xattr_on_a_symlink)
{
	char before[4096], after[4096], val[4096], val2[4096];
	ssize_t lb, la, users = 0, others = 0;
	struct pino f;
	eshare_inode *in;
	struct img m;

	img_open(&m);
	img_attach(&m);
	ck_assert_int_eq(eshare_lookup(&in, m.ei, "/xattr/data-with-xattr"), 0);
	lb = eshare_listxattr(in, before, sizeof(before));
	ck_assert_int_gt(lb, 0);
	eshare_inode_put(in);
	eshare_image_detach(m.ei);

	p_path(&m, "/xattr/data-with-xattr", &f);
	put_le16(m.d + f.pos + 4, (uint16_t)(S_IFLNK | 0777));
	img_attach(&m);
	ck_assert_int_eq(eshare_lookup(&in, m.ei, "/xattr/data-with-xattr"), 0);
	la = eshare_listxattr(in, after, sizeof(after));
	/* listxattr lists them all, user.* included, as the kernel does */
	ck_assert_int_eq(la, lb);
	ck_assert(!memcmp(before, after, (size_t)la));
	for (ssize_t off = 0; off < la; off += (ssize_t)strlen(after + off) + 1) {
		const char *name = after + off;
		ssize_t r = eshare_getxattr(in, name, val, sizeof(val));

		if (!strncmp(name, "user.", 5)) {
			ck_assert_int_eq(r, -ENODATA);
			users++;
		} else {
			ck_assert_int_ge(r, 0);
			others++;
		}
	}
	ck_assert_int_gt(users, 0);
	eshare_inode_put(in);
	/* the same names on an intact regular file read fine */
	ck_assert_int_eq(eshare_lookup(&in, m.ei, "/xattr/user-small"), 0);
	la = eshare_listxattr(in, after, sizeof(after));
	ck_assert_int_gt(la, 0);
	ck_assert_int_ge(eshare_getxattr(in, after, val2, sizeof(val2)), 0);
	eshare_inode_put(in);
	(void)others;
	img_close(&m);
}
END_TEST

static Suite *walks_suite(void)
{
	Suite *s = suite_create("walks");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dot_and_dotdot_from_the_walk);
	tcase_add_test(tc, test_slash_in_a_name);
	tcase_add_test(tc, test_names_out_of_order);
	tcase_add_test(tc, test_names_out_of_order_across_blocks);
	tcase_add_test(tc, test_name_twice_found_as_the_kernel);
	tcase_add_test(tc, test_readlink_as_the_kernel);
	tcase_add_test(tc, test_user_xattr_on_a_symlink);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	char path[4096];
	SRunner *sr;
	int failed;

	fx_path(path, sizeof(path), "plain-4k.erofs");
	fixture = test_load_file(path, &fixture_len);
	if (!fixture || !fixture_len) {
		fprintf(stderr, "cannot read %s\n", path);
		return 1;
	}
	sr = srunner_create(walks_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	free(fixture);
	return failed ? 1 : 0;
}
