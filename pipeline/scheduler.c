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
	s->mem_pool = s->mem_used = 0; /* no pools until sched_set_pools */
	s->mem = NULL;
	s->gpu_slots = 0;
	s->gpus = NULL;
	s->gpu_busy = 0;
	s->gpu_mask = NULL;
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
	free(s->mem);
	free(s->gpus);
	free(s->gpu_mask);
	free(s->prio);
}

/* ---- resource pools: memory and GPU slots (beside the cpu slots) ---- */

void sched_set_pools(struct sched *s, long long mem_pool, int gpu_slots)
{
	const struct plan *p = s->plan;
	s->mem_pool = mem_pool > 0 ? mem_pool : 0;
	s->gpu_slots = gpu_slots > 64 ? 64 : gpu_slots > 0 ? gpu_slots : 0;
	s->mem_used = 0;
	s->gpu_busy = 0;
	free(s->mem);
	free(s->gpus);
	free(s->gpu_mask);
	s->mem = xcalloc(p->nr ? p->nr : 1, sizeof(*s->mem));
	s->gpus = xcalloc(p->nr ? p->nr : 1, sizeof(*s->gpus));
	s->gpu_mask = xcalloc(p->nr ? p->nr : 1, sizeof(*s->gpu_mask));
	for (size_t i = 0; i < p->nr; i++) {
		long long m = p->stages[i].entry->res.mem_bytes;
		int g = p->stages[i].entry->res.gpus;
		s->mem[i] = !s->mem_pool ? 0 : m > s->mem_pool ? s->mem_pool : m;
		s->gpus[i] = !s->gpu_slots ? 0 : g > s->gpu_slots ? s->gpu_slots : g;
	}
}

/* 1 when stage i's memory and GPUs fit beside the running stages'. */
static int pools_fit(const struct sched *s, size_t i)
{
	if (!s->mem)
		return 1;
	if (s->mem_used + s->mem[i] > s->mem_pool && s->mem[i])
		return 0;
	int free_slots = 0;
	for (int k = 0; k < s->gpu_slots; k++)
		free_slots += !(s->gpu_busy >> k & 1);
	return s->gpus[i] <= free_slots;
}

/* Stage i starts: take its memory and its GPU slots (the lowest free ones). */
static void pools_take(struct sched *s, size_t i)
{
	if (!s->mem)
		return;
	s->mem_used += s->mem[i];
	uint64_t mask = 0;
	for (int k = 0, need = s->gpus[i]; k < s->gpu_slots && need; k++)
		if (!(s->gpu_busy >> k & 1)) {
			mask |= (uint64_t)1 << k;
			need--;
		}
	s->gpu_busy |= mask;
	s->gpu_mask[i] = mask;
}

static void pools_give_back(struct sched *s, size_t i)
{
	if (!s->mem)
		return;
	s->mem_used -= s->mem[i];
	s->gpu_busy &= ~s->gpu_mask[i];
	s->gpu_mask[i] = 0;
}

uint64_t sched_gpu_mask(const struct sched *s, size_t i)
{
	return s->gpu_mask ? s->gpu_mask[i] : 0;
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
	if (s->slots_used + s->cpus[i] > s->slots || !pools_fit(s, i))
		return -1; /* the head waits (priority order) rather than starve big stages */
	heap_pop(s);
	s->state[i] = ST_RUNNING;
	s->slots_used += s->cpus[i];
	pools_take(s, i);
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
	pools_give_back(s, i);
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
