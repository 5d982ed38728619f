// SPDX-License-Identifier: MIT
/* Inode handles: lookup, stat, reads, readdir, readlink and xattrs. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "domain.h"
#include "image.h"
#include "inode.h"
#include "readpath.h"
#include "share.h"
#include "util/abi.h"

int eshare_inode_new(eshare_inode **out, eshare_image *img, uint64_t nid)
{
	eshare_inode *ino = calloc(1, sizeof(*ino));
	int rc;

	if (!ino)
		return -ENOMEM;
	rc = ef_iget(img->fs, nid, &ino->ei);
	if (rc) {
		free(ino);
		return rc;
	}
	atomic_init(&ino->refs, 1);
	ino->img = img;
	eshare_image_ref(img);
	*out = ino;
	return 0;
}

int eshare_root(eshare_inode **out, eshare_image *img)
{
	if (!out || !img)
		return -EINVAL;
	return eshare_inode_new(out, img, img->fs->root_nid);
}

int eshare_inode_open(eshare_inode **out, eshare_image *img, uint64_t ino)
{
	uint64_t nid;
	int rc;

	if (!out || !img)
		return -EINVAL;
	rc = ef_ino_to_nid(img->fs, ino, &nid);
	if (rc)
		return rc;
	return eshare_inode_new(out, img, nid);
}

eshare_inode *eshare_inode_get(eshare_inode *ino)
{
	if (ino)
		atomic_fetch_add_explicit(&ino->refs, 1, memory_order_relaxed);
	return ino;
}

void eshare_inode_put(eshare_inode *ino)
{
	if (!ino || atomic_fetch_sub_explicit(&ino->refs, 1, memory_order_acq_rel) != 1)
		return;
	eshare_image_unref(ino->img);
	free(ino);
}

eshare_image *eshare_inode_image(eshare_inode *ino)
{
	return ino ? ino->img : NULL;
}

int eshare_lookup_at(eshare_inode **out, eshare_inode *dir, const char *name, size_t namelen)
{
	uint64_t nid;
	int rc;

	if (!out || !dir || (!name && namelen))
		return -EINVAL;
	/* One name, never a path. */
	if (namelen && memchr(name, '/', namelen))
		return -EINVAL;
	if (!S_ISDIR(dir->ei.mode))
		return -ENOTDIR;
	/* "." is the directory itself, whatever its own entry says (VFS). */
	if (namelen == 1 && name[0] == '.') {
		*out = eshare_inode_get(dir);
		return 0;
	}
	rc = ef_lookup(dir->img->fs, &dir->ei, name, namelen, &nid);
	if (rc)
		return rc;
	return eshare_inode_new(out, dir->img, nid);
}

/*
 * Resolve a path as the kernel's path walk does: "." stays, ".." goes back
 * to the directory the walk came from (the root's ".." is the root), so an
 * image's own "." and ".." entries choose nothing.  The walk keeps the
 * directories it went through, one reference each.
 */
int eshare_lookup(eshare_inode **out, eshare_image *img, const char *path)
{
	eshare_inode **stack = NULL, *cur;
	size_t depth = 0, cap = 0;
	int rc;

	if (!out || !img || !path)
		return -EINVAL;
	rc = eshare_root(&cur, img);
	if (rc)
		return rc;
	for (const char *p = path;;) {
		const char *end;
		eshare_inode *next;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchr(p, '/');
		if (!end)
			end = p + strlen(p);
		len = (size_t)(end - p);
		p = end;
		if (!S_ISDIR(cur->ei.mode)) {
			rc = -ENOTDIR;
			break;
		}
		if (len == 1 && end[-1] == '.')
			continue;
		if (len == 2 && end[-1] == '.' && end[-2] == '.') {
			if (depth) {
				eshare_inode_put(cur);
				cur = stack[--depth];
			}
			continue;
		}
		rc = eshare_lookup_at(&next, cur, end - len, len);
		if (rc)
			break;
		if (depth == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			eshare_inode **ns = realloc(stack, ncap * sizeof(*ns));

			if (!ns) {
				eshare_inode_put(next);
				rc = -ENOMEM;
				break;
			}
			stack = ns;
			cap = ncap;
		}
		stack[depth++] = cur;
		cur = next;
	}
	while (depth)
		eshare_inode_put(stack[--depth]);
	free(stack);
	if (rc) {
		eshare_inode_put(cur);
		return rc;
	}
	*out = cur;
	return 0;
}

int eshare_stat(eshare_inode *ino, struct eshare_stat *st)
{
	struct eshare_stat s = ESHARE_STAT_INIT;
	const struct ef_inode *ei;

	if (!ino || !st || st->size < 8)
		return -EINVAL;
	ei = &ino->ei;
	s.mode = ei->mode;
	s.ino = ei->ino;
	s.nlink = ei->nlink;
	s.uid = ei->uid;
	s.gid = ei->gid;
	if (S_ISCHR(ei->mode) || S_ISBLK(ei->mode)) {
		/* the kernel's new_decode_dev() */
		s.rdev_major = (ei->rdev & 0xfff00) >> 8;
		s.rdev_minor = (ei->rdev & 0xff) | ((ei->rdev >> 12) & 0xfff00);
	}
	s.blksize = ino->img->fs->blksz;
	s.file_size = ei->size;
	s.blocks = ef_inode_blocks(ino->img->fs, ei);
	s.mtime_sec = ei->mtime;
	s.mtime_nsec = ei->mtime_nsec;
	s.layout = ei->layout;
	s.nid = ei->nid;
	return eshare_copy_out(st, &s, sizeof(s));
}

struct readdir_ctx {
	eshare_inode *dir;
	eshare_dirent_fn fn;
	void *user;
};

static const unsigned char ft_to_dt[EROFS_FT_MAX] = {
	[EROFS_FT_UNKNOWN] = ESHARE_DT_UNKNOWN, [EROFS_FT_REG_FILE] = ESHARE_DT_REG,
	[EROFS_FT_DIR] = ESHARE_DT_DIR,         [EROFS_FT_CHRDEV] = ESHARE_DT_CHR,
	[EROFS_FT_BLKDEV] = ESHARE_DT_BLK,      [EROFS_FT_FIFO] = ESHARE_DT_FIFO,
	[EROFS_FT_SOCK] = ESHARE_DT_SOCK,       [EROFS_FT_SYMLINK] = ESHARE_DT_LNK,
};

static int readdir_cb(void *user, const char *name, size_t namelen, uint64_t nid, unsigned ftype,
		      uint64_t next)
{
	struct readdir_ctx *c = user;

	return c->fn(c->user, name, namelen, ef_nid_to_ino(c->dir->img->fs, nid),
		     ftype < EROFS_FT_MAX ? ft_to_dt[ftype] : ESHARE_DT_UNKNOWN, next);
}

int eshare_readdir(eshare_inode *dir, uint64_t *cookie, eshare_dirent_fn fn, void *user)
{
	struct readdir_ctx c = { dir, fn, user };

	if (!dir || !cookie || !fn)
		return -EINVAL;
	return ef_readdir(dir->img->fs, &dir->ei, cookie, readdir_cb, &c);
}

ssize_t eshare_readlink(eshare_inode *ino, char *buf, size_t len)
{
	if (!ino || (!buf && len))
		return -EINVAL;
	return ef_readlink(ino->img->fs, &ino->ei, buf, len);
}

ssize_t eshare_listxattr(eshare_inode *ino, char *buf, size_t len)
{
	if (!ino || (!buf && len))
		return -EINVAL;
	return ef_listxattr(ino->img->fs, &ino->ei, buf, len);
}

ssize_t eshare_getxattr(eshare_inode *ino, const char *name, void *buf, size_t len)
{
	if (!ino || !name || (!buf && len))
		return -EINVAL;
	return ef_getxattr(ino->img->fs, &ino->ei, name, buf, len);
}

int eshare_inode_advise(eshare_inode *ino, unsigned advice)
{
	if (!ino || advice > ESHARE_ADVICE_NOREUSE)
		return -EINVAL;
	atomic_store_explicit(&ino->advice, advice, memory_order_relaxed);
	return 0;
}

ssize_t eshare_pread(eshare_inode *ino, void *buf, size_t len, uint64_t off)
{
	eshare_image *img;
	struct binding *b = NULL;
	int rc;

	if (!ino || (!buf && len))
		return -EINVAL;
	if (S_ISDIR(ino->ei.mode))
		return -EISDIR;
	if (!S_ISREG(ino->ei.mode))
		return -EINVAL;
	img = ino->img;
	if (off >= ino->ei.size || !len)
		return 0;
	if (len > ino->ei.size - off)
		len = (size_t)(ino->ei.size - off);
	if (len > (size_t)SSIZE_MAX)
		len = (size_t)SSIZE_MAX & ~(size_t)(PC_PAGE_SIZE - 1);
	/*
	 * A fill of a shared page that fails its proof is never cached.  If
	 * this member's image gave the wrong bytes, it leaves the shared
	 * object and the read starts again from its private one; if another
	 * member's fill failed while this read waited for it, this read goes
	 * to its own image.
	 */
	for (unsigned attempt = 0;; attempt++) {
		struct read_ctx rd = { 0 };

		b = atomic_load_explicit(&ino->bind, memory_order_acquire);

		/* a settled binding needs no lock; else the image's tables decide */
		if (!b || !eshare_share_view(b, &rd)) {
			rc = eshare_share_bind(img, &ino->ei, &rd, &b);
			if (rc)
				return rc;
			atomic_store_explicit(&ino->bind, b, memory_order_release);
		}
		/* a shared object's pages are worth keeping whatever this reader says */
		if (!rd.shared && atomic_load_explicit(&ino->advice, memory_order_relaxed) ==
					  ESHARE_ADVICE_NOREUSE) {
			rc = readpath_read_uncached(img->fs, &ino->ei, buf, len, off);
			break;
		}
		rc = readpath_read(img->domain->cache, img->domain->tails, img->fs, &ino->ei, &rd,
				   buf, len, off);
		if (!rc)
			break;
		if (rd.failed)
			eshare_share_leave(img, b, rd.obj);
		/*
		 * A shared object's reader that got another member's failure
		 * (it waited for that member's fill) reads from its own image,
		 * around the cache: that member's image is not this one's to
		 * answer for, and may fail every fill it makes.  The pages it
		 * reads are checked against the proof all the same (a front end
		 * may show this file under a twin's name); if they fail, this
		 * member leaves too and reads privately.
		 */
		if (rd.shared && !rd.fill_failed) {
			rc = readpath_read_own(img->fs, &ino->ei, &rd, buf, len, off);
			if (rc != -ESHARE_EPROOF)
				break;
			eshare_share_leave(img, b, rd.obj);
		}
		/* its own image failed the proof: it now reads privately */
		if (rc != -ESHARE_EPROOF)
			break;
		if (attempt == 7) {
			rc = -EIO;
			break;
		}
	}
	if (rc)
		return rc;
	/*
	 * A twin came while this read ran and could not take this file's
	 * pages yet (some were being filled): the file was left for its own
	 * reader to settle.  Settle it now, rather than at a next read that
	 * may never come and leave its private copy beside the shared one.
	 * The read has its bytes either way; an error here only leaves the
	 * file private.
	 */
	if (atomic_load_explicit(&b->state, memory_order_relaxed) == BIND_DEFERRED) {
		struct read_ctx rd = { 0 };

		eshare_share_bind(img, &ino->ei, &rd, &b);
	}
	counter_add2(&img->cnt, &img->domain->cnt, CNT_LOGICAL, len);
	return (ssize_t)len;
}
