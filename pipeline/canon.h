/*
 * canon: canonical JSON text — object keys sorted bytewise, no whitespace,
 * strings escaped as in strbuf_add_json_str, numbers as cJSON prints them.
 * Two equal JSON values always give the same bytes, so the text can be hashed
 * (cache keys) and recomputed by an auditor.
 */
#ifndef STUDY_CANON_H
#define STUDY_CANON_H

#include <cjson/cJSON.h>
#include "strbuf.h"

void canon_json(const cJSON *v, struct strbuf *out);
/* The text a scalar parameter contributes to an argv element: strings as
 * they are, numbers as canonical JSON numbers, true/false, null as "". */
void canon_scalar_text(const cJSON *v, struct strbuf *out);

#endif
