/* SPDX-License-Identifier: MIT */
/*
 * Private copies of the fixtures in a temporary directory, for the tests
 * that attach them to loop devices: `losetup -a` then tells our devices
 * apart from those of other tests attaching the same fixtures.
 */
#ifndef ESHARE_TEST_FIXTURE_COPIES_H
#define ESHARE_TEST_FIXTURE_COPIES_H

#include <stdbool.h>
#include <stddef.h>

#define FC_MAX 64

extern char fc_dir[64];
extern char *fc_copy[FC_MAX];
extern int fc_n;

/* Whole file into a malloc'd buffer (NULL on error). */
unsigned char *fc_slurp(const char *path, size_t *len);
/* Write a buffer to a new file: 0 or -1. */
int fc_spill(const char *path, const unsigned char *buf, size_t len);
/* First line of a command's output, without the newline (malloc'd), or NULL. */
char *fc_cmd_line(const char *cmd);

/*
 * Copy every registered fixture image (helpers/fixtures.h), and after them
 * their extra devices when @with_blob, into a new /tmp/eshare-@tag-XXXXXX;
 * @who names the test in messages.
 */
void fc_setup(const char *tag, const char *who, bool with_blob);
/* Detach loop devices still bound to our copies, remove the copies. */
void fc_teardown(void);
void fc_detach_leftovers(void);
/* The copy of fixture file @name (aborts the test if there is none). */
const char *fc_named(const char *name);

#endif
