/*
 * pool: persistent pthread workers with a generation counter (see pool.h).
 * A parallel-for is announced by bumping the generation and finished when
 * the pending count reaches 0. Both sides first spin for a few microseconds
 * (the kernels of one training step follow each other closely), then sleep
 * on a condition variable, so an idle pool costs nothing and a busy machine
 * loses at most the short spin.
 */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* spin iterations before sleeping (a pause is ~10-60 cycles: some microseconds) */
#define SPIN 2000

struct pool {
	int n;
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	atomic_ulong gen;
	atomic_int pending;
	atomic_int quit;
	int sleepers; /* workers waiting on `go`, under mu */
	int waiting;  /* the caller waits on `done`, under mu */
	pool_fn fn;
	void *ctx;
	int total;
};

struct worker_arg {
	struct pool *p;
	int idx;
};

static void range_of(int total, int parts, int idx, int *lo, int *hi)
{
	*lo = (int)((long)total * idx / parts);
	*hi = (int)((long)total * (idx + 1) / parts);
}

/* waits until the generation differs from seen or the pool quits; returns the new one */
static unsigned long wait_gen(struct pool *p, unsigned long seen)
{
	for (int i = 0; i < SPIN; i++) {
		unsigned long g = atomic_load_explicit(&p->gen, memory_order_acquire);
		if (g != seen || atomic_load_explicit(&p->quit, memory_order_relaxed))
			return g;
		CPU_RELAX();
	}
	pthread_mutex_lock(&p->mu);
	unsigned long g;
	while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
	       !atomic_load_explicit(&p->quit, memory_order_relaxed)) {
		p->sleepers++;
		pthread_cond_wait(&p->go, &p->mu);
		p->sleepers--;
	}
	pthread_mutex_unlock(&p->mu);
	return g;
}

static void *worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct pool *p = wa->p;
	int idx = wa->idx;
	free(wa);
	unsigned long seen = 0;
	for (;;) {
		seen = wait_gen(p, seen);
		if (atomic_load_explicit(&p->quit, memory_order_relaxed))
			return NULL;
		int lo, hi;
		range_of(p->total, p->n, idx, &lo, &hi);
		if (hi > lo)
			p->fn(p->ctx, lo, hi);
		if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
			pthread_mutex_lock(&p->mu);
			if (p->waiting)
				pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
}

struct pool *pool_new(int nthreads)
{
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > 64)
		nthreads = 64;
	struct pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->n = nthreads;
	if (nthreads == 1)
		return p;
	p->th = calloc((size_t)nthreads, sizeof *p->th);
	if (!p->th) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	atomic_init(&p->gen, 0);
	atomic_init(&p->pending, 0);
	atomic_init(&p->quit, 0);
	for (int i = 1; i < nthreads; i++) {
		struct worker_arg *wa = malloc(sizeof *wa);
		if (wa) {
			wa->p = p;
			wa->idx = i;
		}
		if (!wa || pthread_create(&p->th[i], NULL, worker, wa) != 0) {
			free(wa);
			p->n = i; /* only the started ones are joined */
			pool_free(p);
			return NULL;
		}
	}
	return p;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	if (p->th) {
		pthread_mutex_lock(&p->mu);
		atomic_store(&p->quit, 1);
		pthread_cond_broadcast(&p->go);
		pthread_mutex_unlock(&p->mu);
		for (int i = 1; i < p->n; i++)
			pthread_join(p->th[i], NULL);
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->go);
		pthread_cond_destroy(&p->done);
		free(p->th);
	}
	free(p);
}

int pool_threads(const struct pool *p)
{
	return p ? p->n : 1;
}

void pool_for(struct pool *p, int n, pool_fn fn, void *ctx)
{
	if (n <= 0)
		return;
	if (!p || p->n == 1 || n == 1) {
		fn(ctx, 0, n);
		return;
	}
	/* the workers read fn, ctx, total after seeing the new generation (release/acquire) */
	p->fn = fn;
	p->ctx = ctx;
	p->total = n;
	atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
	if (p->sleepers)
		pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	int lo, hi;
	range_of(n, p->n, 0, &lo, &hi);
	if (hi > lo)
		fn(ctx, lo, hi);
	for (int i = 0; i < SPIN; i++) {
		if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0)
			return;
		CPU_RELAX();
	}
	pthread_mutex_lock(&p->mu);
	p->waiting = 1;
	while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0)
		pthread_cond_wait(&p->done, &p->mu);
	p->waiting = 0;
	pthread_mutex_unlock(&p->mu);
}
