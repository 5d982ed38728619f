// SPDX-License-Identifier: MIT
/*
 * The block-device backend: reads a block device opened read-only, either
 * through the page cache or with O_DIRECT.
 *
 * O_DIRECT needs the file offset, the length and the memory address aligned
 * to the device's logical block size.  The library asks for arbitrary
 * ranges (a 40-byte inode, a 17-byte xattr), so an unaligned request is
 * widened to whole logical blocks, read into an aligned bounce buffer and
 * the wanted part copied out.  The loop backend reads its device through
 * this code as well.
 *
 * As a model it shows a source with alignment rules (block_size), a
 * preferred I/O size taken from the device (io_size, from BLKIOOPT),
 * per-thread scratch memory without a lock, and option structs checked
 * with eshare_copy_struct().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fs.h>

#include "backend_impl.h"

/*
 * Bounce buffers are BOUNCE_BYTES long (or one logical block if that is
 * larger), so a large unaligned read takes several device reads.  A few
 * are kept per backend for reuse; a reader that finds none free allocates
 * its own, so concurrent readers never share one.
 */
#define BOUNCE_BYTES (128u * 1024)
#define BOUNCE_SLOTS 4

/* Largest single request, a multiple of any logical block size (<= 64 KiB
 * here): reads above it are shortened and the caller continues. */
#define MAX_IO ((size_t)1 << 30)

struct bdev_handle {
	int fd;
	bool direct;
	uint32_t lbs;		/* logical block size, a power of two */
	uint32_t bounce_len;	/* a multiple of lbs */
	uint64_t size;		/* bytes, from BLKGETSIZE64 at open */
	_Atomic(void *) bounce[BOUNCE_SLOTS];
};

static void *bounce_get(struct bdev_handle *b)
{
	void *p;

	for (int i = 0; i < BOUNCE_SLOTS; i++) {
		p = atomic_exchange(&b->bounce[i], NULL);
		if (p)
			return p;
	}
	if (posix_memalign(&p, b->lbs, b->bounce_len))
		return NULL;
	return p;
}

static void bounce_put(struct bdev_handle *b, void *p)
{
	for (int i = 0; i < BOUNCE_SLOTS; i++) {
		void *expected = NULL;

		if (atomic_compare_exchange_strong(&b->bounce[i], &expected, p))
			return;
	}
	free(p);
}

static ssize_t pread_retry(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	do {
		n = pread(fd, buf, len, (off_t)off);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Read an unaligned range through bounce buffers, one buffer at a time. */
static ssize_t bdev_pread_bounce(struct bdev_handle *b, unsigned char *buf, size_t len,
				 uint64_t off)
{
	uint64_t mask = b->lbs - 1;
	unsigned char *bounce = bounce_get(b);
	size_t done = 0;
	ssize_t ret = 0;

	if (!bounce)
		return -ENOMEM;
	while (done < len) {
		uint64_t cur = off + done;
		uint64_t start = cur & ~mask;
		size_t skip = (size_t)(cur - start);
		size_t want = len - done + skip;
		size_t avail, copy;
		ssize_t n;

		if (want > b->bounce_len)
			want = b->bounce_len;
		want = (want + (size_t)mask) & ~(size_t)mask;
		n = pread_retry(b->fd, bounce, want, start);
		if (n < 0) {
			ret = n;
			break;
		}
		if ((size_t)n <= skip)
			break;	/* end of the device */
		avail = (size_t)n - skip;
		copy = avail < len - done ? avail : len - done;
		memcpy(buf + done, bounce + skip, copy);
		done += copy;
		if ((size_t)n < want)
			break;	/* a short read only happens at the end */
	}
	bounce_put(b, bounce);
	return ret < 0 ? ret : (ssize_t)done;
}

static ssize_t bdev_pread(void *h, void *buf, size_t len, uint64_t off)
{
	struct bdev_handle *b = h;
	uint64_t mask = b->lbs - 1;

	if (off >= b->size || !len)
		return 0;
	if (len > b->size - off)
		len = (size_t)(b->size - off);
	if (len > MAX_IO)
		len = MAX_IO;
	if (!b->direct)
		return pread_retry(b->fd, buf, len, off);
	/* Everything aligned already: no copy needed. */
	if (!(off & mask) && !(len & mask) && !((uintptr_t)buf & mask))
		return pread_retry(b->fd, buf, len, off);
	return bdev_pread_bounce(b, buf, len, off);
}

static int bdev_get_size(void *h, uint64_t *out)
{
	*out = ((struct bdev_handle *)h)->size;
	return 0;
}

static uint32_t bdev_block_size(void *h)
{
	return ((struct bdev_handle *)h)->lbs;
}

static void bdev_close(void *h)
{
	struct bdev_handle *b = h;

	for (int i = 0; i < BOUNCE_SLOTS; i++)
		free(atomic_load(&b->bounce[i]));
	/* For an autoclear loop device, this close detaches it. */
	close(b->fd);
	free(b);
}

static const struct eshare_backend_ops blockdev_ops = {
	.size = sizeof(struct eshare_backend_ops),
	.name = "blockdev",
	.pread = bdev_pread,
	.get_size = bdev_get_size,
	.close = bdev_close,
	.block_size = bdev_block_size,
};

static const struct eshare_backend_ops loop_ops = {
	.size = sizeof(struct eshare_backend_ops),
	.name = "loop",
	.pread = bdev_pread,
	.get_size = bdev_get_size,
	.close = bdev_close,
	.block_size = bdev_block_size,
};

/*
 * Wrap an open block device.  On success the backend owns @fd; on failure
 * it stays the caller's.  @name is "blockdev" or "loop".
 */
int eshare_blockdev_wrap(eshare_backend **out, int fd, bool direct, const char *name)
{
	struct eshare_backend_ops ops = strcmp(name, "loop") ? blockdev_ops : loop_ops;
	struct bdev_handle *b;
	unsigned int opt;
	uint64_t size;
	int lbs, rc;

	if (ioctl(fd, BLKGETSIZE64, &size))
		return errno == ENOTTY ? -ENOTBLK : -errno;
	if (ioctl(fd, BLKSSZGET, &lbs))
		return errno == ENOTTY ? -ENOTBLK : -errno;
	/* The kernel keeps it a power of two in [512, 64 KiB]; anything else
	 * would break the alignment arithmetic, so do not trust it blindly. */
	if (lbs < 512 || lbs > 65536 || (lbs & (lbs - 1)))
		return -EIO;
	/* The optimal I/O size is a hint, often 0 (none) or not a power of
	 * two (a RAID stripe): only a usable one is passed on. */
	if (!ioctl(fd, BLKIOOPT, &opt) && opt >= (unsigned int)lbs &&
	    opt <= ESHARE_BACKEND_IO_SIZE_MAX && !(opt & (opt - 1)))
		ops.io_size = opt;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->fd = fd;
	b->direct = direct;
	b->lbs = (uint32_t)lbs;
	b->bounce_len = BOUNCE_BYTES > b->lbs ? BOUNCE_BYTES : b->lbs;
	b->size = size;
	for (int i = 0; i < BOUNCE_SLOTS; i++)
		atomic_init(&b->bounce[i], NULL);
	rc = eshare_backend_new(out, &ops, b);
	if (rc)
		free(b);
	return rc;
}

/* Validate caller options; @flags receives the ESHARE_BLOCKDEV_* bits. */
int eshare_blockdev_check_opts(uint32_t *flags, const struct eshare_blockdev_opts *opts)
{
	struct eshare_blockdev_opts o = ESHARE_BLOCKDEV_OPTS_INIT;
	int rc;

	if (opts) {
		rc = eshare_copy_struct(&o, sizeof(o), opts, opts->size);
		if (rc)
			return rc;
	}
	if (o.flags & ~ESHARE_BLOCKDEV_DIRECT)
		return -EINVAL;
	*flags = o.flags;
	return 0;
}

int eshare_backend_open_blockdev(eshare_backend **out, const char *path,
				 const struct eshare_blockdev_opts *opts)
{
	uint32_t flags;
	struct stat st;
	int fd, fl, rc;

	if (!out || !path)
		return -EINVAL;
	rc = eshare_blockdev_check_opts(&flags, opts);
	if (rc)
		return rc;
	/*
	 * O_NONBLOCK so that a FIFO given by mistake cannot hang the open;
	 * the type is checked on the opened fd, so a path swapped between a
	 * stat() and the open() cannot slip through.  O_DIRECT comes after
	 * that check: open() of a regular file on a file system without
	 * direct I/O would fail with -EINVAL instead of -ENOTBLK.
	 */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISBLK(st.st_mode)) {
		rc = -ENOTBLK;
		goto fail;
	}
	/* Block devices ignore O_NONBLOCK for reads today; clear it anyway so
	 * that reads always wait for the device. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		goto fail_errno;
	fl &= ~O_NONBLOCK;
	if (flags & ESHARE_BLOCKDEV_DIRECT)
		fl |= O_DIRECT;
	if (fcntl(fd, F_SETFL, fl))
		goto fail_errno;
	rc = eshare_blockdev_wrap(out, fd, flags & ESHARE_BLOCKDEV_DIRECT, "blockdev");
	if (rc)
		goto fail;
	return 0;
fail_errno:
	rc = -errno;
fail:
	close(fd);
	return rc;
}
