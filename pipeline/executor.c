/*
 * executor: the dispatch to an implementation, and the one check of a plan
 * against what an executor can give (see executor.h).
 */
#include "executor.h"
#include "study.h"

#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void exec_set_callbacks(struct executor *ex, exec_done_fn done, exec_progress_fn progress,
			void *ctx)
{
	ex->on_done = done;
	ex->on_progress = progress;
	ex->ctx = ctx;
}

const char *exec_name(const struct executor *ex) { return ex->ops->name; }

void exec_caps(struct executor *ex, struct exec_caps *caps)
{
	struct exec_caps none = { 0 };
	none.max_gpus = -1;
	*caps = none;
	ex->ops->caps(ex, caps);
}

int exec_start(struct executor *ex, const struct exec_stage *xs, struct strbuf *err)
{
	return ex->ops->start(ex, xs, err);
}

int exec_poll(struct executor *ex, double timeout_s, int wake_fd)
{
	return ex->ops->poll(ex, timeout_s < 0 ? 0 : timeout_s, wake_fd);
}

void exec_cancel(struct executor *ex, void *tag) { ex->ops->cancel(ex, tag); }

size_t exec_running(struct executor *ex) { return ex->ops->running(ex); }

double exec_now(struct executor *ex) { return ex->ops->now(ex); }

void exec_recover(struct executor *ex, const char *work_dir)
{
	if (ex->ops->recover)
		ex->ops->recover(ex, work_dir);
}

const char *exec_job_id(struct executor *ex, void *tag)
{
	return ex->ops->job_id ? ex->ops->job_id(ex, tag) : NULL;
}

void exec_destroy(struct executor *ex)
{
	if (ex)
		ex->ops->destroy(ex);
}

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

void exec_report_copy(struct exec_report *dst, const struct exec_report *src)
{
	*dst = *src;
	dst->executor = dup_or_null(src->executor);
	dst->host = dup_or_null(src->host);
	dst->job_id = dup_or_null(src->job_id);
	dst->queue = dup_or_null(src->queue);
	dst->mem_enforcement = dup_or_null(src->mem_enforcement);
	dst->detail = dup_or_null(src->detail);
	dst->reason = dup_or_null(src->reason);
}

void exec_report_release(struct exec_report *rep)
{
	free((char *)rep->executor);
	free((char *)rep->host);
	free((char *)rep->job_id);
	free((char *)rep->queue);
	free((char *)rep->mem_enforcement);
	free((char *)rep->detail);
	free((char *)rep->reason);
	memset(rep, 0, sizeof(*rep));
}

/* The largest unit that divides the size (the form resources.mem is written in). */
void exec_add_size(struct strbuf *sb, long long bytes)
{
	static const char units[] = "TGMK";
	for (int i = 0; i < 4; i++) {
		long long unit = 1LL << (10 * (4 - i));
		if (bytes >= unit && bytes % unit == 0) {
			strbuf_addf(sb, "%lld%c", bytes / unit, units[i]);
			return;
		}
	}
	strbuf_addf(sb, "%lld", bytes);
}

static void add_where(struct strbuf *err, const struct plan *p, struct srcpos pos)
{
	const char *path = p->study && p->study->path ? p->study->path : "study";
	if (pos.line > 0)
		strbuf_addf(err, "%s:%d:%d: ", path, pos.line, pos.col);
	else
		strbuf_addf(err, "%s: ", path);
}

int exec_check_plan(const struct exec_caps *caps, const struct plan *p, const char *selected,
		    struct strbuf *err)
{
	for (size_t i = 0; i < p->nr; i++) {
		const struct stage *s = &p->stages[i];
		const struct resources *r = &s->entry->res;
		if (selected && !selected[i])
			continue;
		if (caps->max_cpus > 0 && r->cpus > caps->max_cpus) {
			add_where(err, p, r->cpus_pos);
			strbuf_addf(err, "stage '%s' asks for %d cpus (resources.cpus), but %s", s->id,
				    r->cpus, caps->cpus_from ? caps->cpus_from : "no stage can get as many");
			return -1;
		}
		if (caps->max_mem_bytes > 0 && r->mem_bytes > caps->max_mem_bytes) {
			add_where(err, p, r->mem_pos);
			strbuf_addf(err, "stage '%s' asks for ", s->id);
			exec_add_size(err, r->mem_bytes);
			strbuf_addf(err, " of memory (resources.mem), but %s",
				    caps->mem_from ? caps->mem_from : "no stage can get as much");
			return -1;
		}
		if (caps->max_gpus >= 0 && r->gpus > caps->max_gpus) {
			add_where(err, p, r->gpus_pos);
			strbuf_addf(err, "stage '%s' asks for %d GPU%s (resources.gpus), but %s", s->id,
				    r->gpus, r->gpus == 1 ? "" : "s",
				    caps->gpus_from ? caps->gpus_from : "there is no GPU");
			return -1;
		}
		for (size_t k = 0; r->gpus > 0 && caps->gpu_slots > 0 && k < s->entry->env_nr; k++)
			if (!strcmp(s->entry->env[k].s, "CUDA_VISIBLE_DEVICES")) {
				add_where(err, p, s->entry->env[k].pos);
				strbuf_addf(err, "stage '%s' asks for GPUs (resources.gpus) and passes"
					    " CUDA_VISIBLE_DEVICES through (env): the GPU slots it is"
					    " given set it; remove it from 'env'", s->id);
				return -1;
			}
	}
	return 0;
}
