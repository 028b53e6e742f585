/* cli: option table parsing and shared stage-protocol helpers (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "modelio.h"

struct opt *cli_opt(struct opt *opts, int nopts, const char *name)
{
	for (int i = 0; i < nopts; i++)
		if (!strcmp(opts[i].name, name))
			return &opts[i];
	return NULL;
}

static int set_value(struct opt *o, const char *val, struct tl_err *e)
{
	char *end;
	errno = 0;
	switch (o->type) {
	case OPT_STR:
		*(const char **)o->dst = val;
		break;
	case OPT_INT: {
		long v = strtol(val, &end, 10);
		if (!*val || *end || errno || v < -2147483647L || v > 2147483647L)
			return tl_fail(e, "--%s: '%s' is not an integer", o->name, val);
		*(int *)o->dst = (int)v;
		break;
	}
	case OPT_U64: {
		unsigned long long v = strtoull(val, &end, 10);
		if (!*val || *end || errno || *val == '-')
			return tl_fail(e, "--%s: '%s' is not a non-negative integer", o->name, val);
		*(uint64_t *)o->dst = (uint64_t)v;
		break;
	}
	case OPT_DOUBLE: {
		double v = strtod(val, &end);
		if (!*val || *end || errno || v != v)
			return tl_fail(e, "--%s: '%s' is not a number", o->name, val);
		*(double *)o->dst = v;
		break;
	}
	case OPT_FLAG:
		*(int *)o->dst = 1;
		break;
	}
	o->seen = 1;
	return 0;
}

int cli_parse(int argc, char **argv, struct opt *opts, int nopts, struct tl_err *e)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return 1;
		if (strncmp(a, "--", 2))
			return tl_fail(e, "unexpected argument '%s'", a);
		const char *eq = strchr(a + 2, '=');
		char name[64];
		size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (len == 0 || len >= sizeof name)
			return tl_fail(e, "unknown option '%s'", a);
		memcpy(name, a + 2, len);
		name[len] = 0;
		struct opt *o = cli_opt(opts, nopts, name);
		if (!o)
			return tl_fail(e, "unknown option '--%s' (see --help)", name);
		if (o->seen)
			return tl_fail(e, "option '--%s' given twice", name);
		const char *val;
		if (o->type == OPT_FLAG) {
			if (eq)
				return tl_fail(e, "option '--%s' takes no value", name);
			val = "";
		} else if (eq) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return tl_fail(e, "option '--%s' needs a value", name);
			val = argv[++i];
		}
		if (set_value(o, val, e))
			return -1;
	}
	return 0;
}

int cli_die(const char *cmd, int code, const char *msg)
{
	fprintf(stderr, "toyllm %s: error: %s\n", cmd, msg);
	return code;
}

int cli_threads(int given, int seen, struct tl_err *e)
{
	if (seen) {
		if (given < 1 || given > 64)
			return tl_fail(e, "--threads %d out of range 1..64", given);
		return given;
	}
	const char *s = getenv("STUDY_THREADS");
	if (!s || !*s)
		return 1;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 1 || v > 64)
		return tl_fail(e, "STUDY_THREADS='%s' is not a thread count in 1..64", s);
	return (int)v;
}

int cli_seed(uint64_t given, int seen, uint64_t *seed, struct tl_err *e)
{
	if (seen) {
		*seed = given;
		return 0;
	}
	const char *s = getenv("STUDY_SEED");
	if (!s || !*s) {
		*seed = 1;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || errno || *s == '-')
		return tl_fail(e, "STUDY_SEED='%s' is not a non-negative integer", s);
	*seed = v;
	return 0;
}

int cli_out_dir(const char *out, struct tl_err *e)
{
	if (!out)
		return tl_fail(e, "--out DIR is required");
	struct stat st;
	if (stat(out, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return tl_fail(e, "--out '%s' is not a directory", out);
		return 0;
	}
	if (mkdir(out, 0777) != 0)
		return tl_fail(e, "cannot create --out '%s': %s", out, strerror(errno));
	return 0;
}

int load_model_dir(const char *path, struct gpt *m, struct vocab *v, struct tl_err *e)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return tl_fail(e, "model '%s' not found", path);
	char *dir = tl_strdup(path), *bin, *voc;
	if (!dir)
		return tl_fail(e, "out of memory");
	if (S_ISDIR(st.st_mode)) {
		bin = tl_path(dir, "model.bin");
	} else {
		bin = tl_strdup(path);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		else {
			free(dir);
			dir = tl_strdup(".");
		}
	}
	voc = dir ? tl_path(dir, "vocab.txt") : NULL;
	int rc = -1;
	if (!bin || !voc) {
		tl_fail(e, "out of memory");
		goto out;
	}
	if (model_load(m, bin, e))
		goto out;
	if (vocab_load(v, voc, e)) {
		gpt_free(m);
		goto out;
	}
	if (v->digest != m->tok_digest || v->n != m->cfg.vocab) {
		tl_fail(e, "'%s' does not match the model's tokenizer digest (model %016llx, vocab "
			   "%016llx)",
			voc, (unsigned long long)m->tok_digest, (unsigned long long)v->digest);
		vocab_release(v);
		gpt_free(m);
		goto out;
	}
	rc = 0;
out:
	free(dir);
	free(bin);
	free(voc);
	return rc;
}

int load_world_vocab(const char *world, struct vocab *v, struct tl_err *e)
{
	if (!world)
		return tl_fail(e, "--world DIR is required");
	char *p = tl_path(world, "vocab.txt");
	if (!p)
		return tl_fail(e, "out of memory");
	int rc = vocab_load(v, p, e);
	free(p);
	return rc;
}
