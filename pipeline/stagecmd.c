/*
 * stagecmd: template expansion of a stage's run argv and its cache key.
 * See stagecmd.h.
 */
#include "stagecmd.h"
#include "canon.h"
#include "proc.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void code_digests_init(struct code_digests *cd) { memset(cd, 0, sizeof(*cd)); }

void code_digests_release(struct code_digests *cd)
{
	strmap_clear(&cd->map, free);
	strmap_clear(&cd->programs, free);
	strmap_clear(&cd->files, NULL);
}

/* Digest of a file, memoised for the run. */
static const char *code_digest(struct code_digests *cd, const char *abs, struct strbuf *err)
{
	char *hex = strmap_get(&cd->map, abs);
	if (hex)
		return hex;
	hex = xmalloc(HASH_HEX_SIZE);
	if (hash_file_hex(abs, hex, NULL, err) < 0) {
		free(hex);
		return NULL;
	}
	strmap_put(&cd->map, abs, hex);
	return hex;
}

static char *join_root(const char *root, const char *rel)
{
	if (rel[0] == '/')
		return xstrdup(rel);
	return xasprintf("%s/%s", root, rel);
}

/* The literal text of argv[0]'s template (argv[0] has no variables in
 * practice; if it has, it is expanded with the same rules by stagecmd_argv). */
static void literal_text(const struct targ *t, struct strbuf *out)
{
	for (size_t k = 0; k < t->nr; k++)
		if (t->parts[k].kind == TV_LITERAL)
			strbuf_addstr(out, t->parts[k].text);
}

char *stagecmd_program(const struct plan *p, const struct stage *s, size_t step,
		       struct code_digests *cd, struct strbuf *err)
{
	struct strbuf name = STRBUF_INIT;
	const struct targ *t0 = &s->entry->steps[step].argv[0];
	int has_root = 0;
	for (size_t k = 0; k < t0->nr; k++)
		if (t0->parts[k].kind == TV_ROOT)
			has_root = 1;
	if (has_root) {
		for (size_t k = 0; k < t0->nr; k++)
			strbuf_addstr(&name, t0->parts[k].kind == TV_ROOT ? p->study->root
									: (t0->parts[k].text ? t0->parts[k].text : ""));
	} else {
		literal_text(t0, &name);
	}
	char *res = cd ? strmap_get(&cd->programs, name.buf) : NULL;
	if (res) {
		strbuf_release(&name);
		return xstrdup(res);
	}
	char *missing = NULL; /* a path that is not an executable */
	if (strchr(name.buf, '/')) {
		res = join_root(p->study->root, name.buf);
		if (access(res, X_OK) < 0) {
			missing = res;
			res = NULL;
		}
	} else {
		res = find_in_path(name.buf, STAGE_PATH);
	}
	if (!res) {
		if (s->entry->steps_nr > 1)
			strbuf_addf(err, "step %zu of %zu: ", step + 1, s->entry->steps_nr);
		if (missing)
			strbuf_addf(err, "command not found: '%s'", missing);
		else
			strbuf_addf(err, "command not found: '%s' (searched %s)", name.buf, STAGE_PATH);
		free(missing);
	}
	if (res && cd)
		strmap_put(&cd->programs, name.buf, xstrdup(res));
	strbuf_release(&name);
	return res;
}

int stagecmd_programs(const struct plan *p, const struct stage *s, struct code_digests *cd,
		      struct strvec *programs, struct strbuf *err)
{
	for (size_t k = 0; k < s->entry->steps_nr; k++) {
		char *prog = stagecmd_program(p, s, k, cd, err);
		if (!prog) {
			strvec_clear(programs);
			return -1;
		}
		strvec_push_nodup(programs, prog);
	}
	return 0;
}

void stagecmd_step_label(const struct entry *e, size_t step, struct strbuf *out)
{
	const struct step *st = &e->steps[step];
	strbuf_addf(out, "step %zu of %zu (", step + 1, e->steps_nr);
	for (size_t a = 0; a < st->nr && a < 2; a++) {
		struct strbuf arg = STRBUF_INIT;
		study_targ_text(&st->argv[a], &arg);
		if (a)
			strbuf_addch(out, ' ');
		if (arg.len > 40) {
			size_t n = 37;
			while (n && ((unsigned char)arg.buf[n] & 0xc0) == 0x80)
				n--; /* not inside a UTF-8 character */
			strbuf_add(out, arg.buf, n);
			strbuf_addstr(out, "...");
		} else {
			strbuf_addstr(out, arg.buf);
		}
		strbuf_release(&arg);
	}
	strbuf_addch(out, ')');
}

static const char *input_digest(const struct stage_output *outs, long stage)
{
	return stage >= 0 ? outs[stage].digest : "";
}

/* "sha256:<hex>": how an input appears in the argv of a cache record. */
static void add_digest_ref(struct strbuf *sb, const char *hex)
{
	strbuf_addstr(sb, "sha256:");
	strbuf_addstr(sb, hex);
}

/* The input node of external input NAME (plan.h: p->nr + its index). */
static long external_input(const struct plan *p, const char *name)
{
	for (size_t x = 0; x < p->externals_nr; x++)
		if (!strcmp(p->externals[x].input->name, name))
			return (long)(p->nr + x);
	return -1;
}

/*
 * Expand one argv element. for_key=2 (scanning for code files) keeps the real
 * root but writes ${out} and inputs symbolically. for_key=1 writes the symbolic form used in the
 * cache record. ${evaluations} is handled by the caller.
 */
static void expand_targ(const struct plan *p, const struct stage *s, const struct targ *t,
			const struct stage_output *outs, const char *out_dir, int for_key,
			struct strbuf *sb)
{
	const struct study *st = p->study;
	for (size_t k = 0; k < t->nr; k++) {
		const struct tpart *part = &t->parts[k];
		long in = -1;
		switch (part->kind) {
		case TV_LITERAL: strbuf_addstr(sb, part->text); break;
		case TV_SEED: strbuf_addstr(sb, s->seed); break;
		case TV_OUT: strbuf_addstr(sb, for_key ? "${out}" : out_dir); break;
		case TV_ROOT: strbuf_addstr(sb, for_key == 1 ? "${root}" : st->root); break;
		case TV_STAGE: strbuf_addstr(sb, s->id); break;
		case TV_MODEL: in = s->model_input; break;
		case TV_MODEL_BASE: in = s->base_input; break;
		case TV_DATA: in = plan_data_input(s, part->text); break;
		case TV_INPUT: in = external_input(p, part->text); break;
		case TV_EVALUATIONS: break;
		case TV_EVALUATIONS_SEEDS: plan_evaluation_seeds(p, s, sb); break;
		case TV_PARAM:
			canon_scalar_text(cJSON_GetObjectItemCaseSensitive(s->entry->params, part->text),
					  sb);
			break;
		case TV_MODEL_NAME: strbuf_addstr(sb, s->model ? s->model : ""); break;
		case TV_METHOD_NAME: strbuf_addstr(sb, s->method ? s->method : "base"); break;
		case TV_MITIGATION_NAME: strbuf_addstr(sb, s->mitigation ? s->mitigation : ""); break;
		case TV_EVALUATION_NAME: strbuf_addstr(sb, s->evaluation ? s->evaluation : ""); break;
		case TV_VARIANT: strbuf_addstr(sb, s->variant ? s->variant : ""); break;
		}
		if (in >= 0) {
			if (for_key == 2)
				strbuf_addstr(sb, "${input}");
			else if (for_key)
				add_digest_ref(sb, input_digest(outs, in));
			else
				strbuf_addstr(sb, outs[in].path ? outs[in].path : "");
		}
	}
}

static int is_evaluations(const struct targ *t)
{
	return t->nr == 1 && t->parts[0].kind == TV_EVALUATIONS;
}

/* Calls `emit` for each final argv element of step `step` (after list expansion). */
static void expand_all(const struct plan *p, size_t si, size_t step,
		       const struct stage_output *outs, const char *out_dir, int for_key,
		       const char *program, void (*emit)(void *ctx, const char *arg), void *ctx)
{
	const struct stage *s = &p->stages[si];
	const struct step *st = &s->entry->steps[step];
	struct strbuf sb = STRBUF_INIT;
	for (size_t a = 0; a < st->nr; a++) {
		const struct targ *t = &st->argv[a];
		if (is_evaluations(t)) {
			for (size_t k = 0; k < s->inputs_nr; k++) {
				if (strncmp(s->inputs[k].name, "evaluations[", 12))
					continue;
				size_t in = s->inputs[k].stage;
				strbuf_reset(&sb);
				if (for_key)
					add_digest_ref(&sb, outs[in].digest);
				else
					strbuf_addstr(&sb, outs[in].path ? outs[in].path : "");
				emit(ctx, sb.buf);
			}
			continue;
		}
		strbuf_reset(&sb);
		if (a == 0 && !for_key && program)
			strbuf_addstr(&sb, program);
		else
			expand_targ(p, s, t, outs, out_dir, for_key, &sb);
		emit(ctx, sb.buf);
	}
	strbuf_release(&sb);
}

static void emit_strvec(void *ctx, const char *arg) { strvec_push(ctx, arg); }

void stagecmd_argv(const struct plan *p, size_t si, size_t step, const struct stage_output *outs,
		   const char *out_dir, const char *program, struct strvec *argv)
{
	expand_all(p, si, step, outs, out_dir, 0, program, emit_strvec, argv);
}

struct json_array_ctx {
	struct strbuf *sb;
	int first;
};

static void emit_json(void *ctx, const char *arg)
{
	struct json_array_ctx *c = ctx;
	if (!c->first)
		strbuf_addch(c->sb, ',');
	c->first = 0;
	strbuf_add_json_str(c->sb, arg);
}

void stagecmd_params_json(const struct stage *s, struct strbuf *out)
{
	canon_json(s->entry->params, out);
}

/* Relative path of `abs` inside `root`, or NULL when outside. */
static const char *inside_root(const char *root, const char *abs)
{
	size_t n = strlen(root);
	if (!strncmp(abs, root, n) && abs[n] == '/')
		return abs + n + 1;
	return NULL;
}

/* ---- programs and scripts named by the argv ----
 *
 * The rule (docs/study-format.md, "What is in the cache key"): every argv
 * element after argv[0] of every step, expanded with the real root (${out}
 * and inputs stay symbolic: their bytes are in the key as digests), and the
 * value of every `env:` variable, is looked at whole and split into words at
 * whitespace, quotes and the characters ; & | ( ) < > = ` , : — and a word with the root
 * inside it (-f/root/x.awk) is looked at from there. Every such text that is
 * an absolute path inside the study root naming a regular file is hashed as
 * code. This covers `[python3, "${root}/scripts/train.py"]`,
 * `--config=${root}/c.yaml`, lists such as `${root}/a.sh,${root}/b.sh`, a root
 * whose path has spaces, and the programs inside
 * `sh -c "${root}/bin/tool ... && ..."`. Directories are not hashed.
 */

static int is_word_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\'' || c == '"' ||
	       c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '<' ||
	       c == '>' || c == '=' || c == '`' || c == ',' || c == ':';
}

static const char not_a_file[] = "", a_file[] = "f", a_dir[] = "d";

/* What `abs` is (memoised for the run in cd->files): a_file, a_dir, or
 * not_a_file for anything else or nothing. */
static const char *path_kind(struct code_digests *cd, const char *abs)
{
	if (cd) {
		const char *v = strmap_get(&cd->files, abs);
		if (v)
			return v;
	}
	struct stat sb;
	const char *k = stat(abs, &sb) < 0	 ? not_a_file
			: S_ISREG(sb.st_mode) ? a_file
			: S_ISDIR(sb.st_mode) ? a_dir
					      : not_a_file;
	if (cd)
		strmap_put(&cd->files, abs, (void *)k);
	return k;
}

enum word_kind {
	W_TEXT,  /* a whole argument or env value (comes first) */
	W_WORD,  /* one of its words */
};

/* Calls fn(ctx, text, kind) for each argument after argv[0] of every step of
 * stage si (or of step `only` alone, when not ALL_STEPS), then each `env:`
 * value: the whole text, then each of its words (and the part of a word from
 * an embedded root on). Store paths stay symbolic: their bytes are in the
 * key as digests already. */
#define ALL_STEPS ((size_t)-1)
static void for_each_word(const struct plan *p, size_t si, size_t only,
			  void (*fn)(void *ctx, const char *text, enum word_kind kind), void *ctx)
{
	const struct stage *s = &p->stages[si];
	const struct entry *e = s->entry;
	const char *root = p->study->root;
	size_t rootlen = strlen(root);
	struct strbuf sb = STRBUF_INIT, word = STRBUF_INIT;
	size_t n = only == ALL_STEPS ? 0 : only, a = 1;
	for (size_t env = 0;;) {
		strbuf_reset(&sb);
		if (n < e->steps_nr && (only == ALL_STEPS || n == only)) {
			/* the next argument of step n, if it has one */
			if (a >= e->steps[n].nr) {
				n++;
				a = 1;
				continue;
			}
			const struct targ *t = &e->steps[n].argv[a++];
			if (is_evaluations(t))
				continue;
			expand_targ(p, s, t, NULL, NULL, 2, &sb);
		} else if (env < e->env_nr) {
			const char *v = getenv(e->env[env++].s);
			if (!v)
				continue;
			strbuf_addstr(&sb, v);
		} else {
			break;
		}
		fn(ctx, sb.buf, W_TEXT);
		for (const char *c = sb.buf; *c;) {
			while (*c && is_word_sep(*c))
				c++;
			const char *w = c;
			while (*c && !is_word_sep(*c))
				c++;
			if (c == w)
				continue;
			strbuf_reset(&word);
			strbuf_add(&word, w, (size_t)(c - w));
			fn(ctx, word.buf, W_WORD);
			const char *in = word.buf[0] == '/' ? NULL : strstr(word.buf, root);
			if (in && in[rootlen] == '/')
				fn(ctx, in, W_WORD); /* -f/root/x.awk, -I/root/lib */
		}
	}
	strbuf_release(&sb);
	strbuf_release(&word);
}

struct code_files_ctx {
	const char *root;
	size_t rootlen;
	struct code_digests *cd;
	struct strvec *out;
};

static void add_code_file(void *arg, const char *w, enum word_kind kind)
{
	struct code_files_ctx *c = arg;
	size_t len = strlen(w);
	(void)kind;
	if (len <= c->rootlen + 1 || strncmp(w, c->root, c->rootlen) || w[c->rootlen] != '/')
		return;
	if (path_kind(c->cd, w) != a_file)
		return;
	for (size_t i = 0; i < c->out->nr; i++)
		if (!strcmp(c->out->v[i], w))
			return;
	strvec_push(c->out, w);
}

static void code_files(const struct plan *p, size_t si, size_t only, struct code_digests *cd,
		       struct strvec *out)
{
	struct code_files_ctx c = { p->study->root, strlen(p->study->root), cd, out };
	for_each_word(p, si, only, add_code_file, &c);
}

void stagecmd_code_files(const struct plan *p, size_t si, struct code_digests *cd,
			 struct strvec *out)
{
	code_files(p, si, ALL_STEPS, cd, out);
}

/* Programs that run another program named by their arguments. */
static int is_interpreter(const char *program)
{
	/* and the wrappers that run their arguments as a command */
	static const char *const names[] = { "sh",     "bash",  "dash",    "zsh",   "ksh",
					     "env",    "python", "perl",   "ruby",  "node",
					     "Rscript", "julia", "lua",    "tclsh", "php",
					     "make",   "timeout", "nice",  "nohup", "stdbuf",
					     "xargs",  "time",  "ionice", "taskset", "setsid",
					     "flock" };
	const char *base = strrchr(program, '/');
	base = base ? base + 1 : program;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);
		/* python3, python3.11, perl5.36 count as their family */
		if (!strncmp(base, names[i], n) &&
		    (!base[n] || strspn(base + n, "0123456789.") == strlen(base + n)))
			return 1;
	}
	return 0;
}

/* What an interpreter resolves only when it runs, so that it escapes the
 * cache key: a relative path ("./x", "../x", a name with a script's
 * extension), a module after -m, or a directory inside the root whose files
 * it reads (make -C ${root}, python3 ${root}/pkg, cd ${root} && ...). A text
 * that is itself a study file (hashed) is not split further. */
struct unresolved_ctx {
	const struct plan *p;
	const struct entry *e;
	struct code_digests *cd;
	int after_m, skip_words;
	char *word;     /* the first relative script or module, owned */
	char *dir;      /* the first directory of the root named, owned */
};

static int has_script_ext(const char *w)
{
	static const char *const exts[] = { ".py", ".sh",  ".bash", ".pl", ".pm", ".rb",
					    ".js", ".mjs", ".R",    ".r",  ".jl", ".lua",
					    ".tcl", ".php", ".awk", ".sed", ".mk" };
	const char *dot = strrchr(w, '.');
	if (!dot || strchr(dot, '/'))
		return 0;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (!strcmp(dot, exts[i]))
			return 1;
	return 0;
}

/* 1 when `w` (relative, "./" stripped) is one of the entry's `code:` files. */
static int listed_in_code(const struct entry *e, const char *w)
{
	while (!strncmp(w, "./", 2))
		w += 2;
	for (size_t i = 0; i < e->code_nr; i++) {
		const char *c = e->code[i].s;
		while (!strncmp(c, "./", 2))
			c += 2;
		if (!strcmp(c, w))
			return 1;
	}
	return 0;
}

static void find_unresolved(void *arg, const char *w, enum word_kind kind)
{
	struct unresolved_ctx *c = arg;
	const char *root = c->p->study->root;
	size_t rootlen = strlen(root);
	int in_root = !strncmp(w, root, rootlen) && (w[rootlen] == '/' || !w[rootlen]);
	if (kind == W_TEXT) {
		/* after_m carries over: "-m" and the module are two arguments */
		c->skip_words = in_root && path_kind(c->cd, w) == a_file;
		return;
	}
	if (c->skip_words)
		return;
	if (in_root && path_kind(c->cd, w) == a_dir) {
		if (!c->dir)
			c->dir = xstrdup(w);
		return;
	}
	int module = c->after_m;
	int hit = module || (w[0] != '/' && w[0] != '-' &&
			     (!strncmp(w, "./", 2) || !strncmp(w, "../", 3) || has_script_ext(w)));
	c->after_m = !strcmp(w, "-m");
	/* a module is trusted to be listed when there is any code: at all */
	if (hit && !c->word && !(c->e->code_nr && (module || listed_in_code(c->e, w))))
		c->word = xstrdup(w);
}

int stagecmd_unhashed_program(const struct plan *p, size_t si, size_t step,
			      struct code_digests *cd, struct strbuf *why)
{
	const struct stage *s = &p->stages[si];
	struct strbuf err = STRBUF_INIT;
	char *program = stagecmd_program(p, s, step, cd, &err);
	strbuf_release(&err);
	if (!program)
		return 0; /* reported when the stage is looked up */
	int warn = 0;
	if (is_interpreter(program) && !inside_root(p->study->root, program)) {
		struct unresolved_ctx c = { p, s->entry, cd, 0, 0, NULL, NULL };
		for_each_word(p, si, step, find_unresolved, &c);
		const char *base = strrchr(program, '/');
		base = base ? base + 1 : program;
		if (c.word) {
			strbuf_addf(why,
				    "'%s' runs '%s', which is looked up when the stage runs and is"
				    " not in its cache key: a change to it will not rerun the stage;"
				    " name it as \"${root}/...\" or list it under code:",
				    base, c.word);
			warn = 1;
		} else if (c.dir && !s->entry->code_nr) {
			struct strvec named = STRVEC_INIT;
			code_files(p, si, step, cd, &named);
			if (!named.nr) {
				strbuf_addf(why,
					    "'%s' is given the directory '%s', whose files are not in"
					    " its cache key: a change to them will not rerun the stage;"
					    " list the files it runs under code:",
					    base, c.dir);
				warn = 1;
			}
			strvec_clear(&named);
		}
		free(c.word);
		free(c.dir);
	}
	free(program);
	return warn;
}

int stagecmd_key(const struct plan *p, size_t si, const struct stage_output *outs,
		 char *const *programs, struct code_digests *cd, struct strbuf *record,
		 char key[HASH_HEX_SIZE], struct strbuf *err)
{
	const struct stage *s = &p->stages[si];
	const struct entry *e = s->entry;
	const char *root = p->study->root;
	strbuf_reset(record);

	/* Fields in sorted key order: argv, code, env, inputs, params, protocol, seed, stage.
	 * One step: "argv" is its array of strings (as before steps existed);
	 * several: an array of such arrays, one per step. */
	strbuf_addstr(record, "{\"argv\":[");
	for (size_t n = 0; n < e->steps_nr; n++) {
		if (e->steps_nr > 1)
			strbuf_addstr(record, n ? ",[" : "[");
		struct json_array_ctx jc = { record, 1 };
		expand_all(p, si, n, outs, NULL, 1, NULL, emit_json, &jc);
		if (e->steps_nr > 1)
			strbuf_addch(record, ']');
	}
	strbuf_addstr(record, "],\"code\":{");

	/* code: each step's argv[0] if inside the root, every study file an
	 * argument names (stagecmd_code_files), then `code:` entries; sorted by path */
	struct strvec named = STRVEC_INIT;
	stagecmd_code_files(p, si, cd, &named);
	size_t ncode = e->code_nr + named.nr + e->steps_nr;
	char **paths = xcalloc(ncode, sizeof(*paths));
	size_t np = 0;
	for (size_t n = 0; programs && n < e->steps_nr; n++) {
		const char *rel0 = programs[n] ? inside_root(root, programs[n]) : NULL;
		if (rel0)
			paths[np++] = xstrdup(rel0);
	}
	for (size_t i = 0; i < named.nr; i++)
		paths[np++] = xstrdup(inside_root(root, named.v[i]));
	strvec_clear(&named);
	for (size_t i = 0; i < e->code_nr; i++) {
		char *abs = join_root(root, e->code[i].s);
		const char *rel = inside_root(root, abs);
		paths[np++] = xstrdup(rel ? rel : abs);
		free(abs);
	}
	/* insertion sort + dedupe: a handful of entries */
	for (size_t i = 1; i < np; i++)
		for (size_t j = i; j > 0 && strcmp(paths[j - 1], paths[j]) > 0; j--) {
			char *t = paths[j];
			paths[j] = paths[j - 1];
			paths[j - 1] = t;
		}
	int rc = 0, first = 1;
	for (size_t i = 0; i < np; i++) {
		if (i && !strcmp(paths[i], paths[i - 1]))
			continue;
		char *abs = join_root(root, paths[i]);
		const char *hex = code_digest(cd, abs, err);
		free(abs);
		if (!hex) {
			rc = -1;
			break;
		}
		if (!first)
			strbuf_addch(record, ',');
		first = 0;
		strbuf_add_json_str(record, paths[i]);
		strbuf_addch(record, ':');
		strbuf_add_json_str(record, hex);
	}
	for (size_t i = 0; i < np; i++)
		free(paths[i]);
	free(paths);
	if (rc < 0)
		return -1;

	/* env: passed-through names and values (null when unset), sorted */
	strbuf_addstr(record, "},\"env\":");
	cJSON *env = cJSON_CreateObject();
	for (size_t i = 0; i < e->env_nr; i++) {
		const char *v = getenv(e->env[i].s);
		if (!cJSON_GetObjectItemCaseSensitive(env, e->env[i].s))
			cJSON_AddItemToObject(env, e->env[i].s,
					      v ? cJSON_CreateString(v) : cJSON_CreateNull());
	}
	canon_json(env, record);
	cJSON_Delete(env);

	/* inputs: name -> digest, sorted by name */
	strbuf_addstr(record, ",\"inputs\":");
	cJSON *inputs = cJSON_CreateObject();
	for (size_t i = 0; i < s->inputs_nr; i++)
		cJSON_AddItemToObject(inputs, s->inputs[i].name,
				      cJSON_CreateString(outs[s->inputs[i].stage].digest));
	canon_json(inputs, record);
	cJSON_Delete(inputs);

	strbuf_addstr(record, ",\"params\":");
	canon_json(e->params, record);
	strbuf_addf(record, ",\"protocol\":%d,\"seed\":", STUDY_PROTOCOL);
	strbuf_add_json_str(record, s->seed);
	strbuf_addstr(record, ",\"stage\":");
	strbuf_add_json_str(record, s->id);
	strbuf_addch(record, '}');
	hash_buf_hex(record->buf, record->len, key);
	return 0;
}
