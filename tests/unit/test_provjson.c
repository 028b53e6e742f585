/*
 * test_provjson: `study export --format prov-json` documents have the shape
 * the W3C PROV-JSON schema requires (checked here by hand: top-level maps,
 * declared prefixes, required members of each relation, every referenced id
 * present in the right map, xsd:dateTime times), and cover every execution and
 * artifact of the run. (The tree manifest helpers moved to tree.c: test_tree.c.)
 */
#include "check.h"
#include "prov.h"
#include "provjson.h"
#include "strbuf.h"
#include "verify.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

static char scratch[] = "/tmp/study-test-provjson-XXXXXX";
static const char *D1 = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *D2 = "2222222222222222222222222222222222222222222222222222222222222222";
static const char *D3 = "3333333333333333333333333333333333333333333333333333333333333333";
static const char *D4 = "4444444444444444444444444444444444444444444444444444444444444444";

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
static int is_datetime(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	if (strlen(s) != sizeof(pat) - 1)
		return 0;
	for (size_t i = 0; pat[i]; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
			return 0;
	return 1;
}

/* A qualified name whose prefix is declared (or the predefined prov/xsd). */
static int qname_ok(const cJSON *prefix, const char *id)
{
	const char *colon = strchr(id, ':');
	if (!colon || colon == id || !colon[1])
		return 0;
	char pre[32];
	size_t n = (size_t)(colon - id);
	if (n >= sizeof(pre))
		return 0;
	memcpy(pre, id, n);
	pre[n] = '\0';
	return !strcmp(pre, "prov") || !strcmp(pre, "xsd") ||
	       cJSON_GetObjectItemCaseSensitive(prefix, pre) != NULL;
}

struct shape {
	int bad_top, bad_id, bad_rel, bad_ref, bad_time;
	char why[256];
};

static void fail(struct shape *s, int *counter, const char *what, const char *id)
{
	(*counter)++;
	if (!s->why[0])
		snprintf(s->why, sizeof(s->why), "%s: %s", what, id ? id : "");
}

static void check_times(struct shape *s, const cJSON *o)
{
	static const char *const keys[] = { "prov:startTime", "prov:endTime", "prov:time", NULL };
	for (size_t i = 0; keys[i]; i++) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
		if (t && (!cJSON_IsString(t) || !is_datetime(t->valuestring)))
			fail(s, &s->bad_time, "bad time", o->string);
	}
}

/* Every member of a relation map has the required ids, each present in the given map. */
static void check_relation(struct shape *s, const cJSON *doc, const char *rel,
			   const char *const *keys, const char *const *maps, const int *required)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, rel), *r;
	cJSON_ArrayForEach(r, m) {
		if (!cJSON_IsObject(r)) {
			fail(s, &s->bad_rel, "relation is not an object", r->string);
			continue;
		}
		for (size_t i = 0; keys[i]; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, keys[i]);
			if (!v) {
				if (required[i])
					fail(s, &s->bad_rel, "missing required member", keys[i]);
				continue;
			}
			if (!cJSON_IsString(v) ||
			    !cJSON_GetObjectItemCaseSensitive(
				    cJSON_GetObjectItemCaseSensitive(doc, maps[i]), v->valuestring))
				fail(s, &s->bad_ref, "dangling reference", cJSON_IsString(v) ? v->valuestring : keys[i]);
		}
		check_times(s, r);
	}
}

static void check_shape(const cJSON *doc, struct shape *s)
{
	static const char *const allowed[] = {
		"prefix", "entity", "activity", "agent", "used", "wasGeneratedBy", "wasDerivedFrom",
		"wasAssociatedWith", NULL,
	};
	memset(s, 0, sizeof(*s));
	if (!cJSON_IsObject(doc)) {
		fail(s, &s->bad_top, "document is not an object", NULL);
		return;
	}
	const cJSON *top;
	cJSON_ArrayForEach(top, doc) {
		int known = 0;
		for (size_t i = 0; allowed[i]; i++)
			known |= !strcmp(top->string, allowed[i]);
		if (!known || !cJSON_IsObject(top))
			fail(s, &s->bad_top, "unknown or non-object top-level member", top->string);
	}
	const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(doc, "prefix"), *p;
	cJSON_ArrayForEach(p, prefix)
		if (!cJSON_IsString(p))
			fail(s, &s->bad_top, "prefix is not a string", p->string);
	static const char *const nodes[] = { "entity", "activity", "agent", NULL };
	for (size_t i = 0; nodes[i]; i++) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, nodes[i]), *n;
		cJSON_ArrayForEach(n, m) {
			if (!cJSON_IsObject(n) || !qname_ok(prefix, n->string))
				fail(s, &s->bad_id, "bad node id", n->string);
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(n, "prov:type");
			if (t && !(cJSON_IsObject(t) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "$")) &&
				   qname_ok(prefix, cJSON_GetObjectItemCaseSensitive(t, "$")->valuestring)))
				fail(s, &s->bad_id, "bad prov:type", n->string);
			check_times(s, n);
		}
	}
	static const char *const used_k[] = { "prov:activity", "prov:entity", NULL };
	static const char *const used_m[] = { "activity", "entity" };
	static const int used_r[] = { 1, 0 };
	check_relation(s, doc, "used", used_k, used_m, used_r);
	static const char *const gen_k[] = { "prov:entity", "prov:activity", NULL };
	static const char *const gen_m[] = { "entity", "activity" };
	static const int gen_r[] = { 1, 0 };
	check_relation(s, doc, "wasGeneratedBy", gen_k, gen_m, gen_r);
	static const char *const der_k[] = { "prov:generatedEntity", "prov:usedEntity",
					     "prov:activity", NULL };
	static const char *const der_m[] = { "entity", "entity", "activity" };
	static const int der_r[] = { 1, 1, 0 };
	check_relation(s, doc, "wasDerivedFrom", der_k, der_m, der_r);
	static const char *const assoc_k[] = { "prov:activity", "prov:agent", NULL };
	static const char *const assoc_m[] = { "activity", "agent" };
	static const int assoc_r[] = { 1, 0 };
	check_relation(s, doc, "wasAssociatedWith", assoc_k, assoc_m, assoc_r);
}

static int count_type(const cJSON *doc, const char *map, const char *type)
{
	int n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, map)) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "prov:type");
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "$");
		n += cJSON_IsString(v) && !strcmp(v->valuestring, type);
	}
	return n;
}

static void record(struct prov *p, int64_t run, const char *stage, const char *status,
		   const char *in, const char *out, const char *metrics)
{
	struct strbuf err = STRBUF_INIT;
	struct prov_exec e = { 0 };
	struct prov_input input = { "model", "model/m1", in, NULL };
	e.run_id = run;
	e.stage_id = stage;
	e.kind = "eval";
	e.status = status;
	e.argv_json = "[\"/bin/true\"]";
	e.env_json = "{}";
	e.inputs = in ? &input : NULL;
	e.inputs_nr = in ? 1 : 0;
	e.output_digest = out;
	e.output_files = 2;
	e.output_bytes = 20;
	if (!strcmp(status, "ran")) {
		e.started = 1795425302.125;
		e.ended = 1795425303.5;
	}
	e.metrics_json = metrics;
	if (prov_record_exec(p, &e, NULL, &err) < 0)
		printf("# record: %s\n", err.buf);
	strbuf_release(&err);
}

static void test_export(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct prov *p = NULL;
	struct shape s;
	int64_t r1 = 0, r2 = 0;
	strbuf_addf(&path, "%s/provenance.db", scratch);
	CHECK(prov_open(&p, path.buf, &err) == 0, "open a database");
	struct prov_run r = { 0 };
	r.study_name = "s";
	r.study_path = "s.yaml";
	r.study_digest = D4;
	r.git_commit = "0123456789abcdef0123456789abcdef01234567";
	r.git_branch = "main";
	r.git_dirty = 0;
	r.tool_version = "0.1.0";
	r.user = "alice";
	r.host = "box";
	r.argv_json = "[]";
	r.started = 1795425302.0;
	prov_run_begin(p, &r, &r1, &err);
	record(p, r1, "data/w", "ran", NULL, D1, NULL);
	record(p, r1, "model/m1", "ran", D1, D2, NULL);
	record(p, r1, "eval/e/m1", "ran", D2, D3, "{\"acc\": 0.75, \"loss\": 1.5}");
	prov_run_end(p, r1, "ok", 1795425310.0, 3, 0, 0, 0, &err);
	prov_run_begin(p, &r, &r2, &err);
	record(p, r2, "data/w", "cached", NULL, D1, NULL);
	record(p, r2, "model/m1", "cached", D1, D2, NULL);
	record(p, r2, "eval/e/m1", "failed", D2, NULL, NULL);
	record(p, r2, "report", "skipped", NULL, NULL, NULL);
	prov_run_end(p, r2, "failed", 1795425320.0, 0, 2, 1, 1, &err);

	cJSON *doc = NULL;
	CHECK(provjson_export(p, r1, &doc, &err) == 1, "export run 1");
	check_shape(doc, &s);
	if (s.why[0])
		printf("# %s\n", s.why);
	CHECK(!s.bad_top, "PROV-JSON: top-level members are the known maps");
	CHECK(!s.bad_id, "PROV-JSON: node ids and prov:type values are declared qualified names");
	CHECK(!s.bad_rel, "PROV-JSON: relations have their required members");
	CHECK(!s.bad_ref, "PROV-JSON: every relation refers to existing nodes");
	CHECK(!s.bad_time, "PROV-JSON: times are xsd:dateTime");
	CHECK(count_type(doc, "activity", "study:StageExecution") == 3,
	      "one activity per execution of the run");
	CHECK(count_type(doc, "activity", "study:Run") == 1, "one activity for the run");
	CHECK(count_type(doc, "entity", "study:Tree") == 3, "one entity per artifact (3 trees)");
	CHECK(count_type(doc, "entity", "study:Metric") == 2, "one entity per metric");
	CHECK(count_type(doc, "entity", "study:StudyFile") == 1, "the study file is an entity");
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "agent")) == 3,
	      "agents: tool, user, commit");
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "wasAssociatedWith")) == 12,
	      "every activity is associated with the three agents");
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "used")) == 3,
	      "used: two inputs and the study file");
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "wasGeneratedBy")) == 5,
	      "wasGeneratedBy: three trees and two metrics");
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "wasDerivedFrom")) == 4,
	      "wasDerivedFrom: two tree-from-tree and two metric-from-tree");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(doc, "activity"), "study:execution/2");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(a, "prov:startTime");
	CHECK(cJSON_IsString(st) && !strcmp(st->valuestring, "2026-11-23T09:15:02.125Z"),
	      "an execution's start time with milliseconds");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(doc, "entity"), "study:metric/3/acc");
	CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(m, "prov:value")) &&
		      cJSON_GetObjectItemCaseSensitive(m, "prov:value")->valuedouble == 0.75,
	      "a metric entity carries its value");
	char *text = cJSON_Print(doc);
	cJSON *back = text ? cJSON_Parse(text) : NULL;
	CHECK(back != NULL, "the printed document parses with cJSON");
	CHECK(cJSON_Compare(doc, back, 1), "and round-trips unchanged");
	cJSON_Delete(back);
	free(text);
	cJSON_Delete(doc);

	/* a run of cache hits, a failure and a skip */
	CHECK(provjson_export(p, r2, &doc, &err) == 1, "export run 2");
	check_shape(doc, &s);
	if (s.why[0])
		printf("# %s\n", s.why);
	CHECK(!s.bad_top && !s.bad_id && !s.bad_rel && !s.bad_ref && !s.bad_time,
	      "run 2 has the PROV-JSON shape too");
	CHECK(count_type(doc, "activity", "study:StageExecution") == 4,
	      "cached, failed and skipped executions are activities too");
	a = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "activity"),
					     "study:execution/5");
	const cJSON *pb = cJSON_GetObjectItemCaseSensitive(a, "study:producedBy");
	CHECK(cJSON_IsString(pb) && !strcmp(pb->valuestring, "study:execution/2"),
	      "a cache hit names the execution that produced its output");
	CHECK(cJSON_GetObjectItemCaseSensitive(a, "prov:startTime") == NULL,
	      "a cache hit has no start time");
	cJSON_Delete(doc);

	/* the shape checker itself catches a dangling reference and a bad time */
	CHECK(provjson_export(p, r1, &doc, &err) == 1, "export run 1 again");
	cJSON *u = cJSON_GetObjectItemCaseSensitive(doc, "used")->child;
	cJSON_ReplaceItemInObject(u, "prov:entity", cJSON_CreateString("sha256:nothing"));
	check_shape(doc, &s);
	CHECK(s.bad_ref == 1, "the shape check detects a dangling reference");
	cJSON_DeleteItemFromObject(u, "prov:time");
	cJSON_AddStringToObject(u, "prov:time", "yesterday");
	cJSON_DeleteItemFromObject(cJSON_GetObjectItemCaseSensitive(doc, "wasGeneratedBy")->child,
				   "prov:entity");
	check_shape(doc, &s);
	CHECK(s.bad_time == 1 && s.bad_rel == 1, "and a bad time and a missing required member");
	cJSON_Delete(doc);

	CHECK(provjson_export(p, 99, &doc, &err) == 0 && doc == NULL, "an unknown run: 0, nothing");
	char t[40];
	provjson_time(1795425302.999, t);
	CHECK_STR(t, "2026-11-23T09:15:02.999Z", "provjson_time");
	prov_close(p);
	strbuf_release(&path);
	strbuf_release(&err);
}

int main(void)
{
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	test_export();
	struct strbuf cmd = STRBUF_INIT;
	strbuf_addf(&cmd, "rm -rf '%s'", scratch);
	if (system(cmd.buf) != 0)
		printf("# cannot remove %s\n", scratch);
	strbuf_release(&cmd);
	return check_done();
}
