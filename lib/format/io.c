// SPDX-License-Identifier: MIT
/*
 * Bounded raw reads: physical addresses in the unified address space of
 * the devices, and metadata positions in the primary device or the
 * metabox inode's decoded stream.
 */
#include "format.h"

static bool range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

bool ef_phys_is_primary(const struct ef_fs *fs, unsigned dev, uint64_t pa, size_t len)
{
	if (dev)
		return false;
	for (unsigned i = 1; i <= fs->ndevices; i++) {
		const struct ef_device *d = &fs->devices[i];
		uint64_t start = d->uniaddr << fs->blkszbits;
		uint64_t end = start + (d->blocks << fs->blkszbits);

		if (d->uniaddr && pa < end && pa + len > start)
			return false;
	}
	return true;
}

int ef_read_device_raw(const struct ef_fs *fs, unsigned dev, uint64_t pa, void *buf, size_t len)
{
	const struct ef_device *d;

	if (!len)
		return 0;
	if (dev > fs->ndevices)
		return ef_corrupt(fs, ~0ull, "device %u of %u", dev, fs->ndevices);
	if (dev == 0 && fs->ndevices) {
		/* unified address: find the extra device whose range holds pa */
		for (unsigned i = 1; i <= fs->ndevices; i++) {
			uint64_t start, end;

			d = &fs->devices[i];
			if (!d->uniaddr)
				continue;
			start = d->uniaddr << fs->blkszbits;
			end = start + (d->blocks << fs->blkszbits);
			if (pa >= start && pa < end) {
				if (len > end - pa)
					return ef_corrupt(fs, ~0ull, "extent crosses device %u's end", i);
				pa -= start;
				dev = i;
				break;
			}
		}
	}
	d = &fs->devices[dev];
	if (!range_ok(pa, len, d->size))
		return -EIO; /* beyond what the device holds: truncated or lying */
	return fs->io.read(fs->io.ctx, dev, buf, len, pa);
}

int ef_read_metadata(const struct ef_fs *fs, bool in_metabox, uint64_t pos, void *buf, size_t len)
{
	if (!len)
		return 0;
	if (in_metabox) {
		if (!fs->metabox)
			return ef_corrupt(fs, ~0ull, "metabox nid without a metabox");
		if (!range_ok(pos, len, fs->metabox->size))
			return ef_corrupt(fs, ~0ull, "metadata at %llu past the metabox's end",
					  (unsigned long long)pos);
		return ef_read_data_via_io((struct ef_fs *)fs, fs->metabox, buf, len, pos);
	}
	if (!range_ok(pos, len, fs->devices[0].size))
		return -EIO;
	if (fs->io.read_meta)
		return fs->io.read_meta(fs->io.ctx, buf, len, pos);
	return fs->io.read(fs->io.ctx, 0, buf, len, pos);
}
