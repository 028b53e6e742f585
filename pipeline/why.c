/*
 * why: why a stage's latest execution ran instead of hitting the cache,
 * built from provenance (prov_query.h) and the one cache-record comparison
 * (freshness.h, record_diff), as JSON and as text. See why.h.
 */
#include "why.h"
#include "natcmp.h"
#include "freshness.h"
#include "prov_query.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

/* ---- building ---- */

/* The execution's start, else its run's (cache hits and skips have none). */
static void exec_time(struct prov *p, const struct prov_exec_info *e, char out[32],
		      struct strbuf *err, int *failed)
{
	struct prov_run_info r;
	double t = e->started;
	if (t <= 0) {
		if (prov_get_run(p, e->run_id, &r, err) < 0)
			*failed = 1;
		else
			t = r.started;
		prov_run_info_release(&r);
	}
	prov_format_time(t, out);
}

static void add_time(cJSON *o, const char *key, const char *t)
{
	prov_json_add_str(o, key, strcmp(t, "-") ? t : NULL);
}

static cJSON *previous_json(const struct prov_exec_info *e)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "execution_id", (double)e->id);
	cJSON_AddNumberToObject(o, "run_id", (double)e->run_id);
	prov_json_add_str(o, "status", e->status);
	prov_json_add_str(o, "reason", e->reason);
	prov_json_add_str(o, "cache_key", e->cache_key);
	prov_json_add_str(o, "output_digest", e->output_digest);
	return o;
}

/* The text a value contributes to an argv element: a JSON string without
 * its quotes (still escaped, as argv elements are in the record), other
 * scalars as they are; NULL for objects, arrays and absent values. */
static char *argv_text(const char *v)
{
	size_t n = v ? strlen(v) : 0;
	if (!n || v[0] == '{' || v[0] == '[')
		return NULL;
	if (v[0] == '"')
		return n >= 2 ? xstrndup(v + 1, n - 2) : NULL;
	return xstrdup(v);
}

struct subst {
	char *from, *to;
};

/* 1 when replacing the substitutions' `from` texts by their `to` texts in
 * `before` gives `after` (left to right, the first that matches at each
 * place). */
static int accounted_for(const char *before, const char *after, const struct subst *s,
			 size_t nr)
{
	struct strbuf out = STRBUF_INIT;
	const char *p = before;
	while (*p) {
		size_t k = 0;
		while (k < nr && strncmp(p, s[k].from, strlen(s[k].from)))
			k++;
		if (k < nr) {
			strbuf_addstr(&out, s[k].to);
			p += strlen(s[k].from);
		} else {
			strbuf_addch(&out, *p++);
		}
	}
	int same = !strcmp(out.buf, after);
	strbuf_release(&out);
	return same;
}

/* Mark the argv differences that the changed params, seed and input digests
 * account for (their values as argv text, inputs as "sha256:<digest>"). */
static void mark_derived(const struct record_diff *d, char *derived)
{
	struct subst *s = NULL;
	size_t nr = 0, alloc = 0;
	for (size_t i = 0; i < d->nr; i++) {
		const struct record_change *c = &d->v[i];
		int input = !strcmp(c->field, "inputs");
		if (!input && strcmp(c->field, "params") && strcmp(c->field, "seed"))
			continue;
		char *from = argv_text(c->before), *to = argv_text(c->after);
		if (!from || !to || !*from) {
			free(from);
			free(to);
			continue;
		}
		if (input) {
			char *f = xasprintf("sha256:%s", from), *t = xasprintf("sha256:%s", to);
			free(from);
			free(to);
			from = f;
			to = t;
		}
		XGROW(s, alloc, nr + 1);
		s[nr].from = from;
		s[nr++].to = to;
	}
	for (size_t i = 0; i < d->nr; i++) {
		const struct record_change *c = &d->v[i];
		derived[i] = nr && !strcmp(c->field, "argv") && c->before && c->after &&
			     accounted_for(c->before, c->after, s, nr);
	}
	for (size_t k = 0; k < nr; k++) {
		free(s[k].from);
		free(s[k].to);
	}
	free(s);
}

/* The stage an input came from: the latest execution's record of it, else
 * the previous one's; *source: an external input's original path, from the
 * same record (NULL for a stage's output). */
static const char *input_stage(const struct prov_exec_info *a, const struct prov_exec_info *b,
			       const char *name, const char **source)
{
	*source = NULL;
	for (int k = 0; k < 2; k++) {
		const struct prov_exec_info *e = k ? b : a;
		for (size_t i = 0; e && i < e->inputs_nr; i++)
			if (!strcmp(e->inputs[i].name, name)) {
				*source = e->inputs[i].source;
				return e->inputs[i].stage;
			}
	}
	return NULL;
}

static char *unquote(const char *v)
{
	size_t n = v ? strlen(v) : 0;
	return n >= 2 && v[0] == '"' ? xstrndup(v + 1, n - 2) : NULL;
}

static int add_changes(struct prov *p, const struct prov_exec_info *e,
		       const struct prov_exec_info *prev, cJSON *o, struct strbuf *err)
{
	struct record_diff d;
	int rc = 0;
	record_diff_init(&d);
	if (record_diff(prev->cache_record, e->cache_record, &d) < 0) {
		strbuf_addf(err, "cannot compare the cache records of executions %lld and %lld:"
			    " one is not a JSON object", (long long)prev->id, (long long)e->id);
		record_diff_release(&d);
		return -1;
	}
	char *derived = xcalloc(d.nr ? d.nr : 1, 1);
	mark_derived(&d, derived);
	cJSON *arr = cJSON_AddArrayToObject(o, "changes");
	for (size_t i = 0; i < d.nr && !rc; i++) {
		const struct record_change *c = &d.v[i];
		cJSON *x = cJSON_CreateObject();
		prov_json_add_str(x, "field", c->field);
		prov_json_add_str(x, "path", c->path);
		prov_json_add_str(x, "before", c->before);
		prov_json_add_str(x, "after", c->after);
		cJSON_AddBoolToObject(x, "derived", derived[i]);
		if (!strcmp(c->field, "inputs") && *c->sub) {
			const char *source;
			const char *st = input_stage(e, prev, c->sub, &source);
			char *digest = unquote(c->after);
			int64_t run = 0;
			prov_json_add_str(x, "input", c->sub);
			prov_json_add_str(x, "input_stage", st);
			if (source)
				prov_json_add_str(x, "source", source);
			if (st && digest && !source &&
			    prov_producer_run(p, st, digest, e->id, &run, err) < 0)
				rc = -1;
			if (run)
				cJSON_AddNumberToObject(x, "producer_run", (double)run);
			else
				cJSON_AddNullToObject(x, "producer_run");
			free(digest);
		}
		cJSON_AddItemToArray(arr, x);
	}
	free(derived);
	record_diff_release(&d);
	return rc;
}

int why_reason_forced(const char *reason)
{
	for (const char *p = reason; p && *p;) {
		if (!strncmp(p, "forced", 6) && (!p[6] || p[6] == ',' || p[6] == ';'))
			return 1;
		p = strstr(p, "; ");
		if (p)
			p += 2;
	}
	return 0;
}

static const char *verdict_of(const struct prov_exec_info *e, const struct prov_exec_info *prev,
			      int has_prev)
{
	if (!strcmp(e->status, "cached"))
		return "cache-hit";
	if (!strcmp(e->status, "skipped"))
		return "skipped";
	if (!strcmp(e->status, "not-started"))
		return "not-started";
	if (!e->cache_record)
		return "no-record";
	if (!has_prev)
		return "first";
	if (!prev->cache_record)
		return "no-previous-record";
	if (strcmp(prev->cache_record, e->cache_record))
		return "changed";
	if (why_reason_forced(e->reason))
		return "forced";
	if (!strcmp(prev->status, "failed") || !strcmp(prev->status, "interrupted"))
		return "retried";
	return "cache-unusable";
}

int why_explain(struct prov *p, const char *stage, cJSON **out, struct strbuf *err)
{
	struct prov_exec_info e, prev, src;
	int64_t id = 0, prev_id = 0;
	int failed = 0, has_prev = 0;
	char t[32];
	*out = NULL;
	memset(&e, 0, sizeof(e));
	memset(&prev, 0, sizeof(prev));
	memset(&src, 0, sizeof(src));
	if (prov_stage_last_id(p, stage, &id, err) < 0)
		return -1;
	if (!id) {
		strbuf_addf(err, "no execution of stage '%s' recorded", stage);
		return 0;
	}
	if (prov_get_exec(p, id, &e, err) <= 0 ||
	    prov_stage_previous_id(p, stage, id, &prev_id, err) < 0)
		goto fail;
	if (prev_id) {
		if (prov_get_exec(p, prev_id, &prev, err) <= 0)
			goto fail;
		has_prev = 1;
	}
	if (!e.status)
		e.status = xstrdup("?");
	if (has_prev && !prev.status)
		prev.status = xstrdup("?");

	cJSON *o = cJSON_CreateObject();
	*out = o;
	prov_json_add_str(o, "stage", e.stage_id);
	cJSON_AddNumberToObject(o, "execution_id", (double)e.id);
	cJSON_AddNumberToObject(o, "run_id", (double)e.run_id);
	prov_json_add_str(o, "status", e.status);
	prov_json_add_str(o, "reason", e.reason);
	exec_time(p, &e, t, err, &failed);
	add_time(o, "time", t);
	prov_json_add_str(o, "cache_key", e.cache_key);
	const char *verdict = verdict_of(&e, &prev, has_prev);
	cJSON_AddStringToObject(o, "verdict", verdict);
	if (has_prev && strcmp(verdict, "cache-hit") && strcmp(verdict, "skipped") &&
	    strcmp(verdict, "not-started"))
		cJSON_AddItemToObject(o, "previous", previous_json(&prev));
	else
		cJSON_AddNullToObject(o, "previous");
	if (!strcmp(verdict, "changed")) {
		if (add_changes(p, &e, &prev, o, err) < 0)
			goto fail;
	} else {
		cJSON_AddArrayToObject(o, "changes");
	}
	prov_json_add_str(o, "output_digest", e.output_digest);
	if (!strcmp(verdict, "cache-hit") && e.source_id) {
		if (prov_get_exec(p, e.source_id, &src, err) <= 0)
			goto fail;
		cJSON *so = cJSON_AddObjectToObject(o, "source");
		cJSON_AddNumberToObject(so, "execution_id", (double)src.id);
		cJSON_AddNumberToObject(so, "run_id", (double)src.run_id);
		exec_time(p, &src, t, err, &failed);
		add_time(so, "time", t);
	} else {
		cJSON_AddNullToObject(o, "source");
	}
	if (failed)
		goto fail;
	prov_exec_info_release(&e);
	prov_exec_info_release(&prev);
	prov_exec_info_release(&src);
	return 1;
fail:
	if (!err->len)
		strbuf_addf(err, "cannot read provenance: execution %lld vanished", (long long)id);
	cJSON_Delete(*out);
	*out = NULL;
	prov_exec_info_release(&e);
	prov_exec_info_release(&prev);
	prov_exec_info_release(&src);
	return -1;
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

static const char *or_q(const char *s) { return s ? s : "?"; }

/* A reason without the word its status already says ("interrupted: ...",
 * "not started: ..."). */
static const char *bare_reason(const char *reason, const char *word)
{
	size_t n = strlen(word);
	if (!reason)
		return "no reason recorded";
	return !strncmp(reason, word, n) && !strncmp(reason + n, ": ", 2) ? reason + n + 2 : reason;
}

/* ", where it failed (exit status 7)" and the like, for a previous execution. */
static void how_it_ended(FILE *f, const cJSON *prev, const char *lead)
{
	const char *st = or_q(jstr(prev, "status")), *reason = jstr(prev, "reason");
	if (!strcmp(st, "failed"))
		fprintf(f, "%sfailed (%s)", lead, bare_reason(reason, "failed"));
	else if (!strcmp(st, "interrupted"))
		fprintf(f, "%swas interrupted (%s)", lead, bare_reason(reason, "interrupted"));
}

/* A digest as the other commands shorten it. */
static void short_digest(FILE *f, const char *canon_text)
{
	if (!canon_text) {
		fputs("(absent)", f);
		return;
	}
	size_t n = strlen(canon_text);
	if (n == 66 && canon_text[0] == '"')
		fprintf(f, "sha256:%.12s", canon_text + 1);
	else
		fputs(canon_text, f);
}

/* The order fields are told in: what a user edits, then what follows from
 * it (inputs produced anew upstream, argv). */
static int field_rank(const char *field)
{
	static const char *const order[] = { "params", "seed", "env", "code", "inputs", "argv" };
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (!strcmp(order[i], field))
			return (int)i;
	return (int)(sizeof(order) / sizeof(order[0]));
}

static int cmp_change(const void *x, const void *y)
{
	const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
	int ra = field_rank(or_q(jstr(a, "field"))), rb = field_rank(or_q(jstr(b, "field")));
	if (ra != rb)
		return ra < rb ? -1 : 1;
	int c = strcmp(or_q(jstr(a, "field")), or_q(jstr(b, "field")));
	return c ? c : natcmp(or_q(jstr(a, "path")), or_q(jstr(b, "path")));
}

static void print_change(FILE *f, const cJSON *c)
{
	const char *field = or_q(jstr(c, "field")), *path = or_q(jstr(c, "path"));
	const char *before = jstr(c, "before"), *after = jstr(c, "after");
	size_t fl = strlen(field);
	int whole = strncmp(path, field, fl) || path[fl] != '.'; /* no member named */
	if (!whole && !strcmp(field, "inputs")) {
		const char *st = jstr(c, "input_stage");
		fprintf(f, "  input %s (%s): ", or_q(jstr(c, "input")), or_q(st));
		short_digest(f, before);
		fputs(" -> ", f);
		short_digest(f, after);
		if (after && jstr(c, "source"))
			fprintf(f, "  (imported from %s)", jstr(c, "source"));
		else if (after && jnum(c, "producer_run"))
			fprintf(f, "  (%s ran in run %lld)", or_q(st), jnum(c, "producer_run"));
		else if (after)
			fprintf(f, "  (no execution of %s that produced it is recorded)", or_q(st));
		fputc('\n', f);
	} else if (!whole && !strcmp(field, "code")) {
		fprintf(f, "  code %s: ", path + fl + 1);
		short_digest(f, before);
		fputs(" -> ", f);
		short_digest(f, after);
		fputc('\n', f);
	} else {
		fprintf(f, "  %s: %s -> %s\n", path, before ? before : "(absent)",
			after ? after : "(absent)");
	}
}

static void print_changes(FILE *f, const cJSON *changes)
{
	const cJSON **v = NULL, *c;
	size_t nr = 0, alloc = 0;
	cJSON_ArrayForEach(c, changes) {
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "derived")))
			continue; /* a changed param, seed or input says it */
		XGROW(v, alloc, nr + 1);
		v[nr++] = c;
	}
	if (nr > 1)
		qsort(v, nr, sizeof(*v), cmp_change);
	for (size_t i = 0, shown = 0; i < nr; i++) {
		const char *field = or_q(jstr(v[i], "field"));
		shown = i && !strcmp(field, or_q(jstr(v[i - 1], "field"))) ? shown + 1 : 0;
		if (shown < WHY_LINES_PER_FIELD) {
			print_change(f, v[i]);
			continue;
		}
		size_t end = i;
		while (end < nr && !strcmp(field, or_q(jstr(v[end], "field"))))
			end++;
		fprintf(f, "  ... and %zu more change%s to %s\n", end - i, end - i == 1 ? "" : "s",
			field);
		i = end - 1;
	}
	free(v);
}

void why_print(FILE *f, const cJSON *why)
{
	const char *stage = or_q(jstr(why, "stage")), *verdict = or_q(jstr(why, "verdict"));
	const char *status = or_q(jstr(why, "status")), *reason = jstr(why, "reason");
	const char *t = jstr(why, "time") ? jstr(why, "time") : "-";
	const cJSON *prev = cJSON_GetObjectItemCaseSensitive(why, "previous");
	long long run = jnum(why, "run_id"), prun = jnum(prev, "run_id");

	if (!strcmp(verdict, "cache-hit")) {
		const cJSON *src = cJSON_GetObjectItemCaseSensitive(why, "source");
		fprintf(f, "stage %s was a cache hit in run %lld (%s): nothing ran; ", stage, run, t);
		if (cJSON_IsObject(src))
			fprintf(f, "its output sha256:%.12s was produced in run %lld (%s)\n",
				or_q(jstr(why, "output_digest")), jnum(src, "run_id"),
				jstr(src, "time") ? jstr(src, "time") : "-");
		else
			fprintf(f, "the execution that produced its output sha256:%.12s is not"
				   " recorded\n", or_q(jstr(why, "output_digest")));
		return;
	}
	if (!strcmp(verdict, "skipped") || !strcmp(verdict, "not-started")) {
		fprintf(f, "stage %s was %s in run %lld (%s): %s\n", stage,
			verdict[0] == 's' ? "skipped" : "not started", run, t,
			bare_reason(reason, "not started"));
		return;
	}
	if (!strcmp(verdict, "no-record")) {
		fprintf(f, "stage %s failed in run %lld (%s) before its cache key was computed: %s\n",
			stage, run, t, bare_reason(reason, "failed"));
		return;
	}
	fprintf(f, "stage %s ran in run %lld (%s)", stage, run, t);
	if (!strcmp(status, "failed") && !strcmp(verdict, "forced")) {
		/* the note is the verdict: "exit status 4" rather than "...; forced" */
		const char *r = bare_reason(reason, "failed"), *note = strstr(r, "; forced");
		fprintf(f, " and failed (%.*s%s)", note ? (int)(note - r) : (int)strlen(r), r,
			note ? note + strlen("; forced") : "");
	} else if (!strcmp(status, "failed"))
		fprintf(f, " and failed (%s)", bare_reason(reason, "failed"));
	else if (!strcmp(status, "interrupted"))
		fprintf(f, " and was interrupted (%s)", bare_reason(reason, "interrupted"));
	if (!strcmp(verdict, "first")) {
		fprintf(f, " because no earlier execution of it is recorded\n");
	} else if (!strcmp(verdict, "changed")) {
		fprintf(f, " because its cache key changed since run %lld", prun);
		how_it_ended(f, prev, ", where it ");
		fprintf(f, ":\n");
		print_changes(f, cJSON_GetObjectItemCaseSensitive(why, "changes"));
	} else if (!strcmp(verdict, "retried")) {
		fprintf(f, " because its previous execution, in run %lld, had the same cache key and ",
			prun);
		how_it_ended(f, prev, "");
		fputc('\n', f);
	} else if (!strcmp(verdict, "forced")) {
		const char *before = jstr(prev, "output_digest"), *now = jstr(why, "output_digest");
		fprintf(f, " because it was forced (run --force); its cache key is the same as in"
			   " run %lld\n", prun);
		if (now && before && !strcmp(status, "ran"))
			fprintf(f, !strcmp(now, before) ? "  it produced the same output again\n"
							: "  it produced a different output:"
							  " sha256:%.12s\n", now);
	} else if (!strcmp(verdict, "cache-unusable")) {
		const char *before = jstr(prev, "output_digest"), *now = jstr(why, "output_digest");
		fprintf(f, " although its cache key is the same as in run %lld: the cached output"
			   " sha256:%.12s could not be used (its cache entry or stored output was"
			   " missing or damaged)\n", prun, or_q(before));
		if (now && before)
			fprintf(f, !strcmp(now, before) ? "  it produced the same output again\n"
							: "  it produced a different output:"
							  " sha256:%.12s\n", now);
	} else if (!strcmp(verdict, "no-previous-record")) {
		fprintf(f, "; its previous execution, in run %lld, recorded no cache key to compare"
			   " with", prun);
		how_it_ended(f, prev, ": it ");
		fputc('\n', f);
	} else {
		fputc('\n', f);
	}
	if (!strcmp(status, "ran") && reason)
		fprintf(f, "  recorded reason: %s\n", reason);
}
