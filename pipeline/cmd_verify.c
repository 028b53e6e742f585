/*
 * cmd_verify: `study verify` — the auditor's integrity check (verify.c) of a
 * store and its provenance, or with --rerun the reproducibility check
 * (rerun.c) of recorded stages. Exit 0 only when everything holds.
 */
#include "cli.h"
#include "executor.h"
#include "prov_query.h"
#include "rerun.h"
#include "store.h"
#include "verify.h"
#include "xalloc.h"

#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: study verify [--store DIR] [--json] [--repo DIR] [--no-git]\n"
		"   or: study verify --rerun [STAGE-ID | --sample N] [--store DIR] [--json]\n"
		"\n"
		"Without --rerun: rehash every object and tree of the store, check every digest\n"
		"provenance refers to, the hash chain over runs and executions, and that each\n"
		"recorded git commit holds the recorded study file. One line per problem, then\n"
		"a summary. Outputs and logs that 'study gc' removed are listed as collected,\n"
		"not as problems.\n"
		"With --rerun: re-execute recorded stages (default: every stage of the latest\n"
		"run) from their recorded inputs and compare outputs: at their recorded work\n"
		"directory (taking the store's lock) when the store is where they ran, else\n"
		"at a scratch path.\n"
		"\n"
		"  --store DIR    the artifact store (default: $STUDY_STORE, else artifacts/ here or above)\n"
		"  --json         print one JSON object\n"
		"  --repo DIR     the git repository to look commits up in (default: the one\n"
		"                 holding each run's study file)\n"
		"  --no-git       skip the git checks\n"
		"  --rerun        re-execute stages and compare their outputs\n"
		"  --sample N     with --rerun: only N stages, picked deterministically\n"
		"  --timeout SEC  with --rerun: stop a stage after SEC seconds, TERM then KILL\n"
		"                 5 s later, as run does (default 600)\n"
		"\n"
		"exit status: 0 everything holds, 1 a problem or a difference, 2 bad usage\n");
}

static cJSON *problem_json(const struct verify_problem *p)
{
	cJSON *o = cJSON_CreateObject();
	prov_json_add_str(o, "kind", p->kind);
	prov_json_add_str(o, "message", p->message);
	prov_json_add_str(o, "stage", p->stage);
	if (p->run)
		cJSON_AddNumberToObject(o, "run", (double)p->run);
	else
		cJSON_AddNullToObject(o, "run");
	return o;
}

static cJSON *collected_json(const struct verify_collected *c)
{
	cJSON *o = cJSON_CreateObject();
	prov_json_add_str(o, "digest", c->digest);
	prov_json_add_str(o, "reference", c->ref);
	if (c->input)
		prov_json_add_str(o, "input", c->input);
	prov_json_add_str(o, "stage", c->stage);
	cJSON_AddNumberToObject(o, "run", (double)c->run);
	cJSON_AddNumberToObject(o, "execution", (double)c->exec);
	cJSON_AddNumberToObject(o, "last_run", (double)c->last_run);
	cJSON_AddNumberToObject(o, "gc", (double)c->gc);
	return o;
}

/* One line per collection: "verify: collected: 2 trees and 4 log objects
 * recorded by runs 1 to 3 were removed by gc 1" (verify.h: not problems). */
static void print_collected(const struct verify_report *r)
{
	int64_t done = 0;
	for (;;) {
		int64_t gc = 0, lo = 0, hi = 0;
		long trees = 0, files = 0, logs = 0;
		for (size_t i = 0; i < r->collected_nr; i++)
			if (r->collected[i].gc > done && (!gc || r->collected[i].gc < gc))
				gc = r->collected[i].gc;
		if (!gc)
			return;
		for (size_t i = 0; i < r->collected_nr; i++) {
			const struct verify_collected *c = &r->collected[i];
			if (c->gc != gc)
				continue;
			if (!strcmp(c->ref, "input") && c->object)
				files++;
			else if (!strcmp(c->ref, "output") || !strcmp(c->ref, "input"))
				trees++;
			else
				logs++;
			lo = !lo || c->run < lo ? c->run : lo;
			hi = c->last_run > hi ? c->last_run : hi;
		}
		printf("verify: collected: ");
		/* "2 trees, 1 input file and 4 log objects" */
		long part[3] = { trees, files, logs };
		static const char *const what[3][2] = { { "tree", "trees" },
							{ "input file", "input files" },
							{ "log object", "log objects" } };
		int left = (trees > 0) + (files > 0) + (logs > 0);
		for (int k = 0; k < 3; k++) {
			if (!part[k])
				continue;
			printf("%ld %s%s", part[k], what[k][part[k] != 1], left == 1 ? ""
									     : left == 2 ? " and " : ", ");
			left--;
		}
		if (lo == hi)
			printf(" recorded by run %lld", (long long)lo);
		else
			printf(" recorded by runs %lld to %lld", (long long)lo, (long long)hi);
		printf(" %s removed by gc %lld\n", trees + files + logs == 1 ? "was" : "were",
		       (long long)gc);
		done = gc;
	}
}

static void print_json(cJSON *o)
{
	char *text = cJSON_Print(o);
	if (text)
		printf("%s\n", text);
	free(text);
	cJSON_Delete(o);
}

static int do_verify(const char *store_dir, const struct verify_opts *vo, int json)
{
	struct verify_report r;
	struct strbuf err = STRBUF_INIT;
	verify_report_init(&r);
	if (verify_store(store_dir, vo, &r, &err) < 0) {
		cli_error("%s", err.buf);
		strbuf_release(&err);
		verify_report_release(&r);
		return EXIT_USAGE;
	}
	strbuf_release(&err);
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ok", r.nr == 0);
		cJSON *ps = cJSON_AddArrayToObject(o, "problems");
		for (size_t i = 0; i < r.nr; i++)
			cJSON_AddItemToArray(ps, problem_json(&r.problems[i]));
		cJSON *cs = cJSON_AddArrayToObject(o, "collected");
		for (size_t i = 0; i < r.collected_nr; i++)
			cJSON_AddItemToArray(cs, collected_json(&r.collected[i]));
		cJSON *ns = cJSON_AddArrayToObject(o, "notes");
		for (size_t i = 0; i < r.notes.nr; i++)
			cJSON_AddItemToArray(ns, cJSON_CreateString(r.notes.v[i]));
		cJSON *c = cJSON_AddObjectToObject(o, "checked");
		cJSON_AddNumberToObject(c, "objects", r.objects);
		cJSON_AddNumberToObject(c, "trees", r.trees);
		cJSON_AddNumberToObject(c, "materialised_trees", r.outdirs);
		cJSON_AddNumberToObject(c, "runs", r.runs);
		cJSON_AddNumberToObject(c, "executions", r.execs);
		cJSON *h = cJSON_AddObjectToObject(o, "chain_head");
		if (r.head_run)
			cJSON_AddNumberToObject(h, "run", (double)r.head_run);
		else
			cJSON_AddNullToObject(h, "run");
		prov_json_add_str(h, "record_hash", r.head[0] ? r.head : NULL);
		print_json(o);
	} else {
		for (size_t i = 0; i < r.nr; i++)
			printf("verify: %s\n", r.problems[i].message);
		print_collected(&r);
		for (size_t i = 0; i < r.notes.nr; i++)
			printf("verify: note: %s\n", r.notes.v[i]);
		if (r.head_run)
			printf("verify: chain head: run %lld, record hash %s\n",
			       (long long)r.head_run, r.head[0] ? r.head : "(not sealed)");
		printf("verify: %ld objects, %ld trees, %ld runs, %ld executions checked;"
		       " %zu problem%s\n",
		       r.objects, r.trees, r.runs, r.execs, r.nr, r.nr == 1 ? "" : "s");
	}
	int rc = r.nr ? EXIT_FAILED : EXIT_OK;
	verify_report_release(&r);
	return rc;
}

static int do_rerun(const char *store_dir, const char *stage, long sample, double timeout_s,
		    int json)
{
	struct strbuf err = STRBUF_INIT;
	struct store st;
	struct prov *p = NULL;
	int64_t *ids = NULL;
	size_t nr = 0;
	int rc = EXIT_USAGE;
	int counts[3] = { 0, 0, 0 };
	cJSON *arr = NULL;
	struct executor *ex = NULL;

	memset(&st, 0, sizeof(st));
	st.lock_fd = -1;
	if (store_open_existing(&st, store_dir, &err) < 0 ||
	    prov_open_store_readonly(store_dir, &p, &err) < 0 ||
	    rerun_select(p, stage, sample, &ids, &nr, &err) < 0) {
		cli_error("%s", err.buf);
		goto out;
	}
	if (!nr) {
		cli_error("no recorded stage to rerun in '%s'", store_dir);
		goto out;
	}
	/* the stages run as `run` runs them (executor.h): the local executor */
	struct exec_local_opts lo = { 1, 0, -1 };
	ex = exec_local_new(&lo, &err);
	if (!ex) {
		cli_error("%s", err.buf);
		rc = EXIT_FAILED;
		goto out;
	}
	arr = cJSON_CreateArray();
	rc = EXIT_OK;
	for (size_t i = 0; i < nr; i++) {
		struct rerun_result res;
		strbuf_reset(&err);
		if (rerun_exec(ex, &st, p, ids[i], timeout_s, &res, &err) < 0) {
			cli_error("%s", err.buf);
			rc = EXIT_FAILED;
			counts[RERUN_FAILED]++;
			continue;
		}
		counts[res.status]++;
		if (res.status != RERUN_IDENTICAL)
			rc = EXIT_FAILED;
		if (json) {
			cJSON *o = cJSON_CreateObject();
			prov_json_add_str(o, "stage", res.stage);
			cJSON_AddNumberToObject(o, "execution", (double)res.exec_id);
			cJSON_AddNumberToObject(o, "run", (double)res.run_id);
			prov_json_add_str(o, "result", rerun_status_name(res.status));
			prov_json_add_str(o, "recorded", res.recorded[0] ? res.recorded : NULL);
			prov_json_add_str(o, "got", res.got[0] ? res.got : NULL);
			prov_json_add_str(o, "detail", res.detail);
			cJSON_AddNumberToObject(o, "seconds", res.secs);
			cJSON_AddItemToArray(arr, o);
		} else {
			printf("rerun: %-9s %s (execution %lld, run %lld)%s%s\n",
			       rerun_status_name(res.status), res.stage, (long long)res.exec_id,
			       (long long)res.run_id, res.detail ? ": " : "",
			       res.detail ? res.detail : "");
		}
		rerun_result_release(&res);
	}
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ok", rc == EXIT_OK);
		cJSON_AddNumberToObject(o, "identical", counts[RERUN_IDENTICAL]);
		cJSON_AddNumberToObject(o, "different", counts[RERUN_DIFFERENT]);
		cJSON_AddNumberToObject(o, "failed", counts[RERUN_FAILED]);
		cJSON_AddItemToObject(o, "stages", arr);
		arr = NULL;
		print_json(o);
	} else {
		printf("rerun: %d identical, %d different, %d failed\n", counts[RERUN_IDENTICAL],
		       counts[RERUN_DIFFERENT], counts[RERUN_FAILED]);
	}
out:
	exec_destroy(ex);
	cJSON_Delete(arr);
	free(ids);
	prov_close(p);
	store_release(&st);
	strbuf_release(&err);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	enum { OPT_STORE = 256, OPT_JSON, OPT_REPO, OPT_NO_GIT, OPT_RERUN, OPT_SAMPLE, OPT_TIMEOUT };
	static const struct option opts[] = {
		{ "store", required_argument, NULL, OPT_STORE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "repo", required_argument, NULL, OPT_REPO },
		{ "no-git", no_argument, NULL, OPT_NO_GIT },
		{ "rerun", no_argument, NULL, OPT_RERUN },
		{ "sample", required_argument, NULL, OPT_SAMPLE },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_opt = NULL;
	struct verify_opts vo = { NULL, 0 };
	int json = 0, rerun = 0, c;
	long sample = 0;
	long long count = 0;
	double timeout_s = 600;
	char *end;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_STORE: store_opt = optarg; break;
		case OPT_JSON: json = 1; break;
		case OPT_REPO: vo.repo = optarg; break;
		case OPT_NO_GIT: vo.no_git = 1; break;
		case OPT_RERUN: rerun = 1; break;
		case OPT_SAMPLE:
			if (cli_parse_count(optarg, LONG_MAX, &count) < 0) {
				cli_error("--sample wants a positive number, not '%s'", optarg);
				return EXIT_USAGE;
			}
			sample = (long)count;
			break;
		case OPT_TIMEOUT:
			timeout_s = strtod(optarg, &end);
			if (*end || !(timeout_s > 0)) {
				cli_error("--timeout wants a positive number of seconds, not '%s'",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': usage(stdout); return EXIT_OK;
		default:
			cli_error("unknown option or missing value: '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	const char *stage = NULL;
	if (optind < argc) {
		if (!rerun) {
			cli_error("unexpected argument '%s' (a stage id goes with --rerun)",
				  argv[optind]);
			usage(stderr);
			return EXIT_USAGE;
		}
		if (argc - optind > 1) {
			cli_error("unexpected argument '%s'", argv[optind + 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
		stage = argv[optind];
	}
	if (!rerun && sample) {
		cli_error("--sample goes with --rerun");
		return EXIT_USAGE;
	}
	if (stage && sample) {
		cli_error("give either a stage id or --sample N, not both");
		return EXIT_USAGE;
	}
	const char *store_dir = store_dir_default(store_opt);
	if (rerun)
		return do_rerun(store_dir, stage, sample, timeout_s, json);
	return do_verify(store_dir, &vo, json);
}
