/*
 * kernels: the layer computations of the GPT decoder, forward and backward,
 * in the style of llm.c. Shapes are given as (B,T,C) with B*T = R rows. Each
 * kernel that is parallel takes a pool (NULL = serial) and partitions work so
 * that every output element is computed by exactly the same float operations
 * in the same order whatever the thread count: results are bit-identical for
 * 1 or N threads, and for every implementation (portable C, AVX2, AVX-512;
 * docs/engine.md "The arithmetic" defines the operations). Inner dimensions
 * (C, 4C) must be multiples of 8. Backward kernels ACCUMULATE (+=) into
 * gradient buffers.
 */
#ifndef TOYLLM_KERNELS_H
#define TOYLLM_KERNELS_H

#include <stddef.h>

struct pool;
struct tl_err;

/*
 * The implementation: name NULL or "" = the widest this CPU runs
 * ("x86-64-v4", else "x86-64-v3", else "portable"); otherwise exactly one of
 * those names (toyllm reads $TOYLLM_KERNELS). -1 with a message when the name
 * is unknown or the CPU cannot run it. Call before any kernel runs; without a
 * call the first kernel picks the widest.
 */
int kernels_select(const char *name, struct tl_err *e);
const char *kernels_name(void);

/* out: (B,T,C) = wte[tok] + wpe[t] */
void encoder_forward(float *out, const int *tok, const float *wte, const float *wpe, int B, int T,
		     int C);
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T,
		      int C);

/* out: (R,C); mean, rstd: (R) */
void layernorm_forward(struct pool *p, float *out, float *mean, float *rstd, const float *inp,
		       const float *w, const float *b, int R, int C);
/* dinp (R,C) = dresid + the input gradient (dresid (R,C) may be NULL: 0; dinp may be
 * dresid); dw, db (C) accumulate */
void layernorm_backward(struct pool *p, float *dinp, const float *dresid, float *dw, float *db,
			const float *dout, const float *inp, const float *w, const float *mean,
			const float *rstd, int R, int C);

/* out: (R,OC) = inp (R,C) @ w^T (w: (OC,C)) + bias (OC, may be NULL) */
void matmul_forward(struct pool *p, float *out, const float *inp, const float *w,
		    const float *bias, int R, int C, int OC);
/* The same in two steps, the packed weights reusable while w is unchanged:
 * wt (matmul_packed_size floats) = w^T, rows of OC rounded up to 16, zero padded. */
size_t matmul_packed_size(int C, int OC);
void matmul_pack(struct pool *p, float *wt, const float *w, int C, int OC);
void matmul_forward_packed(struct pool *p, float *out, const float *inp, const float *wt,
			   const float *bias, int R, int C, int OC);
/* dinp: (R,C) = dout @ w, overwritten (NULL: not computed); dw: (OC,C) and
 * dbias: (OC) or NULL accumulate */
void matmul_backward(struct pool *p, float *dinp, float *dw, float *dbias, const float *dout,
		     const float *inp, const float *w, int R, int C, int OC);

/* qkv: (B,T,3C) -> out: (B,T,C); att: (B,NH,T,attention_ld(T)) the causal softmax
 * weights, rows padded to a multiple of 16 (0 above the diagonal and in the padding);
 * preatt: (B,NH,T,T) the scaled scores (0 above the diagonal), or NULL */
int attention_ld(int T);
void attention_forward(struct pool *p, float *out, float *preatt, float *att, const float *qkv,
		       int B, int T, int C, int NH);
/* dqkv: (B,T,3C) overwritten; att as attention_forward left it */
void attention_backward(struct pool *p, float *dqkv, const float *dout, const float *qkv,
			const float *att, int B, int T, int C, int NH);

/*
 * One query row against a key/value cache (incremental inference): q (C),
 * keys kT (NH, C/NH, cap) (each head's keys transposed), values v (cap, C),
 * positions 0..n-1; out (C); att (n) scratch. Same arithmetic as a row of
 * attention_forward.
 */
void attention_query(float *out, float *att, const float *q, const float *kT, const float *v,
		     int n, int cap, int C, int NH);

/* tanh-approximation GELU, elementwise over n; backward: dinp = gelu'(inp) dout,
 * overwritten. The _pool forms split n by threads and can keep th = tanh(...) of the
 * forward (n floats, or NULL) for the backward, which then skips recomputing it. */
void gelu_forward(float *out, const float *inp, int n);
void gelu_backward(float *dinp, const float *inp, const float *dout, int n);
void gelu_forward_pool(struct pool *p, float *out, float *th, const float *inp, int n);
void gelu_backward_pool(struct pool *p, float *dinp, const float *inp, const float *th,
			const float *dout, int n);

/*
 * One AdamW step over a parameter arena of ntensors tensors (off: ntensors + 1
 * offsets), per tensor a decoupled weight decay and a skip (frozen) flag:
 * m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
 * p -= lr (m/bc1 / (sqrt(v/bc2) + eps) + decay p), bc = 1 - beta^step.
 */
struct adamw_hyper {
	float lr, beta1, beta2, eps, bc1, bc2;
};
void adamw_step(struct pool *p, float *param, float *m, float *v, const float *g,
		const long *off, const float *decay, const unsigned char *skip, int ntensors,
		const struct adamw_hyper *h);

/* y = e^x, the engine's exp (docs/engine.md "The arithmetic"), n elements */
void vec_exp(float *y, const float *x, int n);

/* out = a + b (out may be a); its backward passes dout on to both, unchanged */
void residual_forward(float *out, const float *a, const float *b, int n);

/* probs: (R,V) softmax of logits; losses: (R) = -log probs[target] */
void softmax_ce_forward(struct pool *p, float *probs, float *losses, const float *logits,
			const int *targets, int R, int V);
/* dlogits: (R,V) = (probs - onehot) * dloss[r] (overwritten; rows with dloss 0 are 0) */
void softmax_ce_backward(struct pool *p, float *dlogits, const float *dloss, const float *probs,
			 const int *targets, int R, int V);

#endif
