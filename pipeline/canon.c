/*
 * canon: canonical JSON serialisation (sorted keys). See canon.h.
 */
#include "canon.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int cmp_items(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

void canon_number(double d, struct strbuf *out)
{
	if (!isfinite(d)) {
		strbuf_addstr(out, "null");
		return;
	}
	/* range first: converting a double outside long long's range is undefined */
	if (fabs(d) < 1e15 && d == (double)(long long)d) {
		strbuf_addf(out, "%lld", (long long)d);
		return;
	}
	/* shortest %.Ng that round-trips */
	char buf[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	strbuf_addstr(out, buf);
}

void canon_json(const cJSON *v, struct strbuf *out)
{
	if (!v || cJSON_IsNull(v)) {
		strbuf_addstr(out, "null");
	} else if (cJSON_IsFalse(v)) {
		strbuf_addstr(out, "false");
	} else if (cJSON_IsTrue(v)) {
		strbuf_addstr(out, "true");
	} else if (cJSON_IsNumber(v)) {
		canon_number(v->valuedouble, out);
	} else if (cJSON_IsRaw(v)) {
		strbuf_addstr(out, v->valuestring); /* exact number text from the loader */
	} else if (cJSON_IsString(v)) {
		strbuf_add_json_str(out, v->valuestring);
	} else if (cJSON_IsArray(v)) {
		strbuf_addch(out, '[');
		int first = 1;
		for (const cJSON *c = v->child; c; c = c->next) {
			if (!first)
				strbuf_addch(out, ',');
			first = 0;
			canon_json(c, out);
		}
		strbuf_addch(out, ']');
	} else if (cJSON_IsObject(v)) {
		size_t n = 0;
		for (const cJSON *c = v->child; c; c = c->next)
			n++;
		const cJSON **items = xmalloc((n ? n : 1) * sizeof(*items));
		n = 0;
		for (const cJSON *c = v->child; c; c = c->next)
			items[n++] = c;
		qsort(items, n, sizeof(*items), cmp_items);
		strbuf_addch(out, '{');
		for (size_t i = 0; i < n; i++) {
			if (i)
				strbuf_addch(out, ',');
			strbuf_add_json_str(out, items[i]->string ? items[i]->string : "");
			strbuf_addch(out, ':');
			canon_json(items[i], out);
		}
		strbuf_addch(out, '}');
		free(items);
	} else {
		strbuf_addstr(out, "null");
	}
}

void canon_scalar_text(const cJSON *v, struct strbuf *out)
{
	if (cJSON_IsString(v))
		strbuf_addstr(out, v->valuestring);
	else if (cJSON_IsNumber(v))
		canon_number(v->valuedouble, out);
	else if (cJSON_IsRaw(v))
		strbuf_addstr(out, v->valuestring);
	else if (cJSON_IsTrue(v))
		strbuf_addstr(out, "true");
	else if (cJSON_IsFalse(v))
		strbuf_addstr(out, "false");
}

/* Past the JSON string that starts at p (a '"'), or NULL when unterminated. */
static const char *skip_string(const char *p)
{
	for (p++; *p != '"'; p++) {
		if (!*p)
			return NULL;
		if (*p == '\\' && !*++p)
			return NULL;
	}
	return p + 1;
}

/* Past the JSON value that starts at p (checks nesting only), or NULL. */
static const char *skip_value(const char *p)
{
	int depth = 0;

	if (*p == '"')
		return skip_string(p);
	if (*p != '{' && *p != '[') {
		while (*p && *p != ',' && *p != '}' && *p != ']')
			p++;
		return p;
	}
	do {
		if (!*p)
			return NULL;
		if (*p == '"') {
			p = skip_string(p);
			if (!p)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			depth--;
		p++;
	} while (depth);
	return p;
}

int canon_iter_start(struct canon_iter *it, const char *text, size_t len)
{
	it->p = it->end = NULL;
	it->array = 0;
	if (!text || len < 2 || (text[0] != '{' && text[0] != '['))
		return -1;
	it->array = text[0] == '[';
	if (text[len - 1] != (it->array ? ']' : '}'))
		return -1;
	it->p = text + 1;
	it->end = text + len - 1; /* the closing bracket */
	return 0;
}

int canon_iter_next(struct canon_iter *it, const char **key, size_t *klen, const char **val,
		    size_t *vlen)
{
	const char *p = it->p;
	if (!p)
		return -1;
	if (p == it->end)
		return 0;
	*key = NULL;
	*klen = 0;
	if (!it->array) {
		const char *e = *p == '"' ? skip_string(p) : NULL;
		if (!e || e >= it->end || *e != ':')
			return -1;
		*key = p + 1;
		*klen = (size_t)(e - 1 - (p + 1));
		p = e + 1;
	}
	const char *ve = skip_value(p);
	if (!ve || ve == p || ve > it->end)
		return -1;
	*val = p;
	*vlen = (size_t)(ve - p);
	if (ve == it->end)
		it->p = ve;
	else if (*ve == ',' && ve + 1 < it->end)
		it->p = ve + 1;
	else
		return -1;
	return 1;
}

int canon_member(const char *text, const char *name, const char **val, size_t *len)
{
	struct canon_iter it;
	const char *k, *v;
	size_t kl, vl, n = strlen(name);
	int rc;

	if (!text || canon_iter_start(&it, text, strlen(text)) < 0 || it.array)
		return -1;
	while ((rc = canon_iter_next(&it, &k, &kl, &v, &vl)) == 1) {
		if (kl == n && !memcmp(k, name, n)) {
			*val = v;
			*len = vl;
			return 0;
		}
	}
	return -1;
}
