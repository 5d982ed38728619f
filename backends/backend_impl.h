/* SPDX-License-Identifier: MIT */
/* What the built-in backends share: the backend object itself. */
#ifndef ESHARE_BACKEND_IMPL_H
#define ESHARE_BACKEND_IMPL_H

#include <pthread.h>
#include <stdbool.h>

#include <erofs_share/backend.h>
#include <erofs_share/sys/backend.h>

struct eshare_backend {
	struct eshare_backend_ops ops;
	void *handle;
	char *device_path; /* loop: the device it holds; else NULL */
	/* ESHARE_BACKEND_F_SERIAL: held around each pread/preadv call */
	pthread_mutex_t serial;
};

#include "util/abi.h" /* eshare_copy_struct() */

/* Record the device a backend holds (copied). 0 or -ENOMEM. */
/* One call of the method, under the backend's lock if it set ESHARE_BACKEND_F_SERIAL. */
ssize_t eshare_backend_call_pread(eshare_backend *be, void *buf, size_t len, uint64_t off);
int eshare_backend_set_device_path(eshare_backend *be, const char *path);

/* file.c, shared with fd.c: wrap an open descriptor; @owned: close it at
 * the end.  On failure @fd stays the caller's. */
int eshare_file_wrap(eshare_backend **out, int fd, bool owned);

/* blockdev.c, shared with loop.c, which reads its device through it. */
int eshare_blockdev_wrap(eshare_backend **out, int fd, bool direct, const char *name);
int eshare_blockdev_check_opts(uint32_t *flags, const struct eshare_blockdev_opts *opts);

/* loop.c, for tests: attach with LOOP_SET_FD + LOOP_SET_STATUS64 even when
 * the kernel has LOOP_CONFIGURE, so the fallback path gets exercised. */
int eshare_loop_open_legacy(eshare_backend **out, const char *path,
			    const struct eshare_blockdev_opts *opts);

#endif
