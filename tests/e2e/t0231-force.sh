#!/bin/sh
# End to end: `run --force PATTERN` reruns cached stages and records them as
# forced (reason 'forced', in the database, `show RUN` and `show STAGE`);
# --force-downstream reruns what depends on them too; a forced rerun whose
# output differs is reported as not deterministic; a forced rerun that fails
# keeps the cached output (the cache entry is replaced only after success).
. "$(dirname "$0")/lib.sh"
cd "$TOP"
S="$TMP/store"
F="$TMP/f.yaml"
cat >"$F" <<YAML
study: forcing
root: $TOP
data:
  corpus: {run: [stages/bin/toystage, gen, --seed, "1", --n, "8", --out, "\${out}"]}
  nd: {run: [stages/bin/toystage, nondet, --out, "\${out}"]}
  ctl:
    run: [sh, -c, 'if [ -e "\$0" ]; then echo forced to fail >&2; exit 4; fi; echo stable >"\$1/result.txt"',
          "$TMP/failnow", "\${out}"]
models:
  m: {run: [stages/bin/toystage, train, --data, "\${data.corpus}", --size, "4", --out, "\${out}"]}
methods:
  halve: {run: [stages/bin/toystage, transform, --model, "\${model}", --factor, "0.5", --out, "\${out}"]}
evaluations:
  acc: {run: [stages/bin/toystage, score, --model, "\${model}", --task, acc, --out, "\${out}"]}
YAML
rows() { # rows RUN: stage|status|reason of each execution of the run, by stage (the
	# order of starts follows measured durations: critical path first)
	sqlite3 "$S/provenance.db" "SELECT stage_id || '|' || status || '|' || coalesce(reason, '')
		FROM executions WHERE run_id = $1 ORDER BY stage_id, id"
}
"$STUDY" run "$F" --store "$S" -j 1 >"$TMP/out" 2>"$TMP/err"
check_eq "first run" "$(cat "$TMP/out")" "run 1: ran 7, cached 0, failed 0"

"$STUDY" run "$F" --store "$S" -j 1 --force model/m >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "--force reruns the cached stage only" "$rc:$(cat "$TMP/out")" \
	"0:run 2: ran 1, cached 6, failed 0"
check_eq "... recorded as forced, the rest as cache hits" "$(rows 2)" \
"data/corpus|cached|
data/ctl|cached|
data/nd|cached|
eval/acc/m/base|cached|
eval/acc/m/halve|cached|
method/halve/m|cached|
model/m|ran|forced"
check "show STAGE says it was forced" sh -c "'$STUDY' show model/m --store '$S' | grep -qx 'status       ran: forced'"
check "show RUN shows the reason" sh -c "'$STUDY' show 2 --store '$S' | grep -q 'model/m .* ran .*forced$'"
check "a deterministic stage: no warning" sh -c "! grep -q 'output changed' '$TMP/err'"

"$STUDY" run "$F" --store "$S" -j 1 --force 'model/*' --force-downstream --json >"$TMP/out" 2>"$TMP/err"
check_eq "--force-downstream reruns the stage and everything after it" "$(cat "$TMP/out")" \
	'{"run":3,"status":"ok","ran":4,"cached":3,"failed":0,"interrupted":0,"skipped":0,"not_started":0,"not_selected":0,"forced":4,"retried":0,"stages":7}'
check_eq "... each recorded as forced" "$(rows 3 | grep '|ran|')" \
"eval/acc/m/base|ran|forced
eval/acc/m/halve|ran|forced
method/halve/m|ran|forced
model/m|ran|forced"

"$STUDY" run "$F" --store "$S" 'eval/acc/m/base' --force model/m --force-downstream >"$TMP/out" 2>"$TMP/err"
check_eq "with a target, downstream forcing stays inside the selection" "$(cat "$TMP/out")" \
	"run 4: ran 2, cached 1, failed 0, not selected 4"

"$STUDY" run "$F" --store "$S" --force 'model/*' -n >"$TMP/out" 2>"$TMP/err"
check_eq "a dry run with --force" "$(cat "$TMP/out")" "dry run: would run 1, cached 6, failed 0"
check "... says why" grep -q 'would run model/m: forced' "$TMP/err"

# a stage that is not deterministic: the forced rerun says so
old=$(sqlite3 "$S/provenance.db" "SELECT output_digest FROM executions WHERE stage_id = 'data/nd' AND status = 'ran'")
"$STUDY" run "$F" --store "$S" --force data/nd >"$TMP/out" 2>"$TMP/err"
new=$(sqlite3 "$S/provenance.db" "SELECT output_digest FROM executions WHERE run_id = 5 AND stage_id = 'data/nd'")
check "the forced rerun produced another output" sh -c "[ -n '$new' ] && [ '$new' != '$old' ]"
check_eq "a warning says the output changed" "$(grep 'warning' "$TMP/err")" \
	"study: warning: data/nd: output changed: the forced rerun produced sha256:$(echo "$new" | cut -c1-12), the cached output was sha256:$(echo "$old" | cut -c1-12); the stage is not deterministic (or depends on something outside its cache key)"
check_eq "... and so does its record" "$(rows 5 | grep data/nd)" \
	"data/nd|ran|forced, output changed from sha256:$(echo "$old" | cut -c1-12) to sha256:$(echo "$new" | cut -c1-12): the stage is not deterministic"
check "the new output replaced the cache entry" sh -c \
	"'$STUDY' status '$F' --store '$S' data/nd | grep -q 'up to date  data/nd .* $(echo "$new" | cut -c1-12)'"

# a forced rerun that fails keeps the cached output
ctl=$(sqlite3 "$S/provenance.db" "SELECT output_digest FROM executions WHERE stage_id = 'data/ctl' AND status = 'ran'")
: >"$TMP/failnow"
"$STUDY" run "$F" --store "$S" --force data/ctl >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "a forced rerun that fails exits 1" "$rc:$(cat "$TMP/out")" "1:run 6: ran 0, cached 6, failed 1"
check_eq "... recorded as a forced failure" "$(rows 6 | grep data/ctl)" "data/ctl|failed|exit status 4; forced"
check "the cached output is still in the store" [ -f "$S/out/$ctl/result.txt" ]
check "status: still up to date with the old output" sh -c \
	"'$STUDY' status '$F' --store '$S' data/ctl | grep -q 'up to date  data/ctl .* $(echo "$ctl" | cut -c1-12)'"
rm -f "$TMP/failnow"
"$STUDY" run "$F" --store "$S" >"$TMP/out" 2>"$TMP/err"
check_eq "the next run reuses it: nothing runs" "$(cat "$TMP/out")" "run 7: ran 0, cached 7, failed 0"

# bad uses: exit 2, nothing recorded
"$STUDY" run "$F" --store "$S" --force 'model/n' >/dev/null 2>"$TMP/err"; rc=$?
check_eq "--force matching nothing" "$rc:$(cat "$TMP/err")" \
	"2:study: error: --force 'model/n' matches no stage of the study; did you mean 'model/m'?"
"$STUDY" run "$F" --store "$S" --force-downstream >/dev/null 2>"$TMP/err"; rc=$?
check_eq "--force-downstream alone" "$rc:$(cat "$TMP/err")" \
	"2:study: error: --force-downstream needs --force PATTERN: the stages downstream of which?"
check_eq "no run recorded for them" "$(sqlite3 "$S/provenance.db" "SELECT count(*) FROM runs")" 7
check_eq "verify accepts forced runs" "$("$STUDY" verify --store "$S" >/dev/null 2>&1; echo $?)" 0
done_testing
