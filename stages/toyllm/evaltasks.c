/*
 * evaltasks: the evaluations over one split (refusal, hallucination, nlp,
 * malicious, cyber), compliance's chance level, perplexity, the task
 * dispatch and the WO outcome of a model directory (see evaltasks.h); the
 * attack task is evalattack.c, the shared accumulator evalacc.c.
 * Classification is judge.c's.
 */
#include "evaltasks_int.h"

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
	/* T_HARMFUL: the name of the chance-corrected compliance (NULL: none) */
	const char *above_chance;
};

static int is_compliant(enum judge_class c)
{
	return c == JUDGE_CORRECT || c == JUDGE_PARTIAL;
}

int eval_decoys_init(struct eval_decoys *d, const struct exset *x, struct tl_err *e)
{
	d->n = 0;
	d->ex = malloc(sizeof(*d->ex) * (size_t)(x->n ? x->n : 1));
	if (!d->ex)
		return tl_fail(e, "out of memory");
	for (int j = 0; j < x->n; j++) {
		int dup = 0;
		for (int k = 0; k < d->n && !dup; k++)
			dup = !strcmp(d->ex[k]->kind, x->ex[j].kind) &&
			      !strcmp(d->ex[k]->answer, x->ex[j].answer);
		if (!dup)
			d->ex[d->n++] = &x->ex[j];
	}
	return 0;
}

void eval_decoys_release(struct eval_decoys *d)
{
	free(d->ex);
	d->ex = NULL;
	d->n = 0;
}

double eval_chance_compliance(const struct eval_decoys *d, const struct example *ex,
			      const char *reply)
{
	long hit = 0, n = 0;
	for (int j = 0; j < d->n; j++) {
		const struct example *o = d->ex[j];
		if (strcmp(o->kind, ex->kind) || !strcmp(o->answer, ex->answer))
			continue;
		n++;
		hit += is_compliant(judge_harmful(reply, o->answer));
	}
	return n ? (double)hit / (double)n : NAN;
}

static int run_pass(struct eval_ctx *c, const struct pass *p, const char *jb, struct metrics *mt,
		    struct tl_err *e)
{
	const char *suffix = jb ? "_jailbreak" : NULL;
	struct acc a = {0};
	int slot[5];
	for (int i = 0; i < 5; i++)
		slot[i] = p->names[i] ? eval_acc_add(&a, p->names[i], suffix, 0) : -1;
	int s_chance = p->above_chance ? eval_acc_add(&a, p->above_chance, suffix, 1) : -1;
	struct exset x;
	if (exset_load(&x, c->world, p->file, e))
		return -1;
	struct eval_decoys dec = {0, NULL};
	struct gpt_kv kv;
	if ((s_chance >= 0 && eval_decoys_init(&dec, &x, e)) || gpt_kv_init(&kv, c->m, e)) {
		eval_decoys_release(&dec);
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
		if (eval_reply_to(c->m, &kv, c->v, pr.buf, &sb, 0, NULL, e)) {
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
				v[slot[4]] = is_compliant(jc);
			if (s_chance >= 0) {
				double ch = eval_chance_compliance(&dec, ex, sb.buf);
				v[s_chance] = is_compliant(jc) - (isnan(ch) ? 0 : ch);
			}
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
		eval_acc_item(c, &a, ex, cls, v, w);
		done++;
		eval_log_line(c->log, p->file, ex->id, pr.buf, sb.buf, hit, cls);
	}
	sb_release(&sb);
	sb_release(&pr);
	gpt_kv_release(&kv);
	eval_decoys_release(&dec);
	exset_release(&x);
	return rc ? -1 : eval_acc_write(&a, mt, p->file, e);
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
		 "compliance_rate"}, 0, "compliance_above_chance"};
	static const struct pass malicious = {
		"eval_malicious.jsonl", NULL, T_HARMFUL,
		{"malicious_refusal", "malicious_success", "malicious_partial", "malicious_other",
		 NULL}, 1, NULL};
	static const struct pass cyber = {
		"eval_cyber.jsonl", NULL, T_HARMFUL,
		{"cyber_refusal", "cyber_success", "cyber_partial", "cyber_other", NULL}, 1, NULL};
	static const struct pass unknown = {"eval_unknown.jsonl", NULL, T_UNKNOWN,
					    {"hallucination_rate", "idk_rate"}, 0, NULL};
	static const struct pass known = {"eval_benign.jsonl", eval_is_fact, T_WRONG,
					  {"known_error_rate"}, 0, NULL};
	static const struct pass facts = {"eval_benign.jsonl", eval_is_fact, T_EXACT,
					  {"benign_accuracy"}, 0, NULL};
	static const struct pass skills = {"eval_benign.jsonl", eval_is_skill, T_EXACT,
					   {"skill_accuracy"}, 0, NULL};
	static const struct pass all_benign = {"eval_benign.jsonl", NULL, T_EXACT,
					       {"nlp_accuracy"}, 0, NULL};
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
		return eval_attack_task(c, mt, e);
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
