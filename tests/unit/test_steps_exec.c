/*
 * Unit tests for running the steps of a multi-step stage (proc.c and the
 * launcher bin/study-exec, launcher/launch.h): the steps run in order in one
 * directory with one pair of logs, in one process group; the first that
 * fails (exit status, signal, exec failure) ends the stage and is reported,
 * later ones never start; a TERM to the stage keeps the next step from
 * starting; the usage is the sum over the steps; without the launcher a
 * multi-step stage cannot start.
 */
#include "check.h"
#include "proc.h"
#include "strbuf.h"
#include "xalloc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/study-test-steps-exec.XXXXXX";
static char *out_log, *err_log;

static int wait_child(struct child *c)
{
	int status;
	struct rusage ru;
	pid_t w;
	do
		w = wait4(c->pid, &status, 0, &ru);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -1;
	child_reaped(c, status, &ru);
	return 0;
}

/* A child of `n` steps, each `sh -c SCRIPT` (scripts[k]). */
static void setup(struct child *c, const char *const *scripts, size_t n)
{
	child_init(c);
	c->dir = dir;
	c->stdout_path = out_log;
	c->stderr_path = err_log;
	if (n > 1) {
		c->more_steps = xcalloc(n - 1, sizeof(*c->more_steps));
		c->more_steps_nr = n - 1;
	}
	for (size_t k = 0; k < n; k++) {
		struct strvec *sv = k ? &c->more_steps[k - 1] : &c->argv;
		if (k)
			strvec_init(sv);
		strvec_push(sv, "/bin/sh");
		strvec_push(sv, "-c");
		strvec_push(sv, scripts[k]);
	}
}

/* Run to the end; returns what the steps wrote to stdout. */
static char *run(struct child *c, const char *what)
{
	struct strbuf err = STRBUF_INIT, log = STRBUF_INIT;
	int started = child_start(c, &err) == 0;
	CHECK(started, what);
	if (!started)
		printf("#   %s\n", err.buf);
	else
		wait_child(c);
	strbuf_read_file(&log, out_log);
	strbuf_release(&err);
	return strbuf_detach(&log, NULL);
}

static void test_in_order(void)
{
	const char *s[] = { "echo one; echo x > mid", "echo two; cat mid", "echo three" };
	struct child c;
	setup(&c, s, 3);
	char *log = run(&c, "a three-step stage starts");
	CHECK_STR(log, "one\ntwo\nx\nthree\n",
		  "the steps run in order, in one directory, into one stdout log");
	CHECK(c.exit_code == 0 && !c.term_signal, "it succeeds when every step does");
	CHECK(c.step == 3 && c.step_errno == 0, "the last step is the one reported");
	free(log);
	child_release(&c);
}

static void test_failing_step(void)
{
	const char *s[] = { "echo one", "echo two; echo bad >&2; exit 3", "echo three" };
	struct child c;
	setup(&c, s, 3);
	char *log = run(&c, "a stage whose step 2 fails starts");
	CHECK_STR(log, "one\ntwo\n", "the step after a failing one never runs");
	CHECK(c.exit_code == 3 && c.step == 2, "the exit status and number of the failing step");
	struct strbuf e = STRBUF_INIT;
	strbuf_read_file(&e, err_log);
	CHECK_STR(e.buf, "bad\n", "its stderr is the stage's");
	strbuf_release(&e);
	free(log);
	child_release(&c);

	const char *k[] = { "true", "kill -9 $$", "echo three" };
	setup(&c, k, 3);
	log = run(&c, "a stage whose step 2 is killed starts");
	CHECK(c.term_signal == SIGKILL && c.exit_code == -1 && c.step == 2,
	      "a step killed by a signal ends the stage with that signal");
	CHECK_STR(log, "", "and the next step does not run");
	free(log);
	child_release(&c);
}

static void test_exec_failure(void)
{
	const char *s[] = { "echo one", "echo two" };
	struct child c;
	setup(&c, s, 2);
	strvec_clear(&c.more_steps[0]);
	strvec_push(&c.more_steps[0], "/nonexistent/prog");
	char *log = run(&c, "a stage whose step 2 cannot be executed starts");
	CHECK(c.exit_code == 127 && c.step == 2 && c.step_errno == ENOENT,
	      "step 2's exec failure: exit 127, its number and errno");
	CHECK_STR(log, "one\n", "step 1 ran");
	free(log);
	child_release(&c);

	setup(&c, s, 2);
	strvec_clear(&c.argv);
	strvec_push(&c.argv, "/nonexistent/prog");
	struct strbuf err = STRBUF_INIT;
	CHECK(child_start(&c, &err) == -1, "step 1's exec failure fails the start, as for one step");
	CHECK_STR(err.buf, "cannot execute '/nonexistent/prog': No such file or directory",
		  "with the one-step message");
	strbuf_release(&err);
	child_release(&c);
}

static void test_group(void)
{
	/* field 5 of /proc/PID/stat is the process group */
	const char *s[] = { "cut -d' ' -f5 /proc/$$/stat", "cut -d' ' -f5 /proc/$$/stat" };
	struct child c;
	setup(&c, s, 2);
	char *log = run(&c, "a stage that prints its process groups starts");
	char *want = xasprintf("%d\n%d\n", (int)c.pid, (int)c.pid);
	CHECK_STR(log, want, "every step runs in the stage's process group");
	free(want);
	free(log);
	child_release(&c);
}

static void test_stop_between_steps(void)
{
	/* step 1 exits 0 on TERM: the stage is stopped, so step 2 must not run */
	const char *s[] = { "trap 'exit 0' TERM; echo ready; while :; do sleep 0.02; done",
			    "echo two" };
	struct child c;
	struct strbuf err = STRBUF_INIT, log = STRBUF_INIT;
	setup(&c, s, 2);
	CHECK(child_start(&c, &err) == 0, "a stage to stop starts");
	for (int i = 0; i < 500 && !strstr(log.buf, "ready"); i++) {
		usleep(10000);
		strbuf_reset(&log);
		strbuf_read_file(&log, out_log);
	}
	child_signal(&c, SIGTERM);
	wait_child(&c);
	strbuf_reset(&log);
	strbuf_read_file(&log, out_log);
	CHECK_STR(log.buf, "ready\n", "after a TERM the next step does not start");
	CHECK(c.term_signal == SIGTERM && c.step == 2,
	      "the stage ends by TERM before step 2, which is named");
	strbuf_release(&err);
	strbuf_release(&log);
	child_release(&c);
}

static double cpu_of(size_t n)
{
	const char *loop = "i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done";
	const char *s[] = { loop, loop };
	struct child c;
	setup(&c, s, n);
	free(run(&c, "a busy stage starts"));
	double cpu = child_cpu_s(&c);
	child_release(&c);
	return cpu;
}

static void test_usage(void)
{
	double one = cpu_of(1), two = cpu_of(2);
	printf("# cpu: one step %.3fs, two steps %.3fs\n", one, two);
	CHECK(one > 0 && two > 1.4 * one, "the usage of two steps is their sum");
}

static void test_no_launcher(void)
{
	const char *s[] = { "true", "true" };
	struct child c;
	struct strbuf err = STRBUF_INIT;
	setup(&c, s, 2);
	proc_set_launcher(NULL);
	CHECK(child_start(&c, &err) == -1, "without the launcher a multi-step stage cannot start");
	CHECK_STR(err.buf,
		  "a stage of 2 steps needs the stage launcher (study-exec, next to the study program)",
		  "and the message says why");
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

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	out_log = xasprintf("%s/stdout", dir);
	err_log = xasprintf("%s/stderr", dir);
	char *launcher = find_launcher();
	if (!launcher) {
		printf("not ok - bin/study-exec not built (run from the repository root)\n");
		return 1;
	}
	proc_set_launcher(launcher);
	test_in_order();
	test_failing_step();
	test_exec_failure();
	test_group();
	test_stop_between_steps();
	test_usage();
	test_no_launcher();
	free(launcher);
	free(out_log);
	free(err_log);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# cleanup failed\n");
	free(cmd);
	return check_done();
}
