/*
 * Unit tests for critical-path scheduling (critpath.c, the priorities of
 * scheduler.c, prov_stage_walls): expected durations from the stage's own
 * record, its seeds, its entry on the same model, its entry anywhere (a
 * matrix too) and the estimate; longest remaining paths; the ready queue in
 * priority order with wide stages; and simulated runs of a six-models-shaped
 * study whose largest models are declared last, on real plans.
 */
#include "check.h"
#include "critpath.h"
#include "plan.h"
#include "prov.h"
#include "prov_query.h"
#include "scheduler.h"
#include "study.h"
#include "xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/study-test-critpath.XXXXXX";

static int load(struct study *st, struct plan *p, const char *text)
{
	char *path = xasprintf("%s/study.yaml", dir);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	struct strbuf err = STRBUF_INIT;
	int rc = study_load(st, path, &err);
	if (rc < 0)
		printf("# load failed: %s\n", err.buf);
	else if ((rc = plan_build(p, st, &err)) < 0)
		study_release(st);
	if (rc < 0)
		printf("# %s\n", err.buf);
	free(path);
	strbuf_release(&err);
	return rc;
}

static size_t at(const struct plan *p, const char *id)
{
	long i = plan_find(p, id);
	if (i < 0) {
		printf("# no stage '%s'\n", id);
		exit(1);
	}
	return (size_t)i;
}

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

/* ---- expected durations ---- */

static const char *seeds_text =
	"study: t\n"
	"root: .\n"
	"seeds: [1, 2]\n"
	"data:\n"
	"  world: {run: [./prog, '${out}'], replicate: false, resources: {time: 30}}\n"
	"models:\n"
	"  m: {run: [./prog, '${out}'], matrix: {layers: [1, 2, 3]}, resources: {time: 10m}}\n"
	"  solo: {run: [./prog, '${out}']}\n"
	"methods:\n"
	"  jt: {run: [./prog, '${model}', '${out}']}\n"
	"  wo: {run: [./prog, '${model}', '${out}']}\n"
	"mitigations:\n"
	"  sft: {after: [jt, wo], run: [./prog, '${model}', '${out}']}\n"
	"evaluations:\n"
	"  refusal: {run: [./prog, '${model}', '${out}']}\n"
	"  nlp: {run: [./prog, '${model}', '${out}'], resources: {time: 2}}\n"
	"report:\n"
	"  run: [./prog, '${out}', '${evaluations}']\n";

static void test_durations(void)
{
	struct study st;
	struct plan p;
	if (!CHECK(load(&st, &p, seeds_text) == 0, "a study with seeds and a matrix loads"))
		return;
	double *known = xmalloc(p.nr * sizeof(double)), *dur = xmalloc(p.nr * sizeof(double));

	/* nothing recorded: the longest time limit of the plan (600 s), capped
	 * by the stage's own */
	for (size_t i = 0; i < p.nr; i++)
		known[i] = -1;
	critpath_durations(&p, known, dur);
	CHECK(near(dur[at(&p, "model/m-layers1@seed1")], 600),
	      "nothing recorded: a stage's time limit is its estimate");
	CHECK(near(dur[at(&p, "data/world")], 30), "nothing recorded: each stage its own limit");
	CHECK(near(dur[at(&p, "eval/refusal/solo/base@seed2")], 600),
	      "nothing recorded, no limit: the plan's longest limit");
	CHECK(near(dur[at(&p, "eval/nlp/solo/base@seed2")], 2),
	      "the estimate is capped by the stage's limit");

	/* the stage's own record first */
	known[at(&p, "model/m-layers1@seed1")] = 40;
	known[at(&p, "model/m-layers1@seed2")] = 44;
	known[at(&p, "model/m-layers2@seed1")] = 80;
	known[at(&p, "eval/refusal/m-layers1/jt@seed1")] = 3;
	known[at(&p, "eval/refusal/m-layers1/wo+sft@seed2")] = 5;
	known[at(&p, "eval/refusal/m-layers2/base@seed1")] = 11;
	known[at(&p, "method/jt/solo@seed1")] = 7;
	known[at(&p, "mitigation/sft/jt/m-layers3@seed2")] = 0.5;
	critpath_durations(&p, known, dur);
	CHECK(near(dur[at(&p, "model/m-layers1@seed1")], 40), "a recorded stage takes its record");
	CHECK(near(dur[at(&p, "model/m-layers2@seed2")], 80),
	      "no record: the same stage in another seed");
	CHECK(near(dur[at(&p, "model/m-layers3@seed1")], (40 + 44 + 80) / 3.0),
	      "no seed recorded: the mean over the matrix's other combinations");
	CHECK(near(dur[at(&p, "eval/refusal/m-layers1/base@seed1")], 4),
	      "an evaluation: the same entry on the same model (mean over variants, seeds)");
	CHECK(near(dur[at(&p, "eval/refusal/m-layers3/jt@seed1")], (3 + 5 + 11) / 3.0),
	      "an evaluation of a model never evaluated: the entry anywhere");
	CHECK(near(dur[at(&p, "mitigation/sft/wo/m-layers3@seed1")], 0.5),
	      "a mitigation: the same entry on the same model after another method");
	CHECK(near(dur[at(&p, "method/jt/m-layers1@seed2")], 7),
	      "a method on another model: the entry anywhere");
	CHECK(near(dur[at(&p, "model/solo@seed1")], 80),
	      "an entry with nothing recorded: the longest recorded stage of the plan");
	CHECK(near(dur[at(&p, "eval/nlp/solo/base@seed1")], 2),
	      "... capped by its own time limit");
	CHECK(near(dur[at(&p, "data/world")], 30), "... and capped for an entry run once");
	free(known);
	free(dur);
	plan_release(&p);
	study_release(&st);
}

/* ---- longest remaining paths ---- */

static const char *chain_text =
	"study: c\n"
	"root: .\n"
	"data:\n"
	"  world: {run: [./prog, '${out}']}\n"
	"models:\n"
	"  a: {run: [./prog, '${data.world}', '${out}']}\n"
	"  b: {run: [./prog, '${data.world}', '${out}']}\n"
	"evaluations:\n"
	"  e: {run: [./prog, '${model}', '${out}']}\n"
	"report:\n"
	"  run: [./prog, '${out}', '${evaluations}']\n";

static void test_priorities(void)
{
	struct study st;
	struct plan p;
	if (!CHECK(load(&st, &p, chain_text) == 0, "a small study loads"))
		return;
	/* data/world, model/a, eval/e/a/base, model/b, eval/e/b/base, report */
	CHECK(p.nr == 6, "six stages");
	double dur[6], prio[6];
	dur[at(&p, "data/world")] = 1;
	dur[at(&p, "model/a")] = 2;
	dur[at(&p, "eval/e/a/base")] = 10;
	dur[at(&p, "model/b")] = 5;
	dur[at(&p, "eval/e/b/base")] = 1;
	dur[at(&p, "report")] = 0.5;
	critpath_priorities(&p, dur, NULL, prio);
	CHECK(near(prio[at(&p, "report")], 0.5), "a sink's priority is its duration");
	CHECK(near(prio[at(&p, "eval/e/a/base")], 10.5), "duration plus its dependent's");
	CHECK(near(prio[at(&p, "model/a")], 12.5), "the path through a long evaluation");
	CHECK(near(prio[at(&p, "model/b")], 6.5), "a longer stage on a shorter path ranks lower");
	CHECK(near(prio[at(&p, "data/world")], 13.5), "the root: the critical path's length");

	/* only model/b's branch selected (a target): the rest does not count */
	char sel[6] = { 0 };
	sel[at(&p, "data/world")] = sel[at(&p, "model/b")] = 1;
	critpath_priorities(&p, dur, sel, prio);
	CHECK(near(prio[at(&p, "data/world")], 6), "stages not selected add nothing to a path");
	plan_release(&p);
	study_release(&st);
}

/* ---- the ready queue ---- */

static void test_queue(void)
{
	struct study st;
	struct plan p;
	if (!CHECK(load(&st, &p, chain_text) == 0, "a small study loads"))
		return;
	size_t world = at(&p, "data/world"), a = at(&p, "model/a"), b = at(&p, "model/b");
	size_t ea = at(&p, "eval/e/a/base"), eb = at(&p, "eval/e/b/base");
	double prio[6] = { 0 };
	struct sched s;
	sched_init(&s, &p, 1, 0);
	CHECK(sched_next(&s) == (long)world, "the root starts");
	sched_done(&s, world, 1);
	/* both models ready now; priorities set while they wait reorder them */
	prio[a] = 1;
	prio[b] = 2;
	sched_set_priority(&s, prio);
	CHECK(sched_next(&s) == (long)b, "the higher priority starts first, though later in plan");
	sched_done(&s, b, 1);
	CHECK(sched_next(&s) == (long)a, "the model before its evaluations: higher priority");
	sched_done(&s, a, 1);
	CHECK(sched_next(&s) == (long)ea, "equal priorities: plan order");
	CHECK(sched_next(&s) == -1, "one slot");
	sched_done(&s, ea, 1);
	CHECK(sched_next(&s) == (long)eb, "then the other");
	sched_done(&s, eb, 1);
	sched_release(&s);
	plan_release(&p);
	study_release(&st);
}

/* A wide stage at the head of the queue waits for its slots; nothing behind
 * it jumps ahead. */
static const char *wide_text =
	"study: w\n"
	"root: .\n"
	"data:\n"
	"  small1: {run: [./prog, '${out}']}\n"
	"  small2: {run: [./prog, '${out}']}\n"
	"  wide: {run: [./prog, '${out}'], resources: {cpus: 2}}\n"
	"  small3: {run: [./prog, '${out}']}\n"
	"models:\n"
	"  m: {run: [./prog, '${out}']}\n"
	"report:\n"
	"  run: [./prog, '${out}']\n";

static void test_wide(void)
{
	struct study st;
	struct plan p;
	if (!CHECK(load(&st, &p, wide_text) == 0, "a study with a 2-cpu stage loads"))
		return;
	size_t s1 = at(&p, "data/small1"), s2 = at(&p, "data/small2"), w = at(&p, "data/wide");
	size_t s3 = at(&p, "data/small3");
	double *prio = xcalloc(p.nr, sizeof(double));
	prio[s1] = 5;
	prio[w] = 4;
	prio[s2] = 3;
	prio[s3] = 2;
	struct sched s;
	sched_init(&s, &p, 2, 0);
	sched_set_priority(&s, prio);
	CHECK(sched_next(&s) == (long)s1, "highest priority first");
	CHECK(sched_next(&s) == -1, "the wide stage is next and one slot is free: wait");
	sched_done(&s, s1, 1);
	CHECK(sched_next(&s) == (long)w, "the wide stage gets both slots");
	CHECK(sched_next(&s) == -1, "both slots taken");
	sched_done(&s, w, 1);
	CHECK(sched_next(&s) == (long)s2 && sched_next(&s) == (long)s3, "then the rest in order");
	free(prio);
	sched_release(&s);
	plan_release(&p);
	study_release(&st);
}

/* ---- simulated runs ---- */

/* Run the plan on `slots` slots with the given durations, starting ready
 * stages in plan order (prio NULL) or by prio; returns the makespan. */
static double simulate(const struct plan *p, int slots, const double *dur, const double *prio)
{
	struct sched s;
	sched_init(&s, p, slots, 0);
	if (prio)
		sched_set_priority(&s, prio);
	double *end = xmalloc(p->nr * sizeof(double));
	char *running = xcalloc(p->nr, 1);
	double now = 0;
	for (;;) {
		long i;
		while ((i = sched_next(&s)) >= 0) {
			end[i] = now + dur[i];
			running[i] = 1;
		}
		if (sched_idle(&s))
			break;
		long first = -1;
		for (size_t k = 0; k < p->nr; k++)
			if (running[k] && (first < 0 || end[k] < end[first]))
				first = (long)k;
		now = end[first];
		running[first] = 0;
		sched_done(&s, (size_t)first, 1);
	}
	free(end);
	free(running);
	sched_release(&s);
	return now;
}

/* The lower bound: max(critical path, total slot-time / slots). */
static double bound(const struct plan *p, int slots, const double *dur)
{
	double *prio = xmalloc(p->nr * sizeof(double)), total = 0, cp = 0;
	critpath_priorities(p, dur, NULL, prio);
	for (size_t i = 0; i < p->nr; i++) {
		total += dur[i] * p->stages[i].entry->res.cpus;
		if (prio[i] > cp)
			cp = prio[i];
	}
	free(prio);
	return cp > total / slots ? cp : total / slots;
}

/* The six-model study's shape: one world, six models declared smallest
 * first, two methods, a mitigation after each, six evaluations of five
 * variants, one report. */
static const char *six_text =
	"study: six\n"
	"root: .\n"
	"data:\n"
	"  world: {run: [./prog, '${out}']}\n"
	"models:\n"
	"  defaults: {run: [./prog, '${data.world}', '${out}']}\n"
	"  m1: {}\n  m2: {}\n  m3: {}\n  m4: {}\n  m5: {}\n  m6: {}\n"
	"methods:\n"
	"  jt: {run: [./prog, '${model}', '${out}']}\n"
	"  wo: {run: [./prog, '${model}', '${out}']}\n"
	"mitigations:\n"
	"  sft: {after: [jt, wo], run: [./prog, '${model}', '${out}']}\n"
	"evaluations:\n"
	"  defaults: {run: [./prog, '${model}', '${out}']}\n"
	"  refusal: {}\n  hallucination: {}\n  nlp: {}\n  malicious: {}\n  cyber: {}\n"
	"  attack: {}\n"
	"report:\n"
	"  run: [./prog, '${out}', '${evaluations}']\n";

/* Durations shaped as studies/six-models.yaml's on 2 cores (cpu seconds of
 * one cold run): training dominates and grows with the model, the last
 * declared being the largest; the rest takes seconds or less. */
static void six_durations(const struct plan *p, double *dur)
{
	static const double model_s[] = { 28, 47, 44, 72, 104, 139 };
	for (size_t i = 0; i < p->nr; i++) {
		const struct stage *s = &p->stages[i];
		int k = s->model ? atoi(s->model + 1) : 0;
		switch (s->kind) {
		case SK_DATA: dur[i] = 0.5; break;
		case SK_MODEL: dur[i] = model_s[k - 1]; break;
		case SK_METHOD: dur[i] = !strcmp(s->method, "jt") ? k : 0.2; break;
		case SK_MITIGATION: dur[i] = 1 + 0.3 * k; break;
		case SK_EVAL: dur[i] = 0.05; break;
		default: dur[i] = 0.1; break;
		}
	}
}

static void test_six_models(void)
{
	struct study st;
	struct plan p;
	if (!CHECK(load(&st, &p, six_text) == 0, "the six-model shape loads"))
		return;
	CHECK(p.nr == 212, "212 stages, as studies/six-models.yaml");
	double *dur = xmalloc(p.nr * sizeof(double)), *prio = xmalloc(p.nr * sizeof(double));
	double *known = xmalloc(p.nr * sizeof(double));
	six_durations(&p, dur);
	double lb = bound(&p, 2, dur);
	double plan_order = simulate(&p, 2, dur, NULL);
	critpath_priorities(&p, dur, NULL, prio);
	double by_path = simulate(&p, 2, dur, prio);
	printf("# 2 slots: bound %.1f s, plan order %.1f s (%.3fx), critical path first %.1f s"
	       " (%.3fx)\n", lb, plan_order, plan_order / lb, by_path, by_path / lb);
	CHECK(plan_order > 1.10 * lb, "plan order leaves the largest model alone at the end");
	CHECK(by_path <= 1.05 * lb, "critical path first: within 1.05x of the bound");

	/* model m6 added to a study whose other models ran: its stages are
	 * estimated (the model from the longest recorded stage, the rest from
	 * the same entries on the other models) */
	for (size_t i = 0; i < p.nr; i++)
		known[i] = p.stages[i].model && !strcmp(p.stages[i].model, "m6") ? -1 : dur[i];
	double *est = xmalloc(p.nr * sizeof(double));
	critpath_durations(&p, known, est);
	critpath_priorities(&p, est, NULL, prio);
	CHECK(near(est[at(&p, "model/m6")], 104),
	      "a model never run is assumed as long as the longest recorded stage");
	CHECK(prio[at(&p, "model/m6")] > prio[at(&p, "model/m4")],
	      "... so it starts before the shorter ones");
	double partial = simulate(&p, 2, dur, prio);
	printf("# 2 slots, m6 never run: %.1f s (%.3fx)\n", partial, partial / lb);
	CHECK(partial <= 1.05 * lb, "a new model's stages estimated: still within 1.05x");

	/* 4 slots and 3 slots: the order still holds up */
	for (int slots = 3; slots <= 4; slots++) {
		double b = bound(&p, slots, dur);
		critpath_priorities(&p, dur, NULL, prio);
		double t = simulate(&p, slots, dur, prio);
		printf("# %d slots: bound %.1f s, critical path first %.1f s (%.3fx)\n", slots, b, t,
		       t / b);
		CHECK(t <= 1.05 * b, slots == 3 ? "3 slots: within 1.05x" : "4 slots: within 1.05x");
	}
	free(dur);
	free(prio);
	free(known);
	free(est);
	plan_release(&p);
	study_release(&st);
}

/* ---- durations from provenance ---- */

static void record(struct prov *pv, int64_t run, const char *stage, const char *status,
		   double started, double wall)
{
	struct strbuf err = STRBUF_INIT;
	struct prov_exec e = { 0 };
	e.run_id = run;
	e.stage_id = stage;
	e.kind = "model";
	e.cache_key = "0000000000000000000000000000000000000000000000000000000000000001";
	e.status = status;
	e.argv_json = "[\"prog\"]";
	e.env_json = "{}";
	e.cache_record = "study-cache 1\n";
	e.exit_code = strcmp(status, "ran") ? 1 : 0;
	e.started = started;
	e.ended = started + wall;
	e.cpu_s = -1;
	e.peak_rss_kb = -1;
	if (!strcmp(status, "cached")) {
		e.started = e.ended = 0;
		e.output_digest =
			"0000000000000000000000000000000000000000000000000000000000000002";
	}
	if (prov_record_exec(pv, &e, NULL, &err) < 0)
		printf("# %s\n", err.buf);
	strbuf_release(&err);
}

static void test_prov_walls(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&path, "%s/provenance.db", dir);
	struct prov *pv = NULL;
	if (!CHECK(prov_open(&pv, path.buf, &err) == 0, "a fresh provenance database")) {
		printf("# %s\n", err.buf);
		return;
	}
	struct prov_run r = { .study_name = "t", .study_path = "/t.yaml", .study_digest = "0",
			      .git_dirty = -1, .tool_version = "0", .argv_json = "[]",
			      .started = 1000 };
	int64_t run = 0;
	prov_run_begin(pv, &r, &run, &err);
	prov_begin(pv, &err);
	record(pv, run, "model/a", "ran", 1000, 12);
	record(pv, run, "model/a", "ran", 1100, 20);   /* the latest that ran */
	record(pv, run, "model/a", "failed", 1200, 3); /* a failure is no duration */
	record(pv, run, "model/a", "cached", 0, 0);
	record(pv, run, "model/b", "failed", 1000, 7);
	prov_commit(pv, &err);
	const char *ids[] = { "model/a", "model/b", "model/c" };
	double wall[3];
	CHECK(prov_stage_walls(pv, ids, 3, wall, &err) == 0, "prov_stage_walls reads");
	CHECK(near(wall[0], 20), "the latest execution that ran, not a later failure or hit");
	CHECK(wall[1] < 0 && wall[2] < 0, "failed only, or never recorded: unknown");
	prov_close(pv);
	strbuf_release(&path);
	strbuf_release(&err);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char *prog = xasprintf("%s/prog", dir);
	FILE *f = fopen(prog, "w");
	fputs("#!/bin/sh\n", f);
	fclose(f);
	chmod(prog, 0755);
	test_durations();
	test_priorities();
	test_queue();
	test_wide();
	test_six_models();
	test_prov_walls();
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	free(cmd);
	free(prog);
	return check_done();
}
