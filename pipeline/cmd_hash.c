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
#include "tree.h"

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

/* The manifest text of directory `dir` (appended to out): tree.c's walk, the
 * same one the store ingests outputs with. */
static int tree_manifest(const char *dir, struct strbuf *out, struct strbuf *err)
{
	struct tree t = TREE_INIT;
	int ret = tree_walk_hash(dir, "", &t, err);
	if (!ret && !t.nr) {
		strbuf_addf(err, "directory '%s' is empty (an empty tree has no digest)", dir);
		ret = -1;
	}
	if (!ret)
		tree_format(&t, out);
	tree_release(&t);
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
