// SPDX-License-Identifier: MIT
/*
 * A program outside the project that uses the installed library only
 * through its installed header and its pkg-config or CMake package.
 *
 * consumer IMAGE PATH OUT: print the library and header versions, look PATH
 * up in IMAGE, print its size and copy its bytes to the file OUT.
 */
#include <erofs_share/erofs_share.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, int err)
{
	fprintf(stderr, "consumer: %s: %s (%d)\n", what, eshare_strerror(err), err);
	return 1;
}

int main(int argc, char **argv)
{
	struct eshare_domain_opts dopts = ESHARE_DOMAIN_OPTS_INIT;
	struct eshare_stat st = ESHARE_STAT_INIT;
	eshare_domain *d = NULL;
	eshare_image *img = NULL;
	eshare_inode *ino = NULL;
	char buf[4096];
	uint64_t off = 0;
	FILE *out;
	int rc = 1, err;

	if (argc != 4) {
		fprintf(stderr, "usage: consumer IMAGE PATH OUT\n");
		return 2;
	}
	/* The header/library check the version number exists for. */
	printf("library %s %u\n", eshare_version(), eshare_version_number());
	printf("header %s %u\n", ESHARE_VERSION_STRING, (unsigned)ESHARE_VERSION_NUMBER);
	if (eshare_version_number() != ESHARE_VERSION_NUMBER)
		fprintf(stderr, "consumer: header and library versions differ\n");

	err = eshare_domain_create(&d, &dopts);
	if (err)
		return fail("eshare_domain_create", err);
	err = eshare_image_open_path(&img, d, argv[1], NULL);
	if (err) {
		fail("eshare_image_open_path", err);
		goto out_domain;
	}
	err = eshare_lookup(&ino, img, argv[2]);
	if (err) {
		fail("eshare_lookup", err);
		goto out_image;
	}
	err = eshare_stat(ino, &st);
	if (err) {
		fail("eshare_stat", err);
		goto out_inode;
	}
	printf("path %s size %" PRIu64 " mode %o\n", argv[2], st.file_size, st.mode);
	out = fopen(argv[3], "wb");
	if (!out) {
		perror(argv[3]);
		goto out_inode;
	}
	for (;;) {
		ssize_t n = eshare_pread(ino, buf, sizeof(buf), off);

		if (n < 0) {
			fail("eshare_pread", (int)n);
			fclose(out);
			goto out_inode;
		}
		if (n == 0)
			break;
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n) {
			perror(argv[3]);
			fclose(out);
			goto out_inode;
		}
		off += (uint64_t)n;
	}
	if (fclose(out)) {
		perror(argv[3]);
		goto out_inode;
	}
	printf("read %" PRIu64 "\n", off);
	rc = 0;
out_inode:
	eshare_inode_put(ino);
out_image:
	eshare_image_detach(img);
out_domain:
	err = eshare_domain_close(d);
	if (err) {
		fail("eshare_domain_close", err);
		rc = 1;
	}
	return rc;
}
