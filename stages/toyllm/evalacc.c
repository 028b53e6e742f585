/*
 * evalacc: what every evaluation task shares (evaltasks_int.h): the per-item
 * accumulator behind metrics.json's rates and items.jsonl's lines, the
 * replies.jsonl line, and a reply to one prompt.
 */
#include "evaltasks_int.h"

#include <stdio.h>

#include "train.h"

/* every phrasing of one hazard, name or thing is one cluster */
const char *eval_item_cluster(const struct example *x)
{
	return *x->cluster ? x->cluster : *x->entity ? x->entity : x->id;
}

/* ---- accumulating metrics over items ---------------------------------------------- */

int eval_acc_add(struct acc *a, const char *base, const char *suffix, int mean)
{
	int i = a->nm++;
	snprintf(a->name[i], sizeof a->name[i], "%s%s", base, suffix ? suffix : "");
	a->mean[i] = mean;
	a->sum[i] = 0;
	a->n[i] = 0;
	return i;
}

/* Adds one item: v[i] (its k for rates, its value for means) over w[i] trials
 * for every metric i, and writes its items.jsonl line. */
void eval_acc_item(struct eval_ctx *c, struct acc *a, const struct example *x, const char *cls,
		   const double *v, const long *w)
{
	for (int i = 0; i < a->nm; i++) {
		a->sum[i] += v[i];
		a->n[i] += w[i];
	}
	if (!c->items)
		return;
	sb_adds(c->items, "{\"id\": ");
	json_str(c->items, x->id);
	sb_adds(c->items, ", \"cluster\": ");
	json_str(c->items, eval_item_cluster(x));
	if (cls) {
		sb_adds(c->items, ", \"class\": ");
		json_str(c->items, cls);
	}
	sb_adds(c->items, ", \"values\": {");
	for (int i = 0; i < a->nm; i++)
		sb_addf(c->items, "%s\"%s\": %.6g", i ? ", " : "", a->name[i],
			w[i] ? v[i] / (double)w[i] : 0.0);
	sb_adds(c->items, "}}\n");
}

int eval_acc_write(const struct acc *a, struct metrics *mt, const char *file, struct tl_err *e)
{
	for (int i = 0; i < a->nm; i++) {
		if (!a->n[i])
			return tl_fail(e, "'%s' has no examples for %s", file, a->name[i]);
		if (a->mean[i])
			sb_addf(&mt->sb, "%s\n  \"%s\": {\"value\": %.6f, \"n\": %ld}",
				mt->count++ ? "," : "", a->name[i], a->sum[i] / (double)a->n[i],
				a->n[i]);
		else
			metrics_rate(mt, a->name[i], (long)a->sum[i], a->n[i]);
	}
	return 0;
}

/* ---- replies ---------------------------------------------------------------------- */

void eval_log_line(struct sbuf *log, const char *split, const char *id, const char *prompt,
		   const char *reply, int hit, const char *cls)
{
	if (!log)
		return;
	sb_adds(log, "{\"split\": ");
	json_str(log, split);
	sb_adds(log, ", \"id\": ");
	json_str(log, id);
	sb_adds(log, ", \"prompt\": ");
	json_str(log, prompt);
	sb_adds(log, ", \"reply\": ");
	json_str(log, reply);
	sb_addf(log, ", \"hit\": %d", hit);
	if (cls) {
		sb_adds(log, ", \"class\": ");
		json_str(log, cls);
	}
	sb_adds(log, "}\n");
}

/* Reply of m to prompt into sb (greedy when temperature is 0); a prompt longer
 * than the context receives the empty reply (it can not be answered). */
int eval_reply_to(struct gpt *m, struct gpt_kv *kv, const struct vocab *v, const char *prompt,
		  struct sbuf *sb, float temperature, struct rng *r, struct tl_err *e)
{
	sb_reset(sb);
	int ids[1024];
	int cap = m->cfg.max_seq < 1024 ? m->cfg.max_seq : 1024;
	if (chat_prompt_ids(v, prompt, ids, cap) < 0) {
		sb_adds(sb, "");
		return 0;
	}
	if (chat_reply(m, kv, v, prompt, sb, temperature, r, e))
		return -1;
	if (!sb->buf)
		sb_adds(sb, "");
	return sb->oom ? tl_fail(e, "out of memory") : 0;
}

