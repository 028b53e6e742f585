/*
 * test_store_faults: the store under a full disk, simulated with the
 * fault-injection hook fs_fail_writes_after() (every fs_write_all fails with
 * ENOSPC once armed). Each store write that fails must return -1 with a
 * "No space left on device" message and leave no object, manifest, cache
 * entry or temporary behind; the store works again once the fault is gone.
 * Also: leftover stage process groups noted in work/ are killed by
 * store_clean_tmp (the next run's start).
 */
#include "check.h"
#include "fsutil.h"
#include "pgroup.h"
#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char base[64];

/* Number of regular files under dir (recursive), names starting with '.' included. */
static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char p[4096];
		struct stat sb;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode))
			n += count_files(p);
		else
			n++;
	}
	closedir(d);
	return n;
}

static int count_in(const char *sub)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/store/%s", base, sub);
	return count_files(p);
}

static void write_plain(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_enospc(void)
{
	struct store st;
	struct strbuf err = STRBUF_INIT, p = STRBUF_INIT;
	char hex[HASH_HEX_SIZE], tree[HASH_HEX_SIZE];

	strbuf_addf(&p, "%s/store", base);
	CHECK(store_open(&st, p.buf, &err) == 0, "store opens");

	/* bytes */
	fs_fail_writes_after(0);
	CHECK(store_put_bytes(&st, "hello\n", 6, hex, &err) == -1, "put_bytes fails on ENOSPC");
	CHECK(strstr(err.buf, "No space left on device") != NULL, "... saying no space left");
	CHECK(strncmp(err.buf, "cannot write '", 14) == 0, "... as cannot write 'PATH'");
	CHECK(count_in("objects") == 0, "... and leaves no object");
	CHECK(count_in("tmp") == 0, "... and no temporary");
	fs_fail_writes_after(-1);

	/* a copied file */
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/in.txt", base);
	write_plain(p.buf, "some content\n");
	strbuf_reset(&err);
	fs_fail_writes_after(0);
	CHECK(store_put_file(&st, p.buf, 0, hex, NULL, &err) == -1, "put_file (copy) fails on ENOSPC");
	CHECK(strstr(err.buf, "No space left on device") != NULL, "... saying no space left");
	CHECK(count_in("objects") == 0 && count_in("tmp") == 0, "... leaving nothing behind");
	CHECK(access(p.buf, F_OK) == 0, "... and the source file untouched");
	fs_fail_writes_after(-1);

	/* a tree whose manifest cannot be written (its files go in by rename) */
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/outdir", base);
	mkdir(p.buf, 0755);
	strbuf_addstr(&p, "/f.txt");
	write_plain(p.buf, "tree file\n");
	strbuf_setlen(&p, p.len - 6);
	strbuf_reset(&err);
	fs_fail_writes_after(0);
	CHECK(store_put_tree(&st, p.buf, 1, tree, NULL, NULL, &err) == -1,
	      "put_tree fails when the manifest cannot be written");
	CHECK(strstr(err.buf, "No space left on device") != NULL, "... saying no space left");
	CHECK(count_in("trees") == 0, "... no manifest under any name");
	CHECK(count_in("out") == 0, "... nothing materialised");
	CHECK(count_in("tmp") == 0, "... no temporary left in tmp/");
	fs_fail_writes_after(-1);

	/* the cache entry */
	char key[HASH_HEX_SIZE];
	memset(key, 'a', 64);
	key[64] = '\0';
	strbuf_reset(&err);
	fs_fail_writes_after(0);
	CHECK(store_cache_put(&st, key, key, &err) == -1, "cache_put fails on ENOSPC");
	CHECK(strstr(err.buf, "No space left on device") != NULL, "... saying no space left");
	CHECK(count_in("cache") == 0, "... and writes no entry");
	fs_fail_writes_after(-1);
	CHECK(store_cache_get(&st, key, tree) == 0, "... so the cache misses");

	/* writes that fail after a successful one (the countdown) */
	strbuf_reset(&err);
	int before = count_in("objects");
	fs_fail_writes_after(1);
	CHECK(store_put_bytes(&st, "one\n", 4, hex, &err) == 0, "the first write passes");
	CHECK(store_put_bytes(&st, "two\n", 4, hex, &err) == -1, "the second one fails");
	fs_fail_writes_after(-1);
	CHECK(count_in("objects") == before + 1, "exactly the first object is stored");

	/* once there is space again, everything works */
	strbuf_reset(&err);
	CHECK(store_put_bytes(&st, "hello\n", 6, hex, &err) == 0, "put_bytes works again");
	/* (the failed attempt consumed the file: the runner fails such a stage) */
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/outdir/f.txt", base);
	write_plain(p.buf, "tree file\n");
	strbuf_setlen(&p, p.len - 6);
	CHECK(store_put_tree(&st, p.buf, 1, tree, NULL, NULL, &err) == 0, "put_tree works again");
	CHECK(store_cache_put(&st, key, tree, &err) == 0, "cache_put works again");
	CHECK(count_in("tmp") == 0, "no temporary left");
	store_release(&st);
	strbuf_release(&err);
	strbuf_release(&p);
}

/* Members of process group pgid that are alive (not zombies: an orphan's new
 * parent, pid 1 of a container, may never reap it). */
static int live_in_group(pid_t pgid)
{
	int n = 0;
	for (int tries = 0; tries < 50; tries++) {
		DIR *d = opendir("/proc");
		struct dirent *de;
		n = 0;
		while (d && (de = readdir(d))) {
			char path[300], buf[512], state;
			long grp;
			snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
			FILE *f = fopen(path, "r");
			if (!f)
				continue;
			size_t len = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[len] = '\0';
			char *rp = strrchr(buf, ')');
			if (rp && sscanf(rp + 1, " %c %*d %ld", &state, &grp) == 2 && grp == pgid &&
			    state != 'Z')
				n++;
		}
		if (d)
			closedir(d);
		if (!n)
			break;
		usleep(100000);
	}
	return n;
}

static void test_leftover_groups(void)
{
	struct store st;
	struct strbuf err = STRBUF_INIT, p = STRBUF_INIT;
	unsigned long long start = 0;
	char note[64];

	strbuf_addf(&p, "%s/store2", base);
	CHECK(store_open(&st, p.buf, &err) == 0, "store opens");
	/* a "stage": its own process group, with a child in it */
	pid_t leader = fork();
	if (leader == 0) {
		setpgid(0, 0);
		if (fork() == 0) {
			sleep(30);
			_exit(0);
		}
		sleep(30);
		_exit(0);
	}
	setpgid(leader, leader);
	usleep(100000);
	CHECK(proc_start_time(leader, &start) == 0 && start > 0, "proc_start_time reads /proc");
	CHECK(proc_start_time(999999999, &start) == -1, "proc_start_time of no process fails");

	/* a stale note (wrong start time) must not kill it */
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/store2/work/stale-abc", base);
	mkdir(p.buf, 0700);
	strbuf_addstr(&p, "/pgid");
	snprintf(note, sizeof(note), "%ld %llu\n", (long)leader, start + 12345);
	write_plain(p.buf, note);
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/store2/work", base);
	CHECK(pgroup_kill_leftovers(p.buf) == 0, "a stale note kills nothing");
	CHECK(store_clean_tmp(&st, &err) == 0, "clean_tmp with a stale note");
	CHECK(kill(leader, 0) == 0, "a group whose leader has another start time is left alone");

	strbuf_reset(&p);
	strbuf_addf(&p, "%s/store2/work/stage-abc", base);
	mkdir(p.buf, 0700);
	strbuf_addstr(&p, "/pgid");
	snprintf(note, sizeof(note), "%ld %llu\n", (long)leader, start);
	write_plain(p.buf, note);
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/store2/work", base);
	CHECK(pgroup_kill_leftovers(p.buf) == 2, "the noted group (leader and child) is killed");
	CHECK(store_clean_tmp(&st, &err) == 0, "clean_tmp with a live note");
	int status = 0;
	pid_t w = waitpid(leader, &status, 0);
	CHECK(w == leader && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	      "the noted group's leader was killed");
	CHECK(live_in_group(leader) == 0, "the whole group is gone (zombies aside)");
	CHECK(count_in("../store2/work") == 0, "work/ is emptied");
	CHECK(proc_kill_leftover_group(1, 0) == 0, "process group 1 is never touched");
	store_release(&st);
	strbuf_release(&err);
	strbuf_release(&p);
}

int main(void)
{
	snprintf(base, sizeof(base), "/tmp/test_store_faults.XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_enospc();
	test_leftover_groups();
	struct strbuf err = STRBUF_INIT;
	remove_tree(base, &err);
	strbuf_release(&err);
	return check_done();
}
