/*
 * prov_query: the read side of the provenance database: every query outside
 * prov.c (the writer) and chain.c, as plain structs or row callbacks for the
 * `log`, `show`, `results`, `export` and `verify` commands (lineage.c,
 * provjson.c, rerun.c, verify.c) and for tests. Open the database with
 * prov_open_readonly() (readers never block the writer).
 *
 * Every struct returned owns its strings; release with the matching *_release
 * or *_free function. Absent SQL values are NULL strings / 0 numbers with a
 * has_* flag where 0 is a meaningful value. Functions returning rows return 0
 * (or 1 found / 0 not found for single lookups), or -1 with a message in err.
 * The sections below for lineage, rerun and verify say where they differ.
 */
#ifndef STUDY_PROV_QUERY_H
#define STUDY_PROV_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "prov.h"
#include "strbuf.h"

struct prov_run_info {
	int64_t id;
	char *study_name, *study_path, *study_digest;
	char *git_commit, *git_branch; /* NULL when unknown / detached */
	int git_dirty;                 /* 0, 1, or -1 unknown */
	char *tool_version, *host, *user;
	char *argv_json, *cwd;
	double started, ended;         /* unix time; ended 0 while running */
	char *status;                  /* running, ok, failed, interrupted */
	int ran, cached, failed, skipped;
	/* counted from the run's execution rows (schema 4; runs has no column) */
	int interrupted, not_started;
};

struct prov_input_info {
	char *name, *stage, *digest;
	char *source; /* an external input's original path; NULL for a stage's output */
};

struct prov_metric_info {
	int64_t execution_id;
	char *stage_id, *evaluation, *model, *variant, *metric; /* evaluation..variant may be NULL */
	double value;
	int has_n, has_ci_low, has_ci_high;
	long long n;
	double ci_low, ci_high;
	/* filled by prov_results only (0 / NULL elsewhere): */
	int64_t run_id;        /* the run of execution_id */
	/* over all runs: 1 when the stage's latest execution did not produce
	 * these metrics (it failed, was skipped or interrupted, or its output
	 * has no metrics recorded): they are from an earlier run; the latest
	 * execution, its run, status and reason (NULL when none) follow */
	int stale;
	int64_t latest_exec, latest_run;
	char *latest_status, *latest_reason;
};

struct prov_exec_info {
	int64_t id, run_id;
	char *stage_id, *kind, *model, *variant, *evaluation;
	char *cache_key, *status, *reason;
	char *argv_json, *env_json, *cache_record;
	char *output_digest;            /* NULL when no output */
	long long output_files, output_bytes;
	int has_exit;                   /* 0 when no process ran (cache hit, skip) */
	int exit_code, term_signal, timed_out;
	double started, ended, wall_s; /* 0 when not run */
	double cpu_s;                   /* the stage's own; -1 when not run or unknown */
	long long peak_rss_kb;          /* the stage's own (KiB); -1 when not run or unknown */
	char *stdout_digest, *stderr_digest;
	/* where it ran (schema 6); NULL when not recorded (a hit, a skip, an
	 * execution recorded before schema 6) */
	char *executor, *job_id, *host, *queue;
	double queue_wait_s;            /* -1 when not recorded */
	/* filled by prov_stage_latest and prov_get_exec only: */
	/* a cache hit's producing execution (same cache key and output, status
	 * 'ran'), whose argv, env, cache record, inputs and output size fill
	 * this one's; 0
	 * when not a hit recorded by reference, or its producer is not recorded */
	int64_t source_id;
	struct prov_input_info *inputs;
	size_t inputs_nr;
	struct prov_metric_info *metrics;
	size_t metrics_nr;
};

/* A batch job a run submitted (schema 7, table jobs). */
struct prov_job_info {
	char *stage_id, *job_id, *executor;
	double submitted;   /* unix time */
	int ended;          /* the run recorded an execution for it (it ended
			     * while the run watched); 0: it was still queued
			     * or running when the run stopped (killed) */
};
/* The jobs run run_id submitted, in order of submission. */
int prov_run_jobs(struct prov *p, int64_t run_id, struct prov_job_info **jobs, size_t *nr,
		  struct strbuf *err);
void prov_jobs_free(struct prov_job_info *jobs, size_t nr);

/* Open <store_dir>/provenance.db read-only for a command. A missing file is
 * "no provenance database at 'DIR/provenance.db' (has a study been run with
 * this store?)". */
int prov_open_store_readonly(const char *store_dir, struct prov **p, struct strbuf *err);

/* Unix time as UTC ISO-8601 ("2026-11-23T09:15:02Z"); "-" when t <= 0. */
void prov_format_time(double t, char out[32]);
/* A duration as "0.4s", "12.3s", "4m05s", "2h03m". */
void prov_format_duration(double s, char out[32]);

/* Runs, newest first; limit <= 0 means all. */
int prov_list_runs(struct prov *p, long limit, struct prov_run_info **runs, size_t *nr,
		   struct strbuf *err);
/* One run: 1 found, 0 no such run, -1 error. */
int prov_get_run(struct prov *p, int64_t id, struct prov_run_info *r, struct strbuf *err);
void prov_run_info_release(struct prov_run_info *r);
void prov_runs_free(struct prov_run_info *runs, size_t nr);
/* A run as a JSON object (the `log --json` / `show --json` form): id, study,
 * study_path, study_digest, git_commit, git_branch, git_dirty (bool or null),
 * status, ran, cached, failed, skipped, started, ended (ISO strings or null),
 * duration_s, tool_version, host, user, cwd, argv (array). */
cJSON *prov_run_to_json(const struct prov_run_info *r);
/* Add a string member, or null when v is NULL. */
void prov_json_add_str(cJSON *o, const char *key, const char *v);
/* Add an ISO-8601 time member, or null when t <= 0. */
void prov_json_add_time(cJSON *o, const char *key, double t);

/* The executions a run recorded, in recording order (without inputs/metrics). */
int prov_run_execs(struct prov *p, int64_t run_id, struct prov_exec_info **execs, size_t *nr,
		   struct strbuf *err);
/* The latest execution of a stage that actually ran (status 'ran' or 'failed';
 * failing that, the latest of any status), with its inputs and metrics; a
 * cache hit is completed from its producer (source_id).
 * 1 found, 0 never recorded, -1 error. */
int prov_stage_latest(struct prov *p, const char *stage_id, struct prov_exec_info *e,
		      struct strbuf *err);
/* One execution by id, with its inputs and metrics (a cache hit completed as
 * by prov_stage_latest). 1 found, 0 not, -1 error. */
int prov_get_exec(struct prov *p, int64_t id, struct prov_exec_info *e, struct strbuf *err);
/* Cache hits of e's cache key recorded after e, and the latest run that
 * recorded e or one of those hits. */
int prov_stage_reuse(struct prov *p, const struct prov_exec_info *e, long *hits,
		     int64_t *latest_run, struct strbuf *err);
void prov_exec_info_release(struct prov_exec_info *e);
void prov_execs_free(struct prov_exec_info *execs, size_t nr);

/* What the executions recorded of external input `id` ("input/NAME"): one
 * row per distinct (digest, original path), the most recently used first.
 * 0 with the rows (none when never recorded), or -1 with err. */
struct prov_external_use {
	char *digest, *source;
	long uses;                     /* executions that recorded it as an input */
	int64_t first_exec, last_exec; /* the first and the latest of them */
	int64_t last_run;              /* the run of the latest */
};
int prov_external_history(struct prov *p, const char *id, struct prov_external_use **rows,
			  size_t *nr, struct strbuf *err);
void prov_external_history_free(struct prov_external_use *rows, size_t nr);

/* The metrics table. Over all runs (run_id 0): for each stage that recorded
 * metrics, those of the output of its latest execution (of any status) when
 * that execution ran or was a cache hit; otherwise (it failed, was skipped,
 * interrupted or not started, or its output has no metrics recorded) the
 * stage's latest recorded metrics, with `stale` set. With run_id > 0, only
 * stages that run executed or took from the cache, each with the metrics of
 * the execution that produced the output the run used (never stale). Sorted
 * by evaluation, model, variant ("base" first, then alphabetical), metric. */
int prov_results(struct prov *p, int64_t run_id, struct prov_metric_info **rows, size_t *nr,
		 struct strbuf *err);
void prov_metrics_free(struct prov_metric_info *rows, size_t nr);
/* Release one row's strings (the row itself is not freed). */
void prov_metrics_free_one(struct prov_metric_info *m);

/* A metric of two runs side by side (`results --compare`): a and b as
 * prov_results(run) gives them; a side that lacks it (has_a / has_b 0) is a
 * copy of the other side's labels (stage, evaluation, model, variant,
 * metric), for sorting and printing. */
struct prov_metric_pair {
	struct prov_metric_info a, b;
	int has_a, has_b;
};
/* Every metric either run has, paired by stage and metric, in the order of
 * prov_results (then by stage). run_a may equal run_b. */
int prov_results_compare(struct prov *p, int64_t run_a, int64_t run_b,
			 struct prov_metric_pair **pairs, size_t *nr, struct strbuf *err);
void prov_metric_pairs_free(struct prov_metric_pair *pairs, size_t nr);

/* A run reference, as `results --compare` takes it: a run id ("7"),
 * "latest" (the run with the largest id) or "latest~N" (the N-th run before
 * it, counting recorded runs newest first: latest~1 is the one before
 * latest). 1 with *id; 0 with a message in err when it is malformed
 * ("'x' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')")
 * or names no recorded run ("no run 9 recorded", "no run recorded yet",
 * "no run latest~5: 3 runs recorded"); -1 on a database error. */
int prov_resolve_run(struct prov *p, const char *ref, int64_t *id, struct strbuf *err);

/* ---- id lookups for `show --lineage` and `export` (lineage.c, provjson.c) ----
 * Each returns 0 with the answer filled (an id of 0 or a count of 0 when
 * nothing matches), or -1 with "cannot read provenance: ..." in err. Nothing
 * to free. */

/* The latest execution of `stage` that ran and produced the tree `digest`;
 * with any_stage, failing that, the latest of any stage that did. */
int prov_producer_id(struct prov *p, const char *stage, const char *digest, int any_stage,
		     int64_t *id, struct strbuf *err);
/* *found = 1 when any execution of `stage` is recorded (cache hits included). */
int prov_stage_recorded(struct prov *p, const char *stage, int *found, struct strbuf *err);
/* How many stages record a metric named `metric`, and the latest execution
 * that recorded it. */
int prov_metric_stages(struct prov *p, const char *metric, long long *nstages,
		       int64_t *latest_exec, struct strbuf *err);
/* The latest execution of `stage` that recorded `metric`. */
int prov_metric_exec_id(struct prov *p, const char *stage, const char *metric, int64_t *id,
			struct strbuf *err);
/* The execution of `stage` that prov_stage_latest picks (the latest that ran
 * or failed, else the latest not a cache hit, else the latest cache hit). */
int prov_stage_latest_id(struct prov *p, const char *stage, int64_t *id, struct strbuf *err);


/* ---- `study why` (why.c) ----
 * Each returns 0 with the answer (an id of 0 when nothing matches), or -1
 * with "cannot read provenance: ..." in err. */

/* The latest execution of `stage`, whatever its status (cache hits, skips
 * and stages not started included). */
int prov_stage_last_id(struct prov *p, const char *stage, int64_t *id, struct strbuf *err);
/* The latest execution of `stage` before execution `before` that looked the
 * stage up in the cache: status ran, cached, failed or interrupted (skipped
 * and not-started executions are passed over). */
int prov_stage_previous_id(struct prov *p, const char *stage, int64_t before, int64_t *id,
			   struct strbuf *err);
/* The run of the latest execution of `stage`, not after execution `before`,
 * that ran and produced the tree `digest`. */
int prov_producer_run(struct prov *p, const char *stage, const char *digest, int64_t before,
		      int64_t *run, struct strbuf *err);

/* ---- `verify --rerun` (rerun.c) ---- */

/* The latest execution of `stage` that ran (status 'ran') and recorded an
 * output tree: 0 with *id set (0 when there is none), or -1 with "cannot read
 * provenance: ..." in err. */
int prov_stage_latest_ran_id(struct prov *p, const char *stage, int64_t *id, struct strbuf *err);

/* A stage of a run and the execution that produced its output. */
struct prov_stage_exec {
	char *stage_id;
	int64_t exec_id;
};
/* The stages the latest run (largest id) executed ('ran') or took from the
 * cache, in recording order, each with the execution that produced its
 * output: itself when it ran; for a cache hit the latest execution of the
 * stage that ran and recorded the same output tree. A cache hit whose
 * producer is not recorded is left out. Returns 0 with a new array in *v
 * (NULL when empty; free with prov_stage_execs_free), or -1 with "cannot read
 * provenance: ..." in err and nothing to free. */
int prov_latest_run_producers(struct prov *p, struct prov_stage_exec **v, size_t *nr,
			      struct strbuf *err);
void prov_stage_execs_free(struct prov_stage_exec *v, size_t nr);

/* What re-running one execution needs, exactly as its row records it (a cache
 * hit is not completed from its producer: its argv and env are NULL). */
struct prov_replay {
	char *stage_id;
	int64_t run_id;
	char *argv_json, *env_json; /* NULL when not recorded */
	char *output_digest;        /* NULL when no output */
	char **input_digests;       /* the input trees, in recording order */
	size_t inputs_nr;
};
/* 1 found, 0 no execution with that id, -1 with "cannot read provenance:
 * ..." in err. *r is owned by the caller in every case: release it with
 * prov_replay_release. */
int prov_get_replay(struct prov *p, int64_t id, struct prov_replay *r, struct strbuf *err);
void prov_replay_release(struct prov_replay *r);

/* ---- integrity scans for `study verify` (verify.c) ----
 * Call between prov_snapshot_begin and prov_snapshot_end so that every scan
 * sees the same database. Each scan runs one query and calls fn once per row,
 * in the order stated; the strings it passes are borrowed from the query and
 * valid only during that call. Each returns 0, or -1 with "cannot read
 * provenance: ..." in err (fn has then seen the rows before the error). */

/* Start / end one read transaction (a snapshot; never blocks the writer).
 * prov_snapshot_end is a no-op when none is open. */
int prov_snapshot_begin(struct prov *p, struct strbuf *err);
void prov_snapshot_end(struct prov *p);

enum prov_ref_kind { PROV_REF_OUTPUT, PROV_REF_INPUT, PROV_REF_STDOUT, PROV_REF_STDERR };
/* A digest an execution refers to: its output tree, one of its input trees,
 * or its stdout / stderr log object. */
struct prov_ref {
	enum prov_ref_kind kind;
	const char *digest; /* never NULL */
	const char *input;  /* PROV_REF_INPUT: the input's name; else NULL */
	const char *stage;  /* the execution's stage id */
	int64_t run, exec;  /* the execution and its run */
};
typedef void (*prov_ref_fn)(const struct prov_ref *ref, void *data);

/* Each execution's output, stdout and stderr digests (in that order; absent
 * ones skipped), executions that ran first, then the others, each group by
 * id. */
int prov_scan_exec_digests(struct prov *p, prov_ref_fn fn, void *data, struct strbuf *err);
/* Every input digest, by execution id, then in recording order. */
int prov_scan_input_digests(struct prov *p, prov_ref_fn fn, void *data, struct strbuf *err);
/* Every digest executions refer to (outputs, inputs, stdout, stderr), by
 * execution id, then in that kind order. */
int prov_scan_refs(struct prov *p, prov_ref_fn fn, void *data, struct strbuf *err);

/* An artifacts row that disagrees with the execution it names as the first to
 * record it (that execution's output digest, file count or byte count differ),
 * or names an execution that is not in the database (exec_missing = 1; stage
 * NULL and run 0 then). */
struct prov_artifact_mismatch {
	const char *digest;
	int64_t first_exec;
	int exec_missing;
	const char *stage;
	int64_t run;
};
/* Every such row, by first_exec. */
int prov_scan_artifact_mismatches(struct prov *p,
				  void (*fn)(const struct prov_artifact_mismatch *m, void *data),
				  void *data, struct strbuf *err);
/* Every cache hit recorded by reference (prov.h: argv NULL, an output) that
 * has no producing execution (status 'ran', same cache key and output, a
 * smaller id) in the database, by id. */
int prov_scan_orphan_hits(struct prov *p,
			  void (*fn)(int64_t exec, int64_t run, const char *stage, void *data),
			  void *data, struct strbuf *err);

/* A run's recorded git state, for checking it against the repository. */
struct prov_run_commit {
	int64_t run;
	const char *commit;       /* never NULL or "" */
	int dirty;                /* 0, 1, or -1 unknown */
	const char *study_path;   /* "" when not recorded */
	const char *cwd;          /* NULL when not recorded */
	const char *study_digest; /* "" when not recorded */
};
/* Every run that recorded a git commit, by id. */
int prov_scan_run_commits(struct prov *p, void (*fn)(const struct prov_run_commit *c, void *data),
			  void *data, struct strbuf *err);

/* ---- what `study gc` removed (verify.c, rerun.c; docs/store.md) ---- */

/* A digest a collection removed (gc_collected joined with gc_runs). */
struct prov_collected {
	const char *digest;
	const char *kind;  /* "tree" or "object" */
	int64_t gc_id;
	int64_t last_run;  /* the newest run recorded when that gc started; 0: none */
};
/* Every row, by digest, then by last_run and gc id: a digest removed by
 * several collections (it was made again in between) comes once for each,
 * the newest last. Works inside a snapshot like the scans above. */
int prov_scan_collected(struct prov *p, void (*fn)(const struct prov_collected *c, void *data),
			void *data, struct strbuf *err);
/* The newest collection that removed `digest`: 0 with *gc_id set (0 when
 * none did), or -1 with "cannot read provenance: ..." in err. */
int prov_collected_by(struct prov *p, const char *digest, int64_t *gc_id, struct strbuf *err);

/* ---- durations for the scheduler (critpath.h) ---- */

/* For each of the n stage ids: wall[k] = the wall time in seconds of its
 * latest execution that ran to success (status 'ran'), or -1 when none is
 * recorded. One prepared statement, one indexed lookup per id. 0, or -1
 * with "cannot read provenance: ..." in err (wall then holds -1 from the
 * failing id on). */
int prov_stage_walls(struct prov *p, const char *const *ids, size_t n, double *wall,
		     struct strbuf *err);

/* The hash-chain check (chain_verify, chain.h) over this database. */
struct chain_check;
int prov_check_chain(struct prov *p, struct chain_check *c, struct strbuf *err);

/* ---- `study report` (report_data.c) ---- */

/* One stage of a run, as the HTML report shows it. */
struct prov_run_stage {
	/* The run's row. A cache hit recorded by reference is completed from its
	 * producer as prov_get_exec does (argv, env, cache record, output size,
	 * inputs; e.source_id); e.inputs hold the inputs of every row that has
	 * them (none for skipped and not-started stages); metrics are not
	 * loaded (prov_results). */
	struct prov_exec_info e;
	int64_t source_run;        /* the run of e.source_id; 0 when none */
	/* For a row that ran, failed or was interrupted: the stage's latest
	 * execution before it that ran or failed (what `run` and `status` compare
	 * a cache record with, freshness.h); prev_id 0 when there is none. */
	int64_t prev_id, prev_run;
	char *prev_status, *prev_reason, *prev_record;
};
/* Every execution row of run_id, by id, in three queries whatever the size
 * of the run. Returns 0 with a new array in *v (NULL when the run has no
 * rows; free with prov_run_stages_free), or -1 with "cannot query provenance
 * database ..." in err and nothing to free. */
int prov_run_stages(struct prov *p, int64_t run_id, struct prov_run_stage **v, size_t *nr,
		    struct strbuf *err);
void prov_run_stages_free(struct prov_run_stage *v, size_t nr);
/* The latest run: 0 with *id set (0 when no run is recorded), or -1. */
int prov_latest_run_id(struct prov *p, int64_t *id, struct strbuf *err);

#endif
