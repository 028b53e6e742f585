/*
 * cmd_gc: `study gc [STUDY.yaml]` — lock the store as `run` does, pick the
 * runs to keep, mark what they (and the study) use, record the plan in
 * provenance, then remove the rest (gc.c); or, with --dry-run, list it.
 */
#include "cli.h"
#include "gc.h"
#include "pgroup.h"
#include "plan.h"
#include "prov.h"
#include "prov_query.h"
#include "store.h"
#include "study.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

static const char gc_usage[] =
	"usage: study gc [STUDY.yaml] [options]\n"
	"\n"
	"Removes from the store what no kept run uses: tree manifests, objects,\n"
	"materialised trees, action-cache entries, and what killed runs left in tmp/\n"
	"and work/. Kept: the newest N runs of each study recorded in the store (and\n"
	"its newest successful run), with every output, input and log they recorded;\n"
	"given STUDY.yaml, also every output its stages would reuse now. Provenance\n"
	"keeps every row; what was removed is recorded, and 'study verify' reports it\n"
	"as collected. Ends with 'gc G: removed T trees, O objects, C cache entries\n"
	"and N temporaries: B bytes freed'.\n"
	"\n"
	"options:\n"
	"      --keep-runs N   newest runs of each study to keep (default 1)\n"
	"  -n, --dry-run       list what would be removed; remove and record nothing\n"
	"      --store DIR     the artifact store (default: $STUDY_STORE, else the study's\n"
	"                      <root>/artifacts, else artifacts/ here or above)\n"
	"      --no-wait       fail at once if a run holds the store\n"
	"      --json          print the summary as one JSON object\n"
	"  -h, --help          show this help\n"
	"\n"
	"exit status: 0 done, 1 the store is locked (--no-wait) or a removal failed,\n"
	"2 bad usage, a bad study file, or no store or provenance\n";

struct gc_args {
	const char *study_path, *store_dir;
	long keep;
	int dry_run, no_wait, json;
};

static int parse_args(int argc, char **argv, struct gc_args *a)
{
	enum { OPT_STORE = 256, OPT_JSON, OPT_NO_WAIT, OPT_KEEP };
	static const struct option opts[] = {
		{ "keep-runs", required_argument, NULL, OPT_KEEP },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	memset(a, 0, sizeof(*a));
	a->keep = 1;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "nh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_KEEP: {
			long long v;
			if (cli_parse_count(optarg, 1000000, &v) < 0) {
				cli_error("--keep-runs wants a number from 1 to 1000000, not '%s'",
					  optarg);
				return -1;
			}
			a->keep = (long)v;
			break;
		}
		case 'n': a->dry_run = 1; break;
		case OPT_STORE: a->store_dir = optarg; break;
		case OPT_NO_WAIT: a->no_wait = 1; break;
		case OPT_JSON: a->json = 1; break;
		case 'h': fputs(gc_usage, stdout); exit(EXIT_OK);
		default:
			cli_error("unknown option or missing value: '%s'", argv[optind - 1]);
			fputs(gc_usage, stderr);
			return -1;
		}
	}
	if (argc - optind > 1) {
		cli_error("give at most one study file");
		fputs(gc_usage, stderr);
		return -1;
	}
	a->study_path = optind < argc ? argv[optind] : NULL;
	return 0;
}

static void print_lock_wait(void *ctx, const char *holder)
{
	(void)ctx;
	fprintf(stderr, "study: waiting for the store lock held by %s\n", holder);
	fflush(stderr);
}

static double now_unix(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *plural(long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* "run 2" / "runs 2, 3" / "no recorded run" */
static void add_runs(struct strbuf *sb, const int64_t *ids, size_t nr)
{
	if (!nr) {
		strbuf_addstr(sb, "no recorded run");
		return;
	}
	strbuf_addstr(sb, nr == 1 ? "run " : "runs ");
	for (size_t i = 0; i < nr; i++)
		strbuf_addf(sb, "%s%lld", i ? ", " : "", (long long)ids[i]);
}

/* --dry-run: one line per thing that would go, in removal order */
static void print_listing(const struct gc_plan *plan, const struct gc_roots *roots)
{
	struct strmap trees = STRMAP_INIT;
	for (size_t i = 0; i < plan->cache.nr; i++) {
		const struct gc_item *it = &plan->cache.v[i];
		if (it->tree[0])
			printf("would remove cache entry %s (tree %.12s)\n", it->name, it->tree);
		else
			printf("would remove cache entry %s (malformed)\n", it->name);
	}
	for (size_t i = 0; i < plan->trees.nr; i++)
		strmap_put(&trees, plan->trees.v[i].name, (void *)1);
	for (size_t i = 0; i < plan->outdirs.nr; i++)
		if (!strmap_get(&trees, plan->outdirs.v[i].name))
			printf("would remove materialised tree out/%s (no manifest)\n",
			       plan->outdirs.v[i].name);
	for (size_t i = 0; i < plan->trees.nr; i++) {
		const char *by = strmap_get(&roots->made_by, plan->trees.v[i].name);
		printf("would remove tree %s (%s%s)\n", plan->trees.v[i].name,
		       by ? "output of " : "not recorded as an output", by ? by : "");
	}
	for (size_t i = 0; i < plan->objects.nr; i++)
		printf("would remove object %s (%llu bytes)\n", plan->objects.v[i].name,
		       (unsigned long long)plan->objects.v[i].bytes);
	strmap_clear(&trees, NULL);
}

static cJSON *ids_json(const int64_t *ids, size_t nr)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < nr; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)ids[i]));
	return a;
}

static void print_json(const struct gc_args *a, int64_t gc_id, const int64_t *kept,
		       size_t kept_nr, const struct gc_plan *plan, const struct gc_done *done,
		       uint64_t bytes)
{
	cJSON *o = cJSON_CreateObject();
	if (gc_id)
		cJSON_AddNumberToObject(o, "gc", (double)gc_id);
	else
		cJSON_AddNullToObject(o, "gc");
	cJSON_AddBoolToObject(o, "dry_run", a->dry_run);
	cJSON_AddItemToObject(o, "kept_runs", ids_json(kept, kept_nr));
	cJSON *k = cJSON_AddObjectToObject(o, "kept");
	cJSON_AddNumberToObject(k, "trees", (double)plan->kept_trees);
	cJSON_AddNumberToObject(k, "objects", (double)plan->kept_objects);
	cJSON_AddNumberToObject(k, "cache_entries", (double)plan->kept_cache);
	cJSON *r = cJSON_AddObjectToObject(o, a->dry_run ? "would_remove" : "removed");
	cJSON_AddNumberToObject(r, "trees", (double)(done ? done->trees : (long)plan->trees.nr));
	cJSON_AddNumberToObject(r, "objects",
				(double)(done ? done->objects : (long)plan->objects.nr));
	cJSON_AddNumberToObject(r, "cache_entries",
				(double)(done ? done->cache : (long)plan->cache.nr));
	cJSON_AddNumberToObject(r, "materialised_trees",
				(double)(done ? done->outdirs : (long)plan->outdirs.nr));
	cJSON_AddNumberToObject(r, "stat_records",
				(double)(done ? done->stats : (long)plan->stats.nr));
	cJSON_AddNumberToObject(r, "temporaries", (double)plan->temporaries);
	cJSON_AddNumberToObject(o, "bytes", (double)bytes);
	char *text = cJSON_PrintUnformatted(o);
	if (text)
		printf("%s\n", text);
	free(text);
	cJSON_Delete(o);
}

static int errno_read_only(int e)
{
	return e == EACCES || e == EPERM || e == EROFS;
}

int cmd_gc(int argc, char **argv)
{
	struct gc_args a;
	if (parse_args(argc, argv, &a) < 0)
		return EXIT_USAGE;

	struct strbuf err = STRBUF_INIT, db = STRBUF_INIT, line = STRBUF_INIT;
	struct study study;
	struct plan plan;
	struct store st;
	struct prov *pv = NULL;
	struct gc_roots roots;
	struct gc_plan gp;
	struct prov_run_info *runs = NULL;
	struct gc_run *gr = NULL;
	int64_t *kept = NULL;
	size_t nruns = 0, kept_nr = 0;
	char *store_dir = NULL;
	int have_study = 0, have_plan = 0, rc = EXIT_USAGE;
	memset(&st, 0, sizeof(st));
	st.lock_fd = -1;
	memset(&gp, 0, sizeof(gp));
	gc_roots_init(&roots);

	if (a.study_path) {
		if (study_load(&study, a.study_path, &err) < 0) {
			cli_error("%s", err.buf);
			goto out;
		}
		have_study = 1;
		if (plan_build(&plan, &study, &err) < 0) {
			cli_error("%s", err.buf);
			goto out;
		}
		have_plan = 1;
		store_dir = store_dir_for_study(a.store_dir, study.root);
	} else {
		store_dir = xstrdup(store_dir_default(a.store_dir));
	}
	if (store_open_existing(&st, store_dir, &err) < 0) {
		cli_error("%s", err.buf);
		goto out;
	}
	strbuf_addf(&db, "%s/provenance.db", st.root);
	struct stat sb;
	if (stat(db.buf, &sb) != 0) {
		/* without a record of runs, everything would be garbage */
		cli_error("no provenance database at '%s': gc keeps what recorded runs use, and"
			  " removes nothing without them",
			  db.buf);
		goto out;
	}

	/* the writer lock, as `run` takes it: no run adds or uses anything
	 * while the plan is made and carried out (docs/store.md) */
	st.on_wait = print_lock_wait;
	if (store_lock(&st, !a.no_wait, &err) < 0) {
		/* a dry run reads: a store this user cannot write is fine */
		if (!a.dry_run || !errno_read_only(errno)) {
			cli_error("%s", err.buf);
			rc = EXIT_FAILED;
			goto out;
		}
		strbuf_reset(&err);
	}
	long ntemp;
	uint64_t temp_bytes;
	gc_count_temporaries(&st, &gp);
	ntemp = gp.temporaries;
	temp_bytes = gp.temp_bytes;
	if (!a.dry_run) {
		/* what killed runs left, exactly as `run` clears it first */
		strbuf_reset(&line);
		strbuf_addf(&line, "%s/work", st.root);
		pgroup_kill_leftovers(line.buf);
		if (store_clean_tmp(&st, &err) < 0) {
			cli_error("%s", err.buf);
			rc = EXIT_FAILED;
			goto out;
		}
		if (prov_open(&pv, db.buf, &err) < 0 || prov_mark_interrupted(pv, &err) < 0) {
			cli_error("%s", err.buf);
			goto out;
		}
	} else if (prov_open_readonly(&pv, db.buf, &err) < 0) {
		cli_error("%s", err.buf);
		goto out;
	}

	/* the plan, from one snapshot of provenance */
	if (prov_snapshot_begin(pv, &err) < 0 || prov_list_runs(pv, 0, &runs, &nruns, &err) < 0) {
		prov_snapshot_end(pv);
		cli_error("%s", err.buf);
		goto out;
	}
	gr = xcalloc(nruns ? nruns : 1, sizeof(*gr));
	for (size_t i = 0; i < nruns; i++)
		gr[i] = (struct gc_run){ runs[i].id, runs[i].study_name, runs[i].status,
					 run_argv_partial(runs[i].argv_json) };
	kept_nr = gc_pick_runs(gr, nruns, a.keep, &kept);
	if (gc_roots_add_runs(&roots, pv, kept, kept_nr, &err) < 0 ||
	    (have_plan && gc_roots_add_plan(&roots, &plan, &st, pv, &err) < 0) ||
	    gc_roots_add_producers(&roots, pv, &err) < 0 || gc_mark(&st, &roots, &gp, &err) < 0) {
		prov_snapshot_end(pv);
		cli_error("%s", err.buf);
		goto out;
	}
	prov_snapshot_end(pv);
	gp.temporaries = ntemp;
	gp.temp_bytes = temp_bytes;

	strbuf_reset(&line);
	strbuf_addf(&line, "gc: keeping %ld %s, %ld %s and %ld %s used by ", gp.kept_trees,
		    plural(gp.kept_trees, "tree", "trees"), gp.kept_objects,
		    plural(gp.kept_objects, "object", "objects"), gp.kept_cache,
		    plural(gp.kept_cache, "cache entry", "cache entries"));
	add_runs(&line, kept, kept_nr);
	if (a.study_path)
		strbuf_addf(&line, " and by %s", a.study_path);

	if (a.dry_run) {
		if (a.json) {
			print_json(&a, 0, kept, kept_nr, &gp, NULL, gc_plan_bytes(&gp));
		} else {
			print_listing(&gp, &roots);
			printf("%s\n", line.buf);
			printf("gc: would remove %zu %s, %zu %s, %zu %s and %ld %s: %llu bytes\n",
			       gp.trees.nr, plural((long)gp.trees.nr, "tree", "trees"),
			       gp.objects.nr, plural((long)gp.objects.nr, "object", "objects"),
			       gp.cache.nr, plural((long)gp.cache.nr, "cache entry", "cache entries"),
			       gp.temporaries, plural(gp.temporaries, "temporary", "temporaries"),
			       (unsigned long long)gc_plan_bytes(&gp));
		}
		rc = EXIT_OK;
		goto out;
	}

	/* record, then remove: a digest is marked collected before it goes */
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	const struct passwd *pw = getpwuid(geteuid());
	cJSON *ids = ids_json(kept, kept_nr);
	char *kept_json = cJSON_PrintUnformatted(ids);
	cJSON_Delete(ids);
	struct prov_gc g = { .started = now_unix(), .keep_runs = a.keep,
			     .kept_runs_json = kept_json, .last_run = nruns ? runs[0].id : 0,
			     .study_path = a.study_path, .host = host,
			     .user = pw ? pw->pw_name : "" };
	int64_t gc_id = 0;
	int recorded = gc_record(pv, &gp, &g, &gc_id, &err);
	free(kept_json);
	if (recorded < 0) {
		cli_error("%s (nothing was removed)", err.buf);
		rc = EXIT_FAILED;
		goto out;
	}
	struct gc_done done;
	int swept = gc_sweep(&st, &gp, &done, &err);
	if (swept < 0)
		cli_error("%s", err.buf);
	uint64_t freed = done.bytes + temp_bytes;
	strbuf_reset(&err);
	if (prov_gc_end(pv, gc_id, now_unix(), done.trees, done.objects, done.cache,
			(long long)freed, &err) < 0)
		cli_error("%s", err.buf);
	if (a.json) {
		print_json(&a, gc_id, kept, kept_nr, &gp, &done, freed);
	} else {
		printf("%s\n", line.buf);
		printf("gc %lld: removed %ld %s, %ld %s, %ld %s and %ld %s: %llu bytes freed\n",
		       (long long)gc_id, done.trees, plural(done.trees, "tree", "trees"),
		       done.objects, plural(done.objects, "object", "objects"), done.cache,
		       plural(done.cache, "cache entry", "cache entries"), ntemp,
		       plural(ntemp, "temporary", "temporaries"), (unsigned long long)freed);
	}
	rc = swept < 0 ? EXIT_FAILED : EXIT_OK;

out:
	if (pv)
		prov_close(pv);
	store_release(&st);
	prov_runs_free(runs, nruns);
	free(gr);
	free(kept);
	gc_plan_release(&gp);
	gc_roots_release(&roots);
	if (have_plan)
		plan_release(&plan);
	if (have_study)
		study_release(&study);
	free(store_dir);
	strbuf_release(&err);
	strbuf_release(&db);
	strbuf_release(&line);
	return rc;
}
