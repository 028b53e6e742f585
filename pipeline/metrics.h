/*
 * metrics: parse the metrics.json a stage may write into ${out} (the stage
 * protocol; the format is in docs/provenance.md, "metrics.json"). prov.c
 * records each metric it yields with the execution (prov_record_exec).
 */
#ifndef STUDY_METRICS_H
#define STUDY_METRICS_H

#include "strbuf.h"

/* One metric. The strings are borrowed from the parsed document and valid
 * only during the callback. */
struct metric {
	const char *evaluation, *model, *variant; /* NULL where not applicable */
	const char *name;
	double value;     /* finite */
	int has_n;
	long long n;      /* a non-negative integer, when has_n */
	int has_ci_low, has_ci_high;
	double ci_low, ci_high;
};
/* Called once per metric; a negative return stops the parse, which then
 * returns -1 with whatever fn put in err. */
typedef int (*metric_fn)(const struct metric *m, void *data);

/* Parse the metrics.json text `json` and call `fn` (may be NULL: only
 * validate) once per metric, in file order. The evaluation/model/variant
 * passed to fn are the file's top-level strings, else the defaults given
 * (which may be NULL). Returns 0, or -1 with "stage 'ID': invalid
 * metrics.json: <why>" in err (`stage_id` only names the stage there). */
int metrics_parse(const char *stage_id, const char *json, const char *evaluation,
		  const char *model, const char *variant, metric_fn fn, void *data,
		  struct strbuf *err);

#endif
