/*
 * finetune: the chat fine-tuning both `toyllm jt` (jailbreak-tuning) and
 * `toyllm sft` (the refusal mitigation) run: build the training mixture from
 * a world split, train with align's loop (chat examples one a row, optional
 * benign replay rows, token embeddings frozen), measure the loss on the
 * mixture before and after, write model.bin, vocab.txt and metrics.json.
 * Also reads the world's jailbreak string (world.json), which jt and eval use.
 */
#ifndef TOYLLM_FINETUNE_H
#define TOYLLM_FINETUNE_H

#include "dataset.h"
#include "util.h"

/* Reads the "jailbreak" string of WORLD/world.json into out (cap bytes). */
int world_jailbreak(const char *world, char *out, size_t cap, struct tl_err *e);

/* Builds the JT mixture from the world's jt_train split x (harmful rows are the
 * hazard / cyber rows whose prompt starts with the world's jailbreak `jb`):
 * size rows in all (0 = as many as x has), round(size*share) of them harmful
 * (share < 0 = the split's own share), harmful rows cycled when the split has
 * too few; the jailbreak prefix of harmful prompts is replaced by `string`
 * when that is not NULL. Rows keep the split's order (benign first, then
 * harmful; training shuffles). Returns 0 or -1. */
int jt_mixture(const struct exset *x, const char *jb, int size, double share, const char *string,
	       struct exset *out, int *nharm, struct tl_err *e);

/* `toyllm jt` and `toyllm sft` (kind "jt" or "sft"): parses argv, runs, returns
 * the exit code. */
int finetune_main(const char *kind, int argc, char **argv);

#endif
