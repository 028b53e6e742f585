/*
 * cmd_run: `study run STUDY.yaml` — load, expand, lock the store, record
 * the run (git state included), execute what is stale, summarise.
 *
 * The git state is read in a thread started first thing: libgit2's start-up
 * (Debian's build parses the system CA bundle) and the status walk cost
 * 10-20 ms, as much as a whole no-op rerun of a small study. The thread only
 * calls libgit2. The run row is written without it; it is joined and its
 * result recorded (prov_run_set_git) just before the first stage starts,
 * or at the end of a run that started none. So a stage never runs before
 * the state it ran from is on record; only a run killed by SIGKILL before
 * starting any stage can be left without it.
 */
#include "cli.h"
#include "exec_slurm.h"
#include "executor.h"
#include "extinput.h"
#include "gitinfo.h"
#include "pgroup.h"
#include "plan.h"
#include "prov.h"
#include "prov_query.h"
#include "proc.h"
#include "runner.h"
#include "select.h"
#include "slurm.h"
#include "store.h"
#include "study.h"
#include "xalloc.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char run_usage[] =
	"usage: study run STUDY.yaml [TARGET...] [options]\n"
	"\n"
	"Runs every stage of the study whose cache key changed; the rest comes\n"
	"from the store. With TARGETs, only the stages they match and what those\n"
	"need (their dependencies, transitively). A target is a stage id or a glob\n"
	"in which '*' also matches '/': model/m1, 'eval/refusal/*', '*/m3/*'.\n"
	"Ends with 'run R: ran N, cached M, failed F', followed by ', interrupted I',\n"
	"', skipped S', ', not started T', ', not selected U' when not zero: the\n"
	"counts add up to the stages of the study.\n"
	"\n"
	"options:\n"
	"  -j, --jobs N        cpu slots to fill at once (default: number of CPUs);\n"
	"                      a stage takes resources.cpus slots\n"
	"      --mem-limit SIZE\n"
	"                      memory the running stages share (their resources.mem\n"
	"                      add up to at most this; default: the machine's memory),\n"
	"                      e.g. 512M, 16G\n"
	"      --gpus N        GPU slots to hand out, 0 to 64, named 0..N-1 in each\n"
	"                      stage's CUDA_VISIBLE_DEVICES (default: the visible GPUs)\n"
	"      --executor NAME local (processes on this machine, the default) or slurm\n"
	"                      (one batch job per stage; docs/cluster.md); the study\n"
	"                      file's executor: block says the same\n"
	"      --partition P   slurm: the partition to submit to\n"
	"      --account A     slurm: the account to charge\n"
	"      --slurm-opt ARG slurm: one more sbatch option, e.g. --slurm-opt=--qos=low;\n"
	"                      repeatable\n"
	"  -k, --keep-going    after a failure, run everything not downstream of it\n"
	"  -n, --dry-run       show what would run; execute and record nothing\n"
	"      --force PATTERN rerun the stages PATTERN matches (an id or a glob, as\n"
	"                      targets) even when cached; repeatable. The new output\n"
	"                      replaces the cached one only if the stage succeeds\n"
	"      --force-downstream\n"
	"                      also rerun every selected stage downstream of a forced one\n"
	"      --retries N     run a stage that fails (exit status, signal, time limit)\n"
	"                      up to N more times, 0 to 100 (default 0), unless its\n"
	"                      resources.retries says otherwise\n"
	"      --store DIR     the artifact store (default: $STUDY_STORE, else <study root>/artifacts)\n"
	"      --no-wait       fail at once if another run holds the store\n"
	"      --require-clean refuse to run unless the study's git work tree is clean\n"
	"                      (auditors' mode: every run is exactly a commit)\n"
	"      --json          print the summary as a JSON object\n"
	"  -v, --verbose       also list cached and skipped stages, and what each\n"
	"                      external input (inputs:) had to hash\n"
	"  -h, --help          show this help\n"
	"\n"
	"exit status: 0 all stages ok, 1 a stage failed, 2 bad usage or bad study file,\n"
	"128+N interrupted by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP)\n";

struct run_args {
	const char *study_path;
	const char *store_dir;
	int jobs, keep_going, dry_run, json, verbose, no_wait;
	int require_clean;
	struct select_spec sel; /* targets and --force patterns (argv's strings) */
	char **force;           /* owned array behind sel.force */
	int retries;
	long long mem_limit;    /* --mem-limit in bytes; 0: none */
	int gpus;               /* --gpus N; -1: the visible GPUs */
	int jobs_given;         /* -j was given */
	const char *executor;   /* --executor; NULL: the study file's, else local */
	const char *partition, *account; /* --partition, --account */
	char **slurm_opts;      /* --slurm-opt, owned array of argv's strings */
	size_t slurm_opts_nr;
};

static int parse_args(int argc, char **argv, struct run_args *a)
{
	enum { OPT_STORE = 256, OPT_JSON, OPT_NO_WAIT, OPT_REQUIRE_CLEAN, OPT_FORCE,
	       OPT_FORCE_DOWNSTREAM, OPT_RETRIES, OPT_MEM_LIMIT, OPT_GPUS, OPT_EXECUTOR,
	       OPT_PARTITION, OPT_ACCOUNT, OPT_SLURM_OPT };
	static const struct option opts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
		{ "require-clean", no_argument, NULL, OPT_REQUIRE_CLEAN },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "force", required_argument, NULL, OPT_FORCE },
		{ "force-downstream", no_argument, NULL, OPT_FORCE_DOWNSTREAM },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "mem-limit", required_argument, NULL, OPT_MEM_LIMIT },
		{ "gpus", required_argument, NULL, OPT_GPUS },
		{ "executor", required_argument, NULL, OPT_EXECUTOR },
		{ "partition", required_argument, NULL, OPT_PARTITION },
		{ "account", required_argument, NULL, OPT_ACCOUNT },
		{ "slurm-opt", required_argument, NULL, OPT_SLURM_OPT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	memset(a, 0, sizeof(*a));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	a->jobs = ncpu > 0 ? (int)ncpu : 1;
	a->gpus = -1;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "j:knvh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': {
			long long v;
			if (cli_parse_count(optarg, 4096, &v) < 0) {
				cli_error("-j wants a number from 1 to 4096, not '%s'", optarg);
				return -1;
			}
			a->jobs = (int)v;
			a->jobs_given = 1;
			break;
		}
		case 'k': a->keep_going = 1; break;
		case 'n': a->dry_run = 1; break;
		case 'v': a->verbose = 1; break;
		case OPT_STORE: a->store_dir = optarg; break;
		case OPT_NO_WAIT: a->no_wait = 1; break;
		case OPT_REQUIRE_CLEAN: a->require_clean = 1; break;
		case OPT_JSON: a->json = 1; break;
		case OPT_FORCE:
			a->force = xrealloc(a->force, (a->sel.force_nr + 1) * sizeof(*a->force));
			a->force[a->sel.force_nr++] = optarg;
			break;
		case OPT_FORCE_DOWNSTREAM: a->sel.force_downstream = 1; break;
		case OPT_RETRIES: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (!*optarg || *end || v < 0 || v > 100 || optarg[0] == '-' ||
			    optarg[0] == '+') {
				cli_error("--retries wants a number from 0 to 100, not '%s'", optarg);
				return -1;
			}
			a->retries = (int)v;
			break;
		}
		case OPT_MEM_LIMIT:
			if (study_parse_size(optarg, &a->mem_limit) < 0) {
				cli_error("--mem-limit wants a size: bytes, or an integer with suffix K,"
					  " M, G or T (e.g. 512M, 16G), not '%s'", optarg);
				return -1;
			}
			break;
		case OPT_GPUS: {
			long long v;
			if (!strcmp(optarg, "0"))
				v = 0;
			else if (cli_parse_count(optarg, 64, &v) < 0) {
				cli_error("--gpus wants a number from 0 to 64, not '%s'", optarg);
				return -1;
			}
			a->gpus = (int)v;
			break;
		}
		case OPT_EXECUTOR:
			if (strcmp(optarg, "local") && strcmp(optarg, "slurm")) {
				cli_error("--executor wants local or slurm, not '%s'", optarg);
				return -1;
			}
			a->executor = optarg;
			break;
		case OPT_PARTITION:
		case OPT_ACCOUNT:
			if (!*optarg || strchr(optarg, ' ') || strchr(optarg, '\n')) {
				cli_error("--%s wants one word, not '%s'",
					  c == OPT_PARTITION ? "partition" : "account", optarg);
				return -1;
			}
			*(c == OPT_PARTITION ? &a->partition : &a->account) = optarg;
			break;
		case OPT_SLURM_OPT: {
			struct strbuf why = STRBUF_INIT;
			if (slurm_check_opt(optarg, &why) < 0) {
				cli_error("--slurm-opt: %s", why.buf);
				strbuf_release(&why);
				return -1;
			}
			a->slurm_opts = xrealloc(a->slurm_opts,
						 (a->slurm_opts_nr + 2) * sizeof(*a->slurm_opts));
			a->slurm_opts[a->slurm_opts_nr++] = optarg;
			a->slurm_opts[a->slurm_opts_nr] = NULL;
			break;
		}
		case 'h': fputs(run_usage, stdout); exit(EXIT_OK);
		default:
			cli_error("unknown option '%s'", argv[optind - 1]);
			fputs(run_usage, stderr);
			return -1;
		}
	}
	if (optind >= argc) {
		cli_error("which study? give one STUDY.yaml");
		fputs(run_usage, stderr);
		return -1;
	}
	if (a->sel.force_downstream && !a->sel.force_nr) {
		cli_error("--force-downstream needs --force PATTERN: the stages downstream of which?");
		return -1;
	}
	a->study_path = argv[optind];
	a->sel.targets = argv + optind + 1;
	a->sel.targets_nr = (size_t)(argc - optind - 1);
	a->sel.force = a->force;
	return 0;
}

/* What parse_args allocated (the option arrays; their strings are argv's). */
static void run_args_release(struct run_args *a)
{
	free(a->force);
	free(a->slurm_opts);
	a->force = NULL;
	a->slurm_opts = NULL;
}

int run_argv_partial(const char *argv_json)
{
	cJSON *arr = argv_json ? cJSON_Parse(argv_json) : NULL;
	int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0, partial = 0;
	const cJSON *first = cJSON_GetArrayItem(arr, 1);
	if (n >= 3 && cJSON_IsString(first) && !strcmp(first->valuestring, "run")) {
		/* argv as cmd_run saw it: from "run" on; only strings (a recorded run
		 * parsed once, so it parses again: its options are valid) */
		char **argv = xcalloc((size_t)n, sizeof(*argv));
		int argc = 0, strings = 1;
		for (const cJSON *x = first; x; x = x->next) {
			strings &= cJSON_IsString(x) && strcmp(x->valuestring, "-h") &&
				   strcmp(x->valuestring, "--help");
			argv[argc++] = cJSON_IsString(x) ? x->valuestring : NULL;
		}
		struct run_args a;
		if (strings && parse_args(argc, argv, &a) == 0)
			partial = a.sel.targets_nr > 0;
		if (strings)
			run_args_release(&a);
		free(argv);
	}
	cJSON_Delete(arr);
	return partial;
}

static char *orchestrator_argv_json(int argc, char **argv)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "[\"study\"");
	for (int i = 0; i < argc; i++) {
		strbuf_addch(&sb, ',');
		strbuf_add_json_str(&sb, argv[i]);
	}
	strbuf_addch(&sb, ']');
	return strbuf_detach(&sb, NULL);
}

static void print_summary(const struct run_args *a, int64_t run_id, const struct run_counts *c,
			  const char *status, size_t total)
{
	if (a->dry_run) {
		if (a->json)
			printf("{\"dry_run\":true,\"would_run\":%d,\"cached\":%d,\"failed\":%d,"
			       "\"not_started\":%d,\"not_selected\":%d,\"forced\":%d,"
			       "\"stages\":%zu}\n",
			       c->would_run, c->cached, c->failed, c->not_started, c->not_selected,
			       c->forced, total);
		else
		{
			printf("dry run: would run %d, cached %d, failed %d", c->would_run,
			       c->cached, c->failed);
			if (c->not_started)
				printf(", not started %d", c->not_started);
			if (c->not_selected)
				printf(", not selected %d", c->not_selected);
			putchar('\n');
		}
		return;
	}
	if (a->json) {
		printf("{\"run\":%lld,\"status\":\"%s\",\"ran\":%d,\"cached\":%d,\"failed\":%d,"
		       "\"interrupted\":%d,\"skipped\":%d,\"not_started\":%d,\"not_selected\":%d,"
		       "\"forced\":%d,\"retried\":%d,\"stages\":%zu}\n",
		       (long long)run_id, status, c->ran, c->cached, c->failed,
		       c->interrupted_stages, c->skipped, c->not_started, c->not_selected,
		       c->forced, c->retried, total);
		return;
	}
	if (c->skipped)
		fprintf(stderr, "study: %d stage%s skipped because an upstream stage failed\n",
			c->skipped, c->skipped == 1 ? "" : "s");
	if (c->not_started && c->interrupted)
		fprintf(stderr, "study: %d stage%s not started: the run was interrupted\n",
			c->not_started, c->not_started == 1 ? "" : "s");
	else if (c->not_started && !a->keep_going)
		fprintf(stderr,
			"study: %d stage%s not started after the first failure; use --keep-going to"
			" run the stages that do not depend on it\n",
			c->not_started, c->not_started == 1 ? "" : "s");
	/* the first three counts always; the others when not zero: they add up to
	 * the plan's stages */
	printf("run %lld: ran %d, cached %d, failed %d", (long long)run_id, c->ran, c->cached,
	       c->failed);
	if (c->interrupted_stages)
		printf(", interrupted %d", c->interrupted_stages);
	if (c->skipped)
		printf(", skipped %d", c->skipped);
	if (c->not_started)
		printf(", not started %d", c->not_started);
	if (c->not_selected)
		printf(", not selected %d", c->not_selected);
	putchar('\n');
}

/* gitinfo_read in a thread; git_job_finish() joins it (or, if the thread
 * could not be started, reads the state then). Idempotent. The store that
 * the dirty check leaves out is known only once the study is loaded: the
 * thread reads HEAD meanwhile and waits for git_job_set_exclude() before it
 * walks the work tree. */
struct git_job {
	char *path; /* the study file, through symbolic links */
	struct gitinfo gi;
	struct strbuf err;
	int rc, started, done;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int exclude_set;
	char *exclude; /* absolute store directory, or NULL */
};

static const char *git_job_exclude(void *arg)
{
	struct git_job *j = arg;
	pthread_mutex_lock(&j->mu);
	while (!j->exclude_set)
		pthread_cond_wait(&j->cv, &j->mu);
	pthread_mutex_unlock(&j->mu);
	return j->exclude;
}

static void *git_job_main(void *arg)
{
	struct git_job *j = arg;
	j->rc = gitinfo_read_excluding(j->path, git_job_exclude, j, &j->gi, &j->err);
	return NULL;
}

static void git_job_start(struct git_job *j, const char *path)
{
	struct strbuf empty = STRBUF_INIT;
	memset(j, 0, sizeof(*j));
	j->err = empty;
	/* ask git about the file that runs, not the link that names it */
	char *real = realpath(path, NULL);
	j->path = real ? real : xstrdup(path);
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->started = pthread_create(&j->thread, NULL, git_job_main, j) == 0;
}

/* The store directory to leave out of the dirty check (NULL: none). Once. */
static void git_job_set_exclude(struct git_job *j, const char *store_dir)
{
	if (!j->path || j->exclude_set)
		return;
	pthread_mutex_lock(&j->mu);
	if (store_dir) {
		char *real = realpath(store_dir, NULL);
		if (!real && store_dir[0] != '/') {
			char *cwd = getcwd(NULL, 0);
			real = cwd ? xasprintf("%s/%s", cwd, store_dir) : NULL;
			free(cwd);
		}
		j->exclude = real ? real : xstrdup(store_dir);
	}
	j->exclude_set = 1;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

static struct git_job *git_job_finish(struct git_job *j)
{
	if (j->done)
		return j;
	git_job_set_exclude(j, NULL);
	if (j->started)
		pthread_join(j->thread, NULL);
	else
		j->rc = gitinfo_read_excluding(j->path, git_job_exclude, j, &j->gi, &j->err);
	j->done = 1;
	return j;
}

static void git_job_release(struct git_job *j)
{
	if (!j->path)
		return; /* never started */
	git_job_finish(j);
	gitinfo_release(&j->gi);
	strbuf_release(&j->err);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j->exclude);
	free(j->path);
	j->path = NULL;
}

/* Join the git thread and put its result on the run row, once. */
struct git_record {
	struct git_job *job;
	struct prov *pv;
	int64_t run_id;
	int done;
};

static void record_git(void *ctx)
{
	struct git_record *g = ctx;
	if (g->done)
		return;
	g->done = 1;
	const struct gitinfo *gi = &git_job_finish(g->job)->gi;
	if (g->job->rc < 0) {
		cli_warning("cannot read git state: %s", g->job->err.buf);
		return;
	}
	if (!gi->found)
		return;
	struct strbuf err = STRBUF_INIT;
	if (prov_run_set_git(g->pv, g->run_id, gi->commit[0] ? gi->commit : NULL, gi->branch,
			     gi->dirty, &err) < 0)
		cli_warning("%s", err.buf);
	strbuf_release(&err);
}

/* --require-clean: 0 when the study file is in a git work tree that is clean
 * and has a commit; else print why and return -1. */
static int check_clean(const char *study_path, struct git_job *job)
{
	const struct gitinfo *gi = &git_job_finish(job)->gi;
	int rc = -1;
	if (job->rc < 0)
		cli_error("--require-clean: cannot read the git state of '%s': %s", study_path,
			  job->err.buf);
	else if (!gi->found)
		cli_error("'%s' is not in a git repository; --require-clean needs a committed study",
			  study_path);
	else if (!gi->commit[0])
		cli_error("the repository '%s' has no commit yet; commit the study or drop"
			  " --require-clean", gi->workdir ? gi->workdir : study_path);
	else if (gi->dirty)
		cli_error("the work tree of '%s' has uncommitted changes; commit them or drop"
			  " --require-clean", gi->workdir ? gi->workdir : study_path);
	else
		rc = 0;
	return rc;
}

static const char *exclude_store(void *ctx) { return ctx; }

/* --require-clean when `root:` lies outside the study file's repository: the
 * programs that run are there, so that repository must be clean and
 * committed too (the run records the study file's commit; docs/study-format.md). */
static int check_root_clean(const char *root, const char *store_dir, struct git_job *job)
{
	const struct gitinfo *study_gi = &git_job_finish(job)->gi;
	size_t n = study_gi->workdir ? strlen(study_gi->workdir) : 0;
	if (n && !strncmp(root, study_gi->workdir, n) && (root[n] == '/' || !root[n]))
		return 0; /* the same work tree */
	struct gitinfo gi;
	struct strbuf err = STRBUF_INIT;
	char *store = realpath(store_dir, NULL);
	int rc = -1;
	if (gitinfo_read_excluding(root, exclude_store, store ? store : (char *)store_dir, &gi,
				   &err) < 0)
		cli_error("--require-clean: cannot read the git state of the root '%s': %s", root,
			  err.buf);
	else if (!gi.found)
		cli_error("the study root '%s' is not in a git repository; --require-clean needs"
			  " the code that runs committed", root);
	else if (!gi.commit[0] || gi.dirty)
		cli_error("the study root '%s' is in another repository, '%s', whose work tree %s;"
			  " commit it or drop --require-clean", root, gi.workdir ? gi.workdir : root,
			  gi.commit[0] ? "has uncommitted changes" : "has no commit yet");
	else
		rc = 0;
	gitinfo_release(&gi);
	free(store);
	strbuf_release(&err);
	return rc;
}

/* Open the store for a dry run without creating anything. */
static void open_store_for_reading(struct store *st, const char *dir)
{
	struct strbuf err = STRBUF_INIT;
	if (store_open_existing(st, dir, &err) < 0) {
		memset(st, 0, sizeof(*st)); /* no store yet: every lookup misses */
		st->root = xstrdup(dir);
		st->lock_fd = -1;
	}
	strbuf_release(&err);
}

/* store_lock's wait callback: the store does not print, the command does. */
static void print_lock_wait(void *ctx, const char *holder)
{
	(void)ctx;
	fprintf(stderr, "study: waiting for the store lock held by %s\n", holder);
	fflush(stderr);
}

/* Deal with what a killed run left running (locally: its stages' process
 * groups, noted in work/), before store_clean_tmp removes the notes. Always 0. */
static int recover_leftover_stages(struct executor *ex, const struct store *st)
{
	struct strbuf work = STRBUF_INIT;
	strbuf_addf(&work, "%s/work", st->root);
	exec_recover(ex, work.buf);
	/* SLURM jobs outlive a killed run whatever executor this run uses */
	if (strcmp(exec_name(ex), "slurm"))
		exec_slurm_recover(work.buf);
	strbuf_release(&work);
	return 0;
}

/* One line per external input: always with -v, and whenever an import had
 * to read files (hashing gigabytes takes a while; say what it was for). */
struct input_note {
	int verbose, dry_run;
	const struct plan *p;
	const struct stage_output *ext;
};

static void print_input(void *ctx, size_t i, const struct extinput_stats *s)
{
	const struct input_note *n = ctx;
	if (!n->verbose && (n->dry_run || !s->hashed_files))
		return;
	struct strbuf line = STRBUF_INIT;
	extinput_describe(n->p, i, n->ext, s, &line);
	fprintf(stderr, "study: %s\n", line.buf);
	fflush(stderr);
	strbuf_release(&line);
}

/* The executor: --executor, else the study file's executor:, else local.
 * SLURM's settings come from the command line, else the study file (its
 * slurm_opts first, then every --slurm-opt). A SLURM run submits as many
 * stages as are ready unless -j says otherwise: the cluster queues them. */
static int make_executor(struct run_args *a, const struct study *study, struct executor **ex,
			 struct strbuf *err)
{
	const struct study_executor *sx = &study->executor;
	const char *name = a->executor ? a->executor : sx->name ? sx->name : "local";
	int file_slurm = sx->name && !strcmp(sx->name, "slurm");
	if (strcmp(name, "slurm")) {
		if (a->partition || a->account || a->slurm_opts_nr) {
			strbuf_addstr(err, "--partition, --account and --slurm-opt are for"
					   " --executor slurm");
			return -1;
		}
		struct exec_local_opts lo = { a->jobs, a->mem_limit, a->gpus };
		*ex = exec_local_new(&lo, err);
		return *ex ? 0 : -1;
	}
	if (a->mem_limit || a->gpus >= 0) {
		strbuf_addstr(err, "--mem-limit and --gpus are for the local executor: on SLURM each"
				   " stage's resources.mem and resources.gpus go to sbatch");
		return -1;
	}
	struct strvec opts = STRVEC_INIT;
	for (size_t i = 0; file_slurm && i < sx->slurm_opts_nr; i++)
		strvec_push(&opts, sx->slurm_opts[i]);
	for (size_t i = 0; i < a->slurm_opts_nr; i++)
		strvec_push(&opts, a->slurm_opts[i]);
	struct exec_slurm_opts so = {
		.partition = a->partition ? a->partition : file_slurm ? sx->partition : NULL,
		.account = a->account ? a->account : file_slurm ? sx->account : NULL,
		.opts = opts.v,
	};
	struct strbuf why = STRBUF_INIT;
	*ex = exec_slurm_new(&so, &why);
	strvec_clear(&opts);
	if (!*ex)
		strbuf_addf(err, "the slurm executor: %s", why.buf);
	strbuf_release(&why);
	if (!a->jobs_given)
		a->jobs = 4096;
	return *ex ? 0 : -1;
}

int cmd_run(int argc, char **argv)
{
	struct run_args a;
	/* as typed: getopt_long permutes argv while it parses */
	char *argv_json = orchestrator_argv_json(argc, argv);
	if (parse_args(argc, argv, &a) < 0) {
		run_args_release(&a);
		free(argv_json);
		return EXIT_USAGE;
	}

	struct strbuf err = STRBUF_INIT;
	struct git_job git;
	memset(&git, 0, sizeof(git));
	if (!a.dry_run)
		git_job_start(&git, a.study_path);
	struct study study;
	if (study_load(&study, a.study_path, &err) < 0) {
		cli_error("%s", err.buf);
		git_job_release(&git);
		strbuf_release(&err);
		free(argv_json);
		run_args_release(&a);
		return EXIT_USAGE;
	}
	char *store_dir = store_dir_for_study(a.store_dir, study.root);
	git_job_set_exclude(&git, store_dir);
	if (a.require_clean && (check_clean(a.study_path, &git) < 0 ||
				check_root_clean(study.root, store_dir, &git) < 0)) {
		free(store_dir);
		git_job_release(&git);
		study_release(&study);
		strbuf_release(&err);
		free(argv_json);
		run_args_release(&a);
		return EXIT_USAGE;
	}
	struct plan plan;
	if (plan_build(&plan, &study, &err) < 0) {
		cli_error("%s", err.buf);
		free(store_dir);
		git_job_release(&git);
		study_release(&study);
		strbuf_release(&err);
		free(argv_json);
		run_args_release(&a);
		return EXIT_USAGE;
	}
	cli_warn_unhashed(&plan);

	int rc = EXIT_FAILED;
	struct store st;
	memset(&st, 0, sizeof(st));
	st.lock_fd = -1;
	struct prov *pv = NULL;
	struct executor *ex = NULL, *dry = NULL;
	struct selection sel;
	memset(&sel, 0, sizeof(sel));
	struct stage_output *ext = xcalloc(plan.externals_nr + 1, sizeof(*ext));
	char *wanted = NULL; /* the inputs selected stages read (select.h) */
	if (select_stages(&plan, &a.sel, &sel, &err) < 0) {
		/* before the store is touched: nothing runs, nothing is recorded */
		cli_error("%s", err.buf);
		rc = EXIT_USAGE;
		goto out;
	}
	/* what runs the stages (executor.h); a dry run asks the dry executor,
	 * which has the local one's capacity and starts nothing */
	if (make_executor(&a, &study, &ex, &err) < 0) {
		cli_error("%s", err.buf);
		rc = EXIT_USAGE;
		goto out;
	}
	/* more cpus, memory or GPUs than a stage can ever get: a bad study for
	 * this machine, refused before anything runs (or is locked) */
	struct exec_caps caps;
	exec_caps(ex, &caps);
	if (exec_check_plan(&caps, &plan, sel.partial ? sel.on : NULL, &err) < 0) {
		cli_error("%s", err.buf);
		rc = EXIT_USAGE;
		goto out;
	}
	if (a.dry_run)
		dry = exec_dry_new(&caps);
	struct run_opts o = {
		.executor = dry ? dry : ex,
		.jobs = a.jobs,
		.keep_going = a.keep_going,
		.dry_run = a.dry_run,
		.verbose = a.verbose,
		.selected = sel.partial ? sel.on : NULL,
		.forced = sel.forced_nr ? sel.forced : NULL,
		.retries = a.retries,
	};
	wanted = selection_inputs(&plan, &sel);
	struct input_note note = { a.verbose, a.dry_run, &plan, ext };
	o.externals = ext;
	struct run_counts counts;
	int64_t run_id = 0;

	if (a.dry_run) {
		open_store_for_reading(&st, store_dir);
		if (extinput_resolve_all(&plan, &st, EXTINPUT_LOOK, a.jobs, wanted, ext, print_input, &note,
					 &err) < 0) {
			cli_error("%s", err.buf);
			rc = EXIT_USAGE;
			goto out;
		}
		if (prov_open_store_readonly(store_dir, &pv, &err) < 0) {
			pv = NULL; /* no database yet: reasons say "never run" */
			strbuf_reset(&err);
		}
		if (runner_run(&plan, &st, pv, &o, 0, &counts, &err) < 0) {
			cli_error("%s", err.buf);
			goto out;
		}
		print_summary(&a, 0, &counts, "dry-run", plan.nr);
		rc = counts.failed ? EXIT_FAILED : EXIT_OK;
		goto out;
	}

	if (store_open(&st, store_dir, &err) < 0) {
		cli_error("%s", err.buf);
		goto out;
	}
	st.on_wait = print_lock_wait;
	if (store_lock(&st, !a.no_wait, &err) < 0 || recover_leftover_stages(ex, &st) ||
	    store_clean_tmp(&st, &err) < 0) {
		cli_error("%s", err.buf);
		goto out;
	}
	/* the external inputs are in the store, and match their pins, before
	 * anything is recorded: a refused input leaves no run behind */
	if (extinput_resolve_all(&plan, &st, EXTINPUT_IMPORT, a.jobs, wanted, ext, print_input, &note,
				 &err) < 0) {
		cli_error("%s", err.buf);
		rc = EXIT_USAGE;
		goto out;
	}
	struct strbuf dbpath = STRBUF_INIT;
	strbuf_addf(&dbpath, "%s/provenance.db", st.root);
	int prc = prov_open(&pv, dbpath.buf, &err);
	strbuf_release(&dbpath);
	if (prc < 0 || prov_mark_interrupted(pv, &err) < 0) {
		cli_error("%s", err.buf);
		goto out;
	}

	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	const struct passwd *pw = getpwuid(geteuid());
	char cwd[4096] = "";
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	struct prov_run pr = {
		.study_name = study.name,
		.study_path = git.path ? git.path : a.study_path, /* through its links */
		.study_digest = study.digest,
		.git_dirty = -1, /* recorded by record_git */
		.tool_version = STUDY_VERSION,
		.host = host,
		.user = pw ? pw->pw_name : "",
		.argv_json = argv_json,
		.cwd = cwd,
		.started = clock_wall(),
	};
	if (prov_run_begin(pv, &pr, &run_id, &err) < 0) {
		cli_error("%s", err.buf);
		goto out;
	}

	struct git_record gr = { &git, pv, run_id, 0 };
	o.before_first_start = record_git;
	o.before_first_start_ctx = &gr;
	int runner_rc = runner_run(&plan, &st, pv, &o, run_id, &counts, &err);
	record_git(&gr); /* a run that started no stage */
	const char *status = counts.interrupted ? "interrupted"
			     : (runner_rc < 0 || counts.failed) ? "failed" : "ok";
	struct strbuf err2 = STRBUF_INIT;
	if (prov_run_end(pv, run_id, status, clock_wall(), counts.ran, counts.cached, counts.failed,
			 counts.skipped, &err2) < 0)
		cli_error("%s", err2.buf);
	strbuf_release(&err2);
	if (runner_rc < 0) {
		cli_error("%s", err.buf);
		goto out;
	}
	print_summary(&a, run_id, &counts, status, plan.nr);
	if (counts.interrupted)
		rc = 128 + counts.interrupted; /* as shells report: 130 INT, 143 TERM, 129 HUP */
	else
		rc = counts.failed ? EXIT_FAILED : EXIT_OK;

out:
	exec_destroy(dry);
	exec_destroy(ex);
	selection_release(&sel);
	run_args_release(&a);
	free(wanted);
	extinput_release(ext, plan.externals_nr);
	free(ext);
	free(store_dir);
	free(argv_json);
	git_job_release(&git);
	if (pv)
		prov_close(pv);
	store_release(&st);
	plan_release(&plan);
	study_release(&study);
	strbuf_release(&err);
	return rc;
}
