// SPDX-License-Identifier: MIT
/*
 * Mapping file positions to physical bytes for the flat, inline and
 * chunk-based layouts, and an uncached reader of any inode's data.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format.h"

static int map_flat(struct ef_fs *fs, struct ef_inode *ino, uint64_t pos, struct ef_map *m)
{
	uint64_t nblocks = (ino->size + fs->blksz - 1) >> fs->blkszbits;
	uint64_t tailstart = ino->layout == EROFS_INODE_FLAT_INLINE ?
			     (nblocks - 1) << fs->blkszbits : ino->size;

	if (pos >= tailstart) {
		/* the inline tail, right after the inode and its xattrs */
		m->la = tailstart;
		m->llen = ino->size - tailstart;
		m->pa = ef_inode_datapos(ino);
		m->plen = m->llen;
		m->flags = EF_MAP_MAPPED | EF_MAP_META;
		return 0;
	}
	m->la = 0;
	m->llen = tailstart;
	m->plen = tailstart;
	if (ino->startblk == EROFS_NULL_ADDR_48) {
		m->flags = 0; /* no blocks: reads as zeros */
		return 0;
	}
	if (ino->startblk > (UINT64_MAX >> fs->blkszbits) ||
	    (ino->startblk << fs->blkszbits) > UINT64_MAX - tailstart)
		return ef_corrupt(fs, ino->nid, "data blocks out of range");
	m->pa = ino->startblk << fs->blkszbits;
	m->flags = EF_MAP_MAPPED;
	return 0;
}

static int map_chunk(struct ef_fs *fs, struct ef_inode *ino, uint64_t pos, struct ef_map *m)
{
	uint64_t k = pos >> ino->chunkbits;
	uint64_t csize = 1ull << ino->chunkbits;
	bool indexes = ino->chunkformat & EROFS_CHUNK_FORMAT_INDEXES;
	unsigned unit = indexes ? 8 : 4;
	uint64_t base = (ef_inode_datapos(ino) + unit - 1) & ~(uint64_t)(unit - 1);
	uint64_t blk, null;
	uint8_t e[8];
	int rc;

	rc = ef_read_metadata(fs, ino->in_metabox, base + k * unit, e, unit);
	if (rc)
		return rc;
	m->la = k << ino->chunkbits;
	m->llen = ino->size - m->la < csize ? ino->size - m->la : csize;
	m->plen = m->llen;
	m->dev = 0;
	if (indexes) {
		uint16_t devid = ef_le16(e + 2);
		bool is48 = ino->chunkformat & EROFS_CHUNK_FORMAT_48BIT;

		blk = ef_le32(e + 4) | (is48 ? (uint64_t)ef_le16(e) << 32 : 0);
		null = is48 ? EROFS_NULL_ADDR_48 : EROFS_NULL_ADDR_32;
		if (blk != null) {
			/* the kernel masks the id to the table's size */
			unsigned mask = 1;

			while (mask < fs->ndevices + 1u)
				mask <<= 1;
			devid &= mask - 1;
			if (devid > fs->ndevices)
				return ef_corrupt(fs, ino->nid, "chunk on device %u of %u", devid,
						  fs->ndevices);
			m->dev = devid;
		}
	} else {
		blk = ef_le32(e);
		null = EROFS_NULL_ADDR_32;
	}
	if (blk == null) {
		m->flags = 0;
		return 0;
	}
	if (blk > (UINT64_MAX >> fs->blkszbits) - (csize >> fs->blkszbits))
		return ef_corrupt(fs, ino->nid, "chunk block out of range");
	m->pa = blk << fs->blkszbits;
	m->flags = EF_MAP_MAPPED;
	return 0;
}

int ef_map(struct ef_fs *fs, struct ef_inode *ino, uint64_t pos, struct ef_map *m)
{
	if (pos >= ino->size)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->alg = EF_ALG_NONE;
	switch (ino->layout) {
	case EROFS_INODE_FLAT_PLAIN:
	case EROFS_INODE_FLAT_INLINE:
		return map_flat(fs, ino, pos, m);
	case EROFS_INODE_CHUNK_BASED:
		return map_chunk(fs, ino, pos, m);
	case EROFS_INODE_COMPRESSED_FULL:
	case EROFS_INODE_COMPRESSED_COMPACT:
		return ef_zmap(fs, ino, pos, m);
	}
	return -EOPNOTSUPP;
}

/*
 * Per-thread decode scratch, a small stack of them: decoding a file can
 * read a fragment from the packed inode, whose pcluster is decoded in
 * turn, and a metabox inode's metadata is decoded from the metabox.
 */
#define SCRATCH_DEPTH 4
struct scratch_stack {
	unsigned depth;
	struct ef_scratch s[SCRATCH_DEPTH];
};
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_stack_free(void *p)
{
	struct scratch_stack *st = p;

	for (unsigned i = 0; i < SCRATCH_DEPTH; i++)
		ef_scratch_free(&st->s[i]);
	free(st);
}

static void scratch_key_init(void)
{
	pthread_key_create(&scratch_key, scratch_stack_free);
}

struct ef_scratch *ef_scratch_get(void)
{
	struct scratch_stack *st;

	pthread_once(&scratch_once, scratch_key_init);
	st = pthread_getspecific(scratch_key);
	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return NULL;
		if (pthread_setspecific(scratch_key, st)) {
			free(st);
			return NULL;
		}
	}
	if (st->depth >= SCRATCH_DEPTH)
		return NULL;
	return &st->s[st->depth++];
}

void ef_scratch_put(struct ef_scratch *s)
{
	struct scratch_stack *st = pthread_getspecific(scratch_key);

	if (st && st->depth && s == &st->s[st->depth - 1])
		st->depth--;
}

/* Grow a scratch buffer to at least @need bytes. */
int ef_scratch_reserve(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *p;

	if (*cap >= need)
		return 0;
	p = realloc(*buf, need);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = need;
	return 0;
}

static int read_mapped(struct ef_fs *fs, struct ef_inode *ino, const struct ef_map *m, uint8_t *dst,
		       uint64_t off, size_t n)
{
	struct ef_scratch *s;
	int rc;

	if (!(m->flags & EF_MAP_MAPPED)) {
		memset(dst, 0, n);
		return 0;
	}
	if (!(m->flags & (EF_MAP_ENCODED | EF_MAP_FRAGMENT))) {
		if (m->flags & EF_MAP_META)
			return ef_read_metadata(fs, ino->in_metabox, m->pa + (off - m->la), dst, n);
		/* directory and symlink blocks are metadata: read them cached */
		if (!S_ISREG(ino->mode) && ef_phys_is_primary(fs, m->dev, m->pa + (off - m->la), n))
			return ef_read_metadata(fs, false, m->pa + (off - m->la), dst, n);
		return ef_read_device_raw(fs, m->dev, m->pa + (off - m->la), dst, n);
	}
	if (m->llen > EF_MAX_LLEN)
		return ef_corrupt(fs, ino->nid, "extent of %llu bytes",
				  (unsigned long long)m->llen);
	s = ef_scratch_get();
	if (!s)
		return ef_corrupt(fs, ino->nid, "data nested too deeply");
	rc = ef_scratch_reserve(&s->out, &s->out_cap, m->llen ? m->llen : 1);
	if (!rc)
		rc = ef_decode_extent(fs, ino, m, s->out, s);
	if (!rc)
		memcpy(dst, s->out + (off - m->la), n);
	ef_scratch_put(s);
	return rc;
}

int ef_read_data_uncached(struct ef_fs *fs, struct ef_inode *ino, void *buf, size_t len,
			  uint64_t off)
{
	uint8_t *dst = buf;
	uint64_t end;

	if (off > ino->size || len > ino->size - off)
		return ef_corrupt(fs, ino->nid, "read of %zu bytes at %llu past size %llu", len,
				  (unsigned long long)off, (unsigned long long)ino->size);
	end = off + len;
	while (off < end) {
		struct ef_map m;
		uint64_t stop;
		int rc = ef_map(fs, ino, off, &m);

		if (rc)
			return rc;
		if (off < m.la || off - m.la >= m.llen)
			return ef_corrupt(fs, ino->nid, "extent does not hold offset %llu",
					  (unsigned long long)off);
		stop = m.la + m.llen < end ? m.la + m.llen : end;
		rc = read_mapped(fs, ino, &m, dst, off, (size_t)(stop - off));
		if (rc)
			return rc;
		dst += stop - off;
		off = stop;
	}
	return 0;
}

int ef_read_data_via_io(struct ef_fs *fs, struct ef_inode *ino, void *buf, size_t len,
			uint64_t off)
{
	if (fs->io.read_internal && ino->internal) {
		if (off > ino->size || len > ino->size - off)
			return ef_corrupt(fs, ino->nid, "read past the end of an internal inode");
		return fs->io.read_internal(fs->io.ctx, ino, buf, len, off);
	}
	return ef_read_data_uncached(fs, ino, buf, len, off);
}

/*
 * A symlink's target as the kernel's readlink(2) gives it: the first
 * min(i_size, EF_SYMLINK_MAX) bytes (page_get_link() reads one page and
 * ends the string at PAGE_SIZE - 1, PATH_MAX - 1 on 4 KiB pages), cut at
 * the first NUL byte.  i_size itself may be larger; lstat shows it.
 */
ssize_t ef_readlink(struct ef_fs *fs, struct ef_inode *ino, char *buf, size_t len)
{
	size_t want = ino->size < EF_SYMLINK_MAX ? (size_t)ino->size : EF_SYMLINK_MAX;
	char *tmp;
	char *z;
	int rc;

	if (!S_ISLNK(ino->mode))
		return -EINVAL;
	tmp = malloc(want ? want : 1);
	if (!tmp)
		return -ENOMEM;
	rc = ef_read_data_via_io(fs, ino, tmp, want, 0);
	if (rc) {
		free(tmp);
		return rc;
	}
	z = memchr(tmp, '\0', want);
	if (z)
		want = (size_t)(z - tmp);
	if (len)
		memcpy(buf, tmp, len < want ? len : want);
	free(tmp);
	return (ssize_t)want;
}
