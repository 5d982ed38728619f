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

int esc_image_open(eshare_image **out, eshare_domain *d, const char *path,
		   const struct esc_open_opts *o, char *msg, size_t msglen)
{
	struct eshare_image_opts iopts = ESHARE_IMAGE_OPTS_INIT;
	const char *kind = o && o->backend ? o->backend : "file";
	unsigned nd = o ? o->ndevices : 0, i, opened = 0;
	eshare_backend *primary = NULL, **devs = NULL;
	int ret;

	ret = eshare_backend_open(&primary, kind, path);
	if (ret) {
		snprintf(msg, msglen, "cannot open with the %s backend: %s", kind,
			 eshare_strerror(ret));
		return ret;
	}
	iopts.name = path;
	if (nd && o->devices_if_needed) {
		ret = eshare_image_attach(out, d, primary, &iopts);
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
			ret = eshare_backend_open(&devs[i], kind, o->devices[i]);
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

/* ---- walker ----------------------------------------------------------- */

/* Entries of a directory are read this many at a time. */
#define BATCH 128u

struct dent {
	uint32_t nameoff, namelen;
	uint64_t ino;
	uint64_t next;			/* the cookie that resumes after it */
};

struct batch {
	struct dent v[BATCH];
	unsigned n;
	char *names;
	size_t namelen, namecap;
	int err;			/* -ENOMEM while filling */
};

/* A directory being walked. */
struct frame {
	eshare_inode *ino;
	uint64_t dino;			/* its inode number, for cycle detection */
	uint64_t cookie;		/* where the next batch starts */
	bool end;			/* readdir said there is no more */
	unsigned idx;			/* next entry of the batch */
	struct batch b;
	size_t pathlen;			/* its path's length in the walk's buffer */
};

struct walk {
	const struct esc_walk_ops *ops;
	struct frame *stack;
	unsigned depth, cap;
	char *path;
	size_t pathlen, pathcap;
};

static int batch_fn(void *user, const char *name, size_t namelen, uint64_t ino, unsigned type,
		    uint64_t next)
{
	struct batch *b = user;
	struct dent *e;

	(void)type;
	if ((namelen == 1 && name[0] == '.') || (namelen == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	if (b->n == BATCH)
		return 1;	/* full: resume at the last entry's cookie */
	if (b->namelen + namelen + 1 > b->namecap) {
		size_t cap = b->namecap ? b->namecap : 4096;
		char *p;

		while (cap < b->namelen + namelen + 1)
			cap *= 2;
		p = realloc(b->names, cap);
		if (!p) {
			b->err = -ENOMEM;
			return 1;
		}
		b->names = p;
		b->namecap = cap;
	}
	e = &b->v[b->n++];
	e->nameoff = (uint32_t)b->namelen;
	e->namelen = (uint32_t)namelen;
	e->ino = ino;
	e->next = next;
	memcpy(b->names + b->namelen, name, namelen);
	b->namelen += namelen;
	b->names[b->namelen++] = '\0';
	return 0;
}

/* Read the next batch of @f's entries. */
static int refill(struct frame *f)
{
	int ret;

	f->b.n = 0;
	f->b.namelen = 0;
	f->b.err = 0;
	f->idx = 0;
	ret = eshare_readdir(f->ino, &f->cookie, batch_fn, &f->b);
	if (ret < 0)
		return ret;
	if (f->b.err)
		return f->b.err;
	if (ret == 0)
		f->end = true;
	else if (f->b.n)
		f->cookie = f->b.v[f->b.n - 1].next;
	else
		return -EIO;	/* stopped with nothing delivered: cannot progress */
	return 0;
}

static int path_add(struct walk *w, const char *s, size_t len)
{
	if (w->pathlen + len + 2 > w->pathcap) {
		size_t cap = w->pathcap ? w->pathcap : 256;
		char *p;

		while (cap < w->pathlen + len + 2)
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

static int report(struct walk *w, const char *what, int err)
{
	if (!w->ops->error)
		return err;
	return w->ops->error(w->ops->user, w->path, w->pathlen, what, err);
}

/* Enter directory @ino (a reference the stack takes over). */
static int push(struct walk *w, eshare_inode *ino, uint64_t dino)
{
	struct frame *f;
	unsigned i;
	int ret;

	if (w->depth >= ESC_WALK_MAX_DEPTH) {
		eshare_inode_put(ino);
		return report(w, "directories nested too deeply", -ELOOP);
	}
	for (i = 0; i < w->depth; i++) {
		if (w->stack[i].dino == dino) {
			eshare_inode_put(ino);
			return report(w, "directory cycle (an ancestor's inode again)", -ELOOP);
		}
	}
	if (w->depth == w->cap) {
		unsigned cap = w->cap ? w->cap * 2 : 16;
		struct frame *s = realloc(w->stack, cap * sizeof(*s));

		if (!s) {
			eshare_inode_put(ino);
			return -ENOMEM;
		}
		w->stack = s;
		w->cap = cap;
	}
	f = &w->stack[w->depth];
	memset(f, 0, sizeof(*f));
	f->ino = ino;
	f->dino = dino;
	f->pathlen = w->pathlen;
	ret = refill(f);
	if (ret) {
		free(f->b.names);
		eshare_inode_put(ino);
		return report(w, "readdir", ret);
	}
	w->depth++;
	return 0;
}

static void pop(struct walk *w)
{
	struct frame *f = &w->stack[--w->depth];

	eshare_inode_put(f->ino);
	free(f->b.names);
}

int esc_walk(eshare_inode *start, const char *path, const struct esc_walk_ops *ops)
{
	struct eshare_stat st = ESHARE_STAT_INIT;
	struct walk w = { .ops = ops };
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
	if (ret < 0 || ret == ESC_WALK_SKIP || !S_ISDIR(st.mode)) {
		ret = ret < 0 ? ret : 0;
		goto out;
	}
	ret = push(&w, eshare_inode_get(start), st.ino);
	if (ret)
		goto out;
	while (w.depth) {
		struct frame *f = &w.stack[w.depth - 1];
		eshare_inode *child;
		struct dent *d;
		const char *name;

		w.pathlen = f->pathlen;
		w.path[w.pathlen] = '\0';
		if (f->idx == f->b.n) {
			if (!f->end) {
				ret = refill(f);
				if (ret) {
					ret = report(&w, "readdir", ret);
					if (ret)
						goto out;
					pop(&w);
				}
				continue;
			}
			pop(&w);
			continue;
		}
		d = &f->b.v[f->idx++];
		name = f->b.names + d->nameoff;
		ret = path_add(&w, "/", !(w.pathlen == 1 && w.path[0] == '/'));
		if (!ret)
			ret = path_add(&w, name, d->namelen);
		if (ret)
			goto out;
		ret = eshare_lookup_at(&child, f->ino, name, d->namelen);
		if (ret) {
			ret = report(&w, "lookup", ret);
			if (ret)
				goto out;
			continue;
		}
		ret = eshare_stat(child, &st);
		if (ret) {
			eshare_inode_put(child);
			ret = report(&w, "stat", ret);
			if (ret)
				goto out;
			continue;
		}
		e = (struct esc_entry){ .path = w.path, .pathlen = w.pathlen,
					.name = w.path + w.pathlen - d->namelen,
					.namelen = d->namelen, .ino = child, .st = &st,
					.depth = w.depth };
		ret = ops->visit(ops->user, &e);
		if (ret < 0 || ret == ESC_WALK_SKIP || !S_ISDIR(st.mode)) {
			eshare_inode_put(child);
			if (ret < 0)
				goto out;
			continue;
		}
		ret = push(&w, child, st.ino);
		if (ret)
			goto out;
	}
	ret = 0;
out:
	while (w.depth)
		pop(&w);
	free(w.stack);
	free(w.path);
	return ret;
}
