// SPDX-License-Identifier: MIT
/* Domains: the trust boundary and the page cache that its images share. */
#include <stdalign.h>
#include <stdlib.h>
#include <sys/random.h>
#include <string.h>

#include "domain.h"
#include "image.h"
#include "share.h"
#include "util/abi.h"

/* Ids of the domains' page-proof keys, so a thread's MAC context knows its key. */
static atomic_uint_least64_t key_ids;

int eshare_domain_create(eshare_domain **out, const struct eshare_domain_opts *opts)
{
	struct eshare_domain_opts o = ESHARE_DOMAIN_OPTS_INIT;
	eshare_domain *d;
	int rc;

	if (!out)
		return -EINVAL;
	if (opts) {
		rc = eshare_copy_struct(&o, sizeof(o), opts, opts->size);
		if (rc)
			return rc;
	}
	if (o.flags || o.reserved || o.policy > ESHARE_SHARE_COMPUTE)
		return -EINVAL;
	/* its counters are cache-line aligned */
	d = aligned_alloc(alignof(struct eshare_domain), sizeof(*d));
	if (!d)
		return -ENOMEM;
	memset(d, 0, sizeof(*d));
	d->opts = o;
	d->opts.size = sizeof(o);
	if (o.id && !(d->id = strdup(o.id))) {
		free(d);
		return -ENOMEM;
	}
	d->opts.id = d->id;
	/* the page proofs' key: never leaves the process */
	d->proof_key.id = atomic_fetch_add(&key_ids, 1) + 1;
	if (getrandom(d->proof_key.bytes, sizeof(d->proof_key.bytes), 0) !=
	    (ssize_t)sizeof(d->proof_key.bytes)) {
		free(d->id);
		free(d);
		return -EIO;
	}
	rc = pc_create(&d->cache, o.cache_bytes ? o.cache_bytes : ESHARE_DEFAULT_CACHE);
	if (!rc) {
		rc = tl_create(&d->tails, d->cache);
		if (rc)
			pc_destroy(d->cache);
	}
	if (rc) {
		free(d->id);
		free(d);
		return rc;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->share_lock, NULL);
	*out = d;
	return 0;
}

int eshare_domain_close(eshare_domain *d)
{
	if (!d)
		return 0;
	pthread_mutex_lock(&d->lock);
	if (d->nimages) {
		pthread_mutex_unlock(&d->lock);
		return -EBUSY;
	}
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_destroy(&d->lock);
	eshare_share_destroy(d);
	pthread_mutex_destroy(&d->share_lock);
	tl_destroy(d->tails);
	pc_destroy(d->cache);
	free(d->id);
	free(d);
	return 0;
}

int eshare_domain_stats(eshare_domain *d, struct eshare_stats *st)
{
	struct eshare_stats s = ESHARE_STATS_INIT;
	struct pc_stats pcs;
	struct tl_stats ts;

	if (!d || !st)
		return -EINVAL;
	counters_to_stats(&s, &d->cnt);
	/*
	 * The tail store first: the cache counted its reads of packed pages
	 * before the store did, so the cache's counts are never below them.
	 * A tail read counts as one hit or one miss (and its filler one
	 * fill), as a page does; the store's own reads of its pages do not.
	 */
	tl_get_stats(d->tails, &ts);
	pc_get_stats(d->cache, &pcs);
	s.hits = pcs.hits - ts.pc_hits + ts.hits;
	s.misses = pcs.misses - ts.pc_misses + ts.misses;
	s.fills = pcs.fills - ts.pc_fills + ts.fills;
	s.cached_tails = ts.tails;
	s.cached_tail_bytes = ts.bytes;
	s.cached_tail_pages = ts.pages;
	s.tail_unpaged_bytes = ts.unpaged;
	s.evictions = pcs.evictions;
	s.cached_data_pages = pcs.pages[PC_CLASS_DATA];
	s.cached_data_bytes = pcs.bytes[PC_CLASS_DATA];
	s.cached_meta_pages = pcs.pages[PC_CLASS_META];
	s.cached_meta_bytes = pcs.bytes[PC_CLASS_META];
	eshare_share_stats(d, &s.shared_objects, &s.shared_members);
	pthread_mutex_lock(&d->lock);
	s.images = d->nimages;
	pthread_mutex_unlock(&d->lock);
	return eshare_copy_out(st, &s, sizeof(s));
}

void domain_drop_object(eshare_domain *d, uint64_t obj)
{
	pc_object_drop(d->cache, obj);
	tl_drop(d->tails, obj);
}

void domain_drop_object_lazy(eshare_domain *d, uint64_t obj)
{
	pc_object_drop(d->cache, obj);
	tl_drop_lazy(d->tails, obj);
}

void domain_add_image(eshare_domain *d, eshare_image *img)
{
	pthread_mutex_lock(&d->lock);
	img->next = d->images;
	if (d->images)
		d->images->prev = img;
	d->images = img;
	d->nimages++;
	pthread_mutex_unlock(&d->lock);
}

void domain_unlink_image(eshare_domain *d, eshare_image *img)
{
	pthread_mutex_lock(&d->lock);
	if (img->prev)
		img->prev->next = img->next;
	else
		d->images = img->next;
	if (img->next)
		img->next->prev = img->prev;
	img->next = img->prev = NULL;
	pthread_mutex_unlock(&d->lock);
}

void domain_image_freed(eshare_domain *d)
{
	pthread_mutex_lock(&d->lock);
	d->nimages--;
	pthread_mutex_unlock(&d->lock);
}
