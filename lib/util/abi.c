// SPDX-License-Identifier: MIT
/* Public structs in and out across the ABI, by their size field. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "abi.h"

int eshare_copy_struct(void *dst, size_t ksize, const void *src, size_t usize)
{
	if (usize < sizeof(uint32_t))
		return -EINVAL;
	if (usize > ksize) {
		const unsigned char *tail = (const unsigned char *)src + ksize;
		for (size_t i = 0; i < usize - ksize; i++)
			if (tail[i])
				return -E2BIG;
		usize = ksize;
	}
	memset(dst, 0, ksize);
	memcpy(dst, src, usize);
	/* every public struct starts with its size: ours, from now on */
	*(uint32_t *)dst = (uint32_t)ksize;
	return 0;
}

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
