/*
 * Unit tests for issue 11, kind 2: a number in params reaches the stage and
 * the cache key exactly as written (study.c's typing, canon.c's writing,
 * stagecmd.c's argv and key). The rule is in docs/study-format.md, "Params
 * typing": integers exact in decimal of any size, floats as the shortest text
 * that round-trips the double, a float a double cannot hold is a load error.
 */
#include "canon.h"
#include "check.h"
#include "plan.h"
#include "stagecmd.h"
#include "study.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int study_is_zero(const struct study *st)
{
	static const struct study zero;

	return !memcmp(st, &zero, sizeof(zero));
}

/* A one-stage study whose stage passes ${params.n}; params {n: LIT}. */
static int load_n(struct study *st, const char *lit, struct strbuf *err)
{
	char *text = xasprintf("study: t\nmodels:\n  m: {run: [prog, \"${params.n}\"], "
			       "params: {n: %s}}\n", lit);
	int rc;

	strbuf_reset(err);
	rc = study_load_buffer(st, "tests/studies/inline.yaml", text, strlen(text), err);
	free(text);
	return rc;
}

/* What the stage receives for {n: LIT}: "<argv[1]>|<STUDY_PARAMS>|<key>". */
static char *delivered(const char *lit)
{
	struct study st;
	struct plan p;
	struct strbuf err = STRBUF_INIT, params = STRBUF_INIT, rec = STRBUF_INIT;
	struct strvec argv = STRVEC_INIT;
	char key[HASH_HEX_SIZE];
	char *res;

	if (load_n(&st, lit, &err)) {
		res = xasprintf("error: %.*s", (int)strcspn(err.buf, "\n"), err.buf);
		strbuf_release(&err);
		return res;
	}
	if (plan_build(&p, &st, &err)) {
		study_release(&st);
		strbuf_release(&err);
		return xstrdup("plan failed");
	}
	stagecmd_argv(&p, 0, 0, NULL, "/out", "/bin/prog", &argv);
	stagecmd_params_json(&p.stages[0], &params);
	stagecmd_key(&p, 0, NULL, NULL, NULL, &rec, key, &err);
	res = xasprintf("%s|%s|%s", argv.nr > 1 ? argv.v[1] : "?", params.buf, key);
	strvec_clear(&argv);
	strbuf_release(&params);
	strbuf_release(&rec);
	strbuf_release(&err);
	plan_release(&p);
	study_release(&st);
	return res;
}

/* "<argv[1]>|<STUDY_PARAMS>" for {n: LIT} (the key cut off). */
static char *seen(const char *lit)
{
	char *d = delivered(lit), *bar = strrchr(d, '|');

	if (bar && strncmp(d, "error: ", 7))
		*bar = '\0';
	return d;
}

static void test_typing(void)
{
	static const struct {
		const char *lit, *arg, *json;
	} cases[] = {
		/* integers: exact, of any size, in decimal */
		{ "1000000000000000", "1000000000000000", "1000000000000000" },
		{ "9007199254740993", "9007199254740993", "9007199254740993" },
		{ "-9007199254740993", "-9007199254740993", "-9007199254740993" },
		{ "123456789012345678901234567890", "123456789012345678901234567890",
		  "123456789012345678901234567890" },
		{ "18446744073709551617", "18446744073709551617", "18446744073709551617" },
		{ "+42", "42", "42" },
		{ "007", "7", "7" },
		{ "-0", "0", "0" },
		{ "-000", "0", "0" },
		{ "0x1F", "31", "31" },
		{ "0x0", "0", "0" },
		{ "0xFFFFFFFFFFFFFFFFFFFF", "1208925819614629174706175", "1208925819614629174706175" },
		{ "0o777", "511", "511" },
		{ "0o0000", "0", "0" },
		/* floats: the shortest text that reads back as the same double */
		{ "1.0", "1", "1" },
		{ "0.1", "0.1", "0.1" },
		{ ".5", "0.5", "0.5" },
		{ "5.", "5", "5" },
		{ "2.5e-3", "0.0025", "0.0025" },
		{ "1e15", "1e+15", "1e+15" },
		{ "1E3", "1000", "1000" },
		{ "-0.0", "0", "0" },
		{ "1e-310", "1e-310", "1e-310" },
		{ "1e308", "1e+308", "1e+308" },
		{ "0e400", "0", "0" },
		{ "0.30000000000000004", "0.30000000000000004", "0.30000000000000004" },
		/* not numbers in the YAML 1.2 core schema: strings, as written */
		{ "1_000", "1_000", "\"1_000\"" },
		{ "0b101", "0b101", "\"0b101\"" },
		{ "-0x10", "-0x10", "\"-0x10\"" },
		{ "0X10", "0X10", "\"0X10\"" },
		{ ".inf", ".inf", "\".inf\"" },
		{ "\"1e400\"", "1e400", "\"1e400\"" },
		{ "'12'", "12", "\"12\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *want = xasprintf("%s|{\"n\":%s}", cases[i].arg, cases[i].json);
		char *got = seen(cases[i].lit);
		char *what = xasprintf("{n: %s} reaches the stage as %s", cases[i].lit, cases[i].arg);

		CHECK_STR(got, want, what);
		free(want);
		free(got);
		free(what);
	}
}

static void test_errors(void)
{
	static const struct {
		const char *lit, *want;
	} cases[] = {
		{ "1e400", "error: tests/studies/inline.yaml:3:47: number '1e400' is too large for "
			   "a double (at most about 1.8e308); quote it to pass it as a string" },
		{ "-1e400", "error: tests/studies/inline.yaml:3:47: number '-1e400' is too large "
			    "for a double (at most about 1.8e308); quote it to pass it as a string" },
		{ "[1, {x: 1e999}]", "error: tests/studies/inline.yaml:3:55: number '1e999' is too "
				     "large for a double (at most about 1.8e308); quote it to pass "
				     "it as a string" },
		{ "1e-400", "error: tests/studies/inline.yaml:3:47: number '1e-400' is too small "
			    "for a double and would become 0; quote it to pass it as a string" },
		{ "-0.0000001e-400", "error: tests/studies/inline.yaml:3:47: number "
				     "'-0.0000001e-400' is too small for a double and would become "
				     "0; quote it to pass it as a string" },
	};
	struct study st;
	struct strbuf err = STRBUF_INIT;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = delivered(cases[i].lit);
		char *what = xasprintf("{n: %s} is a load error at file:line:col", cases[i].lit);

		CHECK_STR(got, cases[i].want, what);
		free(got);
		free(what);
	}
	/* a long literal is cut in the message; the caret is under it */
	struct strbuf lit = STRBUF_INIT;
	strbuf_addstr(&lit, "0x");
	for (int i = 0; i < 4097; i++)
		strbuf_addch(&lit, 'f');
	CHECK(load_n(&st, lit.buf, &err) == -1 &&
		      strstr(err.buf, "3:47: integer '0xffffffffffffffffffffffffffffff...' has "
				      "more than 4096 digits after '0x'; write it in decimal\n"),
	      "a hex literal over 4096 digits is a load error");
	CHECK(study_is_zero(&st), "a rejected number leaves the struct zeroed");
	strbuf_setlen(&lit, lit.len - 1); /* 4096 digits: accepted, 2^16384 - 1 */
	char *got = seen(lit.buf);
	CHECK(got && strlen(got) > 4900 && !strncmp(got, "1189731495357231765", 19),
	      "a hex literal of 4096 digits converts exactly");
	free(got);
	strbuf_reset(&lit);
	for (int i = 0; i < 5000; i++)
		strbuf_addch(&lit, i ? '7' : '1');
	got = seen(lit.buf);
	CHECK(got && !strncmp(got, lit.buf, lit.len) && got[lit.len] == '|',
	      "a 5000-digit decimal integer reaches the stage exactly");
	free(got);
	strbuf_release(&lit);
	strbuf_release(&err);
}

static void test_keys(void)
{
	static const struct {
		const char *a, *b;
		int same;
	} pairs[] = {
		{ "9007199254740993", "9007199254740992", 0 },
		{ "1000000000000000", "1e15", 0 },
		{ "123456789012345678901234567890", "123456789012345678901234567891", 0 },
		{ "18446744073709551616", "18446744073709551617", 0 },
		{ "0.1", "0.10000000000000001", 1 }, /* the same double: the stage sees 0.1 */
		{ "1", "1.0", 1 },                   /* the stage sees 1 for both */
		{ "7", "+007", 1 },
		{ "0", "-0", 1 },
		{ "31", "0x1F", 1 },
		{ "1", "\"1\"", 0 },                 /* a number and a string */
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char *a = delivered(pairs[i].a), *b = delivered(pairs[i].b);
		char *what = xasprintf("{n: %s} and {n: %s} %s", pairs[i].a, pairs[i].b,
				       pairs[i].same ? "deliver the same text and share a key"
						     : "have different keys");
		const char *ka = strrchr(a, '|'), *kb = strrchr(b, '|');

		if (pairs[i].same)
			CHECK(!strcmp(a, b), what); /* text and key */
		else
			CHECK(ka && kb && strcmp(ka, kb) && strcmp(a, b), what);
		free(a);
		free(b);
		free(what);
	}
}

static void test_canon_raw(void)
{
	struct strbuf sb = STRBUF_INIT;
	cJSON *o = cJSON_CreateObject();

	cJSON_AddItemToObject(o, "b", cJSON_CreateRaw("9007199254740993"));
	cJSON_AddItemToObject(o, "a", cJSON_CreateNumber(9007199254740993.0));
	canon_json(o, &sb);
	CHECK_STR(sb.buf, "{\"a\":9007199254740992,\"b\":9007199254740993}",
		  "canon_json writes a raw number verbatim (a double as before)");
	strbuf_reset(&sb);
	canon_scalar_text(cJSON_GetObjectItemCaseSensitive(o, "b"), &sb);
	CHECK_STR(sb.buf, "9007199254740993", "canon_scalar_text writes a raw number verbatim");
	cJSON_Delete(o);

	/* ordinary values keep the bytes they had when numbers were doubles */
	static const char *const ordinary[] = {
		"0", "1", "-3", "2", "42", "999999999999999", "-999999999999999", "0.001",
		"1e-3", "0.5", "1.5", "3.14159", "1e20", "2.5e-7", "100.0", "1e15", "0.1",
	};
	for (size_t i = 0; i < sizeof(ordinary) / sizeof(ordinary[0]); i++) {
		struct strbuf old = STRBUF_INIT;
		char *got = seen(ordinary[i]), *want, *what;

		canon_number(strtod(ordinary[i], NULL), &old);
		want = xasprintf("%s|{\"n\":%s}", old.buf, old.buf);
		what = xasprintf("{n: %s} keeps its old canonical bytes (%s)", ordinary[i], old.buf);
		CHECK_STR(got, want, what);
		free(got);
		free(want);
		free(what);
		strbuf_release(&old);
	}

	/* canon_member: exact spans of top-level members */
	const char *rec = "{\"argv\":[\"a,b\",\"}\"],\"params\":{\"n\":9007199254740993,"
			  "\"s\":\"x\\\"}\"},\"protocol\":1,\"seed\":\"0\"}";
	const char *v;
	size_t len;
	CHECK(canon_member(rec, "params", &v, &len) == 0 &&
		      len == strlen("{\"n\":9007199254740993,\"s\":\"x\\\"}\"}") &&
		      !memcmp(v, "{\"n\":9007199254740993,", 22),
	      "canon_member finds an object member past strings with , } and escapes");
	CHECK(canon_member(rec, "argv", &v, &len) == 0 && len == 11, "canon_member: first member");
	CHECK(canon_member(rec, "seed", &v, &len) == 0 && len == 3 && !memcmp(v, "\"0\"", 3),
	      "canon_member: last member");
	CHECK(canon_member(rec, "protocol", &v, &len) == 0 && len == 1 && *v == '1',
	      "canon_member: a number member");
	CHECK(canon_member(rec, "code", &v, &len) == -1, "canon_member: absent member");
	CHECK(canon_member("{\"a\":[1,", "a", &v, &len) == -1, "canon_member: truncated text");
	CHECK(canon_member("not json", "a", &v, &len) == -1, "canon_member: not an object");
	strbuf_release(&sb);
}

int main(void)
{
	test_typing();
	test_errors();
	test_keys();
	test_canon_raw();
	return check_done();
}
