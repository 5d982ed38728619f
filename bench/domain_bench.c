// SPDX-License-Identifier: MIT
/*
 * domain_bench: what sharing costs and buys, over several images in one
 * domain (issue 4).
 *
 *   domain_bench [-p off,trust,verify,compute] [-c CACHE_MB] [-r HOT_REPEAT]
 *                [-n COLD_REPEAT] IMAGE...
 *
 * First, untimed, every regular file of every image is read once through
 * a throw-away OFF domain and SHA-256'd, to know the ground truth: the
 * distinct contents (fingerprint + size), unique_bytes (their bytes: the
 * least the cache, which packs tails, can hold when everything is read;
 * cached_vs_unique compares with it), unique_page_bytes (each rounded up
 * to whole pages: a page cache's least), and shared_file_bytes (the bytes of the
 * files whose content another file also has: what VERIFY must hash at
 * most).
 *
 * Then for each policy, in a fresh domain with CACHE_MB of budget (4 GiB):
 *   cold   attach every image, read every file once (timed: the best of
 *          COLD_REPEAT fresh domains, default 3; wall and CPU time);
 *   stats  the domain's counters after the cold pass;
 *   hot    read everything again (all hits), opening each file as the cold
 *          pass does (hot_open), and with every inode held open, preads
 *          alone (hot_pread); against it the same reads served by memcpy
 *          out of one buffer as large as the cached data (the baseline a
 *          perfect cache meets).  Best of HOT_REPEAT (default 3) each;
 * and once, a plain SHA-256 pass over hashed_bytes bytes of one buffer in
 * the library's chunk size, to price VERIFY's hashing.
 *
 * With -R PASSES, refills: a fresh domain of -s SMALL_KB budget (default
 * 1024) reads everything once (so files join), then PASSES more times,
 * timed.  The budget is far below the data, so nearly every page read is
 * a fill; under VERIFY and COMPUTE each fill of a shared page is checked
 * against its proof, under OFF nothing is checked.  Also the proof's size:
 * a 16-byte MAC per page of each proven shared object, over those
 * objects' bytes (through eshare_file_identity).
 *
 * Output: "POLICY key=value ..." lines and a final "TRUTH ..." line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <erofs_share/erofs_share.h>

#define BUFSZ (128u << 10)
#define PAGE 4096u
#define HASH_CHUNK (256u << 10)

struct file {
	unsigned img;
	uint64_t ino;
	uint64_t size;
	uint8_t digest[32];
};

struct files {
	struct file *v;
	size_t n, cap;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "domain_bench: %s: %s\n", what, eshare_strerror(err));
	exit(1);
}

/* ---- walk ---- */

struct dent {
	uint64_t ino;
	unsigned type;
};

struct dents {
	struct dent *v;
	size_t n, cap;
};

static int collect(void *user, const char *name, size_t len, uint64_t ino, unsigned type,
		   uint64_t next)
{
	struct dents *d = user;

	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		d->v = realloc(d->v, d->cap * sizeof(*d->v));
		if (!d->v)
			return -ENOMEM;
	}
	d->v[d->n].ino = ino;
	d->v[d->n].type = type;
	d->n++;
	return 0;
}

static void walk(eshare_image *img, unsigned idx, eshare_inode *dir, struct files *out)
{
	struct dents d = { 0 };
	uint64_t cookie = 0;
	int rc = eshare_readdir(dir, &cookie, collect, &d);

	if (rc)
		die("eshare_readdir", rc);
	for (size_t i = 0; i < d.n; i++) {
		eshare_inode *child;

		if (d.v[i].type != ESHARE_DT_REG && d.v[i].type != ESHARE_DT_DIR)
			continue;
		rc = eshare_inode_open(&child, img, d.v[i].ino);
		if (rc)
			die("eshare_inode_open", rc);
		if (d.v[i].type == ESHARE_DT_DIR) {
			walk(img, idx, child, out);
		} else {
			struct eshare_stat st = ESHARE_STAT_INIT;

			rc = eshare_stat(child, &st);
			if (rc)
				die("eshare_stat", rc);
			if (out->n == out->cap) {
				out->cap = out->cap ? 2 * out->cap : 4096;
				out->v = realloc(out->v, out->cap * sizeof(*out->v));
				if (!out->v)
					die("realloc", -ENOMEM);
			}
			out->v[out->n++] = (struct file){ .img = idx, .ino = d.v[i].ino,
							  .size = st.file_size };
		}
		eshare_inode_put(child);
	}
	free(d.v);
}

/* ---- one domain ---- */

struct dom {
	eshare_domain *d;
	eshare_image **imgs;
	unsigned nimgs;
};

static void dom_open(struct dom *dm, char **paths, unsigned n, unsigned policy, uint64_t cache)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	int rc;

	o.policy = policy;
	o.cache_bytes = cache;
	rc = eshare_domain_create(&dm->d, &o);
	if (rc)
		die("eshare_domain_create", rc);
	dm->nimgs = n;
	dm->imgs = calloc(n, sizeof(*dm->imgs));
	if (!dm->imgs)
		die("calloc", -ENOMEM);
	for (unsigned i = 0; i < n; i++) {
		rc = eshare_image_open_path(&dm->imgs[i], dm->d, paths[i], NULL);
		if (rc)
			die(paths[i], rc);
	}
}

static void dom_close(struct dom *dm)
{
	int rc;

	for (unsigned i = 0; i < dm->nimgs; i++)
		eshare_image_detach(dm->imgs[i]);
	rc = eshare_domain_close(dm->d);
	if (rc)
		die("eshare_domain_close", rc);
	free(dm->imgs);
}

/* Read every file fully; optionally SHA-256 each into its digest. */
static uint64_t read_everything(struct dom *dm, struct files *fs, uint8_t *buf, bool digest)
{
	EVP_MD_CTX *md = digest ? EVP_MD_CTX_new() : NULL;
	uint64_t total = 0;

	for (size_t i = 0; i < fs->n; i++) {
		struct file *f = &fs->v[i];
		eshare_inode *ino;
		uint64_t off = 0;
		ssize_t n;
		int rc = eshare_inode_open(&ino, dm->imgs[f->img], f->ino);

		if (rc)
			die("eshare_inode_open", rc);
		if (md)
			EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		while ((n = eshare_pread(ino, buf, BUFSZ, off)) > 0) {
			if (md)
				EVP_DigestUpdate(md, buf, (size_t)n);
			off += (uint64_t)n;
		}
		if (n < 0)
			die("eshare_pread", (int)n);
		if (md)
			EVP_DigestFinal_ex(md, f->digest, NULL);
		total += off;
		eshare_inode_put(ino);
	}
	EVP_MD_CTX_free(md);
	return total;
}

/* Open every file once (outside any timing), to time preads alone. */
static eshare_inode **open_all(struct dom *dm, const struct files *fs)
{
	eshare_inode **v = calloc(fs->n ? fs->n : 1, sizeof(*v));

	if (!v)
		die("calloc", -ENOMEM);
	for (size_t i = 0; i < fs->n; i++) {
		int rc = eshare_inode_open(&v[i], dm->imgs[fs->v[i].img], fs->v[i].ino);

		if (rc)
			die("eshare_inode_open", rc);
	}
	return v;
}

/* One hot pass of preads over inodes held open. */
static double pread_everything(eshare_inode **v, const struct files *fs, uint8_t *buf)
{
	double t0 = now();

	for (size_t i = 0; i < fs->n; i++) {
		for (uint64_t off = 0; off < fs->v[i].size; off += BUFSZ) {
			ssize_t n = eshare_pread(v[i], buf, BUFSZ, off);

			if (n <= 0)
				die("eshare_pread", n ? (int)n : -EIO);
		}
	}
	return now() - t0;
}

/* The same reads as pread_everything, served by memcpy out of one buffer. */
static double memcpy_everything(const struct files *fs, const uint8_t *src, uint64_t srclen,
				uint8_t *buf)
{
	uint64_t pos = 0;
	double t0 = now();

	for (size_t i = 0; i < fs->n; i++) {
		for (uint64_t off = 0; off < fs->v[i].size; off += BUFSZ) {
			uint64_t n = fs->v[i].size - off < BUFSZ ? fs->v[i].size - off : BUFSZ;

			if (pos + n > srclen)
				pos = 0;
			memcpy(buf, src + pos, n);
			/* keep the copy from being optimised away */
			__asm__ volatile("" : : "r"(buf) : "memory");
			pos += (n + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		}
	}
	return now() - t0;
}

static int cmp_content(const void *a, const void *b)
{
	const struct file *x = a, *y = b;
	int c = memcmp(x->digest, y->digest, 32);

	if (c)
		return c;
	return x->size < y->size ? -1 : x->size > y->size;
}

/* SHA-256 of @len bytes in HASH_CHUNK pieces, as the library hashes a file. */
static double sha256_pass(uint64_t len)
{
	uint8_t *b = malloc(HASH_CHUNK);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t out[32];
	double t0;

	if (!b || !md)
		die("malloc", -ENOMEM);
	memset(b, 0x5a, HASH_CHUNK);
	t0 = now();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < HASH_CHUNK ? (size_t)(len - done) : HASH_CHUNK;

		EVP_DigestUpdate(md, b, n);
		done += n;
	}
	EVP_DigestFinal_ex(md, out, NULL);
	t0 = now() - t0;
	EVP_MD_CTX_free(md);
	free(b);
	return t0;
}

struct objsize {
	uint64_t object;
	uint64_t size;
};

static int cmp_obj(const void *a, const void *b)
{
	const struct objsize *x = a, *y = b;

	return x->object < y->object ? -1 : x->object > y->object;
}

/* The proof's bytes (16 per page) over the bytes of the proven shared objects. */
static void proof_size(struct dom *dm, const struct files *fs, uint64_t *proof, uint64_t *bytes)
{
	struct objsize *v = calloc(fs->n ? fs->n : 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		die("calloc", -ENOMEM);
	*proof = *bytes = 0;
	for (size_t i = 0; i < fs->n; i++) {
		struct eshare_file_identity id = ESHARE_FILE_IDENTITY_INIT;
		eshare_inode *ino;
		int rc = eshare_inode_open(&ino, dm->imgs[fs->v[i].img], fs->v[i].ino);

		if (rc)
			die("eshare_inode_open", rc);
		rc = eshare_file_identity(ino, 0, &id);
		if (rc)
			die("eshare_file_identity", rc);
		if ((id.flags & ESHARE_IDENTITY_SHARED) && (id.flags & ESHARE_IDENTITY_PROVEN))
			v[n++] = (struct objsize){ id.object, id.file_size };
		eshare_inode_put(ino);
	}
	qsort(v, n, sizeof(*v), cmp_obj);
	for (size_t i = 0; i < n; i++) {
		if (i && v[i].object == v[i - 1].object)
			continue;
		*proof += (v[i].size + PAGE - 1) / PAGE * 16;
		*bytes += v[i].size;
	}
	free(v);
}

static void refill(char **paths, unsigned n, const char *name, unsigned policy, uint64_t budget,
		   unsigned passes, struct files *fs, uint8_t *buf)
{
	struct eshare_stats s0 = ESHARE_STATS_INIT, s1 = ESHARE_STATS_INIT;
	uint64_t logical = 0, proof, bytes;
	struct dom dm;
	double t0, t, c0;

	dom_open(&dm, paths, n, policy, budget);
	read_everything(&dm, fs, buf, false);
	eshare_domain_stats(dm.d, &s0);
	c0 = cpu_now();
	t0 = now();
	for (unsigned r = 0; r < passes; r++)
		logical += read_everything(&dm, fs, buf, false);
	t = now() - t0;
	c0 = cpu_now() - c0;
	eshare_domain_stats(dm.d, &s1);
	proof_size(&dm, fs, &proof, &bytes);
	dom_close(&dm);
	printf("REFILL %s budget=%llu passes=%u refill_s=%.4f refill_cpu_s=%.4f "
	       "logical_MBps=%.1f fills=%llu fill_MBps=%.1f hit_ratio=%.4f "
	       "verify_failures=%llu proof_bytes=%llu proven_shared_bytes=%llu "
	       "proof_per_shared_byte=%.5f\n",
	       name, (unsigned long long)budget, passes, t, c0, logical / t / 1e6,
	       (unsigned long long)(s1.fills - s0.fills),
	       (s1.fills - s0.fills) * (double)PAGE / t / 1e6,
	       (double)(s1.hits - s0.hits) / (double)(s1.hits - s0.hits + s1.misses - s0.misses),
	       (unsigned long long)s1.verify_failures, (unsigned long long)proof,
	       (unsigned long long)bytes, bytes ? (double)proof / bytes : 0.0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "off", "trust", "verify", "compute" };
	static const unsigned values[] = { ESHARE_SHARE_OFF, ESHARE_SHARE_TRUST,
					   ESHARE_SHARE_VERIFY, ESHARE_SHARE_COMPUTE };
	const char *policies = "off,trust,verify,compute";
	uint64_t cache = 4096ull << 20;
	unsigned hot = 3, ncold = 3, refill_passes = 0;
	uint64_t small_kb = 1024;
	struct files fs = { 0 };
	struct dom dm;
	uint64_t unique_bytes = 0, unique_page_bytes = 0, unique = 0;
	uint64_t shared_file_bytes = 0, shared_files = 0, logical = 0;
	uint8_t *buf = malloc(BUFSZ);
	int c;

	while ((c = getopt(argc, argv, "p:c:r:n:R:s:")) != -1) {
		if (c == 'p')
			policies = optarg;
		else if (c == 'c')
			cache = strtoull(optarg, NULL, 0) << 20;
		else if (c == 'r')
			hot = (unsigned)atoi(optarg);
		else if (c == 'n')
			ncold = (unsigned)atoi(optarg);
		else if (c == 'R')
			refill_passes = (unsigned)atoi(optarg);
		else if (c == 's')
			small_kb = strtoull(optarg, NULL, 0);
		else
			goto usage;
	}
	if (optind >= argc || !hot || !ncold || !buf)
		goto usage;

	/* ground truth, untimed */
	dom_open(&dm, argv + optind, (unsigned)(argc - optind), ESHARE_SHARE_OFF, 64ull << 20);
	for (unsigned i = 0; i < dm.nimgs; i++) {
		eshare_inode *root;
		int rc = eshare_root(&root, dm.imgs[i]);

		if (rc)
			die("eshare_root", rc);
		walk(dm.imgs[i], i, root, &fs);
		eshare_inode_put(root);
	}
	logical = read_everything(&dm, &fs, buf, true);
	dom_close(&dm);
	{
		struct file *s = malloc(fs.n * sizeof(*s));

		if (!s)
			die("malloc", -ENOMEM);
		memcpy(s, fs.v, fs.n * sizeof(*s));
		qsort(s, fs.n, sizeof(*s), cmp_content);
		for (size_t i = 0; i < fs.n;) {
			size_t j = i + 1;

			while (j < fs.n && !cmp_content(&s[i], &s[j]))
				j++;
			if (s[i].size) {
				unique++;
				unique_bytes += s[i].size;
				unique_page_bytes += (s[i].size + PAGE - 1) & ~(uint64_t)(PAGE - 1);
				if (j - i > 1) {
					shared_files += j - i;
					shared_file_bytes += (j - i) * s[i].size;
				}
			}
			i = j;
		}
		free(s);
	}
	printf("TRUTH images=%d files=%zu logical_bytes=%llu unique_contents=%llu "
	       "unique_bytes=%llu "
	       "unique_page_bytes=%llu shared_files=%llu shared_file_bytes=%llu\n",
	       argc - optind, fs.n, (unsigned long long)logical, (unsigned long long)unique,
	       (unsigned long long)unique_bytes, (unsigned long long)unique_page_bytes,
	       (unsigned long long)shared_files, (unsigned long long)shared_file_bytes);
	fflush(stdout);

	for (unsigned p = 0; p < 4; p++) {
		struct eshare_stats st = ESHARE_STATS_INIT, st2 = ESHARE_STATS_INIT;
		double cold = 1e30, hot_open = 1e30, hot_pread = 1e30, mc = 1e30, t0, t;
		double cold_cpu = 1e30, c0;
		eshare_inode **held;
		uint8_t *src;
		uint64_t srclen;

		if (!strstr(policies, names[p]))
			continue;
		if (refill_passes) {
			refill(argv + optind, (unsigned)(argc - optind), names[p], values[p],
			       small_kb << 10,
			       refill_passes, &fs, buf);
			continue;
		}
		/* cold: a fresh domain each time; the best of COLD_REPEAT */
		for (unsigned r = 0; r < ncold; r++) {
			if (r)
				dom_close(&dm);
			c0 = cpu_now();
			t0 = now();
			dom_open(&dm, argv + optind, (unsigned)(argc - optind), values[p], cache);
			read_everything(&dm, &fs, buf, false);
			t = now() - t0;
			cold = t < cold ? t : cold;
			c0 = cpu_now() - c0;
			cold_cpu = c0 < cold_cpu ? c0 : cold_cpu;
		}
		eshare_domain_stats(dm.d, &st);
		/* hot, as a reader that opens each file (the read-all pattern) */
		for (unsigned r = 0; r < hot; r++) {
			t0 = now();
			read_everything(&dm, &fs, buf, false);
			t = now() - t0;
			hot_open = t < hot_open ? t : hot_open;
		}
		/* hot, preads alone, against memcpy of the same bytes */
		held = open_all(&dm, &fs);
		srclen = st.cached_data_bytes ? st.cached_data_bytes : PAGE;
		src = malloc(srclen);
		if (!src)
			die("malloc", -ENOMEM);
		memset(src, 1, srclen);
		for (unsigned r = 0; r < hot; r++) {
			t = pread_everything(held, &fs, buf);
			hot_pread = t < hot_pread ? t : hot_pread;
			t = memcpy_everything(&fs, src, srclen, buf);
			mc = t < mc ? t : mc;
		}
		free(src);
		eshare_domain_stats(dm.d, &st2);
		for (size_t i = 0; i < fs.n; i++)
			eshare_inode_put(held[i]);
		free(held);
		dom_close(&dm);

		printf("POLICY %s cold_s=%.4f cold_cpu_s=%.4f cold_MBps=%.1f hot_open_s=%.4f "
		       "hot_pread_s=%.4f "
		       "hot_pread_MBps=%.1f memcpy_s=%.4f hot_pread_vs_memcpy=%.2f "
		       "hot_open_vs_memcpy=%.2f cached_data_bytes=%llu cached_meta_bytes=%llu "
		       "cached_vs_unique=%.4f shared_objects=%llu shared_members=%llu hits=%llu "
		       "misses=%llu hit_ratio=%.4f hot_misses=%llu backend_bytes_read=%llu "
		       "decompressed_bytes=%llu hashed_bytes=%llu hashed_vs_shared=%.3f "
		       "sha256_s=%.4f verify_failures=%llu\n",
		       names[p], cold, cold_cpu, logical / cold / 1e6, hot_open, hot_pread,
		       logical / hot_pread / 1e6, mc, hot_pread / mc, hot_open / mc,
		       (unsigned long long)st.cached_data_bytes,
		       (unsigned long long)st.cached_meta_bytes,
		       unique_bytes ? (double)st.cached_data_bytes / unique_bytes : 0,
		       (unsigned long long)st.shared_objects, (unsigned long long)st.shared_members,
		       (unsigned long long)st.hits, (unsigned long long)st.misses,
		       st.hits + st.misses ? (double)st.hits / (st.hits + st.misses) : 0,
		       (unsigned long long)(st2.misses - st.misses),
		       (unsigned long long)st.backend_bytes_read,
		       (unsigned long long)st.decompressed_bytes,
		       (unsigned long long)st.hashed_bytes,
		       shared_file_bytes ? (double)st.hashed_bytes / shared_file_bytes : 0,
		       st.hashed_bytes ? sha256_pass(st.hashed_bytes) : 0.0,
		       (unsigned long long)st.verify_failures);
		fflush(stdout);
	}
	free(fs.v);
	free(buf);
	return 0;
usage:
	fprintf(stderr, "usage: domain_bench [-p off,trust,verify,compute] [-c CACHE_MB] "
			"[-r HOT_REPEAT] [-n COLD_REPEAT] [-R REFILL_PASSES [-s SMALL_KB]] "
			"IMAGE...\n");
	return 2;
}
