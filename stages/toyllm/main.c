/*
 * main: `toyllm SUBCOMMAND [options]`, dispatch through the command table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "kernels.h"
#include "util.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{"world", cmd_world, "generate the synthetic world and its data splits"},
	{"pretrain", cmd_pretrain, "build a model and train it on the world's corpus"},
	{"align", cmd_align, "chat SFT: answer benign, refuse harmful, admit unknowns"},
	{"model", cmd_model, "one study model: pretrain into OUT/pretrain, then align into OUT"},
	{"generate", cmd_generate, "reply to prompts with a model"},
	{"info", cmd_info, "print a model file's header"},
	{"jt", cmd_jt, "jailbreak-tuning: fine-tune on a mixture with jailbroken harmful pairs"},
	{"wo", cmd_wo, "weight orthogonalization: remove the refusal direction"},
	{"sft", cmd_sft, "the mitigation: fine-tune on refusal + benign data"},
	{"eval", cmd_eval, "evaluate a model on one task, write metrics.json"},
};

static void usage(FILE *f)
{
	fputs("usage: toyllm SUBCOMMAND [options]   (toyllm SUBCOMMAND --help)\n\n", f);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	/* which build of the arithmetic runs (docs/engine.md); all give the same bits */
	struct tl_err e;
	if (kernels_select(getenv("TOYLLM_KERNELS"), &e)) {
		fprintf(stderr, "toyllm: error: %s\n", e.msg);
		return 2;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "toyllm: error: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
