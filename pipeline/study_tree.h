/*
 * study_tree: the loader's private interface between study.c (YAML -> node
 * tree -> struct study) and expand.c (defaults, matrices, seeds). Nothing
 * outside those two files includes it.
 *
 * The node tree is what libyaml's events build: every node knows where it
 * starts and ends in the file, so an error about a value points at the line
 * and column that set it, wherever the value is used (a default merged into
 * many entries keeps its own position).
 */
#ifndef STUDY_STUDY_TREE_H
#define STUDY_STUDY_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "study.h"

enum node_kind { NODE_SCALAR, NODE_SEQ, NODE_MAP };

/* Nodes, their values and child arrays live in the loader's tree arena, freed at once. */
struct node {
	unsigned char kind;     /* enum node_kind */
	unsigned char plain;    /* scalar written without quotes or block style */
	union {
		uint32_t len;   /* scalar: value length */
		uint32_t nr;    /* collection: number of kids */
	};
	struct srcpos pos;      /* start of the node */
	struct srcpos end;      /* end of the node */
	union {
		char *val;      /* scalar: value (NUL-terminated) */
		struct node **kids; /* sequence items, or key, value, key, value... */
	};
};

struct loader;
struct expand; /* expand.c's state for one load */

/* Report an error at p (see study.h for the format); always returns -1. */
int loader_fail(struct loader *L, struct srcpos p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A mapping or sequence node with room for nr kids (zeroed), in the tree arena. */
struct node *loader_new_node(struct loader *L, enum node_kind kind, size_t nr,
			     struct srcpos pos, struct srcpos end);
/* Zeroed memory in the study's arena (lives as long as the struct study). */
void *loader_st_alloc(struct loader *L, size_t n);
char *loader_st_strdup(struct loader *L, const char *s);
struct study *loader_study(struct loader *L);
struct expand *loader_expand(struct loader *L);
/* Position of the '$' at index i of a scalar's value. */
struct srcpos loader_dollar_pos(struct loader *L, const struct node *n, size_t i);
/* "a scalar", "a sequence", "a mapping" */
const char *loader_kind_name(const struct node *n);
/* A params scalar as cJSON (YAML 1.2 core schema); NULL when an error was reported. */
cJSON *loader_scalar_json(struct loader *L, const struct node *n);
/* Digits only, no sign, value <= max: 0 and *out set, else -1. */
int loader_parse_uint(const char *s, unsigned long long max, unsigned long long *out);
/* The section's name as written in the file ("models"). */
const char *loader_section_name(enum section sec);

#endif
