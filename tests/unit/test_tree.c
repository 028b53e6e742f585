/*
 * test_tree: the tree-manifest module (pipeline/tree.c): building by walking
 * a directory (the docs/store.md example digest), the canonical text, the
 * strict parser and what it rejects, the first difference; and the store's
 * tree check (store_tree_check) against forged materialised files.
 */
#include "check.h"
#include "hash.h"
#include "store.h"
#include "strbuf.h"
#include "tree.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define H_A "06f961b802bc46ee168555f066d28f4f0e9afdf3f88174c1ee6f9de004fc30a0"  /* "A\n" */
#define H_X "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"  /* "x" */
#define H_BB "68cd080c537d3f1355f357189f74f3fe1c68dd13cf406a84aedc934c90a0df31" /* "BB\n" */

static char scratch[] = "/tmp/study-test-tree-XXXXXX";

static void put(const char *rel, const char *content, int mode)
{
	struct strbuf p = STRBUF_INIT;
	strbuf_addf(&p, "%s/%s", scratch, rel);
	FILE *f = fopen(p.buf, "wb");
	if (f) {
		fputs(content, f);
		fclose(f);
	}
	chmod(p.buf, (mode_t)mode);
	strbuf_release(&p);
}

static const char example[] =
	"study-tree 1\n"
	"f " H_A " 2 a.txt\n"
	"d " TREE_ZERO_HEX " 0 empty\n"
	"f " H_X " 1 sub-x\n"
	"x " H_BB " 3 sub/b.txt\n";

static void test_build(void)
{
	struct strbuf p = STRBUF_INIT, m = STRBUF_INIT, err = STRBUF_INIT;
	struct tree t = TREE_INIT;
	strbuf_addf(&p, "%s/src", scratch);
	mkdir(p.buf, 0755);
	strbuf_addstr(&p, "/sub");
	mkdir(p.buf, 0755);
	strbuf_setlen(&p, p.len - 4);
	strbuf_addstr(&p, "/empty");
	mkdir(p.buf, 0755);
	put("src/a.txt", "A\n", 0644);
	put("src/sub-x", "x", 0644);
	put("src/sub/b.txt", "BB\n", 0755);
	strbuf_setlen(&p, p.len - 6);
	CHECK(tree_walk_hash(p.buf, "", &t, &err) == 0, "walk a directory");
	tree_format(&t, &m);
	CHECK_STR(m.buf, example, "the docs/store.md example manifest, sorted by bytes");
	tree_release(&t);
	strbuf_release(&p);
	strbuf_release(&m);
	strbuf_release(&err);
}

static void test_parse(void)
{
	struct tree t = TREE_INIT;
	struct strbuf err = STRBUF_INIT, m = STRBUF_INIT;
	CHECK(tree_parse(example, strlen(example), "ex", &t, &err) == 0, "parse the example");
	CHECK(t.nr == 4 && t.v[3].kind == 'x' && t.v[3].size == 3 &&
		      !strcmp(t.v[3].path, "sub/b.txt") && !strcmp(t.v[0].hex, H_A),
	      "fields parsed");
	tree_format(&t, &m);
	CHECK_STR(m.buf, example, "format(parse(text)) is the text");
	tree_release(&t);

	static const struct {
		const char *text, *want, *what;
	} bad[] = {
		{ "study-tree 2\nf " H_A " 2 a\n", "malformed tree manifest 'm': bad header",
		  "rejects a missing header" },
		{ "study-tree 1\n", "malformed tree manifest 'm': no entries", "rejects no entries" },
		{ "study-tree 1\nf " H_A " 2 b\nf " H_A " 2 a\n", "malformed tree manifest 'm': line 3",
		  "rejects unsorted lines" },
		{ "study-tree 1\nf " H_A " 2 a\nf " H_A " 2 a\n", "malformed tree manifest 'm': line 3",
		  "rejects a duplicate path" },
		{ "study-tree 1\nl " H_A " 2 a\n", "malformed tree manifest 'm': line 2",
		  "rejects a bad kind" },
		{ "study-tree 1\nf " H_A " 2 a/../b\n", "malformed tree manifest 'm': line 2",
		  "rejects '..'" },
		{ "study-tree 1\nf " H_A " 2 ./a\n", "malformed tree manifest 'm': line 2",
		  "rejects '.'" },
		{ "study-tree 1\nf " H_A " 2 /a\n", "malformed tree manifest 'm': line 2",
		  "rejects an absolute path" },
		{ "study-tree 1\nf " H_A " 2 a\tb\n", "malformed tree manifest 'm': line 2",
		  "rejects a control character" },
		{ "study-tree 1\nf " H_A " 02 a\n", "malformed tree manifest 'm': line 2",
		  "rejects a leading zero in the size" },
		{ "study-tree 1\nf " H_A " 2 a", "malformed tree manifest 'm': line 2",
		  "rejects a last line without newline" },
		{ "study-tree 1\nd " H_A " 0 a\n", "malformed tree manifest 'm': line 2",
		  "rejects a directory with a digest" },
		{ "study-tree 1\nf 06F961b802bc46ee168555f066d28f4f0e9afdf3f88174c1ee6f9de004fc30a0 2 a\n",
		  "malformed tree manifest 'm': line 2", "rejects uppercase hex" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strbuf_reset(&err);
		CHECK(tree_parse(bad[i].text, strlen(bad[i].text), "m", &t, &err) == -1 && !t.nr,
		      bad[i].what);
		CHECK_STR(err.buf, bad[i].want, "  with its message");
		tree_release(&t);
	}
	strbuf_release(&err);
	strbuf_release(&m);
}

static void test_difference(void)
{
	struct tree a = TREE_INIT, b = TREE_INIT;
	struct strbuf d = STRBUF_INIT, path = STRBUF_INIT;
	tree_add(&a, "a", 'f', H_A, 2);
	tree_add(&a, "b", 'x', H_BB, 3);
	tree_add(&b, "a", 'f', H_A, 2);
	tree_add(&b, "b", 'f', H_BB, 3);
	CHECK(tree_first_difference(&a, &b, "one", "two", 1, &d, &path) == 0 && !d.len,
	      "ignore_exec: equal");
	CHECK(tree_first_difference(&a, &b, "one", "two", 0, &d, &path) == 1, "exec bit differs");
	CHECK_STR(d.buf, "'b' differs in its executable bit", "  phrase");
	strbuf_reset(&d);
	tree_add(&b, "c", 'f', H_X, 1);
	tree_first_difference(&a, &b, "one", "two", 1, &d, &path);
	CHECK_STR(d.buf, "'c' only in the two", "an extra entry");
	CHECK_STR(path.buf, "c", "  its path");
	tree_release(&a);
	tree_release(&b);
	strbuf_release(&d);
	strbuf_release(&path);
}

#define D1 "1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "3333333333333333333333333333333333333333333333333333333333333333"

/* (moved from test_provjson.c with verify.c's manifest helpers) */
static void test_manifest_helpers(void)
{
	struct strbuf err = STRBUF_INIT, text = STRBUF_INIT, d = STRBUF_INIT;
	struct tree a = TREE_INIT, b = TREE_INIT, a1 = TREE_INIT, b1 = TREE_INIT;
	strbuf_addf(&text, "study-tree 1\nf %s 3 a.txt\nd %s 0 empty\nx %s 12 sub dir/b c\n", D1,
		    TREE_ZERO_HEX, D2);
	CHECK(tree_parse(text.buf, text.len, "m1", &a, &err) == 0 && a.nr == 3,
	      "parse a manifest of three entries");
	CHECK(a.nr == 3 && a.v[2].kind == 'x' && a.v[2].size == 12 &&
		      !strcmp(a.v[2].path, "sub dir/b c"),
	      "an entry's kind, size and path (with spaces)");
	strbuf_reset(&text);
	strbuf_addf(&text, "study-tree 1\nf %s 3 a.txt\nx %s 12 sub dir/b c\n", D3, D2);
	CHECK(tree_parse(text.buf, text.len, "m2", &b, &err) == 0, "parse a second");
	tree_first_difference(&a, &b, "first", "second", 0, &d, NULL);
	CHECK_STR(d.buf, "'a.txt' differs (3 bytes in the first, 3 in the second)",
		  "first difference: content");
	strbuf_reset(&d);
	CHECK(tree_first_difference(&a, &a, "first", "second", 0, &d, NULL) == 0,
	      "no difference with itself");
	CHECK_STR(d.buf, "", "  (nothing said)");
	tree_first_difference(&b, &a, "x", "y", 0, &d, NULL);
	CHECK_STR(d.buf, "'a.txt' differs (3 bytes in the x, 3 in the y)", "order of names");
	strbuf_reset(&d);
	for (size_t i = 1; i < a.nr; i++)
		tree_add(&a1, a.v[i].path, a.v[i].kind, a.v[i].hex, a.v[i].size);
	for (size_t i = 1; i < b.nr; i++)
		tree_add(&b1, b.v[i].path, b.v[i].kind, b.v[i].hex, b.v[i].size);
	tree_first_difference(&a1, &b1, "x", "y", 0, &d, NULL);
	CHECK_STR(d.buf, "'empty' only in the x", "an entry only on one side");
	tree_release(&a);
	tree_release(&b);
	tree_release(&a1);
	tree_release(&b1);

	static const char *const bad[] = {
		"study-tree 2\n",
		"study-tree 1\nq " D1 " 3 a\n",
		"study-tree 1\nf 11111111111111111111111111111111111111111111111111111111111111 3 a\n",
		"study-tree 1\nf " D1 " x a\n",
		"study-tree 1\nf " D1 " 3 a",
		"study-tree 1\nf " D1 " 3 \n",
	};
	int rejected = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strbuf_reset(&err);
		if (tree_parse(bad[i], strlen(bad[i]), "m", &a, &err) < 0 &&
		    !strncmp(err.buf, "malformed tree manifest 'm': ", 29) && !a.nr)
			rejected++;
		tree_release(&a);
	}
	CHECK(rejected == 6, "malformed manifests are rejected with a message");
	strbuf_release(&err);
	strbuf_release(&text);
	strbuf_release(&d);
}

/* Replace FILE's bytes in place by as many others; put mode and mtime back. */
static void forge(const char *file)
{
	struct stat sb;
	stat(file, &sb);
	chmod(file, 0644);
	FILE *f = fopen(file, "r+");
	if (f) {
		fputc('Z', f);
		fclose(f);
	}
	struct timespec ts[2] = { sb.st_atim, sb.st_mtim };
	utimensat(AT_FDCWD, file, ts, 0);
	chmod(file, sb.st_mode & 07777);
}

static void test_check(void)
{
	struct store st;
	struct strbuf err = STRBUF_INIT, note = STRBUF_INIT, p = STRBUF_INIT, q = STRBUF_INIT;
	char hex[HASH_HEX_SIZE];
	strbuf_addf(&p, "%s/store", scratch);
	CHECK(store_open(&st, p.buf, &err) == 0, "open a store");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/src", scratch);
	CHECK(store_put_tree(&st, p.buf, 0, hex, NULL, NULL, &err) == 0, "put a tree");
	CHECK(store_tree_check(&st, hex, &note, &err) == STORE_TREE_OK && !note.len,
	      "a fresh tree is intact");
	sleep(1); /* out of the clock tick of the check: the stat record is kept */
	CHECK(store_tree_check(&st, hex, &note, &err) == STORE_TREE_OK, "still intact");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/stat/%s", st.root, hex);
	CHECK(access(p.buf, F_OK) == 0, "a stat record was written");

	/* a materialised file replaced by another (object intact): restored */
	store_tree_dir_path(&st, hex, &p);
	strbuf_addstr(&p, "/a.txt");
	strbuf_addf(&q, "%s/out/%s", st.root, hex);
	chmod(q.buf, 0755);
	unlink(p.buf);
	FILE *f = fopen(p.buf, "w");
	if (f) {
		fputs("Z\n", f);
		fclose(f);
	}
	chmod(q.buf, 0555);
	CHECK(store_tree_check(&st, hex, &note, &err) == STORE_TREE_RESTORED,
	      "a replaced materialised file is restored");
	CHECK(strstr(note.buf, "/a.txt' did not match its recorded digest") != NULL,
	      "  the note names the file");
	struct strbuf text = STRBUF_INIT;
	strbuf_read_file(&text, p.buf);
	CHECK_STR(text.buf, "A\n", "  its bytes are the object's again");

	/* the object edited in place (same size, mtime put back): damaged */
	strbuf_reset(&note);
	forge(p.buf);
	CHECK(store_tree_check(&st, hex, &note, &err) == STORE_TREE_DAMAGED,
	      "an object edited in place is damage");
	CHECK(strstr(note.buf, "1 damaged object removed from the store") != NULL, "  note");
	store_object_path(&st, H_A, &q);
	CHECK(access(q.buf, F_OK) != 0, "  the damaged object is gone");
	CHECK(!store_has_tree(&st, hex), "  and so is out/<hex>/");
	strbuf_reset(&err);
	CHECK(store_tree_check(&st, hex, &note, &err) == -1, "  the tree cannot be used");
	CHECK(strstr(err.buf, "is missing from the store") != NULL, "  (object missing)");

	/* putting the same output again brings it back */
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/src", scratch);
	strbuf_reset(&err);
	CHECK(store_put_tree(&st, p.buf, 0, hex, NULL, NULL, &err) == 0, "put it again");
	strbuf_reset(&note);
	CHECK(store_tree_check(&st, hex, &note, &err) == STORE_TREE_OK, "  intact again");
	store_release(&st);
	strbuf_release(&text);
	strbuf_release(&err);
	strbuf_release(&note);
	strbuf_release(&p);
	strbuf_release(&q);
}

int main(void)
{
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	test_build();
	test_parse();
	test_difference();
	test_manifest_helpers();
	test_check();
	struct strbuf cmd = STRBUF_INIT;
	strbuf_addf(&cmd, "chmod -R u+w '%s' && rm -rf '%s'", scratch, scratch);
	if (system(cmd.buf) != 0)
		fprintf(stderr, "cannot remove %s\n", scratch);
	strbuf_release(&cmd);
	return check_done();
}
