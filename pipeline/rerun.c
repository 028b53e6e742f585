/*
 * rerun: re-execute a recorded stage from its recorded argv, environment and
 * input digests, at its recorded work directory when it is this store's (else
 * in a scratch directory), and compare the output tree digest with the
 * recorded one, naming the first differing file (see rerun.h).
 */
#include "rerun.h"
#include "executor.h"
#include "fsutil.h"
#include "prov_query.h"
#include "tree.h"
#include "verify.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

const char *rerun_status_name(enum rerun_status s)
{
	switch (s) {
	case RERUN_IDENTICAL: return "identical";
	case RERUN_DIFFERENT: return "different";
	default: return "failed";
	}
}

void rerun_result_release(struct rerun_result *res)
{
	free(res->stage);
	free(res->detail);
	memset(res, 0, sizeof(*res));
}

static void push_id(int64_t **ids, size_t *nr, size_t *alloc, int64_t id)
{
	for (size_t i = 0; i < *nr; i++)
		if ((*ids)[i] == id)
			return;
	XGROW(*ids, *alloc, *nr + 1);
	(*ids)[(*nr)++] = id;
}

struct pick {
	int64_t id;
	char key[HASH_HEX_SIZE];
};

static int cmp_pick_key(const void *a, const void *b)
{
	return strcmp(((const struct pick *)a)->key, ((const struct pick *)b)->key);
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int rerun_select(struct prov *p, const char *stage, long sample, int64_t **ids, size_t *nr,
		 struct strbuf *err)
{
	size_t alloc = 0;
	*ids = NULL;
	*nr = 0;
	if (stage) {
		int64_t id = 0;
		if (prov_stage_latest_ran_id(p, stage, &id, err) < 0)
			return -1;
		if (!id) {
			strbuf_addf(err, "no successful execution of stage '%s' recorded", stage);
			return -1;
		}
		push_id(ids, nr, &alloc, id);
		return 0;
	}
	/* every stage of the latest run; a cache hit stands for the execution
	 * that produced its output */
	struct prov_stage_exec *execs;
	size_t en;
	if (prov_latest_run_producers(p, &execs, &en, err) < 0)
		return -1;
	struct pick *picks = NULL;
	size_t pn = 0, palloc = 0;
	for (size_t i = 0; i < en; i++) {
		XGROW(picks, palloc, pn + 1);
		picks[pn].id = execs[i].exec_id;
		hash_str_hex(execs[i].stage_id, picks[pn].key);
		pn++;
	}
	prov_stage_execs_free(execs, en);
	if (sample > 0 && (size_t)sample < pn) {
		qsort(picks, pn, sizeof(*picks), cmp_pick_key);
		pn = (size_t)sample;
	}
	for (size_t i = 0; i < pn; i++)
		push_id(ids, nr, &alloc, picks[i].id);
	free(picks);
	if (*nr)
		qsort(*ids, *nr, sizeof(**ids), cmp_id);
	return 0;
}

/* Replace every occurrence of `from` in s by `to` (s replaced in place). */
static void replace_all(char **s, const char *from, const char *to)
{
	size_t fl = strlen(from);
	if (!fl || !strstr(*s, from))
		return;
	struct strbuf sb = STRBUF_INIT;
	const char *p = *s, *hit;
	while ((hit = strstr(p, from))) {
		strbuf_add(&sb, p, (size_t)(hit - p));
		strbuf_addstr(&sb, to);
		p = hit + fl;
	}
	strbuf_addstr(&sb, p);
	free(*s);
	*s = strbuf_detach(&sb, NULL);
}

struct recorded {
	char *stage;
	int64_t run;
	char *argv_json, *env_json, *output;
	char **inputs; /* digests */
	size_t inputs_nr;
};

static void recorded_release(struct recorded *r)
{
	free(r->stage);
	free(r->argv_json);
	free(r->env_json);
	free(r->output);
	for (size_t i = 0; i < r->inputs_nr; i++)
		free(r->inputs[i]);
	free(r->inputs);
}

/* The recorded execution, its strings moved into r (empty on failure). */
static int load_recorded(struct prov *p, int64_t id, struct recorded *r, struct strbuf *err)
{
	struct prov_replay x;
	int rc = prov_get_replay(p, id, &x, err);
	memset(r, 0, sizeof(*r));
	if (rc <= 0) {
		if (rc == 0)
			strbuf_addf(err, "no execution %lld recorded", (long long)id);
		prov_replay_release(&x);
		return -1;
	}
	r->stage = x.stage_id;
	r->run = x.run_id;
	r->argv_json = x.argv_json;
	r->env_json = x.env_json;
	r->output = x.output_digest;
	r->inputs = x.input_digests;
	r->inputs_nr = x.inputs_nr;
	return 0;
}

/* The recorded argv (docs/provenance.md): one step's array of strings, or an
 * array of such arrays for a stage of several steps. Each step non-empty. */
static int usable_steps(const cJSON *argv)
{
	if (!cJSON_IsArray(argv) || cJSON_GetArraySize(argv) < 1)
		return 0;
	if (!cJSON_IsArray(argv->child))
		return 1;
	const cJSON *step;
	cJSON_ArrayForEach(step, argv)
		if (!cJSON_IsArray(step) || cJSON_GetArraySize(step) < 1)
			return 0;
	return 1;
}

/* A usable recorded argv as an array of steps (each an argv array): itself
 * when it has several steps, else wrapped in a new one-element array. */
static cJSON *as_steps(cJSON *argv)
{
	if (cJSON_IsArray(argv->child))
		return argv;
	cJSON *steps = cJSON_CreateArray();
	cJSON_AddItemToArray(steps, argv);
	return steps;
}

/* "step 2 of 3 (toyllm align): " for a failure message: the program's base
 * name and its first argument, as run. */
static void step_label(const struct strvec *steps, size_t nsteps, size_t k, struct strbuf *out)
{
	const struct strvec *sv = &steps[k];
	const char *prog = sv->nr ? sv->v[0] : "?", *slash = strrchr(prog, '/');
	strbuf_addf(out, "step %zu of %zu (%s", k + 1, nsteps, slash ? slash + 1 : prog);
	if (sv->nr > 1)
		strbuf_addf(out, " %.40s", sv->v[1]);
	strbuf_addstr(out, "): ");
}

/* The executor's report of the one stage a rerun starts. */
struct rerun_wait {
	int done;
	struct exec_report rep;
};

static void rerun_done(void *ctx, const struct exec_report *rep)
{
	struct rerun_wait *w = ctx;
	exec_report_copy(&w->rep, rep);
	w->done = 1;
}

/* Run the stage on the executor to its end; its time limit is timeout_s
 * (the executor's kill policy: TERM, then KILL EXEC_KILL_GRACE_S later).
 * Returns 0 with the report in w, or -1 with err when it could not start. */
static int run_stage(struct executor *ex, struct exec_stage *xs, double timeout_s,
		     struct rerun_wait *w, struct strbuf *err)
{
	memset(w, 0, sizeof(*w));
	xs->tag = w;
	xs->time_s = timeout_s > 0 ? timeout_s : 0;
	exec_set_callbacks(ex, rerun_done, NULL, w);
	if (exec_start(ex, xs, err) < 0)
		return -1;
	while (!w->done)
		exec_poll(ex, 1.0, -1);
	return 0;
}

static void set_failed(struct rerun_result *res, const char *fmt, const char *a, const char *b)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, fmt, a, b);
	res->status = RERUN_FAILED;
	free(res->detail);
	res->detail = strbuf_detach(&sb, NULL);
}

/* The first line of the file at path, for a failure message. */
static void first_line(const char *path, struct strbuf *out)
{
	struct strbuf sb = STRBUF_INIT;
	if (strbuf_read_file(&sb, path) == 0) {
		strbuf_rtrim(&sb);
		char *nl = strrchr(sb.buf, '\n');
		strbuf_addstr(out, nl ? nl + 1 : sb.buf);
	}
	strbuf_release(&sb);
}

/* The collection that removed `digest` (0: none, or unknown). */
static int64_t collected_by(struct prov *p, const char *digest)
{
	struct strbuf err = STRBUF_INIT;
	int64_t gc = 0;
	if (prov_collected_by(p, digest, &gc, &err) < 0)
		gc = 0;
	strbuf_release(&err);
	return gc;
}

static void compare_outputs(struct store *st, struct prov *p, struct store *scratch,
			    struct rerun_result *res)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT, err = STRBUF_INIT, d = STRBUF_INIT;
	struct tree ma = TREE_INIT, mb = TREE_INIT;
	store_tree_manifest_path(st, res->recorded, &a);
	store_tree_manifest_path(scratch, res->got, &b);
	res->status = RERUN_DIFFERENT;
	int64_t gc = 0;
	if (!store_has_tree(st, res->recorded) && access(a.buf, F_OK) != 0)
		gc = collected_by(p, res->recorded);
	if (gc) {
		/* only the digests can be compared (docs/store.md, "Garbage collection") */
		strbuf_addf(&d, "output digest %.12s, recorded %.12s (the recorded output was"
			    " removed by gc %lld: the first differing file cannot be named)",
			    res->got, res->recorded, (long long)gc);
	} else if (tree_read(a.buf, NULL, &ma, &err) < 0 || tree_read(b.buf, NULL, &mb, &err) < 0) {
		strbuf_addf(&d, "output digest %.12s, recorded %.12s (%s)", res->got, res->recorded,
			    err.buf);
	} else {
		tree_first_difference(&ma, &mb, "recorded output", "rerun", 0, &d, NULL);
		struct strbuf full = STRBUF_INIT;
		strbuf_addf(&full, "first difference: %s", d.len ? d.buf : "(manifests equal)");
		strbuf_release(&d);
		d = full;
	}
	res->detail = strbuf_detach(&d, NULL);
	tree_release(&ma);
	tree_release(&mb);
	strbuf_release(&a);
	strbuf_release(&b);
	strbuf_release(&err);
}

/* The cache key when the recorded work directory `wd` is this store's
 * work/<key> (store_workdir_path), else NULL; *old_style is set when wd is
 * under this store's work/ but not named by a key (recorded before work
 * directories were: work/<label>-XXXXXX). Returns a pointer into wd. */
static const char *recorded_key(const struct store *st, const char *wd, int *old_style)
{
	size_t rl = strlen(st->root);
	*old_style = 0;
	if (strncmp(wd, st->root, rl) || strncmp(wd + rl, "/work/", 6))
		return NULL;
	const char *name = wd + rl + 6;
	if (strlen(name) == HASH_HEX_SIZE - 1 && hash_hex_valid(name))
		return name;
	*old_style = !strchr(name, '/');
	return NULL;
}

static int errno_read_only(int e)
{
	return e == EACCES || e == EPERM || e == EROFS;
}

#define WHY_MOVED "the store is not where the stage ran"
#define WHY_READ_ONLY "the store is read-only"
#define WHY_OLD "the stage ran before work directories were named by cache key"

int rerun_exec(struct executor *ex, struct store *st, struct prov *p, int64_t exec_id,
	       double timeout_s, struct rerun_result *res, struct strbuf *err)
{
	struct recorded rec;
	struct strvec *steps = NULL, envv = STRVEC_INIT;
	size_t nsteps = 0;
	struct rerun_wait w;
	struct store scratch;
	char *tmpl = NULL, *old_wd = NULL, *new_wd = NULL;
	struct strbuf path = STRBUF_INIT, e2 = STRBUF_INIT;
	cJSON *argv = NULL, *env = NULL;
	const char *why_scratch = NULL; /* NULL: at the recorded paths, lock held */
	int locked = 0, ran = 0, ret = -1;

	memset(res, 0, sizeof(*res));
	memset(&scratch, 0, sizeof(scratch));
	scratch.lock_fd = -1;
	memset(&w, 0, sizeof(w));
	if (load_recorded(p, exec_id, &rec, err) < 0)
		return -1;
	res->exec_id = exec_id;
	res->run_id = rec.run;
	res->stage = xstrdup(rec.stage ? rec.stage : "?");
	snprintf(res->recorded, sizeof(res->recorded), "%s", rec.output ? rec.output : "");
	ret = 0;

	argv = rec.argv_json ? cJSON_Parse(rec.argv_json) : NULL;
	env = rec.env_json ? cJSON_Parse(rec.env_json) : NULL;
	if (!usable_steps(argv) || !cJSON_IsObject(env) || !rec.output) {
		set_failed(res, "%s%s", "no usable recorded argv, environment or output", "");
		goto out;
	}
	argv = as_steps(argv);
	const cJSON *step;
	cJSON_ArrayForEach(step, argv) {
		const cJSON *prog = cJSON_GetArrayItem(step, 0);
		if (!cJSON_IsString(prog) || access(prog->valuestring, X_OK) < 0) {
			set_failed(res, "program '%s' is missing%s (it must be at its recorded path)",
				   cJSON_IsString(prog) ? prog->valuestring : "?", "");
			goto out;
		}
	}
	const cJSON *out_env = cJSON_GetObjectItemCaseSensitive(env, "STUDY_OUT");
	if (!cJSON_IsString(out_env) || !strrchr(out_env->valuestring, '/')) {
		set_failed(res, "the recorded environment has no STUDY_OUT%s%s", "", "");
		goto out;
	}
	old_wd = xstrndup(out_env->valuestring,
			  (size_t)(strrchr(out_env->valuestring, '/') - out_env->valuestring));

	/* Where to run: at the recorded work directory <store>/work/<key> when
	 * it is this store's, holding the writer lock (work/ is the lock
	 * holder's); else in a scratch directory, rewriting the paths. */
	int old_style = 0;
	const char *key = recorded_key(st, old_wd, &old_style);
	if (!key) {
		why_scratch = old_style ? WHY_OLD : WHY_MOVED;
	} else if (store_lock(st, 0, &e2) < 0) {
		int e = errno;
		if (e == EWOULDBLOCK) {
			set_failed(res, "%s%s", "the store is in use by a run; verify --rerun needs it idle",
				   "");
			goto out;
		}
		if (!errno_read_only(e)) {
			set_failed(res, "%s%s", e2.buf, "");
			goto out;
		}
		why_scratch = WHY_READ_ONLY;
	} else {
		locked = 1;
	}

	/* a scratch directory for the output store (and the work directory
	 * when not at the recorded one): <tmp>/study-rerun-XXXXXX/{store,wd} */
	const char *tmpdir = getenv("TMPDIR");
	tmpl = xasprintf("%s/study-rerun-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(tmpl)) {
		strbuf_addf(err, "cannot create a scratch directory '%s': %s", tmpl,
			    strerror(errno));
		free(tmpl);
		tmpl = NULL;
		ret = -1;
		goto out;
	}
	strbuf_reset(&path);
	strbuf_reset(&e2);
	strbuf_addf(&path, "%s/store", tmpl);
	if (store_open(&scratch, path.buf, &e2) < 0) {
		set_failed(res, "%s%s", e2.buf, "");
		goto out;
	}

	/* the recorded inputs, as directories of this store, checked before use */
	struct strvec from = STRVEC_INIT, to = STRVEC_INIT;
	const char *work = strstr(old_wd, "/work/");
	for (size_t i = 0; (locked || work) && i < rec.inputs_nr; i++) {
		strbuf_reset(&path);
		strbuf_reset(&e2);
		struct stat isb;
		store_tree_manifest_path(st, rec.inputs[i], &path);
		int is_object = 0;
		if (hash_hex_valid(rec.inputs[i]) && stat(path.buf, &isb) != 0) {
			/* no manifest: a file input's object, when there is one (a tree
			 * study gc removed has neither, and is told apart below) */
			struct strbuf op = STRBUF_INIT;
			store_object_path(st, rec.inputs[i], &op);
			is_object = stat(op.buf, &isb) == 0 || !collected_by(p, rec.inputs[i]);
			strbuf_release(&op);
		}
		if (is_object) {
			/* an external input that is one file: its object (extinput.h) */
			int ok = store_object_check(st, rec.inputs[i], 0, &e2);
			store_object_path(st, rec.inputs[i], &path);
			if (ok <= 0) {
				if (!ok)
					strbuf_addf(&e2, "'%s' is missing from the store or damaged",
						    path.buf);
				set_failed(res, "input: %s%s", e2.buf, "");
				strvec_clear(&from);
				strvec_clear(&to);
				goto out;
			}
		} else if (store_tree_path(st, rec.inputs[i], &path, &e2) < 0 ||
		    store_tree_intact(st, rec.inputs[i], &e2) < 0) {
			int64_t gc = collected_by(p, rec.inputs[i]);
			if (gc && !store_has_tree(st, rec.inputs[i])) {
				strbuf_reset(&e2);
				strbuf_addf(&e2, "tree '%s' was removed by gc %lld; run the study to"
					    " make it again", rec.inputs[i], (long long)gc);
			}
			set_failed(res, "input: %s%s", e2.buf, "");
			strvec_clear(&from);
			strvec_clear(&to);
			goto out;
		}
		if (!work)
			continue;
		if (is_object)
			strvec_pushf(&from, "%.*s/objects/%.2s/%s", (int)(work - old_wd), old_wd,
				     rec.inputs[i], rec.inputs[i]);
		else
			strvec_pushf(&from, "%.*s/out/%s", (int)(work - old_wd), old_wd,
				     rec.inputs[i]);
		strvec_push(&to, path.buf);
	}

	strbuf_reset(&e2);
	if (locked) {
		/* the recorded paths: argv and environment run unchanged */
		strbuf_reset(&path);
		int rc = store_make_workdir(st, key, &path, &e2);
		if (rc < 0 && errno_read_only(errno)) {
			store_unlock(st);
			locked = 0;
			why_scratch = WHY_READ_ONLY;
		} else if (rc < 0) {
			set_failed(res, "%s%s", e2.buf, "");
			strvec_clear(&from);
			strvec_clear(&to);
			goto out;
		} else {
			new_wd = strbuf_detach(&path, NULL);
			strvec_clear(&from);
			strvec_clear(&to);
		}
	}
	if (!locked) {
		new_wd = xasprintf("%s/wd", tmpl);
		if (mkdir(new_wd, 0700) < 0) {
			strbuf_addf(&e2, "cannot create '%s': %s", new_wd, strerror(errno));
			set_failed(res, "%s%s", e2.buf, "");
			strvec_clear(&from);
			strvec_clear(&to);
			goto out;
		}
		strvec_push(&from, old_wd);
		strvec_push(&to, new_wd);
	}
	strbuf_reset(&e2);
	if (store_workdir_subdirs(new_wd, &e2) < 0) {
		set_failed(res, "%s%s", e2.buf, "");
		strvec_clear(&from);
		strvec_clear(&to);
		goto out;
	}
	const cJSON *it;
	size_t n = 0;
	nsteps = (size_t)cJSON_GetArraySize(argv);
	steps = xcalloc(nsteps, sizeof(*steps));
	cJSON_ArrayForEach(step, argv) {
		struct strvec *sv = &steps[n++];
		strvec_init(sv);
		cJSON_ArrayForEach(it, step) {
			char *s = xstrdup(cJSON_IsString(it) ? it->valuestring : "");
			for (size_t j = 0; j < from.nr; j++)
				replace_all(&s, from.v[j], to.v[j]);
			strvec_push_nodup(sv, s);
		}
	}
	cJSON_ArrayForEach(it, env) {
		char *s = xasprintf("%s=%s", it->string, cJSON_IsString(it) ? it->valuestring : "");
		for (size_t k = 0; k < from.nr; k++)
			replace_all(&s, from.v[k], to.v[k]);
		strvec_push_nodup(&envv, s);
	}
	strvec_clear(&from);
	strvec_clear(&to);

	char *cwd = xasprintf("%s/cwd", new_wd);
	char *olog = xasprintf("%s/stdout", new_wd);
	char *elog = xasprintf("%s/stderr", new_wd);
	/* the recorded resources are not: the stage is given what it asked for
	 * when recorded only through its environment (STUDY_THREADS, and
	 * CUDA_VISIBLE_DEVICES as recorded) */
	struct exec_stage xs = {
		.stage_id = rec.stage,
		.steps = steps,
		.steps_nr = nsteps,
		.env = &envv,
		.workdir = new_wd,
		.cwd = cwd,
		.stdout_path = olog,
		.stderr_path = elog,
		.want_progress = 1,
		.cpus = 1,
	};
	strbuf_reset(&e2);
	int started = run_stage(ex, &xs, timeout_s, &w, &e2) == 0;
	const struct exec_report *r = &w.rep;
	ran = started;
	/* the stage's own wall time (monotonic, from the launcher), not our setup */
	res->secs = started ? r->wall_s : 0;
	if (!started) {
		set_failed(res, "%s%s", e2.buf, "");
	} else if (r->timed_out) {
		set_failed(res, "%s%s", "killed after the time limit", "");
	} else if (r->exit_code != 0 || r->term_signal) {
		struct strbuf why = STRBUF_INIT, tail = STRBUF_INIT;
		if (r->step > 0 && (size_t)r->step <= nsteps)
			step_label(steps, nsteps, (size_t)r->step - 1, &why);
		if (r->step > 0 && r->step_errno)
			strbuf_addf(&why, "could not be executed: %s", strerror(r->step_errno));
		else if (r->term_signal)
			strbuf_addf(&why, "killed by signal %d", r->term_signal);
		else
			strbuf_addf(&why, "exit status %d", r->exit_code);
		first_line(elog, &tail);
		set_failed(res, "%s%s", why.buf, "");
		if (tail.len) {
			free(res->detail);
			res->detail = xasprintf("%s: %s", why.buf, tail.buf);
		}
		strbuf_release(&why);
		strbuf_release(&tail);
	} else {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/out", new_wd);
		strbuf_reset(&e2);
		if (store_put_tree(&scratch, path.buf, 1, res->got, NULL, NULL, &e2) < 0) {
			res->got[0] = '\0';
			set_failed(res, "%s%s", e2.buf, "");
		} else if (!strcmp(res->got, res->recorded)) {
			res->status = RERUN_IDENTICAL;
		} else {
			compare_outputs(st, p, &scratch, res);
		}
	}
	free(cwd);
	free(olog);
	free(elog);
out:
	if (why_scratch && ran && res->status != RERUN_IDENTICAL) {
		/* it ran, away from its recorded paths: say so */
		char *d = xasprintf("%s%sran at a scratch path (%s): outputs that embed their own"
				    " path will differ",
				    res->detail ? res->detail : "", res->detail ? "; " : "",
				    why_scratch);
		free(res->detail);
		res->detail = d;
	}
	if (locked) {
		if (new_wd) {
			struct strbuf ignored = STRBUF_INIT;
			remove_tree(new_wd, &ignored);
			strbuf_release(&ignored);
		}
		store_unlock(st);
	}
	if (tmpl) {
		struct strbuf ignored = STRBUF_INIT;
		remove_tree(tmpl, &ignored);
		strbuf_release(&ignored);
	}
	for (size_t k = 0; k < nsteps; k++)
		strvec_clear(&steps[k]);
	free(steps);
	strvec_clear(&envv);
	exec_report_release(&w.rep);
	store_release(&scratch);
	cJSON_Delete(argv);
	cJSON_Delete(env);
	recorded_release(&rec);
	free(tmpl);
	free(old_wd);
	free(new_wd);
	strbuf_release(&path);
	strbuf_release(&e2);
	return ret;
}
