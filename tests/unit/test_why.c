/*
 * test_why: the pieces behind `study why` and `results --compare`: the
 * canonical-object iterator (canon.h), the one cache-record comparison
 * (record_diff, freshness.h) on every shape of change, and the provenance
 * lookups they use (prov_query.h): the latest and previous execution of a
 * stage whatever its status, the run that produced an input, and run
 * references (latest, latest~N).
 */
#include "canon.h"
#include "check.h"
#include "freshness.h"
#include "prov.h"
#include "prov_query.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch[] = "/tmp/study-test-why-XXXXXX";

/* ---- canon_iter ---- */

static void iter_text(const char *text, struct strbuf *out)
{
	struct canon_iter it;
	const char *k, *v;
	size_t kl, vl;
	int rc;
	strbuf_reset(out);
	if (canon_iter_start(&it, text, strlen(text)) < 0) {
		strbuf_addstr(out, "(not a container)");
		return;
	}
	while ((rc = canon_iter_next(&it, &k, &kl, &v, &vl)) == 1) {
		if (k)
			strbuf_addf(out, "%.*s=", (int)kl, k);
		strbuf_addf(out, "%.*s|", (int)vl, v);
	}
	if (rc < 0)
		strbuf_addstr(out, "(malformed)");
}

static void test_iter(void)
{
	struct strbuf sb = STRBUF_INIT;
	iter_text("{\"a\":1,\"b\":{\"c\":[1,2]},\"d\":\"x,}\"}", &sb);
	CHECK_STR(sb.buf, "a=1|b={\"c\":[1,2]}|d=\"x,}\"|", "iter: object members, nested, strings");
	iter_text("[\"x\",[],{},-1.5e3]", &sb);
	CHECK_STR(sb.buf, "\"x\"|[]|{}|-1.5e3|", "iter: array elements");
	iter_text("{}", &sb);
	CHECK_STR(sb.buf, "", "iter: empty object");
	iter_text("[]", &sb);
	CHECK_STR(sb.buf, "", "iter: empty array");
	iter_text("\"s\"", &sb);
	CHECK_STR(sb.buf, "(not a container)", "iter: a string is not a container");
	iter_text("{\"a\":}", &sb);
	CHECK_STR(sb.buf, "(malformed)", "iter: a member without a value");
	iter_text("{\"a\":1,}", &sb);
	CHECK_STR(sb.buf, "(malformed)", "iter: a trailing comma");
	iter_text("{\"a\" 1}", &sb);
	CHECK_STR(sb.buf, "(malformed)", "iter: a key without a colon");
	iter_text("{\"a\":\"x}", &sb);
	CHECK_STR(sb.buf, "(malformed)", "iter: an unterminated string");
	const char *v = NULL;
	size_t n = 0;
	CHECK(canon_member("{\"argv\":[1],\"seed\":\"4\"}", "seed", &v, &n) == 0 && n == 3 &&
		      !strncmp(v, "\"4\"", 3),
	      "canon_member still finds a member");
	CHECK(canon_member("{\"argv\":[1]}", "seed", &v, &n) < 0, "canon_member: absent is -1");
	CHECK(canon_member("[1]", "seed", &v, &n) < 0, "canon_member: an array is -1");
	strbuf_release(&sb);
}

/* ---- record_diff ---- */

/* "path: before -> after" per change, "(absent)" for NULL, one a line. */
static int diff_text(const char *a, const char *b, struct strbuf *out)
{
	struct record_diff d;
	record_diff_init(&d);
	int rc = record_diff(a, b, &d);
	strbuf_reset(out);
	for (size_t i = 0; i < d.nr; i++)
		strbuf_addf(out, "%s[%s|%s]: %s -> %s\n", d.v[i].path, d.v[i].field, d.v[i].sub,
			    d.v[i].before ? d.v[i].before : "(absent)",
			    d.v[i].after ? d.v[i].after : "(absent)");
	record_diff_release(&d);
	return rc;
}

static void test_diff(void)
{
	struct strbuf sb = STRBUF_INIT;
	const char *r1 = "{\"argv\":[\"t\",\"--lr\",\"0.001\",\"--out\",\"${out}\"],"
			 "\"code\":{\"bin/t\":\"aa\"},\"env\":{},"
			 "\"inputs\":{\"data.world\":\"11\",\"model\":\"22\"},"
			 "\"params\":{\"lr\":0.001,\"opt\":{\"b\":[1,2]}},\"protocol\":1,"
			 "\"seed\":\"42\",\"stage\":\"m/x\"}";
	CHECK(diff_text(r1, r1, &sb) == 0 && !sb.len, "diff: identical records, no change");

	const char *r2 = "{\"argv\":[\"t\",\"--lr\",\"0.002\",\"--out\",\"${out}\"],"
			 "\"code\":{\"bin/t\":\"bb\"},\"env\":{\"HF\":\"1\"},"
			 "\"inputs\":{\"data.world\":\"11\",\"model\":\"33\"},"
			 "\"params\":{\"lr\":0.002,\"opt\":{\"b\":[1,3]}},\"protocol\":1,"
			 "\"seed\":\"42\",\"stage\":\"m/x\"}";
	CHECK(diff_text(r1, r2, &sb) == 0, "diff: changed records");
	CHECK_STR(sb.buf,
		  "argv[2][argv|[2]]: \"0.001\" -> \"0.002\"\n"
		  "code.bin/t[code|bin/t]: \"aa\" -> \"bb\"\n"
		  "env.HF[env|HF]: (absent) -> \"1\"\n"
		  "inputs.model[inputs|model]: \"22\" -> \"33\"\n"
		  "params.lr[params|lr]: 0.001 -> 0.002\n"
		  "params.opt.b[1][params|opt.b[1]]: 2 -> 3\n",
		  "diff: every member by path, in record order, with its field");

	/* an element inserted in the middle of argv is one change */
	diff_text("{\"argv\":[\"a\",\"b\",\"c\"]}", "{\"argv\":[\"a\",\"x\",\"b\",\"c\"]}", &sb);
	CHECK_STR(sb.buf, "argv[1][argv|[1]]: (absent) -> \"x\"\n", "diff: an insertion");
	diff_text("{\"argv\":[\"a\",\"x\",\"b\",\"c\"]}", "{\"argv\":[\"a\",\"b\",\"c\"]}", &sb);
	CHECK_STR(sb.buf, "argv[1][argv|[1]]: \"x\" -> (absent)\n", "diff: a removal");
	diff_text("{\"argv\":[\"a\",\"b\"]}", "{\"argv\":[\"a\",\"c\",\"d\"]}", &sb);
	CHECK_STR(sb.buf,
		  "argv[1][argv|[1]]: \"b\" -> \"c\"\n"
		  "argv[2][argv|[2]]: (absent) -> \"d\"\n",
		  "diff: a change and an addition at the end");

	/* numbers as written: 2^53 and 2^53 + 1 differ (a double would merge them) */
	diff_text("{\"params\":{\"n\":9007199254740992}}", "{\"params\":{\"n\":9007199254740993}}",
		  &sb);
	CHECK_STR(sb.buf, "params.n[params|n]: 9007199254740992 -> 9007199254740993\n",
		  "diff: large integers exactly");

	/* a value that changes kind, a field that appears */
	diff_text("{\"params\":{\"a\":[1]}}", "{\"params\":{\"a\":{\"x\":1}},\"steps\":[1]}", &sb);
	CHECK_STR(sb.buf,
		  "params.a[params|a]: [1] -> {\"x\":1}\n"
		  "steps[steps|]: (absent) -> [1]\n",
		  "diff: an array become an object; a new top-level field");

	/* keys whose escaped bytes sort differently from their order in the record */
	diff_text("{\"env\":{\"A\\\"B\":\"1\",\"AB\":\"2\"}}", "{\"env\":{\"A\\\"B\":\"1\",\"AB\":\"3\"}}",
		  &sb);
	CHECK_STR(sb.buf, "env.AB[env|AB]: \"2\" -> \"3\"\n", "diff: escaped keys are matched");

	CHECK(diff_text("{\"a\":1", "{\"a\":1}", &sb) < 0, "diff: a malformed record is -1");
	CHECK(diff_text("[1]", "{\"a\":1}", &sb) < 0, "diff: an array is not a record");
	CHECK(diff_text(NULL, "{}", &sb) < 0, "diff: no record is -1");
	strbuf_release(&sb);
}

/* ---- provenance lookups ---- */

static const char *D1 = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *D2 = "2222222222222222222222222222222222222222222222222222222222222222";

static int64_t new_run(struct prov *p)
{
	struct prov_run r = { 0 };
	struct strbuf err = STRBUF_INIT;
	int64_t id = 0;
	r.study_name = "s";
	r.study_path = "s.yaml";
	r.study_digest = D1;
	r.tool_version = "0.1.0";
	r.argv_json = "[]";
	r.started = 1795425302.0;
	if (prov_run_begin(p, &r, &id, &err) < 0 ||
	    prov_run_end(p, id, "ok", 1795425303.0, 0, 0, 0, 0, &err) < 0)
		printf("# new_run: %s\n", err.buf);
	strbuf_release(&err);
	return id;
}

static int64_t record(struct prov *p, int64_t run, const char *stage, const char *status,
		      const char *key, const char *out)
{
	struct prov_exec e = { 0 };
	struct strbuf err = STRBUF_INIT;
	int64_t id = 0;
	e.run_id = run;
	e.stage_id = stage;
	e.kind = "model";
	e.cache_key = key;
	e.status = status;
	e.argv_json = "[\"t\"]";
	e.env_json = "{}";
	e.cache_record = "{}";
	e.output_digest = out;
	e.exit_code = -1;
	if (prov_begin(p, &err) < 0 || prov_record_exec(p, &e, &id, &err) < 0 ||
	    prov_commit(p, &err) < 0)
		printf("# record: %s\n", err.buf);
	strbuf_release(&err);
	return id;
}

static void test_lookups(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct prov *p = NULL;
	int64_t id = -1;
	strbuf_addf(&path, "%s/why.db", scratch);
	if (prov_open(&p, path.buf, &err) < 0) {
		CHECK(0, "open why.db");
		return;
	}
	CHECK(prov_resolve_run(p, "latest", &id, &err) == 0 && id == 0, "no run yet: latest");
	CHECK_STR(err.buf, "no run recorded yet", "no run yet: the message");

	int64_t r1 = new_run(p), r2 = new_run(p), r3 = new_run(p);
	int64_t ran = record(p, r1, "model/a", "ran", D1, D1);
	record(p, r1, "model/b", "ran", D2, D2);
	int64_t failed = record(p, r2, "model/a", "failed", D2, NULL);
	record(p, r2, "model/b", "cached", D2, D2);
	int64_t skipped = record(p, r3, "model/a", "skipped", NULL, NULL);
	int64_t hit = record(p, r3, "model/b", "cached", D2, D2);

	CHECK(prov_stage_last_id(p, "model/a", &id, &err) == 0 && id == skipped,
	      "last: a skip counts");
	CHECK(prov_stage_last_id(p, "model/b", &id, &err) == 0 && id == hit,
	      "last: a cache hit counts");
	CHECK(prov_stage_last_id(p, "model/none", &id, &err) == 0 && id == 0, "last: none");
	CHECK(prov_stage_previous_id(p, "model/a", skipped, &id, &err) == 0 && id == failed,
	      "previous: a failure counts");
	CHECK(prov_stage_previous_id(p, "model/a", failed, &id, &err) == 0 && id == ran,
	      "previous: the one before");
	CHECK(prov_stage_previous_id(p, "model/a", ran, &id, &err) == 0 && id == 0,
	      "previous: none before the first");
	CHECK(prov_stage_previous_id(p, "model/b", hit, &id, &err) == 0 && id == hit - 2,
	      "previous: a cache hit counts");
	int64_t after = record(p, r3, "model/c", "ran", D1, D1);
	(void)after;
	record(p, r3, "model/a", "not-started", NULL, NULL);
	int64_t last = 0;
	prov_stage_last_id(p, "model/a", &last, &err);
	CHECK(prov_stage_previous_id(p, "model/a", last, &id, &err) == 0 && id == failed,
	      "previous: skips and stages not started are passed over");
	CHECK(prov_producer_run(p, "model/b", D2, hit, &id, &err) == 0 && id == r1,
	      "producer run: the run that ran it");
	CHECK(prov_producer_run(p, "model/a", D2, hit, &id, &err) == 0 && id == 0,
	      "producer run: none for a digest the stage never produced");

	/* run references */
	struct { const char *ref; int rc; int64_t id; const char *msg; } refs[] = {
		{ "latest", 1, r3, "" },
		{ "latest~0", 1, r3, "" },
		{ "latest~1", 1, r2, "" },
		{ "latest~2", 1, r1, "" },
		{ "latest~3", 0, 0, "no run latest~3: 3 runs recorded" },
		{ "2", 1, 2, "" },
		{ "4", 0, 0, "no run 4 recorded" },
		{ "0", 0, 0, "'0' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')" },
		{ "-1", 0, 0, "'-1' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')" },
		{ "latest~", 0, 0, "'latest~' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')" },
		{ "latest1", 0, 0, "'latest1' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')" },
		{ "latest~+1", 0, 0, "'latest~+1' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')" },
		{ "99999999999999999999", 0, 0, "'99999999999999999999' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')" },
		{ "", 0, 0, "'' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')" },
	};
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		char what[96];
		strbuf_reset(&err);
		int rc = prov_resolve_run(p, refs[i].ref, &id, &err);
		snprintf(what, sizeof(what), "run reference '%s'", refs[i].ref);
		CHECK(rc == refs[i].rc && id == refs[i].id, what);
		snprintf(what, sizeof(what), "run reference '%s': the message", refs[i].ref);
		CHECK_STR(err.buf, refs[i].msg, what);
	}
	prov_close(p);
	strbuf_release(&path);
	strbuf_release(&err);
}

int main(void)
{
	if (!mkdtemp(scratch)) {
		CHECK(0, "mkdtemp");
		return check_done();
	}
	test_iter();
	test_diff();
	test_lookups();

	struct strbuf rm = STRBUF_INIT;
	strbuf_addf(&rm, "rm -rf '%s'", scratch);
	CHECK(system(rm.buf) == 0, "remove scratch dir");
	strbuf_release(&rm);
	return check_done();
}
