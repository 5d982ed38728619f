// SPDX-License-Identifier: MIT
/*
 * Compressed inodes (data layouts 1 COMPRESSED_FULL and 3 COMPRESSED_COMPACT):
 * the map header, the lcluster indexes (full and compact), the 48-bit
 * encoded extents, and the tails (ztailpacking inline pclusters and
 * fragments in the packed inode).  FORMAT.md section 4 is the spec; the
 * corner cases follow what the Linux kernel (fs/erofs/zmap.c) accepts.
 *
 * Everything an image says is distrusted: every walk over the indexes is
 * bounded (lookback must go strictly backwards, lookahead strictly forwards,
 * and neither may span more than EF_MAX_LLEN bytes), and every extent
 * handed out is checked to contain the position asked for.
 *
 * The per-inode state (struct ef_zinfo) is filled once by ef_zinfo_init(),
 * tail included, so ef_zmap() never writes to the inode and several threads
 * may map one inode at once.
 */
#include <string.h>

#include "format.h"

/* lcluster types (2 bits) */
enum { Z_PLAIN = 0, Z_HEAD1 = 1, Z_NONHEAD = 2, Z_HEAD2 = 3 };

#define Z_LI_PARTIAL_REF (1u << 15)
#define Z_LI_D0_CBLKCNT (1u << 11)
#define Z_FULL_INDEX_SIZE 8u

/* 48-bit encoded extent records */
#define Z_EXT_PLEN_MASK ((1u << 21) - 1)
#define Z_EXT_PLEN_PARTIAL (1u << 27)
#define Z_EXT_PLEN_FMT_BIT 28

/* Records of recsz 4/8 are read in batches of this many bytes. */
#define Z_EXT_BATCH 512u

/* One decoded lcluster index. */
struct z_lcluster {
	uint64_t lcn;
	unsigned type;
	bool partialref;
	uint32_t clusterofs; /* heads; 2^L for NONHEAD */
	uint32_t delta[2];   /* NONHEAD: lookback, lookahead */
	bool cblkcnt;        /* NONHEAD carrying the pcluster block count */
	uint32_t cblks;
	uint64_t pblk;       /* heads */
	uint64_t nextpackoff; /* meta position right after this index / pack */
};

/* The last compact pack read, so that a walk reads each pack once. */
struct z_pack {
	uint64_t pos;
	unsigned len; /* 0: none yet */
	uint8_t b[32];
};

/* The head of the extent holding a position. */
struct z_head {
	uint64_t la;
	uint64_t lcn;
	unsigned type;
	bool partialref;
	uint64_t pblk;
	uint64_t nextpackoff; /* of the lcluster holding the position */
};

static uint64_t z_header_pos(const struct ef_inode *ino)
{
	return (ef_inode_datapos(ino) + 7) & ~7ull;
}

static uint16_t z_avail_algs(const struct ef_fs *fs)
{
	/* Without COMPR_CFGS, u1 is lz4_max_distance and the fs is LZ4-only. */
	if (!(fs->feature_incompat & EROFS_INCOMPAT_COMPR_CFGS))
		return fs->available_compr_algs & (1u << Z_EROFS_COMPRESSION_LZ4);
	return fs->available_compr_algs;
}

static bool z_is_packed(const struct ef_fs *fs, const struct ef_inode *ino)
{
	if (fs->packed)
		return ino == fs->packed || ino->nid == fs->packed->nid;
	return fs->packed_nid && ino->nid == fs->packed_nid;
}

static int z_load_full(struct ef_fs *fs, struct ef_inode *ino, uint64_t lcn,
		       struct z_lcluster *m)
{
	const unsigned L = ino->z.lclusterbits;
	uint64_t pos;
	uint8_t di[Z_FULL_INDEX_SIZE];
	unsigned advise;
	int err;

	if (lcn > (ino->size - 1) >> L)
		return ef_corrupt(fs, ino->nid, "lcluster %llu beyond the file",
				  (unsigned long long)lcn);
	pos = z_header_pos(ino) + 16 + lcn * Z_FULL_INDEX_SIZE;
	err = ef_read_metadata(fs, ino->in_metabox, pos, di, sizeof(di));
	if (err)
		return err;
	memset(m, 0, sizeof(*m));
	m->lcn = lcn;
	m->nextpackoff = pos + Z_FULL_INDEX_SIZE;
	advise = ef_le16(di);
	m->type = advise & 3;
	if (m->type == Z_NONHEAD) {
		m->clusterofs = 1u << L;
		m->delta[0] = ef_le16(di + 4);
		m->delta[1] = ef_le16(di + 6);
		if (m->delta[0] & Z_LI_D0_CBLKCNT) {
			if (!(ino->z.advise &
			      (Z_EROFS_ADVISE_BIG_PCLUSTER_1 | Z_EROFS_ADVISE_BIG_PCLUSTER_2)))
				return ef_corrupt(fs, ino->nid,
						  "CBLKCNT without big pcluster at lcn %llu",
						  (unsigned long long)lcn);
			m->cblkcnt = true;
			m->cblks = m->delta[0] & ~Z_LI_D0_CBLKCNT;
			m->delta[0] = 1;
		}
		return 0;
	}
	m->partialref = advise & Z_LI_PARTIAL_REF;
	m->clusterofs = ef_le16(di + 2);
	if (m->clusterofs >= 1ull << L)
		return ef_corrupt(fs, ino->nid, "clusterofs %u too big at lcn %llu",
				  m->clusterofs, (unsigned long long)lcn);
	m->pblk = ef_le32(di + 4);
	return 0;
}

/* Entry @i of a compact pack: its low bits, and its type in @type. */
static unsigned z_compact_entry(const uint8_t *pack, unsigned lobits, unsigned encodebits,
				int i, unsigned *type)
{
	unsigned bit = encodebits * (unsigned)i;
	uint32_t v = ef_le32(pack + bit / 8) >> (bit & 7);

	*type = (v >> lobits) & 3;
	return v & ((1u << lobits) - 1);
}

static int z_load_compact(struct ef_fs *fs, struct ef_inode *ino, uint64_t lcn,
			  struct z_lcluster *m, struct z_pack *pc)
{
	const unsigned L = ino->z.lclusterbits;
	const bool big = ino->z.advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1;
	const uint64_t ebase = z_header_pos(ino) + 8;
	const uint64_t total = (ino->size + fs->blksz - 1) >> fs->blkszbits;
	uint64_t n4i, n2 = 0, rel = lcn, pos = ebase, packpos;
	unsigned shift = 2, vcnt, packsz, lobits, encodebits, lo, type, nblk;
	uint8_t buf[32];
	const uint8_t *pack = buf;
	int i, j, err;

	if (lcn >= total || lcn > (ino->size - 1) >> L)
		return ef_corrupt(fs, ino->nid, "lcluster %llu beyond the file",
				  (unsigned long long)lcn);
	/* Initial 4B packs bring the 2B area to a 32-byte boundary. */
	n4i = ((32 - ebase % 32) / 4) & 7;
	if ((ino->z.advise & Z_EROFS_ADVISE_COMPACTED_2B) && n4i < total)
		n2 = (total - n4i) & ~15ull;
	if (rel >= n4i) {
		pos += n4i * 4;
		rel -= n4i;
		if (rel < n2) {
			shift = 1;
		} else {
			pos += n2 * 2;
			rel -= n2;
		}
	}
	pos += rel << shift;
	if (shift == 2 && L <= 14)
		vcnt = 2;
	else if (shift == 1 && L <= 12)
		vcnt = 16;
	else
		return -EOPNOTSUPP;
	packsz = vcnt << shift;
	packpos = pos & ~(uint64_t)(packsz - 1);
	if (pc && pc->len == packsz && pc->pos == packpos) {
		pack = pc->b;
	} else {
		err = ef_read_metadata(fs, ino->in_metabox, packpos, buf, packsz);
		if (err)
			return err;
		if (pc) {
			memcpy(pc->b, buf, packsz);
			pc->pos = packpos;
			pc->len = packsz;
		}
	}

	memset(m, 0, sizeof(*m));
	m->lcn = lcn;
	m->nextpackoff = packpos + packsz;
	lobits = L > 12 ? L : 12;
	encodebits = (packsz * 8 - 32) / vcnt;
	i = (int)((pos - packpos) >> shift);

	lo = z_compact_entry(pack, lobits, encodebits, i, &type);
	m->type = type;
	if (type == Z_NONHEAD) {
		int64_t d1 = 0;
		unsigned last = 0;

		m->clusterofs = 1u << L;
		/*
		 * Lookahead: the NONHEADs from here to the pack end, plus
		 * what the last entry of the pack stores (its delta[1]).
		 */
		for (j = i; j < (int)vcnt; j++) {
			last = z_compact_entry(pack, lobits, encodebits, j, &type);
			if (type != Z_NONHEAD)
				break;
			d1++;
		}
		if (j == (int)vcnt && !(last & Z_LI_D0_CBLKCNT))
			d1 += (int64_t)last - 1;
		m->delta[1] = d1 > 0 ? (uint32_t)d1 : 0;

		if (lo & Z_LI_D0_CBLKCNT) {
			if (!big)
				return ef_corrupt(fs, ino->nid,
						  "CBLKCNT without big pcluster at lcn %llu",
						  (unsigned long long)lcn);
			m->cblkcnt = true;
			m->cblks = lo & ~Z_LI_D0_CBLKCNT;
			m->delta[0] = 1;
			return 0;
		}
		if (i + 1 != (int)vcnt) {
			m->delta[0] = lo;
			return 0;
		}
		/* The last entry stores delta[1]: derive delta[0] from the previous. */
		lo = z_compact_entry(pack, lobits, encodebits, i - 1, &type);
		if (type != Z_NONHEAD)
			lo = 0;
		else if (lo & Z_LI_D0_CBLKCNT)
			lo = 1;
		m->delta[0] = lo + 1;
		return 0;
	}

	m->clusterofs = lo;
	if (lo >= 1u << L)
		return ef_corrupt(fs, ino->nid, "clusterofs %u too big at lcn %llu", lo,
				  (unsigned long long)lcn);
	/*
	 * The pack stores one base block address; a head's block is found by
	 * counting the pclusters of the earlier entries of this pack.  Every
	 * step moves @j back by at least one, so the walk ends within vcnt.
	 */
	j = i;
	if (!big) {
		nblk = 1;
		while (j > 0) {
			--j;
			lo = z_compact_entry(pack, lobits, encodebits, j, &type);
			if (type == Z_NONHEAD)
				j -= (int)lo;
			if (j >= 0)
				++nblk;
		}
	} else {
		nblk = 0;
		while (j > 0) {
			--j;
			lo = z_compact_entry(pack, lobits, encodebits, j, &type);
			if (type == Z_NONHEAD) {
				if (lo & Z_LI_D0_CBLKCNT) {
					--j;
					nblk += lo & ~Z_LI_D0_CBLKCNT;
					continue;
				}
				/* a big pcluster's first NONHEAD carries CBLKCNT */
				if (lo <= 1)
					return ef_corrupt(fs, ino->nid,
						"bogus delta0 %u in big pcluster at lcn %llu",
						lo, (unsigned long long)lcn);
				j -= (int)lo - 2;
				continue;
			}
			++nblk;
		}
	}
	m->pblk = (uint64_t)ef_le32(pack + packsz - 4) + nblk;
	return 0;
}

/* @pc: NULL, or the pack cache of a walk over consecutive lclusters. */
static int z_load_cached(struct ef_fs *fs, struct ef_inode *ino, uint64_t lcn,
			 struct z_lcluster *m, struct z_pack *pc)
{
	if (ino->layout == EROFS_INODE_COMPRESSED_FULL)
		return z_load_full(fs, ino, lcn, m);
	return z_load_compact(fs, ino, lcn, m, pc);
}

static int z_load(struct ef_fs *fs, struct ef_inode *ino, uint64_t lcn, struct z_lcluster *m)
{
	return z_load_cached(fs, ino, lcn, m, NULL);
}

/* Find the head lcluster of the extent holding @pos (< i_size). */
static int z_find_head(struct ef_fs *fs, struct ef_inode *ino, uint64_t pos, struct z_head *h)
{
	const unsigned L = ino->z.lclusterbits;
	const uint64_t start = pos >> L;
	/* An extent may not span more than EF_MAX_LLEN bytes. */
	const uint64_t maxback = ((uint64_t)EF_MAX_LLEN >> L) + 1;
	struct z_lcluster m;
	uint32_t dist;
	int err;

	err = z_load(fs, ino, start, &m);
	if (err)
		return err;
	h->nextpackoff = m.nextpackoff;
	if (m.type != Z_NONHEAD) {
		if ((pos & ((1ull << L) - 1)) >= m.clusterofs)
			goto found;
		if (!m.lcn)
			return ef_corrupt(fs, ino->nid, "lcluster 0 needs a lookback");
		dist = 1;
	} else {
		dist = m.delta[0];
	}
	for (;;) {
		uint64_t lcn;

		if (!dist || dist > m.lcn)
			return ef_corrupt(fs, ino->nid, "bogus lookback distance %u at lcn %llu",
					  dist, (unsigned long long)m.lcn);
		lcn = m.lcn - dist;
		if (start - lcn > maxback)
			return -EOPNOTSUPP;
		err = z_load(fs, ino, lcn, &m);
		if (err)
			return err;
		if (m.type != Z_NONHEAD)
			break;
		dist = m.delta[0];
	}
found:
	h->la = (m.lcn << L) | m.clusterofs;
	h->lcn = m.lcn;
	h->type = m.type;
	h->partialref = m.partialref;
	h->pblk = m.pblk;
	return 0;
}

/* Blocks of the pcluster of head @h (FORMAT.md step 6). */
static int z_pcluster_blocks(struct ef_fs *fs, struct ef_inode *ino, const struct z_head *h,
			     uint64_t *blocks)
{
	const bool big1 = ino->z.advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1;
	const bool big2 = ino->z.advise & Z_EROFS_ADVISE_BIG_PCLUSTER_2;
	const uint64_t next = h->lcn + 1;
	struct z_lcluster m;
	int err;

	*blocks = 1;
	if ((h->type == Z_HEAD1 && !big1) ||
	    ((h->type == Z_PLAIN || h->type == Z_HEAD2) && !big2) ||
	    (next << ino->z.lclusterbits) >= ino->size)
		return 0;
	err = z_load(fs, ino, next, &m);
	if (err)
		return err;
	/* A head right after: the pcluster is a single block. */
	if (m.type != Z_NONHEAD)
		return 0;
	if (m.delta[0] != 1)
		return ef_corrupt(fs, ino->nid, "bogus CBLKCNT at lcn %llu",
				  (unsigned long long)next);
	if (!m.cblkcnt || !m.cblks)
		return ef_corrupt(fs, ino->nid, "no CBLKCNT at lcn %llu",
				  (unsigned long long)next);
	*blocks = m.cblks;
	return 0;
}

/*
 * Decoded length of the extent starting at @h (FORMAT.md step 8): walk
 * forward to the next head.  Always computed so that one decode yields the
 * whole extent.
 *
 * The walk goes one lcluster at a time and checks that the index agrees
 * with itself, so that the extent is a pure function of the image: every
 * lcluster between @h and the next head must be a NONHEAD whose lookback
 * stays inside the extent (1 <= delta[0] <= its distance to @h; as the
 * lclusters before it were checked already, its lookback chain ends at @h
 * whatever its length), and no lookahead (delta[1]) may reach past the
 * next head.  The extent found from any offset in it is then this very
 * extent: from a NONHEAD the lookback lands on @h, from the next head's
 * lcluster below its clusterofs the lookback of 1 does too.
 *
 * The Linux kernel (z_erofs_get_extent_decompressedlen() in
 * fs/erofs/zmap.c) follows the delta[1] jumps without looking at the
 * lclusters they skip, so on an index whose lookahead jumps over a head it
 * reports an extent that the lookback from a later offset contradicts; its
 * page-by-page read path rarely depends on that length.  Here such an
 * index is corrupt (-EFSCORRUPTED), since a reader that caches every page
 * of a decoded extent would show different bytes depending on which page
 * was read first.  Every index mkfs.erofs writes passes: it stores the
 * exact distances (delta[0] is capped at 2047 on very long extents, which
 * chains back to the head through the earlier NONHEADs), and a compact
 * pack ending in a CBLKCNT entry gives a lookahead that stops short.
 *
 * Cost: one index entry per lcluster of the extent (a compact pack is read
 * once for all its entries), bounded by EF_MAX_LLEN; the extent is mapped
 * once per decode.
 */
static int z_extent_llen(struct ef_fs *fs, struct ef_inode *ino, const struct z_head *h,
			 uint64_t *llen)
{
	const unsigned L = ino->z.lclusterbits;
	uint64_t lcn, reach = 0;
	struct z_lcluster m;
	struct z_pack pc = { .len = 0 };
	int err;

	for (lcn = h->lcn + 1;; lcn++) {
		/* the last extent has no next head */
		if ((lcn << L) >= ino->size) {
			*llen = ino->size - h->la;
			return 0;
		}
		if ((lcn << L) > h->la + EF_MAX_LLEN)
			return -EOPNOTSUPP;
		err = z_load_cached(fs, ino, lcn, &m, &pc);
		if (err)
			return err;
		if (m.type != Z_NONHEAD)
			break;
		if (!m.delta[0] || m.delta[0] > lcn - h->lcn)
			return ef_corrupt(fs, ino->nid,
					  "lookback %u at lcn %llu leaves the extent of lcn %llu",
					  m.delta[0], (unsigned long long)lcn,
					  (unsigned long long)h->lcn);
		/* pre-1.0 mkfs wrote 0 here */
		if (m.delta[1] && lcn + m.delta[1] > reach)
			reach = lcn + m.delta[1];
	}
	if (reach > lcn)
		return ef_corrupt(fs, ino->nid, "lookahead to lcn %llu skips the head at lcn %llu",
				  (unsigned long long)reach, (unsigned long long)lcn);
	*llen = (lcn << L) + m.clusterofs - h->la;
	return 0;
}

static int z_set_alg(struct ef_fs *fs, struct ef_inode *ino, unsigned alg, struct ef_map *map)
{
	if (alg >= Z_EROFS_COMPRESSION_MAX)
		return -EOPNOTSUPP;
	if (!(z_avail_algs(fs) & (1u << alg)))
		return ef_corrupt(fs, ino->nid, "algorithm %u not enabled in the superblock", alg);
	map->alg = alg;
	return 0;
}

static void z_map_fragment(const struct ef_inode *ino, uint64_t la, uint64_t fragoff,
			   struct ef_map *map)
{
	map->la = la;
	map->llen = ino->size - la;
	map->pa = fragoff;
	map->plen = map->llen;
	map->dev = 0;
	map->flags = EF_MAP_MAPPED | EF_MAP_ENCODED | EF_MAP_FRAGMENT | EF_MAP_FULL;
	map->alg = EF_ALG_NONE;
}

static int z_map_lcluster(struct ef_fs *fs, struct ef_inode *ino, uint64_t pos,
			  struct ef_map *map)
{
	const struct ef_zinfo *z = &ino->z;
	struct z_head h;
	uint64_t blocks;
	int err;

	err = z_find_head(fs, ino, pos, &h);
	if (err)
		return err;
	map->la = h.la;
	err = z_extent_llen(fs, ino, &h, &map->llen);
	if (err)
		return err;
	if ((z->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) && h.lcn == z->tailextent_headlcn) {
		/* the tail extent runs to the end: no head may follow it */
		if (map->llen != ino->size - h.la)
			return ef_corrupt(fs, ino->nid, "a head follows the fragment at %llu",
					  (unsigned long long)h.la);
		z_map_fragment(ino, h.la, z->fragmentoff, map);
		return 0;
	}
	map->flags = EF_MAP_MAPPED | EF_MAP_ENCODED;
	if (h.partialref)
		map->flags |= EF_MAP_PARTIAL;
	else
		map->flags |= EF_MAP_FULL;
	if (z->idata_size && h.lcn == z->tailextent_headlcn) {
		/* checked to lie within one block by ef_zinfo_init() */
		map->flags |= EF_MAP_META;
		map->pa = z->idata_pos;
		map->plen = z->idata_size;
	} else {
		err = z_pcluster_blocks(fs, ino, &h, &blocks);
		if (err)
			return err;
		map->pa = h.pblk << fs->blkszbits;
		map->plen = blocks << fs->blkszbits;
	}

	switch (h.type) {
	case Z_PLAIN:
		if (map->llen > map->plen)
			return ef_corrupt(fs, ino->nid, "plain extent at %llu beyond its pcluster",
					  (unsigned long long)h.la);
		if (z->advise & Z_EROFS_ADVISE_INTERLACED_PCLUSTER)
			map->alg = EF_ALG_INTERLACED;
		else
			map->alg = EF_ALG_SHIFTED;
		return 0;
	case Z_HEAD2:
		return z_set_alg(fs, ino, z->algorithmtype[1], map);
	default:
		return z_set_alg(fs, ino, z->algorithmtype[0], map);
	}
}

/* Read @n records of @recsz bytes at @pos of the inode's meta space. */
static int z_ext_read(struct ef_fs *fs, struct ef_inode *ino, uint64_t pos, uint8_t *buf,
		      unsigned n, unsigned recsz)
{
	return ef_read_metadata(fs, ino->in_metabox, pos, buf, (size_t)n * recsz);
}

static int z_map_extents(struct ef_fs *fs, struct ef_inode *ino, uint64_t pos,
			 struct ef_map *map)
{
	const struct ef_zinfo *z = &ino->z;
	const unsigned recsz = z->recsz;
	uint64_t rpos = (z_header_pos(ino) + 8 + recsz - 1) & ~(uint64_t)(recsz - 1);
	uint64_t lend = ino->size, lstart, m_pa = 0, pstart_lo = 0;
	uint32_t m_plen = 0;
	bool last, found = false;
	uint8_t buf[Z_EXT_BATCH];
	int err;

	if (recsz <= 8) {
		/* one record per lcluster of 2^L bytes */
		const unsigned L = z->lclusterbits;
		const uint64_t lsz = 1ull << L;
		const uint64_t want = pos >> L;
		uint64_t idx, pa = 0;

		if (recsz == 4) {
			/* le64 base, then plens: pa of record k sums the earlier ones */
			err = ef_read_metadata(fs, ino->in_metabox, rpos, buf, 8);
			if (err)
				return err;
			pa = ef_le64(buf);
			rpos += 8;
			idx = 0;
		} else {
			idx = want;
			rpos += want * recsz;
		}
		while (idx <= want) {
			unsigned n = Z_EXT_BATCH / recsz, k;

			if (want - idx + 1 < n)
				n = (unsigned)(want - idx + 1);
			err = z_ext_read(fs, ino, rpos, buf, n, recsz);
			if (err)
				return err;
			for (k = 0; k < n; k++) {
				const uint8_t *rec = buf + (size_t)k * recsz;

				m_plen = ef_le32(rec);
				if (recsz == 4) {
					m_pa = pa;
					pa += m_plen & Z_EXT_PLEN_MASK;
				} else {
					m_pa = ef_le32(rec + 4);
				}
			}
			pstart_lo = recsz == 4 ? 0 : m_pa;
			idx += n;
			rpos += (uint64_t)n * recsz;
		}
		lstart = (want + 1) << L;
		last = lstart >= ((ino->size + lsz - 1) & ~(lsz - 1));
		if (lstart < lend)
			lend = lstart;
		lstart -= lsz;
		found = true;
	} else {
		/*
		 * Sorted records: the last one with lstart <= pos.  The records
		 * the search reads must rise strictly in the order of their
		 * indexes, so that every offset in [lstart, lend) takes the
		 * same path and finds the same record: overlapping or
		 * out-of-order records are corrupt.  The kernel checks only
		 * that no record read lies past the one above it.
		 */
		uint64_t l = 0, r = z->extents;
		bool above = false;

		lstart = 0;
		while (l < r) {
			const uint64_t mid = l + (r - l) / 2;
			uint64_t la;

			err = z_ext_read(fs, ino, rpos + mid * recsz, buf, 1, recsz);
			if (err)
				return err;
			la = ef_le32(buf + 12);
			if (recsz == 32)
				la |= (uint64_t)ef_le32(buf + 16) << 32;
			if (la > pos) {
				/* lend: the lowest record above pos read so far */
				if (above ? la >= lend : la > lend)
					return ef_corrupt(fs, ino->nid,
							  "extent record %llu out of order",
							  (unsigned long long)mid);
				r = mid;
				lend = la;
				above = true;
			} else {
				if (found && la <= lstart)
					return ef_corrupt(fs, ino->nid,
							  "extent record %llu out of order",
							  (unsigned long long)mid);
				l = mid + 1;
				lstart = la;
				m_plen = ef_le32(buf);
				pstart_lo = ef_le32(buf + 4);
				m_pa = pstart_lo | (uint64_t)ef_le32(buf + 8) << 32;
				found = true;
			}
		}
		last = l >= z->extents;
	}

	map->dev = 0;
	if (!found) {
		/* before the first record: a hole up to it */
		map->la = 0;
		map->llen = lend;
		map->flags = 0;
		return 0;
	}
	map->la = lstart;
	map->llen = lend - lstart;
	if (last && (z->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER)) {
		uint64_t fragoff = m_plen;

		if (recsz >= 8)
			fragoff |= pstart_lo << 32;
		z_map_fragment(ino, lstart, fragoff, map);
		return 0;
	}
	if (!(m_plen & Z_EXT_PLEN_MASK)) {
		map->flags = 0;
		return 0;
	}
	map->flags = EF_MAP_MAPPED | EF_MAP_ENCODED;
	map->flags |= (m_plen & Z_EXT_PLEN_PARTIAL) ? EF_MAP_PARTIAL : EF_MAP_FULL;
	map->pa = m_pa;
	map->plen = m_plen & Z_EXT_PLEN_MASK;
	if (m_pa > UINT64_MAX - map->plen)
		return ef_corrupt(fs, ino->nid, "extent at %llu beyond the address space",
				  (unsigned long long)lstart);
	if (m_plen >> Z_EXT_PLEN_FMT_BIT)
		return z_set_alg(fs, ino, (m_plen >> Z_EXT_PLEN_FMT_BIT) - 1, map);
	if (map->llen > map->plen)
		return ef_corrupt(fs, ino->nid, "plain extent at %llu beyond its pcluster",
				  (unsigned long long)lstart);
	if ((z->advise & Z_EROFS_ADVISE_INTERLACED_PCLUSTER) && !(m_pa & (fs->blksz - 1)))
		map->alg = EF_ALG_INTERLACED;
	else
		map->alg = EF_ALG_SHIFTED;
	return 0;
}

int ef_zmap(struct ef_fs *fs, struct ef_inode *ino, uint64_t pos, struct ef_map *map)
{
	const struct ef_zinfo *z = &ino->z;
	int err;

	if (pos >= ino->size || !z->tail_known)
		return -EINVAL;
	memset(map, 0, sizeof(*map));
	if ((z->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) && z_is_packed(fs, ino))
		return ef_corrupt(fs, ino->nid, "fragment inside the packed inode");

	if (z->whole_fragment ||
	    (!z->recsz && (z->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) &&
	     !z->tailextent_headlcn)) {
		z_map_fragment(ino, 0, z->fragmentoff, map);
		return 0;
	}
	if (z->recsz)
		err = z_map_extents(fs, ino, pos, map);
	else
		err = z_map_lcluster(fs, ino, pos, map);
	if (err)
		return err;

	/* The promise to callers: the extent holds @pos, within the file. */
	if (map->la > pos || map->llen > ino->size - map->la || map->la + map->llen <= pos)
		return ef_corrupt(fs, ino->nid, "extent [%llu, +%llu) does not hold %llu",
				  (unsigned long long)map->la, (unsigned long long)map->llen,
				  (unsigned long long)pos);
	if ((map->flags & EF_MAP_ENCODED) && !(map->flags & EF_MAP_FRAGMENT) &&
	    (map->plen > EF_MAX_PLEN || map->llen > EF_MAX_LLEN || !map->plen))
		return map->plen ? -EOPNOTSUPP : ef_corrupt(fs, ino->nid, "empty pcluster");
	return 0;
}

int ef_zinfo_init(struct ef_fs *fs, struct ef_inode *ino)
{
	struct ef_zinfo *z = &ino->z;
	const uint64_t hpos = z_header_pos(ino);
	uint8_t h[8];
	int err;

	memset(z, 0, sizeof(*z));
	err = ef_read_metadata(fs, ino->in_metabox, hpos, h, sizeof(h));
	if (err)
		return err;

	/* Whole file in the packed inode: the header is its 63-bit offset. */
	if (h[7] >> Z_EROFS_FRAGMENT_INODE_BIT) {
		if (!(fs->feature_incompat & EROFS_INCOMPAT_FRAGMENTS))
			return ef_corrupt(fs, ino->nid, "fragment without the fragments feature");
		z->advise = Z_EROFS_ADVISE_FRAGMENT_PCLUSTER;
		z->whole_fragment = true;
		z->fragmentoff = ef_le64(h) & ~(1ull << 63);
		z->lclusterbits = fs->blkszbits;
		z->tail_known = true;
		return 0;
	}

	z->advise = ef_le16(h + 4);
	z->lclusterbits = fs->blkszbits + (h[7] & 15);
	if ((z->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) &&
	    !(fs->feature_incompat & EROFS_INCOMPAT_FRAGMENTS))
		return ef_corrupt(fs, ino->nid, "fragment without the fragments feature");

	if (ino->layout == EROFS_INODE_COMPRESSED_FULL && (z->advise & Z_EROFS_ADVISE_EXTENTS)) {
		/* bits 1-2 are the record size here, not big pcluster flags */
		z->recsz = 4u << ((z->advise >> 1) & 3);
		if (z->recsz > 8)
			z->extents = ef_le32(h) | (uint64_t)ef_le16(h + 6) << 32;
		z->tail_known = true;
		return 0;
	}

	z->algorithmtype[0] = h[6] & 15;
	z->algorithmtype[1] = h[6] >> 4;
	if (z->algorithmtype[0] >= Z_EROFS_COMPRESSION_MAX ||
	    z->algorithmtype[1] >= Z_EROFS_COMPRESSION_MAX) {
		if (fs->io.report)
			fs->io.report(fs->io.ctx, ino->nid, "unknown compression algorithm");
		return -EOPNOTSUPP;
	}
	if (z->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER)
		z->fragmentoff = ef_le32(h);
	else if (z->advise & Z_EROFS_ADVISE_INLINE_PCLUSTER)
		z->idata_size = ef_le16(h + 2);

	if (!(fs->feature_incompat & EROFS_INCOMPAT_BIG_PCLUSTER) &&
	    (z->advise & (Z_EROFS_ADVISE_BIG_PCLUSTER_1 | Z_EROFS_ADVISE_BIG_PCLUSTER_2)))
		return ef_corrupt(fs, ino->nid, "big pcluster without the superblock feature");
	if (ino->layout == EROFS_INODE_COMPRESSED_COMPACT &&
	    !(z->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1) !=
		    !(z->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_2))
		return ef_corrupt(fs, ino->nid, "compact big pcluster head1/head2 differ");

	/*
	 * Find the tail extent now, once, rather than on first use: the
	 * inode is then read-only for ef_zmap() and needs no lock.
	 */
	if (ino->size && (z->idata_size || (z->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER))) {
		struct z_head th;

		err = z_find_head(fs, ino, ino->size - 1, &th);
		if (err)
			return err;
		z->tailextent_headlcn = th.lcn;
		if (z->idata_size) {
			/* the inline pcluster follows the index array */
			z->idata_pos = th.nextpackoff;
			if ((z->idata_pos & (fs->blksz - 1)) + z->idata_size > fs->blksz)
				return ef_corrupt(fs, ino->nid,
						  "inline pcluster of %u bytes crosses a block",
						  z->idata_size);
		}
		/* full indexes keep fragmentoff bits 32-63 in the tail head */
		if ((z->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) &&
		    ino->layout == EROFS_INODE_COMPRESSED_FULL)
			z->fragmentoff |= th.pblk << 32;
	}
	z->tail_known = true;
	return 0;
}
