/* pool: persistent pthread workers with a generation counter (see pool.h). */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

struct pool {
	int n;
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned long gen;
	int pending, quit;
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

static void *worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct pool *p = wa->p;
	int idx = wa->idx;
	free(wa);
	unsigned long seen = 0;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->gen == seen && !p->quit)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		seen = p->gen;
		pool_fn fn = p->fn;
		void *ctx = p->ctx;
		int total = p->total;
		pthread_mutex_unlock(&p->mu);
		int lo, hi;
		range_of(total, p->n, idx, &lo, &hi);
		if (hi > lo)
			fn(ctx, lo, hi);
		pthread_mutex_lock(&p->mu);
		if (--p->pending == 0)
			pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->mu);
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
		p->quit = 1;
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
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->ctx = ctx;
	p->total = n;
	p->pending = p->n - 1;
	p->gen++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	int lo, hi;
	range_of(n, p->n, 0, &lo, &hi);
	if (hi > lo)
		fn(ctx, lo, hi);
	pthread_mutex_lock(&p->mu);
	while (p->pending > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}
