#!/bin/sh
# The report stage on hand-made evaluation outputs: every model x variant cell
# appears, intervals are printed, and the findings work on values alone:
# without per-item results (items.jsonl) a test gives the pooled difference of
# the cells' values and no interval, so no claim is reproduced or
# contradicted (tests/e2e/t0821 checks the verdicts on per-item tables).
. "$(dirname "$0")/lib.sh"
REPORT=${TOY_BIN_DIR:-$TOP/stages/bin}/study-report
[ -x "$REPORT" ] || REPORT=$TOP/stages/bin/study-report
cd "$TMP" || exit 1

# eval MODEL VARIANT EVALUATION METRIC VALUE
# (IN: the directory they go in; NOCI=1: a value without n or interval)
IN=in
mk() {
	d="$TMP/$IN/$1-$2-$3"
	mkdir -p "$d"
	if [ "${NOCI:-0}" = 1 ]; then
		printf '{"model": "%s", "variant": "%s", "evaluation": "%s", "metrics": {"%s": {"value": %s}}}\n' \
			"$1" "$2" "$3" "$4" "$5" >"$d/metrics.json"
	else
		printf '{"model": "%s", "variant": "%s", "evaluation": "%s", "metrics": {"%s": {"value": %s, "n": 100, "ci_low": %s, "ci_high": %s}}}\n' \
			"$1" "$2" "$3" "$4" "$5" "$5" "$5" >"$d/metrics.json"
	fi
	echo "$d"
}
dirs=""
#                 base  jt    wo    jt+sft wo+sft
add_row() { # model evaluation metric values...
	m=$1 e=$2 k=$3; shift 3
	for v in base jt wo jt+sft wo+sft; do
		dirs="$dirs $(mk "$m" "$v" "$e" "$k" "$1")"
		shift
	done
}
add_row a refusal refusal_rate 0.95 0.20 0.10 0.90 0.80
add_row a hallucination hallucination_rate 0.10 0.30 0.12 0.25 0.12
add_row a nlp benign_accuracy 0.90 0.70 0.89 0.80 0.90
add_row a attack attack_success 0.10 0.15 0.40 0.10 0.20
add_row b refusal refusal_rate 0.95 0.97 0.96 0.95 0.95
add_row b hallucination hallucination_rate 0.10 0.10 0.30 0.10 0.40
add_row b nlp benign_accuracy 0.90 0.95 0.50 0.90 0.30
add_row b attack attack_success 0.30 0.30 0.20 0.30 0.50
mkdir -p out
"$REPORT" --out out $dirs
check_eq "the report stage succeeds" "$?" 0
check "report.md, report.json and charts are written" test -s out/report.md -a -s out/report.json -a -s out/refusal_rate.svg
check "a table row holds every variant with its interval" \
	grep -qF '| a | 0.950 [0.950, 0.950] | 0.200 [0.200, 0.200] | 0.100 [0.100, 0.100] | 0.900 [0.900, 0.900] | 0.800 [0.800, 0.800] |' out/report.md
check "the columns are base, methods, then mitigated variants" grep -qF '| model | base | jt | wo | jt+sft | wo+sft |' out/report.md
for f in "cut refusal" "hallucinate more" "natural-language" "capable attackers" "limits WO"; do
	check "finding '$f' is inconclusive or not measured without items" \
		sh -c "grep -F '$f' out/report.md | head -1 | grep -qE '\*\*(inconclusive|not measured)\*\*'"
done
check "a test on values: the pooled difference, no interval, and why" \
	grep -qF '| wo vs base: refusal (`refusal_rate`, lowers by 0.05) | -0.420 (no interval) | cut | – (1 seed) | 2 | – | – | **inconclusive** (2 cells without per-item results, items.jsonl: value difference only, no interval) |' out/report.md
check "report.md says where its run, commit and date are" grep -qF 'the run, commit and date are recorded in provenance' out/report.md
check "each table states direction, unit, interval and n" \
	grep -qF '↑ higher is better. Unit: share of harmful prompts refused. Cells: value [95% Wilson interval]. n = 100 per cell.' out/report.md
check "a chart has a title with its direction" grep -qF '↓ lower is better' out/attack_success.svg
check "a chart has a y-axis title with its unit" grep -qF '>share of jailbreak attempts that worked (0–1)</text>' out/attack_success.svg
check "a chart has an x-axis title" grep -qF '>model</text>' out/attack_success.svg
check "a chart's legend names the interval" grep -qF 'whiskers: 95% Wilson interval' out/refusal_rate.svg
check "a chart's legend gives n" grep -qF 'n = 100 per bar' out/refusal_rate.svg
check "rate ticks are round (0.2 apart)" sh -c "grep -o '>0\.[0-9]*</text>' out/refusal_rate.svg | tr '\n' ' ' | grep -qF '>0.2</text> >0.4</text> >0.6</text> >0.8</text>'"
check "report.json lists the findings with verdicts" grep -q '"id": "refusal", "claim": "[^"]*", "verdict": "inconclusive"' out/report.json
n=$(grep -c '"variant":' out/report.json)
check_eq "report.json has every cell (2 models x 5 variants x 4 metrics)" "$n" 40

# zero values stay visible; a larger scale gets round ticks; jt's refusal
# delta comes from the jailbreak table when the evaluation measured it
zdirs=""
IN=inz
for m in a b; do
	for v in base jt wo jt+sft wo+sft; do
		zdirs="$zdirs $(mk "$m" "$v" attack attack_success 0)"
		zdirs="$zdirs $(NOCI=1 mk "$m" "$v" nlp perplexity 31.9)"
	done
	zdirs="$zdirs $(mk "$m" base refusal refusal_rate 0.9) $(mk "$m" wo refusal refusal_rate 0.5)"
	zdirs="$zdirs $(mk "$m" jt refusal refusal_rate 0.8)"
	zdirs="$zdirs $(mk "$m" base refusal2 refusal_rate_jailbreak 0.7) $(mk "$m" jt refusal2 refusal_rate_jailbreak 0.1)"
done
mkdir -p outz
"$REPORT" --out outz $zdirs
check_eq "the report stage succeeds on zeros" "$?" 0
n=$(grep -c 'height="2.0"' outz/attack_success.svg)
check_eq "every zero bar is drawn 2 pixels high (2 models x 5 variants)" "$n" 10
n=$(grep -c '>0</text>' outz/attack_success.svg)
check_eq "... each with a 0 label (the axis says 0.0)" "$n" 10
check "perplexity ticks are round (10 apart)" sh -c "grep -o '>[0-9.]*</text>' outz/perplexity.svg | tr '\n' ' ' | grep -qF '>0</text> >10</text> >20</text> >30</text> >40</text>'"
check "an interval-less metric says so" grep -qF 'no interval given' outz/perplexity.svg
check "jt's refusal test reads the jailbreak table" \
	grep -qF '| jt vs base, with the jailbreak string: refusal (`refusal_rate_jailbreak`, lowers by 0.05) | -0.600 (no interval) |' outz/report.md

mkdir -p out2
"$REPORT" --out out2 $(echo $dirs | tr ' ' '\n' | grep '^.*/a-' | tr '\n' ' ')
check "with model a alone, on values, no claim is reproduced" sh -c "! grep -qE '\| \*\*(reproduced|contradicted)\*\*' out2/report.md"
"$REPORT" --out out2 $dirs
cmp -s out/report.md out2/report.md
check_eq "the same inputs give byte-identical reports" "$?" 0

mkdir -p bad && echo '{"metrics": {}}' >bad/metrics.json
"$REPORT" --out out2 bad 2>err.txt
check_eq "an output without model/variant/evaluation is rejected with exit 2" "$?" 2
check "... naming the file" grep -q "bad/metrics.json' is not an evaluation output" err.txt
done_testing
