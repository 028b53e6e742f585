/*
 * svg: one grouped bar chart per metric — a group per model, a bar per
 * variant, whiskers for the 95% interval — as a small standalone SVG file.
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

int svg_write_metric(const struct report *r, const char *metric, const char *dir, char *err,
		     size_t errlen)
{
	const double bar = 14, gap = 18, left = 50, top = 30, height = 200;
	const size_t nv = r->variants_nr, nm = r->models_nr;
	double width = left + (double)nm * ((double)nv * bar + gap) + 150;
	/* the axis: rates stay in [0,1]; other values scale to their maximum */
	double maxv = 0;
	int is_rate = 1;
	for (size_t i = 0; i < r->nr; i++)
		if (!strcmp(r->cells[i].metric, metric)) {
			double hi = r->cells[i].has_ci ? r->cells[i].ci_high : r->cells[i].value;
			if (hi > maxv)
				maxv = hi;
			if (r->cells[i].value < 0 || r->cells[i].value > 1)
				is_rate = 0;
		}
	if (is_rate || maxv <= 0)
		maxv = 1;
	struct outbuf o = { 0 };
	ob_addf(&o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		    "font-family=\"sans-serif\" font-size=\"10\">\n",
		width, top + height + 40);
	ob_add(&o, "<text x=\"4\" y=\"16\" font-size=\"12\">");
	ob_xml_str(&o, metric);
	ob_add(&o, "</text>\n");
	ob_addf(&o, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#000\"/>\n", left,
		top, left, top + height);
	for (int t = 0; t <= 4; t++) {
		double y = top + height - height * t / 4.0;
		ob_addf(&o, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", left - 4,
			y + 3, maxv * t / 4.0);
	}
	for (size_t m = 0; m < nm; m++) {
		double gx = left + gap / 2 + (double)m * ((double)nv * bar + gap);
		for (size_t v = 0; v < nv; v++) {
			const struct cell *c = report_get(r, metric, r->models[m], r->variants[v]);
			if (!c)
				continue;
			double x = gx + (double)v * bar;
			double h = height * fmax(0, c->value) / maxv;
			ob_addf(&o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				    "fill=\"%s\"><title>",
				x, top + height - h, bar - 2, h, palette[v % 8]);
			ob_xml_str(&o, r->models[m]);
			ob_add(&o, " ");
			ob_xml_str(&o, r->variants[v]);
			ob_addf(&o, ": %.3f</title></rect>\n", c->value);
			if (c->has_ci) {
				double y1 = top + height - height * fmax(0, c->ci_low) / maxv;
				double y2 = top + height - height * fmax(0, c->ci_high) / maxv;
				double cx = x + (bar - 2) / 2;
				ob_addf(&o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
					    "stroke=\"#222\"/>\n",
					cx, y1, cx, y2);
			}
		}
		ob_addf(&o, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">",
			gx + (double)nv * bar / 2, top + height + 14);
		ob_xml_str(&o, r->models[m]);
		ob_add(&o, "</text>\n");
	}
	for (size_t v = 0; v < nv; v++) {
		double lx = width - 140, ly = top + 12 * (double)v;
		ob_addf(&o, "<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			    "<text x=\"%.0f\" y=\"%.0f\">",
			lx, ly, palette[v % 8], lx + 14, ly + 9);
		ob_xml_str(&o, r->variants[v]);
		ob_add(&o, "</text>\n");
	}
	ob_add(&o, "</svg>\n");
	char name[512];
	svg_file_name(metric, name, sizeof(name));
	int rc = ob_write(&o, dir, name, err, errlen);
	free(o.buf);
	return rc;
}
