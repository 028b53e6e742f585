/*
 * report_data: everything `study report` shows about one run, read from
 * provenance and the store and nowhere else: the run's record, each stage's
 * execution (a cache hit completed from the execution that produced its
 * output), the DAG between them, why each stage ran, the critical path, the
 * timeline lanes, the metrics behind the run's outputs, and the files of
 * the run's report stage (report.md and its charts).
 *
 * The DAG is the run's plan as provenance records it: a stage's inputs name
 * the stages they came from. Skipped and not-started stages record no
 * inputs; their edges come from the study file when it still has the digest
 * the run recorded (`plan_edges`), and are left out otherwise (`edges_note`
 * says so).
 */
#ifndef STUDY_REPORT_DATA_H
#define STUDY_REPORT_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "prov_query.h"
#include "strbuf.h"
#include "strmap.h"

struct report_stage {
	struct prov_run_stage *x; /* its row (borrowed from report_run.rows) */
	size_t *deps;             /* distinct stages its inputs came from (indexes) */
	size_t deps_nr;
	char *why;                /* "ran: changed: code", "cache hit: ...", a skip reason */
	int critical;             /* on the critical path */
	int superseded;           /* an earlier attempt: the run has a later row of
				   * this stage (a retried stage has one row per
				   * attempt); the last row is the stage's */
	long earlier;             /* the stage's previous attempt in this run, or -1 */
	int lane;                 /* timeline lane, -1 when it did not run in this run */
};

/* A file of the report stage's output, read from the store (digest checked). */
struct report_file {
	char *name;
	char *data;
	size_t len;
};

struct report_run {
	struct prov_run_info run;
	struct prov_run_stage *rows;
	struct report_stage *st; /* rows_nr entries, same order (by execution id) */
	size_t nr;
	struct strmap by_id;     /* stage id -> index + 1 (of its last row) */
	size_t stages_nr;        /* distinct stages (rows that are not superseded) */
	size_t *order;           /* the stages_nr stages' indexes by section (kind: data,
				  * model, method,
				  * mitigation, eval, report, then others by name), then
				  * by id with digit runs compared as numbers (m2 < m10) */
	size_t edges_nr;
	int plan_edges;          /* edges of stages without inputs came from the study file */
	char *edges_note;        /* NULL, or why some edges are missing */

	size_t *crit;            /* the critical path, in dependency order */
	size_t crit_nr;
	double crit_total;       /* its stage time, seconds */
	int lanes;               /* timeline lanes (peak concurrency) */
	double t0, t1;           /* the timeline's span: run start, last end */

	struct prov_metric_info *metrics; /* prov_results(run) */
	size_t metrics_nr;

	struct prov_run_info *runs; /* other runs the page names (producers, last executions) */
	size_t runs_nr;

	long report_stage;       /* index of the stage of kind "report", -1 when none */
	struct report_file *files; /* its report.md and *.svg, by name */
	size_t files_nr;
	char *files_note;        /* NULL, or why they are not shown */
};

/* Load run `run_id` (must exist) from `p`, with the store at store_dir.
 * Returns 0, or -1 with a message in err (rr released). */
int report_run_load(struct report_run *rr, struct prov *p, const char *store_dir, int64_t run_id,
		    struct strbuf *err);
void report_run_release(struct report_run *rr);

/* The rank of a stage kind in the page's order (data 0 ... report 5, other 6). */
int report_kind_rank(const char *kind);

/* The stage with this id, or -1. */
long report_run_find(const struct report_run *rr, const char *id);
/* The record of run `id` when loaded (this run, or one the page names), else NULL. */
const struct prov_run_info *report_run_get_run(const struct report_run *rr, int64_t id);
/* A file of the report stage's output by name, or NULL. */
const struct report_file *report_run_file(const struct report_run *rr, const char *name);

#endif
