// SPDX-License-Identifier: MIT
/*
 * Xattrs of every fixture against the kernel (lib/format/xattr.c under the
 * library), and the fingerprints of the digest images.
 *
 * Expected names and values come from the fixtures' manifests, which were
 * read off the kernel's mount.  The listing order and the errno of the
 * corner cases were checked against the 6.18 kernel by mounting the
 * fixtures (and a crafted copy for xattr_isize 12): listxattr gives the
 * inline entries before the shared ones and lists a duplicated entry
 * twice; the same order on all 24 images.
 *
 * The format layer on its own, on crafted xattr areas: test_format_xattr.c.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <erofs_share/erofs_share.h>

#include "format/format.h"
#include "helpers/fixtures.h"
#include "helpers/manifest.h"
#include "helpers/memfs.h"
#include "helpers/readall.h"

/* ------------------------------------------------------------------ */
/* Expected listing order                                               */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The kernel lists inline entries before shared ones, so these inodes
 * (one inline xattr, two shared) and the directory holding a whiteout
 * (mkfs adds trusted.overlay.origin that the source already has) differ
 * from the manifest's sorted, de-duplicated names.  Seen on all 24 images.
 */
static const struct {
	const char *path;
	const char *names[3];
} kernel_order[] = {
	{ "/nodes/whiteout-dir", { "trusted.overlay.origin", "trusted.overlay.origin" } },
	{ "/xattr/shared-01", { "user.own", "trusted.overlay.common", "user.common" } },
	{ "/xattr/shared-03", { "user.own", "trusted.overlay.common", "user.common" } },
	{ "/xattr/shared-05", { "user.own", "trusted.overlay.common", "user.common" } },
	{ "/xattr/shared-07", { "user.own", "trusted.overlay.common", "user.common" } },
	{ "/xattr/shared-09", { "user.own", "trusted.overlay.common", "user.common" } },
	{ "/xattr/shared-11", { "user.own", "trusted.overlay.common", "user.common" } },
};

/* Names as the kernel lists them for manifest line @l, into @out. */
static unsigned expected_order(const struct manifest_entry *l, const char **out, unsigned cap)
{
	unsigned n = 0;

	for (size_t k = 0; k < sizeof(kernel_order) / sizeof(kernel_order[0]); k++) {
		if (strcmp(kernel_order[k].path, l->path))
			continue;
		for (unsigned j = 0; j < 3 && kernel_order[k].names[j]; j++)
			out[n++] = kernel_order[k].names[j];
		return n;
	}
	ck_assert_uint_le(l->nxattrs, cap);
	for (unsigned j = 0; j < l->nxattrs; j++)
		out[n++] = l->xattrs[j].name;
	qsort(out, n, sizeof(*out), cmp_str);
	return n;
}

static void check_value(const char *what, const struct manifest_xattr *x, const uint8_t *v,
			size_t len)
{
	ck_assert_msg(len == x->vlen, "%s: %s is %zu bytes, want %zu", what, x->name, len,
		      x->vlen);
	if (x->hashed) {
		uint8_t md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;

		ck_assert_int_eq(EVP_Digest(v, len, md, &mdlen, EVP_sha256(), NULL), 1);
		ck_assert_uint_eq(mdlen, 32);
		ck_assert_msg(!memcmp(md, x->value, 32), "%s: %s sha256 differs", what, x->name);
	} else {
		ck_assert_msg(!len || !memcmp(v, x->value, len), "%s: %s differs", what, x->name);
	}
}

/* ------------------------------------------------------------------ */
/* Every fixture, through the public API, against its manifest          */

START_TEST(test_manifest_xattrs)
{
	const char *image = fixture_registry[_i].name;
	struct manifest m;
	eshare_domain *d;
	eshare_image *img;
	char *list = NULL;
	size_t listcap = 0, checked = 0;
	uint8_t *val = NULL;
	size_t valcap = 0;

	ck_assert_int_eq(manifest_load(&m, image), 0);
	img = fx_attach(&d, image);
	for (size_t i = 0; i < m.n; i++) {
		const struct manifest_entry *l = &m.e[i];
		const char *want[128];
		unsigned nwant = expected_order(l, want, 128);
		eshare_inode *ino;
		ssize_t n, got;
		unsigned k = 0;

		ck_assert_msg(eshare_lookup(&ino, img, l->path) == 0, "%s: lookup %s", image,
			      l->path);
		n = eshare_listxattr(ino, NULL, 0);
		ck_assert_msg(n >= 0, "%s: listxattr %s: %zd", image, l->path, n);
		if ((size_t)n + 1 > listcap) {
			listcap = (size_t)n + 1;
			list = realloc(list, listcap);
			ck_assert_ptr_nonnull(list);
		}
		got = eshare_listxattr(ino, list, (size_t)n);
		ck_assert_int_eq(got, n);
		if (n)
			ck_assert_int_eq(eshare_listxattr(ino, list, (size_t)n - 1), -ERANGE);
		/* exactly the kernel's names, in its order */
		for (ssize_t off = 0; off < n; k++) {
			const char *name = list + off;
			size_t nl = strnlen(name, (size_t)(n - off));

			ck_assert_msg(nl < (size_t)(n - off), "unterminated name");
			ck_assert_msg(k < nwant && !strcmp(name, want[k]), "%s: %s lists %s at %u",
				      image, l->path, name, k);
			off += (ssize_t)nl + 1;
		}
		ck_assert_msg(k == nwant, "%s: %s lists %u names, want %u", image, l->path, k,
			      nwant);
		for (unsigned j = 0; j < l->nxattrs; j++) {
			const struct manifest_xattr *x = &l->xattrs[j];

			n = eshare_getxattr(ino, x->name, NULL, 0);
			ck_assert_msg(n == (ssize_t)x->vlen, "%s: %s %s size %zd", image, l->path,
				      x->name, n);
			if ((size_t)n + 1 > valcap) {
				valcap = (size_t)n + 1;
				val = realloc(val, valcap);
				ck_assert_ptr_nonnull(val);
			}
			ck_assert_int_eq(eshare_getxattr(ino, x->name, val, valcap), n);
			check_value(l->path, x, val, (size_t)n);
			/* (a length of 0 would ask for the size) */
			if (n > 1)
				ck_assert_int_eq(eshare_getxattr(ino, x->name, val, (size_t)n - 1),
						 -ERANGE);
			checked++;
		}
		ck_assert_int_eq(eshare_getxattr(ino, "user.not-there", val, valcap), -ENODATA);
		ck_assert_int_eq(eshare_getxattr(ino, "trusted.overlay.nope", NULL, 0), -ENODATA);
		eshare_inode_put(ino);
	}
	/* all 24 fixtures carry the xattr/ and acl/ trees */
	ck_assert_uint_gt(checked, 150);
	free(list);
	free(val);
	fx_detach(d, img);
	manifest_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Fingerprints of the digest images                                    */


START_TEST(test_fingerprint)
{
	const char *image = fx_nth((unsigned)_i, FX_DIGEST, 0)->name;
	const struct ef_prefix *pf;
	struct memfs mem;
	struct ef_fs *fs;
	struct manifest m;
	unsigned with = 0, without = 0;

	memfs_load(&mem, image);
	fs = memfs_fs(&mem);
	ck_assert_int_eq(manifest_load(&m, image), 0);
	ck_assert_int_eq(fs->ishare_prefix_id, 0);
	ck_assert_uint_eq(fs->xattr_prefix_count, 1);
	pf = &fs->prefixes[0];
	ck_assert_uint_eq(pf->base_index, 0);
	ck_assert_uint_eq(pf->infix_len, 20);
	ck_assert(!memcmp(pf->infix, "erofs.fingerprint.v1", 20));
	for (size_t i = 0; i < m.n; i++) {
		const struct manifest_entry *l = &m.e[i];
		struct ef_inode ino;
		uint8_t fp[64], want[39];
		char list[8192];
		ssize_t n;

		ck_assert_msg(memfs_resolve(fs, l->path, &ino) == 0, "%s: %s", image, l->path);
		n = ef_get_fingerprint(fs, &ino, fp, sizeof(fp));
		if (strcmp(l->type, "reg") || !l->size) {
			ck_assert_msg(n == -ENODATA, "%s: %s has a fingerprint (%zd)", image,
				      l->path, n);
			without++;
			continue;
		}
		memcpy(want, "sha256:", 7);
		memcpy(want + 7, l->sha256, 32);
		ck_assert_msg(n == 39, "%s: %s fingerprint %zd", image, l->path, n);
		ck_assert_msg(!memcmp(fp, want, 39), "%s: %s fingerprint differs", image,
			      l->path);
		ck_assert_int_eq(ef_get_fingerprint(fs, &ino, NULL, 0), 39);
		ck_assert_int_eq(ef_get_fingerprint(fs, &ino, fp, 38), -ERANGE);
		/* hidden: neither listed nor reachable by its name */
		n = ef_listxattr(fs, &ino, list, sizeof(list));
		ck_assert_int_ge(n, 0);
		for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1)
			ck_assert(!strstr(list + off, "fingerprint"));
		ck_assert_int_eq(ef_getxattr(fs, &ino, "erofs.fingerprint.v1", fp, sizeof(fp)),
				 -EOPNOTSUPP);
		with++;
	}
	ck_assert_uint_gt(with, 100);
	ck_assert_uint_gt(without, 100);
	manifest_free(&m);
	ef_fs_close(fs);
	memfs_free(&mem);
}
END_TEST

static Suite *xattr_suite(void)
{
	Suite *s = suite_create("xattr");
	TCase *tc = tcase_create("manifest");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_manifest_xattrs, 0, (int)fixture_count);
	tcase_add_loop_test(tc, test_fingerprint, 0, (int)fx_select(NULL, 0, FX_DIGEST, 0));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(xattr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
