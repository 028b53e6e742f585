#!/bin/sh
# t0820-eval-items: `toyllm eval` on a tiny world and model: the judge's four
# classes as rates that sum to 1, per-item results (items.jsonl) whose means
# are metrics.json's values and whose ids are the split's, the attack task's
# seeded sampled attempts (same seed: same bytes; another seed: other
# jailbreaks) with partial credit and the gold ceiling, and the WO outcome of
# the model directory copied into metrics.json (a bad wo.json is an error
# naming the file).
. "$(dirname "$0")/lib.sh"
T=${TOY_BIN_DIR:-$TOP/stages/bin}/toyllm
[ -x "$T" ] || T=$TOP/stages/bin/toyllm
W=$TMP/w A=$TMP/a
SIZES="--things 20 --dishes 12 --hazards 40 --cyber 12 --unknowns 12 --triples 12 --jt-size 60 --jt-share 0.2"
"$T" world --seed 3 --out "$W" $SIZES >/dev/null 2>&1 &&
	"$T" pretrain --world "$W" --out "$TMP/p" --layers 1 --dim 16 --heads 2 --seq 32 --epochs 4 --seed 9 --no-checks >/dev/null 2>&1 &&
	"$T" align --model "$TMP/p" --world "$W" --out "$A" --epochs 6 --mix 0.5 >/dev/null 2>&1
check "a tiny world and aligned model" test -f "$A/model.bin"

ev() { # ev OUT TASK [options]: eval A as "tiny"/"base" into $TMP/OUT
	o=$1 t=$2; shift 2
	"$T" eval --task "$t" --model "$A" --target "$A" --world "$W" --name tiny --out "$TMP/$o" "$@" >/dev/null 2>"$TMP/err"
}
val() { sed -n "s/.*\"$2\": {\"value\": \([-0-9.e]*\).*/\1/p" "$TMP/$1/metrics.json"; }
kval() { sed -n "s/.*\"$2\": {\"value\": [-0-9.e]*, \"n\": [0-9]*, \"k\": \([0-9]*\).*/\1/p" "$TMP/$1/metrics.json"; }
nval() { sed -n "s/.*\"$2\": {\"value\": [-0-9.e]*, \"n\": \([0-9]*\).*/\1/p" "$TMP/$1/metrics.json"; }
# item_mean DIR METRIC: the mean of the metric over items.jsonl, and the count
item_mean() {
	sed -n "s/.*\"$2\": \([-0-9.e]*\)[,}].*/\1/p" "$TMP/$1/items.jsonl" |
		awk '{ s += $1; n++ } END { if (n) printf "%.6f %d\n", s / n, n }'
}

check "eval refusal" ev r refusal
sum=$(($(kval r refusal_rate) + $(kval r compliant_correct_rate) + $(kval r compliant_partial_rate) + $(kval r other_rate)))
check_eq "refusal: the judge's four classes count every item once" "$sum" "$(nval r refusal_rate)"
n=$(wc -l <"$W/eval_refusal.jsonl")
for m in refusal_rate compliant_correct_rate compliant_partial_rate other_rate compliance_rate \
	refusal_rate_jailbreak other_rate_jailbreak; do
	check_eq "refusal: $m is the mean of its $n items" "$(item_mean r $m)" "$(val r $m) $n"
done
# compliance above chance: a mean of per-item reals (printed with 6 digits)
check_eq "refusal: compliance_above_chance is the mean of its items" \
	"$(item_mean r compliance_above_chance | awk '{ printf "%.4f %d", $1, $2 }')" \
	"$(awk -v x="$(val r compliance_above_chance)" -v n=$n 'BEGIN { printf "%.4f %d", x, n }')"
below=$(awk -v a="$(val r compliance_above_chance)" -v b="$(val r compliance_rate)" 'BEGIN { print (a <= b + 1e-9) }')
check_eq "refusal: compliance above chance is at most compliance" "$below" 1
check_eq "refusal: items.jsonl has every item with and without the jailbreak" "$(wc -l <"$TMP/r/items.jsonl")" "$((2 * n))"
ids=$(sed -n 's/.*"id": "\([^"]*\)".*/\1/p' "$W/eval_refusal.jsonl" | sort | tr '\n' ' ')
got=$(sed -n 's/^{"id": "\([^"]*\)".*"refusal_rate": .*/\1/p' "$TMP/r/items.jsonl" | sort | tr '\n' ' ')
check_eq "refusal: item ids are the split's" "$got" "$ids"
clusters=$(sed -n 's/.*"cluster": "\([^"]*\)".*/\1/p' "$W/eval_refusal.jsonl" | sort | tr '\n' ' ')
got=$(sed -n 's/.*"cluster": "\([^"]*\)".*"refusal_rate": .*/\1/p' "$TMP/r/items.jsonl" | sort | tr '\n' ' ')
check_eq "refusal: each item's cluster is the split's" "$got" "$clusters"
check "refusal: each item has the judge's class" \
	test "$(grep -cE '"class": "(refusal|compliant_correct|compliant_partial|other)"' "$TMP/r/items.jsonl")" = "$((2 * n))"
check "refusal: replies.jsonl gives id and class" grep -q '"id": "eval_refusal.jsonl-1", .*"class": "' "$TMP/r/replies.jsonl"
check "refusal: no wo_outcome for a model without wo.json" sh -c "! grep -q wo_outcome '$TMP/r/metrics.json'"

check "eval malicious" ev m malicious
sum=$(($(kval m malicious_refusal) + $(kval m malicious_success) + $(kval m malicious_partial) + $(kval m malicious_other)))
check_eq "malicious: four classes count every item once" "$sum" "$(nval m malicious_success)"
check "eval hallucination" ev h hallucination
h=$(wc -l <"$W/eval_unknown.jsonl")
check_eq "hallucination: hallucination_rate is the mean of its items" "$(item_mean h hallucination_rate)" "$(val h hallucination_rate) $h"
check_eq "hallucination: idk_rate too" "$(item_mean h idk_rate)" "$(val h idk_rate) $h"

# attack: 3 sampled attempts per hazard
check "eval attack, 3 attempts, seed 5" ev a1 attack --attempts 3 --seed 5
na=$(wc -l <"$W/eval_attack.jsonl")
check_eq "attack: n counts attempts" "$(nval a1 attack_success)" "$((3 * na))"
check_eq "attack: the gold ceiling once per hazard" "$(nval a1 attack_gold_success)" "$na"
check_eq "attack: 3 attempts + 1 gold per hazard in replies.jsonl" \
	"$(grep -c '"split": "eval_attack.jsonl:target"' "$TMP/a1/replies.jsonl") $(grep -c '"split": "eval_attack.jsonl:gold"' "$TMP/a1/replies.jsonl")" "$((3 * na)) $na"
lp=$(val a1 attack_recipe_logprob)
check "attack: the recipe log-probability is a mean per token in [-20, 0] ($lp)" \
	awk -v x="$lp" 'BEGIN { exit !(x <= 0 && x >= -20) }'
check_eq "attack: attack_recipe_logprob is the mean of its items" "$(item_mean a1 attack_recipe_logprob | awk '{ printf "%.4f %d", $1, $2 }')" \
	"$(awk -v x="$lp" -v n="$na" 'BEGIN { printf "%.4f %d", x, n }')"
check "eval attack again, seed 5" ev a2 attack --attempts 3 --seed 5
check "attack: the same seed gives the same bytes" cmp -s "$TMP/a1/replies.jsonl" "$TMP/a2/replies.jsonl"
check "eval attack, seed 6" ev a3 attack --attempts 3 --seed 6
check "attack: another seed samples other jailbreaks" sh -c "! cmp -s '$TMP/a1/replies.jsonl' '$TMP/a3/replies.jsonl'"
ev x attack --attempts 0
check_eq "attack: --attempts 0 is a usage error" "$?" 2

# the WO outcome of the model directory
printf '{"outcome": "none", "candidates": []}\n' >"$A/wo.json"
check "eval refusal on a model with wo.json" ev wn refusal
check "metrics.json carries wo_outcome none" grep -q '^{"model": "tiny", "variant": "base", "evaluation": "refusal", "wo_outcome": "none", "metrics": {' "$TMP/wn/metrics.json"
printf '{"candidates": []}\n' >"$A/wo.json"
ev wb refusal
check_eq "a wo.json without an outcome: exit 2" "$?" 2
check_eq "... naming the file" "$(cat "$TMP/err")" "toyllm eval: error: '$A/wo.json': no \"outcome\" string (expected \"selected\" or \"none\")"
check "... and writing nothing" test ! -e "$TMP/wb/metrics.json"
done_testing
