/* SPDX-License-Identifier: MIT */
/*
 * erofs-share: a command-line front end over the public libsharecache API.
 *
 * Shared declarations of the subcommands and their helpers.  Only the
 * public headers are used here: the tool is also an example of how an
 * application drives the library.
 */
#ifndef ESHARE_CLI_H
#define ESHARE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <erofs_share/erofs_share.h>

#include "common.h"

#define CLI_MAX_DEVICES 64

/* Everything a subcommand needs: parsed global options and the image. */
struct cli_ctx {
	const char *prog;
	const char *backend;		/* "file", "blockdev" or "loop" */
	const char *devices[CLI_MAX_DEVICES];
	unsigned ndevices;
	const char *image_path;		/* as given, for messages */
	eshare_domain *domain;
	eshare_image *image;
	bool quiet_log;			/* drop the library's log lines (a probe) */
};

/*
 * What a command returns for a usage error it finds (a bad option value):
 * the exit status is then 2, as for the usage errors main() finds.  Any
 * other non-zero return (a negative errno) exits with 1.
 */
#define CLI_USAGE_ERROR 2

/* A subcommand's arguments once the global options are taken out. */
struct cli_args {
	int nflags;
	char **flags;			/* "-l", "--json", ... in order */
	int npos;
	char **pos;			/* positional arguments after the command */
	int nvals;
	const char **valnames;		/* options with a value: "--policy", ... */
	const char **vals;		/* and their values, in the same order */
};

/* ---- util.c ---------------------------------------------------------- */

/* Print "prog: fmt\n" on stderr. */
void cli_err(const struct cli_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print "prog: IMAGE: PATH: what: strerror(err)" on stderr; @path may be NULL. */
void cli_err_path(const struct cli_ctx *ctx, const char *path, size_t pathlen, const char *what,
		  int err);
/* The same for an error of a system call (strerror() text). */
void cli_err_path_sys(const struct cli_ctx *ctx, const char *path, size_t pathlen,
		      const char *what, int err);

/* Open @path (plus ctx->devices) with ctx->backend in a domain of its own. */
int cli_image_open(struct cli_ctx *ctx, const char *path);
/*
 * Attach @path to @d with ctx->backend and ctx->devices (with
 * @devices_if_needed, only if the image needs them); prints the error.
 */
int cli_image_attach(struct cli_ctx *ctx, eshare_domain *d, const char *path, eshare_image **out,
		     bool devices_if_needed);
void cli_image_close(struct cli_ctx *ctx);
/* Look up a path given on the command line; prints the error. */
int cli_lookup(struct cli_ctx *ctx, const char *path, eshare_inode **out);
/* eshare_stat() with the size field set; prints the error. */
int cli_stat(struct cli_ctx *ctx, eshare_inode *ino, const char *path, size_t pathlen,
	     struct eshare_stat *st);

void *cli_malloc(size_t n);
void *cli_realloc(void *p, size_t n);

/* A growable byte buffer (paths, formatted lines). */
struct cli_buf {
	char *p;
	size_t len, cap;
};
void cli_buf_reserve(struct cli_buf *b, size_t extra);
void cli_buf_add(struct cli_buf *b, const void *data, size_t len);
void cli_buf_addc(struct cli_buf *b, char c);
void cli_buf_addf(struct cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_buf_free(struct cli_buf *b);

/*
 * Escape bytes as the manifest does: \\ \t \n \r, other control bytes, 0x7f
 * and bytes outside valid UTF-8 as \xNN, plus every byte of @extra as \xNN.
 */
void cli_escape(struct cli_buf *b, const char *s, size_t len, const char *extra);
/* Write a JSON string literal (invalid UTF-8 bytes become U+FFFD). */
void cli_json_str(FILE *f, const char *s, size_t len);
/* Is @s (len bytes) valid UTF-8 with no NUL? */
bool cli_valid_utf8(const char *s, size_t len);
/* Write all of @len bytes to @fd; returns 0 or -errno. */
int cli_write_all(int fd, const void *buf, size_t len);

/* "reg", "dir", "lnk", "chr", "blk", "fifo", "sock" or "?" */
const char *cli_type_name(uint32_t mode);
/* "drwxr-xr-x" style, 10 characters plus NUL. */
void cli_mode_string(uint32_t mode, char out[11]);
/* "2023-11-14 22:13:20.000000000 +0000" (UTC). */
void cli_time_string(int64_t sec, uint32_t nsec, char *out, size_t len);

/* The complete target of a symlink (malloc'ed, NUL-terminated); prints errors. */
int cli_readlink(struct cli_ctx *ctx, eshare_inode *ino, const char *path, size_t pathlen,
		 char **out, size_t *outlen);

/* All xattrs of an inode, names sorted by their bytes. */
struct cli_xattr {
	char *name;			/* NUL-terminated */
	size_t namelen;
	char *value;
	size_t vlen;
};
struct cli_xattrs {
	struct cli_xattr *v;
	size_t n;
	char *names;			/* backing store of the names */
};
int cli_xattrs_get(struct cli_ctx *ctx, eshare_inode *ino, const char *path, size_t pathlen,
		   struct cli_xattrs *out);
void cli_xattrs_free(struct cli_xattrs *x);

/* ino -> index map, for hardlink detection. */
struct cli_inomap {
	uint64_t *keys;
	size_t *vals;
	size_t cap, n;
};
/* Return the value of @key or insert @val and return SIZE_MAX. */
size_t cli_inomap_get_or_put(struct cli_inomap *m, uint64_t key, size_t val);
/* The value of @key, or SIZE_MAX. */
size_t cli_inomap_get(const struct cli_inomap *m, uint64_t key);
/* Count @key: its value goes up by one (from 1 when new). */
void cli_inomap_add(struct cli_inomap *m, uint64_t key);
void cli_inomap_free(struct cli_inomap *m);

/* ---- walking --------------------------------------------------------- */

/*
 * A visit callback of cli_walk() returns 0 to go on, ESC_WALK_SKIP not to
 * enter a directory, ESC_WALK_STOP to end the walk (the directories already
 * entered still get their post call), or a negative errno for a bad entry:
 * the callback has reported it, the walk remembers the first such error,
 * does not enter the entry and goes on with the next one.
 */
typedef int (*cli_visit_fn)(void *user, const struct esc_entry *e);

/* cli_walk() flag: print nothing (besides ESC_WALK_PATH_ORDER). */
#define CLI_WALK_QUIET 0x10000u

/*
 * esc_walk() from @start (whose path is @path): @pre for every entry, @post
 * (may be NULL) for every directory after its contents.  Each directory
 * inode is entered once per walk (ESC_WALK_DIRS_ONCE).  A bad entry or an
 * unreadable directory is reported, skipped, and the walk goes on; it
 * returns 0 or the first error met.
 */
int cli_walk(struct cli_ctx *ctx, eshare_inode *start, const char *path, cli_visit_fn pre,
	     cli_visit_fn post, void *user, unsigned flags);

/* ---- subcommands ------------------------------------------------------ */

int cmd_info(struct cli_ctx *ctx, struct cli_args *a);
int cmd_ls(struct cli_ctx *ctx, struct cli_args *a);
int cmd_stat(struct cli_ctx *ctx, struct cli_args *a);
int cmd_cat(struct cli_ctx *ctx, struct cli_args *a);
int cmd_xattr(struct cli_ctx *ctx, struct cli_args *a);
int cmd_extract(struct cli_ctx *ctx, struct cli_args *a);
int cmd_manifest(struct cli_ctx *ctx, struct cli_args *a);
/* cmd_domain.c; domain opens its images itself (ctx->image is NULL). */
int cmd_domain(struct cli_ctx *ctx, struct cli_args *a);
int cmd_fingerprint(struct cli_ctx *ctx, struct cli_args *a);

/* Print a command's usage to @f (NULL name: the general usage). */
void cli_usage(FILE *f, const char *prog, const char *cmd);
bool cli_has_flag(const struct cli_args *a, const char *flag);
/* The value of the last "--opt VALUE" given for @name, or NULL. */
const char *cli_opt_value(const struct cli_args *a, const char *name);

#endif
