// SPDX-License-Identifier: MIT
/*
 * erofs-share domain: what sharing buys.  Several images go into one
 * domain, every regular file of each is read in full (as containers
 * started from those images would), and the domain's counters are printed
 * next to the limit sharing can reach: the distinct contents read, in
 * whole pages.
 *
 * erofs-share fingerprint: the content fingerprint of regular files, in
 * the form the library computes and the ishare xattr stores.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "cli.h"

#define READ_SIZE (256u << 10)
#define PAGE_SIZE_CACHE 4096u
#define MAX_THREADS 256u
#define DEFAULT_CACHE (256ull << 20)
#define DIGEST_LEN 32

static const char *const policy_names[] = {
	[ESHARE_SHARE_OFF] = "off",
	[ESHARE_SHARE_TRUST] = "trust",
	[ESHARE_SHARE_VERIFY] = "verify",
	[ESHARE_SHARE_COMPUTE] = "compute",
};

/* One (image, path) of the work queue. */
struct item {
	unsigned img;
	char *path;
	size_t pathlen;
	uint64_t ino;		/* opened again by the reader: no reference held */
	uint64_t size;
	int err;
	unsigned char digest[DIGEST_LEN];
};

struct dom {
	struct cli_ctx *ctx;
	struct cli_ctx *ictx;	/* one per image: messages name their image */
	unsigned nimgs;
	unsigned cur;		/* image being walked */
	struct item *v;
	size_t n, cap;
	atomic_size_t next;	/* the queue's head */
};

static void log_to_stderr(void *user, int level, const char *msg)
{
	const struct cli_ctx *ctx = user;

	/* Warnings tell why a later error happened, or that a file stayed private. */
	if (level <= ESHARE_LOG_WARNING && !ctx->quiet_log)
		fprintf(stderr, "%s: (domain): %s\n", ctx->prog, msg);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hex_str(const unsigned char *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

/*
 * Read all @size bytes of @ino into a sha256.  Returns 0 or -errno, with
 * *what saying what failed.
 */
static int read_hash(eshare_inode *ino, uint64_t size, EVP_MD_CTX *md, char *buf,
		     unsigned char digest[DIGEST_LEN], const char **what)
{
	unsigned int dl = 0;
	uint64_t off = 0;

	*what = "read";
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	while (off < size) {
		size_t want = size - off < READ_SIZE ? (size_t)(size - off) : READ_SIZE;
		ssize_t got = eshare_pread(ino, buf, want, off);

		if (got < 0)
			return (int)got;
		if (got == 0) {
			/* The library's own size says there is more: report, never guess. */
			*what = "read: file ends early";
			return -EIO;
		}
		if ((size_t)got > want) {
			*what = "read: more bytes than asked";
			return -EIO;
		}
		if (EVP_DigestUpdate(md, buf, (size_t)got) != 1)
			return -ENOMEM;
		off += (uint64_t)got;
	}
	if (EVP_DigestFinal_ex(md, digest, &dl) != 1 || dl != DIGEST_LEN)
		return -ENOMEM;
	return 0;
}

/* ---- domain ----------------------------------------------------------- */

static int collect_visit(void *user, const struct cli_node *n)
{
	struct dom *dm = user;
	struct item *it;

	if (!S_ISREG(n->st->mode))
		return 0;
	if (dm->n == dm->cap) {
		dm->cap = dm->cap ? dm->cap * 2 : 1024;
		dm->v = cli_realloc(dm->v, dm->cap * sizeof(*dm->v));
	}
	it = &dm->v[dm->n++];
	memset(it, 0, sizeof(*it));
	it->img = dm->cur;
	it->path = cli_malloc(n->pathlen + 1);
	memcpy(it->path, n->path, n->pathlen + 1);
	it->pathlen = n->pathlen;
	/*
	 * The inode number, not a reference: a queue of millions of paths
	 * (an image may name one file millions of times) must not pin as
	 * many inodes.
	 */
	it->ino = n->st->ino;
	it->size = n->st->file_size;
	return 0;
}

/* A reader thread: takes (image, path) items off the queue until it is empty. */
static void *reader(void *arg)
{
	struct dom *dm = arg;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *buf = cli_malloc(READ_SIZE);

	for (;;) {
		size_t i = atomic_fetch_add(&dm->next, 1);
		struct item *it;
		const char *what = "read";

		if (i >= dm->n)
			break;
		it = &dm->v[i];
		if (!md) {
			it->err = -ENOMEM;
			what = "cannot create a digest context";
		} else {
			eshare_inode *ino;

			it->err = eshare_inode_open(&ino, dm->ictx[it->img].image, it->ino);
			if (it->err) {
				what = "open";
			} else {
				it->err = read_hash(ino, it->size, md, buf, it->digest, &what);
				eshare_inode_put(ino);
			}
		}
		if (it->err)
			cli_err_path(&dm->ictx[it->img], it->path, it->pathlen, what, it->err);
	}
	EVP_MD_CTX_free(md);
	free(buf);
	return NULL;
}

static int parse_policy(const char *s, uint32_t *out)
{
	uint32_t i;

	for (i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++) {
		if (!strcmp(s, policy_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* "65536", "64K", "256M", "1G" (binary units). */
static int parse_bytes(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	}
	if (*end || (v << shift >> shift) != v)
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/*
 * Attach @path to @d.  Extra devices are given only to an image that needs
 * them (the attach without says -ENXIO): so `--device` can serve the one
 * multi-device image of a list without the others owning copies.
 */
static int attach_one(struct cli_ctx *ctx, eshare_domain *d, const char *path,
		      eshare_image **out)
{
	struct eshare_image_opts iopts = ESHARE_IMAGE_OPTS_INIT;
	eshare_backend *devs[CLI_MAX_DEVICES] = { 0 };
	eshare_backend *primary = NULL;
	unsigned i, opened = 0;
	int ret;

	ret = eshare_backend_open(&primary, ctx->backend, path);
	if (ret) {
		cli_err(ctx, "%s: cannot open with the %s backend: %s", path, ctx->backend,
			eshare_strerror(ret));
		return ret;
	}
	iopts.name = path;
	/* With devices to retry with, a first attach without them is a probe. */
	ctx->quiet_log = ctx->ndevices > 0;
	ret = eshare_image_attach(out, d, primary, &iopts);
	ctx->quiet_log = false;
	if (ret == -ENXIO && ctx->ndevices) {
		for (i = 0; i < ctx->ndevices; i++, opened++) {
			ret = eshare_backend_open(&devs[i], ctx->backend, ctx->devices[i]);
			if (ret) {
				cli_err(ctx, "%s: device %s: cannot open with the %s backend: %s",
					path, ctx->devices[i], ctx->backend, eshare_strerror(ret));
				goto fail;
			}
		}
		iopts.devices = devs;
		iopts.ndevices = ctx->ndevices;
		ret = eshare_image_attach(out, d, primary, &iopts);
	}
	if (!ret)
		return 0;
	cli_err(ctx, "%s: cannot open the image: %s", path, eshare_strerror(ret));
fail:
	/* attach failed: the backends are still ours. */
	for (i = 0; i < opened; i++)
		eshare_backend_close(devs[i]);
	eshare_backend_close(primary);
	return ret;
}

static int digest_cmp(const void *a, const void *b)
{
	const struct item *x = *(const struct item *const *)a, *y = *(const struct item *const *)b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return memcmp(x->digest, y->digest, DIGEST_LEN);
}

struct figures {
	uint64_t files, errors, unique_files, unique_bytes, unique_page_bytes;
	double wall_s;
	unsigned threads;
	uint32_t policy;
	uint64_t cache_bytes;
};

/*
 * The distinct (sha256, size) contents among the files read without error.
 * Empty files are left out: they have no pages to share.
 */
static void unique_contents(struct dom *dm, struct figures *fg)
{
	struct item **p = cli_malloc(dm->n * sizeof(*p));
	size_t i, k = 0;

	for (i = 0; i < dm->n; i++)
		if (!dm->v[i].err && dm->v[i].size)
			p[k++] = &dm->v[i];
	qsort(p, k, sizeof(*p), digest_cmp);
	for (i = 0; i < k; i++) {
		if (i && !digest_cmp(&p[i - 1], &p[i]))
			continue;
		fg->unique_files++;
		fg->unique_bytes += p[i]->size;
		fg->unique_page_bytes += (p[i]->size + PAGE_SIZE_CACHE - 1) / PAGE_SIZE_CACHE *
					 PAGE_SIZE_CACHE;
	}
	free(p);
}

/* "1.25 MiB (1310720 bytes)" */
static void fmt_bytes(char *out, size_t len, uint64_t v)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double x = (double)v;
	int u = -1;

	while (x >= 1024 && u < 3) {
		x /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(out, len, "%llu B", (unsigned long long)v);
	else
		snprintf(out, len, "%.2f %s (%llu bytes)", x, units[u], (unsigned long long)v);
}

static double hit_ratio(const struct eshare_stats *st)
{
	uint64_t all = st->hits + st->misses;

	return all ? (double)st->hits / (double)all : 0.0;
}

static void print_json(const struct eshare_stats *st, const struct figures *fg)
{
	printf("{\"images\": %llu, \"files\": %llu, \"errors\": %llu, \"policy\": \"%s\", "
	       "\"cache_bytes\": %llu, \"threads\": %u,\n",
	       (unsigned long long)st->images, (unsigned long long)fg->files,
	       (unsigned long long)fg->errors, policy_names[fg->policy],
	       (unsigned long long)fg->cache_bytes, fg->threads);
#define J(name, val) printf(" \"%s\": %llu,", name, (unsigned long long)(val))
	J("logical_bytes", st->logical_bytes);
	J("unique_files", fg->unique_files);
	J("unique_bytes", fg->unique_bytes);
	J("unique_page_bytes", fg->unique_page_bytes);
	printf("\n");
	J("cached_data_pages", st->cached_data_pages);
	J("cached_data_bytes", st->cached_data_bytes);
	J("cached_meta_pages", st->cached_meta_pages);
	J("cached_meta_bytes", st->cached_meta_bytes);
	printf("\n");
	J("shared_objects", st->shared_objects);
	J("shared_members", st->shared_members);
	J("hits", st->hits);
	J("misses", st->misses);
	J("fills", st->fills);
	J("evictions", st->evictions);
	printf("\n");
	J("backend_bytes_read", st->backend_bytes_read);
	J("decompressed_bytes", st->decompressed_bytes);
	J("hashed_bytes", st->hashed_bytes);
	J("verify_failures", st->verify_failures);
#undef J
	printf("\n \"hit_ratio\": %.6f, \"wall_s\": %.6f}\n", hit_ratio(st), fg->wall_s);
}

static void print_table(const struct eshare_stats *st, const struct figures *fg)
{
	char b[64];

#define ROW(label, ...)                       \
	do {                                  \
		printf("%-20s", label);       \
		printf(__VA_ARGS__);          \
		putchar('\n');                \
	} while (0)
#define BYTES(label, v)                       \
	do {                                  \
		fmt_bytes(b, sizeof(b), v);   \
		ROW(label, "%s", b);          \
	} while (0)
	ROW("images", "%llu", (unsigned long long)st->images);
	ROW("files read", "%llu (%llu errors)", (unsigned long long)fg->files,
	    (unsigned long long)fg->errors);
	ROW("policy", "%s", policy_names[fg->policy]);
	BYTES("cache budget", fg->cache_bytes);
	ROW("threads", "%u", fg->threads);
	BYTES("logical read", st->logical_bytes);
	ROW("distinct contents", "%llu non-empty", (unsigned long long)fg->unique_files);
	BYTES("unique bytes", fg->unique_bytes);
	BYTES("unique page bytes", fg->unique_page_bytes);
	fmt_bytes(b, sizeof(b), st->cached_data_bytes);
	ROW("cached data", "%s, %llu pages", b, (unsigned long long)st->cached_data_pages);
	fmt_bytes(b, sizeof(b), st->cached_meta_bytes);
	ROW("cached metadata", "%s, %llu pages", b, (unsigned long long)st->cached_meta_pages);
	ROW("shared objects", "%llu (%llu members)", (unsigned long long)st->shared_objects,
	    (unsigned long long)st->shared_members);
	ROW("hits", "%llu", (unsigned long long)st->hits);
	ROW("misses", "%llu", (unsigned long long)st->misses);
	ROW("hit ratio", "%.4f", hit_ratio(st));
	ROW("fills", "%llu", (unsigned long long)st->fills);
	ROW("evictions", "%llu", (unsigned long long)st->evictions);
	BYTES("backend read", st->backend_bytes_read);
	BYTES("decompressed", st->decompressed_bytes);
	BYTES("hashed", st->hashed_bytes);
	ROW("verify failures", "%llu", (unsigned long long)st->verify_failures);
	ROW("wall time", "%.3f s", fg->wall_s);
#undef BYTES
#undef ROW
}

/* Read every file of the queue with @nthreads threads, this one included. */
static unsigned read_all(struct dom *dm, unsigned nthreads)
{
	pthread_t *tids = cli_malloc(nthreads * sizeof(*tids));
	unsigned i, started = 0;

	for (i = 1; i < nthreads; i++, started++) {
		int err = pthread_create(&tids[started], NULL, reader, dm);

		if (err) {
			/* Fewer readers still read everything: say so and go on. */
			cli_err(dm->ctx, "domain: only %u of %u threads started: %s",
				started + 1, nthreads, strerror(err));
			break;
		}
	}
	reader(dm);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	return started + 1;
}

int cmd_domain(struct cli_ctx *ctx, struct cli_args *a)
{
	struct eshare_domain_opts dopts = ESHARE_DOMAIN_OPTS_INIT;
	struct eshare_stats st = ESHARE_STATS_INIT;
	struct figures fg = { .threads = 1, .policy = ESHARE_SHARE_VERIFY,
			      .cache_bytes = DEFAULT_CACHE };
	eshare_image **imgs;
	struct dom dm = { .ctx = ctx };
	eshare_domain *d = NULL;
	const char *v;
	double t0;
	unsigned i;
	size_t k;
	int ret = 0, r;

	if ((v = cli_opt_value(a, "--policy")) && parse_policy(v, &fg.policy)) {
		cli_err(ctx, "domain: unknown policy '%s' (off, trust, verify or compute)", v);
		return -EINVAL;
	}
	if ((v = cli_opt_value(a, "--cache-size")) &&
	    (parse_bytes(v, &fg.cache_bytes) || !fg.cache_bytes)) {
		cli_err(ctx, "domain: bad --cache-size '%s' (bytes > 0, suffix K, M or G)", v);
		return -EINVAL;
	}
	if ((v = cli_opt_value(a, "--threads")) && parse_uint(v, MAX_THREADS, &fg.threads)) {
		cli_err(ctx, "domain: bad --threads '%s' (1 to %u)", v, MAX_THREADS);
		return -EINVAL;
	}

	t0 = now_s();
	dopts.id = "erofs-share";
	dopts.policy = fg.policy;
	dopts.cache_bytes = fg.cache_bytes;
	dopts.log = log_to_stderr;
	dopts.log_user = ctx;
	ret = eshare_domain_create(&d, &dopts);
	if (ret) {
		cli_err(ctx, "cannot create a domain: %s", eshare_strerror(ret));
		return ret;
	}
	dm.nimgs = (unsigned)a->npos;
	imgs = calloc(dm.nimgs, sizeof(*imgs));
	dm.ictx = cli_malloc(dm.nimgs * sizeof(*dm.ictx));
	if (!imgs) {
		cli_err(ctx, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < dm.nimgs; i++) {
		ret = attach_one(ctx, d, a->pos[i], &imgs[i]);
		if (ret)
			goto out;
		dm.ictx[i] = *ctx;
		dm.ictx[i].image_path = a->pos[i];
		dm.ictx[i].domain = d;
		dm.ictx[i].image = imgs[i];
	}
	/*
	 * Walk first, then read: the queue is known before the readers start,
	 * so they need no lock but its head.  A tree that cannot be walked in
	 * full is an error, but the files found are still read.
	 */
	for (i = 0; i < dm.nimgs; i++) {
		eshare_inode *root;

		dm.cur = i;
		r = eshare_root(&root, imgs[i]);
		if (r) {
			cli_err_path(&dm.ictx[i], "/", 1, "root", r);
			fg.errors++;
			continue;
		}
		r = cli_walk(&dm.ictx[i], root, "/", collect_visit, NULL, &dm);
		eshare_inode_put(root);
		if (r)
			fg.errors++;
	}
	atomic_init(&dm.next, 0);
	fg.threads = read_all(&dm, fg.threads);
	fg.wall_s = now_s() - t0;
	fg.files = dm.n;
	for (k = 0; k < dm.n; k++)
		if (dm.v[k].err)
			fg.errors++;
	unique_contents(&dm, &fg);

	r = eshare_domain_stats(d, &st);
	if (r) {
		cli_err(ctx, "domain: cannot read the statistics: %s", eshare_strerror(r));
		ret = r;
		goto out;
	}
	if (cli_has_flag(a, "--json"))
		print_json(&st, &fg);
	else
		print_table(&st, &fg);
	if (fg.errors) {
		cli_err(ctx, "domain: %llu error%s (see above)", (unsigned long long)fg.errors,
			fg.errors == 1 ? "" : "s");
		ret = -EIO;
	}
out:
	for (k = 0; k < dm.n; k++)
		free(dm.v[k].path);
	free(dm.v);
	for (i = 0; imgs && i < dm.nimgs; i++)
		eshare_image_detach(imgs[i]);
	free(imgs);
	free(dm.ictx);
	r = eshare_domain_close(d);
	if (r) {
		cli_err(ctx, "domain still busy at exit: %s", eshare_strerror(r));
		if (!ret)
			ret = r;
	}
	return ret;
}

/* ---- fingerprint ------------------------------------------------------ */

struct fpr {
	struct cli_ctx *ctx;
	bool json, first;
	EVP_MD_CTX *md;
	char *buf;
	int err;		/* the first error; the others are printed too */
};

static int fp_one(struct fpr *f, eshare_inode *ino, const char *path, size_t pathlen,
		  uint64_t size)
{
	unsigned char dg[DIGEST_LEN];
	char hex[2 * DIGEST_LEN + 1];
	const char *what;
	int ret;

	ret = read_hash(ino, size, f->md, f->buf, dg, &what);
	if (ret) {
		cli_err_path(f->ctx, path, pathlen, what, ret);
		if (!f->err)
			f->err = ret;
		return 0;	/* go on with the other files */
	}
	hex_str(dg, DIGEST_LEN, hex);
	if (f->json) {
		printf("%s\n {\"path\": ", f->first ? "" : ",");
		cli_json_str(stdout, path, pathlen);
		if (!cli_valid_utf8(path, pathlen)) {
			size_t i;

			printf(", \"path_hex\": \"");
			for (i = 0; i < pathlen; i++)
				printf("%02x", (unsigned char)path[i]);
			putchar('"');
		}
		printf(", \"fingerprint\": \"sha256:%s\", \"size\": %llu}", hex,
		       (unsigned long long)size);
	} else {
		struct cli_buf b = { 0 };

		cli_escape(&b, path, pathlen, NULL);
		printf("%s\tsha256:%s\t%llu\n", b.p, hex, (unsigned long long)size);
		cli_buf_free(&b);
	}
	f->first = false;
	return 0;
}

static int fp_visit(void *user, const struct cli_node *n)
{
	if (!S_ISREG(n->st->mode))
		return 0;
	return fp_one(user, n->ino, n->path, n->pathlen, n->st->file_size);
}

int cmd_fingerprint(struct cli_ctx *ctx, struct cli_args *a)
{
	struct fpr f = { .ctx = ctx, .json = cli_has_flag(a, "--json"), .first = true };
	static char root[] = "/";
	char *root_only[] = { root };
	char **paths = a->npos > 1 ? a->pos + 1 : root_only;
	int npaths = a->npos > 1 ? a->npos - 1 : 1;
	int i, ret;

	f.md = EVP_MD_CTX_new();
	if (!f.md) {
		cli_err(ctx, "cannot create a digest context");
		return -ENOMEM;
	}
	f.buf = cli_malloc(READ_SIZE);
	if (f.json)
		putchar('[');
	for (i = 0; i < npaths; i++) {
		struct eshare_stat st;
		eshare_inode *ino;

		ret = cli_lookup(ctx, paths[i], &ino);
		if (!ret)
			ret = cli_stat(ctx, ino, paths[i], strlen(paths[i]), &st);
		else
			ino = NULL;
		if (!ret) {
			if (S_ISDIR(st.mode)) {
				/* The walker reports its own errors. */
				ret = cli_walk(ctx, ino, paths[i], fp_visit, NULL, &f);
			} else if (S_ISREG(st.mode)) {
				ret = fp_one(&f, ino, paths[i], strlen(paths[i]), st.file_size);
			} else {
				ret = -EINVAL;
				cli_err_path(ctx, paths[i], strlen(paths[i]),
					     "not a regular file or directory", ret);
			}
		}
		eshare_inode_put(ino);
		if (ret && !f.err)
			f.err = ret;
	}
	if (f.json)
		printf("%s]\n", f.first ? "" : "\n");
	EVP_MD_CTX_free(f.md);
	free(f.buf);
	return f.err;
}
