/*
 * report_gantt: the run's timeline as inline SVG: one row per lane (the
 * `-j` slots, reconstructed from start and end times: report_graph.h), one
 * bar per execution from its start to its end, coloured by status, the
 * critical path outlined, a time axis in seconds from the run's start.
 *
 * A bar narrower than MIN_BAR pixels is merged with the narrow bars next to
 * it in its lane into one grey block ("N executions"), so that a run of
 * thousands of millisecond stages stays a picture and not thousands of
 * invisible slivers; bars on the critical path are always drawn alone.
 */
#include "report_html.h"
#include "html.h"
#include "prov_query.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PLOT_W 1000.0
#define LEFT 64.0
#define TOP 26.0
#define LANE_H 18.0
#define BAR_H 13.0
#define MIN_BAR 2.0

static const struct report_run *sort_rr;

static int by_lane_start(const void *pa, const void *pb)
{
	const struct report_stage *a = &sort_rr->st[*(const size_t *)pa];
	const struct report_stage *b = &sort_rr->st[*(const size_t *)pb];
	if (a->lane != b->lane)
		return a->lane - b->lane;
	if (a->x->e.started != b->x->e.started)
		return a->x->e.started < b->x->e.started ? -1 : 1;
	return a->x->e.id < b->x->e.id ? -1 : a->x->e.id > b->x->e.id;
}

/* A tick spacing of 1, 2 or 5 times a power of ten giving at most ~10 ticks. */
static double tick_step(double span)
{
	double raw = span / 10, mag = pow(10, floor(log10(raw))), norm = raw / mag;
	return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

static void bar(const struct report_run *rr, size_t s, double scale, struct strbuf *out)
{
	const struct report_stage *st = &rr->st[s];
	const struct prov_exec_info *e = &st->x->e;
	double x = LEFT + (e->started - rr->t0) * scale;
	double w = (e->ended > e->started ? e->ended - e->started : 0) * scale;
	double y = TOP + st->lane * LANE_H + (LANE_H - BAR_H) / 2;
	char dur[32];
	if (w < 1)
		w = 1;
	strbuf_addstr(out, "<a href=\"");
	report_stage_href(out, e->stage_id);
	strbuf_addf(out, "\"><g class=\"bar %s%s\" data-stage=\"", report_status_class(e->status),
		    st->critical ? " crit" : "");
	html_text(out, e->stage_id);
	strbuf_addf(out, "\"><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"/>", x, y, w,
		    BAR_H);
	/* the id inside the bar when it fits (about 6 px a character) */
	size_t len = strlen(e->stage_id);
	if (w > 6.0 * (double)len + 8) {
		strbuf_addf(out, "<text x=\"%.2f\" y=\"%.1f\">", x + 4, y + 10);
		html_text(out, e->stage_id);
		strbuf_addstr(out, "</text>");
	}
	strbuf_addstr(out, "<title>");
	html_text(out, e->stage_id);
	report_duration(e->wall_s, dur);
	strbuf_addf(out, ": %s, from +%.2f s, wall %s", e->status ? e->status : "?",
		    e->started - rr->t0, dur);
	if (st->critical)
		strbuf_addstr(out, " (critical path)");
	strbuf_addstr(out, "</title></g></a>");
}

void report_gantt_svg(const struct report_run *rr, struct strbuf *out)
{
	size_t *v = xcalloc(rr->nr + 1, sizeof(size_t)), m = 0;
	for (size_t i = 0; i < rr->nr; i++)
		if (rr->st[i].lane >= 0)
			v[m++] = i;
	sort_rr = rr;
	qsort(v, m, sizeof(size_t), by_lane_start);
	sort_rr = NULL;
	double span = rr->t1 - rr->t0;
	if (span <= 0)
		span = 1;
	double scale = PLOT_W / span;
	double height = TOP + rr->lanes * LANE_H + 8;
	strbuf_addf(out, "<svg id=\"timeline-svg\" xmlns=\"http://www.w3.org/2000/svg\""
			 " width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\""
			 " aria-label=\"the timeline of executions\">\n",
		    LEFT + PLOT_W + 20, height, LEFT + PLOT_W + 20, height);
	/* axis: a tick every step seconds from the run's start */
	double step = tick_step(span);
	for (int t = 0; t * step <= span * (1 + 1e-9); t++) {
		double x = LEFT + t * step * scale;
		strbuf_addf(out, "<line class=\"tick\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
				 "<text class=\"axis\" x=\"%.1f\" y=\"16\">%g s</text>\n",
			    x, TOP - 4, x, height - 6, x, t * step);
	}
	for (int l = 0; l < rr->lanes; l++)
		strbuf_addf(out, "<text class=\"lane\" x=\"4\" y=\"%.1f\">slot %d</text>\n",
			    TOP + l * LANE_H + 13, l + 1);
	/* bars, narrow ones merged; the critical path last, on top */
	for (size_t k = 0; k < m;) {
		const struct report_stage *st = &rr->st[v[k]];
		const struct prov_exec_info *e = &st->x->e;
		double w = (e->ended - e->started) * scale;
		if (w >= MIN_BAR || st->critical) {
			if (!st->critical)
				bar(rr, v[k], scale, out);
			k++;
			continue;
		}
		/* a block of narrow bars in this lane, while they stay within a pixel of it */
		size_t j = k, n = 0;
		double b0 = e->started, b1 = e->ended > e->started ? e->ended : e->started;
		while (j < m) {
			const struct report_stage *o = &rr->st[v[j]];
			const struct prov_exec_info *f = &o->x->e;
			if (o->lane != st->lane || (f->ended - f->started) * scale >= MIN_BAR ||
			    (f->started - b1) * scale > 1)
				break;
			if (!o->critical) {
				if (f->ended > b1)
					b1 = f->ended;
				n++;
			}
			j++;
		}
		if (n == 1) {
			bar(rr, v[k], scale, out);
		} else if (n > 1) {
			double x = LEFT + (b0 - rr->t0) * scale, bw = (b1 - b0) * scale;
			strbuf_addf(out, "<rect class=\"bar many\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\""
					 " height=\"%.1f\"><title>%zu executions, +%.2f s to +%.2f s"
					 "</title></rect>\n",
				    x, TOP + st->lane * LANE_H + (LANE_H - BAR_H) / 2, bw < 1 ? 1 : bw,
				    BAR_H, n, b0 - rr->t0, b1 - rr->t0);
		}
		k = j > k ? j : k + 1;
	}
	for (size_t k = 0; k < m; k++)
		if (rr->st[v[k]].critical)
			bar(rr, v[k], scale, out);
	strbuf_addstr(out, "</svg>\n");
	free(v);
}
