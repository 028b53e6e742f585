/*
 * test_extinput: importing external inputs (pipeline/extinput.c) — digests
 * (a file's SHA-256, a directory's tree digest, the same as `study hash`,
 * whatever the number of threads), the original left alone (no hard link,
 * mode and content untouched), the stat cache (an unchanged file is not read
 * again, a touched one is read once, a racy one every time), pinned digests
 * (a mismatch names both and removes what the import added), objects lost
 * from the store imported again, and the errors for links and empty
 * directories.
 */
#include "check.h"
#include "extinput.h"
#include "fsutil.h"
#include "hash.h"
#include "store.h"
#include "strbuf.h"
#include "study.h"
#include "tree.h"
#include "xalloc.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define H_HELLO "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" /* "hello\n" */
#define H_WORLD "e258d248fda94c63753607f7c4494ee0fcbe92f1a76bfdac795c9d84101eb317" /* "world\n" */

static char scratch[] = "/tmp/study-test-extinput-XXXXXX";

static const char *sp(const char *rel)
{
	static struct strbuf bufs[8];
	static int next;
	struct strbuf *b = &bufs[next++ % 8];
	strbuf_reset(b);
	strbuf_addf(b, "%s/%s", scratch, rel);
	return b->buf;
}

static void put(const char *rel, const char *content)
{
	FILE *f = fopen(sp(rel), "wb");
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

/* Set a file's mtime to an hour ago and wait until the clock is past its
 * ctime (which cannot be set): its stat is then settled, not racy. */
static void settle(const char *rel)
{
	struct timespec ts[2];
	struct stat sb;
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 3600;
	ts[1] = ts[0];
	utimensat(AT_FDCWD, sp(rel), ts, 0);
	if (stat(sp(rel), &sb) == 0)
		fs_wait_past(&sb.st_ctim);
}

static struct study_input input(const char *name, const char *rel, int is_dir, char *pin)
{
	struct study_input in;
	memset(&in, 0, sizeof(in));
	in.name = (char *)name;
	in.path = (char *)rel;
	in.abs = xstrdup(sp(rel));
	in.is_dir = is_dir;
	in.sha256 = pin;
	return in;
}

static size_t count_objects(const char *store)
{
	struct strbuf p = STRBUF_INIT;
	size_t n = 0;
	strbuf_addf(&p, "%s/objects", store);
	DIR *d = opendir(p.buf);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		struct strbuf q = STRBUF_INIT;
		strbuf_addf(&q, "%s/%s", p.buf, de->d_name);
		DIR *e = opendir(q.buf);
		struct dirent *f;
		while (e && (f = readdir(e)))
			n += f->d_name[0] != '.';
		if (e)
			closedir(e);
		strbuf_release(&q);
	}
	if (d)
		closedir(d);
	strbuf_release(&p);
	return n;
}

static int resolve(struct store *st, struct study_input *in, enum extinput_mode mode, int jobs,
		   struct stage_output *out, struct extinput_stats *s, struct strbuf *err)
{
	strbuf_reset(err);
	return extinput_resolve(st, in, mode, jobs, out, s, err);
}

static void test_file(struct store *st)
{
	struct strbuf err = STRBUF_INIT;
	struct stage_output out;
	struct extinput_stats s;
	struct stat before, after, obj;
	memset(&out, 0, sizeof(out));
	put("p.jsonl", "hello\n");
	chmod(sp("p.jsonl"), 0644);
	settle("p.jsonl");
	stat(sp("p.jsonl"), &before);
	struct study_input in = input("prompts", "p.jsonl", 0, NULL);

	CHECK(resolve(st, &in, EXTINPUT_LOOK, 1, &out, &s, &err) == 0, "look at a file input");
	CHECK_STR(out.digest, H_HELLO, "a file's digest is its SHA-256 (sha256sum)");
	CHECK(!s.in_store && s.hashed_files == 1, "not in the store yet; it was read to tell");
	CHECK(resolve(st, &in, EXTINPUT_LOOK, 1, &out, &s, &err) == 0 && s.hashed_files == 1,
	      "looking writes no stat cache: read again");

	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 1, &out, &s, &err) == 0, "import a file input");
	CHECK(out.is_file && s.in_store && s.new_files == 1 && s.new_bytes == 6,
	      "its content is a new object");
	struct strbuf want = STRBUF_INIT;
	store_object_path(st, H_HELLO, &want);
	CHECK_STR(out.path, want.buf, "${inputs.NAME} of a file is its object in the store");
	stat(sp("p.jsonl"), &after);
	CHECK(stat(want.buf, &obj) == 0 && obj.st_ino != before.st_ino,
	      "the object is a copy or a clone, never a hard link to the user's file");
	CHECK((obj.st_mode & 07777) == 0444, "the object is read-only");
	CHECK(after.st_ino == before.st_ino && after.st_mode == before.st_mode &&
	      after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_nlink == 1,
	      "the original is left alone (inode, mode, times, links)");

	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 1, &out, &s, &err) == 0 && s.hashed_files == 0 &&
	      s.new_files == 0, "unchanged: the stat cache answers, nothing is read");
	CHECK(resolve(st, &in, EXTINPUT_LOOK, 1, &out, &s, &err) == 0 && s.hashed_files == 0 &&
	      s.in_store, "look uses the stat cache too");

	/* touch: same bytes, new times */
	struct timespec ts[2];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 60;
	ts[1] = ts[0];
	utimensat(AT_FDCWD, sp("p.jsonl"), ts, 0);
	struct stat tsb;
	if (stat(sp("p.jsonl"), &tsb) == 0)
		fs_wait_past(&tsb.st_ctim);
	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 1, &out, &s, &err) == 0 && s.hashed_files == 1 &&
	      s.new_files == 0 && !strcmp(out.digest, H_HELLO),
	      "touched: read once, same digest, nothing new in the store");
	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 1, &out, &s, &err) == 0 && s.hashed_files == 0,
	      "touched, then recorded: not read again");

	/* a time not before the read: racy, never recorded */
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec += 3600;
	ts[1] = ts[0];
	utimensat(AT_FDCWD, sp("p.jsonl"), ts, 0);
	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 1, &out, &s, &err) == 0 && s.hashed_files == 1,
	      "a file changed in (or after) the tick it is read in is read");
	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 1, &out, &s, &err) == 0 && s.hashed_files == 1,
	      "and read again next time: a racy stat is not recorded");
	settle("p.jsonl");

	/* an edit of the same size, its mtime set back an hour */
	put("p.jsonl", "world\n");
	settle("p.jsonl");
	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 1, &out, &s, &err) == 0 &&
	      !strcmp(out.digest, H_WORLD) && s.new_files == 1,
	      "an edit of the same size is seen and imported");

	/* the object lost from the store is imported again */
	store_object_path(st, H_WORLD, &want);
	chmod(want.buf, 0644);
	unlink(want.buf);
	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 1, &out, &s, &err) == 0 && s.new_files == 1 &&
	      access(want.buf, R_OK) == 0, "an object missing from the store is imported again");
	/* a damaged object is dropped and imported again */
	chmod(want.buf, 0644);
	FILE *f = fopen(want.buf, "r+");
	if (f) {
		fputs("W", f);
		fclose(f);
	}
	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 1, &out, &s, &err) == 0 && s.new_files == 1,
	      "a damaged object is replaced from the original");
	char check[HASH_HEX_SIZE];
	CHECK(hash_file_hex(want.buf, check, NULL, &err) == 0 && !strcmp(check, H_WORLD),
	      "the object holds the original's bytes again");

	/* pins */
	size_t n0 = count_objects(st->root);
	put("q.txt", "not pinned content\n");
	settle("q.txt");
	struct study_input pinned = input("q", "q.txt", 0, H_HELLO);
	CHECK(resolve(st, &pinned, EXTINPUT_IMPORT, 1, &out, &s, &err) == -2,
	      "a pinned digest that differs is refused (-2)");
	struct strbuf msg = STRBUF_INIT;
	hash_str_hex("not pinned content\n", check);
	strbuf_addf(&msg, "file '%s' has sha256 %s, but the study pins %s", sp("q.txt"), check,
		    H_HELLO);
	CHECK_STR(err.buf, msg.buf, "the refusal names the file and both digests");
	CHECK(count_objects(st->root) == n0, "and the object it had imported is removed again");
	struct study_input good = input("w", "p.jsonl", 0, H_WORLD);
	CHECK(resolve(st, &good, EXTINPUT_IMPORT, 1, &out, &s, &err) == 0,
	      "a pin that matches is accepted");

	free(in.abs);
	free(pinned.abs);
	free(good.abs);
	free(out.path);
	strbuf_release(&want);
	strbuf_release(&msg);
	strbuf_release(&err);
}

static void test_dir(struct store *st)
{
	struct strbuf err = STRBUF_INIT;
	struct stage_output out, out4;
	struct extinput_stats s;
	struct tree t = TREE_INIT;
	char want[HASH_HEX_SIZE];
	memset(&out, 0, sizeof(out));
	memset(&out4, 0, sizeof(out4));
	mkdir(sp("ckpt"), 0755);
	mkdir(sp("ckpt/sub"), 0755);
	mkdir(sp("ckpt/empty"), 0755);
	put("ckpt/a.bin", "hello\n");
	put("ckpt/sub/b.json", "{}\n");
	put("ckpt/run.sh", "#!/bin/sh\n");
	chmod(sp("ckpt/run.sh"), 0755);
	for (int i = 0; i < 20; i++) {
		char rel[64], content[64];
		snprintf(rel, sizeof(rel), "ckpt/shard-%02d", i);
		snprintf(content, sizeof(content), "shard %d\n", i);
		put(rel, content);
		settle(rel);
	}
	settle("ckpt/a.bin");
	settle("ckpt/sub/b.json");
	settle("ckpt/run.sh");
	CHECK(tree_walk_hash(sp("ckpt"), "", &t, &err) == 0, "study hash's walk of the directory");
	struct strbuf m = STRBUF_INIT;
	tree_format(&t, &m);
	hash_buf_hex(m.buf, m.len, want);
	struct study_input in = input("llama", "ckpt", 1, NULL);

	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 1, &out, &s, &err) == 0, "import a directory");
	CHECK_STR(out.digest, want, "a directory's digest is its tree digest ('study hash DIR')");
	CHECK(s.files == 23 && s.hashed_files == 23, "every file was read once");
	struct strbuf dir = STRBUF_INIT;
	store_tree_dir_path(st, want, &dir);
	CHECK_STR(out.path, dir.buf, "${inputs.NAME} of a directory is out/<tree digest>");
	struct stat sb;
	strbuf_addstr(&dir, "/sub/b.json");
	CHECK(stat(dir.buf, &sb) == 0 && (sb.st_mode & 0222) == 0, "its files are read-only");

	/* the same digest with four threads, and from the cache */
	CHECK(resolve(st, &in, EXTINPUT_LOOK, 4, &out4, &s, &err) == 0 && s.hashed_files == 0 &&
	      s.in_store, "looked at again: all from the stat cache, in the store");
	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 1, &out, &s, &err) == 0 && s.hashed_files == 0,
	      "imported again: nothing read");
	struct strbuf cache = STRBUF_INIT;
	strbuf_addf(&cache, "%s/inputs", st->root);
	DIR *d = opendir(cache.buf);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			struct strbuf f = STRBUF_INIT;
			strbuf_addf(&f, "%s/%s", cache.buf, de->d_name);
			unlink(f.buf);
			strbuf_release(&f);
		}
	if (d)
		closedir(d);
	CHECK(resolve(st, &in, EXTINPUT_LOOK, 4, &out4, &s, &err) == 0 && s.hashed_files == 23,
	      "without the stat cache, four threads read every file");
	CHECK_STR(out4.digest, want, "and find the same digest: the order does not matter");

	/* one file edited: only it is read */
	put("ckpt/shard-07", "shard 7, edited\n");
	settle("ckpt/shard-07");
	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 2, &out, &s, &err) == 0 && s.hashed_files == 23,
	      "import with an empty cache reads all");
	put("ckpt/shard-08", "shard 8, edited\n");
	settle("ckpt/shard-08");
	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 2, &out, &s, &err) == 0 && s.hashed_files == 1 &&
	      s.new_files == 1 && strcmp(out.digest, want),
	      "one file edited: only it is read and imported, the digest moves");
	tree_release(&t);
	strbuf_reset(&m);
	CHECK(tree_walk_hash(sp("ckpt"), "", &t, &err) == 0, "walk again");
	tree_format(&t, &m);
	hash_buf_hex(m.buf, m.len, want);
	CHECK_STR(out.digest, want, "and it is the tree digest of the edited directory");

	/* a pin that differs: named, and nothing new stays */
	size_t n0 = count_objects(st->root);
	put("ckpt/new-file", "brand new\n");
	settle("ckpt/new-file");
	struct study_input pinned = input("llama", "ckpt", 1, (char *)want);
	CHECK(resolve(st, &pinned, EXTINPUT_IMPORT, 2, &out, &s, &err) == -2,
	      "a directory whose tree digest is not the pinned one is refused");
	struct strbuf msg = STRBUF_INIT;
	strbuf_addf(&msg, "directory '%s' has tree digest %s (as 'study hash' prints it), but the"
			  " study pins %s", sp("ckpt"), out.digest, want);
	CHECK_STR(err.buf, msg.buf, "the refusal names the directory and both digests");
	CHECK(count_objects(st->root) == n0, "the object of the new file is removed again");
	unlink(sp("ckpt/new-file"));

	/* errors */
	symlink("a.bin", sp("ckpt/link"));
	CHECK(resolve(st, &in, EXTINPUT_IMPORT, 1, &out, &s, &err) == -1, "a symbolic link inside");
	strbuf_reset(&msg);
	strbuf_addf(&msg, "'%s/link' is a symbolic link (only regular files and directories are"
			  " allowed)", sp("ckpt"));
	CHECK_STR(err.buf, msg.buf, "is an error naming it");
	unlink(sp("ckpt/link"));
	mkdir(sp("void"), 0755);
	struct study_input empty = input("v", "void", 1, NULL);
	CHECK(resolve(st, &empty, EXTINPUT_LOOK, 1, &out, &s, &err) == -1, "an empty directory");
	strbuf_reset(&msg);
	strbuf_addf(&msg, "directory '%s' is empty (an empty tree has no digest)", sp("void"));
	CHECK_STR(err.buf, msg.buf, "has no digest");

	free(in.abs);
	free(pinned.abs);
	free(empty.abs);
	free(out.path);
	free(out4.path);
	tree_release(&t);
	strbuf_release(&m);
	strbuf_release(&dir);
	strbuf_release(&cache);
	strbuf_release(&msg);
	strbuf_release(&err);
}

/* LOOK without a store (status before the first run): digests, nothing else. */
static void test_no_store(void)
{
	struct strbuf err = STRBUF_INIT;
	struct stage_output out;
	struct extinput_stats s;
	memset(&out, 0, sizeof(out));
	struct study_input in = input("prompts", "p.jsonl", 0, NULL);
	CHECK(extinput_resolve(NULL, &in, EXTINPUT_LOOK, 1, &out, &s, &err) == 0 &&
	      !strcmp(out.digest, H_WORLD) && !out.path && !s.in_store,
	      "without a store: the digest, no path, not in the store");
	free(in.abs);
	strbuf_release(&err);
}

int main(void)
{
	struct strbuf err = STRBUF_INIT;
	struct store st;
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	CHECK(store_open(&st, sp("store"), &err) == 0, "open a store");
	test_file(&st);
	test_dir(&st);
	test_no_store();
	store_release(&st);
	strbuf_release(&err);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "chmod -R u+w %s && rm -rf %s", scratch, scratch);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", scratch);
	return check_done();
}
