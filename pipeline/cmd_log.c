/*
 * cmd_log: `study log`, the recorded runs of a store, newest first, as text
 * (one line per run) or JSON. Reads the provenance database read-only.
 */
#include "cli.h"
#include "prov_query.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: study log [--store DIR] [--json] [-n N]\n"
		   "\n"
		   "List recorded runs, newest first.\n"
		   "\n"
		   "  --store DIR  the artifact store (default: $STUDY_STORE, else artifacts/ here or above)\n"
		   "  --json       print a JSON array of run objects\n"
		   "  -n N         show only the N newest runs\n");
}

static void print_text(const struct prov_run_info *r)
{
	char started[32], dur[32], commit[32];
	prov_format_time(r->started, started);
	if (r->ended > 0)
		prov_format_duration(r->ended - r->started, dur);
	else
		snprintf(dur, sizeof(dur), "-");
	if (!r->git_commit)
		snprintf(commit, sizeof(commit), "-");
	else if (!*r->git_commit)
		snprintf(commit, sizeof(commit), "(no commit)");
	else
		snprintf(commit, sizeof(commit), "%.12s%s", r->git_commit,
			 r->git_dirty == 1 ? "+dirty" : "");
	/* the run's summary line: the counts that are not zero add up to its plan */
	char more[96] = "";
	size_t n = 0;
	if (r->interrupted)
		n += (size_t)snprintf(more + n, sizeof(more) - n, ", interrupted %d", r->interrupted);
	if (r->skipped && n < sizeof(more))
		n += (size_t)snprintf(more + n, sizeof(more) - n, ", skipped %d", r->skipped);
	if (r->not_started && n < sizeof(more))
		snprintf(more + n, sizeof(more) - n, ", not started %d", r->not_started);
	printf("%4lld  %s  %-11s  %-20s  %-18s  ran %d, cached %d, failed %d%s  %s\n",
	       (long long)r->id, started, r->status ? r->status : "?",
	       r->study_name ? r->study_name : "?", commit, r->ran, r->cached, r->failed, more,
	       dur);
}

int cmd_log(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_opt = NULL;
	int json = 0, c;
	long long limit = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			store_opt = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'n':
			if (cli_parse_count(optarg, LONG_MAX, &limit) < 0) {
				cli_error("invalid -n value '%s' (want a positive number)", optarg);
				usage(stderr);
				return EXIT_USAGE;
			}
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
	if (optind < argc) {
		cli_error("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}

	struct strbuf err = STRBUF_INIT;
	struct prov *p = NULL;
	struct prov_run_info *runs = NULL;
	size_t nr = 0;
	int ret = EXIT_OK;
	if (prov_open_store_readonly(store_dir_default(store_opt), &p, &err) < 0) {
		cli_error("%s", err.buf);
		strbuf_release(&err);
		return EXIT_USAGE;
	}
	if (prov_list_runs(p, (long)limit, &runs, &nr, &err) < 0) {
		cli_error("%s", err.buf);
		ret = EXIT_FAILED;
		goto out;
	}
	if (json) {
		cJSON *arr = cJSON_CreateArray();
		for (size_t i = 0; i < nr; i++)
			cJSON_AddItemToArray(arr, prov_run_to_json(&runs[i]));
		char *text = cJSON_Print(arr);
		if (text)
			printf("%s\n", text);
		free(text);
		cJSON_Delete(arr);
	} else if (!nr) {
		printf("no runs recorded\n");
	} else {
		for (size_t i = 0; i < nr; i++)
			print_text(&runs[i]);
	}
out:
	prov_runs_free(runs, nr);
	prov_close(p);
	strbuf_release(&err);
	return ret;
}
