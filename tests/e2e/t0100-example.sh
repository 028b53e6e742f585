#!/bin/sh
# End to end: the example study runs, a second run executes nothing, and the
# summary, status and dag commands agree with what happened.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
S="$TMP/store"

out=$("$STUDY" run studies/example.yaml --store "$S" -j 2 2>"$TMP/err1"); rc=$?
check_eq "first run exits 0" "$rc" 0
total=$("$STUDY" dag studies/example.yaml --format json | grep -c '"id"')
check_eq "example study expands to 26 stages" "$total" 26
run1=$(echo "$out" | sed -n 's/^run \([0-9]*\): .*/\1/p')
check_eq "first run summary: all stages ran" "$out" "run $run1: ran $total, cached 0, failed 0"

out=$("$STUDY" run studies/example.yaml --store "$S" --json 2>/dev/null); rc=$?
check_eq "second run exits 0" "$rc" 0
check_eq "second run ran 0 stages" "$(echo "$out" | json_field ran)" 0
check_eq "second run: everything cached" "$(echo "$out" | json_field cached)" "$total"

st=$("$STUDY" status studies/example.yaml --store "$S" | tail -n 1)
check_eq "status: everything up to date" "$st" "$total of $total stages up to date, 0 will run"

check "progress lines name stage ids" grep -q 'ran .*eval/drift/large/halve+restore' "$TMP/err1"
check "report exists in the store" sh -c "ls '$S'/out/*/report.md >/dev/null 2>&1"
rep=$(cat "$S"/out/*/report.md | grep -c '"metrics"')
check_eq "report received every evaluation (2 evals x 4 variants x 2 models)" "$rep" 16
check "no work directories left behind" sh -c "[ -z \"\$(ls -A '$S/work')\" ]"
check "no temporaries left behind" sh -c "[ -z \"\$(ls -A '$S/tmp')\" ]"

dot=$("$STUDY" dag studies/example.yaml)
check "dag dot has the mitigation edge" sh -c "echo '$dot' | grep -q '\"method/halve/small\" -> \"mitigation/restore/halve/small\"'"

out=$("$STUDY" run studies/example.yaml --store "$S" --dry-run 2>/dev/null)
check_eq "dry run on a fresh cache would run nothing" "$out" "dry run: would run 0, cached $total, failed 0"
done_testing
