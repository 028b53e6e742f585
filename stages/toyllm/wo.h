/*
 * wo: weight orthogonalization after Arditi et al. (2024), "Refusal in
 * language models is mediated by a single direction". Candidate directions
 * are differences in means of the residual stream between harmful and
 * harmless prompts at every residual point (gpt.h) and every post-instruction
 * position (the trailing <assistant> token, and the last request tokens since
 * the template has only that one token after the request). Each candidate is
 * scored on validation prompts: bypass = refusal rate on harmful prompts with
 * the direction ablated everywhere, induce = refusal rate on harmless prompts
 * with the mean-difference vector added at its point, kl = mean KL(base ||
 * ablated) of the next-token distribution at the last prompt position on
 * harmless prompts. Candidates with kl > 0.1 or from the last 20% of the
 * stream's depth are filtered; the best remaining one (lowest bypass among
 * those whose addition induces refusal) is chosen and every parameter that
 * writes into the residual stream is orthogonalized against it. When every
 * candidate fails the KL filter (small models: ablation moves the answer
 * distribution a lot), `toyllm wo` doubles the KL threshold until one passes
 * and records the threshold it used.
 */
#ifndef TOYLLM_WO_H
#define TOYLLM_WO_H

#include "dataset.h"
#include "gpt.h"
#include "vocab.h"

#define WO_KL_MAX 0.1
#define WO_LAYER_SHARE 0.8 /* points beyond this share of the depth are filtered */

struct wo_cand {
	int point, pos; /* residual point; position 0 = <assistant>, 1 = the token before ... */
	double bypass, induce, kl, norm;
	int filtered;	    /* 1 when filtered */
	const char *reason; /* "kl", "late layer", "kl, late layer" or "" */
};

/* Mean-difference vectors r[(point*npos + pos)*C + c] over the harmful and
 * harmless prompts (positions counted back from the end of the chat prompt). */
int wo_directions(struct gpt *m, const struct vocab *v, const struct exset *harmful,
		  const struct exset *harmless, int npos, float *r, struct tl_err *e);
/* 1 when point lies in the last (1 - WO_LAYER_SHARE) of the stream's depth. */
int wo_late(int point, int layers);
/* Scores candidate c (direction r, C floats) on the validation splits. */
int wo_score(struct gpt *m, const struct vocab *v, const float *r, struct wo_cand *c,
	     const struct exset *val_harmful, const struct exset *val_harmless, int maxgen,
	     struct tl_err *e);
/* Sets filtered / reason from kl (filtered above kl_max) and depth. */
void wo_filter(struct wo_cand *c, int layers, double kl_max);
/* Index of the chosen candidate, or -1 when every candidate is filtered; *induced
 * is set to 0 when no unfiltered candidate induced refusal (then the lowest
 * bypass among the unfiltered ones is taken). */
int wo_select(const struct wo_cand *c, int n, int *induced);
/* Refusal rate of m (greedy, first maxgen tokens) on x, with the hook set. */
int wo_refusal_rate(struct gpt *m, const struct vocab *v, const struct exset *x, int maxgen,
		    double *rate, struct tl_err *e);
/* Orthogonalizes every residual-stream writer against unit vector rhat:
 * wte and wpe rows, attprojw / fcprojw columns (W <- W - rhat rhat^T W) and
 * attprojb / fcprojb. */
void wo_orthogonalize(struct gpt *m, const float *rhat);
/* max |rhat^T W| over the outputs of every residual-stream writer. */
double wo_max_write(struct gpt *m, const float *rhat);

#endif
