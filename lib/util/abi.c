// SPDX-License-Identifier: MIT
/* Public structs in and out across the ABI, by their size field. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "abi.h"

int eshare_copy_out(void *dst, const void *src, size_t ksize)
{
	uint32_t size;

	memcpy(&size, dst, sizeof(size));
	if (size < 8)
		return -EINVAL;
	memcpy(dst, src, size < ksize ? size : ksize);
	memcpy(dst, &size, sizeof(size));
	return 0;
}
