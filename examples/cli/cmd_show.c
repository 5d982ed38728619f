// SPDX-License-Identifier: MIT
/*
 * erofs-share read-only views: info, ls, stat, cat, xattr.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char *const layout_names[] = {
	"flat_plain", "compressed_full", "flat_inline", "compressed_compact", "chunk_based",
};

static const char *layout_name(unsigned layout)
{
	return layout < sizeof(layout_names) / sizeof(layout_names[0]) ? layout_names[layout] :
									 "unknown";
}

/* "/a/b" from "a//b/": one leading slash, no empty components. */
static void norm_path(struct cli_buf *b, const char *path)
{
	const char *p = path;

	while (*p) {
		const char *e;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchrnul(p, '/');
		cli_buf_addc(b, '/');
		cli_buf_add(b, p, (size_t)(e - p));
		p = e;
	}
	if (!b->len)
		cli_buf_addc(b, '/');
}

/* A JSON member "key": "string" with key_hex added when the bytes are not UTF-8. */
static void json_bytes_member(FILE *f, const char *key, const char *s, size_t len)
{
	size_t i;

	fprintf(f, "\"%s\": ", key);
	cli_json_str(f, s, len);
	if (cli_valid_utf8(s, len))
		return;
	fprintf(f, ", \"%s_hex\": \"", key);
	for (i = 0; i < len; i++)
		fprintf(f, "%02x", (unsigned char)s[i]);
	fputc('"', f);
}

static void print_uuid(FILE *f, const uint8_t *u)
{
	int i;

	for (i = 0; i < 16; i++)
		fprintf(f, "%02x%s", u[i], (i == 3 || i == 5 || i == 7 || i == 9) ? "-" : "");
}

int cmd_info(struct cli_ctx *ctx, struct cli_args *a)
{
	static const char *const algs[] = { "lz4", "lzma", "deflate", "zstd" };
	struct eshare_image_info info = ESHARE_IMAGE_INFO_INIT;
	bool json = cli_has_flag(a, "--json");
	char when[96], *feat, *tok, *save = NULL, probe[1];
	size_t flen;
	unsigned i;
	bool first = true;
	int ret;

	ret = eshare_image_info(ctx->image, &info);
	if (ret) {
		cli_err_path(ctx, NULL, 0, "image info", ret);
		return ret;
	}
	flen = eshare_image_features(ctx->image, probe, sizeof(probe));
	feat = cli_malloc(flen + 1);
	eshare_image_features(ctx->image, feat, flen + 1);
	cli_time_string(info.build_time, info.build_time_nsec, when, sizeof(when));
	if (json) {
		printf("{\"image\": ");
		cli_json_str(stdout, ctx->image_path, strlen(ctx->image_path));
		printf(", \"block_size\": %u, \"blocks\": %llu, \"inodes\": %llu, "
		       "\"root_ino\": %llu, \"uuid\": \"",
		       info.block_size, (unsigned long long)info.blocks,
		       (unsigned long long)info.inodes, (unsigned long long)info.root_ino);
		print_uuid(stdout, info.uuid);
		printf("\", ");
		json_bytes_member(stdout, "label", info.volume_name,
				  strnlen(info.volume_name, sizeof(info.volume_name)));
		printf(", \"build_time\": %lld, \"build_time_nsec\": %u, \"checksum\": %u, "
		       "\"feature_compat\": %u, \"feature_incompat\": %u, \"features\": [",
		       (long long)info.build_time, info.build_time_nsec, info.checksum,
		       info.feature_compat, info.feature_incompat);
		for (tok = strtok_r(feat, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			printf("%s", first ? "" : ", ");
			cli_json_str(stdout, tok, strlen(tok));
			first = false;
		}
		printf("], \"algorithms\": [");
		first = true;
		for (i = 0; i < 16; i++) {
			if (!(info.compr_algs & (1u << i)))
				continue;
			if (i < 4)
				printf("%s\"%s\"", first ? "" : ", ", algs[i]);
			else
				printf("%s\"algorithm-%u\"", first ? "" : ", ", i);
			first = false;
		}
		printf("], \"extra_devices\": %u, \"devices\": [", info.extra_devices);
		for (i = 0; i < ctx->ndevices; i++) {
			printf("%s", i ? ", " : "");
			cli_json_str(stdout, ctx->devices[i], strlen(ctx->devices[i]));
		}
		printf("], \"content_fingerprints\": %s, \"fingerprint_prefix_id\": %d}\n",
		       info.ishare_prefix_id >= 0 ? "true" : "false", info.ishare_prefix_id);
		free(feat);
		return 0;
	}
	printf("image:            %s\n", ctx->image_path);
	printf("block size:       %u\n", info.block_size);
	printf("blocks:           %llu\n", (unsigned long long)info.blocks);
	printf("inodes:           %llu\n", (unsigned long long)info.inodes);
	printf("root inode:       %llu\n", (unsigned long long)info.root_ino);
	printf("uuid:             ");
	print_uuid(stdout, info.uuid);
	{
		struct cli_buf label = { 0 };

		cli_escape(&label, info.volume_name,
			   strnlen(info.volume_name, sizeof(info.volume_name)), NULL);
		printf("\nlabel:            %s\n", label.p);
		cli_buf_free(&label);
	}
	printf("build time:       %lld.%09u (%s)\n", (long long)info.build_time,
	       info.build_time_nsec, when);
	if (info.feature_compat & 0x1)
		printf("checksum:         0x%08x\n", info.checksum);
	else
		printf("checksum:         none\n");
	printf("feature_compat:   0x%08x\n", info.feature_compat);
	printf("feature_incompat: 0x%08x\n", info.feature_incompat);
	printf("features:         %s\n", feat);
	printf("algorithms:      ");
	for (i = 0; i < 16; i++) {
		if (!(info.compr_algs & (1u << i)))
			continue;
		if (i < 4)
			printf(" %s", algs[i]);
		else
			printf(" algorithm-%u", i);
		first = false;
	}
	printf("%s\n", first ? " none" : "");
	printf("extra devices:    %u\n", info.extra_devices);
	for (i = 0; i < ctx->ndevices; i++)
		printf("device %u:         %s\n", i + 1, ctx->devices[i]);
	/* the ishare xattr (mkfs.erofs --xattr-inode-digest), in words */
	if (info.ishare_prefix_id >= 0)
		printf("content fingerprints: yes (a sha256 xattr on each file, long xattr prefix "
		       "%d):\n  files of equal content share one cached copy by them, believed "
		       "(policy trust,\n  as the kernel does) or once a file's bytes hashed to "
		       "its own (verify, the default)\n", info.ishare_prefix_id);
	else
		printf("content fingerprints: no: to share, the library hashes the files whose size "
		       "another\n  file has (any policy but off)\n");
	free(feat);
	return 0;
}

/* ---- ls ----------------------------------------------------------------- */

/* An ls -l row, kept until the listing is whole to size the columns. */
struct ls_row {
	char mode[11];
	char nlink[12], uid[12], gid[12], size[48];
	char *rest;		/* mtime, name and link target */
};

struct ls_state {
	struct cli_ctx *ctx;
	bool longfmt, recursive, json;
	bool first;		/* nothing printed yet */
	int err;		/* the first error of a listing */
	struct ls_row *rows;	/* ls -l: the rows of the listing so far */
	size_t nrows, crows;
};

/* Print the ls -l rows kept, each column as wide as its widest value. */
static void ls_flush(struct ls_state *s)
{
	int w[4] = { 0, 0, 0, 0 };
	size_t i;

	for (i = 0; i < s->nrows; i++) {
		const char *f[4] = { s->rows[i].nlink, s->rows[i].uid, s->rows[i].gid,
				     s->rows[i].size };

		for (int k = 0; k < 4; k++)
			if ((int)strlen(f[k]) > w[k])
				w[k] = (int)strlen(f[k]);
	}
	for (i = 0; i < s->nrows; i++) {
		struct ls_row *r = &s->rows[i];

		printf("%s %*s %-*s %-*s %*s %s\n", r->mode, w[0], r->nlink, w[1], r->uid, w[2],
		       r->gid, w[3], r->size, r->rest);
		free(r->rest);
	}
	s->nrows = 0;
}

/* One entry: a long or short line, or a JSON object. */
static int ls_entry(struct ls_state *s, eshare_inode *ino, const struct eshare_stat *st,
		    const char *path, size_t pathlen, const char *name, size_t namelen)
{
	bool lnk = S_ISLNK(st->mode), dev = S_ISCHR(st->mode) || S_ISBLK(st->mode);
	char *target = NULL;
	size_t tlen = 0;
	int ret;

	if (lnk && (s->longfmt || s->json)) {
		ret = cli_readlink(s->ctx, ino, path, pathlen, &target, &tlen);
		if (ret)
			return ret;
	}
	if (s->json) {
		printf("%s\n  {", s->first ? "" : ",");
		json_bytes_member(stdout, "path", path, pathlen);
		printf(", ");
		json_bytes_member(stdout, "name", name, namelen);
		printf(", \"type\": \"%s\", \"mode\": \"%04o\", \"ino\": %llu, \"nlink\": %u, "
		       "\"uid\": %u, \"gid\": %u, \"size\": %llu, \"mtime_sec\": %lld, "
		       "\"mtime_nsec\": %u",
		       cli_type_name(st->mode), st->mode & 07777, (unsigned long long)st->ino,
		       st->nlink, st->uid, st->gid, (unsigned long long)st->file_size,
		       (long long)st->mtime_sec, st->mtime_nsec);
		if (dev)
			printf(", \"rdev_major\": %u, \"rdev_minor\": %u", st->rdev_major,
			       st->rdev_minor);
		if (lnk) {
			printf(", ");
			json_bytes_member(stdout, "target", target, tlen);
		}
		printf("}");
	} else {
		struct cli_buf b = { 0 };

		struct ls_row *r = NULL;

		if (s->longfmt) {
			char when[96];

			if (s->nrows == s->crows) {
				s->crows = s->crows ? s->crows * 2 : 64;
				s->rows = realloc(s->rows, s->crows * sizeof(*s->rows));
				if (!s->rows)
					abort();
			}
			r = &s->rows[s->nrows++];
			cli_mode_string(st->mode, r->mode);
			snprintf(r->nlink, sizeof(r->nlink), "%u", st->nlink);
			snprintf(r->uid, sizeof(r->uid), "%u", st->uid);
			snprintf(r->gid, sizeof(r->gid), "%u", st->gid);
			if (dev)
				snprintf(r->size, sizeof(r->size), "%u, %u", st->rdev_major,
					 st->rdev_minor);
			else
				snprintf(r->size, sizeof(r->size), "%llu",
					 (unsigned long long)st->file_size);
			cli_time_string(st->mtime_sec, st->mtime_nsec, when, sizeof(when));
			cli_buf_addf(&b, "%s ", when);
		}
		cli_escape(&b, name, namelen, NULL);
		if (lnk && s->longfmt) {
			cli_buf_add(&b, " -> ", 4);
			cli_escape(&b, target, tlen, NULL);
		}
		if (r) {
			r->rest = b.p ? b.p : strdup("");
			b.p = NULL;
		} else {
			printf("%s\n", b.p);
		}
		cli_buf_free(&b);
	}
	s->first = false;
	free(target);
	return 0;
}

/*
 * Every entry of one directory, each looked up and stat'ed, read a batch at
 * a time.  A bad entry is reported and skipped; the first error is
 * returned.  A readdir error is printed unless @quiet_readdir (ls -R: the
 * walk reports it when it reads the directory itself).
 */
static int ls_dir(struct ls_state *s, eshare_inode *dir, const char *path, size_t pathlen,
		  bool quiet_readdir)
{
	struct cli_buf child = { 0 };
	struct esc_dirstream *ds = cli_malloc(sizeof(*ds));
	const struct esc_dirent *e;
	int ret, first = 0;

	esc_dirstream_open(ds, dir, 0);
	while ((ret = esc_dirstream_next(ds, &e)) > 0) {
		struct eshare_stat st;
		eshare_inode *ino;

		child.len = 0;
		cli_buf_add(&child, path, pathlen);
		if (pathlen != 1 || path[0] != '/')
			cli_buf_addc(&child, '/');
		cli_buf_add(&child, e->name, e->namelen);
		ret = eshare_lookup_at(&ino, dir, e->name, e->namelen);
		if (ret) {
			cli_err_path(s->ctx, child.p, child.len, "lookup", ret);
		} else {
			ret = cli_stat(s->ctx, ino, child.p, child.len, &st);
			if (!ret)
				ret = ls_entry(s, ino, &st, child.p, child.len, e->name, e->namelen);
			eshare_inode_put(ino);
		}
		if (ret && !first)
			first = ret;
	}
	if (ret < 0) {
		if (!quiet_readdir)
			cli_err_path(s->ctx, path, pathlen, "readdir", ret);
		if (!first)
			first = ret;
	}
	ls_flush(s);
	cli_buf_free(&child);
	free(ds);
	return first;
}

/* ls -R: each directory's listing under a "path:" header, depth first. */
static int ls_walk_pre(void *user, const struct esc_entry *n)
{
	struct ls_state *s = user;
	int ret;

	if (!S_ISDIR(n->st->mode))
		return 0;
	if (!s->json) {
		struct cli_buf b = { 0 };

		cli_escape(&b, n->path, n->pathlen, NULL);
		printf("%s%s:\n", s->first ? "" : "\n", b.p);
		cli_buf_free(&b);
		s->first = false;
	}
	/* A bad entry in the listing does not keep the walk out of the directory. */
	ret = ls_dir(s, n->ino, n->path, n->pathlen, true);
	if (ret && !s->err)
		s->err = ret;
	return 0;
}

int cmd_ls(struct cli_ctx *ctx, struct cli_args *a)
{
	struct ls_state s = { .ctx = ctx, .longfmt = cli_has_flag(a, "-l"),
			      .recursive = cli_has_flag(a, "-R"),
			      .json = cli_has_flag(a, "--json"), .first = true };
	struct cli_buf path = { 0 };
	struct eshare_stat st;
	eshare_inode *ino;
	const char *name;
	int ret;

	norm_path(&path, a->npos > 1 ? a->pos[1] : "/");
	ret = cli_lookup(ctx, path.p, &ino);
	if (ret)
		goto out;
	ret = cli_stat(ctx, ino, path.p, path.len, &st);
	if (ret)
		goto put;
	if (s.json)
		printf("[");
	if (!S_ISDIR(st.mode)) {
		name = strrchr(path.p, '/') + 1;
		ret = ls_entry(&s, ino, &st, path.p, path.len, name, strlen(name));
		ls_flush(&s);
	} else if (s.recursive) {
		ret = cli_walk(ctx, ino, path.p, ls_walk_pre, NULL, &s, 0);
		if (!ret)
			ret = s.err;
	} else {
		ret = ls_dir(&s, ino, path.p, path.len, false);
	}
	if (s.json)
		printf("%s]\n", s.first ? "" : "\n");
	free(s.rows);
put:
	eshare_inode_put(ino);
out:
	cli_buf_free(&path);
	return ret;
}

/* ---- stat ----------------------------------------------------------------- */

int cmd_stat(struct cli_ctx *ctx, struct cli_args *a)
{
	bool json = cli_has_flag(a, "--json");
	struct cli_buf path = { 0 }, esc = { 0 };
	struct eshare_stat st;
	char mode[11], when[96];
	eshare_inode *ino;
	int ret;

	norm_path(&path, a->pos[1]);
	ret = cli_lookup(ctx, path.p, &ino);
	if (ret)
		goto out;
	ret = cli_stat(ctx, ino, path.p, path.len, &st);
	eshare_inode_put(ino);
	if (ret)
		goto out;
	cli_mode_string(st.mode, mode);
	cli_time_string(st.mtime_sec, st.mtime_nsec, when, sizeof(when));
	if (json) {
		printf("{");
		json_bytes_member(stdout, "path", path.p, path.len);
		printf(", \"type\": \"%s\", \"mode\": \"%04o\", \"ino\": %llu, "
		       "\"nid\": %llu, \"nlink\": %u, \"uid\": %u, \"gid\": %u, "
		       "\"rdev_major\": %u, \"rdev_minor\": %u, \"size\": %llu, "
		       "\"blocks\": %llu, \"blksize\": %u, \"mtime_sec\": %lld, "
		       "\"mtime_nsec\": %u, \"layout\": %u, \"layout_name\": \"%s\"}\n",
		       cli_type_name(st.mode), st.mode & 07777, (unsigned long long)st.ino,
		       (unsigned long long)st.nid, st.nlink, st.uid, st.gid, st.rdev_major,
		       st.rdev_minor, (unsigned long long)st.file_size,
		       (unsigned long long)st.blocks, st.blksize, (long long)st.mtime_sec,
		       st.mtime_nsec, st.layout, layout_name(st.layout));
		goto out;
	}
	cli_escape(&esc, path.p, path.len, NULL);
	printf("  path:    %s\n", esc.p);
	printf("  type:    %s\n", cli_type_name(st.mode));
	printf("  mode:    0%06o (%s)\n", st.mode, mode);
	printf("  ino:     %llu\n", (unsigned long long)st.ino);
	printf("  nid:     %llu\n", (unsigned long long)st.nid);
	printf("  nlink:   %u\n", st.nlink);
	printf("  uid:     %u\n", st.uid);
	printf("  gid:     %u\n", st.gid);
	printf("  rdev:    %u:%u\n", st.rdev_major, st.rdev_minor);
	printf("  size:    %llu\n", (unsigned long long)st.file_size);
	printf("  blocks:  %llu (512-byte units)\n", (unsigned long long)st.blocks);
	printf("  blksize: %u\n", st.blksize);
	printf("  mtime:   %lld.%09u (%s)\n", (long long)st.mtime_sec, st.mtime_nsec, when);
	printf("  layout:  %u (%s)\n", st.layout, layout_name(st.layout));
out:
	cli_buf_free(&esc);
	cli_buf_free(&path);
	return ret;
}

/* ---- cat ------------------------------------------------------------------ */

int cmd_cat(struct cli_ctx *ctx, struct cli_args *a)
{
	const size_t bufsz = 1u << 20;
	struct cli_buf path = { 0 };
	struct eshare_stat st;
	eshare_inode *ino;
	uint64_t off = 0;
	char *buf = NULL;
	int ret;

	norm_path(&path, a->pos[1]);
	ret = cli_lookup(ctx, path.p, &ino);
	if (ret)
		goto out;
	ret = cli_stat(ctx, ino, path.p, path.len, &st);
	if (!ret && !S_ISREG(st.mode)) {
		ret = S_ISDIR(st.mode) ? -EISDIR : -EINVAL;
		cli_err_path(ctx, path.p, path.len, "not a regular file", ret);
	}
	if (ret) {
		eshare_inode_put(ino);
		goto out;
	}
	buf = cli_malloc(bufsz);
	for (;;) {
		ssize_t n = eshare_pread(ino, buf, bufsz, off);

		if (n < 0) {
			ret = (int)n;
			cli_err_path(ctx, path.p, path.len, "read", ret);
			break;
		}
		if (!n)
			break;
		ret = cli_write_all(STDOUT_FILENO, buf, (size_t)n);
		if (ret) {
			cli_err(ctx, "write error on stdout: %s", strerror(-ret));
			break;
		}
		off += (uint64_t)n;
	}
	eshare_inode_put(ino);
out:
	free(buf);
	cli_buf_free(&path);
	return ret;
}

/* ---- xattr ---------------------------------------------------------------- */

int cmd_xattr(struct cli_ctx *ctx, struct cli_args *a)
{
	bool json = cli_has_flag(a, "--json");
	struct cli_buf path = { 0 }, line = { 0 };
	struct cli_xattrs x;
	eshare_inode *ino;
	size_t i, k;
	int ret;

	norm_path(&path, a->pos[1]);
	ret = cli_lookup(ctx, path.p, &ino);
	if (ret)
		goto out;
	ret = cli_xattrs_get(ctx, ino, path.p, path.len, &x);
	eshare_inode_put(ino);
	if (ret)
		goto out;
	if (json)
		printf("[");
	for (i = 0; i < x.n; i++) {
		const unsigned char *v = (const unsigned char *)x.v[i].value;
		bool text = true;

		for (k = 0; k < x.v[i].vlen; k++)
			if (v[k] < 0x20 || v[k] > 0x7e)
				text = false;
		if (json) {
			/* {"name", and "value" when printable ASCII, else "hex"} */
			printf("%s\n  {", i ? "," : "");
			json_bytes_member(stdout, "name", x.v[i].name, x.v[i].namelen);
			printf(", \"%s\": \"", text ? "value" : "hex");
			if (text) {
				for (k = 0; k < x.v[i].vlen; k++) {
					if (v[k] == '"' || v[k] == '\\')
						putchar('\\');
					putchar(v[k]);
				}
			} else {
				for (k = 0; k < x.v[i].vlen; k++)
					printf("%02x", v[k]);
			}
			printf("\"}");
			continue;
		}
		line.len = 0;
		cli_escape(&line, x.v[i].name, x.v[i].namelen, "=");
		cli_buf_addc(&line, '=');
		if (text) {
			cli_buf_add(&line, v, x.v[i].vlen);
		} else {
			cli_buf_add(&line, "hex:", 4);
			for (k = 0; k < x.v[i].vlen; k++)
				cli_buf_addf(&line, "%02x", v[k]);
		}
		printf("%s\n", line.p);
	}
	if (json)
		printf("%s]\n", x.n ? "\n" : "");
	cli_xattrs_free(&x);
out:
	cli_buf_free(&line);
	cli_buf_free(&path);
	return ret;
}
