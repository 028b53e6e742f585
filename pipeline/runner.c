/*
 * runner: the run loop — cache checks, preparing stages under the stage
 * protocol and handing them to the executor (executor.h), collecting their
 * results into the store and provenance, and the live progress. See
 * runner.h for the protocol it implements.
 */
#include "runner.h"
#include "canon.h"
#include "critpath.h"
#include "executor.h"
#include "extinput.h"
#include "freshness.h"
#include "hitwriter.h"
#include "proc.h" /* CHILD_PROGRESS_FD: the descriptor named in the environment */
#include "progress.h"
#include "scheduler.h"
#include "stagecmd.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define LOG_TAIL_LINES 20

/* A stage handed to the executor, until its report has been dealt with. */
struct slot {
	size_t stage;
	struct strvec *steps;   /* each step's argv */
	size_t steps_nr;
	struct strvec env;
	char *workdir;          /* <store>/work/<key>; a dry run's is not created */
	char *out_dir;
	struct strvec programs; /* each step's resolved program */
	char key[HASH_HEX_SIZE];
	struct strbuf record;
	char *argv_json, *env_json;
	int stopped; /* cancelled by stop_all: the run was interrupted */
	struct exec_report rep; /* how it ended (a copy of the executor's report) */
	struct strbuf *in_snap; /* one stat snapshot per input (see snapshot_tree) */
	size_t in_snap_nr;
	/* a dry run: the output recorded for the key ("" none), and why it would run */
	char predicted[HASH_HEX_SIZE];
	char *why;
};

/* A stage whose attempt failed, waiting to be started again. */
struct retry {
	size_t stage;
	struct strvec programs; /* each step's resolved program */
	char key[HASH_HEX_SIZE];
	char *record;
	double at;     /* monotonic: not before */
};

/* A cache entry to write once the transaction that recorded it commits. */
struct pending_cache {
	char key[HASH_HEX_SIZE];
	char tree[HASH_HEX_SIZE];
};

struct runner {
	const struct plan *p;
	struct store *st;
	struct prov *pv;
	struct hit_writer *hw; /* records cache hits on a second thread; may be NULL */
	const struct run_opts *o;
	int64_t run_id;
	struct run_counts *counts;
	struct sched sched;
	struct stage_output *outs;
	struct code_digests cd;
	struct progress prog;
	struct executor *ex;
	struct executor *own_ex; /* created here (run_opts.executor NULL), destroyed here */
	struct exec_caps caps;   /* the executor's: pools, GPU slot names */
	struct slot **slots;     /* handed to the executor, not yet reported */
	size_t slots_nr, slots_alloc;
	struct slot **done;      /* reported by the executor, to be finished */
	size_t done_nr, done_alloc;
	struct pending_cache *pend;
	size_t pend_nr, pend_alloc;
	int in_txn;
	int started_any; /* a stage was started (before_first_start was called) */
	char *stopped; /* per stage: 1 when interrupted because the run was */
	int fatal; /* a store/provenance error stops the run */
	struct strbuf fatal_err;
	char **spare_wd; /* emptied work directories, ready for the next stage */
	size_t spare_nr, spare_alloc;
	int *attempt;      /* per stage: its attempt started last (1-based), 0 none */
	char *forced_from; /* per stage, HASH_HEX_SIZE each: the cached output a
			    * forced rerun replaces ("" none); NULL when nothing is forced */
	struct retry *retries;
	size_t retries_nr, retries_alloc;
	int jobs_unflushed; /* job ids recorded since the last commit */
};

/* ---- signals: interrupts wake the executor's wait through a pipe ---- */

static int wake_pipe[2] = { -1, -1 };
static volatile sig_atomic_t interrupted; /* the first SIGINT, SIGTERM or SIGHUP, or 0 */

static void on_signal(int sig)
{
	int saved = errno;
	if (!interrupted)
		interrupted = sig;
	if (wake_pipe[1] >= 0) {
		char c = 0;
		if (write(wake_pipe[1], &c, 1) < 0) {
			/* pipe full: a wake-up is already pending */
		}
	}
	errno = saved;
}

#define HANDLED_NR 3
static struct sigaction old_actions[HANDLED_NR];
static const int handled_signals[HANDLED_NR] = { SIGINT, SIGTERM, SIGHUP };

static int install_signals(struct strbuf *err)
{
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		strbuf_addf(err, "pipe: %s", strerror(errno));
		return -1;
	}
	interrupted = 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < HANDLED_NR; i++)
		sigaction(handled_signals[i], &sa, &old_actions[i]);
	return 0;
}

static void restore_signals(void)
{
	for (int i = 0; i < HANDLED_NR; i++)
		sigaction(handled_signals[i], &old_actions[i], NULL);
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	wake_pipe[0] = wake_pipe[1] = -1;
}

static void drain_wake_pipe(void)
{
	char buf[256];
	while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
		;
}

/* ---- provenance batching ---- */

/* Wait for the hit writer: every use of r->pv but queueing a hit comes
 * after this (hitwriter.h). Its error, if any, stops the run. */
static int sync_hits(struct runner *r)
{
	if (!r->hw)
		return 0;
	struct strbuf err = STRBUF_INIT;
	int rc = hit_writer_sync(r->hw, &err);
	if (rc < 0 && !r->fatal) {
		r->fatal = 1;
		strbuf_addstr(&r->fatal_err, err.buf);
	}
	strbuf_release(&err);
	return rc;
}

static int ensure_txn(struct runner *r)
{
	if (r->in_txn)
		return 0;
	sync_hits(r);
	if (prov_begin(r->pv, &r->fatal_err) < 0) {
		r->fatal = 1;
		return -1;
	}
	r->in_txn = 1;
	return 0;
}

/* Commit the round's records, then publish their cache entries. */
static int flush_round(struct runner *r)
{
	if (!r->in_txn)
		return 0;
	r->in_txn = 0;
	sync_hits(r);
	if (prov_commit(r->pv, &r->fatal_err) < 0) {
		r->fatal = 1;
		r->pend_nr = 0;
		return -1;
	}
	for (size_t i = 0; i < r->pend_nr; i++)
		if (store_cache_put(r->st, r->pend[i].key, r->pend[i].tree, &r->fatal_err) < 0) {
			r->fatal = 1;
			break;
		}
	r->pend_nr = 0;
	return r->fatal ? -1 : 0;
}

static void fill_exec_common(struct runner *r, size_t si, struct prov_exec *e,
			     struct prov_input *inputs)
{
	const struct stage *s = &r->p->stages[si];
	memset(e, 0, sizeof(*e));
	e->run_id = r->run_id;
	e->stage_id = s->id;
	e->kind = stage_kind_name(s->kind);
	e->model = s->model;
	e->variant = s->variant;
	e->evaluation = s->evaluation;
	e->exit_code = -1;
	if (!inputs)
		return;
	for (size_t k = 0; k < s->inputs_nr; k++) {
		size_t in = s->inputs[k].stage;
		inputs[k].name = s->inputs[k].name;
		inputs[k].stage = plan_node_id(r->p, in);
		inputs[k].digest = r->outs[in].digest;
		inputs[k].source = plan_node_is_external(r->p, in)
					   ? r->p->externals[in - r->p->nr].input->abs
					   : NULL;
	}
	e->inputs = inputs;
	e->inputs_nr = s->inputs_nr;
}

static void record(struct runner *r, struct prov_exec *e)
{
	if (!r->pv || r->fatal || ensure_txn(r) < 0 || sync_hits(r) < 0)
		return;
	int64_t id;
	if (prov_record_exec(r->pv, e, &id, &r->fatal_err) < 0)
		r->fatal = 1;
}

/* A cache hit: queued for the hit writer when there is one. */
static void record_hit(struct runner *r, struct prov_exec *e)
{
	if (!r->hw) {
		record(r, e);
		return;
	}
	if (!r->pv || r->fatal || ensure_txn(r) < 0)
		return;
	hit_writer_add(r->hw, e);
}

/* A stage that could not even start (no program, unreadable code file...). */
static void fail_before_start(struct runner *r, size_t si, const char *key, const char *reason)
{
	struct prov_input *inputs = xcalloc(r->p->stages[si].inputs_nr + 1, sizeof(*inputs));
	struct prov_exec e;
	fill_exec_common(r, si, &e, inputs);
	e.status = "failed";
	e.reason = reason;
	e.cache_key = key;
	record(r, &e);
	free(inputs);
	r->counts->failed++;
	progress_finished(&r->prog, r->p->stages[si].id, "failed", 0, reason);
	sched_done(&r->sched, si, 0);
}

static void set_output(struct runner *r, size_t si, const char *tree)
{
	memcpy(r->outs[si].digest, tree, HASH_HEX_SIZE);
	struct strbuf path = STRBUF_INIT;
	store_tree_dir_path(r->st, tree, &path);
	free(r->outs[si].path);
	r->outs[si].path = strbuf_detach(&path, NULL);
}

/* ---- starting a stage ---- */

static char *argv_to_json(char *const *argv)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addch(&sb, '[');
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			strbuf_addch(&sb, ',');
		strbuf_add_json_str(&sb, argv[i]);
	}
	strbuf_addch(&sb, ']');
	return strbuf_detach(&sb, NULL);
}

static char *env_to_json(char *const *env)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		if (!eq)
			continue;
		char *name = xstrndup(env[i], (size_t)(eq - env[i]));
		cJSON_AddItemToObject(o, name, cJSON_CreateString(eq + 1));
		free(name);
	}
	struct strbuf sb = STRBUF_INIT;
	canon_json(o, &sb);
	cJSON_Delete(o);
	return strbuf_detach(&sb, NULL);
}

static void build_env(struct runner *r, size_t si, struct slot *sl, struct strvec *env)
{
	const struct stage *s = &r->p->stages[si];
	strvec_pushf(env, "PATH=%s", STAGE_PATH);
	strvec_pushf(env, "HOME=%s/cwd", sl->workdir);
	strvec_pushf(env, "TMPDIR=%s/tmp", sl->workdir);
	strvec_push(env, "LC_ALL=C");
	strvec_push(env, "TZ=UTC");
	strvec_pushf(env, "STUDY_SEED=%s", s->seed);
	strvec_pushf(env, "STUDY_STAGE=%s", s->id);
	strvec_pushf(env, "STUDY_OUT=%s", sl->out_dir);
	struct strbuf params = STRBUF_INIT;
	stagecmd_params_json(s, &params);
	strvec_pushf(env, "STUDY_PARAMS=%s", params.buf);
	strbuf_release(&params);
	strvec_pushf(env, "STUDY_THREADS=%d", sched_cpus(&r->sched, si));
	strvec_pushf(env, "STUDY_ROOT=%s", r->p->study->root);
	strvec_pushf(env, "STUDY_PROGRESS_FD=%d", CHILD_PROGRESS_FD);
	int passes_cvd = 0;
	for (size_t i = 0; i < s->entry->env_nr; i++) {
		const char *v = getenv(s->entry->env[i].s);
		if (v)
			strvec_pushf(env, "%s=%s", s->entry->env[i].s, v);
		passes_cvd |= !strcmp(s->entry->env[i].s, "CUDA_VISIBLE_DEVICES");
	}
	if (r->caps.gpu_slots > 0 && (s->entry->res.gpus > 0 || !passes_cvd)) {
		/* the GPU slots the scheduler handed it, by name; none for a stage
		 * that asked for none. Not in the cache key: which slot a stage
		 * gets does not change what it computes. */
		struct strbuf cvd = STRBUF_INIT;
		uint64_t mask = sched_gpu_mask(&r->sched, si);
		for (int k = 0; k < r->caps.gpu_slots && k < 64; k++)
			if (mask >> k & 1)
				strbuf_addf(&cvd, "%s%s", cvd.len ? "," : "", r->caps.gpu_names[k]);
		strvec_pushf(env, "CUDA_VISIBLE_DEVICES=%s", cvd.buf);
		strbuf_release(&cvd);
	}
}

/* A slot for stage si, taking over `programs` (each step's, stagecmd_programs). */
static struct slot *slot_new(size_t si, struct strvec *programs, const char *key,
			     const struct strbuf *record_text)
{
	struct slot *sl = xcalloc(1, sizeof(*sl));
	sl->stage = si;
	sl->programs = *programs;
	strvec_init(programs);
	memcpy(sl->key, key, HASH_HEX_SIZE);
	strbuf_init(&sl->record, 0);
	strbuf_add(&sl->record, record_text->buf, record_text->len);
	strvec_init(&sl->env);
	return sl;
}

static void slot_free(struct slot *sl)
{
	for (size_t k = 0; k < sl->steps_nr; k++)
		strvec_clear(&sl->steps[k]);
	free(sl->steps);
	strvec_clear(&sl->env);
	free(sl->workdir);
	free(sl->out_dir);
	strvec_clear(&sl->programs);
	free(sl->argv_json);
	free(sl->env_json);
	strbuf_release(&sl->record);
	exec_report_release(&sl->rep);
	for (size_t i = 0; i < sl->in_snap_nr; i++)
		strbuf_release(&sl->in_snap[i]);
	free(sl->in_snap);
	free(sl->why);
	free(sl);
}

/* ---- inputs must come back unchanged (docs/reliability.md) ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append one line per entry under directory fd `dfd` (sorted, recursive):
 * "path\tino mode size mtime\n". Inputs
 * are read-only to stages but stages may run as root; a write, chmod, rename,
 * creation or removal changes one of these, unless the stage also forges the
 * file's mtime back (not detected: that needs a sandbox). */
static void snapshot_dir(int dfd, struct strbuf *rel, struct strbuf *out, int depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	char **names = NULL;
	size_t nr = 0, alloc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		XGROW(names, alloc, nr + 1);
		names[nr++] = xstrdup(de->d_name);
	}
	if (nr > 1)
		qsort(names, nr, sizeof(*names), name_cmp);
	size_t keep = rel->len;
	for (size_t i = 0; i < nr; i++) {
		struct stat sb;
		strbuf_setlen(rel, keep);
		if (keep)
			strbuf_addch(rel, '/');
		strbuf_addstr(rel, names[i]);
		if (fstatat(dirfd(d), names[i], &sb, AT_SYMLINK_NOFOLLOW) != 0) {
			strbuf_addf(out, "%s\tgone\n", rel->buf);
			continue;
		}
		/* No ctime: it also moves when the store hard-links the same object
		 * into another tree, or re-applies a tree's modes; the mode, size and
		 * mtime (and for directories, their entries) show real changes. */
		strbuf_addf(out, "%s\t%lu %o %lld %lld.%09ld\n", rel->buf,
			    (unsigned long)sb.st_ino, (unsigned)sb.st_mode, (long long)sb.st_size,
			    (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
		if (S_ISDIR(sb.st_mode) && depth < 256) {
			int sub = openat(dirfd(d), names[i],
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				snapshot_dir(sub, rel, out, depth + 1);
		}
	}
	strbuf_setlen(rel, keep);
	for (size_t i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	closedir(d);
}

static void snapshot_tree(const char *dir, struct strbuf *out)
{
	struct strbuf rel = STRBUF_INIT;
	struct stat sb;
	strbuf_reset(out);
	if (lstat(dir, &sb) == 0)
		strbuf_addf(out, ".\t%lu %o %lld.%09ld\n", (unsigned long)sb.st_ino,
			    (unsigned)sb.st_mode, (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		snapshot_dir(fd, &rel, out, 0);
	strbuf_release(&rel);
}

/* The path of the first line where two snapshots differ. */
static void snapshot_first_diff(const struct strbuf *a, const struct strbuf *b,
				struct strbuf *path)
{
	size_t i = 0, line = 0;
	while (i < a->len && i < b->len && a->buf[i] == b->buf[i]) {
		if (a->buf[i] == '\n')
			line = i + 1;
		i++;
	}
	const struct strbuf *src = line < a->len ? a : b;
	const char *tab = memchr(src->buf + line, '\t', src->len - line);
	strbuf_reset(path);
	if (tab)
		strbuf_add(path, src->buf + line, (size_t)(tab - (src->buf + line)));
}

/* A stage changed input tree `hex` (store_tree_repair: damaged objects are
 * dropped, so the producer runs again next time, else out/<hex>/ is rebuilt).
 * Appends what was done to `note`. */
static void repair_input_tree(struct runner *r, const char *hex, struct strbuf *note)
{
	struct strbuf err = STRBUF_INIT;
	size_t dropped = 0;
	if (store_tree_repair(r->st, hex, &dropped, &err) != 0)
		strbuf_addf(note, "; the input could not be restored: %s", err.buf);
	else if (dropped)
		strbuf_addf(note, "; %zu damaged object%s removed from the store, the input's "
			    "producer will run again", dropped, dropped == 1 ? "" : "s");
	else
		strbuf_addstr(note, "; the input was restored from the store");
	strbuf_release(&err);
}

/* Before a tree is handed to a stage (as an input) or reused (a cache hit):
 * is it still its manifest? (store_tree_check; stat-level unless something
 * changed.) Returns 1 when it can be used; a restored tree is reported as a
 * warning. 0 when it cannot: `why` then says why (for a damaged tree, which
 * file; *damaged is set). */
static int tree_intact(struct runner *r, const char *stage, const char *hex, struct strbuf *why,
		       int *damaged)
{
	struct strbuf note = STRBUF_INIT, err = STRBUF_INIT, msg = STRBUF_INIT;
	int rc = store_tree_check(r->st, hex, &note, &err);
	if (rc == STORE_TREE_RESTORED) {
		strbuf_addf(&msg, "study: warning: %s: %s\n", stage, note.buf);
		progress_print(&r->prog, msg.buf);
	} else if (rc == STORE_TREE_DAMAGED) {
		strbuf_addstr(why, note.buf);
		*damaged = 1;
	} else if (rc < 0) {
		strbuf_addstr(why, err.buf);
	}
	strbuf_release(&note);
	strbuf_release(&err);
	strbuf_release(&msg);
	return rc == STORE_TREE_OK || rc == STORE_TREE_RESTORED;
}

/* A cache hit's tree is checked before the hit is accepted; a damaged one
 * makes it a miss (its objects are gone), and the stage runs again. */
static int hit_intact(struct runner *r, const char *stage, const char *hex)
{
	struct strbuf why = STRBUF_INIT, msg = STRBUF_INIT;
	int damaged = 0;
	int ok = tree_intact(r, stage, hex, &why, &damaged);
	if (damaged) {
		strbuf_addf(&msg, "study: warning: %s: cached output damaged: %s; running the stage "
			    "again\n", stage, why.buf);
		progress_print(&r->prog, msg.buf);
	}
	strbuf_release(&why);
	strbuf_release(&msg);
	return ok;
}

/* freshness.h's check of a cache hit's tree in a run (fresh_ctx.usable). */
static int hit_usable(void *ctx, const char *stage, const char *hex)
{
	return hit_intact(ctx, stage, hex);
}

/* Before the stage starts: every input tree must be its manifest. 0, or -1
 * with the reason (the damaged objects are gone: the next run reruns the
 * producer). */
static int check_inputs_before(struct runner *r, size_t si, struct strbuf *reason)
{
	const struct stage *s = &r->p->stages[si];
	struct strbuf why = STRBUF_INIT;
	int ret = 0;
	for (size_t k = 0; k < s->inputs_nr && !ret; k++) {
		const struct stage_output *in = &r->outs[s->inputs[k].stage];
		struct stat sb;
		if (!in->path)
			continue;
		strbuf_reset(&why);
		if (in->is_file) {
			/* imported and checked before the run started (extinput.h); a
			 * stage that damaged it meanwhile had it dropped */
			if (lstat(in->path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
				strbuf_addf(reason, "input '%s' ('%s'): its copy '%s' is missing from"
					    " the store; run again to import it",
					    s->inputs[k].name, plan_node_id(r->p, s->inputs[k].stage),
					    in->path);
				ret = -1;
			}
			continue;
		}
		int damaged = 0;
		if (!tree_intact(r, s->id, in->digest, &why, &damaged)) {
			strbuf_addf(reason, "input '%s' (output of '%s'): %s; run again to rebuild "
				    "it, or see 'study verify'",
				    s->inputs[k].name, plan_node_id(r->p, s->inputs[k].stage), why.buf);
			ret = -1;
		}
	}
	strbuf_release(&why);
	return ret;
}

/* After the stage: 0 when every input is as it was, else -1 with the reason. */
static int check_inputs(struct runner *r, struct slot *sl, struct strbuf *reason)
{
	const struct stage *s = &r->p->stages[sl->stage];
	struct strbuf now = STRBUF_INIT, file = STRBUF_INIT;
	int ret = 0;
	for (size_t k = 0; k < sl->in_snap_nr && k < s->inputs_nr; k++) {
		const struct stage_output *in = &r->outs[s->inputs[k].stage];
		if (!in->path)
			continue;
		snapshot_tree(in->path, &now);
		if (now.len == sl->in_snap[k].len &&
		    !memcmp(now.buf, sl->in_snap[k].buf, now.len))
			continue;
		snapshot_first_diff(&sl->in_snap[k], &now, &file);
		/* with -j > 1 another stage may have done it: say what is known */
		strbuf_addf(reason, "input '%s' was modified while the stage ran (file '%s')",
			    s->inputs[k].name, file.buf);
		if (in->is_file)
			extinput_repair_file(r->st, in->digest, reason);
		else
			repair_input_tree(r, in->digest, reason);
		ret = -1;
		break;
	}
	strbuf_release(&now);
	strbuf_release(&file);
	return ret;
}

/* ---- work directories: recycled, not recreated ----
 *
 * Creating and removing a work directory (dir, cwd/, out/, tmp/, two log
 * files) for every stage dominated the orchestrator's own time on ext4:
 * allocating an inode skips recently deleted ones, so create/delete churn
 * costs more the faster stages finish (docs/benchmarks.md). A finished
 * stage's directory is therefore emptied and kept (at most jobs + 1 of them),
 * and the next stage gets it under a fresh name of its own by rename(2):
 * cwd/, out/ and tmp/ are empty, the logs are truncated when opened. Anything
 * unexpected in a directory (a stage changed modes, left extra entries or
 * swapped a directory for a symlink) and it is removed as before.
 */

/* The work directory of the stage with cache key `key` (store_workdir_path),
 * with empty cwd/, out/ and tmp/: a spare one renamed into place, else new. */
static int workdir_acquire(struct runner *r, const char *key, struct strbuf *wd,
			   struct strbuf *err)
{
	while (r->spare_nr) {
		char *old = r->spare_wd[--r->spare_nr];
		store_workdir_path(r->st, key, wd);
		int rc = renameat2(AT_FDCWD, old, AT_FDCWD, wd->buf, RENAME_NOREPLACE);
		if (rc < 0 && errno == EEXIST) {
			/* left by a killed run (work/ is the lock holder's) */
			struct strbuf ignored = STRBUF_INIT;
			remove_tree(wd->buf, &ignored);
			strbuf_release(&ignored);
			rc = renameat2(AT_FDCWD, old, AT_FDCWD, wd->buf, RENAME_NOREPLACE);
		}
		if (rc == 0) {
			free(old);
			return 0;
		}
		struct strbuf ignored = STRBUF_INIT;
		remove_tree(old, &ignored);
		strbuf_release(&ignored);
		free(old);
	}
	strbuf_reset(wd);
	if (store_make_workdir(r->st, key, wd, err) < 0 || store_workdir_subdirs(wd->buf, err) < 0)
		return -1;
	return 0;
}

/* 1 when `dir` holds only cwd/, out/, tmp/ (real directories, mode 0700) and the
 * regular files stdout, stderr and pgid; what a stage left in them is removed. */
static int workdir_empty_for_reuse(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	struct dirent *de;
	struct strbuf sub = STRBUF_INIT, ignored = STRBUF_INIT;
	int ok = 1, dirs = 0;
	while (ok && (de = readdir(d))) {
		const char *n = de->d_name;
		struct stat sb;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (fstatat(dirfd(d), n, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
			ok = 0;
		} else if (!strcmp(n, "cwd") || !strcmp(n, "out") || !strcmp(n, "tmp")) {
			strbuf_reset(&sub);
			strbuf_addf(&sub, "%s/%s", dir, n);
			ok = S_ISDIR(sb.st_mode) && (sb.st_mode & 07777) == 0700 &&
			     remove_tree_contents(sub.buf, &ignored) == 0;
			dirs++;
		} else if (!strcmp(n, "pgid")) {
			ok = unlinkat(dirfd(d), n, 0) == 0;
		} else {
			ok = S_ISREG(sb.st_mode) && (!strcmp(n, "stdout") || !strcmp(n, "stderr"));
		}
	}
	closedir(d);
	strbuf_release(&sub);
	strbuf_release(&ignored);
	return ok && dirs == 3;
}

/* After a stage: keep its directory for the next one, or remove it. */
static void workdir_release(struct runner *r, struct slot *sl)
{
	if (!r->fatal && !interrupted && r->spare_nr < (size_t)r->o->jobs + 1 &&
	    workdir_empty_for_reuse(sl->workdir)) {
		XGROW(r->spare_wd, r->spare_alloc, r->spare_nr + 1);
		r->spare_wd[r->spare_nr++] = sl->workdir;
		sl->workdir = NULL;
		return;
	}
	struct strbuf ignored = STRBUF_INIT;
	remove_tree(sl->workdir, &ignored);
	strbuf_release(&ignored);
}

/* Store a log as an object. A small log is read and stored by content (no
 * new file when the object exists: empty logs cost one stat) and the file
 * stays, to be truncated by the next stage; a large one is moved in. */
static int store_log(struct runner *r, const char *path, char hex[HASH_HEX_SIZE],
		     struct strbuf *err)
{
	struct stat sb;
	if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size <= 65536) {
		struct strbuf content = STRBUF_INIT;
		int rc = strbuf_read_file(&content, path) == 0 ?
				 store_put_bytes(r->st, content.buf, content.len, hex, err) : -1;
		strbuf_release(&content);
		if (rc == 0)
			return 0;
	}
	return store_put_file(r->st, path, 1, hex, NULL, err);
}

/* The argv of every step as recorded in provenance: one step's argv array
 * (as before steps existed), or an array of them (docs/provenance.md). */
static char *steps_to_json(const struct slot *sl)
{
	if (sl->steps_nr == 1)
		return argv_to_json(sl->steps[0].v);
	struct strbuf sb = STRBUF_INIT;
	strbuf_addch(&sb, '[');
	for (size_t i = 0; i < sl->steps_nr; i++) {
		char *one = argv_to_json(sl->steps[i].v);
		if (i)
			strbuf_addch(&sb, ',');
		strbuf_addstr(&sb, one);
		free(one);
	}
	strbuf_addch(&sb, ']');
	return strbuf_detach(&sb, NULL);
}

/* Each step's argv and the environment of sl's stage (its workdir and
 * out_dir set): what the executor starts. */
static void prepare_slot(struct runner *r, struct slot *sl)
{
	const struct stage *s = &r->p->stages[sl->stage];
	size_t nsteps = s->entry->steps_nr;
	sl->steps = xcalloc(nsteps, sizeof(*sl->steps));
	sl->steps_nr = nsteps;
	for (size_t k = 0; k < nsteps; k++) {
		strvec_init(&sl->steps[k]);
		stagecmd_argv(r->p, sl->stage, k, r->outs, sl->out_dir, sl->programs.v[k],
			      &sl->steps[k]);
	}
	build_env(r, sl->stage, sl, &sl->env);
}

/* A stage that became a scheduler's job (SLURM): its id goes on record at
 * once (committed right after this round's starts, before the run waits),
 * so that a run killed while its jobs run leaves them known. */
static void record_job(struct runner *r, struct slot *sl)
{
	const char *id = exec_job_id(r->ex, sl);
	if (!id || !r->pv || r->o->dry_run || r->fatal || ensure_txn(r) < 0)
		return;
	if (prov_record_job(r->pv, r->run_id, r->p->stages[sl->stage].id, sl->key, exec_name(r->ex),
			    id, clock_wall(), &r->fatal_err) < 0)
		r->fatal = 1;
	r->jobs_unflushed = 1;
}

/* Hand sl's prepared stage to the executor. Returns 0, or -1 with err. */
static int slot_exec_start(struct runner *r, struct slot *sl, struct strbuf *err)
{
	const struct stage *s = &r->p->stages[sl->stage];
	const struct resources *res = &s->entry->res;
	char *cwd = xasprintf("%s/cwd", sl->workdir);
	char *out_log = xasprintf("%s/stdout", sl->workdir);
	char *err_log = xasprintf("%s/stderr", sl->workdir);
	struct exec_stage xs = {
		.stage_id = s->id,
		.tag = sl,
		.steps = sl->steps,
		.steps_nr = sl->steps_nr,
		.env = &sl->env,
		.workdir = sl->workdir,
		.cwd = cwd,
		.stdout_path = out_log,
		.stderr_path = err_log,
		.want_progress = 1,
		.cpus = sched_cpus(&r->sched, sl->stage),
		.mem_bytes = res->mem_bytes,
		.gpus = res->gpus,
		.time_s = res->time_s,
		.recorded_job_id = NULL,
	};
	int rc = exec_start(r->ex, &xs, err);
	free(cwd);
	free(out_log);
	free(err_log);
	if (rc == 0) {
		XGROW(r->slots, r->slots_alloc, r->slots_nr + 1);
		r->slots[r->slots_nr++] = sl;
		record_job(r, sl);
	}
	return rc;
}

/* Start stage si (cache already missed), taking over `programs` (each
 * step's, stagecmd_programs). On failure, the stage is failed. */
static void start_stage(struct runner *r, size_t si, struct strvec *programs, const char *key,
			struct strbuf *record_text)
{
	const struct stage *s = &r->p->stages[si];
	struct slot *sl = slot_new(si, programs, key, record_text);
	struct strbuf err = STRBUF_INIT, wd = STRBUF_INIT;

	if (check_inputs_before(r, si, &err) < 0) {
		fail_before_start(r, si, key, err.buf);
		goto fail;
	}
	if (workdir_acquire(r, key, &wd, &err) < 0) {
		fail_before_start(r, si, key, err.buf);
		goto fail;
	}
	sl->workdir = strbuf_detach(&wd, NULL);
	sl->out_dir = xasprintf("%s/out", sl->workdir);
	prepare_slot(r, sl);
	sl->argv_json = steps_to_json(sl);
	sl->env_json = env_to_json(sl->env.v);
	sl->in_snap_nr = s->inputs_nr;
	sl->in_snap = xcalloc(s->inputs_nr + 1, sizeof(*sl->in_snap));
	for (size_t k = 0; k < s->inputs_nr; k++) {
		strbuf_init(&sl->in_snap[k], 0);
		if (r->outs[s->inputs[k].stage].path)
			snapshot_tree(r->outs[s->inputs[k].stage].path, &sl->in_snap[k]);
	}
	if (slot_exec_start(r, sl, &err) < 0) {
		struct strbuf ignored = STRBUF_INIT;
		remove_tree(sl->workdir, &ignored);
		strbuf_release(&ignored);
		fail_before_start(r, si, key, err.buf);
		goto fail;
	}
	progress_started(&r->prog, s->id);
	strbuf_release(&err);
	return;
fail:
	strbuf_release(&err);
	strbuf_release(&wd);
	slot_free(sl);
}

/* A dry run: hand the stage, prepared as a real run would (at the work
 * directory its key names, not created), to the dry executor, which starts
 * nothing and reports it at once (finish_dry). */
static void start_dry(struct runner *r, size_t si, struct fresh *f)
{
	const struct stage *s = &r->p->stages[si];
	struct slot *sl = slot_new(si, &f->programs, f->key, &f->record);
	struct strbuf err = STRBUF_INIT, wd = STRBUF_INIT;
	memcpy(sl->predicted, f->predicted, HASH_HEX_SIZE);
	sl->why = xstrdup(f->why.buf);
	store_workdir_path(r->st, f->key, &wd);
	sl->workdir = strbuf_detach(&wd, NULL);
	sl->out_dir = xasprintf("%s/out", sl->workdir);
	prepare_slot(r, sl);
	if (slot_exec_start(r, sl, &err) < 0) {
		r->counts->failed++;
		progress_finished(&r->prog, s->id, "failed", 0, err.buf);
		sched_done(&r->sched, si, 0);
		slot_free(sl);
	}
	strbuf_release(&err);
}

/* ---- --force and retries ---- */

/* The cached output a forced rerun of stage si replaces, or NULL when the
 * stage is not being forced. */
static const char *forced_tree(const struct runner *r, size_t si)
{
	if (!r->forced_from || !r->forced_from[si * HASH_HEX_SIZE])
		return NULL;
	return r->forced_from + si * HASH_HEX_SIZE;
}

/* How many attempts stage si gets: 1 + resources.retries, else 1 + --retries. */
static int max_attempts(const struct runner *r, size_t si)
{
	int n = r->p->stages[si].entry->res.retries;
	return 1 + (n >= 0 ? n : r->o->retries);
}

/* The reason recorded for an execution of stage si: `why` (what failed; "" when
 * it succeeded), then the notes, joined by "; " (docs/provenance.md):
 * "forced" when it ran only because of --force, with ", output changed from
 * sha256:A to sha256:B: the stage is not deterministic" when its new output
 * `out` differs from the one it replaces; "attempt N of M" on a retried
 * attempt and on every attempt after the first. */
static void compose_reason(const struct runner *r, size_t si, const char *why, const char *out,
			   int attempts, int retrying, struct strbuf *full)
{
	const char *was = forced_tree(r, si);
	strbuf_reset(full);
	strbuf_addstr(full, why);
	if (was) {
		strbuf_addstr(full, full->len ? "; forced" : "forced");
		if (out && strcmp(out, was))
			strbuf_addf(full, ", output changed from sha256:%.12s to sha256:%.12s: the"
				    " stage is not deterministic", was, out);
	}
	if (retrying || r->attempt[si] > 1)
		strbuf_addf(full, "%sattempt %d of %d", full->len ? "; " : "", r->attempt[si],
			    attempts);
}

/* A forced rerun that succeeded with another output than the cached one. */
static void warn_forced_change(struct runner *r, size_t si, const char *out)
{
	const char *was = forced_tree(r, si);
	if (!was || !strcmp(was, out))
		return;
	struct strbuf msg = STRBUF_INIT;
	strbuf_addf(&msg, "study: warning: %s: output changed: the forced rerun produced sha256:%.12s,"
		    " the cached output was sha256:%.12s; the stage is not deterministic (or"
		    " depends on something outside its cache key)\n",
		    r->p->stages[si].id, out, was);
	progress_print(&r->prog, msg.buf);
	strbuf_release(&msg);
}

/* Stage sl->stage failed and will be started again after RETRY_BACKOFF_S. */
static void queue_retry(struct runner *r, struct slot *sl)
{
	XGROW(r->retries, r->retries_alloc, r->retries_nr + 1);
	struct retry *rt = &r->retries[r->retries_nr++];
	rt->stage = sl->stage;
	rt->programs = sl->programs;
	strvec_init(&sl->programs);
	memcpy(rt->key, sl->key, HASH_HEX_SIZE);
	rt->record = xstrdup(sl->record.buf);
	rt->at = exec_now(r->ex) + RETRY_BACKOFF_S;
}

/* Start the retries that are due, before any new stage. */
static void launch_retries(struct runner *r)
{
	double now = exec_now(r->ex);
	for (size_t k = 0; k < r->retries_nr && !r->fatal && !interrupted;) {
		if (r->retries[k].at > now) {
			k++;
			continue;
		}
		struct retry rt = r->retries[k];
		r->retries[k] = r->retries[--r->retries_nr];
		struct strbuf record = STRBUF_INIT;
		strbuf_addstr(&record, rt.record);
		r->attempt[rt.stage]++;
		start_stage(r, rt.stage, &rt.programs, rt.key, &record);
		strbuf_release(&record);
		free(rt.record);
	}
}

/* The run stopped while stages waited for their next attempt: each is
 * recorded as interrupted (or, when an error stopped the run, failed). */
static void drop_retries(struct runner *r)
{
	struct strbuf why = STRBUF_INIT;
	for (size_t k = 0; k < r->retries_nr; k++) {
		struct retry *rt = &r->retries[k];
		size_t si = rt->stage;
		strbuf_reset(&why);
		if (interrupted)
			strbuf_addf(&why, "interrupted: the run received SIG%s before attempt %d of %d",
				    sigabbrev_np(interrupted) ? sigabbrev_np(interrupted) : "?",
				    r->attempt[si] + 1, max_attempts(r, si));
		else
			strbuf_addf(&why, "the run stopped on an error before attempt %d of %d",
				    r->attempt[si] + 1, max_attempts(r, si));
		struct prov_exec e;
		fill_exec_common(r, si, &e, NULL);
		e.status = interrupted ? "interrupted" : "failed";
		e.reason = why.buf;
		e.cache_key = rt->key;
		record(r, &e);
		if (interrupted) {
			r->counts->interrupted_stages++;
			r->stopped[si] = 1;
		} else {
			r->counts->failed++;
		}
		progress_finished(&r->prog, r->p->stages[si].id, e.status, 0, why.buf);
		sched_done(&r->sched, si, 0);
		strvec_clear(&rt->programs);
		free(rt->record);
	}
	r->retries_nr = 0;
	strbuf_release(&why);
}

/* Before the first stage starts, order the ready queue by longest remaining
 * path (critpath.h). Not before: a run that starts nothing, such as a no-op
 * rerun, never reads the durations; the first stage to start is the first
 * miss in plan order. */
static void prioritize(struct runner *r)
{
	if (sync_hits(r) < 0)
		return; /* the run stops */
	double *prio = xmalloc((r->p->nr ? r->p->nr : 1) * sizeof(*prio));
	struct strbuf err = STRBUF_INIT, msg = STRBUF_INIT;
	if (critpath_from_prov(r->p, r->pv, r->o->selected, prio, &err) < 0) {
		strbuf_addf(&msg, "study: warning: stage durations estimated: %s\n", err.buf);
		progress_print(&r->prog, msg.buf);
	}
	sched_set_priority(&r->sched, prio);
	strbuf_release(&err);
	strbuf_release(&msg);
	free(prio);
}

/* Release stages from the scheduler: each is looked up (freshness.h); hits
 * are settled at once, misses are started. A dry run starts them on the dry
 * executor, which runs nothing (finish_dry). */
static void launch_ready(struct runner *r)
{
	struct strbuf err = STRBUF_INIT;
	struct fresh_ctx fc = { r->p, r->st, r->o->dry_run ? r->pv : NULL, &r->cd,
				!r->o->dry_run, hit_usable, r };
	struct fresh f;
	fresh_init(&f);
	long i;
	launch_retries(r);
	while (!r->fatal && !interrupted && (i = sched_next(&r->sched)) >= 0) {
		size_t si = (size_t)i;
		const struct stage *s = &r->p->stages[si];
		strbuf_reset(&err);
		if (fresh_lookup(&fc, si, r->outs, &f, &err) < 0) {
			r->fatal = 1;
			strbuf_addstr(&r->fatal_err, err.buf);
			break;
		}
		if (f.state == FRESH_CANNOT_START) {
			if (r->o->dry_run) {
				r->counts->failed++;
				progress_finished(&r->prog, s->id, "failed", 0, f.why.buf);
				sched_done(&r->sched, si, 0);
			} else {
				fail_before_start(r, si, f.key[0] ? f.key : NULL, f.why.buf);
			}
			continue;
		}
		if (f.state == FRESH_UP_TO_DATE && r->o->forced && r->o->forced[si]) {
			/* --force: run it anyway; its entry stays until it succeeds */
			memcpy(r->forced_from + si * HASH_HEX_SIZE, f.tree, HASH_HEX_SIZE);
			memcpy(f.predicted, f.tree, HASH_HEX_SIZE);
			f.state = FRESH_WILL_RUN;
			strbuf_reset(&f.why);
			strbuf_addstr(&f.why, "forced");
			r->counts->forced++;
		}
		if (f.state == FRESH_UP_TO_DATE) {
			set_output(r, si, f.tree);
			r->outs[si].predicted = f.why.len > 0;
			if (!r->o->dry_run) {
				/* a reference to the producing execution (prov.h) */
				struct prov_exec e;
				fill_exec_common(r, si, &e, NULL);
				e.status = "cached";
				e.cache_key = f.key;
				e.output_digest = f.tree;
				record_hit(r, &e);
			}
			r->counts->cached++;
			progress_finished(&r->prog, s->id, "cached", 0, f.why.len ? f.why.buf : NULL);
			sched_done(&r->sched, si, 1);
			continue;
		}
		if (r->o->dry_run) {
			start_dry(r, si, &f);
			continue;
		}
		if (r->o->before_first_start && !r->started_any && sync_hits(r) == 0)
			r->o->before_first_start(r->o->before_first_start_ctx);
		if (!r->started_any)
			prioritize(r);
		r->started_any = 1;
		r->attempt[si] = 1;
		start_stage(r, si, &f.programs, f.key, &f.record);
	}
	fresh_release(&f);
	strbuf_release(&err);
}

/* ---- finishing a stage ---- */

/* The executor's callbacks (executor.h): a progress line, a stage's end. */
static void on_progress(void *ctx, void *tag, const char *line)
{
	struct runner *r = ctx;
	const struct slot *sl = tag;
	double f;
	if (sscanf(line, "progress %lf", &f) == 1)
		progress_fraction(&r->prog, r->p->stages[sl->stage].id, f);
}

static void on_done(void *ctx, const struct exec_report *rep)
{
	struct runner *r = ctx;
	for (size_t k = 0; k < r->slots_nr; k++) {
		struct slot *sl = r->slots[k];
		if (sl != rep->tag)
			continue;
		exec_report_copy(&sl->rep, rep);
		memmove(r->slots + k, r->slots + k + 1, (r->slots_nr - k - 1) * sizeof(*r->slots));
		r->slots_nr--;
		XGROW(r->done, r->done_alloc, r->done_nr + 1);
		r->done[r->done_nr++] = sl;
		return;
	}
}

/* The last lines of a log file, indented, for the failure report. */
static void log_tail(const char *path, const char *label, struct strbuf *out)
{
	struct strbuf content = STRBUF_INIT;
	if (strbuf_read_file(&content, path) < 0 || !content.len) {
		strbuf_release(&content);
		return;
	}
	strbuf_rtrim(&content);
	size_t lines = 0, i = content.len;
	while (i > 0) {
		if (content.buf[i - 1] == '\n' && ++lines == LOG_TAIL_LINES)
			break;
		i--;
	}
	strbuf_addf(out, "  --- %s (last %d lines) ---\n", label, LOG_TAIL_LINES);
	const char *line = content.buf + i;
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		strbuf_addstr(out, "  | ");
		strbuf_add(out, line, len);
		strbuf_addch(out, '\n');
		line = nl ? nl + 1 : line + len;
	}
	strbuf_release(&content);
}

static int dir_is_empty(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 1;
	}
	struct dirent *de;
	int empty = 1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

/* 1 (with the reason) when ${out} is no longer a real directory. */
static int out_not_dir(const char *out_dir, struct strbuf *why)
{
	struct stat sb;
	if (lstat(out_dir, &sb) != 0) {
		strbuf_addstr(why, "exit status 0 but ${out} is missing (the stage removed it)");
		return 1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		strbuf_addf(why, "exit status 0 but ${out} is %s, not a directory",
			    S_ISLNK(sb.st_mode) ? "a symbolic link" : "a file");
		return 1;
	}
	return 0;
}

/* How the stage ended; a stage of several steps names the step that ended
 * it: "step 2 of 3 (prog arg) exited with status 3". */
static void describe_exit(const struct runner *r, const struct slot *sl, struct strbuf *why)
{
	const struct entry *e = r->p->stages[sl->stage].entry;
	const struct exec_report *rep = &sl->rep;
	int step = rep->step > 0 && (size_t)rep->step <= e->steps_nr ? rep->step : 0;
	struct strbuf label = STRBUF_INIT;
	if (step)
		stagecmd_step_label(e, (size_t)step - 1, &label);
	if (rep->timed_out) {
		strbuf_addf(why, "timed out after %.0fs (resources.time), killed", e->res.time_s);
		if (step)
			strbuf_addf(why, " in %s", label.buf);
		if (rep->detail)
			strbuf_addf(why, " (%s)", rep->detail);
	} else if (rep->over_memory) {
		/* "over memory limit (resources.mem 10M; peak resident memory
		 * 154.6M), killed": the executor's detail says what it saw */
		strbuf_addstr(why, "over memory limit (resources.mem ");
		exec_add_size(why, e->res.mem_bytes);
		if (rep->detail)
			strbuf_addf(why, "; %s", rep->detail);
		strbuf_addch(why, ')');
		if (rep->term_signal)
			strbuf_addstr(why, ", killed");
		if (step)
			strbuf_addf(why, " in %s", label.buf);
	} else if (rep->reason) {
		strbuf_addstr(why, rep->reason);
	} else if (step && rep->step_errno) {
		strbuf_addf(why, "%s could not be executed: %s", label.buf,
			    strerror(rep->step_errno));
	} else if (rep->term_signal) {
		strbuf_addf(why, "%s%skilled by signal %d (%s)", label.buf, step ? " " : "",
			    rep->term_signal, strsignal(rep->term_signal));
	} else if (step) {
		strbuf_addf(why, "%s exited with status %d", label.buf, rep->exit_code);
	} else {
		strbuf_addf(why, "exit status %d", rep->exit_code);
	}
	strbuf_release(&label);
}

static void finish_stage(struct runner *r, struct slot *sl)
{
	const size_t si = sl->stage;
	const struct stage *s = &r->p->stages[si];
	struct strbuf err = STRBUF_INIT, reason = STRBUF_INIT, tail = STRBUF_INIT;
	struct strbuf path = STRBUF_INIT, metrics = STRBUF_INIT;
	char out_hex[HASH_HEX_SIZE] = "", log_out[HASH_HEX_SIZE] = "", log_err[HASH_HEX_SIZE] = "";
	uint64_t nfiles = 0, nbytes = 0;
	const struct exec_report *rep = &sl->rep;
	int ok = rep->exit_code == 0 && !rep->term_signal && !rep->timed_out && !rep->over_memory &&
		 !rep->reason;
	int have_metrics = 0;
	int proc_failed = 0; /* the stage's own process failed: it may be retried */

	if (sl->stopped) {
		/* we sent it TERM because the run was interrupted: whatever it
		 * wrote on the way out (a checkpoint, then exit 0) is not its
		 * output, and must never be cached */
		ok = 0;
		if (!rep->term_signal && rep->exit_code == 0 && !rep->reason)
			strbuf_addstr(&reason, "stopped with TERM, it exited with status 0;"
					       " what it wrote is not kept");
		else
			describe_exit(r, sl, &reason);
	} else if (check_inputs(r, sl, &reason) < 0) {
		if (!ok) {
			strbuf_addstr(&reason, "; ");
			describe_exit(r, sl, &reason);
		}
		ok = 0;
	} else if (!ok) {
		describe_exit(r, sl, &reason);
		proc_failed = 1;
	} else if (out_not_dir(sl->out_dir, &reason))
		ok = 0; /* removed or replaced (a symlink would make us ingest its target) */
	else if (dir_is_empty(sl->out_dir)) {
		ok = 0;
		strbuf_addstr(&reason, "exit status 0 but ${out} is empty");
	}

	/* the failure report reads the logs before they move into the store */
	if (!ok) {
		strbuf_addf(&path, "%s/stderr", sl->workdir);
		log_tail(path.buf, "stderr", &tail);
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/stdout", sl->workdir);
		log_tail(path.buf, "stdout", &tail);
	}

	if (ok) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/metrics.json", sl->out_dir);
		have_metrics = strbuf_read_file(&metrics, path.buf) == 0;
		if (store_put_tree(r->st, sl->out_dir, 1, out_hex, &nfiles, &nbytes, &err) < 0) {
			ok = 0;
			strbuf_addf(&reason, "cannot store output: %s", err.buf);
			out_hex[0] = '\0';
		}
	}
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/stdout", sl->workdir);
	strbuf_reset(&err);
	if (store_log(r, path.buf, log_out, &err) < 0)
		log_out[0] = '\0';
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/stderr", sl->workdir);
	if (store_log(r, path.buf, log_err, &err) < 0)
		log_err[0] = '\0';

	const int attempts = max_attempts(r, si);
	const int retry = proc_failed && r->attempt[si] < attempts && !interrupted && !r->fatal;
	struct strbuf full = STRBUF_INIT; /* the recorded reason: why, then notes */
	struct prov_input *inputs = xcalloc(s->inputs_nr + 1, sizeof(*inputs));
	struct prov_exec e;
	fill_exec_common(r, si, &e, inputs);
	e.cache_key = sl->key;
	e.cache_record = sl->record.buf;
	e.argv_json = sl->argv_json;
	e.env_json = sl->env_json;
	e.exit_code = rep->term_signal ? -1 : rep->exit_code;
	e.term_signal = rep->term_signal;
	e.timed_out = rep->timed_out;
	e.started = rep->started;
	e.ended = rep->ended;
	e.cpu_s = rep->cpu_s;             /* the stage's own (executor.h) */
	e.peak_rss_kb = rep->peak_rss_kb;
	e.executor = rep->executor;
	e.job_id = rep->job_id;
	e.host = rep->host;
	e.queue = rep->queue;
	e.queue_wait_s = rep->queue_wait_s;
	e.over_memory = rep->over_memory;
	e.mem_enforcement = rep->mem_enforcement;
	e.stdout_digest = log_out[0] ? log_out : NULL;
	e.stderr_digest = log_err[0] ? log_err : NULL;
	if (ok) {
		e.status = "ran";
		e.output_digest = out_hex;
		e.output_files = nfiles;
		e.output_bytes = nbytes;
		e.metrics_json = have_metrics ? metrics.buf : NULL;
	} else if (interrupted && (sl->stopped || rep->term_signal)) {
		/* stopped by us because the run was interrupted: not the stage's fault */
		char *was = strbuf_detach(&reason, NULL);
		strbuf_addf(&reason, "interrupted: the run received SIG%s (%s)",
			    sigabbrev_np(interrupted) ? sigabbrev_np(interrupted) : "?", was);
		free(was);
		e.status = "interrupted";
	} else {
		e.status = retry ? "retried" : "failed";
	}
	compose_reason(r, si, reason.buf, ok ? out_hex : NULL, attempts, retry, &full);
	e.reason = full.len ? full.buf : NULL;

	if (!r->fatal && ensure_txn(r) == 0 && sync_hits(r) == 0) {
		int64_t id;
		strbuf_reset(&err);
		if (prov_record_exec(r->pv, &e, &id, &err) < 0) {
			if (ok && have_metrics) {
				/* a bad metrics.json fails the stage, not the run */
				ok = 0;
				strbuf_addstr(&reason, err.buf);
				compose_reason(r, si, reason.buf, NULL, attempts, 0, &full);
				e.status = "failed";
				e.reason = full.buf;
				e.output_digest = NULL;
				e.metrics_json = NULL;
				strbuf_reset(&err);
				if (prov_record_exec(r->pv, &e, &id, &err) < 0) {
					r->fatal = 1;
					strbuf_addstr(&r->fatal_err, err.buf);
				}
			} else {
				r->fatal = 1;
				strbuf_addstr(&r->fatal_err, err.buf);
			}
		}
	}
	free(inputs);

	double secs = rep->wall_s;
	if (retry) {
		/* not finished: the scheduler keeps its slots until the next attempt */
		r->counts->retried++;
		queue_retry(r, sl);
		strbuf_addf(&full, "; trying again in %.0fs", RETRY_BACKOFF_S);
		progress_retry(&r->prog, s->id, secs, full.buf);
		if (tail.len)
			progress_print(&r->prog, tail.buf);
		/* not a spare: spares keep their name, work/<key>, which the
		 * next attempt of this same key is about to take */
		struct strbuf ignored = STRBUF_INIT;
		remove_tree(sl->workdir, &ignored);
		strbuf_release(&ignored);
		goto done;
	}
	if (ok) {
		warn_forced_change(r, si, out_hex);
		set_output(r, si, out_hex);
		XGROW(r->pend, r->pend_alloc, r->pend_nr + 1);
		memcpy(r->pend[r->pend_nr].key, sl->key, HASH_HEX_SIZE);
		memcpy(r->pend[r->pend_nr].tree, out_hex, HASH_HEX_SIZE);
		r->pend_nr++;
		r->counts->ran++;
		progress_finished(&r->prog, s->id, "ran", secs, full.len ? full.buf : NULL);
	} else if (!strcmp(e.status, "interrupted")) {
		r->counts->interrupted_stages++;
		r->stopped[si] = 1;
		progress_finished(&r->prog, s->id, "interrupted", secs, full.buf);
	} else {
		r->counts->failed++;
		progress_finished(&r->prog, s->id, "failed", secs, full.buf);
		if (tail.len)
			progress_print(&r->prog, tail.buf);
	}
	sched_done(&r->sched, si, ok);

	workdir_release(r, sl);
done:
	strbuf_release(&full);
	strbuf_release(&err);
	strbuf_release(&reason);
	strbuf_release(&tail);
	strbuf_release(&path);
	strbuf_release(&metrics);
}

/* A dry run's stage came back from the dry executor: it would run. It passes
 * on the output recorded for its key, if any, as a prediction, exactly as
 * `status` does. */
static void finish_dry(struct runner *r, struct slot *sl)
{
	size_t si = sl->stage;
	if (sl->predicted[0]) {
		memcpy(r->outs[si].digest, sl->predicted, HASH_HEX_SIZE);
		r->outs[si].predicted = 1;
	}
	r->counts->would_run++;
	progress_finished(&r->prog, r->p->stages[si].id, "would run", 0, sl->why);
	sched_done(&r->sched, si, 1);
}

/* Deal with the stages the executor reported, in the order it did. */
static void finish_done(struct runner *r)
{
	for (size_t k = 0; k < r->done_nr; k++) {
		struct slot *sl = r->done[k];
		if (sl->rep.dry)
			finish_dry(r, sl);
		else
			finish_stage(r, sl);
		slot_free(sl);
	}
	r->done_nr = 0;
}

/* Wait for the executor: stages ending, progress, an interrupt, the next
 * retry, or the live line's next redraw. */
static void wait_events(struct runner *r)
{
	double now = exec_now(r->ex), t = r->prog.tty ? 0.2 : 1.0;
	for (size_t k = 0; k < r->retries_nr; k++)
		if (r->retries[k].at - now < t)
			t = r->retries[k].at - now;
	exec_poll(r->ex, t < 0 ? 0 : t, wake_pipe[0]);
	drain_wake_pipe();
	finish_done(r);
	progress_tick(&r->prog);
}

/* Interrupted: stop every running stage (exec_cancel: TERM, then KILL), wait
 * for them, record them. */
static void stop_all(struct runner *r)
{
	for (size_t k = 0; k < r->slots_nr; k++) {
		r->slots[k]->stopped = 1;
		exec_cancel(r->ex, r->slots[k]);
	}
	while (exec_running(r->ex))
		exec_poll(r->ex, 0.05, -1);
	finish_done(r);
}

/* ---- every stage of the plan is accounted for ----
 *
 * A stage that never started is recorded too: 'skipped' when an upstream
 * stage failed (naming it), 'not-started' when the run stopped before it
 * could start (the first failure without --keep-going, an interrupt, an
 * orchestrator error). ran + cached + failed + interrupted + skipped +
 * not started = the stages of the plan, in the summary and the database.
 */

/* The failed stage upstream of skipped stage i (followed through skipped
 * inputs; the scheduler only skips downstream of a failure). */
static size_t skip_cause(const struct runner *r, size_t i)
{
	size_t cur = i;
	for (size_t depth = 0; depth <= r->p->nr; depth++) {
		const struct stage *s = &r->p->stages[cur];
		long next = -1;
		for (size_t k = 0; k < s->inputs_nr; k++) {
			size_t in = s->inputs[k].stage;
			if (plan_node_is_external(r->p, in))
				continue; /* imported before the run: never failed */
			if (r->sched.state[in] == ST_FAILED)
				return in;
			if (r->sched.state[in] == ST_SKIPPED && next < 0)
				next = (long)in;
		}
		if (next < 0)
			break;
		cur = (size_t)next;
	}
	return cur;
}

static void account_unfinished(struct runner *r)
{
	const struct plan *p = r->p;
	struct strbuf why = STRBUF_INIT;
	const char *stopped_by = r->fatal ? "the run stopped on an error"
				 : interrupted ? "the run was interrupted"
				 : r->o->keep_going ? "the run stopped"
						    : "the run stopped after the first failure"
						      " (use --keep-going to run the stages that do"
						      " not depend on it)";
	for (size_t i = 0; i < p->nr; i++) {
		enum stage_state stt = r->sched.state[i];
		const char *status;
		strbuf_reset(&why);
		size_t cause = stt == ST_SKIPPED ? skip_cause(r, i) : i;
		if (stt == ST_SKIPPED && !r->stopped[cause]) {
			strbuf_addf(&why, "upstream '%s' failed", p->stages[cause].id);
			status = "skipped";
			r->counts->skipped++;
		} else if (stt == ST_WAITING || stt == ST_READY || stt == ST_SKIPPED) {
			/* downstream of a stage the interrupt stopped: not skipped */
			strbuf_addf(&why, "not started: %s", stopped_by);
			status = "not-started";
			r->counts->not_started++;
		} else {
			continue;
		}
		if (r->pv && !r->o->dry_run) {
			struct prov_exec e;
			fill_exec_common(r, i, &e, NULL);
			e.status = status;
			e.reason = why.buf;
			record(r, &e);
		}
		if (r->prog.verbose)
			progress_finished(&r->prog, p->stages[i].id, status, 0, why.buf);
	}
	strbuf_release(&why);
}

int runner_run(const struct plan *p, struct store *st, struct prov *pv,
	       const struct run_opts *o, int64_t run_id, struct run_counts *counts,
	       struct strbuf *err)
{
	struct runner r;
	memset(&r, 0, sizeof(r));
	memset(counts, 0, sizeof(*counts));
	r.p = p;
	r.st = st;
	r.pv = pv;
	r.hw = pv && !o->dry_run ? hit_writer_start(pv) : NULL;
	r.o = o;
	r.run_id = run_id;
	r.counts = counts;
	strbuf_init(&r.fatal_err, 0);
	/* one slot per input node: the stages, then the external inputs */
	r.outs = xcalloc(p->nr + p->externals_nr + 1, sizeof(*r.outs));
	for (size_t x = 0; x < p->externals_nr && o->externals; x++) {
		r.outs[p->nr + x] = o->externals[x];
		r.outs[p->nr + x].path = o->externals[x].path ? xstrdup(o->externals[x].path) : NULL;
	}
	r.stopped = xcalloc(p->nr ? p->nr : 1, 1);
	r.attempt = xcalloc(p->nr ? p->nr : 1, sizeof(*r.attempt));
	if (o->forced)
		r.forced_from = xcalloc(p->nr ? p->nr : 1, HASH_HEX_SIZE);
	size_t selected = p->nr;
	for (size_t i = 0; o->selected && i < p->nr; i++)
		if (!o->selected[i])
			selected--;
	counts->not_selected = (int)(p->nr - selected);
	r.ex = o->executor;
	if (!r.ex) {
		struct exec_local_opts lo = { o->jobs, 0, -1 };
		r.ex = r.own_ex = o->dry_run ? exec_dry_new(NULL) : exec_local_new(&lo, err);
		if (!r.ex) {
			hit_writer_stop(r.hw);
			free(r.outs);
			free(r.stopped);
			free(r.attempt);
			free(r.forced_from);
			strbuf_release(&r.fatal_err);
			return -1;
		}
	}
	exec_set_callbacks(r.ex, on_done, on_progress, &r);
	exec_caps(r.ex, &r.caps);
	code_digests_init(&r.cd);
	sched_init_subset(&r.sched, p, o->jobs, o->keep_going, o->selected);
	sched_set_pools(&r.sched, r.caps.mem_pool, r.caps.gpu_slots);
	progress_init(&r.prog, stderr, selected, o->verbose);
	if (install_signals(err) < 0) {
		hit_writer_stop(r.hw);
		return -1;
	}

	for (;;) {
		launch_ready(&r);
		if (r.jobs_unflushed) {
			r.jobs_unflushed = 0;
			flush_round(&r);
		}
		if (r.fatal || interrupted)
			break;
		if (sched_idle(&r.sched))
			break;
		wait_events(&r);
		flush_round(&r);
		if (r.fatal || interrupted)
			break;
	}
	if (interrupted || r.fatal) {
		stop_all(&r);
		counts->interrupted = interrupted;
	}
	drop_retries(&r);
	account_unfinished(&r);
	flush_round(&r);
	sync_hits(&r);
	hit_writer_stop(r.hw);
	progress_end(&r.prog);
	restore_signals();

	int rc = 0;
	if (r.fatal) {
		strbuf_addstr(err, r.fatal_err.buf);
		rc = -1;
	}
	for (size_t i = 0; i < p->nr + p->externals_nr; i++)
		free(r.outs[i].path);
	free(r.outs);
	free(r.stopped);
	free(r.attempt);
	free(r.forced_from);
	free(r.retries);
	free(r.slots);
	free(r.done);
	exec_destroy(r.own_ex);
	free(r.pend);
	for (size_t i = 0; i < r.spare_nr; i++) {
		struct strbuf ignored = STRBUF_INIT;
		remove_tree(r.spare_wd[i], &ignored);
		strbuf_release(&ignored);
		free(r.spare_wd[i]);
	}
	free(r.spare_wd);
	code_digests_release(&r.cd);
	sched_release(&r.sched);
	progress_release(&r.prog);
	strbuf_release(&r.fatal_err);
	return rc;
}
