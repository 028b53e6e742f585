/*
 * cli: what every subcommand shares: the command table entry type, the
 * message helpers with the "study: " prefix, and the default store location.
 *
 * Exit codes: 0 success, 1 a stage failed / verification failed,
 * 2 bad usage or bad input.
 */
#ifndef STUDY_CLI_H
#define STUDY_CLI_H

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
int cmd_verify(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_hash(int argc, char **argv);

/* "study: error: <msg>\n" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "study: warning: <msg>\n" to stderr. */
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The store directory: `opt` if non-NULL, else $STUDY_STORE, else "artifacts". */
const char *store_dir_default(const char *opt);

/* Parse a whole decimal integer from 1 to max (an option's count or id).
 * Returns 0 and fills *out, or -1 (the caller words the message). */
int cli_parse_count(const char *s, long long max, long long *out);

/* 1 when stdout is a terminal and NO_COLOR is unset. */
int use_color(void);

#endif
