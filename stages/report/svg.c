/*
 * svg: one grouped bar chart per metric — a group per model, a bar per
 * variant, whiskers for the 95% interval — as a small standalone SVG file.
 *
 * What a reader needs without the text around it: the metric's name and
 * which direction is better (title), the unit (y-axis title), round tick
 * values (1, 2, 2.5 or 5 times a power of ten), the models (x-axis title and
 * labels), a legend of the variants, of the whiskers (which interval) and of
 * n. A bar whose value is 0 is drawn as a 2-pixel line with a "0" above it,
 * so a chart of zeros does not look empty.
 */
#include "report_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const palette[] = { "#4c72b0", "#dd8452", "#55a868", "#c44e52",
				       "#8172b3", "#937860", "#da8bc3", "#8c8c8c" };

void svg_file_name(const char *metric, char *buf, size_t len)
{
	size_t i = 0;
	for (; metric[i] && i + 5 < len; i++) {
		char c = metric[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '_' || c == '-';
		buf[i] = ok ? c : '_';
	}
	memcpy(buf + i, ".svg", 5);
}

/* Round tick spacing for an axis spanning `range` with about five ticks,
 * and the decimals its labels need. */
static double nice_step(double range, int *decimals)
{
	double raw = range / 5, mag = pow(10, floor(log10(raw))), norm = raw / mag, step;
	int extra = 0;
	if (norm <= 1)
		step = 1;
	else if (norm <= 2)
		step = 2;
	else if (norm <= 2.5)
		step = 2.5, extra = 1;
	else if (norm <= 5)
		step = 5;
	else
		step = 10;
	step *= mag;
	int d = (int)-floor(log10(step) + 1e-9) + extra;
	*decimals = d < 0 ? 0 : d;
	return step;
}

struct axis {
	double lo, hi, step; /* the drawn range and its tick spacing */
	int decimals;
	int rate;            /* every value lies in [0, 1]: the axis is 0..1 */
};

static void metric_axis(const struct report *r, const char *metric, struct axis *a)
{
	double lo = 0, hi = 0;
	a->rate = 1;
	for (size_t i = 0; i < r->nr; i++) {
		const struct cell *c = &r->cells[i];
		if (strcmp(c->metric, metric))
			continue;
		double top = c->has_ci && c->ci_high > c->value ? c->ci_high : c->value;
		double bot = c->has_ci && c->ci_low < c->value ? c->ci_low : c->value;
		if (top > hi)
			hi = top;
		if (bot < lo)
			lo = bot;
		if (c->value < 0 || c->value > 1)
			a->rate = 0;
	}
	if (a->rate) {
		lo = 0;
		hi = 1;
	}
	if (hi - lo <= 0)
		hi = lo + 1;
	a->step = nice_step(hi - lo, &a->decimals);
	a->lo = floor(lo / a->step + 1e-9) * a->step;
	a->hi = ceil(hi / a->step - 1e-9) * a->step;
	if (a->lo > 0)
		a->lo = 0;
}

int svg_write_metric(const struct report *r, const char *metric, const char *dir, char *err,
		     size_t errlen)
{
	const double bar = 14, gap = 18, left = 70, top = 52, height = 220, legend_w = 250;
	const size_t nv = r->variants_nr, nm = r->models_nr;
	const double plot_w = (double)nm * ((double)nv * bar + gap);
	const double width = left + plot_w + 20 + legend_w;
	const double total_h = top + height + 54;
	struct metric_info mi;
	struct axis ax;
	metric_info_get(metric, &mi);
	metric_axis(r, metric, &ax);
	/* y of a value */
#define Y(v) (top + height - height * ((v) - ax.lo) / (ax.hi - ax.lo))

	struct outbuf o = { 0 };
	ob_addf(&o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		    "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"11\" "
		    "role=\"img\">\n<title>",
		width, total_h, width, total_h);
	ob_xml_str(&o, mi.label);
	ob_add(&o, " by model and variant</title>\n");
	ob_add(&o, "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n");
	/* title: label (name) and direction */
	ob_add(&o, "<text x=\"4\" y=\"17\" font-size=\"14\" font-weight=\"bold\">");
	ob_xml_str(&o, mi.label);
	if (strcmp(mi.label, metric)) {
		ob_add(&o, " <tspan font-weight=\"normal\" fill=\"#555\">(");
		ob_xml_str(&o, metric);
		ob_add(&o, ")</tspan>");
	}
	ob_add(&o, "</text>\n<text x=\"4\" y=\"35\" font-size=\"12\">");
	if (mi.better == MI_HIGHER)
		ob_add(&o, "\xe2\x86\x91 ");
	else if (mi.better == MI_LOWER)
		ob_add(&o, "\xe2\x86\x93 ");
	ob_add(&o, metric_better_text(mi.better));
	ob_add(&o, " \xc2\xb7 evaluation: ");
	ob_xml_str(&o, report_metric_evaluation(r, metric));
	ob_add(&o, "</text>\n");

	/* y axis: grid, ticks, title */
	for (int t = 0;; t++) {
		double v = ax.lo + ax.step * t;
		if (v > ax.hi + ax.step * 1e-6)
			break;
		double y = Y(v);
		ob_addf(&o, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
			left, y, left + plot_w, y, fabs(v) < ax.step * 1e-6 ? "#000" : "#e4e4e4");
		ob_addf(&o, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", left - 6,
			y + 4, ax.decimals, fabs(v) < ax.step * 1e-6 ? 0.0 : v);
	}
	ob_addf(&o, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#000\"/>\n", left,
		top, left, top + height);
	ob_addf(&o, "<text transform=\"translate(16 %.0f) rotate(-90)\" text-anchor=\"middle\" "
		    "font-size=\"10\">",
		top + height / 2);
	ob_xml_str(&o, mi.unit);
	if (ax.rate)
		ob_add(&o, " (0\xe2\x80\x93" "1)");
	ob_add(&o, "</text>\n");

	/* bars */
	for (size_t m = 0; m < nm; m++) {
		double gx = left + gap / 2 + (double)m * ((double)nv * bar + gap);
		for (size_t v = 0; v < nv; v++) {
			const struct cell *c = report_get(r, metric, r->models[m], r->variants[v]);
			if (!c)
				continue;
			double x = gx + (double)v * bar, y0 = Y(0), y1 = Y(c->value);
			double yt = y1 < y0 ? y1 : y0, h = fabs(y0 - y1);
			int zero = h < 2;
			if (zero) { /* visible: a 2-pixel bar and its value */
				h = 2;
				yt = y0 - 2;
			}
			ob_addf(&o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				    "fill=\"%s\"><title>",
				x, yt, bar - 2, h, palette[v % 8]);
			ob_xml_str(&o, r->models[m]);
			ob_add(&o, " ");
			ob_xml_str(&o, r->variants[v]);
			ob_addf(&o, ": %.3f", c->value);
			if (c->has_ci)
				ob_addf(&o, " [%.3f, %.3f]", c->ci_low, c->ci_high);
			if (c->has_n)
				ob_addf(&o, ", n = %ld", c->n);
			ob_add(&o, "</title></rect>\n");
			double cx = x + (bar - 2) / 2;
			if (zero) { /* under the axis; above the whisker when 0 is not the bottom */
				double ylab = ax.lo < 0 ? (c->has_ci && Y(c->ci_high) < yt ? Y(c->ci_high)
											  : yt) - 3
							: y0 + 10;
				ob_addf(&o, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" "
					    "text-anchor=\"middle\">0</text>\n",
					cx, ylab);
			}
			if (c->has_ci) {
				double ya = Y(c->ci_low), yb = Y(c->ci_high);
				ob_addf(&o, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fh6M%.1f %.1fh6\" "
					    "stroke=\"#222\" fill=\"none\"/>\n",
					cx, ya, yb, cx - 3, ya, cx - 3, yb);
			}
		}
		ob_addf(&o, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">",
			gx + (double)nv * bar / 2 - 1, top + height + 24);
		ob_xml_str(&o, r->models[m]);
		ob_add(&o, "</text>\n");
	}
	ob_addf(&o, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#333\">model</text>\n",
		left + plot_w / 2, top + height + 42);

	/* legend: variants, the whisker, n */
	double lx = left + plot_w + 20, ly = top;
	ob_addf(&o, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#333\">variant</text>\n", lx, ly);
	for (size_t v = 0; v < nv; v++) {
		ly += 16;
		ob_addf(&o, "<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			    "<text x=\"%.0f\" y=\"%.0f\">",
			lx, ly - 9, palette[v % 8], lx + 16, ly);
		ob_xml_str(&o, r->variants[v]);
		ob_add(&o, "</text>\n");
	}
	int any_ci = 0;
	for (size_t i = 0; i < r->nr; i++)
		if (r->cells[i].has_ci && !strcmp(r->cells[i].metric, metric))
			any_ci = 1;
	ly += 24;
	if (any_ci) {
		ob_addf(&o, "<path d=\"M%.0f %.0fV%.0fM%.0f %.0fh6M%.0f %.0fh6\" stroke=\"#222\" "
			    "fill=\"none\"/><text x=\"%.0f\" y=\"%.0f\">whiskers: ",
			lx + 5, ly - 11, ly + 1, lx + 2, ly - 11, lx + 2, ly + 1, lx + 16, ly);
		ob_xml_str(&o, mi.interval ? mi.interval : "95% interval as the evaluation reports it");
		ob_add(&o, "</text>\n");
	} else {
		ob_addf(&o, "<text x=\"%.0f\" y=\"%.0f\">no interval given</text>\n", lx, ly);
	}
	long nlo = 0, nhi = 0;
	ly += 18;
	if (report_metric_n(r, metric, &nlo, &nhi)) {
		if (nlo == nhi)
			ob_addf(&o, "<text x=\"%.0f\" y=\"%.0f\">n = %ld per bar</text>\n", lx, ly, nlo);
		else
			ob_addf(&o, "<text x=\"%.0f\" y=\"%.0f\">n = %ld to %ld per bar</text>\n", lx, ly,
				nlo, nhi);
	} else {
		ob_addf(&o, "<text x=\"%.0f\" y=\"%.0f\">n not given</text>\n", lx, ly);
	}
#undef Y
	ob_add(&o, "</svg>\n");
	char name[512];
	svg_file_name(metric, name, sizeof(name));
	int rc = ob_write(&o, dir, name, err, errlen);
	free(o.buf);
	return rc;
}
