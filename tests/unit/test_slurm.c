/*
 * test_slurm: the SLURM client primitives (pipeline/slurm.c). Parsing and
 * command lines against outputs recorded from slurm-wlm 22.05; the exec
 * wrapper run here with /bin/sh; then, when a cluster answers (started by
 * tests/slurm/ensure.sh when this is root, else SKIP), the same primitives
 * against the live cluster: submission with an explicit environment, argv
 * byte for byte, one squeue call for several jobs, exit status and signal,
 * scontrol and the job completion log agreeing with squeue, scancel.
 */
#include "check.h"
#include "fsutil.h"
#include "proc.h"
#include "slurm.h"
#include "strbuf.h"
#include "strvec.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_slurm.XXXXXX";

static void test_numbers(void)
{
	CHECK(slurm_time_minutes(1) == 1, "time: 1 s is 1 minute");
	CHECK(slurm_time_minutes(60) == 1, "time: 60 s is 1 minute");
	CHECK(slurm_time_minutes(61) == 2, "time: 61 s is 2 minutes (rounded up)");
	CHECK(slurm_time_minutes(900) == 15, "time: 15m is 15 minutes");
	CHECK(slurm_time_minutes(0.5) == 1, "time: half a second is 1 minute");
	CHECK(slurm_mem_mib(1) == 1, "mem: 1 byte is 1 MiB");
	CHECK(slurm_mem_mib(1048576) == 1, "mem: 1 MiB");
	CHECK(slurm_mem_mib(1048577) == 2, "mem: a byte over 1 MiB is 2 MiB");
	CHECK(slurm_mem_mib(1LL << 30) == 1024, "mem: 1G is 1024 MiB");
}

static struct slurm_job_spec base_spec(char *const *argv)
{
	struct slurm_job_spec s = { 0 };
	s.name = "eval/accuracy/small halve";
	s.workdir = "/st/work/x/cwd";
	s.stdout_path = "/st/work/x/stdout";
	s.stderr_path = "/st/work/x/stderr";
	s.report_path = "/st/work/x/report";
	s.progress_path = NULL;
	s.script = "/st/slurm/slurm-job.sh";
	s.argv = argv;
	return s;
}

static void join(char *const *v, struct strbuf *sb)
{
	for (size_t i = 0; v[i]; i++)
		strbuf_addf(sb, "%s[%s]", i ? " " : "", v[i]);
}

static void test_sbatch_argv(void)
{
	char *cmd[] = { "/bin/prog", "a b", "", "$HOME", NULL };
	struct slurm_job_spec s = base_spec(cmd);
	struct strvec v = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT, got = STRBUF_INIT;
	CHECK(slurm_sbatch_argv(&s, "/usr/bin/sbatch", &v, &err) == 0, "sbatch argv: no resources");
	join(v.v, &got);
	CHECK_STR(got.buf,
		  "[/usr/bin/sbatch] [--parsable] [--export=ALL] [--no-requeue] [--open-mode=truncate] "
		  "[--job-name=eval/accuracy/small_halve] [--chdir=/st/work/x/cwd] "
		  "[--output=/st/work/x/stdout] [--error=/st/work/x/stderr] [/st/slurm/slurm-job.sh] "
		  "[/st/work/x/cwd] [/st/work/x/report] [] [/bin/prog] [a b] [] [$HOME]",
		  "sbatch argv: fixed options, the script, the wrapper's arguments, argv untouched");
	strvec_clear(&v);
	strbuf_reset(&got);

	char *opts[] = { "--qos=low", "--constraint=a b", NULL };
	s.cpus = 4;
	s.mem_bytes = 1536LL * 1024 * 1024 + 1;
	s.gpus = 2;
	s.time_s = 90;
	s.partition = "gpu";
	s.account = "proj1";
	s.opts = opts;
	s.progress_path = "/st/work/x/progress";
	CHECK(slurm_sbatch_argv(&s, "sbatch", &v, &err) == 0, "sbatch argv: every resource");
	join(v.v, &got);
	CHECK_STR(got.buf,
		  "[sbatch] [--parsable] [--export=ALL] [--no-requeue] [--open-mode=truncate] "
		  "[--job-name=eval/accuracy/small_halve] [--chdir=/st/work/x/cwd] "
		  "[--output=/st/work/x/stdout] [--error=/st/work/x/stderr] [--cpus-per-task=4] "
		  "[--mem=1537M] [--gres=gpu:2] [--time=2] [--partition=gpu] [--account=proj1] "
		  "[--qos=low] [--constraint=a b] [/st/slurm/slurm-job.sh] [/st/work/x/cwd] "
		  "[/st/work/x/report] [/st/work/x/progress] [/bin/prog] [a b] [] [$HOME]",
		  "sbatch argv: cpus, mem (MiB, up), gres, time (minutes, up), partition, account, "
		  "options after ours");
	strvec_clear(&v);

	s.stdout_path = "/st/100%/stdout";
	CHECK(slurm_sbatch_argv(&s, "sbatch", &v, &err) == -1, "sbatch argv: '%' in a log path refused");
	CHECK_STR(err.buf,
		  "cannot submit with log file '/st/100%/stdout': SLURM expands '%' in log file "
		  "names; use a store path without '%'",
		  "sbatch argv: the message says why");
	strvec_clear(&v);
	strbuf_release(&err);
	strbuf_release(&got);
}

static void test_states(void)
{
	CHECK(slurm_state_parse("COMPLETED") == SLURM_COMPLETED, "state COMPLETED");
	CHECK(slurm_state_parse("CANCELLED by 0") == SLURM_CANCELLED, "state 'CANCELLED by 0' (sacct)");
	CHECK(slurm_state_parse("CONFIGURING") == SLURM_PENDING, "state CONFIGURING is pending");
	CHECK(slurm_state_parse("COMPLETING") == SLURM_COMPLETING, "state COMPLETING");
	CHECK(!slurm_state_final(SLURM_COMPLETING), "COMPLETING is not final");
	CHECK(slurm_state_final(SLURM_OUT_OF_MEMORY), "OUT_OF_MEMORY is final");
	CHECK(slurm_state_parse("NO_SUCH") == SLURM_UNKNOWN, "an unknown state");
	CHECK(!slurm_state_final(SLURM_UNKNOWN), "an unknown state is not final");
}

static void test_parse(void)
{
	struct slurm_job j;
	struct strbuf why = STRBUF_INIT;
	slurm_job_init(&j);
	CHECK(slurm_parse_squeue("2|FAILED|NonZeroExitCode|768|vm|debug|2026-11-30T14:01:01|"
				 "2026-11-30T14:01:02|2026-11-30T14:01:05|eval/x|", &j) == 0,
	      "squeue line parses");
	CHECK(j.id == 2 && j.state == SLURM_FAILED, "squeue: id and state");
	CHECK_STR(j.reason, "NonZeroExitCode", "squeue: reason");
	CHECK(j.status_known && WIFEXITED(j.status) && WEXITSTATUS(j.status) == 3,
	      "squeue: exit_code 768 is exit status 3");
	CHECK_STR(j.node, "vm", "squeue: node");
	CHECK_STR(j.partition, "debug", "squeue: partition");
	CHECK_STR(j.name, "eval/x", "squeue: name");
	CHECK(j.start - j.submit == 1 && j.end - j.start == 3, "squeue: times");
	CHECK(slurm_describe(&j, &why) == 1, "describe: failed");
	CHECK_STR(why.buf, "exit status 3", "describe: exit status");
	slurm_job_release(&j);

	slurm_job_init(&j);
	CHECK(slurm_parse_squeue("10|PENDING|Priority|0||debug|2026-11-30T14:01:37|N/A|N/A|w.sh|", &j) == 0,
	      "squeue: a pending job");
	CHECK(j.state == SLURM_PENDING && !j.status_known && !j.start && j.node[0] == 0,
	      "squeue: pending has no status, start or node");
	slurm_job_release(&j);

	static const struct {
		const char *line, *why;
	} cases[] = {
		{ "3|FAILED|JobLaunchFailure|9|vm|debug|N/A|N/A|N/A|x|", "killed by signal 9 (Killed)" },
		{ "5|CANCELLED|None|15|vm|debug|N/A|N/A|N/A|x|", "cancelled (SLURM: CANCELLED)" },
		{ "6|OUT_OF_MEMORY|OutOfMemory|253|vm|debug|N/A|N/A|N/A|x|",
		  "over memory limit (SLURM: OUT_OF_MEMORY)" },
		{ "7|TIMEOUT|TimeLimit|15|vm|debug|N/A|N/A|N/A|x|", "over time limit (SLURM: TIMEOUT)" },
		{ "8|NODE_FAIL|NodeDown|0|vm|debug|N/A|N/A|N/A|x|", "node failure (SLURM: NODE_FAIL)" },
		{ "9|PREEMPTED|None|0|vm|debug|N/A|N/A|N/A|x|", "preempted (SLURM: PREEMPTED)" },
		{ "11|FAILED|JobLaunchFailure|4021|vm|debug|N/A|N/A|N/A|x|",
		  "killed by signal 53 (Real-time signal 19)" },
		{ "12|BOOT_FAIL|None|0|vm|debug|N/A|N/A|N/A|x|", "node boot failure (SLURM: BOOT_FAIL)" },
		{ "13|FAILED|Prolog|0|vm|debug|N/A|N/A|N/A|x|", "failed (SLURM: FAILED, Prolog)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		slurm_job_init(&j);
		int ok = slurm_parse_squeue(cases[i].line, &j) == 0 && slurm_describe(&j, &why) == 1;
		CHECK(ok, cases[i].line);
		CHECK_STR(why.buf, cases[i].why, cases[i].why);
		slurm_job_release(&j);
	}
	slurm_job_init(&j);
	CHECK(slurm_parse_squeue("4|COMPLETED|None|0|vm|debug|N/A|N/A|N/A|a|b|", &j) == 0 &&
		      slurm_describe(&j, &why) == 0 && why.len == 0,
	      "squeue: completed, status 0: no reason; a '|' in the name stays in it");
	CHECK_STR(j.name, "a|b", "squeue: the name is the rest of the line");
	slurm_job_release(&j);

	static const char *const bad[] = {
		"", "x|FAILED|None|0|vm|debug|N/A|N/A|N/A|x|", "1|FAILED|None|-3|vm|debug|N/A|N/A|N/A|x|",
		"1|FAILED|None|0|vm|debug|N/A|N/A|N/A|x", "1|FAILED|None|0|vm",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		slurm_job_init(&j);
		CHECK(slurm_parse_squeue(bad[i], &j) == -1, "squeue: a malformed line is refused");
		slurm_job_release(&j);
	}

	slurm_job_init(&j);
	CHECK(slurm_parse_scontrol(
		      "JobId=6 JobName=w.sh UserId=root(0) JobState=OUT_OF_MEMORY Reason=OutOfMemory "
		      "Dependency=(null) ExitCode=0:125 RunTime=00:00:00 SubmitTime=2026-11-30T14:01:01 "
		      "StartTime=2026-11-30T14:01:03 EndTime=2026-11-30T14:01:04 Partition=debug "
		      "NodeList=vm BatchHost=vm Command=/tmp/sl/w.sh a b WorkDir=/tmp/sl", &j) == 0,
	      "scontrol -o line parses");
	CHECK(j.id == 6 && j.state == SLURM_OUT_OF_MEMORY, "scontrol: id and state");
	CHECK(j.status_known && WIFSIGNALED(j.status) && WTERMSIG(j.status) == 125,
	      "scontrol: ExitCode 0:125 (the squeue status 253 decoded the same way)");
	CHECK_STR(j.name, "w.sh", "scontrol: JobName");
	CHECK_STR(j.node, "vm", "scontrol: NodeList");
	CHECK(j.start - j.submit == 2, "scontrol: times");
	slurm_job_release(&j);

	slurm_job_init(&j);
	CHECK(slurm_parse_sacct("5|CANCELLED by 0|0:0|vm|batch|2026-11-30T14:01:01|"
				"2026-11-30T14:01:05|model/m1", &j) == 0, "sacct -c line parses");
	CHECK(j.id == 5 && j.state == SLURM_CANCELLED, "sacct: 'CANCELLED by 0'");
	CHECK_STR(j.state_name, "CANCELLED", "sacct: state name without 'by 0'");
	CHECK_STR(j.partition, "batch", "sacct: partition");
	CHECK(j.end - j.start == 4, "sacct: times");
	slurm_job_release(&j);
	slurm_job_init(&j);
	CHECK(slurm_parse_sacct("2|FAILED|3:0|vm|debug|Unknown|Unknown|x", &j) == 0 && j.status_known &&
		      WEXITSTATUS(j.status) == 3 && !j.start, "sacct: ExitCode 3:0, unknown times");
	slurm_job_release(&j);

	int st;
	CHECK(slurm_parse_exitcode("3:0", &st) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 3,
	      "ExitCode 3:0");
	CHECK(slurm_parse_exitcode("0:9", &st) == 0 && WIFSIGNALED(st) && WTERMSIG(st) == 9,
	      "ExitCode 0:9");
	CHECK(slurm_parse_exitcode("3", &st) == -1 && slurm_parse_exitcode("3:0x", &st) == -1,
	      "ExitCode malformed");
	CHECK(slurm_parse_parsable("17\n") == 17, "--parsable: id");
	CHECK(slurm_parse_parsable("18;cluster2\n") == 18, "--parsable: id;cluster");
	CHECK(slurm_parse_parsable("Submitted batch job 5\n") == -1, "--parsable: not parsable");
	CHECK(slurm_parse_time("N/A") == 0 && slurm_parse_time("Unknown") == 0 && slurm_parse_time("") == 0,
	      "time: N/A, Unknown, empty");
	strbuf_release(&why);
}

/* The wrapper, run here with /bin/sh (no SLURM): enters its directory,
 * passes every argument byte for byte, opens the report and progress files,
 * and exits 97 with a message when the directory is missing. */
static void test_wrapper_here(void)
{
	struct strbuf dir = STRBUF_INIT, script = STRBUF_INIT, err = STRBUF_INIT;
	struct strbuf out = STRBUF_INIT, errout = STRBUF_INIT, path = STRBUF_INIT;
	strbuf_addf(&dir, "%s/here", tmpdir);
	CHECK(slurm_write_wrapper(dir.buf, &script, &err) == 0, "wrapper written");
	struct stat sst;
	CHECK(stat(script.buf, &sst) == 0 && (sst.st_mode & 0777) == 0755, "wrapper is 0755");
	CHECK(slurm_write_wrapper(dir.buf, &script, &err) == 0, "wrapper written again (unchanged)");

	struct strbuf report = STRBUF_INIT, progress = STRBUF_INIT;
	strbuf_addf(&report, "%s/report", dir.buf);
	strbuf_addf(&progress, "%s/progress", dir.buf);
	char *argv[] = { "/bin/sh", script.buf, dir.buf, report.buf, progress.buf, "/bin/sh", "-c",
			 "pwd; printf '[%s]' \"$@\"; echo R >&4; echo P >&3", "sh", "a b", "",
			 "$HOME", "*", "it's", "q\"uote", "new\nline", "--opt=x;y", "\\back", NULL };
	char *env[] = { "PATH=/usr/bin:/bin", NULL };
	int st = slurm_run(argv, env, &out, &errout, &err);
	CHECK(st == 0, "wrapper: the command ran");
	struct strbuf want = STRBUF_INIT;
	strbuf_addf(&want, "%s\n[a b][][$HOME][*][it's][q\"uote][new\nline][--opt=x;y][\\back]", dir.buf);
	CHECK_STR(out.buf, want.buf, "wrapper: in its directory, every argument byte for byte");
	strbuf_reset(&out);
	CHECK(strbuf_read_file(&out, report.buf) == 0 && !strcmp(out.buf, "R\n"),
	      "wrapper: descriptor 4 is the report file");
	strbuf_reset(&out);
	CHECK(strbuf_read_file(&out, progress.buf) == 0 && !strcmp(out.buf, "P\n"),
	      "wrapper: descriptor 3 is the progress file");

	strbuf_reset(&out);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/missing", tmpdir);
	char *argv2[] = { "/bin/sh", script.buf, path.buf, report.buf, "", "/bin/echo", "ran", NULL };
	st = slurm_run(argv2, env, &out, &errout, &err);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == SLURM_WRAPPER_NO_DIR && out.len == 0,
	      "wrapper: a missing directory exits 97 and runs nothing");
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	strbuf_reset(&want);
	strbuf_addf(&want, "study: node %s: cannot enter %s: the store must be on a filesystem every node sees\n",
		    host, path.buf);
	CHECK_STR(errout.buf, want.buf, "wrapper: says which node and directory");
	strbuf_reset(&errout);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/missing/report", tmpdir);
	char *argv3[] = { "/bin/sh", script.buf, dir.buf, path.buf, "", "/bin/echo", "ran", NULL };
	st = slurm_run(argv3, env, &out, &errout, &err);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == SLURM_WRAPPER_NO_DIR && out.len == 0,
	      "wrapper: an unwritable report exits 97 and runs nothing");

	char *argv4[] = { "/bin/sh", "-c", "echo out; echo err >&2; exit 5", NULL };
	strbuf_reset(&out);
	strbuf_reset(&errout);
	st = slurm_run(argv4, NULL, &out, &errout, &err);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5 && !strcmp(out.buf, "out\n") &&
		      !strcmp(errout.buf, "err\n"), "slurm_run: status, stdout and stderr apart");
	char *argv5[] = { "/nonexistent/cmd", NULL };
	strbuf_reset(&err);
	CHECK(slurm_run(argv5, NULL, &out, &errout, &err) == -1, "slurm_run: a missing program fails");
	CHECK_STR(err.buf, "cannot run /nonexistent/cmd: No such file or directory",
		  "slurm_run: and says why");

	strbuf_release(&dir);
	strbuf_release(&script);
	strbuf_release(&err);
	strbuf_release(&out);
	strbuf_release(&errout);
	strbuf_release(&path);
	strbuf_release(&report);
	strbuf_release(&progress);
	strbuf_release(&want);
}

/* ---- against a live cluster ---- */

static struct slurm_job *find(struct slurm_job *jobs, size_t n, long id)
{
	for (size_t i = 0; i < n; i++)
		if (jobs[i].id == id)
			return &jobs[i];
	return NULL;
}

/* Poll (one squeue call per round) until every job is final; 60 s at most. */
static int wait_final(const long *ids, size_t n, struct slurm_job **jobs, size_t *njobs)
{
	struct strbuf err = STRBUF_INIT;
	for (int round = 0; round < 600; round++) {
		if (slurm_query(ids, n, jobs, njobs, &err) < 0) {
			printf("# squeue: %s\n", err.buf);
			strbuf_reset(&err);
		} else {
			size_t fin = 0;
			for (size_t i = 0; i < n; i++) {
				struct slurm_job *j = find(*jobs, *njobs, ids[i]);
				fin += j && slurm_state_final(j->state);
			}
			if (fin == n) {
				strbuf_release(&err);
				return 0;
			}
			slurm_jobs_free(*jobs, *njobs);
		}
		usleep(100000);
	}
	strbuf_release(&err);
	*jobs = NULL;
	*njobs = 0;
	return -1;
}

static void skip_live(const char *why)
{
	static const char *const what[] = {
		"live: submit with an explicit environment",
		"live: one squeue call reports every job",
		"live: argv and environment in the job",
		"live: exit status, signal, cancel",
		"live: scontrol and sacct -c agree with squeue",
	};
	for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++)
		printf("ok - %s # SKIP %s\n", what[i], why);
}

static void test_live(void)
{
	struct strbuf why = STRBUF_INIT;
	FILE *f = popen("sh tests/slurm/ensure.sh", "r");
	char line[512] = "";
	int st = -1;
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		st = pclose(f);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		line[strcspn(line, "\n")] = 0;
		skip_live(line[0] ? line : "no SLURM cluster (tests/slurm/ensure.sh failed)");
		return;
	}
	struct strbuf dir = STRBUF_INIT, script = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&dir, "%s/live", tmpdir);
	CHECK(slurm_write_wrapper(dir.buf, &script, &err) == 0, "live: wrapper");

	/* job 0: argv and environment; 1: exit 3; 2: killed by signal 9;
	 * 3: runs until cancelled; 4: its directory is missing */
	static const char *const cmds[][12] = {
		{ "/bin/sh", "-c", "printf '[%s]' \"$@\"; echo; /usr/bin/env | /usr/bin/sort", "sh",
		  "a b", "", "$HOME", "*", "new\nline", "--x=1;2", NULL },
		{ "/bin/sh", "-c", "exit 3", NULL },
		{ "/bin/sh", "-c", "kill -9 $$", NULL },
		{ "/bin/sleep", "300", NULL },
		{ "/bin/true", NULL },
	};
	enum { N = 5 };
	long ids[N];
	struct strbuf paths[N][3];
	char *env[] = { "PATH=/usr/bin:/bin", "STUDY_SEED=7", "HOME=/nonexistent-home", NULL };
	setenv("STUDY_TEST_SLURM_LEAK", "1", 1); /* must not reach the job */
	int submitted = 1;
	for (int i = 0; i < N; i++) {
		for (int k = 0; k < 3; k++)
			strbuf_init(&paths[i][k], 0);
		strbuf_addf(&paths[i][0], "%s/job%d%s", dir.buf, i, i == 4 ? "/missing" : "");
		strbuf_addf(&paths[i][1], "%s/job%d.out", dir.buf, i);
		strbuf_addf(&paths[i][2], "%s/job%d.report", dir.buf, i);
		if (i != 4)
			mkdir(paths[i][0].buf, 0755);
		struct slurm_job_spec s = { 0 };
		s.name = "test_slurm/job";
		s.workdir = paths[i][0].buf;
		s.stdout_path = s.stderr_path = paths[i][1].buf;
		s.report_path = paths[i][2].buf;
		s.script = script.buf;
		s.cpus = 1;
		s.mem_bytes = 64 << 20;
		s.time_s = 120;
		s.argv = (char *const *)cmds[i];
		strbuf_reset(&err);
		if (slurm_submit(&s, env, &ids[i], &err) < 0) {
			printf("# sbatch: %s\n", err.buf);
			submitted = 0;
		}
	}
	CHECK(submitted, "live: submit with an explicit environment");
	if (!submitted)
		goto out;

	/* the long job runs; cancel it once it does */
	struct slurm_job *jobs = NULL;
	size_t njobs = 0;
	for (int round = 0; round < 300; round++) {
		strbuf_reset(&err);
		if (slurm_query(&ids[3], 1, &jobs, &njobs, &err) == 0 && njobs == 1 &&
		    jobs[0].state == SLURM_RUNNING) {
			slurm_jobs_free(jobs, njobs);
			break;
		}
		slurm_jobs_free(jobs, njobs);
		usleep(100000);
	}
	strbuf_reset(&err);
	CHECK(slurm_cancel(&ids[3], 1, 0, &err) == 0, "live: scancel");
	CHECK(wait_final(ids, N, &jobs, &njobs) == 0 && njobs == N,
	      "live: one squeue call reports every job");
	if (njobs != N)
		goto out;

	struct strbuf got = STRBUF_INIT;
	strbuf_read_file(&got, paths[0][1].buf);
	const char *want_args = "[a b][][$HOME][*][new\nline][--x=1;2]\n";
	int args_ok = !strncmp(got.buf, want_args, strlen(want_args));
	int env_ok = strstr(got.buf, "\nSTUDY_SEED=7\n") && strstr(got.buf, "\nHOME=/nonexistent-home\n") &&
		     strstr(got.buf, "\nPATH=/usr/bin:/bin\n") && !strstr(got.buf, "STUDY_TEST_SLURM_LEAK") &&
		     strstr(got.buf, "\nSLURM_JOB_ID=");
	if (!args_ok || !env_ok)
		printf("# job output:\n%s\n", got.buf);
	CHECK(args_ok && env_ok, "live: argv and environment in the job");
	strbuf_release(&got);

	struct slurm_job *j1 = find(jobs, njobs, ids[1]), *j2 = find(jobs, njobs, ids[2]);
	struct slurm_job *j3 = find(jobs, njobs, ids[3]), *j0 = find(jobs, njobs, ids[0]);
	struct slurm_job *j4 = find(jobs, njobs, ids[4]);
	int ok = j0->state == SLURM_COMPLETED && slurm_describe(j0, &why) == 0;
	ok &= slurm_describe(j1, &why) == 1 && !strcmp(why.buf, "exit status 3");
	ok &= slurm_describe(j2, &why) == 1 && !strcmp(why.buf, "killed by signal 9 (Killed)");
	ok &= slurm_describe(j3, &why) == 1 && !strcmp(why.buf, "cancelled (SLURM: CANCELLED)");
	ok &= j4->state == SLURM_FAILED && j4->status_known &&
	      WEXITSTATUS(j4->status) == SLURM_WRAPPER_NO_DIR;
	if (!ok)
		for (size_t i = 0; i < njobs; i++)
			printf("# job %ld %s %s status %d\n", jobs[i].id, jobs[i].state_name,
			       jobs[i].reason, jobs[i].status);
	CHECK(ok, "live: exit status, signal, cancel");
	/* SLURM runs a job told to --chdir to a missing directory in /tmp; the
	 * wrapper refused to run the command there */
	struct strbuf out4 = STRBUF_INIT;
	strbuf_read_file(&out4, paths[4][1].buf);
	CHECK(strstr(out4.buf, "cannot enter") != NULL, "live: the wrapper refused a missing directory");
	strbuf_release(&out4);
	CHECK(!strcmp(j0->partition, "debug") || j0->partition[0], "live: partition reported");
	CHECK(j0->node[0] && j0->submit && j0->start >= j0->submit && j0->end >= j0->start,
	      "live: node and times reported");

	/* scontrol and the completion log agree with squeue */
	int agree = 1;
	for (int i = 0; i < N; i++) {
		struct strbuf cmd = STRBUF_INIT, o = STRBUF_INIT, e = STRBUF_INIT;
		char idbuf[32];
		snprintf(idbuf, sizeof(idbuf), "%ld", ids[i]);
		char *sargv[] = { "/usr/bin/scontrol", "show", "job", "-o", idbuf, NULL };
		struct slurm_job sj;
		slurm_job_init(&sj);
		struct slurm_job *qj = find(jobs, njobs, ids[i]);
		if (slurm_run(sargv, NULL, &o, &e, &err) != 0 || slurm_parse_scontrol(o.buf, &sj) < 0 ||
		    sj.state != qj->state || sj.status_known != qj->status_known ||
		    (sj.status_known && sj.status != qj->status)) {
			printf("# scontrol disagrees on job %ld: %s", ids[i], o.buf);
			agree = 0;
		}
		slurm_job_release(&sj);
		strbuf_release(&cmd);
		strbuf_release(&o);
		strbuf_release(&e);
	}
	struct slurm_job *cjobs = NULL;
	size_t ncjobs = 0;
	strbuf_reset(&err);
	if (slurm_query_completed(ids, N, &cjobs, &ncjobs, &err) < 0 || ncjobs != N) {
		printf("# sacct -c: %s (%zu jobs)\n", err.buf, ncjobs);
		agree = 0;
	}
	for (size_t i = 0; i < ncjobs; i++) {
		struct slurm_job *qj = find(jobs, njobs, cjobs[i].id);
		/* sacct -c records 0:0 for a cancelled job: trust its state only */
		if (!qj || qj->state != cjobs[i].state ||
		    (qj->state != SLURM_CANCELLED && cjobs[i].status != qj->status)) {
			printf("# sacct -c disagrees on job %ld\n", cjobs[i].id);
			agree = 0;
		}
	}
	slurm_jobs_free(cjobs, ncjobs);
	CHECK(agree, "live: scontrol and sacct -c agree with squeue");
	slurm_jobs_free(jobs, njobs);

	/* an unknown id alone (squeue then fails) and among known ones */
	long unknown[] = { 999999999, ids[0] };
	strbuf_reset(&err);
	CHECK(slurm_query(unknown, 1, &jobs, &njobs, &err) == 0 && njobs == 0,
	      "live: an unknown job id alone is an empty answer");
	slurm_jobs_free(jobs, njobs);
	CHECK(slurm_query(unknown, 2, &jobs, &njobs, &err) == 0 && njobs == 1 && jobs[0].id == ids[0],
	      "live: an unknown job id among known ones is left out");
	slurm_jobs_free(jobs, njobs);
	CHECK(slurm_cancel(unknown, 1, 0, &err) == 0, "live: cancelling a finished or unknown job is fine");

out:
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 3; k++)
			strbuf_release(&paths[i][k]);
	strbuf_release(&dir);
	strbuf_release(&script);
	strbuf_release(&err);
	strbuf_release(&why);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_numbers();
	test_sbatch_argv();
	test_states();
	test_parse();
	test_wrapper_here();
	test_live();
	struct strbuf err = STRBUF_INIT;
	remove_tree(tmpdir, &err);
	strbuf_release(&err);
	return check_done();
}
