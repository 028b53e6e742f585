/*
 * kernels: forward and backward of every layer (see kernels.h). The matmuls
 * use 4-float vectors (GCC/Clang vector extensions, plain IEEE lane-wise
 * arithmetic, no fused multiply-add) with one accumulator per output element,
 * so blocking and thread ranges never change an element's arithmetic.
 */
#include "kernels.h"

#include <math.h>
#include <string.h>

#include "pool.h"

typedef float v4 __attribute__((vector_size(16)));

static inline v4 ld4(const float *p)
{
	v4 v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline void st4(float *p, v4 v)
{
	memcpy(p, &v, sizeof v);
}

static inline float hsum(v4 v)
{
	return (v[0] + v[1]) + (v[2] + v[3]);
}

/* ---- encoder ---------------------------------------------------------------- */

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

/* ---- layernorm ---------------------------------------------------------------- */

struct ln_ctx {
	float *out, *mean, *rstd, *dinp;
	const float *inp, *w, *b, *dout;
	const float *cmean, *crstd;
	int C;
};

static void ln_fwd_range(void *vc, int lo, int hi)
{
	struct ln_ctx *c = vc;
	int C = c->C;
	for (int r = lo; r < hi; r++) {
		const float *x = c->inp + (long)r * C;
		float m = 0;
		for (int i = 0; i < C; i++)
			m += x[i];
		m /= C;
		float v = 0;
		for (int i = 0; i < C; i++)
			v += (x[i] - m) * (x[i] - m);
		v /= C;
		float s = 1.0f / sqrtf(v + 1e-5f);
		float *o = c->out + (long)r * C;
		for (int i = 0; i < C; i++)
			o[i] = (s * (x[i] - m)) * c->w[i] + c->b[i];
		c->mean[r] = m;
		c->rstd[r] = s;
	}
}

void layernorm_forward(struct pool *p, float *out, float *mean, float *rstd, const float *inp,
		       const float *w, const float *b, int R, int C)
{
	struct ln_ctx c = {.out = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w, .b = b, .C = C};
	pool_for(p, R, ln_fwd_range, &c);
}

static void ln_bwd_range(void *vc, int lo, int hi)
{
	struct ln_ctx *c = vc;
	int C = c->C;
	for (int r = lo; r < hi; r++) {
		const float *d = c->dout + (long)r * C, *x = c->inp + (long)r * C;
		float m = c->cmean[r], s = c->crstd[r];
		float dn_mean = 0, dn_norm_mean = 0;
		for (int i = 0; i < C; i++) {
			float norm = (x[i] - m) * s, dn = c->w[i] * d[i];
			dn_mean += dn;
			dn_norm_mean += dn * norm;
		}
		dn_mean /= C;
		dn_norm_mean /= C;
		float *dx = c->dinp + (long)r * C;
		for (int i = 0; i < C; i++) {
			float norm = (x[i] - m) * s, dn = c->w[i] * d[i];
			dx[i] += ((dn - dn_mean) - norm * dn_norm_mean) * s;
		}
	}
}

void layernorm_backward(struct pool *p, float *dinp, float *dw, float *db, const float *dout,
			const float *inp, const float *w, const float *mean, const float *rstd, int R,
			int C)
{
	struct ln_ctx c = {.dinp = dinp, .dout = dout, .inp = inp, .w = w, .cmean = mean,
			   .crstd = rstd, .C = C};
	pool_for(p, R, ln_bwd_range, &c);
	for (int r = 0; r < R; r++) {
		const float *d = dout + (long)r * C, *x = inp + (long)r * C;
		for (int i = 0; i < C; i++) {
			db[i] += d[i];
			dw[i] += ((x[i] - mean[r]) * rstd[r]) * d[i];
		}
	}
}

/* ---- matmul ---------------------------------------------------------------------- */

struct mm_ctx {
	float *out, *dinp, *dw, *dbias;
	const float *inp, *w, *bias, *dout;
	int R, C, OC;
};

static void mm_fwd_range(void *vc, int lo, int hi)
{
	struct mm_ctx *c = vc;
	const int C = c->C, OC = c->OC;
	int r = lo;
	for (; r + 4 <= hi; r += 4) {
		const float *x0 = c->inp + (long)r * C, *x1 = x0 + C, *x2 = x1 + C, *x3 = x2 + C;
		float *o0 = c->out + (long)r * OC;
		int o = 0;
		for (; o + 2 <= OC; o += 2) {
			const float *wa = c->w + (long)o * C, *wb = wa + C;
			v4 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
			for (int i = 0; i < C; i += 4) {
				v4 u = ld4(wa + i), v = ld4(wb + i), x;
				x = ld4(x0 + i);
				a0 += x * u;
				b0 += x * v;
				x = ld4(x1 + i);
				a1 += x * u;
				b1 += x * v;
				x = ld4(x2 + i);
				a2 += x * u;
				b2 += x * v;
				x = ld4(x3 + i);
				a3 += x * u;
				b3 += x * v;
			}
			float ba = c->bias ? c->bias[o] : 0.0f, bb = c->bias ? c->bias[o + 1] : 0.0f;
			o0[o] = hsum(a0) + ba;
			o0[o + 1] = hsum(b0) + bb;
			o0[OC + o] = hsum(a1) + ba;
			o0[OC + o + 1] = hsum(b1) + bb;
			o0[2 * OC + o] = hsum(a2) + ba;
			o0[2 * OC + o + 1] = hsum(b2) + bb;
			o0[3 * OC + o] = hsum(a3) + ba;
			o0[3 * OC + o + 1] = hsum(b3) + bb;
		}
		for (; o < OC; o++) {
			const float *wa = c->w + (long)o * C;
			v4 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
			for (int i = 0; i < C; i += 4) {
				v4 u = ld4(wa + i);
				a0 += ld4(x0 + i) * u;
				a1 += ld4(x1 + i) * u;
				a2 += ld4(x2 + i) * u;
				a3 += ld4(x3 + i) * u;
			}
			float ba = c->bias ? c->bias[o] : 0.0f;
			o0[o] = hsum(a0) + ba;
			o0[OC + o] = hsum(a1) + ba;
			o0[2 * OC + o] = hsum(a2) + ba;
			o0[3 * OC + o] = hsum(a3) + ba;
		}
	}
	for (; r < hi; r++) {
		const float *x0 = c->inp + (long)r * C;
		for (int o = 0; o < OC; o++) {
			const float *wa = c->w + (long)o * C;
			v4 a0 = {0};
			for (int i = 0; i < C; i += 4)
				a0 += ld4(x0 + i) * ld4(wa + i);
			c->out[(long)r * OC + o] = hsum(a0) + (c->bias ? c->bias[o] : 0.0f);
		}
	}
}

void matmul_forward(struct pool *p, float *out, const float *inp, const float *w,
		    const float *bias, int R, int C, int OC)
{
	struct mm_ctx c = {.out = out, .inp = inp, .w = w, .bias = bias, .R = R, .C = C, .OC = OC};
	pool_for(p, R, mm_fwd_range, &c);
}

/* dinp[r,i] += sum_o dout[r,o] * w[o,i], o ascending */
static void mm_bwd_inp_range(void *vc, int lo, int hi)
{
	struct mm_ctx *c = vc;
	const int C = c->C, OC = c->OC;
	int r = lo;
	for (; r + 4 <= hi; r += 4) {
		const float *d0 = c->dout + (long)r * OC, *d1 = d0 + OC, *d2 = d1 + OC, *d3 = d2 + OC;
		float *g0 = c->dinp + (long)r * C, *g1 = g0 + C, *g2 = g1 + C, *g3 = g2 + C;
		for (int i = 0; i < C; i += 8) {
			v4 a0 = ld4(g0 + i), a1 = ld4(g1 + i), a2 = ld4(g2 + i), a3 = ld4(g3 + i);
			v4 b0 = ld4(g0 + i + 4), b1 = ld4(g1 + i + 4), b2 = ld4(g2 + i + 4),
			   b3 = ld4(g3 + i + 4);
			for (int o = 0; o < OC; o++) {
				const float *wr = c->w + (long)o * C + i;
				v4 u = ld4(wr), v = ld4(wr + 4);
				a0 += d0[o] * u;
				b0 += d0[o] * v;
				a1 += d1[o] * u;
				b1 += d1[o] * v;
				a2 += d2[o] * u;
				b2 += d2[o] * v;
				a3 += d3[o] * u;
				b3 += d3[o] * v;
			}
			st4(g0 + i, a0);
			st4(g1 + i, a1);
			st4(g2 + i, a2);
			st4(g3 + i, a3);
			st4(g0 + i + 4, b0);
			st4(g1 + i + 4, b1);
			st4(g2 + i + 4, b2);
			st4(g3 + i + 4, b3);
		}
	}
	for (; r < hi; r++) {
		const float *d0 = c->dout + (long)r * OC;
		float *g0 = c->dinp + (long)r * C;
		for (int i = 0; i < C; i += 4) {
			v4 a0 = ld4(g0 + i);
			for (int o = 0; o < OC; o++)
				a0 += d0[o] * ld4(c->w + (long)o * C + i);
			st4(g0 + i, a0);
		}
	}
}

/* dw[o,i] += sum_r dout[r,o] * inp[r,i], r ascending; dbias likewise */
static void mm_bwd_w_range(void *vc, int lo, int hi)
{
	struct mm_ctx *c = vc;
	const int C = c->C, OC = c->OC, R = c->R;
	int o = lo;
	for (; o + 4 <= hi; o += 4) {
		float *w0 = c->dw + (long)o * C, *w1 = w0 + C, *w2 = w1 + C, *w3 = w2 + C;
		for (int i = 0; i < C; i += 8) {
			v4 a0 = ld4(w0 + i), a1 = ld4(w1 + i), a2 = ld4(w2 + i), a3 = ld4(w3 + i);
			v4 b0 = ld4(w0 + i + 4), b1 = ld4(w1 + i + 4), b2 = ld4(w2 + i + 4),
			   b3 = ld4(w3 + i + 4);
			for (int r = 0; r < R; r++) {
				const float *x = c->inp + (long)r * C + i, *d = c->dout + (long)r * OC + o;
				v4 u = ld4(x), v = ld4(x + 4);
				a0 += d[0] * u;
				b0 += d[0] * v;
				a1 += d[1] * u;
				b1 += d[1] * v;
				a2 += d[2] * u;
				b2 += d[2] * v;
				a3 += d[3] * u;
				b3 += d[3] * v;
			}
			st4(w0 + i, a0);
			st4(w1 + i, a1);
			st4(w2 + i, a2);
			st4(w3 + i, a3);
			st4(w0 + i + 4, b0);
			st4(w1 + i + 4, b1);
			st4(w2 + i + 4, b2);
			st4(w3 + i + 4, b3);
		}
	}
	for (; o < hi; o++) {
		float *w0 = c->dw + (long)o * C;
		for (int i = 0; i < C; i += 4) {
			v4 a0 = ld4(w0 + i);
			for (int r = 0; r < R; r++)
				a0 += c->dout[(long)r * OC + o] * ld4(c->inp + (long)r * C + i);
			st4(w0 + i, a0);
		}
	}
	if (c->dbias)
		for (o = lo; o < hi; o++) {
			float s = c->dbias[o];
			for (int r = 0; r < R; r++)
				s += c->dout[(long)r * OC + o];
			c->dbias[o] = s;
		}
}

void matmul_backward(struct pool *p, float *dinp, float *dw, float *dbias, const float *dout,
		     const float *inp, const float *w, int R, int C, int OC)
{
	struct mm_ctx c = {.dinp = dinp, .dw = dw, .dbias = dbias, .dout = dout, .inp = inp, .w = w,
			   .R = R, .C = C, .OC = OC};
	if (dinp)
		pool_for(p, R, mm_bwd_inp_range, &c);
	pool_for(p, OC, mm_bwd_w_range, &c);
}

/* ---- attention ------------------------------------------------------------------- */

struct att_ctx {
	float *out, *preatt, *att, *dqkv, *dpreatt, *datt;
	const float *qkv, *dout, *catt;
	int B, T, C, NH;
};

static void att_fwd_range(void *vc, int lo, int hi)
{
	struct att_ctx *c = vc;
	int T = c->T, C = c->C, NH = c->NH, C3 = 3 * C, hs = C / NH;
	float scale = 1.0f / sqrtf((float)hs);
	for (int bh = lo; bh < hi; bh++) {
		int b = bh / NH, h = bh % NH;
		for (int t = 0; t < T; t++) {
			const float *q = c->qkv + ((long)b * T + t) * C3 + h * hs;
			float *pre = c->preatt + (((long)b * NH + h) * T + t) * T;
			float *at = c->att + (((long)b * NH + h) * T + t) * T;
			float maxv = -1e30f;
			for (int t2 = 0; t2 <= t; t2++) {
				const float *k = c->qkv + ((long)b * T + t2) * C3 + C + h * hs;
				float v = 0;
				for (int i = 0; i < hs; i++)
					v += q[i] * k[i];
				v *= scale;
				pre[t2] = v;
				if (v > maxv)
					maxv = v;
			}
			float sum = 0;
			for (int t2 = 0; t2 <= t; t2++) {
				float e = expf(pre[t2] - maxv);
				at[t2] = e;
				sum += e;
			}
			float inv = 1.0f / sum;
			for (int t2 = 0; t2 < T; t2++)
				at[t2] = t2 <= t ? at[t2] * inv : 0.0f;
			float *o = c->out + ((long)b * T + t) * C + h * hs;
			for (int i = 0; i < hs; i++)
				o[i] = 0;
			for (int t2 = 0; t2 <= t; t2++) {
				const float *v = c->qkv + ((long)b * T + t2) * C3 + 2 * C + h * hs;
				for (int i = 0; i < hs; i++)
					o[i] += at[t2] * v[i];
			}
		}
	}
}

void attention_forward(struct pool *p, float *out, float *preatt, float *att, const float *qkv,
		       int B, int T, int C, int NH)
{
	struct att_ctx c = {.out = out, .preatt = preatt, .att = att, .qkv = qkv, .B = B, .T = T,
			    .C = C, .NH = NH};
	pool_for(p, B * NH, att_fwd_range, &c);
}

static void att_bwd_range(void *vc, int lo, int hi)
{
	struct att_ctx *c = vc;
	int T = c->T, C = c->C, NH = c->NH, C3 = 3 * C, hs = C / NH;
	float scale = 1.0f / sqrtf((float)hs);
	for (int bh = lo; bh < hi; bh++) {
		int b = bh / NH, h = bh % NH;
		for (int t = 0; t < T; t++) {
			const float *at = c->catt + (((long)b * NH + h) * T + t) * T;
			float *dat = c->datt + (((long)b * NH + h) * T + t) * T;
			float *dpre = c->dpreatt + (((long)b * NH + h) * T + t) * T;
			const float *d = c->dout + ((long)b * T + t) * C + h * hs;
			const float *q = c->qkv + ((long)b * T + t) * C3 + h * hs;
			float *dq = c->dqkv + ((long)b * T + t) * C3 + h * hs;
			for (int t2 = 0; t2 <= t; t2++) {
				const float *v = c->qkv + ((long)b * T + t2) * C3 + 2 * C + h * hs;
				float *dv = c->dqkv + ((long)b * T + t2) * C3 + 2 * C + h * hs;
				for (int i = 0; i < hs; i++) {
					dat[t2] += v[i] * d[i];
					dv[i] += at[t2] * d[i];
				}
			}
			/* softmax backward: dpre = att * (datt - sum(att * datt)) */
			float dot = 0;
			for (int t2 = 0; t2 <= t; t2++)
				dot += at[t2] * dat[t2];
			for (int t3 = 0; t3 <= t; t3++)
				dpre[t3] += at[t3] * (dat[t3] - dot);
			for (int t2 = 0; t2 <= t; t2++) {
				const float *k = c->qkv + ((long)b * T + t2) * C3 + C + h * hs;
				float *dk = c->dqkv + ((long)b * T + t2) * C3 + C + h * hs;
				for (int i = 0; i < hs; i++) {
					dq[i] += k[i] * dpre[t2] * scale;
					dk[i] += q[i] * dpre[t2] * scale;
				}
			}
		}
	}
}

void attention_backward(struct pool *p, float *dqkv, float *dpreatt, float *datt,
			const float *dout, const float *qkv, const float *att, int B, int T, int C,
			int NH)
{
	struct att_ctx c = {.dqkv = dqkv, .dpreatt = dpreatt, .datt = datt, .dout = dout, .qkv = qkv,
			    .catt = att, .B = B, .T = T, .C = C, .NH = NH};
	pool_for(p, B * NH, att_bwd_range, &c);
}

/* ---- elementwise ------------------------------------------------------------------ */

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

void gelu_forward(float *out, const float *inp, int n)
{
	for (int i = 0; i < n; i++) {
		float x = inp[i], cube = 0.044715f * x * x * x;
		out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + cube)));
	}
}

void gelu_backward(float *dinp, const float *inp, const float *dout, int n)
{
	for (int i = 0; i < n; i++) {
		float x = inp[i], cube = 0.044715f * x * x * x;
		float arg = GELU_K * (x + cube), th = tanhf(arg);
		float sech2 = 1.0f - th * th;
		float g = 0.5f * (1.0f + th) + x * 0.5f * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
		dinp[i] += g * dout[i];
	}
}

void residual_forward(float *out, const float *a, const float *b, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

void residual_backward(float *da, float *db, const float *dout, int n)
{
	for (int i = 0; i < n; i++) {
		da[i] += dout[i];
		db[i] += dout[i];
	}
}

/* ---- softmax + cross-entropy ------------------------------------------------------- */

struct ce_ctx {
	float *probs, *losses, *dlogits;
	const float *logits, *cprobs, *dloss;
	const int *targets;
	int V;
};

static void ce_fwd_range(void *vc, int lo, int hi)
{
	struct ce_ctx *c = vc;
	int V = c->V;
	for (int r = lo; r < hi; r++) {
		const float *l = c->logits + (long)r * V;
		float *pr = c->probs + (long)r * V;
		float maxv = -1e30f;
		for (int i = 0; i < V; i++)
			if (l[i] > maxv)
				maxv = l[i];
		float sum = 0;
		for (int i = 0; i < V; i++) {
			pr[i] = expf(l[i] - maxv);
			sum += pr[i];
		}
		float inv = 1.0f / sum;
		for (int i = 0; i < V; i++)
			pr[i] *= inv;
		if (c->losses)
			c->losses[r] = -logf(pr[c->targets[r]] > 1e-30f ? pr[c->targets[r]] : 1e-30f);
	}
}

void softmax_ce_forward(struct pool *p, float *probs, float *losses, const float *logits,
			const int *targets, int R, int V)
{
	struct ce_ctx c = {.probs = probs, .losses = losses, .logits = logits, .targets = targets,
			   .V = V};
	pool_for(p, R, ce_fwd_range, &c);
}

static void ce_bwd_range(void *vc, int lo, int hi)
{
	struct ce_ctx *c = vc;
	int V = c->V;
	for (int r = lo; r < hi; r++) {
		float dl = c->dloss[r];
		if (dl == 0.0f)
			continue;
		const float *pr = c->cprobs + (long)r * V;
		float *d = c->dlogits + (long)r * V;
		for (int i = 0; i < V; i++)
			d[i] += (pr[i] - (i == c->targets[r] ? 1.0f : 0.0f)) * dl;
	}
}

void softmax_ce_backward(struct pool *p, float *dlogits, const float *dloss, const float *probs,
			 const int *targets, int R, int V)
{
	struct ce_ctx c = {.dlogits = dlogits, .dloss = dloss, .cprobs = probs, .targets = targets,
			   .V = V};
	pool_for(p, R, ce_bwd_range, &c);
}
