/*
 * check: the unit tests' tiny harness. Each CHECK prints "ok - what" or
 * "not ok - what (file:line)"; check_done() returns the exit status.
 * tests/run-all.sh counts the lines.
 */
#ifndef STUDY_CHECK_H
#define STUDY_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

static inline int check_report(int ok, const char *what, const char *file, int line)
{
	check_count++;
	if (ok) {
		printf("ok - %s\n", what);
	} else {
		check_failures++;
		printf("not ok - %s (%s:%d)\n", what, file, line);
	}
	return ok;
}

#define CHECK(cond, what) check_report(!!(cond), (what), __FILE__, __LINE__)
#define CHECK_STR(got, want, what)                                                            \
	do {                                                                                  \
		const char *g_ = (got), *w_ = (want);                                         \
		if (!check_report(g_ && w_ && !strcmp(g_, w_), (what), __FILE__, __LINE__))   \
			printf("#   got:  %s\n#   want: %s\n", g_ ? g_ : "(null)",           \
			       w_ ? w_ : "(null)");                                           \
	} while (0)

static inline int check_done(void)
{
	printf("# %d checks, %d failed\n", check_count, check_failures);
	return check_failures ? 1 : 0;
}

#endif
