// SPDX-License-Identifier: MIT
/*
 * An attacker image in the same domain as a victim image, trying to make
 * the victim's file read bytes other than its own under VERIFY and
 * COMPUTE.
 *
 * Expected contents come from the fixtures' manifests (read off kernel
 * mounts) and from the digest-plain fixture file itself (flat), never from
 * the library under test.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <erofs_share/backend.h>
#include <erofs_share/erofs_share.h>
#include <erofs_share/sys/backend.h>

#include "helpers/domain.h"
#include "helpers/fixture_copies.h"
#include "helpers/manifest.h"

/*
 * A backend that gives the honest image for the first @honest reads that
 * touch [lo, hi) and the other one after: an image file on a device or a
 * remote store that answers differently the next time.
 */
struct turncoat {
	const uint8_t *honest, *bad;
	size_t len;
	uint64_t lo, hi;
	unsigned honest_reads;
	atomic_uint touched;
	/* from then on, reads touching [lo, hi) fail with this (0: never) */
	atomic_int fail;
	unsigned fail_after_us; /* ... after this long: a slow device */
};

static ssize_t tc_pread(void *h, void *buf, size_t len, uint64_t off)
{
	struct turncoat *t = h;
	const uint8_t *src = t->honest;

	if (off >= t->len)
		return 0;
	if (len > t->len - off)
		len = t->len - off;
	if (off < t->hi && off + len > t->lo) {
		int err = atomic_load(&t->fail);

		if (err) {
			if (t->fail_after_us)
				usleep(t->fail_after_us);
			return err;
		}
		if (atomic_fetch_add(&t->touched, 1) >= t->honest_reads)
			src = t->bad;
	}
	memcpy(buf, src + off, len);
	return (ssize_t)len;
}

static int tc_size(void *h, uint64_t *out)
{
	*out = ((struct turncoat *)h)->len;
	return 0;
}

static eshare_image *attach_turncoat(eshare_domain *d, struct turncoat *t, const char *name)
{
	struct eshare_backend_ops ops = { .size = sizeof(ops), .name = "turncoat",
					  .pread = tc_pread, .get_size = tc_size };
	eshare_backend *be;

	ck_assert_int_eq(eshare_backend_new(&be, &ops, t), 0);
	return dom_attach_backend(d, be, name);
}

/*
 * Find a byte of BIG's first compressed pcluster in image @img whose change
 * alters page @page of BIG and no other: a literal that no later match
 * copies.  The LZ4 stream starts with BIG's first bytes as a literal and,
 * 0-padded, ends where its 4 KiB block does; the tail of the first extent
 * comes last, so look from the end.  Fills @bad (the changed copy) and
 * returns the byte's offset, or -1.
 */
static long lone_literal(const uint8_t *img, size_t len, uint8_t *bad, unsigned page)
{
	const uint8_t *start = memmem(img, len, dom_truth, 24);
	long first, end;

	ck_assert_ptr_nonnull(start);
	first = start - img;
	end = (first | 4095) + 1;
	memcpy(bad, img, len);
	for (long at = end - 1; at >= first && (size_t)at < len; at--) {
		uint8_t out[BIG_SIZE];
		eshare_domain *d;
		eshare_image *i;
		bool lone = true;

		bad[at] ^= 0x01;
		d = dom_new(ESHARE_SHARE_OFF, 1 << 20);
		i = dom_attach_memory(d, bad, len, "probe");
		if (dom_read(i, BIG, out, BIG_SIZE, 0) != BIG_SIZE)
			lone = false;
		for (unsigned k = 0; lone && k < BIG_PAGES; k++)
			if ((k == page) != !!memcmp(out + k * PAGE, dom_truth + k * PAGE, PAGE))
				lone = false;
		eshare_image_detach(i);
		ck_assert_int_eq(eshare_domain_close(d), 0);
		if (lone)
			return at;
		bad[at] ^= 0x01;
	}
	return -1;
}

static void victim_reads_truth(eshare_image *victim)
{
	uint8_t page[PAGE];

	for (int k = (int)BIG_PAGES - 1; k >= 0; k--) {
		ck_assert_int_eq(dom_read(victim, BIG, page, PAGE, (uint64_t)k * PAGE), PAGE);
		ck_assert_msg(!memcmp(page, dom_truth + (size_t)k * PAGE, PAGE), "victim page %d",
			      k);
	}
}

/*
 * A compressed extent that ends inside a page leaves that page's prefix
 * held partial in the shared object, unchecked.  Here the attacker's image
 * decodes BIG's page 5 (where its first LZ4 extent ends) to other bytes
 * after the join, and the attacker refills its first extent: its complete
 * pages are right and pass, but the partial prefix of page 5 it leaves is
 * wrong.  The victim's fill that starts from that prefix must fail the
 * proof, decode the page again from its own image, and blame nobody.
 *
 * @victim_name "lz4hc-pcluster64k" (COMPUTE): BIG is one 96 KiB extent, so
 * using the prefix and then decoding without it reads its pcluster twice.
 * @victim_name "digest-lz4" (VERIFY): the attacker's layout, so the
 * victim's next extent also meets the prefix in keep_pages first.
 */
static void partial_prefix(unsigned policy, const char *attacker_name, const char *victim_name,
			   unsigned victim_decodes)
{
	size_t alen, vlen;
	uint8_t *aimg, *vimg, *bad, page[PAGE];
	const uint8_t *vstart;
	long at;
	unsigned before;
	eshare_domain *d;
	eshare_image *victim, *attacker;

	dom_load_truth();
	aimg = dom_slurp(attacker_name, &alen);
	vimg = dom_slurp(victim_name, &vlen);
	bad = malloc(alen);
	ck_assert_ptr_nonnull(bad);
	at = lone_literal(aimg, alen, bad, 5);
	ck_assert_msg(at >= 0, "no byte of %s changes BIG's page 5 alone", attacker_name);
	/* the victim's BIG stream starts with BIG's first bytes as a literal */
	vstart = memmem(vimg, vlen, dom_truth, 24);
	ck_assert_ptr_nonnull(vstart);

	struct turncoat vt = { vimg, vimg, vlen, (uint64_t)(vstart - vimg),
			       (uint64_t)(vstart - vimg) + 1, UINT_MAX, 0, 0, 0 };
	struct turncoat t = { aimg, bad, alen, (uint64_t)at, (uint64_t)at + 1, UINT_MAX, 0, 0, 0 };

	d = dom_new(policy, 256 << 10);
	victim = attach_turncoat(d, &vt, "victim");
	attacker = attach_turncoat(d, &t, "attacker");
	dom_join_both(victim, attacker);

	/* from now on the attacker's image decodes page 5 to other bytes */
	t.honest_reads = 0;
	dom_evict(victim);
	before = t.touched;
	ck_assert_int_eq(dom_read(attacker, BIG, page, PAGE, 4 * PAGE), PAGE);
	ck_assert(!memcmp(page, dom_truth + 4 * PAGE, PAGE));
	ck_assert_uint_eq(t.touched, before + 1); /* it decoded its first extent again */
	ck_assert(dom_identity(attacker, BIG).flags & ESHARE_IDENTITY_SHARED);

	if (victim_decodes) {
		atomic_store(&vt.touched, 0);
		ck_assert_int_eq(dom_read(victim, BIG, page, PAGE, 5 * PAGE), PAGE);
		ck_assert(!memcmp(page, dom_truth + 5 * PAGE, PAGE));
		ck_assert_uint_eq(vt.touched, victim_decodes);
	} else {
		ck_assert_int_eq(dom_read(victim, BIG, page, PAGE, 6 * PAGE), PAGE);
		ck_assert(!memcmp(page, dom_truth + 6 * PAGE, PAGE));
	}
	victim_reads_truth(victim);
	/* nobody filled a wrong complete page: nobody was blamed */
	ck_assert_uint_eq(dom_verify_failures(d), 0);
	ck_assert_uint_eq(dom_identity(victim, BIG).object, dom_identity(attacker, BIG).object);

	eshare_image_detach(attacker);
	eshare_image_detach(victim);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(bad);
	free(vimg);
	free(aimg);
}

START_TEST(compute_liars_partial_prefix)
{
	partial_prefix(ESHARE_SHARE_COMPUTE, "lz4", "lz4hc-pcluster64k", 2);
}
END_TEST

START_TEST(verify_liars_partial_prefix)
{
	partial_prefix(ESHARE_SHARE_VERIFY, "digest-lz4", "digest-lz4", 0);
}
END_TEST

/*
 * A member whose image fails every read of BIG's data after the join (a
 * device gone bad, or an attacker answering -EIO) fails its own reads;
 * its failed fills leave nothing behind, and the victim reads its bytes.
 */
static void failing_member(unsigned policy, const char *attacker_name, const char *victim_name)
{
	size_t len;
	uint8_t *img, page[PAGE];
	const uint8_t *start;
	eshare_domain *d = dom_new(policy, 64 << 10);
	eshare_image *victim, *attacker;

	dom_load_truth();
	img = dom_slurp(attacker_name, &len);
	start = memmem(img, len, dom_truth, 24);
	ck_assert_ptr_nonnull(start);

	/* BIG's pclusters: 20 KiB from its stream's start (dump.erofs) */
	struct turncoat t = { img, img, len, (uint64_t)(start - img),
			      (uint64_t)(start - img) + (20 << 10), UINT_MAX, 0, 0, 0 };

	victim = dom_attach_path(d, victim_name);
	attacker = attach_turncoat(d, &t, "attacker");
	dom_join_both(victim, attacker);
	atomic_store(&t.fail, -EIO);
	for (int round = 0; round < 2; round++) {
		dom_evict(victim);
		/* BIG's first extent (pages 0-5) is read straight from the backend */
		for (unsigned k = 0; k < 5; k += 2)
			ck_assert_msg(dom_read(attacker, BIG, page, PAGE, (uint64_t)k * PAGE) == -EIO,
				      "attacker page %u", k);
		victim_reads_truth(victim);
	}
	ck_assert_uint_eq(dom_verify_failures(d), 0);
	eshare_image_detach(attacker);
	eshare_image_detach(victim);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(img);
}

START_TEST(verify_failing_member)
{
	failing_member(ESHARE_SHARE_VERIFY, "digest-lz4", "digest-plain");
}
END_TEST

START_TEST(compute_failing_member)
{
	failing_member(ESHARE_SHARE_COMPUTE, "lz4", "plain-4k");
}
END_TEST

/*
 * The same liar, and one whose reads fail, race victims' readers with a
 * cache that forces refills all the time: whatever the interleaving of
 * fills, partial pages and leaving, a victim never reads other bytes.
 */
struct racer {
	eshare_image *img;
	bool victim;
	unsigned seed;
	unsigned wrong;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	uint8_t buf[2 * PAGE];
	eshare_inode *ino;

	if (eshare_lookup(&ino, r->img, BIG))
		return (void *)1;
	for (int i = 0; i < 400; i++) {
		uint64_t off = (uint64_t)(rand_r(&r->seed) % (12 * PAGE));
		size_t len = 1 + (size_t)(rand_r(&r->seed) % sizeof(buf));
		ssize_t n = eshare_pread(ino, buf, len, off);

		/* errors are not checked: a member's failing fills may reach its waiters */
		if (n > 0 && r->victim && memcmp(buf, dom_truth + off, (size_t)n))
			r->wrong++;
	}
	eshare_inode_put(ino);
	return NULL;
}

START_TEST(verify_liars_race_victims)
{
	size_t len;
	uint8_t *img, *bad, *img2;
	long at;
	const uint8_t *start;
	eshare_domain *d = dom_new(ESHARE_SHARE_VERIFY, 32 << 10);
	eshare_image *victim, *liar, *failing;
	struct racer r[4];
	pthread_t th[4];

	dom_load_truth();
	img = dom_slurp("digest-lz4", &len);
	img2 = dom_slurp("digest-lz4", &len);
	bad = malloc(len);
	ck_assert_ptr_nonnull(bad);
	at = lone_literal(img, len, bad, 5);
	ck_assert_int_ge(at, 0);
	start = memmem(img2, len, dom_truth, 24);
	ck_assert_ptr_nonnull(start);

	struct turncoat t = { img, bad, len, (uint64_t)at, (uint64_t)at + 1, UINT_MAX, 0, 0, 0 };
	struct turncoat t2 = { img2, img2, len, (uint64_t)(start - img2),
			       (uint64_t)(start - img2) + (20 << 10), UINT_MAX, 0, 0, 0 };

	victim = dom_attach_path(d, "digest-lz4");
	liar = attach_turncoat(d, &t, "liar");
	failing = attach_turncoat(d, &t2, "failing");
	dom_join_both(victim, liar);
	dom_join_both(victim, failing);
	t.honest_reads = 0;
	atomic_store(&t2.fail, -EIO);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){ i == 1 ? liar : i == 3 ? failing : victim, i % 2 == 0,
				       3u + (unsigned)i, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *ret;

		ck_assert_int_eq(pthread_join(th[i], &ret), 0);
		ck_assert_ptr_null(ret);
		ck_assert_msg(r[i].wrong == 0, "victim thread %d read %u wrong ranges", i, r[i].wrong);
	}
	victim_reads_truth(victim);
	eshare_image_detach(failing);
	eshare_image_detach(liar);
	eshare_image_detach(victim);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(bad);
	free(img2);
	free(img);
}
END_TEST

/*
 * The join pass stores into the new shared object every page a decode
 * gives, also pages of the extent it hashed already and the cache evicted
 * meanwhile: the attacker's image answers its first read of BIG's first
 * pcluster honestly and the next ones with one literal of page @page
 * changed, and the attacker's other thread reads other files while that
 * second read is pending (here: inline, in the backend).
 */
static eshare_image *churn_img;
static unsigned churn_pages;
static atomic_uint churned;

static void do_churn(void)
{
	static const char *const files[] = { "/bound/text-65536", "/bound/text-65537",
					     "/bound/mixed-65535", "/big/mixed-1.bin",
					     "/big/rand-2.bin", "/hard/big-1" };
	static uint8_t buf[PAGE];
	unsigned n = 0;

	for (unsigned i = 0; i < 6 && n < churn_pages; i++)
		for (uint64_t off = 0; n < churn_pages; off += PAGE, n++)
			if (dom_read(churn_img, files[i], buf, PAGE, off) <= 0)
				break;
}

static ssize_t stalling_pread(void *h, void *buf, size_t len, uint64_t off)
{
	struct turncoat *t = h;

	if (off < t->hi && off + len > t->lo && atomic_load(&t->touched) == t->honest_reads &&
	    !atomic_exchange(&churned, 1))
		do_churn();
	return tc_pread(h, buf, len, off);
}

static void join_pass_reput(unsigned policy, const char *attacker_name, const char *victim_name)
{
	size_t len;
	uint8_t *img, *bad, buf[BIG_SIZE];
	long at;
	eshare_domain *d = dom_new(policy, 63 * PAGE);
	eshare_image *a, *v;
	eshare_backend *abe;
	struct eshare_backend_ops aops = { .size = sizeof(aops), .name = "attacker",
					   .pread = stalling_pread, .get_size = tc_size };

	dom_load_truth();
	img = dom_slurp(attacker_name, &len);
	bad = malloc(len);
	ck_assert_ptr_nonnull(bad);
	at = lone_literal(img, len, bad, 0);
	ck_assert_int_ge(at, 0);

	struct turncoat t = { img, bad, len, (uint64_t)at, (uint64_t)at + 1, 1, 0, 0, 0 };

	ck_assert_int_eq(eshare_backend_new(&abe, &aops, &t), 0);
	a = dom_attach_backend(d, abe, "attacker");
	churn_img = dom_attach_path(d, "plain-512");
	churn_pages = 64;
	atomic_store(&churned, 0);
	/* the attacker reads BIG's first page: honest, its first extent stays cached */
	ck_assert_int_eq(dom_read(a, BIG, buf, PAGE, 0), PAGE);
	/* the victim's first read hashes the attacker's twin first, then its own */
	v = dom_attach_path(d, victim_name);
	ck_assert_int_eq(dom_read(v, BIG, buf, BIG_SIZE, 0), BIG_SIZE);
	/* the attacker joined under the true fingerprint, and the victim with it */
	ck_assert_uint_eq(dom_identity(a, BIG).object, dom_identity(v, BIG).object);
	for (unsigned k = 0; k < BIG_PAGES; k++)
		ck_assert_msg(!memcmp(buf + k * PAGE, dom_truth + k * PAGE, PAGE),
			      "%s: the victim read the attacker's bytes in page %u", victim_name, k);
	eshare_image_detach(v);
	eshare_image_detach(churn_img);
	eshare_image_detach(a);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(bad);
	free(img);
}

START_TEST(compute_join_pass_reput)
{
	join_pass_reput(ESHARE_SHARE_COMPUTE, "lz4", "plain-4k");
}
END_TEST

START_TEST(verify_join_pass_reput)
{
	join_pass_reput(ESHARE_SHARE_VERIFY, "digest-lz4", "digest-plain");
}
END_TEST

/*
 * A member whose fills all fail, slowly, while the victim reads the same
 * shared pages: a victim that waits for such a fill reads from its own
 * image instead, so it never fails and never reads other bytes.
 */
struct failrace {
	eshare_image *img;
	bool victim;
	unsigned seed, errors, wrong, reads;
	atomic_bool *stop;
};

static void *fail_race(void *arg)
{
	struct failrace *r = arg;
	uint8_t buf[PAGE];
	eshare_inode *ino;

	if (eshare_lookup(&ino, r->img, BIG))
		return (void *)1;
	while (!atomic_load(r->stop) && r->reads < 600) {
		uint64_t off = (uint64_t)(rand_r(&r->seed) % 6) * PAGE;
		ssize_t n = eshare_pread(ino, buf, PAGE, off);

		r->reads++;
		if (n != PAGE)
			r->errors++;
		else if (r->victim && memcmp(buf, dom_truth + off, PAGE))
			r->wrong++;
	}
	eshare_inode_put(ino);
	return NULL;
}

START_TEST(verify_failing_member_never_fails_victim)
{
	size_t len;
	uint8_t *img;
	const uint8_t *start;
	eshare_domain *d = dom_new(ESHARE_SHARE_VERIFY, 16 << 10);
	eshare_image *victim, *attacker;
	struct failrace r[4];
	pthread_t th[4];
	atomic_bool stop = false;

	dom_load_truth();
	img = dom_slurp("digest-lz4", &len);
	start = memmem(img, len, dom_truth, 24);
	ck_assert_ptr_nonnull(start);
	struct turncoat t = { img, img, len, (uint64_t)(start - img),
			      (uint64_t)(start - img) + (20 << 10), UINT_MAX, 0, 0, 2000 };
	victim = dom_attach_path(d, "digest-plain");
	attacker = attach_turncoat(d, &t, "attacker");
	dom_join_both(victim, attacker);
	atomic_store(&t.fail, -EIO);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct failrace){ i ? attacker : victim, i == 0, 11u + (unsigned)i, 0, 0, 0,
					  &stop };
		ck_assert_int_eq(pthread_create(&th[i], NULL, fail_race, &r[i]), 0);
	}
	pthread_join(th[0], NULL);
	atomic_store(&stop, true);
	for (int i = 1; i < 4; i++)
		pthread_join(th[i], NULL);
	ck_assert_msg(r[0].errors == 0 && r[0].wrong == 0,
		      "victim: %u reads, %u failed, %u wrong", r[0].reads, r[0].errors, r[0].wrong);
	eshare_image_detach(attacker);
	eshare_image_detach(victim);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(img);
}
END_TEST

/*
 * Attach the lz4 fixture (loaded into *@img) through @ops over @t, which
 * is set to watch the first byte of BIG's data and stay honest.
 */
static eshare_image *attach_watched(eshare_domain *d, const struct eshare_backend_ops *ops,
				    struct turncoat *t, uint8_t **img, const char *name)
{
	const uint8_t *start;
	eshare_backend *be;
	size_t len;

	dom_load_truth();
	*img = dom_slurp("lz4", &len);
	start = memmem(*img, len, dom_truth, 24);
	ck_assert_ptr_nonnull(start);
	*t = (struct turncoat){ *img, *img, len, (uint64_t)(start - *img),
				(uint64_t)(start - *img) + 1, UINT_MAX, 0, 0, 0 };
	ck_assert_int_eq(eshare_backend_new(&be, ops, t), 0);
	return dom_attach_backend(d, be, name);
}

/*
 * A reader's first read decides and hashes its file's same-size twins:
 * another image's twin is hashed only from the pages it holds cached,
 * never through that image's backend, which may be slow or never answer.
 * The twin joins when its own image reads it.
 */
static atomic_int spy_seen;

static ssize_t spy_pread(void *h, void *buf, size_t len, uint64_t off)
{
	struct turncoat *t = h;

	if (off < t->hi && off + len > t->lo)
		atomic_store(&spy_seen, 1);
	return tc_pread(h, buf, len, off);
}

START_TEST(compute_reader_never_runs_another_backend)
{
	uint8_t *img, buf[BIG_SIZE];
	eshare_domain *d = dom_new(ESHARE_SHARE_COMPUTE, 16 << 20);
	eshare_image *victim, *attacker;
	struct eshare_backend_ops ops = { .size = sizeof(ops), .name = "spy",
					  .pread = spy_pread, .get_size = tc_size };
	struct turncoat t;

	attacker = attach_watched(d, &ops, &t, &img, "attacker");
	/* the attacker's twin of BIG is decided first: alone with its size, it waits */
	(void)dom_identity(attacker, BIG);
	atomic_store(&spy_seen, 0);
	victim = dom_attach_path(d, "plain-4k");
	ck_assert_int_eq(dom_read(victim, BIG, buf, BIG_SIZE, 0), BIG_SIZE);
	ck_assert(!memcmp(buf, dom_truth, BIG_SIZE));
	ck_assert_msg(!atomic_load(&spy_seen), "the victim's read ran the attacker's backend");
	/* the attacker's own read hashes its twin, in its thread, and joins */
	ck_assert_int_eq(dom_read(attacker, BIG, buf, BIG_SIZE, 0), BIG_SIZE);
	ck_assert_uint_eq(dom_identity(attacker, BIG).object, dom_identity(victim, BIG).object);
	eshare_image_detach(victim);
	eshare_image_detach(attacker);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(img);
}
END_TEST

/*
 * A twin that comes while a file's first read is still filling finds the
 * file's pages not all cached, and leaves the file to its own reader.  That
 * very read settles it when it ends: no private copy stays beside the
 * shared one, waiting for a next read that may never come.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool waiting, open;
} gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false };

static ssize_t gate_pread(void *h, void *buf, size_t len, uint64_t off)
{
	struct turncoat *t = h;

	if (off < t->hi && off + len > t->lo) {
		pthread_mutex_lock(&gate.lock);
		gate.waiting = true;
		pthread_cond_broadcast(&gate.cv);
		while (!gate.open)
			pthread_cond_wait(&gate.cv, &gate.lock);
		pthread_mutex_unlock(&gate.lock);
	}
	return tc_pread(h, buf, len, off);
}

struct gated_read {
	eshare_image *img;
	uint8_t buf[BIG_SIZE];
	ssize_t got;
};

static void *gated_reader(void *arg)
{
	struct gated_read *r = arg;

	r->got = dom_read(r->img, BIG, r->buf, BIG_SIZE, 0);
	return NULL;
}

START_TEST(compute_twin_during_read_settles)
{
	uint8_t *img, buf[BIG_SIZE];
	eshare_domain *d = dom_new(ESHARE_SHARE_COMPUTE, 16 << 20);
	struct eshare_backend_ops ops = { .size = sizeof(ops), .name = "gated",
					  .pread = gate_pread, .get_size = tc_size };
	struct gated_read *r = calloc(1, sizeof(*r));
	struct eshare_stats st = { .size = sizeof(st) };
	eshare_image *slow, *fast;
	struct turncoat t;
	pthread_t tid;

	ck_assert_ptr_nonnull(r);
	slow = attach_watched(d, &ops, &t, &img, "slow");
	fast = dom_attach_path(d, "plain-4k");
	r->img = slow;
	ck_assert_int_eq(pthread_create(&tid, NULL, gated_reader, r), 0);
	pthread_mutex_lock(&gate.lock);
	while (!gate.waiting)
		pthread_cond_wait(&gate.cv, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
	/* the slow file is mid-fill: its twin cannot take its pages yet */
	ck_assert_int_eq(dom_read(fast, BIG, buf, BIG_SIZE, 0), BIG_SIZE);
	ck_assert(!memcmp(buf, dom_truth, BIG_SIZE));
	pthread_mutex_lock(&gate.lock);
	gate.open = true;
	pthread_cond_broadcast(&gate.cv);
	pthread_mutex_unlock(&gate.lock);
	ck_assert_int_eq(pthread_join(tid, NULL), 0);
	ck_assert_int_eq(r->got, BIG_SIZE);
	ck_assert(!memcmp(r->buf, dom_truth, BIG_SIZE));
	/* with no other call: one shared object of both, one copy cached */
	ck_assert_int_eq(eshare_domain_stats(d, &st), 0);
	ck_assert_uint_eq(st.shared_objects, 1);
	ck_assert_uint_eq(st.shared_members, 2);
	ck_assert_uint_eq(st.cached_data_bytes, BIG_SIZE);
	eshare_image_detach(fast);
	eshare_image_detach(slow);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(r);
	free(img);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("domain_attack");
	TCase *tc = tcase_create("attack");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, compute_liars_partial_prefix);
	tcase_add_test(tc, verify_liars_partial_prefix);
	tcase_add_test(tc, verify_failing_member);
	tcase_add_test(tc, compute_failing_member);
	tcase_add_test(tc, verify_liars_race_victims);
	tcase_add_test(tc, compute_join_pass_reput);
	tcase_add_test(tc, verify_join_pass_reput);
	tcase_add_test(tc, verify_failing_member_never_fails_victim);
	tcase_add_test(tc, compute_reader_never_runs_another_backend);
	tcase_add_test(tc, compute_twin_during_read_settles);
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
