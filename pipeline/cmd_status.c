/*
 * cmd_status: `study status STUDY.yaml [TARGET...]` — for every stage (or the
 * stages the targets select, select.h), whether it is up to date (its cache
 * key has an output in the store) or will run, and why. Reads the store;
 * never writes, never locks.
 */
#include "cli.h"
#include "extinput.h"
#include "freshness.h"
#include "plan.h"
#include "prov.h"
#include "prov_query.h"
#include "scheduler.h"
#include "select.h"
#include "stagecmd.h"
#include "store.h"
#include "study.h"
#include "xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char status_usage[] =
	"usage: study status STUDY.yaml [TARGET...] [--store DIR] [--json]\n"
	"\n"
	"For each stage: 'up to date' (with its output digest) or 'will run' with\n"
	"the reason: never run, what changed in its cache record since it last ran\n"
	"(argv, code, env, inputs, params, seed), an upstream stage that will run,\n"
	"or a command that cannot be found. With TARGETs (stage ids or globs, as\n"
	"for 'study run'), only the stages they match and their dependencies.\n"
	"External inputs (input/NAME) come first: 'imported' when their content is\n"
	"in the store, else 'will import'.\n"
	"\n"
	"options:\n"
	"      --store DIR   the artifact store (default: $STUDY_STORE, else <study root>/artifacts)\n"
	"      --json        one JSON array of {stage, state, reason, output} (an\n"
	"                    input also has its path; state imported or will-import)\n"
	"  -h, --help        show this help\n";

struct input_seen {
	struct extinput_stats *stats;
};

static void keep_stats(void *ctx, size_t i, const struct extinput_stats *s)
{
	((struct input_seen *)ctx)->stats[i] = *s;
}

/* An external input: "imported" when its content is in the store, else
 * "will import" (the next run copies it in); the digest and the path. */
static void print_input(const struct plan *p, size_t x, const struct stage_output *ext,
			const struct extinput_stats *s, int json, size_t shown_before)
{
	const struct plan_external *e = &p->externals[x];
	if (json) {
		struct strbuf sb = STRBUF_INIT;
		strbuf_addstr(&sb, shown_before ? ",\n{\"stage\":" : "\n{\"stage\":");
		strbuf_add_json_str(&sb, e->id);
		strbuf_addf(&sb, ",\"state\":\"%s\",\"reason\":", s->in_store ? "imported" : "will-import");
		if (s->in_store)
			strbuf_addstr(&sb, "null");
		else
			strbuf_add_json_str(&sb, "its content is not in the store yet");
		strbuf_addstr(&sb, ",\"output\":");
		strbuf_add_json_str(&sb, ext[x].digest);
		strbuf_addstr(&sb, ",\"path\":");
		strbuf_add_json_str(&sb, e->input->abs);
		strbuf_addch(&sb, '}');
		fputs(sb.buf, stdout);
		strbuf_release(&sb);
	} else if (s->in_store) {
		printf("imported    %-40s %.12s (%s)\n", e->id, ext[x].digest, e->input->abs);
	} else {
		printf("will import %-40s %.12s: not in the store yet (%s)\n", e->id, ext[x].digest,
		       e->input->abs);
	}
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
	if (optind >= argc) {
		cli_error("which study? give one STUDY.yaml");
		fputs(status_usage, stderr);
		return EXIT_USAGE;
	}
	struct select_spec spec = { argv + optind + 1, (size_t)(argc - optind - 1), NULL, 0, 0 };
	struct strbuf err = STRBUF_INIT;
	struct study study;
	if (study_load(&study, argv[optind], &err) < 0) {
		cli_error("%s", err.buf);
		strbuf_release(&err);
		return EXIT_USAGE;
	}
	struct plan p;
	if (plan_build(&p, &study, &err) < 0) {
		cli_error("%s", err.buf);
		study_release(&study);
		strbuf_release(&err);
		return EXIT_USAGE;
	}
	cli_warn_unhashed(&p);
	struct selection sel;
	if (select_stages(&p, &spec, &sel, &err) < 0) {
		cli_error("%s", err.buf);
		plan_release(&p);
		study_release(&study);
		strbuf_release(&err);
		return EXIT_USAGE;
	}

	char *dir = store_dir_for_study(store_opt, study.root);
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
		struct stat sb;
		if (prov_open_readonly(&pv, db.buf, &err) < 0) {
			pv = NULL;
			if (stat(db.buf, &sb) == 0) /* there, but unreadable: say so once */
				cli_warning("%s; the reasons below cannot use it", err.buf);
		}
		strbuf_release(&db);
	}
	/* no store or no database is not an error here: drop what they said,
	 * so that an error below is printed alone */
	strbuf_reset(&err);

	/* the external inputs first: their digests are part of the keys below
	 * (read only: the stat cache is used but not written, nothing imported) */
	struct stage_output *outs = xcalloc(p.nr + p.externals_nr + 1, sizeof(*outs));
	struct extinput_stats *xs = xcalloc(p.externals_nr + 1, sizeof(*xs));
	struct input_seen seen = { xs };
	char *wanted = selection_inputs(&p, &sel);
	if (extinput_resolve_all(&p, &st, EXTINPUT_LOOK, (int)sysconf(_SC_NPROCESSORS_ONLN),
				 wanted, outs + p.nr, keep_stats, &seen, &err) < 0) {
		cli_error("%s", err.buf);
		extinput_release(outs + p.nr, p.externals_nr);
		free(outs);
		free(xs);
		free(wanted);
		if (pv)
			prov_close(pv);
		store_release(&st);
		free(dir);
		selection_release(&sel);
		plan_release(&p);
		study_release(&study);
		strbuf_release(&err);
		return EXIT_USAGE;
	}
	char **reasons = xcalloc(p.nr ? p.nr : 1, sizeof(*reasons));
	int *fresh = xcalloc(p.nr ? p.nr : 1, sizeof(*fresh));
	struct code_digests cd;
	code_digests_init(&cd);
	struct fresh_ctx fc = { &p, have_store ? &st : NULL, pv, &cd, 0, NULL, NULL };
	struct fresh f;
	fresh_init(&f);
	struct sched sc;
	sched_init_subset(&sc, &p, 1 << 30, 1, sel.on);
	long i;
	size_t nfresh = 0;
	int rc = EXIT_OK;
	while ((i = sched_next(&sc)) >= 0) {
		strbuf_reset(&err);
		if (fresh_lookup(&fc, (size_t)i, outs, &f, &err) < 0) {
			cli_error("%s", err.buf);
			rc = EXIT_FAILED;
			break;
		}
		if (f.state == FRESH_UP_TO_DATE) {
			fresh[i] = 1;
			nfresh++;
			memcpy(outs[i].digest, f.tree, HASH_HEX_SIZE);
			outs[i].predicted = f.why.len > 0;
		} else if (f.predicted[0]) {
			memcpy(outs[i].digest, f.predicted, HASH_HEX_SIZE);
			outs[i].predicted = 1;
		}
		if (f.why.len)
			reasons[i] = xstrdup(f.why.buf);
		sched_done(&sc, (size_t)i, 1);
	}
	fresh_release(&f);

	if (json)
		fputs("[", stdout);
	size_t shown = 0;
	size_t inputs_shown = 0;
	for (size_t x = 0; x < p.externals_nr; x++)
		if (wanted[x])
			print_input(&p, x, outs + p.nr, &xs[x], json, inputs_shown++);
	for (size_t k = 0; k < p.nr; k++) {
		const struct stage *s = &p.stages[k];
		if (!sel.on[k])
			continue;
		if (json) {
			struct strbuf sb = STRBUF_INIT;
			strbuf_addstr(&sb, (shown++ || inputs_shown) ? ",\n{\"stage\":" : "\n{\"stage\":");
			strbuf_add_json_str(&sb, s->id);
			strbuf_addf(&sb, ",\"state\":\"%s\",\"reason\":",
				    fresh[k] ? "up-to-date" : "will-run");
			if (reasons[k])
				strbuf_add_json_str(&sb, reasons[k]);
			else
				strbuf_addstr(&sb, "null");
			strbuf_addstr(&sb, ",\"output\":");
			if (fresh[k])
				strbuf_add_json_str(&sb, outs[k].digest);
			else
				strbuf_addstr(&sb, "null");
			strbuf_addch(&sb, '}');
			fputs(sb.buf, stdout);
			strbuf_release(&sb);
		} else if (fresh[k]) {
			printf("up to date  %-40s %.12s%s%s%s\n", s->id, outs[k].digest,
			       reasons[k] ? " (" : "", reasons[k] ? reasons[k] : "",
			       reasons[k] ? ")" : "");
		} else {
			printf("will run    %-40s %s\n", s->id, reasons[k] ? reasons[k] : "");
		}
	}
	if (json)
		fputs("\n]\n", stdout);
	else if (!sel.partial)
		printf("%zu of %zu stages up to date, %zu will run\n", nfresh, p.nr, p.nr - nfresh);
	else
		printf("%zu of %zu selected stages up to date, %zu will run (%zu not selected)\n",
		       nfresh, sel.nr, sel.nr - nfresh, p.nr - sel.nr);

	for (size_t k = 0; k < p.nr; k++)
		free(reasons[k]);
	free(reasons);
	free(fresh);
	extinput_release(outs + p.nr, p.externals_nr);
	free(outs);
	free(xs);
	free(wanted);
	code_digests_release(&cd);
	sched_release(&sc);
	if (pv)
		prov_close(pv);
	store_release(&st);
	free(dir);
	selection_release(&sel);
	plan_release(&p);
	study_release(&study);
	strbuf_release(&err);
	return rc;
}
