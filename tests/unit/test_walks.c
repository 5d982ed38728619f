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
#include "helpers/hostile.h"

static uint8_t *fixture;
static size_t fixture_len;

/* ------------------------------------------------------------------ */
/* A small parser of flat images                                        */

struct img {
	uint8_t *d;
	size_t len;
	struct pimg p; /* helpers/hostile.h's parser on d */
	eshare_domain *dom;
	eshare_image *ei;
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
	p_open(&m->p, m->d, m->len);
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

/* The parser's inode at @path. */
static void path_ino(const struct img *m, const char *path, struct pino *out)
{
	uint64_t dpos;

	p_path(&m->p, path, out, &dpos);
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
	p_iget(&m.p, m.p.root, &root);
	path_ino(&m, "/files", &files);
	path_ino(&m, "/xattr", &xattr);
	path_ino(&m, "/files/tiny-13-100", &tiny);
	/* /files's own "." and ".." now name /xattr */
	p_list(&m.p, &files, l);
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
	path_ino(&m, "/files", &files);
	p_list(&m.p, &files, l);
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
	path_ino(&m, "/files", &files);
	p_list(&m.p, &files, l);
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
	path_ino(&m, "/bigdir", &bigdir);
	ck_assert_uint_gt(bigdir.size, 2 * m.p.blksz);
	p_list(&m.p, &bigdir, l);
	for (k = 0; k < l->n && l->v[k].cookie < m.p.blksz; k++)
		;
	ck_assert_uint_lt(k + 1, l->n);
	ck_assert_uint_eq(l->v[k].cookie, m.p.blksz);
	/* byte 1 sorts before every name of the directory: still first in its block */
	m.d[l->v[k].namepos] = 1;
	img_attach(&m);
	ck_assert_int_eq(readdir_from(&m, "/bigdir", 0, &n), -EFSCORRUPTED);
	ck_assert_uint_eq(n, k);
	ck_assert_int_eq(readdir_from(&m, "/bigdir", m.p.blksz, &n), -EFSCORRUPTED);
	ck_assert_uint_eq(n, 0);
	/* from its second dirent on, the directory is in order again */
	ck_assert_int_eq(readdir_from(&m, "/bigdir", m.p.blksz + 12, &n), 0);
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
	path_ino(&m, "/files", &files);
	ck_assert_uint_le(files.size, m.p.blksz);
	p_list(&m.p, &files, l);
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
		path_ino(&m, "/big/text-0.bin", &t);
		ck_assert_uint_ge(t.size, 8192);
		ck_assert_uint_eq(t.layout, EROFS_INODE_FLAT_PLAIN);
		put_le16(m.d + t.pos + 4, (uint16_t)(S_IFLNK | 0777));
		p_set_size(m.d, &t, size);
		data = m.d + p_dataoff(&m.p, &t, 0);
		if (with_nul) {
			/* a NUL at byte 100 ends the target there */
			m.d[p_dataoff(&m.p, &t, 100)] = 0;
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

	path_ino(&m, "/xattr/data-with-xattr", &f);
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
