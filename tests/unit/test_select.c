/*
 * Unit tests for select: target matching (globs whose '*' crosses '/'), the
 * selection's closure under dependencies, --force and --force-downstream,
 * the exact error for a pattern that matches nothing and its "did you mean"
 * hint, on the plan of a real (inline) study.
 */
#include "check.h"
#include "plan.h"
#include "select.h"
#include "study.h"

#include <stdlib.h>

/* data/d; per model m1, m3: model, method/wo, eval/{refusal,nlp}/M/{base,wo};
 * report: 14 stages */
static const char study_text[] =
	"study: t\n"
	"data:\n"
	"  d: {run: [a, --out, \"${out}\"]}\n"
	"models:\n"
	"  m1: {run: [a, \"${data.d}\"]}\n"
	"  m3: {run: [a, \"${data.d}\"]}\n"
	"methods:\n"
	"  wo: {run: [a, \"${model}\"]}\n"
	"evaluations:\n"
	"  refusal: {run: [a, \"${model}\"]}\n"
	"  nlp: {run: [a, \"${model}\", \"${model.base}\"]}\n"
	"report:\n"
	"  run: [r, \"${evaluations}\"]\n";

static struct study st;
static struct plan p;

/* The ids with mark[i] set, space-separated, in plan order. */
static const char *ids(const char *mark)
{
	static struct strbuf sb = STRBUF_INIT;
	strbuf_reset(&sb);
	for (size_t i = 0; i < p.nr; i++)
		if (mark[i]) {
			if (sb.len)
				strbuf_addch(&sb, ' ');
			strbuf_addstr(&sb, p.stages[i].id);
		}
	return sb.buf;
}

/* 1 when every selected stage's dependencies are selected. */
static int closed(const struct selection *sel)
{
	for (size_t i = 0; i < p.nr; i++)
		for (size_t k = 0; sel->on[i] && k < p.stages[i].deps_nr; k++)
			if (!sel->on[p.stages[i].deps[k]])
				return 0;
	return 1;
}

static int sel_run(struct selection *sel, const char *t1, const char *t2, const char *f1,
		   int downstream, struct strbuf *err)
{
	char *targets[2] = { (char *)t1, (char *)t2 };
	char *force[1] = { (char *)f1 };
	struct select_spec spec = { targets, t2 ? 2 : t1 ? 1 : 0, force, f1 ? 1 : 0, downstream };
	strbuf_reset(err);
	return select_stages(&p, &spec, sel, err);
}

static void test_match(void)
{
	CHECK(select_match("eval/refusal/*", "eval/refusal/m1/wo"), "'*' crosses '/'");
	CHECK(select_match("*/m3/*", "eval/nlp/m3/base"), "'*/m3/*' matches an eval of m3");
	CHECK(!select_match("*/m3/*", "method/wo/m3"), "'*/m3/*' needs something after m3");
	CHECK(select_match("*", "mitigation/sft/wo/m1"), "'*' matches every id");
	CHECK(select_match("model/m?", "model/m1") && select_match("model/m[13]", "model/m3"),
	      "'?' and brackets");
	CHECK(select_match("report", "report") && !select_match("repor", "report"),
	      "a plain id matches itself only");
	CHECK(select_match("eval/refusal/m1/wo+sft", "eval/refusal/m1/wo+sft"), "'+' is literal");
}

static void test_selection(void)
{
	struct selection sel;
	struct strbuf err = STRBUF_INIT;

	CHECK(sel_run(&sel, NULL, NULL, NULL, 0, &err) == 0, "no target");
	CHECK(sel.nr == 14 && p.nr == 14 && !sel.partial && !sel.forced_nr,
	      "no target selects the whole plan, nothing forced");
	selection_release(&sel);

	CHECK(sel_run(&sel, "eval/refusal/m1/wo", NULL, NULL, 0, &err) == 0, "one id");
	CHECK_STR(ids(sel.on), "data/d model/m1 method/wo/m1 eval/refusal/m1/wo",
		  "an id selects itself and its dependencies, transitively");
	CHECK(sel.nr == 4 && sel.partial, "four selected, partial");
	selection_release(&sel);

	CHECK(sel_run(&sel, "*/m3/*", NULL, NULL, 0, &err) == 0, "a glob");
	CHECK_STR(ids(sel.on),
		  "data/d model/m3 method/wo/m3 eval/refusal/m3/base eval/refusal/m3/wo "
		  "eval/nlp/m3/base eval/nlp/m3/wo",
		  "'*/m3/*': the evals of m3 and what they need (method/wo/m3 through its "
		  "eval, though the glob does not match it)");
	CHECK(closed(&sel), "closed under dependencies");
	selection_release(&sel);

	CHECK(sel_run(&sel, "model/m3", "eval/nlp/m1/base", NULL, 0, &err) == 0, "two targets");
	CHECK_STR(ids(sel.on), "data/d model/m1 eval/nlp/m1/base model/m3",
		  "the union of both targets' selections");
	selection_release(&sel);

	CHECK(sel_run(&sel, "report", NULL, NULL, 0, &err) == 0, "the report");
	CHECK(sel.nr == 14 && sel.partial && closed(&sel),
	      "the report needs every stage: all selected, still a partial (targeted) run");
	selection_release(&sel);
	strbuf_release(&err);
}

static void test_force(void)
{
	struct selection sel;
	struct strbuf err = STRBUF_INIT;

	CHECK(sel_run(&sel, NULL, NULL, "model/m1", 0, &err) == 0, "--force one stage");
	CHECK_STR(ids(sel.forced), "model/m1", "only that stage is forced");
	CHECK(sel.nr == 14, "without targets the whole plan is selected");
	selection_release(&sel);

	CHECK(sel_run(&sel, NULL, NULL, "model/m1", 1, &err) == 0, "--force-downstream");
	CHECK_STR(ids(sel.forced),
		  "model/m1 method/wo/m1 eval/refusal/m1/base eval/refusal/m1/wo "
		  "eval/nlp/m1/base eval/nlp/m1/wo report",
		  "everything downstream of model/m1 is forced too, not its dependency data/d");
	CHECK(sel.forced_nr == 7, "seven forced");
	selection_release(&sel);

	CHECK(sel_run(&sel, "eval/refusal/m1/*", NULL, "model/m1", 1, &err) == 0,
	      "targets with --force-downstream");
	CHECK_STR(ids(sel.on), "data/d model/m1 method/wo/m1 eval/refusal/m1/base eval/refusal/m1/wo",
		  "selection: the targets and their dependencies");
	CHECK_STR(ids(sel.forced),
		  "model/m1 method/wo/m1 eval/refusal/m1/base eval/refusal/m1/wo",
		  "downstream forcing stays inside the selection (no nlp eval, no report)");
	selection_release(&sel);

	CHECK(sel_run(&sel, "eval/refusal/m1/base", NULL, "model/m3", 0, &err) == 0,
	      "a forced stage outside the targets");
	CHECK_STR(ids(sel.on), "data/d model/m1 eval/refusal/m1/base model/m3",
		  "a forced stage is selected, with its dependencies");
	CHECK_STR(ids(sel.forced), "model/m3", "and forced");
	selection_release(&sel);
	strbuf_release(&err);
}

static void test_errors(void)
{
	struct selection sel;
	struct strbuf err = STRBUF_INIT;

	CHECK(sel_run(&sel, "eval/refusl/*", NULL, NULL, 0, &err) == -1, "a typo is an error");
	CHECK_STR(err.buf,
		  "target 'eval/refusl/*' matches no stage of the study; did you mean "
		  "'eval/refusal/*'?",
		  "the error names the target and the nearest group");
	CHECK(!sel.on && !sel.forced, "nothing to release after an error");
	CHECK(sel_run(&sel, "eval/nlp", NULL, NULL, 0, &err) == -1, "a group without its star");
	CHECK_STR(err.buf,
		  "target 'eval/nlp' matches no stage of the study; did you mean 'eval/nlp/*'?",
		  "the hint adds '/*'");
	CHECK(sel_run(&sel, "modle/m1", NULL, NULL, 0, &err) == -1, "a transposition");
	CHECK_STR(err.buf,
		  "target 'modle/m1' matches no stage of the study; did you mean 'model/m1'?",
		  "the hint is the nearest id");
	CHECK(sel_run(&sel, "model/m1", "zzz/q", NULL, 0, &err) == -1,
	      "one good target and one that matches nothing");
	CHECK_STR(err.buf,
		  "target 'zzz/q' matches no stage of the study ('study dag' lists the stage ids)",
		  "nothing close: a pointer to 'study dag'");
	CHECK(sel_run(&sel, NULL, NULL, "methd/wo/m3", 0, &err) == -1, "--force matching nothing");
	CHECK_STR(err.buf,
		  "--force 'methd/wo/m3' matches no stage of the study; did you mean 'method/wo/m3'?",
		  "the --force error names the option");
	CHECK(sel_run(&sel, "", NULL, NULL, 0, &err) == -1, "an empty target matches nothing");

	struct strbuf hint = STRBUF_INIT;
	select_suggest(&p, "model/", &hint);
	CHECK_STR(hint.buf, "model/*", "'model/' suggests 'model/*'");
	strbuf_reset(&hint);
	select_suggest(&p, "m", &hint);
	CHECK_STR(hint.buf, "", "a one-letter pattern gets no hint");
	strbuf_release(&hint);
	strbuf_release(&err);
}

int main(void)
{
	struct strbuf err = STRBUF_INIT;
	if (study_load_buffer(&st, "inline.yaml", study_text, strlen(study_text), &err) < 0 ||
	    plan_build(&p, &st, &err) < 0) {
		printf("not ok - load the test study: %s\n", err.buf);
		return 1;
	}
	test_match();
	test_selection();
	test_force();
	test_errors();
	plan_release(&p);
	study_release(&st);
	strbuf_release(&err);
	return check_done();
}
