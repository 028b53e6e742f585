/*
 * scheduler: the ready queue over the stage DAG with cpu-slot accounting and
 * failure propagation. See scheduler.h.
 */
#include "scheduler.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

/* 1 when ready stage a starts before b: higher priority first, ties (and
 * every stage without priorities) in plan order. */
static int starts_before(const struct sched *s, size_t a, size_t b)
{
	if (s->prio && s->prio[a] != s->prio[b])
		return s->prio[a] > s->prio[b];
	return a < b;
}

static void heap_push(struct sched *s, size_t v)
{
	size_t i = s->ready_nr++;
	s->ready[i] = v;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!starts_before(s, s->ready[i], s->ready[parent]))
			break;
		size_t t = s->ready[parent];
		s->ready[parent] = s->ready[i];
		s->ready[i] = t;
		i = parent;
	}
}

static size_t heap_pop(struct sched *s)
{
	size_t top = s->ready[0];
	s->ready[0] = s->ready[--s->ready_nr];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->ready_nr && starts_before(s, s->ready[l], s->ready[m]))
			m = l;
		if (r < s->ready_nr && starts_before(s, s->ready[r], s->ready[m]))
			m = r;
		if (m == i)
			break;
		size_t t = s->ready[m];
		s->ready[m] = s->ready[i];
		s->ready[i] = t;
		i = m;
	}
	return top;
}

void sched_init(struct sched *s, const struct plan *p, int slots, int keep_going)
{
	sched_init_subset(s, p, slots, keep_going, NULL);
}

void sched_init_subset(struct sched *s, const struct plan *p, int slots, int keep_going,
		       const char *selected)
{
	s->plan = p;
	s->state = xcalloc(p->nr, sizeof(*s->state));
	s->pending = xcalloc(p->nr, sizeof(*s->pending));
	s->cpus = xcalloc(p->nr, sizeof(*s->cpus));
	s->ready = xcalloc(p->nr, sizeof(*s->ready));
	s->ready_nr = 0;
	s->prio = NULL;
	s->slots = slots < 1 ? 1 : slots;
	s->slots_used = 0;
	s->keep_going = keep_going;
	s->stopped = 0;
	s->running = s->finished = 0;
	for (size_t i = 0; i < p->nr; i++) {
		int c = p->stages[i].entry->res.cpus;
		if (c < 1)
			c = 1;
		s->cpus[i] = c > s->slots ? s->slots : c;
		s->pending[i] = p->stages[i].deps_nr;
		if (selected && !selected[i])
			s->state[i] = ST_UNSELECTED;
		else if (!s->pending[i]) {
			s->state[i] = ST_READY;
			heap_push(s, i);
		}
	}
}

void sched_release(struct sched *s)
{
	free(s->state);
	free(s->pending);
	free(s->cpus);
	free(s->ready);
	free(s->prio);
}

void sched_set_priority(struct sched *s, const double *prio)
{
	size_t n = s->plan->nr;
	if (!s->prio && n)
		s->prio = xmalloc(n * sizeof(*s->prio));
	if (s->prio)
		memcpy(s->prio, prio, n * sizeof(*s->prio));
	/* rebuild the heap of the stages already ready under the new order */
	size_t nr = s->ready_nr;
	s->ready_nr = 0;
	for (size_t k = 0; k < nr; k++)
		heap_push(s, s->ready[k]);
}

long sched_next(struct sched *s)
{
	if (s->stopped || !s->ready_nr)
		return -1;
	size_t i = s->ready[0];
	if (s->slots_used + s->cpus[i] > s->slots)
		return -1; /* wait in plan order rather than starve big stages */
	heap_pop(s);
	s->state[i] = ST_RUNNING;
	s->slots_used += s->cpus[i];
	s->running++;
	return (long)i;
}

static void skip_downstream(struct sched *s, size_t i)
{
	/* iterative DFS over dependents; each stage is skipped once */
	size_t *stack = xmalloc(s->plan->nr * sizeof(*stack));
	size_t top = 0;
	stack[top++] = i;
	while (top) {
		size_t u = stack[--top];
		const struct stage *st = &s->plan->stages[u];
		for (size_t k = 0; k < st->dependents_nr; k++) {
			size_t d = st->dependents[k];
			if (s->state[d] == ST_WAITING) {
				s->state[d] = ST_SKIPPED;
				s->finished++;
				stack[top++] = d;
			}
		}
	}
	free(stack);
}

void sched_done(struct sched *s, size_t i, int ok)
{
	s->state[i] = ok ? ST_DONE : ST_FAILED;
	s->slots_used -= s->cpus[i];
	s->running--;
	s->finished++;
	if (!ok) {
		skip_downstream(s, i);
		if (!s->keep_going)
			s->stopped = 1;
		return;
	}
	const struct stage *st = &s->plan->stages[i];
	for (size_t k = 0; k < st->dependents_nr; k++) {
		size_t d = st->dependents[k];
		if (s->state[d] == ST_WAITING && --s->pending[d] == 0) {
			s->state[d] = ST_READY;
			heap_push(s, d);
		}
	}
}

int sched_idle(const struct sched *s)
{
	if (s->running)
		return 0;
	return s->stopped || !s->ready_nr;
}

int sched_cpus(const struct sched *s, size_t i) { return s->cpus[i]; }
