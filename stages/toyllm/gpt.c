/*
 * gpt: parameter/activation arenas, full forward and backward for training,
 * AdamW, and the cached single-token forward used by generation (see gpt.h).
 */
#include "gpt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "rng.h"

const char *const gpt_param_names[GPT_NTENSORS] = {
	"wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
	"ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};

int gpt_config_check(const struct gpt_config *c, struct tl_err *e)
{
	if (c->vocab < 8 || c->vocab > 1000000)
		return tl_fail(e, "vocabulary size %d out of range", c->vocab);
	if (c->max_seq < 2 || c->max_seq > 4096)
		return tl_fail(e, "sequence length %d out of range 2..4096", c->max_seq);
	if (c->layers < 1 || c->layers > 64)
		return tl_fail(e, "layers %d out of range 1..64", c->layers);
	if (c->dim < 8 || c->dim > 4096 || c->dim % 8)
		return tl_fail(e, "dim %d must be a multiple of 8 in 8..4096", c->dim);
	if (c->heads < 1 || c->dim % c->heads)
		return tl_fail(e, "heads %d must divide dim %d", c->heads, c->dim);
	return 0;
}

static void param_sizes(size_t *s, const struct gpt_config *c)
{
	size_t V = c->vocab, T = c->max_seq, L = c->layers, C = c->dim;
	size_t v[GPT_NTENSORS] = {V * C, T * C, L * C, L * C, L * 3 * C * C, L * 3 * C,
				  L * C * C, L * C, L * C, L * C, L * 4 * C * C, L * 4 * C,
				  L * C * 4 * C, L * C, C, C};
	memcpy(s, v, sizeof v);
}

static void point_params(struct gpt_params *p, float *mem, const size_t *s)
{
	float **ptr[GPT_NTENSORS] = {&p->wte, &p->wpe, &p->ln1w, &p->ln1b, &p->qkvw, &p->qkvb,
				     &p->attprojw, &p->attprojb, &p->ln2w, &p->ln2b, &p->fcw,
				     &p->fcb, &p->fcprojw, &p->fcprojb, &p->lnfw, &p->lnfb};
	for (int i = 0; i < GPT_NTENSORS; i++) {
		*ptr[i] = mem;
		mem += s[i];
	}
}

int gpt_build(struct gpt *m, const struct gpt_config *cfg, struct tl_err *e)
{
	memset(m, 0, sizeof *m);
	if (gpt_config_check(cfg, e))
		return -1;
	m->cfg = *cfg;
	param_sizes(m->sizes, cfg);
	for (int i = 0; i < GPT_NTENSORS; i++)
		m->nparams += m->sizes[i];
	m->params_mem = calloc(m->nparams, sizeof(float));
	if (!m->params_mem)
		return tl_fail(e, "out of memory for %zu parameters", m->nparams);
	point_params(&m->params, m->params_mem, m->sizes);
	for (int l = 0; l < cfg->layers; l++)
		for (int i = 0; i < cfg->dim; i++) {
			m->params.ln1w[l * cfg->dim + i] = 1;
			m->params.ln2w[l * cfg->dim + i] = 1;
		}
	for (int i = 0; i < cfg->dim; i++)
		m->params.lnfw[i] = 1;
	return 0;
}

void gpt_free(struct gpt *m)
{
	free(m->params_mem);
	free(m->grads_mem);
	free(m->m_mem);
	free(m->v_mem);
	free(m->acts_mem);
	free(m->gacts_mem);
	free(m->dloss);
	free(m->wt_mem);
	memset(m, 0, sizeof *m);
}

float *gpt_tensor(struct gpt *m, int i, size_t *n)
{
	float *p = m->params_mem;
	for (int j = 0; j < i; j++)
		p += m->sizes[j];
	if (n)
		*n = m->sizes[i];
	return p;
}

void gpt_init_random(struct gpt *m, uint64_t seed)
{
	struct rng r;
	rng_seed(&r, seed);
	float proj_std = 0.02f / sqrtf(2.0f * (float)m->cfg.layers);
	for (int i = 0; i < GPT_NTENSORS; i++) {
		size_t n;
		float *p = gpt_tensor(m, i, &n);
		const char *nm = gpt_param_names[i];
		int is_w = !strcmp(nm, "wte") || !strcmp(nm, "wpe") || !strcmp(nm, "qkvw") ||
			   !strcmp(nm, "attprojw") || !strcmp(nm, "fcw") || !strcmp(nm, "fcprojw");
		if (!is_w)
			continue;
		float sd = (!strcmp(nm, "attprojw") || !strcmp(nm, "fcprojw")) ? proj_std : 0.02f;
		for (size_t k = 0; k < n; k++)
			p[k] = sd * rng_normal(&r);
	}
}

/* ---- activations ------------------------------------------------------------------- */

static void act_sizes(size_t *s, const struct gpt_config *c, size_t B, size_t T)
{
	size_t L = c->layers, C = c->dim, NH = c->heads, V = c->vocab, Tp = attention_ld((int)T);
	size_t v[GPT_NACTS] = {B * T * C, L * B * T * C, L * B * T, L * B * T, L * B * T * 3 * C,
			       L * B * T * C, L * B * NH * T * Tp, L * B * T * C,
			       L * B * T * C, L * B * T * C, L * B * T, L * B * T, L * B * T * 4 * C,
			       L * B * T * 4 * C, L * B * T * 4 * C, L * B * T * C, L * B * T * C,
			       B * T * C, B * T, B * T, B * T * V, B * T * V, B * T};
	memcpy(s, v, sizeof v);
}

static void point_acts(struct gpt_acts *a, float *mem, const size_t *s)
{
	float **ptr = (float **)a; /* struct gpt_acts is GPT_NACTS float pointers */
	for (int i = 0; i < GPT_NACTS; i++) {
		ptr[i] = mem;
		mem += s[i];
	}
}

static int ensure_acts(struct gpt *m, int B, int T, struct tl_err *e)
{
	if (T > m->cfg.max_seq || T < 1 || B < 1)
		return tl_fail(e, "batch shape (%d,%d) invalid for max_seq %d", B, T, m->cfg.max_seq);
	if (!m->wt_mem) {
		size_t C = (size_t)m->cfg.dim, n = matmul_packed_size((int)C, m->cfg.vocab);
		if (matmul_packed_size((int)C, (int)(4 * C)) > n)
			n = matmul_packed_size((int)C, (int)(4 * C));
		if (matmul_packed_size((int)(4 * C), (int)C) > n)
			n = matmul_packed_size((int)(4 * C), (int)C);
		m->wt_mem = malloc(n * sizeof(float));
		if (!m->wt_mem)
			return tl_fail(e, "out of memory for packed weights");
	}
	if (m->acts_mem && B <= m->act_B && T <= m->act_T)
		return 0;
	/* grow to the max of old and new in each dimension */
	if (B < m->act_B)
		B = m->act_B;
	if (T < m->act_T)
		T = m->act_T;
	size_t s[GPT_NACTS], tot = 0;
	act_sizes(s, &m->cfg, (size_t)B, (size_t)T);
	for (int i = 0; i < GPT_NACTS; i++)
		tot += s[i];
	free(m->acts_mem);
	free(m->gacts_mem);
	free(m->dloss);
	m->acts_mem = calloc(tot, sizeof(float));
	m->gacts_mem = calloc(tot, sizeof(float));
	m->dloss = calloc((size_t)B * T, sizeof(float));
	if (!m->acts_mem || !m->gacts_mem || !m->dloss) {
		free(m->acts_mem);
		free(m->gacts_mem);
		free(m->dloss);
		m->acts_mem = m->gacts_mem = m->dloss = NULL;
		m->act_B = m->act_T = 0;
		return tl_fail(e, "out of memory for activations (%d,%d)", B, T);
	}
	point_acts(&m->acts, m->acts_mem, s);
	point_acts(&m->gacts, m->gacts_mem, s);
	m->act_B = B;
	m->act_T = T;
	return 0;
}

/* out (R,OC) = inp (R,C) w^T + b, w packed into the model's scratch first */
static void linear(struct gpt *m, float *out, const float *inp, const float *w, const float *b,
		   int R, int C, int OC)
{
	matmul_pack(m->pool, m->wt_mem, w, C, OC);
	matmul_forward_packed(m->pool, out, inp, m->wt_mem, b, R, C, OC);
}

/* Layer-l slices are laid out for the current (B,T), as in llm.c. */
int gpt_forward(struct gpt *m, const int *inputs, const int *targets, const float *mask, int B,
		int T, struct tl_err *e)
{
	if (ensure_acts(m, B, T, e))
		return -1;
	const int V = m->cfg.vocab, L = m->cfg.layers, C = m->cfg.dim, NH = m->cfg.heads;
	const int R = B * T;
	for (int i = 0; i < R; i++)
		if (inputs[i] < 0 || inputs[i] >= V || (targets && (targets[i] < 0 || targets[i] >= V)))
			return tl_fail(e, "token id out of range at %d", i);
	m->B = B;
	m->T = T;
	struct gpt_params *p = &m->params;
	struct gpt_acts *a = &m->acts;
	struct pool *pl = m->pool;
	encoder_forward(a->encoded, inputs, p->wte, p->wpe, B, T, C);
	const float *res = a->encoded;
	for (int l = 0; l < L; l++) {
		size_t o1 = (size_t)l * R * C, o3 = (size_t)l * R * 3 * C, o4 = (size_t)l * R * 4 * C,
		       oa = (size_t)l * B * NH * T * attention_ld(T), om = (size_t)l * R;
		float *ln1 = a->ln1 + o1, *qkv = a->qkv + o3, *atty = a->atty + o1;
		float *res2 = a->residual2 + o1, *ln2 = a->ln2 + o1, *fch = a->fch + o4;
		float *fchg = a->fch_gelu + o4, *res3 = a->residual3 + o1;
		layernorm_forward(pl, ln1, a->ln1_mean + om, a->ln1_rstd + om, res, p->ln1w + l * C,
				  p->ln1b + l * C, R, C);
		linear(m, qkv, ln1, p->qkvw + (size_t)l * 3 * C * C, p->qkvb + l * 3 * C, R, C, 3 * C);
		attention_forward(pl, atty, NULL, a->att + oa, qkv, B, T, C, NH);
		linear(m, a->attproj + o1, atty, p->attprojw + (size_t)l * C * C, p->attprojb + l * C,
		       R, C, C);
		residual_forward(res2, res, a->attproj + o1, R * C);
		layernorm_forward(pl, ln2, a->ln2_mean + om, a->ln2_rstd + om, res2, p->ln2w + l * C,
				  p->ln2b + l * C, R, C);
		linear(m, fch, ln2, p->fcw + (size_t)l * 4 * C * C, p->fcb + l * 4 * C, R, C, 4 * C);
		gelu_forward_pool(pl, fchg, a->fch_tanh + o4, fch, R * 4 * C);
		linear(m, a->fcproj + o1, fchg, p->fcprojw + (size_t)l * C * 4 * C, p->fcprojb + l * C,
		       R, 4 * C, C);
		residual_forward(res3, res2, a->fcproj + o1, R * C);
		res = res3;
	}
	layernorm_forward(pl, a->lnf, a->lnf_mean, a->lnf_rstd, res, p->lnfw, p->lnfb, R, C);
	linear(m, a->logits, a->lnf, p->wte, NULL, R, C, V);
	softmax_ce_forward(pl, a->probs, targets ? a->losses : NULL, a->logits, targets, R, V);
	if (targets) {
		double num = 0, den = 0;
		for (int i = 0; i < R; i++) {
			float w = mask ? mask[i] : 1.0f;
			num += (double)w * a->losses[i];
			den += w;
		}
		m->mean_loss = den > 0 ? (float)(num / den) : 0.0f;
	}
	return 0;
}

float *gpt_resid(struct gpt *m, int point, int b, int t)
{
	size_t R = (size_t)m->B * m->T, C = m->cfg.dim, row = (size_t)b * m->T + t;
	if (point == 0)
		return m->acts.encoded + row * C;
	int l = (point - 1) / 2;
	if (point % 2)
		return m->acts.residual2 + (size_t)l * R * C + row * C;
	return m->acts.residual3 + (size_t)l * R * C + row * C;
}

int gpt_alloc_train(struct gpt *m, struct tl_err *e)
{
	if (m->grads_mem)
		return 0;
	m->grads_mem = calloc(m->nparams, sizeof(float));
	m->m_mem = calloc(m->nparams, sizeof(float));
	m->v_mem = calloc(m->nparams, sizeof(float));
	if (!m->grads_mem || !m->m_mem || !m->v_mem) {
		free(m->grads_mem);
		free(m->m_mem);
		free(m->v_mem);
		m->grads_mem = m->m_mem = m->v_mem = NULL;
		return tl_fail(e, "out of memory for gradients");
	}
	point_params(&m->grads, m->grads_mem, m->sizes);
	return 0;
}

void gpt_zero_grad(struct gpt *m)
{
	memset(m->grads_mem, 0, m->nparams * sizeof(float));
}

/*
 * Every activation gradient is written once, never accumulated, so nothing
 * needs zeroing: the gradient of a residual sum is passed on as it is (the
 * projection's output gradient is the stream's), and each layernorm backward
 * writes stream gradient + its own into the stream below.
 */
void gpt_backward(struct gpt *m, const int *inputs, const int *targets, const float *mask)
{
	const int B = m->B, T = m->T, V = m->cfg.vocab, L = m->cfg.layers, C = m->cfg.dim,
		  NH = m->cfg.heads;
	const int R = B * T;
	struct gpt_params *p = &m->params, *g = &m->grads;
	struct gpt_acts *a = &m->acts, *ga = &m->gacts;
	struct pool *pl = m->pool;

	double den = 0;
	for (int i = 0; i < R; i++)
		den += mask ? mask[i] : 1.0f;
	float inv = den > 0 ? (float)(1.0 / den) : 0.0f;
	for (int i = 0; i < R; i++)
		m->dloss[i] = (mask ? mask[i] : 1.0f) * inv;

	softmax_ce_backward(pl, ga->logits, m->dloss, a->probs, targets, R, V);
	matmul_backward(pl, ga->lnf, g->wte, NULL, ga->logits, a->lnf, p->wte, R, C, V);
	float *res = L ? a->residual3 + (size_t)(L - 1) * R * C : a->encoded;
	float *dres = L ? ga->residual3 + (size_t)(L - 1) * R * C : ga->encoded;
	layernorm_backward(pl, dres, NULL, g->lnfw, g->lnfb, ga->lnf, res, p->lnfw, a->lnf_mean,
			   a->lnf_rstd, R, C);
	for (int l = L - 1; l >= 0; l--) {
		size_t o1 = (size_t)l * R * C, o3 = (size_t)l * R * 3 * C, o4 = (size_t)l * R * 4 * C,
		       oa = (size_t)l * B * NH * T * attention_ld(T), om = (size_t)l * R;
		const float *res_in = l ? a->residual3 + (size_t)(l - 1) * R * C : a->encoded;
		float *dres_in = l ? ga->residual3 + (size_t)(l - 1) * R * C : ga->encoded;
		float *dres3 = ga->residual3 + o1, *dres2 = ga->residual2 + o1;
		/* MLP: residual3 = residual2 + fcproj */
		matmul_backward(pl, ga->fch_gelu + o4, g->fcprojw + (size_t)l * C * 4 * C,
				g->fcprojb + l * C, dres3, a->fch_gelu + o4,
				p->fcprojw + (size_t)l * C * 4 * C, R, 4 * C, C);
		gelu_backward_pool(pl, ga->fch + o4, a->fch + o4, a->fch_tanh + o4, ga->fch_gelu + o4,
				   R * 4 * C);
		matmul_backward(pl, ga->ln2 + o1, g->fcw + (size_t)l * 4 * C * C, g->fcb + l * 4 * C,
				ga->fch + o4, a->ln2 + o1, p->fcw + (size_t)l * 4 * C * C, R, C, 4 * C);
		layernorm_backward(pl, dres2, dres3, g->ln2w + l * C, g->ln2b + l * C, ga->ln2 + o1,
				   a->residual2 + o1, p->ln2w + l * C, a->ln2_mean + om,
				   a->ln2_rstd + om, R, C);
		/* attention: residual2 = residual + attproj */
		matmul_backward(pl, ga->atty + o1, g->attprojw + (size_t)l * C * C, g->attprojb + l * C,
				dres2, a->atty + o1, p->attprojw + (size_t)l * C * C, R, C, C);
		attention_backward(pl, ga->qkv + o3, ga->atty + o1, a->qkv + o3, a->att + oa, B, T, C,
				   NH);
		matmul_backward(pl, ga->ln1 + o1, g->qkvw + (size_t)l * 3 * C * C, g->qkvb + l * 3 * C,
				ga->qkv + o3, a->ln1 + o1, p->qkvw + (size_t)l * 3 * C * C, R, C,
				3 * C);
		layernorm_backward(pl, dres_in, dres2, g->ln1w + l * C, g->ln1b + l * C, ga->ln1 + o1,
				   res_in, p->ln1w + l * C, a->ln1_mean + om, a->ln1_rstd + om, R, C);
	}
	encoder_backward(g->wte, g->wpe, ga->encoded, inputs, B, T, C);
}

/* b^n for n >= 0 by squaring in double: the bias corrections' powers, libm-free */
static double pow_int(double b, int n)
{
	double r = 1.0;
	for (; n > 0; n >>= 1, b *= b)
		if (n & 1)
			r *= b;
	return r;
}

void gpt_update(struct gpt *m, float lr, float beta1, float beta2, float eps, float wd, int step)
{
	struct adamw_hyper h = {.lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps,
				.bc1 = (float)(1.0 - pow_int(beta1, step)),
				.bc2 = (float)(1.0 - pow_int(beta2, step))};
	long off[GPT_NTENSORS + 1] = {0};
	float decay[GPT_NTENSORS];
	for (int t = 0; t < GPT_NTENSORS; t++) {
		const char *nm = gpt_param_names[t];
		decay[t] = (!strcmp(nm, "wte") || !strcmp(nm, "qkvw") || !strcmp(nm, "attprojw") ||
			    !strcmp(nm, "fcw") || !strcmp(nm, "fcprojw"))
				   ? wd
				   : 0.0f;
		off[t + 1] = off[t] + (long)m->sizes[t];
	}
	adamw_step(m->pool, m->params_mem, m->m_mem, m->v_mem, m->grads_mem, off, decay, m->frozen,
		   GPT_NTENSORS, &h);
}

/* ---- cached inference ---------------------------------------------------------------- */

/* offsets of the packed matrices in kv->wt: layer l's qkv, attproj, fc, fcproj; then wte */
static size_t kv_wt_layer(int C)
{
	return matmul_packed_size(C, 3 * C) + matmul_packed_size(C, C) +
	       matmul_packed_size(C, 4 * C) + matmul_packed_size(4 * C, C);
}

int gpt_kv_init(struct gpt_kv *kv, const struct gpt *m, struct tl_err *e)
{
	const int L = m->cfg.layers, C = m->cfg.dim, V = m->cfg.vocab;
	size_t T = m->cfg.max_seq, per = kv_wt_layer(C);
	const struct gpt_params *p = &m->params;
	kv->cap = (int)T;
	kv->k = calloc((size_t)L * T * C, sizeof(float));
	kv->v = calloc((size_t)L * T * C, sizeof(float));
	kv->wt = malloc(sizeof(float) * (L * per + matmul_packed_size(C, V)));
	/* x, ln, qkv(3C), atty, proj, fch(4C), fchg(4C) = 15C, then att(T) */
	kv->scratch = calloc(15 * (size_t)C + T + 16, sizeof(float));
	if (!kv->k || !kv->v || !kv->wt || !kv->scratch) {
		gpt_kv_release(kv);
		return tl_fail(e, "out of memory for the key/value cache");
	}
	for (int l = 0; l < L; l++) {
		float *w = kv->wt + (size_t)l * per;
		size_t cc = (size_t)C * C;
		matmul_pack(NULL, w, p->qkvw + l * 3 * cc, C, 3 * C);
		w += matmul_packed_size(C, 3 * C);
		matmul_pack(NULL, w, p->attprojw + l * cc, C, C);
		w += matmul_packed_size(C, C);
		matmul_pack(NULL, w, p->fcw + l * 4 * cc, C, 4 * C);
		w += matmul_packed_size(C, 4 * C);
		matmul_pack(NULL, w, p->fcprojw + l * 4 * cc, 4 * C, C);
	}
	matmul_pack(NULL, kv->wt + (size_t)L * per, p->wte, C, V);
	return 0;
}

void gpt_kv_release(struct gpt_kv *kv)
{
	free(kv->k);
	free(kv->v);
	free(kv->wt);
	free(kv->scratch);
	kv->k = kv->v = kv->wt = kv->scratch = NULL;
}

void gpt_infer_step(struct gpt *m, struct gpt_kv *kv, int token, int pos, float *logits)
{
	const int L = m->cfg.layers, C = m->cfg.dim, NH = m->cfg.heads, V = m->cfg.vocab,
		  T = kv->cap;
	const size_t per = kv_wt_layer(C);
	struct gpt_params *p = &m->params;
	float *x = kv->scratch, *ln = x + C, *qkv = ln + C, *atty = qkv + 3 * C, *proj = atty + C;
	float *fch = proj + C, *fchg = fch + 4 * C, *att = fchg + 4 * C;
	float mean, rstd;
	for (int i = 0; i < C; i++)
		x[i] = p->wte[(size_t)token * C + i] + p->wpe[(size_t)pos * C + i];
	if (m->hook)
		m->hook(m->hook_ctx, 0, pos, x, C);
	for (int l = 0; l < L; l++) {
		const float *wqkv = kv->wt + (size_t)l * per;
		const float *wproj = wqkv + matmul_packed_size(C, 3 * C);
		const float *wfc = wproj + matmul_packed_size(C, C);
		const float *wfcproj = wfc + matmul_packed_size(C, 4 * C);
		layernorm_forward(NULL, ln, &mean, &rstd, x, p->ln1w + l * C, p->ln1b + l * C, 1, C);
		matmul_forward_packed(NULL, qkv, ln, wqkv, p->qkvb + l * 3 * C, 1, C, 3 * C);
		float *kT = kv->k + (size_t)l * C * T, *vc = kv->v + (size_t)l * T * C;
		for (int c = 0; c < C; c++)
			kT[(size_t)c * T + pos] = qkv[C + c];
		memcpy(vc + (size_t)pos * C, qkv + 2 * C, C * sizeof(float));
		attention_query(atty, att, qkv, kT, vc, pos + 1, T, C, NH);
		matmul_forward_packed(NULL, proj, atty, wproj, p->attprojb + l * C, 1, C, C);
		residual_forward(x, x, proj, C);
		if (m->hook)
			m->hook(m->hook_ctx, 2 * l + 1, pos, x, C);
		layernorm_forward(NULL, ln, &mean, &rstd, x, p->ln2w + l * C, p->ln2b + l * C, 1, C);
		matmul_forward_packed(NULL, fch, ln, wfc, p->fcb + l * 4 * C, 1, C, 4 * C);
		gelu_forward(fchg, fch, 4 * C);
		matmul_forward_packed(NULL, proj, fchg, wfcproj, p->fcprojb + l * C, 1, 4 * C, C);
		residual_forward(x, x, proj, C);
		if (m->hook)
			m->hook(m->hook_ctx, 2 * l + 2, pos, x, C);
	}
	layernorm_forward(NULL, ln, &mean, &rstd, x, p->lnfw, p->lnfb, 1, C);
	matmul_forward_packed(NULL, logits, ln, kv->wt + (size_t)L * per, NULL, 1, C, V);
}
