/*
 * cmd_results: `study results`, the metrics table from provenance: for each
 * stage the metrics of its latest execution that has metrics (or, with --run,
 * of the executions a given run ran or took from the cache), as aligned text,
 * JSON, CSV or Markdown (the last two: results_format.c). Read-only.
 */
#include "cli.h"
#include "prov_query.h"
#include "results_format.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: study results [--store DIR] [--format table|csv|json|md] [--run ID]\n"
		   "\n"
		   "Print the metrics table: for each stage, the metrics of its latest\n"
		   "execution that recorded metrics.\n"
		   "\n"
		   "  --store DIR  the artifact store (default: $STUDY_STORE, else artifacts/ here or above)\n"
		   "  --format F   table (default, aligned text), csv (for pandas, R: full\n"
		   "               precision, empty fields where absent), json (an array of\n"
		   "               metric objects) or md (a Markdown table)\n"
		   "  --json       the same as --format json\n"
		   "  --run ID     only stages that run ID executed or took from the cache\n");
}

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

static void fmt_num(double v, char out[32])
{
	if (v == 0 || (fabs(v) >= 0.001 && fabs(v) < 1e9))
		snprintf(out, 32, "%.3f", v);
	else
		snprintf(out, 32, "%.3g", v);
}

enum { COL_EVAL, COL_MODEL, COL_VARIANT, COL_METRIC, COL_VALUE, COL_N, COL_CI, NCOLS };

static void cells(const struct prov_metric_info *m, char cell[NCOLS][96])
{
	char a[32], b[32];
	snprintf(cell[COL_EVAL], 96, "%s", or_dash(m->evaluation));
	snprintf(cell[COL_MODEL], 96, "%s", or_dash(m->model));
	snprintf(cell[COL_VARIANT], 96, "%s", or_dash(m->variant));
	snprintf(cell[COL_METRIC], 96, "%s", or_dash(m->metric));
	fmt_num(m->value, a);
	snprintf(cell[COL_VALUE], 96, "%s", a);
	if (m->has_n)
		snprintf(cell[COL_N], 96, "%lld", m->n);
	else
		snprintf(cell[COL_N], 96, "-");
	if (m->has_ci_low && m->has_ci_high) {
		fmt_num(m->ci_low, a);
		fmt_num(m->ci_high, b);
		snprintf(cell[COL_CI], 96, "[%s, %s]", a, b);
	} else {
		snprintf(cell[COL_CI], 96, "-");
	}
}

static void print_table(const struct prov_metric_info *rows, size_t nr)
{
	static const char *const head[NCOLS] = { "EVALUATION", "MODEL", "VARIANT", "METRIC",
						 "VALUE", "N", "95% CI" };
	/* numbers right-aligned, text left-aligned */
	static const int right[NCOLS] = { 0, 0, 0, 0, 1, 1, 0 };
	int w[NCOLS];
	char cell[NCOLS][96];
	for (int c = 0; c < NCOLS; c++)
		w[c] = (int)strlen(head[c]);
	for (size_t i = 0; i < nr; i++) {
		cells(&rows[i], cell);
		for (int c = 0; c < NCOLS; c++)
			if ((int)strlen(cell[c]) > w[c])
				w[c] = (int)strlen(cell[c]);
	}
	for (size_t i = 0; i <= nr; i++) {
		struct strbuf line = STRBUF_INIT;
		if (i > 0)
			cells(&rows[i - 1], cell);
		for (int c = 0; c < NCOLS; c++) {
			const char *s = i == 0 ? head[c] : cell[c];
			if (c)
				strbuf_addstr(&line, "  ");
			strbuf_addf(&line, right[c] ? "%*s" : "%-*s", w[c], s);
		}
		strbuf_rtrim(&line);
		printf("%s\n", line.buf);
		strbuf_release(&line);
	}
}

static cJSON *row_json(const struct prov_metric_info *m)
{
	cJSON *o = cJSON_CreateObject();
	prov_json_add_str(o, "evaluation", m->evaluation);
	prov_json_add_str(o, "model", m->model);
	prov_json_add_str(o, "variant", m->variant);
	prov_json_add_str(o, "metric", m->metric);
	cJSON_AddNumberToObject(o, "value", m->value);
	if (m->has_n)
		cJSON_AddNumberToObject(o, "n", (double)m->n);
	else
		cJSON_AddNullToObject(o, "n");
	if (m->has_ci_low)
		cJSON_AddNumberToObject(o, "ci_low", m->ci_low);
	else
		cJSON_AddNullToObject(o, "ci_low");
	if (m->has_ci_high)
		cJSON_AddNumberToObject(o, "ci_high", m->ci_high);
	else
		cJSON_AddNullToObject(o, "ci_high");
	prov_json_add_str(o, "stage", m->stage_id);
	cJSON_AddNumberToObject(o, "execution_id", (double)m->execution_id);
	return o;
}

/* ---- --format (the writers: results_format.c) ---- */

enum results_fmt { FMT_NONE, FMT_TABLE, FMT_CSV, FMT_JSON, FMT_MD };

static int parse_format(const char *s, enum results_fmt *out)
{
	static const struct {
		const char *name;
		enum results_fmt fmt;
	} names[] = { { "table", FMT_TABLE }, { "csv", FMT_CSV }, { "json", FMT_JSON },
		      { "md", FMT_MD } };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name)) {
			*out = names[i].fmt;
			return 0;
		}
	return -1;
}

/* --json is --format json; both given must agree. */
static int resolve_format(int json, enum results_fmt given, enum results_fmt *fmt)
{
	if (json && given != FMT_NONE && given != FMT_JSON) {
		cli_error("--json and --format disagree; give one of them");
		return -1;
	}
	*fmt = json ? FMT_JSON : given != FMT_NONE ? given : FMT_TABLE;
	return 0;
}

static void write_format(enum results_fmt fmt, const struct prov_metric_info *rows, size_t nr)
{
	if (fmt == FMT_CSV)
		results_write_csv(stdout, rows, nr);
	else if (fmt == FMT_MD)
		results_write_md(stdout, rows, nr);
}

int cmd_results(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "format", required_argument, NULL, 'f' },
		{ "run", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_opt = NULL;
	int json = 0, c;
	enum results_fmt fmt = FMT_TABLE, fmt_given = FMT_NONE;
	long long run_id = 0;

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
		case 'f':
			if (parse_format(optarg, &fmt_given) < 0) {
				cli_error("unknown format '%s' (use table, csv, json or md)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (cli_parse_count(optarg, LLONG_MAX, &run_id) < 0) {
				cli_error("invalid run id '%s' (see 'study log')", optarg);
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
	if (resolve_format(json, fmt_given, &fmt) < 0)
		return EXIT_USAGE;
	json = fmt == FMT_JSON;

	struct strbuf err = STRBUF_INIT;
	struct prov *p = NULL;
	struct prov_metric_info *rows = NULL;
	size_t nr = 0;
	int ret = EXIT_OK;
	if (prov_open_store_readonly(store_dir_default(store_opt), &p, &err) < 0) {
		cli_error("%s", err.buf);
		strbuf_release(&err);
		return EXIT_USAGE;
	}
	if (run_id > 0) {
		struct prov_run_info r;
		int found = prov_get_run(p, run_id, &r, &err);
		if (found <= 0) {
			if (found == 0)
				cli_error("no run %lld recorded", run_id);
			else
				cli_error("%s", err.buf);
			ret = found == 0 ? EXIT_USAGE : EXIT_FAILED;
			goto out;
		}
		prov_run_info_release(&r);
	}
	if (prov_results(p, run_id, &rows, &nr, &err) < 0) {
		cli_error("%s", err.buf);
		ret = EXIT_FAILED;
		goto out;
	}
	if (json) {
		cJSON *arr = cJSON_CreateArray();
		for (size_t i = 0; i < nr; i++)
			cJSON_AddItemToArray(arr, row_json(&rows[i]));
		char *text = cJSON_Print(arr);
		if (text)
			printf("%s\n", text);
		free(text);
		cJSON_Delete(arr);
	} else if (fmt != FMT_TABLE) {
		write_format(fmt, rows, nr);
	} else if (!nr) {
		printf("no metrics recorded\n");
	} else {
		print_table(rows, nr);
	}
out:
	prov_metrics_free(rows, nr);
	prov_close(p);
	strbuf_release(&err);
	return ret;
}
