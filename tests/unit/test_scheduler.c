/*
 * Unit tests for the scheduler: ready order, cpu slots, failure propagation
 * and --keep-going, stages with two dependencies (each order of finishing,
 * a diamond, either one failing), on hand-built plans (no processes).
 */
#include "check.h"
#include "plan.h"
#include "scheduler.h"
#include "xalloc.h"

#include <stdlib.h>

/* A plan of n stages with edges given as pairs (from, to); every stage uses
 * the cpus of its entry. */
struct fake {
	struct plan p;
	struct entry entries[16];
};

static void fake_init(struct fake *f, size_t n, const int (*edges)[2], size_t nedges,
		      const int *cpus)
{
	memset(f, 0, sizeof(*f));
	f->p.nr = n;
	f->p.stages = xcalloc(n, sizeof(struct stage));
	for (size_t i = 0; i < n; i++) {
		f->entries[i].res.cpus = cpus ? cpus[i] : 1;
		f->p.stages[i].entry = &f->entries[i];
		f->p.stages[i].id = xasprintf("s%zu", i);
	}
	for (size_t e = 0; e < nedges; e++) {
		struct stage *to = &f->p.stages[edges[e][1]], *from = &f->p.stages[edges[e][0]];
		to->deps = xrealloc(to->deps, (to->deps_nr + 1) * sizeof(size_t));
		to->deps[to->deps_nr++] = (size_t)edges[e][0];
		XGROW(from->dependents, from->dependents_alloc, from->dependents_nr + 1);
		from->dependents[from->dependents_nr++] = (size_t)edges[e][1];
	}
}

static void fake_release(struct fake *f)
{
	for (size_t i = 0; i < f->p.nr; i++) {
		free(f->p.stages[i].id);
		free(f->p.stages[i].deps);
		free(f->p.stages[i].dependents);
	}
	free(f->p.stages);
}

static void test_chain_order(void)
{
	/* 0 -> 1 -> 2, and 3 independent */
	static const int edges[][2] = { { 0, 1 }, { 1, 2 } };
	struct fake f;
	fake_init(&f, 4, edges, 2, NULL);
	struct sched s;
	sched_init(&s, &f.p, 4, 0);
	CHECK(sched_next(&s) == 0, "first ready stage is the first in plan order");
	CHECK(sched_next(&s) == 3, "independent stage is ready at once");
	CHECK(sched_next(&s) == -1, "a stage waits for its dependency");
	sched_done(&s, 0, 1);
	CHECK(sched_next(&s) == 1, "finishing a dependency releases its dependent");
	sched_done(&s, 1, 1);
	sched_done(&s, 3, 1);
	CHECK(sched_next(&s) == 2, "the chain continues");
	CHECK(!sched_idle(&s), "not idle while a stage runs");
	sched_done(&s, 2, 1);
	CHECK(sched_idle(&s), "idle when everything finished");
	sched_release(&s);
	fake_release(&f);
}

static void test_slots(void)
{
	static const int cpus[] = { 2, 1, 1, 8 };
	struct fake f;
	fake_init(&f, 4, NULL, 0, cpus);
	struct sched s;
	sched_init(&s, &f.p, 2, 0);
	CHECK(sched_next(&s) == 0, "a 2-cpu stage takes both slots");
	CHECK(sched_next(&s) == -1, "no slot left for another stage");
	sched_done(&s, 0, 1);
	CHECK(sched_next(&s) == 1 && sched_next(&s) == 2, "two 1-cpu stages share 2 slots");
	CHECK(sched_next(&s) == -1, "the big stage waits for free slots");
	sched_done(&s, 1, 1);
	CHECK(sched_next(&s) == -1, "one free slot is not enough for a clamped 2-slot stage");
	sched_done(&s, 2, 1);
	CHECK(sched_next(&s) == 3, "a stage asking more cpus than -j runs alone");
	CHECK(sched_cpus(&s, 3) == 2, "its cpus are clamped to -j");
	sched_done(&s, 3, 1);
	CHECK(sched_idle(&s), "all done");
	sched_release(&s);
	fake_release(&f);
}

static void test_failure(int keep_going)
{
	/* 0 -> 1 -> 2 ; 3 -> 4 ; 0 -> 4 */
	static const int edges[][2] = { { 0, 1 }, { 1, 2 }, { 3, 4 }, { 0, 4 } };
	struct fake f;
	fake_init(&f, 5, edges, 4, NULL);
	struct sched s;
	sched_init(&s, &f.p, 1, keep_going);
	CHECK(sched_next(&s) == 0, "start the root");
	sched_done(&s, 0, 0);
	CHECK(s.state[1] == ST_SKIPPED && s.state[2] == ST_SKIPPED,
	      "a failure skips everything downstream, transitively");
	CHECK(s.state[4] == ST_SKIPPED, "a stage with one failed input is skipped");
	if (keep_going) {
		CHECK(sched_next(&s) == 3, "--keep-going runs what is not downstream");
		sched_done(&s, 3, 1);
		CHECK(s.state[4] == ST_SKIPPED, "a skipped stage stays skipped");
		CHECK(sched_next(&s) == -1 && sched_idle(&s), "then the run is over");
	} else {
		CHECK(sched_next(&s) == -1, "without --keep-going nothing new starts");
		CHECK(sched_idle(&s), "and the run is over");
	}
	sched_release(&s);
	fake_release(&f);
}

/* CHECK with "PREFIX WHAT" as its name */
static void check2(int ok, const char *prefix, const char *what)
{
	char *name = xasprintf("%s %s", prefix, what);
	CHECK(ok, name);
	free(name);
}

/* A stage with two dependencies starts only when both finished, whichever
 * finishes first, even with slots free; first_done is the dependency that
 * finishes first (0 or 1). Plan: 0 -> 2, 1 -> 2, and 3 independent. */
static void test_two_deps(int first_done, int slots)
{
	static const int edges[][2] = { { 0, 2 }, { 1, 2 } };
	const int second_done = !first_done;
	char what[80];
	struct fake f;
	fake_init(&f, 4, edges, 2, NULL);
	struct sched s;
	sched_init(&s, &f.p, slots, 0);
	snprintf(what, sizeof(what), "two deps, s%d finishes first, -j %d:", first_done, slots);
	long a = sched_next(&s), b = slots > 1 ? sched_next(&s) : -1;
	if (slots == 1) {
		CHECK(a == 0, "-j 1: the first dependency starts first");
		sched_done(&s, 0, 1);
		CHECK(sched_next(&s) == 1, "-j 1: then the second, not the stage waiting for both");
		sched_done(&s, 1, 1);
		CHECK(sched_next(&s) == 2, "-j 1: the stage with two deps starts after both");
		sched_done(&s, 2, 1);
		CHECK(sched_next(&s) == 3 && (sched_done(&s, 3, 1), sched_idle(&s)),
		      "-j 1: then the independent stage, and the run is over");
		sched_release(&s);
		fake_release(&f);
		return;
	}
	CHECK(a == 0 && b == 1, "both dependencies start at once");
	CHECK(sched_next(&s) == 3, "the independent stage starts too");
	CHECK(sched_next(&s) == -1 && s.state[2] == ST_WAITING, "the stage with two deps waits");
	sched_done(&s, (size_t)first_done, 1);
	check2(sched_next(&s) == -1 && s.state[2] == ST_WAITING, what,
	       "not started when only one dependency finished");
	sched_done(&s, 3, 1);
	check2(sched_next(&s) == -1 && s.state[2] == ST_WAITING && !sched_idle(&s), what,
	       "still waiting with free slots and one dep running");
	sched_done(&s, (size_t)second_done, 1);
	check2(sched_next(&s) == 2, what,
	       "starts once both finished");
	sched_done(&s, 2, 1);
	CHECK(sched_idle(&s) && s.state[2] == ST_DONE, "then the run is over");
	sched_release(&s);
	fake_release(&f);
}

/* A diamond: 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3: 3 waits for both branches. */
static void test_diamond(void)
{
	static const int edges[][2] = { { 0, 1 }, { 0, 2 }, { 1, 3 }, { 2, 3 } };
	struct fake f;
	fake_init(&f, 4, edges, 4, NULL);
	struct sched s;
	sched_init(&s, &f.p, 4, 0);
	CHECK(sched_next(&s) == 0 && sched_next(&s) == -1, "diamond: only the root starts");
	sched_done(&s, 0, 1);
	CHECK(sched_next(&s) == 1 && sched_next(&s) == 2, "diamond: both branches start");
	sched_done(&s, 2, 1);
	CHECK(sched_next(&s) == -1 && s.state[3] == ST_WAITING,
	      "diamond: the join waits for its other branch");
	sched_done(&s, 1, 1);
	CHECK(sched_next(&s) == 3, "diamond: the join starts after both branches");
	sched_done(&s, 3, 1);
	CHECK(sched_idle(&s), "diamond: the run is over");
	sched_release(&s);
	fake_release(&f);
}

/* With keep_going, a stage with two dependencies is skipped when either
 * fails, whether the failure comes before or after the other's success, and
 * is never started. Plan: 0 -> 2, 1 -> 2, 3 independent. */
static void test_two_deps_failure(int failing, int fail_first)
{
	static const int edges[][2] = { { 0, 2 }, { 1, 2 } };
	const int other = !failing;
	char what[80];
	struct fake f;
	fake_init(&f, 4, edges, 2, NULL);
	struct sched s;
	sched_init(&s, &f.p, 4, 1);
	snprintf(what, sizeof(what), "keep_going, s%d fails %s s%d succeeds:", failing,
		 fail_first ? "before" : "after", other);
	CHECK(sched_next(&s) == 0 && sched_next(&s) == 1 && sched_next(&s) == 3,
	      "both dependencies and the independent stage start");
	long started2 = 0;
	if (fail_first) {
		sched_done(&s, (size_t)failing, 0);
		started2 |= sched_next(&s) == 2;
		sched_done(&s, (size_t)other, 1);
	} else {
		sched_done(&s, (size_t)other, 1);
		started2 |= sched_next(&s) == 2;
		sched_done(&s, (size_t)failing, 0);
	}
	started2 |= sched_next(&s) == 2;
	check2(s.state[2] == ST_SKIPPED, what, "the stage with two deps is skipped");
	check2(!started2, what, "and never started");
	sched_done(&s, 3, 1);
	CHECK(s.state[3] == ST_DONE && sched_next(&s) == -1 && sched_idle(&s),
	      "the independent stage completes and the run is over");
	sched_release(&s);
	fake_release(&f);
}

static void test_subset(void)
{
	/* 0 -> 1 -> 2, 0 -> 3 -> 4; selected: 0, 1, 3 (closed under deps) */
	static const int edges[][2] = { { 0, 1 }, { 1, 2 }, { 0, 3 }, { 3, 4 } };
	static const char selected[5] = { 1, 1, 0, 1, 0 };
	struct fake f;
	fake_init(&f, 5, edges, 4, NULL);
	struct sched s;
	sched_init_subset(&s, &f.p, 4, 0, selected);
	CHECK(s.state[2] == ST_UNSELECTED && s.state[4] == ST_UNSELECTED,
	      "stages outside the selection are left out");
	CHECK(sched_next(&s) == 0, "the selected root is ready");
	CHECK(sched_next(&s) == -1, "nothing else yet");
	sched_done(&s, 0, 1);
	CHECK(sched_next(&s) == 1 && sched_next(&s) == 3, "both selected dependents start");
	sched_done(&s, 1, 1);
	sched_done(&s, 3, 1);
	CHECK(sched_next(&s) == -1, "an unselected dependent never becomes ready");
	CHECK(sched_idle(&s), "idle once the selection is done");
	CHECK(s.state[2] == ST_UNSELECTED && s.state[4] == ST_UNSELECTED, "still left out");
	sched_release(&s);

	/* a failure skips selected stages downstream only */
	static const char sel2[5] = { 1, 1, 1, 1, 0 };
	sched_init_subset(&s, &f.p, 4, 1, sel2);
	CHECK(sched_next(&s) == 0, "root");
	sched_done(&s, 0, 0);
	CHECK(s.state[1] == ST_SKIPPED && s.state[2] == ST_SKIPPED && s.state[3] == ST_SKIPPED,
	      "selected stages downstream of a failure are skipped");
	CHECK(s.state[4] == ST_UNSELECTED, "an unselected one stays out, not skipped");
	CHECK(sched_idle(&s), "idle");
	sched_release(&s);
	fake_release(&f);
}

int main(void)
{
	test_chain_order();
	test_slots();
	test_failure(0);
	test_failure(1);
	for (int first = 0; first < 2; first++)
		test_two_deps(first, 4);
	test_two_deps(0, 1);
	test_diamond();
	for (int failing = 0; failing < 2; failing++)
		for (int fail_first = 0; fail_first < 2; fail_first++)
			test_two_deps_failure(failing, fail_first);
	test_subset();
	return check_done();
}
