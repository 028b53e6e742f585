/*
 * replicates: evaluations replicated over seeds. `study-report --seeds LIST`
 * gives the seed of each evaluation directory, in order (a study passes its
 * ${evaluations.seeds}). Cells that differ only by seed become one cell of
 * the tables, the charts and the findings: the mean over the seeds, with the
 * sample standard deviation between them, their min and max; the per-seed
 * cells are kept for the rows under each model and for report.json. Two
 * outputs for one (metric, model, variant) and one seed — or for one cell
 * with and without a seed — are an error, never a silent overwrite. A report
 * without seeds is left exactly as it was.
 */
#include "report_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dupn(const char *s, size_t n)
{
	char *p = xrealloc_or_die(NULL, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void replicates_free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int replicates_parse(const char *list, size_t want, char ***out, char *err, size_t errlen)
{
	char **v = NULL;
	size_t n = 0;
	for (const char *s = list;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		v = xrealloc_or_die(v, (n + 1) * sizeof(*v));
		v[n++] = dupn(s, len);
		if (!comma)
			break;
		s = comma + 1;
	}
	if (n != want) {
		snprintf(err, errlen, "--seeds lists %zu item%s for %zu evaluation director%s", n,
			 n == 1 ? "" : "s", want, want == 1 ? "y" : "ies");
		replicates_free_list(v, n);
		return -1;
	}
	*out = v;
	return 0;
}

void replicates_label(struct report *r, size_t from, const char *seed)
{
	if (!seed || !*seed)
		return;
	for (size_t i = from; i < r->nr; i++)
		r->cells[i].seed = dupn(seed, strlen(seed));
	/* the run report_add_dir appended for these cells (items.c) */
	if (r->runs_nr && !r->runs[r->runs_nr - 1].seed)
		r->runs[r->runs_nr - 1].seed = dupn(seed, strlen(seed));
	for (size_t i = 0; i < r->seeds_nr; i++)
		if (!strcmp(r->seeds[i], seed))
			return;
	r->seeds = xrealloc_or_die(r->seeds, (r->seeds_nr + 1) * sizeof(*r->seeds));
	r->seeds[r->seeds_nr++] = dupn(seed, strlen(seed));
}

static int same_cell(const struct cell *a, const struct cell *b)
{
	return !strcmp(a->metric, b->metric) && !strcmp(a->model, b->model) &&
	       !strcmp(a->variant, b->variant);
}

static int same_seed(const struct cell *a, const struct cell *b)
{
	return (!a->seed && !b->seed) || (a->seed && b->seed && !strcmp(a->seed, b->seed));
}

int replicates_aggregate(struct report *r, char *err, size_t errlen)
{
	int any = 0;
	for (size_t i = 0; i < r->nr; i++) {
		any |= r->cells[i].seed != NULL;
		for (size_t j = i + 1; j < r->nr; j++) {
			const struct cell *a = &r->cells[i], *b = &r->cells[j];
			if (!same_cell(a, b))
				continue;
			if (same_seed(a, b)) {
				if (a->seed)
					snprintf(err, errlen,
						 "two evaluation outputs give metric '%s' of model '%s', "
						 "variant '%s', seed %s",
						 a->metric, a->model, a->variant, a->seed);
				else
					snprintf(err, errlen,
						 "two evaluation outputs give metric '%s' of model '%s', "
						 "variant '%s'; replicates need their seeds (--seeds)",
						 a->metric, a->model, a->variant);
				return -1;
			}
			if (!a->seed || !b->seed) {
				snprintf(err, errlen,
					 "metric '%s' of model '%s', variant '%s' comes both with and "
					 "without a seed",
					 a->metric, a->model, a->variant);
				return -1;
			}
		}
	}
	if (!any)
		return 0;

	size_t nr = r->nr, an = 0, rn = 0;
	struct cell *agg = xrealloc_or_die(NULL, nr * sizeof(*agg));
	struct cell *reps = xrealloc_or_die(NULL, nr * sizeof(*reps));
	char *done = xrealloc_or_die(NULL, nr);
	memset(done, 0, nr);
	for (size_t i = 0; i < nr; i++) {
		if (done[i])
			continue;
		done[i] = 1;
		if (!r->cells[i].seed) {
			agg[an++] = r->cells[i]; /* moves its strings */
			continue;
		}
		const struct cell *c0 = &r->cells[i];
		struct cell a;
		memset(&a, 0, sizeof(a));
		a.metric = dupn(c0->metric, strlen(c0->metric));
		a.model = dupn(c0->model, strlen(c0->model));
		a.variant = dupn(c0->variant, strlen(c0->variant));
		a.evaluation = dupn(c0->evaluation, strlen(c0->evaluation));
		a.min = a.max = c0->value;
		double sum = 0;
		size_t first = rn;
		for (size_t j = i; j < nr; j++) {
			if (j != i && (done[j] || !same_cell(c0, &r->cells[j])))
				continue;
			done[j] = 1;
			const struct cell *c = &r->cells[j];
			sum += c->value;
			a.min = fmin(a.min, c->value);
			a.max = fmax(a.max, c->value);
			a.seeds_nr++;
			reps[rn++] = *c;
		}
		a.value = sum / a.seeds_nr;
		double ss = 0;
		for (size_t j = first; j < rn; j++)
			ss += (reps[j].value - a.value) * (reps[j].value - a.value);
		a.sd = a.seeds_nr > 1 ? sqrt(ss / (a.seeds_nr - 1)) : 0;
		agg[an++] = a;
	}
	free(done);
	free(r->cells);
	r->cells = agg;
	r->nr = r->alloc = an;
	r->replicates = reps;
	r->replicates_nr = rn;
	return 0;
}

static void free_cell(struct cell *c)
{
	free(c->metric);
	free(c->model);
	free(c->variant);
	free(c->evaluation);
	free(c->seed);
}

void replicates_release(struct report *r)
{
	for (size_t i = 0; i < r->replicates_nr; i++)
		free_cell(&r->replicates[i]);
	free(r->replicates);
	replicates_free_list(r->seeds, r->seeds_nr);
	r->replicates = NULL;
	r->replicates_nr = 0;
	r->seeds = NULL;
	r->seeds_nr = 0;
}

const struct cell *replicates_get(const struct report *r, const char *metric, const char *model,
				  const char *variant, const char *seed)
{
	for (size_t i = 0; i < r->replicates_nr; i++) {
		const struct cell *c = &r->replicates[i];
		if (!strcmp(c->metric, metric) && !strcmp(c->model, model) &&
		    !strcmp(c->variant, variant) && !strcmp(c->seed, seed))
			return c;
	}
	return NULL;
}

/* ---- report.md and report.json ---------------------------------------------------- */

void replicates_md_intro(const struct report *r, struct outbuf *o)
{
	if (!r->seeds_nr)
		return;
	ob_addf(o, "\nReplicated over %zu seed%s (", r->seeds_nr, r->seeds_nr == 1 ? "" : "s");
	for (size_t i = 0; i < r->seeds_nr; i++)
		ob_addf(o, "%s%s", i ? ", " : "", r->seeds[i]);
	ob_add(o, "): a model's first row gives the mean over seeds ± the standard deviation "
		  "between them (the findings and charts use the mean); the rows under it give "
		  "each seed's value.\n");
}

int replicates_md_cell(struct outbuf *o, const struct cell *c)
{
	if (!c || !c->seeds_nr)
		return 0;
	ob_addf(o, " %.3f ± %.3f |", c->value, c->sd);
	return 1;
}

void replicates_md_rows(const struct report *r, const char *metric, const char *model,
			void (*cell)(struct outbuf *o, const struct cell *c), struct outbuf *o)
{
	for (size_t s = 0; s < r->seeds_nr; s++) {
		int any = 0;
		for (size_t v = 0; v < r->variants_nr && !any; v++)
			any = replicates_get(r, metric, model, r->variants[v], r->seeds[s]) != NULL;
		if (!any)
			continue;
		ob_addf(o, "| %s · seed %s |", model, r->seeds[s]);
		for (size_t v = 0; v < r->variants_nr; v++)
			cell(o, replicates_get(r, metric, model, r->variants[v], r->seeds[s]));
		ob_add(o, "\n");
	}
}

void replicates_json_cell(const struct report *r, const struct cell *c, struct outbuf *o)
{
	if (!c->seeds_nr)
		return;
	ob_addf(o, ", \"seeds\": %d, \"sd\": %.6f, \"min\": %.6f, \"max\": %.6f, \"per_seed\": [",
		c->seeds_nr, c->sd, c->min, c->max);
	int first = 1;
	for (size_t s = 0; s < r->seeds_nr; s++) {
		const struct cell *x = replicates_get(r, c->metric, c->model, c->variant, r->seeds[s]);
		if (!x)
			continue;
		ob_add(o, first ? "{\"seed\": " : ", {\"seed\": ");
		first = 0;
		ob_json_str(o, x->seed);
		ob_addf(o, ", \"value\": %.6f", x->value);
		if (x->has_n)
			ob_addf(o, ", \"n\": %ld", x->n);
		if (x->has_ci)
			ob_addf(o, ", \"ci_low\": %.6f, \"ci_high\": %.6f", x->ci_low, x->ci_high);
		ob_add(o, "}");
	}
	ob_add(o, "]");
}

void replicates_json_seeds(const struct report *r, struct outbuf *o)
{
	if (!r->seeds_nr)
		return;
	ob_add(o, ",\n  \"seeds\": [");
	for (size_t i = 0; i < r->seeds_nr; i++) {
		ob_add(o, i ? ", " : "");
		ob_json_str(o, r->seeds[i]);
	}
	ob_add(o, "]");
}
