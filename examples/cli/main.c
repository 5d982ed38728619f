// SPDX-License-Identifier: MIT
/*
 * erofs-share: inspect and extract EROFS images with libsharecache.
 *
 * This file parses the command line (global options may come before or
 * after the subcommand), opens the image and dispatches.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct command {
	const char *name;
	int (*fn)(struct cli_ctx *ctx, struct cli_args *a);
	int minpos, maxpos;	/* positional arguments, the image included */
	const char *const *flags;	/* the options it takes, NULL-terminated */
	const char *synopsis;
	const char *help;
	const char *const *valopts;	/* options taking a value ("--opt V", "--opt=V") */
	bool own_images;	/* opens its positional images itself (no single image) */
};

static const char *const no_flags[] = { NULL };
static const char *const json_flag[] = { "--json", NULL };
static const char *const ls_flags[] = { "-l", "-R", "--json", NULL };
static const char *const domain_valopts[] = { "--policy", "--cache-size", "--threads", NULL };

static const struct command commands[] = {
	{ "info", cmd_info, 1, 1, json_flag, "info [--json] IMAGE",
	  "Show the superblock: block size, counts, root inode, uuid, label, build\n"
	  "time, checksum, feature names, compression algorithms, extra devices.\n", NULL, false },
	{ "ls", cmd_ls, 1, 2, ls_flags, "ls [-l] [-R] [--json] IMAGE [PATH]",
	  "List a directory (default /) or show one entry.\n"
	  "  -l      long format: mode, nlink, uid, gid, size or major,minor, mtime\n"
	  "  -R      recurse into subdirectories\n"
	  "  --json  print a JSON array of objects (every field)\n", NULL, false },
	{ "stat", cmd_stat, 2, 2, json_flag, "stat [--json] IMAGE PATH",
	  "Show every field the library reports for one inode.\n", NULL, false },
	{ "cat", cmd_cat, 2, 2, no_flags, "cat IMAGE PATH",
	  "Write a regular file's content to stdout.\n", NULL, false },
	{ "xattr", cmd_xattr, 2, 2, json_flag, "xattr [--json] IMAGE PATH",
	  "List extended attributes as name=value lines; a value that is not\n"
	  "printable ASCII is shown as hex:<hex>.\n"
	  "  --json  print a JSON array of {name, value} or {name, hex}\n", NULL, false },
	{ "extract", cmd_extract, 2, 2, no_flags, "extract IMAGE DIR",
	  "Recreate the image's tree in DIR (created if missing, must be empty):\n"
	  "contents, directories, symlinks, device nodes, fifos, sockets, hard\n"
	  "links, and, when run as root, owners and xattrs; modes and nanosecond\n"
	  "mtimes always.\n", NULL, false },
	{ "manifest", cmd_manifest, 1, 1, json_flag, "manifest [--json] IMAGE",
	  "Print the tree in the manifest format of treecmp.py --list (sorted\n"
	  "paths, every field, sha256 of contents, xattrs, hardlink groups).\n"
	  "  --json  print a JSON array of objects keyed by the columns' names\n", NULL, false },
	{ "domain", cmd_domain, 1, INT_MAX, json_flag,
	  "domain [--policy P] [--cache-size BYTES] [--threads N] [--json] IMAGE...",
	  "Attach every IMAGE to one domain, read every regular file of each in full\n"
	  "(each path, hard links included) and print the domain's statistics, with\n"
	  "the sizes of the distinct contents read (by sha256 and size), exact and\n"
	  "in whole 4096-byte pages: the least cache that sharing could reach.\n"
	  "  --policy P          off, trust, verify (default) or compute\n"
	"  --cache-size BYTES  page-cache budget, suffix K, M or G (default 256M,\n"
	  "                      at least 64K)\n"
	  "  --threads N         read with N threads, 1 to 256 (default 1)\n"
	  "  --json              print one JSON object\n"
	  "--device options go to every image that needs extra devices.\n",
	  domain_valopts, true },
	{ "fingerprint", cmd_fingerprint, 1, INT_MAX, json_flag,
	  "fingerprint [--json] IMAGE [PATH...]",
	  "Print 'path<TAB>sha256:HEX<TAB>size' for every regular file under each PATH\n"
	  "(default /): the content fingerprint the library computes; an intact\n"
	  "image's erofs.fingerprint.v1 xattr holds the same digest (raw bytes).\n"
	  "  --json  print a JSON array of {path, fingerprint, size}\n", NULL, false },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static const char global_help[] =
	"Global options (before or after the command):\n"
	"  --device FILE     an extra device of a multi-device image (repeatable,\n"
	"                    in device-table order)\n"
	"  --backend KIND    how to open the image and devices: file (default),\n"
	"                    blockdev or loop\n"
	"  -h, --help        show this help (or the command's)\n"
	"  --version         show the library version\n"
	"\n"
	"Exit status: 0 success, 1 the work failed, 2 a usage error (an unknown\n"
	"option, a bad option value). See erofs-share(1).\n";

void cli_usage(FILE *f, const char *prog, const char *cmd)
{
	const struct command *c = cmd ? find_command(cmd) : NULL;
	size_t i;

	if (c) {
		fprintf(f, "usage: %s [GLOBAL OPTIONS] %s\n\n%s\n%s", prog, c->synopsis, c->help,
			global_help);
		return;
	}
	fprintf(f, "usage: %s [GLOBAL OPTIONS] COMMAND [ARGS]\n\nCommands:\n", prog);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].synopsis);
	fprintf(f, "\n%s\n'%s help COMMAND' or '%s COMMAND --help' describes a command.\n",
		global_help, prog, prog);
}

bool cli_has_flag(const struct cli_args *a, const char *flag)
{
	int i;

	for (i = 0; i < a->nflags; i++)
		if (!strcmp(a->flags[i], flag))
			return true;
	return false;
}

/* Check that every flag of @a is one the command takes; prints the usage. */
static int check_flags(struct cli_ctx *ctx, struct cli_args *a, const char *cmd,
		       const char *const *allowed)
{
	int i;

	for (i = 0; i < a->nflags; i++) {
		const char *const *p;

		for (p = allowed; *p; p++)
			if (!strcmp(*p, a->flags[i]))
				break;
		if (!*p) {
			cli_err(ctx, "%s: unknown option '%s'", cmd, a->flags[i]);
			cli_usage(stderr, ctx->prog, cmd);
			return -EINVAL;
		}
	}
	return 0;
}

/* Value of "--opt VALUE" or "--opt=VALUE"; NULL if @arg is not --opt. */
static const char *option_value(const char *opt, int argc, char **argv, int *i, bool *missing)
{
	size_t n = strlen(opt);
	const char *arg = argv[*i];

	if (strncmp(arg, opt, n))
		return NULL;
	if (arg[n] == '=')
		return arg + n + 1;
	if (arg[n])
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

const char *cli_opt_value(const struct cli_args *a, const char *name)
{
	const char *v = NULL;
	int i;

	/* The last one given wins, as with most tools. */
	for (i = 0; i < a->nvals; i++)
		if (!strcmp(a->valnames[i], name))
			v = a->vals[i];
	return v;
}

/*
 * A command option that takes a value, which may come before the command
 * name is known: any command's value options are recognised here and
 * checked against the command's own list later.
 */
static const char *command_value_option(int argc, char **argv, int *i, bool *missing,
					const char **name)
{
	size_t c;

	for (c = 0; c < NCOMMANDS; c++) {
		const char *const *o;

		for (o = commands[c].valopts; o && *o; o++) {
			const char *v = option_value(*o, argc, argv, i, missing);

			if (v || *missing) {
				*name = *o;
				return v;
			}
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static char shortflags[256][3];
	struct cli_ctx ctx = { .prog = "erofs-share", .backend = "file" };
	struct cli_args a = { 0 };
	const struct command *cmd = NULL;
	const char *cmdname = NULL;
	bool help = false, optend = false;
	size_t nchars = 0;
	int i, ret;

	/* Each character of an argument can be one flag ("-lR"). */
	for (i = 1; i < argc; i++)
		nchars += strlen(argv[i]) + 1;
	a.flags = cli_malloc(sizeof(char *) * nchars);
	a.pos = cli_malloc(sizeof(char *) * (size_t)argc);
	a.valnames = cli_malloc(sizeof(char *) * (size_t)argc);
	a.vals = cli_malloc(sizeof(char *) * (size_t)argc);
	for (i = 1; i < argc; i++) {
		char *arg = argv[i];
		bool missing = false;
		const char *v;

		if (optend || arg[0] != '-' || !arg[1]) {
			if (!cmdname)
				cmdname = arg;
			else
				a.pos[a.npos++] = arg;
			continue;
		}
		if (!strcmp(arg, "--")) {
			optend = true;
			continue;
		}
		if ((v = option_value("--device", argc, argv, &i, &missing))) {
			if (ctx.ndevices == CLI_MAX_DEVICES) {
				cli_err(&ctx, "at most %d --device options", CLI_MAX_DEVICES);
				goto usage_error;
			}
			ctx.devices[ctx.ndevices++] = v;
			continue;
		}
		if (!missing && (v = option_value("--backend", argc, argv, &i, &missing))) {
			ctx.backend = v;
			continue;
		}
		if (!missing && (v = command_value_option(argc, argv, &i, &missing,
							  &a.valnames[a.nvals]))) {
			a.vals[a.nvals++] = v;
			continue;
		}
		if (missing) {
			cli_err(&ctx, "option '%s' needs a value", arg);
			goto usage_error;
		}
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			help = true;
		} else if (!strcmp(arg, "--version")) {
			printf("erofs-share (libsharecache %s)\n", eshare_version());
			ret = 0;
			goto out;
		} else if (arg[1] == '-') {
			a.flags[a.nflags++] = arg;
		} else {
			/* "-lR" is "-l -R". */
			const char *p;

			for (p = arg + 1; *p; p++) {
				char *f = shortflags[(unsigned char)*p];

				f[0] = '-';
				f[1] = *p;
				f[2] = '\0';
				a.flags[a.nflags++] = f;
			}
		}
	}
	if (cmdname && !strcmp(cmdname, "help")) {
		if (a.npos && !find_command(a.pos[0])) {
			cli_err(&ctx, "unknown command '%s'", a.pos[0]);
			goto usage_error;
		}
		cli_usage(stdout, ctx.prog, a.npos ? a.pos[0] : NULL);
		ret = 0;
		goto out;
	}
	if (!cmdname) {
		if (help) {
			cli_usage(stdout, ctx.prog, NULL);
			ret = 0;
			goto out;
		}
		cli_err(&ctx, "no command given");
		goto usage_error;
	}
	cmd = find_command(cmdname);
	if (!cmd) {
		cli_err(&ctx, "unknown command '%s'", cmdname);
		goto usage_error;
	}
	if (help) {
		cli_usage(stdout, ctx.prog, cmd->name);
		ret = 0;
		goto out;
	}
	if (!esc_backend_known(ctx.backend)) {
		cli_err(&ctx, "unknown backend '%s' (file, blockdev or loop)", ctx.backend);
		goto usage_error;
	}
	if (check_flags(&ctx, &a, cmd->name, cmd->flags)) {
		ret = 2;
		goto out;
	}
	for (i = 0; i < a.nvals; i++) {
		const char *const *o;

		for (o = cmd->valopts; o && *o; o++)
			if (!strcmp(*o, a.valnames[i]))
				break;
		if (!o || !*o) {
			cli_err(&ctx, "%s: unknown option '%s'", cmd->name, a.valnames[i]);
			cli_usage(stderr, ctx.prog, cmd->name);
			ret = 2;
			goto out;
		}
	}
	if (a.npos < cmd->minpos || a.npos > cmd->maxpos) {
		cli_err(&ctx, "%s: %s arguments", cmd->name,
			a.npos < cmd->minpos ? "missing" : "too many");
		cli_usage(stderr, ctx.prog, cmd->name);
		ret = 2;
		goto out;
	}
	if (cmd->own_images) {
		ret = cmd->fn(&ctx, &a);
	} else {
		ret = cli_image_open(&ctx, a.pos[0]);
		if (ret) {
			ret = 1;
			goto out;
		}
		ret = cmd->fn(&ctx, &a);
		cli_image_close(&ctx);
	}
	/* 2 for a bad option value a command found, 1 for any other failure */
	ret = ret == CLI_USAGE_ERROR ? 2 : ret ? 1 : 0;
	if (fflush(stdout) || ferror(stdout)) {
		cli_err(&ctx, "write error on stdout: %s", strerror(errno));
		ret = 1;
	}
	goto out;
usage_error:
	fprintf(stderr, "Try '%s --help'.\n", ctx.prog);
	ret = 2;
out:
	free(a.flags);
	free(a.pos);
	free(a.valnames);
	free(a.vals);
	return ret;
}
