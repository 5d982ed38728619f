// SPDX-License-Identifier: MIT
/*
 * The fd backend: reads a descriptor the caller opened and keeps.  It
 * shows how a backend borrows a resource instead of owning it: the
 * descriptor is checked to be readable up front (-EBADF at once, not on
 * the first read), and close() leaves it open.  The reading
 * itself, with its change detection, is the file backend's (file.c).
 */
#include <errno.h>
#include <fcntl.h>

#include "backend_impl.h"

int eshare_backend_from_fd(eshare_backend **out, int fd)
{
	int fl;

	if (!out)
		return -EINVAL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	return eshare_file_wrap(out, fd, false);
}
