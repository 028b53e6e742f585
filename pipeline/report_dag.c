/*
 * report_dag: the run's DAG as inline SVG, drawn left to right by section.
 *
 * Layout: one column per section (the stage kinds, in the page's order);
 * in a column, one box per group (the first two parts of the stage id when
 * it has three or more, "method/jt", "eval/refusal"; else the first part,
 * "model"); in a box, the group's stages in a grid, labelled with the rest
 * of their id ("m1/wo+sft"). Every stage is filled with its status' colour
 * (the page's CSS) and links to its row in the stage table; the critical
 * path is outlined. Edges go from an input's stage to the stage that read
 * it; when there are too many to follow (REPORT_DAG_MAX_EDGES) they are
 * drawn once per pair of groups, thicker the more they stand for, with the
 * critical path's own edges on top. Above
 * REPORT_DAG_COMPACT stages each stage is a small unlabelled square.
 */
#include "report_html.h"
#include "html.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct group {
	char *name;
	size_t first, nr; /* a slice of rr->order */
	int col, cols;    /* section column, grid columns */
	double x, y, w, h;
};

struct layout {
	struct group *g;
	size_t nr, alloc;
	size_t *group_of;      /* stage -> group */
	double *nx, *ny;       /* stage -> node position (top left) */
	double node_w, node_h, pitch_x, pitch_y;
	double width, height;
	int compact;
};

/* The group name of a stage id, into out. */
static void group_name(const char *id, struct strbuf *out)
{
	const char *a = strchr(id, '/'), *b = a ? strchr(a + 1, '/') : NULL;
	strbuf_reset(out);
	if (b)
		strbuf_add(out, id, (size_t)(b - id));
	else if (a)
		strbuf_add(out, id, (size_t)(a - id));
	else
		strbuf_addstr(out, id);
}

/* The label of a stage within its group. */
static const char *node_label(const char *id, const char *group)
{
	size_t n = strlen(group);
	if (!strncmp(id, group, n) && id[n] == '/' && id[n + 1])
		return id + n + 1;
	return id;
}

static void build_layout(const struct report_run *rr, struct layout *L)
{
	struct strbuf name = STRBUF_INIT;
	memset(L, 0, sizeof(*L));
	L->compact = rr->stages_nr > REPORT_DAG_COMPACT;
	L->group_of = xcalloc(rr->nr + 1, sizeof(size_t));
	L->nx = xcalloc(rr->nr + 1, sizeof(double));
	L->ny = xcalloc(rr->nr + 1, sizeof(double));
	/* groups: consecutive stages of the order with the same group name */
	int col = -1, prev_rank = -1;
	const char *prev_kind = NULL;
	for (size_t k = 0; k < rr->stages_nr; k++) {
		const struct prov_exec_info *e = &rr->st[rr->order[k]].x->e;
		int rank = report_kind_rank(e->kind);
		if (rank != prev_rank || (rank == 6 && strcmp(e->kind ? e->kind : "",
							     prev_kind ? prev_kind : "")))
			col++;
		prev_rank = rank;
		prev_kind = e->kind;
		group_name(e->stage_id, &name);
		if (!L->nr || L->g[L->nr - 1].col != col || strcmp(L->g[L->nr - 1].name, name.buf)) {
			XGROW(L->g, L->alloc, L->nr + 1);
			struct group *g = &L->g[L->nr++];
			memset(g, 0, sizeof(*g));
			g->name = xstrdup(name.buf);
			g->first = k;
			g->col = col;
		}
		L->g[L->nr - 1].nr++;
		L->group_of[rr->order[k]] = L->nr - 1;
	}
	int ncols = col + 1;
	/* node size: labels set the width in a labelled drawing */
	size_t longest = 4;
	if (!L->compact)
		for (size_t k = 0; k < rr->stages_nr; k++) {
			size_t s = rr->order[k];
			size_t len = strlen(node_label(rr->st[s].x->e.stage_id, L->g[L->group_of[s]].name));
			if (len > longest)
				longest = len;
		}
	if (longest > 24)
		longest = 24;
	L->node_w = L->compact ? 9 : 10 + 6.6 * (double)longest;
	L->node_h = L->compact ? 9 : 16;
	L->pitch_x = L->node_w + (L->compact ? 2 : 4);
	L->pitch_y = L->node_h + (L->compact ? 2 : 3);
	const double pad = 6, head = 18, col_gap = L->compact ? 40 : 46, top = 24, group_gap = 12;
	double x = 10;
	for (int c = 0; c < ncols; c++) {
		double y = top, colw = 0;
		for (size_t i = 0; i < L->nr; i++) {
			struct group *g = &L->g[i];
			if (g->col != c)
				continue;
			if (L->compact)
				g->cols = (int)ceil(sqrt((double)g->nr));
			else
				g->cols = g->nr <= 8 ? 1 : (int)ceil(sqrt((double)g->nr / 2.0));
			int rows = (int)((g->nr + (size_t)g->cols - 1) / (size_t)g->cols);
			g->x = x;
			g->y = y;
			g->w = 2 * pad + g->cols * L->pitch_x - (L->pitch_x - L->node_w);
			double label_w = 7.0 * ((double)strlen(g->name) + 6);
			if (g->w < label_w)
				g->w = label_w;
			g->h = head + pad + rows * L->pitch_y;
			for (size_t k = 0; k < g->nr; k++) {
				size_t s = rr->order[g->first + k];
				L->nx[s] = g->x + pad + (double)(k % (size_t)g->cols) * L->pitch_x;
				L->ny[s] = g->y + head + (double)(k / (size_t)g->cols) * L->pitch_y;
			}
			y += g->h + group_gap;
			if (g->w > colw)
				colw = g->w;
		}
		if (y > L->height)
			L->height = y;
		x += colw + col_gap;
	}
	L->width = x - col_gap + 10;
	strbuf_release(&name);
}

static void release_layout(struct layout *L)
{
	for (size_t i = 0; i < L->nr; i++)
		free(L->g[i].name);
	free(L->g);
	free(L->group_of);
	free(L->nx);
	free(L->ny);
}

static void curve(struct strbuf *out, double x1, double y1, double x2, double y2)
{
	double dx = fabs(x2 - x1) / 2;
	if (dx < 30)
		dx = 30;
	strbuf_addf(out, "M%.1f %.1fC%.1f %.1f %.1f %.1f %.1f %.1f", x1, y1, x1 + dx, y1, x2 - dx,
		    y2, x2, y2);
}

/* Consecutive on the critical path: d then s. */
static int critical_edge(const struct report_run *rr, size_t d, size_t s)
{
	for (size_t k = 0; k + 1 < rr->crit_nr; k++)
		if (rr->crit[k] == d && rr->crit[k + 1] == s)
			return 1;
	return 0;
}

/* Edges between stages (only the critical path's with crit_only). */
static void stage_edges(const struct report_run *rr, const struct layout *L,
			struct strbuf *out, int crit_only)
{
	strbuf_addstr(out, "<g class=\"edges\">");
	for (int pass = crit_only; pass < 2; pass++) /* the critical path on top */
		for (size_t s = 0; s < rr->nr; s++)
			for (size_t k = 0; k < rr->st[s].deps_nr; k++) {
				size_t d = rr->st[s].deps[k];
				int crit = critical_edge(rr, d, s);
				if (crit != pass)
					continue;
				strbuf_addstr(out, crit ? "<path class=\"edge crit\" d=\""
							: "<path class=\"edge\" d=\"");
				curve(out, L->nx[d] + L->node_w, L->ny[d] + L->node_h / 2, L->nx[s],
				      L->ny[s] + L->node_h / 2);
				strbuf_addstr(out, "\"/>");
			}
	strbuf_addstr(out, "</g>\n");
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

static void group_edges(const struct report_run *rr, const struct layout *L,
			struct strbuf *out)
{
	/* every edge as the pair (from group, to group), sorted, then counted */
	size_t *pairs = xcalloc(rr->edges_nr + 1, sizeof(size_t)), n = 0;
	for (size_t s = 0; s < rr->nr; s++)
		for (size_t k = 0; k < rr->st[s].deps_nr && n < rr->edges_nr; k++)
			pairs[n++] = L->group_of[rr->st[s].deps[k]] * L->nr + L->group_of[s];
	qsort(pairs, n, sizeof(size_t), cmp_size);
	strbuf_addstr(out, "<g class=\"edges\">");
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && pairs[j] == pairs[i])
			j++;
		const struct group *a = &L->g[pairs[i] / L->nr], *b = &L->g[pairs[i] % L->nr];
		double w = 1 + log2((double)(j - i));
		strbuf_addf(out, "<path class=\"edge group\" style=\"stroke-width:%.1f\" d=\"", w);
		curve(out, a->x + a->w, a->y + a->h / 2, b->x, b->y + b->h / 2);
		strbuf_addstr(out, "\"><title>");
		strbuf_addf(out, "%zu edge%s: ", j - i, j - i == 1 ? "" : "s");
		html_text(out, a->name);
		strbuf_addstr(out, " \xe2\x86\x92 ");
		html_text(out, b->name);
		strbuf_addstr(out, "</title></path>");
		i = j;
	}
	strbuf_addstr(out, "</g>\n");
	free(pairs);
}

static void node(const struct report_run *rr, const struct layout *L, size_t s,
		 struct strbuf *out)
{
	const struct prov_exec_info *e = &rr->st[s].x->e;
	strbuf_addstr(out, "<a href=\"");
	report_stage_href(out, e->stage_id);
	strbuf_addf(out, "\"><g class=\"node %s%s\" data-stage=\"",
		    report_status_class(e->status), rr->st[s].critical ? " crit" : "");
	html_text(out, e->stage_id);
	strbuf_addf(out, "\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"%d\"/>",
		    L->nx[s], L->ny[s], L->node_w, L->node_h, L->compact ? 1 : 3);
	if (!L->compact) {
		strbuf_addf(out, "<text x=\"%.1f\" y=\"%.1f\">", L->nx[s] + 5, L->ny[s] + 12);
		const char *label = node_label(e->stage_id, L->g[L->group_of[s]].name);
		if (strlen(label) > 24) {
			html_textn(out, label, 23);
			strbuf_addstr(out, "\xe2\x80\xa6");
		} else {
			html_text(out, label);
		}
		strbuf_addstr(out, "</text>");
	}
	strbuf_addstr(out, "<title>");
	html_text(out, e->stage_id);
	strbuf_addstr(out, ": ");
	html_text(out, e->status ? e->status : "?");
	strbuf_addstr(out, "</title></g></a>");
}

void report_dag_svg(const struct report_run *rr, struct strbuf *out)
{
	struct layout L;
	build_layout(rr, &L);
	strbuf_addf(out, "<svg id=\"dag-svg\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\""
			 " height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\""
			 " aria-label=\"the stage graph\">\n",
		    L.width, L.height, L.width, L.height);
	/* section titles over the first group of each column */
	for (size_t i = 0; i < L.nr; i++) {
		if (i && L.g[i - 1].col == L.g[i].col)
			continue;
		const struct prov_exec_info *e = &rr->st[rr->order[L.g[i].first]].x->e;
		strbuf_addf(out, "<text class=\"section\" x=\"%.1f\" y=\"14\">", L.g[i].x);
		html_text(out, e->kind ? e->kind : "?");
		strbuf_addstr(out, "</text>\n");
	}
	for (size_t i = 0; i < L.nr; i++) {
		const struct group *g = &L.g[i];
		strbuf_addf(out, "<g class=\"group\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
				 " height=\"%.1f\" rx=\"4\"/><text x=\"%.1f\" y=\"%.1f\">",
			    g->x, g->y, g->w, g->h, g->x + 6, g->y + 13);
		html_text(out, g->name);
		strbuf_addf(out, " <tspan class=\"count\">\xc2\xb7 %zu</tspan></text></g>\n", g->nr);
	}
	if (rr->edges_nr <= REPORT_DAG_MAX_EDGES && !L.compact) {
		stage_edges(rr, &L, out, 0);
	} else {
		group_edges(rr, &L, out);
		stage_edges(rr, &L, out, 1); /* the critical path's own edges on top */
	}
	strbuf_addstr(out, "<g class=\"nodes\">");
	for (size_t k = 0; k < rr->stages_nr; k++) {
		node(rr, &L, rr->order[k], out);
		if (k % 8 == 7)
			strbuf_addch(out, '\n');
	}
	strbuf_addstr(out, "</g>\n</svg>\n");
	release_layout(&L);
}
