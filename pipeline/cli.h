/*
 * cli: what every subcommand shares: the command table entry type, the
 * message helpers with the "study: " prefix, and the default store location.
 *
 * Exit codes: 0 success, 1 a stage failed / verification failed,
 * 2 bad usage or bad input.
 */
#ifndef STUDY_CLI_H
#define STUDY_CLI_H

#include <stdio.h>
#include <cjson/cJSON.h>

#define STUDY_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* Each subcommand: argv[0] is the subcommand name; returns the exit code. */
typedef int (*cmd_fn)(int argc, char **argv);

int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_dag(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_results(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_hash(int argc, char **argv);
int cmd_gc(int argc, char **argv);

/* 1 when a recorded run (its runs.argv_json, as `study run` writes it) named
 * TARGETs, so that it ran only part of its study; 0 for a whole-study run or
 * an argv that is not a `study run` command line. Parsed by `run`'s own
 * option parser (cmd_run.c), the one home of that command line. */
int run_argv_partial(const char *argv_json);
int cmd_why(int argc, char **argv);

struct prov;
/* `why STAGE-ID` on an open provenance database, for `why` and `show --why`:
 * prints the explanation (text or JSON) and returns the exit code. */
int why_command(struct prov *p, const char *stage, int json);

/* Print a document a command built (why, lineage) to stdout: as JSON text
 * with `json`, else through `print`; then free it. */
void cli_print_doc(cJSON *doc, int json, void (*print)(FILE *f, const cJSON *doc));

/* "study: error: <msg>\n" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "study: warning: <msg>\n" to stderr. */
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The store directory, found the way git finds .git, so that a command run
 * from any subdirectory uses the same store:
 * - `opt` (--store) when given, else $STUDY_STORE when set and non-empty;
 * - for a command given a study (store_dir_for_study): <study root>/artifacts;
 * - otherwise (store_dir_default): the first `artifacts/` holding a store
 *   (objects/ or provenance.db) in the current directory or above it, else
 *   "artifacts" in the current directory.
 * store_dir_default returns a string that lives until exit;
 * store_dir_for_study a new one the caller frees. */
const char *store_dir_default(const char *opt);
char *store_dir_for_study(const char *opt, const char *root);

struct plan;
/* Print a "study: warning: FILE:LINE:COL: ..." for each step of an entry
 * that runs a shell or interpreter with nothing it runs in the cache key
 * (stagecmd_unhashed_program), at that step's argv[0]. */
void cli_warn_unhashed(const struct plan *p);

/* Parse a whole decimal integer from 1 to max (an option's count or id).
 * Returns 0 and fills *out, or -1 (the caller words the message). */
int cli_parse_count(const char *s, long long max, long long *out);

/* 1 when stdout is a terminal and NO_COLOR is unset. */
int use_color(void);

#endif
