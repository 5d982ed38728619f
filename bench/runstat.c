// SPDX-License-Identifier: MIT
/*
 * runstat: run a command and write what it cost, from wait4(2)'s rusage.
 *
 *   runstat -o FILE COMMAND [ARG...]
 *
 * FILE gets one line: "wall_s user_s sys_s maxrss_kib minflt majflt", the
 * times in microseconds (/usr/bin/time prints hundredths).  The wall time
 * runs from fork(2) to wait4(2).  The child is forked from this small
 * program, so the peak RSS it inherits before exec(2) is small too.  The
 * exit status is the command's (128 + the signal that ended it, 127 if it
 * could not be run).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	double t0, wall;
	int status;
	pid_t pid;
	FILE *f;

	if (argc < 4 || strcmp(argv[1], "-o")) {
		fprintf(stderr, "usage: runstat -o FILE COMMAND [ARG...]\n");
		return 2;
	}
	f = fopen(argv[2], "we");	/* not the command's */
	if (!f) {
		fprintf(stderr, "runstat: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	t0 = now();
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "runstat: fork: %s\n", strerror(errno));
		return 2;
	}
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		fprintf(stderr, "runstat: %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "runstat: wait4: %s\n", strerror(errno));
			return 2;
		}
	}
	wall = now() - t0;
	fprintf(f, "%.6f %.6f %.6f %ld %ld %ld\n", wall, tv(ru.ru_utime), tv(ru.ru_stime),
		ru.ru_maxrss, ru.ru_minflt, ru.ru_majflt);
	if (fclose(f)) {
		fprintf(stderr, "runstat: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
