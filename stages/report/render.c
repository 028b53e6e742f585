/*
 * render: report.md and report.json from the report model and its findings,
 * plus the small output buffer they are built in (written via temp + rename).
 */
#include "report_model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ob_add(struct outbuf *o, const char *s)
{
	size_t n = strlen(s);
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		while (o->len + n + 1 > cap)
			cap *= 2;
		char *p = realloc(o->buf, cap);
		if (!p) {
			o->oom = 1;
			return;
		}
		o->buf = p;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n + 1);
	o->len += n;
}

void ob_addf(struct outbuf *o, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		ob_add(o, small);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		o->oom = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	ob_add(o, big);
	free(big);
}

void ob_json_str(struct outbuf *o, const char *s)
{
	ob_add(o, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			ob_addf(o, "\\%c", *p);
		else if (*p < 0x20)
			ob_addf(o, "\\u%04x", *p);
		else
			ob_addf(o, "%c", *p);
	}
	ob_add(o, "\"");
}

void ob_xml_str(struct outbuf *o, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': ob_add(o, "&lt;"); break;
		case '>': ob_add(o, "&gt;"); break;
		case '&': ob_add(o, "&amp;"); break;
		case '"': ob_add(o, "&quot;"); break;
		default: ob_addf(o, "%c", *s);
		}
	}
}

int ob_write(struct outbuf *o, const char *dir, const char *name, char *err, size_t errlen)
{
	char tmp[4096], final[4096];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(final, sizeof(final), "%s/%s", dir, name);
	if (o->oom) {
		snprintf(err, errlen, "out of memory writing '%s'", final);
		return -1;
	}
	FILE *f = fopen(tmp, "wb");
	if (!f || fwrite(o->buf ? o->buf : "", 1, o->len, f) != o->len || fclose(f) != 0 ||
	    rename(tmp, final) != 0) {
		snprintf(err, errlen, "cannot write '%s': %s", final, strerror(errno));
		return -1;
	}
	return 0;
}

static void md_cell(struct outbuf *o, const struct cell *c)
{
	if (replicates_md_cell(o, c)) /* the mean over seeds */
		return;
	if (!c) {
		ob_add(o, " – |");
		return;
	}
	if (c->has_ci)
		ob_addf(o, " %.3f [%.3f, %.3f] |", c->value, c->ci_low, c->ci_high);
	else
		ob_addf(o, " %.3f |", c->value);
}

/* One line under a table's chart: direction, unit, interval and n. */
static void md_table_legend(const struct report *r, const char *metric, struct outbuf *o)
{
	struct metric_info mi;
	long nlo = 0, nhi = 0;
	int any_ci = 0;
	metric_info_get(metric, &mi);
	for (size_t i = 0; i < r->nr; i++)
		if (r->cells[i].has_ci && !strcmp(r->cells[i].metric, metric))
			any_ci = 1;
	ob_addf(o, "%s %s. Unit: %s.", mi.better == MI_HIGHER ? "\xe2\x86\x91"
				       : mi.better == MI_LOWER ? "\xe2\x86\x93" : "\xc2\xb7",
		metric_better_text(mi.better), mi.unit);
	if (any_ci)
		ob_addf(o, " Cells: value [%s].",
			mi.interval ? mi.interval : "95% interval as the evaluation reports it");
	else
		ob_add(o, " Cells: value (the evaluation gives no interval).");
	if (report_metric_n(r, metric, &nlo, &nhi)) {
		if (nlo == nhi)
			ob_addf(o, " n = %ld per cell.", nlo);
		else
			ob_addf(o, " n = %ld to %ld per cell (each in report.json).", nlo, nhi);
	}
	ob_add(o, "\n");
}

static void render_md(const struct report *r, const struct finding *f, const char *title,
		      struct outbuf *o)
{
	ob_addf(o, "# %s\n\n", title);
	ob_add(o, "*Provenance: this file is a content-addressed stage output (the same evaluation "
		  "outputs give the same bytes, whichever run made or reused it), so the run, commit "
		  "and date are recorded in provenance rather than written here: `study show report` "
		  "prints them, and `study report` writes an HTML report that names them above this "
		  "text.*\n\n");
	ob_addf(o, "%zu models × %zu variants, %zu metrics. Each table says which direction is "
		   "better, its unit, its interval and n.\n\n",
		r->models_nr, r->variants_nr, r->metrics_nr);
	findings_md(r, f, o);
	ob_add(o, "\n## Tables\n");
	replicates_md_intro(r, o);
	for (size_t k = 0; k < r->metrics_nr; k++) {
		const char *metric = r->metrics[k];
		char svg[512];
		struct metric_info mi;
		metric_info_get(metric, &mi);
		svg_file_name(metric, svg, sizeof(svg));
		ob_addf(o, "\n### %s (%s)\n\n", metric, report_metric_evaluation(r, metric));
		if (strcmp(mi.label, metric))
			ob_addf(o, "%s. ", mi.label);
		md_table_legend(r, metric, o);
		ob_addf(o, "\n![%s](%s)\n\n| model |", metric, svg);
		for (size_t v = 0; v < r->variants_nr; v++)
			ob_addf(o, " %s |", r->variants[v]);
		ob_add(o, "\n|---|");
		for (size_t v = 0; v < r->variants_nr; v++)
			ob_add(o, "---|");
		ob_add(o, "\n");
		for (size_t m = 0; m < r->models_nr; m++) {
			ob_addf(o, "| %s |", r->models[m]);
			for (size_t v = 0; v < r->variants_nr; v++)
				md_cell(o, report_get(r, metric, r->models[m], r->variants[v]));
			ob_add(o, "\n");
			replicates_md_rows(r, metric, r->models[m], md_cell, o);
		}
	}
}

static void render_json(const struct report *r, const struct finding *f, const char *title,
			struct outbuf *o)
{
	ob_add(o, "{\n  \"title\": ");
	ob_json_str(o, title);
	ob_add(o, ",\n  \"models\": [");
	for (size_t i = 0; i < r->models_nr; i++) {
		ob_add(o, i ? ", " : "");
		ob_json_str(o, r->models[i]);
	}
	ob_add(o, "],\n  \"variants\": [");
	for (size_t i = 0; i < r->variants_nr; i++) {
		ob_add(o, i ? ", " : "");
		ob_json_str(o, r->variants[i]);
	}
	ob_add(o, "]");
	replicates_json_seeds(r, o);
	findings_json(f, o);
	ob_add(o, ",\n  \"tables\": [");
	for (size_t k = 0; k < r->metrics_nr; k++) {
		const char *metric = r->metrics[k];
		ob_add(o, k ? ",\n    {\"metric\": " : "\n    {\"metric\": ");
		ob_json_str(o, metric);
		ob_add(o, ", \"evaluation\": ");
		ob_json_str(o, report_metric_evaluation(r, metric));
		ob_add(o, ", \"cells\": [");
		int first = 1;
		for (size_t m = 0; m < r->models_nr; m++)
			for (size_t v = 0; v < r->variants_nr; v++) {
				const struct cell *c = report_get(r, metric, r->models[m], r->variants[v]);
				if (!c)
					continue;
				ob_add(o, first ? "\n      {\"model\": " : ",\n      {\"model\": ");
				first = 0;
				ob_json_str(o, c->model);
				ob_add(o, ", \"variant\": ");
				ob_json_str(o, c->variant);
				ob_addf(o, ", \"value\": %.6f", c->value);
				if (c->has_n)
					ob_addf(o, ", \"n\": %ld", c->n);
				if (c->has_ci)
					ob_addf(o, ", \"ci_low\": %.6f, \"ci_high\": %.6f", c->ci_low,
						c->ci_high);
				replicates_json_cell(r, c, o);
				ob_add(o, "}");
			}
		ob_add(o, "]}");
	}
	ob_add(o, "\n  ]\n}\n");
}

int report_write(struct report *r, const char *dir, const char *title, char *err, size_t errlen)
{
	report_finish(r);
	static struct finding f[FINDINGS_NR];
	findings_compute(r, f);
	struct outbuf md = { 0 }, js = { 0 };
	render_md(r, f, title, &md);
	render_json(r, f, title, &js);
	int rc = ob_write(&md, dir, "report.md", err, errlen);
	if (!rc)
		rc = ob_write(&js, dir, "report.json", err, errlen);
	free(md.buf);
	free(js.buf);
	for (size_t k = 0; !rc && k < r->metrics_nr; k++)
		rc = svg_write_metric(r, r->metrics[k], dir, err, errlen);
	return rc;
}
