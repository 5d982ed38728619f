/* SPDX-License-Identifier: MIT */
/*
 * Page proofs: what proves each page of a shared content is a MAC of its
 * valid bytes under the domain's secret key (GMAC, AES-128), taken in the
 * same pass that hashed the whole content to its fingerprint.  Without the
 * key, which never leaves the process, no image can make other bytes match
 * a page's MAC but by chance (below 2^-120 a try, and a failed try expels
 * it).  A proof is immutable once published.
 */
#ifndef ESHARE_PROOF_H
#define ESHARE_PROOF_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

/* A fill of a proven page that did not match its proof (never returned by the API). */
#define ESHARE_EPROOF EKEYREJECTED
#define PAGE_MAC_LEN 16
#define PAGE_MAC_KEY_LEN 16

struct page_key {
	uint64_t id; /* unique in the process, never 0 */
	uint8_t bytes[PAGE_MAC_KEY_LEN];
};

struct page_proof {
	uint64_t npages;
	const struct page_key *key; /* the domain's */
	uint8_t (*mac)[PAGE_MAC_LEN];
};

/* The MAC of page @index's @len bytes at @data under @key into @out. 0 or -ENOMEM. */
int eshare_page_mac(const struct page_key *key, uint64_t index, const void *data, uint32_t len,
		    uint8_t out[PAGE_MAC_LEN]);
/* Whether @len bytes at @data are what proof @pp holds for page @index. */
bool page_proof_check(const struct page_proof *pp, uint64_t index, const void *data,
		      uint32_t len);

#endif
