/*
 * pool: a fixed set of worker threads that run one parallel-for at a time.
 * pool_for(p, n, fn, ctx) splits [0, n) into at most nthreads contiguous
 * ranges and calls fn(ctx, lo, hi) once per range; the caller's thread takes
 * the first range and the call returns when all ranges are done. Kernels are
 * written so that every output element is computed by the same arithmetic
 * whatever range it falls in, which makes results independent of the thread
 * count. A pool with nthreads == 1 starts no threads.
 */
#ifndef TOYLLM_POOL_H
#define TOYLLM_POOL_H

struct pool;

typedef void (*pool_fn)(void *ctx, int lo, int hi);

/* Returns NULL when threads cannot be created (nthreads is clamped to 1..64). */
struct pool *pool_new(int nthreads);
void pool_free(struct pool *p);
int pool_threads(const struct pool *p);
/* p may be NULL (runs serially). */
void pool_for(struct pool *p, int n, pool_fn fn, void *ctx);

#endif
