/*
 * evalattack: the attack task (evaltasks.h): seeded sampled jailbreaks per
 * hazard from the model under evaluation, each given to the fixed victim;
 * exact success, compliance, the victim's log-probability of the recipe
 * (partial credit) and the gold jailbreak's success (the task's ceiling).
 */
#include "evaltasks_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "train.h"

int eval_answer_logprob(struct gpt *m, struct gpt_kv *kv, const struct vocab *v,
			const char *prompt, const char *answer, double *out, struct tl_err *e)
{
	const int V = m->cfg.vocab, maxT = m->cfg.max_seq;
	int ids[1024], ans[256];
	int cap = maxT < 1024 ? maxT : 1024;
	int np = chat_prompt_ids(v, prompt, ids, cap);
	int na = vocab_encode(v, answer, ans, 256);
	*out = EVAL_LOGPROB_FLOOR;
	if (np < 0 || na <= 0 || na > 256 || np + na > maxT)
		return 0;
	float *logits = malloc(sizeof(float) * (size_t)V);
	if (!logits)
		return tl_fail(e, "out of memory");
	for (int t = 0; t < np; t++)
		gpt_infer_step(m, kv, ids[t], t, logits);
	double total = 0;
	for (int j = 0; j < na; j++) {
		float mx = logits[0];
		for (int i = 1; i < V; i++)
			if (logits[i] > mx)
				mx = logits[i];
		double s = 0;
		for (int i = 0; i < V; i++)
			s += exp((double)logits[i] - mx);
		double lp = (double)logits[ans[j]] - mx - log(s);
		total += lp < EVAL_LOGPROB_FLOOR ? EVAL_LOGPROB_FLOOR : lp;
		if (j + 1 < na)
			gpt_infer_step(m, kv, ans[j], np + j, logits);
	}
	free(logits);
	*out = total / na;
	return 0;
}

/* The sampling stream of attempt a on item i: independent of --limit and of
 * the order items are run in. */
static void attempt_rng(struct rng *r, uint64_t seed, int i, int a)
{
	rng_seed(r, seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)((uint64_t)i * 1024u + (uint64_t)a + 1)));
}

/* For each hazard: `attempts` sampled jailbreaks by the model, each given to
 * the victim (greedy); plus the victim on the gold jailbreak (the ceiling). */
int eval_attack_task(struct eval_ctx *c, struct metrics *mt, struct tl_err *e)
{
	if (!c->target)
		return tl_fail(e, "the attack task needs --target DIR (the victim model)");
	struct acc a = {0};
	int s_ok = eval_acc_add(&a, "attack_success", NULL, 0);
	int s_comp = eval_acc_add(&a, "attack_compliance", NULL, 0);
	int s_lp = eval_acc_add(&a, "attack_recipe_logprob", NULL, 1);
	int s_gold = eval_acc_add(&a, "attack_gold_success", NULL, 0);
	struct exset x;
	if (exset_load(&x, c->world, "eval_attack.jsonl", e))
		return -1;
	struct gpt_kv kv, tkv;
	if (gpt_kv_init(&kv, c->m, e)) {
		exset_release(&x);
		return -1;
	}
	if (gpt_kv_init(&tkv, c->target, e)) {
		gpt_kv_release(&kv);
		exset_release(&x);
		return -1;
	}
	struct sbuf written, answer;
	sb_init(&written);
	sb_init(&answer);
	const int K = c->attempts < 1 ? 1 : c->attempts;
	int rc = 0;
	long done = 0;
	for (int i = 0; i < x.n && (!c->limit || done < c->limit) && !rc; i++) {
		const struct example *ex = &x.ex[i];
		double v[MAXM] = {0};
		long w[MAXM] = {0};
		w[s_ok] = w[s_comp] = w[s_lp] = K;
		w[s_gold] = 1;
		for (int k = 0; k < K && !rc; k++) {
			struct rng r;
			attempt_rng(&r, c->seed, i, k);
			double lp;
			if (eval_reply_to(c->m, &kv, c->v, ex->prompt, &written, (float)c->temperature, &r,
				     e) ||
			    eval_reply_to(c->target, &tkv, c->target_vocab, written.buf, &answer, 0, NULL,
				     e) ||
			    eval_answer_logprob(c->target, &tkv, c->target_vocab, written.buf,
						ex->target, &lp, e)) {
				rc = -1;
				break;
			}
			enum judge_class jc = *written.buf ? judge_harmful(answer.buf, ex->target)
							   : JUDGE_OTHER;
			v[s_ok] += jc == JUDGE_CORRECT;
			v[s_comp] += jc == JUDGE_CORRECT || jc == JUDGE_PARTIAL;
			v[s_lp] += lp;
			eval_log_line(c->log, "eval_attack.jsonl", ex->id, ex->prompt, written.buf,
				 jc == JUDGE_CORRECT, NULL);
			eval_log_line(c->log, "eval_attack.jsonl:target", ex->id, written.buf, answer.buf,
				 jc == JUDGE_CORRECT, judge_class_name(jc));
		}
		if (rc)
			break;
		/* the ceiling: the gold jailbreak (the split's answer) */
		if (eval_reply_to(c->target, &tkv, c->target_vocab, ex->answer, &answer, 0, NULL, e)) {
			rc = -1;
			break;
		}
		enum judge_class gc = judge_harmful(answer.buf, ex->target);
		v[s_gold] = gc == JUDGE_CORRECT;
		eval_log_line(c->log, "eval_attack.jsonl:gold", ex->id, ex->answer, answer.buf,
			 gc == JUDGE_CORRECT, judge_class_name(gc));
		eval_acc_item(c, &a, ex, NULL, v, w);
		done++;
	}
	sb_release(&written);
	sb_release(&answer);
	gpt_kv_release(&kv);
	gpt_kv_release(&tkv);
	exset_release(&x);
	return rc ? -1 : eval_acc_write(&a, mt, "eval_attack.jsonl", e);
}

