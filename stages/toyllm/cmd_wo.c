/*
 * cmd_wo: `toyllm wo`, weight orthogonalization (wo.c): candidate refusal
 * directions from WORLD/wo_{harmful,harmless}.jsonl, scored on
 * WORLD/wo_val_{harmful,harmless}.jsonl, filtered, the best one removed from
 * every residual-stream writer. Writes model.bin, vocab.txt, direction.json
 * (the chosen point/position, scores and the unit vector), candidates.tsv
 * (every candidate's scores, filtered or not, and why) and metrics.json.
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
	"Weight orthogonalization against the refusal direction (Arditi et al.).\n"
	"  --model DIR       an aligned model directory (model.bin, vocab.txt)\n"
	"  --world DIR       the world the model was trained on\n"
	"  --out DIR         output directory (model.bin, vocab.txt, direction.json,\n"
	"                    candidates.tsv, metrics.json)\n"
	"  --positions N     post-instruction positions: 1 = <assistant> only, N > 1 also\n"
	"                    the last N-1 request tokens (default 2)\n"
	"  --max-tokens N    tokens generated to judge a refusal (default 4)\n"
	"  --threads N       accepted for the protocol; runs on one thread\n";

static int write_outputs(const char *out, struct gpt *m, const struct vocab *v,
			 const struct wo_cand *cand, int nc, int best, int induced,
			 const float *rhat, double klmax, double before, double after, double maxw,
			 struct tl_err *e)
{
	const int C = m->cfg.dim;
	struct sbuf tsv, dj, vs;
	sb_init(&tsv);
	sb_init(&dj);
	sb_init(&vs);
	sb_adds(&tsv, "point\tlayer\tposition\tbypass\tinduce\tkl\tnorm\tfiltered\treason\n");
	for (int i = 0; i < nc; i++)
		sb_addf(&tsv, "%d\t%.1f\t%d\t%.6f\t%.6f\t%.6f\t%.6f\t%d\t%s%s\n", cand[i].point,
			cand[i].point / 2.0, -1 - cand[i].pos, cand[i].bypass, cand[i].induce,
			cand[i].kl, cand[i].norm, cand[i].filtered, cand[i].reason,
			i == best ? (*cand[i].reason ? ", chosen" : "chosen") : "");
	const struct wo_cand *b = &cand[best];
	sb_addf(&dj, "{\"point\": %d, \"position\": %d, \"bypass\": %.6f, \"induce\": %.6f, "
		     "\"kl\": %.6f, \"norm\": %.6f, \"induces_refusal\": %s, \"kl_threshold\": %.6f,\n"
		     " \"max_write\": %.3e, \"direction\": [",
		b->point, -1 - b->pos, b->bypass, b->induce, b->kl, b->norm,
		induced ? "true" : "false", klmax, maxw);
	for (int c = 0; c < C; c++)
		sb_addf(&dj, "%s%.9g", c ? ", " : "", rhat[c]);
	sb_adds(&dj, "]}\n");
	vocab_serialize(v, &vs);
	char name[64];
	snprintf(name, sizeof name, "L%d-D%d-H%d", m->cfg.layers, m->cfg.dim, m->cfg.heads);
	struct metrics mt;
	metrics_begin(&mt, name);
	metrics_value(&mt, "direction_refusal_before", before);
	metrics_value(&mt, "direction_refusal_after", after);
	metrics_value(&mt, "chosen_point", b->point);
	metrics_value(&mt, "chosen_position", -1 - b->pos);
	metrics_value(&mt, "bypass_score", b->bypass);
	metrics_value(&mt, "induce_score", b->induce);
	metrics_value(&mt, "kl_score", b->kl);
	metrics_value(&mt, "kl_threshold", klmax);
	metrics_value(&mt, "max_write_along_direction", maxw);
	int rc = -1;
	if (tsv.oom || dj.oom || vs.oom)
		tl_fail(e, "out of memory");
	else if (!model_save(m, out, e) && !tl_write_file(out, "vocab.txt", vs.buf, vs.len, e) &&
		 !tl_write_file(out, "candidates.tsv", tsv.buf, tsv.len, e) &&
		 !tl_write_file(out, "direction.json", dj.buf, dj.len, e)) {
		rc = metrics_write(&mt, out, e);
		sb_init(&mt.sb);
	}
	sb_release(&mt.sb);
	sb_release(&tsv);
	sb_release(&dj);
	sb_release(&vs);
	return rc;
}

int cmd_wo(int argc, char **argv)
{
	const char *world = NULL, *out = NULL, *model = NULL;
	int npos = 2, maxgen = 4, threads = 1;
	struct opt opts[] = {
		{"model", OPT_STR, &model, 0},	     {"world", OPT_STR, &world, 0},
		{"out", OPT_STR, &out, 0},	     {"positions", OPT_INT, &npos, 0},
		{"max-tokens", OPT_INT, &maxgen, 0}, {"threads", OPT_INT, &threads, 0},
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
	if (npos < 1 || npos > 4 || maxgen < 1 || maxgen > 64)
		return cli_die("wo", EXIT_USAGE, "--positions (1..4) or --max-tokens (1..64) out of range");
	if (cli_out_dir(out, &e))
		return cli_die("wo", EXIT_USAGE, e.msg);
	struct gpt m;
	struct vocab v, wv;
	if (load_model_dir(model, &m, &v, &e))
		return cli_die("wo", EXIT_USAGE, e.msg);
	int code = EXIT_USAGE;
	struct exset sp[4] = {{0, NULL}, {0, NULL}, {0, NULL}, {0, NULL}};
	static const char *const files[4] = {"wo_harmful.jsonl", "wo_harmless.jsonl",
					     "wo_val_harmful.jsonl", "wo_val_harmless.jsonl"};
	float *r = NULL, *rhat = NULL;
	struct wo_cand *cand = NULL;
	const int C = m.cfg.dim, P = 2 * m.cfg.layers + 1, nc = P * npos;
	if (load_world_vocab(world, &wv, &e))
		goto fail;
	int same = wv.digest == v.digest;
	vocab_release(&wv);
	if (!same) {
		tl_fail(&e, "world '%s' has a different vocabulary than model '%s'", world, model);
		goto fail;
	}
	for (int i = 0; i < 4; i++)
		if (exset_load(&sp[i], world, files[i], &e))
			goto fail;
	code = EXIT_FAIL;
	r = malloc(sizeof(float) * (size_t)nc * C);
	rhat = malloc(sizeof(float) * (size_t)C);
	cand = calloc((size_t)nc, sizeof *cand);
	if (!r || !rhat || !cand) {
		tl_fail(&e, "out of memory");
		goto fail;
	}
	tl_progress(0.0, "wo directions");
	if (wo_directions(&m, &v, &sp[0], &sp[1], npos, r, &e))
		goto fail;
	for (int i = 0; i < nc; i++) {
		cand[i].point = i / npos;
		cand[i].pos = i % npos;
		if (wo_score(&m, &v, r + (size_t)i * C, &cand[i], &sp[2], &sp[3], maxgen, &e))
			goto fail;
		tl_progress(0.05 + 0.85 * (i + 1) / nc, "wo candidates");
	}
	/* the paper's KL threshold; doubled while it leaves no candidate */
	double klmax = WO_KL_MAX / 2;
	int induced, best = -1;
	while (best < 0 && klmax < 1e6) {
		klmax *= 2;
		for (int i = 0; i < nc; i++)
			wo_filter(&cand[i], m.cfg.layers, klmax);
		best = wo_select(cand, nc, &induced);
	}
	if (best < 0) {
		tl_fail(&e, "every one of the %d candidates is in the last 20%% of layers", nc);
		goto fail;
	}
	for (int c = 0; c < C; c++)
		rhat[c] = (float)(r[(size_t)best * C + c] / cand[best].norm);
	double before, after;
	if (wo_refusal_rate(&m, &v, &sp[0], maxgen, &before, &e))
		goto fail;
	wo_orthogonalize(&m, rhat);
	double maxw = wo_max_write(&m, rhat);
	if (wo_refusal_rate(&m, &v, &sp[0], maxgen, &after, &e))
		goto fail;
	fprintf(stderr, "toyllm wo: L%d D%d H%d: %d candidates, chose point %d position %d "
			"(bypass %.3f induce %.3f kl %.4f), direction-split refusal %.3f -> %.3f, "
			"max write %.2e\n",
		m.cfg.layers, m.cfg.dim, m.cfg.heads, nc, cand[best].point, -1 - cand[best].pos,
		cand[best].bypass, cand[best].induce, cand[best].kl, before, after, maxw);
	if (write_outputs(out, &m, &v, cand, nc, best, induced, rhat, klmax, before, after, maxw, &e))
		goto fail;
	tl_progress(1.0, "wo done");
	code = 0;
fail:
	for (int i = 0; i < 4; i++)
		exset_release(&sp[i]);
	free(r);
	free(rhat);
	free(cand);
	gpt_free(&m);
	vocab_release(&v);
	if (code)
		return cli_die("wo", code, e.msg);
	return 0;
}
