/*
 * cmd_info: `toyllm info` checks a model file and prints its header and
 * parameter counts as JSON (to stdout, and to --out/info.json when given).
 */
#include <stdio.h>

#include "cli.h"
#include "cmds.h"
#include "modelio.h"

static const char usage[] =
	"usage: toyllm info --model DIR|FILE [--out DIR]\n"
	"\n"
	"Loads and checks a model (header, digests, vocabulary) and prints its config.\n";

int cmd_info(int argc, char **argv)
{
	const char *model = NULL, *out = NULL;
	struct opt opts[] = {{"model", OPT_STR, &model, 0}, {"out", OPT_STR, &out, 0}};
	struct tl_err e;
	int rc = cli_parse(argc, argv, opts, 2, &e);
	if (rc == 1) {
		fputs(usage, stdout);
		return 0;
	}
	if (rc)
		return cli_die("info", EXIT_USAGE, e.msg);
	if (!model)
		return cli_die("info", EXIT_USAGE, "--model is required");
	if (out && cli_out_dir(out, &e))
		return cli_die("info", EXIT_USAGE, e.msg);
	struct gpt m;
	struct vocab v;
	if (load_model_dir(model, &m, &v, &e))
		return cli_die("info", EXIT_USAGE, e.msg);
	struct sbuf sb;
	sb_init(&sb);
	sb_addf(&sb,
		"{\"format_version\": %u, \"vocab\": %d, \"max_seq\": %d, \"layers\": %d, \"dim\": %d, "
		"\"heads\": %d, \"parameters\": %zu, \"tokenizer_digest\": \"%016llx\", \"tensors\": {",
		MODEL_VERSION, m.cfg.vocab, m.cfg.max_seq, m.cfg.layers, m.cfg.dim, m.cfg.heads,
		m.nparams, (unsigned long long)m.tok_digest);
	for (int i = 0; i < GPT_NTENSORS; i++)
		sb_addf(&sb, "%s\"%s\": %zu", i ? ", " : "", gpt_param_names[i], m.sizes[i]);
	sb_adds(&sb, "}}\n");
	fputs(sb.buf, stdout);
	int code = 0;
	if (out && tl_write_file(out, "info.json", sb.buf, sb.len, &e))
		code = EXIT_FAIL;
	sb_release(&sb);
	gpt_free(&m);
	vocab_release(&v);
	if (code)
		return cli_die("info", code, e.msg);
	return 0;
}
