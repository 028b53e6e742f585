/*
 * xalloc: the one allocation path of the orchestrator.
 *
 * xmalloc/xcalloc/xrealloc/xstrdup never return NULL: on exhaustion they print
 * "study: fatal: out of memory" and exit(70). Tests can inject failures with
 * xalloc_fail_after(n): the (n+1)-th allocation from then on fails (SQLite's
 * fault-simulation idea); xalloc_fail_after(-1) turns injection off. When an
 * injected failure fires, the process exits the same way, so tests run the
 * code under a fork and check the exit status.
 */
#ifndef STUDY_XALLOC_H
#define STUDY_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh string the caller frees */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void xalloc_fail_after(long n);

/* Grow *arr (element size `size`) so that it can hold at least `need` elements. */
void xgrow(void **arr, size_t *cap, size_t need, size_t size);
#define XGROW(arr, cap, need) xgrow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

#endif
