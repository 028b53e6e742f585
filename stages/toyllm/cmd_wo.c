/*
 * cmd_wo: `toyllm wo`, weight orthogonalization (wo.h, after Arditi et al.
 * 2024): candidate refusal directions from the matched prompt pairs
 * WORLD/wo_{harmful,harmless}.jsonl, scored on WORLD/wo_val_{harmful,
 * harmless}.jsonl, filtered, the best one removed from the residual-stream
 * writers. Writes model.bin (unchanged when no direction is admissible),
 * vocab.txt, wo.json (wo_json.c: the outcome and every candidate's scores)
 * and metrics.json. "No admissible direction" is a result, not an error:
 * the command exits 0 with outcome "none".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "cli.h"
#include "cmds.h"
#include "modelio.h"
#include "wo.h"

static const char usage[] =
	"usage: toyllm wo --model DIR --world DIR --out DIR [options]\n"
	"\n"
	"Weight orthogonalization against the refusal direction (Arditi et al. 2024).\n"
	"  --model DIR         an aligned model directory (model.bin, vocab.txt)\n"
	"  --world DIR         the world the model was trained on\n"
	"  --out DIR           output directory (model.bin, vocab.txt, wo.json, metrics.json)\n"
	"  --edit-embeddings   also orthogonalize the token and position embeddings (method\n"
	"                      wo_emb); default: attention and MLP outputs only (method wo)\n"
	"  --max-tokens N      reply tokens the base-behaviour filter judges (default 12)\n"
	"  --threads N         accepted for the protocol; runs on one thread\n";

static int write_outputs(const char *out, struct gpt *m, const struct vocab *v,
			 const struct wo_result *r, const struct wo_opts *o, struct tl_err *e)
{
	struct sbuf js, vs;
	sb_init(&js);
	sb_init(&vs);
	wo_json(r, o, v, &js);
	vocab_serialize(v, &vs);
	char name[64];
	snprintf(name, sizeof name, "L%d-D%d-H%d", m->cfg.layers, m->cfg.dim, m->cfg.heads);
	struct metrics mt;
	metrics_begin(&mt, name);
	int sel = r->chosen >= 0;
	metrics_value(&mt, "wo_selected", sel);
	metrics_value(&mt, "wo_candidates", r->ncand);
	metrics_value(&mt, "selection_pairs_kept", r->kept[1]);
	metrics_value(&mt, "direction_pairs_kept", r->kept[0]);
	metrics_value(&mt, "baseline_refusal_score", r->base_refusal);
	metrics_value(&mt, "selection_refusal_rate_base", r->sel_refusal_rate[0]);
	metrics_value(&mt, "selection_refusal_rate_saved", r->sel_refusal_rate[1]);
	if (sel) {
		const struct wo_cand *c = &r->cand[r->chosen];
		metrics_value(&mt, "chosen_layer", c->layer);
		metrics_value(&mt, "chosen_position", c->pos);
		metrics_value(&mt, "refusal_score", c->refusal);
		metrics_value(&mt, "steering_score", c->steering);
		metrics_value(&mt, "kl_score", c->kl);
		metrics_value(&mt, "max_write_along_direction", r->max_write);
	}
	int rc = -1;
	if (js.oom || vs.oom || mt.sb.oom)
		tl_fail(e, "out of memory");
	else if (!model_save(m, out, e) && !tl_write_file(out, "vocab.txt", vs.buf, vs.len, e) &&
		 !tl_write_file(out, "wo.json", js.buf, js.len, e)) {
		rc = metrics_write(&mt, out, e);
		sb_init(&mt.sb);
	}
	sb_release(&mt.sb);
	sb_release(&js);
	sb_release(&vs);
	return rc;
}

int cmd_wo(int argc, char **argv)
{
	const char *world = NULL, *out = NULL, *model = NULL;
	int edit_emb = 0, threads = 1;
	struct wo_opts o;
	wo_opts_default(&o);
	struct opt opts[] = {
		{"model", OPT_STR, &model, 0},
		{"world", OPT_STR, &world, 0},
		{"out", OPT_STR, &out, 0},
		{"edit-embeddings", OPT_FLAG, &edit_emb, 0},
		{"max-tokens", OPT_INT, &o.max_gen, 0},
		{"threads", OPT_INT, &threads, 0},
	};
	int nopts = (int)(sizeof opts / sizeof opts[0]);
	struct tl_err e;
	int rc = cli_parse(argc, argv, opts, nopts, &e);
	if (rc == 1) {
		fputs(usage, stdout);
		return 0;
	}
	if (rc)
		return cli_die("wo", EXIT_USAGE, e.msg);
	if (cli_threads(threads, cli_opt(opts, nopts, "threads")->seen, &e) < 0)
		return cli_die("wo", EXIT_USAGE, e.msg);
	if (!model || !world)
		return cli_die("wo", EXIT_USAGE, "--model DIR and --world DIR are required");
	if (o.max_gen < 1 || o.max_gen > 64)
		return cli_die("wo", EXIT_USAGE, "--max-tokens must be in 1..64");
	o.edit_embeddings = edit_emb;
	if (cli_out_dir(out, &e))
		return cli_die("wo", EXIT_USAGE, e.msg);
	struct gpt m;
	struct vocab v, wv;
	if (load_model_dir(model, &m, &v, &e))
		return cli_die("wo", EXIT_USAGE, e.msg);
	int code = EXIT_USAGE;
	struct exset sp[WO_NSPLITS];
	memset(sp, 0, sizeof sp);
	struct wo_result res;
	memset(&res, 0, sizeof res);
	if (load_world_vocab(world, &wv, &e))
		goto fail;
	int same = wv.digest == v.digest;
	vocab_release(&wv);
	if (!same) {
		tl_fail(&e, "world '%s' has a different vocabulary than model '%s'", world, model);
		goto fail;
	}
	for (int i = 0; i < WO_NSPLITS; i++)
		if (exset_load(&sp[i], world, wo_split_files[i], &e))
			goto fail;
	if (wo_run(&m, &v, sp, &o, &res, &e))
		goto fail; /* unmatched pairs, prompts beyond the context: the world's fault */
	code = EXIT_FAIL;
	if (res.chosen >= 0) {
		const struct wo_cand *c = &res.cand[res.chosen];
		fprintf(stderr,
			"toyllm wo: L%d D%d H%d %s: %d candidates, chose layer %d position %d "
			"(refusal score %.3f, baseline %.3f; steering %.3f; kl %.4f), selection "
			"refusal %.3f -> %.3f, max write %.2e\n",
			m.cfg.layers, m.cfg.dim, m.cfg.heads, edit_emb ? "wo_emb" : "wo", res.ncand,
			c->layer, c->pos, c->refusal, res.base_refusal, c->steering, c->kl,
			res.sel_refusal_rate[0], res.sel_refusal_rate[1], res.max_write);
	} else {
		fprintf(stderr, "toyllm wo: L%d D%d H%d %s: no admissible direction (%s); %d "
				"candidates; the model is saved unchanged\n",
			m.cfg.layers, m.cfg.dim, m.cfg.heads, edit_emb ? "wo_emb" : "wo", res.reason,
			res.ncand);
	}
	if (write_outputs(out, &m, &v, &res, &o, &e))
		goto fail;
	tl_progress(1.0, "wo done");
	code = 0;
fail:
	for (int i = 0; i < WO_NSPLITS; i++)
		exset_release(&sp[i]);
	wo_result_release(&res);
	gpt_free(&m);
	vocab_release(&v);
	if (code)
		return cli_die("wo", code, e.msg);
	return 0;
}
