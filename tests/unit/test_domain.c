// SPDX-License-Identifier: MIT
/*
 * The domain: identical files of any images share one cached copy.
 * Expected contents and sizes come from the fixtures' manifests, which were
 * read off kernel mounts; the stress test compares bytes with live kernel
 * mounts when it can mount.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <erofs_share/erofs_share.h>

#include "helpers/domain.h"
#include "helpers/manifest.h"

/* Read every regular file the manifest lists and check its sha256. */
static void read_all(eshare_image *img, const struct manifest *m, size_t probe)
{
	static uint8_t buf[1 << 20];

	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->e[i];
		uint8_t md[32];
		ssize_t n;

		if (strcmp(e->type, "reg") || !e->size)
			continue;
		ck_assert_uint_le(e->size, sizeof(buf));
		n = dom_read(img, e->path, buf, probe ? probe : e->size, 0);
		ck_assert_msg(n == (ssize_t)(probe && probe < e->size ? probe : e->size),
			      "%s: read %zd", e->path, n);
		if (probe)
			continue;
		SHA256(buf, (size_t)n, md);
		ck_assert_msg(!memcmp(md, e->sha256, 32), "%s: wrong bytes", e->path);
	}
}

static struct eshare_stats stats(eshare_domain *d)
{
	struct eshare_stats s = ESHARE_STATS_INIT;

	ck_assert_int_eq(eshare_domain_stats(d, &s), 0);
	return s;
}

/*
 * After reading a file through image A, reading its twin through image B
 * costs no backend read and no decompression.  Under TRUST with on-disk
 * fingerprints, across plain and compressed layouts.
 */
static const char *const trust_pairs[][2] = {
	{ "digest-plain", "digest-plain" },
	{ "digest-plain", "digest-lz4" },
	{ "digest-lz4", "digest-plain" },
	{ "digest-lz4", "digest-lz4" },
};

/* File data the cache holds: whole pages, and tails (held packed) at their own size. */
static uint64_t held_bytes(const struct eshare_stats *s)
{
	return (s->cached_data_pages - s->cached_tail_pages) * 4096 + s->cached_tail_bytes;
}

START_TEST(test_trust_pairs)
{
	const char *a = trust_pairs[_i][0], *b = trust_pairs[_i][1];
	struct manifest m;
	eshare_domain *d = dom_new(ESHARE_SHARE_TRUST, 0);
	eshare_image *ia = dom_attach_path(d, a), *ib = dom_attach_path(d, b);
	struct eshare_stats s0, s1, s2;
	uint64_t exact, pages;
	const struct manifest *mp = &m;

	ck_assert_int_eq(manifest_load(&m, a), 0);
	manifest_unique_bytes(&mp, 1, &exact, &pages);
	read_all(ia, &m, 0);
	s0 = stats(d);
	ck_assert_uint_eq(held_bytes(&s0), exact);
	read_all(ib, &m, 1); /* binds every file of B (metadata only is read) */
	s1 = stats(d);
	read_all(ib, &m, 0);
	s2 = stats(d);
	ck_assert_uint_eq(s2.backend_bytes_read, s1.backend_bytes_read);
	ck_assert_uint_eq(s2.decompressed_bytes, s1.decompressed_bytes);
	ck_assert_uint_eq(s2.misses, s1.misses);
	ck_assert_uint_eq(s1.cached_data_bytes, s0.cached_data_bytes);
	ck_assert_uint_eq(held_bytes(&s2), exact);
	ck_assert_uint_eq(s2.logical_bytes - s1.logical_bytes, s0.logical_bytes);
	ck_assert_uint_gt(s2.shared_objects, 100);
	ck_assert_uint_eq(s2.hashed_bytes, 0);
	manifest_free(&m);
	eshare_image_detach(ia);
	eshare_image_detach(ib);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

/*
 * Different algorithms (no on-disk fingerprints): under COMPUTE, B's files
 * are admitted after hashing their own bytes once; after that, every read
 * of B is served from the pages A's reads cached.
 */
static const char *const compute_pairs[][2] = {
	{ "lzma", "zstd" },
	{ "deflate", "lz4" },
	{ "plain-4k", "lzma" },
	{ "zstd", "plain-512" },
};

START_TEST(test_compute_pairs)
{
	const char *a = compute_pairs[_i][0], *b = compute_pairs[_i][1];
	struct manifest m;
	eshare_domain *d = dom_new(ESHARE_SHARE_COMPUTE, 0);
	eshare_image *ia = dom_attach_path(d, a), *ib = dom_attach_path(d, b);
	struct eshare_stats s1, s2;
	uint64_t exact, pages;
	const struct manifest *mp = &m;

	ck_assert_int_eq(manifest_load(&m, a), 0);
	manifest_unique_bytes(&mp, 1, &exact, &pages);
	read_all(ia, &m, 0);
	read_all(ib, &m, 1);
	s1 = stats(d);
	ck_assert_uint_gt(s1.hashed_bytes, 0);
	read_all(ib, &m, 0);
	s2 = stats(d);
	ck_assert_uint_eq(s2.backend_bytes_read, s1.backend_bytes_read);
	ck_assert_uint_eq(s2.decompressed_bytes, s1.decompressed_bytes);
	ck_assert_uint_eq(held_bytes(&s2), exact);
	ck_assert_uint_eq(s2.verify_failures, 0);
	manifest_free(&m);
	eshare_image_detach(ia);
	eshare_image_detach(ib);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

/* Sizes of distinct inodes (hard links once). */
static uint64_t inode_bytes(const struct manifest *m)
{
	uint64_t sum = 0;
	unsigned char seen[65536] = { 0 };

	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->e[i];

		if (strcmp(e->type, "reg") || !e->size)
			continue;
		if (e->hardlink) {
			ck_assert_uint_lt(e->hardlink, sizeof(seen));
			if (seen[e->hardlink])
				continue;
			seen[e->hardlink] = 1;
		}
		sum += e->size;
	}
	return sum;
}

static const unsigned ab_policies[] = { ESHARE_SHARE_TRUST, ESHARE_SHARE_VERIFY,
					ESHARE_SHARE_COMPUTE, ESHARE_SHARE_OFF };

START_TEST(test_shared_ab_unique)
{
	unsigned policy = ab_policies[_i];
	struct manifest ma, mb;
	const struct manifest *ms[2] = { &ma, &mb };
	eshare_domain *d = dom_new(policy, 0);
	eshare_image *ia = dom_attach_path(d, "shared-a"), *ib = dom_attach_path(d, "shared-b");
	struct eshare_stats s;
	uint64_t exact, pages;

	ck_assert_int_eq(manifest_load(&ma, "shared-a"), 0);
	ck_assert_int_eq(manifest_load(&mb, "shared-b"), 0);
	manifest_unique_bytes(ms, 2, &exact, &pages);
	read_all(ia, &ma, 0);
	read_all(ib, &mb, 0);
	s = stats(d);
	if (policy == ESHARE_SHARE_OFF) {
		ck_assert_uint_eq(held_bytes(&s), inode_bytes(&ma) + inode_bytes(&mb));
		ck_assert_uint_eq(s.shared_objects, 0);
	} else {
		ck_assert_uint_eq(held_bytes(&s), exact);
		ck_assert_uint_eq(s.verify_failures, 0);
	}
	if (policy == ESHARE_SHARE_TRUST)
		ck_assert_uint_eq(s.hashed_bytes, 0);
	fprintf(stderr, "shared-a+b policy %u: cached %llu, unique pages %llu, exact %llu\n",
		policy, (unsigned long long)s.cached_data_bytes, (unsigned long long)pages,
		(unsigned long long)exact);
	manifest_free(&ma);
	manifest_free(&mb);
	eshare_image_detach(ia);
	eshare_image_detach(ib);
	s = stats(d);
	ck_assert_uint_eq(s.cached_data_pages, 0);
	ck_assert_uint_eq(s.shared_objects, 0);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

/* ---- attacks ---- */

/*
 * An attacker's image: a copy of digest-plain whose /bound/rand-4097 claims
 * the fingerprint of /bound/text-4097 (same size, other bytes).
 */
static uint8_t *forge(size_t *len, uint8_t victim_fp[32], uint8_t attacker_sha[32])
{
	struct manifest m;
	uint8_t *img = dom_slurp("digest-plain", len);
	uint8_t needle[39];
	int found = 0;

	ck_assert_int_eq(manifest_load(&m, "digest-plain"), 0);
	for (size_t i = 0; i < m.n; i++) {
		if (!strcmp(m.e[i].path, "/bound/text-4097"))
			memcpy(victim_fp, m.e[i].sha256, 32);
		if (!strcmp(m.e[i].path, "/bound/rand-4097"))
			memcpy(attacker_sha, m.e[i].sha256, 32);
	}
	manifest_free(&m);
	memcpy(needle, "sha256:", 7);
	memcpy(needle + 7, attacker_sha, 32);
	for (size_t off = 0; off + sizeof(needle) <= *len; off++) {
		if (!memcmp(img + off, needle, sizeof(needle))) {
			memcpy(img + off + 7, victim_fp, 32);
			found++;
		}
	}
	ck_assert_int_eq(found, 1);
	return img;
}

static void sha_of(eshare_image *img, const char *path, uint8_t md[32])
{
	uint8_t buf[8192];
	ssize_t n = dom_read(img, path, buf, sizeof(buf), 0);

	ck_assert_int_eq(n, 4097);
	SHA256(buf, (size_t)n, md);
}

static const unsigned attack_policies[] = { ESHARE_SHARE_TRUST, ESHARE_SHARE_VERIFY,
					    ESHARE_SHARE_COMPUTE };

/* Disclosure: the victim reads first; the attacker then reads its claim. */
START_TEST(test_attack_disclosure)
{
	unsigned policy = attack_policies[_i];
	uint8_t victim[32], attacker[32], got[32];
	size_t len;
	uint8_t *forged = forge(&len, victim, attacker);
	eshare_domain *d = dom_new(policy, 0);
	eshare_image *vi = dom_attach_path(d, "digest-lz4");
	eshare_image *ai = dom_attach_memory(d, forged, len, NULL);
	struct eshare_stats s;

	dom_log_fingerprint = 0;
	sha_of(vi, "/bound/text-4097", got);
	ck_assert(!memcmp(got, victim, 32));
	sha_of(ai, "/bound/rand-4097", got);
	s = stats(d);
	if (policy == ESHARE_SHARE_TRUST) {
		/* documented: TRUST believes the claim, as the kernel does */
		ck_assert_msg(!memcmp(got, victim, 32), "disclosure expected under TRUST");
	} else {
		ck_assert_msg(!memcmp(got, attacker, 32), "attacker read another image's bytes");
		ck_assert_uint_eq(s.verify_failures, 1);
		ck_assert_int_eq(dom_log_fingerprint, 1);
	}
	eshare_image_detach(vi);
	eshare_image_detach(ai);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(forged);
}
END_TEST

/* Poisoning: the attacker reads first, filling the object with its bytes. */
START_TEST(test_attack_poisoning)
{
	unsigned policy = attack_policies[_i];
	uint8_t victim[32], attacker[32], got[32];
	size_t len;
	uint8_t *forged = forge(&len, victim, attacker);
	eshare_domain *d = dom_new(policy, 0);
	eshare_image *vi = dom_attach_path(d, "digest-lz4");
	eshare_image *ai = dom_attach_memory(d, forged, len, NULL);

	sha_of(ai, "/bound/rand-4097", got);
	ck_assert(!memcmp(got, attacker, 32));
	sha_of(vi, "/bound/text-4097", got);
	if (policy == ESHARE_SHARE_TRUST)
		ck_assert_msg(!memcmp(got, attacker, 32), "poisoning expected under TRUST");
	else
		ck_assert_msg(!memcmp(got, victim, 32), "victim read the attacker's bytes");
	eshare_image_detach(vi);
	eshare_image_detach(ai);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(forged);
}
END_TEST

/*
 * Options left zeroed, or none at all, share as VERIFY does: the attacker's
 * claim is refused in both orders (disclosure and poisoning).
 */
START_TEST(test_default_policy_verifies)
{
	struct eshare_domain_opts zeroed;
	uint8_t victim[32], attacker[32], got[32];
	size_t len;
	uint8_t *forged = forge(&len, victim, attacker);

	memset(&zeroed, 0, sizeof(zeroed));
	zeroed.size = sizeof(zeroed);
	for (int poison = 0; poison < 2; poison++) {
		eshare_domain *d;
		eshare_image *vi, *ai;
		struct eshare_stats s;

		ck_assert_int_eq(eshare_domain_create(&d, _i ? &zeroed : NULL), 0);
		vi = dom_attach_path(d, "digest-lz4");
		ai = dom_attach_memory(d, forged, len, NULL);
		if (poison) {
			sha_of(ai, "/bound/rand-4097", got);
			ck_assert(!memcmp(got, attacker, 32));
			sha_of(vi, "/bound/text-4097", got);
			ck_assert_msg(!memcmp(got, victim, 32), "victim read the attacker's bytes");
		} else {
			sha_of(vi, "/bound/text-4097", got);
			ck_assert(!memcmp(got, victim, 32));
			sha_of(ai, "/bound/rand-4097", got);
			ck_assert_msg(!memcmp(got, attacker, 32),
				      "attacker read another image's bytes");
		}
		s = stats(d);
		ck_assert_uint_eq(s.verify_failures, 1);
		/* sharing is on: the file was hashed, not kept private as OFF does */
		ck_assert_uint_gt(s.hashed_bytes, 0);
		eshare_image_detach(vi);
		eshare_image_detach(ai);
		ck_assert_int_eq(eshare_domain_close(d), 0);
	}
	free(forged);
}
END_TEST

/* ---- lifetimes ---- */

START_TEST(test_detach_while_shared)
{
	eshare_domain *d = dom_new(ESHARE_SHARE_TRUST, 0);
	eshare_image *ia = dom_attach_path(d, "digest-plain");
	eshare_image *ib = dom_attach_path(d, "digest-lz4");
	static uint8_t buf[1 << 17];
	eshare_inode *fb;
	struct eshare_stats s;
	struct manifest m;
	uint8_t md[32];
	const struct manifest_entry *e = NULL;

	ck_assert_int_eq(manifest_load(&m, "digest-plain"), 0);
	for (size_t i = 0; i < m.n; i++)
		if (!strcmp(m.e[i].path, "/big/text-0.bin"))
			e = &m.e[i];
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(dom_read(ia, e->path, buf, sizeof(buf), 0), (ssize_t)e->size);
	ck_assert_int_eq(eshare_lookup(&fb, ib, e->path), 0);
	ck_assert_int_eq(eshare_pread(fb, buf, 100, 0), 100);
	/* A detaches: the object stays readable through B, and is refilled from B */
	eshare_image_detach(ia);
	ck_assert_int_eq(eshare_domain_close(d), -EBUSY);
	ck_assert_int_eq(eshare_pread(fb, buf, sizeof(buf), 0), (ssize_t)e->size);
	SHA256(buf, e->size, md);
	ck_assert(!memcmp(md, e->sha256, 32));
	s = stats(d);
	ck_assert_uint_eq(s.images, 1);
	/* B detaches while its inode is open: still readable */
	eshare_image_detach(ib);
	ck_assert_int_eq(eshare_domain_close(d), -EBUSY);
	ck_assert_int_eq(eshare_pread(fb, buf, sizeof(buf), 0), (ssize_t)e->size);
	SHA256(buf, e->size, md);
	ck_assert(!memcmp(md, e->sha256, 32));
	eshare_inode_put(fb);
	s = stats(d);
	ck_assert_uint_eq(s.shared_objects, 0);
	ck_assert_uint_eq(s.cached_data_pages, 0);
	ck_assert_uint_eq(s.cached_meta_pages, 0);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	manifest_free(&m);
}
END_TEST

START_TEST(test_small_budget)
{
	eshare_domain *d = dom_new(ESHARE_SHARE_VERIFY, 64 << 10);
	eshare_image *ia = dom_attach_path(d, "shared-a"), *ib = dom_attach_path(d, "shared-b");
	struct manifest ma, mb;
	struct eshare_stats s;

	ck_assert_int_eq(manifest_load(&ma, "shared-a"), 0);
	ck_assert_int_eq(manifest_load(&mb, "shared-b"), 0);
	read_all(ia, &ma, 0);
	read_all(ib, &mb, 0);
	read_all(ia, &ma, 0);
	s = stats(d);
	ck_assert_uint_gt(s.evictions, 100);
	ck_assert_uint_le(s.cached_data_bytes + s.cached_meta_bytes, 1u << 20);
	eshare_image_detach(ia);
	eshare_image_detach(ib);
	s = stats(d);
	ck_assert_uint_eq(s.cached_data_pages + s.cached_meta_pages, 0);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	manifest_free(&ma);
	manifest_free(&mb);
}
END_TEST

/* ---- stress: 8 readers, attach/detach churn, bytes checked ---- */

#define NIMG 4
static const char *const stress_names[NIMG] = { "digest-plain", "digest-lz4", "shared-a",
						 "shared-b" };
struct stress {
	eshare_domain *d;
	pthread_mutex_t lock;
	eshare_image *img[NIMG];
	struct manifest m[NIMG];
	char mnt[NIMG][64];
	int use_kernel;
	int stop;
	unsigned long reads, failures;
};

static void *stress_reader(void *arg)
{
	struct stress *st = arg;
	unsigned seed = (unsigned)(uintptr_t)pthread_self();
	uint8_t *a = malloc(1 << 17), *b = malloc(1 << 17);

	for (int it = 0; it < 1500; it++) {
		unsigned k = (unsigned)rand_r(&seed) % NIMG;
		const struct manifest *m = &st->m[k];
		const struct manifest_entry *e = &m->e[(size_t)rand_r(&seed) % m->n];
		eshare_inode *ino = NULL;
		uint64_t off, len;
		ssize_t n;

		if (strcmp(e->type, "reg") || !e->size || e->size > (1 << 17))
			continue;
		pthread_mutex_lock(&st->lock);
		if (eshare_lookup(&ino, st->img[k], e->path))
			ino = NULL;
		pthread_mutex_unlock(&st->lock);
		if (!ino) {
			__atomic_fetch_add(&st->failures, 1, __ATOMIC_RELAXED);
			continue;
		}
		off = (uint64_t)rand_r(&seed) % e->size;
		len = 1 + (uint64_t)rand_r(&seed) % (e->size - off);
		n = eshare_pread(ino, a, len, off);
		eshare_inode_put(ino);
		if (n != (ssize_t)len) {
			__atomic_fetch_add(&st->failures, 1, __ATOMIC_RELAXED);
			fprintf(stderr, "stress: %s%s: read %zd of %llu at %llu\n", stress_names[k],
				e->path, n, (unsigned long long)len, (unsigned long long)off);
			continue;
		}
		if (st->use_kernel) {
			char *p;
			int fd;

			if (asprintf(&p, "%s%s", st->mnt[k], e->path) < 0)
				continue;
			fd = open(p, O_RDONLY);
			free(p);
			if (fd < 0 || pread(fd, b, len, (off_t)off) != (ssize_t)len ||
			    memcmp(a, b, len)) {
				__atomic_fetch_add(&st->failures, 1, __ATOMIC_RELAXED);
				fprintf(stderr, "stress: %s%s [%llu, +%llu) differs from the kernel\n",
					stress_names[k], e->path, (unsigned long long)off,
					(unsigned long long)len);
			}
			if (fd >= 0)
				close(fd);
		} else if (off == 0 && len == e->size) {
			uint8_t md[32];

			SHA256(a, len, md);
			if (memcmp(md, e->sha256, 32))
				__atomic_fetch_add(&st->failures, 1, __ATOMIC_RELAXED);
		}
		__atomic_fetch_add(&st->reads, 1, __ATOMIC_RELAXED);
	}
	free(a);
	free(b);
	return NULL;
}

static void *stress_churn(void *arg)
{
	struct stress *st = arg;
	unsigned seed = 7;

	while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
		unsigned k = (unsigned)rand_r(&seed) % NIMG;
		eshare_image *fresh;
		char *p = dom_fixture_path(stress_names[k]);

		if (eshare_image_open_path(&fresh, st->d, p, NULL) == 0) {
			pthread_mutex_lock(&st->lock);
			eshare_image_detach(st->img[k]);
			st->img[k] = fresh;
			pthread_mutex_unlock(&st->lock);
		}
		free(p);
		usleep(2000);
	}
	return NULL;
}

START_TEST(test_stress)
{
	struct stress st = { 0 };
	pthread_t readers[8], churn;
	char base[] = "/tmp/eshare-stress-XXXXXX";

	st.d = dom_new(ESHARE_SHARE_VERIFY, 1 << 20);
	pthread_mutex_init(&st.lock, NULL);
	st.use_kernel = geteuid() == 0 && mkdtemp(base);
	for (int k = 0; k < NIMG; k++) {
		st.img[k] = dom_attach_path(st.d, stress_names[k]);
		ck_assert_int_eq(manifest_load(&st.m[k], stress_names[k]), 0);
		if (st.use_kernel) {
			char *p = dom_fixture_path(stress_names[k]);

			snprintf(st.mnt[k], sizeof(st.mnt[k]), "%s/%d", base, k);
			mkdir(st.mnt[k], 0755);
			if (mount(p, st.mnt[k], "erofs", MS_RDONLY, ""))
				st.use_kernel = 0;
			free(p);
		}
	}
	if (!st.use_kernel)
		fprintf(stderr, "stress: no kernel mount (not root?): whole reads checked by sha256\n");
	pthread_create(&churn, NULL, stress_churn, &st);
	for (int i = 0; i < 8; i++)
		pthread_create(&readers[i], NULL, stress_reader, &st);
	for (int i = 0; i < 8; i++)
		pthread_join(readers[i], NULL);
	__atomic_store_n(&st.stop, 1, __ATOMIC_RELEASE);
	pthread_join(churn, NULL);
	fprintf(stderr, "stress: %lu reads checked, %lu failures\n", st.reads, st.failures);
	ck_assert_uint_eq(st.failures, 0);
	ck_assert_uint_gt(st.reads, 1000);
	for (int k = 0; k < NIMG; k++) {
		eshare_image_detach(st.img[k]);
		manifest_free(&st.m[k]);
		if (st.mnt[k][0]) {
			umount2(st.mnt[k], MNT_DETACH);
			rmdir(st.mnt[k]);
		}
	}
	if (st.mnt[0][0])
		rmdir(base);
	ck_assert_uint_eq(stats(st.d).cached_data_pages, 0);
	ck_assert_int_eq(eshare_domain_close(st.d), 0);
	pthread_mutex_destroy(&st.lock);
}
END_TEST

START_TEST(test_two_domains_never_share)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_domain *d1, *d2;
	eshare_image *i1, *i2;
	struct manifest m;
	struct eshare_stats s1, s2;

	o.policy = ESHARE_SHARE_TRUST;
	o.id = "same-id";
	ck_assert_int_eq(eshare_domain_create(&d1, &o), 0);
	ck_assert_int_eq(eshare_domain_create(&d2, &o), 0);
	i1 = dom_attach_path(d1, "digest-plain");
	i2 = dom_attach_path(d2, "digest-plain");
	ck_assert_int_eq(manifest_load(&m, "digest-plain"), 0);
	read_all(i1, &m, 0);
	s1 = stats(d1);
	read_all(i2, &m, 0);
	s2 = stats(d2);
	/* the second domain paid for every page itself */
	ck_assert_uint_eq(s2.cached_data_bytes, s1.cached_data_bytes);
	ck_assert_uint_ge(s2.backend_bytes_read, s1.cached_data_bytes / 2);
	manifest_free(&m);
	eshare_image_detach(i1);
	eshare_image_detach(i2);
	ck_assert_int_eq(eshare_domain_close(d1), 0);
	ck_assert_int_eq(eshare_domain_close(d2), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("domain");
	TCase *tc = tcase_create("sharing");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_trust_pairs, 0, sizeof(trust_pairs) / sizeof(trust_pairs[0]));
	tcase_add_loop_test(tc, test_compute_pairs, 0,
			    sizeof(compute_pairs) / sizeof(compute_pairs[0]));
	tcase_add_loop_test(tc, test_shared_ab_unique, 0, 4);
	tcase_add_loop_test(tc, test_attack_disclosure, 0, 3);
	tcase_add_loop_test(tc, test_attack_poisoning, 0, 3);
	tcase_add_loop_test(tc, test_default_policy_verifies, 0, 2);
	tcase_add_test(tc, test_detach_while_shared);
	tcase_add_test(tc, test_small_budget);
	tcase_add_test(tc, test_two_domains_never_share);
	tcase_add_test(tc, test_stress);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
