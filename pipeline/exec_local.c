/*
 * exec_local: the local executor — stages as processes on this machine
 * (executor.h). Each stage is started through proc.c (its own process group,
 * the launcher bin/study-exec that measures it, the logs, the progress pipe);
 * this file owns what happens while it runs: waking on SIGCHLD, reading
 * progress lines, the time limit (TERM, then KILL EXEC_KILL_GRACE_S later, to
 * the stage's whole group), cancels, reaping, and the report.
 *
 * SIGCHLD: a handler writes to a self-pipe that exec_poll watches; it is
 * installed by exec_local_new and restored by exec_destroy, so there is at
 * most one local executor at a time.
 *
 * A running stage's process group is noted in its work directory as
 * "<pgid> <start>\n" (pgroup.h); exec_recover kills the groups a killed run
 * left behind.
 */
#include "executor.h"
#include "fsutil.h"
#include "pgroup.h"
#include "proc.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROGRESS_MAX 65536 /* a runaway writer's unterminated line is dropped */

struct ljob {
	void *tag;
	struct child ch;
	double deadline;  /* monotonic; 0 = no time limit */
	double kill_at;   /* monotonic; 0 = no KILL pending */
	double time_s;
	int timed_out, cancelled;
	struct strbuf progbuf;
};

struct local {
	struct executor base;
	struct ljob **jobs;
	size_t nr, alloc;
	char host[256];
};

static int chld_pipe[2] = { -1, -1 };
static struct sigaction old_chld;

static void on_sigchld(int sig)
{
	int saved = errno;
	(void)sig;
	if (chld_pipe[1] >= 0) {
		char c = 0;
		if (write(chld_pipe[1], &c, 1) < 0) {
			/* pipe full: a wake-up is already pending */
		}
	}
	errno = saved;
}

static void drain(int fd)
{
	char buf[256];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void local_caps(struct executor *ex, struct exec_caps *caps)
{
	(void)ex;
	caps->max_gpus = -1;
}

/* Note the running stage's process group in its work directory so that the
 * next run can kill what it leaves behind if we are killed (pgroup.h). */
static void note_pgid(const char *workdir, pid_t pid)
{
	unsigned long long start = 0;
	char buf[64];
	struct strbuf path = STRBUF_INIT, ignored = STRBUF_INIT;
	if (workdir && proc_start_time(pid, &start) == 0) {
		int n = snprintf(buf, sizeof(buf), "%ld %llu\n", (long)pid, start);
		strbuf_addf(&path, "%s/pgid", workdir);
		write_file_atomic(path.buf, buf, (size_t)n, 0644, &ignored);
	}
	strbuf_release(&path);
	strbuf_release(&ignored);
}

static void job_free(struct ljob *j)
{
	child_release(&j->ch);
	strbuf_release(&j->progbuf);
	free(j);
}

static int local_start(struct executor *ex, const struct exec_stage *xs, struct strbuf *err)
{
	struct local *l = (struct local *)ex;
	struct ljob *j = xcalloc(1, sizeof(*j));
	j->tag = xs->tag;
	strbuf_init(&j->progbuf, 0);
	child_init(&j->ch);
	if (xs->steps_nr > 1) {
		j->ch.more_steps = xcalloc(xs->steps_nr - 1, sizeof(*j->ch.more_steps));
		j->ch.more_steps_nr = xs->steps_nr - 1;
	}
	for (size_t k = 0; k < xs->steps_nr; k++) {
		struct strvec *argv = k ? &j->ch.more_steps[k - 1] : &j->ch.argv;
		if (k)
			strvec_init(argv);
		for (size_t i = 0; i < xs->steps[k].nr; i++)
			strvec_push(argv, xs->steps[k].v[i]);
	}
	for (size_t i = 0; i < xs->env->nr; i++)
		strvec_push(&j->ch.env, xs->env->v[i]);
	j->ch.dir = xs->cwd;
	j->ch.stdout_path = xs->stdout_path;
	j->ch.stderr_path = xs->stderr_path;
	j->ch.want_progress = xs->want_progress;
	int rc = child_start(&j->ch, err);
	j->ch.dir = j->ch.stdout_path = j->ch.stderr_path = NULL; /* borrowed */
	if (rc < 0) {
		job_free(j);
		return -1;
	}
	note_pgid(xs->workdir, j->ch.pid);
	j->time_s = xs->time_s;
	if (xs->time_s > 0)
		j->deadline = j->ch.started + xs->time_s;
	XGROW(l->jobs, l->alloc, l->nr + 1);
	l->jobs[l->nr++] = j;
	return 0;
}

/* Pass on every complete line the stage wrote to its progress pipe. */
static void read_progress(struct local *l, struct ljob *j)
{
	char buf[4096];
	ssize_t n;
	if (j->ch.progress_fd < 0)
		return;
	while ((n = read(j->ch.progress_fd, buf, sizeof(buf))) > 0) {
		strbuf_add(&j->progbuf, buf, (size_t)n);
		if (j->progbuf.len > PROGRESS_MAX)
			strbuf_reset(&j->progbuf); /* stay bounded */
	}
	if (n == 0) { /* the writer closed it: stop polling it */
		close(j->ch.progress_fd);
		j->ch.progress_fd = -1;
	}
	char *line = j->progbuf.buf, *nl;
	while ((nl = memchr(line, '\n', j->progbuf.len - (size_t)(line - j->progbuf.buf)))) {
		*nl = '\0';
		if (l->base.on_progress)
			l->base.on_progress(l->base.ctx, j->tag, line);
		line = nl + 1;
	}
	size_t rest = j->progbuf.len - (size_t)(line - j->progbuf.buf);
	memmove(j->progbuf.buf, line, rest);
	strbuf_setlen(&j->progbuf, rest);
}

static void enforce_limits(struct local *l, double now)
{
	for (size_t k = 0; k < l->nr; k++) {
		struct ljob *j = l->jobs[k];
		if (j->deadline > 0 && !j->timed_out && !j->cancelled && now >= j->deadline) {
			j->timed_out = 1;
			j->kill_at = now + EXEC_KILL_GRACE_S;
			child_signal(&j->ch, SIGTERM);
		} else if (j->kill_at > 0 && now >= j->kill_at) {
			child_signal(&j->ch, SIGKILL);
			j->kill_at = 0;
		}
	}
}

static void report(struct local *l, struct ljob *j)
{
	struct exec_report rep;
	memset(&rep, 0, sizeof(rep));
	rep.tag = j->tag;
	rep.exit_code = j->ch.term_signal ? -1 : j->ch.exit_code;
	rep.term_signal = j->ch.term_signal;
	rep.step = j->ch.step;
	rep.step_errno = j->ch.step_errno;
	rep.timed_out = j->timed_out;
	rep.cancelled = j->cancelled;
	rep.started = j->ch.started_wall;
	rep.wall_s = j->ch.ended - j->ch.started;
	rep.ended = j->ch.started_wall + rep.wall_s;
	rep.cpu_s = child_cpu_s(&j->ch); /* the stage's own (proc.h) */
	rep.peak_rss_kb = child_peak_rss_kb(&j->ch);
	rep.queue_wait_s = 0;
	rep.executor = "local";
	rep.host = l->host[0] ? l->host : NULL;
	l->base.on_done(l->base.ctx, &rep);
}

/* Reap the stages that ended; each is reported and forgotten. */
static int reap(struct local *l)
{
	int done = 0;
	for (size_t k = 0; k < l->nr;) {
		struct ljob *j = l->jobs[k];
		int status;
		struct rusage ru;
		pid_t w = wait4(j->ch.pid, &status, WNOHANG, &ru);
		if (w != j->ch.pid) {
			k++;
			continue;
		}
		child_reaped(&j->ch, status, &ru);
		/* whatever the stage left running in its group goes with it */
		child_signal(&j->ch, SIGKILL);
		read_progress(l, j);
		l->jobs[k] = l->jobs[--l->nr];
		report(l, j);
		job_free(j);
		done++;
	}
	return done;
}

static int local_poll(struct executor *ex, double timeout_s, int wake_fd)
{
	struct local *l = (struct local *)ex;
	double now = clock_mono(), t = timeout_s;
	for (size_t k = 0; k < l->nr; k++) {
		const struct ljob *j = l->jobs[k];
		if (j->deadline > 0 && !j->timed_out && !j->cancelled && j->deadline - now < t)
			t = j->deadline - now;
		if (j->kill_at > 0 && j->kill_at - now < t)
			t = j->kill_at - now;
	}
	struct pollfd *fds = xcalloc(l->nr + 2, sizeof(*fds));
	size_t n = 0;
	fds[n].fd = chld_pipe[0];
	fds[n++].events = POLLIN;
	if (wake_fd >= 0) {
		fds[n].fd = wake_fd;
		fds[n++].events = POLLIN;
	}
	size_t first_job = n;
	for (size_t k = 0; k < l->nr; k++) {
		fds[n].fd = l->jobs[k]->ch.progress_fd; /* -1 is ignored by poll */
		fds[n++].events = POLLIN;
	}
	int ms = t <= 0 ? 0 : (int)(t * 1000) + 1;
	int rc = poll(fds, n, ms);
	if (rc > 0) {
		if (fds[0].revents)
			drain(chld_pipe[0]);
		for (size_t k = 0; k < l->nr; k++)
			if (fds[first_job + k].revents)
				read_progress(l, l->jobs[k]);
	}
	free(fds);
	enforce_limits(l, clock_mono());
	return reap(l);
}

static void local_cancel(struct executor *ex, void *tag)
{
	struct local *l = (struct local *)ex;
	for (size_t k = 0; k < l->nr; k++) {
		struct ljob *j = l->jobs[k];
		if (j->tag != tag)
			continue;
		if (!j->cancelled) {
			j->cancelled = 1;
			child_signal(&j->ch, SIGTERM);
			double at = clock_mono() + EXEC_KILL_GRACE_S;
			if (!j->kill_at || at < j->kill_at)
				j->kill_at = at;
		}
		return;
	}
}

static size_t local_running(struct executor *ex) { return ((struct local *)ex)->nr; }

static double local_now(struct executor *ex)
{
	(void)ex;
	return clock_mono();
}

static void local_recover(struct executor *ex, const char *work_dir)
{
	(void)ex;
	pgroup_kill_leftovers(work_dir);
}

static void local_destroy(struct executor *ex)
{
	struct local *l = (struct local *)ex;
	for (size_t k = 0; k < l->nr; k++) {
		struct ljob *j = l->jobs[k];
		int status;
		child_signal(&j->ch, SIGKILL);
		while (waitpid(j->ch.pid, &status, 0) < 0 && errno == EINTR)
			;
		job_free(j);
	}
	free(l->jobs);
	sigaction(SIGCHLD, &old_chld, NULL);
	close(chld_pipe[0]);
	close(chld_pipe[1]);
	chld_pipe[0] = chld_pipe[1] = -1;
	free(l);
}

static const struct exec_ops local_ops = {
	.name = "local",
	.caps = local_caps,
	.start = local_start,
	.poll = local_poll,
	.cancel = local_cancel,
	.running = local_running,
	.now = local_now,
	.recover = local_recover,
	.destroy = local_destroy,
};

struct executor *exec_local_new(const struct exec_local_opts *o, struct strbuf *err)
{
	(void)o;
	if (chld_pipe[0] >= 0) {
		strbuf_addstr(err, "only one local executor at a time");
		return NULL;
	}
	if (pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		strbuf_addf(err, "pipe: %s", strerror(errno));
		return NULL;
	}
	struct local *l = xcalloc(1, sizeof(*l));
	l->base.ops = &local_ops;
	if (gethostname(l->host, sizeof(l->host) - 1) < 0)
		l->host[0] = '\0';
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, &old_chld);
	return &l->base;
}
