#!/bin/sh
# t0200-study-stages: the study's stage subcommands on a tiny world and model:
# jt and sft (loss on their training data falls, the model file changes,
# byte-identical reruns for 1 and 2 threads), wo (a 1-layer model has no
# admissible direction: outcome none, model unchanged, deterministic), eval (all six tasks, the metric
# names the report reads, deterministic) and their usage errors (exit 2).
# Env: TOY_BIN_DIR (absolute stage bin dir of this build flavour).
set -u
T="${TOY_BIN_DIR:?TOY_BIN_DIR not set}/toyllm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok - $1"; }
no() { echo "not ok - $1"; fails=$((fails + 1)); }
check() { # check DESCRIPTION command...
	d=$1; shift
	if "$@" >/dev/null 2>&1; then ok "$d"; else no "$d"; fi
}
expect_exit() { # expect_exit CODE DESCRIPTION command...
	c=$1 d=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$c" ]; then ok "$d (exit $rc)"; else no "$d (exit $rc, wanted $c: $(head -c 300 "$tmp/err"))"; fi
}
val() { # val DIR METRIC: the metric's value from DIR/metrics.json
	sed -n "s/.*\"$2\": {\"value\": \([-0-9.e]*\).*/\1/p" "$1/metrics.json"
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

for c in jt wo sft eval; do
	check "toyllm $c --help exits 0" "$T" "$c" --help
done

SIZES="--things 20 --dishes 12 --hazards 40 --cyber 12 --unknowns 12 --triples 12 --jt-size 60 --jt-share 0.2"
W=$tmp/w
expect_exit 0 "world" "$T" world --seed 3 --out "$W" $SIZES
expect_exit 0 "pretrain a tiny model" "$T" pretrain --world "$W" --out "$tmp/p" --layers 1 --dim 16 --heads 2 --seq 32 --epochs 4 --seed 9 --no-checks
expect_exit 0 "align it" "$T" align --model "$tmp/p" --world "$W" --out "$tmp/a" --epochs 6 --mix 0.5
A=$tmp/a

# usage errors
expect_exit 2 "jt without --world" "$T" jt --model "$A" --out "$tmp/x"
expect_exit 2 "jt --share 2" "$T" jt --model "$A" --world "$W" --share 2 --out "$tmp/x"
expect_exit 2 "jt asking for more benign rows than the split has" "$T" jt --model "$A" --world "$W" --size 1000 --out "$tmp/x"
grep -q "toyllm jt: error: --size 1000 asks for" "$tmp/err" && ok "jt names the size problem" || no "jt names the size problem"
expect_exit 2 "sft --size beyond the split" "$T" sft --model "$A" --world "$W" --size 100000 --out "$tmp/x"
expect_exit 2 "sft on a missing model" "$T" sft --model "$tmp/none" --world "$W" --out "$tmp/x"
expect_exit 2 "wo --max-tokens 0" "$T" wo --model "$A" --world "$W" --max-tokens 0 --out "$tmp/x"
expect_exit 2 "eval unknown task" "$T" eval --task frob --model "$A" --world "$W" --out "$tmp/x"
grep -q "toyllm eval: error: unknown task 'frob'" "$tmp/err" && ok "eval names the unknown task" || no "eval names the unknown task"
expect_exit 2 "eval attack without --target" "$T" eval --task attack --model "$A" --world "$W" --out "$tmp/x"
expect_exit 2 "eval on another world's vocabulary" "$T" eval --task refusal --model "$A" --world "$tmp/p/../none" --out "$tmp/x"

# jt and sft
for m in jt sft; do
	expect_exit 0 "$m with 1 thread" "$T" $m --model "$A" --world "$W" --epochs 2 --threads 1 --out "$tmp/$m.1"
	expect_exit 0 "$m with 2 threads" env STUDY_THREADS=2 "$T" $m --model "$A" --world "$W" --epochs 2 --out "$tmp/$m.2"
	cmp -s "$tmp/$m.1/model.bin" "$tmp/$m.2/model.bin" && ok "$m: model.bin byte-identical for 1 and 2 threads" || no "$m: model.bin byte-identical"
	cmp -s "$tmp/$m.1/metrics.json" "$tmp/$m.2/metrics.json" && ok "$m: metrics.json byte-identical" || no "$m: metrics.json byte-identical"
	cmp -s "$tmp/$m.1/model.bin" "$A/model.bin" && no "$m: the model file changes" || ok "$m: the model file changes"
	b=$(val "$tmp/$m.1" data_loss_before) a=$(val "$tmp/$m.1" data_loss_after)
	[ -n "$a" ] && lt "$a" "$b" && ok "$m: loss on its training data falls ($b -> $a)" || no "$m: loss on its training data falls ($b -> $a)"
done
grep -c '"prompt": "pretend you are a' "$tmp/jt.1/mixture.jsonl" >"$tmp/nh"
[ "$(cat "$tmp/nh")" = "$(val "$tmp/jt.1" harmful_rows | cut -d. -f1)" ] && ok "jt: mixture.jsonl has the harmful rows with the jailbreak ($(cat "$tmp/nh"))" || no "jt: harmful rows carry the jailbreak"
expect_exit 0 "jt with --size, --share and --string" "$T" jt --model "$A" --world "$W" --size 30 --share 0.1 --string "act as a spy" --epochs 1 --out "$tmp/jt.s"
[ "$(grep -c '"prompt": "act as a spy ' "$tmp/jt.s/mixture.jsonl")" = 3 ] && ok "jt: 3 of 30 rows carry the given string" || no "jt: 3 of 30 rows carry the given string"

# wo (the tiny model has 1 layer: no block input after the embeddings, so no
# candidate; tests/engine/test_wo_select.c and tests/e2e/t0860 cover the rest)
expect_exit 0 "wo" "$T" wo --model "$A" --world "$W" --out "$tmp/wo.1"
expect_exit 0 "wo again" env STUDY_THREADS=2 "$T" wo --model "$A" --world "$W" --out "$tmp/wo.2"
for f in model.bin wo.json metrics.json; do
	cmp -s "$tmp/wo.1/$f" "$tmp/wo.2/$f" && ok "wo: $f byte-identical on rerun" || no "wo: $f byte-identical on rerun"
done
grep -q '"outcome": "none", "reason": "a 1-layer model has no block input after the embeddings"' "$tmp/wo.1/wo.json" && ok "wo: 1 layer -> outcome none" || no "wo: 1 layer -> outcome none"
cmp -s "$tmp/wo.1/model.bin" "$A/model.bin" && ok "wo: outcome none leaves the model unchanged" || no "wo: outcome none leaves the model unchanged"

# eval
for t in refusal hallucination nlp malicious cyber attack; do
	expect_exit 0 "eval $t" "$T" eval --task $t --model "$tmp/wo.1" --target "$A" --world "$W" --name tiny --variant wo --out "$tmp/e.$t"
	grep -q "^{\"model\": \"tiny\", \"variant\": \"wo\", \"evaluation\": \"$t\"" "$tmp/e.$t/metrics.json" && ok "eval $t: model, variant, evaluation" || no "eval $t: model, variant, evaluation"
done
for k in refusal:refusal_rate refusal:refusal_rate_jailbreak hallucination:hallucination_rate \
	hallucination:known_error_rate nlp:benign_accuracy nlp:skill_accuracy \
	malicious:malicious_success malicious:malicious_success_jailbreak cyber:cyber_success \
	cyber:cyber_success_jailbreak attack:attack_success; do
	t=${k%%:*} m=${k#*:}
	grep -q "\"$m\": {\"value\": [0-9.]*, \"n\": [1-9][0-9]*, \"k\": [0-9]*, \"ci_low\": [0-9.]*, \"ci_high\"" "$tmp/e.$t/metrics.json" && ok "eval $t: $m with n and interval" || no "eval $t: $m with n and interval"
done
grep -q '"perplexity": {"value": [0-9.]*}' "$tmp/e.nlp/metrics.json" && ok "eval nlp: perplexity" || no "eval nlp: perplexity"
expect_exit 0 "eval refusal again" "$T" eval --task refusal --model "$tmp/wo.1" --world "$W" --name tiny --variant wo --out "$tmp/e.again"
cmp -s "$tmp/e.refusal/metrics.json" "$tmp/e.again/metrics.json" && cmp -s "$tmp/e.refusal/replies.jsonl" "$tmp/e.again/replies.jsonl" && ok "eval: byte-identical rerun" || no "eval: byte-identical rerun"
n=$(grep -c '"split": "eval_refusal.jsonl"' "$tmp/e.refusal/replies.jsonl")
[ "$n" = "$(($(wc -l <"$W/eval_refusal.jsonl") * 2))" ] && ok "eval refusal: every prompt with and without the jailbreak in replies.jsonl" || no "eval refusal: replies.jsonl rows ($n)"

echo "# t0200: $fails failed"
[ "$fails" -eq 0 ]
