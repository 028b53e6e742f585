/*
 * study-exec: the stage launcher (bin/study-exec). Owns the measurement of one
 * stage: it creates the stage process, waits for it, and reports the stage's
 * exact wait status, rusage and start/end times to the orchestrator over a
 * pipe (protocol in launch.h), then exits the way the stage did.
 *
 * Why a separate program: on Linux, execve() folds the *old* address space's
 * RSS high-water mark into the process's ru_maxrss. proc.c starts stages with
 * vfork(), so the old address space is the orchestrator's, and a 1.7 MB stage
 * was recorded at ~12 MB. This launcher is static and tiny; the stage is a
 * fresh child of it, so what wait4() reports is the stage's alone (as with
 * /usr/bin/time).
 *
 * Contract with proc.c: it arrives with every signal blocked, in the stage's
 * process group, with stdin/stdout/stderr/progress descriptors, working
 * directory, environment and dispositions already as the stage must see them.
 * It never writes to stdout or stderr (they are the stage's logs). It keeps
 * all signals blocked for itself; the stage gets the empty mask. Once the stage
 * exists the launcher moves itself to the orchestrator's process group, so
 * that signals sent to the stage's group (timeouts: TERM, then KILL) reach the
 * stage's tree only and the launcher survives to report. A signal sent to the
 * group before the stage exists ends the launcher by that signal, as it would
 * have ended the stage before its exec. The stage dies with the launcher
 * (PR_SET_PDEATHSIG), which dies with the orchestrator.
 *
 * A stage of several steps (launch.h) runs them here one after another, in
 * the same process group, so that timeouts and usage cover the whole stage.
 *
 * No library beyond libc; only async-signal-safe calls between vfork and exec.
 */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int report_fd = -1;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void report(int kind, int value, int64_t when, const struct rusage *ru, int step,
		   int step_errno)
{
	struct launch_msg m;
	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.value = value;
	m.mono_ns = when;
	if (ru)
		m.ru = *ru;
	m.step = step;
	m.step_errno = step_errno;
	ssize_t n;
	do
		n = write(report_fd, &m, sizeof(m));
	while (n < 0 && errno == EINTR);
	/* a short or failed write: the orchestrator has gone; nothing to do */
}

/* End this process by signal sig (as the stage ended), without a core file. */
static void die_by(int sig)
{
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core);
	signal(sig, SIG_DFL);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
	_exit(128 + sig);
}

/* A signal whose default action ends a process (not ignore, stop or continue). */
static int ends_process(int sig)
{
	switch (sig) {
	case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
	case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
		return 0;
	}
	return 1;
}

/* A signal already pending was sent to the stage's group before the stage
 * existed: end the way the stage would have, before its exec. */
static void die_if_signalled(void)
{
	sigset_t pend;
	if (sigpending(&pend) < 0)
		return;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(&pend, sig) != 1 || !ends_process(sig))
			continue;
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
			die_by(sig);
	}
}

/* The usage of several steps as one: times and counters add up, the peak
 * RSS is the largest step's. */
static void add_usage(struct rusage *sum, const struct rusage *ru)
{
	sum->ru_utime.tv_sec += ru->ru_utime.tv_sec;
	sum->ru_utime.tv_usec += ru->ru_utime.tv_usec;
	sum->ru_stime.tv_sec += ru->ru_stime.tv_sec;
	sum->ru_stime.tv_usec += ru->ru_stime.tv_usec;
	sum->ru_utime.tv_sec += sum->ru_utime.tv_usec / 1000000;
	sum->ru_utime.tv_usec %= 1000000;
	sum->ru_stime.tv_sec += sum->ru_stime.tv_usec / 1000000;
	sum->ru_stime.tv_usec %= 1000000;
	if (ru->ru_maxrss > sum->ru_maxrss)
		sum->ru_maxrss = ru->ru_maxrss;
	sum->ru_minflt += ru->ru_minflt;
	sum->ru_majflt += ru->ru_majflt;
	sum->ru_inblock += ru->ru_inblock;
	sum->ru_oublock += ru->ru_oublock;
	sum->ru_nvcsw += ru->ru_nvcsw;
	sum->ru_nivcsw += ru->ru_nivcsw;
}

/* A stop signal sent to the launcher itself (blocked, so pending): the
 * orchestrator is stopping the stage; the next step must not start. */
static int stop_pending(void)
{
	static const int stops[] = { SIGTERM, SIGINT, SIGHUP };
	sigset_t pend;
	if (sigpending(&pend) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		if (sigismember(&pend, stops[i]) == 1)
			return stops[i];
	return 0;
}

/* One step: the program to execute and its NULL-terminated argv. */
struct step {
	const char *path;
	char **argv;
};

/* Parse "--steps N C1 ARGV... C2 ARGV..." at argv[i] into steps (the counts
 * are overwritten with NULL to end the argv before them). Returns the number
 * of steps, or 0 when malformed. */
static size_t parse_steps(int argc, char **argv, int i, struct step **out)
{
	char *end;
	long n = strtol(argv[i], &end, 10);
	if (*end || n < 1 || n > argc)
		return 0;
	struct step *st = calloc((size_t)n, sizeof(*st));
	if (!st)
		return 0;
	i++;
	for (long k = 0; k < n; k++) {
		long c = i < argc ? strtol(argv[i], &end, 10) : 0;
		if (i >= argc || *end || c < 1 || c > argc - i - 1) {
			free(st);
			return 0;
		}
		if (k)
			argv[i] = NULL; /* ends the argv of step k - 1 */
		st[k].path = argv[i + 1];
		st[k].argv = argv + i + 1;
		i += 1 + (int)c;
	}
	if (i != argc) {
		free(st);
		return 0;
	}
	*out = st;
	return (size_t)n;
}

/* Create step k's process (vfork: no page tables to copy; its ru_maxrss
 * starts from this program's few hundred KiB, not from anything larger). A
 * later step joins the stage's process group `pgid`, which the previous step,
 * exited but not yet reaped, keeps in existence. Returns its pid, or -1 with
 * *exec_errno set; *exec_errno is also set when the exec failed (the child
 * has then exited 127 and must be reaped). */
static pid_t start_step(const struct step *st, int join, pid_t pgid, pid_t self,
			volatile int *exec_errno)
{
	static sigset_t none;
	sigemptyset(&none);
	*exec_errno = 0;
	pid_t pid = vfork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != self)
			_exit(127); /* the launcher died before the line above took effect */
		if (join && setpgid(0, pgid) < 0) {
			*exec_errno = errno;
			_exit(127);
		}
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(st->path, st->argv, environ);
		*exec_errno = errno;
		_exit(127);
	}
	if (pid < 0)
		*exec_errno = errno;
	return pid;
}

/* Reap pid (exited), adding its usage to *sum. Returns its wait status, or -1. */
static int reap(pid_t pid, struct rusage *sum)
{
	int status;
	struct rusage ru;
	pid_t w;
	do
		w = wait4(pid, &status, 0, &ru);
	while (w < 0 && errno == EINTR);
	if (w != pid)
		return -1;
	add_usage(sum, &ru);
	return status;
}

/* Wait until pid has ended without reaping it (so that it stays in its
 * process group). Returns 1 when it exited 0, 0 otherwise, -1 on error. */
static int ended_ok(pid_t pid)
{
	siginfo_t info;
	memset(&info, 0, sizeof(info));
	int rc;
	do
		rc = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -1;
	return info.si_code == CLD_EXITED && info.si_status == 0;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 127;
	char *end;
	long fd = strtol(argv[1], &end, 10);
	if (*end || fd < 3 || fd > 1 << 20)
		return 127;
	report_fd = (int)fd;
	/* the stage must not inherit the report pipe */
	if (fcntl(report_fd, F_SETFD, FD_CLOEXEC) < 0)
		return 127;
	struct step one = { argv[2], argv + 3 }, *steps = &one;
	size_t nsteps = 1;
	int multi = !strcmp(argv[2], "--steps");
	if (multi && !(nsteps = parse_steps(argc, argv, 3, &steps)))
		return 127;
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	die_if_signalled();
	pid_t self = getpid(), pgid = getpgrp();
	volatile int exec_errno = 0;
	int64_t t0 = mono_ns();
	pid_t pid = start_step(&steps[0], 0, pgid, self, &exec_errno);
	if (pid < 0) {
		report(LAUNCH_NO_EXEC, exec_errno, mono_ns(), NULL, 0, 0);
		return 127;
	}
	int status;
	struct rusage sum;
	memset(&sum, 0, sizeof(sum));
	if (exec_errno) {
		report(LAUNCH_NO_EXEC, exec_errno, mono_ns(), NULL, 0, 0);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		return 127;
	}
	/* Leave the stage's group (the stage stays in it): TERM and KILL meant for
	 * the stage's tree then leave the launcher alive to report. If this fails
	 * the launcher stays and a KILL loses the report (proc.c records no usage). */
	pid_t parent_group = getpgid(getppid());
	if (parent_group > 0)
		setpgid(0, parent_group);
	report(LAUNCH_STARTED, pid, t0, NULL, 0, 0);

	/* Each step runs once the one before exited 0; that one is reaped only
	 * after the next has joined the group it keeps alive. */
	size_t k = 0;
	int step_errno = 0, stop = 0;
	for (;;) {
		int ok = ended_ok(pid);
		if (ok < 0)
			return 127;
		if (!ok || k + 1 == nsteps || (stop = stop_pending()))
			break;
		pid_t next = start_step(&steps[k + 1], 1, pgid, self, &exec_errno);
		if (reap(pid, &sum) < 0)
			return 127;
		k++;
		pid = next;
		if (exec_errno) {
			step_errno = exec_errno;
			if (pid > 0)
				reap(pid, &sum);
			pid = -1;
			break;
		}
	}
	if (stop) {
		/* stopped between steps: ended by the signal, as step k + 2 would
		 * have been before its exec */
		if (reap(pid, &sum) < 0)
			return 127;
		k++;
		status = stop;
	} else if (pid < 0) {
		status = 127 << 8; /* step k could not be executed: exit status 127 */
	} else if ((status = reap(pid, &sum)) < 0) {
		return 127;
	}
	report(LAUNCH_DONE, status, mono_ns(), &sum, multi ? (int)k + 1 : 0, step_errno);
	if (WIFSIGNALED(status))
		die_by(WTERMSIG(status));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 127;
}
