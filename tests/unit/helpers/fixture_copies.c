// SPDX-License-Identifier: MIT
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture_copies.h"
#include "fixtures.h"

char fc_dir[64];
char *fc_copy[FC_MAX];
int fc_n;
static const char *fc_who = "test";

unsigned char *fc_slurp(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	while (buf && done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0) {
			free(buf);
			buf = NULL;
			break;
		}
		if (!n)
			break;	/* sysfs files claim 4096 bytes */
		done += (size_t)n;
	}
	close(fd);
	*len = done;
	return buf;
}

int fc_spill(const char *path, const unsigned char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	return close(fd);
}

char *fc_cmd_line(const char *cmd)
{
	char line[512];
	FILE *p = popen(cmd, "r");
	char *ret = NULL;

	if (!p)
		return NULL;
	if (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = 0;
		ret = strdup(line);
	}
	while (fgets(line, sizeof(line), p))
		;
	pclose(p);
	return ret;
}

static void fc_copy_one(const char *src)
{
	const char *base = strrchr(src, '/') + 1;
	size_t len;
	unsigned char *b = fc_slurp(src, &len);
	char path[PATH_MAX];

	ck_assert_ptr_nonnull(b);
	ck_assert_int_lt(fc_n, FC_MAX);
	snprintf(path, sizeof(path), "%s/%s", fc_dir, base);
	ck_assert_int_eq(fc_spill(path, b, len), 0);
	free(b);
	fc_copy[fc_n++] = strdup(path);
}

void fc_setup(const char *tag, const char *who, bool with_blob)
{
	char src[PATH_MAX];

	fc_who = who;
	snprintf(fc_dir, sizeof(fc_dir), "/tmp/eshare-%s-XXXXXX", tag);
	ck_assert_ptr_nonnull(mkdtemp(fc_dir));
	for (unsigned i = 0; i < fixture_count; i++) {
		fx_image_path(src, sizeof(src), &fixture_registry[i]);
		fc_copy_one(src);
	}
	/* the extra devices of the multi-device images come last */
	for (unsigned i = 0; with_blob && i < fixture_count; i++) {
		for (unsigned k = 0; k < fixture_registry[i].ndevices; k++) {
			fx_device_path(src, sizeof(src), &fixture_registry[i], k);
			fc_copy_one(src);
		}
	}
	ck_assert_int_gt(fc_n, 20);
}

void fc_detach_leftovers(void)
{
	char line[1024], pat[PATH_MAX + 4], cmd[PATH_MAX + 32];
	FILE *p = popen("losetup -a", "r");

	snprintf(pat, sizeof(pat), "(%s/", fc_dir);
	while (p && fgets(line, sizeof(line), p)) {
		if (!strstr(line, pat))
			continue;
		line[strcspn(line, ":")] = 0;
		snprintf(cmd, sizeof(cmd), "losetup -d %s", line);
		fprintf(stderr, "%s: detaching leftover %s\n", fc_who, line);
		if (system(cmd))
			fprintf(stderr, "%s: %s failed\n", fc_who, cmd);
	}
	if (p)
		pclose(p);
}

void fc_teardown(void)
{
	fc_detach_leftovers();
	for (int i = 0; i < fc_n; i++) {
		unlink(fc_copy[i]);
		free(fc_copy[i]);
	}
	fc_n = 0;
	rmdir(fc_dir);
}

const char *fc_named(const char *name)
{
	for (int i = 0; i < fc_n; i++)
		if (!strcmp(strrchr(fc_copy[i], '/') + 1, name))
			return fc_copy[i];
	ck_abort_msg("no fixture %s", name);
	return NULL;
}
