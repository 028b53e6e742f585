/*
 * tree: the one home of the tree-manifest format (docs/store.md, "The tree
 * manifest"). Everything that builds, parses or compares manifests goes
 * through here: the store (store_put_tree, store_tree_path, the tree check),
 * `study hash`, `study verify` and `verify --rerun`. So `study hash DIR`
 * equals the store's digest of DIR by construction.
 *
 *   study-tree 1
 *   <kind> <sha256 hex> <size> <path>      (one line per entry, '\n'-ended)
 *
 * kind is 'f' (regular file), 'x' (regular file with the owner-execute bit)
 * or 'd' (an empty directory: digest 64 zeros, size 0). path is relative,
 * '/'-separated, without empty, "." or ".." components and without control
 * characters (0x01-0x1f, 0x7f); lines are sorted by path as bytes (strcmp).
 *
 * Functions that can fail return 0 or -1 with a one-line message in `err`;
 * nothing here prints or exits.
 */
#ifndef STUDY_TREE_H
#define STUDY_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include "hash.h"
#include "strbuf.h"

#define TREE_HEADER "study-tree 1\n"
#define TREE_ZERO_HEX "0000000000000000000000000000000000000000000000000000000000000000"

struct tree_entry {
	char *path;
	char kind; /* 'f', 'x' or 'd' */
	char hex[HASH_HEX_SIZE];
	uint64_t size;
};

struct tree {
	struct tree_entry *v;
	size_t nr, alloc;
};
#define TREE_INIT { NULL, 0, 0 }

void tree_init(struct tree *t);
void tree_release(struct tree *t);
/* Append an entry (path copied; hex NULL means 64 zeros). Not sorted. */
struct tree_entry *tree_add(struct tree *t, const char *path, char kind, const char *hex,
			    uint64_t size);
/* Sort entries by path bytes (the canonical order). */
void tree_sort(struct tree *t);
/* Append the canonical manifest text of (sorted) t to out. */
void tree_format(const struct tree *t, struct strbuf *out);

/* 1 when c is a control character (C0, newline included, or DEL). */
int tree_is_ctrl(unsigned char c);
/* 1 when p is a valid manifest path (see above). */
int tree_path_valid(const char *p);
/* Append s with control characters shown as '?' (for one-line messages). */
void tree_add_printable(struct strbuf *sb, const char *s);

/* Strict parse of manifest text into t (appended; t should be empty): header,
 * every field, path validity and strictly increasing order are checked, and
 * a manifest without entries is rejected. Errors: "malformed tree manifest
 * 'WHAT': bad header", "...: line N", "...: no entries". */
int tree_parse(const char *text, size_t len, const char *what, struct tree *t,
	       struct strbuf *err);
/* Read the manifest file at path, check that its SHA-256 is `hex` (when hex is
 * not NULL) and parse it. Errors: "cannot read 'PATH': ...", "tree manifest
 * 'PATH' is corrupt (digest HEX)", the parse errors. errno is ENOENT after a
 * missing file. */
int tree_read(const char *path, const char *hex, struct tree *t, struct strbuf *err);

/* Build a tree by walking directory `dir` (opened with O_NOFOLLOW). For each
 * regular file, `file` is called with the file open as `fd` (it must close
 * it), its fstat, the directory fd and name it was opened from, a printable
 * path for messages, and the new entry, whose kind and path are set; it fills
 * e->hex and e->size. A directory without entries becomes a 'd' entry. The
 * result is sorted. `noun` prefixes the path in messages ("output " in the
 * store, "" for `study hash`): "NOUN'PATH' is a symbolic link (only regular
 * files and directories are allowed)" (also "a fifo", "a socket", "a device")
 * and "NOUN'PATH' has a control character or newline in its name". */
typedef int (*tree_file_fn)(void *ctx, int fd, const struct stat *sb, int dirfd,
			    const char *name, const char *display, struct tree_entry *e,
			    struct strbuf *err);
int tree_walk(const char *dir, const char *noun, tree_file_fn file, void *ctx, struct tree *t,
	      struct strbuf *err);
/* tree_walk that hashes each file (what `study hash` does); the kind follows
 * the owner-execute bit (materialised files never carry it: compare such a
 * walk with tree_first_difference(..., ignore_exec=1)). */
int tree_walk_hash(const char *dir, const char *noun, struct tree *t, struct strbuf *err);

/* The first difference between two sorted trees as a phrase: "'P' only in
 * the ANAME", "'P' differs (N bytes in the ANAME, M in the BNAME)", "'P'
 * differs in its executable bit" (never when ignore_exec). Returns 0 and
 * leaves out alone when they are equal; 1 otherwise. When `path` is not NULL
 * it receives the path of the difference. */
int tree_first_difference(const struct tree *a, const struct tree *b, const char *aname,
			  const char *bname, int ignore_exec, struct strbuf *out,
			  struct strbuf *path);

#endif
