/* SPDX-License-Identifier: MIT */
/*
 * The backend conformance suite: what every backend must do, checked
 * against pread(2) of the file that holds the same bytes.  A test program
 * runs it on its backend with one line:
 *
 *	backend_conformance_add(s, &(struct bc_target){ "memory", open_mem });
 *
 * It checks the size; boundary reads (offset 0, the last byte, across the
 * end, length 0, past the end, offsets near 2^64) through the method itself
 * and through eshare_backend_read() and eshare_backend_readv(); a few
 * thousand random reads; bad arguments (-EINVAL) and reads past the end
 * (-EIO); a source made to fail (the target says how, and which errno its
 * reads then give); the same checks as a fault-injecting wrapper sees
 * them; 4 threads reading at once, each checking its bytes; and that the
 * backend's close method runs exactly once, whether the backend is closed
 * by its caller or by an image that took it.
 *
 * Each test makes its own data file (pseudo-random bytes, an odd size
 * unless the target asks for whole units) and a copy of an EROFS fixture,
 * in a directory of its own under @dir, and removes them at the end; the
 * test case's teardown removes what a failed test left.
 */
#ifndef ESHARE_TEST_BACKEND_CONFORMANCE_H
#define ESHARE_TEST_BACKEND_CONFORMANCE_H

#include <stdint.h>

#include <check.h>

#include <erofs_share/backend.h>

struct bc_target {
	/* Names the test case ("conformance:NAME"). */
	const char *name;
	/*
	 * Open the backend under test over the bytes of the regular file
	 * @path.  Must hand a NULL @out to the library's opener as it is
	 * (the suite expects -EINVAL then).  0 or -errno.
	 */
	int (*open)(eshare_backend **out, const char *path, void *user);
	/*
	 * Optional: make every later read of @be fail (truncate its file,
	 * close its descriptor...); returns the negative errno those reads
	 * must give.
	 */
	int (*fault)(eshare_backend *be, const char *path, void *user);
	/* Optional: called after each backend of @open is closed. */
	void (*cleanup)(void *user);
	void *user;
	/* The data file's size is a multiple of this (512 for block
	 * devices); 0 = any size. */
	uint32_t size_unit;
	/* Where to make the files; NULL = $TMPDIR or /tmp.  Read when a
	 * test runs, so it may be filled by fixture_setup. */
	const char *dir;
	/* Optional: the test case's unchecked fixture (run once, in the
	 * runner's process), set up before and torn down after the suite's
	 * own cleanup, which removes the files it made in @dir. */
	void (*fixture_setup)(void);
	void (*fixture_teardown)(void);
};

/*
 * Add a test case running the whole suite on @t (copied) to @s, and return
 * it, for fixtures and timeouts.  Up to 16 targets per program.
 */
TCase *backend_conformance_add(Suite *s, const struct bc_target *t);

#endif
