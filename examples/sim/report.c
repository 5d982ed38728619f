// SPDX-License-Identifier: MIT
/*
 * erofs-share-sim reports: the terminal table and summary, JSON, CSV and
 * a gnuplot chart.  Every file is written under a temporary name next to
 * its final one and renamed only when all of them are complete, so a run
 * that fails leaves no half-written report behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim.h"

static const char *wl_name(enum sim_workload wl)
{
	return wl == WL_ALL ? "all" : wl == WL_STARTUP ? "startup" : "random";
}

static double mib(uint64_t v)
{
	return (double)v / 1048576.0;
}

static void budget_str(char *out, size_t len, uint64_t budget)
{
	if (budget)
		sim_fmt_mib(out, len, budget);
	else
		snprintf(out, len, "unlimited");
}

/* The budget the summary and the curves show: unlimited if run, else the largest. */
static uint64_t main_budget(const struct sim *s)
{
	uint64_t b = s->budgets[0];
	unsigned i;

	for (i = 0; i < s->nbudgets; i++) {
		if (!s->budgets[i])
			return 0;
		if (s->budgets[i] > b)
			b = s->budgets[i];
	}
	return b;
}

/* The run of @policy at @budget: the host's, or the fleet's with several. */
static const struct sim_result *find(const struct sim *s, uint32_t policy, uint64_t budget)
{
	size_t i;
	int want = s->hosts > 1 ? -1 : 0;

	for (i = 0; i < s->nres; i++)
		if (s->res[i].policy == policy && s->res[i].budget == budget &&
		    s->res[i].host == want)
			return &s->res[i];
	return NULL;
}

void sim_print_table(struct sim *s)
{
	const struct sim_limits *l = &s->fleet_lim;
	uint64_t nfiles = 0, nfp = 0;
	const struct sim_result *off, *on = NULL;
	size_t w = 8;
	bool mixed = false;
	char a[32], b[32], c[32];
	unsigned m;
	size_t i;

	for (m = 0; m < s->nimg; m++) {
		nfiles += s->img[m].nfiles;
		nfp += s->img[m].nfp;
	}
	printf("%u image%s, %u container%s, %u host%s (%s), %u thread%s, seed %llu\n", s->nimg,
	       s->nimg == 1 ? "" : "s", s->nct, s->nct == 1 ? "" : "s", s->hosts,
	       s->hosts == 1 ? "" : "s", s->pack ? "pack" : "spread", s->threads,
	       s->threads == 1 ? "" : "s", (unsigned long long)s->seed);
	for (m = 0; m < s->nimg; m++)
		if (strlen(s->img[m].name) > w)
			w = strlen(s->img[m].name);
	for (m = 0; m < s->nimg; m++) {
		unsigned n = 0, k;

		for (k = 0; k < s->nct; k++)
			n += s->ct[k].image == m;
		sim_fmt_mib(a, sizeof(a), s->img[m].file_bytes);
		printf("  %-*s %6zu files, %10s, %u container%s  %s\n", (int)w, s->img[m].name,
		       s->img[m].nfiles, a, n, n == 1 ? "" : "s", s->img[m].path);
	}
	for (m = 1; m < s->nspec; m++)
		if (s->spec[m].wl != s->spec[0].wl)
			mixed = true;
	printf("\nWhat the containers read (%s), from the images' metadata%s:\n",
	       mixed ? "mixed workloads" : s->nspec ? wl_name(s->spec[0].wl) : "all",
	       s->hosts > 1 ? ", summed over the hosts" : "");
	sim_fmt_mib(a, sizeof(a), l->logical_bytes);
	printf("  %-44s %12s\n", "bytes read", a);
	sim_fmt_mib(a, sizeof(a), l->unique_bytes);
	sim_fmt_mib(b, sizeof(b), l->unique_page_bytes);
	printf("  %-44s %12s (%s in 4 KiB pages)\n", "distinct contents (the limit of sharing)", a,
	       b);
	sim_fmt_mib(a, sizeof(a), l->kernel_noshare_bytes);
	printf("  %-44s %12s\n", "Linux, every inode its own pages", a);
	sim_fmt_mib(a, sizeof(a), l->kernel_share_bytes);
	printf("  %-44s %12s (%llu of %llu files carry a fingerprint)\n",
	       "Linux 7.0 inode_share (fingerprinted files)", a, (unsigned long long)nfp,
	       (unsigned long long)nfiles);

	printf("\n%-8s %-10s %-5s %10s %10s %6s %10s %10s %10s %8s %8s\n", "policy", "budget",
	       "host", "peak MiB", "final MiB", "hit%", "backend", "decomp", "hashed", "wall s",
	       "cpu s");
	for (i = 0; i < s->nres; i++) {
		const struct sim_result *x = &s->res[i];
		char host[16];

		budget_str(a, sizeof(a), x->budget);
		if (x->host < 0)
			snprintf(host, sizeof(host), "fleet");
		else
			snprintf(host, sizeof(host), "%d", x->host);
		printf("%-8s %-10s %-5s %10.1f %10.1f %5.1f%% %10.1f %10.1f %10.1f %8.3f %8.3f\n",
		       esc_policy_name(x->policy), a, host, mib(x->peak_cache_bytes),
		       mib(x->final_cache_bytes), 100 * x->hit_ratio, mib(x->backend_bytes),
		       mib(x->decompressed_bytes), mib(x->hashed_bytes), x->wall_s, x->cpu_s);
	}
	printf("(MiB of regular files' pages in the cache; backend, decomp and hashed in MiB)\n\n");

	off = find(s, ESHARE_SHARE_OFF, main_budget(s));
	for (m = 0; m < s->npolicies && !on; m++)
		if (s->policies[m] != ESHARE_SHARE_OFF)
			on = find(s, s->policies[m], main_budget(s));
	if (on) {
		uint64_t base = off ? off->peak_cache_bytes : l->kernel_noshare_bytes;
		uint64_t saved = base > on->peak_cache_bytes ? base - on->peak_cache_bytes : 0;

		sim_fmt_mib(a, sizeof(a), saved);
		sim_fmt_mib(b, sizeof(b), base);
		budget_str(c, sizeof(c), main_budget(s));
		printf("sharing saved %s of %s (%.1f%%): peak page cache %s, policy %s vs %s, "
		       "budget %s\n",
		       a, b, base ? 100.0 * (double)saved / (double)base : 0.0,
		       s->hosts > 1 ? "of the fleet" : "of the host", esc_policy_name(on->policy),
		       off ? "off" : "every inode its own pages (from metadata)", c);
		if (off) {
			char d[32], e[32];

			sim_fmt_mib(a, sizeof(a), on->hashed_bytes);
			sim_fmt_mib(d, sizeof(d), off->backend_bytes);
			sim_fmt_mib(e, sizeof(e), on->backend_bytes);
			printf("what it cost: %s hashed, CPU %.3f s instead of %.3f s, "
			       "backend reads %s instead of %s\n",
			       a, on->cpu_s, off->cpu_s, e, d);
		}
	}
}

/* ---- files ------------------------------------------------------------- */

struct out {
	char *final;
	char *tmp;
};

static struct out *outs;
static unsigned nouts;

/* A temporary file next to @final; returns its stream, or NULL (printed). */
static FILE *tmp_open(struct sim *s, const char *final, struct out **o)
{
	char *tmp = sim_malloc(strlen(final) + 16);
	FILE *f;
	int fd;

	sprintf(tmp, "%s.tmpXXXXXX", final);
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: cannot create: %s\n", s->prog, tmp, strerror(errno));
		free(tmp);
		return NULL;
	}
	fchmod(fd, 0644);
	outs = sim_realloc(outs, (nouts + 1) * sizeof(*outs));
	outs[nouts] = (struct out){ sim_strdup(final), tmp };
	*o = &outs[nouts++];
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		fprintf(stderr, "%s: %s: %s\n", s->prog, tmp, strerror(errno));
	}
	return f;
}

static int tmp_close(struct sim *s, FILE *f, const struct out *o)
{
	int bad = ferror(f);

	if (fclose(f) || bad) {
		fprintf(stderr, "%s: %s: write error\n", s->prog, o->tmp);
		return -EIO;
	}
	return 0;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The limits; @logical: with the bytes the plan reads (runs give their own). */
static void json_limits(FILE *f, const struct sim_limits *l, bool logical)
{
	if (logical)
		fprintf(f, "\"logical_bytes\": %llu, ", (unsigned long long)l->logical_bytes);
	fprintf(f,
		"\"unique_bytes\": %llu, \"unique_page_bytes\": %llu, "
		"\"kernel_noshare_bytes\": %llu, \"kernel_share_bytes\": %llu",
		(unsigned long long)l->unique_bytes, (unsigned long long)l->unique_page_bytes,
		(unsigned long long)l->kernel_noshare_bytes,
		(unsigned long long)l->kernel_share_bytes);
}

static int write_json(struct sim *s)
{
	struct out *o;
	FILE *f = tmp_open(s, s->json, &o);
	unsigned m, h;
	size_t i;

	if (!f)
		return -EIO;
	fprintf(f, "{\n \"tool\": \"erofs-share-sim\", \"library\": ");
	json_str(f, eshare_version());
	fprintf(f, ",\n \"hosts\": %u, \"placement\": \"%s\", \"threads\": %u, \"seed\": %llu, "
		   "\"stagger_ms\": %u, \"page_size\": %u,\n ",
		s->hosts, s->pack ? "pack" : "spread", s->threads, (unsigned long long)s->seed,
		s->stagger_ms, SIM_PAGE);
	json_limits(f, &s->fleet_lim, true);
	fprintf(f, ",\n \"images\": [");
	for (m = 0; m < s->nimg; m++) {
		const struct sim_image *im = &s->img[m];

		fprintf(f, "%s\n  {\"name\": ", m ? "," : "");
		json_str(f, im->name);
		fprintf(f, ", \"path\": ");
		json_str(f, im->path);
		fprintf(f, ", \"files\": %zu, \"file_bytes\": %llu, \"fingerprinted_files\": %llu}",
			im->nfiles, (unsigned long long)im->file_bytes,
			(unsigned long long)im->nfp);
	}
	fprintf(f, "\n ],\n \"containers\": [");
	for (m = 0; m < s->nct; m++) {
		const struct sim_container *c = &s->ct[m];

		fprintf(f, "%s\n  {\"image\": ", m ? "," : "");
		json_str(f, s->img[c->image].name);
		fprintf(f, ", \"replica\": %u, \"host\": %u, \"workload\": \"%s\", \"reads\": %zu, "
			   "\"bytes\": %llu}",
			c->replica, c->host, wl_name(s->spec[c->spec].wl), c->nops,
			(unsigned long long)c->bytes);
	}
	fprintf(f, "\n ],\n \"host_limits\": [");
	for (h = 0; h < s->hosts; h++) {
		fprintf(f, "%s\n  {\"host\": %u, ", h ? "," : "", h);
		json_limits(f, &s->host_lim[h], true);
		fputc('}', f);
	}
	fprintf(f, "\n ],\n \"runs\": [");
	for (i = 0; i < s->nres; i++) {
		const struct sim_result *x = &s->res[i];

		fprintf(f, "%s\n  {\"policy\": \"%s\", \"budget\": ", i ? "," : "",
			esc_policy_name(x->policy));
		if (x->budget)
			fprintf(f, "%llu", (unsigned long long)x->budget);
		else
			fprintf(f, "null");
		if (x->host < 0)
			fprintf(f, ", \"host\": \"fleet\"");
		else
			fprintf(f, ", \"host\": %d", x->host);
		fprintf(f, ",\n   ");
		json_limits(f, x->host < 0 ? &s->fleet_lim : &s->host_lim[x->host], false);
		fprintf(f, ",\n  ");
#define J(n) fprintf(f, ", \"" #n "\": %llu", (unsigned long long)x->n)
		fprintf(f, " \"peak_cache_bytes\": %llu", (unsigned long long)x->peak_cache_bytes);
		J(final_cache_bytes);
		fprintf(f, ",\n   \"cached_meta_bytes\": %llu", (unsigned long long)x->final_meta_bytes);
		J(logical_bytes);
		J(reads);
		J(errors);
		J(hits);
		J(misses);
		J(evictions);
		J(shared_objects);
		J(shared_members);
		fprintf(f, ",\n   \"hit_ratio\": %.6f", x->hit_ratio);
		J(backend_bytes);
		J(decompressed_bytes);
		J(hashed_bytes);
		J(verify_failures);
#undef J
		fprintf(f, ",\n   \"wall_s\": %.6f, \"cpu_s\": %.6f}", x->wall_s, x->cpu_s);
	}
	fprintf(f, "\n ]\n}\n");
	return tmp_close(s, f, o);
}

static int write_csv(struct sim *s)
{
	struct out *o;
	FILE *f = tmp_open(s, s->csv, &o);
	size_t i;

	if (!f)
		return -EIO;
	fprintf(f, "policy,budget,host,peak_cache_bytes,final_cache_bytes,cached_meta_bytes,"
		   "unique_bytes,unique_page_bytes,kernel_noshare_bytes,kernel_share_bytes,"
		   "logical_bytes,hits,misses,hit_ratio,evictions,backend_bytes,"
		   "decompressed_bytes,hashed_bytes,wall_s,cpu_s\n");
	for (i = 0; i < s->nres; i++) {
		const struct sim_result *x = &s->res[i];
		const struct sim_limits *l = x->host < 0 ? &s->fleet_lim : &s->host_lim[x->host];
		char host[16];

		if (x->host < 0)
			snprintf(host, sizeof(host), "fleet");
		else
			snprintf(host, sizeof(host), "%d", x->host);
		fprintf(f, "%s,%llu,%s,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%.6f,%llu,"
			   "%llu,%llu,%llu,%.6f,%.6f\n",
			esc_policy_name(x->policy), (unsigned long long)x->budget, host,
			(unsigned long long)x->peak_cache_bytes,
			(unsigned long long)x->final_cache_bytes,
			(unsigned long long)x->final_meta_bytes,
			(unsigned long long)l->unique_bytes, (unsigned long long)l->unique_page_bytes,
			(unsigned long long)l->kernel_noshare_bytes,
			(unsigned long long)l->kernel_share_bytes,
			(unsigned long long)x->logical_bytes, (unsigned long long)x->hits,
			(unsigned long long)x->misses, x->hit_ratio, (unsigned long long)x->evictions,
			(unsigned long long)x->backend_bytes,
			(unsigned long long)x->decompressed_bytes,
			(unsigned long long)x->hashed_bytes, x->wall_s, x->cpu_s);
	}
	return tmp_close(s, f, o);
}

/* ---- chart --------------------------------------------------------------- */

static int run_gnuplot(struct sim *s, const char *script)
{
	pid_t pid = fork();
	int st;

	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", s->prog, strerror(errno));
		return -errno;
	}
	if (!pid) {
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		fprintf(stderr, "%s: cannot run gnuplot: %s (apt-get install gnuplot-nox)\n",
			s->prog, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "%s: gnuplot failed (status %d)\n", s->prog,
			WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return -EIO;
	}
	return 0;
}

static char *path_join(const char *dir, const char *name)
{
	char *p = sim_malloc(strlen(dir) + strlen(name) + 2);

	sprintf(p, "%s/%s", dir, name);
	return p;
}

/* A gnuplot string literal in single quotes ('' doubles a quote). */
static void gp_str(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static int write_chart(struct sim *s)
{
	char dirt[] = "/tmp/erofs-share-sim.XXXXXX";
	char *base = sim_strdup(s->chart), *png, *svg, *body, *main_gp, *bud, *dot;
	struct out *opng, *osvg;
	FILE *f, *fp, *fs;
	char a[32], name[64];
	size_t i, k;
	unsigned p, nb;
	int ret = -EIO;

	dot = strrchr(base, '.');
	if (dot && (!strcmp(dot, ".png") || !strcmp(dot, ".svg")) && !strchr(dot, '/'))
		*dot = '\0';
	png = sim_malloc(strlen(base) + 5);
	svg = sim_malloc(strlen(base) + 5);
	sprintf(png, "%s.png", base);
	sprintf(svg, "%s.svg", base);
	if (!mkdtemp(dirt)) {
		fprintf(stderr, "%s: cannot create a temporary directory: %s\n", s->prog,
			strerror(errno));
		goto out_names;
	}
	fp = tmp_open(s, png, &opng);
	if (!fp)
		goto out_dir;
	fclose(fp);
	fs = tmp_open(s, svg, &osvg);
	if (!fs)
		goto out_dir;
	fclose(fs);
	opng = &outs[nouts - 2];	/* the second tmp_open() may have moved it */

	/* Memory over time: one data file per run at the first budget. */
	for (i = 0; i < s->nseries; i++) {
		const struct sim_series *ser = &s->series[i];

		snprintf(name, sizeof(name), "series%zu.dat", i);
		body = path_join(dirt, name);
		f = fopen(body, "w");
		free(body);
		if (!f)
			goto out_dir;
		for (k = 0; k < ser->n; k++)
			fprintf(f, "%.6f %.6f\n", ser->t[k], mib(ser->bytes[k]));
		if (fclose(f))
			goto out_dir;
	}
	/* Peak against budget: one block per policy, one row per budget. */
	bud = path_join(dirt, "budget.dat");
	f = fopen(bud, "w");
	free(bud);
	if (!f)
		goto out_dir;
	for (p = 0; p < s->npolicies; p++) {
		for (nb = 0; nb < s->nbudgets; nb++) {
			const struct sim_result *x = find(s, s->policies[p], s->budgets[nb]);

			budget_str(a, sizeof(a), s->budgets[nb]);
			fprintf(f, "\"%s\" %.6f\n", a, x ? mib(x->peak_cache_bytes) : 0.0);
		}
		fprintf(f, "\n\n");
	}
	if (fclose(f))
		goto out_dir;

	body = path_join(dirt, "body.gp");
	f = fopen(body, "w");
	free(body);
	if (!f)
		goto out_dir;
	budget_str(a, sizeof(a), main_budget(s));
	fprintf(f, "set multiplot layout 1,2 title 'erofs-share-sim: page cache of %u container%s "
		   "on %u host%s, with and without sharing'\n",
		s->nct, s->nct == 1 ? "" : "s", s->hosts, s->hosts == 1 ? "" : "s");
	fprintf(f, "set title 'Cache memory over time (budget %s)'\n", a);
	fprintf(f, "set xlabel 'seconds'\nset ylabel 'MiB (regular files)'\n"
		   "set key bottom right opaque\nset grid\nset yrange [0:*]\n");
	fprintf(f, "plot ");
	for (i = 0, k = 0; i < s->nseries; i++) {
		if (s->series[i].budget != main_budget(s))
			continue;
		fprintf(f, "%s'%s/series%zu.dat' using 1:2 with lines lw 2 title '%s', \\\n     ",
			k++ ? "" : "", dirt, i, esc_policy_name(s->series[i].policy));
	}
	fprintf(f, "%.6f with lines dt 2 lw 1 title 'distinct contents (limit)', \\\n     "
		   "%.6f with lines dt 3 lw 1 title 'Linux without page-cache share'",
		mib(s->fleet_lim.unique_bytes), mib(s->fleet_lim.kernel_noshare_bytes));
	if (s->fleet_lim.kernel_share_bytes != s->fleet_lim.kernel_noshare_bytes)
		fprintf(f, ", \\\n     %.6f with lines dt 4 lw 1 title 'Linux 7.0 inode\\_share'",
			mib(s->fleet_lim.kernel_share_bytes));
	fprintf(f, "\n");
	fprintf(f, "set title 'Peak cache memory against budget'\nset xlabel 'budget'\n"
		   "set key top left\n"
		   "set style data linespoints\nset xrange [-0.5:%u.5]\n",
		s->nbudgets - 1);
	fprintf(f, "plot ");
	for (p = 0; p < s->npolicies; p++)
		fprintf(f, "%s'%s/budget.dat' index %u using 0:2:xtic(1) lw 2 pt 7 title '%s'",
			p ? ", \\\n     " : "", dirt, p, esc_policy_name(s->policies[p]));
	fprintf(f, "\nunset multiplot\n");
	if (fclose(f))
		goto out_dir;

	main_gp = path_join(dirt, "chart.gp");
	f = fopen(main_gp, "w");
	if (!f) {
		free(main_gp);
		goto out_dir;
	}
	fprintf(f, "set terminal pngcairo size 1400,560 font 'sans,10'\nset output ");
	gp_str(f, opng->tmp);
	fprintf(f, "\nload '%s/body.gp'\nset output\n", dirt);
	fprintf(f, "set terminal svg size 1400,560 dynamic font 'sans,10'\nset output ");
	gp_str(f, osvg->tmp);
	fprintf(f, "\nload '%s/body.gp'\nset output\n", dirt);
	if (fclose(f)) {
		free(main_gp);
		goto out_dir;
	}
	ret = run_gnuplot(s, main_gp);
	free(main_gp);
out_dir:
	/* The temporary directory holds only the files written above. */
	for (i = 0; i < s->nseries; i++) {
		snprintf(name, sizeof(name), "series%zu.dat", i);
		body = path_join(dirt, name);
		unlink(body);
		free(body);
	}
	for (k = 0; k < 3; k++) {
		static const char *const names[] = { "budget.dat", "body.gp", "chart.gp" };

		body = path_join(dirt, names[k]);
		unlink(body);
		free(body);
	}
	rmdir(dirt);
out_names:
	free(png);
	free(svg);
	free(base);
	return ret;
}

int sim_write_outputs(struct sim *s)
{
	unsigned i, renamed = 0;
	int ret = 0;

	if (s->json)
		ret = write_json(s);
	if (!ret && s->csv)
		ret = write_csv(s);
	if (!ret && s->chart)
		ret = write_chart(s);
	for (i = 0; i < nouts; i++) {
		if (!ret && rename(outs[i].tmp, outs[i].final)) {
			ret = -errno;
			fprintf(stderr, "%s: %s: cannot rename to %s: %s\n", s->prog, outs[i].tmp,
				outs[i].final, strerror(errno));
		}
		if (ret)
			unlink(outs[i].tmp);
		else
			renamed++;
	}
	/* A failure after some renames: remove those too, all or nothing. */
	for (i = 0; ret && i < renamed; i++)
		unlink(outs[i].final);
	for (i = 0; i < nouts; i++) {
		free(outs[i].final);
		free(outs[i].tmp);
	}
	free(outs);
	outs = NULL;
	nouts = 0;
	return ret;
}
