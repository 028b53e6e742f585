/*
 * scheduler: which stage may start next. Pure bookkeeping over the plan's edges,
 * with no processes and no I/O, so it is unit-tested directly.
 *
 * -j N gives N cpu slots; a stage takes resources.cpus slots (clamped to N so
 * that a big stage still runs, alone). Ready stages start in plan order, or
 * by priority once the caller sets one per stage (sched_set_priority; the
 * runner's are critpath.h's longest remaining paths): the highest first,
 * ties in plan order. The next stage in that order waits for enough free
 * slots; no stage behind it jumps the queue (a wide stage is not starved).
 * When a stage fails, everything downstream of it is skipped; without
 * keep_going no new stage starts after the first failure (running ones finish).
 * A run of some stages only (targets, select.h) leaves the others out: they
 * are ST_UNSELECTED from the start and never become ready; the selection
 * must hold the dependencies of every stage in it.
 *
 * Resource pools (sched_set_pools, the executor's exec_caps): the sum of
 * the running stages' resources.mem stays within the memory pool, and GPU
 * slots are handed out whole, each to one running stage at a time (a
 * stage's slots: sched_gpu_mask). A stage is started only when its cpus,
 * mem and gpus all fit; like cpus, a stage asking for more than a pool holds
 * is clamped to the whole pool (it then runs alone) — cmd_run refuses such
 * a study before it runs (exec_check_plan). A stage that fails and is
 * retried keeps its cpus, memory and GPU slots until its next attempt.
 */
#ifndef STUDY_SCHEDULER_H
#define STUDY_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>
#include "plan.h"

enum stage_state {
	ST_WAITING, ST_READY, ST_RUNNING, ST_DONE, ST_FAILED, ST_SKIPPED, ST_UNSELECTED
};

struct sched {
	const struct plan *plan;
	enum stage_state *state;
	size_t *pending;     /* unfinished deps per stage */
	int *cpus;           /* slots per stage, clamped */
	size_t *ready;       /* heap of ready stage indices, the next to start on top */
	double *prio;        /* per stage, larger starts first; NULL: plan order */
	size_t ready_nr;
	int slots, slots_used;
	int keep_going, stopped;
	size_t running, finished;
	/* pools (sched_set_pools): 0 = not limited */
	long long mem_pool, mem_used;
	long long *mem;      /* per stage: resources.mem, clamped to mem_pool */
	int gpu_slots;       /* <= 64 */
	int *gpus;           /* per stage: GPUs, clamped to gpu_slots */
	uint64_t gpu_busy;   /* bit k: slot k is held */
	uint64_t *gpu_mask;  /* per stage: the slots it holds while running */
};

void sched_init(struct sched *s, const struct plan *p, int slots, int keep_going);
/* The same over the stages with selected[i] != 0 (NULL: all of them). */
void sched_init_subset(struct sched *s, const struct plan *p, int slots, int keep_going,
		       const char *selected);
void sched_release(struct sched *s);
/* Order the ready queue by prio (one value per stage of the plan, copied;
 * larger first, equal ones in plan order), the stages already ready too. */
void sched_set_priority(struct sched *s, const double *prio);
/* Next stage to start now (marked running, slots reserved), or -1. */
long sched_next(struct sched *s);
/* Report that a running stage finished; ok=0 skips its downstream stages. */
void sched_done(struct sched *s, size_t i, int ok);
/* 1 when nothing runs and nothing more can start. */
int sched_idle(const struct sched *s);
/* Slots a stage uses (its STUDY_THREADS). */
int sched_cpus(const struct sched *s, size_t i);
/* Limit the running stages to a memory pool (bytes) and hand out gpu_slots
 * GPU slots (at most 64); 0 for either: not limited (a stage's mem and gpus
 * are then not counted). Call after sched_init, before the first sched_next. */
void sched_set_pools(struct sched *s, long long mem_pool, int gpu_slots);
/* The GPU slots a running stage holds: bit k for slot k; 0 when none. */
uint64_t sched_gpu_mask(const struct sched *s, size_t i);

#endif
