// SPDX-License-Identifier: MIT
/*
 * The bounded walk of walk.h.  Only the public API is used, so the same
 * code runs in unit tests and in the fuzzer.  Every call's result is
 * either counted as an error (negative) or checked against what the API
 * promises; nothing here trusts the image more than the library should.
 */
#include "walk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WALK_PIECE (64u << 10)
/* readdir is stopped and resumed by cookie every this many entries. */
#define WALK_PAUSE_EVERY 97u
/* A regular file is given up after this many failed pieces in a row. */
#define WALK_MAX_READ_ERRORS 3u
/* Larger xattr name lists cannot come from a valid inode. */
#define WALK_MAX_XATTR_LIST (1u << 20)

enum { CB_LIMIT = 1, CB_PAUSE = 2 };

struct dent {
	char *name;
	size_t len;
	uint64_t ino;
};

struct dlist {
	struct walk *w;
	struct dent *v;
	size_t n, cap;
	unsigned since_pause;
	uint64_t delivered;
	bool pausing;
	uint64_t last_next;
};

struct walk {
	eshare_image *img;
	struct walk_stats *st;
	uint64_t budget_used; /* bytes asked of pread, failed or not */
	uint64_t path_ino[WALK_DEFAULT_MAX_DEPTH * 4 + 2];
	char path[(WALK_DEFAULT_MAX_DEPTH * 4 + 2) * 256];
	uint8_t *buf;  /* WALK_PIECE bytes */
	uint8_t *vbuf; /* xattr values: 64 KiB */
	/* directories entered: open addressing by inode number (+1, 0 = empty) */
	uint64_t *dirs;
	size_t ndirs, dirs_cap;
};

/*
 * Whether directory @ino was entered before in this walk; if not, note it.
 * A crafted image may link one directory under many parents (Linux never
 * makes such an image): entering it once keeps the walk linear in the
 * image.  Out of memory, the directory counts as seen.
 */
static bool dir_seen(struct walk *w, uint64_t ino)
{
	uint64_t key = ino + 1;
	size_t i;

	if ((w->ndirs + 1) * 2 > w->dirs_cap) {
		size_t cap = w->dirs_cap ? w->dirs_cap * 2 : 256;
		uint64_t *t = calloc(cap, sizeof(*t));

		if (!t)
			return true;
		for (size_t k = 0; k < w->dirs_cap; k++) {
			if (!w->dirs[k])
				continue;
			for (i = (size_t)(w->dirs[k] * 0x9e3779b97f4a7c15ull) & (cap - 1); t[i];
			     i = (i + 1) & (cap - 1))
				;
			t[i] = w->dirs[k];
		}
		free(w->dirs);
		w->dirs = t;
		w->dirs_cap = cap;
	}
	for (i = (size_t)(key * 0x9e3779b97f4a7c15ull) & (w->dirs_cap - 1); w->dirs[i];
	     i = (i + 1) & (w->dirs_cap - 1))
		if (w->dirs[i] == key)
			return true;
	w->dirs[i] = key;
	w->ndirs++;
	return false;
}

static void error_at(struct walk *w, long err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void violation(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violation(struct walk *w, const char *fmt, ...)
{
	struct walk_stats *st = w->st;
	va_list ap;

	if (!st->violations++) {
		va_start(ap, fmt);
		vsnprintf(st->first_violation, sizeof(st->first_violation), fmt, ap);
		va_end(ap);
	}
}

/* Count a negative return; one that is not an errno at all is a violation. */
static void error_at(struct walk *w, long err, const char *fmt, ...)
{
	struct walk_stats *st = w->st;
	va_list ap;

	if (err >= 0)
		return;
	if (err < -4095) {
		violation(w, "%s: returned %ld, not an errno", fmt, err);
		return;
	}
	if (!st->errors++) {
		st->first_error = (int)err;
		va_start(ap, fmt);
		vsnprintf(st->first_error_where, sizeof(st->first_error_where), fmt, ap);
		va_end(ap);
	}
	if (-err < WALK_ERRNO_SLOTS)
		st->errno_count[-err]++;
	else
		st->errno_other++;
}

static bool budget_take(struct walk *w, uint64_t len)
{
	if (w->budget_used + len > w->st->max_bytes) {
		w->st->byte_limit_hit = true;
		return false;
	}
	w->budget_used += len;
	return true;
}

static bool dt_valid(unsigned type)
{
	switch (type) {
	case ESHARE_DT_UNKNOWN: case ESHARE_DT_FIFO: case ESHARE_DT_CHR: case ESHARE_DT_DIR:
	case ESHARE_DT_BLK: case ESHARE_DT_REG: case ESHARE_DT_LNK: case ESHARE_DT_SOCK:
		return true;
	}
	return false;
}

static int collect(void *user, const char *name, size_t namelen, uint64_t ino, unsigned type,
		   uint64_t next)
{
	struct dlist *dl = user;
	struct walk *w = dl->w;
	struct dent *d;

	dl->last_next = next;
	/* "." and ".." count here, so a resume that never advances ends too */
	if (++dl->delivered > w->st->max_entries + 2 * WALK_PAUSE_EVERY) {
		w->st->entry_limit_hit = true;
		return CB_LIMIT;
	}
	if (namelen == 0 || namelen > 255 || !name) {
		violation(w, "readdir: name of %zu bytes", namelen);
		return 0;
	}
	if (!dt_valid(type))
		violation(w, "readdir: type %u", type);
	if ((namelen == 1 && name[0] == '.') || (namelen == 2 && !memcmp(name, "..", 2)))
		goto delivered;
	if (w->st->entries >= w->st->max_entries) {
		w->st->entry_limit_hit = true;
		return CB_LIMIT;
	}
	w->st->entries++;
	if (dl->n == dl->cap) {
		size_t cap = dl->cap ? dl->cap * 2 : 16;
		struct dent *v = realloc(dl->v, cap * sizeof(*v));

		if (!v)
			return CB_LIMIT;
		dl->v = v;
		dl->cap = cap;
	}
	d = &dl->v[dl->n];
	d->name = malloc(namelen);
	if (!d->name)
		return CB_LIMIT;
	memcpy(d->name, name, namelen);
	d->len = namelen;
	d->ino = ino;
	dl->n++;
delivered:
	if (dl->pausing && ++dl->since_pause >= WALK_PAUSE_EVERY) {
		dl->since_pause = 0;
		return CB_PAUSE;
	}
	return 0;
}

static void dlist_free(struct dlist *dl)
{
	for (size_t i = 0; i < dl->n; i++)
		free(dl->v[i].name);
	free(dl->v);
}

/*
 * List a directory, stopping every WALK_PAUSE_EVERY entries and resuming
 * from the last entry's cookie, so that resuming is exercised too.  Each
 * call delivers WALK_PAUSE_EVERY entries before it pauses, and entries
 * delivered count against a limit, so this ends even if cookies do not
 * advance.
 */
static void list_dir(struct walk *w, eshare_inode *dir, struct dlist *dl)
{
	uint64_t cookie = 0;
	int rc;

	dl->pausing = !w->st->skip_extra;
	for (;;) {
		uint64_t c = cookie;

		rc = eshare_readdir(dir, &c, collect, dl);
		if (rc == CB_PAUSE) {
			cookie = dl->last_next;
			continue;
		}
		break;
	}
	if (rc < 0)
		error_at(w, rc, "readdir");
	else if (rc != 0 && rc != CB_LIMIT)
		violation(w, "readdir returned %d", rc);
}

/* The odd-offset reads: their results are checked against what the
 * sequential pass saw (@head: bytes [0, 8192) if known; @tail: the last
 * up to 16 bytes if known). */
static void read_extra(struct walk *w, eshare_inode *ino, uint64_t size, const uint8_t *head,
		       size_t head_len, const uint8_t *tail, size_t tail_len)
{
	uint8_t *buf = w->buf;
	ssize_t r;

	r = eshare_pread(ino, buf, 0, 0);
	if (r < 0)
		error_at(w, r, "pread len 0");
	else if (r > 0)
		violation(w, "pread of 0 bytes returned %zd", r);

	if (size > 4095 && budget_take(w, 4097)) {
		r = eshare_pread(ino, buf, 4097, 4095);
		if (r < 0) {
			error_at(w, r, "pread 4095+4097");
		} else if (r == 0 || r > 4097) {
			violation(w, "pread 4095+4097 of a %llu-byte file: %zd",
				  (unsigned long long)size, r);
		} else {
			w->st->extra_bytes += (uint64_t)r;
			if (head_len >= 4095 + (size_t)r && memcmp(buf, head + 4095, (size_t)r))
				violation(w, "pread 4095+%zd differs from the sequential read", r);
		}
	}
	if (size > 0 && budget_take(w, 4096)) {
		uint64_t off = size > 5 ? size - 5 : 0;

		r = eshare_pread(ino, buf, 4096, off);
		if (r < 0) {
			error_at(w, r, "pread tail");
		} else if (r == 0 || (uint64_t)r > size - off) {
			violation(w, "pread at %llu of a %llu-byte file: %zd",
				  (unsigned long long)off, (unsigned long long)size, r);
		} else {
			w->st->extra_bytes += (uint64_t)r;
			if ((uint64_t)r == size - off && tail_len >= (size_t)r &&
			    memcmp(buf, tail + tail_len - (size_t)r, (size_t)r))
				violation(w, "tail read differs from the sequential read");
		}
	}
	r = eshare_pread(ino, buf, 16, size);
	if (r < 0)
		error_at(w, r, "pread at EOF");
	else if (r != 0)
		violation(w, "pread at EOF returned %zd", r);
	if (size < UINT64_MAX - 20000) {
		r = eshare_pread(ino, buf, 16, size + 12345);
		if (r < 0)
			error_at(w, r, "pread past EOF");
		else if (r != 0)
			violation(w, "pread past EOF returned %zd", r);
	}
	/* off + len overflows: nothing may be read (pread(2) says EINVAL). */
	r = eshare_pread(ino, buf, 16, UINT64_MAX - 7);
	if (r > 0)
		violation(w, "pread at 2^64-8 returned %zd", r);
}

static void read_file(struct walk *w, eshare_inode *ino, uint64_t size)
{
	uint8_t head[8192], tail[16];
	size_t head_len = 0, tail_len = 0;
	unsigned bad = 0;
	uint64_t off = 0;
	bool clean = true;

	while (off < size) {
		uint64_t want = size - off < WALK_PIECE ? size - off : WALK_PIECE;
		ssize_t r;

		if (!budget_take(w, want)) {
			clean = false;
			break;
		}
		r = eshare_pread(ino, w->buf, (size_t)want, off);
		if (r < 0) {
			error_at(w, r, "pread %llu+%llu", (unsigned long long)off,
				 (unsigned long long)want);
			clean = false;
			if (++bad >= WALK_MAX_READ_ERRORS)
				break;
			off += want;
			continue;
		}
		if (r == 0 || (uint64_t)r > want) {
			violation(w, "pread %llu+%llu of a %llu-byte file returned %zd",
				  (unsigned long long)off, (unsigned long long)want,
				  (unsigned long long)size, r);
			clean = false;
			break;
		}
		bad = 0;
		if (off < sizeof(head) && clean && off == head_len) {
			size_t n = sizeof(head) - head_len;

			if (n > (size_t)r)
				n = (size_t)r;
			memcpy(head + head_len, w->buf, n);
			head_len += n;
		}
		off += (uint64_t)r;
		w->st->file_bytes += (uint64_t)r;
		if (off == size && clean) {
			tail_len = (size_t)r < sizeof(tail) ? (size_t)r : sizeof(tail);
			memcpy(tail, w->buf + r - tail_len, tail_len);
		}
	}
	if (!w->st->skip_extra)
		read_extra(w, ino, size, head, head_len, tail, tail_len);
}

static void read_xattrs(struct walk *w, eshare_inode *ino)
{
	ssize_t n, m, v;
	char *list;

	v = eshare_getxattr(ino, "user.eshare-walk-absent", NULL, 0);
	if (v < 0 && v != -ENODATA)
		error_at(w, v, "getxattr absent");
	n = eshare_listxattr(ino, NULL, 0);
	if (n <= 0) {
		error_at(w, n, "listxattr size");
		return;
	}
	if (n > (ssize_t)WALK_MAX_XATTR_LIST) {
		violation(w, "listxattr needs %zd bytes", n);
		return;
	}
	list = malloc((size_t)n);
	if (!list)
		return;
	m = n > 1 ? eshare_listxattr(ino, list, (size_t)n - 1) : -ERANGE;
	if (m != -ERANGE) {
		if (m < 0)
			error_at(w, m, "listxattr short");
		else
			violation(w, "listxattr into %zd of %zd bytes returned %zd", n - 1, n, m);
	}
	m = eshare_listxattr(ino, list, (size_t)n);
	if (m < 0) {
		error_at(w, m, "listxattr");
		goto out;
	}
	if (m != n || list[n - 1] != '\0') {
		violation(w, "listxattr returned %zd of %zd bytes, not NUL-terminated", m, n);
		goto out;
	}
	for (char *p = list; p < list + n; p += strlen(p) + 1) {
		/*
		 * Names come from disk as they are; one holding a NUL byte
		 * splits into pieces, some empty (the kernel lists them the
		 * same way).  Count them; getxattr of a piece may say ENODATA.
		 */
		if (!*p) {
			w->st->xattr_odd_names++;
			continue;
		}
		w->st->xattr_names++;
		v = eshare_getxattr(ino, p, NULL, 0);
		if (v < 0) {
			error_at(w, v, "getxattr size");
			continue;
		}
		if (v > 65535) {
			violation(w, "getxattr %s: %zd bytes", p, v);
			continue;
		}
		m = eshare_getxattr(ino, p, w->vbuf, (size_t)v);
		if (m < 0) {
			error_at(w, m, "getxattr");
			continue;
		}
		if (m != v) {
			violation(w, "getxattr %s: %zd then %zd bytes", p, v, m);
			continue;
		}
		w->st->xattr_bytes += (uint64_t)v;
		/* (a length of 0 asks for the size: not a short buffer) */
		if (v > 1) {
			m = eshare_getxattr(ino, p, w->vbuf, (size_t)v - 1);
			if (m != -ERANGE) {
				if (m < 0)
					error_at(w, m, "getxattr short");
				else
					violation(w, "getxattr %s into %zd of %zd bytes returned %zd",
						  p, v - 1, v, m);
			}
		}
	}
out:
	free(list);
}

static void read_link(struct walk *w, eshare_inode *ino, uint64_t size)
{
	char small[8];
	ssize_t r;

	r = eshare_readlink(ino, (char *)w->buf, WALK_PIECE);
	if (r < 0) {
		error_at(w, r, "readlink");
		return;
	}
	/* as readlink(2) on a kernel mount: at most 4095 bytes, cut at a NUL */
	if ((uint64_t)r > size || r > 4095 || memchr(w->buf, '\0', (size_t)r))
		violation(w, "readlink: %zd bytes of a %llu-byte symlink", r,
			  (unsigned long long)size);
	w->st->link_bytes += (uint64_t)(r < WALK_PIECE ? r : WALK_PIECE);
	if (w->st->skip_extra)
		return;
	size = (uint64_t)r;
	r = eshare_readlink(ino, small, sizeof(small));
	if (r < 0)
		error_at(w, r, "readlink short");
	else if ((uint64_t)r != size)
		violation(w, "readlink into 8 bytes: %zd of %llu", r, (unsigned long long)size);
}

static void walk_dir(struct walk *w, eshare_inode *dir, unsigned depth, size_t pathlen,
		     bool by_name);

/*
 * Everything on one open inode; directories recurse.  @pathlen: length of
 * its path in w->path; @by_name: every component was found by
 * eshare_lookup_at(), so eshare_lookup() of the path must find it too.
 */
static void visit(struct walk *w, eshare_inode *ino, unsigned depth, size_t pathlen,
		  bool by_name)
{
	struct eshare_stat st = ESHARE_STAT_INIT;
	ssize_t r;
	int rc;

	w->st->opened++;
	if (depth > w->st->max_depth_seen)
		w->st->max_depth_seen = depth;
	rc = eshare_stat(ino, &st);
	if (rc) {
		error_at(w, rc, "stat");
		return;
	}
	if (st.layout > 4)
		violation(w, "stat: layout %u", st.layout);
	read_xattrs(w, ino);
	switch (st.mode & S_IFMT) {
	case S_IFDIR:
		w->st->dirs++;
		r = eshare_pread(ino, w->buf, 1, 0);
		if (r != -EISDIR)
			violation(w, "pread of a directory: %zd", r);
		for (unsigned i = 0; i < depth; i++) {
			if (w->path_ino[i] == st.ino) {
				w->st->cycles++;
				return;
			}
		}
		if (depth >= w->st->max_depth) {
			w->st->depth_cuts++;
			return;
		}
		if (dir_seen(w, st.ino)) {
			w->st->relinked++;
			return;
		}
		if (by_name && depth > 0 && !w->st->skip_extra) {
			eshare_inode *again;

			w->path[pathlen] = '\0';
			rc = eshare_lookup(&again, w->img, w->path);
			if (rc) {
				error_at(w, rc, "lookup path");
			} else {
				struct eshare_stat st2 = ESHARE_STAT_INIT;

				if (!eshare_stat(again, &st2) && st2.ino != st.ino)
					violation(w, "lookup of a path found ino %llu, not %llu",
						  (unsigned long long)st2.ino,
						  (unsigned long long)st.ino);
				eshare_inode_put(again);
			}
		}
		w->path_ino[depth] = st.ino;
		walk_dir(w, ino, depth, pathlen, by_name);
		return;
	case S_IFREG:
		w->st->regs++;
		if (!w->st->skip_extra) {
			r = eshare_readlink(ino, (char *)w->buf, 16);
			if (r != -EINVAL)
				violation(w, "readlink of a regular file: %zd", r);
		}
		read_file(w, ino, st.file_size);
		return;
	case S_IFLNK:
		w->st->symlinks++;
		r = eshare_pread(ino, w->buf, 1, 0);
		if (r != -EINVAL)
			violation(w, "pread of a symlink: %zd", r);
		read_link(w, ino, st.file_size);
		return;
	case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		w->st->specials++;
		r = eshare_pread(ino, w->buf, 1, 0);
		if (r != -EINVAL)
			violation(w, "pread of a special file: %zd", r);
		return;
	default:
		violation(w, "stat: mode 0%o", st.mode);
	}
}

static void walk_dir(struct walk *w, eshare_inode *dir, unsigned depth, size_t pathlen,
		     bool by_name)
{
	struct dlist dl = { .w = w };

	list_dir(w, dir, &dl);
	for (size_t i = 0; i < dl.n; i++) {
		struct dent *d = &dl.v[i];
		bool clean = by_name && !memchr(d->name, '/', d->len) &&
			     !memchr(d->name, '\0', d->len);
		eshare_inode *child;
		int rc;

		rc = eshare_lookup_at(&child, dir, d->name, d->len);
		if (rc) {
			error_at(w, rc, "lookup_at");
			/* The number readdir gave must open, or fail cleanly. */
			rc = eshare_inode_open(&child, w->img, d->ino);
			if (rc) {
				error_at(w, rc, "inode_open");
				continue;
			}
			clean = false;
		}
		w->path[pathlen] = '/';
		memcpy(w->path + pathlen + 1, d->name, d->len);
		visit(w, child, depth + 1, pathlen + 1 + d->len, clean);
		eshare_inode_put(child);
	}
	dlist_free(&dl);
}

/* Reset @st's outputs, keep its inputs (defaults filled in). */
static struct walk *walk_begin(eshare_image *img, struct walk_stats *st)
{
	unsigned max_depth = st->max_depth;
	uint64_t max_entries = st->max_entries, max_bytes = st->max_bytes;
	bool skip_extra = st->skip_extra;
	struct walk *w;

	memset(st, 0, sizeof(*st));
	st->max_depth = max_depth ? max_depth : WALK_DEFAULT_MAX_DEPTH;
	if (st->max_depth > WALK_DEFAULT_MAX_DEPTH * 4)
		st->max_depth = WALK_DEFAULT_MAX_DEPTH * 4;
	st->max_entries = max_entries ? max_entries : WALK_DEFAULT_MAX_ENTRIES;
	st->max_bytes = max_bytes ? max_bytes : WALK_DEFAULT_MAX_BYTES;
	st->skip_extra = skip_extra;

	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->img = img;
	w->st = st;
	w->buf = malloc(WALK_PIECE);
	w->vbuf = malloc(65536);
	if (!w->buf || !w->vbuf) {
		free(w->buf);
		free(w->vbuf);
		free(w);
		return NULL;
	}
	return w;
}

static int walk_end(struct walk *w)
{
	int rc = w->st->first_error;

	free(w->buf);
	free(w->vbuf);
	free(w->dirs);
	free(w);
	return rc;
}

int eshare_test_walk(eshare_image *img, struct walk_stats *st)
{
	struct eshare_image_info info = ESHARE_IMAGE_INFO_INIT;
	struct eshare_stats ist = ESHARE_STATS_INIT;
	struct eshare_stat rst = ESHARE_STAT_INIT;
	struct walk *w = walk_begin(img, st);
	eshare_inode *root;
	char feat[256];
	size_t flen;
	int rc;

	if (!w)
		return -ENOMEM;
	rc = eshare_image_info(img, &info);
	if (rc)
		error_at(w, rc, "image_info");
	flen = eshare_image_features(img, feat, sizeof(feat));
	if (strnlen(feat, sizeof(feat)) != (flen < sizeof(feat) ? flen : sizeof(feat) - 1))
		violation(w, "image_features: length %zu", flen);
	rc = eshare_image_stats(img, &ist);
	if (rc)
		error_at(w, rc, "image_stats");

	rc = eshare_root(&root, img);
	if (rc) {
		error_at(w, rc, "root");
		return walk_end(w);
	}
	rc = eshare_stat(root, &rst);
	if (rc)
		error_at(w, rc, "stat root");
	else if ((rst.mode & S_IFMT) != S_IFDIR)
		violation(w, "root has mode 0%o", rst.mode);
	visit(w, root, 0, 0, true);
	eshare_inode_put(root);
	return walk_end(w);
}

int eshare_test_walk_from(eshare_image *img, eshare_inode *start, struct walk_stats *st)
{
	struct walk *w = walk_begin(img, st);

	if (!w)
		return -ENOMEM;
	visit(w, start, 0, 0, false);
	return walk_end(w);
}

static void walk_reset(struct walk_stats *st)
{
	struct walk_stats keep = { .max_depth = st->max_depth, .max_entries = st->max_entries,
				   .max_bytes = st->max_bytes, .skip_extra = st->skip_extra };

	*st = keep;
}

static int attach_copies(eshare_image **out, eshare_domain *d, const uint8_t *data, size_t len,
			 unsigned ndev)
{
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;
	eshare_backend *be[5] = { NULL };
	int rc = 0;

	for (unsigned i = 0; i <= ndev && !rc; i++)
		rc = eshare_backend_memory(&be[i], data, len, NULL, NULL);
	if (!rc) {
		o.devices = ndev ? &be[1] : NULL;
		o.ndevices = ndev;
		rc = eshare_image_attach(out, d, be[0], &o);
	}
	if (rc)
		for (unsigned i = 0; i <= ndev; i++)
			eshare_backend_close(be[i]);
	return rc;
}

int eshare_test_run_bytes(const uint8_t *data, size_t len, uint64_t cache_bytes,
			  struct walk_stats *st, int *attach_rc)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_domain *d;
	eshare_image *img;
	int rc;

	walk_reset(st);
	o.cache_bytes = cache_bytes;
	rc = eshare_domain_create(&d, &o);
	*attach_rc = rc;
	if (rc)
		return rc;
	rc = attach_copies(&img, d, data, len, 0);
	for (unsigned n = 1; rc == -ENXIO && n <= 4; n++)
		rc = attach_copies(&img, d, data, len, n);
	*attach_rc = rc;
	if (!rc) {
		eshare_test_walk(img, st);
		eshare_image_detach(img);
	}
	rc = eshare_domain_close(d);
	if (rc && !st->violations++) {
		snprintf(st->first_violation, sizeof(st->first_violation),
			 "domain close after the walk: %d", rc);
	}
	return 0;
}

bool eshare_test_attach_errno_expected(int rc)
{
	/* ESHARE_ENOTEROFS: not an EROFS image at all (no magic, too short for it) */
	switch (rc) {
	case -EUCLEAN: case -EIO: case -ESHARE_ENOTEROFS: case -EOPNOTSUPP: case -ENXIO:
	case -ENOMEM:
		return true;
	}
	return false;
}

bool eshare_test_walk_errors_expected(const struct walk_stats *st, int *odd)
{
	static const int ok[] = { EUCLEAN, EIO, EOPNOTSUPP, ENOMEM, ENOENT, ENOTDIR, ENODATA,
				  ENAMETOOLONG, EINVAL, ENXIO, ELOOP };

	if (st->errno_other) {
		*odd = 0;
		return false;
	}
	for (int e = 1; e < WALK_ERRNO_SLOTS; e++) {
		bool fine = false;

		if (!st->errno_count[e])
			continue;
		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			fine |= ok[i] == e;
		if (!fine) {
			*odd = -e;
			return false;
		}
	}
	return true;
}

void eshare_test_walk_format(const struct walk_stats *st, char *buf, size_t len)
{
	snprintf(buf, len,
		 "entries=%llu opened=%llu dirs=%llu regs=%llu lnk=%llu spc=%llu bytes=%llu+%llu "
		 "xattrs=%llu depth=%u cycles=%llu errors=%llu (first %d at %s) violations=%llu%s%s",
		 (unsigned long long)st->entries, (unsigned long long)st->opened,
		 (unsigned long long)st->dirs, (unsigned long long)st->regs,
		 (unsigned long long)st->symlinks, (unsigned long long)st->specials,
		 (unsigned long long)st->file_bytes, (unsigned long long)st->extra_bytes,
		 (unsigned long long)st->xattr_names, st->max_depth_seen,
		 (unsigned long long)st->cycles, (unsigned long long)st->errors, st->first_error,
		 st->errors ? st->first_error_where : "-", (unsigned long long)st->violations,
		 st->violations ? ": " : "", st->violations ? st->first_violation : "");
}
