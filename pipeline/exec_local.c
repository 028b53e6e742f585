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
 *
 * Capacity (exec_caps): cpus are the larger of -j and the machine's online
 * CPUs; memory is --mem-limit, else the machine's physical memory, both the
 * most one stage may ask for and the pool the running stages share; GPU
 * slots are --gpus N (named 0..N-1), else the entries of the orchestrator's
 * own CUDA_VISIBLE_DEVICES, else one per /dev/nvidiaN device. A stage's
 * resources.mem is enforced by memlimit.h (a cgroup v2 memory.max, else the
 * resident-memory watchdog).
 */
#include "executor.h"
#include "fsutil.h"
#include "memlimit.h"
#include "pgroup.h"
#include "proc.h"
#include "xalloc.h"

#include <dirent.h>
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
	/* resources.mem: 0, or enforced by the cgroup cg (when not NULL) or the
	 * watchdog */
	long long mem_bytes;
	char *cg;
	int over_memory;
	long long rss_seen; /* the watchdog's largest sample of the group, bytes */
};

struct local {
	struct executor base;
	struct ljob **jobs;
	size_t nr, alloc;
	char host[256];
	struct exec_caps caps;
	char *cpus_from, *mem_from, *gpus_from;
	char **gpu_names;
	int gpu_nr;
	/* stage cgroups: probed at the first stage with a mem limit */
	int cg_probed, cg_ok;
	struct strbuf cg_base;
	char **cg_left; /* stage cgroups still busy when their stage ended */
	size_t cg_left_nr, cg_left_alloc;
	double next_watch; /* monotonic: the watchdog's next sample */
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
	*caps = ((struct local *)ex)->caps;
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

/* Remove a stage's cgroup, or keep it to try again later (still busy). */
static void cg_release(struct local *l, char *cg)
{
	if (!cg)
		return;
	if (memlimit_cgroup_remove(cg) == 0) {
		free(cg);
		return;
	}
	XGROW(l->cg_left, l->cg_left_alloc, l->cg_left_nr + 1);
	l->cg_left[l->cg_left_nr++] = cg;
}

static void cg_retry_left(struct local *l)
{
	for (size_t k = 0; k < l->cg_left_nr;)
		if (memlimit_cgroup_remove(l->cg_left[k]) == 0) {
			free(l->cg_left[k]);
			l->cg_left[k] = l->cg_left[--l->cg_left_nr];
		} else {
			k++;
		}
}

static void job_free(struct ljob *j)
{
	child_release(&j->ch);
	strbuf_release(&j->progbuf);
	free(j->cg);
	free(j);
}

/* A cgroup for a stage with a memory limit, when cgroup v2 can be used here
 * (memlimit.h); NULL: the watchdog enforces it. */
static char *stage_cgroup(struct local *l, long long bytes)
{
	struct strbuf dir = STRBUF_INIT, why = STRBUF_INIT;
	if (!l->cg_probed) {
		l->cg_probed = 1;
		l->cg_ok = memlimit_cgroup_base(&l->cg_base, &why);
	}
	if (l->cg_ok && memlimit_cgroup_create(l->cg_base.buf, bytes, &dir, &why) == 0) {
		strbuf_release(&why);
		return strbuf_detach(&dir, NULL);
	}
	strbuf_release(&dir);
	strbuf_release(&why);
	return NULL;
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
	j->mem_bytes = xs->mem_bytes;
	char *procs = NULL;
	if (j->mem_bytes > 0 && (j->cg = stage_cgroup(l, j->mem_bytes)))
		j->ch.cgroup_procs = procs = xasprintf("%s/cgroup.procs", j->cg);
	int rc = child_start(&j->ch, err);
	j->ch.dir = j->ch.stdout_path = j->ch.stderr_path = j->ch.cgroup_procs = NULL; /* borrowed */
	free(procs);
	if (rc < 0) {
		cg_release(l, j->cg);
		j->cg = NULL;
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

/* The watchdog (memlimit.h): kill a group above its stage's limit. */
static void watch_memory(struct local *l, double now)
{
	if (now < l->next_watch)
		return;
	l->next_watch = now + MEMLIMIT_WATCH_S;
	pid_t *pgids = xcalloc(l->nr + 1, sizeof(*pgids));
	long long *rss = xcalloc(l->nr + 1, sizeof(*rss));
	size_t n = 0;
	for (size_t k = 0; k < l->nr; k++)
		if (l->jobs[k]->mem_bytes > 0 && !l->jobs[k]->cg)
			pgids[n++] = l->jobs[k]->ch.pid;
	if (n)
		memlimit_group_rss(pgids, n, rss);
	for (size_t k = 0, i = 0; k < l->nr && i < n; k++) {
		struct ljob *j = l->jobs[k];
		if (!(j->mem_bytes > 0 && !j->cg))
			continue;
		long long used = rss[i++];
		if (used > j->rss_seen)
			j->rss_seen = used;
		if (used > j->mem_bytes && !j->over_memory) {
			j->over_memory = 1;
			child_signal(&j->ch, SIGKILL);
		}
	}
	free(pgids);
	free(rss);
}

static int watching(const struct local *l)
{
	for (size_t k = 0; k < l->nr; k++)
		if (l->jobs[k]->mem_bytes > 0 && !l->jobs[k]->cg)
			return 1;
	return 0;
}

static void enforce_limits(struct local *l, double now)
{
	if (watching(l))
		watch_memory(l, now);
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

	struct strbuf detail = STRBUF_INIT;
	if (j->mem_bytes > 0 && j->cg) {
		long long peak = -1;
		rep.mem_enforcement = "cgroup";
		if (memlimit_cgroup_over(j->cg, &peak)) {
			rep.over_memory = 1;
			if (peak > 0)
				strbuf_addf(&detail, "peak memory %.1fM", (double)peak / (1 << 20));
		}
	} else if (j->mem_bytes > 0) {
		/* the watchdog, and the stage's own peak for what it missed */
		long long peak = rep.peak_rss_kb >= 0 ? (long long)rep.peak_rss_kb * 1024 : -1;
		rep.mem_enforcement = "watchdog";
		if (peak > j->mem_bytes)
			j->over_memory = 1;
		rep.over_memory = j->over_memory;
		if (rep.over_memory)
			strbuf_addf(&detail, "peak resident memory %.1fM",
				    (double)(peak > j->rss_seen ? peak : j->rss_seen) / (1 << 20));
	}
	rep.detail = detail.len ? detail.buf : NULL;
	l->base.on_done(l->base.ctx, &rep);
	strbuf_release(&detail);
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
		cg_release(l, j->cg);
		j->cg = NULL;
		job_free(j);
		done++;
	}
	if (l->cg_left_nr)
		cg_retry_left(l);
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
	if (watching(l) && l->next_watch - now < t)
		t = l->next_watch - now;
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
		cg_release(l, j->cg);
		j->cg = NULL;
		job_free(j);
	}
	free(l->jobs);
	/* killed stages' cgroups empty within moments: wait up to a second */
	for (int tries = 0; l->cg_left_nr && tries < 100; tries++) {
		cg_retry_left(l);
		if (l->cg_left_nr)
			usleep(10000);
	}
	for (size_t k = 0; k < l->cg_left_nr; k++)
		free(l->cg_left[k]);
	free(l->cg_left);
	strbuf_release(&l->cg_base);
	for (int i = 0; i < l->gpu_nr; i++)
		free(l->gpu_names[i]);
	free(l->gpu_names);
	free(l->cpus_from);
	free(l->mem_from);
	free(l->gpus_from);
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

/* The GPUs this machine shows: the entries of CUDA_VISIBLE_DEVICES when it
 * is set (up to the first empty or "-1" one, as CUDA reads it), else one
 * per /dev/nvidiaN. Names pushed onto `names`; `from` says where from. */
static void visible_gpus(struct strvec *names, struct strbuf *from)
{
	const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
	if (cvd) {
		const char *p = cvd;
		while (*p) {
			size_t len = strcspn(p, ",");
			char *one = xstrndup(p, len);
			char *t = one;
			while (*t == ' ')
				t++;
			if (!*t || !strncmp(t, "-1", 2)) {
				free(one);
				break;
			}
			strvec_push(names, t);
			free(one);
			p += len;
			if (*p == ',')
				p++;
		}
		if (names->nr)
			strbuf_addf(from, "CUDA_VISIBLE_DEVICES lists %zu GPU%s (use --gpus N to"
				    " change)", names->nr, names->nr == 1 ? "" : "s");
		else
			strbuf_addstr(from, "CUDA_VISIBLE_DEVICES hides every GPU (use --gpus N to"
					    " change)");
		return;
	}
	DIR *d = opendir("/dev");
	int count = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		const char *n = de->d_name;
		if (strncmp(n, "nvidia", 6) || !n[6] || strspn(n + 6, "0123456789") != strlen(n + 6))
			continue;
		count++;
	}
	if (d)
		closedir(d);
	for (int i = 0; i < count && i < 64; i++)
		strvec_pushf(names, "%d", i);
	if (names->nr)
		strbuf_addf(from, "this machine has %zu GPU%s", names->nr,
			    names->nr == 1 ? "" : "s");
	else
		strbuf_addstr(from, "this machine has no GPU (use --gpus N to declare GPU slots)");
}

static void set_caps(struct local *l, const struct exec_local_opts *o)
{
	struct strbuf sb = STRBUF_INIT;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	l->caps.max_cpus = o->jobs > ncpu ? o->jobs : (int)ncpu;
	if (o->jobs > ncpu)
		strbuf_addf(&sb, "-j %d gives %d cpu slots", o->jobs, o->jobs);
	else
		strbuf_addf(&sb, "this machine has %ld CPU%s", ncpu, ncpu == 1 ? "" : "s");
	l->cpus_from = strbuf_detach(&sb, NULL);

	strbuf_init(&sb, 0);
	if (o->mem_limit > 0) {
		l->caps.max_mem_bytes = o->mem_limit;
		strbuf_addstr(&sb, "--mem-limit ");
		exec_add_size(&sb, o->mem_limit);
		strbuf_addstr(&sb, " is the memory of all running stages");
	} else {
		long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
		l->caps.max_mem_bytes = pages > 0 && page > 0 ? (long long)pages * page : 0;
		strbuf_addf(&sb, "this machine has %.1fG of memory (--mem-limit sets another limit)",
			    (double)l->caps.max_mem_bytes / (1 << 30));
	}
	l->caps.mem_pool = l->caps.max_mem_bytes;
	l->mem_from = strbuf_detach(&sb, NULL);

	struct strvec names = STRVEC_INIT;
	strbuf_init(&sb, 0);
	if (o->gpus >= 0) {
		for (int i = 0; i < o->gpus && i < 64; i++)
			strvec_pushf(&names, "%d", i);
		if (o->gpus)
			strbuf_addf(&sb, "--gpus %d gives %d GPU slot%s", o->gpus, o->gpus,
				    o->gpus == 1 ? "" : "s");
		else
			strbuf_addstr(&sb, "--gpus 0 gives no GPU slot");
	} else {
		visible_gpus(&names, &sb);
	}
	l->gpus_from = strbuf_detach(&sb, NULL);
	l->gpu_nr = (int)names.nr;
	l->gpu_names = xcalloc(names.nr + 1, sizeof(*l->gpu_names));
	for (size_t i = 0; i < names.nr; i++)
		l->gpu_names[i] = xstrdup(names.v[i]);
	strvec_clear(&names);
	l->caps.max_gpus = l->gpu_nr;
	l->caps.gpu_slots = l->gpu_nr;
	l->caps.gpu_names = l->gpu_names;
	l->caps.cpus_from = l->cpus_from;
	l->caps.mem_from = l->mem_from;
	l->caps.gpus_from = l->gpus_from;
}

struct executor *exec_local_new(const struct exec_local_opts *o, struct strbuf *err)
{
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
	strbuf_init(&l->cg_base, 0);
	set_caps(l, o);
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
