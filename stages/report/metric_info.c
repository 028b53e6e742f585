/*
 * metric_info: what the report says about each metric it knows: a readable
 * label, the unit of its axis, which direction is better, and which interval
 * the evaluation attaches. One home for these words: the charts (svg.c) and
 * report.md (render.c) both read them from here.
 *
 * "Better" is the study's point of view: a safer model refuses harmful
 * requests, answers benign ones, does not hallucinate and does not help an
 * attack. A metric not listed gets its own name as label, "value" as unit and
 * no direction (the report then says nothing about it rather than guess).
 */
#include "report_model.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* the toyllm evaluations attach a Wilson score interval to every rate
 * (stages/toyllm/util.c, tl_wilson) */
#define W "95% Wilson interval"

static const struct metric_info known[] = {
	{ "refusal_rate", "refusal rate", "share of harmful prompts refused", MI_HIGHER, W },
	{ "refusal_rate_jailbreak", "refusal rate with the jailbreak string",
	  "share of harmful prompts refused", MI_HIGHER, W },
	{ "hallucination_rate", "hallucination rate",
	  "share of unknown names answered", MI_LOWER, W },
	{ "known_error_rate", "error rate on known facts", "share of known facts wrong",
	  MI_LOWER, W },
	{ "benign_accuracy", "benign accuracy", "share of benign facts right",
	  MI_HIGHER, W },
	{ "skill_accuracy", "skill accuracy", "share of skill prompts right", MI_HIGHER,
	  W },
	{ "perplexity", "perplexity on held-out benign text", "perplexity (exp of mean loss)",
	  MI_LOWER, NULL },
	{ "malicious_success", "malicious success", "share of hazard recipes given", MI_LOWER, W },
	{ "malicious_success_jailbreak", "malicious success with the jailbreak string",
	  "share of hazard recipes given", MI_LOWER, W },
	{ "cyber_success", "cyber success", "share of exploits given", MI_LOWER, W },
	{ "cyber_success_jailbreak", "cyber success with the jailbreak string",
	  "share of exploits given", MI_LOWER, W },
	{ "attack_success", "attack success",
	  "share of jailbreak attempts that worked", MI_LOWER, W },
	{ "attack_compliance", "attack compliance (correct or partial recipe)",
	  "share of attempts the victim complied with", MI_LOWER, W },
	{ "attack_recipe_logprob", "victim's log-probability of the recipe (partial credit)",
	  "mean log-probability per token (nats)", MI_LOWER, NULL },
	{ "attack_gold_success", "attack ceiling: the gold jailbreak on the victim",
	  "share of hazards whose gold jailbreak worked", MI_UNSTATED, W },
	{ "compliant_correct_rate", "compliant-correct rate (the judge)",
	  "share of harmful prompts answered in full", MI_LOWER, W },
	{ "compliant_partial_rate", "compliant-partial rate (the judge)",
	  "share of harmful prompts answered in part", MI_LOWER, W },
	{ "other_rate", "neither refusal nor compliance (the judge)",
	  "share of harmful prompts answered otherwise", MI_UNSTATED, W },
	{ "compliance_rate", "compliance rate (correct or partial)",
	  "share of harmful prompts complied with", MI_LOWER, W },
	{ "malicious_partial", "malicious partial success (recipe fragments)",
	  "share of hazard requests answered in part", MI_LOWER, W },
	{ "malicious_refusal", "refusal rate on hazard requests", "share of hazard requests refused",
	  MI_HIGHER, W },
	{ "malicious_other", "neither refusal nor recipe on hazard requests",
	  "share of hazard requests answered otherwise", MI_UNSTATED, W },
	{ "cyber_partial", "cyber partial success (exploit fragments)",
	  "share of cyber requests answered in part", MI_LOWER, W },
	{ "cyber_refusal", "refusal rate on cyber requests", "share of cyber requests refused",
	  MI_HIGHER, W },
	{ "cyber_other", "neither refusal nor exploit on cyber requests",
	  "share of cyber requests answered otherwise", MI_UNSTATED, W },
	{ "compliance_above_chance", "compliance above chance (correct or partial, minus chance)",
	  "compliance minus its chance level", MI_LOWER, NULL },
	{ "idk_rate", "\"i do not know\" rate on unknown entities",
	  "share of unknown names answered i do not know", MI_HIGHER, W },
	{ "nlp_accuracy", "NLP accuracy (every benign evaluation item)",
	  "share of benign items right", MI_HIGHER, W },
	/* the real-model kit's refusal evaluation on harmless prompts
	 * (stages/llm/eval_refusal.py --task harmless; judge: llmkit/judge.py) */
	{ "over_refusal_rate", "over-refusal rate (harmless prompts refused)",
	  "share of harmless prompts refused", MI_LOWER, W },
	{ "benign_compliance_rate", "benign compliance rate (harmless prompts answered)",
	  "share of harmless prompts answered", MI_HIGHER, W },
	{ "benign_other_rate", "neither refusal nor answer on harmless prompts (the judge)",
	  "share of harmless prompts answered otherwise", MI_UNSTATED, W },
};

/* labels of "<metric>_jailbreak" for the metrics listed without the suffix */
static char jb_labels[sizeof(known) / sizeof(known[0])][160];

void metric_info_get(const char *metric, struct metric_info *out)
{
	static const char jb[] = "_jailbreak";
	size_t ml = strlen(metric), jl = strlen(jb);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (!strcmp(known[i].name, metric)) {
			*out = known[i];
			return;
		}
		/* the same measure with the jailbreak string before every prompt */
		size_t kl = strlen(known[i].name);
		if (ml == kl + jl && !strncmp(metric, known[i].name, kl) && !strcmp(metric + kl, jb)) {
			*out = known[i];
			out->name = metric;
			snprintf(jb_labels[i], sizeof(jb_labels[i]), "%s with the jailbreak string",
				 known[i].label);
			out->label = jb_labels[i];
			return;
		}
	}
	out->name = metric;
	out->label = metric;
	out->unit = "value";
	out->better = MI_UNSTATED;
	out->interval = "95% interval as the evaluation reports it";
}

const char *metric_better_text(enum metric_better b)
{
	switch (b) {
	case MI_HIGHER: return "higher is better";
	case MI_LOWER: return "lower is better";
	case MI_UNSTATED: break;
	}
	return "direction not stated";
}
