/*
 * exec_slurm: the SLURM executor (executor.h) — each stage is one batch job
 * (docs/cluster.md). Command lines and output formats are slurm.h's; this
 * file owns the jobs of one run: submitting, one squeue call per poll for
 * all of them, the completion log for jobs slurmctld has forgotten, the
 * stage's time limit, cancels, the report, and the jobs a killed run left.
 *
 * A job runs the stage launcher (bin/study-exec) through the exec wrapper
 * (slurm.h), exactly as the local executor does: the same argv, environment,
 * working directory, logs and multi-step semantics, and the launcher's
 * report (exit status, signal, the step, CPU time, peak memory), written to
 * <workdir>/report on the node. So the outputs, and the cache keys (which
 * never see the executor), are those of a local run.
 *
 * Limits: resources.time is enforced by the orchestrator to the second (an
 * scancel once the job has run that long; reported timed_out), and given to
 * SLURM as --time in whole minutes, rounded up, so that a job whose
 * orchestrator died still ends. resources.mem is --mem, enforced by SLURM
 * (OUT_OF_MEMORY: over_memory, mem_enforcement "slurm").
 *
 * The store must be on a filesystem every node sees: a job whose node could
 * not open its logs or enter its working directory fails with a reason
 * saying so, naming the node.
 *
 * Recovery: every job is noted in its work directory (<workdir>/job) before
 * it is submitted and with its id once it is. exec_recover reads the notes a
 * killed run left in work/ and cancels the jobs still queued or running
 * (waiting until SLURM says they ended), so that no stage ever runs twice at
 * once and nothing writes into a work directory the new run removes.
 */
#ifndef STUDY_EXEC_SLURM_H
#define STUDY_EXEC_SLURM_H

#include "executor.h"

struct exec_slurm_opts {
	const char *partition;  /* --partition; NULL: the cluster's default */
	const char *account;    /* --account; NULL: none */
	char *const *opts;      /* further sbatch options, one argument each,
				 * NULL-terminated; NULL: none (checked with
				 * slurm_check_opt) */
	double poll_s;          /* seconds between squeue calls; 0: SLURM_POLL_S */
};

/* Seconds between two squeue calls (SLURM starts jobs on a 1 s tick). */
#define SLURM_POLL_S 0.5

/* What exec_recover does for this executor: cancel the jobs a killed run
 * noted in work_dir (queued or running still) and wait until they end.
 * Nothing (no SLURM command run) when no job is noted there. `study run`
 * calls it whatever executor it uses, so that a local run after a killed
 * SLURM one never removes a work directory a job still writes into. */
void exec_slurm_recover(const char *work_dir);

/* The executor, after checking that sbatch, squeue, scancel and sinfo are
 * here, that the controller answers, and that the partition exists (its
 * largest node gives exec_caps). NULL with err when not. */
struct executor *exec_slurm_new(const struct exec_slurm_opts *o, struct strbuf *err);

#endif
