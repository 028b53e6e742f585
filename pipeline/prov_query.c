/*
 * prov_query: the read side of the provenance database (runs, executions,
 * inputs, metrics, artifacts) for the read-side commands, lineage, rerun and
 * verify: every SQL query outside prov.c and chain.c. See prov_query.h; the
 * schema lives in prov.c and docs/provenance.md.
 */
#include "prov_query.h"
#include "chain.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

static char *col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? xstrdup((const char *)s) : NULL;
}

static int col_null(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL;
}

static int prepare(struct prov *p, const char *sql, sqlite3_stmt **st, struct strbuf *err)
{
	sqlite3 *db = prov_sqlite(p);
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		strbuf_addf(err, "cannot query provenance database '%s': %s", prov_path(p),
			    sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static int step_error(struct prov *p, sqlite3_stmt *st, struct strbuf *err)
{
	strbuf_addf(err, "cannot query provenance database '%s': %s", prov_path(p),
		    sqlite3_errmsg(prov_sqlite(p)));
	sqlite3_finalize(st);
	return -1;
}

int prov_open_store_readonly(const char *store_dir, struct prov **p, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	struct stat sb;
	int ret;
	strbuf_addf(&path, "%s/provenance.db", store_dir);
	if (stat(path.buf, &sb) < 0 && errno == ENOENT) {
		*p = NULL;
		strbuf_addf(err, "no provenance database at '%s' (has a study been run with this"
			    " store?)", path.buf);
		ret = -1;
	} else {
		ret = prov_open_readonly(p, path.buf, err);
	}
	strbuf_release(&path);
	return ret;
}

void prov_format_time(double t, char out[32])
{
	struct tm tm;
	time_t secs = (time_t)t;
	if (t <= 0 || !gmtime_r(&secs, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "-");
}

void prov_format_duration(double s, char out[32])
{
	if (s < 0)
		s = 0;
	if (s < 60) {
		snprintf(out, 32, "%.1fs", s);
	} else if (s < 3600) {
		long t = (long)(s + 0.5);
		snprintf(out, 32, "%ldm%02lds", t / 60, t % 60);
	} else {
		long t = (long)(s / 60 + 0.5);
		snprintf(out, 32, "%ldh%02ldm", t / 60, t % 60);
	}
}

/* ---- runs ---- */

#define RUN_COLUMNS                                                                         \
	"id, study_name, study_path, study_digest, git_commit, git_branch, git_dirty,"      \
	" tool_version, host, user, argv_json, cwd, started, ended, status, ran, cached,"   \
	" failed, skipped,"                                                                  \
	" (SELECT count(*) FROM executions x WHERE x.run_id = runs.id"                      \
	"  AND x.status = 'interrupted'),"                                                  \
	" (SELECT count(*) FROM executions x WHERE x.run_id = runs.id"                      \
	"  AND x.status = 'not-started')"

static void read_run(sqlite3_stmt *st, struct prov_run_info *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->study_name = col_str(st, 1);
	r->study_path = col_str(st, 2);
	r->study_digest = col_str(st, 3);
	r->git_commit = col_str(st, 4);
	r->git_branch = col_str(st, 5);
	r->git_dirty = col_null(st, 6) ? -1 : sqlite3_column_int(st, 6);
	r->tool_version = col_str(st, 7);
	r->host = col_str(st, 8);
	r->user = col_str(st, 9);
	r->argv_json = col_str(st, 10);
	r->cwd = col_str(st, 11);
	r->started = sqlite3_column_double(st, 12);
	r->ended = col_null(st, 13) ? 0 : sqlite3_column_double(st, 13);
	r->status = col_str(st, 14);
	r->ran = sqlite3_column_int(st, 15);
	r->cached = sqlite3_column_int(st, 16);
	r->failed = sqlite3_column_int(st, 17);
	r->skipped = sqlite3_column_int(st, 18);
	r->interrupted = sqlite3_column_int(st, 19);
	r->not_started = sqlite3_column_int(st, 20);
}

int prov_list_runs(struct prov *p, long limit, struct prov_run_info **runs, size_t *nr,
		   struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	size_t alloc = 0;
	int rc;

	*runs = NULL;
	*nr = 0;
	if (prepare(p, "SELECT " RUN_COLUMNS " FROM runs ORDER BY id DESC LIMIT ?", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		XGROW(*runs, alloc, *nr + 1);
		read_run(st, &(*runs)[(*nr)++]);
	}
	if (rc != SQLITE_DONE) {
		prov_runs_free(*runs, *nr);
		*runs = NULL;
		*nr = 0;
		return step_error(p, st, err);
	}
	sqlite3_finalize(st);
	return 0;
}

int prov_get_run(struct prov *p, int64_t id, struct prov_run_info *r, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	memset(r, 0, sizeof(*r));
	if (prepare(p, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_run(st, r);
	else if (rc != SQLITE_DONE)
		return step_error(p, st, err);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW;
}

void prov_run_info_release(struct prov_run_info *r)
{
	free(r->study_name);
	free(r->study_path);
	free(r->study_digest);
	free(r->git_commit);
	free(r->git_branch);
	free(r->tool_version);
	free(r->host);
	free(r->user);
	free(r->argv_json);
	free(r->cwd);
	free(r->status);
	memset(r, 0, sizeof(*r));
}

void prov_runs_free(struct prov_run_info *runs, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		prov_run_info_release(&runs[i]);
	free(runs);
}

void prov_json_add_str(cJSON *o, const char *key, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

void prov_json_add_time(cJSON *o, const char *key, double t)
{
	char buf[32];
	if (t <= 0) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	prov_format_time(t, buf);
	cJSON_AddStringToObject(o, key, buf);
}

cJSON *prov_run_to_json(const struct prov_run_info *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)r->id);
	prov_json_add_str(o, "study", r->study_name);
	prov_json_add_str(o, "study_path", r->study_path);
	prov_json_add_str(o, "study_digest", r->study_digest);
	prov_json_add_str(o, "git_commit", r->git_commit);
	prov_json_add_str(o, "git_branch", r->git_branch);
	if (r->git_dirty < 0)
		cJSON_AddNullToObject(o, "git_dirty");
	else
		cJSON_AddBoolToObject(o, "git_dirty", r->git_dirty);
	prov_json_add_str(o, "status", r->status);
	cJSON_AddNumberToObject(o, "ran", r->ran);
	cJSON_AddNumberToObject(o, "cached", r->cached);
	cJSON_AddNumberToObject(o, "failed", r->failed);
	cJSON_AddNumberToObject(o, "interrupted", r->interrupted);
	cJSON_AddNumberToObject(o, "skipped", r->skipped);
	cJSON_AddNumberToObject(o, "not_started", r->not_started);
	prov_json_add_time(o, "started", r->started);
	prov_json_add_time(o, "ended", r->ended);
	if (r->ended > 0)
		cJSON_AddNumberToObject(o, "duration_s", r->ended - r->started);
	else
		cJSON_AddNullToObject(o, "duration_s");
	prov_json_add_str(o, "tool_version", r->tool_version);
	prov_json_add_str(o, "host", r->host);
	prov_json_add_str(o, "user", r->user);
	prov_json_add_str(o, "cwd", r->cwd);
	cJSON *argv = r->argv_json ? cJSON_Parse(r->argv_json) : NULL;
	if (argv)
		cJSON_AddItemToObject(o, "argv", argv);
	else
		prov_json_add_str(o, "argv", r->argv_json);
	return o;
}

/* ---- executions ---- */

#define EXEC_COLUMNS                                                                        \
	"id, run_id, stage_id, kind, model, variant, evaluation, cache_key, status, reason,"  \
	" argv_json, env_json, cache_record, output_digest, output_files, output_bytes,"     \
	" exit_code, term_signal, timed_out, started, ended, wall_s, cpu_s, peak_rss_kb,"    \
	" stdout_digest, stderr_digest, executor, job_id, host, queue, queue_wait_s"

static void read_exec(sqlite3_stmt *st, struct prov_exec_info *e)
{
	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(st, 0);
	e->run_id = sqlite3_column_int64(st, 1);
	e->stage_id = col_str(st, 2);
	e->kind = col_str(st, 3);
	e->model = col_str(st, 4);
	e->variant = col_str(st, 5);
	e->evaluation = col_str(st, 6);
	e->cache_key = col_str(st, 7);
	e->status = col_str(st, 8);
	e->reason = col_str(st, 9);
	e->argv_json = col_str(st, 10);
	e->env_json = col_str(st, 11);
	e->cache_record = col_str(st, 12);
	e->output_digest = col_str(st, 13);
	e->output_files = sqlite3_column_int64(st, 14);
	e->output_bytes = sqlite3_column_int64(st, 15);
	e->has_exit = !col_null(st, 16);
	e->exit_code = sqlite3_column_int(st, 16);
	e->term_signal = sqlite3_column_int(st, 17);
	e->timed_out = sqlite3_column_int(st, 18);
	e->started = sqlite3_column_double(st, 19);
	e->ended = sqlite3_column_double(st, 20);
	e->wall_s = sqlite3_column_double(st, 21);
	/* unknown usage (NULL) reads -1, not 0: a stage that ran was not free */
	e->cpu_s = sqlite3_column_type(st, 22) == SQLITE_NULL ? -1 : sqlite3_column_double(st, 22);
	e->peak_rss_kb = sqlite3_column_type(st, 23) == SQLITE_NULL ? -1
									: sqlite3_column_int64(st, 23);
	e->stdout_digest = col_str(st, 24);
	e->stderr_digest = col_str(st, 25);
	e->executor = col_str(st, 26);
	e->job_id = col_str(st, 27);
	e->host = col_str(st, 28);
	e->queue = col_str(st, 29);
	e->queue_wait_s = col_null(st, 30) ? -1 : sqlite3_column_double(st, 30);
}

int prov_run_execs(struct prov *p, int64_t run_id, struct prov_exec_info **execs, size_t *nr,
		   struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	size_t alloc = 0;
	int rc;

	*execs = NULL;
	*nr = 0;
	if (prepare(p, "SELECT " EXEC_COLUMNS " FROM executions WHERE run_id = ? ORDER BY id", &st,
		    err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, run_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		XGROW(*execs, alloc, *nr + 1);
		read_exec(st, &(*execs)[(*nr)++]);
	}
	if (rc != SQLITE_DONE) {
		prov_execs_free(*execs, *nr);
		*execs = NULL;
		*nr = 0;
		return step_error(p, st, err);
	}
	sqlite3_finalize(st);
	return 0;
}

int prov_run_jobs(struct prov *p, int64_t run_id, struct prov_job_info **jobs, size_t *nr,
		  struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	size_t alloc = 0;
	int rc;

	*jobs = NULL;
	*nr = 0;
	if (prepare(p, "SELECT j.stage_id, j.job_id, j.executor, j.submitted,"
		       " EXISTS (SELECT 1 FROM executions e WHERE e.run_id = j.run_id"
		       " AND e.job_id = j.job_id AND e.stage_id = j.stage_id)"
		       " FROM jobs j WHERE j.run_id = ? ORDER BY j.rowid", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, run_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		XGROW(*jobs, alloc, *nr + 1);
		struct prov_job_info *j = &(*jobs)[(*nr)++];
		j->stage_id = col_str(st, 0);
		j->job_id = col_str(st, 1);
		j->executor = col_str(st, 2);
		j->submitted = sqlite3_column_double(st, 3);
		j->ended = sqlite3_column_int(st, 4);
	}
	if (rc != SQLITE_DONE) {
		prov_jobs_free(*jobs, *nr);
		*jobs = NULL;
		*nr = 0;
		return step_error(p, st, err);
	}
	sqlite3_finalize(st);
	return 0;
}

void prov_jobs_free(struct prov_job_info *jobs, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(jobs[i].stage_id);
		free(jobs[i].job_id);
		free(jobs[i].executor);
	}
	free(jobs);
}

/* The ten METRIC_COLUMNS starting at column c0 into m (the rest of m zeroed). */
static void read_metric_cols(sqlite3_stmt *st, int c0, struct prov_metric_info *m)
{
	memset(m, 0, sizeof(*m));
	m->execution_id = sqlite3_column_int64(st, c0);
	m->stage_id = col_str(st, c0 + 1);
	m->evaluation = col_str(st, c0 + 2);
	m->model = col_str(st, c0 + 3);
	m->variant = col_str(st, c0 + 4);
	m->metric = col_str(st, c0 + 5);
	m->value = sqlite3_column_double(st, c0 + 6);
	m->has_n = !col_null(st, c0 + 7);
	m->n = sqlite3_column_int64(st, c0 + 7);
	m->has_ci_low = !col_null(st, c0 + 8);
	m->ci_low = sqlite3_column_double(st, c0 + 8);
	m->has_ci_high = !col_null(st, c0 + 9);
	m->ci_high = sqlite3_column_double(st, c0 + 9);
}

static void read_metric_row(sqlite3_stmt *st, struct prov_metric_info *m)
{
	read_metric_cols(st, 0, m);
}

#define METRIC_COLUMNS                                                                      \
	"m.execution_id, m.stage_id, m.evaluation, m.model, m.variant, m.metric, m.value,"   \
	" m.n, m.ci_low, m.ci_high"

static int load_metrics(struct prov *p, sqlite3_stmt *st, struct prov_metric_info **rows,
			size_t *nr, struct strbuf *err)
{
	size_t alloc = 0;
	int rc;
	*rows = NULL;
	*nr = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		XGROW(*rows, alloc, *nr + 1);
		read_metric_row(st, &(*rows)[(*nr)++]);
	}
	if (rc != SQLITE_DONE) {
		prov_metrics_free(*rows, *nr);
		*rows = NULL;
		*nr = 0;
		return step_error(p, st, err);
	}
	sqlite3_finalize(st);
	return 0;
}

/* The inputs recorded for execution `id`, into e. */
static int load_inputs(struct prov *p, int64_t id, struct prov_exec_info *e, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	size_t alloc = 0;
	int rc;
	if (prepare(p, "SELECT name, stage_id, digest, source FROM inputs WHERE execution_id = ?"
		       " ORDER BY rowid", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		XGROW(e->inputs, alloc, e->inputs_nr + 1);
		struct prov_input_info *in = &e->inputs[e->inputs_nr++];
		in->name = col_str(st, 0);
		in->stage = col_str(st, 1);
		in->digest = col_str(st, 2);
		in->source = col_str(st, 3);
	}
	if (rc != SQLITE_DONE)
		return step_error(p, st, err);
	sqlite3_finalize(st);
	return 0;
}

/* Step a statement selecting EXEC_COLUMNS into e (finalizing it): 1 row
 * read, 0 none, -1 error. */
static int read_one_exec(struct prov *p, sqlite3_stmt *st, struct prov_exec_info *e,
			 struct strbuf *err)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return 0;
	}
	if (rc != SQLITE_ROW)
		return step_error(p, st, err);
	read_exec(st, e);
	sqlite3_finalize(st);
	return 1;
}

/* A cache hit recorded as a reference (prov.h): take argv, env and cache
 * record from the execution that ran with the same key and produced the same
 * output; its id goes to e->source_id (0 when that is not recorded). */
static int resolve_hit(struct prov *p, struct prov_exec_info *e, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	if (!e->status || strcmp(e->status, "cached") || e->argv_json || !e->cache_key ||
	    !e->output_digest)
		return 0;
	if (prepare(p, "SELECT id, argv_json, env_json, cache_record, output_files,"
		       " output_bytes FROM executions"
		       " WHERE cache_key = ?1 AND status = 'ran' AND output_digest = ?2"
		       " AND id < ?3 ORDER BY id DESC LIMIT 1", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, e->cache_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->output_digest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, e->id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		e->source_id = sqlite3_column_int64(st, 0);
		e->argv_json = col_str(st, 1);
		e->env_json = col_str(st, 2);
		e->cache_record = col_str(st, 3);
		e->output_files = sqlite3_column_int64(st, 4);
		e->output_bytes = sqlite3_column_int64(st, 5);
	} else if (rc != SQLITE_DONE) {
		return step_error(p, st, err);
	}
	sqlite3_finalize(st);
	return 0;
}

/* Complete e with its inputs (a resolved hit's are its source's) and metrics. */
static int load_details(struct prov *p, struct prov_exec_info *e, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	if (resolve_hit(p, e, err) < 0 ||
	    load_inputs(p, e->source_id ? e->source_id : e->id, e, err) < 0)
		return -1;
	if (prepare(p, "SELECT " METRIC_COLUMNS " FROM metrics m WHERE m.execution_id = ?"
		       " ORDER BY m.rowid", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, e->id);
	return load_metrics(p, st, &e->metrics, &e->metrics_nr, err);
}

int prov_stage_latest(struct prov *p, const char *stage_id, struct prov_exec_info *e,
		      struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	memset(e, 0, sizeof(*e));
	/* through the stage index (which leaves cache hits out), then the hits */
	if (prepare(p, "SELECT " EXEC_COLUMNS " FROM executions WHERE stage_id = ?1"
		       " AND status <> 'cached' ORDER BY status IN ('ran', 'failed') DESC,"
		       " id DESC LIMIT 1", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, stage_id, -1, SQLITE_STATIC);
	int f = read_one_exec(p, st, e, err);
	if (f == 0) {
		if (prepare(p, "SELECT " EXEC_COLUMNS " FROM executions WHERE stage_id = ?1"
			       " ORDER BY id DESC LIMIT 1", &st, err) < 0)
			return -1;
		sqlite3_bind_text(st, 1, stage_id, -1, SQLITE_STATIC);
		f = read_one_exec(p, st, e, err);
	}
	if (f <= 0)
		return f;
	if (load_details(p, e, err) < 0) {
		prov_exec_info_release(e);
		return -1;
	}
	return 1;
}

int prov_get_exec(struct prov *p, int64_t id, struct prov_exec_info *e, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	memset(e, 0, sizeof(*e));
	if (prepare(p, "SELECT " EXEC_COLUMNS " FROM executions WHERE id = ?1", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int f = read_one_exec(p, st, e, err);
	if (f <= 0)
		return f;
	if (load_details(p, e, err) < 0) {
		prov_exec_info_release(e);
		return -1;
	}
	return 1;
}

int prov_stage_reuse(struct prov *p, const struct prov_exec_info *e, long *hits,
		     int64_t *latest_run, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	*hits = 0;
	*latest_run = e->run_id;
	if (!e->cache_key)
		return 0;
	if (prepare(p, "SELECT count(*), max(run_id) FROM executions WHERE stage_id = ?1"
		       " AND cache_key = ?2 AND status = 'cached' AND id > ?3", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, e->stage_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->cache_key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, e->id);
	if (sqlite3_step(st) != SQLITE_ROW)
		return step_error(p, st, err);
	*hits = (long)sqlite3_column_int64(st, 0);
	if (!col_null(st, 1) && sqlite3_column_int64(st, 1) > *latest_run)
		*latest_run = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	return 0;
}

void prov_exec_info_release(struct prov_exec_info *e)
{
	free(e->stage_id);
	free(e->kind);
	free(e->model);
	free(e->variant);
	free(e->evaluation);
	free(e->cache_key);
	free(e->status);
	free(e->reason);
	free(e->argv_json);
	free(e->env_json);
	free(e->cache_record);
	free(e->output_digest);
	free(e->stdout_digest);
	free(e->stderr_digest);
	free(e->executor);
	free(e->job_id);
	free(e->host);
	free(e->queue);
	for (size_t i = 0; i < e->inputs_nr; i++) {
		free(e->inputs[i].name);
		free(e->inputs[i].stage);
		free(e->inputs[i].digest);
		free(e->inputs[i].source);
	}
	free(e->inputs);
	prov_metrics_free(e->metrics, e->metrics_nr);
	memset(e, 0, sizeof(*e));
}

void prov_execs_free(struct prov_exec_info *execs, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		prov_exec_info_release(&execs[i]);
	free(execs);
}

/* ---- results ---- */

#define RESULTS_ORDER_KEYS                                                                  \
	" ORDER BY coalesce(m.evaluation, ''), coalesce(m.model, ''),"                       \
	" coalesce(m.variant, '') <> 'base', coalesce(m.variant, ''), m.metric"
#define RESULTS_ORDER RESULTS_ORDER_KEYS ", m.rowid"

/* The metrics behind the outputs runs ?1 and ?2 used (the same run twice for
 * one): `src` holds, per run and stage that ran or was a cache hit, the
 * execution whose metrics describe its output: itself, or (a hit) the latest
 * execution of the stage that ran, produced the same output and recorded
 * metrics. */
#define RUN_SOURCES                                                                         \
	"used AS (SELECT id, run_id, stage_id, output_digest FROM executions"                \
	"         WHERE run_id IN (?1, ?2) AND status IN ('ran', 'cached')),"                \
	" src AS (SELECT u.run_id, u.stage_id, max(x.id) AS eid FROM used u"                  \
	"         JOIN executions x ON x.stage_id = u.stage_id AND x.status <> 'cached'"     \
	"          AND (x.id = u.id OR (x.status = 'ran' AND x.output_digest = u.output_digest))" \
	"         WHERE EXISTS (SELECT 1 FROM metrics mm WHERE mm.execution_id = x.id)"      \
	"         GROUP BY u.run_id, u.stage_id)"

/* The extra columns of the table over all runs: the run behind the metrics,
 * and whether they are stale (see prov_query.h) with the latest execution. */
static void read_staleness(sqlite3_stmt *st, struct prov_metric_info *m)
{
	m->run_id = sqlite3_column_int64(st, 10);
	m->stale = sqlite3_column_int(st, 11);
	if (!m->stale)
		return;
	m->latest_exec = sqlite3_column_int64(st, 12);
	m->latest_run = sqlite3_column_int64(st, 13);
	m->latest_status = col_str(st, 14);
	m->latest_reason = col_str(st, 15);
}

/* The latest execution of stage `stage` (an SQL expression), any status:
 * cache hits are not in the stage index, so only the rows after the stage's
 * latest other execution are looked at, newest first (SQLite reads max(id)
 * over a rowid range backwards and stops at the first match, within the
 * latest run that has the stage). */
#define LAST_EXEC(stage)                                                                    \
	"SELECT max(x.id) FROM executions x WHERE x.stage_id = " stage " AND x.id >= coalesce(" \
	" (SELECT max(y.id) FROM executions y WHERE y.stage_id = " stage                     \
	"  AND y.status <> 'cached'), 0)"

int prov_results(struct prov *p, int64_t run_id, struct prov_metric_info **rows, size_t *nr,
		 struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	/* Over all runs: per stage, the latest execution of any status (`lat`);
	 * when it ran or was a cache hit, the metrics of its output (`cur`,
	 * found as RUN_SOURCES finds them); otherwise, or when that output
	 * recorded none, the latest metrics of the stage, marked stale. */
	const char *all =
		"WITH ms AS (SELECT stage_id, max(execution_id) AS meid FROM metrics"
		"            GROUP BY stage_id),"
		" lat AS (SELECT ms.stage_id, (" LAST_EXEC("ms.stage_id") ") AS lid FROM ms),"
		" cur AS (SELECT l.stage_id, l.id AS lid, l.run_id AS lrun, l.status AS lstatus,"
		"          l.reason AS lreason,"
		"          CASE WHEN l.status IN ('ran', 'cached') THEN"
		"           (SELECT max(x.id) FROM executions x WHERE x.stage_id = l.stage_id"
		"            AND x.status <> 'cached' AND x.status = 'ran' AND x.id <= l.id"
		"            AND x.output_digest = l.output_digest"
		"            AND EXISTS (SELECT 1 FROM metrics mm WHERE mm.execution_id = x.id))"
		"          END AS ceid"
		"         FROM lat JOIN executions l ON l.id = lat.lid),"
		" src AS (SELECT ms.stage_id, coalesce(cur.ceid, ms.meid) AS eid,"
		"          cur.ceid IS NULL AS stale, cur.lid, cur.lrun, cur.lstatus, cur.lreason"
		"         FROM ms LEFT JOIN cur ON cur.stage_id = ms.stage_id)"
		" SELECT " METRIC_COLUMNS ", e.run_id, src.stale, src.lid, src.lrun, src.lstatus,"
		" src.lreason FROM metrics m JOIN src ON m.execution_id = src.eid"
		" JOIN executions e ON e.id = m.execution_id"
		RESULTS_ORDER;
	const char *one_run =
		"WITH " RUN_SOURCES
		" SELECT " METRIC_COLUMNS ", e.run_id, 0, NULL, NULL, NULL, NULL"
		" FROM metrics m JOIN src ON m.execution_id = src.eid"
		" JOIN executions e ON e.id = m.execution_id"
		RESULTS_ORDER;
	size_t alloc = 0;
	int rc;

	*rows = NULL;
	*nr = 0;
	if (prepare(p, run_id > 0 ? one_run : all, &st, err) < 0)
		return -1;
	if (run_id > 0) {
		sqlite3_bind_int64(st, 1, run_id);
		sqlite3_bind_int64(st, 2, run_id);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		XGROW(*rows, alloc, *nr + 1);
		read_metric_row(st, &(*rows)[*nr]);
		read_staleness(st, &(*rows)[(*nr)++]);
	}
	if (rc != SQLITE_DONE) {
		prov_metrics_free(*rows, *nr);
		*rows = NULL;
		*nr = 0;
		return step_error(p, st, err);
	}
	sqlite3_finalize(st);
	return 0;
}

int prov_results_compare(struct prov *p, int64_t run_a, int64_t run_b,
			 struct prov_metric_pair **pairs, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	/* both runs' metrics (`r`), paired by stage and metric */
#define SIDE(x)                                                                             \
	" " x ".execution_id AS " x "0, " x ".stage_id AS " x "1, " x ".evaluation AS " x "2,"  \
	" " x ".model AS " x "3, " x ".variant AS " x "4, " x ".metric AS " x "5,"              \
	" " x ".value AS " x "6, " x ".n AS " x "7, " x ".ci_low AS " x "8,"                    \
	" " x ".ci_high AS " x "9,"
	const char *sql =
		"WITH " RUN_SOURCES ","
		" r AS (SELECT src.run_id AS run, m.* FROM metrics m"
		"       JOIN src ON m.execution_id = src.eid),"
		" k AS (SELECT DISTINCT stage_id, metric FROM r)"
		" SELECT * FROM (SELECT" SIDE("a") SIDE("b")
		"  coalesce(a.evaluation, b.evaluation) AS evaluation,"
		"  coalesce(a.model, b.model) AS model, coalesce(a.variant, b.variant) AS variant,"
		"  k.metric AS metric, k.stage_id AS stage_id"
		"  FROM k LEFT JOIN r a ON a.run = ?1 AND a.stage_id = k.stage_id"
		"   AND a.metric = k.metric"
		"  LEFT JOIN r b ON b.run = ?2 AND b.stage_id = k.stage_id AND b.metric = k.metric) m"
		RESULTS_ORDER_KEYS ", m.stage_id";
#undef SIDE
	size_t alloc = 0;
	int rc;

	*pairs = NULL;
	*nr = 0;
	if (prepare(p, sql, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, run_a);
	sqlite3_bind_int64(st, 2, run_b);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		XGROW(*pairs, alloc, *nr + 1);
		struct prov_metric_pair *q = &(*pairs)[(*nr)++];
		memset(q, 0, sizeof(*q));
		q->has_a = !col_null(st, 0);
		q->has_b = !col_null(st, 10);
		read_metric_cols(st, q->has_a ? 0 : 10, &q->a);
		read_metric_cols(st, q->has_b ? 10 : 0, &q->b);
	}
	if (rc != SQLITE_DONE) {
		prov_metric_pairs_free(*pairs, *nr);
		*pairs = NULL;
		*nr = 0;
		return step_error(p, st, err);
	}
	sqlite3_finalize(st);
	return 0;
}

void prov_metric_pairs_free(struct prov_metric_pair *pairs, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		prov_metrics_free_one(&pairs[i].a);
		prov_metrics_free_one(&pairs[i].b);
	}
	free(pairs);
}

void prov_metrics_free_one(struct prov_metric_info *m)
{
	free(m->stage_id);
	free(m->evaluation);
	free(m->model);
	free(m->variant);
	free(m->metric);
	free(m->latest_status);
	free(m->latest_reason);
	memset(m, 0, sizeof(*m));
}

void prov_metrics_free(struct prov_metric_info *rows, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		prov_metrics_free_one(&rows[i]);
	free(rows);
}

/* ---- id lookups (lineage.c, provjson.c) ---- */

/* A single-integer query with up to two text parameters; *out = 0 when no
 * row or NULL. */
static int lookup_int(struct prov *p, const char *sql, const char *a, const char *b,
		      int64_t *out, struct strbuf *err)
{
	sqlite3 *db = prov_sqlite(p);
	sqlite3_stmt *st = NULL;
	*out = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		strbuf_addf(err, "cannot read provenance: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*out = sqlite3_column_int64(st, 0);
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		strbuf_addf(err, "cannot read provenance: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int prov_producer_id(struct prov *p, const char *stage, const char *digest, int any_stage,
		     int64_t *id, struct strbuf *err)
{
	/* status <> 'cached' repeats the partial stage index's WHERE term */
	if (lookup_int(p,
		       "SELECT max(id) FROM executions WHERE stage_id = ?1 AND status <> 'cached'"
		       " AND status = 'ran' AND output_digest = ?2",
		       stage, digest, id, err) < 0)
		return -1;
	if (*id || !any_stage)
		return 0;
	return lookup_int(p,
			  "SELECT max(id) FROM executions WHERE ?1 IS NOT NULL AND status = 'ran'"
			  " AND output_digest = ?2",
			  stage, digest, id, err);
}

int prov_stage_recorded(struct prov *p, const char *stage, int *found, struct strbuf *err)
{
	int64_t one = 0;
	/* through the stage index first; cache hits (not indexed) only if need be */
	int rc = lookup_int(p,
			    "SELECT 1 FROM executions WHERE stage_id = ?1 AND status <> 'cached'"
			    " UNION ALL SELECT 1 FROM executions WHERE stage_id = ?1 LIMIT 1",
			    stage, NULL, &one, err);
	*found = one != 0;
	return rc;
}

int prov_metric_stages(struct prov *p, const char *metric, long long *nstages,
		       int64_t *latest_exec, struct strbuf *err)
{
	int64_t n = 0;
	*latest_exec = 0;
	if (lookup_int(p, "SELECT count(DISTINCT stage_id) FROM metrics WHERE metric = ?1", metric,
		       NULL, &n, err) < 0)
		return -1;
	*nstages = n;
	if (!n)
		return 0;
	return lookup_int(p, "SELECT max(execution_id) FROM metrics WHERE metric = ?1", metric,
			  NULL, latest_exec, err);
}

int prov_metric_exec_id(struct prov *p, const char *stage, const char *metric, int64_t *id,
			struct strbuf *err)
{
	return lookup_int(p,
			  "SELECT max(execution_id) FROM metrics WHERE stage_id = ?1 AND metric = ?2",
			  stage, metric, id, err);
}

int prov_external_history(struct prov *p, const char *id, struct prov_external_use **rows,
			  size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	size_t alloc = 0;
	int rc;
	*rows = NULL;
	*nr = 0;
	if (prepare(p, "SELECT i.digest, i.source, count(*), min(i.execution_id),"
		       " max(i.execution_id), max(e.run_id)"
		       " FROM inputs i JOIN executions e ON e.id = i.execution_id"
		       " WHERE i.stage_id = ?1 GROUP BY i.digest, i.source"
		       " ORDER BY max(i.execution_id) DESC", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		XGROW(*rows, alloc, *nr + 1);
		struct prov_external_use *u = &(*rows)[(*nr)++];
		u->digest = col_str(st, 0);
		u->source = col_str(st, 1);
		u->uses = (long)sqlite3_column_int64(st, 2);
		u->first_exec = sqlite3_column_int64(st, 3);
		u->last_exec = sqlite3_column_int64(st, 4);
		u->last_run = sqlite3_column_int64(st, 5);
	}
	if (rc != SQLITE_DONE) {
		prov_external_history_free(*rows, *nr);
		*rows = NULL;
		*nr = 0;
		return step_error(p, st, err);
	}
	sqlite3_finalize(st);
	return 0;
}

void prov_external_history_free(struct prov_external_use *rows, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(rows[i].digest);
		free(rows[i].source);
	}
	free(rows);
}

int prov_stage_latest_id(struct prov *p, const char *stage, int64_t *id, struct strbuf *err)
{
	if (lookup_int(p,
		       "SELECT id FROM executions WHERE stage_id = ?1 AND status <> 'cached'"
		       " ORDER BY status IN ('ran', 'failed') DESC, id DESC LIMIT 1",
		       stage, NULL, id, err) < 0)
		return -1;
	if (*id) /* else only cache hits recorded */
		return 0;
	return lookup_int(p, "SELECT max(id) FROM executions WHERE stage_id = ?1", stage, NULL, id,
			  err);
}

/* ---- `study why` ---- */

/* lookup_int with ?1 text, ?2 an id, ?3 text (when b is not NULL). */
static int lookup_int_at(struct prov *p, const char *sql, const char *a, int64_t n,
			 const char *b, int64_t *out, struct strbuf *err)
{
	sqlite3 *db = prov_sqlite(p);
	sqlite3_stmt *st = NULL;
	*out = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		strbuf_addf(err, "cannot read provenance: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, n);
	if (b)
		sqlite3_bind_text(st, 3, b, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*out = sqlite3_column_int64(st, 0);
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		strbuf_addf(err, "cannot read provenance: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int prov_stage_last_id(struct prov *p, const char *stage, int64_t *id, struct strbuf *err)
{
	return lookup_int(p, LAST_EXEC("?1"), stage, NULL, id, err);
}

int prov_stage_previous_id(struct prov *p, const char *stage, int64_t before, int64_t *id,
			   struct strbuf *err)
{
	return lookup_int_at(p,
			     "SELECT max(id) FROM executions WHERE stage_id = ?1 AND id < ?2"
			     " AND status IN ('ran', 'cached', 'failed', 'interrupted')"
			     " AND id >= coalesce((SELECT max(id) FROM executions WHERE stage_id = ?1"
			     "  AND status <> 'cached' AND id < ?2"
			     "  AND status IN ('ran', 'failed', 'interrupted')), 0)",
			     stage, before, NULL, id, err);
}

int prov_producer_run(struct prov *p, const char *stage, const char *digest, int64_t before,
		      int64_t *run, struct strbuf *err)
{
	/* status <> 'cached' repeats the partial stage index's WHERE term */
	return lookup_int_at(p,
			     "SELECT run_id FROM executions WHERE stage_id = ?1 AND status <> 'cached'"
			     " AND status = 'ran' AND output_digest = ?3 AND id <= ?2"
			     " ORDER BY id DESC LIMIT 1",
			     stage, before, digest, run, err);
}

/* ---- run references ---- */

/* A whole decimal number without sign: 0, or -1 (empty, other characters,
 * overflow). */
static int parse_number(const char *s, long long *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno || *end ? -1 : 0;
}

int prov_resolve_run(struct prov *p, const char *ref, int64_t *id, struct strbuf *err)
{
	long long n = 0;
	*id = 0;
	if (!strncmp(ref, "latest", 6) && (!ref[6] || ref[6] == '~')) {
		if (ref[6] && parse_number(ref + 7, &n) < 0)
			goto malformed;
		if (lookup_int_at(p, "SELECT id FROM runs"
				     " ORDER BY id DESC LIMIT 1 OFFSET ?2",
				  ref, (int64_t)n, NULL, id, err) < 0)
			return -1;
		if (*id)
			return 1;
		int64_t count = 0;
		if (lookup_int(p, "SELECT count(*) FROM runs", NULL, NULL, &count, err) < 0)
			return -1;
		if (!count)
			strbuf_addstr(err, "no run recorded yet");
		else
			strbuf_addf(err, "no run %s: %lld run%s recorded", ref, (long long)count,
				    count == 1 ? "" : "s");
		return 0;
	}
	if (parse_number(ref, &n) < 0 || n < 1)
		goto malformed;
	struct prov_run_info r;
	int found = prov_get_run(p, (int64_t)n, &r, err);
	if (found < 0)
		return -1;
	prov_run_info_release(&r);
	if (!found) {
		strbuf_addf(err, "no run %lld recorded", n);
		return 0;
	}
	*id = (int64_t)n;
	return 1;
malformed:
	strbuf_addf(err, "'%s' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')",
		    ref);
	return 0;
}

/* ---- `verify --rerun` ---- */

/* The message every function below gives when a query fails. */
static int read_error(struct prov *p, sqlite3_stmt *st, struct strbuf *err)
{
	strbuf_addf(err, "cannot read provenance: %s", sqlite3_errmsg(prov_sqlite(p)));
	sqlite3_finalize(st);
	return -1;
}

static int prepare_read(struct prov *p, const char *sql, sqlite3_stmt **st, struct strbuf *err)
{
	*st = NULL;
	if (sqlite3_prepare_v2(prov_sqlite(p), sql, -1, st, NULL) != SQLITE_OK)
		return read_error(p, *st, err);
	return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int prov_stage_latest_ran_id(struct prov *p, const char *stage, int64_t *id, struct strbuf *err)
{
	/* status <> 'cached' repeats the partial stage index's WHERE term */
	return lookup_int(p,
			  "SELECT id FROM executions WHERE stage_id = ?1 AND status <> 'cached'"
			  " AND status = 'ran' AND output_digest IS NOT NULL"
			  " ORDER BY id DESC LIMIT 1",
			  stage, NULL, id, err);
}

int prov_latest_run_producers(struct prov *p, struct prov_stage_exec **v, size_t *nr,
			      struct strbuf *err)
{
	sqlite3_stmt *st;
	size_t alloc = 0;
	int rc;
	*v = NULL;
	*nr = 0;
	if (prepare_read(p,
			 "SELECT e.stage_id, CASE WHEN e.status = 'ran' THEN e.id ELSE"
			 " (SELECT max(x.id) FROM executions x WHERE x.stage_id = e.stage_id"
			 "  AND x.status <> 'cached' AND x.status = 'ran'"
			 "  AND x.output_digest = e.output_digest) END"
			 " FROM executions e WHERE e.run_id = (SELECT max(id) FROM runs)"
			 " AND e.status IN ('ran', 'cached') ORDER BY e.id",
			 &st, err) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (col_null(st, 1))
			continue; /* producing execution not recorded */
		XGROW(*v, alloc, *nr + 1);
		(*v)[*nr].stage_id = xstrdup(col_text(st, 0) ? col_text(st, 0) : "");
		(*v)[*nr].exec_id = sqlite3_column_int64(st, 1);
		(*nr)++;
	}
	if (rc != SQLITE_DONE) {
		prov_stage_execs_free(*v, *nr);
		*v = NULL;
		*nr = 0;
		return read_error(p, st, err);
	}
	sqlite3_finalize(st);
	return 0;
}

void prov_stage_execs_free(struct prov_stage_exec *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(v[i].stage_id);
	free(v);
}

int prov_get_replay(struct prov *p, int64_t id, struct prov_replay *r, struct strbuf *err)
{
	sqlite3_stmt *st;
	size_t alloc = 0;
	int rc;
	memset(r, 0, sizeof(*r));
	if (prepare_read(p,
			 "SELECT stage_id, run_id, argv_json, env_json, output_digest"
			 " FROM executions WHERE id = ?",
			 &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc != SQLITE_DONE)
			return read_error(p, st, err);
		sqlite3_finalize(st);
		return 0;
	}
	r->stage_id = col_str(st, 0);
	r->run_id = sqlite3_column_int64(st, 1);
	r->argv_json = col_str(st, 2);
	r->env_json = col_str(st, 3);
	r->output_digest = col_str(st, 4);
	sqlite3_finalize(st);
	if (prepare_read(p, "SELECT digest FROM inputs WHERE execution_id = ? ORDER BY rowid", &st,
			 err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		XGROW(r->input_digests, alloc, r->inputs_nr + 1);
		r->input_digests[r->inputs_nr++] = col_str(st, 0);
	}
	if (rc != SQLITE_DONE)
		return read_error(p, st, err);
	sqlite3_finalize(st);
	return 1;
}

void prov_replay_release(struct prov_replay *r)
{
	free(r->stage_id);
	free(r->argv_json);
	free(r->env_json);
	free(r->output_digest);
	for (size_t i = 0; i < r->inputs_nr; i++)
		free(r->input_digests[i]);
	free(r->input_digests);
	memset(r, 0, sizeof(*r));
}

/* ---- integrity scans for `study verify` ---- */

int prov_snapshot_begin(struct prov *p, struct strbuf *err)
{
	if (sqlite3_exec(prov_sqlite(p), "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return read_error(p, NULL, err);
	return 0;
}

void prov_snapshot_end(struct prov *p)
{
	if (p && !sqlite3_get_autocommit(prov_sqlite(p)))
		sqlite3_exec(prov_sqlite(p), "COMMIT", NULL, NULL, NULL);
}

/* Run a read-only query and call row(st, ctx) for each row, in order. 0, or
 * -1 with "cannot read provenance: ..." in err. The one loop behind every
 * scan below. */
static int scan_rows(struct prov *p, const char *sql, void (*row)(sqlite3_stmt *st, void *ctx),
		     void *ctx, struct strbuf *err)
{
	sqlite3_stmt *st;
	int rc;
	if (prepare_read(p, sql, &st, err) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		row(st, ctx);
	if (rc != SQLITE_DONE)
		return read_error(p, st, err);
	sqlite3_finalize(st);
	return 0;
}

struct ref_scan {
	prov_ref_fn fn;
	void *data;
};

static void exec_digest_row(sqlite3_stmt *st, void *ctx)
{
	static const enum prov_ref_kind kinds[] = { PROV_REF_OUTPUT, PROV_REF_STDOUT,
						    PROV_REF_STDERR };
	const struct ref_scan *r = ctx;
	struct prov_ref ref = { PROV_REF_OUTPUT, NULL, NULL, col_text(st, 2),
				sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0) };
	for (int c = 0; c < 3; c++) {
		ref.kind = kinds[c];
		ref.digest = col_text(st, 3 + c);
		if (ref.digest)
			r->fn(&ref, r->data);
	}
}

int prov_scan_exec_digests(struct prov *p, prov_ref_fn fn, void *data, struct strbuf *err)
{
	struct ref_scan r = { fn, data };
	return scan_rows(p,
			 "SELECT id, run_id, stage_id, output_digest, stdout_digest, stderr_digest"
			 " FROM executions ORDER BY status != 'ran', id",
			 exec_digest_row, &r, err);
}

static void input_digest_row(sqlite3_stmt *st, void *ctx)
{
	const struct ref_scan *r = ctx;
	struct prov_ref ref = { PROV_REF_INPUT, col_text(st, 3), col_text(st, 4),
				col_text(st, 2), sqlite3_column_int64(st, 1),
				sqlite3_column_int64(st, 0) };
	if (ref.digest)
		r->fn(&ref, r->data);
}

int prov_scan_input_digests(struct prov *p, prov_ref_fn fn, void *data, struct strbuf *err)
{
	struct ref_scan r = { fn, data };
	return scan_rows(p,
			 "SELECT e.id, e.run_id, e.stage_id, i.digest, i.name FROM inputs i"
			 " JOIN executions e ON e.id = i.execution_id ORDER BY e.id, i.rowid",
			 input_digest_row, &r, err);
}

static void ref_row(sqlite3_stmt *st, void *ctx)
{
	const struct ref_scan *r = ctx;
	struct prov_ref ref = { (enum prov_ref_kind)sqlite3_column_int(st, 0), col_text(st, 1),
				col_text(st, 5), col_text(st, 2), sqlite3_column_int64(st, 3),
				sqlite3_column_int64(st, 4) };
	if (ref.digest)
		r->fn(&ref, r->data);
}

int prov_scan_refs(struct prov *p, prov_ref_fn fn, void *data, struct strbuf *err)
{
	struct ref_scan r = { fn, data };
	/* column 0 is the kind, in enum prov_ref_kind order */
	return scan_rows(p,
			 "SELECT 0, output_digest, stage_id, run_id, id, NULL FROM executions"
			 " WHERE output_digest IS NOT NULL"
			 " UNION ALL SELECT 1, i.digest, e.stage_id, e.run_id, e.id, i.name"
			 " FROM inputs i JOIN executions e ON e.id = i.execution_id"
			 " UNION ALL SELECT 2, stdout_digest, stage_id, run_id, id, NULL"
			 " FROM executions WHERE stdout_digest IS NOT NULL"
			 " UNION ALL SELECT 3, stderr_digest, stage_id, run_id, id, NULL"
			 " FROM executions WHERE stderr_digest IS NOT NULL ORDER BY 5, 1",
			 ref_row, &r, err);
}

struct mismatch_scan {
	void (*fn)(const struct prov_artifact_mismatch *m, void *data);
	void *data;
};

static void mismatch_row(sqlite3_stmt *st, void *ctx)
{
	const struct mismatch_scan *r = ctx;
	if (sqlite3_column_int(st, 3))
		return; /* agrees */
	struct prov_artifact_mismatch m = { col_text(st, 0), sqlite3_column_int64(st, 1),
					    sqlite3_column_int(st, 2), col_text(st, 4),
					    sqlite3_column_int64(st, 5) };
	r->fn(&m, r->data);
}

int prov_scan_artifact_mismatches(struct prov *p,
				  void (*fn)(const struct prov_artifact_mismatch *m, void *data),
				  void *data, struct strbuf *err)
{
	struct mismatch_scan r = { fn, data };
	return scan_rows(p,
			 "SELECT a.digest, a.first_execution_id, e.id IS NULL,"
			 " coalesce(e.output_digest = a.digest AND e.output_files IS a.files"
			 " AND e.output_bytes IS a.bytes, 0), e.stage_id, e.run_id"
			 " FROM artifacts a LEFT JOIN executions e ON e.id = a.first_execution_id"
			 " ORDER BY a.first_execution_id",
			 mismatch_row, &r, err);
}

struct orphan_scan {
	void (*fn)(int64_t exec, int64_t run, const char *stage, void *data);
	void *data;
};

static void orphan_row(sqlite3_stmt *st, void *ctx)
{
	const struct orphan_scan *r = ctx;
	r->fn(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 2), col_text(st, 1), r->data);
}

int prov_scan_orphan_hits(struct prov *p,
			  void (*fn)(int64_t exec, int64_t run, const char *stage, void *data),
			  void *data, struct strbuf *err)
{
	struct orphan_scan r = { fn, data };
	return scan_rows(p,
			 "SELECT c.id, c.stage_id, c.run_id FROM executions c"
			 " WHERE c.status = 'cached' AND c.argv_json IS NULL"
			 " AND c.output_digest IS NOT NULL AND NOT EXISTS"
			 " (SELECT 1 FROM executions x WHERE x.cache_key = c.cache_key"
			 "  AND x.status = 'ran' AND x.output_digest = c.output_digest"
			 "  AND x.id < c.id) ORDER BY c.id",
			 orphan_row, &r, err);
}

struct commit_scan {
	void (*fn)(const struct prov_run_commit *c, void *data);
	void *data;
};

static void commit_row(sqlite3_stmt *st, void *ctx)
{
	const struct commit_scan *r = ctx;
	const char *commit = col_text(st, 1);
	if (!commit || !*commit)
		return;
	struct prov_run_commit c = {
		sqlite3_column_int64(st, 0), commit,
		col_null(st, 2) ? -1 : sqlite3_column_int(st, 2),
		col_text(st, 3) ? col_text(st, 3) : "", col_text(st, 4),
		col_text(st, 5) ? col_text(st, 5) : ""
	};
	r->fn(&c, r->data);
}

int prov_scan_run_commits(struct prov *p, void (*fn)(const struct prov_run_commit *c, void *data),
			  void *data, struct strbuf *err)
{
	struct commit_scan r = { fn, data };
	return scan_rows(p,
			 "SELECT id, git_commit, git_dirty, study_path, cwd, study_digest"
			 " FROM runs ORDER BY id",
			 commit_row, &r, err);
}

int prov_check_chain(struct prov *p, struct chain_check *c, struct strbuf *err)
{
	return chain_verify(prov_sqlite(p), c, err);
}

/* ---- what `study gc` collected (verify, verify --rerun) ---- */

struct collected_scan {
	void (*fn)(const struct prov_collected *c, void *data);
	void *data;
};

static void collected_row(sqlite3_stmt *st, void *ctx)
{
	const struct collected_scan *r = ctx;
	struct prov_collected c = { col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2),
				    sqlite3_column_int64(st, 3) };
	if (c.digest && c.kind)
		r->fn(&c, r->data);
}

int prov_scan_collected(struct prov *p, void (*fn)(const struct prov_collected *c, void *data),
			void *data, struct strbuf *err)
{
	struct collected_scan r = { fn, data };
	return scan_rows(p,
			 "SELECT c.digest, c.kind, g.id, coalesce(g.last_run, 0)"
			 " FROM gc_collected c JOIN gc_runs g ON g.id = c.gc_id"
			 " ORDER BY c.digest, coalesce(g.last_run, 0), g.id",
			 collected_row, &r, err);
}

int prov_collected_by(struct prov *p, const char *digest, int64_t *gc_id, struct strbuf *err)
{
	return lookup_int(p,
			  "SELECT g.id FROM gc_collected c JOIN gc_runs g ON g.id = c.gc_id"
			  " WHERE c.digest = ?1 ORDER BY coalesce(g.last_run, 0) DESC, g.id DESC"
			  " LIMIT 1",
			  digest, NULL, gc_id, err);
}

/* ---- `study report` ---- */

#define EXEC_COLUMNS_E                                                                      \
	"e.id, e.run_id, e.stage_id, e.kind, e.model, e.variant, e.evaluation, e.cache_key,"  \
	" e.status, e.reason, e.argv_json, e.env_json, e.cache_record, e.output_digest,"      \
	" e.output_files, e.output_bytes, e.exit_code, e.term_signal, e.timed_out, e.started," \
	" e.ended, e.wall_s, e.cpu_s, e.peak_rss_kb, e.stdout_digest, e.stderr_digest"

/* The producer of a cache hit recorded by reference (prov.h), as an SQL
 * expression over row `e`: NULL for any other row. */
#define HIT_SOURCE_OF_E                                                                     \
	"(CASE WHEN e.status = 'cached' AND e.argv_json IS NULL THEN"                         \
	" (SELECT max(x.id) FROM executions x WHERE x.cache_key = e.cache_key"               \
	"  AND x.status = 'ran' AND x.output_digest = e.output_digest AND x.id < e.id) END)"

/* The row of v (sorted by e.id) with execution id `id`, or NULL. */
static struct prov_run_stage *run_stage_find(struct prov_run_stage *v, size_t nr, int64_t id)
{
	size_t lo = 0, hi = nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].e.id < id)
			lo = mid + 1;
		else if (v[mid].e.id > id)
			hi = mid;
		else
			return &v[mid];
	}
	return NULL;
}

static int run_stage_rows(struct prov *p, int64_t run_id, struct prov_run_stage **v, size_t *nr,
			  struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	size_t alloc = 0;
	int rc;
	if (prepare(p, "SELECT " EXEC_COLUMNS_E ", s.id, s.run_id, s.argv_json, s.env_json,"
		       " s.cache_record, s.output_files, s.output_bytes"
		       " FROM executions e LEFT JOIN executions s ON s.id = " HIT_SOURCE_OF_E
		       " WHERE e.run_id = ?1 ORDER BY e.id", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, run_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		XGROW(*v, alloc, *nr + 1);
		struct prov_run_stage *r = &(*v)[(*nr)++];
		memset(r, 0, sizeof(*r));
		read_exec(st, &r->e);
		if (col_null(st, 26))
			continue;
		r->e.source_id = sqlite3_column_int64(st, 26);
		r->source_run = sqlite3_column_int64(st, 27);
		r->e.argv_json = col_str(st, 28);
		r->e.env_json = col_str(st, 29);
		r->e.cache_record = col_str(st, 30);
		r->e.output_files = sqlite3_column_int64(st, 31);
		r->e.output_bytes = sqlite3_column_int64(st, 32);
	}
	if (rc != SQLITE_DONE)
		return step_error(p, st, err);
	sqlite3_finalize(st);
	return 0;
}

static int run_stage_inputs(struct prov *p, int64_t run_id, struct prov_run_stage *v, size_t nr,
			    struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (prepare(p, "WITH x AS (SELECT e.id AS eid, coalesce(" HIT_SOURCE_OF_E ", e.id) AS src"
		       " FROM executions e WHERE e.run_id = ?1)"
		       " SELECT x.eid, i.name, i.stage_id, i.digest, i.source FROM x"
		       " JOIN inputs i ON i.execution_id = x.src ORDER BY x.eid, i.rowid", &st,
		    err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, run_id);
	struct prov_run_stage *r = NULL;
	size_t alloc = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if (!r || r->e.id != id) {
			r = run_stage_find(v, nr, id);
			alloc = 0;
			if (!r)
				continue;
		}
		XGROW(r->e.inputs, alloc, r->e.inputs_nr + 1);
		struct prov_input_info *in = &r->e.inputs[r->e.inputs_nr++];
		in->name = col_str(st, 1);
		in->stage = col_str(st, 2);
		in->digest = col_str(st, 3);
		in->source = col_str(st, 4);
	}
	if (rc != SQLITE_DONE)
		return step_error(p, st, err);
	sqlite3_finalize(st);
	return 0;
}

static int run_stage_prev(struct prov *p, int64_t run_id, struct prov_run_stage *v, size_t nr,
			  struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	/* status <> 'cached' repeats the partial stage index's WHERE term */
	if (prepare(p, "SELECT e.id, y.id, y.run_id, y.status, y.reason, y.cache_record"
		       " FROM executions e JOIN executions y ON y.id ="
		       " (SELECT max(z.id) FROM executions z WHERE z.stage_id = e.stage_id"
		       "  AND z.status <> 'cached' AND z.status IN ('ran', 'failed') AND z.id < e.id)"
		       " WHERE e.run_id = ?1 AND e.status IN ('ran', 'failed', 'interrupted')"
		       " ORDER BY e.id", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, run_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct prov_run_stage *r = run_stage_find(v, nr, sqlite3_column_int64(st, 0));
		if (!r)
			continue;
		r->prev_id = sqlite3_column_int64(st, 1);
		r->prev_run = sqlite3_column_int64(st, 2);
		r->prev_status = col_str(st, 3);
		r->prev_reason = col_str(st, 4);
		r->prev_record = col_str(st, 5);
	}
	if (rc != SQLITE_DONE)
		return step_error(p, st, err);
	sqlite3_finalize(st);
	return 0;
}

int prov_run_stages(struct prov *p, int64_t run_id, struct prov_run_stage **v, size_t *nr,
		    struct strbuf *err)
{
	*v = NULL;
	*nr = 0;
	if (run_stage_rows(p, run_id, v, nr, err) < 0 ||
	    run_stage_inputs(p, run_id, *v, *nr, err) < 0 ||
	    run_stage_prev(p, run_id, *v, *nr, err) < 0) {
		prov_run_stages_free(*v, *nr);
		*v = NULL;
		*nr = 0;
		return -1;
	}
	return 0;
}

void prov_run_stages_free(struct prov_run_stage *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		prov_exec_info_release(&v[i].e);
		free(v[i].prev_status);
		free(v[i].prev_reason);
		free(v[i].prev_record);
	}
	free(v);
}

int prov_latest_run_id(struct prov *p, int64_t *id, struct strbuf *err)
{
	return lookup_int(p, "SELECT max(id) FROM runs", NULL, NULL, id, err);
}

/* ---- durations for the scheduler ---- */

int prov_stage_walls(struct prov *p, const char *const *ids, size_t n, double *wall,
		     struct strbuf *err)
{
	sqlite3_stmt *st;
	for (size_t k = 0; k < n; k++)
		wall[k] = -1;
	/* status <> 'cached' repeats the partial stage index's WHERE term */
	if (prepare_read(p,
			 "SELECT wall_s FROM executions WHERE stage_id = ?1 AND status <> 'cached'"
			 " AND status = 'ran' AND wall_s IS NOT NULL ORDER BY id DESC LIMIT 1",
			 &st, err) < 0)
		return -1;
	for (size_t k = 0; k < n; k++) {
		sqlite3_reset(st);
		if (sqlite3_bind_text(st, 1, ids[k], -1, SQLITE_STATIC) != SQLITE_OK)
			return read_error(p, st, err);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			wall[k] = sqlite3_column_double(st, 0);
		else if (rc != SQLITE_DONE)
			return read_error(p, st, err);
	}
	sqlite3_finalize(st);
	return 0;
}
