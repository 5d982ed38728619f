/* SPDX-License-Identifier: MIT */
/* What the built-in backends share: the backend object itself. */
#ifndef ESHARE_BACKEND_IMPL_H
#define ESHARE_BACKEND_IMPL_H

#include <erofs_share/backend.h>

struct eshare_backend {
	struct eshare_backend_ops ops;
	void *handle;
	char *device_path; /* loop: the device it holds; else NULL */
};

/* Copy a caller's struct of @usize bytes into ours of @ksize (zero-filling a
 * shorter one; a longer one must have a zero tail). 0, -EINVAL or -E2BIG. */
int eshare_copy_struct(void *dst, size_t ksize, const void *src, size_t usize);

/* Record the device a backend holds (copied). 0 or -ENOMEM. */
int eshare_backend_set_device_path(eshare_backend *be, const char *path);

#endif
