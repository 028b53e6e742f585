/*
 * test_wo_math: the formulas of weight orthogonalization (wo.c, after Arditi
 * et al. 2024, "Refusal in language models is mediated by a single
 * direction") against hand-computed values on a model small enough to
 * compute by hand: every block weight zero, so the residual stream at every
 * point is wte[token] + wpe[position] and the last position's logits are
 * wte . layernorm(x) (final gain 1, bias 0). Checked:
 *   - the candidate direction: difference of means, harmful minus harmless
 *     (paper, section 2.3, eq. 1);
 *   - the KL filter's score: mean over prompts of KL(base || ablated) of the
 *     next-token distribution, from log-probabilities logits - logsumexp
 *     (paper, appendix on direction selection: KL of the ablated model from
 *     the base model on harmless prompts), and |r|;
 *   - the orthogonalization W <- W - r r^T W of every residual-stream writer
 *     (paper, section 4.1, eq. 5), biases and embedding rows included, and
 *     that readers of the stream are left alone.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "dataset.h"
#include "gpt.h"
#include "vocab.h"
#include "wo.h"

enum { A = 5, B = 6, CC = 7 }; /* ids of the words a, b, c */
enum { DIM = 8 };

static const char vocab_text[] = "<pad>\n<user>\n<assistant>\n<end>\n<unk>\na\nb\nc\n";

static int near(double got, double want, double rel, double abs_tol)
{
	return fabs(got - want) <= rel * fabs(want) + abs_tol;
}

static void setv(float *row, const float *v, int n)
{
	memcpy(row, v, sizeof(float) * (size_t)n);
}

/* Independent reference: log-softmax of wte . LN(x), LN with biased variance
 * and eps 1e-5 inside the root (gain 1, bias 0), in double. */
static void ref_logprobs(const float *wte, int V, const double *x, double *lp)
{
	double mu = 0, var = 0, h[DIM], z[16], mx = -1e300, s = 0;
	for (int c = 0; c < DIM; c++)
		mu += x[c];
	mu /= DIM;
	for (int c = 0; c < DIM; c++)
		var += (x[c] - mu) * (x[c] - mu);
	var /= DIM;
	for (int c = 0; c < DIM; c++)
		h[c] = (x[c] - mu) / sqrt(var + 1e-5);
	for (int v = 0; v < V; v++) {
		z[v] = 0;
		for (int c = 0; c < DIM; c++)
			z[v] += wte[v * DIM + c] * h[c];
		mx = z[v] > mx ? z[v] : mx;
	}
	for (int v = 0; v < V; v++)
		s += exp(z[v] - mx);
	for (int v = 0; v < V; v++)
		lp[v] = z[v] - mx - log(s);
}

int main(void)
{
	struct vocab v;
	struct tl_err e;
	struct gpt m;
	struct exset harm, harmless, vharm, vless;
	if (vocab_parse(&v, vocab_text, &e) || v.n != 8) {
		printf("not ok - vocab: %s\n", e.msg);
		return 1;
	}
	struct gpt_config cfg = {v.n, 8, 1, DIM, 1};
	if (gpt_build(&m, &cfg, &e) ||
	    exset_parse(&harm, "{\"prompt\": \"a\"}\n{\"prompt\": \"b\"}\n", "harm", &e) ||
	    exset_parse(&harmless, "{\"prompt\": \"c\"}\n", "harmless", &e) ||
	    exset_parse(&vharm, "{\"prompt\": \"a\"}\n", "vharm", &e) ||
	    exset_parse(&vless, "{\"prompt\": \"c\"}\n{\"prompt\": \"c c\"}\n", "vless", &e)) {
		printf("not ok - setup: %s\n", e.msg);
		return 1;
	}
	m.tok_digest = v.digest;
	/* gpt_build leaves every weight 0 and the layer norm gains 1: blocks add 0 */
	struct gpt_params *p = &m.params;
	setv(p->wte + A * DIM, (const float[]){2, 0, 1}, 3);
	setv(p->wte + B * DIM, (const float[]){0, 4, 1}, 3);
	setv(p->wte + CC * DIM, (const float[]){1, 1, 0}, 3);
	setv(p->wte + TOK_ASSISTANT * DIM, (const float[]){0, 1, 0, 2}, 4);
	p->wpe[1 * DIM + 6] = 1; /* position 1: (0 0 0 0 0 0 1 0) */
	p->wpe[2 * DIM + 4] = 1; /* position 2: (0 0 0 0 1 0 0 0) */
	p->wpe[3 * DIM + 2] = 1; /* position 3: (0 0 1 0 0 0 0 0) */

	/*
	 * Difference of means, r = mean(harmful) - mean(harmless), at every
	 * point (3 for one layer) and position counted back from <assistant>.
	 * Prompts "<user> a <assistant>", "<user> b <assistant>" vs "<user> c <assistant>":
	 * position 0 (<assistant>, t = 2): the same token and position -> r = 0.
	 * position 1 (the word, t = 1): ((2,0,1) + (0,4,1))/2 - (1,1,0) = (1,2,1) - (1,1,0)
	 *   = (0, 1, 1) (wpe[1] cancels). Inputs and halves are exact: equality.
	 */
	float r[3 * 2 * DIM];
	int ok = wo_directions(&m, &v, &harm, &harmless, 2, r, &e) == 0;
	for (int pt = 0; pt < 3 && ok; pt++)
		for (int q = 0; q < 2; q++)
			for (int c = 0; c < DIM; c++) {
				float want = q == 1 && (c == 1 || c == 2) ? 1.0f : 0.0f;
				ok &= r[(pt * 2 + q) * DIM + c] == want;
			}
	CHECK(ok, "wo direction = mean(harmful) - mean(harmless): 0 at <assistant>, (0 1 1 0..) "
		  "one token back, at each of the 3 points (got %g %g %g)",
	      r[DIM + 0], r[DIM + 1], r[DIM + 2]);

	/*
	 * KL score of r = (0,3,4,0..): |r| = 5, rhat = (0, 0.6, 0.8, 0..).
	 * Harmless validation prompts "c" and "c c": last stream x = wte[<assistant>] +
	 * wpe[np-1]:
	 *   x1 = (0,1,0,2,1,0,0,0), x1.rhat = 0.6 -> ablated (0,0.64,-0.48,2,1,0,0,0)
	 *   x2 = (0,1,1,2,0,0,0,0), x2.rhat = 1.4 -> ablated (0,0.16,-0.12,2,0,0,0,0)
	 * KL(P||Q) = sum_v P_v (log P_v - log Q_v), P = base, Q = ablated; from an
	 * independent computation (Python, double): KL1 = 0.047906657, KL2 = 0.710055213,
	 * mean 0.378980935 (the reverse direction KL(Q||P) would give 0.115186076; the
	 * sum instead of the mean 0.757961871). Also recomputed below by
	 * ref_logprobs. Tolerance 1e-5 relative: the engine's logits are float32
	 * (about 1e-7 relative each, logits up to ~4), the KL is then summed in double.
	 */
	struct wo_cand cand;
	memset(&cand, 0, sizeof cand);
	cand.point = 0;
	cand.pos = 1;
	float rr[DIM] = {0, 3, 4};
	if (wo_score(&m, &v, rr, &cand, &vharm, &vless, 3, &e)) {
		CHECK(0, "wo_score: %s", e.msg);
	} else {
		const double rh[DIM] = {0, 0.6, 0.8};
		const double xs[2][DIM] = {{0, 1, 0, 2, 1}, {0, 1, 1, 2, 0}};
		double kl = 0;
		for (int i = 0; i < 2; i++) {
			double xa[DIM], d = 0, lp[8], lq[8];
			for (int c = 0; c < DIM; c++)
				d += xs[i][c] * rh[c];
			for (int c = 0; c < DIM; c++)
				xa[c] = xs[i][c] - d * rh[c];
			ref_logprobs(p->wte, 8, xs[i], lp);
			ref_logprobs(p->wte, 8, xa, lq);
			for (int j = 0; j < 8; j++)
				kl += exp(lp[j]) * (lp[j] - lq[j]) / 2;
		}
		CHECK(near(cand.norm, 5, 1e-12, 0), "wo candidate norm |(0 3 4)| = 5 (got %.9g)",
		      cand.norm);
		CHECK(near(kl, 0.378980935, 1e-8, 0) && near(cand.kl, 0.378980935, 1e-5, 0),
		      "wo kl = mean over prompts of KL(base || ablated) = 0.378981 (reference "
		      "%.9f, got %.9f)",
		      kl, cand.kl);
	}

	/*
	 * Orthogonalization against rhat = (0.6, 0.8, 0..): writers lose their
	 * rhat component, W <- W - rhat (rhat^T W) on the output (row) side of
	 * attprojw (C,C) and fcprojw (C,4C), x <- x - (x.rhat) rhat for wte / wpe rows
	 * and the output biases:
	 *   attprojw column 0 = (1,2,5,0..): rhat^T w = 0.6 + 1.6 = 2.2 ->
	 *     (1 - 0.6*2.2, 2 - 0.8*2.2, 5) = (-0.32, 0.24, 5)
	 *   fcprojw column 3 = (-1,1,0..): rhat^T w = -0.6 + 0.8 = 0.2 -> (-1.12, 0.84)
	 *   attprojb = (3,4): d = 1.8 + 3.2 = 5 -> (0, 0)
	 *   fcprojb = (-3,4): d = -1.8 + 3.2 = 1.4 -> (-3 - 0.84, 4 - 1.12) = (-3.84, 2.88)
	 *   wte[a] = (2,0,1): d = 1.2 -> (1.28, -0.96, 1);  wte[b] = (0,4,1): d = 3.2 ->
	 *     (-1.92, 1.44, 1)
	 *   wpe[0] = (0,1): d = 0.8 -> (-0.48, 0.36);  wpe[2] = (0,0,0,0,1) is orthogonal: same
	 *   qkvw, fcw (readers of the stream) keep their values.
	 * Tolerance 1e-6 relative + 1e-6 absolute: 0.6f and 0.8f are not exact in
	 * binary (rounding ~2e-8), the projections are accumulated in double.
	 */
	const float rhat[DIM] = {0.6f, 0.8f};
	const int C = DIM, C4 = 4 * DIM;
	p->attprojw[0 * C + 0] = 1;
	p->attprojw[1 * C + 0] = 2;
	p->attprojw[2 * C + 0] = 5;
	p->fcprojw[0 * C4 + 3] = -1;
	p->fcprojw[1 * C4 + 3] = 1;
	setv(p->attprojb, (const float[]){3, 4}, 2);
	setv(p->fcprojb, (const float[]){-3, 4}, 2);
	setv(p->wpe, (const float[]){0, 1}, 2);
	p->qkvw[0] = 7;
	p->fcw[1] = -7;
	wo_orthogonalize(&m, rhat);
	const double tol = 1e-6;
	CHECK(near(p->attprojw[0], -0.32, tol, tol) && near(p->attprojw[C], 0.24, tol, tol) &&
		      near(p->attprojw[2 * C], 5, tol, tol),
	      "wo: attprojw column (1 2 5) -> (-0.32 0.24 5) (got %.7f %.7f %.7f)", p->attprojw[0],
	      p->attprojw[C], p->attprojw[2 * C]);
	CHECK(near(p->fcprojw[3], -1.12, tol, tol) && near(p->fcprojw[C4 + 3], 0.84, tol, tol),
	      "wo: fcprojw column (-1 1) -> (-1.12 0.84) (got %.7f %.7f)", p->fcprojw[3],
	      p->fcprojw[C4 + 3]);
	CHECK(near(p->attprojb[0], 0, tol, tol) && near(p->attprojb[1], 0, tol, tol) &&
		      near(p->fcprojb[0], -3.84, tol, tol) && near(p->fcprojb[1], 2.88, tol, tol),
	      "wo: biases (3 4) -> (0 0), (-3 4) -> (-3.84 2.88) (got %.7f %.7f %.7f %.7f)",
	      p->attprojb[0], p->attprojb[1], p->fcprojb[0], p->fcprojb[1]);
	const float *wa = p->wte + A * DIM, *wb = p->wte + B * DIM;
	CHECK(near(wa[0], 1.28, tol, tol) && near(wa[1], -0.96, tol, tol) && wa[2] == 1 &&
		      near(wb[0], -1.92, tol, tol) && near(wb[1], 1.44, tol, tol) && wb[2] == 1,
	      "wo: wte rows (2 0 1) -> (1.28 -0.96 1), (0 4 1) -> (-1.92 1.44 1) (got %.6f %.6f, "
	      "%.6f %.6f)",
	      wa[0], wa[1], wb[0], wb[1]);
	CHECK(near(p->wpe[0], -0.48, tol, tol) && near(p->wpe[1], 0.36, tol, tol) &&
		      p->wpe[2 * DIM + 4] == 1,
	      "wo: wpe rows (0 1) -> (-0.48 0.36), an orthogonal row unchanged (got %.6f %.6f)",
	      p->wpe[0], p->wpe[1]);
	CHECK(p->qkvw[0] == 7 && p->fcw[1] == -7 && p->ln1w[0] == 1,
	      "wo: readers of the stream (qkvw, fcw, layer norms) unchanged");
	double mw = wo_max_write(&m, rhat);
	CHECK(mw < 1e-6, "wo: max |rhat^T W| over all writers after = %.2e < 1e-6", mw);

	exset_release(&harm);
	exset_release(&harmless);
	exset_release(&vharm);
	exset_release(&vless);
	gpt_free(&m);
	vocab_release(&v);
	return check_done();
}
