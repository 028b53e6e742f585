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

static void report(int kind, int value, int64_t when, const struct rusage *ru)
{
	struct launch_msg m;
	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.value = value;
	m.mono_ns = when;
	if (ru)
		m.ru = *ru;
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
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &all, NULL);

	die_if_signalled();
	pid_t self = getpid();
	volatile int exec_errno = 0;
	int64_t t0 = mono_ns();
	/* vfork: no page tables to copy; the stage's ru_maxrss starts from this
	 * program's few hundred KiB, not from anything larger */
	pid_t pid = vfork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != self)
			_exit(127); /* the launcher died before the line above took effect */
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(argv[2], argv + 3, environ);
		exec_errno = errno;
		_exit(127);
	}
	if (pid < 0) {
		report(LAUNCH_NO_EXEC, errno, mono_ns(), NULL);
		return 127;
	}
	int status;
	struct rusage ru;
	if (exec_errno) {
		report(LAUNCH_NO_EXEC, exec_errno, mono_ns(), NULL);
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
	report(LAUNCH_STARTED, pid, t0, NULL);

	pid_t w;
	do
		w = wait4(pid, &status, 0, &ru);
	while (w < 0 && errno == EINTR);
	if (w != pid)
		return 127;
	report(LAUNCH_DONE, status, mono_ns(), &ru);
	if (WIFSIGNALED(status))
		die_by(WTERMSIG(status));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 127;
}
