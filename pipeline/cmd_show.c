/*
 * cmd_show: `study show RUN-ID|STAGE-ID`, the full provenance of one run (its
 * record and a table of its executions) or of a stage's latest execution
 * (argv, env, inputs, output and its path in the store, resources, logs,
 * metrics, reuse by later cache hits), as text or JSON. Read-only.
 */
#include "cli.h"
#include "lineage.h"
#include "prov_query.h"
#include "store.h"
#include "xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: study show RUN-ID|STAGE-ID [--store DIR] [--json]\n"
		   "   or: study show STAGE-ID[:METRIC] --lineage [--store DIR] [--json]\n"
		   "   or: study show STAGE-ID --why [--store DIR] [--json]\n"
		   "\n"
		   "Show the provenance of a run (an all-digit id, see 'study log'), of the\n"
		   "latest execution of a stage (e.g. model/m1, eval/refusal/m1/wo+sft), or\n"
		   "of an external input (input/NAME: each content and path recorded).\n"
		   "\n"
		   "  --store DIR  the artifact store (default: $STUDY_STORE, else artifacts/ here or above)\n"
		   "  --json       print one JSON object\n"
		   "  --lineage    the full upstream chain of a stage's output or of a metric\n"
		   "               (STAGE-ID:METRIC, e.g. eval/refusal/m1/wo:refusal_rate):\n"
		   "               command, commit, digests and times of every execution\n"
		   "  --why        why the stage's latest execution ran instead of hitting\n"
		   "               the cache (the same as 'study why STAGE-ID')\n");
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

static void commit_text(const char *commit, int dirty, char out[64])
{
	if (!commit)
		snprintf(out, 64, "-");
	else if (!*commit)
		snprintf(out, 64, "(no commit)");
	else
		snprintf(out, 64, "%.12s%s", commit, dirty == 1 ? "+dirty" : "");
}

/* ---- runs ---- */

/* Where an execution ran (schema 6): executor, job_id, host, queue (the
 * partition), queue_wait_s; null when not recorded. */
static void add_where_json(cJSON *o, const struct prov_exec_info *e)
{
	prov_json_add_str(o, "executor", e->executor);
	prov_json_add_str(o, "job_id", e->job_id);
	prov_json_add_str(o, "host", e->host);
	prov_json_add_str(o, "queue", e->queue);
	if (e->queue_wait_s >= 0 && e->executor)
		cJSON_AddNumberToObject(o, "queue_wait_s", e->queue_wait_s);
	else
		cJSON_AddNullToObject(o, "queue_wait_s");
}

static cJSON *exec_row_json(const struct prov_exec_info *e)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "execution_id", (double)e->id);
	prov_json_add_str(o, "stage", e->stage_id);
	prov_json_add_str(o, "kind", e->kind);
	prov_json_add_str(o, "status", e->status);
	prov_json_add_str(o, "reason", e->reason);
	prov_json_add_str(o, "cache_key", e->cache_key);
	if (e->has_exit)
		cJSON_AddNumberToObject(o, "exit_code", e->exit_code);
	else
		cJSON_AddNullToObject(o, "exit_code");
	if (e->started > 0)
		cJSON_AddNumberToObject(o, "wall_s", e->wall_s);
	else
		cJSON_AddNullToObject(o, "wall_s");
	prov_json_add_str(o, "output_digest", e->output_digest);
	add_where_json(o, e);
	return o;
}

static void print_jobs(const struct prov_job_info *jobs, size_t nr);

static void print_run(const struct prov_run_info *r, const struct prov_exec_info *ex, size_t nr,
		      const struct prov_job_info *jobs, size_t jobs_nr)
{
	char t0[32], t1[32], dur[32], commit[64];
	prov_format_time(r->started, t0);
	prov_format_time(r->ended, t1);
	commit_text(r->git_commit, r->git_dirty, commit);
	printf("run %lld\n", (long long)r->id);
	printf("  study      %s (%s)\n", or_dash(r->study_name), or_dash(r->study_path));
	printf("  digest     %s\n", or_dash(r->study_digest));
	printf("  commit     %s%s%s%s\n", commit, r->git_branch ? " (branch " : "",
	       r->git_branch ? r->git_branch : "", r->git_branch ? ")" : "");
	printf("  status     %s\n", or_dash(r->status));
	printf("  started    %s\n", t0);
	if (r->ended > 0) {
		prov_format_duration(r->ended - r->started, dur);
		printf("  ended      %s (%s)\n", t1, dur);
	} else {
		printf("  ended      -\n");
	}
	printf("  stages     ran %d, cached %d, failed %d, interrupted %d, skipped %d,"
	       " not started %d\n",
	       r->ran, r->cached, r->failed, r->interrupted, r->skipped, r->not_started);
	printf("  tool       study %s\n", or_dash(r->tool_version));
	printf("  host       %s (user %s)\n", or_dash(r->host), or_dash(r->user));
	printf("  cwd        %s\n", or_dash(r->cwd));
	printf("  argv       %s\n", or_dash(r->argv_json));
	print_jobs(jobs, jobs_nr);

	int w = 5;
	for (size_t i = 0; i < nr; i++) {
		int len = (int)strlen(ex[i].stage_id);
		if (len > w)
			w = len;
	}
	printf("\nexecutions (%zu)\n", nr);
	printf("  %-*s  %-11s  %4s  %8s  %-12s  %s\n", w, "STAGE", "STATUS", "EXIT", "WALL",
	       "OUTPUT", "REASON");
	for (size_t i = 0; i < nr; i++) {
		const struct prov_exec_info *e = &ex[i];
		char exitbuf[16], wall[32], out[16];
		if (!e->has_exit)
			snprintf(exitbuf, sizeof(exitbuf), "-");
		else if (e->term_signal)
			snprintf(exitbuf, sizeof(exitbuf), "sig%d", e->term_signal);
		else
			snprintf(exitbuf, sizeof(exitbuf), "%d", e->exit_code);
		if (e->started > 0)
			prov_format_duration(e->wall_s, wall);
		else
			snprintf(wall, sizeof(wall), "-");
		snprintf(out, sizeof(out), "%.12s", or_dash(e->output_digest));
		if (e->reason)
			printf("  %-*s  %-11s  %4s  %8s  %-12s  %s\n", w, e->stage_id,
			       or_dash(e->status), exitbuf, wall, out, e->reason);
		else
			printf("  %-*s  %-11s  %4s  %8s  %s\n", w, e->stage_id, or_dash(e->status),
			       exitbuf, wall, out);
	}
}

/* The batch jobs a run submitted (SLURM): how many, and those it did not see
 * end, i.e. still queued or running when it was killed. */
static void print_jobs(const struct prov_job_info *jobs, size_t nr)
{
	if (!nr)
		return;
	size_t open_nr = 0;
	for (size_t i = 0; i < nr; i++)
		open_nr += !jobs[i].ended;
	printf("  jobs       %zu %s job%s submitted", nr, or_dash(jobs[0].executor),
	       nr == 1 ? "" : "s");
	if (open_nr) {
		printf("; not seen to end (the run stopped first):");
		for (size_t i = 0, k = 0; i < nr; i++)
			if (!jobs[i].ended)
				printf("%s %s (%s)", k++ ? "," : "", jobs[i].job_id, jobs[i].stage_id);
	}
	printf("\n");
}

static cJSON *jobs_json(const struct prov_job_info *jobs, size_t nr)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < nr; i++) {
		cJSON *o = cJSON_CreateObject();
		prov_json_add_str(o, "stage", jobs[i].stage_id);
		prov_json_add_str(o, "job_id", jobs[i].job_id);
		prov_json_add_str(o, "executor", jobs[i].executor);
		prov_json_add_time(o, "submitted", jobs[i].submitted);
		cJSON_AddBoolToObject(o, "ended", jobs[i].ended);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static int show_run(struct prov *p, int64_t id, int json)
{
	struct strbuf err = STRBUF_INIT;
	struct prov_run_info r;
	struct prov_exec_info *ex = NULL;
	size_t nr = 0;
	int found = prov_get_run(p, id, &r, &err);
	if (found <= 0) {
		if (found == 0)
			cli_error("no run %lld recorded", (long long)id);
		else
			cli_error("%s", err.buf);
		strbuf_release(&err);
		return found == 0 ? EXIT_USAGE : EXIT_FAILED;
	}
	struct prov_job_info *jobs = NULL;
	size_t jobs_nr = 0;
	if (prov_run_execs(p, id, &ex, &nr, &err) < 0 ||
	    prov_run_jobs(p, id, &jobs, &jobs_nr, &err) < 0) {
		cli_error("%s", err.buf);
		prov_execs_free(ex, nr);
		prov_run_info_release(&r);
		strbuf_release(&err);
		return EXIT_FAILED;
	}
	if (json) {
		cJSON *o = prov_run_to_json(&r);
		cJSON *arr = cJSON_AddArrayToObject(o, "executions");
		for (size_t i = 0; i < nr; i++)
			cJSON_AddItemToArray(arr, exec_row_json(&ex[i]));
		cJSON_AddItemToObject(o, "jobs", jobs_json(jobs, jobs_nr));
		char *text = cJSON_Print(o);
		if (text)
			printf("%s\n", text);
		free(text);
		cJSON_Delete(o);
	} else {
		print_run(&r, ex, nr, jobs, jobs_nr);
	}
	prov_jobs_free(jobs, jobs_nr);
	prov_execs_free(ex, nr);
	prov_run_info_release(&r);
	strbuf_release(&err);
	return EXIT_OK;
}

/* ---- stages ---- */

struct paths {
	struct strbuf output, out_log, err_log;
};

static void fill_paths(const char *store_dir, const struct prov_exec_info *e, struct paths *ps)
{
	char *real = realpath(store_dir, NULL);
	struct store st;
	memset(&st, 0, sizeof(st)); /* only root is read by the path helpers */
	st.root = real ? real : (char *)store_dir;
	st.lock_fd = -1;
	strbuf_init(&ps->output, 0);
	strbuf_init(&ps->out_log, 0);
	strbuf_init(&ps->err_log, 0);
	if (e->output_digest)
		store_tree_dir_path(&st, e->output_digest, &ps->output);
	if (e->stdout_digest)
		store_object_path(&st, e->stdout_digest, &ps->out_log);
	if (e->stderr_digest)
		store_object_path(&st, e->stderr_digest, &ps->err_log);
	free(real);
}

static void release_paths(struct paths *ps)
{
	strbuf_release(&ps->output);
	strbuf_release(&ps->out_log);
	strbuf_release(&ps->err_log);
}

static void add_path(cJSON *o, const char *key, const struct strbuf *sb)
{
	prov_json_add_str(o, key, sb->len ? sb->buf : NULL);
}

static cJSON *metric_json(const struct prov_metric_info *m)
{
	cJSON *o = cJSON_CreateObject();
	prov_json_add_str(o, "metric", m->metric);
	cJSON_AddNumberToObject(o, "value", m->value);
	if (m->has_n)
		cJSON_AddNumberToObject(o, "n", (double)m->n);
	else
		cJSON_AddNullToObject(o, "n");
	if (m->has_ci_low)
		cJSON_AddNumberToObject(o, "ci_low", m->ci_low);
	else
		cJSON_AddNullToObject(o, "ci_low");
	if (m->has_ci_high)
		cJSON_AddNumberToObject(o, "ci_high", m->ci_high);
	else
		cJSON_AddNullToObject(o, "ci_high");
	prov_json_add_str(o, "evaluation", m->evaluation);
	prov_json_add_str(o, "model", m->model);
	prov_json_add_str(o, "variant", m->variant);
	return o;
}

static void add_json_text(cJSON *o, const char *key, const char *text)
{
	cJSON *v = text ? cJSON_Parse(text) : NULL;
	if (v)
		cJSON_AddItemToObject(o, key, v);
	else
		prov_json_add_str(o, key, text);
}

static cJSON *stage_json(const struct prov_exec_info *e, const struct prov_run_info *r,
			 long hits, int64_t latest_run, const struct paths *ps)
{
	cJSON *o = cJSON_CreateObject();
	prov_json_add_str(o, "stage", e->stage_id);
	cJSON_AddNumberToObject(o, "execution_id", (double)e->id);
	cJSON_AddNumberToObject(o, "run_id", (double)e->run_id);
	prov_json_add_str(o, "git_commit", r->git_commit);
	prov_json_add_str(o, "git_branch", r->git_branch);
	if (r->git_dirty < 0)
		cJSON_AddNullToObject(o, "git_dirty");
	else
		cJSON_AddBoolToObject(o, "git_dirty", r->git_dirty);
	prov_json_add_str(o, "kind", e->kind);
	prov_json_add_str(o, "model", e->model);
	prov_json_add_str(o, "variant", e->variant);
	prov_json_add_str(o, "evaluation", e->evaluation);
	prov_json_add_str(o, "status", e->status);
	prov_json_add_str(o, "reason", e->reason);
	prov_json_add_str(o, "cache_key", e->cache_key);
	if (e->source_id)
		cJSON_AddNumberToObject(o, "source_execution_id", (double)e->source_id);
	else
		cJSON_AddNullToObject(o, "source_execution_id");
	prov_json_add_str(o, "cache_record", e->cache_record);
	cJSON_AddNumberToObject(o, "later_cache_hits", (double)hits);
	cJSON_AddNumberToObject(o, "latest_run", (double)latest_run);
	add_json_text(o, "argv", e->argv_json);
	add_json_text(o, "env", e->env_json);
	cJSON *ins = cJSON_AddArrayToObject(o, "inputs");
	for (size_t i = 0; i < e->inputs_nr; i++) {
		cJSON *in = cJSON_CreateObject();
		prov_json_add_str(in, "name", e->inputs[i].name);
		prov_json_add_str(in, "stage", e->inputs[i].stage);
		prov_json_add_str(in, "digest", e->inputs[i].digest);
		prov_json_add_str(in, "source", e->inputs[i].source);
		cJSON_AddItemToArray(ins, in);
	}
	prov_json_add_str(o, "output_digest", e->output_digest);
	add_path(o, "output_path", &ps->output);
	if (e->output_digest) {
		cJSON_AddNumberToObject(o, "output_files", (double)e->output_files);
		cJSON_AddNumberToObject(o, "output_bytes", (double)e->output_bytes);
	} else {
		cJSON_AddNullToObject(o, "output_files");
		cJSON_AddNullToObject(o, "output_bytes");
	}
	if (e->has_exit) {
		cJSON_AddNumberToObject(o, "exit_code", e->exit_code);
		cJSON_AddNumberToObject(o, "term_signal", e->term_signal);
	} else {
		cJSON_AddNullToObject(o, "exit_code");
		cJSON_AddNullToObject(o, "term_signal");
	}
	cJSON_AddBoolToObject(o, "timed_out", e->timed_out);
	prov_json_add_time(o, "started", e->started);
	prov_json_add_time(o, "ended", e->ended);
	if (e->started > 0) {
		cJSON_AddNumberToObject(o, "wall_s", e->wall_s);
		if (e->cpu_s >= 0)
			cJSON_AddNumberToObject(o, "cpu_s", e->cpu_s);
		else
			cJSON_AddNullToObject(o, "cpu_s");
		if (e->peak_rss_kb >= 0)
			cJSON_AddNumberToObject(o, "peak_rss_kb", (double)e->peak_rss_kb);
		else
			cJSON_AddNullToObject(o, "peak_rss_kb");
	} else {
		cJSON_AddNullToObject(o, "wall_s");
		cJSON_AddNullToObject(o, "cpu_s");
		cJSON_AddNullToObject(o, "peak_rss_kb");
	}
	add_where_json(o, e);
	prov_json_add_str(o, "stdout_digest", e->stdout_digest);
	add_path(o, "stdout_path", &ps->out_log);
	prov_json_add_str(o, "stderr_digest", e->stderr_digest);
	add_path(o, "stderr_path", &ps->err_log);
	cJSON *ms = cJSON_AddArrayToObject(o, "metrics");
	for (size_t i = 0; i < e->metrics_nr; i++)
		cJSON_AddItemToArray(ms, metric_json(&e->metrics[i]));
	return o;
}

static void print_lines_of_json(const char *text, int object)
{
	cJSON *v = text ? cJSON_Parse(text) : NULL;
	if (!v || (object ? !cJSON_IsObject(v) : !cJSON_IsArray(v))) {
		printf("  %s\n", text ? text : "-");
		cJSON_Delete(v);
		return;
	}
	if (!v->child)
		printf("  (none)\n");
	for (const cJSON *c = v->child; c; c = c->next) {
		char *plain = cJSON_IsString(c) ? NULL : cJSON_PrintUnformatted(c);
		const char *s = cJSON_IsString(c) ? c->valuestring : plain ? plain : "?";
		if (object)
			printf("  %s=%s\n", c->string, s);
		else
			printf("  %s\n", s);
		free(plain);
	}
	cJSON_Delete(v);
}

/* The recorded argv: one argument a line; for a stage of several steps
 * (an array of argv arrays), each step's under a "step N" line. */
static void print_argv(const char *text)
{
	cJSON *v = text ? cJSON_Parse(text) : NULL;
	if (!cJSON_IsArray(v) || !cJSON_IsArray(v->child)) {
		cJSON_Delete(v);
		print_lines_of_json(text, 0);
		return;
	}
	int n = 0;
	for (const cJSON *step = v->child; step; step = step->next) {
		printf("  step %d\n", ++n);
		for (const cJSON *c = cJSON_IsArray(step) ? step->child : NULL; c; c = c->next) {
			char *plain = cJSON_IsString(c) ? NULL : cJSON_PrintUnformatted(c);
			printf("    %s\n", cJSON_IsString(c) ? c->valuestring : plain ? plain : "?");
			free(plain);
		}
	}
	cJSON_Delete(v);
}

static void print_metric_values(const struct prov_metric_info *m, int w)
{
	printf("  %-*s  %.6g", w, m->metric, m->value);
	if (m->has_n)
		printf("  n=%lld", m->n);
	if (m->has_ci_low && m->has_ci_high)
		printf("  95%% CI [%.3f, %.3f]", m->ci_low, m->ci_high);
	printf("\n");
}

static void print_stage(const struct prov_exec_info *e, const struct prov_run_info *r,
			long hits, int64_t latest_run, const struct paths *ps)
{
	char commit[64], t0[32], wall[32];
	commit_text(r->git_commit, r->git_dirty, commit);
	printf("stage        %s\n", e->stage_id);
	printf("kind         %s", or_dash(e->kind));
	if (e->evaluation)
		printf(", evaluation %s", e->evaluation);
	if (e->model)
		printf(", model %s", e->model);
	if (e->variant)
		printf(", variant %s", e->variant);
	printf("\n");
	printf("execution    %lld in run %lld (commit %s%s%s)\n", (long long)e->id,
	       (long long)e->run_id, commit, r->git_branch ? ", branch " : "",
	       r->git_branch ? r->git_branch : "");
	printf("status       %s%s%s", or_dash(e->status), e->reason ? ": " : "",
	       e->reason ? e->reason : "");
	if (e->source_id)
		printf(" (output of execution %lld; argv, env and inputs are its)",
		       (long long)e->source_id);
	printf("\n");
	printf("reuse        %ld later cache hit%s; latest run using it: %lld\n", hits,
	       hits == 1 ? "" : "s", (long long)latest_run);
	printf("cache key    %s\n", or_dash(e->cache_key));
	printf("argv\n");
	print_argv(e->argv_json);
	printf("env\n");
	print_lines_of_json(e->env_json, 1);
	printf("inputs\n");
	if (!e->inputs_nr)
		printf("  (none)\n");
	int w = 4, sw = 5;
	for (size_t i = 0; i < e->inputs_nr; i++) {
		if ((int)strlen(e->inputs[i].name) > w)
			w = (int)strlen(e->inputs[i].name);
		if ((int)strlen(e->inputs[i].stage) > sw)
			sw = (int)strlen(e->inputs[i].stage);
	}
	for (size_t i = 0; i < e->inputs_nr; i++) {
		printf("  %-*s  %-*s  %s", w, e->inputs[i].name, sw, e->inputs[i].stage,
		       e->inputs[i].digest);
		if (e->inputs[i].source)
			printf("  from %s", e->inputs[i].source);
		printf("\n");
	}
	if (e->output_digest) {
		printf("output       %s (%lld file%s, %lld bytes)\n", e->output_digest,
		       e->output_files, e->output_files == 1 ? "" : "s", e->output_bytes);
		printf("             %s\n", ps->output.buf);
	} else {
		printf("output       -\n");
	}
	if (e->has_exit)
		printf("exit         %d, signal %d, timed out %s\n", e->exit_code, e->term_signal,
		       e->timed_out ? "yes" : "no");
	else
		printf("exit         - (no process ran)\n");
	if (e->started > 0) {
		prov_format_time(e->started, t0);
		prov_format_duration(e->wall_s, wall);
		char cpu[32] = "-", rss[32] = "-"; /* unknown: not measured (docs/provenance.md) */
		if (e->cpu_s >= 0)
			snprintf(cpu, sizeof(cpu), "%.2fs", e->cpu_s);
		if (e->peak_rss_kb >= 0)
			snprintf(rss, sizeof(rss), "%lld KiB", e->peak_rss_kb);
		printf("time         started %s, wall %s, cpu %s, peak rss %s\n", t0, wall, cpu, rss);
	}
	if (e->job_id) {
		/* a cluster job: "slurm job 25 on node vm, partition debug, queued 3s" */
		char waited[32] = "-";
		if (e->queue_wait_s >= 0)
			prov_format_duration(e->queue_wait_s, waited);
		printf("job          %s job %s on node %s, partition %s, queued %s\n",
		       or_dash(e->executor), e->job_id, or_dash(e->host), or_dash(e->queue), waited);
	}
	if (e->stdout_digest)
		printf("stdout       %s\n             %s\n", e->stdout_digest, ps->out_log.buf);
	if (e->stderr_digest)
		printf("stderr       %s\n             %s\n", e->stderr_digest, ps->err_log.buf);
	printf("metrics\n");
	if (!e->metrics_nr)
		printf("  (none)\n");
	int mw = 6;
	for (size_t i = 0; i < e->metrics_nr; i++)
		if ((int)strlen(e->metrics[i].metric) > mw)
			mw = (int)strlen(e->metrics[i].metric);
	for (size_t i = 0; i < e->metrics_nr; i++)
		print_metric_values(&e->metrics[i], mw);
}

static int show_stage(struct prov *p, const char *store_dir, const char *stage, int json)
{
	struct strbuf err = STRBUF_INIT;
	struct prov_exec_info e;
	struct prov_run_info r;
	struct paths ps;
	long hits = 0;
	int64_t latest_run = 0;
	int ret = EXIT_FAILED;

	int found = prov_stage_latest(p, stage, &e, &err);
	if (found <= 0) {
		if (found == 0)
			cli_error("no execution of stage '%s' recorded", stage);
		else
			cli_error("%s", err.buf);
		strbuf_release(&err);
		return found == 0 ? EXIT_USAGE : EXIT_FAILED;
	}
	memset(&r, 0, sizeof(r));
	if (prov_stage_reuse(p, &e, &hits, &latest_run, &err) < 0 ||
	    prov_get_run(p, e.run_id, &r, &err) < 0) {
		cli_error("%s", err.buf);
		goto out;
	}
	fill_paths(store_dir, &e, &ps);
	if (json) {
		cJSON *o = stage_json(&e, &r, hits, latest_run, &ps);
		char *text = cJSON_Print(o);
		if (text)
			printf("%s\n", text);
		free(text);
		cJSON_Delete(o);
	} else {
		print_stage(&e, &r, hits, latest_run, &ps);
	}
	release_paths(&ps);
	ret = EXIT_OK;
out:
	prov_run_info_release(&r);
	prov_exec_info_release(&e);
	strbuf_release(&err);
	return ret;
}

/* ---- external inputs (input/NAME) ---- */

/* Where digest `hex` of an external input lives in the store: a tree
 * (a directory input) or an object (a file input); "" when in neither. */
static void external_path(const char *store_dir, const char *hex, struct strbuf *out)
{
	char *real = realpath(store_dir, NULL);
	struct store st;
	struct stat sb;
	memset(&st, 0, sizeof(st)); /* only root is read by the path helpers */
	st.root = real ? real : (char *)store_dir;
	st.lock_fd = -1;
	strbuf_reset(out);
	store_tree_manifest_path(&st, hex, out);
	if (stat(out->buf, &sb) == 0) {
		store_tree_dir_path(&st, hex, out);
	} else {
		store_object_path(&st, hex, out);
		if (stat(out->buf, &sb) != 0)
			strbuf_reset(out);
	}
	free(real);
}

/* `show input/NAME`: every content (digest) and original path recorded for
 * the external input, the most recently used first, with where it is in
 * the store and which executions used it. */
static int show_external(struct prov *p, const char *store_dir, const char *id, int json)
{
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT;
	struct prov_external_use *u = NULL;
	size_t nr = 0;
	if (prov_external_history(p, id, &u, &nr, &err) < 0) {
		cli_error("%s", err.buf);
		strbuf_release(&err);
		return EXIT_FAILED;
	}
	strbuf_release(&err);
	if (!nr) {
		cli_error("no execution recorded input '%s'", id);
		return EXIT_USAGE;
	}
	if (json) {
		cJSON *o = cJSON_CreateObject();
		prov_json_add_str(o, "input", id);
		cJSON *arr = cJSON_AddArrayToObject(o, "versions");
		for (size_t i = 0; i < nr; i++) {
			cJSON *v = cJSON_CreateObject();
			external_path(store_dir, u[i].digest, &path);
			prov_json_add_str(v, "digest", u[i].digest);
			prov_json_add_str(v, "source", u[i].source);
			prov_json_add_str(v, "store_path", path.len ? path.buf : NULL);
			cJSON_AddNumberToObject(v, "executions", (double)u[i].uses);
			cJSON_AddNumberToObject(v, "first_execution_id", (double)u[i].first_exec);
			cJSON_AddNumberToObject(v, "latest_execution_id", (double)u[i].last_exec);
			cJSON_AddNumberToObject(v, "latest_run", (double)u[i].last_run);
			cJSON_AddItemToArray(arr, v);
		}
		char *text = cJSON_Print(o);
		if (text)
			printf("%s\n", text);
		free(text);
		cJSON_Delete(o);
	} else {
		printf("input        %s (external: imported, not run)\n", id);
		for (size_t i = 0; i < nr; i++) {
			external_path(store_dir, u[i].digest, &path);
			if (i == 1)
				printf("\nearlier contents, newest first\n");
			printf("digest       %s\n", u[i].digest);
			printf("source       %s\n", or_dash(u[i].source));
			printf("in the store %s\n", path.len ? path.buf : "- (not in the store)");
			printf("used by      %ld execution%s (first %lld, latest %lld in run %lld)\n",
			       u[i].uses, u[i].uses == 1 ? "" : "s", (long long)u[i].first_exec,
			       (long long)u[i].last_exec, (long long)u[i].last_run);
		}
	}
	prov_external_history_free(u, nr);
	strbuf_release(&path);
	return EXIT_OK;
}

/* `show X --lineage` (lineage.c) */
static int show_lineage(struct prov *p, const char *what, int json)
{
	struct strbuf err = STRBUF_INIT;
	cJSON *tree = NULL;
	int found = lineage_build(p, what, &tree, &err);
	if (found <= 0) {
		cli_error("%s", err.buf);
		strbuf_release(&err);
		return found == 0 ? EXIT_USAGE : EXIT_FAILED;
	}
	cli_print_doc(tree, json, lineage_print);
	strbuf_release(&err);
	return EXIT_OK;
}

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "lineage", no_argument, NULL, 'L' },
		{ "why", no_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_opt = NULL;
	int json = 0, lineage = 0, why = 0, c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			store_opt = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'L':
			lineage = 1;
			break;
		case 'W':
			why = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			cli_error("unknown option or missing value: '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		if (argc - optind < 1)
			cli_error("show needs a run id or a stage id");
		else
			cli_error("unexpected argument '%s'", argv[optind + 1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *what = argv[optind];
	if (why && (lineage || all_digits(what))) {
		cli_error(lineage ? "--why and --lineage cannot be combined"
				  : "--why explains a stage: give a stage id, not a run id");
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *store_dir = store_dir_default(store_opt);
	struct strbuf err = STRBUF_INIT;
	struct prov *p = NULL;
	if (prov_open_store_readonly(store_dir, &p, &err) < 0) {
		cli_error("%s", err.buf);
		strbuf_release(&err);
		return EXIT_USAGE;
	}
	strbuf_release(&err);
	int ret;
	if (why)
		ret = why_command(p, what, json);
	else if (lineage)
		ret = show_lineage(p, what, json);
	else if (all_digits(what))
		ret = show_run(p, strtoll(what, NULL, 10), json);
	else if (!strncmp(what, "input/", 6))
		ret = show_external(p, store_dir, what, json);
	else
		ret = show_stage(p, store_dir, what, json);
	prov_close(p);
	return ret;
}
