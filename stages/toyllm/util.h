/*
 * util: the engine's small shared services: an error buffer (library code
 * reports failures through it and returns -1; only cmd_* functions exit), a
 * growable byte buffer, checked allocation that returns NULL instead of dying,
 * whole-file reads, atomic writes into an output directory (temp name then
 * rename), the FNV-1a-64 content digest, and progress reporting on the file
 * descriptor named by STUDY_PROGRESS_FD.
 */
#ifndef TOYLLM_UTIL_H
#define TOYLLM_UTIL_H

#include <stddef.h>
#include <stdint.h>

struct tl_err {
	char msg[512];
};

/* Formats into e->msg (when e is not NULL) and returns -1. */
int tl_fail(struct tl_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Growable buffer; `buf` is always NUL-terminated once anything was added.
 * sb_release frees it; sb_detach hands the memory to the caller. */
struct sbuf {
	char *buf;
	size_t len, cap;
	int oom; /* set when an allocation failed; later appends are dropped */
};
void sb_init(struct sbuf *sb);
void sb_release(struct sbuf *sb);
char *sb_detach(struct sbuf *sb, size_t *len);
void sb_add(struct sbuf *sb, const void *data, size_t n);
void sb_adds(struct sbuf *sb, const char *s);
void sb_addf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_reset(struct sbuf *sb);

/* Reads a whole file; returns a NUL-terminated buffer the caller frees. */
char *tl_read_file(const char *path, size_t *len, struct tl_err *e);
/* Writes dir/name atomically (dir/.name.tmp, then rename). */
int tl_write_file(const char *dir, const char *name, const void *data, size_t len,
		  struct tl_err *e);
/* Joins dir and name into a fresh string the caller frees (NULL on OOM). */
char *tl_path(const char *dir, const char *name);
/* strdup that returns NULL on exhaustion. */
char *tl_strdup(const char *s);

/* FNV-1a 64-bit over bytes, continuing from h (start with TL_FNV_INIT). */
#define TL_FNV_INIT 0xcbf29ce484222325ULL
uint64_t tl_fnv1a64(uint64_t h, const void *data, size_t n);

/* Progress: lines "progress FRACTION message\n" on fd $STUDY_PROGRESS_FD when set. */
void tl_progress(double fraction, const char *msg);
/* Maps the fractions of later tl_progress calls from 0..1 onto lo..hi (a step of a
 * command that runs several, e.g. `toyllm model`); 0, 1 restores the default. */
void tl_progress_span(double lo, double hi);

/* 95% Wilson score interval for k successes in n trials. */
void tl_wilson(long k, long n, double *lo, double *hi);

#endif
