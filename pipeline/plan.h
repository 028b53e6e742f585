/*
 * plan: the expansion of a validated study into the stage DAG.
 *
 * Stages, in this stable order: data/NAME (declaration order), then per model
 * (declaration order): model/M, method/X/M for each method, mitigation/Y/X/M
 * for each mitigation Y and each X in its `after`, eval/E/M/VARIANT for each
 * evaluation and each variant (base, X, X+Y in that order), and finally
 * `report`. Variants of a model: "base", each method name, "method+mitigation".
 *
 * With `seeds:` (study.seeds), an entry that replicates (every entry unless
 * `replicate: false`) makes one stage per seed where it would make one, in
 * seed order, its id suffixed "@seedN" (model/m1@seed3); its inputs are the
 * same seed's stages (or the one stage of an entry that runs once). The
 * report stays one stage and receives every seed's evaluations.
 *
 * A stage's inputs are exactly the outputs its run template references:
 * ${model}, ${model.base}, ${data.NAME}, ${evaluations}, and the external
 * inputs it names, ${inputs.NAME}. Dependencies follow from the stage inputs;
 * external inputs are not stages (they are imported, not run, before the
 * first stage starts: extinput.h) and are no dependency. The plan borrows the
 * study (which must outlive it).
 *
 * One index space covers both kinds of input: a stage_input's `stage` below
 * p->nr is a stage; p->nr + i is external input i (p->externals[i], node id
 * "input/NAME"). plan_node_id() names either.
 */
#ifndef STUDY_PLAN_H
#define STUDY_PLAN_H

#include <stddef.h>
#include "study.h"

enum stage_kind { SK_DATA, SK_MODEL, SK_METHOD, SK_MITIGATION, SK_EVAL, SK_REPORT };

struct stage_input {
	char *name;   /* "model", "model.base", "data.world", "evaluations[3]", "inputs.NAME" */
	size_t stage; /* index of the producing stage, or p->nr + i for external input i */
};

/* An external input (the study's `inputs:`), a node of the DAG that is
 * imported into the store rather than executed. */
struct plan_external {
	char *id;                        /* "input/NAME" */
	const struct study_input *input; /* borrowed from the study */
};

struct stage {
	char *id;
	enum stage_kind kind;
	const struct entry *entry;
	/* names (borrowed from the study) or NULL where not applicable */
	const char *model, *method, *mitigation, *evaluation;
	char *variant;           /* "base", "wo", "wo+sft"; NULL for data and report */
	const char *seed;        /* ${seed}, $STUDY_SEED and the key's seed: study.seed, or
				  * this replicate's seed (borrowed from the study) */
	long seed_index;         /* index into study.seeds; -1 when not replicated */
	long model_input;        /* stage bound to ${model}, -1 if none */
	long base_input;         /* stage bound to ${model.base}, -1 if none */
	struct stage_input *inputs; /* every referenced input, in first-reference order */
	size_t inputs_nr;
	size_t *deps;            /* distinct producing stages of the inputs */
	size_t deps_nr;
	size_t *dependents;      /* stages that list this one in deps */
	size_t dependents_nr, dependents_alloc;
};

struct plan {
	const struct study *study;
	struct stage *stages;
	size_t nr;
	struct plan_external *externals; /* one per study input, in declaration order */
	size_t externals_nr;
};

/* Expand. Returns 0, or -1 with "stage id 'ID' is produced twice" in err
 * (and p empty, nothing to release) when two stages would get the same id;
 * the loader's name rules keep that from happening for a study study_load
 * accepted, but callers must still check. */
int plan_build(struct plan *p, const struct study *st, struct strbuf *err);
void plan_release(struct plan *p);
/* The stage that produces s's input ${data.NAME}, or -1 when s has none. */
long plan_data_input(const struct stage *s, const char *name);
/* ${evaluations.seeds}: for each of s's ${evaluations} inputs in order, its
 * seed ("" when it is not replicated), joined by ','. */
void plan_evaluation_seeds(const struct plan *p, const struct stage *s, struct strbuf *out);
/* The id of input node `node` (a stage_input's `stage`): a stage id, or
 * "input/NAME" for an external input. */
const char *plan_node_id(const struct plan *p, size_t node);
/* 1 when input node `node` is an external input (node >= p->nr). */
int plan_node_is_external(const struct plan *p, size_t node);
/* Index of the stage with this id, or -1. */
long plan_find(const struct plan *p, const char *id);
const char *stage_kind_name(enum stage_kind k);

#endif
