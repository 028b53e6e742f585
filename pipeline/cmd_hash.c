/*
 * cmd_hash: `study hash PATH...` — the digests the store would give, without
 * a store. A regular file prints its SHA-256 (the object name), a directory
 * its tree digest: the SHA-256 of the canonical manifest of docs/store.md
 * ("study-tree 1", then "<f|x|d> <sha256> <size> <path>" sorted by path
 * bytes). Output lines are "<hex>  <path>" like sha256sum's, so an auditor can
 * check an object or an out/<hex>/ directory by hand; the benchmarks use it
 * to measure hashing throughput.
 */
#include "cli.h"
#include "hash.h"
#include "strbuf.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char hash_usage[] =
	"usage: study hash PATH...\n"
	"\n"
	"Prints '<sha256>  PATH' for each PATH: a file's SHA-256 (its object name in\n"
	"the store), or a directory's tree digest (docs/store.md: the SHA-256 of its\n"
	"canonical manifest; symlinks and special files are errors).\n"
	"\n"
	"  --manifest   for a directory, print the manifest itself instead\n"
	"  -h, --help   show this help\n"
	"\n"
	"exit status: 0 all hashed, 1 a path could not be hashed, 2 bad usage\n";

#define ZERO_HEX "0000000000000000000000000000000000000000000000000000000000000000"

struct mline {
	char *path;
	char *text; /* the whole manifest line */
};

struct mlist {
	struct mline *v;
	size_t nr, alloc;
};

static int is_ctrl(unsigned char c) { return c < 0x20 || c == 0x7f; }

static void mlist_add(struct mlist *l, const char *rel, char kind, const char *hex,
		      unsigned long long size)
{
	XGROW(l->v, l->alloc, l->nr + 1);
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%c %s %llu %s\n", kind, hex, size, rel);
	l->v[l->nr].path = xstrdup(rel);
	l->v[l->nr].text = strbuf_detach(&sb, NULL);
	l->nr++;
}

static int mline_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mline *)a)->path, ((const struct mline *)b)->path);
}

/* Walk `full` (whose path relative to the top is `rel`, "" at the top). */
static int walk(const char *full, const char *rel, struct mlist *l, struct strbuf *err)
{
	DIR *d = opendir(full);
	if (!d) {
		strbuf_addf(err, "cannot open directory '%s': %s", full, strerror(errno));
		return -1;
	}
	size_t before = l->nr;
	struct strbuf cf = STRBUF_INIT, cr = STRBUF_INIT;
	struct dirent *de;
	int ret = 0;
	errno = 0;
	while (!ret && (de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		strbuf_reset(&cf);
		strbuf_addf(&cf, "%s/%s", full, name);
		strbuf_reset(&cr);
		if (*rel)
			strbuf_addf(&cr, "%s/", rel);
		strbuf_addstr(&cr, name);
		for (const char *s = name; *s; s++)
			if (is_ctrl((unsigned char)*s)) {
				strbuf_addf(err, "'%s' has a control character or newline "
						 "in its name",
					    full);
				ret = -1;
				break;
			}
		if (ret)
			break;
		struct stat sb;
		if (lstat(cf.buf, &sb) != 0) {
			strbuf_addf(err, "cannot stat '%s': %s", cf.buf, strerror(errno));
			ret = -1;
		} else if (S_ISDIR(sb.st_mode)) {
			ret = walk(cf.buf, cr.buf, l, err);
		} else if (S_ISREG(sb.st_mode)) {
			char hex[HASH_HEX_SIZE];
			uint64_t size = 0;
			ret = hash_file_hex(cf.buf, hex, &size, err);
			if (!ret)
				mlist_add(l, cr.buf, (sb.st_mode & S_IXUSR) ? 'x' : 'f', hex,
					  (unsigned long long)size);
		} else {
			const char *what = S_ISLNK(sb.st_mode) ? "a symbolic link"
							       : "a special file";
			strbuf_addf(err, "'%s' is %s (only regular files and directories have "
					 "a digest)",
				    cf.buf, what);
			ret = -1;
		}
		errno = 0;
	}
	if (!ret && errno) {
		strbuf_addf(err, "cannot read directory '%s': %s", full, strerror(errno));
		ret = -1;
	}
	closedir(d);
	if (!ret && *rel && l->nr == before)
		mlist_add(l, rel, 'd', ZERO_HEX, 0);
	strbuf_release(&cf);
	strbuf_release(&cr);
	return ret;
}

/* The manifest text of directory `dir` (appended to out). */
static int tree_manifest(const char *dir, struct strbuf *out, struct strbuf *err)
{
	struct mlist l = { NULL, 0, 0 };
	int ret = walk(dir, "", &l, err);
	if (!ret && !l.nr) {
		strbuf_addf(err, "directory '%s' is empty (an empty tree has no digest)", dir);
		ret = -1;
	}
	if (!ret) {
		qsort(l.v, l.nr, sizeof(*l.v), mline_cmp);
		strbuf_addstr(out, "study-tree 1\n");
		for (size_t i = 0; i < l.nr; i++)
			strbuf_addstr(out, l.v[i].text);
	}
	for (size_t i = 0; i < l.nr; i++) {
		free(l.v[i].path);
		free(l.v[i].text);
	}
	free(l.v);
	return ret;
}

int cmd_hash(int argc, char **argv)
{
	int manifest = 0, first = 1, rc = EXIT_OK;
	for (; first < argc && argv[first][0] == '-' && argv[first][1]; first++) {
		if (!strcmp(argv[first], "--")) {
			first++;
			break;
		}
		if (!strcmp(argv[first], "-h") || !strcmp(argv[first], "--help")) {
			fputs(hash_usage, stdout);
			return EXIT_OK;
		}
		if (!strcmp(argv[first], "--manifest")) {
			manifest = 1;
			continue;
		}
		cli_error("unknown option '%s'", argv[first]);
		fputs(hash_usage, stderr);
		return EXIT_USAGE;
	}
	if (first >= argc) {
		cli_error("which path? give one or more files or directories");
		fputs(hash_usage, stderr);
		return EXIT_USAGE;
	}
	struct strbuf err = STRBUF_INIT, m = STRBUF_INIT;
	for (int i = first; i < argc; i++) {
		const char *path = argv[i];
		struct stat sb;
		char hex[HASH_HEX_SIZE];
		strbuf_reset(&err);
		strbuf_reset(&m);
		if (stat(path, &sb) != 0) {
			cli_error("cannot read '%s': %s", path, strerror(errno));
			rc = EXIT_FAILED;
			continue;
		}
		if (S_ISDIR(sb.st_mode)) {
			if (tree_manifest(path, &m, &err) < 0) {
				cli_error("%s", err.buf);
				rc = EXIT_FAILED;
				continue;
			}
			if (manifest) {
				fwrite(m.buf, 1, m.len, stdout);
				continue;
			}
			hash_buf_hex(m.buf, m.len, hex);
		} else if (hash_file_hex(path, hex, NULL, &err) < 0) {
			cli_error("%s", err.buf);
			rc = EXIT_FAILED;
			continue;
		}
		printf("%s  %s\n", hex, path);
	}
	strbuf_release(&err);
	strbuf_release(&m);
	if (fflush(stdout) != 0) {
		cli_error("cannot write the output: %s", strerror(errno));
		rc = EXIT_FAILED;
	}
	return rc;
}
