// SPDX-License-Identifier: MIT
/*
 * erofs-share-sim planning: the images' metadata (one walk each, in a
 * scratch domain), the identity of every file's content, the containers'
 * reads, their placement on hosts, and what each host would cache by the
 * images' metadata alone: the sharing limit and the kernel's own rules.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "sim.h"

/* EROFS data layouts whose pages the kernel fills through its decompressor. */
#define LAYOUT_COMPRESSED_FULL 1
#define LAYOUT_COMPRESSED_COMPACT 3

static bool is_compressed(const struct sim_file *f)
{
	return f->layout == LAYOUT_COMPRESSED_FULL || f->layout == LAYOUT_COMPRESSED_COMPACT;
}

struct collect {
	struct sim *s;
	struct sim_image *im;
	size_t cap;
	int err;
};

static bool in_lib_dir(const char *path)
{
	const char *p = path;

	/* A directory component lib, lib32, lib64 or libexec. */
	while ((p = strstr(p, "/lib")) != NULL) {
		const char *q = p + 4;

		if (!strncmp(q, "32", 2) || !strncmp(q, "64", 2))
			q += 2;
		else if (!strncmp(q, "exec", 4))
			q += 4;
		if (*q == '/' && strchr(q + 1, '\0') != q + 1)
			return true;
		p += 4;
	}
	return false;
}

static bool is_shlib(const char *name)
{
	const char *p = strstr(name, ".so");

	return p && (p[3] == '\0' || p[3] == '.');
}

static int collect_error(void *user, const char *path, size_t pathlen, const char *what, int err)
{
	struct collect *c = user;

	fprintf(stderr, "%s: %s: %.*s: %s: %s\n", c->s->prog, c->im->path, (int)pathlen, path,
		what, eshare_strerror(err));
	return err;
}

static int collect_visit(void *user, const struct esc_entry *e)
{
	struct collect *c = user;
	struct sim_image *im = c->im;
	struct sim_file *f;

	if (!S_ISREG(e->st->mode))
		return 0;
	if (im->nfiles == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		im->files = sim_realloc(im->files, c->cap * sizeof(*im->files));
	}
	if (im->nfiles >= UINT32_MAX / 4)
		return -E2BIG;
	f = &im->files[im->nfiles++];
	memset(f, 0, sizeof(*f));
	f->path = sim_strdup(e->path);
	f->size = e->st->file_size;
	f->ino = e->st->ino;
	f->mode = e->st->mode;
	f->layout = e->st->layout;
	f->startup = (e->st->mode & 0111) || is_shlib(f->path) || in_lib_dir(f->path);
	if (im->ishare && f->size) {
		/*
		 * The on-disk fingerprint, as the image claims it: in a domain
		 * with sharing off, nothing is hashed to tell it.
		 */
		struct eshare_file_identity id = ESHARE_FILE_IDENTITY_INIT;
		int ret = eshare_file_identity(e->ino, 0, &id);
		unsigned i;

		if (ret)
			return collect_error(c, e->path, e->pathlen, "fingerprint", ret);
		if ((id.flags & ESHARE_IDENTITY_ONDISK) && strlen(id.fingerprint) == 7 + 64) {
			for (i = 0; i < 32; i++)
				sscanf(id.fingerprint + 7 + 2 * i, "%2hhx", &f->fp[i]);
			f->has_fp = true;
			im->nfp++;
		}
	}
	return 0;
}

/* Hashing: one item per distinct inode whose size another inode has too. */
struct hjob {
	struct sim *s;
	eshare_image **imgs;
	struct rep **todo;
	size_t n;
	_Atomic size_t next;
	_Atomic int err;
};

struct rep {
	unsigned img;
	uint32_t file;			/* its first path */
	uint64_t size;
	bool hashed;
	unsigned char digest[32];
};

static int hash_one(struct hjob *j, struct rep *r, EVP_MD_CTX *md, char *buf)
{
	struct sim_image *im = &j->s->img[r->img];
	struct sim_file *f = &im->files[r->file];
	eshare_inode *ino;
	unsigned int dl = 0;
	uint64_t off = 0;
	int ret;

	ret = eshare_inode_open(&ino, j->imgs[r->img], f->ino);
	if (ret)
		goto fail;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		ret = -ENOMEM;
	while (!ret && off < r->size) {
		size_t want = r->size - off < SIM_READ_SIZE ? (size_t)(r->size - off) : SIM_READ_SIZE;
		ssize_t got = eshare_pread(ino, buf, want, off);

		if (got <= 0 || (size_t)got > want)
			ret = got < 0 ? (int)got : -EIO;
		else if (EVP_DigestUpdate(md, buf, (size_t)got) != 1)
			ret = -ENOMEM;
		else
			off += (uint64_t)got;
	}
	eshare_inode_put(ino);
	if (!ret && (EVP_DigestFinal_ex(md, r->digest, &dl) != 1 || dl != 32))
		ret = -ENOMEM;
	if (!ret) {
		r->hashed = true;
		return 0;
	}
fail:
	fprintf(stderr, "%s: %s: %s: read: %s\n", j->s->prog, im->path, f->path,
		eshare_strerror(ret));
	return ret;
}

static void *hash_worker(void *arg)
{
	struct hjob *j = arg;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *buf = sim_malloc(SIM_READ_SIZE);

	for (;;) {
		size_t i = atomic_fetch_add(&j->next, 1);
		int ret;

		if (i >= j->n || atomic_load(&j->err))
			break;
		ret = md ? hash_one(j, j->todo[i], md, buf) : -ENOMEM;
		if (ret) {
			int zero = 0;

			atomic_compare_exchange_strong(&j->err, &zero, ret);
		}
	}
	EVP_MD_CTX_free(md);
	free(buf);
	return NULL;
}

static int rep_by_size(const void *a, const void *b)
{
	const struct rep *x = *(struct rep *const *)a, *y = *(struct rep *const *)b;

	return x->size < y->size ? -1 : x->size > y->size;
}

/* Same content: same size, and (when hashed) the same digest. */
static int rep_content_cmp(const void *a, const void *b)
{
	const struct rep *x = *(struct rep *const *)a, *y = *(struct rep *const *)b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	if (x->hashed != y->hashed)
		return x->hashed ? 1 : -1;
	if (!x->hashed)	/* unique size: never equal to another */
		return x < y ? -1 : x > y;
	return memcmp(x->digest, y->digest, 32);
}

struct fidx {
	unsigned img;
	uint32_t file;
	uint64_t ino;
};

static int fidx_cmp(const void *a, const void *b)
{
	const struct fidx *x = a, *y = b;

	if (x->img != y->img)
		return x->img < y->img ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->file < y->file ? -1 : x->file > y->file;
}

static int fp_cmp(const void *a, const void *b)
{
	const struct sim_file *x = *(struct sim_file *const *)a, *y = *(struct sim_file *const *)b;
	int c = memcmp(x->fp, y->fp, sizeof(x->fp));

	if (c)
		return c;
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return (int)is_compressed(x) - (int)is_compressed(y);
}

/*
 * What Linux 7.0's page-cache share keys on: a file shares only if it has
 * an on-disk fingerprint, and then with the files of equal fingerprint,
 * size and kind of address space (plain or compressed).  Every other inode
 * keeps its own pages.
 */
static void kernel_share_ids(struct sim *s)
{
	struct sim_file **v;
	size_t n = 0, i;
	uint32_t id = s->ninode_ids;
	unsigned m;

	for (m = 0; m < s->nimg; m++)
		for (i = 0; i < s->img[m].nfiles; i++)
			n += s->img[m].files[i].has_fp;
	v = sim_malloc((n ? n : 1) * sizeof(*v));
	n = 0;
	for (m = 0; m < s->nimg; m++)
		for (i = 0; i < s->img[m].nfiles; i++) {
			struct sim_file *f = &s->img[m].files[i];

			f->kshare_id = f->inode_id;
			if (f->has_fp)
				v[n++] = f;
		}
	qsort(v, n, sizeof(*v), fp_cmp);
	for (i = 0; i < n; i++) {
		if (i && fp_cmp(&v[i - 1], &v[i]))
			id++;
		v[i]->kshare_id = id;
	}
	s->nkshare_ids = id + 1;
	free(v);
}

/* Give every file its inode, content and kernel-share ids. */
static int identify(struct sim *s, eshare_image **imgs)
{
	struct fidx *fx;
	struct rep *reps, **rp, **todo;
	size_t nf = 0, nrep = 0, i, k, ntodo = 0;
	uint32_t *rep_of;
	struct hjob j = { .s = s, .imgs = imgs };
	pthread_t *tids;
	unsigned t, started = 0, m;

	for (m = 0; m < s->nimg; m++)
		nf += s->img[m].nfiles;
	fx = sim_malloc(nf * sizeof(*fx));
	for (m = 0, k = 0; m < s->nimg; m++)
		for (i = 0; i < s->img[m].nfiles; i++, k++)
			fx[k] = (struct fidx){ m, (uint32_t)i, s->img[m].files[i].ino };
	qsort(fx, nf, sizeof(*fx), fidx_cmp);
	reps = sim_calloc(nf ? nf : 1, sizeof(*reps));
	rep_of = sim_malloc((nf ? nf : 1) * sizeof(*rep_of));
	/* One representative per distinct (image, inode): hard links are one inode. */
	for (k = 0; k < nf; k++) {
		struct sim_file *f = &s->img[fx[k].img].files[fx[k].file];

		if (!k || fx[k].img != fx[k - 1].img || fx[k].ino != fx[k - 1].ino) {
			reps[nrep] = (struct rep){ .img = fx[k].img, .file = fx[k].file,
						   .size = f->size };
			s->img[fx[k].img].file_bytes += f->size;
			s->img[fx[k].img].file_page_bytes +=
				(f->size + SIM_PAGE - 1) / SIM_PAGE * SIM_PAGE;
			nrep++;
		}
		f->inode_id = (uint32_t)(nrep - 1);
		rep_of[k] = (uint32_t)(nrep - 1);
	}
	s->ninode_ids = (uint32_t)nrep;

	/* Hash only contents whose size another inode shares: others are unique. */
	rp = sim_malloc((nrep ? nrep : 1) * sizeof(*rp));
	for (i = 0; i < nrep; i++)
		rp[i] = &reps[i];
	qsort(rp, nrep, sizeof(*rp), rep_by_size);
	todo = sim_malloc((nrep ? nrep : 1) * sizeof(*todo));
	for (i = 0; i < nrep; i = k) {
		for (k = i + 1; k < nrep && rp[k]->size == rp[i]->size; k++)
			;
		if (k - i > 1 && rp[i]->size)
			while (i < k)
				todo[ntodo++] = rp[i++];
	}
	j.todo = todo;
	j.n = ntodo;
	atomic_init(&j.next, 0);
	atomic_init(&j.err, 0);
	tids = sim_malloc(s->threads * sizeof(*tids));
	for (t = 1; t < s->threads; t++)
		if (!pthread_create(&tids[started], NULL, hash_worker, &j))
			started++;
	hash_worker(&j);
	for (t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	free(tids);
	free(todo);

	/* Content ids: equal (size, digest); every empty file is one empty content. */
	qsort(rp, nrep, sizeof(*rp), rep_content_cmp);
	{
		uint32_t *cid = sim_malloc((nrep ? nrep : 1) * sizeof(*cid));
		uint32_t n = 0;

		for (i = 0; i < nrep; i++) {
			if (!i || rep_content_cmp(&rp[i - 1], &rp[i]))
				n++;
			cid[rp[i] - reps] = n - 1;
		}
		s->ncontent_ids = n;
		for (k = 0; k < nf; k++)
			s->img[fx[k].img].files[fx[k].file].content_id = cid[rep_of[k]];
		free(cid);
	}
	kernel_share_ids(s);
	free(rp);
	free(reps);
	free(rep_of);
	free(fx);
	return atomic_load(&j.err);
}

static void log_quiet(void *user, int level, const char *msg)
{
	struct sim *s = user;

	if (level <= ESHARE_LOG_ERR && !atomic_load(&s->mute_log))
		fprintf(stderr, "%s: %s\n", s->prog, msg);
}

int sim_attach(struct sim *s, eshare_image **out, eshare_domain *d, const struct sim_image *im)
{
	char msg[512];
	int ret;

	atomic_store(&s->mute_log, s->open.ndevices > 0);
	ret = esc_image_open(out, d, im->path, &s->open, msg, sizeof(msg));
	atomic_store(&s->mute_log, false);
	if (!ret)
		return 0;
	if (im->src)
		fprintf(stderr, "%s: %s:%u: image %s: %s: %s\n", s->prog, im->src, im->line,
			im->name, im->path, msg);
	else
		fprintf(stderr, "%s: %s: %s\n", s->prog, im->path, msg);
	return ret;
}

int sim_load_images(struct sim *s)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_image **imgs = sim_calloc(s->nimg, sizeof(*imgs));
	eshare_domain *d = NULL;
	unsigned m;
	int ret;

	o.id = "erofs-share-sim metadata";
	o.policy = ESHARE_SHARE_OFF;
	o.cache_bytes = 64u << 20;
	o.log = log_quiet;
	o.log_user = s;
	ret = eshare_domain_create(&d, &o);
	if (ret) {
		fprintf(stderr, "%s: cannot create a domain: %s\n", s->prog, eshare_strerror(ret));
		free(imgs);
		return ret;
	}
	for (m = 0; m < s->nimg && !ret; m++) {
		struct sim_image *im = &s->img[m];
		struct eshare_image_info info = ESHARE_IMAGE_INFO_INIT;
		struct collect c = { .s = s, .im = im };
		struct esc_walk_ops ops = { .visit = collect_visit, .error = collect_error,
					    .user = &c };
		eshare_inode *root;

		ret = sim_attach(s, &imgs[m], d, im);
		if (ret)
			break;
		ret = eshare_image_info(imgs[m], &info);
		if (!ret) {
			im->ishare = info.ishare_prefix_id >= 0;
			im->image_bytes = info.blocks * info.block_size;
			ret = eshare_root(&root, imgs[m]);
		}
		if (ret) {
			fprintf(stderr, "%s: %s: root: %s\n", s->prog, im->path, eshare_strerror(ret));
			break;
		}
		ret = esc_walk(root, "/", &ops);
		eshare_inode_put(root);
	}
	if (!ret)
		ret = identify(s, imgs);
	for (m = 0; m < s->nimg; m++)
		eshare_image_detach(imgs[m]);
	free(imgs);
	eshare_domain_close(d);
	return ret;
}

/* ---- containers' reads ------------------------------------------------ */

/* splitmix64: a small, seedable, portable generator. */
static uint64_t rnd(uint64_t *st)
{
	uint64_t z = (*st += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rnd01(uint64_t *st)
{
	return (double)(rnd(st) >> 11) / 9007199254740992.0;
}

static void add_op(struct sim_container *c, size_t *cap, uint32_t file, uint64_t off, uint32_t len,
		   uint64_t bytes)
{
	if (c->nops == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		c->ops = sim_realloc(c->ops, *cap * sizeof(*c->ops));
	}
	c->ops[c->nops++] = (struct sim_op){ .file = file, .len = len, .off = off };
	c->bytes += bytes;
}

static int path_cmp(const void *a, const void *b, void *arg)
{
	const struct sim_file *f = arg;

	return strcmp(f[*(const uint32_t *)a].path, f[*(const uint32_t *)b].path);
}

/* Index of the file at @path in @im (by a path-sorted index), or -1. */
static long find_path(const struct sim_image *im, const uint32_t *byname, const char *path)
{
	size_t lo = 0, hi = im->nfiles;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(im->files[byname[mid]].path, path);

		if (!c)
			return byname[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * The files a startup trace lists: one path per line, '#' comments and
 * blank lines skipped.  Every path must be a regular file of the image.
 */
static int load_trace(struct sim *s, const struct sim_image *im, const char *trace, bool **sel)
{
	uint32_t *byname = sim_malloc((im->nfiles ? im->nfiles : 1) * sizeof(*byname));
	FILE *f = fopen(trace, "r");
	char *line = NULL;
	size_t cap = 0, i;
	unsigned lineno = 0;
	ssize_t n;
	int ret = 0;

	if (!f) {
		fprintf(stderr, "%s: %s: cannot open the trace: %s\n", s->prog, trace,
			strerror(errno));
		free(byname);
		return -errno;
	}
	for (i = 0; i < im->nfiles; i++)
		byname[i] = (uint32_t)i;
	qsort_r(byname, im->nfiles, sizeof(*byname), path_cmp, im->files);
	*sel = sim_calloc(im->nfiles ? im->nfiles : 1, sizeof(**sel));
	while ((n = getline(&line, &cap, f)) > 0) {
		char *p = line, *e;
		long k;

		lineno++;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*p || *p == '#')
			continue;
		if (*p != '/') {
			fprintf(stderr, "%s: %s:%u: not an absolute path: %s\n", s->prog, trace,
				lineno, p);
			ret = -EINVAL;
			break;
		}
		k = find_path(im, byname, p);
		if (k < 0) {
			fprintf(stderr, "%s: %s:%u: %s: no such regular file in %s\n", s->prog,
				trace, lineno, p, im->path);
			ret = -ENOENT;
			break;
		}
		(*sel)[k] = true;
	}
	if (!ret && ferror(f)) {
		fprintf(stderr, "%s: %s: read error\n", s->prog, trace);
		ret = -EIO;
	}
	free(line);
	fclose(f);
	free(byname);
	if (ret) {
		free(*sel);
		*sel = NULL;
	}
	return ret;
}

/* Zipf(1) over a seeded permutation of the image's non-empty files. */
static void plan_random(struct sim *s, struct sim_container *c, const struct sim_image *im,
			uint64_t volume, unsigned imgno)
{
	uint32_t *rank = sim_malloc((im->nfiles ? im->nfiles : 1) * sizeof(*rank));
	double *cdf;
	uint64_t st = s->seed * 0x100000001b3ull + imgno, cst, done = 0;
	size_t n = 0, i, cap = 0;

	for (i = 0; i < im->nfiles; i++)
		if (im->files[i].size)
			rank[n++] = (uint32_t)i;
	if (!n) {
		free(rank);
		return;
	}
	/* Which files are popular depends on the image and the seed only. */
	for (i = n - 1; i > 0; i--) {
		size_t k = rnd(&st) % (i + 1);
		uint32_t t = rank[i];

		rank[i] = rank[k];
		rank[k] = t;
	}
	cdf = sim_malloc(n * sizeof(*cdf));
	for (i = 0; i < n; i++)
		cdf[i] = (i ? cdf[i - 1] : 0) + 1.0 / (double)(i + 1);
	cst = s->seed ^ (0x5851f42d4c957f2dull * (c->spec + 1)) ^ ((uint64_t)c->replica << 32);
	while (done < volume) {
		double u = rnd01(&cst) * cdf[n - 1];
		size_t lo = 0, hi = n - 1;
		const struct sim_file *f;
		uint64_t blocks, off, len;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		f = &im->files[rank[lo]];
		blocks = (f->size + SIM_RANDOM_READ - 1) / SIM_RANDOM_READ;
		off = rnd(&cst) % blocks * SIM_RANDOM_READ;
		len = f->size - off < SIM_RANDOM_READ ? f->size - off : SIM_RANDOM_READ;
		add_op(c, &cap, rank[lo], off, (uint32_t)len, len);
		done += len;
	}
	free(cdf);
	free(rank);
}

static int plan_container(struct sim *s, struct sim_container *c, bool *trace_sel)
{
	const struct sim_spec *sp = &s->spec[c->spec];
	const struct sim_image *im = &s->img[sp->image];
	size_t i, cap = 0;

	if (sp->wl == WL_RANDOM) {
		plan_random(s, c, im, sp->volume, sp->image);
		return 0;
	}
	for (i = 0; i < im->nfiles; i++) {
		const struct sim_file *f = &im->files[i];

		if (sp->wl == WL_STARTUP && !(trace_sel ? trace_sel[i] : f->startup))
			continue;
		add_op(c, &cap, (uint32_t)i, 0, 0, f->size);
	}
	return 0;
}

/* Pages [first, last) of file @f that op @o touches. */
static void op_pages(const struct sim_file *f, const struct sim_op *o, uint64_t *first,
		     uint64_t *last)
{
	uint64_t end = o->len ? o->off + o->len : f->size;

	if (end > f->size)
		end = f->size;
	*first = o->off / SIM_PAGE;
	*last = end > o->off ? (end + SIM_PAGE - 1) / SIM_PAGE : *first;
}

struct bitmaps {
	uint64_t **v;
	uint32_t n;
};

/* Set pages [first, last) of id @id (of @pages pages); returns the newly set count. */
static uint64_t mark(struct bitmaps *b, uint32_t id, uint64_t pages, uint64_t first,
		     uint64_t last, uint64_t *bytes_out, uint64_t size)
{
	uint64_t p, n = 0;

	if (!b->v[id])
		b->v[id] = sim_calloc((pages + 63) / 64 ? (pages + 63) / 64 : 1, 8);
	for (p = first; p < last && p < pages; p++) {
		if (b->v[id][p / 64] & (1ull << (p % 64)))
			continue;
		b->v[id][p / 64] |= 1ull << (p % 64);
		n++;
		if (bytes_out)
			*bytes_out += size - p * SIM_PAGE < SIM_PAGE ? size - p * SIM_PAGE : SIM_PAGE;
	}
	return n;
}

static void bitmaps_free(struct bitmaps *b)
{
	uint32_t i;

	for (i = 0; i < b->n; i++)
		free(b->v[i]);
	free(b->v);
}

/* What host @h would cache by the images' metadata. */
static void host_limits(struct sim *s, unsigned h, struct sim_limits *l)
{
	struct bitmaps ib = { sim_calloc(s->ninode_ids + 1, sizeof(uint64_t *)), s->ninode_ids },
		       kb = { sim_calloc(s->nkshare_ids + 1, sizeof(uint64_t *)), s->nkshare_ids },
		       cb = { sim_calloc(s->ncontent_ids + 1, sizeof(uint64_t *)), s->ncontent_ids };
	unsigned i;
	size_t k;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < s->nct; i++) {
		const struct sim_container *c = &s->ct[i];
		const struct sim_image *im = &s->img[c->image];

		if (c->host != h)
			continue;
		l->logical_bytes += c->bytes;
		for (k = 0; k < c->nops; k++) {
			const struct sim_file *f = &im->files[c->ops[k].file];
			uint64_t pages = (f->size + SIM_PAGE - 1) / SIM_PAGE, a, z;

			op_pages(f, &c->ops[k], &a, &z);
			if (a == z)
				continue;
			l->kernel_noshare_bytes +=
				mark(&ib, f->inode_id, pages, a, z, NULL, 0) * SIM_PAGE;
			l->kernel_share_bytes +=
				mark(&kb, f->kshare_id, pages, a, z, NULL, 0) * SIM_PAGE;
			l->unique_page_bytes += mark(&cb, f->content_id, pages, a, z,
						     &l->unique_bytes, f->size) * SIM_PAGE;
		}
	}
	bitmaps_free(&ib);
	bitmaps_free(&kb);
	bitmaps_free(&cb);
}

int sim_plan(struct sim *s)
{
	bool **sel = sim_calloc(s->nspec, sizeof(*sel));
	unsigned i, r, n = 0, per, h;
	int ret = 0;

	for (i = 0; i < s->nspec; i++) {
		const struct sim_spec *sp = &s->spec[i];
		const char *trace = sp->trace ? sp->trace : s->img[sp->image].trace;

		if (sp->wl == WL_STARTUP && trace) {
			ret = load_trace(s, &s->img[sp->image], trace, &sel[i]);
			if (ret)
				goto out;
		}
		n += sp->replicas;
	}
	s->ct = sim_calloc(n, sizeof(*s->ct));
	s->nct = n;
	n = 0;
	for (i = 0; i < s->nspec; i++)
		for (r = 0; r < s->spec[i].replicas; r++, n++) {
			s->ct[n].spec = i;
			s->ct[n].replica = r;
			s->ct[n].image = s->spec[i].image;
		}
	/*
	 * spread: round robin, so replicas of one image land on different
	 * hosts; pack: contiguous runs of the list (replicas of one image,
	 * then the next image as listed) fill one host after another.
	 */
	per = (s->nct + s->hosts - 1) / s->hosts;
	for (i = 0; i < s->nct; i++)
		s->ct[i].host = s->pack ? i / per : i % s->hosts;
	for (i = 0; i < s->nct; i++) {
		struct sim_container *c = &s->ct[i];

		/* Replicas of all and startup read the same: one list serves them. */
		if (c->replica && s->spec[c->spec].wl != WL_RANDOM) {
			c->ops = c[-1].ops;
			c->nops = c[-1].nops;
			c->bytes = c[-1].bytes;
			c->shared_ops = true;
			continue;
		}
		ret = plan_container(s, c, sel[c->spec]);
		if (ret)
			goto out;
	}
	s->host_lim = sim_calloc(s->hosts, sizeof(*s->host_lim));
	s->host_unlimited = sim_calloc(s->hosts, sizeof(*s->host_unlimited));
	memset(&s->fleet_lim, 0, sizeof(s->fleet_lim));
	for (h = 0; h < s->hosts; h++) {
		struct sim_limits *l = &s->host_lim[h];
		bool *used = sim_calloc(s->nimg, sizeof(*used));

		host_limits(s, h, l);
		s->fleet_lim.unique_bytes += l->unique_bytes;
		s->fleet_lim.unique_page_bytes += l->unique_page_bytes;
		s->fleet_lim.kernel_noshare_bytes += l->kernel_noshare_bytes;
		s->fleet_lim.kernel_share_bytes += l->kernel_share_bytes;
		s->fleet_lim.logical_bytes += l->logical_bytes;
		/* Unlimited: room for every data page and all metadata of its images. */
		s->host_unlimited[h] = 16u << 20;
		for (i = 0; i < s->nct; i++)
			if (s->ct[i].host == h && !used[s->ct[i].image]) {
				used[s->ct[i].image] = true;
				s->host_unlimited[h] += s->img[s->ct[i].image].file_page_bytes +
							s->img[s->ct[i].image].image_bytes;
			}
		free(used);
	}
	for (i = 0; i < s->nct; i++)
		s->progress_total += s->ct[i].bytes * s->npolicies * s->nbudgets;
out:
	for (i = 0; i < s->nspec; i++)
		free(sel[i]);
	free(sel);
	return ret;
}
