/*
 * fsutil: filesystem helpers shared by the store and anyone else who needs
 * them. Functions that can fail return 0, or -1 with a one-line message in
 * `err` ("cannot write 'PATH': why", paths quoted); none calls exit().
 */
#ifndef STUDY_FSUTIL_H
#define STUDY_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>
#include "strbuf.h"

/* mkdir -p: create `path` and any missing parents with `mode`. An existing
 * directory is fine; an existing non-directory is an error. */
int mkdir_p(const char *path, int mode, struct strbuf *err);

/* Recursively remove a directory tree (or a single file), giving read-only
 * directories u+rwx before descending. A missing path is not an error.
 * Symlinks are removed, never followed. */
int remove_tree(const char *path, struct strbuf *err);
/* Remove everything inside directory `dir`, keeping `dir` itself. A missing
 * `dir` is not an error. */
int remove_tree_contents(const char *dir, struct strbuf *err);

/* Write a whole file atomically: temp file ".tmp-XXXXXX" in the same
 * directory, write all (short writes and EINTR handled), fchmod `mode`,
 * close, rename over `path`. On failure the temp is removed, `path` is
 * untouched, and err says "cannot write 'PATH': why" (e.g. "No space left on
 * device") or "cannot rename 'TMP' to 'PATH': why". After a failure to create
 * the temp file, errno is preserved (ENOENT: the directory is missing). */
int write_file_atomic(const char *path, const void *data, size_t len, int mode,
		      struct strbuf *err);
/* The same; with do_fsync=1 also fsync the file before the rename and its
 * directory after it. */
int write_file_atomic_sync(const char *path, const void *data, size_t len, int mode,
			   int do_fsync, struct strbuf *err);
/* The same with the temp file in directory `tmpdir` (same filesystem as
 * `path`; NULL: path's own directory), so that a temp left by a process
 * killed mid-write lies where it gets cleaned (the store's tmp/) rather than
 * next to the final names. A missing directory of `path` fails with errno
 * ENOENT (from the rename). */
int write_file_atomic_via(const char *path, const char *tmpdir, const void *data, size_t len,
			  int mode, int do_fsync, struct strbuf *err);

/* write(2) until all of `len` is written, retrying on EINTR. 0 or -1 (errno).
 * One crash step ("write", before the first byte / after the last). */
int fs_write_all(int fd, const void *data, size_t len);
/* symlink(2), subject to the same fault hook as fs_write_all (and a crash
 * step, "symlink"). */
int fs_symlink(const char *target, const char *path);
/* read(2) retrying on EINTR (may return fewer bytes than asked; 0 at EOF). */
ssize_t fs_read_retry(int fd, void *buf, size_t len);
/* Best-effort fsync of the directory containing `path` (errors ignored). */
void fs_fsync_parent(const char *path);

/* Sleep until CLOCK_REALTIME_COARSE, the clock that file times come from,
 * is past `t` (a file's mtime or ctime), so that a change made from now on
 * gives the file another time: a stat record taken then is not "racy". 0, or
 * -1 without waiting more than 100 ms (a time in the future). */
struct timespec;
int fs_wait_past(const struct timespec *t);

/* Fault injection for tests (like xalloc_fail_after): after `n` more
 * successful fs_write_all() calls, every call fails with ENOSPC ("No space
 * left on device") without writing; fs_fail_writes_after(-1), the default,
 * turns it off. The store writes all file data through fs_write_all, and
 * its links (cache entries) through fs_symlink. */
void fs_fail_writes_after(long n);

/*
 * Crash injection for tests (docs/reliability.md, "Crash windows"). Every
 * durable step of the store and of provenance calls fs_crash_step() right
 * before it and fs_crash_step_done() right after it returned (whether it
 * succeeded or not: a rename that fails for a missing fan-out directory is
 * a step too, and so is its retry): writes of file
 * data (fs_write_all), renames into a final name, links, symlinks, mkdir of a
 * final (fan-out) directory, unlinks, and provenance COMMITs. Steps are
 * numbered from 1 in the order they happen in the process.
 *   STUDY_CRASH_AT=N         SIGKILL the process right before step N
 *   STUDY_CRASH_AT=N:after   ... right after step N returned
 *   STUDY_CRASH_TRACE=FILE   append "N KIND PATH" for every step to FILE
 * Inert (one load and compare per step) when neither variable is set; they
 * are read once, at the first step. `kind` is a fixed word ("write",
 * "rename", "link", "symlink", "mkdir", "unlink", "commit"); `path` is what
 * the step creates or removes (may be NULL). Async-signal-safe once set up.
 */
void fs_crash_step(const char *kind, const char *path);
void fs_crash_step_done(void);


#endif
