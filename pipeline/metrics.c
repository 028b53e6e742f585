/*
 * metrics: the parser of a stage's ${out}/metrics.json, part of the stage
 * protocol (format: docs/provenance.md, "metrics.json"). No I/O: it reads the
 * text it is given; prov.c records what it yields.
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

static int metric_error(struct strbuf *err, const char *stage_id, const char *fmt,
			const char *arg)
{
	strbuf_addf(err, "stage '%s': invalid metrics.json: ", stage_id ? stage_id : "");
	strbuf_addf(err, fmt, arg);
	return -1;
}

static const char *top_string(const cJSON *root, const char *key, const char *dflt, int *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	if (!v)
		return dflt;
	if (!cJSON_IsString(v)) {
		*bad = 1;
		return NULL;
	}
	return v->valuestring;
}

static int is_reserved_key(const char *k)
{
	return !strcmp(k, "evaluation") || !strcmp(k, "model") || !strcmp(k, "variant");
}

/* Fill m from one metric member (a number or {value, n?, ci_low?, ci_high?}). */
static int read_metric(const cJSON *item, struct metric *m, const char *stage_id,
		       struct strbuf *err)
{
	const char *name = item->string;
	const cJSON *v = item;
	m->name = name;
	m->has_n = m->has_ci_low = m->has_ci_high = 0;
	m->n = 0;
	m->ci_low = m->ci_high = 0;
	if (cJSON_IsObject(item)) {
		v = cJSON_GetObjectItemCaseSensitive(item, "value");
		if (!v)
			return metric_error(err, stage_id, "metric '%s' has no \"value\"", name);
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(item, "n");
		const cJSON *lo = cJSON_GetObjectItemCaseSensitive(item, "ci_low");
		const cJSON *hi = cJSON_GetObjectItemCaseSensitive(item, "ci_high");
		if (n && !cJSON_IsNull(n)) {
			double d = n->valuedouble;
			if (!cJSON_IsNumber(n) || !isfinite(d) || d < 0 || d != floor(d) || d > 9e15)
				return metric_error(err, stage_id,
						    "metric '%s': \"n\" is not a non-negative integer",
						    name);
			m->has_n = 1;
			m->n = (long long)d;
		}
		if (lo && !cJSON_IsNull(lo)) {
			if (!cJSON_IsNumber(lo) || !isfinite(lo->valuedouble))
				return metric_error(err, stage_id,
						    "metric '%s': \"ci_low\" is not a number", name);
			m->has_ci_low = 1;
			m->ci_low = lo->valuedouble;
		}
		if (hi && !cJSON_IsNull(hi)) {
			if (!cJSON_IsNumber(hi) || !isfinite(hi->valuedouble))
				return metric_error(err, stage_id,
						    "metric '%s': \"ci_high\" is not a number", name);
			m->has_ci_high = 1;
			m->ci_high = hi->valuedouble;
		}
	}
	if (!cJSON_IsNumber(v))
		return metric_error(err, stage_id, "metric '%s' is not a number", name);
	if (!isfinite(v->valuedouble))
		return metric_error(err, stage_id, "metric '%s' is not a finite number", name);
	m->value = v->valuedouble;
	return 0;
}

/* A flat-form member is a metric when it is a number or an object with "value". */
static int is_flat_metric(const cJSON *item)
{
	if (cJSON_IsNumber(item))
		return 1;
	return cJSON_IsObject(item) && cJSON_GetObjectItemCaseSensitive(item, "value") != NULL;
}

static int seen_before(const cJSON *first, const cJSON *item)
{
	for (const cJSON *c = first; c && c != item; c = c->next)
		if (c->string && !strcmp(c->string, item->string))
			return 1;
	return 0;
}

int metrics_parse(const char *stage_id, const char *json, const char *evaluation,
		  const char *model, const char *variant, metric_fn fn, void *data,
		  struct strbuf *err)
{
	const char *end = NULL;
	char off[32];
	int ret = -1, bad = 0;
	cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
	if (!root) {
		snprintf(off, sizeof(off), "%ld", end ? (long)(end - json) : 0L);
		return metric_error(err, stage_id, "not valid JSON (error at byte %s)", off);
	}
	if (!cJSON_IsObject(root)) {
		metric_error(err, stage_id, "%s", "the top level is not an object");
		goto out;
	}
	struct metric m;
	m.evaluation = top_string(root, "evaluation", evaluation, &bad);
	m.model = top_string(root, "model", model, &bad);
	m.variant = top_string(root, "variant", variant, &bad);
	if (bad) {
		metric_error(err, stage_id, "%s",
			     "\"evaluation\", \"model\" and \"variant\" must be strings");
		goto out;
	}
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "metrics");
	int flat = list == NULL;
	if (flat) {
		list = root;
	} else if (!cJSON_IsObject(list)) {
		metric_error(err, stage_id, "%s", "\"metrics\" is not an object");
		goto out;
	}
	for (const cJSON *item = list->child; item; item = item->next) {
		if (flat && (is_reserved_key(item->string) || !is_flat_metric(item)))
			continue;
		if (!*item->string) {
			metric_error(err, stage_id, "%s", "a metric has an empty name");
			goto out;
		}
		if (seen_before(list->child, item)) {
			metric_error(err, stage_id, "metric '%s' appears twice", item->string);
			goto out;
		}
		if (read_metric(item, &m, stage_id, err) < 0)
			goto out;
		if (fn && fn(&m, data) < 0)
			goto out;
	}
	ret = 0;
out:
	cJSON_Delete(root);
	return ret;
}
