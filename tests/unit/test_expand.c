/*
 * test_expand: defaults, vars, matrices and seeds (pipeline/expand.c and the
 * plan they make). The shipped studies, rewritten with defaults and vars,
 * expand to exactly the DAG of their flat fixtures (tests/studies/NAME-flat.yaml)
 * with byte-identical cache records and argv; defaults merge key by key and
 * their errors point into the defaults block; a matrix makes one entry per
 * combination, named and substituted as documented, and adding a value leaves
 * the other entries' cache keys alone; seeds replicate stages with their own
 * seed and inputs, a `replicate: false` entry keeps the key it had without
 * seeds, and adding a seed changes no existing key. Bad input is covered by
 * the fixtures tests/malformed/200-NN-*.yaml (test_study, t0140).
 */
#include "canon.h"
#include "check.h"
#include "expand.h"
#include "hash.h"
#include "plan.h"
#include "stagecmd.h"
#include "study.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/study-test-expand.XXXXXX";

static void write_text(const char *name, const char *text, int mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	free(path);
}

/* Loads `path` (or `text` written to the temp dir when path is NULL) and plans it. */
static int load(struct study *st, struct plan *p, const char *path, const char *text,
		struct strbuf *err)
{
	char *tmp = NULL;
	int rc;
	if (!path) {
		write_text("study.yaml", text, 0644);
		path = tmp = xasprintf("%s/study.yaml", dir);
	}
	rc = study_load(st, path, err);
	if (rc == 0) {
		rc = plan_build(p, st, err);
		if (rc < 0)
			study_release(st);
	}
	free(tmp);
	return rc;
}

static int load_ok(struct study *st, struct plan *p, const char *path, const char *text)
{
	struct strbuf err = STRBUF_INIT;
	int rc = load(st, p, path, text, &err);
	if (rc < 0)
		printf("# load failed: %s\n", err.buf);
	strbuf_release(&err);
	return rc;
}

/* Input digests that depend only on the producing stage's id, so two plans
 * of one DAG give their stages the same inputs. */
static struct stage_output *fake_outputs(const struct plan *p)
{
	struct stage_output *outs = xcalloc(p->nr ? p->nr : 1, sizeof(*outs));
	for (size_t i = 0; i < p->nr; i++) {
		hash_buf_hex(p->stages[i].id, strlen(p->stages[i].id), outs[i].digest);
		outs[i].path = xasprintf("/store/%s", p->stages[i].id);
	}
	return outs;
}

static void free_outputs(const struct plan *p, struct stage_output *outs)
{
	for (size_t i = 0; i < p->nr; i++)
		free(outs[i].path);
	free(outs);
}

/* The cache record of stage si (empty when it cannot be made). */
static void record_of(const struct plan *p, size_t si, const struct stage_output *outs,
		      struct code_digests *cd, struct strbuf *rec)
{
	struct strbuf err = STRBUF_INIT;
	struct strvec progs = STRVEC_INIT;
	char key[HASH_HEX_SIZE];
	strbuf_reset(rec);
	if (stagecmd_programs(p, &p->stages[si], cd, &progs, &err) < 0 ||
	    stagecmd_key(p, si, outs, progs.v, cd, rec, key, &err) < 0) {
		printf("# no key for %s: %s\n", p->stages[si].id, err.buf);
		strbuf_reset(rec);
	}
	strvec_clear(&progs);
	strbuf_release(&err);
}

/* The argv of stage si as one line (fake store paths, ${out} = /out), its
 * steps separated by " ; ". */
static void argv_of(const struct plan *p, size_t si, const struct stage_output *outs,
		    struct strbuf *line)
{
	strbuf_reset(line);
	for (size_t n = 0; n < p->stages[si].entry->steps_nr; n++) {
		struct strvec argv = STRVEC_INIT;
		stagecmd_argv(p, si, n, outs, "/out", "PROG", &argv);
		if (n)
			strbuf_addstr(line, " ; ");
		for (size_t i = 0; i < argv.nr; i++)
			strbuf_addf(line, "%s%s", i ? " " : "", argv.v[i]);
		strvec_clear(&argv);
	}
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int same_resources(const struct resources *a, const struct resources *b)
{
	return a->cpus == b->cpus && a->gpus == b->gpus && a->mem_bytes == b->mem_bytes &&
	       a->time_s == b->time_s;
}

static int same_strpos(const struct strpos *a, size_t an, const struct strpos *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (strcmp(a[i].s, b[i].s))
			return 0;
	return 1;
}

/* Every stage of `path` against its flat fixture: ids, names, inputs, deps,
 * resources, code, env, the argv it runs and its whole cache record. */
static void check_same_dag(const char *path, const char *flat, size_t want_stages)
{
	struct study st, fst;
	struct plan p, fp;
	struct strbuf what = STRBUF_INIT, a = STRBUF_INIT, b = STRBUF_INIT;
	strbuf_addf(&what, "%s loads", path);
	if (!CHECK(load_ok(&st, &p, path, NULL) == 0, what.buf))
		return;
	if (!CHECK(load_ok(&fst, &fp, flat, NULL) == 0, "its flat fixture loads")) {
		plan_release(&p);
		study_release(&st);
		return;
	}
	strbuf_reset(&what);
	strbuf_addf(&what, "%s expands to %zu stages, as its flat fixture", path, want_stages);
	CHECK(p.nr == want_stages && fp.nr == want_stages, what.buf);
	struct stage_output *outs = fake_outputs(&p), *fouts = fake_outputs(&fp);
	struct code_digests cd;
	code_digests_init(&cd);
	size_t bad_id = 0, bad_shape = 0, bad_argv = 0, bad_rec = 0, empty = 0;
	for (size_t i = 0; i < p.nr && i < fp.nr; i++) {
		const struct stage *s = &p.stages[i], *f = &fp.stages[i];
		if (strcmp(s->id, f->id)) {
			if (!bad_id++)
				printf("#   stage %zu: %s vs %s\n", i, s->id, f->id);
			continue;
		}
		int shape = s->kind == f->kind && same_str(s->model, f->model) &&
			    same_str(s->method, f->method) && same_str(s->mitigation, f->mitigation) &&
			    same_str(s->evaluation, f->evaluation) && same_str(s->variant, f->variant) &&
			    s->inputs_nr == f->inputs_nr && s->deps_nr == f->deps_nr &&
			    same_str(s->seed, f->seed) &&
			    same_resources(&s->entry->res, &f->entry->res) &&
			    same_strpos(s->entry->code, s->entry->code_nr, f->entry->code,
					f->entry->code_nr) &&
			    same_strpos(s->entry->env, s->entry->env_nr, f->entry->env,
					f->entry->env_nr);
		for (size_t k = 0; shape && k < s->inputs_nr; k++)
			shape = !strcmp(s->inputs[k].name, f->inputs[k].name) &&
				!strcmp(p.stages[s->inputs[k].stage].id,
					fp.stages[f->inputs[k].stage].id);
		if (!shape && !bad_shape++)
			printf("#   %s: kind, names, inputs, resources, code or env differ\n", s->id);
		argv_of(&p, i, outs, &a);
		argv_of(&fp, i, fouts, &b);
		if (strcmp(a.buf, b.buf) && !bad_argv++)
			printf("#   %s argv:\n#     %s\n#     %s\n", s->id, a.buf, b.buf);
		record_of(&p, i, outs, &cd, &a);
		record_of(&fp, i, fouts, &cd, &b);
		empty += !a.len;
		if (strcmp(a.buf, b.buf) && !bad_rec++)
			printf("#   %s record:\n#     %s\n#     %s\n", s->id, a.buf, b.buf);
	}
	CHECK(!bad_id, "... with the same ids, in the same order");
	CHECK(!bad_shape, "... the same names, inputs, resources, code and env");
	CHECK(!bad_argv, "... byte-identical argv");
	CHECK(!empty, "... every cache record could be made");
	CHECK(!bad_rec, "... and byte-identical cache records (so the same cache keys)");
	CHECK(expand_stage_count(&st) == (double)p.nr, "the load-time stage count is exact");
	code_digests_release(&cd);
	free_outputs(&p, outs);
	free_outputs(&fp, fouts);
	plan_release(&p);
	plan_release(&fp);
	study_release(&st);
	study_release(&fst);
	strbuf_release(&what);
	strbuf_release(&a);
	strbuf_release(&b);
}

static void test_shipped(void)
{
	check_same_dag("studies/six-models.yaml", "tests/studies/six-models-flat.yaml",
		       2 + 6 + 5 * (6 * 3 + 6 * 3 + 6 * 7 * 6) + 1);
	check_same_dag("studies/quick.yaml", "tests/studies/quick-flat.yaml", 2 + 2 * (1 + 2 + 2 + 30) + 1);
	check_same_dag("studies/example.yaml", "tests/studies/example-flat.yaml", 1 + 2 * (1 + 2 + 1 + 8) + 1);
}

static const struct entry *find(const struct entry *arr, size_t nr, const char *name)
{
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(arr[i].name, name))
			return &arr[i];
	return NULL;
}

static char *params_text(const struct entry *e)
{
	struct strbuf sb = STRBUF_INIT;
	canon_json(e->params, &sb);
	return strbuf_detach(&sb, NULL);
}

static void check_params(const struct entry *e, const char *want, const char *what)
{
	char *got = e ? params_text(e) : NULL;
	CHECK_STR(got, want, what);
	free(got);
}

/* The argv of stage `id` as one line. */
static void check_argv(const struct plan *p, const char *id, const char *want, const char *what)
{
	long si = plan_find(p, id);
	struct strbuf line = STRBUF_INIT;
	if (si >= 0) {
		struct stage_output *outs = fake_outputs(p);
		argv_of(p, (size_t)si, outs, &line);
		free_outputs(p, outs);
	}
	CHECK_STR(si >= 0 ? line.buf : "(no such stage)", want, what);
	strbuf_release(&line);
}

static void test_defaults(void)
{
	struct study st;
	struct plan p;
	const char *text =
		"study: t\n"
		"root: .\n"
		"defaults:\n"
		"  resources: {cpus: 2, time: 1m}\n"
		"  params: {a: 1, b: 2}\n"
		"  env: [EXPAND_TEST_VAR]\n"
		"models:\n"
		"  defaults:\n"
		"    run: [./prog, train, '${params.a}', '${params.b}', '${params.c}', '${out}']\n"
		"    params: {b: 20, c: 30}\n"
		"    resources: {mem: 1G}\n"
		"    code: [c1.txt]\n"
		"  m1: {}\n"
		"  m2: {params: {c: 300}, resources: {cpus: 4}, code: [c2.txt],"
		" run: [./prog, own, '${params.c}', '${out}']}\n"
		"report:\n"
		"  run: [./prog, report, '${params.b}', '${out}', '${evaluations}']\n";
	if (!CHECK(load_ok(&st, &p, NULL, text) == 0, "a study with defaults loads"))
		return;
	const struct entry *m1 = find(st.models, st.models_nr, "m1");
	const struct entry *m2 = find(st.models, st.models_nr, "m2");
	CHECK(st.models_nr == 2 && m1 && m2, "'defaults' is not an entry");
	check_params(m1, "{\"a\":1,\"b\":20,\"c\":30}",
		     "params merge key by key: top level, then section, then entry");
	check_params(m2, "{\"a\":1,\"b\":20,\"c\":300}", "... the entry's own keys win");
	CHECK(m1->res.cpus == 2 && m1->res.mem_bytes == (1LL << 30) && m1->res.time_s == 60,
	      "resources merge key by key across both levels");
	CHECK(m2->res.cpus == 4 && m2->res.mem_bytes == (1LL << 30) && m2->res.time_s == 60,
	      "... an entry's resource wins over the default one");
	CHECK(m1->code_nr == 1 && !strcmp(m1->code[0].s, "c1.txt"), "code comes from the defaults");
	CHECK(m2->code_nr == 1 && !strcmp(m2->code[0].s, "c2.txt"),
	      "an entry's code replaces the default list (no concatenation)");
	CHECK(m1->env_nr == 1 && m2->env_nr == 1 && !strcmp(m2->env[0].s, "EXPAND_TEST_VAR"),
	      "env comes from the top-level defaults");
	check_argv(&p, "model/m1", "PROG train 1 20 30 /out", "a default run expands per entry");
	check_argv(&p, "model/m2", "PROG own 300 /out", "an entry's run replaces the default");
	CHECK(st.report && st.report->res.cpus == 2 && st.report->res.time_s == 60,
	      "top-level defaults apply to the report too");
	check_argv(&p, "report", "PROG report 2 /out", "... params included");
	CHECK(m1->steps_nr == 1 && m1->steps[0].argv[0].pos.line == 9,
	      "a default run element keeps its own position");
	plan_release(&p);
	study_release(&st);

	/* the three-line diagnostic points into the defaults block */
	struct strbuf err = STRBUF_INIT;
	text = "study: t\n"
	       "models:\n"
	       "  defaults:\n"
	       "    run: [train, '${params.depth}']\n"
	       "  a: {params: {depth: 1}}\n"
	       "  b: {}\n";
	CHECK(load(&st, &p, NULL, text, &err) < 0, "a default that does not fit an entry fails");
	char *want = xasprintf("%s/study.yaml:4:19: unknown parameter 'depth' in '${params.depth}' "
			       "(a default, for models entry 'b')\n"
			       "    run: [train, '${params.depth}']\n"
			       "                  ^",
			       dir);
	CHECK_STR(err.buf, want, "... at the line and column of the default, naming the entry");
	free(want);
	strbuf_release(&err);
}

static void test_vars(void)
{
	struct study st;
	struct plan p;
	const char *text =
		"study: t\n"
		"root: .\n"
		"models:\n"
		"  defaults:\n"
		"    run: [./prog, train, --layers, '${vars.layers}', '--dim=${vars.dim}', '${out}']\n"
		"    vars: {dim: 64}\n"
		"    params: {tag: 'L${vars.layers}', layers: '${vars.layers}'}\n"
		"  m1: {vars: {layers: 1, dim: 32}}\n"
		"  m2: {vars: {layers: 0x10}}\n";
	if (!CHECK(load_ok(&st, &p, NULL, text) == 0, "a study with vars loads"))
		return;
	check_argv(&p, "model/m1", "PROG train --layers 1 --dim=32 /out",
		   "${vars.X} is the entry's value, anywhere in an element");
	check_argv(&p, "model/m2", "PROG train --layers 0x10 --dim=64 /out",
		   "vars merge key by key with the defaults; the text is as written");
	check_params(&st.models[0], "{\"layers\":1,\"tag\":\"L1\"}",
		     "in params a whole ${vars.X} is typed, inside text it is text");
	check_params(&st.models[1], "{\"layers\":16,\"tag\":\"L0x10\"}",
		     "... typed as YAML would (0x10 is 16)");
	const struct targ *t = &st.models[0].steps[0].argv[3];
	CHECK(t->nr == 1 && t->parts[0].kind == TV_LITERAL,
	      "${vars.X} is fixed at load time (a literal part)");
	plan_release(&p);
	study_release(&st);

	text = "study: t\n"
	       "root: .\n"
	       "models:\n"
	       "  defaults:\n"
	       "    run:\n"
	       "      - [./prog, pretrain, '${vars.layers}', pre]\n"
	       "      - [./prog, align, pre, '${matrix.lr}', '${out}']\n"
	       "  m:\n"
	       "    vars: {layers: 2}\n"
	       "    matrix: {lr: [0.1, 0.2]}\n";
	if (!CHECK(load_ok(&st, &p, NULL, text) == 0, "a multi-step default run with vars loads"))
		return;
	check_argv(&p, "model/m-lr0.2", "PROG pretrain 2 pre ; PROG align pre 0.2 /out",
		   "vars and matrix values reach every step of a multi-step run");
	plan_release(&p);
	study_release(&st);
}

static const char *matrix_study =
	"study: t\n"
	"root: .\n"
	"data:\n"
	"  world:\n"
	"    run: [./prog, world, '${matrix.size}', '${out}']\n"
	"    matrix: {size: [1, 2]}\n"
	"    name: 'w${matrix.size}'\n"
	"models:\n"
	"  m:\n"
	"    run: [./prog, train, '${data.w2}', '--layers=${matrix.layers}', '${matrix.dim}',"
	" '${model.name}', '${params.tag}', '${out}']\n"
	"    matrix: {layers: [LAYERS], dim: [32, 64]}\n"
	"    params: {layers: '${matrix.layers}', tag: 'L${matrix.layers}-${matrix.dim}'}\n"
	"methods:\n"
	"  opt:\n"
	"    run: [./prog, tune, '${model}', '${matrix.lr}', '${out}']\n"
	"    matrix: {lr: [0.001, 1e-2]}\n"
	"mitigations:\n"
	"  fix: {after: [opt-lr0.001], run: [./prog, fix, '${model}', '${out}']}\n";

/* matrix_study with its LAYERS placeholder replaced by `values`. */
static char *matrix_text(const char *values)
{
	const char *at = strstr(matrix_study, "LAYERS");
	return xasprintf("%.*s%s%s", (int)(at - matrix_study), matrix_study, values, at + 6);
}

static void test_matrix(void)
{
	struct study st, st2;
	struct plan p, p2;
	char *text = matrix_text("2, 3"), *text2 = matrix_text("2, 3, 4");
	if (!CHECK(load_ok(&st, &p, NULL, text) == 0, "a study with matrices loads"))
		goto out;
	CHECK(st.models_nr == 4, "a matrix makes one entry per combination");
	CHECK(st.models_nr == 4 && !strcmp(st.models[0].name, "m-layers2-dim32") &&
		      !strcmp(st.models[1].name, "m-layers2-dim64") &&
		      !strcmp(st.models[2].name, "m-layers3-dim32") &&
		      !strcmp(st.models[3].name, "m-layers3-dim64"),
	      "named NAME-AXISVALUE..., the first axis varying slowest");
	CHECK(st.data_nr == 2 && !strcmp(st.data[0].name, "w1") && !strcmp(st.data[1].name, "w2"),
	      "a name template names them");
	CHECK(st.methods_nr == 2 && !strcmp(st.methods[0].name, "opt-lr0.001") &&
		      !strcmp(st.methods[1].name, "opt-lr1e-2"),
	      "a value's text as written, '.' included, makes the name");
	check_argv(&p, "model/m-layers3-dim64",
		   "PROG train /store/data/w2 --layers=3 64 m-layers3-dim64 L3-64 /out",
		   "${matrix.AXIS} is the combination's value; ${model.name} the made name");
	check_argv(&p, "method/opt-lr1e-2/m-layers2-dim32",
		   "PROG tune /store/model/m-layers2-dim32 1e-2 /out",
		   "a matrix method applies to every model");
	CHECK(plan_find(&p, "mitigation/fix/opt-lr0.001/m-layers3-dim32") >= 0 &&
		      plan_find(&p, "mitigation/fix/opt-lr1e-2/m-layers3-dim32") < 0,
	      "'after' names a made method");
	check_params(&st.models[2], "{\"layers\":3,\"tag\":\"L3-32\"}",
		     "params: a whole ${matrix.AXIS} is typed, inside text it is text");
	CHECK(expand_stage_count(&st) == (double)p.nr, "the load-time stage count is exact");

	/* adding a value to an axis keeps every existing stage's record */
	if (CHECK(load_ok(&st2, &p2, NULL, text2) == 0, "the study with one more value loads")) {
		struct stage_output *o1 = fake_outputs(&p), *o2 = fake_outputs(&p2);
		struct code_digests cd;
		struct strbuf r1 = STRBUF_INIT, r2 = STRBUF_INIT;
		size_t same = 0, made = 0;
		code_digests_init(&cd);
		for (size_t i = 0; i < p2.nr; i++) {
			long j = plan_find(&p, p2.stages[i].id);
			if (j < 0) {
				made++;
				continue;
			}
			record_of(&p, (size_t)j, o1, &cd, &r1);
			record_of(&p2, i, o2, &cd, &r2);
			same += r1.len && !strcmp(r1.buf, r2.buf);
		}
		/* two new models, each: model, 2 methods, 1 mitigation */
		CHECK(made == p2.nr - p.nr && made == 2 * (1 + 2 + 1),
		      "one more value adds only its own combinations' stages");
		CHECK(same == p.nr, "every existing stage keeps its cache record");
		code_digests_release(&cd);
		free_outputs(&p, o1);
		free_outputs(&p2, o2);
		strbuf_release(&r1);
		strbuf_release(&r2);
		plan_release(&p2);
		study_release(&st2);
	}
	plan_release(&p);
	study_release(&st);
out:
	free(text);
	free(text2);
}

static const char *seeds_study =
	"study: t\n"
	"root: .\n"
	"seed: 9\n"
	"SEEDS"
	"data:\n"
	"  world: {run: [./prog, world, '${seed}', '${out}'], replicate: false}\n"
	"  noise: {run: [./prog, noise, '${seed}', '${data.world}', '${out}']}\n"
	"models:\n"
	"  m1: {run: [./prog, train, '${data.noise}', '${data.world}', '${seed}', '${out}']}\n"
	"methods:\n"
	"  wo: {run: [./prog, wo, '${model}', '${stage}', '${out}']}\n"
	"evaluations:\n"
	"  acc: {run: [./prog, eval, '${model}', '${model.base}', '${out}']}\n"
	"report:\n"
	"  run: [./prog, report, '${evaluations.seeds}', '${seed}', '${out}', '${evaluations}']\n";

static char *seeds_text(const char *seeds_line)
{
	const char *at = strstr(seeds_study, "SEEDS");
	return xasprintf("%.*s%s%s", (int)(at - seeds_study), seeds_study, seeds_line, at + 5);
}

/* Records of the stages of p (by id) that q also has; counts equal ones. */
static size_t same_records(const struct plan *p, const struct plan *q, size_t *shared)
{
	struct stage_output *op = fake_outputs(p), *oq = fake_outputs(q);
	struct code_digests cd;
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	size_t same = 0;
	*shared = 0;
	code_digests_init(&cd);
	for (size_t i = 0; i < q->nr; i++) {
		long j = plan_find(p, q->stages[i].id);
		if (j < 0)
			continue;
		(*shared)++;
		record_of(p, (size_t)j, op, &cd, &a);
		record_of(q, i, oq, &cd, &b);
		same += a.len && !strcmp(a.buf, b.buf);
	}
	code_digests_release(&cd);
	free_outputs(p, op);
	free_outputs(q, oq);
	strbuf_release(&a);
	strbuf_release(&b);
	return same;
}

static void test_seeds(void)
{
	struct study st, st2, st0;
	struct plan p, p2, p0;
	char *text = seeds_text("seeds: [1, 2, 3]\n"), *text2 = seeds_text("seeds: [1, 2, 3, 4]\n");
	char *text0 = seeds_text("");
	if (!CHECK(load_ok(&st, &p, NULL, text) == 0, "a study with seeds loads"))
		goto out;
	CHECK(st.seeds_nr == 3 && !strcmp(st.seeds[2], "3"), "seeds are kept in file order");
	/* world once; noise, m1, wo per seed; acc per seed and variant; report */
	CHECK(p.nr == 1 + 3 + 3 + 3 + 2 * 3 + 1, "each replicated entry makes one stage per seed");
	CHECK_STR(p.stages[0].id, "data/world", "an entry with 'replicate: false' keeps its id");
	CHECK_STR(p.stages[0].seed, "9", "... and the study's seed");
	CHECK_STR(p.stages[2].id, "data/noise@seed2", "a replicate's id ends in @seedN");
	CHECK_STR(p.stages[2].seed, "2", "... and its seed is N");
	CHECK(p.stages[2].seed_index == 1 && p.stages[0].seed_index == -1,
	      "seed_index says which replicate (-1: none)");
	check_argv(&p, "model/m1@seed2",
		   "PROG train /store/data/noise@seed2 /store/data/world 2 /out",
		   "a replicate takes the same seed's inputs, and the one stage of data that runs once");
	check_argv(&p, "method/wo/m1@seed3", "PROG wo /store/model/m1@seed3 method/wo/m1@seed3 /out",
		   "methods follow their model's seed; ${stage} is the replicate's id");
	check_argv(&p, "eval/acc/m1/wo@seed1", "PROG eval /store/method/wo/m1@seed1 "
		   "/store/model/m1@seed1 /out", "${model.base} is the same seed's model");
	long rs = plan_find(&p, "report");
	CHECK(rs >= 0 && p.stages[rs].inputs_nr == 6, "the report receives every seed's evaluations");
	check_argv(&p, "report",
		   "PROG report 1,2,3,1,2,3 9 /out /store/eval/acc/m1/base@seed1 "
		   "/store/eval/acc/m1/base@seed2 /store/eval/acc/m1/base@seed3 "
		   "/store/eval/acc/m1/wo@seed1 /store/eval/acc/m1/wo@seed2 "
		   "/store/eval/acc/m1/wo@seed3",
		   "${evaluations.seeds} gives the seed of each ${evaluations} output, in order");
	CHECK(expand_stage_count(&st) == (double)p.nr, "the load-time stage count is exact");
	{
		struct stage_output *o = fake_outputs(&p);
		struct code_digests cd;
		struct strbuf rec = STRBUF_INIT;
		code_digests_init(&cd);
		record_of(&p, (size_t)plan_find(&p, "model/m1@seed2"), o, &cd, &rec);
		CHECK(strstr(rec.buf, "\"seed\":\"2\",\"stage\":\"model/m1@seed2\"}") != NULL,
		      "a replicate's cache record has its seed and id");
		code_digests_release(&cd);
		free_outputs(&p, o);
		strbuf_release(&rec);
	}

	size_t shared = 0, same;
	if (CHECK(load_ok(&st2, &p2, NULL, text2) == 0, "the study with one more seed loads")) {
		same = same_records(&p2, &p, &shared);
		CHECK(p2.nr - p.nr == 1 + 1 + 1 + 2, "one more seed adds only that seed's stages");
		CHECK(shared == p.nr && same == p.nr - 1,
		      "... and every existing stage but the report keeps its cache record");
		plan_release(&p2);
		study_release(&st2);
	}
	if (CHECK(load_ok(&st0, &p0, NULL, text0) == 0, "the study without seeds loads")) {
		same = same_records(&p0, &p, &shared);
		CHECK(shared == 2 && same == 1 && plan_find(&p0, "model/m1") >= 0,
		      "without seeds the ids have no suffix; data that runs once keeps its key");
		CHECK_STR(p0.stages[1].seed, "9", "without seeds every stage has the study's seed");
		check_argv(&p0, "report", "PROG report , 9 /out /store/eval/acc/m1/base "
			   "/store/eval/acc/m1/wo", "${evaluations.seeds} has an empty item per output then");
		plan_release(&p0);
		study_release(&st0);
	}
	plan_release(&p);
	study_release(&st);
out:
	free(text);
	free(text2);
	free(text0);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	write_text("prog", "#!/bin/sh\nexit 0\n", 0755);
	write_text("c1.txt", "one\n", 0644);
	write_text("c2.txt", "two\n", 0644);
	setenv("EXPAND_TEST_VAR", "v", 1);
	test_shipped();
	test_defaults();
	test_vars();
	test_matrix();
	test_seeds();
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	free(cmd);
	return check_done();
}
