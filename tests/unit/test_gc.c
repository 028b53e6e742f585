/*
 * test_gc: garbage collection (pipeline/gc.h) without provenance: the run
 * policy (gc_pick_runs), the mark over a real store (gc_mark: kept trees keep
 * their objects, shared objects stay, cache entries follow their tree,
 * malformed entries and orphan out/ directories go, badly named files are
 * left alone, a corrupt kept manifest stops everything), temporaries, and
 * the sweep with its removal order and byte count.
 */
#include "check.h"
#include "gc.h"
#include "hash.h"
#include "store.h"
#include "strbuf.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[] = "/tmp/study-test-gc-XXXXXX";

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

static int exists(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0;
}

/* ids as "1 2 3" */
static void ids_str(const int64_t *ids, size_t nr, struct strbuf *out)
{
	strbuf_reset(out);
	for (size_t i = 0; i < nr; i++)
		strbuf_addf(out, "%s%lld", i ? " " : "", (long long)ids[i]);
}

static void test_policy(void)
{
	struct strbuf s = STRBUF_INIT;
	int64_t *kept;
	size_t n;
	n = gc_pick_runs(NULL, 0, 1, &kept);
	CHECK(n == 0 && kept == NULL, "no runs: nothing kept");

	const struct gc_run two[] = {
		{ 1, "a", "ok", 0 }, { 2, "b", "ok", 0 }, { 3, "a", "ok", 0 }, { 4, "a", "ok", 0 },
		{ 5, "b", "ok", 0 },
	};
	n = gc_pick_runs(two, 5, 1, &kept);
	ids_str(kept, n, &s);
	CHECK_STR(s.buf, "4 5", "keep 1: the newest run of each study");
	free(kept);
	n = gc_pick_runs(two, 5, 2, &kept);
	ids_str(kept, n, &s);
	CHECK_STR(s.buf, "2 3 4 5", "keep 2: the two newest of each study");
	free(kept);
	n = gc_pick_runs(two, 5, 10, &kept);
	ids_str(kept, n, &s);
	CHECK_STR(s.buf, "1 2 3 4 5", "keep more than recorded: all");
	free(kept);

	/* the newest run failed: the newest ok one stays as well */
	const struct gc_run failed[] = {
		{ 1, "a", "ok", 0 }, { 2, "a", "ok", 0 }, { 3, "a", "failed", 0 }, { 4, "a", "interrupted", 0 },
	};
	n = gc_pick_runs(failed, 4, 1, &kept);
	ids_str(kept, n, &s);
	CHECK_STR(s.buf, "2 4", "keep 1 after failures: the newest and the newest ok");
	free(kept);
	n = gc_pick_runs(failed, 4, 2, &kept);
	ids_str(kept, n, &s);
	CHECK_STR(s.buf, "2 3 4", "keep 2 after failures: plus the newest ok");
	free(kept);
	const struct gc_run none_ok[] = { { 7, "a", "failed", 0 }, { 9, "a", "running", 0 } };
	n = gc_pick_runs(none_ok, 2, 1, &kept);
	ids_str(kept, n, &s);
	CHECK_STR(s.buf, "9", "no ok run: only the newest");
	free(kept);
	/* order of the input does not matter; a NULL study is a study too */
	const struct gc_run mixed[] = { { 5, NULL, "ok", 0 }, { 2, "x", "ok", 0 }, { 3, NULL, "ok", 0 } };
	n = gc_pick_runs(mixed, 3, 1, &kept);
	ids_str(kept, n, &s);
	CHECK_STR(s.buf, "2 5", "unsorted input, unnamed study");
	free(kept);
	/* a run of some TARGETs does not count toward keep: the whole run before
	 * it stays, and so does it (it is newer than that whole run) */
	const struct gc_run part[] = {
		{ 1, "a", "ok", 0 }, { 2, "a", "ok", 0 }, { 3, "a", "ok", 1 }, { 4, "a", "failed", 1 },
	};
	n = gc_pick_runs(part, 4, 1, &kept);
	ids_str(kept, n, &s);
	CHECK_STR(s.buf, "2 3 4", "keep 1 after partial runs: the newest whole run and the later ones");
	free(kept);
	n = gc_pick_runs(part, 4, 2, &kept);
	ids_str(kept, n, &s);
	CHECK_STR(s.buf, "1 2 3 4", "keep 2 after partial runs: two whole runs");
	free(kept);
	const struct gc_run part_only[] = { { 5, "a", "ok", 1 }, { 6, "a", "ok", 1 } };
	n = gc_pick_runs(part_only, 2, 1, &kept);
	ids_str(kept, n, &s);
	CHECK_STR(s.buf, "5 6", "only partial runs: all kept");
	free(kept);
	strbuf_release(&s);
}

/* A directory under scratch with the given files ("name=content" each). */
static void make_dir(const char *name, const char *const *files)
{
	char *d = xasprintf("%s/%s", scratch, name);
	mkdir(d, 0755);
	for (size_t i = 0; files[i]; i++) {
		const char *eq = strchr(files[i], '=');
		char *p = xasprintf("%s/%.*s", d, (int)(eq - files[i]), files[i]);
		write_file(p, eq + 1);
		free(p);
	}
	free(d);
}

static int put_tree(struct store *st, const char *name, char hex[HASH_HEX_SIZE])
{
	struct strbuf err = STRBUF_INIT;
	char *d = xasprintf("%s/%s", scratch, name);
	int rc = store_put_tree(st, d, 0, hex, NULL, NULL, &err);
	if (rc)
		printf("# %s\n", err.buf);
	free(d);
	strbuf_release(&err);
	return rc;
}

static int in_list(const struct gc_list *l, const char *hex)
{
	for (size_t i = 0; i < l->nr; i++)
		if (!strcmp(l->v[i].name, hex))
			return 1;
	return 0;
}

static uint64_t size_of(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static void test_mark_and_sweep(void)
{
	struct store st;
	struct strbuf err = STRBUF_INIT, p = STRBUF_INIT;
	char *root = xasprintf("%s/store", scratch);
	if (!CHECK(store_open(&st, root, &err) == 0 && store_lock(&st, 0, &err) == 0,
		   "open and lock a store")) {
		printf("# %s\n", err.buf);
		free(root);
		return;
	}
	/* keep: shared + k only; old: shared + o only; log: a loose object */
	const char *const kfiles[] = { "shared=same bytes\n", "k=kept only\n", NULL };
	const char *const ofiles[] = { "shared=same bytes\n", "o=old only, longer\n", NULL };
	make_dir("keep", kfiles);
	make_dir("old", ofiles);
	char keep[HASH_HEX_SIZE], old[HASH_HEX_SIZE], log[HASH_HEX_SIZE], junk[HASH_HEX_SIZE];
	char shared[HASH_HEX_SIZE], konly[HASH_HEX_SIZE], oonly[HASH_HEX_SIZE];
	hash_str_hex("same bytes\n", shared);
	hash_str_hex("kept only\n", konly);
	hash_str_hex("old only, longer\n", oonly);
	CHECK(put_tree(&st, "keep", keep) == 0 && put_tree(&st, "old", old) == 0, "two trees");
	CHECK(store_put_bytes(&st, "log\n", 4, log, &err) == 0 &&
	      store_put_bytes(&st, "junk\n", 5, junk, &err) == 0, "a log and a loose object");
	char k1[HASH_HEX_SIZE], k2[HASH_HEX_SIZE], k3[HASH_HEX_SIZE];
	hash_str_hex("key 1", k1);
	hash_str_hex("key 2", k2);
	hash_str_hex("key 3", k3);
	CHECK(store_cache_put(&st, k1, keep, &err) == 0 && store_cache_put(&st, k2, old, &err) == 0,
	      "cache entries for both trees");
	/* a malformed entry (reads as a miss), a badly named file, an orphan out/ */
	store_object_path(&st, k3, &p); /* only for its fan-out part */
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/cache/%.2s", root, k3);
	mkdir(p.buf, 0755);
	strbuf_addf(&p, "/%s", k3);
	CHECK(symlink("sha256-nonsense", p.buf) == 0, "a malformed cache entry");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/objects/%.2s/not-a-digest", root, junk);
	write_file(p.buf, "x");
	char orphan[HASH_HEX_SIZE];
	hash_str_hex("orphan", orphan);
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/out/%s", root, orphan);
	mkdir(p.buf, 0555);
	/* stat records of both trees (store_tree_check skips writing one within
	 * the clock tick of a change: write them as it would, later) */
	struct strbuf note = STRBUF_INIT;
	CHECK(store_tree_check(&st, keep, &note, &err) == STORE_TREE_OK &&
	      store_tree_check(&st, old, &note, &err) == STORE_TREE_OK, "both trees checked");
	strbuf_release(&note);
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/stat/%s", root, keep);
	write_file(p.buf, "stale record\n");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/stat/%s", root, old);
	write_file(p.buf, "stale record, old\n");

	struct gc_roots roots;
	struct gc_plan plan;
	gc_roots_init(&roots);
	strmap_put(&roots.trees, keep, (void *)1);
	strmap_put(&roots.objects, log, (void *)1);
	if (!CHECK(gc_mark(&st, &roots, &plan, &err) == 0, "mark")) {
		printf("# %s\n", err.buf);
		goto out;
	}
	CHECK(plan.trees.nr == 1 && in_list(&plan.trees, old), "the old tree goes");
	CHECK(plan.objects.nr == 2 && in_list(&plan.objects, oonly) && in_list(&plan.objects, junk),
	      "its own object and the loose one go");
	CHECK(!in_list(&plan.objects, shared) && !in_list(&plan.objects, konly) &&
	      !in_list(&plan.objects, log), "the kept tree's objects (shared too) and the log stay");
	CHECK(plan.cache.nr == 2 && in_list(&plan.cache, k2) && in_list(&plan.cache, k3),
	      "the old tree's cache entry and the malformed one go");
	CHECK(plan.outdirs.nr == 2 && in_list(&plan.outdirs, old) && in_list(&plan.outdirs, orphan),
	      "the old and the orphan materialised trees go");
	CHECK(plan.stats.nr == 1 && in_list(&plan.stats, old), "the old stat record goes");
	CHECK(plan.kept_trees == 1 && plan.kept_objects == 3 && plan.kept_cache == 1,
	      "kept: one tree, three objects, one cache entry");
	for (size_t i = 0; i < plan.cache.nr; i++)
		if (!strcmp(plan.cache.v[i].name, k2))
			CHECK_STR(plan.cache.v[i].tree, old, "a cache item names its tree");
	store_tree_manifest_path(&st, old, &p);
	uint64_t want = size_of(p.buf);
	store_object_path(&st, oonly, &p);
	want += size_of(p.buf);
	store_object_path(&st, junk, &p);
	want += size_of(p.buf);
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/stat/%s", root, old);
	want += size_of(p.buf);
	CHECK(gc_plan_bytes(&plan) == want, "the plan's bytes are the removed files' sizes");

	/* temporaries: counted with their bytes */
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/tmp/left", root);
	write_file(p.buf, "12345");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/work/k", root);
	mkdir(p.buf, 0700);
	strbuf_addstr(&p, "/f");
	write_file(p.buf, "1234567");
	gc_count_temporaries(&st, &plan);
	CHECK(plan.temporaries == 2 && plan.temp_bytes == 12, "two temporaries of 12 bytes");
	CHECK(gc_plan_bytes(&plan) == want + 12, "the plan's bytes count them");

	struct gc_done done;
	if (!CHECK(gc_sweep(&st, &plan, &done, &err) == 0, "sweep"))
		printf("# %s\n", err.buf);
	CHECK(done.trees == 1 && done.objects == 2 && done.cache == 2 && done.outdirs == 2 &&
	      done.stats == 1 && done.bytes == want, "the sweep removed the plan");
	store_tree_manifest_path(&st, old, &p);
	CHECK(!exists(p.buf), "old manifest gone");
	store_tree_dir_path(&st, old, &p);
	CHECK(!exists(p.buf), "old out/ gone");
	store_tree_dir_path(&st, orphan, &p);
	CHECK(!exists(p.buf), "orphan out/ gone");
	store_object_path(&st, oonly, &p);
	CHECK(!exists(p.buf), "old object gone");
	char tree[HASH_HEX_SIZE];
	CHECK(store_cache_get(&st, k1, tree) == 1 && !strcmp(tree, keep), "kept entry stays");
	CHECK(store_cache_get(&st, k2, tree) == 0, "old entry gone");
	store_object_path(&st, shared, &p);
	CHECK(exists(p.buf), "shared object stays");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/objects/%.2s/not-a-digest", root, junk);
	CHECK(exists(p.buf), "a badly named file is left alone");
	struct strbuf note2 = STRBUF_INIT;
	CHECK(store_tree_check(&st, keep, &note2, &err) == STORE_TREE_OK, "kept tree intact");
	strbuf_release(&note2);
	/* store_remove_outdir leaves nothing of its own in tmp/ */
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/tmp", root);
	DIR *d = opendir(p.buf);
	struct dirent *de;
	int others = 0;
	while (d && (de = readdir(d)))
		others += strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
			  strcmp(de->d_name, "left");
	if (d)
		closedir(d);
	CHECK(d && !others, "tmp/ holds only the test's own leftover");

	/* a second mark finds nothing more */
	gc_plan_release(&plan);
	CHECK(gc_mark(&st, &roots, &plan, &err) == 0 && plan.trees.nr == 0 &&
	      plan.objects.nr == 0 && plan.cache.nr == 0 && plan.outdirs.nr == 0 &&
	      plan.stats.nr == 0, "a second mark has nothing to remove");
	gc_plan_release(&plan);

	/* a kept tree whose manifest is corrupt stops the mark */
	store_tree_manifest_path(&st, keep, &p);
	chmod(p.buf, 0644);
	write_file(p.buf, "study-tree 1\n");
	strbuf_reset(&err);
	CHECK(gc_mark(&st, &roots, &plan, &err) == -1, "corrupt kept manifest: mark fails");
	struct strbuf want_err = STRBUF_INIT;
	char got[HASH_HEX_SIZE];
	hash_str_hex("study-tree 1\n", got);
	strbuf_addf(&want_err, "kept tree '%s' cannot be read (tree manifest '%s' is corrupt"
			       " (digest %s)); run 'study verify' (nothing was removed)",
		    keep, p.buf, got);
	CHECK_STR(err.buf, want_err.buf, "... saying so");
	strbuf_release(&want_err);
	/* a kept tree that is simply absent keeps nothing and is no error */
	unlink(p.buf);
	strbuf_reset(&err);
	CHECK(gc_mark(&st, &roots, &plan, &err) == 0, "absent kept manifest: no error");
	gc_plan_release(&plan);

	/* names must be digests */
	strbuf_reset(&err);
	CHECK(store_remove_object(&st, "../x", &err) == -1, "remove refuses a bad name");
	CHECK_STR(err.buf, "invalid store name '../x'", "... saying so");
out:
	gc_roots_release(&roots);
	store_release(&st);
	free(root);
	strbuf_release(&err);
	strbuf_release(&p);
}

int main(void)
{
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	struct strbuf err = STRBUF_INIT;
	test_policy();
	test_mark_and_sweep();
	CHECK(remove_tree(scratch, &err) == 0 && !exists(scratch), "scratch removed");
	strbuf_release(&err);
	return check_done();
}
