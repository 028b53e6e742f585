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

#endif
