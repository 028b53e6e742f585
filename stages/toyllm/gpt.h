/*
 * gpt: the GPT-style decoder (llm.c layout): token + position embeddings,
 * L pre-norm blocks (layernorm, causal multi-head attention, residual,
 * layernorm, 4x MLP with GELU, residual), a final layernorm and an output
 * projection tied to the token embedding.
 *
 * Parameters live in one arena (struct gpt_params points into it, in the order
 * of gpt_param_names); gradients and AdamW moments are arenas of the same
 * layout. Activations for training are sized for (B,T) on first use and grown
 * when needed. Residual-stream "points" number the places the stream can be
 * read or edited: point 0 is the embedding output (input of layer 0), point
 * 2l+1 the stream after layer l's attention, point 2l+2 after layer l's MLP
 * (the input of layer l+1); point 2L is the final stream before the last
 * layernorm. All functions return 0 / -1 and fill a struct tl_err.
 */
#ifndef TOYLLM_GPT_H
#define TOYLLM_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct pool;

struct gpt_config {
	int vocab;   /* V */
	int max_seq; /* maxT */
	int layers;  /* L */
	int dim;     /* C, multiple of 8 */
	int heads;   /* NH, divides C */
};

#define GPT_NTENSORS 16
extern const char *const gpt_param_names[GPT_NTENSORS];

struct gpt_params {
	float *wte;      /* (V,C) */
	float *wpe;      /* (maxT,C) */
	float *ln1w;     /* (L,C) */
	float *ln1b;     /* (L,C) */
	float *qkvw;     /* (L,3C,C) */
	float *qkvb;     /* (L,3C) */
	float *attprojw; /* (L,C,C) */
	float *attprojb; /* (L,C) */
	float *ln2w;     /* (L,C) */
	float *ln2b;     /* (L,C) */
	float *fcw;      /* (L,4C,C) */
	float *fcb;      /* (L,4C) */
	float *fcprojw;  /* (L,C,4C) */
	float *fcprojb;  /* (L,C) */
	float *lnfw;     /* (C) */
	float *lnfb;     /* (C) */
};

#define GPT_NACTS 23
struct gpt_acts {
	float *encoded;   /* (B,T,C) */
	float *ln1;       /* (L,B,T,C) */
	float *ln1_mean;  /* (L,B,T) */
	float *ln1_rstd;  /* (L,B,T) */
	float *qkv;       /* (L,B,T,3C) */
	float *atty;      /* (L,B,T,C) */
	float *att;       /* (L,B,NH,T,attention_ld(T)) */
	float *attproj;   /* (L,B,T,C) */
	float *residual2; /* (L,B,T,C) */
	float *ln2;       /* (L,B,T,C) */
	float *ln2_mean;  /* (L,B,T) */
	float *ln2_rstd;  /* (L,B,T) */
	float *fch;       /* (L,B,T,4C) */
	float *fch_gelu;  /* (L,B,T,4C) */
	float *fch_tanh;  /* (L,B,T,4C) the GELU's tanh, kept for the backward */
	float *fcproj;    /* (L,B,T,C) */
	float *residual3; /* (L,B,T,C) */
	float *lnf;       /* (B,T,C) */
	float *lnf_mean;  /* (B,T) */
	float *lnf_rstd;  /* (B,T) */
	float *logits;    /* (B,T,V) */
	float *probs;     /* (B,T,V) */
	float *losses;    /* (B,T) */
};

/* Called at every residual point during gpt_infer_step; may edit x (C floats). */
typedef void (*gpt_resid_hook)(void *ctx, int point, int pos, float *x, int C);

struct gpt {
	struct gpt_config cfg;
	uint64_t tok_digest; /* digest of the vocabulary the model was built for */
	size_t sizes[GPT_NTENSORS];
	size_t nparams;
	struct gpt_params params;
	float *params_mem;
	struct gpt_params grads;
	float *grads_mem;
	float *m_mem, *v_mem; /* AdamW moments */
	struct gpt_acts acts, gacts;
	float *acts_mem, *gacts_mem;
	int act_B, act_T;  /* capacity of the activation arenas */
	int B, T;          /* shape of the last forward */
	float *dloss;      /* (B,T) scratch */
	float *wt_mem;     /* scratch for one packed weight matrix (matmul_pack) */
	float mean_loss;   /* masked mean loss of the last forward with targets */
	struct pool *pool; /* borrowed; NULL = serial */
	unsigned char frozen[GPT_NTENSORS]; /* gpt_update leaves these tensors alone */
	gpt_resid_hook hook;
	void *hook_ctx;
};

/* Checks a config; returns -1 with a message when it is unusable. */
int gpt_config_check(const struct gpt_config *c, struct tl_err *e);
/* Allocates parameters (zeroed) for cfg. */
int gpt_build(struct gpt *m, const struct gpt_config *cfg, struct tl_err *e);
void gpt_free(struct gpt *m);
/* GPT-2 style init: N(0, 0.02), residual projections scaled by 1/sqrt(2L). */
void gpt_init_random(struct gpt *m, uint64_t seed);
/* Pointer and element count of tensor i (0..GPT_NTENSORS-1). */
float *gpt_tensor(struct gpt *m, int i, size_t *n);

/* Forward over inputs (B,T). With targets, computes per-position losses and
 * the masked mean loss (mask (B,T) of weights, NULL = all ones). */
int gpt_forward(struct gpt *m, const int *inputs, const int *targets, const float *mask, int B,
		int T, struct tl_err *e);
/* Allocates gradients and AdamW moments (once, before training). */
int gpt_alloc_train(struct gpt *m, struct tl_err *e);
void gpt_zero_grad(struct gpt *m);
/* Backward of the masked mean loss of the last forward (needs targets and
 * gpt_alloc_train); accumulates into the gradients. */
void gpt_backward(struct gpt *m, const int *inputs, const int *targets, const float *mask);
/* One AdamW step with decoupled weight decay on the matrices (not on biases,
 * layernorm gains or position embeddings); step counts from 1. */
void gpt_update(struct gpt *m, float lr, float beta1, float beta2, float eps, float wd, int step);
/* Residual stream after the last gpt_forward at point p for (b,t): C floats. */
float *gpt_resid(struct gpt *m, int point, int b, int t);

/* Incremental inference with a key/value cache. gpt_kv_init also packs the
 * model's weight matrices: init the cache after the last change to the
 * weights it is used with. */
struct gpt_kv {
	int cap;   /* positions */
	float *k;  /* (L,C,cap): keys, each head's (C/NH, cap) block transposed */
	float *v;  /* (L,cap,C) */
	float *wt; /* packed weights (matmul_pack): per layer qkvw, attprojw, fcw, fcprojw; wte */
	float *scratch;
};
int gpt_kv_init(struct gpt_kv *kv, const struct gpt *m, struct tl_err *e);
void gpt_kv_release(struct gpt_kv *kv);
/* Feeds token at position pos (0..maxT-1, positions fed in order) and writes
 * the next-token logits (V floats). Calls m->hook at each residual point. */
void gpt_infer_step(struct gpt *m, struct gpt_kv *kv, int token, int pos, float *logits);

#endif
