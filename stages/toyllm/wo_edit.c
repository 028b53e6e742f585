/*
 * wo_edit: the interventions of weight orthogonalization (see wo.h): the
 * weight edit W <- W - r^ r^T W of the residual-stream writers, the check
 * of what is left along r^, and the forward hook (directional ablation,
 * activation addition) in the paper's formulation.
 */
#include <math.h>

#include "wo.h"

/* rows: x <- x - (x . rhat) rhat for each of n rows of C. */
static void ortho_rows(float *w, size_t n, const float *rhat, int C)
{
	for (size_t i = 0; i < n; i++) {
		float *x = w + i * C;
		double d = 0;
		for (int c = 0; c < C; c++)
			d += (double)x[c] * rhat[c];
		for (int c = 0; c < C; c++)
			x[c] = (float)(x[c] - d * rhat[c]);
	}
}

/* (C,in) matrix, output side: W <- W - rhat (rhat^T W). */
static void ortho_cols(float *w, int C, int in, const float *rhat)
{
	for (int j = 0; j < in; j++) {
		double d = 0;
		for (int o = 0; o < C; o++)
			d += (double)rhat[o] * w[(size_t)o * in + j];
		for (int o = 0; o < C; o++)
			w[(size_t)o * in + j] = (float)(w[(size_t)o * in + j] - rhat[o] * d);
	}
}

void wo_orthogonalize(struct gpt *m, const float *rhat, int edit_embeddings)
{
	const int C = m->cfg.dim, L = m->cfg.layers;
	struct gpt_params *p = &m->params;
	if (edit_embeddings) {
		ortho_rows(p->wte, (size_t)m->cfg.vocab, rhat, C);
		ortho_rows(p->wpe, (size_t)m->cfg.max_seq, rhat, C);
	}
	for (int l = 0; l < L; l++) {
		ortho_cols(p->attprojw + (size_t)l * C * C, C, C, rhat);
		ortho_rows(p->attprojb + (size_t)l * C, 1, rhat, C);
		ortho_cols(p->fcprojw + (size_t)l * C * 4 * C, C, 4 * C, rhat);
		ortho_rows(p->fcprojb + (size_t)l * C, 1, rhat, C);
	}
}

static double max_rows(const float *w, size_t n, const float *rhat, int C)
{
	double mx = 0;
	for (size_t i = 0; i < n; i++) {
		double d = 0;
		for (int c = 0; c < C; c++)
			d += (double)w[i * C + c] * rhat[c];
		mx = fabs(d) > mx ? fabs(d) : mx;
	}
	return mx;
}

static double max_cols(const float *w, int C, int in, const float *rhat)
{
	double mx = 0;
	for (int j = 0; j < in; j++) {
		double d = 0;
		for (int o = 0; o < C; o++)
			d += (double)rhat[o] * w[(size_t)o * in + j];
		mx = fabs(d) > mx ? fabs(d) : mx;
	}
	return mx;
}

double wo_max_write(struct gpt *m, const float *rhat, int edit_embeddings)
{
	const int C = m->cfg.dim, L = m->cfg.layers;
	struct gpt_params *p = &m->params;
	double mx = 0, t[4];
	if (edit_embeddings) {
		t[0] = max_rows(p->wte, (size_t)m->cfg.vocab, rhat, C);
		t[1] = max_rows(p->wpe, (size_t)m->cfg.max_seq, rhat, C);
		mx = t[0] > t[1] ? t[0] : t[1];
	}
	for (int l = 0; l < L; l++) {
		t[0] = max_cols(p->attprojw + (size_t)l * C * C, C, C, rhat);
		t[1] = max_rows(p->attprojb + (size_t)l * C, 1, rhat, C);
		t[2] = max_cols(p->fcprojw + (size_t)l * C * 4 * C, C, 4 * C, rhat);
		t[3] = max_rows(p->fcprojb + (size_t)l * C, 1, rhat, C);
		for (int i = 0; i < 4; i++)
			mx = t[i] > mx ? t[i] : mx;
	}
	return mx;
}

void wo_hook_fn(void *ctx, int point, int pos, float *x, int C)
{
	(void)pos; /* gpt_infer_step runs every point of one position before the next */
	struct wo_hook *h = ctx;
	if (h->mode != WO_HOOK_NONE) {
		double d = 0;
		for (int c = 0; c < C; c++)
			d += (double)x[c] * h->rhat[c];
		if (h->mode == WO_HOOK_ABLATE_BLOCKS && point == 0) {
			h->c0 = d; /* the embedding's component stays; blocks add none */
		} else {
			double keep = h->mode == WO_HOOK_ABLATE_BLOCKS ? h->c0 : 0;
			for (int c = 0; c < C; c++)
				x[c] = (float)(x[c] - (d - keep) * h->rhat[c]);
		}
	}
	if (h->add && point == h->add_point)
		for (int c = 0; c < C; c++)
			x[c] += h->add[c];
}
