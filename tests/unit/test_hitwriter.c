/*
 * test_hitwriter: cache hits recorded on the writer thread land exactly as
 * synchronous ones would (ids in order, seals that verify), across batch
 * boundaries and syncs; an insert error comes back from the next sync, stays
 * there, and drops the hits queued after it.
 */
#include "chain.h"
#include "check.h"
#include "hitwriter.h"
#include "prov.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch[] = "/tmp/study-test-hitwriter-XXXXXX";

static long long count_rows(struct prov *p, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long n = -1;
	if (sqlite3_prepare_v2(prov_sqlite(p), sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void note_problem(const char *kind, int64_t run, int64_t exec, const char *stage,
			 const char *msg, void *data)
{
	(void)run;
	(void)exec;
	(void)stage;
	printf("# chain problem %s: %s\n", kind, msg);
	++*(int *)data;
}

int main(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct prov *p = NULL;
	int64_t run = 0;
	char key[HASH_HEX_SIZE], tree[HASH_HEX_SIZE], stage[32];

	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	strbuf_addf(&path, "%s/provenance.db", scratch);
	CHECK(prov_open(&p, path.buf, &err) == 0, "open");
	struct prov_run r = { 0 };
	r.study_name = "s";
	r.study_path = "s.yaml";
	r.study_digest = "d";
	r.git_dirty = -1;
	r.tool_version = "0";
	r.argv_json = "[]";
	r.started = 1000;
	CHECK(prov_run_begin(p, &r, &run, &err) == 0, "run begins");

	struct hit_writer *w = hit_writer_start(p);
	CHECK(w != NULL, "the writer thread starts");
	if (!w)
		return check_done();
	CHECK(prov_begin(p, &err) == 0, "begin");
	struct prov_exec e = { 0 };
	e.run_id = run;
	e.kind = "eval";
	e.status = "cached";
	e.stage_id = stage;
	for (int i = 0; i < 300; i++) {
		if (i == 150) {
			/* a sync in the middle, then an ordinary record in between */
			CHECK(hit_writer_sync(w, &err) == 0, "sync mid-way");
			struct prov_exec ran = e;
			ran.stage_id = "data/x";
			ran.status = "ran";
			ran.started = 1001;
			ran.ended = 1002;
			CHECK(prov_record_exec(p, &ran, NULL, &err) == 0, "a synchronous record");
		}
		char text[32];
		snprintf(text, sizeof(text), "k%d", i);
		hash_str_hex(text, key);
		snprintf(text, sizeof(text), "t%d", i);
		hash_str_hex(text, tree);
		e.cache_key = key;
		e.output_digest = tree;
		/* the stage string is reused: only key and tree are copied, so
		 * use one that stays valid until the sync */
		snprintf(stage, sizeof(stage), "eval/e/m");
		hit_writer_add(w, &e);
	}
	CHECK(hit_writer_sync(w, &err) == 0, "sync at the end");
	CHECK(prov_commit(p, &err) == 0, "commit");
	CHECK(count_rows(p, "SELECT count(*) FROM executions WHERE status = 'cached'") == 300,
	      "300 hits recorded");
	CHECK(count_rows(p, "SELECT id FROM executions WHERE status = 'ran'") == 151,
	      "the synchronous record took its place in order");
	CHECK(count_rows(p, "SELECT max(id) - min(id) + 1 - count(*) FROM executions") == 0,
	      "ids without gaps");
	hash_str_hex("k299", key);
	struct strbuf q = STRBUF_INIT;
	strbuf_addf(&q, "SELECT count(*) FROM executions WHERE id = 301 AND cache_key = '%s'", key);
	CHECK(count_rows(p, q.buf) == 1, "the last hit is the last row, with its own key");
	strbuf_release(&q);
	CHECK(prov_run_end(p, run, "ok", 1003, 1, 300, 0, 0, &err) == 0, "run ends");

	int problems = 0;
	struct chain_check cc = { 0 };
	cc.problem = note_problem;
	cc.data = &problems;
	CHECK(chain_verify(prov_sqlite(p), &cc, &err) == 0 && problems == 0 && cc.execs == 301,
	      "every seal verifies");

	/* an error: a hit without a stage id */
	struct prov_run r2 = r;
	r2.started = 2000;
	CHECK(prov_run_begin(p, &r2, &run, &err) == 0, "run 2 begins");
	CHECK(prov_begin(p, &err) == 0, "begin 2");
	e.run_id = run;
	e.stage_id = NULL;
	hit_writer_add(w, &e);
	e.stage_id = stage;
	hit_writer_add(w, &e);
	strbuf_reset(&err);
	CHECK(hit_writer_sync(w, &err) == -1, "the failed insert comes back from sync");
	CHECK_STR(err.buf, "cannot record an execution without a stage id", "with its message");
	hit_writer_add(w, &e);
	strbuf_reset(&err);
	CHECK(hit_writer_sync(w, &err) == -1, "and stays");
	CHECK(prov_commit(p, &err) == 0, "commit 2");
	CHECK(count_rows(p, "SELECT count(*) FROM executions WHERE run_id = 2") == 0,
	      "nothing after the error was recorded");
	hit_writer_stop(w);
	hit_writer_stop(NULL);
	prov_close(p);

	struct strbuf cmd = STRBUF_INIT;
	strbuf_addf(&cmd, "rm -rf '%s'", scratch);
	if (system(cmd.buf) != 0)
		printf("# cannot remove %s\n", scratch);
	strbuf_release(&cmd);
	strbuf_release(&path);
	strbuf_release(&err);
	return check_done();
}
