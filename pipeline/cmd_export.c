/*
 * cmd_export: `study export --format prov-json RUN-ID` — a recorded run as a
 * W3C PROV-JSON document on stdout (provjson.c). Read-only.
 */
#include "cli.h"
#include "prov_query.h"
#include "provjson.h"
#include "xalloc.h"

#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: study export [--format prov-json] RUN-ID|latest [--store DIR]\n"
		   "\n"
		   "Print a recorded run (see 'study log') as a W3C PROV-JSON document:\n"
		   "artifacts as entities, stage executions as activities, the tool, user\n"
		   "and git commit as agents.\n"
		   "\n"
		   "  --format FMT  the output format; only prov-json (the default)\n"
		   "  --store DIR   the artifact store (default: $STUDY_STORE, else artifacts/ here or above)\n");
}

static int parse_run_id(const char *s, int64_t *id)
{
	long long v;
	if (cli_parse_count(s, INT64_MAX, &v) < 0)
		return -1;
	*id = v;
	return 0;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_opt = NULL, *format = "prov-json";
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store_opt = optarg; break;
		case 'f': format = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default:
			cli_error("unknown option or missing value: '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (strcmp(format, "prov-json")) {
		cli_error("unknown export format '%s' (known: prov-json)", format);
		return EXIT_USAGE;
	}
	if (argc - optind != 1) {
		cli_error(argc - optind < 1 ? "export needs a run id (see 'study log')"
					    : "give exactly one run id");
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *what = argv[optind];
	int64_t id = 0;
	if (strcmp(what, "latest") && parse_run_id(what, &id) < 0) {
		cli_error("'%s' is not a run id (a positive number, or 'latest')", what);
		return EXIT_USAGE;
	}
	struct strbuf err = STRBUF_INIT;
	struct prov *p = NULL;
	int rc = EXIT_USAGE;
	if (prov_open_store_readonly(store_dir_default(store_opt), &p, &err) < 0) {
		cli_error("%s", err.buf);
		goto out;
	}
	if (!id) {
		struct prov_run_info *runs = NULL;
		size_t nr = 0;
		if (prov_list_runs(p, 1, &runs, &nr, &err) < 0) {
			cli_error("%s", err.buf);
			rc = EXIT_FAILED;
			goto out;
		}
		if (nr)
			id = runs[0].id;
		prov_runs_free(runs, nr);
		if (!id) {
			cli_error("no run recorded yet");
			goto out;
		}
	}
	cJSON *doc = NULL;
	int found = provjson_export(p, id, &doc, &err);
	if (found < 0) {
		cli_error("%s", err.buf);
		rc = EXIT_FAILED;
		goto out;
	}
	if (!found) {
		cli_error("no run %lld recorded", (long long)id);
		goto out;
	}
	char *text = cJSON_Print(doc);
	if (text)
		printf("%s\n", text);
	free(text);
	cJSON_Delete(doc);
	rc = EXIT_OK;
out:
	prov_close(p);
	strbuf_release(&err);
	return rc;
}
