/* dataset: JSON-lines split reader, line reader, JSON string writer (see dataset.h). */
#include "dataset.h"

#include <stdlib.h>
#include <string.h>

void json_str(struct sbuf *sb, const char *s)
{
	sb_adds(sb, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_addf(sb, "\\%c", *s);
		else if (*s == '\n')
			sb_adds(sb, "\\n");
		else if ((unsigned char)*s < 0x20)
			sb_addf(sb, "\\u%04x", (unsigned char)*s);
		else
			sb_add(sb, s, 1);
	}
	sb_adds(sb, "\"");
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

/* Parses a JSON string at *pp (at the opening quote) into a fresh string. */
static char *parse_str(const char **pp)
{
	const char *p = *pp;
	if (*p != '"')
		return NULL;
	p++;
	struct sbuf sb;
	sb_init(&sb);
	while (*p && *p != '"' && *p != '\n') {
		if (*p == '\\') {
			p++;
			char c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
			if (c != '"' && c != '\\' && c != '/' && c != '\n' && c != '\t') {
				sb_release(&sb);
				return NULL;
			}
			sb_add(&sb, &c, 1);
			p++;
		} else {
			sb_add(&sb, p, 1);
			p++;
		}
	}
	if (*p != '"' || sb.oom) {
		sb_release(&sb);
		return NULL;
	}
	*pp = p + 1;
	return sb_detach(&sb, NULL);
}

static int parse_line(struct example *ex, const char *p, const char **end)
{
	char **slots[7] = {&ex->id,     &ex->kind,   &ex->entity, &ex->prompt,
			   &ex->answer, &ex->target, &ex->cluster};
	static const char *const keys[7] = {"id",     "kind",   "entity", "prompt",
					    "answer", "target", "cluster"};
	p = skip_ws(p);
	if (*p++ != '{')
		return -1;
	p = skip_ws(p);
	if (*p == '}') {
		p++;
	} else {
		for (;;) {
			char *k = parse_str(&p);
			if (!k)
				return -1;
			p = skip_ws(p);
			if (*p++ != ':') {
				free(k);
				return -1;
			}
			p = skip_ws(p);
			char *v = parse_str(&p);
			if (!v) {
				free(k);
				return -1;
			}
			int used = 0;
			for (int i = 0; i < 7; i++)
				if (!strcmp(k, keys[i])) {
					free(*slots[i]);
					*slots[i] = v;
					used = 1;
				}
			if (!used)
				free(v);
			free(k);
			p = skip_ws(p);
			if (*p == ',') {
				p = skip_ws(p + 1);
				continue;
			}
			if (*p++ != '}')
				return -1;
			break;
		}
	}
	p = skip_ws(p);
	if (*p && *p != '\n')
		return -1;
	for (int i = 0; i < 6; i++)
		if (!*slots[i] && !(*slots[i] = calloc(1, 1)))
			return -1;
	if (!ex->cluster && !(ex->cluster = strdup(ex->entity)))
		return -1;
	*end = p;
	return 0;
}

static void example_release(struct example *ex)
{
	free(ex->id);
	free(ex->kind);
	free(ex->entity);
	free(ex->prompt);
	free(ex->answer);
	free(ex->target);
	free(ex->cluster);
}

int exset_parse(struct exset *s, const char *text, const char *name, struct tl_err *e)
{
	s->n = 0;
	int lines = 1;
	for (const char *q = text; *q; q++)
		lines += *q == '\n';
	s->ex = calloc((size_t)lines, sizeof *s->ex);
	if (!s->ex)
		return tl_fail(e, "out of memory");
	const char *p = text;
	int lineno = 0;
	while (*p) {
		lineno++;
		if (*p == '\n') {
			p++;
			continue;
		}
		const char *end;
		struct example *ex = &s->ex[s->n];
		if (parse_line(ex, p, &end)) {
			example_release(ex);
			memset(ex, 0, sizeof *ex);
			exset_release(s);
			return tl_fail(e, "%s:%d: malformed JSON line", name, lineno);
		}
		s->n++;
		p = *end ? end + 1 : end;
	}
	return 0;
}

int exset_load(struct exset *s, const char *dir, const char *name, struct tl_err *e)
{
	char *path = tl_path(dir, name);
	if (!path)
		return tl_fail(e, "out of memory");
	char *text = tl_read_file(path, NULL, e);
	int rc = -1;
	if (text)
		rc = exset_parse(s, text, path, e);
	free(text);
	free(path);
	return rc;
}

void exset_release(struct exset *s)
{
	for (int i = 0; i < s->n; i++)
		example_release(&s->ex[i]);
	free(s->ex);
	s->ex = NULL;
	s->n = 0;
}

int lines_load(struct lines *l, const char *dir, const char *name, struct tl_err *e)
{
	memset(l, 0, sizeof *l);
	char *path = tl_path(dir, name);
	if (!path)
		return tl_fail(e, "out of memory");
	l->buf = tl_read_file(path, NULL, e);
	free(path);
	if (!l->buf)
		return -1;
	int cap = 1;
	for (char *q = l->buf; *q; q++)
		cap += *q == '\n';
	l->line = calloc((size_t)cap, sizeof(char *));
	if (!l->line) {
		lines_release(l);
		return tl_fail(e, "out of memory");
	}
	char *q = l->buf;
	while (*q) {
		char *nl = strchr(q, '\n');
		if (nl)
			*nl = 0;
		if (*q)
			l->line[l->n++] = q;
		if (!nl)
			break;
		q = nl + 1;
	}
	return 0;
}

void lines_release(struct lines *l)
{
	free(l->line);
	free(l->buf);
	memset(l, 0, sizeof *l);
}
