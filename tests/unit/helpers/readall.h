/* SPDX-License-Identifier: MIT */
/*
 * Every regular file of an image read whole through the public API (root,
 * readdir, lookup_at, stat, pread), for comparing with a manifest or with
 * what the format layer alone gives.
 */
#ifndef ESHARE_TEST_READALL_H
#define ESHARE_TEST_READALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

struct rfile {
	char *path; /* raw bytes from the root, "/a/b" */
	uint64_t size;
	uint64_t nid;
	uint8_t layout;
	uint8_t sha256[32];
	uint8_t *data; /* the bytes, when kept */
};

struct rfiles {
	struct rfile *v;
	size_t n, cap;
};

/* Read every regular file of @img, sorted by path; keep the bytes if @keep. */
void rfiles_read(eshare_image *img, struct rfiles *out, bool keep);
void rfiles_free(struct rfiles *l);
bool rfile_compressed(const struct rfile *f);

/* A new domain (default options) with fixture @name attached from its files. */
eshare_image *fx_attach(eshare_domain **d, const char *name);
/* Detach and close the domain (which must close cleanly). */
void fx_detach(eshare_domain *d, eshare_image *img);

#endif
