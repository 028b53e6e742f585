/*
 * Unit tests for the runner (runner.c), driven through the fake executor
 * (exec_fake.h): nothing is executed, stages end as each test's script says,
 * on a virtual clock. A real store and provenance database in a scratch
 * directory hold what the runner records, and the tests read them back:
 * counts, statuses, reasons, times, where and how each stage ran. Covered:
 * success and the cache, failure propagation with and without
 * --keep-going, -j cpu slots, retries and their backoff, --force, an
 * interrupt (running stages cancelled, what a stopped stage wrote not kept),
 * time limits (TERM, then KILL), the memory limit, a stage that cannot start,
 * --dry-run through the dry executor, and the resource pools: GPU slots
 * handed out exclusively and named in CUDA_VISIBLE_DEVICES (not in the cache
 * key), stages whose resources.mem add up to more than the pool never
 * overlapping, and the load-time refusal of a stage that asks for more than
 * the executor can ever give (exec_check_plan's exact messages).
 */
#include "check.h"
#include "exec_fake.h"
#include "executor.h"
#include "fsutil.h"
#include "plan.h"
#include "prov.h"
#include "runner.h"
#include "store.h"
#include "study.h"
#include "xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

static char scratch[] = "/tmp/study-test-runner.XXXXXX";

/* data/a, data/b -> model/m1, model/m2 -> eval/e/m1/base, eval/e/m2/base */
static const char study_body[] =
	"data:\n"
	"  a: {run: [/bin/sh, -c, 'exit 0', x, \"${out}\"]}\n"
	"  b: {run: [/bin/sh, -c, 'exit 0', x, \"${out}\"]}\n"
	"models:\n"
	"  m1: {run: [/bin/sh, -c, 'exit 0', x, \"${data.a}\", \"${out}\"]}\n"
	"  m2: {run: [/bin/sh, -c, 'exit 0', x, \"${data.b}\", \"${out}\"],"
	" resources: {cpus: 2, time: 30}}\n"
	"evaluations:\n"
	"  e: {run: [/bin/sh, -c, 'exit 0', x, \"${model}\", \"${out}\"], resources: {mem: 10M}}\n";

struct fx {
	char *root, *store_dir;
	struct study st;
	struct plan p;
	struct store store;
	struct prov *pv;
	int64_t run_id;
	struct run_counts c;
	int rc;
};

static int fx_open_body(struct fx *f, const char *name, const char *body);

static int fx_open(struct fx *f, const char *name)
{
	return fx_open_body(f, name, study_body);
}

static int fx_open_body(struct fx *f, const char *name, const char *body)
{
	struct strbuf err = STRBUF_INIT, text = STRBUF_INIT;
	memset(f, 0, sizeof(*f));
	f->root = xasprintf("%s/%s", scratch, name);
	f->store_dir = xasprintf("%s/%s-store", scratch, name);
	mkdir(f->root, 0755);
	strbuf_addf(&text, "study: t\nroot: %s\n%s", f->root, body);
	char *path = xasprintf("%s/s.yaml", f->root);
	int ok = study_load_buffer(&f->st, path, text.buf, text.len, &err) == 0 &&
		 plan_build(&f->p, &f->st, &err) == 0 &&
		 store_open(&f->store, f->store_dir, &err) == 0;
	if (ok) {
		char *db = xasprintf("%s/provenance.db", f->store_dir);
		ok = prov_open(&f->pv, db, &err) == 0;
		free(db);
	}
	if (!ok)
		printf("# setup: %s\n", err.buf);
	free(path);
	strbuf_release(&err);
	strbuf_release(&text);
	return ok;
}

static void fx_close(struct fx *f)
{
	prov_close(f->pv);
	store_release(&f->store);
	plan_release(&f->p);
	study_release(&f->st);
	free(f->root);
	free(f->store_dir);
}

static long stage_index(const struct fx *f, const char *id)
{
	for (size_t i = 0; i < f->p.nr; i++)
		if (!strcmp(f->p.stages[i].id, id))
			return (long)i;
	return -1;
}

/* One run on `ex` with the given options (jobs default 4), recorded as cmd_run
 * records one. */
static void fx_run(struct fx *f, struct executor *ex, struct run_opts *o)
{
	struct strbuf err = STRBUF_INIT;
	struct prov_run pr = { .study_name = "t", .study_path = "s.yaml", .study_digest = "d",
			       .git_dirty = -1, .tool_version = "test", .host = "h", .user = "u",
			       .argv_json = "[]", .cwd = "/", .started = FAKE_WALL0 };
	o->executor = ex;
	if (!o->jobs)
		o->jobs = 4;
	if (prov_run_begin(f->pv, &pr, &f->run_id, &err) < 0)
		printf("# run begin: %s\n", err.buf);
	f->rc = runner_run(&f->p, &f->store, f->pv, o, f->run_id, &f->c, &err);
	if (f->rc < 0)
		printf("# runner: %s\n", err.buf);
	const char *status = f->c.interrupted ? "interrupted" : f->c.failed ? "failed" : "ok";
	strbuf_reset(&err);
	if (prov_run_end(f->pv, f->run_id, status, FAKE_WALL0 + 1000, f->c.ran, f->c.cached,
			 f->c.failed, f->c.skipped, &err) < 0)
		printf("# run end: %s\n", err.buf);
	strbuf_release(&err);
}

/* The first column of the first row of `sql` (with %lld = the run id) as
 * text, "" for none or NULL. */
static const char *q(struct fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *q(struct fx *f, const char *fmt, ...)
{
	static char buf[4096];
	va_list ap;
	struct strbuf sql = STRBUF_INIT;
	va_start(ap, fmt);
	strbuf_vaddf(&sql, fmt, ap);
	va_end(ap);
	buf[0] = '\0';
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(prov_sqlite(f->pv), sql.buf, -1, &st, NULL) != SQLITE_OK) {
		printf("# sql: %s: %s\n", sql.buf, sqlite3_errmsg(prov_sqlite(f->pv)));
	} else if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
		snprintf(buf, sizeof(buf), "%s", (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	strbuf_release(&sql);
	return buf;
}

/* A stage's row in this run with status other than 'retried': column `col`. */
static const char *row(struct fx *f, const char *stage, const char *col)
{
	return q(f, "SELECT %s FROM executions WHERE run_id = %lld AND stage_id = '%s'"
		    " AND status <> 'retried' ORDER BY id DESC LIMIT 1",
		 col, (long long)f->run_id, stage);
}

static const struct exec_fake_start *start_of(struct executor *ex, const char *stage,
					      int attempt)
{
	size_t n;
	const struct exec_fake_start *s = exec_fake_starts(ex, &n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s[i].stage_id, stage) && (!attempt || s[i].attempt == attempt))
			return &s[i];
	return NULL;
}

static size_t nstarts(struct executor *ex)
{
	size_t n;
	exec_fake_starts(ex, &n);
	return n;
}

static void test_all_run_then_cached(void)
{
	struct fx f;
	if (!CHECK(fx_open(&f, "ok"), "setup: a study of 6 stages"))
		return;
	struct executor *ex = exec_fake_new(NULL, 0, NULL);
	struct run_opts o = { 0 };
	fx_run(&f, ex, &o);
	CHECK(f.rc == 0 && f.c.ran == 6 && f.c.failed == 0 && f.c.cached == 0,
	      "every stage ran through the executor");
	CHECK(nstarts(ex) == 6, "the executor started each once");
	CHECK_STR(q(&f, "SELECT count(*) FROM executions WHERE run_id = %lld AND status = 'ran'",
		    (long long)f.run_id), "6", "provenance: six 'ran' rows");
	CHECK_STR(row(&f, "model/m1", "executor"), "fake", "the executor's name is recorded");
	CHECK_STR(row(&f, "model/m1", "host"), "fake-host", "... and the host it reported");
	CHECK(!strncmp(row(&f, "model/m1", "job_id"), "fake-", 5), "... and its job id");
	CHECK_STR(row(&f, "model/m1", "queue"), "", "... no queue (NULL)");
	CHECK_STR(row(&f, "data/a", "wall_s"), "1.0", "wall time as the executor measured it");
	const struct exec_fake_start *s = start_of(ex, "model/m1", 1), *a = start_of(ex, "data/a", 1);
	CHECK(s && a && s->at >= a->ended, "a stage starts after its input's producer ended");
	CHECK(s && !strcmp(row(&f, "model/m1", "started"),
			   q(&f, "SELECT %.1f", FAKE_WALL0 + (s->at - FAKE_T0))),
	      "started is the executor's wall clock");
	const struct exec_fake_start *m2 = start_of(ex, "model/m2", 1);
	CHECK(m2 && m2->cpus == 2 && m2->time_s == 30, "resources reach the executor");
	const struct exec_fake_start *ev = start_of(ex, "eval/e/m1/base", 1);
	CHECK(ev && ev->mem_bytes == 10 << 20, "... mem too");
	CHECK(ev && strstr(ev->argv, "/out/") && strstr(ev->argv, "/bin/sh -c exit 0 x "),
	      "the argv given is the prepared one (inputs and ${out} as paths)");
	CHECK_STR(row(&f, "eval/e/m1/base", "mem_enforcement"), "fake",
	      "how the memory limit was enforced is recorded");
	CHECK_STR(row(&f, "data/a", "mem_enforcement"), "", "... NULL without a limit");
	exec_destroy(ex);

	ex = exec_fake_new(NULL, 0, NULL);
	struct run_opts o2 = { 0 };
	fx_run(&f, ex, &o2);
	CHECK(f.c.cached == 6 && f.c.ran == 0 && nstarts(ex) == 0,
	      "second run: everything cached, nothing given to the executor");
	CHECK_STR(row(&f, "model/m1", "executor"), "", "a cache hit has no executor");
	exec_destroy(ex);
	fx_close(&f);
}

static void test_failure_propagation(void)
{
	struct fx f;
	if (!CHECK(fx_open(&f, "fail"), "setup"))
		return;
	static const struct exec_fake_rule rules[] = { { .stage = "data/a", .exit_code = 3 } };
	struct executor *ex = exec_fake_new(rules, 1, NULL);
	struct run_opts o = { .jobs = 1 };
	fx_run(&f, ex, &o);
	CHECK(f.c.failed == 1 && f.c.ran == 0 && f.c.not_started == 3 && f.c.skipped == 2,
	      "-j 1 without --keep-going: the first failure stops the run");
	CHECK_STR(row(&f, "data/a", "reason"), "exit status 3", "the failure's reason");
	CHECK_STR(row(&f, "data/a", "exit_code"), "3", "its exit status");
	CHECK_STR(row(&f, "model/m1", "reason"), "upstream 'data/a' failed",
		  "downstream: skipped, naming the failed stage");
	CHECK_STR(row(&f, "eval/e/m1/base", "status"), "skipped", "transitively");
	CHECK_STR(row(&f, "data/b", "status"), "not-started", "the rest: not started");
	exec_destroy(ex);

	ex = exec_fake_new(rules, 1, NULL);
	struct run_opts k = { .jobs = 1, .keep_going = 1 };
	fx_run(&f, ex, &k);
	CHECK(f.c.failed == 1 && f.c.ran == 3 && f.c.skipped == 2 && f.c.not_started == 0,
	      "--keep-going: everything not downstream of the failure runs");
	CHECK_STR(row(&f, "eval/e/m2/base", "status"), "ran", "... the other branch");
	CHECK_STR(q(&f, "SELECT ran || ' ' || failed || ' ' || skipped FROM runs WHERE id = %lld",
		    (long long)f.run_id), "3 1 2", "the run's counts");
	exec_destroy(ex);
	fx_close(&f);
}

static void test_slots(void)
{
	struct fx f;
	if (!CHECK(fx_open(&f, "slots"), "setup"))
		return;
	struct executor *ex = exec_fake_new(NULL, 0, NULL);
	struct run_opts o = { .jobs = 1 };
	fx_run(&f, ex, &o);
	CHECK(exec_fake_max_running(ex) == 1 && f.c.ran == 6, "-j 1: one stage at a time");
	exec_destroy(ex);
	fx_close(&f);

	if (!CHECK(fx_open(&f, "slots2"), "setup"))
		return;
	ex = exec_fake_new(NULL, 0, NULL);
	struct run_opts o2 = { .jobs = 2 };
	fx_run(&f, ex, &o2);
	CHECK(exec_fake_max_running(ex) == 2, "-j 2: two at a time");
	/* model/m2 takes 2 cpus: nothing else runs with it */
	const struct exec_fake_start *m2 = start_of(ex, "model/m2", 1);
	size_t n;
	const struct exec_fake_start *s = exec_fake_starts(ex, &n);
	int overlap = 0;
	for (size_t i = 0; m2 && i < n; i++)
		if (&s[i] != m2 && s[i].at < m2->ended && s[i].ended > m2->at)
			overlap = 1;
	CHECK(m2 && !overlap, "a stage with cpus: 2 under -j 2 runs alone");
	exec_destroy(ex);
	fx_close(&f);
}

static void test_retries(void)
{
	struct fx f;
	if (!CHECK(fx_open(&f, "retry"), "setup"))
		return;
	static const struct exec_fake_rule rules[] = {
		{ .stage = "data/a", .attempt = 1, .exit_code = 1, .secs = 2 },
		{ .stage = "data/b", .term_signal = SIGSEGV },
	};
	struct executor *ex = exec_fake_new(rules, 2, NULL);
	struct run_opts o = { .retries = 2, .keep_going = 1 };
	fx_run(&f, ex, &o);
	CHECK(f.c.retried == 3 && f.c.ran == 3 && f.c.failed == 1 && f.c.skipped == 2,
	      "retries: a flaky stage succeeds, a crashing one fails after 3 attempts");
	const struct exec_fake_start *a1 = start_of(ex, "data/a", 1), *a2 = start_of(ex, "data/a", 2);
	CHECK(a1 && a2 && a2->at >= a1->ended + RETRY_BACKOFF_S,
	      "the next attempt waits RETRY_BACKOFF_S (virtual time)");
	CHECK(!start_of(ex, "data/a", 3), "no attempt after a success");
	CHECK_STR(q(&f, "SELECT group_concat(status || ': ' || coalesce(reason, ''), ' | ') FROM"
		    " (SELECT status, reason FROM executions WHERE run_id = %lld AND"
		    " stage_id = 'data/a' ORDER BY id)", (long long)f.run_id),
		  "retried: exit status 1; attempt 1 of 3 | ran: attempt 2 of 3",
		  "provenance: the failed attempt, then the one that counts");
	CHECK_STR(row(&f, "data/b", "reason"),
		  "killed by signal 11 (Segmentation fault); attempt 3 of 3",
		  "the last attempt's reason");
	CHECK_STR(q(&f, "SELECT count(*) FROM executions WHERE run_id = %lld AND"
		    " stage_id = 'data/b' AND status = 'retried'", (long long)f.run_id),
		  "2", "two retried rows for it");
	exec_destroy(ex);
	fx_close(&f);
}

static void test_force(void)
{
	struct fx f;
	if (!CHECK(fx_open(&f, "force"), "setup"))
		return;
	struct executor *ex = exec_fake_new(NULL, 0, NULL);
	struct run_opts o = { 0 };
	fx_run(&f, ex, &o);
	exec_destroy(ex);
	char *forced = xcalloc(f.p.nr, 1);
	forced[stage_index(&f, "data/a")] = 1;
	ex = exec_fake_new(NULL, 0, NULL);
	struct run_opts o2 = { .forced = forced };
	fx_run(&f, ex, &o2);
	CHECK(f.c.ran == 1 && f.c.cached == 5 && f.c.forced == 1 && nstarts(ex) == 1,
	      "--force: the forced stage runs, its unchanged output keeps the rest cached");
	CHECK_STR(row(&f, "data/a", "reason"), "forced", "its reason says forced");
	exec_destroy(ex);
	free(forced);
	fx_close(&f);
}

static void test_interrupt(void)
{
	struct fx f;
	if (!CHECK(fx_open(&f, "intr"), "setup"))
		return;
	/* data/a runs long and exits 0 on TERM; data/b's start (the second)
	 * raises SIGINT */
	static const struct exec_fake_rule rules[] = {
		{ .stage = "data/a", .secs = 100, .exits_on_term = 1, .term_exit_code = 0 },
		{ .stage = "data/b", .secs = 100, .raise_signal = SIGINT },
	};
	struct executor *ex = exec_fake_new(rules, 2, NULL);
	struct run_opts o = { .jobs = 2 };
	fx_run(&f, ex, &o);
	CHECK(f.c.interrupted == SIGINT, "the run knows it was interrupted, by SIGINT");
	CHECK(f.c.interrupted_stages == 2 && f.c.ran == 0 && f.c.not_started == 4,
	      "both running stages stopped, the rest never started");
	const struct exec_fake_start *a = start_of(ex, "data/a", 1), *b = start_of(ex, "data/b", 1);
	CHECK(a && b && a->cancelled && b->cancelled, "the runner cancelled them");
	CHECK(a && a->ended < 100 + FAKE_T0, "... and they stopped");
	CHECK_STR(row(&f, "data/b", "reason"),
		  "interrupted: the run received SIGINT (killed by signal 15 (Terminated))",
		  "a stage killed by the TERM");
	CHECK_STR(row(&f, "data/a", "reason"),
		  "interrupted: the run received SIGINT (stopped with TERM, it exited with status"
		  " 0; what it wrote is not kept)", "one that exited 0 on TERM");
	CHECK_STR(row(&f, "data/a", "output_digest"), "", "... its output is not kept");
	exec_destroy(ex);

	ex = exec_fake_new(NULL, 0, NULL);
	struct run_opts o2 = { 0 };
	fx_run(&f, ex, &o2);
	CHECK(f.c.ran == 6 && f.c.interrupted == 0, "the next run runs them all (nothing cached)");
	exec_destroy(ex);
	fx_close(&f);
}

static void test_limits(void)
{
	struct fx f;
	if (!CHECK(fx_open(&f, "limits"), "setup"))
		return;
	/* model/m2 has time: 30 */
	static const struct exec_fake_rule rules[] = {
		{ .stage = "model/m2", .secs = 100 },
		{ .stage = "eval/e/m1/base", .over_memory = 1 },
	};
	struct executor *ex = exec_fake_new(rules, 2, NULL);
	struct run_opts o = { .keep_going = 1 };
	fx_run(&f, ex, &o);
	CHECK_STR(row(&f, "model/m2", "reason"), "timed out after 30s (resources.time), killed",
		  "the executor's time limit: the stage is failed with the reason");
	CHECK_STR(row(&f, "model/m2", "timed_out"), "1", "timed_out recorded");
	CHECK_STR(row(&f, "model/m2", "wall_s"), "30.0", "stopped by the TERM at 30 s");
	CHECK_STR(row(&f, "eval/e/m1/base", "reason"),
		  "over memory limit (resources.mem 10M), killed", "over its mem: the reason");
	CHECK_STR(row(&f, "eval/e/m1/base", "over_memory"), "1", "over_memory recorded");
	CHECK_STR(row(&f, "eval/e/m1/base", "term_signal"), "9", "... killed by KILL");
	CHECK_STR(row(&f, "data/a", "over_memory"), "0", "0 for the others");
	exec_destroy(ex);

	/* a stage that ignores TERM gets KILL 5 s later */
	static const struct exec_fake_rule deaf[] = {
		{ .stage = "model/m2", .secs = 100, .ignore_term = 1 },
	};
	ex = exec_fake_new(deaf, 1, NULL);
	fx_run(&f, ex, &o);
	CHECK_STR(row(&f, "model/m2", "wall_s"), "35.0", "TERM ignored: KILL after the grace");
	CHECK_STR(row(&f, "model/m2", "term_signal"), "9", "... by signal 9");
	exec_destroy(ex);
	fx_close(&f);
}

static void test_cannot_start(void)
{
	struct fx f;
	if (!CHECK(fx_open(&f, "nostart"), "setup"))
		return;
	/* a work directory that cannot be made: work/ is a file */
	struct strbuf w = STRBUF_INIT, ignored = STRBUF_INIT;
	strbuf_addf(&w, "%s/work", f.store_dir);
	remove_tree(w.buf, &ignored);
	write_file_atomic(w.buf, "x", 1, 0644, &ignored);
	struct executor *ex = exec_fake_new(NULL, 0, NULL);
	struct run_opts o = { .jobs = 1 };
	fx_run(&f, ex, &o);
	CHECK(f.c.failed == 1 && nstarts(ex) == 0, "a stage whose work directory fails: failed,"
						       " never given to the executor");
	CHECK_STR(row(&f, "data/a", "executor"), "", "... no executor recorded");
	unlink(w.buf);
	strbuf_release(&w);
	strbuf_release(&ignored);
	exec_destroy(ex);
	fx_close(&f);
}

static void test_dry_run(void)
{
	struct fx f;
	if (!CHECK(fx_open(&f, "dry"), "setup"))
		return;
	struct executor *dry = exec_dry_new(NULL);
	struct run_opts o = { .dry_run = 1, .jobs = 1 };
	o.executor = dry;
	struct strbuf err = STRBUF_INIT;
	int rc = runner_run(&f.p, &f.store, NULL, &o, 0, &f.c, &err);
	CHECK(rc == 0 && f.c.would_run == 6 && f.c.ran == 0, "--dry-run: six would run");
	size_t n;
	char *const *ids = exec_dry_started(dry, &n);
	CHECK(n == 6 && !strcmp(ids[0], "data/a"), "... each handed to the dry executor");
	CHECK_STR(q(&f, "SELECT count(*) FROM executions"), "0", "... nothing recorded");
	exec_destroy(dry);
	strbuf_release(&err);
	fx_close(&f);
}

/* three 1-GPU stages, two of 60M, one asking nothing, one passing
 * CUDA_VISIBLE_DEVICES through */
static const char pools_body[] =
	"data:\n"
	"  g1: {run: [/bin/sh, -c, 'exit 0', x, \"${out}\"], resources: {gpus: 1}}\n"
	"  g2: {run: [/bin/sh, -c, 'exit 0', x, \"${out}\"], resources: {gpus: 1}}\n"
	"  g3: {run: [/bin/sh, -c, 'exit 0', x, \"${out}\"], resources: {gpus: 1}}\n"
	"  m1: {run: [/bin/sh, -c, 'exit 0', x, \"${out}\"], resources: {mem: 60M}}\n"
	"  m2: {run: [/bin/sh, -c, 'exit 0', x, \"${out}\"], resources: {mem: 60M}}\n"
	"  n: {run: [/bin/sh, -c, 'exit 0', x, \"${out}\"]}\n"
	"  p: {run: [/bin/sh, -c, 'exit 0', x, \"${out}\"], env: [CUDA_VISIBLE_DEVICES]}\n";

static int overlap(const struct exec_fake_start *a, const struct exec_fake_start *b)
{
	return a && b && a->at < b->ended && b->at < a->ended;
}

static void test_pools(void)
{
	static char *names[] = { "5", "7", NULL };
	struct exec_caps caps = { .max_gpus = 2, .mem_pool = 100 << 20, .max_mem_bytes = 100 << 20,
				  .gpu_slots = 2, .gpu_names = names };
	static const struct exec_fake_rule rules[] = {
		{ .stage = "data/g1", .secs = 3 }, { .stage = "data/g2", .secs = 5 },
		{ .stage = "data/m1", .secs = 2 }, { .stage = "data/m2", .secs = 2 },
	};
	struct fx f, g;
	if (!CHECK(fx_open_body(&f, "pools", pools_body), "setup: pools"))
		return;
	setenv("CUDA_VISIBLE_DEVICES", "passed-through", 1);
	struct executor *ex = exec_fake_new(rules, 4, &caps);
	struct run_opts o = { .jobs = 8 };
	fx_run(&f, ex, &o);
	CHECK(f.c.ran == 7, "all ran");
	const struct exec_fake_start *g1 = start_of(ex, "data/g1", 1), *g2 = start_of(ex, "data/g2", 1),
				     *g3 = start_of(ex, "data/g3", 1);
	CHECK(g1 && g2 && g1->cuda && g2->cuda && !strcmp(g1->cuda, "5") && !strcmp(g2->cuda, "7"),
	      "two 1-GPU stages get one slot each, by name: 5 and 7");
	CHECK(g3 && g1 && g3->at >= g1->ended && g3->cuda && !strcmp(g3->cuda, "5"),
	      "the third waits for a slot and gets the one freed first");
	CHECK(!overlap(start_of(ex, "data/m1", 1), start_of(ex, "data/m2", 1)),
	      "two stages of 60M with a pool of 100M never overlap");
	const struct exec_fake_start *n = start_of(ex, "data/n", 1), *pt = start_of(ex, "data/p", 1);
	CHECK(n && n->cuda && !strcmp(n->cuda, ""), "a stage without gpus sees no GPU");
	CHECK(pt && pt->cuda && !strcmp(pt->cuda, "passed-through"),
	      "... unless it passes CUDA_VISIBLE_DEVICES through");
	CHECK_STR(row(&f, "data/g2", "json_extract(env_json, '$.CUDA_VISIBLE_DEVICES')"), "7",
		  "provenance: the slot given is in env_json");
	CHECK(!strstr(row(&f, "data/g2", "cache_record"), "CUDA"), "... not in the cache record");
	exec_destroy(ex);

	/* the same study where no GPU slots are handed out: the same keys */
	if (CHECK(fx_open_body(&g, "pools-none", pools_body), "setup: no pools")) {
		ex = exec_fake_new(NULL, 0, NULL);
		struct run_opts o2 = { .jobs = 1 };
		fx_run(&g, ex, &o2);
		int same = 1;
		for (size_t i = 0; i < f.p.nr; i++) {
			char key[128];
			snprintf(key, sizeof(key), "%s", row(&f, f.p.stages[i].id, "cache_key"));
			same &= key[0] && !strcmp(key, row(&g, f.p.stages[i].id, "cache_key"));
		}
		CHECK(same, "every cache key is the same whatever slot (or none) a stage got");
		CHECK_STR(row(&g, "data/g1", "json_extract(env_json, '$.CUDA_VISIBLE_DEVICES')"), "",
			  "... no CUDA_VISIBLE_DEVICES without slots");
		exec_destroy(ex);
		fx_close(&g);
	}
	unsetenv("CUDA_VISIBLE_DEVICES");
	fx_close(&f);
}

static void test_check_plan(void)
{
	static const char body[] =
		"data:\n"
		"  a: {run: [/bin/sh, \"${out}\"],\n"
		"      resources: {cpus: 4, mem: 2G, gpus: 3}}\n"
		"  b: {run: [/bin/sh, \"${out}\"], resources: {gpus: 1}, env: [CUDA_VISIBLE_DEVICES]}\n";
	struct fx f;
	if (!CHECK(fx_open_body(&f, "check", body), "setup: check"))
		return;
	struct strbuf err = STRBUF_INIT, want = STRBUF_INIT;
	struct exec_caps caps = { .max_cpus = 2, .cpus_from = "this machine has 2 CPUs",
				  .max_gpus = -1 };
	CHECK(exec_check_plan(&caps, &f.p, NULL, &err) < 0, "cpus: 4 on 2 CPUs: refused");
	strbuf_addf(&want, "%s/s.yaml:5:25: stage 'data/a' asks for 4 cpus (resources.cpus), but"
			   " this machine has 2 CPUs", f.root);
	CHECK_STR(err.buf, want.buf, "... naming the file, line and column of 'cpus'");
	caps.max_cpus = 8;
	caps.max_mem_bytes = 1 << 30;
	caps.mem_from = "--mem-limit 1G is the memory of all running stages";
	strbuf_reset(&err);
	strbuf_reset(&want);
	CHECK(exec_check_plan(&caps, &f.p, NULL, &err) < 0, "mem: 2G with a 1G pool: refused");
	strbuf_addf(&want, "%s/s.yaml:5:33: stage 'data/a' asks for 2G of memory (resources.mem),"
			   " but --mem-limit 1G is the memory of all running stages", f.root);
	CHECK_STR(err.buf, want.buf, "... with the size as written");
	caps.max_mem_bytes = 0;
	caps.max_gpus = 2;
	caps.gpu_slots = 2;
	caps.gpus_from = "--gpus 2 gives 2 GPU slots";
	strbuf_reset(&err);
	strbuf_reset(&want);
	CHECK(exec_check_plan(&caps, &f.p, NULL, &err) < 0, "gpus: 3 with 2 slots: refused");
	strbuf_addf(&want, "%s/s.yaml:5:43: stage 'data/a' asks for 3 GPUs (resources.gpus), but"
			   " --gpus 2 gives 2 GPU slots", f.root);
	CHECK_STR(err.buf, want.buf, "... the GPU message");
	char *only_b = xcalloc(f.p.nr, 1);
	only_b[stage_index(&f, "data/b")] = 1;
	strbuf_reset(&err);
	strbuf_reset(&want);
	CHECK(exec_check_plan(&caps, &f.p, only_b, &err) < 0,
	      "a GPU stage passing CUDA_VISIBLE_DEVICES through: refused");
	strbuf_addf(&want, "%s/s.yaml:6:61: stage 'data/b' asks for GPUs (resources.gpus) and"
			   " passes CUDA_VISIBLE_DEVICES through (env): the GPU slots it is given"
			   " set it; remove it from 'env'", f.root);
	CHECK_STR(err.buf, want.buf, "... the env message");
	caps.gpu_slots = 0; /* the executor allocates GPUs itself */
	strbuf_reset(&err);
	CHECK(exec_check_plan(&caps, &f.p, only_b, &err) == 0,
	      "... allowed when the executor allocates GPUs");
	caps.max_gpus = -1;
	strbuf_reset(&err);
	CHECK(exec_check_plan(&caps, &f.p, NULL, &err) == 0, "no limits known: everything passes");
	free(only_b);
	strbuf_release(&err);
	strbuf_release(&want);
	fx_close(&f);
}

int main(void)
{
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	test_all_run_then_cached();
	test_failure_propagation();
	test_slots();
	test_retries();
	test_force();
	test_interrupt();
	test_limits();
	test_cannot_start();
	test_dry_run();
	test_pools();
	test_check_plan();
	struct strbuf ignored = STRBUF_INIT;
	remove_tree(scratch, &ignored);
	strbuf_release(&ignored);
	return check_done();
}
