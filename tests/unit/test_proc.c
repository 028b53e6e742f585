/*
 * Unit tests for proc.c: exec of an argv with a cleared environment, exec
 * failures reported by child_start, log capture, the progress pipe, and
 * signals reaching the whole process group; each both through the stage
 * launcher (bin/study-exec) and without it. With the launcher, the usage is
 * the stage's own even when this process is large.
 */
#include "check.h"
#include "proc.h"
#include "strbuf.h"
#include "xalloc.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/study-test-proc.XXXXXX";

static int wait_child(struct child *c)
{
	int status;
	struct rusage ru;
	if (wait4(c->pid, &status, 0, &ru) < 0)
		return -1;
	child_reaped(c, status, &ru);
	return 0;
}

static void setup(struct child *c, char *out, char *err)
{
	child_init(c);
	c->dir = dir;
	c->stdout_path = out;
	c->stderr_path = err;
}

static void test_exec_and_logs(char *out, char *err_path)
{
	struct child c;
	setup(&c, out, err_path);
	strvec_push(&c.argv, "/bin/sh");
	strvec_push(&c.argv, "-c");
	strvec_push(&c.argv, "echo \"$GREETING $HOME\"; echo oops >&2; pwd; exit 4");
	strvec_push(&c.env, "GREETING=hello");
	struct strbuf err = STRBUF_INIT;
	CHECK(child_start(&c, &err) == 0, "child_start runs /bin/sh");
	wait_child(&c);
	CHECK(c.exit_code == 4, "the exit code comes back");
	struct strbuf log = STRBUF_INIT;
	strbuf_read_file(&log, out);
	char *want = xasprintf("hello \n%s\n", dir);
	CHECK_STR(log.buf, want, "stdout is captured; only the given env exists; cwd is dir");
	free(want);
	strbuf_reset(&log);
	strbuf_read_file(&log, err_path);
	CHECK_STR(log.buf, "oops\n", "stderr is captured separately");
	strbuf_release(&log);
	strbuf_release(&err);
	child_release(&c);
}

static void test_exec_failure(char *out, char *err_path)
{
	struct child c;
	setup(&c, out, err_path);
	strvec_push(&c.argv, "/nonexistent/program");
	struct strbuf err = STRBUF_INIT;
	CHECK(child_start(&c, &err) == -1, "exec failure is reported by child_start");
	CHECK_STR(err.buf, "cannot execute '/nonexistent/program': No such file or directory",
		  "exec failure message names the program and the reason");
	strbuf_release(&err);
	child_release(&c);
}

static void test_progress(char *out, char *err_path)
{
	struct child c;
	setup(&c, out, err_path);
	c.want_progress = 1;
	strvec_push(&c.argv, "/bin/sh");
	strvec_push(&c.argv, "-c");
	strvec_push(&c.argv, "echo 'progress 0.5 half' >&3");
	struct strbuf err = STRBUF_INIT;
	CHECK(child_start(&c, &err) == 0 && c.progress_fd >= 0, "a progress pipe is opened");
	wait_child(&c);
	char buf[64] = "";
	ssize_t n = read(c.progress_fd, buf, sizeof(buf) - 1);
	CHECK(n > 0 && !strcmp(buf, "progress 0.5 half\n"), "the child writes progress to fd 3");
	strbuf_release(&err);
	child_release(&c);
}

static void test_group_signal(char *out, char *err_path)
{
	struct child c;
	setup(&c, out, err_path);
	strvec_push(&c.argv, "/bin/sh");
	strvec_push(&c.argv, "-c");
	/* a grandchild that would outlive a plain kill of the shell */
	strvec_push(&c.argv, "sleep 30 & echo $! > grandchild.pid; wait");
	struct strbuf err = STRBUF_INIT;
	child_start(&c, &err);
	char *pidfile = xasprintf("%s/grandchild.pid", dir);
	struct strbuf pid = STRBUF_INIT;
	for (int i = 0; i < 200 && (strbuf_reset(&pid), strbuf_read_file(&pid, pidfile) < 0 ||
				    !pid.len);
	     i++)
		usleep(10000);
	child_signal(&c, SIGTERM);
	wait_child(&c);
	CHECK(c.term_signal == SIGTERM, "the stage is stopped by the signal");
	pid_t gc = (pid_t)atoi(pid.buf);
	int gone = 0;
	for (int i = 0; i < 200 && !gone; i++) {
		gone = gc > 0 && kill(gc, 0) < 0;
		if (!gone)
			usleep(10000);
	}
	CHECK(gone, "the signal reaches the stage's whole process group");
	free(pidfile);
	strbuf_release(&pid);
	strbuf_release(&err);
	child_release(&c);
}

/* The stage's peak RSS, not this process's: with 48 MiB touched here, an exec
 * straight from our vfork child would report at least that. */
static void test_measure(char *out, char *err_path, int with_launcher)
{
	size_t big = 48u << 20;
	volatile char *mem = malloc(big);
	for (size_t i = 0; mem && i < big; i += 4096)
		mem[i] = 1;
	struct child c;
	setup(&c, out, err_path);
	strvec_push(&c.argv, "/bin/sh");
	strvec_push(&c.argv, "-c");
	strvec_push(&c.argv, "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; kill -SEGV $$");
	struct strbuf err = STRBUF_INIT;
	CHECK(child_start(&c, &err) == 0, "measure: the stage starts");
	wait_child(&c);
	CHECK(c.term_signal == SIGSEGV && c.exit_code == -1, "measure: the stage's signal comes back");
	if (with_launcher) {
		CHECK(c.usage_known, "measure: the launcher reports the usage");
		long kb = child_peak_rss_kb(&c);
		printf("# peak %ld KiB, cpu %.3f s\n", kb, child_cpu_s(&c));
		CHECK(kb > 0 && kb < 8192, "measure: peak RSS is the stage's, not this process's 48 MiB");
		CHECK(child_cpu_s(&c) > 0 && child_cpu_s(&c) < 5, "measure: cpu time is the stage's");
		CHECK(c.ended > c.started && c.ended - c.started < 5, "measure: start and end are the stage's");
	} else {
		CHECK(!c.usage_known && child_peak_rss_kb(&c) == -1 && child_cpu_s(&c) == -1,
		      "measure: without the launcher the usage is unknown, not the orchestrator's");
	}
	free((void *)mem);
	strbuf_release(&err);
	child_release(&c);
}

static void test_missing_launcher(char *out, char *err_path)
{
	struct child c;
	setup(&c, out, err_path);
	strvec_push(&c.argv, "/bin/true");
	proc_set_launcher("/nonexistent/study-exec");
	struct strbuf err = STRBUF_INIT;
	CHECK(child_start(&c, &err) == -1, "a launcher that cannot run fails the start");
	CHECK_STR(err.buf,
		  "cannot execute the stage launcher '/nonexistent/study-exec': No such file or directory",
		  "the message names the launcher");
	strbuf_release(&err);
	child_release(&c);
}

/* bin/study-exec of the build under test: next to $STUDY_BIN, else bin/. */
static char *find_launcher(void)
{
	const char *sb = getenv("STUDY_BIN");
	char *p = NULL;
	if (sb && strrchr(sb, '/'))
		p = xasprintf("%.*s/study-exec", (int)(strrchr(sb, '/') - sb), sb);
	else
		p = xstrdup("bin/study-exec");
	if (access(p, X_OK) == 0)
		return p;
	free(p);
	return NULL;
}

static void test_find_in_path(void)
{
	char *p = find_in_path("sh", "/nonexistent:/bin:/usr/bin");
	CHECK(p && !strcmp(p, "/bin/sh"), "find_in_path searches in order");
	free(p);
	CHECK(find_in_path("no-such-tool-xyz", "/bin:/usr/bin") == NULL,
	      "find_in_path returns NULL when absent");
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	/* the test reaps its own children: keep SIGCHLD default */
	char *out = xasprintf("%s/stdout", dir), *err = xasprintf("%s/stderr", dir);
	char *launcher = find_launcher();
	for (int with = 0; with < 2; with++) {
		if (with && !launcher) {
			printf("ok - # SKIP bin/study-exec not built\n");
			break;
		}
		printf("# %s the launcher\n", with ? "with" : "without");
		proc_set_launcher(with ? launcher : NULL);
		test_exec_and_logs(out, err);
		test_exec_failure(out, err);
		test_progress(out, err);
		test_group_signal(out, err);
		test_measure(out, err, with);
	}
	test_missing_launcher(out, err);
	proc_set_launcher(NULL);
	free(launcher);
	test_find_in_path();
	free(out);
	free(err);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# cleanup failed\n");
	free(cmd);
	return check_done();
}
