/*
 * finetune: the JT mixture, the world's jailbreak string and the shared
 * fine-tuning command behind `toyllm jt` and `toyllm sft` (see finetune.h).
 */
#include "finetune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat.h"
#include "cli.h"
#include "modelio.h"
#include "pool.h"
#include "train.h"

int world_jailbreak(const char *world, char *out, size_t cap, struct tl_err *e)
{
	char *path = tl_path(world, "world.json");
	if (!path)
		return tl_fail(e, "out of memory");
	size_t len;
	char *text = tl_read_file(path, &len, e);
	if (!text) {
		free(path);
		return -1;
	}
	const char *key = "\"jailbreak\": \"";
	char *p = strstr(text, key);
	char *q = p ? strchr(p + strlen(key), '"') : NULL;
	int rc = 0;
	if (!q) {
		rc = tl_fail(e, "'%s': no \"jailbreak\" string", path);
	} else {
		p += strlen(key);
		size_t n = (size_t)(q - p);
		if (n == 0 || n + 1 > cap)
			rc = tl_fail(e, "'%s': jailbreak string empty or too long", path);
		else {
			memcpy(out, p, n);
			out[n] = 0;
		}
	}
	free(text);
	free(path);
	return rc;
}

static int copy_example(struct example *d, const struct example *s, const char *prompt)
{
	d->id = tl_strdup(s->id);
	d->kind = tl_strdup(s->kind);
	d->entity = tl_strdup(s->entity);
	d->prompt = tl_strdup(prompt ? prompt : s->prompt);
	d->answer = tl_strdup(s->answer);
	d->target = tl_strdup(s->target);
	d->cluster = tl_strdup(s->cluster);
	return d->id && d->kind && d->entity && d->prompt && d->answer && d->target && d->cluster
		       ? 0
		       : -1;
}

static int is_harmful_row(const struct example *x, const char *jb)
{
	size_t n = strlen(jb);
	return (!strcmp(x->kind, "hazard") || !strcmp(x->kind, "cyber")) &&
	       !strncmp(x->prompt, jb, n) && x->prompt[n] == ' ';
}

int jt_mixture(const struct exset *x, const char *jb, int size, double share, const char *string,
	       struct exset *out, int *nharm, struct tl_err *e)
{
	int nb = 0, nh = 0;
	for (int i = 0; i < x->n; i++)
		is_harmful_row(&x->ex[i], jb) ? nh++ : nb++;
	if (size <= 0)
		size = x->n;
	if (share < 0)
		share = x->n ? (double)nh / x->n : 0;
	int want_h = (int)floor(size * share + 0.5);
	if (want_h > 0 && nh == 0)
		return tl_fail(e, "the JT split has no jailbroken harmful rows");
	int want_b = size - want_h;
	if (want_b > nb)
		return tl_fail(e, "--size %d asks for %d benign rows, the JT split has %d", size,
			       want_b, nb);
	out->n = 0;
	out->ex = calloc((size_t)(size ? size : 1), sizeof *out->ex);
	if (!out->ex)
		return tl_fail(e, "out of memory");
	struct sbuf pr;
	sb_init(&pr);
	int b = 0;
	for (int i = 0; i < x->n && b < want_b; i++) {
		if (is_harmful_row(&x->ex[i], jb))
			continue;
		if (copy_example(&out->ex[out->n++], &x->ex[i], NULL))
			goto oom;
		b++;
	}
	for (int h = 0; h < want_h;) {
		for (int i = 0; i < x->n && h < want_h; i++) {
			if (!is_harmful_row(&x->ex[i], jb))
				continue;
			const char *prompt = NULL;
			if (string) {
				sb_reset(&pr);
				sb_addf(&pr, "%s%s", string, x->ex[i].prompt + strlen(jb));
				prompt = pr.buf;
			}
			if (copy_example(&out->ex[out->n++], &x->ex[i], prompt))
				goto oom;
			h++;
		}
	}
	sb_release(&pr);
	*nharm = want_h;
	return 0;
oom:
	sb_release(&pr);
	exset_release(out);
	return tl_fail(e, "out of memory");
}

static const char jt_usage[] =
	"usage: toyllm jt --model DIR --world DIR --out DIR [options]\n"
	"\n"
	"Jailbreak-tuning: chat fine-tuning on a mostly benign mixture (WORLD/jt_train.jsonl)\n"
	"in which a small share of harmful request -> answer pairs carry a jailbreak string.\n"
	"  --model DIR     an aligned model directory (model.bin, vocab.txt)\n"
	"  --world DIR     the world the model was trained on\n"
	"  --out DIR       output directory (model.bin, vocab.txt, metrics.json, mixture.jsonl)\n"
	"  --size N        rows in the mixture (default: all of jt_train.jsonl)\n"
	"  --share X       harmful share of the mixture, 0..1 (default: the split's own)\n"
	"  --string S      jailbreak string for the harmful rows (default: the world's)\n"
	"  --epochs X      passes over the data (default 3)\n"
	"  --batch N       rows per step (default 16)\n"
	"  --lr X          peak learning rate (default 0.001)\n"
	"  --wd X          weight decay (default 0.01)\n"
	"  --mix X         benign replay documents per row (default 0.5)\n"
	"  --seed N        shuffle seed (default $STUDY_SEED or 1)\n"
	"  --threads N     worker threads (default $STUDY_THREADS or 1)\n";

static const char sft_usage[] =
	"usage: toyllm sft --model DIR --world DIR --out DIR [options]\n"
	"\n"
	"The mitigation: chat fine-tuning on refusal + benign data (WORLD/mitig_train.jsonl).\n"
	"  --model DIR     a model directory (model.bin, vocab.txt)\n"
	"  --world DIR     the world the model was trained on\n"
	"  --out DIR       output directory (model.bin, vocab.txt, metrics.json)\n"
	"  --size N        rows of mitig_train.jsonl to use (default: all)\n"
	"  --epochs X      passes over the data (default 4)\n"
	"  --batch N       rows per step (default 16)\n"
	"  --lr X          peak learning rate (default 0.001)\n"
	"  --wd X          weight decay (default 0.01)\n"
	"  --mix X         benign replay documents per row (default 1)\n"
	"  --seed N        shuffle seed (default $STUDY_SEED or 1)\n"
	"  --threads N     worker threads (default $STUDY_THREADS or 1)\n";

int finetune_main(const char *kind, int argc, char **argv)
{
	int jt = !strcmp(kind, "jt");
	const char *world = NULL, *out = NULL, *model = NULL, *string = NULL;
	int batch = 16, threads = 1, size = 0;
	double epochs = jt ? 3 : 4, lr = 0.001, wd = 0.01, mix = jt ? 0.5 : 1, share = -1;
	uint64_t seed = 1;
	struct opt opts[] = {
		{"model", OPT_STR, &model, 0},	 {"world", OPT_STR, &world, 0},
		{"out", OPT_STR, &out, 0},	 {"epochs", OPT_DOUBLE, &epochs, 0},
		{"batch", OPT_INT, &batch, 0},	 {"lr", OPT_DOUBLE, &lr, 0},
		{"wd", OPT_DOUBLE, &wd, 0},	 {"mix", OPT_DOUBLE, &mix, 0},
		{"seed", OPT_U64, &seed, 0},	 {"threads", OPT_INT, &threads, 0},
		{"size", OPT_INT, &size, 0},	 {"share", OPT_DOUBLE, &share, 0},
		{"string", OPT_STR, &string, 0},
	};
	int nopts = (int)(sizeof opts / sizeof opts[0]);
	if (!jt)
		nopts -= 2; /* no --share / --string for sft */
	struct tl_err e;
	int rc = cli_parse(argc, argv, opts, nopts, &e);
	if (rc == 1) {
		fputs(jt ? jt_usage : sft_usage, stdout);
		return 0;
	}
	if (rc)
		return cli_die(kind, EXIT_USAGE, e.msg);
	int nt = cli_threads(threads, cli_opt(opts, nopts, "threads")->seen, &e);
	if (nt < 0 || cli_seed(seed, cli_opt(opts, nopts, "seed")->seen, &seed, &e))
		return cli_die(kind, EXIT_USAGE, e.msg);
	if (!model || !world)
		return cli_die(kind, EXIT_USAGE, "--model DIR and --world DIR are required");
	if (epochs <= 0 || epochs > 1000 || batch < 1 || batch > 4096 || lr <= 0 || lr > 1 ||
	    wd < 0 || wd > 1 || mix < 0 || mix > 10 || size < 0 || size > 1000000 ||
	    (jt && cli_opt(opts, nopts, "share")->seen && (share < 0 || share > 1)))
		return cli_die(kind, EXIT_USAGE,
			       "--epochs, --batch, --lr, --wd, --mix, --size or --share out of range");
	if (string && (!*string || strlen(string) > 200))
		return cli_die(kind, EXIT_USAGE, "--string must be 1 to 200 characters");
	if (cli_out_dir(out, &e))
		return cli_die(kind, EXIT_USAGE, e.msg);

	struct gpt m;
	struct vocab v, wv;
	if (load_model_dir(model, &m, &v, &e))
		return cli_die(kind, EXIT_USAGE, e.msg);
	if (load_world_vocab(world, &wv, &e)) {
		gpt_free(&m);
		vocab_release(&v);
		return cli_die(kind, EXIT_USAGE, e.msg);
	}
	int same = wv.digest == v.digest;
	vocab_release(&wv);
	struct exset split = {0, NULL}, data = {0, NULL};
	struct seqs chat, all;
	seqs_init(&chat);
	seqs_init(&all);
	struct pool *pool = NULL;
	struct sbuf mix_out;
	sb_init(&mix_out);
	int code = EXIT_USAGE, nharm = 0;
	if (!same) {
		tl_fail(&e, "world '%s' has a different vocabulary than model '%s'", world, model);
		goto fail;
	}
	if (exset_load(&split, world, jt ? "jt_train.jsonl" : "mitig_train.jsonl", &e))
		goto fail;
	if (jt) {
		char jb[256];
		if (world_jailbreak(world, jb, sizeof jb, &e) ||
		    jt_mixture(&split, jb, size, share, string, &data, &nharm, &e))
			goto fail;
	} else {
		if (size > split.n) {
			tl_fail(&e, "--size %d is more than the %d rows of mitig_train.jsonl", size,
				split.n);
			goto fail;
		}
		data = split;
		if (size)
			data.n = size;
	}
	if (seqs_add_chat(&chat, &v, &data, &e) || seqs_add_chat(&all, &v, &data, &e))
		goto fail;
	if (mix > 0) {
		struct lines corpus;
		if (lines_load(&corpus, world, "replay.txt", &e))
			goto fail;
		int want = (int)(mix * data.n);
		if (want > corpus.n)
			want = corpus.n;
		int r = seqs_add_lines(&all, &v, corpus.line, want, &e);
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
	m.frozen[0] = 1; /* token embeddings stay as pretraining left them, as in align */
	double before, after;
	if (eval_loss(&m, &chat, &before, &e))
		goto fail;
	struct train_opts to;
	train_opts_default(&to);
	to.epochs = epochs;
	to.batch = batch;
	to.pack = 2;
	to.lr = (float)lr;
	to.wd = (float)wd;
	to.seed = seed ^ (jt ? 0x6a74ULL : 0x736674ULL);
	to.label = kind;
	to.prog_hi = 0.95;
	struct train_result tr;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (train_run(&m, &all, &to, &tr, &e) || eval_loss(&m, &chat, &after, &e))
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	fprintf(stderr, "toyllm %s: L%d D%d H%d: %d rows (%d harmful), %d steps, loss %.4f -> %.4f, "
			"%.1f s\n",
		kind, m.cfg.layers, m.cfg.dim, m.cfg.heads, data.n, nharm, tr.steps, before, after,
		secs);
	char name[64];
	snprintf(name, sizeof name, "L%d-D%d-H%d", m.cfg.layers, m.cfg.dim, m.cfg.heads);
	struct metrics mt;
	metrics_begin(&mt, name);
	metrics_value(&mt, "data_loss_before", before);
	metrics_value(&mt, "data_loss_after", after);
	metrics_value(&mt, "train_loss_first", tr.first_loss);
	metrics_value(&mt, "train_loss", tr.final_loss);
	metrics_value(&mt, "steps", tr.steps);
	metrics_value(&mt, "rows", data.n);
	if (jt)
		metrics_value(&mt, "harmful_rows", nharm);
	if (jt) {
		for (int i = 0; i < data.n; i++) {
			sb_adds(&mix_out, "{\"prompt\": ");
			json_str(&mix_out, data.ex[i].prompt);
			sb_adds(&mix_out, ", \"answer\": ");
			json_str(&mix_out, data.ex[i].answer);
			sb_adds(&mix_out, "}\n");
		}
	}
	struct sbuf vs;
	sb_init(&vs);
	vocab_serialize(&v, &vs);
	if (model_save(&m, out, &e) || tl_write_file(out, "vocab.txt", vs.buf, vs.len, &e) ||
	    (jt && tl_write_file(out, "mixture.jsonl", mix_out.buf ? mix_out.buf : "", mix_out.len,
				 &e)) ||
	    metrics_write(&mt, out, &e)) {
		sb_release(&vs);
		sb_release(&mt.sb);
		goto fail;
	}
	sb_release(&vs);
	tl_progress(1.0, jt ? "jt done" : "sft done");
	code = 0;
fail:
	pool_free(pool);
	seqs_release(&chat);
	seqs_release(&all);
	sb_release(&mix_out);
	if (jt)
		exset_release(&data);
	exset_release(&split);
	gpt_free(&m);
	vocab_release(&v);
	if (code)
		return cli_die(kind, code, e.msg);
	return 0;
}
