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
	strbuf_init(&f->record, 0);
	strbuf_init(&f->why, 0);
}

void fresh_release(struct fresh *f)
{
	free(f->program);
	f->program = NULL;
	strbuf_release(&f->record);
	strbuf_release(&f->why);
}

static void fresh_reset(struct fresh *f)
{
	free(f->program);
	f->program = NULL;
	f->state = FRESH_WILL_RUN;
	f->key[0] = f->tree[0] = f->predicted[0] = '\0';
	strbuf_reset(&f->record);
	strbuf_reset(&f->why);
}

/* Names of the cache-record fields that differ between two records, as
 * "changed: argv, params"; nothing when none differs. Both records are
 * canonical text, so a field differs exactly when its bytes do; parsing them into cJSON would merge numbers that a double cannot tell
 * apart (2^53 and 2^53+1). */
static void fresh_diff_records(const char *old_text, const char *new_text, struct strbuf *out)
{
	static const char *const fields[] = { "argv", "code", "env", "inputs", "params",
					      "seed", "stage", "protocol" };
	int n = 0;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *x = NULL, *y = NULL;
		size_t xl = 0, yl = 0;
		int hx = canon_member(old_text, fields[i], &x, &xl) == 0;
		int hy = canon_member(new_text, fields[i], &y, &yl) == 0;
		if (hx != hy || xl != yl || (hx && memcmp(x, y, xl))) {
			strbuf_addstr(out, n++ ? ", " : "changed: ");
			strbuf_addstr(out, fields[i]);
		}
	}
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
	if (rc == 0 || !last.cache_record) {
		strbuf_addstr(&f->why, "never run");
	} else {
		if (!explain_external_change(last.cache_record, f->record.buf, &f->why))
			fresh_diff_records(last.cache_record, f->record.buf, &f->why);
		if (f->why.len)
			; /* changed: ... */
		else if (last.status && !strcmp(last.status, "failed"))
			strbuf_addf(&f->why, "failed last time: %s",
				    last.reason ? last.reason : "no reason recorded");
		else if (last.status && !strcmp(last.status, "interrupted"))
			strbuf_addstr(&f->why, "interrupted last time");
		else
			strbuf_addstr(&f->why, "never completed with this cache key");
	}
	prov_exec_info_release(&last);
	return 0;
}

int fresh_lookup(const struct fresh_ctx *c, size_t si, const struct stage_output *outs,
		 struct fresh *f, struct strbuf *err)
{
	const struct stage *s = &c->p->stages[si];
	struct strbuf e = STRBUF_INIT;
	fresh_reset(f);

	f->program = stagecmd_program(c->p, s, c->cd, &e);
	if (!f->program) {
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
	if (stagecmd_key(c->p, si, outs, f->program, c->cd, &f->record, f->key, &e) < 0) {
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
