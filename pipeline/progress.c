/*
 * progress: the live status line on a terminal and plain event lines
 * elsewhere. See progress.h.
 */
#include "progress.h"
#include "proc.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void progress_init(struct progress *p, FILE *f, size_t total, int verbose)
{
	memset(p, 0, sizeof(*p));
	p->f = f;
	p->tty = isatty(fileno(f));
	const char *nc = getenv("NO_COLOR");
	p->color = p->tty && !(nc && *nc);
	p->verbose = verbose;
	p->total = total;
	p->start = clock_mono();
}

void progress_release(struct progress *p)
{
	for (size_t i = 0; i < p->running_nr; i++)
		free(p->running[i].id);
	free(p->running);
	p->running = NULL;
	p->running_nr = 0;
}

static void clear_line(struct progress *p)
{
	if (p->tty && p->line_shown) {
		fputs("\r\033[K", p->f);
		p->line_shown = 0;
	}
}

static int term_width(struct progress *p)
{
	struct winsize ws;
	if (ioctl(fileno(p->f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

static void draw(struct progress *p)
{
	if (!p->tty)
		return;
	double el = clock_mono() - p->start;
	char head[160];
	snprintf(head, sizeof(head), "[%zu/%zu] cached %zu, failed %zu, %02d:%02d", p->done,
		 p->total, p->cached, p->failed, (int)el / 60, (int)el % 60);
	char line[1024];
	size_t len = (size_t)snprintf(line, sizeof(line), "%s", head);
	for (size_t i = 0; i < p->running_nr && len < sizeof(line) - 1; i++) {
		const struct progress_running *r = &p->running[i];
		int n;
		if (r->fraction >= 0)
			n = snprintf(line + len, sizeof(line) - len, "%s %s %d%%", i ? "," : " |",
				     r->id, (int)(r->fraction * 100 + 0.5));
		else
			n = snprintf(line + len, sizeof(line) - len, "%s %s", i ? "," : " |", r->id);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	int w = term_width(p) - 1;
	if (len > (size_t)w)
		len = (size_t)w;
	line[len < sizeof(line) ? len : sizeof(line) - 1] = '\0';
	fputs("\r\033[K", p->f);
	if (p->color)
		fputs("\033[1m", p->f);
	fputs(line, p->f);
	if (p->color)
		fputs("\033[0m", p->f);
	fflush(p->f);
	p->line_shown = 1;
	p->last_draw = clock_mono();
}

void progress_started(struct progress *p, const char *id)
{
	XGROW(p->running, p->running_alloc, p->running_nr + 1);
	p->running[p->running_nr].id = xstrdup(id);
	p->running[p->running_nr].fraction = -1;
	p->running_nr++;
	if (p->tty) {
		draw(p);
	} else {
		fprintf(p->f, "[%zu/%zu] start   %s\n", p->done, p->total, id);
		fflush(p->f);
	}
}

static void remove_running(struct progress *p, const char *id)
{
	for (size_t i = 0; i < p->running_nr; i++)
		if (!strcmp(p->running[i].id, id)) {
			free(p->running[i].id);
			memmove(&p->running[i], &p->running[i + 1],
				(p->running_nr - i - 1) * sizeof(*p->running));
			p->running_nr--;
			break;
		}
}

void progress_retry(struct progress *p, const char *id, double secs, const char *detail)
{
	remove_running(p, id);
	clear_line(p);
	fprintf(p->f, "[%zu/%zu] retry   %s", p->done, p->total, id);
	if (secs > 0)
		fprintf(p->f, " (%.2fs)", secs);
	if (detail && *detail)
		fprintf(p->f, ": %s", detail);
	fputc('\n', p->f);
	if (p->tty)
		draw(p);
	else
		fflush(p->f);
}

void progress_finished(struct progress *p, const char *id, const char *status, double secs,
		       const char *detail)
{
	remove_running(p, id);
	p->done++;
	int is_cached = !strcmp(status, "cached");
	if (is_cached)
		p->cached++;
	else if (!strcmp(status, "failed"))
		p->failed++;
	else if (!strcmp(status, "skipped"))
		p->skipped++;
	if (is_cached && !p->verbose) {
		if (p->tty && clock_mono() - p->last_draw > 0.1)
			draw(p);
		return;
	}
	clear_line(p);
	const char *on = "", *off = "";
	if (p->color && !strcmp(status, "failed")) {
		on = "\033[31m";
		off = "\033[0m";
	}
	fprintf(p->f, "[%zu/%zu] %s%-7s%s %s", p->done, p->total, on, status, off, id);
	if (secs > 0)
		fprintf(p->f, " (%.2fs)", secs);
	if (detail && *detail)
		fprintf(p->f, ": %s", detail);
	fputc('\n', p->f);
	if (p->tty)
		draw(p);
	else
		fflush(p->f);
}

void progress_fraction(struct progress *p, const char *id, double fraction)
{
	for (size_t i = 0; i < p->running_nr; i++)
		if (!strcmp(p->running[i].id, id))
			p->running[i].fraction = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
	progress_tick(p);
}

void progress_print(struct progress *p, const char *text)
{
	clear_line(p);
	fputs(text, p->f);
	if (p->tty)
		draw(p);
	else
		fflush(p->f);
}

void progress_tick(struct progress *p)
{
	if (p->tty && clock_mono() - p->last_draw >= 0.1)
		draw(p);
}

void progress_end(struct progress *p)
{
	clear_line(p);
	fflush(p->f);
}
