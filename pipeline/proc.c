/*
 * proc: fork/exec of one stage with its own process group, cleared
 * environment, captured logs and optional progress pipe, through the stage
 * launcher (bin/study-exec) that measures the stage alone. See proc.h.
 */
#include "proc.h"
#include "launcher/launch.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
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
	c->report_fd = -1;
	c->exit_code = -1;
}

void child_release(struct child *c)
{
	strvec_clear(&c->argv);
	strvec_clear(&c->env);
	for (size_t i = 0; i < c->more_steps_nr; i++)
		strvec_clear(&c->more_steps[i]);
	free(c->more_steps);
	c->more_steps = NULL;
	c->more_steps_nr = 0;
	if (c->progress_fd >= 0)
		close(c->progress_fd);
	c->progress_fd = -1;
	if (c->report_fd >= 0)
		close(c->report_fd);
	c->report_fd = -1;
}

/* ---- the launcher ---------------------------------------------------------------- */
static char *launcher_path;
static int launcher_resolved;

void proc_set_launcher(const char *path)
{
	free(launcher_path);
	launcher_path = NULL;
	launcher_resolved = 1;
	if (path) { /* the child chdirs before the exec: make it absolute */
		char *abs = path[0] == '/' ? NULL : realpath(path, NULL);
		launcher_path = abs ? abs : xstrdup(path);
	}
}

/* study-exec next to the running program, resolved once; NULL when absent. */
static const char *launcher(void)
{
	if (launcher_resolved)
		return launcher_path;
	launcher_resolved = 1;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	char *p = xasprintf("%s/study-exec", self);
	if (access(p, X_OK) == 0)
		launcher_path = p;
	else
		free(p);
	return launcher_path;
}

const char *proc_launcher(void)
{
	return launcher();
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

/* In the child after fork: only async-signal-safe calls until execve.
 * rep_w (>= 10) is the report pipe: it stays open across the exec when the
 * launcher is exec'd (the launcher closes it for the stage), and carries our
 * own exec failure otherwise. */
static void child_setup_and_exec(const struct child *c, int rep_w, int progress_w,
				 int out_fd, int err_fd, pid_t parent,
				 const char *path, char *const *argv, int via_launcher)
{
	struct launch_msg m;
	memset(&m, 0, sizeof(m));
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
	/* The launcher starts with every signal blocked (it gives the stage the
	 * empty mask); a stage exec'd directly gets the empty mask here. */
	if (!via_launcher) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}

	/* keep our pipes clear of the descriptors we are about to dup2 onto */
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
	 * whatever the orchestrator has open); the report pipe too, unless the
	 * launcher is to receive it. */
	if (close_range(progress_w >= 0 ? CHILD_PROGRESS_FD + 1 : 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = progress_w >= 0 ? CHILD_PROGRESS_FD + 1 : 3; fd < 1024; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (via_launcher && fcntl(rep_w, F_SETFD, 0) < 0)
		goto fail;
	if (c->cgroup_procs) { /* "0": the writer itself (cgroup v2) */
		int cg = open(c->cgroup_procs, O_WRONLY | O_CLOEXEC);
		if (cg < 0 || write(cg, "0", 1) != 1) {
			m.kind = LAUNCH_NO_CGROUP;
			goto report;
		}
		close(cg);
	}
	if (chdir(c->dir) < 0)
		goto fail;
	execve(path, argv, c->env.v);
	m.kind = via_launcher ? LAUNCH_NO_LAUNCHER : LAUNCH_NO_EXEC;
	goto report;
fail:
	m.kind = LAUNCH_NO_EXEC;
report:
	m.value = errno;
	m.mono_ns = 0;
	if (write(rep_w, &m, sizeof(m)) < 0) {
		/* nothing more we can do */
	}
	_exit(127);
}

static ssize_t read_msg(int fd, struct launch_msg *m)
{
	ssize_t n;
	do
		n = read(fd, m, sizeof(*m));
	while (n < 0 && errno == EINTR);
	return n;
}

/* Create the child and have it exec the launcher (lv, when lpath) or the
 * stage. Returns its pid, or -1 with errno set. The child never returns. */
static pid_t spawn(const struct child *c, int rep[2], int prog[2], int out_fd, int err_fd,
		   const char *lpath, char *const *lv)
{
	pid_t parent = getpid();
	/*
	 * vfork: the child borrows our address space until it execs, so starting a
	 * stage costs no page-table copy and no copy-on-write faults afterwards
	 * (measured: fork and its faults were a quarter of the orchestrator's CPU
	 * time per stage, docs/benchmarks.md). The child only makes system calls
	 * and never returns from here. Every signal stays blocked across the
	 * window so that no handler of ours runs in the child; the child restores
	 * default dispositions, then the empty mask (or the launcher does). The
	 * child execs the launcher, not the stage: an exec folds the old address
	 * space's peak RSS (ours) into ru_maxrss, the launcher's is tiny, and it
	 * reports the stage's own usage. Sanitizer builds use fork.
	 */
	sigset_t all_sigs, old_sigs;
	sigfillset(&all_sigs);
	sigprocmask(SIG_SETMASK, &all_sigs, &old_sigs);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	pid_t pid = fork();
#else
	pid_t pid = vfork();
#endif
	if (pid == 0) {
		close(rep[0]);
		if (prog[0] >= 0)
			close(prog[0]);
		if (lpath)
			child_setup_and_exec(c, rep[1], prog[1], out_fd, err_fd, parent, lpath, lv, 1);
		child_setup_and_exec(c, rep[1], prog[1], out_fd, err_fd, parent,
				     c->argv.v[0], c->argv.v, 0);
	}
	int saved = errno;
	sigprocmask(SIG_SETMASK, &old_sigs, NULL);
	errno = saved;
	return pid;
}

/* The launcher's argv (launch.h): `study-exec FD PROGRAM ARGV0 ARG...`, or
 * for several steps `study-exec FD --steps N C1 ARGV... C2 ARGV...`. The
 * strings are borrowed from c, lpath, fd and `nums` (which holds the counts). */
static char **launcher_argv(const struct child *c, const char *lpath, char *fd,
			    struct strvec *nums)
{
	size_t n = 4 + c->argv.nr;
	for (size_t i = 0; i < c->more_steps_nr; i++)
		n += 1 + c->more_steps[i].nr;
	char **lv = xcalloc(n + 3, sizeof(*lv)), **p = lv;
	*p++ = (char *)lpath;
	*p++ = fd;
	if (!c->more_steps_nr) {
		*p++ = c->argv.v[0];
		memcpy(p, c->argv.v, c->argv.nr * sizeof(*lv));
		return lv;
	}
	strvec_pushf(nums, "%zu", c->more_steps_nr + 1);
	for (size_t i = 0; i <= c->more_steps_nr; i++)
		strvec_pushf(nums, "%zu", i ? c->more_steps[i - 1].nr : c->argv.nr);
	*p++ = "--steps";
	*p++ = nums->v[0];
	for (size_t i = 0; i <= c->more_steps_nr; i++) {
		const struct strvec *sv = i ? &c->more_steps[i - 1] : &c->argv;
		*p++ = nums->v[i + 1];
		memcpy(p, sv->v, sv->nr * sizeof(*lv));
		p += sv->nr;
	}
	return lv;
}

int child_start(struct child *c, struct strbuf *err)
{
	int rep[2] = { -1, -1 }, prog[2] = { -1, -1 };
	int out_fd = -1, err_fd = -1;
	char **lv = NULL, fdstr[24];
	struct strvec nums = STRVEC_INIT;
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
	if (pipe2(rep, O_CLOEXEC) < 0) {
		strbuf_addf(err, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (rep[1] < 10) { /* clear of 0-3, which the child fills; its number is in argv */
		int moved = fcntl(rep[1], F_DUPFD_CLOEXEC, 10);
		if (moved < 0) {
			strbuf_addf(err, "fcntl: %s", strerror(errno));
			goto fail;
		}
		close(rep[1]);
		rep[1] = moved;
	}
	if (c->want_progress && pipe2(prog, O_CLOEXEC) < 0) {
		strbuf_addf(err, "pipe: %s", strerror(errno));
		goto fail;
	}
	const char *lpath = launcher();
	if (c->more_steps_nr && !lpath) {
		strbuf_addf(err, "a stage of %zu steps needs the stage launcher"
			    " (study-exec, next to the study program)", c->more_steps_nr + 1);
		goto fail;
	}
	if (lpath) {
		snprintf(fdstr, sizeof(fdstr), "%d", rep[1]);
		lv = launcher_argv(c, lpath, fdstr, &nums);
	}

	c->started = clock_mono();
	pid_t pid = spawn(c, rep, prog, out_fd, err_fd, lpath, lv);
	free(lv);
	lv = NULL;
	strvec_clear(&nums);
	if (pid < 0) {
		strbuf_addf(err, "fork: %s", strerror(errno));
		goto fail;
	}
	/* parent: also set the group here, so a signal sent right away reaches it */
	setpgid(pid, pid);
	c->pid = pid;
	close(rep[1]);
	rep[1] = -1;
	close(out_fd);
	close(err_fd);
	out_fd = err_fd = -1;
	if (prog[1] >= 0)
		close(prog[1]);
	prog[1] = -1;
	/* Without the launcher, EOF means the exec succeeded. With it, the first
	 * record says whether the stage started; EOF means the launcher was killed
	 * before the stage existed (the reaper then records that signal). */
	struct launch_msg m;
	ssize_t n = read_msg(rep[0], &m);
	if (n == (ssize_t)sizeof(m) && (m.kind == LAUNCH_NO_LAUNCHER || m.kind == LAUNCH_NO_EXEC ||
					m.kind == LAUNCH_NO_CGROUP)) {
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		c->pid = 0;
		if (m.kind == LAUNCH_NO_LAUNCHER)
			strbuf_addf(err, "cannot execute the stage launcher '%s': %s", lpath,
				    strerror(m.value));
		else if (m.kind == LAUNCH_NO_CGROUP)
			strbuf_addf(err, "cannot move the stage into '%s': %s", c->cgroup_procs,
				    strerror(m.value));
		else
			strbuf_addf(err, "cannot execute '%s': %s", c->argv.v[0], strerror(m.value));
		goto fail;
	}
	if (lpath && n == (ssize_t)sizeof(m) && m.kind == LAUNCH_STARTED) {
		c->started = (double)m.mono_ns / 1e9;
		fcntl(rep[0], F_SETFL, fcntl(rep[0], F_GETFL) | O_NONBLOCK);
		c->report_fd = rep[0];
	} else {
		close(rep[0]);
	}
	rep[0] = -1;
	c->started_wall = clock_wall() - (clock_mono() - c->started);
	if (prog[0] >= 0) {
		fcntl(prog[0], F_SETFL, fcntl(prog[0], F_GETFL) | O_NONBLOCK);
		c->progress_fd = prog[0];
	}
	return 0;

fail:
	free(lv);
	strvec_clear(&nums);
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	for (int i = 0; i < 2; i++) {
		if (rep[i] >= 0)
			close(rep[i]);
		if (prog[i] >= 0)
			close(prog[i]);
	}
	return -1;
}

void child_reaped(struct child *c, int status, const struct rusage *ru)
{
	c->ended = clock_mono();
	c->ru = *ru;
	c->usage_known = 0;
	if (c->report_fd >= 0) {
		struct launch_msg m;
		if (read_msg(c->report_fd, &m) == (ssize_t)sizeof(m) && m.kind == LAUNCH_DONE) {
			status = m.value;
			c->ru = m.ru;
			c->ended = (double)m.mono_ns / 1e9;
			c->usage_known = 1;
			c->step = m.step;
			c->step_errno = m.step_errno;
		}
		close(c->report_fd);
		c->report_fd = -1;
	}
	if (WIFEXITED(status)) {
		c->exit_code = WEXITSTATUS(status);
		c->term_signal = 0;
	} else if (WIFSIGNALED(status)) {
		c->exit_code = -1;
		c->term_signal = WTERMSIG(status);
	}
}

double child_cpu_s(const struct child *c)
{
	if (!c->usage_known)
		return -1;
	return (double)c->ru.ru_utime.tv_sec + c->ru.ru_utime.tv_usec / 1e6 +
	       (double)c->ru.ru_stime.tv_sec + c->ru.ru_stime.tv_usec / 1e6;
}

long child_peak_rss_kb(const struct child *c)
{
	return c->usage_known ? c->ru.ru_maxrss : -1;
}

void child_signal(const struct child *c, int sig)
{
	if (c->pid <= 0)
		return;
	/* the launcher first (it has left the group, and holds the signal
	 * pending): a step that the group's signal ends is then never followed
	 * by another. Only while it runs (report_fd open), so never another
	 * process that has its pid since. */
	if (sig != SIGKILL && c->more_steps_nr && c->report_fd >= 0)
		kill(c->pid, sig);
	kill(-c->pid, sig);
}
