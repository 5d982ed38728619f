// SPDX-License-Identifier: MIT
/*
 * Sharing that stays proven: a member whose image gives other bytes after
 * it joined a shared object (rewritten in memory, rewritten on disk, or a
 * literal of a compressed stream changed) can never make another image's
 * file read them under VERIFY or COMPUTE; under TRUST it can, as documented.
 *
 * Expected contents come from the fixtures' manifests (read off kernel
 * mounts) and from the fixture files themselves, never from the library.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <erofs_share/backend.h>
#include <erofs_share/erofs_share.h>

#include "helpers/domain.h"
#include "helpers/fixture_copies.h"
#include "helpers/manifest.h"

/* The page of BIG the attacker changes. */
#define BAD_PAGE 2u

/* Change page BAD_PAGE of BIG inside an image held in memory (flat). */
static void corrupt_flat(uint8_t *img, size_t len)
{
	uint8_t *at = memmem(img, len, dom_truth + BAD_PAGE * PAGE, PAGE);

	ck_assert_ptr_nonnull(at);
	for (unsigned k = 0; k < PAGE; k += 64)
		at[k] ^= 0x20;
}

/*
 * The attacker's image is honest while it is hashed, then rewritten in
 * memory; its next fill of the evicted page must not reach the victim.
 */
static void rewrite_in_memory(unsigned policy)
{
	uint8_t *copy, page[PAGE], buf[BIG_SIZE];
	size_t len;
	char *p = dom_fixture_path("digest-plain");
	eshare_domain *d = dom_new(policy, 64 << 10);
	eshare_image *victim, *attacker;
	struct eshare_file_identity a, b;

	dom_load_truth();
	__atomic_store_n(&dom_log_proof, 0, __ATOMIC_RELAXED);
	copy = fc_slurp(p, &len);
	ck_assert_ptr_nonnull(copy);
	victim = dom_attach_path(d, "digest-plain");
	attacker = dom_attach_memory(d, copy, len, "attacker");
	dom_join_both(victim, attacker);
	ck_assert_uint_eq(dom_verify_failures(d), 0);

	corrupt_flat(copy, len);
	dom_evict(victim);
	/* the attacker refills the page first: from its own, changed image */
	ck_assert_int_eq(dom_read(attacker, BIG, page, PAGE, BAD_PAGE * PAGE), PAGE);
	ck_assert_msg(memcmp(page, dom_truth + BAD_PAGE * PAGE, PAGE),
		      "the attacker should read its own (changed) bytes");
	/* the victim reads the proven bytes, in any order, again and again */
	for (int round = 0; round < 3; round++) {
		for (int k = (int)(BIG_SIZE / PAGE) - 1; k >= 0; k--) {
			ck_assert_int_eq(dom_read(victim, BIG, page, PAGE, (uint64_t)k * PAGE),
					 PAGE);
			ck_assert_msg(!memcmp(page, dom_truth + (size_t)k * PAGE, PAGE),
				      "victim read other bytes at page %d (policy %u)", k, policy);
			ck_assert_int_eq(dom_read(attacker, BIG, page, PAGE, (uint64_t)k * PAGE),
					 PAGE);
		}
		dom_evict(victim);
	}
	ck_assert_int_eq(dom_read(victim, BIG, buf, BIG_SIZE, 0), BIG_SIZE);
	ck_assert(!memcmp(buf, dom_truth, BIG_SIZE));
	/* the failure shows: counted, logged, and the attacker reads privately */
	ck_assert_uint_eq(dom_verify_failures(d), 1);
	ck_assert_int_eq(__atomic_load_n(&dom_log_proof, __ATOMIC_RELAXED), 1);
	a = dom_identity(victim, BIG);
	b = dom_identity(attacker, BIG);
	ck_assert(a.flags & ESHARE_IDENTITY_SHARED);
	ck_assert(!(b.flags & ESHARE_IDENTITY_SHARED));
	ck_assert_uint_ne(a.object, b.object);

	eshare_image_detach(attacker);
	eshare_image_detach(victim);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(copy);
	free(p);
}

START_TEST(verify_refill_from_rewritten_memory)
{
	rewrite_in_memory(ESHARE_SHARE_VERIFY);
}
END_TEST

START_TEST(compute_refill_from_rewritten_memory)
{
	rewrite_in_memory(ESHARE_SHARE_COMPUTE);
}
END_TEST

/* Under TRUST the same rewrite poisons the victim's view: the kernel's
 * semantics, documented.  This is what the tests above must catch. */
START_TEST(trust_refill_poisons)
{
	uint8_t *copy, page[PAGE];
	size_t len;
	char *p = dom_fixture_path("digest-plain");
	eshare_domain *d = dom_new(ESHARE_SHARE_TRUST, 128 << 10);
	eshare_image *victim, *attacker;
	eshare_inode *vi, *ai;

	dom_load_truth();
	copy = fc_slurp(p, &len);
	ck_assert_ptr_nonnull(copy);
	victim = dom_attach_path(d, "digest-plain");
	attacker = dom_attach_memory(d, copy, len, "attacker");
	dom_join_both(victim, attacker);
	corrupt_flat(copy, len);
	dom_evict(victim);
	/* inodes held open: no metadata read between the two data reads */
	ck_assert_int_eq(eshare_lookup(&vi, victim, BIG), 0);
	ck_assert_int_eq(eshare_lookup(&ai, attacker, BIG), 0);
	ck_assert_int_eq(eshare_pread(ai, page, PAGE, BAD_PAGE * PAGE), PAGE);
	ck_assert_msg(memcmp(page, dom_truth + BAD_PAGE * PAGE, PAGE), "attacker refilled");
	ck_assert_int_eq(eshare_pread(vi, page, PAGE, BAD_PAGE * PAGE), PAGE);
	ck_assert_msg(memcmp(page, dom_truth + BAD_PAGE * PAGE, PAGE),
		      "under TRUST the victim reads what the attacker filled");
	ck_assert_uint_eq(dom_verify_failures(d), 0);
	eshare_inode_put(vi);
	eshare_inode_put(ai);
	eshare_image_detach(attacker);
	eshare_image_detach(victim);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(copy);
	free(p);
}
END_TEST

/*
 * A compressed attacker: one literal byte of BIG's LZ4 stream changed
 * after the join, so its pcluster still decodes, to other bytes.
 */
static void compressed_literal(unsigned policy)
{
	uint8_t *copy, buf[BIG_SIZE], page[PAGE];
	size_t len;
	char *p = dom_fixture_path("digest-lz4");
	eshare_domain *d = dom_new(policy, 64 << 10), *probe;
	eshare_image *victim, *attacker, *pi;
	uint8_t *at = NULL;
	eshare_backend *be;

	dom_load_truth();
	__atomic_store_n(&dom_log_proof, 0, __ATOMIC_RELAXED);
	copy = fc_slurp(p, &len);
	ck_assert_ptr_nonnull(copy);
	/* a 24-byte run of page BAD_PAGE found once in the stream: a literal */
	for (unsigned off = BAD_PAGE * PAGE; off + 24 <= (BAD_PAGE + 1) * PAGE && !at; off += 8) {
		uint8_t *hit = memmem(copy, len, dom_truth + off, 24);

		if (hit && !memmem(hit + 1, len - (size_t)(hit + 1 - copy), dom_truth + off, 24))
			at = hit;
	}
	ck_assert_msg(at != NULL, "no literal of page %u in the LZ4 stream", BAD_PAGE);

	victim = dom_attach_path(d, "digest-plain");
	attacker = dom_attach_memory(d, copy, len, "attacker");
	dom_join_both(victim, attacker);
	at[12] ^= 0x01;
	/* the change decodes: a domain of its own reads other bytes there */
	probe = dom_new(ESHARE_SHARE_OFF, 1 << 20);
	ck_assert_int_eq(eshare_backend_memory(&be, copy, len, NULL, NULL), 0);
	pi = dom_attach_backend(probe, be, "probe");
	ck_assert_int_eq(dom_read(pi, BIG, buf, BIG_SIZE, 0), BIG_SIZE);
	ck_assert(memcmp(buf, dom_truth, BIG_SIZE));
	eshare_image_detach(pi);
	ck_assert_int_eq(eshare_domain_close(probe), 0);

	dom_evict(victim);
	ck_assert_int_eq(dom_read(attacker, BIG, buf, BIG_SIZE, 0), BIG_SIZE);
	for (unsigned k = 0; k < BIG_SIZE / PAGE; k++) {
		ck_assert_int_eq(dom_read(victim, BIG, page, PAGE, (uint64_t)k * PAGE), PAGE);
		ck_assert_msg(!memcmp(page, dom_truth + (size_t)k * PAGE, PAGE), "page %u", k);
	}
	ck_assert_uint_eq(dom_verify_failures(d), 1);
	eshare_image_detach(attacker);
	eshare_image_detach(victim);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(copy);
	free(p);
}

START_TEST(verify_compressed_literal_changed)
{
	compressed_literal(ESHARE_SHARE_VERIFY);
}
END_TEST

START_TEST(compute_compressed_literal_changed)
{
	compressed_literal(ESHARE_SHARE_COMPUTE);
}
END_TEST

/*
 * The attacker's image file is rewritten in place after the join (a memfd:
 * a regular file in memory).  The file backend sees the change, even with
 * the mtime put back; the attacker's uncached reads fail with -ESTALE and
 * the victim reads its own bytes.
 */
static void rewrite_file(unsigned policy)
{
	uint8_t *copy, page[PAGE];
	size_t len;
	char *p = dom_fixture_path("digest-plain");
	eshare_domain *d = dom_new(policy, 64 << 10);
	eshare_image *victim, *attacker;
	eshare_backend *be;
	struct stat st;
	struct timespec ts[2];
	uint8_t *at;
	int fd;

	dom_load_truth();
	__atomic_store_n(&dom_log_stale, 0, __ATOMIC_RELAXED);
	copy = fc_slurp(p, &len);
	ck_assert_ptr_nonnull(copy);
	fd = memfd_create("attacker.erofs", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, copy, len, 0), (ssize_t)len);
	ck_assert_int_eq(eshare_backend_from_fd(&be, fd), 0);
	victim = dom_attach_path(d, "digest-plain");
	attacker = dom_attach_backend(d, be, "attacker");
	dom_join_both(victim, attacker);

	ck_assert_int_eq(fstat(fd, &st), 0);
	at = memmem(copy, len, dom_truth + BAD_PAGE * PAGE, PAGE);
	ck_assert_ptr_nonnull(at);
	at[0] ^= 0x20;
	ck_assert_int_eq(pwrite(fd, at, 1, at - copy), 1);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	ck_assert_int_eq(futimens(fd, ts), 0);

	dom_evict(victim);
	ck_assert_int_eq(dom_read(attacker, BIG, page, PAGE, BAD_PAGE * PAGE), -ESTALE);
	ck_assert_int_eq(__atomic_load_n(&dom_log_stale, __ATOMIC_RELAXED), 1);
	for (unsigned k = 0; k < BIG_SIZE / PAGE; k++) {
		ck_assert_int_eq(dom_read(victim, BIG, page, PAGE, (uint64_t)k * PAGE), PAGE);
		ck_assert_msg(!memcmp(page, dom_truth + (size_t)k * PAGE, PAGE), "page %u", k);
	}
	eshare_image_detach(attacker);
	eshare_image_detach(victim);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	close(fd);
	free(copy);
	free(p);
}

START_TEST(verify_image_file_rewritten)
{
	rewrite_file(ESHARE_SHARE_VERIFY);
}
END_TEST

START_TEST(compute_image_file_rewritten)
{
	rewrite_file(ESHARE_SHARE_COMPUTE);
}
END_TEST

/* Readers of both images at once, at random offsets, with a cache that
 * forces refills all the time: the victim only ever sees its own bytes. */
struct racer {
	eshare_image *img;
	bool victim;
	unsigned seed;
	unsigned bad;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	uint8_t buf[3 * PAGE];
	eshare_inode *ino;

	if (eshare_lookup(&ino, r->img, BIG))
		return (void *)1;
	for (int i = 0; i < 600; i++) {
		uint64_t off = (uint64_t)(rand_r(&r->seed) % BIG_SIZE);
		size_t len = 1 + (size_t)(rand_r(&r->seed) % sizeof(buf));
		ssize_t n = eshare_pread(ino, buf, len, off);

		if (n < 0)
			continue; /* the attacker may see errors */
		if (r->victim && memcmp(buf, dom_truth + off, (size_t)n))
			r->bad++;
	}
	eshare_inode_put(ino);
	return NULL;
}

START_TEST(verify_concurrent_refills)
{
	uint8_t *copy;
	size_t len;
	char *p = dom_fixture_path("digest-plain");
	eshare_domain *d = dom_new(ESHARE_SHARE_VERIFY, 64 << 10);
	eshare_image *victim, *attacker;
	struct racer r[4];
	pthread_t t[4];

	dom_load_truth();
	copy = fc_slurp(p, &len);
	ck_assert_ptr_nonnull(copy);
	victim = dom_attach_path(d, "digest-plain");
	attacker = dom_attach_memory(d, copy, len, "attacker");
	dom_join_both(victim, attacker);
	corrupt_flat(copy, len);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){ i % 2 ? attacker : victim, !(i % 2), 7u + (unsigned)i, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *ret;

		ck_assert_int_eq(pthread_join(t[i], &ret), 0);
		ck_assert_ptr_null(ret);
		ck_assert_msg(r[i].bad == 0, "victim thread %d read %u wrong ranges", i, r[i].bad);
	}
	eshare_image_detach(attacker);
	eshare_image_detach(victim);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(copy);
	free(p);
}
END_TEST

/* eshare_file_identity against the manifests' sha256 (kernel-read). */
static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

START_TEST(identity_reports_what_the_domain_knows)
{
	struct manifest m;
	const struct manifest_entry *e;
	char want[72];
	eshare_domain *d;
	eshare_image *a, *b;
	eshare_inode *ino;
	struct eshare_file_identity ia, ib;

	ck_assert_int_eq(manifest_load(&m, "digest-plain"), 0);
	e = manifest_find(&m, BIG);
	ck_assert_ptr_nonnull(e);
	memcpy(want, "sha256:", 7);
	hex(want + 7, e->sha256, 32);

	/* VERIFY: twins of two layouts share one proven object */
	d = dom_new(ESHARE_SHARE_VERIFY, 16 << 20);
	a = dom_attach_path(d, "digest-plain");
	b = dom_attach_path(d, "digest-lz4");
	ia = dom_identity(a, BIG);
	/* alone with its size, a's file is not worth hashing yet */
	ck_assert_uint_eq(ia.flags, ESHARE_IDENTITY_ONDISK);
	ib = dom_identity(b, BIG);
	/* b's twin made both worth hashing: a's object changed as it joined */
	ck_assert_uint_ne(dom_identity(a, BIG).object, ia.object);
	ia = dom_identity(a, BIG);
	ck_assert_uint_eq(ia.object, ib.object);
	ck_assert_uint_eq(ia.flags, ESHARE_IDENTITY_SHARED | ESHARE_IDENTITY_PROVEN |
					  ESHARE_IDENTITY_ONDISK);
	ck_assert_str_eq(ia.fingerprint, want);
	ck_assert_str_eq(ib.fingerprint, want);
	ck_assert_uint_eq(ia.file_size, BIG_SIZE);
	/* a directory has none; unknown flags are refused */
	ck_assert_int_eq(eshare_lookup(&ino, a, "/big"), 0);
	ck_assert_int_eq(eshare_file_identity(ino, 0, &ia), -EINVAL);
	eshare_inode_put(ino);
	ck_assert_int_eq(eshare_lookup(&ino, a, BIG), 0);
	ck_assert_int_eq(eshare_file_identity(ino, 0x80, &ia), -EINVAL);
	eshare_inode_put(ino);
	eshare_image_detach(b);
	eshare_image_detach(a);
	ck_assert_int_eq(eshare_domain_close(d), 0);

	/* TRUST: shared on the image's word, not proven */
	d = dom_new(ESHARE_SHARE_TRUST, 16 << 20);
	a = dom_attach_path(d, "digest-plain");
	b = dom_attach_path(d, "digest-lz4");
	ia = dom_identity(a, BIG);
	ib = dom_identity(b, BIG);
	ck_assert_uint_eq(ia.object, ib.object);
	ck_assert_uint_eq(ia.flags, ESHARE_IDENTITY_SHARED | ESHARE_IDENTITY_ONDISK);
	ck_assert_str_eq(ia.fingerprint, want);
	eshare_image_detach(b);
	eshare_image_detach(a);
	ck_assert_int_eq(eshare_domain_close(d), 0);

	/* OFF, an image without fingerprints: nothing until asked to compute */
	d = dom_new(ESHARE_SHARE_OFF, 16 << 20);
	a = dom_attach_path(d, "plain-4k");
	b = dom_attach_path(d, "lz4");
	ia = dom_identity(a, BIG);
	ib = dom_identity(b, BIG);
	ck_assert_uint_ne(ia.object, ib.object);
	ck_assert_uint_eq(ia.flags, 0);
	ck_assert_str_eq(ia.fingerprint, "");
	ck_assert_int_eq(eshare_lookup(&ino, b, BIG), 0);
	ck_assert_int_eq(eshare_file_identity(ino, ESHARE_IDENTITY_COMPUTE, &ib), 0);
	eshare_inode_put(ino);
	ck_assert_uint_eq(ib.flags, ESHARE_IDENTITY_PROVEN);
	ck_assert_str_eq(ib.fingerprint, want);
	eshare_image_detach(b);
	eshare_image_detach(a);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	manifest_free(&m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("domain_proof");
	TCase *tc = tcase_create("proof");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, verify_refill_from_rewritten_memory);
	tcase_add_test(tc, compute_refill_from_rewritten_memory);
	tcase_add_test(tc, trust_refill_poisons);
	tcase_add_test(tc, verify_compressed_literal_changed);
	tcase_add_test(tc, compute_compressed_literal_changed);
	tcase_add_test(tc, verify_image_file_rewritten);
	tcase_add_test(tc, compute_image_file_rewritten);
	tcase_add_test(tc, verify_concurrent_refills);
	tcase_add_test(tc, identity_reports_what_the_domain_knows);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
