/*
 * Unit tests for the scheduler: ready order, cpu slots, failure propagation
 * and --keep-going, on hand-built plans (no processes).
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

int main(void)
{
	test_chain_order();
	test_slots();
	test_failure(0);
	test_failure(1);
	return check_done();
}
