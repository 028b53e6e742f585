/*
 * gc: garbage collection of the store (see gc.h): which runs are kept, what
 * they reach (mark), recording the plan in provenance, and the ordered
 * removal (sweep). docs/store.md, "Garbage collection".
 */
#include "gc.h"
#include "extinput.h"
#include "freshness.h"
#include "prov_query.h"
#include "scheduler.h"
#include "stagecmd.h"
#include "tree.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the policy -------------------------------------------------------------------- */

static int cmp_run_desc(const void *a, const void *b)
{
	const struct gc_run *x = a, *y = b;
	int c = strcmp(x->study ? x->study : "", y->study ? y->study : "");
	if (c)
		return c;
	return x->id > y->id ? -1 : x->id < y->id;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

size_t gc_pick_runs(const struct gc_run *runs, size_t nr, long keep, int64_t **kept)
{
	struct gc_run *v = xcalloc(nr ? nr : 1, sizeof(*v));
	size_t n = 0, alloc = 0;
	*kept = NULL;
	if (nr)
		memcpy(v, runs, nr * sizeof(*v));
	qsort(v, nr, sizeof(*v), cmp_run_desc); /* by study, newest first */
	for (size_t i = 0; i < nr;) {
		size_t end = i;
		while (end < nr && !strcmp(v[end].study ? v[end].study : "",
					   v[i].study ? v[i].study : ""))
			end++;
		long whole = 0; /* whole-study runs kept so far */
		int ok_kept = 0;
		for (size_t j = i; j < end; j++) {
			int ok = v[j].status && !strcmp(v[j].status, "ok");
			int whole_ok = ok && !v[j].partial;
			if (whole < keep || (whole_ok && !ok_kept)) {
				XGROW(*kept, alloc, n + 1);
				(*kept)[n++] = v[j].id;
				whole += !v[j].partial;
				ok_kept |= whole_ok;
			}
		}
		i = end;
	}
	free(v);
	if (n > 1)
		qsort(*kept, n, sizeof(**kept), cmp_id);
	return n;
}

/* ---- the roots ---------------------------------------------------------------------- */

void gc_roots_init(struct gc_roots *r)
{
	memset(r, 0, sizeof(*r));
}

void gc_roots_release(struct gc_roots *r)
{
	strmap_clear(&r->trees, NULL);
	strmap_clear(&r->objects, NULL);
	strmap_clear(&r->made_by, free);
}

struct runs_ctx {
	struct gc_roots *r;
	const int64_t *kept;
	size_t nr;
};

static void add_run_ref(const struct prov_ref *ref, void *data)
{
	struct runs_ctx *c = data;
	if (!bsearch(&ref->run, c->kept, c->nr, sizeof(*c->kept), cmp_id))
		return;
	if (ref->kind == PROV_REF_OUTPUT || ref->kind == PROV_REF_INPUT)
		strmap_put(&c->r->trees, ref->digest, (void *)1);
	else
		strmap_put(&c->r->objects, ref->digest, (void *)1);
}

int gc_roots_add_runs(struct gc_roots *r, struct prov *pv, const int64_t *kept, size_t nr,
		      struct strbuf *err)
{
	struct runs_ctx c = { r, kept, nr };
	if (!nr)
		return 0;
	return prov_scan_refs(pv, add_run_ref, &c, err);
}

int gc_roots_add_plan(struct gc_roots *r, const struct plan *p, struct store *st, struct prov *pv,
		      struct strbuf *err)
{
	/* stages, then external inputs (plan.h: node p->nr + x is input x) */
	struct stage_output *outs = xcalloc(p->nr + p->externals_nr + 1, sizeof(*outs));
	struct code_digests cd;
	struct fresh f;
	struct sched sc;
	long i;
	int ret = 0;
	/* the inputs' digests, as status finds them (read-only: stat cache,
	 * nothing imported), are part of the keys below; their copies in the
	 * store are what the study would reuse too */
	if (extinput_resolve_all(p, st, EXTINPUT_LOOK, 1, NULL, outs + p->nr, NULL, NULL, err) < 0) {
		extinput_release(outs + p->nr, p->externals_nr);
		free(outs);
		return -1;
	}
	for (size_t x = 0; x < p->externals_nr; x++)
		strmap_put(outs[p->nr + x].is_file ? &r->objects : &r->trees,
			   outs[p->nr + x].digest, (void *)1);
	code_digests_init(&cd);
	fresh_init(&f);
	sched_init(&sc, p, 1 << 30, 1);
	/* the same walk as `study status`: read-only, in dependency order */
	struct fresh_ctx fc = { p, st, pv, &cd, 0, NULL, NULL };
	while ((i = sched_next(&sc)) >= 0) {
		if (fresh_lookup(&fc, (size_t)i, outs, &f, err) < 0) {
			ret = -1;
			break;
		}
		if (f.state == FRESH_UP_TO_DATE) {
			strmap_put(&r->trees, f.tree, (void *)1);
			memcpy(outs[i].digest, f.tree, HASH_HEX_SIZE);
			outs[i].predicted = f.why.len > 0;
		} else if (f.predicted[0]) {
			memcpy(outs[i].digest, f.predicted, HASH_HEX_SIZE);
			outs[i].predicted = 1;
		}
		sched_done(&sc, (size_t)i, 1);
	}
	sched_release(&sc);
	fresh_release(&f);
	code_digests_release(&cd);
	extinput_release(outs + p->nr, p->externals_nr);
	free(outs);
	return ret;
}

/* prov_scan_exec_digests gives each execution's output first, then its logs */
struct producers_ctx {
	struct gc_roots *r;
	int64_t exec;
	int live;
};

static void add_producer_ref(const struct prov_ref *ref, void *data)
{
	struct producers_ctx *c = data;
	if (ref->kind == PROV_REF_OUTPUT) {
		c->exec = ref->exec;
		c->live = strmap_get(&c->r->trees, ref->digest) != NULL;
		if (!strmap_get(&c->r->made_by, ref->digest))
			strmap_put(&c->r->made_by, ref->digest,
				   xasprintf("%s, run %lld", ref->stage, (long long)ref->run));
		return;
	}
	if (c->live && ref->exec == c->exec)
		strmap_put(&c->r->objects, ref->digest, (void *)1);
}

int gc_roots_add_producers(struct gc_roots *r, struct prov *pv, struct strbuf *err)
{
	struct producers_ctx c = { r, 0, 0 };
	return prov_scan_exec_digests(pv, add_producer_ref, &c, err);
}

/* ---- the mark ------------------------------------------------------------------------ */

static void list_add(struct gc_list *l, const char *name, const char *tree, uint64_t bytes)
{
	XGROW(l->v, l->alloc, l->nr + 1);
	struct gc_item *it = &l->v[l->nr++];
	memset(it, 0, sizeof(*it));
	memcpy(it->name, name, HASH_HEX_SIZE - 1);
	if (tree)
		memcpy(it->tree, tree, HASH_HEX_SIZE - 1);
	it->bytes = bytes;
	l->bytes += bytes;
}

static void list_release(struct gc_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void gc_plan_release(struct gc_plan *p)
{
	list_release(&p->trees);
	list_release(&p->objects);
	list_release(&p->cache);
	list_release(&p->outdirs);
	list_release(&p->stats);
}

uint64_t gc_plan_bytes(const struct gc_plan *p)
{
	return p->trees.bytes + p->objects.bytes + p->stats.bytes + p->temp_bytes;
}

static uint64_t file_size(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
}

struct mark_ctx {
	const struct store *st;
	struct strmap *trees;   /* kept trees */
	struct strmap *objects; /* kept objects */
	struct gc_plan *plan;
};

static void mark_tree(void *ctx, const char *name, const char *path, int named_ok)
{
	struct mark_ctx *m = ctx;
	if (!named_ok)
		return;
	if (strmap_get(m->trees, name))
		m->plan->kept_trees++;
	else
		list_add(&m->plan->trees, name, NULL, file_size(path));
}

static void mark_object(void *ctx, const char *name, const char *path, int named_ok)
{
	struct mark_ctx *m = ctx;
	if (!named_ok)
		return;
	if (strmap_get(m->objects, name))
		m->plan->kept_objects++;
	else
		list_add(&m->plan->objects, name, NULL, file_size(path));
}

static void mark_cache(void *ctx, const char *name, const char *path, int named_ok)
{
	struct mark_ctx *m = ctx;
	char tree[HASH_HEX_SIZE];
	(void)path;
	if (!named_ok)
		return;
	if (store_cache_get(m->st, name, tree) != 1) {
		list_add(&m->plan->cache, name, NULL, 0); /* malformed: reads as a miss */
		return;
	}
	if (strmap_get(m->trees, tree))
		m->plan->kept_cache++;
	else
		list_add(&m->plan->cache, name, tree, 0);
}

static void mark_outdir(void *ctx, const char *name, const char *path, int named_ok)
{
	struct mark_ctx *m = ctx;
	(void)path;
	if (named_ok && !strmap_get(m->trees, name))
		list_add(&m->plan->outdirs, name, NULL, 0);
}

static void mark_stat(void *ctx, const char *name, const char *path, int named_ok)
{
	struct mark_ctx *m = ctx;
	if (named_ok && !strmap_get(m->trees, name))
		list_add(&m->plan->stats, name, NULL, file_size(path));
}

/* The objects the kept trees list, added to `objects`, and the object of a
 * kept digest that names no tree (an external input that is one file). */
static int kept_tree_objects(const struct store *st, const struct strmap *trees,
			     struct strmap *objects, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, why = STRBUF_INIT;
	int ret = 0;
	for (size_t i = 0; i < trees->cap && !ret; i++) {
		const char *hex = trees->slots[i].key;
		struct tree t = TREE_INIT;
		if (!hex)
			continue;
		strbuf_reset(&path);
		strbuf_reset(&why);
		store_tree_manifest_path(st, hex, &path);
		if (tree_read(path.buf, hex, &t, &why) < 0) {
			/* no manifest: a file that was an external input is recorded by
			 * its object's name (extinput.h); keep that object */
			if (errno == ENOENT)
				strmap_put(objects, hex, (void *)1);
			else {
				strbuf_addf(err, "kept tree '%s' cannot be read (%s); run 'study"
						 " verify' (nothing was removed)",
					    hex, why.buf);
				ret = -1;
			}
		} else {
			for (size_t k = 0; k < t.nr; k++)
				if (t.v[k].kind != 'd')
					strmap_put(objects, t.v[k].hex, (void *)1);
		}
		tree_release(&t);
	}
	strbuf_release(&path);
	strbuf_release(&why);
	return ret;
}

int gc_mark(const struct store *st, const struct gc_roots *roots, struct gc_plan *plan,
	    struct strbuf *err)
{
	struct strmap objects = STRMAP_INIT;
	int ret = -1;
	memset(plan, 0, sizeof(*plan));
	for (size_t i = 0; i < roots->objects.cap; i++)
		if (roots->objects.slots[i].key)
			strmap_put(&objects, roots->objects.slots[i].key, (void *)1);
	if (kept_tree_objects(st, &roots->trees, &objects, err) < 0)
		goto out;
	struct mark_ctx m = { st, (struct strmap *)&roots->trees, &objects, plan };
	if (store_for_each_cache_entry(st, mark_cache, &m, err) < 0 ||
	    store_for_each_outdir(st, mark_outdir, &m, err) < 0 ||
	    store_for_each_stat(st, mark_stat, &m, err) < 0 ||
	    store_for_each_tree(st, mark_tree, &m, err) < 0 ||
	    store_for_each_object(st, mark_object, &m, err) < 0)
		goto out;
	ret = 0;
out:
	strmap_clear(&objects, NULL);
	if (ret < 0)
		gc_plan_release(plan);
	return ret;
}

/* ---- temporaries ----------------------------------------------------------------------- */

static uint64_t tree_bytes(const char *path, int depth)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return 0;
	if (S_ISREG(sb.st_mode))
		return (uint64_t)sb.st_size;
	if (!S_ISDIR(sb.st_mode) || depth > 64)
		return 0;
	uint64_t total = 0;
	DIR *d = opendir(path);
	struct dirent *de;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *p = xasprintf("%s/%s", path, de->d_name);
		total += tree_bytes(p, depth + 1);
		free(p);
	}
	closedir(d);
	return total;
}

void gc_count_temporaries(const struct store *st, struct gc_plan *plan)
{
	static const char *const dirs[] = { "tmp", "work" };
	plan->temporaries = 0;
	plan->temp_bytes = 0;
	for (size_t i = 0; i < 2; i++) {
		char *dir = xasprintf("%s/%s", st->root, dirs[i]);
		DIR *d = opendir(dir);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char *p = xasprintf("%s/%s", dir, de->d_name);
			plan->temporaries++;
			plan->temp_bytes += tree_bytes(p, 0);
			free(p);
		}
		if (d)
			closedir(d);
		free(dir);
	}
}

/* ---- record, then sweep ---------------------------------------------------------------- */

int gc_record(struct prov *pv, const struct gc_plan *plan, struct prov_gc *g, int64_t *gc_id,
	      struct strbuf *err)
{
	size_t n = plan->trees.nr + plan->objects.nr, k = 0;
	struct prov_gc_item *items = xcalloc(n ? n : 1, sizeof(*items));
	for (size_t i = 0; i < plan->trees.nr; i++, k++)
		items[k] = (struct prov_gc_item){ "tree", plan->trees.v[i].name,
						  plan->trees.v[i].bytes };
	for (size_t i = 0; i < plan->objects.nr; i++, k++)
		items[k] = (struct prov_gc_item){ "object", plan->objects.v[i].name,
						  plan->objects.v[i].bytes };
	g->trees = (long long)plan->trees.nr;
	g->objects = (long long)plan->objects.nr;
	g->cache_entries = (long long)plan->cache.nr;
	g->bytes = (long long)gc_plan_bytes(plan);
	int ret = -1;
	if (prov_begin(pv, err) < 0)
		goto out;
	if (prov_gc_begin(pv, g, gc_id, err) < 0 || prov_gc_record(pv, *gc_id, items, n, err) < 0) {
		prov_rollback(pv);
		goto out;
	}
	ret = prov_commit(pv, err);
out:
	free(items);
	return ret;
}

int gc_sweep(struct store *st, const struct gc_plan *plan, struct gc_done *done,
	     struct strbuf *err)
{
	memset(done, 0, sizeof(*done));
	/* 1. no cache entry may name a tree that is going */
	for (size_t i = 0; i < plan->cache.nr; i++, done->cache++)
		if (store_remove_cache_entry(st, plan->cache.v[i].name, err) < 0)
			return -1;
	/* 2. materialised trees (each moved out whole), and their stat records */
	for (size_t i = 0; i < plan->outdirs.nr; i++, done->outdirs++)
		if (store_remove_outdir(st, plan->outdirs.v[i].name, err) < 0)
			return -1;
	for (size_t i = 0; i < plan->stats.nr; i++, done->stats++) {
		if (store_remove_stat(st, plan->stats.v[i].name, err) < 0)
			return -1;
		done->bytes += plan->stats.v[i].bytes;
	}
	/* 3. manifests: no out/<hex>/ is left without its own */
	for (size_t i = 0; i < plan->trees.nr; i++, done->trees++) {
		if (store_remove_tree(st, plan->trees.v[i].name, err) < 0)
			return -1;
		done->bytes += plan->trees.v[i].bytes;
	}
	/* 4. objects: no manifest left lists them */
	for (size_t i = 0; i < plan->objects.nr; i++, done->objects++) {
		if (store_remove_object(st, plan->objects.v[i].name, err) < 0)
			return -1;
		done->bytes += plan->objects.v[i].bytes;
	}
	return 0;
}
