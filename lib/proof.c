// SPDX-License-Identifier: MIT
/*
 * Page proofs: the MAC of a page under a domain's key (GMAC, AES-128 via
 * OpenSSL), and the check of a page against a published proof.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>

#include "proof.h"

static pthread_once_t mac_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *mac_cipher;
static pthread_key_t mac_ctx_key;
static bool mac_ready;

static void mac_ctx_free(void *ctx)
{
	EVP_CIPHER_CTX_free(ctx);
}

static void mac_init(void)
{
	mac_cipher = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	mac_ready = mac_cipher && !pthread_key_create(&mac_ctx_key, mac_ctx_free);
}

/* The key the calling thread's context holds, by its id (see mac_key_id). */
static _Thread_local uint64_t mac_ctx_key_id;

int eshare_page_mac(const struct page_key *key, uint64_t index, const void *data, uint32_t len,
		    uint8_t out[PAGE_MAC_LEN])
{
	EVP_CIPHER_CTX *ctx;
	uint8_t iv[12] = { 0 }, none[16];
	bool rekey;
	int n;

	pthread_once(&mac_once, mac_init);
	if (!mac_ready)
		return -ENOMEM;
	/*
	 * One context per thread, kept with its key schedule: setting the key
	 * costs as much as a page's MAC, so it is set again only when this
	 * thread last used another domain's key.
	 */
	ctx = pthread_getspecific(mac_ctx_key);
	if (!ctx) {
		ctx = EVP_CIPHER_CTX_new();
		if (!ctx || pthread_setspecific(mac_ctx_key, ctx)) {
			EVP_CIPHER_CTX_free(ctx);
			return -ENOMEM;
		}
		mac_ctx_key_id = 0;
	}
	rekey = mac_ctx_key_id != key->id;
	for (unsigned i = 0; i < 8; i++)
		iv[i] = (uint8_t)(index >> (8 * i));
	/* GMAC: the page is authenticated data, nothing is encrypted */
	mac_ctx_key_id = 0; /* unknown until this call is through */
	if (EVP_EncryptInit_ex2(ctx, rekey ? mac_cipher : NULL, rekey ? key->bytes : NULL, iv,
				NULL) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, data, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, none, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, PAGE_MAC_LEN, out) != 1)
		return -ENOMEM;
	mac_ctx_key_id = key->id;
	return 0;
}

bool page_proof_check(const struct page_proof *pp, uint64_t index, const void *data,
		      uint32_t len)
{
	uint8_t mac[PAGE_MAC_LEN];

	if (index >= pp->npages || eshare_page_mac(pp->key, index, data, len, mac))
		return false;
	return !CRYPTO_memcmp(mac, pp->mac[index], PAGE_MAC_LEN);
}
