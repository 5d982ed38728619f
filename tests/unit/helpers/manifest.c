// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Undo the manifest's escaping: \\ \t \n \r \xNN. */
static char *unescape(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\\' || i + 1 >= len) {
			*o++ = s[i];
			continue;
		}
		switch (s[++i]) {
		case 't': *o++ = '\t'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 'x':
			if (i + 2 < len) {
				*o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
				i += 2;
			}
			break;
		default: *o++ = s[i]; break;
		}
	}
	*o = '\0';
	return out;
}

static int unhex(const char *hex, uint8_t *out, size_t cap, size_t *n)
{
	size_t len = strlen(hex);

	if (len % 2 || len / 2 > cap)
		return -EINVAL;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*n = len / 2;
	return 0;
}

/* "name=hex:..." or "name=len:N:sha256:..." entries joined by ';'. */
static int parse_xattrs(struct manifest_entry *e, char *field)
{
	unsigned cap = 1;
	char *save = NULL;

	if (!strcmp(field, "-"))
		return 0;
	for (char *p = field; *p; p++)
		cap += *p == ';';
	e->xattrs = calloc(cap, sizeof(*e->xattrs));
	if (!e->xattrs)
		return -ENOMEM;
	for (char *tok = strtok_r(field, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		struct manifest_xattr *x = &e->xattrs[e->nxattrs];
		char *eq = strchr(tok, '='), *colon;
		size_t n;

		if (!eq)
			return -EINVAL;
		x->name = unescape(tok, (size_t)(eq - tok));
		if (!x->name)
			return -ENOMEM;
		e->nxattrs++;
		if (!strncmp(eq + 1, "hex:", 4)) {
			if (unhex(eq + 5, x->value, sizeof(x->value), &x->vlen))
				return -EINVAL;
			continue;
		}
		if (strncmp(eq + 1, "len:", 4))
			return -EINVAL;
		x->vlen = strtoul(eq + 5, &colon, 10);
		x->hashed = true;
		if (strncmp(colon, ":sha256:", 8) || unhex(colon + 8, x->value, 32, &n) || n != 32)
			return -EINVAL;
	}
	return 0;
}

static int parse_line(struct manifest_entry *e, char *line)
{
	char *col[14], *p = line;
	size_t n;
	int k;

	for (k = 0; k < 14 && p; k++) {
		col[k] = p;
		p = strchr(p, '\t');
		if (p)
			*p++ = '\0';
	}
	if (k < 14 || p)
		return -EINVAL;
	e->path = unescape(col[0], strlen(col[0]));
	if (!e->path)
		return -ENOMEM;
	snprintf(e->type, sizeof(e->type), "%s", col[1]);
	e->mode = (uint32_t)strtoul(col[2], NULL, 8);
	e->uid = (uint32_t)strtoul(col[3], NULL, 10);
	e->gid = (uint32_t)strtoul(col[4], NULL, 10);
	e->size = col[5][0] == '-' ? 0 : strtoull(col[5], NULL, 10);
	e->mtime_sec = strtoll(col[6], NULL, 10);
	e->mtime_nsec = (uint32_t)strtoul(col[7], NULL, 10);
	e->nlink = (uint32_t)strtoul(col[8], NULL, 10);
	if (col[9][0] != '-' && sscanf(col[9], "%u:%u", &e->rdev_major, &e->rdev_minor) != 2)
		return -EINVAL;
	if (strcmp(col[10], "-") || !strcmp(e->type, "lnk")) {
		e->target = unescape(col[10], strlen(col[10]));
		if (!e->target)
			return -ENOMEM;
	}
	if (strcmp(col[11], "-")) {
		if (unhex(col[11], e->sha256, 32, &n) || n != 32)
			return -EINVAL;
		e->has_sha256 = true;
	}
	e->hardlink = col[13][0] == 'h' ? (unsigned)atoi(col[13] + 1) : 0;
	return parse_xattrs(e, col[12]);
}

int manifest_load(struct manifest *m, const char *name)
{
	char path[4096], *line = NULL;
	size_t cap = 0, alloc = 0;
	ssize_t n;
	int rc = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.erofs.manifest", ESHARE_FIXTURES, name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	m->e = NULL;
	m->n = 0;
	while (!rc && (n = getline(&line, &cap, f)) > 0) {
		struct manifest_entry *e;

		if (line[0] == '#')
			continue;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (m->n == alloc) {
			struct manifest_entry *v;

			alloc = alloc ? alloc * 2 : 1024;
			v = realloc(m->e, alloc * sizeof(*m->e));
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			m->e = v;
		}
		e = &m->e[m->n++];
		memset(e, 0, sizeof(*e));
		rc = parse_line(e, line);
	}
	free(line);
	fclose(f);
	if (rc)
		manifest_free(m);
	return rc;
}

void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		for (unsigned k = 0; k < m->e[i].nxattrs; k++)
			free(m->e[i].xattrs[k].name);
		free(m->e[i].xattrs);
		free(m->e[i].target);
		free(m->e[i].path);
	}
	free(m->e);
	m->e = NULL;
	m->n = 0;
}

const struct manifest_entry *manifest_find(const struct manifest *m, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].path, path))
			return &m->e[i];
	return NULL;
}

void manifest_count(const struct manifest *m, struct manifest_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->e[i];

		c->paths++;
		if (!strcmp(e->type, "reg")) {
			c->regs++;
			c->reg_bytes += e->size;
		} else if (!strcmp(e->type, "dir")) {
			c->dirs++;
		} else if (!strcmp(e->type, "lnk")) {
			c->symlinks++;
			c->link_bytes += e->size;
		} else {
			c->specials++;
		}
	}
}

static int cmp_key(const void *a, const void *b)
{
	const struct manifest_entry *x = *(const struct manifest_entry *const *)a;
	const struct manifest_entry *y = *(const struct manifest_entry *const *)b;
	int c = memcmp(x->sha256, y->sha256, 32);

	if (c)
		return c;
	return x->size < y->size ? -1 : x->size > y->size;
}

void manifest_unique_bytes(const struct manifest *const *ms, size_t count, uint64_t *exact,
			   uint64_t *pages)
{
	const struct manifest_entry **v = NULL;
	size_t n = 0, alloc = 0;

	for (size_t k = 0; k < count; k++) {
		for (size_t i = 0; i < ms[k]->n; i++) {
			const struct manifest_entry *e = &ms[k]->e[i];

			if (strcmp(e->type, "reg") || !e->size)
				continue;
			if (n == alloc) {
				alloc = alloc ? alloc * 2 : 1024;
				v = realloc(v, alloc * sizeof(*v));
			}
			v[n++] = e;
		}
	}
	qsort(v, n, sizeof(*v), cmp_key);
	*exact = *pages = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && !cmp_key(&v[i], &v[i - 1]))
			continue;
		*exact += v[i]->size;
		*pages += (v[i]->size + 4095) & ~4095ull;
	}
	free(v);
}
