/*
 * report_html: the HTML page `study report` writes for one run, and its
 * parts, each appended to a strbuf:
 *
 *   report_html.c   the page: header, sections, stage and metric tables,
 *                   the inline CSS and the little inline JavaScript (table
 *                   sorting, opening a stage's details when a link targets it)
 *   report_dag.c    the DAG as inline SVG
 *   report_gantt.c  the timeline as inline SVG
 *   report_md.c     the report stage's report.md as HTML
 *
 * The page is self-contained: no URL outside it (charts are data: URLs),
 * nothing fetched, and the same provenance and store give the same bytes.
 *
 * Links: every stage has one anchor, its row in the stage table, with the id
 * html_id("s-", stage id); the DAG, the timeline and every metric value link
 * to it. Elements that stand for a stage carry data-stage="ID" and a class
 * naming its status (st-ran, st-cached, st-failed, st-interrupted,
 * st-skipped, st-not-started); those on the critical path also "crit".
 */
#ifndef STUDY_REPORT_HTML_H
#define STUDY_REPORT_HTML_H

#include <stddef.h>
#include "report_data.h"
#include "strbuf.h"

/* Above this many stages the DAG draws each stage as a small square without
 * a label (its id in a tooltip), and edges between groups instead of between
 * stages. */
#define REPORT_DAG_COMPACT 600
/* Stage-to-stage edges are drawn up to this many (else between groups). */
#define REPORT_DAG_MAX_EDGES 200

/* When the stage table's details (command, inputs and their digests) would
 * take more bytes than this, only the stages that recorded metrics, failed,
 * were interrupted or lie on the critical path keep them; the others name
 * `study show STAGE`. */
#define REPORT_DETAILS_BUDGET (4u << 20)

void report_html(const struct report_run *rr, struct strbuf *out);

void report_dag_svg(const struct report_run *rr, struct strbuf *out);
void report_gantt_svg(const struct report_run *rr, struct strbuf *out);

/* The class of a status: "st-ran", ..., "st-other" for an unknown one. */
const char *report_status_class(const char *status);
/* A duration for the page: "4.2 ms", "310 ms", else as `study show`
 * ("12.3s", "4m05s"). */
void report_duration(double s, char out[32]);
/* The href of a stage's anchor: "#" + html_id("s-", id). */
void report_stage_href(struct strbuf *sb, const char *id);

/* Markdown (the subset report stages write: # headings, paragraphs, "- "
 * lists, | tables |, ![alt](file) images, **bold**, *italic*, `code`) as
 * HTML; headings go down two levels (# is h3). Every text is escaped. An
 * image whose target `image` returns is embedded as a data: URL (SVG files as
 * image/svg+xml, so scripts in them never run), any other shows its alt
 * text. */
typedef const struct report_file *(*md_image_fn)(void *ctx, const char *name);
void report_md_html(struct strbuf *out, const char *text, size_t len, md_image_fn image,
		    void *ctx);

#endif
