// SPDX-License-Identifier: MIT
/*
 * erofs-share tree walker: reading a directory, and a depth-first walk with
 * an explicit stack (a crafted image may nest directories far deeper than the
 * C stack would survive, or loop back on itself).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static int dir_collect_fn(void *user, const char *name, size_t namelen, uint64_t ino,
			  unsigned type, uint64_t next)
{
	struct cli_dir *d = user;
	struct cli_dirent *e;

	if ((namelen == 1 && name[0] == '.') || (namelen == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 32;
		d->v = cli_realloc(d->v, d->cap * sizeof(*d->v));
	}
	e = &d->v[d->n++];
	e->nameoff = d->names.len;
	e->namelen = namelen;
	e->ino = ino;
	e->type = type;
	cli_buf_add(&d->names, name, namelen);
	/* Keep each name NUL-terminated inside the arena for easy printing. */
	cli_buf_addc(&d->names, '\0');
	return 0;
}

int cli_dir_read(struct cli_ctx *ctx, eshare_inode *dir, const char *path, size_t pathlen,
		 struct cli_dir *out)
{
	struct cli_dir d = { 0 };
	uint64_t cookie = 0;
	int ret;

	ret = eshare_readdir(dir, &cookie, dir_collect_fn, &d);
	if (ret) {
		cli_err_path(ctx, path, pathlen, "readdir", ret < 0 ? ret : -EIO);
		cli_dir_free(&d);
		return ret < 0 ? ret : -EIO;
	}
	if (!d.names.p)
		cli_buf_add(&d.names, "", 0);
	*out = d;
	return 0;
}

void cli_dir_free(struct cli_dir *d)
{
	free(d->v);
	cli_buf_free(&d->names);
	memset(d, 0, sizeof(*d));
}

/* A directory being walked. */
struct frame {
	eshare_inode *ino;
	struct eshare_stat st;
	struct cli_dir dir;
	size_t idx;
	size_t pathlen;		/* length of its path in the walk's buffer */
	size_t nameoff;		/* where its name starts in that path */
};

struct walk {
	struct cli_ctx *ctx;
	struct frame *stack;
	size_t depth, cap;
	struct cli_buf path;
};

static int push(struct walk *w, eshare_inode *ino, const struct eshare_stat *st, size_t nameoff)
{
	struct frame *f;
	size_t i;
	int ret;

	if (w->depth >= CLI_MAX_DEPTH) {
		cli_err_path(w->ctx, w->path.p, w->path.len, "directories nested too deeply",
			     -ELOOP);
		return -ELOOP;
	}
	/* A directory that contains itself would make the walk endless. */
	for (i = 0; i < w->depth; i++) {
		if (w->stack[i].st.ino == st->ino) {
			cli_err_path(w->ctx, w->path.p, w->path.len,
				     "directory cycle (an ancestor's inode again)",
				     -ESHARE_EFSCORRUPTED);
			return -ELOOP;
		}
	}
	if (w->depth == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->stack = cli_realloc(w->stack, w->cap * sizeof(*w->stack));
	}
	f = &w->stack[w->depth];
	memset(f, 0, sizeof(*f));
	ret = cli_dir_read(w->ctx, ino, w->path.p, w->path.len, &f->dir);
	if (ret)
		return ret;
	f->ino = ino;
	f->st = *st;
	f->pathlen = w->path.len;
	f->nameoff = nameoff;
	w->depth++;
	return 0;
}

static void pop(struct walk *w)
{
	struct frame *f = &w->stack[--w->depth];

	eshare_inode_put(f->ino);
	cli_dir_free(&f->dir);
}

int cli_walk(struct cli_ctx *ctx, eshare_inode *start, const char *path, cli_visit_fn pre,
	     cli_visit_fn post, void *user)
{
	struct walk w = { .ctx = ctx };
	struct eshare_stat st;
	struct cli_node node;
	const char *slash;
	int ret;

	cli_buf_add(&w.path, path, strlen(path));
	slash = strrchr(w.path.p, '/');
	ret = cli_stat(ctx, start, w.path.p, w.path.len, &st);
	if (ret)
		goto out;
	node = (struct cli_node){ .path = w.path.p, .pathlen = w.path.len,
				  .name = slash ? slash + 1 : w.path.p, .ino = start, .st = &st };
	node.namelen = strlen(node.name);
	ret = pre(user, &node);
	if (ret < 0)
		goto out;
	if (!S_ISDIR(st.mode) || ret == CLI_WALK_SKIP) {
		ret = 0;
		goto out;
	}
	ret = push(&w, eshare_inode_get(start), &st, (size_t)(node.name - w.path.p));
	if (ret) {
		eshare_inode_put(start);
		goto out;
	}
	while (w.depth) {
		struct frame *f = &w.stack[w.depth - 1];
		struct cli_dirent *e;
		eshare_inode *child;
		const char *name;
		size_t nameoff;

		w.path.len = f->pathlen;
		w.path.p[w.path.len] = '\0';
		if (f->idx == f->dir.n) {
			if (post) {
				node = (struct cli_node){ .path = w.path.p, .pathlen = w.path.len,
							  .name = w.path.p + f->nameoff,
							  .namelen = f->pathlen - f->nameoff,
							  .ino = f->ino, .st = &f->st,
							  .depth = (unsigned)(w.depth - 1) };
				ret = post(user, &node);
				if (ret < 0)
					goto out;
			}
			pop(&w);
			continue;
		}
		e = &f->dir.v[f->idx++];
		name = f->dir.names.p + e->nameoff;
		if (!(w.path.len == 1 && w.path.p[0] == '/'))
			cli_buf_addc(&w.path, '/');
		nameoff = w.path.len;
		cli_buf_add(&w.path, name, e->namelen);
		ret = eshare_lookup_at(&child, f->ino, name, e->namelen);
		if (ret) {
			cli_err_path(ctx, w.path.p, w.path.len, "lookup", ret);
			goto out;
		}
		ret = cli_stat(ctx, child, w.path.p, w.path.len, &st);
		if (ret) {
			eshare_inode_put(child);
			goto out;
		}
		node = (struct cli_node){ .path = w.path.p, .pathlen = w.path.len,
					  .name = w.path.p + nameoff, .namelen = e->namelen,
					  .ino = child, .st = &st, .depth = (unsigned)w.depth };
		ret = pre(user, &node);
		if (ret < 0 || !S_ISDIR(st.mode) || ret == CLI_WALK_SKIP) {
			eshare_inode_put(child);
			if (ret < 0)
				goto out;
			continue;
		}
		ret = push(&w, child, &st, nameoff);
		if (ret) {
			eshare_inode_put(child);
			goto out;
		}
	}
	ret = 0;
out:
	while (w.depth)
		pop(&w);
	free(w.stack);
	cli_buf_free(&w.path);
	return ret;
}
