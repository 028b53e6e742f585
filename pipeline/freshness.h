/*
 * freshness: the one decision "is this stage up to date, and if not, why",
 * shared by `run`, `run --dry-run` and `status`, so that the three never
 * disagree (docs/store.md, "When a stage is up to date").
 *
 * A stage is up to date when its cache key has an action-cache entry whose
 * output tree is available and intact: materialised under out/<hex> and still
 * its manifest (store_tree_check / store_tree_intact), or restorable from its
 * manifest and objects (out/ may be deleted at any time). Otherwise it will
 * run, and the reason is the true one:
 *
 *   never run                          no execution of the stage is recorded
 *   changed: argv, code, ...           cache-record fields that differ from the
 *                                      stage's latest recorded execution
 *   input 'NAME' changed (sha256:<12 hex>, was sha256:<12 hex>)[; changed: ...]
 *                                      an external input (`inputs:`) it reads has
 *                                      another content; "added" for a new one
 *   failed last time: <reason>         same record, and that execution failed
 *   cache entry missing (its recorded output is sha256:<12 hex>)
 *                                      same key ran, its action-cache link is gone
 *   output sha256:<12 hex> missing from the store
 *                                      the cache entry points at a tree that is
 *                                      neither materialised nor restorable
 *   cached output damaged: <what>      out/<hex> differs from its manifest
 *   upstream 'ID' will run (its output is not known yet)
 *
 * Looking ahead without running (status, --dry-run): a stage that will run
 * and whose exact cache key has a recorded output (in provenance, or the
 * missing or damaged tree its cache entry names) is assumed to reproduce it
 * (the stage protocol asks stages to be deterministic; `verify --rerun`
 * checks it). Downstream stages are then looked up with that output and, if
 * they hit, are up to date "if 'ID' reproduces its recorded output". A real
 * run never assumes: it looks up each stage once its inputs exist.
 */
#ifndef STUDY_FRESHNESS_H
#define STUDY_FRESHNESS_H

#include "plan.h"
#include "prov.h"
#include "stagecmd.h"
#include "store.h"
#include "strbuf.h"

enum fresh_state {
	FRESH_UP_TO_DATE,
	FRESH_WILL_RUN,
	FRESH_CANNOT_START, /* no program, unreadable code file: `why` says which */
};

struct fresh {
	enum fresh_state state;
	struct strvec programs;      /* each step's resolved argv[0]; empty when one
				      * was not found */
	char key[HASH_HEX_SIZE];     /* "" when it could not be computed */
	struct strbuf record;        /* the canonical cache record behind `key` */
	char tree[HASH_HEX_SIZE];    /* up to date: the output tree */
	char predicted[HASH_HEX_SIZE]; /* will run: the output recorded for this exact
					* key, "" when none (looking ahead only) */
	struct strbuf why;           /* the reason (will run, cannot start), or the
				      * condition of an up-to-date stage ("" when none) */
};

struct fresh_ctx {
	const struct plan *p;
	struct store *st;        /* NULL when the store does not exist yet */
	struct prov *pv;         /* NULL: reasons are not looked up ("" instead) */
	struct code_digests *cd; /* per-run memo of programs and code digests */
	int restore;             /* 1: a run holding the lock: `usable` decides;
				  * 0: only look (read-only, see tree_available) */
	/* restore=1: 1 when the cached tree may be reused (rebuilt and checked
	 * byte for byte as store_tree_check does; the runner reports damage) */
	int (*usable)(void *ctx, const char *stage, const char *tree);
	void *usable_ctx;
};

void fresh_init(struct fresh *f);
void fresh_release(struct fresh *f);

/*
 * Decide for stage si. `outs` holds the output digests (and paths) of the
 * stages decided so far; an input with digest "" is not known, and an input
 * marked `predicted` is an assumed output (see above). Fills `f` (reset
 * first). Returns 0, or -1 on a provenance read error (with err).
 */
int fresh_lookup(const struct fresh_ctx *c, size_t si, const struct stage_output *outs,
		 struct fresh *f, struct strbuf *err);

/*
 * One difference between two cache records (the canonical JSON objects whose
 * SHA-256 is the cache key, stagecmd.h). Both are walked together: objects
 * member by member (by key), arrays element by element (by index, past
 * their common beginning and end, so that an inserted or removed element is
 * one change; its index is the one on the side that has it), down to the
 * first values whose bytes differ. Canonical text makes that exact:
 * equal values have equal bytes (canon.h), so numbers are never rounded
 * through a double.
 */
struct record_change {
	char *field;          /* the top-level member: "params", "inputs", "argv", ... */
	char *path;           /* where, from the top: "params.lr", "inputs.model",
			       * "code.stages/bin/toystage", "argv[3]", "seed"; object
			       * keys as the record writes them (JSON-escaped) */
	const char *sub;      /* path after "field." ("lr", "model"), or after "field"
			       * ("[3]", ""); points into path */
	char *before, *after; /* canonical JSON text of the two values; NULL when the
			       * member or element is absent on that side */
};

struct record_diff {
	struct record_change *v;
	size_t nr, alloc;
};

void record_diff_init(struct record_diff *d);
void record_diff_release(struct record_diff *d);
/* Append the differences between records `before` and `after` to d, in
 * record order (fields and keys sorted, elements by index). Returns 0, or -1
 * when either text is not a well-formed JSON object (d keeps what was found
 * before the malformed part). */
int record_diff(const char *before, const char *after, struct record_diff *d);

/*
 * The reason in words, from the stage's cache record and its latest recorded
 * execution that ran or failed (last_record NULL: none): "never run",
 * "changed: argv, code, ..." (the cache-record fields that differ), "failed
 * last time: <reason>", "interrupted last time", "same cache key as last time;
 * its cached output could not be used" (after the fact: `study report` says
 * why an execution ran), or "never completed with this cache key". fresh_lookup
 * uses it for a stage whose key has no recorded output. Appends to `why`.
 */
void fresh_explain(const char *record, const char *last_record, const char *last_status,
		   const char *last_reason, struct strbuf *why);

#endif
