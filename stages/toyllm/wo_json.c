/*
 * wo_json: the wo.json format, the record of one `toyllm wo` run (see
 * wo.h for the method). Fixed number formats, so equal results give equal
 * bytes. Version 1:
 *   {"format": "toyllm-wo", "version": 1,
 *    "method": "wo" | "wo_emb", "edit_embeddings": BOOL,
 *    "outcome": "selected" | "none", "reason": STR ("" when selected),
 *    "layers": L, "post_instruction_tokens": [STR...],
 *    "filters": {"kl_max": X, "late_layer_share": X, "steering_min": X},
 *    "refusal_openings": [STR...],   (those the vocabulary spells: scored)
 *    "prompts": {"direction": PROMPTS, "selection": PROMPTS},
 *      PROMPTS = {"pairs": N, "kept": N, "harmful_complied": N, "harmless_refused": N}
 *    "baseline": {"refusal_score": X, "steering_score": X},   (unedited model)
 *    "candidates": [{"layer": l, "position": -k, "token": STR, "refusal_score": X,
 *                    "steering_score": X, "kl": X, "norm": X,
 *                    "filtered_by": [STR...], "chosen": BOOL}...],
 *    "chosen": {"layer": l, "position": -k, "token": STR} | null,
 *    "selection_refusal_rate": {"base": X, "saved": X},
 *    "max_write": X | null, "direction": [X...] | null}
 * Scores are in nats (%.6f); a score that was not computed (a zero
 * direction) is null; filter names: "late layer", "kl", "steering", "zero".
 */
#include <math.h>

#include "wo.h"

static void num(struct sbuf *sb, double x)
{
	if (isfinite(x))
		sb_addf(sb, "%.6f", x == 0 ? 0.0 : x); /* no "-0.000000" from a signed zero */
	else
		sb_adds(sb, "null");
}

static void token(struct sbuf *sb, const struct vocab *v, int id)
{
	json_str(sb, id >= 0 && id < v->n ? v->words[id] : "<unk>");
}

static void prompts(struct sbuf *sb, const struct wo_result *r, int s)
{
	sb_addf(sb, "{\"pairs\": %d, \"kept\": %d, \"harmful_complied\": %d, \"harmless_refused\": %d}",
		r->pairs[s], r->kept[s], r->harmful_complied[s], r->harmless_refused[s]);
}

void wo_json(const struct wo_result *r, const struct wo_opts *o, const struct vocab *v,
	     struct sbuf *sb)
{
	int sel = r->chosen >= 0;
	sb_addf(sb, "{\"format\": \"toyllm-wo\", \"version\": 1,\n \"method\": \"%s\", "
		    "\"edit_embeddings\": %s,\n \"outcome\": \"%s\", \"reason\": ",
		o->edit_embeddings ? "wo_emb" : "wo", o->edit_embeddings ? "true" : "false",
		sel ? "selected" : "none");
	json_str(sb, r->reason);
	sb_addf(sb, ",\n \"layers\": %d, \"post_instruction_tokens\": [", r->layers);
	for (int i = 0; i < r->npost; i++) {
		sb_adds(sb, i ? ", " : "");
		token(sb, v, r->post_ids[i]);
	}
	sb_addf(sb, "],\n \"filters\": {\"kl_max\": %.6f, \"late_layer_share\": %.6f, "
		    "\"steering_min\": %.6f},\n \"refusal_openings\": [",
		o->kl_max, WO_LATE_SHARE, WO_STEER_MIN);
	for (int i = 0, k = 0; wo_refusal_openings[i]; i++) {
		int ids[8];
		if (wo_opening_ids(v, wo_refusal_openings[i], ids, 8) > 0) {
			sb_adds(sb, k++ ? ", " : "");
			json_str(sb, wo_refusal_openings[i]);
		}
	}
	sb_adds(sb, "],\n \"prompts\": {\"direction\": ");
	prompts(sb, r, 0);
	sb_adds(sb, ", \"selection\": ");
	prompts(sb, r, 1);
	sb_adds(sb, "},\n \"baseline\": {\"refusal_score\": ");
	num(sb, r->base_refusal);
	sb_adds(sb, ", \"steering_score\": ");
	num(sb, r->base_steering);
	sb_adds(sb, "},\n \"candidates\": [");
	for (int i = 0; i < r->ncand; i++) {
		const struct wo_cand *c = &r->cand[i];
		sb_addf(sb, "%s\n  {\"layer\": %d, \"position\": %d, \"token\": ", i ? "," : "",
			c->layer, c->pos);
		token(sb, v, r->post_ids[r->npost + c->pos]);
		sb_adds(sb, ", \"refusal_score\": ");
		num(sb, c->refusal);
		sb_adds(sb, ", \"steering_score\": ");
		num(sb, c->steering);
		sb_adds(sb, ", \"kl\": ");
		num(sb, c->kl);
		sb_adds(sb, ", \"norm\": ");
		num(sb, c->norm);
		sb_adds(sb, ", \"filtered_by\": [");
		wo_filter_names(c->filters, sb);
		sb_addf(sb, "], \"chosen\": %s}", i == r->chosen ? "true" : "false");
	}
	sb_adds(sb, r->ncand ? "\n ],\n \"chosen\": " : "],\n \"chosen\": ");
	if (sel) {
		const struct wo_cand *c = &r->cand[r->chosen];
		sb_addf(sb, "{\"layer\": %d, \"position\": %d, \"token\": ", c->layer, c->pos);
		token(sb, v, r->post_ids[r->npost + c->pos]);
		sb_adds(sb, "}");
	} else {
		sb_adds(sb, "null");
	}
	sb_adds(sb, ",\n \"selection_refusal_rate\": {\"base\": ");
	num(sb, r->sel_refusal_rate[0]);
	sb_adds(sb, ", \"saved\": ");
	num(sb, r->sel_refusal_rate[1]);
	sb_adds(sb, "},\n \"max_write\": ");
	if (sel)
		sb_addf(sb, "%.3e", r->max_write);
	else
		sb_adds(sb, "null");
	sb_adds(sb, ", \"direction\": ");
	if (sel) {
		sb_adds(sb, "[");
		for (int c = 0; c < r->dim; c++)
			sb_addf(sb, "%s%.9g", c ? ", " : "", r->rhat[c]);
		sb_adds(sb, "]");
	} else {
		sb_adds(sb, "null");
	}
	sb_adds(sb, "}\n");
}
