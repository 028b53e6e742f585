/*
 * dataset: reading the world's files. A split is a JSON-lines file of flat
 * objects whose values are strings (the world writes only lowercase words,
 * digits, spaces and ":?." inside strings, but the reader handles \" \\ \n
 * escapes). Known keys: id, kind, entity, cluster, prompt, answer, target;
 * other keys are ignored. "cluster" is the unit of dependence between items
 * (the entity the item asks about; items of one cluster share it), for
 * bootstraps over clusters; a line without it gets its entity as cluster. The corpus and eval_text are plain text, one document a line.
 */
#ifndef TOYLLM_DATASET_H
#define TOYLLM_DATASET_H

#include "util.h"

struct example {
	char *id, *kind, *entity, *prompt, *answer, *target; /* absent keys are "" */
	char *cluster; /* absent: a copy of entity */
};

struct exset {
	int n;
	struct example *ex;
};

/* Parses JSON-lines text; errors name the line. */
int exset_parse(struct exset *s, const char *text, const char *name, struct tl_err *e);
/* Loads dir/name. */
int exset_load(struct exset *s, const char *dir, const char *name, struct tl_err *e);
void exset_release(struct exset *s);

struct lines {
	int n;
	char **line;
	char *buf;
};
/* Loads dir/name as non-empty lines. */
int lines_load(struct lines *l, const char *dir, const char *name, struct tl_err *e);
void lines_release(struct lines *l);

/* Appends s as a JSON string literal (with quotes). */
void json_str(struct sbuf *sb, const char *s);

#endif
