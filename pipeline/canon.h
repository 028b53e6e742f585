/*
 * canon: canonical JSON text — object keys sorted bytewise, no whitespace,
 * strings escaped as in strbuf_add_json_str. Two equal JSON values always
 * give the same bytes, so the text can be hashed (cache keys) and recomputed
 * by an auditor.
 *
 * Numbers: a cJSON number (a double) is written by canon_number: an integral
 * value below 1e15 in magnitude as a plain integer (-0 as 0), anything else as
 * the shortest %g text that reads back as the same double; inf/nan as null.
 * A cJSON *raw* node is written verbatim: the study loader stores every
 * number of a stage's params as a raw node holding its exact canonical text
 * (integers of any size as exact decimals; see study.c and
 * docs/study-format.md), so the stage and the cache key see the same bytes.
 * Raw nodes must therefore only ever hold valid JSON number text.
 */
#ifndef STUDY_CANON_H
#define STUDY_CANON_H

#include <cjson/cJSON.h>
#include "strbuf.h"

void canon_json(const cJSON *v, struct strbuf *out);
/* A double as canonical JSON number text (see above). */
void canon_number(double d, struct strbuf *out);
/* The text a scalar parameter contributes to an argv element: strings as
 * they are, numbers as canonical JSON numbers (raw nodes verbatim), true/false,
 * null as "". It is byte for byte the text canon_json writes for a number. */
void canon_scalar_text(const cJSON *v, struct strbuf *out);
/*
 * The text of the top-level member `name` (a key that needs no escaping) of
 * the canonical JSON object `text`: *val points into text, *len bytes. Two
 * canonical texts hold equal values exactly when their bytes are equal, so
 * comparing members this way is exact where parsing them into cJSON (whose
 * numbers are doubles) is not. 0 when found, -1 when absent or malformed.
 */
int canon_member(const char *text, const char *name, const char **val, size_t *len);

/*
 * Walk the members of a canonical JSON object, or the elements of an array,
 * given as `len` bytes of text inside a NUL-terminated string (a member's
 * value text from canon_member or canon_iter_next, or a whole record):
 * canon_iter_start returns 0 when the text is an
 * object or an array (it->array says which), -1 otherwise. Each
 * canon_iter_next returns 1 with the next member (an object member's key as
 * the bytes between its quotes, still escaped; key NULL for an array
 * element) and its value text, 0 after the last, -1 when the text is
 * malformed. Pointers point into the text.
 */
struct canon_iter {
	const char *p, *end;
	int array;
};
int canon_iter_start(struct canon_iter *it, const char *text, size_t len);
int canon_iter_next(struct canon_iter *it, const char **key, size_t *klen, const char **val,
		    size_t *vlen);

#endif
