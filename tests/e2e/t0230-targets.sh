#!/bin/sh
# End to end: `run STUDY TARGET...` runs the stages the targets match (ids or
# globs whose '*' crosses '/') and their dependencies, nothing else; the
# summary counts the rest as 'not selected' so that it still adds up to the
# plan; only the selected stages get provenance rows. A target that matches
# nothing is an exit-2 error naming it (with a hint) before anything runs.
# `status` and `dag` take the same targets.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
S="$TMP/store"
copy_study studies/example.yaml "$TMP/ex.yaml"
E="$TMP/ex.yaml"

"$STUDY" run "$E" 'eval/accuracy/small/*' --store "$S" -j 1 >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "a glob target runs" "$rc" 0
check_eq "it runs the 4 evaluations and their 5 dependencies, nothing else" "$(cat "$TMP/out")" \
	"run 1: ran 9, cached 0, failed 0, not selected 17"
check_eq "only the selected stages have rows, in plan order" \
	"$(sqlite3 "$S/provenance.db" "SELECT stage_id || '|' || status FROM executions WHERE run_id = 1 ORDER BY id")" \
"data/corpus|ran
model/small|ran
method/halve/small|ran
method/flip/small|ran
mitigation/restore/halve/small|ran
eval/accuracy/small/base|ran
eval/accuracy/small/halve|ran
eval/accuracy/small/flip|ran
eval/accuracy/small/halve+restore|ran"
check_eq "the run row counts the selected stages" \
	"$(sqlite3 "$S/provenance.db" "SELECT status, ran, cached, failed, skipped FROM runs WHERE id = 1")" "ok|9|0|0|0"
check "show RUN records the targets in argv" sh -c \
	"'$STUDY' show 1 --store '$S' | grep -F 'eval/accuracy/small/*' | grep -q argv"

"$STUDY" run "$E" '*/large/*' --store "$S" -j 2 --json >"$TMP/out" 2>"$TMP/err"
check_eq "'*/large/*' --json: 12 run, the shared data stage is a cache hit" "$(cat "$TMP/out")" \
	'{"run":2,"status":"ok","ran":12,"cached":1,"failed":0,"interrupted":0,"skipped":0,"not_started":0,"not_selected":13,"forced":0,"retried":0,"stages":26}'
"$STUDY" run "$E" model/small data/corpus --store "$S" >"$TMP/out" 2>"$TMP/err"
check_eq "two plain ids: both cached" "$(cat "$TMP/out")" \
	"run 3: ran 0, cached 2, failed 0, not selected 24"

"$STUDY" run "$E" 'eval/drift/small/*' --store "$S" -n >"$TMP/out" 2>"$TMP/err"
check_eq "a dry run with a target" "$(cat "$TMP/out")" \
	"dry run: would run 4, cached 5, failed 0, not selected 17"

# a target that matches nothing: exit 2, named, nothing runs or is recorded
"$STUDY" run "$E" 'eval/acuracy/*' --store "$S" >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "an unknown target exits 2" "$rc" 2
check_eq "the error names it and suggests the nearest group" "$(cat "$TMP/err")" \
	"study: error: target 'eval/acuracy/*' matches no stage of the study; did you mean 'eval/accuracy/*'?"
"$STUDY" run "$E" model/large 'eval/accuracy' --store "$S" >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "one bad target among good ones: exit 2" "$rc" 2
check_eq "a group written without its star gets it as the hint" "$(cat "$TMP/err")" \
	"study: error: target 'eval/accuracy' matches no stage of the study; did you mean 'eval/accuracy/*'?"
"$STUDY" run "$E" nothing-like-it --store "$S" >/dev/null 2>"$TMP/err"
check_eq "no near id: a pointer to 'study dag'" "$(cat "$TMP/err")" \
	"study: error: target 'nothing-like-it' matches no stage of the study ('study dag' lists the stage ids)"
check_eq "no run was recorded for the bad targets" \
	"$(sqlite3 "$S/provenance.db" "SELECT count(*) FROM runs")" 3
"$STUDY" run "$E" 'modle/small' --store "$TMP/fresh" >/dev/null 2>&1
check "nothing is created for a bad target" [ ! -e "$TMP/fresh" ]

# status with targets: the selected stages only, and the summary says so
"$STUDY" status "$E" eval/drift/large/base --store "$S" >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "status with a target exits 0" "$rc" 0
check_eq "status lists the target and its dependencies" \
	"$(awk '{print $1, $2, $3, $4}' "$TMP/out")" \
"up to date data/corpus
up to date model/large
up to date eval/drift/large/base
3 of 3 selected"
check_eq "status summary" "$(tail -n 1 "$TMP/out")" \
	"3 of 3 selected stages up to date, 0 will run (23 not selected)"
"$STUDY" status "$E" report --store "$S" >"$TMP/out" 2>"$TMP/err"
check_eq "status of the report: the 4 small drift evaluations and the report will run" \
	"$(tail -n 1 "$TMP/out")" "21 of 26 selected stages up to date, 5 will run (0 not selected)"
"$STUDY" status "$E" 'eval/*/small/flip' --store "$S" --json >"$TMP/out" 2>"$TMP/err"
check_eq "status --json with a glob: only selected stages" \
	"$(grep -o '"stage":"[^"]*"' "$TMP/out" | tr '\n' ' ')" \
	'"stage":"data/corpus" "stage":"model/small" "stage":"method/flip/small" "stage":"eval/accuracy/small/flip" "stage":"eval/drift/small/flip" '
"$STUDY" status "$E" 'eval/refusal/*' --store "$S" >/dev/null 2>"$TMP/err"; rc=$?
check_eq "status: an unknown target exits 2 with the error" "$rc:$(cat "$TMP/err")" \
	"2:study: error: target 'eval/refusal/*' matches no stage of the study ('study dag' lists the stage ids)"

# dag with targets
"$STUDY" dag "$E" eval/drift/small/halve --format json >"$TMP/out"; rc=$?
check_eq "dag --format json with a target: the target and its dependencies" \
	"$rc:$(grep -o '{"id":"[^"]*"' "$TMP/out" | tr '\n' ' ')" \
	'0:{"id":"data/corpus" {"id":"model/small" {"id":"method/halve/small" {"id":"eval/drift/small/halve" '
"$STUDY" dag "$E" eval/drift/small/halve >"$TMP/out"
check_eq "dag (dot) with a target: its 4 edges" "$(grep -c -- '->' "$TMP/out")" 4
check_eq "dag without targets is unchanged: every stage" \
	"$("$STUDY" dag "$E" --format json | grep -c '{"id"')" 26
"$STUDY" dag "$E" 'model/m*' >/dev/null 2>"$TMP/err"; rc=$?
check_eq "dag: an unknown target exits 2" "$rc:$(cat "$TMP/err")" \
	"2:study: error: target 'model/m*' matches no stage of the study; did you mean 'model/*'?"

check_eq "verify accepts partial runs" "$("$STUDY" verify --store "$S" >/dev/null 2>&1; echo $?)" 0
# the option arrays are freed on every early return (a leak turns exit 2 into
# LeakSanitizer's 1 in the sanitized build)
"$STUDY" run "$TMP/no-such-study.yaml" --force 'x' --slurm-opt=--x >/dev/null 2>&1; rc=$?
check_eq "a missing study file with --force and --slurm-opt: exit 2" "$rc" 2
done_testing
