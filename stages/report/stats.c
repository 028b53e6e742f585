/*
 * stats: one finding test's pooled paired effect with a clustered,
 * seed-aware bootstrap interval.
 *
 * For a test "metric(a) - metric(b)" and each model-seed cell:
 *   - the items of variant a and of variant b for that metric are paired by
 *     item id (the evaluations use the same items for every variant); each
 *     pair gives d = value_a - value_b, and the pairs are grouped by the
 *     item's cluster (its entity): sum of d and count per cluster;
 *   - the cell's effect is sum d / count (the paired mean difference);
 *   - a cell whose model's method found no admissible WO direction
 *     (wo_outcome "none" for the method a variant starts with) is left out
 *     and counted;
 *   - a cell without items.jsonl on either side falls back to the difference
 *     of the two cells' values (counted; then no interval is given).
 * The pooled effect is the mean over models of the mean over that model's
 * seeds (every model weighs the same; each seed within a model too).
 *
 * The 95% interval is a two-stage percentile bootstrap (FINDINGS_BOOT
 * replicates, a fixed seed, so the report is deterministic): per replicate,
 * for each model its seeds are resampled with replacement (this carries the
 * between-seed spread into the interval), then within each drawn seed its
 * clusters are resampled with replacement (clustered items: the phrasings of
 * one entity move together), and the pooled effect is recomputed. A
 * bootstrap can not see variation that never occurred: when no item of a
 * cell differs between the variants (a floor or ceiling: every item 0 in
 * both), that cell adds nothing to the interval's width. So each such cell
 * contributes 3/C (the "rule of three": with no discordant cluster out of C,
 * the 95% bound on the discordant share is 3/C, and a cluster's mean
 * difference is at most 1), averaged like the estimate (mean over models of
 * the mean over seeds; 0 for cells where some pair differs), and the
 * interval is at least the estimate +- that floor; with 100 clusters a cell
 * that never changes still bounds its effect by +-0.03. The
 * between-seed spread is also reported directly: the sample standard
 * deviation, min and max over seeds of the effect pooled over models within
 * each seed. The minimum detectable effect (80% power, two-sided 5%) is
 * (1.96 + 0.84) x SE with SE = interval width / (2 x 1.96).
 *
 * References: Davison & Hinkley 1997, "Bootstrap Methods and their
 * Application", section 3.8 (resampling clustered / hierarchical data:
 * resample the top level, then within it); Field & Welsh 2007 (cluster
 * bootstrap).
 */
#include "report_model.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: the bootstrap's generator (fixed seed, same stream everywhere) */
static uint64_t next_u64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static size_t below(uint64_t *s, size_t n)
{
	return (size_t)(next_u64(s) % (uint64_t)n); /* bias < n / 2^64: negligible */
}

struct fxcell {
	size_t model;  /* index into r->models */
	size_t nc;     /* clusters (0: value only) */
	double *sum;
	long *cnt;
	long n;
	double est;
	int discordant; /* some pair differs */
};

struct pairrow {
	const char *id, *cluster;
	double v;
};

static int cmp_id(const void *a, const void *b)
{
	return strcmp(((const struct pairrow *)a)->id, ((const struct pairrow *)b)->id);
}

static int cmp_cluster(const void *a, const void *b)
{
	const struct pairrow *x = a, *y = b;
	int c = strcmp(x->cluster, y->cluster);
	return c ? c : strcmp(x->id, y->id);
}

/* The rows of one metric in a run, sorted by id. */
static struct pairrow *rows_of(const struct eval_run *run, size_t mi, size_t *n)
{
	struct pairrow *p = xrealloc_or_die(NULL, (run->rows_nr + 1) * sizeof(*p));
	size_t k = 0;
	for (size_t i = 0; i < run->rows_nr; i++)
		if (run->rows[i].metric == mi) {
			p[k].id = run->ids[run->rows[i].line];
			p[k].cluster = run->clusters[run->rows[i].line];
			p[k].v = run->rows[i].value;
			k++;
		}
	qsort(p, k, sizeof(*p), cmp_id);
	*n = k;
	return p;
}

/* Pairs a's and b's items by id into c (clusters from a). 0 when no pair. */
static int pair_cell(const struct eval_run *ra, size_t ma, const struct eval_run *rb, size_t mb,
		     struct fxcell *c)
{
	size_t na, nb;
	struct pairrow *pa = rows_of(ra, ma, &na), *pb = rows_of(rb, mb, &nb);
	struct pairrow *d = xrealloc_or_die(NULL, (na + 1) * sizeof(*d));
	size_t nd = 0;
	for (size_t i = 0, j = 0; i < na && j < nb;) {
		int cmp = strcmp(pa[i].id, pb[j].id);
		if (cmp < 0)
			i++;
		else if (cmp > 0)
			j++;
		else {
			d[nd] = pa[i];
			d[nd++].v = pa[i].v - pb[j].v;
			i++;
			j++;
		}
	}
	qsort(d, nd, sizeof(*d), cmp_cluster);
	c->sum = xrealloc_or_die(NULL, (nd + 1) * sizeof(double));
	c->cnt = xrealloc_or_die(NULL, (nd + 1) * sizeof(long));
	c->nc = 0;
	c->n = (long)nd;
	double total = 0;
	for (size_t i = 0; i < nd; i++) {
		if (!i || strcmp(d[i].cluster, d[i - 1].cluster)) {
			c->sum[c->nc] = 0;
			c->cnt[c->nc++] = 0;
		}
		c->sum[c->nc - 1] += d[i].v;
		c->cnt[c->nc - 1]++;
		total += d[i].v;
		c->discordant |= d[i].v != 0;
	}
	c->est = nd ? total / (double)nd : 0;
	free(pa);
	free(pb);
	free(d);
	return nd > 0;
}

/* The method a variant starts with ("wo" for "wo+sft"), into buf. */
static void method_of(const char *variant, char *buf, size_t len)
{
	size_t n = strcspn(variant, "+");
	if (n >= len)
		n = len - 1;
	memcpy(buf, variant, n);
	buf[n] = '\0';
}

static int no_direction(const struct report *r, const char *model, const char *variant,
			const char *seed)
{
	char m[128];
	method_of(variant, m, sizeof(m));
	if (!strcmp(m, "base"))
		return 0;
	const char *o = items_wo_outcome(r, model, m, seed);
	if (!o)
		o = items_wo_outcome(r, model, variant, seed);
	return o && !strcmp(o, "none");
}

static const struct cell *cell_value(const struct report *r, const char *metric,
				     const char *model, const char *variant, const char *seed)
{
	return seed ? replicates_get(r, metric, model, variant, seed)
		    : report_get(r, metric, model, variant);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void stats_effect(const struct report *r, struct effect_test *t, unsigned seed)
{
	size_t ns = r->seeds_nr ? r->seeds_nr : 1;
	struct fxcell *cells = xrealloc_or_die(NULL, (r->models_nr * ns + 1) * sizeof(*cells));
	size_t *cell_seed = xrealloc_or_die(NULL, (r->models_nr * ns + 1) * sizeof(size_t));
	size_t nc = 0;
	int seen = 0;
	t->n_lo = t->n_hi = t->clusters_lo = t->clusters_hi = 0;
	t->cells = t->cells_value_only = t->excluded_wo = 0;
	t->has_ci = 0;
	for (size_t m = 0; m < r->models_nr; m++)
		for (size_t s = 0; s < ns; s++) {
			const char *model = r->models[m], *sd = r->seeds_nr ? r->seeds[s] : NULL;
			size_t ma, mb;
			const struct eval_run *ra = items_find(r, t->metric, model, t->a, sd, &ma);
			const struct eval_run *rb = items_find(r, t->metric, model, t->b, sd, &mb);
			const struct cell *ca = cell_value(r, t->metric, model, t->a, sd);
			const struct cell *cb = cell_value(r, t->metric, model, t->b, sd);
			if (!(ra && rb) && !(ca && cb))
				continue;
			if (no_direction(r, model, t->a, sd) || no_direction(r, model, t->b, sd)) {
				t->excluded_wo++;
				continue;
			}
			struct fxcell *c = &cells[nc];
			memset(c, 0, sizeof(*c));
			c->model = m;
			if (ra && rb) {
				if (!pair_cell(ra, ma, rb, mb, c)) {
					free(c->sum);
					free(c->cnt);
					continue;
				}
			} else {
				c->est = ca->value - cb->value;
				t->cells_value_only++;
			}
			if (c->nc) {
				if (!seen || c->n < t->n_lo)
					t->n_lo = c->n;
				if (!seen || c->n > t->n_hi)
					t->n_hi = c->n;
				if (!seen || (long)c->nc < t->clusters_lo)
					t->clusters_lo = (long)c->nc;
				if (!seen || (long)c->nc > t->clusters_hi)
					t->clusters_hi = (long)c->nc;
				seen = 1;
			}
			cell_seed[nc] = s;
			t->cells++;
			nc++;
		}
	if (!nc) {
		free(cells);
		free(cell_seed);
		return;
	}

	/* cells of each model, in order */
	size_t *first = xrealloc_or_die(NULL, (r->models_nr + 1) * sizeof(size_t));
	size_t *count = xrealloc_or_die(NULL, (r->models_nr + 1) * sizeof(size_t));
	size_t models = 0;
	for (size_t m = 0; m < r->models_nr; m++) {
		count[m] = 0;
		first[m] = 0;
		for (size_t i = 0; i < nc; i++)
			if (cells[i].model == m) {
				if (!count[m])
					first[m] = i;
				count[m]++;
			}
		models += count[m] > 0;
	}
	/* the point estimate */
	double est = 0;
	for (size_t m = 0; m < r->models_nr; m++) {
		if (!count[m])
			continue;
		double s = 0;
		for (size_t k = 0; k < count[m]; k++)
			s += cells[first[m] + k].est;
		est += s / (double)count[m];
	}
	t->est = est / (double)models;

	/* between seeds: the effect pooled over models within each seed */
	t->seeds = 0;
	double ssum = 0, ssq = 0;
	for (size_t s = 0; s < ns; s++) {
		double e = 0;
		int k = 0;
		for (size_t i = 0; i < nc; i++)
			if (cell_seed[i] == s) {
				e += cells[i].est;
				k++;
			}
		if (!k)
			continue;
		e /= k;
		if (!t->seeds || e < t->seed_min)
			t->seed_min = e;
		if (!t->seeds || e > t->seed_max)
			t->seed_max = e;
		t->seeds++;
		ssum += e;
		ssq += e * e;
	}
	double smean = ssum / t->seeds;
	t->seed_sd = t->seeds > 1 ? sqrt(fmax(0, (ssq - t->seeds * smean * smean) / (t->seeds - 1)))
				  : 0;

	/* the two-stage bootstrap, when every cell has items */
	if (!t->cells_value_only) {
		uint64_t st = ((uint64_t)seed << 32) ^ 0x5DEECE66DULL;
		double *rep = xrealloc_or_die(NULL, FINDINGS_BOOT * sizeof(double));
		for (int b = 0; b < FINDINGS_BOOT; b++) {
			double total = 0;
			for (size_t m = 0; m < r->models_nr; m++) {
				if (!count[m])
					continue;
				double ms = 0;
				for (size_t k = 0; k < count[m]; k++) {
					const struct fxcell *c =
						&cells[first[m] + (count[m] > 1 ? below(&st, count[m]) : 0)];
					double sd = 0;
					long sn = 0;
					for (size_t j = 0; j < c->nc; j++) {
						size_t q = below(&st, c->nc);
						sd += c->sum[q];
						sn += c->cnt[q];
					}
					ms += sn ? sd / (double)sn : c->est;
				}
				total += ms / (double)count[m];
			}
			rep[b] = total / (double)models;
		}
		qsort(rep, FINDINGS_BOOT, sizeof(double), cmp_double);
		t->ci_low = rep[(size_t)floor(0.025 * FINDINGS_BOOT)];
		t->ci_high = rep[(size_t)ceil(0.975 * FINDINGS_BOOT) - 1];
		/* the rule-of-three floor: est +- mean over models of the mean over
		 * seeds of 3 / clusters, for cells where no pair differs */
		double floor3 = 0;
		for (size_t m = 0; m < r->models_nr; m++) {
			if (!count[m])
				continue;
			double f = 0;
			for (size_t k = 0; k < count[m]; k++)
				if (!cells[first[m] + k].discordant)
					f += 3.0 / (double)cells[first[m] + k].nc;
			floor3 += f / (double)count[m];
		}
		floor3 /= (double)models;
		t->ci_low = fmin(t->ci_low, t->est - floor3);
		t->ci_high = fmax(t->ci_high, t->est + floor3);
		t->has_ci = 1;
		t->mde = (1.96 + 0.8416) * (t->ci_high - t->ci_low) / (2 * 1.96);
		free(rep);
	}
	for (size_t i = 0; i < nc; i++) {
		free(cells[i].sum);
		free(cells[i].cnt);
	}
	free(cells);
	free(cell_seed);
	free(first);
	free(count);
}
