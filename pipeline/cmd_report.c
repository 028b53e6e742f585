/*
 * cmd_report: `study report [--run R|latest] [--out FILE.html]`, one
 * self-contained HTML page for a recorded run, built from provenance and
 * the store (report_data.c reads, report_html.c writes). Read-only: it never
 * takes the writer lock; the page is written atomically (temp + rename).
 */
#include "cli.h"
#include "fsutil.h"
#include "prov_query.h"
#include "report_data.h"
#include "report_html.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: study report [--run ID|latest] [--out FILE.html] [--store DIR]\n"
		   "\n"
		   "Write one self-contained HTML page about a recorded run: its commit,\n"
		   "executor and counts; the stage graph coloured by status; a timeline with\n"
		   "the critical path; every stage's times, memory, and why it ran or came\n"
		   "from the cache; the metrics, each linked to the command and inputs that\n"
		   "produced it; and the report stage's own report.md and charts. Nothing in\n"
		   "it is fetched from the network.\n"
		   "\n"
		   "  --run ID     the run (see 'study log'); default: latest\n"
		   "  --out FILE   where to write it (default: report.html; '-': stdout)\n"
		   "  --store DIR  the artifact store (default: $STUDY_STORE, else artifacts/ here or above)\n");
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "store", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_opt = NULL, *out = "report.html";
	long long run_id = 0; /* 0: the latest */
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (strcmp(optarg, "latest") && cli_parse_count(optarg, LLONG_MAX, &run_id) < 0) {
				cli_error("invalid run '%s' (a run id from 'study log', or latest)",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			if (!*optarg) {
				cli_error("--out needs a file name ('-' for stdout)");
				return EXIT_USAGE;
			}
			out = optarg;
			break;
		case 's':
			store_opt = optarg;
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

	const char *store_dir = store_dir_default(store_opt);
	struct strbuf err = STRBUF_INIT, page = STRBUF_INIT;
	struct prov *p = NULL;
	struct report_run rr;
	int ret = EXIT_OK;
	if (prov_open_store_readonly(store_dir, &p, &err) < 0) {
		cli_error("%s", err.buf);
		strbuf_release(&err);
		return EXIT_USAGE;
	}
	if (!run_id) {
		int64_t id = 0;
		if (prov_latest_run_id(p, &id, &err) < 0) {
			cli_error("%s", err.buf);
			ret = EXIT_FAILED;
			goto out;
		}
		if (!id) {
			cli_error("no run recorded in '%s'", store_dir);
			ret = EXIT_USAGE;
			goto out;
		}
		run_id = id;
	} else {
		struct prov_run_info r;
		int found = prov_get_run(p, run_id, &r, &err);
		if (found <= 0) {
			if (!found)
				cli_error("no run %lld recorded (see 'study log')", run_id);
			else
				cli_error("%s", err.buf);
			ret = found ? EXIT_FAILED : EXIT_USAGE;
			goto out;
		}
		prov_run_info_release(&r);
	}
	if (report_run_load(&rr, p, store_dir, run_id, &err) < 0) {
		cli_error("%s", err.buf);
		ret = EXIT_FAILED;
		goto out;
	}
	report_html(&rr, &page);
	if (!strcmp(out, "-")) {
		if (fwrite(page.buf, 1, page.len, stdout) != page.len || fflush(stdout)) {
			cli_error("cannot write the report to stdout");
			ret = EXIT_FAILED;
		}
	} else if (write_file_atomic(out, page.buf, page.len, 0644, &err) < 0) {
		cli_error("%s", err.buf);
		ret = EXIT_FAILED;
	} else {
		printf("%s: run %lld of %s, %zu stages, %zu bytes\n", out, run_id,
		       rr.run.study_name ? rr.run.study_name : "?", rr.stages_nr, page.len);
	}
	report_run_release(&rr);
out:
	prov_close(p);
	strbuf_release(&page);
	strbuf_release(&err);
	return ret;
}
