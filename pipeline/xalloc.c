/*
 * xalloc: allocation wrappers that die cleanly on exhaustion, with a failure
 * injection hook for tests. See xalloc.h.
 */
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long fail_countdown = -1;

void xalloc_fail_after(long n) { fail_countdown = n; }

static void check_injection(void)
{
	if (fail_countdown < 0)
		return;
	if (fail_countdown == 0) {
		fputs("study: fatal: out of memory (injected)\n", stderr);
		exit(70);
	}
	fail_countdown--;
}

static void *die_oom(void)
{
	fputs("study: fatal: out of memory\n", stderr);
	exit(70);
}

void *xmalloc(size_t n)
{
	check_injection();
	void *p = malloc(n ? n : 1);
	return p ? p : die_oom();
}

void *xcalloc(size_t count, size_t size)
{
	check_injection();
	void *p = calloc(count ? count : 1, size ? size : 1);
	return p ? p : die_oom();
}

void *xrealloc(void *old, size_t n)
{
	check_injection();
	void *p = realloc(old, n ? n : 1);
	return p ? p : die_oom();
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return xstrdup("");
	char *p = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void xgrow(void **arr, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return;
	size_t n = *cap ? *cap : 8;
	while (n < need)
		n *= 2;
	*arr = xrealloc(*arr, n * size);
	*cap = n;
}
