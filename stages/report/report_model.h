/*
 * report_model: the numbers a report is made of. Every (metric, model,
 * variant) cell with its value and optional n and 95% interval, plus the
 * first-appearance order of models and the canonical order of variants
 * (base, then plain methods, then method+mitigation, each alphabetical).
 */
#ifndef REPORT_MODEL_H
#define REPORT_MODEL_H

#include <stddef.h>

/* report_model.c: the stage's allocator (exits with status 70 when memory
 * runs out) and string copy through it; every file of the stage uses these. */
void *xrealloc_or_die(void *p, size_t n);
char *dupstr(const char *s);

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

/* items.c: one evaluation directory's per-item results (items.jsonl) and the
 * WO outcome its metrics.json names. Rows are (line, metric, value): a line is
 * one item (id, cluster) under one condition; rows give its value for each
 * metric it enters. */
struct item_row {
	size_t line;   /* index into ids / clusters */
	size_t metric; /* index into metrics */
	double value;
};

struct eval_run {
	char *model, *variant, *evaluation;
	char *seed;       /* replicates_label's seed, NULL when not replicated */
	char *wo_outcome; /* metrics.json's "wo_outcome" ("selected", "none"), NULL when absent */
	int has_items;    /* items.jsonl was there */
	char **ids, **clusters;
	size_t lines_nr;
	char **metrics;
	size_t metrics_nr;
	struct item_row *rows;
	size_t rows_nr;
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
	/* items.c: one run per evaluation directory, in the order given */
	struct eval_run *runs;
	size_t runs_nr;
};

void report_init(struct report *r);
void report_release(struct report *r);
/* Reads DIR/metrics.json, and DIR/items.jsonl when present (items.c). -1
 * with a message in err on a missing or bad file. */
int report_add_dir(struct report *r, const char *dir, char *err, size_t errlen);
/* Sorts the axes; called by report_write. */
void report_finish(struct report *r);
const struct cell *report_get(const struct report *r, const char *metric, const char *model,
			      const char *variant);
/* The evaluation a metric belongs to (of its first cell). */
const char *report_metric_evaluation(const struct report *r, const char *metric);

/* Writes report.md, report.json and the SVG charts into dir. */
int report_write(struct report *r, const char *dir, const char *title, char *err, size_t errlen);

/* ---- per-item results (items.c) ---- */
/* Appends a run for DIR (model, variant, evaluation, wo_outcome as given)
 * and reads DIR/items.jsonl into it when the file exists; -1 with a message
 * naming the file and line on a bad line. */
int items_add_dir(struct report *r, const char *dir, const char *model, const char *variant,
		  const char *evaluation, const char *wo_outcome, char *err, size_t errlen);
void items_release(struct report *r);
/* The run of (model, variant, seed) that has metric among its items (seed
 * NULL: not replicated); NULL when none. *mi is the metric's index in it. */
const struct eval_run *items_find(const struct report *r, const char *metric, const char *model,
				  const char *variant, const char *seed, size_t *mi);
/* The WO outcome recorded for (model, method variant, seed), NULL when none:
 * any run of that model, variant and seed that names one. */
const char *items_wo_outcome(const struct report *r, const char *model, const char *variant,
			     const char *seed);

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

/* ---- findings (findings.c, stats.c) ---- */
struct outbuf;
/* Verdicts from pre-stated thresholds (findings.c says which). */
enum verdict { V_NOT_MEASURED, V_REPRODUCED, V_CONTRADICTED, V_INCONCLUSIVE };

/* What a test claims about its effect (variant a minus variant b). */
enum claim_kind {
	K_UP,	    /* a raises the metric by at least delta */
	K_DOWN,	    /* a lowers it by at least delta */
	K_NOT_DOWN, /* a does not lower it by delta or more */
	K_NOT_UP,   /* a does not raise it by delta or more */
	K_INFO,	    /* shown beside the others, no verdict */
};

/* One pooled paired effect: metric(a) - metric(b) over the same items. */
struct effect_test {
	const char *label;  /* "jt cuts refusal (with its string)" */
	const char *metric;
	const char *a, *b;  /* variants */
	enum claim_kind kind;
	double delta;	    /* the threshold, in the metric's unit */
	const char *paper;  /* the paper's number or words, NULL: not stated */
	/* results */
	enum verdict verdict;
	int cells;	    /* model-seed cells with paired items */
	int cells_value_only; /* cells paired on values only (no items.jsonl) */
	int excluded_wo;    /* cells left out: WO found no admissible direction */
	long n_lo, n_hi;    /* paired items per cell */
	long clusters_lo, clusters_hi;
	double est, ci_low, ci_high; /* pooled effect and 95% bootstrap interval */
	int has_ci;
	double seed_sd;	    /* sd between seeds of the per-seed pooled effect */
	double seed_min, seed_max;
	int seeds;	    /* seeds with a per-seed effect */
	double mde;	    /* minimum detectable effect, 80% power: 1.43 x half-width */
	double size;	    /* the effect size the design should see: the paper's, else delta */
	/* a task ceiling the test needs (the attack's gold jailbreak on the
	 * victim): its metric, the least mean it needs, and the mean measured
	 * over every cell (has_ceiling 0: the metric is not in the report) */
	const char *ceiling_metric;
	double ceiling_min, ceiling;
	int has_ceiling;
};

#define FINDING_TESTS_MAX 6
struct finding {
	const char *id;
	const char *claim;     /* the paper's claim, in one sentence */
	const char *paper;     /* the paper's numbers / words for it */
	enum verdict verdict;  /* all tests reproduced: reproduced; any contradicted: contradicted */
	struct effect_test t[FINDING_TESTS_MAX];
	int nt;
};

#define FINDINGS_NR 6
/* Bootstrap replicates and seed (fixed, so the report is deterministic). */
#define FINDINGS_BOOT 2000
#define FINDINGS_BOOT_SEED 20260402u
void findings_compute(const struct report *r, struct finding out[FINDINGS_NR]);
const char *verdict_name(enum verdict v);
const char *claim_kind_text(enum claim_kind k);
/* findings_render.c: the findings section of report.md and report.json */
void findings_md(const struct report *r, const struct finding *f, struct outbuf *o);
void findings_json(const struct finding *f, struct outbuf *o);

/* stats.c: one test's pooled paired effect and cluster bootstrap (fills the
 * results of t; see stats.c for the procedure). */
void stats_effect(const struct report *r, struct effect_test *t, unsigned seed);

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
