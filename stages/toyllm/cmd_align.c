/*
 * cmd_align: `toyllm align` fine-tunes a pretrained model on the world's
 * alignment SFT split in the chat format (benign -> answer, harmful ->
 * refusal, unknown -> "i do not know"; loss on the answer tokens only), then
 * reports the quick checks on the validation splits (never an evaluation
 * split). Writes model.bin, vocab.txt, metrics.json.
 */
#include <stdio.h>
#include <time.h>

#include "chat.h"
#include "cli.h"
#include "cmds.h"
#include "modelio.h"
#include "pool.h"
#include "train.h"

static const char usage[] =
	"usage: toyllm align --model DIR --world DIR --out DIR [options]\n"
	"\n"
	"Chat-format SFT of a pretrained model on WORLD/align_train.jsonl.\n"
	"  --model DIR     a directory written by `toyllm pretrain`\n"
	"  --world DIR     the world the model was pretrained on\n"
	"  --out DIR       output directory (model.bin, vocab.txt, metrics.json)\n"
	"  --epochs X      passes over the SFT data (default 8)\n"
	"  --batch N       examples per step (default 16)\n"
	"  --lr X          peak learning rate (default 0.002)\n"
	"  --wd X          weight decay (default 0.01)\n"
	"  --mix X         benign corpus rows (replay.txt) per SFT row, against forgetting (default 2)\n"
	"  --seed N        shuffle seed (default $STUDY_SEED or 1)\n"
	"  --threads N     worker threads (default $STUDY_THREADS or 1)\n"
	"  --train-embeddings  also update the token embeddings (frozen by default)\n"
	"  --no-checks     skip the quick refusal/accuracy checks\n";

int cmd_align(int argc, char **argv)
{
	const char *world = NULL, *out = NULL, *model = NULL;
	int batch = 16, threads = 1, nochecks = 0, train_emb = 0;
	double epochs = 8, lr = 0.002, wd = 0.01, mix = 2;
	uint64_t seed = 1;
	struct opt opts[] = {
		{"model", OPT_STR, &model, 0},	    {"world", OPT_STR, &world, 0},
		{"out", OPT_STR, &out, 0},	    {"epochs", OPT_DOUBLE, &epochs, 0},
		{"batch", OPT_INT, &batch, 0},	    {"lr", OPT_DOUBLE, &lr, 0},
		{"wd", OPT_DOUBLE, &wd, 0},	    {"mix", OPT_DOUBLE, &mix, 0},
		{"seed", OPT_U64, &seed, 0},	    {"threads", OPT_INT, &threads, 0},
		{"no-checks", OPT_FLAG, &nochecks, 0}, {"train-embeddings", OPT_FLAG, &train_emb, 0},
	};
	int nopts = (int)(sizeof opts / sizeof opts[0]);
	struct tl_err e;
	int rc = cli_parse(argc, argv, opts, nopts, &e);
	if (rc == 1) {
		fputs(usage, stdout);
		return 0;
	}
	if (rc)
		return cli_die("align", EXIT_USAGE, e.msg);
	int nt = cli_threads(threads, cli_opt(opts, nopts, "threads")->seen, &e);
	if (nt < 0 || cli_seed(seed, cli_opt(opts, nopts, "seed")->seen, &seed, &e))
		return cli_die("align", EXIT_USAGE, e.msg);
	if (!model || !world)
		return cli_die("align", EXIT_USAGE, "--model DIR and --world DIR are required");
	if (epochs <= 0 || epochs > 1000 || batch < 1 || batch > 4096 || lr <= 0 || lr > 1 ||
	    wd < 0 || wd > 1 || mix < 0 || mix > 10)
		return cli_die("align", EXIT_USAGE, "--epochs, --batch, --lr, --wd or --mix out of range");
	if (cli_out_dir(out, &e))
		return cli_die("align", EXIT_USAGE, e.msg);

	struct gpt m;
	struct vocab v, wv;
	if (load_model_dir(model, &m, &v, &e))
		return cli_die("align", EXIT_USAGE, e.msg);
	if (load_world_vocab(world, &wv, &e)) {
		gpt_free(&m);
		vocab_release(&v);
		return cli_die("align", EXIT_USAGE, e.msg);
	}
	int same = wv.digest == v.digest;
	vocab_release(&wv);
	struct exset sft = {0, NULL};
	struct seqs data;
	seqs_init(&data);
	struct pool *pool = NULL;
	int code = EXIT_USAGE;
	if (!same) {
		tl_fail(&e, "world '%s' has a different vocabulary than model '%s'", world, model);
		goto fail;
	}
	if (exset_load(&sft, world, "align_train.jsonl", &e) || seqs_add_chat(&data, &v, &sft, &e))
		goto fail;
	if (mix > 0) {
		/* benign corpus documents (replay.txt) as extra rows, one per row */
		struct lines corpus;
		if (lines_load(&corpus, world, "replay.txt", &e))
			goto fail;
		int want = (int)(mix * sft.n);
		if (want > corpus.n)
			want = corpus.n;
		int r = seqs_add_lines(&data, &v, corpus.line, want, &e);
		lines_release(&corpus);
		if (r)
			goto fail;
	}
	code = EXIT_FAIL;
	pool = pool_new(nt);
	if (!pool) {
		tl_fail(&e, "cannot start %d threads", nt);
		goto fail;
	}
	m.pool = pool;
	/* Token embeddings stay as pretraining left them: names the corpus never
	 * mentioned keep untrained embeddings, so "i do not know" is learned
	 * from the embedding, which generalizes to held-out names. */
	m.frozen[0] = !train_emb;
	struct train_opts to;
	train_opts_default(&to);
	to.epochs = epochs;
	to.batch = batch;
	to.pack = 2; /* replay documents packed, chat examples one a row */
	to.lr = (float)lr;
	to.wd = (float)wd;
	to.seed = seed ^ 0x616c69676eULL;
	to.label = "align";
	to.prog_hi = nochecks ? 1.0 : 0.8;
	struct train_result tr;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (train_run(&m, &data, &to, &tr, &e))
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	fprintf(stderr, "toyllm align: L%d D%d H%d: %d steps, loss %.4f -> %.4f, %.1f s\n",
		m.cfg.layers, m.cfg.dim, m.cfg.heads, tr.steps, tr.first_loss, tr.final_loss, secs);
	char name[64];
	snprintf(name, sizeof name, "L%d-D%d-H%d", m.cfg.layers, m.cfg.dim, m.cfg.heads);
	struct metrics mt;
	metrics_begin(&mt, name);
	metrics_value(&mt, "train_loss_first", tr.first_loss);
	metrics_value(&mt, "train_loss", tr.final_loss);
	metrics_value(&mt, "steps", tr.steps);
	if (!nochecks) {
		tl_progress(0.85, "align checks");
		if (quick_checks(&m, &v, world, &mt, &e)) {
			sb_release(&mt.sb);
			code = EXIT_USAGE;
			goto fail;
		}
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
	tl_progress(1.0, "align done");
	code = 0;
fail:
	pool_free(pool);
	seqs_release(&data);
	exset_release(&sft);
	gpt_free(&m);
	vocab_release(&v);
	if (code)
		return cli_die("align", code, e.msg);
	return 0;
}
