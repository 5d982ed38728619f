// SPDX-License-Identifier: MIT
/*
 * examples/common, the front ends' shared helpers: size and policy parsing
 * (values worked out by hand), opening images with extra devices, and the
 * streaming walker against the kernel's manifests of the fixtures.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <erofs_share/erofs_share.h>

/* The helpers are a static library of the examples; build them in here. */
#include "../../examples/common/common.c"

#include "helpers/manifest.h"

START_TEST(test_parse_size)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{ "0", 0 },
		{ "4096", 4096 },
		{ "64K", 65536 },
		{ "64k", 65536 },
		{ "3KiB", 3072 },
		{ "1M", 1048576 },
		{ "1MiB", 1048576 },
		{ "2G", 2147483648ull },
		{ "1T", 1099511627776ull },
		{ "18446744073709551615", UINT64_MAX },
		{ "16777215T", 18446742974197923840ull },
	};
	static const char *const bad[] = {
		"", "K", "-1", "+1", " 1", "1 ", "1X", "1KB", "1Ki", "1K ", "0x10",
		"18446744073709551616", "16777216T", "17179869184G",
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 12345;
		ck_assert_msg(esc_parse_size(&v, ok[i].s) == 0, "'%s' refused", ok[i].s);
		ck_assert_msg(v == ok[i].v, "'%s' gave %llu", ok[i].s, (unsigned long long)v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		ck_assert_msg(esc_parse_size(&v, bad[i]) == -EINVAL, "'%s' accepted", bad[i]);
		ck_assert_msg(v == 12345, "'%s' wrote its out-parameter", bad[i]);
	}
}
END_TEST

START_TEST(test_parse_uint)
{
	uint64_t v = 7;

	ck_assert_int_eq(esc_parse_uint(&v, "1", 1), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(esc_parse_uint(&v, "256", 256), 0);
	ck_assert_uint_eq(v, 256);
	ck_assert_int_eq(esc_parse_uint(&v, "0", 10), -EINVAL);
	ck_assert_int_eq(esc_parse_uint(&v, "257", 256), -EINVAL);
	ck_assert_int_eq(esc_parse_uint(&v, "-1", 10), -EINVAL);
	ck_assert_int_eq(esc_parse_uint(&v, "2x", 10), -EINVAL);
	ck_assert_int_eq(esc_parse_uint(&v, "", 10), -EINVAL);
	ck_assert_int_eq(esc_parse_uint(&v, "99999999999999999999", UINT64_MAX), -EINVAL);
	ck_assert_uint_eq(v, 256);
}
END_TEST

START_TEST(test_parse_policies)
{
	static const char *const bad[] = {
		"", ",", "off,", ",off", "off,,compute", "off,off", "of", "OFF",
		"off,trust,verify,compute,off", "off compute",
	};
	uint32_t p[ESC_NPOLICIES] = { 9, 9, 9, 9 }, one;
	unsigned n = 0;
	size_t i;

	ck_assert_int_eq(esc_parse_policies(p, &n, "off,compute"), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(p[0], ESHARE_SHARE_OFF);
	ck_assert_uint_eq(p[1], ESHARE_SHARE_COMPUTE);
	ck_assert_int_eq(esc_parse_policies(p, &n, "verify,trust,compute,off"), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(p[0], ESHARE_SHARE_VERIFY);
	ck_assert_uint_eq(p[1], ESHARE_SHARE_TRUST);
	ck_assert_uint_eq(p[3], ESHARE_SHARE_OFF);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 77;
		ck_assert_msg(esc_parse_policies(p, &n, bad[i]) == -EINVAL, "'%s' accepted",
			      bad[i]);
		ck_assert_uint_eq(n, 77);
	}
	ck_assert_int_eq(esc_parse_policy(&one, "trust"), 0);
	ck_assert_uint_eq(one, ESHARE_SHARE_TRUST);
	ck_assert_int_eq(esc_parse_policy(&one, "trusted"), -EINVAL);
	ck_assert_str_eq(esc_policy_name(ESHARE_SHARE_COMPUTE), "compute");
	ck_assert_str_eq(esc_policy_name(4), "?");
}
END_TEST

static eshare_domain *domain(void)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_domain *d;

	o.policy = ESHARE_SHARE_OFF;
	ck_assert_int_eq(eshare_domain_create(&d, &o), 0);
	return d;
}

START_TEST(test_image_open)
{
	const char *dev = ESHARE_FIXTURES "/multidev.blob";
	struct esc_open_opts o = { .devices = &dev, .ndevices = 1 };
	eshare_domain *d = domain();
	eshare_image *img = NULL, *img2 = NULL;
	char msg[256];

	/* Missing file: the backend says so. */
	ck_assert_int_eq(esc_image_open(&img, d, ESHARE_FIXTURES "/no-such.erofs", NULL, msg,
					sizeof(msg)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(msg, "cannot open with the file backend"));
	/* Not an image. */
	ck_assert_int_lt(esc_image_open(&img, d, ESHARE_FIXTURES "/README.md", NULL, msg,
					sizeof(msg)),
			 0);
	ck_assert_ptr_nonnull(strstr(msg, "cannot open the image"));
	/* A multi-device image without its device. */
	ck_assert_int_eq(esc_image_open(&img, d, ESHARE_FIXTURES "/multidev.erofs", NULL, msg,
					sizeof(msg)),
			 -ENXIO);
	/* A missing extra device is named. */
	{
		const char *nodev = ESHARE_FIXTURES "/no-such.blob";
		struct esc_open_opts bad = { .devices = &nodev, .ndevices = 1 };

		ck_assert_int_eq(esc_image_open(&img, d, ESHARE_FIXTURES "/multidev.erofs", &bad,
						msg, sizeof(msg)),
				 -ENOENT);
		ck_assert_ptr_nonnull(strstr(msg, "device " ESHARE_FIXTURES "/no-such.blob"));
	}
	ck_assert_ptr_null(img);
	/* With it; and with devices given only if needed, to both kinds. */
	ck_assert_int_eq(esc_image_open(&img, d, ESHARE_FIXTURES "/multidev.erofs", &o, msg,
					sizeof(msg)),
			 0);
	eshare_image_detach(img);
	o.devices_if_needed = true;
	ck_assert_int_eq(esc_image_open(&img, d, ESHARE_FIXTURES "/multidev.erofs", &o, msg,
					sizeof(msg)),
			 0);
	ck_assert_int_eq(esc_image_open(&img2, d, ESHARE_FIXTURES "/lz4.erofs", &o, msg,
					sizeof(msg)),
			 0);
	{
		struct eshare_image_info info = ESHARE_IMAGE_INFO_INIT;

		ck_assert_int_eq(eshare_image_info(img, &info), 0);
		ck_assert_uint_eq(info.extra_devices, 1);
	}
	eshare_image_detach(img);
	eshare_image_detach(img2);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

struct seen {
	const struct manifest *m;
	unsigned char *hit;	/* per manifest entry */
	size_t visits, regs, skipped_dir_entries;
	const char *skip;	/* a directory not to enter */
	unsigned maxdepth;
};

static int path_cmp(const void *a, const void *b)
{
	return strcmp(((const struct manifest_entry *)a)->path,
		      ((const struct manifest_entry *)b)->path);
}

static const char *type_of(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "lnk";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	}
	return "?";
}

static int visit(void *user, const struct esc_entry *e)
{
	struct seen *s = user;
	struct manifest_entry key = { .path = (char *)e->path }, *me;

	ck_assert_uint_eq(strlen(e->path), e->pathlen);
	ck_assert_uint_eq(strlen(e->name), e->namelen);
	me = bsearch(&key, s->m->e, s->m->n, sizeof(*s->m->e), path_cmp);
	ck_assert_msg(me != NULL, "walk gave %s, not in the manifest", e->path);
	ck_assert_msg(!s->hit[me - s->m->e], "%s visited twice", e->path);
	s->hit[me - s->m->e] = 1;
	ck_assert_str_eq(type_of(e->st->mode), me->type);
	if (!strcmp(me->type, "reg"))
		ck_assert_uint_eq(e->st->file_size, me->size);
	if (e->depth > s->maxdepth)
		s->maxdepth = e->depth;
	s->visits++;
	if (s->skip && !strcmp(e->path, s->skip))
		return ESC_WALK_SKIP;
	return 0;
}

static void walk_fixture(const char *name, const char *skip)
{
	struct manifest m;
	struct seen s = { .skip = skip };
	struct esc_walk_ops ops = { .visit = visit, .user = &s };
	eshare_domain *d = domain();
	eshare_image *img;
	eshare_inode *root;
	char *path;
	size_t i, under = 0, missed = 0;

	ck_assert_int_eq(manifest_load(&m, name), 0);
	qsort(m.e, m.n, sizeof(*m.e), path_cmp);
	s.m = &m;
	s.hit = calloc(m.n, 1);
	ck_assert_int_ge(asprintf(&path, "%s/%s.erofs", ESHARE_FIXTURES, name), 0);
	ck_assert_int_eq(eshare_image_open_path(&img, d, path, NULL), 0);
	ck_assert_int_eq(eshare_root(&root, img), 0);
	ck_assert_int_eq(esc_walk(root, "/", &ops), 0);
	for (i = 0; i < m.n; i++) {
		bool below = skip && !strncmp(m.e[i].path, skip, strlen(skip)) &&
			     m.e[i].path[strlen(skip)] == '/';

		under += below;
		if (!s.hit[i]) {
			ck_assert_msg(below, "%s not visited", m.e[i].path);
			missed++;
		} else {
			ck_assert_msg(!below, "%s visited below a skipped directory",
				      m.e[i].path);
		}
	}
	ck_assert_uint_eq(missed, under);
	ck_assert_uint_eq(s.visits, m.n - under);
	if (skip)
		ck_assert_uint_gt(under, 0);
	ck_assert_uint_gt(s.maxdepth, 1);
	eshare_inode_put(root);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
	free(path);
	free(s.hit);
	manifest_free(&m);
}

START_TEST(test_walk_manifest)
{
	/* Every path once, as the kernel lists it; bigdir spans many batches. */
	walk_fixture("plain-4k", NULL);
	walk_fixture("dirs-compressed", NULL);
	walk_fixture("shared-a", NULL);
}
END_TEST

START_TEST(test_walk_skip)
{
	walk_fixture("lz4", "/bigdir");
}
END_TEST

static int stop_at_third(void *user, const struct esc_entry *e)
{
	size_t *n = user;

	(void)e;
	return ++*n == 3 ? -ECANCELED : 0;
}

START_TEST(test_walk_stop)
{
	struct esc_walk_ops ops = { .visit = stop_at_third };
	eshare_domain *d = domain();
	eshare_image *img;
	eshare_inode *root;
	size_t n = 0;

	ops.user = &n;
	ck_assert_int_eq(eshare_image_open_path(&img, d, ESHARE_FIXTURES "/lz4.erofs", NULL), 0);
	ck_assert_int_eq(eshare_root(&root, img), 0);
	ck_assert_int_eq(esc_walk(root, "/", &ops), -ECANCELED);
	ck_assert_uint_eq(n, 3);
	eshare_inode_put(root);
	/* Every inode the walk opened is released: the image can go at once. */
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sim_common");
	TCase *tc = tcase_create("common");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_parse_size);
	tcase_add_test(tc, test_parse_uint);
	tcase_add_test(tc, test_parse_policies);
	tcase_add_test(tc, test_image_open);
	tcase_add_test(tc, test_walk_manifest);
	tcase_add_test(tc, test_walk_skip);
	tcase_add_test(tc, test_walk_stop);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
