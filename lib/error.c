// SPDX-License-Identifier: MIT
/* Versions and error strings. */
#include <errno.h>
#include <string.h>

#include <erofs_share/erofs_share.h>

_Static_assert(ESHARE_EFSCORRUPTED == EUCLEAN, "ESHARE_EFSCORRUPTED is EUCLEAN");
_Static_assert(ESHARE_ENOTEROFS == EMEDIUMTYPE, "ESHARE_ENOTEROFS is EMEDIUMTYPE");

unsigned eshare_version_number(void)
{
	return ESHARE_VERSION_NUMBER;
}

const char *eshare_version(void)
{
	return ESHARE_VERSION_STRING;
}

const char *eshare_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0: return "success";
	case EUCLEAN: return "corrupted EROFS image";
	case EMEDIUMTYPE: return "not an EROFS image";
	case EOPNOTSUPP: return "unsupported EROFS feature or compression algorithm";
	case EIO: return "input/output error";
	case EINVAL: return "invalid argument";
	case ENOMEM: return "out of memory";
	case ENOENT: return "no such file or directory";
	case ENOTDIR: return "not a directory";
	case EISDIR: return "is a directory";
	case ENAMETOOLONG: return "file name too long";
	case ENODATA: return "no such attribute";
	case ERANGE: return "buffer too small";
	case EBUSY: return "still in use";
	case E2BIG: return "options struct has unknown non-zero fields";
	case ENXIO: return "a device of the image is missing or too small";
	case ENOTBLK: return "not a block device";
	case ENODEV: return "no such device";
	case EPERM: return "operation not permitted";
	case ESTALE: return "the image file changed after it was attached";
	case EACCES: return "permission denied";
	case EBADF: return "bad file descriptor";
	case ELOOP: return "too many levels of directories or links";
	}
	return "unknown error";
}
