/*
 * test_report: the pieces of `study report` and `study results --format`
 * that have a right answer to compute by hand: the critical path and the
 * timeline lanes (report_graph.c), HTML escaping, ids and base64 (html.c,
 * RFC 4648's test vectors), the natural order of stage ids, the Markdown
 * renderer (report_md.c), the CSV and Markdown writers (results_format.c),
 * and the read of a run with a cache hit recorded by reference
 * (prov_run_stages, report_run_load: producer, inputs, edges, reasons).
 */
#include "check.h"
#include "html.h"
#include "prov.h"
#include "prov_query.h"
#include "report_data.h"
#include "natcmp.h"
#include "report_graph.h"
#include "report_html.h"
#include "results_format.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch[] = "/tmp/study-test-report-XXXXXX";

/* ---- report_graph ---- */

static void test_critical_path(void)
{
	/* a diamond: 0 -> {1, 2} -> 3, then 4 alone. Weights 1, 5, 2, 1, 6:
	 * 0-1-3 weighs 7, 0-2-3 weighs 4, 4 weighs 6 */
	size_t off[] = { 0, 0, 1, 2, 4, 4 };
	size_t deps[] = { 0, 0, 1, 2 };
	double w[] = { 1, 5, 2, 1, 6 };
	struct rgraph g = { 5, off, deps, w };
	unsigned char on[5];
	size_t path[5];
	double total = 0;
	size_t n = rgraph_critical_path(&g, on, path, &total);
	CHECK(n == 3 && path[0] == 0 && path[1] == 1 && path[2] == 3,
	      "critical path: the heaviest chain, in dependency order (0 1 3)");
	CHECK(total == 7, "critical path: its weight is the sum of its nodes' (7)");
	CHECK(on[0] && on[1] && !on[2] && on[3] && !on[4], "critical path: on_path marks its nodes");

	w[4] = 8; /* the lone node now outweighs every chain */
	n = rgraph_critical_path(&g, on, path, &total);
	CHECK(n == 1 && path[0] == 4 && total == 8, "critical path: a single heavy node wins");

	w[4] = 7; /* a tie between 0-1-3 and 4: the chain ending at the lower index */
	n = rgraph_critical_path(&g, on, path, &total);
	CHECK(n == 3 && path[2] == 3 && total == 7, "critical path: ties go to the lower index");

	w[1] = 2; /* 0-1-3 and 0-2-3 both weigh 4; node 3 picks the lower dependency */
	w[4] = 0;
	n = rgraph_critical_path(&g, on, path, &total);
	CHECK(n == 3 && path[1] == 1 && total == 4, "critical path: equal dependencies: the lower");

	/* a cycle 1 <-> 2 and 3 after 2: only node 0 is reachable in order */
	size_t coff[] = { 0, 0, 1, 2, 3 };
	size_t cdeps[] = { 2, 1, 2 };
	double cw[] = { 1, 5, 5, 5 };
	struct rgraph c = { 4, coff, cdeps, cw };
	n = rgraph_critical_path(&c, on, path, &total);
	CHECK(n == 1 && path[0] == 0 && total == 1, "critical path: nodes on a cycle are left out");

	struct rgraph empty = { 0, off, deps, w };
	CHECK(rgraph_critical_path(&empty, on, path, &total) == 0 && total == 0,
	      "critical path: none in an empty graph");
}

static void test_lanes(void)
{
	/* given out of order; 2 ends exactly when 3 starts (3 may reuse its lane) */
	double start[] = { 5, 0, 1, 3, 4, 7 };
	double end[] = { 9, 2, 3, 6, 3.5, 8 };
	int lane[6];
	int n = rgraph_lanes(6, start, end, lane);
	/* by start: 1 [0,2) lane 0; 2 [1,3) lane 1; 3 [3,6) lane 0 (free at 2);
	 * 4 [4,4) (end < start counts as 4) lane 1 (free at 3); 0 [5,9) lane 1
	 * (free at 4); 5 [7,8) lane 0 (free at 6) */
	CHECK(lane[1] == 0 && lane[2] == 1 && lane[3] == 0 && lane[4] == 1 && lane[0] == 1 &&
		      lane[5] == 0,
	      "lanes: each execution takes the lowest lane free when it starts");
	CHECK(n == 2, "lanes: as many as the peak concurrency (2)");
	double s3[] = { 0, 0, 0 }, e3[] = { 1, 1, 1 };
	CHECK(rgraph_lanes(3, s3, e3, lane) == 3 && lane[0] == 0 && lane[1] == 1 && lane[2] == 2,
	      "lanes: three at once take three lanes, in index order");
	CHECK(rgraph_lanes(0, s3, e3, lane) == 0, "lanes: none for no execution");
}

/* ---- html ---- */

static void test_html(void)
{
	struct strbuf sb = STRBUF_INIT;
	html_text(&sb, "<a href=\"x\">'&'</a>");
	CHECK_STR(sb.buf, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
		  "html_text escapes the five characters");
	strbuf_reset(&sb);
	html_id(&sb, "s-", "eval/refusal/m1/wo+sft");
	CHECK_STR(sb.buf, "s-eval/refusal/m1/wo+sft", "html_id keeps a stage id as it is");
	strbuf_reset(&sb);
	html_id(&sb, "s-", "a b#c~\xc3\xa9");
	CHECK_STR(sb.buf, "s-a~20b~23c~7e~c3~a9", "html_id writes other bytes as ~XX");
	static const char *const vec[][2] = { { "", "" },	      { "f", "Zg==" },
					      { "fo", "Zm8=" },	      { "foo", "Zm9v" },
					      { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
					      { "foobar", "Zm9vYmFy" } };
	int ok = 1;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		strbuf_reset(&sb);
		html_base64(&sb, vec[i][0], strlen(vec[i][0]));
		if (strcmp(sb.buf, vec[i][1])) {
			printf("#   base64('%s') = '%s', want '%s'\n", vec[i][0], sb.buf, vec[i][1]);
			ok = 0;
		}
	}
	CHECK(ok, "html_base64 gives RFC 4648's test vectors");
	strbuf_reset(&sb);
	unsigned char bin[] = { 0xff, 0x00, 0xfe };
	html_base64(&sb, bin, 3);
	CHECK_STR(sb.buf, "/wD+", "html_base64 uses + and / (not the URL alphabet)");
	strbuf_release(&sb);
}

static void test_natcmp(void)
{
	CHECK(natcmp("m2", "m10") < 0, "natural order: m2 before m10");
	CHECK(natcmp("eval/a/m10/base", "eval/a/m9/wo") > 0, "natural order: m10 after m9");
	CHECK(natcmp("m02", "m2") == 0, "natural order: leading zeros do not count");
	CHECK(natcmp("m1", "m1/base") < 0, "natural order: a prefix first");
	CHECK(natcmp("b", "a1") > 0, "natural order: letters as bytes");
	CHECK(report_kind_rank("data") == 0 && report_kind_rank("report") == 5 &&
		      report_kind_rank("other") == 6 && report_kind_rank(NULL) == 6,
	      "sections: data first, report last, others after");
}

/* ---- report_md ---- */

static struct report_file chart = { (char *)"a.svg", (char *)"<svg/>", 6 };

static const struct report_file *image(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "a.svg") ? NULL : &chart;
}

static void test_md(void)
{
	const char *md = "# Title\n\nSome *em* and **strong** and `co<de>` text\n"
			 "on two lines.\n\n- one\n- two <script>\n\n"
			 "| model | base |\n|---|---|\n| m1 | 0.5 \\| x |\n\n"
			 "![chart](a.svg) ![gone](b.svg)\n### Sub\n";
	struct strbuf sb = STRBUF_INIT;
	report_md_html(&sb, md, strlen(md), image, NULL);
	CHECK(strstr(sb.buf, "<h3>Title</h3>\n") != NULL, "md: # is h3");
	CHECK(strstr(sb.buf, "<h5>Sub</h5>\n") != NULL, "md: ### is h5");
	CHECK(strstr(sb.buf, "<p>Some <em>em</em> and <strong>strong</strong> and "
			     "<code>co&lt;de&gt;</code> text\non two lines.</p>") != NULL,
	      "md: a paragraph with emphasis and code, escaped");
	CHECK(strstr(sb.buf, "<ul>\n<li>one</li>\n<li>two &lt;script&gt;</li>\n</ul>") != NULL,
	      "md: a list; raw HTML shows as text");
	CHECK(strstr(sb.buf, "<thead><tr><th>model</th><th>base</th></tr>\n</thead><tbody>\n"
			     "<tr><td>m1</td><td>0.5 \\| x</td></tr>\n</tbody></table>") != NULL,
	      "md: a table, its rule dropped, an escaped | kept in its cell");
	CHECK(strstr(sb.buf, "<img class=\"chart\" alt=\"chart\" "
			     "src=\"data:image/svg+xml;base64,PHN2Zy8+\">") != NULL,
	      "md: an image the output has is embedded as a data: URL");
	CHECK(strstr(sb.buf, "<span class=\"missing\">[gone]</span>") != NULL,
	      "md: an image it does not have shows its alt text");
	CHECK(!strstr(sb.buf, "<script>"), "md: no tag comes through unescaped");
	strbuf_release(&sb);
}

/* ---- results_format ---- */

static char *capture(void (*fn)(FILE *, const struct prov_metric_info *, size_t),
		     const struct prov_metric_info *rows, size_t nr)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	fn(f, rows, nr);
	fclose(f);
	return buf;
}

static void test_results_format(void)
{
	char num[32];
	results_format_double(0.1, num);
	CHECK_STR(num, "0.1", "shortest round-trip: 0.1");
	results_format_double(476, num);
	CHECK_STR(num, "476", "shortest round-trip: 476");
	results_format_double(1.0 / 3, num);
	CHECK(strtod(num, NULL) == 1.0 / 3 && strlen(num) == 18, "shortest round-trip: 1/3 needs 17 digits");

	struct prov_metric_info rows[2];
	memset(rows, 0, sizeof(rows));
	rows[0].evaluation = (char *)"refusal";
	rows[0].model = (char *)"m1";
	rows[0].variant = (char *)"wo+sft";
	rows[0].metric = (char *)"refusal_rate";
	rows[0].value = 0.954545;
	rows[0].has_n = 1;
	rows[0].n = 44;
	rows[0].has_ci_low = rows[0].has_ci_high = 1;
	rows[0].ci_low = 0.84865;
	rows[0].ci_high = 0.987445;
	rows[0].stage_id = (char *)"eval/refusal/m1/wo+sft";
	rows[0].execution_id = 7;
	rows[1].model = (char *)"a \"quoted\", name";
	rows[1].variant = (char *)"x|y";
	rows[1].metric = (char *)"steps";
	rows[1].value = 476;
	rows[1].stage_id = (char *)"model/m1";
	rows[1].execution_id = 2;
	char *csv = capture(results_write_csv, rows, 2);
	CHECK_STR(csv,
		  "evaluation,model,variant,metric,value,n,ci_low,ci_high,stage,execution_id\n"
		  "refusal,m1,wo+sft,refusal_rate,0.954545,44,0.84865,0.987445,"
		  "eval/refusal/m1/wo+sft,7\n"
		  ",\"a \"\"quoted\"\", name\",x|y,steps,476,,,,model/m1,2\n",
		  "csv: header, full-precision values, RFC 4180 quoting, empty absent fields");
	free(csv);
	char *md = capture(results_write_md, rows, 2);
	CHECK(strstr(md, "| refusal | m1 | wo+sft | refusal_rate | 0.955 | 44 | 0.849 | 0.987 |"
			 " eval/refusal/m1/wo+sft | 7 |\n") != NULL,
	      "md: a row with its values rounded to 3 decimals");
	CHECK(strstr(md, "| - | a \"quoted\", name | x\\|y | steps | 476.000 | - | - | - |"
			 " model/m1 | 2 |\n") != NULL,
	      "md: absent values as -, | escaped");
	free(md);
}

/* ---- reading a run ---- */

static const char *D1 = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *D2 = "2222222222222222222222222222222222222222222222222222222222222222";
static const char *K1 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *K2 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
static const char *K3 = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

static void record(struct prov *p, int64_t run, const char *stage, const char *kind,
		   const char *status, const char *key, const char *record_text,
		   const char *in_digest, const char *out, double t0, double t1)
{
	struct strbuf err = STRBUF_INIT;
	struct prov_exec e = { 0 };
	struct prov_input input = { "model", "model/m1", in_digest, NULL };
	e.run_id = run;
	e.stage_id = stage;
	e.kind = kind;
	e.status = status;
	e.cache_key = key;
	e.cache_record = record_text;
	e.argv_json = "[\"/bin/true\"]";
	e.env_json = "{}";
	e.inputs = in_digest ? &input : NULL;
	e.inputs_nr = in_digest ? 1 : 0;
	e.output_digest = out;
	e.output_files = 1;
	e.output_bytes = 5;
	e.exit_code = status[0] == 'r' ? 0 : -1;
	e.started = t0;
	e.ended = t1;
	e.cpu_s = -1;
	e.peak_rss_kb = -1;
	if (prov_record_exec(p, &e, NULL, &err) < 0)
		printf("# record: %s\n", err.buf);
	strbuf_release(&err);
}

static void test_run_read(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct prov *p = NULL;
	int64_t r1 = 0, r2 = 0;
	strbuf_addf(&path, "%s/provenance.db", scratch);
	CHECK(prov_open(&p, path.buf, &err) == 0, "open a database");
	struct prov_run r = { 0 };
	r.study_name = "s";
	r.study_path = "s.yaml";
	r.tool_version = "0.1.0";
	r.argv_json = "[\"study\",\"run\",\"s.yaml\",\"-j\",\"2\"]";
	r.git_dirty = -1;
	r.started = 1000;
	prov_run_begin(p, &r, &r1, &err);
	record(p, r1, "model/m1", "model", "ran", K1, "{\"argv\":[1],\"params\":{\"a\":1}}", NULL,
	       D1, 1000, 1010);
	record(p, r1, "eval/e/m1", "eval", "ran", K2, "{\"argv\":[2],\"inputs\":{\"m\":1}}", D1, D2,
	       1010, 1012);
	prov_run_end(p, r1, "ok", 1012, 2, 0, 0, 0, &err);
	r.started = 2000;
	prov_run_begin(p, &r, &r2, &err);
	record(p, r2, "model/m1", "model", "cached", K1, NULL, NULL, D1, 0, 0);
	record(p, r2, "eval/e/m1", "eval", "ran", K3, "{\"argv\":[2],\"inputs\":{\"m\":2}}", D1, D2,
	       2000, 2003);
	record(p, r2, "report", "report", "skipped", NULL, NULL, NULL, NULL, 0, 0);
	prov_run_end(p, r2, "failed", 2003, 1, 1, 0, 1, &err);
	prov_close(p);

	CHECK(prov_open_readonly(&p, path.buf, &err) == 0, "reopen it read-only");
	struct prov_run_stage *v = NULL;
	size_t nr = 0;
	CHECK(prov_run_stages(p, r2, &v, &nr, &err) == 0 && nr == 3, "run 2 has three rows");
	if (nr == 3) {
		CHECK(v[0].e.source_id == 1 && v[0].source_run == r1,
		      "a cache hit names the execution (and run) that produced its output");
		CHECK(v[0].e.argv_json && !strcmp(v[0].e.argv_json, "[\"/bin/true\"]") &&
			      v[0].e.cache_record && strstr(v[0].e.cache_record, "params"),
		      "... and takes its command and cache record");
		CHECK(v[1].e.inputs_nr == 1 && !strcmp(v[1].e.inputs[0].stage, "model/m1") &&
			      !strcmp(v[1].e.inputs[0].digest, D1),
		      "an execution's inputs are read");
		CHECK(v[1].prev_id == 2 && v[1].prev_run == r1 && v[1].prev_record &&
			      !strcmp(v[1].prev_status, "ran"),
		      "... and its stage's previous execution");
		CHECK(v[0].prev_id == 0 && v[2].prev_id == 0 && v[2].e.inputs_nr == 0,
		      "a hit and a skip have no previous execution looked up");
	}
	prov_run_stages_free(v, nr);

	struct report_run rr;
	CHECK(report_run_load(&rr, p, scratch, r2, &err) == 0, "load run 2 for the page");
	if (rr.nr == 3) {
		long e = report_run_find(&rr, "eval/e/m1"), m = report_run_find(&rr, "model/m1");
		CHECK(e >= 0 && m >= 0 && rr.st[e].deps_nr == 1 && rr.st[e].deps[0] == (size_t)m,
		      "the DAG edge comes from the recorded input");
		CHECK_STR(rr.st[e].why, "ran: changed: inputs (vs execution 2, run 1)",
			  "why it ran: the cache-record field that changed, and since when");
		CHECK_STR(rr.st[m].why, "cache hit: the output of execution 1 (run 1)",
			  "why it did not run: the execution it reused");
		CHECK(rr.crit_nr == 1 && rr.crit[0] == (size_t)e && rr.crit_total == 3,
		      "the critical path leaves out the cache hit (no time in this run)");
		CHECK(rr.lanes == 1 && rr.st[e].lane == 0 && rr.st[m].lane == -1,
		      "the timeline has one lane, for the execution that ran");
		CHECK(rr.report_stage >= 0 && rr.files_note &&
			      strstr(rr.files_note, "has no output in this run"),
		      "a report stage without output is said to have none");
		CHECK(rr.order[0] == (size_t)m && rr.order[2] == (size_t)report_run_find(&rr, "report"),
		      "stages in section order: model, eval, report");
		struct strbuf page = STRBUF_INIT;
		report_html(&rr, &page);
		CHECK(strstr(page.buf, "<tr id=\"s-eval/e/m1\" data-stage=\"eval/e/m1\">") &&
			      strstr(page.buf, "local processes, -j 2 cpu slots"),
		      "the page has the stage's row and the executor");
		strbuf_release(&page);
	}
	report_run_release(&rr);
	CHECK(report_run_load(&rr, p, scratch, 99, &err) < 0 &&
		      strstr(err.buf, "no run 99 recorded"),
	      "an unknown run is an error");
	prov_close(p);
	strbuf_release(&path);
	strbuf_release(&err);
}

/* A stage with two rows in one run (an attempt that failed, then one that
 * ran: how a retried stage is recorded) and a command of two steps. */
static void test_attempts(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct prov *p = NULL;
	int64_t run = 0;
	strbuf_addf(&path, "%s/attempts.db", scratch);
	CHECK(prov_open(&p, path.buf, &err) == 0, "open a second database");
	struct prov_run r = { 0 };
	r.study_name = "s";
	r.argv_json = "[]";
	r.git_dirty = -1;
	r.started = 1000;
	prov_run_begin(p, &r, &run, &err);
	record(p, run, "model/m1", "model", "failed", K1, "{\"argv\":[1]}", NULL, NULL, 1000, 1001);
	record(p, run, "model/m1", "model", "ran", K1, "{\"argv\":[1]}", NULL, D1, 1001, 1004);
	struct prov_exec e = { 0 };
	e.run_id = run;
	e.stage_id = "eval/e/m1";
	e.kind = "eval";
	e.status = "ran";
	e.cache_key = K2;
	e.argv_json = "[[\"/bin/prep\",\"--x\"],[\"/bin/score\",\"--y\"]]";
	e.output_digest = D2;
	e.started = 1004;
	e.ended = 1005;
	e.cpu_s = -1;
	e.peak_rss_kb = -1;
	struct prov_input in = { "model", "model/m1", D1, NULL };
	e.inputs = &in;
	e.inputs_nr = 1;
	prov_record_exec(p, &e, NULL, &err);
	prov_run_end(p, run, "ok", 1005, 2, 0, 0, 0, &err);

	struct report_run rr;
	CHECK(report_run_load(&rr, p, scratch, run, &err) == 0, "load a run with two attempts");
	CHECK(rr.nr == 3 && rr.stages_nr == 2, "three rows, two stages");
	long m = report_run_find(&rr, "model/m1");
	CHECK(m == 1 && rr.st[0].superseded && !rr.st[1].superseded && rr.st[1].earlier == 0,
	      "a stage is its last row; the earlier attempt is superseded");
	CHECK(rr.crit_nr == 2 && rr.crit[0] == 1 && rr.crit_total == 4,
	      "the critical path goes through the last attempt (3 s + 1 s)");
	CHECK(rr.lanes == 1, "both attempts are on the timeline, one after the other");
	struct strbuf page = STRBUF_INIT;
	report_html(&rr, &page);
	const char *attempt = strstr(page.buf, "<tr class=\"attempt\" data-attempt=\"model/m1\">");
	const char *row = strstr(page.buf, "<tr id=\"s-model/m1\"");
	CHECK(attempt && row && attempt < row && !strstr(row + 1, "<tr id=\"s-model/m1\""),
	      "the table lists the earlier attempt above the stage's one anchored row");
	CHECK(strstr(page.buf, "<br>step 1: <code>/bin/prep --x</code><br>step 2: "
			       "<code>/bin/score --y</code>") != NULL,
	      "a command of several steps is shown step by step");
	CHECK(strstr(page.buf, "<td id=\"counts\">2: ") != NULL, "the header counts stages, not rows");
	strbuf_release(&page);
	report_run_release(&rr);
	prov_close(p);
	strbuf_release(&path);
	strbuf_release(&err);
}

int main(void)
{
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	test_critical_path();
	test_lanes();
	test_html();
	test_natcmp();
	test_md();
	test_results_format();
	test_run_read();
	test_attempts();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", scratch);
	return check_done();
}
