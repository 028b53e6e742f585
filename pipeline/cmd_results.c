/*
 * cmd_results: `study results`, the metrics table from provenance: for each
 * stage the metrics of its latest execution's output (or, with --run, of the
 * executions a given run ran or took from the cache), metrics that are no
 * longer current apart (stale), and `--compare A B`, two runs side by side;
 * as aligned text or JSON, and the current metrics as CSV or Markdown
 * (results_format.c). Read-only.
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
		   "   or: study results --compare RUN_A RUN_B [--store DIR] [--json]\n"
		   "\n"
		   "Print the metrics table: for each stage, the metrics of the output of its\n"
		   "latest execution. Metrics of a stage whose latest execution failed (or was\n"
		   "skipped, or recorded none) are listed apart as stale, with the run they\n"
		   "come from.\n"
		   "\n"
		   "  --store DIR  the artifact store (default: $STUDY_STORE, else artifacts/ here or above)\n"
		   "  --format F   table (default, aligned text), csv (for pandas, R: full\n"
		   "               precision, empty fields where absent), json (an array of\n"
		   "               metric objects) or md (a Markdown table); csv and md hold\n"
		   "               the current metrics only, without the stale ones\n"
		   "  --json       the same as --format json\n"
		   "  --run ID     only stages that run ID executed or took from the cache\n"
		   "  --compare RUN_A RUN_B\n"
		   "               the metrics of two runs side by side with their difference\n"
		   "               (B - A); a run is an id, 'latest' or 'latest~N' (N runs\n"
		   "               before the latest); as a table or --json\n");
}

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

static void fmt_num(double v, char out[32])
{
	if (v == 0 || (fabs(v) >= 0.001 && fabs(v) < 1e9))
		snprintf(out, 32, "%.3f", v);
	else
		snprintf(out, 32, "%.3g", v);
}

/* The seed of a replicate's stage id ("eval/e/m1/base@seed7": "7"), or "-"
 * for a stage that is not replicated (docs/study-format.md, "Seeds"). */
static const char *seed_of(const char *stage_id)
{
	const char *at = stage_id ? strrchr(stage_id, '@') : NULL;
	return at && !strncmp(at, "@seed", 5) && at[5] ? at + 5 : "-";
}

enum { COL_EVAL, COL_MODEL, COL_VARIANT, COL_SEED, COL_METRIC, COL_VALUE, COL_N, COL_CI, NCOLS };

static void cells(const struct prov_metric_info *m, char cell[NCOLS][96])
{
	char a[32], b[32];
	snprintf(cell[COL_EVAL], 96, "%s", or_dash(m->evaluation));
	snprintf(cell[COL_MODEL], 96, "%s", or_dash(m->model));
	snprintf(cell[COL_VARIANT], 96, "%s", or_dash(m->variant));
	snprintf(cell[COL_SEED], 96, "%s", seed_of(m->stage_id));
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
	static const char *const head[NCOLS] = { "EVALUATION", "MODEL", "VARIANT", "SEED",
						 "METRIC", "VALUE", "N", "95% CI" };
	/* numbers right-aligned, text left-aligned */
	static const int right[NCOLS] = { 0, 0, 0, 0, 0, 1, 1, 0 };
	int w[NCOLS];
	char cell[NCOLS][96];
	int seeds = 0;
	for (size_t i = 0; i < nr && !seeds; i++)
		seeds = strcmp(seed_of(rows[i].stage_id), "-") != 0;
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
			if (c == COL_SEED && !seeds)
				continue;
			if (c)
				strbuf_addstr(&line, "  ");
			strbuf_addf(&line, right[c] ? "%*s" : "%-*s", w[c], s);
		}
		strbuf_rtrim(&line);
		printf("%s\n", line.buf);
		strbuf_release(&line);
	}
}

/* ---- stale metrics: not produced by their stage's latest execution ---- */

/* "run_id" and "stale": null, or what the stage's latest execution did. */
static void add_staleness_json(cJSON *o, const struct prov_metric_info *m)
{
	cJSON_AddNumberToObject(o, "run_id", (double)m->run_id);
	if (!m->stale) {
		cJSON_AddNullToObject(o, "stale");
		return;
	}
	cJSON *s = cJSON_AddObjectToObject(o, "stale");
	cJSON_AddNumberToObject(s, "latest_execution_id", (double)m->latest_exec);
	cJSON_AddNumberToObject(s, "latest_run", (double)m->latest_run);
	prov_json_add_str(s, "latest_status", m->latest_status);
	prov_json_add_str(s, "latest_reason", m->latest_reason);
}

/* What the stage's latest execution did, after "its latest execution, in
 * run N, ". */
static void stale_note(const struct prov_metric_info *m, struct strbuf *sb)
{
	const char *st = m->latest_status ? m->latest_status : "";
	const char *verb = !strcmp(st, "failed")	  ? "failed"
			   : !strcmp(st, "skipped")	  ? "was skipped"
			   : !strcmp(st, "interrupted") ? "was interrupted"
			   : !strcmp(st, "not-started") ? "was not started"
			   : !strcmp(st, "ran")	  ? "ran without recording metrics"
			   : !strcmp(st, "cached")	  ? "reused an output without recorded metrics"
						  : NULL;
	if (!verb) {
		strbuf_addstr(sb, "is not recorded");
		return;
	}
	strbuf_addstr(sb, verb);
	if (m->latest_reason)
		strbuf_addf(sb, ": %s", m->latest_reason);
}

/* The stale rows as a second table, then one line per stage saying where
 * they come from and what its latest execution did. */
static void print_stale(const struct prov_metric_info *rows, size_t nr, int after_table)
{
	struct prov_metric_info *st = NULL;
	size_t n = 0, alloc = 0;
	for (size_t i = 0; i < nr; i++) {
		if (!rows[i].stale)
			continue;
		XGROW(st, alloc, n + 1);
		st[n++] = rows[i]; /* borrowed: not freed */
	}
	if (!n)
		return;
	printf("%sstale: not produced by the stage's latest execution (see 'study why STAGE')\n",
	       after_table ? "\n" : "");
	print_table(st, n);
	for (size_t i = 0; i < n; i++) {
		int seen = 0;
		for (size_t k = 0; k < i && !seen; k++)
			seen = !strcmp(st[k].stage_id, st[i].stage_id);
		if (seen)
			continue;
		struct strbuf note = STRBUF_INIT;
		stale_note(&st[i], &note);
		printf("  %s: from run %lld; its latest execution, in run %lld, %s\n",
		       st[i].stage_id, (long long)st[i].run_id, (long long)st[i].latest_run,
		       note.buf);
		strbuf_release(&note);
	}
	free(st);
}

/* The text table: current metrics, then the stale ones apart. */
static void print_results(const struct prov_metric_info *rows, size_t nr)
{
	struct prov_metric_info *cur = NULL;
	size_t n = 0, alloc = 0;
	for (size_t i = 0; i < nr; i++) {
		if (rows[i].stale)
			continue;
		XGROW(cur, alloc, n + 1);
		cur[n++] = rows[i]; /* borrowed: not freed */
	}
	if (n)
		print_table(cur, n);
	else
		printf("no current metrics\n");
	print_stale(rows, nr, 1);
	free(cur);
}

/* ---- --compare: two runs side by side ---- */

/* v with its sign ("+0.012", "-0.500", "0.000"). */
static void fmt_signed(double v, char out[40])
{
	char a[32];
	fmt_num(v, a);
	snprintf(out, 40, "%s%s", v > 0 ? "+" : "", a);
}

enum { CC_EVAL, CC_MODEL, CC_VARIANT, CC_SEED, CC_METRIC, CC_A, CC_CI_A, CC_B, CC_CI_B, CC_DIFF,
       NCC };

static void compare_cells(const struct prov_metric_pair *q, int64_t a, int64_t b,
			  char cell[NCC][96])
{
	const struct prov_metric_info *m = q->has_a ? &q->a : &q->b;
	char x[40], y[32];
	snprintf(cell[CC_EVAL], 96, "%s", or_dash(m->evaluation));
	snprintf(cell[CC_MODEL], 96, "%s", or_dash(m->model));
	snprintf(cell[CC_VARIANT], 96, "%s", or_dash(m->variant));
	snprintf(cell[CC_SEED], 96, "%s", seed_of(m->stage_id));
	snprintf(cell[CC_METRIC], 96, "%s", or_dash(m->metric));
	for (int side = 0; side < 2; side++) {
		const struct prov_metric_info *v = side ? &q->b : &q->a;
		int has = side ? q->has_b : q->has_a;
		char *val = cell[side ? CC_B : CC_A], *ci = cell[side ? CC_CI_B : CC_CI_A];
		snprintf(val, 96, "-");
		snprintf(ci, 96, "-");
		if (!has)
			continue;
		fmt_num(v->value, x);
		snprintf(val, 96, "%s", x);
		if (v->has_ci_low && v->has_ci_high) {
			fmt_num(v->ci_low, x);
			fmt_num(v->ci_high, y);
			snprintf(ci, 96, "[%s, %s]", x, y);
		}
	}
	if (q->has_a && q->has_b) {
		fmt_signed(q->b.value - q->a.value, x);
		snprintf(cell[CC_DIFF], 96, "%s", x);
	} else {
		snprintf(cell[CC_DIFF], 96, "only in run %lld", (long long)(q->has_a ? a : b));
	}
}

static void print_compare(const struct prov_metric_pair *pairs, size_t nr, int64_t a, int64_t b)
{
	char head[NCC][96] = { "EVALUATION", "MODEL", "VARIANT", "SEED", "METRIC", "", "95% CI",
			       "", "95% CI", "" };
	static const int right[NCC] = { 0, 0, 0, 0, 0, 1, 0, 1, 0, 1 };
	char cell[NCC][96];
	int w[NCC], seeds = 0;
	for (size_t i = 0; i < nr && !seeds; i++)
		seeds = strcmp(seed_of((pairs[i].has_a ? &pairs[i].a : &pairs[i].b)->stage_id), "-") != 0;
	snprintf(head[CC_A], 96, "RUN %lld", (long long)a);
	snprintf(head[CC_B], 96, "RUN %lld", (long long)b);
	snprintf(head[CC_DIFF], 96, "RUN %lld - RUN %lld", (long long)b, (long long)a);
	for (int c = 0; c < NCC; c++)
		w[c] = (int)strlen(head[c]);
	for (size_t i = 0; i < nr; i++) {
		compare_cells(&pairs[i], a, b, cell);
		for (int c = 0; c < NCC; c++)
			if ((int)strlen(cell[c]) > w[c])
				w[c] = (int)strlen(cell[c]);
	}
	for (size_t i = 0; i <= nr; i++) {
		struct strbuf line = STRBUF_INIT;
		if (i > 0)
			compare_cells(&pairs[i - 1], a, b, cell);
		for (int c = 0; c < NCC; c++) {
			if (c == CC_SEED && !seeds)
				continue;
			if (c)
				strbuf_addstr(&line, "  ");
			strbuf_addf(&line, right[c] ? "%*s" : "%-*s", w[c], i ? cell[c] : head[c]);
		}
		strbuf_rtrim(&line);
		printf("%s\n", line.buf);
		strbuf_release(&line);
	}
}

/* value, n, ci_low, ci_high of one metric row (null where not recorded) */
static void add_value_json(cJSON *o, const struct prov_metric_info *m)
{
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
}

static cJSON *side_json(const struct prov_metric_info *m)
{
	cJSON *o = cJSON_CreateObject();
	add_value_json(o, m);
	cJSON_AddNumberToObject(o, "execution_id", (double)m->execution_id);
	return o;
}

static cJSON *compare_json(const struct prov_metric_pair *pairs, size_t nr, int64_t a, int64_t b)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "run_a", (double)a);
	cJSON_AddNumberToObject(o, "run_b", (double)b);
	cJSON *arr = cJSON_AddArrayToObject(o, "metrics");
	for (size_t i = 0; i < nr; i++) {
		const struct prov_metric_pair *q = &pairs[i];
		const struct prov_metric_info *m = q->has_a ? &q->a : &q->b;
		cJSON *x = cJSON_CreateObject();
		prov_json_add_str(x, "stage", m->stage_id);
		prov_json_add_str(x, "evaluation", m->evaluation);
		prov_json_add_str(x, "model", m->model);
		prov_json_add_str(x, "variant", m->variant);
		prov_json_add_str(x, "metric", m->metric);
		if (q->has_a)
			cJSON_AddItemToObject(x, "a", side_json(&q->a));
		else
			cJSON_AddNullToObject(x, "a");
		if (q->has_b)
			cJSON_AddItemToObject(x, "b", side_json(&q->b));
		else
			cJSON_AddNullToObject(x, "b");
		if (q->has_a && q->has_b)
			cJSON_AddNumberToObject(x, "difference", q->b.value - q->a.value);
		else
			cJSON_AddNullToObject(x, "difference");
		cJSON_AddItemToArray(arr, x);
	}
	return o;
}

/* `results --compare A B` on an open database: the exit code. */
static int compare_runs(struct prov *p, const char *ref_a, const char *ref_b, int json)
{
	struct strbuf err = STRBUF_INIT;
	struct prov_metric_pair *pairs = NULL;
	size_t nr = 0;
	int64_t a = 0, b = 0;
	int ret = EXIT_OK, found = prov_resolve_run(p, ref_a, &a, &err);
	if (found > 0)
		found = prov_resolve_run(p, ref_b, &b, &err);
	if (found <= 0) {
		cli_error("%s", err.buf);
		ret = found == 0 ? EXIT_USAGE : EXIT_FAILED;
	} else if (prov_results_compare(p, a, b, &pairs, &nr, &err) < 0) {
		cli_error("%s", err.buf);
		ret = EXIT_FAILED;
	} else if (json) {
		cJSON *o = compare_json(pairs, nr, a, b);
		char *text = cJSON_Print(o);
		if (text)
			printf("%s\n", text);
		free(text);
		cJSON_Delete(o);
	} else if (!nr) {
		printf("no metrics recorded in run %lld or run %lld\n", (long long)a, (long long)b);
	} else {
		print_compare(pairs, nr, a, b);
	}
	prov_metric_pairs_free(pairs, nr);
	strbuf_release(&err);
	return ret;
}

static cJSON *row_json(const struct prov_metric_info *m)
{
	cJSON *o = cJSON_CreateObject();
	prov_json_add_str(o, "evaluation", m->evaluation);
	prov_json_add_str(o, "model", m->model);
	prov_json_add_str(o, "variant", m->variant);
	prov_json_add_str(o, "metric", m->metric);
	add_value_json(o, m);
	prov_json_add_str(o, "stage", m->stage_id);
	cJSON_AddNumberToObject(o, "execution_id", (double)m->execution_id);
	add_staleness_json(o, m);
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

/* CSV and Markdown are for analysis elsewhere: the current metrics only (a
 * stale row would read as a result of the study as it stands). */
static void write_format(enum results_fmt fmt, const struct prov_metric_info *rows, size_t nr)
{
	struct prov_metric_info *cur = xcalloc(nr ? nr : 1, sizeof(*cur));
	size_t n = 0;
	for (size_t i = 0; i < nr; i++)
		if (!rows[i].stale)
			cur[n++] = rows[i]; /* shallow: rows keep ownership */
	if (fmt == FMT_CSV)
		results_write_csv(stdout, cur, n);
	else if (fmt == FMT_MD)
		results_write_md(stdout, cur, n);
	free(cur);
}

int cmd_results(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "format", required_argument, NULL, 'f' },
		{ "run", required_argument, NULL, 'r' },
		{ "compare", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_opt = NULL, *compare = NULL;
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
		case 'c':
			compare = optarg;
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
	if (compare && (run_id || argc - optind != 1)) {
		if (run_id)
			cli_error("--compare and --run cannot be combined");
		else if (optind < argc)
			cli_error("unexpected argument '%s'", argv[optind + 1]);
		else
			cli_error("--compare needs two runs: study results --compare RUN_A RUN_B");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!compare && optind < argc) {
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
	if (compare && fmt != FMT_TABLE && fmt != FMT_JSON) {
		cli_error("--compare prints a table or JSON, not --format %s",
			  fmt == FMT_CSV ? "csv" : "md");
		ret = EXIT_USAGE;
		goto out;
	}
	if (compare) {
		ret = compare_runs(p, compare, argv[optind], json);
		goto out;
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
		print_results(rows, nr);
	}
out:
	prov_metrics_free(rows, nr);
	prov_close(p);
	strbuf_release(&err);
	return ret;
}
