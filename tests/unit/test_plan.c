/*
 * Unit tests for expansion (plan.c) and for what a stage runs and hashes
 * (stagecmd.c, canon.c): stage ids, order, inputs, templating, and that
 * every ingredient of the cache key changes the key; a stage-id collision is
 * an error.
 */
#include "canon.h"
#include "check.h"
#include "plan.h"
#include "stagecmd.h"
#include "study.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/study-test-plan.XXXXXX";

static void write_text(const char *name, const char *text, int mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	free(path);
}

static const char *study_text =
	"study: t\n"
	"seed: 5\n"
	"root: .\n"
	"data:\n"
	"  world: {run: [./prog, world, '${seed}', '${out}']}\n"
	"  extra: {run: [./prog, extra, '${data.world}', '${out}']}\n"
	"models:\n"
	"  m1: {run: [./prog, train, '${data.world}', '${params.size}', '${out}'], params: {size: 2}}\n"
	"  m2: {run: [./prog, train, '${data.world}', '${params.size}', '${out}'], params: {size: 4}}\n"
	"methods:\n"
	"  wo: {run: [./prog, wo, '${model}', '${model.name}-${method.name}', '${out}'],"
	" code: [extra.txt], env: [PLAN_TEST_VAR]}\n"
	"  jt: {run: [./prog, jt, '${model}', '${out}']}\n"
	"mitigations:\n"
	"  sft: {after: [wo, jt], run: [./prog, sft, '${model}', '${model.base}', '${out}']}\n"
	"evaluations:\n"
	"  refusal: {run: [./prog, eval, '${model}', '${variant}', '${evaluation.name}', '${out}']}\n"
	"report:\n"
	"  run: [./prog, report, '${out}', '${evaluations}']\n";

static int load(struct study *st, struct plan *p, const char *text)
{
	write_text("study.yaml", text, 0644);
	char *path = xasprintf("%s/study.yaml", dir);
	struct strbuf err = STRBUF_INIT;
	int rc = study_load(st, path, &err);
	if (rc < 0)
		printf("# load failed: %s\n", err.buf);
	else
		rc = plan_build(p, st, &err);
	free(path);
	strbuf_release(&err);
	return rc;
}

static void test_expansion(void)
{
	struct study st;
	struct plan p;
	if (!CHECK(load(&st, &p, study_text) == 0, "study loads and expands"))
		return;
	/* 2 data + per model (1 + 2 methods + 2 mitigations + 5 variants x 1 eval) + report */
	CHECK(p.nr == 2 + 2 * (1 + 2 + 2 + 5) + 1, "stage count: data, models, variants, evals, report");
	CHECK_STR(p.stages[0].id, "data/world", "data stages come first");
	CHECK_STR(p.stages[2].id, "model/m1", "then each model");
	CHECK_STR(p.stages[3].id, "method/wo/m1", "then its methods");
	CHECK_STR(p.stages[5].id, "mitigation/sft/wo/m1", "then its mitigations (method order of after)");
	CHECK_STR(p.stages[6].id, "mitigation/sft/jt/m1", "one mitigation stage per method in after");
	CHECK_STR(p.stages[7].id, "eval/refusal/m1/base", "evaluations start with the base variant");
	CHECK_STR(p.stages[10].id, "eval/refusal/m1/wo+sft", "mitigated variants are method+mitigation");
	CHECK_STR(p.stages[p.nr - 1].id, "report", "the report comes last");
	CHECK(plan_find(&p, "eval/refusal/m2/jt+sft") > 0, "plan_find finds a stage by id");
	CHECK(plan_find(&p, "eval/refusal/m3/base") == -1, "plan_find misses unknown ids");

	const struct stage *sft = &p.stages[5];
	CHECK(sft->model_input == 3, "a mitigation's ${model} is its method's output");
	CHECK(sft->base_input == 2, "${model.base} is the aligned base model");
	CHECK(sft->deps_nr == 2, "deps are distinct producers");
	const struct stage *extra = &p.stages[1];
	CHECK(extra->inputs_nr == 1 && extra->inputs[0].stage == 0, "data may use other data");
	CHECK_STR(extra->inputs[0].name, "data.world", "input names say what they bind");
	const struct stage *rep = &p.stages[p.nr - 1];
	CHECK(rep->inputs_nr == 10, "the report receives every evaluation");
	CHECK(p.stages[0].dependents_nr == 3, "dependents are the reverse edges");

	/* argv expansion */
	struct stage_output *outs = xcalloc(p.nr, sizeof(*outs));
	for (size_t i = 0; i < p.nr; i++) {
		snprintf(outs[i].digest, HASH_HEX_SIZE, "%064zx", i + 1);
		outs[i].path = xasprintf("/store/out/%zu", i);
	}
	struct strvec argv = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT;
	stagecmd_argv(&p, 3, 0, outs, "/work/out", "/abs/prog", &argv);
	CHECK(argv.nr == 5, "method argv has 5 elements");
	CHECK_STR(argv.v[0], "/abs/prog", "argv[0] is the resolved program");
	CHECK_STR(argv.v[2], "/store/out/2", "${model} expands to the model's store path");
	CHECK_STR(argv.v[3], "m1-wo", "names expand inside a larger element");
	CHECK_STR(argv.v[4], "/work/out", "${out} expands to the fresh output dir");
	strvec_clear(&argv);
	stagecmd_argv(&p, p.nr - 1, 0, outs, "/o", "/abs/prog", &argv);
	CHECK(argv.nr == 3 + 10, "${evaluations} expands to one argument per evaluation");
	strvec_clear(&argv);
	stagecmd_argv(&p, 2, 0, outs, "/o", "/abs/prog", &argv);
	CHECK_STR(argv.v[3], "2", "${params.size} expands to the scalar");
	strvec_clear(&argv);
	size_t ev = (size_t)plan_find(&p, "eval/refusal/m1/jt+sft");
	stagecmd_argv(&p, ev, 0, outs, "/o", "/abs/prog", &argv);
	CHECK_STR(argv.v[3], "jt+sft", "${variant} is method+mitigation");
	strvec_clear(&argv);

	for (size_t i = 0; i < p.nr; i++)
		free(outs[i].path);
	free(outs);
	strbuf_release(&err);
	plan_release(&p);
	study_release(&st);
}

/* Key of stage `id` in a study text, with input digests set to `fill`. */
static void key_of(const char *text, const char *id, char fill, char key[HASH_HEX_SIZE],
		   struct strbuf *record)
{
	struct study st;
	struct plan p;
	key[0] = '\0';
	if (load(&st, &p, text) < 0)
		return;
	/* every input node: the stages, then the external inputs */
	struct stage_output *outs = xcalloc(p.nr + p.externals_nr, sizeof(*outs));
	for (size_t i = 0; i < p.nr + p.externals_nr; i++) {
		memset(outs[i].digest, fill, 64);
		outs[i].digest[64] = '\0';
	}
	long si = plan_find(&p, id);
	struct strbuf err = STRBUF_INIT;
	struct strvec progs = STRVEC_INIT;
	struct code_digests cd;
	code_digests_init(&cd);
	if (stagecmd_programs(&p, &p.stages[si], NULL, &progs, &err) < 0 ||
	    stagecmd_key(&p, (size_t)si, outs, progs.v, &cd, record, key, &err) < 0) {
		printf("# key failed: %s\n", err.buf);
		key[0] = '\0';
	}
	code_digests_release(&cd);
	strvec_clear(&progs);
	free(outs);
	strbuf_release(&err);
	plan_release(&p);
	study_release(&st);
}

static char *replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	struct strbuf sb = STRBUF_INIT;
	strbuf_add(&sb, text, (size_t)(at - text));
	strbuf_addstr(&sb, to);
	strbuf_addstr(&sb, at + strlen(from));
	return strbuf_detach(&sb, NULL);
}

static void test_cache_key(void)
{
	char base[HASH_HEX_SIZE], k[HASH_HEX_SIZE];
	struct strbuf rec = STRBUF_INIT;
	setenv("PLAN_TEST_VAR", "one", 1);
	key_of(study_text, "method/wo/m1", 'a', base, &rec);
	CHECK(hash_hex_valid(base), "a cache key is a SHA-256 hex digest");
	CHECK(strstr(rec.buf, "\"argv\":[\"./prog\",\"wo\",\"sha256:aaaa") != NULL,
	      "the record names inputs by digest, not by path");
	CHECK(strstr(rec.buf, "\"${out}\"]") != NULL, "${out} stays symbolic in the record");
	char hex[HASH_HEX_SIZE];
	hash_buf_hex(rec.buf, rec.len, hex);
	CHECK_STR(base, hex, "the key is the SHA-256 of the canonical record");

	key_of(study_text, "method/wo/m1", 'a', k, &rec);
	CHECK_STR(k, base, "the same ingredients give the same key");

	key_of(study_text, "method/wo/m1", 'b', k, &rec);
	CHECK(strcmp(k, base), "an input digest changes the key");

	char *t = replace(study_text, "'${model.name}-${method.name}'", "'x-${method.name}'");
	key_of(t, "method/wo/m1", 'a', k, &rec);
	CHECK(strcmp(k, base), "an argv element changes the key");
	free(t);

	t = replace(study_text, "code: [extra.txt]", "code: [extra.txt], params: {lr: 1}");
	key_of(t, "method/wo/m1", 'a', k, &rec);
	CHECK(strcmp(k, base), "params change the key");
	free(t);

	t = replace(study_text, "seed: 5", "seed: 6");
	key_of(t, "method/wo/m1", 'a', k, &rec);
	CHECK(strcmp(k, base), "the seed changes the key");
	free(t);

	setenv("PLAN_TEST_VAR", "two", 1);
	key_of(study_text, "method/wo/m1", 'a', k, &rec);
	CHECK(strcmp(k, base), "a passed-through environment value changes the key");
	setenv("PLAN_TEST_VAR", "one", 1);

	write_text("extra.txt", "extra 2\n", 0644);
	key_of(study_text, "method/wo/m1", 'a', k, &rec);
	CHECK(strcmp(k, base), "a code file's content changes the key");
	write_text("extra.txt", "extra 1\n", 0644);

	write_text("prog", "#!/bin/sh\necho changed\n", 0755);
	key_of(study_text, "method/wo/m1", 'a', k, &rec);
	CHECK(strcmp(k, base), "the program's content (argv[0] in the repo) changes the key");
	write_text("prog", "#!/bin/sh\nexit 0\n", 0755);

	key_of(study_text, "method/wo/m2", 'a', k, &rec);
	CHECK(strcmp(k, base), "the stage id changes the key");

	key_of(study_text, "method/wo/m1", 'a', k, &rec);
	CHECK_STR(k, base, "restoring every ingredient restores the key");

	t = replace(study_text, "params: {size: 2}", "params: {size: 2, other: {b: 1, a: 2}}");
	char k1[HASH_HEX_SIZE], k2[HASH_HEX_SIZE];
	key_of(t, "model/m1", 'a', k1, &rec);
	free(t);
	t = replace(study_text, "params: {size: 2}", "params: {other: {a: 2, b: 1}, size: 2}");
	key_of(t, "model/m1", 'a', k2, &rec);
	free(t);
	CHECK_STR(k1, k2, "the order of keys in params does not change the key");
	strbuf_release(&rec);
}

/* The "code" object of a key record, as canonical JSON text ("" if none). */
static void record_code(const char *record, struct strbuf *code)
{
	strbuf_reset(code);
	cJSON *r = cJSON_Parse(record);
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "code");
	if (c)
		canon_json(c, code);
	cJSON_Delete(r);
}

/* A second, independent check of the code digest in the key (t0112 checks it
 * end to end): the record names each code file under "code" with the SHA-256
 * of its bytes (computed here by hand), a change of those bytes changes that
 * digest and nothing else in the record, and the key follows the record. */
static void test_code_in_record(void)
{
	char base[HASH_HEX_SIZE], k[HASH_HEX_SIZE], h1[HASH_HEX_SIZE], h2[HASH_HEX_SIZE],
		hp[HASH_HEX_SIZE];
	struct strbuf rec = STRBUF_INIT, rec2 = STRBUF_INIT, code = STRBUF_INIT;
	struct strbuf want = STRBUF_INIT;
	setenv("PLAN_TEST_VAR", "one", 1);
	hash_str_hex("extra 1\n", h1);
	hash_str_hex("extra 2\n", h2);
	hash_str_hex("#!/bin/sh\nexit 0\n", hp);

	key_of(study_text, "method/wo/m1", 'a', base, &rec);
	record_code(rec.buf, &code);
	strbuf_addf(&want, "{\"./prog\":\"%.64s\",\"extra.txt\":\"%.64s\"}", hp, h1);
	CHECK_STR(code.buf, want.buf,
		  "the record's code names the code: file and the program by their SHA-256");

	write_text("extra.txt", "extra 2\n", 0644);
	key_of(study_text, "method/wo/m1", 'a', k, &rec2);
	record_code(rec2.buf, &code);
	strbuf_reset(&want);
	strbuf_addf(&want, "{\"./prog\":\"%.64s\",\"extra.txt\":\"%.64s\"}", hp, h2);
	CHECK_STR(code.buf, want.buf, "new bytes in a code file: its digest under code is the new one");
	char *back = NULL;
	if (strstr(rec2.buf, h2)) {
		char *h2s = xasprintf("%.64s", h2), *h1s = xasprintf("%.64s", h1);
		back = replace(rec2.buf, h2s, h1s);
		free(h2s);
		free(h1s);
	}
	CHECK(back && !strcmp(back, rec.buf), "and nothing else in the record changed");
	free(back);
	char hex[HASH_HEX_SIZE];
	hash_buf_hex(rec2.buf, rec2.len, hex);
	CHECK(!memcmp(k, hex, HASH_HEX_SIZE) && memcmp(k, base, HASH_HEX_SIZE),
	      "the key is the new record's digest, not the old key");
	write_text("extra.txt", "extra 1\n", 0644);

	strbuf_release(&rec);
	strbuf_release(&rec2);
	strbuf_release(&code);
	strbuf_release(&want);
}

static void test_canon(void)
{
	cJSON *v = cJSON_Parse("{\"b\":[1,2.5,\"x\\n\"],\"a\":{\"z\":true,\"y\":null},\"c\":1e21}");
	struct strbuf sb = STRBUF_INIT;
	canon_json(v, &sb);
	CHECK_STR(sb.buf, "{\"a\":{\"y\":null,\"z\":true},\"b\":[1,2.5,\"x\\n\"],\"c\":1e+21}",
		  "canonical JSON sorts keys and drops whitespace");
	cJSON_Delete(v);
	strbuf_reset(&sb);
	v = cJSON_CreateNumber(0.1);
	canon_json(v, &sb);
	CHECK_STR(sb.buf, "0.1", "numbers print in their shortest round-trip form");
	cJSON_Delete(v);
	strbuf_release(&sb);
}

/* plan_build reports two stages with one id instead of building them. The
 * loader rejects a method named "base", so the study is altered after it. */
static void test_id_collision(void)
{
	struct study st;
	struct plan p;
	struct strbuf err = STRBUF_INIT;
	if (!CHECK(load(&st, &p, study_text) == 0, "collision: study loads"))
		return;
	plan_release(&p);
	char *name = st.methods[0].name;
	st.methods[0].name = (char *)"base"; /* variant "base" twice per model */
	CHECK(plan_build(&p, &st, &err) == -1, "collision: plan_build fails");
	CHECK_STR(err.buf, "stage id 'eval/refusal/m1/base' is produced twice",
		  "collision: names the id");
	CHECK(p.nr == 0 && p.stages == NULL, "collision: nothing left to release");
	st.methods[0].name = name;
	study_release(&st);
	strbuf_release(&err);
}

/* External inputs (the study's `inputs:`): loaded with their absolute path
 * and pin, bound as input nodes p->nr + i that are no dependency, keyed by
 * digest (never by path), and a study that declares inputs without using
 * them keeps every key it had. */
static void test_external_inputs(void)
{
	struct study st;
	struct plan p;
	char *ckpt = xasprintf("%s/ckpt", dir);
	mkdir(ckpt, 0755);
	free(ckpt);
	write_text("ckpt/w.bin", "w\n", 0644);
	write_text("prompts.txt", "p\n", 0644);
	const char *pin = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char *decl = xasprintf("inputs:\n"
			       "  prompts: {path: prompts.txt, sha256: %s}\n"
			       "  llama: {path: ckpt}\n"
			       "data:\n",
			       pin);
	char *text = replace(study_text, "data:\n", decl);
	char *used = replace(text, "'${data.world}', '${params.size}', '${out}'], params: {size: 2}",
			     "'${data.world}', '${inputs.llama}', '${out}'], params: {size: 2}");
	free(decl);
	if (!CHECK(load(&st, &p, used) == 0, "a study with inputs loads")) {
		free(text);
		free(used);
		return;
	}
	CHECK(st.inputs_nr == 2 && p.externals_nr == 2, "two inputs, two external nodes");
	char *abs = xasprintf("%s/prompts.txt", st.root);
	CHECK_STR(st.inputs[0].abs, abs, "a relative path is joined to the root");
	CHECK(!st.inputs[0].is_dir && st.inputs[1].is_dir, "a file and a directory");
	CHECK_STR(st.inputs[0].sha256, pin, "the pin is kept");
	CHECK(st.inputs[0].path_pos.line == 5 && st.inputs[0].path_pos.col == 19,
	      "and the position of its path");
	CHECK_STR(p.externals[1].id, "input/llama", "an external node is input/NAME");
	long m1 = plan_find(&p, "model/m1");
	const struct stage *s = &p.stages[m1];
	CHECK(s->inputs_nr == 2 && !strcmp(s->inputs[1].name, "inputs.llama") &&
	      s->inputs[1].stage == p.nr + 1, "${inputs.llama} is input node p->nr + 1");
	CHECK(s->deps_nr == 1 && s->deps[0] == 0, "and no dependency (only data/world)");
	CHECK(plan_node_is_external(&p, s->inputs[1].stage) &&
	      !plan_node_is_external(&p, s->inputs[0].stage), "plan_node_is_external");
	CHECK_STR(plan_node_id(&p, s->inputs[1].stage), "input/llama", "plan_node_id names it");
	plan_release(&p);
	study_release(&st);

	char k[HASH_HEX_SIZE], k2[HASH_HEX_SIZE], base[HASH_HEX_SIZE];
	struct strbuf rec = STRBUF_INIT;
	key_of(used, "model/m1", 'a', k, &rec);
	CHECK(strstr(rec.buf, "\"inputs.llama\":\"aaaa") != NULL &&
	      strstr(rec.buf, "\"sha256:aaaa") != NULL, "the record names the input by digest");
	CHECK(strstr(rec.buf, "ckpt") == NULL, "and not by its path");
	key_of(used, "model/m1", 'b', k2, &rec);
	CHECK(strcmp(k, k2), "the input's digest changes the key");
	key_of(study_text, "model/m1", 'a', base, &rec);
	key_of(text, "model/m1", 'a', k, &rec);
	CHECK_STR(k, base, "declared but unused inputs leave the keys as they were");
	key_of(text, "report", 'a', k, &rec);
	key_of(study_text, "report", 'a', base, &rec);
	CHECK_STR(k, base, "for every stage");
	free(abs);
	free(used);
	free(text);
	strbuf_release(&rec);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	write_text("prog", "#!/bin/sh\nexit 0\n", 0755);
	write_text("extra.txt", "extra 1\n", 0644);
	test_expansion();
	test_id_collision();
	test_cache_key();
	test_code_in_record();
	test_external_inputs();
	test_canon();
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# cleanup failed\n");
	free(cmd);
	return check_done();
}
