/*
 * Unit tests for provenance schema 6 (prov.c, chain.c): the columns that say
 * where and how a stage ran. A schema-5 database (rows written before them)
 * migrates without touching any record hash; a new row's values are recorded
 * and hashed, so editing one is detected; a row of a stage that never
 * started keeps the line it always had.
 */
#include "check.h"
#include "chain_probe.h"
#include "chain.h"
#include "fsutil.h"
#include "prov.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

static char scratch[] = "/tmp/study-test-prov-v6.XXXXXX";

static int64_t record(struct prov *p, int64_t run, const char *stage, const char *executor)
{
	struct prov_exec e;
	struct strbuf err = STRBUF_INIT;
	int64_t id = 0;
	memset(&e, 0, sizeof(e));
	e.run_id = run;
	e.stage_id = stage;
	e.status = "ran";
	e.cache_key = "k";
	e.exit_code = 0;
	e.started = 1700000000.5;
	e.ended = 1700000002.0;
	e.cpu_s = 1;
	e.peak_rss_kb = 10;
	e.executor = executor;
	e.job_id = executor ? "4242" : NULL;
	e.host = executor ? "node7" : NULL;
	e.queue = executor ? "gpu" : NULL;
	e.queue_wait_s = executor ? 12.5 : -1;
	e.over_memory = 0;
	e.mem_enforcement = executor ? "cgroup" : NULL;
	if (prov_begin(p, &err) < 0 || prov_record_exec(p, &e, &id, &err) < 0 ||
	    prov_commit(p, &err) < 0)
		printf("# record: %s\n", err.buf);
	strbuf_release(&err);
	return id;
}

static int64_t begin_run(struct prov *p, double t)
{
	struct prov_run r = { .study_name = "s", .study_path = "s.yaml", .study_digest = "d",
			      .git_dirty = -1, .tool_version = "t", .argv_json = "[]",
			      .started = t };
	struct strbuf err = STRBUF_INIT;
	int64_t id = 0;
	if (prov_run_begin(p, &r, &id, &err) < 0)
		printf("# run: %s\n", err.buf);
	strbuf_release(&err);
	return id;
}

static void end_run(struct prov *p, int64_t run, double t)
{
	struct strbuf err = STRBUF_INIT;
	if (prov_run_end(p, run, "ok", t, 1, 0, 0, 0, &err) < 0)
		printf("# run end: %s\n", err.buf);
	strbuf_release(&err);
}

int main(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct prov *p = NULL;
	if (!mkdtemp(scratch))
		return 1;
	strbuf_addf(&path, "%s/provenance.db", scratch);

	/* a database as schema 5 wrote it: no v6 columns, rows hashed without them */
	CHECK(prov_open(&p, path.buf, &err) == 0, "a fresh database");
	int64_t run = begin_run(p, 1700000000);
	int64_t old = record(p, run, "data/old", NULL);
	end_run(p, run, 1700000003);
	prov_close(p);
	p = NULL;
	CHECK(sql(path.buf, "ALTER TABLE executions DROP COLUMN executor;"
			    "ALTER TABLE executions DROP COLUMN job_id;"
			    "ALTER TABLE executions DROP COLUMN host;"
			    "ALTER TABLE executions DROP COLUMN queue;"
			    "ALTER TABLE executions DROP COLUMN queue_wait_s;"
			    "ALTER TABLE executions DROP COLUMN over_memory;"
			    "ALTER TABLE executions DROP COLUMN mem_enforcement;"
			    "PRAGMA user_version = 5") == 0,
	      "turned into a schema-5 database");

	strbuf_reset(&err);
	CHECK(prov_open(&p, path.buf, &err) == 0, "a schema-5 database opens and migrates");
	if (!p) {
		printf("# %s\n", err.buf);
		return check_done();
	}
	CHECK(problems(path.buf) == 0, "after the migration every hash still verifies");

	run = begin_run(p, 1700000010);
	int64_t id = record(p, run, "model/new", "slurm");
	int64_t never = record(p, run, "model/nostart", NULL);
	end_run(p, run, 1700000013);
	prov_close(p);
	p = NULL;
	CHECK(old > 0 && id > old && never > id, "rows recorded");
	CHECK(problems(path.buf) == 0, "the new rows verify");

	struct strbuf text = STRBUF_INIT;
	sqlite3 *db = NULL;
	sqlite3_open(path.buf, &db);
	CHECK(chain_exec_text(db, id, &text, &err) == 0 &&
		      strstr(text.buf, "|x736C75726D|x34323432|x6E6F646537|x677075|r1.250000000000e+01|"
				       "i0|x6367726F7570\n"),
	      "a row with an executor: the seven columns end its line");
	strbuf_reset(&text);
	CHECK(chain_exec_text(db, never, &text, &err) == 0 &&
		      !strstr(text.buf, "|-|-|-|-|-|-|-\n"),
	      "a row without one: the line it always had");
	sqlite3_close(db);
	strbuf_release(&text);

	CHECK(sql(path.buf, "UPDATE executions SET host = 'elsewhere' WHERE stage_id = 'model/new'") ==
		      0,
	      "edit where a stage ran");
	CHECK(problems(path.buf) == 1, "the edit breaks that execution's hash");
	CHECK(sql(path.buf, "UPDATE executions SET job_id = '1' WHERE stage_id = 'model/nostart'") == 0,
	      "give a job id to a row that had none");
	CHECK(problems(path.buf) == 2, "... detected too");

	struct strbuf ignored = STRBUF_INIT;
	remove_tree(scratch, &ignored);
	strbuf_release(&ignored);
	strbuf_release(&path);
	strbuf_release(&err);
	return check_done();
}
