/*
 * test_wo_select: WO's filters, selection and outcomes (wo.h):
 *   - the filters on hand-set scores: kl > 0.1, steering < 0, layer >= 0.8 L
 *     (a 2-layer model keeps block 1, a 5-layer model drops block 4), a zero
 *     or non-finite direction; the lowest refusal score among the unfiltered;
 *     -1 when everything is filtered, however good a filtered one is;
 *   - on a hand-built aligned model (wo_refuser.h) whose refusal direction
 *     costs more than the paper's KL budget: outcome "none", no fallback, the
 *     model's weights untouched, every candidate with the filter that removed
 *     it; with the KL bound lifted the same model yields "selected", the
 *     steering filter removing the candidate with the lowest refusal score;
 *     with 5 layers the last block's candidates are "late layer"; with 1
 *     layer there is no candidate;
 *   - the exact wo.json of a fixed result, and of the 2-layer refuser.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "wo.h"
#include "wo_refuser.h"

static void test_filters(void)
{
	struct wo_cand c = {1, -1, -1.0, 0.5, 0.1, 1.0, 0};
	wo_filter(&c, 2, 0.1);
	CHECK(c.filters == 0, "kl = 0.1, steering 0.5, block 1 of 2: admissible (filters %u)",
	      c.filters);
	c.kl = 0.1000001;
	wo_filter(&c, 2, 0.1);
	CHECK(c.filters == WO_F_KL, "kl 0.1000001 > 0.1: filtered by kl only");
	c.kl = 0.05;
	c.steering = -1e-9;
	wo_filter(&c, 2, 0.1);
	CHECK(c.filters == WO_F_STEER, "steering -1e-9 < 0: filtered by steering only");
	c.steering = 0;
	wo_filter(&c, 2, 0.1);
	CHECK(c.filters == 0, "steering 0 >= 0: kept");
	int late[][3] = {{1, 2, 0}, {2, 3, 0}, {3, 4, 0}, {4, 5, 1}, {3, 5, 0},
			 {4, 6, 0}, {5, 6, 1}, {7, 10, 0}, {8, 10, 1}};
	int ok = 1;
	for (size_t i = 0; i < sizeof late / sizeof late[0]; i++) {
		c.layer = late[i][0];
		wo_filter(&c, late[i][1], 0.1);
		ok &= !!(c.filters & WO_F_LATE) == late[i][2] && wo_late(late[i][0], late[i][1]) == late[i][2];
	}
	CHECK(ok, "late layer = layer >= 0.8 L: kept 1/2, 2/3, 3/4, 3/5, 4/6, 7/10; dropped 4/5, "
		  "5/6, 8/10");
	struct wo_cand z = {1, -2, NAN, NAN, NAN, 0, 0};
	wo_filter(&z, 2, 0.1);
	CHECK(z.filters == (WO_F_ZERO | WO_F_KL | WO_F_STEER),
	      "a zero direction (scores not computed) is filtered: zero, kl, steering (%u)",
	      z.filters);
	struct sbuf sb;
	sb_init(&sb);
	wo_filter_names(WO_F_LATE | WO_F_KL | WO_F_STEER | WO_F_ZERO, &sb);
	CHECK(sb.buf && !strcmp(sb.buf, "\"late layer\", \"kl\", \"steering\", \"zero\""),
	      "filter names: %s", sb.buf ? sb.buf : "");
	sb_release(&sb);
}

static void test_openings(void)
{
	struct vocab v, w;
	struct tl_err e;
	if (vocab_parse(&v, refuser_vocab, &e) ||
	    vocab_parse(&w, "<pad>\n<user>\n<assistant>\n<end>\n<unk>\n<eoi>\ni\ncan\nnot\ndo\nhelp\n",
			&e)) {
		CHECK(0, "vocab: %s", e.msg);
		return;
	}
	int ids[8], n = 0, spelled_v = 0, spelled_w = 0;
	for (int i = 0; wo_refusal_openings[i]; i++) {
		n++;
		spelled_v += wo_opening_ids(&v, wo_refusal_openings[i], ids, 8) > 0;
		spelled_w += wo_opening_ids(&w, wo_refusal_openings[i], ids, 8) > 0;
	}
	CHECK(!strcmp(wo_refusal_openings[0], "i can not") && n == 7 && spelled_v == 2 &&
		      spelled_w == 2 && wo_opening_ids(&w, "i do not help", ids, 8) == 4,
	      "refusal openings: 7, the first 'i can not'; scored only when the vocabulary spells "
	      "them ('i can not' + 'i will not' in one vocabulary, 'i can not' + 'i do not help' "
	      "in another)");
	vocab_release(&v);
	vocab_release(&w);
}

static void test_select(void)
{
	struct wo_cand c[4] = {
		{1, -2, -9.0, 1.0, 0.5, 1, WO_F_KL},	 /* best refusal, but filtered */
		{1, -1, -2.0, 1.0, 0.05, 1, 0},
		{2, -2, -3.0, -1.0, 0.05, 1, WO_F_STEER}, /* filtered */
		{2, -1, -2.5, 0.1, 0.09, 1, 0},
	};
	CHECK(wo_select(c, 4) == 3, "selection: the lowest refusal score among the unfiltered (-2.5)");
	c[1].filters = c[3].filters = WO_F_LATE;
	CHECK(wo_select(c, 4) == -1,
	      "every candidate filtered: -1 (no fallback to the filtered -9.0)");
	struct wo_cand t[2] = {{1, -2, -1.0, 0, 0, 1, 0}, {1, -1, -1.0, 0, 0, 1, 0}};
	CHECK(wo_select(t, 2) == 0, "ties: the first");
}

struct run {
	struct gpt m;
	struct vocab v;
	struct wo_result r;
	struct wo_opts o;
	int rc, changed;
	struct sbuf js;
};

static int run_refuser(struct run *x, int layers, double kl_max, int emb)
{
	struct tl_err e;
	struct exset s[4];
	memset(x, 0, sizeof *x);
	sb_init(&x->js);
	if (refuser_build(&x->m, &x->v, layers, &e) || refuser_splits_parse(s, &e)) {
		CHECK(0, "refuser: %s", e.msg);
		return -1;
	}
	float *before = malloc(sizeof(float) * x->m.nparams);
	if (!before)
		return -1;
	memcpy(before, x->m.params_mem, sizeof(float) * x->m.nparams);
	wo_opts_default(&x->o);
	x->o.kl_max = kl_max;
	x->o.edit_embeddings = emb;
	x->rc = wo_run(&x->m, &x->v, s, &x->o, &x->r, &e);
	if (x->rc)
		CHECK(0, "wo_run: %s", e.msg);
	x->changed = memcmp(before, x->m.params_mem, sizeof(float) * x->m.nparams) != 0;
	free(before);
	wo_json(&x->r, &x->o, &x->v, &x->js);
	for (int i = 0; i < 4; i++)
		exset_release(&s[i]);
	return x->rc;
}

static void run_release(struct run *x)
{
	wo_result_release(&x->r);
	gpt_free(&x->m);
	vocab_release(&x->v);
	sb_release(&x->js);
}

static const char refuser_json[] =
	"{\"format\": \"toyllm-wo\", \"version\": 1,\n"
	" \"method\": \"wo\", \"edit_embeddings\": false,\n"
	" \"outcome\": \"none\", \"reason\": \"every candidate is filtered\",\n"
	" \"layers\": 2, \"post_instruction_tokens\": [\"<eoi>\", \"<assistant>\"],\n"
	" \"filters\": {\"kl_max\": 0.100000, \"late_layer_share\": 0.800000, "
	"\"steering_min\": 0.000000},\n"
	" \"refusal_openings\": [\"i can not\", \"i will not\"],\n"
	" \"prompts\": {\"direction\": {\"pairs\": 2, \"kept\": 2, \"harmful_complied\": 0, "
	"\"harmless_refused\": 0}, \"selection\": {\"pairs\": 2, \"kept\": 2, "
	"\"harmful_complied\": 0, \"harmless_refused\": 0}},\n"
	" \"baseline\": {\"refusal_score\": 0.100521, \"steering_score\": -6.306223},\n"
	" \"candidates\": [\n"
	"  {\"layer\": 1, \"position\": -2, \"token\": \"<eoi>\", \"refusal_score\": -7.326331, "
	"\"steering_score\": -6.348686, \"kl\": 6.374168, \"norm\": 1.574467, \"filtered_by\": "
	"[\"kl\", \"steering\"], \"chosen\": false},\n"
	"  {\"layer\": 1, \"position\": -1, \"token\": \"<assistant>\", \"refusal_score\": "
	"-0.247594, \"steering_score\": 0.203655, \"kl\": 1.645012, \"norm\": 9.522070, "
	"\"filtered_by\": [\"kl\"], \"chosen\": false}\n"
	" ],\n"
	" \"chosen\": null,\n"
	" \"selection_refusal_rate\": {\"base\": 1.000000, \"saved\": 1.000000},\n"
	" \"max_write\": null, \"direction\": null}\n";

static void test_refuser(void)
{
	struct run x;
	/* the constructed model behaves as built: refuses toxins, answers soups */
	if (run_refuser(&x, 2, WO_KL_MAX, 0))
		return;
	CHECK(x.r.kept[0] == 2 && x.r.kept[1] == 2 && x.r.sel_refusal_rate[0] == 1,
	      "refuser: the base refuses every harmful prompt and no harmless one (kept %d/%d, "
	      "selection refusal %.2f)",
	      x.r.kept[0], x.r.kept[1], x.r.sel_refusal_rate[0]);
	CHECK(x.r.chosen == -1 && !strcmp(x.r.reason, "every candidate is filtered") && !x.changed &&
		      !x.r.rhat,
	      "no admissible direction at the paper's KL bound: outcome none, weights untouched, "
	      "no direction");
	CHECK(x.r.ncand == 2 && x.r.cand[0].filters == (WO_F_KL | WO_F_STEER) &&
		      x.r.cand[1].filters == WO_F_KL && x.r.cand[0].refusal < x.r.base_refusal - 5,
	      "<eoi> would bypass refusal (score %.2f vs base %.2f) but costs kl %.2f and does not "
	      "steer (%.2f); <assistant> costs kl %.2f",
	      x.r.cand[0].refusal, x.r.base_refusal, x.r.cand[0].kl, x.r.cand[0].steering,
	      x.r.cand[1].kl);
	CHECK(x.js.buf && !strcmp(x.js.buf, refuser_json), "wo.json of the 2-layer refuser, exact%s%s",
	      x.js.buf && strcmp(x.js.buf, refuser_json) ? ":\n" : "",
	      x.js.buf && strcmp(x.js.buf, refuser_json) ? x.js.buf : "");
	run_release(&x);

	/* the KL bound lifted: selected, the steering filter decides */
	if (run_refuser(&x, 2, 1e9, 0))
		return;
	CHECK(x.r.chosen == 1 && x.changed && x.r.max_write < 1e-5 &&
		      x.r.cand[0].filters == WO_F_STEER && x.r.cand[0].refusal < x.r.cand[1].refusal,
	      "kl bound lifted: <assistant> selected and applied (max write %.1e); <eoi>, with the "
	      "lower refusal score, removed by steering",
	      x.r.max_write);
	CHECK(strstr(x.js.buf, "\"outcome\": \"selected\"") &&
		      strstr(x.js.buf, "\"chosen\": {\"layer\": 1, \"position\": -1, \"token\": "
				       "\"<assistant>\"}"),
	      "wo.json names the chosen candidate");
	run_release(&x);

	/* embeddings edited as well (wo_emb): the embedding rows change */
	if (run_refuser(&x, 2, 1e9, 1))
		return;
	CHECK(x.r.chosen >= 0 && strstr(x.js.buf, "\"method\": \"wo_emb\", \"edit_embeddings\": true") &&
		      wo_max_write(&x.m, x.r.rhat, 1) < 1e-5,
	      "wo_emb: embeddings orthogonalized too (max write incl. wte/wpe %.1e)",
	      x.r.rhat ? wo_max_write(&x.m, x.r.rhat, 1) : -1.0);
	run_release(&x);

	/* 5 layers (blocks 1..4 add nothing): block 4 is a late layer */
	if (run_refuser(&x, 5, 1e9, 0))
		return;
	int ok = x.r.ncand == 8;
	for (int i = 0; ok && i < 8; i++)
		ok = !!(x.r.cand[i].filters & WO_F_LATE) == (x.r.cand[i].layer == 4) &&
		     x.r.cand[i].layer == 1 + i / 2 && x.r.cand[i].pos == i % 2 - 2;
	CHECK(ok && x.r.chosen == 1,
	      "5 layers: candidates at blocks 1..4 x (<eoi>, <assistant>), block 4 filtered as late "
	      "(4 >= 0.8 x 5), block 1's chosen among equals");
	run_release(&x);

	/* 1 layer: nothing after the embeddings */
	if (run_refuser(&x, 1, 1e9, 0))
		return;
	CHECK(x.r.ncand == 0 && x.r.chosen == -1 && !x.changed &&
		      !strcmp(x.r.reason, "a 1-layer model has no block input after the embeddings") &&
		      strstr(x.js.buf, "\"candidates\": [],"),
	      "1 layer: no candidate, outcome none, weights untouched");
	run_release(&x);
}

static void test_json_fixed(void)
{
	struct vocab v;
	struct tl_err e;
	if (vocab_parse(&v, refuser_vocab, &e)) {
		CHECK(0, "vocab: %s", e.msg);
		return;
	}
	struct wo_cand c[2] = {{1, -2, -1.5, 0.25, 0.0625, 2.0, 0},
			       {1, -1, -0.5, -0.125, 0.5, 3.0, WO_F_KL | WO_F_STEER}};
	float rhat[4] = {0.5f, -0.5f, 0.5f, -0.5f};
	struct wo_result r;
	memset(&r, 0, sizeof r);
	r.layers = 2;
	r.dim = 4;
	r.npost = 2;
	r.post_ids[0] = TOK_EOI;
	r.post_ids[1] = TOK_ASSISTANT;
	r.pairs[0] = 128;
	r.kept[0] = 120;
	r.harmful_complied[0] = 7;
	r.harmless_refused[0] = 1;
	r.pairs[1] = 64;
	r.kept[1] = 60;
	r.harmful_complied[1] = 4;
	r.base_refusal = 2.5;
	r.base_steering = -3.25;
	r.ncand = 2;
	r.cand = c;
	r.chosen = 0;
	r.reason = "";
	r.rhat = rhat;
	r.max_write = 1.5e-8;
	r.sel_refusal_rate[0] = 1;
	r.sel_refusal_rate[1] = 0.25;
	struct wo_opts o;
	wo_opts_default(&o);
	struct sbuf sb;
	sb_init(&sb);
	wo_json(&r, &o, &v, &sb);
	static const char want[] =
		"{\"format\": \"toyllm-wo\", \"version\": 1,\n"
		" \"method\": \"wo\", \"edit_embeddings\": false,\n"
		" \"outcome\": \"selected\", \"reason\": \"\",\n"
		" \"layers\": 2, \"post_instruction_tokens\": [\"<eoi>\", \"<assistant>\"],\n"
		" \"filters\": {\"kl_max\": 0.100000, \"late_layer_share\": 0.800000, "
		"\"steering_min\": 0.000000},\n"
		" \"refusal_openings\": [\"i can not\", \"i will not\"],\n"
		" \"prompts\": {\"direction\": {\"pairs\": 128, \"kept\": 120, \"harmful_complied\": 7, "
		"\"harmless_refused\": 1}, \"selection\": {\"pairs\": 64, \"kept\": 60, "
		"\"harmful_complied\": 4, \"harmless_refused\": 0}},\n"
		" \"baseline\": {\"refusal_score\": 2.500000, \"steering_score\": -3.250000},\n"
		" \"candidates\": [\n"
		"  {\"layer\": 1, \"position\": -2, \"token\": \"<eoi>\", \"refusal_score\": -1.500000, "
		"\"steering_score\": 0.250000, \"kl\": 0.062500, \"norm\": 2.000000, \"filtered_by\": "
		"[], \"chosen\": true},\n"
		"  {\"layer\": 1, \"position\": -1, \"token\": \"<assistant>\", \"refusal_score\": "
		"-0.500000, \"steering_score\": -0.125000, \"kl\": 0.500000, \"norm\": 3.000000, "
		"\"filtered_by\": [\"kl\", \"steering\"], \"chosen\": false}\n"
		" ],\n"
		" \"chosen\": {\"layer\": 1, \"position\": -2, \"token\": \"<eoi>\"},\n"
		" \"selection_refusal_rate\": {\"base\": 1.000000, \"saved\": 0.250000},\n"
		" \"max_write\": 1.500e-08, \"direction\": [0.5, -0.5, 0.5, -0.5]}\n";
	CHECK(sb.buf && !strcmp(sb.buf, want), "wo.json of a fixed result, exact%s%s",
	      sb.buf && strcmp(sb.buf, want) ? ":\n" : "", sb.buf && strcmp(sb.buf, want) ? sb.buf : "");
	sb_release(&sb);
	vocab_release(&v);
}

int main(void)
{
	test_filters();
	test_select();
	test_openings();
	test_refuser();
	test_json_fixed();
	return check_done();
}
