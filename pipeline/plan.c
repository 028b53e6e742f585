/*
 * plan: expands a study into its stage DAG (ids, variants, inputs, edges).
 * See plan.h for the order and the rules.
 */
#include "plan.h"
#include "strmap.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

struct builder {
	struct plan *p;
	size_t alloc;
};

const char *stage_kind_name(enum stage_kind k)
{
	switch (k) {
	case SK_DATA: return "data";
	case SK_MODEL: return "model";
	case SK_METHOD: return "method";
	case SK_MITIGATION: return "mitigation";
	case SK_EVAL: return "eval";
	case SK_REPORT: return "report";
	}
	return "?";
}

static size_t add_stage(struct builder *b, enum stage_kind kind, const struct entry *e, char *id)
{
	XGROW(b->p->stages, b->alloc, b->p->nr + 1);
	struct stage *s = &b->p->stages[b->p->nr];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->kind = kind;
	s->entry = e;
	s->seed = b->p->study->seed;
	s->seed_index = -1;
	s->model_input = s->base_input = -1;
	return b->p->nr++;
}

/* The data stage named `name` that a stage of seed index k (-1: not
 * replicated) takes: the same seed's copy, or the one stage of data that runs
 * once (the loader rejects an entry that runs once using replicated data).
 * Data stages come first in the plan. */
static long data_stage(const struct plan *p, const char *name, long k)
{
	for (size_t d = 0; d < p->nr && p->stages[d].kind == SK_DATA; d++)
		if (!strcmp(p->stages[d].entry->name, name) &&
		    (p->stages[d].seed_index < 0 || p->stages[d].seed_index == k))
			return (long)d;
	return -1;
}

/* Append an input; `known_new` skips the duplicate-producer scan when the
 * caller knows the producer is not yet a dependency (the report's many evals). */
static void add_input(struct stage *s, char *name, size_t producer, int known_new)
{
	s->inputs = xrealloc(s->inputs, (s->inputs_nr + 1) * sizeof(*s->inputs));
	s->inputs[s->inputs_nr].name = name;
	s->inputs[s->inputs_nr].stage = producer;
	s->inputs_nr++;
	if (!known_new)
		for (size_t i = 0; i < s->deps_nr; i++)
			if (s->deps[i] == producer)
				return;
	s->deps = xrealloc(s->deps, (s->deps_nr + 1) * sizeof(*s->deps));
	s->deps[s->deps_nr++] = producer;
}

/* External input x, numbered EXTERNAL_BASE + x until every stage exists
 * (plan_build then moves it to p->nr + x). It is not a dependency. */
#define EXTERNAL_BASE ((size_t)1 << (sizeof(size_t) * 8 - 2))

static void add_external(struct stage *s, char *name, size_t x)
{
	s->inputs = xrealloc(s->inputs, (s->inputs_nr + 1) * sizeof(*s->inputs));
	s->inputs[s->inputs_nr].name = name;
	s->inputs[s->inputs_nr].stage = EXTERNAL_BASE + x;
	s->inputs_nr++;
}

static int has_input(const struct stage *s, const char *name)
{
	for (size_t i = 0; i < s->inputs_nr; i++)
		if (!strcmp(s->inputs[i].name, name))
			return 1;
	return 0;
}

/* Bind the inputs that one argv element references (see bind_inputs). */
static void bind_targ(struct plan *p, struct stage *s, const struct targ *t, long model_stage,
		      long base_stage, const size_t *evals, size_t evals_nr)
{
	for (size_t k = 0; k < t->nr; k++) {
		const struct tpart *part = &t->parts[k];
		switch (part->kind) {
		case TV_MODEL:
			if (model_stage >= 0 && !has_input(s, "model")) {
				add_input(s, xstrdup("model"), (size_t)model_stage, 0);
				s->model_input = model_stage;
			}
			break;
		case TV_MODEL_BASE:
			if (base_stage >= 0 && !has_input(s, "model.base")) {
				add_input(s, xstrdup("model.base"), (size_t)base_stage, 0);
				s->base_input = base_stage;
			}
			break;
		case TV_DATA: {
			char *name = xasprintf("data.%s", part->text);
			if (has_input(s, name)) {
				free(name);
				break;
			}
			long d = data_stage(p, part->text, s->seed_index);
			if (d >= 0) {
				add_input(s, name, (size_t)d, 0);
				name = NULL;
			}
			free(name);
			break;
		}
		case TV_INPUT: {
			char *name = xasprintf("inputs.%s", part->text);
			if (has_input(s, name)) {
				free(name);
				break;
			}
			for (size_t x = 0; x < p->study->inputs_nr; x++)
				if (!strcmp(p->study->inputs[x].name, part->text)) {
					/* not a dependency: renumbered to p->nr + x at the end */
					add_external(s, name, x);
					name = NULL;
					break;
				}
			free(name);
			break;
		}
		case TV_EVALUATIONS:
			if (has_input(s, "evaluations[0]"))
				break;
			/* only the report sees ${evaluations}; evals are not data */
			for (size_t i = 0; i < evals_nr; i++)
				add_input(s, xasprintf("evaluations[%zu]", i), evals[i], 1);
			break;
		default:
			break;
		}
	}
}

/*
 * Bind the inputs a stage's run template references, in first-reference
 * order (every step's, in step order). `model_stage` / `base_stage` are -1
 * where the section has no such input (the loader already rejected
 * references to them there).
 */
static void bind_inputs(struct plan *p, size_t si, long model_stage, long base_stage,
			const size_t *evals, size_t evals_nr)
{
	struct stage *s = &p->stages[si];
	const struct entry *e = s->entry;
	for (size_t n = 0; n < e->steps_nr; n++)
		for (size_t a = 0; a < e->steps[n].nr; a++)
			bind_targ(p, s, &e->steps[n].argv[a], model_stage, base_stage, evals,
				  evals_nr);
}

struct variant {
	size_t *stage;        /* per seed index: the stage producing the variant's model */
	const char *method, *mitigation;
	char *name;
};

struct copies {
	enum stage_kind kind;
	const struct entry *e;
	const char *model, *method, *mitigation, *evaluation, *variant;
	const size_t *model_in, *base_in; /* per seed index, or NULL */
};

/*
 * The stages of entry c->e in one place of the DAG: one per seed when the
 * entry replicates, else one (then out[k] is that stage for every k). Their
 * ${model} and ${model.base} are the same seed's model_in[k] and base_in[k].
 */
static void add_copies(struct builder *b, const struct copies *c, char *id, size_t *out)
{
	const struct study *st = b->p->study;
	int rep = st->seeds_nr && !c->e->once;
	size_t n = rep ? st->seeds_nr : 1, K = st->seeds_nr ? st->seeds_nr : 1;

	for (size_t k = 0; k < n; k++) {
		size_t si = add_stage(b, c->kind, c->e,
				      rep ? xasprintf("%s@seed%s", id, st->seeds[k]) : xstrdup(id));
		struct stage *s = &b->p->stages[si];
		if (rep) {
			s->seed = st->seeds[k];
			s->seed_index = (long)k;
		}
		s->model = c->model;
		s->method = c->method;
		s->mitigation = c->mitigation;
		s->evaluation = c->evaluation;
		s->variant = c->variant ? xstrdup(c->variant) : NULL;
		bind_inputs(b->p, si, c->model_in ? (long)c->model_in[k] : -1,
			    c->base_in ? (long)c->base_in[k] : -1, NULL, 0);
		out[k] = si;
	}
	for (size_t k = n; k < K; k++)
		out[k] = out[0];
	free(id);
}

/* Two stages with one id would share provenance and output paths. The
 * loader's name rules ([a-z0-9_-] names, unique per section, no method
 * named "base", no method twice in an `after`) make that impossible for a
 * study it accepted; checked anyway, since those rules live elsewhere. */
static int check_unique_ids(const struct plan *p, struct strbuf *err)
{
	struct strmap ids = STRMAP_INIT;
	int ret = 0;
	for (size_t i = 0; i < p->nr && !ret; i++)
		if (strmap_put(&ids, p->stages[i].id, (void *)1)) {
			strbuf_addf(err, "stage id '%s' is produced twice", p->stages[i].id);
			ret = -1;
		}
	strmap_clear(&ids, NULL);
	return ret;
}

int plan_build(struct plan *p, const struct study *st, struct strbuf *err)
{
	memset(p, 0, sizeof(*p));
	p->study = st;
	struct builder b = { p, 0 };
	size_t *evals = NULL, evals_nr = 0, evals_alloc = 0;
	size_t K = st->seeds_nr ? st->seeds_nr : 1; /* seed indices */
	size_t *scratch = xcalloc(K, sizeof(*scratch));

	for (size_t d = 0; d < st->data_nr; d++) {
		struct copies c = { .kind = SK_DATA, .e = &st->data[d] };
		add_copies(&b, &c, xasprintf("data/%s", st->data[d].name), scratch);
	}

	size_t nvariants = 1 + st->methods_nr;
	for (size_t y = 0; y < st->mitigations_nr; y++)
		nvariants += st->mitigations[y].after_nr;
	struct variant *vars = xcalloc(nvariants, sizeof(*vars));
	size_t *vstage = xcalloc(nvariants * K, sizeof(*vstage));
	for (size_t v = 0; v < nvariants; v++)
		vars[v].stage = vstage + v * K;

	for (size_t m = 0; m < st->models_nr; m++) {
		const struct entry *me = &st->models[m];
		size_t nv = 0;
		struct copies c = { .kind = SK_MODEL, .e = me, .model = me->name, .variant = "base" };
		add_copies(&b, &c, xasprintf("model/%s", me->name), vars[nv].stage);
		const size_t *ms = vars[nv].stage;
		vars[nv].method = vars[nv].mitigation = NULL;
		vars[nv++].name = xstrdup("base");

		for (size_t x = 0; x < st->methods_nr; x++) {
			const struct entry *xe = &st->methods[x];
			c = (struct copies){ .kind = SK_METHOD, .e = xe, .model = me->name,
					     .method = xe->name, .variant = xe->name,
					     .model_in = ms, .base_in = ms };
			add_copies(&b, &c, xasprintf("method/%s/%s", xe->name, me->name),
				   vars[nv].stage);
			vars[nv].method = xe->name;
			vars[nv].mitigation = NULL;
			vars[nv++].name = xstrdup(xe->name);
		}
		for (size_t y = 0; y < st->mitigations_nr; y++) {
			const struct entry *ye = &st->mitigations[y];
			for (size_t a = 0; a < ye->after_nr; a++) {
				const char *method = ye->after[a].s;
				const size_t *method_stage = NULL;
				const char *method_name = NULL;
				for (size_t v = 0; v < nv; v++)
					if (vars[v].method && !vars[v].mitigation &&
					    !strcmp(vars[v].method, method)) {
						method_stage = vars[v].stage;
						method_name = vars[v].method;
					}
				if (!method_stage)
					continue; /* the loader validated `after`; unreachable */
				char *variant = xasprintf("%s+%s", method_name, ye->name);
				c = (struct copies){ .kind = SK_MITIGATION, .e = ye, .model = me->name,
						     .method = method_name, .mitigation = ye->name,
						     .variant = variant, .model_in = method_stage,
						     .base_in = ms };
				add_copies(&b, &c,
					   xasprintf("mitigation/%s/%s/%s", ye->name, method_name,
						     me->name),
					   vars[nv].stage);
				vars[nv].method = method_name;
				vars[nv].mitigation = ye->name;
				vars[nv++].name = variant;
			}
		}
		for (size_t e = 0; e < st->evaluations_nr; e++) {
			const struct entry *ee = &st->evaluations[e];
			for (size_t v = 0; v < nv; v++) {
				c = (struct copies){ .kind = SK_EVAL, .e = ee, .model = me->name,
						     .method = vars[v].method,
						     .mitigation = vars[v].mitigation,
						     .evaluation = ee->name, .variant = vars[v].name,
						     .model_in = vars[v].stage, .base_in = ms };
				size_t first = p->nr;
				add_copies(&b, &c,
					   xasprintf("eval/%s/%s/%s", ee->name, me->name,
						     vars[v].name),
					   scratch);
				for (size_t si = first; si < p->nr; si++) {
					XGROW(evals, evals_alloc, evals_nr + 1);
					evals[evals_nr++] = si;
				}
			}
		}
		for (size_t v = 0; v < nv; v++)
			free(vars[v].name);
	}
	free(vars);
	free(vstage);
	free(scratch);

	if (st->report) {
		size_t si = add_stage(&b, SK_REPORT, st->report, xstrdup("report"));
		bind_inputs(p, si, -1, -1, evals, evals_nr);
	}
	free(evals);

	p->externals = xcalloc(st->inputs_nr + 1, sizeof(*p->externals));
	for (size_t x = 0; x < st->inputs_nr; x++) {
		p->externals[x].id = xasprintf("input/%s", st->inputs[x].name);
		p->externals[x].input = &st->inputs[x];
	}
	p->externals_nr = st->inputs_nr;
	for (size_t i = 0; i < p->nr; i++) {
		struct stage *s = &p->stages[i];
		for (size_t k = 0; k < s->inputs_nr; k++)
			if (s->inputs[k].stage >= EXTERNAL_BASE)
				s->inputs[k].stage = p->nr + (s->inputs[k].stage - EXTERNAL_BASE);
		for (size_t d = 0; d < s->deps_nr; d++) {
			struct stage *up = &p->stages[s->deps[d]];
			XGROW(up->dependents, up->dependents_alloc, up->dependents_nr + 1);
			up->dependents[up->dependents_nr++] = i;
		}
	}
	if (check_unique_ids(p, err) < 0) {
		plan_release(p);
		return -1;
	}
	return 0;
}

void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->nr; i++) {
		struct stage *s = &p->stages[i];
		free(s->id);
		free(s->variant);
		for (size_t k = 0; k < s->inputs_nr; k++)
			free(s->inputs[k].name);
		free(s->inputs);
		free(s->deps);
		free(s->dependents);
	}
	free(p->stages);
	for (size_t x = 0; x < p->externals_nr; x++)
		free(p->externals[x].id);
	free(p->externals);
	memset(p, 0, sizeof(*p));
}

const char *plan_node_id(const struct plan *p, size_t node)
{
	if (node < p->nr)
		return p->stages[node].id;
	if (node - p->nr < p->externals_nr)
		return p->externals[node - p->nr].id;
	return "?";
}

int plan_node_is_external(const struct plan *p, size_t node) { return node >= p->nr; }

long plan_find(const struct plan *p, const char *id)
{
	for (size_t i = 0; i < p->nr; i++)
		if (!strcmp(p->stages[i].id, id))
			return (long)i;
	return -1;
}

long plan_data_input(const struct stage *s, const char *name)
{
	for (size_t i = 0; i < s->inputs_nr; i++)
		if (!strncmp(s->inputs[i].name, "data.", 5) && !strcmp(s->inputs[i].name + 5, name))
			return (long)s->inputs[i].stage;
	return -1;
}

void plan_evaluation_seeds(const struct plan *p, const struct stage *s, struct strbuf *out)
{
	int first = 1;
	for (size_t i = 0; i < s->inputs_nr; i++) {
		if (strncmp(s->inputs[i].name, "evaluations[", 12))
			continue;
		const struct stage *ev = &p->stages[s->inputs[i].stage];
		if (!first)
			strbuf_addch(out, ',');
		first = 0;
		if (ev->seed_index >= 0)
			strbuf_addstr(out, ev->seed);
	}
}
