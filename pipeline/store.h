/*
 * store: the content-addressed artifact store under one directory
 * (default ./artifacts). Layout (see docs/store.md):
 *
 *   objects/ab/<64 hex>   file contents by SHA-256, mode 0444, written by
 *                         temp file + rename (never half-written under the final name)
 *   trees/ab/<64 hex>     tree manifests (canonical text below), by SHA-256 of the text
 *   out/<64 hex>/         a tree materialised as a read-only directory of hard links
 *                         to objects (what stages receive as input paths)
 *   stat/<64 hex>         stat record of out/<hex>/ when last found intact
 *                         (store_tree_check); a cache, may be deleted
 *   cache/ab/<64 hex>     action cache: a symbolic link named by the cache key,
 *                         target "sha256-<tree digest in base64url>" (older
 *                         stores: a file "<tree hex>\n", still read)
 *   tmp/                  temporaries; emptied by store_clean_tmp()
 *   work/                 stage working directories; emptied by store_clean_tmp()
 *   lock                  the writer lock (flock), holds the writer's pid as text
 *   provenance.db         SQLite provenance (owned by prov.c, not this module)
 *
 * Garbage collection (`study gc`) removes what no kept run uses through the
 * store_remove_* functions below (pipeline/gc.h owns the policy).
 *
 * Tree manifest canonical form (pipeline/tree.h owns it; UTF-8 text, bytes
 * sorted by path, '\n' ends each line):
 *
 *   study-tree 1
 *   <kind> <sha256 hex> <size> <path>
 *
 * where kind is "f" (regular file) or "x" (executable regular file); for empty
 * directories kind is "d", the digest 64 zeros and size 0. path is relative,
 * '/'-separated, never contains "." or ".." components, control characters or
 * a newline. Symlinks, devices, fifos and sockets in an output are errors.
 * The tree digest is the SHA-256 of the whole manifest text.
 *
 * A function with an `err` returns 0 on success, or -1 with a one-line message
 * in it (lowercase, paths quoted), unless its comment says otherwise; the
 * others say what they return. No function calls exit() or prints.
 */
#ifndef STUDY_STORE_H
#define STUDY_STORE_H

#include <stdint.h>
#include "fsutil.h" /* mkdir_p, remove_tree, write_file_atomic, used with the store */
#include "hash.h"
#include "strbuf.h"

struct store {
	char *root;  /* absolute path of the store directory */
	int lock_fd; /* -1 unless the writer lock is held */
	int fsync;   /* 1: fsync files and directories around renames (store_set_fsync) */
	/* store_lock(wait=1) calls this once before blocking, with the holder as
	 * "pid N" or "pid unknown" (the command prints it; the store never does).
	 * NULL (the default after store_open): wait silently. */
	void (*on_wait)(void *ctx, const char *holder);
	void *on_wait_ctx;
};

/* Create the layout if missing (mkdir -p) and fill st. */
int store_open(struct store *st, const char *dir, struct strbuf *err);
/* Open an existing store for reading only; fails with "no store at 'DIR'" when
 * DIR/objects is missing. */
int store_open_existing(struct store *st, const char *dir, struct strbuf *err);
void store_release(struct store *st); /* also drops the lock */
/* Off by default (crash safety targets kill -9, not power loss). When on,
 * objects, manifests, cache entries are fsynced before their rename and
 * their directory after it. */
void store_set_fsync(struct store *st, int on);

/* Writer lock: flock(LOCK_EX) on <root>/lock (O_CLOEXEC: stage subprocesses
 * do not inherit it); the pid is written into the file after acquiring.
 * wait=0: fail at once when another process holds it, with
 * "store 'DIR' is locked by another run (pid N)" (DIR is st->root, absolute).
 * wait=1: call st->on_wait (if set) once with "pid N", then block. N reads
 * "unknown" when the holder has not written its pid yet. Taking it again through the same struct is a no-op (returns 0).
 * On failure errno says why: EWOULDBLOCK when another process holds it
 * (wait=0); EACCES, EROFS, ... when the lock file cannot be opened for
 * writing (a store this user may only read). */
int store_lock(struct store *st, int wait, struct strbuf *err);
void store_unlock(struct store *st);

/* Remove everything under tmp/ and work/ (leftovers of a killed run).
 * Only call while holding the writer lock, and after pgroup_kill_leftovers
 * on work/ (pgroup.h): the store does not manage processes. */
int store_clean_tmp(struct store *st, struct strbuf *err);

/* Path helpers (fill `out`, replacing its content). */
void store_object_path(const struct store *st, const char *hex, struct strbuf *out);
void store_tree_manifest_path(const struct store *st, const char *hex, struct strbuf *out);
void store_tree_dir_path(const struct store *st, const char *hex, struct strbuf *out);

/* Store bytes as an object. */
int store_put_bytes(struct store *st, const void *data, size_t len, char hex[HASH_HEX_SIZE],
		    struct strbuf *err);
/* Store a file's content as an object (`size` may be NULL). When `consume`
 * is 1 the file is gone afterwards: renamed into the store (zero copy), or
 * copied then removed when it is on another filesystem or has other hard
 * links; otherwise it is copied (hashing while copying) and left alone. */
int store_put_file(struct store *st, const char *path, int consume, char hex[HASH_HEX_SIZE],
		   uint64_t *size, struct strbuf *err);

/* Import the regular file open as `fd` (`name` for messages) as an object
 * without touching the file: the object is a reflink clone (FICLONE: the
 * filesystem shares the blocks copy-on-write, so a later edit of the file in
 * place does not reach the store) when the file's filesystem is the store's
 * and supports it, else a copy. Never a hard link: the object would then be
 * the user's inode, and an edit of the file would change a stored object.
 * The whole file is read from offset 0, in large chunks; `hex` and `size`
 * describe the bytes stored (hashed from the clone, or while copying), even
 * if the file changes meanwhile. *created (may be NULL) is 1 when the object
 * was not in the store before. Safe to call from several threads at once. */
int store_import_fd(struct store *st, int fd, const char *name, char hex[HASH_HEX_SIZE],
		    uint64_t *size, int *created, struct strbuf *err);

/* Is object `hex` present, a regular file, and its content its name? 1 yes;
 * 0 missing or damaged (a damaged one is unlinked when `drop`, so that it is
 * imported or produced again); -1 with err when it cannot be read. */
int store_object_check(struct store *st, const char *hex, int drop, struct strbuf *err);

/* Ingest a whole directory tree: store every file as an object (consuming
 * them when consume=1), write the manifest, materialise out/<hex>/.
 * Fills the tree digest, the number of files and total bytes (nfiles/bytes
 * may be NULL). An empty directory is an error ("output directory 'DIR' is
 * empty"); so are "output 'PATH' is a symbolic link (only regular files and
 * directories are allowed)" (also "a fifo", "a socket", "a device") and
 * "output 'PATH' has a control character or newline in its name". */
int store_put_tree(struct store *st, const char *dir, int consume, char hex[HASH_HEX_SIZE],
		   uint64_t *nfiles, uint64_t *bytes, struct strbuf *err);

/* Record tree `t` (sorted, at least one entry, every object it names
 * already in the store): write its manifest, materialise out/<hex>/ (or, when
 * already materialised, check it: store_tree_check). Fills the tree digest. */
struct tree;
int store_put_manifest(struct store *st, const struct tree *t, char hex[HASH_HEX_SIZE],
		       struct strbuf *err);

/* 1 when the tree's materialised directory exists: one stat, no hashing (the
 * no-op rerun hot path). out/<hex> is only ever renamed into place after its
 * manifest was written, so it implies the manifest; `verify` checks both. */
int store_has_tree(const struct store *st, const char *hex);
/* Make sure out/<hex>/ exists and put its path in `path`. An existing
 * directory is taken as it is (store_tree_check / store_tree_intact check its
 * content); a missing one is re-materialised from manifest + objects, the
 * manifest's digest checked first. Errors: "invalid tree digest 'X'", "tree
 * 'HEX' is not in the store", "tree manifest 'PATH' is corrupt (digest HEX)",
 * "object 'HEX' (for 'PATH' of tree 'HEX') is missing from the store". */
int store_tree_path(struct store *st, const char *hex, struct strbuf *path, struct strbuf *err);

/* 1 when tree `hex` is materialised or could be rebuilt by store_tree_path:
 * its manifest is intact and every object it names exists with the right
 * size. Reads only (status, --dry-run, read-only stores). */
int store_tree_restorable(const struct store *st, const char *hex);

/* Is out/<hex>/ still exactly its manifest? Called on every tree before it
 * is handed to a stage or reused as a cache hit (docs/store.md, "Integrity").
 * Rebuilds out/<hex>/ first when it is missing (store_tree_path). Cheap when
 * nothing changed: stat/<hex> records the inode, mode, size, mtime and ctime
 * of every entry of out/<hex>/ when it was last found intact, and one lstat
 * per entry is compared with it. Any difference (or no record) and the
 * materialised tree is rehashed and compared with the manifest:
 *   STORE_TREE_OK        equal (the record is refreshed);
 *   STORE_TREE_RESTORED  it differed but every object is intact: out/<hex>/
 *                        was rebuilt from them;
 *   STORE_TREE_DAMAGED   an object itself is damaged (a materialised file is
 *                        a hard link to its object, so an edit in place
 *                        changes both): every object of the tree whose
 *                        content is not its name is deleted, and out/<hex>/
 *                        removed, so the tree is no longer in the store and
 *                        its producer must run again.
 * For RESTORED and DAMAGED, `note` gets "file 'OUTDIR/PATH' does not match
 * its recorded digest (DETAIL); N damaged objects removed from the store" or
 * "... did not match ...; restored from the store's intact object".
 * -1 with err when the tree cannot be checked (not in the store, corrupt
 * manifest, I/O error). */
enum { STORE_TREE_OK = 0, STORE_TREE_RESTORED = 1, STORE_TREE_DAMAGED = 2 };
int store_tree_check(struct store *st, const char *hex, struct strbuf *note, struct strbuf *err);
/* The same check without writing anything (for readers such as `verify
 * --rerun`): 0 when out/<hex>/ is its manifest, else -1 with "file
 * 'OUTDIR/PATH' does not match its recorded digest (DETAIL)" or why it could
 * not be checked. out/<hex>/ must exist (store_tree_path): a missing one is
 * "tree 'HEX' is not materialised", never rebuilt (a reader that rebuilt it
 * while `study gc` removes the tree would leave an out/<hex>/ without its
 * manifest). */
int store_tree_intact(struct store *st, const char *hex, struct strbuf *err);
/* out/<hex>/ was just built by the store from objects known to be intact
 * (an external input it imported: extinput.h): write its stat record now, so
 * that the next store_tree_check is stat-only instead of rehashing the whole
 * tree once more (gigabytes for a checkpoint). The record is taken once the
 * clock has moved past the entries' times (at most a clock tick's wait), so
 * that it is not "racy". Best effort: no record only costs a rehash. */
void store_tree_record(struct store *st, const char *hex);

/* After a stage changed input tree `hex` in place (runner.c's input guard):
 * rehash every object the manifest names, delete those whose content no
 * longer matches (count in *dropped), give the others mode 0444 back, remove
 * out/<hex>/ and, when nothing was dropped, rebuild it. 0, or -1 with err
 * (corrupt manifest, I/O error). */
int store_tree_repair(struct store *st, const char *hex, size_t *dropped, struct strbuf *err);

/* Action cache. store_cache_get returns 1 (hit, tree hex filled), 0 (miss:
 * no entry, invalid key, or a malformed entry; never an error). */
int store_cache_get(const struct store *st, const char *key_hex, char tree_hex[HASH_HEX_SIZE]);
int store_cache_put(struct store *st, const char *key_hex, const char *tree_hex,
		    struct strbuf *err);

/* Walk objects/ab/<name> (store_for_each_object) or trees/ab/<name>
 * (store_for_each_tree), fan-out directories and names in byte order, calling
 * fn(ctx, name, path, named_ok) for every file; named_ok is 1 when name is 64
 * hex digits starting with its fan-out directory's name. A missing directory
 * is empty; -1 only when a directory cannot be read. */
typedef void (*store_each_fn)(void *ctx, const char *name, const char *path, int named_ok);
int store_for_each_object(const struct store *st, store_each_fn fn, void *ctx, struct strbuf *err);
int store_for_each_tree(const struct store *st, store_each_fn fn, void *ctx, struct strbuf *err);
/* The same over the action cache, cache/ab/<key> (named_ok: the key is 64
 * hex digits in its fan-out directory; read the entry with store_cache_get),
 * and over the flat directories out/<name> (store_for_each_outdir) and
 * stat/<name> (store_for_each_stat), where named_ok means 64 hex digits. */
int store_for_each_cache_entry(const struct store *st, store_each_fn fn, void *ctx,
			       struct strbuf *err);
int store_for_each_outdir(const struct store *st, store_each_fn fn, void *ctx, struct strbuf *err);
int store_for_each_stat(const struct store *st, store_each_fn fn, void *ctx, struct strbuf *err);

/* Removal, for `study gc` (pipeline/gc.h) only, with the writer lock held.
 * Each is one crash step (fsutil.h) and leaves the store whole whatever
 * follows: a name is there or gone, never half gone. A name that is
 * already gone is not an error. The caller keeps the order that makes each
 * intermediate state valid (docs/store.md, "Garbage collection"): cache
 * entries before the trees they name, out/<hex>/ before its manifest,
 * manifests before the objects they list.
 *   store_remove_cache_entry  unlink cache/ab/<key>;
 *   store_remove_outdir       out/<hex>/ is renamed into tmp/ (atomically:
 *                             no half tree is ever seen under out/), then
 *                             removed from there; a kill in between leaves
 *                             it to store_clean_tmp;
 *   store_remove_stat         unlink stat/<hex>;
 *   store_remove_tree         unlink trees/ab/<hex> (the manifest);
 *   store_remove_object       unlink objects/ab/<hex>.
 * `name` must be 64 hex digits ("invalid store name 'X'" otherwise). */
int store_remove_cache_entry(struct store *st, const char *key_hex, struct strbuf *err);
int store_remove_outdir(struct store *st, const char *name, struct strbuf *err);
int store_remove_stat(struct store *st, const char *name, struct strbuf *err);
int store_remove_tree(struct store *st, const char *hex, struct strbuf *err);
int store_remove_object(struct store *st, const char *hex, struct strbuf *err);

/* The work directory of the execution whose cache key is `key_hex`:
 * <store>/work/<key>. It depends on nothing but the store and the key (as
 * Bazel's execroot and Nix's output paths do), so a stage that writes its own
 * ${out}, HOME or TMPDIR path into its output writes the same bytes each
 * time, and `verify --rerun` can run it at the same path. One run at a time
 * owns work/ (the writer lock), and no two stages share a key. */
void store_workdir_path(const struct store *st, const char *key_hex, struct strbuf *out);
/* Create that directory fresh, empty and private (0700), removing what a
 * killed run left there; its path goes in `path`. Call with the lock held.
 * On failure errno says why (EACCES, EROFS: a store this user may only read). */
int store_make_workdir(struct store *st, const char *key_hex, struct strbuf *path,
		       struct strbuf *err);
/* The shape of every work directory (the runner's and `verify --rerun`'s):
 * create the empty private (0700) subdirectories cwd/ (the stage's working
 * directory and HOME), out/ (${out}, STUDY_OUT) and tmp/ (TMPDIR) in the
 * existing directory `dir`. */
int store_workdir_subdirs(const char *dir, struct strbuf *err);

#endif
