// SPDX-License-Identifier: MIT
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "helpers/domain.h"
#include "helpers/fixtures.h"
#include "helpers/manifest.h"

int dom_log_fingerprint, dom_log_proof, dom_log_stale;
uint8_t dom_truth[BIG_SIZE];

static void count_log(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	if (strstr(msg, "does not match its fingerprint"))
		__atomic_fetch_add(&dom_log_fingerprint, 1, __ATOMIC_RELAXED);
	if (strstr(msg, "other bytes than were proven"))
		__atomic_fetch_add(&dom_log_proof, 1, __ATOMIC_RELAXED);
	if (strstr(msg, "changed after it was attached"))
		__atomic_fetch_add(&dom_log_stale, 1, __ATOMIC_RELAXED);
}

eshare_domain *dom_new(unsigned policy, uint64_t budget)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_domain *d;

	o.policy = policy;
	o.cache_bytes = budget;
	o.log = count_log;
	ck_assert_int_eq(eshare_domain_create(&d, &o), 0);
	return d;
}

eshare_image *dom_attach_path(eshare_domain *d, const char *name)
{
	const struct fixture_info *f = fx_get(name);
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;
	eshare_backend *devs[FX_MAX_DEVICES];
	eshare_image *img;
	char path[4096];
	int rc;

	for (unsigned k = 0; k < f->ndevices; k++) {
		fx_device_path(path, sizeof(path), f, k);
		ck_assert_int_eq(eshare_backend_open_file(&devs[k], path), 0);
	}
	o.devices = f->ndevices ? devs : NULL;
	o.ndevices = f->ndevices;
	fx_image_path(path, sizeof(path), f);
	rc = eshare_image_open_path(&img, d, path, &o);
	ck_assert_msg(rc == 0, "attach %s: %s", name, eshare_strerror(rc));
	return img;
}

eshare_image *dom_attach_backend(eshare_domain *d, eshare_backend *be, const char *name)
{
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;
	eshare_image *img;

	o.name = name;
	ck_assert_int_eq(eshare_image_attach(&img, d, be, &o), 0);
	return img;
}

eshare_image *dom_attach_memory(eshare_domain *d, const uint8_t *buf, size_t len,
				const char *name)
{
	eshare_backend *be;

	ck_assert_int_eq(eshare_backend_memory(&be, buf, len, NULL, NULL), 0);
	return dom_attach_backend(d, be, name);
}

char *dom_fixture_path(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s.erofs", ESHARE_FIXTURES, name) < 0)
		return NULL;
	return p;
}

uint8_t *dom_slurp(const char *name, size_t *len)
{
	return fx_load_image(fx_get(name), len);
}

ssize_t dom_read(eshare_image *img, const char *path, void *buf, size_t len, uint64_t off)
{
	eshare_inode *ino;
	ssize_t n;
	int rc = eshare_lookup(&ino, img, path);

	if (rc)
		return rc;
	n = eshare_pread(ino, buf, len, off);
	eshare_inode_put(ino);
	return n;
}

struct eshare_file_identity dom_identity(eshare_image *img, const char *path)
{
	struct eshare_file_identity id = ESHARE_FILE_IDENTITY_INIT;
	eshare_inode *ino;

	ck_assert_int_eq(eshare_lookup(&ino, img, path), 0);
	ck_assert_int_eq(eshare_file_identity(ino, 0, &id), 0);
	eshare_inode_put(ino);
	return id;
}

uint64_t dom_verify_failures(eshare_domain *d)
{
	struct eshare_stats st = ESHARE_STATS_INIT;

	ck_assert_int_eq(eshare_domain_stats(d, &st), 0);
	return st.verify_failures;
}

void dom_load_truth(void)
{
	static bool done;
	struct manifest m;
	const struct manifest_entry *e;
	uint8_t sum[32], *img;
	size_t len;
	eshare_domain *d;
	eshare_image *i;

	if (done)
		return;
	ck_assert_int_eq(manifest_load(&m, "digest-plain"), 0);
	e = manifest_find(&m, BIG);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->size, BIG_SIZE);
	d = dom_new(ESHARE_SHARE_OFF, 16 << 20);
	i = dom_attach_path(d, "digest-plain");
	ck_assert_int_eq(dom_read(i, BIG, dom_truth, BIG_SIZE, 0), BIG_SIZE);
	SHA256(dom_truth, BIG_SIZE, sum);
	ck_assert_msg(!memcmp(sum, e->sha256, 32), "BIG's sha256 differs from the manifest");
	/* flat layout: every page of it is in the image file as is */
	img = dom_slurp("digest-plain", &len);
	for (unsigned k = 0; k < BIG_PAGES; k++)
		ck_assert_ptr_nonnull(memmem(img, len, dom_truth + k * PAGE, PAGE));
	free(img);
	eshare_image_detach(i);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	manifest_free(&m);
	done = true;
}

void dom_evict(eshare_image *img)
{
	static const char *const files[] = { "/bound/text-65537", "/bound/text-65536",
					     "/bound/mixed-65535", "/sparse/hole-middle" };
	static uint8_t buf[96 << 10];

	for (int round = 0; round < 3; round++)
		for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			for (int twice = 0; twice < 2; twice++)
				ck_assert_int_gt(dom_read(img, files[i], buf, sizeof(buf), 0), 0);
}

void dom_join_both(eshare_image *victim, eshare_image *attacker)
{
	static uint8_t buf[BIG_SIZE];
	struct eshare_file_identity a, b;

	ck_assert_int_eq(dom_read(victim, BIG, buf, BIG_SIZE, 0), BIG_SIZE);
	ck_assert(!memcmp(buf, dom_truth, BIG_SIZE));
	ck_assert_int_eq(dom_read(attacker, BIG, buf, BIG_SIZE, 0), BIG_SIZE);
	ck_assert(!memcmp(buf, dom_truth, BIG_SIZE));
	a = dom_identity(victim, BIG);
	b = dom_identity(attacker, BIG);
	ck_assert(a.flags & ESHARE_IDENTITY_SHARED);
	ck_assert_uint_eq(a.object, b.object);
}
