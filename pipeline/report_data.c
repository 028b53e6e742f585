/*
 * report_data: loading one run for `study report` (see report_data.h):
 * provenance rows, DAG edges, reasons, critical path, lanes, metrics, and
 * the report stage's files from the store.
 */
#include "report_data.h"
#include "natcmp.h"
#include "freshness.h"
#include "hash.h"
#include "plan.h"
#include "report_graph.h"
#include "store.h"
#include "study.h"
#include "tree.h"
#include "why.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The report stage's files worth embedding, and how much of them. */
#define FILE_MAX_BYTES (4u << 20)
#define FILES_MAX_BYTES (16u << 20)

long report_run_find(const struct report_run *rr, const char *id)
{
	void *v = strmap_get(&rr->by_id, id);
	return v ? (long)((uintptr_t)v - 1) : -1;
}

const struct prov_run_info *report_run_get_run(const struct report_run *rr, int64_t id)
{
	if (id == rr->run.id)
		return &rr->run;
	for (size_t i = 0; i < rr->runs_nr; i++)
		if (rr->runs[i].id == id)
			return &rr->runs[i];
	return NULL;
}

const struct report_file *report_run_file(const struct report_run *rr, const char *name)
{
	for (size_t i = 0; i < rr->files_nr; i++)
		if (!strcmp(rr->files[i].name, name))
			return &rr->files[i];
	return NULL;
}

int report_kind_rank(const char *kind)
{
	static const char *const kinds[] = { "data", "model", "method", "mitigation", "eval",
					     "report" };
	for (int i = 0; kind && i < 6; i++)
		if (!strcmp(kind, kinds[i]))
			return i;
	return 6;
}

static const struct report_run *order_ctx;

static int by_section(const void *pa, const void *pb)
{
	const struct prov_exec_info *a = &order_ctx->st[*(const size_t *)pa].x->e;
	const struct prov_exec_info *b = &order_ctx->st[*(const size_t *)pb].x->e;
	int ra = report_kind_rank(a->kind), rb = report_kind_rank(b->kind);
	if (ra != rb)
		return ra - rb;
	if (ra == 6) {
		int c = strcmp(a->kind ? a->kind : "", b->kind ? b->kind : "");
		if (c)
			return c;
	}
	int c = natcmp(a->stage_id, b->stage_id);
	if (!c)
		c = strcmp(a->stage_id, b->stage_id);
	return c ? c : a->id < b->id ? -1 : a->id > b->id;
}

static void add_dep(struct report_stage *s, size_t d, size_t *alloc)
{
	for (size_t k = 0; k < s->deps_nr; k++)
		if (s->deps[k] == d)
			return;
	XGROW(s->deps, *alloc, s->deps_nr + 1);
	s->deps[s->deps_nr++] = d;
}

/* Edges of the stages that recorded no inputs (skipped, not started), from
 * the study file when it is still the one the run read. */
static void plan_edges(struct report_run *rr, size_t missing)
{
	const struct prov_run_info *r = &rr->run;
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	char hex[HASH_HEX_SIZE];
	struct study st;
	struct plan p;
	if (!r->study_path || !r->study_digest) {
		rr->edges_note = xasprintf("the inputs of %zu stages that did not start are not"
					   " recorded, and the run did not record its study file",
					   missing);
		return;
	}
	if (r->study_path[0] == '/' || !r->cwd)
		strbuf_addstr(&path, r->study_path);
	else
		strbuf_addf(&path, "%s/%s", r->cwd, r->study_path);
	if (hash_file_hex(path.buf, hex, NULL, &err) < 0 || strcmp(hex, r->study_digest)) {
		rr->edges_note = xasprintf("the inputs of %zu stages that did not start are not"
					   " recorded, and '%s' is no longer the study file the run"
					   " read: their edges are not drawn",
					   missing, path.buf);
		goto out;
	}
	if (study_load(&st, path.buf, &err) < 0) {
		rr->edges_note = xasprintf("the inputs of %zu stages that did not start are not"
					   " recorded, and '%s' does not load: %s",
					   missing, path.buf, err.buf);
		goto out;
	}
	if (plan_build(&p, &st, &err) < 0) {
		rr->edges_note = xasprintf("the inputs of %zu stages that did not start are not"
					   " recorded, and '%s' does not expand: %s",
					   missing, path.buf, err.buf);
		study_release(&st);
		goto out;
	}
	for (size_t i = 0; i < p.nr; i++) {
		long si = report_run_find(rr, p.stages[i].id);
		if (si < 0)
			continue;
		struct report_stage *s = &rr->st[si];
		if (s->x->e.inputs_nr || s->deps_nr)
			continue;
		size_t alloc = 0;
		for (size_t k = 0; k < p.stages[i].deps_nr; k++) {
			long d = report_run_find(rr, p.stages[p.stages[i].deps[k]].id);
			if (d >= 0 && d != si)
				add_dep(s, (size_t)d, &alloc);
		}
		rr->edges_nr += s->deps_nr;
	}
	rr->plan_edges = 1;
	plan_release(&p);
	study_release(&st);
out:
	strbuf_release(&path);
	strbuf_release(&err);
}

static void build_edges(struct report_run *rr)
{
	size_t missing = 0;
	for (size_t i = 0; i < rr->nr; i++) {
		struct report_stage *s = &rr->st[i];
		const struct prov_exec_info *e = &s->x->e;
		size_t alloc = 0;
		if (s->superseded)
			continue; /* the stage's edges are its last row's */
		for (size_t k = 0; k < e->inputs_nr; k++) {
			long d = e->inputs[k].stage ? report_run_find(rr, e->inputs[k].stage) : -1;
			if (d >= 0 && (size_t)d != i)
				add_dep(s, (size_t)d, &alloc);
		}
		rr->edges_nr += s->deps_nr;
		if (!e->inputs_nr && e->status &&
		    (!strcmp(e->status, "skipped") || !strcmp(e->status, "not-started")))
			missing++;
	}
	if (missing)
		plan_edges(rr, missing);
}

static void explain(struct report_run *rr)
{
	struct strbuf why = STRBUF_INIT;
	for (size_t i = 0; i < rr->nr; i++) {
		const struct prov_run_stage *x = rr->st[i].x;
		const char *status = x->e.status ? x->e.status : "";
		strbuf_reset(&why);
		if (!strcmp(status, "cached")) {
			if (x->e.source_id)
				strbuf_addf(&why, "cache hit: the output of execution %lld (run %lld)",
					    (long long)x->e.source_id, (long long)x->source_run);
			else
				strbuf_addstr(&why, "cache hit (the execution that produced it is not"
						    " recorded)");
		} else if (!strcmp(status, "ran") || !strcmp(status, "failed") ||
			   !strcmp(status, "interrupted")) {
			if (!x->prev_id) {
				strbuf_addstr(&why, "ran: its first execution in this store");
			} else if (x->e.cache_record && x->prev_record &&
				   !strcmp(x->e.cache_record, x->prev_record) &&
				   why_reason_forced(x->e.reason)) {
				strbuf_addf(&why, "ran: forced (run --force); same cache key as last"
					    " time (vs execution %lld, run %lld)",
					    (long long)x->prev_id, (long long)x->prev_run);
			} else {
				/* fresh_explain appends to an empty buffer: it tells a
				 * change from none by whether it wrote anything */
				struct strbuf what = STRBUF_INIT;
				fresh_explain(x->e.cache_record, x->prev_record, x->prev_status,
					      x->prev_reason, &what);
				strbuf_addf(&why, "ran: %s", what.buf);
				strbuf_release(&what);
				strbuf_addf(&why, " (vs execution %lld, run %lld)",
					    (long long)x->prev_id, (long long)x->prev_run);
			}
		} else {
			strbuf_addstr(&why, x->e.reason ? x->e.reason : status);
		}
		rr->st[i].why = xstrdup(why.buf);
	}
	strbuf_release(&why);
}

static void timeline(struct report_run *rr)
{
	size_t n = rr->nr;
	double *start = xcalloc(n + 1, sizeof(double)), *end = xcalloc(n + 1, sizeof(double));
	size_t *idx = xcalloc(n + 1, sizeof(size_t));
	int *lane = xcalloc(n + 1, sizeof(int));
	size_t m = 0;
	rr->t0 = rr->run.started;
	rr->t1 = rr->run.ended > rr->run.started ? rr->run.ended : rr->run.started;
	for (size_t i = 0; i < n; i++) {
		const struct prov_exec_info *e = &rr->st[i].x->e;
		rr->st[i].lane = -1;
		if (e->started <= 0)
			continue;
		idx[m] = i;
		start[m] = e->started;
		end[m] = e->ended > e->started ? e->ended : e->started;
		if (rr->t0 <= 0 || start[m] < rr->t0)
			rr->t0 = start[m];
		if (end[m] > rr->t1)
			rr->t1 = end[m];
		m++;
	}
	rr->lanes = rgraph_lanes(m, start, end, lane);
	for (size_t k = 0; k < m; k++)
		rr->st[idx[k]].lane = lane[k];
	free(start);
	free(end);
	free(idx);
	free(lane);
}

static void critical_path(struct report_run *rr)
{
	size_t n = rr->nr;
	size_t *off = xcalloc(n + 1, sizeof(size_t));
	size_t *deps = xcalloc(rr->edges_nr + 1, sizeof(size_t));
	double *w = xcalloc(n + 1, sizeof(double));
	unsigned char *on = xcalloc(n + 1, 1);
	rr->crit = xcalloc(n + 1, sizeof(size_t));
	for (size_t i = 0, k = 0; i < n; i++) {
		const struct prov_exec_info *e = &rr->st[i].x->e;
		off[i] = k;
		for (size_t j = 0; j < rr->st[i].deps_nr && k < rr->edges_nr; j++)
			deps[k++] = rr->st[i].deps[j];
		off[i + 1] = k;
		w[i] = e->started > 0 && e->wall_s > 0 && !rr->st[i].superseded ? e->wall_s : 0;
	}
	struct rgraph g = { n, off, deps, w };
	rr->crit_nr = rgraph_critical_path(&g, on, rr->crit, &rr->crit_total);
	if (rr->crit_total <= 0)
		rr->crit_nr = 0; /* nothing ran: no path worth marking */
	/* cache hits at its ends spent no time in this run: not part of it */
	size_t first = 0;
	while (first < rr->crit_nr && w[rr->crit[first]] <= 0)
		first++;
	while (rr->crit_nr > first && w[rr->crit[rr->crit_nr - 1]] <= 0)
		rr->crit_nr--;
	memmove(rr->crit, rr->crit + first, (rr->crit_nr - first) * sizeof(size_t));
	rr->crit_nr -= first;
	for (size_t k = 0; k < rr->crit_nr; k++)
		rr->st[rr->crit[k]].critical = 1;
	free(off);
	free(deps);
	free(w);
	free(on);
}

static int load_runs(struct report_run *rr, struct prov *p, struct strbuf *err)
{
	size_t alloc = 0;
	for (size_t i = 0; i < rr->nr; i++) {
		int64_t ids[2] = { rr->rows[i].source_run, rr->rows[i].prev_run };
		for (int k = 0; k < 2; k++) {
			if (!ids[k] || report_run_get_run(rr, ids[k]))
				continue;
			XGROW(rr->runs, alloc, rr->runs_nr + 1);
			int f = prov_get_run(p, ids[k], &rr->runs[rr->runs_nr], err);
			if (f < 0)
				return -1;
			if (f)
				rr->runs_nr++;
		}
	}
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* report.md and the *.svg files of the report stage's output, each read
 * from its object and checked against the manifest's digest. */
static void load_files(struct report_run *rr, const char *store_dir)
{
	const struct prov_exec_info *e = NULL;
	for (size_t i = 0; i < rr->nr && rr->report_stage < 0; i++)
		if (rr->st[i].x->e.kind && !strcmp(rr->st[i].x->e.kind, "report")) {
			rr->report_stage = (long)i;
			e = &rr->st[i].x->e;
		}
	if (!e)
		return;
	if (!e->output_digest || !hash_hex_valid(e->output_digest)) {
		rr->files_note = xasprintf("stage '%s' has no output in this run (%s)", e->stage_id,
					   e->status ? e->status : "no status");
		return;
	}
	struct store st;
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT, data = STRBUF_INIT;
	struct tree t = TREE_INIT;
	size_t total = 0, alloc = 0;
	if (store_open_existing(&st, store_dir, &err) < 0) {
		rr->files_note = xasprintf("cannot read its output: %s", err.buf);
		goto out;
	}
	store_tree_manifest_path(&st, e->output_digest, &path);
	if (tree_read(path.buf, e->output_digest, &t, &err) < 0) {
		rr->files_note = xasprintf("cannot read its output: %s", err.buf);
		store_release(&st);
		goto out;
	}
	for (size_t i = 0; i < t.nr; i++) {
		const struct tree_entry *te = &t.v[i];
		char hex[HASH_HEX_SIZE];
		if (te->kind == 'd' || strchr(te->path, '/') ||
		    (strcmp(te->path, "report.md") && !ends_with(te->path, ".svg")))
			continue;
		if (te->size > FILE_MAX_BYTES || total + te->size > FILES_MAX_BYTES) {
			rr->files_note = xasprintf("'%s' and what follows it are too large to embed"
						   " (over %u MiB)", te->path,
						   te->size > FILE_MAX_BYTES ? FILE_MAX_BYTES >> 20
									    : FILES_MAX_BYTES >> 20);
			break;
		}
		strbuf_reset(&path);
		strbuf_reset(&data);
		store_object_path(&st, te->hex, &path);
		int ok = strbuf_read_file(&data, path.buf) == 0;
		if (ok) {
			hash_buf_hex(data.buf, data.len, hex);
			ok = !strcmp(hex, te->hex);
		}
		if (!ok) {
			free(rr->files_note);
			rr->files_note = xasprintf("'%s' is missing from the store or damaged (object"
						   " %.12s)", te->path, te->hex);
			continue;
		}
		XGROW(rr->files, alloc, rr->files_nr + 1);
		struct report_file *f = &rr->files[rr->files_nr++];
		f->name = xstrdup(te->path);
		f->len = data.len;
		f->data = strbuf_detach(&data, NULL);
		total += f->len;
	}
	store_release(&st);
out:
	tree_release(&t);
	strbuf_release(&err);
	strbuf_release(&path);
	strbuf_release(&data);
}

int report_run_load(struct report_run *rr, struct prov *p, const char *store_dir, int64_t run_id,
		    struct strbuf *err)
{
	memset(rr, 0, sizeof(*rr));
	rr->report_stage = -1;
	int f = prov_get_run(p, run_id, &rr->run, err);
	if (f <= 0) {
		if (!f)
			strbuf_addf(err, "no run %lld recorded", (long long)run_id);
		return -1;
	}
	if (prov_run_stages(p, run_id, &rr->rows, &rr->nr, err) < 0)
		goto fail;
	rr->st = xcalloc(rr->nr + 1, sizeof(*rr->st));
	for (size_t i = 0; i < rr->nr; i++) {
		/* rows come by id: a stage's later row (its next attempt) supersedes */
		long prev = report_run_find(rr, rr->rows[i].e.stage_id);
		rr->st[i].x = &rr->rows[i];
		rr->st[i].earlier = prev;
		if (prev >= 0)
			rr->st[prev].superseded = 1;
		strmap_put(&rr->by_id, rr->rows[i].e.stage_id, (void *)(uintptr_t)(i + 1));
	}
	rr->order = xcalloc(rr->nr + 1, sizeof(size_t));
	for (size_t i = 0; i < rr->nr; i++)
		if (!rr->st[i].superseded)
			rr->order[rr->stages_nr++] = i;
	order_ctx = rr;
	qsort(rr->order, rr->stages_nr, sizeof(size_t), by_section);
	order_ctx = NULL;
	build_edges(rr);
	explain(rr);
	timeline(rr);
	critical_path(rr);
	if (prov_results(p, run_id, &rr->metrics, &rr->metrics_nr, err) < 0 ||
	    load_runs(rr, p, err) < 0)
		goto fail;
	load_files(rr, store_dir);
	return 0;
fail:
	report_run_release(rr);
	return -1;
}

void report_run_release(struct report_run *rr)
{
	prov_run_info_release(&rr->run);
	for (size_t i = 0; i < rr->nr && rr->st; i++) {
		free(rr->st[i].deps);
		free(rr->st[i].why);
	}
	free(rr->st);
	free(rr->order);
	prov_run_stages_free(rr->rows, rr->nr);
	strmap_clear(&rr->by_id, NULL);
	free(rr->edges_note);
	free(rr->crit);
	prov_metrics_free(rr->metrics, rr->metrics_nr);
	prov_runs_free(rr->runs, rr->runs_nr);
	for (size_t i = 0; i < rr->files_nr; i++) {
		free(rr->files[i].name);
		free(rr->files[i].data);
	}
	free(rr->files);
	free(rr->files_note);
	memset(rr, 0, sizeof(*rr));
	rr->report_stage = -1;
}
