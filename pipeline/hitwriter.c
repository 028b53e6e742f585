/*
 * hitwriter: cache hits recorded by a second thread. See hitwriter.h.
 *
 * The queue is an array the main thread appends to under the mutex; the
 * writer takes the whole array at once, records it without the lock, and
 * reports back (busy = 0, idle signalled). The writer is woken once a batch
 * has gathered (or at a sync), not per hit: waking a sleeping thread costs a
 * system call, as much as recording the hit. Errors are sticky: after the
 * first failed insert the rest of the queue is dropped and every later sync
 * returns the error, as a failed synchronous record stops the run.
 */
#include "hitwriter.h"
#include "hash.h"
#include "xalloc.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIT_BATCH 128

struct hit_item {
	struct prov_exec e;
	char key[HASH_HEX_SIZE], tree[HASH_HEX_SIZE];
};

struct hit_writer {
	struct prov *pv;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t more, idle;
	struct hit_item *q;
	size_t nr, alloc;
	int busy, stop, failed;
	struct strbuf err;
};

static void record_batch(struct hit_writer *w, struct hit_item *items, size_t n)
{
	struct strbuf err = STRBUF_INIT;
	int failed = 0;
	for (size_t i = 0; i < n && !failed; i++) {
		struct prov_exec *e = &items[i].e;
		e->cache_key = items[i].key[0] ? items[i].key : NULL;
		e->output_digest = items[i].tree[0] ? items[i].tree : NULL;
		failed = prov_record_exec(w->pv, e, NULL, &err) < 0;
	}
	pthread_mutex_lock(&w->mu);
	if (failed && !w->failed) {
		w->failed = 1;
		strbuf_addstr(&w->err, err.buf);
	}
	w->busy = 0;
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->mu);
	strbuf_release(&err);
}

static void *writer_main(void *arg)
{
	struct hit_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->nr && !w->stop)
			pthread_cond_wait(&w->more, &w->mu);
		if (!w->nr)
			break; /* stopping, queue empty */
		struct hit_item *items = w->q;
		size_t n = w->nr;
		int skip = w->failed;
		w->q = NULL;
		w->nr = w->alloc = 0;
		w->busy = 1;
		pthread_mutex_unlock(&w->mu);
		record_batch(w, items, skip ? 0 : n);
		free(items);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct hit_writer *hit_writer_start(struct prov *pv)
{
	struct hit_writer *w = xcalloc(1, sizeof(*w));
	struct strbuf empty = STRBUF_INIT;
	w->pv = pv;
	w->err = empty;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->more, NULL);
	pthread_cond_init(&w->idle, NULL);
	/* the thread starts with every signal blocked: they are the main
	 * thread's (SIGCHLD, SIGINT... wake its poll loop) */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&w->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&w->idle);
		pthread_cond_destroy(&w->more);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	return w;
}

void hit_writer_add(struct hit_writer *w, const struct prov_exec *e)
{
	pthread_mutex_lock(&w->mu);
	XGROW(w->q, w->alloc, w->nr + 1);
	struct hit_item *it = &w->q[w->nr++];
	it->e = *e;
	it->e.cache_key = it->e.output_digest = NULL; /* set by the writer */
	snprintf(it->key, sizeof(it->key), "%s", e->cache_key ? e->cache_key : "");
	snprintf(it->tree, sizeof(it->tree), "%s", e->output_digest ? e->output_digest : "");
	if (w->nr >= HIT_BATCH && !w->busy)
		pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->mu);
}

int hit_writer_sync(struct hit_writer *w, struct strbuf *err)
{
	pthread_mutex_lock(&w->mu);
	if (w->nr)
		pthread_cond_signal(&w->more);
	while (w->nr || w->busy)
		pthread_cond_wait(&w->idle, &w->mu);
	int rc = w->failed ? -1 : 0;
	if (rc < 0)
		strbuf_addstr(err, w->err.buf);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void hit_writer_stop(struct hit_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	free(w->q);
	strbuf_release(&w->err);
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->more);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
