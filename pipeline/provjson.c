/*
 * provjson: build the W3C PROV-JSON document of one run from provenance
 * (entities, activities, agents and the four relations; see provjson.h).
 */
#include "provjson.h"
#include "prov_query.h"
#include "xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


void provjson_time(double t, char out[40])
{
	time_t s = (time_t)floor(t);
	int ms = (int)((t - floor(t)) * 1000.0);
	struct tm tm;
	if (ms > 999)
		ms = 999;
	gmtime_r(&s, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%.24s.%03uZ", base, (unsigned)ms % 1000u);
}

struct doc {
	cJSON *root, *entity, *activity, *agent;
	cJSON *used, *generated, *derived, *associated;
	long next_id;
};

static cJSON *qname_value(const char *q)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "$", q);
	cJSON_AddStringToObject(o, "type", "prov:QUALIFIED_NAME");
	return o;
}

static cJSON *add_node(cJSON *map, const char *id, const char *type)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(map, id);
	if (o)
		return o;
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "prov:type", qname_value(type));
	cJSON_AddItemToObject(map, id, o);
	return o;
}

static void add_time(cJSON *o, const char *key, double t)
{
	char buf[40];
	if (t <= 0)
		return;
	provjson_time(t, buf);
	cJSON_AddStringToObject(o, key, buf);
}

static cJSON *relation(struct doc *d, cJSON *map)
{
	char id[32];
	snprintf(id, sizeof(id), "_:r%ld", ++d->next_id);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(map, id, o);
	return o;
}

static void rel2(struct doc *d, cJSON *map, const char *k1, const char *v1, const char *k2,
		 const char *v2)
{
	cJSON *o = relation(d, map);
	cJSON_AddStringToObject(o, k1, v1);
	cJSON_AddStringToObject(o, k2, v2);
}

static void add_tree_entity(struct doc *d, const char *digest, const char *stage,
			    long long files, long long bytes)
{
	char id[80];
	snprintf(id, sizeof(id), "sha256:%s", digest);
	cJSON *e = cJSON_GetObjectItemCaseSensitive(d->entity, id);
	if (!e) {
		e = add_node(d->entity, id, "study:Tree");
		cJSON_AddStringToObject(e, "study:digest", digest);
	}
	if (stage && !cJSON_GetObjectItemCaseSensitive(e, "study:stage"))
		cJSON_AddStringToObject(e, "study:stage", stage);
	if (files >= 0 && !cJSON_GetObjectItemCaseSensitive(e, "study:files")) {
		cJSON_AddNumberToObject(e, "study:files", (double)files);
		cJSON_AddNumberToObject(e, "study:bytes", (double)bytes);
	}
}

static void associate(struct doc *d, const char *activity, const char *const *agents)
{
	for (size_t i = 0; agents[i]; i++)
		rel2(d, d->associated, "prov:activity", activity, "prov:agent", agents[i]);
}

/* The execution that produced a cache hit's output. 0 when not recorded. */
static int64_t producer(struct prov *p, const struct prov_exec_info *e)
{
	int64_t id = 0;
	struct strbuf ignored = STRBUF_INIT;
	if (e->output_digest && prov_producer_id(p, e->stage_id, e->output_digest, 0, &id,
						 &ignored) < 0)
		id = 0;
	strbuf_release(&ignored);
	return id;
}

static void add_exec(struct doc *d, struct prov *p, const struct prov_exec_info *e,
		     const char *const *agents)
{
	char act[64], out_id[80];
	snprintf(act, sizeof(act), "study:execution/%lld", (long long)e->id);
	cJSON *a = add_node(d->activity, act, "study:StageExecution");
	cJSON_AddStringToObject(a, "prov:label", e->stage_id);
	cJSON_AddStringToObject(a, "study:stage", e->stage_id);
	cJSON_AddStringToObject(a, "study:status", e->status);
	if (e->kind)
		cJSON_AddStringToObject(a, "study:kind", e->kind);
	if (e->cache_key)
		cJSON_AddStringToObject(a, "study:cacheKey", e->cache_key);
	if (e->argv_json)
		cJSON_AddStringToObject(a, "study:argv", e->argv_json);
	if (e->reason)
		cJSON_AddStringToObject(a, "study:reason", e->reason);
	add_time(a, "prov:startTime", e->started);
	add_time(a, "prov:endTime", e->ended);
	if (e->has_exit)
		cJSON_AddNumberToObject(a, "study:exitCode", e->exit_code);
	if (!strcmp(e->status, "cached")) {
		int64_t pid = producer(p, e);
		if (pid) {
			char pq[64];
			snprintf(pq, sizeof(pq), "study:execution/%lld", (long long)pid);
			cJSON_AddStringToObject(a, "study:producedBy", pq);
		}
	}
	associate(d, act, agents);

	for (size_t i = 0; i < e->inputs_nr; i++) {
		char in_id[80];
		snprintf(in_id, sizeof(in_id), "sha256:%s", e->inputs[i].digest);
		add_tree_entity(d, e->inputs[i].digest, e->inputs[i].stage, -1, 0);
		if (e->inputs[i].source) {
			/* an external input: where it was imported from */
			cJSON *ent = cJSON_GetObjectItemCaseSensitive(d->entity, in_id);
			if (ent && !cJSON_GetObjectItemCaseSensitive(ent, "study:source"))
				cJSON_AddStringToObject(ent, "study:source", e->inputs[i].source);
		}
		cJSON *u = relation(d, d->used);
		cJSON_AddStringToObject(u, "prov:activity", act);
		cJSON_AddStringToObject(u, "prov:entity", in_id);
		cJSON_AddStringToObject(u, "prov:role", e->inputs[i].name);
		add_time(u, "prov:time", e->started);
	}
	if (!e->output_digest)
		return;
	snprintf(out_id, sizeof(out_id), "sha256:%s", e->output_digest);
	add_tree_entity(d, e->output_digest, e->stage_id, e->output_files, e->output_bytes);
	cJSON *g = relation(d, d->generated);
	cJSON_AddStringToObject(g, "prov:entity", out_id);
	cJSON_AddStringToObject(g, "prov:activity", act);
	add_time(g, "prov:time", e->ended);
	for (size_t i = 0; i < e->inputs_nr; i++) {
		char in_id[80];
		snprintf(in_id, sizeof(in_id), "sha256:%s", e->inputs[i].digest);
		cJSON *w = relation(d, d->derived);
		cJSON_AddStringToObject(w, "prov:generatedEntity", out_id);
		cJSON_AddStringToObject(w, "prov:usedEntity", in_id);
		cJSON_AddStringToObject(w, "prov:activity", act);
	}
	for (size_t i = 0; i < e->metrics_nr; i++) {
		const struct prov_metric_info *m = &e->metrics[i];
		struct strbuf mid = STRBUF_INIT;
		strbuf_addf(&mid, "study:metric/%lld/%s", (long long)e->id, m->metric);
		cJSON *me = add_node(d->entity, mid.buf, "study:Metric");
		cJSON_AddNumberToObject(me, "prov:value", m->value);
		cJSON_AddStringToObject(me, "study:metric", m->metric);
		cJSON_AddStringToObject(me, "study:stage", m->stage_id);
		if (m->has_n)
			cJSON_AddNumberToObject(me, "study:n", (double)m->n);
		if (m->has_ci_low)
			cJSON_AddNumberToObject(me, "study:ciLow", m->ci_low);
		if (m->has_ci_high)
			cJSON_AddNumberToObject(me, "study:ciHigh", m->ci_high);
		rel2(d, d->generated, "prov:entity", mid.buf, "prov:activity", act);
		rel2(d, d->derived, "prov:generatedEntity", mid.buf, "prov:usedEntity", out_id);
		strbuf_release(&mid);
	}
}

int provjson_export(struct prov *p, int64_t run_id, cJSON **out, struct strbuf *err)
{
	struct prov_run_info r;
	struct prov_exec_info *ex = NULL;
	size_t nr = 0;
	struct doc d;
	*out = NULL;
	int found = prov_get_run(p, run_id, &r, err);
	if (found <= 0)
		return found;
	if (prov_run_execs(p, run_id, &ex, &nr, err) < 0) {
		prov_run_info_release(&r);
		return -1;
	}
	memset(&d, 0, sizeof(d));
	d.root = cJSON_CreateObject();
	cJSON *prefix = cJSON_AddObjectToObject(d.root, "prefix");
	cJSON_AddStringToObject(prefix, "study", "urn:study:");
	cJSON_AddStringToObject(prefix, "sha256", "urn:sha256:");
	d.entity = cJSON_AddObjectToObject(d.root, "entity");
	d.activity = cJSON_AddObjectToObject(d.root, "activity");
	d.agent = cJSON_AddObjectToObject(d.root, "agent");
	d.used = cJSON_AddObjectToObject(d.root, "used");
	d.generated = cJSON_AddObjectToObject(d.root, "wasGeneratedBy");
	d.derived = cJSON_AddObjectToObject(d.root, "wasDerivedFrom");
	d.associated = cJSON_AddObjectToObject(d.root, "wasAssociatedWith");

	/* agents */
	const char *agents[4] = { NULL, NULL, NULL, NULL };
	size_t na = 0;
	struct strbuf tool = STRBUF_INIT, user = STRBUF_INIT, commit = STRBUF_INIT;
	strbuf_addf(&tool, "study:tool/%s", r.tool_version && *r.tool_version ? r.tool_version
										   : "unknown");
	cJSON *ag = add_node(d.agent, tool.buf, "prov:SoftwareAgent");
	cJSON_AddStringToObject(ag, "prov:label", "study");
	cJSON_AddStringToObject(ag, "study:version", r.tool_version ? r.tool_version : "");
	agents[na++] = tool.buf;
	strbuf_addf(&user, "study:user/%s", r.user && *r.user ? r.user : "unknown");
	ag = add_node(d.agent, user.buf, "prov:Person");
	if (r.host)
		cJSON_AddStringToObject(ag, "study:host", r.host);
	agents[na++] = user.buf;
	if (r.git_commit && *r.git_commit) {
		strbuf_addf(&commit, "study:commit/%s", r.git_commit);
		ag = add_node(d.agent, commit.buf, "study:GitCommit");
		cJSON_AddStringToObject(ag, "study:commit", r.git_commit);
		if (r.git_branch)
			cJSON_AddStringToObject(ag, "study:branch", r.git_branch);
		if (r.git_dirty >= 0)
			cJSON_AddBoolToObject(ag, "study:dirty", r.git_dirty == 1);
		agents[na++] = commit.buf;
	}

	/* the run and its study file */
	char run_act[64], study_ent[80];
	snprintf(run_act, sizeof(run_act), "study:run/%lld", (long long)run_id);
	cJSON *ra = add_node(d.activity, run_act, "study:Run");
	cJSON_AddStringToObject(ra, "prov:label", r.study_name ? r.study_name : "");
	cJSON_AddStringToObject(ra, "study:status", r.status ? r.status : "");
	add_time(ra, "prov:startTime", r.started);
	add_time(ra, "prov:endTime", r.ended);
	associate(&d, run_act, agents);
	if (r.study_digest && *r.study_digest) {
		snprintf(study_ent, sizeof(study_ent), "sha256:%s", r.study_digest);
		cJSON *se = add_node(d.entity, study_ent, "study:StudyFile");
		cJSON_AddStringToObject(se, "prov:label", r.study_path ? r.study_path : "");
		cJSON_AddStringToObject(se, "study:digest", r.study_digest);
		cJSON *u = relation(&d, d.used);
		cJSON_AddStringToObject(u, "prov:activity", run_act);
		cJSON_AddStringToObject(u, "prov:entity", study_ent);
		cJSON_AddStringToObject(u, "prov:role", "study");
	}

	int ret = 1;
	for (size_t i = 0; i < nr; i++) {
		struct prov_exec_info full;
		int f = prov_get_exec(p, ex[i].id, &full, err);
		if (f < 0) {
			ret = -1;
			break;
		}
		if (f == 0)
			continue;
		add_exec(&d, p, &full, agents);
		prov_exec_info_release(&full);
	}
	strbuf_release(&tool);
	strbuf_release(&user);
	strbuf_release(&commit);
	prov_execs_free(ex, nr);
	prov_run_info_release(&r);
	if (ret < 0) {
		cJSON_Delete(d.root);
		return -1;
	}
	*out = d.root;
	return 1;
}
