#!/bin/sh
# `study why` around failures and the cache: a run after a failure with the
# same cache key (a retry) or a changed one (the failure named), a failure
# before the key was computed (and the run after it), a stage skipped or
# not started, a stage interrupted, and a rerun whose cache entry was lost (same output or, for a
# nondeterministic stage, a different one). Exact outputs, times as TIME.
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
why() { "$STUDY" why "$@" --store "$S" | sed 's/([0-9T:-]*Z)/(TIME)/g'; }
q() { sqlite3 "$S/provenance.db" "$1"; }
mkdir "$TMP/ext"
cat >"$TMP/s.yaml" <<EOF
study: failures
root: $TOP
data:
  corpus:
    run: [stages/bin/toystage, gen, --seed, "1", --n, "16", --out, "\${out}"]
  clock:
    run: [stages/bin/toystage, nondet, --out, "\${out}"]
models:
  m:
    run: [stages/bin/toystage, train, --data, "\${data.corpus}", --size, "\${params.size}", --out, "\${out}"]
    params: {size: 4}
evaluations:
  # reads a model outside the study root: not in the cache key
  ext:
    run: [stages/bin/toystage, score, --model, "$TMP/ext", --task, t, --out, "\${out}"]
  acc:
    run: [stages/bin/toystage, score, --model, "\${model}", --task, acc, --out, "\${out}"]
EOF
run() { "$STUDY" run "$TMP/s.yaml" --store "$S" "$@" >/dev/null 2>&1; }

# 1. first run: the external model is missing, the evaluation fails
run --keep-going
check_eq "a first execution that failed" "$(why eval/ext/m/base)" \
	"stage eval/ext/m/base ran in run 1 (TIME) and failed (exit status 1) because no earlier execution of it is recorded"

# 2. the same cache key after a failure: a retry
mkdir -p "$TMP/ext"
echo "0.5 0.5 0.5 0.5" >"$TMP/ext/model.txt"
run
check_eq "same key after a failure: a retry, with the failure" "$(why eval/ext/m/base)" \
	"stage eval/ext/m/base ran in run 2 (TIME) because its previous execution, in run 1, had the same cache key and failed (exit status 1)"

# 3. a failure, then a change: the failure is named with the change
sed -i 's/params: {size: 4}/params: {size: x}/' "$TMP/s.yaml"
run --keep-going
check_eq "a param that makes the stage fail" "$(why model/m)" \
"stage model/m ran in run 3 (TIME) and failed (exit status 2) because its cache key changed since run 2:
  params.size: 4 -> \"x\""
check_eq "downstream of the failure: skipped" "$(why eval/acc/m/base)" \
	"stage eval/acc/m/base was skipped in run 3 (TIME): upstream 'model/m' failed"
sed -i 's/params: {size: x}/params: {size: 5}/' "$TMP/s.yaml"
run
check_eq "changed since a failed execution: the failure is named" "$(why model/m)" \
"stage model/m ran in run 4 (TIME) because its cache key changed since run 3, where it failed (exit status 2):
  params.size: \"x\" -> 5"

# 4. the cache entry of a stage was lost: same key, same output
key=$(q "SELECT cache_key FROM executions WHERE stage_id = 'model/m' AND run_id = 4")
out=$(q "SELECT substr(output_digest, 1, 12) FROM executions WHERE stage_id = 'model/m' AND run_id = 4")
rm "$S/cache/$(echo "$key" | cut -c1-2)/$key"
run
check_eq "lost cache entry: same key, same output" "$(why model/m)" \
"stage model/m ran in run 5 (TIME) although its cache key is the same as in run 4: the cached output sha256:$out could not be used (its cache entry or stored output was missing or damaged)
  it produced the same output again"

# 5. ... and for a nondeterministic stage, a different output
key=$(q "SELECT cache_key FROM executions WHERE stage_id = 'data/clock' AND status = 'ran'")
old=$(q "SELECT substr(output_digest, 1, 12) FROM executions WHERE stage_id = 'data/clock' AND run_id = 1")
rm "$S/cache/$(echo "$key" | cut -c1-2)/$key"
sleep 1 # nondet writes the time in seconds
run
new=$(q "SELECT substr(output_digest, 1, 12) FROM executions WHERE stage_id = 'data/clock' AND run_id = 6")
check_eq "lost cache entry of a nondeterministic stage: a different output" "$(why data/clock)" \
"stage data/clock ran in run 6 (TIME) although its cache key is the same as in run 5: the cached output sha256:$old could not be used (its cache entry or stored output was missing or damaged)
  it produced a different output: sha256:$new"

# 6. a stage that could not start has no cache key to explain
sed -i 's|stages/bin/toystage, nondet|stages/bin/missing, nondet|' "$TMP/s.yaml"
run --keep-going
check_eq "failed before its key was computed" "$(why data/clock)" \
	"stage data/clock failed in run 7 (TIME) before its cache key was computed: command not found: '$TOP/stages/bin/missing'"
"$STUDY" why data/clock --store "$S" --json >"$TMP/j"
check "json: verdict no-record, no cache key" \
	sh -c "tr -d ' \t\n' <'$TMP/j' | grep -q '\"cache_key\":null,\"verdict\":\"no-record\"'"

sed -i 's|stages/bin/missing, nondet|stages/bin/toystage, nondet|' "$TMP/s.yaml"
key=$(q "SELECT cache_key FROM executions WHERE stage_id = 'data/clock' AND run_id = 6")
rm "$S/cache/$(echo "$key" | cut -c1-2)/$key"
run
check_eq "after an execution without a key: nothing to compare with" "$(why data/clock)" \
	"stage data/clock ran in run 8 (TIME); its previous execution, in run 7, recorded no cache key to compare with: it failed (command not found: '$TOP/stages/bin/missing')"

# 7. a stage the run never started (-j 1, the first failure stops it)
cat >"$TMP/ns.yaml" <<EOF
study: not-started
root: $TOP
data:
  a: {run: [stages/bin/toystage, fail, --code, "7"]}
  b: {run: [stages/bin/toystage, gen, --seed, "1", --n, "4", --out, "\${out}"]}
EOF
"$STUDY" run "$TMP/ns.yaml" --store "$S" -j 1 >/dev/null 2>&1
check_eq "not started: the reason" "$(why data/b)" \
	"stage data/b was not started in run 9 (TIME): the run stopped after the first failure (use --keep-going to run the stages that do not depend on it)"

# 8. a stage the run interrupted
cat >"$TMP/slow.yaml" <<EOF
study: slow
root: $TOP
data:
  slow: {run: [stages/bin/toystage, sleep, --seconds, "30", --out, "\${out}"]}
EOF
"$STUDY" run "$TMP/slow.yaml" --store "$S" >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 100 ] && ! ls "$S/work/" 2>/dev/null | grep -q .; do sleep 0.1; i=$((i + 1)); done
sleep 0.2
kill -INT $pid
wait $pid
check_eq "interrupted: the signal, no earlier execution" "$(why data/slow)" \
	"stage data/slow ran in run 10 (TIME) and was interrupted (the run received SIGINT (killed by signal 15 (Terminated))) because no earlier execution of it is recorded"
done_testing
