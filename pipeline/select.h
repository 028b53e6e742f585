/*
 * select: which stages of a plan a command acts on (`study run`, `status`,
 * `dag` given targets), and which of them `run --force` reruns.
 *
 * A target is a stage id or a glob over stage ids, matched with fnmatch(3)
 * without FNM_PATHNAME, so `*` and `?` also match '/' (examples in
 * docs/cli.md: all evaluations of a model, every stage of m3). The selection is the stages the targets match
 * plus everything they need: their dependencies, transitively. No target
 * selects the whole plan. Forced stages (--force PATTERN, same matching) are
 * part of the selection too; with --force-downstream every selected stage
 * downstream of a forced one is forced as well. Every pattern must match at
 * least one stage: one that matches none is an error naming it, with the
 * nearest id or group glob (a prefix of ids, then a star) as a hint.
 * docs/cli.md documents the rules.
 */
#ifndef STUDY_SELECT_H
#define STUDY_SELECT_H

#include <stddef.h>
#include "plan.h"
#include "strbuf.h"

struct select_spec {
	char *const *targets; /* patterns; none: the whole plan */
	size_t targets_nr;
	char *const *force;   /* patterns of stages to rerun even when cached */
	size_t force_nr;
	int force_downstream; /* also force what is downstream of them */
};

struct selection {
	char *on;         /* per stage of the plan: 1 when selected */
	size_t nr;        /* how many are */
	char *forced;     /* per stage: 1 when forced (always allocated) */
	size_t forced_nr;
	int partial;      /* 1 when targets were given (nr may still be the plan's) */
};

/* Fill `sel` (release with selection_release). Returns 0, or -1 with
 * "target 'X' matches no stage of the study; did you mean 'Y'?" (or
 * "--force 'X' ...") in err and nothing to release: the first pattern that
 * matches no stage. */
int select_stages(const struct plan *p, const struct select_spec *spec, struct selection *sel,
		  struct strbuf *err);
void selection_release(struct selection *sel);
/* Per external input of the plan (p->externals_nr flags, malloc'd; free()):
 * 1 when a selected stage reads it; every input when no targets were given
 * (a study's every declared input is imported and its pin checked). */
char *selection_inputs(const struct plan *p, const struct selection *sel);

/* 1 when `id` matches target `pattern` (see above). */
int select_match(const char *pattern, const char *id);

/* The hint for a pattern that matches no stage: the pattern with "@" and a
 * star appended when it names a stage's replicates (`model/m1`, with seeds:
 * `model/m1@seed1`, ...), else with "/" and a
 * star appended when it names a group of ids (`eval/refusal`), else the
 * stage id or group glob (`eval/`, then a star) nearest in edit distance (transpositions count one), if it is within
 * 1 + length/5 edits. Appends it to `out`; nothing when there is none. */
void select_suggest(const struct plan *p, const char *pattern, struct strbuf *out);

#endif
