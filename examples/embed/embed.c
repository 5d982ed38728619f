/* SPDX-License-Identifier: MIT */
/*
 * Embedding libsharecache: open an EROFS image into a domain, look a file
 * up, print its size and mode to stderr and its bytes to stdout.
 *
 *   embed IMAGE PATH      e.g. embed tests/fixtures/shared-a.erofs /big/repetitive.txt
 *
 * Build: cc embed.c $(pkg-config --cflags --libs erofs_share) -o embed
 */
#include <stdio.h>
#include <sys/stat.h>

#include <erofs_share/erofs_share.h>

static void log_to_stderr(void *user, int level, const char *msg)
{
	(void)user;
	if (level <= ESHARE_LOG_INFO) /* errors explained, e.g. a missing device */
		fprintf(stderr, "libsharecache: %s\n", msg);
}

int main(int argc, char **argv)
{
	struct eshare_domain_opts opts = ESHARE_DOMAIN_OPTS_INIT; /* policy: VERIFY */
	struct eshare_stat st = ESHARE_STAT_INIT;
	eshare_domain *domain;
	eshare_image *image;
	eshare_inode *file;
	char buf[65536];
	uint64_t off = 0;
	int rc, status = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: %s IMAGE PATH\n", argv[0]);
		return 2;
	}
	opts.cache_bytes = 64 << 20;
	opts.log = log_to_stderr;
	rc = eshare_domain_create(&domain, &opts);
	if (rc) {
		fprintf(stderr, "domain: %s\n", eshare_strerror(rc));
		return 1;
	}
	rc = eshare_image_open_path(&image, domain, argv[1], NULL);
	if (rc) {
		fprintf(stderr, "%s: %s\n", argv[1], eshare_strerror(rc));
		goto out_domain;
	}
	rc = eshare_lookup(&file, image, argv[2]);
	if (rc) {
		fprintf(stderr, "%s: %s\n", argv[2], eshare_strerror(rc));
		goto out_image;
	}
	rc = eshare_stat(file, &st);
	if (rc) {
		fprintf(stderr, "%s: stat: %s\n", argv[2], eshare_strerror(rc));
		goto out_file;
	}
	if (!S_ISREG(st.mode)) {
		fprintf(stderr, "%s: not a regular file\n", argv[2]);
		goto out_file;
	}
	fprintf(stderr, "%s: %llu bytes, mode %04o\n", argv[2],
		(unsigned long long)st.file_size, (unsigned)st.mode & 07777);
	for (;;) {
		ssize_t n = eshare_pread(file, buf, sizeof(buf), off);

		if (n < 0) {
			fprintf(stderr, "%s: read: %s\n", argv[2], eshare_strerror((int)n));
			goto out_file;
		}
		if (n == 0)
			break;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			perror("stdout");
			goto out_file;
		}
		off += (uint64_t)n;
	}
	if (fflush(stdout) == 0)
		status = 0;
	else
		perror("stdout");
out_file:
	eshare_inode_put(file);
out_image:
	eshare_image_detach(image);
out_domain:
	rc = eshare_domain_close(domain);
	if (rc) {
		fprintf(stderr, "domain close: %s\n", eshare_strerror(rc));
		status = 1;
	}
	return status;
}
