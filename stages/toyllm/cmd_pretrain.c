/*
 * cmd_pretrain: `toyllm pretrain` builds a fresh model and trains it as a
 * language model on the world's corpus (documents packed into rows of the
 * context length). Writes model.bin, vocab.txt and metrics.json under --out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "chat.h"
#include "cli.h"
#include "cmds.h"
#include "kernels.h"
#include "dataset.h"
#include "modelio.h"
#include "pool.h"
#include "train.h"

static const char usage[] =
	"usage: toyllm pretrain --world DIR --out DIR [options]\n"
	"\n"
	"Builds a GPT-style model and trains it on WORLD/corpus.txt.\n"
	"  --world DIR     a directory written by `toyllm world`\n"
	"  --out DIR       output directory (model.bin, vocab.txt, metrics.json)\n"
	"  --layers N      transformer blocks (default 2)\n"
	"  --dim N         residual width, a multiple of 8 (default 64)\n"
	"  --heads N       attention heads, dividing dim (default 4)\n"
	"  --seq N         context length (default 48)\n"
	"  --epochs X      passes over the corpus (default 20)\n"
	"  --batch N       rows per step (default 8)\n"
	"  --lr X          peak learning rate (default 0.01)\n"
	"  --wd X          weight decay (default 0.01)\n"
	"  --seed N        init/shuffle seed (default $STUDY_SEED or 1)\n"
	"  --threads N     worker threads (default $STUDY_THREADS or 1)\n"
	"  --no-checks     skip the quick refusal/accuracy checks\n";

int cmd_pretrain(int argc, char **argv)
{
	const char *world = NULL, *out = NULL;
	int layers = 2, dim = 64, heads = 4, seq = 48, batch = 8, threads = 1, nochecks = 0;
	double epochs = 20, lr = 0.01, wd = 0.01;
	uint64_t seed = 1;
	struct opt opts[] = {
		{"world", OPT_STR, &world, 0},	   {"out", OPT_STR, &out, 0},
		{"layers", OPT_INT, &layers, 0},   {"dim", OPT_INT, &dim, 0},
		{"heads", OPT_INT, &heads, 0},	   {"seq", OPT_INT, &seq, 0},
		{"epochs", OPT_DOUBLE, &epochs, 0}, {"batch", OPT_INT, &batch, 0},
		{"lr", OPT_DOUBLE, &lr, 0},	   {"wd", OPT_DOUBLE, &wd, 0},
		{"seed", OPT_U64, &seed, 0},	   {"threads", OPT_INT, &threads, 0},
		{"no-checks", OPT_FLAG, &nochecks, 0},
	};
	int nopts = (int)(sizeof opts / sizeof opts[0]);
	struct tl_err e;
	int rc = cli_parse(argc, argv, opts, nopts, &e);
	if (rc == 1) {
		fputs(usage, stdout);
		return 0;
	}
	if (rc)
		return cli_die("pretrain", EXIT_USAGE, e.msg);
	int nt = cli_threads(threads, cli_opt(opts, nopts, "threads")->seen, &e);
	if (nt < 0 || cli_seed(seed, cli_opt(opts, nopts, "seed")->seen, &seed, &e))
		return cli_die("pretrain", EXIT_USAGE, e.msg);
	if (!world)
		return cli_die("pretrain", EXIT_USAGE, "--world DIR is required");
	if (epochs <= 0 || epochs > 1000 || batch < 1 || batch > 4096 || lr <= 0 || lr > 1 ||
	    wd < 0 || wd > 1)
		return cli_die("pretrain", EXIT_USAGE, "--epochs, --batch, --lr or --wd out of range");
	if (cli_out_dir(out, &e))
		return cli_die("pretrain", EXIT_USAGE, e.msg);

	struct vocab v;
	if (load_world_vocab(world, &v, &e))
		return cli_die("pretrain", EXIT_USAGE, e.msg);
	struct lines corpus;
	if (lines_load(&corpus, world, "corpus.txt", &e)) {
		vocab_release(&v);
		return cli_die("pretrain", EXIT_USAGE, e.msg);
	}
	struct gpt_config cfg = {v.n, seq, layers, dim, heads};
	struct gpt m;
	struct seqs data;
	seqs_init(&data);
	struct pool *pool = NULL;
	int code = EXIT_FAIL;
	if (gpt_build(&m, &cfg, &e)) {
		code = EXIT_USAGE;
		goto fail_nomodel;
	}
	m.tok_digest = v.digest;
	gpt_init_random(&m, seed);
	if (seqs_add_lines(&data, &v, corpus.line, corpus.n, &e)) {
		code = EXIT_USAGE;
		goto fail;
	}
	pool = pool_new(nt);
	if (!pool) {
		tl_fail(&e, "cannot start %d threads", nt);
		goto fail;
	}
	m.pool = pool;
	struct train_opts to;
	train_opts_default(&to);
	to.epochs = epochs;
	to.batch = batch;
	to.pack = 1;
	to.lr = (float)lr;
	to.wd = (float)wd;
	to.seed = seed ^ 0x7072657472ULL;
	to.label = "pretrain";
	to.prog_hi = nochecks ? 1.0 : 0.9;
	struct train_result tr;
	struct timespec t0, t1, c0, c1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	if (train_run(&m, &data, &to, &tr, &e))
		goto fail;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	double cpu = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
	/* the training loop only: wall and CPU (all threads) seconds, the kernels' build */
	fprintf(stderr,
		"toyllm pretrain: L%d D%d H%d: %d steps, %ld positions, loss %.4f -> %.4f, %.1f s, "
		"%.0f tok/s, cpu %.2f s, %.0f tok/cpu-s, kernels %s\n",
		layers, dim, heads, tr.steps, tr.rows_tokens, tr.first_loss, tr.final_loss, secs,
		(double)tr.rows_tokens / (secs > 0 ? secs : 1), cpu,
		(double)tr.rows_tokens / (cpu > 0 ? cpu : 1), kernels_name());

	char name[64];
	snprintf(name, sizeof name, "L%d-D%d-H%d", layers, dim, heads);
	struct metrics mt;
	metrics_begin(&mt, name);
	metrics_value(&mt, "train_loss_first", tr.first_loss);
	metrics_value(&mt, "train_loss", tr.final_loss);
	metrics_value(&mt, "steps", tr.steps);
	metrics_value(&mt, "parameters", (double)m.nparams);
	struct lines et;
	if (lines_load(&et, world, "eval_text.txt", &e) == 0) {
		struct seqs es;
		seqs_init(&es);
		double l;
		if (seqs_add_lines(&es, &v, et.line, et.n, &e) == 0 && eval_loss(&m, &es, &l, &e) == 0) {
			metrics_value(&mt, "heldout_text_loss", l);
			metrics_value(&mt, "heldout_text_perplexity", exp(l));
		}
		seqs_release(&es);
		lines_release(&et);
	}
	if (!nochecks && quick_checks(&m, &v, world, &mt, &e)) {
		sb_release(&mt.sb);
		code = EXIT_USAGE;
		goto fail;
	}
	struct sbuf vs;
	sb_init(&vs);
	vocab_serialize(&v, &vs);
	if (model_save(&m, out, &e) || tl_write_file(out, "vocab.txt", vs.buf, vs.len, &e) ||
	    metrics_write(&mt, out, &e)) {
		sb_release(&vs);
		goto fail;
	}
	sb_release(&vs);
	tl_progress(1.0, "pretrain done");
	code = 0;
fail:
	gpt_free(&m);
fail_nomodel:
	pool_free(pool);
	seqs_release(&data);
	lines_release(&corpus);
	vocab_release(&v);
	if (code)
		return cli_die("pretrain", code, e.msg);
	return 0;
}
