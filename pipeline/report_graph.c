/*
 * report_graph: critical path (longest weighted chain, by dynamic programming
 * over a topological order) and timeline lanes (greedy interval packing).
 * See report_graph.h.
 */
#include "report_graph.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

size_t rgraph_critical_path(const struct rgraph *g, unsigned char *on_path, size_t *path,
			    double *total)
{
	size_t n = g->n;
	*total = 0;
	if (!n)
		return 0;
	memset(on_path, 0, n);
	/* Kahn's algorithm over the reversed dependency lists: count each
	 * node's dependencies, and list each node's dependents */
	size_t *missing = xcalloc(n, sizeof(size_t));
	size_t *doff = xcalloc(n + 1, sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		for (size_t k = g->deps_off[i]; k < g->deps_off[i + 1]; k++) {
			missing[i]++;
			doff[g->deps[k] + 1]++;
		}
	for (size_t i = 0; i < n; i++)
		doff[i + 1] += doff[i];
	size_t *dependents = xcalloc(doff[n] + 1, sizeof(size_t));
	size_t *fill = xcalloc(n, sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		for (size_t k = g->deps_off[i]; k < g->deps_off[i + 1]; k++) {
			size_t d = g->deps[k];
			dependents[doff[d] + fill[d]++] = i;
		}
	/* best[i]: the heaviest chain ending at i; from[i]: its previous node */
	double *best = xcalloc(n, sizeof(double));
	size_t *from = xcalloc(n, sizeof(size_t));
	unsigned char *done = xcalloc(n, 1);
	size_t *queue = xcalloc(n, sizeof(size_t));
	size_t head = 0, tail = 0;
	for (size_t i = 0; i < n; i++) {
		from[i] = (size_t)-1;
		if (!missing[i])
			queue[tail++] = i;
	}
	while (head < tail) {
		size_t i = queue[head++];
		done[i] = 1;
		double via = 0;
		for (size_t k = g->deps_off[i]; k < g->deps_off[i + 1]; k++) {
			size_t d = g->deps[k];
			if (from[i] == (size_t)-1 || best[d] > via || (best[d] == via && d < from[i])) {
				via = best[d];
				from[i] = d;
			}
		}
		best[i] = via + (g->weight[i] > 0 ? g->weight[i] : 0);
		for (size_t k = doff[i]; k < doff[i + 1]; k++)
			if (--missing[dependents[k]] == 0)
				queue[tail++] = dependents[k];
	}
	size_t end = (size_t)-1;
	for (size_t i = 0; i < n; i++)
		if (done[i] && (end == (size_t)-1 || best[i] > best[end]))
			end = i;
	size_t len = 0;
	if (end != (size_t)-1) {
		*total = best[end];
		for (size_t i = end; i != (size_t)-1; i = from[i])
			path[len++] = i;
		for (size_t a = 0, b = len - 1; a < b; a++, b--) {
			size_t t = path[a];
			path[a] = path[b];
			path[b] = t;
		}
		for (size_t k = 0; k < len; k++)
			on_path[path[k]] = 1;
	}
	free(missing);
	free(doff);
	free(dependents);
	free(fill);
	free(best);
	free(from);
	free(done);
	free(queue);
	return len;
}

static const double *lane_start;

static int by_start(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (lane_start[x] != lane_start[y])
		return lane_start[x] < lane_start[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

int rgraph_lanes(size_t n, const double *start, const double *end, int *lane)
{
	if (!n)
		return 0;
	size_t *order = xcalloc(n, sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	lane_start = start;
	qsort(order, n, sizeof(size_t), by_start);
	lane_start = NULL;
	double *free_at = NULL; /* per lane: when its last interval ended */
	size_t lanes = 0, alloc = 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];
		double e = end[i] < start[i] ? start[i] : end[i];
		size_t l = 0;
		while (l < lanes && free_at[l] > start[i])
			l++;
		if (l == lanes) {
			XGROW(free_at, alloc, lanes + 1);
			lanes++;
		}
		free_at[l] = e;
		lane[i] = (int)l;
	}
	free(free_at);
	free(order);
	return (int)lanes;
}
