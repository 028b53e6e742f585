/*
 * lineage: the full upstream chain of a recorded number or stage output
 * (`study show X --lineage`): the execution that produced it, then for each of
 * its inputs the execution that produced that input's digest, recursively
 * (eval <- variant <- method <- model <- data), each with its command, git
 * commit, digests and times.
 *
 * X is a stage id ("model/m1"), a metric qualified by its stage
 * ("eval/refusal/m1/wo:refusal_rate"), or a bare metric name recorded by
 * exactly one stage.
 */
#ifndef STUDY_LINEAGE_H
#define STUDY_LINEAGE_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "prov.h"
#include "strbuf.h"

/*
 * Build the lineage as a JSON tree. Each node: stage, execution, run, status,
 * kind, command (array), commit, branch, dirty, output_digest, cache_key,
 * started, ended (ISO strings or null), wall_s, inputs: [{name, stage,
 * digest, produced_by: node or null}]. A node already shown higher up is
 * {stage, execution, run, see_above: true}. The root has "metric" ({name,
 * value, n, ci_low, ci_high}) when X names one.
 * Returns 1, 0 when X matches nothing (message in err), -1 on error.
 */
int lineage_build(struct prov *p, const char *what, cJSON **tree, struct strbuf *err);
/* The tree as indented text. */
void lineage_print(FILE *f, const cJSON *tree);

#endif
