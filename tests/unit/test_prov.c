/*
 * test_prov: the provenance database: schema creation and versioning, foreign
 * and too-new databases, runs, executions (ran, cached, failed) with inputs
 * and metrics in one transaction, metrics.json parsing variants and errors,
 * rollback, read-only access, prov_mark_interrupted, prov_lookup_output, the
 * read-side queries (prov_query.h), and the cost of prov_record_exec.
 */
#include "check.h"
#include "chain.h"
#include "metrics.h"
#include "prov.h"
#include "prov_query.h"
#include "strbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

static char scratch[] = "/tmp/study-test-prov-XXXXXX";

static const char *D1 = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *D2 = "2222222222222222222222222222222222222222222222222222222222222222";
static const char *D3 = "3333333333333333333333333333333333333333333333333333333333333333";
static const char *K1 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *K2 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/* One integer from raw SQL against a database file (independent of prov.c). */
static long long sql_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -12345;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		printf("# sql_int(%s): %s\n", sql, db ? sqlite3_errmsg(db) : "no db");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void sql_str(const char *path, const char *sql, struct strbuf *out)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	strbuf_reset(out);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		strbuf_addstr(out, (const char *)sqlite3_column_text(st, 0));
	else
		strbuf_addstr(out, "(none)");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static int sql_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db) == SQLITE_OK &&
		 sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
	sqlite3_close(db);
	return rc ? 0 : -1;
}

static void path_in(struct strbuf *sb, const char *name)
{
	strbuf_reset(sb);
	strbuf_addf(sb, "%s/%s", scratch, name);
}

static struct prov_run sample_run(void)
{
	struct prov_run r = { 0 };
	r.study_name = "six-models";
	r.study_path = "studies/six-models.yaml";
	r.study_digest = D3;
	r.git_commit = "0123456789abcdef0123456789abcdef01234567";
	r.git_branch = "main";
	r.git_dirty = 1;
	r.tool_version = "0.1.0";
	r.host = "box";
	r.user = "alice";
	r.argv_json = "[\"study\",\"run\",\"studies/six-models.yaml\"]";
	r.cwd = "/work";
	r.started = 1795425302.0; /* 2026-11-23T09:15:02Z */
	return r;
}

static struct prov_exec sample_exec(int64_t run_id, const char *stage, const char *status)
{
	struct prov_exec e = { 0 };
	e.run_id = run_id;
	e.stage_id = stage;
	e.kind = "eval";
	e.model = "m1";
	e.variant = "base";
	e.evaluation = "refusal";
	e.cache_key = K1;
	e.status = status;
	e.argv_json = "[\"toystage\",\"eval\"]";
	e.env_json = "{\"SEED\":\"1\"}";
	e.cache_record = "study-cache 1\n";
	e.exit_code = -1;
	return e;
}

/* ---- metrics parsing ---- */

struct collected {
	int nr;
	char names[8][32];
	double values[8];
	char model[32], variant[32], evaluation[32];
	int has_n[8];
	long long n[8];
	int has_ci[8];
	double lo[8], hi[8];
};

static int collect(const struct metric *m, void *data)
{
	struct collected *c = data;
	if (c->nr >= 8)
		return -1;
	snprintf(c->names[c->nr], sizeof(c->names[0]), "%s", m->name);
	c->values[c->nr] = m->value;
	c->has_n[c->nr] = m->has_n;
	c->n[c->nr] = m->n;
	c->has_ci[c->nr] = m->has_ci_low && m->has_ci_high;
	c->lo[c->nr] = m->ci_low;
	c->hi[c->nr] = m->ci_high;
	snprintf(c->model, sizeof(c->model), "%s", m->model ? m->model : "(null)");
	snprintf(c->variant, sizeof(c->variant), "%s", m->variant ? m->variant : "(null)");
	snprintf(c->evaluation, sizeof(c->evaluation), "%s",
		 m->evaluation ? m->evaluation : "(null)");
	c->nr++;
	return 0;
}

static int parse(const char *json, struct collected *c, struct strbuf *err)
{
	memset(c, 0, sizeof(*c));
	strbuf_reset(err);
	return metrics_parse("eval/refusal/m1/base", json, "refusal", "m1", "base", collect,
				  c, err);
}

static void test_metrics_parsing(void)
{
	struct collected c;
	struct strbuf err = STRBUF_INIT;

	CHECK(parse("{\"metrics\": {\"acc\": {\"value\": 0.93, \"n\": 200, \"ci_low\": 0.89,"
		    " \"ci_high\": 0.96}, \"loss\": 1.23}}", &c, &err) == 0,
	      "metrics: nested form parses");
	CHECK(c.nr == 2, "nested: two metrics");
	CHECK_STR(c.names[0], "acc", "nested: first name");
	CHECK(c.values[0] == 0.93 && c.has_n[0] && c.n[0] == 200, "nested: value and n");
	CHECK(c.has_ci[0] && c.lo[0] == 0.89 && c.hi[0] == 0.96, "nested: ci");
	CHECK_STR(c.names[1], "loss", "nested: plain number metric");
	CHECK(c.values[1] == 1.23 && !c.has_n[1] && !c.has_ci[1], "nested: plain number has no n/ci");
	CHECK_STR(c.model, "m1", "defaults: model from the exec");
	CHECK_STR(c.variant, "base", "defaults: variant from the exec");

	CHECK(parse("{\"model\": \"m9\", \"variant\": \"wo+sft\", \"evaluation\": \"harm\","
		    " \"acc\": 0.5, \"note\": \"text is ignored\", \"list\": [1, 2],"
		    " \"f1\": {\"value\": 0.7, \"n\": 10}, \"meta\": {\"x\": 1}}", &c, &err) == 0,
	      "metrics: flat form parses");
	CHECK(c.nr == 2, "flat: numbers and {value} objects only");
	CHECK_STR(c.names[0], "acc", "flat: first metric");
	CHECK_STR(c.names[1], "f1", "flat: object metric");
	CHECK(c.has_n[1] && c.n[1] == 10, "flat: object metric n");
	CHECK_STR(c.model, "m9", "override: model");
	CHECK_STR(c.variant, "wo+sft", "override: variant");
	CHECK_STR(c.evaluation, "harm", "override: evaluation");

	CHECK(parse("{\"metrics\": {}}", &c, &err) == 0 && c.nr == 0, "empty metrics object");

	CHECK(parse("{\"metrics\": {\"acc\": 0.9,}", &c, &err) == -1, "invalid JSON: error");
	CHECK_STR(err.buf,
		  "stage 'eval/refusal/m1/base': invalid metrics.json: not valid JSON "
		  "(error at byte 25)",
		  "invalid JSON: exact message");
	CHECK(parse("{\"metrics\": {\"acc\": \"high\"}}", &c, &err) == -1, "string metric: error");
	CHECK_STR(err.buf, "stage 'eval/refusal/m1/base': invalid metrics.json: metric 'acc' is not"
			   " a number", "string metric: exact message");
	CHECK(parse("{\"metrics\": {\"acc\": {\"value\": true}}}", &c, &err) == -1,
	      "boolean value: error");
	CHECK_STR(err.buf, "stage 'eval/refusal/m1/base': invalid metrics.json: metric 'acc' is not"
			   " a number", "boolean value: exact message");
	CHECK(parse("{\"metrics\": {\"acc\": {\"n\": 3}}}", &c, &err) == -1, "no value: error");
	CHECK_STR(err.buf, "stage 'eval/refusal/m1/base': invalid metrics.json: metric 'acc' has no"
			   " \"value\"", "no value: exact message");
	CHECK(parse("{\"metrics\": {\"acc\": {\"value\": 1, \"n\": 2.5}}}", &c, &err) == -1,
	      "fractional n: error");
	CHECK_STR(err.buf, "stage 'eval/refusal/m1/base': invalid metrics.json: metric 'acc': \"n\""
			   " is not a non-negative integer", "fractional n: exact message");
	CHECK(parse("{\"metrics\": {\"acc\": {\"value\": 1, \"ci_low\": \"x\"}}}", &c, &err) == -1,
	      "string ci: error");
	CHECK(parse("{\"acc\": {\"value\": \"x\"}}", &c, &err) == -1,
	      "flat: object with non-numeric value is an error");
	CHECK(parse("{\"metrics\": {\"acc\": 1e999}}", &c, &err) == -1, "infinite value: error");
	CHECK(parse("{\"metrics\": [1, 2]}", &c, &err) == -1, "metrics array: error");
	CHECK_STR(err.buf, "stage 'eval/refusal/m1/base': invalid metrics.json: \"metrics\" is not"
			   " an object", "metrics array: exact message");
	CHECK(parse("[1]", &c, &err) == -1, "top-level array: error");
	CHECK_STR(err.buf, "stage 'eval/refusal/m1/base': invalid metrics.json: the top level is"
			   " not an object", "top-level array: exact message");
	CHECK(parse("{\"model\": 3, \"acc\": 1}", &c, &err) == -1, "numeric model name: error");
	CHECK(parse("{\"metrics\": {\"acc\": 1, \"acc\": 2}}", &c, &err) == -1,
	      "duplicate metric: error");
	CHECK_STR(err.buf, "stage 'eval/refusal/m1/base': invalid metrics.json: metric 'acc'"
			   " appears twice", "duplicate metric: exact message");
	CHECK(parse("", &c, &err) == -1, "empty file: error");
	strbuf_release(&err);
}

/* ---- the database ---- */

static void test_foreign_and_future(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT, want = STRBUF_INIT;
	struct prov *p = NULL;

	path_in(&path, "future.db");
	CHECK(sql_exec(path.buf, "PRAGMA user_version = 99") == 0, "make a version-99 db");
	CHECK(prov_open(&p, path.buf, &err) == -1 && p == NULL, "version 99: open fails");
	strbuf_addf(&want, "provenance database '%s' has schema version 99, this study knows up to"
			   " %d; upgrade study", path.buf, PROV_SCHEMA_VERSION);
	CHECK_STR(err.buf, want.buf, "version 99: message with the hint");
	strbuf_reset(&err);
	CHECK(prov_open_readonly(&p, path.buf, &err) == -1, "version 99: read-only open fails too");
	CHECK_STR(err.buf, want.buf, "version 99 read-only: same message");

	path_in(&path, "foreign.db");
	CHECK(sql_exec(path.buf, "CREATE TABLE customers (id INTEGER, name TEXT)") == 0,
	      "make another app's db");
	strbuf_reset(&err);
	CHECK(prov_open(&p, path.buf, &err) == -1, "foreign db: open fails");
	strbuf_reset(&want);
	strbuf_addf(&want, "'%s' is not a study provenance database", path.buf);
	CHECK_STR(err.buf, want.buf, "foreign db: message");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM sqlite_master") == 1,
	      "foreign db: left untouched");

	path_in(&path, "foreign2.db");
	CHECK(sql_exec(path.buf, "CREATE TABLE meta (key TEXT, value TEXT);"
				 "INSERT INTO meta VALUES ('format', 'other-app');"
				 "PRAGMA user_version = 1") == 0,
	      "make a db with another format in meta");
	strbuf_reset(&err);
	CHECK(prov_open(&p, path.buf, &err) == -1, "other format: open fails");
	strbuf_reset(&want);
	strbuf_addf(&want, "'%s' is not a study provenance database", path.buf);
	CHECK_STR(err.buf, want.buf, "other format: message");

	path_in(&path, "garbage.db");
	{
		FILE *f = fopen(path.buf, "w");
		if (f) {
			fputs("this is not sqlite at all, just text padded out to look like a "
			      "database header for a moment ..........................", f);
			fclose(f);
		}
	}
	strbuf_reset(&err);
	CHECK(prov_open(&p, path.buf, &err) == -1, "garbage file: open fails");
	printf("# garbage file message: %s\n", err.buf);

	path_in(&path, "absent.db");
	strbuf_reset(&err);
	CHECK(prov_open_readonly(&p, path.buf, &err) == -1, "absent db read-only: fails");
	strbuf_reset(&want);
	strbuf_addf(&want, "no provenance database at '%s'", path.buf);
	CHECK_STR(err.buf, want.buf, "absent db read-only: message");
	CHECK(access(path.buf, F_OK) != 0, "absent db: read-only open does not create it");

	strbuf_release(&path);
	strbuf_release(&err);
	strbuf_release(&want);
}

static const char *METRICS_BASE =
	"{\"metrics\": {\"refusal_rate\": {\"value\": 0.93, \"n\": 200, \"ci_low\": 0.89,"
	" \"ci_high\": 0.96}, \"loss\": 1.23}}";

static void test_main_db(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT, s = STRBUF_INIT;
	struct prov *p = NULL;
	int64_t run1 = 0, run2 = 0, x1 = 0, x2 = 0, x3 = 0, x4 = 0;
	char tree[65];

	path_in(&path, "provenance.db");
	CHECK(prov_open(&p, path.buf, &err) == 0 && p, "open a fresh db");
	if (!p) {
		printf("# %s\n", err.buf);
		return;
	}
	CHECK(sql_int(path.buf, "PRAGMA user_version") == PROV_SCHEMA_VERSION,
	      "schema version is PROV_SCHEMA_VERSION");
	sql_str(path.buf, "SELECT value FROM meta WHERE key = 'format'", &s);
	CHECK_STR(s.buf, "study-provenance", "meta format");
	sql_str(path.buf, "PRAGMA journal_mode", &s);
	CHECK_STR(s.buf, "wal", "journal mode is WAL");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
				"name IN ('executions_stage', 'executions_run', 'executions_cache_key',"
				" 'metrics_execution', 'inputs_execution')") == 5,
	      "indexes exist");

	/* reopening an up-to-date db is a no-op */
	prov_close(p);
	CHECK(prov_open(&p, path.buf, &err) == 0, "reopen existing db");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM meta") == 1, "reopen: no second meta row");

	struct prov_run r = sample_run();
	CHECK(prov_run_begin(p, &r, &run1, &err) == 0 && run1 > 0, "run begin");
	sql_str(path.buf, "SELECT status FROM runs", &s);
	CHECK_STR(s.buf, "running", "run begins as 'running'");

	/* one batch: ran (with metrics), cached, failed, skipped */
	struct prov_input ins[2] = { { "model", "model/m1", D1, NULL },
				     { "data.world", "data/world", D2, NULL } };
	CHECK(prov_begin(p, &err) == 0, "begin batch");
	struct prov_exec e = sample_exec(run1, "eval/refusal/m1/base", "ran");
	e.inputs = ins;
	e.inputs_nr = 2;
	e.output_digest = D3;
	e.output_files = 2;
	e.output_bytes = 1234;
	e.exit_code = 0;
	e.started = 1795425310.0;
	e.ended = 1795425312.5;
	e.cpu_s = 2.25;
	e.peak_rss_kb = 4096;
	e.stdout_digest = D1;
	e.stderr_digest = D2;
	e.metrics_json = METRICS_BASE;
	CHECK(prov_record_exec(p, &e, &x1, &err) == 0 && x1 > 0, "record 'ran' with metrics");

	struct prov_exec c = sample_exec(run1, "model/m1", "cached");
	c.kind = "model";
	c.evaluation = NULL;
	c.variant = NULL;
	c.cache_key = K2;
	c.output_digest = D1;
	c.output_files = 1;
	c.output_bytes = 10;
	c.metrics_json = "{\"acc\": 0.1}"; /* ignored for cache hits */
	CHECK(prov_record_exec(p, &c, &x2, &err) == 0, "record 'cached'");

	struct prov_exec f = sample_exec(run1, "eval/refusal/m1/wo", "failed");
	f.variant = "wo";
	f.reason = "exit status 3";
	f.exit_code = 3;
	f.started = 1795425320.0;
	f.ended = 1795425321.0;
	CHECK(prov_record_exec(p, &f, &x3, &err) == 0, "record 'failed'");

	struct prov_exec k = sample_exec(run1, "report", "skipped");
	k.reason = "dependency failed: eval/refusal/m1/wo";
	k.cache_key = NULL;
	CHECK(prov_record_exec(p, &k, &x4, &err) == 0, "record 'skipped'");

	struct prov_exec bad = sample_exec(run1, "x", "weird");
	strbuf_reset(&err);
	CHECK(prov_record_exec(p, &bad, NULL, &err) == -1, "unknown status: error");
	CHECK_STR(err.buf, "stage 'x': invalid execution status 'weird'", "unknown status: message");
	CHECK(prov_commit(p, &err) == 0, "commit batch");
	CHECK(prov_run_end(p, run1, "failed", 1795425400.0, 1, 1, 1, 1, &err) == 0, "run end");

	CHECK(sql_int(path.buf, "SELECT count(*) FROM executions") == 4, "4 executions");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM inputs") == 2, "2 inputs");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM metrics") == 2,
	      "2 metrics (cache hit's metrics not duplicated)");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM artifacts") == 1,
	      "1 artifact (a cache hit's output is its producer's artifact)");
	CHECK(sql_int(path.buf, "SELECT n FROM metrics WHERE metric = 'refusal_rate'") == 200,
	      "metric n stored");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM metrics WHERE metric = 'loss' AND n IS NULL"
				" AND ci_low IS NULL AND model = 'm1' AND variant = 'base'") == 1,
	      "plain metric: NULL n and ci, model/variant from the exec");
	CHECK(sql_int(path.buf, "SELECT wall_s * 10 FROM executions WHERE status = 'ran'") == 25,
	      "wall time computed");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM executions WHERE status = 'cached' AND "
				"started IS NULL AND exit_code IS NULL AND cache_key IS NOT NULL"
				" AND output_digest IS NOT NULL") == 1,
	      "cache hit: no times or exit code, but key and output");
	sql_str(path.buf, "SELECT reason FROM executions WHERE status = 'skipped'", &s);
	CHECK_STR(s.buf, "dependency failed: eval/refusal/m1/wo", "skip reason stored");
	sql_str(path.buf, "SELECT status || ',' || ran || cached || failed || skipped || ','"
			  " || (ended > started) FROM runs", &s);
	CHECK_STR(s.buf, "failed,1111,1", "run end fields");
	CHECK(sql_int(path.buf, "SELECT git_dirty FROM runs") == 1, "git_dirty stored");

	/* a bad metrics.json writes nothing */
	CHECK(prov_begin(p, &err) == 0, "begin batch 2");
	struct prov_exec bm = sample_exec(run1, "eval/refusal/m2/base", "ran");
	bm.output_digest = D2;
	bm.metrics_json = "{\"metrics\": {\"acc\": \"x\"}}";
	strbuf_reset(&err);
	CHECK(prov_record_exec(p, &bm, NULL, &err) == -1, "bad metrics: record fails");
	CHECK_STR(err.buf, "stage 'eval/refusal/m2/base': invalid metrics.json: metric 'acc' is not"
			   " a number", "bad metrics: message names the stage");
	CHECK(prov_commit(p, &err) == 0, "commit batch 2");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM executions WHERE stage_id ="
				" 'eval/refusal/m2/base'") == 0,
	      "bad metrics: no execution row");

	/* rollback leaves no partial rows */
	CHECK(prov_begin(p, &err) == 0, "begin batch 3");
	struct prov_exec rb = sample_exec(run1, "eval/refusal/m3/base", "ran");
	rb.inputs = ins;
	rb.inputs_nr = 2;
	rb.output_digest = "4444444444444444444444444444444444444444444444444444444444444444";
	rb.metrics_json = METRICS_BASE;
	CHECK(prov_record_exec(p, &rb, NULL, &err) == 0, "record inside a batch to roll back");
	CHECK(prov_rollback(p) == 0, "rollback");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM executions") == 4, "rollback: executions");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM inputs") == 2, "rollback: inputs");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM metrics") == 2, "rollback: metrics");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM artifacts") == 1, "rollback: artifacts");
	CHECK(prov_rollback(p) == 0, "rollback without a transaction is harmless");

	/* lookups */
	CHECK(prov_lookup_output(p, K1, tree) == 1, "lookup_output: found");
	CHECK_STR(tree, D3, "lookup_output: digest of the 'ran' execution");
	CHECK(prov_lookup_output(p, K2, tree) == 0, "lookup_output: cache-hit-only key not found");
	CHECK(prov_lookup_output(p, "nope", tree) == 0, "lookup_output: unknown key");

	/* second run: interrupted, with a cache hit of the eval */
	r.started += 1000;
	r.git_dirty = -1;
	r.git_commit = NULL;
	CHECK(prov_run_begin(p, &r, &run2, &err) == 0 && run2 == run1 + 1, "second run begin");
	CHECK(sql_int(path.buf, "SELECT count(*) FROM runs WHERE git_dirty IS NULL AND"
				" git_commit IS NULL") == 1,
	      "unknown git state stored as NULL");
	CHECK(prov_begin(p, &err) == 0, "begin batch 4");
	struct prov_exec h = sample_exec(run2, "eval/refusal/m1/base", "cached");
	h.output_digest = D3;
	h.output_files = 2;
	h.output_bytes = 1234;
	CHECK(prov_record_exec(p, &h, NULL, &err) == 0, "record cache hit of the eval");
	/* a reader opened while the writer holds an open batch neither blocks nor sees it */
	{
		struct prov *rd = NULL;
		struct prov_run_info *rr = NULL;
		struct prov_exec_info *re = NULL;
		size_t rn = 0, en = 0;
		struct strbuf rerr = STRBUF_INIT;
		CHECK(prov_open_readonly(&rd, path.buf, &rerr) == 0, "reader opens during a batch");
		CHECK(rd && prov_list_runs(rd, 0, &rr, &rn, &rerr) == 0 && rn == 2,
		      "reader lists runs during a batch");
		CHECK(rd && prov_run_execs(rd, run2, &re, &en, &rerr) == 0 && en == 0,
		      "reader does not see the uncommitted execution");
		prov_runs_free(rr, rn);
		prov_execs_free(re, en);
		if (rerr.len)
			printf("# reader: %s\n", rerr.buf);
		CHECK(prov_commit(p, &err) == 0, "commit batch 4 while a reader is open");
		prov_close(rd);
		strbuf_release(&rerr);
	}
	CHECK(prov_mark_interrupted(p, &err) == 0, "mark interrupted");
	sql_str(path.buf, "SELECT group_concat(status, ',') FROM (SELECT status FROM runs"
			  " ORDER BY id)", &s);
	CHECK_STR(s.buf, "failed,interrupted", "only the running run is marked interrupted");
	CHECK(sql_int(path.buf, "SELECT ended IS NOT NULL FROM runs WHERE id = 2") == 1,
	      "interrupted run has an end time");
	strbuf_reset(&err);
	CHECK(prov_run_end(p, 99, "ok", 1.0, 0, 0, 0, 0, &err) == -1, "end of unknown run fails");
	printf("# %s\n", err.buf);
	strbuf_reset(&err);
	CHECK(prov_run_end(p, run2, "bogus", 1.0, 0, 0, 0, 0, &err) == -1,
	      "end with an invalid status fails (CHECK constraint)");
	printf("# %s\n", err.buf);
	prov_close(p);

	/* read side */
	struct prov *ro = NULL;
	strbuf_reset(&err);
	CHECK(prov_open_readonly(&ro, path.buf, &err) == 0 && ro, "reopen read-only");
	if (!ro) {
		printf("# %s\n", err.buf);
		goto out;
	}
	struct prov_run_info *runs = NULL;
	size_t nr = 0;
	CHECK(prov_list_runs(ro, 0, &runs, &nr, &err) == 0 && nr == 2, "list runs");
	if (nr == 2) {
		CHECK(runs[0].id == run2 && runs[1].id == run1, "runs newest first");
		CHECK_STR(runs[1].git_branch, "main", "run branch");
		CHECK(runs[1].git_dirty == 1 && runs[0].git_dirty == -1, "run dirty flags");
		CHECK(runs[1].ran == 1 && runs[1].cached == 1 && runs[1].failed == 1 &&
			      runs[1].skipped == 1, "run counts");
		CHECK_STR(runs[1].argv_json, r.argv_json, "run argv");
	}
	prov_runs_free(runs, nr);
	CHECK(prov_list_runs(ro, 1, &runs, &nr, &err) == 0 && nr == 1, "list runs with a limit");
	prov_runs_free(runs, nr);

	struct prov_run_info ri;
	CHECK(prov_get_run(ro, run1, &ri, &err) == 1, "get run");
	CHECK_STR(ri.status, "failed", "get run: status");
	prov_run_info_release(&ri);
	CHECK(prov_get_run(ro, 77, &ri, &err) == 0, "get unknown run: 0");

	struct prov_exec_info *ex = NULL;
	CHECK(prov_run_execs(ro, run1, &ex, &nr, &err) == 0 && nr == 4, "executions of run 1");
	if (nr == 4) {
		CHECK_STR(ex[0].stage_id, "eval/refusal/m1/base", "execution order");
		CHECK(ex[0].has_exit && ex[0].exit_code == 0 && ex[0].wall_s == 2.5, "exit and wall");
		CHECK(!ex[1].has_exit, "cache hit: no exit code");
	}
	prov_execs_free(ex, nr);

	struct prov_exec_info latest;
	CHECK(prov_stage_latest(ro, "eval/refusal/m1/base", &latest, &err) == 1, "stage latest");
	CHECK(latest.id == x1, "stage latest: the 'ran' execution, not the later cache hit");
	CHECK(latest.inputs_nr == 2 && !strcmp(latest.inputs[1].stage, "data/world"),
	      "stage latest: inputs");
	CHECK(latest.metrics_nr == 2 && !strcmp(latest.metrics[0].metric, "refusal_rate"),
	      "stage latest: metrics");
	CHECK(latest.peak_rss_kb == 4096 && latest.cpu_s == 2.25, "stage latest: resources");
	CHECK_STR(latest.stdout_digest, D1, "stage latest: stdout digest");
	long hits = 0;
	int64_t last_run = 0;
	CHECK(prov_stage_reuse(ro, &latest, &hits, &last_run, &err) == 0, "stage reuse");
	CHECK(hits == 1 && last_run == run2, "one later cache hit, in run 2");
	prov_exec_info_release(&latest);
	CHECK(prov_stage_latest(ro, "model/m1", &latest, &err) == 1 && latest.id == x2,
	      "stage with only a cache hit: that execution");
	prov_exec_info_release(&latest);
	CHECK(prov_stage_latest(ro, "no/such", &latest, &err) == 0, "unknown stage: 0");

	struct prov_metric_info *mr = NULL;
	CHECK(prov_results(ro, 0, &mr, &nr, &err) == 0 && nr == 2, "results: all");
	if (nr == 2) {
		CHECK_STR(mr[0].metric, "loss", "results sorted by metric");
		CHECK(mr[1].has_ci_low && mr[1].ci_high == 0.96, "results: ci");
	}
	prov_metrics_free(mr, nr);
	CHECK(prov_results(ro, run2, &mr, &nr, &err) == 0 && nr == 2,
	      "results of run 2: metrics reached through its cache hit");
	if (nr == 2)
		CHECK(mr[0].execution_id == x1, "results of run 2: from the execution that ran");
	prov_metrics_free(mr, nr);
	CHECK(prov_results(ro, 77, &mr, &nr, &err) == 0 && nr == 0, "results of unknown run: none");
	prov_metrics_free(mr, nr);

	/* writes through a read-only handle fail */
	strbuf_reset(&err);
	CHECK(prov_run_begin(ro, &r, &run2, &err) == -1, "read-only: write fails");
	printf("# read-only write: %s\n", err.buf);
	prov_close(ro);
	CHECK(sql_int(path.buf, "SELECT count(*) FROM runs") == 2, "read-only: nothing written");
out:
	strbuf_release(&path);
	strbuf_release(&err);
	strbuf_release(&s);
}

static void test_results_order(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct prov *p = NULL;
	int64_t run = 0;
	path_in(&path, "order.db");
	if (prov_open(&p, path.buf, &err) < 0) {
		CHECK(0, "open order.db");
		return;
	}
	struct prov_run r = sample_run();
	prov_run_begin(p, &r, &run, &err);
	prov_begin(p, &err);
	const char *variants[] = { "wo+sft", "base", "wo", "abc" };
	char stage[64];
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < 4; i++) {
			snprintf(stage, sizeof(stage), "eval/refusal/m1/%s", variants[i]);
			struct prov_exec e = sample_exec(run, stage, "ran");
			e.variant = variants[i];
			e.metrics_json = pass ? "{\"b\": 2, \"a\": 1}" : "{\"old\": 0}";
			CHECK(prov_record_exec(p, &e, NULL, &err) == 0, "record for ordering");
		}
	prov_commit(p, &err);
	struct prov_metric_info *mr = NULL;
	size_t nr = 0;
	CHECK(prov_results(p, 0, &mr, &nr, &err) == 0 && nr == 8,
	      "results: only the latest execution per stage");
	struct strbuf got = STRBUF_INIT;
	for (size_t i = 0; i < nr; i++)
		strbuf_addf(&got, "%s:%s ", mr[i].variant, mr[i].metric);
	CHECK_STR(got.buf, "base:a base:b abc:a abc:b wo:a wo:b wo+sft:a wo+sft:b ",
		  "results: base first, then alphabetical, then metric");
	prov_metrics_free(mr, nr);
	strbuf_release(&got);
	prov_close(p);
	strbuf_release(&path);
	strbuf_release(&err);
}

static void test_speed(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct prov *p = NULL;
	int64_t run = 0;
	struct timespec t0, t1;
	path_in(&path, "speed.db");
	if (prov_open(&p, path.buf, &err) < 0) {
		CHECK(0, "open speed.db");
		return;
	}
	struct prov_run r = sample_run();
	prov_run_begin(p, &r, &run, &err);
	struct prov_input ins[3] = { { "model", "model/m1", D1, NULL },
				     { "model.base", "model/m1", D1, NULL },
				     { "data.world", "data/world", D2, NULL } };
	char stage[64], digest[65];
	int ok = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok &= prov_begin(p, &err) == 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(stage, sizeof(stage), "eval/e%d/m1/base", i);
		snprintf(digest, sizeof(digest), "%064d", i);
		struct prov_exec e = sample_exec(run, stage, "ran");
		e.inputs = ins;
		e.inputs_nr = 3;
		e.output_digest = digest;
		e.started = 1795425310.0;
		e.ended = 1795425311.0;
		e.metrics_json = METRICS_BASE;
		ok &= prov_record_exec(p, &e, NULL, &err) == 0;
	}
	ok &= prov_commit(p, &err) == 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
		    1e3 / 1000;
	CHECK(ok, "1000 record_exec calls in one transaction");
	printf("# 1000 prov_record_exec (3 inputs, 2 metrics each): %.1f us per record\n", us);
	prov_close(p);
	CHECK(sql_int(path.buf, "SELECT count(*) FROM metrics") == 2000, "speed: all metrics stored");
	strbuf_release(&path);
	strbuf_release(&err);
}

/* ---- schema 5: the 'retried' status (a failed attempt that was retried) ---- */

static void count_problem(const char *kind, int64_t run, int64_t exec, const char *stage,
			  const char *msg, void *data)
{
	(void)kind, (void)run, (void)exec, (void)stage;
	printf("# chain problem: %s\n", msg);
	(*(int *)data)++;
}

static void test_retried_status(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct prov *p = NULL;
	int64_t run = 0, x = 0;
	struct prov_run r = sample_run();

	path_in(&path, "retried.db");
	CHECK(prov_open(&p, path.buf, &err) == 0, "retried: open a fresh db");
	if (!p)
		return;
	CHECK(prov_run_begin(p, &r, &run, &err) == 0, "retried: begin a run");
	struct prov_exec e = sample_exec(run, "eval/refusal/m1/base", "failed");
	e.reason = "exit status 1";
	CHECK(prov_begin(p, &err) == 0 && prov_record_exec(p, &e, &x, &err) == 0 &&
	      prov_commit(p, &err) == 0, "a failed execution recorded under schema 5");
	CHECK(prov_run_end(p, run, "failed", r.started + 1, 0, 0, 1, 0, &err) == 0, "end run 1");
	prov_close(p);
	p = NULL;

	/* make it a schema-4 database again: the CHECK without 'retried' */
	CHECK(sql_exec(path.buf, "PRAGMA writable_schema = ON;"
				 "UPDATE sqlite_master SET sql = replace(sql, ', ''retried''))', '))')"
				 " WHERE type = 'table' AND name = 'executions';"
				 "PRAGMA writable_schema = OFF;"
				 "DROP TABLE gc_collected; DROP TABLE gc_runs;"
				 "ALTER TABLE inputs DROP COLUMN source;"
				 "PRAGMA user_version = 4") == 0,
	      "downgrade to schema 4");
	CHECK(sql_exec(path.buf, "INSERT INTO executions(run_id, stage_id, status)"
				 " VALUES (1, 'x', 'retried')") < 0,
	      "schema 4 refuses status 'retried'");

	strbuf_reset(&err);
	CHECK(prov_open(&p, path.buf, &err) == 0, "a schema-4 database opens (and migrates)");
	if (!p) {
		printf("# %s\n", err.buf);
		return;
	}
	CHECK(sql_int(path.buf, "PRAGMA user_version") == PROV_SCHEMA_VERSION,
	      "migrated to the current schema");
	r.started += 10;
	CHECK(prov_run_begin(p, &r, &run, &err) == 0, "retried: begin run 2");
	e = sample_exec(run, "eval/refusal/m1/base", "retried");
	e.reason = "exit status 1; attempt 1 of 2";
	e.started = r.started + 1;
	e.ended = r.started + 2;
	e.exit_code = 1;
	int rc = prov_begin(p, &err) == 0 && prov_record_exec(p, &e, &x, &err) == 0;
	e.status = "ran";
	e.reason = "attempt 2 of 2";
	e.output_digest = D1;
	rc = rc && prov_record_exec(p, &e, &x, &err) == 0 && prov_commit(p, &err) == 0;
	CHECK(rc, "a retried attempt and the final one recorded after the migration");
	if (!rc)
		printf("# %s\n", err.buf);
	e.status = "retrying";
	strbuf_reset(&err);
	CHECK(prov_begin(p, &err) == 0 && prov_record_exec(p, &e, &x, &err) < 0,
	      "an unknown status is still refused");
	prov_rollback(p);
	CHECK(prov_run_end(p, run, "ok", r.started + 3, 1, 0, 0, 0, &err) == 0, "end run 2");
	prov_close(p);

	struct strbuf st = STRBUF_INIT;
	sql_str(path.buf, "SELECT group_concat(status || ':' || reason, ',') FROM executions"
			  " WHERE run_id = 2", &st);
	CHECK_STR(st.buf, "retried:exit status 1; attempt 1 of 2,ran:attempt 2 of 2",
		  "both attempts are rows of run 2");
	strbuf_release(&st);
	CHECK(sql_int(path.buf, "SELECT failed FROM runs WHERE id = 2") == 0,
	      "the run counts the stage once, as ran");

	int problems = 0;
	struct chain_check cc = { count_problem, NULL, &problems, 0, 0, "", 0 };
	strbuf_reset(&err);
	CHECK(prov_open_readonly(&p, path.buf, &err) == 0 &&
	      chain_verify(prov_sqlite(p), &cc, &err) == 0 && problems == 0 && cc.execs == 3,
	      "the hash chain holds across the migration (3 executions, 2 runs)");
	prov_close(p);
	strbuf_release(&path);
	strbuf_release(&err);
}

int main(void)
{
	if (!mkdtemp(scratch)) {
		CHECK(0, "mkdtemp");
		return check_done();
	}
	test_metrics_parsing();
	test_foreign_and_future();
	test_main_db();
	test_results_order();
	test_retried_status();
	test_speed();

	struct strbuf rm = STRBUF_INIT;
	strbuf_addf(&rm, "rm -rf '%s'", scratch);
	CHECK(system(rm.buf) == 0, "remove scratch dir");
	strbuf_release(&rm);
	return check_done();
}
