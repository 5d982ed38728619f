// SPDX-License-Identifier: MIT
/*
 * Extended attributes: the long-prefix table, listxattr, getxattr and the
 * ishare content fingerprint.
 *
 * An inode's xattr area follows the inode in its meta space: a 12-byte
 * header (bloom filter, shared count), the shared ids, then inline entries.
 * Shared entries live in the shared xattr area.  Everything is read through
 * ef_read_metadata(), which bounds every range, so entries may straddle block
 * boundaries.  The observable behaviour follows the kernel (6.18) as seen
 * through the VFS: inline entries are visited before shared ones, duplicate
 * names are listed twice, names without a namespace are never listed nor
 * reachable by name.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "format.h"

/* getxattr(2) refuses longer names with ERANGE. */
#define EF_XATTR_NAME_MAX 255u
#define XATTR_HDR_SIZE ((uint32_t)sizeof(struct erofs_xattr_ibody_header))
#define XATTR_ENTRY_SIZE ((uint32_t)sizeof(struct erofs_xattr_entry))
/* Inline areas at most this big are read onto the stack. */
#define XATTR_STACK_AREA 256u

/*
 * Short prefixes by e_name_index.  The ACL indexes name the whole xattr.
 * 0, 5 (lustre, which has no prefix string) and anything unknown map to
 * NULL: such entries are not listed and never match.
 */
static const char *const short_prefixes[] = {
	[EROFS_XATTR_INDEX_USER] = "user.",
	[EROFS_XATTR_INDEX_POSIX_ACL_ACCESS] = "system.posix_acl_access",
	[EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT] = "system.posix_acl_default",
	[EROFS_XATTR_INDEX_TRUSTED] = "trusted.",
	[EROFS_XATTR_INDEX_SECURITY] = "security.",
};

static const char *short_prefix(unsigned index)
{
	if (index >= sizeof(short_prefixes) / sizeof(short_prefixes[0]))
		return NULL;
	return short_prefixes[index];
}

/* One entry, inline or shared, as the iterator hands it out. */
struct xattr_ent {
	uint8_t name_index; /* raw e_name_index */
	uint8_t name_len;
	uint16_t value_size;
	const uint8_t *name;
	const uint8_t *value; /* inline: in the area buffer; NULL: at value_pos */
	uint64_t value_pos;
	bool value_in_metabox;
};

/* Return 0 to go on, > 0 to stop (success), < 0 on error. */
typedef int (*xattr_fn)(struct ef_fs *fs, const struct xattr_ent *e, void *ctx);

struct xattr_area {
	uint8_t *buf;
	uint32_t size;
	uint32_t filter;
	unsigned shared_count;
	uint8_t stack[XATTR_STACK_AREA];
};

static void xattr_area_release(struct xattr_area *a)
{
	if (a->buf && a->buf != a->stack)
		free(a->buf);
	a->buf = NULL;
}

/*
 * Read and check the inode's xattr area.  Returns 0 with a->size == 0 when
 * the inode has none; -EOPNOTSUPP for a bare header (xattr_isize 12), which
 * the kernel refuses as "not supported yet" for every xattr call.
 */
static int xattr_area_load(struct ef_fs *fs, const struct ef_inode *ino, struct xattr_area *a)
{
	uint32_t size = ino->xattr_isize;
	int rc;

	a->buf = NULL;
	a->size = 0;
	a->filter = 0;
	a->shared_count = 0;
	if (!size)
		return 0;
	if (size < XATTR_HDR_SIZE)
		return ef_corrupt(fs, ino->nid, "xattr area of %u bytes", size);
	if (size == XATTR_HDR_SIZE)
		return -EOPNOTSUPP;
	/* i_xattr_icount is 16 bits: the area is at most 12 + 4 * 65534 bytes */
	if (size > XATTR_HDR_SIZE + 4u * 65535u)
		return ef_corrupt(fs, ino->nid, "xattr area of %u bytes", size);
	if (size <= sizeof(a->stack)) {
		a->buf = a->stack;
	} else {
		a->buf = malloc(size);
		if (!a->buf)
			return -ENOMEM;
	}
	rc = ef_read_metadata(fs, ino->in_metabox, ino->iloc + ino->inode_isize, a->buf, size);
	if (rc) {
		xattr_area_release(a);
		return rc;
	}
	a->size = size;
	a->filter = ef_le32(a->buf);
	a->shared_count = a->buf[offsetof(struct erofs_xattr_ibody_header, h_shared_count)];
	if (a->shared_count * 4u > size - XATTR_HDR_SIZE) {
		xattr_area_release(a);
		return ef_corrupt(fs, ino->nid, "%u shared xattrs in an area of %u bytes",
				  a->shared_count, size);
	}
	return 0;
}

static uint32_t entry_size(unsigned name_len, unsigned value_size)
{
	return (XATTR_ENTRY_SIZE + name_len + value_size + 3u) & ~3u;
}

static int iterate_inline(struct ef_fs *fs, const struct ef_inode *ino,
			  const struct xattr_area *a, xattr_fn fn, void *ctx)
{
	uint32_t pos = XATTR_HDR_SIZE + 4u * a->shared_count;

	/* each step advances by at least 4 bytes within a->size */
	while (pos < a->size) {
		const uint8_t *p = a->buf + pos;
		struct xattr_ent e;
		uint32_t esz;
		int rc;

		if (a->size - pos < XATTR_ENTRY_SIZE)
			return ef_corrupt(fs, ino->nid, "xattr entry header past the area");
		e.name_len = p[0];
		e.name_index = p[1];
		e.value_size = ef_le16(p + 2);
		esz = entry_size(e.name_len, e.value_size);
		if (esz > a->size - pos)
			return ef_corrupt(fs, ino->nid, "xattr entry of %u bytes at %u past %u",
					  esz, pos, a->size);
		e.name = p + XATTR_ENTRY_SIZE;
		e.value = e.name + e.name_len;
		e.value_pos = 0;
		e.value_in_metabox = false;
		rc = fn(fs, &e, ctx);
		if (rc)
			return rc;
		pos += esz;
	}
	return 0;
}

static int iterate_shared(struct ef_fs *fs, const struct ef_inode *ino,
			  const struct xattr_area *a, xattr_fn fn, void *ctx)
{
	bool in_metabox = fs->feature_compat & EROFS_COMPAT_SHARED_EA_IN_METABOX;
	uint64_t base = fs->xattr_blkaddr << fs->blkszbits;
	uint8_t name[EROFS_NAME_LEN];

	for (unsigned i = 0; i < a->shared_count; i++) {
		uint32_t id = ef_le32(a->buf + XATTR_HDR_SIZE + 4u * i);
		/* xattr_blkaddr is 32-bit and blkszbits <= 16: no overflow */
		uint64_t pos = base + 4ull * id;
		uint8_t hdr[XATTR_ENTRY_SIZE];
		struct xattr_ent e;
		int rc;

		rc = ef_read_metadata(fs, in_metabox, pos, hdr, sizeof(hdr));
		if (rc)
			return rc;
		e.name_len = hdr[0];
		e.name_index = hdr[1];
		e.value_size = ef_le16(hdr + 2);
		rc = ef_read_metadata(fs, in_metabox, pos + XATTR_ENTRY_SIZE, name, e.name_len);
		if (rc)
			return rc;
		e.name = name;
		e.value = NULL;
		e.value_pos = pos + XATTR_ENTRY_SIZE + e.name_len;
		e.value_in_metabox = in_metabox;
		rc = fn(fs, &e, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

/* The kernel's order: inline entries first, then the shared ones. */
static int xattr_iterate(struct ef_fs *fs, const struct ef_inode *ino,
			 const struct xattr_area *a, xattr_fn fn, void *ctx)
{
	int rc = iterate_inline(fs, ino, a, fn, ctx);

	if (rc)
		return rc;
	return iterate_shared(fs, ino, a, fn, ctx);
}

static int xattr_value_read(struct ef_fs *fs, const struct xattr_ent *e, void *buf)
{
	if (e->value) {
		memcpy(buf, e->value, e->value_size);
		return 0;
	}
	return ef_read_metadata(fs, e->value_in_metabox, e->value_pos, buf, e->value_size);
}

/*
 * The long prefix an entry names, or NULL when the index is past the table
 * (the kernel skips such entries in listings and never matches them).
 */
static const struct ef_prefix *long_prefix(const struct ef_fs *fs, unsigned name_index)
{
	unsigned idx = name_index & EROFS_XATTR_LONG_PREFIX_MASK;

	if (!fs->prefixes || idx >= fs->xattr_prefix_count)
		return NULL;
	return &fs->prefixes[idx];
}

struct list_ctx {
	char *buf;
	size_t len; /* 0: size query */
	size_t used;
};

static int list_one(struct ef_fs *fs, const struct xattr_ent *e, void *ctx)
{
	struct list_ctx *lc = ctx;
	const uint8_t *infix = NULL;
	unsigned infix_len = 0, base = e->name_index;
	const char *prefix;
	size_t plen, total;

	if (e->name_index & EROFS_XATTR_LONG_PREFIX) {
		const struct ef_prefix *pf = long_prefix(fs, e->name_index);

		if (!pf)
			return 0;
		base = pf->base_index;
		infix = pf->infix;
		infix_len = pf->infix_len;
	}
	/* no namespace (base 0, the fingerprint's case), lustre, unknown */
	prefix = short_prefix(base);
	if (!prefix)
		return 0;
	/* a NUL inside a name would split it in the list: no VFS name has one */
	if ((infix_len && memchr(infix, 0, infix_len)) || memchr(e->name, 0, e->name_len))
		return ef_corrupt(fs, ~0ull, "xattr name with a NUL byte");
	plen = strlen(prefix);
	total = plen + infix_len + e->name_len + 1;
	if (lc->len) {
		char *out;

		if (total > lc->len - lc->used)
			return -ERANGE;
		out = lc->buf + lc->used;
		memcpy(out, prefix, plen);
		if (infix_len)
			memcpy(out + plen, infix, infix_len);
		memcpy(out + plen + infix_len, e->name, e->name_len);
		out[total - 1] = '\0';
	}
	lc->used += total;
	return 0;
}

ssize_t ef_listxattr(struct ef_fs *fs, struct ef_inode *ino, char *buf, size_t len)
{
	struct list_ctx lc = { .buf = buf, .len = buf ? len : 0 };
	struct xattr_area a;
	int rc;

	rc = xattr_area_load(fs, ino, &a);
	if (rc)
		return rc;
	if (!a.size)
		return 0;
	rc = xattr_iterate(fs, ino, &a, list_one, &lc);
	xattr_area_release(&a);
	if (rc < 0)
		return rc;
	return (ssize_t)lc.used;
}

/* A lookup key: short base index plus the rest of the name. */
struct get_ctx {
	unsigned index;
	const char *name;
	size_t namelen;
	void *buf;
	size_t len; /* 0: size query */
	ssize_t result;
};

static bool name_matches(const struct ef_fs *fs, const struct xattr_ent *e,
			 const struct get_ctx *gc)
{
	const char *rest = gc->name;
	size_t restlen = gc->namelen;

	if (e->name_index & EROFS_XATTR_LONG_PREFIX) {
		const struct ef_prefix *pf = long_prefix(fs, e->name_index);

		if (!pf || pf->base_index != gc->index)
			return false;
		if (restlen != (size_t)pf->infix_len + e->name_len)
			return false;
		if (pf->infix_len && memcmp(rest, pf->infix, pf->infix_len))
			return false;
		rest += pf->infix_len;
		restlen -= pf->infix_len;
	} else if (e->name_index != gc->index || restlen != e->name_len) {
		return false;
	}
	return !restlen || !memcmp(rest, e->name, restlen);
}

static int get_one(struct ef_fs *fs, const struct xattr_ent *e, void *ctx)
{
	struct get_ctx *gc = ctx;
	int rc;

	if (!name_matches(fs, e, gc))
		return 0;
	if (gc->len) {
		if (gc->len < e->value_size)
			return -ERANGE;
		rc = xattr_value_read(fs, e, gc->buf);
		if (rc)
			return rc;
	}
	gc->result = e->value_size;
	return 1;
}

/* Look up (index, rest-of-name) as the kernel's erofs_getxattr() does. */
static ssize_t getxattr_key(struct ef_fs *fs, struct ef_inode *ino, struct get_ctx *gc)
{
	struct xattr_area a;
	int rc;

	rc = xattr_area_load(fs, ino, &a);
	if (rc)
		return rc;
	if (!a.size)
		return -ENODATA;
	/*
	 * The bloom filter: a set bit means no xattr of this inode hashes
	 * there.  The hash covers the name without its short prefix, seeded
	 * by the base index, so long-prefix names hash their infix too.
	 */
	if (fs->xattr_filter) {
		uint32_t bit = XXH32(gc->name, gc->namelen, EROFS_XATTR_FILTER_SEED + gc->index) &
			       (EROFS_XATTR_FILTER_BITS - 1);

		if (a.filter & (1u << bit)) {
			xattr_area_release(&a);
			return -ENODATA;
		}
	}
	gc->result = -ENODATA;
	rc = xattr_iterate(fs, ino, &a, get_one, gc);
	xattr_area_release(&a);
	if (rc < 0)
		return rc;
	return gc->result;
}

ssize_t ef_getxattr(struct ef_fs *fs, struct ef_inode *ino, const char *name, void *buf,
		    size_t len)
{
	struct get_ctx gc = { .buf = buf, .len = buf ? len : 0 };
	size_t namelen;
	unsigned i;

	if (!name)
		return -EINVAL;
	namelen = strlen(name);
	/* as getxattr(2): an empty or over-long name is ERANGE */
	if (!namelen || namelen > EF_XATTR_NAME_MAX)
		return -ERANGE;
	/*
	 * Resolve the namespace as the VFS does: ACL names must match whole,
	 * the others need a non-empty suffix (EINVAL), and a name in no
	 * namespace erofs handles is EOPNOTSUPP.  Hence the hidden
	 * (base 0) names, such as the fingerprint, cannot be reached here.
	 */
	for (i = 0; i < sizeof(short_prefixes) / sizeof(short_prefixes[0]); i++) {
		const char *p = short_prefixes[i];
		size_t plen;

		if (!p)
			continue;
		plen = strlen(p);
		if (i == EROFS_XATTR_INDEX_POSIX_ACL_ACCESS ||
		    i == EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT) {
			if (namelen == plen && !memcmp(name, p, plen))
				break;
			continue;
		}
		if (namelen >= plen && !memcmp(name, p, plen)) {
			if (namelen == plen)
				return -EINVAL;
			break;
		}
	}
	if (i == sizeof(short_prefixes) / sizeof(short_prefixes[0]))
		return -EOPNOTSUPP;
	/*
	 * The VFS's xattr_permission(): user.* names exist only on regular
	 * files and directories; on any other inode reading one is ENODATA
	 * (listxattr still lists them, as the kernel does).
	 */
	if (i == EROFS_XATTR_INDEX_USER && !S_ISREG(ino->mode) && !S_ISDIR(ino->mode))
		return -ENODATA;
	gc.index = i;
	gc.name = name + strlen(short_prefixes[i]);
	gc.namelen = namelen - strlen(short_prefixes[i]);
	return getxattr_key(fs, ino, &gc);
}

ssize_t ef_get_fingerprint(struct ef_fs *fs, struct ef_inode *ino, void *buf, size_t len)
{
	const struct ef_prefix *pf;
	struct get_ctx gc = { .buf = buf, .len = buf ? len : 0 };
	ssize_t rc;

	if (fs->ishare_prefix_id < 0 || !fs->prefixes ||
	    (unsigned)fs->ishare_prefix_id >= fs->xattr_prefix_count)
		return -ENODATA;
	/*
	 * The kernel looks the fingerprint up by name: (base index, infix),
	 * which the entry 0x80|id with an empty suffix always matches, and
	 * so does any other entry spelling the same name.
	 */
	pf = &fs->prefixes[fs->ishare_prefix_id];
	gc.index = pf->base_index;
	gc.name = (const char *)pf->infix;
	gc.namelen = pf->infix_len;
	rc = getxattr_key(fs, ino, &gc);
	/* a bare header has no xattrs, so no fingerprint either */
	if (rc == -EOPNOTSUPP)
		return -ENODATA;
	return rc;
}

static void free_prefixes(struct ef_prefix *pfs, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		free(pfs[i].infix);
	free(pfs);
}

/* Read @len bytes at @pos of wherever the prefix table lives. */
static int prefix_read(struct ef_fs *fs, struct ef_inode *src, uint64_t pos, void *buf,
		       size_t len)
{
	if (!len)
		return 0;
	if (src) {
		if (pos > src->size || len > src->size - pos)
			return ef_corrupt(fs, ~0ull, "xattr prefix table past the end of nid %llu",
					  (unsigned long long)src->nid);
		return ef_read_data_via_io(fs, src, buf, len, pos);
	}
	return ef_read_metadata(fs, false, pos, buf, len);
}

int ef_load_prefixes(struct ef_fs *fs)
{
	bool plain = fs->feature_compat & EROFS_COMPAT_PLAIN_XATTR_PFX;
	unsigned count = fs->xattr_prefix_count;
	uint64_t pos = (uint64_t)fs->xattr_prefix_start * 4;
	struct ef_inode *src = NULL;
	struct ef_prefix *pfs;
	int rc = 0;

	if (fs->ishare_prefix_id >= 0 && (unsigned)fs->ishare_prefix_id >= count)
		return ef_corrupt(fs, ~0ull, "fingerprint prefix %d of %u", fs->ishare_prefix_id,
				  count);
	if (!count)
		return 0;
	/*
	 * Without PLAIN_XATTR_PFX the table lives in the metabox stream, else
	 * in the packed inode's data; only then on the primary device.
	 */
	if (!plain) {
		if (fs->feature_incompat & EROFS_INCOMPAT_METABOX) {
			if (!fs->metabox)
				return ef_corrupt(fs, ~0ull, "xattr prefixes in a missing metabox");
			src = fs->metabox;
		} else if (fs->packed) {
			src = fs->packed;
		}
	}
	pfs = calloc(count, sizeof(*pfs));
	if (!pfs)
		return -ENOMEM;
	for (unsigned i = 0; i < count; i++) {
		uint8_t hdr[2];
		uint16_t len;

		rc = prefix_read(fs, src, pos, hdr, sizeof(hdr));
		if (rc)
			break;
		len = ef_le16(hdr);
		/* base_index, then an infix that fits a 255-byte name */
		if (len < 1 || len > 1 + EROFS_NAME_LEN) {
			rc = ef_corrupt(fs, ~0ull, "xattr prefix %u of length %u", i, len);
			break;
		}
		rc = prefix_read(fs, src, pos + 2, &pfs[i].base_index, 1);
		if (rc)
			break;
		pfs[i].infix_len = len - 1;
		/* one more byte: a NUL, so the infix can serve as a C string */
		pfs[i].infix = calloc(1, (size_t)len);
		if (!pfs[i].infix) {
			rc = -ENOMEM;
			break;
		}
		rc = prefix_read(fs, src, pos + 3, pfs[i].infix, pfs[i].infix_len);
		if (rc)
			break;
		/* records are 4-aligned */
		pos = (pos + 2 + len + 3) & ~3ull;
	}
	if (rc) {
		free_prefixes(pfs, count);
		return rc;
	}
	fs->prefixes = pfs;
	return 0;
}
