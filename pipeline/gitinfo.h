/*
 * gitinfo: what libgit2 says about the repository holding a path: HEAD
 * commit, branch, and whether the work tree is dirty (modified, staged, or
 * untracked files that are not ignored).
 */
#ifndef STUDY_GITINFO_H
#define STUDY_GITINFO_H

#include "strbuf.h"

struct gitinfo {
	int found;        /* 0 when `path` is in no repository (not an error) */
	char commit[41];  /* HEAD commit hex; "" when the repo has no commits */
	char *branch;     /* short branch name, NULL when detached */
	int dirty;        /* 1 when the work tree differs from HEAD */
	char *workdir;    /* absolute work tree root, without trailing slash */
};

/* Inspect the repository containing `path` (a file or directory).
 * Returns 0 (found=0 when there is no repository), -1 on a libgit2 error. */
int gitinfo_read(const char *path, struct gitinfo *gi, struct strbuf *err);
/* The same, but files under the directory that `exclude(ctx)` returns (an
 * absolute path, or NULL for none) do not make the tree dirty: the tool's own
 * store is no change to the study. `exclude` is called after HEAD is read and
 * before the status walk, so a caller on another thread can still be working
 * the path out. */
int gitinfo_read_excluding(const char *path, const char *(*exclude)(void *ctx), void *ctx,
			   struct gitinfo *gi, struct strbuf *err);
void gitinfo_release(struct gitinfo *gi);

/* What a commit holds at a study file's path (`study verify`). */
enum gitinfo_blob_status {
	GITINFO_BLOB_FOUND,      /* digest holds the SHA-256 of the file's content at the commit */
	GITINFO_BLOB_NO_REPO,    /* no repository at or above `start`; message says libgit2's why */
	GITINFO_BLOB_NO_COMMIT,  /* `commit` is not a commit of that repository */
	GITINFO_BLOB_OUTSIDE,    /* `file` is not inside the repository's work tree */
	GITINFO_BLOB_NOT_IN_COMMIT /* the commit has no regular file at rel */
};
struct gitinfo_blob {
	enum gitinfo_blob_status status;
	char digest[65];  /* FOUND only: SHA-256 hex of the blob */
	char *repo;       /* the work tree root with a trailing '/' (or the git dir of a
			   * bare repository); NULL for NO_REPO */
	char *file;       /* `file` resolved with realpath when it exists, else as given */
	char *rel;        /* file relative to repo; NULL unless FOUND or NOT_IN_COMMIT */
	char *message;    /* NO_REPO only: libgit2's message */
};
/* Open the repository at or above the directory `start` and look up
 * `file` (an absolute path) in `commit` (40 hex). Never fails: the outcome
 * is in b->status. The caller releases b with gitinfo_blob_release. Pairs
 * its own git_libgit2_init/shutdown like gitinfo_read. */
void gitinfo_blob_at(const char *start, const char *file, const char *commit,
		     struct gitinfo_blob *b);
void gitinfo_blob_release(struct gitinfo_blob *b);

#endif
