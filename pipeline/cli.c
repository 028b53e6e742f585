/*
 * cli: message helpers and defaults shared by the subcommands. See cli.h.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("study: error: ", fmt, ap);
	va_end(ap);
}

void cli_warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("study: warning: ", fmt, ap);
	va_end(ap);
}

const char *store_dir_default(const char *opt)
{
	if (opt && *opt)
		return opt;
	const char *env = getenv("STUDY_STORE");
	if (env && *env)
		return env;
	return "artifacts";
}

int cli_parse_count(const char *s, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max)
		return -1;
	*out = v;
	return 0;
}

int use_color(void)
{
	const char *nc = getenv("NO_COLOR");
	if (nc && *nc)
		return 0;
	return isatty(STDOUT_FILENO);
}
