/*
 * proc: fork/exec of one stage with its own process group, cleared
 * environment, captured logs and optional progress pipe. See proc.h.
 */
#include "proc.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void child_init(struct child *c)
{
	memset(c, 0, sizeof(*c));
	strvec_init(&c->argv);
	strvec_init(&c->env);
	c->progress_fd = -1;
	c->exit_code = -1;
}

void child_release(struct child *c)
{
	strvec_clear(&c->argv);
	strvec_clear(&c->env);
	if (c->progress_fd >= 0)
		close(c->progress_fd);
	c->progress_fd = -1;
}

double clock_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *find_in_path(const char *name, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = path;
	while (p && *p) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		strbuf_reset(&sb);
		if (len)
			strbuf_add(&sb, p, len);
		else
			strbuf_addch(&sb, '.');
		strbuf_addch(&sb, '/');
		strbuf_addstr(&sb, name);
		struct stat stt;
		if (!stat(sb.buf, &stt) && S_ISREG(stt.st_mode) && !access(sb.buf, X_OK))
			return strbuf_detach(&sb, NULL);
		p = colon ? colon + 1 : NULL;
	}
	strbuf_release(&sb);
	return NULL;
}

/* In the child after fork: only async-signal-safe calls until execve. */
static void child_setup_and_exec(const struct child *c, int errfd, int progress_w,
				 int out_fd, int err_fd, pid_t parent)
{
	int e;
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127); /* the orchestrator died before the line above took effect */
	/* Default dispositions before unblocking: under vfork the parent's handlers
	 * would otherwise run here, in memory shared with the parent. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	/* keep our pipes clear of the descriptors we are about to dup2 onto */
	if (errfd <= CHILD_PROGRESS_FD)
		errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 10);
	if (progress_w >= 0 && progress_w < CHILD_PROGRESS_FD)
		progress_w = fcntl(progress_w, F_DUPFD_CLOEXEC, 10);
	if (out_fd <= 2)
		out_fd = fcntl(out_fd, F_DUPFD_CLOEXEC, 10);
	if (err_fd <= 2)
		err_fd = fcntl(err_fd, F_DUPFD_CLOEXEC, 10);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		goto fail;
	if (progress_w >= 0) {
		if (progress_w == CHILD_PROGRESS_FD) {
			fcntl(progress_w, F_SETFD, 0);
		} else if (dup2(progress_w, CHILD_PROGRESS_FD) < 0) {
			goto fail;
		}
	}
	/* Everything above the progress descriptor closes at exec (one syscall,
	 * whatever the orchestrator has open); the exec-error pipe is among them. */
	if (close_range(progress_w >= 0 ? CHILD_PROGRESS_FD + 1 : 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = progress_w >= 0 ? CHILD_PROGRESS_FD + 1 : 3; fd < 1024; fd++)
			if (fd != errfd)
				fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (chdir(c->dir) < 0)
		goto fail;
	execve(c->argv.v[0], c->argv.v, c->env.v);
fail:
	e = errno;
	if (write(errfd, &e, sizeof(e)) < 0) {
		/* nothing more we can do */
	}
	_exit(127);
}

int child_start(struct child *c, struct strbuf *err)
{
	int errpipe[2] = { -1, -1 }, prog[2] = { -1, -1 };
	int out_fd = -1, err_fd = -1;
	if (c->argv.nr == 0) {
		strbuf_addstr(err, "empty command");
		return -1;
	}
	out_fd = open(c->stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	err_fd = open(c->stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out_fd < 0 || err_fd < 0) {
		strbuf_addf(err, "cannot create log files in '%s': %s", c->dir, strerror(errno));
		goto fail;
	}
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		strbuf_addf(err, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (c->want_progress && pipe2(prog, O_CLOEXEC) < 0) {
		strbuf_addf(err, "pipe: %s", strerror(errno));
		goto fail;
	}

	c->started = clock_mono();
	pid_t parent = getpid();
	/*
	 * vfork: the child borrows our address space until it execs, so starting a
	 * stage costs no page-table copy and no copy-on-write faults afterwards
	 * (measured: fork and its faults were a quarter of the orchestrator's CPU
	 * time per stage, docs/benchmarks.md). The child only makes system calls
	 * and never returns from here. Every signal stays blocked across the
	 * window so that no handler of ours runs in the child; the child restores
	 * default dispositions, then the empty mask. Sanitizer builds use fork.
	 */
	sigset_t all_sigs, old_sigs;
	sigfillset(&all_sigs);
	sigprocmask(SIG_SETMASK, &all_sigs, &old_sigs);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	pid_t pid = fork();
#else
	pid_t pid = vfork();
#endif
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &old_sigs, NULL);
		strbuf_addf(err, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		close(errpipe[0]);
		if (prog[0] >= 0)
			close(prog[0]);
		child_setup_and_exec(c, errpipe[1], prog[1], out_fd, err_fd, parent);
	}
	sigprocmask(SIG_SETMASK, &old_sigs, NULL);
	/* parent: also set the group here, so a signal sent right away reaches it */
	setpgid(pid, pid);
	c->pid = pid;
	close(errpipe[1]);
	close(out_fd);
	close(err_fd);
	if (prog[1] >= 0)
		close(prog[1]);
	int child_errno = 0;
	ssize_t n;
	do
		n = read(errpipe[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(errpipe[0]);
	if (n == (ssize_t)sizeof(child_errno)) {
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (prog[0] >= 0)
			close(prog[0]);
		c->pid = 0;
		strbuf_addf(err, "cannot execute '%s': %s", c->argv.v[0], strerror(child_errno));
		return -1;
	}
	if (prog[0] >= 0) {
		fcntl(prog[0], F_SETFL, fcntl(prog[0], F_GETFL) | O_NONBLOCK);
		c->progress_fd = prog[0];
	}
	return 0;

fail:
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	for (int i = 0; i < 2; i++) {
		if (errpipe[i] >= 0)
			close(errpipe[i]);
		if (prog[i] >= 0)
			close(prog[i]);
	}
	return -1;
}

void child_signal(const struct child *c, int sig)
{
	if (c->pid > 0)
		kill(-c->pid, sig);
}
