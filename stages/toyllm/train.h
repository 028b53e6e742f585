/*
 * train: turning text into token sequences and running AdamW training on
 * them. Two kinds of sequence sets: language-model documents (every next
 * token counts) and chat pairs "<user> PROMPT <eoi> <assistant> ANSWER <end>" where
 * only the answer tokens and <end> count. train_run is the one training loop
 * used by pretrain, align and (next) jt / sft: fixed-seed shuffling each epoch,
 * linear warmup then cosine decay to 10% of the peak rate, progress lines.
 */
#ifndef TOYLLM_TRAIN_H
#define TOYLLM_TRAIN_H

#include <stdint.h>

#include "dataset.h"
#include "gpt.h"
#include "vocab.h"

struct seqs {
	int n;
	int *off, *len; /* sequence i is tok[off[i] .. off[i]+len[i]) */
	int *ans;       /* first token index whose prediction counts (1 = all) */
	int *tok;
	int ntok, cap;
};

void seqs_init(struct seqs *s);
void seqs_release(struct seqs *s);
/* Each line becomes "words... <end>". */
int seqs_add_lines(struct seqs *s, const struct vocab *v, char *const *lines, int n,
		   struct tl_err *e);
/* Each example becomes "<user> prompt <eoi> <assistant> answer <end>". */
int seqs_add_chat(struct seqs *s, const struct vocab *v, const struct exset *x, struct tl_err *e);

/* The chat template (its one home): "<user> PROMPT <eoi> <assistant>", then the
 * reply and <end>. The CHAT_POST_INSTRUCTION tokens after the request, <eoi>
 * (end of instruction) and <assistant>, are the template's post-instruction
 * tokens (Arditi et al. 2024 take refusal directions there): in the np ids that
 * chat_prompt_ids returns they sit at positions np - CHAT_POST_INSTRUCTION ..
 * np - 1, i.e. chat_post_instruction_pos(np, j) for j = 0 (<eoi>) and
 * j = 1 (<assistant>); the request's own tokens are 1 .. np - 3. */
enum { CHAT_POST_INSTRUCTION = 2 };
static inline int chat_post_instruction_pos(int np, int j)
{
	return np - CHAT_POST_INSTRUCTION + j;
}
/* Encodes "<user> prompt <eoi> <assistant>" into out (cap ids); returns the
 * length np (>= 1 + CHAT_POST_INSTRUCTION) or -1 when it does not fit. */
int chat_prompt_ids(const struct vocab *v, const char *prompt, int *out, int cap);

struct train_opts {
	double epochs;
	int batch;      /* rows per step */
	int pack;       /* 0: one sequence a row; 1: pack sequences into rows of max_seq;
			 * 2: pack language-model documents, chat examples alone */
	float lr;       /* peak learning rate */
	float wd;       /* weight decay */
	float warmup;   /* share of steps for linear warmup */
	uint64_t seed;  /* shuffling */
	const char *label;        /* progress message */
	double prog_lo, prog_hi; /* progress range this run covers */
};

struct train_result {
	int steps;
	long tokens;      /* counted (target) tokens seen */
	long rows_tokens; /* input positions processed, padding included */
	float first_loss, final_loss; /* mean of the first / last 5% of steps */
};

void train_opts_default(struct train_opts *o);
int train_run(struct gpt *m, const struct seqs *data, const struct train_opts *o,
	      struct train_result *res, struct tl_err *e);
/* Masked mean loss of m over data (no update); batched like training. */
int eval_loss(struct gpt *m, const struct seqs *data, double *loss, struct tl_err *e);

#endif
