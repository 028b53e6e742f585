/*
 * results_format: the metrics table (prov_results rows) as files other tools
 * read: CSV (RFC 4180) for pandas / R, and a Markdown table for notes.
 * `study results --format csv|md`; the text table and JSON stay in
 * cmd_results.c.
 *
 * Both write one row per metric with the columns
 *   evaluation, model, variant, metric, value, n, ci_low, ci_high, stage, execution_id
 * An absent value (no evaluation, no n, no interval) is an empty CSV field
 * and "-" in Markdown. CSV numbers are printed with the fewest digits that
 * read back as the same double (at most 17 significant digits), so a value
 * survives the trip into another tool exactly; Markdown rounds them for
 * reading (3 decimals, as the text table).
 */
#ifndef STUDY_RESULTS_FORMAT_H
#define STUDY_RESULTS_FORMAT_H

#include <stdio.h>
#include "prov_query.h"

/* The header line and one line per row, "\r\n"-free ("\n" line ends, which
 * pandas and R read; RFC 4180 allows either in practice). */
void results_write_csv(FILE *f, const struct prov_metric_info *rows, size_t nr);
/* A Markdown table: header, separator, one line per row ('|' in a cell
 * escaped as "\|"). */
void results_write_md(FILE *f, const struct prov_metric_info *rows, size_t nr);

/* The shortest "%.*g" text of v (1 to 17 significant digits) that strtod
 * reads back as v, into out. */
void results_format_double(double v, char out[32]);

#endif
