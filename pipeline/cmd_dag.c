/*
 * cmd_dag: `study dag STUDY.yaml [TARGET...]` — the expanded stage graph (or
 * the part the targets select, select.h) as Graphviz dot (default) or JSON,
 * without touching any store.
 */
#include "cli.h"
#include "plan.h"
#include "select.h"
#include "study.h"
#include "xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char dag_usage[] =
	"usage: study dag STUDY.yaml [TARGET...] [--format dot|json]\n"
	"\n"
	"Prints the stage graph the study expands to: one node per stage (ids like\n"
	"model/m1, method/wo/m1, eval/refusal/m1/wo+sft) and per external input\n"
	"(input/NAME: imported, not run), one edge per input.\n"
	"With TARGETs (stage ids or globs, as for 'study run'), only the stages\n"
	"they match and their dependencies.\n"
	"Also a quick way to validate a study file (exit 2 on errors).\n"
	"\n"
	"options:\n"
	"      --format F   dot (default) or json\n"
	"  -h, --help       show this help\n";

static void print_json_str(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_add_json_str(&sb, s);
	fputs(sb.buf, stdout);
	strbuf_release(&sb);
}

/* Whether external input x is drawn: always without targets (a declared
 * input no stage reads is still part of the study), else when a selected
 * stage reads it. */
static int input_shown(const struct plan *p, const struct selection *sel, size_t x)
{
	if (!sel->partial)
		return 1;
	for (size_t i = 0; i < p->nr; i++)
		for (size_t k = 0; k < p->stages[i].inputs_nr && sel->on[i]; k++)
			if (p->stages[i].inputs[k].stage == p->nr + x)
				return 1;
	return 0;
}

/* Both print the stages with on[i] set, and the external inputs they read; a
 * selection holds the inputs of each stage in it, so every edge printed
 * joins two printed nodes. */
static void print_dot(const struct plan *p, const struct selection *sel)
{
	const char *on = sel->on;
	printf("digraph \"%s\" {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n",
	       p->study->name);
	/* external inputs are imported, not run: drawn as folders / notes */
	for (size_t x = 0; x < p->externals_nr; x++) {
		if (!input_shown(p, sel, x))
			continue;
		printf("  ");
		print_json_str(p->externals[x].id);
		printf(" [shape=%s];\n", p->externals[x].input->is_dir ? "folder" : "note");
	}
	for (size_t i = 0; i < p->nr; i++) {
		if (!on[i])
			continue;
		printf("  ");
		print_json_str(p->stages[i].id);
		printf(";\n");
	}
	for (size_t i = 0; i < p->nr; i++) {
		const struct stage *s = &p->stages[i];
		for (size_t k = 0; k < s->inputs_nr && on[i]; k++) {
			printf("  ");
			print_json_str(plan_node_id(p, s->inputs[k].stage));
			printf(" -> ");
			print_json_str(s->id);
			printf(" [label=");
			print_json_str(s->inputs[k].name);
			printf("];\n");
		}
	}
	printf("}\n");
}

static void print_opt(const char *key, const char *v)
{
	printf(",\"%s\":", key);
	if (v)
		print_json_str(v);
	else
		printf("null");
}

static void print_json(const struct plan *p, const struct selection *sel)
{
	const char *on = sel->on;
	size_t inputs = 0;
	printf("{\"study\":");
	print_json_str(p->study->name);
	for (size_t x = 0; x < p->externals_nr; x++) {
		if (!input_shown(p, sel, x))
			continue;
		const struct study_input *in = p->externals[x].input;
		printf("%s\n{\"id\":", inputs++ ? "," : ",\"inputs\":[");
		print_json_str(p->externals[x].id);
		printf(",\"kind\":\"%s\"", in->is_dir ? "directory" : "file");
		print_opt("path", in->abs);
		print_opt("sha256", in->sha256);
		printf("}");
	}
	if (inputs)
		printf("\n]");
	printf(",\"stages\":[");
	size_t shown = 0;
	for (size_t i = 0; i < p->nr; i++) {
		const struct stage *s = &p->stages[i];
		if (!on[i])
			continue;
		printf("%s\n{\"id\":", shown++ ? "," : "");
		print_json_str(s->id);
		printf(",\"kind\":\"%s\"", stage_kind_name(s->kind));
		print_opt("model", s->model);
		print_opt("variant", s->variant);
		print_opt("method", s->method);
		print_opt("mitigation", s->mitigation);
		print_opt("evaluation", s->evaluation);
		printf(",\"inputs\":[");
		for (size_t k = 0; k < s->inputs_nr; k++) {
			printf("%s{\"name\":", k ? "," : "");
			print_json_str(s->inputs[k].name);
			printf(",\"stage\":");
			print_json_str(plan_node_id(p, s->inputs[k].stage));
			printf("}");
		}
		printf("]}");
	}
	printf("\n]}\n");
}

int cmd_dag(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *format = "dot";
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': format = optarg; break;
		case 'h': fputs(dag_usage, stdout); return EXIT_OK;
		default:
			cli_error("unknown option '%s'", argv[optind - 1]);
			fputs(dag_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (strcmp(format, "dot") && strcmp(format, "json")) {
		cli_error("unknown format '%s' (use dot or json)", format);
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		cli_error("which study? give one STUDY.yaml");
		fputs(dag_usage, stderr);
		return EXIT_USAGE;
	}
	struct select_spec spec = { argv + optind + 1, (size_t)(argc - optind - 1), NULL, 0, 0 };
	struct strbuf err = STRBUF_INIT;
	struct study st;
	if (study_load(&st, argv[optind], &err) < 0) {
		cli_error("%s", err.buf);
		strbuf_release(&err);
		return EXIT_USAGE;
	}
	struct plan p;
	if (plan_build(&p, &st, &err) < 0) {
		cli_error("%s", err.buf);
		study_release(&st);
		strbuf_release(&err);
		return EXIT_USAGE;
	}
	cli_warn_unhashed(&p);
	struct selection sel;
	if (select_stages(&p, &spec, &sel, &err) < 0) {
		cli_error("%s", err.buf);
		plan_release(&p);
		study_release(&st);
		strbuf_release(&err);
		return EXIT_USAGE;
	}
	if (!strcmp(format, "dot"))
		print_dot(&p, &sel);
	else
		print_json(&p, &sel);
	selection_release(&sel);
	plan_release(&p);
	study_release(&st);
	strbuf_release(&err);
	return EXIT_OK;
}
