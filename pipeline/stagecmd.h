/*
 * stagecmd: turns a planned stage into what is executed and what is hashed.
 *
 * - stagecmd_argv(): the argv a step of a stage runs with: ${...} replaced
 *   by real values (input paths in the store, the fresh ${out}, the study's
 *   root...), argv[0] resolved (relative paths against the study root, bare
 *   names on STAGE_PATH). A stage has one step unless its `run` is a list of
 *   commands (study.h, struct step).
 * - stagecmd_key(): the stage's cache key: SHA-256 of the canonical record
 *     {"argv":[...],"code":{path:digest},"env":{name:value|null},
 *      "inputs":{name:digest},"params":{...},"protocol":1,"seed":"...",
 *      "stage":"..."}
 *   (keys sorted, canonical JSON; see canon.h) in which inputs appear as
 *   "sha256:<tree digest>" and ${out}/${root} stay symbolic, so the key names
 *   what a stage computes, not where. "argv" is the argv of a single step,
 *   or, for several steps, the array of their argvs ([[...],[...]]). `code`
 *   holds each step's argv[0] when it lies inside the study root, every
 *   regular file inside the root that a word of an argument of any step names
 *   (interpreted scripts, the programs of a `sh -c` string:
 *   stagecmd_code_files), and every `code:` entry.
 *
 * Both need the output digests (and paths) of the stage's inputs, given as
 * an array indexed by input node (plan.h): the stages, then the external
 * inputs (p->nr + i), whose digests enter the key exactly as a stage
 * output's do ("inputs.NAME": digest, and "sha256:<digest>" in argv).
 */
#ifndef STUDY_STAGECMD_H
#define STUDY_STAGECMD_H

#include "hash.h"
#include "plan.h"
#include "strbuf.h"
#include "strmap.h"
#include "strvec.h"

#define STUDY_PROTOCOL 1
/* PATH given to stages and used to resolve bare command names. */
#define STAGE_PATH "/usr/local/bin:/usr/bin:/bin"

struct stage_output {
	char digest[HASH_HEX_SIZE]; /* "" while unknown */
	char *path;                 /* materialised directory, NULL while unknown */
	int predicted;              /* the digest is an assumed output (freshness.h) */
	int is_file;                /* an external input that is one file: `digest` is its
				     * SHA-256 and `path` its object (extinput.h) */
};

/* Per-run memo: code file digests (path -> hex) and resolved programs
 * (argv[0] as written -> absolute path), so each is looked up once a run. */
struct code_digests {
	struct strmap map;
	struct strmap programs;
	struct strmap files; /* absolute path -> whether it is a regular file */
};
void code_digests_init(struct code_digests *cd);
void code_digests_release(struct code_digests *cd);

/* Resolve argv[0] of step `step` of `s` (memoised in cd when not NULL).
 * Returns a new absolute path, or NULL with "command not found: 'X'" in err
 * (prefixed "step N of M: " when the stage has several steps). */
char *stagecmd_program(const struct plan *p, const struct stage *s, size_t step,
		       struct code_digests *cd, struct strbuf *err);
/* The program of every step, in order, pushed onto `programs` (steps_nr of
 * them). Returns 0, or -1 with the first stagecmd_program error in err and
 * `programs` emptied. */
int stagecmd_programs(const struct plan *p, const struct stage *s, struct code_digests *cd,
		      struct strvec *programs, struct strbuf *err);

/* The argv of step `step` of stage si, pushed onto `argv`; `program` is that
 * step's resolved program (stagecmd_program). */
void stagecmd_argv(const struct plan *p, size_t si, size_t step, const struct stage_output *outs,
		   const char *out_dir, const char *program, struct strvec *argv);

/* "step 2 of 3 (stages/bin/toyllm align)": a step named for messages, by its
 * program and first argument as the study file writes them (each cut to 40
 * bytes). Appended to `out`. */
void stagecmd_step_label(const struct entry *e, size_t step, struct strbuf *out);

/* Fills `record` (canonical text) and `key`. `programs` holds the resolved
 * program of each step (stagecmd_programs). Fails when a code file cannot be
 * read. */
int stagecmd_key(const struct plan *p, size_t si, const struct stage_output *outs,
		 char *const *programs, struct code_digests *cd, struct strbuf *record,
		 char key[HASH_HEX_SIZE], struct strbuf *err);

/* The study files that the arguments of stage si's steps name (absolute
 * paths inside the root, each a regular file; see "programs and scripts named
 * by the argv" in stagecmd.c), appended to `out` without duplicates. No
 * argv[0] is scanned (stagecmd_program resolves them). `cd` memoises stats
 * and may be NULL. */
void stagecmd_code_files(const struct plan *p, size_t si, struct code_digests *cd,
			 struct strvec *out);

/* 1 (with the reason in `why`) when step `step` of stage si runs a shell or
 * an interpreter (sh, bash, env, python3, perl, ...) from outside the root,
 * the entry has no `code:`, and an argument of that step names what it runs
 * by a path or module resolved only when the stage runs ("./x",
 * "scripts/train.py", "-m pkg"): those bytes are not in its cache key. Inline
 * code (`sh -c 'printf ...'`) is in the key as argv, and "${root}/..." files
 * are hashed (stagecmd_code_files). A load-time warning. */
int stagecmd_unhashed_program(const struct plan *p, size_t si, size_t step,
			      struct code_digests *cd, struct strbuf *why);

/* JSON of an entry's params (canonical text), for $STUDY_PARAMS: the same
 * bytes as "params" in the cache record, and each scalar's text the same as
 * its ${params.X}, so the key tells apart every two values the stage can. */
void stagecmd_params_json(const struct stage *s, struct strbuf *out);

#endif
