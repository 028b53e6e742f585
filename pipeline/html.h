/*
 * html: writing HTML safely into a strbuf: text and attribute escaping,
 * element ids (and the #fragments that link to them) made from arbitrary
 * names, and base64 for data: URLs. One home for escaping, so that no text
 * from provenance or a stage's output reaches the page unescaped.
 */
#ifndef STUDY_HTML_H
#define STUDY_HTML_H

#include <stddef.h>
#include "strbuf.h"

/* s with & < > " ' as character references (good in text and in quoted
 * attributes). Bytes are otherwise copied (the page is UTF-8). */
void html_text(struct strbuf *sb, const char *s);
/* The same for the first n bytes of s. */
void html_textn(struct strbuf *sb, const char *s, size_t n);
/* An id (without '#'): prefix, then s with every byte outside
 * [A-Za-z0-9_./+-] written as "~XX" (two hex digits), so that distinct names
 * get distinct ids and the id is a valid URL fragment as it is. */
void html_id(struct strbuf *sb, const char *prefix, const char *s);
/* Standard base64 (RFC 4648, padded) of data. */
void html_base64(struct strbuf *sb, const void *data, size_t len);

#endif
