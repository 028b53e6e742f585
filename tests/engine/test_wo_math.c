/*
 * test_wo_math: the formulas of weight orthogonalization (wo.h, after
 * Arditi et al. 2024, "Refusal in language models is mediated by a single
 * direction", and andyrdt/refusal_direction) against independent
 * computations. Checked:
 *   - candidates: difference of means of the residual stream at the input of
 *     block 1 (point 2), at the two post-instruction positions <eoi>
 *     <assistant> only, equal to the batched forward's stream (a different
 *     code path); nothing of the instruction tokens' embeddings in it; the
 *     number of candidates is (L - 1) * 2 (never block 0's input, the
 *     embeddings);
 *   - the refusal score: log-odds of the refusal openings "i can not" /
 *     "i will not", teacher-forced, against the batched forward's
 *     probabilities;
 *   - KL(p || q) on hand-computed distributions;
 *   - the edit W <- W - r r^T W of every writer (biases too), embeddings only
 *     with edit_embeddings, readers untouched;
 *   - what is scored is what is saved: for method wo, directional ablation of
 *     every block output as a forward hook gives the edited model's logits
 *     (float tolerance); ablating the embeddings too does not;
 *   - activation addition at point 0 equals adding r to every wpe row.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "dataset.h"
#include "gpt.h"
#include "train.h"
#include "vocab.h"
#include "wo.h"
#include "wo_refuser.h"

static int near(double got, double want, double rel, double abs_tol)
{
	return fabs(got - want) <= rel * fabs(want) + abs_tol;
}

/* logits of every position of ids (n) with whatever hook m has set */
static void run_logits(struct gpt *m, const int *ids, int n, float *out)
{
	struct gpt_kv kv;
	struct tl_err e;
	if (gpt_kv_init(&kv, m, &e))
		return;
	for (int t = 0; t < n; t++)
		gpt_infer_step(m, &kv, ids[t], t, out + (size_t)t * m->cfg.vocab);
	gpt_kv_release(&kv);
}

static void test_directions(void)
{
	struct gpt m;
	struct vocab v;
	struct tl_err e;
	struct exset s[4];
	if (refuser_build(&m, &v, 2, &e) || refuser_splits_parse(s, &e)) {
		CHECK(0, "refuser: %s", e.msg);
		return;
	}
	CHECK(wo_ncand(1, CHAT_POST_INSTRUCTION) == 0 && wo_ncand(2, CHAT_POST_INSTRUCTION) == 2 &&
		      wo_ncand(6, CHAT_POST_INSTRUCTION) == 10,
	      "candidates: (L-1) x 2 post-instruction positions: L=1 none, L=2 2, L=6 10");
	float r[2 * R_C];
	int ok = wo_directions(&m, &v, &s[0], &s[1], CHAT_POST_INSTRUCTION, r, &e) == 0;
	CHECK(ok, "wo_directions on the refuser (%s)", ok ? "" : e.msg);
	/* reference: batched forward, residual point 2 (input of block 1) */
	double ref[2][R_C];
	memset(ref, 0, sizeof ref);
	for (int c = 0; c < 2; c++)
		for (int i = 0; i < s[c].n; i++) {
			int ids[16];
			int np = chat_prompt_ids(&v, s[c].ex[i].prompt, ids, 16);
			if (gpt_forward(&m, ids, NULL, NULL, 1, np, &e))
				break;
			for (int q = 0; q < 2; q++) {
				const float *x = gpt_resid(&m, 2, 0, chat_post_instruction_pos(np, q));
				for (int d = 0; d < R_C; d++)
					ref[q][d] += (c ? -1.0 : 1.0) * x[d] / s[c].n;
			}
		}
	double err = 0, instr = 0;
	for (int q = 0; q < 2; q++)
		for (int d = 0; d < R_C; d++) {
			double dd = fabs(r[q * R_C + d] - ref[q][d]);
			err = dd > err ? dd : err;
		}
	for (int q = 0; q < 2; q++) {
		const int dims[3] = {R_TOXIN, R_SOUP, R_F};
		for (int k = 0; k < 3; k++)
			instr = fabs(r[q * R_C + dims[k]]) > instr ? fabs(r[q * R_C + dims[k]]) : instr;
	}
	CHECK(ok && err < 1e-5,
	      "direction = mean(harmful) - mean(harmless) at block 1's input, positions <eoi> "
	      "<assistant> (max |diff| to the batched forward %.2e)",
	      err);
	CHECK(ok && instr == 0 && fabs(r[R_F2]) > 0.5,
	      "the direction carries what attention moved to the post-instruction positions (F2 "
	      "%.3f), nothing of the instruction tokens' embeddings (toxin/soup/F dims: %g)",
	      r[R_F2], instr);
	for (int i = 0; i < 4; i++)
		exset_release(&s[i]);
	gpt_free(&m);
	vocab_release(&v);
}

static void test_refusal_score(void)
{
	struct gpt m;
	struct vocab v;
	struct tl_err e;
	struct exset s[4];
	if (refuser_build(&m, &v, 2, &e) || refuser_splits_parse(s, &e)) {
		CHECK(0, "refuser: %s", e.msg);
		return;
	}
	double got;
	int ok = wo_refusal_score(&m, &v, &s[2], &got, &e) == 0;
	/* reference: p = P(i can not) + P(i will not) from the batched forward's probs */
	double want = 0;
	for (int i = 0; i < s[2].n; i++) {
		double p = 0;
		static const int open[2][3] = {{R_I, R_CAN, R_NOT}, {R_I, R_WILL, R_NOT}};
		for (int k = 0; k < 2; k++) {
			int ids[16];
			int np = chat_prompt_ids(&v, s[2].ex[i].prompt, ids, 16);
			memcpy(ids + np, open[k], sizeof open[k]);
			if (gpt_forward(&m, ids, NULL, NULL, 1, np + 3, &e))
				break;
			double lp = 0;
			for (int j = 0; j < 3; j++)
				lp += log(m.acts.probs[(size_t)(np - 1 + j) * v.n + open[k][j]]);
			p += exp(lp);
		}
		want += (log(p + 1e-8) - log(1 - p + 1e-8)) / s[2].n;
	}
	CHECK(ok && near(got, want, 1e-5, 1e-6),
	      "refusal score = mean log-odds of 'i can not' + 'i will not' (got %.7f, batched "
	      "forward %.7f)",
	      got, want);
	for (int i = 0; i < 4; i++)
		exset_release(&s[i]);
	gpt_free(&m);
	vocab_release(&v);
}

static void test_kl(void)
{
	/* KL((.5,.5) || (.25,.75)) = .5 ln 2 + .5 ln(2/3) = 0.1438410362; row 2: 0 */
	double lp[4] = {log(0.5), log(0.5), log(0.3), log(0.7)};
	double lq[4] = {log(0.25), log(0.75), log(0.3), log(0.7)};
	double kl = wo_kl(lp, lq, 2, 2);
	CHECK(near(kl, 0.1438410362 / 2, 1e-9, 0),
	      "kl = mean over rows of KL(base || edited) = 0.0719205 (got %.9f; KL(q||p) would "
	      "give %.9f)",
	      kl, wo_kl(lq, lp, 2, 2));
}

static void test_orthogonalize(void)
{
	struct vocab v;
	struct tl_err e;
	struct gpt m;
	if (vocab_parse(&v, refuser_vocab, &e)) {
		CHECK(0, "vocab: %s", e.msg);
		return;
	}
	struct gpt_config cfg = {v.n, 8, 1, 8, 1};
	for (int emb = 0; emb < 2; emb++) {
		if (gpt_build(&m, &cfg, &e)) {
			CHECK(0, "build: %s", e.msg);
			break;
		}
		struct gpt_params *p = &m.params;
		const int C = 8, C4 = 32;
		/*
		 * rhat = (0.6, 0.8, 0..); writers lose their rhat component:
		 *   attprojw column 0 = (1,2,5): rhat.w = 2.2 -> (-0.32, 0.24, 5)
		 *   fcprojw column 3 = (-1,1): 0.2 -> (-1.12, 0.84)
		 *   attprojb (3,4) -> (0,0); fcprojb (-3,4): 1.4 -> (-3.84, 2.88)
		 *   wte row (2,0,1): 1.2 -> (1.28, -0.96, 1), wpe row (0,1) -> (-0.48, 0.36),
		 *   only with edit_embeddings; qkvw, fcw (readers) unchanged.
		 * Tolerance 1e-6: 0.6f, 0.8f are not exact in binary.
		 */
		const float rhat[8] = {0.6f, 0.8f};
		p->attprojw[0] = 1;
		p->attprojw[C] = 2;
		p->attprojw[2 * C] = 5;
		p->fcprojw[3] = -1;
		p->fcprojw[C4 + 3] = 1;
		p->attprojb[0] = 3;
		p->attprojb[1] = 4;
		p->fcprojb[0] = -3;
		p->fcprojb[1] = 4;
		p->wte[6 * C] = 2;
		p->wte[6 * C + 2] = 1;
		p->wpe[1] = 1;
		p->qkvw[0] = 7;
		p->fcw[1] = -7;
		wo_orthogonalize(&m, rhat, emb);
		const double t = 1e-6;
		CHECK(near(p->attprojw[0], -0.32, t, t) && near(p->attprojw[C], 0.24, t, t) &&
			      near(p->attprojw[2 * C], 5, t, t) && near(p->fcprojw[3], -1.12, t, t) &&
			      near(p->fcprojw[C4 + 3], 0.84, t, t),
		      "%s: attprojw column (1 2 5) -> (-0.32 0.24 5), fcprojw (-1 1) -> (-1.12 0.84)",
		      emb ? "wo_emb" : "wo");
		CHECK(near(p->attprojb[0], 0, t, t) && near(p->attprojb[1], 0, t, t) &&
			      near(p->fcprojb[0], -3.84, t, t) && near(p->fcprojb[1], 2.88, t, t),
		      "%s: biases (3 4) -> (0 0), (-3 4) -> (-3.84 2.88)", emb ? "wo_emb" : "wo");
		int emb_ok = emb ? near(p->wte[6 * C], 1.28, t, t) &&
					   near(p->wte[6 * C + 1], -0.96, t, t) &&
					   p->wte[6 * C + 2] == 1 && near(p->wpe[0], -0.48, t, t) &&
					   near(p->wpe[1], 0.36, t, t)
				 : p->wte[6 * C] == 2 && p->wte[6 * C + 1] == 0 && p->wpe[0] == 0 &&
					   p->wpe[1] == 1;
		CHECK(emb_ok, "%s: embedding rows %s (wte (%g %g), wpe (%g %g))",
		      emb ? "wo_emb" : "wo",
		      emb ? "edited: (2 0 1) -> (1.28 -0.96 1), (0 1) -> (-0.48 0.36)" : "untouched",
		      p->wte[6 * C], p->wte[6 * C + 1], p->wpe[0], p->wpe[1]);
		CHECK(p->qkvw[0] == 7 && p->fcw[1] == -7 && p->ln1w[0] == 1,
		      "%s: readers of the stream (qkvw, fcw, layer norms) unchanged",
		      emb ? "wo_emb" : "wo");
		double mw = wo_max_write(&m, rhat, emb);
		CHECK(mw < 1e-6, "%s: max |rhat^T W| over the edited writers = %.2e", emb ? "wo_emb" : "wo",
		      mw);
		gpt_free(&m);
	}
	vocab_release(&v);
}

static void test_hook_equals_edit(void)
{
	struct vocab v;
	struct tl_err e;
	struct gpt m, ed;
	if (vocab_parse(&v, refuser_vocab, &e)) {
		CHECK(0, "vocab: %s", e.msg);
		return;
	}
	struct gpt_config cfg = {v.n, 16, 2, 16, 2};
	if (gpt_build(&m, &cfg, &e) || gpt_build(&ed, &cfg, &e)) {
		CHECK(0, "build: %s", e.msg);
		return;
	}
	gpt_init_random(&m, 7);
	/* random model: scale the residual writers up so blocks matter */
	for (size_t i = 0; i < m.sizes[6]; i++)
		m.params.attprojw[i] *= 20;
	for (size_t i = 0; i < m.sizes[12]; i++)
		m.params.fcprojw[i] *= 20;
	for (int i = 0; i < 16; i++)
		m.params.attprojb[i] = m.params.fcprojb[i + 16] = 0.1f * (float)(i % 5) - 0.2f;
	memcpy(ed.params_mem, m.params_mem, sizeof(float) * m.nparams);
	float rhat[16];
	double nn = 0;
	for (int i = 0; i < 16; i++) {
		rhat[i] = (float)sin(1.7 * i + 0.3);
		nn += (double)rhat[i] * rhat[i];
	}
	for (int i = 0; i < 16; i++)
		rhat[i] = (float)(rhat[i] / sqrt(nn));
	wo_orthogonalize(&ed, rhat, 0);
	const int ids[10] = {TOK_USER, R_MAKE, 17, R_TOXIN, TOK_EOI, TOK_ASSISTANT, R_I, R_CAN, R_NOT, R_HELP};
	float a[10 * 32], b[10 * 32], c[10 * 32], base[10 * 32];
	run_logits(&m, ids, 10, base);
	struct wo_hook h = {WO_HOOK_ABLATE_BLOCKS, rhat, NULL, -1, 0};
	m.hook = wo_hook_fn;
	m.hook_ctx = &h;
	run_logits(&m, ids, 10, a);
	h.mode = WO_HOOK_ABLATE_ALL;
	run_logits(&m, ids, 10, c);
	m.hook = NULL;
	run_logits(&ed, ids, 10, b);
	double d = 0, dall = 0, dbase = 0;
	for (int i = 0; i < 10 * v.n; i++) {
		d = fabs(a[i] - b[i]) > d ? fabs(a[i] - b[i]) : d;
		dall = fabs(c[i] - b[i]) > dall ? fabs(c[i] - b[i]) : dall;
		dbase = fabs(base[i] - b[i]) > dbase ? fabs(base[i] - b[i]) : dbase;
	}
	CHECK(d < 1e-4 && dbase > 1e-2,
	      "wo: ablating r from every block output (hook) = the edited weights: max |logit "
	      "diff| %.2e over 10 positions (the edit moves logits by %.3f)",
	      d, dbase);
	CHECK(dall > 1e-2,
	      "ablating the embeddings' component too is a different intervention (max |diff| "
	      "%.3f), which is why wo keeps it",
	      dall);
	/* activation addition at point 0 = adding the vector to every position embedding */
	float add[16];
	for (int i = 0; i < 16; i++)
		add[i] = 0.25f * (float)cos(0.9 * i);
	struct wo_hook ha = {WO_HOOK_NONE, NULL, add, 0, 0};
	m.hook = wo_hook_fn;
	m.hook_ctx = &ha;
	run_logits(&m, ids, 10, a);
	m.hook = NULL;
	for (int t = 0; t < 16; t++)
		for (int i = 0; i < 16; i++)
			m.params.wpe[t * 16 + i] += add[i];
	run_logits(&m, ids, 10, b);
	d = 0;
	for (int i = 0; i < 10 * v.n; i++)
		d = fabs(a[i] - b[i]) > d ? fabs(a[i] - b[i]) : d;
	CHECK(d < 1e-4, "activation addition at point 0 = r added to every wpe row (max |diff| %.2e)",
	      d);
	gpt_free(&m);
	gpt_free(&ed);
	vocab_release(&v);
}

int main(void)
{
	test_directions();
	test_refusal_score();
	test_kl();
	test_orthogonalize();
	test_hook_equals_edit();
	return check_done();
}
