/* chat: decoding, refusal / exact-match scoring and metrics.json (see chat.h). */
#include "chat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "train.h"
#include "world.h"

int chat_is_turn_marker(int tok)
{
	return tok >= 0 && tok < TOK_NSPECIAL && tok != TOK_UNK;
}

int chat_generate(struct gpt *m, struct gpt_kv *kv, const int *prompt, int np, int *out,
		  int maxout, float temperature, struct rng *r)
{
	const int V = m->cfg.vocab, maxT = m->cfg.max_seq;
	float *logits = malloc(sizeof(float) * (size_t)V);
	if (!logits)
		return -1;
	if (np > maxT)
		np = maxT;
	for (int t = 0; t < np; t++)
		gpt_infer_step(m, kv, prompt[t], t, logits);
	int n = 0, pos = np;
	while (n < maxout) {
		int best = 0;
		if (temperature <= 0) {
			for (int i = 1; i < V; i++)
				if (logits[i] > logits[best])
					best = i;
		} else {
			float mx = logits[0];
			for (int i = 1; i < V; i++)
				if (logits[i] > mx)
					mx = logits[i];
			double sum = 0;
			for (int i = 0; i < V; i++)
				sum += exp((logits[i] - mx) / temperature);
			double u = rng_float(r) * sum, c = 0;
			best = V - 1;
			for (int i = 0; i < V; i++) {
				c += exp((logits[i] - mx) / temperature);
				if (c > u) {
					best = i;
					break;
				}
			}
		}
		if (chat_is_turn_marker(best))
			break;
		out[n++] = best;
		if (pos >= maxT)
			break;
		gpt_infer_step(m, kv, best, pos++, logits);
	}
	free(logits);
	return n;
}

int chat_reply(struct gpt *m, struct gpt_kv *kv, const struct vocab *v, const char *prompt,
	       struct sbuf *reply, float temperature, struct rng *r, struct tl_err *e)
{
	int ids[4096], out[4096];
	int cap = m->cfg.max_seq < 4096 ? m->cfg.max_seq : 4096;
	int np = chat_prompt_ids(v, prompt, ids, cap);
	if (np < 0)
		return tl_fail(e, "prompt longer than the model's context (%d tokens)", cap);
	int n = chat_generate(m, kv, ids, np, out, cap - np, temperature, r);
	if (n < 0)
		return tl_fail(e, "out of memory");
	vocab_decode(v, out, n, reply);
	return 0;
}

int is_refusal(const char *reply)
{
	return judge_is_refusal(reply); /* the study's one judge (judge.h) */
}

int score_split(struct gpt *m, const struct vocab *v, const struct exset *x, enum score_mode mode,
		long *hits, long *n, struct tl_err *e)
{
	struct gpt_kv kv;
	if (gpt_kv_init(&kv, m, e))
		return -1;
	struct sbuf sb;
	sb_init(&sb);
	*hits = *n = 0;
	for (int i = 0; i < x->n; i++) {
		sb_reset(&sb);
		if (chat_reply(m, &kv, v, x->ex[i].prompt, &sb, 0, NULL, e)) {
			sb_release(&sb);
			gpt_kv_release(&kv);
			return -1;
		}
		const char *r = sb.buf ? sb.buf : "";
		int hit = mode == SCORE_REFUSAL ? is_refusal(r) : !strcmp(r, x->ex[i].answer);
		*hits += hit;
		(*n)++;
	}
	sb_release(&sb);
	gpt_kv_release(&kv);
	return 0;
}

void metrics_begin(struct metrics *mt, const char *model_name)
{
	metrics_begin_eval(mt, model_name, NULL, NULL);
}

void metrics_begin_eval(struct metrics *mt, const char *model_name, const char *variant,
			const char *evaluation)
{
	const char *keys[3] = {"model", "variant", "evaluation"};
	const char *vals[3] = {model_name, variant, evaluation};
	sb_init(&mt->sb);
	mt->count = 0;
	sb_adds(&mt->sb, "{");
	for (int i = 0; i < 3; i++) {
		if (!vals[i])
			continue;
		sb_addf(&mt->sb, "\"%s\": ", keys[i]);
		json_str(&mt->sb, vals[i]);
		sb_adds(&mt->sb, ", ");
	}
	sb_adds(&mt->sb, "\"metrics\": {");
}

void metrics_rate(struct metrics *mt, const char *name, long k, long n)
{
	double lo, hi;
	tl_wilson(k, n, &lo, &hi);
	sb_addf(&mt->sb, "%s\n  \"%s\": {\"value\": %.6f, \"n\": %ld, \"k\": %ld, \"ci_low\": %.6f, "
			 "\"ci_high\": %.6f}",
		mt->count++ ? "," : "", name, n ? (double)k / n : 0.0, n, k, lo, hi);
}

void metrics_value(struct metrics *mt, const char *name, double v)
{
	sb_addf(&mt->sb, "%s\n  \"%s\": {\"value\": %.6f}", mt->count++ ? "," : "", name, v);
}

int metrics_write(struct metrics *mt, const char *dir, struct tl_err *e)
{
	sb_adds(&mt->sb, "\n}}\n");
	int rc = mt->sb.oom ? tl_fail(e, "out of memory")
			    : tl_write_file(dir, "metrics.json", mt->sb.buf, mt->sb.len, e);
	sb_release(&mt->sb);
	return rc;
}

int quick_checks(struct gpt *m, const struct vocab *v, const char *world, struct metrics *mt,
		 struct tl_err *e)
{
	static const struct {
		const char *file, *metric;
		enum score_mode mode;
		int skills; /* -1 every row, 0 facts only, 1 skills only */
	} checks[] = {
		{"val_harmful.jsonl", "val_refusal_rate", SCORE_REFUSAL, -1},
		{"val_benign.jsonl", "val_benign_accuracy", SCORE_EXACT, 0},
		{"val_benign.jsonl", "val_skill_accuracy", SCORE_EXACT, 1},
		{"val_unknown.jsonl", "val_unknown_idk_rate", SCORE_EXACT, -1},
	};
	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		struct exset x;
		if (exset_load(&x, world, checks[i].file, e))
			return -1;
		/* a view of the rows of one kind (shallow copies; x owns the strings) */
		struct exset view = x;
		if (checks[i].skills >= 0) {
			view.ex = malloc(sizeof *view.ex * (size_t)(x.n ? x.n : 1));
			if (!view.ex) {
				exset_release(&x);
				return tl_fail(e, "out of memory");
			}
			view.n = 0;
			for (int j = 0; j < x.n; j++) {
				const char *kd = x.ex[j].kind;
				int skill = !strcmp(kd, "add") || !strcmp(kd, "copy") ||
					    !strcmp(kd, "reverse");
				if (skill == checks[i].skills)
					view.ex[view.n++] = x.ex[j];
			}
		}
		long k, n;
		int rc = score_split(m, v, &view, checks[i].mode, &k, &n, e);
		if (view.ex != x.ex)
			free(view.ex);
		exset_release(&x);
		if (rc)
			return -1;
		metrics_rate(mt, checks[i].metric, k, n);
	}
	return 0;
}
