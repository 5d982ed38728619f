/* SPDX-License-Identifier: MIT */
/*
 * Public structs cross the ABI by size: each starts with a uint32_t size,
 * the caller's sizeof(), so an older or newer caller keeps working.
 */
#ifndef ESHARE_UTIL_ABI_H
#define ESHARE_UTIL_ABI_H

#include <stddef.h>

/*
 * In: copy the caller's struct @src of @usize bytes into ours, @dst of
 * @ksize bytes: fields the caller does not know are zero, fields we do not
 * know must be zero (else -E2BIG); @dst's size becomes @ksize.  -EINVAL if
 * @usize cannot hold the size field.
 */
int eshare_copy_struct(void *dst, size_t ksize, const void *src, size_t usize);
/*
 * Out: copy our struct @src of @ksize bytes to the caller's @dst, as much
 * of it as the caller's size (its first field) says, keeping that size.
 * -EINVAL if the caller's size is below 8.
 */
int eshare_copy_out(void *dst, const void *src, size_t ksize);

#endif
