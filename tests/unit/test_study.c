/*
 * test_study: the study-file loader. A full good study (every section, entry
 * key and variable kind: names, seed, params JSON, resources, after, template
 * parts, data_refs), template edge cases, root resolution (root:, .git walk,
 * fallback), the digest, the exact three-line diagnostic, size limits, a
 * 10,000-model study against the clock, and every fixture in tests/malformed:
 * each must fail with exactly the first line stored in its sibling .err file.
 */
#include "check.h"
#include "hash.h"
#include "strbuf.h"
#include "study.h"
#include "xalloc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct entry *find(const struct entry *arr, size_t nr, const char *name)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (!strcmp(arr[i].name, name))
			return &arr[i];
	return NULL;
}

/* Render a targ back into text: literals as-is, variables as {KIND:text}. */
static void render(const struct targ *t, struct strbuf *sb)
{
	static const char *const names[] = {
		"lit", "seed", "out", "root", "model", "model.base", "data", "evaluations",
		"params", "model.name", "method.name", "mitigation.name", "evaluation.name",
		"variant", "stage",
	};
	size_t i;

	strbuf_reset(sb);
	for (i = 0; i < t->nr; i++) {
		if (t->parts[i].kind == TV_LITERAL)
			strbuf_addf(sb, "[%s]", t->parts[i].text);
		else if (t->parts[i].text)
			strbuf_addf(sb, "{%s:%s}", names[t->parts[i].kind], t->parts[i].text);
		else
			strbuf_addf(sb, "{%s}", names[t->parts[i].kind]);
	}
}

static int study_is_zero(const struct study *st)
{
	static const struct study zero;

	return !memcmp(st, &zero, sizeof(zero));
}

static void test_full(void)
{
	struct study st;
	struct strbuf err = STRBUF_INIT, sb = STRBUF_INIT;
	const struct entry *e;
	char *json, cwd[4096];
	int rc = study_load(&st, "tests/studies/full.yaml", &err);

	CHECK(rc == 0, "full.yaml loads");
	if (rc) {
		printf("#   %s\n", err.buf);
		strbuf_release(&err);
		return;
	}
	CHECK_STR(st.path, "tests/studies/full.yaml", "path kept as given");
	CHECK_STR(st.name, "full-study", "study name");
	CHECK_STR(st.seed, "7", "seed 007 stored as canonical decimal");
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL, "getcwd");
	CHECK_STR(st.root, cwd, "root: ../.. resolves to the repository root");
	CHECK(st.data_nr == 2 && st.models_nr == 2 && st.methods_nr == 2 &&
	      st.mitigations_nr == 1 && st.evaluations_nr == 1 && st.report,
	      "section sizes");
	CHECK_STR(st.data[0].name, "world", "declaration order kept (data 0)");
	CHECK_STR(st.data[1].name, "corpus", "declaration order kept (data 1)");
	CHECK(st.data[0].section == SEC_DATA && st.report->section == SEC_REPORT,
	      "entry sections");
	CHECK_STR(st.report->name, "report", "report entry name");

	/* data entries and their references */
	e = &st.data[0];
	render(&e->steps[0].argv[3], &sb);
	CHECK_STR(sb.buf, "{seed}", "${seed} part");
	render(&e->steps[0].argv[6], &sb);
	CHECK_STR(sb.buf, "{root}", "${root} part");
	render(&e->steps[0].argv[7], &sb);
	CHECK_STR(sb.buf, "{stage}", "${stage} part");
	CHECK(e->data_refs_nr == 0, "world references no data");
	e = &st.data[1];
	CHECK(e->data_refs_nr == 1 && e->data_refs[0] == 0, "corpus -> world, deduplicated");
	render(&e->steps[0].argv[2], &sb);
	CHECK_STR(sb.buf, "{data:world}", "${data.world} part");
	render(&e->steps[0].argv[4], &sb);
	CHECK_STR(sb.buf, "{params:n}", "${params.n} part");
	render(&e->steps[0].argv[6], &sb);
	CHECK_STR(sb.buf, "[cost$5]", "$$ unescaped and merged into one literal");
	render(&e->steps[0].argv[7], &sb);
	CHECK_STR(sb.buf, "[a$b$]", "lone $ is literal");
	CHECK(e->steps[0].argv[0].pos.line == 11 && e->steps[0].argv[0].pos.col == 11, "run element position");
	CHECK(e->pos.line == 10 && e->pos.col == 3, "entry key position");

	/* models: params typing, resources, code, env */
	e = find(st.models, st.models_nr, "m1");
	CHECK(e != NULL, "model m1 present");
	if (e) {
		json = cJSON_PrintUnformatted(e->params);
		CHECK_STR(json,
			  "{\"layers\":2,\"lr\":0.001,\"name\":\"x\",\"quoted\":\"12\",\"flag\":true,"
			  "\"none\":null,\"empty\":null,\"neg\":-3,\"exp\":0.001,\"half\":0.5,"
			  "\"list\":[1,\"two\"],\"nested\":{\"a\":{\"b\":null}},\"hex\":31,"
			  "\"word\":\"yes\"}",
			  "params converted with YAML 1.2 core typing");
		free(json);
		CHECK(e->res.cpus == 4 && e->res.gpus == 1, "cpus and gpus");
		CHECK(e->res.mem_bytes == 1073741824LL, "mem 1G = 1073741824");
		CHECK(e->res.time_s == 900, "time 15m = 900");
		CHECK(e->code_nr == 2 && !strcmp(e->code[0].s, "stages/toyllm/train.c") &&
		      !strcmp(e->code[1].s, "/etc/hostname"), "code paths");
		CHECK(e->env_nr == 2 && !strcmp(e->env[1].s, "CUDA_VISIBLE_DEVICES"), "env names");
		CHECK(e->data_refs_nr == 1 && e->data_refs[0] == 0, "m1 -> world");
		render(&e->steps[0].argv[4], &sb);
		CHECK_STR(sb.buf, "{model.name}", "${model.name} part");
		render(&e->steps[0].argv[7], &sb);
		CHECK_STR(sb.buf, "[--out=]{out}", "literal then variable");
		CHECK(e->steps_nr == 1 && e->steps[0].nr == 8 && e->run_pos.line == 15 &&
			      e->run_pos.col == 10 && e->steps[0].pos.line == 15,
		      "one step of 8 elements, run_pos");
	}
	e = find(st.models, st.models_nr, "m2");
	CHECK(e && e->res.cpus == 1 && e->res.gpus == 0, "resource defaults");
	CHECK(e && e->res.mem_bytes == 512LL << 20 && e->res.time_s == 7200, "512M and 2h");
	CHECK(e && cJSON_IsObject(e->params) && !e->params->child, "params default {}");
	e = find(st.methods, st.methods_nr, "ft_2");
	CHECK(e && e->res.mem_bytes == 1048576 && e->res.time_s == 90, "plain bytes and seconds");
	e = find(st.methods, st.methods_nr, "wo");
	if (e) {
		render(&e->steps[0].argv[2], &sb);
		CHECK_STR(sb.buf, "{model}", "${model} part");
		render(&e->steps[0].argv[3], &sb);
		CHECK_STR(sb.buf, "{method.name}", "${method.name} part");
	}

	/* mitigation and evaluation */
	e = &st.mitigations[0];
	CHECK(e->after_nr == 2 && !strcmp(e->after[0].s, "wo") && !strcmp(e->after[1].s, "ft_2"),
	      "after list");
	render(&e->steps[0].argv[2], &sb);
	CHECK_STR(sb.buf, "{model.base}", "${model.base} part");
	render(&e->steps[0].argv[4], &sb);
	CHECK_STR(sb.buf, "{mitigation.name}", "${mitigation.name} part");
	e = &st.evaluations[0];
	render(&e->steps[0].argv[5], &sb);
	CHECK_STR(sb.buf, "{evaluation.name}", "${evaluation.name} part");
	render(&e->steps[0].argv[6], &sb);
	CHECK_STR(sb.buf, "{variant}", "${variant} part");
	CHECK(e->data_refs_nr == 2 && e->data_refs[0] == 1 && e->data_refs[1] == 0,
	      "data_refs in first-reference order, deduplicated");
	CHECK(e->res.time_s == 90, "time 90s");
	render(&st.report->steps[0].argv[3], &sb);
	CHECK_STR(sb.buf, "{evaluations}", "${evaluations} part");

	study_release(&st);
	CHECK(study_is_zero(&st), "study_release zeroes the struct");
	strbuf_release(&err);
	strbuf_release(&sb);
}

static int load_str(struct study *st, const char *text, struct strbuf *err)
{
	strbuf_reset(err);
	return study_load_buffer(st, "tests/studies/inline.yaml", text, strlen(text), err);
}

static void test_templates(void)
{
	struct study st;
	struct strbuf err = STRBUF_INIT, sb = STRBUF_INIT;
	int rc;

	rc = load_str(&st, "study: t\nmodels:\n  m:\n    run: [\"$$\", \"$\", \"a$\", \"$x$\", "
			   "\"${out}${seed}\", \"$${out}\", \"\", \"x}\"]\n", &err);
	CHECK(rc == 0, "template edge cases load");
	if (!rc) {
		const struct entry *e = &st.models[0];
		static const char *const want[] = {
			"[$]", "[$]", "[a$]", "[$x$]", "{out}{seed}", "[${out}]", "[]", "[x}]",
		};
		size_t i;

		CHECK(e->steps_nr == 1 && e->steps[0].nr == 8, "eight elements");
		for (i = 0; i < e->steps[0].nr && i < 8; i++) {
			render(&e->steps[0].argv[i], &sb);
			CHECK_STR(sb.buf, want[i], want[i]);
		}
		CHECK(e->steps[0].argv[0].pos.line == 4 && e->steps[0].argv[0].pos.col == 11, "element position");
		study_release(&st);
	}
	rc = load_str(&st, "study: t\nreport:\n  run: [r, \"${evaluations}x\"]\n", &err);
	CHECK(rc == -1 && strstr(err.buf, "must be a whole argument"),
	      "${evaluations} with a suffix rejected");
	CHECK(study_is_zero(&st), "failed load leaves the struct zeroed");
	rc = load_str(&st, "study: t\nmodels:\n  m: {run: [a], params: {x: null}}\n"
			   "methods:\n  w: {run: [b, \"${params.x}\"], params: {x: null}}\n", &err);
	CHECK(rc == -1 && strstr(err.buf, "5:17: parameter 'x' is not a string"),
	      "null param is not referenceable");
	rc = load_str(&st, "study: t\nmodels:\n  m: {run: [a, \"${params.f}\"], "
			   "params: {f: false, n: 1}}\n", &err);
	CHECK(rc == 0, "bool param is referenceable");
	if (!rc)
		study_release(&st);
	rc = load_str(&st, "study: t\nmodels:\n  m: {run: [a], description: hi}\n"
			   "methods: {}\nmitigations: {}\nevaluations: {}\ndata: {}\n", &err);
	CHECK(rc == 0 && st.models_nr == 1 && !st.methods_nr && !st.report, "empty sections");
	if (!rc)
		study_release(&st);
	rc = load_str(&st, "# comment\nstudy: t\n", &err);
	CHECK(rc == 0 && !strcmp(st.seed, "0") && st.models_nr == 0, "minimal study, seed 0");
	if (!rc)
		study_release(&st);
	rc = load_str(&st, "study: t\nseed: 9223372036854775807\n", &err);
	CHECK(rc == 0 && !strcmp(st.seed, "9223372036854775807"), "largest seed");
	if (!rc)
		study_release(&st);
	rc = load_str(&st, "study: t\nseed: 9223372036854775808\n", &err);
	CHECK(rc == -1, "seed above 2^63-1 rejected");
	strbuf_release(&err);
	strbuf_release(&sb);
}

static void test_diagnostic_format(void)
{
	struct study st;
	struct strbuf err = STRBUF_INIT;
	int rc = load_str(&st, "study: t\nmodels:\n# a comment line\n"
			       "  m1: {run: [a], bogus: 1}\n", &err);

	CHECK(rc == -1, "bad study fails");
	CHECK_STR(err.buf,
		  "tests/studies/inline.yaml:4:18: unknown key 'bogus'\n"
		  "  m1: {run: [a], bogus: 1}\n"
		  "                 ^",
		  "three-line diagnostic: location, source line, caret");
	rc = load_str(&st, "study: t\nmodels:\n  m1: {run: [\"\t${x}\"]}\n", &err);
	CHECK_STR(err.buf,
		  "tests/studies/inline.yaml:3:16: unknown variable '${x}'\n"
		  "  m1: {run: [\"\t${x}\"]}\n"
		  "               ^",
		  "tab kept in the source line; column counts it as one");
	strbuf_release(&err);
}

static void test_limits(void)
{
	struct study st;
	struct strbuf err = STRBUF_INIT, big = STRBUF_INIT;
	size_t n = STUDY_MAX_FILE_BYTES + 1;
	char *buf = xmalloc(n);
	int rc;

	memset(buf, '#', n);
	rc = study_load_buffer(&st, "big.yaml", buf, n, &err);
	strbuf_addf(&big, "big.yaml:1:1: study file is too large (%zu bytes, limit %u)", n,
		    STUDY_MAX_FILE_BYTES);
	CHECK(rc == -1 && !strcmp(err.buf, big.buf), "oversized buffer rejected at 1:1");
	CHECK(study_is_zero(&st), "oversized: struct zeroed");
	free(buf);
	strbuf_reset(&err);
	rc = study_load(&st, "tests/studies/no-such-file.yaml", &err);
	CHECK(rc == -1 && !strcmp(err.buf, "cannot read 'tests/studies/no-such-file.yaml': "
					   "No such file or directory"),
	      "missing file reported");
	strbuf_release(&err);
	strbuf_release(&big);
}

static void test_digest(void)
{
	struct study st;
	struct strbuf err = STRBUF_INIT;
	int rc = study_load(&st, "tests/studies/minimal.yaml", &err);

	CHECK(rc == 0, "minimal.yaml loads");
	if (rc)
		return;
	/* sha256sum of "study: minimal\n" */
	CHECK_STR(st.digest, "f48dc2eadac8c2a15fa5a3a8cb12cd08e2f4dd58be1b14d0eb8f1f3dfbb2f0e1",
		  "digest is the SHA-256 of the file bytes");
	study_release(&st);
	strbuf_release(&err);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void test_root(void)
{
	char tmpl[] = "/tmp/study-test-study-XXXXXX";
	char *dir = mkdtemp(tmpl), *real;
	struct strbuf p = STRBUF_INIT, err = STRBUF_INIT, want = STRBUF_INIT;
	struct study st;
	int rc;

	CHECK(dir != NULL, "mkdtemp");
	if (!dir)
		return;
	real = realpath(dir, NULL);
	/* dir/proj/.git (a file, as in a worktree) and dir/proj/studies/sub/s.yaml */
	strbuf_addf(&p, "%s/proj", dir);
	mkdir(p.buf, 0700);
	strbuf_addstr(&p, "/studies");
	mkdir(p.buf, 0700);
	strbuf_addstr(&p, "/sub");
	mkdir(p.buf, 0700);
	strbuf_addstr(&p, "/s.yaml");
	write_file(p.buf, "study: s\n");
	strbuf_reset(&want);
	strbuf_addf(&want, "%s/proj/.git", dir);
	write_file(want.buf, "gitdir: elsewhere\n");

	rc = study_load(&st, p.buf, &err);
	strbuf_reset(&want);
	strbuf_addf(&want, "%s/proj", real);
	CHECK(rc == 0 && !strcmp(st.root, want.buf), "root: nearest directory holding .git");
	if (!rc)
		study_release(&st);

	strbuf_reset(&want);
	strbuf_addf(&want, "%s/proj/.git", dir);
	unlink(want.buf);
	rc = study_load(&st, p.buf, &err);
	strbuf_reset(&want);
	strbuf_addf(&want, "%s/proj/studies/sub", real);
	CHECK(rc == 0 && !strcmp(st.root, want.buf), "root: no .git -> the file's directory");
	if (!rc)
		study_release(&st);

	write_file(p.buf, "study: s\nroot: ../..\n");
	rc = study_load(&st, p.buf, &err);
	strbuf_reset(&want);
	strbuf_addf(&want, "%s/proj", real);
	CHECK(rc == 0 && !strcmp(st.root, want.buf), "root: relative to the file's directory");
	if (!rc)
		study_release(&st);

	strbuf_reset(&want);
	strbuf_addf(&want, "study: s\nroot: %s/proj/\n", dir);
	write_file(p.buf, want.buf);
	rc = study_load(&st, p.buf, &err);
	strbuf_reset(&want);
	strbuf_addf(&want, "%s/proj", real);
	CHECK(rc == 0 && !strcmp(st.root, want.buf), "root: absolute, no trailing slash");
	if (!rc)
		study_release(&st);

	write_file(p.buf, "study: s\nroot: s.yaml\n");
	strbuf_reset(&err);
	rc = study_load(&st, p.buf, &err);
	CHECK(rc == -1 && strstr(err.buf, ":2:7: root 's.yaml' is not a directory"),
	      "root: a file is rejected at the value");

	strbuf_reset(&want);
	strbuf_addf(&want, "rm -rf '%s'", dir);
	CHECK(system(want.buf) == 0, "scratch removed");
	free(real);
	strbuf_release(&p);
	strbuf_release(&err);
	strbuf_release(&want);
}

static double now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_performance(void)
{
	struct strbuf sb = STRBUF_INIT, err = STRBUF_INIT;
	struct study st;
	double t0, c0, ms, cpu_ms;
	int i, rc;

	strbuf_addstr(&sb, "study: big\ndata:\n  world: {run: [w, \"${out}\"]}\nmodels:\n");
	for (i = 0; i < 10000; i++)
		strbuf_addf(&sb, "  m%d:\n    run: [train, --world, \"${data.world}\", --out, "
			    "\"${out}\"]\n    params: {layers: %d, lr: 0.001}\n"
			    "    resources: {cpus: 1, mem: 1G, time: 15m}\n", i, i % 7);
	/* Printed for the record only: speed is the benchmarks' business
	 * (bench/, the plan column), never a pass/fail condition of a test. */
	t0 = now_ms(CLOCK_MONOTONIC);
	c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	rc = study_load_buffer(&st, "tests/studies/big.yaml", sb.buf, sb.len, &err);
	cpu_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
	ms = now_ms(CLOCK_MONOTONIC) - t0;
	printf("# 10000-model study (%zu bytes) loaded in %.1f ms cpu, %.1f ms wall\n", sb.len,
	       cpu_ms, ms);
	CHECK(rc == 0 && st.models_nr == 10000, "10000-model study loads");
	if (!rc)
		study_release(&st);
	/* a duplicate at the very end is still found (sorted duplicate check) */
	strbuf_addstr(&sb, "  m0: {run: [x]}\n");
	rc = study_load_buffer(&st, "tests/studies/big.yaml", sb.buf, sb.len, &err);
	CHECK(rc == -1 && strstr(err.buf, ":40005:3: duplicate key 'm0'"), "late duplicate found");
	if (!rc)
		study_release(&st);
	strbuf_release(&sb);
	strbuf_release(&err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_malformed(void)
{
	const char *dirname = "tests/malformed";
	DIR *d = opendir(dirname);
	struct dirent *de;
	char **names = NULL;
	size_t nr = 0, alloc = 0, i;

	CHECK(d != NULL, "opendir tests/malformed");
	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n > 5 && !strcmp(de->d_name + n - 5, ".yaml")) {
			XGROW(names, alloc, nr + 1);
			names[nr++] = xstrdup(de->d_name);
		}
	}
	closedir(d);
	qsort(names, nr, sizeof(*names), cmp_str);
	CHECK(nr >= 40, "at least 40 malformed fixtures");
	for (i = 0; i < nr; i++) {
		struct strbuf path = STRBUF_INIT, errpath = STRBUF_INIT, want = STRBUF_INIT;
		struct strbuf err = STRBUF_INIT, got = STRBUF_INIT, what = STRBUF_INIT;
		struct study st;
		char *nl;
		int rc;

		strbuf_addf(&path, "%s/%s", dirname, names[i]);
		strbuf_add(&errpath, path.buf, path.len - 5);
		strbuf_addstr(&errpath, ".err");
		if (strbuf_read_file(&want, errpath.buf))
			strbuf_addf(&want, "(missing %s)", errpath.buf);
		strbuf_rtrim(&want);
		rc = study_load(&st, path.buf, &err);
		nl = strchr(err.buf, '\n');
		strbuf_addstr(&got, "study: error: ");
		strbuf_add(&got, err.buf, nl ? (size_t)(nl - err.buf) : err.len);
		strbuf_addf(&what, "malformed %s", names[i]);
		if (rc == 0) {
			CHECK(0, what.buf);
			study_release(&st);
		} else {
			CHECK_STR(got.buf, want.buf, what.buf);
			if (!study_is_zero(&st))
				CHECK(0, "failed load left the struct non-zero");
		}
		free(names[i]);
		strbuf_release(&path);
		strbuf_release(&errpath);
		strbuf_release(&want);
		strbuf_release(&err);
		strbuf_release(&got);
		strbuf_release(&what);
	}
	free(names);
}

/* resources.retries: default "not given", 0 to 100, exact errors. */
static void test_retries(void)
{
	struct study st;
	struct strbuf err = STRBUF_INIT;
	int rc = load_str(&st, "study: t\nmodels:\n  a: {run: [x]}\n"
			       "  b: {run: [x], resources: {retries: 0}}\n"
			       "  c: {run: [x], resources: {retries: 100, cpus: 2}}\n", &err);
	CHECK(rc == 0, "retries 0 and 100 load");
	if (!rc) {
		CHECK(st.models[0].res.retries == -1, "retries not given: -1 (run --retries decides)");
		CHECK(st.models[1].res.retries == 0, "retries: 0 is kept as given");
		CHECK(st.models[2].res.retries == 100 && st.models[2].res.cpus == 2,
		      "retries: 100 beside another resource");
		study_release(&st);
	}
	static const char *const bad[][2] = {
		{ "-1", "3:38: 'retries' must be an integer from 0 to 100" },
		{ "101", "3:38: 'retries' must be an integer from 0 to 100" },
		{ "1.5", "3:38: 'retries' must be an integer from 0 to 100" },
		{ "two", "3:38: 'retries' must be an integer from 0 to 100" },
		{ "[1]", "3:38: 'retries' must be an integer from 0 to 100" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct strbuf text = STRBUF_INIT;
		strbuf_addf(&text, "study: t\nmodels:\n  a: {run: [x], resources: {retries: %s}}\n",
			    bad[i][0]);
		rc = load_str(&st, text.buf, &err);
		CHECK(rc == -1 && strstr(err.buf, bad[i][1]), bad[i][0]);
		if (rc == -1 && !strstr(err.buf, bad[i][1]))
			printf("#   got: %s\n", err.buf);
		strbuf_release(&text);
	}
	strbuf_release(&err);
}

int main(void)
{
	test_full();
	test_templates();
	test_diagnostic_format();
	test_limits();
	test_digest();
	test_root();
	test_performance();
	test_malformed();
	test_retries();
	return check_done();
}
