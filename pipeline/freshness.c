/*
 * freshness: whether a stage is up to date and why not — the one function
 * behind `run`, `run --dry-run` and `status`. See freshness.h.
 */
#include "freshness.h"
#include "canon.h"
#include "hash.h"
#include "prov_query.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void fresh_init(struct fresh *f)
{
	memset(f, 0, sizeof(*f));
	strvec_init(&f->programs);
	strbuf_init(&f->record, 0);
	strbuf_init(&f->why, 0);
}

void fresh_release(struct fresh *f)
{
	strvec_clear(&f->programs);
	strbuf_release(&f->record);
	strbuf_release(&f->why);
}

static void fresh_reset(struct fresh *f)
{
	strvec_clear(&f->programs);
	f->state = FRESH_WILL_RUN;
	f->key[0] = f->tree[0] = f->predicted[0] = '\0';
	strbuf_reset(&f->record);
	strbuf_reset(&f->why);
}

/* ---- comparing cache records ---- */

void record_diff_init(struct record_diff *d)
{
	memset(d, 0, sizeof(*d));
}

void record_diff_release(struct record_diff *d)
{
	for (size_t i = 0; i < d->nr; i++) {
		free(d->v[i].field);
		free(d->v[i].path);
		free(d->v[i].before);
		free(d->v[i].after);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static char *dup_or_null(const char *s, size_t len)
{
	return s ? xstrndup(s, len) : NULL;
}

static void add_change(struct record_diff *d, const char *field, const struct strbuf *path,
		       const char *x, size_t xl, const char *y, size_t yl)
{
	XGROW(d->v, d->alloc, d->nr + 1);
	struct record_change *c = &d->v[d->nr++];
	size_t fl = strlen(field);
	c->field = xstrdup(field);
	c->path = xstrndup(path->buf, path->len);
	c->sub = c->path + fl + (c->path[fl] == '.');
	c->before = dup_or_null(x, xl);
	c->after = dup_or_null(y, yl);
}

struct member {
	const char *key, *val;
	size_t klen, vlen;
};

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* The members (or elements) of a container, in record order for arrays and
 * sorted by key for objects: 0, or -1 when malformed. */
static int members(const char *text, size_t len, struct member **m, size_t *nr, int *array)
{
	struct canon_iter it;
	struct member cur;
	size_t alloc = 0;
	int rc;
	*m = NULL;
	*nr = 0;
	if (canon_iter_start(&it, text, len) < 0)
		return -1;
	*array = it.array;
	while ((rc = canon_iter_next(&it, &cur.key, &cur.klen, &cur.val, &cur.vlen)) == 1) {
		XGROW(*m, alloc, *nr + 1);
		(*m)[(*nr)++] = cur;
	}
	if (rc < 0)
		return -1;
	if (!*array && *nr > 1)
		qsort(*m, *nr, sizeof(**m), cmp_member);
	return 0;
}

static int same(const struct member *x, const struct member *y)
{
	return x->vlen == y->vlen && !memcmp(x->val, y->val, x->vlen);
}

static int is_container(const char *v, size_t len)
{
	return len >= 2 && ((v[0] == '{' && v[len - 1] == '}') || (v[0] == '[' && v[len - 1] == ']'));
}

static int diff_values(struct record_diff *d, const char *field, struct strbuf *path,
		       const char *x, size_t xl, const char *y, size_t yl);

/* Both containers of the same kind: compare their members. */
static int diff_containers(struct record_diff *d, const char *field, struct strbuf *path,
			   const char *x, size_t xl, const char *y, size_t yl)
{
	struct member *a = NULL, *b = NULL;
	size_t an = 0, bn = 0, i = 0, j = 0, len = path->len;
	int aa = 0, ba = 0, rc = 0;
	if (members(x, xl, &a, &an, &aa) < 0 || members(y, yl, &b, &bn, &ba) < 0) {
		rc = -1;
		goto out;
	}
	if (aa) {
		/* arrays: skip the common beginning and end, so that an inserted or
		 * removed element is one difference, not a shift of all that follow */
		size_t pre = 0, suf = 0;
		while (pre < an && pre < bn && same(&a[pre], &b[pre]))
			pre++;
		while (suf < an - pre && suf < bn - pre && same(&a[an - 1 - suf], &b[bn - 1 - suf]))
			suf++;
		i = j = pre;
		an -= suf;
		bn -= suf;
	}
	while (!rc && (i < an || j < bn)) {
		const struct member *p = i < an ? &a[i] : NULL, *q = j < bn ? &b[j] : NULL;
		int c = !p ? 1 : !q ? -1 : aa ? 0 : cmp_member(p, q);
		strbuf_setlen(path, len);
		if (aa)
			strbuf_addf(path, "[%zu]", q ? j : i);
		else
			strbuf_addf(path, "%s%.*s", len ? "." : "", (int)(c > 0 ? q : p)->klen,
				    (c > 0 ? q : p)->key);
		if (c < 0)
			add_change(d, field, path, p->val, p->vlen, NULL, 0);
		else if (c > 0)
			add_change(d, field, path, NULL, 0, q->val, q->vlen);
		else
			rc = diff_values(d, field, path, p->val, p->vlen, q->val, q->vlen);
		i += c <= 0;
		j += c >= 0;
	}
out:
	strbuf_setlen(path, len);
	free(a);
	free(b);
	return rc;
}

static int diff_values(struct record_diff *d, const char *field, struct strbuf *path,
		       const char *x, size_t xl, const char *y, size_t yl)
{
	if (xl == yl && !memcmp(x, y, xl))
		return 0;
	if (is_container(x, xl) && is_container(y, yl) && x[0] == y[0])
		return diff_containers(d, field, path, x, xl, y, yl);
	add_change(d, field, path, x, xl, y, yl);
	return 0;
}

int record_diff(const char *before, const char *after, struct record_diff *d)
{
	struct member *a = NULL, *b = NULL;
	size_t an = 0, bn = 0, i = 0, j = 0;
	int aa = 0, ba = 0, rc = 0;
	struct strbuf path = STRBUF_INIT, field = STRBUF_INIT;
	if (!before || !after || members(before, strlen(before), &a, &an, &aa) < 0 ||
	    members(after, strlen(after), &b, &bn, &ba) < 0 || aa || ba) {
		rc = -1;
		goto out;
	}
	/* the top level by hand: each change carries its field */
	while (!rc && (i < an || j < bn)) {
		const struct member *p = i < an ? &a[i] : NULL, *q = j < bn ? &b[j] : NULL;
		int c = !p ? 1 : !q ? -1 : cmp_member(p, q);
		const struct member *m = c > 0 ? q : p;
		strbuf_reset(&field);
		strbuf_add(&field, m->key, m->klen);
		strbuf_reset(&path);
		strbuf_add(&path, m->key, m->klen);
		if (c < 0)
			add_change(d, field.buf, &path, p->val, p->vlen, NULL, 0);
		else if (c > 0)
			add_change(d, field.buf, &path, NULL, 0, q->val, q->vlen);
		else
			rc = diff_values(d, field.buf, &path, p->val, p->vlen, q->val, q->vlen);
		i += c <= 0;
		j += c >= 0;
	}
out:
	strbuf_release(&path);
	strbuf_release(&field);
	free(a);
	free(b);
	return rc;
}

/* Names of the cache-record fields that differ between two records, as
 * "changed: argv, params" (the fields status has always named, in this
 * order, then any other in record order); nothing when none differs. */
static void fresh_diff_records(const char *old_text, const char *new_text, struct strbuf *out)
{
	static const char *const fields[] = { "argv", "code", "env", "inputs", "params",
					      "seed", "stage", "protocol" };
	const size_t nf = sizeof(fields) / sizeof(fields[0]);
	struct record_diff d;
	int n = 0;
	record_diff_init(&d);
	if (record_diff(old_text, new_text, &d) < 0 && !d.nr) {
		if (strcmp(old_text ? old_text : "", new_text ? new_text : ""))
			strbuf_addstr(out, "changed: cache record");
		record_diff_release(&d);
		return;
	}
	/* the known fields in their order (pass k), then the others (pass nf) */
	for (size_t pass = 0; pass <= nf; pass++) {
		for (size_t i = 0; i < d.nr; i++) {
			const char *f = d.v[i].field;
			size_t k = 0, e = 0;
			while (k < nf && strcmp(fields[k], f))
				k++;
			while (e < i && strcmp(d.v[e].field, f))
				e++;
			if (k != pass || e < i) /* another pass's, or named already */
				continue;
			strbuf_addstr(out, n++ ? ", " : "changed: ");
			strbuf_addstr(out, f);
		}
	}
	record_diff_release(&d);
}

/* When external inputs (the study's `inputs:`) are what changed since the
 * last execution, say so first: "input 'NAME' changed (sha256:<new 12>, was
 * sha256:<old 12>)" or "input 'NAME' added (sha256:<12>)", one clause per
 * input, then "; changed: ..." for any
 * other field of the record that differs once those digests are put back
 * (argv names an input by its digest, so an input alone also moves argv; a
 * new input also changes "inputs" and argv).
 * Returns 0 (and writes nothing) when no external input changed. */
static int explain_external_change(const char *old_text, const char *new_text,
				   struct strbuf *out)
{
	const char *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0;
	if (canon_member(old_text, "inputs", &x, &xl) || canon_member(new_text, "inputs", &y, &yl))
		return 0;
	char *xs = xstrndup(x, xl), *ys = xstrndup(y, yl);
	cJSON *a = cJSON_Parse(xs), *b = cJSON_Parse(ys);
	free(xs);
	free(ys);
	char *old_fixed = xstrdup(old_text);
	int n = 0;
	for (const cJSON *in = b ? b->child : NULL; in; in = in->next) {
		if (strncmp(in->string, "inputs.", 7) || !cJSON_IsString(in))
			continue;
		const cJSON *was = cJSON_GetObjectItemCaseSensitive(a, in->string);
		if (cJSON_IsString(was) && !strcmp(was->valuestring, in->valuestring))
			continue;
		strbuf_addstr(out, n++ ? ", " : "");
		if (cJSON_IsString(was)) {
			strbuf_addf(out, "input '%s' changed (sha256:%.12s, was sha256:%.12s)",
				    in->string + 7, in->valuestring, was->valuestring);
			/* the old digest, wherever the old record has it (argv's
			 * "sha256:<hex>", the inputs member), becomes the new one */
			struct strbuf fixed = STRBUF_INIT;
			size_t fl = strlen(was->valuestring);
			for (const char *p = old_fixed, *hit; *p; p = hit + fl) {
				hit = fl ? strstr(p, was->valuestring) : NULL;
				if (!hit) {
					strbuf_addstr(&fixed, p);
					break;
				}
				strbuf_add(&fixed, p, (size_t)(hit - p));
				strbuf_addstr(&fixed, in->valuestring);
			}
			free(old_fixed);
			old_fixed = strbuf_detach(&fixed, NULL);
		} else {
			strbuf_addf(out, "input '%s' added (sha256:%.12s)", in->string + 7,
				    in->valuestring);
		}
	}
	if (n) {
		/* what else differs once those digests are put back */
		struct strbuf rest = STRBUF_INIT;
		fresh_diff_records(old_fixed, new_text, &rest);
		if (rest.len)
			strbuf_addf(out, "; %s", rest.buf);
		strbuf_release(&rest);
	}
	free(old_fixed);
	cJSON_Delete(a);
	cJSON_Delete(b);
	return n;
}

/* 1 when tree `hex` can be handed to a stage. A run asks its own check
 * (which rebuilds and repairs); readers look only: out/<hex> must still be
 * its manifest (store_tree_intact, stat-level when nothing changed), or, when
 * it is not materialised, its manifest and every object must be present so
 * that a run would rebuild it. Otherwise `why` says what is wrong. */
static int tree_available(const struct fresh_ctx *c, const char *stage, const char *hex,
			  struct strbuf *why)
{
	if (c->restore)
		return c->usable(c->usable_ctx, stage, hex);
	struct strbuf mpath = STRBUF_INIT;
	struct stat sb;
	store_tree_manifest_path(c->st, hex, &mpath);
	int has_manifest = stat(mpath.buf, &sb) == 0;
	strbuf_release(&mpath);
	if (!has_manifest || !store_has_tree(c->st, hex)) {
		if (has_manifest && store_tree_restorable(c->st, hex))
			return 1;
		strbuf_addf(why, "output sha256:%.12s missing from the store", hex);
		return 0;
	}
	struct strbuf err = STRBUF_INIT;
	int ok = store_tree_intact(c->st, hex, &err) == 0;
	if (!ok)
		strbuf_addf(why, "cached output damaged: %s", err.buf);
	strbuf_release(&err);
	return ok;
}

/* Why a stage whose key has no usable cache entry will run. */
static int explain_miss(const struct fresh_ctx *c, size_t si, struct fresh *f,
			struct strbuf *err)
{
	const struct stage *s = &c->p->stages[si];
	if (!c->pv) {
		/* no provenance (a new store, or one this user cannot read): the
		 * store alone cannot say more */
		strbuf_addstr(&f->why, "never run (no provenance in this store)");
		return 0;
	}
	if (prov_lookup_output(c->pv, f->key, f->predicted) == 1) {
		strbuf_addf(&f->why, "cache entry missing (its recorded output is sha256:%.12s)",
			    f->predicted);
		return 0;
	}
	f->predicted[0] = '\0';
	struct prov_exec_info last;
	memset(&last, 0, sizeof(last));
	int rc = prov_stage_latest(c->pv, s->id, &last, err);
	if (rc < 0)
		return -1;
	fresh_explain(f->record.buf, rc ? last.cache_record : NULL, last.status, last.reason,
		      &f->why);
	prov_exec_info_release(&last);
	return 0;
}

void fresh_explain(const char *record, const char *last_record, const char *last_status,
		   const char *last_reason, struct strbuf *why)
{
	if (!last_record) {
		strbuf_addstr(why, "never run");
		return;
	}
	if (!record) {
		strbuf_addstr(why, "no cache key");
		return;
	}
	if (!explain_external_change(last_record, record, why))
		fresh_diff_records(last_record, record, why);
	if (why->len)
		; /* changed: ... */
	else if (last_status && !strcmp(last_status, "failed"))
		strbuf_addf(why, "failed last time: %s", last_reason ? last_reason : "no reason recorded");
	else if (last_status && !strcmp(last_status, "interrupted"))
		strbuf_addstr(why, "interrupted last time");
	else if (last_status && !strcmp(last_status, "ran"))
		strbuf_addstr(why, "same cache key as last time; its cached output could not be used");
	else
		strbuf_addstr(why, "never completed with this cache key");
}

int fresh_lookup(const struct fresh_ctx *c, size_t si, const struct stage_output *outs,
		 struct fresh *f, struct strbuf *err)
{
	const struct stage *s = &c->p->stages[si];
	struct strbuf e = STRBUF_INIT;
	fresh_reset(f);

	if (stagecmd_programs(c->p, s, c->cd, &f->programs, &e) < 0) {
		f->state = FRESH_CANNOT_START;
		strbuf_add(&f->why, e.buf, e.len);
		strbuf_release(&e);
		return 0;
	}
	long predicted_by = -1;
	for (size_t k = 0; k < s->inputs_nr; k++) {
		size_t in = s->inputs[k].stage;
		if (!outs[in].digest[0]) {
			f->state = FRESH_WILL_RUN;
			strbuf_addf(&f->why, "upstream '%s' will run (its output is not known yet)",
				    plan_node_id(c->p, in));
			strbuf_release(&e);
			return 0;
		}
		if (outs[in].predicted && predicted_by < 0)
			predicted_by = (long)in;
	}
	if (stagecmd_key(c->p, si, outs, f->programs.v, c->cd, &f->record, f->key, &e) < 0) {
		f->state = FRESH_CANNOT_START;
		f->key[0] = '\0';
		strbuf_add(&f->why, e.buf, e.len);
		strbuf_release(&e);
		return 0;
	}
	strbuf_release(&e);
	if (c->st && store_cache_get(c->st, f->key, f->tree) == 1) {
		if (tree_available(c, s->id, f->tree, &f->why)) {
			f->state = FRESH_UP_TO_DATE;
			if (predicted_by >= 0)
				strbuf_addf(&f->why, "if '%s' reproduces its recorded output",
					    plan_node_id(c->p, (size_t)predicted_by));
			return 0;
		}
		f->state = FRESH_WILL_RUN;
		memcpy(f->predicted, f->tree, HASH_HEX_SIZE); /* what it produced last time */
		if (!f->why.len)
			strbuf_addf(&f->why, "output sha256:%.12s missing from the store or damaged",
				    f->tree);
		f->tree[0] = '\0';
		return 0;
	}
	f->tree[0] = '\0';
	f->state = FRESH_WILL_RUN;
	return explain_miss(c, si, f, err);
}
