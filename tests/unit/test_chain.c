/*
 * test_chain: the tamper-evident hash chain over provenance (chain.h):
 * the exact canonical text, sealing at record / run end / interruption, the
 * chain verifying clean, and every kind of tampering detected (an edited
 * execution, metric, input or run row, a deleted run or execution, an
 * unsealed run); the migration from schema 1 reproducing the same hashes;
 * and docs/auditing.md carrying exactly the SELECTs the code runs.
 */
#include "check.h"
#include "chain.h"
#include "hash.h"
#include "prov.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

static char scratch[] = "/tmp/study-test-chain-XXXXXX";
static const char *D1 = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *D2 = "2222222222222222222222222222222222222222222222222222222222222222";

static int sql_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db) == SQLITE_OK &&
		 sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
	if (!rc)
		printf("# sql_exec(%s): %s\n", sql, db ? sqlite3_errmsg(db) : "no db");
	sqlite3_close(db);
	return rc ? 0 : -1;
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

static void hex_of(struct strbuf *sb, const char *s)
{
	for (; *s; s++)
		strbuf_addf(sb, "%02X", (unsigned char)*s);
}

/* What chain_verify reported. */
struct seen {
	int problems, notes;
	char kinds[512];
	int64_t last_run, last_exec;
	char last_msg[512];
};

static void on_problem(const char *kind, int64_t run, int64_t exec, const char *stage,
		       const char *msg, void *data)
{
	struct seen *s = data;
	(void)stage;
	s->problems++;
	size_t n = strlen(s->kinds);
	snprintf(s->kinds + n, sizeof(s->kinds) - n, "%s%s", n ? "," : "", kind);
	s->last_run = run;
	s->last_exec = exec;
	snprintf(s->last_msg, sizeof(s->last_msg), "%s", msg);
}

static void on_note(const char *kind, int64_t run, int64_t exec, const char *stage,
		    const char *msg, void *data)
{
	struct seen *s = data;
	(void)kind;
	(void)run;
	(void)exec;
	(void)stage;
	(void)msg;
	s->notes++;
}

/* Verify the chain of the database at path through a fresh read-only handle. */
static int verify_path(const char *path, struct seen *s, struct chain_check *cc)
{
	struct prov *p = NULL;
	struct strbuf err = STRBUF_INIT;
	memset(s, 0, sizeof(*s));
	memset(cc, 0, sizeof(*cc));
	cc->problem = on_problem;
	cc->note = on_note;
	cc->data = s;
	int rc = prov_open_readonly(&p, path, &err);
	if (rc == 0)
		rc = chain_verify(prov_sqlite(p), cc, &err);
	if (rc < 0)
		printf("# verify: %s\n", err.buf);
	prov_close(p);
	strbuf_release(&err);
	return rc;
}

static struct prov_run a_run(double started)
{
	struct prov_run r = { 0 };
	r.study_name = "s";
	r.study_path = "s.yaml";
	r.study_digest = D2;
	r.git_dirty = -1;
	r.tool_version = "0.1.0";
	r.argv_json = "[\"study\"]";
	r.started = started;
	return r;
}

/* A run of two executions: data (ran, output D1) and eval (ran, input D1,
 * metrics), ended with status ok unless end is 0. */
static int64_t make_run(struct prov *p, double t, int end)
{
	struct strbuf err = STRBUF_INIT;
	struct prov_run r = a_run(t);
	int64_t run = 0, id;
	prov_run_begin(p, &r, &run, &err);
	struct prov_exec e = { 0 };
	e.run_id = run;
	e.stage_id = "data/w";
	e.kind = "data";
	e.status = "ran";
	e.argv_json = "[\"gen\"]";
	e.env_json = "{}";
	e.output_digest = D1;
	e.output_files = 1;
	e.output_bytes = 10;
	e.started = t + 0.5;
	e.ended = t + 1.25;
	prov_begin(p, &err);
	prov_record_exec(p, &e, &id, &err);
	struct prov_input in = { "model", "model/m1", D1, NULL };
	struct prov_exec v = e;
	v.stage_id = "eval/e/m1";
	v.kind = "eval";
	v.inputs = &in;
	v.inputs_nr = 1;
	v.output_digest = D2;
	v.metrics_json = "{\"acc\": 0.5, \"loss\": {\"value\": 2, \"n\": 10}}";
	prov_record_exec(p, &v, &id, &err);
	prov_commit(p, &err);
	if (end)
		prov_run_end(p, run, "ok", t + 2, 2, 0, 0, 0, &err);
	if (err.len)
		printf("# make_run: %s\n", err.buf);
	strbuf_release(&err);
	return run;
}

static void test_chain(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT, text = STRBUF_INIT, want = STRBUF_INIT;
	struct strbuf got = STRBUF_INIT, h1 = STRBUF_INIT, h2 = STRBUF_INIT;
	struct prov *p = NULL;
	struct seen s;
	struct chain_check cc;
	char hex[HASH_HEX_SIZE];

	strbuf_addf(&path, "%s/provenance.db", scratch);
	CHECK(prov_open(&p, path.buf, &err) == 0, "open a fresh database");
	make_run(p, 1000, 1);
	make_run(p, 2000, 1);
	make_run(p, 3000, 1);

	/* the canonical text of execution 2 */
	CHECK(chain_exec_text(prov_sqlite(p), 2, &text, &err) == 0, "canonical text of an execution");
	strbuf_addstr(&want, "exec|i2|i1|x");
	hex_of(&want, "eval/e/m1");
	strbuf_addstr(&want, "|x");
	hex_of(&want, "eval");
	strbuf_addstr(&want, "|-|-|-|-|x");
	hex_of(&want, "ran");
	strbuf_addstr(&want, "|-|x");
	hex_of(&want, "[\"gen\"]");
	strbuf_addstr(&want, "|x7B7D|-|x");
	hex_of(&want, D2);
	strbuf_addstr(&want, "|i1|i10|i0|i0|i0|r1.000500000000e+03|r1.001250000000e+03"
			     "|r7.500000000000e-01|r0.000000000000e+00|i0|-|-\ninput|x");
	hex_of(&want, "model");
	strbuf_addstr(&want, "|x");
	hex_of(&want, "model/m1");
	strbuf_addstr(&want, "|x");
	hex_of(&want, D1);
	strbuf_addstr(&want, "\nmetric|x");
	hex_of(&want, "eval/e/m1");
	strbuf_addstr(&want, "|-|-|-|x");
	hex_of(&want, "acc");
	strbuf_addstr(&want, "|r5.000000000000e-01|-|-|-\nmetric|x");
	hex_of(&want, "eval/e/m1");
	strbuf_addstr(&want, "|-|-|-|x");
	hex_of(&want, "loss");
	strbuf_addstr(&want, "|r2.000000000000e+00|i10|-|-\n");
	CHECK_STR(text.buf, want.buf, "canonical text: exec line, then inputs, then metrics");
	hash_buf_hex(text.buf, text.len, hex);
	sql_str(path.buf, "SELECT record_hash FROM executions WHERE id = 2", &got);
	CHECK_STR(got.buf, hex, "record_hash is the SHA-256 of the canonical text (sealed at insert)");

	strbuf_reset(&text);
	CHECK(chain_run_text(prov_sqlite(p), 1, &text, &err) == 0, "canonical text of a run");
	CHECK(!strncmp(text.buf, "run|i1|x73|", 11), "run line starts with tag, id, name");
	strbuf_reset(&want);
	strbuf_addstr(&want, "|x");
	hex_of(&want, CHAIN_ZERO);
	strbuf_addstr(&want, "\nexec|i1|x");
	CHECK(strstr(text.buf, want.buf) != NULL, "run line ends with prev_hash (zeros), then executions");
	sql_str(path.buf, "SELECT prev_hash FROM runs WHERE id = 2", &h2);
	sql_str(path.buf, "SELECT record_hash FROM runs WHERE id = 1", &h1);
	CHECK_STR(h2.buf, h1.buf, "run 2's prev_hash is run 1's record_hash");

	strbuf_reset(&err);
	CHECK(chain_exec_hash(prov_sqlite(p), 99, hex, &err) < 0, "hash of a missing execution fails");
	CHECK_STR(err.buf, "no execution 99 in the provenance database", "missing execution message");
	prov_close(p);
	p = NULL;

	CHECK(verify_path(path.buf, &s, &cc) == 0 && s.problems == 0, "an intact chain verifies");
	CHECK(cc.runs == 3 && cc.execs == 6, "every run and execution was checked");
	sql_str(path.buf, "SELECT record_hash FROM runs WHERE id = 3", &h1);
	CHECK_STR(cc.head, h1.buf, "the chain head is the last run's record_hash");
	CHECK(cc.head_run == 3, "the chain head names the last run");

	/* tampering, each undone afterwards */
	sql_exec(path.buf, "UPDATE executions SET exit_code = 9 WHERE id = 3");
	verify_path(path.buf, &s, &cc);
	CHECK(s.problems == 1 && !strcmp(s.kinds, "exec-hash") && s.last_exec == 3 &&
		      s.last_run == 2,
	      "an edited exit code breaks that execution's hash");
	sql_exec(path.buf, "UPDATE executions SET exit_code = 0 WHERE id = 3");
	verify_path(path.buf, &s, &cc);
	CHECK(s.problems == 0, "restoring the value restores the chain");

	sql_exec(path.buf, "UPDATE metrics SET value = 0.51 WHERE execution_id = 4 AND metric = 'acc'");
	verify_path(path.buf, &s, &cc);
	CHECK(s.problems == 1 && s.last_exec == 4, "an edited metric value breaks its execution's hash");
	sql_exec(path.buf, "UPDATE metrics SET value = 0.5 WHERE execution_id = 4 AND metric = 'acc'");

	sql_exec(path.buf, "UPDATE inputs SET digest = 'ff' WHERE execution_id = 6");
	verify_path(path.buf, &s, &cc);
	CHECK(s.problems == 1 && s.last_exec == 6, "an edited input breaks its execution's hash");
	strbuf_reset(&text);
	strbuf_addf(&text, "UPDATE inputs SET digest = '%s' WHERE execution_id = 6", D1);
	sql_exec(path.buf, text.buf);

	sql_exec(path.buf, "UPDATE runs SET ended = 2003 WHERE id = 2");
	verify_path(path.buf, &s, &cc);
	CHECK(s.problems == 1 && !strcmp(s.kinds, "run-hash") && s.last_run == 2,
	      "an edited run row breaks the run's hash");
	sql_exec(path.buf, "UPDATE runs SET ended = 2002 WHERE id = 2");

	sql_exec(path.buf, "UPDATE metrics SET value = 0.5, n = 3 WHERE execution_id = 2 AND metric = 'acc'");
	verify_path(path.buf, &s, &cc);
	CHECK(s.problems == 1, "adding a sample size to a metric is detected");
	sql_exec(path.buf, "UPDATE metrics SET n = NULL WHERE execution_id = 2 AND metric = 'acc'");
	verify_path(path.buf, &s, &cc);
	CHECK(s.problems == 0, "all tampering undone: clean again");

	/* deletions, on copies */
	struct strbuf copy = STRBUF_INIT, cmd = STRBUF_INIT;
	strbuf_addf(&copy, "%s/copy.db", scratch);
	strbuf_addf(&cmd, "cp '%s' '%s'", path.buf, copy.buf);
	CHECK(system(cmd.buf) == 0, "copy the database");
	sql_exec(copy.buf, "DELETE FROM runs WHERE id = 2");
	verify_path(copy.buf, &s, &cc);
	CHECK(strstr(s.kinds, "orphan") && strstr(s.kinds, "chain"),
	      "a deleted run: orphaned executions and a chain break");
	CHECK_STR(s.last_msg, "run 3: prev_hash does not match the record hash of run 1 (a run was"
			      " deleted, inserted, reordered or edited)",
		  "chain break message");
	CHECK(system(cmd.buf) == 0, "copy the database again");
	sql_exec(copy.buf, "DELETE FROM metrics WHERE execution_id = 5;"
			   " DELETE FROM inputs WHERE execution_id = 5;"
			   " DELETE FROM executions WHERE id = 5");
	verify_path(copy.buf, &s, &cc);
	CHECK(s.problems == 1 && !strcmp(s.kinds, "run-hash") && s.last_run == 3,
	      "a deleted execution breaks its run's hash");
	CHECK(system(cmd.buf) == 0, "copy the database again");
	sql_exec(copy.buf, "DELETE FROM runs WHERE id = 1");
	verify_path(copy.buf, &s, &cc);
	CHECK(strstr(s.kinds, "chain") && strstr(s.last_msg, "run 2 is the first run"),
	      "deleting the first run is detected");
	CHECK(system(cmd.buf) == 0, "copy the database again");
	sql_exec(copy.buf, "UPDATE runs SET record_hash = NULL WHERE id = 2");
	verify_path(copy.buf, &s, &cc);
	CHECK(strstr(s.kinds, "unsealed") != NULL, "an unsealed run in the middle is a problem");

	/* a running last run is a note; marking it interrupted seals it */
	CHECK(prov_open(&p, path.buf, &err) == 0, "reopen for writing");
	make_run(p, 4000, 0);
	prov_close(p);
	p = NULL;
	verify_path(path.buf, &s, &cc);
	CHECK(s.problems == 0 && s.notes == 1, "a run still running is a note, not a problem");
	CHECK(cc.head[0] == '\0', "no chain head while the last run is unsealed");
	CHECK(prov_open(&p, path.buf, &err) == 0, "reopen for writing");
	strbuf_reset(&err);
	CHECK(prov_mark_interrupted(p, &err) == 0, "mark interrupted");
	/* prov_run_end inside an open transaction seals within it */
	int64_t r5 = make_run(p, 5000, 0);
	CHECK(prov_begin(p, &err) == 0, "begin");
	CHECK(prov_run_end(p, r5, "failed", 5002, 1, 0, 1, 0, &err) == 0,
	      "prov_run_end inside a transaction");
	CHECK(prov_commit(p, &err) == 0, "commit");
	prov_close(p);
	p = NULL;
	verify_path(path.buf, &s, &cc);
	CHECK(s.problems == 0 && s.notes == 0, "the interrupted run is sealed and the chain verifies");
	CHECK(cc.runs == 5 && cc.execs == 10, "five runs, ten executions");

	/* schema 1 -> 2 reproduces the same hashes */
	sql_str(path.buf, "SELECT group_concat(record_hash) FROM (SELECT record_hash FROM runs ORDER BY id)",
		&h1);
	sql_str(path.buf, "SELECT group_concat(record_hash) FROM (SELECT record_hash FROM executions"
			  " ORDER BY id)", &h2);
	CHECK(sql_exec(path.buf, "ALTER TABLE runs DROP COLUMN record_hash;"
				 " ALTER TABLE runs DROP COLUMN prev_hash;"
				 " ALTER TABLE executions DROP COLUMN record_hash;"
				 " ALTER TABLE inputs DROP COLUMN source;"
				 " PRAGMA user_version = 1") == 0,
	      "turn the database back into schema 1");
	strbuf_reset(&err);
	CHECK(prov_open_readonly(&p, path.buf, &err) < 0, "a schema-1 database cannot be verified read-only");
	strbuf_reset(&want);
	strbuf_addf(&want, "older than %d", PROV_SCHEMA_VERSION);
	CHECK(strstr(err.buf, want.buf) != NULL, "and says it is older");
	strbuf_reset(&err);
	CHECK(prov_open(&p, path.buf, &err) == 0, "opening for writing migrates it");
	prov_close(p);
	p = NULL;
	sql_str(path.buf, "SELECT group_concat(record_hash) FROM (SELECT record_hash FROM runs ORDER BY id)",
		&got);
	CHECK_STR(got.buf, h1.buf, "the migration computes the same run hashes");
	sql_str(path.buf, "SELECT group_concat(record_hash) FROM (SELECT record_hash FROM executions"
			  " ORDER BY id)", &got);
	CHECK_STR(got.buf, h2.buf, "the migration computes the same execution hashes");
	verify_path(path.buf, &s, &cc);
	CHECK(s.problems == 0, "the migrated chain verifies");

	strbuf_release(&copy);
	strbuf_release(&cmd);
	strbuf_release(&path);
	strbuf_release(&err);
	strbuf_release(&text);
	strbuf_release(&want);
	strbuf_release(&got);
	strbuf_release(&h1);
	strbuf_release(&h2);
}

static void test_docs(void)
{
	struct strbuf doc = STRBUF_INIT;
	CHECK(strbuf_read_file(&doc, "docs/auditing.md") == 0, "read docs/auditing.md");
	CHECK(strstr(doc.buf, chain_exec_sql()) != NULL,
	      "docs/auditing.md gives the execution SELECT exactly as the code runs it");
	CHECK(strstr(doc.buf, chain_run_sql()) != NULL,
	      "docs/auditing.md gives the run SELECT exactly as the code runs it");
	strbuf_release(&doc);
}

/* Cache hits are sealed from their values, without a query: the text must be
 * the one the SQL gives, also for odd bytes, and ids must stay in step with
 * rows inserted the other way and with rollbacks. */
static void test_hit_seal(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT, got = STRBUF_INIT;
	struct prov *p = NULL;
	char hex[HASH_HEX_SIZE];
	int64_t run = 0, id1 = 0, id2 = 0, id3 = 0, id4 = 0;

	strbuf_addf(&path, "%s/hits.db", scratch);
	CHECK(prov_open(&p, path.buf, &err) == 0, "hits: open");
	struct prov_run r = a_run(5000);
	CHECK(prov_run_begin(p, &r, &run, &err) == 0, "hits: run");
	struct prov_exec ran = { 0 };
	ran.run_id = run;
	ran.stage_id = "model/m1";
	ran.status = "ran";
	ran.cache_key = D1;
	ran.argv_json = "[\"gen\"]";
	ran.output_digest = D2;
	ran.started = 5000.5;
	ran.ended = 5001;
	struct prov_exec hit = { 0 };
	hit.run_id = run;
	hit.stage_id = "eval/e/m1";
	hit.kind = "eval";
	hit.model = "m\xc3\xa9|x\n\x01";
	hit.status = "cached";
	hit.cache_key = D1;
	hit.argv_json = "[\"ignored\"]"; /* a hit is a reference: not stored */
	hit.output_digest = D2;
	CHECK(prov_begin(p, &err) == 0, "hits: begin");
	CHECK(prov_record_exec(p, &hit, &id1, &err) == 0, "hits: a hit first in the database");
	CHECK(prov_record_exec(p, &ran, &id2, &err) == 0, "hits: then a stage that ran");
	CHECK(prov_record_exec(p, &hit, &id3, &err) == 0, "hits: then a hit again");
	CHECK(id1 == 1 && id2 == 2 && id3 == 3, "hits: ids follow each other");
	CHECK(prov_commit(p, &err) == 0, "hits: commit");
	CHECK(prov_begin(p, &err) == 0, "hits: begin 2");
	CHECK(prov_record_exec(p, &hit, &id4, &err) == 0 && id4 == 4, "hits: a hit to roll back");
	CHECK(prov_rollback(p) == 0, "hits: rollback");
	CHECK(prov_begin(p, &err) == 0, "hits: begin 3");
	CHECK(prov_record_exec(p, &hit, &id4, &err) == 0 && id4 == 4, "hits: id 4 again after it");
	CHECK(prov_commit(p, &err) == 0, "hits: commit 3");
	struct strbuf sql = STRBUF_INIT;
	for (int64_t id = 1; id <= 4; id++) {
		strbuf_reset(&sql);
		strbuf_addf(&sql, "SELECT record_hash FROM executions WHERE id = %lld", (long long)id);
		sql_str(path.buf, sql.buf, &got);
		CHECK(chain_exec_hash(prov_sqlite(p), id, hex, &err) == 0 && !strcmp(got.buf, hex),
		      "hits: the stored seal is the SQL text's hash");
	}
	strbuf_release(&sql);
	sql_str(path.buf, "SELECT count(*) FROM executions WHERE status = 'cached'"
			  " AND argv_json IS NULL AND env_json IS NULL AND cache_record IS NULL"
			  " AND output_files IS NULL AND record_hash IS NOT NULL", &got);
	CHECK_STR(got.buf, "3", "hits: stored as references (no argv, env, record or size)");
	CHECK(prov_run_end(p, run, "ok", 5002, 1, 3, 0, 0, &err) == 0, "hits: run end");
	prov_close(p);
	struct seen s;
	struct chain_check cc;
	CHECK(verify_path(path.buf, &s, &cc) == 0 && s.problems == 0 && cc.execs == 4,
	      "hits: the chain verifies");
	strbuf_release(&path);
	strbuf_release(&err);
	strbuf_release(&got);
}

int main(void)
{
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	test_chain();
	test_hit_seal();
	test_docs();
	struct strbuf cmd = STRBUF_INIT;
	strbuf_addf(&cmd, "rm -rf '%s'", scratch);
	if (system(cmd.buf) != 0)
		printf("# cannot remove %s\n", scratch);
	strbuf_release(&cmd);
	return check_done();
}
