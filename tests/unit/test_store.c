/*
 * test_store: the content-addressed store — objects, canonical tree manifests
 * and digests, materialisation and re-materialisation, error paths (empty
 * output, symlinks, fifos, control characters, missing objects, corrupt
 * manifests), the action cache, the writer lock across processes, cleanup of
 * temporaries, atomic writes, consuming ingestion and work directories.
 */
#include "check.h"
#include "hash.h"
#include "store.h"
#include "strbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"
#define H_A "06f961b802bc46ee168555f066d28f4f0e9afdf3f88174c1ee6f9de004fc30a0"  /* "A\n" */
#define H_X "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"  /* "x" */
#define H_BB "68cd080c537d3f1355f357189f74f3fe1c68dd13cf406a84aedc934c90a0df31" /* "BB\n" */
#define H_HELLO "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

static char scratch[] = "/tmp/study-test-store-XXXXXX";

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

static void mkd(const char *rel)
{
	struct strbuf p = STRBUF_INIT;
	strbuf_addf(&p, "%s/%s", scratch, rel);
	mkdir(p.buf, 0755);
	strbuf_release(&p);
}

static struct strbuf bufs[8];

/* scratch/rel in one of 8 rotating buffers (tests keep them short-lived) */
static const char *sp(const char *rel)
{
	static int next;
	struct strbuf *b = &bufs[next++ % 8];
	strbuf_reset(b);
	strbuf_addf(b, "%s/%s", scratch, rel);
	return b->buf;
}

static void release_sp(void)
{
	for (int i = 0; i < 8; i++)
		strbuf_release(&bufs[i]);
}

static int slurp(const char *path, struct strbuf *out)
{
	strbuf_reset(out);
	return strbuf_read_file(out, path);
}

static int exists(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0;
}

static int mode_of(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Build the small reference tree under scratch/<name>; order=1 reverses creation. */
static void make_ref_tree(const char *name, int order)
{
	struct strbuf p = STRBUF_INIT;
	strbuf_addstr(&p, name);
	mkd(name);
	const char *rels[] = { "a.txt", "sub-x", "sub", "sub/b.txt", "empty" };
	for (int k = 0; k < 5; k++) {
		int i = order ? 4 - k : k;
		if (order && i == 3) /* sub must exist before sub/b.txt */
			continue;
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%s", name, rels[i]);
		if (i == 0)
			put(p.buf, "A\n", 0644);
		else if (i == 1)
			put(p.buf, "x", 0644);
		else if (i == 2 || i == 4)
			mkd(p.buf);
		else
			put(p.buf, "BB\n", 0755);
		if (order && i == 2) {
			strbuf_reset(&p);
			strbuf_addf(&p, "%s/sub/b.txt", name);
			put(p.buf, "BB\n", 0755);
		}
	}
	strbuf_release(&p);
}

static void test_open(void)
{
	struct store st;
	struct strbuf err = STRBUF_INIT, want = STRBUF_INIT;
	CHECK(store_open_existing(&st, sp("store"), &err) == -1, "open_existing on nothing fails");
	strbuf_addf(&want, "no store at '%s'", sp("store"));
	CHECK_STR(err.buf, want.buf, "open_existing message");
	CHECK(st.root == NULL, "open_existing failure leaves no root");
	strbuf_reset(&err);
	CHECK(store_open(&st, sp("store/nested/deeper"), &err) == 0, "store_open creates the path");
	const char *subs[] = { "objects", "trees", "out", "cache", "tmp", "work" };
	for (int i = 0; i < 6; i++) {
		struct strbuf p = STRBUF_INIT;
		strbuf_addf(&p, "%s/%s", st.root, subs[i]);
		CHECK(mode_of(p.buf) == 0755, subs[i]);
		strbuf_release(&p);
	}
	CHECK(st.root[0] == '/', "root is absolute");
	store_release(&st);
	CHECK(store_open_existing(&st, sp("store/nested/deeper"), &err) == 0, "open_existing ok");
	store_release(&st);
	put("plainfile", "", 0644);
	strbuf_reset(&err);
	CHECK(store_open(&st, sp("plainfile"), &err) == -1, "store_open on a file fails");
	CHECK(strstr(err.buf, "cannot create directory '") == err.buf, "store_open message");
	strbuf_release(&err);
	strbuf_release(&want);
}

static void test_objects(struct store *st)
{
	struct strbuf err = STRBUF_INIT, p = STRBUF_INIT, c = STRBUF_INIT;
	char h1[HASH_HEX_SIZE], h2[HASH_HEX_SIZE];
	CHECK(store_put_bytes(st, "hello\n", 6, h1, &err) == 0, "put_bytes");
	CHECK_STR(h1, H_HELLO, "put_bytes digest");
	CHECK(store_put_bytes(st, "hello\n", 6, h2, &err) == 0, "put_bytes again");
	CHECK_STR(h2, h1, "same bytes, same object");
	store_object_path(st, h1, &p);
	struct strbuf want = STRBUF_INIT;
	strbuf_addf(&want, "%s/objects/58/%s", st->root, H_HELLO);
	CHECK_STR(p.buf, want.buf, "object path uses the fan-out dir");
	CHECK(mode_of(p.buf) == 0444, "object mode 0444");
	CHECK(slurp(p.buf, &c) == 0 && !strcmp(c.buf, "hello\n"), "object content");
	CHECK(count_entries(sp("store/tmp")) == 0, "no temporaries left by put_bytes");
	CHECK(store_put_bytes(st, "", 0, h2, &err) == 0, "put_bytes empty");
	CHECK_STR(h2, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "empty object digest");

	/* put_file, copying: the source stays */
	uint64_t size = 0;
	put("f1", "some content", 0644);
	CHECK(store_put_file(st, sp("f1"), 0, h1, &size, &err) == 0, "put_file copy");
	CHECK(exists(sp("f1")), "copy keeps the source");
	CHECK(size == 12, "put_file size");
	hash_str_hex("some content", h2);
	CHECK_STR(h1, h2, "put_file digest");
	store_object_path(st, h1, &p);
	CHECK(slurp(p.buf, &c) == 0 && !strcmp(c.buf, "some content"), "copied object content");
	CHECK(mode_of(sp("f1")) == 0644, "copy leaves the source mode alone");

	/* put_file, consuming: the file is moved (zero copy) */
	put("f2", "moved content", 0644);
	struct stat before, after;
	stat(sp("f2"), &before);
	CHECK(store_put_file(st, sp("f2"), 1, h1, &size, &err) == 0, "put_file consume");
	CHECK(!exists(sp("f2")), "consume moves the file away");
	store_object_path(st, h1, &p);
	CHECK(stat(p.buf, &after) == 0 && after.st_ino == before.st_ino, "consume renames (same inode)");
	CHECK(mode_of(p.buf) == 0444, "consumed object mode 0444");
	CHECK(slurp(p.buf, &c) == 0 && !strcmp(c.buf, "moved content"), "consumed content");
	/* consuming a file whose object exists drops the source */
	put("f3", "moved content", 0644);
	CHECK(store_put_file(st, sp("f3"), 1, h2, &size, &err) == 0, "consume existing object");
	CHECK(!exists(sp("f3")), "consume of an existing object removes the source");
	CHECK(stat(p.buf, &after) == 0 && after.st_ino == before.st_ino, "existing object kept");
	/* a hard-linked source is copied, not moved */
	put("f4", "linked content", 0644);
	link(sp("f4"), sp("f4-link"));
	CHECK(store_put_file(st, sp("f4"), 1, h1, &size, &err) == 0, "consume hard-linked file");
	CHECK(!exists(sp("f4")) && mode_of(sp("f4-link")) == 0644,
	      "hard-linked source copied: other link untouched");
	unlink(sp("f4-link"));

	/* consume across filesystems (EXDEV): copied, then the source is removed */
	struct stat shm, here;
	if (stat("/dev/shm", &shm) == 0 && stat(scratch, &here) == 0 && shm.st_dev != here.st_dev) {
		char xdev[] = "/dev/shm/study-test-store-XXXXXX";
		int fd = mkstemp(xdev);
		CHECK(fd >= 0 && write(fd, "cross-device", 12) == 12, "write file on another fs");
		if (fd >= 0)
			close(fd);
		CHECK(store_put_file(st, xdev, 1, h1, &size, &err) == 0, "consume across filesystems");
		CHECK(!exists(xdev), "cross-device source removed");
		hash_str_hex("cross-device", h2);
		CHECK_STR(h1, h2, "cross-device digest");
		store_object_path(st, h1, &p);
		CHECK(slurp(p.buf, &c) == 0 && !strcmp(c.buf, "cross-device") &&
			      mode_of(p.buf) == 0444,
		      "cross-device object");
		unlink(xdev);
	} else {
		printf("ok - cross-device put # SKIP /dev/shm is not another filesystem\n");
	}

	strbuf_reset(&err);
	CHECK(store_put_file(st, sp("nope"), 0, h1, &size, &err) == -1, "put_file missing fails");
	strbuf_reset(&want);
	strbuf_addf(&want, "cannot read '%s': No such file or directory", sp("nope"));
	CHECK_STR(err.buf, want.buf, "put_file missing message");
	strbuf_reset(&err);
	CHECK(store_put_file(st, sp("store"), 0, h1, &size, &err) == -1, "put_file dir fails");
	strbuf_reset(&want);
	strbuf_addf(&want, "cannot store '%s': not a regular file", sp("store"));
	CHECK_STR(err.buf, want.buf, "put_file dir message");
	CHECK(count_entries(sp("store/tmp")) == 0, "no temporaries left by put_file");

	strbuf_release(&err);
	strbuf_release(&p);
	strbuf_release(&c);
	strbuf_release(&want);
}

static const char ref_manifest[] = "study-tree 1\n"
				   "f " H_A " 2 a.txt\n"
				   "d " ZEROS " 0 empty\n"
				   "f " H_X " 1 sub-x\n"
				   "x " H_BB " 3 sub/b.txt\n";

static void test_trees(struct store *st)
{
	struct strbuf err = STRBUF_INIT, p = STRBUF_INIT, c = STRBUF_INIT, want = STRBUF_INIT;
	char hex[HASH_HEX_SIZE], hex2[HASH_HEX_SIZE], mhex[HASH_HEX_SIZE];
	uint64_t nfiles = 0, bytes = 0;

	make_ref_tree("t1", 0);
	CHECK(store_put_tree(st, sp("t1"), 0, hex, &nfiles, &bytes, &err) == 0, "put_tree");
	if (err.len)
		printf("# %s\n", err.buf);
	CHECK(nfiles == 3, "put_tree nfiles");
	CHECK(bytes == 6, "put_tree bytes");
	store_tree_manifest_path(st, hex, &p);
	CHECK(slurp(p.buf, &c) == 0, "manifest written");
	CHECK_STR(c.buf, ref_manifest, "manifest text is canonical");
	hash_str_hex(ref_manifest, mhex);
	CHECK_STR(hex, mhex, "tree digest is the SHA-256 of the manifest");
	CHECK(mode_of(p.buf) == 0444, "manifest mode 0444");
	CHECK(exists(sp("t1/a.txt")), "put_tree without consume keeps the files");

	/* materialised directory */
	struct strbuf out = STRBUF_INIT, f = STRBUF_INIT;
	store_tree_dir_path(st, hex, &out);
	strbuf_reset(&want);
	strbuf_addf(&want, "%s/out/%s", st->root, hex);
	CHECK_STR(out.buf, want.buf, "tree dir path");
	CHECK(store_has_tree(st, hex), "has_tree after put_tree");
	CHECK(mode_of(out.buf) == 0555, "materialised root is 0555");
	strbuf_addf(&f, "%s/a.txt", out.buf);
	CHECK(slurp(f.buf, &c) == 0 && !strcmp(c.buf, "A\n"), "materialised a.txt");
	CHECK(mode_of(f.buf) == 0444, "materialised files are 0444 objects");
	struct stat s1, s2;
	store_object_path(st, H_A, &p);
	CHECK(stat(f.buf, &s1) == 0 && stat(p.buf, &s2) == 0 && s1.st_ino == s2.st_ino,
	      "materialised file is a hard link to the object");
	strbuf_reset(&f);
	strbuf_addf(&f, "%s/sub/b.txt", out.buf);
	CHECK(slurp(f.buf, &c) == 0 && !strcmp(c.buf, "BB\n"), "materialised sub/b.txt");
	strbuf_reset(&f);
	strbuf_addf(&f, "%s/sub", out.buf);
	CHECK(mode_of(f.buf) == 0555, "materialised subdir is 0555");
	strbuf_reset(&f);
	strbuf_addf(&f, "%s/empty", out.buf);
	CHECK(mode_of(f.buf) == 0555 && count_entries(f.buf) == 0, "empty dir materialised");
	CHECK(count_entries(out.buf) == 4, "materialised top level has 4 entries");
	CHECK(count_entries(sp("store/tmp")) == 0, "no temporaries left by put_tree");

	/* same content created in another order, again: same digest */
	make_ref_tree("t2", 1);
	CHECK(store_put_tree(st, sp("t2"), 0, hex2, NULL, NULL, &err) == 0, "put_tree t2");
	CHECK_STR(hex2, hex, "digest independent of creation order");

	/* one byte changed */
	put("t2/sub/b.txt", "BC\n", 0755);
	CHECK(store_put_tree(st, sp("t2"), 0, hex2, NULL, NULL, &err) == 0, "put_tree changed");
	CHECK(strcmp(hex2, hex) != 0, "digest changes with one byte");
	put("t2/sub/b.txt", "BB\n", 0755);
	CHECK(store_put_tree(st, sp("t2"), 0, hex2, NULL, NULL, &err) == 0 && !strcmp(hex2, hex),
	      "digest back after restoring the byte");
	/* exec bit */
	chmod(sp("t2/a.txt"), 0755);
	CHECK(store_put_tree(st, sp("t2"), 0, hex2, NULL, NULL, &err) == 0, "put_tree exec");
	CHECK(strcmp(hex2, hex) != 0, "digest changes with the exec bit");
	chmod(sp("t2/a.txt"), 0644);
	/* rename */
	rename(sp("t2/a.txt"), sp("t2/a2.txt"));
	CHECK(store_put_tree(st, sp("t2"), 0, hex2, NULL, NULL, &err) == 0, "put_tree renamed");
	CHECK(strcmp(hex2, hex) != 0, "digest changes when a file is renamed");
	rename(sp("t2/a2.txt"), sp("t2/a.txt"));

	/* consume: files are moved in, digest unchanged */
	CHECK(store_put_tree(st, sp("t2"), 1, hex2, &nfiles, &bytes, &err) == 0, "put_tree consume");
	CHECK_STR(hex2, hex, "consumed tree has the same digest");
	CHECK(!exists(sp("t2/a.txt")) && !exists(sp("t2/sub/b.txt")), "consume moves the files");
	CHECK(nfiles == 3 && bytes == 6, "consume counts");

	/* re-materialisation */
	CHECK(remove_tree(out.buf, &err) == 0, "remove out/<hex>");
	CHECK(!store_has_tree(st, hex), "has_tree false without out/<hex>");
	struct strbuf path = STRBUF_INIT;
	CHECK(store_tree_path(st, hex, &path, &err) == 0, "tree_path re-materialises");
	CHECK_STR(path.buf, out.buf, "tree_path returns out/<hex>");
	CHECK(store_has_tree(st, hex), "has_tree true again");
	strbuf_reset(&f);
	strbuf_addf(&f, "%s/sub/b.txt", out.buf);
	CHECK(slurp(f.buf, &c) == 0 && !strcmp(c.buf, "BB\n"), "re-materialised content");
	strbuf_reset(&f);
	strbuf_addf(&f, "%s/empty", out.buf);
	CHECK(mode_of(f.buf) == 0555, "re-materialised empty dir");
	CHECK(store_tree_path(st, hex, &path, &err) == 0, "tree_path when present");

	/* missing object */
	remove_tree(out.buf, &err);
	store_object_path(st, H_X, &p);
	unlink(p.buf);
	strbuf_reset(&err);
	CHECK(store_tree_path(st, hex, &path, &err) == -1, "tree_path with a missing object fails");
	strbuf_reset(&want);
	strbuf_addf(&want, "object '%s' (for 'sub-x' of tree '%s') is missing from the store", H_X,
		    hex);
	CHECK_STR(err.buf, want.buf, "missing object message");
	CHECK(!exists(out.buf), "no half materialised tree");
	CHECK(count_entries(sp("store/tmp")) == 0, "failed materialisation cleans tmp");
	/* putting the tree again restores the object and the directory */
	make_ref_tree("t3", 0);
	CHECK(store_put_tree(st, sp("t3"), 0, hex2, NULL, NULL, &err) == 0 && !strcmp(hex2, hex),
	      "put_tree again");
	CHECK(store_has_tree(st, hex) && exists(p.buf), "object and tree restored");

	/* unknown tree, invalid digest, corrupt manifest */
	strbuf_reset(&err);
	CHECK(store_tree_path(st, ZEROS, &path, &err) == -1, "unknown tree fails");
	CHECK_STR(err.buf, "tree '" ZEROS "' is not in the store", "unknown tree message");
	strbuf_reset(&err);
	CHECK(store_tree_path(st, "../x", &path, &err) == -1, "invalid digest fails");
	CHECK_STR(err.buf, "invalid tree digest '../x'", "invalid digest message");
	remove_tree(out.buf, &err);
	store_tree_manifest_path(st, hex, &p);
	strbuf_reset(&err);
	CHECK(write_file_atomic(p.buf, "study-tree 1\nf ../../etc 1 x\n", 29, 0444, &err) == 0,
	      "overwrite manifest");
	CHECK(store_tree_path(st, hex, &path, &err) == -1, "corrupt manifest fails");
	CHECK(strstr(err.buf, "is corrupt") != NULL, "corrupt manifest message");
	CHECK(!store_has_tree(st, hex), "has_tree false for a corrupt tree");

	strbuf_release(&err);
	strbuf_release(&p);
	strbuf_release(&c);
	strbuf_release(&want);
	strbuf_release(&out);
	strbuf_release(&f);
	strbuf_release(&path);
}

static void test_tree_errors(struct store *st)
{
	struct strbuf err = STRBUF_INIT, want = STRBUF_INIT;
	char hex[HASH_HEX_SIZE];

	mkd("e1");
	CHECK(store_put_tree(st, sp("e1"), 0, hex, NULL, NULL, &err) == -1, "empty dir fails");
	strbuf_addf(&want, "output directory '%s' is empty", sp("e1"));
	CHECK_STR(err.buf, want.buf, "empty dir message");

	mkd("e2");
	mkd("e2/d");
	put("e2/d/f", "x", 0644);
	symlink("f", sp("e2/d/link"));
	strbuf_reset(&err);
	CHECK(store_put_tree(st, sp("e2"), 0, hex, NULL, NULL, &err) == -1, "symlink fails");
	strbuf_reset(&want);
	strbuf_addf(&want,
		    "output '%s' is a symbolic link (only regular files and directories are "
		    "allowed)",
		    sp("e2/d/link"));
	CHECK_STR(err.buf, want.buf, "symlink message");
	unlink(sp("e2/d/link"));

	mkfifo(sp("e2/fifo"), 0644);
	strbuf_reset(&err);
	CHECK(store_put_tree(st, sp("e2"), 0, hex, NULL, NULL, &err) == -1, "fifo fails");
	CHECK(strstr(err.buf, "is a fifo (only regular") != NULL, "fifo message");
	unlink(sp("e2/fifo"));

	put("e2/bad\nname", "x", 0644);
	strbuf_reset(&err);
	CHECK(store_put_tree(st, sp("e2"), 0, hex, NULL, NULL, &err) == -1, "newline name fails");
	strbuf_reset(&want);
	strbuf_addf(&want, "output '%s/bad?name' has a control character or newline in its name",
		    sp("e2"));
	CHECK_STR(err.buf, want.buf, "newline name message");
	unlink(sp("e2/bad\nname"));
	put("e2/tab\tname", "x", 0644);
	strbuf_reset(&err);
	CHECK(store_put_tree(st, sp("e2"), 0, hex, NULL, NULL, &err) == -1, "tab name fails");
	unlink(sp("e2/tab\tname"));

	strbuf_reset(&err);
	CHECK(store_put_tree(st, sp("e2"), 0, hex, NULL, NULL, &err) == 0, "clean tree passes");
	strbuf_reset(&err);
	CHECK(store_put_tree(st, sp("nope"), 0, hex, NULL, NULL, &err) == -1, "missing dir fails");
	strbuf_reset(&want);
	strbuf_addf(&want, "cannot open output directory '%s': No such file or directory",
		    sp("nope"));
	CHECK_STR(err.buf, want.buf, "missing dir message");
	CHECK(count_entries(sp("store/tmp")) == 0, "errors leave no temporaries");
	strbuf_release(&err);
	strbuf_release(&want);
}

static void test_cache(struct store *st)
{
	struct strbuf err = STRBUF_INIT, p = STRBUF_INIT;
	char key[HASH_HEX_SIZE], tree[HASH_HEX_SIZE], got[HASH_HEX_SIZE];
	hash_str_hex("key", key);
	hash_str_hex("tree", tree);
	CHECK(store_cache_get(st, key, got) == 0, "cache miss before put");
	CHECK(store_cache_put(st, key, tree, &err) == 0, "cache put");
	CHECK(store_cache_get(st, key, got) == 1, "cache hit");
	CHECK_STR(got, tree, "cache round trip");
	CHECK(store_cache_put(st, key, tree, &err) == 0, "cache put again (overwrite)");
	strbuf_addf(&p, "%s/cache/%.2s/%s", st->root, key, key);
	char target[128];
	ssize_t tn = readlink(p.buf, target, sizeof(target) - 1);
	target[tn > 0 ? tn : 0] = '\0';
	/* sha256("tree") in base64url */
	CHECK_STR(target, "sha256-3Jxe24stR55pe0sLirh08ysyUThZjOnnt1nrgpIRBiI",
		  "cache entry: a link whose target is the tree digest in base64url");
	CHECK(strlen(target) < 60, "... short enough to live in an ext4 inode");
	CHECK(count_entries(sp("store/tmp")) == 0, "cache put leaves no temporary");

	/* links that are not exactly that are misses */
	struct strbuf c = STRBUF_INIT;
	const char *bad_links[] = {
		"sha256-3Jxe24stR55pe0sLirh08ysyUThZjOnnt1nrgpIRBiJ", /* unused low bits set */
		"sha256-3Jxe24stR5/pe0sLirh08ysyUThZjOnnt1nrgpIRBiI", /* not base64url */
		"sha256-3Jxe24stR55pe0sLirh08ysyUThZjOnnt1nrgpIRBi!", /* not base64 */
		"sha512-3Jxe24stR55pe0sLirh08ysyUThZjOnnt1nrgpIRBiI", /* another prefix */
		"sha256-3Jxe24stR55pe0sLirh08ysyUThZjOnnt1nrgpIRBi",  /* short */
	};
	for (int i = 0; i < 5; i++) {
		unlink(p.buf);
		CHECK(symlink(bad_links[i], p.buf) == 0, "write a malformed link");
		CHECK(store_cache_get(st, key, got) == 0, "malformed cache link is a miss");
	}

	/* entries of earlier versions: a file holding the tree hex and a newline */
	unlink(p.buf);
	snprintf(target, sizeof(target), "%s\n", tree);
	write_file_atomic(p.buf, target, 65, 0444, &err);
	memset(got, 0, sizeof(got));
	CHECK(store_cache_get(st, key, got) == 1 && !strcmp(got, tree), "a cache file still reads");

	const char *bad[] = { "", "abc\n", "", "" };
	char longer[80], upper[70], nonl[65];
	snprintf(longer, sizeof(longer), "%s\nextra", tree);
	snprintf(upper, sizeof(upper), "%s\n", tree);
	upper[0] = 'A';
	memcpy(nonl, tree, 64);
	nonl[64] = 'x';
	bad[2] = longer;
	bad[3] = upper;
	for (int i = 0; i < 4; i++) {
		write_file_atomic(p.buf, bad[i], strlen(bad[i]), 0444, &err);
		CHECK(store_cache_get(st, key, got) == 0, "malformed cache file is a miss");
	}
	write_file_atomic(p.buf, nonl, 65, 0444, &err);
	CHECK(store_cache_get(st, key, got) == 0, "cache file without newline is a miss");
	CHECK(store_cache_get(st, "../../etc/passwd", got) == 0, "invalid key is a miss");
	strbuf_reset(&err);
	CHECK(store_cache_put(st, key, "nothex", &err) == -1, "cache put invalid tree fails");
	CHECK_STR(err.buf, "invalid cache entry (key and tree must be SHA-256 hex)",
		  "cache put invalid message");
	strbuf_release(&err);
	strbuf_release(&p);
	strbuf_release(&c);
}

static void note_wait(void *ctx, const char *holder)
{
	strbuf_addf(ctx, "[%s]", holder);
}

static void test_lock(struct store *st)
{
	struct strbuf err = STRBUF_INIT, want = STRBUF_INIT;
	int to_child[2], to_parent[2];
	char b = 0;
	if (pipe(to_child) || pipe(to_parent))
		return;
	pid_t pid = fork();
	if (pid == 0) {
		struct store cs;
		struct strbuf cerr = STRBUF_INIT;
		close(to_child[1]);
		close(to_parent[0]);
		if (store_open_existing(&cs, st->root, &cerr) || store_lock(&cs, 0, &cerr))
			_exit(3);
		if (write(to_parent[1], "r", 1) != 1)
			_exit(4);
		if (read(to_child[0], &b, 1) != 1)
			_exit(5);
		if (b == 's')
			usleep(200 * 1000); /* hold a little longer while the parent waits */
		store_release(&cs);
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	CHECK(read(to_parent[0], &b, 1) == 1 && b == 'r', "child holds the lock");
	CHECK(store_lock(st, 0, &err) == -1, "non-waiting lock fails while held");
	strbuf_addf(&want, "store '%s' is locked by another run (pid %ld)", st->root, (long)pid);
	CHECK_STR(err.buf, want.buf, "lock message names the holder");
	CHECK(st->lock_fd == -1, "failed lock leaves no fd");

	/* waiting mode: the store calls on_wait once and prints nothing itself */
	struct strbuf log = STRBUF_INIT, heard = STRBUF_INIT;
	strbuf_addf(&log, "%s/stderr.log", scratch);
	fflush(stderr);
	int saved = dup(2);
	int logfd = open(log.buf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(logfd, 2);
	close(logfd);
	CHECK(write(to_child[1], "s", 1) == 1, "tell the child to release");
	strbuf_reset(&err);
	st->on_wait = note_wait;
	st->on_wait_ctx = &heard;
	int r = store_lock(st, 1, &err);
	st->on_wait = NULL;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	CHECK(r == 0, "waiting lock succeeds once released");
	struct strbuf c = STRBUF_INIT;
	strbuf_read_file(&c, log.buf);
	CHECK_STR(c.buf, "", "the store prints nothing while waiting");
	strbuf_reset(&want);
	strbuf_addf(&want, "[pid %ld]", (long)pid);
	CHECK_STR(heard.buf, want.buf, "on_wait called once with the holder");
	strbuf_release(&heard);
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exited cleanly");

	/* we hold it now: pid in the file, close-on-exec, re-lock is a no-op */
	struct strbuf lp = STRBUF_INIT;
	strbuf_addf(&lp, "%s/lock", st->root);
	strbuf_reset(&c);
	strbuf_read_file(&c, lp.buf);
	strbuf_reset(&want);
	strbuf_addf(&want, "%ld\n", (long)getpid());
	CHECK_STR(c.buf, want.buf, "lock file holds our pid");
	CHECK(st->lock_fd >= 0 && (fcntl(st->lock_fd, F_GETFD) & FD_CLOEXEC), "lock fd is cloexec");
	CHECK(store_lock(st, 0, &err) == 0, "re-lock through the same store is a no-op");

	/* another process cannot take it while we hold it */
	pid = fork();
	if (pid == 0) {
		struct store cs;
		struct strbuf cerr = STRBUF_INIT;
		if (store_open_existing(&cs, st->root, &cerr))
			_exit(3);
		_exit(store_lock(&cs, 0, &cerr) == -1 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child cannot take our lock");
	store_unlock(st);
	CHECK(st->lock_fd == -1, "unlock");
	CHECK(store_lock(st, 0, &err) == 0, "lock again after unlock");
	store_unlock(st);

	close(to_child[1]);
	close(to_parent[0]);
	unlink(log.buf);
	strbuf_release(&err);
	strbuf_release(&want);
	strbuf_release(&log);
	strbuf_release(&c);
	strbuf_release(&lp);
}

static void test_clean_and_files(struct store *st)
{
	struct strbuf err = STRBUF_INIT, p = STRBUF_INIT, c = STRBUF_INIT, want = STRBUF_INIT;

	/* leftovers: read-only dirs with read-only files, in tmp/ and work/ */
	mkd("store/tmp/left");
	mkd("store/tmp/left/deep");
	put("store/tmp/left/deep/f", "x", 0444);
	chmod(sp("store/tmp/left/deep"), 0555);
	chmod(sp("store/tmp/left"), 0500);
	put("store/tmp/obj-123456", "half", 0600);
	mkd("store/work/w-1");
	put("store/work/w-1/out", "y", 0644);
	chmod(sp("store/work/w-1"), 0);
	CHECK(store_clean_tmp(st, &err) == 0, "clean_tmp");
	if (err.len)
		printf("# %s\n", err.buf);
	CHECK(count_entries(sp("store/tmp")) == 0, "tmp emptied (read-only dirs too)");
	CHECK(count_entries(sp("store/work")) == 0, "work emptied");
	CHECK(mode_of(sp("store/tmp")) == 0755, "tmp kept");

	/* write_file_atomic */
	mkd("wa");
	CHECK(write_file_atomic(sp("wa/file"), "data", 4, 0640, &err) == 0, "write_file_atomic");
	CHECK(slurp(sp("wa/file"), &c) == 0 && !strcmp(c.buf, "data"), "atomic content");
	CHECK(mode_of(sp("wa/file")) == 0640, "atomic mode");
	CHECK(count_entries(sp("wa")) == 1, "no temp left on success");
	CHECK(write_file_atomic(sp("wa/file"), "new", 3, 0444, &err) == 0, "atomic replace");
	CHECK(slurp(sp("wa/file"), &c) == 0 && !strcmp(c.buf, "new"), "atomic replaced content");
	strbuf_reset(&err);
	CHECK(write_file_atomic(sp("nodir/file"), "x", 1, 0644, &err) == -1, "atomic into no dir");
	strbuf_addf(&want, "cannot write '%s': No such file or directory", sp("nodir/file"));
	CHECK_STR(err.buf, want.buf, "atomic failure message");
	mkd("wa/sub");
	strbuf_reset(&err);
	CHECK(write_file_atomic(sp("wa/sub"), "x", 1, 0644, &err) == -1, "atomic over a dir fails");
	CHECK(strstr(err.buf, "cannot rename '") == err.buf, "atomic rename failure message");
	CHECK(count_entries(sp("wa")) == 2, "failed rename removes the temp");

	/* mkdir_p and remove_tree */
	CHECK(mkdir_p(sp("m/a/b/c"), 0755, &err) == 0 && mode_of(sp("m/a/b/c")) == 0755, "mkdir_p");
	CHECK(mkdir_p(sp("m/a/b/c"), 0755, &err) == 0, "mkdir_p existing");
	strbuf_reset(&err);
	CHECK(mkdir_p(sp("wa/file/x"), 0755, &err) == -1, "mkdir_p through a file fails");
	chmod(sp("m/a"), 0500);
	CHECK(remove_tree(sp("m"), &err) == 0 && !exists(sp("m")), "remove_tree read-only");
	CHECK(remove_tree(sp("m"), &err) == 0, "remove_tree missing is fine");

	/* work dirs: named by the cache key, the same path every time */
	static const char wkey[] =
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	CHECK(store_make_workdir(st, wkey, &p, &err) == 0, "make_workdir");
	strbuf_reset(&want);
	strbuf_addf(&want, "%s/work/%s", st->root, wkey);
	CHECK(!strcmp(p.buf, want.buf), "workdir is work/<cache key>");
	CHECK(mode_of(p.buf) == 0700 && count_entries(p.buf) == 0, "workdir private and empty");
	strbuf_reset(&want);
	strbuf_addf(&want, "%s/left-behind", p.buf);
	FILE *lf = fopen(want.buf, "w");
	if (lf)
		fclose(lf);
	struct strbuf p2 = STRBUF_INIT;
	CHECK(store_make_workdir(st, wkey, &p2, &err) == 0 && !strcmp(p.buf, p2.buf) &&
		      count_entries(p2.buf) == 0,
	      "a workdir left by a killed run is replaced by an empty one at the same path");
	strbuf_reset(&err);
	CHECK(store_make_workdir(st, "../x", &p2, &err) == -1, "a key that is not hex is refused");
	strbuf_reset(&err);
	CHECK(store_workdir_subdirs(p.buf, &err) == 0 && count_entries(p.buf) == 3,
	      "workdir_subdirs makes cwd/ out/ tmp/");
	strbuf_reset(&want);
	strbuf_addf(&want, "%s/out", p.buf);
	CHECK(mode_of(want.buf) == 0700, "the work subdirectories are private");
	CHECK(store_workdir_subdirs(p.buf, &err) == -1 && strstr(err.buf, "cannot create '"),
	      "workdir_subdirs refuses a directory that has them");
	/* fsync mode works the same */
	store_set_fsync(st, 1);
	char hex[HASH_HEX_SIZE];
	CHECK(store_put_bytes(st, "synced", 6, hex, &err) == 0, "put_bytes with fsync");
	mkd("fs");
	put("fs/a", "fsync tree", 0644);
	CHECK(store_put_tree(st, sp("fs"), 1, hex, NULL, NULL, &err) == 0, "put_tree with fsync");
	CHECK(store_cache_put(st, hex, hex, &err) == 0, "cache_put with fsync");
	store_set_fsync(st, 0);

	strbuf_release(&err);
	strbuf_release(&p);
	strbuf_release(&p2);
	strbuf_release(&c);
	strbuf_release(&want);
}

int main(void)
{
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	struct store st;
	struct strbuf err = STRBUF_INIT;
	test_open();
	if (store_open(&st, sp("store"), &err) != 0) {
		printf("# %s\n", err.buf);
		CHECK(0, "store_open");
		return check_done();
	}
	test_objects(&st);
	test_trees(&st);
	test_tree_errors(&st);
	test_cache(&st);
	test_lock(&st);
	test_clean_and_files(&st);
	store_release(&st);
	CHECK(remove_tree(scratch, &err) == 0 && !exists(scratch), "scratch removed");
	strbuf_release(&err);
	release_sp();
	return check_done();
}
