/*
 * verify: rehash the store (objects, tree manifests, materialised trees),
 * check every digest provenance refers to, the hash chain (chain.c) and the
 * recorded git commits (gitinfo.c); a digest `study gc` removed is listed
 * as collected, not missing (verify.h). Reads provenance only through
 * prov_query.h, in one snapshot. Collects problems in a verify_report; the
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	for (size_t i = 0; i < r->collected_nr; i++) {
		free(r->collected[i].digest);
		free(r->collected[i].input);
		free(r->collected[i].stage);
	}
	free(r->collected);
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
	const struct verify_opts *o;
	struct verify_report *r;
	struct strmap tree_owner;   /* tree hex -> struct owner (outputs first, then inputs) */
	struct strmap object_owner; /* object hex -> struct owner (borrowed from tree_owner or logs) */
	struct strmap trees_seen;   /* tree hex present with a valid name -> (void *)1 */
	struct strmap reported;     /* dedupe "missing" problems */
	struct strmap collected;    /* digest -> struct gc_mark: removed by study gc */
	struct strmap collected_seen; /* digest -> 1 + its index in r->collected */
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

static void own_output(const struct prov_ref *ref, void *data)
{
	struct verifier *v = data;
	struct strmap *m = ref->kind == PROV_REF_OUTPUT ? &v->tree_owner : &v->object_owner;
	if (!strmap_get(m, ref->digest))
		strmap_put(m, ref->digest, new_owner(v, ref->stage, ref->run, ref->exec));
}

/* An external input (docs/study-format.md, "External inputs"): its name is
 * "inputs.NAME", and its digest is a tree (a directory) or an object (a file). */
static int is_external(const struct prov_ref *ref)
{
	return ref->input && !strncmp(ref->input, "inputs.", 7);
}

static void own_input(const struct prov_ref *ref, void *data)
{
	struct verifier *v = data;
	struct owner *o = strmap_get(&v->tree_owner, ref->digest);
	if (!o) {
		o = new_owner(v, ref->stage, ref->run, ref->exec);
		strmap_put(&v->tree_owner, ref->digest, o);
	}
	if (is_external(ref) && !strmap_get(&v->object_owner, ref->digest))
		strmap_put(&v->object_owner, ref->digest, o);
}

/* Owners of trees (outputs, preferring executions that ran; then inputs) and logs. */
static int load_owners(struct verifier *v, struct strbuf *err)
{
	if (prov_scan_exec_digests(v->pv, own_output, v, err) < 0)
		return -1;
	return prov_scan_input_digests(v->pv, own_input, v, err);
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

/* The newest collection of a digest (prov_scan_collected gives it last). */
struct gc_mark {
	int64_t gc, last_run;
	int object; /* it was an object (a file input or a log), not a tree */
};

static void load_collected_row(const struct prov_collected *c, void *data)
{
	struct verifier *v = data;
	struct gc_mark *m = strmap_get(&v->collected, c->digest);
	if (!m) {
		m = xcalloc(1, sizeof(*m));
		strmap_put(&v->collected, c->digest, m);
	}
	m->gc = c->gc_id;
	m->last_run = c->last_run;
	m->object = c->kind && !strcmp(c->kind, "object");
}

/* 1 when the missing digest of `ref` was removed by study gc after the run
 * that refers to it was recorded (verify.h); listed once per digest. */
static int collected(struct verifier *v, const struct prov_ref *ref)
{
	static const char *const refs[] = { "output", "input", "stdout", "stderr" };
	const struct gc_mark *m = strmap_get(&v->collected, ref->digest);
	struct verify_report *r = v->r;
	if (!m || ref->run > m->last_run)
		return 0;
	size_t seen = (size_t)(uintptr_t)strmap_get(&v->collected_seen, ref->digest);
	if (seen) {
		struct verify_collected *c = &r->collected[seen - 1];
		c->last_run = ref->run > c->last_run ? ref->run : c->last_run;
		return 1;
	}
	XGROW(r->collected, r->collected_alloc, r->collected_nr + 1);
	struct verify_collected *c = &r->collected[r->collected_nr++];
	strmap_put(&v->collected_seen, ref->digest, (void *)(uintptr_t)r->collected_nr);
	c->digest = xstrdup(ref->digest);
	c->ref = refs[ref->kind];
	c->input = ref->input ? xstrdup(ref->input) : NULL;
	c->stage = xstrdup(ref->stage ? ref->stage : "?");
	c->run = c->last_run = ref->run;
	c->exec = ref->exec;
	c->gc = m->gc;
	c->object = m->object;
	return 1;
}

/* A digest provenance refers to must be in the store. */
static void check_ref(const struct prov_ref *ref, void *data)
{
	struct verifier *v = data;
	const char *d = ref->digest;
	struct owner ow = { (char *)ref->stage, ref->run, ref->exec };
	struct strbuf p = STRBUF_INIT;
	struct stat sb;
	if (strmap_get(&v->reported, d))
		return;
	if (ref->kind == PROV_REF_OUTPUT || ref->kind == PROV_REF_INPUT) {
		if (strmap_get(&v->trees_seen, d))
			return;
		if (ref->kind == PROV_REF_INPUT && is_external(ref)) {
			/* a file input is an object, rehashed with the others; one
			 * in the store (imported again after a gc) is not collected */
			store_object_path(&v->st, d, &p);
			if ((stat(p.buf, &sb) == 0 && S_ISREG(sb.st_mode)) || collected(v, ref)) {
				strbuf_release(&p);
				return;
			}
			strmap_put(&v->reported, d, (void *)1);
			add_problem(v, "missing", &ow,
				    "'%s' (external input '%s' of execution %lld) is missing from the"
				    " store; the next run imports it again",
				    d, ref->input, (long long)ow.exec);
			strbuf_release(&p);
			return;
		}
		if (collected(v, ref))
			return;
		strmap_put(&v->reported, d, (void *)1);
		if (ref->kind == PROV_REF_OUTPUT)
			add_problem(v, "missing", &ow,
				    "tree '%s' (output of execution %lld) is missing or corrupt",
				    d, (long long)ow.exec);
		else
			add_problem(v, "missing", &ow,
				    "tree '%s' (input '%s' of execution %lld) is missing or"
				    " corrupt",
				    d, ref->input, (long long)ow.exec);
	} else {
		store_object_path(&v->st, d, &p);
		if (stat(p.buf, &sb) != 0 && !collected(v, ref)) {
			strmap_put(&v->reported, d, (void *)1);
			add_problem(v, "missing", &ow,
				    "log object '%s' (%s of execution %lld) is missing", d,
				    ref->kind == PROV_REF_STDOUT ? "stdout" : "stderr",
				    (long long)ow.exec);
		}
	}
	strbuf_release(&p);
}

/* The artifacts table agrees with the execution that recorded each tree. */
static void check_artifact(const struct prov_artifact_mismatch *m, void *data)
{
	struct verifier *v = data;
	struct owner ow = { (char *)m->stage, m->run, 0 };
	if (m->exec_missing)
		add_problem(v, "artifact", NULL,
			    "artifact '%s' names execution %lld, which is not in the database",
			    m->digest, (long long)m->first_exec);
	else
		add_problem(v, "artifact", &ow,
			    "artifact '%s' does not match execution %lld that recorded it",
			    m->digest, (long long)m->first_exec);
}

/* A cache hit recorded by reference needs its producer (prov.h). */
static void check_orphan_hit(int64_t exec, int64_t run, const char *stage, void *data)
{
	struct verifier *v = data;
	struct owner ow = { (char *)stage, run, exec };
	add_problem(v, "producer", &ow,
		    "cache hit %lld has no execution that produced its output"
		    " (status 'ran', same cache key and output) in this database:"
		    " its command and inputs are not recorded",
		    (long long)ow.exec);
}

/* Every digest provenance refers to is in the store (or was collected),
 * and its records agree. */
static int check_references(struct verifier *v, struct strbuf *err)
{
	if (prov_scan_collected(v->pv, load_collected_row, v, err) < 0 ||
	    prov_scan_refs(v->pv, check_ref, v, err) < 0 ||
	    prov_scan_artifact_mismatches(v->pv, check_artifact, v, err) < 0 ||
	    prov_scan_orphan_hits(v->pv, check_orphan_hit, v, err) < 0)
		return -1;
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

static void check_git_commit(const struct prov_run_commit *c, void *data)
{
	check_git_run(data, c->run, c->commit, c->dirty, c->study_path, c->cwd, c->study_digest);
}

static int check_git(struct verifier *v, struct strbuf *err)
{
	return prov_scan_run_commits(v->pv, check_git_commit, v, err);
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
	/* one snapshot of the database for every check */
	if (prov_snapshot_begin(v.pv, err) < 0)
		goto out;
	if (load_owners(&v, err) < 0 || store_for_each_tree(&v.st, check_tree, &v, err) < 0 ||
	    store_for_each_object(&v.st, check_object, &v, err) < 0 ||
	    check_orphan_outdirs(&v, err) < 0 || check_references(&v, err) < 0)
		goto out;
	struct chain_check cc = { chain_problem, chain_note, &v, 0, 0, "", 0 };
	if (prov_check_chain(v.pv, &cc, err) < 0)
		goto out;
	r->runs = cc.runs;
	r->execs = cc.execs;
	memcpy(r->head, cc.head, HASH_HEX_SIZE);
	r->head_run = cc.head_run;
	if (!o->no_git && check_git(&v, err) < 0)
		goto out;
	ret = 0;
out:
	prov_snapshot_end(v.pv);
	prov_close(v.pv);
	store_release(&v.st);
	strmap_clear(&v.tree_owner, NULL);
	strmap_clear(&v.object_owner, NULL);
	strmap_clear(&v.trees_seen, NULL);
	strmap_clear(&v.reported, NULL);
	strmap_clear(&v.collected, free);
	strmap_clear(&v.collected_seen, NULL);
	for (size_t i = 0; i < v.owners_nr; i++) {
		free(v.owners[i]->stage);
		free(v.owners[i]);
	}
	free(v.owners);
	return ret;
}
