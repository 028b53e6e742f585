/*
 * study: the in-memory model of a study file, and its loader.
 *
 * study_load() parses a YAML study file with libyaml and validates all of it:
 * unknown keys, wrong types, bad names, duplicate names, unknown ${...}
 * variables (per section), `after` naming an unknown method, missing `run`,
 * and cycles between data entries. On any error it returns -1 and writes into
 * `err` exactly one diagnostic of the form
 *
 *     <path>:<line>:<col>: <message>\n<source line>\n<spaces>^
 *
 * (line and column 1-based; the path as given by the caller). The caller
 * prefixes "study: error: " when printing. Nothing is allocated on failure
 * (the struct is released). See docs/study-format.md for the language.
 * `defaults:`, `vars:`, `matrix:` and `seeds:` are read by expand.c's hooks:
 * the struct holds their result (merged entries, one entry per matrix
 * combination, study.seeds and entry.once), never the keys themselves.
 *
 * Ownership: everything reachable from a struct study is owned by it and
 * freed by study_release(). Entries, their names, arrays, run steps and texts live
 * in one arena (st->mem) and must not be freed or reallocated one by one;
 * only `params` are separate cJSON trees (still freed by study_release).
 */
#ifndef STUDY_STUDY_H
#define STUDY_STUDY_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "strbuf.h"

struct srcpos {
	int line, col; /* 1-based; 0 when unknown */
};

enum section {
	SEC_DATA,
	SEC_MODELS,
	SEC_METHODS,
	SEC_MITIGATIONS,
	SEC_EVALUATIONS,
	SEC_REPORT,
};

/* One ${...} reference, or a literal run of text, inside an argv element. */
enum tvar {
	TV_LITERAL,         /* text = the literal bytes ("$$" already unescaped to "$") */
	TV_SEED,            /* ${seed} */
	TV_OUT,             /* ${out} */
	TV_ROOT,            /* ${root}: the study's root directory (absolute) */
	TV_MODEL,           /* ${model}: input path of the model this entry applies to */
	TV_MODEL_BASE,      /* ${model.base}: input path of the aligned base model */
	TV_DATA,            /* ${data.NAME}: input path; text = NAME */
	TV_EVALUATIONS,     /* ${evaluations}: list of input paths (report only, alone in its element) */
	TV_PARAM,           /* ${params.X}: text = X (a scalar of this entry's params) */
	TV_MODEL_NAME,      /* ${model.name} */
	TV_METHOD_NAME,     /* ${method.name}: the method, or "base" for the base variant */
	TV_MITIGATION_NAME, /* ${mitigation.name}: the mitigation, or "" when none */
	TV_EVALUATION_NAME, /* ${evaluation.name} */
	TV_VARIANT,         /* ${variant}: "base", "wo", "wo+sft", ... */
	TV_STAGE,           /* ${stage}: the stage id */
	TV_EVALUATIONS_SEEDS, /* ${evaluations.seeds}: the seed of each ${evaluations} output,
			       * comma-separated, "" for one that is not replicated (report only) */
	TV_INPUT,           /* ${inputs.NAME}: an external input's path in the store; text = NAME */
};

struct tpart {
	enum tvar kind;
	char *text; /* literal text, NAME for TV_DATA and TV_INPUT, X for TV_PARAM; NULL otherwise */
};
/* An empty element ("") is one TV_LITERAL part with text "". Adjacent literal
 * text is merged into one part. */

/* One element of a `run` argv, split into literal and variable parts. */
struct targ {
	struct tpart *parts;
	size_t nr;
	struct srcpos pos; /* where the element's value starts */
};

struct resources {
	int cpus;            /* default 1 */
	long long mem_bytes; /* 0 = unspecified; "512M", "1G", plain bytes */
	int gpus;            /* default 0 */
	double time_s;       /* 0 = no limit; "90", "90s", "15m", "2h" */
	int retries;         /* 0 to 100 further attempts after a failure; -1 = not
			      * given (`run --retries N` decides, default 0) */
	/* where cpus, mem and gpus were written ({0,0}: not written), for the
	 * executor's "asks for more than it can ever get" errors (executor.h) */
	struct srcpos cpus_pos, mem_pos, gpus_pos;
};

struct strpos {
	char *s;
	struct srcpos pos;
};

/*
 * One command of a `run`: its argv template (argv[0] is the program). A
 * `run` written as one list of strings is one step; one written as a list of
 * lists is one step per inner list, run in order in the same working
 * directory with the same ${out} (docs/study-format.md, "Multi-step stages").
 * A list holding a single list is the same single step as that list alone.
 */
struct step {
	struct targ *argv; /* nr >= 1 */
	size_t nr;
	struct srcpos pos; /* where the step's list starts (for a flat run: run_pos) */
};

struct entry {
	char *name; /* key under its section ("report" for the report) */
	enum section section;
	struct srcpos pos;     /* position of the entry's key */
	struct step *steps;    /* the commands of `run`, in order, steps_nr >= 1 */
	size_t steps_nr;
	struct srcpos run_pos; /* where the `run` value starts */
	cJSON *params;         /* always an object (possibly empty), owned; every
				* number in it is a cJSON *raw* node holding its exact
				* canonical text (study.c, "params"), never cJSON_Number */
	struct strpos *code;   /* extra files whose content belongs to the cache key */
	size_t code_nr;
	struct strpos *env;    /* names of environment variables passed through */
	size_t env_nr;
	struct resources res;
	struct strpos *after;  /* mitigations only: method names (validated) */
	size_t after_nr;
	/* computed by the loader: the data entries this one references, by index
	 * into study.data (deduplicated, in first-reference order) */
	size_t *data_refs;
	size_t data_refs_nr;
	/* `replicate: false` (expand.c): with study.seeds, one stage instead of
	 * one per seed; once_pos is where it was set (in the entry or a defaults
	 * block), {0,0} when not */
	int once;
	struct srcpos once_pos;
};

/* One entry of the `inputs:` section: a file or directory outside the store,
 * imported by content before anything runs (extinput.h). */
struct study_input {
	char *name;          /* [a-z0-9][a-z0-9_-]*, unique in the section */
	char *path;          /* as written */
	char *abs;           /* absolute: `path` joined to the root when relative
			      * (symbolic links not resolved: the path as the user names it) */
	int is_dir;          /* what `abs` was when the study was loaded */
	char *sha256;        /* the pinned digest (64 lowercase hex), NULL when not pinned */
	struct srcpos pos;       /* the name's key */
	struct srcpos path_pos;  /* the value of `path:` */
	struct srcpos sha256_pos;/* the value of `sha256:` (0 when not pinned) */
};

/* `executor:` (docs/cluster.md): how `study run` runs the stages when its
 * command line does not say. Never part of a cache key. Strings live in the
 * study's arena; NULL (and 0) when not given. */
struct study_executor {
	const char *name;        /* "local" or "slurm" */
	const char *partition;   /* slurm: --partition */
	const char *account;     /* slurm: --account */
	char **slurm_opts;       /* slurm: further sbatch options, NULL-terminated */
	size_t slurm_opts_nr;
	struct srcpos pos;       /* where the block starts */
};

struct study {
	char *path;        /* as given to study_load */
	char *name;        /* [a-z0-9][a-z0-9-]* */
	char *seed;        /* decimal string; "0" when absent */
	char **seeds;      /* `seeds:` (expand.c): canonical decimal strings, in file order,
			      distinct; seeds_nr = 0 when absent (nothing is replicated) */
	size_t seeds_nr;
	char *root;        /* absolute: `root:` (relative to the file's dir), else the git
	                      work tree holding the file, else the file's directory */
	char digest[65];   /* SHA-256 hex of the file's bytes */
	struct entry *data;        size_t data_nr;
	struct entry *models;      size_t models_nr;
	struct entry *methods;     size_t methods_nr;
	struct entry *mitigations; size_t mitigations_nr;
	struct entry *evaluations; size_t evaluations_nr;
	struct entry *report;      /* NULL when the study has none */
	struct study_input *inputs; size_t inputs_nr; /* `inputs:`, in declaration order */
	struct study_executor executor;
	void *mem;                 /* private: the arena behind the fields above */
};

/* Load and validate `path`. Returns 0, or -1 with one diagnostic in err. */
int study_load(struct study *st, const char *path, struct strbuf *err);
/* Same from memory; `path` is used for messages and to resolve `root`. */
int study_load_buffer(struct study *st, const char *path, const char *buf, size_t len,
		      struct strbuf *err);
void study_release(struct study *st);

/* A size as `resources.mem` writes it: bytes, or an integer with suffix K,
 * M, G or T (powers of 1024), > 0. Returns 0 with *out, or -1. */
int study_parse_size(const char *s, long long *out);

/* Append argv element t as a study file would write it: literal text as is,
 * variables as ${name} (for messages that name a step). */
void study_targ_text(const struct targ *t, struct strbuf *out);

/* Limits that keep hostile files inert. */
#define STUDY_MAX_FILE_BYTES (4u << 20)
#define STUDY_MAX_DEPTH 32

#endif
