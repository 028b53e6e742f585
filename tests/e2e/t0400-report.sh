#!/bin/sh
# The report stage on hand-made evaluation outputs: every model x variant cell
# appears, intervals are printed, and each finding's verdict follows from the
# numbers (model a agrees with every paper claim, model b with none).
. "$(dirname "$0")/lib.sh"
REPORT=${TOY_BIN_DIR:-$TOP/stages/bin}/study-report
[ -x "$REPORT" ] || REPORT=$TOP/stages/bin/study-report
cd "$TMP" || exit 1

# eval MODEL VARIANT EVALUATION METRIC VALUE
mk() {
	d="$TMP/in/$1-$2-$3"
	mkdir -p "$d"
	printf '{"model": "%s", "variant": "%s", "evaluation": "%s", "metrics": {"%s": {"value": %s, "n": 100, "ci_low": %s, "ci_high": %s}}}\n' \
		"$1" "$2" "$3" "$4" "$5" "$5" "$5" >"$d/metrics.json"
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
	check "finding '$f' is mixed (1 of 2 models)" sh -c "grep -F '$f' out/report.md | grep -qF '**mixed** | 1/2'"
done
check "findings carry the deltas" grep -qF 'mean change in refusal rate vs base: jt -0.365, wo -0.420' out/report.md
check "report.json lists the findings with verdicts" grep -q '"verdict": "mixed"' out/report.json
n=$(grep -c '"variant":' out/report.json)
check_eq "report.json has every cell (2 models x 5 variants x 4 metrics)" "$n" 40

mkdir -p out2
"$REPORT" --out out2 $(echo $dirs | tr ' ' '\n' | grep '^.*/a-' | tr '\n' ' ')
check "with model a alone every finding is reproduced" sh -c "[ \$(grep -c '\*\*reproduced\*\*' out2/report.md) = 5 ]"
"$REPORT" --out out2 $(echo $dirs | tr ' ' '\n' | grep '/b-' | tr '\n' ' ')
check "with model b alone no finding is reproduced" sh -c "[ \$(grep -c '\*\*not reproduced\*\*' out2/report.md) = 5 ]"
"$REPORT" --out out2 $dirs
cmp -s out/report.md out2/report.md
check_eq "the same inputs give byte-identical reports" "$?" 0

mkdir -p bad && echo '{"metrics": {}}' >bad/metrics.json
"$REPORT" --out out2 bad 2>err.txt
check_eq "an output without model/variant/evaluation is rejected with exit 2" "$?" 2
check "... naming the file" grep -q "bad/metrics.json' is not an evaluation output" err.txt
done_testing
