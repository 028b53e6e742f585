/*
 * wo: weight orthogonalization after Arditi et al. (2024), "Refusal in
 * language models is mediated by a single direction", following the
 * reference implementation andyrdt/refusal_direction
 * (pipeline/submodules/generate_directions.py, select_direction.py) where
 * the toy model allows; differences are named below and in docs/study.md.
 *
 * Data: matched harmful / harmless prompt pairs (world_wo.c: line i of the
 * harmful file pairs with line i of the harmless file, same template and
 * token length), one pair set for directions, one for selection. A pair is
 * kept only when the base model refuses its harmful prompt and does not
 * refuse its harmless one (the reference's filter_data, judged here on the
 * base model's greedy reply with the study's judge), so both classes keep
 * identical templates and lengths.
 *
 * Candidates: r = mean(harmful) - mean(harmless) of the residual stream at
 * the input of every block l = 1..L-1 (residual point 2l, gpt.h) and every
 * post-instruction template position (CHAT_POST_INSTRUCTION, train.h: <eoi>
 * and <assistant>, the template tokens after the request). Never the embeddings (block 0's input: on a
 * toy model that is a token/position-embedding difference, not a learned
 * representation) and never an instruction token. A 1-layer model therefore
 * has no candidate.
 *
 * Scores (each a mean over the selection prompts, in nats):
 *   refusal  = log-odds log(p + 1e-8) - log(1 - p + 1e-8), p = the
 *              probability that the reply opens with a refusal
 *              (wo_refusal_openings: the openings of the judge's refusal
 *              markers, e.g. "i can not", "i will not", "i do not help", those
 *              the vocabulary can spell; teacher-forced, their
 *              probabilities add since no opening is a prefix of another), on
 *              harmful prompts under the edit that would be saved;
 *   steering = the same log-odds on harmless prompts with r (not
 *              normalised) added to the residual stream at the candidate's
 *              layer input, every position (activation addition);
 *   kl       = KL(base || edited) of the next-token distribution at the last
 *              prompt position on harmless prompts.
 * The reference takes the log-odds of the first refusal token; here the
 * first token "i" also opens "i do not know", so whole openings are scored.
 *
 * The edit (what is scored is what is saved): W <- W - r^ r^T W for every
 * block's attention output and MLP output matrices and their biases (method
 * `wo`, as the orthogonalized models the paper's author saved), and with
 * edit_embeddings also every token and position embedding row (method
 * `wo_emb`, as the reference's orthogonalize_weights). The output head is
 * tied to the token embedding, so in `wo_emb` the head reads the edited
 * embedding as well. For `wo` the edit equals directional ablation of every
 * block output (wo_hook with WO_HOOK_ABLATE_BLOCKS), which the tests check.
 *
 * Filters (each candidate records every filter it fails):
 *   "late layer": layer >= WO_LATE_SHARE * L (the reference drops
 *     layer >= int(0.8 L); the real-valued bound keeps block 1 of a 2-layer
 *     model, the only candidate such a model has, and drops the last block
 *     from L = 5 on);
 *   "kl": kl > WO_KL_MAX; "steering": steering < WO_STEER_MIN;
 *   "zero": r = 0 (no direction to remove) or a score is not finite.
 * Selection: the lowest refusal score among the unfiltered candidates. No
 * fallback: when every candidate is filtered the outcome is "none" and the
 * model is left unchanged.
 */
#ifndef TOYLLM_WO_H
#define TOYLLM_WO_H

#include "dataset.h"
#include "gpt.h"
#include "vocab.h"

#define WO_KL_MAX 0.1     /* reference: kl_threshold */
#define WO_LATE_SHARE 0.8 /* reference: 1 - prune_layer_percentage */
#define WO_STEER_MIN 0.0  /* reference: induce_refusal_threshold */
#define WO_EPS 1e-8	  /* reference: epsilon of refusal_score */
#define WO_MAX_GEN 12	  /* tokens of the base model's reply judged by the filter */

enum wo_filter_bit { WO_F_LATE = 1, WO_F_KL = 2, WO_F_STEER = 4, WO_F_ZERO = 8 };

struct wo_cand {
	int layer; /* read at the input of block `layer` (residual point 2*layer) */
	int pos;   /* post-instruction position counted from the end: -npost..-1 */
	double refusal, steering, kl, norm;
	unsigned filters; /* enum wo_filter_bit */
};

struct wo_opts {
	int edit_embeddings; /* 0 = method wo, 1 = method wo_emb */
	double kl_max;	     /* WO_KL_MAX unless a test asks otherwise */
	int max_gen;	     /* WO_MAX_GEN */
};
void wo_opts_default(struct wo_opts *o);

/* The four prompt files: direction harmful/harmless, selection harmful/harmless. */
enum { WO_DIR_HARMFUL, WO_DIR_HARMLESS, WO_SEL_HARMFUL, WO_SEL_HARMLESS, WO_NSPLITS };
extern const char *const wo_split_files[WO_NSPLITS];

struct wo_result {
	int layers, dim, npost;
	int post_ids[8]; /* the post-instruction template tokens, first to last */
	int pairs[2], kept[2];	       /* direction, selection: pairs written, kept */
	int harmful_complied[2];       /* pairs dropped because the base did not refuse */
	int harmless_refused[2];       /* pairs dropped because the base refused */
	double base_refusal, base_steering; /* scores of the unedited model on the selection pairs */
	int ncand;
	struct wo_cand *cand; /* ncand, layer-major */
	int chosen;	      /* index into cand, or -1: outcome "none" */
	const char *reason;   /* why the outcome is "none" (static string), "" when selected */
	float *rhat;	      /* the chosen unit direction (dim floats), NULL when none */
	double max_write;     /* max |r^T W| over the edited writers after the edit */
	double sel_refusal_rate[2]; /* judged refusal rate on kept selection harmful: base, saved */
};
void wo_result_release(struct wo_result *r);

/* Number of candidates of a model with `layers` blocks and npost
 * post-instruction tokens: (layers - 1) * npost. */
int wo_ncand(int layers, int npost);
/* 1 when block `layer` is in the last (1 - WO_LATE_SHARE) of the depth. */
int wo_late(int layer, int layers);
/* Sets c->filters from its scores, layer and norm (kl_max: the KL bound). */
void wo_filter(struct wo_cand *c, int layers, double kl_max);
/* Index of the unfiltered candidate with the lowest refusal score (ties: the
 * first), or -1 when every candidate is filtered. */
int wo_select(const struct wo_cand *c, int n);
/* "late layer, kl" etc.: the names of the filters in bits, comma-separated. */
void wo_filter_names(unsigned bits, struct sbuf *out);

/* The pairs of (harmful, harmless) whose harmful prompt the model refuses and
 * whose harmless prompt it does not (greedy reply, max_gen tokens, judged by
 * the study's judge), as views kh / kb: their ex arrays are allocated (the
 * caller frees kh->ex and kb->ex, never exset_release), the examples borrowed.
 * *complied / *refused count the pairs dropped for each reason (a pair can
 * count in both). */
int wo_filter_pairs(struct gpt *m, const struct vocab *v, const struct exset *harmful,
		    const struct exset *harmless, int max_gen, struct exset *kh, struct exset *kb,
		    int *complied, int *refused, struct tl_err *e);

/* Mean differences r[((layer-1)*npost + (npost+pos)) * C + c] for layer
 * 1..L-1 and pos -npost..-1; ((L-1)*npost*C floats). */
int wo_directions(struct gpt *m, const struct vocab *v, const struct exset *harmful,
		  const struct exset *harmless, int npost, float *r, struct tl_err *e);

/* Refusal openings, NULL-terminated; the first is WORLD_REFUSAL_PREFIX and
 * must be in the vocabulary, the others are skipped when they are not. */
extern const char *const wo_refusal_openings[];
/* The ids of an opening (at most cap), or -1 when a word is not in v. */
int wo_opening_ids(const struct vocab *v, const char *opening, int *ids, int cap);
/* Mean over x of the log-odds of a refusal opening (see above), with
 * whatever hook m has set. */
int wo_refusal_score(struct gpt *m, const struct vocab *v, const struct exset *x,
		     double *score, struct tl_err *e);
/* Next-token log-probabilities at the last prompt position, (x->n, V). */
int wo_last_logprobs(struct gpt *m, const struct vocab *v, const struct exset *x, double *lp,
		     struct tl_err *e);
/* Mean over rows of KL(p || q) for (n, V) log-probabilities. */
double wo_kl(const double *lp, const double *lq, int n, int V);

/* Scores candidate c with raw direction r (C floats) on the selection pairs;
 * base_lp: wo_last_logprobs of the unedited m on sel_harmless. */
int wo_score(struct gpt *m, const struct vocab *v, const float *r, const struct wo_opts *o,
	     struct wo_cand *c, const struct exset *sel_harmful, const struct exset *sel_harmless,
	     const double *base_lp, struct tl_err *e);

/* The whole method on model m (edited in place when the outcome is
 * "selected", untouched when "none"); splits: wo_split_files' sets. res is
 * filled either way; -1 only on errors (unmatched pairs, context, memory). */
int wo_run(struct gpt *m, const struct vocab *v, const struct exset splits[WO_NSPLITS],
	   const struct wo_opts *o, struct wo_result *res, struct tl_err *e);

/* Forward hook (gpt_resid_hook) of the interventions, in the paper's terms. */
enum wo_hook_mode {
	WO_HOOK_NONE,
	WO_HOOK_ABLATE_BLOCKS, /* remove r^ from every block's output (what `wo` saves) */
	WO_HOOK_ABLATE_ALL,    /* remove r^ from the stream at every point, embeddings too */
};
struct wo_hook {
	enum wo_hook_mode mode;
	const float *rhat; /* unit direction for ablation */
	const float *add;  /* vector added at add_point (every position), or NULL */
	int add_point;
	double c0; /* r^ component of the current position's embedding (ABLATE_BLOCKS) */
};
void wo_hook_fn(void *ctx, int point, int pos, float *x, int C);

/* W <- W - r^ r^T W on the output side of attprojw and fcprojw, the biases
 * attprojb and fcprojb, and with edit_embeddings every row of wte and wpe. */
void wo_orthogonalize(struct gpt *m, const float *rhat, int edit_embeddings);
/* max |r^T W| over the outputs of the writers wo_orthogonalize edits. */
double wo_max_write(struct gpt *m, const float *rhat, int edit_embeddings);

/* wo.json (format toyllm-wo, version 1) for res, with fixed number formats. */
void wo_json(const struct wo_result *res, const struct wo_opts *o, const struct vocab *v,
	     struct sbuf *out);

#endif
