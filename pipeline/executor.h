/*
 * executor: how a prepared stage becomes a running process (or a cluster job),
 * and how its end is reported. ninja's CommandRunner is the model.
 *
 * The runner (runner.c) owns run *policy*: cache lookups, work directories,
 * provenance, failure propagation, retries, --force, the interrupt. An
 * executor owns process *mechanics*: starting a prepared stage, its time and
 * memory limits (one kill policy, shared by `run` and `verify --rerun`),
 * reaping it, measuring it, and saying where it ran. Implementations:
 *
 *   local  exec_local.c  processes on this machine (proc.c, bin/study-exec)
 *   dry    exec_dry.c    `run --dry-run`: starts nothing, reports at once
 *   fake   exec_fake.c   scripted outcomes on a virtual clock (unit tests)
 *   slurm  exec_slurm.c  jobs on a SLURM cluster (see "For SLURM" below)
 *
 * Life of a stage:
 *
 *   exec_start(ex, &stage)      returns once the stage is started or
 *                               submitted (asynchronous: it does not wait)
 *   exec_poll(ex, t, fd)        waits at most t seconds for something to
 *                               happen, enforces limits, and calls on_done
 *                               once per stage that ended (on_progress per
 *                               progress line); may return early
 *   exec_cancel(ex, tag)        asks a running stage to stop (TERM, then
 *                               KILL EXEC_KILL_GRACE_S later); its end is
 *                               still reported by a later exec_poll
 *
 * Every started stage is reported exactly once through on_done, from inside
 * exec_poll (never from exec_start or exec_cancel), and the executor forgets it
 * when on_done returns. Stages are named by `tag`, the caller's pointer,
 * unique among the stages it has running. Callbacks must not call
 * exec_start or exec_poll; exec_cancel is fine.
 *
 * Errors: exec_start returns 0, or -1 with a one-line message in err when the
 * stage could not be started at all (nothing is left running and on_done is
 * not called). Everything that happens later (exit status, signal, time or
 * memory limit, the launcher killed) is in the report.
 */
#ifndef STUDY_EXECUTOR_H
#define STUDY_EXECUTOR_H

#include <stddef.h>
#include "plan.h"
#include "strbuf.h"
#include "strvec.h"

/* Seconds between the TERM that stops a stage (time limit, cancel) and the KILL. */
#define EXEC_KILL_GRACE_S 5.0

/*
 * A prepared stage: everything needed to start it, decided by the runner.
 * Strings and vectors are borrowed for the duration of exec_start; an
 * executor copies what it keeps.
 */
struct exec_stage {
	const char *stage_id;     /* for messages and job names */
	void *tag;                /* the caller's handle, given back in the report */
	const struct strvec *steps; /* steps_nr >= 1 argvs, run in order, each once
				     * the one before exited 0; argv[0] is a path */
	size_t steps_nr;
	const struct strvec *env; /* the complete environment (nothing is inherited) */
	const char *workdir;      /* the stage's work directory (store_workdir_path),
				   * created by the runner: cwd/, out/, tmp/ in it */
	const char *cwd;          /* working directory (HOME): <workdir>/cwd */
	const char *stdout_path;  /* the logs, created 0600 or truncated */
	const char *stderr_path;
	int want_progress;        /* give the stage STUDY_PROGRESS_FD and report its
				   * "progress ..." lines through on_progress */

	/* resources (docs/study-format.md, "Resources"), already checked
	 * against exec_caps by the runner */
	int cpus;                 /* >= 1: STUDY_THREADS (slots from the scheduler) */
	long long mem_bytes;      /* 0: no limit; else enforced: a stage above it is
				   * stopped and reported with over_memory */
	int gpus;                 /* how many GPUs; the runner has already named them
				   * in env (CUDA_VISIBLE_DEVICES) when caps.gpu_slots
				   * > 0, else the executor allocates them itself */
	double time_s;            /* 0: none; else TERM after time_s seconds, KILL
				   * EXEC_KILL_GRACE_S later, reported as timed_out */

	/* Adoption hook, for executors whose jobs outlive the orchestrator
	 * (SLURM): the job id that an earlier, killed run recorded for this very
	 * stage and cache key (exec_report.job_id), or NULL. An executor that
	 * finds that job still queued, running or just finished may report it
	 * instead of starting the stage again. The local executor ignores it
	 * (a killed run's processes are killed: exec_recover). The runner
	 * passes NULL today; see docs/executors.md. */
	const char *recorded_job_id;
};

/*
 * How a stage ended. Given to on_done; the strings belong to the executor
 * and are valid until on_done returns.
 */
struct exec_report {
	void *tag;                /* exec_stage.tag */
	int exit_code;            /* exit status; -1 when killed by a signal or unknown */
	int term_signal;          /* the signal that ended it; 0 none */
	int step;                 /* several steps: the 1-based step that ended the stage
				   * (the failing one, else the last); 0 unknown */
	int step_errno;           /* that step could not be executed (exit_code 127) */
	int timed_out;            /* stopped at its time limit */
	int over_memory;          /* stopped for using more than mem_bytes */
	int cancelled;            /* stopped by exec_cancel */
	int dry;                  /* nothing ran (the dry executor) */
	double started, ended;    /* wall clock (Unix seconds) of the stage process's
				   * start and end, as measured by the executor */
	double wall_s;            /* ended - started, from a monotonic clock */
	double cpu_s;             /* user + system seconds; < 0 unknown */
	long peak_rss_kb;         /* peak resident set, KiB; < 0 unknown */
	double queue_wait_s;      /* from exec_start to the process starting (a
				   * cluster's queue); < 0 unknown */
	const char *executor;     /* the implementation's name: "local", "slurm", ... */
	const char *host;         /* where it ran (node name); NULL unknown */
	const char *job_id;       /* the executor's job id; NULL locally */
	const char *queue;        /* the partition / queue it ran in; NULL locally */
	const char *mem_enforcement; /* how mem_bytes was enforced ("cgroup",
				      * "watchdog", "slurm"); NULL when no limit */
	const char *detail;       /* free-form, for messages; NULL */
	const char *reason;       /* how it ended in the executor's own words, when
				   * the exit status does not say it (a cluster's
				   * "node failure (SLURM: NODE_FAIL)", "cancelled
				   * (SLURM: CANCELLED)"): the stage failed, for this
				   * reason, whatever its exit status; NULL: the
				   * runner judges and describes the exit status */
};

/*
 * What an executor can give. The runner refuses, before anything runs, a
 * stage that asks for more than one stage can ever get (exec_check_plan),
 * and schedules running stages against the pools.
 */
struct exec_caps {
	/* the most one stage can get: cpus and mem 0 when no limit is known;
	 * gpus -1 when no limit is known (0: there is no GPU) */
	int max_cpus;
	long long max_mem_bytes;
	int max_gpus;
	/* where those numbers come from, for messages: "this machine has 2
	 * CPUs", "--mem-limit 1G", "--gpus 2" */
	const char *cpus_from, *mem_from, *gpus_from;
	/* pools shared by the running stages (the scheduler keeps the sum of
	 * their resources.mem within mem_pool and hands out GPU slots one stage
	 * at a time); 0: no pool, the executor queues (a cluster) */
	long long mem_pool;
	int gpu_slots;
	/* gpu_slots names: what CUDA_VISIBLE_DEVICES lists for slot i ("0",
	 * "1", or the entries of the orchestrator's own CUDA_VISIBLE_DEVICES);
	 * owned by the executor */
	char *const *gpu_names;
};

struct executor;

/* One implementation. See the functions below for each operation. */
struct exec_ops {
	const char *name;
	void (*caps)(struct executor *ex, struct exec_caps *caps);
	int (*start)(struct executor *ex, const struct exec_stage *xs, struct strbuf *err);
	int (*poll)(struct executor *ex, double timeout_s, int wake_fd);
	void (*cancel)(struct executor *ex, void *tag);
	size_t (*running)(struct executor *ex);
	double (*now)(struct executor *ex);
	void (*recover)(struct executor *ex, const char *work_dir);
	void (*destroy)(struct executor *ex);
	const char *(*job_id)(struct executor *ex, void *tag); /* may be NULL */
};

typedef void (*exec_done_fn)(void *ctx, const struct exec_report *rep);
typedef void (*exec_progress_fn)(void *ctx, void *tag, const char *line);

/* The common part of every executor (implementations embed it first). */
struct executor {
	const struct exec_ops *ops;
	exec_done_fn on_done;         /* required before the first exec_start */
	exec_progress_fn on_progress; /* may be NULL */
	void *ctx;                    /* passed to both */
};

/* Set the callbacks (may be changed between runs, not while stages run). */
void exec_set_callbacks(struct executor *ex, exec_done_fn done, exec_progress_fn progress,
			void *ctx);
const char *exec_name(const struct executor *ex);
void exec_caps(struct executor *ex, struct exec_caps *caps);
/* Start (or submit) a prepared stage; see above. */
int exec_start(struct executor *ex, const struct exec_stage *xs, struct strbuf *err);
/* Wait up to timeout_s seconds (0: only look) for ended stages, progress lines,
 * or wake_fd (>= 0) becoming readable (the runner's signal pipe; not read
 * here), enforcing time and memory limits and cancels meanwhile. Returns the
 * number of stages reported through on_done. Batched: one call looks at every
 * running stage (a cluster executor asks its scheduler once). */
int exec_poll(struct executor *ex, double timeout_s, int wake_fd);
/* Ask a running stage to stop: TERM now, KILL EXEC_KILL_GRACE_S later (its
 * report has cancelled = 1). Unknown tags are ignored. */
void exec_cancel(struct executor *ex, void *tag);
/* How many started stages have not been reported yet. */
size_t exec_running(struct executor *ex);
/* The executor's monotonic clock in seconds: the runner times retries and
 * its waits by it (the fake executor's is virtual). */
double exec_now(struct executor *ex);
/* Before a run empties the store's work directory (store_clean_tmp): deal
 * with what a killed earlier run left running there (local: kill the
 * process groups noted in WORK_DIR/<name>/pgid, pgroup.h). */
void exec_recover(struct executor *ex, const char *work_dir);
/* The id of the job a started stage became, for executors whose stages are
 * a scheduler's jobs (SLURM); NULL locally or when tag is unknown. Valid
 * until the stage is reported. The runner records it at once (provenance
 * table jobs), so that a run killed while its jobs run leaves their ids. */
const char *exec_job_id(struct executor *ex, void *tag);
/* Stop whatever still runs (KILL), and free. NULL is fine. */
void exec_destroy(struct executor *ex);

/* A copy of a report that outlives on_done (its strings duplicated), and its
 * release. */
void exec_report_copy(struct exec_report *dst, const struct exec_report *src);
void exec_report_release(struct exec_report *rep);

/* Append a size in resources.mem's own form: "512M", "10G", "1536K", or
 * bytes ("1000") when no unit divides it. */
void exec_add_size(struct strbuf *sb, long long bytes);

/*
 * Refuse, before anything runs, a stage that asks for more than one stage can
 * ever get from `caps`: "<study>:<line>:<col>: stage 'ID' asks for 3 GPUs
 * (resources.gpus), but --gpus 2 gives 2 GPU slots". Only the stages with
 * selected[i] != 0 are looked at (selected NULL: all). Returns 0, or -1 with
 * one message in err naming the first such stage.
 */
int exec_check_plan(const struct exec_caps *caps, const struct plan *p, const char *selected,
		    struct strbuf *err);

/* ---- the implementations ---- */

/* local: processes on this machine (exec_local.c). */
struct exec_local_opts {
	int jobs;               /* -j: the cpu slots (max_cpus is the larger of
				 * this and the machine's CPUs) */
	long long mem_limit;    /* --mem-limit in bytes; 0: the machine's memory */
	int gpus;               /* --gpus N; -1: the visible devices */
};
struct executor *exec_local_new(const struct exec_local_opts *o, struct strbuf *err);

/* dry: `run --dry-run` (exec_dry.c). Advertises `caps` (copied; gpu_names
 * are borrowed and must outlive it) so that the plan is checked and admitted
 * as a real run would be; starts nothing and reports every stage at once
 * (at the next exec_poll) with dry = 1 and exit status 0. exec_dry_started
 * lists the ids of the stages it was asked to start, in order. */
struct executor *exec_dry_new(const struct exec_caps *caps);
char *const *exec_dry_started(struct executor *ex, size_t *nr);

#endif
