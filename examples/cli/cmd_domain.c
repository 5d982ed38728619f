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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "cli.h"

#define READ_SIZE (256u << 10)
#define PAGE_SIZE_CACHE 4096u
#define MAX_THREADS 256u
/* The least --cache-size: 16 pages (a smaller budget only thrashes). */
#define MIN_CACHE (64ull << 10)
#define DEFAULT_CACHE (256ull << 20)
#define DIGEST_LEN 32

/* One (image, path) of the work queue. */
struct item {
	unsigned img;
	char *path;
	size_t pathlen;
	uint64_t ino;		/* opened again by the reader: no reference held */
	uint64_t size;
};

/* A distinct non-empty content read: (size, sha256). */
struct content {
	uint64_t size;		/* 0: a free slot */
	unsigned char digest[DIGEST_LEN];
};

/* What one reading thread owns. */
struct rctx {
	EVP_MD_CTX *md;
	char *buf;
};

/*
 * The walk feeds a bounded queue that reader threads drain while it goes
 * on, so memory follows the queue's size and the number of distinct
 * contents, never the number of paths (an image may name one file under
 * millions of paths).
 */
#define QUEUE_CAP 256u
struct dom {
	struct cli_ctx *ctx;
	struct cli_ctx *ictx;	/* one per image: messages name their image */
	unsigned nimgs;
	unsigned cur;		/* image being walked */
	unsigned readers;	/* threads reading besides the walking one */
	struct rctx *self;	/* the walking thread's, to read when no one else does */
	pthread_mutex_t lock;
	pthread_cond_t nonempty, nonfull;
	struct item q[QUEUE_CAP];
	size_t head, count;	/* the queue, under lock */
	bool done;		/* the walk is over (under lock) */
	/* under lock: */
	uint64_t files, read_errors;
	struct content *set;	/* open addressing, at most half full */
	size_t setcap, setn;
	uint64_t unique_bytes, unique_page_bytes;
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

static size_t content_hash(const struct content *c, size_t mask)
{
	uint64_t h;

	memcpy(&h, c->digest, sizeof(h));
	return (size_t)(h ^ c->size * 0x9E3779B97F4A7C15ull) & mask;
}

/* Count @c among the distinct contents (called under dm->lock). */
static void content_add(struct dom *dm, const struct content *c)
{
	size_t i;

	if ((dm->setn + 1) * 2 > dm->setcap) {
		struct content *old = dm->set;
		size_t oldcap = dm->setcap, k;

		dm->setcap = oldcap ? oldcap * 2 : 64;
		dm->set = cli_malloc(dm->setcap * sizeof(*dm->set));
		memset(dm->set, 0, dm->setcap * sizeof(*dm->set));
		for (k = 0; k < oldcap; k++) {
			if (!old[k].size)
				continue;
			for (i = content_hash(&old[k], dm->setcap - 1); dm->set[i].size;
			     i = (i + 1) & (dm->setcap - 1))
				;
			dm->set[i] = old[k];
		}
		free(old);
	}
	for (i = content_hash(c, dm->setcap - 1); dm->set[i].size; i = (i + 1) & (dm->setcap - 1))
		if (dm->set[i].size == c->size && !memcmp(dm->set[i].digest, c->digest, DIGEST_LEN))
			return;
	dm->set[i] = *c;
	dm->setn++;
	dm->unique_bytes += c->size;
	dm->unique_page_bytes += (c->size + PAGE_SIZE_CACHE - 1) / PAGE_SIZE_CACHE * PAGE_SIZE_CACHE;
}

/* Read one item (outside the lock), then count it; frees its path. */
static void read_item(struct dom *dm, struct rctx *r, struct item *it)
{
	struct content c = { .size = it->size };
	const char *what = "read";
	eshare_inode *ino;
	int err;

	if (!r->md) {
		err = -ENOMEM;
		what = "cannot create a digest context";
	} else {
		err = eshare_inode_open(&ino, dm->ictx[it->img].image, it->ino);
		if (err) {
			what = "open";
		} else {
			err = read_hash(ino, it->size, r->md, r->buf, c.digest, &what);
			eshare_inode_put(ino);
		}
	}
	if (err)
		cli_err_path(&dm->ictx[it->img], it->path, it->pathlen, what, err);
	free(it->path);
	pthread_mutex_lock(&dm->lock);
	dm->files++;
	if (err)
		dm->read_errors++;
	else if (c.size) /* empty files have no pages to share */
		content_add(dm, &c);
	pthread_mutex_unlock(&dm->lock);
}

/* Take the queue's head (under dm->lock). */
static struct item queue_pop(struct dom *dm)
{
	struct item it = dm->q[dm->head];

	dm->head = (dm->head + 1) % QUEUE_CAP;
	dm->count--;
	pthread_cond_signal(&dm->nonfull);
	return it;
}

static int collect_visit(void *user, const struct esc_entry *n)
{
	struct dom *dm = user;
	struct item it;

	if (!S_ISREG(n->st->mode))
		return 0;
	it.img = dm->cur;
	it.path = cli_malloc(n->pathlen + 1);
	memcpy(it.path, n->path, n->pathlen + 1);
	it.pathlen = n->pathlen;
	/* The inode number, not a reference: the reader opens it again. */
	it.ino = n->st->ino;
	it.size = n->st->file_size;
	pthread_mutex_lock(&dm->lock);
	while (dm->count == QUEUE_CAP) {
		if (!dm->readers) {
			/* No reader thread: the walker reads a queued file itself. */
			struct item head = queue_pop(dm);
			pthread_mutex_unlock(&dm->lock);
			read_item(dm, dm->self, &head);
			pthread_mutex_lock(&dm->lock);
			continue;
		}
		pthread_cond_wait(&dm->nonfull, &dm->lock);
	}
	dm->q[(dm->head + dm->count) % QUEUE_CAP] = it;
	dm->count++;
	pthread_cond_signal(&dm->nonempty);
	pthread_mutex_unlock(&dm->lock);
	return 0;
}

/* A reader: takes items off the queue until the walk is over and it is empty. */
static void read_queue(struct dom *dm, struct rctx *r)
{
	for (;;) {
		struct item it;

		pthread_mutex_lock(&dm->lock);
		while (!dm->count && !dm->done)
			pthread_cond_wait(&dm->nonempty, &dm->lock);
		if (!dm->count) {
			pthread_mutex_unlock(&dm->lock);
			return;
		}
		it = queue_pop(dm);
		pthread_mutex_unlock(&dm->lock);
		read_item(dm, r, &it);
	}
}

static void rctx_init(struct rctx *r)
{
	r->md = EVP_MD_CTX_new();
	r->buf = cli_malloc(READ_SIZE);
}

static void rctx_free(struct rctx *r)
{
	EVP_MD_CTX_free(r->md);
	free(r->buf);
}

static void *reader(void *arg)
{
	struct dom *dm = arg;
	struct rctx r;

	rctx_init(&r);
	read_queue(dm, &r);
	rctx_free(&r);
	return NULL;
}

struct figures {
	uint64_t files, errors, unique_files, unique_bytes, unique_page_bytes;
	double wall_s;
	unsigned threads;
	uint32_t policy;
	uint64_t cache_bytes;
};

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
	       (unsigned long long)fg->errors, esc_policy_name(fg->policy),
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
	J("cached_tails", st->cached_tails);
	J("cached_tail_bytes", st->cached_tail_bytes);
	J("cached_tail_pages", st->cached_tail_pages);
	J("tail_unpaged_bytes", st->tail_unpaged_bytes);
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
	ROW("policy", "%s", esc_policy_name(fg->policy));
	BYTES("cache budget", fg->cache_bytes);
	ROW("threads", "%u", fg->threads);
	BYTES("logical read", st->logical_bytes);
	ROW("distinct contents", "%llu non-empty", (unsigned long long)fg->unique_files);
	BYTES("unique bytes", fg->unique_bytes);
	BYTES("unique page bytes", fg->unique_page_bytes);
	fmt_bytes(b, sizeof(b), st->cached_data_bytes);
	ROW("cached data", "%s, %llu pages", b, (unsigned long long)st->cached_data_pages);
	fmt_bytes(b, sizeof(b), st->cached_tail_bytes);
	ROW("  of which tails", "%s in %llu files, %llu packed pages", b,
	    (unsigned long long)st->cached_tails, (unsigned long long)st->cached_tail_pages);
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

/* Start @nthreads - 1 reader threads; returns how many started. */
static unsigned start_readers(struct dom *dm, pthread_t *tids, unsigned nthreads)
{
	unsigned started = 0;

	for (; started + 1 < nthreads; started++) {
		int err = pthread_create(&tids[started], NULL, reader, dm);

		if (err) {
			/* Fewer readers still read everything: say so and go on. */
			cli_err(dm->ctx, "domain: only %u of %u threads started: %s",
				started + 1, nthreads, strerror(err));
			break;
		}
	}
	pthread_mutex_lock(&dm->lock);
	dm->readers = started;
	pthread_mutex_unlock(&dm->lock);
	return started;
}

int cmd_domain(struct cli_ctx *ctx, struct cli_args *a)
{
	struct eshare_domain_opts dopts = ESHARE_DOMAIN_OPTS_INIT;
	struct eshare_stats st = ESHARE_STATS_INIT;
	struct figures fg = { .threads = 1, .policy = ESHARE_SHARE_VERIFY,
			      .cache_bytes = DEFAULT_CACHE };
	eshare_image **imgs;
	struct dom dm = { .ctx = ctx };
	struct rctx self;
	pthread_t *tids = NULL;
	eshare_domain *d = NULL;
	const char *v;
	double t0;
	unsigned i, started = 0;
	int ret = 0, r;

	if ((v = cli_opt_value(a, "--policy")) && esc_parse_policy(&fg.policy, v)) {
		cli_err(ctx, "domain: unknown policy '%s' (off, trust, verify or compute)", v);
		return CLI_USAGE_ERROR;
	}
	if ((v = cli_opt_value(a, "--cache-size")) &&
	    (esc_parse_size(&fg.cache_bytes, v) || fg.cache_bytes < MIN_CACHE)) {
		cli_err(ctx, "domain: bad --cache-size '%s' (at least 64K; suffix K, M or G)", v);
		return CLI_USAGE_ERROR;
	}
	if ((v = cli_opt_value(a, "--threads"))) {
		uint64_t n;

		if (esc_parse_uint(&n, v, MAX_THREADS)) {
			cli_err(ctx, "domain: bad --threads '%s' (1 to %u)", v, MAX_THREADS);
			return CLI_USAGE_ERROR;
		}
		fg.threads = (unsigned)n;
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
	pthread_mutex_init(&dm.lock, NULL);
	pthread_cond_init(&dm.nonempty, NULL);
	pthread_cond_init(&dm.nonfull, NULL);
	rctx_init(&self);
	dm.self = &self;
	dm.nimgs = (unsigned)a->npos;
	imgs = calloc(dm.nimgs, sizeof(*imgs));
	dm.ictx = cli_malloc(dm.nimgs * sizeof(*dm.ictx));
	if (!imgs) {
		cli_err(ctx, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < dm.nimgs; i++) {
		/* --device options go only to the images that need them. */
		ret = cli_image_attach(ctx, d, a->pos[i], &imgs[i], true);
		if (ret)
			goto out;
		dm.ictx[i] = *ctx;
		dm.ictx[i].image_path = a->pos[i];
		dm.ictx[i].domain = d;
		dm.ictx[i].image = imgs[i];
	}
	/*
	 * The readers start before the walk and read while it goes on; this
	 * thread walks, then reads too until the queue is empty.  A tree that
	 * cannot be walked in full is an error, but the files found are read.
	 */
	tids = cli_malloc(fg.threads * sizeof(*tids));
	started = start_readers(&dm, tids, fg.threads);
	for (i = 0; i < dm.nimgs; i++) {
		eshare_inode *root;

		dm.cur = i;
		r = eshare_root(&root, imgs[i]);
		if (r) {
			cli_err_path(&dm.ictx[i], "/", 1, "root", r);
			fg.errors++;
			continue;
		}
		r = cli_walk(&dm.ictx[i], root, "/", collect_visit, NULL, &dm, 0);
		eshare_inode_put(root);
		if (r)
			fg.errors++;
	}
	pthread_mutex_lock(&dm.lock);
	dm.done = true;
	pthread_cond_broadcast(&dm.nonempty);
	pthread_mutex_unlock(&dm.lock);
	read_queue(&dm, &self);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	fg.threads = started + 1;
	started = 0;
	fg.wall_s = now_s() - t0;
	fg.files = dm.files;
	fg.errors += dm.read_errors;
	fg.unique_files = dm.setn;
	fg.unique_bytes = dm.unique_bytes;
	fg.unique_page_bytes = dm.unique_page_bytes;

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
	free(tids);
	free(dm.set);
	rctx_free(&self);
	pthread_cond_destroy(&dm.nonfull);
	pthread_cond_destroy(&dm.nonempty);
	pthread_mutex_destroy(&dm.lock);
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
	int err;		/* the first error; the others are printed too */
};

/*
 * The domain computes the fingerprint (eshare_file_identity), reading the
 * file once without filling its cache: the same "sha256:" digest an
 * intact image's fingerprint xattr holds.
 */
static int fp_one(struct fpr *f, eshare_inode *ino, const char *path, size_t pathlen,
		  uint64_t size)
{
	struct eshare_file_identity id = ESHARE_FILE_IDENTITY_INIT;
	const char *hex;
	int ret;

	ret = eshare_file_identity(ino, ESHARE_IDENTITY_COMPUTE, &id);
	if (!ret && (strncmp(id.fingerprint, "sha256:", 7) || id.file_size != size))
		ret = -EIO;
	if (ret) {
		cli_err_path(f->ctx, path, pathlen, "fingerprint", ret);
		if (!f->err)
			f->err = ret;
		return 0;	/* go on with the other files */
	}
	hex = id.fingerprint + 7;
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

static int fp_visit(void *user, const struct esc_entry *n)
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
				ret = cli_walk(ctx, ino, paths[i], fp_visit, NULL, &f, 0);
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
	return f.err;
}
