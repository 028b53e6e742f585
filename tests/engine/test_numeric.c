/*
 * test_numeric: the engine's formulas that the gradient check cannot pin
 * (test_gradcheck only checks that each backward matches its own forward; a
 * wrong forward, optimiser or schedule passes it) against values computed by
 * hand for tiny inputs, each with its source:
 *   - AdamW step (gpt_update): moments, bias correction, epsilon placement,
 *     decoupled weight decay and which tensors it applies to, frozen tensors;
 *   - the learning-rate schedule of train_run (linear warmup, cosine decay to
 *     10% of the peak), observed through train_run itself;
 *   - layer norm statistics (mean, biased variance, epsilon inside the root);
 *   - softmax / cross-entropy, tanh-GELU, causal scaled attention, matmul;
 *   - the engine's own exp (accuracy against libm, saturation).
 * Gradient clipping: the engine has none (no clip in stages/toyllm: train_run
 * feeds raw gradients to gpt_update), so there is no formula to pin.
 * Expected values are literals with their arithmetic in a comment (computed in
 * double by hand / a calculator), or an independent formula written out here;
 * none calls the engine helper under test to make its own expectation.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "gpt.h"
#include "kernels.h"
#include "train.h"
#include "vocab.h"

/* |got - want| <= rel*|want| + abs_tol */
static int near(double got, double want, double rel, double abs_tol)
{
	return fabs(got - want) <= rel * fabs(want) + abs_tol;
}

/* ---- AdamW ------------------------------------------------------------------------ */

/*
 * Source: Kingma & Ba (2015), "Adam", Algorithm 1: m = b1 m + (1-b1) g,
 * v = b2 v + (1-b2) g^2, mh = m/(1-b1^t), vh = v/(1-b2^t),
 * p -= lr mh/(sqrt(vh) + eps)  (eps outside the root, after bias correction;
 * not the "efficient" alpha_t variant of their section 2). Weight decay is
 * decoupled as in Loshchilov & Hutter (2019), "Decoupled Weight Decay
 * Regularization", Algorithm 2 line 12, in PyTorch's AdamW form where the
 * decay is scaled by the learning rate: p -= lr (mh/(sqrt(vh)+eps) + wd p),
 * p the value before the step. gpt.h documents that decay applies to the
 * matrices wte, qkvw, attprojw, fcw, fcprojw only (not biases, layer norm
 * gains or the position embeddings wpe -- a deliberate choice: GPT-2/llm.c
 * decay every 2-D tensor, wpe included).
 * Tolerance 1e-6 relative on parameters near 1: a step is ~10 float32
 * operations, each within 6e-8 relative, so the float result is within a few
 * ulps (1.2e-7) of the exact value; every break below moves p by > 1e-4.
 */
static void test_adamw(void)
{
	struct gpt_config cfg = {8, 4, 1, 8, 1};
	struct gpt m;
	struct tl_err e;
	if (gpt_build(&m, &cfg, &e) || gpt_alloc_train(&m, &e)) {
		CHECK(0, "adamw: build: %s", e.msg);
		return;
	}
	const float b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f; /* train_run's betas, eps */
	const float lr[3] = {0.01f, 0.02f, 0.005f};
	const float g[3] = {0.5f, -0.25f, 1.0f};
	memset(m.params_mem, 0, m.nparams * sizeof(float));
	memset(m.m_mem, 0, m.nparams * sizeof(float));
	memset(m.v_mem, 0, m.nparams * sizeof(float));
	float *pd = &m.params.wte[0]; /* decayed (a matrix) */
	float *pn = &m.params.wpe[0]; /* not decayed (position embeddings) */
	float *pe = &m.params.wpe[1]; /* tiny gradient: where eps decides the step */
	size_t id = (size_t)(pd - m.params_mem), in = (size_t)(pn - m.params_mem),
	       ie = (size_t)(pe - m.params_mem);
	*pd = 1.0f;
	*pn = 1.0f;
	*pe = 0.0f;
	/*
	 * step 1, g = 0.5, lr = 0.01:
	 *   m = 0.1*0.5 = 0.05; v = 0.05*0.25 = 0.0125
	 *   mh = 0.05/(1-0.9) = 0.5; vh = 0.0125/(1-0.95) = 0.25; sqrt = 0.5
	 *   u = 0.5/(0.5+1e-8) = 0.99999998
	 *   decayed: 1 - 0.01*(0.99999998 + 0.1*1) = 0.98900000
	 *   plain:   1 - 0.01*0.99999998          = 0.99000000
	 * step 2, g = -0.25, lr = 0.02:
	 *   m = 0.9*0.05 + 0.1*(-0.25) = 0.02; v = 0.95*0.0125 + 0.05*0.0625 = 0.015
	 *   mh = 0.02/(1-0.81) = 0.105263158; vh = 0.015/(1-0.9025) = 0.153846154
	 *   u = 0.105263158/0.392232270 = 0.268369441
	 *   decayed: 0.989 - 0.02*(0.268369441 + 0.1*0.989) = 0.981654611
	 *   plain:   0.99  - 0.02*0.268369441            = 0.984632611
	 * step 3, g = 1, lr = 0.005:
	 *   m = 0.9*0.02 + 0.1*1 = 0.118; v = 0.95*0.015 + 0.05*1 = 0.06425
	 *   mh = 0.118/(1-0.729) = 0.435424354; vh = 0.06425/(1-0.857375) = 0.450482033
	 *   u = 0.435424354/0.671179584 = 0.648744924
	 *   decayed: 0.981654611 - 0.005*(0.648744924 + 0.1*0.981654611) = 0.977920060
	 *   plain:   0.984632611 - 0.005*0.648744924                     = 0.981388887
	 * eps element, g = 1e-8 at step 1: mh = 1e-8, vh = 1e-16, sqrt(vh) = 1e-8,
	 *   u = 1e-8/(1e-8 + 1e-8) = 0.5 -> p = 0 - 0.01*0.5 = -0.005
	 *   (eps inside the root would give u = 1e-8/sqrt(1e-16+1e-8) = 1e-4).
	 */
	const double want_d[3] = {0.9890000002, 0.9816546114, 0.9779200595};
	const double want_n[3] = {0.9900000002, 0.9846326114, 0.9813888868};
	for (int s = 0; s < 3; s++) {
		memset(m.grads_mem, 0, m.nparams * sizeof(float));
		m.grads_mem[id] = g[s];
		m.grads_mem[in] = g[s];
		m.grads_mem[ie] = 1e-8f;
		gpt_update(&m, lr[s], b1, b2, eps, wd, s + 1);
		if (s == 0) {
			CHECK(near(m.m_mem[id], 0.05, 1e-6, 0) && near(m.v_mem[id], 0.0125, 1e-6, 0),
			      "adamw step 1: moments m = 0.05, v = 0.0125 (got %.9g, %.9g)",
			      m.m_mem[id], m.v_mem[id]);
			CHECK(near(*pe, -0.005, 1e-6, 0),
			      "adamw step 1: eps added to sqrt(vh), after bias correction: g = 1e-8 "
			      "moves p by lr/2 = -0.005 (got %.9g)",
			      *pe);
		}
		CHECK(near(*pd, want_d[s], 1e-6, 0),
		      "adamw step %d: decayed matrix element = %.9f (got %.9f)", s + 1, want_d[s],
		      *pd);
		CHECK(near(*pn, want_n[s], 1e-6, 0),
		      "adamw step %d: undecayed element = %.9f (got %.9f)", s + 1, want_n[s], *pn);
	}

	/* Which tensors decay: p = 1, g = 0, fresh moments, lr 0.1, wd 0.5 ->
	 * decayed 1 - 0.1*(0/(0+eps) + 0.5*1) = 0.95, others stay 1 exactly. */
	static const char *const decayed[] = {"wte", "qkvw", "attprojw", "fcw", "fcprojw"};
	for (size_t i = 0; i < m.nparams; i++)
		m.params_mem[i] = 1.0f;
	memset(m.grads_mem, 0, m.nparams * sizeof(float));
	memset(m.m_mem, 0, m.nparams * sizeof(float));
	memset(m.v_mem, 0, m.nparams * sizeof(float));
	gpt_update(&m, 0.1f, b1, b2, eps, 0.5f, 1);
	for (int t = 0; t < GPT_NTENSORS; t++) {
		int dec = 0;
		for (size_t k = 0; k < sizeof decayed / sizeof *decayed; k++)
			dec |= !strcmp(gpt_param_names[t], decayed[k]);
		size_t n;
		float *p = gpt_tensor(&m, t, &n);
		int ok = 1;
		for (size_t k = 0; k < n; k++)
			ok &= dec ? near(p[k], 0.95, 1e-6, 0) : p[k] == 1.0f;
		CHECK(ok, "weight decay %s %s (p 1 -> %s, got %.9g)", dec ? "applies to" : "skips",
		      gpt_param_names[t], dec ? "0.95" : "1", p[0]);
	}

	/* A frozen tensor: neither it nor its moments move. */
	for (size_t i = 0; i < m.nparams; i++) {
		m.params_mem[i] = 1.0f;
		m.grads_mem[i] = 0.5f;
	}
	memset(m.m_mem, 0, m.nparams * sizeof(float));
	memset(m.v_mem, 0, m.nparams * sizeof(float));
	m.frozen[0] = 1; /* wte */
	gpt_update(&m, 0.1f, b1, b2, eps, 0.5f, 1);
	int fr = 1;
	for (size_t k = 0; k < m.sizes[0]; k++)
		fr &= m.params_mem[k] == 1.0f && m.m_mem[k] == 0 && m.v_mem[k] == 0;
	/* wpe (next tensor, not decayed): 1 - 0.1*1 = 0.9 */
	CHECK(fr && near(m.params.wpe[0], 0.9, 1e-6, 0),
	      "a frozen tensor and its moments stay; the next one moves 1 -> 0.9 (got %.9g)",
	      m.params.wpe[0]);
	gpt_free(&m);
}

/* ---- learning-rate schedule --------------------------------------------------------- */

/*
 * Source: linear warmup (Goyal et al. 2017, "Accurate, Large Minibatch SGD",
 * section 2.2) then cosine annealing (Loshchilov & Hutter 2017, "SGDR", eq. 5:
 * lr = min + (max - min)(1 + cos(pi T_cur/T_i))/2) with min = 0.1 peak, as
 * train.h documents. The code's exact form (train.c, train_run), for S steps
 * and W = floor(warmup*S) warmup steps, step k = 0..S-1:
 *   k <  W: lr = peak (k+1)/(W+1)        (reaches W/(W+1) of the peak, not 1)
 *   k >= W: pr = (k-W)/(S-W-1) (1 when S-W <= 1),
 *           lr = peak (0.1 + 0.9 (1 + cos(pi pr))/2)   (peak at k = W, 0.1 peak last)
 * The schedule is inline in train_run, so it is observed through train_run:
 * a model whose final layer norm is zero and frozen has a zero gradient in
 * every other tensor (logits = wte . (0*norm + 0) = 0, and the layer norm
 * backward multiplies by its gain 0), so Adam's term is 0/(0+eps) = 0 and each
 * wte element only decays: p_k = p_{k-1} - lr_k*wd*p_{k-1}. After S steps
 * p = prod_k (1 - lr_k wd), and with wd = 1 and a peak of 0.5 every factor is
 * 0.5..0.95, so a wrong lr at any step moves the product by about as much.
 * Tolerance 1e-6 relative: S float multiply-subtracts near 1 (few ulps each).
 */
static const char sched_vocab[] = "<pad>\n<user>\n<assistant>\n<end>\n<unk>\n<eoi>\na\nb\nc\nd\ne\n";
static char *sched_docs[] = {"a b c", "b c d", "c d e", "d e a"};

/* Runs train_run for `epochs` over 4 one-row documents with batch 4 (so
 * steps = ceil(epochs)); returns wte[0] (starting at 1) or NAN. *ln = ln1w[0]. */
static double sched_run(double epochs, float warmup, float peak, float wd, int *steps, float *ln)
{
	struct vocab v;
	struct tl_err e;
	struct gpt m;
	struct seqs s;
	double out = NAN;
	if (vocab_parse(&v, sched_vocab, &e))
		return NAN;
	struct gpt_config cfg = {v.n, 4, 1, 8, 1};
	seqs_init(&s);
	if (gpt_build(&m, &cfg, &e) || seqs_add_lines(&s, &v, sched_docs, 4, &e)) {
		vocab_release(&v);
		return NAN;
	}
	m.tok_digest = v.digest;
	for (size_t i = 0; i < m.sizes[0]; i++)
		m.params.wte[i] = 1.0f;
	for (int i = 0; i < cfg.dim; i++)
		m.params.lnfw[i] = 0.0f;
	m.frozen[14] = m.frozen[15] = 1; /* lnfw, lnfb */
	struct train_opts o;
	struct train_result r;
	train_opts_default(&o);
	o.epochs = epochs;
	o.batch = 4;
	o.pack = 0;
	o.lr = peak;
	o.wd = wd;
	o.warmup = warmup;
	if (train_run(&m, &s, &o, &r, &e) == 0) {
		out = m.params.wte[0];
		*steps = r.steps;
		*ln = m.params.ln1w[0];
	} else
		printf("# train_run: %s\n", e.msg);
	seqs_release(&s);
	gpt_free(&m);
	vocab_release(&v);
	return out;
}

/* The schedule written out independently (in double) from the formula above. */
static double sched_lr(double peak, float warmup, int k, int S)
{
	int W = (int)floor((double)warmup * S);
	if (k < W)
		return peak * (k + 1) / (W + 1);
	double pr = S - W > 1 ? (double)(k - W) / (S - W - 1) : 1.0;
	return peak * (0.1 + 0.45 * (1.0 + cos(M_PI * pr)));
}

static void test_schedule(void)
{
	struct {
		double epochs;
		float warmup, peak, wd;
		double hand; /* hand-computed product, 0 = only the formula */
		const char *why;
	} c[] = {
		/* S=1, W=0: single step, pr = 1: lr = 0.1*0.5 = 0.05 -> p = 0.95 */
		{1, 0.05f, 0.5f, 1.0f, 0.95, "1 step: 0.1 peak"},
		/* S=2, W=0: lr = 0.5 (pr 0), 0.05 (pr 1) -> (1-0.5)(1-0.05) = 0.475 */
		{2, 0.05f, 0.5f, 1.0f, 0.475, "2 steps: peak then 0.1 peak"},
		/* S=4, W=2: lr = 0.5*1/3, 0.5*2/3, then pr 0, 1: 0.5, 0.05 ->
		 * (5/6)(2/3)(1/2)(0.95) = 0.263888889 */
		{4, 0.5f, 0.5f, 1.0f, 0.2638888889, "4 steps, 2 warmup"},
		/* S=6, W=3: lr = 0.125, 0.25, 0.375, then pr 0, 1/2, 1: 0.5,
		 * 0.5*(0.1 + 0.45*(1 + cos(pi/2))) = 0.275, 0.05 ->
		 * 0.875*0.75*0.625*0.5*0.725*0.95 = 0.141247559 */
		{6, 0.5f, 0.5f, 1.0f, 0.14124755859375, "6 steps, 3 warmup, cosine midpoint"},
		/* S=20, default warmup 0.05 -> W = 1; the formula only */
		{20, 0.05f, 0.1f, 1.0f, 0, "20 steps, default warmup share"},
	};
	for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
		int S = 0;
		float ln = 0;
		double got = sched_run(c[i].epochs, c[i].warmup, c[i].peak, c[i].wd, &S, &ln);
		double want = 1.0;
		for (int k = 0; k < S; k++)
			want *= 1.0 - sched_lr(c[i].peak, c[i].warmup, k, S) * c[i].wd;
		int hand_ok = c[i].hand == 0 || near(want, c[i].hand, 1e-9, 0);
		CHECK(S == (int)c[i].epochs && hand_ok && near(got, want, 1e-6, 0),
		      "lr schedule, %s: %d steps, prod(1 - lr_k wd) = %.9f (got %.9f)", c[i].why, S,
		      want, got);
		if (i == 0)
			CHECK(ln == 1.0f, "train_run does not decay layer norm gains (got %.9g)", ln);
	}
}

/* ---- layer norm ------------------------------------------------------------------ */

/*
 * Source: Ba, Kiros & Hinton (2016), "Layer Normalization", eq. 4: mu = mean,
 * sigma^2 = (1/H) sum (x - mu)^2 (biased, divide by H), with the
 * implementation's eps inside the root as in PyTorch nn.LayerNorm / llm.c:
 * y = (x - mu)/sqrt(sigma^2 + 1e-5) * w + b; the kernel also stores mu and
 * rstd = 1/sqrt(sigma^2 + 1e-5) for the backward.
 * Row 0 x = 1 2 3 6: mu = 12/4 = 3; sigma^2 = (4+1+0+9)/4 = 3.5
 *   (n-1 would give 4.667); rstd = 1/sqrt(3.50001) = 0.534521720
 *   y = (-2r*1, -1r*2 + 0.1, 0*0.5 - 0.2, 3r*(-1) + 0.3)
 *     = (-1.069043440, -0.969043440, -0.2, -1.303565161)
 * Row 1 x = (-3 -1 1 3)/1024: mu = 0; sigma^2 = 20/4/2^20 = 4.76837158e-6, so eps
 *   matters: rstd = 1/sqrt(1.476837158e-5) = 260.215819 (eps outside the root:
 *   1/(sqrt(sigma^2) + 1e-5) = 455.859; no eps: 457.944)
 *   y = (-3r/1024, -2r/1024 + 0.1, 0.5r/1024 - 0.2, -3r/1024 + 0.3)
 *     = (-0.762351032, -0.408234021, -0.072941495, -0.462351032)
 * Tolerance 1e-6 relative (+1e-7 absolute for outputs near 0): the inputs, mean
 * and variance are exact in float32; sqrt, divide, multiply and add each
 * round once (a few ulps in all).
 */
static void test_layernorm(void)
{
	const float x[8] = {1, 2, 3, 6, -3.0f / 1024, -1.0f / 1024, 1.0f / 1024, 3.0f / 1024};
	const float w[4] = {1, 2, 0.5f, -1}, b[4] = {0, 0.1f, -0.2f, 0.3f};
	float y[8], mean[2], rstd[2];
	layernorm_forward(NULL, y, mean, rstd, x, w, b, 2, 4);
	const double wm[2] = {3, 0}, wr[2] = {0.5345217202, 260.2158190};
	const double wy[8] = {-1.069043440, -0.969043440, -0.2, -1.303565161,
			      -0.762351032, -0.408234021, -0.072941495, -0.462351032};
	for (int r = 0; r < 2; r++) {
		int ok = near(mean[r], wm[r], 1e-6, 1e-9) && near(rstd[r], wr[r], 1e-6, 0);
		for (int i = 0; i < 4; i++)
			ok &= near(y[r * 4 + i], wy[r * 4 + i], 1e-6, 1e-7);
		CHECK(ok, "layernorm row %d: mean %g, biased variance, rstd %.7f (got %.7g, %.7g), "
			  "y %.6f %.6f %.6f %.6f (got %.6f %.6f %.6f %.6f)",
		      r, wm[r], wr[r], mean[r], rstd[r], wy[r * 4], wy[r * 4 + 1], wy[r * 4 + 2],
		      wy[r * 4 + 3], y[r * 4], y[r * 4 + 1], y[r * 4 + 2], y[r * 4 + 3]);
	}
}

/* ---- softmax cross-entropy --------------------------------------------------------- */

/*
 * Source: softmax p_i = exp(z_i - max z)/sum_j exp(z_j - max z) (the max shift
 * cancels; Goodfellow, Bengio & Courville 2016, "Deep Learning", 4.1) and the
 * cross-entropy loss -log p_target.
 * z = 1 2 3: Z = e^-2 + e^-1 + 1 = 1.503214724 (after the shift by 3);
 *   p = (0.090030573, 0.244728471, 0.665240956); target 0: loss = 2 + ln Z = 2.407605964
 * z = 1000 1001 1002 (would overflow without the shift): same p; target 2:
 *   loss = ln Z = 0.407605964
 * z = 0 -200 0, target 1: p_1 = e^-200 underflows to 0 in float; the kernel
 *   clamps the probability at 1e-30: loss = 30 ln 10 = 69.077552790
 * Tolerance 1e-6 relative: expf, the sum of 3 and the divide round a few times.
 */
static void test_softmax_ce(void)
{
	const float z[9] = {1, 2, 3, 1000, 1001, 1002, 0, -200, 0};
	const int tg[3] = {0, 2, 1};
	float p[9], loss[3];
	softmax_ce_forward(NULL, p, loss, z, tg, 3, 3);
	const double wp[3] = {0.090030573, 0.244728471, 0.665240956};
	int ok = 1;
	for (int r = 0; r < 2; r++)
		for (int i = 0; i < 3; i++)
			ok &= near(p[r * 3 + i], wp[i], 1e-6, 0);
	CHECK(ok, "softmax of 1 2 3 and of 1000 1001 1002 = 0.090031 0.244728 0.665241");
	CHECK(near(loss[0], 2.407605964, 1e-6, 0) && near(loss[1], 0.407605964, 1e-6, 0),
	      "cross-entropy -log p_target = 2.407606, 0.407606 (got %.7f, %.7f)", loss[0], loss[1]);
	CHECK(near(loss[2], 69.07755279, 1e-6, 0),
	      "cross-entropy of an underflowed probability is capped at -ln 1e-30 = 69.077553 "
	      "(got %.6f)",
	      loss[2]);
}

/* ---- GELU ------------------------------------------------------------------------ */

/*
 * Source: Hendrycks & Gimpel (2016), "Gaussian Error Linear Units", section 2,
 * tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as in
 * GPT-2. x = -1: 0.5*-1*(1 + tanh(0.797884561*-1.044715)) = -0.158808009;
 * x = 1: 0.841191991; x = 2: 0.5*2*(1 + tanh(0.797884561*2.35772)) = 1.954597694.
 * (The exact erf form gives -0.158655254, 0.841344746, 1.954499736: 1e-4 away.)
 * Tolerance 1e-6 relative: tanhf and four float products.
 */
static void test_gelu(void)
{
	const float x[4] = {-1, 0, 1, 2};
	float y[4];
	gelu_forward(y, x, 4);
	CHECK(near(y[0], -0.158808009, 1e-6, 0) && y[1] == 0 && near(y[2], 0.841191991, 1e-6, 0) &&
		      near(y[3], 1.954597694, 1e-6, 0),
	      "gelu(-1 0 1 2) = -0.158808 0 0.841192 1.954598 (got %.7f %g %.7f %.7f)", y[0], y[1],
	      y[2], y[3]);
}

/* ---- attention ------------------------------------------------------------------- */

/*
 * Source: Vaswani et al. (2017), "Attention Is All You Need", eq. 1:
 * softmax(q k^T / sqrt(d_k)) v, with a causal mask (position t attends to
 * t' <= t). One head, d_k = 2, T = 2:
 *   q0 = (1,0) k0 = (1,0) v0 = (1,2);  q1 = (1,1) k1 = (0,2) v1 = (3,-1)
 *   t=0: only itself: out0 = v0 = (1, 2); pre = q0.k0/sqrt2 = 0.707106781
 *   t=1: pre = (1, 2)/sqrt2 = (0.707106781, 1.414213562);
 *        att = (1/(1+e^0.707106781), ...) = (0.330238451, 0.669761549)
 *        out1 = 0.330238451*(1,2) + 0.669761549*(3,-1) = (2.339523099, -0.009284648)
 * Tolerance 1e-6 relative (+1e-7 absolute for the small out1[1], a difference
 * of two terms near 0.66).
 */
static void test_attention(void)
{
	/* rows of (q, k, v), C = 2 */
	const float qkv[12] = {1, 0, 1, 0, 1, 2, 1, 1, 0, 2, 3, -1};
	float out[4], pre[4], a[32]; /* weights: rows of attention_ld(2) = 16 */
	attention_forward(NULL, out, pre, a, qkv, 1, 2, 2, 1);
	const float att[4] = {a[0], a[1], a[16], a[17]};
	CHECK(near(pre[0], 0.707106781, 1e-6, 0) && near(pre[2], 0.707106781, 1e-6, 0) &&
		      near(pre[3], 1.414213562, 1e-6, 0),
	      "attention scores scaled by 1/sqrt(head size) (got %.7f %.7f %.7f)", pre[0], pre[2],
	      pre[3]);
	CHECK(att[0] == 1.0f && att[1] == 0.0f && near(att[2], 0.330238451, 1e-6, 0) &&
		      near(att[3], 0.669761549, 1e-6, 0),
	      "attention weights: causal (row 0 = 1 0) and softmax (row 1 = 0.330238 0.669762), "
	      "got %g %g %.7f %.7f",
	      att[0], att[1], att[2], att[3]);
	CHECK(near(out[0], 1, 1e-6, 0) && near(out[1], 2, 1e-6, 0) &&
		      near(out[2], 2.339523099, 1e-6, 0) && near(out[3], -0.009284648, 1e-6, 1e-7),
	      "attention output = (1 2) (2.339523 -0.009285) (got %.7f %.7f %.7f %.7f)", out[0],
	      out[1], out[2], out[3]);
}

/* ---- matmul ----------------------------------------------------------------------- */

/*
 * out = inp w^T + bias (inp (R,C), w (OC,C)), the nn.Linear convention.
 * Row 0 of inp = 1 2 3 4, w row 0 = 1 0 -1 2, bias 0.5:
 *   1 - 3 + 8 + 0.5 = 6.5. The rest against a plain double loop written here;
 * R = 5 reaches both the 4-row blocked path and the 1-row tail. Integers and
 * halves: every product and sum is exact in float, so the check is equality.
 */
static void test_matmul(void)
{
	enum { R = 5, C = 8, OC = 3 };
	float inp[R * C], w[OC * C], bias[OC] = {0.5f, -1, 2}, out[R * OC];
	for (int i = 0; i < R * C; i++)
		inp[i] = (float)(i % 7) - 2;
	for (int i = 0; i < OC * C; i++)
		w[i] = (float)(i % 5) - 1.5f;
	const float r0[C] = {1, 2, 3, 4, 0, 0, 0, 0}, w0[C] = {1, 0, -1, 2, 0, 0, 0, 0};
	memcpy(inp, r0, sizeof r0);
	memcpy(w, w0, sizeof w0);
	matmul_forward(NULL, out, inp, w, bias, R, C, OC);
	int ok = out[0] == 6.5f;
	for (int r = 0; r < R; r++)
		for (int o = 0; o < OC; o++) {
			double s = bias[o];
			for (int i = 0; i < C; i++)
				s += (double)inp[r * C + i] * w[o * C + i];
			ok &= out[r * OC + o] == (float)s;
		}
	CHECK(ok, "matmul: out = inp w^T + b (out[0][0] = 6.5, got %g; all 15 exact)", out[0]);
}

/* ---- exp ----------------------------------------------------------------------------- */

/*
 * The engine's own e^x (docs/engine.md "The arithmetic"; softmax, GELU's tanh)
 * against libm's double exp rounded to float, on 200,001 points of
 * [-87, 88]: within 2 ulp of the float result everywhere (an error in a
 * polynomial coefficient or the reduction shows as thousands of ulps), exact
 * at 0, and saturating instead of overflowing: e^100 is finite (e^88), e^-100
 * a tiny normal (e^-87.34).
 */
static void test_exp(void)
{
	enum { N = 200001 };
	static float x[N], y[N];
	for (int i = 0; i < N; i++)
		x[i] = -87.0f + 175.0f * (float)i / (N - 1);
	vec_exp(y, x, N);
	double worst = 0;
	float at = 0;
	for (int i = 0; i < N; i++) {
		float ref = (float)exp((double)x[i]);
		double ulp = nextafterf(ref, INFINITY) - ref, err = fabs((double)y[i] - ref) / ulp;
		if (err > worst) {
			worst = err;
			at = x[i];
		}
	}
	CHECK(worst <= 2.0, "exp within 2 ulp on [-87, 88] (worst %.2f ulp at x = %g)", worst, at);
	const float z[3] = {0.0f, 100.0f, -100.0f};
	float w[3];
	vec_exp(w, z, 3);
	CHECK(w[0] == 1.0f, "exp(0) = 1 exactly (got %.9g)", w[0]);
	CHECK(isfinite(w[1]) && w[1] > 1e38f && w[2] > 0 && w[2] < 1.2e-38f,
	      "exp saturates: exp(100) finite ~e^88 (got %g), exp(-100) tiny positive (got %g)", w[1],
	      w[2]);
}

int main(void)
{
	test_adamw();
	test_schedule();
	test_layernorm();
	test_softmax_ce();
	test_gelu();
	test_attention();
	test_matmul();
	test_exp();
	return check_done();
}
