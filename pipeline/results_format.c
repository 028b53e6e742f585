/*
 * results_format: the metrics table as CSV and as Markdown (see
 * results_format.h).
 */
#include "results_format.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void results_format_double(double v, char out[32])
{
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(out, 32, "%.*g", digits, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* One CSV field: quoted when it holds a comma, a quote, CR or LF (quotes
 * doubled), as RFC 4180 says; NULL is the empty field. */
static void csv_field(FILE *f, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

void results_write_csv(FILE *f, const struct prov_metric_info *rows, size_t nr)
{
	fputs("evaluation,model,variant,metric,value,n,ci_low,ci_high,stage,execution_id\n", f);
	for (size_t i = 0; i < nr; i++) {
		const struct prov_metric_info *m = &rows[i];
		char num[32];
		csv_field(f, m->evaluation);
		fputc(',', f);
		csv_field(f, m->model);
		fputc(',', f);
		csv_field(f, m->variant);
		fputc(',', f);
		csv_field(f, m->metric);
		fputc(',', f);
		results_format_double(m->value, num);
		fputs(num, f);
		fputc(',', f);
		if (m->has_n)
			fprintf(f, "%lld", m->n);
		fputc(',', f);
		if (m->has_ci_low) {
			results_format_double(m->ci_low, num);
			fputs(num, f);
		}
		fputc(',', f);
		if (m->has_ci_high) {
			results_format_double(m->ci_high, num);
			fputs(num, f);
		}
		fputc(',', f);
		csv_field(f, m->stage_id);
		fprintf(f, ",%lld\n", (long long)m->execution_id);
	}
}

static void md_field(FILE *f, const char *s)
{
	fputc(' ', f);
	if (!s || !*s)
		s = "-";
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
	}
	fputs(" |", f);
}

static void md_num(FILE *f, int has, double v)
{
	if (!has)
		fputs(" - |", f);
	else if (v == 0 || (fabs(v) >= 0.001 && fabs(v) < 1e9))
		fprintf(f, " %.3f |", v);
	else
		fprintf(f, " %.3g |", v);
}

void results_write_md(FILE *f, const struct prov_metric_info *rows, size_t nr)
{
	fputs("| evaluation | model | variant | metric | value | n | ci_low | ci_high | stage |"
	      " execution |\n",
	      f);
	fputs("|---|---|---|---|---:|---:|---:|---:|---|---:|\n", f);
	for (size_t i = 0; i < nr; i++) {
		const struct prov_metric_info *m = &rows[i];
		fputc('|', f);
		md_field(f, m->evaluation);
		md_field(f, m->model);
		md_field(f, m->variant);
		md_field(f, m->metric);
		md_num(f, 1, m->value);
		if (m->has_n)
			fprintf(f, " %lld |", m->n);
		else
			fputs(" - |", f);
		md_num(f, m->has_ci_low, m->ci_low);
		md_num(f, m->has_ci_high, m->ci_high);
		md_field(f, m->stage_id);
		fprintf(f, " %lld |\n", (long long)m->execution_id);
	}
}
