/*
 * cmd_generate: `toyllm generate` replies to one prompt (--prompt) or to every
 * example of a JSON-lines split (--prompts), greedy by default or sampled with
 * a seed, and writes generations.jsonl under --out (and the replies to stdout).
 */
#include <stdio.h>
#include <stdlib.h>

#include "chat.h"
#include "cli.h"
#include "cmds.h"

static const char usage[] =
	"usage: toyllm generate --model DIR (--prompt TEXT | --prompts FILE) --out DIR [options]\n"
	"\n"
	"Replies in the chat format <user> PROMPT <eoi> <assistant> ..., stopping at the first\n"
	"turn marker (<end>, <user>, <assistant>, <eoi>, <pad>).\n"
	"  --model DIR         a model directory (model.bin + vocab.txt)\n"
	"  --prompt TEXT       one prompt\n"
	"  --prompts FILE      a JSON-lines split (uses each line's \"prompt\")\n"
	"  --out DIR           output directory (generations.jsonl)\n"
	"  --temperature X     0 = greedy (default), else sampling\n"
	"  --seed N            sampling seed (default $STUDY_SEED or 1)\n";

int cmd_generate(int argc, char **argv)
{
	const char *model = NULL, *prompt = NULL, *prompts = NULL, *out = NULL;
	double temp = 0;
	uint64_t seed = 1;
	struct opt opts[] = {
		{"model", OPT_STR, &model, 0},		{"prompt", OPT_STR, &prompt, 0},
		{"prompts", OPT_STR, &prompts, 0},	{"out", OPT_STR, &out, 0},
		{"temperature", OPT_DOUBLE, &temp, 0}, {"seed", OPT_U64, &seed, 0},
	};
	int nopts = (int)(sizeof opts / sizeof opts[0]);
	struct tl_err e;
	int rc = cli_parse(argc, argv, opts, nopts, &e);
	if (rc == 1) {
		fputs(usage, stdout);
		return 0;
	}
	if (rc || cli_seed(seed, cli_opt(opts, nopts, "seed")->seen, &seed, &e))
		return cli_die("generate", EXIT_USAGE, e.msg);
	if (!model || (!prompt == !prompts))
		return cli_die("generate", EXIT_USAGE,
			       "--model and exactly one of --prompt / --prompts are required");
	if (temp < 0 || temp > 100)
		return cli_die("generate", EXIT_USAGE, "--temperature out of range 0..100");
	if (cli_out_dir(out, &e))
		return cli_die("generate", EXIT_USAGE, e.msg);
	struct gpt m;
	struct vocab v;
	if (load_model_dir(model, &m, &v, &e))
		return cli_die("generate", EXIT_USAGE, e.msg);
	struct exset x = {0, NULL};
	int code = EXIT_USAGE;
	if (prompts) {
		char *text = tl_read_file(prompts, NULL, &e);
		rc = text ? exset_parse(&x, text, prompts, &e) : -1;
		free(text);
		if (rc)
			goto fail;
	}
	struct gpt_kv kv;
	if (gpt_kv_init(&kv, &m, &e)) {
		code = EXIT_FAIL;
		goto fail;
	}
	struct rng r;
	rng_seed(&r, seed);
	struct sbuf outb, reply;
	sb_init(&outb);
	sb_init(&reply);
	int n = prompts ? x.n : 1;
	for (int i = 0; i < n; i++) {
		const char *pr = prompts ? x.ex[i].prompt : prompt;
		sb_reset(&reply);
		if (chat_reply(&m, &kv, &v, pr, &reply, (float)temp, &r, &e))
			break;
		const char *rep = reply.buf ? reply.buf : "";
		printf("%s\n", rep);
		sb_adds(&outb, "{\"prompt\": ");
		json_str(&outb, pr);
		sb_adds(&outb, ", \"reply\": ");
		json_str(&outb, rep);
		if (prompts) {
			sb_adds(&outb, ", \"answer\": ");
			json_str(&outb, x.ex[i].answer);
		}
		sb_adds(&outb, "}\n");
		if (i + 1 == n)
			code = 0;
	}
	if (code == 0 && tl_write_file(out, "generations.jsonl", outb.buf ? outb.buf : "", outb.len, &e))
		code = EXIT_FAIL;
	sb_release(&outb);
	sb_release(&reply);
	gpt_kv_release(&kv);
fail:
	exset_release(&x);
	gpt_free(&m);
	vocab_release(&v);
	if (code)
		return cli_die("generate", code, e.msg);
	return 0;
}
