/*
 * exec_slurm: stages as SLURM batch jobs. See exec_slurm.h for what it owns
 * and executor.h for the contract.
 */
#include "exec_slurm.h"
#include "fsutil.h"
#include "launcher/launch.h"
#include "proc.h"
#include "slurm.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROGRESS_MAX 65536
/* Polls a job may be missing from squeue (and from the completion log)
 * before it is given up as lost. */
#define MISSING_POLLS 6
/* How long exec_recover waits for cancelled leftover jobs to end. */
#define RECOVER_WAIT_S 60.0

struct sjob {
	void *tag;
	long id;
	char *id_text;
	char *stage_id;
	char *name;                     /* the job's name (slurm_job_name) */
	char *workdir, *cwd, *report, *progress, *stdout_path, *stderr_path;
	double submitted_wall;
	double time_s;
	long long mem_bytes;
	int cancel_wanted;              /* exec_cancel, or the time limit */
	double term_sent;               /* monotonic: TERM sent to its processes; 0 not */
	int kill_sent;                  /* scancel sent */
	int timed_out;                  /* we cancelled it at its time limit */
	int missing;                    /* consecutive polls it was not listed */
	double start_wall;              /* when the stage started, from the launcher's
					 * report (its mtime); 0 not yet seen */
	struct slurm_job last;          /* its latest state */
	int known;                      /* last is filled */
	off_t progress_off;
	struct strbuf progbuf;
};

struct slurm_ex {
	struct executor base;
	struct exec_slurm_opts o;
	char *partition, *account;
	struct strvec opts;
	char *tmpdir;   /* the wrapper script lives here */
	struct strbuf script;
	struct sjob **jobs;
	size_t nr, alloc;
	double poll_s, next_query; /* monotonic */
	int ctl_down;              /* the last squeue failed (warned once) */
	struct exec_caps caps;
	char *cpus_from, *mem_from, *gpus_from;
};

/* ---- notes: what a killed run leaves for the next one ---- */

/* <workdir>/job: "slurm ID STAGE\n" ("-" for the id until sbatch answered). */
static void write_note(const char *workdir, const char *id, const char *stage)
{
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT, ignored = STRBUF_INIT;
	strbuf_addf(&path, "%s/job", workdir);
	strbuf_addf(&text, "slurm %s %s\n", id, stage);
	write_file_atomic(path.buf, text.buf, text.len, 0644, &ignored);
	strbuf_release(&path);
	strbuf_release(&text);
	strbuf_release(&ignored);
}

/* ---- the launcher's report, written on the node ---- */

struct launch_result {
	int started, done, no_exec;
	int64_t start_ns, end_ns;
	int status, step, step_errno, exec_errno;
	struct rusage ru;
};

static void read_launch_report(const char *path, struct launch_result *lr)
{
	memset(lr, 0, sizeof(*lr));
	struct strbuf sb = STRBUF_INIT;
	if (strbuf_read_file(&sb, path) < 0) {
		strbuf_release(&sb);
		return;
	}
	for (size_t at = 0; at + sizeof(struct launch_msg) <= sb.len; at += sizeof(struct launch_msg)) {
		struct launch_msg m;
		memcpy(&m, sb.buf + at, sizeof(m));
		switch (m.kind) {
		case LAUNCH_STARTED:
			lr->started = 1;
			lr->start_ns = m.mono_ns;
			break;
		case LAUNCH_DONE:
			lr->done = 1;
			lr->end_ns = m.mono_ns;
			lr->status = m.value;
			lr->ru = m.ru;
			lr->step = m.step;
			lr->step_errno = m.step_errno;
			break;
		case LAUNCH_NO_EXEC:
			lr->no_exec = 1;
			lr->exec_errno = m.value;
			break;
		default:
			break;
		}
	}
	strbuf_release(&sb);
}

/* The modification time of `path` (wall clock seconds), 0 when unknown. The
 * launcher writes its STARTED record just after creating the stage and its
 * DONE record just after reaping it, so the report's mtime is, in turn, the
 * stage's start and end on the node's clock. */
static double mtime_of(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) < 0)
		return 0;
	return (double)sb.st_mtim.tv_sec + (double)sb.st_mtim.tv_nsec / 1e9;
}

/* ---- jobs ---- */

static void job_free(struct sjob *j)
{
	free(j->id_text);
	free(j->stage_id);
	free(j->name);
	free(j->workdir);
	free(j->cwd);
	free(j->report);
	free(j->progress);
	free(j->stdout_path);
	free(j->stderr_path);
	if (j->known)
		slurm_job_release(&j->last);
	strbuf_release(&j->progbuf);
	free(j);
}

static void slurm_caps(struct executor *ex, struct exec_caps *caps)
{
	*caps = ((struct slurm_ex *)ex)->caps;
}

/* The launcher's command line for the stage's steps (launch.h). */
static void launch_argv(const char *launcher, const struct exec_stage *xs, struct strvec *out)
{
	strvec_push(out, launcher);
	strvec_pushf(out, "%d", SLURM_WRAPPER_REPORT_FD);
	if (xs->steps_nr == 1) {
		strvec_push(out, xs->steps[0].v[0]);
		for (size_t i = 0; i < xs->steps[0].nr; i++)
			strvec_push(out, xs->steps[0].v[i]);
		return;
	}
	strvec_push(out, "--steps");
	strvec_pushf(out, "%zu", xs->steps_nr);
	for (size_t k = 0; k < xs->steps_nr; k++) {
		strvec_pushf(out, "%zu", xs->steps[k].nr);
		for (size_t i = 0; i < xs->steps[k].nr; i++)
			strvec_push(out, xs->steps[k].v[i]);
	}
}

static int slurm_start(struct executor *ex, const struct exec_stage *xs, struct strbuf *err)
{
	struct slurm_ex *s = (struct slurm_ex *)ex;
	const char *launcher = proc_launcher();
	if (!launcher) {
		strbuf_addstr(err, "the SLURM executor needs the stage launcher study-exec next to"
				   " the study program");
		return -1;
	}
	struct sjob *j = xcalloc(1, sizeof(*j));
	j->tag = xs->tag;
	j->id = -1;
	j->stage_id = xstrdup(xs->stage_id ? xs->stage_id : "stage");
	struct strbuf name = STRBUF_INIT;
	slurm_job_name(j->stage_id, &name);
	j->name = strbuf_detach(&name, NULL);
	j->workdir = xstrdup(xs->workdir);
	j->cwd = xstrdup(xs->cwd);
	j->report = xasprintf("%s/report", xs->workdir);
	j->progress = xs->want_progress ? xasprintf("%s/progress", xs->workdir) : NULL;
	j->stdout_path = xstrdup(xs->stdout_path);
	j->stderr_path = xstrdup(xs->stderr_path);
	j->time_s = xs->time_s;
	j->mem_bytes = xs->mem_bytes;
	strbuf_init(&j->progbuf, 0);

	/* the logs exist before the job does: SLURM opens them on the node */
	int rc = 0;
	const char *logs[] = { xs->stdout_path, xs->stderr_path };
	for (int k = 0; k < 2 && !rc; k++) {
		int fd = open(logs[k], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			strbuf_addf(err, "cannot create '%s': %s", logs[k], strerror(errno));
			rc = -1;
		} else {
			close(fd);
		}
	}
	struct strvec cmd = STRVEC_INIT, env = STRVEC_INIT, opts = STRVEC_INIT;
	if (!rc) {
		launch_argv(launcher, xs, &cmd);
		for (size_t i = 0; i < xs->env->nr; i++)
			strvec_push(&env, xs->env->v[i]);
		/* sbatch itself must find the cluster's configuration */
		const char *conf = getenv("SLURM_CONF");
		if (conf)
			strvec_pushf(&env, "SLURM_CONF=%s", conf);
		strvec_pushf(&opts, "--comment=study %s", xs->workdir);
		for (size_t i = 0; i < s->opts.nr; i++)
			strvec_push(&opts, s->opts.v[i]);
		struct slurm_job_spec spec = {
			.name = j->stage_id,
			.workdir = xs->cwd,
			.stdout_path = xs->stdout_path,
			.stderr_path = xs->stderr_path,
			.report_path = j->report,
			.progress_path = j->progress,
			.script = s->script.buf,
			.cpus = xs->cpus,
			.mem_bytes = xs->mem_bytes,
			.gpus = xs->gpus,
			.time_s = xs->time_s,
			.partition = s->partition,
			.account = s->account,
			.opts = opts.v,
			.argv = cmd.v,
		};
		write_note(xs->workdir, "-", j->stage_id);
		struct strbuf why = STRBUF_INIT;
		if (slurm_submit(&spec, env.v, &j->id, &why) < 0) {
			strbuf_addf(err, "cannot submit the job: %s", why.buf);
			rc = -1;
		}
		strbuf_release(&why);
	}
	strvec_clear(&cmd);
	strvec_clear(&env);
	strvec_clear(&opts);
	if (rc < 0) {
		job_free(j);
		return -1;
	}
	j->id_text = xasprintf("%ld", j->id);
	j->submitted_wall = clock_wall();
	write_note(xs->workdir, j->id_text, j->stage_id);
	XGROW(s->jobs, s->alloc, s->nr + 1);
	s->jobs[s->nr++] = j;
	/* a new job: look again soon */
	double soon = clock_mono() + s->poll_s;
	if (s->next_query > soon || s->next_query == 0)
		s->next_query = soon;
	return 0;
}

/* Pass on the complete lines appended to the job's progress file. */
static void read_progress(struct slurm_ex *s, struct sjob *j)
{
	if (!j->progress)
		return;
	int fd = open(j->progress, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[4096];
	ssize_t n;
	if (lseek(fd, j->progress_off, SEEK_SET) == j->progress_off) {
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			j->progress_off += n;
			strbuf_add(&j->progbuf, buf, (size_t)n);
			if (j->progbuf.len > PROGRESS_MAX)
				strbuf_reset(&j->progbuf);
		}
	}
	close(fd);
	char *line = j->progbuf.buf, *nl;
	while ((nl = memchr(line, '\n', j->progbuf.len - (size_t)(line - j->progbuf.buf)))) {
		*nl = '\0';
		if (s->base.on_progress)
			s->base.on_progress(s->base.ctx, j->tag, line);
		line = nl + 1;
	}
	size_t rest = j->progbuf.len - (size_t)(line - j->progbuf.buf);
	memmove(j->progbuf.buf, line, rest);
	strbuf_setlen(&j->progbuf, rest);
}

static int file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* A job cancelled before it ran: SLURM says CANCELLED and the wrapper never
 * created the report. */
static int st_never_ran(const struct slurm_job *sj, const struct sjob *j)
{
	return sj->state == SLURM_CANCELLED && !file_exists(j->report);
}

/* Report job j, ended: `sj` is SLURM's last word on it (NULL: SLURM has
 * forgotten it and the launcher's report is all there is). */
static void report(struct slurm_ex *s, struct sjob *j, const struct slurm_job *sj)
{
	struct launch_result lr;
	read_launch_report(j->report, &lr);
	struct exec_report rep;
	memset(&rep, 0, sizeof(rep));
	struct strbuf reason = STRBUF_INIT, detail = STRBUF_INIT, why = STRBUF_INIT;
	rep.tag = j->tag;
	rep.executor = "slurm";
	rep.job_id = j->id_text;
	rep.host = sj && sj->node[0] ? sj->node : NULL;
	rep.queue = sj && sj->partition[0] ? sj->partition : s->partition;
	rep.cancelled = j->cancel_wanted && !j->timed_out;
	rep.timed_out = j->timed_out;
	rep.cpu_s = -1;
	rep.peak_rss_kb = -1;
	rep.queue_wait_s = sj && sj->start && sj->submit ? (double)(sj->start - sj->submit) : -1;
	rep.exit_code = -1;
	if (j->mem_bytes > 0)
		rep.mem_enforcement = "slurm";

	if (lr.done) {
		/* the launcher saw the stage end: its own numbers */
		if (WIFSIGNALED(lr.status)) {
			rep.term_signal = WTERMSIG(lr.status);
		} else {
			rep.exit_code = WEXITSTATUS(lr.status);
		}
		rep.step = lr.step;
		rep.step_errno = lr.step_errno;
		rep.cpu_s = (double)lr.ru.ru_utime.tv_sec + lr.ru.ru_utime.tv_usec / 1e6 +
			    (double)lr.ru.ru_stime.tv_sec + lr.ru.ru_stime.tv_usec / 1e6;
		rep.peak_rss_kb = lr.ru.ru_maxrss;
	} else if (lr.no_exec) {
		rep.exit_code = 127;
		rep.step_errno = lr.exec_errno;
		strbuf_addf(&reason, "the stage could not be executed on node %s: %s",
			    rep.host ? rep.host : "?", strerror(lr.exec_errno));
	} else if (sj && st_never_ran(sj, j)) {
		/* cancelled while queued: no process, no status */
	} else if (sj && sj->status_known) {
		if (WIFSIGNALED(sj->status))
			rep.term_signal = WTERMSIG(sj->status);
		else
			rep.exit_code = WEXITSTATUS(sj->status);
	}

	/* times: the launcher's duration, ending when it wrote DONE (the
	 * report's mtime); else SLURM's start and end (whole seconds) */
	double done_at = lr.done ? mtime_of(j->report) : 0;
	if (lr.started && lr.done && lr.end_ns >= lr.start_ns && done_at > 0) {
		rep.wall_s = (double)(lr.end_ns - lr.start_ns) / 1e9;
		rep.started = done_at - rep.wall_s;
	} else {
		rep.started = sj && sj->start ? (double)sj->start
			      : j->start_wall > 0 ? j->start_wall : j->submitted_wall;
		rep.wall_s = sj && sj->start && sj->end >= sj->start ? (double)(sj->end - sj->start) : 0;
	}
	rep.ended = rep.started + rep.wall_s;

	/* why, when SLURM's word is more than the exit status */
	enum slurm_state st = sj ? sj->state : SLURM_UNKNOWN;
	int slurm_failed = sj && slurm_describe(sj, &why);
	if (j->timed_out) {
		strbuf_addf(&detail, "SLURM job %ld cancelled at the limit", j->id);
	} else if (st == SLURM_OUT_OF_MEMORY) {
		rep.over_memory = 1;
		rep.mem_enforcement = "slurm";
		strbuf_addf(&detail, "SLURM: OUT_OF_MEMORY on node %s", rep.host ? rep.host : "?");
		if (!lr.done && !rep.term_signal)
			rep.term_signal = SIGKILL;
	} else if (st == SLURM_TIMEOUT && j->time_s > 0) {
		/* the orchestrator's own limit comes first; SLURM's is the backstop */
		rep.timed_out = 1;
		strbuf_addf(&detail, "SLURM: TIMEOUT at --time=%ld", slurm_time_minutes(j->time_s));
	} else if (reason.len) {
		/* said above */
	} else if (sj && st_never_ran(sj, j)) {
		strbuf_addf(&reason, "cancelled before it started (SLURM: %s)", sj->state_name);
	} else if (st == SLURM_TIMEOUT || st == SLURM_CANCELLED || st == SLURM_NODE_FAIL ||
		   st == SLURM_PREEMPTED || st == SLURM_BOOT_FAIL || st == SLURM_DEADLINE) {
		strbuf_addstr(&reason, why.buf);
		if (rep.host && st == SLURM_NODE_FAIL)
			strbuf_addf(&reason, " on node %s", rep.host);
	} else if (!lr.started && slurm_failed && !file_exists(j->report) &&
		   (!strcmp(sj->reason, "JobLaunchFailure") ||
		    (sj->status_known && WIFEXITED(sj->status) &&
		     WEXITSTATUS(sj->status) == SLURM_WRAPPER_NO_DIR))) {
		/* the job never wrote its report: the node could not open the
		 * logs the orchestrator created (a launch failure) or enter the
		 * work directory (the wrapper's 97): it does not see the store */
		strbuf_addf(&reason, "node %s could not use the work directory %s: the store must be"
				     " on a filesystem every node sees (SLURM: %s, %s)",
			    rep.host ? rep.host : "?", j->workdir, sj->state_name, sj->reason);
	} else if (!lr.done && slurm_failed) {
		strbuf_addstr(&reason, why.buf);
	} else if (!sj && !lr.done) {
		strbuf_addf(&reason, "SLURM no longer knows job %ld (neither squeue nor the job"
				     " completion log lists it) and it left no exit status", j->id);
	}
	rep.reason = reason.len ? reason.buf : NULL;
	rep.detail = detail.len ? detail.buf : NULL;
	s->base.on_done(s->base.ctx, &rep);
	strbuf_release(&reason);
	strbuf_release(&detail);
	strbuf_release(&why);
}

/* ---- polling ---- */

/* Wait up to t seconds for wake_fd to become readable: 1 when it did. */
static int wait_fd(int wake_fd, double t)
{
	int ms = t <= 0 ? 0 : (int)(t * 1000) + 1;
	if (wake_fd < 0) {
		if (ms)
			poll(NULL, 0, ms);
		return 0;
	}
	struct pollfd p = { wake_fd, POLLIN, 0 };
	return poll(&p, 1, ms) > 0;
}

/* Stopping a job as the local executor stops a process group: TERM to
 * every process of a running job first (scancel --signal=TERM --full), and
 * EXEC_KILL_GRACE_S later, if it still runs, the job's end (scancel: TERM to
 * what is left, then KILL after SLURM's KillWait). A job not known to run
 * is cancelled at once. One scancel call for each kind. */
static void send_cancels(struct slurm_ex *s)
{
	long *term = xcalloc(s->nr + 1, sizeof(*term)), *kill = xcalloc(s->nr + 1, sizeof(*kill));
	size_t nt = 0, nk = 0;
	double now = clock_mono();
	for (size_t k = 0; k < s->nr; k++) {
		struct sjob *j = s->jobs[k];
		if (!j->cancel_wanted || j->kill_sent)
			continue;
		if (!j->term_sent && j->known && j->last.state == SLURM_RUNNING) {
			term[nt++] = j->id;
			j->term_sent = now;
		} else if (!j->term_sent || now >= j->term_sent + EXEC_KILL_GRACE_S) {
			kill[nk++] = j->id;
			j->kill_sent = 1;
		}
	}
	struct strbuf err = STRBUF_INIT;
	if (nt && slurm_cancel(term, nt, 1, &err) < 0) {
		fprintf(stderr, "study: warning: %s\n", err.buf);
		strbuf_reset(&err);
	}
	if (nk && slurm_cancel(kill, nk, 0, &err) < 0) {
		fprintf(stderr, "study: warning: %s\n", err.buf);
		/* try again at the next poll */
		for (size_t k = 0; k < s->nr; k++)
			for (size_t i = 0; i < nk; i++)
				if (s->jobs[k]->id == kill[i])
					s->jobs[k]->kill_sent = 0;
	}
	if (nt || nk)
		s->next_query = now + s->poll_s;
	strbuf_release(&err);
	free(term);
	free(kill);
}

/* The soonest a TERM's grace ends, as a timeout from now (t when none sooner). */
static double time_to_kill(const struct slurm_ex *s, double t)
{
	double now = clock_mono();
	for (size_t k = 0; k < s->nr; k++) {
		const struct sjob *j = s->jobs[k];
		if (j->term_sent && !j->kill_sent) {
			double left = j->term_sent + EXEC_KILL_GRACE_S - now;
			if (left < t)
				t = left < 0 ? 0 : left;
		}
	}
	return t;
}

static const struct slurm_job *find_job(const struct slurm_job *v, size_t n, long id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id)
			return &v[i];
	return NULL;
}

static void remember(struct sjob *j, const struct slurm_job *sj)
{
	if (j->known)
		slurm_job_release(&j->last);
	slurm_job_init(&j->last);
	j->known = 1;
	j->last.id = sj->id;
	j->last.state = sj->state;
	free(j->last.state_name);
	j->last.state_name = xstrdup(sj->state_name);
	free(j->last.reason);
	j->last.reason = xstrdup(sj->reason);
	j->last.status_known = sj->status_known;
	j->last.status = sj->status;
	free(j->last.node);
	j->last.node = xstrdup(sj->node);
	free(j->last.partition);
	j->last.partition = xstrdup(sj->partition);
	free(j->last.name);
	j->last.name = xstrdup(sj->name);
	j->last.submit = sj->submit;
	j->last.start = sj->start;
	j->last.end = sj->end;
}

/* Has job j ended? Final in SLURM, or COMPLETING (a dead slurmd can keep
 * it there) with the launcher's report of the stage's end. */
static int ended(const struct sjob *j)
{
	if (!j->known)
		return 0;
	if (slurm_state_final(j->last.state))
		return 1;
	if (j->last.state != SLURM_COMPLETING)
		return 0;
	struct launch_result lr;
	read_launch_report(j->report, &lr);
	return lr.done;
}

/* When the stage of running job j started: the launcher's STARTED record
 * (the report's mtime while DONE is not there), else one second after
 * SLURM's StartTime (whole seconds: never early). 0 when not running. */
static double stage_start(struct sjob *j)
{
	if (!j->known || j->last.state != SLURM_RUNNING)
		return 0;
	if (!j->start_wall) {
		struct launch_result lr;
		read_launch_report(j->report, &lr);
		if (lr.started && !lr.done)
			j->start_wall = mtime_of(j->report);
	}
	if (j->start_wall)
		return j->start_wall;
	return j->last.start ? (double)j->last.start + 1 : 0;
}

/* The orchestrator's time limit: stop a job whose stage has run time_s. */
static void enforce_time(struct slurm_ex *s)
{
	double now = clock_wall();
	int any = 0;
	for (size_t k = 0; k < s->nr; k++) {
		struct sjob *j = s->jobs[k];
		double start;
		if (j->time_s <= 0 || j->cancel_wanted || !(start = stage_start(j)))
			continue;
		if (now >= start + j->time_s) {
			j->timed_out = 1;
			j->cancel_wanted = 1;
			any = 1;
		}
	}
	if (any)
		send_cancels(s);
}

/* The soonest a running job reaches its time limit, as a timeout from now. */
static double time_to_deadline(struct slurm_ex *s, double t)
{
	double now = clock_wall();
	for (size_t k = 0; k < s->nr; k++) {
		struct sjob *j = s->jobs[k];
		double start;
		if (j->time_s <= 0 || j->cancel_wanted || !(start = stage_start(j)))
			continue;
		double left = start + j->time_s - now;
		if (left < t)
			t = left < 0 ? 0 : left;
	}
	return t;
}

/* One squeue call for every job; the completion log for those squeue no
 * longer lists. Updates each job's state. -1 when squeue failed. */
static int query(struct slurm_ex *s)
{
	long *ids = xcalloc(s->nr + 1, sizeof(*ids));
	for (size_t k = 0; k < s->nr; k++)
		ids[k] = s->jobs[k]->id;
	struct slurm_job *v = NULL;
	size_t n = 0;
	struct strbuf err = STRBUF_INIT;
	if (slurm_query(ids, s->nr, &v, &n, &err) < 0) {
		if (!s->ctl_down)
			fprintf(stderr, "study: warning: cannot ask SLURM about the jobs: %s;"
					" trying again\n", err.buf);
		s->ctl_down = 1;
		strbuf_release(&err);
		free(ids);
		return -1;
	}
	if (s->ctl_down)
		fprintf(stderr, "study: SLURM answers again\n");
	s->ctl_down = 0;
	size_t nmiss = 0;
	for (size_t k = 0; k < s->nr; k++) {
		struct sjob *j = s->jobs[k];
		const struct slurm_job *sj = find_job(v, n, j->id);
		if (sj) {
			remember(j, sj);
			j->missing = 0;
		} else if (!j->known || !slurm_state_final(j->last.state)) {
			j->missing++;
			ids[nmiss++] = j->id;
		}
	}
	slurm_jobs_free(v, n);
	if (nmiss) {
		/* forgotten by slurmctld (MinJobAge): the job completion log */
		strbuf_reset(&err);
		if (slurm_query_completed(ids, nmiss, &v, &n, &err) == 0) {
			for (size_t k = 0; k < s->nr; k++) {
				struct sjob *j = s->jobs[k];
				const struct slurm_job *sj = j->missing ? find_job(v, n, j->id) : NULL;
				/* a record of the same id from before a purge names
				 * another job: the stage's name tells them apart */
				if (sj && slurm_state_final(sj->state) && !strcmp(sj->name, j->name)) {
					remember(j, sj);
					j->missing = 0;
				}
			}
			slurm_jobs_free(v, n);
		}
	}
	strbuf_release(&err);
	free(ids);
	return 0;
}

static int slurm_poll(struct executor *ex, double timeout_s, int wake_fd)
{
	struct slurm_ex *s = (struct slurm_ex *)ex;
	send_cancels(s);
	if (!s->nr) {
		wait_fd(wake_fd, timeout_s);
		return 0;
	}
	double now = clock_mono();
	double until = s->next_query - now;
	double t = time_to_kill(s, time_to_deadline(s, until));
	if (t > 0) {
		int woke = wait_fd(wake_fd, t < timeout_s ? t : timeout_s);
		for (size_t k = 0; k < s->nr; k++)
			read_progress(s, s->jobs[k]);
		if (woke || t > timeout_s)
			return 0;
	}
	send_cancels(s); /* a grace that ended */
	s->next_query = clock_mono() + s->poll_s;
	if (query(s) < 0)
		return 0;
	enforce_time(s);

	int done = 0;
	for (size_t k = 0; k < s->nr;) {
		struct sjob *j = s->jobs[k];
		read_progress(s, j);
		/* a job missing from squeue and from the completion log for
		 * several polls is gone: the launcher's report is all there is */
		int gone = j->missing >= MISSING_POLLS;
		if (!gone && !ended(j)) {
			k++;
			continue;
		}
		s->jobs[k] = s->jobs[--s->nr];
		report(s, j, gone ? NULL : &j->last);
		job_free(j);
		done++;
	}
	return done;
}

static void slurm_cancel_stage(struct executor *ex, void *tag)
{
	struct slurm_ex *s = (struct slurm_ex *)ex;
	for (size_t k = 0; k < s->nr; k++) {
		if (s->jobs[k]->tag == tag) {
			s->jobs[k]->cancel_wanted = 1;
			return;
		}
	}
}

static size_t slurm_running(struct executor *ex) { return ((struct slurm_ex *)ex)->nr; }

static const char *slurm_job_id(struct executor *ex, void *tag)
{
	struct slurm_ex *s = (struct slurm_ex *)ex;
	for (size_t k = 0; k < s->nr; k++)
		if (s->jobs[k]->tag == tag)
			return s->jobs[k]->id_text;
	return NULL;
}

static double slurm_now(struct executor *ex)
{
	(void)ex;
	return clock_mono();
}

/* ---- what a killed run left ---- */

/* The job ids noted in work_dir/<name>/job ("slurm ID STAGE"); *pending
 * counts the notes without an id yet ("slurm - STAGE"). */
static void noted_jobs(const char *work_dir, long **ids, size_t *n, size_t *alloc,
		       size_t *pending)
{
	DIR *d = opendir(work_dir);
	struct dirent *de;
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		strbuf_reset(&path);
		strbuf_reset(&text);
		strbuf_addf(&path, "%s/%s/job", work_dir, de->d_name);
		long id;
		if (strbuf_read_file(&text, path.buf) < 0)
			continue;
		if (!strncmp(text.buf, "slurm - ", 8))
			(*pending)++;
		if (sscanf(text.buf, "slurm %ld ", &id) != 1)
			continue;
		XGROW(*ids, *alloc, *n + 1);
		(*ids)[(*n)++] = id;
	}
	if (d)
		closedir(d);
	strbuf_release(&path);
	strbuf_release(&text);
}

void exec_slurm_recover(const char *work_dir)
{
	long *ids = NULL;
	size_t n = 0, alloc = 0, pending = 0;
	noted_jobs(work_dir, &ids, &n, &alloc, &pending);
	if (!n && !pending)
		return; /* no SLURM job was submitted into this store's work/ */
	/* a job submitted just before the run was killed, whose note has no
	 * id yet: SLURM knows it by its comment */
	struct strbuf err = STRBUF_INIT;
	struct strvec found = STRVEC_INIT;
	struct strbuf prefix = STRBUF_INIT;
	strbuf_addf(&prefix, "study %s/", work_dir);
	if (pending && slurm_active_by_comment(prefix.buf, &found, &err) == 0) {
		for (size_t i = 0; i < found.nr; i++) {
			XGROW(ids, alloc, n + 1);
			ids[n++] = atol(found.v[i]);
		}
	}
	strvec_clear(&found);
	strbuf_release(&prefix);
	if (!n) {
		free(ids);
		strbuf_release(&err);
		return;
	}
	/* which of them are still queued or running */
	struct slurm_job *v = NULL;
	size_t nv = 0;
	strbuf_reset(&err);
	if (slurm_query(ids, n, &v, &nv, &err) < 0) {
		fprintf(stderr, "study: warning: cannot ask SLURM about the jobs an earlier run"
				" left (%s); if they still run, cancel them with scancel\n", err.buf);
		free(ids);
		strbuf_release(&err);
		return;
	}
	long *live = xcalloc(nv + 1, sizeof(*live)), *running = xcalloc(nv + 1, sizeof(*running));
	size_t nl = 0, nr = 0;
	struct strbuf list = STRBUF_INIT;
	for (size_t i = 0; i < nv; i++) {
		if (slurm_state_final(v[i].state))
			continue;
		int dup = 0;
		for (size_t k = 0; k < nl; k++)
			dup |= live[k] == v[i].id;
		if (dup)
			continue;
		live[nl++] = v[i].id;
		if (v[i].state == SLURM_RUNNING)
			running[nr++] = v[i].id;
		strbuf_addf(&list, "%s%ld (%s)", list.len ? ", " : "", v[i].id, v[i].name);
	}
	slurm_jobs_free(v, nv);
	if (nl) {
		fprintf(stderr, "study: cancelling %zu SLURM job%s an earlier run left queued or"
				" running: %s\n", nl, nl == 1 ? "" : "s", list.buf);
		/* TERM to every process of the running ones (their stages may
		 * clean up), then the end of all (KILL after KillWait) */
		strbuf_reset(&err);
		if (nr)
			slurm_cancel(running, nr, 1, &err);
		strbuf_reset(&err);
		if (slurm_cancel(live, nl, 0, &err) < 0)
			fprintf(stderr, "study: warning: %s\n", err.buf);
		/* wait until SLURM says they ended: nothing may write into the
		 * work directories this run is about to remove */
		double give_up = clock_mono() + RECOVER_WAIT_S;
		for (;;) {
			size_t left = 0;
			strbuf_reset(&err);
			if (slurm_query(live, nl, &v, &nv, &err) == 0) {
				for (size_t i = 0; i < nv; i++)
					left += !slurm_state_final(v[i].state);
				slurm_jobs_free(v, nv);
			} else {
				left = nl;
			}
			if (!left)
				break;
			if (clock_mono() > give_up) {
				fprintf(stderr, "study: warning: %zu of those jobs have not ended after"
						" %.0fs\n", left, RECOVER_WAIT_S);
				break;
			}
			usleep(500000);
		}
	}
	strbuf_release(&list);
	free(live);
	free(running);
	free(ids);
	strbuf_release(&err);
}

static void slurm_recover(struct executor *ex, const char *work_dir)
{
	(void)ex;
	exec_slurm_recover(work_dir);
}

static void slurm_destroy(struct executor *ex)
{
	struct slurm_ex *s = (struct slurm_ex *)ex;
	if (s->nr) {
		long *ids = xcalloc(s->nr, sizeof(*ids));
		for (size_t k = 0; k < s->nr; k++)
			ids[k] = s->jobs[k]->id;
		struct strbuf err = STRBUF_INIT;
		if (slurm_cancel(ids, s->nr, 0, &err) < 0)
			fprintf(stderr, "study: warning: %s\n", err.buf);
		strbuf_release(&err);
		free(ids);
	}
	for (size_t k = 0; k < s->nr; k++)
		job_free(s->jobs[k]);
	free(s->jobs);
	struct strbuf ignored = STRBUF_INIT;
	if (s->tmpdir)
		remove_tree(s->tmpdir, &ignored);
	strbuf_release(&ignored);
	free(s->tmpdir);
	strbuf_release(&s->script);
	free(s->partition);
	free(s->account);
	strvec_clear(&s->opts);
	free(s->cpus_from);
	free(s->mem_from);
	free(s->gpus_from);
	free(s);
}

static const struct exec_ops slurm_ops = {
	.name = "slurm",
	.caps = slurm_caps,
	.start = slurm_start,
	.poll = slurm_poll,
	.cancel = slurm_cancel_stage,
	.running = slurm_running,
	.now = slurm_now,
	.recover = slurm_recover,
	.destroy = slurm_destroy,
	.job_id = slurm_job_id,
};

/* What one stage can get: the largest node of the partition (sinfo). */
static int set_caps(struct slurm_ex *s, struct strbuf *err)
{
	struct slurm_node *nodes = NULL;
	size_t n = 0;
	if (slurm_nodes(s->partition, &nodes, &n, err) < 0)
		return -1;
	if (!n) {
		if (s->partition)
			strbuf_addf(err, "SLURM has no partition '%s' (sinfo lists no node in it)",
				    s->partition);
		else
			strbuf_addstr(err, "SLURM lists no node (sinfo)");
		free(nodes);
		return -1;
	}
	int cpus = 0, gpus = 0;
	long long mem = 0;
	const char *part = NULL;
	for (size_t i = 0; i < n; i++) {
		if (nodes[i].cpus > cpus)
			cpus = nodes[i].cpus;
		if (nodes[i].mem_mib * 1048576 > mem)
			mem = nodes[i].mem_mib * 1048576;
		if (nodes[i].gpus > gpus)
			gpus = nodes[i].gpus;
		part = nodes[i].partition;
	}
	char *where = xasprintf("partition %s", s->partition ? s->partition : part ? part : "?");
	s->caps.max_cpus = cpus;
	s->caps.max_mem_bytes = mem;
	s->caps.max_gpus = gpus;
	s->cpus_from = xasprintf("the largest node of %s has %d CPU%s", where, cpus,
				 cpus == 1 ? "" : "s");
	s->mem_from = xasprintf("the largest node of %s has %lldM of memory", where,
				mem / 1048576);
	s->gpus_from = gpus ? xasprintf("the largest node of %s has %d GPU%s (gres/gpu)", where,
					gpus, gpus == 1 ? "" : "s")
			    : xasprintf("no node of %s has a GPU (gres/gpu)", where);
	s->caps.cpus_from = s->cpus_from;
	s->caps.mem_from = s->mem_from;
	s->caps.gpus_from = s->gpus_from;
	s->caps.mem_pool = 0;  /* SLURM queues: the runner limits nothing */
	s->caps.gpu_slots = 0; /* GPUs come from --gres */
	free(where);
	slurm_nodes_free(nodes, n);
	return 0;
}

struct executor *exec_slurm_new(const struct exec_slurm_opts *o, struct strbuf *err)
{
	static const char *const cmds[] = { "sbatch", "squeue", "scancel", "sinfo" };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *p = slurm_find(cmds[i], err);
		if (!p)
			return NULL;
		free(p);
	}
	for (char *const *opt = o->opts; opt && *opt; opt++)
		if (slurm_check_opt(*opt, err) < 0)
			return NULL;
	struct slurm_ex *s = xcalloc(1, sizeof(*s));
	s->base.ops = &slurm_ops;
	s->partition = o->partition && *o->partition ? xstrdup(o->partition) : NULL;
	s->account = o->account && *o->account ? xstrdup(o->account) : NULL;
	strvec_init(&s->opts);
	for (char *const *opt = o->opts; opt && *opt; opt++)
		strvec_push(&s->opts, *opt);
	s->poll_s = o->poll_s > 0 ? o->poll_s : SLURM_POLL_S;
	strbuf_init(&s->script, 0);
	const char *tmp = getenv("TMPDIR");
	char *templ = xasprintf("%s/study-slurm.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(templ)) {
		strbuf_addf(err, "cannot create a directory in %s: %s", tmp && *tmp ? tmp : "/tmp",
			    strerror(errno));
		free(templ);
		slurm_destroy(&s->base);
		return NULL;
	}
	s->tmpdir = templ;
	if (slurm_write_wrapper(s->tmpdir, &s->script, err) < 0 || set_caps(s, err) < 0) {
		slurm_destroy(&s->base);
		return NULL;
	}
	return &s->base;
}
