/*
 * util: error buffer, growable buffer, file helpers, FNV-1a-64, progress and the
 * Wilson interval (see util.h).
 */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tl_fail(struct tl_err *e, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void sb_init(struct sbuf *sb)
{
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	sb->oom = 0;
}

void sb_release(struct sbuf *sb)
{
	free(sb->buf);
	sb_init(sb);
}

char *sb_detach(struct sbuf *sb, size_t *len)
{
	char *b = sb->buf;
	if (len)
		*len = sb->len;
	if (!b)
		b = calloc(1, 1);
	sb_init(sb);
	return b;
}

void sb_reset(struct sbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = 0;
}

static int sb_grow(struct sbuf *sb, size_t extra)
{
	if (sb->oom)
		return -1;
	if (sb->len + extra + 1 <= sb->cap)
		return 0;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	char *nb = realloc(sb->buf, cap);
	if (!nb) {
		sb->oom = 1;
		return -1;
	}
	sb->buf = nb;
	sb->cap = cap;
	return 0;
}

void sb_add(struct sbuf *sb, const void *data, size_t n)
{
	if (sb_grow(sb, n))
		return;
	memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = 0;
}

void sb_adds(struct sbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void sb_addf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_grow(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

char *tl_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

char *tl_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

char *tl_read_file(const char *path, size_t *len, struct tl_err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		tl_fail(e, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	struct sbuf sb;
	sb_init(&sb);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		sb_add(&sb, chunk, n);
	int bad = ferror(f);
	fclose(f);
	if (bad || sb.oom) {
		sb_release(&sb);
		tl_fail(e, "cannot read '%s'", path);
		return NULL;
	}
	return sb_detach(&sb, len);
}

int tl_write_file(const char *dir, const char *name, const void *data, size_t len,
		  struct tl_err *e)
{
	size_t n = strlen(dir) + strlen(name) + 16;
	char *tmp = malloc(n), *dst = malloc(n);
	int rc = -1;
	if (!tmp || !dst) {
		tl_fail(e, "out of memory");
		goto out;
	}
	snprintf(tmp, n, "%s/.%s.tmp", dir, name);
	snprintf(dst, n, "%s/%s", dir, name);
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		tl_fail(e, "cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if ((len && fwrite(data, 1, len, f) != len) | (fclose(f) != 0)) {
		tl_fail(e, "cannot write '%s'", tmp);
		remove(tmp);
		goto out;
	}
	if (rename(tmp, dst) != 0) {
		tl_fail(e, "cannot rename '%s' to '%s': %s", tmp, dst, strerror(errno));
		remove(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	free(dst);
	return rc;
}

uint64_t tl_fnv1a64(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static double progress_lo = 0, progress_hi = 1;

void tl_progress_span(double lo, double hi)
{
	progress_lo = lo;
	progress_hi = hi;
}

void tl_progress(double fraction, const char *msg)
{
	const char *s = getenv("STUDY_PROGRESS_FD");
	if (!s || !*s)
		return;
	char *end;
	long fd = strtol(s, &end, 10);
	if (*end || fd < 0 || fd > 65535)
		return;
	if (fraction < 0)
		fraction = 0;
	if (fraction > 1)
		fraction = 1;
	fraction = progress_lo + (progress_hi - progress_lo) * fraction;
	char line[256];
	int n = snprintf(line, sizeof line, "progress %.4f %s\n", fraction, msg ? msg : "");
	if (n > 0) {
		if ((size_t)n >= sizeof line)
			n = (int)sizeof line - 1;
		ssize_t w = write((int)fd, line, (size_t)n);
		(void)w;
	}
}

void tl_wilson(long k, long n, double *lo, double *hi)
{
	if (n <= 0) {
		*lo = 0;
		*hi = 1;
		return;
	}
	const double z = 1.959963984540054;
	double p = (double)k / (double)n, nn = (double)n;
	double den = 1 + z * z / nn;
	double c = (p + z * z / (2 * nn)) / den;
	double h = z * sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / den;
	*lo = c - h < 0 ? 0 : c - h;
	*hi = c + h > 1 ? 1 : c + h;
}
