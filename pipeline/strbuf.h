/*
 * strbuf: the growable byte buffer used everywhere (after git's strbuf).
 *
 * Rules: `buf` is always NUL-terminated and never NULL once initialised
 * (STRBUF_INIT points it at a shared empty string until the first growth).
 * `len` excludes the terminator. strbuf_release frees and reinitialises;
 * strbuf_detach hands the memory to the caller (who frees it) and leaves the
 * strbuf empty. Functions never fail: allocation failure exits via xalloc.
 */
#ifndef STUDY_STRBUF_H
#define STUDY_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	size_t alloc;
	size_t len;
	char *buf;
};

extern char strbuf_empty[];
#define STRBUF_INIT { 0, 0, strbuf_empty }

void strbuf_init(struct strbuf *sb, size_t hint);
void strbuf_release(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_reset(struct strbuf *sb);
void strbuf_setlen(struct strbuf *sb, size_t len);

void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, int c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* append s as a JSON string literal, quotes included */
void strbuf_add_json_str(struct strbuf *sb, const char *s);

/* Read a whole file into sb (appending). Returns 0, or -1 with errno set. */
int strbuf_read_file(struct strbuf *sb, const char *path);
/* Remove trailing whitespace. */
void strbuf_rtrim(struct strbuf *sb);

#endif
