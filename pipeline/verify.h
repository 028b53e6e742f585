/*
 * verify: the auditor's integrity check of a store and its provenance
 * (`study verify`). Read-only. It checks that
 *
 *   - every object's SHA-256 is its name, every tree manifest's SHA-256 is its
 *     name, every object a manifest lists exists with the listed size, and each
 *     materialised out/<hex>/ holds exactly the manifest's files with its content;
 *   - every output, input and log digest recorded in provenance is in the store,
 *     and the artifacts table agrees with the executions that recorded them;
 *   - the hash chain over runs and executions holds (pipeline/chain.h);
 *   - each recorded git commit exists in the study's repository and holds the
 *     study file with the recorded digest (a run from a dirty work tree gets a
 *     note, not a problem, when they differ).
 *
 * A digest that `study gc` removed (gc_collected, prov.h) is not a problem
 * when every execution that refers to it belongs to a run recorded before
 * that collection: it is listed in report->collected instead. A run recorded
 * after the collection that refers to it needed it in the store (gc keeps
 * what the newest runs use, and a later run makes what it uses again), so
 * it is still reported missing.
 *
 * Problems are collected in a verify_report, each with the stage and run it
 * affects where known. verify_store returns -1 only when it could not check
 * at all (no store, unreadable database).
 */
#ifndef STUDY_VERIFY_H
#define STUDY_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include "hash.h"
#include "strbuf.h"
#include "strvec.h"

struct verify_problem {
	char *kind;    /* object, tree, outdir, missing, artifact, chain kinds, git */
	char *message; /* one line, without the "verify: " prefix */
	char *stage;   /* NULL when unknown */
	int64_t run;   /* 0 when unknown */
};

/* A digest provenance refers to that `study gc` removed (one per digest,
 * with its first reference). */
struct verify_collected {
	char *digest;
	const char *ref; /* "output", "input", "stdout", "stderr" */
	char *input;     /* the input's name for "input", else NULL */
	char *stage;
	int64_t run, exec;
	int64_t last_run; /* the newest run among the references it excuses */
	int64_t gc;       /* the collection that removed it */
	int object;       /* an object (a file input, a log), not a tree */
};

struct verify_report {
	struct verify_problem *problems;
	size_t nr, alloc;
	struct verify_collected *collected;
	size_t collected_nr, collected_alloc;
	struct strvec notes; /* observations that are not problems */
	long objects, trees, outdirs, runs, execs;
	char head[HASH_HEX_SIZE]; /* record_hash of the last run, "" when none or unsealed */
	int64_t head_run;
};

struct verify_opts {
	const char *repo; /* git repository to check commits in; NULL: the study's own */
	int no_git;       /* skip the git checks */
};

void verify_report_init(struct verify_report *r);
void verify_report_release(struct verify_report *r);
int verify_store(const char *store_dir, const struct verify_opts *o, struct verify_report *r,
		 struct strbuf *err);

#endif
