/*
 * store: the content-addressed artifact store under one directory
 * (default ./artifacts). Layout (see docs/store.md):
 *
 *   objects/ab/<64 hex>   file contents by SHA-256, mode 0444, written by
 *                         temp file + rename (never half-written under the final name)
 *   trees/ab/<64 hex>     tree manifests (canonical text below), by SHA-256 of the text
 *   out/<64 hex>/         a tree materialised as a read-only directory of hard links
 *                         to objects (what stages receive as input paths)
 *   cache/ab/<64 hex>     action cache: file named by cache key, content "<tree hex>\n"
 *   tmp/                  temporaries; emptied by store_clean_tmp()
 *   work/                 stage working directories; emptied by store_clean_tmp()
 *   lock                  the writer lock (flock), holds the writer's pid as text
 *   provenance.db         SQLite provenance (owned by prov.c, not this module)
 *
 * Tree manifest canonical form (UTF-8 text, bytes sorted by path, '\n' ends each line):
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
 * Every function returns 0 on success, or -1 with a one-line message in `err`
 * (lowercase, paths quoted). No function calls exit().
 */
#ifndef STUDY_STORE_H
#define STUDY_STORE_H

#include <stdint.h>
#include "hash.h"
#include "strbuf.h"

struct store {
	char *root;  /* absolute path of the store directory */
	int lock_fd; /* -1 unless the writer lock is held */
};

/* Create the layout if missing (mkdir -p) and fill st. */
int store_open(struct store *st, const char *dir, struct strbuf *err);
/* Open an existing store for reading only; fails if `dir` is not a store. */
int store_open_existing(struct store *st, const char *dir, struct strbuf *err);
void store_release(struct store *st); /* also drops the lock */

/* Writer lock. wait=0: fail at once when another process holds it, with
 * "store 'DIR' is locked by another run (pid N)". wait=1: print
 * "study: waiting for the store lock held by pid N" to stderr once, then block. */
int store_lock(struct store *st, int wait, struct strbuf *err);
void store_unlock(struct store *st);

/* Remove everything under tmp/ and work/ (leftovers of a killed run).
 * Only call while holding the writer lock. */
int store_clean_tmp(struct store *st, struct strbuf *err);

/* Path helpers (fill `out`, replacing its content). */
void store_object_path(const struct store *st, const char *hex, struct strbuf *out);
void store_tree_manifest_path(const struct store *st, const char *hex, struct strbuf *out);
void store_tree_dir_path(const struct store *st, const char *hex, struct strbuf *out);

/* Store bytes as an object. */
int store_put_bytes(struct store *st, const void *data, size_t len, char hex[HASH_HEX_SIZE],
		    struct strbuf *err);
/* Store a file's content as an object. When `consume` is 1 the file may be
 * renamed into the store (it must be on the same filesystem; it is gone
 * afterwards); otherwise it is copied. */
int store_put_file(struct store *st, const char *path, int consume, char hex[HASH_HEX_SIZE],
		   uint64_t *size, struct strbuf *err);

/* Ingest a whole directory tree: store every file as an object (consuming
 * them when consume=1), write the manifest, materialise out/<hex>/.
 * Fills the tree digest, the number of files and total bytes. An empty
 * directory is an error ("output directory 'DIR' is empty"). */
int store_put_tree(struct store *st, const char *dir, int consume, char hex[HASH_HEX_SIZE],
		   uint64_t *nfiles, uint64_t *bytes, struct strbuf *err);

/* 1 when the tree's manifest and its materialised directory exist. */
int store_has_tree(const struct store *st, const char *hex);
/* Make sure out/<hex>/ exists (re-materialise from manifest + objects if the
 * directory was removed) and put its path in `path`. */
int store_tree_path(struct store *st, const char *hex, struct strbuf *path, struct strbuf *err);

/* Action cache. store_cache_get returns 1 (hit, tree hex filled), 0 (miss). */
int store_cache_get(const struct store *st, const char *key_hex, char tree_hex[HASH_HEX_SIZE]);
int store_cache_put(struct store *st, const char *key_hex, const char *tree_hex,
		    struct strbuf *err);

/* Create a fresh, empty, private directory under work/ and return its path. */
int store_make_workdir(struct store *st, const char *label, struct strbuf *path,
		       struct strbuf *err);

/* Recursively remove a directory tree (making read-only dirs writable first).
 * Missing path is not an error. */
int remove_tree(const char *path, struct strbuf *err);
/* mkdir -p */
int mkdir_p(const char *path, int mode, struct strbuf *err);
/* Write a whole file atomically: temp file in the same directory, then rename. */
int write_file_atomic(const char *path, const void *data, size_t len, int mode,
		      struct strbuf *err);

#endif
