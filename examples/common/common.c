// SPDX-License-Identifier: MIT
/*
 * Front-end helpers over the public API: policy and size parsing, opening
 * an image with its backend and extra devices, and a streaming tree walker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

static const char *const policy_names[ESC_NPOLICIES] = {
	[ESHARE_SHARE_OFF] = "off",
	[ESHARE_SHARE_TRUST] = "trust",
	[ESHARE_SHARE_VERIFY] = "verify",
	[ESHARE_SHARE_COMPUTE] = "compute",
};

const char *esc_policy_name(uint32_t policy)
{
	return policy < ESC_NPOLICIES ? policy_names[policy] : "?";
}

static int policy_n(uint32_t *out, const char *s, size_t len)
{
	uint32_t i;

	for (i = 0; i < ESC_NPOLICIES; i++) {
		if (strlen(policy_names[i]) == len && !memcmp(s, policy_names[i], len)) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

int esc_parse_policy(uint32_t *out, const char *s)
{
	return policy_n(out, s, strlen(s));
}

int esc_parse_policies(uint32_t out[ESC_NPOLICIES], unsigned *n, const char *s)
{
	uint32_t v[ESC_NPOLICIES], p;
	unsigned k = 0, i;

	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);

		if (policy_n(&p, s, len) || k == ESC_NPOLICIES)
			return -EINVAL;
		for (i = 0; i < k; i++)
			if (v[i] == p)
				return -EINVAL;
		v[k++] = p;
		if (!comma)
			break;
		s = comma + 1;
	}
	memcpy(out, v, k * sizeof(*v));
	*n = k;
	return 0;
}

int esc_parse_size(uint64_t *out, const char *s)
{
	static const char suffixes[] = "KMGT";
	unsigned long long v;
	unsigned shift = 0;
	const char *p;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	/* (a blank & ~0x20 is NUL, which strchr() finds at the end) */
	if ((*end & ~0x20) && (p = strchr(suffixes, *end & ~0x20)) != NULL) {
		shift = 10 * (unsigned)(p - suffixes + 1);
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "ib"))
			end += 2;
	}
	if (*end || (v << shift >> shift) != v)
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int esc_parse_uint(uint64_t *out, const char *s, uint64_t max)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < 1 || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * The built-in backends, and "blockdev-direct" and "loop-direct": the same
 * with ESHARE_BLOCKDEV_DIRECT (O_DIRECT reads: the kernel does not cache
 * the image a second time under the library's cache).
 */
static int backend_open(eshare_backend **out, const char *kind, const char *path)
{
	struct eshare_blockdev_opts o = ESHARE_BLOCKDEV_OPTS_INIT;

	o.flags = ESHARE_BLOCKDEV_DIRECT;
	if (!strcmp(kind, "blockdev-direct"))
		return eshare_backend_open_blockdev(out, path, &o);
	if (!strcmp(kind, "loop-direct"))
		return eshare_backend_open_loop(out, path, &o);
	return eshare_backend_open(out, kind, path);
}

int esc_image_open(eshare_image **out, eshare_domain *d, const char *path,
		   const struct esc_open_opts *o, char *msg, size_t msglen)
{
	struct eshare_image_opts iopts = ESHARE_IMAGE_OPTS_INIT;
	const char *kind = o && o->backend ? o->backend : "file";
	unsigned nd = o ? o->ndevices : 0, i, opened = 0;
	eshare_backend *primary = NULL, **devs = NULL;
	int ret;

	ret = backend_open(&primary, kind, path);
	if (ret) {
		snprintf(msg, msglen, "cannot open with the %s backend: %s", kind,
			 eshare_strerror(ret));
		return ret;
	}
	iopts.name = o && o->name ? o->name : path;
	if (nd && o->devices_if_needed) {
		if (o->probe)
			o->probe(o->probe_user, true);
		ret = eshare_image_attach(out, d, primary, &iopts);
		if (o->probe)
			o->probe(o->probe_user, false);
		if (ret != -ENXIO)
			goto done;
	}
	if (nd) {
		devs = calloc(nd, sizeof(*devs));
		if (!devs) {
			ret = -ENOMEM;
			snprintf(msg, msglen, "%s", eshare_strerror(ret));
			goto fail;
		}
		for (i = 0; i < nd; i++, opened++) {
			ret = backend_open(&devs[i], kind, o->devices[i]);
			if (ret) {
				snprintf(msg, msglen, "device %s: cannot open with the %s backend: %s",
					 o->devices[i], kind, eshare_strerror(ret));
				goto fail;
			}
		}
		iopts.devices = devs;
		iopts.ndevices = nd;
	}
	ret = eshare_image_attach(out, d, primary, &iopts);
done:
	if (!ret) {
		free(devs);
		return 0;
	}
	snprintf(msg, msglen, "cannot open the image: %s", eshare_strerror(ret));
fail:
	/* The attach failed or was not reached: the backends are still ours. */
	for (i = 0; i < opened; i++)
		eshare_backend_close(devs[i]);
	free(devs);
	eshare_backend_close(primary);
	return ret;
}

bool esc_backend_known(const char *kind)
{
	return !strcmp(kind, "file") || !strcmp(kind, "blockdev") || !strcmp(kind, "loop") ||
	       !strcmp(kind, "blockdev-direct") || !strcmp(kind, "loop-direct");
}

/* ---- directory stream --------------------------------------------------- */

static int stream_collect(void *user, const char *name, size_t namelen, uint64_t ino,
			  unsigned type, uint64_t next)
{
	struct esc_dirstream *ds = user;
	struct esc_dirent *e;

	if ((namelen == 1 && name[0] == '.') || (namelen == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	/* The library promises names of 1..255 bytes. */
	if (!namelen || namelen >= sizeof(e->name))
		return -EIO;
	e = &ds->v[ds->n++];
	memcpy(e->name, name, namelen);
	e->name[namelen] = '\0';
	e->namelen = namelen;
	e->ino = ino;
	e->type = type;
	e->next = next;
	/* Stop once the batch is full; the cookie then points past this entry. */
	return ds->n == ESC_DIR_BATCH;
}

void esc_dirstream_open(struct esc_dirstream *ds, eshare_inode *dir, uint64_t cookie)
{
	ds->dir = dir;
	ds->cookie = cookie;
	ds->n = ds->pos = 0;
	ds->end = 1;
}

int esc_dirstream_next(struct esc_dirstream *ds, const struct esc_dirent **e)
{
	while (ds->pos == ds->n) {
		int ret;

		if (ds->end <= 0)
			return ds->end;
		ds->n = ds->pos = 0;
		ret = eshare_readdir(ds->dir, &ds->cookie, stream_collect, ds);
		ds->end = ret > 0 ? 1 : ret;
	}
	*e = &ds->v[ds->pos++];
	return 1;
}

/* ---- walker ------------------------------------------------------------- */

/* A set of directory inode numbers (ESC_WALK_DIRS_ONCE), open addressing. */
struct inoset {
	uint64_t *slot;
	unsigned char *used;
	size_t cap, n;
};

/* Add @ino: 1 if new, 0 if there already, -ENOMEM. */
static int inoset_add(struct inoset *s, uint64_t ino)
{
	size_t i, mask;

	if (2 * (s->n + 1) > s->cap) {
		struct inoset g = { .cap = s->cap ? 2 * s->cap : 256 };

		g.slot = malloc(g.cap * sizeof(*g.slot));
		g.used = calloc(g.cap, 1);
		if (!g.slot || !g.used) {
			free(g.slot);
			free(g.used);
			return -ENOMEM;
		}
		for (i = 0; i < s->cap; i++)
			if (s->used[i])
				inoset_add(&g, s->slot[i]);	/* room for all: cannot fail */
		free(s->slot);
		free(s->used);
		*s = g;
	}
	mask = s->cap - 1;
	/* Fibonacci hashing; the table is at most half full, so the probe ends. */
	for (i = (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 32) & mask; s->used[i]; i = (i + 1) & mask)
		if (s->slot[i] == ino)
			return 0;
	s->used[i] = 1;
	s->slot[i] = ino;
	s->n++;
	return 1;
}

/* A subdirectory visited but not yet entered (ESC_WALK_PATH_ORDER). */
struct pending {
	char name[256];
	size_t namelen;
};

/* A directory being walked. */
struct frame {
	eshare_inode *ino;
	struct eshare_stat st;
	uint64_t cookie;		/* where its next entry is read */
	size_t pathlen;			/* length of its path in the walk's buffer */
	size_t nameoff;			/* where its name starts in that path */
	/*
	 * ESC_WALK_PATH_ORDER: its subdirectories waiting to be entered, each
	 * name a prefix of the next (at most 255 of them).
	 */
	struct pending *pend;
	size_t npend, cappend;
	bool eof;			/* all its entries read */
};

struct walk {
	const struct esc_walk_ops *ops;
	struct frame *stack;
	size_t depth, cap;
	char *path;
	size_t pathlen, pathcap;
	/* One batch for the whole walk: it belongs to the frame being read. */
	struct esc_dirstream ds;
	size_t ds_frame;		/* SIZE_MAX: none */
	struct inoset seen;		/* ESC_WALK_DIRS_ONCE: directories entered */
	bool stopping;			/* a callback said ESC_WALK_STOP */
};

static int path_add(struct walk *w, const char *s, size_t len)
{
	if (w->pathlen + len + 1 > w->pathcap) {
		size_t cap = w->pathcap ? w->pathcap : 256;
		char *p;

		while (cap < w->pathlen + len + 1)
			cap *= 2;
		p = realloc(w->path, cap);
		if (!p)
			return -ENOMEM;
		w->path = p;
		w->pathcap = cap;
	}
	memcpy(w->path + w->pathlen, s, len);
	w->pathlen += len;
	w->path[w->pathlen] = '\0';
	return 0;
}

/* Append "/name" (no '/' after the root); *nameoff is where the name starts. */
static int path_child(struct walk *w, const char *name, size_t namelen, size_t *nameoff)
{
	int ret = path_add(w, "/", !(w->pathlen == 1 && w->path[0] == '/'));

	*nameoff = w->pathlen;
	return ret ? ret : path_add(w, name, namelen);
}

/* Tell the error callback: 0 to go on, <0 to end the walk. */
static int report(struct walk *w, const char *what, int err)
{
	if (!w->ops->error)
		return err;
	return w->ops->error(w->ops->user, w->path, w->pathlen, what, err);
}

/* Report an entry the walk leaves out: 1 to go on without it, <0 to end the walk. */
static int report_skip(struct walk *w, const char *what, int err)
{
	int ret = report(w, what, err);

	return ret ? ret : 1;
}

/* A callback's value: 0 to go on, <0 to end the walk; ESC_WALK_STOP is noted. */
static int callback_result(struct walk *w, int ret)
{
	if (ret == ESC_WALK_STOP)
		w->stopping = true;
	return ret < 0 ? ret : 0;
}

/*
 * Array @p of *@cap elements of @size bytes with room for one more than
 * @n: @p itself, a larger copy, or NULL (@p is then unchanged).
 */
static void *grow(void *p, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t c = *cap ? *cap * 2 : first;
	void *q;

	if (n < *cap)
		return p;
	q = realloc(p, c * size);
	if (q)
		*cap = c;
	return q;
}

static int push(struct walk *w, eshare_inode *ino, const struct eshare_stat *st, size_t nameoff)
{
	struct frame *f, *stack;

	stack = grow(w->stack, &w->cap, w->depth, sizeof(*stack), 16);
	if (!stack) {
		eshare_inode_put(ino);
		return -ENOMEM;
	}
	w->stack = stack;
	f = &w->stack[w->depth++];
	memset(f, 0, sizeof(*f));
	f->ino = ino;
	f->st = *st;
	f->pathlen = w->pathlen;
	f->nameoff = nameoff;
	w->ds_frame = SIZE_MAX;
	return 0;
}

static void pop(struct walk *w)
{
	struct frame *f = &w->stack[--w->depth];

	eshare_inode_put(f->ino);
	free(f->pend);
	if (w->ds_frame == w->depth)
		w->ds_frame = SIZE_MAX;
}

/*
 * May the walk enter directory @st (at w->path)?  One already on the path
 * is a cycle; with ESC_WALK_DIRS_ONCE, one entered before under another
 * path has two parents.  Both are corruption.  Returns 0, 1 to leave it
 * out and go on, or <0 to end the walk.
 */
static int may_enter(struct walk *w, const struct eshare_stat *st)
{
	size_t i;
	int ret;

	for (i = 0; i < w->depth; i++)
		if (w->stack[i].st.ino == st->ino)
			return report_skip(w, "directory cycle (an ancestor's inode again)",
					   -ESHARE_EFSCORRUPTED);
	if (w->ops->flags & ESC_WALK_DIRS_ONCE) {
		ret = inoset_add(&w->seen, st->ino);
		if (ret < 0)
			return ret;
		if (!ret)
			return report_skip(w, "directory already seen under another path "
					      "(a directory hard link)", -ESHARE_EFSCORRUPTED);
	}
	if (w->depth >= ESC_WALK_MAX_DEPTH)
		return report_skip(w, "directories nested too deeply", -ELOOP);
	return 0;
}

/* The directory on top is done: its post call, then off the stack. */
static int finish_dir(struct walk *w)
{
	struct frame *f = &w->stack[w->depth - 1];
	int ret = 0;

	if (w->ops->post) {
		struct esc_entry e = { .path = w->path, .pathlen = w->pathlen,
				       .name = w->path + f->nameoff,
				       .namelen = f->pathlen - f->nameoff, .ino = f->ino,
				       .st = &f->st, .depth = (unsigned)(w->depth - 1) };

		ret = callback_result(w, w->ops->post(w->ops->user, &e));
	}
	pop(w);
	return ret;
}

/*
 * The entry @name of the directory on top: looked up and stat'ed, then
 * visited and entered (or left pending) if a directory; with @pending, the
 * subdirectory visited before and left pending, now entered.
 */
static int open_child(struct walk *w, const char *name, size_t namelen, bool pending)
{
	struct frame *f = &w->stack[w->depth - 1];
	struct eshare_stat st = ESHARE_STAT_INIT;
	struct pending *pend;
	struct esc_entry e;
	eshare_inode *child;
	size_t nameoff;
	int ret;

	ret = path_child(w, name, namelen, &nameoff);
	if (ret)
		return ret;
	ret = eshare_lookup_at(&child, f->ino, name, namelen);
	if (ret)
		return report(w, "lookup", ret);
	ret = eshare_stat(child, &st);
	if (!ret && S_ISDIR(st.mode) && pending)
		return push(w, child, &st, nameoff);
	if (ret || pending) {
		eshare_inode_put(child);
		/* (pending: the image cannot change under us, a library fault) */
		return report(w, "stat", ret ? ret : -EIO);
	}
	if (S_ISDIR(st.mode)) {
		ret = may_enter(w, &st);
		if (ret) {
			eshare_inode_put(child);
			return ret < 0 ? ret : 0;
		}
	}
	e = (struct esc_entry){ .path = w->path, .pathlen = w->pathlen,
				.name = w->path + nameoff, .namelen = namelen,
				.ino = child, .st = &st, .depth = (unsigned)w->depth };
	ret = w->ops->visit(w->ops->user, &e);
	if (ret || !S_ISDIR(st.mode)) {
		eshare_inode_put(child);
		return callback_result(w, ret);
	}
	if (!(w->ops->flags & ESC_WALK_PATH_ORDER))
		return push(w, child, &st, nameoff);
	/* Entered once the siblings that sort before "name/" are visited. */
	eshare_inode_put(child);
	pend = grow(f->pend, &f->cappend, f->npend, sizeof(*pend), 4);
	if (!pend)
		return -ENOMEM;
	f->pend = pend;
	memcpy(pend[f->npend].name, name, namelen);
	pend[f->npend].name[namelen] = '\0';
	pend[f->npend++].namelen = namelen;
	return 0;
}

/*
 * Does @d sort before everything below the pending directory @t?  Names
 * come in increasing order, so @d is after @t; it is before "t/..." only
 * if it extends @t with a byte below '/'.
 */
static bool before_subtree(const struct esc_dirent *d, const struct pending *t)
{
	return d->namelen > t->namelen && !memcmp(d->name, t->name, t->namelen) &&
	       (unsigned char)d->name[t->namelen] < '/';
}

/* Enter the last pending subdirectory of the directory on top. */
static int enter_pending(struct walk *w)
{
	struct frame *f = &w->stack[w->depth - 1];
	struct pending *t = &f->pend[--f->npend];

	/* @t stays put: nothing is added to f->pend on the way */
	return open_child(w, t->name, t->namelen, true);
}

/* One step of the walk in the directory on top: <0 ends the walk. */
static int step(struct walk *w)
{
	size_t top = w->depth - 1;
	struct frame *f = &w->stack[top];
	const struct esc_dirent *d;
	int ret;

	w->pathlen = f->pathlen;
	w->path[w->pathlen] = '\0';
	if (w->stopping)
		return finish_dir(w);
	if (f->eof)
		return f->npend ? enter_pending(w) : finish_dir(w);
	if (w->ds_frame != top) {
		esc_dirstream_open(&w->ds, f->ino, f->cookie);
		w->ds_frame = top;
	}
	ret = esc_dirstream_next(&w->ds, &d);
	if (ret <= 0) {
		f->eof = true;
		return ret < 0 ? report(w, "readdir", ret) : 0;
	}
	if (f->npend && !before_subtree(d, &f->pend[f->npend - 1])) {
		/* the last pending subdirectory's turn; @d is read again after it */
		return enter_pending(w);
	}
	f->cookie = d->next;
	return open_child(w, d->name, d->namelen, false);
}

int esc_walk(eshare_inode *start, const char *path, const struct esc_walk_ops *ops)
{
	struct eshare_stat st = ESHARE_STAT_INIT;
	struct walk w = { .ops = ops, .ds_frame = SIZE_MAX };
	struct esc_entry e;
	const char *slash;
	int ret;

	ret = path_add(&w, path, strlen(path));
	if (ret)
		goto out;
	ret = eshare_stat(start, &st);
	if (ret) {
		ret = report(&w, "stat", ret);
		goto out;
	}
	slash = strrchr(w.path, '/');
	e = (struct esc_entry){ .path = w.path, .pathlen = w.pathlen,
				.name = slash ? slash + 1 : w.path, .ino = start, .st = &st };
	e.namelen = strlen(e.name);
	ret = ops->visit(ops->user, &e);
	if (ret || !S_ISDIR(st.mode)) {
		ret = ret < 0 ? ret : 0;
		goto out;
	}
	if (ops->flags & ESC_WALK_DIRS_ONCE) {
		ret = inoset_add(&w.seen, st.ino);
		if (ret < 0)
			goto out;
	}
	ret = push(&w, eshare_inode_get(start), &st, (size_t)(e.name - w.path));
	while (!ret && w.depth)
		ret = step(&w);
out:
	while (w.depth)
		pop(&w);
	free(w.stack);
	free(w.seen.slot);
	free(w.seen.used);
	free(w.path);
	return ret;
}
