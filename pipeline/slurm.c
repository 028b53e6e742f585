/*
 * slurm: SLURM command lines, output formats, the job wrapper and the state
 * reasons. See slurm.h for the contract and the reasons behind each choice.
 */
#include "slurm.h"
#include "fsutil.h"
#include "proc.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- sbatch ---------------------------------------------------------------- */

long slurm_time_minutes(double seconds)
{
	if (seconds <= 0)
		return 0;
	double m = seconds / 60.0;
	long whole = (long)m;
	return (double)whole < m ? whole + 1 : whole;
}

long long slurm_mem_mib(long long bytes)
{
	const long long mib = 1024 * 1024;
	return bytes <= 0 ? 0 : (bytes + mib - 1) / mib;
}

void slurm_job_name(const char *in, struct strbuf *out)
{
	for (const char *p = in && *in ? in : "study"; *p; p++) {
		unsigned char c = (unsigned char)*p;
		strbuf_addch(out, isalnum(c) || strchr("._/:+-", c) ? (char)c : '_');
	}
}

int slurm_sbatch_argv(const struct slurm_job_spec *s, const char *sbatch, struct strvec *out,
		      struct strbuf *err)
{
	if (!s->argv || !s->argv[0]) {
		strbuf_addstr(err, "no command to submit");
		return -1;
	}
	const char *logs[] = { s->stdout_path, s->stderr_path };
	for (size_t i = 0; i < 2; i++) {
		if (strchr(logs[i], '%')) {
			strbuf_addf(err, "cannot submit with log file '%s': SLURM expands '%%' in "
				    "log file names; use a store path without '%%'", logs[i]);
			return -1;
		}
	}
	struct strbuf name = STRBUF_INIT;
	slurm_job_name(s->name, &name);
	strvec_push(out, sbatch);
	strvec_push(out, "--parsable");
	strvec_push(out, "--export=ALL");
	strvec_push(out, "--no-requeue");
	strvec_push(out, "--open-mode=truncate");
	strvec_pushf(out, "--job-name=%s", name.buf);
	strvec_pushf(out, "--chdir=%s", s->workdir);
	strvec_pushf(out, "--output=%s", s->stdout_path);
	strvec_pushf(out, "--error=%s", s->stderr_path);
	if (s->cpus > 0)
		strvec_pushf(out, "--cpus-per-task=%d", s->cpus);
	if (s->mem_bytes > 0)
		strvec_pushf(out, "--mem=%lldM", slurm_mem_mib(s->mem_bytes));
	if (s->gpus > 0)
		strvec_pushf(out, "--gres=gpu:%d", s->gpus);
	if (s->time_s > 0)
		strvec_pushf(out, "--time=%ld", slurm_time_minutes(s->time_s));
	if (s->partition && *s->partition)
		strvec_pushf(out, "--partition=%s", s->partition);
	if (s->account && *s->account)
		strvec_pushf(out, "--account=%s", s->account);
	for (char *const *o = s->opts; o && *o; o++)
		strvec_push(out, *o);
	strvec_push(out, s->script);
	strvec_push(out, s->workdir);
	strvec_push(out, s->report_path);
	strvec_push(out, s->progress_path ? s->progress_path : "");
	for (char *const *a = s->argv; *a; a++)
		strvec_push(out, *a);
	strbuf_release(&name);
	return 0;
}

/* Everything between the arguments and the exec is checked: a node that does
 * not see the store must fail loudly, never run the command elsewhere. `true
 * >FILE` rather than `exec 4>FILE` first: a failed redirection of the special
 * builtin exec would end the shell before the message. */
static const char wrapper[] =
	"#!/bin/sh\n"
	"# study: the exec wrapper of a SLURM job (written by bin/study, pipeline/slurm.c).\n"
	"# Usage: slurm-job.sh WORKDIR REPORT PROGRESS PROGRAM ARG...\n"
	"# Enters WORKDIR, opens REPORT as descriptor 4 and PROGRESS (unless empty)\n"
	"# as descriptor 3, then executes PROGRAM with its arguments untouched.\n"
	"no_store() {\n"
	"\techo \"study: node $(hostname): cannot $1: the store must be on a filesystem every node sees\" >&2\n"
	"\texit 97\n"
	"}\n"
	"cd \"$1\" 2>/dev/null || no_store \"enter $1\"\n"
	"true >\"$2\" 2>/dev/null || no_store \"write $2\"\n"
	"exec 4>>\"$2\"\n"
	"if [ -n \"$3\" ]; then\n"
	"\ttrue >>\"$3\" 2>/dev/null || no_store \"write $3\"\n"
	"\texec 3>>\"$3\"\n"
	"fi\n"
	"shift 3\n"
	"exec \"$@\"\n";

const char *slurm_wrapper_text(void)
{
	return wrapper;
}

int slurm_write_wrapper(const char *dir, struct strbuf *path, struct strbuf *err)
{
	strbuf_reset(path);
	strbuf_addf(path, "%s/slurm-job.sh", dir);
	struct strbuf have = STRBUF_INIT;
	int same = strbuf_read_file(&have, path->buf) == 0 && !strcmp(have.buf, wrapper);
	strbuf_release(&have);
	if (same)
		return 0;
	if (mkdir_p(dir, 0755, err) < 0)
		return -1;
	return write_file_atomic(path->buf, wrapper, sizeof(wrapper) - 1, 0755, err);
}

/* ---- states ------------------------------------------------------------------ */

static const struct {
	const char *name;
	enum slurm_state state;
} states[] = {
	{ "PENDING", SLURM_PENDING },         { "CONFIGURING", SLURM_PENDING },
	{ "REQUEUED", SLURM_PENDING },        { "REQUEUE_HOLD", SLURM_PENDING },
	{ "REQUEUE_FED", SLURM_PENDING },     { "RESV_DEL_HOLD", SLURM_PENDING },
	{ "RUNNING", SLURM_RUNNING },         { "RESIZING", SLURM_RUNNING },
	{ "SIGNALING", SLURM_RUNNING },       { "STAGE_OUT", SLURM_COMPLETING },
	{ "SUSPENDED", SLURM_SUSPENDED },     { "STOPPED", SLURM_SUSPENDED },
	{ "COMPLETING", SLURM_COMPLETING },   { "COMPLETED", SLURM_COMPLETED },
	{ "FAILED", SLURM_FAILED },           { "SPECIAL_EXIT", SLURM_FAILED },
	{ "TIMEOUT", SLURM_TIMEOUT },         { "CANCELLED", SLURM_CANCELLED },
	{ "REVOKED", SLURM_CANCELLED },       { "NODE_FAIL", SLURM_NODE_FAIL },
	{ "PREEMPTED", SLURM_PREEMPTED },     { "OUT_OF_MEMORY", SLURM_OUT_OF_MEMORY },
	{ "BOOT_FAIL", SLURM_BOOT_FAIL },     { "DEADLINE", SLURM_DEADLINE },
};

enum slurm_state slurm_state_parse(const char *name)
{
	size_t len = strcspn(name, " +");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strlen(states[i].name) == len && !strncmp(states[i].name, name, len))
			return states[i].state;
	return SLURM_UNKNOWN;
}

const char *slurm_state_name(enum slurm_state s)
{
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (states[i].state == s)
			return states[i].name;
	return "UNKNOWN";
}

int slurm_state_final(enum slurm_state s)
{
	return s >= SLURM_COMPLETED;
}

/* ---- parsing ---------------------------------------------------------------- */

void slurm_job_init(struct slurm_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = -1;
	j->state_name = xstrdup("");
	j->reason = xstrdup("");
	j->node = xstrdup("");
	j->partition = xstrdup("");
	j->name = xstrdup("");
}

void slurm_job_release(struct slurm_job *j)
{
	free(j->state_name);
	free(j->reason);
	free(j->node);
	free(j->partition);
	free(j->name);
	memset(j, 0, sizeof(*j));
	j->id = -1;
}

static void set_str(char **dst, const char *s, size_t len)
{
	free(*dst);
	/* SLURM's ways of saying "nothing" */
	if ((len == 6 && !strncmp(s, "(null)", 6)) || (len == 3 && !strncmp(s, "N/A", 3)))
		len = 0;
	*dst = xstrndup(s, len);
}

static int parse_id(const char *s, size_t len, long *id)
{
	if (!len || len > 18)
		return -1;
	long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*id = v;
	return 0;
}

long slurm_parse_parsable(const char *out)
{
	long id;
	size_t len = strcspn(out, ";\n");
	return parse_id(out, len, &id) < 0 ? -1 : id;
}

int slurm_parse_exitcode(const char *s, int *status)
{
	int e, sig, n = 0;
	if (sscanf(s, "%d:%d%n", &e, &sig, &n) != 2 || s[n] || e < 0 || e > 255 || sig < 0 ||
	    sig > 127)
		return -1;
	*status = sig ? sig : e << 8;
	return 0;
}

time_t slurm_parse_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || *end)
		return 0;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	return t == (time_t)-1 ? 0 : t;
}

static void set_state(struct slurm_job *j, const char *s, size_t len)
{
	set_str(&j->state_name, s, len);
	j->state = slurm_state_parse(j->state_name);
}

/* Split `line` at `sep` into at most `max` fields (pointers and lengths);
 * the last field takes the rest of the line. Returns the count. */
static size_t split(const char *line, char sep, const char **f, size_t *len, size_t max)
{
	size_t n = 0;
	const char *p = line;
	while (n < max) {
		const char *q = n + 1 < max ? strchr(p, sep) : NULL;
		f[n] = p;
		if (!q) {
			len[n++] = strcspn(p, "\n");
			break;
		}
		len[n++] = (size_t)(q - p);
		p = q + 1;
	}
	return n;
}

int slurm_parse_squeue(const char *line, struct slurm_job *j)
{
	const char *f[10];
	size_t len[10];
	if (split(line, '|', f, len, 10) != 10)
		return -1;
	/* the name is the last field, followed by its own '|' */
	if (!len[9] || f[9][len[9] - 1] != '|')
		return -1;
	len[9]--;
	if (parse_id(f[0], len[0], &j->id) < 0)
		return -1;
	set_state(j, f[1], len[1]);
	set_str(&j->reason, f[2], len[2]);
	char num[24];
	if (!len[3] || len[3] >= sizeof(num))
		return -1;
	memcpy(num, f[3], len[3]);
	num[len[3]] = 0;
	char *end;
	long st = strtol(num, &end, 10);
	if (*end || st < 0)
		return -1;
	j->status = (int)st;
	j->status_known = slurm_state_final(j->state);
	set_str(&j->node, f[4], len[4]);
	set_str(&j->partition, f[5], len[5]);
	char tbuf[3][40];
	for (int k = 0; k < 3; k++) {
		size_t l = len[6 + k] < sizeof(tbuf[k]) ? len[6 + k] : sizeof(tbuf[k]) - 1;
		memcpy(tbuf[k], f[6 + k], l);
		tbuf[k][l] = 0;
	}
	j->submit = slurm_parse_time(tbuf[0]);
	j->start = slurm_parse_time(tbuf[1]);
	j->end = slurm_parse_time(tbuf[2]);
	set_str(&j->name, f[9], len[9]);
	return 0;
}

/* The value of KEY= in an `scontrol -o` line (up to the next space). */
static int kv(const char *line, const char *key, const char **v, size_t *len)
{
	size_t kl = strlen(key);
	for (const char *p = line; (p = strstr(p, key)); p += kl) {
		if ((p == line || p[-1] == ' ') && p[kl] == '=') {
			*v = p + kl + 1;
			*len = strcspn(*v, " \n");
			return 0;
		}
	}
	return -1;
}

int slurm_parse_scontrol(const char *line, struct slurm_job *j)
{
	const char *v;
	size_t len;
	char buf[40];
	if (kv(line, "JobId", &v, &len) < 0 || parse_id(v, len, &j->id) < 0)
		return -1;
	if (kv(line, "JobState", &v, &len) < 0)
		return -1;
	set_state(j, v, len);
	if (!kv(line, "Reason", &v, &len))
		set_str(&j->reason, v, len);
	if (!kv(line, "JobName", &v, &len))
		set_str(&j->name, v, len);
	if (!kv(line, "Partition", &v, &len))
		set_str(&j->partition, v, len);
	if (!kv(line, "NodeList", &v, &len))
		set_str(&j->node, v, len);
	if (!kv(line, "ExitCode", &v, &len) && len < sizeof(buf)) {
		memcpy(buf, v, len);
		buf[len] = 0;
		j->status_known = slurm_state_final(j->state) && !slurm_parse_exitcode(buf, &j->status);
	}
	static const char *const tkeys[] = { "SubmitTime", "StartTime", "EndTime" };
	time_t *tvals[] = { &j->submit, &j->start, &j->end };
	for (int k = 0; k < 3; k++) {
		if (kv(line, tkeys[k], &v, &len) || len >= sizeof(buf))
			continue;
		memcpy(buf, v, len);
		buf[len] = 0;
		*tvals[k] = slurm_parse_time(buf);
	}
	return 0;
}

int slurm_parse_sacct(const char *line, struct slurm_job *j)
{
	const char *f[8];
	size_t len[8];
	char buf[40];
	if (split(line, '|', f, len, 8) != 8)
		return -1;
	if (parse_id(f[0], len[0], &j->id) < 0)
		return -1;
	set_state(j, f[1], len[1]);
	/* sacct -c writes "CANCELLED by 0": the state is the first word */
	j->state_name[strcspn(j->state_name, " ")] = 0;
	if (len[2] < sizeof(buf)) {
		memcpy(buf, f[2], len[2]);
		buf[len[2]] = 0;
		j->status_known = slurm_state_final(j->state) && !slurm_parse_exitcode(buf, &j->status);
	}
	set_str(&j->node, f[3], len[3]);
	set_str(&j->partition, f[4], len[4]);
	time_t *tvals[] = { &j->start, &j->end };
	for (int k = 0; k < 2; k++) {
		size_t l = len[5 + k] < sizeof(buf) ? len[5 + k] : sizeof(buf) - 1;
		memcpy(buf, f[5 + k], l);
		buf[l] = 0;
		*tvals[k] = slurm_parse_time(buf);
	}
	set_str(&j->name, f[7], len[7]);
	return 0;
}

/* ---- reasons ---------------------------------------------------------------- */

int slurm_describe(const struct slurm_job *j, struct strbuf *why)
{
	strbuf_reset(why);
	const char *what = NULL;
	switch (j->state) {
	case SLURM_COMPLETED:
		if (!j->status_known || j->status == 0)
			return 0;
		break;
	case SLURM_TIMEOUT: what = "over time limit"; break;
	case SLURM_OUT_OF_MEMORY: what = "over memory limit"; break;
	case SLURM_CANCELLED: what = "cancelled"; break;
	case SLURM_NODE_FAIL: what = "node failure"; break;
	case SLURM_PREEMPTED: what = "preempted"; break;
	case SLURM_BOOT_FAIL: what = "node boot failure"; break;
	case SLURM_DEADLINE: what = "past its deadline"; break;
	default: break;
	}
	if (what) {
		strbuf_addf(why, "%s (SLURM: %s)", what, slurm_state_name(j->state));
		return 1;
	}
	if (j->status_known && WIFSIGNALED(j->status))
		strbuf_addf(why, "killed by signal %d (%s)", WTERMSIG(j->status),
			    strsignal(WTERMSIG(j->status)));
	else if (j->status_known && WIFEXITED(j->status) && WEXITSTATUS(j->status))
		strbuf_addf(why, "exit status %d", WEXITSTATUS(j->status));
	else
		strbuf_addf(why, "failed (SLURM: %s, %s)", j->state_name[0] ? j->state_name : "?",
			    j->reason[0] ? j->reason : "no reason given");
	return 1;
}

/* ---- running the commands ----------------------------------------------------- */

int slurm_run(char *const *argv, char *const *envp, struct strbuf *out, struct strbuf *errout,
	      struct strbuf *err)
{
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		strbuf_addf(err, "cannot run %s: %s", argv[0], strerror(errno));
		if (po[0] >= 0) {
			close(po[0]);
			close(po[1]);
		}
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawnattr_init(&at);
	/* its own process group: a Ctrl-C meant for the orchestrator must not
	 * kill an scancel it started; no signal blocked, none handled */
	sigset_t none, def;
	sigemptyset(&none);
	sigfillset(&def);
	sigdelset(&def, SIGKILL);
	sigdelset(&def, SIGSTOP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				      POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, &at, argv, envp ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(po[1]);
	close(pe[1]);
	if (rc) {
		strbuf_addf(err, "cannot run %s: %s", argv[0], strerror(rc));
		close(po[0]);
		close(pe[0]);
		return -1;
	}
	struct pollfd pfd[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
	struct strbuf *dst[2] = { out, errout };
	int open_nr = 2;
	while (open_nr) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int k = 0; k < 2; k++) {
			if (pfd[k].fd < 0 || !pfd[k].revents)
				continue;
			char buf[4096];
			ssize_t n = read(pfd[k].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(pfd[k].fd);
				pfd[k].fd = -1;
				open_nr--;
				continue;
			}
			strbuf_add(dst[k], buf, (size_t)n);
		}
	}
	for (int k = 0; k < 2; k++)
		if (pfd[k].fd >= 0)
			close(pfd[k].fd);
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			strbuf_addf(err, "cannot wait for %s: %s", argv[0], strerror(errno));
			return -1;
		}
	}
	return status;
}

char *slurm_find(const char *name, struct strbuf *err)
{
	const char *path = getenv("PATH");
	char *p = find_in_path(name, path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!p)
		strbuf_addf(err, "cannot find %s in PATH: is SLURM installed here?", name);
	return p;
}

/* "CMD failed: its first line of stderr" (or its exit status). */
static void command_failed(const char *cmd, int status, const struct strbuf *errout,
			   struct strbuf *err)
{
	size_t len = strcspn(errout->buf, "\n");
	if (len)
		strbuf_addf(err, "%s failed: %.*s", cmd, (int)len, errout->buf);
	else if (WIFEXITED(status))
		strbuf_addf(err, "%s failed with exit status %d", cmd, WEXITSTATUS(status));
	else
		strbuf_addf(err, "%s was killed by signal %d", cmd, WTERMSIG(status));
}

int slurm_submit(const struct slurm_job_spec *spec, char *const *envp, long *id,
		 struct strbuf *err)
{
	char *sbatch = slurm_find("sbatch", err);
	if (!sbatch)
		return -1;
	struct strvec argv = STRVEC_INIT;
	struct strbuf out = STRBUF_INIT, errout = STRBUF_INIT;
	int rc = slurm_sbatch_argv(spec, sbatch, &argv, err);
	if (!rc) {
		int st = slurm_run(argv.v, envp, &out, &errout, err);
		if (st < 0) {
			rc = -1;
		} else if (st != 0) {
			command_failed("sbatch", st, &errout, err);
			rc = -1;
		} else if ((*id = slurm_parse_parsable(out.buf)) < 0) {
			strbuf_addf(err, "sbatch printed no job id: '%.*s'",
				    (int)strcspn(out.buf, "\n"), out.buf);
			rc = -1;
		}
	}
	free(sbatch);
	strvec_clear(&argv);
	strbuf_release(&out);
	strbuf_release(&errout);
	return rc;
}

void slurm_jobs_free(struct slurm_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		slurm_job_release(&jobs[i]);
	free(jobs);
}

/* Ids as "1,2,3". */
static void id_list(const long *ids, size_t n, struct strbuf *sb)
{
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sb, "%s%ld", i ? "," : "", ids[i]);
}

typedef int (*line_parser)(const char *line, struct slurm_job *j);

/* Run argv and parse each stdout line with parse into *jobs (appending).
 * A failure whose stderr says the ids are unknown is an empty answer. */
static int query(const char *cmd, char *const *argv, line_parser parse, struct slurm_job **jobs,
		 size_t *njobs, size_t *alloc, struct strbuf *err)
{
	struct strbuf out = STRBUF_INIT, errout = STRBUF_INIT;
	int st = slurm_run(argv, NULL, &out, &errout, err), rc = 0;
	if (st < 0) {
		rc = -1;
	} else if (st != 0 && !strstr(errout.buf, "Invalid job id")) {
		command_failed(cmd, st, &errout, err);
		rc = -1;
	} else {
		for (char *line = out.buf; *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = 0;
			if (*line) {
				XGROW(*jobs, *alloc, *njobs + 1);
				struct slurm_job *j = &(*jobs)[*njobs];
				slurm_job_init(j);
				if (parse(line, j) < 0) {
					slurm_job_release(j);
				} else {
					/* the last record of an id wins */
					size_t k = 0;
					while (k < *njobs && (*jobs)[k].id != j->id)
						k++;
					if (k < *njobs) {
						slurm_job_release(&(*jobs)[k]);
						(*jobs)[k] = *j;
					} else {
						(*njobs)++;
					}
				}
			}
			if (!nl)
				break;
			line = nl + 1;
		}
	}
	strbuf_release(&out);
	strbuf_release(&errout);
	return rc;
}

/* ids per command line: keeps argv far below ARG_MAX */
#define IDS_PER_CALL 2000

static int query_all(const char *cmd, int completed, const long *ids, size_t n,
		     struct slurm_job **jobs, size_t *njobs, struct strbuf *err)
{
	*jobs = NULL;
	*njobs = 0;
	size_t alloc = 0;
	char *path = slurm_find(cmd, err);
	if (!path)
		return -1;
	int rc = 0;
	for (size_t at = 0; at < n && !rc; at += IDS_PER_CALL) {
		size_t k = n - at < IDS_PER_CALL ? n - at : IDS_PER_CALL;
		struct strbuf list = STRBUF_INIT;
		id_list(ids + at, k, &list);
		struct strvec argv = STRVEC_INIT;
		strvec_push(&argv, path);
		if (completed) {
			strvec_push(&argv, "-c");
			strvec_push(&argv, "-n");
			strvec_push(&argv, "-P");
			strvec_push(&argv, "-o");
			strvec_push(&argv, SLURM_SACCT_FORMAT);
		} else {
			strvec_push(&argv, "-h");
			strvec_push(&argv, "-t");
			strvec_push(&argv, "all");
			strvec_push(&argv, "-O");
			strvec_push(&argv, SLURM_SQUEUE_FORMAT);
		}
		strvec_push(&argv, "-j");
		strvec_push(&argv, list.buf);
		rc = query(cmd, argv.v, completed ? slurm_parse_sacct : slurm_parse_squeue, jobs,
			   njobs, &alloc, err);
		strvec_clear(&argv);
		strbuf_release(&list);
	}
	free(path);
	if (rc) {
		slurm_jobs_free(*jobs, *njobs);
		*jobs = NULL;
		*njobs = 0;
	}
	return rc;
}

int slurm_query(const long *ids, size_t n, struct slurm_job **jobs, size_t *njobs,
		struct strbuf *err)
{
	return query_all("squeue", 0, ids, n, jobs, njobs, err);
}

int slurm_query_completed(const long *ids, size_t n, struct slurm_job **jobs, size_t *njobs,
			  struct strbuf *err)
{
	return query_all("sacct", 1, ids, n, jobs, njobs, err);
}

int slurm_cancel(const long *ids, size_t n, int term_only, struct strbuf *err)
{
	if (!n)
		return 0;
	char *path = slurm_find("scancel", err);
	if (!path)
		return -1;
	struct strvec argv = STRVEC_INIT;
	strvec_push(&argv, path);
	if (term_only) {
		strvec_push(&argv, "--signal=TERM");
		strvec_push(&argv, "--full");
	}
	for (size_t i = 0; i < n; i++)
		strvec_pushf(&argv, "%ld", ids[i]);
	struct strbuf out = STRBUF_INIT, errout = STRBUF_INIT;
	int st = slurm_run(argv.v, NULL, &out, &errout, err), rc = 0;
	/* scancel says "Invalid job id specified" or "...already completing or
	 * completed" (and fails) for jobs already gone */
	if (st < 0) {
		rc = -1;
	} else if (st != 0 && !strstr(errout.buf, "Invalid job id") &&
		   !strstr(errout.buf, "already completing or completed")) {
		command_failed("scancel", st, &errout, err);
		rc = -1;
	}
	free(path);
	strvec_clear(&argv);
	strbuf_release(&out);
	strbuf_release(&errout);
	return rc;
}

int slurm_active_by_comment(const char *prefix, struct strvec *ids, struct strbuf *err)
{
	char *path = slurm_find("squeue", err);
	if (!path)
		return -1;
	char uid[32];
	snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
	char *argv[] = { path, "-h", "-u", uid, "-t", "PENDING,RUNNING,SUSPENDED,COMPLETING,CONFIGURING",
			 "-O", "JobID:|,Comment:|", NULL };
	struct strbuf out = STRBUF_INIT, errout = STRBUF_INIT;
	int st = slurm_run(argv, NULL, &out, &errout, err), rc = 0;
	if (st < 0) {
		rc = -1;
	} else if (st != 0) {
		command_failed("squeue", st, &errout, err);
		rc = -1;
	} else {
		size_t plen = strlen(prefix);
		for (char *line = out.buf; *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = 0;
			char *bar = strchr(line, '|');
			if (bar && !strncmp(bar + 1, prefix, plen)) {
				*bar = 0;
				long id;
				if (parse_id(line, strlen(line), &id) == 0)
					strvec_push(ids, line);
			}
			if (!nl)
				break;
			line = nl + 1;
		}
	}
	free(path);
	strbuf_release(&out);
	strbuf_release(&errout);
	return rc;
}

int slurm_gres_gpus(const char *gres)
{
	int total = 0;
	for (const char *p = gres; p && *p;) {
		size_t len = strcspn(p, ",");
		if (len > 4 && !strncmp(p, "gpu:", 4)) {
			/* gpu:N or gpu:TYPE:N, then maybe "(S:0-1)" */
			const char *end = p + len, *paren = memchr(p, '(', len);
			if (paren)
				end = paren;
			const char *colon = end;
			while (colon > p && colon[-1] != ':')
				colon--;
			long v = 0;
			const char *q = colon;
			while (q < end && isdigit((unsigned char)*q))
				v = v * 10 + (*q++ - '0');
			if (q == end && q > colon && v < 100000)
				total += (int)v;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return total;
}

void slurm_nodes_free(struct slurm_node *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(nodes[i].name);
		free(nodes[i].partition);
	}
	free(nodes);
}

int slurm_nodes(const char *partition, struct slurm_node **nodes, size_t *n, struct strbuf *err)
{
	*nodes = NULL;
	*n = 0;
	char *path = slurm_find("sinfo", err);
	if (!path)
		return -1;
	struct strvec argv = STRVEC_INIT;
	strvec_push(&argv, path);
	strvec_push(&argv, "-h");
	strvec_push(&argv, "-N");
	strvec_push(&argv, "-o");
	strvec_push(&argv, "%N|%c|%m|%G|%P");
	if (partition) {
		strvec_push(&argv, "-p");
		strvec_push(&argv, partition);
	}
	struct strbuf out = STRBUF_INIT, errout = STRBUF_INIT;
	int st = slurm_run(argv.v, NULL, &out, &errout, err), rc = 0;
	size_t alloc = 0, ndef = 0;
	if (st < 0) {
		rc = -1;
	} else if (st != 0) {
		command_failed("sinfo", st, &errout, err);
		rc = -1;
	} else {
		for (char *line = out.buf; *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = 0;
			const char *f[5];
			size_t len[5];
			if (split(line, '|', f, len, 5) == 5) {
				XGROW(*nodes, alloc, *n + 1);
				struct slurm_node *nd = &(*nodes)[*n];
				int def = len[4] && f[4][len[4] - 1] == '*';
				nd->name = xstrndup(f[0], len[0]);
				nd->partition = xstrndup(f[4], len[4] - (size_t)def);
				nd->cpus = atoi(f[1]);
				nd->mem_mib = atoll(f[2]);
				char *gres = xstrndup(f[3], len[3]);
				nd->gpus = slurm_gres_gpus(gres);
				free(gres);
				/* the default partition's nodes first */
				if (def && !partition) {
					struct slurm_node tmp = (*nodes)[ndef];
					(*nodes)[ndef] = *nd;
					*nd = tmp;
					ndef++;
				}
				(*n)++;
			}
			if (!nl)
				break;
			line = nl + 1;
		}
		if (!partition && ndef) {
			for (size_t i = ndef; i < *n; i++) {
				free((*nodes)[i].name);
				free((*nodes)[i].partition);
			}
			*n = ndef;
		}
	}
	free(path);
	strvec_clear(&argv);
	strbuf_release(&out);
	strbuf_release(&errout);
	if (rc) {
		slurm_nodes_free(*nodes, *n);
		*nodes = NULL;
		*n = 0;
	}
	return rc;
}

int slurm_check_opt(const char *opt, struct strbuf *err)
{
	static const struct {
		const char *name, *why;
	} ours[] = {
		{ "--output", "each stage's own log" },   { "-o", "each stage's own log" },
		{ "--error", "each stage's own log" },    { "-e", "each stage's own log" },
		{ "--input", "stdin is /dev/null" },      { "-i", "stdin is /dev/null" },
		{ "--chdir", "the stage's working directory" }, { "-D", "the stage's working directory" },
		{ "--export", "the stage's environment" }, { "--export-file", "the stage's environment" },
		{ "--get-user-env", "the stage's environment" },
		{ "--job-name", "the stage's id" },       { "-J", "the stage's id" },
		{ "--comment", "the note that finds a killed run's jobs" },
		{ "--parsable", "reading the job id" },   { "--wrap", "the stage's argv" },
		{ "--open-mode", "each stage's own log" },
		{ "--requeue", "a stage never runs twice at once" },
		{ "--array", "one job per stage" },       { "-a", "one job per stage" },
		{ "--wait", "waiting for the jobs" },     { "-W", "waiting for the jobs" },
		{ "--test-only", "submitting the jobs" },
	};
	if (opt[0] != '-') {
		strbuf_addf(err, "SLURM option '%s' must start with '-' (one sbatch option, e.g."
				 " --qos=low)", opt);
		return -1;
	}
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		size_t len = strlen(ours[i].name);
		int is_long = ours[i].name[1] == '-';
		if (strncmp(opt, ours[i].name, len) ||
		    (opt[len] && !(is_long ? opt[len] == '=' : 1)))
			continue;
		if (!is_long && opt[len] && opt[1] != ours[i].name[1])
			continue;
		strbuf_addf(err, "SLURM option '%s': the executor sets %s itself (%s)", opt,
			    ours[i].name, ours[i].why);
		return -1;
	}
	return 0;
}
