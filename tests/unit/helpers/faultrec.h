/* SPDX-License-Identifier: MIT */
/*
 * What the fault tests share (test_faults.c, test_faults_pair.c): a record
 * of a healthy pass over an image (every directory listing, symlink and
 * regular file with its bytes, checked against the kernel's manifest, and
 * every distinct backend read), the check of an image against that record
 * through faulty backends (helpers/faulty.c), and domains and devices for
 * worker threads (they report into a tally, they do not assert).
 */
#ifndef ESHARE_TEST_FAULTREC_H
#define ESHARE_TEST_FAULTREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

#include "helpers/faulty.h"

/* Small enough that a walk evicts, so pages are read from the backend again. */
#define CACHE_BYTES (256u << 10)
/* Pieces of an odd size, so that reads start inside pages. */
#define PIECE 24577u
#define MAX_DEVS 2u
#define MAX_DEPTH 64u
#define RANDOM_PROBABILITY 0.05

/* ESHARE_FAULTS_VERBOSE=1: figures per fixture. */
extern bool faults_verbose;
/* ESHARE_FAULTS_LENIENT=1: take -EFSCORRUPTED for -EIO (to look past a
 * known wrong errno for worse problems). */
extern bool faults_lenient;

struct rdent {
	char *name;
	size_t len;
	uint64_t ino;
	unsigned type;
};

struct rdir {
	uint64_t ino;
	struct rdent *v;
	size_t n, cap;
};

struct rlink {
	uint64_t ino;
	char *target;
	size_t len;
};

struct rfile {
	char *path;
	size_t pathlen;
	uint64_t ino;
	uint64_t size;
	uint8_t sha[32];
	uint8_t *data;
};

struct rdev {
	struct faulty_read *reads;
	size_t nreads;
	uint64_t *offs; /* distinct offsets of the reads, sorted */
	size_t noffs;
	uint64_t calls;
};

struct record {
	const char *name;
	unsigned ndevs;
	char paths[MAX_DEVS][4096];
	struct rdir *dirs;
	size_t ndirs, cdirs;
	struct rlink *links;
	size_t nlinks, clinks;
	struct rfile *files;
	size_t nfiles, cfiles;
	struct rdev dev[MAX_DEVS];
	uint64_t file_bytes;
};

/* What one pass over an image met; a worker fills it, the caller asserts. */
struct tally {
	bool faulted; /* errors allowed (else every call must succeed) */
	const char *what; /* the fault, for messages */
	uint64_t ok, eio;
	uint64_t bad;
	char first_bad[512];
};

void *fr_grow(void *v, size_t *cap, size_t n, size_t elem);
void tally_bad(struct tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A negative return: fine while faulty if it is -EIO, wrong otherwise. */
void tally_failed(struct tally *t, long rc, const char *op, const char *path);
void assert_tally(const struct tally *t);

/* The healthy pass over fixture @name (helpers/fixtures.h). */
void record_image(struct record *r, const char *name);
void record_free(struct record *r);
/* Everything the record holds, in record order from file @first on. */
void check_all(eshare_image *img, const struct record *r, size_t first, bool lookup,
	       struct tally *t);

eshare_domain *fr_new_domain(struct tally *t, eshare_share_policy policy);
/* Open every device of @r through a faulty backend (@cfg: one per device,
 * or NULL for healthy recorders). 0 or the error (nothing left open). */
int fr_open_devices(const struct record *r, eshare_backend **be, struct faulty **fh,
		    const struct faulty_config *cfg, struct tally *t);
int fr_attach(eshare_image **img, eshare_domain *d, const struct record *r, eshare_backend **be);
void fr_set_healthy(const struct record *r, struct faulty **fh, bool healthy);
uint64_t fr_faults_of(const struct record *r, struct faulty **fh);
/* Detach (the image closes its backends) and close the domain, which must
 * not be busy. */
void fr_teardown(eshare_domain *d, eshare_image *img, struct tally *t);
const char *fr_kind_name(enum faulty_kind k);

#endif
