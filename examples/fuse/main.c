/* SPDX-License-Identifier: MIT */
/*
 * erofs-share-fuse: serve the EROFS images of one libsharecache domain from
 * one FUSE mount; identical files share one cached copy in the library and,
 * with -o share_nodes, one node (and so one copy in the kernel's page cache).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "fusefs.h"

#define MAX_IMAGES 4096
#define MAX_DEVICES 256

static void usage(FILE *f)
{
	fprintf(f,
"usage: erofs-share-fuse [OPTIONS] MOUNTPOINT [IMAGE | NAME=IMAGE]...\n"
"       erofs-share-fuse ctl SOCKET add NAME IMAGE [--device FILE]...\n"
"       erofs-share-fuse ctl SOCKET remove NAME | list | stats [--json]\n"
"\n"
"Serves EROFS images read-only from one mount, all in one libsharecache\n"
"domain, so that files of identical content are cached once.  One plain\n"
"IMAGE is the mount's root; otherwise each image is a top-level directory\n"
"named NAME (or the file name without .erofs).  With --control, zero\n"
"images is valid, and the mount always holds one directory per image.\n"
"\n"
"Options:\n"
"  --policy off|trust|verify|compute\n"
"                      how identical files share (default verify; off for one\n"
"                      image without --control or -o direct_io, where nothing\n"
"                      can share): off shares nothing; trust believes on-disk\n"
"                      fingerprints (an image may then claim another's\n"
"                      content); verify shares a file only after hashing its\n"
"                      own bytes; compute hashes all\n"
"  --cache-size BYTES  the library's page-cache budget (K, M, G, T suffixes;\n"
"                      default 256M)\n"
"  --device NAME=FILE  an extra device of image NAME, in device-table order\n"
"                      (repeat); a bare FILE goes to every image that needs one\n"
"  --backend file|blockdev|loop|blockdev-direct|loop-direct\n"
"                      how images and devices are read (default file); the\n"
"                      -direct ones read with O_DIRECT, so the kernel does not\n"
"                      cache the image files too\n"
"  --control SOCKET    a Unix socket (mode 0600) to add and remove images while\n"
"                      mounted: see the ctl command\n"
"  --threads N         N threads serve requests (default: the CPUs online, 2\n"
"                      to 10): one receives; having received one, it makes a\n"
"                      waiting thread the receiver and serves the request\n"
"  --spin USEC         the receiving thread looks for the next request this\n"
"                      long before it sleeps (default 50; 0: it sleeps at once):\n"
"                      a reader that asks again meanwhile pays no wakeup\n"
"  -s                  single-threaded\n"
"  -f                  stay in the foreground (log to stderr, not syslog)\n"
"  -d                  debug: libfuse traces every request (implies -f)\n"
"  -o share_nodes      files of different images that read through one shared\n"
"                      object and have equal attributes (mode, owner, size,\n"
"                      blocks, times to the nanosecond, nlink, xattrs) get one\n"
"                      node: the kernel caches their pages once, and they show\n"
"                      one st_ino, like hard links across images\n"
"  -o direct_io        the kernel caches no file data: every read() goes\n"
"                      through the library's cache (mmap MAP_SHARED then fails\n"
"                      with ENODEV; MAP_PRIVATE and exec still work)\n"
"  -o OPT[,OPT...]     other mount options go to libfuse (allow_other,\n"
"                      auto_unmount, fsname=..., max_read=...).  The mount is\n"
"                      always ro,default_permissions\n"
"  -h, --help          this text\n"
"  -V, --version       versions of this program and libsharecache\n"
"\n"
"Exit status: 0 after a clean unmount, 1 on failure, 2 on a usage error.\n");
}

static void lib_log(void *user, int level, const char *msg)
{
	struct fs *fs = user;

	/* Corruption is reported once per path by the operations themselves. */
	if (level <= ESHARE_LOG_WARNING && (level == ESHARE_LOG_WARNING || fs->debug))
		fs_log(fs, level, "%s", msg);
	else if (fs->debug)
		fs_log(fs, level, "%s", msg);
}

struct image_arg {
	char *name;
	const char *path;
	const char *devices[MAX_DEVICES];
	unsigned ndevices;
};

static char *default_name(const char *path)
{
	const char *b = strrchr(path, '/');
	size_t len;

	b = b ? b + 1 : path;
	len = strlen(b);
	if (len > 6 && !strcmp(b + len - 6, ".erofs"))
		len -= 6;
	return strndup(b, len);
}

/*
 * Serving threads by default: one a CPU, between 2 and 10 (libfuse's own
 * loop's default).  On 2 cores more threads read no faster, one reader or
 * four, and each costs a stack, a read buffer of up to 1 MiB and often a
 * malloc arena (BENCHMARKS.md).
 */
#define DEFAULT_SPIN_US 50

static unsigned default_threads(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus <= 2 ? 2 : cpus >= 10 ? 10 : (unsigned)cpus;
}

static void *ctl_thread(void *arg)
{
	fs_ctl_run(arg);
	return NULL;
}

/*
 * Start a thread with every signal blocked: the exit signals must reach the
 * thread that serves requests, so that they wake it (fs_serve()).
 */
static int start_blocked(pthread_t *tid, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(tid, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "erofs-share-fuse: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'erofs-share-fuse --help'.\n");
	return 2;
}

/* Append "a,b" to the comma-separated @opts. */
static int add_opt(char **opts, const char *o, size_t len)
{
	size_t ol = *opts ? strlen(*opts) : 0;
	char *n = realloc(*opts, ol + len + 2);

	if (!n)
		return -ENOMEM;
	if (ol)
		n[ol++] = ',';
	memcpy(n + ol, o, len);
	n[ol + len] = 0;
	*opts = n;
	return 0;
}

int main(int argc, char **argv)
{
	static struct fs fs;
	struct eshare_domain_opts dopts = ESHARE_DOMAIN_OPTS_INIT;
	static struct image_arg imgs[MAX_IMAGES];
	const char *devs[MAX_DEVICES], *devnames[MAX_DEVICES], *bare[MAX_DEVICES];
	unsigned nimgs = 0, ndevs = 0, nbare = 0, i, j;
	const char *mountpoint = NULL, *control = NULL;
	char *abs_mnt = NULL;
	bool policy_given = false;
	uint64_t cache = 0, threads = 0, spin = DEFAULT_SPIN_US;
	bool single = false, named = false, has_fsname = false;
	char *fuse_opts = NULL, msg[1024];
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	pthread_t ctl_tid;
	int ret = 1, err, k;

	if (argc >= 2 && !strcmp(argv[1], "ctl"))
		return fs_ctl_client(argc - 2, argv + 2);

	fs.policy = ESHARE_SHARE_VERIFY;
	fs.timeout = 86400.0;
	for (k = 1; k < argc; k++) {
		const char *a = argv[k], *val = NULL;
		const char *longs[] = { "--policy", "--cache-size", "--device", "--backend",
					"--control", "--threads", "--spin" };
		int which = -1;

		for (j = 0; j < 7; j++) {
			size_t l = strlen(longs[j]);

			if (!strncmp(a, longs[j], l) && (a[l] == 0 || a[l] == '=')) {
				which = (int)j;
				if (a[l] == '=') {
					val = a + l + 1;
				} else {
					if (k + 1 >= argc)
						return usage_error("%s needs a value", a);
					val = argv[++k];
				}
				break;
			}
		}
		if (which == 0) {
			if (esc_parse_policy(&fs.policy, val))
				return usage_error("bad policy '%s' (off, trust, verify, compute)", val);
			policy_given = true;
		} else if (which == 1) {
			if (esc_parse_size(&cache, val) || !cache)
				return usage_error("bad cache size '%s'", val);
		} else if (which == 2) {
			const char *eq = strchr(val, '=');

			if (ndevs >= MAX_DEVICES)
				return usage_error("too many devices (%s)", val);
			devnames[ndevs] = NULL;
			devs[ndevs] = val;
			if (eq && eq != val) {
				char *n = strndup(val, (size_t)(eq - val));

				if (!n)
					return 1;
				devnames[ndevs] = n;
				devs[ndevs] = eq + 1;
			}
			ndevs++;
		} else if (which == 3) {
			if (!esc_backend_known(val))
				return usage_error("bad backend '%s' (file, blockdev, loop, blockdev-direct, "
						   "loop-direct)", val);
			fs.backend = val;
		} else if (which == 4) {
			control = val;
		} else if (which == 5) {
			if (esc_parse_uint(&threads, val, 1024))
				return usage_error("bad thread count '%s' (1..1024)", val);
		} else if (which == 6) {
			if (!strcmp(val, "0"))
				spin = 0;
			else if (esc_parse_uint(&spin, val, 1000000))
				return usage_error("bad spin time '%s' (0..1000000 microseconds)", val);
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("erofs-share-fuse: libsharecache %s, libfuse %s\n", eshare_version(),
			       fuse_pkgversion());
			return 0;
		} else if (!strcmp(a, "-s")) {
			single = true;
		} else if (!strcmp(a, "-f")) {
			fs.foreground = true;
		} else if (!strcmp(a, "-d")) {
			fs.debug = fs.foreground = true;
		} else if (!strncmp(a, "-o", 2)) {
			const char *o = a[2] ? a + 2 : (k + 1 < argc ? argv[++k] : NULL);

			if (!o)
				return usage_error("%s needs options", a);
			while (*o) {
				size_t l = strcspn(o, ",");

				if (l == 11 && !strncmp(o, "share_nodes", l))
					fs.share_nodes = true;
				else if (l == 9 && !strncmp(o, "direct_io", l))
					fs.direct_io = true;
				else if (l && add_opt(&fuse_opts, o, l))
					return 1;
				if (l > 7 && !strncmp(o, "fsname=", 7))
					has_fsname = true;
				o += l;
				if (*o == ',')
					o++;
			}
		} else if (a[0] == '-' && a[1]) {
			return usage_error("unknown option '%s'", a);
		} else if (!mountpoint) {
			mountpoint = a;
		} else {
			const char *eq = strchr(a, '=');
			struct image_arg *im;

			if (nimgs >= MAX_IMAGES)
				return usage_error("too many images (%s)", a);
			im = &imgs[nimgs++];
			if (eq && eq != a) {
				im->name = strndup(a, (size_t)(eq - a));
				im->path = eq + 1;
				named = true;
			} else {
				im->name = default_name(a);
				im->path = a;
			}
			if (!im->name)
				return 1;
			if (!fs_valid_name(im->name))
				return usage_error("bad image name '%s'", im->name);
		}
	}
	if (!mountpoint)
		return usage_error("%s", "no mount point given");
	if (!nimgs && !control)
		return usage_error("%s", "no image given (and no --control socket)");
	for (i = 0; i < nimgs; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(imgs[i].name, imgs[j].name))
				return usage_error("two images named '%s'", imgs[i].name);
	fs.root_is_image = nimgs == 1 && !named && !control;
	/*
	 * Devices: NAME=FILE goes to image NAME; anything else (a bare FILE, or
	 * a file name holding '=') to every image whose attach needs devices.
	 */
	for (i = 0; i < ndevs; i++) {
		bool found = false;

		for (j = 0; devnames[i] && j < nimgs; j++) {
			if (strcmp(devnames[i], imgs[j].name))
				continue;
			imgs[j].devices[imgs[j].ndevices++] = devs[i];
			found = true;
		}
		if (!found) {
			if (devnames[i])
				devs[i] = devs[i] - strlen(devnames[i]) - 1;
			bare[nbare++] = devs[i];
		}
	}

	/*
	 * One image, no control socket to add others, the kernel's page cache
	 * keeping what is read: no file has another image's to share with,
	 * and twins within the image are cached by the kernel one node each
	 * anyway; sharing would only hash them first.  Unless asked for.
	 */
	if (!policy_given && nimgs == 1 && !control && !fs.direct_io) {
		fs.policy = ESHARE_SHARE_OFF;
		if (fs.debug)
			fs_log(&fs, LOG_DEBUG, "policy off: one image, nothing to share with");
	}
	dopts.cache_bytes = cache;
	dopts.policy = fs.policy;
	dopts.id = "erofs-share-fuse";
	dopts.log = lib_log;
	dopts.log_user = &fs;
	err = eshare_domain_create(&fs.domain, &dopts);
	if (err) {
		fprintf(stderr, "erofs-share-fuse: cannot create the domain: %s\n",
			eshare_strerror(err));
		return 1;
	}
	fs.root_mtime = time(NULL);
	if (fs_init(&fs)) {
		fprintf(stderr, "erofs-share-fuse: out of memory\n");
		goto out_fs;
	}
	for (i = 0; i < nimgs; i++) {
		const struct image_arg *im = &imgs[i];

		/* its own devices, else the bare ones if it needs devices */
		if (im->ndevices)
			err = fs_add_image(&fs, im->name, im->path, im->devices, im->ndevices,
					   false, msg, sizeof(msg));
		else
			err = fs_add_image(&fs, im->name, im->path, bare, nbare, true, msg,
					   sizeof(msg));
		if (err) {
			fprintf(stderr, "erofs-share-fuse: cannot attach %s: %s\n", im->name, msg);
			goto out_fs;
		}
	}
	if (control && fs_ctl_start(&fs, control, msg, sizeof(msg))) {
		fprintf(stderr, "erofs-share-fuse: %s\n", msg);
		goto out_fs;
	}

	if (fuse_opt_add_arg(&args, argv[0]) || (fs.debug && fuse_opt_add_arg(&args, "-d")) ||
	    fuse_opt_add_arg(&args, "-o") ||
	    add_opt(&fuse_opts, "ro,default_permissions,subtype=erofs-share", 42) ||
	    (!has_fsname && add_opt(&fuse_opts, "fsname=erofs-share", 18)) ||
	    fuse_opt_add_arg(&args, fuse_opts)) {
		fprintf(stderr, "erofs-share-fuse: out of memory\n");
		goto out_ctl;
	}
	fs.se = fuse_session_new(&args, &fusefs_ops, sizeof(fusefs_ops), &fs);
	if (!fs.se) {
		/* libfuse printed which option it did not take */
		ret = 2;
		goto out_ctl;
	}
	if (fuse_set_signal_handlers(fs.se))
		goto out_se;
	/*
	 * By its absolute path: a daemon in the background has left its
	 * working directory, and unmounts at the end by this name.
	 */
	abs_mnt = realpath(mountpoint, NULL);
	if (!abs_mnt || fuse_session_mount(fs.se, abs_mnt)) {
		fprintf(stderr, "erofs-share-fuse: cannot mount on %s%s%s\n", mountpoint,
			abs_mnt ? "" : ": ", abs_mnt ? "" : strerror(errno));
		goto out_sig;
	}
	if (fuse_daemonize(fs.foreground))
		goto out_umount;
	if (!fs.foreground)
		openlog("erofs-share-fuse", LOG_PID, LOG_DAEMON);
	if (control && start_blocked(&ctl_tid, ctl_thread, &fs)) {
		fs_log(&fs, LOG_ERR, "cannot start the control thread");
		control = NULL;
		goto out_umount;
	}
	if (fs_recache_start(&fs))
		fs_log(&fs, LOG_WARNING, "cannot start the thread that drops merged nodes' "
					 "pages: their opens drop them");
	err = fs_serve(fs.se, single ? 1 : threads ? (unsigned)threads : default_threads(),
		       (unsigned)spin);
	if (err < 0)
		fs_log(&fs, LOG_ERR, "serving requests failed: %s", strerror(-err));
	/* SIGTERM, SIGINT, SIGHUP and an unmount end the loop: clean */
	ret = err < 0 ? 1 : 0;
	fs_recache_stop(&fs);
	if (control) {
		fs_ctl_stop();
		pthread_join(ctl_tid, NULL);
		control = NULL;
	}
out_umount:
	fuse_session_unmount(fs.se);
out_sig:
	fuse_remove_signal_handlers(fs.se);
out_se:
	fuse_session_destroy(fs.se);
	fs.se = NULL;
out_ctl:
	if (control) {
		fs_ctl_stop();
		fs_ctl_run(&fs);	/* returns at once: closes and unlinks the socket */
	}
out_fs:
	fs_destroy(&fs);
	if (eshare_domain_close(fs.domain))
		fprintf(stderr, "erofs-share-fuse: the domain is still busy\n");
	fuse_opt_free_args(&args);
	free(fuse_opts);
	free(abs_mnt);
	for (i = 0; i < nimgs; i++)
		free(imgs[i].name);
	for (i = 0; i < ndevs; i++)
		free((char *)devnames[i]);
	return ret;
}
