/* SPDX-License-Identifier: MIT */
/*
 * The FUSE operations and the node tables behind them.
 *
 * The images never change, so the kernel may cache everything for long:
 * entries, negative entries, attributes, symlinks, directory listings and
 * pages (keep_cache).  What it cached of an image that is removed is
 * invalidated explicitly (fs_remove_image()).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <unistd.h>

#include "common.h"
#include "fusefs.h"

#define EROFS_SUPER_MAGIC_V1 0xE0F5E1E2u
#define READ_MAX (1u << 20)

const char *const fusefs_op_names[FOP_COUNT] = {
	[FOP_INIT] = "init",
	[FOP_LOOKUP] = "lookup",
	[FOP_FORGET] = "forget",
	[FOP_GETATTR] = "getattr",
	[FOP_READLINK] = "readlink",
	[FOP_OPEN] = "open",
	[FOP_READ] = "read",
	[FOP_RELEASE] = "release",
	[FOP_OPENDIR] = "opendir",
	[FOP_READDIR] = "readdir",
	[FOP_READDIRPLUS] = "readdirplus",
	[FOP_RELEASEDIR] = "releasedir",
	[FOP_STATFS] = "statfs",
	[FOP_GETXATTR] = "getxattr",
	[FOP_LISTXATTR] = "listxattr",
	[FOP_ACCESS] = "access",
	[FOP_WRITE_DENIED] = "write_denied",
};

void fs_log(struct fs *fs, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fs->foreground)
		fprintf(stderr, "erofs-share-fuse: %s\n", msg);
	else
		syslog(level, "%s", msg);
}

/* ------------------------------------------------------------------ */
/* Hash tables                                                          */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static int htab_init(struct htab *t)
{
	t->b = calloc(64, sizeof(void *));
	if (!t->b)
		return -ENOMEM;
	t->mask = 63;
	t->count = 0;
	return 0;
}

static uint64_t node_id_hash(const void *e)
{
	return mix64(((const struct node *)e)->id);
}

static uint64_t alias_key(const struct fimage *fimg, uint64_t kino)
{
	return mix64((uint64_t)(uintptr_t)fimg ^ mix64(kino));
}

static uint64_t alias_hash(const void *e)
{
	const struct alias *a = e;

	return alias_key(a->fimg, a->kino);
}

static uint64_t fp_hash(const char *fp, uint64_t size)
{
	uint64_t h = mix64(size);

	for (; *fp; fp++)
		h = mix64(h ^ (unsigned char)*fp);
	return h;
}

static uint64_t share_hash(const void *e)
{
	const struct node *n = e;

	return fp_hash(n->sh.fingerprint, n->st.file_size);
}

/* The chain link of an element sits at @off bytes. */
static void **link_of(void *e, size_t off)
{
	return (void **)((char *)e + off);
}

static void htab_grow(struct htab *t, size_t off, uint64_t (*hash)(const void *))
{
	size_t n = (t->mask + 1) * 2, i;
	void **nb = calloc(n, sizeof(void *));

	if (!nb)
		return;		/* longer chains, still correct */
	for (i = 0; i <= t->mask; i++) {
		void *e = t->b[i];

		while (e) {
			void *next = *link_of(e, off);
			size_t h = hash(e) & (n - 1);

			*link_of(e, off) = nb[h];
			nb[h] = e;
			e = next;
		}
	}
	free(t->b);
	t->b = nb;
	t->mask = n - 1;
}

static void htab_add(struct htab *t, void *e, size_t off, uint64_t (*hash)(const void *))
{
	size_t h;

	if (t->count >= t->mask + 1)
		htab_grow(t, off, hash);
	h = hash(e) & t->mask;
	*link_of(e, off) = t->b[h];
	t->b[h] = e;
	t->count++;
}

static void htab_del(struct htab *t, void *e, size_t off, uint64_t (*hash)(const void *))
{
	void **pp = &t->b[hash(e) & t->mask];

	while (*pp) {
		if (*pp == e) {
			*pp = *link_of(e, off);
			t->count--;
			return;
		}
		pp = link_of(*pp, off);
	}
}

#define ID_OFF offsetof(struct node, id_next)
#define ALIAS_OFF offsetof(struct alias, hash_next)
#define SHARE_OFF offsetof(struct node, sh.share_next)

static struct node *node_by_id(struct fs *fs, uint64_t id)
{
	struct node *n = fs->by_id.b[mix64(id) & fs->by_id.mask];

	while (n && n->id != id)
		n = n->id_next;
	return n;
}

static struct alias *alias_find(struct fs *fs, struct fimage *fimg, uint64_t kino)
{
	struct alias *a = fs->by_alias.b[alias_key(fimg, kino) & fs->by_alias.mask];

	while (a && (a->fimg != fimg || a->kino != kino))
		a = a->hash_next;
	return a;
}

/* ------------------------------------------------------------------ */
/* Images and nodes (under fs->lock)                                   */

static void fimage_put_locked(struct fimage *fimg, eshare_inode **root)
{
	if (--fimg->refs)
		return;
	*root = fimg->root;
	free(fimg->name);
	free(fimg->path);
	free(fimg);
}

/* Drop the lock, then what could not be released under it. */
static void unlock_put(struct fs *fs, eshare_inode *a, eshare_inode *b)
{
	pthread_mutex_unlock(&fs->lock);
	eshare_inode_put(a);
	eshare_inode_put(b);
}

static bool same_attrs(const struct node *n, const char *fp, const struct eshare_stat *st,
		       const void *xattrs, size_t xlen)
{
	return !strcmp(n->sh.fingerprint, fp) && n->st.mode == st->mode && n->st.uid == st->uid &&
	       n->st.gid == st->gid && n->st.file_size == st->file_size &&
	       n->st.blocks == st->blocks && n->st.mtime_sec == st->mtime_sec &&
	       n->st.mtime_nsec == st->mtime_nsec && n->st.nlink == st->nlink &&
	       n->sh.xattrs_len == xlen && (!xlen || !memcmp(n->sh.xattrs, xattrs, xlen));
}

static bool has_image(const struct node *n, const struct fimage *fimg)
{
	const struct alias *a;

	for (a = n->aliases; a; a = a->node_next)
		if (a->fimg == fimg)
			return true;
	return false;
}

/*
 * A node of another image made since this lookup looked for candidates (a
 * twin looked up at the same moment) whose file was in @id's shared object
 * when its node was made, or that stands for that object now: the file's
 * node too.  Under fs->lock; the object is marked on the node found.
 */
static struct node *share_joined(struct fs *fs, struct fimage *fimg,
				 const struct eshare_file_identity *id, const struct eshare_stat *st,
				 const void *xattrs, size_t xlen)
{
	struct node *c = fs->by_share.b[fp_hash(id->fingerprint, st->file_size) & fs->by_share.mask];

	for (; c; c = c->sh.share_next) {
		uint64_t obj = atomic_load(&c->sh.object);

		if (!same_attrs(c, id->fingerprint, st, xattrs, xlen) || has_image(c, fimg) ||
		    (obj ? obj != id->object : c->sh.join_object != id->object))
			continue;
		atomic_store(&c->sh.object, id->object);
		return c;
	}
	return NULL;
}

/* Files of one size and equal attributes asked at most, per lookup. */
#define MAX_CANDIDATES 256

/*
 * Nodes of other images that may stand for this file too: the same
 * fingerprint and attributes.  Distinct inodes of one image stay distinct
 * (they are no hard links there), so a node already naming an inode of
 * @fimg is passed over.  Returns how many ids were put in @ids.
 */
static unsigned share_candidates(struct fs *fs, struct fimage *fimg, const char *fp,
				 const struct eshare_stat *st, const void *xattrs, size_t xlen,
				 uint64_t ids[MAX_CANDIDATES], eshare_inode *inos[MAX_CANDIDATES])
{
	unsigned k = 0, pass;

	/* Nodes of this fingerprint, then those that had none when they came. */
	for (pass = 0; pass < 2; pass++) {
		const char *key = pass ? "" : fp;
		struct node *n = fs->by_share.b[fp_hash(key, st->file_size) & fs->by_share.mask];

		for (; n && k < MAX_CANDIDATES; n = n->sh.share_next) {
			if (!same_attrs(n, key, st, xattrs, xlen) || has_image(n, fimg))
				continue;
			ids[k] = n->id;
			inos[k++] = eshare_inode_get(n->ino);
		}
		if (!fp[0])
			break;
	}
	return k;
}

/*
 * What the domain says of @ino for node sharing: 1 if it reads through a
 * shared object it may stand for (TRUST: its claim; otherwise its own bytes
 * hashed to its fingerprint), 0 if not (yet), or a negative errno.
 */
static int share_identity(struct fs *fs, eshare_inode *ino, struct eshare_file_identity *id)
{
	int err = eshare_file_identity(ino, 0, id);

	/* COMPUTE: every file is hashed anyway, so that a later twin finds it */
	if (!err && !id->fingerprint[0] && fs->policy == ESHARE_SHARE_COMPUTE)
		err = eshare_file_identity(ino, ESHARE_IDENTITY_COMPUTE, id);
	if (!err && (id->flags & ESHARE_IDENTITY_SHARED) && fs->policy != ESHARE_SHARE_TRUST &&
	    !(id->flags & ESHARE_IDENTITY_PROVEN))
		err = eshare_file_identity(ino, ESHARE_IDENTITY_COMPUTE, id);
	if (err)
		return err;
	return (id->flags & ESHARE_IDENTITY_SHARED) && id->fingerprint[0] &&
	       (fs->policy == ESHARE_SHARE_TRUST || (id->flags & ESHARE_IDENTITY_PROVEN));
}

/*
 * @ino shares nothing (yet): its twins of other images may not be known to
 * the library, which hashes another image's file only from what it has
 * cached.  Ask the files of other images with the same size and attributes
 * whose content is not known (each is hashed from its own image, as its own
 * reader would), then @ino again.  1 if @ino now shares (@id updated), 0 if
 * not, or a negative errno.
 */
static int share_unknown_twins(struct fs *fs, struct fimage *fimg, eshare_inode *ino,
			       struct eshare_file_identity *id, const struct eshare_stat *st,
			       const void *xattrs, size_t xlen)
{
	uint64_t cids[MAX_CANDIDATES];
	eshare_inode *cinos[MAX_CANDIDATES];
	unsigned n, i;

	pthread_mutex_lock(&fs->lock);
	n = fimg->removed ? 0 : share_candidates(fs, fimg, "", st, xattrs, xlen, cids, cinos);
	pthread_mutex_unlock(&fs->lock);
	if (!n)
		return 0;
	for (i = 0; i < n; i++) {
		struct eshare_file_identity cid = ESHARE_FILE_IDENTITY_INIT;

		share_identity(fs, cinos[i], &cid);
		eshare_inode_put(cinos[i]);
	}
	return share_identity(fs, ino, id);
}

static int alias_add(struct fs *fs, struct node *n, struct fimage *fimg, uint64_t kino)
{
	struct alias *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->fimg = fimg;
	a->kino = kino;
	a->node = n;
	a->node_next = n->aliases;
	n->aliases = a;
	htab_add(&fs->by_alias, a, ALIAS_OFF, alias_hash);
	return 0;
}

/* Remove node @n; returns the inode reference(s) to put once unlocked. */
static void node_free_locked(struct fs *fs, struct node *n, eshare_inode **ino,
			     eshare_inode **root)
{
	while (n->aliases) {
		struct alias *a = n->aliases;

		n->aliases = a->node_next;
		htab_del(&fs->by_alias, a, ALIAS_OFF, alias_hash);
		free(a);
	}
	if (n->shared)
		htab_del(&fs->by_share, n, SHARE_OFF, share_hash);
	htab_del(&fs->by_id, n, ID_OFF, node_id_hash);
	fs->nodes--;
	fs->freed++;
	*ino = n->ino;
	*root = NULL;
	if (n->fimg)
		fimage_put_locked(n->fimg, root);
	if (n->shared)
		free(n->sh.xattrs);
	free(n->path);
	free(n);
}

/* Every xattr, "name\0" + 4-byte length + value, in listxattr order. */
static int xattr_blob(eshare_inode *ino, void **out, size_t *outlen)
{
	ssize_t nl = eshare_listxattr(ino, NULL, 0), r;
	char *names, *blob = NULL, *p;
	size_t len = 0;

	if (nl == -EOPNOTSUPP || nl == 0) {
		*out = NULL;
		*outlen = 0;
		return 0;
	}
	if (nl < 0)
		return (int)nl;
	names = malloc((size_t)nl);
	if (!names)
		return -ENOMEM;
	r = eshare_listxattr(ino, names, (size_t)nl);
	if (r < 0)
		goto fail;
	for (p = names; p < names + r; p += strlen(p) + 1) {
		size_t namelen = strlen(p) + 1;
		ssize_t vl = eshare_getxattr(ino, p, NULL, 0);
		char *nb;
		uint32_t v32;

		if (vl < 0) {
			r = vl;
			goto fail;
		}
		nb = realloc(blob, len + namelen + 4 + (size_t)vl);
		if (!nb) {
			r = -ENOMEM;
			goto fail;
		}
		blob = nb;
		memcpy(blob + len, p, namelen);
		len += namelen;
		v32 = (uint32_t)vl;
		memcpy(blob + len, &v32, 4);
		len += 4;
		if (vl) {
			ssize_t got = eshare_getxattr(ino, p, blob + len, (size_t)vl);

			if (got != vl) {
				r = got < 0 ? got : -EIO;
				goto fail;
			}
			len += (size_t)vl;
		}
	}
	free(names);
	*out = blob;
	*outlen = len;
	return 0;
fail:
	free(names);
	free(blob);
	return (int)r;
}

static char *join_path(const char *dir, const char *name, size_t namelen)
{
	size_t dl = strlen(dir);
	bool slash = !(dl && dir[dl - 1] == '/');
	char *p = malloc(dl + slash + namelen + 1);

	if (!p)
		return NULL;
	memcpy(p, dir, dl);
	if (slash)
		p[dl] = '/';
	memcpy(p + dl + slash, name, namelen);
	p[dl + slash + namelen] = 0;
	return p;
}


/*
 * share_nodes without direct_io.  A node made for a file that was not yet
 * in a shared object reads its image privately, and the kernel keeps what
 * it read (keep_cache): bytes nobody checked against a proof.  When a
 * twin of another image is merged into it, those pages must not reach the
 * twin's path.  The merge marks the node (recache) and queues it; until
 * this thread has had the kernel drop the node's pages
 * (fuse_lowlevel_notify_inval_inode, which waits for reads in flight),
 * every open of it asks the kernel to drop them (no keep_cache), so no
 * open after the merge reads a page cached before it.  The thread, not
 * the lookup that merges, asks the kernel: the kernel may wait on reads
 * that only the request threads can answer.  Called with fs->lock held.
 */
static void recache_queue(struct fs *fs, struct node *c)
{
	atomic_store(&c->sh.recache, true);
	pthread_mutex_lock(&fs->recache_lock);
	if (fs->recache_on && fs->recache_n == fs->recache_cap) {
		size_t cap = fs->recache_cap ? 2 * fs->recache_cap : 64;
		uint64_t *ids = realloc(fs->recache_ids, cap * sizeof(*ids));

		if (ids) {
			fs->recache_ids = ids;
			fs->recache_cap = cap;
		}
	}
	/* not queued (no thread, no memory): its opens keep dropping the pages */
	if (fs->recache_on && fs->recache_n < fs->recache_cap) {
		fs->recache_ids[fs->recache_n++] = c->id;
		pthread_cond_signal(&fs->recache_cv);
	}
	pthread_mutex_unlock(&fs->recache_lock);
}

static void *recache_thread(void *arg)
{
	struct fs *fs = arg;

	pthread_mutex_lock(&fs->recache_lock);
	for (;;) {
		uint64_t id;
		struct node *n;
		int err;

		while (!fs->recache_stop && !fs->recache_n)
			pthread_cond_wait(&fs->recache_cv, &fs->recache_lock);
		if (fs->recache_stop)
			break;
		id = fs->recache_ids[--fs->recache_n];
		pthread_mutex_unlock(&fs->recache_lock);
		/* -ENOENT: the kernel has no inode of it, so no page either */
		err = fuse_lowlevel_notify_inval_inode(fs->se, id, 0, 0);
		pthread_mutex_lock(&fs->lock);
		n = node_by_id(fs, id);
		if (n && n->shared && (!err || err == -ENOENT))
			atomic_store(&n->sh.recache, false);
		pthread_mutex_unlock(&fs->lock);
		pthread_mutex_lock(&fs->recache_lock);
	}
	pthread_mutex_unlock(&fs->recache_lock);
	return NULL;
}

int fs_recache_start(struct fs *fs)
{
	sigset_t all, old;
	int err;

	if (!fs->share_nodes || fs->direct_io)
		return 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&fs->recache_tid, NULL, recache_thread, fs);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	pthread_mutex_lock(&fs->recache_lock);
	fs->recache_on = true;
	pthread_mutex_unlock(&fs->recache_lock);
	return 0;
}

void fs_recache_stop(struct fs *fs)
{
	bool on;

	pthread_mutex_lock(&fs->recache_lock);
	on = fs->recache_on;
	fs->recache_on = false;
	fs->recache_stop = true;
	pthread_cond_signal(&fs->recache_cv);
	pthread_mutex_unlock(&fs->recache_lock);
	if (on)
		pthread_join(fs->recache_tid, NULL);
}

/*
 * A regular file's node keeps no inode where every read comes with an
 * open file's own (opens are answered: direct_io, share_nodes), unless
 * share_nodes may merge it: an inode handle is 200 bytes, and a daemon
 * serving a domain of many images holds a node per file looked up.
 * node_inode() opens it again by number for an open or an xattr request.
 */
static bool node_keeps_no_inode(const struct fs *fs, const struct eshare_stat *st)
{
	return (fs->direct_io || fs->share_nodes) && S_ISREG(st->mode);
}

/*
 * The node of (@fimg, inode @ino) with one more lookup, created if needed.
 * @ino is consumed.  @path is the entry's path in its image (copied).
 */
static int node_get_striped(struct node **out, struct fs *fs, struct fimage *fimg,
			    eshare_inode *ino, const struct eshare_stat *st, const char *path)
{
	struct eshare_file_identity id = ESHARE_FILE_IDENTITY_INIT;
	struct node *n;
	struct alias *a;
	void *xattrs = NULL;
	size_t xlen = 0;
	bool shareable = false, keyed = false;
	uint64_t cids[MAX_CANDIDATES];
	eshare_inode *cinos[MAX_CANDIDATES];
	unsigned ncand = 0, i;
	bool found;
	int err;

	pthread_mutex_lock(&fs->lock);
	if (fimg->removed) {
		pthread_mutex_unlock(&fs->lock);
		eshare_inode_put(ino);
		return -ENOENT;
	}
	a = alias_find(fs, fimg, st->ino);
	if (a) {
		a->node->nlookup++;
		*out = a->node;
		unlock_put(fs, ino, NULL);
		return 0;
	}
	pthread_mutex_unlock(&fs->lock);

	if (fs->share_nodes && S_ISREG(st->mode) && fs->policy != ESHARE_SHARE_OFF) {
		err = share_identity(fs, ino, &id);
		if (err < 0) {
			eshare_inode_put(ino);
			return err;
		}
		shareable = err > 0;
		/*
		 * Every regular file is kept where a later twin finds it: one
		 * without a fingerprint yet may be hashed when its twin comes.
		 */
		keyed = true;
		if ((err = xattr_blob(ino, &xattrs, &xlen))) {
			eshare_inode_put(ino);
			return err;
		}
		if (!shareable && (err = share_unknown_twins(fs, fimg, ino, &id, st, xattrs, xlen)) < 0)
			goto fail_unlocked;
		shareable = shareable || err > 0;
		if (fs->debug)
			fs_log(fs, LOG_DEBUG, "%s: %s: identity flags %#x object %llu %s",
			       fimg->name, path, id.flags, (unsigned long long)id.object,
			       id.fingerprint);
	}

	pthread_mutex_lock(&fs->lock);
	if (fimg->removed) {
		err = -ENOENT;
		goto fail;
	}
	if (shareable)
		ncand = share_candidates(fs, fimg, id.fingerprint, st, xattrs, xlen, cids, cinos);
	pthread_mutex_unlock(&fs->lock);
	/*
	 * A candidate that was alone when it came may have joined this file's
	 * object since: ask again, without the lock (this may hash it).
	 */
	for (i = 0, found = false; i < ncand; i++) {
		struct eshare_file_identity cid = ESHARE_FILE_IDENTITY_INIT;

		if (found || share_identity(fs, cinos[i], &cid) <= 0 || cid.object != id.object ||
		    strcmp(cid.fingerprint, id.fingerprint))
			cids[i] = 0;
		else
			found = true;
		eshare_inode_put(cinos[i]);
	}

	pthread_mutex_lock(&fs->lock);
	if (fimg->removed) {
		err = -ENOENT;
		goto fail;
	}
	a = alias_find(fs, fimg, st->ino);
	if (a) {
		/* another lookup of this very file made its node meanwhile */
		a->node->nlookup++;
		*out = a->node;
		unlock_put(fs, ino, NULL);
		free(xattrs);
		return 0;
	}
	n = NULL;
	for (i = 0; !n && i < ncand; i++) {
		struct node *c = cids[i] ? node_by_id(fs, cids[i]) : NULL;
		uint64_t obj = c ? atomic_load(&c->sh.object) : 0;

		/* a node already standing for another object is no twin of this one */
		if (c && !has_image(c, fimg) && (!obj || obj == id.object)) {
			/*
			 * Pages the kernel cached for it before now may hold
			 * bytes its first image gave unchecked, before it was
			 * proven: they must go before this file's path can
			 * read them (opens drop them until the kernel has).
			 */
			if (!fs->direct_io && c->sh.join_object != id.object && !obj)
				recache_queue(fs, c);
			atomic_store(&c->sh.object, id.object);
			if (strcmp(c->sh.fingerprint, id.fingerprint)) {
				/* it had no fingerprint yet: file it under the one it has now */
				htab_del(&fs->by_share, c, SHARE_OFF, share_hash);
				memcpy(c->sh.fingerprint, id.fingerprint, sizeof(c->sh.fingerprint));
				htab_add(&fs->by_share, c, SHARE_OFF, share_hash);
			}
			n = c;
		}
	}
	if (!n && shareable)
		n = share_joined(fs, fimg, &id, st, xattrs, xlen);
	if (n && (err = alias_add(fs, n, fimg, st->ino)))
		goto fail;
	if (n) {
		n->nlookup++;
		*out = n;
		unlock_put(fs, ino, NULL);
		free(xattrs);
		return 0;
	}
	err = -ENOMEM;
	n = calloc(1, keyed ? sizeof(*n) : NODE_PLAIN_SIZE);
	if (!n)
		goto fail;
	n->path = strdup(path);
	if (!n->path) {
		free(n);
		goto fail;
	}
	n->id = fs->next_id++;
	n->fimg = fimg;
	n->ino = ino;
	n->st = *st;
	if ((err = alias_add(fs, n, fimg, st->ino))) {
		free(n->path);
		free(n);
		goto fail;
	}
	fimg->refs++;
	if (keyed) {
		/*
		 * Its inode number: the kernel's numbers of two images collide,
		 * and this node may stand for files of several; bit 63 keeps
		 * them apart from every EROFS inode number.
		 */
		n->st.ino = (1ull << 63) | n->id;
		n->shared = true;
		n->sh.join_object = id.object;
		memcpy(n->sh.fingerprint, id.fingerprint, sizeof(n->sh.fingerprint));
		n->sh.xattrs = xattrs;
		n->sh.xattrs_len = xlen;
		htab_add(&fs->by_share, n, SHARE_OFF, share_hash);
	}
	htab_add(&fs->by_id, n, ID_OFF, node_id_hash);
	fs->nodes++;
	n->nlookup = 1;
	*out = n;
	if (!keyed && node_keeps_no_inode(fs, st))
		n->ino = NULL;	/* node_inode() opens it again */
	else
		ino = NULL;	/* the node's now */
	pthread_mutex_unlock(&fs->lock);
	eshare_inode_put(ino);
	return 0;
fail:
	pthread_mutex_unlock(&fs->lock);
fail_unlocked:
	eshare_inode_put(ino);
	free(xattrs);
	return err;
}

/*
 * Under share_nodes, lookups of regular files of one size take turns (one
 * lock per stripe of sizes): twins looked up at the same moment by two
 * threads would otherwise each make a node before seeing the other's.
 */
static int node_get(struct node **out, struct fs *fs, struct fimage *fimg, eshare_inode *ino,
		    const struct eshare_stat *st, const char *path)
{
	pthread_mutex_t *stripe = NULL;
	int err;

	if (fs->share_nodes && S_ISREG(st->mode) && fs->policy != ESHARE_SHARE_OFF) {
		stripe = &fs->share_stripes[mix64(st->file_size) % SHARE_STRIPES];
		pthread_mutex_lock(stripe);
	}
	err = node_get_striped(out, fs, fimg, ino, st, path);
	if (stripe)
		pthread_mutex_unlock(stripe);
	return err;
}

static void forget_one(struct fs *fs, fuse_ino_t id, uint64_t nlookup)
{
	eshare_inode *ino = NULL, *root = NULL;
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	n = node_by_id(fs, id);
	if (n && n != fs->root) {
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
		if (!n->nlookup && !n->opens)
			node_free_locked(fs, n, &ino, &root);
	}
	unlock_put(fs, ino, root);
}

int fs_init(struct fs *fs)
{
	struct node *root;
	unsigned i;

	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->recache_lock, NULL);
	pthread_cond_init(&fs->recache_cv, NULL);
	for (i = 0; i < SHARE_STRIPES; i++)
		pthread_mutex_init(&fs->share_stripes[i], NULL);
	if (htab_init(&fs->by_id) || htab_init(&fs->by_alias) || htab_init(&fs->by_share))
		return -ENOMEM;
	fs->next_id = FUSE_ROOT_ID + 1;
	fs->next_seq = 3;
	if (fs->root_is_image)
		return 0;
	/* The mount's own root: a directory of the images. */
	root = calloc(1, sizeof(*root));
	if (!root)
		return -ENOMEM;
	root->path = strdup("/");
	if (!root->path) {
		free(root);
		return -ENOMEM;
	}
	root->id = FUSE_ROOT_ID;
	root->nlookup = 1;
	root->st.mode = S_IFDIR | 0755;
	root->st.ino = FUSE_ROOT_ID;
	root->st.nlink = 2;
	root->st.blksize = 4096;
	root->st.mtime_sec = fs->root_mtime;
	htab_add(&fs->by_id, root, ID_OFF, node_id_hash);
	fs->root = root;
	fs->nodes = 1;
	return 0;
}

struct open_file;
static void op_release_file(struct fs *fs, struct open_file *of);

void fs_destroy(struct fs *fs)
{
	size_t i;

	/* What the kernel had open when the session ended: it sends no release now. */
	while (fs->handles)
		op_release_file(fs, (struct open_file *)fs->handles);

	/* Every node, then every image left. */
	for (i = 0; fs->by_id.b && i <= fs->by_id.mask; i++) {
		while (fs->by_id.b[i]) {
			struct node *n = fs->by_id.b[i];
			eshare_inode *ino, *root;

			node_free_locked(fs, n, &ino, &root);
			eshare_inode_put(ino);
			eshare_inode_put(root);
		}
	}
	while (fs->images) {
		struct fimage *f = fs->images;
		eshare_inode *root = NULL;

		fs->images = f->next;
		eshare_image *img = f->img;

		f->img = NULL;
		f->removed = true;
		fimage_put_locked(f, &root);
		eshare_inode_put(root);
		eshare_image_detach(img);
	}
	free(fs->by_id.b);
	free(fs->by_alias.b);
	free(fs->by_share.b);
	for (i = 0; i < SHARE_STRIPES; i++)
		pthread_mutex_destroy(&fs->share_stripes[i]);
	free(fs->recache_ids);
	pthread_cond_destroy(&fs->recache_cv);
	pthread_mutex_destroy(&fs->recache_lock);
	pthread_mutex_destroy(&fs->lock);
}

/* ------------------------------------------------------------------ */
/* Replies and counters                                                */

static struct fs *req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static int fuse_err(int err)
{
	err = err < 0 ? -err : err;
	/* A corrupt image reads as an I/O error, as the kernel's EROFS says it. */
	return err == ESHARE_EFSCORRUPTED ? EIO : err;
}

static void reply_err(fuse_req_t req, enum fop op, int err)
{
	struct fs *fs = req_fs(req);

	err = fuse_err(err);
	atomic_fetch_add_explicit(err ? &fs->failed[op] : &fs->served[op], 1,
				  memory_order_relaxed);
	fuse_reply_err(req, err);
}

static void count_ok(struct fs *fs, enum fop op)
{
	atomic_fetch_add_explicit(&fs->served[op], 1, memory_order_relaxed);
}

/* Log an image error once per node, naming the image and the path. */
static void report(struct fs *fs, struct node *n, const char *what, const char *name, int err)
{
	bool first;
	char *path = NULL, *image = NULL;

	if (err != -ESHARE_EFSCORRUPTED && err != -EIO && err != -EOPNOTSUPP)
		return;
	pthread_mutex_lock(&fs->lock);
	first = !n->reported;
	n->reported = true;
	if (first) {
		path = name ? join_path(n->path, name, strlen(name)) : strdup(n->path);
		image = strdup(n->fimg ? n->fimg->name : "(root)");
	}
	pthread_mutex_unlock(&fs->lock);
	if (first && path && image)
		fs_log(fs, LOG_ERR, "%s: %s: %s: %s", image, path, what, eshare_strerror(err));
	free(path);
	free(image);
}

/* Take the node of @id, or NULL (the kernel named one that is gone). */
static struct node *get_node(struct fs *fs, fuse_ino_t id)
{
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	n = node_by_id(fs, id);
	pthread_mutex_unlock(&fs->lock);
	return n;
}

static void fill_attr(struct stat *s, const struct eshare_stat *st)
{
	memset(s, 0, sizeof(*s));
	s->st_ino = st->ino;
	s->st_mode = st->mode;
	s->st_nlink = st->nlink;
	s->st_uid = st->uid;
	s->st_gid = st->gid;
	s->st_rdev = makedev(st->rdev_major, st->rdev_minor);
	s->st_size = (off_t)st->file_size;
	s->st_blksize = st->blksize;
	s->st_blocks = (blkcnt_t)st->blocks;
	s->st_mtim.tv_sec = st->mtime_sec;
	s->st_mtim.tv_nsec = st->mtime_nsec;
	s->st_atim = s->st_mtim;
	s->st_ctim = s->st_mtim;
}

static void fill_entry(struct fs *fs, struct fuse_entry_param *e, const struct node *n)
{
	memset(e, 0, sizeof(*e));
	e->ino = n->id;
	fill_attr(&e->attr, &n->st);
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
}

static void root_attr(struct fs *fs, struct stat *s)
{
	struct fimage *f;
	nlink_t nlink = 2;

	fill_attr(s, &fs->root->st);
	pthread_mutex_lock(&fs->lock);
	for (f = fs->images; f; f = f->next)
		nlink++;
	pthread_mutex_unlock(&fs->lock);
	s->st_nlink = nlink;
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/* Contents never change: the kernel keeps pages across opens and stats. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_EXPLICIT_INVAL_DATA)
		conn->want |= FUSE_CAP_EXPLICIT_INVAL_DATA;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	/*
	 * A spliced request stays in the pipe of the thread that received it,
	 * and loop.c's receiver hands requests to other threads: never ask.
	 */
	conn->want &= ~FUSE_CAP_SPLICE_READ;
	conn->max_readahead = READ_MAX;
	count_ok(fs, FOP_INIT);
}

/*
 * Look up @name in @parent: a new lookup on the child's node, or -errno.
 */
static int do_lookup(struct fs *fs, struct node *parent, const char *name, size_t namelen,
		     struct node **out)
{
	struct eshare_stat st = ESHARE_STAT_INIT;
	eshare_inode *dir = NULL, *child = NULL;
	struct fimage *fimg;
	char *path;
	int err;

	pthread_mutex_lock(&fs->lock);
	if (!parent->fimg) {	/* the synthetic root */
		for (fimg = fs->images; fimg; fimg = fimg->next)
			if (strlen(fimg->name) == namelen && !memcmp(fimg->name, name, namelen))
				break;
		if (!fimg) {
			pthread_mutex_unlock(&fs->lock);
			return -ENOENT;
		}
		child = eshare_inode_get(fimg->root);
		fimg->refs++;
		pthread_mutex_unlock(&fs->lock);
		err = eshare_stat(child, &st);
		if (!err)
			err = node_get(out, fs, fimg, child, &st, "/");
		else
			eshare_inode_put(child);
	} else {
		fimg = parent->fimg;
		if (!fimg || fimg->removed) {
			pthread_mutex_unlock(&fs->lock);
			return -ENOENT;
		}
		dir = eshare_inode_get(parent->ino);
		fimg->refs++;
		pthread_mutex_unlock(&fs->lock);
		err = eshare_lookup_at(&child, dir, name, namelen);
		if (!err)
			err = eshare_stat(child, &st);
		if (!err) {
			path = join_path(parent->path, name, namelen);
			if (path)
				err = node_get(out, fs, fimg, child, &st, path);
			else
				err = -ENOMEM;
			child = NULL;
			free(path);
		}
		eshare_inode_put(child);
		eshare_inode_put(dir);
	}
	pthread_mutex_lock(&fs->lock);
	{
		eshare_inode *root = NULL;

		fimage_put_locked(fimg, &root);
		unlock_put(fs, root, NULL);
	}
	return err;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = req_fs(req);
	struct fuse_entry_param e;
	struct node *p = get_node(fs, parent), *n;
	int err;

	if (!p) {
		reply_err(req, FOP_LOOKUP, -ESTALE);
		return;
	}
	err = do_lookup(fs, p, name, strlen(name), &n);
	if (err == -ENOENT) {
		/* A negative entry the kernel may keep (images are immutable). */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->timeout;
		count_ok(fs, FOP_LOOKUP);
		fuse_reply_entry(req, &e);
		return;
	}
	if (err) {
		report(fs, p, "lookup", name, err);
		reply_err(req, FOP_LOOKUP, err);
		return;
	}
	fill_entry(fs, &e, n);
	count_ok(fs, FOP_LOOKUP);
	if (fuse_reply_entry(req, &e))
		forget_one(fs, n->id, 1);
}

/* Nodes freed between two returns of free heap memory to the system. */
#define TRIM_NODES 4096

/*
 * After the kernel forgot many nodes (it drops dentries under memory
 * pressure, or an image went), give the heap pages they held back to the
 * system: glibc keeps free memory inside its arenas, and with one arena a
 * serving thread, little of it sits at a top it would trim by itself.
 */
static void trim_after_burst(struct fs *fs)
{
	bool trim;

	pthread_mutex_lock(&fs->lock);
	trim = fs->freed >= TRIM_NODES;
	if (trim)
		fs->freed = 0;
	pthread_mutex_unlock(&fs->lock);
#ifdef __GLIBC__
	if (trim)
		malloc_trim(0);
#endif
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs *fs = req_fs(req);

	forget_one(fs, ino, nlookup);
	trim_after_burst(fs);
	count_ok(fs, FOP_FORGET);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = req_fs(req);
	size_t i;

	for (i = 0; i < count; i++)
		forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	trim_after_burst(fs);
	count_ok(fs, FOP_FORGET);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct node *n = get_node(fs, id);
	struct stat s;

	if (!n) {
		reply_err(req, FOP_GETATTR, -ESTALE);
		return;
	}
	if (!n->fimg)
		root_attr(fs, &s);
	else
		fill_attr(&s, &n->st);
	count_ok(fs, FOP_GETATTR);
	fuse_reply_attr(req, &s, fs->timeout);
}

/*
 * The node's inode with a reference in *@out (NULL for the synthetic
 * root), opened again by number for a node that keeps none
 * (node_keeps_no_inode()): 0 or a negative errno (-ENOENT for such a node
 * once its image is removed).  The open may read the image's backend, so
 * it is made without the lock, which every request of every image takes:
 * a reference on the image's root keeps the image alive meanwhile.
 */
static int node_inode(struct fs *fs, struct node *n, eshare_inode **out, bool *removed)
{
	eshare_inode *pin = NULL;
	uint64_t kino = 0;
	int err = 0;

	*out = NULL;
	pthread_mutex_lock(&fs->lock);
	*removed = n->fimg && n->fimg->removed;
	if (n->ino) {
		*out = eshare_inode_get(n->ino);
	} else if (n->fimg && n->fimg->img && !*removed) {
		pin = eshare_inode_get(n->fimg->root);
		kino = n->st.ino;
	} else if (n->fimg) {
		err = -ENOENT;	/* keeps none, and its image is gone */
	}
	pthread_mutex_unlock(&fs->lock);
	if (pin) {
		err = eshare_inode_open(out, eshare_inode_image(pin), kino);
		eshare_inode_put(pin);
	}
	return err;
}

static void op_readlink(fuse_req_t req, fuse_ino_t id)
{
	struct fs *fs = req_fs(req);
	struct node *n = get_node(fs, id);
	eshare_inode *ino;
	bool removed;
	char buf[4097];
	ssize_t r;
	int err;

	if (!n) {
		reply_err(req, FOP_READLINK, -ESTALE);
		return;
	}
	err = node_inode(fs, n, &ino, &removed);
	if (err || !ino) {
		reply_err(req, FOP_READLINK, err ? err : -EINVAL);
		return;
	}
	r = eshare_readlink(ino, buf, sizeof(buf) - 1);
	eshare_inode_put(ino);
	if (r < 0 || (size_t)r >= sizeof(buf)) {
		r = r < 0 ? r : -ENAMETOOLONG;
		report(fs, n, "readlink", NULL, (int)r);
		reply_err(req, FOP_READLINK, (int)r);
		return;
	}
	buf[r] = 0;
	count_ok(fs, FOP_READLINK);
	fuse_reply_readlink(req, buf);
}

/*
 * An open regular file.  It reads through one member of its node: the
 * node's inode, or under share_nodes, once the node stands for several
 * images, any of their inodes that is still in the node's shared object.
 */
struct open_file {
	struct fhandle h;	/* first: fs->handles links it */
	struct node *n;
	pthread_mutex_t lock;
	eshare_inode *ino;	/* the member it reads through (referenced) */
	uint64_t object;	/* the object @ino was last found in (0: not yet) */
	uint64_t failures;	/* @ino's image's verify_failures before that */
};

static void handle_link_locked(struct fs *fs, struct fhandle *h)
{
	h->prev = NULL;
	h->next = fs->handles;
	if (fs->handles)
		fs->handles->prev = h;
	fs->handles = h;
}

static void handle_unlink(struct fs *fs, struct fhandle *h)
{
	pthread_mutex_lock(&fs->lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		fs->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&fs->lock);
}

/* The verify failures of @ino's image so far (it only grows). */
static uint64_t member_failures(eshare_inode *ino)
{
	struct eshare_stats st = ESHARE_STATS_INIT;

	if (eshare_image_stats(eshare_inode_image(ino), &st))
		return UINT64_MAX;
	return st.verify_failures;
}

/*
 * Whether member @ino still reads through shared object @obj; *failures
 * gets its image's failure count from before the check.  A member leaves
 * its object when a fill from its image fails the page proof, and the
 * library counts the failure before the member reads privately; so as long
 * as that count stays at *failures, the member is still in.
 */
static bool member_in(eshare_inode *ino, uint64_t obj, uint64_t *failures)
{
	struct eshare_file_identity id = ESHARE_FILE_IDENTITY_INIT;

	*failures = member_failures(ino);
	return !eshare_file_identity(ino, 0, &id) && (id.flags & ESHARE_IDENTITY_SHARED) &&
	       id.object == obj;
}

/*
 * With the kernel's page cache (not direct_io) the kernel keeps what was
 * read (keep_cache), so the library need not cache a file's data a second
 * time, unless it reads through a shared object (the library keeps those
 * pages whatever the advice: other images read them too).
 */
static void member_advise(struct fs *fs, eshare_inode *ino)
{
	if (!fs->direct_io)
		eshare_inode_advise(ino, ESHARE_ADVICE_NOREUSE);
}

/* The most members one switch looks at. */
#define MAX_MEMBERS 64

/*
 * Make @of read through another member of its node that is still in @obj
 * than @bad (the image whose member failed).  The node reads through it
 * from now on too.  0, or -EIO if no member is left.
 */
static int switch_member(struct fs *fs, struct open_file *of, eshare_image *bad, uint64_t obj)
{
	struct fimage *fimgs[MAX_MEMBERS];
	eshare_inode *inos[MAX_MEMBERS], *roots[MAX_MEMBERS], *old = NULL, *root = NULL;
	struct node *n = of->n;
	struct alias *a;
	uint64_t failures = 0;
	unsigned k = 0, i, pick = MAX_MEMBERS;

	pthread_mutex_lock(&fs->lock);
	for (a = n->aliases; a && k < MAX_MEMBERS; a = a->node_next) {
		if (!a->fimg->img || a->fimg->removed || a->fimg->img == bad ||
		    eshare_inode_open(&inos[k], a->fimg->img, a->kino))
			continue;
		fimgs[k] = a->fimg;
		a->fimg->refs++;
		k++;
	}
	pthread_mutex_unlock(&fs->lock);
	for (i = 0; i < k && pick == MAX_MEMBERS; i++)
		if (member_in(inos[i], obj, &failures))
			pick = i;
	if (pick < k) {
		member_advise(fs, inos[pick]);
		pthread_mutex_lock(&of->lock);
		old = of->ino;
		of->ino = eshare_inode_get(inos[pick]);
		of->object = obj;
		of->failures = failures;
		pthread_mutex_unlock(&of->lock);
		eshare_inode_put(old);
		old = NULL;
	}
	pthread_mutex_lock(&fs->lock);
	if (pick < k && n->fimg && n->fimg->img == bad) {
		/* later opens start from the member that is in */
		old = n->ino;
		n->ino = eshare_inode_get(inos[pick]);
		fimgs[pick]->refs++;
		fimage_put_locked(n->fimg, &root);
		n->fimg = fimgs[pick];
	}
	for (i = 0; i < k; i++) {
		roots[i] = NULL;
		fimage_put_locked(fimgs[i], &roots[i]);
	}
	pthread_mutex_unlock(&fs->lock);
	for (i = 0; i < k; i++) {
		eshare_inode_put(inos[i]);
		eshare_inode_put(roots[i]);	/* its image went meanwhile */
	}
	eshare_inode_put(old);
	eshare_inode_put(root);
	return pick < k ? 0 : -EIO;
}

/* Close @of; its node goes if the kernel forgot it meanwhile. */
static void op_release_file(struct fs *fs, struct open_file *of)
{
	eshare_inode *ino = NULL, *root = NULL;
	struct node *n = of->n;

	handle_unlink(fs, &of->h);
	eshare_inode_put(of->ino);
	pthread_mutex_destroy(&of->lock);
	free(of);
	pthread_mutex_lock(&fs->lock);
	if (!--n->opens && !n->nlookup && n != fs->root)
		node_free_locked(fs, n, &ino, &root);
	unlock_put(fs, ino, root);
}

static void op_open(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct node *n;
	struct open_file *of;
	eshare_inode *ino = NULL;
	bool removed;
	int err = 0;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		reply_err(req, FOP_OPEN, -EROFS);
		return;
	}
	if (!fs->direct_io && !fs->share_nodes) {
		/*
		 * ENOSYS: the kernel opens files by itself from now on, with
		 * keep_cache, and sends no open or release: two requests less
		 * a file (most of what reading cached files costs).  Reads
		 * then come without a handle (op_read()).  Not with
		 * share_nodes: a merged node's opens may have to drop its
		 * pages (recache_queue()).
		 */
		count_ok(fs, FOP_OPEN);
		fuse_reply_err(req, ENOSYS);
		return;
	}
	of = calloc(1, sizeof(*of));
	if (!of) {
		reply_err(req, FOP_OPEN, -ENOMEM);
		return;
	}
	/*
	 * The kernel holds a lookup on the node while it opens a file of it,
	 * so the node outlives this request; its inode is opened without the
	 * lock (node_inode()), and the image checked again after.
	 */
	pthread_mutex_lock(&fs->lock);
	n = node_by_id(fs, id);
	if (!n)
		err = -ESTALE;
	else if (!n->fimg)
		err = -EISDIR;	/* the synthetic root */
	else if (n->fimg->removed || !n->fimg->img)
		err = -ENOENT;
	pthread_mutex_unlock(&fs->lock);
	if (!err)
		err = node_inode(fs, n, &ino, &removed);
	if (!err) {
		pthread_mutex_lock(&fs->lock);
		if (n->fimg->removed) {
			err = -ENOENT;
		} else {
			of->n = n;
			of->ino = ino;
			ino = NULL;
			n->opens++;
			pthread_mutex_init(&of->lock, NULL);
			handle_link_locked(fs, &of->h);
		}
		pthread_mutex_unlock(&fs->lock);
	}
	if (err) {
		eshare_inode_put(ino);
		free(of);
		reply_err(req, FOP_OPEN, err);
		return;
	}
	member_advise(fs, of->ino);
	fi->fh = (uint64_t)(uintptr_t)of;
	if (fs->direct_io)
		fi->direct_io = 1;
	else
		fi->keep_cache = !(of->n->shared && atomic_load(&of->n->sh.recache));
	fi->noflush = 1;
	count_ok(fs, FOP_OPEN);
	if (fuse_reply_open(req, fi))
		op_release_file(fs, of);
}

/* Read [@off, @off + @size) whole, or up to the end of the file. */
static ssize_t read_full(eshare_inode *ino, char *buf, size_t size, off_t off)
{
	size_t done = 0;

	while (done < size) {
		ssize_t r = eshare_pread(ino, buf + done, size - done, (uint64_t)off + done);

		if (r < 0)
			return r;
		if (!r)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/*
 * Read for @of.  A node that stands for several images answers only with
 * bytes of a member that is still in the shared object they were merged
 * by, checked after the read: a member that leaves reads its own image's
 * bytes, which may be anything.  If it left, or failed, another member
 * reads; if none is left in, the read fails with EIO.
 */
static ssize_t read_member(struct fs *fs, struct open_file *of, char *buf, size_t size,
			   off_t off)
{
	unsigned attempt;

	for (attempt = 0; attempt <= MAX_MEMBERS; attempt++) {
		eshare_inode *ino;
		uint64_t seen, failures, obj, before;
		ssize_t r;
		int err;

		pthread_mutex_lock(&of->lock);
		ino = eshare_inode_get(of->ino);
		seen = of->object;
		failures = of->failures;
		pthread_mutex_unlock(&of->lock);
		/* only a shared node can stand for several images' files */
		before = of->n->shared ? atomic_load(&of->n->sh.object) : 0;
		r = read_full(ino, buf, size, off);
		obj = of->n->shared ? atomic_load(&of->n->sh.object) : 0;
		/*
		 * Merged while it read: the bytes may be the member's own,
		 * read before it was in the object (unchecked): read again.
		 */
		if (obj != before) {
			eshare_inode_put(ino);
			continue;
		}
		if (!obj || (r >= 0 && seen == obj && member_failures(ino) == failures)) {
			eshare_inode_put(ino);
			return r;
		}
		if (member_in(ino, obj, &failures)) {
			if (r >= 0) {
				pthread_mutex_lock(&of->lock);
				if (of->ino == ino) {
					of->object = obj;
					of->failures = failures;
				}
				pthread_mutex_unlock(&of->lock);
				eshare_inode_put(ino);
				return r;
			}
			/* its image fails: another member may read */
			err = switch_member(fs, of, eshare_inode_image(ino), obj);
			eshare_inode_put(ino);
			if (err)
				return r;
			continue;
		}
		err = switch_member(fs, of, eshare_inode_image(ino), obj);
		if (err) {
			report(fs, of->n, "read (no image of it is still in its shared object)",
			       NULL, err);
			eshare_inode_put(ino);
			return err;
		}
		eshare_inode_put(ino);
	}
	return -EIO;
}

/*
 * Each thread that serves reads keeps one buffer of READ_MAX bytes: a fresh
 * one per read would be mapped and faulted in every time.
 */
static pthread_key_t read_buf_key;
static pthread_once_t read_buf_once = PTHREAD_ONCE_INIT;

static void read_buf_key_init(void)
{
	if (pthread_key_create(&read_buf_key, free))
		abort();
}

static char *read_buf(void)
{
	char *buf;

	pthread_once(&read_buf_once, read_buf_key_init);
	buf = pthread_getspecific(read_buf_key);
	if (!buf) {
		buf = malloc(READ_MAX);
		if (buf && pthread_setspecific(read_buf_key, buf)) {
			free(buf);
			buf = NULL;
		}
	}
	return buf;
}

static void op_read(fuse_req_t req, fuse_ino_t id, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh, tmp;
	char *buf = read_buf();
	ssize_t r;

	if (!buf) {
		reply_err(req, FOP_READ, -ENOMEM);
		return;
	}
	if (!of) {
		/*
		 * Opened by the kernel alone (no_open): read through the node's
		 * member of now.  The kernel holds a lookup on the node while a
		 * file of it is open, so the node outlives the read.  A node of
		 * several images checks its member at every read this way.
		 */
		memset(&tmp, 0, sizeof(tmp));
		pthread_mutex_lock(&fs->lock);
		tmp.n = node_by_id(fs, id);
		tmp.ino = tmp.n ? eshare_inode_get(tmp.n->ino) : NULL;
		pthread_mutex_unlock(&fs->lock);
		if (!tmp.ino) {
			reply_err(req, FOP_READ, tmp.n ? -EISDIR : -ESTALE);
			return;
		}
		pthread_mutex_init(&tmp.lock, NULL);
		member_advise(fs, tmp.ino);
		of = &tmp;
	}
	if (size > READ_MAX)
		size = READ_MAX;
	r = read_member(fs, of, buf, size, off);
	if (r < 0) {
		report(fs, of->n, "read", NULL, (int)r);
		reply_err(req, FOP_READ, (int)r);
	} else {
		count_ok(fs, FOP_READ);
		fuse_reply_buf(req, buf, (size_t)r);
	}
	if (of == &tmp) {
		eshare_inode_put(tmp.ino);
		pthread_mutex_destroy(&tmp.lock);
	}
}

static void op_release(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);

	op_release_file(fs, (struct open_file *)(uintptr_t)fi->fh);
	count_ok(fs, FOP_RELEASE);
	fuse_reply_err(req, 0);
}

/*
 * ENOSYS: the kernel opens directories by itself from now on (no_opendir),
 * with keep_cache and cache_readdir, and sends no opendir or releasedir;
 * readdir then comes without a handle and reads the node's inode.
 */
static void op_opendir(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	count_ok(req_fs(req), FOP_OPENDIR);
	fuse_reply_err(req, ENOSYS);
}

struct dirbuf {
	fuse_req_t req;
	struct fs *fs;
	struct node *dir;
	eshare_inode *dino;
	bool plus;
	char *buf;
	size_t size;
	size_t len;
	int err;
};

static bool is_dot(const char *name, size_t len)
{
	return (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.');
}

static int dir_emit(void *user, const char *name, size_t namelen, uint64_t kino, unsigned type,
		    uint64_t next)
{
	struct dirbuf *db = user;
	struct fuse_entry_param e;
	char nm[256];
	size_t need;
	struct node *n = NULL;
	int err;

	if (namelen >= sizeof(nm))
		return -ENAMETOOLONG;
	memcpy(nm, name, namelen);
	nm[namelen] = 0;
	memset(&e, 0, sizeof(e));
	e.attr.st_ino = kino;
	e.attr.st_mode = (mode_t)type << 12;
	if (!db->plus) {
		need = fuse_add_direntry(db->req, NULL, 0, nm, NULL, 0);
		if (db->len + need > db->size)
			return 1;
		fuse_add_direntry(db->req, db->buf + db->len, db->size - db->len, nm, &e.attr,
				  (off_t)next);
		db->len += need;
		return 0;
	}
	need = fuse_add_direntry_plus(db->req, NULL, 0, nm, NULL, 0);
	if (db->len + need > db->size)
		return 1;
	if (!is_dot(nm, namelen)) {
		/*
		 * The entry's attributes are its node's, inode number too: a
		 * share_nodes node shows its own (see node_get_striped()), and
		 * the kernel keeps what comes here as the inode's until it
		 * asks again, so another number here made one file show two.
		 */
		err = do_lookup(db->fs, db->dir, nm, namelen, &n);
		if (!err)
			fill_entry(db->fs, &e, n);
		else if (err != -ENOENT)
			report(db->fs, db->dir, "lookup", nm, err);
		/* else: a plain entry; a lookup will tell */
	}
	fuse_add_direntry_plus(db->req, db->buf + db->len, db->size - db->len, nm, &e,
			       (off_t)next);
	db->len += need;
	return 0;
}

/* The mount's root: ".", "..", then the images in the order they came. */
static int root_list(struct dirbuf *db, uint64_t off)
{
	struct fs *fs = db->fs;
	struct { char name[256]; uint64_t seq, ino; } *ents = NULL;
	size_t n = 0, i;
	struct fimage *f;
	int r = 0;

	if (off < 1 && (r = dir_emit(db, ".", 1, FUSE_ROOT_ID, ESHARE_DT_DIR, 1)))
		return r;
	if (off < 2 && (r = dir_emit(db, "..", 2, FUSE_ROOT_ID, ESHARE_DT_DIR, 2)))
		return r;
	pthread_mutex_lock(&fs->lock);
	for (f = fs->images; f; f = f->next)
		n++;
	ents = n ? calloc(n, sizeof(*ents)) : NULL;
	if (n && !ents) {
		pthread_mutex_unlock(&fs->lock);
		return -ENOMEM;
	}
	for (f = fs->images, i = 0; f; f = f->next, i++) {
		snprintf(ents[i].name, sizeof(ents[i].name), "%s", f->name);
		ents[i].seq = f->seq;
		ents[i].ino = f->root_ino;
	}
	pthread_mutex_unlock(&fs->lock);
	for (i = 0; i < n && !r; i++) {
		if (ents[i].seq < off)
			continue;
		r = dir_emit(db, ents[i].name, strlen(ents[i].name), ents[i].ino, ESHARE_DT_DIR,
			     ents[i].seq + 1);
	}
	free(ents);
	return r;
}

static void do_readdir(fuse_req_t req, fuse_ino_t id, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = req_fs(req);
	enum fop op = plus ? FOP_READDIRPLUS : FOP_READDIR;
	struct dirbuf db = { .req = req, .fs = fs, .plus = plus, .size = size };
	uint64_t cookie = (uint64_t)off;
	bool removed;
	int r;

	db.dir = get_node(fs, id);
	if (!db.dir) {
		reply_err(req, op, -ESTALE);
		return;
	}
	/* NULL for the mount's own root; a removed image lists no more */
	r = node_inode(fs, db.dir, &db.dino, &removed);
	if (r || removed) {
		eshare_inode_put(db.dino);
		reply_err(req, op, r ? r : -ENOENT);
		return;
	}
	db.buf = malloc(size ? size : 1);
	if (!db.buf) {
		eshare_inode_put(db.dino);
		reply_err(req, op, -ENOMEM);
		return;
	}
	if (!db.dino)
		r = root_list(&db, cookie);
	else
		r = eshare_readdir(db.dino, &cookie, dir_emit, &db);
	if (r < 0) {
		report(fs, db.dir, plus ? "readdirplus" : "readdir", NULL, r);
		reply_err(req, op, r);
	} else {
		count_ok(fs, op);
		fuse_reply_buf(req, db.buf, db.len);
	}
	eshare_inode_put(db.dino);
	free(db.buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t id, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, id, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t id, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, id, size, off, fi, true);
}

static void op_statfs(fuse_req_t req, fuse_ino_t id)
{
	struct fs *fs = req_fs(req);
	struct statvfs sv;
	struct fimage *f;
	uint64_t bytes = 0, files = 0;
	uint32_t bsize = 0;

	memset(&sv, 0, sizeof(sv));
	pthread_mutex_lock(&fs->lock);
	for (f = fs->images; f; f = f->next) {
		struct eshare_image_info info = ESHARE_IMAGE_INFO_INIT;

		if (f->removed || eshare_image_info(f->img, &info))
			continue;
		bytes += info.blocks * info.block_size;
		files += info.inodes;
		if (!bsize)
			bsize = info.block_size;
		else if (bsize != info.block_size)
			bsize = 4096;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!bsize)
		bsize = 4096;
	sv.f_bsize = bsize;
	sv.f_frsize = bsize;
	sv.f_blocks = bytes / bsize;
	/* as the kernel's EROFS says it: no inode is free, `files' are used */
	sv.f_files = UINT64_MAX;
	sv.f_ffree = UINT64_MAX - files;
	sv.f_favail = sv.f_ffree;
	sv.f_namemax = 255;
	sv.f_fsid = EROFS_SUPER_MAGIC_V1;
	count_ok(fs, FOP_STATFS);
	fuse_reply_statfs(req, &sv);
}

/* getxattr (@name) or listxattr (@name NULL): the value or the names. */
static void do_xattr(fuse_req_t req, enum fop op, fuse_ino_t id, const char *name, size_t size)
{
	struct fs *fs = req_fs(req);
	struct node *n = get_node(fs, id);
	eshare_inode *ino;
	bool removed;
	char *buf = NULL;
	ssize_t r;

	if (!n) {
		reply_err(req, op, -ESTALE);
		return;
	}
	r = node_inode(fs, n, &ino, &removed);
	if (r || (!ino && name)) {
		reply_err(req, op, r ? (int)r : -ENODATA);
		return;
	}
	if (size && !(buf = malloc(size))) {
		eshare_inode_put(ino);
		reply_err(req, op, -ENOMEM);
		return;
	}
	/* the mount's own root has no xattrs */
	r = !ino ? 0 : name ? eshare_getxattr(ino, name, buf, size) :
			      eshare_listxattr(ino, buf, size);
	eshare_inode_put(ino);
	if (r < 0) {
		report(fs, n, name ? "getxattr" : "listxattr", NULL, (int)r);
		reply_err(req, op, (int)r);
	} else {
		count_ok(fs, op);
		if (size)
			fuse_reply_buf(req, buf, (size_t)r);
		else
			fuse_reply_xattr(req, (size_t)r);
	}
	free(buf);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t id, const char *name, size_t size)
{
	do_xattr(req, FOP_GETXATTR, id, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t id, size_t size)
{
	do_xattr(req, FOP_LISTXATTR, id, NULL, size);
}

/* access(2) against the owner, group and other bits (root passes R and W checks). */
static void op_access(fuse_req_t req, fuse_ino_t id, int mask)
{
	struct fs *fs = req_fs(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct node *n = get_node(fs, id);
	struct eshare_stat st;
	unsigned bits;

	if (!n) {
		reply_err(req, FOP_ACCESS, -ESTALE);
		return;
	}
	if (mask & W_OK) {
		reply_err(req, FOP_ACCESS, -EROFS);
		return;
	}
	st = n->st;
	if (ctx->uid == 0) {
		/* root may execute what anyone may, and search any directory */
		if ((mask & X_OK) && !S_ISDIR(st.mode) && !(st.mode & 0111)) {
			reply_err(req, FOP_ACCESS, -EACCES);
			return;
		}
		reply_err(req, FOP_ACCESS, 0);
		return;
	}
	if (ctx->uid == st.uid)
		bits = (st.mode >> 6) & 7;
	else if (ctx->gid == st.gid)
		bits = (st.mode >> 3) & 7;
	else
		bits = st.mode & 7;
	reply_err(req, FOP_ACCESS, ((unsigned)mask & 7 & ~bits) ? -EACCES : 0);
}

static void op_deny_setattr(fuse_req_t req, fuse_ino_t id, struct stat *attr, int to_set,
			    struct fuse_file_info *fi)
{
	reply_err(req, FOP_WRITE_DENIED, -EROFS);
}

static void op_deny_write(fuse_req_t req, fuse_ino_t id, const char *buf, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	reply_err(req, FOP_WRITE_DENIED, -EROFS);
}

static void op_deny_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			   struct fuse_file_info *fi)
{
	reply_err(req, FOP_WRITE_DENIED, -EROFS);
}

static void op_deny_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			  dev_t rdev)
{
	reply_err(req, FOP_WRITE_DENIED, -EROFS);
}

static void op_deny_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	reply_err(req, FOP_WRITE_DENIED, -EROFS);
}

static void op_deny_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_err(req, FOP_WRITE_DENIED, -EROFS);
}

static void op_deny_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			    const char *name)
{
	reply_err(req, FOP_WRITE_DENIED, -EROFS);
}

static void op_deny_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			   fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	reply_err(req, FOP_WRITE_DENIED, -EROFS);
}

static void op_deny_link(fuse_req_t req, fuse_ino_t id, fuse_ino_t newparent,
			 const char *newname)
{
	reply_err(req, FOP_WRITE_DENIED, -EROFS);
}

static void op_deny_setxattr(fuse_req_t req, fuse_ino_t id, const char *name, const char *value,
			     size_t size, int flags)
{
	reply_err(req, FOP_WRITE_DENIED, -EROFS);
}

static void op_deny_removexattr(fuse_req_t req, fuse_ino_t id, const char *name)
{
	reply_err(req, FOP_WRITE_DENIED, -EROFS);
}

static void op_deny_fallocate(fuse_req_t req, fuse_ino_t id, int mode, off_t offset,
			      off_t length, struct fuse_file_info *fi)
{
	reply_err(req, FOP_WRITE_DENIED, -EROFS);
}

const struct fuse_lowlevel_ops fusefs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.statfs = op_statfs,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.access = op_access,
	.setattr = op_deny_setattr,
	.write = op_deny_write,
	.create = op_deny_create,
	.mknod = op_deny_mknod,
	.mkdir = op_deny_mkdir,
	.unlink = op_deny_unlink,
	.rmdir = op_deny_unlink,
	.symlink = op_deny_symlink,
	.rename = op_deny_rename,
	.link = op_deny_link,
	.setxattr = op_deny_setxattr,
	.removexattr = op_deny_removexattr,
	.fallocate = op_deny_fallocate,
};

/* ------------------------------------------------------------------ */
/* Adding and removing images                                          */

bool fs_valid_name(const char *name)
{
	size_t len = strlen(name);

	return len && len <= 255 && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

static int open_image(eshare_image **out, struct fs *fs, const char *name, const char *path,
		      const char *const *devices, unsigned ndevices, bool devices_if_needed,
		      char *msg, size_t msglen)
{
	struct esc_open_opts o = {
		.backend = fs->backend,
		.name = name,
		.devices = devices,
		.ndevices = ndevices,
		.devices_if_needed = devices_if_needed,
	};
	char why[512];
	int err = esc_image_open(out, fs->domain, path, &o, why, sizeof(why));

	if (err)
		snprintf(msg, msglen, "%s: %s", path, why);
	return err;
}

int fs_add_image(struct fs *fs, const char *name, const char *path, const char *const *devices,
		 unsigned ndevices, bool devices_if_needed, char *msg, size_t msglen)
{
	struct eshare_stat st = ESHARE_STAT_INIT;
	struct fimage *f, **pp;
	eshare_image *img = NULL;
	eshare_inode *root = NULL;
	struct node *n = NULL;
	int err;

	if (!fs_valid_name(name)) {
		snprintf(msg, msglen, "invalid image name '%s'", name);
		return -EINVAL;
	}
	err = open_image(&img, fs, name, path, devices, ndevices, devices_if_needed, msg, msglen);
	if (err)
		return err;
	err = eshare_root(&root, img);
	if (!err)
		err = eshare_stat(root, &st);
	if (err) {
		snprintf(msg, msglen, "%s: root directory: %s", path, eshare_strerror(err));
		goto fail;
	}
	err = -ENOMEM;
	f = calloc(1, sizeof(*f));
	if (!f)
		goto fail_msg;
	f->name = strdup(name);
	f->path = realpath(path, NULL);
	if (!f->path)
		f->path = strdup(path);
	if (!f->name || !f->path)
		goto fail_free;
	if (fs->root_is_image) {
		n = calloc(1, sizeof(*n));
		if (!n || !(n->path = strdup("/")))
			goto fail_free;
	}
	f->img = img;
	f->root = root;
	f->root_ino = st.ino;
	f->refs = 1;

	pthread_mutex_lock(&fs->lock);
	for (pp = &fs->images; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->name, name) || fs->root_is_image) {
			pthread_mutex_unlock(&fs->lock);
			snprintf(msg, msglen, "an image named '%s' is already served", name);
			err = -EEXIST;
			goto fail_free;
		}
	}
	if (n) {
		n->id = FUSE_ROOT_ID;
		n->nlookup = 1;
		n->fimg = f;
		n->ino = eshare_inode_get(root);
		n->st = st;
		if (alias_add(fs, n, f, st.ino)) {
			pthread_mutex_unlock(&fs->lock);
			eshare_inode_put(n->ino);
			goto fail_free;
		}
		f->refs++;
		htab_add(&fs->by_id, n, ID_OFF, node_id_hash);
		fs->root = n;
		fs->nodes++;
	}
	f->seq = fs->next_seq++;
	*pp = f;
	pthread_mutex_unlock(&fs->lock);

	if (fs->se && !fs->root_is_image) {
		/* A negative entry of this name may be cached; and the root's listing. */
		fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, name, strlen(name));
		fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
	}
	return 0;

fail_free:
	if (n)
		free(n->path);
	free(n);
	free(f->name);
	free(f->path);
	free(f);
fail_msg:
	if (err == -ENOMEM)
		snprintf(msg, msglen, "%s", eshare_strerror(err));
fail:
	eshare_inode_put(root);
	eshare_image_detach(img);
	return err;
}

struct inval_dir {
	struct fs *fs;
	uint64_t id;
};

static int inval_child(void *user, const char *name, size_t namelen, uint64_t ino,
		       unsigned type, uint64_t next)
{
	struct inval_dir *d = user;

	if (!is_dot(name, namelen))
		fuse_lowlevel_notify_inval_entry(d->fs->se, d->id, name, namelen);
	return 0;
}

struct pending {
	uint64_t id;
	eshare_inode *dir;	/* a directory whose entries the kernel may hold */
};

int fs_remove_image(struct fs *fs, const char *name)
{
	struct pending *p = NULL;
	eshare_inode **puts = NULL;
	size_t np = 0, nputs = 0, cap, i;
	struct fimage *f, **pp;
	eshare_image *img;
	eshare_inode *root = NULL;

	pthread_mutex_lock(&fs->lock);
	for (pp = &fs->images; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name))
			break;
	f = *pp;
	if (!f || fs->root_is_image) {
		pthread_mutex_unlock(&fs->lock);
		return f ? -EBUSY : -ENOENT;
	}
	/* Hidden from lookups from now on. */
	*pp = f->next;
	f->removed = true;

	cap = fs->nodes + 1;
	p = calloc(cap, sizeof(*p));
	puts = calloc(cap, sizeof(*puts));
	for (i = 0; i <= fs->by_id.mask; i++) {
		struct node *n;

		for (n = fs->by_id.b[i]; n; n = n->id_next) {
			struct alias **ap = &n->aliases;

			while (*ap) {
				struct alias *a = *ap;

				if (a->fimg == f) {
					*ap = a->node_next;
					htab_del(&fs->by_alias, a, ALIAS_OFF, alias_hash);
					free(a);
				} else {
					ap = &a->node_next;
				}
			}
			if (n->fimg != f)
				continue;
			if (n->aliases) {
				/*
				 * A node shared with other images reads on through one
				 * of theirs, so that this image can go.
				 */
				struct alias *a = n->aliases;
				eshare_inode *other;
				eshare_inode *dummy = NULL;

				if (puts && !eshare_inode_open(&other, a->fimg->img, a->kino)) {
					puts[nputs++] = n->ino;
					n->ino = other;
					n->fimg = a->fimg;
					a->fimg->refs++;
					fimage_put_locked(f, &dummy);
				}
				continue;
			}
			if (p && np < cap) {
				p[np].id = n->id;
				p[np].dir = S_ISDIR(n->st.mode) ? eshare_inode_get(n->ino) : NULL;
				np++;
			}
		}
	}
	img = f->img;
	f->img = NULL;
	fimage_put_locked(f, &root);
	pthread_mutex_unlock(&fs->lock);

	if (fs->se) {
		fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, name, strlen(name));
		fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
		/* Entries below directories the kernel still holds (a cwd, an open dir). */
		for (i = 0; i < np; i++) {
			if (p[i].dir) {
				struct inval_dir d = { fs, p[i].id };
				uint64_t cookie = 0;

				eshare_readdir(p[i].dir, &cookie, inval_child, &d);
			}
			fuse_lowlevel_notify_inval_inode(fs->se, p[i].id, 0, 0);
		}
	}
	for (i = 0; i < np; i++)
		eshare_inode_put(p[i].dir);
	for (i = 0; i < nputs; i++)
		eshare_inode_put(puts[i]);
	free(p);
	free(puts);
	eshare_inode_put(root);
	eshare_image_detach(img);
	return 0;
}
