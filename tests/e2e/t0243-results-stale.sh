#!/bin/sh
# Regression: `study results` showed, for a stage whose latest execution
# failed or was skipped, the metrics of an earlier successful execution as if
# current. They are now listed apart as stale, with the run they come from
# and what the latest execution did (--json: "stale" and "run_id"). And the
# table follows the latest output: a stage changed and changed back (a cache
# hit of its first output) shows the first output's metrics, not those of
# the execution in between.
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
cat >"$TMP/s.yaml" <<EOF
study: stale
root: $TOP
data:
  corpus:
    run: [stages/bin/toystage, gen, --seed, "3", --n, "16", --out, "\${out}"]
models:
  small:
    run: [stages/bin/toystage, train, --data, "\${data.corpus}", --size, "\${params.size}", --out, "\${out}"]
    params: {size: 8}
  large:
    run: [stages/bin/toystage, train, --data, "\${data.corpus}", --size, "\${params.size}", --out, "\${out}"]
    params: {size: 32}
evaluations:
  accuracy:
    run: [stages/bin/toystage, score, --model, "\${model}", --task, "\${evaluation.name}", --out, "\${out}"]
  probe:
    run: [stages/bin/toystage, score, --model, "\${model}", --task, "\${evaluation.name}", --out, "\${out}"]
EOF
cp "$TMP/s.yaml" "$TMP/orig.yaml"
run() { "$STUDY" run "$TMP/s.yaml" --store "$S" --keep-going >/dev/null 2>&1; }
res() { "$STUDY" results --store "$S" "$@"; }
run
TABLE1="EVALUATION  MODEL  VARIANT  METRIC    VALUE    N  95% CI
accuracy    large  base     accuracy  0.505  100  [0.407, 0.603]
accuracy    large  base     shift     0.000    -  -
accuracy    small  base     accuracy  0.478  100  [0.380, 0.576]
accuracy    small  base     shift     0.000    -  -
probe       large  base     probe     0.505  100  [0.407, 0.603]
probe       large  base     shift     0.000    -  -
probe       small  base     probe     0.478  100  [0.380, 0.576]
probe       small  base     shift     0.000    -  -"
check_eq "run 1: every metric current" "$(res)" "$TABLE1"

# run 2: model/large fails (its evaluations are skipped), probe fails
sed -i 's/size: 32/size: x/' "$TMP/s.yaml"
sed -i '/^  probe:/{n;s/.*/    run: [stages\/bin\/toystage, fail, --code, "7", --model, "${model}"]/}' "$TMP/s.yaml"
run
check_eq "run 2: stale metrics apart, with their run and the latest execution" "$(res)" \
"EVALUATION  MODEL  VARIANT  METRIC    VALUE    N  95% CI
accuracy    small  base     accuracy  0.478  100  [0.380, 0.576]
accuracy    small  base     shift     0.000    -  -

stale: not produced by the stage's latest execution (see 'study why STAGE')
EVALUATION  MODEL  VARIANT  METRIC    VALUE    N  95% CI
accuracy    large  base     accuracy  0.505  100  [0.407, 0.603]
accuracy    large  base     shift     0.000    -  -
probe       large  base     probe     0.505  100  [0.407, 0.603]
probe       large  base     shift     0.000    -  -
probe       small  base     probe     0.478  100  [0.380, 0.576]
probe       small  base     shift     0.000    -  -
  eval/accuracy/large/base: from run 1; its latest execution, in run 2, was skipped: upstream 'model/large' failed
  eval/probe/large/base: from run 1; its latest execution, in run 2, was skipped: upstream 'model/large' failed
  eval/probe/small/base: from run 1; its latest execution, in run 2, failed: exit status 7"
res --json >"$TMP/j"
check "json: a stale row says so" \
	sh -c "tr -d ' \t\n' <'$TMP/j' | grep -q '\"stage\":\"eval/probe/small/base\",\"execution_id\":[0-9]*,\"run_id\":1,\"stale\":{\"latest_execution_id\":[0-9]*,\"latest_run\":2,\"latest_status\":\"failed\",\"latest_reason\":\"exitstatus7\"}'"
check "json: a current row has stale null" \
	sh -c "tr -d ' \t\n' <'$TMP/j' | grep -q '\"stage\":\"eval/accuracy/small/base\",\"execution_id\":[0-9]*,\"run_id\":1,\"stale\":null'"
check_eq "--run 2: only what run 2 used, nothing stale" "$(res --run 2)" \
"EVALUATION  MODEL  VARIANT  METRIC    VALUE    N  95% CI
accuracy    small  base     accuracy  0.478  100  [0.380, 0.576]
accuracy    small  base     shift     0.000    -  -"

# run 3: back to the first study: cache hits of run 1's outputs, all current
cp "$TMP/orig.yaml" "$TMP/s.yaml"
run
check_eq "run 3: changed back, current again" "$(res)" "$TABLE1"

# runs 4 and 5: small's size changed (its evaluations run, other numbers),
# then changed back (cache hits of run 1): the table shows run 1's numbers
sed -i 's/size: 8/size: 9/' "$TMP/s.yaml"
run
check "run 4: the new numbers" sh -c "'$STUDY' results --store '$S' | grep -q '^accuracy    small  base     accuracy  0.481  100  \[0.383, 0.579\]$'"
cp "$TMP/orig.yaml" "$TMP/s.yaml"
run
check_eq "run 5: changed back: the metrics of the output in use, not the latest recorded" \
	"$(res)" "$TABLE1"
check_eq "... the same as what run 5 used" "$(res --run 5)" "$TABLE1"

# every metric stale: said so
sed -i 's/stages\/bin\/toystage, score/stages\/bin\/toystage, fail, --code, "3"/' "$TMP/s.yaml"
run
check_eq "no current metrics: said so first" "$(res | sed -n '1,3p')" \
"no current metrics

stale: not produced by the stage's latest execution (see 'study why STAGE')"
done_testing
