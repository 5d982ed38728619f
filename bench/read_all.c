// SPDX-License-Identifier: MIT
/*
 * read_all: read every regular file of an EROFS image, and time it.
 *
 *   read_all [-m MODE] [-t THREADS] [-r REPEAT] [-o ORDER] [-b BACKEND] [-c CACHE_MB]
 *            [-x] [-a] [-n] PATH
 *
 * MODE
 *   lib    (default) PATH is an image: a fresh domain with an ample cache,
 *          attach, walk, read every file fully through eshare_pread().
 *   lower  PATH is an image, loaded into memory: map every extent of every
 *          file with the format layer, then time only decoding them
 *          (ef_decode_extent, plus a memcpy for plain extents): the codec
 *          cost with no file system, cache or I/O around it.  With -a,
 *          each decoded extent is also copied into fresh 4 KiB pages
 *          (malloc'd, kept until the repetition's timing ends): the memory
 *          a cache must fill, so "lower -a" is the floor for a cold
 *          cached read.
 *   dir    PATH is a directory (a kernel mount): walk it, read() every
 *          regular file.
 *   mount  PATH is an image: mount(2) it as erofs straight from the file
 *          (the kernel's file-backed mount, no loop device), then as dir.
 *
 * Every mode walks first, then reads the files with THREADS threads
 * taking the next file from a shared counter, each file read whole by one
 * thread.  ORDER (lib, dir, mount) is the order they are handed out in:
 *   balanced  (default) the files of BIG_FILE or more first, largest
 *             first, so that no thread is left reading a big file alone
 *             at the end while the others have nothing to do; then the
 *             others by inode number, close to the order of their data in
 *             an image made by mkfs.erofs, so that one reader's reads stay
 *             mostly sequential (backend_bytes shows how much the format
 *             layer's sequential window read).  The walk stats every
 *             file: for lib, THREADS
 *             threads walk the directories, opening and stating every
 *             file (its reader opens it again); for dir, fstatat() in the
 *             one-thread walk.
 *   walk      the walk's order (readdir order, depth first; lib: a
 *             one-thread walk that opens no file).
 * The time covers, for lib, attach + walk + read (the
 * backend is opened before: a loop device's setup is not reading); for
 * dir, walk + read; for mount, walk + read after mount(2).  walk_median_s
 * is the median of the part before the reading starts (attach + walk).
 * REPEAT runs the whole thing that many times, cold each time (a new
 * domain; a new mount for mount; for dir the caller must remount), and
 * prints the sum, the minimum and the median of the repetitions, and the
 * median CPU time (user + system of the whole process: for the kernel
 * modes, decompression done by kernel threads is not in it).
 * CACHE_MB (lib) defaults to 8 x the image's size, at least 64 MiB.
 * BACKEND (lib): file, blockdev, blockdev-direct, loop, loop-direct;
 * for blockdev PATH must be a block device.
 * -n (lib) advises every file ESHARE_ADVICE_NOREUSE, as a one-pass reader
 * that says so does: a file no other file shares with is decoded into the
 * reader's buffer, not cached.
 * -x also hashes every file's bytes (XXH3, order-independent sum) so that
 * two modes can be checked to read the same content; not for timing.
 *
 * Output: one line "RESULT key=value ..." on stdout; lib adds the domain's
 * backend_bytes, decompressed_bytes and hashed_bytes of the last repetition.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include <erofs_share/erofs_share.h>

#include "format/format.h"

#define BUFSZ (128u << 10)
#define BIG_FILE (1ull << 20) /* ORDER balanced: handed out first, largest first */

struct opts {
	const char *mode;
	const char *path;
	const char *backend;
	bool balanced; /* big files first, then by inode number */
	unsigned threads;
	unsigned repeat;
	uint64_t cache;
	bool hash;
	bool keep;
	bool noreuse;
};

/* What the walk found: inode numbers, paths (dir), sizes (balanced). */
struct list {
	uint64_t *ino;
	char **path;
	uint64_t *size;
	size_t *order; /* the order the files are read in */
	size_t n, cap;
};

struct result {
	uint64_t files;
	uint64_t bytes;
	uint64_t digest;
	double seconds;
	double rep[1024]; /* each repetition's seconds (the first 1024) */
	double cpu[1024]; /* and its CPU seconds (user + system, all threads) */
	double walk[1024]; /* and the part of it before the reading started */
	unsigned nrep;
	double cpu0;
	struct eshare_stats st; /* lib: the domain's, after the last repetition */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* Start timing one repetition: returns the wall clock; notes the CPU clock. */
static double start_time(struct result *r)
{
	r->cpu0 = cpu_now();
	return now();
}

/* Account one repetition's time. */
static void add_time(struct result *r, double s)
{
	double c = cpu_now() - r->cpu0;

	r->seconds += s;
	if (r->nrep < 1024) {
		r->cpu[r->nrep] = c;
		r->rep[r->nrep++] = s;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "read_all: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void list_add(struct list *l, uint64_t ino, char *path, uint64_t size)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->ino = realloc(l->ino, l->cap * sizeof(*l->ino));
		l->path = realloc(l->path, l->cap * sizeof(*l->path));
		l->size = realloc(l->size, l->cap * sizeof(*l->size));
		if (!l->ino || !l->path || !l->size)
			die("realloc", ENOMEM);
	}
	l->ino[l->n] = ino;
	l->path[l->n] = path;
	l->size[l->n] = size;
	l->n++;
}

static const struct list *sort_list;

/* Files of BIG_FILE or more largest first, then by inode number, then in walk order. */
static int cmp_size_desc(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	const struct list *l = sort_list;

	uint64_t sx = l->size[x] >= BIG_FILE ? l->size[x] : 0;
	uint64_t sy = l->size[y] >= BIG_FILE ? l->size[y] : 0;

	if (sx != sy)
		return sx < sy ? 1 : -1;
	if (l->ino[x] != l->ino[y])
		return l->ino[x] < l->ino[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Fix the order the files are read in (part of the timed work). */
static void list_order(struct list *l, bool balanced)
{
	l->order = malloc((l->n ? l->n : 1) * sizeof(*l->order));
	if (!l->order)
		die("malloc", ENOMEM);
	for (size_t i = 0; i < l->n; i++)
		l->order[i] = i;
	if (balanced) {
		sort_list = l;
		qsort(l->order, l->n, sizeof(*l->order), cmp_size_desc);
	}
}

static void list_free(struct list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->path[i]);
	free(l->ino);
	free(l->path);
	free(l->size);
	free(l->order);
	memset(l, 0, sizeof(*l));
}

/* ---- the parallel reader shared by all modes ---- */

struct pool {
	struct list *files;
	atomic_size_t next;
	atomic_uint_least64_t bytes;
	atomic_uint_least64_t digest;
	bool hash;
	bool noreuse; /* lib: advise every file ESHARE_ADVICE_NOREUSE */
	/* read file @i fully; returns bytes or -errno */
	int64_t (*read_one)(struct pool *p, size_t i, uint8_t *buf, XXH3_state_t *h);
	void *ctx;
};

static void *pool_worker(void *arg)
{
	struct pool *p = arg;
	uint8_t *buf = malloc(BUFSZ);
	XXH3_state_t *h = p->hash ? XXH3_createState() : NULL;
	uint64_t bytes = 0, digest = 0;
	size_t i;

	if (!buf || (p->hash && !h))
		die("malloc", ENOMEM);
	while ((i = atomic_fetch_add(&p->next, 1)) < p->files->n) {
		int64_t n;

		i = p->files->order[i];
		if (h)
			XXH3_64bits_reset(h);
		n = p->read_one(p, i, buf, h);
		if (n < 0)
			die(p->files->path[i] ? p->files->path[i] : "pread", (int)n);
		bytes += (uint64_t)n;
		if (h)
			digest += XXH3_64bits_digest(h);
	}
	atomic_fetch_add(&p->bytes, bytes);
	atomic_fetch_add(&p->digest, digest);
	XXH3_freeState(h);
	free(buf);
	return NULL;
}

static void pool_run(struct pool *p, unsigned threads)
{
	pthread_t tid[64];

	if (threads > 64)
		threads = 64;
	atomic_init(&p->next, 0);
	atomic_init(&p->bytes, 0);
	atomic_init(&p->digest, 0);
	for (unsigned t = 1; t < threads; t++)
		if (pthread_create(&tid[t], NULL, pool_worker, p))
			die("pthread_create", EAGAIN);
	pool_worker(p);
	for (unsigned t = 1; t < threads; t++)
		pthread_join(tid[t], NULL);
}

/* ---- lib: through the public API ---- */

struct dent {
	uint64_t ino;
	unsigned type;
	char name[256];
};

struct dents {
	struct dent *v;
	size_t n, cap;
};

static int collect(void *user, const char *name, size_t len, uint64_t ino, unsigned type,
		   uint64_t next)
{
	struct dents *d = user;

	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	if (len > 255)
		return -ENAMETOOLONG;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		d->v = realloc(d->v, d->cap * sizeof(*d->v));
		if (!d->v)
			return -ENOMEM;
	}
	d->v[d->n].ino = ino;
	d->v[d->n].type = type;
	memcpy(d->v[d->n].name, name, len);
	d->v[d->n].name[len] = 0;
	d->n++;
	return 0;
}

/*
 * Directories a walk has entered, by inode number: a crafted image's
 * directory that names an ancestor is entered once, so every walk ends.
 */
struct dirset {
	uint64_t *v; /* open addressing; 0 is free (inode numbers start at 1) */
	size_t mask, n;
};

/* Whether @ino is new to @s (and now in it). */
static bool dirset_add(struct dirset *s, uint64_t ino)
{
	size_t i;

	if (!s->v || 2 * (s->n + 1) > s->mask + 1) {
		size_t size = s->v ? 2 * (s->mask + 1) : 64;
		struct dirset g = { calloc(size, sizeof(uint64_t)), size - 1, 0 };

		if (!g.v)
			die("calloc", ENOMEM);
		for (i = 0; s->v && i <= s->mask; i++)
			if (s->v[i])
				dirset_add(&g, s->v[i]);
		free(s->v);
		*s = g;
	}
	for (i = (ino * 0x9e3779b97f4a7c15ull) >> 20 & s->mask; s->v[i]; i = (i + 1) & s->mask)
		if (s->v[i] == ino)
			return false;
	s->v[i] = ino;
	s->n++;
	return true;
}

static void lib_walk_dir(eshare_image *img, eshare_inode *dir, struct list *out,
			 struct dirset *seen);

static void lib_walk(eshare_image *img, eshare_inode *dir, struct list *out)
{
	struct dirset seen = { 0 };
	struct eshare_stat st = ESHARE_STAT_INIT;
	int rc = eshare_stat(dir, &st);

	if (rc)
		die("eshare_stat", rc);
	dirset_add(&seen, st.ino);
	lib_walk_dir(img, dir, out, &seen);
	free(seen.v);
}

static void lib_walk_dir(eshare_image *img, eshare_inode *dir, struct list *out,
			 struct dirset *seen)
{
	struct dents d = { 0 };
	uint64_t cookie = 0;
	int rc = eshare_readdir(dir, &cookie, collect, &d);

	if (rc)
		die("eshare_readdir", rc);
	for (size_t i = 0; i < d.n; i++) {
		eshare_inode *child;

		if (d.v[i].type == ESHARE_DT_REG) {
			list_add(out, d.v[i].ino, NULL, 0);
		} else if (d.v[i].type == ESHARE_DT_DIR && dirset_add(seen, d.v[i].ino)) {
			rc = eshare_inode_open(&child, img, d.v[i].ino);
			if (rc)
				die("eshare_inode_open", rc);
			lib_walk_dir(img, child, out, seen);
			eshare_inode_put(child);
		}
	}
	free(d.v);
}

static int64_t lib_read_one(struct pool *p, size_t i, uint8_t *buf, XXH3_state_t *h)
{
	eshare_image *img = p->ctx;
	eshare_inode *ino;
	uint64_t off = 0;
	ssize_t n;
	int rc = eshare_inode_open(&ino, img, p->files->ino[i]);

	if (rc)
		return rc;
	if (p->noreuse && (rc = eshare_inode_advise(ino, ESHARE_ADVICE_NOREUSE))) {
		eshare_inode_put(ino);
		return rc;
	}
	while ((n = eshare_pread(ino, buf, BUFSZ, off)) > 0) {
		if (h)
			XXH3_64bits_update(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	eshare_inode_put(ino);
	return n < 0 ? n : (int64_t)off;
}

/*
 * The balanced walk, by THREADS threads: each takes a directory from a
 * shared stack, reads it, stats its files (open, stat, put) and pushes its
 * subdirectories; the walk ends when the stack is empty and nobody is
 * reading a directory.
 */
struct pwalk {
	eshare_image *img;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	uint64_t *stack; /* directories' inode numbers */
	size_t n, cap;
	unsigned busy; /* threads reading a directory */
	struct dirset seen; /* directories pushed once */
	struct list *out;
};

static void pwalk_push(struct pwalk *w, uint64_t ino)
{
	if (!dirset_add(&w->seen, ino))
		return;
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 256;
		w->stack = realloc(w->stack, w->cap * sizeof(*w->stack));
		if (!w->stack)
			die("realloc", ENOMEM);
	}
	w->stack[w->n++] = ino;
}

static void *pwalk_worker(void *arg)
{
	struct pwalk *w = arg;
	struct list files = { 0 };
	struct dents d = { 0 };

	pthread_mutex_lock(&w->lock);
	for (;;) {
		eshare_inode *dir, *child;
		uint64_t cookie = 0, ino;
		int rc;

		while (!w->n && w->busy)
			pthread_cond_wait(&w->cv, &w->lock);
		if (!w->n)
			break;
		ino = w->stack[--w->n];
		w->busy++;
		pthread_mutex_unlock(&w->lock);

		d.n = 0;
		rc = eshare_inode_open(&dir, w->img, ino);
		if (!rc)
			rc = eshare_readdir(dir, &cookie, collect, &d);
		if (rc)
			die("eshare_readdir", rc);
		eshare_inode_put(dir);
		for (size_t i = 0; i < d.n; i++) {
			struct eshare_stat st = ESHARE_STAT_INIT;

			if (d.v[i].type != ESHARE_DT_REG)
				continue;
			rc = eshare_inode_open(&child, w->img, d.v[i].ino);
			if (!rc)
				rc = eshare_stat(child, &st);
			if (rc)
				die("eshare_stat", rc);
			eshare_inode_put(child);
			list_add(&files, d.v[i].ino, NULL, st.file_size);
		}

		pthread_mutex_lock(&w->lock);
		for (size_t i = 0; i < d.n; i++)
			if (d.v[i].type == ESHARE_DT_DIR)
				pwalk_push(w, d.v[i].ino);
		w->busy--;
		pthread_cond_broadcast(&w->cv);
	}
	for (size_t i = 0; i < files.n; i++)
		list_add(w->out, files.ino[i], NULL, files.size[i]);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->lock);
	free(d.v);
	list_free(&files);
	return NULL;
}

static void lib_walk_parallel(eshare_image *img, eshare_inode *root, struct list *out,
			      unsigned threads)
{
	struct pwalk w = { .img = img, .lock = PTHREAD_MUTEX_INITIALIZER,
			   .cv = PTHREAD_COND_INITIALIZER, .out = out };
	struct eshare_stat st = ESHARE_STAT_INIT;
	pthread_t tid[64];
	int rc = eshare_stat(root, &st);

	if (rc)
		die("eshare_stat", rc);
	pwalk_push(&w, st.ino);
	if (threads > 64)
		threads = 64;
	for (unsigned t = 1; t < threads; t++)
		if (pthread_create(&tid[t], NULL, pwalk_worker, &w))
			die("pthread_create", EAGAIN);
	pwalk_worker(&w);
	for (unsigned t = 1; t < threads; t++)
		pthread_join(tid[t], NULL);
	free(w.stack);
	free(w.seen.v);
}

static eshare_backend *open_backend(const struct opts *o)
{
	struct eshare_blockdev_opts bo = ESHARE_BLOCKDEV_OPTS_INIT;
	eshare_backend *be = NULL;
	int rc;

	if (!strcmp(o->backend, "file")) {
		rc = eshare_backend_open_file(&be, o->path);
	} else if (!strcmp(o->backend, "blockdev") || !strcmp(o->backend, "blockdev-direct")) {
		if (strstr(o->backend, "direct"))
			bo.flags = ESHARE_BLOCKDEV_DIRECT;
		rc = eshare_backend_open_blockdev(&be, o->path, &bo);
	} else if (!strcmp(o->backend, "loop") || !strcmp(o->backend, "loop-direct")) {
		if (strstr(o->backend, "direct"))
			bo.flags = ESHARE_BLOCKDEV_DIRECT;
		rc = eshare_backend_open_loop(&be, o->path, &bo);
	} else {
		rc = -EINVAL;
	}
	if (rc)
		die(o->backend, rc);
	return be;
}

static void run_lib(const struct opts *o, struct result *r)
{
	struct eshare_domain_opts dopts = ESHARE_DOMAIN_OPTS_INIT;
	eshare_domain *d;
	eshare_image *img;
	eshare_inode *root;
	struct list files = { 0 };
	struct pool p = { .files = &files, .read_one = lib_read_one, .hash = o->hash,
			  .noreuse = o->noreuse };
	double t0;
	int rc;

	dopts.cache_bytes = o->cache;
	rc = eshare_domain_create(&d, &dopts);
	if (rc)
		die("eshare_domain_create", rc);
	/* the backend is opened outside the timing: a loop device's setup is not reading */
	eshare_backend *be = open_backend(o);

	t0 = start_time(r);
	rc = eshare_image_attach(&img, d, be, NULL);
	if (rc)
		die("eshare_image_attach", rc);
	rc = eshare_root(&root, img);
	if (rc)
		die("eshare_root", rc);
	if (o->balanced)
		lib_walk_parallel(img, root, &files, o->threads);
	else
		lib_walk(img, root, &files);
	eshare_inode_put(root);
	list_order(&files, o->balanced);
	p.ctx = img;
	if (r->nrep < 1024)
		r->walk[r->nrep] = now() - t0;
	pool_run(&p, o->threads);
	add_time(r, now() - t0);
	r->files += files.n;
	r->bytes += atomic_load(&p.bytes);
	r->digest += atomic_load(&p.digest);
	r->st = (struct eshare_stats)ESHARE_STATS_INIT;
	rc = eshare_domain_stats(d, &r->st);
	if (rc)
		die("eshare_domain_stats", rc);
	eshare_image_detach(img);
	rc = eshare_domain_close(d);
	if (rc)
		die("eshare_domain_close", rc);
	list_free(&files);
}

/* ---- dir: the kernel's view of a mounted image ---- */

static void dir_walk(const char *base, const char *rel, struct list *out, bool balanced)
{
	char *full;
	DIR *dir;
	struct dirent *e;
	struct {
		char *name;
		unsigned char type;
		uint64_t size, ino;
	} *v = NULL;
	size_t n = 0, cap = 0;

	if (asprintf(&full, "%s/%s", base, rel) < 0)
		die("asprintf", ENOMEM);
	dir = opendir(full);
	if (!dir)
		die(full, errno);
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				die("realloc", ENOMEM);
		}
		v[n].name = strdup(e->d_name);
		v[n].type = e->d_type;
		v[n].size = 0;
		v[n].ino = 0;
		if (e->d_type == DT_REG && balanced) {
			struct stat st;

			if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
				die(e->d_name, errno);
			v[n].size = (uint64_t)st.st_size;
			v[n].ino = (uint64_t)st.st_ino;
		}
		n++;
	}
	closedir(dir);
	free(full);
	for (size_t i = 0; i < n; i++) {
		char *p;

		if (asprintf(&p, "%s%s%s", rel, *rel ? "/" : "", v[i].name) < 0)
			die("asprintf", ENOMEM);
		if (v[i].type == DT_REG) {
			list_add(out, v[i].ino, p, v[i].size);
		} else {
			if (v[i].type == DT_DIR)
				dir_walk(base, p, out, balanced);
			free(p);
		}
		free(v[i].name);
	}
	free(v);
}

static int64_t dir_read_one(struct pool *p, size_t i, uint8_t *buf, XXH3_state_t *h)
{
	int dfd = *(int *)p->ctx;
	int fd = openat(dfd, p->files->path[i], O_RDONLY | O_NOFOLLOW);
	int64_t total = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, BUFSZ)) > 0) {
		if (h)
			XXH3_64bits_update(h, buf, (size_t)n);
		total += n;
	}
	if (n < 0)
		total = -errno;
	close(fd);
	return total;
}

static void run_dir(const struct opts *o, const char *path, struct result *r)
{
	struct list files = { 0 };
	struct pool p = { .files = &files, .read_one = dir_read_one, .hash = o->hash };
	int dfd;
	double t0 = start_time(r);

	dir_walk(path, "", &files, o->balanced);
	list_order(&files, o->balanced);
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		die(path, errno);
	p.ctx = &dfd;
	if (r->nrep < 1024)
		r->walk[r->nrep] = now() - t0;
	pool_run(&p, o->threads);
	add_time(r, now() - t0);
	r->files += files.n;
	r->bytes += atomic_load(&p.bytes);
	r->digest += atomic_load(&p.digest);
	close(dfd);
	list_free(&files);
}

static void run_mount(const struct opts *o, struct result *r)
{
	char dir[] = "/tmp/read_all.XXXXXX";

	if (!mkdtemp(dir))
		die("mkdtemp", errno);
	/* a regular file as the source: the kernel's file-backed mount */
	if (mount(o->path, dir, "erofs", MS_RDONLY, NULL))
		die("mount (file-backed)", errno);
	run_dir(o, dir, r);
	if (umount(dir))
		die("umount", errno);
	rmdir(dir);
}

/* ---- lower: the codec alone ---- */

struct mem {
	uint8_t *p;
	uint64_t len;
};

static int mem_read(void *ctx, unsigned dev, void *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;

	if (dev || off > m->len || len > m->len - off)
		return -EIO;
	memcpy(buf, m->p + off, len);
	return 0;
}

struct ext {
	struct ef_map m;
	size_t file; /* index into the inode table */
};

struct lower {
	struct ef_fs *fs;
	struct ef_inode *inodes;
	size_t ninodes, icap;
	struct ext *ext;
	size_t next, ecap;
	atomic_size_t cursor;
	atomic_uint_least64_t bytes;
	uint64_t encoded_bytes;
	uint64_t max_llen;
	bool hash;
	bool keep; /* -a: copy the output into fresh pages, as a cache must */
	atomic_uint_least64_t digest;
	pthread_mutex_t kept_lock;
	void **kept;
	size_t nkept, kcap;
};

static int lower_dirent(void *user, const char *name, size_t len, uint64_t nid, unsigned ftype,
			uint64_t next)
{
	struct lower *lw = user;
	struct ef_inode ino;
	int rc;

	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	rc = ef_iget(lw->fs, nid, &ino);
	if (rc)
		return rc;
	if (S_ISDIR(ino.mode)) {
		uint64_t cookie = 0;

		return ef_readdir(lw->fs, &ino, &cookie, lower_dirent, lw);
	}
	if (!S_ISREG(ino.mode))
		return 0;
	if (lw->ninodes == lw->icap) {
		lw->icap = lw->icap ? 2 * lw->icap : 1024;
		lw->inodes = realloc(lw->inodes, lw->icap * sizeof(*lw->inodes));
		if (!lw->inodes)
			return -ENOMEM;
	}
	lw->inodes[lw->ninodes] = ino;
	for (uint64_t pos = 0; pos < ino.size;) {
		struct ef_map m;

		rc = ef_map(lw->fs, &lw->inodes[lw->ninodes], pos, &m);
		if (rc)
			return rc;
		if (pos < m.la || m.llen == 0 || m.llen > EF_MAX_LLEN)
			return -EFSCORRUPTED;
		if (lw->next == lw->ecap) {
			lw->ecap = lw->ecap ? 2 * lw->ecap : 4096;
			lw->ext = realloc(lw->ext, lw->ecap * sizeof(*lw->ext));
			if (!lw->ext)
				return -ENOMEM;
		}
		lw->ext[lw->next].m = m;
		lw->ext[lw->next].file = lw->ninodes;
		lw->next++;
		if (m.llen > lw->max_llen)
			lw->max_llen = m.llen;
		if (m.flags & (EF_MAP_ENCODED | EF_MAP_FRAGMENT))
			lw->encoded_bytes += m.llen;
		pos = m.la + m.llen;
	}
	lw->ninodes++;
	return 0;
}

static void *lower_worker(void *arg)
{
	struct lower *lw = arg;
	uint8_t *out = malloc(lw->max_llen ? lw->max_llen : 1);
	struct ef_scratch s = { 0 };
	uint64_t bytes = 0, digest = 0;
	void **kept = NULL;
	size_t nkept = 0, kcap = 0;
	size_t i;

	if (!out)
		die("malloc", ENOMEM);
	while ((i = atomic_fetch_add(&lw->cursor, 1)) < lw->next) {
		const struct ext *e = &lw->ext[i];
		struct ef_inode *ino = &lw->inodes[e->file];
		uint64_t llen = e->m.la + e->m.llen <= ino->size ? e->m.llen : ino->size - e->m.la;
		int rc = 0;

		if (!(e->m.flags & EF_MAP_MAPPED))
			memset(out, 0, llen);
		else if (e->m.flags & (EF_MAP_ENCODED | EF_MAP_FRAGMENT))
			rc = ef_decode_extent(lw->fs, ino, &e->m, out, &s);
		else if (e->m.flags & EF_MAP_META)
			rc = ef_read_metadata(lw->fs, ino->in_metabox, e->m.pa, out, llen);
		else
			rc = ef_read_device_raw(lw->fs, e->m.dev, e->m.pa, out, llen);
		if (rc)
			die("decode", rc);
		bytes += llen;
		if (lw->hash)
			digest += XXH3_64bits(out, llen);
		for (uint64_t o = 0; lw->keep && o < llen; o += 4096) {
			void *pg = malloc(4096);

			if (nkept == kcap) {
				kcap = kcap ? 2 * kcap : 4096;
				kept = realloc(kept, kcap * sizeof(*kept));
			}
			if (!pg || !kept)
				die("malloc", ENOMEM);
			memcpy(pg, out + o, llen - o < 4096 ? llen - o : 4096);
			kept[nkept++] = pg;
		}
	}
	if (nkept) {
		/* handed over to be freed after the timing */
		pthread_mutex_lock(&lw->kept_lock);
		if (lw->nkept + nkept > lw->kcap) {
			lw->kcap = lw->nkept + nkept;
			lw->kept = realloc(lw->kept, lw->kcap * sizeof(*lw->kept));
			if (!lw->kept)
				die("realloc", ENOMEM);
		}
		memcpy(lw->kept + lw->nkept, kept, nkept * sizeof(*kept));
		lw->nkept += nkept;
		pthread_mutex_unlock(&lw->kept_lock);
	}
	free(kept);
	atomic_fetch_add(&lw->bytes, bytes);
	atomic_fetch_add(&lw->digest, digest);
	ef_scratch_free(&s);
	free(out);
	return NULL;
}

static void run_lower(const struct opts *o, struct result *r)
{
	struct mem mem = { 0 };
	struct ef_io io = { .ctx = &mem, .read = mem_read };
	struct lower lw = { .hash = o->hash, .keep = o->keep,
			    .kept_lock = PTHREAD_MUTEX_INITIALIZER };
	struct ef_inode root;
	uint64_t cookie = 0;
	pthread_t tid[64];
	unsigned threads = o->threads > 64 ? 64 : o->threads;
	double t0;
	int fd, rc;
	struct stat st;

	fd = open(o->path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		die(o->path, errno);
	mem.len = (uint64_t)st.st_size;
	mem.p = malloc(mem.len ? mem.len : 1);
	if (!mem.p)
		die("malloc", ENOMEM);
	for (uint64_t off = 0; off < mem.len;) {
		ssize_t n = pread(fd, mem.p + off, mem.len - off, (off_t)off);

		if (n <= 0)
			die("read image", n < 0 ? errno : EIO);
		off += (uint64_t)n;
	}
	close(fd);
	rc = ef_fs_open(&lw.fs, &io, &mem.len, 1);
	if (rc)
		die("ef_fs_open", rc);
	rc = ef_iget(lw.fs, lw.fs->root_nid, &root);
	if (!rc)
		rc = ef_readdir(lw.fs, &root, &cookie, lower_dirent, &lw);
	if (rc)
		die("walk", rc);
	/* untimed warm-up pass would hide first-touch costs the library pays too: none */
	for (unsigned rep = 0; rep < o->repeat; rep++) {
		atomic_init(&lw.cursor, 0);
		atomic_init(&lw.bytes, 0);
		atomic_init(&lw.digest, 0);
		t0 = start_time(r);
		for (unsigned t = 1; t < threads; t++)
			if (pthread_create(&tid[t], NULL, lower_worker, &lw))
				die("pthread_create", EAGAIN);
		lower_worker(&lw);
		for (unsigned t = 1; t < threads; t++)
			pthread_join(tid[t], NULL);
		add_time(r, now() - t0);
		r->bytes += atomic_load(&lw.bytes);
		r->files += lw.ninodes;
		/* per extent, not per file: comparable only between lower runs */
		r->digest += atomic_load(&lw.digest);
		for (size_t k = 0; k < lw.nkept; k++)
			free(lw.kept[k]);
		lw.nkept = 0;
	}
	printf("INFO extents=%zu encoded_bytes=%llu\n", lw.next,
	       (unsigned long long)lw.encoded_bytes);
	ef_fs_close(lw.fs);
	free(lw.kept);
	free(lw.inodes);
	free(lw.ext);
	free(mem.p);
}

static void usage(void)
{
	fprintf(stderr, "usage: read_all [-m lib|lower|dir|mount] [-t THREADS] [-r REPEAT]\n"
			"                [-o balanced|walk] [-b file|blockdev|blockdev-direct|loop|loop-direct]\n"
			"                [-c CACHE_MB] [-x] [-a] [-n] PATH\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.mode = "lib", .backend = "file", .balanced = true, .threads = 1, .repeat = 1,
	};
	static struct result r;
	int c;

	while ((c = getopt(argc, argv, "m:t:r:o:b:c:xan")) != -1) {
		switch (c) {
		case 'm':
			o.mode = optarg;
			break;
		case 't':
			o.threads = (unsigned)atoi(optarg);
			break;
		case 'r':
			o.repeat = (unsigned)atoi(optarg);
			break;
		case 'o':
			if (strcmp(optarg, "balanced") && strcmp(optarg, "walk"))
				usage();
			o.balanced = !strcmp(optarg, "balanced");
			break;
		case 'b':
			o.backend = optarg;
			break;
		case 'c':
			o.cache = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'x':
			o.hash = true;
			break;
		case 'a':
			o.keep = true;
			break;
		case 'n':
			o.noreuse = true;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || !o.threads || !o.repeat)
		usage();
	o.path = argv[optind];
	if (!o.cache) {
		/*
		 * Ample, but not huge: the cache's tables grow with its budget
		 * and a 4 GiB one costs a small image more than its reads.
		 * Eight times the image holds everything down to a 1:8 ratio.
		 */
		struct stat st;

		o.cache = 64ull << 20;
		if (!stat(o.path, &st) && S_ISREG(st.st_mode) && 8ull * st.st_size > o.cache)
			o.cache = 8ull * (uint64_t)st.st_size;
	}
	if (!strcmp(o.mode, "lower")) {
		run_lower(&o, &r);
	} else {
		for (unsigned rep = 0; rep < o.repeat; rep++) {
			if (!strcmp(o.mode, "lib"))
				run_lib(&o, &r);
			else if (!strcmp(o.mode, "dir"))
				run_dir(&o, o.path, &r);
			else if (!strcmp(o.mode, "mount"))
				run_mount(&o, &r);
			else
				usage();
		}
	}
	printf("RESULT mode=%s%s backend=%s order=%s threads=%u repeat=%u files=%llu bytes=%llu "
	       "seconds=%.6f MBps=%.1f",
	       o.mode, o.keep ? "+pages" : "", strcmp(o.mode, "lib") ? "-" : o.backend,
	       strcmp(o.mode, "lower") ? (o.balanced ? "balanced" : "walk") : "-", o.threads,
	       o.repeat, (unsigned long long)r.files, (unsigned long long)r.bytes, r.seconds,
	       r.seconds > 0 ? r.bytes / r.seconds / 1e6 : 0.0);
	qsort(r.rep, r.nrep, sizeof(r.rep[0]), cmp_double);
	qsort(r.cpu, r.nrep, sizeof(r.cpu[0]), cmp_double);
	qsort(r.walk, r.nrep, sizeof(r.walk[0]), cmp_double);
	printf(" min_s=%.6f median_s=%.6f cpu_median_s=%.6f", r.rep[0], r.rep[r.nrep / 2],
	       r.cpu[r.nrep / 2]);
	if (strcmp(o.mode, "lower"))
		printf(" walk_median_s=%.6f", r.walk[r.nrep / 2]);
	if (!strcmp(o.mode, "lib"))
		printf(" backend_bytes=%llu decompressed_bytes=%llu hashed_bytes=%llu",
		       (unsigned long long)r.st.backend_bytes_read,
		       (unsigned long long)r.st.decompressed_bytes,
		       (unsigned long long)r.st.hashed_bytes);
	if (o.hash)
		printf(" digest=%016llx", (unsigned long long)r.digest);
	printf("\n");
	return 0;
}
