/* SPDX-License-Identifier: MIT */
/*
 * A fault-injecting backend for tests: it wraps another eshare_backend and
 * makes chosen pread calls fail with an errno, return fewer bytes than
 * asked, or stall for a while, and records every distinct (offset, length)
 * it was asked for.  It is written against the public
 * <erofs_share/sys/backend.h> alone (struct eshare_backend_ops and
 * eshare_backend_new), so it also shows that a caller can implement a
 * backend with nothing more than that header.
 *
 * A call is "triggered" when any of the configured triggers picks it:
 *   - offsets: its range [off, off + len) covers one of the given bytes;
 *   - nth: it is the nth call (counting from 1) of the handle;
 *   - probability: a draw from a generator seeded with @seed and the
 *     call's number, so a run is reproducible in the calls it fails (which
 *     thread makes the nth call is up to the scheduler).
 * A triggered call does what @kind says.  Reads past the wrapped source's
 * end are never faulted: they return what the source returns there.
 *
 * Every method may run concurrently on one handle.
 */
#ifndef ESHARE_TEST_FAULTY_H
#define ESHARE_TEST_FAULTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <erofs_share/backend.h>
#include <erofs_share/sys/backend.h>

enum faulty_kind {
	/* Never fault (record and count only). */
	FAULTY_NONE = 0,
	/* Return cfg->error (default -EIO); the buffer is left holding the
	 * inverted true bytes, so a caller that ignores the error reads
	 * wrong data. */
	FAULTY_ERROR = 1,
	/*
	 * Return fewer bytes than asked although the source holds them all.
	 * With offsets: the bytes before the first faulted offset in the
	 * range, or half the range (rounded down) when the range starts at
	 * it; else a count drawn in [1, len - 1] (0 for a 1-byte read).  The
	 * bytes not claimed are left inverted in the buffer.
	 */
	FAULTY_SHORT = 2,
	/* Sleep cfg->stall_us, then read normally. */
	FAULTY_STALL = 3,
};

struct faulty_config {
	enum faulty_kind kind;
	/* Bytes whose reads fault (copied; need not be sorted). */
	const uint64_t *offsets;
	size_t noffsets;
	/* The call that faults, counting from 1; 0 = none. */
	uint64_t nth;
	/* Chance that a call faults, 0..1; 0 = none. */
	double probability;
	uint64_t seed;
	/* FAULTY_ERROR: the negative errno returned; 0 = -EIO. */
	int error;
	/* FAULTY_STALL: microseconds; 0 = 3000. */
	unsigned stall_us;
	/* Backend name (copied, up to 31 bytes); NULL = "faulty". */
	const char *name;
};

/* One distinct read the backend was asked for. */
struct faulty_read {
	uint64_t off;
	uint64_t len;
};

struct faulty;

/*
 * Wrap @inner.  On success *out is a backend that owns @inner (closing it
 * when it is closed), and *handle (if not NULL) the control handle, valid
 * until the backend is closed.  @cfg may be NULL (a healthy recorder).
 * On failure nothing is changed and @inner stays the caller's.
 * @return 0; -EINVAL; -ENOMEM; an error of eshare_backend_size(@inner).
 */
int faulty_wrap(eshare_backend **out, struct faulty **handle, eshare_backend *inner,
		const struct faulty_config *cfg);

/* faulty_wrap() of eshare_backend_open_file(@path). */
int faulty_open_file(eshare_backend **out, struct faulty **handle, const char *path,
		     const struct faulty_config *cfg);

/* Stop (true) or resume (false) injecting faults; takes effect at once. */
void faulty_set_healthy(struct faulty *f, bool healthy);

/* pread calls made so far, and how many of them were faulted. */
uint64_t faulty_calls(const struct faulty *f);
uint64_t faulty_faults(const struct faulty *f);

/*
 * The distinct (offset, length) pairs asked for so far, sorted by offset
 * then length, in a malloc'd array the caller frees.  *n may be 0 (then
 * *out is NULL).  @return 0 or -ENOMEM.
 */
int faulty_reads(struct faulty *f, struct faulty_read **out, size_t *n);

/* Forget the recorded reads (the counters stay). */
void faulty_forget_reads(struct faulty *f);

/* Handles wrapped and not yet closed, in the whole process. */
long faulty_live_handles(void);

#endif
