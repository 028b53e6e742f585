/*
 * kern: the private interface between kernels.c (the public kernels.h API,
 * thread partitioning, weight packing, choosing an implementation) and the
 * arithmetic in kern_impl.h, which is compiled once per instruction-set level:
 * kern_portable.c (any CPU, plain C), kern_x86v3.c (AVX2 + FMA) and
 * kern_x86v4.c (AVX-512). Each defines one `struct kern_ops`; all of them
 * compute the same bits for the same inputs (docs/engine.md, "The
 * arithmetic"). Range functions take (ctx, lo, hi) as pool_for calls them.
 */
#ifndef TOYLLM_KERN_H
#define TOYLLM_KERN_H

/* Where a matrix product's accumulators start (gemm below). */
enum kern_start {
	KERN_ZERO = 0, /* +0 */
	KERN_ACC = 1,  /* the value already in C (C += A B) */
	KERN_ROW = 2,  /* init[n] for every row (a bias) */
};

/* matmul forward (rows) and backward (rows for dinp, output features for dw) */
struct kern_mm {
	float *out, *dinp, *dw, *dbias;
	const float *inp, *w, *wt, *bias, *dout;
	int R, C, OC, ldt; /* wt: packed w^T, (C, ldt) */
};

/* layernorm forward / backward (rows) */
struct kern_ln {
	float *out, *mean, *rstd, *dinp, *dw, *db;
	const float *inp, *w, *b, *dout, *cmean, *crstd, *dresid;
	int R, C;
};

/* attention forward / backward, one (batch, head) per index */
struct kern_att {
	float *out, *preatt, *att, *dqkv;
	const float *qkv, *dout, *catt;
	int B, T, C, NH;
};

/* softmax + cross-entropy (rows) */
struct kern_ce {
	float *probs, *losses, *dlogits;
	const float *logits, *cprobs, *dloss;
	const int *targets;
	int V;
};

/* elementwise over [lo, hi): GELU (th: tanh of the forward, stored or reused; may be NULL) */
struct kern_ew {
	float *out, *th;
	const float *inp, *dout, *cth;
};

/* AdamW over [lo, hi) of a parameter arena split in tensors */
struct kern_adamw {
	float *p, *m, *v;
	const float *g;
	const long *off;           /* ntensors + 1 offsets */
	const float *decay;        /* per tensor */
	const unsigned char *skip; /* per tensor: frozen */
	int ntensors;
	float lr, beta1, beta2, eps, bc1, bc2;
};

typedef void (*kern_range)(void *ctx, int lo, int hi);

struct kern_ops {
	const char *name;
	/*
	 * C[m*ldc+n] for m < M, n < N: acc = start; for k = 0..K-1 in order:
	 * acc = fma(A[m*sam + k*sak], B[k*ldb + n], acc). B rows are contiguous.
	 */
	void (*gemm)(int M, int N, int K, const float *A, long sam, long sak, const float *B,
		     long ldb, float *C, long ldc, enum kern_start start, const float *init);
	kern_range mm_pack;                                 /* kern_mm: out = packed wt, 16-column panels */
	kern_range mm_fwd, mm_bwd_inp, mm_bwd_w;           /* struct kern_mm */
	kern_range ln_fwd, ln_bwd;                          /* struct kern_ln */
	void (*ln_bwd_params)(const struct kern_ln *c);     /* dw, db: serial over rows */
	kern_range att_fwd, att_bwd;                        /* struct kern_att */
	kern_range ce_fwd, ce_bwd;                          /* struct kern_ce */
	kern_range gelu_fwd, gelu_bwd;                      /* struct kern_ew */
	kern_range adamw;                                   /* struct kern_adamw */
	/* one query against a key/value cache (gpt_infer_step), see kernels.h */
	void (*att_query)(float *out, float *att, const float *q, const float *kT,
			  const float *v, int n, int cap, int C, int NH);
	void (*exp)(float *y, const float *x, int n);
};

extern const struct kern_ops kern_portable;
#if defined(__x86_64__) && defined(__GNUC__)
#define KERN_HAVE_X86 1
extern const struct kern_ops kern_x86v3, kern_x86v4;
#endif

#endif
