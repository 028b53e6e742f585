/*
 * Unit tests for provenance schema 7 (prov.c, prov_query.c): the table of
 * batch jobs a run submitted. A schema-6 database migrates (the table
 * appears, every hash still verifies); jobs are recorded in order; a run's
 * jobs are listed with whether the run recorded an execution for each, so
 * that the ones a killed run left out are told apart.
 */
#include "check.h"
#include "chain_probe.h"
#include "chain.h"
#include "fsutil.h"
#include "prov.h"
#include "prov_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

static char scratch[] = "/tmp/study-test-prov-jobs.XXXXXX";

int main(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct prov *p = NULL;
	if (!mkdtemp(scratch))
		return 1;
	strbuf_addf(&path, "%s/provenance.db", scratch);

	CHECK(prov_open(&p, path.buf, &err) == 0, "a fresh database");
	struct prov_run r = { .study_name = "s", .study_path = "s.yaml", .study_digest = "d",
			      .git_dirty = -1, .tool_version = "t", .argv_json = "[]",
			      .started = 1700000000 };
	int64_t run = 0;
	CHECK(prov_run_begin(p, &r, &run, &err) == 0, "a run");
	CHECK(prov_begin(p, &err) == 0 &&
		      prov_record_job(p, run, "data/a", "ka", "slurm", "101", 1700000001, &err) == 0 &&
		      prov_record_job(p, run, "data/b", "kb", "slurm", "102", 1700000002, &err) == 0 &&
		      prov_commit(p, &err) == 0,
	      "two jobs recorded");
	struct prov_exec e;
	memset(&e, 0, sizeof(e));
	e.run_id = run;
	e.stage_id = "data/a";
	e.status = "ran";
	e.cache_key = "ka";
	e.started = 1700000003;
	e.ended = 1700000004;
	e.cpu_s = -1;
	e.peak_rss_kb = -1;
	e.queue_wait_s = 1;
	e.executor = "slurm";
	e.job_id = "101";
	int64_t id = 0;
	CHECK(prov_begin(p, &err) == 0 && prov_record_exec(p, &e, &id, &err) == 0 &&
		      prov_commit(p, &err) == 0,
	      "the first job's execution recorded");
	/* the run is killed here: no end, data/b's job never reported */
	prov_close(p);
	p = NULL;
	if (err.len)
		printf("# %s\n", err.buf);

	CHECK(prov_open_readonly(&p, path.buf, &err) == 0, "read back");
	struct prov_job_info *jobs = NULL;
	size_t nr = 0;
	CHECK(prov_run_jobs(p, run, &jobs, &nr, &err) == 0 && nr == 2, "the run's two jobs");
	if (nr == 2) {
		CHECK(!strcmp(jobs[0].job_id, "101") && !strcmp(jobs[0].stage_id, "data/a") &&
			      jobs[0].ended && !strcmp(jobs[0].executor, "slurm") &&
			      jobs[0].submitted == 1700000001,
		      "the first: its execution is recorded");
		CHECK(!strcmp(jobs[1].job_id, "102") && !jobs[1].ended,
		      "the second: still out when the run stopped");
	}
	prov_jobs_free(jobs, nr);
	CHECK(prov_run_jobs(p, run + 1, &jobs, &nr, &err) == 0 && nr == 0, "another run: none");
	prov_jobs_free(jobs, nr);
	prov_close(p);
	p = NULL;

	/* a schema-6 database (no jobs table) migrates to 7 */
	CHECK(sql(path.buf, "DROP TABLE jobs; PRAGMA user_version = 6") == 0, "turned into schema 6");
	strbuf_reset(&err);
	CHECK(prov_open(&p, path.buf, &err) == 0, "a schema-6 database opens and migrates");
	prov_close(p);
	p = NULL;
	CHECK(sql(path.buf, "SELECT count(*) FROM jobs") == 0, "the jobs table exists again");
	CHECK(problems(path.buf) == 0, "every hash still verifies");

	struct strbuf ignored = STRBUF_INIT;
	remove_tree(scratch, &ignored);
	strbuf_release(&ignored);
	strbuf_release(&path);
	strbuf_release(&err);
	return check_done();
}
