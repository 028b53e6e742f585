/*
 * vocab: the word-level tokenizer. A vocabulary is an ordered list of words
 * (vocab.txt, one per line); a word's id is its line number. Ids 0..5 are the
 * special tokens <pad> <user> <assistant> <end> <unk> <eoi> (<eoi>: end of
 * instruction, the first of the chat template's post-instruction tokens, train.h). Text is split on
 * single spaces; words not in the vocabulary become <unk>. The vocabulary's
 * digest (FNV-1a-64 of vocab.txt's bytes) is stored in every model file.
 */
#ifndef TOYLLM_VOCAB_H
#define TOYLLM_VOCAB_H

#include <stdint.h>

#include "util.h"

enum { TOK_PAD = 0, TOK_USER, TOK_ASSISTANT, TOK_END, TOK_UNK, TOK_EOI, TOK_NSPECIAL };

struct vocab {
	int n;
	char **words;
	int *table; /* open addressing: word id + 1, 0 = empty */
	int tcap;
	uint64_t digest;
};

/* Parses vocab.txt content (one word per line, words unique, specials first). */
int vocab_parse(struct vocab *v, const char *text, struct tl_err *e);
int vocab_load(struct vocab *v, const char *path, struct tl_err *e);
void vocab_release(struct vocab *v);
/* Id of a word (len bytes) or -1. */
int vocab_find(const struct vocab *v, const char *w, int len);
/* Encodes space-separated text, appending at most cap ids to out; returns the
 * number of words in the text (may exceed cap). */
int vocab_encode(const struct vocab *v, const char *text, int *out, int cap);
/* Appends the words of ids[0..n) separated by spaces. */
void vocab_decode(const struct vocab *v, const int *ids, int n, struct sbuf *out);
/* vocab.txt content for v (caller releases the sbuf). */
void vocab_serialize(const struct vocab *v, struct sbuf *out);

#endif
