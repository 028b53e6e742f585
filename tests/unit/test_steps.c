/*
 * Unit tests for multi-step stages (docs/study-format.md, "Multi-step
 * stages") on the loading and hashing side: `run` as one list of strings or
 * as a list of lists (study.c), every bad form with its exact diagnostic,
 * inputs bound across steps (plan.c), and the cache key (stagecmd.c): one
 * step keeps the record it always had, every step's program, arguments and
 * the scripts they name are in the key, and the warnings and labels name the
 * step. Running the steps is test_steps_exec.c's.
 */
#include "check.h"
#include "plan.h"
#include "stagecmd.h"
#include "study.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/study-test-steps.XXXXXX";

static void write_text(const char *name, const char *text, int mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	free(path);
}

/* Load `text` as <dir>/s.yaml; returns 0, or -1 with the diagnostic's first
 * line (the path made relative: "s.yaml:L:C: message") in first_line. */
static int load(struct study *st, const char *text, struct strbuf *first_line)
{
	char *path = xasprintf("%s/s.yaml", dir);
	struct strbuf err = STRBUF_INIT;
	int rc = study_load_buffer(st, path, text, strlen(text), &err);
	if (first_line) {
		strbuf_reset(first_line);
		const char *s = err.buf, *nl = strchr(s, '\n');
		size_t skip = strlen(dir) + 1;
		if (err.len > skip && !strncmp(s, dir, skip - 1))
			s += skip;
		strbuf_add(first_line, s, nl ? (size_t)(nl - s) : strlen(s));
	}
	strbuf_release(&err);
	free(path);
	return rc;
}

/* The diagnostic of a study that must not load. */
static void expect_error(const char *text, const char *want, const char *what)
{
	struct study st;
	struct strbuf line = STRBUF_INIT;
	int rc = load(&st, text, &line);
	if (rc == 0)
		study_release(&st);
	CHECK(rc < 0, what);
	CHECK_STR(line.buf, want, what);
	strbuf_release(&line);
}

static const struct entry *model(const struct study *st, const char *name)
{
	for (size_t i = 0; i < st->models_nr; i++)
		if (!strcmp(st->models[i].name, name))
			return &st->models[i];
	return NULL;
}

static void arg_text(const struct step *s, size_t a, struct strbuf *out)
{
	strbuf_reset(out);
	study_targ_text(&s->argv[a], out);
}

static void test_parse(void)
{
	struct study st;
	struct strbuf sb = STRBUF_INIT;
	const char *text =
		"study: t\n"
		"root: .\n"
		"data:\n"
		"  w: {run: [./prog, w, '${out}']}\n"
		"models:\n"
		"  flat: {run: [./prog, a, '${data.w}']}\n"
		"  one:\n"
		"    run: [[./prog, a, '${data.w}']]\n"
		"  two:\n"
		"    run:\n"
		"      - [./prog, pre, --out, mid]\n"
		"      - [./prog2, '${params.x}', --in, mid, --out, '${out}']\n"
		"    params: {x: 3}\n";
	CHECK(load(&st, text, NULL) == 0, "a study with one- and two-step entries loads");
	const struct entry *e = model(&st, "flat");
	CHECK(e && e->steps_nr == 1 && e->steps[0].nr == 3, "a flat run is one step");
	CHECK(e && e->steps[0].pos.line == 6 && e->steps[0].pos.col == 15 &&
		      e->run_pos.line == 6 && e->run_pos.col == 15,
	      "a flat run's step starts where the run does");
	e = model(&st, "one");
	CHECK(e && e->steps_nr == 1 && e->steps[0].nr == 3,
	      "a list holding one list is one step");
	CHECK(e && e->steps[0].pos.line == 8 && e->steps[0].pos.col == 11 &&
		      e->run_pos.col == 10,
	      "its step starts at the inner list");
	CHECK(e && e->data_refs_nr == 1, "its data reference is found");
	e = model(&st, "two");
	CHECK(e && e->steps_nr == 2, "a list of two lists is two steps");
	if (e && e->steps_nr == 2) {
		CHECK(e->steps[0].nr == 4 && e->steps[1].nr == 6, "each step has its elements");
		CHECK(e->steps[0].pos.line == 11 && e->steps[0].pos.col == 9 &&
			      e->steps[1].pos.line == 12 && e->steps[1].pos.col == 9,
		      "each step's position is its list's");
		CHECK(e->steps[1].argv[0].pos.line == 12 && e->steps[1].argv[0].pos.col == 10,
		      "an element of step 2 has its own position");
		arg_text(&e->steps[1], 0, &sb);
		CHECK_STR(sb.buf, "./prog2", "step 2's program");
		arg_text(&e->steps[1], 1, &sb);
		CHECK_STR(sb.buf, "${params.x}", "step 2's templates are parsed");
		arg_text(&e->steps[1], 5, &sb);
		CHECK_STR(sb.buf, "${out}", "${out} in the last step");
		arg_text(&e->steps[0], 3, &sb);
		CHECK_STR(sb.buf, "mid", "a literal in step 1");
	}
	study_release(&st);
	strbuf_release(&sb);
}

static void test_errors(void)
{
	const char *head = "study: t\nroot: .\nmodels:\n  m:\n";
	struct {
		const char *run, *want, *what;
	} cases[] = {
		{ "    run: [[a], b]\n",
		  "s.yaml:5:16: 'run' mixes arguments and steps: write one command as a list of"
		  " strings, or several commands as a list of lists of strings",
		  "a scalar after a step" },
		{ "    run: [a, [b]]\n",
		  "s.yaml:5:14: 'run' mixes arguments and steps: write one command as a list of"
		  " strings, or several commands as a list of lists of strings",
		  "a list after an argument" },
		{ "    run: [[a], []]\n", "s.yaml:5:16: step 2 of 'run' is empty", "an empty step" },
		{ "    run: [[]]\n", "s.yaml:5:11: step 1 of 'run' is empty", "an empty only step" },
		{ "    run: []\n", "s.yaml:5:10: 'run' must not be empty", "an empty run" },
		{ "    run: [[a], {x: 1}]\n",
		  "s.yaml:5:16: a step of 'run' must be a list of strings, not a mapping",
		  "a step that is a mapping" },
		{ "    run: [[a, [b]]]\n",
		  "s.yaml:5:15: the items of a step of 'run' must be scalars, not a sequence",
		  "a list inside a step" },
		{ "    run: [a, {x: 1}]\n", "s.yaml:5:14: 'run' items must be scalars, not a mapping",
		  "a mapping in a flat run (as before)" },
		{ "    run:\n      - [a]\n      - [b, '${nope}']\n",
		  "s.yaml:7:14: unknown variable '${nope}'", "an unknown variable in step 2" },
		{ "    run:\n      - [a]\n      - [b, '${evaluations}']\n",
		  "s.yaml:7:14: variable '${evaluations}' is not available in section 'models'",
		  "a variable of another section in step 2" },
		{ "    run:\n      - [a]\n      - ['${seed}x', b]\n", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = xasprintf("%s%s", head, cases[i].run);
		if (cases[i].want) {
			expect_error(text, cases[i].want, cases[i].what);
		} else {
			struct study st;
			int rc = load(&st, text, NULL);
			CHECK(rc == 0, "a variable in a later step's program is allowed (as in step 1)");
			if (rc == 0)
				study_release(&st);
		}
		free(text);
	}
	expect_error("study: t\nreport:\n  run: [[r, x], ['${evaluations}', y]]\n",
		     "s.yaml:3:19: '${evaluations}' cannot be the program (the first element of a"
		     " command): it is a list of paths",
		     "${evaluations} as a step's program");
	expect_error("study: t\nreport:\n  run: ['${evaluations}']\n",
		     "s.yaml:3:10: '${evaluations}' cannot be the program (the first element of a"
		     " command): it is a list of paths",
		     "${evaluations} as the program of a one-step run");
	expect_error("study: t\nreport:\n  run: [[r], [s, '--in=${evaluations}']]\n",
		     "s.yaml:3:24: '${evaluations}' must be a whole argument",
		     "${evaluations} inside an argument of step 2");
	struct study st;
	int rc = load(&st, "study: t\nreport:\n  run: [[r, '${evaluations}'], [s, '${evaluations}']]\n",
		      NULL);
	CHECK(rc == 0, "${evaluations} may be given to several steps");
	if (rc == 0)
		study_release(&st);
}

static const char *plan_text =
	"study: t\n"
	"root: .\n"
	"data:\n"
	"  a: {run: [./prog, a, '${out}']}\n"
	"  b: {run: [./prog, b, '${out}']}\n"
	"models:\n"
	"  m: {run: [./prog, m, '${out}']}\n"
	"methods:\n"
	"  x:\n"
	"    run:\n"
	"      - [./prog, one, '${data.a}']\n"
	"      - [./prog2, two, '${model}', '${data.b}', '${data.a}', '${out}']\n";

static int load_plan(struct study *st, struct plan *p, const char *text)
{
	struct strbuf err = STRBUF_INIT;
	if (load(st, text, &err) < 0) {
		printf("# load failed: %s\n", err.buf);
		strbuf_release(&err);
		return -1;
	}
	if (plan_build(p, st, &err) < 0) {
		printf("# plan failed: %s\n", err.buf);
		study_release(st);
		strbuf_release(&err);
		return -1;
	}
	strbuf_release(&err);
	return 0;
}

static void test_plan_inputs(void)
{
	struct study st;
	struct plan p;
	if (load_plan(&st, &p, plan_text) < 0) {
		CHECK(0, "the plan study loads");
		return;
	}
	long si = plan_find(&p, "method/x/m");
	const struct stage *s = si >= 0 ? &p.stages[si] : NULL;
	CHECK(s && s->inputs_nr == 3, "inputs of every step are bound, each once");
	if (s && s->inputs_nr == 3) {
		CHECK_STR(s->inputs[0].name, "data.a", "first referenced (step 1) first");
		CHECK_STR(s->inputs[1].name, "model", "then step 2's, in order");
		CHECK_STR(s->inputs[2].name, "data.b", "and its next one");
		CHECK(s->model_input >= 0, "${model} of step 2 is the stage's model input");
	}
	/* expansion of each step */
	struct stage_output *outs = xcalloc(p.nr, sizeof(*outs));
	for (size_t i = 0; i < p.nr; i++)
		outs[i].path = xasprintf("/store/out/%zu", i);
	struct strvec argv = STRVEC_INIT;
	stagecmd_argv(&p, (size_t)si, 1, outs, "/w/out", "/abs/prog2", &argv);
	CHECK(argv.nr == 6, "step 2 expands to its own argv");
	if (argv.nr == 6) {
		CHECK_STR(argv.v[0], "/abs/prog2", "with its resolved program");
		CHECK_STR(argv.v[2], "/store/out/2", "${model} is the model's path");
		CHECK_STR(argv.v[5], "/w/out", "${out} is the stage's one output directory");
	}
	strvec_clear(&argv);
	stagecmd_argv(&p, (size_t)si, 0, outs, "/w/out", "/abs/prog", &argv);
	CHECK(argv.nr == 3 && !strcmp(argv.v[1], "one"), "step 1 expands to its own argv");
	strvec_clear(&argv);
	for (size_t i = 0; i < p.nr; i++)
		free(outs[i].path);
	free(outs);
	plan_release(&p);
	study_release(&st);
}

/* Key and record of stage `id` of `text`, inputs all 'a'; key "" on failure. */
static void key_of(const char *text, const char *id, char key[HASH_HEX_SIZE], struct strbuf *rec,
		   struct strbuf *err)
{
	struct study st;
	struct plan p;
	key[0] = '\0';
	strbuf_reset(rec);
	strbuf_reset(err);
	if (load_plan(&st, &p, text) < 0)
		return;
	struct stage_output *outs = xcalloc(p.nr, sizeof(*outs));
	for (size_t i = 0; i < p.nr; i++) {
		memset(outs[i].digest, 'a', 64);
		outs[i].digest[64] = '\0';
	}
	long si = plan_find(&p, id);
	struct strvec progs = STRVEC_INIT;
	struct code_digests cd;
	code_digests_init(&cd);
	if (si < 0 || stagecmd_programs(&p, &p.stages[si], &cd, &progs, err) < 0 ||
	    stagecmd_key(&p, (size_t)si, outs, progs.v, &cd, rec, key, err) < 0)
		key[0] = '\0';
	code_digests_release(&cd);
	strvec_clear(&progs);
	free(outs);
	plan_release(&p);
	study_release(&st);
}

static char *replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	if (!at)
		return xstrdup(text);
	return xasprintf("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
}

static void test_key(void)
{
	char base[HASH_HEX_SIZE], k[HASH_HEX_SIZE], flat[HASH_HEX_SIZE];
	struct strbuf rec = STRBUF_INIT, err = STRBUF_INIT, rec2 = STRBUF_INIT;
	const char *one_step =
		"study: t\nroot: .\nmodels:\n  m: {run: [./prog, a, '${out}']}\n";

	key_of(one_step, "model/m", flat, &rec, &err);
	CHECK(strstr(rec.buf, "{\"argv\":[\"./prog\",\"a\",\"${out}\"],\"code\":{\"./prog\":") ==
		      rec.buf,
	      "one step: argv is its array of strings, as before steps existed");
	char *t = replace(one_step, "[./prog, a, '${out}']", "[[./prog, a, '${out}']]");
	key_of(t, "model/m", k, &rec2, &err);
	free(t);
	CHECK_STR(k, flat, "one step written as a list of one list: the same key");

	key_of(plan_text, "method/x/m", base, &rec, &err);
	CHECK(base[0], "a two-step stage has a key");
	CHECK(strstr(rec.buf, "{\"argv\":[[\"./prog\",\"one\",\"sha256:aaaa") == rec.buf,
	      "several steps: argv is an array of argv arrays");
	CHECK(strstr(rec.buf, "],[\"./prog2\",\"two\",\"sha256:") != NULL,
	      "step 2's argv follows step 1's");
	CHECK(strstr(rec.buf, "\"code\":{\"./prog\":\"") && strstr(rec.buf, "\"./prog2\":\""),
	      "every step's program inside the root is code");

	t = replace(plan_text, "two, '${model}'", "TWO, '${model}'");
	key_of(t, "method/x/m", k, &rec2, &err);
	free(t);
	CHECK(k[0] && strcmp(k, base), "an argument of step 2 changes the key");

	write_text("prog2", "#!/bin/sh\necho changed\n", 0755);
	key_of(plan_text, "method/x/m", k, &rec2, &err);
	CHECK(k[0] && strcmp(k, base), "the content of step 2's program changes the key");
	write_text("prog2", "#!/bin/sh\nexit 0\n", 0755);
	key_of(plan_text, "method/x/m", k, &rec2, &err);
	CHECK_STR(k, base, "and restoring it restores the key");

	t = replace(plan_text, "      - [./prog, one, '${data.a}']\n"
			       "      - [./prog2, two, '${model}', '${data.b}', '${data.a}', '${out}']\n",
		    "      - [./prog2, two, '${model}', '${data.b}', '${data.a}', '${out}']\n"
		    "      - [./prog, one, '${data.a}']\n");
	key_of(t, "method/x/m", k, &rec2, &err);
	free(t);
	CHECK(k[0] && strcmp(k, base), "the order of the steps changes the key");

	/* a script named by a later step is hashed */
	write_text("s2.sh", "echo one\n", 0644);
	const char *script =
		"study: t\nroot: .\nmodels:\n  m:\n    run:\n"
		"      - [./prog, a, '${out}']\n"
		"      - [sh, '${root}/s2.sh', '${out}']\n";
	key_of(script, "model/m", base, &rec, &err);
	CHECK(strstr(rec.buf, "\"s2.sh\":\"") != NULL, "a script given to step 2 is in code");
	write_text("s2.sh", "echo two\n", 0644);
	key_of(script, "model/m", k, &rec2, &err);
	CHECK(k[0] && strcmp(k, base), "and its content changes the key");

	/* a missing program of a later step names the step */
	t = replace(script, "[sh, ", "[./absent, ");
	key_of(t, "model/m", k, &rec2, &err);
	free(t);
	char *want = xasprintf("step 2 of 2: command not found: '%s/./absent'", dir);
	CHECK(!k[0], "a missing program of step 2 fails the lookup");
	CHECK_STR(err.buf, want, "the message names the step");
	free(want);
	strbuf_release(&rec);
	strbuf_release(&rec2);
	strbuf_release(&err);
}

static void test_warnings_and_labels(void)
{
	struct study st;
	struct plan p;
	const char *text =
		"study: t\nroot: .\nmodels:\n  m:\n    run:\n"
		"      - [./prog, '${params.long}', '${out}']\n"
		"      - [sh, ./run.sh, '${out}']\n"
		"    params: {long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n"
		"  n:\n    run: [sh, ./run.sh]\n";
	if (load_plan(&st, &p, text) < 0) {
		CHECK(0, "the warning study loads");
		return;
	}
	long si = plan_find(&p, "model/m"), ni = plan_find(&p, "model/n");
	struct code_digests cd;
	code_digests_init(&cd);
	struct strbuf why = STRBUF_INIT;
	CHECK(stagecmd_unhashed_program(&p, (size_t)si, 0, &cd, &why) == 0 && !why.len,
	      "no warning for a step that runs a program of the root");
	CHECK(stagecmd_unhashed_program(&p, (size_t)si, 1, &cd, &why) == 1,
	      "a warning for a later step whose shell runs a relative script");
	CHECK_STR(why.buf,
		  "'sh' runs './run.sh', which is looked up when the stage runs and is not in its"
		  " cache key: a change to it will not rerun the stage; name it as \"${root}/...\""
		  " or list it under code:",
		  "the warning's text is the one-step one");
	strbuf_reset(&why);
	CHECK(stagecmd_unhashed_program(&p, (size_t)ni, 0, &cd, &why) == 1,
	      "a one-step stage warns as before");
	code_digests_release(&cd);

	const struct entry *e = p.stages[si].entry;
	struct strbuf label = STRBUF_INIT;
	stagecmd_step_label(e, 1, &label);
	CHECK_STR(label.buf, "step 2 of 2 (sh ./run.sh)", "a step's label: program and first argument");
	strbuf_reset(&label);
	stagecmd_step_label(e, 0, &label);
	CHECK_STR(label.buf, "step 1 of 2 (./prog ${params.long})",
		  "as the study file writes them");
	strbuf_release(&label);
	strbuf_release(&why);
	plan_release(&p);
	study_release(&st);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	write_text("prog", "#!/bin/sh\nexit 0\n", 0755);
	write_text("prog2", "#!/bin/sh\nexit 0\n", 0755);
	test_parse();
	test_errors();
	test_plan_inputs();
	test_key();
	test_warnings_and_labels();
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# cleanup failed\n");
	free(cmd);
	return check_done();
}
