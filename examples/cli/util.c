// SPDX-License-Identifier: MIT
/*
 * erofs-share helpers: messages, opening the image, buffers, escaping,
 * symlink and xattr retrieval, an inode-number map, the walk's messages.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

void cli_err(const struct cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ctx->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void err_path(const struct cli_ctx *ctx, const char *path, size_t pathlen, const char *what,
		     const char *msg)
{
	struct cli_buf b = { 0 };

	/* Paths come from the image: never send raw control bytes to a terminal. */
	if (path)
		cli_escape(&b, path, pathlen, NULL);
	fprintf(stderr, "%s: %s%s%s: %s: %s\n", ctx->prog, ctx->image_path ? ctx->image_path : "",
		ctx->image_path ? ": " : "", path ? b.p : "(image)", what, msg);
	cli_buf_free(&b);
}

void cli_err_path(const struct cli_ctx *ctx, const char *path, size_t pathlen, const char *what,
		  int err)
{
	err_path(ctx, path, pathlen, what, eshare_strerror(err));
}

void cli_err_path_sys(const struct cli_ctx *ctx, const char *path, size_t pathlen,
		      const char *what, int err)
{
	err_path(ctx, path, pathlen, what, strerror(err < 0 ? -err : err));
}

void *cli_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	/* A command-line tool has nothing sensible to do without memory. */
	if (!p) {
		fputs("erofs-share: out of memory\n", stderr);
		exit(2);
	}
	return p;
}

void *cli_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fputs("erofs-share: out of memory\n", stderr);
		exit(2);
	}
	return q;
}

void cli_buf_reserve(struct cli_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;	/* always room for a NUL */

	if (need <= b->cap)
		return;
	if (need < b->len) {
		fputs("erofs-share: buffer overflow\n", stderr);
		exit(2);
	}
	b->cap = b->cap ? b->cap : 64;
	while (b->cap < need)
		b->cap *= 2;
	b->p = cli_realloc(b->p, b->cap);
	b->p[b->len] = '\0';	/* a reserved buffer is already a valid string */
}

void cli_buf_add(struct cli_buf *b, const void *data, size_t len)
{
	cli_buf_reserve(b, len);
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void cli_buf_addc(struct cli_buf *b, char c)
{
	cli_buf_add(b, &c, 1);
}

void cli_buf_addf(struct cli_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	cli_buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void cli_buf_free(struct cli_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/*
 * Length of the well-formed UTF-8 sequence starting at s[i], or 0.  These
 * are Python's strict decoder rules (no overlongs, no surrogates, nothing
 * above U+10FFFF), which the manifest format is defined by.
 */
static size_t utf8_seq(const unsigned char *s, size_t len, size_t i)
{
	unsigned char c = s[i], lo = 0x80, hi = 0xbf;
	size_t n, k;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (len - i < n)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[i + 1] < lo || s[i + 1] > hi)
		return 0;
	for (k = 2; k < n; k++)
		if (s[i + k] < 0x80 || s[i + k] > 0xbf)
			return 0;
	return n;
}

bool cli_valid_utf8(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if (u[i] == 0)
			return false;
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq(u, len, i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

void cli_escape(struct cli_buf *b, const char *s, size_t len, const char *extra)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;

	cli_buf_reserve(b, len);
	while (i < len) {
		unsigned char c = u[i];

		if (c == '\\') {
			cli_buf_add(b, "\\\\", 2);
		} else if (c == '\t') {
			cli_buf_add(b, "\\t", 2);
		} else if (c == '\n') {
			cli_buf_add(b, "\\n", 2);
		} else if (c == '\r') {
			cli_buf_add(b, "\\r", 2);
		} else if (c < 0x20 || c == 0x7f || (extra && c && strchr(extra, c))) {
			cli_buf_addf(b, "\\x%02x", c);
		} else if (c < 0x80) {
			cli_buf_addc(b, (char)c);
		} else if ((n = utf8_seq(u, len, i)) != 0) {
			cli_buf_add(b, s + i, n);
			i += n;
			continue;
		} else {
			cli_buf_addf(b, "\\x%02x", c);
		}
		i++;
	}
}

void cli_json_str(FILE *f, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;

	fputc('"', f);
	while (i < len) {
		unsigned char c = u[i];

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c == '\t') {
			fputs("\\t", f);
		} else if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
		} else if (c < 0x80) {
			fputc(c, f);
		} else if ((n = utf8_seq(u, len, i)) != 0) {
			fwrite(s + i, 1, n, f);
			i += n;
			continue;
		} else {
			/* JSON text must be UTF-8: callers add a _hex field for such names. */
			fputs("\\ufffd", f);
		}
		i++;
	}
	fputc('"', f);
}

int cli_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

const char *cli_type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "reg";
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "lnk";
	case S_IFCHR:
		return "chr";
	case S_IFBLK:
		return "blk";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "sock";
	}
	return "?";
}

void cli_mode_string(uint32_t mode, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	switch (mode & S_IFMT) {
	case S_IFREG:
		out[0] = '-';
		break;
	case S_IFDIR:
		out[0] = 'd';
		break;
	case S_IFLNK:
		out[0] = 'l';
		break;
	case S_IFCHR:
		out[0] = 'c';
		break;
	case S_IFBLK:
		out[0] = 'b';
		break;
	case S_IFIFO:
		out[0] = 'p';
		break;
	case S_IFSOCK:
		out[0] = 's';
		break;
	default:
		out[0] = '?';
	}
	for (i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
	if (mode & S_ISUID)
		out[3] = (mode & S_IXUSR) ? 's' : 'S';
	if (mode & S_ISGID)
		out[6] = (mode & S_IXGRP) ? 's' : 'S';
	if (mode & S_ISVTX)
		out[9] = (mode & S_IXOTH) ? 't' : 'T';
	out[10] = '\0';
}

void cli_time_string(int64_t sec, uint32_t nsec, char *out, size_t len)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char date[64];

	if ((int64_t)t != sec || !gmtime_r(&t, &tm) ||
	    !strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm)) {
		snprintf(out, len, "@%lld.%09u", (long long)sec, nsec);
		return;
	}
	snprintf(out, len, "%s.%09u +0000", date, nsec);
}

static void log_to_stderr(void *user, int level, const char *msg)
{
	const struct cli_ctx *ctx = user;

	/*
	 * Corruption reports and what is missing (a device: INFO) explain a
	 * later error; debug chatter does not.
	 */
	if (level <= ESHARE_LOG_INFO && !ctx->quiet_log)
		fprintf(stderr, "%s: %s: %s\n", ctx->prog,
			ctx->image_path ? ctx->image_path : "(domain)", msg);
}

static void mute_log(void *user, bool probing)
{
	struct cli_ctx *ctx = user;

	ctx->quiet_log = probing;
}

int cli_image_attach(struct cli_ctx *ctx, eshare_domain *d, const char *path, eshare_image **out,
		     bool devices_if_needed)
{
	/* A device's path and a message from the library */
	char msg[PATH_MAX + 256];
	struct esc_open_opts o = { .backend = ctx->backend, .devices = ctx->devices,
				   .ndevices = ctx->ndevices,
				   .devices_if_needed = devices_if_needed,
				   .probe = mute_log, .probe_user = ctx };
	int ret = esc_image_open(out, d, path, &o, msg, sizeof(msg));

	if (ret)
		cli_err(ctx, "%s: %s", path, msg);
	return ret;
}

int cli_image_open(struct cli_ctx *ctx, const char *path)
{
	struct eshare_domain_opts dopts = ESHARE_DOMAIN_OPTS_INIT;
	int ret;

	ctx->image_path = path;
	dopts.id = "erofs-share";
	/*
	 * One image whose every byte a command reads at most once: sharing
	 * could save nothing, and finding twins would hash files first.
	 */
	dopts.policy = ESHARE_SHARE_OFF;
	dopts.log = log_to_stderr;
	dopts.log_user = ctx;
	ret = eshare_domain_create(&ctx->domain, &dopts);
	if (ret) {
		cli_err(ctx, "cannot create a domain: %s", eshare_strerror(ret));
		return ret;
	}
	ret = cli_image_attach(ctx, ctx->domain, path, &ctx->image, false);
	if (ret) {
		eshare_domain_close(ctx->domain);
		ctx->domain = NULL;
	}
	return ret;
}

void cli_image_close(struct cli_ctx *ctx)
{
	eshare_image_detach(ctx->image);
	ctx->image = NULL;
	if (ctx->domain && eshare_domain_close(ctx->domain))
		cli_err(ctx, "domain still busy at exit");
	ctx->domain = NULL;
}

int cli_lookup(struct cli_ctx *ctx, const char *path, eshare_inode **out)
{
	int ret = eshare_lookup(out, ctx->image, path);

	if (ret)
		cli_err_path(ctx, path, strlen(path), "lookup", ret);
	return ret;
}

int cli_stat(struct cli_ctx *ctx, eshare_inode *ino, const char *path, size_t pathlen,
	     struct eshare_stat *st)
{
	int ret;

	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	ret = eshare_stat(ino, st);
	if (ret)
		cli_err_path(ctx, path, pathlen, "stat", ret);
	return ret;
}

int cli_readlink(struct cli_ctx *ctx, eshare_inode *ino, const char *path, size_t pathlen,
		 char **out, size_t *outlen)
{
	size_t cap = 256;
	char *buf = cli_malloc(cap);
	int tries;

	/* The first call tells the full length; the image cannot change between calls. */
	for (tries = 0; tries < 2; tries++) {
		ssize_t n = eshare_readlink(ino, buf, cap);

		if (n < 0) {
			cli_err_path(ctx, path, pathlen, "readlink", (int)n);
			free(buf);
			return (int)n;
		}
		if ((size_t)n < cap) {
			buf[n] = '\0';
			*out = buf;
			*outlen = (size_t)n;
			return 0;
		}
		cap = (size_t)n + 1;
		buf = cli_realloc(buf, cap);
	}
	free(buf);
	cli_err_path(ctx, path, pathlen, "readlink: length changed", -EIO);
	return -EIO;
}

static int xattr_cmp(const void *a, const void *b)
{
	const struct cli_xattr *x = a, *y = b;

	return strcmp(x->name, y->name);	/* compares as unsigned char */
}

void cli_xattrs_free(struct cli_xattrs *x)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		free(x->v[i].value);
	free(x->v);
	free(x->names);
	memset(x, 0, sizeof(*x));
}

static ssize_t list_names(eshare_inode *ino, char **out)
{
	ssize_t len = 0;
	char *buf = NULL;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		len = eshare_listxattr(ino, NULL, 0);
		if (len <= 0)
			break;
		buf = cli_realloc(buf, (size_t)len);
		len = eshare_listxattr(ino, buf, (size_t)len);
		if (len != -ERANGE)
			break;
	}
	if (len <= 0) {
		free(buf);
		buf = NULL;
	}
	*out = buf;
	return len;
}

int cli_xattrs_get(struct cli_ctx *ctx, eshare_inode *ino, const char *path, size_t pathlen,
		   struct cli_xattrs *out)
{
	struct cli_xattrs x = { 0 };
	ssize_t len = list_names(ino, &x.names);
	size_t off, cap = 0;
	int ret;

	if (len < 0) {
		cli_err_path(ctx, path, pathlen, "listxattr", (int)len);
		return (int)len;
	}
	for (off = 0; off < (size_t)len;) {
		const char *name = x.names + off;
		size_t nl = strnlen(name, (size_t)len - off);
		struct cli_xattr *e;
		ssize_t vl;

		if (off + nl == (size_t)len) {
			/* The list must end with a NUL: the library broke its contract. */
			ret = -EIO;
			cli_err_path(ctx, path, pathlen, "listxattr: unterminated name", ret);
			goto fail;
		}
		if (x.n == cap) {
			cap = cap ? cap * 2 : 8;
			x.v = cli_realloc(x.v, cap * sizeof(*x.v));
		}
		e = &x.v[x.n];
		e->name = (char *)name;
		e->namelen = nl;
		e->value = NULL;
		e->vlen = 0;
		vl = eshare_getxattr(ino, name, NULL, 0);
		if (vl >= 0) {
			e->value = cli_malloc((size_t)vl);
			if (vl)
				vl = eshare_getxattr(ino, name, e->value, (size_t)vl);
		}
		if (vl == -ENODATA) {
			/*
			 * Listed but without a value, as the kernel has it for a
			 * user.* name on a symlink or special file: not there.
			 */
			free(e->value);
			off += nl + 1;
			continue;
		}
		x.n++;
		if (vl < 0) {
			struct cli_buf what = { 0 };

			cli_buf_add(&what, "getxattr ", 9);
			cli_escape(&what, name, nl, NULL);
			cli_err_path(ctx, path, pathlen, what.p, (int)vl);
			cli_buf_free(&what);
			ret = (int)vl;
			goto fail;
		}
		e->vlen = (size_t)vl;
		off += nl + 1;
	}
	if (x.n > 1)
		qsort(x.v, x.n, sizeof(*x.v), xattr_cmp);
	*out = x;
	return 0;
fail:
	cli_xattrs_free(&x);
	return ret;
}

static size_t ino_hash(uint64_t k, size_t mask)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k & mask;
}

size_t cli_inomap_get_or_put(struct cli_inomap *m, uint64_t key, size_t val)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		struct cli_inomap g = { 0 };

		g.cap = m->cap ? m->cap * 2 : 64;
		g.keys = cli_malloc(g.cap * sizeof(*g.keys));
		g.vals = cli_malloc(g.cap * sizeof(*g.vals));
		for (i = 0; i < g.cap; i++)
			g.vals[i] = SIZE_MAX;
		for (i = 0; i < m->cap; i++)
			if (m->vals[i] != SIZE_MAX)
				cli_inomap_get_or_put(&g, m->keys[i], m->vals[i]);
		cli_inomap_free(m);
		*m = g;
	}
	/* Linear probing; the table is at most half full, so this ends. */
	for (i = ino_hash(key, m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->vals[i] == SIZE_MAX) {
			m->keys[i] = key;
			m->vals[i] = val;
			m->n++;
			return SIZE_MAX;
		}
		if (m->keys[i] == key)
			return m->vals[i];
	}
}

size_t cli_inomap_get(const struct cli_inomap *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return SIZE_MAX;
	for (i = ino_hash(key, m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->vals[i] == SIZE_MAX)
			return SIZE_MAX;
		if (m->keys[i] == key)
			return m->vals[i];
	}
}

void cli_inomap_add(struct cli_inomap *m, uint64_t key)
{
	size_t i;

	if (cli_inomap_get_or_put(m, key, 1) == SIZE_MAX)
		return;
	for (i = ino_hash(key, m->cap - 1); m->keys[i] != key || m->vals[i] == SIZE_MAX;
	     i = (i + 1) & (m->cap - 1))
		;
	m->vals[i]++;
}

void cli_inomap_free(struct cli_inomap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---- walking ------------------------------------------------------------ */

struct cli_walk {
	struct cli_ctx *ctx;
	cli_visit_fn pre, post;
	void *user;
	bool quiet;
	int err;		/* the first error met */
};

static void walk_note(struct cli_walk *w, int err)
{
	if (!w->err)
		w->err = err;
}

/* A bad entry (reported by the command) is remembered and not entered. */
static int walk_result(struct cli_walk *w, int ret)
{
	if (ret >= 0)
		return ret;
	walk_note(w, ret);
	return ESC_WALK_SKIP;
}

static int walk_pre(void *user, const struct esc_entry *e)
{
	struct cli_walk *w = user;

	return walk_result(w, w->pre(w->user, e));
}

static int walk_post(void *user, const struct esc_entry *e)
{
	struct cli_walk *w = user;

	return walk_result(w, w->post(w->user, e));
}

/* What the walk met: said with what the walk then does, and it goes on. */
static int walk_error(void *user, const char *path, size_t pathlen, const char *what, int err)
{
	struct cli_walk *w = user;
	struct cli_buf b = { 0 };

	if (!w->quiet) {
		if (!strcmp(what, "readdir"))
			cli_buf_addf(&b, "%s (the rest of this directory skipped)", what);
		else if (!strcmp(what, "lookup") || !strcmp(what, "stat"))
			cli_buf_addf(&b, "%s", what);
		else
			cli_buf_addf(&b, "%s; skipped", what);
		cli_err_path(w->ctx, path, pathlen, b.p, err);
		cli_buf_free(&b);
	}
	walk_note(w, err);
	return 0;
}

int cli_walk(struct cli_ctx *ctx, eshare_inode *start, const char *path, cli_visit_fn pre,
	     cli_visit_fn post, void *user, unsigned flags)
{
	struct cli_walk w = { .ctx = ctx, .pre = pre, .post = post, .user = user,
			      .quiet = flags & CLI_WALK_QUIET };
	struct esc_walk_ops ops = { .visit = walk_pre, .post = post ? walk_post : NULL,
				    .error = walk_error, .user = &w,
				    .flags = (flags & ESC_WALK_PATH_ORDER) | ESC_WALK_DIRS_ONCE };
	/* Every error goes to walk_error(): only a lack of memory ends the walk. */
	int ret = esc_walk(start, path, &ops);

	if (ret) {
		fputs("erofs-share: out of memory\n", stderr);
		exit(2);
	}
	return w.err;
}
