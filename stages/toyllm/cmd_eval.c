/*
 * cmd_eval: `toyllm eval --task T` runs one of the study's six evaluations
 * (evaltasks.c) on a model and writes metrics.json (model, variant,
 * evaluation, the WO outcome when the model directory has a wo.json, and the
 * task's rates with 95% Wilson intervals), items.jsonl (the per-item results
 * the report pairs and bootstraps; format in evaltasks.h) and replies.jsonl
 * (every prompt, reply, the judge's class and whether it scored).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "evaltasks.h"
#include "finetune.h"

static const char usage[] =
	"usage: toyllm eval --task TASK --model DIR --world DIR --out DIR [options]\n"
	"\n"
	"Evaluates a model on one task; writes metrics.json, items.jsonl, replies.jsonl.\n"
	"  --task T        refusal | hallucination | nlp | malicious | cyber | attack\n"
	"  --model DIR     the model directory (model.bin, vocab.txt)\n"
	"  --world DIR     the world the model was trained on\n"
	"  --out DIR       output directory\n"
	"  --target DIR    attack: the fixed victim model that receives the written jailbreak\n"
	"  --attempts N    attack: sampled jailbreaks per hazard (default 4)\n"
	"  --temperature X attack: the attacker's sampling temperature (default 1)\n"
	"  --seed N        attack: sampling seed (default $STUDY_SEED or 1)\n"
	"  --name S        model name for metrics.json (default: L<l>-D<d>-H<h>)\n"
	"  --variant S     variant for metrics.json (default: base)\n"
	"  --jailbreak S   jailbreak string for the *_jailbreak rates (default: the world's)\n"
	"  --limit N       at most N examples per split (default: all)\n"
	"  --threads N     accepted for the protocol; evaluation runs on one thread\n";

int cmd_eval(int argc, char **argv)
{
	const char *world = NULL, *out = NULL, *model = NULL, *task = NULL, *target = NULL;
	const char *name = NULL, *variant = "base", *jbs = NULL;
	int limit = 0, threads = 1, attempts = 4;
	double temp = 1.0;
	uint64_t seed = 1;
	struct opt opts[] = {
		{"task", OPT_STR, &task, 0},	   {"model", OPT_STR, &model, 0},
		{"world", OPT_STR, &world, 0},	   {"out", OPT_STR, &out, 0},
		{"target", OPT_STR, &target, 0},   {"name", OPT_STR, &name, 0},
		{"variant", OPT_STR, &variant, 0}, {"jailbreak", OPT_STR, &jbs, 0},
		{"limit", OPT_INT, &limit, 0},	   {"threads", OPT_INT, &threads, 0},
		{"attempts", OPT_INT, &attempts, 0}, {"temperature", OPT_DOUBLE, &temp, 0},
		{"seed", OPT_U64, &seed, 0},
	};
	int nopts = (int)(sizeof opts / sizeof opts[0]);
	struct tl_err e;
	int rc = cli_parse(argc, argv, opts, nopts, &e);
	if (rc == 1) {
		fputs(usage, stdout);
		return 0;
	}
	if (rc || cli_seed(seed, cli_opt(opts, nopts, "seed")->seen, &seed, &e))
		return cli_die("eval", EXIT_USAGE, e.msg);
	if (attempts < 1 || attempts > 64 || !(temp > 0 && temp <= 100))
		return cli_die("eval", EXIT_USAGE,
			       "--attempts out of range 1..64 or --temperature out of range (0, 100]");
	if (cli_threads(threads, cli_opt(opts, nopts, "threads")->seen, &e) < 0)
		return cli_die("eval", EXIT_USAGE, e.msg);
	if (!task || !model || !world)
		return cli_die("eval", EXIT_USAGE, "--task T, --model DIR and --world DIR are required");
	int known = 0;
	for (int i = 0; eval_task_names[i]; i++)
		known |= !strcmp(task, eval_task_names[i]);
	if (!known) {
		tl_fail(&e, "unknown task '%s' (refusal, hallucination, nlp, malicious, cyber, attack)",
			task);
		return cli_die("eval", EXIT_USAGE, e.msg);
	}
	if (!strcmp(task, "attack") && !target)
		return cli_die("eval", EXIT_USAGE, "--task attack needs --target DIR");
	if (limit < 0 || (name && !*name) || !*variant || (jbs && (!*jbs || strlen(jbs) > 200)))
		return cli_die("eval", EXIT_USAGE,
			       "--limit, --name, --variant or --jailbreak out of range");
	if (cli_out_dir(out, &e))
		return cli_die("eval", EXIT_USAGE, e.msg);

	char jb[256];
	if (jbs)
		snprintf(jb, sizeof jb, "%s", jbs);
	else if (world_jailbreak(world, jb, sizeof jb, &e))
		return cli_die("eval", EXIT_USAGE, e.msg);
	struct gpt m, tm;
	struct vocab v, tv, wv;
	int have_t = 0;
	if (load_model_dir(model, &m, &v, &e))
		return cli_die("eval", EXIT_USAGE, e.msg);
	int code = EXIT_USAGE;
	struct sbuf log, items;
	sb_init(&log);
	sb_init(&items);
	char wo_outcome[64];
	if (eval_wo_outcome(model, wo_outcome, sizeof wo_outcome, &e))
		goto fail;
	if (load_world_vocab(world, &wv, &e))
		goto fail;
	int same = wv.digest == v.digest;
	vocab_release(&wv);
	if (!same) {
		tl_fail(&e, "world '%s' has a different vocabulary than model '%s'", world, model);
		goto fail;
	}
	if (target) {
		if (load_model_dir(target, &tm, &tv, &e))
			goto fail;
		have_t = 1;
		if (tv.digest != v.digest) {
			tl_fail(&e, "target '%s' has a different vocabulary than model '%s'", target,
				model);
			goto fail;
		}
	}
	char auto_name[64];
	snprintf(auto_name, sizeof auto_name, "L%d-D%d-H%d", m.cfg.layers, m.cfg.dim, m.cfg.heads);
	struct metrics mt;
	metrics_begin_eval(&mt, name ? name : auto_name, variant, task);
	if (*wo_outcome) { /* "wo_outcome" before "metrics": reopen the header */
		static const char tail[] = "\"metrics\": {";
		mt.sb.len -= strlen(tail);
		sb_adds(&mt.sb, "\"wo_outcome\": ");
		json_str(&mt.sb, wo_outcome);
		sb_addf(&mt.sb, ", %s", tail);
	}
	struct eval_ctx c = {&m,    &v,	  world, jb,  have_t ? &tm : NULL, have_t ? &tv : NULL,
			     limit, attempts, temp,  seed, &log,		   &items};
	tl_progress(0.0, "eval");
	if (eval_task(&c, task, &mt, &e)) {
		sb_release(&mt.sb);
		goto fail;
	}
	code = EXIT_FAIL;
	if (log.oom || items.oom) {
		tl_fail(&e, "out of memory");
		sb_release(&mt.sb);
		goto fail;
	}
	if (tl_write_file(out, "replies.jsonl", log.buf ? log.buf : "", log.len, &e) ||
	    tl_write_file(out, "items.jsonl", items.buf ? items.buf : "", items.len, &e)) {
		sb_release(&mt.sb);
		goto fail;
	}
	if (metrics_write(&mt, out, &e)) /* releases mt */
		goto fail;
	tl_progress(1.0, "eval done");
	code = 0;
fail:
	sb_release(&log);
	sb_release(&items);
	if (have_t) {
		gpt_free(&tm);
		vocab_release(&tv);
	}
	gpt_free(&m);
	vocab_release(&v);
	if (code)
		return cli_die("eval", code, e.msg);
	return 0;
}
