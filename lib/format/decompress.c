// SPDX-License-Identifier: MIT
/*
 * Decoding one extent of a compressed inode (FORMAT.md section 5): read its
 * pcluster (from the device, from the inode's meta space for ztailpacking,
 * or from the packed inode for fragments), strip the zero padding, and run
 * the pcluster's decoder so that exactly map->llen bytes come out.
 *
 * Each pcluster is an independent stream.  Every decoder is held to the
 * exact output size: a stream that ends early, runs long, or does not end
 * where its input ends is -EFSCORRUPTED.  Decoders write only into the
 * caller's buffer or the scratch buffers, never into shared pages, since
 * pclusters of a crafted (or deduplicated) image may overlap.
 *
 * Decoder states live in struct ef_scratch (one per thread) and are reused
 * from call to call; buffers there only grow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

#ifdef ESHARE_HAVE_LZ4
#include <lz4.h>
#endif
#ifdef ESHARE_HAVE_LZMA
#include <lzma.h>
#endif
#ifdef ESHARE_HAVE_DEFLATE
#include <libdeflate.h>
#endif
#ifdef ESHARE_HAVE_ZSTD
#include <zstd.h>
#endif

/* MicroLZMA dictionary when the superblock gives none (kernel maximum). */
#define EF_LZMA_DICT_MAX (8u << 20)
#define EF_LZMA_DICT_MIN 4096u
/* Zstd window limit: 1 MiB, the most mkfs.erofs and the kernel allow. */
#define EF_ZSTD_WINDOWLOG_MAX 20

bool ef_alg_supported(unsigned alg)
{
	switch (alg) {
	case Z_EROFS_COMPRESSION_LZ4:
#ifdef ESHARE_HAVE_LZ4
		return true;
#else
		return false;
#endif
	case Z_EROFS_COMPRESSION_LZMA:
#ifdef ESHARE_HAVE_LZMA
		return true;
#else
		return false;
#endif
	case Z_EROFS_COMPRESSION_DEFLATE:
#ifdef ESHARE_HAVE_DEFLATE
		return true;
#else
		return false;
#endif
	case Z_EROFS_COMPRESSION_ZSTD:
#ifdef ESHARE_HAVE_ZSTD
		return true;
#else
		return false;
#endif
	case EF_ALG_SHIFTED:
	case EF_ALG_INTERLACED:
	case EF_ALG_NONE:
		return true;
	default:
		return false;
	}
}

const char *ef_alg_name(unsigned alg)
{
	switch (alg) {
	case Z_EROFS_COMPRESSION_LZ4:
		return "lz4";
	case Z_EROFS_COMPRESSION_LZMA:
		return "lzma";
	case Z_EROFS_COMPRESSION_DEFLATE:
		return "deflate";
	case Z_EROFS_COMPRESSION_ZSTD:
		return "zstd";
	case EF_ALG_SHIFTED:
		return "shifted";
	case EF_ALG_INTERLACED:
		return "interlaced";
	case EF_ALG_NONE:
		return "none";
	default:
		return "unknown";
	}
}

void ef_scratch_free(struct ef_scratch *s)
{
	if (!s)
		return;
	free(s->in);
	free(s->tmp);
	free(s->out);
	free(s->win);
#ifdef ESHARE_HAVE_LZMA
	if (s->codec[Z_EROFS_COMPRESSION_LZMA]) {
		lzma_end(s->codec[Z_EROFS_COMPRESSION_LZMA]);
		free(s->codec[Z_EROFS_COMPRESSION_LZMA]);
	}
#endif
#ifdef ESHARE_HAVE_DEFLATE
	if (s->codec[Z_EROFS_COMPRESSION_DEFLATE])
		libdeflate_free_decompressor(s->codec[Z_EROFS_COMPRESSION_DEFLATE]);
#endif
#ifdef ESHARE_HAVE_ZSTD
	if (s->codec[Z_EROFS_COMPRESSION_ZSTD])
		ZSTD_freeDCtx(s->codec[Z_EROFS_COMPRESSION_ZSTD]);
#endif
	memset(s, 0, sizeof(*s));
}

/* Make *buf hold at least @need bytes; old contents are not kept. */
static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	size_t n;
	uint8_t *p;

	if (*cap >= need)
		return 0;
	n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	p = malloc(n);
	if (!p)
		return -ENOMEM;
	free(*buf);
	*buf = p;
	*cap = n;
	return 0;
}

/* Raw read-ahead, once pclusters are being read in order. */
#define RAW_WINDOW (128u << 10)

/*
 * Read a pcluster's raw bytes.  When this thread's previous pcluster of
 * the same image ended where this one starts, read a window ahead, so a
 * sequential read costs one backend call per window, not one per
 * pcluster; a random read stays exact.
 */
static int read_pcluster(struct ef_fs *fs, struct ef_inode *ino, const struct ef_map *map,
			 void *buf, size_t len, struct ef_scratch *s)
{
	uint64_t pa = map->pa, avail;
	int err;

	if (map->flags & EF_MAP_META)
		return ef_read_metadata(fs, ino->in_metabox, pa, buf, len);
	if (!s || map->dev || fs->ndevices || len >= RAW_WINDOW)
		return ef_read_device_raw(fs, map->dev, pa, buf, len);
	if (s->win && s->win_fs == fs->id && pa >= s->win_start &&
	    pa - s->win_start <= s->win_len && len <= s->win_len - (pa - s->win_start)) {
		memcpy(buf, s->win + (pa - s->win_start), len);
		s->seq_fs = fs->id;
		s->seq_next = pa + len;
		return 0;
	}
	if (s->seq_fs != fs->id || s->seq_next != pa || pa >= fs->devices[0].size) {
		s->seq_fs = fs->id;
		s->seq_next = pa + len;
		return ef_read_device_raw(fs, 0, pa, buf, len);
	}
	if (!s->win && !(s->win = malloc(RAW_WINDOW)))
		return ef_read_device_raw(fs, 0, pa, buf, len);
	avail = fs->devices[0].size - pa;
	s->win_len = avail < RAW_WINDOW ? avail : RAW_WINDOW;
	s->win_start = pa;
	s->win_fs = 0; /* holds nothing valid until the read succeeds */
	err = ef_read_device_raw(fs, 0, pa, s->win, s->win_len);
	if (err || len > s->win_len) {
		/* a fault ahead of this pcluster is not this read's business */
		s->win_fs = 0;
		return ef_read_device_raw(fs, 0, pa, buf, len);
	}
	s->win_fs = fs->id;
	memcpy(buf, s->win, len);
	s->seq_fs = fs->id;
	s->seq_next = pa + len;
	return 0;
}

#ifdef ESHARE_HAVE_LZ4
static int dec_lz4(struct ef_fs *fs, struct ef_inode *ino, const uint8_t *in, size_t insize,
		   uint8_t *out, size_t llen, bool partial)
{
	int ret;

	if (insize > INT32_MAX || llen > INT32_MAX)
		return -EOPNOTSUPP;
	if (partial)
		ret = LZ4_decompress_safe_partial((const char *)in, (char *)out, (int)insize,
						  (int)llen, (int)llen);
	else
		ret = LZ4_decompress_safe((const char *)in, (char *)out, (int)insize, (int)llen);
	if (ret != (int)llen)
		return ef_corrupt(fs, ino->nid, "lz4 pcluster decoded to %d of %zu bytes", ret,
				  llen);
	return 0;
}
#endif

#ifdef ESHARE_HAVE_LZMA
static int dec_lzma(struct ef_fs *fs, struct ef_inode *ino, struct ef_scratch *s,
		    const uint8_t *in, size_t insize, uint8_t *out, size_t llen, bool partial)
{
	lzma_stream *strm = s->codec[Z_EROFS_COMPRESSION_LZMA];
	uint32_t dict = fs->cfg.lzma_dict_size;
	lzma_ret ret;

	if (!strm) {
		const lzma_stream init = LZMA_STREAM_INIT;

		strm = malloc(sizeof(*strm));
		if (!strm)
			return -ENOMEM;
		*strm = init;
		s->codec[Z_EROFS_COMPRESSION_LZMA] = strm;
	}
	/*
	 * A bigger dictionary than the encoder's is fine; keep it the same
	 * from call to call so liblzma reuses its buffer.
	 */
	if (!dict || dict > EF_LZMA_DICT_MAX)
		dict = EF_LZMA_DICT_MAX;
	if (dict < EF_LZMA_DICT_MIN)
		dict = EF_LZMA_DICT_MIN;
	ret = lzma_microlzma_decoder(strm, insize, llen, !partial, dict);
	if (ret == LZMA_MEM_ERROR)
		return -ENOMEM;
	if (ret != LZMA_OK)
		return ef_corrupt(fs, ino->nid, "lzma decoder refused the pcluster (%d)", ret);
	strm->next_in = in;
	strm->avail_in = insize;
	strm->next_out = out;
	strm->avail_out = llen;
	ret = lzma_code(strm, LZMA_FINISH);
	if (ret == LZMA_MEM_ERROR)
		return -ENOMEM;
	if (ret != LZMA_STREAM_END || strm->total_out != llen)
		return ef_corrupt(fs, ino->nid, "lzma pcluster decoded to %llu of %zu bytes (%d)",
				  (unsigned long long)strm->total_out, llen, ret);
	return 0;
}
#endif

#ifdef ESHARE_HAVE_DEFLATE
static int dec_deflate(struct ef_fs *fs, struct ef_inode *ino, struct ef_scratch *s,
		       const uint8_t *in, size_t insize, uint8_t *out, size_t llen, bool partial)
{
	struct libdeflate_decompressor *d = s->codec[Z_EROFS_COMPRESSION_DEFLATE];
	enum libdeflate_result r;
	size_t actual = 0, cap;
	int err;

	if (!d) {
		d = libdeflate_alloc_decompressor();
		if (!d)
			return -ENOMEM;
		s->codec[Z_EROFS_COMPRESSION_DEFLATE] = d;
	}
	if (!partial) {
		r = libdeflate_deflate_decompress(d, in, insize, out, llen, &actual);
		if (r != LIBDEFLATE_SUCCESS || actual != llen)
			return ef_corrupt(fs, ino->nid, "deflate pcluster: %d, %zu of %zu bytes",
					  (int)r, actual, llen);
		return 0;
	}
	/*
	 * libdeflate cannot stop early: decode the whole pcluster into the
	 * scratch buffer, growing it until the stream fits, and keep the prefix.
	 */
	cap = llen > 65536 ? llen : 65536;
	for (;;) {
		err = grow(&s->tmp, &s->tmp_cap, cap);
		if (err)
			return err;
		r = libdeflate_deflate_decompress(d, in, insize, s->tmp, s->tmp_cap, &actual);
		if (r != LIBDEFLATE_INSUFFICIENT_SPACE)
			break;
		if (s->tmp_cap >= EF_MAX_LLEN)
			return -EOPNOTSUPP;
		cap = s->tmp_cap * 2 < EF_MAX_LLEN ? s->tmp_cap * 2 : EF_MAX_LLEN;
	}
	if (r != LIBDEFLATE_SUCCESS || actual < llen)
		return ef_corrupt(fs, ino->nid, "deflate pcluster: result %d, %zu of %zu bytes",
				  (int)r, actual, llen);
	memcpy(out, s->tmp, llen);
	return 0;
}
#endif

#ifdef ESHARE_HAVE_ZSTD
static int dec_zstd(struct ef_fs *fs, struct ef_inode *ino, struct ef_scratch *s,
		    const uint8_t *in, size_t insize, uint8_t *out, size_t llen, bool partial)
{
	ZSTD_DCtx *d = s->codec[Z_EROFS_COMPRESSION_ZSTD];
	ZSTD_inBuffer ib = { in, insize, 0 };
	ZSTD_outBuffer ob = { out, llen, 0 };
	size_t r;

	if (!d) {
		d = ZSTD_createDCtx();
		if (!d)
			return -ENOMEM;
		r = ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, EF_ZSTD_WINDOWLOG_MAX);
		if (ZSTD_isError(r)) {
			ZSTD_freeDCtx(d);
			return -ENOMEM;
		}
		s->codec[Z_EROFS_COMPRESSION_ZSTD] = d;
	}
	if (!partial) {
		r = ZSTD_decompressDCtx(d, out, llen, in, insize);
		if (ZSTD_isError(r) || r != llen)
			return ef_corrupt(fs, ino->nid, "zstd pcluster: %s, %zu bytes",
					  ZSTD_isError(r) ? ZSTD_getErrorName(r) : "wrong size",
					  llen);
		return 0;
	}
	/* Only a prefix is wanted: stream until the output is full. */
	ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
	while (ob.pos < ob.size) {
		size_t ipos = ib.pos, opos = ob.pos;

		r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r))
			return ef_corrupt(fs, ino->nid, "zstd pcluster: %s", ZSTD_getErrorName(r));
		if (ob.pos == ob.size)
			break;
		if (!r || (ib.pos == ipos && ob.pos == opos))
			return ef_corrupt(fs, ino->nid, "zstd pcluster ends after %zu of %zu bytes",
					  ob.pos, llen);
	}
	return 0;
}
#endif

static int unsupported(struct ef_fs *fs, struct ef_inode *ino, unsigned alg)
{
	if (fs->io.report) {
		char msg[96];

		snprintf(msg, sizeof(msg), "compression algorithm %s is not built in",
			 ef_alg_name(alg));
		fs->io.report(fs->io.ctx, ino->nid, msg);
	}
	return -EOPNOTSUPP;
}

/* Fragment: the extent's bytes lie in the packed inode at map->pa. */
static int decode_fragment(struct ef_fs *fs, struct ef_inode *ino, const struct ef_map *map,
			   void *out)
{
	struct ef_inode *packed = fs->packed;

	if (!packed)
		return ef_corrupt(fs, ino->nid, "fragment but no packed inode");
	if (packed == ino || packed->nid == ino->nid)
		return ef_corrupt(fs, ino->nid, "fragment inside the packed inode");
	if (map->pa > packed->size || map->llen > packed->size - map->pa)
		return ef_corrupt(fs, ino->nid, "fragment [%llu, +%llu) beyond the packed inode",
				  (unsigned long long)map->pa, (unsigned long long)map->llen);
	return ef_read_data_via_io(fs, packed, out, map->llen, map->pa);
}

/*
 * Uncompressed pclusters.  Shifted: pcluster byte k is file byte la + k.
 * Interlaced: the block is rotated so that file byte la + k sits at block
 * offset ((la mod blksz) + k) mod blksz; i.e. the bytes up to the first
 * block boundary come from the end of the input (as the kernel does it).
 */
static int decode_plain(struct ef_fs *fs, struct ef_inode *ino, const struct ef_map *map,
			uint8_t *out, struct ef_scratch *s)
{
	size_t llen = map->llen, plen = map->plen, cur, head;
	int err;

	if (llen > plen)
		return ef_corrupt(fs, ino->nid, "plain extent longer than its pcluster");
	if (map->alg == EF_ALG_SHIFTED)
		return read_pcluster(fs, ino, map, out, llen, s);
	if (plen > fs->blksz)
		return ef_corrupt(fs, ino->nid, "interlaced pcluster bigger than a block");
	err = grow(&s->in, &s->in_cap, plen);
	if (err)
		return err;
	err = read_pcluster(fs, ino, map, s->in, plen, s);
	if (err)
		return err;
	/* bytes la .. the next block boundary sit at the end of the input */
	cur = fs->blksz - (map->la & (fs->blksz - 1));
	if (cur > plen)
		return ef_corrupt(fs, ino->nid, "interlaced pcluster of %zu bytes at %llu", plen,
				  (unsigned long long)map->la);
	head = plen - cur;
	if (cur > llen)
		cur = llen;
	memcpy(out, s->in + head, cur);
	memcpy(out + cur, s->in, llen - cur);
	return 0;
}

int ef_decode_extent(struct ef_fs *fs, struct ef_inode *ino, const struct ef_map *map,
		     void *out, struct ef_scratch *scratch)
{
	const size_t llen = map->llen;
	const uint8_t *in;
	size_t insize;
	bool partial;
	int err;

	if (!(map->flags & EF_MAP_MAPPED))
		return -EINVAL;
	if (!llen)
		return 0;
	if (llen > EF_MAX_LLEN)
		return -EOPNOTSUPP;
	if (map->flags & EF_MAP_FRAGMENT)
		return decode_fragment(fs, ino, map, out);
	if (!(map->flags & EF_MAP_ENCODED) || map->alg == EF_ALG_NONE)
		return read_pcluster(fs, ino, map, out, llen, scratch);
	if (!map->plen)
		return ef_corrupt(fs, ino->nid, "empty pcluster");
	if (map->plen > EF_MAX_PLEN)
		return -EOPNOTSUPP;
	if (map->alg == EF_ALG_SHIFTED || map->alg == EF_ALG_INTERLACED)
		return decode_plain(fs, ino, map, out, scratch);
	if (map->alg >= Z_EROFS_COMPRESSION_MAX)
		return -EOPNOTSUPP;
	if (!ef_alg_supported(map->alg))
		return unsupported(fs, ino, map->alg);

	err = grow(&scratch->in, &scratch->in_cap, map->plen);
	if (err)
		return err;
	err = read_pcluster(fs, ino, map, scratch->in, map->plen, scratch);
	if (err)
		return err;
	in = scratch->in;
	insize = map->plen;
	partial = !(map->flags & EF_MAP_FULL) || (map->flags & EF_MAP_PARTIAL);

	if (map->alg != Z_EROFS_COMPRESSION_LZ4 ||
	    (fs->feature_incompat & EROFS_INCOMPAT_LZ4_0PADDING)) {
		/*
		 * The stream is right-aligned in its pcluster: skip the
		 * leading zeros, which the kernel looks for within the
		 * pcluster's first block only.
		 */
		size_t win = fs->blksz - (map->pa & (fs->blksz - 1)), skip = 0;

		if (win > insize)
			win = insize;
		while (skip < win && !in[skip])
			skip++;
		if (skip == win)
			return ef_corrupt(fs, ino->nid, "pcluster at %llu is all zeros",
					  (unsigned long long)map->pa);
		in += skip;
		insize -= skip;
	} else {
		/*
		 * Legacy LZ4 (no 0padding): the stream starts at byte 0 and
		 * its length is unknown, so only the partial decoder can
		 * stop at the output size.
		 */
		partial = true;
	}

	switch (map->alg) {
#ifdef ESHARE_HAVE_LZ4
	case Z_EROFS_COMPRESSION_LZ4:
		err = dec_lz4(fs, ino, in, insize, out, llen, partial);
		break;
#endif
#ifdef ESHARE_HAVE_LZMA
	case Z_EROFS_COMPRESSION_LZMA:
		err = dec_lzma(fs, ino, scratch, in, insize, out, llen, partial);
		break;
#endif
#ifdef ESHARE_HAVE_DEFLATE
	case Z_EROFS_COMPRESSION_DEFLATE:
		err = dec_deflate(fs, ino, scratch, in, insize, out, llen, partial);
		break;
#endif
#ifdef ESHARE_HAVE_ZSTD
	case Z_EROFS_COMPRESSION_ZSTD:
		err = dec_zstd(fs, ino, scratch, in, insize, out, llen, partial);
		break;
#endif
	default:
		(void)partial; /* in a build with no decoder at all */
		return unsupported(fs, ino, map->alg);
	}
	if (err)
		return err;
	if (fs->io.count_decompressed)
		fs->io.count_decompressed(fs->io.ctx, llen);
	return 0;
}
