/*
 * prov: the write side of the provenance database (SQLite, WAL) and its
 * schema: opening, checking and migrating (PRAGMA user_version), transactions,
 * recording runs and executions (inputs, output artifact, the metrics that
 * metrics.c parses from metrics.json), and the action-cache cross-check. The
 * read side lives in prov_query.c. The schema is
 * documented for auditors in docs/provenance.md; keep both in step.
 */
#include "prov.h"
#include "chain.h"
#include "fsutil.h"
#include "metrics.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#define PROV_FORMAT "study-provenance"

/*
 * Migration steps: migrations[i] takes a database from user_version i to i+1.
 * Never edit a released step; append a new one and bump PROV_SCHEMA_VERSION.
 */
static const char *const migrations[PROV_SCHEMA_VERSION] = {
	/* 0 -> 1: the initial schema */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL);"
	"INSERT INTO meta(key, value) VALUES ('format', '" PROV_FORMAT "');"
	"CREATE TABLE runs ("
	"  id INTEGER PRIMARY KEY,"
	"  study_name TEXT NOT NULL,"
	"  study_path TEXT NOT NULL,"
	"  study_digest TEXT NOT NULL,"
	"  git_commit TEXT,"
	"  git_branch TEXT,"
	"  git_dirty INTEGER CHECK (git_dirty IN (0, 1)),"
	"  tool_version TEXT NOT NULL,"
	"  host TEXT,"
	"  user TEXT,"
	"  argv_json TEXT NOT NULL,"
	"  cwd TEXT,"
	"  started REAL NOT NULL,"
	"  ended REAL,"
	"  status TEXT NOT NULL DEFAULT 'running'"
	"    CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),"
	"  ran INTEGER NOT NULL DEFAULT 0,"
	"  cached INTEGER NOT NULL DEFAULT 0,"
	"  failed INTEGER NOT NULL DEFAULT 0,"
	"  skipped INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE executions ("
	"  id INTEGER PRIMARY KEY,"
	"  run_id INTEGER NOT NULL REFERENCES runs(id),"
	"  stage_id TEXT NOT NULL,"
	"  kind TEXT,"
	"  model TEXT,"
	"  variant TEXT,"
	"  evaluation TEXT,"
	"  cache_key TEXT,"
	"  status TEXT NOT NULL CHECK (status IN ('ran', 'cached', 'failed', 'skipped')),"
	"  reason TEXT,"
	"  argv_json TEXT,"
	"  env_json TEXT,"
	"  cache_record TEXT,"
	"  output_digest TEXT,"
	"  output_files INTEGER,"
	"  output_bytes INTEGER,"
	"  exit_code INTEGER,"
	"  term_signal INTEGER,"
	"  timed_out INTEGER NOT NULL DEFAULT 0,"
	"  started REAL,"
	"  ended REAL,"
	"  wall_s REAL,"
	"  cpu_s REAL,"
	"  peak_rss_kb INTEGER,"
	"  stdout_digest TEXT,"
	"  stderr_digest TEXT);"
	"CREATE TABLE inputs ("
	"  execution_id INTEGER NOT NULL REFERENCES executions(id),"
	"  name TEXT NOT NULL,"
	"  stage_id TEXT NOT NULL,"
	"  digest TEXT NOT NULL);"
	"CREATE TABLE artifacts ("
	"  digest TEXT PRIMARY KEY,"
	"  files INTEGER,"
	"  bytes INTEGER,"
	"  first_execution_id INTEGER NOT NULL REFERENCES executions(id));"
	"CREATE TABLE metrics ("
	"  execution_id INTEGER NOT NULL REFERENCES executions(id),"
	"  stage_id TEXT NOT NULL,"
	"  evaluation TEXT,"
	"  model TEXT,"
	"  variant TEXT,"
	"  metric TEXT NOT NULL,"
	"  value REAL NOT NULL,"
	"  n INTEGER,"
	"  ci_low REAL,"
	"  ci_high REAL);"
	"CREATE INDEX executions_stage ON executions(stage_id, id);"
	"CREATE INDEX executions_run ON executions(run_id);"
	"CREATE INDEX executions_cache_key ON executions(cache_key);"
	"CREATE INDEX metrics_execution ON metrics(execution_id);"
	"CREATE INDEX metrics_stage ON metrics(stage_id, execution_id);"
	"CREATE INDEX inputs_execution ON inputs(execution_id);",
	/* 1 -> 2: the tamper-evident chain (pipeline/chain.h, docs/auditing.md);
	 * migrate() fills the hashes of existing rows (chain_backfill) */
	"ALTER TABLE runs ADD COLUMN prev_hash TEXT;"
	"ALTER TABLE runs ADD COLUMN record_hash TEXT;"
	"ALTER TABLE executions ADD COLUMN record_hash TEXT;",
	/* 2 -> 3: cache hits stay out of the stage and cache-key indexes. A hit
	 * is a row per stage per run; keyed by stage or by hash, those inserts
	 * land all over the indexes, so a no-op rerun dirtied a page per stage
	 * per index and got slower with every run recorded. Queries that use
	 * these indexes repeat the index's WHERE term. */
	"DROP INDEX executions_stage;"
	"CREATE INDEX executions_stage ON executions(stage_id, id) WHERE status <> 'cached';"
	"DROP INDEX executions_cache_key;"
	"CREATE INDEX executions_cache_key ON executions(cache_key) WHERE status = 'ran';",
	/* 3 -> 4: every stage of a run has a row: 'interrupted' (stopped because
	 * the run was), 'not-started' (the run stopped before it could start).
	 * Widening a CHECK changes no stored row, so it is done by editing the
	 * schema text, SQLite's documented procedure for such changes
	 * (sqlite.org/lang_altertable.html, section 7); migrate() then bumps
	 * schema_version so that every connection reloads the schema. */
	"PRAGMA writable_schema = ON;"
	"UPDATE sqlite_master SET sql = replace(sql,"
	" 'CHECK (status IN (''ran'', ''cached'', ''failed'', ''skipped''))',"
	" 'CHECK (status IN (''ran'', ''cached'', ''failed'', ''skipped'', ''interrupted'','"
	" || ' ''not-started''))')"
	" WHERE type = 'table' AND name = 'executions';"
	"PRAGMA writable_schema = OFF;",
	/* 4 -> 5: (a) 'retried', a failed attempt of a stage that was run again
	 * (resources.retries, run --retries); the same documented schema edit
	 * as 3 -> 4, no row changes, every hash stays valid.
	 * (b) `study gc` (pipeline/gc.h): one row per collection, one per
	 * digest it removed, written before anything is removed, so that
	 * `verify` tells a collected output from a missing one. New tables
	 * only: no row of the chain changes. IF NOT EXISTS (and a replace that
	 * matches nothing the second time): a database turned back to an older
	 * version by hand (test_chain) replays this step harmlessly.
	 * (c) an external input (the study's `inputs:`) is recorded with the
	 * path it was imported from; NULL for a stage's output. Part of the
	 * chain only when not NULL (chain.c), so every stored hash stays valid. */
	"PRAGMA writable_schema = ON;"
	"UPDATE sqlite_master SET sql = replace(sql, '''not-started''))',"
	" '''not-started'', ''retried''))')"
	" WHERE type = 'table' AND name = 'executions';"
	"PRAGMA writable_schema = OFF;"
	"CREATE TABLE IF NOT EXISTS gc_runs ("
	"  id INTEGER PRIMARY KEY,"
	"  started REAL NOT NULL,"
	"  ended REAL,"
	"  keep_runs INTEGER NOT NULL,"
	"  kept_runs TEXT NOT NULL,"
	"  last_run INTEGER,"
	"  study_path TEXT,"
	"  host TEXT,"
	"  user TEXT,"
	"  trees INTEGER NOT NULL,"
	"  objects INTEGER NOT NULL,"
	"  cache_entries INTEGER NOT NULL,"
	"  bytes INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS gc_collected ("
	"  gc_id INTEGER NOT NULL REFERENCES gc_runs(id),"
	"  kind TEXT NOT NULL CHECK (kind IN ('tree', 'object')),"
	"  digest TEXT NOT NULL,"
	"  bytes INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS gc_collected_digest ON gc_collected(digest);"
	"ALTER TABLE inputs ADD COLUMN source TEXT;",
	/* 5 -> 6: the columns of v6_exec_columns (below), each added by
	 * migrate() with ALTER TABLE when it is missing: SQLite has no ADD
	 * COLUMN IF NOT EXISTS, and a database turned back to an older version
	 * by hand (t0500) replays this step. */
	"",
	/* 6 -> 7: the batch jobs a run submitted (the SLURM executor), one row
	 * each, committed as they are submitted: a run killed while its jobs
	 * run leaves their ids on record (docs/cluster.md). A log of
	 * submissions, outside the chain: the execution row of each job that
	 * ended carries its id too, sealed. New table only (IF NOT EXISTS:
	 * replayable), no row of the chain changes. */
	"CREATE TABLE IF NOT EXISTS jobs ("
	"  run_id INTEGER NOT NULL REFERENCES runs(id),"
	"  stage_id TEXT NOT NULL,"
	"  cache_key TEXT NOT NULL,"
	"  executor TEXT NOT NULL,"
	"  job_id TEXT NOT NULL,"
	"  submitted REAL NOT NULL);"
	"CREATE INDEX IF NOT EXISTS jobs_run ON jobs(run_id);",
};

/* 5 -> 6: where and how a stage ran (executor.h): the executor, its job id,
 * the host (node), the queue (a cluster's partition) and the wait in it,
 * whether the stage was stopped for exceeding resources.mem and how that
 * limit was enforced. Additive, NULL in every existing row, and hashed only
 * when one of them is not NULL (chain.c), so every existing hash stays valid. */
static const char *const v6_exec_columns[][2] = {
	{ "executor", "TEXT" },     { "job_id", "TEXT" },       { "host", "TEXT" },
	{ "queue", "TEXT" },        { "queue_wait_s", "REAL" }, { "over_memory", "INTEGER" },
	{ "mem_enforcement", "TEXT" },
};

struct prov {
	sqlite3 *db;
	char *path;
	int readonly;
	/* the hot path (prov_record_exec), prepared once for writers */
	sqlite3_stmt *ins_exec, *ins_input, *ins_artifact, *ins_metric;
	sqlite3_stmt *ins_hit;     /* a cache hit, sealed in the same statement */
	sqlite3_stmt *chain_st[2]; /* chain_seal_exec_cached's statements */
	int64_t next_exec_id;      /* id the next execution gets; 0 = ask the database */
};

static void db_error(struct strbuf *err, sqlite3 *db, const char *fmt, const char *arg)
{
	strbuf_addf(err, fmt, arg);
	strbuf_addf(err, ": %s", db ? sqlite3_errmsg(db) : "out of memory");
}

struct sqlite3 *prov_sqlite(struct prov *p) { return p->db; }
const char *prov_path(const struct prov *p) { return p->path; }

/* A single-integer query ("PRAGMA user_version"); -1 on error. */
static int query_int(sqlite3 *db, const char *sql, long long *out)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		ret = 0;
	}
	sqlite3_finalize(st);
	return ret;
}

static int table_exists(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st = NULL;
	int found = 0;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		found = 1;
	else if (rc != SQLITE_DONE)
		found = -1;
	sqlite3_finalize(st);
	return found;
}

/* 1 when meta.format is ours, 0 when it is something else, -1 on error. */
static int format_is_ours(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int ours = 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'format'", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		ours = v && !strcmp(v, PROV_FORMAT);
	} else if (rc != SQLITE_DONE) {
		ours = -1;
	}
	sqlite3_finalize(st);
	return ours;
}

/*
 * Check that the database is ours and not newer than this code. Sets
 * *version. A database without tables and with user_version 0 is "empty"
 * (ours to initialise).
 */
static int check_schema(struct prov *p, long long *version, struct strbuf *err)
{
	long long v = 0, ntables = 0;
	if (query_int(p->db, "PRAGMA user_version", &v) < 0 ||
	    query_int(p->db, "SELECT count(*) FROM sqlite_master", &ntables) < 0) {
		db_error(err, p->db, "cannot read provenance database '%s'", p->path);
		return -1;
	}
	int has_meta = table_exists(p->db, "meta");
	if (has_meta < 0) {
		db_error(err, p->db, "cannot read provenance database '%s'", p->path);
		return -1;
	}
	if (has_meta) {
		int ours = format_is_ours(p->db);
		if (ours < 0) {
			db_error(err, p->db, "cannot read provenance database '%s'", p->path);
			return -1;
		}
		if (!ours)
			goto foreign;
	}
	if (v > PROV_SCHEMA_VERSION) {
		strbuf_addf(err,
			    "provenance database '%s' has schema version %lld, this study knows up "
			    "to %d; upgrade study",
			    p->path, v, PROV_SCHEMA_VERSION);
		return -1;
	}
	if ((v >= 1 && !has_meta) || (v == 0 && ntables > 0))
		goto foreign;
	*version = v;
	return 0;
foreign:
	strbuf_addf(err, "'%s' is not a study provenance database", p->path);
	return -1;
}

static int exec_sql(struct prov *p, const char *sql, struct strbuf *err)
{
	char *msg = NULL;
	/* every COMMIT is a crash step (fsutil.h): stop before or after it */
	int commit = !strcmp(sql, "COMMIT");
	if (commit)
		fs_crash_step("commit", p->path);
	int rc = sqlite3_exec(p->db, sql, NULL, NULL, &msg);
	if (commit)
		fs_crash_step_done();
	if (rc != SQLITE_OK) {
		strbuf_addf(err, "provenance database '%s': %s", p->path,
			    msg ? msg : sqlite3_errmsg(p->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* 1 when `table` has a column `col`, 0 when not, -1 on error. */
static int has_column(sqlite3 *db, const char *table, const char *col)
{
	sqlite3_stmt *st = NULL;
	int found = 0, rc;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		found = 1;
	else if (rc != SQLITE_DONE)
		found = -1;
	sqlite3_finalize(st);
	return found;
}

/* The 5 -> 6 step: each column of v6_exec_columns that is missing. First
 * the connection reloads the schema: when the steps before this one edited
 * the table's text in this same transaction (3 -> 4, 4 -> 5), ALTER TABLE
 * would otherwise splice the new column into the text at its old length. */
static int add_v6_columns(struct prov *p, struct strbuf *err)
{
	if (exec_sql(p, "PRAGMA writable_schema = RESET", err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(v6_exec_columns) / sizeof(v6_exec_columns[0]); i++) {
		int has = has_column(p->db, "executions", v6_exec_columns[i][0]);
		if (has < 0) {
			db_error(err, p->db, "cannot migrate provenance database '%s'", p->path);
			return -1;
		}
		if (has)
			continue;
		char sql[128];
		snprintf(sql, sizeof(sql), "ALTER TABLE executions ADD COLUMN %s %s",
			 v6_exec_columns[i][0], v6_exec_columns[i][1]);
		if (exec_sql(p, sql, err) < 0)
			return -1;
	}
	return 0;
}

/* Apply the missing migration steps in one IMMEDIATE transaction (re-reading
 * the version inside it, so two writers opening a fresh file cannot race). */
static int migrate(struct prov *p, struct strbuf *err)
{
	long long v = 0;
	if (exec_sql(p, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (check_schema(p, &v, err) < 0)
		goto fail;
	for (long long i = v; i < PROV_SCHEMA_VERSION; i++)
		if (exec_sql(p, migrations[i], err) < 0 || (i == 5 && add_v6_columns(p, err) < 0))
			goto fail;
	if (v >= 1 && v < 2 && chain_backfill(p->db, err) < 0)
		goto fail;
	if (v < 5) { /* the steps that edit the schema text */
		long long sv = 0;
		char sql[64];
		if (query_int(p->db, "PRAGMA schema_version", &sv) < 0) {
			db_error(err, p->db, "cannot migrate provenance database '%s'", p->path);
			goto fail;
		}
		snprintf(sql, sizeof(sql), "PRAGMA schema_version = %lld", sv + 1);
		if (exec_sql(p, sql, err) < 0)
			goto fail;
	}
	if (v < PROV_SCHEMA_VERSION) {
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", PROV_SCHEMA_VERSION);
		if (exec_sql(p, sql, err) < 0)
			goto fail;
	}
	if (exec_sql(p, "COMMIT", err) < 0)
		goto fail;
	return 0;
fail:
	sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * Keep <db>-wal and <db>-shm when the writer closes (SQLITE_FCNTL_PERSIST_WAL),
 * so that readers without write access to the store (an auditor's account, a
 * read-only mount, `sqlite3 -readonly`) find them and can open the database:
 * SQLite deletes both on the last close otherwise, and a reader that cannot
 * create them cannot read a WAL database. The journal size limit makes the
 * checkpoint on close truncate the kept WAL to zero bytes (and bounds it
 * while running).
 */
static int keep_wal(struct prov *p, struct strbuf *err)
{
	int on = 1;
	if (sqlite3_file_control(p->db, "main", SQLITE_FCNTL_PERSIST_WAL, &on) != SQLITE_OK) {
		db_error(err, p->db, "provenance database '%s': cannot keep the WAL", p->path);
		return -1;
	}
	return exec_sql(p, "PRAGMA journal_size_limit = 67108864", err);
}

static int prepare(struct prov *p, sqlite3_stmt **st, const char *sql, struct strbuf *err)
{
	if (sqlite3_prepare_v3(p->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
		db_error(err, p->db, "provenance database '%s': cannot prepare statement", p->path);
		return -1;
	}
	return 0;
}

static int prepare_writes(struct prov *p, struct strbuf *err)
{
	if (prepare(p, &p->ins_exec,
		    "INSERT INTO executions (run_id, stage_id, kind, model, variant, evaluation,"
		    " cache_key, status, reason, argv_json, env_json, cache_record, output_digest,"
		    " output_files, output_bytes, exit_code, term_signal, timed_out, started, ended,"
		    " wall_s, cpu_s, peak_rss_kb, stdout_digest, stderr_digest, executor, job_id,"
		    " host, queue, queue_wait_s, over_memory, mem_enforcement)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
		    " ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32)",
		    err) < 0)
		return -1;
	if (prepare(p, &p->ins_hit,
		    "INSERT INTO executions (id, run_id, stage_id, kind, model, variant, evaluation,"
		    " cache_key, status, output_digest, timed_out, record_hash)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'cached', ?9, 0, ?10)",
		    err) < 0)
		return -1;
	if (prepare(p, &p->ins_input,
		    "INSERT INTO inputs (execution_id, name, stage_id, digest, source)"
		    " VALUES (?, ?, ?, ?, ?)",
		    err) < 0)
		return -1;
	if (prepare(p, &p->ins_artifact,
		    "INSERT OR IGNORE INTO artifacts (digest, files, bytes, first_execution_id)"
		    " VALUES (?, ?, ?, ?)",
		    err) < 0)
		return -1;
	if (prepare(p, &p->ins_metric,
		    "INSERT INTO metrics (execution_id, stage_id, evaluation, model, variant, metric,"
		    " value, n, ci_low, ci_high) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		    err) < 0)
		return -1;
	return 0;
}

/*
 * How a reader opens the file. PLAIN is SQLITE_OPEN_READONLY (what SQLite
 * calls mode=ro): it reads the WAL through <db>-shm, which must exist or be
 * creatable; a read-only -shm is fine (SQLite then builds the WAL index in
 * private memory). IMMUTABLE (URI immutable=1) reads the main file alone,
 * without locks; only used when there is no WAL content to miss (see
 * prov_open_readonly).
 */
enum ro_mode { RO_PLAIN, RO_IMMUTABLE };

/* "file:" URI for path with immutable=1; '%', '?', '#' and bytes outside
 * printable ASCII are %-escaped. */
static void immutable_uri(const char *path, struct strbuf *uri)
{
	strbuf_addstr(uri, "file:");
	for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
		if (*c == '%' || *c == '?' || *c == '#' || *c <= ' ' || *c >= 0x7f)
			strbuf_addf(uri, "%%%02X", *c);
		else
			strbuf_addch(uri, (char)*c);
	}
	strbuf_addstr(uri, "?immutable=1");
}

static int open_common(struct prov **out, const char *path, int readonly, enum ro_mode mode,
		       struct strbuf *err)
{
	struct prov *p = xcalloc(1, sizeof(*p));
	p->path = xstrdup(path);
	p->readonly = readonly;
	int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	long long v = 0;
	struct strbuf uri = STRBUF_INIT;
	const char *name = path;

	*out = NULL;
	if (readonly && mode == RO_IMMUTABLE) {
		immutable_uri(path, &uri);
		name = uri.buf;
		flags |= SQLITE_OPEN_URI;
	}
	int orc = sqlite3_open_v2(name, &p->db, flags, NULL);
	strbuf_release(&uri);
	if (orc != SQLITE_OK) {
		db_error(err, p->db, "cannot open provenance database '%s'", path);
		goto fail;
	}
	sqlite3_extended_result_codes(p->db, 1);
	sqlite3_busy_timeout(p->db, 5000);
	if (exec_sql(p, "PRAGMA foreign_keys = ON", err) < 0)
		goto fail;
	if (readonly) {
		if (exec_sql(p, "PRAGMA query_only = ON", err) < 0 || check_schema(p, &v, err) < 0)
			goto fail;
		if (v < PROV_SCHEMA_VERSION) {
			strbuf_addf(err,
				    "provenance database '%s' has schema version %lld, older than %d;"
				    " run a study with this store to upgrade it",
				    path, v, PROV_SCHEMA_VERSION);
			goto fail;
		}
	} else {
		/* Check before switching to WAL so a foreign database is left untouched. */
		if (check_schema(p, &v, err) < 0 ||
		    exec_sql(p, "PRAGMA journal_mode = WAL", err) < 0 ||
		    exec_sql(p, "PRAGMA synchronous = NORMAL", err) < 0 || keep_wal(p, err) < 0 ||
		    migrate(p, err) < 0 || prepare_writes(p, err) < 0)
			goto fail;
	}
	*out = p;
	return 0;
fail:
	prov_close(p);
	return -1;
}

int prov_open(struct prov **p, const char *path, struct strbuf *err)
{
	return open_common(p, path, 0, RO_PLAIN, err);
}

/* A reader that cannot create <db>-wal or <db>-shm fails with one of these. */
static int is_access_error(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN || rc == SQLITE_PERM ||
	       rc == SQLITE_AUTH;
}

/* 1 when <path><suffix> exists and is not empty, 0 when absent or empty,
 * -1 when it cannot be examined. */
static int side_file_has_data(const char *path, const char *suffix)
{
	struct strbuf f = STRBUF_INIT;
	struct stat sb;
	strbuf_addf(&f, "%s%s", path, suffix);
	int r = stat(f.buf, &sb);
	int e = errno;
	strbuf_release(&f);
	if (r < 0)
		return e == ENOENT ? 0 : -1;
	return sb.st_size > 0;
}

int prov_open_readonly(struct prov **p, const char *path, struct strbuf *err)
{
	struct stat sb;
	if (stat(path, &sb) < 0) {
		*p = NULL;
		if (errno == ENOENT)
			strbuf_addf(err, "no provenance database at '%s'", path);
		else
			strbuf_addf(err, "cannot open provenance database '%s': %s", path,
				    strerror(errno));
		return -1;
	}
	if (open_common(p, path, 1, RO_PLAIN, err) == 0)
		return 0;
	/*
	 * A reader without write access to the store's directory cannot create
	 * <db>-wal/<db>-shm. Writers keep both (keep_wal), so this only happens
	 * with a database last closed by something that deletes them (an older
	 * study, the sqlite3 shell run by the owner). With no WAL content there
	 * is nothing outside the main file: read it as immutable. With WAL
	 * content but no usable -shm, refuse rather than show stale data.
	 */
	struct sqlite3 *probe = NULL;
	int rc = sqlite3_open_v2(path, &probe, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(probe, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
	rc = sqlite3_extended_errcode(probe) ? sqlite3_extended_errcode(probe) : rc;
	sqlite3_close(probe);
	if (!is_access_error(rc))
		return -1;
	int wal = side_file_has_data(path, "-wal");
	if (wal != 0) {
		strbuf_reset(err);
		strbuf_addf(err,
			    "provenance database '%s' has changes in its write-ahead log '%s-wal'"
			    " that cannot be read without write access to its directory; open it"
			    " once with write access (any study command run by the store's"
			    " owner), then read it again",
			    path, path);
		return -1;
	}
	strbuf_reset(err);
	return open_common(p, path, 1, RO_IMMUTABLE, err);
}

void prov_close(struct prov *p)
{
	if (!p)
		return;
	sqlite3_finalize(p->ins_exec);
	sqlite3_finalize(p->ins_input);
	sqlite3_finalize(p->ins_artifact);
	sqlite3_finalize(p->ins_metric);
	sqlite3_finalize(p->ins_hit);
	sqlite3_finalize(p->chain_st[0]);
	sqlite3_finalize(p->chain_st[1]);
	sqlite3_close(p->db);
	free(p->path);
	free(p);
}

int prov_begin(struct prov *p, struct strbuf *err)
{
	p->next_exec_id = 0;
	return exec_sql(p, p->readonly ? "BEGIN" : "BEGIN IMMEDIATE", err);
}

int prov_commit(struct prov *p, struct strbuf *err)
{
	if (exec_sql(p, "COMMIT", err) < 0) {
		prov_rollback(p);
		return -1;
	}
	return 0;
}

int prov_rollback(struct prov *p)
{
	p->next_exec_id = 0;
	if (sqlite3_get_autocommit(p->db))
		return 0; /* no transaction open */
	return sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static double now_unix(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Run a one-shot write statement; `bind` has filled its parameters. */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Seal (chain_seal_run) every ended run that has no record hash yet: the runs
 * just marked interrupted. Own transaction unless the caller has one open. */
static int seal_unsealed_runs(struct prov *p, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int64_t *ids = NULL;
	size_t nr = 0, alloc = 0;
	int rc, own = sqlite3_get_autocommit(p->db);
	if (own && exec_sql(p, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (sqlite3_prepare_v2(p->db,
			       "SELECT id FROM runs WHERE record_hash IS NULL AND status != 'running'"
			       " ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		XGROW(ids, alloc, nr + 1);
		ids[nr++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE)
		goto dberr;
	for (size_t i = 0; i < nr; i++)
		if (chain_seal_run(p->db, ids[i], err) < 0)
			goto fail;
	free(ids);
	if (own && exec_sql(p, "COMMIT", err) < 0)
		goto fail_noids;
	return 0;
dberr:
	db_error(err, p->db, "cannot seal runs in '%s'", p->path);
fail:
	free(ids);
fail_noids:
	sqlite3_finalize(st);
	if (own)
		sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int prov_mark_interrupted(struct prov *p, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;
	if (sqlite3_prepare_v2(p->db,
			       /* a killed run never wrote its counts: take them from the
				* rows it committed (the stages it never reached are not
				* known: the plan died with the process) */
			       "UPDATE runs SET status = 'interrupted', ended = coalesce(ended, ?),"
			       " ran = (SELECT count(*) FROM executions x"
			       "  WHERE x.run_id = runs.id AND x.status = 'ran'),"
			       " cached = (SELECT count(*) FROM executions x"
			       "  WHERE x.run_id = runs.id AND x.status = 'cached'),"
			       " failed = (SELECT count(*) FROM executions x"
			       "  WHERE x.run_id = runs.id AND x.status = 'failed'),"
			       " skipped = (SELECT count(*) FROM executions x"
			       "  WHERE x.run_id = runs.id AND x.status = 'skipped')"
			       " WHERE status = 'running'",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_double(st, 1, now_unix());
	ret = step_done(st);
	if (ret == 0)
		ret = seal_unsealed_runs(p, err);
out:
	if (ret < 0 && !err->len)
		db_error(err, p->db, "cannot mark interrupted runs in '%s'", p->path);
	sqlite3_finalize(st);
	return ret;
}

int prov_run_begin(struct prov *p, const struct prov_run *r, int64_t *run_id, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;
	if (sqlite3_prepare_v2(p->db,
			       "INSERT INTO runs (study_name, study_path, study_digest, git_commit,"
			       " git_branch, git_dirty, tool_version, host, user, argv_json, cwd,"
			       " started, status, prev_hash)"
			       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	bind_text(st, 1, r->study_name ? r->study_name : "");
	bind_text(st, 2, r->study_path ? r->study_path : "");
	bind_text(st, 3, r->study_digest ? r->study_digest : "");
	bind_text(st, 4, r->git_commit);
	bind_text(st, 5, r->git_branch);
	if (r->git_dirty == 0 || r->git_dirty == 1)
		sqlite3_bind_int(st, 6, r->git_dirty);
	else
		sqlite3_bind_null(st, 6);
	bind_text(st, 7, r->tool_version ? r->tool_version : "");
	bind_text(st, 8, r->host);
	bind_text(st, 9, r->user);
	bind_text(st, 10, r->argv_json ? r->argv_json : "[]");
	bind_text(st, 11, r->cwd);
	sqlite3_bind_double(st, 12, r->started);
	char prev[HASH_HEX_SIZE];
	if (chain_head(p->db, prev, err) < 0) {
		sqlite3_finalize(st);
		return -1;
	}
	/* an unsealed previous run leaves prev_hash NULL: verify reports the break */
	bind_text(st, 13, prev[0] ? prev : NULL);
	if (step_done(st) < 0)
		goto out;
	*run_id = sqlite3_last_insert_rowid(p->db);
	ret = 0;
out:
	if (ret < 0)
		db_error(err, p->db, "cannot record the run of study '%s'",
			 r->study_name ? r->study_name : "");
	sqlite3_finalize(st);
	return ret;
}

int prov_run_set_git(struct prov *p, int64_t run_id, const char *commit, const char *branch,
		     int dirty, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(p->db,
			       "UPDATE runs SET git_commit = ?, git_branch = ?, git_dirty = ?"
			       " WHERE id = ? AND status = 'running'",
			       -1, &st, NULL) == SQLITE_OK) {
		bind_text(st, 1, commit);
		bind_text(st, 2, branch);
		if (dirty == 0 || dirty == 1)
			sqlite3_bind_int(st, 3, dirty);
		sqlite3_bind_int64(st, 4, run_id);
		rc = step_done(st);
	}
	if (rc < 0)
		strbuf_addf(err, "cannot record the git state of run %lld in '%s': %s",
			    (long long)run_id, p->path, sqlite3_errmsg(p->db));
	sqlite3_finalize(st);
	return rc;
}

int prov_record_job(struct prov *p, int64_t run_id, const char *stage_id, const char *cache_key,
		    const char *executor, const char *job_id, double submitted,
		    struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(p->db,
			       "INSERT INTO jobs (run_id, stage_id, cache_key, executor, job_id,"
			       " submitted) VALUES (?, ?, ?, ?, ?, ?)",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, run_id);
		bind_text(st, 2, stage_id);
		bind_text(st, 3, cache_key);
		bind_text(st, 4, executor);
		bind_text(st, 5, job_id);
		sqlite3_bind_double(st, 6, submitted);
		rc = step_done(st);
	}
	if (rc < 0)
		strbuf_addf(err, "cannot record job %s of stage '%s' in '%s': %s", job_id, stage_id,
			    p->path, sqlite3_errmsg(p->db));
	sqlite3_finalize(st);
	return rc;
}

int prov_run_end(struct prov *p, int64_t run_id, const char *status, double ended, int ran,
		 int cached, int failed, int skipped, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;
	char idbuf[32];
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)run_id);
	/* the update and the seal (chain_seal_run) commit together */
	int own = sqlite3_get_autocommit(p->db);
	if (own && exec_sql(p, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (sqlite3_prepare_v2(p->db,
			       "UPDATE runs SET status = ?, ended = ?, ran = ?, cached = ?, failed = ?,"
			       " skipped = ? WHERE id = ?",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	bind_text(st, 1, status);
	sqlite3_bind_double(st, 2, ended);
	sqlite3_bind_int(st, 3, ran);
	sqlite3_bind_int(st, 4, cached);
	sqlite3_bind_int(st, 5, failed);
	sqlite3_bind_int(st, 6, skipped);
	sqlite3_bind_int64(st, 7, run_id);
	if (step_done(st) < 0)
		goto out;
	if (sqlite3_changes(p->db) != 1) {
		strbuf_addf(err, "cannot end run %s: no such run in '%s'", idbuf, p->path);
		sqlite3_finalize(st);
		if (own)
			sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (chain_seal_run(p->db, run_id, err) < 0 || (own && exec_sql(p, "COMMIT", err) < 0)) {
		sqlite3_finalize(st);
		if (own)
			sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	ret = 0;
out:
	if (ret < 0) {
		db_error(err, p->db, "cannot end run %s", idbuf);
		if (own)
			sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
	}
	sqlite3_finalize(st);
	return ret;
}

/* ---- executions ---- */

struct metric_sink {
	struct prov *p;
	int64_t exec_id;
	const char *stage_id;
	struct strbuf *err;
};

static int insert_metric(const struct metric *m, void *data)
{
	struct metric_sink *s = data;
	sqlite3_stmt *st = s->p->ins_metric;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, s->exec_id);
	bind_text(st, 2, s->stage_id);
	bind_text(st, 3, m->evaluation);
	bind_text(st, 4, m->model);
	bind_text(st, 5, m->variant);
	bind_text(st, 6, m->name);
	sqlite3_bind_double(st, 7, m->value);
	if (m->has_n)
		sqlite3_bind_int64(st, 8, m->n);
	else
		sqlite3_bind_null(st, 8);
	if (m->has_ci_low)
		sqlite3_bind_double(st, 9, m->ci_low);
	else
		sqlite3_bind_null(st, 9);
	if (m->has_ci_high)
		sqlite3_bind_double(st, 10, m->ci_high);
	else
		sqlite3_bind_null(st, 10);
	int rc = step_done(st);
	sqlite3_clear_bindings(st);
	if (rc < 0)
		db_error(s->err, s->p->db, "cannot record metrics of stage '%s'", s->stage_id);
	return rc;
}

static int valid_status(const char *s)
{
	return s && (!strcmp(s, "ran") || !strcmp(s, "cached") || !strcmp(s, "failed") ||
		     !strcmp(s, "skipped") || !strcmp(s, "interrupted") ||
		     !strcmp(s, "not-started") || !strcmp(s, "retried"));
}

static void bind_time(sqlite3_stmt *st, int i, double t)
{
	if (t > 0)
		sqlite3_bind_double(st, i, t);
	else
		sqlite3_bind_null(st, i);
}

static int insert_exec_row(struct prov *p, const struct prov_exec *e)
{
	sqlite3_stmt *st = p->ins_exec;
	int run = e->started > 0; /* a process was started */
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_int64(st, 1, e->run_id);
	bind_text(st, 2, e->stage_id);
	bind_text(st, 3, e->kind);
	bind_text(st, 4, e->model);
	bind_text(st, 5, e->variant);
	bind_text(st, 6, e->evaluation);
	bind_text(st, 7, e->cache_key);
	bind_text(st, 8, e->status);
	bind_text(st, 9, e->reason);
	bind_text(st, 10, e->argv_json);
	bind_text(st, 11, e->env_json);
	bind_text(st, 12, e->cache_record);
	bind_text(st, 13, e->output_digest);
	if (e->output_digest) {
		sqlite3_bind_int64(st, 14, (sqlite3_int64)e->output_files);
		sqlite3_bind_int64(st, 15, (sqlite3_int64)e->output_bytes);
	}
	if (run) {
		sqlite3_bind_int(st, 16, e->exit_code);
		sqlite3_bind_int(st, 17, e->term_signal);
	}
	sqlite3_bind_int(st, 18, e->timed_out ? 1 : 0);
	bind_time(st, 19, e->started);
	bind_time(st, 20, e->ended);
	if (run && e->ended >= e->started)
		sqlite3_bind_double(st, 21, e->ended - e->started);
	if (run && e->cpu_s >= 0)
		sqlite3_bind_double(st, 22, e->cpu_s);
	if (run && e->peak_rss_kb >= 0)
		sqlite3_bind_int64(st, 23, e->peak_rss_kb);
	bind_text(st, 24, e->stdout_digest);
	bind_text(st, 25, e->stderr_digest);
	if (run && e->executor) { /* schema 6: where and how it ran */
		bind_text(st, 26, e->executor);
		bind_text(st, 27, e->job_id);
		bind_text(st, 28, e->host);
		bind_text(st, 29, e->queue);
		if (e->queue_wait_s >= 0)
			sqlite3_bind_double(st, 30, e->queue_wait_s);
		sqlite3_bind_int(st, 31, e->over_memory ? 1 : 0);
		bind_text(st, 32, e->mem_enforcement);
	}
	return step_done(st);
}

/* The id the next execution row gets: ids are max(id) + 1 (INTEGER PRIMARY
 * KEY, rows are never deleted) and the store's writer lock makes this process
 * the only writer inside its transaction. */
static int next_exec_id(struct prov *p, int64_t *id)
{
	if (!p->next_exec_id) {
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(p->db, "SELECT coalesce(max(id), 0) + 1 FROM executions", -1,
				       &st, NULL) != SQLITE_OK)
			return -1;
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			p->next_exec_id = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW)
			return -1;
	}
	*id = p->next_exec_id;
	return 0;
}

static struct chain_value text_value(const char *s)
{
	struct chain_value v = { s ? CHAIN_TEXT : CHAIN_NULL, 0, s };
	return v;
}

static struct chain_value int_value(long long i)
{
	struct chain_value v = { CHAIN_INT, i, NULL };
	return v;
}

/* A cache hit: one row naming the stage, its key and the output it reuses,
 * sealed from these values (no inputs, no metrics, no reals) and inserted
 * with its record_hash in one statement. The output's artifacts row is its
 * producer's. */
static int record_hit(struct prov *p, const struct prov_exec *e, int64_t *exec_id,
		      struct strbuf *err)
{
	int64_t id;
	if (next_exec_id(p, &id) < 0)
		goto dberr;
	struct chain_value v[CX_NR];
	memset(v, 0, sizeof(v)); /* CHAIN_NULL */
	v[CX_ID] = int_value(id);
	v[CX_RUN_ID] = int_value(e->run_id);
	v[CX_STAGE_ID] = text_value(e->stage_id);
	v[CX_KIND] = text_value(e->kind);
	v[CX_MODEL] = text_value(e->model);
	v[CX_VARIANT] = text_value(e->variant);
	v[CX_EVALUATION] = text_value(e->evaluation);
	v[CX_CACHE_KEY] = text_value(e->cache_key);
	v[CX_STATUS] = text_value("cached");
	v[CX_OUTPUT_DIGEST] = text_value(e->output_digest);
	v[CX_TIMED_OUT] = int_value(0);
	struct strbuf text = STRBUF_INIT;
	char hex[HASH_HEX_SIZE];
	chain_exec_text_values(v, &text);
	hash_buf_hex(text.buf, text.len, hex);
	strbuf_release(&text);

	sqlite3_stmt *st = p->ins_hit;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, e->run_id);
	bind_text(st, 3, e->stage_id);
	bind_text(st, 4, e->kind);
	bind_text(st, 5, e->model);
	bind_text(st, 6, e->variant);
	bind_text(st, 7, e->evaluation);
	bind_text(st, 8, e->cache_key);
	bind_text(st, 9, e->output_digest);
	sqlite3_bind_text(st, 10, hex, -1, SQLITE_STATIC);
	if (step_done(st) < 0)
		goto dberr;
	p->next_exec_id = id + 1;
	if (exec_id)
		*exec_id = id;
	return 0;
dberr:
	p->next_exec_id = 0;
	db_error(err, p->db, "cannot record stage '%s'", e->stage_id);
	return -1;
}

int prov_record_exec(struct prov *p, const struct prov_exec *e, int64_t *exec_id,
		     struct strbuf *err)
{
	const char *sid = e->stage_id ? e->stage_id : "";
	int want_metrics = e->metrics_json && e->status && !strcmp(e->status, "ran");

	if (!e->stage_id || !*e->stage_id) {
		strbuf_addstr(err, "cannot record an execution without a stage id");
		return -1;
	}
	if (!valid_status(e->status)) {
		strbuf_addf(err, "stage '%s': invalid execution status '%s'", sid,
			    e->status ? e->status : "(null)");
		return -1;
	}
	if (!strcmp(e->status, "cached"))
		return record_hit(p, e, exec_id, err);
	/* Validate metrics before writing anything: a bad file records nothing. */
	if (want_metrics && metrics_parse(sid, e->metrics_json, e->evaluation, e->model,
					       e->variant, NULL, NULL, err) < 0)
		return -1;

	if (insert_exec_row(p, e) < 0)
		goto dberr;
	int64_t id = sqlite3_last_insert_rowid(p->db);
	p->next_exec_id = id + 1;

	for (size_t i = 0; i < e->inputs_nr; i++) {
		const struct prov_input *in = &e->inputs[i];
		sqlite3_stmt *st = p->ins_input;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, in->name);
		bind_text(st, 3, in->stage);
		bind_text(st, 4, in->digest);
		bind_text(st, 5, in->source);
		if (step_done(st) < 0)
			goto dberr;
	}
	if (e->output_digest) {
		sqlite3_stmt *st = p->ins_artifact;
		sqlite3_reset(st);
		bind_text(st, 1, e->output_digest);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)e->output_files);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)e->output_bytes);
		sqlite3_bind_int64(st, 4, id);
		if (step_done(st) < 0)
			goto dberr;
	}
	if (want_metrics) {
		struct metric_sink sink = { p, id, sid, err };
		if (metrics_parse(sid, e->metrics_json, e->evaluation, e->model, e->variant,
				       insert_metric, &sink, err) < 0)
			return -1;
	}
	/* the row, its inputs and metrics are final: seal them */
	if (chain_seal_exec_cached(p->db, p->chain_st, id, err) < 0)
		return -1;
	if (exec_id)
		*exec_id = id;
	return 0;
dberr:
	p->next_exec_id = 0;
	db_error(err, p->db, "cannot record stage '%s'", sid);
	return -1;
}

int prov_lookup_output(struct prov *p, const char *cache_key, char tree_hex[65])
{
	sqlite3_stmt *st = NULL;
	int ret = -1;
	if (sqlite3_prepare_v2(p->db,
			       "SELECT output_digest FROM executions WHERE cache_key = ?"
			       " AND status = 'ran' AND output_digest IS NOT NULL"
			       " ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	bind_text(st, 1, cache_key);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 0);
		size_t n = d ? strlen(d) : 0;
		if (n > 64)
			n = 64;
		memcpy(tree_hex, d ? d : "", n);
		tree_hex[n] = '\0';
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	}
	sqlite3_finalize(st);
	return ret;
}

/* ---- study gc (pipeline/gc.h) ---- */

int prov_gc_begin(struct prov *p, const struct prov_gc *g, int64_t *gc_id, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;
	if (sqlite3_prepare_v2(p->db,
			       "INSERT INTO gc_runs (started, keep_runs, kept_runs, last_run, study_path,"
			       " host, user, trees, objects, cache_entries, bytes)"
			       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_double(st, 1, g->started);
		sqlite3_bind_int64(st, 2, g->keep_runs);
		bind_text(st, 3, g->kept_runs_json ? g->kept_runs_json : "[]");
		if (g->last_run > 0)
			sqlite3_bind_int64(st, 4, g->last_run);
		bind_text(st, 5, g->study_path);
		bind_text(st, 6, g->host);
		bind_text(st, 7, g->user);
		sqlite3_bind_int64(st, 8, g->trees);
		sqlite3_bind_int64(st, 9, g->objects);
		sqlite3_bind_int64(st, 10, g->cache_entries);
		sqlite3_bind_int64(st, 11, g->bytes);
		ret = step_done(st);
	}
	if (ret == 0)
		*gc_id = sqlite3_last_insert_rowid(p->db);
	else
		db_error(err, p->db, "cannot record the collection in '%s'", p->path);
	sqlite3_finalize(st);
	return ret;
}

int prov_gc_record(struct prov *p, int64_t gc_id, const struct prov_gc_item *items, size_t nr,
		   struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;
	if (sqlite3_prepare_v2(p->db,
			       "INSERT INTO gc_collected (gc_id, kind, digest, bytes) VALUES (?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < nr; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, gc_id);
		bind_text(st, 2, items[i].kind);
		bind_text(st, 3, items[i].digest);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)items[i].bytes);
		if (step_done(st) < 0)
			goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		db_error(err, p->db, "cannot record what the collection removes in '%s'", p->path);
	sqlite3_finalize(st);
	return ret;
}

int prov_gc_end(struct prov *p, int64_t gc_id, double ended, long long trees, long long objects,
		long long cache_entries, long long bytes, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;
	int own = sqlite3_get_autocommit(p->db);
	if (own && exec_sql(p, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (sqlite3_prepare_v2(p->db,
			       "UPDATE gc_runs SET ended = ?, trees = ?, objects = ?, cache_entries = ?,"
			       " bytes = ? WHERE id = ?",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_double(st, 1, ended);
		sqlite3_bind_int64(st, 2, trees);
		sqlite3_bind_int64(st, 3, objects);
		sqlite3_bind_int64(st, 4, cache_entries);
		sqlite3_bind_int64(st, 5, bytes);
		sqlite3_bind_int64(st, 6, gc_id);
		ret = step_done(st);
	}
	if (ret < 0)
		db_error(err, p->db, "cannot record the end of the collection in '%s'", p->path);
	sqlite3_finalize(st);
	if (own) {
		if (ret == 0 && exec_sql(p, "COMMIT", err) < 0)
			ret = -1;
		if (ret < 0)
			sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return ret;
}
