/*
 * cli: option parsing and the parts of the stage protocol every subcommand
 * shares: "--name VALUE" / "--name=VALUE" options from a table, --help,
 * the thread count (--threads, else $STUDY_THREADS, else 1), the seed
 * (--seed, else $STUDY_SEED, else 1), the output directory, loading a model
 * directory (model.bin + vocab.txt, digests checked), and the exit codes:
 * 0 success, 2 bad arguments or bad input files, 1 any other failure.
 */
#ifndef TOYLLM_CLI_H
#define TOYLLM_CLI_H

#include <stdint.h>

#include "gpt.h"
#include "util.h"
#include "vocab.h"

enum { EXIT_USAGE = 2, EXIT_FAIL = 1 };

enum opt_type { OPT_STR, OPT_INT, OPT_U64, OPT_DOUBLE, OPT_FLAG };

struct opt {
	const char *name; /* without the leading "--" */
	enum opt_type type;
	void *dst; /* const char **, int *, uint64_t *, double *, int * */
	int seen;
};

/* Returns 0, 1 when --help was given, -1 on error (message in e). */
int cli_parse(int argc, char **argv, struct opt *opts, int nopts, struct tl_err *e);
/* The struct opt named name, or NULL. */
struct opt *cli_opt(struct opt *opts, int nopts, const char *name);

/* Prints "toyllm CMD: error: MSG" to stderr and returns code. */
int cli_die(const char *cmd, int code, const char *msg);

/* Thread count from --threads (when seen) or the environment; -1 if invalid. */
int cli_threads(int given, int seen, struct tl_err *e);
/* Seed from --seed (when seen) or $STUDY_SEED or 1; -1 if invalid. */
int cli_seed(uint64_t given, int seen, uint64_t *seed, struct tl_err *e);
/* Checks that out is given and is (or can be made) a directory. */
int cli_out_dir(const char *out, struct tl_err *e);

/* Loads DIR/model.bin and DIR/vocab.txt (or a model.bin path with vocab.txt
 * beside it) and checks that the vocabulary matches the model header. */
int load_model_dir(const char *path, struct gpt *m, struct vocab *v, struct tl_err *e);
/* Loads WORLD/vocab.txt. */
int load_world_vocab(const char *world, struct vocab *v, struct tl_err *e);

#endif
