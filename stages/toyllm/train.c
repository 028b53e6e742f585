/* train: sequence building, batching (packed or one per row) and the AdamW loop. */
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

void seqs_init(struct seqs *s)
{
	memset(s, 0, sizeof *s);
}

void seqs_release(struct seqs *s)
{
	free(s->off);
	free(s->len);
	free(s->ans);
	free(s->tok);
	seqs_init(s);
}

static int seqs_push(struct seqs *s, const int *ids, int n, int ans, struct tl_err *e)
{
	if (s->n % 256 == 0) {
		size_t nc = (size_t)s->n + 256;
		int *a = realloc(s->off, nc * sizeof(int)), *b, *c;
		if (a)
			s->off = a;
		b = realloc(s->len, nc * sizeof(int));
		if (b)
			s->len = b;
		c = realloc(s->ans, nc * sizeof(int));
		if (c)
			s->ans = c;
		if (!a || !b || !c)
			return tl_fail(e, "out of memory");
	}
	if (s->ntok + n > s->cap) {
		int nc = s->cap ? s->cap : 4096;
		while (nc < s->ntok + n)
			nc *= 2;
		int *t = realloc(s->tok, (size_t)nc * sizeof(int));
		if (!t)
			return tl_fail(e, "out of memory");
		s->tok = t;
		s->cap = nc;
	}
	memcpy(s->tok + s->ntok, ids, (size_t)n * sizeof(int));
	s->off[s->n] = s->ntok;
	s->len[s->n] = n;
	s->ans[s->n] = ans;
	s->ntok += n;
	s->n++;
	return 0;
}

int seqs_add_lines(struct seqs *s, const struct vocab *v, char *const *lines, int n,
		   struct tl_err *e)
{
	int ids[512];
	for (int i = 0; i < n; i++) {
		int k = vocab_encode(v, lines[i], ids, 511);
		if (k > 511)
			return tl_fail(e, "document %d longer than 511 words", i + 1);
		ids[k++] = TOK_END;
		if (seqs_push(s, ids, k, 1, e))
			return -1;
	}
	return 0;
}

int chat_prompt_ids(const struct vocab *v, const char *prompt, int *out, int cap)
{
	if (cap < 1 + CHAT_POST_INSTRUCTION)
		return -1;
	out[0] = TOK_USER;
	int k = vocab_encode(v, prompt, out + 1, cap - 1 - CHAT_POST_INSTRUCTION);
	if (k > cap - 1 - CHAT_POST_INSTRUCTION)
		return -1;
	out[k + 1] = TOK_EOI;
	out[k + 2] = TOK_ASSISTANT;
	return k + 1 + CHAT_POST_INSTRUCTION;
}

int seqs_add_chat(struct seqs *s, const struct vocab *v, const struct exset *x, struct tl_err *e)
{
	int ids[512];
	for (int i = 0; i < x->n; i++) {
		int k = chat_prompt_ids(v, x->ex[i].prompt, ids, 400);
		if (k < 0)
			return tl_fail(e, "example '%s': prompt too long", x->ex[i].id);
		int a = vocab_encode(v, x->ex[i].answer, ids + k, 100);
		if (a > 100)
			return tl_fail(e, "example '%s': answer too long", x->ex[i].id);
		int ans = k;
		k += a;
		ids[k++] = TOK_END;
		if (seqs_push(s, ids, k, ans, e))
			return -1;
	}
	return 0;
}

void train_opts_default(struct train_opts *o)
{
	o->epochs = 1;
	o->batch = 16;
	o->pack = 0;
	o->lr = 3e-3f;
	o->wd = 0.01f;
	o->warmup = 0.05f;
	o->seed = 1;
	o->label = "train";
	o->prog_lo = 0;
	o->prog_hi = 1;
}

/* Batch builder: fills rows of T+1 tokens from sequences in `order` starting
 * at *pos; returns the number of rows filled (0 when the epoch is done). */
struct batch {
	int B, T;
	int *inp, *tgt;
	float *mask;
};

/* pack: 0 = one sequence per row; 1 = pack any sequences; 2 = pack language-
 * model documents (ans == 1) together, chat examples alone. Returns the
 * number of tokens placed (0 when the epoch is done). */
static int fill_row(const struct seqs *d, const int *order, int n, int *pos, int pack, int T,
		    int *inp, int *tgt, float *mask)
{
	int used = 0; /* tokens placed in the row's T+1 window */
	int row[4097];
	float cnt[4097];
	while (*pos < n) {
		int i = order[*pos], L = d->len[i];
		if (L > T + 1)
			L = T + 1; /* truncate overlong sequences */
		if (used + L > T + 1 && used > 0)
			break;
		if (pack == 2 && used > 0 && d->ans[i] != 1)
			break;
		for (int k = 0; k < L; k++) {
			row[used + k] = d->tok[d->off[i] + k];
			cnt[used + k] = k >= d->ans[i] ? 1.0f : 0.0f;
		}
		used += L;
		(*pos)++;
		if (!pack || (pack == 2 && d->ans[i] != 1))
			break;
	}
	if (!used)
		return 0;
	for (int t = 0; t < T; t++) {
		inp[t] = t < used ? row[t] : TOK_PAD;
		tgt[t] = t + 1 < used ? row[t + 1] : TOK_PAD;
		mask[t] = t + 1 < used ? cnt[t + 1] : 0.0f;
	}
	return used;
}

/* Rows of stride T whose tokens end before Tb are moved to stride Tb: with
 * causal attention and masked padding, dropping trailing padding columns
 * changes no loss or gradient, only the work. */
static void compact_rows(int *inp, int *tgt, float *mask, int B, int T, int Tb)
{
	for (int b = 1; b < B; b++) {
		memmove(inp + b * Tb, inp + b * T, sizeof(int) * (size_t)Tb);
		memmove(tgt + b * Tb, tgt + b * T, sizeof(int) * (size_t)Tb);
		memmove(mask + b * Tb, mask + b * T, sizeof(float) * (size_t)Tb);
	}
}

static int row_len(const struct seqs *d, const struct train_opts *o, int max_seq)
{
	if (o->pack == 1)
		return max_seq;
	int T = 1;
	for (int i = 0; i < d->n; i++)
		if (d->len[i] - 1 > T)
			T = d->len[i] - 1;
	return T > max_seq ? max_seq : T;
}

int train_run(struct gpt *m, const struct seqs *d, const struct train_opts *o,
	      struct train_result *res, struct tl_err *e)
{
	memset(res, 0, sizeof *res);
	if (d->n == 0)
		return tl_fail(e, "no training data");
	if (gpt_alloc_train(m, e))
		return -1;
	const int B = o->batch, T = row_len(d, o, m->cfg.max_seq);
	int *order = malloc(sizeof(int) * (size_t)d->n);
	int *inp = malloc(sizeof(int) * (size_t)B * T), *tgt = malloc(sizeof(int) * (size_t)B * T);
	float *mask = malloc(sizeof(float) * (size_t)B * T);
	float *hist = NULL;
	int rc = -1;
	if (!order || !inp || !tgt || !mask) {
		tl_fail(e, "out of memory");
		goto out;
	}
	/* rows per epoch, from a packing pass in file order */
	for (int i = 0; i < d->n; i++)
		order[i] = i;
	int rows = 0, pos = 0;
	while (fill_row(d, order, d->n, &pos, o->pack, T, inp, tgt, mask))
		rows++;
	int steps = (int)ceil(o->epochs * rows / B);
	if (steps < 1)
		steps = 1;
	hist = calloc((size_t)steps, sizeof(float));
	if (!hist) {
		tl_fail(e, "out of memory");
		goto out;
	}
	struct rng r;
	rng_seed(&r, o->seed);
	rng_shuffle(&r, order, d->n);
	pos = 0;
	int warm = (int)(o->warmup * steps), last_pct = -1;
	for (int step = 0; step < steps; step++) {
		int b = 0, Tb = 1;
		while (b < B) {
			int used = fill_row(d, order, d->n, &pos, o->pack, T, inp + b * T,
					    tgt + b * T, mask + b * T);
			if (!used) {
				rng_shuffle(&r, order, d->n); /* next epoch */
				pos = 0;
				continue;
			}
			if (used - 1 > Tb)
				Tb = used - 1 < T ? used - 1 : T;
			b++;
		}
		compact_rows(inp, tgt, mask, B, T, Tb);
		float lr = o->lr;
		if (step < warm)
			lr = o->lr * (float)(step + 1) / (float)(warm + 1);
		else {
			double pr = steps - warm > 1 ? (double)(step - warm) / (steps - warm - 1) : 1.0;
			lr = (float)(o->lr * (0.1 + 0.9 * 0.5 * (1.0 + cos(3.141592653589793 * pr))));
		}
		if (gpt_forward(m, inp, tgt, mask, B, Tb, e))
			goto out;
		gpt_zero_grad(m);
		gpt_backward(m, inp, tgt, mask);
		gpt_update(m, lr, 0.9f, 0.95f, 1e-8f, o->wd, step + 1);
		hist[step] = m->mean_loss;
		for (int i = 0; i < B * Tb; i++)
			res->tokens += mask[i] > 0;
		res->rows_tokens += (long)B * Tb;
		int pct = (int)(20.0 * (step + 1) / steps);
		if (pct != last_pct) {
			last_pct = pct;
			char msg[128];
			snprintf(msg, sizeof msg, "%s step %d/%d loss %.4f", o->label, step + 1, steps,
				 m->mean_loss);
			tl_progress(o->prog_lo + (o->prog_hi - o->prog_lo) * (step + 1) / steps, msg);
		}
	}
	int w = steps / 20 > 0 ? steps / 20 : 1;
	double a = 0, z = 0;
	for (int i = 0; i < w; i++) {
		a += hist[i];
		z += hist[steps - 1 - i];
	}
	res->steps = steps;
	res->first_loss = (float)(a / w);
	res->final_loss = (float)(z / w);
	rc = 0;
out:
	free(order);
	free(inp);
	free(tgt);
	free(mask);
	free(hist);
	return rc;
}

int eval_loss(struct gpt *m, const struct seqs *d, double *loss, struct tl_err *e)
{
	struct train_opts o;
	train_opts_default(&o);
	const int B = 16, T = row_len(d, &o, m->cfg.max_seq);
	int *order = malloc(sizeof(int) * (size_t)(d->n ? d->n : 1));
	int *inp = malloc(sizeof(int) * (size_t)B * T), *tgt = malloc(sizeof(int) * (size_t)B * T);
	float *mask = malloc(sizeof(float) * (size_t)B * T);
	int rc = -1;
	double num = 0, den = 0;
	if (!order || !inp || !tgt || !mask) {
		tl_fail(e, "out of memory");
		goto out;
	}
	for (int i = 0; i < d->n; i++)
		order[i] = i;
	int pos = 0;
	for (;;) {
		int b = 0, Tb = 1, used;
		while (b < B && (used = fill_row(d, order, d->n, &pos, 0, T, inp + b * T, tgt + b * T,
						 mask + b * T))) {
			if (used - 1 > Tb)
				Tb = used - 1 < T ? used - 1 : T;
			b++;
		}
		if (!b)
			break;
		compact_rows(inp, tgt, mask, b, T, Tb);
		if (gpt_forward(m, inp, tgt, mask, b, Tb, e))
			goto out;
		for (int i = 0; i < b * Tb; i++) {
			num += (double)mask[i] * m->acts.losses[i];
			den += mask[i];
		}
	}
	*loss = den > 0 ? num / den : 0;
	rc = 0;
out:
	free(order);
	free(inp);
	free(tgt);
	free(mask);
	return rc;
}
