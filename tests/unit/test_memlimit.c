/*
 * Unit tests for memlimit (memlimit.h): finding the orchestrator's cgroup v2
 * directory from /proc/self/cgroup and mountinfo texts (v2 only, hybrid,
 * none), the controller list, memory.events' oom_kill count, whether a
 * directory can hold stage cgroups ($STUDY_CGROUP), a stage cgroup's knobs
 * (on a plain directory standing in for cgroupfs), and the resident memory
 * of a process group as the watchdog samples it.
 */
#include "check.h"
#include "fsutil.h"
#include "memlimit.h"
#include "xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char scratch[] = "/tmp/study-test-memlimit.XXXXXX";

static const char mountinfo[] =
	"22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
	"30 22 0:26 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro,mode=755\n"
	"31 30 0:27 / /sys/fs/cgroup/memory rw shared:10 - cgroup cgroup rw,memory\n"
	"41 30 0:38 / /sys/fs/cgroup/unified rw,relatime shared:11 - cgroup2 cgroup2 rw\n";

static void test_parse(void)
{
	struct strbuf out = STRBUF_INIT;
	CHECK(memlimit_parse_own_cgroup("0::/user.slice/study.service\n", mountinfo, &out) == 0,
	      "v2: the 0:: line and the cgroup2 mount");
	CHECK_STR(out.buf, "/sys/fs/cgroup/unified/user.slice/study.service", "... joined");
	CHECK(memlimit_parse_own_cgroup("9:name=systemd:/\n4:memory:/x\n0::/\n", mountinfo, &out) ==
		      0,
	      "hybrid: the v2 line among v1 ones");
	CHECK_STR(out.buf, "/sys/fs/cgroup/unified", "... the root cgroup is the mount point");
	CHECK(memlimit_parse_own_cgroup("4:memory:/x\n", mountinfo, &out) < 0,
	      "v1 only: no cgroup v2 directory");
	CHECK(memlimit_parse_own_cgroup("0::/a\n",
					"22 1 254:1 / / rw - ext4 /dev/vda1 rw\n", &out) < 0,
	      "no cgroup2 mount: none");
	CHECK(memlimit_has_controller("cpuset cpu io memory pids\n", "memory"),
	      "memory in a controller list");
	CHECK(!memlimit_has_controller("cpu memoryx hugetlb\n", "memory"), "... a whole word only");
	CHECK(!memlimit_has_controller("", "memory"), "... an empty list");
	CHECK(memlimit_oom_kills("low 0\nhigh 4\nmax 9\noom 2\noom_kill 2\noom_group_kill 0\n") == 2,
	      "oom_kill from memory.events");
	CHECK(memlimit_oom_kills("low 0\nhigh 0\nmax 0\noom 0\n") == 0, "... 0 when absent");
	strbuf_release(&out);
}

static void put(const char *dir, const char *name, const char *text)
{
	struct strbuf p = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&p, "%s/%s", dir, name);
	write_file_atomic(p.buf, text, strlen(text), 0644, &err);
	strbuf_release(&p);
	strbuf_release(&err);
}

static void test_cgroup_dir(void)
{
	struct strbuf base = STRBUF_INIT, why = STRBUF_INIT, dir = STRBUF_INIT, s = STRBUF_INIT;
	char *cg = xasprintf("%s/cg", scratch);
	mkdir(cg, 0755);
	setenv("STUDY_CGROUP", cg, 1);
	CHECK(memlimit_cgroup_base(&base, &why) == 0, "$STUDY_CGROUP without cgroup files: unusable");
	CHECK_STR(base.buf, cg, "... it is the directory looked at");
	put(cg, "cgroup.subtree_control", "cpu io\n");
	strbuf_reset(&why);
	CHECK(memlimit_cgroup_base(&base, &why) == 0, "memory not delegated: unusable");
	struct strbuf want = STRBUF_INIT;
	strbuf_addf(&want, "the memory controller is not enabled for the children of '%s'", cg);
	CHECK_STR(why.buf, want.buf, "... and why");
	put(cg, "cgroup.subtree_control", "cpu io memory\n");
	strbuf_reset(&why);
	CHECK(memlimit_cgroup_base(&base, &why) == 1, "memory delegated, writable: usable");
	unsetenv("STUDY_CGROUP");

	struct strbuf err = STRBUF_INIT;
	CHECK(memlimit_cgroup_create(cg, 10 << 20, &dir, &err) == 0, "a stage cgroup is created");
	CHECK(!strncmp(dir.buf, cg, strlen(cg)) && strstr(dir.buf, "/study-"),
	      "... under the base, named study-PID-N");
	strbuf_addf(&s, "%s/memory.max", dir.buf);
	struct strbuf text = STRBUF_INIT;
	strbuf_read_file(&text, s.buf);
	CHECK_STR(text.buf, "10485760", "memory.max is the limit in bytes");
	strbuf_reset(&s);
	strbuf_reset(&text);
	strbuf_addf(&s, "%s/memory.swap.max", dir.buf);
	strbuf_read_file(&text, s.buf);
	CHECK_STR(text.buf, "0", "memory.swap.max is 0");
	long long peak = 0;
	CHECK(memlimit_cgroup_over(dir.buf, &peak) == 0 && peak == -1,
	      "no memory.events: not over, peak unknown");
	put(dir.buf, "memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n");
	put(dir.buf, "memory.peak", "10485760\n");
	CHECK(memlimit_cgroup_over(dir.buf, &peak) == 1 && peak == 10485760,
	      "oom_kill 1: over, with memory.peak");
	put(dir.buf, "cgroup.kill", "");
	memlimit_cgroup_remove(dir.buf);
	strbuf_reset(&s);
	strbuf_reset(&text);
	strbuf_addf(&s, "%s/cgroup.kill", dir.buf);
	strbuf_read_file(&text, s.buf);
	CHECK_STR(text.buf, "1", "removing it writes cgroup.kill first");
	CHECK(memlimit_cgroup_create("/nonexistent/cg", 1, &dir, &err) < 0 &&
		      strstr(err.buf, "cannot create cgroup '/nonexistent/cg/study-"),
	      "a base that cannot hold it: an error");
	free(cg);
	strbuf_release(&base);
	strbuf_release(&why);
	strbuf_release(&dir);
	strbuf_release(&s);
	strbuf_release(&want);
	strbuf_release(&text);
	strbuf_release(&err);
}

static void test_group_rss(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		size_t n = 24 << 20;
		volatile char *m = malloc(n);
		for (size_t i = 0; m && i < n; i += 4096)
			m[i] = 1;
		if (write(p[1], "x", 1) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	setpgid(pid, pid);
	char c;
	CHECK(read(p[0], &c, 1) == 1, "a process group holding 24 MiB");
	pid_t groups[2] = { pid, 999999 };
	long long rss[2] = { -1, -1 };
	memlimit_group_rss(groups, 2, rss);
	CHECK(rss[0] >= 24LL << 20 && rss[0] < 200LL << 20, "the watchdog sees its resident memory");
	CHECK(rss[1] == 0, "a group with no process: 0");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	if (!mkdtemp(scratch))
		return 1;
	test_parse();
	test_cgroup_dir();
	test_group_rss();
	struct strbuf ignored = STRBUF_INIT;
	remove_tree(scratch, &ignored);
	strbuf_release(&ignored);
	return check_done();
}
