/*
 * progress: what a run shows while it works, on stderr.
 *
 * On a terminal: one live status line, redrawn in place —
 *   [12/40] cached 10 · failed 0 · 00:42 · model/m1 45%, method/wo/m2
 * with event lines (finished, failed) printed above it. Elsewhere (a pipe, a
 * log file, CI): one plain line per event, never redrawn. NO_COLOR and
 * non-terminals get no escape sequences beyond the line redraw.
 */
#ifndef STUDY_PROGRESS_H
#define STUDY_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

struct progress_running {
	char *id;
	double fraction; /* < 0 when the stage reports none */
};

struct progress {
	FILE *f;
	int tty, color, verbose;
	size_t total, done, cached, failed, skipped;
	double start;      /* monotonic */
	double last_draw;
	struct progress_running *running;
	size_t running_nr, running_alloc;
	int line_shown;
};

void progress_init(struct progress *p, FILE *f, size_t total, int verbose);
void progress_release(struct progress *p);
void progress_started(struct progress *p, const char *id);
/* status: "ran", "cached", "failed", "skipped" */
void progress_finished(struct progress *p, const char *id, const char *status, double secs,
		       const char *detail);
/* A running stage's attempt failed and it will be tried again: it stops
 * being shown as running, and is not counted as done. */
void progress_retry(struct progress *p, const char *id, double secs, const char *detail);
void progress_fraction(struct progress *p, const char *id, double fraction);
/* Print a block of text (e.g. a failed stage's log tail) above the live line. */
void progress_print(struct progress *p, const char *text);
/* Redraw the live line if due (terminal only). */
void progress_tick(struct progress *p);
/* Remove the live line for good. */
void progress_end(struct progress *p);

#endif
