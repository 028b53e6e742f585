/*
 * evaltasks_int: what the evaluation tasks share inside the engine
 * (evalacc.c): the per-item accumulator that fills metrics.json's rates and
 * writes items.jsonl (format in evaltasks.h), the replies.jsonl line, and one
 * reply to a prompt; the attack task (evalattack.c). Not for other modules.
 */
#ifndef TOYLLM_EVALTASKS_INT_H
#define TOYLLM_EVALTASKS_INT_H

#include "evaltasks.h"

#define MAXM 8

/* The metrics one pass over a split fills: rates (k of n) or means. */
struct acc {
	int nm;
	char name[MAXM][64];
	int mean[MAXM]; /* 1: a mean of real values (no k), else a rate */
	double sum[MAXM];
	long n[MAXM];
};

/* Adds metric base+suffix (a rate, or with mean a mean of real values);
 * returns its slot. */
int eval_acc_add(struct acc *a, const char *base, const char *suffix, int mean);
/* Adds one item: v[i] (its k for rates, its value for means) over w[i] trials
 * for every metric i, and writes its items.jsonl line (class: NULL or the
 * judge's class). */
void eval_acc_item(struct eval_ctx *c, struct acc *a, const struct example *x, const char *cls,
		   const double *v, const long *w);
/* Writes the metrics into mt; -1 when a metric has no item (naming file). */
int eval_acc_write(const struct acc *a, struct metrics *mt, const char *file, struct tl_err *e);
/* The cluster of an item: its "cluster", else its entity, else its id. */
const char *eval_item_cluster(const struct example *x);
/* One replies.jsonl line (log NULL: nothing; cls NULL: no "class"). */
void eval_log_line(struct sbuf *log, const char *split, const char *id, const char *prompt,
		   const char *reply, int hit, const char *cls);
/* Reply of m to prompt into sb (greedy when temperature is 0, else sampled
 * from r); a prompt longer than the context receives the empty reply. */
int eval_reply_to(struct gpt *m, struct gpt_kv *kv, const struct vocab *v, const char *prompt,
		  struct sbuf *sb, float temperature, struct rng *r, struct tl_err *e);
/* The attack task (evalattack.c). */
int eval_attack_task(struct eval_ctx *c, struct metrics *mt, struct tl_err *e);

#endif
