// SPDX-License-Identifier: MIT
/* What the purity tests share (purity.h). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <erofs_share/backend.h>
#include <erofs_share/erofs_share.h>

#include "helpers/purity.h"

/* ------------------------------------------------------------------ */
/* Interval consistency of ef_map()                                     */

static bool same_map(const struct ef_map *a, const struct ef_map *b)
{
	return a->la == b->la && a->llen == b->llen && a->pa == b->pa && a->plen == b->plen &&
	       a->flags == b->flags && a->alg == b->alg && a->dev == b->dev;
}

/* Every lcluster of the extent @m holds, and its last byte, map to @m. */
static void check_extent(struct ef_fs *fs, struct ef_inode *ino, unsigned L, const struct ef_map *m,
			 uint64_t from, struct icheck *c)
{
	const uint64_t end = m->la + m->llen;
	uint64_t y = m->la;

	ck_assert_msg(m->la <= from && from < end && end <= ino->size,
		      "nid %llu: extent [%llu, +%llu) for %llu", (unsigned long long)ino->nid,
		      (unsigned long long)m->la, (unsigned long long)m->llen,
		      (unsigned long long)from);
	for (;;) {
		struct ef_map n;
		int rc = ef_map(fs, ino, y, &n);

		c->maps++;
		ck_assert_msg(!rc && same_map(m, &n),
			      "nid %llu: %llu maps to [%llu, +%llu) pa %llu plen %llu flags %#x alg %u,"
			      " but %llu in it gives %d [%llu, +%llu) pa %llu plen %llu flags %#x alg %u",
			      (unsigned long long)ino->nid, (unsigned long long)from,
			      (unsigned long long)m->la, (unsigned long long)m->llen,
			      (unsigned long long)m->pa, (unsigned long long)m->plen, m->flags, m->alg,
			      (unsigned long long)y, rc, (unsigned long long)n.la,
			      (unsigned long long)n.llen, (unsigned long long)n.pa,
			      (unsigned long long)n.plen, n.flags, n.alg);
		if (y == end - 1)
			break;
		y = ((y >> L) + 1) << L;
		if (y > end - 1)
			y = end - 1;
	}
}

static unsigned map_bits(const struct ef_fs *fs, const struct ef_inode *ino)
{
	return ef_inode_is_compressed(ino) && !ino->z.whole_fragment ? ino->z.lclusterbits
								      : fs->blkszbits;
}

void check_intervals(struct ef_fs *fs, struct ef_inode *ino, bool every, bool bad,
			    struct icheck *c)
{
	const unsigned L = map_bits(fs, ino);
	const uint64_t lsz = 1ull << L;
	uint64_t x = 0;

	while (x < ino->size) {
		uint64_t probe[2] = { x, (x | (lsz - 1)) < ino->size ? x | (lsz - 1) : ino->size - 1 };
		uint64_t next = (x | (lsz - 1)) + 1;

		for (unsigned k = 0; k < (every ? 2u : 1u); k++) {
			struct ef_map m;
			int rc = ef_map(fs, ino, probe[k], &m);

			c->maps++;
			if (rc) {
				ck_assert_msg(bad && rc == -EFSCORRUPTED, "nid %llu: map of %llu: %d",
					      (unsigned long long)ino->nid,
					      (unsigned long long)probe[k], rc);
				c->corrupt++;
				continue;
			}
			check_extent(fs, ino, L, &m, probe[k], c);
			c->extents++;
			if (!every && m.la + m.llen > next)
				next = m.la + m.llen;
		}
		x = next;
	}
}

/* ------------------------------------------------------------------ */
/* Reads through the public API in several orders                       */

struct pageout {
	int rc;          /* 0 or the error */
	uint8_t *bytes;  /* npages * PAGE */
};

static void silent(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	(void)msg;
}

int purity_attach(eshare_domain **d, eshare_image **img, const struct memfs *im)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_backend *be;
	int rc;

	o.cache_bytes = 64u << 10;
	o.log = silent;
	ck_assert_int_eq(eshare_domain_create(d, &o), 0);
	ck_assert_int_eq(eshare_backend_memory(&be, im->data[0], im->len[0], NULL, NULL), 0);
	rc = eshare_image_attach(img, *d, be, NULL);
	if (rc)
		eshare_backend_close(be);
	return rc;
}

/* Read the pages of inode @ino in @order (a new domain); one pass, or two. */
static void read_in_order(const struct memfs *im, uint64_t ino, uint64_t size, const unsigned *order,
			  unsigned n, unsigned passes, int *rcs, uint8_t *bytes)
{
	eshare_domain *d;
	eshare_image *img;
	eshare_inode *f;

	ck_assert_int_eq(purity_attach(&d, &img, im), 0);
	ck_assert_int_eq(eshare_inode_open(&f, img, ino), 0);
	for (unsigned pass = 0; pass < passes; pass++) {
		for (unsigned k = 0; k < n; k++) {
			const unsigned p = pass ? k : order[k];
			const uint64_t off = (uint64_t)p * PAGE;
			const size_t want = size - off < PAGE ? (size_t)(size - off) : PAGE;
			ssize_t got = eshare_pread(f, bytes + off, want, off);
			int rc = got < 0 ? (int)got : (size_t)got == want ? 0 : 1;

			if (pass) {
				/* a second pass, in order, after the first one's evictions */
				ck_assert_msg(rc == rcs[p], "page %u: %d then %d", p, rcs[p], rc);
			}
			rcs[p] = rc;
		}
	}
	eshare_inode_put(f);
	eshare_image_detach(img);
	ck_assert_int_eq(eshare_domain_close(d), 0);
}

unsigned check_read_orders(const struct memfs *im, uint64_t ino, uint64_t size)
{
	const unsigned n = (unsigned)((size + PAGE - 1) / PAGE);
	unsigned *order = malloc(n * sizeof(*order));
	int *rcs[4], fails = 0;
	uint8_t *bytes[4];
	uint32_t seed = 12345;

	ck_assert_ptr_nonnull(order);
	for (unsigned v = 0; v < 4; v++) {
		rcs[v] = calloc(n, sizeof(int));
		bytes[v] = calloc(n, PAGE);
		ck_assert(rcs[v] && bytes[v]);
		for (unsigned k = 0; k < n; k++)
			order[k] = v == 1 ? n - 1 - k : k;
		if (v >= 2) {
			for (unsigned k = n; k > 1; k--) {
				unsigned j, t;

				seed = seed * 1103515245u + 12345u;
				j = (seed >> 8) % k;
				t = order[k - 1];
				order[k - 1] = order[j];
				order[j] = t;
			}
		}
		read_in_order(im, ino, size, order, n, v == 3 ? 2 : 1, rcs[v], bytes[v]);
	}
	for (unsigned p = 0; p < n; p++) {
		const size_t len = size - (uint64_t)p * PAGE < PAGE ? size - (uint64_t)p * PAGE : PAGE;

		for (unsigned v = 1; v < 4; v++) {
			ck_assert_msg(rcs[v][p] == rcs[0][p], "page %u: read %d in order 0, %d in order %u",
				      p, rcs[0][p], rcs[v][p], v);
			if (!rcs[0][p])
				ck_assert_msg(!memcmp(bytes[0] + (size_t)p * PAGE,
						      bytes[v] + (size_t)p * PAGE, len),
					      "page %u: order %u read other bytes", p, v);
		}
		fails += rcs[0][p] != 0;
	}
	for (unsigned v = 0; v < 4; v++) {
		free(rcs[v]);
		free(bytes[v]);
	}
	free(order);
	return (unsigned)fails;
}

void maybe_save(const struct memfs *im, const char *name)
{
	const char *dir = getenv("ESHARE_PURITY_SEEDS");
	char path[512];
	FILE *f;

	if (!name || !dir || !*dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	ck_assert_msg(f, "cannot write %s", path);
	ck_assert_uint_eq(fwrite(im->data[0], 1, im->len[0], f), im->len[0]);
	ck_assert_int_eq(fclose(f), 0);
}

unsigned check_crafted(struct memfs *im, const char *path, const char *seed)
{
	struct ef_fs *fs;
	struct ef_inode ino;
	struct icheck c = { 0 };
	unsigned fails;

	/* the damage, if in block 0, must reach the index, not the checksum */
	sb_fix_checksum(im->data[0], im->len[0]);
	fs = memfs_fs(im);
	ck_assert_int_eq(memfs_resolve(fs, path, &ino), 0);
	check_intervals(fs, &ino, true, true, &c);
	fails = check_read_orders(im, ino.ino, ino.size);
	/* the extents that do not map cannot be read either */
	if (c.corrupt)
		ck_assert_uint_gt(fails, 0);
	ef_fs_close(fs);
	maybe_save(im, seed);
	return c.corrupt;
}

int run_cmd(const char *cmd)
{
	int rc = system(cmd);

	return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

char tmpfs_dir[64];

bool tmpfs_up(const char *tag, const char *size)
{
	char opts[64];

	if (geteuid() != 0) {
		printf("SKIP %s: not root, no size-capped tmpfs\n", tag);
		return false;
	}
	snprintf(tmpfs_dir, sizeof(tmpfs_dir), "/tmp/eshare-purity-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpfs_dir));
	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	if (mount("tmpfs", tmpfs_dir, "tmpfs", 0, opts)) {
		printf("SKIP %s: cannot mount a tmpfs: %s\n", tag, strerror(errno));
		rmdir(tmpfs_dir);
		return false;
	}
	return true;
}

void tmpfs_down(void)
{
	ck_assert_int_eq(umount2(tmpfs_dir, MNT_DETACH), 0);
	rmdir(tmpfs_dir);
}

