/*
 * cmd_why: `study why STAGE-ID`, why the latest execution of a stage ran
 * instead of being taken from the cache (or that it was a cache hit), from
 * provenance alone, as text or JSON (why.h). Read-only.
 */
#include "cli.h"
#include "prov_query.h"
#include "why.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: study why STAGE-ID [--store DIR] [--json]\n"
		   "\n"
		   "Explain why the latest execution of a stage ran instead of being taken\n"
		   "from the cache: what changed in its cache key (params, inputs and the\n"
		   "stage that produced them, code, env, argv, seed) since its previous\n"
		   "execution, or that it was the first, or retried a failure; or that it was\n"
		   "a cache hit and when its output was produced. Same as 'study show\n"
		   "STAGE-ID --why'.\n"
		   "\n"
		   "  --store DIR  the artifact store (default: $STUDY_STORE, else artifacts/ here or above)\n"
		   "  --json       print one JSON object\n");
}

int why_command(struct prov *p, const char *stage, int json)
{
	struct strbuf err = STRBUF_INIT;
	cJSON *o = NULL;
	int found = why_explain(p, stage, &o, &err);
	if (found <= 0) {
		cli_error("%s", err.buf);
		strbuf_release(&err);
		return found == 0 ? EXIT_USAGE : EXIT_FAILED;
	}
	cli_print_doc(o, json, why_print);
	strbuf_release(&err);
	return EXIT_OK;
}

int cmd_why(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_opt = NULL;
	int json = 0, c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			store_opt = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			cli_error("unknown option or missing value: '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		if (argc - optind < 1)
			cli_error("why needs a stage id (e.g. model/m1)");
		else
			cli_error("unexpected argument '%s'", argv[optind + 1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	struct strbuf err = STRBUF_INIT;
	struct prov *p = NULL;
	if (prov_open_store_readonly(store_dir_default(store_opt), &p, &err) < 0) {
		cli_error("%s", err.buf);
		strbuf_release(&err);
		return EXIT_USAGE;
	}
	strbuf_release(&err);
	int ret = why_command(p, argv[optind], json);
	prov_close(p);
	return ret;
}
