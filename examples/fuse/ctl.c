/* SPDX-License-Identifier: MIT */
/*
 * The control socket: a Unix stream socket (mode 0600) taking one request
 * per connection.  A request is its words, each ended by a NUL byte, then
 * end of stream; the reply is "ok\n" or "error: reason\n", then a body.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "fusefs.h"

#define REQ_MAX 65536
#define MAX_DEVICES 256

static int listen_fd = -1;
static int stop_pipe[2] = { -1, -1 };
static char *sock_path;

/* A growing string. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

/* A JSON string (names and paths may hold any byte). */
static void sb_json_str(struct sbuf *b, const char *s)
{
	sb_printf(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			sb_printf(b, "\\u%04x", c);
		else
			sb_printf(b, "%c", c);
	}
	sb_printf(b, "\"");
}

static const char *const stat_names[] = {
	"logical_bytes", "cached_data_pages", "cached_data_bytes", "cached_meta_pages",
	"cached_meta_bytes", "shared_objects", "shared_members", "hits", "misses", "fills",
	"evictions", "backend_bytes_read", "decompressed_bytes", "hashed_bytes",
	"verify_failures", "images",
};

static void stat_values(const struct eshare_stats *s, uint64_t v[16])
{
	const uint64_t vals[16] = {
		s->logical_bytes, s->cached_data_pages, s->cached_data_bytes,
		s->cached_meta_pages, s->cached_meta_bytes, s->shared_objects,
		s->shared_members, s->hits, s->misses, s->fills, s->evictions,
		s->backend_bytes_read, s->decompressed_bytes, s->hashed_bytes,
		s->verify_failures, s->images,
	};

	memcpy(v, vals, sizeof(vals));
}

static void put_stats(struct sbuf *b, const struct eshare_stats *s, bool json, const char *indent)
{
	uint64_t v[16];
	size_t i;

	stat_values(s, v);
	for (i = 0; i < 16; i++) {
		if (json)
			sb_printf(b, "%s\"%s\": %" PRIu64, i ? ", " : "", stat_names[i], v[i]);
		else
			sb_printf(b, "%s%-20s %" PRIu64 "\n", indent, stat_names[i], v[i]);
	}
}

/*
 * Where the daemon's memory is: its resident set (/proc/self/status), the
 * heap as malloc sees it (every arena; blocks in use and free ones it has
 * not given back), and what the library's cache holds (file data, tails
 * waiting for a page, metadata).  The rest of the anonymous set is mostly
 * the serving threads' stacks and buffers.
 */
static void put_memory(struct sbuf *b, const struct eshare_stats *ds, bool json)
{
	uint64_t v[8] = { 0 };
	static const char *const names[8] = {
		"rss_bytes", "rss_anon_bytes", "threads", "heap_arena_bytes", "heap_mmap_bytes",
		"heap_in_use_bytes", "heap_free_bytes", "cache_bytes",
	};
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	unsigned i;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long x;

		if (sscanf(line, "VmRSS: %llu", &x) == 1)
			v[0] = (uint64_t)x * 1024;
		else if (sscanf(line, "RssAnon: %llu", &x) == 1)
			v[1] = (uint64_t)x * 1024;
		else if (sscanf(line, "Threads: %llu", &x) == 1)
			v[2] = x;
	}
	if (f)
		fclose(f);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	{
		struct mallinfo2 mi = mallinfo2();

		v[3] = mi.arena;
		v[4] = mi.hblkhd;
		v[5] = mi.uordblks + mi.hblkhd;
		v[6] = mi.fordblks;
	}
#endif
	v[7] = ds->cached_data_bytes + ds->tail_unpaged_bytes + ds->cached_meta_bytes;
	for (i = 0; i < 8; i++) {
		if (json)
			sb_printf(b, "%s\"%s\": %" PRIu64, i ? ", " : "", names[i], v[i]);
		else
			sb_printf(b, "  %-20s %" PRIu64 "\n", names[i], v[i]);
	}
}

char *fs_stats(struct fs *fs, bool json)
{
	struct eshare_stats ds = ESHARE_STATS_INIT;
	struct sbuf b = { 0 };
	struct fimage *f;
	int i;

	eshare_domain_stats(fs->domain, &ds);
	if (json) {
		sb_printf(&b, "{\"policy\": %u, \"domain\": {", fs->policy);
		put_stats(&b, &ds, true, "");
		sb_printf(&b, "}, \"images\": [");
	} else {
		sb_printf(&b, "domain:\n");
		put_stats(&b, &ds, false, "  ");
	}
	pthread_mutex_lock(&fs->lock);
	for (f = fs->images; f; f = f->next) {
		struct eshare_stats is = ESHARE_STATS_INIT;

		eshare_image_stats(f->img, &is);
		if (json) {
			sb_printf(&b, "%s{\"name\": ", f == fs->images ? "" : ", ");
			sb_json_str(&b, f->name);
			sb_printf(&b, ", \"path\": ");
			sb_json_str(&b, f->path);
			sb_printf(&b, ", \"stats\": {");
			put_stats(&b, &is, true, "");
			sb_printf(&b, "}}");
		} else {
			sb_printf(&b, "image %s (%s):\n", f->name, f->path);
			put_stats(&b, &is, false, "  ");
		}
	}
	if (json)
		sb_printf(&b, "], \"nodes\": %" PRIu64 ", \"fuse\": {", fs->nodes);
	else
		sb_printf(&b, "nodes %" PRIu64 "\nfuse:\n", fs->nodes);
	pthread_mutex_unlock(&fs->lock);
	for (i = 0; i < FOP_COUNT; i++) {
		unsigned long long ok = atomic_load(&fs->served[i]);
		unsigned long long bad = atomic_load(&fs->failed[i]);

		if (json)
			sb_printf(&b, "%s\"%s\": {\"served\": %llu, \"failed\": %llu}", i ? ", " : "",
				  fusefs_op_names[i], ok, bad);
		else
			sb_printf(&b, "  %-14s served %llu failed %llu\n", fusefs_op_names[i], ok,
				  bad);
	}
	if (json) {
		sb_printf(&b, "}, \"memory\": {");
		put_memory(&b, &ds, true);
		sb_printf(&b, "}}\n");
	} else {
		sb_printf(&b, "memory:\n");
		put_memory(&b, &ds, false);
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

char *fs_list(struct fs *fs)
{
	struct sbuf b = { 0 };
	struct fimage *f;

	sb_printf(&b, "%s", "");
	pthread_mutex_lock(&fs->lock);
	for (f = fs->images; f; f = f->next)
		sb_printf(&b, "%s\t%s\n", f->name, f->path);
	pthread_mutex_unlock(&fs->lock);
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

int fs_ctl_start(struct fs *fs, const char *path, char *msg, size_t msglen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(msg, msglen, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || pipe(stop_pipe)) {
		snprintf(msg, msglen, "control socket: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	/* A stale socket of a dead daemon is replaced; a live one is not. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		snprintf(msg, msglen, "control socket %s is in use", path);
		return -EADDRINUSE;
	}
	{
		struct stat st;

		if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
			unlink(path);
	}
	old = umask(0077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		int err = errno;

		umask(old);
		close(fd);
		snprintf(msg, msglen, "control socket %s: %s", path, strerror(err));
		return -err;
	}
	umask(old);
	chmod(path, 0600);
	listen_fd = fd;
	sock_path = realpath(path, NULL);
	return 0;
}

static void reply(int fd, int err, const char *errmsg, const char *body)
{
	struct sbuf b = { 0 };
	size_t off = 0;

	if (err)
		sb_printf(&b, "error: %s\n", errmsg);
	else
		sb_printf(&b, "ok\n%s", body ? body : "");
	while (!b.oom && off < b.len) {
		ssize_t w = write(fd, b.s + off, b.len - off);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(b.s);
}

static void handle(struct fs *fs, int fd)
{
	char *req = malloc(REQ_MAX + 1), *argv[2 * MAX_DEVICES + 8];
	char msg[512] = "";
	size_t len = 0;
	int argc = 0, err = 0;
	char *p, *body = NULL;

	if (!req)
		return;
	while (len < REQ_MAX) {
		ssize_t r = read(fd, req + len, REQ_MAX - len);

		if (r <= 0)
			break;
		len += (size_t)r;
	}
	req[len] = 0;
	for (p = req; p < req + len && argc < (int)(sizeof(argv) / sizeof(argv[0])); p += strlen(p) + 1)
		argv[argc++] = p;
	if (len && req[len - 1] != 0) {
		reply(fd, -EINVAL, "malformed request", NULL);
		goto out;
	}
	if (argc == 0) {
		reply(fd, -EINVAL, "empty request", NULL);
	} else if (!strcmp(argv[0], "add") && argc >= 3) {
		const char *devs[MAX_DEVICES];
		unsigned nd = 0;
		int i;

		for (i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--device") || i + 1 >= argc || nd >= MAX_DEVICES) {
				reply(fd, -EINVAL, "usage: add NAME IMAGE [--device FILE]...", NULL);
				goto out;
			}
			devs[nd++] = argv[++i];
		}
		if (fs->root_is_image) {
			reply(fd, -EINVAL, "the mount serves one image as its root", NULL);
			goto out;
		}
		err = fs_add_image(fs, argv[1], argv[2], devs, nd, false, msg, sizeof(msg));
		if (err)
			fs_log(fs, LOG_ERR, "add %s: %s", argv[1], msg);
		else
			fs_log(fs, LOG_INFO, "added %s (%s)", argv[1], argv[2]);
		reply(fd, err, msg, NULL);
	} else if (!strcmp(argv[0], "remove") && argc == 2) {
		err = fs_remove_image(fs, argv[1]);
		if (err == -ENOENT)
			snprintf(msg, sizeof(msg), "no image named '%s'", argv[1]);
		else if (err)
			snprintf(msg, sizeof(msg), "the mount's root image cannot be removed");
		else
			fs_log(fs, LOG_INFO, "removed %s", argv[1]);
		reply(fd, err, msg, NULL);
	} else if (!strcmp(argv[0], "list") && argc == 1) {
		body = fs_list(fs);
		reply(fd, body ? 0 : -ENOMEM, "out of memory", body);
	} else if (!strcmp(argv[0], "stats") && (argc == 1 || (argc == 2 && !strcmp(argv[1], "--json")))) {
		body = fs_stats(fs, argc == 2);
		reply(fd, body ? 0 : -ENOMEM, "out of memory", body);
	} else {
		reply(fd, -EINVAL, "unknown request (add, remove, list, stats)", NULL);
	}
out:
	free(body);
	free(req);
}

void fs_ctl_run(struct fs *fs)
{
	struct pollfd pf[2] = { { .fd = listen_fd, .events = POLLIN },
				{ .fd = stop_pipe[0], .events = POLLIN } };

	for (;;) {
		int c;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents)
			break;
		if (!(pf[0].revents & POLLIN))
			continue;
		c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		handle(fs, c);
		close(c);
	}
	close(listen_fd);
	listen_fd = -1;
	if (sock_path)
		unlink(sock_path);
	free(sock_path);
	sock_path = NULL;
}

void fs_ctl_stop(void)
{
	if (stop_pipe[1] >= 0) {
		char c = 0;

		if (write(stop_pipe[1], &c, 1) < 0)
			return;
	}
}

/* ------------------------------------------------------------------ */
/* The client: erofs-share-fuse ctl SOCKET REQUEST...                  */

static int ctl_usage(void)
{
	fprintf(stderr,
		"usage: erofs-share-fuse ctl SOCKET add NAME IMAGE [--device FILE]...\n"
		"       erofs-share-fuse ctl SOCKET remove NAME | list | stats [--json]\n");
	return 2;
}

int fs_ctl_client(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sbuf req = { 0 }, rep = { 0 };
	char buf[4096];
	int fd, i, ret;

	/* argv: SOCKET VERB ARGS... */
	if (argc < 2)
		return ctl_usage();
	if (!strcmp(argv[1], "add")) {
		if (argc < 4)
			return ctl_usage();
		for (i = 4; i < argc; i += 2)
			if (strcmp(argv[i], "--device") || i + 1 >= argc)
				return ctl_usage();
	} else if (!strcmp(argv[1], "remove")) {
		if (argc != 3)
			return ctl_usage();
	} else if (!strcmp(argv[1], "list")) {
		if (argc != 2)
			return ctl_usage();
	} else if (!strcmp(argv[1], "stats")) {
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json")))
			return ctl_usage();
	} else {
		return ctl_usage();
	}
	if (strlen(argv[0]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "erofs-share-fuse: socket path too long: %s\n", argv[0]);
		return 1;
	}
	strcpy(sa.sun_path, argv[0]);
	for (i = 1; i < argc; i++) {
		/* The daemon runs in /: image and device paths go absolute. */
		bool is_path = !strcmp(argv[1], "add") && (i == 3 || (i > 4 && i % 2 == 1));
		char *abs = is_path ? realpath(argv[i], NULL) : NULL;

		sb_printf(&req, "%s", abs ? abs : argv[i]);
		free(abs);
		if (!req.oom) {
			sb_printf(&req, "x");
			req.s[req.len - 1] = 0;
		}
	}
	if (req.oom) {
		fprintf(stderr, "erofs-share-fuse: out of memory\n");
		return 1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "erofs-share-fuse: %s: %s\n", argv[0], strerror(errno));
		free(req.s);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	for (size_t off = 0; off < req.len;) {
		ssize_t w = write(fd, req.s + off, req.len - off);

		if (w <= 0) {
			fprintf(stderr, "erofs-share-fuse: %s: %s\n", argv[0], strerror(errno));
			close(fd);
			free(req.s);
			return 1;
		}
		off += (size_t)w;
	}
	free(req.s);
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r <= 0)
			break;
		sb_printf(&rep, "%.*s", (int)r, buf);
	}
	close(fd);
	if (rep.oom || !rep.s) {
		fprintf(stderr, "erofs-share-fuse: no reply from %s\n", argv[0]);
		free(rep.s);
		return 1;
	}
	if (!strncmp(rep.s, "ok\n", 3)) {
		fputs(rep.s + 3, stdout);
		ret = 0;
	} else {
		fprintf(stderr, "erofs-share-fuse: %s", rep.s);
		ret = 1;
	}
	free(rep.s);
	return ret;
}
