/*
 * proc: starting and reaping one stage subprocess (after git's run-command).
 *
 * The caller fills argv, env (the complete environment: nothing is inherited),
 * dir, and the two log paths, then calls child_start(). The child runs in its
 * own process group (so timeouts and interrupts reach its whole tree), with
 * stdin from /dev/null, stdout and stderr appended to the log files, every
 * other descriptor closed, and dies with the orchestrator (PR_SET_PDEATHSIG).
 * With want_progress set, the write end of a pipe is descriptor
 * CHILD_PROGRESS_FD in the child and the read end (non-blocking, close-on-exec)
 * is child.progress_fd in the parent; the caller closes it (child_release does).
 *
 * argv[0] must already be a path (the runner resolves PATH lookups itself so
 * the resolved program can be hashed and recorded). An exec failure is
 * reported by child_start (-1, "cannot execute 'X': why"), not as an exit code.
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
	const char *dir;         /* working directory */
	const char *stdout_path; /* created 0600, truncated */
	const char *stderr_path;
	int want_progress;

	/* filled by child_start */
	pid_t pid;               /* also the process group id */
	int progress_fd;         /* -1 when none */
	double started;          /* monotonic seconds */

	/* filled when reaped */
	int exit_code;           /* -1 when killed by a signal */
	int term_signal;
	struct rusage ru;
	double ended;
};

void child_init(struct child *c);
void child_release(struct child *c); /* frees argv/env, closes progress_fd */
int child_start(struct child *c, struct strbuf *err);
/* Send sig to the child's whole process group. */
void child_signal(const struct child *c, int sig);

/* Monotonic and wall clocks in seconds. */
double clock_mono(void);
double clock_wall(void);

/* Find an executable named `name` in the ':'-separated `path`. Returns a new
 * string the caller frees, or NULL. */
char *find_in_path(const char *name, const char *path);

#endif
