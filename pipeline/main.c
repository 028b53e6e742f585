/*
 * main: the `study` command. Only dispatches to the subcommand table; each
 * subcommand lives in its own cmd_*.c with its usage text and options.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
	const char *name;
	cmd_fn fn;
	const char *summary;
};

static const struct command commands[] = {
	{ "run", cmd_run, "run a study: expand, execute stale stages, record provenance" },
	{ "status", cmd_status, "show which stages are up to date and which would run, and why" },
	{ "dag", cmd_dag, "print the stage graph (dot or json)" },
	{ "log", cmd_log, "list recorded runs" },
	{ "show", cmd_show, "full provenance of a run or of a stage's latest execution" },
	{ "why", cmd_why, "why a stage's latest execution ran instead of hitting the cache" },
	{ "results", cmd_results, "the metrics table from provenance" },
	{ "report", cmd_report, "one self-contained HTML page about a run" },
	{ "verify", cmd_verify, "check the store, provenance chain and commits; --rerun: reproduce" },
	{ "export", cmd_export, "export a run's provenance (W3C PROV-JSON)" },
	{ "hash", cmd_hash, "SHA-256 of files, tree digests of directories (as the store)" },
	{ "gc", cmd_gc, "remove from the store what no kept run uses (--dry-run: list it)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: study <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'study <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(name, "--version")) {
		printf("study %s\n", STUDY_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return commands[i].fn(argc - 1, argv + 1);
	cli_error("unknown command '%s'", name);
	usage(stderr);
	return EXIT_USAGE;
}
