// SPDX-License-Identifier: MIT
/*
 * erofs-share manifest: the tree in exactly the format of
 * `treecmp.py --list` (tests/fixtures/README.md, "Manifest format"), so
 * that the library's view of an image can be diffed byte for byte against
 * the kernel's.
 *
 * The rows stream out as the walk meets them: the walk goes in the byte
 * order of the full paths (ESC_WALK_PATH_ORDER), so nothing is sorted and
 * memory does not grow with the number of paths.  A first, quiet walk
 * counts the paths of each non-directory inode (a hardlink group is an
 * inode met under several paths); both walks take the same course.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "cli.h"

/* treecmp.py's COLUMNS, joined the way it joins them. */
static const char header[] = "# path\ttype\tmode\tuid\tgid\tsize\tmtime_sec\tmtime_nsec\tnlink\t"
			     "rdev\ttarget\tsha256\txattrs\thardlink";

struct manifest {
	struct cli_ctx *ctx;
	struct cli_inomap paths;	/* non-directory ino -> number of its paths */
	struct cli_inomap groups;	/* ino -> its hardlink group number */
	size_t ngroups;
	size_t n;			/* rows printed */
	int err;			/* the first entry that could not be read */
	char *buf;			/* read buffer for contents */
	EVP_MD_CTX *md;
	struct cli_buf esc;		/* scratch: an escaped path */
	bool json;			/* manifest --json */
};

#define READ_SIZE (1u << 20)

static void hex_add(struct cli_buf *b, const unsigned char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	cli_buf_reserve(b, len * 2);
	for (i = 0; i < len; i++) {
		b->p[b->len++] = digits[p[i] >> 4];
		b->p[b->len++] = digits[p[i] & 15];
	}
	b->p[b->len] = '\0';
}

static int sha256_begin(struct manifest *m)
{
	return EVP_DigestInit_ex(m->md, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
}

static int sha256_end(struct manifest *m, struct cli_buf *b)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;

	if (EVP_DigestFinal_ex(m->md, d, &dl) != 1)
		return -ENOMEM;
	hex_add(b, d, dl);
	return 0;
}

/* sha256 of a regular file's content, which must be exactly st->file_size bytes. */
static int content_sha(struct manifest *m, const struct esc_entry *n, struct cli_buf *b)
{
	uint64_t off = 0, size = n->st->file_size;
	int ret = sha256_begin(m);

	/* read once: decode into our buffer, not into the domain's cache */
	eshare_inode_advise(n->ino, ESHARE_ADVICE_NOREUSE);

	if (ret)
		goto fail;
	while (off < size) {
		size_t want = size - off < READ_SIZE ? (size_t)(size - off) : READ_SIZE;
		ssize_t got = eshare_pread(n->ino, m->buf, want, off);

		if (got < 0) {
			ret = (int)got;
			goto fail;
		}
		if (got == 0) {
			/* The library's own size says there is more: report, never guess. */
			cli_err_path(m->ctx, n->path, n->pathlen, "read: file ends early", -EIO);
			return -EIO;
		}
		if (EVP_DigestUpdate(m->md, m->buf, (size_t)got) != 1) {
			ret = -ENOMEM;
			goto fail;
		}
		off += (uint64_t)got;
	}
	ret = sha256_end(m, b);
	if (!ret)
		return 0;
fail:
	cli_err_path(m->ctx, n->path, n->pathlen, "read", ret);
	return ret;
}

/* treecmp.py fmt_xval(): short values in hex, long ones by length and sha256. */
static int xattr_value(struct manifest *m, const struct cli_xattr *x, struct cli_buf *b)
{
	int ret;

	if (x->vlen <= 64) {
		cli_buf_add(b, "hex:", 4);
		hex_add(b, (const unsigned char *)x->value, x->vlen);
		return 0;
	}
	cli_buf_addf(b, "len:%zu:sha256:", x->vlen);
	ret = sha256_begin(m);
	if (!ret && EVP_DigestUpdate(m->md, x->value, x->vlen) != 1)
		ret = -ENOMEM;
	if (!ret)
		ret = sha256_end(m, b);
	return ret;
}

/*
 * manifest --json: the row as one object, keyed by the header's names;
 * "-" is null, the numeric columns are numbers, the path as ls --json
 * gives it, the rest strings as the text form writes them.
 */
static void print_json_row(struct manifest *m, const struct esc_entry *n, const char *row)
{
	static const char *const keys[] = { "path", "type", "mode", "uid", "gid", "size",
					    "mtime_sec", "mtime_nsec", "nlink", "rdev", "target",
					    "sha256", "xattrs", "hardlink" };
	static const unsigned char numeric[] = { 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0 };
	const char *p = row;

	printf("%s\n  {", m->n ? "," : "");
	for (size_t k = 0; *p && *p != '\n'; k++) {
		size_t len = strcspn(p, "\t\n");

		if (k == 0) {
			/* the path as it is, as ls --json gives it */
			fputs("\"path\": ", stdout);
			cli_json_str(stdout, n->path, n->pathlen);
			if (!cli_valid_utf8(n->path, n->pathlen)) {
				fputs(", \"path_hex\": \"", stdout);
				for (size_t i = 0; i < n->pathlen; i++)
					printf("%02x", (unsigned char)n->path[i]);
				putchar('"');
			}
		} else if (k < sizeof(keys) / sizeof(keys[0])) {
			printf(", \"%s\": ", keys[k]);
			if (len == 1 && *p == '-')
				fputs("null", stdout);
			else if (numeric[k] && strspn(p, "0123456789") == len)
				fwrite(p, 1, len, stdout);
			else
				cli_json_str(stdout, p, len);
		} else {
			/* an unreadable entry: ERROR and the reason */
			printf(", \"error\": ");
			cli_json_str(stdout, p, len);
		}
		p += len;
		if (*p == '\t')
			p++;
	}
	putchar('}');
}

/* One row: the path, @cols (each after a TAB) and the hardlink column. */
static void print_row(struct manifest *m, const struct esc_entry *n, const char *cols, bool error)
{
	size_t count = 0, g;
	FILE *out = stdout;
	char *row = NULL;
	size_t rowlen = 0;

	if (m->json && !(out = open_memstream(&row, &rowlen)))
		abort();
	m->esc.len = 0;
	cli_escape(&m->esc, n->path, n->pathlen, NULL);
	fputs(m->esc.p, out);
	fputs(cols, out);
	if (!error && !S_ISDIR(n->st->mode))
		count = cli_inomap_get(&m->paths, n->st->ino);
	if (error) {
		putc('\n', out);
	} else if (count != SIZE_MAX && count > 1) {
		/* Groups are numbered in listing order of their first path. */
		g = cli_inomap_get_or_put(&m->groups, n->st->ino, m->ngroups + 1);
		if (g == SIZE_MAX)
			g = ++m->ngroups;
		fprintf(out, "\th%zu\n", g);
	} else {
		fputs("\t-\n", out);
	}
	if (m->json) {
		if (fclose(out))
			abort();
		print_json_row(m, n, row);
		free(row);
	}
	m->n++;
}

/* The first walk: count the paths of each non-directory inode. */
static int count_visit(void *user, const struct esc_entry *n)
{
	struct manifest *m = user;

	if (!S_ISDIR(n->st->mode))
		cli_inomap_add(&m->paths, n->st->ino);
	return 0;
}

static int manifest_visit(void *user, const struct esc_entry *n)
{
	struct manifest *m = user;
	const struct eshare_stat *st = n->st;
	struct cli_buf b = { 0 };
	struct cli_xattrs x;
	int64_t sec = st->mtime_sec;
	uint32_t nsec = st->mtime_nsec;
	size_t i;
	int ret;

	/* treecmp takes divmod(st_mtime_ns, 10**9): normalise like that. */
	if (nsec >= 1000000000u) {
		sec += nsec / 1000000000u;
		nsec %= 1000000000u;
	}
	cli_buf_addf(&b, "\t%s\t%04o\t%u\t%u\t", cli_type_name(st->mode), st->mode & 07777,
		     st->uid, st->gid);
	if (S_ISDIR(st->mode))
		cli_buf_addc(&b, '-');
	else
		cli_buf_addf(&b, "%llu", (unsigned long long)st->file_size);
	cli_buf_addf(&b, "\t%lld\t%u\t%u\t", (long long)sec, nsec, st->nlink);
	if (S_ISCHR(st->mode) || S_ISBLK(st->mode))
		cli_buf_addf(&b, "%u:%u\t", st->rdev_major, st->rdev_minor);
	else
		cli_buf_add(&b, "-\t", 2);
	if (S_ISLNK(st->mode)) {
		char *target;
		size_t tlen;

		ret = cli_readlink(m->ctx, n->ino, n->path, n->pathlen, &target, &tlen);
		if (ret)
			goto fail;
		cli_escape(&b, target, tlen, NULL);
		free(target);
		cli_buf_addc(&b, '\t');
	} else {
		cli_buf_add(&b, "-\t", 2);
	}
	if (S_ISREG(st->mode)) {
		ret = content_sha(m, n, &b);
		if (ret)
			goto fail;
		cli_buf_addc(&b, '\t');
	} else {
		cli_buf_add(&b, "-\t", 2);
	}
	ret = cli_xattrs_get(m->ctx, n->ino, n->path, n->pathlen, &x);
	if (ret)
		goto fail;
	for (i = 0; i < x.n && !ret; i++) {
		/*
		 * An image may hold one name twice (mkfs 1.9.3 adds
		 * trusted.overlay.origin to a whiteout's directory that already
		 * has it); the kernel lists both, treecmp keeps one (a dict).
		 */
		if (i && !strcmp(x.v[i].name, x.v[i - 1].name))
			continue;
		if (i)
			cli_buf_addc(&b, ';');
		cli_escape(&b, x.v[i].name, x.v[i].namelen, ";=");
		cli_buf_addc(&b, '=');
		ret = xattr_value(m, &x.v[i], &b);
	}
	if (!x.n)
		cli_buf_addc(&b, '-');
	cli_xattrs_free(&x);
	if (ret) {
		cli_err_path(m->ctx, n->path, n->pathlen, "sha256 of an xattr", ret);
		goto fail;
	}

	print_row(m, n, b.p, false);
	cli_buf_free(&b);
	return 0;
fail:
	/*
	 * Reported already: list the entry as treecmp lists what it cannot
	 * read, and go on (into a directory too: its entries may be fine).
	 */
	cli_buf_free(&b);
	cli_buf_addf(&b, "\tERROR\t%s", eshare_strerror(ret));
	print_row(m, n, b.p, true);
	cli_buf_free(&b);
	if (!m->err)
		m->err = ret;
	return S_ISDIR(st->mode) ? 0 : ret;
}

int cmd_manifest(struct cli_ctx *ctx, struct cli_args *a)
{
	struct manifest m = { .ctx = ctx };
	eshare_inode *root;
	int ret;

	ret = eshare_root(&root, ctx->image);
	if (ret) {
		cli_err_path(ctx, "/", 1, "root", ret);
		return ret;
	}
	m.md = EVP_MD_CTX_new();
	if (!m.md) {
		eshare_inode_put(root);
		cli_err(ctx, "cannot create a digest context");
		return -ENOMEM;
	}
	m.buf = cli_malloc(READ_SIZE);
	ctx->quiet_log = true;
	cli_walk(ctx, root, "/", count_visit, NULL, &m, ESC_WALK_PATH_ORDER | CLI_WALK_QUIET);
	ctx->quiet_log = false;
	/*
	 * What can be read is printed, bad entries as ERROR rows; the
	 * messages on stderr and the exit status say the manifest is partial.
	 */
	m.json = cli_has_flag(a, "--json");
	if (m.json)
		fputs("[", stdout);
	else
		printf("%s\n", header);
	ret = cli_walk(ctx, root, "/", manifest_visit, NULL, &m, ESC_WALK_PATH_ORDER);
	if (m.json)
		printf("%s]\n", m.n ? "\n" : "");
	else
		printf("# end: %zu paths\n", m.n);
	eshare_inode_put(root);
	if (!ret)
		ret = m.err;
	cli_inomap_free(&m.paths);
	cli_inomap_free(&m.groups);
	cli_buf_free(&m.esc);
	free(m.buf);
	EVP_MD_CTX_free(m.md);
	return ret;
}
