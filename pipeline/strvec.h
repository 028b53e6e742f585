/*
 * strvec: a NULL-terminated, growable vector of owned strings (argv, envp).
 * `v` is always NULL-terminated and never NULL after strvec_init/STRVEC_INIT.
 * strvec_push copies its argument; strvec_clear frees every string.
 */
#ifndef STUDY_STRVEC_H
#define STUDY_STRVEC_H

#include <stddef.h>

struct strvec {
	char **v;
	size_t nr, alloc;
};

extern char *strvec_empty[];
#define STRVEC_INIT { strvec_empty, 0, 0 }

void strvec_init(struct strvec *sv);
void strvec_push(struct strvec *sv, const char *s);
void strvec_pushf(struct strvec *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* takes ownership of s */
void strvec_push_nodup(struct strvec *sv, char *s);
void strvec_clear(struct strvec *sv);

#endif
