/*
 * items: the per-item results of each evaluation directory (items.jsonl,
 * written by `toyllm eval`, format in stages/toyllm/evaltasks.h) and the WO
 * outcome its metrics.json names, kept per directory ("run") so the findings
 * can pair the same item ids across variants and bootstrap over clusters.
 * A directory without items.jsonl is a run without items (its cells can only
 * be compared by value).
 */
#include "report_model.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t metric_index(struct eval_run *run, const char *name)
{
	for (size_t i = 0; i < run->metrics_nr; i++)
		if (!strcmp(run->metrics[i], name))
			return i;
	run->metrics = xrealloc_or_die(run->metrics, (run->metrics_nr + 1) * sizeof(char *));
	run->metrics[run->metrics_nr] = dupstr(name);
	return run->metrics_nr++;
}

static int parse_line(struct eval_run *run, const char *line, size_t *rows_alloc,
		      size_t *lines_alloc)
{
	cJSON *o = cJSON_Parse(line);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
	const cJSON *cl = cJSON_GetObjectItemCaseSensitive(o, "cluster");
	const cJSON *vals = cJSON_GetObjectItemCaseSensitive(o, "values");
	if (!o || !cJSON_IsString(id) || !cJSON_IsString(cl) || !cJSON_IsObject(vals)) {
		cJSON_Delete(o);
		return -1;
	}
	for (const cJSON *v = vals->child; v; v = v->next)
		if (!cJSON_IsNumber(v)) {
			cJSON_Delete(o);
			return -1;
		}
	if (run->lines_nr == *lines_alloc) {
		*lines_alloc = *lines_alloc ? 2 * *lines_alloc : 256;
		run->ids = xrealloc_or_die(run->ids, *lines_alloc * sizeof(char *));
		run->clusters = xrealloc_or_die(run->clusters, *lines_alloc * sizeof(char *));
	}
	size_t li = run->lines_nr++;
	run->ids[li] = dupstr(id->valuestring);
	run->clusters[li] = dupstr(cl->valuestring);
	for (const cJSON *v = vals->child; v; v = v->next) {
		if (run->rows_nr == *rows_alloc) {
			*rows_alloc = *rows_alloc ? 2 * *rows_alloc : 1024;
			run->rows = xrealloc_or_die(run->rows, *rows_alloc * sizeof(*run->rows));
		}
		struct item_row *row = &run->rows[run->rows_nr++];
		row->line = li;
		row->metric = metric_index(run, v->string);
		row->value = v->valuedouble;
	}
	cJSON_Delete(o);
	return 0;
}

int items_add_dir(struct report *r, const char *dir, const char *model, const char *variant,
		  const char *evaluation, const char *wo_outcome, char *err, size_t errlen)
{
	r->runs = xrealloc_or_die(r->runs, (r->runs_nr + 1) * sizeof(*r->runs));
	struct eval_run *run = &r->runs[r->runs_nr++];
	memset(run, 0, sizeof(*run));
	run->model = dupstr(model);
	run->variant = dupstr(variant);
	run->evaluation = dupstr(evaluation);
	run->wo_outcome = wo_outcome ? dupstr(wo_outcome) : NULL;

	char path[4096];
	snprintf(path, sizeof(path), "%s/items.jsonl", dir);
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0; /* no per-item results */
	run->has_items = 1;
	size_t rows_alloc = 0, lines_alloc = 0, cap = 4096, len = 0;
	char *line = xrealloc_or_die(NULL, cap);
	long lineno = 0;
	int rc = 0, c;
	for (;;) {
		c = fgetc(f);
		if (c != EOF && c != '\n') {
			if (len + 2 > cap) {
				cap *= 2;
				line = xrealloc_or_die(line, cap);
			}
			line[len++] = (char)c;
			continue;
		}
		if (len || c == '\n')
			lineno++;
		line[len] = '\0';
		if (len && parse_line(run, line, &rows_alloc, &lines_alloc) < 0) {
			snprintf(err, errlen,
				 "'%s' line %ld: not an item (needs \"id\" and \"cluster\" strings and "
				 "a \"values\" object of numbers)",
				 path, lineno);
			rc = -1;
			break;
		}
		len = 0;
		if (c == EOF)
			break;
	}
	if (!rc && ferror(f)) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}

void items_release(struct report *r)
{
	for (size_t i = 0; i < r->runs_nr; i++) {
		struct eval_run *run = &r->runs[i];
		for (size_t k = 0; k < run->lines_nr; k++) {
			free(run->ids[k]);
			free(run->clusters[k]);
		}
		for (size_t k = 0; k < run->metrics_nr; k++)
			free(run->metrics[k]);
		free(run->ids);
		free(run->clusters);
		free(run->metrics);
		free(run->rows);
		free(run->model);
		free(run->variant);
		free(run->evaluation);
		free(run->seed);
		free(run->wo_outcome);
	}
	free(r->runs);
	r->runs = NULL;
	r->runs_nr = 0;
}

static int same_seed(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

const struct eval_run *items_find(const struct report *r, const char *metric, const char *model,
				  const char *variant, const char *seed, size_t *mi)
{
	for (size_t i = 0; i < r->runs_nr; i++) {
		const struct eval_run *run = &r->runs[i];
		if (!run->has_items || strcmp(run->model, model) || strcmp(run->variant, variant) ||
		    !same_seed(run->seed, seed))
			continue;
		for (size_t k = 0; k < run->metrics_nr; k++)
			if (!strcmp(run->metrics[k], metric)) {
				*mi = k;
				return run;
			}
	}
	return NULL;
}

const char *items_wo_outcome(const struct report *r, const char *model, const char *variant,
			     const char *seed)
{
	for (size_t i = 0; i < r->runs_nr; i++) {
		const struct eval_run *run = &r->runs[i];
		if (run->wo_outcome && !strcmp(run->model, model) &&
		    !strcmp(run->variant, variant) && same_seed(run->seed, seed))
			return run->wo_outcome;
	}
	return NULL;
}
