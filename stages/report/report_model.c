/*
 * report_model: loading evaluation outputs (metrics.json, parsed with cJSON)
 * into cells, and ordering the report's axes. See report_model.h.
 */
#include "report_model.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The report stage's one allocator: realloc that ends the process with
 * status 70 (EX_SOFTWARE) on out-of-memory; n = 0 allocates one byte. */
void *xrealloc_or_die(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fputs("study-report: fatal: out of memory\n", stderr);
		exit(70);
	}
	return q;
}

/* A copy of s from xrealloc_or_die. */
char *dupstr(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xrealloc_or_die(NULL, n);
	memcpy(p, s, n);
	return p;
}

void report_init(struct report *r) { memset(r, 0, sizeof(*r)); }

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void report_release(struct report *r)
{
	for (size_t i = 0; i < r->nr; i++) {
		free(r->cells[i].metric);
		free(r->cells[i].model);
		free(r->cells[i].variant);
		free(r->cells[i].evaluation);
		free(r->cells[i].seed);
	}
	free(r->cells);
	replicates_release(r);
	items_release(r);
	free_list(r->models, r->models_nr);
	free_list(r->variants, r->variants_nr);
	free_list(r->metrics, r->metrics_nr);
	memset(r, 0, sizeof(*r));
}

static int list_has(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

static void list_add(char ***v, size_t *n, const char *s)
{
	if (list_has(*v, *n, s))
		return;
	*v = xrealloc_or_die(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = dupstr(s);
}

static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 4096, len = 0;
	char *buf = xrealloc_or_die(NULL, cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			cap *= 2;
			buf = xrealloc_or_die(buf, cap);
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static const char *str_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int report_add_dir(struct report *r, const char *dir, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/metrics.json", dir);
	char *text;
	if (read_file(path, &text) < 0) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	cJSON *root = cJSON_Parse(text);
	free(text);
	const char *model = str_field(root, "model"), *variant = str_field(root, "variant");
	const char *evaluation = str_field(root, "evaluation");
	const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(root, "metrics");
	if (!root || !model || !variant || !evaluation || !cJSON_IsObject(metrics)) {
		snprintf(err, errlen,
			 "'%s' is not an evaluation output (needs \"model\", \"variant\", "
			 "\"evaluation\" strings and a \"metrics\" object)",
			 path);
		cJSON_Delete(root);
		return -1;
	}
	const char *wo_outcome = str_field(root, "wo_outcome");
	if (items_add_dir(r, dir, model, variant, evaluation, wo_outcome, err, errlen) < 0) {
		cJSON_Delete(root);
		return -1;
	}
	for (const cJSON *m = metrics->child; m; m = m->next) {
		const cJSON *val = cJSON_IsObject(m) ? cJSON_GetObjectItemCaseSensitive(m, "value") : m;
		if (!cJSON_IsNumber(val)) {
			snprintf(err, errlen, "'%s': metric '%s' has no numeric value", path,
				 m->string);
			cJSON_Delete(root);
			return -1;
		}
		if (r->nr == r->alloc) {
			r->alloc = r->alloc ? 2 * r->alloc : 64;
			r->cells = xrealloc_or_die(r->cells, r->alloc * sizeof(*r->cells));
		}
		struct cell *c = &r->cells[r->nr++];
		memset(c, 0, sizeof(*c));
		c->metric = dupstr(m->string);
		c->model = dupstr(model);
		c->variant = dupstr(variant);
		c->evaluation = dupstr(evaluation);
		c->value = val->valuedouble;
		if (cJSON_IsObject(m)) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "n");
			const cJSON *lo = cJSON_GetObjectItemCaseSensitive(m, "ci_low");
			const cJSON *hi = cJSON_GetObjectItemCaseSensitive(m, "ci_high");
			if (cJSON_IsNumber(n)) {
				c->has_n = 1;
				c->n = (long)n->valuedouble;
			}
			if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi)) {
				c->has_ci = 1;
				c->ci_low = lo->valuedouble;
				c->ci_high = hi->valuedouble;
			}
		}
		list_add(&r->models, &r->models_nr, model);
		list_add(&r->variants, &r->variants_nr, variant);
		list_add(&r->metrics, &r->metrics_nr, m->string);
	}
	cJSON_Delete(root);
	return 0;
}

static int variant_rank(const char *v)
{
	if (!strcmp(v, "base"))
		return 0;
	return strchr(v, '+') ? 2 : 1;
}

static int cmp_variants(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	int rx = variant_rank(x), ry = variant_rank(y);
	if (rx != ry)
		return rx - ry;
	return strcmp(x, y);
}

static const struct report *sort_ctx;

static int cmp_metrics(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	int c = strcmp(report_metric_evaluation(sort_ctx, x), report_metric_evaluation(sort_ctx, y));
	return c ? c : strcmp(x, y);
}

void report_finish(struct report *r)
{
	qsort(r->variants, r->variants_nr, sizeof(char *), cmp_variants);
	sort_ctx = r;
	qsort(r->metrics, r->metrics_nr, sizeof(char *), cmp_metrics);
	sort_ctx = NULL;
}

const struct cell *report_get(const struct report *r, const char *metric, const char *model,
			      const char *variant)
{
	for (size_t i = 0; i < r->nr; i++) {
		const struct cell *c = &r->cells[i];
		if (!strcmp(c->metric, metric) && !strcmp(c->model, model) &&
		    !strcmp(c->variant, variant))
			return c;
	}
	return NULL;
}

const char *report_metric_evaluation(const struct report *r, const char *metric)
{
	for (size_t i = 0; i < r->nr; i++)
		if (!strcmp(r->cells[i].metric, metric))
			return r->cells[i].evaluation;
	return "";
}

int report_metric_n(const struct report *r, const char *metric, long *lo, long *hi)
{
	int any = 0;
	for (size_t i = 0; i < r->nr; i++) {
		const struct cell *c = &r->cells[i];
		if (!c->has_n || strcmp(c->metric, metric))
			continue;
		if (!any || c->n < *lo)
			*lo = c->n;
		if (!any || c->n > *hi)
			*hi = c->n;
		any = 1;
	}
	return any;
}
