// SPDX-License-Identifier: MIT
/*
 * The kernel as oracle: every fixture is mounted read-only by the kernel
 * (file-backed mount) and everything the library reads through the public
 * API is compared with what the kernel shows: directory listings (names,
 * order, inode numbers, types), every stat field, content bytes, symlink
 * targets and xattrs (names in order, values).
 * Needs root and EROFS in the kernel; skipped (77) otherwise.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <erofs_share/backend.h>
#include <erofs_share/erofs_share.h>

#include "helpers/fixtures.h"

static char mnt[] = "/tmp/eshare-oracle-XXXXXX";

struct counts {
	unsigned paths, files, bytes_mismatch, mismatches;
};

static void fail_at(struct counts *c, const char *path, const char *what, long long a, long long b)
{
	if (c->mismatches++ < 20)
		fprintf(stderr, "MISMATCH %s: %s library=%lld kernel=%lld\n", path, what, a, b);
}

static void compare_xattrs(struct counts *c, eshare_inode *ino, const char *kpath, const char *path)
{
	static char kl[1 << 16], ll[1 << 16];
	static unsigned char kv[1 << 16], lv[1 << 16];
	ssize_t kn = llistxattr(kpath, kl, sizeof(kl));
	ssize_t ln = eshare_listxattr(ino, ll, sizeof(ll));

	if (kn < 0)
		kn = 0;
	if (ln != kn || memcmp(kl, ll, (size_t)kn)) {
		fail_at(c, path, "xattr list length", ln, kn);
		return;
	}
	for (ssize_t off = 0; off < kn; off += (ssize_t)strlen(kl + off) + 1) {
		ssize_t a = lgetxattr(kpath, kl + off, kv, sizeof(kv));
		ssize_t b = eshare_getxattr(ino, kl + off, lv, sizeof(lv));

		if (a != b || (a > 0 && memcmp(kv, lv, (size_t)a)))
			fail_at(c, path, "xattr value size", b, a);
	}
	/* an absent name is absent for both */
	if (eshare_getxattr(ino, "user.eshare-absent", lv, sizeof(lv)) != -ENODATA)
		fail_at(c, path, "absent xattr", 0, -ENODATA);
}

static void compare_content(struct counts *c, eshare_inode *ino, const char *kpath, const char *path,
			    uint64_t size)
{
	static unsigned char kb[1 << 17], lb[1 << 17];
	int fd = open(kpath, O_RDONLY);
	uint64_t off = 0;

	ck_assert_int_ge(fd, 0);
	while (off < size) {
		ssize_t k = pread(fd, kb, sizeof(kb), (off_t)off);
		ssize_t l = eshare_pread(ino, lb, sizeof(lb), off);

		if (k <= 0 || l != k || memcmp(kb, lb, (size_t)k)) {
			c->bytes_mismatch++;
			fail_at(c, path, "content at", (long long)off, k);
			break;
		}
		off += (uint64_t)k;
	}
	/* reading at the end returns 0 */
	if (eshare_pread(ino, lb, 16, size) != 0)
		fail_at(c, path, "read at EOF", 1, 0);
	close(fd);
	c->files++;
}

static void compare_inode(struct counts *c, eshare_inode *ino, const char *kpath, const char *path,
			  const struct stat *ks)
{
	struct eshare_stat st = ESHARE_STAT_INIT;

	ck_assert_int_eq(eshare_stat(ino, &st), 0);
	if (st.ino != ks->st_ino)
		fail_at(c, path, "ino", (long long)st.ino, (long long)ks->st_ino);
	if (st.mode != ks->st_mode)
		fail_at(c, path, "mode", st.mode, ks->st_mode);
	if (st.nlink != ks->st_nlink)
		fail_at(c, path, "nlink", st.nlink, (long long)ks->st_nlink);
	if (st.uid != ks->st_uid || st.gid != ks->st_gid)
		fail_at(c, path, "uid/gid", st.uid * 1000000000ll + st.gid,
			ks->st_uid * 1000000000ll + ks->st_gid);
	if (st.file_size != (uint64_t)ks->st_size)
		fail_at(c, path, "size", (long long)st.file_size, (long long)ks->st_size);
	if (st.blocks != (uint64_t)ks->st_blocks)
		fail_at(c, path, "blocks", (long long)st.blocks, (long long)ks->st_blocks);
	if (st.mtime_sec != ks->st_mtim.tv_sec || st.mtime_nsec != ks->st_mtim.tv_nsec)
		fail_at(c, path, "mtime", st.mtime_sec, ks->st_mtim.tv_sec);
	if (S_ISCHR(st.mode) || S_ISBLK(st.mode)) {
		if (st.rdev_major != major(ks->st_rdev) || st.rdev_minor != minor(ks->st_rdev))
			fail_at(c, path, "rdev", st.rdev_major, major(ks->st_rdev));
	}
	if (S_ISLNK(st.mode)) {
		char kt[8192], lt[8192];
		ssize_t k = readlink(kpath, kt, sizeof(kt));
		ssize_t l = eshare_readlink(ino, lt, sizeof(lt));

		if (k != l || memcmp(kt, lt, (size_t)k))
			fail_at(c, path, "symlink target length", l, k);
	}
	if (S_ISREG(st.mode))
		compare_content(c, ino, kpath, path, st.file_size);
	compare_xattrs(c, ino, kpath, path);
}

struct dent {
	char *name;
	size_t len;
	uint64_t ino;
	unsigned type;
};
struct dlist {
	struct dent *e;
	size_t n, cap;
};

static int collect(void *user, const char *name, size_t len, uint64_t ino, unsigned type,
		   uint64_t next)
{
	struct dlist *l = user;

	(void)next;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
	}
	l->e[l->n].name = strndup(name, len);
	l->e[l->n].len = len;
	l->e[l->n].ino = ino;
	l->e[l->n].type = type;
	l->n++;
	return 0;
}

static void free_list(struct dlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
}

static void walk(struct counts *c, eshare_inode *dir, const char *kpath, const char *path, int depth)
{
	struct dlist l = { 0 };
	uint64_t cookie = 0;
	DIR *kd;
	struct dirent *de;
	size_t i = 0;

	ck_assert_int_lt(depth, 100);
	ck_assert_int_eq(eshare_readdir(dir, &cookie, collect, &l), 0);
	kd = opendir(kpath);
	ck_assert_ptr_nonnull(kd);
	/* the kernel lists in on-disk order: so must we */
	while ((de = readdir(kd))) {
		if (i >= l.n || strcmp(de->d_name, l.e[i].name)) {
			fail_at(c, kpath, "readdir entry", (long long)i, (long long)l.n);
			break;
		}
		if (de->d_ino != l.e[i].ino || de->d_type != l.e[i].type)
			fail_at(c, kpath, "dirent ino/type", (long long)l.e[i].ino,
				(long long)de->d_ino);
		i++;
	}
	if (i != l.n)
		fail_at(c, kpath, "readdir count", (long long)l.n, (long long)i);
	closedir(kd);
	for (i = 0; i < l.n; i++) {
		char *kp, *p;
		eshare_inode *child;
		struct stat ks;

		if (!strcmp(l.e[i].name, ".") || !strcmp(l.e[i].name, ".."))
			continue;
		ck_assert_int_ge(asprintf(&kp, "%s/%s", kpath, l.e[i].name), 0);
		ck_assert_int_ge(asprintf(&p, "%s/%s", path, l.e[i].name), 0);
		ck_assert_int_eq(lstat(kp, &ks), 0);
		ck_assert_int_eq(eshare_lookup_at(&child, dir, l.e[i].name, l.e[i].len), 0);
		c->paths++;
		compare_inode(c, child, kp, p, &ks);
		if (S_ISDIR(ks.st_mode))
			walk(c, child, kp, p, depth + 1);
		eshare_inode_put(child);
		free(kp);
		free(p);
	}
	free_list(&l);
}

/* Every registered fixture, its extra devices given to both readers. */
START_TEST(test_fixture)
{
	const struct fixture_info *f = &fixture_registry[_i];
	const char *name = f->name;
	char img[4096], blob[4096], opts[4200] = "", dir[256];
	struct eshare_image_opts io = ESHARE_IMAGE_OPTS_INIT;
	eshare_backend *devs[FX_MAX_DEVICES];
	eshare_domain *d;
	eshare_image *image;
	eshare_inode *root;
	struct counts c = { 0 };
	struct stat ks;
	int rc;

	fx_image_path(img, sizeof(img), f);
	for (unsigned k = 0; k < f->ndevices; k++) {
		size_t n = strlen(opts);

		fx_device_path(blob, sizeof(blob), f, k);
		snprintf(opts + n, sizeof(opts) - n, "%sdevice=%s", n ? "," : "", blob);
		ck_assert_int_eq(eshare_backend_open_file(&devs[k], blob), 0);
	}
	io.devices = f->ndevices ? devs : NULL;
	io.ndevices = f->ndevices;
	snprintf(dir, sizeof(dir), "%s/%s", mnt, name);
	mkdir(dir, 0755);
	if (mount(img, dir, "erofs", MS_RDONLY, opts))
		ck_abort_msg("kernel cannot mount %s: %s", img, strerror(errno));
	ck_assert_int_eq(eshare_domain_create(&d, NULL), 0);
	rc = eshare_image_open_path(&image, d, img, &io);
	ck_assert_msg(rc == 0, "%s: attach: %s", name, eshare_strerror(rc));
	ck_assert_int_eq(eshare_root(&root, image), 0);
	ck_assert_int_eq(lstat(dir, &ks), 0);
	compare_inode(&c, root, dir, "/", &ks);
	walk(&c, root, dir, "", 0);
	eshare_inode_put(root);
	eshare_image_detach(image);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	umount(dir);
	rmdir(dir);
	fprintf(stderr, "%s: %u paths, %u files compared with the kernel, %u mismatches\n", name,
		c.paths, c.files, c.mismatches);
	ck_assert_uint_gt(c.paths, 5000);
	ck_assert_uint_eq(c.mismatches, 0);
}
END_TEST

static int kernel_has_erofs(void)
{
	FILE *f = fopen("/proc/filesystems", "r");
	char line[256];
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "\terofs"))
			found = 1;
	fclose(f);
	return found;
}

int main(void)
{
	Suite *s = suite_create("kernel_oracle");
	TCase *tc = tcase_create("fixtures");
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		printf("SKIP: the kernel oracle needs root to mount images\n");
		return 77;
	}
	if (!kernel_has_erofs()) {
		printf("SKIP: the kernel has no EROFS (not in /proc/filesystems)\n");
		return 77;
	}
	if (!mkdtemp(mnt)) {
		perror("mkdtemp");
		return 1;
	}
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_fixture, 0, (int)fixture_count);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (unsigned i = 0; i < fixture_count; i++) {
		char dir[256];

		snprintf(dir, sizeof(dir), "%s/%s", mnt, fixture_registry[i].name);
		umount2(dir, MNT_DETACH);
		rmdir(dir);
	}
	rmdir(mnt);
	return failed ? 1 : 0;
}
