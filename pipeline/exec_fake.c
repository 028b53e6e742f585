/*
 * exec_fake: scripted stage outcomes on a virtual clock, for unit tests of
 * the runner (see exec_fake.h).
 */
#include "exec_fake.h"
#include "fsutil.h"
#include "xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fjob {
	void *tag;
	size_t start;          /* index into starts */
	const struct exec_fake_rule *rule;
	double started, end;   /* virtual monotonic */
	double natural_end;    /* when it ends by itself */
	int exit_code, term_signal, over_memory, timed_out, cancelled;
	char *workdir, *stdout_path, *stderr_path, *stage_id;
	long long mem_bytes;
};

struct fake {
	struct executor base;
	const struct exec_fake_rule *rules;
	size_t rules_nr;
	struct exec_caps caps;
	double now;
	struct fjob **jobs;
	size_t nr, alloc;
	struct exec_fake_start *starts;
	size_t starts_nr, starts_alloc;
	size_t max_running;
	unsigned long next_job_id;
};

static const struct exec_fake_rule default_rule = { .secs = 1 };

static void fake_caps(struct executor *ex, struct exec_caps *caps)
{
	*caps = ((struct fake *)ex)->caps;
}

/* The attempt number of this start of stage `id` (1-based). */
static int attempt_of(const struct fake *f, const char *id)
{
	int n = 1;
	for (size_t i = 0; i < f->starts_nr; i++)
		if (!strcmp(f->starts[i].stage_id, id))
			n++;
	return n;
}

static const struct exec_fake_rule *rule_for(const struct fake *f, const char *id, int attempt)
{
	for (size_t i = 0; i < f->rules_nr; i++) {
		const struct exec_fake_rule *r = &f->rules[i];
		if ((!r->stage || !strcmp(r->stage, id)) && (!r->attempt || r->attempt == attempt))
			return r;
	}
	return &default_rule;
}

/* A TERM reaches job j at time t (its time limit, or a cancel). */
static void term_at(struct fjob *j, double t)
{
	const struct exec_fake_rule *r = j->rule;
	if (t >= j->natural_end)
		return; /* it has ended by then */
	if (r->ignore_term) {
		double kill = t + EXEC_KILL_GRACE_S;
		if (kill < j->natural_end) {
			j->end = kill;
			j->term_signal = SIGKILL;
			j->exit_code = -1;
			j->over_memory = 0;
		}
		return;
	}
	j->end = t;
	j->over_memory = 0;
	if (r->exits_on_term) {
		j->exit_code = r->term_exit_code;
		j->term_signal = 0;
	} else {
		j->exit_code = -1;
		j->term_signal = SIGTERM;
	}
}

static const char *env_value(const struct strvec *env, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < env->nr; i++)
		if (!strncmp(env->v[i], name, n) && env->v[i][n] == '=')
			return env->v[i] + n + 1;
	return NULL;
}

static int fake_start(struct executor *ex, const struct exec_stage *xs, struct strbuf *err)
{
	struct fake *f = (struct fake *)ex;
	const char *id = xs->stage_id ? xs->stage_id : "";
	(void)err;
	int attempt = attempt_of(f, id);
	const struct exec_fake_rule *r = rule_for(f, id, attempt);

	XGROW(f->starts, f->starts_alloc, f->starts_nr + 1);
	struct exec_fake_start *s = &f->starts[f->starts_nr];
	memset(s, 0, sizeof(*s));
	s->stage_id = xstrdup(id);
	s->attempt = attempt;
	s->at = f->now;
	s->cpus = xs->cpus;
	s->gpus = xs->gpus;
	s->mem_bytes = xs->mem_bytes;
	s->time_s = xs->time_s;
	const char *cuda = xs->env ? env_value(xs->env, "CUDA_VISIBLE_DEVICES") : NULL;
	s->cuda = cuda ? xstrdup(cuda) : NULL;
	struct strbuf argv = STRBUF_INIT;
	for (size_t k = 0; k < xs->steps_nr; k++) {
		if (k)
			strbuf_addstr(&argv, " && ");
		for (size_t i = 0; i < xs->steps[k].nr; i++)
			strbuf_addf(&argv, "%s%s", i ? " " : "", xs->steps[k].v[i]);
	}
	s->argv = strbuf_detach(&argv, NULL);

	struct fjob *j = xcalloc(1, sizeof(*j));
	j->tag = xs->tag;
	j->start = f->starts_nr++;
	j->rule = r;
	j->started = f->now;
	j->natural_end = f->now + (r->secs > 0 ? r->secs : 1);
	j->end = j->natural_end;
	j->exit_code = r->term_signal || r->over_memory ? -1 : r->exit_code;
	j->term_signal = r->over_memory ? SIGKILL : r->term_signal;
	j->over_memory = r->over_memory;
	j->mem_bytes = xs->mem_bytes;
	j->workdir = xs->workdir ? xstrdup(xs->workdir) : NULL;
	j->stdout_path = xs->stdout_path ? xstrdup(xs->stdout_path) : NULL;
	j->stderr_path = xs->stderr_path ? xstrdup(xs->stderr_path) : NULL;
	j->stage_id = xstrdup(id);
	if (xs->time_s > 0 && j->natural_end > f->now + xs->time_s) {
		j->timed_out = 1;
		term_at(j, f->now + xs->time_s);
	}
	XGROW(f->jobs, f->alloc, f->nr + 1);
	f->jobs[f->nr++] = j;
	if (f->nr > f->max_running)
		f->max_running = f->nr;
	if (r->raise_signal)
		raise(r->raise_signal);
	return 0;
}

static void write_text(const char *path, const char *text)
{
	struct strbuf ignored = STRBUF_INIT;
	if (path)
		write_file_atomic(path, text, strlen(text), 0600, &ignored);
	strbuf_release(&ignored);
}

static void finish(struct fake *f, struct fjob *j)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "fake stdout of %s\n", j->stage_id);
	write_text(j->stdout_path, sb.buf);
	strbuf_reset(&sb);
	strbuf_addf(&sb, "fake stderr of %s\n", j->stage_id);
	write_text(j->stderr_path, sb.buf);
	if (j->exit_code == 0 && !j->term_signal && !j->rule->empty_output && j->workdir) {
		char *path = xasprintf("%s/out/result.txt", j->workdir);
		strbuf_reset(&sb);
		strbuf_addf(&sb, "%s\n", j->stage_id);
		write_text(path, sb.buf);
		free(path);
	}
	strbuf_release(&sb);

	struct exec_fake_start *s = &f->starts[j->start];
	s->ended = j->end;
	char job_id[32];
	snprintf(job_id, sizeof(job_id), "fake-%lu", ++f->next_job_id);
	struct exec_report rep;
	memset(&rep, 0, sizeof(rep));
	rep.tag = j->tag;
	rep.exit_code = j->term_signal ? -1 : j->exit_code;
	rep.term_signal = j->term_signal;
	rep.timed_out = j->timed_out;
	rep.over_memory = j->over_memory;
	rep.cancelled = j->cancelled;
	rep.started = FAKE_WALL0 + (j->started - FAKE_T0);
	rep.ended = FAKE_WALL0 + (j->end - FAKE_T0);
	rep.wall_s = j->end - j->started;
	rep.cpu_s = rep.wall_s;
	rep.peak_rss_kb = 1024;
	rep.queue_wait_s = 0;
	rep.executor = "fake";
	rep.host = "fake-host";
	rep.job_id = job_id;
	rep.mem_enforcement = j->mem_bytes > 0 ? "fake" : NULL;
	f->base.on_done(f->base.ctx, &rep);
}

static void fjob_free(struct fjob *j)
{
	free(j->workdir);
	free(j->stdout_path);
	free(j->stderr_path);
	free(j->stage_id);
	free(j);
}

static int fake_poll(struct executor *ex, double timeout_s, int wake_fd)
{
	struct fake *f = (struct fake *)ex;
	(void)wake_fd;
	double next = -1;
	for (size_t k = 0; k < f->nr; k++)
		if (next < 0 || f->jobs[k]->end < next)
			next = f->jobs[k]->end;
	if (next >= 0 && next <= f->now + timeout_s)
		f->now = next > f->now ? next : f->now;
	else
		f->now += timeout_s;
	int n = 0;
	for (;;) {
		/* the earliest end that is due, first started first on a tie */
		size_t best = f->nr;
		for (size_t k = 0; k < f->nr; k++)
			if (f->jobs[k]->end <= f->now &&
			    (best == f->nr || f->jobs[k]->end < f->jobs[best]->end ||
			     (f->jobs[k]->end == f->jobs[best]->end &&
			      f->jobs[k]->start < f->jobs[best]->start)))
				best = k;
		if (best == f->nr)
			break;
		struct fjob *j = f->jobs[best];
		memmove(f->jobs + best, f->jobs + best + 1, (f->nr - best - 1) * sizeof(*f->jobs));
		f->nr--;
		finish(f, j);
		fjob_free(j);
		n++;
	}
	return n;
}

static void fake_cancel(struct executor *ex, void *tag)
{
	struct fake *f = (struct fake *)ex;
	for (size_t k = 0; k < f->nr; k++) {
		struct fjob *j = f->jobs[k];
		if (j->tag != tag || j->cancelled)
			continue;
		j->cancelled = 1;
		f->starts[j->start].cancelled = 1;
		if (!j->timed_out)
			term_at(j, f->now);
		return;
	}
}

static size_t fake_running(struct executor *ex) { return ((struct fake *)ex)->nr; }

static double fake_now(struct executor *ex) { return ((struct fake *)ex)->now; }

static void fake_destroy(struct executor *ex)
{
	struct fake *f = (struct fake *)ex;
	for (size_t k = 0; k < f->nr; k++)
		fjob_free(f->jobs[k]);
	free(f->jobs);
	for (size_t i = 0; i < f->starts_nr; i++) {
		free(f->starts[i].stage_id);
		free(f->starts[i].cuda);
		free(f->starts[i].argv);
	}
	free(f->starts);
	free(f);
}

static const struct exec_ops fake_ops = {
	.name = "fake",
	.caps = fake_caps,
	.start = fake_start,
	.poll = fake_poll,
	.cancel = fake_cancel,
	.running = fake_running,
	.now = fake_now,
	.recover = NULL,
	.destroy = fake_destroy,
};

struct executor *exec_fake_new(const struct exec_fake_rule *rules, size_t nr,
			       const struct exec_caps *caps)
{
	struct fake *f = xcalloc(1, sizeof(*f));
	f->base.ops = &fake_ops;
	f->rules = rules;
	f->rules_nr = nr;
	if (caps)
		f->caps = *caps;
	else
		f->caps.max_gpus = -1;
	f->now = FAKE_T0;
	return &f->base;
}

const struct exec_fake_start *exec_fake_starts(struct executor *ex, size_t *nr)
{
	struct fake *f = (struct fake *)ex;
	*nr = f->starts_nr;
	return f->starts;
}

size_t exec_fake_max_running(struct executor *ex)
{
	return ((struct fake *)ex)->max_running;
}
