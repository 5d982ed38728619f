// SPDX-License-Identifier: MIT
/*
 * erofs-share tree walker: a directory read a batch at a time, and a
 * depth-first walk with an explicit stack (a crafted image may nest
 * directories far deeper than the C stack would survive, loop back on
 * itself, or put one directory under many parents).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static bool is_dot_or_dotdot(const char *name, size_t len)
{
	return (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.');
}

static int stream_collect(void *user, const char *name, size_t namelen, uint64_t ino,
			  unsigned type, uint64_t next)
{
	struct cli_dirstream *ds = user;
	struct cli_dirent *e;

	if (is_dot_or_dotdot(name, namelen))
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
	return ds->n == CLI_DIR_BATCH;
}

void cli_dirstream_open(struct cli_dirstream *ds, eshare_inode *dir, uint64_t cookie)
{
	ds->dir = dir;
	ds->cookie = cookie;
	ds->n = ds->pos = 0;
	ds->end = 1;
}

int cli_dirstream_next(struct cli_dirstream *ds, const struct cli_dirent **e)
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

/* A subdirectory visited but not yet entered (CLI_WALK_PATH_ORDER). */
struct pending {
	char name[256];
	size_t namelen;
};

/* A directory being walked. */
struct frame {
	eshare_inode *ino;
	struct eshare_stat st;
	uint64_t cookie;	/* where its next entry is read */
	size_t pathlen;		/* length of its path in the walk's buffer */
	size_t nameoff;		/* where its name starts in that path */
	/*
	 * CLI_WALK_PATH_ORDER: its subdirectories waiting to be entered, each
	 * name a prefix of the next (at most 255 of them).
	 */
	struct pending *pend;
	size_t npend, cappend;
	bool eof;		/* all its entries read */
};

struct walk {
	struct cli_ctx *ctx;
	struct frame *stack;
	size_t depth, cap;
	struct cli_buf path;
	/* One batch for the whole walk: it belongs to the frame being read. */
	struct cli_dirstream ds;
	size_t ds_frame;	/* SIZE_MAX: none */
	struct cli_inomap seen;	/* directory inodes entered */
	int err;		/* the first error met */
	bool stopping;
	unsigned flags;		/* CLI_WALK_* */
};

/* The walk's own messages; none in a quiet walk. */
static void report(struct walk *w, const char *what, int err)
{
	if (!(w->flags & CLI_WALK_QUIET))
		cli_err_path(w->ctx, w->path.p, w->path.len, what, err);
}

static int walk_stat(struct walk *w, eshare_inode *ino, struct eshare_stat *st)
{
	int ret;

	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	ret = eshare_stat(ino, st);
	if (ret)
		report(w, "stat", ret);
	return ret;
}

static void note(struct walk *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void push(struct walk *w, eshare_inode *ino, const struct eshare_stat *st, size_t nameoff)
{
	struct frame *f;

	if (w->depth == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->stack = cli_realloc(w->stack, w->cap * sizeof(*w->stack));
	}
	f = &w->stack[w->depth++];
	f->ino = ino;
	f->st = *st;
	f->cookie = 0;
	f->pathlen = w->path.len;
	f->nameoff = nameoff;
	f->pend = NULL;
	f->npend = f->cappend = 0;
	f->eof = false;
	w->ds_frame = SIZE_MAX;
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
 * May the walk enter directory @st (at w->path)?  Each directory inode is
 * entered once: one already on the path is a cycle, one entered before under
 * another path a directory with two parents.  Both are corruption.
 */
static int may_enter(struct walk *w, const struct eshare_stat *st)
{
	size_t i;

	for (i = 0; i < w->depth; i++) {
		if (w->stack[i].st.ino == st->ino) {
			report(w, "directory cycle (an ancestor's inode again); skipped",
			       -ESHARE_EFSCORRUPTED);
			return -ESHARE_EFSCORRUPTED;
		}
	}
	if (cli_inomap_get_or_put(&w->seen, st->ino, 0) != SIZE_MAX) {
		report(w, "directory already seen under another path (a directory hard link); "
			  "skipped", -ESHARE_EFSCORRUPTED);
		return -ESHARE_EFSCORRUPTED;
	}
	if (w->depth >= CLI_MAX_DEPTH) {
		report(w, "directories nested too deeply; skipped", -ELOOP);
		return -ELOOP;
	}
	return 0;
}

/* The directory on top is done: its post call, then off the stack. */
static void finish_dir(struct walk *w, cli_visit_fn post, void *user)
{
	struct frame *f = &w->stack[w->depth - 1];

	if (post) {
		struct cli_node node = { .path = w->path.p, .pathlen = w->path.len,
					 .name = w->path.p + f->nameoff,
					 .namelen = f->pathlen - f->nameoff, .ino = f->ino,
					 .st = &f->st, .depth = (unsigned)(w->depth - 1),
					 .stopping = w->stopping };
		int ret = post(user, &node);

		if (ret < 0)
			note(w, ret);
		if (ret == CLI_WALK_STOP)
			w->stopping = true;
	}
	pop(w);
}

/* Visit one entry of the directory on top of the stack. */
static void visit_entry(struct walk *w, const struct cli_dirent *e, cli_visit_fn pre, void *user)
{
	struct frame *f = &w->stack[w->depth - 1];
	struct eshare_stat st;
	struct cli_node node;
	eshare_inode *child;
	size_t nameoff;
	int ret;

	if (!(w->path.len == 1 && w->path.p[0] == '/'))
		cli_buf_addc(&w->path, '/');
	nameoff = w->path.len;
	cli_buf_add(&w->path, e->name, e->namelen);
	ret = eshare_lookup_at(&child, f->ino, e->name, e->namelen);
	if (ret) {
		report(w, "lookup", ret);
		note(w, ret);
		return;
	}
	ret = walk_stat(w, child, &st);
	if (!ret && S_ISDIR(st.mode))
		ret = may_enter(w, &st);
	if (ret) {
		eshare_inode_put(child);
		note(w, ret);
		return;
	}
	node = (struct cli_node){ .path = w->path.p, .pathlen = w->path.len,
				  .name = w->path.p + nameoff, .namelen = e->namelen,
				  .ino = child, .st = &st, .depth = (unsigned)w->depth };
	ret = pre(user, &node);
	if (ret == CLI_WALK_STOP)
		w->stopping = true;
	else if (ret < 0)
		note(w, ret);
	if (ret || !S_ISDIR(st.mode)) {
		eshare_inode_put(child);
		return;
	}
	if (w->flags & CLI_WALK_PATH_ORDER) {
		/* Entered once the siblings that sort before "name/" are visited. */
		if (f->npend == f->cappend) {
			f->cappend = f->cappend ? f->cappend * 2 : 4;
			f->pend = cli_realloc(f->pend, f->cappend * sizeof(*f->pend));
		}
		memcpy(f->pend[f->npend].name, e->name, e->namelen + 1);
		f->pend[f->npend++].namelen = e->namelen;
		eshare_inode_put(child);
		return;
	}
	push(w, child, &st, nameoff);
}

/*
 * Does @e sort before everything below the pending directory @t?  Names
 * come in increasing order, so @e is after @t; it is before "t/..." only
 * if it extends @t with a byte below '/'.
 */
static bool before_subtree(const struct cli_dirent *e, const struct pending *t)
{
	return e->namelen > t->namelen && !memcmp(e->name, t->name, t->namelen) &&
	       (unsigned char)e->name[t->namelen] < '/';
}

/* Enter the last pending subdirectory of the directory on top. */
static void enter_pending(struct walk *w)
{
	struct frame *f = &w->stack[w->depth - 1];
	struct pending *t = &f->pend[--f->npend];
	struct eshare_stat st;
	eshare_inode *child;
	size_t nameoff;
	int ret;

	if (!(w->path.len == 1 && w->path.p[0] == '/'))
		cli_buf_addc(&w->path, '/');
	nameoff = w->path.len;
	cli_buf_add(&w->path, t->name, t->namelen);
	ret = eshare_lookup_at(&child, f->ino, t->name, t->namelen);
	if (ret) {
		report(w, "lookup", ret);
		note(w, ret);
		return;
	}
	ret = walk_stat(w, child, &st);
	if (!ret && !S_ISDIR(st.mode))
		ret = -EIO;	/* the image cannot change under us */
	if (ret) {
		eshare_inode_put(child);
		note(w, ret);
		return;
	}
	push(w, child, &st, nameoff);
}

int cli_walk(struct cli_ctx *ctx, eshare_inode *start, const char *path, cli_visit_fn pre,
	     cli_visit_fn post, void *user)
{
	return cli_walk_flags(ctx, start, path, pre, post, user, 0);
}

int cli_walk_flags(struct cli_ctx *ctx, eshare_inode *start, const char *path, cli_visit_fn pre,
		   cli_visit_fn post, void *user, unsigned flags)
{
	struct walk w = { .ctx = ctx, .ds_frame = SIZE_MAX, .flags = flags };
	struct eshare_stat st;
	struct cli_node node;
	const char *slash;
	int ret;

	cli_buf_add(&w.path, path, strlen(path));
	slash = strrchr(w.path.p, '/');
	ret = walk_stat(&w, start, &st);
	if (ret)
		goto out;
	node = (struct cli_node){ .path = w.path.p, .pathlen = w.path.len,
				  .name = slash ? slash + 1 : w.path.p, .ino = start, .st = &st };
	node.namelen = strlen(node.name);
	ret = pre(user, &node);
	if (ret == CLI_WALK_STOP || ret == CLI_WALK_SKIP || !S_ISDIR(st.mode)) {
		ret = ret < 0 ? ret : 0;
		goto out;
	}
	if (ret < 0)
		goto out;
	cli_inomap_get_or_put(&w.seen, st.ino, 0);
	push(&w, eshare_inode_get(start), &st, (size_t)(node.name - w.path.p));
	while (w.depth) {
		size_t top = w.depth - 1;
		struct frame *f = &w.stack[top];
		const struct cli_dirent *e;

		w.path.len = f->pathlen;
		w.path.p[w.path.len] = '\0';
		if (w.stopping) {
			finish_dir(&w, post, user);
			continue;
		}
		if (f->eof) {
			if (f->npend)
				enter_pending(&w);
			else
				finish_dir(&w, post, user);
			continue;
		}
		if (w.ds_frame != top) {
			cli_dirstream_open(&w.ds, f->ino, f->cookie);
			w.ds_frame = top;
		}
		ret = cli_dirstream_next(&w.ds, &e);
		if (ret < 0) {
			report(&w, "readdir (the rest of this directory skipped)", ret);
			note(&w, ret);
		}
		if (ret <= 0) {
			f->eof = true;
			continue;
		}
		if (f->npend && !before_subtree(e, &f->pend[f->npend - 1])) {
			/* the last pending subdirectory's turn; @e is read again after it */
			enter_pending(&w);
			continue;
		}
		f->cookie = e->next;
		visit_entry(&w, e, pre, user);
	}
	ret = w.err;
out:
	while (w.depth)
		pop(&w);
	free(w.stack);
	cli_inomap_free(&w.seen);
	cli_buf_free(&w.path);
	return ret;
}
