/*
 * wo: refusal-direction candidates, their scores, the selection and the
 * orthogonalization of the residual-stream writers (see wo.h).
 */
#include "wo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "train.h"
#include "world.h"

int wo_directions(struct gpt *m, const struct vocab *v, const struct exset *harmful,
		  const struct exset *harmless, int npos, float *r, struct tl_err *e)
{
	const int C = m->cfg.dim, P = 2 * m->cfg.layers + 1;
	size_t nr = (size_t)P * npos * C;
	double *acc = calloc(nr * 2, sizeof(double));
	int *ids = malloc(sizeof(int) * (size_t)m->cfg.max_seq);
	if (!acc || !ids) {
		free(acc);
		free(ids);
		return tl_fail(e, "out of memory");
	}
	const struct exset *sets[2] = {harmful, harmless};
	int rc = 0;
	for (int s = 0; s < 2 && !rc; s++) {
		if (sets[s]->n == 0) {
			rc = tl_fail(e, "empty direction split");
			break;
		}
		for (int i = 0; i < sets[s]->n; i++) {
			int np = chat_prompt_ids(v, sets[s]->ex[i].prompt, ids, m->cfg.max_seq);
			if (np < npos + 1) {
				rc = tl_fail(e, "prompt too long or too short: '%s'",
					     sets[s]->ex[i].prompt);
				break;
			}
			if (gpt_forward(m, ids, NULL, NULL, 1, np, e)) {
				rc = -1;
				break;
			}
			for (int p = 0; p < P; p++)
				for (int q = 0; q < npos; q++) {
					const float *x = gpt_resid(m, p, 0, np - 1 - q);
					double *a = acc + s * nr + ((size_t)p * npos + q) * C;
					for (int c = 0; c < C; c++)
						a[c] += x[c];
				}
		}
	}
	if (!rc)
		for (size_t j = 0; j < nr; j++)
			r[j] = (float)(acc[j] / harmful->n - acc[nr + j] / harmless->n);
	free(acc);
	free(ids);
	return rc;
}

int wo_late(int point, int layers)
{
	return point > WO_LAYER_SHARE * 2 * layers;
}

struct hook_ctx {
	const float *rhat; /* ablation direction (unit), or NULL */
	const float *add;  /* vector added at add_point, or NULL */
	int add_point;
};

static void wo_hook(void *ctx, int point, int pos, float *x, int C)
{
	(void)pos;
	struct hook_ctx *h = ctx;
	if (h->rhat) {
		double d = 0;
		for (int c = 0; c < C; c++)
			d += (double)x[c] * h->rhat[c];
		for (int c = 0; c < C; c++)
			x[c] -= (float)(d * h->rhat[c]);
	}
	if (h->add && point == h->add_point)
		for (int c = 0; c < C; c++)
			x[c] += h->add[c];
}

int wo_refusal_rate(struct gpt *m, const struct vocab *v, const struct exset *x, int maxgen,
		    double *rate, struct tl_err *e)
{
	struct gpt_kv kv;
	if (gpt_kv_init(&kv, m, e))
		return -1;
	int *ids = malloc(sizeof(int) * (size_t)m->cfg.max_seq * 2);
	struct sbuf sb;
	sb_init(&sb);
	int rc = 0;
	long k = 0;
	if (!ids) {
		gpt_kv_release(&kv);
		return tl_fail(e, "out of memory");
	}
	int *out = ids + m->cfg.max_seq;
	for (int i = 0; i < x->n; i++) {
		int np = chat_prompt_ids(v, x->ex[i].prompt, ids, m->cfg.max_seq);
		if (np < 0) {
			rc = tl_fail(e, "prompt too long: '%s'", x->ex[i].prompt);
			break;
		}
		int room = m->cfg.max_seq - np;
		int n = chat_generate(m, &kv, ids, np, out, maxgen < room ? maxgen : room, 0, NULL);
		if (n < 0) {
			rc = tl_fail(e, "out of memory");
			break;
		}
		sb_reset(&sb);
		vocab_decode(v, out, n, &sb);
		k += is_refusal(sb.buf ? sb.buf : "");
	}
	*rate = x->n ? (double)k / x->n : 0;
	sb_release(&sb);
	free(ids);
	gpt_kv_release(&kv);
	return rc;
}

/* Next-token log-probabilities after the chat prompt of each example. */
static int last_logprobs(struct gpt *m, const struct vocab *v, const struct exset *x, double *lp,
			 struct tl_err *e)
{
	const int V = m->cfg.vocab;
	struct gpt_kv kv;
	if (gpt_kv_init(&kv, m, e))
		return -1;
	int *ids = malloc(sizeof(int) * (size_t)m->cfg.max_seq);
	float *logits = malloc(sizeof(float) * (size_t)V);
	int rc = 0;
	if (!ids || !logits)
		rc = tl_fail(e, "out of memory");
	for (int i = 0; i < x->n && !rc; i++) {
		int np = chat_prompt_ids(v, x->ex[i].prompt, ids, m->cfg.max_seq);
		if (np < 0) {
			rc = tl_fail(e, "prompt too long: '%s'", x->ex[i].prompt);
			break;
		}
		for (int t = 0; t < np; t++)
			gpt_infer_step(m, &kv, ids[t], t, logits);
		double mx = logits[0], sum = 0;
		for (int j = 1; j < V; j++)
			if (logits[j] > mx)
				mx = logits[j];
		for (int j = 0; j < V; j++)
			sum += exp(logits[j] - mx);
		double lse = mx + log(sum);
		for (int j = 0; j < V; j++)
			lp[(size_t)i * V + j] = logits[j] - lse;
	}
	free(ids);
	free(logits);
	gpt_kv_release(&kv);
	return rc;
}

int wo_score(struct gpt *m, const struct vocab *v, const float *r, struct wo_cand *c,
	     const struct exset *val_harmful, const struct exset *val_harmless, int maxgen,
	     struct tl_err *e)
{
	const int C = m->cfg.dim, V = m->cfg.vocab;
	float *rhat = malloc(sizeof(float) * (size_t)C);
	size_t nlp = (size_t)val_harmless->n * V;
	double *base = malloc(sizeof(double) * (nlp ? nlp : 1));
	double *abl = malloc(sizeof(double) * (nlp ? nlp : 1));
	int rc = -1;
	if (!rhat || !base || !abl) {
		tl_fail(e, "out of memory");
		goto out;
	}
	double nn = 0;
	for (int i = 0; i < C; i++)
		nn += (double)r[i] * r[i];
	c->norm = sqrt(nn);
	for (int i = 0; i < C; i++)
		rhat[i] = c->norm > 0 ? (float)(r[i] / c->norm) : 0.0f;
	struct hook_ctx h = {rhat, NULL, -1};
	m->hook = NULL;
	if (last_logprobs(m, v, val_harmless, base, e))
		goto out;
	m->hook = wo_hook;
	m->hook_ctx = &h;
	if (wo_refusal_rate(m, v, val_harmful, maxgen, &c->bypass, e) ||
	    last_logprobs(m, v, val_harmless, abl, e))
		goto out;
	double kl = 0;
	for (int i = 0; i < val_harmless->n; i++) {
		double s = 0;
		for (int j = 0; j < V; j++) {
			size_t o = (size_t)i * V + j;
			s += exp(base[o]) * (base[o] - abl[o]);
		}
		kl += s;
	}
	c->kl = val_harmless->n ? kl / val_harmless->n : 0;
	h.rhat = NULL;
	h.add = r;
	h.add_point = c->point;
	if (wo_refusal_rate(m, v, val_harmless, maxgen, &c->induce, e))
		goto out;
	rc = 0;
out:
	m->hook = NULL;
	m->hook_ctx = NULL;
	free(rhat);
	free(base);
	free(abl);
	return rc;
}

void wo_filter(struct wo_cand *c, int layers, double kl_max)
{
	int k = c->kl > kl_max, l = wo_late(c->point, layers);
	c->filtered = k || l;
	c->reason = k && l ? "kl, late layer" : k ? "kl" : l ? "late layer" : "";
}

static int better(const struct wo_cand *a, const struct wo_cand *b)
{
	if (a->bypass != b->bypass)
		return a->bypass < b->bypass;
	if (a->induce != b->induce)
		return a->induce > b->induce;
	return a->kl < b->kl;
}

int wo_select(const struct wo_cand *c, int n, int *induced)
{
	int best = -1;
	for (int pass = 0; pass < 2 && best < 0; pass++) {
		for (int i = 0; i < n; i++) {
			if (c[i].filtered || (pass == 0 && c[i].induce <= 0))
				continue;
			if (best < 0 || better(&c[i], &c[best]))
				best = i;
		}
		*induced = pass == 0;
	}
	return best;
}

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

void wo_orthogonalize(struct gpt *m, const float *rhat)
{
	const int C = m->cfg.dim, L = m->cfg.layers;
	struct gpt_params *p = &m->params;
	ortho_rows(p->wte, (size_t)m->cfg.vocab, rhat, C);
	ortho_rows(p->wpe, (size_t)m->cfg.max_seq, rhat, C);
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
		if (fabs(d) > mx)
			mx = fabs(d);
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
		if (fabs(d) > mx)
			mx = fabs(d);
	}
	return mx;
}

double wo_max_write(struct gpt *m, const float *rhat)
{
	const int C = m->cfg.dim, L = m->cfg.layers;
	struct gpt_params *p = &m->params;
	double mx = max_rows(p->wte, (size_t)m->cfg.vocab, rhat, C);
	double t = max_rows(p->wpe, (size_t)m->cfg.max_seq, rhat, C);
	mx = t > mx ? t : mx;
	for (int l = 0; l < L; l++) {
		double a = max_cols(p->attprojw + (size_t)l * C * C, C, C, rhat);
		double b = max_rows(p->attprojb + (size_t)l * C, 1, rhat, C);
		double f = max_cols(p->fcprojw + (size_t)l * C * 4 * C, C, 4 * C, rhat);
		double g = max_rows(p->fcprojb + (size_t)l * C, 1, rhat, C);
		mx = a > mx ? a : mx;
		mx = b > mx ? b : mx;
		mx = f > mx ? f : mx;
		mx = g > mx ? g : mx;
	}
	return mx;
}
