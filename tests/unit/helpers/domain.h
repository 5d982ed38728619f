/* SPDX-License-Identifier: MIT */
/*
 * What the domain tests share (test_domain.c, test_domain_proof.c,
 * test_domain_attack.c): domains whose log lines of interest are counted,
 * fixtures attached from their files or from memory, reads by path, file
 * identities, and BIG, a file of every fixture of the common tree, with
 * its true bytes (read flat from digest-plain and checked against the
 * manifest, never taken from the library).
 */
#ifndef ESHARE_TEST_DOMAIN_H
#define ESHARE_TEST_DOMAIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <erofs_share/backend.h>
#include <erofs_share/erofs_share.h>

/* A regular file of 24 pages in every fixture of the common tree. */
#define BIG "/big/text-0.bin"
#define BIG_SIZE 98304u
#define PAGE 4096u
#define BIG_PAGES (BIG_SIZE / PAGE)

/* Log lines of the domains of dom_new() saying ... */
extern int dom_log_fingerprint; /* "does not match its fingerprint" */
extern int dom_log_proof;       /* "other bytes than were proven" */
extern int dom_log_stale;       /* "changed after it was attached" */

/* A domain of @policy with a cache of @budget bytes (0: the default). */
eshare_domain *dom_new(unsigned policy, uint64_t budget);
/* Fixture @name attached from its file (with its extra devices). */
eshare_image *dom_attach_path(eshare_domain *d, const char *name);
/* Attach @be (the image owns it) as image @name. */
eshare_image *dom_attach_backend(eshare_domain *d, eshare_backend *be, const char *name);
/* Attach @len bytes at @buf (kept by the caller) as image @name. */
eshare_image *dom_attach_memory(eshare_domain *d, const uint8_t *buf, size_t len,
				const char *name);
/* The path of fixture image @name, malloc'd (no check: safe in threads). */
char *dom_fixture_path(const char *name);
/* Fixture image @name in memory. */
uint8_t *dom_slurp(const char *name, size_t *len);
/* pread of @len bytes at @off of @path, or the error of the lookup. */
ssize_t dom_read(eshare_image *img, const char *path, void *buf, size_t len, uint64_t off);
struct eshare_file_identity dom_identity(eshare_image *img, const char *path);
uint64_t dom_verify_failures(eshare_domain *d);

/* BIG's true bytes, after dom_load_truth(). */
extern uint8_t dom_truth[BIG_SIZE];
/*
 * Read BIG once through a domain that shares nothing from digest-plain,
 * check its sha256 against the manifest and that every page of it lies in
 * the flat image file as is.  Once per process.
 */
void dom_load_truth(void);
/*
 * Evict BIG's pages: read other files of @img, each twice so that they
 * count as hot and push BIG's pages out of the cache's main queue too.
 */
void dom_evict(eshare_image *img);
/* Both read BIG whole (the bytes they hold then are right): hashed, shared. */
void dom_join_both(eshare_image *victim, eshare_image *attacker);

#endif
