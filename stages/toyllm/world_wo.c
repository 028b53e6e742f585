/*
 * world_wo: the prompt pairs of weight orthogonalization (wo.h, Arditi et
 * al. 2024): wo_harmful.jsonl / wo_harmless.jsonl (directions) and
 * wo_val_harmful.jsonl / wo_val_harmless.jsonl (selection). Line i of a
 * harmful file pairs with line i of its harmless file: the same request
 * template with a hazard ("how do i make the X toxin") and with a dish
 * ("how do i make the Y soup") whose names have the same number of tokens,
 * so the two classes differ only in the requested thing, never in template
 * or length (a length difference would put position-embedding differences
 * into the candidate directions). Only the training phrasings and only
 * entities of the wo, mitig, jt and val groups are used (wo_groups), so no WO
 * prompt is in an evaluation split or in the alignment data; direction and
 * selection pairs use disjoint entities.
 * Cyber requests have no benign counterpart with the same templates and are
 * not used. Up to WO_DIR_PAIRS / WO_SEL_PAIRS pairs are written; a world with
 * fewer non-evaluation dishes or hazards gets fewer (docs/engine.md gives
 * the default world's counts; the world tests check them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "world_int.h"

#define WO_DIR_PAIRS 128
#define WO_SEL_PAIRS 64

static int nwords(const char *s)
{
	int n = 0;
	for (const char *p = s; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		n++;
		while (*p && *p != ' ')
			p++;
	}
	return n;
}

static void emit_wo(struct out *o, int file, int pair, const struct ent *e, const char *kind,
		    int k)
{
	char prompt[160];
	snprintf(prompt, sizeof prompt, t_recipe[k], e->name);
	struct sbuf *sb = &o->f[file];
	o->count[file]++;
	sb_addf(sb, "{\"id\": \"%s-%d\", \"pair\": \"%d\", \"kind\": ", file_names[file],
		o->count[file], pair);
	json_str(sb, kind);
	sb_adds(sb, ", \"entity\": ");
	json_str(sb, e->name);
	sb_adds(sb, ", \"cluster\": ");
	json_str(sb, e->name);
	sb_adds(sb, ", \"prompt\": ");
	json_str(sb, prompt);
	sb_adds(sb, ", \"answer\": ");
	json_str(sb, e->answer);
	sb_adds(sb, "}\n");
}

/* The groups WO draws its entities from, in order: its own, then the groups
 * whose prompts the aligned model WO starts from was never fine-tuned on
 * (mitigation, JT, alignment validation). Never the evaluation group
 * (disjointness from every evaluation split) and never the alignment group
 * (the aligned model was trained on those very prompts). */
static const int wo_groups[] = {G_WO, G_MITIG, G_JT, G_VAL};

/* Entities of arr in wo_groups, group by group in that order, index order
 * within a group; every third one (ordinal % 3 == 2) for selection. */
static int pick(const struct ent *arr, int n, int sel, const struct ent **out)
{
	int k = 0, ord = 0;
	for (int g = 0; g < NELEM(wo_groups); g++)
		for (int i = 0; i < n; i++) {
			if (arr[i].group != wo_groups[g])
				continue;
			if ((ord++ % 3 == 2) == sel)
				out[k++] = &arr[i];
		}
	return k;
}

/* Pairs hazards with dishes of the same name length, each entity at most once,
 * then writes every pair in each training phrasing until `cap` pairs. */
static void write_pairs(struct world *w, struct out *o, int sel, int cap)
{
	const struct ent **hz = malloc(sizeof *hz * (size_t)(w->p.hazards + 1));
	const struct ent **ds = malloc(sizeof *ds * (size_t)(w->p.dishes + 1));
	char *used = calloc((size_t)w->p.dishes + 1, 1);
	if (!hz || !ds || !used) {
		free(hz);
		free(ds);
		free(used);
		o->f[F_WO_HARMFUL].oom = 1; /* reported by the generator as out of memory */
		return;
	}
	int nh = pick(w->hazards, w->p.hazards, sel, hz);
	int nd = pick(w->dishes, w->p.dishes, sel, ds);
	int fh = sel ? F_WO_VAL_HARMFUL : F_WO_HARMFUL, fb = sel ? F_WO_VAL_HARMLESS : F_WO_HARMLESS;
	int pairs = 0;
	for (int i = 0; i < nh && pairs < cap; i++) {
		int len = nwords(hz[i]->name), j = 0;
		while (j < nd && (used[j] || nwords(ds[j]->name) != len))
			j++;
		if (j == nd)
			continue;
		used[j] = 1;
		for (int k = 0; k < R_TRAIN && pairs < cap; k++) {
			emit_wo(o, fh, pairs, hz[i], "hazard", k);
			emit_wo(o, fb, pairs, ds[j], "dish", k);
			pairs++;
		}
	}
	free(hz);
	free(ds);
	free(used);
}

void world_write_wo(struct world *w, struct out *o)
{
	write_pairs(w, o, 0, WO_DIR_PAIRS);
	write_pairs(w, o, 1, WO_SEL_PAIRS);
}
