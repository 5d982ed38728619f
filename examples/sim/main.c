// SPDX-License-Identifier: MIT
/*
 * erofs-share-sim: how much page cache sharing saves for given images,
 * containers and hosts, and what it costs, measured by running the
 * containers' reads through the library with sharing off and on.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

static const char *prog = "erofs-share-sim";

void *sim_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(SIM_EXIT_FAIL);
	}
	return p;
}

void *sim_calloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (!p) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(SIM_EXIT_FAIL);
	}
	return p;
}

void *sim_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(SIM_EXIT_FAIL);
	}
	return q;
}

char *sim_strdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(sim_malloc(n), s, n);
}

double sim_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sim_fmt_mib(char *out, size_t len, uint64_t v)
{
	if (v >= (1ull << 30) * 10)
		snprintf(out, len, "%.1f GiB", (double)v / (1u << 30));
	else if (v >= 1u << 20 || !v)
		snprintf(out, len, "%.1f MiB", (double)v / (1u << 20));
	else
		snprintf(out, len, "%.1f KiB", (double)v / 1024);
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: %s [OPTION]... IMAGE...\n"
"       %s --scenario FILE [OPTION]...\n"
"\n"
"Runs containers' reads over EROFS images through libsharecache, once per\n"
"sharing policy and budget, and reports how much page cache each run used\n"
"against what sharing can reach and what the Linux kernel's own rules would\n"
"cache, with the cost: hit ratio, backend bytes, bytes decompressed and\n"
"hashed, wall and CPU time.\n"
"\n"
"IMAGE is an EROFS image file, or a directory: its *.erofs files, by name.\n"
"Each image runs --replicas containers of --workload.\n"
"\n"
"Options (sizes are bytes with an optional K, M, G or T suffix, binary):\n"
"  --workload all|startup|random\n"
"                      all: every regular file, whole (the default);\n"
"                      startup: the files of --trace, or by default the\n"
"                      executables, shared libraries (*.so, *.so.*) and files\n"
"                      under lib, lib32, lib64 and libexec directories;\n"
"                      random: Zipf(1)-distributed 64 KiB reads of the image's\n"
"                      files, --volume bytes per container, from --seed\n"
"  --trace FILE        startup paths, one absolute path per line ('#'\n"
"                      comments); every path must be a regular file\n"
"  --volume SIZE       bytes each random container reads (default 16M)\n"
"  --replicas N        containers per image (default 1)\n"
"  --threads N         reader threads (default 2); containers start in order\n"
"  --stagger MS        the i-th container starts no earlier than i*MS ms\n"
"                      after the run starts (default 1)\n"
"  --hosts N           hosts (default 1); each host is one domain with its\n"
"                      own budget, holding the images its containers run\n"
"  --placement spread|pack\n"
"                      spread: containers round robin over the hosts (the\n"
"                      default); pack: in the order listed (replicas of an\n"
"                      image, then the next image), filling one host after\n"
"                      another, ceil(containers/hosts) each\n"
"  --budget SIZE[,SIZE...]\n"
"                      page-cache budget per host (data and metadata); one\n"
"                      run per budget and policy; 'unlimited' (the default)\n"
"                      is room for everything the host's images hold\n"
"  --policy P[,P...]   sharing policies among off, trust, verify, compute\n"
"                      (default off,compute)\n"
"  --seed N            seed of the random workload (default 1): the same seed\n"
"                      reads the same; on one thread the report is the same,\n"
"                      timing aside\n"
"  --scenario FILE     images, containers and settings from FILE (below);\n"
"                      options given on the command line win\n"
"  --json FILE         the report as JSON (an unlimited budget is null)\n"
"  --csv FILE          one CSV row per (policy, budget, host); unlimited is 0\n"
"  --chart FILE        FILE.png and FILE.svg (a .png or .svg suffix is\n"
"                      dropped): cache memory over time with and without\n"
"                      sharing, and peak memory against budget (gnuplot)\n"
"  --backend file|blockdev|loop   how images are opened (default file)\n"
"  --device FILE       an extra device of a multi-device image (repeatable;\n"
"                      given to the images that need extra devices)\n"
"  -q, --quiet         no table on stdout (errors still go to stderr)\n"
"  -h, --help          this text\n"
"\n"
"Scenario file: one statement per line, '#' starts a comment, fields are\n"
"separated by blanks, relative paths are relative to the file:\n"
"  image NAME PATH [trace=FILE]\n"
"  container NAME [replicas=N] [workload=all|startup|random] [volume=SIZE]\n"
"            [trace=FILE]\n"
"  hosts N | placement spread|pack | budget SIZE[,SIZE...]|unlimited\n"
"  policy P[,P...] | threads N | seed N | stagger MS\n"
"  workload W | volume SIZE | replicas N   (defaults of container lines)\n"
"Every container line names an image declared above it.\n"
"\n"
"Figures: cache memory is the domain's cached pages of regular files\n"
"(cached_data_bytes of eshare_domain_stats), sampled after every read\n"
"(peak), at the end (final) and every 2 ms (the chart); the fleet's peak is\n"
"the sum of its hosts' peaks.  A host attaches each image once: its\n"
"containers share that mount, as they share a mounted image.\n"
"From the images' metadata (computed, not measured): unique_bytes, the\n"
"distinct contents read (equal size and SHA-256), the limit of sharing (the\n"
"cache packs files' last partial pages), and unique_page_bytes, the same in\n"
"4 KiB pages, a page cache's limit; what Linux caches without page-cache\n"
"share (every inode its own pages) and with Linux 7.0's inode_share, which\n"
"shares only files that carry an on-disk fingerprint (mkfs.erofs\n"
"--xattr-inode-digest; read from each image), with the files of equal\n"
"fingerprint, size and data layout class (plain or compressed).\n"
"\n"
"Exit status: 0 ok, 1 the work failed (an image does not open, a read\n"
"fails, a report cannot be written), 2 usage error (including a bad option\n"
"value, scenario or trace).  Reports are written whole or not at all.\n",
		prog, prog);
}

static void __attribute__((format(printf, 1, 2))) die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	exit(SIM_EXIT_USAGE);
}

static int parse_workload(enum sim_workload *out, const char *s)
{
	if (!strcmp(s, "all"))
		*out = WL_ALL;
	else if (!strcmp(s, "startup"))
		*out = WL_STARTUP;
	else if (!strcmp(s, "random"))
		*out = WL_RANDOM;
	else
		return -EINVAL;
	return 0;
}

/* SIZE[,SIZE...], each "unlimited" or above 0, all distinct. */
static int parse_budgets(struct sim *s, const char *v)
{
	uint64_t b[SIM_MAX_BUDGETS];
	unsigned n = 0, i;
	char *copy, *tok, *save = NULL;
	int ret = 0;

	if (!*v || *v == ',' || v[strlen(v) - 1] == ',' || strstr(v, ",,"))
		return -EINVAL;
	copy = sim_strdup(v);
	for (tok = strtok_r(copy, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save)) {
		if (n == SIM_MAX_BUDGETS)
			ret = -EINVAL;
		else if (!strcmp(tok, "unlimited"))
			b[n] = 0;
		else if (esc_parse_size(&b[n], tok) || !b[n])
			ret = -EINVAL;
		for (i = 0; !ret && i < n; i++)
			if (b[i] == b[n])
				ret = -EINVAL;
		n++;
	}
	free(copy);
	if (ret || !n)
		return -EINVAL;
	memcpy(s->budgets, b, n * sizeof(*b));
	s->nbudgets = n;
	return 0;
}

/* Settings any source can give; the command line's win over a scenario's. */
struct settings {
	const char *workload, *volume, *replicas, *threads, *stagger, *hosts, *placement, *budget,
		*policy, *seed, *trace;
};

static void apply(struct sim *s, const struct settings *st, const char *where)
{
	uint64_t v;

#define BAD(opt, val, what) die_usage("%s%s'%s': %s", where, opt, val, what)
	if (st->workload && parse_workload(&s->wl, st->workload))
		BAD("workload ", st->workload, "not all, startup or random");
	if (st->volume && (esc_parse_size(&s->volume, st->volume) || !s->volume))
		BAD("volume ", st->volume, "not a size above 0 (K, M, G suffixes)");
	if (st->replicas) {
		if (esc_parse_uint(&v, st->replicas, SIM_MAX_REPLICAS))
			BAD("replicas ", st->replicas, "not a number from 1 to 10000");
		s->replicas = (unsigned)v;
	}
	if (st->threads) {
		if (esc_parse_uint(&v, st->threads, SIM_MAX_THREADS))
			BAD("threads ", st->threads, "not a number from 1 to 256");
		s->threads = (unsigned)v;
	}
	if (st->stagger) {
		if (!strcmp(st->stagger, "0"))
			v = 0;
		else if (esc_parse_uint(&v, st->stagger, 60000))
			BAD("stagger ", st->stagger, "not a number of ms from 0 to 60000");
		s->stagger_ms = (unsigned)v;
	}
	if (st->hosts) {
		if (esc_parse_uint(&v, st->hosts, SIM_MAX_HOSTS))
			BAD("hosts ", st->hosts, "not a number from 1 to 1024");
		s->hosts = (unsigned)v;
	}
	if (st->placement) {
		if (strcmp(st->placement, "spread") && strcmp(st->placement, "pack"))
			BAD("placement ", st->placement, "not spread or pack");
		s->pack = !strcmp(st->placement, "pack");
	}
	if (st->budget && parse_budgets(s, st->budget))
		BAD("budget ", st->budget,
		    "not distinct sizes above 0 or 'unlimited', separated by commas");
	if (st->policy && esc_parse_policies(s->policies, &s->npolicies, st->policy))
		BAD("policy ", st->policy,
		    "not distinct policies among off, trust, verify, compute, separated by commas");
	if (st->seed) {
		if (!strcmp(st->seed, "0"))
			v = 0;
		else if (esc_parse_uint(&v, st->seed, UINT64_MAX))
			BAD("seed ", st->seed, "not a number");
		s->seed = v;
	}
	if (st->trace)
		s->trace = st->trace;
#undef BAD
}

static char *rel_path(const char *dir, const char *p)
{
	char *out;

	if (p[0] == '/' || !dir)
		return sim_strdup(p);
	out = sim_malloc(strlen(dir) + strlen(p) + 2);
	sprintf(out, "%s/%s", dir, p);
	return out;
}

static void add_image(struct sim *s, const char *name, const char *path, const char *trace,
		      const char *src, unsigned line)
{
	struct sim_image *im;

	s->img = sim_realloc(s->img, (s->nimg + 1) * sizeof(*s->img));
	im = &s->img[s->nimg++];
	memset(im, 0, sizeof(*im));
	im->name = sim_strdup(name);
	im->path = sim_strdup(path);
	im->trace = trace ? sim_strdup(trace) : NULL;
	im->src = src;
	im->line = line;
}

static void add_spec(struct sim *s, unsigned image, unsigned replicas, int wl, uint64_t volume,
		     const char *trace, const char *src, unsigned line)
{
	struct sim_spec *sp;

	s->spec = sim_realloc(s->spec, (s->nspec + 1) * sizeof(*s->spec));
	sp = &s->spec[s->nspec++];
	*sp = (struct sim_spec){ .image = image, .replicas = replicas, .wl = (enum sim_workload)wl,
				 .volume = volume, .trace = trace ? sim_strdup(trace) : NULL,
				 .src = src, .line = line };
}

/* -1: the workload of the settings (wl, volume) applies. */
struct pending {
	unsigned image;
	long replicas;
	int wl;
	uint64_t volume;
	char *trace;
	unsigned line;
};

static void __attribute__((format(printf, 3, 4)))
scen_err(const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s:%u: ", prog, file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(SIM_EXIT_USAGE);
}

#define MAX_FIELDS 8

/*
 * Read a scenario.  Settings go into @st (strings that live as long as the
 * program); images are added at once, containers into @pend (their
 * workload may come from a later setting or the command line).
 */
static void load_scenario(struct sim *s, const char *file, struct settings *st,
			  struct pending **pend, unsigned *npend)
{
	FILE *f = fopen(file, "r");
	char *line = NULL, *dir = NULL, *slash;
	size_t cap = 0;
	unsigned lineno = 0;
	ssize_t n;

	if (!f)
		die_usage("--scenario %s: cannot open: %s", file, strerror(errno));
	slash = strrchr(file, '/');
	if (slash) {
		dir = sim_strdup(file);
		dir[slash - file] = '\0';
		if (!*dir) {
			free(dir);
			dir = sim_strdup("/");
		}
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		char *fld[MAX_FIELDS], *p, *save = NULL, *hash;
		unsigned nf = 0, i;
		const char **set = NULL;

		lineno++;
		if (memchr(line, '\0', (size_t)n))
			scen_err(file, lineno, "a NUL byte: not a text file");
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		for (p = strtok_r(line, " \t\r\n", &save); p; p = strtok_r(NULL, " \t\r\n", &save)) {
			if (nf == MAX_FIELDS)
				scen_err(file, lineno, "too many fields");
			fld[nf++] = sim_strdup(p);
		}
		if (!nf)
			continue;
		if (!strcmp(fld[0], "image")) {
			char *trace = NULL, *path;

			if (nf < 3 || nf > 4)
				scen_err(file, lineno, "expected: image NAME PATH [trace=FILE]");
			for (i = 0; i < s->nimg; i++)
				if (!strcmp(s->img[i].name, fld[1]))
					scen_err(file, lineno, "image %s declared twice", fld[1]);
			if (nf == 4) {
				if (strncmp(fld[3], "trace=", 6) || !fld[3][6])
					scen_err(file, lineno, "unknown field '%s' (trace=FILE)",
						 fld[3]);
				trace = rel_path(dir, fld[3] + 6);
			}
			path = rel_path(dir, fld[2]);
			add_image(s, fld[1], path, trace, file, lineno);
			free(path);
			free(trace);
		} else if (!strcmp(fld[0], "container")) {
			struct pending pd = { .replicas = -1, .wl = -1, .line = lineno };
			uint64_t v;

			if (nf < 2)
				scen_err(file, lineno, "expected: container IMAGE [replicas=N] "
						       "[workload=W] [volume=SIZE] [trace=FILE]");
			for (i = 0; i < s->nimg; i++)
				if (!strcmp(s->img[i].name, fld[1]))
					break;
			if (i == s->nimg)
				scen_err(file, lineno, "no image named %s above", fld[1]);
			pd.image = i;
			for (i = 2; i < nf; i++) {
				char *eq = strchr(fld[i], '=');
				enum sim_workload wl;

				if (!eq || !eq[1])
					scen_err(file, lineno, "expected KEY=VALUE, not '%s'", fld[i]);
				*eq = '\0';
				if (!strcmp(fld[i], "replicas")) {
					if (esc_parse_uint(&v, eq + 1, SIM_MAX_REPLICAS))
						scen_err(file, lineno, "replicas '%s': not a number "
								       "from 1 to 10000", eq + 1);
					pd.replicas = (long)v;
				} else if (!strcmp(fld[i], "workload")) {
					if (parse_workload(&wl, eq + 1))
						scen_err(file, lineno, "workload '%s': not all, "
								       "startup or random", eq + 1);
					pd.wl = (int)wl;
				} else if (!strcmp(fld[i], "volume")) {
					if (esc_parse_size(&pd.volume, eq + 1) || !pd.volume)
						scen_err(file, lineno, "volume '%s': not a size "
								       "above 0", eq + 1);
				} else if (!strcmp(fld[i], "trace")) {
					free(pd.trace);
					pd.trace = rel_path(dir, eq + 1);
				} else {
					scen_err(file, lineno, "unknown field '%s'", fld[i]);
				}
			}
			*pend = sim_realloc(*pend, (*npend + 1) * sizeof(**pend));
			(*pend)[(*npend)++] = pd;
		} else {
			static const struct {
				const char *key;
				size_t off;
			} keys[] = {
				{ "hosts", offsetof(struct settings, hosts) },
				{ "placement", offsetof(struct settings, placement) },
				{ "budget", offsetof(struct settings, budget) },
				{ "policy", offsetof(struct settings, policy) },
				{ "threads", offsetof(struct settings, threads) },
				{ "seed", offsetof(struct settings, seed) },
				{ "stagger", offsetof(struct settings, stagger) },
				{ "workload", offsetof(struct settings, workload) },
				{ "volume", offsetof(struct settings, volume) },
				{ "replicas", offsetof(struct settings, replicas) },
			};
			struct sim probe = *s;
			struct settings one = { 0 };
			char where[64];

			for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
				if (!strcmp(fld[0], keys[i].key))
					set = (const char **)((char *)st + keys[i].off);
			if (!set)
				scen_err(file, lineno, "unknown statement '%s'", fld[0]);
			if (nf != 2)
				scen_err(file, lineno, "expected: %s VALUE", fld[0]);
			/* Check the value here, so that an error names its line. */
			*(const char **)((char *)&one + ((char *)set - (char *)st)) = fld[1];
			snprintf(where, sizeof(where), "%s:%u: ", file, lineno);
			{
				const char *saved = prog;

				apply(&probe, &one, where);
				prog = saved;
			}
			free((char *)*set);	/* a later line wins */
			*set = fld[1];
			nf = 1;	/* keep fld[1]: the settings point at it */
		}
		for (i = 0; i < nf; i++)
			free(fld[i]);
	}
	if (ferror(f))
		die_usage("--scenario %s: read error", file);
	if (!s->nimg)
		scen_err(file, lineno, "no image declared");
	free(line);
	free(dir);
	fclose(f);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A positional IMAGE: a file, or a directory whose *.erofs files are taken. */
static void add_positional(struct sim *s, const char *arg)
{
	struct stat st;
	char **names = NULL;
	size_t n = 0, i;
	struct dirent *e;
	DIR *d;

	if (stat(arg, &st) || !S_ISDIR(st.st_mode)) {
		const char *base = strrchr(arg, '/');

		add_image(s, base ? base + 1 : arg, arg, NULL, NULL, 0);
		return;
	}
	d = opendir(arg);
	if (!d)
		return add_image(s, arg, arg, NULL, NULL, 0);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len > 6 && !strcmp(e->d_name + len - 6, ".erofs")) {
			names = sim_realloc(names, (n + 1) * sizeof(*names));
			names[n++] = sim_strdup(e->d_name);
		}
	}
	closedir(d);
	if (!n) {
		fprintf(stderr, "%s: %s: no *.erofs image in the directory\n", prog, arg);
		exit(SIM_EXIT_FAIL);
	}
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		char *p = rel_path(arg, names[i]);

		add_image(s, names[i], p, NULL, NULL, 0);
		free(p);
		free(names[i]);
	}
	free(names);
}

static void sim_free(struct sim *s, struct settings *scen)
{
	const char **f = (const char **)scen;
	unsigned i;
	size_t k;

	for (k = 0; k < sizeof(*scen) / sizeof(*f); k++)
		free((char *)f[k]);
	for (i = 0; i < s->nimg; i++) {
		for (k = 0; k < s->img[i].nfiles; k++)
			free(s->img[i].files[k].path);
		free(s->img[i].files);
		free(s->img[i].name);
		free(s->img[i].path);
		free(s->img[i].trace);
	}
	free(s->img);
	for (i = 0; i < s->nspec; i++)
		free(s->spec[i].trace);
	free(s->spec);
	for (i = 0; i < s->nct; i++)
		if (!s->ct[i].shared_ops)
			free(s->ct[i].ops);
	free(s->ct);
	for (k = 0; k < s->nseries; k++) {
		free(s->series[k].t);
		free(s->series[k].bytes);
	}
	free(s->series);
	free(s->res);
	free(s->host_lim);
	free(s->host_unlimited);
	free((void *)s->open.devices);
}

/*
 * The run's state lives in static storage: every exit, early or not, leaves
 * it reachable rather than leaked; the normal end frees it.
 */
static struct sim sim_g = {
	.prog = "erofs-share-sim", .wl = WL_ALL, .volume = 16u << 20, .replicas = 1, .threads = 2,
	.hosts = 1, .nbudgets = 1, .seed = 1, .stagger_ms = 1,
	.policies = { ESHARE_SHARE_OFF, ESHARE_SHARE_COMPUTE }, .npolicies = 2,
};
static struct settings scen_g;

int main(int argc, char **argv)
{
	enum { O_WORKLOAD = 256, O_SCENARIO, O_REPLICAS, O_THREADS, O_HOSTS, O_PLACEMENT,
	       O_BUDGET, O_POLICY, O_SEED, O_JSON, O_CSV, O_CHART, O_TRACE, O_VOLUME,
	       O_STAGGER, O_BACKEND, O_DEVICE };
	static const struct option lopts[] = {
		{ "workload", required_argument, NULL, O_WORKLOAD },
		{ "scenario", required_argument, NULL, O_SCENARIO },
		{ "replicas", required_argument, NULL, O_REPLICAS },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "hosts", required_argument, NULL, O_HOSTS },
		{ "placement", required_argument, NULL, O_PLACEMENT },
		{ "budget", required_argument, NULL, O_BUDGET },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "seed", required_argument, NULL, O_SEED },
		{ "json", required_argument, NULL, O_JSON },
		{ "csv", required_argument, NULL, O_CSV },
		{ "chart", required_argument, NULL, O_CHART },
		{ "trace", required_argument, NULL, O_TRACE },
		{ "volume", required_argument, NULL, O_VOLUME },
		{ "stagger", required_argument, NULL, O_STAGGER },
		{ "backend", required_argument, NULL, O_BACKEND },
		{ "device", required_argument, NULL, O_DEVICE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct settings cli = { 0 }, *scen = &scen_g;
	struct sim *s = &sim_g;
	struct pending *pend = NULL;
	const char **devices = NULL;
	const char *scenario = NULL;
	unsigned npend = 0, i, p, b, ndev = 0;
	int c, ret;

	while ((c = getopt_long(argc, argv, "qh", lopts, NULL)) != -1) {
		switch (c) {
		case O_WORKLOAD: cli.workload = optarg; break;
		case O_SCENARIO: scenario = optarg; break;
		case O_REPLICAS: cli.replicas = optarg; break;
		case O_THREADS: cli.threads = optarg; break;
		case O_HOSTS: cli.hosts = optarg; break;
		case O_PLACEMENT: cli.placement = optarg; break;
		case O_BUDGET: cli.budget = optarg; break;
		case O_POLICY: cli.policy = optarg; break;
		case O_SEED: cli.seed = optarg; break;
		case O_TRACE: cli.trace = optarg; break;
		case O_VOLUME: cli.volume = optarg; break;
		case O_STAGGER: cli.stagger = optarg; break;
		case O_JSON: s->json = optarg; break;
		case O_CSV: s->csv = optarg; break;
		case O_CHART: s->chart = optarg; break;
		case O_BACKEND:
			if (strcmp(optarg, "file") && strcmp(optarg, "blockdev") &&
			    strcmp(optarg, "loop"))
				die_usage("--backend '%s': not file, blockdev or loop", optarg);
			s->open.backend = optarg;
			break;
		case O_DEVICE:
			devices = sim_realloc(devices, (ndev + 1) * sizeof(*devices));
			devices[ndev++] = optarg;
			break;
		case 'q': s->quiet = true; break;
		case 'h': usage(stdout); return SIM_EXIT_OK;
		default: fprintf(stderr, "Try '%s --help'.\n", prog); return SIM_EXIT_USAGE;
		}
	}
	s->open.devices = devices;
	s->open.ndevices = ndev;
	s->open.devices_if_needed = true;
	if (scenario) {
		if (optind < argc)
			die_usage("images come from the scenario: no IMAGE arguments with --scenario");
		load_scenario(s, scenario, scen, &pend, &npend);
		apply(s, scen, "");
	} else {
		if (optind == argc)
			die_usage("no image given");
		for (i = (unsigned)optind; i < (unsigned)argc; i++)
			add_positional(s, argv[i]);
	}
	apply(s, &cli, "--");
	if (scenario && cli.trace)
		die_usage("--trace: with --scenario, give trace= on its lines");
	if (npend) {
		for (i = 0; i < npend; i++)
			add_spec(s, pend[i].image,
				 pend[i].replicas > 0 && !cli.replicas ? (unsigned)pend[i].replicas
								       : s->replicas,
				 pend[i].wl >= 0 && !cli.workload ? pend[i].wl : (int)s->wl,
				 pend[i].volume && !cli.volume ? pend[i].volume : s->volume,
				 pend[i].trace, scenario, pend[i].line);
	} else {
		for (i = 0; i < s->nimg; i++)
			add_spec(s, i, s->replicas, (int)s->wl, s->volume, NULL, NULL, 0);
	}
	if (s->trace)
		for (i = 0; i < s->nimg; i++)
			s->img[i].trace = sim_strdup(s->trace);
	for (i = 0; i < npend; i++)
		free(pend[i].trace);
	free(pend);
	{
		uint64_t n = 0;

		for (i = 0; i < s->nspec; i++)
			n += s->spec[i].replicas;
		if (n > SIM_MAX_CONTAINERS)
			die_usage("%llu containers: at most %u", (unsigned long long)n,
				  SIM_MAX_CONTAINERS);
	}

	s->progress = !s->quiet && isatty(STDERR_FILENO);
	if (s->progress)
		fprintf(stderr, "reading the images' metadata, hashing files of equal size...");
	ret = sim_load_images(s);
	if (s->progress)
		fprintf(stderr, "\r%*s\r", 70, "");
	if (ret)
		return SIM_EXIT_FAIL;
	ret = sim_plan(s);
	if (ret)
		return ret == -EINVAL || ret == -ENOENT ? SIM_EXIT_USAGE : SIM_EXIT_FAIL;
	for (b = 0; b < s->nbudgets; b++) {
		for (p = 0; p < s->npolicies; p++) {
			ret = sim_run(s, s->policies[p], s->budgets[b]);
			if (ret) {
				if (s->progress)
					fputc('\n', stderr);
				fprintf(stderr, "%s: the run failed: %s\n", prog,
					eshare_strerror(ret));
				return SIM_EXIT_FAIL;
			}
		}
	}
	if (s->progress)
		fprintf(stderr, "\r%*s\r", 90, "");
	if (!s->quiet)
		sim_print_table(s);
	if (sim_write_outputs(s)) {
		sim_free(s, scen);
		return SIM_EXIT_FAIL;
	}
	if (!s->quiet) {
		if (s->json)
			printf("JSON written to %s\n", s->json);
		if (s->csv)
			printf("CSV written to %s\n", s->csv);
		if (s->chart) {
			const char *dot = strrchr(s->chart, '.');
			int len = dot && (!strcmp(dot, ".png") || !strcmp(dot, ".svg"))
					  ? (int)(dot - s->chart)
					  : (int)strlen(s->chart);

			printf("chart written to %.*s.png and %.*s.svg\n", len, s->chart, len,
			       s->chart);
		}
	}
	sim_free(s, scen);
	return SIM_EXIT_OK;
}
