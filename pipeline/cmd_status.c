/*
 * cmd_status: `study status STUDY.yaml` — for every stage, whether it is up
 * to date (its cache key has an output in the store) or will run, and why.
 * Reads the store; never writes, never locks.
 */
#include "canon.h"
#include "cli.h"
#include "plan.h"
#include "prov.h"
#include "prov_query.h"
#include "scheduler.h"
#include "stagecmd.h"
#include "store.h"
#include "study.h"
#include "xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char status_usage[] =
	"usage: study status STUDY.yaml [--store DIR] [--json]\n"
	"\n"
	"For each stage: 'up to date' (with its output digest) or 'will run' with\n"
	"the reason: never run, what changed in its cache record since it last ran\n"
	"(argv, code, env, inputs, params, seed), an upstream stage that will run,\n"
	"or a command that cannot be found.\n"
	"\n"
	"options:\n"
	"      --store DIR   the artifact store (default: $STUDY_STORE or ./artifacts)\n"
	"      --json        one JSON array of {stage, state, reason, output}\n"
	"  -h, --help        show this help\n";

/* Names of the cache-record fields that differ between two records. Both are
 * canonical text, so a field differs exactly when its bytes do; parsing them
 * into cJSON would merge numbers a double cannot tell apart (2^53, 2^53+1). */
static void diff_records(const char *old_text, const char *new_text, struct strbuf *out)
{
	static const char *const fields[] = { "argv", "code", "env", "inputs", "params",
					      "seed", "protocol" };
	int n = 0;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *x = NULL, *y = NULL;
		size_t xl = 0, yl = 0;
		int hx = canon_member(old_text, fields[i], &x, &xl) == 0;
		int hy = canon_member(new_text, fields[i], &y, &yl) == 0;
		if (hx != hy || xl != yl || (hx && memcmp(x, y, xl))) {
			strbuf_addstr(out, n++ ? ", " : "changed: ");
			strbuf_addstr(out, fields[i]);
		}
	}
	if (!n)
		strbuf_addstr(out, "output missing from the store");
}

int cmd_status(int argc, char **argv)
{
	enum { OPT_STORE = 256, OPT_JSON };
	static const struct option opts[] = {
		{ "store", required_argument, NULL, OPT_STORE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_opt = NULL;
	int json = 0;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_STORE: store_opt = optarg; break;
		case OPT_JSON: json = 1; break;
		case 'h': fputs(status_usage, stdout); return EXIT_OK;
		default:
			cli_error("unknown option '%s'", argv[optind - 1]);
			fputs(status_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		cli_error("give exactly one study file");
		fputs(status_usage, stderr);
		return EXIT_USAGE;
	}
	struct strbuf err = STRBUF_INIT;
	struct study study;
	if (study_load(&study, argv[optind], &err) < 0) {
		cli_error("%s", err.buf);
		strbuf_release(&err);
		return EXIT_USAGE;
	}
	struct plan p;
	plan_build(&p, &study, &err);

	const char *dir = store_dir_default(store_opt);
	struct store st;
	int have_store = store_open_existing(&st, dir, &err) == 0;
	if (!have_store) {
		memset(&st, 0, sizeof(st)); /* no store yet: every lookup misses */
		st.root = xstrdup(dir);
		st.lock_fd = -1;
	}
	struct prov *pv = NULL;
	if (have_store) {
		struct strbuf db = STRBUF_INIT;
		strbuf_addf(&db, "%s/provenance.db", st.root);
		strbuf_reset(&err);
		if (prov_open_readonly(&pv, db.buf, &err) < 0)
			pv = NULL;
		strbuf_release(&db);
	}

	struct stage_output *outs = xcalloc(p.nr ? p.nr : 1, sizeof(*outs));
	char **reasons = xcalloc(p.nr ? p.nr : 1, sizeof(*reasons));
	int *fresh = xcalloc(p.nr ? p.nr : 1, sizeof(*fresh));
	struct code_digests cd;
	code_digests_init(&cd);
	struct sched sc;
	sched_init(&sc, &p, 1 << 30, 1);
	struct strbuf record = STRBUF_INIT, why = STRBUF_INIT;
	long i;
	size_t nfresh = 0;
	while ((i = sched_next(&sc)) >= 0) {
		const struct stage *s = &p.stages[i];
		strbuf_reset(&why);
		strbuf_reset(&err);
		long stale_dep = -1;
		for (size_t k = 0; k < s->inputs_nr; k++)
			if (!fresh[s->inputs[k].stage]) {
				stale_dep = (long)s->inputs[k].stage;
				break;
			}
		char *program = stagecmd_program(&p, s, &cd, &err);
		char key[HASH_HEX_SIZE], tree[HASH_HEX_SIZE];
		if (!program) {
			strbuf_addstr(&why, err.buf);
		} else if (stale_dep >= 0) {
			strbuf_addf(&why, "upstream '%s' will run", p.stages[stale_dep].id);
		} else if (stagecmd_key(&p, (size_t)i, outs, program, &cd, &record, key, &err) < 0) {
			strbuf_addstr(&why, err.buf);
		} else if (have_store && store_cache_get(&st, key, tree) == 1 &&
			   store_has_tree(&st, tree)) {
			fresh[i] = 1;
			nfresh++;
			memcpy(outs[i].digest, tree, HASH_HEX_SIZE);
		} else {
			struct prov_exec_info last;
			memset(&last, 0, sizeof(last));
			strbuf_reset(&err);
			if (pv && prov_stage_latest(pv, s->id, &last, &err) == 1 && last.cache_record)
				diff_records(last.cache_record, record.buf, &why);
			else
				strbuf_addstr(&why, "never run");
			prov_exec_info_release(&last);
		}
		free(program);
		if (!fresh[i])
			reasons[i] = strbuf_detach(&why, NULL);
		sched_done(&sc, (size_t)i, 1);
	}

	if (json)
		fputs("[", stdout);
	for (size_t k = 0; k < p.nr; k++) {
		const struct stage *s = &p.stages[k];
		if (json) {
			struct strbuf sb = STRBUF_INIT;
			strbuf_addstr(&sb, k ? ",\n{\"stage\":" : "\n{\"stage\":");
			strbuf_add_json_str(&sb, s->id);
			strbuf_addf(&sb, ",\"state\":\"%s\",\"reason\":",
				    fresh[k] ? "up-to-date" : "will-run");
			if (fresh[k])
				strbuf_addstr(&sb, "null,\"output\":");
			else
				strbuf_add_json_str(&sb, reasons[k] ? reasons[k] : "");
			if (fresh[k])
				strbuf_add_json_str(&sb, outs[k].digest);
			else
				strbuf_addstr(&sb, ",\"output\":null");
			strbuf_addch(&sb, '}');
			fputs(sb.buf, stdout);
			strbuf_release(&sb);
		} else if (fresh[k]) {
			printf("up to date  %-40s %.12s\n", s->id, outs[k].digest);
		} else {
			printf("will run    %-40s %s\n", s->id, reasons[k] ? reasons[k] : "");
		}
	}
	if (json)
		fputs("\n]\n", stdout);
	else
		printf("%zu of %zu stages up to date, %zu will run\n", nfresh, p.nr, p.nr - nfresh);

	for (size_t k = 0; k < p.nr; k++)
		free(reasons[k]);
	free(reasons);
	free(fresh);
	free(outs);
	strbuf_release(&record);
	strbuf_release(&why);
	code_digests_release(&cd);
	sched_release(&sc);
	if (pv)
		prov_close(pv);
	store_release(&st);
	plan_release(&p);
	study_release(&study);
	strbuf_release(&err);
	return EXIT_OK;
}
