// SPDX-License-Identifier: MIT
/*
 * The decoders of lib/format/decompress.c alone, on streams made here by
 * the real compressors (liblz4, liblzma's MicroLZMA, libdeflate, libzstd):
 * full, partial (prefix) and wrong-size decodes, corrupt and cut streams,
 * legacy LZ4 without 0padding, shifted and interlaced plain pclusters.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "format/ondisk.h"
#include "helpers/memfs.h"

/*
 * The ESHARE_HAVE_* macros are private to the library's own objects; the
 * codec tests are compiled where the headers exist and run only for the
 * algorithms this build decodes (ef_alg_supported()).
 */
#if __has_include(<lz4.h>)
#include <lz4.h>
#define T_LZ4 1
#endif
#if __has_include(<lzma.h>)
#include <lzma.h>
#define T_LZMA 1
#endif
#if __has_include(<libdeflate.h>)
#include <libdeflate.h>
#define T_DEFLATE 1
#endif
#if __has_include(<zstd.h>)
#include <zstd.h>
#define T_ZSTD 1
#endif

/* ------------------------------------------------------------------ */
/* Streams made here                                                    */

#define SYN_N 49157u /* decoded size: odd, > 12 blocks */
#define SYN_PA 8192u

struct syn {
	struct memfs m;
	struct ef_device dev;
	struct ef_fs fs;
	struct ef_inode ino;
	uint8_t *src;
};

static void syn_text(uint8_t *p, size_t n)
{
	static const char *const words[] = { "erofs ", "page ", "cache ", "shared ", "the ",
					     "of ", "compressed ", "block ", "\n", "extent " };
	uint32_t x = 12345;
	size_t o = 0;

	while (o < n) {
		const char *w;
		size_t l;

		x = x * 1103515245u + 12345u;
		w = words[(x >> 16) % 10];
		l = strlen(w);
		if (l > n - o)
			l = n - o;
		memcpy(p + o, w, l);
		o += l;
	}
}

static void syn_init(struct syn *s, bool zeropad)
{
	memset(s, 0, sizeof(*s));
	memfs_adopt(&s->m, calloc(1, 4u << 20), 4u << 20);
	s->src = malloc(SYN_N);
	ck_assert(s->m.data[0] && s->src);
	syn_text(s->src, SYN_N);
	s->dev.size = s->m.len[0];
	s->fs.io = memfs_io(&s->m);
	s->fs.blkszbits = 12;
	s->fs.blksz = 4096;
	s->fs.feature_incompat = EROFS_INCOMPAT_COMPR_CFGS;
	if (zeropad)
		s->fs.feature_incompat |= EROFS_INCOMPAT_LZ4_0PADDING;
	s->fs.available_compr_algs = 0xf;
	s->fs.cfg.lzma_dict_size = 1u << 20;
	s->fs.devices = &s->dev;
	s->ino.nid = 42;
	s->ino.size = SYN_N;
	s->ino.layout = EROFS_INODE_COMPRESSED_FULL;
}

static void syn_free(struct syn *s)
{
	memfs_free(&s->m);
	free(s->src);
}

/* Place @c (@clen bytes) right-aligned in a block-aligned pcluster at SYN_PA. */
static uint64_t syn_place(struct syn *s, const void *c, size_t clen, bool right)
{
	uint64_t plen = (clen + 4095) & ~4095ull;

	memset(s->m.data[0] + SYN_PA, 0, plen);
	memcpy(s->m.data[0] + SYN_PA + (right ? plen - clen : 0), c, clen);
	return plen;
}

static int syn_decode(struct syn *s, unsigned alg, uint64_t plen, uint64_t llen, unsigned flags,
		      uint8_t *out, struct ef_scratch *sc)
{
	struct ef_map m = { .la = 0, .llen = llen, .pa = SYN_PA, .plen = plen,
			    .flags = EF_MAP_MAPPED | EF_MAP_ENCODED | flags, .alg = alg };

	return ef_decode_extent(&s->fs, &s->ino, &m, out, sc);
}

/* Full, prefix, short, long and broken decodes of one compressed stream. */
static void check_codec(struct syn *s, unsigned alg, uint8_t *c, size_t clen)
{
	struct ef_scratch sc = { 0 };
	uint8_t *out = malloc(SYN_N + 1);
	uint64_t plen = syn_place(s, c, clen, true);
	const uint64_t prefix = SYN_N / 3 + 7;
	size_t first = plen - clen;

	ck_assert_ptr_nonnull(out);
	s->m.decoded = 0;
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N, EF_MAP_FULL, out, &sc), 0);
	ck_assert(!memcmp(out, s->src, SYN_N));
	ck_assert_uint_eq(s->m.decoded, SYN_N);
	/* again, with the decoder state reused */
	memset(out, 0, SYN_N);
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N, EF_MAP_FULL, out, &sc), 0);
	ck_assert(!memcmp(out, s->src, SYN_N));
	/* a partially referenced pcluster: only a prefix is this extent's */
	memset(out, 0, SYN_N);
	ck_assert_int_eq(syn_decode(s, alg, plen, prefix, EF_MAP_PARTIAL, out, &sc), 0);
	ck_assert(!memcmp(out, s->src, prefix));
	/* exact output: one byte short or long is a lie */
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N - 1, EF_MAP_FULL, out, &sc),
			 -EFSCORRUPTED);
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N + 1, EF_MAP_FULL, out, &sc),
			 -EFSCORRUPTED);
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N + 1, EF_MAP_PARTIAL, out, &sc),
			 -EFSCORRUPTED);
	/* the stream cut short: its first half becomes padding */
	memset(s->m.data[0] + SYN_PA + first, 0, clen / 2);
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N, EF_MAP_FULL, out, &sc), -EFSCORRUPTED);
	ck_assert_int_eq(syn_decode(s, alg, plen, prefix, EF_MAP_PARTIAL, out, &sc),
			 -EFSCORRUPTED);
	/* nothing but zeros */
	memset(s->m.data[0] + SYN_PA, 0, plen);
	ck_assert_int_eq(syn_decode(s, alg, plen, SYN_N, EF_MAP_FULL, out, &sc), -EFSCORRUPTED);
	ef_scratch_free(&sc);
	ef_scratch_free(&sc); /* twice is harmless */
	free(out);
}

START_TEST(test_codec_lz4)
{
#ifdef T_LZ4
	if (!ef_alg_supported(Z_EROFS_COMPRESSION_LZ4))
		return;
	struct syn s;
	int cap = LZ4_compressBound(SYN_N), clen;
	uint8_t *c = malloc((size_t)cap), *out = malloc(SYN_N);
	struct ef_scratch sc = { 0 };
	uint64_t plen;

	syn_init(&s, true);
	clen = LZ4_compress_default((const char *)s.src, (char *)c, SYN_N, cap);
	ck_assert_int_gt(clen, 0);
	check_codec(&s, Z_EROFS_COMPRESSION_LZ4, c, (size_t)clen);

	/* legacy images: no 0padding, the stream starts at byte 0 */
	s.fs.feature_incompat = EROFS_INCOMPAT_COMPR_CFGS;
	plen = syn_place(&s, c, (size_t)clen, false);
	ck_assert_int_eq(syn_decode(&s, Z_EROFS_COMPRESSION_LZ4, plen, SYN_N, EF_MAP_FULL, out,
				    &sc), 0);
	ck_assert(!memcmp(out, s.src, SYN_N));
	/*
	 * (The true end of a legacy stream is unknown: the zeros after it
	 * parse as more LZ4 sequences, so a longer llen is not detectable.)
	 */
	ck_assert_int_eq(syn_decode(&s, Z_EROFS_COMPRESSION_LZ4, plen, 3000, EF_MAP_FULL, out,
				    &sc), 0);
	ck_assert(!memcmp(out, s.src, 3000));
	ef_scratch_free(&sc);
	syn_free(&s);
	free(c);
	free(out);
#endif
}
END_TEST

START_TEST(test_codec_lzma)
{
#ifdef T_LZMA
	if (!ef_alg_supported(Z_EROFS_COMPRESSION_LZMA))
		return;
	struct syn s;
	lzma_stream strm = LZMA_STREAM_INIT;
	lzma_options_lzma opt;
	size_t cap = SYN_N + 4096;
	uint8_t *c = malloc(cap);

	syn_init(&s, true);
	ck_assert(!lzma_lzma_preset(&opt, 6));
	opt.dict_size = 1u << 16;
	ck_assert_int_eq(lzma_microlzma_encoder(&strm, &opt), LZMA_OK);
	strm.next_in = s.src;
	strm.avail_in = SYN_N;
	strm.next_out = c;
	strm.avail_out = cap;
	ck_assert_int_eq(lzma_code(&strm, LZMA_FINISH), LZMA_STREAM_END);
	ck_assert_uint_eq(strm.total_in, SYN_N);
	check_codec(&s, Z_EROFS_COMPRESSION_LZMA, c, strm.total_out);
	lzma_end(&strm);
	syn_free(&s);
	free(c);
#endif
}
END_TEST

START_TEST(test_codec_deflate)
{
#ifdef T_DEFLATE
	if (!ef_alg_supported(Z_EROFS_COMPRESSION_DEFLATE))
		return;
	struct syn s;
	struct libdeflate_compressor *comp = libdeflate_alloc_compressor(6);
	size_t cap = SYN_N + 4096, clen;
	uint8_t *c = malloc(cap);

	syn_init(&s, true);
	clen = libdeflate_deflate_compress(comp, s.src, SYN_N, c, cap);
	ck_assert_uint_gt(clen, 0);
	check_codec(&s, Z_EROFS_COMPRESSION_DEFLATE, c, clen);
	libdeflate_free_compressor(comp);
	syn_free(&s);
	free(c);
#endif
}
END_TEST

START_TEST(test_codec_zstd)
{
#ifdef T_ZSTD
	if (!ef_alg_supported(Z_EROFS_COMPRESSION_ZSTD))
		return;
	struct syn s;
	size_t cap = ZSTD_compressBound(SYN_N), clen;
	uint8_t *c = malloc(cap);

	syn_init(&s, true);
	clen = ZSTD_compress(c, cap, s.src, SYN_N, 3);
	ck_assert(!ZSTD_isError(clen));
	check_codec(&s, Z_EROFS_COMPRESSION_ZSTD, c, clen);
	syn_free(&s);
	free(c);
#endif
}
END_TEST

START_TEST(test_codec_plain)
{
	struct syn s;
	struct ef_scratch sc = { 0 };
	uint8_t out[8192];
	struct ef_map m = { .la = 1000, .llen = 3096, .pa = SYN_PA, .plen = 4096,
			    .flags = EF_MAP_MAPPED | EF_MAP_ENCODED | EF_MAP_FULL,
			    .alg = EF_ALG_SHIFTED };

	syn_init(&s, true);
	/* shifted: pcluster byte k is file byte la + k */
	memcpy(s.m.data[0] + SYN_PA, s.src + 1000, 4096);
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), 0);
	ck_assert(!memcmp(out, s.src + 1000, 3096));
	m.llen = 4097;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), -EFSCORRUPTED);

	/* interlaced: file byte la + k at block offset (la + k) mod 4096 */
	for (unsigned k = 0; k < 4096; k++)
		s.m.data[0][SYN_PA + (1000 + k) % 4096] = s.src[1000 + k];
	m.alg = EF_ALG_INTERLACED;
	m.llen = 4096;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), 0);
	ck_assert(!memcmp(out, s.src + 1000, 4096));
	m.llen = 3000;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), 0);
	ck_assert(!memcmp(out, s.src + 1000, 3000));
	/* an interlaced pcluster is one block at most */
	m.plen = 8192;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), -EFSCORRUPTED);

	/* a fragment with no packed inode */
	m.flags = EF_MAP_MAPPED | EF_MAP_ENCODED | EF_MAP_FRAGMENT;
	m.alg = EF_ALG_NONE;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), -EFSCORRUPTED);
	/* a hole is the caller's business */
	m.flags = 0;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), -EINVAL);
	/* unknown algorithm */
	m.flags = EF_MAP_MAPPED | EF_MAP_ENCODED | EF_MAP_FULL;
	m.plen = 4096;
	m.alg = 9;
	ck_assert_int_eq(ef_decode_extent(&s.fs, &s.ino, &m, out, &sc), -EOPNOTSUPP);

	ck_assert_str_eq(ef_alg_name(Z_EROFS_COMPRESSION_LZMA), "lzma");
	ck_assert_str_eq(ef_alg_name(EF_ALG_INTERLACED), "interlaced");
	ck_assert(ef_alg_supported(EF_ALG_SHIFTED));
	ck_assert(!ef_alg_supported(9));
	ef_scratch_free(&sc);
	syn_free(&s);
}
END_TEST

static Suite *codecs_suite(void)
{
	Suite *s = suite_create("codecs");
	TCase *tc = tcase_create("codecs");

	tcase_add_test(tc, test_codec_lz4);
	tcase_add_test(tc, test_codec_lzma);
	tcase_add_test(tc, test_codec_deflate);
	tcase_add_test(tc, test_codec_zstd);
	tcase_add_test(tc, test_codec_plain);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(codecs_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
