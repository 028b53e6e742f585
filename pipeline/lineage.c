/*
 * lineage: resolve a stage id or metric to the execution that produced it and
 * walk its inputs upstream through provenance (inputs -> producing
 * executions), as a JSON tree and as indented text (see lineage.h).
 */
#include "lineage.h"
#include "prov_query.h"
#include "strmap.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>


static int64_t producer_of(struct prov *p, const char *stage, const char *digest,
			   struct strbuf *err, int *failed)
{
	int64_t id = 0;
	if (prov_producer_id(p, stage, digest, 1, &id, err) < 0)
		*failed = 1;
	return id;
}

struct walker {
	struct prov *p;
	struct strmap seen; /* execution id (text) -> (void *)1 */
	struct strbuf *err;
	int failed;
};

static cJSON *node(struct walker *w, int64_t exec_id);

static void add_str(cJSON *o, const char *k, const char *v)
{
	prov_json_add_str(o, k, v);
}

static cJSON *node(struct walker *w, int64_t exec_id)
{
	struct prov_exec_info e;
	struct prov_run_info r;
	char key[32];
	int f = prov_get_exec(w->p, exec_id, &e, w->err);
	if (f <= 0) {
		w->failed = 1;
		if (f == 0)
			strbuf_addf(w->err, "no execution %lld recorded", (long long)exec_id);
		return NULL;
	}
	cJSON *o = cJSON_CreateObject();
	add_str(o, "stage", e.stage_id);
	cJSON_AddNumberToObject(o, "execution", (double)e.id);
	cJSON_AddNumberToObject(o, "run", (double)e.run_id);
	snprintf(key, sizeof(key), "%lld", (long long)exec_id);
	if (strmap_get(&w->seen, key)) {
		cJSON_AddBoolToObject(o, "see_above", 1);
		prov_exec_info_release(&e);
		return o;
	}
	strmap_put(&w->seen, key, (void *)1);
	add_str(o, "status", e.status);
	add_str(o, "kind", e.kind);
	cJSON *argv = e.argv_json ? cJSON_Parse(e.argv_json) : NULL;
	if (argv)
		cJSON_AddItemToObject(o, "command", argv);
	else
		cJSON_AddNullToObject(o, "command");
	memset(&r, 0, sizeof(r));
	if (prov_get_run(w->p, e.run_id, &r, w->err) == 1) {
		add_str(o, "commit", r.git_commit);
		add_str(o, "branch", r.git_branch);
		if (r.git_dirty >= 0)
			cJSON_AddBoolToObject(o, "dirty", r.git_dirty == 1);
		else
			cJSON_AddNullToObject(o, "dirty");
		add_str(o, "study_digest", r.study_digest);
	}
	prov_run_info_release(&r);
	add_str(o, "output_digest", e.output_digest);
	add_str(o, "cache_key", e.cache_key);
	prov_json_add_time(o, "started", e.started);
	prov_json_add_time(o, "ended", e.ended);
	if (e.started > 0)
		cJSON_AddNumberToObject(o, "wall_s", e.wall_s);
	else
		cJSON_AddNullToObject(o, "wall_s");
	cJSON *ins = cJSON_AddArrayToObject(o, "inputs");
	for (size_t i = 0; i < e.inputs_nr && !w->failed; i++) {
		const struct prov_input_info *in = &e.inputs[i];
		cJSON *io = cJSON_CreateObject();
		add_str(io, "name", in->name);
		add_str(io, "stage", in->stage);
		add_str(io, "digest", in->digest);
		if (in->source) /* an external input: imported from there, not produced */
			add_str(io, "source", in->source);
		int64_t pid = in->source ? 0
					 : producer_of(w->p, in->stage, in->digest, w->err, &w->failed);
		cJSON *child = pid ? node(w, pid) : NULL;
		if (child)
			cJSON_AddItemToObject(io, "produced_by", child);
		else
			cJSON_AddNullToObject(io, "produced_by");
		cJSON_AddItemToArray(ins, io);
	}
	prov_exec_info_release(&e);
	return o;
}

static int stage_exists(struct prov *p, const char *stage, struct strbuf *err, int *failed)
{
	int found = 0;
	if (prov_stage_recorded(p, stage, &found, err) < 0)
		*failed = 1;
	return found;
}

int lineage_build(struct prov *p, const char *what, cJSON **tree, struct strbuf *err)
{
	struct walker w = { p, STRMAP_INIT, err, 0 };
	char *stage = NULL, *metric = NULL;
	int64_t id = 0;
	int ret = 0;
	*tree = NULL;

	const char *colon = strrchr(what, ':');
	if (colon && colon > what && colon[1]) {
		stage = xstrndup(what, (size_t)(colon - what));
		metric = xstrdup(colon + 1);
	} else if (stage_exists(p, what, err, &w.failed)) {
		stage = xstrdup(what);
	} else if (!w.failed) {
		/* a bare metric name recorded by exactly one stage */
		long long n = 0;
		int64_t eid = 0;
		if (prov_metric_stages(p, what, &n, &eid, err) < 0)
			w.failed = 1;
		if (n == 1 && !w.failed) {
			metric = xstrdup(what);
			struct prov_exec_info e;
			if (eid && prov_get_exec(p, eid, &e, err) == 1) {
				stage = xstrdup(e.stage_id);
				prov_exec_info_release(&e);
			}
		} else if (n > 1 && !w.failed) {
			strbuf_addf(err, "metric '%s' is recorded by %lld stages; qualify it as"
				    " STAGE-ID:%s", what, (long long)n, what);
			goto out;
		} else if (!w.failed) {
			strbuf_addf(err, "no stage or metric '%s' recorded", what);
			goto out;
		}
	}
	if (w.failed || !stage)
		goto fail;
	if (metric) {
		if (prov_metric_exec_id(p, stage, metric, &id, err) < 0)
			w.failed = 1;
		if (!id && !w.failed) {
			strbuf_addf(err, "no metric '%s' recorded for stage '%s'", metric, stage);
			goto out;
		}
	} else {
		if (prov_stage_latest_id(p, stage, &id, err) < 0)
			w.failed = 1;
		if (!id && !w.failed) {
			strbuf_addf(err, "no execution of stage '%s' recorded", stage);
			goto out;
		}
		/* a cache hit: follow the execution that produced its output */
	}
	if (w.failed)
		goto fail;
	*tree = node(&w, id);
	if (!*tree || w.failed)
		goto fail;
	if (metric) {
		struct prov_exec_info e;
		if (prov_get_exec(p, id, &e, err) == 1) {
			for (size_t i = 0; i < e.metrics_nr; i++) {
				const struct prov_metric_info *m = &e.metrics[i];
				if (strcmp(m->metric, metric))
					continue;
				cJSON *mo = cJSON_AddObjectToObject(*tree, "metric");
				add_str(mo, "name", m->metric);
				cJSON_AddNumberToObject(mo, "value", m->value);
				if (m->has_n)
					cJSON_AddNumberToObject(mo, "n", (double)m->n);
				if (m->has_ci_low)
					cJSON_AddNumberToObject(mo, "ci_low", m->ci_low);
				if (m->has_ci_high)
					cJSON_AddNumberToObject(mo, "ci_high", m->ci_high);
				break;
			}
			prov_exec_info_release(&e);
		}
	}
	ret = 1;
	goto out;
fail:
	ret = -1;
	cJSON_Delete(*tree);
	*tree = NULL;
out:
	strmap_clear(&w.seen, NULL);
	free(stage);
	free(metric);
	return ret;
}

/* ---- text ---- */

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static long long jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

static void print_node(FILE *f, const cJSON *n, int depth)
{
	int ind = depth * 4 + 4;
	fprintf(f, "%s (execution %lld, run %lld", jstr(n, "stage") ? jstr(n, "stage") : "?",
		jnum(n, "execution"), jnum(n, "run"));
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "see_above"))) {
		fprintf(f, "; see above)\n");
		return;
	}
	fprintf(f, ", %s)\n", jstr(n, "status") ? jstr(n, "status") : "?");
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(n, "command"), *a;
	fprintf(f, "%*scommand  ", ind, "");
	cJSON_ArrayForEach(a, cmd) fprintf(f, "%s%s", a == cmd->child ? "" : " ",
					   cJSON_IsString(a) ? a->valuestring : "?");
	fputc('\n', f);
	const char *commit = jstr(n, "commit");
	const cJSON *dirty = cJSON_GetObjectItemCaseSensitive(n, "dirty");
	fprintf(f, "%*scommit   %s%s", ind, "", commit ? (*commit ? commit : "(no commit)") : "-",
		cJSON_IsTrue(dirty) ? " (dirty work tree)" : "");
	if (jstr(n, "branch"))
		fprintf(f, " on %s", jstr(n, "branch"));
	fputc('\n', f);
	fprintf(f, "%*soutput   %s\n", ind, "",
		jstr(n, "output_digest") ? jstr(n, "output_digest") : "-");
	if (jstr(n, "cache_key"))
		fprintf(f, "%*scache    %s\n", ind, "", jstr(n, "cache_key"));
	const cJSON *wall = cJSON_GetObjectItemCaseSensitive(n, "wall_s");
	fprintf(f, "%*stime     %s .. %s", ind, "", jstr(n, "started") ? jstr(n, "started") : "-",
		jstr(n, "ended") ? jstr(n, "ended") : "-");
	if (cJSON_IsNumber(wall))
		fprintf(f, " (%.3fs)", wall->valuedouble);
	fputc('\n', f);
	const cJSON *ins = cJSON_GetObjectItemCaseSensitive(n, "inputs"), *in;
	cJSON_ArrayForEach(in, ins) {
		const cJSON *pb = cJSON_GetObjectItemCaseSensitive(in, "produced_by");
		fprintf(f, "%*sinput    %s = %s <- ", ind, "", jstr(in, "name") ? jstr(in, "name") : "?",
			jstr(in, "digest") ? jstr(in, "digest") : "?");
		if (cJSON_IsObject(pb))
			print_node(f, pb, depth + 1);
		else if (jstr(in, "source"))
			fprintf(f, "%s (external input, imported from %s)\n",
				jstr(in, "stage") ? jstr(in, "stage") : "?", jstr(in, "source"));
		else
			fprintf(f, "%s (no recorded execution produced it)\n",
				jstr(in, "stage") ? jstr(in, "stage") : "?");
	}
}

void lineage_print(FILE *f, const cJSON *tree)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(tree, "metric");
	if (cJSON_IsObject(m)) {
		fprintf(f, "%s:%s = %.10g", jstr(tree, "stage") ? jstr(tree, "stage") : "?",
			jstr(m, "name") ? jstr(m, "name") : "?",
			cJSON_GetObjectItemCaseSensitive(m, "value")->valuedouble);
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "n");
		const cJSON *lo = cJSON_GetObjectItemCaseSensitive(m, "ci_low");
		const cJSON *hi = cJSON_GetObjectItemCaseSensitive(m, "ci_high");
		if (cJSON_IsNumber(n))
			fprintf(f, " (n %lld)", (long long)n->valuedouble);
		if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi))
			fprintf(f, " [95%% CI %.6g .. %.6g]", lo->valuedouble, hi->valuedouble);
		fprintf(f, "\nproduced by ");
	}
	print_node(f, tree, 0);
}
