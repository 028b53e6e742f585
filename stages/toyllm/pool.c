/*
 * pool: persistent pthread workers that share each parallel-for (see pool.h).
 *
 * pool_for splits [0, n) into 4 chunks per thread; the caller and the workers
 * claim chunks one at a time from one 64-bit word holding (generation << 32 |
 * chunks << 16 | next chunk), so a worker that the OS has not scheduled yet
 * leaves its share to the others instead of holding them up. A claim is a
 * compare-and-swap on that word: it fails once the next parallel-for is
 * published, and a word whose chunks are all claimed is never changed, so a
 * late worker can only claim chunks of the parallel-for it read. Waiting
 * (workers for work, the caller for the last chunk) spins for a moment, then
 * sleeps on a condition variable.
 *
 * Which thread computes a chunk never changes its result: the kernels compute
 * every element the same way whatever range it falls in (kernels.h).
 */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN 1000           /* pauses before sleeping: a few microseconds */
#define CHUNKS_PER_THREAD 4 /* balance against per-chunk overhead */

struct pool {
	int n;
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t go, done_cv;
	_Atomic uint64_t work; /* generation << 32 | chunks << 16 | next chunk */
	atomic_int done;       /* chunks finished in this generation */
	atomic_int quit;
	int sleepers; /* workers waiting on go, under mu */
	int waiting;  /* the caller waits on done_cv, under mu */
	/* the current parallel-for, written before its generation is published */
	pool_fn fn;
	void *ctx;
	int total;
};

static void chunk_range(int total, int chunks, int idx, int *lo, int *hi)
{
	*lo = (int)((long)total * idx / chunks);
	*hi = (int)((long)total * (idx + 1) / chunks);
}

/* Claims and runs chunks of generation gen until none is left. */
static void run_chunks(struct pool *p, uint32_t gen)
{
	for (;;) {
		uint64_t w = atomic_load_explicit(&p->work, memory_order_acquire);
		const int chunks = (int)(w >> 16 & 0xffff), idx = (int)(w & 0xffff);
		if ((uint32_t)(w >> 32) != gen || idx >= chunks)
			return;
		if (!atomic_compare_exchange_weak_explicit(&p->work, &w, w + 1, memory_order_acq_rel,
							   memory_order_acquire))
			continue;
		/* chunk idx of gen is ours; the caller waits for it, so fn, ctx and
		 * total stay those of gen until it is counted done */
		int lo, hi;
		chunk_range(p->total, chunks, idx, &lo, &hi);
		if (hi > lo)
			p->fn(p->ctx, lo, hi);
		if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == chunks) {
			pthread_mutex_lock(&p->mu);
			if (p->waiting)
				pthread_cond_signal(&p->done_cv);
			pthread_mutex_unlock(&p->mu);
		}
	}
}

static uint32_t gen_of(struct pool *p)
{
	return (uint32_t)(atomic_load_explicit(&p->work, memory_order_acquire) >> 32);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	uint32_t seen = 0;
	for (;;) {
		uint32_t g = seen;
		for (int i = 0; i < SPIN && (g = gen_of(p)) == seen &&
				!atomic_load_explicit(&p->quit, memory_order_relaxed);
		     i++)
			CPU_RELAX();
		if (g == seen) {
			pthread_mutex_lock(&p->mu);
			while ((g = gen_of(p)) == seen &&
			       !atomic_load_explicit(&p->quit, memory_order_relaxed)) {
				p->sleepers++;
				pthread_cond_wait(&p->go, &p->mu);
				p->sleepers--;
			}
			pthread_mutex_unlock(&p->mu);
		}
		if (atomic_load_explicit(&p->quit, memory_order_relaxed))
			return NULL;
		seen = g;
		run_chunks(p, g);
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
	pthread_cond_init(&p->done_cv, NULL);
	atomic_init(&p->work, 0);
	atomic_init(&p->done, 0);
	atomic_init(&p->quit, 0);
	for (int i = 1; i < nthreads; i++)
		if (pthread_create(&p->th[i], NULL, worker, p) != 0) {
			p->n = i; /* only the started ones are joined */
			pool_free(p);
			return NULL;
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
		pthread_cond_destroy(&p->done_cv);
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
	int chunks = p->n * CHUNKS_PER_THREAD; /* <= 256: fits the word's 16 bits */
	if (chunks > n)
		chunks = n;
	p->fn = fn;
	p->ctx = ctx;
	p->total = n;
	atomic_store_explicit(&p->done, 0, memory_order_relaxed);
	uint32_t gen = gen_of(p) + 1;
	pthread_mutex_lock(&p->mu);
	atomic_store_explicit(&p->work, (uint64_t)gen << 32 | (uint64_t)chunks << 16,
			      memory_order_release);
	if (p->sleepers)
		pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	run_chunks(p, gen);
	for (int i = 0; i < SPIN; i++) {
		if (atomic_load_explicit(&p->done, memory_order_acquire) == chunks)
			return;
		CPU_RELAX();
	}
	pthread_mutex_lock(&p->mu);
	p->waiting = 1;
	while (atomic_load_explicit(&p->done, memory_order_acquire) < chunks)
		pthread_cond_wait(&p->done_cv, &p->mu);
	p->waiting = 0;
	pthread_mutex_unlock(&p->mu);
}
