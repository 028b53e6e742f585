/*
 * gitinfo: what libgit2 says about the repository holding a path (HEAD
 * commit, branch, dirtiness, work tree root). See gitinfo.h.
 *
 * libgit2 keeps a reference-counted global state: every gitinfo_read() pairs
 * its own git_libgit2_init() with a git_libgit2_shutdown(), so nothing of
 * libgit2 stays allocated between calls (and leak checkers stay quiet).
 */
#include "gitinfo.h"
#include "hash.h"
#include "xalloc.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <git2.h>

static void git_error_to(struct strbuf *err, const char *what, const char *path)
{
	const git_error *e = git_error_last();
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
	int rc = git_reference_name_to_id(&oid, repo, "HEAD");
	if (rc == 0) {
		git_oid_tostr(gi->commit, sizeof(gi->commit), &oid);
	} else if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH) {
		gi->commit[0] = '\0'; /* no commits yet */
	} else {
		git_error_to(err, "cannot resolve HEAD in", path);
		return -1;
	}

	rc = git_repository_head_detached(repo);
	if (rc == 1)
		return 0; /* detached: branch stays NULL */
	if (rc < 0 && rc != GIT_EUNBORNBRANCH && rc != GIT_ENOTFOUND) {
		git_error_to(err, "cannot read HEAD in", path);
		return -1;
	}
	/* HEAD is symbolic (possibly unborn): its target names the branch. */
	git_reference *head = NULL;
	if (git_reference_lookup(&head, repo, "HEAD") == 0) {
		if (git_reference_type(head) == GIT_REFERENCE_SYMBOLIC) {
			const char *target = git_reference_symbolic_target(head);
			const char *prefix = "refs/heads/";
			if (target && !strncmp(target, prefix, strlen(prefix)))
				gi->branch = xstrdup(target + strlen(prefix));
			else if (target)
				gi->branch = xstrdup(target);
		}
		git_reference_free(head);
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

	if (git_repository_is_bare(repo)) {
		gi->dirty = 0;
		return 0;
	}
	char *rel = NULL;
	if (exclude && gi->workdir) {
		rel = relative_dir(gi->workdir, exclude);
		if (rel) {
			/* an in-memory rule of this repository object only, never written */
			char *rule = xasprintf("/%s", rel);
			int rc = git_ignore_add_rule(repo, rule);
			free(rule);
			if (rc < 0) {
				free(rel);
				git_error_to(err, "cannot read status of", path);
				return -1;
			}
		}
	}
	if (git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION) < 0) {
		free(rel);
		git_error_to(err, "cannot read status of", path);
		return -1;
	}
	opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS;
	if (git_status_list_new(&list, repo, &opts) < 0) {
		free(rel);
		git_error_to(err, "cannot read status of", path);
		return -1;
	}
	size_t n = git_status_list_entrycount(list), changes = 0;
	for (size_t i = 0; i < n; i++) {
		const git_status_entry *se = git_status_byindex(list, i);
		const git_diff_delta *d = se->index_to_workdir ? se->index_to_workdir
								 : se->head_to_index;
		const char *f = d ? (d->new_file.path ? d->new_file.path : d->old_file.path) : NULL;
		if (rel && f && !strncmp(f, rel, strlen(rel)))
			continue; /* a file of the tool's own store, even a tracked one */
		changes++;
	}
	gi->dirty = changes > 0;
	git_status_list_free(list);
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
	if (git_libgit2_init() < 0) {
		strbuf_addstr(err, "git: cannot initialise libgit2");
		return -1;
	}
	start_dir(path, &dir);
	int rc = git_repository_open_ext(&repo, dir.buf, 0, NULL);
	if (rc == GIT_ENOTFOUND) {
		ret = 0; /* not in a repository: found = 0 */
		goto out;
	}
	if (rc < 0) {
		git_error_to(err, "cannot open the repository holding", path);
		goto out;
	}
	gi->found = 1;
	const char *wd = git_repository_workdir(repo);
	if (!wd)
		wd = git_repository_path(repo); /* bare: the git dir itself */
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
	git_repository_free(repo);
	git_libgit2_shutdown();
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
	git_libgit2_init();
	b->file = xstrdup(realpath(file, real) ? real : file);
	if (git_repository_open_ext(&repo, start, 0, NULL) < 0) {
		const git_error *e = git_error_last();
		b->status = GITINFO_BLOB_NO_REPO;
		b->message = xstrdup(e && e->message ? e->message : "unknown libgit2 error");
		goto out;
	}
	const char *wd = git_repository_workdir(repo);
	b->repo = xstrdup(wd ? wd : git_repository_path(repo));
	if (git_oid_fromstr(&oid, commit) < 0 || git_commit_lookup(&c, repo, &oid) < 0) {
		b->status = GITINFO_BLOB_NO_COMMIT;
		goto out;
	}
	size_t wl = wd ? strlen(wd) : 0;
	if (!wd || strncmp(b->file, wd, wl)) {
		b->status = GITINFO_BLOB_OUTSIDE;
		goto out;
	}
	b->rel = xstrdup(b->file + wl);
	if (git_commit_tree(&tree, c) < 0 || git_tree_entry_bypath(&ent, tree, b->rel) < 0 ||
	    git_tree_entry_type(ent) != GIT_OBJECT_BLOB ||
	    git_blob_lookup(&blob, repo, git_tree_entry_id(ent)) < 0) {
		b->status = GITINFO_BLOB_NOT_IN_COMMIT;
		goto out;
	}
	hash_buf_hex(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), b->digest);
	b->status = GITINFO_BLOB_FOUND;
out:
	git_blob_free(blob);
	git_tree_entry_free(ent);
	git_tree_free(tree);
	git_commit_free(c);
	git_repository_free(repo);
	git_libgit2_shutdown();
}

void gitinfo_blob_release(struct gitinfo_blob *b)
{
	free(b->repo);
	free(b->file);
	free(b->rel);
	free(b->message);
	memset(b, 0, sizeof(*b));
}
