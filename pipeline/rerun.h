/*
 * rerun: re-execute recorded stages from their recorded inputs and compare
 * the output digests (`study verify --rerun`). Needs only the store and its
 * provenance (not the study file), plus the program at the recorded argv[0].
 *
 * A stage is re-run from its recorded argv and environment. When the recorded
 * work directory (the parent of STUDY_OUT) is this store's work/<cache key>,
 * it runs there, unchanged, holding the writer lock (store_workdir_path; the
 * directory is removed afterwards), so outputs that embed their own paths
 * reproduce. Otherwise (the store moved or copied, not writable by this user,
 * or a record from before work/<cache key>) it runs in a scratch directory
 * under $TMPDIR: the recorded work directory is replaced by the scratch one,
 * and each recorded input path <old store>/out/<digest> by that tree's
 * directory in this store (re-materialised if needed). The output is hashed
 * into a scratch store, so nothing is added to the real one. See
 * docs/auditing.md, "study verify --rerun".
 */
#ifndef STUDY_RERUN_H
#define STUDY_RERUN_H

#include <stddef.h>
#include <stdint.h>
#include "hash.h"
#include "prov.h"
#include "store.h"
#include "strbuf.h"

enum rerun_status {
	RERUN_IDENTICAL,
	RERUN_DIFFERENT,
	RERUN_FAILED, /* the stage failed, could not start, or its program is missing */
};

struct rerun_result {
	int64_t exec_id, run_id;
	char *stage;
	enum rerun_status status;
	char *detail;                 /* why different / failed; NULL when identical */
	char recorded[HASH_HEX_SIZE]; /* recorded output digest */
	char got[HASH_HEX_SIZE];      /* digest of the rerun's output, "" when none */
	double secs;
};

const char *rerun_status_name(enum rerun_status s); /* identical, different, failed */

/* Which executions to rerun. stage != NULL: the latest successful ('ran')
 * execution of that stage ("no successful execution of stage 'ID' recorded"
 * otherwise). Else every stage of the latest run, cached ones resolved to the
 * execution that produced their output; with sample > 0, only that many of
 * them, picked deterministically (by SHA-256 of the stage id). In id order. */
int rerun_select(struct prov *p, const char *stage, long sample, int64_t **ids, size_t *nr,
		 struct strbuf *err);

/* Re-run one execution on executor `ex` (executor.h; its callbacks are set
 * here); timeout_s <= 0 means no limit, else the executor's time limit
 * applies (TERM, then KILL 5 s later: "killed after the time limit"). A
 * stage with mem or gpus runs without those limits. Returns 0 with the
 * outcome in res (release with rerun_result_release), -1 when the execution
 * cannot be read. At the recorded path it takes st's writer lock without
 * waiting and releases it before returning; a store locked by a run gives
 * RERUN_FAILED with "the store is in use by a run; verify --rerun needs it
 * idle". A result of a scratch-path rerun that is not identical ends its
 * detail with "ran at a scratch path (WHY): outputs that embed their own path
 * will differ". */
struct executor;
int rerun_exec(struct executor *ex, struct store *st, struct prov *p, int64_t exec_id,
	       double timeout_s, struct rerun_result *res, struct strbuf *err);
void rerun_result_release(struct rerun_result *res);

#endif
