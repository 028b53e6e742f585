/*
 * expand: the parts of the study language that make many entries from few
 * lines, as hooks the loader (study.c) calls while it reads a file:
 *
 *  - `defaults:` at the top level and per section: keys merged into every
 *    entry (the entry's own keys win; params and resources key by key);
 *  - `matrix:` in an entry: one entry per combination of named axes, named
 *    by a `name:` template or NAME-AXISVALUE-...; ${matrix.AXIS} in run,
 *    params and name;
 *  - `vars:` in an entry (or its defaults): named texts for ${vars.X} in run
 *    and params, fixed at load time (in the key only through what they make);
 *  - `seeds:` at the top level and `replicate:` per entry: which entries
 *    run once per seed (plan.c makes the stages).
 *
 * Every error is one loader diagnostic (study.h) pointing at the node that
 * set the offending value, inside a defaults block when it came from there.
 * The language is documented in docs/study-format.md.
 */
#ifndef STUDY_EXPAND_H
#define STUDY_EXPAND_H

#include <stddef.h>
#include "strbuf.h"
#include "study_tree.h"

struct expand *expand_new(void);
void expand_free(struct expand *X);

/* Top-level key k with value v: 1 when k is `defaults` or `seeds` (loaded
 * into the study), 0 when it is neither, -1 after an error. */
int expand_top_key(struct loader *L, const struct node *k, const struct node *v);

/* Section mapping n (already known to be a mapping): loads its `defaults`,
 * checks every entry's `matrix` and sets *count to the number of entries the
 * section makes. -1 after an error. */
int expand_section_count(struct loader *L, enum section sec, const struct node *n,
			 size_t *count);

/* 1 when section key k is the section's `defaults` (not an entry). */
int expand_is_defaults(const struct node *k);

/* For entry k: v with a `matrix`: appends one entry per combination to
 * arr[*nr...] (name, section, position; names checked) and returns how many;
 * 0 when v has no matrix (the caller makes the one entry); -1 after an error. */
long expand_matrix_entries(struct loader *L, enum section sec, const struct node *k,
			   const struct node *v, struct entry *arr, size_t *nr);

/* After a section's names: two entries with one name (a matrix can make a
 * name that another entry has) is an error. */
int expand_check_names(struct loader *L, enum section sec, const struct entry *arr, size_t nr);

/* Entries made by entry value v (1 without a matrix). */
size_t expand_entry_count(const struct node *v);

/* Start loading combination `combo` of entry k (named `name`): returns the
 * node to load (v merged with the defaults that apply), and makes
 * ${matrix.AXIS} and error notes refer to this entry. */
const struct node *expand_begin_entry(struct loader *L, enum section sec, const struct node *k,
				      const struct node *v, size_t combo, const char *name);
void expand_end_entry(struct loader *L);

/* An entry key that expand owns (`matrix`, `name`, `replicate`): 1 when k is
 * one (loaded into e), 0 when not, -1 after an error. */
int expand_entry_key(struct loader *L, struct entry *e, const struct node *k,
		     const struct node *v);

/* ${NAME} (name: the text inside, len bytes) at index `at` of scalar n: when
 * it is matrix.AXIS or vars.X, *text = its value for the entry (combination)
 * being loaded and 1 is returned; 0 for any other variable; -1 after an error. */
int expand_bound_var(struct loader *L, const struct node *n, size_t at, const char *name,
		     size_t len, const char **text);

/* A params scalar: ${matrix.AXIS} and ${vars.X} substituted (the whole value:
 * the bound value, typed; inside text: its text), else as loader_scalar_json. */
cJSON *expand_param_scalar(struct loader *L, const struct node *n);

/* Appends to a message about position p a note naming the entry when p is
 * in a defaults block rather than in the entry being loaded. */
void expand_note(struct loader *L, struct srcpos p, struct strbuf *msg);

/* After every entry: an entry with `replicate: false` must not use a stage
 * that runs once per seed. -1 after an error. */
int expand_check_replicas(struct loader *L);

/* The number of stages the study expands to (exact; seeds included). */
double expand_stage_count(const struct study *st);

#endif
