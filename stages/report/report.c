/*
 * study-report: the paper-style report stage. It reads every evaluation
 * output directory given on the command line (each holds a metrics.json with
 * "model", "variant", "evaluation" and "metrics"), and writes into --out:
 *
 *   report.md    one table per metric (rows: models, columns: variants,
 *                cells: value [95% CI]) and a findings section
 *   report.json  the same tables and findings, machine-readable
 *   <metric>.svg one grouped bar chart per metric, with the intervals
 *
 * The findings compare the variants with the paper's claims; each is
 * computed from the numbers (reproduced / not reproduced / mixed, with the
 * deltas), never written by hand. Output bytes depend only on the inputs.
 *
 *   study-report --out DIR [--title TEXT] EVALDIR...
 */
#include "report_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("usage: study-report --out DIR [--title TEXT] EVALDIR...\n"
	      "\n"
	      "Reads EVALDIR/metrics.json of every evaluation and writes report.md,\n"
	      "report.json and one SVG chart per metric into DIR.\n",
	      f);
}

int main(int argc, char **argv)
{
	const char *out = NULL, *title = "Safety unalignment study";
	struct report rep;
	report_init(&rep);
	int nin = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--out") || !strcmp(argv[i], "--title")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "study-report: error: %s needs a value\n", argv[i]);
				return 2;
			}
			if (!strcmp(argv[i], "--out"))
				out = argv[++i];
			else
				title = argv[++i];
			continue;
		}
		if (argv[i][0] == '-') {
			fprintf(stderr, "study-report: error: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
		char err[512];
		if (report_add_dir(&rep, argv[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "study-report: error: %s\n", err);
			report_release(&rep);
			return 2;
		}
		nin++;
	}
	if (!out) {
		fputs("study-report: error: --out is required\n", stderr);
		usage(stderr);
		return 2;
	}
	if (!nin) {
		fputs("study-report: error: no evaluation directories given\n", stderr);
		return 2;
	}
	char err[512];
	int rc = report_write(&rep, out, title, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "study-report: error: %s\n", err);
	report_release(&rep);
	return rc < 0 ? 1 : 0;
}
