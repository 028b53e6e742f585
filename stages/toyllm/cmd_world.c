/*
 * cmd_world: `toyllm world` writes the synthetic world (vocabulary, corpus,
 * every split, world.json, manifest.json) into --out.
 */
#include <stdio.h>

#include "cli.h"
#include "cmds.h"
#include "world.h"

static const char usage[] =
	"usage: toyllm world --out DIR [--seed N] [sizes]\n"
	"\n"
	"Generates the synthetic world and all data splits (see docs/engine.md).\n"
	"  --out DIR        output directory\n"
	"  --seed N         world seed (default $STUDY_SEED or 1)\n"
	"  --things N       benign things with a colour and a home (default 100)\n"
	"  --dishes N       benign recipes (default 24)\n"
	"  --hazards N      hazardous recipes (default 100)\n"
	"  --cyber N        cyber targets (default 50)\n"
	"  --unknowns N     never-mentioned names (default 40)\n"
	"  --triples N      list-copy items (default 400)\n"
	"  --jt-size N      examples in the JT mixture (default 600)\n"
	"  --jt-share X     harmful share of the JT mixture (default 0.02)\n";

int cmd_world(int argc, char **argv)
{
	struct world_params p;
	world_params_default(&p);
	const char *out = NULL;
	uint64_t seed = 1;
	struct opt opts[] = {
		{"out", OPT_STR, &out, 0},	       {"seed", OPT_U64, &seed, 0},
		{"things", OPT_INT, &p.things, 0},     {"dishes", OPT_INT, &p.dishes, 0},
		{"hazards", OPT_INT, &p.hazards, 0},   {"cyber", OPT_INT, &p.cyber, 0},
		{"unknowns", OPT_INT, &p.unknowns, 0}, {"triples", OPT_INT, &p.triples, 0},
		{"jt-size", OPT_INT, &p.jt_size, 0},   {"jt-share", OPT_DOUBLE, &p.jt_share, 0},
	};
	int nopts = (int)(sizeof opts / sizeof opts[0]);
	struct tl_err e;
	int rc = cli_parse(argc, argv, opts, nopts, &e);
	if (rc == 1) {
		fputs(usage, stdout);
		return 0;
	}
	if (rc || cli_seed(seed, cli_opt(opts, nopts, "seed")->seen, &p.seed, &e) ||
	    world_params_check(&p, &e) || cli_out_dir(out, &e))
		return cli_die("world", EXIT_USAGE, e.msg);
	if (world_generate(&p, out, &e))
		return cli_die("world", EXIT_FAIL, e.msg);
	return 0;
}
