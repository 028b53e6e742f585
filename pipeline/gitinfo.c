/*
 * gitinfo: what libgit2 says about the repository holding a path (HEAD
 * commit, branch, dirtiness, work tree root). See gitinfo.h.
 *
 * libgit2 keeps a reference-counted global state: every gitinfo_read() pairs
 * its own git_libgit2_init() with a git_libgit2_shutdown(), so nothing of
 * libgit2 stays allocated between calls (and leak checkers stay quiet).
 *
 * libgit2 is loaded with dlopen() on first use, not linked: with its own
 * dependencies (mbedTLS, libssh2, Kerberos, PCRE2, ...: 13 shared libraries
 * on Debian) it was half of the process's start-up, paid by every command,
 * `study --help` included. `run` reads the git state on a thread of its own
 * (cmd_run.c), so the loading now overlaps the study's loading instead of
 * preceding main(). The library is the one the headers describe
 * (libgit2.so.LIBGIT2_SOVERSION); its functions are called through `lib`,
 * filled once.
 */
#include "gitinfo.h"
#include "hash.h"
#include "xalloc.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <git2.h>

#define LIBGIT2_FILE "libgit2.so." LIBGIT2_SOVERSION

/* X(name) for every libgit2 function used here */
#define GIT_FUNCTIONS(X) \
	X(git_libgit2_init) X(git_libgit2_shutdown) X(git_error_last) \
	X(git_repository_open_ext) X(git_repository_free) X(git_repository_workdir) \
	X(git_repository_path) X(git_repository_is_bare) X(git_repository_head_detached) \
	X(git_reference_name_to_id) X(git_reference_lookup) X(git_reference_type) \
	X(git_reference_symbolic_target) X(git_reference_free) X(git_oid_tostr) \
	X(git_oid_fromstr) X(git_ignore_add_rule) X(git_status_options_init) \
	X(git_status_list_new) X(git_status_list_entrycount) X(git_status_byindex) \
	X(git_status_list_free) X(git_commit_lookup) X(git_commit_tree) X(git_commit_free) \
	X(git_tree_entry_bypath) X(git_tree_entry_type) X(git_tree_entry_id) \
	X(git_tree_entry_free) X(git_tree_free) X(git_blob_lookup) X(git_blob_rawcontent) \
	X(git_blob_rawsize) X(git_blob_free)

static struct {
#define X(f) __typeof__(f) *f;
	GIT_FUNCTIONS(X)
#undef X
} lib;
static char lib_error[512]; /* why loading failed; "" when it worked */
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_load(void)
{
	/* the functions are looked up below, so a missing one fails here */
	void *h = dlopen(LIBGIT2_FILE, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;
	if (h) {
#define X(f)                                                                   \
	if (!missing && !(*(void **)&lib.f = dlsym(h, #f)))                    \
		missing = #f;
		GIT_FUNCTIONS(X)
#undef X
	}
	if (!h) {
		const char *e = dlerror();
		snprintf(lib_error, sizeof(lib_error), "git: cannot load libgit2: %s",
			 e ? e : LIBGIT2_FILE);
	} else if (missing) {
		snprintf(lib_error, sizeof(lib_error), "git: %s has no function %s", LIBGIT2_FILE,
			 missing);
	}
}

/*
 * git_libgit2_init() sets up HTTPS for libgit2's network transports, and
 * Debian builds libgit2 with mbedTLS, which then parses the whole system CA
 * bundle (/etc/ssl/certs/ca-certificates.crt): 4-5 ms, a third of the git
 * read, in every run. This program never talks to a remote. So bin/study
 * defines the two mbedTLS functions that load CA certificates and exports
 * them (the Makefile's --export-dynamic-symbol): symbols of the executable
 * come first in the dynamic linker's search, so libgit2, loaded afterwards,
 * binds its calls to these, which load nothing and succeed. Nothing else in
 * the process uses mbedTLS. Without the export (unit tests, other builds)
 * they are never called and libgit2 loads the bundle as before.
 */
int mbedtls_x509_crt_parse_file(void *chain, const char *path);
int mbedtls_x509_crt_parse_path(void *chain, const char *path);

int mbedtls_x509_crt_parse_file(void *chain, const char *path)
{
	(void)chain;
	(void)path;
	return 0;
}

int mbedtls_x509_crt_parse_path(void *chain, const char *path)
{
	(void)chain;
	(void)path;
	return 0;
}

/* 0 when the table is filled, else -1 with the reason in err (when given). */
static int lib_ready(struct strbuf *err)
{
	pthread_once(&lib_once, lib_load);
	if (!lib_error[0])
		return 0;
	if (err)
		strbuf_addstr(err, lib_error);
	return -1;
}


static void git_error_to(struct strbuf *err, const char *what, const char *path)
{
	const git_error *e = lib.git_error_last();
	strbuf_addf(err, "git: %s '%s': %s", what, path,
		    e && e->message ? e->message : "unknown error");
}

/* The directory to start discovery from: `path` itself when it is a directory,
 * else its parent ("." for a bare file name). */
static void start_dir(const char *path, struct strbuf *out)
{
	struct stat sb;
	strbuf_reset(out);
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		strbuf_addstr(out, path);
		return;
	}
	const char *slash = strrchr(path, '/');
	if (!slash)
		strbuf_addstr(out, ".");
	else if (slash == path)
		strbuf_addstr(out, "/");
	else
		strbuf_add(out, path, (size_t)(slash - path));
}

static int read_head(git_repository *repo, struct gitinfo *gi, const char *path,
		     struct strbuf *err)
{
	git_oid oid;
	int rc = lib.git_reference_name_to_id(&oid, repo, "HEAD");
	if (rc == 0) {
		lib.git_oid_tostr(gi->commit, sizeof(gi->commit), &oid);
	} else if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH) {
		gi->commit[0] = '\0'; /* no commits yet */
	} else {
		git_error_to(err, "cannot resolve HEAD in", path);
		return -1;
	}

	rc = lib.git_repository_head_detached(repo);
	if (rc == 1)
		return 0; /* detached: branch stays NULL */
	if (rc < 0 && rc != GIT_EUNBORNBRANCH && rc != GIT_ENOTFOUND) {
		git_error_to(err, "cannot read HEAD in", path);
		return -1;
	}
	/* HEAD is symbolic (possibly unborn): its target names the branch. */
	git_reference *head = NULL;
	if (lib.git_reference_lookup(&head, repo, "HEAD") == 0) {
		if (lib.git_reference_type(head) == GIT_REFERENCE_SYMBOLIC) {
			const char *target = lib.git_reference_symbolic_target(head);
			const char *prefix = "refs/heads/";
			if (target && !strncmp(target, prefix, strlen(prefix)))
				gi->branch = xstrdup(target + strlen(prefix));
			else if (target)
				gi->branch = xstrdup(target);
		}
		lib.git_reference_free(head);
	}
	return 0;
}

/* The path of `dir` relative to the work tree `wd` (with a trailing '/'),
 * or NULL when it lies outside. */
static char *relative_dir(const char *wd, const char *dir)
{
	size_t n = strlen(wd);
	while (n > 1 && wd[n - 1] == '/')
		n--;
	if (strncmp(dir, wd, n) || dir[n] != '/' || !dir[n + 1])
		return NULL;
	const char *rel = dir + n + 1;
	size_t len = strlen(rel);
	while (len && rel[len - 1] == '/')
		len--;
	return len ? xasprintf("%.*s/", (int)len, rel) : NULL;
}

static int read_dirty(git_repository *repo, struct gitinfo *gi, const char *path,
		      const char *exclude, struct strbuf *err)
{
	git_status_options opts;
	git_status_list *list = NULL;

	if (lib.git_repository_is_bare(repo)) {
		gi->dirty = 0;
		return 0;
	}
	char *rel = NULL;
	if (exclude && gi->workdir) {
		rel = relative_dir(gi->workdir, exclude);
		if (rel) {
			/* an in-memory rule of this repository object only, never written */
			char *rule = xasprintf("/%s", rel);
			int rc = lib.git_ignore_add_rule(repo, rule);
			free(rule);
			if (rc < 0) {
				free(rel);
				git_error_to(err, "cannot read status of", path);
				return -1;
			}
		}
	}
	if (lib.git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION) < 0) {
		free(rel);
		git_error_to(err, "cannot read status of", path);
		return -1;
	}
	opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS;
	if (lib.git_status_list_new(&list, repo, &opts) < 0) {
		free(rel);
		git_error_to(err, "cannot read status of", path);
		return -1;
	}
	size_t n = lib.git_status_list_entrycount(list), changes = 0;
	for (size_t i = 0; i < n; i++) {
		const git_status_entry *se = lib.git_status_byindex(list, i);
		const git_diff_delta *d = se->index_to_workdir ? se->index_to_workdir
								 : se->head_to_index;
		const char *f = d ? (d->new_file.path ? d->new_file.path : d->old_file.path) : NULL;
		if (rel && f && !strncmp(f, rel, strlen(rel)))
			continue; /* a file of the tool's own store, even a tracked one */
		changes++;
	}
	gi->dirty = changes > 0;
	lib.git_status_list_free(list);
	free(rel);
	return 0;
}

int gitinfo_read(const char *path, struct gitinfo *gi, struct strbuf *err)
{
	return gitinfo_read_excluding(path, NULL, NULL, gi, err);
}

int gitinfo_read_excluding(const char *path, const char *(*exclude)(void *ctx), void *ctx,
			   struct gitinfo *gi, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	git_repository *repo = NULL;
	int ret = -1;

	memset(gi, 0, sizeof(*gi));
	if (lib_ready(err) < 0)
		return -1;
	if (lib.git_libgit2_init() < 0) {
		strbuf_addstr(err, "git: cannot initialise libgit2");
		return -1;
	}
	start_dir(path, &dir);
	int rc = lib.git_repository_open_ext(&repo, dir.buf, 0, NULL);
	if (rc == GIT_ENOTFOUND) {
		ret = 0; /* not in a repository: found = 0 */
		goto out;
	}
	if (rc < 0) {
		git_error_to(err, "cannot open the repository holding", path);
		goto out;
	}
	gi->found = 1;
	const char *wd = lib.git_repository_workdir(repo);
	if (!wd)
		wd = lib.git_repository_path(repo); /* bare: the git dir itself */
	if (wd) {
		size_t n = strlen(wd);
		while (n > 1 && wd[n - 1] == '/')
			n--;
		gi->workdir = xstrndup(wd, n);
	}
	if (read_head(repo, gi, path, err) < 0 ||
	    read_dirty(repo, gi, path, exclude ? exclude(ctx) : NULL, err) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		gitinfo_release(gi);
	lib.git_repository_free(repo);
	lib.git_libgit2_shutdown();
	strbuf_release(&dir);
	return ret;
}

void gitinfo_release(struct gitinfo *gi)
{
	free(gi->branch);
	free(gi->workdir);
	memset(gi, 0, sizeof(*gi));
}

void gitinfo_blob_at(const char *start, const char *file, const char *commit,
		     struct gitinfo_blob *b)
{
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *ent = NULL;
	git_blob *blob = NULL;
	git_oid oid;
	char real[PATH_MAX];

	memset(b, 0, sizeof(*b));
	b->file = xstrdup(realpath(file, real) ? real : file);
	if (lib_ready(NULL) < 0) {
		b->status = GITINFO_BLOB_NO_REPO;
		b->message = xstrdup(lib_error);
		return;
	}
	lib.git_libgit2_init();
	if (lib.git_repository_open_ext(&repo, start, 0, NULL) < 0) {
		const git_error *e = lib.git_error_last();
		b->status = GITINFO_BLOB_NO_REPO;
		b->message = xstrdup(e && e->message ? e->message : "unknown libgit2 error");
		goto out;
	}
	const char *wd = lib.git_repository_workdir(repo);
	b->repo = xstrdup(wd ? wd : lib.git_repository_path(repo));
	if (lib.git_oid_fromstr(&oid, commit) < 0 || lib.git_commit_lookup(&c, repo, &oid) < 0) {
		b->status = GITINFO_BLOB_NO_COMMIT;
		goto out;
	}
	size_t wl = wd ? strlen(wd) : 0;
	if (!wd || strncmp(b->file, wd, wl)) {
		b->status = GITINFO_BLOB_OUTSIDE;
		goto out;
	}
	b->rel = xstrdup(b->file + wl);
	if (lib.git_commit_tree(&tree, c) < 0 || lib.git_tree_entry_bypath(&ent, tree, b->rel) < 0 ||
	    lib.git_tree_entry_type(ent) != GIT_OBJECT_BLOB ||
	    lib.git_blob_lookup(&blob, repo, lib.git_tree_entry_id(ent)) < 0) {
		b->status = GITINFO_BLOB_NOT_IN_COMMIT;
		goto out;
	}
	hash_buf_hex(lib.git_blob_rawcontent(blob), (size_t)lib.git_blob_rawsize(blob), b->digest);
	b->status = GITINFO_BLOB_FOUND;
out:
	lib.git_blob_free(blob);
	lib.git_tree_entry_free(ent);
	lib.git_tree_free(tree);
	lib.git_commit_free(c);
	lib.git_repository_free(repo);
	lib.git_libgit2_shutdown();
}

void gitinfo_blob_release(struct gitinfo_blob *b)
{
	free(b->repo);
	free(b->file);
	free(b->rel);
	free(b->message);
	memset(b, 0, sizeof(*b));
}
