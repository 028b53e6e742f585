/*
 * provjson: one recorded run as a W3C PROV-JSON document
 * (https://www.w3.org/Submission/prov-json/), for `study export`.
 *
 * Identifiers are qualified names with two declared prefixes:
 *   sha256:<hex>           entity: an output tree (prov:type study:Tree) or the
 *                          study file (study:StudyFile), named by its digest
 *   study:run/<R>          activity: the run (prov:type study:Run)
 *   study:execution/<E>    activity: one stage execution of the run (prov:type
 *                          study:StageExecution; a cache hit has study:status
 *                          "cached" and study:producedBy the execution that ran)
 *   study:metric/<E>/<m>   entity: a metric value (study:Metric, prov:value)
 *   study:tool/<version>   agent: the orchestrator (prov:SoftwareAgent)
 *   study:user/<name>      agent: who ran it (prov:Person)
 *   study:commit/<hex>     agent: the git commit of the study (study:GitCommit)
 * Relations: used (execution -> input tree, prov:role = input name; run ->
 * study file), wasGeneratedBy (output tree / metric <- execution),
 * wasDerivedFrom (output tree <- each input tree; metric <- output tree),
 * wasAssociatedWith (every activity with the tool, user and commit agents).
 * Times are xsd:dateTime strings in UTC with milliseconds.
 */
#ifndef STUDY_PROVJSON_H
#define STUDY_PROVJSON_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "prov.h"
#include "strbuf.h"

/* 1 with *doc filled (caller cJSON_Delete()s it), 0 when there is no such run,
 * -1 on a database error. */
int provjson_export(struct prov *p, int64_t run_id, cJSON **doc, struct strbuf *err);

/* xsd:dateTime of a unix time ("2026-11-23T09:15:02.123Z"). */
void provjson_time(double t, char out[40]);

#endif
