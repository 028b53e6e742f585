/*
 * kernels: the layer computations of the GPT decoder, forward and backward,
 * in the style of llm.c. Shapes are given as (B,T,C) with B*T = R rows. Each
 * kernel that is parallel takes a pool (NULL = serial) and partitions work so
 * that every output element is computed by exactly the same float operations
 * in the same order whatever the thread count: results are bit-identical for
 * 1 or N threads. Inner dimensions (C, 4C) must be multiples of 8.
 * Backward kernels ACCUMULATE (+=) into gradient buffers.
 */
#ifndef TOYLLM_KERNELS_H
#define TOYLLM_KERNELS_H

struct pool;

/* out: (B,T,C) = wte[tok] + wpe[t] */
void encoder_forward(float *out, const int *tok, const float *wte, const float *wpe, int B, int T,
		     int C);
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T,
		      int C);

/* out: (R,C); mean, rstd: (R) */
void layernorm_forward(struct pool *p, float *out, float *mean, float *rstd, const float *inp,
		       const float *w, const float *b, int R, int C);
void layernorm_backward(struct pool *p, float *dinp, float *dw, float *db, const float *dout,
			const float *inp, const float *w, const float *mean, const float *rstd, int R,
			int C);

/* out: (R,OC) = inp (R,C) @ w^T (w: (OC,C)) + bias (OC, may be NULL) */
void matmul_forward(struct pool *p, float *out, const float *inp, const float *w,
		    const float *bias, int R, int C, int OC);
/* dinp: (R,C), dw: (OC,C), dbias: (OC) or NULL */
void matmul_backward(struct pool *p, float *dinp, float *dw, float *dbias, const float *dout,
		     const float *inp, const float *w, int R, int C, int OC);

/* qkv: (B,T,3C) -> out: (B,T,C); preatt, att: (B,NH,T,T) */
void attention_forward(struct pool *p, float *out, float *preatt, float *att, const float *qkv,
		       int B, int T, int C, int NH);
/* dqkv: (B,T,3C); dpreatt, datt: (B,NH,T,T) scratch, zeroed by the caller */
void attention_backward(struct pool *p, float *dqkv, float *dpreatt, float *datt,
			const float *dout, const float *qkv, const float *att, int B, int T, int C,
			int NH);

/* tanh-approximation GELU, elementwise over n */
void gelu_forward(float *out, const float *inp, int n);
void gelu_backward(float *dinp, const float *inp, const float *dout, int n);

void residual_forward(float *out, const float *a, const float *b, int n);
void residual_backward(float *da, float *db, const float *dout, int n);

/* probs: (R,V) softmax of logits; losses: (R) = -log probs[target] */
void softmax_ce_forward(struct pool *p, float *probs, float *losses, const float *logits,
			const int *targets, int R, int V);
/* dlogits: (R,V) += (probs - onehot) * dloss[r] */
void softmax_ce_backward(struct pool *p, float *dlogits, const float *dloss, const float *probs,
			 const int *targets, int R, int V);

#endif
