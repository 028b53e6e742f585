/*
 * wo_refuser: a hand-built "aligned" model for the WO tests, small enough
 * to reason about. Tokens are one-hot (dim = token id); "toxin" also carries
 * +1 and "soup" -1 on dim F. Block 0: uniform attention (q = k = 0) copies
 * the mean over positions of layernorm(x)[F] to dim F2; its MLP is a
 * lookup table: at <assistant>, unit A fires when F2 > 0 and writes "i",
 * unit B fires when F2 < 0 and writes "mix"; the chain units write the next
 * word of "i can not help with that" <end> after each of its words, and
 * <end> after "mix". Blocks
 * 1.. are zero (they add nothing). So the model refuses "make X toxin" and
 * answers "mix" to "make X soup", and the refusal is carried by one
 * residual direction (F2, plus what the MLP writes at <assistant>).
 */
#ifndef WO_REFUSER_H
#define WO_REFUSER_H

#include <string.h>

#include "dataset.h"
#include "gpt.h"
#include "vocab.h"

static const char refuser_vocab[] =
	"<pad>\n<user>\n<assistant>\n<end>\n<unk>\n<eoi>\n"
	"i\ncan\nnot\nwill\nhelp\nwith\nthat\nmake\ntoxin\nsoup\nmix\nbazo\nkuda\nlomi\npeta\n";
enum { R_I = 6, R_CAN, R_NOT, R_WILL, R_HELP, R_WITH, R_THAT, R_MAKE, R_TOXIN, R_SOUP, R_MIX };
enum { R_C = 32, R_F = 30, R_F2 = 31 };

/* pairs: direction "make bazo|kuda X", selection "make lomi|peta X" */
static const char *const refuser_splits[4] = {
	"{\"prompt\": \"make bazo toxin\"}\n{\"prompt\": \"make kuda toxin\"}\n",
	"{\"prompt\": \"make bazo soup\"}\n{\"prompt\": \"make kuda soup\"}\n",
	"{\"prompt\": \"make lomi toxin\"}\n{\"prompt\": \"make peta toxin\"}\n",
	"{\"prompt\": \"make lomi soup\"}\n{\"prompt\": \"make peta soup\"}\n",
};

/* One MLP unit of block 0: pre = sum_k w[k] * ln2(x)[dim[k]] + b; writes
 * gain * (e_to - e_from) (from < 0: only e_to). */
static void refuser_unit(struct gpt *m, int h, const int *dim, const float *w, int nk, float b,
			 int to, int from, float gain)
{
	const int C = m->cfg.dim;
	for (int k = 0; k < nk; k++)
		m->params.fcw[(size_t)h * C + dim[k]] = w[k];
	m->params.fcb[h] = b;
	m->params.fcprojw[(size_t)to * 4 * C + h] = gain;
	if (from >= 0)
		m->params.fcprojw[(size_t)from * 4 * C + h] = -gain;
}

/* Builds the model with `layers` blocks (>= 1); 0 or -1 with e filled. */
static int refuser_build(struct gpt *m, struct vocab *v, int layers, struct tl_err *e)
{
	if (vocab_parse(v, refuser_vocab, e))
		return -1;
	struct gpt_config cfg = {v->n, 16, layers, R_C, 1};
	if (gpt_build(m, &cfg, e))
		return -1;
	m->tok_digest = v->digest;
	const int C = R_C;
	struct gpt_params *p = &m->params;
	for (int t = 0; t < v->n; t++)
		p->wte[(size_t)t * C + t] = 1;
	p->wte[(size_t)R_TOXIN * C + R_F] = 1;
	p->wte[(size_t)R_SOUP * C + R_F] = -1;
	/* block 0 attention: v[F] = ln1(x)[F]; out[F2] = mean v[F] */
	p->qkvw[(size_t)(2 * C + R_F) * C + R_F] = 1;
	p->attprojw[(size_t)R_F2 * C + R_F] = 1;
	/* block 0 MLP */
	const int da[2] = {TOK_ASSISTANT, R_F2};
	refuser_unit(m, 0, da, (const float[]){2, 2}, 2, -12, R_I, -1, 2);
	refuser_unit(m, 1, da, (const float[]){2, -2}, 2, -12, R_MIX, -1, 2);
	const int chain[7] = {R_I, R_CAN, R_NOT, R_HELP, R_WITH, R_THAT, TOK_END};
	for (int k = 0; k + 1 < 7; k++)
		refuser_unit(m, 2 + k, &chain[k], (const float[]){2}, 1, -4, chain[k + 1], chain[k],
			     6);
	const int dm[1] = {R_MIX};
	refuser_unit(m, 9, dm, (const float[]){2}, 1, -4, TOK_END, R_MIX, 6);
	return 0;
}

static int refuser_splits_parse(struct exset s[4], struct tl_err *e)
{
	static const char *const names[4] = {"dir harmful", "dir harmless", "sel harmful",
					     "sel harmless"};
	memset(s, 0, sizeof(struct exset) * 4);
	for (int i = 0; i < 4; i++)
		if (exset_parse(&s[i], refuser_splits[i], names[i], e))
			return -1;
	return 0;
}

#endif
