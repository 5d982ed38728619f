// SPDX-License-Identifier: MIT
/* Open a built-in backend by the name a user typed (a CLI's --backend). */
#include <errno.h>
#include <string.h>

#include "backend_impl.h"

int eshare_backend_open(eshare_backend **out, const char *kind, const char *path)
{
	if (!out || !kind || !path)
		return -EINVAL;
	if (!strcmp(kind, "file"))
		return eshare_backend_open_file(out, path);
	if (!strcmp(kind, "blockdev"))
		return eshare_backend_open_blockdev(out, path, NULL);
	if (!strcmp(kind, "loop"))
		return eshare_backend_open_loop(out, path, NULL);
	return -EINVAL;
}
