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

int manifest_load(struct manifest *m, const char *name)
{
	char path[4096], *line = NULL;
	size_t cap = 0, alloc = 0;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.erofs.manifest", ESHARE_FIXTURES, name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	m->e = NULL;
	m->n = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		char *col[14];
		char *p = line;
		struct manifest_entry *e;
		int k;

		if (line[0] == '#')
			continue;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		for (k = 0; k < 14 && p; k++) {
			col[k] = p;
			p = strchr(p, '\t');
			if (p)
				*p++ = '\0';
		}
		if (k < 14)
			continue;
		if (m->n == alloc) {
			alloc = alloc ? alloc * 2 : 1024;
			m->e = realloc(m->e, alloc * sizeof(*m->e));
		}
		e = &m->e[m->n++];
		memset(e, 0, sizeof(*e));
		e->path = unescape(col[0], strlen(col[0]));
		snprintf(e->type, sizeof(e->type), "%s", col[1]);
		e->size = col[5][0] == '-' ? 0 : strtoull(col[5], NULL, 10);
		if (strlen(col[11]) == 64)
			for (int i = 0; i < 32; i++)
				e->sha256[i] = (uint8_t)(hexval(col[11][2 * i]) * 16 +
							 hexval(col[11][2 * i + 1]));
		e->hardlink = col[13][0] == 'h' ? (unsigned)atoi(col[13] + 1) : 0;
	}
	free(line);
	fclose(f);
	return 0;
}

void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].path);
	free(m->e);
	m->e = NULL;
	m->n = 0;
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
