// SPDX-License-Identifier: MIT
/*
 * erofs-share extract: recreate an image's tree as the kernel shows it.
 *
 * Safety: the destination must be empty (or absent), every entry is created
 * exclusively (mkdir, O_EXCL, mknod, symlink, link all fail on an existing
 * name) and names holding '/' or NUL, "." and ".." are refused.  So every
 * path component below the destination is a directory this run just made,
 * and a crafted image cannot make the extraction write outside it through a
 * symlink or "..".
 *
 * Order per entry: create, write content, lchown (it clears setuid/setgid
 * and file capabilities, so it goes first), xattrs, chmod, utimensat.
 * Directories get their metadata after their contents (post-order): adding
 * entries changes a directory's mtime, and a default ACL set early would be
 * inherited by everything created inside.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"

#define COPY_SIZE (1u << 20)
#define HOLE_SIZE 4096u

struct extract {
	struct cli_ctx *ctx;
	struct cli_buf dest;		/* the destination directory, no trailing '/' */
	struct cli_buf full;		/* scratch: dest + the entry's path */
	struct cli_inomap links;	/* ino -> index in linkpaths */
	char **linkpaths;
	size_t nlinks, caplinks;
	char *buf;
	bool root;			/* may chown, mknod devices, set any xattr */
	bool full_fs;			/* ENOSPC or EDQUOT met: stop */
	bool inherits;			/* the destination has a default ACL */
	int error;			/* the first error met */
};

static int fail(struct extract *x, const struct esc_entry *n, const char *what, int err)
{
	cli_err_path(x->ctx, n->path, n->pathlen, what, err);
	if (!x->error)
		x->error = err;
	return err;
}

static int sys_fail(struct extract *x, const struct esc_entry *n, const char *what)
{
	int err = -errno;
	struct cli_buf b = { 0 };

	/*
	 * A full file system fails every write after the first: say it once
	 * and stop making entries (what was made still gets its metadata).
	 */
	if (err == -ENOSPC || err == -EDQUOT) {
		if (x->full_fs) {
			if (!x->error)
				x->error = err;
			return err;
		}
		x->full_fs = true;
		what = err == -ENOSPC ? "no space left on the destination, extraction stopped at" :
					"quota exceeded on the destination, extraction stopped at";
	}

	/* Name the output path too: that is where the system call failed. */
	cli_buf_addf(&b, "%s ", what);
	cli_escape(&b, x->full.p, x->full.len, NULL);
	cli_err_path_sys(x->ctx, n->path, n->pathlen, b.p, err);
	cli_buf_free(&b);
	if (!x->error)
		x->error = err;
	return err;
}

static void full_path(struct extract *x, const struct esc_entry *n)
{
	x->full.len = 0;
	cli_buf_add(&x->full, x->dest.p, x->dest.len);
	if (n->pathlen > 1 || n->path[0] != '/')
		cli_buf_add(&x->full, n->path, n->pathlen);
}

static bool all_zero(const char *p, size_t len)
{
	/* p[0] == 0 and every byte equal to its successor. */
	return len == 0 || (p[0] == 0 && !memcmp(p, p + 1, len - 1));
}

static int pwrite_all(int fd, const char *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Copy a regular file's content; all-zero 4 KiB runs are left as holes. */
static int write_content(struct extract *x, const struct esc_entry *n, int fd)
{
	uint64_t off = 0, size = n->st->file_size;
	int ret;

	/* read once: decode into our buffer, not into the domain's cache */
	eshare_inode_advise(n->ino, ESHARE_ADVICE_NOREUSE);
	while (off < size) {
		size_t want = size - off < COPY_SIZE ? (size_t)(size - off) : COPY_SIZE;
		ssize_t got = eshare_pread(n->ino, x->buf, want, off);
		size_t pos = 0;

		if (got < 0)
			return fail(x, n, "read", (int)got);
		if (got == 0)
			return fail(x, n, "read: file ends early", -EIO);
		while (pos < (size_t)got) {
			size_t len = (size_t)got - pos < HOLE_SIZE ? (size_t)got - pos : HOLE_SIZE;
			size_t run = pos;

			if (all_zero(x->buf + pos, len)) {
				pos += len;
				continue;
			}
			/* Write the whole run of non-zero blocks at once. */
			while (pos < (size_t)got) {
				len = (size_t)got - pos < HOLE_SIZE ? (size_t)got - pos : HOLE_SIZE;
				if (all_zero(x->buf + pos, len))
					break;
				pos += len;
			}
			ret = pwrite_all(fd, x->buf + run, pos - run, off + run);
			if (ret) {
				errno = -ret;
				return sys_fail(x, n, "write");
			}
		}
		off += (uint64_t)got;
	}
	/* Trailing zeros were skipped: the size comes from ftruncate. */
	if (ftruncate(fd, (off_t)size))
		return sys_fail(x, n, "ftruncate");
	return 0;
}

static bool is_acl(const char *name)
{
	return !strcmp(name, "system.posix_acl_access") ||
	       !strcmp(name, "system.posix_acl_default");
}

/* lsetxattr(), or fsetxattr() on @fd when it is not -1 */
static int set_xattr(struct extract *x, int fd, const char *name, const void *v, size_t len)
{
	return fd < 0 ? lsetxattr(x->full.p, name, v, len, 0) : fsetxattr(fd, name, v, len, 0);
}

/* Remove ACL @name that the new entry may have inherited: 0 or an error. */
static int drop_acl(struct extract *x, const struct esc_entry *n, int fd, const char *name)
{
	char what[64];

	if (!x->inherits)
		return 0;	/* nothing to inherit from: no system call per entry */
	if (!(fd < 0 ? lremovexattr(x->full.p, name) : fremovexattr(fd, name)) ||
	    errno == ENODATA || errno == EOPNOTSUPP)
		return 0;
	snprintf(what, sizeof(what), "lremovexattr %s", name);
	return sys_fail(x, n, what);
}

/* The image's xattrs of @n, set on the new entry (by path, or on @fd). */
static int set_xattrs(struct extract *x, const struct esc_entry *n, int fd)
{
	bool lnk = S_ISLNK(n->st->mode), had_access = false, had_default = false;
	struct cli_xattrs xa;
	size_t i;
	int ret;

	ret = cli_xattrs_get(x->ctx, n->ino, n->path, n->pathlen, &xa);
	if (ret) {
		if (!x->error)
			x->error = ret;
		return ret;
	}
	for (i = 0; i < xa.n; i++) {
		const char *name = xa.v[i].name;

		if (!strcmp(name, "system.posix_acl_access"))
			had_access = true;
		if (!strcmp(name, "system.posix_acl_default"))
			had_default = true;
		/* Without privilege only user.* can be set; ACLs need ownership. */
		if (!x->root && strncmp(name, "user.", 5) && !is_acl(name))
			continue;
		/* ACLs go in verbatim: the kernel shows the image's raw values too. */
		if (set_xattr(x, fd, name, xa.v[i].value, xa.v[i].vlen)) {
			struct cli_buf what = { 0 };

			cli_buf_add(&what, "lsetxattr ", 10);
			cli_escape(&what, name, xa.v[i].namelen, NULL);
			ret = sys_fail(x, n, what.p);
			cli_buf_free(&what);
		}
	}
	cli_xattrs_free(&xa);
	/*
	 * An entry created below a directory with a default ACL (the user's
	 * destination may have one) inherits ACLs the image does not hold.
	 */
	if (!lnk && !had_access && drop_acl(x, n, fd, "system.posix_acl_access"))
		ret = -EIO;
	if (S_ISDIR(n->st->mode) && !had_default &&
	    drop_acl(x, n, fd, "system.posix_acl_default"))
		ret = -EIO;
	return ret;
}

/*
 * Owner, xattrs, mode and times of the new entry: through @fd, the regular
 * file just written (no path walk per call), or by path when @fd is -1.
 */
static int set_meta(struct extract *x, const struct esc_entry *n, int fd)
{
	const struct eshare_stat *st = n->st;
	struct timespec ts[2];
	int ret = 0;

	if (x->root && (fd < 0 ? lchown(x->full.p, st->uid, st->gid) :
				 fchown(fd, st->uid, st->gid)))
		ret = sys_fail(x, n, "lchown");
	if (set_xattrs(x, n, fd))
		ret = -EIO;
	/* After chown, which cleared setuid/setgid; symlinks have no mode of their own. */
	if (!S_ISLNK(st->mode) && (fd < 0 ? chmod(x->full.p, st->mode & 07777) :
					    fchmod(fd, st->mode & 07777)))
		ret = sys_fail(x, n, "chmod");
	ts[0].tv_sec = (time_t)(st->mtime_sec + st->mtime_nsec / 1000000000u);
	ts[0].tv_nsec = (long)(st->mtime_nsec % 1000000000u);
	ts[1] = ts[0];
	if (fd < 0 ? utimensat(AT_FDCWD, x->full.p, ts, AT_SYMLINK_NOFOLLOW) : futimens(fd, ts))
		ret = sys_fail(x, n, "utimensat");
	return ret;
}

/*
 * Create @n.  A regular file gets its metadata through its descriptor, and
 * the result in *@meta; other types leave *@meta at 1 (not set yet).
 */
static int make_node(struct extract *x, const struct esc_entry *n, int *meta)
{
	const struct eshare_stat *st = n->st;
	char *target;
	size_t tlen;
	int fd, ret;

	switch (st->mode & S_IFMT) {
	case S_IFREG:
		fd = open(x->full.p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return sys_fail(x, n, "create");
		ret = write_content(x, n, fd);
		/* No half-written file is left to pass for the image's. */
		if (ret) {
			close(fd);
			unlink(x->full.p);
			return ret;
		}
		*meta = set_meta(x, n, fd);
		if (close(fd))
			return sys_fail(x, n, "close");
		return 0;
	case S_IFLNK:
		ret = cli_readlink(x->ctx, n->ino, n->path, n->pathlen, &target, &tlen);
		if (ret) {
			x->error = x->error ? x->error : ret;
			return ret;
		}
		if (memchr(target, '\0', tlen) || !tlen) {
			free(target);
			return fail(x, n, "symlink target empty or with a NUL byte",
				    -ESHARE_EFSCORRUPTED);
		}
		ret = symlink(target, x->full.p) ? sys_fail(x, n, "symlink") : 0;
		free(target);
		return ret;
	case S_IFCHR:
	case S_IFBLK:
		if (mknod(x->full.p, (st->mode & S_IFMT) | 0600,
			  makedev(st->rdev_major, st->rdev_minor)))
			return sys_fail(x, n, "mknod");
		return 0;
	case S_IFIFO:
	case S_IFSOCK:
		if (mknod(x->full.p, (st->mode & S_IFMT) | 0600, 0))
			return sys_fail(x, n, "mknod");
		return 0;
	}
	return fail(x, n, "unknown file type", -ESHARE_EFSCORRUPTED);
}

static int extract_pre(void *user, const struct esc_entry *n)
{
	struct extract *x = user;
	const struct eshare_stat *st = n->st;
	size_t slot = SIZE_MAX;
	int ret, meta = 1;

	if (x->full_fs)
		return ESC_WALK_STOP;
	if (!n->depth) {
		if (!S_ISDIR(st->mode))
			return fail(x, n, "the root is not a directory", -ENOTDIR);
		return 0;	/* the destination itself; metadata in post */
	}
	if (!n->namelen || memchr(n->name, '/', n->namelen) || memchr(n->name, '\0', n->namelen) ||
	    (n->namelen == 1 && n->name[0] == '.') ||
	    (n->namelen == 2 && n->name[0] == '.' && n->name[1] == '.'))
		return fail(x, n, "refusing an unsafe name", -ESHARE_EFSCORRUPTED);
	full_path(x, n);
	if (S_ISDIR(st->mode)) {
		/* Owner-only until its metadata is set after its contents. */
		if (mkdir(x->full.p, 0700)) {
			ret = sys_fail(x, n, "mkdir");
			return x->full_fs ? ESC_WALK_STOP : ret;
		}
		return 0;
	}
	if (st->nlink > 1) {
		slot = cli_inomap_get_or_put(&x->links, st->ino, x->nlinks);
		if (slot == SIZE_MAX) {
			if (x->nlinks == x->caplinks) {
				x->caplinks = x->caplinks ? x->caplinks * 2 : 64;
				x->linkpaths = cli_realloc(x->linkpaths,
							   x->caplinks * sizeof(*x->linkpaths));
			}
			slot = x->nlinks++;
			x->linkpaths[slot] = NULL;
		}
		if (x->linkpaths[slot]) {
			/* Another name of an inode already extracted (with its metadata). */
			ret = link(x->linkpaths[slot], x->full.p) ? sys_fail(x, n, "link") : 0;
			return x->full_fs ? ESC_WALK_STOP : ret;
		}
	}
	ret = make_node(x, n, &meta);
	if (ret)
		return x->full_fs ? ESC_WALK_STOP : ret;
	/* Only a name that was really created can be linked to. */
	if (slot != SIZE_MAX) {
		x->linkpaths[slot] = cli_malloc(x->full.len + 1);
		memcpy(x->linkpaths[slot], x->full.p, x->full.len + 1);
	}
	if (meta > 0)
		meta = set_meta(x, n, -1);
	return x->full_fs ? ESC_WALK_STOP : meta;
}

/* A directory's metadata once its contents are made, also when stopping. */
static int extract_post(void *user, const struct esc_entry *n)
{
	struct extract *x = user;

	full_path(x, n);
	return set_meta(x, n, -1);
}

/*
 * Whether entries made in @dir inherit ACLs: only from its default ACL, as
 * every directory below it gets the image's ACLs after its contents are
 * made.  An error other than "none" or "not supported" counts as yes.
 */
static bool inherits_acl(const char *dir)
{
	if (lgetxattr(dir, "system.posix_acl_default", NULL, 0) >= 0)
		return true;
	return errno != ENODATA && errno != EOPNOTSUPP;
}

/* The destination must be empty, so nothing in it can redirect our writes. */
static int prepare_dest(struct extract *x, const char *dir)
{
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (mkdir(dir, 0700) == 0) {
		x->inherits = inherits_acl(dir);
		return 0;
	}
	if (errno != EEXIST) {
		ret = -errno;
		cli_err(x->ctx, "%s: cannot create: %s", dir, strerror(-ret));
		return ret;
	}
	d = opendir(dir);
	if (!d) {
		ret = -errno;
		cli_err(x->ctx, "%s: cannot open: %s", dir, strerror(-ret));
		return ret;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			cli_err(x->ctx, "%s: destination is not empty", dir);
			ret = -ENOTEMPTY;
			break;
		}
	}
	closedir(d);
	x->inherits = inherits_acl(dir);
	return ret;
}

int cmd_extract(struct cli_ctx *ctx, struct cli_args *a)
{
	struct extract x = { .ctx = ctx, .root = geteuid() == 0 };
	const char *dir = a->pos[1];
	size_t len = strlen(dir), i;
	eshare_inode *root;
	int ret;

	while (len > 1 && dir[len - 1] == '/')
		len--;
	cli_buf_add(&x.dest, dir, len);
	ret = prepare_dest(&x, x.dest.p);
	if (ret)
		goto out;
	ret = eshare_root(&root, ctx->image);
	if (ret) {
		cli_err_path(ctx, "/", 1, "root", ret);
		goto out;
	}
	x.buf = cli_malloc(COPY_SIZE);
	ret = cli_walk(ctx, root, "/", extract_pre, extract_post, &x, 0);
	eshare_inode_put(root);
	if (!ret)
		ret = x.error;
out:
	for (i = 0; i < x.nlinks; i++)
		free(x.linkpaths[i]);
	free(x.linkpaths);
	cli_inomap_free(&x.links);
	cli_buf_free(&x.full);
	cli_buf_free(&x.dest);
	free(x.buf);
	return ret;
}
