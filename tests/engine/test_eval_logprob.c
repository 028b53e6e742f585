/*
 * test_eval_logprob: the attack's partial credit, eval_answer_logprob
 * (evaltasks.c), against a value computed by hand. The model is wired so that
 * its next-token distribution is the same after every input: the final
 * layernorm's gain is 0 and its bias e0, so every logit is wte[v][0]. With
 * wte["mix"][0] = 2 and every other 0, p(mix) = e^2 / (e^2 + V - 1) and any
 * other word has p = 1 / (e^2 + V - 1); the mean log-probability per token
 * of an answer is the mean of those logs; a word far below the floor is
 * floored at EVAL_LOGPROB_FLOOR; an answer past the context gives the floor.
 */
#include "check.h"
#include "evaltasks.h"

#include <math.h>
#include <string.h>

int main(void)
{
	static const char words[] = "<pad>\n<user>\n<assistant>\n<end>\n<unk>\n<eoi>\n"
				    "mix\nkuku\nwith\nzorp\nhow\nmake\n";
	struct vocab v;
	struct tl_err e;
	if (vocab_parse(&v, words, &e)) {
		printf("not ok - vocab: %s\n", e.msg);
		return 1;
	}
	struct gpt_config cfg = {v.n, 12, 1, 8, 2};
	struct gpt m;
	if (gpt_build(&m, &cfg, &e)) {
		printf("not ok - build: %s\n", e.msg);
		return 1;
	}
	memset(m.params_mem, 0, m.nparams * sizeof(float));
	for (int c = 0; c < cfg.dim; c++)
		m.params.lnfb[c] = c == 0;
	int mix = vocab_find(&v, "mix", 3), zorp = vocab_find(&v, "zorp", 4);
	m.params.wte[(size_t)mix * (size_t)cfg.dim] = 2.0f;
	struct gpt_kv kv;
	if (gpt_kv_init(&kv, &m, &e)) {
		printf("not ok - kv: %s\n", e.msg);
		return 1;
	}
	double z = exp(2.0) + (v.n - 1), lp;
	double want = (log(exp(2.0) / z) + log(1.0 / z) + log(1.0 / z)) / 3;
	int rc = eval_answer_logprob(&m, &kv, &v, "how make", "mix kuku with", &lp, &e);
	CHECK(rc == 0 && fabs(lp - want) < 1e-5, "mean log-prob per token by hand (%.6f, want %.6f)",
	      lp, want);

	/* a word the model all but rules out is floored (the cache keeps a copy
	 * of the weights it reads: a fresh one after the edit) */
	gpt_kv_release(&kv);
	m.params.wte[(size_t)zorp * (size_t)cfg.dim] = -100.0f;
	if (gpt_kv_init(&kv, &m, &e)) {
		printf("not ok - kv: %s\n", e.msg);
		return 1;
	}
	z = exp(2.0) + (v.n - 2) + exp(-100.0);
	want = (log(exp(2.0) / z) + EVAL_LOGPROB_FLOOR) / 2;
	rc = eval_answer_logprob(&m, &kv, &v, "how make", "mix zorp", &lp, &e);
	CHECK(rc == 0 && fabs(lp - want) < 1e-5, "a token below the floor counts as %g (%.6f, want %.6f)",
	      EVAL_LOGPROB_FLOOR, lp, want);

	/* prompt (2 words + 3 template tokens) + 8 answer words > 12 positions */
	rc = eval_answer_logprob(&m, &kv, &v, "how make", "mix kuku with zorp mix kuku with zorp",
				 &lp, &e);
	CHECK(rc == 0 && lp == EVAL_LOGPROB_FLOOR, "an answer past the context scores the floor (%g)",
	      lp);
	gpt_kv_release(&kv);
	gpt_free(&m);
	vocab_release(&v);
	return check_done();
}
