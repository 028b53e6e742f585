/*
 * critpath: expected stage durations and longest remaining paths over the
 * plan's DAG. See critpath.h.
 */
#include "critpath.h"
#include "prov_query.h"
#include "strmap.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sibling groups of critpath.h, nearest first. */
enum { LEVEL_SEEDS, LEVEL_ENTRY_MODEL, LEVEL_ENTRY, LEVELS };

struct group {
	double sum;
	size_t n;
};

/* The key of stage s's group at `level` in out, or 0 when s has none there. */
static int group_key(const struct stage *s, int level, struct strbuf *out)
{
	const struct entry *e = s->entry;
	strbuf_reset(out);
	switch (level) {
	case LEVEL_SEEDS: {
		if (s->seed_index < 0 || !s->seed)
			return 0;
		size_t n = strlen(s->id), tail = strlen("@seed") + strlen(s->seed);
		if (n < tail)
			return 0;
		strbuf_addf(out, "s\n%.*s", (int)(n - tail), s->id);
		return 1;
	}
	case LEVEL_ENTRY_MODEL:
		if (!s->model)
			return 0;
		strbuf_addf(out, "m\n%d\n%d\n%s\n%s", (int)s->kind, (int)e->section, e->name,
			    s->model);
		return 1;
	default:
		/* a matrix's entries share the position of their key */
		if (e->pos.line > 0)
			strbuf_addf(out, "e\n%d\n%d\n%d:%d", (int)s->kind, (int)e->section,
				    e->pos.line, e->pos.col);
		else
			strbuf_addf(out, "e\n%d\n%p", (int)s->kind, (const void *)e);
		return 1;
	}
}

void critpath_durations(const struct plan *p, const double *known, double *dur)
{
	size_t n = p->nr;
	double longest = 0, longest_limit = 0;
	struct strmap maps[LEVELS] = { STRMAP_INIT, STRMAP_INIT, STRMAP_INIT };
	struct group *groups = NULL;
	size_t groups_nr = 0, groups_alloc = 0;
	size_t *gid = xmalloc((n ? n : 1) * LEVELS * sizeof(*gid)); /* group + 1; 0: none */
	struct strbuf key = STRBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		const struct stage *s = &p->stages[i];
		if (known[i] > longest)
			longest = known[i];
		if (s->entry->res.time_s > longest_limit)
			longest_limit = s->entry->res.time_s;
		for (int l = 0; l < LEVELS; l++) {
			size_t g = 0;
			if (group_key(s, l, &key)) {
				g = (size_t)(uintptr_t)strmap_get(&maps[l], key.buf);
				if (!g) {
					XGROW(groups, groups_alloc, groups_nr + 1);
					groups[groups_nr].sum = 0;
					groups[groups_nr].n = 0;
					g = ++groups_nr;
					strmap_put(&maps[l], key.buf, (void *)(uintptr_t)g);
				}
				if (known[i] >= 0) {
					groups[g - 1].sum += known[i];
					groups[g - 1].n++;
				}
			}
			gid[i * LEVELS + (size_t)l] = g;
		}
	}
	double scale = longest > 0 ? longest : longest_limit > 0 ? longest_limit : 1.0;
	for (size_t i = 0; i < n; i++) {
		if (known[i] >= 0) {
			dur[i] = known[i];
			continue;
		}
		double limit = p->stages[i].entry->res.time_s;
		dur[i] = limit > 0 && limit < scale ? limit : scale;
		for (int l = 0; l < LEVELS; l++) {
			size_t g = gid[i * LEVELS + (size_t)l];
			if (g && groups[g - 1].n) {
				dur[i] = groups[g - 1].sum / (double)groups[g - 1].n;
				break;
			}
		}
	}
	for (int l = 0; l < LEVELS; l++)
		strmap_clear(&maps[l], NULL);
	strbuf_release(&key);
	free(groups);
	free(gid);
}

void critpath_priorities(const struct plan *p, const double *dur, const char *selected,
			 double *prio)
{
	/* Kahn's algorithm from the sinks: a stage is done once all its
	 * dependents are */
	size_t n = p->nr;
	size_t *left = xmalloc((n ? n : 1) * sizeof(*left));
	size_t *queue = xmalloc((n ? n : 1) * sizeof(*queue));
	size_t head = 0, tail = 0;
	for (size_t i = 0; i < n; i++) {
		left[i] = p->stages[i].dependents_nr;
		if (!left[i])
			queue[tail++] = i;
	}
	while (head < tail) {
		size_t u = queue[head++];
		const struct stage *s = &p->stages[u];
		double after = 0;
		for (size_t k = 0; k < s->dependents_nr; k++) {
			size_t d = s->dependents[k];
			if ((!selected || selected[d]) && prio[d] > after)
				after = prio[d];
		}
		prio[u] = dur[u] + after;
		for (size_t k = 0; k < s->deps_nr; k++)
			if (--left[s->deps[k]] == 0)
				queue[tail++] = s->deps[k];
	}
	free(left);
	free(queue);
}

int critpath_from_prov(const struct plan *p, struct prov *pv, const char *selected,
		       double *prio, struct strbuf *err)
{
	size_t n = p->nr;
	double *known = xmalloc((n ? n : 1) * sizeof(*known));
	double *dur = xmalloc((n ? n : 1) * sizeof(*dur));
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		known[i] = -1;
	if (pv && n) {
		const char **ids = xmalloc(n * sizeof(*ids));
		for (size_t i = 0; i < n; i++)
			ids[i] = p->stages[i].id;
		rc = prov_stage_walls(pv, ids, n, known, err);
		free(ids);
		if (rc < 0)
			for (size_t i = 0; i < n; i++)
				known[i] = -1;
	}
	critpath_durations(p, known, dur);
	critpath_priorities(p, dur, selected, prio);
	free(known);
	free(dur);
	return rc;
}
