/*
 * extinput: external inputs, the study's `inputs:` section
 * (docs/study-format.md, "External inputs"): files and directories outside
 * the store, such as a model checkpoint or a data set, that stages read.
 *
 * Before the first stage starts, each is imported into the store by content
 * and becomes an input node like a stage's output (plan.h): its digest enters
 * the cache key of every stage that names it (never its path or its times),
 * and ${inputs.NAME} expands to its read-only copy in the store. A file's
 * digest is the SHA-256 of its bytes (what sha256sum prints; the stage gets
 * the object objects/ab/<hex>), a directory's is its tree digest (what
 * `study hash DIR` prints; the stage gets out/<hex>/). The original is only
 * read: copied, or cloned (FICLONE) where the filesystem shares blocks
 * copy-on-write; never moved, never hard-linked (store.h, store_import_fd).
 *
 * The stat cache (<store>/inputs/<SHA-256 of the input's real path>, one file
 * per input, docs/store.md) remembers, per file of the input, its device,
 * inode, mode, size, mtime and ctime when it was last hashed, and the digest
 * found. A file whose stat is unchanged is not read again, so a rerun with a
 * 16 GB checkpoint costs one stat per file. A file that changed within the
 * clock tick in which it was read is not recorded ("racily clean" in git's
 * index: a second change in the same tick could leave the same times), nor
 * one whose stat moved while it was read; both are hashed again next time.
 * For a file input the same cache also records the stat of its object in
 * the store, and a directory input's out/<hex>/ has the store's own record
 * (store_tree_check), so a rerun does not rehash the store's copy either.
 *
 * Functions return 0, or -1 with one message in err (the input cannot be
 * read, holds a symbolic link or a special file, or the store cannot be
 * written), or -2 with err when a pinned digest does not match. Nothing here
 * prints.
 */
#ifndef STUDY_EXTINPUT_H
#define STUDY_EXTINPUT_H

#include <stdint.h>
#include "plan.h"
#include "stagecmd.h"
#include "store.h"
#include "strbuf.h"
#include "study.h"

enum extinput_mode {
	EXTINPUT_LOOK,   /* digest only; nothing is written (status, run --dry-run) */
	EXTINPUT_IMPORT, /* put the content in the store; the caller holds its lock */
};

struct extinput_stats {
	uint64_t files, bytes;               /* in the input */
	uint64_t hashed_files, hashed_bytes; /* read and hashed this time (stat cache misses) */
	uint64_t new_files, new_bytes;       /* objects that were new to the store */
	int in_store;                        /* its content is (now) in the store */
};

/*
 * Resolve external input `in`: fill out->digest, out->is_file and out->path
 * (its path in the store: objects/ab/<hex> or out/<hex>, also in LOOK mode,
 * where it may not exist yet; NULL when st is NULL) and `stats`. `jobs` bounds
 * the threads that hash the files of a directory at once (the digest does not
 * depend on it). In LOOK mode `st` may be NULL (no store yet). A pinned digest
 * that differs is an error naming the path and both digests; objects this
 * call added to the store are removed again then.
 */
int extinput_resolve(struct store *st, const struct study_input *in, enum extinput_mode mode,
		     int jobs, struct stage_output *out, struct extinput_stats *stats,
		     struct strbuf *err);

/*
 * Every external input of the plan, in declaration order, into ext[i]
 * (p->externals_nr entries; input node p->nr + i of plan.h). `note`, when not NULL, is
 * called after each with its stats. Messages are prefixed with the study
 * file's "PATH:LINE:COL: input 'NAME': " (the `sha256:` line for a digest
 * mismatch, the `path:` line otherwise). Stops at the first error.
 */
/* wanted: per external input, 1 to resolve it (NULL: every one); an input
 * no selected stage reads is left alone (ext[i] zeroed, its pin unchecked). */
int extinput_resolve_all(const struct plan *p, struct store *st, enum extinput_mode mode,
			 int jobs, const char *wanted, struct stage_output *ext,
			 void (*note)(void *ctx, size_t i, const struct extinput_stats *s),
			 void *ctx, struct strbuf *err);

/* One line about input i after extinput_resolve_all, without a newline:
 * "input/NAME: sha256:<12 hex> from 'PATH' (N files, SIZE): hashed H files
 * (SIZE)[, K new in the store]" (LOOK: ", not in the store yet"). */
void extinput_describe(const struct plan *p, size_t i, const struct stage_output *ext,
		       const struct extinput_stats *s, struct strbuf *out);
/* Release what extinput_resolve_all filled (ext itself is the caller's). */
void extinput_release(struct stage_output *ext, size_t nr);

/* A stage changed the object of a file input in place: check it (rehash) and
 * drop it when damaged, so that the next run imports it again. Appends what
 * was done to `note`. */
void extinput_repair_file(struct store *st, const char *hex, struct strbuf *note);

#endif
