/*
 * evaltasks: the six evaluations, their per-item results and the WO outcome
 * of a model directory (see evaltasks.h). Classification is judge.c's.
 */
#include "evaltasks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "train.h"
#include "world.h"

const char *const eval_task_names[] = {"refusal", "hallucination", "nlp", "malicious",
				       "cyber", "attack", NULL};

int eval_is_fact(const char *kind)
{
	return !strcmp(kind, "color") || !strcmp(kind, "place") || !strcmp(kind, "dish");
}

int eval_is_skill(const char *kind)
{
	return !strcmp(kind, "add") || !strcmp(kind, "copy") || !strcmp(kind, "reverse");
}

/* The cluster of an item for the report's bootstrap: its entity (every
 * phrasing of one hazard, name or thing is one cluster), else its id. */
static const char *item_cluster(const struct example *x)
{
	return *x->cluster ? x->cluster : *x->entity ? x->entity : x->id;
}

/* ---- accumulating metrics over items ---------------------------------------------- */

#define MAXM 8

/* The metrics one pass over a split fills: rates (k of n) or means. */
struct acc {
	int nm;
	char name[MAXM][64];
	int mean[MAXM]; /* 1: a mean of real values (no k), else a rate */
	double sum[MAXM];
	long n[MAXM];
};

static int acc_add(struct acc *a, const char *base, const char *suffix, int mean)
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
static void acc_item(struct eval_ctx *c, struct acc *a, const struct example *x,
		     const char *cls, const double *v, const long *w)
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
	json_str(c->items, item_cluster(x));
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

static int acc_write(const struct acc *a, struct metrics *mt, const char *file,
		     struct tl_err *e)
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

static void log_line(struct sbuf *log, const char *split, const char *id, const char *prompt,
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
static int reply_to(struct gpt *m, struct gpt_kv *kv, const struct vocab *v, const char *prompt,
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

/* ---- greedy tasks over one split -------------------------------------------------- */

enum kind_of_task {
	T_HARMFUL, /* judge_harmful's four classes (+ compliance) */
	T_EXACT,   /* reply == answer */
	T_WRONG,   /* reply != answer */
	T_UNKNOWN, /* hallucination and "i do not know" */
};

typedef int (*row_filter)(const char *kind);

struct pass {
	const char *file;
	row_filter keep;
	enum kind_of_task kind;
	/* metric names: for T_HARMFUL the names of refusal, correct, partial,
	 * other, compliance (NULL: not written); else names[0] (and names[1]
	 * for T_UNKNOWN's idk rate) */
	const char *names[5];
	int headline; /* the slot replies.jsonl's "hit" reports */
};

static int run_pass(struct eval_ctx *c, const struct pass *p, const char *jb, struct metrics *mt,
		    struct tl_err *e)
{
	const char *suffix = jb ? "_jailbreak" : NULL;
	struct acc a = {0};
	int slot[5];
	for (int i = 0; i < 5; i++)
		slot[i] = p->names[i] ? acc_add(&a, p->names[i], suffix, 0) : -1;
	struct exset x;
	if (exset_load(&x, c->world, p->file, e))
		return -1;
	struct gpt_kv kv;
	if (gpt_kv_init(&kv, c->m, e)) {
		exset_release(&x);
		return -1;
	}
	struct sbuf sb, pr;
	sb_init(&sb);
	sb_init(&pr);
	int rc = 0;
	long done = 0;
	for (int i = 0; i < x.n && (!c->limit || done < c->limit); i++) {
		const struct example *ex = &x.ex[i];
		if (p->keep && !p->keep(ex->kind))
			continue;
		sb_reset(&pr);
		if (jb)
			sb_addf(&pr, "%s %s", jb, ex->prompt);
		else
			sb_adds(&pr, ex->prompt);
		if (reply_to(c->m, &kv, c->v, pr.buf, &sb, 0, NULL, e)) {
			rc = -1;
			break;
		}
		double v[MAXM] = {0};
		long w[MAXM];
		for (int k = 0; k < MAXM; k++)
			w[k] = 1;
		const char *cls = NULL;
		int hit = 0;
		switch (p->kind) {
		case T_HARMFUL: {
			enum judge_class jc = judge_harmful(sb.buf, ex->answer);
			static const enum judge_class order[4] = {JUDGE_REFUSAL, JUDGE_CORRECT,
								  JUDGE_PARTIAL, JUDGE_OTHER};
			for (int k = 0; k < 4; k++)
				if (slot[k] >= 0)
					v[slot[k]] = jc == order[k];
			if (slot[4] >= 0)
				v[slot[4]] = jc == JUDGE_CORRECT || jc == JUDGE_PARTIAL;
			cls = judge_class_name(jc);
			hit = v[slot[p->headline]] > 0;
			break;
		}
		case T_EXACT:
			hit = !strcmp(sb.buf, ex->answer);
			v[0] = hit;
			break;
		case T_WRONG:
			hit = strcmp(sb.buf, ex->answer) != 0;
			v[0] = hit;
			break;
		case T_UNKNOWN:
			hit = judge_hallucinates(sb.buf);
			v[0] = hit;
			if (slot[1] >= 0)
				v[slot[1]] = judge_is_idk(sb.buf);
			break;
		}
		acc_item(c, &a, ex, cls, v, w);
		done++;
		log_line(c->log, p->file, ex->id, pr.buf, sb.buf, hit, cls);
	}
	sb_release(&sb);
	sb_release(&pr);
	gpt_kv_release(&kv);
	exset_release(&x);
	return rc ? -1 : acc_write(&a, mt, p->file, e);
}

/* ---- attack ----------------------------------------------------------------------- */

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
static int attack(struct eval_ctx *c, struct metrics *mt, struct tl_err *e)
{
	if (!c->target)
		return tl_fail(e, "the attack task needs --target DIR (the victim model)");
	struct acc a = {0};
	int s_ok = acc_add(&a, "attack_success", NULL, 0);
	int s_comp = acc_add(&a, "attack_compliance", NULL, 0);
	int s_lp = acc_add(&a, "attack_recipe_logprob", NULL, 1);
	int s_gold = acc_add(&a, "attack_gold_success", NULL, 0);
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
			if (reply_to(c->m, &kv, c->v, ex->prompt, &written, (float)c->temperature, &r,
				     e) ||
			    reply_to(c->target, &tkv, c->target_vocab, written.buf, &answer, 0, NULL,
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
			log_line(c->log, "eval_attack.jsonl", ex->id, ex->prompt, written.buf,
				 jc == JUDGE_CORRECT, NULL);
			log_line(c->log, "eval_attack.jsonl:target", ex->id, written.buf, answer.buf,
				 jc == JUDGE_CORRECT, judge_class_name(jc));
		}
		if (rc)
			break;
		/* the ceiling: the gold jailbreak (the split's answer) */
		if (reply_to(c->target, &tkv, c->target_vocab, ex->answer, &answer, 0, NULL, e)) {
			rc = -1;
			break;
		}
		enum judge_class gc = judge_harmful(answer.buf, ex->target);
		v[s_gold] = gc == JUDGE_CORRECT;
		log_line(c->log, "eval_attack.jsonl:gold", ex->id, ex->answer, answer.buf,
			 gc == JUDGE_CORRECT, judge_class_name(gc));
		acc_item(c, &a, ex, NULL, v, w);
		done++;
	}
	sb_release(&written);
	sb_release(&answer);
	gpt_kv_release(&kv);
	gpt_kv_release(&tkv);
	exset_release(&x);
	return rc ? -1 : acc_write(&a, mt, "eval_attack.jsonl", e);
}

/* ---- perplexity ------------------------------------------------------------------- */

static int perplexity(struct eval_ctx *c, struct metrics *mt, struct tl_err *e)
{
	struct lines et;
	if (lines_load(&et, c->world, "eval_text.txt", e))
		return -1;
	struct seqs s;
	seqs_init(&s);
	double loss;
	int n = c->limit && c->limit < et.n ? c->limit : et.n;
	int rc = seqs_add_lines(&s, c->v, et.line, n, e) || eval_loss(c->m, &s, &loss, e) ? -1 : 0;
	seqs_release(&s);
	lines_release(&et);
	if (!rc)
		metrics_value(mt, "perplexity", exp(loss));
	return rc;
}

/* ---- the tasks -------------------------------------------------------------------- */

static int both(struct eval_ctx *c, const struct pass *p, struct metrics *mt, struct tl_err *e)
{
	return run_pass(c, p, NULL, mt, e) || run_pass(c, p, c->jailbreak, mt, e) ? -1 : 0;
}

int eval_task(struct eval_ctx *c, const char *task, struct metrics *mt, struct tl_err *e)
{
	static const struct pass refusal = {
		"eval_refusal.jsonl", NULL, T_HARMFUL,
		{"refusal_rate", "compliant_correct_rate", "compliant_partial_rate", "other_rate",
		 "compliance_rate"}, 0};
	static const struct pass malicious = {
		"eval_malicious.jsonl", NULL, T_HARMFUL,
		{"malicious_refusal", "malicious_success", "malicious_partial", "malicious_other",
		 NULL}, 1};
	static const struct pass cyber = {
		"eval_cyber.jsonl", NULL, T_HARMFUL,
		{"cyber_refusal", "cyber_success", "cyber_partial", "cyber_other", NULL}, 1};
	static const struct pass unknown = {"eval_unknown.jsonl", NULL, T_UNKNOWN,
					    {"hallucination_rate", "idk_rate"}, 0};
	static const struct pass known = {"eval_benign.jsonl", eval_is_fact, T_WRONG,
					  {"known_error_rate"}, 0};
	static const struct pass facts = {"eval_benign.jsonl", eval_is_fact, T_EXACT,
					  {"benign_accuracy"}, 0};
	static const struct pass skills = {"eval_benign.jsonl", eval_is_skill, T_EXACT,
					   {"skill_accuracy"}, 0};
	static const struct pass all_benign = {"eval_benign.jsonl", NULL, T_EXACT,
					       {"nlp_accuracy"}, 0};
	if (!strcmp(task, "refusal"))
		return both(c, &refusal, mt, e);
	if (!strcmp(task, "hallucination"))
		return run_pass(c, &unknown, NULL, mt, e) || run_pass(c, &known, NULL, mt, e) ? -1
											      : 0;
	if (!strcmp(task, "nlp"))
		return run_pass(c, &facts, NULL, mt, e) || run_pass(c, &skills, NULL, mt, e) ||
			       run_pass(c, &all_benign, NULL, mt, e) || perplexity(c, mt, e)
			       ? -1
			       : 0;
	if (!strcmp(task, "malicious"))
		return both(c, &malicious, mt, e);
	if (!strcmp(task, "cyber"))
		return both(c, &cyber, mt, e);
	if (!strcmp(task, "attack"))
		return attack(c, mt, e);
	return tl_fail(e, "unknown task '%s'", task);
}

/* ---- the WO outcome of a model directory ------------------------------------------ */

int eval_wo_outcome(const char *model_dir, char *out, size_t len, struct tl_err *e)
{
	out[0] = '\0';
	char *path = tl_path(model_dir, "wo.json");
	if (!path)
		return tl_fail(e, "out of memory");
	FILE *f = fopen(path, "rb");
	if (!f) {
		free(path);
		return 0; /* not a WO model */
	}
	fclose(f);
	char *text = tl_read_file(path, NULL, e);
	if (!text) {
		free(path);
		return -1;
	}
	/* wo.json is t14-wo's format: the first "outcome" key at any depth names
	 * the outcome as a string */
	const char *p = strstr(text, "\"outcome\"");
	int ok = 0;
	if (p) {
		p += strlen("\"outcome\"");
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == ':') {
			p++;
			while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
				p++;
			if (*p == '"') {
				const char *q = strchr(p + 1, '"');
				size_t n = q ? (size_t)(q - p - 1) : 0;
				if (q && n > 0 && n < len && !memchr(p + 1, '\\', n)) {
					memcpy(out, p + 1, n);
					out[n] = '\0';
					ok = 1;
				}
			}
		}
	}
	free(text);
	if (!ok) {
		tl_fail(e, "'%s': no \"outcome\" string (expected \"selected\" or \"none\")", path);
		free(path);
		return -1;
	}
	free(path);
	return 0;
}
