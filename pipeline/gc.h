/*
 * gc: garbage collection of the artifact store (`study gc`, cmd_gc.c). It
 * owns the policy (which recorded runs are kept), the mark (what the kept
 * runs, and optionally a study, still use: trees, the objects they list,
 * logs, the cache entries that name kept trees) and the sweep (removing the
 * rest, in an order after which a kill at any point leaves a store that
 * verifies and runs). The store only enumerates and removes (store.h);
 * provenance records what was removed (prov.h, gc_runs and gc_collected).
 * docs/store.md, "Garbage collection".
 *
 * Functions with an `err` return 0, or -1 with a one-line message in it.
 */
#ifndef STUDY_GC_H
#define STUDY_GC_H

#include <stddef.h>
#include <stdint.h>
#include "hash.h"
#include "plan.h"
#include "prov.h"
#include "store.h"
#include "strbuf.h"
#include "strmap.h"

/* A recorded run, as the policy sees it. */
struct gc_run {
	int64_t id;
	const char *study;  /* runs.study_name */
	const char *status; /* running, ok, failed, interrupted */
	int partial;        /* it ran only some TARGETs of its study (run_argv_partial) */
};

/* The policy: for each study (by name), its `keep` newest whole-study runs
 * and every partial run (`run STUDY TARGET...`) newer than the oldest of
 * them, plus its newest whole run that ended 'ok' when none of those did (a
 * failed or interrupted run leaves the outputs of the last good one in
 * place). A partial run does not count toward `keep`: it used only some of
 * the study's outputs, and the rest must survive it.
 * `runs` may be in any order; keep >= 1. Returns how many are kept, their
 * ids ascending in a new array *kept (NULL when none; free() it). */
size_t gc_pick_runs(const struct gc_run *runs, size_t nr, long keep, int64_t **kept);

/* What is kept, by digest (keys; values are unused unless said). */
struct gc_roots {
	struct strmap trees;   /* tree digests: outputs and inputs */
	struct strmap objects; /* object digests: logs (the files of kept trees
				* are added by gc_mark) */
	struct strmap made_by; /* tree digest -> "STAGE, run R" (owned) of the
				* first execution that ran and recorded it as its
				* output, for messages; every recorded output */
};
void gc_roots_init(struct gc_roots *r);
void gc_roots_release(struct gc_roots *r);
/* Every digest an execution of the runs `kept` (ids ascending) refers to:
 * outputs, inputs, stdout, stderr. */
int gc_roots_add_runs(struct gc_roots *r, struct prov *pv, const int64_t *kept, size_t nr,
		      struct strbuf *err);
/* What the study `p` would reuse now: the output of every stage that
 * `study status` calls up to date (freshness.h, read-only, looking ahead
 * through stages assumed to reproduce their recorded output), and the store's
 * copy of each external input's current content. pv may be NULL. -1 on a
 * provenance read error, or an external input that cannot be read or does
 * not match its pin (extinput.h's message; nothing is kept then). */
int gc_roots_add_plan(struct gc_roots *r, const struct plan *p, struct store *st, struct prov *pv,
		      struct strbuf *err);
/* Call last: the logs of every execution whose output is a kept tree (a
 * kept cache hit's producer's stdout and stderr, which `show` prints), and
 * made_by. */
int gc_roots_add_producers(struct gc_roots *r, struct prov *pv, struct strbuf *err);

/* Something to remove: a name in the store and its size in bytes. */
struct gc_item {
	char name[HASH_HEX_SIZE];
	char tree[HASH_HEX_SIZE]; /* a cache entry's tree; "" for others, or malformed */
	uint64_t bytes;
};
struct gc_list {
	struct gc_item *v;
	size_t nr, alloc;
	uint64_t bytes; /* the sum */
};

struct gc_plan {
	struct gc_list trees;   /* manifests trees/ab/<hex> no root reaches */
	struct gc_list objects; /* objects/ab/<hex> no kept tree lists and no root names */
	struct gc_list cache;   /* cache/ab/<key> whose tree is not kept (or unreadable) */
	struct gc_list outdirs; /* out/<hex>/ of trees not kept (bytes 0: hard links) */
	struct gc_list stats;   /* stat/<hex> of trees not kept */
	long kept_trees, kept_objects, kept_cache; /* present and kept */
	long temporaries;       /* entries under tmp/ and work/ (gc_count_temporaries) */
	uint64_t temp_bytes;    /* the bytes of their regular files */
};
void gc_plan_release(struct gc_plan *p);
/* The bytes the plan frees: objects, manifests, stat records, temporaries. */
uint64_t gc_plan_bytes(const struct gc_plan *p);

/* The mark: walk the store and put in `plan` (zeroed first) every name that
 * `roots` does not reach; a kept tree keeps the objects its manifest lists.
 * Names that are not 64 hex digits are left alone (`study verify` reports
 * them). A kept tree whose manifest is missing keeps nothing; one whose
 * manifest is there but unreadable or corrupt stops the collection:
 * "kept tree 'HEX' cannot be read (WHY); run 'study verify' (nothing was
 * removed)", since its objects could not be told from garbage. */
int gc_mark(const struct store *st, const struct gc_roots *roots, struct gc_plan *plan,
	    struct strbuf *err);

/* Count the leftovers under tmp/ and work/ into plan->temporaries and
 * plan->temp_bytes (without following links). Best effort: unreadable
 * entries count as 0 bytes. */
void gc_count_temporaries(const struct store *st, struct gc_plan *plan);

/* Record the plan before anything is removed: a gc_runs row (g's counts are
 * filled from the plan) and a gc_collected row for every tree and object,
 * in one transaction. Fills *gc_id. */
int gc_record(struct prov *pv, const struct gc_plan *plan, struct prov_gc *g, int64_t *gc_id,
	      struct strbuf *err);

/* What the sweep removed. */
struct gc_done {
	long trees, objects, cache, outdirs, stats;
	uint64_t bytes; /* manifests, objects and stat records */
};
/* The sweep, with the writer lock held, in this order: cache entries, out/
 * directories, stat records, manifests, objects; so that a kill leaves
 * only cache entries of whole trees, whole materialised trees with their
 * manifests, and manifests whose objects are all there. Stops at the first
 * failure (a later step could break that order): -1 with err, `done` says
 * what was removed by then. */
int gc_sweep(struct store *st, const struct gc_plan *plan, struct gc_done *done,
	     struct strbuf *err);

#endif
