/*
 * report_graph: the two graph computations behind `study report`'s pictures,
 * on plain arrays so that they can be tested alone:
 *
 * - the critical path of a run: the chain of dependent stages with the
 *   largest total weight (each stage's wall time in that run; 0 for a cache
 *   hit or a stage that did not run), the lower bound on the run's wall time
 *   however many slots it had;
 * - the lanes of the timeline: executions packed into the fewest rows
 *   without overlap, each into the lowest-numbered row free when it starts,
 *   as a `-j` slot is reused. The run does not record which slot ran what;
 *   the lanes are that slot assignment reconstructed from start and end
 *   times, and their count is the run's peak concurrency.
 */
#ifndef STUDY_REPORT_GRAPH_H
#define STUDY_REPORT_GRAPH_H

#include <stddef.h>

struct rgraph {
	size_t n;               /* nodes 0 .. n-1 */
	const size_t *deps_off; /* n + 1 offsets: node i's dependencies are */
	const size_t *deps;     /* deps[deps_off[i] .. deps_off[i + 1]) (node indexes) */
	const double *weight;   /* n weights, each >= 0 */
};

/*
 * The heaviest chain of g. Fills path[] (room for n) with its nodes, each
 * depending on the one before (the first has no dependency on the chain),
 * sets on_path[i] to 1 for them and 0 for the others, puts the chain's total
 * weight in *total and returns its length in nodes (0 when n is 0). Ties go
 * to the lower node index, so the answer is the same every time. Nodes on a
 * cycle (a plan never has one) and their dependents are left out.
 */
size_t rgraph_critical_path(const struct rgraph *g, unsigned char *on_path, size_t *path,
			    double *total);

/*
 * Lanes for n intervals [start[i], end[i]) (seconds; end < start counts as
 * end = start): lane[i] from 0, in order of start time (then index), each the
 * lowest lane whose last interval ended at or before start[i]. Returns the
 * number of lanes used (0 when n is 0).
 */
int rgraph_lanes(size_t n, const double *start, const double *end, int *lane);

#endif
