// SPDX-License-Identifier: MIT
/*
 * The loop backend: attaches a regular file to a free loop device and reads
 * the device as a block device (through blockdev.c).
 *
 * Leaking a loop device is the failure to avoid: they are a small global
 * resource, and one left bound keeps its file busy until an administrator
 * notices.  So the device is bound with LO_FLAGS_AUTOCLEAR in the same
 * LOOP_CONFIGURE call that binds it: the kernel detaches it when its last
 * opener closes it, and the only opener is our fd, which the kernel closes
 * even if the process is killed.  There is no window in which a bound
 * device lacks autoclear, except on kernels older than 5.8 (no
 * LOOP_CONFIGURE), where LOOP_SET_FD and LOOP_SET_STATUS64 are two calls.
 *
 * As a model it shows a backend that holds a system-wide resource: made
 * so the kernel reclaims it if the process dies, released by close(), and
 * built on another backend's reading code (eshare_blockdev_wrap()) rather
 * than a copy of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/loop.h>
#include <linux/major.h>

#include "backend_impl.h"

/*
 * How many free devices to try.  Another process (or thread) calling
 * LOOP_CTL_GET_FREE at the same time is handed the same device, and only
 * one of the binds succeeds; the others ask again.
 */
#define LOOP_ATTEMPTS 64

static void short_sleep(void)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* Bind with the pre-5.8 pair of calls. 0, -EBUSY (device taken) or -errno. */
static int bind_legacy(int dev, int backing, bool direct)
{
	struct loop_info64 info;
	int rc;

	if (ioctl(dev, LOOP_SET_FD, backing))
		return -errno;
	/*
	 * From here until LOOP_SET_STATUS64 returns, a killed process leaks
	 * the device: this is the reason LOOP_CONFIGURE exists.
	 */
	memset(&info, 0, sizeof(info));
	info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
	if (ioctl(dev, LOOP_SET_STATUS64, &info))
		goto undo;
	if (direct && ioctl(dev, LOOP_SET_DIRECT_IO, 1UL))
		goto undo;
	return 0;
undo:
	rc = -errno;
	ioctl(dev, LOOP_CLR_FD, 0);
	return rc == -EBUSY ? -EIO : rc;
}

/* One attempt on device @n: 0 with *devfd bound; -EAGAIN (taken by someone
 * else) or -ENOENT (no usable node) to try again; or a final -errno. */
static int try_device(int n, int backing, bool direct, bool *legacy, int *devfd)
{
	struct loop_config cfg;
	char path[32];
	int dev, rc;

	snprintf(path, sizeof(path), "/dev/loop%d", n);
	dev = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (dev < 0) {
		/* A device just created may lack its node for a moment; one
		 * being removed by someone else vanishes. */
		if (errno == ENOENT || errno == ENXIO || errno == ENODEV) {
			short_sleep();
			return -ENOENT;
		}
		return errno == EACCES ? -EPERM : -errno;
	}
	if (!*legacy) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (uint32_t)backing;
		cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR |
				    (direct ? LO_FLAGS_DIRECT_IO : 0);
		if (!ioctl(dev, LOOP_CONFIGURE, &cfg)) {
			*devfd = dev;
			return 0;
		}
		rc = -errno;
		/* Kernels before 5.8 answer an unknown loop ioctl with
		 * -EINVAL (older) or -ENOTTY. */
		if (rc == -EINVAL || rc == -ENOTTY)
			*legacy = true;
	}
	if (*legacy) {
		rc = bind_legacy(dev, backing, direct);
		if (!rc) {
			*devfd = dev;
			return 0;
		}
	}
	close(dev);
	if (rc == -EBUSY)
		return -EAGAIN;
	return rc == -EACCES ? -EPERM : rc;
}

/* Bind @backing to a free loop device. 0 with *devfd and *num, or -errno. */
static int attach(int backing, bool direct, bool legacy, int *devfd, int *num)
{
	int ctl, n, rc = -EBUSY;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
			return -ENODEV;
		return errno == EACCES ? -EPERM : -errno;
	}
	for (int i = 0; i < LOOP_ATTEMPTS; i++) {
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			rc = errno == EACCES ? -EPERM : -errno;
			break;
		}
		rc = try_device(n, backing, direct, &legacy, devfd);
		if (rc != -EAGAIN && rc != -ENOENT) {
			if (!rc)
				*num = n;
			break;
		}
	}
	close(ctl);
	/* Out of attempts: lost every race, or the free device never got a
	 * node in /dev (a container without devtmpfs). */
	if (rc == -EAGAIN)
		return -EBUSY;
	return rc == -ENOENT ? -ENODEV : rc;
}

/* An already bound loop device: read it, leave it attached.  Takes @fd. */
static int use_existing(eshare_backend **out, int fd, const char *path, bool direct)
{
	struct loop_info64 info;
	char *real;
	int fl, rc;

	/* An unbound device would read as an empty disk; say what it is. */
	if (ioctl(fd, LOOP_GET_STATUS64, &info))
		goto fail_errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, (fl & ~O_NONBLOCK) | (direct ? O_DIRECT : 0)))
		goto fail_errno;
	rc = eshare_blockdev_wrap(out, fd, direct, "loop");
	if (rc) {
		close(fd);
		return rc;
	}
	real = realpath(path, NULL);
	rc = eshare_backend_set_device_path(*out, real ? real : path);
	free(real);
	if (rc) {
		/* Closing our fd of a device we did not bind detaches nothing
		 * unless its owner asked for autoclear and already closed. */
		eshare_backend_close(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
fail_errno:
	rc = -errno;
	close(fd);
	return rc;
}

static int loop_open(eshare_backend **out, const char *path,
		     const struct eshare_blockdev_opts *opts, bool legacy)
{
	char devpath[32];
	uint32_t flags;
	struct stat st;
	int fd, fl, rc, dev = -1, n = -1;
	bool direct;

	if (!out || !path)
		return -EINVAL;
	rc = eshare_blockdev_check_opts(&flags, opts);
	if (rc)
		return rc;
	direct = flags & ESHARE_BLOCKDEV_DIRECT;
	/* O_NONBLOCK: a FIFO must not hang the open (see blockdev.c). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto out_close;
	}
	if (S_ISBLK(st.st_mode) && major(st.st_rdev) == LOOP_MAJOR)
		return use_existing(out, fd, path, direct);
	/* The loop driver takes regular files and block devices. */
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		rc = -EINVAL;
		goto out_close;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
		rc = -errno;
		goto out_close;
	}
	rc = attach(fd, direct, legacy, &dev, &n);
	if (rc)
		goto out_close;
	/* The device holds its own reference to the file. */
	close(fd);
	rc = eshare_blockdev_wrap(out, dev, direct, "loop");
	if (rc) {
		close(dev);	/* autoclear: this detaches it */
		return rc;
	}
	snprintf(devpath, sizeof(devpath), "/dev/loop%d", n);
	rc = eshare_backend_set_device_path(*out, devpath);
	if (rc) {
		eshare_backend_close(*out);
		*out = NULL;
	}
	return rc;
out_close:
	close(fd);
	return rc;
}

int eshare_backend_open_loop(eshare_backend **out, const char *path,
			     const struct eshare_blockdev_opts *opts)
{
	return loop_open(out, path, opts, false);
}

int eshare_loop_open_legacy(eshare_backend **out, const char *path,
			    const struct eshare_blockdev_opts *opts)
{
	return loop_open(out, path, opts, true);
}
