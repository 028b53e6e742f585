/*
 * report_html: the page `study report` writes (see report_html.h): the
 * run's header, the DAG, the timeline with the critical path, the metrics
 * with their provenance links, the report stage's own output, and the
 * stage table, with the page's CSS and its little JavaScript.
 */
#include "report_html.h"
#include "cli.h"
#include "html.h"
#include "natcmp.h"
#include "prov_query.h"
#include "strmap.h"
#include "xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* How much of a long command or input list a stage's details show. */
#define DETAIL_MAX_ARGS 40
#define DETAIL_MAX_INPUTS 40

static const char css[] =
	":root{--ran:#2ca25f;--cached:#9ecae1;--failed:#de2d26;--interrupted:#fd8d3c;"
	"--skipped:#bdbdbd;--not-started:#ffffff;--other:#e7e1ef}\n"
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
	"margin:0 24px 48px;color:#1d1d1d;background:#fff}\n"
	"h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;margin:28px 0 8px;"
	"border-bottom:1px solid #ddd;padding-bottom:3px}h3{font-size:15px;margin:18px 0 6px}\n"
	"nav a{margin-right:14px}a{color:#1a5fb4}\n"
	"table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;text-align:left;"
	"vertical-align:top;border-bottom:1px solid #eee}th{background:#f5f5f5}\n"
	"table.kv th{background:none;font-weight:600;padding-right:18px}\n"
	"td.num,th.num,#stage-table td:nth-child(n+5):nth-child(-n+8),"
	"#stage-table th:nth-child(n+5):nth-child(-n+8){text-align:right;"
	"font-variant-numeric:tabular-nums}\n"
	".scroll{overflow:auto;max-width:100%;border:1px solid #e3e3e3;border-radius:4px;"
	"padding:4px;margin:6px 0}\n"
	".note{color:#555;font-size:13px}code,.mono{font-family:ui-monospace,'DejaVu Sans Mono',"
	"monospace;font-size:12px}\n"
	".legend span.sw{display:inline-block;width:11px;height:11px;border:1px solid #666;"
	"margin:0 4px 0 12px;vertical-align:-1px}\n"
	".legend span.crit{border:2px solid #000}\n"
	".st-ran rect,span.sw.st-ran,td.st-ran{background:var(--ran);fill:var(--ran)}\n"
	".st-cached rect,span.sw.st-cached,td.st-cached{background:var(--cached);"
	"fill:var(--cached)}\n"
	".st-failed rect,span.sw.st-failed,td.st-failed{background:var(--failed);"
	"fill:var(--failed);color:#fff}\n"
	".st-interrupted rect,span.sw.st-interrupted,td.st-interrupted{"
	"background:var(--interrupted);fill:var(--interrupted)}\n"
	".st-skipped rect,span.sw.st-skipped,td.st-skipped{background:var(--skipped);"
	"fill:var(--skipped)}\n"
	".st-not-started rect,span.sw.st-not-started,td.st-not-started{"
	"background:var(--not-started);fill:var(--not-started)}\n"
	".st-other rect,span.sw.st-other,td.st-other{background:var(--other);fill:var(--other)}\n"
	"#dag-svg text{font-size:11px}#dag-svg .section{font-size:13px;font-weight:600}\n"
	"#dag-svg .group rect{fill:#fafafa;stroke:#c8c8c8}#dag-svg .group text{fill:#444}\n"
	"#dag-svg .count{fill:#888}\n"
	".node rect{stroke:#555;stroke-width:.7}.node.st-not-started rect{stroke-dasharray:2 2}\n"
	".node.crit rect,.bar.crit rect{stroke:#000;stroke-width:2}\n"
	".node text{fill:#111;pointer-events:none}.node.st-failed text{fill:#fff}\n"
	".edge{fill:none;stroke:#8a8a8a;stroke-opacity:.55;stroke-width:1}\n"
	".edge.crit{stroke:#000;stroke-opacity:1;stroke-width:2}\n"
	".edge.group{stroke:#7a7a7a;stroke-opacity:.45}\n"
	"#timeline-svg text{font-size:11px}#timeline-svg .tick{stroke:#e6e6e6}\n"
	"#timeline-svg .axis{fill:#555;text-anchor:middle}#timeline-svg .lane{fill:#555}\n"
	".bar rect{stroke:#333;stroke-width:.4}.bar text{fill:#111;pointer-events:none}\n"
	".bar.many{fill:#999}\n"
	"tr.attempt td{color:#666}tr:target{background:#fff3b0}tr:target td{border-bottom-color:#e0c200}\n"
	"table.sortable th{cursor:pointer;user-select:none}table.sortable th:after{"
	"content:' \\2195';color:#aaa;font-size:11px}\n"
	"details summary{cursor:pointer;color:#1a5fb4}details[open]{padding-bottom:4px}\n"
	"details ol{margin:2px 0;padding-left:22px}\n"
	"a.m{font-variant-numeric:tabular-nums}.ci,.n{color:#666;font-size:12px}\n"
	"table.md td{font-variant-numeric:tabular-nums}img.chart{display:block;margin:6px 0;"
	"max-width:100%}\n"
	".missing{color:#a00}\n"
	"section.report-output{border-left:3px solid #ddd;padding-left:14px}\n";

/* Sorting a table by a column (its cells' data-v, else their text), and
 * opening the details of the row a link points at. */
static const char js[] =
	"(function(){\n"
	"function key(r,c){var d=r.cells[c];if(!d)return '';var v=d.getAttribute('data-v');"
	"return v===null?d.textContent:parseFloat(v);}\n"
	"document.querySelectorAll('table.sortable').forEach(function(t){"
	"t.tHead.querySelectorAll('th').forEach(function(th,c){"
	"th.addEventListener('click',function(){var b=t.tBodies[0],rows=[].slice.call(b.rows),"
	"dir=th.getAttribute('data-dir')==='asc'?-1:1;th.setAttribute('data-dir',dir>0?'asc':'desc');"
	"rows.sort(function(a,z){var x=key(a,c),y=key(z,c);if(typeof x==='number'&&"
	"typeof y==='number')return (x-y)*dir;return String(x).localeCompare(String(y))*dir;});"
	"var f=document.createDocumentFragment();rows.forEach(function(r){f.appendChild(r);});"
	"b.appendChild(f);});});});\n"
	"function open(){var id;try{id=decodeURIComponent(location.hash.slice(1));}"
	"catch(e){return;}"
	"var e=id&&document.getElementById(id);if(!e)return;var d=e.querySelector('details');"
	"if(d)d.open=true;}\n"
	"window.addEventListener('hashchange',open);open();\n"
	"})();\n";

const char *report_status_class(const char *status)
{
	static const char *const known[] = { "ran", "cached", "failed", "interrupted", "skipped",
					     "not-started" };
	static const char *const cls[] = { "st-ran", "st-cached", "st-failed", "st-interrupted",
					   "st-skipped", "st-not-started" };
	for (size_t i = 0; status && i < 6; i++)
		if (!strcmp(status, known[i]))
			return cls[i];
	return "st-other";
}

void report_stage_href(struct strbuf *sb, const char *id)
{
	strbuf_addch(sb, '#');
	html_id(sb, "s-", id);
}

void report_duration(double s, char out[32])
{
	if (s < 0.0095)
		snprintf(out, 32, "%.1f ms", s * 1000);
	else if (s < 1)
		snprintf(out, 32, "%.0f ms", s * 1000);
	else
		prov_format_duration(s, out);
}

static void or_dash(struct strbuf *out, const char *s)
{
	html_text(out, s && *s ? s : "-");
}

static void commit_html(struct strbuf *out, const struct prov_run_info *r)
{
	if (!r->git_commit) {
		strbuf_addstr(out, "unknown (not in a git repository)");
		return;
	}
	strbuf_addstr(out, "<span class=\"mono\">");
	html_text(out, r->git_commit);
	strbuf_addstr(out, "</span>");
	if (r->git_dirty == 1)
		strbuf_addstr(out, " <strong>dirty</strong> (uncommitted changes)");
	else if (r->git_dirty == 0)
		strbuf_addstr(out, " clean");
	if (r->git_branch) {
		strbuf_addstr(out, ", branch ");
		html_text(out, r->git_branch);
	}
}

/* "local, -j 4" from the run's argv (the orchestrator's only executor). */
static void executor_html(struct strbuf *out, const struct prov_run_info *r)
{
	cJSON *argv = r->argv_json ? cJSON_Parse(r->argv_json) : NULL;
	const char *jobs = NULL;
	int n = cJSON_IsArray(argv) ? cJSON_GetArraySize(argv) : 0;
	for (int i = 0; i < n; i++) {
		const cJSON *a = cJSON_GetArrayItem(argv, i);
		const char *s = cJSON_IsString(a) ? a->valuestring : "";
		const cJSON *next = i + 1 < n ? cJSON_GetArrayItem(argv, i + 1) : NULL;
		if ((!strcmp(s, "-j") || !strcmp(s, "--jobs")) && cJSON_IsString(next))
			jobs = next->valuestring;
		else if (!strncmp(s, "--jobs=", 7))
			jobs = s + 7;
		else if (!strncmp(s, "-j", 2) && s[2])
			jobs = s + 2;
	}
	strbuf_addstr(out, "local processes, ");
	if (jobs) {
		strbuf_addstr(out, "-j ");
		html_text(out, jobs);
		strbuf_addstr(out, " cpu slots");
	} else {
		strbuf_addstr(out, "one cpu slot per CPU of the host (no -j)");
	}
	cJSON_Delete(argv);
}

static void header(const struct report_run *rr, struct strbuf *out)
{
	const struct prov_run_info *r = &rr->run;
	char t0[32], t1[32], dur[32];
	prov_format_time(r->started, t0);
	prov_format_time(r->ended, t1);
	strbuf_addstr(out, "<header><h1>");
	html_text(out, r->study_name ? r->study_name : "study");
	strbuf_addf(out, " \xe2\x80\x94 run %lld</h1>\n<table class=\"kv\" id=\"run\">\n",
		    (long long)r->id);
	strbuf_addstr(out, "<tr><th>study</th><td>");
	or_dash(out, r->study_name);
	strbuf_addstr(out, " (<span class=\"mono\">");
	or_dash(out, r->study_path);
	strbuf_addstr(out, "</span>, sha256 <span class=\"mono\">");
	or_dash(out, r->study_digest);
	strbuf_addstr(out, "</span>)</td></tr>\n<tr><th>commit</th><td id=\"commit\">");
	commit_html(out, r);
	strbuf_addstr(out, "</td></tr>\n<tr><th>executor</th><td>");
	executor_html(out, r);
	strbuf_addf(out, "; timeline: %d slot%s busy at once at most</td></tr>\n", rr->lanes,
		    rr->lanes == 1 ? "" : "s");
	strbuf_addf(out, "<tr><th>started</th><td>%s</td></tr>\n<tr><th>ended</th><td>%s", t0, t1);
	if (r->ended > 0) {
		report_duration(r->ended - r->started, dur);
		strbuf_addf(out, " (%s)", dur);
	}
	strbuf_addstr(out, "</td></tr>\n<tr><th>status</th><td>");
	or_dash(out, r->status);
	strbuf_addf(out, "</td></tr>\n<tr><th>stages</th><td id=\"counts\">%zu: ran %d, cached %d,"
			 " failed %d, interrupted %d, skipped %d, not started %d</td></tr>\n",
		    rr->stages_nr, r->ran, r->cached, r->failed, r->interrupted, r->skipped,
		    r->not_started);
	strbuf_addstr(out, "<tr><th>tool</th><td>study ");
	or_dash(out, r->tool_version);
	strbuf_addf(out, " (this page: study %s report)</td></tr>\n<tr><th>host</th><td>",
		    STUDY_VERSION);
	or_dash(out, r->host);
	strbuf_addstr(out, " (user ");
	or_dash(out, r->user);
	strbuf_addstr(out, ")</td></tr>\n<tr><th>command</th><td class=\"mono\">");
	cJSON *argv = r->argv_json ? cJSON_Parse(r->argv_json) : NULL;
	for (int i = 0; cJSON_IsArray(argv) && i < cJSON_GetArraySize(argv); i++) {
		const cJSON *a = cJSON_GetArrayItem(argv, i);
		if (i)
			strbuf_addch(out, ' ');
		html_text(out, cJSON_IsString(a) ? a->valuestring : "?");
	}
	cJSON_Delete(argv);
	strbuf_addstr(out, " (in <span class=\"mono\">");
	or_dash(out, r->cwd);
	strbuf_addstr(out, "</span>)</td></tr>\n</table></header>\n");
	strbuf_addstr(out, "<nav><a href=\"#dag\">stage graph</a><a href=\"#timeline\">timeline</a>"
			   "<a href=\"#metrics\">metrics</a><a href=\"#report\">report stage</a>"
			   "<a href=\"#stages\">stages</a></nav>\n");
}

static void legend(const struct report_run *rr, struct strbuf *out)
{
	static const char *const st[] = { "ran", "cached", "failed", "interrupted", "skipped",
					  "not-started" };
	strbuf_addstr(out, "<p class=\"legend\">");
	for (size_t i = 0; i < 6; i++) {
		size_t n = 0;
		for (size_t k = 0; k < rr->nr; k++)
			if (!rr->st[k].superseded && rr->st[k].x->e.status &&
			    !strcmp(rr->st[k].x->e.status, st[i]))
				n++;
		strbuf_addf(out, "<span class=\"sw %s\"></span>%s (%zu)", report_status_class(st[i]),
			    st[i], n);
	}
	strbuf_addstr(out, "<span class=\"sw crit\"></span>critical path</p>\n");
}

static void critical_text(const struct report_run *rr, struct strbuf *out)
{
	char a[32], b[32];
	strbuf_addstr(out, "<p id=\"critical-path\">");
	if (!rr->crit_nr) {
		strbuf_addstr(out, "No stage ran in this run, so it has no critical path.</p>\n");
		return;
	}
	report_duration(rr->crit_total, a);
	report_duration(rr->t1 - rr->t0, b);
	strbuf_addf(out, "Critical path (the chain of dependent stages with the most stage time in"
			 " this run; no number of slots makes the run shorter): %s over %zu"
			 " stage%s, of %s for the whole run: ",
		    a, rr->crit_nr, rr->crit_nr == 1 ? "" : "s", b);
	for (size_t k = 0; k < rr->crit_nr; k++) {
		const char *id = rr->st[rr->crit[k]].x->e.stage_id;
		if (k)
			strbuf_addstr(out, " \xe2\x86\x92 ");
		strbuf_addstr(out, "<a href=\"");
		report_stage_href(out, id);
		strbuf_addstr(out, "\">");
		html_text(out, id);
		strbuf_addstr(out, "</a>");
	}
	strbuf_addstr(out, ".</p>\n");
}

/* ---- metrics ---- */

static void fmt_num(double v, char out[32])
{
	if (v == 0 || (fabs(v) >= 0.001 && fabs(v) < 1e9))
		snprintf(out, 32, "%.3f", v);
	else
		snprintf(out, 32, "%.3g", v);
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static const struct report_run *mctx;

/* metrics rows by evaluation, metric (then as prov_results ordered them) */
static int by_metric(const void *pa, const void *pb)
{
	const struct prov_metric_info *a = &mctx->metrics[*(const size_t *)pa];
	const struct prov_metric_info *b = &mctx->metrics[*(const size_t *)pb];
	int c = !a->evaluation - !b->evaluation; /* an evaluation's metrics first */
	if (!c)
		c = strcmp(a->evaluation ? a->evaluation : "", b->evaluation ? b->evaluation : "");
	if (!c)
		c = strcmp(a->metric, b->metric);
	if (!c)
		c = *(const size_t *)pa < *(const size_t *)pb ? -1 : 1;
	return c;
}

static void value_cell(const struct report_run *rr, const struct prov_metric_info *m,
		       int show_n, struct strbuf *out)
{
	char v[32], lo[32], hi[32];
	fmt_num(m->value, v);
	strbuf_addf(out, "<td class=\"num\" data-v=\"%.17g\"><a class=\"m\" href=\"", m->value);
	report_stage_href(out, m->stage_id);
	strbuf_addstr(out, "\" data-stage=\"");
	html_text(out, m->stage_id);
	strbuf_addstr(out, "\" data-metric=\"");
	html_text(out, m->metric);
	strbuf_addf(out, "\" title=\"%.17g from execution %lld; lineage: study show ", m->value,
		    (long long)m->execution_id);
	html_text(out, m->stage_id);
	strbuf_addch(out, ':');
	html_text(out, m->metric);
	strbuf_addf(out, " --lineage\">%s</a>", v);
	if (m->has_ci_low && m->has_ci_high) {
		fmt_num(m->ci_low, lo);
		fmt_num(m->ci_high, hi);
		strbuf_addf(out, "<span class=\"ci\"> [%s, %s]</span>", lo, hi);
	}
	if (show_n && m->has_n)
		strbuf_addf(out, "<span class=\"n\"> n=%lld</span>", m->n);
	strbuf_addstr(out, "</td>");
	(void)rr;
}

static void add_unique(const char ***v, size_t *nr, size_t *alloc, const char *s)
{
	for (size_t i = 0; i < *nr; i++)
		if (!strcmp((*v)[i], s))
			return;
	XGROW(*v, *alloc, *nr + 1);
	(*v)[(*nr)++] = s;
}

static int cmp_nat(const void *a, const void *b)
{
	return natcmp(*(const char *const *)a, *(const char *const *)b);
}

static int variant_rank(const char *v)
{
	return !strcmp(v, "base") ? 0 : strchr(v, '+') ? 2 : 1;
}

static int cmp_variant(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int d = variant_rank(x) - variant_rank(y);
	return d ? d : strcmp(x, y);
}

/* One metric: a models x variants table when every row names a distinct
 * (model, variant), else one row per stage. */
static void metric_table(const struct report_run *rr, const size_t *rows, size_t n,
			 struct strbuf *out)
{
	const struct prov_metric_info *m0 = &rr->metrics[rows[0]];
	const char **models = NULL, **variants = NULL;
	size_t mn = 0, vn = 0, ma = 0, va = 0;
	int pivot = 1, same_n = 1;
	for (size_t i = 0; i < n; i++) {
		const struct prov_metric_info *m = &rr->metrics[rows[i]];
		if (!m->model || !m->variant)
			pivot = 0;
		if (m->has_n != m0->has_n || m->n != m0->n)
			same_n = 0;
		for (size_t j = 0; pivot && j < i; j++) {
			const struct prov_metric_info *o = &rr->metrics[rows[j]];
			if (same(o->model, m->model) && same(o->variant, m->variant))
				pivot = 0;
		}
	}
	strbuf_addstr(out, "<h3>");
	html_text(out, m0->metric);
	if (m0->evaluation) {
		strbuf_addstr(out, " <span class=\"note\">(evaluation ");
		html_text(out, m0->evaluation);
		strbuf_addstr(out, ")</span>");
	}
	strbuf_addstr(out, "</h3>\n<p class=\"note\">");
	if (same_n && m0->has_n)
		strbuf_addf(out, "n = %lld per value. ", m0->n);
	strbuf_addstr(out, "Brackets: the 95% interval the stage recorded. Each value links to the"
			   " stage that produced it (command, input digests, commit).</p>\n");
	strbuf_addstr(out, "<div class=\"scroll\"><table class=\"metric\">");
	if (pivot) {
		for (size_t i = 0; i < n; i++) {
			add_unique(&models, &mn, &ma, rr->metrics[rows[i]].model);
			add_unique(&variants, &vn, &va, rr->metrics[rows[i]].variant);
		}
		qsort(models, mn, sizeof(*models), cmp_nat);
		qsort(variants, vn, sizeof(*variants), cmp_variant);
		strbuf_addstr(out, "<thead><tr><th>model</th>");
		for (size_t v = 0; v < vn; v++) {
			strbuf_addstr(out, "<th class=\"num\">");
			html_text(out, variants[v]);
			strbuf_addstr(out, "</th>");
		}
		strbuf_addstr(out, "</tr></thead><tbody>\n");
		for (size_t mi = 0; mi < mn; mi++) {
			strbuf_addstr(out, "<tr><th>");
			html_text(out, models[mi]);
			strbuf_addstr(out, "</th>");
			for (size_t v = 0; v < vn; v++) {
				const struct prov_metric_info *hit = NULL;
				for (size_t i = 0; i < n && !hit; i++) {
					const struct prov_metric_info *m = &rr->metrics[rows[i]];
					if (!strcmp(m->model, models[mi]) && !strcmp(m->variant, variants[v]))
						hit = m;
				}
				if (hit)
					value_cell(rr, hit, !same_n, out);
				else
					strbuf_addstr(out, "<td class=\"num\">\xe2\x80\x93</td>");
			}
			strbuf_addstr(out, "</tr>\n");
		}
	} else {
		strbuf_addstr(out, "<thead><tr><th>stage</th><th>model</th><th>variant</th>"
				   "<th class=\"num\">value</th></tr></thead><tbody>\n");
		for (size_t i = 0; i < n; i++) {
			const struct prov_metric_info *m = &rr->metrics[rows[i]];
			strbuf_addstr(out, "<tr><td>");
			html_text(out, m->stage_id);
			strbuf_addstr(out, "</td><td>");
			or_dash(out, m->model);
			strbuf_addstr(out, "</td><td>");
			or_dash(out, m->variant);
			strbuf_addstr(out, "</td>");
			value_cell(rr, m, !same_n, out);
			strbuf_addstr(out, "</tr>\n");
		}
	}
	strbuf_addstr(out, "</tbody></table></div>\n");
	free(models);
	free(variants);
}

static void metrics(const struct report_run *rr, struct strbuf *out)
{
	strbuf_addstr(out, "<section id=\"metrics\"><h2>Metrics</h2>\n");
	if (!rr->metrics_nr) {
		strbuf_addstr(out, "<p>No stage of this run recorded metrics.</p></section>\n");
		return;
	}
	strbuf_addf(out, "<p class=\"note\">%zu values behind the outputs this run produced or"
			 " reused (<code>study results --run %lld</code>; <code>--format csv</code>"
			 " for pandas or R).</p>\n",
		    rr->metrics_nr, (long long)rr->run.id);
	size_t *idx = xcalloc(rr->metrics_nr, sizeof(size_t));
	for (size_t i = 0; i < rr->metrics_nr; i++)
		idx[i] = i;
	mctx = rr;
	qsort(idx, rr->metrics_nr, sizeof(size_t), by_metric);
	mctx = NULL;
	for (size_t i = 0; i < rr->metrics_nr;) {
		const struct prov_metric_info *a = &rr->metrics[idx[i]];
		size_t j = i + 1;
		if (!a->evaluation && (!i || rr->metrics[idx[i - 1]].evaluation))
			strbuf_addstr(out, "<h3 class=\"sub\">Other metrics the stages recorded"
					   " (no evaluation named)</h3>\n");
		while (j < rr->metrics_nr && same(rr->metrics[idx[j]].evaluation, a->evaluation) &&
		       !strcmp(rr->metrics[idx[j]].metric, a->metric))
			j++;
		metric_table(rr, idx + i, j - i, out);
		i = j;
	}
	free(idx);
	strbuf_addstr(out, "</section>\n");
}

/* ---- the report stage's output ---- */

static const struct report_file *image_of(void *ctx, const char *name)
{
	return report_run_file(ctx, name);
}

static void report_output(const struct report_run *rr, struct strbuf *out)
{
	strbuf_addstr(out, "<section id=\"report\"><h2>The report stage's output</h2>\n");
	if (rr->report_stage < 0) {
		strbuf_addstr(out, "<p>This run has no report stage.</p></section>\n");
		return;
	}
	const struct report_stage *s = &rr->st[rr->report_stage];
	const struct report_file *md = report_run_file(rr, "report.md");
	strbuf_addstr(out, "<p class=\"note\">Stage <a href=\"");
	report_stage_href(out, s->x->e.stage_id);
	strbuf_addstr(out, "\">");
	html_text(out, s->x->e.stage_id);
	strbuf_addstr(out, "</a> (");
	html_text(out, s->why);
	strbuf_addstr(out, "), output <span class=\"mono\">");
	or_dash(out, s->x->e.output_digest);
	strbuf_addstr(out, "</span>. Run, commit and date of this page's run: above.");
	if (rr->files_note) {
		strbuf_addstr(out, " <span class=\"missing\">");
		html_text(out, rr->files_note);
		strbuf_addstr(out, "</span>");
	}
	strbuf_addstr(out, "</p>\n");
	if (md) {
		strbuf_addstr(out, "<section class=\"report-output\">\n");
		report_md_html(out, md->data, md->len, image_of, (void *)rr);
		strbuf_addstr(out, "</section>\n");
	} else if (!rr->files_note) {
		strbuf_addstr(out, "<p>Its output has no report.md.</p>\n");
	}
	strbuf_addstr(out, "</section>\n");
}

/* ---- the stage table ---- */

/* An argument as the study wrote it: an input's path in the store as
 * ${name}, the stage's own output directory as ${out}. */
static void symbolic_arg(const struct prov_exec_info *e, const char *a, struct strbuf *out)
{
	for (size_t k = 0; k < e->inputs_nr; k++) {
		const char *d = e->inputs[k].digest;
		const char *hit = d ? strstr(a, d) : NULL;
		if (hit && hit - a >= 5 && !strncmp(hit - 5, "/out/", 5)) {
			strbuf_addstr(out, "${");
			html_text(out, e->inputs[k].name);
			strbuf_addch(out, '}');
			html_text(out, hit + strlen(d));
			return;
		}
	}
	size_t n = strlen(a);
	if (e->cache_key && n > 75 && !strcmp(a + n - 4, "/out") &&
	    !strncmp(a + n - 68, e->cache_key, 64) && !strncmp(a + n - 74, "/work/", 6)) {
		strbuf_addstr(out, "${out}");
		return;
	}
	html_text(out, a);
}

/* One argv (a JSON array of strings) as <code>, cut after DETAIL_MAX_ARGS. */
static void command_html(const struct prov_exec_info *e, const cJSON *argv, struct strbuf *out)
{
	int n = cJSON_GetArraySize(argv), i = 0;
	strbuf_addstr(out, "<code>");
	for (const cJSON *a = argv->child; a && i < DETAIL_MAX_ARGS; a = a->next, i++) {
		if (i)
			strbuf_addch(out, ' ');
		symbolic_arg(e, cJSON_IsString(a) ? a->valuestring : "?", out);
	}
	strbuf_addstr(out, "</code>");
	if (n > DETAIL_MAX_ARGS)
		strbuf_addf(out, " \xe2\x80\xa6 and %d more arguments", n - DETAIL_MAX_ARGS);
}

static void details(const struct report_run *rr, const struct report_stage *s,
		    struct strbuf *out)
{
	const struct prov_exec_info *e = &s->x->e;
	strbuf_addf(out, "<details><summary>details</summary>execution %lld", (long long)e->id);
	if (e->source_id) {
		const struct prov_run_info *src = report_run_get_run(rr, s->x->source_run);
		strbuf_addf(out, "; output, command and inputs from execution %lld, run %lld",
			    (long long)e->source_id, (long long)s->x->source_run);
		if (src && src->git_commit)
			strbuf_addf(out, ", commit <code>%.12s</code>%s", src->git_commit,
				    src->git_dirty == 1 ? " (dirty)" : "");
	}
	if (e->reason) {
		strbuf_addstr(out, "<br>reason: ");
		html_text(out, e->reason);
	}
	cJSON *argv = e->argv_json ? cJSON_Parse(e->argv_json) : NULL;
	if (cJSON_IsArray(argv) && cJSON_IsArray(argv->child)) {
		/* a stage of several steps: an array of argvs, one per step */
		int k = 1;
		for (const cJSON *step = argv->child; step; step = step->next, k++) {
			strbuf_addf(out, "<br>step %d: ", k);
			command_html(e, step, out);
		}
	} else if (cJSON_IsArray(argv)) {
		strbuf_addstr(out, "<br>command: ");
		command_html(e, argv, out);
	}
	cJSON_Delete(argv);
	if (e->inputs_nr) {
		strbuf_addstr(out, "<ol>");
		for (size_t k = 0; k < e->inputs_nr && k < DETAIL_MAX_INPUTS; k++) {
			const struct prov_input_info *in = &e->inputs[k];
			strbuf_addstr(out, "<li>");
			html_text(out, in->name ? in->name : "?");
			strbuf_addstr(out, " = <a href=\"");
			report_stage_href(out, in->stage ? in->stage : "");
			strbuf_addstr(out, "\">");
			or_dash(out, in->stage);
			strbuf_addstr(out, "</a> <code>");
			or_dash(out, in->digest);
			strbuf_addstr(out, "</code>");
		}
		strbuf_addstr(out, "</ol>");
		if (e->inputs_nr > DETAIL_MAX_INPUTS)
			strbuf_addf(out, "\xe2\x80\xa6 and %zu more inputs",
				    e->inputs_nr - DETAIL_MAX_INPUTS);
	}
	strbuf_addstr(out, "</details>");
}

/* A stage whose details stay when the page must shrink: its metrics link
 * to it, it failed or was stopped, or it is on the critical path. */
static int details_matter(const struct report_run *rr, const struct report_stage *s,
			  const struct strmap *with_metrics)
{
	const char *st = s->x->e.status ? s->x->e.status : "";
	(void)rr;
	return s->critical || !strcmp(st, "failed") || !strcmp(st, "interrupted") ||
	       strmap_get(with_metrics, s->x->e.stage_id);
}

static void exit_text(const struct prov_exec_info *e, struct strbuf *out)
{
	if (!e->has_exit)
		strbuf_addstr(out, "<td data-v=\"-1\">-</td>");
	else if (e->timed_out)
		strbuf_addf(out, "<td data-v=\"%d\">timed out</td>", 1000);
	else if (e->term_signal)
		strbuf_addf(out, "<td data-v=\"%d\">signal %d</td>", 128 + e->term_signal,
			    e->term_signal);
	else
		strbuf_addf(out, "<td data-v=\"%d\">%d</td>", e->exit_code, e->exit_code);
}

static void stage_row(const struct report_run *rr, size_t i, const char *details_html,
		      struct strbuf *out)
{
	const struct report_stage *s = &rr->st[i];
	const struct prov_exec_info *e = &s->x->e;
	const char *cls = report_status_class(e->status);
	char d[32];
	if (s->superseded) { /* an earlier attempt: the anchor is the stage's last row */
		strbuf_addstr(out, "<tr class=\"attempt\" data-attempt=\"");
		html_text(out, e->stage_id);
		strbuf_addstr(out, "\"><td>");
		html_text(out, e->stage_id);
		strbuf_addstr(out, " (earlier attempt)");
	} else {
		strbuf_addstr(out, "<tr id=\"");
		html_id(out, "s-", e->stage_id);
		strbuf_addstr(out, "\" data-stage=\"");
		html_text(out, e->stage_id);
		strbuf_addstr(out, "\"><td>");
		html_text(out, e->stage_id);
	}
	if (s->critical)
		strbuf_addstr(out, " <span title=\"on the critical path\">\xe2\x97\x86</span>");
	strbuf_addstr(out, "</td><td>");
	or_dash(out, e->kind);
	strbuf_addf(out, "</td><td class=\"%s\">", cls);
	or_dash(out, e->status);
	strbuf_addstr(out, "</td><td>");
	html_text(out, s->why ? s->why : "");
	strbuf_addstr(out, "</td>");
	exit_text(e, out);
	if (e->started > 0) {
		report_duration(e->wall_s, d);
		strbuf_addf(out, "<td data-v=\"%.6f\">%s</td>", e->wall_s, d);
	} else {
		strbuf_addstr(out, "<td data-v=\"-1\">-</td>");
	}
	if (e->cpu_s >= 0 && e->started > 0)
		strbuf_addf(out, "<td data-v=\"%.6f\">%.2f s</td>", e->cpu_s, e->cpu_s);
	else
		strbuf_addstr(out, "<td data-v=\"-1\">-</td>");
	if (e->peak_rss_kb >= 0 && e->started > 0)
		strbuf_addf(out, "<td data-v=\"%lld\">%.1f MiB</td>", e->peak_rss_kb,
			    (double)e->peak_rss_kb / 1024);
	else
		strbuf_addstr(out, "<td data-v=\"-1\">-</td>");
	if (e->output_digest)
		strbuf_addf(out, "<td><code>%.12s</code></td><td>", e->output_digest);
	else
		strbuf_addstr(out, "<td>-</td><td>");
	if (details_html) {
		strbuf_addstr(out, details_html);
	} else {
		strbuf_addstr(out, "<code>study show ");
		html_text(out, e->stage_id);
		strbuf_addstr(out, "</code>");
	}
	strbuf_addstr(out, "</td></tr>\n");
}

static void stage_table(const struct report_run *rr, struct strbuf *out)
{
	/* every stage's details first: over the budget, only those that matter stay */
	struct strbuf *det = xcalloc(rr->nr + 1, sizeof(*det));
	struct strmap with_metrics = STRMAP_INIT;
	size_t total = 0, kept = 0;
	for (size_t i = 0; i < rr->nr; i++) {
		strbuf_init(&det[i], 0);
		details(rr, &rr->st[i], &det[i]);
		total += det[i].len;
	}
	int trim = total > REPORT_DETAILS_BUDGET;
	if (trim) {
		for (size_t i = 0; i < rr->metrics_nr; i++)
			strmap_put(&with_metrics, rr->metrics[i].stage_id, (void *)1);
		for (size_t i = 0; i < rr->nr; i++)
			if (!details_matter(rr, &rr->st[i], &with_metrics))
				strbuf_release(&det[i]);
			else
				kept++;
	}
	/* a long table is laid out only when scrolled to (content-visibility):
	 * a 10,000-stage page then opens in about a second, not five */
	strbuf_addstr(out, "<section id=\"stages\"");
	if (rr->stages_nr > REPORT_DAG_COMPACT)
		strbuf_addf(out, " style=\"content-visibility:auto;contain-intrinsic-size:auto %zupx\"",
			    rr->nr * 24 + 200);
	strbuf_addf(out, "><h2>Stages (%zu)</h2>\n<p class=\"note\">"
			 "Click a column title to sort. Wall, CPU (user + system) and peak memory"
			 " are the stage's own, measured by its launcher; a cache hit spent"
			 " none. A stage attempted more than once in the run has a row per"
			 " earlier attempt above its own. No cluster executor ran this run, so"
			 " there are no job ids.",
		    rr->stages_nr);
	if (trim)
		strbuf_addf(out, " <strong>The details of all %zu stages would take %.1f MB: the"
				 " page keeps them for the %zu stages that recorded metrics, failed"
				 " or lie on the critical path; <code>study show STAGE --lineage</code>"
				 " gives any stage's.</strong>",
			    rr->stages_nr, (double)total / 1e6, kept);
	strbuf_addstr(out, "</p>\n<div class=\"scroll\"><table class=\"sortable\" id=\"stage-table\">"
			   "<thead><tr><th>stage</th><th>kind</th><th>status</th>"
			   "<th>cache hit, or why it ran</th><th>exit</th><th>wall</th><th>CPU</th>"
			   "<th>peak memory</th><th>output</th><th>provenance</th>"
			   "</tr></thead><tbody>\n");
	size_t *chain = xcalloc(rr->nr + 1, sizeof(size_t));
	for (size_t k = 0; k < rr->stages_nr; k++) {
		size_t i = rr->order[k], n = 0;
		for (long j = rr->st[i].earlier; j >= 0 && n < rr->nr; j = rr->st[j].earlier)
			chain[n++] = (size_t)j;
		while (n--) /* earlier attempts first, oldest first */
			stage_row(rr, chain[n], det[chain[n]].len ? det[chain[n]].buf : NULL, out);
		stage_row(rr, i, det[i].len ? det[i].buf : NULL, out);
	}
	free(chain);
	strbuf_addstr(out, "</tbody></table></div></section>\n");
	for (size_t i = 0; i < rr->nr; i++)
		strbuf_release(&det[i]);
	free(det);
	strmap_clear(&with_metrics, NULL);
}

void report_html(const struct report_run *rr, struct strbuf *out)
{
	strbuf_addstr(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			   "<meta name=\"viewport\" content=\"width=device-width\">"
			   "<meta name=\"generator\" content=\"study report\"><title>");
	html_text(out, rr->run.study_name ? rr->run.study_name : "study");
	strbuf_addf(out, " \xe2\x80\x94 run %lld</title>\n<style>\n%s</style></head>\n<body>\n",
		    (long long)rr->run.id, css);
	header(rr, out);

	strbuf_addstr(out, "<section id=\"dag\"><h2>Stage graph</h2>\n<p class=\"note\">One box per"
			   " stage, grouped by section; colour: its status in this run; a click"
			   " opens its row below.");
	if (rr->stages_nr > REPORT_DAG_COMPACT)
		strbuf_addf(out, " Over %d stages: each is a small square (its id on hover).",
			    REPORT_DAG_COMPACT);
	if (rr->edges_nr > REPORT_DAG_MAX_EDGES || rr->stages_nr > REPORT_DAG_COMPACT)
		strbuf_addf(out, " %zu edges, drawn once per pair of groups (thicker: more).",
			    rr->edges_nr);
	if (rr->plan_edges)
		strbuf_addstr(out, " The edges of stages that did not start come from the study"
				   " file, unchanged since the run.");
	if (rr->edges_note) {
		strbuf_addstr(out, " <span class=\"missing\">");
		html_text(out, rr->edges_note);
		strbuf_addstr(out, "</span>");
	}
	strbuf_addstr(out, "</p>\n");
	legend(rr, out);
	strbuf_addstr(out, "<div class=\"scroll\">");
	report_dag_svg(rr, out);
	strbuf_addstr(out, "</div></section>\n");

	strbuf_addstr(out, "<section id=\"timeline\"><h2>Timeline</h2>\n<p class=\"note\">Each"
			   " execution from its start to its end, by slot (the run records times,"
			   " not slots: each execution is put in the first slot free when it"
			   " started). Cache hits take no time and are not drawn.</p>\n");
	critical_text(rr, out);
	if (rr->lanes) {
		strbuf_addstr(out, "<div class=\"scroll\">");
		report_gantt_svg(rr, out);
		strbuf_addstr(out, "</div>");
	}
	strbuf_addstr(out, "</section>\n");

	metrics(rr, out);
	report_output(rr, out);
	stage_table(rr, out);
	strbuf_addf(out, "<script>\n%s</script>\n</body></html>\n", js);
}
