/*
 * proc: starting and reaping one stage subprocess (after git's run-command),
 * and measuring it.
 *
 * The caller fills argv, env (the complete environment: nothing is inherited),
 * dir, and the two log paths, then calls child_start(). The child runs in its
 * own process group (so timeouts and interrupts reach its whole tree), with
 * stdin from /dev/null, stdout and stderr written to the log files (created
 * 0600 or truncated: each start begins them empty), every other descriptor
 * closed, and dies with the orchestrator (PR_SET_PDEATHSIG).
 * With want_progress set, the write end of a pipe is descriptor
 * CHILD_PROGRESS_FD in the child and the read end (non-blocking, close-on-exec)
 * is child.progress_fd in the parent; the caller closes it (child_release does).
 *
 * argv[0] must already be a path (the runner resolves PATH lookups itself so
 * the resolved program can be hashed and recorded). An exec failure is
 * reported by child_start (-1, "cannot execute 'X': why"), not as an exit code.
 *
 * Measurement: the child execs the stage launcher (bin/study-exec, next to the
 * running program; launcher/launch.h), which creates the stage as its own
 * child and reports the stage's wait status, rusage and start/end times. So
 * ru, started and ended are the stage's alone (its own and its waited-for
 * descendants' usage; the same numbers /usr/bin/time prints for the stage),
 * not the orchestrator's pages that an exec straight from our vfork child
 * would fold into ru_maxrss. c->pid is the launcher, the leader of the stage's
 * process group; the launcher leaves that group once the stage is in it, so
 * child_signal() reaches the stage's tree only and the launcher stays to
 * report. Without a launcher (none found, or proc_set_launcher(NULL)) the
 * stage is exec'd directly and its usage is unknown (usage_known 0).
 */
#ifndef STUDY_PROC_H
#define STUDY_PROC_H

#include <sys/resource.h>
#include <sys/types.h>
#include "strbuf.h"
#include "strvec.h"

#define CHILD_PROGRESS_FD 3

struct child {
	struct strvec argv, env;
	/* A stage of several steps: the argv of steps 2..n (argv is step 1),
	 * run by the launcher in order, each once the one before exited 0, in
	 * the same directory, environment, logs and process group; a stop signal
	 * (child_signal with TERM) keeps the next one from starting. Needs the
	 * launcher. Owned (child_release frees them); NULL and 0 for one step. */
	struct strvec *more_steps;
	size_t more_steps_nr;
	const char *dir;         /* working directory */
	const char *stdout_path; /* created 0600 or truncated to empty */
	const char *stderr_path;
	int want_progress;
	/* the cgroup.procs file of a cgroup the child moves itself into before
	 * the exec (the stage and its descendants then run in it); NULL: none */
	const char *cgroup_procs;

	/* filled by child_start */
	pid_t pid;               /* the launcher (or the stage); also the process group id */
	int progress_fd;         /* -1 when none */
	int report_fd;           /* the launcher's report pipe; -1 when none */
	double started;          /* monotonic seconds, just before the stage process was created */
	double started_wall;     /* the same instant on the wall clock */

	/* filled by child_reaped */
	int exit_code;           /* -1 when killed by a signal */
	int term_signal;
	int usage_known;         /* ru is the stage's own (the launcher reported it) */
	struct rusage ru;        /* of several steps: their sum (peak RSS: the largest) */
	int step;                /* several steps: the 1-based step that ended the stage
				  * (the one that failed, else the last); 0 when unknown */
	int step_errno;          /* that step could not be executed (exit_code 127) */
	double ended;            /* monotonic seconds, when the stage was reaped */
};

void child_init(struct child *c);
void child_release(struct child *c); /* frees argv/env/more_steps, closes progress_fd, report_fd */
/* Start the child. Returns 0, or -1 with a message in err (nothing left running). */
int child_start(struct child *c, struct strbuf *err);
/* Record that c->pid was reaped with wait status `status` and rusage `ru`
 * (wait4's, of the launcher): fills exit_code, term_signal, ended, ru and
 * usage_known from the launcher's report when there is one, else from these
 * (usage_known 0: the launcher was killed, or there is none). Closes report_fd. */
void child_reaped(struct child *c, int status, const struct rusage *ru);
/* The stage's user + system CPU seconds and peak RSS in KiB; -1 when unknown. */
double child_cpu_s(const struct child *c);
long child_peak_rss_kb(const struct child *c);
/* The launcher child_start uses: by default study-exec in the directory of the
 * running program (/proc/self/exe) when executable there; NULL for none. A
 * relative path is made absolute with realpath (the child changes directory
 * first); one realpath cannot resolve is kept as given. */
void proc_set_launcher(const char *path);
const char *proc_launcher(void);
/* Send sig to the child's whole process group; a signal other than KILL
 * also to the launcher while it runs, so that no further step starts. */
void child_signal(const struct child *c, int sig);

/* Monotonic and wall clocks in seconds. */
double clock_mono(void);
double clock_wall(void);

/* Find an executable named `name` in the ':'-separated `path`. Returns a new
 * string the caller frees, or NULL. */
char *find_in_path(const char *name, const char *path);

#endif
