#!/bin/sh
# The report stage on evaluations replicated over seeds (study-report
# --seeds, a study's ${evaluations.seeds}): a cell is the mean over seeds
# with the between-seed standard deviation, min and max, each seed keeps its
# row and its numbers in report.json, the findings pool the seeds; without
# seeds the output is what it was; two outputs for one cell and one seed, a
# cell with and without a seed, or a --seeds list of the wrong length are
# errors, never a silent overwrite.
. "$(dirname "$0")/lib.sh"
REPORT=${TOY_BIN_DIR:-$TOP/stages/bin}/study-report
[ -x "$REPORT" ] || REPORT=$TOP/stages/bin/study-report
cd "$TMP" || exit 1

# mk NAME MODEL VARIANT VALUE: an evaluation output with one refusal_rate
mk() {
	mkdir -p "in/$1"
	printf '{"model": "%s", "variant": "%s", "evaluation": "refusal", "metrics": {"refusal_rate": {"value": %s, "n": 50, "ci_low": %s, "ci_high": %s}}}\n' \
		"$2" "$3" "$4" "$4" "$4" >"in/$1/metrics.json"
}
# seeds 1 and 2: jt and wo cut refusal on average, though seed 1's jt does not
mk b1 a base 0.80; mk j1 a jt 0.85; mk w1 a wo 0.60
mk b2 a base 0.90; mk j2 a jt 0.50; mk w2 a wo 0.40
dirs="in/b1 in/j1 in/w1 in/b2 in/j2 in/w2"
mkdir -p out
"$REPORT" --out out --seeds 1,1,1,2,2,2 $dirs 2>err
check_eq "a report over two seeds succeeds" "$?" 0
check_eq "a cell is the mean ± the standard deviation between seeds" \
	"$(grep '^| a |' out/report.md)" "| a | 0.850 ± 0.071 | 0.675 ± 0.247 | 0.500 ± 0.141 |"
check_eq "each seed has its row, with its own interval" \
	"$(grep '^| a · seed 1 |' out/report.md)" \
	"| a · seed 1 | 0.800 [0.800, 0.800] | 0.850 [0.850, 0.850] | 0.600 [0.600, 0.600] |"
check "report.json lists the seeds" grep -q '"seeds": \["1", "2"\]' out/report.json
check "report.json gives a cell's seeds, sd, min, max" \
	grep -q '"variant": "jt", "value": 0.675000, "seeds": 2, "sd": 0.247487, "min": 0.500000, "max": 0.850000' out/report.json
check "... and every seed's value with its n and interval" \
	grep -q '{"seed": "1", "value": 0.850000, "n": 50, "ci_low": 0.850000, "ci_high": 0.850000}' out/report.json
check "the findings pool the seeds and give their spread (wo: -0.2 and -0.5)" \
	grep -qF '"label": "wo vs base: refusal", "metric": "refusal_rate", "a": "wo", "b": "base", "kind": "lowers", "delta": 0.05, "verdict": "inconclusive", "cells": 2, "effect": -0.350000, "seeds": 2, "seed_sd": 0.212132, "seed_min": -0.500000, "seed_max": -0.200000' out/report.json

# no seeds: byte for byte what an empty --seeds list gives, and no replicate section
mkdir -p one none
"$REPORT" --out one in/b1 in/j1 in/w1
check_eq "a report without seeds succeeds" "$?" 0
"$REPORT" --out none --seeds ,, in/b1 in/j1 in/w1
check_eq "... as with a --seeds list of empty items" "$?" 0
check "... with byte-identical files" sh -c "cmp -s one/report.md none/report.md && cmp -s one/report.json none/report.json && cmp -s one/refusal_rate.svg none/refusal_rate.svg"
check "... and no replicate rows or fields" sh -c "! grep -qE '· seed|\"seeds\"|per_seed|Replicated over' one/report.md one/report.json"
check_eq "... the cell keeps its interval" "$(grep '^| a |' one/report.md)" \
	"| a | 0.800 [0.800, 0.800] | 0.850 [0.850, 0.850] | 0.600 [0.600, 0.600] |"

"$REPORT" --out out $dirs 2>err
check_eq "replicates without --seeds are rejected with exit 2" "$?" 2
check_eq "... saying which cell" "$(cat err)" "study-report: error: two evaluation outputs give metric 'refusal_rate' of model 'a', variant 'base'; replicates need their seeds (--seeds)"
"$REPORT" --out out --seeds 1,1,1,1,1,1 $dirs 2>err
check_eq "two outputs for one cell and one seed are rejected" "$?" 2
check_eq "... naming the seed" "$(cat err)" "study-report: error: two evaluation outputs give metric 'refusal_rate' of model 'a', variant 'base', seed 1"
"$REPORT" --out out --seeds 1,1,1,,, $dirs 2>err
check_eq "a cell with and without a seed is rejected" "$?" 2
check_eq "... saying so" "$(cat err)" "study-report: error: metric 'refusal_rate' of model 'a', variant 'base' comes both with and without a seed"
"$REPORT" --out out --seeds 1,2 $dirs 2>err
check_eq "a --seeds list of the wrong length is rejected" "$?" 2
check_eq "... with both counts" "$(cat err)" "study-report: error: --seeds lists 2 items for 6 evaluation directories"
done_testing
