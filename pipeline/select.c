/*
 * select: targets and --force patterns over stage ids, the selection's
 * closure under dependencies, and the "did you mean" hint. See select.h.
 */
#include "select.h"
#include "strmap.h"
#include "xalloc.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

int select_match(const char *pattern, const char *id)
{
	return fnmatch(pattern, id, 0) == 0; /* no FNM_PATHNAME: '*' crosses '/' */
}

/* Mark every stage `pattern` matches in `mark`; the number newly marked is
 * added to *nr. Returns how many stages match (marked before or not). */
static size_t mark_matches(const struct plan *p, const char *pattern, char *mark, size_t *nr)
{
	size_t hits = 0;
	for (size_t i = 0; i < p->nr; i++) {
		if (!select_match(pattern, p->stages[i].id))
			continue;
		hits++;
		if (!mark[i]) {
			mark[i] = 1;
			(*nr)++;
		}
	}
	return hits;
}

/* Add what the marked stages need (deps) or feed (dependents), transitively,
 * restricted to `within` when not NULL. */
static void close_over(const struct plan *p, char *mark, size_t *nr, int downstream,
		       const char *within)
{
	size_t *stack = xmalloc((p->nr ? p->nr : 1) * sizeof(*stack));
	size_t top = 0;
	for (size_t i = 0; i < p->nr; i++)
		if (mark[i])
			stack[top++] = i;
	while (top) {
		const struct stage *s = &p->stages[stack[--top]];
		size_t n = downstream ? s->dependents_nr : s->deps_nr;
		const size_t *next = downstream ? s->dependents : s->deps;
		for (size_t k = 0; k < n; k++) {
			size_t d = next[k];
			if (mark[d] || (within && !within[d]))
				continue;
			mark[d] = 1;
			(*nr)++;
			stack[top++] = d;
		}
	}
	free(stack);
}

static int no_match(const struct plan *p, const char *what, const char *pattern,
		    struct strbuf *err)
{
	struct strbuf hint = STRBUF_INIT;
	select_suggest(p, pattern, &hint);
	strbuf_addf(err, "%s '%s' matches no stage of the study", what, pattern);
	if (hint.len)
		strbuf_addf(err, "; did you mean '%s'?", hint.buf);
	else
		strbuf_addstr(err, " ('study dag' lists the stage ids)");
	strbuf_release(&hint);
	return -1;
}

int select_stages(const struct plan *p, const struct select_spec *spec, struct selection *sel,
		  struct strbuf *err)
{
	size_t n = p->nr ? p->nr : 1;
	memset(sel, 0, sizeof(*sel));
	sel->on = xcalloc(n, 1);
	sel->forced = xcalloc(n, 1);
	sel->partial = spec->targets_nr > 0;
	for (size_t t = 0; t < spec->targets_nr; t++)
		if (!mark_matches(p, spec->targets[t], sel->on, &sel->nr)) {
			no_match(p, "target", spec->targets[t], err);
			goto fail;
		}
	for (size_t t = 0; t < spec->force_nr; t++)
		if (!mark_matches(p, spec->force[t], sel->forced, &sel->forced_nr)) {
			no_match(p, "--force", spec->force[t], err);
			goto fail;
		}
	if (sel->partial) {
		/* a forced stage is wanted: it is selected, with what it needs */
		for (size_t i = 0; i < p->nr; i++)
			if (sel->forced[i] && !sel->on[i]) {
				sel->on[i] = 1;
				sel->nr++;
			}
		close_over(p, sel->on, &sel->nr, 0, NULL);
	} else {
		memset(sel->on, 1, p->nr);
		sel->nr = p->nr;
	}
	if (spec->force_downstream)
		close_over(p, sel->forced, &sel->forced_nr, 1, sel->on);
	return 0;
fail:
	selection_release(sel);
	return -1;
}

void selection_release(struct selection *sel)
{
	free(sel->on);
	free(sel->forced);
	memset(sel, 0, sizeof(*sel));
}

/* ---- the hint ---- */

/* Optimal string alignment distance (Levenshtein plus adjacent
 * transpositions), giving up (returning limit + 1) once it exceeds limit. */
static size_t edit_distance(const char *a, const char *b, size_t limit)
{
	size_t la = strlen(a), lb = strlen(b);
	if ((la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	size_t *prev2 = xcalloc(lb + 1, sizeof(size_t));
	size_t *prev = xcalloc(lb + 1, sizeof(size_t));
	size_t *cur = xcalloc(lb + 1, sizeof(size_t));
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	size_t d = 0;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		size_t row_min = cur[0];
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = prev[j - 1] + cost;
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
			if (v < row_min)
				row_min = v;
		}
		size_t *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
		if (row_min > limit) {
			d = limit + 1;
			goto out;
		}
	}
	d = prev[lb];
out:
	free(prev2);
	free(prev);
	free(cur);
	return d;
}

struct nearest {
	const char *pattern;
	size_t limit, best;
	struct strbuf *out;
};

static void consider(struct nearest *n, const char *cand)
{
	size_t d = edit_distance(n->pattern, cand, n->limit);
	if (d <= n->limit && d < n->best) {
		n->best = d;
		strbuf_reset(n->out);
		strbuf_addstr(n->out, cand);
	}
}

void select_suggest(const struct plan *p, const char *pattern, struct strbuf *out)
{
	size_t len = strlen(pattern);
	if (!strpbrk(pattern, "*?[") && !strchr(pattern, '@')) {
		/* a stage of a study with seeds: "model/m1" for its replicates
		 * "model/m1@seed1", ... */
		struct strbuf reps = STRBUF_INIT;
		strbuf_addf(&reps, "%s@*", pattern);
		for (size_t i = 0; i < p->nr; i++)
			if (select_match(reps.buf, p->stages[i].id)) {
				strbuf_addstr(out, reps.buf);
				strbuf_release(&reps);
				return;
			}
		strbuf_release(&reps);
	}
	if (!strpbrk(pattern, "*?[")) {
		/* a group written without its star: "eval/refusal", "model/" */
		struct strbuf glob = STRBUF_INIT;
		strbuf_addstr(&glob, pattern);
		if (!len || pattern[len - 1] != '/')
			strbuf_addch(&glob, '/');
		strbuf_addch(&glob, '*');
		for (size_t i = 0; i < p->nr; i++)
			if (select_match(glob.buf, p->stages[i].id)) {
				strbuf_addstr(out, glob.buf);
				strbuf_release(&glob);
				return;
			}
		strbuf_release(&glob);
	}
	struct strbuf found = STRBUF_INIT, group = STRBUF_INIT;
	struct nearest n = { pattern, 1 + len / 5, (size_t)-1, &found };
	struct strmap seen = STRMAP_INIT;
	for (size_t i = 0; i < p->nr; i++) {
		const char *id = p->stages[i].id;
		consider(&n, id);
		for (const char *slash = strchr(id, '/'); slash; slash = strchr(slash + 1, '/')) {
			strbuf_reset(&group);
			strbuf_add(&group, id, (size_t)(slash - id) + 1);
			strbuf_addch(&group, '*');
			if (strmap_put(&seen, group.buf, &seen))
				continue; /* considered already */
			consider(&n, group.buf);
		}
	}
	strbuf_addstr(out, found.buf);
	strmap_clear(&seen, NULL);
	strbuf_release(&found);
	strbuf_release(&group);
}

char *selection_inputs(const struct plan *p, const struct selection *sel)
{
	char *wanted = xcalloc(p->externals_nr + 1, 1);
	if (!sel->partial) {
		memset(wanted, 1, p->externals_nr);
		return wanted;
	}
	for (size_t k = 0; k < p->nr; k++) {
		const struct stage *s = &p->stages[k];
		if (sel->partial && sel->on && !sel->on[k])
			continue;
		for (size_t i = 0; i < s->inputs_nr; i++)
			if (plan_node_is_external(p, s->inputs[i].stage))
				wanted[s->inputs[i].stage - p->nr] = 1;
	}
	return wanted;
}
