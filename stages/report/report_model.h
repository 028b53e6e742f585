/*
 * report_model: the numbers a report is made of. Every (metric, model,
 * variant) cell with its value and optional n and 95% interval, plus the
 * first-appearance order of models and the canonical order of variants
 * (base, then plain methods, then method+mitigation, each alphabetical).
 */
#ifndef REPORT_MODEL_H
#define REPORT_MODEL_H

#include <stddef.h>

struct cell {
	char *metric, *model, *variant, *evaluation;
	double value;
	int has_n, has_ci;
	long n;
	double ci_low, ci_high;
	/* replicates.c: the seed of a per-seed cell (NULL when not replicated);
	 * in a cell that aggregates seeds, their number (0 otherwise), the
	 * sample standard deviation between them, min and max */
	char *seed;
	int seeds_nr;
	double sd, min, max;
};

struct report {
	struct cell *cells;
	size_t nr, alloc;
	char **models;   /* first-appearance order */
	size_t models_nr;
	char **variants; /* canonical order (see above) */
	size_t variants_nr;
	char **metrics;  /* sorted by evaluation, then metric name */
	size_t metrics_nr;
	/* replicates.c: the per-seed cells behind aggregated ones, and the
	 * seeds in first-appearance order (none when nothing is replicated) */
	struct cell *replicates;
	size_t replicates_nr;
	char **seeds;
	size_t seeds_nr;
};

void report_init(struct report *r);
void report_release(struct report *r);
/* Reads DIR/metrics.json. -1 with a message in err on a missing or bad file. */
int report_add_dir(struct report *r, const char *dir, char *err, size_t errlen);
/* Sorts the axes; called by report_write. */
void report_finish(struct report *r);
const struct cell *report_get(const struct report *r, const char *metric, const char *model,
			      const char *variant);
/* The evaluation a metric belongs to (of its first cell). */
const char *report_metric_evaluation(const struct report *r, const char *metric);

/* Writes report.md, report.json and the SVG charts into dir. */
int report_write(struct report *r, const char *dir, const char *title, char *err, size_t errlen);

/* ---- replicates over seeds (replicates.c) ---- */
/* Splits --seeds LIST (comma-separated, one item per evaluation directory,
 * "" for one that is not replicated) into *out (n items). -1 with a message
 * when the count is not `want`. */
int replicates_parse(const char *list, size_t want, char ***out, char *err, size_t errlen);
void replicates_free_list(char **v, size_t n);
/* Labels the cells [from, r->nr) with `seed` ("" or NULL: none). */
void replicates_label(struct report *r, size_t from, const char *seed);
/* Folds the cells that differ only by seed into one (mean, sd, min, max)
 * and keeps them in r->replicates; two outputs for one cell and one seed
 * (or for one cell with and without a seed) are an error. Nothing changes
 * when no cell has a seed. */
int replicates_aggregate(struct report *r, char *err, size_t errlen);
void replicates_release(struct report *r);
const struct cell *replicates_get(const struct report *r, const char *metric, const char *model,
				  const char *variant, const char *seed);

/* ---- findings (findings.c) ---- */
enum verdict { V_NOT_MEASURED, V_REPRODUCED, V_NOT_REPRODUCED, V_MIXED };

struct finding {
	const char *id;
	const char *claim;     /* the paper's claim, in one sentence */
	const char *test;      /* how it is checked here */
	enum verdict verdict;
	int models_agree, models_total;
	char detail[1024];     /* the deltas that decided it */
};

#define FINDINGS_NR 5
void findings_compute(const struct report *r, struct finding out[FINDINGS_NR]);
const char *verdict_name(enum verdict v);

/* ---- what the report says about a metric (metric_info.c) ---- */
enum metric_better { MI_UNSTATED, MI_HIGHER, MI_LOWER };
struct metric_info {
	const char *name;
	const char *label;     /* "refusal rate"; the metric's name when unknown */
	const char *unit;      /* the y axis, at most ~32 characters */
	enum metric_better better;
	const char *interval;  /* "95% Wilson interval"; NULL: the evaluation gives none */
};
/* Fills *out (static strings; an unknown metric gets its own name as label,
 * "value" as unit, MI_UNSTATED, and a generic interval name). */
void metric_info_get(const char *metric, struct metric_info *out);
/* "higher is better", "lower is better", "direction not stated" */
const char *metric_better_text(enum metric_better b);

/* The n of a metric's cells: *lo and *hi (equal when every cell has the
 * same n); 0 when no cell gives one. */
int report_metric_n(const struct report *r, const char *metric, long *lo, long *hi);

/* ---- small output helpers (render.c) ---- */
struct outbuf {
	char *buf;
	size_t len, cap;
	int oom;
};
void ob_add(struct outbuf *o, const char *s);
void ob_addf(struct outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ob_json_str(struct outbuf *o, const char *s);
void ob_xml_str(struct outbuf *o, const char *s);
int ob_write(struct outbuf *o, const char *dir, const char *name, char *err, size_t errlen);

/* replicates.c: what replicated cells add to report.md and report.json;
 * each writes nothing for a report without seeds */
void replicates_md_intro(const struct report *r, struct outbuf *o);
/* 1 when c aggregates seeds (its "mean ± sd |" written), else 0 */
int replicates_md_cell(struct outbuf *o, const struct cell *c);
/* one table row per seed under a model's row, cells written by `cell` */
void replicates_md_rows(const struct report *r, const char *metric, const char *model,
			void (*cell)(struct outbuf *o, const struct cell *c), struct outbuf *o);
/* the fields after "value" of an aggregated cell: seeds, sd, min, max, per_seed */
void replicates_json_cell(const struct report *r, const struct cell *c, struct outbuf *o);
/* ,\n  "seeds": [...] */
void replicates_json_seeds(const struct report *r, struct outbuf *o);

/* svg.c: one chart per metric, in the file svg_file_name() names (the
 * metric with every character outside [A-Za-z0-9_-] replaced by '_') */
void svg_file_name(const char *metric, char *buf, size_t len);
int svg_write_metric(const struct report *r, const char *metric, const char *dir, char *err,
		     size_t errlen);

#endif
