/*
 * cmd_model: `toyllm model` makes one study model in one process: pretrain
 * into OUT/pretrain, then align that model into OUT. It owns only the option
 * mapping; the work is cmd_pretrain and cmd_align, called with the argv the
 * two separate commands would get, so the files written are byte-identical
 * to `toyllm pretrain ... --out OUT/pretrain && toyllm align --model
 * OUT/pretrain ... --out OUT` (what the studies used to run through sh -c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"

static const char usage[] =
	"usage: toyllm model --world DIR --out DIR [options]\n"
	"\n"
	"Pretrains a model on WORLD/corpus.txt into OUT/pretrain (as `toyllm pretrain`),\n"
	"then aligns it into OUT (as `toyllm align --model OUT/pretrain`): one study stage.\n"
	"  --world DIR          a directory written by `toyllm world`\n"
	"  --out DIR            output directory (model.bin, vocab.txt, metrics.json, pretrain/)\n"
	"  --pretrain-epochs X  passes over the corpus (pretrain --epochs, default 20)\n"
	"  --align-epochs X     passes over the SFT data (align --epochs, default 8)\n"
	"  --seed N             seed of both steps (default $STUDY_SEED or 1)\n"
	"  --threads N          worker threads of both steps (default $STUDY_THREADS or 1)\n"
	"pretraining only (as `toyllm pretrain`; align keeps its own defaults):\n"
	"  --layers N           transformer blocks (default 2)\n"
	"  --dim N              residual width, a multiple of 8 (default 64)\n"
	"  --heads N            attention heads, dividing dim (default 4)\n"
	"  --seq N              context length (default 48)\n"
	"  --batch N            rows per step (default 8)\n"
	"  --lr X               peak learning rate (default 0.01)\n"
	"  --wd X               weight decay (default 0.01)\n"
	"  --no-checks          skip the quick checks after pretraining (align always\n"
	"                       runs its checks: they are part of its metrics.json)\n"
	"Errors name the step: `toyllm pretrain: error: ...` or `toyllm align: error: ...`.\n";

/* options copied verbatim to `pretrain` (and, for seed and threads, `align`) */
static const char *const pretrain_only[] = {"--layers", "--dim", "--heads", "--seq",
					    "--batch", "--lr", "--wd"};
static const char *const both[] = {"--seed", "--threads"};

enum { MAXARGS = 32 };

static void push(char **argv, int *argc, const char *s)
{
	argv[(*argc)++] = (char *)s;
}

/* appends "--NAME VALUE" when the option was given */
static void push_opt(char **argv, int *argc, struct opt *opts, int nopts, const char *flag)
{
	struct opt *o = cli_opt(opts, nopts, flag + 2);
	if (!o->seen)
		return;
	push(argv, argc, flag);
	push(argv, argc, *(const char **)o->dst);
}

int cmd_model(int argc, char **argv)
{
	const char *world = NULL, *out = NULL, *pe = NULL, *ae = NULL;
	const char *val[9] = {0};
	int nochecks = 0;
	struct opt opts[] = {
		{"world", OPT_STR, &world, 0},
		{"out", OPT_STR, &out, 0},
		{"pretrain-epochs", OPT_STR, &pe, 0},
		{"align-epochs", OPT_STR, &ae, 0},
		{"layers", OPT_STR, &val[0], 0},
		{"dim", OPT_STR, &val[1], 0},
		{"heads", OPT_STR, &val[2], 0},
		{"seq", OPT_STR, &val[3], 0},
		{"batch", OPT_STR, &val[4], 0},
		{"lr", OPT_STR, &val[5], 0},
		{"wd", OPT_STR, &val[6], 0},
		{"seed", OPT_STR, &val[7], 0},
		{"threads", OPT_STR, &val[8], 0},
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
		return cli_die("model", EXIT_USAGE, e.msg);
	if (!world)
		return cli_die("model", EXIT_USAGE, "--world DIR is required");
	/* align's own checks come only after pretraining: check its one value now */
	if (ae) {
		char *end;
		double x = strtod(ae, &end);
		if (!*ae || *end || !(x > 0 && x <= 1000))
			return cli_die("model", EXIT_USAGE, "--align-epochs out of range");
	}
	if (cli_out_dir(out, &e))
		return cli_die("model", EXIT_USAGE, e.msg);

	struct sbuf pdir;
	sb_init(&pdir);
	sb_addf(&pdir, "%s/pretrain", out);

	char *pa[MAXARGS];
	int pn = 0;
	push(pa, &pn, "--world");
	push(pa, &pn, world);
	for (size_t i = 0; i < sizeof pretrain_only / sizeof pretrain_only[0]; i++)
		push_opt(pa, &pn, opts, nopts, pretrain_only[i]);
	if (pe) {
		push(pa, &pn, "--epochs");
		push(pa, &pn, pe);
	}
	for (size_t i = 0; i < sizeof both / sizeof both[0]; i++)
		push_opt(pa, &pn, opts, nopts, both[i]);
	if (nochecks)
		push(pa, &pn, "--no-checks");
	push(pa, &pn, "--out");
	push(pa, &pn, pdir.buf);
	pa[pn] = NULL;

	char *aa[MAXARGS];
	int an = 0;
	push(aa, &an, "--model");
	push(aa, &an, pdir.buf);
	push(aa, &an, "--world");
	push(aa, &an, world);
	if (ae) {
		push(aa, &an, "--epochs");
		push(aa, &an, ae);
	}
	for (size_t i = 0; i < sizeof both / sizeof both[0]; i++)
		push_opt(aa, &an, opts, nopts, both[i]);
	push(aa, &an, "--out");
	push(aa, &an, out);
	aa[an] = NULL;

	/* progress: pretraining is the first half of the stage, aligning the second */
	tl_progress_span(0.0, 0.5);
	rc = cmd_pretrain(pn, pa);
	if (rc == 0) {
		tl_progress_span(0.5, 1.0);
		rc = cmd_align(an, aa);
	}
	tl_progress_span(0.0, 1.0);
	sb_release(&pdir);
	return rc;
}
