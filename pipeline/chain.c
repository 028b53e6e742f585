/*
 * chain: canonical content of provenance rows and the hash chain over them
 * (see chain.h and docs/auditing.md). The canonical text is produced by SQLite
 * itself from one SELECT per record, so that the code, and an auditor with the
 * sqlite3 shell and sha256sum, compute it the same way.
 */
#include "chain.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

/* In the order of enum chain_exec_col (chain.h): the columns always on the
 * line, then those of schema 6, on it when one of them is not NULL. */
static const char *const exec_cols[CX_BASE_NR + 1] = {
	"id", "run_id", "stage_id", "kind", "model", "variant", "evaluation", "cache_key",
	"status", "reason", "argv_json", "env_json", "cache_record", "output_digest",
	"output_files", "output_bytes", "exit_code", "term_signal", "timed_out", "started",
	"ended", "wall_s", "cpu_s", "peak_rss_kb", "stdout_digest", "stderr_digest", NULL,
};
static const char *const exec_cols_v6[CX_NR - CX_BASE_NR + 1] = {
	"executor", "job_id", "host", "queue", "queue_wait_s", "over_memory", "mem_enforcement",
	NULL,
};
static const char *const input_cols[] = { "name", "stage_id", "digest", NULL };
static const char *const metric_cols[] = {
	"stage_id", "evaluation", "model", "variant", "metric", "value", "n", "ci_low", "ci_high",
	NULL,
};
static const char *const run_cols[] = {
	"id", "study_name", "study_path", "study_digest", "git_commit", "git_branch",
	"git_dirty", "tool_version", "host", "user", "argv_json", "cwd", "started", "ended",
	"status", "ran", "cached", "failed", "skipped", "prev_hash", NULL,
};

static void add_field(struct strbuf *sql, const char *col)
{
	strbuf_addf(sql,
		    "CASE typeof(%s) WHEN 'null' THEN '-' WHEN 'integer' THEN 'i' || %s"
		    " WHEN 'real' THEN 'r' || printf('%%.12e', %s) ELSE 'x' || hex(%s) END",
		    col, col, col, col);
}

static void add_line(struct strbuf *sql, const char *tag, const char *const *cols)
{
	strbuf_addf(sql, "'%s'", tag);
	for (size_t i = 0; cols[i]; i++) {
		strbuf_addstr(sql, "\n    || '|' || ");
		add_field(sql, cols[i]);
	}
}

const char *chain_exec_sql(void)
{
	static char *sql;
	if (!sql) {
		struct strbuf sb = STRBUF_INIT;
		strbuf_addstr(&sb, "SELECT line FROM (\n  SELECT 0 AS k, 0 AS r, ");
		add_line(&sb, "exec", exec_cols);
		strbuf_addstr(&sb, "\n    || CASE WHEN coalesce(");
		for (size_t i = 0; exec_cols_v6[i]; i++)
			strbuf_addf(&sb, "%s%s", i ? ", " : "", exec_cols_v6[i]);
		strbuf_addstr(&sb, ") IS NULL THEN '' ELSE ''");
		for (size_t i = 0; exec_cols_v6[i]; i++) {
			strbuf_addstr(&sb, "\n      || '|' || ");
			add_field(&sb, exec_cols_v6[i]);
		}
		strbuf_addstr(&sb, " END");
		strbuf_addstr(&sb, " AS line\n  FROM executions WHERE id = :id\n"
				   "  UNION ALL SELECT 1, rowid, ");
		add_line(&sb, "input", input_cols);
		/* an external input's original path (schema 5): only when there is
		 * one, so that every row recorded before keeps its text and hash */
		strbuf_addstr(&sb, "\n    || CASE WHEN source IS NULL THEN '' ELSE '|' || ");
		add_field(&sb, "source");
		strbuf_addstr(&sb, " END");
		strbuf_addstr(&sb, "\n  FROM inputs WHERE execution_id = :id\n"
				   "  UNION ALL SELECT 2, rowid, ");
		add_line(&sb, "metric", metric_cols);
		strbuf_addstr(&sb, "\n  FROM metrics WHERE execution_id = :id\n) ORDER BY k, r;");
		sql = strbuf_detach(&sb, NULL);
	}
	return sql;
}

const char *chain_run_sql(void)
{
	static char *sql;
	if (!sql) {
		struct strbuf sb = STRBUF_INIT;
		static const char *const exec_ref[] = { "id", "record_hash", NULL };
		strbuf_addstr(&sb, "SELECT line FROM (\n  SELECT 0 AS k, 0 AS r, ");
		add_line(&sb, "run", run_cols);
		strbuf_addstr(&sb, " AS line\n  FROM runs WHERE id = :id\n"
				   "  UNION ALL SELECT 1, id, ");
		add_line(&sb, "exec", exec_ref);
		strbuf_addstr(&sb, "\n  FROM executions WHERE run_id = :id\n) ORDER BY k, r;");
		sql = strbuf_detach(&sb, NULL);
	}
	return sql;
}

/* Run a canonical SELECT; with `cache` the prepared statement is kept there
 * (the caller finalizes it) instead of being prepared and finalized here. */
static int canonical_text(sqlite3 *db, sqlite3_stmt **cache, const char *sql, const char *what,
			  int64_t id, struct strbuf *out, struct strbuf *err)
{
	sqlite3_stmt *st = cache ? *cache : NULL;
	int rc, rows = 0;
	if (!st && sqlite3_prepare_v3(db, sql, -1, cache ? SQLITE_PREPARE_PERSISTENT : 0, &st,
				      NULL) != SQLITE_OK) {
		strbuf_addf(err, "cannot compute the record hash of %s %lld: %s", what,
			    (long long)id, sqlite3_errmsg(db));
		return -1;
	}
	if (cache) {
		*cache = st;
		sqlite3_reset(st);
	}
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":id"), id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *t = sqlite3_column_text(st, 0);
		strbuf_add(out, t ? t : "", (size_t)sqlite3_column_bytes(st, 0));
		strbuf_addch(out, '\n');
		rows++;
	}
	if (rc != SQLITE_DONE)
		strbuf_addf(err, "cannot compute the record hash of %s %lld: %s", what,
			    (long long)id, sqlite3_errmsg(db));
	if (cache)
		sqlite3_reset(st);
	else
		sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (!rows) {
		strbuf_addf(err, "no %s %lld in the provenance database", what, (long long)id);
		return -1;
	}
	return 0;
}

/* One field as the SELECTs encode it: '-', 'i<decimal>' or 'x<HEX>'. */
static void add_value(struct strbuf *out, const struct chain_value *v)
{
	static const char digits[] = "0123456789ABCDEF";
	switch (v->type) {
	case CHAIN_NULL: strbuf_addch(out, '-'); return;
	case CHAIN_INT: strbuf_addf(out, "i%lld", v->i); return;
	case CHAIN_TEXT: break;
	}
	size_t n = strlen(v->s);
	strbuf_grow(out, 2 * n + 1);
	char *d = out->buf + out->len;
	*d++ = 'x';
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)v->s[k];
		*d++ = digits[c >> 4];
		*d++ = digits[c & 15];
	}
	strbuf_setlen(out, out->len + 2 * n + 1);
}

void chain_exec_text_values(const struct chain_value vals[CX_NR], struct strbuf *out)
{
	size_t n = CX_BASE_NR;
	for (size_t i = CX_BASE_NR; i < CX_NR; i++)
		if (vals[i].type != CHAIN_NULL)
			n = CX_NR;
	strbuf_addstr(out, "exec");
	for (size_t i = 0; i < n; i++) {
		strbuf_addch(out, '|');
		add_value(out, &vals[i]);
	}
	strbuf_addch(out, '\n');
}

int chain_exec_text(sqlite3 *db, int64_t id, struct strbuf *out, struct strbuf *err)
{
	return canonical_text(db, NULL, chain_exec_sql(), "execution", id, out, err);
}

int chain_run_text(sqlite3 *db, int64_t id, struct strbuf *out, struct strbuf *err)
{
	return canonical_text(db, NULL, chain_run_sql(), "run", id, out, err);
}

static int text_hash(int (*fn)(sqlite3 *, int64_t, struct strbuf *, struct strbuf *),
		     sqlite3 *db, int64_t id, char hex[HASH_HEX_SIZE], struct strbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	int rc = fn(db, id, &sb, err);
	if (rc == 0)
		hash_buf_hex(sb.buf, sb.len, hex);
	strbuf_release(&sb);
	return rc;
}

int chain_exec_hash(sqlite3 *db, int64_t id, char hex[HASH_HEX_SIZE], struct strbuf *err)
{
	return text_hash(chain_exec_text, db, id, hex, err);
}

int chain_run_hash(sqlite3 *db, int64_t id, char hex[HASH_HEX_SIZE], struct strbuf *err)
{
	return text_hash(chain_run_text, db, id, hex, err);
}

static int set_text(sqlite3 *db, const char *sql, const char *val, int64_t id,
		    struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
	if (ok) {
		sqlite3_bind_text(st, 1, val, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, id);
		ok = sqlite3_step(st) == SQLITE_DONE;
	}
	if (!ok)
		strbuf_addf(err, "cannot store a record hash: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

int chain_seal_exec(sqlite3 *db, int64_t id, struct strbuf *err)
{
	return chain_seal_exec_cached(db, NULL, id, err);
}

int chain_seal_exec_cached(sqlite3 *db, sqlite3_stmt **cache, int64_t id, struct strbuf *err)
{
	char hex[HASH_HEX_SIZE];
	struct strbuf sb = STRBUF_INIT;
	if (canonical_text(db, cache, chain_exec_sql(), "execution", id, &sb, err) < 0) {
		strbuf_release(&sb);
		return -1;
	}
	hash_buf_hex(sb.buf, sb.len, hex);
	strbuf_release(&sb);
	sqlite3_stmt *up = cache ? cache[1] : NULL;
	if (!up && sqlite3_prepare_v3(db, "UPDATE executions SET record_hash = ? WHERE id = ?", -1,
				      cache ? SQLITE_PREPARE_PERSISTENT : 0, &up,
				      NULL) != SQLITE_OK)
		goto fail;
	if (cache)
		cache[1] = up;
	sqlite3_reset(up);
	sqlite3_bind_text(up, 1, hex, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(up, 2, id);
	int rc = sqlite3_step(up);
	sqlite3_reset(up);
	if (!cache)
		sqlite3_finalize(up);
	if (rc == SQLITE_DONE)
		return 0;
fail:
	strbuf_addf(err, "cannot store a record hash: %s", sqlite3_errmsg(db));
	return -1;
}

/* The run's canonical text as chain_run_sql() prints it, with the run line
 * from SQL (it holds reals) and the per-execution lines built here from
 * (id, record_hash): a run of 10,000 cache hits no longer hex-encodes them
 * in SQL. verify recomputes runs with chain_run_sql() itself, so the two
 * are checked against each other on every verify. */
static int run_text_for_seal(sqlite3 *db, int64_t id, struct strbuf *out, struct strbuf *err)
{
	static char *line_sql;
	if (!line_sql) {
		struct strbuf sb = STRBUF_INIT;
		strbuf_addstr(&sb, "SELECT ");
		add_line(&sb, "run", run_cols);
		strbuf_addstr(&sb, " FROM runs WHERE id = :id;");
		line_sql = strbuf_detach(&sb, NULL);
	}
	if (canonical_text(db, NULL, line_sql, "run", id, out, err) < 0)
		return -1;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT id, record_hash FROM executions WHERE run_id = ?"
			       " ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct chain_value v = { CHAIN_INT, sqlite3_column_int64(st, 0), NULL };
		strbuf_addstr(out, "exec|");
		add_value(out, &v);
		strbuf_addch(out, '|');
		const char *h = (const char *)sqlite3_column_text(st, 1);
		struct chain_value hv = { h ? CHAIN_TEXT : CHAIN_NULL, 0, h };
		add_value(out, &hv);
		strbuf_addch(out, '\n');
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return 0;
fail:
	strbuf_addf(err, "cannot compute the record hash of run %lld: %s", (long long)id,
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return -1;
}

int chain_seal_run(sqlite3 *db, int64_t id, struct strbuf *err)
{
	char hex[HASH_HEX_SIZE];
	struct strbuf text = STRBUF_INIT;
	int rc = run_text_for_seal(db, id, &text, err);
	if (rc == 0)
		hash_buf_hex(text.buf, text.len, hex);
	strbuf_release(&text);
	if (rc < 0)
		return -1;
	return set_text(db, "UPDATE runs SET record_hash = ? WHERE id = ?", hex, id, err);
}

int chain_head(sqlite3 *db, char hex[HASH_HEX_SIZE], struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;
	if (sqlite3_prepare_v2(db, "SELECT record_hash FROM runs ORDER BY id DESC LIMIT 1", -1,
			       &st, NULL) != SQLITE_OK)
		goto out;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		memcpy(hex, CHAIN_ZERO, HASH_HEX_SIZE);
		ret = 1;
	} else if (rc == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 0);
		if (h && hash_hex_valid(h)) {
			memcpy(hex, h, HASH_HEX_SIZE);
			ret = 1;
		} else {
			hex[0] = '\0';
			ret = 0;
		}
	}
out:
	if (ret < 0)
		strbuf_addf(err, "cannot read the hash chain: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ret;
}

/* The ids of a table's rows in order (SELECT returning one integer column). */
static int list_ids(sqlite3 *db, const char *sql, int64_t **ids, size_t *nr,
		    struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	size_t alloc = 0;
	int rc;
	*ids = NULL;
	*nr = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		XGROW(*ids, alloc, *nr + 1);
		(*ids)[(*nr)++] = sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return 0;
fail:
	strbuf_addf(err, "cannot read the provenance database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	free(*ids);
	*ids = NULL;
	return -1;
}

int chain_backfill(sqlite3 *db, struct strbuf *err)
{
	int64_t *ids = NULL;
	size_t nr = 0;
	if (list_ids(db, "SELECT id FROM executions ORDER BY id", &ids, &nr, err) < 0)
		return -1;
	for (size_t i = 0; i < nr; i++)
		if (chain_seal_exec(db, ids[i], err) < 0)
			goto fail;
	free(ids);
	if (list_ids(db, "SELECT id FROM runs ORDER BY id", &ids, &nr, err) < 0)
		return -1;
	char prev[HASH_HEX_SIZE];
	memcpy(prev, CHAIN_ZERO, HASH_HEX_SIZE);
	for (size_t i = 0; i < nr; i++) {
		if (set_text(db, "UPDATE runs SET prev_hash = ? WHERE id = ?", prev, ids[i], err) < 0)
			goto fail;
		if (chain_run_hash(db, ids[i], prev, err) < 0)
			goto fail;
		/* a run still marked running is sealed when it is marked interrupted */
		if (set_text(db,
			     "UPDATE runs SET record_hash = ? WHERE id = ? AND status != 'running'",
			     prev, ids[i], err) < 0)
			goto fail;
	}
	free(ids);
	return 0;
fail:
	free(ids);
	return -1;
}

/* ---- verification ---- */

static void problem(struct chain_check *c, const char *kind, int64_t run, int64_t exec,
		    const char *stage, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void problem(struct chain_check *c, const char *kind, int64_t run, int64_t exec,
		    const char *stage, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (c->problem)
		c->problem(kind, run, exec, stage, sb.buf, c->data);
	strbuf_release(&sb);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int check_execs(sqlite3 *db, struct chain_check *c, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	int64_t orphan_run = -1;
	if (sqlite3_prepare_v2(db,
			       "SELECT e.id, e.run_id, e.stage_id, e.record_hash,"
			       " EXISTS (SELECT 1 FROM runs r WHERE r.id = e.run_id)"
			       " FROM executions e ORDER BY e.id",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), run = sqlite3_column_int64(st, 1);
		char *stage = xstrdup(col_text(st, 2) ? col_text(st, 2) : "");
		const char *rec = col_text(st, 3);
		char want[HASH_HEX_SIZE];
		c->execs++;
		if (!sqlite3_column_int(st, 4)) {
			if (run != orphan_run)
				problem(c, "orphan", run, id, stage,
					"execution %lld (stage %s) and the other executions of run"
					" %lld belong to a run that is not in the database (deleted"
					" run?)",
					(long long)id, stage, (long long)run);
			orphan_run = run;
		}
		if (!rec) {
			problem(c, "exec-hash", run, id, stage,
				"execution %lld (stage %s, run %lld) has no record hash",
				(long long)id, stage, (long long)run);
		} else {
			char *have = xstrdup(rec);
			if (chain_exec_hash(db, id, want, err) < 0) {
				free(have);
				free(stage);
				goto fail_quiet;
			}
			if (strcmp(have, want))
				problem(c, "exec-hash", run, id, stage,
					"execution %lld (stage %s, run %lld): its row, inputs or"
					" metrics do not match its record hash (edited?)",
					(long long)id, stage, (long long)run);
			free(have);
		}
		free(stage);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);

	/* inputs and metrics whose execution is gone */
	if (sqlite3_prepare_v2(db,
			       "SELECT DISTINCT execution_id FROM inputs WHERE execution_id NOT IN"
			       " (SELECT id FROM executions) UNION SELECT execution_id FROM metrics"
			       " WHERE execution_id NOT IN (SELECT id FROM executions) ORDER BY 1",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		problem(c, "orphan", 0, id, NULL,
			"inputs or metrics refer to execution %lld, which is not in the database"
			" (deleted execution?)",
			(long long)id);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return 0;
fail:
	strbuf_addf(err, "cannot read the provenance database: %s", sqlite3_errmsg(db));
fail_quiet:
	sqlite3_finalize(st);
	return -1;
}

static int check_runs(sqlite3 *db, struct chain_check *c, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	char prev[HASH_HEX_SIZE];
	int64_t prev_id = 0;
	int prev_known = 1; /* prev holds the previous run's record hash */
	memcpy(prev, CHAIN_ZERO, HASH_HEX_SIZE);
	c->head[0] = '\0';
	c->head_run = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT id, status, prev_hash, record_hash,"
			       " id = (SELECT max(id) FROM runs) FROM runs ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		char status[32], ph[HASH_HEX_SIZE], rh[HASH_HEX_SIZE];
		int has_rh = col_text(st, 3) != NULL, last = sqlite3_column_int(st, 4);
		snprintf(status, sizeof(status), "%s", col_text(st, 1) ? col_text(st, 1) : "");
		snprintf(ph, sizeof(ph), "%s", col_text(st, 2) ? col_text(st, 2) : "");
		snprintf(rh, sizeof(rh), "%s", has_rh ? col_text(st, 3) : "");
		c->runs++;
		if (prev_known && strcmp(ph, prev)) {
			if (!prev_id)
				problem(c, "chain", id, 0, NULL,
					"run %lld is the first run but its prev_hash is not 64 zeros"
					" (earlier runs deleted or chain edited)",
					(long long)id);
			else
				problem(c, "chain", id, 0, NULL,
					"run %lld: prev_hash does not match the record hash of run %lld"
					" (a run was deleted, inserted, reordered or edited)",
					(long long)id, (long long)prev_id);
		}
		if (!has_rh) {
			if (!strcmp(status, "running") && last) {
				if (c->note) {
					struct strbuf sb = STRBUF_INIT;
					strbuf_addf(&sb,
						    "run %lld is still marked running (in progress, or"
						    " killed: the next run seals it); its executions"
						    " were checked one by one",
						    (long long)id);
					c->note("unsealed", id, 0, NULL, sb.buf, c->data);
					strbuf_release(&sb);
				}
			} else {
				problem(c, "unsealed", id, 0, NULL,
					"run %lld (status '%s') has no record hash", (long long)id,
					status);
			}
			prev_known = 0;
		} else {
			char want[HASH_HEX_SIZE];
			if (chain_run_hash(db, id, want, err) < 0)
				goto fail_quiet;
			if (strcmp(want, rh))
				problem(c, "run-hash", id, 0, NULL,
					"run %lld: its row or its list of executions does not match its"
					" record hash (edited, or executions added or deleted?)",
					(long long)id);
			memcpy(prev, rh, HASH_HEX_SIZE);
			prev_known = 1;
		}
		prev_id = id;
		memcpy(c->head, rh, HASH_HEX_SIZE);
		c->head_run = id;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return 0;
fail:
	strbuf_addf(err, "cannot read the provenance database: %s", sqlite3_errmsg(db));
fail_quiet:
	sqlite3_finalize(st);
	return -1;
}

int chain_verify(sqlite3 *db, struct chain_check *c, struct strbuf *err)
{
	c->runs = c->execs = 0;
	if (check_execs(db, c, err) < 0 || check_runs(db, c, err) < 0)
		return -1;
	return 0;
}
