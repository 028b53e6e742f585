/*
 * check: the engine tests' tiny harness. CHECK(cond, fmt, ...) prints
 * "ok - ..." or "not ok - ..." and counts failures; check_done() prints the
 * closing "N passed, N failed" line and returns the exit status.
 */
#ifndef ENGINE_CHECK_H
#define ENGINE_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_pass, check_fail;

#define CHECK(cond, ...)                                                                          \
	do {                                                                                      \
		int ok_ = (cond) ? 1 : 0;                                                         \
		printf("%s - ", ok_ ? "ok" : "not ok");                                           \
		printf(__VA_ARGS__);                                                              \
		printf("\n");                                                                     \
		fflush(stdout);                                                                   \
		if (ok_)                                                                          \
			check_pass++;                                                             \
		else                                                                              \
			check_fail++;                                                             \
	} while (0)

static inline int check_done(void)
{
	printf("# %d passed, %d failed\n", check_pass, check_fail);
	return check_fail ? 1 : 0;
}

static inline int sanitized(void)
{
	const char *s = getenv("SAN");
	return s && *s == '1';
}

#endif
