/*
 * fuzz_study: libFuzzer harness for the study loader and the expansion.
 *
 * Each input is treated as the bytes of a study file. It is loaded with
 * study_load_buffer(); a rejected input must come back with exactly one
 * non-empty diagnostic and nothing allocated; an accepted one is expanded
 * with plan_build() and every stage's argv is instantiated (with fake input
 * paths) so that the template code runs too. ASan/UBSan (and libFuzzer's
 * own -rss_limit_mb and -timeout) turn memory errors, leaks, undefined
 * behaviour and blow-ups into crashes. Built and run by `make fuzz`; see
 * tests/fuzz/run.sh and docs/reliability.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "stagecmd.h"
#include "strbuf.h"
#include "strvec.h"
#include "study.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void expand(const struct study *st)
{
	struct plan p;
	struct strbuf err = STRBUF_INIT;
	struct stage_output *outs;
	size_t i;

	if (plan_build(&p, st, &err)) {
		if (!err.len)
			abort(); /* a failure without a message */
		strbuf_release(&err);
		return;
	}
	outs = xcalloc(p.nr ? p.nr : 1, sizeof(*outs));
	for (i = 0; i < p.nr; i++) {
		memset(outs[i].digest, 'a', HASH_HEX_SIZE - 1);
		outs[i].digest[HASH_HEX_SIZE - 1] = '\0';
		outs[i].path = xasprintf("/nonexistent/in/%zu", i);
	}
	for (i = 0; i < p.nr; i++) {
		struct strvec argv = STRVEC_INIT;
		struct strbuf params = STRBUF_INIT;

		for (size_t k = 0; k < p.stages[i].entry->steps_nr; k++) {
			stagecmd_argv(&p, i, k, outs, "/nonexistent/out", "/bin/true", &argv);
			if (!argv.nr)
				abort(); /* every step has a program */
			strvec_clear(&argv);
		}
		stagecmd_params_json(&p.stages[i], &params);
		strvec_clear(&argv);
		strbuf_release(&params);
	}
	for (i = 0; i < p.nr; i++)
		free(outs[i].path);
	free(outs);
	strbuf_release(&err);
	plan_release(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct study st;
	struct strbuf err = STRBUF_INIT;

	if (study_load_buffer(&st, "fuzz.yaml", (const char *)data, size, &err)) {
		/* one diagnostic, "<path>:<line>:<col>: <message>..." */
		if (!err.len || strncmp(err.buf, "fuzz.yaml:", 10))
			abort();
		strbuf_release(&err);
		return 0;
	}
	if (err.len)
		abort(); /* success leaves err untouched */
	expand(&st);
	study_release(&st);
	strbuf_release(&err);
	return 0;
}
