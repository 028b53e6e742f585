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
 * With --seeds (one seed per directory, a study's ${evaluations.seeds}),
 * outputs replicated over seeds are aggregated (replicates.c).
 *
 *   study-report --out DIR [--title TEXT] [--seeds LIST] EVALDIR...
 */
#include "report_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("usage: study-report --out DIR [--title TEXT] [--seeds LIST] EVALDIR...\n"
	      "\n"
	      "Reads EVALDIR/metrics.json of every evaluation and writes report.md,\n"
	      "report.json and one SVG chart per metric into DIR.\n"
	      "\n"
	      "--seeds LIST  the seed of each EVALDIR, in order, comma-separated (empty for\n"
	      "              one not replicated): a study's \"${evaluations.seeds}\". Cells\n"
	      "              that differ only by seed show their mean, the standard\n"
	      "              deviation between seeds, and one row per seed.\n",
	      f);
}

int main(int argc, char **argv)
{
	const char *out = NULL, *title = "Safety unalignment study", *seeds = NULL;
	const char **dirs = calloc((size_t)argc, sizeof(*dirs));
	size_t nin = 0;
	char err[512];
	if (!dirs) {
		fputs("study-report: fatal: out of memory\n", stderr);
		return 70;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			free(dirs);
			return 0;
		}
		if (!strcmp(argv[i], "--out") || !strcmp(argv[i], "--title") ||
		    !strcmp(argv[i], "--seeds")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "study-report: error: %s needs a value\n", argv[i]);
				free(dirs);
				return 2;
			}
			if (!strcmp(argv[i], "--out"))
				out = argv[++i];
			else if (!strcmp(argv[i], "--title"))
				title = argv[++i];
			else
				seeds = argv[++i];
			continue;
		}
		if (argv[i][0] == '-') {
			fprintf(stderr, "study-report: error: unknown option '%s'\n", argv[i]);
			usage(stderr);
			free(dirs);
			return 2;
		}
		dirs[nin++] = argv[i];
	}
	if (!out) {
		fputs("study-report: error: --out is required\n", stderr);
		usage(stderr);
		free(dirs);
		return 2;
	}
	if (!nin) {
		fputs("study-report: error: no evaluation directories given\n", stderr);
		free(dirs);
		return 2;
	}
	char **labels = NULL;
	if (seeds && replicates_parse(seeds, nin, &labels, err, sizeof(err)) < 0) {
		fprintf(stderr, "study-report: error: %s\n", err);
		free(dirs);
		return 2;
	}
	struct report rep;
	report_init(&rep);
	int rc = 0;
	for (size_t i = 0; i < nin && !rc; i++) {
		size_t from = rep.nr;
		rc = report_add_dir(&rep, dirs[i], err, sizeof(err));
		if (!rc && labels)
			replicates_label(&rep, from, labels[i]);
	}
	if (!rc)
		rc = replicates_aggregate(&rep, err, sizeof(err));
	if (labels)
		replicates_free_list(labels, nin);
	free(dirs);
	if (rc < 0) {
		fprintf(stderr, "study-report: error: %s\n", err);
		report_release(&rep);
		return 2;
	}
	rc = report_write(&rep, out, title, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "study-report: error: %s\n", err);
	report_release(&rep);
	return rc < 0 ? 1 : 0;
}
