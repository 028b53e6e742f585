/*
 * chain_probe: what the provenance schema tests share (test_prov_v6,
 * test_prov_jobs): run SQL on a database file behind the code's back, and
 * count the problems chain_verify finds in it.
 */
#ifndef STUDY_TEST_CHAIN_PROBE_H
#define STUDY_TEST_CHAIN_PROBE_H

#include "chain.h"
#include "prov.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

/* Run `text` (one or more statements) on the database at `path`: 0 or -1. */
static inline int sql(const char *path, const char *text)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db) == SQLITE_OK &&
			 sqlite3_exec(db, text, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	sqlite3_close(db);
	return rc;
}

static inline void chain_probe_count(const char *kind, int64_t run, int64_t exec,
				     const char *stage, const char *msg, void *data)
{
	(void)kind;
	(void)run;
	(void)exec;
	(void)stage;
	(void)msg;
	(*(int *)data)++;
}

/* The problems chain_verify finds, or -1 when it cannot run. */
static inline int problems(const char *path)
{
	struct prov *p = NULL;
	struct strbuf err = STRBUF_INIT;
	int n = 0;
	struct chain_check cc;
	memset(&cc, 0, sizeof(cc));
	cc.problem = chain_probe_count;
	cc.data = &n;
	int rc = prov_open_readonly(&p, path, &err);
	if (rc == 0)
		rc = chain_verify(prov_sqlite(p), &cc, &err);
	if (rc < 0)
		printf("# %s\n", err.buf);
	prov_close(p);
	strbuf_release(&err);
	return rc < 0 ? -1 : n;
}

#endif
