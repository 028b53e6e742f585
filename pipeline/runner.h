/*
 * runner: executes a plan against a store, recording provenance.
 *
 * External inputs (extinput.h) are resolved by the caller before the run
 * and handed over in run_opts.externals: they are input nodes, not stages.
 *
 * For each stage that the scheduler releases: resolve the program, compute
 * the cache key; on a hit (action cache entry whose tree is present) record
 * a cache hit and move on; otherwise prepare the stage under the stage
 * protocol and hand it to the executor (run_opts.executor, executor.h),
 * which owns the processes: starting, limits, reaping, measuring:
 *
 *   - a fresh work directory <store>/work/<stage>-XXXXXX/ with cwd/ (also
 *     HOME), out/ (${out}, empty), tmp/ (TMPDIR), and the two log files;
 *   - a cleared environment: PATH, HOME, TMPDIR, LC_ALL=C, TZ=UTC, STUDY_SEED,
 *     STUDY_STAGE, STUDY_OUT, STUDY_PARAMS, STUDY_THREADS, STUDY_ROOT,
 *     STUDY_PROGRESS_FD and the entry's `env:` pass-through names;
 *   - its resources (cpus, mem, gpus, time) given to the executor, which
 *     enforces them: resources.time with TERM then, 5 s later, KILL.
 *
 * Success is exit 0 with a non-empty out/: the tree is stored, metrics.json
 * ingested, the logs stored as objects, the execution recorded; then (after
 * the provenance transaction commits) the action cache entry is written, so
 * the cache never points at something provenance does not know. A failure
 * stores the logs, records the reason, prints the log tail, and stores no
 * output. Records are committed in batches (one transaction per scheduler
 * round), never one per stage.
 *
 * A run may cover some stages only (run_opts.selected; select.h): the others
 * get no record and are counted as not selected. A forced stage
 * (run_opts.forced) runs even when its cache entry is usable; its new output
 * replaces the entry only once it succeeded, and an output that differs from
 * the one it replaces is reported (the stage is not deterministic). A stage
 * whose process fails (non-zero exit, signal, time limit; not a stop because
 * the run was interrupted) is started again, after RETRY_BACKOFF_S, up to its
 * retries (resources.retries, else run_opts.retries); each failed attempt
 * that is retried is recorded with status 'retried', and only the last
 * attempt counts. docs/provenance.md describes the records.
 */
#ifndef STUDY_RUNNER_H
#define STUDY_RUNNER_H

#include <stdint.h>
#include "plan.h"
#include "prov.h"
#include "stagecmd.h"
#include "store.h"

struct executor;

struct run_opts {
	/* what starts the stages (executor.h): local, dry (--dry-run), fake
	 * (tests), slurm; NULL: a local one (a dry one for dry_run) with no
	 * resource limits. The runner sets its callbacks for the run. */
	struct executor *executor;
	int jobs;
	int keep_going;
	int dry_run;
	int verbose;
	/* called once, before the first stage is started (not for cache hits),
	 * with the provenance handle free to use; may be NULL */
	void (*before_first_start)(void *ctx);
	void *before_first_start_ctx;
	const char *selected; /* per stage: 1 to run it; NULL: every stage. Must hold
			       * the dependencies of each stage in it */
	const char *forced;   /* per stage: 1 to rerun it even when cached; NULL: none */
	int retries;          /* further attempts of a stage that fails, for
			       * stages whose resources.retries is not set */
	/* the plan's external inputs, resolved (extinput.h): p->externals_nr
	 * entries, copied; NULL when the plan has none */
	const struct stage_output *externals;
};

/* Seconds between a failed attempt and the next. */
#define RETRY_BACKOFF_S 1.0

/* Every stage of the plan lands in exactly one of ran, cached, failed,
 * interrupted_stages, skipped, not_started and not_selected (a dry run:
 * would_run, cached, failed, not_started, not_selected). */
struct run_counts {
	int ran, cached, failed, skipped, would_run;
	int interrupted_stages; /* running when the run was interrupted, stopped by it */
	int not_started;        /* never started: the run stopped first */
	int not_selected;       /* outside the run's targets: not looked at */
	int interrupted;        /* the signal that interrupted the run (SIGINT...), or 0 */
	int forced;             /* stages that ran (or would) only because forced */
	int retried;            /* failed attempts that were tried again (not stages) */
};

/* Returns 0 when the run was carried out (stages may have failed: see
 * counts), -1 on an orchestrator error (store or provenance), with err. */
int runner_run(const struct plan *p, struct store *st, struct prov *pv,
	       const struct run_opts *o, int64_t run_id, struct run_counts *counts,
	       struct strbuf *err);

#endif
