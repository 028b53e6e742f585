/*
 * kern_impl: the engine's arithmetic, written once and compiled once per
 * instruction-set level. kern_portable.c, kern_x86v3.c and kern_x86v4.c define
 * KERN_W (vector lanes of the matrix-product kernel: 0 = plain C, 8 = AVX2,
 * 16 = AVX-512) and KERN_OPS (the name of their table), then include this file.
 *
 * docs/engine.md "The arithmetic" is the definition; in short:
 *  - matrix products (matmul forward and both backward products, the four
 *    attention products): every output element is one fused multiply-add
 *    chain in ascending index, acc = fma(a_k, b_k, acc), from a stated start;
 *  - row sums and maxima: 16 lanes (lane j takes elements j, j+16, ... in
 *    order), then the fixed tree l[j] += l[j+8], += l[j+4], += l[j+2], += l[j+1];
 *  - sums over rows (bias, layernorm-parameter gradients): row order;
 *  - exp and tanh: k_exp / k_tanh below (no libm);
 *  - everything else: one IEEE single operation at a time in source order,
 *    no other fused multiply-add (-ffp-contract=off), no reassociation (no
 *    -ffast-math).
 * Only gemm differs between levels, and only in which output elements it
 * computes side by side, never in an element's operations. The compiler's
 * vectoriser does not change results without -ffast-math, so the rest is
 * the same source compiled for wider registers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern.h"

#if KERN_W
#include <immintrin.h>
#endif

#define K_INLINE static inline __attribute__((always_inline))

/* Scratch for one call of a kernel (a few kB at the study's sizes). The kernels
 * have no error path: running out of memory here ends the process with a message. */
static void *k_alloc(size_t bytes)
{
	void *p = malloc(bytes);
	if (!p) {
		fprintf(stderr, "toyllm: out of memory (%zu bytes of kernel scratch)\n", bytes);
		abort();
	}
	return p;
}

/* ---- matrix products ------------------------------------------------------------ */

#if KERN_W == 16
typedef __m512 vf;
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_LOADN(p, n) _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), (p))
#define V_STORE(p, v) _mm512_storeu_ps((p), (v))
#define V_STOREN(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (v))
#define V_SET1(x) _mm512_set1_ps(x)
#define V_ZERO() _mm512_setzero_ps()
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define GEMM_MR 8 /* rows per tile: 8 x 2 accumulators of 16 lanes */
#define GEMM_NV 2
#elif KERN_W == 8
typedef __m256 vf;
K_INLINE __m256i k_mask8(int n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_LOADN(p, n) _mm256_maskload_ps((p), k_mask8(n))
#define V_STORE(p, v) _mm256_storeu_ps((p), (v))
#define V_STOREN(p, v, n) _mm256_maskstore_ps((p), k_mask8(n), (v))
#define V_SET1(x) _mm256_set1_ps(x)
#define V_ZERO() _mm256_setzero_ps()
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define GEMM_MR 6 /* 6 x 2 accumulators of 8 lanes: 12 of the 16 registers */
#define GEMM_NV 2
#endif

#if KERN_W
/*
 * One register tile: mr rows x nv vectors of columns, the last one partial
 * (ntail lanes) when tail is set. mr, nv and tail are constants at every call
 * site, so the accumulators live in registers.
 */
K_INLINE void gemm_tile(const int mr, const int nv, const int tail, int ntail, int K,
			const float *A, long sam, long sak, const float *B, long ldb, float *C,
			long ldc, enum kern_start start, const float *init)
{
	vf acc[GEMM_MR][GEMM_NV];
#pragma GCC unroll 16
	for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
		for (int j = 0; j < nv; j++) {
			const int part = tail && j == nv - 1;
			if (start == KERN_ZERO)
				acc[i][j] = V_ZERO();
			else if (start == KERN_ROW)
				acc[i][j] = part ? V_LOADN(init + j * KERN_W, ntail)
						 : V_LOAD(init + j * KERN_W);
			else
				acc[i][j] = part ? V_LOADN(C + i * ldc + j * KERN_W, ntail)
						 : V_LOAD(C + i * ldc + j * KERN_W);
		}
	for (int k = 0; k < K; k++) {
		const float *bk = B + k * ldb, *ak = A + k * sak;
		vf b[GEMM_NV];
#pragma GCC unroll 4
		for (int j = 0; j < nv; j++)
			b[j] = tail && j == nv - 1 ? V_LOADN(bk + j * KERN_W, ntail)
						   : V_LOAD(bk + j * KERN_W);
#pragma GCC unroll 16
		for (int i = 0; i < mr; i++) {
			vf a = V_SET1(ak[i * sam]);
#pragma GCC unroll 4
			for (int j = 0; j < nv; j++)
				acc[i][j] = V_FMA(a, b[j], acc[i][j]);
		}
	}
#pragma GCC unroll 16
	for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
		for (int j = 0; j < nv; j++) {
			if (tail && j == nv - 1)
				V_STOREN(C + i * ldc + j * KERN_W, acc[i][j], ntail);
			else
				V_STORE(C + i * ldc + j * KERN_W, acc[i][j]);
		}
}

K_INLINE void gemm_rows(const int mr, int N, int K, const float *A, long sam, long sak,
			const float *B, long ldb, float *C, long ldc, enum kern_start start,
			const float *init)
{
	const int NB = GEMM_NV * KERN_W;
	int n = 0;
	for (; n + NB <= N; n += NB)
		gemm_tile(mr, GEMM_NV, 0, 0, K, A, sam, sak, B + n, ldb, C + n, ldc, start,
			  init ? init + n : NULL);
	for (; n + KERN_W <= N; n += KERN_W)
		gemm_tile(mr, 1, 0, 0, K, A, sam, sak, B + n, ldb, C + n, ldc, start,
			  init ? init + n : NULL);
	if (n < N)
		gemm_tile(mr, 1, 1, N - n, K, A, sam, sak, B + n, ldb, C + n, ldc, start,
			  init ? init + n : NULL);
}

static void gemm(int M, int N, int K, const float *A, long sam, long sak, const float *B,
		 long ldb, float *C, long ldc, enum kern_start start, const float *init)
{
	if (start != KERN_ROW) /* never read; keeps the compiler from seeing a NULL row */
		init = C;
	int m = 0;
	for (; m + GEMM_MR <= M; m += GEMM_MR)
		gemm_rows(GEMM_MR, N, K, A + m * sam, sam, sak, B, ldb, C + m * ldc, ldc, start,
			  init);
	for (; m + 4 <= M; m += 4)
		gemm_rows(4, N, K, A + m * sam, sam, sak, B, ldb, C + m * ldc, ldc, start, init);
	for (; m < M; m++)
		gemm_rows(1, N, K, A + m * sam, sam, sak, B, ldb, C + m * ldc, ldc, start, init);
}
#else
/* The reference: the definition itself, one element at a time. */
static void gemm(int M, int N, int K, const float *A, long sam, long sak, const float *B,
		 long ldb, float *C, long ldc, enum kern_start start, const float *init)
{
	for (int m = 0; m < M; m++)
		for (int n = 0; n < N; n++) {
			float acc = start == KERN_ZERO ? 0.0f
				    : start == KERN_ROW ? init[n]
							: C[m * ldc + n];
			for (int k = 0; k < K; k++)
				acc = fmaf(A[m * sam + k * sak], B[k * ldb + n], acc);
			C[m * ldc + n] = acc;
		}
}
#endif

/* ---- reductions, exp ------------------------------------------------------------- */

/* generic vectors: plain lane-wise IEEE operations at every level */
typedef float k_v16 __attribute__((vector_size(64)));
typedef float k_v8 __attribute__((vector_size(32)));
typedef float k_v4 __attribute__((vector_size(16)));
typedef int k_i8 __attribute__((vector_size(32)));
typedef int k_i4 __attribute__((vector_size(16)));

/* the fixed tree: l[j] += l[j+8] (j < 8), l[j] += l[j+4], l[j] += l[j+2], l[0] + l[1] */
K_INLINE float k_tree16(const float *l)
{
	k_v16 v;
	memcpy(&v, l, sizeof v);
	k_v8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
		 __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
	k_v4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
	return (b[0] + b[2]) + (b[1] + b[3]);
}

/* the same tree with l[j] = l[j+w] > l[j] ? l[j+w] : l[j] */
K_INLINE float k_tree16_max(const float *l)
{
	k_v16 v;
	memcpy(&v, l, sizeof v);
	k_v8 lo8 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
	k_v8 hi8 = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
	k_i8 m8 = hi8 > lo8;
	k_v8 a = (k_v8)((m8 & (k_i8)hi8) | (~m8 & (k_i8)lo8));
	k_v4 lo4 = __builtin_shufflevector(a, a, 0, 1, 2, 3);
	k_v4 hi4 = __builtin_shufflevector(a, a, 4, 5, 6, 7);
	k_i4 m4 = hi4 > lo4;
	k_v4 b = (k_v4)((m4 & (k_i4)hi4) | (~m4 & (k_i4)lo4));
	float c0 = b[2] > b[0] ? b[2] : b[0], c1 = b[3] > b[1] ? b[3] : b[1];
	return c1 > c0 ? c1 : c0;
}

/*
 * res = the 16-lane sum of EXPR over IDX = 0..N-1 (EXPR may use IDX). The
 * last partial block runs on all 16 lanes, adding +0 where IDX >= N: a lane
 * starts at +0 and never becomes -0, so adding +0 changes nothing.
 */
#define K_SUM16(res, N, IDX, EXPR)                                                             \
	do {                                                                                   \
		float l_[16];                                                                  \
		int i_ = 0, n_ = (N);                                                          \
		for (int j_ = 0; j_ < 16; j_++)                                                \
			l_[j_] = 0.0f;                                                         \
		for (; i_ + 16 <= n_; i_ += 16)                                                \
			for (int j_ = 0; j_ < 16; j_++) {                                      \
				const int IDX = i_ + j_;                                       \
				l_[j_] += (EXPR);                                              \
			}                                                                      \
		if (i_ < n_)                                                                   \
			for (int j_ = 0; j_ < 16; j_++) {                                      \
				const int IDX = i_ + j_;                                       \
				l_[j_] += IDX < n_ ? (EXPR) : 0.0f;                            \
			}                                                                      \
		(res) = k_tree16(l_);                                                          \
	} while (0)

/* 16-lane maximum of x[0..n), lanes starting at -1e30 (padding with -1e30
 * changes nothing); a maximum does not depend on order, but it is defined alike */
K_INLINE float k_max16(const float *x, int n)
{
	float l[16];
	int i = 0;
	for (int j = 0; j < 16; j++)
		l[j] = -1e30f;
	for (; i + 16 <= n; i += 16)
		for (int j = 0; j < 16; j++)
			l[j] = x[i + j] > l[j] ? x[i + j] : l[j];
	if (i < n)
		for (int j = 0; j < 16; j++) {
			float v = i + j < n ? x[i + j] : -1e30f;
			l[j] = v > l[j] ? v : l[j];
		}
	return k_tree16_max(l);
}

/* 16 lanes as a generic vector (and its integer twin), loads and stores
 * unaligned, select by an all-ones / all-zeros lane mask */
typedef int k_i16 __attribute__((vector_size(64)));
static const k_i16 k_iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

K_INLINE k_v16 v16_load(const float *p)
{
	k_v16 v;
	memcpy(&v, p, sizeof v);
	return v;
}

K_INLINE void v16_store(float *p, k_v16 v)
{
	memcpy(p, &v, sizeof v);
}

K_INLINE k_v16 v16_splat(float x)
{
	return (k_v16){0} + x;
}

K_INLINE k_v16 v16_sel(k_i16 m, k_v16 a, k_v16 b)
{
	return (k_v16)((m & (k_i16)a) | (~m & (k_i16)b));
}

/* one stage of the 16 x 16 transpose: rows i and i+d exchange their d-lane blocks */
#define K_TSTAGE(d, LO, HI)                                                                    \
	for (int i = 0; i < 16; i++)                                                           \
		if (!(i & (d))) {                                                              \
			k_v16 a = r[i], b = r[i + (d)];                                        \
			r[i] = __builtin_shufflevector(a, b, LO);                              \
			r[i + (d)] = __builtin_shufflevector(a, b, HI);                        \
		}
#define K_LO8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define K_HI8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define K_LO4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define K_HI4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define K_LO2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define K_HI2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define K_LO1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define K_HI1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31

/* dst[j*ldd + i] = src[i*lds + j] for i, j < 16 (data movement only) */
K_INLINE void k_transpose16(float *dst, long ldd, const float *src, long lds)
{
	k_v16 r[16];
	for (int i = 0; i < 16; i++)
		r[i] = v16_load(src + i * lds);
	K_TSTAGE(8, K_LO8, K_HI8)
	K_TSTAGE(4, K_LO4, K_HI4)
	K_TSTAGE(2, K_LO2, K_HI2)
	K_TSTAGE(1, K_LO1, K_HI1)
	for (int j = 0; j < 16; j++)
		v16_store(dst + j * ldd, r[j]);
}

/*
 * dst[j*ldd + i] = src[i*lds + j] for i < rows, j < cols, and 0 for
 * rows <= i < rows_pad (whole 16 x 16 blocks through registers, edges one by one)
 */
static void transpose_pad(float *dst, long ldd, const float *src, long lds, int rows,
			  int rows_pad, int cols)
{
	int i0 = 0;
	for (; i0 + 16 <= rows; i0 += 16) {
		int j0 = 0;
		for (; j0 + 16 <= cols; j0 += 16)
			k_transpose16(dst + (long)j0 * ldd + i0, ldd, src + (long)i0 * lds + j0, lds);
		for (int j = j0; j < cols; j++)
			for (int i = i0; i < i0 + 16; i++)
				dst[(long)j * ldd + i] = src[(long)i * lds + j];
	}
	for (int j = 0; j < cols; j++) {
		for (int i = i0; i < rows; i++)
			dst[(long)j * ldd + i] = src[(long)i * lds + j];
		for (int i = rows > i0 ? rows : i0; i < rows_pad; i++)
			dst[(long)j * ldd + i] = 0.0f;
	}
}

/* the operations e^x needs that differ between a float and 16 lanes */
K_INLINE float k_min_f(float x, float c)
{
	return x < c ? x : c;
}
K_INLINE float k_max_f(float x, float c)
{
	return x > c ? x : c;
}
K_INLINE float k_pow2_f(float n)
{
	union {
		int i;
		float f;
	} s;
	s.i = ((int)n + 127) << 23;
	return s.f;
}
K_INLINE k_v16 k_min_v(k_v16 x, float c)
{
	return v16_sel(x < c, x, v16_splat(c));
}
K_INLINE k_v16 k_max_v(k_v16 x, float c)
{
	return v16_sel(x > c, x, v16_splat(c));
}
K_INLINE k_v16 k_pow2_v(k_v16 n)
{
	return (k_v16)((__builtin_convertvector(n, k_i16) + 127) << 23);
}
#define k_min(x, c) _Generic((x), float: k_min_f, k_v16: k_min_v)(x, c)
#define k_max(x, c) _Generic((x), float: k_max_f, k_v16: k_max_v)(x, c)
#define k_pow2(n) _Generic((n), float: k_pow2_f, k_v16: k_pow2_v)(n)

/*
 * e^x: Cody-Waite reduction x = n ln2 + r (n = x log2(e) rounded to nearest by
 * the 1.5*2^23 trick, ln2 split in 0.693359375 + -2.12194440e-4, both products
 * exact), Cephes expf's polynomial for e^r on |r| <= ln2/2, times 2^n built
 * in the exponent bits. Inputs are clamped to [-87.33654, 88] (the result
 * stays a normal float; NaN becomes 88). Within 2 ulp of e^x (test_numeric).
 * One body for a float (k_exp) and for 16 lanes (k_exp16): the same
 * operations lane by lane.
 */
#define K_EXP_BODY(FT)                                                                         \
	{                                                                                      \
		x = k_min(x, 88.0f);                                                           \
		x = k_max(x, -87.33654f);                                                      \
		FT n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;                 \
		FT r = x - n * 0.693359375f;                                                   \
		r = r - n * -2.12194440e-4f;                                                   \
		FT z = r * r;                                                                  \
		FT p = r * 1.9875691500e-4f + 1.3981999507e-3f;                                \
		p = p * r + 8.3334519073e-3f;                                                  \
		p = p * r + 4.1665795894e-2f;                                                  \
		p = p * r + 1.6666665459e-1f;                                                  \
		p = p * r + 5.0000001201e-1f;                                                  \
		p = (p * z + r) + 1.0f;                                                        \
		return p * k_pow2(n);                                                          \
	}
K_INLINE float k_exp(float x) K_EXP_BODY(float)
K_INLINE k_v16 k_exp16(k_v16 x) K_EXP_BODY(k_v16)

/* tanh(u) = 1 - 2/(e^(2u) + 1) */
K_INLINE float k_tanh(float u)
{
	return 1.0f - 2.0f / (k_exp(2.0f * u) + 1.0f);
}

static void vexp(float *y, const float *x, int n)
{
	for (int i = 0; i < n; i++)
		y[i] = k_exp(x[i]);
}

/*
 * att[0..n) = softmax of pre[0..n) (max shift, exp, 16-lane sum, times
 * 1/sum); att[n..nt) = 0 (pre must have nt readable entries; att may be pre).
 */
K_INLINE void softmax_row(float *att, const float *pre, int n, int nt)
{
	float maxv = k_max16(pre, n), sum;
	for (int i = 0; i < nt; i++) {
		float e = k_exp(pre[i] - maxv);
		att[i] = i < n ? e : 0.0f;
	}
	K_SUM16(sum, n, i, att[i]);
	float inv = 1.0f / sum;
	for (int i = 0; i < nt; i++)
		att[i] *= inv;
}

/* ---- matmul ------------------------------------------------------------------------ */

/* wt (C, ldt) = w^T for output features [lo*16, hi*16), 0 past OC */
static void mm_pack(void *vc, int lo, int hi)
{
	const struct kern_mm *c = vc;
	const int o0 = lo * 16, o1 = hi * 16 < c->OC ? hi * 16 : c->OC;
	transpose_pad(c->out + o0, c->ldt, c->w + (long)o0 * c->C, c->C, o1 > o0 ? o1 - o0 : 0,
		      hi * 16 - o0, c->C);
}

/* out rows [lo,hi) = inp rows @ w^T + bias; the packed wt is (C, ldt) */
static void mm_fwd(void *vc, int lo, int hi)
{
	const struct kern_mm *c = vc;
	gemm(hi - lo, c->OC, c->C, c->inp + (long)lo * c->C, c->C, 1, c->wt, c->ldt,
	     c->out + (long)lo * c->OC, c->OC, c->bias ? KERN_ROW : KERN_ZERO, c->bias);
}

/* dinp rows [lo,hi) = dout rows @ w: chain over output features o ascending */
static void mm_bwd_inp(void *vc, int lo, int hi)
{
	const struct kern_mm *c = vc;
	gemm(hi - lo, c->C, c->OC, c->dout + (long)lo * c->OC, c->OC, 1, c->w, c->C,
	     c->dinp + (long)lo * c->C, c->C, KERN_ZERO, NULL);
}

/* dw rows [lo,hi) += dout^T inp: chain over rows r ascending; dbias likewise */
static void mm_bwd_w(void *vc, int lo, int hi)
{
	const struct kern_mm *c = vc;
	const int OC = c->OC;
	gemm(hi - lo, c->C, c->R, c->dout + lo, 1, OC, c->inp, c->C, c->dw + (long)lo * c->C,
	     c->C, KERN_ACC, NULL);
	if (c->dbias) {
		float *restrict db = c->dbias;
		for (int r = 0; r < c->R; r++) {
			const float *restrict d = c->dout + (long)r * OC;
			for (int o = lo; o < hi; o++)
				db[o] += d[o];
		}
	}
}

/* ---- layernorm --------------------------------------------------------------------- */

static void ln_fwd(void *vc, int lo, int hi)
{
	const struct kern_ln *c = vc;
	const int C = c->C;
	for (int r = lo; r < hi; r++) {
		const float *restrict x = c->inp + (long)r * C;
		float *restrict o = c->out + (long)r * C;
		float m, v;
		K_SUM16(m, C, i, x[i]);
		m /= C;
		K_SUM16(v, C, i, (x[i] - m) * (x[i] - m));
		v /= C;
		float s = 1.0f / sqrtf(v + 1e-5f);
		for (int i = 0; i < C; i++)
			o[i] = (s * (x[i] - m)) * c->w[i] + c->b[i];
		c->mean[r] = m;
		c->rstd[r] = s;
	}
}

static void ln_bwd(void *vc, int lo, int hi)
{
	const struct kern_ln *c = vc;
	const int C = c->C;
	const float *restrict w = c->w;
	for (int r = lo; r < hi; r++) {
		const float *restrict d = c->dout + (long)r * C, *restrict x = c->inp + (long)r * C;
		float *dx = c->dinp + (long)r * C;
		const float m = c->cmean[r], s = c->crstd[r];
		float dn_mean, dn_norm_mean;
		K_SUM16(dn_mean, C, i, w[i] * d[i]);
		K_SUM16(dn_norm_mean, C, i, (w[i] * d[i]) * ((x[i] - m) * s));
		dn_mean /= C;
		dn_norm_mean /= C;
		if (c->dresid) {
			const float *restrict dr = c->dresid + (long)r * C;
			for (int i = 0; i < C; i++) {
				float norm = (x[i] - m) * s, dn = w[i] * d[i];
				dx[i] = dr[i] + ((dn - dn_mean) - norm * dn_norm_mean) * s;
			}
		} else
			for (int i = 0; i < C; i++) {
				float norm = (x[i] - m) * s, dn = w[i] * d[i];
				dx[i] = ((dn - dn_mean) - norm * dn_norm_mean) * s;
			}
	}
}

static void ln_bwd_params(const struct kern_ln *c)
{
	const int C = c->C;
	float *restrict dw = c->dw, *restrict db = c->db;
	for (int r = 0; r < c->R; r++) {
		const float *restrict d = c->dout + (long)r * C, *restrict x = c->inp + (long)r * C;
		const float m = c->cmean[r], s = c->crstd[r];
		for (int i = 0; i < C; i++) {
			db[i] += d[i];
			dw[i] += ((x[i] - m) * s) * d[i];
		}
	}
}

/* ---- attention --------------------------------------------------------------------- */

/*
 * Per (batch, head): scores, probabilities and their gradients live in rows
 * of Tp = T rounded up to 16 (att itself and a scratch), the keys and values transposed and
 * zero padded to Tp columns, so every row operation runs on whole 16-lane
 * chunks; lanes past the causal limit are masked to exact zeros. Rows are
 * taken in blocks of ATT_BLOCK, a block's products running over the keys up
 * to the block's last row: the extra terms of the earlier rows are exact
 * zeros (weights and score gradients above the diagonal are +0, the other
 * factor finite), so every element equals its causal chain.
 */
#define ATT_BLOCK 16

/*
 * Rows t0..t0+nb-1 of S (stride Tp): scores (nc chunks) -> probabilities,
 * row t keeping its first t + 1 entries. Each stage runs over all the rows
 * before the next, so the rows' reductions overlap instead of waiting on
 * each other.
 */
K_INLINE void att_block_softmax(float *S, long Tp, int t0, int nb, int nc, float scale)
{
	const k_v16 lo = v16_splat(-1e30f);
	float maxv[ATT_BLOCK], inv[ATT_BLOCK];
	for (int r = 0; r < nb; r++) {
		float *s = S + r * Tp;
		const int n = t0 + r + 1;
		k_v16 mx = lo;
		for (int c = 0; c < nc; c++) {
			k_v16 v = v16_sel(k_iota + 16 * c < n, v16_load(s + 16 * c) * scale, lo);
			v16_store(s + 16 * c, v);
			mx = v16_sel(v > mx, v, mx);
		}
		float l[16];
		memcpy(l, &mx, sizeof l);
		maxv[r] = k_tree16_max(l);
	}
	for (int r = 0; r < nb; r++) {
		float *s = S + r * Tp;
		const int n = t0 + r + 1;
		k_v16 sum = v16_splat(0.0f);
		for (int c = 0; c < nc; c++) {
			k_v16 e = k_exp16(v16_load(s + 16 * c) - maxv[r]);
			e = v16_sel(k_iota + 16 * c < n, e, v16_splat(0.0f));
			v16_store(s + 16 * c, e);
			sum += e;
		}
		float l[16];
		memcpy(l, &sum, sizeof l);
		inv[r] = 1.0f / k_tree16(l);
	}
	for (int r = 0; r < nb; r++)
		for (int c = 0; c < nc; c++)
			v16_store(S + r * Tp + 16 * c, v16_load(S + r * Tp + 16 * c) * inv[r]);
}

/* rows t0..t0+nb-1: D = datt -> dpre = (p (datt - sum(p datt))) * scale, masked */
K_INLINE void att_block_dsoftmax(const float *P, float *D, long Tp, int t0, int nb, int nc,
				 float scale)
{
	float dot[ATT_BLOCK];
	for (int r = 0; r < nb; r++) {
		k_v16 acc = v16_splat(0.0f);
		for (int c = 0; c < nc; c++)
			acc += v16_load(P + r * Tp + 16 * c) * v16_load(D + r * Tp + 16 * c);
		float l[16];
		memcpy(l, &acc, sizeof l);
		dot[r] = k_tree16(l);
	}
	for (int r = 0; r < nb; r++) {
		const int n = t0 + r + 1;
		for (int c = 0; c < nc; c++) {
			const float *p = P + r * Tp + 16 * c;
			float *d = D + r * Tp + 16 * c;
			k_v16 g = (v16_load(p) * (v16_load(d) - dot[r])) * scale;
			v16_store(d, v16_sel(k_iota + 16 * c < n, g, v16_splat(0.0f)));
		}
	}
}

/* dst (hs, Tp) = the head's columns of src rows (stride ld), transposed, 0 past T */
static void att_transpose(float *dst, const float *src, long ld, int T, int Tp, int hs)
{
	transpose_pad(dst, Tp, src, ld, T, Tp, hs);
}

static void att_fwd(void *vc, int lo, int hi)
{
	const struct kern_att *c = vc;
	const int T = c->T, C = c->C, NH = c->NH, C3 = 3 * C, hs = C / NH, Tp = (T + 15) / 16 * 16;
	const float scale = 1.0f / sqrtf((float)hs);
	float *kT = k_alloc(sizeof(float) * (size_t)Tp * hs);
	for (int bh = lo; bh < hi; bh++) {
		const int b = bh / NH, h = bh % NH;
		const float *q = c->qkv + (long)b * T * C3 + h * hs;
		const float *k = q + C, *v = q + 2 * C;
		float *out = c->out + (long)b * T * C + h * hs, *S = c->att + (long)bh * T * Tp;
		att_transpose(kT, k, C3, T, Tp, hs);
		for (int t0 = 0; t0 < T; t0 += ATT_BLOCK) {
			const int nb = T - t0 < ATT_BLOCK ? T - t0 : ATT_BLOCK, nk = t0 + nb;
			const int nc = (nk + 15) / 16;
			/* scores q.k, chain over the head's features */
			gemm(nb, 16 * nc, hs, q + (long)t0 * C3, C3, 1, kT, Tp, S + (long)t0 * Tp, Tp,
			     KERN_ZERO, NULL);
			if (c->preatt) /* the scaled scores, for callers that ask */
				for (int t = t0; t < t0 + nb; t++) {
					float *pr = c->preatt + ((long)bh * T + t) * T;
					for (int t2 = 0; t2 < T; t2++)
						pr[t2] = t2 <= t ? S[(long)t * Tp + t2] * scale : 0.0f;
				}
			att_block_softmax(S + (long)t0 * Tp, Tp, t0, nb, nc, scale);
			if (16 * nc < Tp)
				for (int t = t0; t < t0 + nb; t++)
					memset(S + (long)t * Tp + 16 * nc, 0,
					       sizeof(float) * (size_t)(Tp - 16 * nc));
			/* out = att v, chain over keys */
			gemm(nb, hs, nk, S + (long)t0 * Tp, Tp, 1, v, C3, out + (long)t0 * C, C,
			     KERN_ZERO, NULL);
		}
	}
	free(kT);
}

/*
 * datt = dout v^T; dpre = att (datt - sum(att datt)) * scale (0 above the
 * diagonal); dq = dpre k; dk = dpre^T q; dv = att^T dout.
 */
static void att_bwd(void *vc, int lo, int hi)
{
	const struct kern_att *c = vc;
	const int T = c->T, C = c->C, NH = c->NH, C3 = 3 * C, hs = C / NH, Tp = (T + 15) / 16 * 16;
	const float scale = 1.0f / sqrtf((float)hs);
	float *vT = k_alloc(sizeof(float) * (size_t)Tp * (hs + T));
	float *D = vT + (size_t)hs * Tp;
	for (int bh = lo; bh < hi; bh++) {
		const int b = bh / NH, h = bh % NH;
		const float *q = c->qkv + (long)b * T * C3 + h * hs;
		const float *k = q + C, *v = q + 2 * C;
		float *dq = c->dqkv + (long)b * T * C3 + h * hs, *dk = dq + C, *dv = dq + 2 * C;
		const float *d = c->dout + (long)b * T * C + h * hs;
		const float *P = c->catt + (long)bh * T * Tp;
		att_transpose(vT, v, C3, T, Tp, hs);
		for (int t0 = 0; t0 < T; t0 += ATT_BLOCK) {
			const int nb = T - t0 < ATT_BLOCK ? T - t0 : ATT_BLOCK, nk = t0 + nb;
			const int nc = (nk + 15) / 16;
			/* datt[t][t2] = dout[t] . v[t2], chain over features */
			gemm(nb, 16 * nc, hs, d + (long)t0 * C, C, 1, vT, Tp, D + (long)t0 * Tp, Tp,
			     KERN_ZERO, NULL);
			att_block_dsoftmax(P + (long)t0 * Tp, D + (long)t0 * Tp, Tp, t0, nb, nc, scale);
			if (16 * nc < Tp)
				for (int t = t0; t < t0 + nb; t++)
					memset(D + (long)t * Tp + 16 * nc, 0,
					       sizeof(float) * (size_t)(Tp - 16 * nc));
			/* dq[t] = sum over keys t2 <= t of dpre[t][t2] k[t2] */
			gemm(nb, hs, nk, D + (long)t0 * Tp, Tp, 1, k, C3, dq + (long)t0 * C3, C3,
			     KERN_ZERO, NULL);
		}
		for (int t0 = 0; t0 < T; t0 += ATT_BLOCK) {
			const int nb = T - t0 < ATT_BLOCK ? T - t0 : ATT_BLOCK;
			/* rows t2 of the block, chain over queries t = t0..T-1 */
			gemm(nb, hs, T - t0, D + (long)t0 * Tp + t0, 1, Tp, q + (long)t0 * C3, C3,
			     dk + (long)t0 * C3, C3, KERN_ZERO, NULL);
			gemm(nb, hs, T - t0, P + (long)t0 * Tp + t0, 1, Tp, d + (long)t0 * C, C,
			     dv + (long)t0 * C3, C3, KERN_ZERO, NULL);
		}
	}
	free(vT);
}

/* one query (position n-1) against the cache: kT (NH, hs, cap), v (cap, C) */
static void att_query(float *out, float *att, const float *q, const float *kT, const float *v,
		      int n, int cap, int C, int NH)
{
	const int hs = C / NH;
	const float scale = 1.0f / sqrtf((float)hs);
	for (int h = 0; h < NH; h++) {
		gemm(1, n, hs, q + h * hs, 0, 1, kT + (long)h * hs * cap, cap, att, 0, KERN_ZERO,
		     NULL);
		for (int t2 = 0; t2 < n; t2++)
			att[t2] *= scale;
		softmax_row(att, att, n, n);
		gemm(1, hs, n, att, 0, 1, v + h * hs, C, out + h * hs, 0, KERN_ZERO, NULL);
	}
}

/* ---- softmax + cross-entropy ------------------------------------------------------ */

static void ce_fwd(void *vc, int lo, int hi)
{
	const struct kern_ce *c = vc;
	const int V = c->V;
	for (int r = lo; r < hi; r++) {
		float *pr = c->probs + (long)r * V;
		softmax_row(pr, c->logits + (long)r * V, V, V);
		if (c->losses) {
			float p = pr[c->targets[r]];
			c->losses[r] = -logf(p > 1e-30f ? p : 1e-30f);
		}
	}
}

static void ce_bwd(void *vc, int lo, int hi)
{
	const struct kern_ce *c = vc;
	const int V = c->V;
	for (int r = lo; r < hi; r++) {
		const float dl = c->dloss[r];
		const float *restrict pr = c->cprobs + (long)r * V;
		float *restrict d = c->dlogits + (long)r * V;
		const int tg = c->targets[r];
		if (dl == 0.0f) {
			memset(d, 0, sizeof(float) * (size_t)V);
			continue;
		}
		for (int i = 0; i < V; i++)
			d[i] = (pr[i] - (i == tg ? 1.0f : 0.0f)) * dl;
	}
}

/* ---- elementwise ------------------------------------------------------------------- */

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

K_INLINE float gelu_arg(float x)
{
	float cube = 0.044715f * x * x * x;
	return GELU_K * (x + cube);
}

/* out = 0.5 x (1 + tanh(u)); th = tanh(u) when asked (the backward reuses it) */
static void gelu_fwd(void *vc, int lo, int hi)
{
	const struct kern_ew *c = vc;
	float *restrict out = c->out, *restrict th = c->th;
	const float *restrict inp = c->inp;
	if (th)
		for (int i = lo; i < hi; i++) {
			float x = inp[i], t = k_tanh(gelu_arg(x));
			th[i] = t;
			out[i] = 0.5f * x * (1.0f + t);
		}
	else
		for (int i = lo; i < hi; i++) {
			float x = inp[i];
			out[i] = 0.5f * x * (1.0f + k_tanh(gelu_arg(x)));
		}
}

K_INLINE float gelu_grad(float x, float th)
{
	float sech2 = 1.0f - th * th;
	return 0.5f * (1.0f + th) + x * 0.5f * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
}

static void gelu_bwd(void *vc, int lo, int hi)
{
	const struct kern_ew *c = vc;
	float *restrict dinp = c->out;
	const float *restrict inp = c->inp, *restrict dout = c->dout, *restrict cth = c->cth;
	if (cth)
		for (int i = lo; i < hi; i++)
			dinp[i] = gelu_grad(inp[i], cth[i]) * dout[i];
	else
		for (int i = lo; i < hi; i++)
			dinp[i] = gelu_grad(inp[i], k_tanh(gelu_arg(inp[i]))) * dout[i];
}

static void adamw(void *vc, int lo, int hi)
{
	const struct kern_adamw *c = vc;
	const float b1 = c->beta1, b2 = c->beta2, bc1 = c->bc1, bc2 = c->bc2, lr = c->lr,
		    eps = c->eps;
	for (int t = 0; t < c->ntensors; t++) {
		long a = c->off[t] > lo ? c->off[t] : lo, b = c->off[t + 1] < hi ? c->off[t + 1] : hi;
		if (a >= b || c->skip[t])
			continue;
		float *restrict p = c->p, *restrict m = c->m, *restrict v = c->v;
		const float *restrict g = c->g;
		const float decay = c->decay[t];
		for (long i = a; i < b; i++) {
			float mm = b1 * m[i] + (1.0f - b1) * g[i];
			float vv = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
			m[i] = mm;
			v[i] = vv;
			float mh = mm / bc1, vh = vv / bc2;
			p[i] -= lr * (mh / (sqrtf(vh) + eps) + decay * p[i]);
		}
	}
}

const struct kern_ops KERN_OPS = {
	.name = KERN_NAME,
	.gemm = gemm,
	.mm_pack = mm_pack,
	.mm_fwd = mm_fwd,
	.mm_bwd_inp = mm_bwd_inp,
	.mm_bwd_w = mm_bwd_w,
	.ln_fwd = ln_fwd,
	.ln_bwd = ln_bwd,
	.ln_bwd_params = ln_bwd_params,
	.att_fwd = att_fwd,
	.att_bwd = att_bwd,
	.ce_fwd = ce_fwd,
	.ce_bwd = ce_bwd,
	.gelu_fwd = gelu_fwd,
	.gelu_bwd = gelu_bwd,
	.adamw = adamw,
	.att_query = att_query,
	.exp = vexp,
};
