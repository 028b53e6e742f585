/*
 * verify: rehash the store (objects, tree manifests, materialised trees),
 * check every digest provenance refers to, the hash chain (chain.c) and the
 * recorded git commits (libgit2). Collects problems in a verify_report; the
 * `study verify` command (cmd_verify.c) prints them. Never writes anything.
 */
#include "verify.h"
#include "chain.h"
#include "gitinfo.h"
#include "prov_query.h"
#include "store.h"
#include "strmap.h"
#include "tree.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

/* ---- the report ---- */

void verify_report_init(struct verify_report *r)
{
	memset(r, 0, sizeof(*r));
	strvec_init(&r->notes);
}

void verify_report_release(struct verify_report *r)
{
	for (size_t i = 0; i < r->nr; i++) {
		free(r->problems[i].kind);
		free(r->problems[i].message);
		free(r->problems[i].stage);
	}
	free(r->problems);
	strvec_clear(&r->notes);
	verify_report_init(r);
}

/* Who recorded a tree or object: the first execution that refers to it. */
struct owner {
	char *stage;
	int64_t run, exec;
};

struct verifier {
	struct store st;
	struct prov *pv;
	sqlite3 *db;
	const struct verify_opts *o;
	struct verify_report *r;
	struct strmap tree_owner;   /* tree hex -> struct owner (outputs first, then inputs) */
	struct strmap object_owner; /* object hex -> struct owner (borrowed from tree_owner or logs) */
	struct strmap trees_seen;   /* tree hex present with a valid name -> (void *)1 */
	struct strmap reported;     /* dedupe "missing" problems */
	struct owner **owners;      /* every owner, for freeing */
	size_t owners_nr, owners_alloc;
};

static void add_problem(struct verifier *v, const char *kind, const struct owner *ow,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void add_problem(struct verifier *v, const char *kind, const struct owner *ow,
			const char *fmt, ...)
{
	struct verify_report *r = v->r;
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (ow)
		strbuf_addf(&sb, " (stage %s, run %lld)", ow->stage, (long long)ow->run);
	XGROW(r->problems, r->alloc, r->nr + 1);
	struct verify_problem *p = &r->problems[r->nr++];
	p->kind = xstrdup(kind);
	p->message = strbuf_detach(&sb, NULL);
	p->stage = ow ? xstrdup(ow->stage) : NULL;
	p->run = ow ? ow->run : 0;
}

static struct owner *new_owner(struct verifier *v, const char *stage, int64_t run, int64_t exec)
{
	struct owner *o = xcalloc(1, sizeof(*o));
	o->stage = xstrdup(stage ? stage : "?");
	o->run = run;
	o->exec = exec;
	XGROW(v->owners, v->owners_alloc, v->owners_nr + 1);
	v->owners[v->owners_nr++] = o;
	return o;
}

static int db_fail(struct verifier *v, sqlite3_stmt *st, struct strbuf *err)
{
	strbuf_addf(err, "cannot read provenance: %s", sqlite3_errmsg(v->db));
	sqlite3_finalize(st);
	return -1;
}

static const char *ctext(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* Owners of trees (outputs, preferring executions that ran; then inputs) and logs. */
static int load_owners(struct verifier *v, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(v->db,
			       "SELECT id, run_id, stage_id, output_digest, stdout_digest, stderr_digest"
			       " FROM executions ORDER BY status != 'ran', id",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(v, st, err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), run = sqlite3_column_int64(st, 1);
		const char *stage = ctext(st, 2);
		for (int c = 3; c <= 5; c++) {
			const char *d = ctext(st, c);
			struct strmap *m = c == 3 ? &v->tree_owner : &v->object_owner;
			if (d && !strmap_get(m, d))
				strmap_put(m, d, new_owner(v, stage, run, id));
		}
	}
	if (rc != SQLITE_DONE)
		return db_fail(v, st, err);
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(v->db,
			       "SELECT e.id, e.run_id, e.stage_id, i.digest FROM inputs i"
			       " JOIN executions e ON e.id = i.execution_id ORDER BY e.id, i.rowid",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(v, st, err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *d = ctext(st, 3);
		if (d && !strmap_get(&v->tree_owner, d))
			strmap_put(&v->tree_owner, d,
				   new_owner(v, ctext(st, 2), sqlite3_column_int64(st, 1),
					     sqlite3_column_int64(st, 0)));
	}
	if (rc != SQLITE_DONE)
		return db_fail(v, st, err);
	sqlite3_finalize(st);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in a directory, sorted; a missing directory is empty. */
static int list_dir(const char *path, struct strvec *names, struct strbuf *err)
{
	DIR *d = opendir(path);
	struct dirent *de;
	if (!d) {
		if (errno == ENOENT)
			return 0;
		strbuf_addf(err, "cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			strvec_push(names, de->d_name);
	closedir(d);
	if (names->nr > 1)
		qsort(names->v, names->nr, sizeof(char *), cmp_str);
	return 0;
}

static void check_object(void *ctx, const char *name, const char *path, int named_ok)
{
	struct verifier *v = ctx;
	char hex[HASH_HEX_SIZE];
	struct strbuf err = STRBUF_INIT;
	v->r->objects++;
	if (!named_ok) {
		add_problem(v, "object", NULL, "'%s' is not a valid object name", path);
	} else if (hash_file_hex(path, hex, NULL, &err) < 0) {
		add_problem(v, "object", strmap_get(&v->object_owner, name), "object '%s': %s",
			    name, err.buf);
	} else if (strcmp(hex, name)) {
		add_problem(v, "object", strmap_get(&v->object_owner, name),
			    "object '%s' content does not match its name", name);
	}
	strbuf_release(&err);
}

/* Relative paths of the regular files and empty directories under dir. */
static void walk_files(const char *dir, const char *rel, struct strvec *files)
{
	struct strvec names = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT;
	list_dir(dir, &names, &err);
	for (size_t i = 0; i < names.nr; i++) {
		char *p = xasprintf("%s/%s", dir, names.v[i]);
		char *r = rel ? xasprintf("%s/%s", rel, names.v[i]) : xstrdup(names.v[i]);
		struct stat sb;
		if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			size_t before = files->nr;
			walk_files(p, r, files);
			if (files->nr == before)
				strvec_push(files, r); /* empty directory */
		} else {
			strvec_push(files, r);
		}
		free(p);
		free(r);
	}
	strvec_clear(&names);
	strbuf_release(&err);
}

/* Compare out/<hex>/ with its manifest. */
static void check_outdir(struct verifier *v, const char *hex, const struct tree *t,
			 const struct owner *ow)
{
	struct strbuf dir = STRBUF_INIT, err = STRBUF_INIT;
	struct strvec files = STRVEC_INIT;
	struct stat sb;
	store_tree_dir_path(&v->st, hex, &dir);
	if (stat(dir.buf, &sb) < 0)
		goto out; /* not materialised: fine, it is a cache */
	v->r->outdirs++;
	walk_files(dir.buf, NULL, &files);
	if (files.nr > 1)
		qsort(files.v, files.nr, sizeof(char *), cmp_str);
	const struct tree_entry *m = t->v;
	size_t mn = t->nr, i = 0, j = 0;
	while (i < mn || j < files.nr) {
		int c = i >= mn ? 1 : j >= files.nr ? -1 : strcmp(m[i].path, files.v[j]);
		if (c < 0) {
			add_problem(v, "outdir", ow, "materialised tree 'out/%s' lacks '%s'", hex,
				    m[i].path);
			i++;
			continue;
		}
		if (c > 0) {
			add_problem(v, "outdir", ow, "materialised tree 'out/%s' has '%s', not in its"
				    " manifest", hex, files.v[j]);
			j++;
			continue;
		}
		if (m[i].kind != 'd') {
			struct strbuf fp = STRBUF_INIT, op = STRBUF_INIT;
			struct stat fs, os;
			strbuf_addf(&fp, "%s/%s", dir.buf, m[i].path);
			store_object_path(&v->st, m[i].hex, &op);
			int is_reg = lstat(fp.buf, &fs) == 0 && S_ISREG(fs.st_mode);
			int linked = is_reg && stat(op.buf, &os) == 0 && fs.st_ino == os.st_ino &&
				     fs.st_dev == os.st_dev;
			if (!linked) {
				char got[HASH_HEX_SIZE];
				strbuf_reset(&err);
				if (!is_reg || hash_file_hex(fp.buf, got, NULL, &err) < 0 ||
				    strcmp(got, m[i].hex))
					add_problem(v, "outdir", ow,
						    "file '%s' of materialised tree 'out/%s' differs"
						    " from its manifest",
						    m[i].path, hex);
			}
			strbuf_release(&fp);
			strbuf_release(&op);
		}
		i++;
		j++;
	}
out:
	strvec_clear(&files);
	strbuf_release(&dir);
	strbuf_release(&err);
}

static void check_tree(void *ctx, const char *name, const char *path, int named_ok)
{
	struct verifier *v = ctx;
	char hex[HASH_HEX_SIZE];
	struct strbuf text = STRBUF_INIT, err = STRBUF_INIT, op = STRBUF_INIT;
	struct tree t = TREE_INIT;
	const struct owner *ow = named_ok ? strmap_get(&v->tree_owner, name) : NULL;
	v->r->trees++;
	if (!named_ok) {
		add_problem(v, "tree", NULL, "'%s' is not a valid tree name", path);
		goto out;
	}
	if (strbuf_read_file(&text, path) < 0) {
		add_problem(v, "tree", ow, "cannot read tree manifest '%s': %s", path,
			    strerror(errno));
		goto out;
	}
	hash_buf_hex(text.buf, text.len, hex);
	if (strcmp(hex, name)) {
		add_problem(v, "tree", ow, "tree '%s' manifest does not match its name", name);
		goto out;
	}
	strmap_put(&v->trees_seen, name, (void *)1);
	if (tree_parse(text.buf, text.len, path, &t, &err) < 0) {
		add_problem(v, "tree", ow, "%s", err.buf);
		goto out;
	}
	const struct tree_entry *m = t.v;
	for (size_t i = 0; i < t.nr; i++) {
		struct stat sb;
		if (m[i].kind == 'd')
			continue;
		if (!strmap_get(&v->object_owner, m[i].hex) && ow)
			strmap_put(&v->object_owner, m[i].hex, (void *)ow);
		store_object_path(&v->st, m[i].hex, &op);
		if (stat(op.buf, &sb) < 0) {
			if (!strmap_get(&v->reported, m[i].hex)) {
				strmap_put(&v->reported, m[i].hex, (void *)1);
				add_problem(v, "missing", ow,
					    "object '%s' (file '%s' of tree '%s') is missing",
					    m[i].hex, m[i].path, name);
			}
		} else if ((uint64_t)sb.st_size != m[i].size) {
			add_problem(v, "object", ow,
				    "object '%s' has %llu bytes, tree '%s' says %llu for '%s'",
				    m[i].hex, (unsigned long long)sb.st_size, name,
				    (unsigned long long)m[i].size, m[i].path);
		}
	}
	check_outdir(v, name, &t, ow);
out:
	tree_release(&t);
	strbuf_release(&text);
	strbuf_release(&err);
	strbuf_release(&op);
}

/* out/<name> directories without a valid manifest. */
static int check_orphan_outdirs(struct verifier *v, struct strbuf *err)
{
	struct strvec names = STRVEC_INIT;
	struct strbuf dir = STRBUF_INIT;
	strbuf_addf(&dir, "%s/out", v->st.root);
	int rc = list_dir(dir.buf, &names, err);
	for (size_t i = 0; rc == 0 && i < names.nr; i++)
		if (!strmap_get(&v->trees_seen, names.v[i]))
			add_problem(v, "outdir", strmap_get(&v->tree_owner, names.v[i]),
				    "materialised directory 'out/%s' has no valid tree manifest",
				    names.v[i]);
	strvec_clear(&names);
	strbuf_release(&dir);
	return rc;
}

/* Every digest provenance refers to is in the store. */
static int check_references(struct verifier *v, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	struct strbuf p = STRBUF_INIT;
	/* kind 0: output tree, 1: input tree, 2: stdout object, 3: stderr object */
	if (sqlite3_prepare_v2(v->db,
			       "SELECT 0, output_digest, stage_id, run_id, id, NULL FROM executions"
			       " WHERE output_digest IS NOT NULL"
			       " UNION ALL SELECT 1, i.digest, e.stage_id, e.run_id, e.id, i.name"
			       " FROM inputs i JOIN executions e ON e.id = i.execution_id"
			       " UNION ALL SELECT 2, stdout_digest, stage_id, run_id, id, NULL"
			       " FROM executions WHERE stdout_digest IS NOT NULL"
			       " UNION ALL SELECT 3, stderr_digest, stage_id, run_id, id, NULL"
			       " FROM executions WHERE stderr_digest IS NOT NULL ORDER BY 5, 1",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(v, st, err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int kind = sqlite3_column_int(st, 0);
		const char *d = ctext(st, 1);
		struct owner ow = { (char *)ctext(st, 2), sqlite3_column_int64(st, 3),
				    sqlite3_column_int64(st, 4) };
		struct stat sb;
		if (!d || strmap_get(&v->reported, d))
			continue;
		if (kind <= 1) {
			if (strmap_get(&v->trees_seen, d))
				continue;
			strmap_put(&v->reported, d, (void *)1);
			if (kind == 0)
				add_problem(v, "missing", &ow,
					    "tree '%s' (output of execution %lld) is missing or corrupt",
					    d, (long long)ow.exec);
			else
				add_problem(v, "missing", &ow,
					    "tree '%s' (input '%s' of execution %lld) is missing or"
					    " corrupt",
					    d, ctext(st, 5), (long long)ow.exec);
		} else {
			store_object_path(&v->st, d, &p);
			if (stat(p.buf, &sb) == 0)
				continue;
			strmap_put(&v->reported, d, (void *)1);
			add_problem(v, "missing", &ow, "log object '%s' (%s of execution %lld) is missing",
				    d, kind == 2 ? "stdout" : "stderr", (long long)ow.exec);
		}
	}
	strbuf_release(&p);
	if (rc != SQLITE_DONE)
		return db_fail(v, st, err);
	sqlite3_finalize(st);

	/* the artifacts table agrees with the execution that recorded each tree */
	if (sqlite3_prepare_v2(v->db,
			       "SELECT a.digest, a.first_execution_id, e.id IS NULL,"
			       " coalesce(e.output_digest = a.digest AND e.output_files IS a.files"
			       " AND e.output_bytes IS a.bytes, 0), e.stage_id, e.run_id"
			       " FROM artifacts a LEFT JOIN executions e ON e.id = a.first_execution_id"
			       " ORDER BY a.first_execution_id",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(v, st, err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_int(st, 3))
			continue;
		struct owner ow = { (char *)ctext(st, 4), sqlite3_column_int64(st, 5), 0 };
		if (sqlite3_column_int(st, 2))
			add_problem(v, "artifact", NULL,
				    "artifact '%s' names execution %lld, which is not in the database",
				    ctext(st, 0), (long long)sqlite3_column_int64(st, 1));
		else
			add_problem(v, "artifact", &ow,
				    "artifact '%s' does not match execution %lld that recorded it",
				    ctext(st, 0), (long long)sqlite3_column_int64(st, 1));
	}
	if (rc != SQLITE_DONE)
		return db_fail(v, st, err);
	sqlite3_finalize(st);

	/* a cache hit recorded by reference needs its producer (prov.h) */
	if (sqlite3_prepare_v2(v->db,
			       "SELECT c.id, c.stage_id, c.run_id FROM executions c"
			       " WHERE c.status = 'cached' AND c.argv_json IS NULL"
			       " AND c.output_digest IS NOT NULL AND NOT EXISTS"
			       " (SELECT 1 FROM executions x WHERE x.cache_key = c.cache_key"
			       "  AND x.status = 'ran' AND x.output_digest = c.output_digest"
			       "  AND x.id < c.id) ORDER BY c.id",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(v, st, err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct owner ow = { (char *)ctext(st, 1), sqlite3_column_int64(st, 2),
				    sqlite3_column_int64(st, 0) };
		add_problem(v, "producer", &ow,
			    "cache hit %lld has no execution that produced its output"
			    " (status 'ran', same cache key and output) in this database:"
			    " its command and inputs are not recorded",
			    (long long)ow.exec);
	}
	if (rc != SQLITE_DONE)
		return db_fail(v, st, err);
	sqlite3_finalize(st);
	return 0;
}

/* ---- the chain ---- */

static void chain_problem(const char *kind, int64_t run, int64_t exec, const char *stage,
			  const char *msg, void *data)
{
	struct verifier *v = data;
	(void)exec;
	/* the message already names the run and stage */
	add_problem(v, kind, NULL, "%s", msg);
	struct verify_problem *p = &v->r->problems[v->r->nr - 1];
	p->stage = stage ? xstrdup(stage) : NULL;
	p->run = run;
}

static void chain_note(const char *kind, int64_t run, int64_t exec, const char *stage,
		       const char *msg, void *data)
{
	struct verifier *v = data;
	(void)kind;
	(void)run;
	(void)exec;
	(void)stage;
	strvec_push(&v->r->notes, msg);
}

/* ---- git ---- */

static void check_git_run(struct verifier *v, int64_t run, const char *commit, int dirty,
			  const char *study_path, const char *cwd, const char *digest)
{
	struct strbuf abs = STRBUF_INIT, start = STRBUF_INIT, msg = STRBUF_INIT;
	struct gitinfo_blob b;

	if (study_path[0] == '/' || !cwd)
		strbuf_addstr(&abs, study_path);
	else
		strbuf_addf(&abs, "%s/%s", cwd, study_path);
	/* the run asked git about the file through its links (cmd_run.c) */
	char *real = realpath(abs.buf, NULL);
	if (real) {
		strbuf_reset(&abs);
		strbuf_addstr(&abs, real);
		free(real);
	}
	if (v->o->repo) {
		strbuf_addstr(&start, v->o->repo);
	} else {
		const char *slash = strrchr(abs.buf, '/');
		strbuf_add(&start, abs.buf, slash ? (size_t)(slash - abs.buf) : 0);
		if (!start.len)
			strbuf_addstr(&start, ".");
	}
	gitinfo_blob_at(start.buf, abs.buf, commit, &b);
	switch (b.status) {
	case GITINFO_BLOB_NO_REPO:
		add_problem(v, "git", NULL,
			    "run %lld: cannot check commit %.12s: no git repository at '%s' (%s;"
			    " give --repo DIR or --no-git)",
			    (long long)run, commit, start.buf, b.message);
		break;
	case GITINFO_BLOB_NO_COMMIT:
		add_problem(v, "git", NULL, "run %lld: commit %s is not in repository '%s'",
			    (long long)run, commit, b.repo);
		break;
	case GITINFO_BLOB_OUTSIDE:
		strbuf_addf(&msg, "run %lld: study file '%s' is not inside repository '%s'; its"
			    " content at commit %.12s was not checked", (long long)run, b.file,
			    b.repo, commit);
		strvec_push(&v->r->notes, msg.buf);
		break;
	case GITINFO_BLOB_NOT_IN_COMMIT:
		if (dirty == 1) {
			strbuf_addf(&msg, "run %lld was made from a dirty work tree: '%s' is not in"
				    " commit %.12s", (long long)run, b.rel, commit);
			strvec_push(&v->r->notes, msg.buf);
		} else {
			add_problem(v, "git", NULL, "run %lld: study file '%s' is not in commit %s",
				    (long long)run, b.rel, commit);
		}
		break;
	case GITINFO_BLOB_FOUND:
		if (!strcmp(b.digest, digest))
			break;
		if (dirty == 1) {
			strbuf_addf(&msg, "run %lld was made from a dirty work tree: its study file"
				    " '%s' differs from commit %.12s", (long long)run, b.rel, commit);
			strvec_push(&v->r->notes, msg.buf);
		} else {
			add_problem(v, "git", NULL,
				    "run %lld: study file '%s' at commit %.12s has digest %.12s, the"
				    " run recorded %.12s",
				    (long long)run, b.rel, commit, b.digest, digest);
		}
		break;
	}
	gitinfo_blob_release(&b);
	strbuf_release(&abs);
	strbuf_release(&start);
	strbuf_release(&msg);
}

static int check_git(struct verifier *v, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(v->db,
			       "SELECT id, git_commit, git_dirty, study_path, cwd, study_digest"
			       " FROM runs ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(v, st, err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *commit = ctext(st, 1);
		if (!commit || !*commit)
			continue;
		int dirty = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1
								       : sqlite3_column_int(st, 2);
		check_git_run(v, sqlite3_column_int64(st, 0), commit, dirty,
			      ctext(st, 3) ? ctext(st, 3) : "", ctext(st, 4),
			      ctext(st, 5) ? ctext(st, 5) : "");
	}
	if (rc != SQLITE_DONE)
		return db_fail(v, st, err);
	sqlite3_finalize(st);
	return 0;
}

/* ---- driver ---- */

int verify_store(const char *store_dir, const struct verify_opts *o, struct verify_report *r,
		 struct strbuf *err)
{
	struct verifier v;
	int ret = -1;
	memset(&v, 0, sizeof(v));
	v.st.lock_fd = -1;
	v.o = o;
	v.r = r;
	if (store_open_existing(&v.st, store_dir, err) < 0)
		goto out;
	if (prov_open_store_readonly(store_dir, &v.pv, err) < 0)
		goto out;
	v.db = prov_sqlite(v.pv);
	/* one snapshot of the database for every check */
	if (sqlite3_exec(v.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		strbuf_addf(err, "cannot read provenance: %s", sqlite3_errmsg(v.db));
		goto out;
	}
	if (load_owners(&v, err) < 0 || store_for_each_tree(&v.st, check_tree, &v, err) < 0 ||
	    store_for_each_object(&v.st, check_object, &v, err) < 0 ||
	    check_orphan_outdirs(&v, err) < 0 || check_references(&v, err) < 0)
		goto out;
	struct chain_check cc = { chain_problem, chain_note, &v, 0, 0, "", 0 };
	if (chain_verify(v.db, &cc, err) < 0)
		goto out;
	r->runs = cc.runs;
	r->execs = cc.execs;
	memcpy(r->head, cc.head, HASH_HEX_SIZE);
	r->head_run = cc.head_run;
	if (!o->no_git && check_git(&v, err) < 0)
		goto out;
	ret = 0;
out:
	if (v.db)
		sqlite3_exec(v.db, "COMMIT", NULL, NULL, NULL);
	prov_close(v.pv);
	store_release(&v.st);
	strmap_clear(&v.tree_owner, NULL);
	strmap_clear(&v.object_owner, NULL);
	strmap_clear(&v.trees_seen, NULL);
	strmap_clear(&v.reported, NULL);
	for (size_t i = 0; i < v.owners_nr; i++) {
		free(v.owners[i]->stage);
		free(v.owners[i]);
	}
	free(v.owners);
	return ret;
}
