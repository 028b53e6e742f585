#!/bin/sh
# `study results --compare RUN_A RUN_B`: the metrics of two runs side by
# side with intervals and the difference (B - A), metrics only one run has
# marked; runs as ids or latest / latest~N; --json; bad references and
# usage with exact messages.
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
cat >"$TMP/c.yaml" <<EOF
study: compare
root: $TOP
data:
  corpus:
    run: [stages/bin/toystage, gen, --seed, "7", --n, "32", --out, "\${out}"]
models:
  m:
    run: [stages/bin/toystage, train, --data, "\${data.corpus}", --size, "8", --out, "\${out}"]
methods:
  halve:
    run: [stages/bin/toystage, transform, --model, "\${model}", --factor, "\${params.factor}", --out, "\${out}"]
    params: {factor: 0.5}
  flip:
    run: [stages/bin/toystage, transform, --model, "\${model}", --factor, "-1", --out, "\${out}"]
evaluations:
  accuracy:
    run: [stages/bin/toystage, score, --model, "\${model}", --task, "\${evaluation.name}", --out, "\${out}"]
EOF
"$STUDY" run "$TMP/c.yaml" --store "$S" >/dev/null 2>&1
# run 2: halve's factor changed, flip removed, an evaluation added
sed -i 's/factor: 0.5/factor: 0.25/; /^  flip:/,/^    run:.*-1/d' "$TMP/c.yaml"
cat >>"$TMP/c.yaml" <<EOF
  drift:
    run: [stages/bin/toystage, score, --model, "\${model}", --task, "\${evaluation.name}", --base, "\${model.base}", --out, "\${out}"]
EOF
"$STUDY" run "$TMP/c.yaml" --store "$S" >/dev/null 2>&1
res() { "$STUDY" results --store "$S" "$@"; }

check_eq "compare: values, intervals, difference, metrics of one run marked" \
	"$(res --compare 1 2)" \
"EVALUATION  MODEL  VARIANT  METRIC    RUN 1  95% CI          RUN 2  95% CI          RUN 2 - RUN 1
accuracy    m      base     accuracy  0.510  [0.412, 0.608]  0.510  [0.412, 0.608]          0.000
accuracy    m      base     shift     0.000  -               0.000  -                       0.000
accuracy    m      flip     accuracy  0.000  [0.000, 0.000]      -  -               only in run 1
accuracy    m      flip     shift     0.000  -                   -  -               only in run 1
accuracy    m      halve    accuracy  0.255  [0.170, 0.341]  0.128  [0.062, 0.193]         -0.128
accuracy    m      halve    shift     0.000  -               0.000  -                       0.000
drift       m      base     drift         -  -               0.510  [0.412, 0.608]  only in run 2
drift       m      base     shift         -  -               0.000  -               only in run 2
drift       m      halve    drift         -  -               0.128  [0.062, 0.193]  only in run 2
drift       m      halve    shift         -  -               0.383  -               only in run 2"
check_eq "latest~1 latest is 1 2" "$(res --compare latest~1 latest)" "$(res --compare 1 2)"
check_eq "the other way round: the difference changes sign" \
	"$(res --compare 2 1 | sed -n '1p; 6p')" \
"EVALUATION  MODEL  VARIANT  METRIC    RUN 2  95% CI          RUN 1  95% CI          RUN 1 - RUN 2
accuracy    m      halve    accuracy  0.128  [0.062, 0.193]  0.255  [0.170, 0.341]         +0.128"
check_eq "a run with itself: no difference" \
	"$(res --compare 2 latest | awk 'NR > 1 {print $NF}' | sort -u)" "0.000"

res --compare 1 2 --json >"$TMP/j"
check "json: the runs" sh -c "tr -d ' \t\n' <'$TMP/j' | grep -q '^{\"run_a\":1,\"run_b\":2,\"metrics\":\['"
check "json: a changed metric with both sides and the difference" \
	sh -c "tr -d ' \t\n' <'$TMP/j' | grep -q '\"stage\":\"eval/accuracy/m/halve\",\"evaluation\":\"accuracy\",\"model\":\"m\",\"variant\":\"halve\",\"metric\":\"accuracy\",\"a\":{\"value\":0.255[0-9]*,\"n\":100,\"ci_low\":0.169[0-9]*,\"ci_high\":0.34[0-9]*,\"execution_id\":[0-9]*},\"b\":{\"value\":0.127[0-9]*,[^}]*},\"difference\":-0.127[0-9]*}'"
check "json: a metric only in run 1 has b null" \
	sh -c "tr -d ' \t\n' <'$TMP/j' | grep -q '\"variant\":\"flip\",\"metric\":\"accuracy\",\"a\":{[^}]*},\"b\":null,\"difference\":null'"

# bad references and usage: exact messages, exit 2
bad() { # bad WHAT WANT ARGS...
	what=$1 want=$2
	shift 2
	res "$@" >/dev/null 2>"$TMP/e"
	rc=$?
	check_eq "$what: exit 2" "$rc" 2
	check_eq "$what: the message" "$(head -1 "$TMP/e")" "$want"
}
bad "one run only" "study: error: --compare needs two runs: study results --compare RUN_A RUN_B" --compare 1
bad "three runs" "study: error: unexpected argument '3'" --compare 1 2 3
bad "with --run" "study: error: --compare and --run cannot be combined" --compare 1 2 --run 1
bad "not a run" "study: error: 'x' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')" --compare x 2
bad "run 0" "study: error: '0' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')" --compare 1 0
bad "latest~ without N" "study: error: 'latest~' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')" --compare latest~ 1
bad "latest~-1" "study: error: 'latest~-1' is not a run (a run id, 'latest' or 'latest~N'; see 'study log')" --compare latest~-1 1
bad "no such run" "study: error: no run 9 recorded" --compare 9 1
bad "before the first run" "study: error: no run latest~2: 2 runs recorded" --compare latest~2 latest
done_testing
