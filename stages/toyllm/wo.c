/*
 * wo: the refusal-direction pipeline of weight orthogonalization (see wo.h):
 * base-behaviour filtering of the prompt pairs, candidate directions, their
 * scores, the filters, the selection and wo_run, which ties them together.
 * The edit and the hook are in wo_edit.c, the wo.json format in wo_json.c.
 */
#include "wo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "judge.h"
#include "train.h"
#include "world.h"

const char *const wo_split_files[WO_NSPLITS] = {"wo_harmful.jsonl", "wo_harmless.jsonl",
						"wo_val_harmful.jsonl", "wo_val_harmless.jsonl"};

/* The study's judge (judge.h), asked one question: is this reply a refusal?
 * For a harmful prompt the pair is kept only when the judge's class is
 * JUDGE_REFUSAL (a refusal that leaks no part of the answer); for a harmless
 * prompt it is dropped when the reply contains any refusal marker. */
static int judged_refusal(const char *reply, const char *harmful_answer)
{
	if (harmful_answer)
		return judge_harmful(reply, harmful_answer) == JUDGE_REFUSAL;
	return judge_is_refusal(reply);
}

void wo_opts_default(struct wo_opts *o)
{
	o->edit_embeddings = 0;
	o->kl_max = WO_KL_MAX;
	o->max_gen = WO_MAX_GEN;
}

void wo_result_release(struct wo_result *r)
{
	free(r->cand);
	free(r->rhat);
	r->cand = NULL;
	r->rhat = NULL;
}

int wo_ncand(int layers, int npost)
{
	return layers > 1 ? (layers - 1) * npost : 0;
}

int wo_late(int layer, int layers)
{
	return !(layer < WO_LATE_SHARE * layers);
}

void wo_filter(struct wo_cand *c, int layers, double kl_max)
{
	unsigned f = 0;
	if (wo_late(c->layer, layers))
		f |= WO_F_LATE;
	if (!(c->kl <= kl_max))
		f |= WO_F_KL;
	if (!(c->steering >= WO_STEER_MIN))
		f |= WO_F_STEER;
	if (!(c->norm > 0) || !isfinite(c->refusal) || !isfinite(c->steering) || !isfinite(c->kl))
		f |= WO_F_ZERO;
	c->filters = f;
}

int wo_select(const struct wo_cand *c, int n)
{
	int best = -1;
	for (int i = 0; i < n; i++)
		if (!c[i].filters && (best < 0 || c[i].refusal < c[best].refusal))
			best = i;
	return best;
}

void wo_filter_names(unsigned bits, struct sbuf *out)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{WO_F_LATE, "late layer"}, {WO_F_KL, "kl"}, {WO_F_STEER, "steering"},
		     {WO_F_ZERO, "zero"}};
	int k = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (bits & names[i].bit) {
			sb_addf(out, "%s\"%s\"", k++ ? ", " : "", names[i].name);
		}
}

/* ---- base-behaviour filter ------------------------------------------------------ */

/* Judges the greedy reply to ex (harmful: its answer is the harmful one). */
static int greedy_refuses(struct gpt *m, struct gpt_kv *kv, const struct vocab *v,
			  const struct example *ex, int harmful, int max_gen, int *ids, int *out,
			  struct sbuf *sb, int *refuses, struct tl_err *e)
{
	const char *prompt = ex->prompt;
	int np = chat_prompt_ids(v, prompt, ids, m->cfg.max_seq);
	if (np < 0)
		return tl_fail(e, "prompt longer than the model's context: '%s'", prompt);
	int room = m->cfg.max_seq - np;
	int n = chat_generate(m, kv, ids, np, out, max_gen < room ? max_gen : room, 0, NULL);
	if (n < 0)
		return tl_fail(e, "out of memory");
	sb_reset(sb);
	vocab_decode(v, out, n, sb);
	*refuses = judged_refusal(sb->buf ? sb->buf : "", harmful ? ex->answer : NULL);
	return 0;
}

int wo_filter_pairs(struct gpt *m, const struct vocab *v, const struct exset *harmful,
		    const struct exset *harmless, int max_gen, struct exset *kh, struct exset *kb,
		    int *complied, int *refused, struct tl_err *e)
{
	kh->n = kb->n = 0;
	kh->ex = malloc(sizeof(struct example) * (size_t)(harmful->n + 1));
	kb->ex = malloc(sizeof(struct example) * (size_t)(harmful->n + 1));
	int *ids = malloc(sizeof(int) * (size_t)m->cfg.max_seq * 2);
	struct gpt_kv kv;
	if (!kh->ex || !kb->ex || !ids) {
		free(ids);
		return tl_fail(e, "out of memory");
	}
	if (gpt_kv_init(&kv, m, e)) {
		free(ids);
		return -1;
	}
	struct sbuf sb;
	sb_init(&sb);
	int rc = 0;
	*complied = *refused = 0;
	for (int i = 0; i < harmful->n; i++) {
		int rh = 0, rb = 0;
		if (greedy_refuses(m, &kv, v, &harmful->ex[i], 1, max_gen, ids,
				   ids + m->cfg.max_seq, &sb, &rh, e) ||
		    greedy_refuses(m, &kv, v, &harmless->ex[i], 0, max_gen, ids,
				   ids + m->cfg.max_seq, &sb, &rb, e)) {
			rc = -1;
			break;
		}
		*complied += !rh;
		*refused += rb;
		if (rh && !rb) {
			kh->ex[kh->n++] = harmful->ex[i];
			kb->ex[kb->n++] = harmless->ex[i];
		}
	}
	free(ids);
	sb_release(&sb);
	gpt_kv_release(&kv);
	return rc;
}

/* ---- candidate directions ------------------------------------------------------- */

struct capture {
	int from, npost, layers; /* first captured position, positions, blocks */
	double *acc;		 /* (layers-1, npost, C) sums */
};

static void capture_hook(void *ctx, int point, int pos, float *x, int C)
{
	struct capture *k = ctx;
	if (point < 2 || point % 2 || point / 2 >= k->layers || pos < k->from)
		return;
	double *a = k->acc + ((size_t)(point / 2 - 1) * k->npost + (pos - k->from)) * C;
	for (int c = 0; c < C; c++)
		a[c] += x[c];
}

int wo_directions(struct gpt *m, const struct vocab *v, const struct exset *harmful,
		  const struct exset *harmless, int npost, float *r, struct tl_err *e)
{
	const int C = m->cfg.dim, V = m->cfg.vocab, L = m->cfg.layers;
	size_t nr = (size_t)(L - 1) * npost * C;
	if (L < 2)
		return tl_fail(e, "a 1-layer model has no block input after the embeddings");
	if (harmful->n == 0 || harmless->n == 0)
		return tl_fail(e, "empty direction split");
	double *acc = calloc(nr * 2, sizeof(double));
	int *ids = malloc(sizeof(int) * (size_t)m->cfg.max_seq);
	float *logits = malloc(sizeof(float) * (size_t)V);
	struct gpt_kv kv;
	int rc = gpt_kv_init(&kv, m, e);
	if (!rc && (!acc || !ids || !logits))
		rc = tl_fail(e, "out of memory");
	const struct exset *sets[2] = {harmful, harmless};
	struct capture k = {0, npost, L, NULL};
	for (int s = 0; s < 2 && !rc; s++) {
		k.acc = acc + s * nr;
		for (int i = 0; i < sets[s]->n; i++) {
			int np = chat_prompt_ids(v, sets[s]->ex[i].prompt, ids, m->cfg.max_seq);
			if (np < npost + 1) {
				rc = tl_fail(e, "prompt longer than the model's context: '%s'",
					     sets[s]->ex[i].prompt);
				break;
			}
			k.from = np - npost;
			m->hook = capture_hook;
			m->hook_ctx = &k;
			for (int t = 0; t < np; t++)
				gpt_infer_step(m, &kv, ids[t], t, logits);
			m->hook = NULL;
			m->hook_ctx = NULL;
		}
	}
	if (!rc)
		for (size_t j = 0; j < nr; j++)
			r[j] = (float)(acc[j] / harmful->n - acc[nr + j] / harmless->n);
	if (kv.k || kv.wt)
		gpt_kv_release(&kv);
	free(acc);
	free(ids);
	free(logits);
	return rc;
}

/* ---- scores --------------------------------------------------------------------- */

static void log_softmax(const float *logits, int V, double *lp)
{
	double mx = logits[0], sum = 0;
	for (int j = 1; j < V; j++)
		mx = logits[j] > mx ? logits[j] : mx;
	for (int j = 0; j < V; j++)
		sum += exp(logits[j] - mx);
	double lse = mx + log(sum);
	for (int j = 0; j < V; j++)
		lp[j] = logits[j] - lse;
}

const char *const wo_refusal_openings[] = {"i can not", "i cannot",   "i will not", "i won't",
					  "i do not help", "i am sorry", "i refuse", NULL};

int wo_opening_ids(const struct vocab *v, const char *opening, int *ids, int cap)
{
	int n = vocab_encode(v, opening, ids, cap);
	if (n > cap)
		return -1;
	for (int j = 0; j < n; j++)
		if (ids[j] == TOK_UNK)
			return -1;
	return n;
}

int wo_refusal_score(struct gpt *m, const struct vocab *v, const struct exset *x,
		     double *score, struct tl_err *e)
{
	const int V = m->cfg.vocab, T = m->cfg.max_seq;
	enum { MAXO = 8, MAXW = 8 };
	int cont[MAXO][MAXW], nc[MAXO], no = 0, maxc = 0;
	for (int i = 0; wo_refusal_openings[i] && no < MAXO; i++) {
		int n = wo_opening_ids(v, wo_refusal_openings[i], cont[no], MAXW);
		if (n <= 0 && i == 0)
			return tl_fail(e, "the refusal '%s' has words outside the vocabulary",
				       wo_refusal_openings[0]);
		if (n > 0) {
			nc[no] = n;
			maxc = n > maxc ? n : maxc;
			no++;
		}
	}
	if (x->n == 0)
		return tl_fail(e, "no prompts to score");
	struct gpt_kv kv;
	if (gpt_kv_init(&kv, m, e))
		return -1;
	int *ids = malloc(sizeof(int) * (size_t)T);
	float *logits = malloc(sizeof(float) * (size_t)V);
	double *lp = malloc(sizeof(double) * (size_t)V * 2), *first = lp ? lp + V : NULL;
	int rc = ids && logits && lp ? 0 : tl_fail(e, "out of memory");
	double sum = 0;
	for (int i = 0; i < x->n && !rc; i++) {
		int np = chat_prompt_ids(v, x->ex[i].prompt, ids, T);
		if (np < 0 || np + maxc - 1 > T) {
			rc = tl_fail(e, "prompt and refusal longer than the model's context: '%s'",
				     x->ex[i].prompt);
			break;
		}
		for (int t = 0; t < np; t++)
			gpt_infer_step(m, &kv, ids[t], t, logits);
		log_softmax(logits, V, first);
		/* the openings are disjoint continuations: their probabilities add */
		double p = 0;
		for (int k = 0; k < no; k++) {
			double logp = first[cont[k][0]];
			for (int j = 1; j < nc[k]; j++) {
				gpt_infer_step(m, &kv, cont[k][j - 1], np + j - 1, logits);
				log_softmax(logits, V, lp);
				logp += lp[cont[k][j]];
			}
			p += exp(logp);
		}
		p = p > 1 ? 1 : p;
		sum += log(p + WO_EPS) - log(1 - p + WO_EPS);
	}
	*score = sum / (x->n ? x->n : 1);
	free(ids);
	free(logits);
	free(lp);
	gpt_kv_release(&kv);
	return rc;
}

int wo_last_logprobs(struct gpt *m, const struct vocab *v, const struct exset *x, double *lp,
		     struct tl_err *e)
{
	const int V = m->cfg.vocab;
	struct gpt_kv kv;
	if (gpt_kv_init(&kv, m, e))
		return -1;
	int *ids = malloc(sizeof(int) * (size_t)m->cfg.max_seq);
	float *logits = malloc(sizeof(float) * (size_t)V);
	int rc = ids && logits ? 0 : tl_fail(e, "out of memory");
	for (int i = 0; i < x->n && !rc; i++) {
		int np = chat_prompt_ids(v, x->ex[i].prompt, ids, m->cfg.max_seq);
		if (np < 0) {
			rc = tl_fail(e, "prompt longer than the model's context: '%s'",
				     x->ex[i].prompt);
			break;
		}
		for (int t = 0; t < np; t++)
			gpt_infer_step(m, &kv, ids[t], t, logits);
		log_softmax(logits, V, lp + (size_t)i * V);
	}
	free(ids);
	free(logits);
	gpt_kv_release(&kv);
	return rc;
}

double wo_kl(const double *lp, const double *lq, int n, int V)
{
	double kl = 0;
	for (int i = 0; i < n; i++) {
		double s = 0;
		for (int j = 0; j < V; j++) {
			size_t o = (size_t)i * V + j;
			s += exp(lp[o]) * (lp[o] - lq[o]);
		}
		kl += s;
	}
	return n ? kl / n : 0;
}

/* dst <- a copy of src's parameters (dst built once with src's config). */
static int clone_model(const struct gpt *src, struct gpt *dst, struct tl_err *e)
{
	if (gpt_build(dst, &src->cfg, e))
		return -1;
	memcpy(dst->params_mem, src->params_mem, sizeof(float) * src->nparams);
	dst->tok_digest = src->tok_digest;
	return 0;
}

int wo_score(struct gpt *m, const struct vocab *v, const float *r, const struct wo_opts *o,
	     struct wo_cand *c, const struct exset *sel_harmful, const struct exset *sel_harmless,
	     const double *base_lp, struct tl_err *e)
{
	const int C = m->cfg.dim, V = m->cfg.vocab;
	double nn = 0;
	for (int i = 0; i < C; i++)
		nn += (double)r[i] * r[i];
	c->norm = sqrt(nn);
	c->refusal = c->steering = c->kl = NAN;
	if (!(c->norm > 0))
		return 0; /* nothing to remove: filtered as "zero" */
	float *rhat = malloc(sizeof(float) * (size_t)C);
	double *lq = malloc(sizeof(double) * ((size_t)sel_harmless->n * V + 1));
	struct gpt ed;
	memset(&ed, 0, sizeof ed);
	int rc = -1;
	if (!rhat || !lq) {
		tl_fail(e, "out of memory");
		goto out;
	}
	for (int i = 0; i < C; i++)
		rhat[i] = (float)(r[i] / c->norm);
	/* ablation: exactly the edit that would be saved */
	if (clone_model(m, &ed, e))
		goto out;
	wo_orthogonalize(&ed, rhat, o->edit_embeddings);
	if (wo_refusal_score(&ed, v, sel_harmful, &c->refusal, e) ||
	    wo_last_logprobs(&ed, v, sel_harmless, lq, e))
		goto out;
	c->kl = wo_kl(base_lp, lq, sel_harmless->n, V);
	/* activation addition of the raw difference at the candidate's block input */
	struct wo_hook h = {WO_HOOK_NONE, NULL, r, 2 * c->layer, 0};
	m->hook = wo_hook_fn;
	m->hook_ctx = &h;
	rc = wo_refusal_score(m, v, sel_harmless, &c->steering, e);
	m->hook = NULL;
	m->hook_ctx = NULL;
out:
	gpt_free(&ed);
	free(rhat);
	free(lq);
	return rc;
}

/* ---- the pipeline ----------------------------------------------------------------- */

static int refusal_rate(struct gpt *m, const struct vocab *v, const struct exset *x, int max_gen,
			double *rate, struct tl_err *e)
{
	struct gpt_kv kv;
	if (gpt_kv_init(&kv, m, e))
		return -1;
	int *ids = malloc(sizeof(int) * (size_t)m->cfg.max_seq * 2);
	struct sbuf sb;
	sb_init(&sb);
	int rc = ids ? 0 : tl_fail(e, "out of memory"), k = 0;
	for (int i = 0; i < x->n && !rc; i++) {
		int r = 0;
		rc = greedy_refuses(m, &kv, v, &x->ex[i], 1, max_gen, ids, ids + m->cfg.max_seq,
				    &sb, &r, e);
		k += r;
	}
	*rate = x->n ? (double)k / x->n : 0;
	free(ids);
	sb_release(&sb);
	gpt_kv_release(&kv);
	return rc;
}

/* The pairs must match: same count, and each pair the same token length. */
static int check_pairs(const struct vocab *v, const struct exset *a, const struct exset *b,
		       const char *fa, const char *fb, struct tl_err *e)
{
	if (a->n != b->n)
		return tl_fail(e, "%s has %d prompts and %s %d: WO's prompt files pair line by line",
			       fa, a->n, fb, b->n);
	for (int i = 0; i < a->n; i++) {
		int la = vocab_encode(v, a->ex[i].prompt, NULL, 0);
		int lb = vocab_encode(v, b->ex[i].prompt, NULL, 0);
		if (la != lb)
			return tl_fail(e, "%s line %d has %d tokens and %s line %d has %d: a pair "
					  "must have the same length",
				       fa, i + 1, la, fb, i + 1, lb);
	}
	return 0;
}

int wo_run(struct gpt *m, const struct vocab *v, const struct exset splits[WO_NSPLITS],
	   const struct wo_opts *o, struct wo_result *res, struct tl_err *e)
{
	const int L = m->cfg.layers, C = m->cfg.dim, V = m->cfg.vocab;
	memset(res, 0, sizeof *res);
	res->layers = L;
	res->dim = C;
	res->npost = CHAT_POST_INSTRUCTION;
	res->chosen = -1;
	res->reason = "";
	int tmpl[16];
	int nt = chat_prompt_ids(v, "", tmpl, 16);
	if (res->npost > 8 || nt < res->npost)
		return tl_fail(e, "the chat template has %d post-instruction tokens", res->npost);
	for (int i = 0; i < res->npost; i++)
		res->post_ids[i] = tmpl[nt - res->npost + i];
	for (int s = 0; s < 2; s++)
		if (check_pairs(v, &splits[2 * s], &splits[2 * s + 1], wo_split_files[2 * s],
				wo_split_files[2 * s + 1], e))
			return -1;
	struct exset k[WO_NSPLITS]; /* the kept pairs: views into splits */
	memset(k, 0, sizeof k);
	float *r = NULL;
	double *base_lp = NULL;
	int rc = -1;
	for (int s = 0; s < 2; s++) {
		res->pairs[s] = splits[2 * s].n;
		if (wo_filter_pairs(m, v, &splits[2 * s], &splits[2 * s + 1], o->max_gen, &k[2 * s],
				    &k[2 * s + 1], &res->harmful_complied[s],
				    &res->harmless_refused[s], e))
			goto out;
		res->kept[s] = k[2 * s].n;
	}
	const struct exset *dh = &k[WO_DIR_HARMFUL], *db = &k[WO_DIR_HARMLESS];
	const struct exset *sh = &k[WO_SEL_HARMFUL], *sb = &k[WO_SEL_HARMLESS];
	if (res->kept[1] &&
	    (wo_refusal_score(m, v, sh, &res->base_refusal, e) ||
	     wo_refusal_score(m, v, sb, &res->base_steering, e) ||
	     refusal_rate(m, v, sh, o->max_gen, &res->sel_refusal_rate[0], e)))
		goto out;
	res->sel_refusal_rate[1] = res->sel_refusal_rate[0];
	rc = 0;
	if (L < 2) {
		res->reason = "a 1-layer model has no block input after the embeddings";
		goto out;
	}
	if (!res->kept[0] || !res->kept[1]) {
		res->reason = "no prompt pair is left after filtering by the base model's behaviour";
		goto out;
	}
	rc = -1;
	res->ncand = wo_ncand(L, res->npost);
	r = malloc(sizeof(float) * (size_t)res->ncand * C);
	base_lp = malloc(sizeof(double) * ((size_t)sb->n * V + 1));
	res->cand = calloc((size_t)res->ncand, sizeof *res->cand);
	if (!r || !base_lp || !res->cand) {
		tl_fail(e, "out of memory");
		goto out;
	}
	tl_progress(0.05, "wo directions");
	if (wo_directions(m, v, dh, db, res->npost, r, e) ||
	    wo_last_logprobs(m, v, sb, base_lp, e))
		goto out;
	for (int i = 0; i < res->ncand; i++) {
		struct wo_cand *c = &res->cand[i];
		c->layer = 1 + i / res->npost;
		c->pos = i % res->npost - res->npost;
		if (wo_score(m, v, r + (size_t)i * C, o, c, sh, sb, base_lp, e))
			goto out;
		wo_filter(c, L, o->kl_max);
		tl_progress(0.1 + 0.8 * (i + 1) / res->ncand, "wo candidates");
	}
	res->chosen = wo_select(res->cand, res->ncand);
	if (res->chosen < 0) {
		res->reason = "every candidate is filtered";
		rc = 0;
		goto out;
	}
	res->rhat = malloc(sizeof(float) * (size_t)C);
	if (!res->rhat) {
		tl_fail(e, "out of memory");
		goto out;
	}
	const struct wo_cand *b = &res->cand[res->chosen];
	for (int c = 0; c < C; c++)
		res->rhat[c] = (float)(r[(size_t)res->chosen * C + c] / b->norm);
	wo_orthogonalize(m, res->rhat, o->edit_embeddings);
	res->max_write = wo_max_write(m, res->rhat, o->edit_embeddings);
	rc = refusal_rate(m, v, sh, o->max_gen, &res->sel_refusal_rate[1], e);
out:
	for (int s = 0; s < WO_NSPLITS; s++)
		free(k[s].ex);
	free(r);
	free(base_lp);
	return rc;
}
