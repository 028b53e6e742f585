/*
 * critpath: the order in which ready stages start (critical-path
 * scheduling, as ninja 1.12 does): each stage's priority is the length in
 * seconds of the longest path from its start to the end of the run, its
 * expected duration plus the largest priority among its dependents. The
 * scheduler starts the ready stage with the highest priority first
 * (scheduler.h), so the stages on the critical path never wait behind
 * short ones, and a long chain declared last in the file no longer runs
 * alone at the end.
 *
 * A stage's expected duration is its wall time (the time it holds its
 * slots, waiting on I/O included) when it last ran to success, from
 * provenance. A stage never run takes the mean of what the other stages of
 * its entry took, the nearest first:
 *   1. the same stage in another seed (model/m1@seed2 for model/m1@seed1);
 *   2. the same entry on the same model (eval/refusal/m3/jt for
 *      eval/refusal/m3/base; mitigation/sft/wo/m3 for mitigation/sft/jt/m3);
 *   3. the same entry anywhere (eval/refusal/m1/base for eval/refusal/m7/base;
 *      a matrix entry's other combinations);
 * and with nothing recorded for its entry, an estimate: as long as the
 * longest stage of the plan recorded (with none recorded, the longest
 * `resources.time` of the plan, else 1 s), but no longer than its own
 * `resources.time`. Unknown stages are so assumed long rather than short:
 * started early, a short one costs little; started last, a long one is the
 * tail this ordering exists to avoid. docs/study-format.md, "Scheduling".
 */
#ifndef STUDY_CRITPATH_H
#define STUDY_CRITPATH_H

#include "plan.h"
#include "prov.h"
#include "strbuf.h"

/* dur[i] = stage i's expected duration in seconds, by the rules above, from
 * known[i] = its own recorded wall time (< 0: none). Both have p->nr values. */
void critpath_durations(const struct plan *p, const double *known, double *dur);

/* prio[i] = dur[i] + the largest prio[d] over i's dependents d with
 * selected[d] != 0 (selected NULL: all), in seconds: the longest remaining
 * path. Every array has p->nr values. */
void critpath_priorities(const struct plan *p, const double *dur, const char *selected,
			 double *prio);

/* Both, with the known durations read from pv (prov_stage_walls); pv NULL:
 * nothing is known. Returns 0, or -1 with "cannot read provenance: ..." in
 * err when the read failed; prio is filled either way (from estimates only
 * after a failure). */
int critpath_from_prov(const struct plan *p, struct prov *pv, const char *selected,
		       double *prio, struct strbuf *err);

#endif
