/*
 * exec_dry: the executor of `run --dry-run` (executor.h). It advertises the
 * capacity of the executor a real run would use, so that the plan is checked
 * (exec_check_plan) and its stages admitted by the scheduler exactly as in a
 * real run, and it starts nothing: each stage it is given is recorded and
 * reported at the next exec_poll as having run, dry, with exit status 0.
 */
#include "executor.h"
#include "proc.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

struct dry {
	struct executor base;
	struct exec_caps caps;
	void **pending;        /* tags started, not yet reported */
	size_t pending_nr, pending_alloc;
	struct strvec started; /* stage ids, in order */
};

static void dry_caps(struct executor *ex, struct exec_caps *caps)
{
	*caps = ((struct dry *)ex)->caps;
}

static int dry_start(struct executor *ex, const struct exec_stage *xs, struct strbuf *err)
{
	struct dry *d = (struct dry *)ex;
	(void)err;
	XGROW(d->pending, d->pending_alloc, d->pending_nr + 1);
	d->pending[d->pending_nr++] = xs->tag;
	strvec_push(&d->started, xs->stage_id ? xs->stage_id : "");
	return 0;
}

static int dry_poll(struct executor *ex, double timeout_s, int wake_fd)
{
	struct dry *d = (struct dry *)ex;
	(void)timeout_s;
	(void)wake_fd;
	int n = 0;
	/* in start order; a callback may cancel (ignored: nothing runs) */
	while (d->pending_nr) {
		void *tag = d->pending[0];
		memmove(d->pending, d->pending + 1, --d->pending_nr * sizeof(*d->pending));
		struct exec_report rep;
		memset(&rep, 0, sizeof(rep));
		rep.tag = tag;
		rep.dry = 1;
		rep.cpu_s = -1;
		rep.peak_rss_kb = -1;
		rep.queue_wait_s = -1;
		rep.executor = "dry";
		d->base.on_done(d->base.ctx, &rep);
		n++;
	}
	return n;
}

static void dry_cancel(struct executor *ex, void *tag)
{
	(void)ex;
	(void)tag;
}

static size_t dry_running(struct executor *ex) { return ((struct dry *)ex)->pending_nr; }

static double dry_now(struct executor *ex)
{
	(void)ex;
	return clock_mono();
}

static void dry_destroy(struct executor *ex)
{
	struct dry *d = (struct dry *)ex;
	free(d->pending);
	strvec_clear(&d->started);
	free(d);
}

static const struct exec_ops dry_ops = {
	.name = "dry",
	.caps = dry_caps,
	.start = dry_start,
	.poll = dry_poll,
	.cancel = dry_cancel,
	.running = dry_running,
	.now = dry_now,
	.recover = NULL,
	.destroy = dry_destroy,
};

struct executor *exec_dry_new(const struct exec_caps *caps)
{
	struct dry *d = xcalloc(1, sizeof(*d));
	d->base.ops = &dry_ops;
	if (caps) {
		d->caps = *caps;
	} else {
		d->caps.max_gpus = -1;
	}
	strvec_init(&d->started);
	return &d->base;
}

char *const *exec_dry_started(struct executor *ex, size_t *nr)
{
	struct dry *d = (struct dry *)ex;
	*nr = d->started.nr;
	return d->started.v;
}
