// SPDX-License-Identifier: MIT
/*
 * Sharing: which page-cache object a regular file reads through.
 *
 * Each (image, nid) gets a *binding* on its first read: a private object,
 * or membership of the domain's shared object keyed by (fingerprint, size).
 * The fingerprint is the image's ishare xattr or a SHA-256 of the content
 * computed here, in the same "sha256:" + 32 raw bytes form so that both
 * meet.  Hashing is lazy: a file whose size no other candidate in the
 * domain has stays private and unhashed until a same-size file shows up.
 *
 * Under VERIFY and COMPUTE a file joins only after its own bytes hashed to
 * the key, so no image can read (disclosure) or fill (poisoning) another's
 * shared object by claiming a fingerprint it does not hold.  A fill always
 * comes from the reading member's own image: under VERIFY that member is
 * proven, and it is alive because the reader holds it.
 *
 * Locks: domain->share_lock guards decisions, the tables and membership;
 * every change of what a file's readers use (its binding's obj and state)
 * is made under it, inside the binding's view_seq window, which readers
 * check without a lock.  An image's bind_lock guards its table of
 * bindings alone and is never held with share_lock.  Hashing runs without
 * a lock, reading through the file's private object, whose fills take no
 * share lock.  Objects are dropped after share_lock is let go.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "domain.h"
#include "image.h"
#include "inode.h"
#include "log.h"
#include "readpath.h"
#include "share.h"
#include "util/abi.h"

#define FP_PREFIX "sha256:"
#define FP_LEN 39
#define HASH_CHUNK (256u << 10)

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static uint64_t key_hash(const uint8_t *fp, size_t len, uint64_t size)
{
	uint64_t h = mix64(size);

	for (size_t i = 0; i < len; i++)
		h = mix64(h ^ fp[i]);
	return h;
}

/* ---- per-image bindings: open addressing by nid ---- */

static size_t bind_slot(uint64_t nid, size_t cap)
{
	return (size_t)mix64(nid) & (cap - 1);
}

static struct binding *bind_find(eshare_image *img, uint64_t nid)
{
	if (!img->binds_cap)
		return NULL;
	for (size_t s = bind_slot(nid, img->binds_cap); img->binds[s];
	     s = (s + 1) & (img->binds_cap - 1))
		if (img->binds[s]->nid == nid)
			return img->binds[s];
	return NULL;
}

static int bind_insert(eshare_image *img, struct binding *b)
{
	if ((img->binds_n + 1) * 2 > img->binds_cap) {
		size_t cap = img->binds_cap ? img->binds_cap * 2 : 64;
		struct binding **t = calloc(cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (size_t i = 0; i < img->binds_cap; i++) {
			size_t s;

			if (!img->binds[i])
				continue;
			for (s = bind_slot(img->binds[i]->nid, cap); t[s]; s = (s + 1) & (cap - 1))
				;
			t[s] = img->binds[i];
		}
		free(img->binds);
		img->binds = t;
		img->binds_cap = cap;
	}
	size_t s;

	for (s = bind_slot(b->nid, img->binds_cap); img->binds[s]; s = (s + 1) & (img->binds_cap - 1))
		;
	img->binds[s] = b;
	img->binds_n++;
	return 0;
}

/* ---- the domain's shared objects and same-size candidates ---- */

/* The chain of shared_objs[] that holds key (@fp, @size). */
static struct shared_obj **shared_chain(eshare_domain *d, const uint8_t *fp, size_t len,
					uint64_t size)
{
	return &d->shared_objs[key_hash(fp, len, size) & (d->shared_cap - 1)];
}

static struct shared_obj *shared_find(eshare_domain *d, const uint8_t *fp, size_t len,
				      uint64_t size)
{
	if (!d->shared_cap)
		return NULL;
	for (struct shared_obj *s = *shared_chain(d, fp, len, size); s; s = s->hash_next)
		if (s->size == size && s->fplen == len && !memcmp(s->fp, fp, len))
			return s;
	return NULL;
}

static int shared_grow(eshare_domain *d)
{
	size_t cap = d->shared_cap ? d->shared_cap * 2 : 256;
	struct shared_obj **t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < d->shared_cap; i++) {
		for (struct shared_obj *s = d->shared_objs[i], *n; s; s = n) {
			size_t k = key_hash(s->fp, s->fplen, s->size) & (cap - 1);

			n = s->hash_next;
			s->hash_next = t[k];
			t[k] = s;
		}
	}
	free(d->shared_objs);
	d->shared_objs = t;
	d->shared_cap = cap;
	return 0;
}

static void shared_unlink(eshare_domain *d, struct shared_obj *sh)
{
	struct shared_obj **pp = shared_chain(d, sh->fp, sh->fplen, sh->size);

	while (*pp && *pp != sh)
		pp = &(*pp)->hash_next;
	if (*pp)
		*pp = sh->hash_next;
	d->shared_count--;
}

/* Candidates by size: a small chained table of per-size lists. */
static struct size_candidates *size_candidates_get(eshare_domain *d, uint64_t size, bool create)
{
	size_t k;
	struct size_candidates *e;

	if (!d->size_cap) {
		if (!create)
			return NULL;
		d->size_cands = calloc(1024, sizeof(*d->size_cands));
		if (!d->size_cands)
			return NULL;
		d->size_cap = 1024;
	}
	k = (size_t)mix64(size) & (d->size_cap - 1);
	for (e = d->size_cands[k]; e; e = e->next)
		if (e->size == size)
			return e;
	if (!create)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->size = size;
	e->next = d->size_cands[k];
	d->size_cands[k] = e;
	return e;
}

/* ---- hashing ---- */

/*
 * SHA-256 fetched once: EVP_sha256() makes every EVP_DigestInit_ex() look
 * the implementation up again, under OpenSSL's locks.  Never freed, like
 * the MAC's cipher (proof.c).
 */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void sha256_init(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* What one hash pass over a file produced. */
struct hash_result {
	uint8_t fp[FP_LEN];
	uint64_t obj;            /* the object its pages went to (join pass), or 0 */
	struct page_proof proof; /* per-page MACs (join pass) */
};

static void hash_result_release(eshare_domain *d, struct hash_result *hr)
{
	if (hr->obj)
		domain_drop_object(d, hr->obj);
	free(hr->proof.mac);
	hr->obj = 0;
	hr->proof.mac = NULL;
}

/*
 * Hash @b's content.  A join pass (@join) reads it through a new object
 * that nobody else fills, copying pages its private object holds already,
 * and takes each page's MAC on the way: the pages that object keeps are
 * exactly bytes that were hashed, so it can become the shared object's
 * cache, and the MACs its proof.  Otherwise nothing of it is cached.
 */
static int hash_file(eshare_image *img, struct binding *b, bool join, bool cache_only,
		     struct hash_result *hr)
{
	eshare_domain *d = img->domain;
	uint64_t size = b->size;
	uint64_t npages = (size + PC_PAGE_SIZE - 1) >> PC_PAGE_SHIFT;
	struct ef_inode ei;
	EVP_MD_CTX *md;
	uint8_t *buf;
	/*
	 * Only a join pass copies from the private object: its binding is
	 * SETTLING, this thread's alone.  Another caller (an identity asked
	 * for) holds no lock, and a settling thread may change private_obj.
	 */
	struct read_ctx rd = { .copy_from = join ? b->private_obj : 0 };
	unsigned int mdlen = 0;
	int rc = 0;

	memset(hr, 0, sizeof(*hr));
	/*
	 * A binding keeps only the file's size, not its inode.  A cache-only
	 * pass copies pages the private object holds and never maps the file,
	 * so its number and size are all it uses: another image's backend is
	 * not asked for the inode.  Otherwise the inode is read again; if the
	 * image now gives this number no regular file of that size, it changed
	 * under the domain and nothing is hashed (the file stays private).
	 * Whatever it gives, the pass keeps exactly the bytes it hashed.
	 */
	if (cache_only) {
		ei = (struct ef_inode){ .nid = b->nid, .mode = S_IFREG, .size = size };
	} else {
		rc = ef_iget(img->fs, b->nid, &ei);
		if (rc)
			return rc;
		if (!S_ISREG(ei.mode) || ei.size != size)
			return -EFSCORRUPTED;
	}
	md = EVP_MD_CTX_new();
	buf = malloc(HASH_CHUNK);
	pthread_once(&sha256_once, sha256_init);
	rd.cache_only = cache_only;
	if (join) {
		rd.obj = pc_object_new(d->cache, PC_CLASS_DATA);
		rd.join_pass = true;
		hr->proof.mac = calloc(npages ? npages : 1, PAGE_MAC_LEN);
		hr->proof.npages = npages;
		hr->proof.key = &d->proof_key;
	}
	if (!md || !buf || (join && !hr->proof.mac) ||
	    !sha256_md || EVP_DigestInit_ex(md, sha256_md, NULL) != 1) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < HASH_CHUNK ? (size_t)(size - off) : HASH_CHUNK;

		rc = join ? readpath_read(d->cache, d->tails, img->fs, &ei, &rd, buf, n, off)
			  : readpath_read_uncached(img->fs, &ei, buf, n, off);
		if (rc)
			goto out;
		if (EVP_DigestUpdate(md, buf, n) != 1) {
			rc = -ENOMEM;
			goto out;
		}
		/* HASH_CHUNK is whole pages, so every chunk starts a page */
		for (size_t k = 0; join && k < n; k += PC_PAGE_SIZE) {
			uint32_t plen = n - k < PC_PAGE_SIZE ? (uint32_t)(n - k) : PC_PAGE_SIZE;

			uint64_t index = (off + k) >> PC_PAGE_SHIFT;

			rc = eshare_page_mac(&d->proof_key, index, buf + k, plen,
					     hr->proof.mac[index]);
			if (rc)
				goto out;
		}
		off += n;
	}
	memcpy(hr->fp, FP_PREFIX, 7);
	if (EVP_DigestFinal_ex(md, hr->fp + 7, &mdlen) != 1 || mdlen != 32)
		rc = -ENOMEM;
	counter_add2(&img->cnt, &d->cnt, CNT_HASHED, size);
out:
	if (join && !rc)
		hr->obj = rd.obj;
	else if (rd.obj)
		domain_drop_object(d, rd.obj);
	if (rc)
		hash_result_release(d, hr);
	EVP_MD_CTX_free(md);
	free(buf);
	return rc;
}

/*
 * A change of what @b's readers use (obj, state), under share_lock (one
 * writer at a time): a seqlock's write side.  obj and state are then stored with release: a
 * reader that loads (acquire) a value stored in the window sees the odd
 * count too (no fence: TSan does not know them).
 */
static void view_begin(struct binding *b)
{
	unsigned s = atomic_load_explicit(&b->view_seq, memory_order_relaxed);

	atomic_store_explicit(&b->view_seq, s + 1, memory_order_relaxed);
}

static void view_end(struct binding *b)
{
	unsigned s = atomic_load_explicit(&b->view_seq, memory_order_relaxed);

	atomic_store_explicit(&b->view_seq, s + 1, memory_order_release);
}

/*
 * Make @b a member of the shared object for its key, creating it if new.
 * @hr (VERIFY, COMPUTE, hashed files) hands over the hash pass's object and
 * proof to a new shared object; without it (TRUST) the first member's
 * private pages become the shared ones and fills are not checked.
 */
static int join_shared(eshare_domain *d, struct binding *b, struct hash_result *hr,
		       uint64_t *drop)
{
	struct shared_obj *sh = shared_find(d, b->fp, b->fplen, b->size);
	uint64_t old = b->private_obj;

	if (!sh) {
		if ((d->shared_count + 1) * 2 > d->shared_cap && shared_grow(d))
			return -ENOMEM;
		sh = calloc(1, sizeof(*sh));
		if (!sh)
			return -ENOMEM;
		memcpy(sh->fp, b->fp, b->fplen);
		sh->fplen = b->fplen;
		sh->size = b->size;
		if (hr) {
			sh->obj = hr->obj;
			sh->proof = hr->proof;
			hr->obj = 0;
			hr->proof.mac = NULL;
		} else {
			sh->obj = b->private_obj;
			old = 0;
		}
		struct shared_obj **chain = shared_chain(d, sh->fp, sh->fplen, sh->size);

		sh->hash_next = *chain;
		*chain = sh;
		sh->linked = true;
		d->shared_count++;
	}
	sh->nmembers++;
	sh->nrefs++;
	d->shared_members++;
	b->shared = sh;
	view_begin(b);
	atomic_store_explicit(&b->state, BIND_SHARED, memory_order_release);
	atomic_store_explicit(&b->obj, sh->obj, memory_order_release);
	view_end(b);
	b->private_obj = 0;
	/*
	 * Readers that still use the private object read correct bytes; its
	 * pages just stop being kept, by the caller once share_lock is free.
	 */
	if (old && old != sh->obj)
		*drop = old;
	return 0;
}

/* Under share_lock. */
static void set_state(struct binding *b, uint8_t state)
{
	view_begin(b);
	atomic_store_explicit(&b->state, state, memory_order_release);
	view_end(b);
}

/*
 * Give a hashed candidate its key and join (under share_lock).  A VERIFY
 * mismatch keeps the file private.
 */
static int join_hashed(eshare_domain *d, struct binding *b, struct hash_result *hr,
		       uint64_t *drop)
{
	eshare_image *img = b->img;

	memcpy(b->sha256, hr->fp + 7, sizeof(b->sha256));
	b->proven = true;
	if (b->fplen && (b->fplen != FP_LEN || memcmp(b->fp, hr->fp, FP_LEN))) {
		b->ondisk = false; /* what the image claims is not what it holds */
		counter_add2(&img->cnt, &d->cnt, CNT_VERIFY_FAIL, 1);
		eshare_log(d, ESHARE_LOG_WARNING,
			   "%s: nid %llu: content does not match its fingerprint%s", img->name,
			   (unsigned long long)b->nid,
			   d->opts.policy == ESHARE_SHARE_VERIFY ? "; kept private" : "");
		if (d->opts.policy == ESHARE_SHARE_VERIFY) {
			set_state(b, BIND_PRIVATE);
			return 0;
		}
	}
	memcpy(b->fp, hr->fp, FP_LEN);
	b->fplen = FP_LEN;
	return join_shared(d, b, hr, drop);
}

static void pending_remove(eshare_domain *d, struct binding *b)
{
	struct size_candidates *e = size_candidates_get(d, b->size, false);

	if (!e)
		return;
	for (struct binding **pp = &e->pending; *pp; pp = &(*pp)->list_next) {
		if (*pp == b) {
			*pp = b->list_next;
			b->list_next = NULL;
			return;
		}
	}
}

/* Queue @b to be hashed outside the lock; it reads privately meanwhile. */
static void queue_hash(struct binding *b, struct binding **todo)
{
	set_state(b, BIND_SETTLING);
	b->list_next = *todo;
	*todo = b;
}

/* Whether @a and @b both claim (VERIFY) the same on-disk fingerprint. */
static bool same_claim(const struct binding *a, const struct binding *b)
{
	return a->claimed && b->claimed && a->fplen == b->fplen &&
	       !memcmp(a->fp, b->fp, a->fplen);
}

/* Whether a pending candidate of @e claims the fingerprint @b claims. */
static bool pending_claims(const struct size_candidates *e, const struct binding *b)
{
	for (const struct binding *p = e->pending; p; p = p->list_next)
		if (same_claim(p, b))
			return true;
	return false;
}

/* The image's claim about @b's content, read before share_lock is taken. */
struct claim {
	ssize_t n; /* its length, or -errno (-ENODATA: none) */
	uint8_t fp[64];
};

/*
 * Choose the binding of a new file (under share_lock): private, shared at
 * once (TRUST), or to be hashed.  Files that need hashing are queued on
 * *todo, each with a reference on its image; an object to drop once the
 * lock is free is left in *@drop.
 */
static int choose_binding(eshare_domain *d, eshare_image *img, struct binding *b,
			  const struct claim *cl, struct binding **todo, uint64_t *drop)
{
	struct size_candidates *e;
	bool hash_all, hash_this;

	if (d->opts.policy == ESHARE_SHARE_OFF) {
		set_state(b, BIND_PRIVATE);
		return 0;
	}
	if (cl->n > 0) {
		memcpy(b->fp, cl->fp, (size_t)cl->n);
		b->fplen = (uint8_t)cl->n; /* believed (TRUST) or checked against the sum */
		b->ondisk = true;
	} else if (cl->n != -ENODATA && cl->n != -ERANGE) {
		return (int)cl->n;
	}
	if (d->opts.policy == ESHARE_SHARE_TRUST && b->fplen)
		return join_shared(d, b, NULL, drop);
	/*
	 * Hash only when the file can match another: a same-size file with no
	 * fingerprint to go by, or (VERIFY) another claim of the same
	 * fingerprint.  Claims of other fingerprints need no hashing: honest
	 * images give equal contents equal fingerprints.
	 */
	e = size_candidates_get(d, b->size, true);
	if (!e)
		return -ENOMEM;
	b->size_counted = true;
	b->claimed = b->fplen && d->opts.policy == ESHARE_SHARE_VERIFY;
	if (b->claimed)
		e->n_claimed++;
	else
		e->n_unclaimed++;
	hash_all = e->n_unclaimed > 1 || (e->n_unclaimed && e->n_claimed);
	hash_this = hash_all || (b->claimed && (shared_find(d, b->fp, b->fplen, b->size) ||
						pending_claims(e, b)));
	if (!hash_this) {
		set_state(b, BIND_PENDING);
		b->list_next = e->pending;
		e->pending = b;
		return 0;
	}
	eshare_image_ref(img);
	queue_hash(b, todo);
	/* the earlier candidates that may match it: now worth hashing */
	for (struct binding **pp = &e->pending; *pp;) {
		struct binding *p = *pp;

		if (!hash_all && !same_claim(p, b)) {
			pp = &p->list_next;
			continue;
		}
		*pp = p->list_next;
		p->list_next = NULL;
		if (eshare_image_tryref(p->img))
			queue_hash(p, todo);
	}
	return 0;
}

/*
 * Hash the queued files without the lock, then join them under it.  The
 * reader's own file (of image @self) is read from its image; another
 * image's file only from the pages its private object holds: a reader is
 * never made to wait for another image's backend, which may be slow or
 * never answer.  A file whose pages are not all there is left for its own
 * reader to settle (DEFERRED).
 */
static void settle_all(eshare_domain *d, struct binding *todo, eshare_image *self)
{
	while (todo) {
		struct binding *b = todo;
		eshare_image *img = b->img;
		struct hash_result hr;
		uint64_t drop = 0;
		int rc;

		todo = b->list_next;
		b->list_next = NULL;
		rc = hash_file(img, b, true, img != self, &hr);
		pthread_mutex_lock(&d->share_lock);
		if (rc == -EAGAIN) {
			set_state(b, BIND_DEFERRED);
			rc = 0;
		} else if (!rc) {
			rc = join_hashed(d, b, &hr, &drop);
		}
		if (rc)
			set_state(b, BIND_PRIVATE); /* rather than fail a read */
		pthread_mutex_unlock(&d->share_lock);
		if (drop)
			domain_drop_object(d, drop);
		hash_result_release(d, &hr);
		eshare_image_unref(img);
	}
}


/*
 * The seqlock's read side: obj and state from one window, or false if a
 * change is under way.  The acquire loads pair with the writer's release
 * stores: b->shared, set before state first says SHARED, is then safe to
 * read.  A change that ended before this call is seen, so a member that
 * left its shared object is never read through it again.
 */
static bool view_load(struct binding *b, struct read_ctx *rd, unsigned *statep)
{
	unsigned s = atomic_load_explicit(&b->view_seq, memory_order_acquire);
	unsigned state;
	uint64_t obj;

	if (s & 1)
		return false;
	state = atomic_load_explicit(&b->state, memory_order_acquire);
	obj = atomic_load_explicit(&b->obj, memory_order_acquire);
	if (atomic_load_explicit(&b->view_seq, memory_order_relaxed) != s)
		return false;
	rd->obj = obj;
	rd->shared = state == BIND_SHARED;
	rd->proof = rd->shared && b->shared->proof.mac ? &b->shared->proof : NULL;
	*statep = state;
	return true;
}

bool eshare_share_view(struct binding *b, struct read_ctx *rd)
{
	unsigned state;

	return view_load(b, rd, &state) && state != BIND_NEW && state != BIND_DEFERRED;
}

/* What a reader of @b uses now, whatever its state. */
static void read_view(struct binding *b, struct read_ctx *rd)
{
	unsigned state;

	/* a window is a few stores under share_lock */
	while (!view_load(b, rd, &state))
		sched_yield();
}

/*
 * @img's binding of @ei, created (NEW) if it has none.  The binding and its
 * private object are made before bind_lock is taken; a reader that lost
 * the race to insert drops its own.
 */
static int bind_get(eshare_image *img, struct ef_inode *ei, struct binding **bp)
{
	eshare_domain *d = img->domain;
	struct binding *b, *nb = calloc(1, sizeof(*nb));
	int rc = 0;

	if (!nb)
		return -ENOMEM;
	nb->nid = ei->nid;
	nb->size = ei->size;
	nb->img = img;
	nb->private_obj = pc_object_new(d->cache, PC_CLASS_DATA);
	atomic_init(&nb->obj, nb->private_obj);
	pthread_rwlock_wrlock(&img->bind_lock);
	b = bind_find(img, ei->nid);
	if (!b) {
		rc = bind_insert(img, nb);
		if (!rc)
			b = nb;
	}
	pthread_rwlock_unlock(&img->bind_lock);
	if (b != nb) {
		domain_drop_object(d, nb->private_obj);
		free(nb);
	}
	*bp = b;
	return rc;
}

int eshare_share_bind(eshare_image *img, struct ef_inode *ei, struct read_ctx *rd,
		      struct binding **bp)
{
	eshare_domain *d = img->domain;
	struct binding *b, *todo = NULL;
	struct claim cl = { .n = -ENODATA };
	uint64_t drop = 0;
	int rc = 0;

	pthread_rwlock_rdlock(&img->bind_lock);
	b = bind_find(img, ei->nid);
	pthread_rwlock_unlock(&img->bind_lock);
	if (!b) {
		rc = bind_get(img, ei, &b);
		if (rc)
			return rc;
	}
	/* one inode number, two sizes: the image changed under the domain */
	if (b->size != ei->size)
		return -EFSCORRUPTED;
	if (eshare_share_view(b, rd)) {
		*bp = b;
		return 0;
	}
	/* the image's claim, read with no lock held: it may read the image */
	if (b->state == BIND_NEW && d->opts.policy != ESHARE_SHARE_OFF)
		cl.n = ef_get_fingerprint(img->fs, ei, cl.fp, sizeof(cl.fp));

	pthread_mutex_lock(&d->share_lock);
	if (b->state == BIND_NEW) {
		rc = choose_binding(d, img, b, &cl, &todo, &drop);
		/* an error deciding is not kept: the file reads privately */
		if (rc && b->state == BIND_NEW)
			set_state(b, BIND_PRIVATE);
	} else if (b->state == BIND_DEFERRED) {
		/* its own reader now: hash it from its image */
		eshare_image_ref(img);
		queue_hash(b, &todo);
	}
	pthread_mutex_unlock(&d->share_lock);
	if (drop)
		domain_drop_object(d, drop);
	/* hashing the queued files may take a while: no lock held */
	settle_all(d, todo, img);
	read_view(b, rd);
	*bp = b;
	return rc;
}

void eshare_share_leave(eshare_image *img, struct binding *b, uint64_t obj)
{
	eshare_domain *d = img->domain;
	struct shared_obj *sh = b->shared;

	pthread_mutex_lock(&d->share_lock);
	if (b->state != BIND_SHARED || b->left || !sh || sh->obj != obj) {
		/* another reader of this file took it out already */
		pthread_mutex_unlock(&d->share_lock);
		return;
	}
	/* counted first: whoever reads the private object after the switch sees it */
	counter_add2(&img->cnt, &d->cnt, CNT_VERIFY_FAIL, 1);
	b->left = true;
	b->proven = false; /* its image no longer gives what was hashed */
	b->private_obj = pc_object_new(d->cache, PC_CLASS_DATA);
	view_begin(b);
	atomic_store_explicit(&b->state, BIND_PRIVATE, memory_order_release);
	atomic_store_explicit(&b->obj, b->private_obj, memory_order_release);
	view_end(b);
	d->shared_members--;
	if (--sh->nmembers == 0 && sh->linked) {
		shared_unlink(d, sh);
		sh->linked = false;
		domain_drop_object(d, sh->obj);
	}
	pthread_mutex_unlock(&d->share_lock);
	eshare_log(d, ESHARE_LOG_WARNING,
		   "%s: nid %llu: a page of a shared file read other bytes than were proven "
		   "when it joined; it leaves the shared object and reads privately",
		   img->name, (unsigned long long)b->nid);
}

/* The image is going away: leave every shared object, drop private pages. */
void eshare_share_release_image(eshare_image *img)
{
	eshare_domain *d = img->domain;

	pthread_mutex_lock(&d->share_lock);
	for (size_t i = 0; i < img->binds_cap; i++) {
		struct binding *b = img->binds[i];

		if (!b)
			continue;
		if (b->state == BIND_PENDING)
			pending_remove(d, b);
		if (b->size_counted) {
			struct size_candidates *e = size_candidates_get(d, b->size, false);

			if (e && b->claimed)
				e->n_claimed--;
			else if (e)
				e->n_unclaimed--;
		}
		/* the image's objects go in a run: their tails' pages empty as they go */
		if (b->private_obj)
			domain_drop_object_lazy(d, b->private_obj);
		if (b->shared) {
			struct shared_obj *sh = b->shared;

			if (!b->left) {
				d->shared_members--;
				if (--sh->nmembers == 0 && sh->linked) {
					shared_unlink(d, sh);
					sh->linked = false;
					domain_drop_object_lazy(d, sh->obj);
				}
			}
			if (--sh->nrefs == 0) {
				free(sh->proof.mac);
				free(sh);
			}
		}
		free(b);
	}
	pthread_mutex_unlock(&d->share_lock);
	free(img->binds);
	img->binds = NULL;
	img->binds_cap = img->binds_n = 0;
}

void eshare_share_stats(eshare_domain *d, uint64_t *objects, uint64_t *members)
{
	pthread_mutex_lock(&d->share_lock);
	*objects = d->shared_count;
	*members = d->shared_members;
	pthread_mutex_unlock(&d->share_lock);
}

void eshare_share_destroy(eshare_domain *d)
{
	if (d->size_cands) {
		for (size_t i = 0; i < d->size_cap; i++) {
			for (struct size_candidates *e = d->size_cands[i], *n; e; e = n) {
				n = e->next;
				free(e);
			}
		}
	}
	free(d->size_cands);
	free(d->shared_objs);
}

int eshare_file_identity(eshare_inode *ino, unsigned flags, struct eshare_file_identity *id)
{
	struct eshare_file_identity out = ESHARE_FILE_IDENTITY_INIT;
	eshare_image *img;
	eshare_domain *d;
	struct read_ctx rd = { 0 };
	struct binding *b;
	uint8_t fp[64];
	ssize_t fplen = 0;
	bool proven;
	int rc;

	if (!ino || !id || id->size < 8 || (flags & ~ESHARE_IDENTITY_COMPUTE) ||
	    !S_ISREG(ino->ei.mode))
		return -EINVAL;
	img = ino->img;
	d = img->domain;
	rc = eshare_share_bind(img, &ino->ei, &rd, &b);
	if (rc)
		return rc;
	pthread_mutex_lock(&d->share_lock);
	proven = b->proven;
	pthread_mutex_unlock(&d->share_lock);
	if (!proven && (flags & ESHARE_IDENTITY_COMPUTE)) {
		struct hash_result hr;

		rc = hash_file(img, b, false, false, &hr);
		if (rc)
			return rc;
		pthread_mutex_lock(&d->share_lock);
		if (!b->proven) {
			memcpy(b->sha256, hr.fp + 7, sizeof(b->sha256));
			b->proven = true;
		}
		pthread_mutex_unlock(&d->share_lock);
	}

	pthread_mutex_lock(&d->share_lock);
	out.object = atomic_load_explicit(&b->obj, memory_order_acquire);
	out.file_size = b->size;
	if (b->state == BIND_SHARED)
		out.flags |= ESHARE_IDENTITY_SHARED;
	if (b->proven) {
		memcpy(fp, FP_PREFIX, 7);
		memcpy(fp + 7, b->sha256, sizeof(b->sha256));
		fplen = FP_LEN;
		out.flags |= ESHARE_IDENTITY_PROVEN;
		if (b->ondisk && b->fplen == FP_LEN && !memcmp(b->fp, fp, FP_LEN))
			out.flags |= ESHARE_IDENTITY_ONDISK;
	} else if (b->fplen) {
		memcpy(fp, b->fp, b->fplen);
		fplen = b->fplen;
		if (b->ondisk)
			out.flags |= ESHARE_IDENTITY_ONDISK;
	}
	pthread_mutex_unlock(&d->share_lock);
	if (!fplen) {
		/* sharing off: the image's claim was never looked at */
		fplen = ef_get_fingerprint(img->fs, &ino->ei, fp, sizeof(fp));
		if (fplen > 0)
			out.flags |= ESHARE_IDENTITY_ONDISK;
		else if (fplen != -ENODATA && fplen != -ERANGE)
			return (int)fplen;
		else
			fplen = 0;
	}
	if (fplen == FP_LEN && !memcmp(fp, FP_PREFIX, 7)) {
		static const char hex[] = "0123456789abcdef";
		char *p = out.fingerprint;

		memcpy(p, FP_PREFIX, 7);
		p += 7;
		for (unsigned i = 0; i < 32; i++) {
			*p++ = hex[fp[7 + i] >> 4];
			*p++ = hex[fp[7 + i] & 15];
		}
		*p = 0;
	} else {
		/* a claim of another form: nothing this library can match */
		out.flags &= ~ESHARE_IDENTITY_ONDISK;
	}
	return eshare_copy_out(id, &out, sizeof(out));
}
