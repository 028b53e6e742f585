/*
 * why: why the latest execution of a stage ran instead of being taken from
 * the cache (`study why STAGE`, `study show STAGE --why`), told after the
 * fact from provenance alone: the differences between its cache record and
 * that of the stage's previous execution (freshness.h's record_diff, the
 * comparison `status` uses), by name, or what else made it run.
 *
 * The explanation is one JSON object (the `--json` form, documented in
 * docs/provenance.md, "Why a stage ran"):
 *   stage, execution_id, run_id, status, reason, time (ISO-8601, the
 *   execution's start, else its run's), cache_key,
 *   verdict: one of
 *     "first"          no earlier execution of the stage is recorded
 *     "changed"        its cache key differs from the previous execution's
 *     "forced"         same key; it ran because of run --force
 *     "retried"        same key; the previous execution failed or was interrupted
 *     "cache-unusable" same key; the previous one succeeded, so its cached
 *                      output or action-cache entry could not be used
 *     "no-previous-record"  the previous execution recorded no cache record
 *     "no-record"      this execution recorded none (it failed before its key
 *                      was computed)
 *     "cache-hit"      the latest execution was a cache hit (nothing ran)
 *     "skipped", "not-started"  the latest execution never started
 *   previous: {execution_id, run_id, status, reason, cache_key, output_digest}
 *     or null,
 *   changes: [{field, path, before, after, derived, input, input_stage,
 *     producer_run}]: before/after are canonical JSON text (strings) or null
 *     when absent; derived is true for an argv difference that a changed
 *     param, seed or input digest accounts for (the text leaves it out);
 *     input, input_stage, producer_run only for inputs (producer_run: the run
 *     whose execution of input_stage produced the new digest, null if none),
 *   output_digest: this execution's output or null,
 *   source: for a cache hit, {execution_id, run_id, time} of the execution
 *     that produced its output, or null.
 */
#ifndef STUDY_WHY_H
#define STUDY_WHY_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "prov.h"
#include "strbuf.h"

/* Explain the latest execution of `stage`. 1 with *out (the caller deletes
 * it); 0 with "no execution of stage 'X' recorded" in err; -1 with
 * "cannot read provenance: ..." in err. */
int why_explain(struct prov *p, const char *stage, cJSON **out, struct strbuf *err);

/* The explanation as text: one sentence, then one indented line per
 * difference (at most WHY_LINES_PER_FIELD per field, then a count). */
/* 1 when an execution's recorded reason holds the note "forced" (runner.c:
 * it ran only because of run --force; docs/provenance.md): a "; "-separated
 * item "forced" or "forced, ...". 0 otherwise, also for NULL. */
int why_reason_forced(const char *reason);

#define WHY_LINES_PER_FIELD 10
void why_print(FILE *f, const cJSON *why);

#endif
