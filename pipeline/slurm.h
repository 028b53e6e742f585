/*
 * slurm: the SLURM client primitives the SLURM executor is built on. One home
 * for every SLURM command line the orchestrator builds (sbatch, squeue,
 * sacct -c, scancel, sinfo), every SLURM output format it reads, the job's
 * exec wrapper script, and the mapping from SLURM job states to the reasons
 * provenance records. No state: the executor (executor_slurm.c) keeps the
 * jobs; these functions only build, run and parse.
 *
 * Why each choice (measured on slurm-wlm 22.05, docs/cluster.md):
 *   - sbatch, not srun: a batch job outlives the orchestrator (a killed run
 *     leaves jobs that the next run adopts) and a slurmctld restart.
 *   - argv exact: sbatch is started with execve, never a shell, and the job
 *     runs a fixed wrapper script (slurm_wrapper_text) whose arguments are the
 *     command; sbatch hands a script its arguments byte for byte.
 *   - the environment: sbatch gets the stage's cleared environment as its
 *     envp with --export=ALL, so the job sees exactly that plus what SLURM
 *     adds (SLURM_*, CUDA_VISIBLE_DEVICES for --gres=gpu, HOSTNAME,
 *     ENVIRONMENT). --export=NONE would load root's login environment.
 *   - the wrapper enters the working directory itself and fails (exit
 *     SLURM_WRAPPER_NO_DIR) when it is missing: given a missing --chdir,
 *     SLURM runs the job in /tmp and reports success.
 *   - --no-requeue: a job requeued after a node failure would run the stage a
 *     second time into the same output directory; the orchestrator decides
 *     (retries) instead.
 *   - completion: one squeue call for all jobs (slurm_query); its exit_code
 *     field is the job's wait(2) status, the same number scontrol prints as
 *     ExitCode=E:S. A job slurmctld no longer remembers (MinJobAge) is looked
 *     up in the job completion log (sacct -c, slurm_query_completed).
 *
 * Errors: functions that run a command return 0, or -1 with a one-line
 * message in err naming the command and what it printed.
 */
#ifndef STUDY_SLURM_H
#define STUDY_SLURM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "strbuf.h"
#include "strvec.h"

/* The wrapper's exit status when it cannot enter the job's working directory
 * or open the report file (the node does not see the store). */
#define SLURM_WRAPPER_NO_DIR 97
/* Descriptor on which the wrapper opens the report file for the command. */
#define SLURM_WRAPPER_REPORT_FD 4

/* What one job needs. Paths are absolute. */
struct slurm_job_spec {
	const char *name;        /* --job-name: characters outside [A-Za-z0-9._/:+-]
				  * become '_' (the job completion log splits on spaces) */
	const char *workdir;     /* --chdir, and where the wrapper cd's */
	const char *stdout_path; /* -o; must not contain '%' (SLURM expands it) */
	const char *stderr_path; /* -e; the same */
	const char *report_path; /* opened for writing as SLURM_WRAPPER_REPORT_FD */
	const char *progress_path; /* NULL, or opened for appending as descriptor 3 */
	const char *script;      /* the wrapper script (slurm_write_wrapper) */
	int cpus;                /* --cpus-per-task; <= 0: not given */
	long long mem_bytes;     /* --mem in MiB, rounded up; <= 0: not given */
	int gpus;                /* --gres=gpu:N; <= 0: not given */
	double time_s;           /* --time in whole minutes, rounded up; <= 0: none */
	const char *partition;   /* --partition; NULL or "": not given */
	const char *account;     /* --account; NULL or "": not given */
	char *const *opts;       /* further sbatch options, each one argument, given
				  * after ours (so they win); NULL-terminated or NULL */
	char *const *argv;       /* the command the wrapper executes; NULL-terminated */
};

/* The sbatch command line for spec: `sbatch` (the path given), options, the
 * script, then the wrapper's arguments (workdir, report, progress or "",
 * argv...). Returns 0, or -1 with err when the spec cannot be submitted
 * faithfully (a '%' in a log path, an empty argv). */
int slurm_sbatch_argv(const struct slurm_job_spec *spec, const char *sbatch,
		      struct strvec *out, struct strbuf *err);

/* The job name sbatch is given for `name` (appended to out): characters
 * outside [A-Za-z0-9._/:+-] become '_' ("study" for an empty name). */
void slurm_job_name(const char *name, struct strbuf *out);

/* Whole minutes for a limit of `seconds` (> 0), rounded up: 1 s -> 1, 60 -> 1, 61 -> 2. */
long slurm_time_minutes(double seconds);
/* MiB for `bytes` (> 0), rounded up. */
long long slurm_mem_mib(long long bytes);

/* The exec wrapper: a fixed POSIX sh script, `#!/bin/sh`, run by the job as
 * `SCRIPT WORKDIR REPORT PROGRESS PROGRAM ARG...`. It changes to WORKDIR,
 * opens REPORT as descriptor 4 and PROGRESS (when not "") as descriptor 3,
 * and execs PROGRAM with the arguments untouched; any failure before the exec
 * prints one line on stderr and exits SLURM_WRAPPER_NO_DIR. */
const char *slurm_wrapper_text(void);
/* Write the wrapper as `dir`/slurm-job.sh (0755, atomically; left alone when
 * already identical) and set path to it. */
int slurm_write_wrapper(const char *dir, struct strbuf *path, struct strbuf *err);

/* Job states. The final ones are everything from SLURM_COMPLETED on. */
enum slurm_state {
	SLURM_UNKNOWN = 0,   /* a name this code does not know */
	SLURM_PENDING,
	SLURM_RUNNING,
	SLURM_SUSPENDED,
	SLURM_COMPLETING,    /* ended, but not all processes are gone yet */
	SLURM_COMPLETED,     /* final states from here */
	SLURM_FAILED,
	SLURM_TIMEOUT,
	SLURM_CANCELLED,
	SLURM_NODE_FAIL,
	SLURM_PREEMPTED,
	SLURM_OUT_OF_MEMORY,
	SLURM_BOOT_FAIL,
	SLURM_DEADLINE,
};
/* The state named `name` ("COMPLETED", also "CANCELLED by 0" as sacct writes
 * it, "CONFIGURING" and "REQUEUED" as PENDING...); SLURM_UNKNOWN otherwise. */
enum slurm_state slurm_state_parse(const char *name);
const char *slurm_state_name(enum slurm_state s);
int slurm_state_final(enum slurm_state s);

/* One job as SLURM reports it. Strings are owned ("" when not known). */
struct slurm_job {
	long id;
	enum slurm_state state;
	char *state_name;   /* as printed */
	char *reason;       /* squeue/scontrol Reason ("None", "NonZeroExitCode"...) */
	int status_known;   /* status is the job's wait status */
	int status;         /* wait(2) status of the batch script (WIFEXITED...) */
	char *node;         /* NodeList ("" while pending) */
	char *partition;
	char *name;
	time_t submit, start, end; /* 0 when unknown */
};
void slurm_job_init(struct slurm_job *j);
void slurm_job_release(struct slurm_job *j);

/* The squeue -O fields slurm_parse_squeue reads, in order ('|' after each). */
#define SLURM_SQUEUE_FORMAT \
	"JobID:|,State:|,Reason:|,exit_code:|,NodeList:|,Partition:|,SubmitTime:|,StartTime:|,EndTime:|,Name:|"
/* Parse one line of `squeue -h -O SLURM_SQUEUE_FORMAT`. 0, or -1 when malformed. */
int slurm_parse_squeue(const char *line, struct slurm_job *j);
/* Parse one line of `scontrol show job -o`: JobId, JobName, JobState, Reason,
 * ExitCode=E:S, Partition, NodeList, SubmitTime, StartTime, EndTime. */
int slurm_parse_scontrol(const char *line, struct slurm_job *j);
/* The sacct -c fields slurm_parse_sacct reads, in order (-P: '|' between). */
#define SLURM_SACCT_FORMAT "jobid,state,exitcode,nodelist,partition,start,end,jobname"
/* Parse one line of `sacct -c -n -P -o SLURM_SACCT_FORMAT`. 0, or -1. */
int slurm_parse_sacct(const char *line, struct slurm_job *j);
/* The job id in `sbatch --parsable` output ("ID" or "ID;CLUSTER", then a
 * newline); -1 when there is none. */
long slurm_parse_parsable(const char *out);
/* "E:S" as scontrol and sacct print ExitCode -> wait status. 0, or -1. */
int slurm_parse_exitcode(const char *s, int *status);
/* SLURM's local time "2026-11-30T14:01:01" -> seconds; 0 for "N/A", "Unknown", "". */
time_t slurm_parse_time(const char *s);

/* Why a final job did not succeed, for provenance and the terminal, into
 * why (reset first): "over time limit (SLURM: TIMEOUT)", "over memory limit
 * (SLURM: OUT_OF_MEMORY)", "cancelled (SLURM: CANCELLED)", "node failure
 * (SLURM: NODE_FAIL)", "preempted (SLURM: PREEMPTED)", "exited with status
 * 3", "killed by signal 9 (Killed)"... Returns 1 when the job failed, 0 when
 * it completed with status 0 (why left empty). */
int slurm_describe(const struct slurm_job *j, struct strbuf *why);

/* ---- running the commands ---- */

/* Run argv (argv[0] a path) with envp (NULL: this process's environment),
 * stdin from /dev/null; collect stdout into out and stderr into errout.
 * Returns the wait status, or -1 with err when it could not be started. */
int slurm_run(char *const *argv, char *const *envp, struct strbuf *out, struct strbuf *errout,
	      struct strbuf *err);

/* The path of SLURM command `name` (sbatch, squeue...) in PATH; NULL with err
 * "cannot find NAME in PATH: is SLURM installed here?". Caller frees. */
char *slurm_find(const char *name, struct strbuf *err);

/* Submit: sbatch --parsable with envp as its environment. Sets *id. */
int slurm_submit(const struct slurm_job_spec *spec, char *const *envp, long *id,
		 struct strbuf *err);

/* The state of jobs ids[0..n) by one squeue call (ids not listed are simply
 * absent from the result: slurmctld has forgotten them, or never knew them).
 * *jobs is a new array of *njobs entries the caller releases with
 * slurm_jobs_free. -1 with err when squeue fails (slurmctld not reachable). */
int slurm_query(const long *ids, size_t n, struct slurm_job **jobs, size_t *njobs,
		struct strbuf *err);
/* The same from the job completion log (sacct -c); the last record of an id
 * wins. */
int slurm_query_completed(const long *ids, size_t n, struct slurm_job **jobs, size_t *njobs,
			  struct strbuf *err);
void slurm_jobs_free(struct slurm_job *jobs, size_t n);
/* scancel ids[0..n) (one call): the jobs end (CANCELLED; SLURM sends TERM
 * to the batch script, KILL to everything KillWait later). With term_only,
 * `scancel --signal=TERM --full` instead: TERM to every process of each
 * (running) job, which goes on if they survive it; only for running jobs (a
 * pending job signalled so is ended as COMPLETED). Jobs already gone are
 * not an error. */
int slurm_cancel(const long *ids, size_t n, int term_only, struct strbuf *err);

/* The ids (as text, pushed onto ids) of this user's jobs that are queued or
 * running and whose comment starts with `prefix` (one squeue call). */
int slurm_active_by_comment(const char *prefix, struct strvec *ids, struct strbuf *err);

/* One node of a partition, as sinfo -N lists it. */
struct slurm_node {
	char *name, *partition; /* partition without the default's '*' */
	int cpus;
	long long mem_mib;
	int gpus;               /* the count of its gres/gpu, 0 when none */
};
/* The nodes of `partition` (NULL: of the default partition, or of every
 * partition when none is marked default), one sinfo call. -1 with err when
 * sinfo fails (the controller does not answer). */
int slurm_nodes(const char *partition, struct slurm_node **nodes, size_t *n, struct strbuf *err);
void slurm_nodes_free(struct slurm_node *nodes, size_t n);
/* The gpu count in a GRES list as sinfo prints it: "gpu:2", "gpu:a100:4(S:0-1)",
 * "craynetwork:1,gpu:2"; 0 for "(null)". */
int slurm_gres_gpus(const char *gres);

/* An extra sbatch option (--slurm-opt, slurm_opts:) is one argument starting
 * with '-', and not one the executor sets itself or that would change what
 * a job is (--output, --chdir, --export, --wrap, --array, --requeue...).
 * 0, or -1 with err: "--slurm-opt '--output=x': the executor sets --output
 * (each stage's own log)". */
int slurm_check_opt(const char *opt, struct strbuf *err);

#endif
