/*
 * prov: the provenance database (SQLite, WAL) at <store>/provenance.db.
 * Schema, versioning (PRAGMA user_version migrations) and every write of
 * provenance live here (prov.c); every read lives in prov_query.h
 * (prov_query.c), and chain.c hashes and checks rows with its own SQL (see
 * chain.h). No other module runs SQL. metrics.json is parsed by metrics.h.
 * The schema is documented for auditors in docs/provenance.md.
 *
 * Writers batch records: prov_begin() ... prov_record_*() ... prov_commit()
 * wrap many records in one transaction (the runner commits once per batch of
 * finished stages). Readers open with prov_open_readonly() and never block a
 * writer (WAL).
 *
 * Functions with an `err` return 0, or -1 with a one-line message in it;
 * the others say what they return.
 */
#ifndef STUDY_PROV_H
#define STUDY_PROV_H

#include <stddef.h>
#include <stdint.h>
#include "strbuf.h"

struct prov; /* opaque: the sqlite3 handle and prepared statements */

/* Open (creating and migrating as needed) <path>. The writer keeps <path>-wal
 * and <path>-shm when it closes (SQLITE_FCNTL_PERSIST_WAL), so readers without
 * write access can open the database. */
int prov_open(struct prov **p, const char *path, struct strbuf *err);
/* Open an existing database read-only (SQLITE_OPEN_READONLY, query_only): no
 * migration, no write, works without write access to the file or directory.
 * When the reader cannot create the missing -wal/-shm it reads the main file
 * as immutable if there is no WAL content, and otherwise fails with "...has
 * changes in its write-ahead log...". An older schema is an error, never
 * migrated. "no provenance database at '<path>'" when absent. See
 * docs/provenance.md, "Reading without write access". */
int prov_open_readonly(struct prov **p, const char *path, struct strbuf *err);
void prov_close(struct prov *p);

/* BEGIN IMMEDIATE (a plain BEGIN on a read-only handle). */
int prov_begin(struct prov *p, struct strbuf *err);
/* COMMIT; when that fails the transaction is rolled back. */
int prov_commit(struct prov *p, struct strbuf *err);
/* ROLLBACK the open transaction, if any: 0, or -1 when it fails (no message). */
int prov_rollback(struct prov *p);

/* Mark every run still in status 'running' as 'interrupted' (ended now when
 * it has no end time), then seal every ended run that has no record_hash yet
 * (chain_seal_run; own transaction unless one is open). Those are the runs a
 * killed process left behind only while the caller holds the store lock
 * (cmd_run calls it right after store_lock). */
int prov_mark_interrupted(struct prov *p, struct strbuf *err);

struct prov_run {
	const char *study_name, *study_path, *study_digest;
	const char *git_commit;  /* NULL when the study is not in a git repo */
	const char *git_branch;  /* NULL when detached or unknown */
	int git_dirty;           /* 0/1; -1 unknown */
	const char *tool_version, *host, *user;
	const char *argv_json;   /* JSON array of the orchestrator's argv */
	const char *cwd;
	double started;          /* unix time, seconds */
};
/* Insert a run with status 'running' whose prev_hash is the chain head
 * (chain_head; NULL when the previous run is unsealed). One statement,
 * committed at once unless a transaction is open. Fills *run_id. */
int prov_run_begin(struct prov *p, const struct prov_run *r, int64_t *run_id, struct strbuf *err);
/* Fill in a running run's git state when it was not known at
 * prov_run_begin (cmd_run reads it in a thread). Own transaction unless one
 * is open. */
int prov_run_set_git(struct prov *p, int64_t run_id, const char *commit, const char *branch,
		     int dirty, struct strbuf *err);
/* Set end time, status ('ok', 'failed', 'interrupted') and counts, and seal
 * the run (chain_seal_run), in one transaction (its own unless one is open).
 * "no such run" when run_id is not recorded. */
int prov_run_end(struct prov *p, int64_t run_id, const char *status, double ended, int ran,
		 int cached, int failed, int skipped, struct strbuf *err);

struct prov_input {
	const char *name;   /* "model", "data.world", "evaluations[3]", "inputs.NAME", ... */
	const char *stage;  /* producing stage id, or "input/NAME" for an external input */
	const char *digest; /* tree digest (an external file input: the file's SHA-256) */
	const char *source; /* an external input's original absolute path; NULL otherwise */
};

struct prov_exec {
	int64_t run_id;
	const char *stage_id;
	const char *kind;        /* stage kind: data, model, method, mitigation, eval, report */
	const char *model, *variant, *evaluation; /* NULL where not applicable */
	const char *cache_key;
	const char *status;      /* 'ran' (ok), 'cached', 'failed', 'interrupted' (stopped
				  * because the run was), 'skipped' (an upstream stage
				  * failed), 'not-started' (the run stopped first),
				  * 'retried' (a failed attempt, tried again) */
	const char *reason;      /* failure/skip reason, then notes ("forced",
				  * "attempt 2 of 3"; docs/provenance.md); NULL
				  * when ok with no note */
	const char *argv_json;   /* argv as executed (JSON array) */
	const char *env_json;    /* environment as given (JSON object) */
	const char *cache_record;/* the canonical record whose SHA-256 is cache_key */
	const struct prov_input *inputs;
	size_t inputs_nr;
	const char *output_digest; /* tree digest, NULL when none */
	uint64_t output_files, output_bytes;
	int exit_code;           /* -1 when not run or killed */
	int term_signal;         /* 0 when none */
	int timed_out;
	double started, ended;   /* unix time; 0 for cache hits/skips */
	double cpu_s;            /* the stage's user + system seconds; < 0: unknown (NULL) */
	long peak_rss_kb;        /* the stage's peak RSS; < 0: unknown (NULL) */
	const char *stdout_digest, *stderr_digest; /* objects; NULL when not run */
	const char *metrics_json; /* content of ${out}/metrics.json, NULL when absent */
	/* schema 6, where and how it ran (executor.h, exec_report); recorded only
	 * when a process was started (started > 0) and executor is not NULL */
	const char *executor;    /* "local", "slurm", ... */
	const char *job_id;      /* the executor's job id; NULL locally */
	const char *host;        /* the node it ran on */
	const char *queue;       /* the partition / queue; NULL locally */
	double queue_wait_s;     /* seconds waiting in the queue; < 0: unknown (NULL) */
	int over_memory;         /* stopped for exceeding resources.mem */
	const char *mem_enforcement; /* "cgroup", "watchdog", ...; NULL: no limit */
};
/* Record one execution / cache hit / failure / skip, its inputs, its output
 * artifact and its metrics (metrics_json parsed by metrics_parse, metrics.h;
 * a malformed metrics.json is an error naming the stage), and seal the row
 * (chain.h). Call between prov_begin and prov_commit.
 *
 * A cache hit (status 'cached') is recorded as a reference: stage, kind,
 * model/variant/evaluation, cache_key and output_digest. Its argv, env,
 * cache record and inputs are those of the execution that produced the
 * output (status 'ran', same cache_key and output_digest), so they are not
 * copied again: those fields of `e` are ignored, and readers resolve them
 * (prov_query.h, docs/provenance.md). */
int prov_record_exec(struct prov *p, const struct prov_exec *e, int64_t *exec_id,
		     struct strbuf *err);

/* Record that run_id submitted job job_id (executor's id, e.g. SLURM's)
 * for the stage with this cache key, at unix time `submitted` (schema 7,
 * table jobs). Within the caller's transaction, or its own. */
int prov_record_job(struct prov *p, int64_t run_id, const char *stage_id, const char *cache_key,
		    const char *executor, const char *job_id, double submitted,
		    struct strbuf *err);

/* The output tree of the latest execution that ran (status 'ran') with this
 * cache key and recorded an output, of any stage; cache hits are not looked
 * at (used to cross-check the action cache). 1 found, 0 not, -1 on a database
 * error (no message). */
int prov_lookup_output(struct prov *p, const char *cache_key, char tree_hex[65]);

/* ---- study gc (pipeline/gc.h, docs/store.md "Garbage collection") ----
 * A collection is recorded before it removes anything: prov_gc_begin and
 * prov_gc_record in one transaction (prov_begin ... prov_commit), then the
 * removal, then prov_gc_end (own transaction unless one is open). The rows
 * of runs and executions are never touched: they keep their digests. */
struct prov_gc {
	double started;             /* unix time */
	long keep_runs;             /* --keep-runs */
	const char *kept_runs_json; /* JSON array of the ids of the runs kept */
	int64_t last_run;           /* the newest run recorded when it started; 0: none */
	const char *study_path;     /* the study whose reusable outputs were kept; NULL */
	const char *host, *user;
	long long trees, objects, cache_entries, bytes; /* what it is about to remove */
};
int prov_gc_begin(struct prov *p, const struct prov_gc *g, int64_t *gc_id, struct strbuf *err);
struct prov_gc_item {
	const char *kind;   /* "tree" or "object" */
	const char *digest; /* 64 hex */
	uint64_t bytes;     /* the manifest's or the object's size */
};
int prov_gc_record(struct prov *p, int64_t gc_id, const struct prov_gc_item *items, size_t nr,
		   struct strbuf *err);
/* The end time and what was really removed (the begin row's counts are the
 * plan until then). */
int prov_gc_end(struct prov *p, int64_t gc_id, double ended, long long trees, long long objects,
		long long cache_entries, long long bytes, struct strbuf *err);

/* The schema version this code creates and understands (PRAGMA user_version). */
/* 2 adds the tamper-evident chain (pipeline/chain.h): runs.prev_hash,
 * runs.record_hash, executions.record_hash. */
/* 3 makes the stage and cache-key indexes partial (cache hits left out). */
/* 4 adds the execution statuses 'interrupted' and 'not-started'. */
/* 5 adds the execution status 'retried' (a failed attempt that was retried),
 * the tables gc_runs and gc_collected (`study gc`) and inputs.source (the
 * original path of an external input). */
/* 6 adds where and how a stage ran: executions.executor, job_id, host,
 * queue, queue_wait_s, over_memory, mem_enforcement (executor.h). */
/* 7 adds the table jobs: the batch jobs a run submitted (prov_record_job). */
#define PROV_SCHEMA_VERSION 7

/* The raw connection. Only prov_query.c (the read side) uses it, and the unit
 * tests of chain.c, whose functions take the handle; any other module reads
 * through prov_query.h. */
struct sqlite3 *prov_sqlite(struct prov *p);
/* The path the database was opened from. */
const char *prov_path(const struct prov *p);

#endif
