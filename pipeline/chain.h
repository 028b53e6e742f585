/*
 * chain: the tamper-evident hash chain over the provenance database.
 *
 * Every execution row carries record_hash = SHA-256 of its canonical content;
 * every run row carries prev_hash (the previous run's record_hash, 64 zeros for
 * the first run) and record_hash = SHA-256 of the run's canonical content,
 * which includes prev_hash and the ordered record_hash of its executions.
 *
 * Canonical content is the text printed by one SQL SELECT (chain_exec_sql,
 * chain_run_sql), one row per line, each line ending in "\n". The same SELECT
 * is what this module runs, and what docs/auditing.md gives auditors to pipe
 * from `sqlite3` into `sha256sum`. Each column is encoded by its SQL type:
 *
 *   NULL     -                 integer  i<decimal>
 *   real     r<printf('%.12e')>
 *   text     x<hex(bytes), uppercase>      (blobs likewise)
 *
 * and columns are joined with '|'. Lines (see chain.c for the column lists):
 *
 *   execution E:  exec|<executions columns but record_hash, the seven of
 *                      schema 6 (executor ... mem_enforcement) only when
 *                      one of them is not NULL, so rows written before
 *                      them keep their hashes>
 *                 input|<name>|<stage_id>|<digest>[|<source>] per input, by rowid
 *                                   (|<source> only for an external input)
 *                 metric|<stage_id>|...|<ci_high>             per metric, by rowid
 *   run R:        run|<runs columns but record_hash, prev_hash last>
 *                 exec|i<id>|<record_hash>                    per execution, by id
 *
 * Executions are sealed when inserted (their rows are final), runs when they
 * end (prov_run_end) or are marked interrupted. All functions return 0, or -1
 * with a message in err.
 */
#ifndef STUDY_CHAIN_H
#define STUDY_CHAIN_H

#include <stdint.h>
#include "hash.h"
#include "strbuf.h"

struct sqlite3;

#define CHAIN_ZERO "0000000000000000000000000000000000000000000000000000000000000000"

/* The columns of an execution's "exec" line, in order. The order is part of
 * every stored hash: never change it. */
enum chain_exec_col {
	CX_ID, CX_RUN_ID, CX_STAGE_ID, CX_KIND, CX_MODEL, CX_VARIANT, CX_EVALUATION,
	CX_CACHE_KEY, CX_STATUS, CX_REASON, CX_ARGV_JSON, CX_ENV_JSON, CX_CACHE_RECORD,
	CX_OUTPUT_DIGEST, CX_OUTPUT_FILES, CX_OUTPUT_BYTES, CX_EXIT_CODE, CX_TERM_SIGNAL,
	CX_TIMED_OUT, CX_STARTED, CX_ENDED, CX_WALL_S, CX_CPU_S, CX_PEAK_RSS_KB,
	CX_STDOUT_DIGEST, CX_STDERR_DIGEST,
	/* schema 6: on the line only when one of them is not NULL */
	CX_EXECUTOR, CX_JOB_ID, CX_HOST, CX_QUEUE, CX_QUEUE_WAIT_S, CX_OVER_MEMORY,
	CX_MEM_ENFORCEMENT, CX_NR
};
/* The columns always on the line: those before CX_EXECUTOR. */
#define CX_BASE_NR CX_EXECUTOR

/* A column value held by the writer. Reals are not representable: a row with
 * a real column is sealed from the database (chain_seal_exec*), so that the
 * printf('%.12e') text is always SQLite's own. */
enum chain_value_type { CHAIN_NULL = 0, CHAIN_INT, CHAIN_TEXT };
struct chain_value {
	enum chain_value_type type;
	long long i;   /* CHAIN_INT */
	const char *s; /* CHAIN_TEXT, NUL-terminated */
};

/* The canonical content of an execution that has no inputs and no metrics,
 * built from its column values without a query (the writer's fast path for
 * cache hits); identical to what chain_exec_text() reads back. */
void chain_exec_text_values(const struct chain_value vals[CX_NR], struct strbuf *out);

/* The SELECTs that print the canonical content; parameter :id. */
const char *chain_exec_sql(void);
const char *chain_run_sql(void);

/* Compute the hash of a stored execution / run from the database. */
int chain_exec_hash(struct sqlite3 *db, int64_t id, char hex[HASH_HEX_SIZE], struct strbuf *err);
int chain_run_hash(struct sqlite3 *db, int64_t id, char hex[HASH_HEX_SIZE], struct strbuf *err);
/* The canonical content itself (appended to out). */
int chain_exec_text(struct sqlite3 *db, int64_t id, struct strbuf *out, struct strbuf *err);
int chain_run_text(struct sqlite3 *db, int64_t id, struct strbuf *out, struct strbuf *err);

/* Store the record_hash of an execution / run (within the caller's transaction). */
int chain_seal_exec(struct sqlite3 *db, int64_t id, struct strbuf *err);
int chain_seal_run(struct sqlite3 *db, int64_t id, struct strbuf *err);
/* chain_seal_exec with the two statements it needs kept in cache[0..1]
 * (initially NULL; the caller sqlite3_finalize()s them): the writer's hot path. */
struct sqlite3_stmt;
int chain_seal_exec_cached(struct sqlite3 *db, struct sqlite3_stmt **cache, int64_t id,
			   struct strbuf *err);
/* The prev_hash a run inserted now must carry: the record_hash of the run with
 * the largest id (64 zeros when there is none). Returns 1 filled, 0 when that
 * run has no record_hash (not sealed), -1 on error. */
int chain_head(struct sqlite3 *db, char hex[HASH_HEX_SIZE], struct strbuf *err);
/* Migration from schema 1: set every execution's record_hash and every run's
 * prev_hash/record_hash in id order (runs still 'running' get prev_hash only). */
int chain_backfill(struct sqlite3 *db, struct strbuf *err);

/* Check the whole chain. fn is called once per problem with a kind
 * ("exec-hash", "run-hash", "chain", "unsealed", "orphan"), the run and
 * execution ids concerned (0 when none), the stage id (NULL when none) and a
 * message. Notes that are not problems (a run still running) go to note_fn
 * (may be NULL). Counts runs and executions checked. */
typedef void (*chain_problem_fn)(const char *kind, int64_t run, int64_t exec, const char *stage,
				 const char *msg, void *data);
struct chain_check {
	chain_problem_fn problem, note;
	void *data;
	long runs, execs;
	char head[HASH_HEX_SIZE]; /* record_hash of the last run ("" when none) */
	int64_t head_run;
};
int chain_verify(struct sqlite3 *db, struct chain_check *c, struct strbuf *err);

#endif
