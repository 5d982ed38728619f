// SPDX-License-Identifier: MIT
/*
 * Images: an EROFS filesystem opened from its backends into a domain.  The
 * format layer's raw I/O is routed here: metadata of the primary device and
 * the data of the packed and metabox inodes go through the domain's page
 * cache, so one budget bounds all memory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "image.h"
#include "log.h"
#include "readpath.h"
#include "share.h"
#include "util/abi.h"

static int io_read(void *ctx, unsigned dev, void *buf, size_t len, uint64_t off)
{
	eshare_image *img = ctx;
	int rc;

	if (dev >= img->ndevs)
		return -EFSCORRUPTED;
	rc = eshare_backend_read(img->devs[dev], buf, len, off);
	if (!rc) {
		counter_add2(&img->cnt, &img->domain->cnt, CNT_BACKEND, len);
	} else if (rc == -ESTALE && !atomic_exchange(&img->stale_reported, true)) {
		eshare_log(img->domain, ESHARE_LOG_ERR,
			   "%s: the image file changed after it was attached; what is not "
			   "cached can no longer be read from it",
			   img->name);
	}
	return rc;
}

struct meta_fill_ctx {
	eshare_image *img;
};

static int meta_fill(void *user, uint64_t index, void *page)
{
	eshare_image *img = user;
	uint64_t off = index << PC_PAGE_SHIFT;
	/* ef_fs_open publishes the fs (and the device sizes) before any
	 * metadata is read through here */
	uint64_t size = img->fs->devices[0].size;
	size_t n = PC_PAGE_SIZE;

	if (off >= size)
		n = 0;
	else if (size - off < n)
		n = (size_t)(size - off);
	memset((uint8_t *)page + n, 0, PC_PAGE_SIZE - n);
	return n ? io_read(img, 0, page, n, off) : 0;
}

static int io_read_meta(void *ctx, void *buf, size_t len, uint64_t off)
{
	eshare_image *img = ctx;

	return pc_read_range(img->domain->cache, img->meta_obj, off, len, buf, meta_fill, img);
}

static int io_read_internal(void *ctx, struct ef_inode *ino, void *buf, size_t len, uint64_t off)
{
	eshare_image *img = ctx;
	struct read_ctx rd = {
		.obj = ino->internal == EF_INTERNAL_PACKED ? img->packed_obj : img->metabox_obj,
	};

	return readpath_read(img->domain->cache, NULL, img->fs, ino, &rd, buf, len, off);
}

static void io_report(void *ctx, uint64_t nid, const char *why)
{
	eshare_image *img = ctx;

	if (nid == ~0ull)
		eshare_log(img->domain, ESHARE_LOG_ERR, "%s: %s", img->name, why);
	else
		eshare_log(img->domain, ESHARE_LOG_ERR, "%s: nid %llu: %s", img->name,
			   (unsigned long long)nid, why);
}

static void io_count_decompressed(void *ctx, uint64_t bytes)
{
	eshare_image *img = ctx;

	counter_add2(&img->cnt, &img->domain->cnt, CNT_DECOMPRESSED, bytes);
}

static void drop_objects(eshare_image *img)
{
	struct pc_cache *c = img->domain->cache;

	if (img->meta_obj)
		pc_object_drop(c, img->meta_obj);
	if (img->packed_obj)
		pc_object_drop(c, img->packed_obj);
	if (img->metabox_obj)
		pc_object_drop(c, img->metabox_obj);
}

static void image_free(eshare_image *img)
{
	eshare_domain *d = img->domain;

	eshare_share_release_image(img);
	drop_objects(img);
	ef_fs_close(img->fs);
	for (unsigned i = 0; i < img->ndevs; i++)
		eshare_backend_close(img->devs[i]);
	free(img->devs);
	free(img->name);
	pthread_rwlock_destroy(&img->bind_lock);
	free(img);
	domain_image_freed(d);
}

void eshare_image_ref(eshare_image *img)
{
	atomic_fetch_add_explicit(&img->refs, 1, memory_order_relaxed);
}

bool eshare_image_tryref(eshare_image *img)
{
	unsigned r = atomic_load(&img->refs);

	while (r)
		if (atomic_compare_exchange_weak(&img->refs, &r, r + 1))
			return true;
	return false;
}

void eshare_image_unref(eshare_image *img)
{
	if (atomic_fetch_sub_explicit(&img->refs, 1, memory_order_acq_rel) == 1)
		image_free(img);
}

/*
 * The open failed with -ENXIO: say which device of the multi-device image
 * is missing or too small, and how to give it.  Reads the primary's device
 * table again, bounded as the format layer bounds it.  At ESHARE_LOG_INFO:
 * the caller has the error, and one that tries an image without its
 * devices first (to learn whether it needs them) has nothing to report.
 */
static void report_devices(eshare_image *img, const uint64_t *sizes)
{
	struct erofs_super_block sb;
	unsigned extra, bits;
	bool is48;

	if (eshare_backend_read(img->devs[0], &sb, sizeof(sb), EROFS_SUPER_OFFSET) ||
	    !(ef_le32(&sb.feature_incompat) & EROFS_INCOMPAT_DEVICE_TABLE))
		return;
	extra = ef_le16(&sb.extra_devices);
	bits = sb.blkszbits;
	is48 = ef_le32(&sb.feature_incompat) & EROFS_INCOMPAT_48BIT;
	if (extra >= EF_MAX_DEVICES || bits < 9 || bits > 16)
		return;
	for (unsigned i = 1; i <= extra; i++) {
		struct erofs_deviceslot slot;
		char tag[sizeof(slot.tag) + 1], desc[sizeof(tag) + 8];
		uint64_t need;

		if (eshare_backend_read(img->devs[0], &slot, sizeof(slot),
					(uint64_t)ef_le16(&sb.devt_slotoff) * 128 +
						(uint64_t)(i - 1) * sizeof(slot)))
			return;
		for (size_t k = 0; k <= sizeof(slot.tag); k++) {
			tag[k] = k < sizeof(slot.tag) ? (char)slot.tag[k] : '\0';
			if (!tag[k])
				break;
			if (slot.tag[k] < 0x20 || slot.tag[k] > 0x7e)
				tag[k] = '?';
		}
		need = ef_le32(&slot.blocks_lo);
		if (is48)
			need |= (uint64_t)ef_le16(&slot.blocks_hi) << 32;
		need <<= bits;
		snprintf(desc, sizeof(desc), tag[0] ? "tag \"%s\"" : "no tag%s", tag);
		if (i >= img->ndevs)
			eshare_log(img->domain, ESHARE_LOG_INFO,
				   "%s: device %u of %u (%s, %llu bytes) is missing: give it as "
				   "extra device %u (eshare_image_opts.devices; erofs-share "
				   "--device FILE)", img->name, i, extra + 1, desc,
				   (unsigned long long)need, i);
		else if (need > sizes[i])
			eshare_log(img->domain, ESHARE_LOG_INFO,
				   "%s: device %u of %u (%s) holds %llu bytes, the image needs "
				   "%llu: the wrong file given for it?", img->name, i, extra + 1,
				   desc, (unsigned long long)sizes[i], (unsigned long long)need);
	}
}

int eshare_image_attach(eshare_image **out, eshare_domain *d, eshare_backend *primary,
			const struct eshare_image_opts *opts)
{
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;
	uint64_t *sizes = NULL;
	struct ef_io io;
	eshare_image *img;
	int rc;

	if (!out || !d || !primary)
		return -EINVAL;
	if (opts) {
		rc = eshare_copy_struct(&o, sizeof(o), opts, opts->size);
		if (rc)
			return rc;
	}
	if (o.flags || o.reserved || (o.ndevices && !o.devices) || o.ndevices >= EF_MAX_DEVICES)
		return -EINVAL;
	for (uint32_t i = 0; i < o.ndevices; i++)
		if (!o.devices[i])
			return -EINVAL;
	/* its counters are cache-line aligned */
	img = aligned_alloc(alignof(struct eshare_image), sizeof(*img));
	if (!img)
		return -ENOMEM;
	memset(img, 0, sizeof(*img));
	img->domain = d;
	atomic_init(&img->refs, 1);
	pthread_rwlock_init(&img->bind_lock, NULL);
	img->ndevs = 1 + o.ndevices;
	img->devs = calloc(img->ndevs, sizeof(*img->devs));
	sizes = calloc(img->ndevs, sizeof(*sizes));
	img->name = strdup(o.name ? o.name : eshare_backend_name(primary));
	if (!img->devs || !sizes || !img->name) {
		rc = -ENOMEM;
		goto fail;
	}
	img->devs[0] = primary;
	for (uint32_t i = 0; i < o.ndevices; i++)
		img->devs[i + 1] = o.devices[i];
	for (unsigned i = 0; i < img->ndevs; i++) {
		rc = eshare_backend_size(img->devs[i], &sizes[i]);
		if (rc)
			goto fail;
	}
	img->meta_obj = pc_object_new(d->cache, PC_CLASS_META);
	img->packed_obj = pc_object_new(d->cache, PC_CLASS_META);
	img->metabox_obj = pc_object_new(d->cache, PC_CLASS_META);
	io = (struct ef_io){
		.ctx = img,
		.read = io_read,
		.read_meta = io_read_meta,
		.read_internal = io_read_internal,
		.report = io_report,
		.count_decompressed = io_count_decompressed,
	};
	rc = ef_fs_open(&img->fs, &io, sizes, img->ndevs);
	if (rc == -ENXIO)
		report_devices(img, sizes);
	if (rc)
		goto fail;
	free(sizes);
	domain_add_image(d, img);
	*out = img;
	return 0;
fail:
	/* the backends stay the caller's */
	drop_objects(img);
	free(img->devs);
	free(sizes);
	free(img->name);
	pthread_rwlock_destroy(&img->bind_lock);
	free(img);
	return rc;
}

int eshare_image_open_path(eshare_image **out, eshare_domain *d, const char *path,
			   const struct eshare_image_opts *opts)
{
	struct eshare_image_opts o = ESHARE_IMAGE_OPTS_INIT;
	eshare_backend *be;
	int rc;

	if (!out || !d || !path)
		return -EINVAL;
	if (opts) {
		rc = eshare_copy_struct(&o, sizeof(o), opts, opts->size);
		if (rc)
			return rc;
	}
	if (!o.name)
		o.name = path;
	rc = eshare_backend_open_file(&be, path);
	if (rc)
		return rc;
	rc = eshare_image_attach(out, d, be, &o);
	if (rc)
		eshare_backend_close(be);
	return rc;
}

void eshare_image_detach(eshare_image *img)
{
	if (!img || atomic_exchange(&img->detached, true))
		return;
	domain_unlink_image(img->domain, img);
	eshare_image_unref(img);
}

int eshare_image_info(eshare_image *img, struct eshare_image_info *info)
{
	struct eshare_image_info i = ESHARE_IMAGE_INFO_INIT;
	const struct ef_fs *fs;

	if (!img || !info || info->size < 8)
		return -EINVAL;
	fs = img->fs;
	i.block_size = fs->blksz;
	i.feature_compat = fs->feature_compat;
	i.feature_incompat = fs->feature_incompat;
	i.blocks = fs->blocks;
	i.inodes = fs->inos;
	i.root_ino = ef_nid_to_ino(fs, fs->root_nid);
	i.build_time = fs->epoch + fs->build_time;
	i.build_time_nsec = fs->fixed_nsec;
	i.extra_devices = (uint16_t)fs->ndevices;
	i.compr_algs = fs->available_compr_algs;
	memcpy(i.uuid, fs->uuid, 16);
	memcpy(i.volume_name, fs->volume_name, sizeof(i.volume_name));
	i.checksum = fs->checksum;
	i.ishare_prefix_id = fs->ishare_prefix_id;
	return eshare_copy_out(info, &i, sizeof(i));
}

size_t eshare_image_features(eshare_image *img, char *buf, size_t len)
{
	if (!img)
		return 0;
	return ef_feature_names(img->fs, buf, len);
}

int eshare_image_stats(eshare_image *img, struct eshare_stats *st)
{
	struct eshare_stats s = ESHARE_STATS_INIT;

	if (!img || !st)
		return -EINVAL;
	counters_to_stats(&s, &img->cnt);
	s.images = 1;
	return eshare_copy_out(st, &s, sizeof(s));
}
