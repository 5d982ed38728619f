/* SPDX-License-Identifier: MIT */
/*
 * erofs-share-sim: containers' reads through the real library, with sharing
 * off and on, on one host or several; shared declarations.
 */
#ifndef ESHARE_SIM_H
#define ESHARE_SIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"

#define SIM_PAGE 4096u
#define SIM_MAX_THREADS 256u
#define SIM_MAX_HOSTS 1024u
#define SIM_MAX_REPLICAS 10000u
#define SIM_MAX_CONTAINERS 100000u
#define SIM_MAX_BUDGETS 16u
#define SIM_READ_SIZE (128u << 10)	/* one pread of a whole-file read */
#define SIM_RANDOM_READ (64u << 10)	/* one read of the random workload */

/* Exit codes. */
#define SIM_EXIT_OK 0
#define SIM_EXIT_FAIL 1
#define SIM_EXIT_USAGE 2

enum sim_workload { WL_ALL, WL_STARTUP, WL_RANDOM };

/* One regular file (one path) of an image. */
struct sim_file {
	char *path;
	uint64_t size;
	uint64_t ino;		/* the inode number eshare_stat() reports */
	uint32_t mode;
	uint8_t layout;
	bool startup;		/* in the default startup set */
	bool has_fp;		/* an on-disk fingerprint (sha256:) */
	unsigned char fp[32];
	uint32_t inode_id;	/* distinct (image, inode) over all images */
	uint32_t kshare_id;	/* what Linux 7.0's inode_share keys on */
	uint32_t content_id;	/* distinct (size, sha256) over all images */
};

struct sim_image {
	char *name;
	char *path;
	char *trace;		/* default startup trace, or NULL */
	const char *src;	/* where it was declared, for messages */
	unsigned line;
	struct sim_file *files;
	size_t nfiles;
	uint64_t file_bytes;	/* bytes of its regular files (one per inode) */
	uint64_t file_page_bytes;
	uint64_t image_bytes;
	uint64_t nfp;		/* files with an on-disk fingerprint */
	bool ishare;		/* the superblock has the fingerprint feature */
};

/* A line of containers: an image, replicas and a workload. */
struct sim_spec {
	unsigned image;
	unsigned replicas;
	enum sim_workload wl;
	uint64_t volume;	/* random: bytes to read per replica */
	char *trace;		/* startup: paths to read, or NULL */
	const char *src;
	unsigned line;
};

/* One read: @len bytes at @off of file @file of the container's image. */
struct sim_op {
	uint32_t file;
	uint32_t len;		/* 0: the whole file */
	uint64_t off;
};

struct sim_container {
	unsigned spec, replica, image, host;
	struct sim_op *ops;
	size_t nops;
	bool shared_ops;	/* the ops of the replica before it */
	uint64_t bytes;		/* bytes its reads ask for */
};

/* What the images' metadata says a host would cache. */
struct sim_limits {
	uint64_t unique_bytes;		/* distinct contents read, exact bytes */
	uint64_t unique_page_bytes;	/* the same in 4 KiB pages */
	uint64_t kernel_noshare_bytes;	/* every inode its own pages */
	uint64_t kernel_share_bytes;	/* Linux 7.0 inode_share's rule */
	uint64_t logical_bytes;		/* bytes the reads ask for */
};

/* One (policy, budget) run's figures for one host, or the fleet. */
struct sim_result {
	uint32_t policy;
	uint64_t budget;	/* 0: unlimited */
	int host;		/* -1: the fleet */
	uint64_t peak_cache_bytes, final_cache_bytes, final_meta_bytes;
	uint64_t logical_bytes, hits, misses, evictions, shared_objects, shared_members;
	uint64_t backend_bytes, decompressed_bytes, hashed_bytes, verify_failures;
	double hit_ratio, wall_s, cpu_s;
	uint64_t reads, errors;
};

/* Memory over time of one run (the fleet's sum). */
struct sim_series {
	uint32_t policy;
	uint64_t budget;
	double *t;
	uint64_t *bytes;
	size_t n, cap;
};

struct sim {
	const char *prog;
	/* settings */
	enum sim_workload wl;
	uint64_t volume;
	unsigned replicas, threads, hosts;
	bool pack;
	uint64_t budgets[SIM_MAX_BUDGETS];	/* 0: unlimited */
	unsigned nbudgets;
	uint32_t policies[ESC_NPOLICIES];
	unsigned npolicies;
	uint64_t seed;
	unsigned stagger_ms;
	const char *trace;
	const char *json, *csv, *chart;
	bool quiet;
	struct esc_open_opts open;
	/* what to run */
	struct sim_image *img;
	unsigned nimg;
	struct sim_spec *spec;
	unsigned nspec;
	struct sim_container *ct;
	unsigned nct;
	uint32_t ninode_ids, nkshare_ids, ncontent_ids;
	struct sim_limits *host_lim;	/* per host */
	struct sim_limits fleet_lim;
	uint64_t *host_unlimited;	/* per host: a budget nothing is evicted under */
	/* results */
	struct sim_result *res;
	size_t nres, capres;
	struct sim_series *series;
	size_t nseries;
	/*
	 * Set while an image is attached with extra devices to spare: its
	 * first attach, without them, may fail and say why; the error that
	 * counts is reported by the caller.
	 */
	_Atomic bool mute_log;
	/* progress */
	bool progress;
	uint64_t progress_total;
	_Atomic uint64_t progress_done;
};

void *sim_malloc(size_t n);
void *sim_calloc(size_t n, size_t sz);
void *sim_realloc(void *p, size_t n);
char *sim_strdup(const char *s);
double sim_now(void);
/* "12.3 MiB" */
void sim_fmt_mib(char *out, size_t len, uint64_t v);

/* plan.c: images' metadata, containers' reads, placement, limits. */
int sim_load_images(struct sim *s);
int sim_plan(struct sim *s);

/* Attach an image with the run's backend and devices; prints the error. */
int sim_attach(struct sim *s, eshare_image **out, eshare_domain *d, const struct sim_image *im);

/* run.c: one (policy, budget) run of every container. */
int sim_run(struct sim *s, uint32_t policy, uint64_t budget);

/* report.c */
void sim_print_table(struct sim *s);
int sim_write_outputs(struct sim *s);

#endif
