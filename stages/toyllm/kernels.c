/*
 * kernels: the public layer API (kernels.h). Owns the choice of
 * implementation (kern_portable / kern_x86v3 / kern_x86v4, all computing the
 * same bits), the thread partition of every kernel, and packing weights for
 * the forward product. The arithmetic itself is in kern_impl.h.
 */
#include "kernels.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern.h"
#include "pool.h"
#include "util.h"

/* ---- implementation choice ------------------------------------------------------------- */

static const struct kern_ops *g_ops;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int cpu_has(const char *level)
{
#if defined(KERN_HAVE_X86) && !defined(__clang__) && __GNUC__ >= 12
	__builtin_cpu_init();
	if (!strcmp(level, "x86-64-v4"))
		return __builtin_cpu_supports("x86-64-v4") != 0;
	if (!strcmp(level, "x86-64-v3"))
		return __builtin_cpu_supports("x86-64-v3") != 0;
#endif
	return !strcmp(level, "portable");
}

static const struct kern_ops *by_name(const char *name)
{
#ifdef KERN_HAVE_X86
	if (!strcmp(name, kern_x86v4.name))
		return &kern_x86v4;
	if (!strcmp(name, kern_x86v3.name))
		return &kern_x86v3;
#endif
	if (!strcmp(name, kern_portable.name))
		return &kern_portable;
	return NULL;
}

static void pick_best(void)
{
	if (g_ops)
		return;
	static const char *const order[] = {"x86-64-v4", "x86-64-v3", "portable"};
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (cpu_has(order[i]) && by_name(order[i])) {
			g_ops = by_name(order[i]);
			return;
		}
	g_ops = &kern_portable;
}

static const struct kern_ops *ops(void)
{
	pthread_once(&g_once, pick_best);
	return g_ops;
}

int kernels_select(const char *name, struct tl_err *e)
{
	if (!name || !*name) {
		ops();
		return 0;
	}
	const struct kern_ops *k = by_name(name);
	if (!k)
		return tl_fail(e, "TOYLLM_KERNELS='%s' is not one of portable, x86-64-v3, x86-64-v4",
			       name);
	if (!cpu_has(name))
		return tl_fail(e, "TOYLLM_KERNELS='%s': this CPU or build cannot run it", name);
	pthread_once(&g_once, pick_best);
	g_ops = k;
	return 0;
}

const char *kernels_name(void)
{
	return ops()->name;
}

/* ---- encoder ------------------------------------------------------------------------- */

void encoder_forward(float *out, const int *tok, const float *wte, const float *wpe, int B, int T,
		     int C)
{
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			float *o = out + ((long)b * T + t) * C;
			const float *we = wte + (long)tok[b * T + t] * C, *wp = wpe + (long)t * C;
			for (int i = 0; i < C; i++)
				o[i] = we[i] + wp[i];
		}
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T,
		      int C)
{
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			const float *d = dout + ((long)b * T + t) * C;
			float *we = dwte + (long)tok[b * T + t] * C, *wp = dwpe + (long)t * C;
			for (int i = 0; i < C; i++) {
				we[i] += d[i];
				wp[i] += d[i];
			}
		}
}

/* ---- layernorm --------------------------------------------------------------------------- */

void layernorm_forward(struct pool *p, float *out, float *mean, float *rstd, const float *inp,
		       const float *w, const float *b, int R, int C)
{
	struct kern_ln c = {.out = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w, .b = b,
			    .R = R, .C = C};
	pool_for(p, R, ops()->ln_fwd, &c);
}

void layernorm_backward(struct pool *p, float *dinp, const float *dresid, float *dw, float *db,
			const float *dout, const float *inp, const float *w, const float *mean,
			const float *rstd, int R, int C)
{
	struct kern_ln c = {.dinp = dinp, .dresid = dresid, .dw = dw, .db = db, .dout = dout,
			    .inp = inp, .w = w, .cmean = mean, .crstd = rstd, .R = R, .C = C};
	pool_for(p, R, ops()->ln_bwd, &c);
	ops()->ln_bwd_params(&c);
}

/* ---- matmul ---------------------------------------------------------------------------------- */

static int packed_ld(int OC)
{
	return (OC + 15) / 16 * 16;
}

size_t matmul_packed_size(int C, int OC)
{
	return (size_t)C * (size_t)packed_ld(OC);
}

void matmul_pack(struct pool *p, float *wt, const float *w, int C, int OC)
{
	struct kern_mm c = {.out = wt, .w = w, .C = C, .OC = OC, .ldt = packed_ld(OC)};
	pool_for(p, c.ldt / 16, ops()->mm_pack, &c);
}

void matmul_forward_packed(struct pool *p, float *out, const float *inp, const float *wt,
			   const float *bias, int R, int C, int OC)
{
	struct kern_mm c = {.out = out, .inp = inp, .wt = wt, .bias = bias, .R = R, .C = C,
			    .OC = OC, .ldt = packed_ld(OC)};
	pool_for(p, R, ops()->mm_fwd, &c);
}

void matmul_forward(struct pool *p, float *out, const float *inp, const float *w,
		    const float *bias, int R, int C, int OC)
{
	float *wt = malloc(sizeof(float) * matmul_packed_size(C, OC));
	if (!wt) { /* no error path in this API (tests, one-off calls); gpt.c packs into its own */
		fprintf(stderr, "toyllm: out of memory for packed weights\n");
		abort();
	}
	matmul_pack(p, wt, w, C, OC);
	matmul_forward_packed(p, out, inp, wt, bias, R, C, OC);
	free(wt);
}

void matmul_backward(struct pool *p, float *dinp, float *dw, float *dbias, const float *dout,
		     const float *inp, const float *w, int R, int C, int OC)
{
	struct kern_mm c = {.dinp = dinp, .dw = dw, .dbias = dbias, .dout = dout, .inp = inp,
			    .w = w, .R = R, .C = C, .OC = OC};
	if (dinp)
		pool_for(p, R, ops()->mm_bwd_inp, &c);
	pool_for(p, OC, ops()->mm_bwd_w, &c);
}

/* ---- attention ------------------------------------------------------------------------------ */

int attention_ld(int T)
{
	return (T + 15) / 16 * 16;
}

void attention_forward(struct pool *p, float *out, float *preatt, float *att, const float *qkv,
		       int B, int T, int C, int NH)
{
	struct kern_att c = {.out = out, .preatt = preatt, .att = att, .qkv = qkv, .B = B, .T = T,
			     .C = C, .NH = NH};
	pool_for(p, B * NH, ops()->att_fwd, &c);
}

void attention_backward(struct pool *p, float *dqkv, const float *dout, const float *qkv,
			const float *att, int B, int T, int C, int NH)
{
	struct kern_att c = {.dqkv = dqkv, .dout = dout, .qkv = qkv, .catt = att, .B = B, .T = T,
			     .C = C, .NH = NH};
	pool_for(p, B * NH, ops()->att_bwd, &c);
}

void attention_query(float *out, float *att, const float *q, const float *kT, const float *v,
		     int n, int cap, int C, int NH)
{
	ops()->att_query(out, att, q, kT, v, n, cap, C, NH);
}

/* ---- elementwise ------------------------------------------------------------------------------ */

void gelu_forward(float *out, const float *inp, int n)
{
	struct kern_ew c = {.out = out, .inp = inp};
	ops()->gelu_fwd(&c, 0, n);
}

void gelu_backward(float *dinp, const float *inp, const float *dout, int n)
{
	struct kern_ew c = {.out = dinp, .inp = inp, .dout = dout};
	ops()->gelu_bwd(&c, 0, n);
}

void gelu_forward_pool(struct pool *p, float *out, float *th, const float *inp, int n)
{
	struct kern_ew c = {.out = out, .th = th, .inp = inp};
	pool_for(p, n, ops()->gelu_fwd, &c);
}

void gelu_backward_pool(struct pool *p, float *dinp, const float *inp, const float *th,
			const float *dout, int n)
{
	struct kern_ew c = {.out = dinp, .inp = inp, .cth = th, .dout = dout};
	pool_for(p, n, ops()->gelu_bwd, &c);
}

void residual_forward(float *out, const float *a, const float *b, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

void adamw_step(struct pool *p, float *param, float *m, float *v, const float *g,
		const long *off, const float *decay, const unsigned char *skip, int ntensors,
		const struct adamw_hyper *h)
{
	struct kern_adamw c = {.p = param, .m = m, .v = v, .g = g, .off = off, .decay = decay,
			       .skip = skip, .ntensors = ntensors, .lr = h->lr, .beta1 = h->beta1,
			       .beta2 = h->beta2, .eps = h->eps, .bc1 = h->bc1, .bc2 = h->bc2};
	pool_for(p, (int)off[ntensors], ops()->adamw, &c);
}

void vec_exp(float *y, const float *x, int n)
{
	ops()->exp(y, x, n);
}

/* ---- softmax + cross-entropy ------------------------------------------------------------------ */

void softmax_ce_forward(struct pool *p, float *probs, float *losses, const float *logits,
			const int *targets, int R, int V)
{
	struct kern_ce c = {.probs = probs, .losses = losses, .logits = logits, .targets = targets,
			    .V = V};
	pool_for(p, R, ops()->ce_fwd, &c);
}

void softmax_ce_backward(struct pool *p, float *dlogits, const float *dloss, const float *probs,
			 const int *targets, int R, int V)
{
	struct kern_ce c = {.dlogits = dlogits, .dloss = dloss, .cprobs = probs,
			    .targets = targets, .V = V};
	pool_for(p, R, ops()->ce_bwd, &c);
}
